/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "tern-accessible.h"

#include <adwaita.h>
#include <glib/gi18n.h>

/* GtkButton sets its raw label ("_Use") as the accessible label, beside
 * the relation to the label it shows ("Use"); the relation alone reads
 * right. */
static void
drop_raw_label (GtkButton *button)
{
  if (gtk_button_get_use_underline (button) && gtk_button_get_label (button) != NULL)
    gtk_accessible_reset_property (GTK_ACCESSIBLE (button), GTK_ACCESSIBLE_PROPERTY_LABEL);
}

static gboolean
has_name (GtkWidget *widget)
{
  return gtk_test_accessible_has_property (GTK_ACCESSIBLE (widget), GTK_ACCESSIBLE_PROPERTY_LABEL)
         || gtk_test_accessible_has_relation (GTK_ACCESSIBLE (widget), GTK_ACCESSIBLE_RELATION_LABELLED_BY);
}

static void
set_name (GtkWidget *widget, const char *name)
{
  if (name != NULL && name[0] != '\0')
    gtk_accessible_update_property (GTK_ACCESSIBLE (widget), GTK_ACCESSIBLE_PROPERTY_LABEL, name, -1);
}

/* A name for a button that has none: its tooltip, or that of the
 * drop-down or menu button it is part of, or what its icon says. */
static void
name_button (GtkWidget *button)
{
  GtkWidget *parent = gtk_widget_get_parent (button);
  GtkWidget *child = GTK_IS_BUTTON (button) ? gtk_button_get_child (GTK_BUTTON (button)) : NULL;
  const char *name = gtk_widget_get_tooltip_text (button);

  if (name == NULL && (GTK_IS_DROP_DOWN (parent) || GTK_IS_MENU_BUTTON (parent)))
    name = gtk_widget_get_tooltip_text (parent);
  if (name == NULL && GTK_IS_IMAGE (child) && g_strcmp0 (gtk_image_get_icon_name (GTK_IMAGE (child)),
                                                          "edit-find-symbolic") == 0)
    name = _("Search");
  /* A toast's dismiss button. */
  if (name == NULL && GTK_IS_IMAGE (child) && g_strcmp0 (gtk_image_get_icon_name (GTK_IMAGE (child)),
                                                          "window-close-symbolic") == 0)
    name = _("Close");
  if (name == NULL && gtk_widget_get_ancestor (button, GTK_TYPE_SHORTCUTS_WINDOW) != NULL)
    name = GTK_IS_MENU_BUTTON (button) || GTK_IS_MENU_BUTTON (parent) ? _("Sections") : NULL;
  set_name (button, name);
}

/* A list without a name takes that of the row or group it is in. */
static void
name_list (GtkWidget *list)
{
  GtkWidget *combo = gtk_widget_get_ancestor (list, ADW_TYPE_COMBO_ROW);
  GtkWidget *group = gtk_widget_get_ancestor (list, ADW_TYPE_PREFERENCES_GROUP);
  GtkWidget *page = gtk_widget_get_ancestor (list, ADW_TYPE_PREFERENCES_PAGE);
  const char *name = NULL;

  if (combo != NULL)
    name = adw_preferences_row_get_title (ADW_PREFERENCES_ROW (combo));
  if ((name == NULL || name[0] == '\0') && group != NULL)
    name = adw_preferences_group_get_title (ADW_PREFERENCES_GROUP (group));
  if ((name == NULL || name[0] == '\0') && page != NULL)
    name = adw_preferences_page_get_title (ADW_PREFERENCES_PAGE (page));
  /* Outside its groups, a preferences window's only list is its search's. */
  if ((name == NULL || name[0] == '\0') && gtk_widget_get_ancestor (list, ADW_TYPE_PREFERENCES_WINDOW) != NULL)
    name = _("Search Results");
  set_name (list, name);
}

