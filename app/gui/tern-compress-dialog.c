/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "tern-compress-dialog.h"

#include <glib/gi18n.h>
#include <json-glib/json-glib.h>

#include "tern-accessible.h"

/* The presets, in the order the preset row lists them. */
static const struct {
  const char *name;
  TernType type;
} presets[] = {
  { N_("Balanced"), TERN_TYPE_TQ2_0 },
  { N_("Smallest"), TERN_TYPE_TQ1_0 },
};

/* The types the details row lists. */
static const TernType types[] = { TERN_TYPE_TQ2_0, TERN_TYPE_TQ1_0 };

struct _TernCompressDialog {
  AdwWindow parent_instance;

  TernService *service;
  gint64 model_id;
  gint64 new_id;          /* the model made, 0 until then */
  GCancellable *cancellable; /* the running compression's, NULL when none */
  gboolean closing;       /* closed while running: gone once it stops */

  AdwComboRow *preset_row, *type_row, *method_row;
  AdwActionRow *size_row, *calibration_row;
  GtkSpinButton *size_spin;  /* percent of the original's size; 0: no target */
  GtkWidget *calibration_button;
  guint64 original_size;
  char *calibration_path;    /* the user's text, or NULL for the bundled one */
  AdwPreferencesGroup *progress_group;
  AdwActionRow *phase_row;
  GtkProgressBar *bar;
  GtkLabel *outcome;
  AdwPreferencesGroup *report_group;
  GtkWidget *start_button, *stop_button, *use_button;
};

G_DEFINE_FINAL_TYPE (TernCompressDialog, tern_compress_dialog, ADW_TYPE_WINDOW)

enum { SIGNAL_COMPRESSED, SIGNAL_USE, N_SIGNALS };
static guint signals[N_SIGNALS];

/* ---- The report ---- */

static void
add_value_row (AdwPreferencesGroup *group, const char *title, const char *value)
{
  GtkWidget *row = adw_action_row_new ();
  GtkWidget *label = gtk_label_new (value);

  adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (row), FALSE);
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), title);
  gtk_label_set_selectable (GTK_LABEL (label), TRUE);
  gtk_label_set_wrap (GTK_LABEL (label), TRUE);
  gtk_label_set_xalign (GTK_LABEL (label), 1);
  gtk_widget_add_css_class (label, "dim-label");
  gtk_accessible_update_property (GTK_ACCESSIBLE (label), GTK_ACCESSIBLE_PROPERTY_LABEL, title, -1);
  gtk_accessible_update_property (GTK_ACCESSIBLE (row), GTK_ACCESSIBLE_PROPERTY_DESCRIPTION, value, -1);
  adw_action_row_add_suffix (ADW_ACTION_ROW (row), label);
  adw_preferences_group_add (group, row);
}

static gboolean
get_number (JsonObject *o, const char *name, double *out)
{
  JsonNode *node = json_object_get_member (o, name);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) == G_TYPE_STRING ||
      json_node_get_value_type (node) == G_TYPE_BOOLEAN)
    return FALSE;
  *out = json_node_get_double (node);
  return TRUE;
}

static const char *
get_text (JsonObject *o, const char *name)
{
  JsonNode *node = json_object_get_member (o, name);

  return node && JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_STRING
             ? json_node_get_string (node)
             : NULL;
}

/* A "before → after" row from two numbers of the report, when present. */
static void
add_before_after (AdwPreferencesGroup *group, JsonObject *o, const char *title, const char *before_name,
                  const char *after_name, const char *format)
{
  double before, after;

  if (!get_number (o, before_name, &before) || !get_number (o, after_name, &after))
    return;
  g_autofree char *b = g_strdup_printf (format, before);
  g_autofree char *a = g_strdup_printf (format, after);
  g_autofree char *value = g_strdup_printf (_("%s → %s"), b, a);
  add_value_row (group, title, value);
}

/* How many of the matrices the size target chose for were kept better
 * than their small type: a layer's above ternary, the output at Q6_K. */
