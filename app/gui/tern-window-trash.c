/* SPDX-License-Identifier: GPL-3.0-or-later */
/* TernWindow's trash: the Trash button at the bottom of the sidebar and
 * the view it shows in the sidebar's place, listing the deleted
 * conversations with Restore and Delete Permanently, and Empty Trash
 * (after a confirmation). What was deleted longer ago than the
 * trash-days setting is deleted for good when the window opens. */
#include "tern-window-private.h"

#define USEC_PER_DAY ((gint64) 86400 * G_USEC_PER_SEC)

static void
update_trash_button (TernWindow *self)
{
  guint n = g_list_model_get_n_items (G_LIST_MODEL (self->trash));
  g_autofree char *label = n ? g_strdup_printf (_("Trash (%u)"), n) : g_strdup (_("Trash"));
  g_autofree char *description =
      g_strdup_printf (g_dngettext (NULL, "%u deleted conversation", "%u deleted conversations", n), n);

  adw_button_content_set_label (ADW_BUTTON_CONTENT (gtk_button_get_child (GTK_BUTTON (self->trash_button))), label);
  /* Named by the label it shows: a label of its own as well reads twice. */
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->trash_button), GTK_ACCESSIBLE_PROPERTY_DESCRIPTION,
                                  description, -1);
  gtk_widget_set_sensitive (self->empty_trash_button, n > 0);
}

static void
got_trash (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) list = tern_service_list_conversations_finish (TERN_SERVICE (source), result, &error);
  g_autoptr (TernWindow) self = data;

  if (tern_window_cancelled (error) || tern_window_gone (self))
    return;
  if (list == NULL)
    {
      tern_window_toast_error (self, _("Could not read the trash"), error);
      return;
    }
  tern_conversation_items_replace (self->trash, list);
  update_trash_button (self);
}

void
tern_window_reload_trash (TernWindow *self)
{
  tern_service_list_conversations (self->service, TRUE, 0, -1, self->cancellable, got_trash, g_object_ref (self));
}

/* After a change to the trash: both lists follow the store. */
static void
got_trash_change (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GTask) task = g_object_ref (G_TASK (result));
  g_autoptr (TernWindow) self = data;
  gboolean ok = g_task_propagate_boolean (task, &error);

  if (tern_window_cancelled (error) || tern_window_gone (self))
    return;
  if (!ok)
    tern_window_toast_error (self, _("Could not change the trash"), error);
  tern_window_reload_trash (self);
  tern_window_reload_conversations (self);
}

static void
got_emptied (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr (GError) error = NULL;
  gint64 n = tern_service_empty_trash_finish (TERN_SERVICE (source), result, &error);
  g_autoptr (TernWindow) self = data;

  if (tern_window_cancelled (error) || tern_window_gone (self))
    return;
  if (n < 0)
    tern_window_toast_error (self, _("Could not empty the trash"), error);
  tern_window_reload_trash (self);
}

static void
restore_activated (GSimpleAction *action, GVariant *param, gpointer data)
{
  TernWindow *self = data;

  tern_service_restore_conversation (self->service, g_variant_get_int64 (param), self->cancellable,
                                     got_trash_change, g_object_ref (self));
}

static void
purge_activated (GSimpleAction *action, GVariant *param, gpointer data)
{
  TernWindow *self = data;

  tern_service_purge_conversation (self->service, g_variant_get_int64 (param), self->cancellable, got_trash_change,
                                   g_object_ref (self));
}

static void
empty_response (AdwMessageDialog *dialog, const char *response, TernWindow *self)
{
  if (g_str_equal (response, "empty"))
    tern_service_empty_trash (self->service, G_MAXINT64, self->cancellable, got_emptied, g_object_ref (self));
}

