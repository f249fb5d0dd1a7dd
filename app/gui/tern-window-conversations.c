/* SPDX-License-Identifier: GPL-3.0-or-later */
/* TernWindow's sidebar: the conversation list and its rows, search,
 * opening a conversation, and rename, duplicate, delete (with undo) and
 * the per-conversation settings. */
#include "tern-conversation-settings.h"
#include "tern-sampling-group.h"
#include "tern-window-private.h"

#include <tern/error.h>
#include <tern/session.h>

/* How many search hits the sidebar shows. */
#define SEARCH_LIMIT 50

/* ---- Conversations ---- */

/* A new chat's settings are kept until its first message stores it. */
static void
clear_draft (TernWindow *self)
{
  self->draft_set = FALSE;
  g_clear_pointer (&self->draft_system_prompt, g_free);
}

TernConversationItem *
tern_window_find_conversation (TernWindow *self, gint64 id)
{
  guint n = g_list_model_get_n_items (G_LIST_MODEL (self->conversations));

  for (guint i = 0; i < n; i++)
    {
      g_autoptr (TernConversationItem) item = g_list_model_get_item (G_LIST_MODEL (self->conversations), i);
      if (tern_conversation_item_get_id (item) == id)
        return item;
    }
  return NULL;
}

/* Selects the row of the conversation shown in @list (none for a new
 * chat or one not listed). Selecting does not open: the lists open on
 * "activate" only. */
static void
select_in (GListModel *list, GtkSingleSelection *selection, gint64 id)
{
  guint n = g_list_model_get_n_items (list);

  for (guint i = 0; id != 0 && i < n; i++)
    {
      g_autoptr (TernConversationItem) item = g_list_model_get_item (list, i);
      if (tern_conversation_item_get_id (item) == id)
        {
          gtk_single_selection_set_selected (selection, i);
          return;
        }
    }
  gtk_single_selection_set_selected (selection, GTK_INVALID_LIST_POSITION);
}

static void
select_conversation (TernWindow *self)
{
  self->selecting = TRUE;
  select_in (G_LIST_MODEL (self->conversations), self->conversation_selection, self->conversation_id);
  select_in (G_LIST_MODEL (self->results), GTK_SINGLE_SELECTION (gtk_list_view_get_model (self->result_list)),
             self->conversation_id);
  self->selecting = FALSE;
}

/* The lists select the row under the pointer (single-click-activate) and
 * the one clicked, which opens only when the window can open it: the
 * selection goes back to the conversation shown, which opening moves. */
static void
on_selection_changed (TernWindow *self, guint position, guint n_items, GtkSelectionModel *selection)
{
  if (!self->selecting)
    select_conversation (self);
}

void
tern_window_set_conversation (TernWindow *self, gint64 id)
{
  self->conversation_id = id;
  g_settings_set_int64 (self->settings, "last-conversation", id);
  select_conversation (self);
}

static void
got_conversations (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) list = tern_service_list_conversations_finish (TERN_SERVICE (source), result, &error);
  g_autoptr (TernWindow) self = data;

  if (tern_window_cancelled (error) || tern_window_gone (self))
    return;
  if (list == NULL)
    {
      tern_window_toast_error (self, _("Could not read the conversations"), error);
      return;
    }
  tern_conversation_items_replace (self->conversations, list);
  select_conversation (self);
  /* At start, the conversation open last time, unless it is gone or in
   * the trash (then a new chat, as when it was one). */
  if (!self->reopened)
    {
      gint64 last = g_settings_get_int64 (self->settings, "last-conversation");
      self->reopened = TRUE;
      if (self->conversation_id == 0 && last != 0 && tern_window_find_conversation (self, last))
        tern_window_open_conversation (self, last);
    }
  if (g_strcmp0 (gtk_stack_get_visible_child_name (self->sidebar_stack), "list") == 0 ||
      g_strcmp0 (gtk_stack_get_visible_child_name (self->sidebar_stack), "empty") == 0)
    gtk_stack_set_visible_child_name (self->sidebar_stack, list->len ? "list" : "empty");
}