static char *
kept_better (JsonObject *report)
{
  JsonArray *tensors = json_object_has_member (report, "tensors") ? json_object_get_array_member (report, "tensors") : NULL;
  guint kept = 0, measured = 0;

  for (guint i = 0; tensors && i < json_array_get_length (tensors); i++)
    {
      JsonNode *node = json_array_get_element (tensors, i);
      JsonObject *t = JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
      const char *name = t ? get_text (t, "name") : NULL;
      const char *type = t ? get_text (t, "output_type") : NULL;
      double sensitivity;

      if (name == NULL || type == NULL || !get_number (t, "sensitivity", &sensitivity))
        continue;
      measured++;
      if (g_str_has_prefix (name, "blk.") ? !g_str_has_prefix (type, "tq") : g_ascii_strcasecmp (type, "q6_k") == 0)
        kept++;
    }
  /* TRANSLATORS: matrices of a model kept in a better type than ternary. */
  return g_strdup_printf (g_dngettext (NULL, "%u of %u matrix", "%u of %u matrices", measured), kept, measured);
}

gboolean
tern_compress_report_add_rows (AdwPreferencesGroup *group, const char *json)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  double in_bytes, out_bytes, value;
  const char *text;
  JsonObject *quality;

  g_return_val_if_fail (ADW_IS_PREFERENCES_GROUP (group), FALSE);

  if (json == NULL || !json_parser_load_from_data (parser, json, -1, NULL) ||
      !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    return FALSE;
  JsonObject *o = json_node_get_object (json_parser_get_root (parser));

  /* Present when both models were measured on held-out text. */
  quality = json_object_has_member (o, "quality") && JSON_NODE_HOLDS_OBJECT (json_object_get_member (o, "quality"))
                ? json_object_get_object_member (o, "quality")
                : NULL;
  if (quality && (text = get_text (quality, "verdict_text")))
    add_value_row (group, _("Verdict"), text);
  if ((text = get_text (o, "type")))
    {
      g_autofree char *upper = g_ascii_strup (text, -1);
      add_value_row (group, _("Type"), upper);
    }
  if ((text = get_text (o, "method")))
    add_value_row (group, _("Method"), text);
  if (get_number (o, "input_bytes", &in_bytes) && get_number (o, "output_bytes", &out_bytes))
    {
      g_autofree char *in = g_format_size ((guint64) in_bytes);
      g_autofree char *out = g_format_size ((guint64) out_bytes);
      g_autofree char *sizes = g_strdup_printf (_("%s → %s"), in, out);
      add_value_row (group, _("Size"), sizes);
    }
  if (get_number (o, "max_bytes", &value))
    {
      g_autofree char *target = g_format_size ((guint64) value);
      g_autofree char *kept = kept_better (o);

      add_value_row (group, _("Size Target"), target);
      add_value_row (group, _("Kept Better"), kept);
    }
  if (get_number (o, "ratio", &value))
    {
      g_autofree char *ratio = g_strdup_printf (_("%.1f× smaller"), value);
      add_value_row (group, _("Ratio"), ratio);
    }
  if (get_number (o, "bits_per_weight", &value))
    {
      g_autofree char *bits = g_strdup_printf ("%.2f", value);
      add_value_row (group, _("Bits per Weight"), bits);
    }
  if (get_number (o, "sparsity", &value))
    {
      g_autofree char *zeros = g_strdup_printf (_("%.1f%% of the ternary weights"), value * 100);
      add_value_row (group, _("Zeros"), zeros);
    }
  if (get_number (o, "relative_error", &value))
    {
      g_autofree char *error = g_strdup_printf ("%.3f", value);
      add_value_row (group, _("Relative Error"), error);
    }
  if (quality)
    {
      add_before_after (group, quality, _("Perplexity"), "perplexity_before", "perplexity_after", "%.2f");
      add_before_after (group, quality, _("Speed (tokens/s)"), "tokens_per_second_before", "tokens_per_second_after",
                        "%.1f");
    }
  return TRUE;
}

/* ---- Progress ---- */

static void
show_running (TernCompressDialog *self, gboolean running)
{
  gtk_widget_set_visible (self->start_button, !running && self->new_id == 0);
  gtk_widget_set_visible (self->stop_button, running);
  gtk_widget_set_sensitive (GTK_WIDGET (self->preset_row), !running && self->new_id == 0);
  gtk_widget_set_sensitive (GTK_WIDGET (self->type_row), !running && self->new_id == 0);
  gtk_widget_set_sensitive (GTK_WIDGET (self->method_row), !running && self->new_id == 0);
  gtk_widget_set_sensitive (GTK_WIDGET (self->size_row), !running && self->new_id == 0);
  gtk_widget_set_sensitive (GTK_WIDGET (self->calibration_row), !running && self->new_id == 0);
}

