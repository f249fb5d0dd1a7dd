/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "tern-preferences-window.h"

#include "tern-sampling-group.h"

#include <glib/gi18n.h>
#include <string.h>
#include <tern/backend.h>

enum {
  PROP_0,
  PROP_SETTINGS,
  PROP_DATA_DIR,
  PROP_BACKENDS,
  N_PROPS
};

/* The keys that share their name with a property of TernSamplingGroup. */
static const char * const sampling_keys[] = {
  "temperature", "top-k", "top-p", "min-p", "repeat-penalty", "seed", "max-tokens",
};

struct _TernPreferencesWindow
{
  AdwPreferencesWindow parent_instance;

  GSettings *settings;
  char *data_dir;
  char **backends;         /* as given at construction; NULL: the registry's */
  GPtrArray *backend_ids;  /* (char *) one per entry of backend_names, in order */
  GtkStringList *backend_names;
  gboolean syncing_prompt; /* the text view is being set from the key */

  AdwActionRow *threads_row;
  GtkSpinButton *threads_spin;
  GtkSpinButton *context_size_spin;
  AdwComboRow *backend_row;
  GtkSpinButton *snapshot_limit_spin;
  AdwComboRow *trash_days_row;
  AdwActionRow *data_folder_row;
  GtkButton *open_folder_button;
  GtkTextView *system_prompt_view;
  TernSamplingGroup *sampling_group;
};

static GParamSpec *properties[N_PROPS];

G_DEFINE_FINAL_TYPE (TernPreferencesWindow, tern_preferences_window, ADW_TYPE_PREFERENCES_WINDOW)

/* ---- Backends ---- */

static char *
backend_display_name (const char *id)
{
  guint64 index;

  if (g_strcmp0 (id, "cpu") == 0)
    return g_strdup (_("CPU"));
  if (g_str_has_prefix (id, "vulkan:") && g_ascii_string_to_unsigned (id + strlen ("vulkan:"), 10, 0, G_MAXUINT,
                                                                       &index, NULL))
    return g_strdup_printf (_("Vulkan GPU %u"), (guint) index);
  return g_strdup (id);
}

/* Adds an entry to the combo row and returns its position. */
static guint
add_backend (TernPreferencesWindow *self, const char *id, gboolean available)
{
  g_autofree char *name = backend_display_name (id);

  g_ptr_array_add (self->backend_ids, g_strdup (id));
  if (available)
    {
      gtk_string_list_append (self->backend_names, name);
    }
  else
    {
      g_autofree char *unavailable = g_strdup_printf (_("%s (unavailable)"), name);

      gtk_string_list_append (self->backend_names, unavailable);
    }
  return self->backend_ids->len - 1;
}

/* "Empty Trash After": the rows of the combo, in days (0: never). A
 * value set another way shows as the nearest longer choice. */
static const guint trash_days[] = { 7, 30, 90, 0 };

static gboolean
trash_days_get_mapping (GValue *value, GVariant *variant, gpointer user_data)
{
  guint days = g_variant_get_uint32 (variant);
  guint row = G_N_ELEMENTS (trash_days) - 1;

  for (guint i = 0; i + 1 < G_N_ELEMENTS (trash_days); i++)
    if (days != 0 && days <= trash_days[i])
      {
        row = i;
        break;
      }
  g_value_set_uint (value, row);
  return TRUE;
}

static GVariant *
trash_days_set_mapping (const GValue *value, const GVariantType *type, gpointer user_data)
{
  guint row = g_value_get_uint (value);

  return row < G_N_ELEMENTS (trash_days) ? g_variant_new_uint32 (trash_days[row]) : NULL;
}

/* Key to combo position. A backend missing from the list (a GPU that is
 * gone) gets an entry of its own, so that the row tells the truth and the
 * key keeps its value until the user picks another. */
static gboolean
backend_get_mapping (GValue *value, GVariant *variant, gpointer user_data)
{
  TernPreferencesWindow *self = user_data;
  const char *id = g_variant_get_string (variant, NULL);
  guint position;

  if (!g_ptr_array_find_with_equal_func (self->backend_ids, id, g_str_equal, &position))
    position = add_backend (self, id, FALSE);
  g_value_set_uint (value, position);
  return TRUE;
}