void
tern_window_reload_conversations (TernWindow *self)
{
  tern_service_list_conversations (self->service, FALSE, 0, -1, self->cancellable, got_conversations,
                                   g_object_ref (self));
}

/* A request's window (a reference: it lives until the answer) and what
 * the request was about. */
typedef struct {
  TernWindow *window;
  gint64 id;
} Request;

static Request *
request_new (TernWindow *self, gint64 id)
{
  Request *request = g_new (Request, 1);

  request->window = g_object_ref (self);
  request->id = id;
  return request;
}

static void
request_free (Request *request)
{
  g_object_unref (request->window);
  g_free (request);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Request, request_free)

static void
got_open (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (Request) request = data;
  int kind = tern_service_open_conversation_finish (TERN_SERVICE (source), result, &error);
  TernWindow *self = request->window;

  if (tern_window_cancelled (error) || tern_window_gone (self) || request->id != self->conversation_id)
    return;
  self->opening = FALSE;
  tern_window_hide_progress (self);
  g_clear_pointer (&self->resume_note, g_free);
  if (kind == TERN_RESUME_SNAPSHOT)
    self->resume_note = g_strdup (_("resumed instantly from its snapshot"));
  else if (kind == TERN_RESUME_REINGEST)
    self->resume_note = g_strdup (_("conversation read again"));
  else if (kind < 0)
    tern_window_toast_error (self, _("Could not open the conversation"), error);
  tern_window_update_status (self);
  tern_window_chat_update_actions (self);
}

static void
got_model_check (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (Request) request = data;
  int status = tern_service_check_model_finish (TERN_SERVICE (source), result, &error);
  TernWindow *self = request->window;

  if (tern_window_cancelled (error) || tern_window_gone (self) || self->conversation_id != request->id)
    return;
  TernConversationItem *item = tern_window_find_conversation (self, request->id);
  const TernConversation *c = item ? tern_conversation_item_get_conversation (item) : NULL;
  TernModelItem *model = c ? tern_window_find_model (self, c->model_id, NULL) : NULL;
  if (model == NULL)
    return;
  if (status == TERN_MODEL_OK)
    {
      tern_window_load_model (self, tern_model_item_get_path (model));
      return;
    }
  self->opening = FALSE;
  g_autofree char *text = NULL;
  if (status == TERN_MODEL_MISSING)
    text = g_strdup_printf (_("The model of this conversation, %s, is missing: it was at %s"),
                            tern_model_item_get_name (model), tern_model_item_get_path (model));
  else if (status == TERN_MODEL_CHANGED)
    text = g_strdup_printf (_("The model file %s changed since it was added: Tern will not use it in its place"),
                            tern_model_item_get_path (model));
  else
    text = g_strdup_printf (_("The model of this conversation cannot be checked: %s"), error->message);
  tern_window_show_banner (self, text);
  tern_window_chat_update_actions (self);
}

/* Opens conversation @id; @own_model: on the model it was written with when
 * another is loaded (not after the user chose the model loaded). */
