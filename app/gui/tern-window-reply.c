/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The reply part of TernWindow: sending a message, the reading of it
 * (a reply row that counts the tokens read), the reply streaming in,
 * stopping it, and leaving it for another conversation. */
#include "tern-window-private.h"

#include <tern/error.h>

/* The rows shown before the reply starts: the message sent (id 0) and the
 * reading row (id -1). */
static void
remove_row (TernWindow *self, gint64 id)
{
  gint at = tern_window_chat_find_message (self, id);

  if (at >= 0)
    g_list_store_remove (self->messages, at);
}

static void
end_reading (TernWindow *self)
{
  remove_row (self, -1);
  g_clear_object (&self->reading);
  if (self->reading_rate > 0)
    {
      self->reading_rate = 0;
      tern_window_update_status (self);
    }
}

static void
on_prompt_progress (TernService *service, gint n_read, gint n_total, double tokens_per_second, TernWindow *self)
{
  if (self->reading == NULL)
    return;
  tern_message_item_set_reading (self->reading, n_read, n_total);
  self->reading_rate = tokens_per_second;
  tern_window_update_status (self);
}

static void
on_reply_started (TernService *service, gint64 reply_id, gint64 parent_id, TernWindow *self)
{
  gint at;

  /* The reply of a conversation left meanwhile: it is stored, not shown. */
  if (!self->busy || self->left_reply)
    return;
  tern_window_chat_fill_flush (self);
  remove_row (self, 0);
  end_reading (self);
  at = tern_window_chat_find_message (self, parent_id);
  if (at >= 0)
    {
      /* Regenerated: the new reply replaces what followed its question. */
      tern_window_chat_truncate (self, at + 1);
    }
  else
    {
      /* A new user message: after the head, or in place of the one edited. */
      TernMessage m = { .id = parent_id, .role = TERN_ROLE_USER, .complete = TRUE, .n_branches = 1 };
      gint edited = self->pending_edit_id ? tern_window_chat_find_message (self, self->pending_edit_id) : -1;
      if (edited >= 0)
        {
          g_autoptr (TernMessageItem) old = tern_window_chat_message_at (self, edited);
          m.n_branches = tern_message_item_get_n_branches (old) + 1;
          m.branch_index = m.n_branches - 1;
          tern_window_chat_truncate (self, edited);
        }
      m.content = self->pending_text ? self->pending_text : "";
      g_autoptr (TernMessageItem) user = tern_message_item_new (&m);
      g_list_store_append (self->messages, user);
    }
  g_clear_pointer (&self->pending_text, g_free);
  self->pending_edit_id = 0;
  g_clear_object (&self->reply);
  self->reply = tern_message_item_new_reply (reply_id, parent_id);
  self->follow = TRUE;
  g_list_store_append (self->messages, self->reply);
}

static void
on_reply_delta (TernService *service, const char *text, TernWindow *self)
{
  if (self->reply)
    tern_message_item_append (self->reply, text);
}

static void
on_reply_finished (TernService *service, gint64 reply_id, gboolean incomplete, double tokens_per_second,
                   TernWindow *self)
{
  /* Only the rate of a reply shown here. */
  if (self->reply == NULL || tern_message_item_get_id (self->reply) != reply_id)
    return;
  tern_message_item_finish (self->reply, incomplete);
  g_clear_object (&self->reply);
  self->tokens_per_second = tokens_per_second;
  tern_window_update_status (self);
  /* Branch counts and the stored text, as the store has them. */
  tern_window_chat_reload (self);
}

static void
got_reply (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr (GError) error = NULL;
  TernService *service = TERN_SERVICE (source);
  g_autoptr (TernWindow) self = data;
  GTask *task = G_TASK (result);
  gpointer tag = g_task_get_source_tag (task);
  gint64 id;

  if (tag == tern_service_send_message)
    id = tern_service_send_message_finish (service, result, &error);
  else if (tag == tern_service_edit_message)
    id = tern_service_edit_message_finish (service, result, &error);
  else
    id = tern_service_regenerate_finish (service, result, &error);
  if (tern_window_gone (self))
    return;
  self->busy = FALSE;
  if (self->left_reply)
    {
      /* Stopped for another conversation, which is shown now. */
      self->left_reply = FALSE;
      tern_window_chat_update_actions (self);
      tern_window_reload_conversations (self);
      return;
    }
  remove_row (self, 0);
  end_reading (self);
  /* No reply started: the message may not be stored (stopped while the
   * database was busy, or another program changed the conversation); the
   * reload says, and gives it back to the composer when it was not. */
  if (id == 0 && self->pending_text)
    {
      g_free (self->unsent);
      self->unsent = g_steal_pointer (&self->pending_text);
    }
  g_clear_pointer (&self->pending_text, g_free);
  self->pending_edit_id = 0;
  g_clear_object (&self->reply);
  if (id == 0)
    {
      /* Stopped while the prompt was read, the message stays stored,
       * unanswered: the user asked for that. */
      if (!tern_window_cancelled (error))
        tern_window_toast_error (self, _("No reply"), error);
      /* Changed by another program: read again, the session too. */
      if (g_error_matches (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_CONFLICT))
        tern_window_open_conversation (self, self->conversation_id);
      else
        tern_window_chat_reload (self);
    }
  tern_window_chat_update_actions (self);
  tern_window_reload_conversations (self);
}