static void
empty_trash_activated (GSimpleAction *action, GVariant *param, gpointer data)
{
  TernWindow *self = data;
  guint n = g_list_model_get_n_items (G_LIST_MODEL (self->trash));
  g_autofree char *body = g_strdup_printf (
      g_dngettext (NULL, "%u conversation will be deleted for good. This cannot be undone.",
                   "%u conversations will be deleted for good. This cannot be undone.", n),
      n);
  GtkWidget *dialog = adw_message_dialog_new (GTK_WINDOW (self), _("Empty Trash?"), body);

  adw_message_dialog_add_responses (ADW_MESSAGE_DIALOG (dialog), "cancel", _("_Cancel"), "empty", _("_Empty Trash"),
                                    NULL);
  adw_message_dialog_set_response_appearance (ADW_MESSAGE_DIALOG (dialog), "empty", ADW_RESPONSE_DESTRUCTIVE);
  adw_message_dialog_set_default_response (ADW_MESSAGE_DIALOG (dialog), "cancel");
  adw_message_dialog_set_close_response (ADW_MESSAGE_DIALOG (dialog), "cancel");
  g_signal_connect_object (dialog, "response", G_CALLBACK (empty_response), self, 0);
  gtk_window_present (GTK_WINDOW (dialog));
}

/* The sidebar shows the trash while the button is down, and the
 * conversations (or the search) otherwise. */
static void
on_trash_toggled (TernWindow *self, GtkToggleButton *button)
{
  const char *shown = gtk_stack_get_visible_child_name (self->sidebar_stack);

  if (gtk_toggle_button_get_active (button))
    {
      gtk_editable_set_text (GTK_EDITABLE (self->search_entry), "");
      gtk_stack_set_visible_child_name (self->sidebar_stack, "trash");
      tern_window_reload_trash (self);
    }
  else if (g_strcmp0 (shown, "trash") == 0)
    gtk_stack_set_visible_child_name (self->sidebar_stack,
                                      g_list_model_get_n_items (G_LIST_MODEL (self->conversations)) ? "list" : "empty");
}

/* A search while the trash is shown leaves it: the button follows. */
static void
on_sidebar_page (TernWindow *self, GParamSpec *pspec, GtkStack *stack)
{
  if (g_strcmp0 (gtk_stack_get_visible_child_name (stack), "trash") != 0)
    gtk_toggle_button_set_active (self->trash_button, FALSE);
}

static GtkWidget *
row_button (const char *icon, const char *label, const char *action, gint64 id)
{
  GtkWidget *button = gtk_button_new_from_icon_name (icon);

  gtk_widget_set_tooltip_text (button, label);
  gtk_accessible_update_property (GTK_ACCESSIBLE (button), GTK_ACCESSIBLE_PROPERTY_LABEL, label, -1);
  gtk_widget_set_valign (button, GTK_ALIGN_CENTER);
  gtk_widget_add_css_class (button, "flat");
  gtk_actionable_set_action_name (GTK_ACTIONABLE (button), action);
  gtk_actionable_set_action_target_value (GTK_ACTIONABLE (button), g_variant_new_int64 (id));
  return button;
}

static GtkWidget *
trash_row (gpointer item, gpointer data)
{
  const TernConversation *c = tern_conversation_item_get_conversation (item);
  GtkWidget *row = adw_action_row_new ();
  g_autoptr (GDateTime) when = g_date_time_new_from_unix_local (c->trashed_at / G_USEC_PER_SEC);
  g_autofree char *date = when ? g_date_time_format (when, "%x") : NULL;
  g_autofree char *subtitle = date ? g_strdup_printf (_("Deleted on %s"), date) : NULL;

  adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (row), FALSE);
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), c->title);
  if (subtitle)
    adw_action_row_set_subtitle (ADW_ACTION_ROW (row), subtitle);
  adw_action_row_set_title_lines (ADW_ACTION_ROW (row), 1);
  adw_action_row_add_suffix (ADW_ACTION_ROW (row),
                             row_button ("edit-undo-symbolic", _("Restore"), "win.restore-from-trash", c->id));
  adw_action_row_add_suffix (ADW_ACTION_ROW (row), row_button ("edit-delete-symbolic", _("Delete Permanently"),
                                                               "win.delete-permanently", c->id));
  return row;
}

/* Deletes for good what was deleted longer ago than the setting says. */
static void
expire (TernWindow *self)
{
  guint days = g_settings_get_uint (self->settings, "trash-days");

  if (days == 0 || tern_service_get_read_only (self->service))
    {
      tern_window_reload_trash (self);
      return;
    }
  tern_service_empty_trash (self->service, g_get_real_time () - days * USEC_PER_DAY, self->cancellable, got_emptied,
                            g_object_ref (self));
}

