/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "tern-message-row.h"

#include <glib/gi18n.h>

#include "tern-markdown-view.h"

struct _TernMessageRow {
  GtkWidget parent_instance;

  GtkLabel *role_label;
  GtkLabel *note_label;
  GtkBox *bubble;
  GtkWidget *actions;
  GtkWidget *copy_button;
  GtkWidget *edit_button;
  GtkWidget *regenerate_button;
  GtkWidget *branch_box;
  GtkWidget *previous_button;
  GtkLabel *branch_label;
  GtkWidget *next_button;
  GtkWidget *markdown;
  GtkProgressBar *reading_bar;

  TernMessageItem *item;
  GListModel *list;       /* the messages the item is in */
  gulong content_handler;
  gulong streaming_handler;
  gulong branches_handler;
  gulong reading_handler;
  gulong list_handler;
  gulong highlight_handler;
};

G_DEFINE_FINAL_TYPE (TernMessageRow, tern_message_row, GTK_TYPE_WIDGET)

static void
update_content (TernMessageRow *self)
{
  tern_markdown_view_set_text (TERN_MARKDOWN_VIEW (self->markdown), tern_message_item_get_content (self->item));
}

static void
update_highlight (TernMessageRow *self)
{
  tern_markdown_view_set_highlight (TERN_MARKDOWN_VIEW (self->markdown), tern_message_item_get_highlight (self->item));
}

/* Only the last reply can be regenerated. */
static gboolean
is_last (TernMessageRow *self)
{
  guint n = g_list_model_get_n_items (self->list);
  g_autoptr (TernMessageItem) last = n ? g_list_model_get_item (self->list, n - 1) : NULL;

  return last == self->item;
}

static void
update_state (TernMessageRow *self)
{
  TernMessageItem *item = self->item;
  gboolean streaming = tern_message_item_get_streaming (item);
  gboolean user = tern_message_item_get_role (item) == TERN_ROLE_USER;
  gint n = tern_message_item_get_n_branches (item), i = tern_message_item_get_branch_index (item);
  gint n_read, n_total;
  gboolean reading = tern_message_item_get_reading (item, &n_read, &n_total);
  g_autofree char *note = NULL;
  const char *description = NULL;

  if (reading && n_total > 0)
    note = g_strdup_printf (_("Reading… %d of %d tokens"), n_read, n_total);
  else if (reading)
    note = g_strdup (_("Reading your message…"));
  else if (streaming)
    note = g_strdup (_("Writing…"));
  else if (tern_message_item_get_stopped (item))
    {
      note = g_strdup (_("Stopped"));
      description = _("The reply was stopped before its end");
    }
  else if (!tern_message_item_get_complete (item))
    note = g_strdup (_("Interrupted"));
  gtk_label_set_label (self->note_label, note ? note : "");
  gtk_widget_set_visible (GTK_WIDGET (self->note_label), note != NULL);
  gtk_progress_bar_set_fraction (self->reading_bar, n_total > 0 ? (double) n_read / n_total : 0.0);
  gtk_widget_set_visible (GTK_WIDGET (self->reading_bar), reading);
  gtk_widget_set_visible (GTK_WIDGET (self->bubble), !reading);
  if (note)
    gtk_accessible_update_property (GTK_ACCESSIBLE (self), GTK_ACCESSIBLE_PROPERTY_DESCRIPTION,
                                    description ? description : note, -1);
  else
    gtk_accessible_reset_property (GTK_ACCESSIBLE (self), GTK_ACCESSIBLE_PROPERTY_DESCRIPTION);

  /* Nothing can be done with a reply until it is whole. */
  gtk_widget_set_visible (self->actions, !streaming);
  gtk_widget_set_visible (self->edit_button, user);
  gtk_widget_set_visible (self->regenerate_button, !user && is_last (self));
  gtk_widget_set_visible (self->branch_box, n > 1);
  g_autofree char *branch = g_strdup_printf ("%d / %d", i + 1, n);
  gtk_label_set_label (self->branch_label, branch);
  g_autofree char *branch_name = g_strdup_printf (_("Branch %d of %d"), i + 1, n);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->branch_label), GTK_ACCESSIBLE_PROPERTY_LABEL, branch_name, -1);
  gtk_widget_set_sensitive (self->previous_button, i > 0);
  gtk_widget_set_sensitive (self->next_button, i + 1 < n);
}

