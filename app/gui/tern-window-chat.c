/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The chat part of TernWindow: the messages of the conversation shown,
 * the composer, and the per-message actions. Sending and the reply
 * streaming in are in tern-window-reply.c. */
#include "tern-message-row.h"
#include "tern-sampling-group.h"
#include "tern-window-private.h"

#include <tern/error.h>

/* The title a new conversation gets from its first message. */
#define TITLE_CHARS 48

TernMessageItem *
tern_window_chat_message_at (TernWindow *self, guint i)
{
  return g_list_model_get_item (G_LIST_MODEL (self->messages), i);
}

gint
tern_window_chat_find_message (TernWindow *self, gint64 id)
{
  guint n = g_list_model_get_n_items (G_LIST_MODEL (self->messages));

  for (guint i = 0; i < n; i++)
    {
      g_autoptr (TernMessageItem) item = tern_window_chat_message_at (self, i);
      if (tern_message_item_get_id (item) == id)
        return (gint) i;
    }
  return -1;
}

void
tern_window_chat_truncate (TernWindow *self, guint n)
{
  guint len = g_list_model_get_n_items (G_LIST_MODEL (self->messages));

  if (n < len)
    g_list_store_splice (self->messages, n, len - n, NULL, 0);
}

/* ---- Keeping the end in view ---- */

static gboolean
at_end (TernWindow *self)
{
  GtkAdjustment *adj = gtk_scrolled_window_get_vadjustment (self->message_scroller);

  return gtk_adjustment_get_value (adj) + gtk_adjustment_get_page_size (adj) >= gtk_adjustment_get_upper (adj) - 24;
}

static gboolean
scroll_to_end_now (GtkWidget *list, GdkFrameClock *clock, gpointer data)
{
  TernWindow *self = data;
  GtkAdjustment *adj = gtk_scrolled_window_get_vadjustment (self->message_scroller);

  self->scroll_tick = 0;
  if (self->follow)
    gtk_adjustment_set_value (adj, gtk_adjustment_get_upper (adj) - gtk_adjustment_get_page_size (adj));
  return G_SOURCE_REMOVE;
}

/* At the next frame: GTK 4.8's list view keeps its own place when the
 * value is set while it lays itself out, where the upper bound changes. */
static void
scroll_to_end (TernWindow *self)
{
  if (self->scroll_tick == 0)
    self->scroll_tick = gtk_widget_add_tick_callback (GTK_WIDGET (self->message_list), scroll_to_end_now, self, NULL);
}

/* Only the user stops the following (the handlers below); reaching the
 * end again resumes it. A moved view is not taken as the user's doing:
 * GTK 4.8's list view moves it itself when rows change height, to the
 * top at times. */
static void
on_scrolled (GtkAdjustment *adj, TernWindow *self)
{
  if (at_end (self))
    self->follow = TRUE;
  else if (self->follow)
    scroll_to_end (self);
}

/* The list grew (a delta, a new row): scroll along. */
static void
on_upper_changed (GtkAdjustment *adj, GParamSpec *pspec, TernWindow *self)
{
  if (self->follow)
    scroll_to_end (self);
}

static gboolean
on_user_scroll (GtkEventControllerScroll *controller, double dx, double dy, TernWindow *self)
{
  if (dy < 0)
    self->follow = FALSE;
  return FALSE;
}

static void
on_user_drag (GtkGestureDrag *gesture, double dx, double dy, TernWindow *self)
{
  /* A finger moving down pulls earlier messages into view. */
  if (dy > 0)
    self->follow = FALSE;
}

static void
on_scrollbar_pressed (GtkGestureClick *gesture, int n_press, double x, double y, TernWindow *self)
{
  self->follow = FALSE;
}

static gboolean
on_list_key (GtkEventControllerKey *controller, guint keyval, guint keycode, GdkModifierType state,
             TernWindow *self)
{
  switch (keyval)
    {
    case GDK_KEY_Up:
    case GDK_KEY_KP_Up:
    case GDK_KEY_Page_Up:
    case GDK_KEY_KP_Page_Up:
    case GDK_KEY_Home:
    case GDK_KEY_KP_Home:
      self->follow = FALSE;
      break;
    default:
      break;
    }
  return FALSE;
}

