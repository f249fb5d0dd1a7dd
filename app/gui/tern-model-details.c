/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "tern-model-details.h"

#include <glib/gi18n.h>
#include <json-glib/json-glib.h>
#include <tern/model-identity.h>

#include "tern-compress-dialog.h"

struct _TernModelDetails
{
  AdwPreferencesWindow parent_instance;

  AdwPreferencesGroup *model_group;
  AdwPreferencesGroup *file_group;
  AdwPreferencesGroup *library_group;
  GtkLabel *status_label;

  TernService *service;
  GCancellable *cancellable; /* cancelled when the dialog goes */
  int status;                /* TernModelStatus, -1: not known yet */
};

G_DEFINE_FINAL_TYPE (TernModelDetails, tern_model_details, ADW_TYPE_PREFERENCES_WINDOW)

enum {
  PROP_0,
  PROP_STATUS,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

/* ---- Text ---- */

char *
tern_format_parameters (gint64 n_params)
{
  static const struct {
    double scale;
    const char *unit;
  } units[] = { { 1e12, "T" }, { 1e9, "B" }, { 1e6, "M" }, { 1e3, "K" } };

  for (gsize i = 0; i < G_N_ELEMENTS (units); i++)
    {
      double value = n_params / units[i].scale;

      /* 999.6 M reads as "1.0 B", not "1000 M". */
      if (value < 0.9995)
        continue;
      /* Two or three significant digits: "1.1 B", "15 M", "135 M". */
      return value < 9.95 ? g_strdup_printf ("%.1f %s", value, units[i].unit)
                          : g_strdup_printf ("%.0f %s", value, units[i].unit);
    }
  return g_strdup_printf ("%" G_GINT64_FORMAT, n_params);
}

char *
tern_main_tensor_type (const char *tensor_types)
{
  if (tensor_types == NULL)
    return g_strdup (_("unknown"));
  while (*tensor_types == ' ')
    tensor_types++;
  gsize len = strcspn (tensor_types, " ,");
  return len > 0 ? g_strndup (tensor_types, len) : g_strdup (_("unknown"));
}

char *
tern_model_label (const TernStoreModel *model)
{
  g_autofree char *type = tern_main_tensor_type (model->tensor_types);
  g_autofree char *upper = g_ascii_strup (type, -1);
  g_autofree char *size = g_format_size (model->identity.size);

  return g_strdup_printf ("%s · %s · %s", model->name, upper, size);
}

const char *
tern_model_status_problem (TernModelStatus status)
{
  switch (status)
    {
    case TERN_MODEL_MISSING:
      return _("File missing");
    case TERN_MODEL_CHANGED:
      return _("File changed since it was added");
    case TERN_MODEL_OK:
    default:
      return NULL;
    }
}

static char *
format_time (gint64 us, const char *none)
{
  if (us == 0)
    return g_strdup (none);
  g_autoptr (GDateTime) time = g_date_time_new_from_unix_local (us / G_USEC_PER_SEC);
  /* The locale's date and time ("%c" gives C's "Mon Dec  7 06:44:17 2026"
   * in many locales). */
  return time ? g_date_time_format (time, "%x %X") : g_strdup (none);
}

/* ---- Rows ---- */

static void
copy_clicked (GtkButton *button, TernModelDetails *self)
{
  const char *text = g_object_get_data (G_OBJECT (button), "tern-text");

  gdk_clipboard_set_text (gtk_widget_get_clipboard (GTK_WIDGET (button)), text);
  adw_preferences_window_add_toast (ADW_PREFERENCES_WINDOW (self), adw_toast_new (_("Copied")));
}

/* Adds a property row titled @title showing @value on one line: a
 * selectable label, ellipsized in the middle when it does not fit (a path
 * keeps its start and its file name), the whole text in its tooltip, and a
 * copy button when @copy_label is given (its accessible name); returns the
 * label. */
static GtkLabel *
add_row (TernModelDetails *self, AdwPreferencesGroup *group, const char *title, const char *value,
         const char *copy_label)
{
  GtkWidget *row = adw_action_row_new ();
  GtkWidget *label = gtk_label_new (value);

  adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (row), FALSE);
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), title);
  gtk_widget_add_css_class (row, "property");
  /* A label rather than the subtitle: libadwaita 1.2 rows have no
   * selectable subtitles, and a path or a hash is worth copying. Never
   * wrapped: wrapping broke names and paths mid-word ("lla-ma"). */
  gtk_label_set_selectable (GTK_LABEL (label), TRUE);
  gtk_label_set_wrap (GTK_LABEL (label), FALSE);
  gtk_label_set_single_line_mode (GTK_LABEL (label), TRUE);
  gtk_label_set_ellipsize (GTK_LABEL (label), PANGO_ELLIPSIZE_MIDDLE);
  gtk_label_set_width_chars (GTK_LABEL (label), 8);
  gtk_label_set_xalign (GTK_LABEL (label), 1);
  gtk_widget_set_hexpand (label, TRUE);
  gtk_widget_set_tooltip_text (label, value);
  gtk_widget_set_valign (label, GTK_ALIGN_CENTER);
  /* Read as "value, title" when focused. */
  gtk_accessible_update_property (GTK_ACCESSIBLE (label), GTK_ACCESSIBLE_PROPERTY_DESCRIPTION, title, -1);
  adw_action_row_add_suffix (ADW_ACTION_ROW (row), label);
  if (copy_label != NULL)
    {
      GtkWidget *copy = gtk_button_new_from_icon_name ("edit-copy-symbolic");

      gtk_widget_set_valign (copy, GTK_ALIGN_CENTER);
      gtk_widget_add_css_class (copy, "flat");
      gtk_widget_set_tooltip_text (copy, copy_label);
      gtk_accessible_update_property (GTK_ACCESSIBLE (copy), GTK_ACCESSIBLE_PROPERTY_LABEL, copy_label, -1);
      g_object_set_data_full (G_OBJECT (copy), "tern-text", g_strdup (value), g_free);
      g_signal_connect (copy, "clicked", G_CALLBACK (copy_clicked), self);
      adw_action_row_add_suffix (ADW_ACTION_ROW (row), copy);
    }
  adw_preferences_group_add (group, row);
  return GTK_LABEL (label);
}