static void
on_progress (TernServicePhase phase, double fraction, double seconds_left, gpointer data)
{
  TernCompressDialog *self = data;
  g_autofree char *percent = g_strdup_printf (_("%d%%"), (int) (fraction * 100));
  g_autofree char *subtitle = NULL;

  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (self->phase_row),
                                 phase == TERN_SERVICE_PHASE_MEASURE ? _("Measuring Quality") : _("Compressing"));
  if (seconds_left >= 0 && fraction < 1)
    {
      g_autofree char *left = g_strdup_printf (g_dngettext (NULL, "about %d second left", "about %d seconds left",
                                                            (gulong) (seconds_left + 0.5)),
                                               (int) (seconds_left + 0.5));
      subtitle = g_strdup_printf (_("%s · %s"), percent, left);
    }
  else
    subtitle = g_strdup (percent);
  adw_action_row_set_subtitle (self->phase_row, subtitle);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->phase_row), GTK_ACCESSIBLE_PROPERTY_DESCRIPTION, subtitle, -1);
  gtk_progress_bar_set_fraction (self->bar, fraction);
}

static void
compressed (GObject *source, GAsyncResult *result, gpointer data)
{
  TernCompressDialog *self = data;
  g_autoptr (GError) error = NULL;
  gint64 id = tern_service_compress_model_finish (TERN_SERVICE (source), result, &error);

  g_clear_object (&self->cancellable);
  if (self->closing)
    {
      gtk_window_destroy (GTK_WINDOW (self));
      g_object_unref (self);
      return;
    }
  if (id > 0)
    {
      self->new_id = id;
      adw_preferences_row_set_title (ADW_PREFERENCES_ROW (self->phase_row), _("Compressed"));
      gtk_label_set_text (self->outcome, _("The compressed model is in the library, beside the original."));
      gtk_widget_set_visible (self->use_button, TRUE);
      g_signal_emit (self, signals[SIGNAL_COMPRESSED], 0, id);
    }
  else if (g_error_matches (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_CANCELLED))
    {
      adw_preferences_row_set_title (ADW_PREFERENCES_ROW (self->phase_row), _("Stopped"));
      gtk_label_set_text (self->outcome, _("Compression stopped: no file was written and the library is unchanged."));
    }
  else
    {
      g_autofree char *text = g_strdup_printf (_("Could not compress the model: %s"), error->message);
      adw_preferences_row_set_title (ADW_PREFERENCES_ROW (self->phase_row), _("Failed"));
      gtk_label_set_text (self->outcome, text);
    }
  gtk_widget_set_visible (GTK_WIDGET (self->outcome), TRUE);
  show_running (self, FALSE);
  g_object_unref (self);
}

/* A bundled text (the Book of Revelation both models are measured on, the
 * books the calibrated method reads): installed, or in the source tree
 * when the app runs from its build folder. */
static const char *
bundled (const char *installed, const char *source)
{
  return g_file_test (installed, G_FILE_TEST_IS_REGULAR) ? installed : source;
}

static void
start_clicked (TernCompressDialog *self)
{
  TernCompressParams params;

  tern_compress_params_init (&params);
  params.type = types[adw_combo_row_get_selected (self->type_row)];
  params.method = adw_combo_row_get_selected (self->method_row);
  params.max_size = (guint64) ((double) self->original_size * gtk_spin_button_get_value (self->size_spin) / 100.0);
  self->cancellable = g_cancellable_new ();
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (self->phase_row), _("Compressing"));
  adw_action_row_set_subtitle (self->phase_row, _("Starting…"));
  gtk_progress_bar_set_fraction (self->bar, 0);
  gtk_widget_set_visible (GTK_WIDGET (self->progress_group), TRUE);
  gtk_widget_set_visible (GTK_WIDGET (self->outcome), FALSE);
  show_running (self, TRUE);
  /* The dialog lives until the answer, which ends its progress. */
  tern_service_compress_model (self->service, self->model_id, &params, NULL,
                               self->calibration_path ? self->calibration_path
                                                      : bundled (TERN_CALIBRATION_TEXT_INSTALLED, TERN_CALIBRATION_TEXT_SOURCE),
                               bundled (TERN_HELDOUT_TEXT_INSTALLED, TERN_HELDOUT_TEXT_SOURCE), on_progress, self,
                               self->cancellable, compressed, g_object_ref (self));
}