static GVariant *
backend_set_mapping (const GValue *value, const GVariantType *expected_type, gpointer user_data)
{
  TernPreferencesWindow *self = user_data;
  guint position = g_value_get_uint (value);

  /* No selection (an empty list): leave the key alone. */
  if (position >= self->backend_ids->len)
    return NULL;
  return g_variant_new_string (g_ptr_array_index (self->backend_ids, position));
}

/* ---- System prompt ---- */

static void
system_prompt_buffer_changed_cb (TernPreferencesWindow *self, GtkTextBuffer *buffer)
{
  GtkTextIter start, end;
  g_autofree char *text = NULL;

  if (self->syncing_prompt)
    return;
  gtk_text_buffer_get_bounds (buffer, &start, &end);
  text = gtk_text_buffer_get_text (buffer, &start, &end, FALSE);
  g_settings_set_string (self->settings, "system-prompt", text);
}

static void
system_prompt_key_changed_cb (TernPreferencesWindow *self)
{
  GtkTextBuffer *buffer = gtk_text_view_get_buffer (self->system_prompt_view);
  g_autofree char *value = g_settings_get_string (self->settings, "system-prompt");
  g_autofree char *text = NULL;
  GtkTextIter start, end;

  /* Our own writes come back here: leave the buffer, and its cursor, be. */
  gtk_text_buffer_get_bounds (buffer, &start, &end);
  text = gtk_text_buffer_get_text (buffer, &start, &end, FALSE);
  if (g_strcmp0 (text, value) == 0)
    return;

  self->syncing_prompt = TRUE;
  gtk_text_buffer_set_text (buffer, value, -1);
  self->syncing_prompt = FALSE;
}

/* ---- Data folder ---- */

static void
open_folder_done_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (TernPreferencesWindow) self = user_data;
  g_autoptr (GError) error = NULL;

  if (!g_app_info_launch_default_for_uri_finish (result, &error))
    {
      /* Toast titles are markup; an error message may hold a path. */
      g_autofree char *escaped = g_markup_escape_text (error->message, -1);
      g_autofree char *title = g_strdup_printf (_("Could not open the data folder: %s"), escaped);

      adw_preferences_window_add_toast (ADW_PREFERENCES_WINDOW (self), adw_toast_new (title));
    }
}

static void
open_folder_clicked_cb (TernPreferencesWindow *self)
{
  g_autoptr (GFile) file = g_file_new_for_path (self->data_dir);
  g_autofree char *uri = g_file_get_uri (file);
  g_autoptr (GdkAppLaunchContext) context = gdk_display_get_app_launch_context (
    gtk_widget_get_display (GTK_WIDGET (self)));

  /* Asynchronous: finding and starting the file manager may take a while,
   * and the window must not freeze meanwhile. */
  g_app_info_launch_default_for_uri_async (uri, G_APP_LAUNCH_CONTEXT (context), NULL, open_folder_done_cb,
                                           g_object_ref (self));
}

/* ---- Object ---- */

/* The context size spin shows 0 as "Automatic" (the model's training
 * length, as much as fits in memory), and reads that word back as 0. */
static gboolean
context_size_output (GtkSpinButton *spin, gpointer data)
{
  if (gtk_spin_button_get_value_as_int (spin) != 0)
    return FALSE;
  gtk_editable_set_text (GTK_EDITABLE (spin), _("Automatic"));
  return TRUE;
}

static int
context_size_input (GtkSpinButton *spin, double *value, gpointer data)
{
  if (g_strcmp0 (gtk_editable_get_text (GTK_EDITABLE (spin)), _("Automatic")) != 0)
    return FALSE;
  *value = 0;
  return TRUE;
}