static gint
max_tokens (TernWindow *self)
{
  TernConversationItem *item = tern_window_find_conversation (self, self->conversation_id);
  const TernConversation *c = item ? tern_conversation_item_get_conversation (item) : NULL;

  g_autofree char *system_prompt = NULL;
  TernSamplerParams sampling;
  gint limit;

  if (c)
    return c->max_tokens;
  tern_window_new_chat_settings (self, &system_prompt, &sampling, &limit);
  return limit;
}

/* The reply's row from the start: it reads the message, then writes. */
static void
show_reading (TernWindow *self)
{
  end_reading (self);
  self->reading = tern_message_item_new_reading ();
  self->follow = TRUE;
  g_list_store_append (self->messages, self->reading);
}

void
tern_window_reply_show_pending (TernWindow *self, const char *text)
{
  if (tern_window_chat_find_message (self, 0) < 0)
    {
      /* Shown at once, pending, until its reply starts: storing it may
       * wait for another program (the status line says so). */
      TernMessage m = { .id = 0, .role = TERN_ROLE_USER, .content = (char *) text, .complete = TRUE, .n_branches = 1 };
      g_autoptr (TernMessageItem) pending = tern_message_item_new (&m);
      self->follow = TRUE;
      g_list_store_append (self->messages, pending);
    }
  if (self->reading == NULL)
    show_reading (self);
}

void
tern_window_reply_drop_pending (TernWindow *self)
{
  remove_row (self, 0);
  end_reading (self);
}

void
tern_window_reply_send (TernWindow *self, const char *text)
{
  g_free (self->pending_text);
  self->pending_text = g_strdup (text);
  self->busy = TRUE;
  if (self->editing_id == 0)
    tern_window_reply_show_pending (self, text);
  else
    show_reading (self);
  if (self->editing_id)
    {
      self->pending_edit_id = self->editing_id;
      tern_service_edit_message (self->service, self->editing_id, text, max_tokens (self), self->cancellable,
                                 got_reply, g_object_ref (self));
    }
  else
    tern_service_send_message (self->service, text, max_tokens (self), self->cancellable, got_reply,
                               g_object_ref (self));
  self->editing_id = 0;
  gtk_revealer_set_reveal_child (self->edit_bar, FALSE);
  tern_window_chat_update_actions (self);
}

void
tern_window_reply_regenerate (TernWindow *self)
{
  self->busy = TRUE;
  show_reading (self);
  tern_service_regenerate (self->service, max_tokens (self), self->cancellable, got_reply, g_object_ref (self));
  tern_window_chat_update_actions (self);
}

void
tern_window_reply_leave (TernWindow *self)
{
  if (!self->busy)
    return;
  /* The engine stores what was written; its events and answer are then
   * for a conversation no longer shown. */
  tern_service_stop (self->service);
  self->left_reply = TRUE;
  g_clear_object (&self->reply);
  g_clear_object (&self->reading);
  g_clear_pointer (&self->pending_text, g_free);
  self->pending_edit_id = 0;
  self->reading_rate = 0;
}

void
tern_window_reply_init (TernWindow *self)
{
  g_signal_connect_object (self->service, "prompt-progress", G_CALLBACK (on_prompt_progress), self, 0);
  g_signal_connect_object (self->service, "reply-started", G_CALLBACK (on_reply_started), self, 0);
  g_signal_connect_object (self->service, "reply-delta", G_CALLBACK (on_reply_delta), self, 0);
  g_signal_connect_object (self->service, "reply-finished", G_CALLBACK (on_reply_finished), self, 0);
}