static void
calibration_chosen (GtkNativeDialog *chooser, int response, gpointer data)
{
  TernCompressDialog *self = data;

  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr (GFile) file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (chooser));
      g_autofree char *name = file ? g_file_get_basename (file) : NULL;

      if (file && g_file_peek_path (file))
        {
          g_free (self->calibration_path);
          self->calibration_path = g_file_get_path (file);
          adw_action_row_set_subtitle (self->calibration_row, name);
        }
    }
  g_object_unref (chooser);
  g_object_unref (self);
}

static void
choose_calibration (TernCompressDialog *self)
{
  GtkFileChooserNative *chooser = gtk_file_chooser_native_new (_("Choose a Calibration Text"), GTK_WINDOW (self),
                                                               GTK_FILE_CHOOSER_ACTION_OPEN, _("_Choose"), NULL);
  GtkFileFilter *filter = gtk_file_filter_new ();

  gtk_file_filter_set_name (filter, _("Plain text"));
  gtk_file_filter_add_mime_type (filter, "text/plain");
  gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (chooser), filter);
  g_object_unref (filter);
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (chooser), TRUE);
  g_signal_connect (chooser, "response", G_CALLBACK (calibration_chosen), g_object_ref (self));
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (chooser));
}

static void
stop_clicked (TernCompressDialog *self)
{
  if (self->cancellable)
    g_cancellable_cancel (self->cancellable);
}

static void
use_clicked (TernCompressDialog *self)
{
  g_signal_emit (self, signals[SIGNAL_USE], 0, self->new_id);
  gtk_window_destroy (GTK_WINDOW (self));
}

static gboolean
on_close_request (TernCompressDialog *self)
{
  if (self->cancellable == NULL)
    return FALSE;
  /* Hidden now, destroyed once the compression has stopped and cleaned up. */
  self->closing = TRUE;
  g_cancellable_cancel (self->cancellable);
  gtk_widget_set_visible (GTK_WIDGET (self), FALSE);
  return TRUE;
}

static void
preset_changed (TernCompressDialog *self)
{
  adw_combo_row_set_selected (self->type_row, adw_combo_row_get_selected (self->preset_row) == 1 ? 1 : 0);
}

/* ---- Building ---- */

static AdwComboRow *
combo_row (const char *title, const char *subtitle, GtkStringList *items)
{
  AdwComboRow *row = ADW_COMBO_ROW (adw_combo_row_new ());

  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), title);
  if (subtitle)
    adw_action_row_set_subtitle (ADW_ACTION_ROW (row), subtitle);
  adw_combo_row_set_model (row, G_LIST_MODEL (items));
  g_object_unref (items);
  return row;
}

static GtkWidget *
button (const char *label, const char *style, GCallback clicked, TernCompressDialog *self)
{
  GtkWidget *b = gtk_button_new_with_mnemonic (label);

  if (style)
    gtk_widget_add_css_class (b, style);
  gtk_widget_add_css_class (b, "pill");
  g_signal_connect_swapped (b, "clicked", clicked, self);
  return b;
}