static void
open_conversation (TernWindow *self, gint64 id, gboolean own_model)
{
  TernConversationItem *item = tern_window_find_conversation (self, id);
  const TernConversation *c = item ? tern_conversation_item_get_conversation (item) : NULL;
  gint64 loaded = tern_service_get_model_id (self->service);

  if (self->conversation_id != id)
    {
      tern_window_reply_leave (self);
      clear_draft (self);
      self->editing_id = 0;
      gtk_revealer_set_reveal_child (self->edit_bar, FALSE);
      self->tokens_per_second = 0;
    }
  tern_window_set_conversation (self, id);
  tern_window_show_banner (self, NULL);
  g_action_group_change_action_state (G_ACTION_GROUP (self), "show-library", g_variant_new_boolean (FALSE));
  gtk_stack_set_visible_child_name (self->main_stack, "chat");
  adw_leaflet_set_visible_child (self->leaflet, self->content);
  /* The transcript shows at once; the model state follows. */
  tern_window_chat_reload (self);
  self->opening = TRUE;
  tern_window_chat_update_actions (self);

  if (own_model && c && c->model_id != 0 && c->model_id != loaded && tern_window_find_model (self, c->model_id, NULL)
      && self->model_pending == 0)
    {
      /* Its own model first, when the file is still the one it used. */
      tern_service_check_model (self->service, c->model_id, self->cancellable, got_model_check, request_new (self, id));
      return;
    }
  if (!tern_service_get_model_loaded (self->service))
    {
      self->opening = FALSE;
      if (self->model_pending == 0)
        tern_window_show_banner (self, _("No model is loaded: choose one in the model menu or the library"));
      tern_window_chat_update_actions (self);
      return;
    }
  tern_service_open_conversation (self->service, id, self->cancellable, got_open, request_new (self, id));
}

void
tern_window_open_conversation (TernWindow *self, gint64 id)
{
  open_conversation (self, id, TRUE);
}

void
tern_window_continue_conversation (TernWindow *self, gint64 id)
{
  open_conversation (self, id, FALSE);
}

static void
on_conversation_activated (TernWindow *self, guint position, GtkListView *list)
{
  g_autoptr (TernConversationItem) item = g_list_model_get_item (G_LIST_MODEL (self->conversation_selection), position);

  if (item)
    tern_window_open_conversation (self, tern_conversation_item_get_id (item));
}

static void
on_result_activated (TernWindow *self, guint position, GtkListView *list)
{
  g_autoptr (TernConversationItem) item = g_list_model_get_item (G_LIST_MODEL (self->results), position);

  if (item)
    tern_window_open_at_message (self, tern_conversation_item_get_id (item),
                                 tern_conversation_item_get_message_id (item),
                                 tern_conversation_item_get_snippet (item));
}

static void
new_conversation_activated (GSimpleAction *action, GVariant *param, gpointer data)
{
  TernWindow *self = data;

  tern_window_reply_leave (self);
  tern_window_set_conversation (self, 0);
  clear_draft (self);
  self->tokens_per_second = 0;
  self->editing_id = 0;
  self->opening = FALSE;
  g_clear_pointer (&self->resume_note, g_free);
  gtk_revealer_set_reveal_child (self->edit_bar, FALSE);
  tern_window_show_banner (self, NULL);
  tern_window_chat_reload (self);
  g_action_group_change_action_state (G_ACTION_GROUP (self), "show-library", g_variant_new_boolean (FALSE));
  if (g_list_model_get_n_items (G_LIST_MODEL (self->models)) > 0)
    gtk_stack_set_visible_child_name (self->main_stack, "chat");
  adw_leaflet_set_visible_child (self->leaflet, self->content);
  gtk_widget_grab_focus (GTK_WIDGET (self->composer));
  tern_window_update_status (self);
  tern_window_chat_update_actions (self);
}

/* ---- Rename, duplicate, delete and undo ---- */

static void
got_done (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GTask) task = g_object_ref (G_TASK (result));
  g_autoptr (TernWindow) self = data;

  gboolean ok = g_task_propagate_boolean (task, &error);

  if (tern_window_cancelled (error) || tern_window_gone (self))
    return;
  if (!ok)
    tern_window_toast_error (self, _("Could not save the change"), error);
  tern_window_reload_conversations (self);
}