static void
on_content (TernMessageItem *item, GParamSpec *pspec, TernMessageRow *self)
{
  update_content (self);
}

/* Streaming ended, the reading advanced, or the branches or completeness
 * changed. */
static void
on_streaming (TernMessageItem *item, GParamSpec *pspec, TernMessageRow *self)
{
  update_state (self);
}

static void
on_list_changed (GListModel *list, guint position, guint removed, guint added, TernMessageRow *self)
{
  update_state (self);
}

void
tern_message_row_bind (TernMessageRow *self, TernMessageItem *item, GListModel *list)
{
  g_return_if_fail (TERN_IS_MESSAGE_ROW (self));
  g_return_if_fail (TERN_IS_MESSAGE_ITEM (item));
  g_return_if_fail (G_IS_LIST_MODEL (list));

  tern_message_row_unbind (self);
  self->item = g_object_ref (item);
  self->list = g_object_ref (list);
  self->list_handler = g_signal_connect (list, "items-changed", G_CALLBACK (on_list_changed), self);
  self->content_handler = g_signal_connect (item, "notify::content", G_CALLBACK (on_content), self);
  self->streaming_handler = g_signal_connect (item, "notify::streaming", G_CALLBACK (on_streaming), self);
  self->branches_handler = g_signal_connect (item, "notify::n-branches", G_CALLBACK (on_streaming), self);
  self->highlight_handler = g_signal_connect_swapped (item, "notify::highlight", G_CALLBACK (update_highlight), self);
  self->reading_handler = g_signal_connect (item, "notify::reading", G_CALLBACK (on_streaming), self);

  gboolean user = tern_message_item_get_role (item) == TERN_ROLE_USER;
  gtk_label_set_label (self->role_label, user ? _("You") : _("Assistant"));
  if (user)
    gtk_widget_add_css_class (GTK_WIDGET (self), "user-message");
  else
    gtk_widget_remove_css_class (GTK_WIDGET (self), "user-message");
  GVariant *id = g_variant_new_int64 (tern_message_item_get_id (item));
  g_variant_ref_sink (id);
  /* The target first: an action with a parameter rejects a button without one. */
  gtk_actionable_set_action_target_value (GTK_ACTIONABLE (self->copy_button), id);
  gtk_actionable_set_action_name (GTK_ACTIONABLE (self->copy_button), "win.copy-message");
  gtk_actionable_set_action_target_value (GTK_ACTIONABLE (self->edit_button), id);
  gtk_actionable_set_action_name (GTK_ACTIONABLE (self->edit_button), "win.edit-message");
  gtk_actionable_set_action_target_value (GTK_ACTIONABLE (self->previous_button), id);
  gtk_actionable_set_action_name (GTK_ACTIONABLE (self->previous_button), "win.previous-branch");
  gtk_actionable_set_action_target_value (GTK_ACTIONABLE (self->next_button), id);
  gtk_actionable_set_action_name (GTK_ACTIONABLE (self->next_button), "win.next-branch");
  g_variant_unref (id);
  update_content (self);
  update_highlight (self);
  update_state (self);
}

void
tern_message_row_unbind (TernMessageRow *self)
{
  g_return_if_fail (TERN_IS_MESSAGE_ROW (self));

  if (self->item == NULL)
    return;
  g_clear_signal_handler (&self->content_handler, self->item);
  g_clear_signal_handler (&self->streaming_handler, self->item);
  g_clear_signal_handler (&self->branches_handler, self->item);
  g_clear_signal_handler (&self->highlight_handler, self->item);
  g_clear_signal_handler (&self->reading_handler, self->item);
  g_clear_signal_handler (&self->list_handler, self->list);
  g_clear_object (&self->item);
  g_clear_object (&self->list);
}

static void
tern_message_row_dispose (GObject *object)
{
  TernMessageRow *self = TERN_MESSAGE_ROW (object);

  GtkWidget *child;

  tern_message_row_unbind (self);
  while ((child = gtk_widget_get_first_child (GTK_WIDGET (self))))
    gtk_widget_unparent (child);
  G_OBJECT_CLASS (tern_message_row_parent_class)->dispose (object);
}

static void
tern_message_row_class_init (TernMessageRowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = tern_message_row_dispose;
  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BOX_LAYOUT);
  gtk_widget_class_set_accessible_role (widget_class, GTK_ACCESSIBLE_ROLE_GROUP);
}