static void
show_status (TernModelDetails *self, int status, const char *failure)
{
  const char *problem = status >= 0 ? tern_model_status_problem (status) : NULL;
  g_autofree char *text = failure ? g_strdup_printf (_("Could not check the file: %s"), failure)
                                  : g_strdup (problem ? problem : _("Ready"));

  gtk_label_set_text (self->status_label, text);
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->status_label), text);
  if (problem != NULL || failure != NULL)
    gtk_widget_add_css_class (GTK_WIDGET (self->status_label), "warning");
  else
    gtk_widget_remove_css_class (GTK_WIDGET (self->status_label), "warning");
  if (status != self->status)
    {
      self->status = status;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATUS]);
    }
}

typedef struct {
  TernModelDetails *self;    /* not a reference: valid while cancellable is not cancelled */
  GCancellable *cancellable; /* the dialog's */
} Check;

static void
got_status (GObject *source, GAsyncResult *result, gpointer data)
{
  Check *check = data;
  g_autoptr (GError) error = NULL;
  int status = tern_service_check_model_finish (TERN_SERVICE (source), result, &error);

  if (!g_cancellable_is_cancelled (check->cancellable))
    show_status (check->self, status, status < 0 ? error->message : NULL);
  g_object_unref (check->cancellable);
  g_free (check);
}