static void
rename_response (AdwMessageDialog *dialog, const char *response, TernWindow *self)
{
  GtkEditable *entry = GTK_EDITABLE (adw_message_dialog_get_extra_child (dialog));
  gint64 id = GPOINTER_TO_SIZE (g_object_get_data (G_OBJECT (dialog), "conversation-id"));
  g_autofree char *title = g_strstrip (g_strdup (gtk_editable_get_text (entry)));

  if (!g_str_equal (response, "rename") || title[0] == '\0')
    return;
  TernConversationItem *item = tern_window_find_conversation (self, id);
  if (item)
    tern_conversation_item_set_title (item, title);
  tern_service_rename_conversation (self->service, id, title, self->cancellable, got_done, g_object_ref (self));
}

static void
rename_activated (GSimpleAction *action, GVariant *param, gpointer data)
{
  TernWindow *self = data;
  gint64 id = g_variant_get_int64 (param);
  TernConversationItem *item = tern_window_find_conversation (self, id);
  GtkWidget *entry = gtk_entry_new ();
  GtkWidget *dialog = adw_message_dialog_new (GTK_WINDOW (self), _("Rename Conversation"), NULL);

  if (item == NULL)
    return;
  gtk_editable_set_text (GTK_EDITABLE (entry), tern_conversation_item_get_title (item));
  gtk_entry_set_activates_default (GTK_ENTRY (entry), TRUE);
  gtk_accessible_update_property (GTK_ACCESSIBLE (entry), GTK_ACCESSIBLE_PROPERTY_LABEL, _("Title"), -1);
  adw_message_dialog_set_extra_child (ADW_MESSAGE_DIALOG (dialog), entry);
  adw_message_dialog_add_responses (ADW_MESSAGE_DIALOG (dialog), "cancel", _("_Cancel"), "rename", _("_Rename"), NULL);
  adw_message_dialog_set_response_appearance (ADW_MESSAGE_DIALOG (dialog), "rename", ADW_RESPONSE_SUGGESTED);
  adw_message_dialog_set_default_response (ADW_MESSAGE_DIALOG (dialog), "rename");
  adw_message_dialog_set_close_response (ADW_MESSAGE_DIALOG (dialog), "cancel");
  g_object_set_data (G_OBJECT (dialog), "conversation-id", GSIZE_TO_POINTER (id));
  g_signal_connect (dialog, "response", G_CALLBACK (rename_response), self);
  gtk_window_present (GTK_WINDOW (dialog));
}

static void
got_duplicate (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr (GError) error = NULL;
  gint64 id = tern_service_duplicate_conversation_finish (TERN_SERVICE (source), result, &error);
  g_autoptr (TernWindow) self = data;

  if (tern_window_cancelled (error) || tern_window_gone (self))
    return;
  if (id == 0)
    tern_window_toast_error (self, _("Could not duplicate the conversation"), error);
  tern_window_reload_conversations (self);
}

static void
duplicate_activated (GSimpleAction *action, GVariant *param, gpointer data)
{
  TernWindow *self = data;

  tern_service_duplicate_conversation (self->service, g_variant_get_int64 (param), self->cancellable, got_duplicate,
                                       g_object_ref (self));
}

static void
got_delete (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (Request) request = data;
  gboolean ok = tern_service_delete_conversation_finish (TERN_SERVICE (source), result, &error);
  TernWindow *self = request->window;

  if (tern_window_cancelled (error) || tern_window_gone (self))
    return;
  if (!ok)
    {
      tern_window_toast_error (self, _("Could not delete the conversation"), error);
      tern_window_reload_conversations (self);
      return;
    }
  tern_window_reload_trash (self);
  AdwToast *toast = adw_toast_new (_("Conversation deleted"));
  adw_toast_set_button_label (toast, _("_Undo"));
  adw_toast_set_action_name (toast, "win.undo-delete");
  adw_toast_set_action_target_value (toast, g_variant_new_int64 (request->id));
  adw_toast_set_priority (toast, ADW_TOAST_PRIORITY_HIGH);
  tern_window_add_toast (self, toast);
}