/* What the user does to look back: wheel or touchpad, a finger, the
 * scrollbar, the keyboard. Each watches in the capture phase and lets the
 * scrolled window do the scrolling. */
static void
watch_user_scrolling (TernWindow *self)
{
  GtkEventController *scroll = gtk_event_controller_scroll_new (GTK_EVENT_CONTROLLER_SCROLL_VERTICAL);
  GtkGesture *drag = gtk_gesture_drag_new ();
  GtkGesture *press = gtk_gesture_click_new ();
  GtkEventController *keys = gtk_event_controller_key_new ();

  gtk_event_controller_set_propagation_phase (scroll, GTK_PHASE_CAPTURE);
  g_signal_connect (scroll, "scroll", G_CALLBACK (on_user_scroll), self);
  gtk_widget_add_controller (GTK_WIDGET (self->message_scroller), scroll);

  gtk_gesture_single_set_touch_only (GTK_GESTURE_SINGLE (drag), TRUE);
  gtk_event_controller_set_propagation_phase (GTK_EVENT_CONTROLLER (drag), GTK_PHASE_CAPTURE);
  g_signal_connect (drag, "drag-update", G_CALLBACK (on_user_drag), self);
  gtk_widget_add_controller (GTK_WIDGET (self->message_scroller), GTK_EVENT_CONTROLLER (drag));

  gtk_event_controller_set_propagation_phase (GTK_EVENT_CONTROLLER (press), GTK_PHASE_CAPTURE);
  g_signal_connect (press, "pressed", G_CALLBACK (on_scrollbar_pressed), self);
  gtk_widget_add_controller (gtk_scrolled_window_get_vscrollbar (self->message_scroller),
                             GTK_EVENT_CONTROLLER (press));

  gtk_event_controller_set_propagation_phase (keys, GTK_PHASE_CAPTURE);
  g_signal_connect (keys, "key-pressed", G_CALLBACK (on_list_key), self);
  gtk_widget_add_controller (GTK_WIDGET (self->message_list), keys);
}

/* ---- The list ---- */

static void
setup_row (GtkSignalListItemFactory *factory, GtkListItem *list_item, TernWindow *self)
{
  gtk_list_item_set_child (list_item, tern_message_row_new ());
  gtk_list_item_set_activatable (list_item, FALSE);
  gtk_list_item_set_selectable (list_item, FALSE);
}

static void
bind_row (GtkSignalListItemFactory *factory, GtkListItem *list_item, TernWindow *self)
{
  tern_message_row_bind (TERN_MESSAGE_ROW (gtk_list_item_get_child (list_item)), gtk_list_item_get_item (list_item),
                         G_LIST_MODEL (self->messages));
}

static void
unbind_row (GtkSignalListItemFactory *factory, GtkListItem *list_item, TernWindow *self)
{
  tern_message_row_unbind (TERN_MESSAGE_ROW (gtk_list_item_get_child (list_item)));
}

static gboolean
demo_model_loaded (TernWindow *self)
{
  TernApplication *app = TERN_APPLICATION (gtk_window_get_application (GTK_WINDOW (self)));
  const char *demo = app ? tern_application_get_demo_model (app) : NULL;
  TernModelItem *model;

  if (demo == NULL || !tern_service_get_model_loaded (self->service))
    return FALSE;
  model = tern_window_find_model (self, tern_service_get_model_id (self->service), NULL);
  return model && g_strcmp0 (tern_model_item_get_path (model), demo) == 0;
}

