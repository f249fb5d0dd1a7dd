/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "tern-model-details.h"

#include <glib/gi18n.h>

char *
tern_format_parameters (gint64 n_params)
{
  if (n_params >= 1000000000)
    return g_strdup_printf ("%.1f B", n_params / 1e9);
  if (n_params >= 1000000)
    return g_strdup_printf ("%.1f M", n_params / 1e6);
  if (n_params >= 1000)
    return g_strdup_printf ("%.1f K", n_params / 1e3);
  return g_strdup_printf ("%" G_GINT64_FORMAT, n_params);
}

char *
tern_main_tensor_type (const char *tensor_types)
{
  const char *end = tensor_types ? strchr (tensor_types, ' ') : NULL;

  if (tensor_types == NULL || tensor_types[0] == '\0')
    return g_strdup (_("unknown"));
  return end ? g_strndup (tensor_types, end - tensor_types) : g_strdup (tensor_types);
}

static char *
format_time (gint64 us)
{
  if (us == 0)
    return g_strdup (_("Never"));
  g_autoptr (GDateTime) t = g_date_time_new_from_unix_local (us / G_USEC_PER_SEC);
  return g_date_time_format (t, "%x %X");
}

static void
add_row (AdwPreferencesGroup *group, const char *title, const char *value)
{
  GtkWidget *row = adw_action_row_new ();
  GtkWidget *label = gtk_label_new (value);

  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), title);
  /* A label of its own, so a path or a hash can be selected and copied. */
  gtk_label_set_selectable (GTK_LABEL (label), TRUE);
  gtk_label_set_wrap (GTK_LABEL (label), TRUE);
  gtk_label_set_wrap_mode (GTK_LABEL (label), PANGO_WRAP_WORD_CHAR);
  gtk_label_set_xalign (GTK_LABEL (label), 1);
  gtk_label_set_max_width_chars (GTK_LABEL (label), 40);
  gtk_widget_add_css_class (label, "dim-label");
  gtk_accessible_update_property (GTK_ACCESSIBLE (label), GTK_ACCESSIBLE_PROPERTY_LABEL, title, -1);
  adw_action_row_add_suffix (ADW_ACTION_ROW (row), label);
  adw_preferences_group_add (group, row);
}

GtkWidget *
tern_model_details_new (GtkWindow *parent, const TernStoreModel *model, TernModelStatus status)
{
  GtkWidget *window = adw_preferences_window_new ();
  GtkWidget *page = adw_preferences_page_new ();
  AdwPreferencesGroup *group = ADW_PREFERENCES_GROUP (adw_preferences_group_new ());
  g_autofree char *params = tern_format_parameters (model->n_params);
  g_autofree char *size = g_format_size_full (model->identity.size, G_FORMAT_SIZE_LONG_FORMAT);
  g_autofree char *ctx = model->n_ctx_train ? g_strdup_printf (_("%d tokens"), model->n_ctx_train)
                                            : g_strdup (_("Not stated in the file"));
  g_autofree char *added = format_time (model->added_at);
  g_autofree char *used = format_time (model->last_used_at);
  g_autofree char *hash = tern_model_identity_hash_hex (&model->identity);
  const char *state = status == TERN_MODEL_OK        ? _("The file is the one added")
                      : status == TERN_MODEL_MISSING ? _("The file is missing")
                                                     : _("The file changed since it was added");

  gtk_window_set_title (GTK_WINDOW (window), model->name);
  gtk_window_set_transient_for (GTK_WINDOW (window), parent);
  gtk_window_set_modal (GTK_WINDOW (window), TRUE);
  gtk_window_set_default_size (GTK_WINDOW (window), 560, 640);
  adw_preferences_window_set_search_enabled (ADW_PREFERENCES_WINDOW (window), FALSE);
  adw_preferences_group_set_title (group, model->name);
  add_row (group, _("File"), model->path);
  add_row (group, _("Status"), state);
  add_row (group, _("Architecture"), model->arch);
  add_row (group, _("Parameters"), params);
  add_row (group, _("Tensor types"), model->tensor_types);
  add_row (group, _("Size"), size);
  add_row (group, _("Context length"), ctx);
  add_row (group, _("Added"), added);
  add_row (group, _("Last used"), used);
  add_row (group, _("Header SHA-256"), hash);
  adw_preferences_page_add (ADW_PREFERENCES_PAGE (page), group);
  adw_preferences_window_add (ADW_PREFERENCES_WINDOW (window), ADW_PREFERENCES_PAGE (page));
  return window;
}