static void
delete_activated (GSimpleAction *action, GVariant *param, gpointer data)
{
  TernWindow *self = data;
  gint64 id = g_variant_get_int64 (param);
  TernConversationItem *item = tern_window_find_conversation (self, id);
  guint position;

  /* Gone from the list at once; the store follows. */
  if (item && g_list_store_find (self->conversations, item, &position))
    g_list_store_remove (self->conversations, position);
  if (self->conversation_id == id)
    g_action_group_activate_action (G_ACTION_GROUP (self), "new-conversation", NULL);
  tern_service_delete_conversation (self->service, id, self->cancellable, got_delete, request_new (self, id));
}

static void
got_restored (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr (TernWindow) self = g_object_ref (data);

  got_done (source, result, data);
  if (!tern_window_gone (self))
    tern_window_reload_trash (self);
}

static void
undo_delete_activated (GSimpleAction *action, GVariant *param, gpointer data)
{
  TernWindow *self = data;

  tern_service_restore_conversation (self->service, g_variant_get_int64 (param), self->cancellable, got_restored,
                                     g_object_ref (self));
}

/* ---- Conversation settings ---- */

void
tern_window_new_chat_settings (TernWindow *self, char **system_prompt, TernSamplerParams *sampling, gint *max_tokens)
{
  if (self->draft_set)
    {
      *system_prompt = g_strdup (self->draft_system_prompt);
      *sampling = self->draft_sampling;
      *max_tokens = self->draft_max_tokens;
      return;
    }
  *system_prompt = g_settings_get_string (self->settings, "system-prompt");
  tern_settings_get_sampling (self->settings, sampling, max_tokens);
  *max_tokens = g_settings_get_int (self->settings, "max-tokens");
}

static void
on_settings_changed (TernConversationSettings *dialog, TernWindow *self)
{
  gint64 id = GPOINTER_TO_SIZE (g_object_get_data (G_OBJECT (dialog), "conversation-id"));
  g_autofree char *system_prompt = tern_conversation_settings_get_system_prompt (dialog);
  g_autoptr (GError) error = NULL;
  TernSamplerParams params;
  gint max;

  tern_conversation_settings_get_params (dialog, &params, &max);
  if (!tern_sampler_params_validate (&params, &error))
    {
      tern_window_toast_error (self, _("Invalid settings"), error);
      return;
    }
  if (id == 0)
    {
      /* Still the new chat it was opened for: kept for its first message. */
      if (self->conversation_id != 0)
        return;
      clear_draft (self);
      self->draft_set = TRUE;
      self->draft_system_prompt = g_steal_pointer (&system_prompt);
      self->draft_sampling = params;
      self->draft_max_tokens = max;
      return;
    }
  tern_service_set_system_prompt (self->service, id, system_prompt, self->cancellable, got_done,
                                  g_object_ref (self));
  tern_service_set_sampling (self->service, id, &params, self->cancellable, got_done, g_object_ref (self));
  tern_service_set_max_tokens (self->service, id, max, self->cancellable, got_done, g_object_ref (self));
}

static void
conversation_settings_activated (GSimpleAction *action, GVariant *param, gpointer data)
{
  TernWindow *self = data;
  TernConversationItem *item = tern_window_find_conversation (self, self->conversation_id);
  const TernConversation *c = item ? tern_conversation_item_get_conversation (item) : NULL;
  GtkWidget *dialog;

  if (c != NULL)
    dialog = tern_conversation_settings_new (GTK_WINDOW (self), c->title, c->system_prompt, &c->sampling,
                                             c->max_tokens);
  else
    {
      /* A new chat: what it will get when its first message stores it. */
      g_autofree char *system_prompt = NULL;
      TernSamplerParams sampling;
      gint max;

      tern_window_new_chat_settings (self, &system_prompt, &sampling, &max);
      dialog = tern_conversation_settings_new (GTK_WINDOW (self), _("New Chat"), system_prompt, &sampling, max);
    }
  tern_conversation_settings_set_defaults (TERN_CONVERSATION_SETTINGS (dialog), self->settings);
  g_object_set_data (G_OBJECT (dialog), "conversation-id", GSIZE_TO_POINTER (c ? c->id : 0));
  g_signal_connect_object (dialog, "changed", G_CALLBACK (on_settings_changed), self, 0);
  gtk_window_present (GTK_WINDOW (dialog));
}