void
tern_window_chat_update_empty (TernWindow *self)
{
  gboolean first = g_list_model_get_n_items (G_LIST_MODEL (self->conversations)) == 0;
  gboolean demo = demo_model_loaded (self);
  const char *description = _("Write a message below. The model runs on this computer: nothing leaves it.");

  if (demo)
    description = _("This is Tern’s demo model, a toy that only knows English words: ask it what a word means, "
                    "for another word or the opposite of one. For real conversations add a model you "
                    "downloaded, a file in the GGUF format: model hubs such as Hugging Face publish them "
                    "(search for “GGUF”). Every model runs on this computer; nothing leaves it.");
  if (self->damage)
    description = self->damage;
  adw_status_page_set_title (self->chat_empty, self->damage ? _("This Conversation Cannot Be Shown")
                                               : first     ? _("Welcome to Tern")
                                                           : _("New Chat"));
  adw_status_page_set_description (self->chat_empty, description);
  gtk_widget_set_visible (self->demo_hints, demo);
  gtk_widget_set_visible (GTK_WIDGET (self->chat_empty), g_list_model_get_n_items (G_LIST_MODEL (self->messages)) == 0);
}

/* The messages, the conversations or the models changed. */
static void
on_list_changed (GListModel *model, guint position, guint removed, guint added, TernWindow *self)
{
  tern_window_chat_update_empty (self);
}

/* Another model was loaded (not on every token, as the status is). */
static void
on_model_changed (TernService *service, GParamSpec *pspec, TernWindow *self)
{
  tern_window_chat_update_empty (self);
}

/* Rows are made a few at a time, the newest first, so that opening a long
 * conversation never holds the main loop for long: a row costs a few
 * milliseconds to make, and the list view makes up to 200 at once. */
#define FILL_BATCH 4

static void
fill_stop (TernWindow *self)
{
  g_clear_handle_id (&self->fill_source, g_source_remove);
  g_clear_pointer (&self->fill, g_ptr_array_unref);
}

/* Puts the last FILL_BATCH items still waiting before those shown. */
static gboolean
fill_step (gpointer data)
{
  TernWindow *self = data;
  guint n = MIN (self->fill->len, FILL_BATCH);
  guint from = self->fill->len - n;

  g_list_store_splice (self->messages, 0, 0, self->fill->pdata + from, n);
  g_ptr_array_set_size (self->fill, from);
  if (from > 0)
    return G_SOURCE_CONTINUE;
  self->fill_source = 0;
  g_clear_pointer (&self->fill, g_ptr_array_unref);
  return G_SOURCE_REMOVE;
}

/* Shows every message still waiting at once (when a reply needs them). */
void
tern_window_chat_fill_flush (TernWindow *self)
{
  if (self->fill == NULL)
    return;
  g_list_store_splice (self->messages, 0, 0, self->fill->pdata, self->fill->len);
  fill_stop (self);
}

/* Puts the text of a message that was not sent back in the composer,
 * before what was typed since. */
static void
restore_unsent (TernWindow *self)
{
  GtkTextBuffer *buffer = gtk_text_view_get_buffer (self->composer);
  GtkTextIter start;
  g_autofree char *unsent = g_steal_pointer (&self->unsent);

  gtk_text_buffer_get_start_iter (buffer, &start);
  if (gtk_text_buffer_get_char_count (buffer) > 0)
    gtk_text_buffer_insert (buffer, &start, "\n", -1);
  gtk_text_buffer_get_start_iter (buffer, &start);
  gtk_text_buffer_insert (buffer, &start, unsent, -1);
}

/* A message sent with no reply started: stored or not, as the messages
 * read back say (it would be the last). */
static void
check_unsent (TernWindow *self, GPtrArray *list)
{
  const TernMessage *last = list && list->len > 0 ? list->pdata[list->len - 1] : NULL;

  if (self->unsent == NULL)
    return;
  if (last && last->role == TERN_ROLE_USER && g_str_equal (last->content, self->unsent))
    g_clear_pointer (&self->unsent, g_free);
  else
    restore_unsent (self);
}