static GtkWidget *
action_button (GtkWidget *box, const char *icon, const char *tooltip)
{
  GtkWidget *button = gtk_button_new_from_icon_name (icon);

  gtk_widget_set_tooltip_text (button, tooltip);
  /* GTK 4.8 does not name a button for screen readers by its tooltip. */
  gtk_accessible_update_property (GTK_ACCESSIBLE (button), GTK_ACCESSIBLE_PROPERTY_LABEL, tooltip, -1);
  gtk_widget_add_css_class (button, "flat");
  gtk_box_append (GTK_BOX (box), button);
  return button;
}

/* Built in code, not from a template: a long conversation makes a row
 * per message at once, and parsing a template for each costs more than
 * the rest of the row. */
static void
tern_message_row_init (TernMessageRow *self)
{
  GtkWidget *widget = GTK_WIDGET (self);
  GtkWidget *header = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 6);

  gtk_orientable_set_orientation (GTK_ORIENTABLE (gtk_widget_get_layout_manager (widget)), GTK_ORIENTATION_VERTICAL);
  gtk_box_layout_set_spacing (GTK_BOX_LAYOUT (gtk_widget_get_layout_manager (widget)), 4);
  gtk_widget_set_margin_start (widget, 12);
  gtk_widget_set_margin_end (widget, 12);
  gtk_widget_set_margin_top (widget, 6);
  gtk_widget_set_margin_bottom (widget, 6);

  self->role_label = GTK_LABEL (gtk_label_new (NULL));
  gtk_label_set_xalign (self->role_label, 0);
  gtk_widget_add_css_class (GTK_WIDGET (self->role_label), "heading");
  gtk_box_append (GTK_BOX (header), GTK_WIDGET (self->role_label));
  self->note_label = GTK_LABEL (gtk_label_new (NULL));
  gtk_label_set_xalign (self->note_label, 0);
  gtk_widget_set_visible (GTK_WIDGET (self->note_label), FALSE);
  gtk_widget_add_css_class (GTK_WIDGET (self->note_label), "dim-label");
  gtk_widget_add_css_class (GTK_WIDGET (self->note_label), "caption");
  gtk_box_append (GTK_BOX (header), GTK_WIDGET (self->note_label));
  gtk_widget_set_parent (header, widget);

  /* How much of the message the engine has read, before the reply starts. */
  self->reading_bar = GTK_PROGRESS_BAR (gtk_progress_bar_new ());
  gtk_widget_set_visible (GTK_WIDGET (self->reading_bar), FALSE);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->reading_bar), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  _("Reading your message"), -1);
  gtk_widget_set_parent (GTK_WIDGET (self->reading_bar), widget);

  self->bubble = GTK_BOX (gtk_box_new (GTK_ORIENTATION_VERTICAL, 0));
  gtk_widget_add_css_class (GTK_WIDGET (self->bubble), "message-bubble");
  self->markdown = tern_markdown_view_new ();
  gtk_box_append (self->bubble, self->markdown);
  gtk_widget_set_parent (GTK_WIDGET (self->bubble), widget);

  self->actions = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 2);
  self->copy_button = action_button (self->actions, "edit-copy-symbolic", _("Copy Message"));
  self->edit_button = action_button (self->actions, "document-edit-symbolic", _("Edit and Resend"));
  self->regenerate_button = action_button (self->actions, "view-refresh-symbolic", _("Regenerate Reply"));
  gtk_actionable_set_action_name (GTK_ACTIONABLE (self->regenerate_button), "win.regenerate");
  self->branch_box = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 2);
  self->previous_button = action_button (self->branch_box, "go-previous-symbolic", _("Previous Branch"));
  self->branch_label = GTK_LABEL (gtk_label_new (NULL));
  gtk_widget_add_css_class (GTK_WIDGET (self->branch_label), "dim-label");
  gtk_widget_add_css_class (GTK_WIDGET (self->branch_label), "numeric");
  gtk_box_append (GTK_BOX (self->branch_box), GTK_WIDGET (self->branch_label));
  self->next_button = action_button (self->branch_box, "go-next-symbolic", _("Next Branch"));
  gtk_box_append (GTK_BOX (self->actions), self->branch_box);
  gtk_widget_set_parent (self->actions, widget);
}

GtkWidget *
tern_message_row_new (void)
{
  return g_object_new (TERN_TYPE_MESSAGE_ROW, NULL);
}