/* ---- Search ---- */

static void
got_search (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) hits = tern_service_search_finish (TERN_SERVICE (source), result, &error);
  g_autoptr (Request) request = data;
  TernWindow *self = request->window;

  if (tern_window_cancelled (error) || tern_window_gone (self) || request->id != self->search_serial)
    return;
  if (hits == NULL)
    {
      tern_window_toast_error (self, _("Search failed"), error);
      return;
    }
  g_autoptr (GPtrArray) items = g_ptr_array_new_with_free_func (g_object_unref);
  for (guint i = 0; i < hits->len; i++)
    g_ptr_array_add (items, tern_conversation_item_new_hit (hits->pdata[i]));
  g_list_store_splice (self->results, 0, g_list_model_get_n_items (G_LIST_MODEL (self->results)), items->pdata,
                       items->len);
  select_conversation (self);
  gtk_stack_set_visible_child_name (self->sidebar_stack, hits->len ? "results" : "no-results");
}

static void
on_search_changed (TernWindow *self, GtkSearchEntry *entry)
{
  const char *text = gtk_editable_get_text (GTK_EDITABLE (entry));

  self->search_serial++;
  if (text[0] == '\0')
    {
      g_list_store_remove_all (self->results);
      select_conversation (self);
      gtk_stack_set_visible_child_name (self->sidebar_stack,
                                        g_list_model_get_n_items (G_LIST_MODEL (self->conversations)) ? "list" : "empty");
      return;
    }
  tern_service_search (self->service, text, TERN_SNIPPET_OPEN, TERN_SNIPPET_CLOSE, SEARCH_LIMIT, self->cancellable,
                       got_search, request_new (self, self->search_serial));
}

static void
on_stop_search (TernWindow *self, GtkSearchEntry *entry)
{
  gtk_editable_set_text (GTK_EDITABLE (entry), "");
}

static void
on_search_activate (TernWindow *self, GtkSearchEntry *entry)
{
  if (g_list_model_get_n_items (G_LIST_MODEL (self->results)) > 0)
    on_result_activated (self, 0, self->result_list);
}

static void
search_activated (GSimpleAction *action, GVariant *param, gpointer data)
{
  TernWindow *self = data;

  adw_leaflet_set_visible_child (self->leaflet, self->sidebar);
  gtk_widget_grab_focus (GTK_WIDGET (self->search_entry));
}

static void
on_back_clicked (TernWindow *self, GtkButton *button)
{
  adw_leaflet_set_visible_child (self->leaflet, self->sidebar);
}

/* ---- Sidebar rows ---- */

/* The snippet as Pango markup: escaped, the match in bold. */
static char *
snippet_markup (const char *snippet)
{
  g_autofree char *escaped = g_markup_escape_text (snippet ? snippet : "", -1);
  g_auto (GStrv) open = g_strsplit (escaped, TERN_SNIPPET_OPEN, -1);
  g_autofree char *joined = g_strjoinv ("<b>", open);
  g_auto (GStrv) close = g_strsplit (joined, TERN_SNIPPET_CLOSE, -1);
  g_autofree char *flat = g_strjoinv ("</b>", close);

  return g_strdelimit (g_steal_pointer (&flat), "\n", ' ');
}

static void
on_row_pressed (GtkGestureClick *gesture, int n_press, double x, double y, GtkMenuButton *menu_button)
{
  gtk_menu_button_popup (menu_button);
}