static void
got_messages (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) list = tern_service_list_messages_finish (TERN_SERVICE (source), result, &error);
  g_autoptr (TernWindow) self = data;

  if (tern_window_cancelled (error) || tern_window_gone (self))
    return;
  check_unsent (self, list);
  g_clear_pointer (&self->damage, g_free);
  if (list == NULL)
    {
      /* Shown in place of the messages (a damaged conversation names its
       * repair), not over another conversation's. */
      self->damage = g_strdup (error->message);
      fill_stop (self);
      g_list_store_remove_all (self->messages);
      tern_window_chat_update_empty (self);
      return;
    }
  /* A reply started since: its rows are already right. */
  if (self->reply != NULL)
    return;
  /* The same messages (after a reply, typically): their rows stay, and
   * take what changed. */
  if (self->fill == NULL && list->len == g_list_model_get_n_items (G_LIST_MODEL (self->messages)))
    {
      guint same = 0;
      for (guint i = 0; i < list->len; i++)
        {
          g_autoptr (TernMessageItem) item = tern_window_chat_message_at (self, i);
          same += tern_message_item_update (item, list->pdata[i]);
        }
      if (same == list->len)
        return;
    }
  fill_stop (self);
  self->fill = g_ptr_array_new_with_free_func (g_object_unref);
  for (guint i = 0; i < list->len; i++)
    {
      const TernMessage *m = list->pdata[i];
      if (m->conversation_id == self->conversation_id)
        g_ptr_array_add (self->fill, tern_message_item_new (m));
    }
  self->follow = TRUE;
  g_list_store_remove_all (self->messages);
  if (fill_step (self) == G_SOURCE_CONTINUE)
    self->fill_source = g_idle_add (fill_step, self);
}

void
tern_window_chat_reload (TernWindow *self)
{
  if (self->conversation_id == 0)
    {
      fill_stop (self);
      g_clear_pointer (&self->damage, g_free);
      g_list_store_remove_all (self->messages);
      return;
    }
  tern_service_list_messages (self->service, self->conversation_id, self->cancellable, got_messages,
                              g_object_ref (self));
}

static void
on_generating (TernService *service, GParamSpec *pspec, TernWindow *self)
{
  tern_window_chat_update_actions (self);
}

/* ---- Sending ---- */

static char *
composer_text (TernWindow *self)
{
  GtkTextBuffer *buffer = gtk_text_view_get_buffer (self->composer);
  GtkTextIter start, end;

  gtk_text_buffer_get_bounds (buffer, &start, &end);
  return gtk_text_buffer_get_text (buffer, &start, &end, FALSE);
}

static gboolean
composer_empty (TernWindow *self)
{
  g_autofree char *text = composer_text (self);

  return g_strstrip (text)[0] == '\0';
}

void
tern_window_chat_update_actions (TernWindow *self)
{
  gboolean generating = tern_service_get_generating (self->service) || self->busy;
  gboolean ready = tern_service_get_model_loaded (self->service) && !self->opening && self->model_pending == 0 &&
                   self->read_only_note == NULL;
  GActionMap *map = G_ACTION_MAP (self);

  g_simple_action_set_enabled (G_SIMPLE_ACTION (g_action_map_lookup_action (map, "send")),
                               ready && !generating && !composer_empty (self));
  g_simple_action_set_enabled (G_SIMPLE_ACTION (g_action_map_lookup_action (map, "stop")), generating);
  g_simple_action_set_enabled (G_SIMPLE_ACTION (g_action_map_lookup_action (map, "regenerate")),
                               ready && !generating && self->conversation_id != 0);
  g_simple_action_set_enabled (G_SIMPLE_ACTION (g_action_map_lookup_action (map, "edit-message")),
                               !generating && self->read_only_note == NULL);
  g_simple_action_set_enabled (G_SIMPLE_ACTION (g_action_map_lookup_action (map, "previous-branch")),
                               ready && !generating);
  g_simple_action_set_enabled (G_SIMPLE_ACTION (g_action_map_lookup_action (map, "next-branch")),
                               ready && !generating);

  /* One button: Send, or Stop while a reply is generated. */
  gtk_actionable_set_action_name (GTK_ACTIONABLE (self->send_button), generating ? "win.stop" : "win.send");
  gtk_button_set_icon_name (self->send_button, generating ? "media-playback-stop-symbolic" : "go-up-symbolic");
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->send_button), generating ? _("Stop") : _("Send"));
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->send_button), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  generating ? _("Stop") : _("Send"), -1);
  if (generating)
    {
      gtk_widget_remove_css_class (GTK_WIDGET (self->send_button), "suggested-action");
      gtk_widget_add_css_class (GTK_WIDGET (self->send_button), "destructive-action");
    }
  else
    {
      gtk_widget_remove_css_class (GTK_WIDGET (self->send_button), "destructive-action");
      gtk_widget_add_css_class (GTK_WIDGET (self->send_button), "suggested-action");
    }
  tern_window_models_update_composer (self);
}