/* A compressed model's report, and the model it was made from. */
static void
add_compression (TernModelDetails *self, const TernStoreModel *model)
{
  GtkWidget *page = gtk_widget_get_ancestor (GTK_WIDGET (self->model_group), ADW_TYPE_PREFERENCES_PAGE);
  AdwPreferencesGroup *group = ADW_PREFERENCES_GROUP (adw_preferences_group_new ());
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autofree char *from = NULL;

  if (model->compression_report == NULL || page == NULL ||
      !json_parser_load_from_data (parser, model->compression_report, -1, NULL) ||
      !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    return;
  const char *input = json_object_get_string_member_with_default (
      json_node_get_object (json_parser_get_root (parser)), "input", NULL);
  g_autofree char *base = input ? g_path_get_basename (input) : g_strdup (_("Unknown"));
  from = model->compressed_from ? g_strdup (base) : g_strdup_printf (_("%s (no longer in the library)"), base);
  adw_preferences_group_set_title (group, _("Compression"));
  add_row (self, group, _("Made From"), from, NULL);
  tern_compress_report_add_rows (group, model->compression_report);
  adw_preferences_page_add (ADW_PREFERENCES_PAGE (page), group);
}

/* ---- The object ---- */

GtkWidget *
tern_model_details_new (GtkWindow *parent, TernService *service, const TernStoreModel *model)
{
  g_return_val_if_fail (parent == NULL || GTK_IS_WINDOW (parent), NULL);
  g_return_val_if_fail (TERN_IS_SERVICE (service), NULL);
  g_return_val_if_fail (model != NULL, NULL);

  TernModelDetails *self = g_object_new (TERN_TYPE_MODEL_DETAILS, "transient-for", parent, NULL);
  g_autofree char *params_short = tern_format_parameters (model->n_params);
  g_autofree char *params = g_strdup_printf ("%s (%'" G_GINT64_FORMAT ")", params_short, model->n_params);
  g_autofree char *size = g_format_size_full (model->identity.size, G_FORMAT_SIZE_LONG_FORMAT);
  g_autofree char *context = model->n_ctx_train > 0 ? g_strdup_printf (_("%'d tokens"), model->n_ctx_train)
                                                    : g_strdup (_("Not stated in the file"));
  g_autofree char *modified = format_time (model->identity.mtime_us, _("Unknown"));
  g_autofree char *added = format_time (model->added_at, _("Unknown"));
  g_autofree char *used = format_time (model->last_used_at, _("Never"));
  g_autofree char *hash = tern_model_identity_hash_hex (&model->identity);
  const char *types = model->tensor_types && model->tensor_types[0] ? model->tensor_types : _("Unknown");
  const char *arch = model->arch && model->arch[0] ? model->arch : _("Unknown");
  Check *check = g_new (Check, 1);

  self->service = g_object_ref (service);
  gtk_window_set_title (GTK_WINDOW (self), model->name);

  add_row (self, self->model_group, _("Name"), model->name, NULL);
  add_row (self, self->model_group, _("Architecture"), arch, NULL);
  add_row (self, self->model_group, _("Parameters"), params, NULL);
  add_row (self, self->model_group, _("Tensor Types (by count)"), types, NULL);
  add_row (self, self->model_group, _("Context Length"), context, NULL);

  add_row (self, self->file_group, _("Location"), model->path, _("Copy Location"));
  self->status_label = add_row (self, self->file_group, _("Status"), _("Checking…"), NULL);
  add_row (self, self->file_group, _("Size"), size, NULL);
  add_row (self, self->file_group, _("Modified (when added)"), modified, NULL);
  gtk_widget_add_css_class (
      GTK_WIDGET (add_row (self, self->file_group, _("Header SHA-256"), hash, _("Copy Header SHA-256"))),
      "monospace");

  add_row (self, self->library_group, _("Added"), added, NULL);
  add_row (self, self->library_group, _("Last Used"), used, NULL);
  add_compression (self, model);

  /* Checked now: the status the library page showed may be old. */
  check->self = self;
  check->cancellable = g_object_ref (self->cancellable);
  tern_service_check_model (service, model->id, self->cancellable, got_status, check);
  return GTK_WIDGET (self);
}

int
tern_model_details_get_status (TernModelDetails *self)
{
  g_return_val_if_fail (TERN_IS_MODEL_DETAILS (self), -1);
  return self->status;
}

static void
tern_model_details_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  TernModelDetails *self = TERN_MODEL_DETAILS (object);

  switch (prop_id)
    {
    case PROP_STATUS:
      g_value_set_int (value, self->status);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
tern_model_details_dispose (GObject *object)
{
  TernModelDetails *self = TERN_MODEL_DETAILS (object);

  /* A check still running answers into nothing. */
  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->service);
  G_OBJECT_CLASS (tern_model_details_parent_class)->dispose (object);
}

static void
tern_model_details_finalize (GObject *object)
{
  TernModelDetails *self = TERN_MODEL_DETAILS (object);

  g_clear_object (&self->cancellable);
  G_OBJECT_CLASS (tern_model_details_parent_class)->finalize (object);
}

static void
tern_model_details_class_init (TernModelDetailsClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->get_property = tern_model_details_get_property;
  object_class->dispose = tern_model_details_dispose;
  object_class->finalize = tern_model_details_finalize;

  properties[PROP_STATUS] = g_param_spec_int ("status", NULL, NULL, -1, TERN_MODEL_CHANGED, -1,
                                              G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  gtk_widget_class_set_template_from_resource (widget_class, "/io/github/ternapp/Tern/ui/tern-model-details.ui");
  gtk_widget_class_bind_template_child (widget_class, TernModelDetails, model_group);
  gtk_widget_class_bind_template_child (widget_class, TernModelDetails, file_group);
  gtk_widget_class_bind_template_child (widget_class, TernModelDetails, library_group);
}

static void
tern_model_details_init (TernModelDetails *self)
{
  self->status = -1;
  self->cancellable = g_cancellable_new ();
  gtk_widget_init_template (GTK_WIDGET (self));
}