static void
setup_conversation_row (GtkSignalListItemFactory *factory, GtkListItem *list_item, TernWindow *self)
{
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 6);
  GtkWidget *labels = gtk_box_new (GTK_ORIENTATION_VERTICAL, 2);
  GtkWidget *title = gtk_label_new (NULL);
  GtkWidget *snippet = gtk_label_new (NULL);
  GtkWidget *menu_button = gtk_menu_button_new ();
  GtkGesture *click = gtk_gesture_click_new ();

  gtk_label_set_xalign (GTK_LABEL (title), 0);
  gtk_label_set_ellipsize (GTK_LABEL (title), PANGO_ELLIPSIZE_END);
  gtk_label_set_xalign (GTK_LABEL (snippet), 0);
  gtk_label_set_ellipsize (GTK_LABEL (snippet), PANGO_ELLIPSIZE_END);
  gtk_label_set_lines (GTK_LABEL (snippet), 2);
  gtk_label_set_wrap (GTK_LABEL (snippet), TRUE);
  gtk_widget_add_css_class (snippet, "caption");
  gtk_widget_add_css_class (snippet, "dim-label");
  gtk_widget_set_hexpand (labels, TRUE);
  /* Level with the menu button, with or without a snippet below. */
  gtk_widget_set_valign (labels, GTK_ALIGN_CENTER);
  gtk_box_append (GTK_BOX (labels), title);
  gtk_box_append (GTK_BOX (labels), snippet);
  gtk_box_append (GTK_BOX (box), labels);

  gtk_menu_button_set_icon_name (GTK_MENU_BUTTON (menu_button), "view-more-symbolic");
  gtk_widget_set_tooltip_text (menu_button, _("Conversation Menu"));
  gtk_accessible_update_property (GTK_ACCESSIBLE (menu_button), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  _("Conversation Menu"), -1);
  gtk_widget_add_css_class (menu_button, "flat");
  gtk_widget_set_valign (menu_button, GTK_ALIGN_CENTER);
  gtk_box_append (GTK_BOX (box), menu_button);

  /* A right click or a long press opens the same menu. */
  gtk_gesture_single_set_button (GTK_GESTURE_SINGLE (click), GDK_BUTTON_SECONDARY);
  g_signal_connect (click, "pressed", G_CALLBACK (on_row_pressed), menu_button);
  gtk_widget_add_controller (box, GTK_EVENT_CONTROLLER (click));
  GtkGesture *press = gtk_gesture_long_press_new ();
  g_signal_connect_swapped (press, "pressed", G_CALLBACK (gtk_menu_button_popup), menu_button);
  gtk_widget_add_controller (box, GTK_EVENT_CONTROLLER (press));

  g_object_set_data (G_OBJECT (box), "title", title);
  g_object_set_data (G_OBJECT (box), "snippet", snippet);
  g_object_set_data (G_OBJECT (box), "menu-button", menu_button);
  gtk_list_item_set_child (list_item, box);
}