GtkWidget *
tern_compress_dialog_new (GtkWindow *parent, TernService *service, const TernStoreModel *model)
{
  g_return_val_if_fail (parent == NULL || GTK_IS_WINDOW (parent), NULL);
  g_return_val_if_fail (TERN_IS_SERVICE (service), NULL);
  g_return_val_if_fail (model != NULL, NULL);

  TernCompressDialog *self = g_object_new (TERN_TYPE_COMPRESS_DIALOG, "transient-for", parent, "modal", TRUE,
                                           "default-width", 480, "default-height", 640, NULL);
  g_autofree char *title = g_strdup_printf (_("Compress %s"), model->name);
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 0);
  GtkWidget *header = adw_header_bar_new ();
  GtkWidget *page = adw_preferences_page_new ();
  GtkWidget *choice = adw_preferences_group_new ();
  GtkWidget *details = adw_expander_row_new ();
  GtkWidget *buttons = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 12);
  GtkStringList *preset_names = gtk_string_list_new (NULL);
  GtkStringList *type_names = gtk_string_list_new (NULL);
  GtkStringList *method_names = gtk_string_list_new (NULL);

  self->service = g_object_ref (service);
  self->model_id = model->id;
  self->original_size = model->identity.size;
  gtk_window_set_title (GTK_WINDOW (self), title);

  for (gsize i = 0; i < G_N_ELEMENTS (presets); i++)
    {
      g_autofree char *upper = g_ascii_strup (tern_type_name (presets[i].type), -1);
      g_autofree char *item = g_strdup_printf (_("%s (%s)"), _(presets[i].name), upper);
      gtk_string_list_append (preset_names, item);
    }
  for (gsize i = 0; i < G_N_ELEMENTS (types); i++)
    {
      g_autofree char *upper = g_ascii_strup (tern_type_name (types[i]), -1);
      gtk_string_list_append (type_names, upper);
    }
  for (int m = 0; m < TERN_COMPRESS_N_METHODS; m++)
    gtk_string_list_append (method_names, tern_compress_method_name (m));

  adw_preferences_group_set_title (ADW_PREFERENCES_GROUP (choice), _("Compression"));
  adw_preferences_group_set_description (ADW_PREFERENCES_GROUP (choice),
                                         _("A new, smaller model is made beside this one, which is kept."));
  self->preset_row = combo_row (_("Preset"), NULL, preset_names);
  self->type_row = combo_row (_("Type"), _("How the weights are stored"), type_names);
  self->method_row = combo_row (_("Method"), _("How each weight is rounded to three values"), method_names);
  TernCompressParams defaults;
  tern_compress_params_init (&defaults);
  adw_combo_row_set_selected (self->method_row, defaults.method);
  g_signal_connect_swapped (self->preset_row, "notify::selected", G_CALLBACK (preset_changed), self);
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (details), _("Details"));
  gtk_accessible_update_property (GTK_ACCESSIBLE (details), GTK_ACCESSIBLE_PROPERTY_LABEL, _("Details"), -1);
  adw_expander_row_add_row (ADW_EXPANDER_ROW (details), GTK_WIDGET (self->type_row));
  adw_expander_row_add_row (ADW_EXPANDER_ROW (details), GTK_WIDGET (self->method_row));

  self->size_row = ADW_ACTION_ROW (adw_action_row_new ());
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (self->size_row), _("Size Target"));
  adw_action_row_set_subtitle (self->size_row,
                               _("Percent of this model's size. Matrices that matter most are kept better within "
                                 "it, measured on the calibration text; 0: every matrix ternary"));
  self->size_spin = GTK_SPIN_BUTTON (gtk_spin_button_new_with_range (0, 100, 0.1));
  gtk_spin_button_set_value (self->size_spin, 0);
  gtk_widget_set_valign (GTK_WIDGET (self->size_spin), GTK_ALIGN_CENTER);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->size_spin), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  _("Size Target (percent)"), -1);
  adw_action_row_add_suffix (self->size_row, GTK_WIDGET (self->size_spin));
  adw_action_row_set_activatable_widget (self->size_row, GTK_WIDGET (self->size_spin));
  adw_expander_row_add_row (ADW_EXPANDER_ROW (details), GTK_WIDGET (self->size_row));

  self->calibration_row = ADW_ACTION_ROW (adw_action_row_new ());
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (self->calibration_row), _("Calibration Text"));
  adw_action_row_set_subtitle (self->calibration_row,
                               _("Bundled: Genesis, Psalms, Matthew and Isaiah (King James Version)"));
  self->calibration_button = gtk_button_new_with_mnemonic (_("C_hoose…"));
  gtk_widget_set_valign (self->calibration_button, GTK_ALIGN_CENTER);
  gtk_widget_set_tooltip_text (self->calibration_button, _("Choose the text the calibrated method and the size "
                                                           "target read"));
  g_signal_connect_swapped (self->calibration_button, "clicked", G_CALLBACK (choose_calibration), self);
  adw_action_row_add_suffix (self->calibration_row, self->calibration_button);
  adw_expander_row_add_row (ADW_EXPANDER_ROW (details), GTK_WIDGET (self->calibration_row));
  adw_preferences_group_add (ADW_PREFERENCES_GROUP (choice), GTK_WIDGET (self->preset_row));
  adw_preferences_group_add (ADW_PREFERENCES_GROUP (choice), details);
  adw_preferences_page_add (ADW_PREFERENCES_PAGE (page), ADW_PREFERENCES_GROUP (choice));

  self->progress_group = ADW_PREFERENCES_GROUP (adw_preferences_group_new ());
  adw_preferences_group_set_title (self->progress_group, _("Progress"));
  self->phase_row = ADW_ACTION_ROW (adw_action_row_new ());
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (self->phase_row), _("Compressing"));
  self->bar = GTK_PROGRESS_BAR (gtk_progress_bar_new ());
  gtk_widget_set_margin_top (GTK_WIDGET (self->bar), 12);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->bar), GTK_ACCESSIBLE_PROPERTY_LABEL, _("Progress"), -1);
  self->outcome = GTK_LABEL (gtk_label_new (NULL));
  gtk_label_set_wrap (self->outcome, TRUE);
  gtk_label_set_xalign (self->outcome, 0);
  gtk_widget_set_margin_top (GTK_WIDGET (self->outcome), 12);
  gtk_widget_set_visible (GTK_WIDGET (self->outcome), FALSE);
  adw_preferences_group_add (self->progress_group, GTK_WIDGET (self->phase_row));
  adw_preferences_group_add (self->progress_group, GTK_WIDGET (self->bar));
  adw_preferences_group_add (self->progress_group, GTK_WIDGET (self->outcome));
  gtk_widget_set_visible (GTK_WIDGET (self->progress_group), FALSE);
  adw_preferences_page_add (ADW_PREFERENCES_PAGE (page), self->progress_group);

  self->report_group = ADW_PREFERENCES_GROUP (adw_preferences_group_new ());
  adw_preferences_group_set_title (self->report_group, _("Report"));
  gtk_widget_set_visible (GTK_WIDGET (self->report_group), FALSE);
  adw_preferences_page_add (ADW_PREFERENCES_PAGE (page), self->report_group);

  self->start_button = button (_("_Compress"), "suggested-action", G_CALLBACK (start_clicked), self);
  self->stop_button = button (_("_Stop"), "destructive-action", G_CALLBACK (stop_clicked), self);
  self->use_button = button (_("_Use"), "suggested-action", G_CALLBACK (use_clicked), self);
  gtk_widget_set_tooltip_text (self->use_button, _("Chat with the compressed model"));
  gtk_widget_set_visible (self->stop_button, FALSE);
  gtk_widget_set_visible (self->use_button, FALSE);
  gtk_widget_set_halign (buttons, GTK_ALIGN_CENTER);
  gtk_widget_set_margin_top (buttons, 12);
  gtk_widget_set_margin_bottom (buttons, 18);
  gtk_box_append (GTK_BOX (buttons), self->start_button);
  gtk_box_append (GTK_BOX (buttons), self->stop_button);
  gtk_box_append (GTK_BOX (buttons), self->use_button);

  gtk_widget_set_vexpand (page, TRUE);
  gtk_box_append (GTK_BOX (box), header);
  gtk_box_append (GTK_BOX (box), page);
  gtk_box_append (GTK_BOX (box), buttons);
  adw_window_set_content (ADW_WINDOW (self), box);
  g_signal_connect (self, "close-request", G_CALLBACK (on_close_request), NULL);
  tern_accessible_fix_names (GTK_WIDGET (self));
  return GTK_WIDGET (self);
}

