/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Opening a search result: the chat scrolls to the message that matched
 * and marks the matching words in it for a while. The messages arrive in
 * batches, newest first, so the scroll waits for the message's row and
 * follows it until the batches are done. */
#include "tern-window-private.h"

#include <string.h>

/* How long the matched words stay marked, unless the user types first. */
#define HIGHLIGHT_S 8

static void
clear_highlight (TernWindow *self)
{
  g_clear_handle_id (&self->highlight_timeout, g_source_remove);
  if (self->highlighted != NULL)
    tern_message_item_set_highlight (self->highlighted, NULL);
  g_clear_object (&self->highlighted);
}

static gboolean
highlight_expired (gpointer data)
{
  TernWindow *self = data;

  self->highlight_timeout = 0;
  clear_highlight (self);
  return G_SOURCE_REMOVE;
}

/* The position of message @id in the chat, or -1. */
static gint
position_of (TernWindow *self, gint64 id)
{
  guint n = g_list_model_get_n_items (G_LIST_MODEL (self->messages));

  for (guint i = 0; i < n; i++)
    {
      g_autoptr (TernMessageItem) item = g_list_model_get_item (G_LIST_MODEL (self->messages), i);

      if (tern_message_item_get_id (item) == id)
        return (gint) i;
    }
  return -1;
}

/* At the next frame, once the list view has laid out its new rows. */
static gboolean
scroll_now (GtkWidget *list, GdkFrameClock *clock, gpointer data)
{
  TernWindow *self = data;
  gint at = position_of (self, self->reveal_id);

  self->reveal_tick = 0;
  if (at < 0)
    return G_SOURCE_REMOVE;
  self->follow = FALSE;
  gtk_widget_activate_action (list, "list.scroll-to-item", "u", (guint) at);
  /* Older messages still to come are put above it: keep it in view. */
  if (self->fill == NULL)
    self->reveal_id = 0;
  return G_SOURCE_REMOVE;
}

static void
try_reveal (TernWindow *self)
{
  gint at;

  if (self->reveal_id == 0 || (at = position_of (self, self->reveal_id)) < 0)
    return;
  if (self->highlighted == NULL || tern_message_item_get_id (self->highlighted) != self->reveal_id)
    {
      clear_highlight (self);
      self->highlighted = g_list_model_get_item (G_LIST_MODEL (self->messages), (guint) at);
      tern_message_item_set_highlight (self->highlighted, (const char *const *) self->reveal_terms);
      self->highlight_timeout = g_timeout_add_seconds (HIGHLIGHT_S, highlight_expired, self);
    }
  /* The chat must not follow its end away from the message. */
  self->follow = FALSE;
  if (self->reveal_tick == 0)
    self->reveal_tick = gtk_widget_add_tick_callback (GTK_WIDGET (self->message_list), scroll_now, self, NULL);
}

static void
on_messages_changed (TernWindow *self, guint position, guint removed, guint added, GListModel *list)
{
  if (self->highlighted != NULL && position_of (self, tern_message_item_get_id (self->highlighted)) < 0)
    clear_highlight (self);
  try_reveal (self);
}

/* The words between the snippet's markers, each once. */
static GStrv
marked_words (const char *snippet)
{
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();
  g_autoptr (GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  const char *open;

  while (snippet != NULL && (open = strstr (snippet, TERN_SNIPPET_OPEN)) != NULL)
    {
      const char *start = open + strlen (TERN_SNIPPET_OPEN);
      const char *close = strstr (start, TERN_SNIPPET_CLOSE);
      g_autofree char *word = g_strndup (start, close != NULL ? (gsize) (close - start) : strlen (start));

      g_strstrip (word);
      if (word[0] != '\0' && !g_hash_table_contains (seen, word))
        {
          g_strv_builder_add (builder, word);
          g_hash_table_add (seen, g_strdup (word));
        }
      snippet = close != NULL ? close + strlen (TERN_SNIPPET_CLOSE) : NULL;
    }
  return g_strv_builder_end (builder);
}

void
tern_window_open_at_message (TernWindow *self, gint64 conversation_id, gint64 message_id, const char *snippet)
{
  clear_highlight (self);
  g_strfreev (self->reveal_terms);
  self->reveal_terms = marked_words (snippet);
  self->reveal_id = message_id;
  tern_window_open_conversation (self, conversation_id);
  /* Already shown when it is the conversation open. */
  try_reveal (self);
}

void
tern_window_reveal_init (TernWindow *self)
{
  g_signal_connect_object (self->messages, "items-changed", G_CALLBACK (on_messages_changed), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (gtk_text_view_get_buffer (self->composer), "changed", G_CALLBACK (clear_highlight), self,
                           G_CONNECT_SWAPPED);
}

void
tern_window_reveal_dispose (TernWindow *self)
{
  if (self->reveal_tick != 0 && self->message_list != NULL)
    gtk_widget_remove_tick_callback (GTK_WIDGET (self->message_list), self->reveal_tick);
  self->reveal_tick = 0;
  self->reveal_id = 0;
  clear_highlight (self);
  g_clear_pointer (&self->reveal_terms, g_strfreev);
}