static void
tern_preferences_window_constructed (GObject *object)
{
  TernPreferencesWindow *self = TERN_PREFERENCES_WINDOW (object);
  guint n_processors = g_get_num_processors ();
  g_autofree char *threads_subtitle = NULL;

  G_OBJECT_CLASS (tern_preferences_window_parent_class)->constructed (object);

  g_return_if_fail (G_IS_SETTINGS (self->settings));

  threads_subtitle = g_strdup_printf (ngettext ("0 is automatic: one per physical core. This computer has %u "
                                                "processor thread",
                                                "0 is automatic: one per physical core. This computer has %u "
                                                "processor threads",
                                                n_processors),
                                      n_processors);
  adw_action_row_set_subtitle (self->threads_row, threads_subtitle);
  tern_label_from_row (GTK_WIDGET (self->threads_spin));
  tern_label_from_row (GTK_WIDGET (self->context_size_spin));
  g_signal_connect (self->context_size_spin, "output", G_CALLBACK (context_size_output), NULL);
  g_signal_connect (self->context_size_spin, "input", G_CALLBACK (context_size_input), NULL);
  tern_label_from_row (GTK_WIDGET (self->snapshot_limit_spin));

  adw_action_row_set_subtitle (self->data_folder_row, self->data_dir != NULL ? self->data_dir : "");
  gtk_widget_set_sensitive (GTK_WIDGET (self->open_folder_button), self->data_dir != NULL);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->open_folder_button),
                                  GTK_ACCESSIBLE_PROPERTY_DESCRIPTION, self->data_dir != NULL ? self->data_dir : "",
                                  -1);

  if (self->backends != NULL)
    {
      for (guint i = 0; self->backends[i] != NULL; i++)
        add_backend (self, self->backends[i], TRUE);
    }
  else
    {
      guint n_devices;
      const TernDevice *const *devices = tern_devices (&n_devices);

      for (guint i = 0; i < n_devices; i++)
        add_backend (self, devices[i]->name, TRUE);
    }

  g_settings_bind (self->settings, "threads", self->threads_spin, "value", G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "context-size", self->context_size_spin, "value", G_SETTINGS_BIND_DEFAULT);
  /* The value may have been 0 before the binding: no change shows the word. */
  context_size_output (self->context_size_spin, NULL);
  g_settings_bind (self->settings, "snapshot-limit-mb", self->snapshot_limit_spin, "value", G_SETTINGS_BIND_DEFAULT);
  g_settings_bind_with_mapping (self->settings, "trash-days", self->trash_days_row, "selected", G_SETTINGS_BIND_DEFAULT,
                                trash_days_get_mapping, trash_days_set_mapping, NULL, NULL);
  g_settings_bind_with_mapping (self->settings, "backend", self->backend_row, "selected", G_SETTINGS_BIND_DEFAULT,
                                backend_get_mapping, backend_set_mapping, self, NULL);
  /* Several keys on one widget: its sensitivity cannot follow them all. */
  for (guint i = 0; i < G_N_ELEMENTS (sampling_keys); i++)
    g_settings_bind (self->settings, sampling_keys[i], self->sampling_group, sampling_keys[i],
                     G_SETTINGS_BIND_DEFAULT | G_SETTINGS_BIND_NO_SENSITIVITY);

  g_settings_bind_writable (self->settings, "system-prompt", self->system_prompt_view, "sensitive", FALSE);
  g_signal_connect_object (self->settings, "changed::system-prompt", G_CALLBACK (system_prompt_key_changed_cb),
                           self, G_CONNECT_SWAPPED);
  system_prompt_key_changed_cb (self);
  g_signal_connect_object (gtk_text_view_get_buffer (self->system_prompt_view), "changed",
                           G_CALLBACK (system_prompt_buffer_changed_cb), self, G_CONNECT_SWAPPED);
}