/* The report, once the library has the new model: shown from its entry,
 * as the details do. */
static void
got_models (GObject *source, GAsyncResult *result, gpointer data)
{
  TernCompressDialog *self = data;
  g_autoptr (GPtrArray) models = tern_service_list_models_finish (TERN_SERVICE (source), result, NULL);

  for (guint i = 0; models && i < models->len; i++)
    {
      const TernStoreModel *m = models->pdata[i];

      if (m->id == self->new_id && tern_compress_report_add_rows (self->report_group, m->compression_report))
        gtk_widget_set_visible (GTK_WIDGET (self->report_group), TRUE);
    }
  g_object_unref (self);
}

static void
tern_compress_dialog_compressed (TernCompressDialog *self, gint64 id)
{
  tern_service_list_models (self->service, NULL, got_models, g_object_ref (self));
}

static void
tern_compress_dialog_dispose (GObject *object)
{
  TernCompressDialog *self = TERN_COMPRESS_DIALOG (object);

  g_clear_object (&self->service);
  g_clear_pointer (&self->calibration_path, g_free);
  G_OBJECT_CLASS (tern_compress_dialog_parent_class)->dispose (object);
}

static void
tern_compress_dialog_class_init (TernCompressDialogClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = tern_compress_dialog_dispose;
  signals[SIGNAL_COMPRESSED] = g_signal_new_class_handler (
      "compressed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, G_CALLBACK (tern_compress_dialog_compressed), NULL,
      NULL, NULL, G_TYPE_NONE, 1, G_TYPE_INT64);
  signals[SIGNAL_USE] = g_signal_new ("use", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                      G_TYPE_NONE, 1, G_TYPE_INT64);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Escape, 0, "window.close", NULL);
}

static void
tern_compress_dialog_init (TernCompressDialog *self)
{
}