static char *
title_for (const char *text)
{
  g_autofree char *line = g_strdup (text);
  char *newline = strchr (line, '\n');

  if (newline)
    *newline = '\0';
  g_strstrip (line);
  if (g_utf8_strlen (line, -1) <= TITLE_CHARS)
    return g_steal_pointer (&line);
  g_autofree char *cut = g_utf8_substring (line, 0, TITLE_CHARS - 1);
  return g_strconcat (g_strchomp (cut), "…", NULL);
}

typedef struct {
  TernWindow *window; /* a reference */
  char *text;
} NewChat;

static void
new_chat_free (NewChat *chat)
{
  g_object_unref (chat->window);
  g_free (chat->text);
  g_free (chat);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (NewChat, new_chat_free)

static void
new_chat_opened (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (NewChat) chat = data;
  TernWindow *self = chat->window;
  int kind = tern_service_open_conversation_finish (TERN_SERVICE (source), result, &error);

  if (tern_window_cancelled (error) || tern_window_gone (self))
    return;
  self->opening = FALSE;
  if (kind < 0)
    {
      tern_window_reply_drop_pending (self);
      tern_window_toast_error (self, _("Could not start the conversation"), error);
      tern_window_chat_update_actions (self);
      return;
    }
  tern_window_reply_send (self, chat->text);
}

static void
new_chat_created (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (NewChat) chat = data;
  TernWindow *self = chat->window;
  gint64 id = tern_service_new_conversation_finish (TERN_SERVICE (source), result, &error);

  if (tern_window_cancelled (error) || tern_window_gone (self))
    return;
  if (id == 0)
    {
      self->opening = FALSE;
      tern_window_reply_drop_pending (self);
      tern_window_toast_error (self, _("Could not start the conversation"), error);
      tern_window_chat_update_actions (self);
      return;
    }
  g_autofree char *system_prompt = NULL;
  TernSamplerParams sampling;
  gint limit;
  tern_window_new_chat_settings (self, &system_prompt, &sampling, &limit);
  tern_window_set_conversation (self, id);
  tern_service_set_max_tokens (self->service, id, limit, NULL, NULL, NULL);
  tern_window_reload_conversations (self);
  tern_service_open_conversation (self->service, id, self->cancellable, new_chat_opened, g_steal_pointer (&chat));
}

static void
send_activated (GSimpleAction *action, GVariant *param, gpointer data)
{
  TernWindow *self = data;
  g_autofree char *raw = composer_text (self);
  g_autofree char *text = g_strdup (raw);

  g_strstrip (text);
  if (text[0] == '\0')
    return;
  gtk_text_buffer_set_text (gtk_text_view_get_buffer (self->composer), "", -1);
  if (self->conversation_id != 0)
    {
      tern_window_reply_send (self, text);
      return;
    }
  /* The first message of a new chat: the conversation is stored now, so
   * an unused "New Chat" leaves nothing behind. */
  TernSamplerParams params;
  g_autofree char *title = title_for (text);
  g_autofree char *system_prompt = NULL;
  NewChat *chat = g_new0 (NewChat, 1);
  gint limit;

  tern_window_new_chat_settings (self, &system_prompt, &params, &limit);
  chat->window = g_object_ref (self);
  chat->text = g_strdup (text);
  tern_window_reply_show_pending (self, text);
  self->opening = TRUE;
  tern_window_chat_update_actions (self);
  tern_service_new_conversation (self->service, title, system_prompt, &params, self->cancellable, new_chat_created,
                                 chat);
}

static void
stop_activated (GSimpleAction *action, GVariant *param, gpointer data)
{
  TernWindow *self = data;

  tern_service_stop (self->service);
}

static void
regenerate_activated (GSimpleAction *action, GVariant *param, gpointer data)
{
  tern_window_reply_regenerate (data);
}

static void
copy_activated (GSimpleAction *action, GVariant *param, gpointer data)
{
  TernWindow *self = data;
  gint at = tern_window_chat_find_message (self, g_variant_get_int64 (param));

  if (at < 0)
    return;
  g_autoptr (TernMessageItem) item = tern_window_chat_message_at (self, at);
  gdk_clipboard_set_text (gtk_widget_get_clipboard (GTK_WIDGET (self)), tern_message_item_get_content (item));
  tern_window_toast (self, _("Message copied"));
}

static void
edit_activated (GSimpleAction *action, GVariant *param, gpointer data)
{
  TernWindow *self = data;
  gint at = tern_window_chat_find_message (self, g_variant_get_int64 (param));

  if (at < 0)
    return;
  g_autoptr (TernMessageItem) item = tern_window_chat_message_at (self, at);
  self->editing_id = tern_message_item_get_id (item);
  gtk_text_buffer_set_text (gtk_text_view_get_buffer (self->composer), tern_message_item_get_content (item), -1);
  gtk_revealer_set_reveal_child (self->edit_bar, TRUE);
  gtk_widget_grab_focus (GTK_WIDGET (self->composer));
}

static void
cancel_edit_activated (GSimpleAction *action, GVariant *param, gpointer data)
{
  TernWindow *self = data;

  self->editing_id = 0;
  gtk_text_buffer_set_text (gtk_text_view_get_buffer (self->composer), "", -1);
  gtk_revealer_set_reveal_child (self->edit_bar, FALSE);
}

static void
got_branch (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr (GError) error = NULL;
  int kind = tern_service_switch_branch_finish (TERN_SERVICE (source), result, &error);
  g_autoptr (TernWindow) self = data;

  if (tern_window_cancelled (error) || tern_window_gone (self))
    return;
  self->opening = FALSE;
  if (kind < 0)
    tern_window_toast_error (self, _("Could not show the branch"), error);
  tern_window_chat_reload (self);
  tern_window_chat_update_actions (self);
}

static void
switch_branch (TernWindow *self, GVariant *param, gint offset)
{
  self->opening = TRUE;
  tern_window_chat_update_actions (self);
  tern_service_switch_branch (self->service, g_variant_get_int64 (param), offset, self->cancellable, got_branch,
                              g_object_ref (self));
}

static void
previous_branch_activated (GSimpleAction *action, GVariant *param, gpointer data)
{
  switch_branch (data, param, -1);
}

static void
next_branch_activated (GSimpleAction *action, GVariant *param, gpointer data)
{
  switch_branch (data, param, 1);
}

static void
focus_composer_activated (GSimpleAction *action, GVariant *param, gpointer data)
{
  TernWindow *self = data;

  adw_leaflet_set_visible_child (self->leaflet, self->content);
  gtk_stack_set_visible_child_name (self->main_stack, "chat");
  gtk_widget_grab_focus (GTK_WIDGET (self->composer));
}

/* Enter sends, Shift+Enter (or Ctrl+Enter) is a new line. */
static gboolean
on_composer_key (GtkEventControllerKey *controller, guint keyval, guint keycode, GdkModifierType state,
                 TernWindow *self)
{
  if (keyval != GDK_KEY_Return && keyval != GDK_KEY_KP_Enter && keyval != GDK_KEY_ISO_Enter)
    return GDK_EVENT_PROPAGATE;
  if (state & (GDK_SHIFT_MASK | GDK_CONTROL_MASK))
    return GDK_EVENT_PROPAGATE;
  g_action_group_activate_action (G_ACTION_GROUP (self), "send", NULL);
  return GDK_EVENT_STOP;
}

static void
on_composer_changed (GtkTextBuffer *buffer, TernWindow *self)
{
  gtk_widget_set_visible (self->composer_placeholder, gtk_text_buffer_get_char_count (buffer) == 0);
  tern_window_chat_update_actions (self);
}

/* The demo's suggestion, sent as if typed. */
static void
ask_example_activated (GSimpleAction *action, GVariant *param, gpointer data)
{
  TernWindow *self = data;

  gtk_text_buffer_set_text (gtk_text_view_get_buffer (self->composer),
                            gtk_button_get_label (self->example_button), -1);
  gtk_widget_grab_focus (GTK_WIDGET (self->composer));
  g_action_group_activate_action (G_ACTION_GROUP (self), "send", NULL);
}

static const GActionEntry chat_actions[] = {
  { "send", send_activated },
  { "ask-example", ask_example_activated },
  { "stop", stop_activated },
  { "regenerate", regenerate_activated },
  { "copy-message", copy_activated, "x" },
  { "edit-message", edit_activated, "x" },
  { "cancel-edit", cancel_edit_activated },
  { "previous-branch", previous_branch_activated, "x" },
  { "next-branch", next_branch_activated, "x" },
  { "focus-composer", focus_composer_activated },
};

void
tern_window_chat_init (TernWindow *self)
{
  GtkListItemFactory *factory = gtk_signal_list_item_factory_new ();
  GtkAdjustment *adj = gtk_scrolled_window_get_vadjustment (self->message_scroller);
  GtkEventController *keys = gtk_event_controller_key_new ();

  g_action_map_add_action_entries (G_ACTION_MAP (self), chat_actions, G_N_ELEMENTS (chat_actions), self);

  self->messages = g_list_store_new (TERN_TYPE_MESSAGE_ITEM);
  g_signal_connect (self->messages, "items-changed", G_CALLBACK (on_list_changed), self);
  g_signal_connect (factory, "setup", G_CALLBACK (setup_row), self);
  g_signal_connect (factory, "bind", G_CALLBACK (bind_row), self);
  g_signal_connect (factory, "unbind", G_CALLBACK (unbind_row), self);
  gtk_list_view_set_factory (self->message_list, factory);
  g_object_unref (factory);
  gtk_list_view_set_model (self->message_list,
                           GTK_SELECTION_MODEL (gtk_no_selection_new (g_object_ref (G_LIST_MODEL (self->messages)))));

  self->follow = TRUE;
  g_signal_connect (adj, "value-changed", G_CALLBACK (on_scrolled), self);
  g_signal_connect (adj, "notify::upper", G_CALLBACK (on_upper_changed), self);
  watch_user_scrolling (self);

  /* Before the text view's own handling of Enter. */
  gtk_event_controller_set_propagation_phase (keys, GTK_PHASE_CAPTURE);
  g_signal_connect (keys, "key-pressed", G_CALLBACK (on_composer_key), self);
  gtk_widget_add_controller (GTK_WIDGET (self->composer), keys);
  g_signal_connect (gtk_text_view_get_buffer (self->composer), "changed", G_CALLBACK (on_composer_changed), self);

  tern_window_reply_init (self);
  g_signal_connect_object (self->service, "notify::generating", G_CALLBACK (on_generating), self, 0);
  g_signal_connect (self->conversations, "items-changed", G_CALLBACK (on_list_changed), self);
  g_signal_connect (self->models, "items-changed", G_CALLBACK (on_list_changed), self);
  g_signal_connect_object (self->service, "notify::model-loaded", G_CALLBACK (on_model_changed), self, 0);
  g_signal_connect_object (self->service, "notify::model-id", G_CALLBACK (on_model_changed), self, 0);
  tern_window_chat_update_empty (self);
  tern_window_chat_update_actions (self);
}

void
tern_window_chat_dispose (TernWindow *self)
{
  fill_stop (self);
  g_clear_object (&self->reply);
  g_clear_object (&self->reading);
  g_clear_pointer (&self->pending_text, g_free);
  g_clear_pointer (&self->unsent, g_free);
  g_clear_pointer (&self->damage, g_free);
  if (self->messages)
    g_signal_handlers_disconnect_by_data (self->messages, self);
  g_clear_object (&self->messages);
}