static void
tern_preferences_window_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  TernPreferencesWindow *self = TERN_PREFERENCES_WINDOW (object);

  switch (prop_id)
    {
    case PROP_SETTINGS:
      g_value_set_object (value, self->settings);
      break;
    case PROP_DATA_DIR:
      g_value_set_string (value, self->data_dir);
      break;
    case PROP_BACKENDS:
      g_value_set_boxed (value, self->backends);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
tern_preferences_window_set_property (GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  TernPreferencesWindow *self = TERN_PREFERENCES_WINDOW (object);

  switch (prop_id)
    {
    case PROP_SETTINGS:
      self->settings = g_value_dup_object (value);
      break;
    case PROP_DATA_DIR:
      self->data_dir = g_value_dup_string (value);
      break;
    case PROP_BACKENDS:
      self->backends = g_value_dup_boxed (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
tern_preferences_window_dispose (GObject *object)
{
  TernPreferencesWindow *self = TERN_PREFERENCES_WINDOW (object);

  /* The backend binding's mappings use self: end it while self is whole
   * (the others end with their widgets). */
  if (self->settings != NULL)
    g_settings_unbind (self->backend_row, "selected");

  gtk_widget_dispose_template (GTK_WIDGET (self), TERN_TYPE_PREFERENCES_WINDOW);
  g_clear_object (&self->settings);
  g_clear_object (&self->backend_names);

  G_OBJECT_CLASS (tern_preferences_window_parent_class)->dispose (object);
}

static void
tern_preferences_window_finalize (GObject *object)
{
  TernPreferencesWindow *self = TERN_PREFERENCES_WINDOW (object);

  g_free (self->data_dir);
  g_strfreev (self->backends);
  g_ptr_array_unref (self->backend_ids);

  G_OBJECT_CLASS (tern_preferences_window_parent_class)->finalize (object);
}

static void
tern_preferences_window_class_init (TernPreferencesWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);
  const GParamFlags flags = G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS;

  object_class->constructed = tern_preferences_window_constructed;
  object_class->get_property = tern_preferences_window_get_property;
  object_class->set_property = tern_preferences_window_set_property;
  object_class->dispose = tern_preferences_window_dispose;
  object_class->finalize = tern_preferences_window_finalize;

  properties[PROP_SETTINGS] = g_param_spec_object ("settings", NULL, NULL, G_TYPE_SETTINGS, flags);
  properties[PROP_DATA_DIR] = g_param_spec_string ("data-dir", NULL, NULL, NULL, flags);
  properties[PROP_BACKENDS] = g_param_spec_boxed ("backends", NULL, NULL, G_TYPE_STRV, flags);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  g_type_ensure (TERN_TYPE_SAMPLING_GROUP);

  gtk_widget_class_set_template_from_resource (widget_class, "/io/github/ternapp/Tern/ui/tern-preferences-window.ui");
  gtk_widget_class_bind_template_child (widget_class, TernPreferencesWindow, threads_row);
  gtk_widget_class_bind_template_child (widget_class, TernPreferencesWindow, threads_spin);
  gtk_widget_class_bind_template_child (widget_class, TernPreferencesWindow, context_size_spin);
  gtk_widget_class_bind_template_child (widget_class, TernPreferencesWindow, backend_row);
  gtk_widget_class_bind_template_child (widget_class, TernPreferencesWindow, snapshot_limit_spin);
  gtk_widget_class_bind_template_child (widget_class, TernPreferencesWindow, trash_days_row);
  gtk_widget_class_bind_template_child (widget_class, TernPreferencesWindow, data_folder_row);
  gtk_widget_class_bind_template_child (widget_class, TernPreferencesWindow, open_folder_button);
  gtk_widget_class_bind_template_child (widget_class, TernPreferencesWindow, system_prompt_view);
  gtk_widget_class_bind_template_child (widget_class, TernPreferencesWindow, sampling_group);
  gtk_widget_class_bind_template_callback (widget_class, open_folder_clicked_cb);
}

static void
tern_preferences_window_init (TernPreferencesWindow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));

  self->backend_ids = g_ptr_array_new_with_free_func (g_free);
  self->backend_names = gtk_string_list_new (NULL);
  adw_combo_row_set_expression (self->backend_row,
                                gtk_property_expression_new (GTK_TYPE_STRING_OBJECT, NULL, "string"));
  adw_combo_row_set_model (self->backend_row, G_LIST_MODEL (self->backend_names));
}

GtkWidget *
tern_preferences_window_new (GtkWindow          *parent,
                             GSettings          *settings,
                             const char         *data_dir,
                             const char * const *backends)
{
  g_return_val_if_fail (parent == NULL || GTK_IS_WINDOW (parent), NULL);
  g_return_val_if_fail (G_IS_SETTINGS (settings), NULL);

  return g_object_new (TERN_TYPE_PREFERENCES_WINDOW,
                       "transient-for", parent,
                       "settings", settings,
                       "data-dir", data_dir,
                       "backends", backends,
                       NULL);
}