static void
fix_widget (GtkWidget *widget)
{
  if (GTK_IS_BUTTON (widget) && gtk_button_get_use_underline (GTK_BUTTON (widget)))
    {
      drop_raw_label (GTK_BUTTON (widget));
      if (g_object_get_data (G_OBJECT (widget), "tern-raw-label-dropped") == NULL)
        {
          g_object_set_data (G_OBJECT (widget), "tern-raw-label-dropped", GINT_TO_POINTER (TRUE));
          g_signal_connect_after (widget, "notify::label", G_CALLBACK (drop_raw_label), NULL);
        }
    }
  else if (GTK_IS_BUTTON (widget) && GTK_IS_IMAGE (gtk_button_get_child (GTK_BUTTON (widget)))
           && !gtk_test_accessible_has_property (GTK_ACCESSIBLE (widget), GTK_ACCESSIBLE_PROPERTY_LABEL))
    /* An icon button is named after its icon, which is hidden below. */
    name_button (widget);
  else if ((GTK_IS_BUTTON (widget) || GTK_IS_MENU_BUTTON (widget)) && !has_name (widget))
    name_button (widget);
  else if ((GTK_IS_LIST_BOX (widget) || GTK_IS_LIST_VIEW (widget)) && !has_name (widget))
    name_list (widget);
  else if (ADW_IS_VIEW_SWITCHER (widget))
    set_name (widget, _("Pages"));
  else if (GTK_IS_IMAGE (widget) && !has_name (widget))
    /* An icon without a name is decoration beside a text that says it. */
    gtk_accessible_update_state (GTK_ACCESSIBLE (widget), GTK_ACCESSIBLE_STATE_HIDDEN, TRUE, -1);
  else if (GTK_IS_SEARCH_ENTRY (widget) && !has_name (widget))
    set_name (widget, _("Search"));
}

void
tern_accessible_fix_names (GtkWidget *root)
{
  GPtrArray *stack = g_ptr_array_new ();

  /* Iterative: pages nest deeply. */
  g_ptr_array_add (stack, root);
  while (stack->len > 0)
    {
      GtkWidget *widget = g_ptr_array_steal_index_fast (stack, stack->len - 1);

      fix_widget (widget);
      for (GtkWidget *child = gtk_widget_get_first_child (widget); child != NULL;
           child = gtk_widget_get_next_sibling (child))
        g_ptr_array_add (stack, child);
    }
  g_ptr_array_unref (stack);
}

static void
update_revealer (GtkRevealer *revealer)
{
  gboolean shown = gtk_revealer_get_reveal_child (revealer) || gtk_revealer_get_child_revealed (revealer);

  gtk_accessible_update_state (GTK_ACCESSIBLE (revealer), GTK_ACCESSIBLE_STATE_HIDDEN, !shown, -1);
}

void
tern_accessible_follow_revealer (GtkRevealer *revealer)
{
  g_signal_connect (revealer, "notify::reveal-child", G_CALLBACK (update_revealer), NULL);
  g_signal_connect (revealer, "notify::child-revealed", G_CALLBACK (update_revealer), NULL);
  update_revealer (revealer);
}

static void
on_window_map (GtkWidget *window)
{
  tern_accessible_fix_names (window);
}

static void
on_toplevels_changed (GListModel *toplevels, guint position, guint removed, guint added)
{
  for (guint i = position; i < position + added; i++)
    {
      g_autoptr (GObject) window = g_list_model_get_item (toplevels, i);

      if (g_object_get_data (window, "tern-names-watched") != NULL)
        continue;
      g_object_set_data (window, "tern-names-watched", GINT_TO_POINTER (TRUE));
      g_signal_connect (window, "map", G_CALLBACK (on_window_map), NULL);
    }
}

void
tern_accessible_watch_windows (void)
{
  static gboolean watching;
  GListModel *toplevels = gtk_window_get_toplevels ();

  if (watching)
    return;
  watching = TRUE;
  g_signal_connect (toplevels, "items-changed", G_CALLBACK (on_toplevels_changed), NULL);
  on_toplevels_changed (toplevels, 0, 0, g_list_model_get_n_items (toplevels));
}