static const GActionEntry trash_actions[] = {
  { "restore-from-trash", restore_activated, "x" },
  { "delete-permanently", purge_activated, "x" },
  { "empty-trash", empty_trash_activated },
};

void
tern_window_trash_init (TernWindow *self)
{
  g_action_map_add_action_entries (G_ACTION_MAP (self), trash_actions, G_N_ELEMENTS (trash_actions), self);
  self->trash = g_list_store_new (TERN_TYPE_CONVERSATION_ITEM);

  /* The view: the list, and Empty Trash under it. */
  GtkWidget *page = gtk_box_new (GTK_ORIENTATION_VERTICAL, 0);
  GtkWidget *scroller = gtk_scrolled_window_new ();
  GtkWidget *placeholder = adw_status_page_new ();
  self->trash_list = GTK_LIST_BOX (gtk_list_box_new ());
  adw_status_page_set_icon_name (ADW_STATUS_PAGE (placeholder), "user-trash-symbolic");
  adw_status_page_set_title (ADW_STATUS_PAGE (placeholder), _("Trash Is Empty"));
  gtk_widget_add_css_class (placeholder, "compact");
  gtk_list_box_set_placeholder (self->trash_list, placeholder);
  gtk_list_box_set_selection_mode (self->trash_list, GTK_SELECTION_NONE);
  gtk_widget_add_css_class (GTK_WIDGET (self->trash_list), "navigation-sidebar");
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->trash_list), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  _("Deleted conversations"), -1);
  gtk_list_box_bind_model (self->trash_list, G_LIST_MODEL (self->trash), trash_row, NULL, NULL);
  gtk_scrolled_window_set_policy (GTK_SCROLLED_WINDOW (scroller), GTK_POLICY_NEVER, GTK_POLICY_AUTOMATIC);
  gtk_scrolled_window_set_child (GTK_SCROLLED_WINDOW (scroller), GTK_WIDGET (self->trash_list));
  gtk_widget_set_vexpand (scroller, TRUE);
  gtk_box_append (GTK_BOX (page), scroller);

  self->empty_trash_button = gtk_button_new_with_mnemonic (_("_Empty Trash…"));
  gtk_actionable_set_action_name (GTK_ACTIONABLE (self->empty_trash_button), "win.empty-trash");
  gtk_widget_set_tooltip_text (self->empty_trash_button, _("Delete every conversation in the trash for good"));
  gtk_widget_add_css_class (self->empty_trash_button, "destructive-action");
  gtk_widget_set_margin_start (self->empty_trash_button, 6);
  gtk_widget_set_margin_end (self->empty_trash_button, 6);
  gtk_widget_set_margin_top (self->empty_trash_button, 6);
  gtk_box_append (GTK_BOX (page), self->empty_trash_button);
  gtk_stack_add_named (self->sidebar_stack, page, "trash");

  /* The button at the bottom of the sidebar. */
  GtkWidget *content = adw_button_content_new ();
  adw_button_content_set_icon_name (ADW_BUTTON_CONTENT (content), "user-trash-symbolic");
  self->trash_button = GTK_TOGGLE_BUTTON (gtk_toggle_button_new ());
  gtk_button_set_child (GTK_BUTTON (self->trash_button), content);
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->trash_button), _("Show the deleted conversations"));
  gtk_widget_add_css_class (GTK_WIDGET (self->trash_button), "flat");
  gtk_widget_set_margin_start (GTK_WIDGET (self->trash_button), 6);
  gtk_widget_set_margin_end (GTK_WIDGET (self->trash_button), 6);
  gtk_widget_set_margin_top (GTK_WIDGET (self->trash_button), 6);
  gtk_widget_set_margin_bottom (GTK_WIDGET (self->trash_button), 6);
  g_signal_connect_swapped (self->trash_button, "toggled", G_CALLBACK (on_trash_toggled), self);
  gtk_box_append (GTK_BOX (self->sidebar), gtk_separator_new (GTK_ORIENTATION_HORIZONTAL));
  gtk_box_append (GTK_BOX (self->sidebar), GTK_WIDGET (self->trash_button));
  g_signal_connect_swapped (self->sidebar_stack, "notify::visible-child-name", G_CALLBACK (on_sidebar_page), self);
  update_trash_button (self);

  expire (self);
}