static GMenuModel *
conversation_menu (gint64 id)
{
  GMenu *menu = g_menu_new ();
  const struct {
    const char *label, *action;
  } entries[] = {
    { N_("_Rename…"), "win.rename-conversation" },
    { N_("D_uplicate"), "win.duplicate-conversation" },
    { N_("_Delete"), "win.delete-conversation" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (entries); i++)
    {
      g_autoptr (GMenuItem) item = g_menu_item_new (_(entries[i].label), NULL);
      g_menu_item_set_action_and_target_value (item, entries[i].action, g_variant_new_int64 (id));
      g_menu_append_item (menu, item);
    }
  return G_MENU_MODEL (menu);
}

static void
bind_conversation_row (GtkSignalListItemFactory *factory, GtkListItem *list_item, TernWindow *self)
{
  TernConversationItem *item = gtk_list_item_get_item (list_item);
  GtkWidget *box = gtk_list_item_get_child (list_item);
  GtkLabel *title = g_object_get_data (G_OBJECT (box), "title");
  GtkLabel *snippet = g_object_get_data (G_OBJECT (box), "snippet");
  g_autoptr (GMenuModel) menu = conversation_menu (tern_conversation_item_get_id (item));
  g_autofree char *markup = snippet_markup (tern_conversation_item_get_snippet (item));

  gtk_label_set_label (title, tern_conversation_item_get_title (item));
  gtk_label_set_markup (snippet, markup);
  gtk_widget_set_visible (GTK_WIDGET (snippet), tern_conversation_item_get_snippet (item) != NULL);
  gtk_menu_button_set_menu_model (g_object_get_data (G_OBJECT (box), "menu-button"), menu);
  gtk_accessible_update_property (GTK_ACCESSIBLE (box), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  tern_conversation_item_get_title (item), -1);
}

static GtkListItemFactory *
conversation_factory (TernWindow *self)
{
  GtkListItemFactory *factory = gtk_signal_list_item_factory_new ();

  g_signal_connect (factory, "setup", G_CALLBACK (setup_conversation_row), self);
  g_signal_connect (factory, "bind", G_CALLBACK (bind_conversation_row), self);
  return factory;
}

static const GActionEntry conversation_actions[] = {
  { "new-conversation", new_conversation_activated },
  { "search", search_activated },
  { "conversation-settings", conversation_settings_activated },
  { "rename-conversation", rename_activated, "x" },
  { "duplicate-conversation", duplicate_activated, "x" },
  { "delete-conversation", delete_activated, "x" },
  { "undo-delete", undo_delete_activated, "x" },
};

void
tern_window_conversations_init (TernWindow *self)
{
  GtkListItemFactory *factory;

  g_action_map_add_action_entries (G_ACTION_MAP (self), conversation_actions, G_N_ELEMENTS (conversation_actions),
                                   self);

  self->conversations = g_list_store_new (TERN_TYPE_CONVERSATION_ITEM);
  self->conversation_selection = gtk_single_selection_new (g_object_ref (G_LIST_MODEL (self->conversations)));
  gtk_single_selection_set_autoselect (self->conversation_selection, FALSE);
  gtk_single_selection_set_can_unselect (self->conversation_selection, TRUE);
  gtk_list_view_set_model (self->conversation_list, GTK_SELECTION_MODEL (g_object_ref (self->conversation_selection)));
  g_signal_connect_swapped (self->conversation_selection, "selection-changed", G_CALLBACK (on_selection_changed), self);
  factory = conversation_factory (self);
  gtk_list_view_set_factory (self->conversation_list, factory);
  g_object_unref (factory);

  self->results = g_list_store_new (TERN_TYPE_CONVERSATION_ITEM);
  GtkSingleSelection *hits = gtk_single_selection_new (g_object_ref (G_LIST_MODEL (self->results)));
  gtk_single_selection_set_autoselect (hits, FALSE);
  gtk_single_selection_set_can_unselect (hits, TRUE);
  g_signal_connect_swapped (hits, "selection-changed", G_CALLBACK (on_selection_changed), self);
  gtk_list_view_set_model (self->result_list, GTK_SELECTION_MODEL (hits));
  factory = conversation_factory (self);
  gtk_list_view_set_factory (self->result_list, factory);
  g_object_unref (factory);
}

void
tern_window_conversations_class_init (GtkWidgetClass *widget_class)
{
  gtk_widget_class_bind_template_callback (widget_class, on_search_changed);
  gtk_widget_class_bind_template_callback (widget_class, on_stop_search);
  gtk_widget_class_bind_template_callback (widget_class, on_search_activate);
  gtk_widget_class_bind_template_callback (widget_class, on_conversation_activated);
  gtk_widget_class_bind_template_callback (widget_class, on_result_activated);
  gtk_widget_class_bind_template_callback (widget_class, on_back_clicked);
}
