/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The Preferences window, the sampling group and the conversation settings
 * dialog: bindings to GSettings both ways, the backend list, round trips,
 * reset to defaults, the "changed" signal, Escape, and accessible names.
 *
 * Needs a display (Xvfb) and GSETTINGS_SCHEMA_DIR naming a folder with the
 * compiled io.github.ternapp.Tern schema. Every test uses a settings
 * backend of its own, in memory, so nothing touches the user's settings
 * and no test sees another's values. Nothing waits on time: bindings and
 * settings signals are synchronous, and the rest is driven by direct
 * calls. */
#include "tern-conversation-settings.h"
#include "tern-preferences-window.h"
#include "tern-sampling-group.h"

#include <tern/backend.h>

/* For g_memory_settings_backend_new. */
#define G_SETTINGS_ENABLE_BACKEND
#include <gio/gsettingsbackend.h>

#define SCHEMA_ID "io.github.ternapp.Tern"

static const char * const cpu_only[] = { "cpu", NULL };

static GSettings *
new_settings (void)
{
  GSettingsSchemaSource *source = g_settings_schema_source_get_default ();
  g_autoptr (GSettingsSchema) schema = NULL;
  g_autoptr (GSettingsBackend) backend = g_memory_settings_backend_new ();

  if (source != NULL)
    schema = g_settings_schema_source_lookup (source, SCHEMA_ID, TRUE);
  if (schema == NULL)
    g_error ("schema %s not found: set GSETTINGS_SCHEMA_DIR to a folder where it is compiled", SCHEMA_ID);
  return g_settings_new_full (schema, backend, NULL);
}

/* ---- Finding widgets ---- */

typedef gboolean (*WidgetFunc) (GtkWidget *widget, gpointer user_data);

/* Calls @func on @root and its descendants, depth first; stops at the
 * first that returns TRUE and returns it. */
static GtkWidget *
find_widget (GtkWidget *root, WidgetFunc func, gpointer user_data)
{
  if (func (root, user_data))
    return root;
  for (GtkWidget *child = gtk_widget_get_first_child (root); child != NULL; child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *found = find_widget (child, func, user_data);

      if (found != NULL)
        return found;
    }
  return NULL;
}

static gboolean
is_row_titled (GtkWidget *widget, gpointer title)
{
  return ADW_IS_PREFERENCES_ROW (widget)
         && g_strcmp0 (adw_preferences_row_get_title (ADW_PREFERENCES_ROW (widget)), title) == 0;
}

static gboolean
is_type (GtkWidget *widget, gpointer type)
{
  return G_TYPE_CHECK_INSTANCE_TYPE (widget, GPOINTER_TO_SIZE (type));
}

static gboolean
is_button_labelled (GtkWidget *widget, gpointer label)
{
  return GTK_IS_BUTTON (widget) && g_strcmp0 (gtk_button_get_label (GTK_BUTTON (widget)), label) == 0;
}

static GtkWidget *
find_row (GtkWidget *root, const char *title)
{
  GtkWidget *row = find_widget (root, is_row_titled, (gpointer) title);

  g_assert_nonnull (row);
  return row;
}

static GtkWidget *
find_in_row (GtkWidget *root, const char *title, GType type)
{
  GtkWidget *widget = find_widget (find_row (root, title), is_type, GSIZE_TO_POINTER (type));

  g_assert_nonnull (widget);
  return widget;
}

static GtkSpinButton *
find_spin (GtkWidget *root, const char *row_title)
{
  return GTK_SPIN_BUTTON (find_in_row (root, row_title, GTK_TYPE_SPIN_BUTTON));
}

static GtkTextBuffer *
find_text_buffer (GtkWidget *root)
{
  GtkWidget *view = find_widget (root, is_type, GSIZE_TO_POINTER (GTK_TYPE_TEXT_VIEW));

  g_assert_nonnull (view);
  return gtk_text_view_get_buffer (GTK_TEXT_VIEW (view));
}

static char *
buffer_text (GtkTextBuffer *buffer)
{
  GtkTextIter start, end;

  gtk_text_buffer_get_bounds (buffer, &start, &end);
  return gtk_text_buffer_get_text (buffer, &start, &end, FALSE);
}

/* Activates the window's Escape shortcut as a key press would: GTK 4.8
 * has no public way to synthesize a key event, so this finds the shortcut
 * among the window's controllers and runs its action. */
static void
press_escape (GtkWidget *window)
{
  g_autoptr (GListModel) controllers = gtk_widget_observe_controllers (window);
  GtkShortcut *escape = NULL;

  for (guint i = 0; escape == NULL && i < g_list_model_get_n_items (controllers); i++)
    {
      g_autoptr (GObject) controller = g_list_model_get_item (controllers, i);

      if (!GTK_IS_SHORTCUT_CONTROLLER (controller))
        continue;
      for (guint j = 0; escape == NULL && j < g_list_model_get_n_items (G_LIST_MODEL (controller)); j++)
        {
          g_autoptr (GtkShortcut) shortcut = g_list_model_get_item (G_LIST_MODEL (controller), j);
          g_autofree char *trigger = gtk_shortcut_trigger_to_string (gtk_shortcut_get_trigger (shortcut));

          if (g_strcmp0 (trigger, "Escape") == 0)
            escape = g_steal_pointer (&shortcut);
        }
    }
  g_assert_nonnull (escape);
  g_assert_true (gtk_shortcut_action_activate (gtk_shortcut_get_action (escape), GTK_SHORTCUT_ACTION_EXCLUSIVE,
                                               window, gtk_shortcut_get_arguments (escape)));
  g_object_unref (escape);
}

static void
on_destroy (GtkWidget *widget, gpointer user_data)
{
  *(gboolean *) user_data = TRUE;
}

/* Destroys @window and checks that nothing kept it alive. */
static void
destroy_window (GtkWidget *window)
{
  gpointer weak = window;

  g_object_add_weak_pointer (G_OBJECT (window), &weak);
  gtk_window_destroy (GTK_WINDOW (window));
  g_assert_null (weak);
}

/* ---- Preferences window ---- */

static GtkWidget *
new_preferences (GSettings *settings, const char * const *backends)
{
  GtkWidget *window = tern_preferences_window_new (NULL, settings, "/tmp/tern-test-data", backends);

  g_assert_true (TERN_IS_PREFERENCES_WINDOW (window));
  /* Realized, so that gtk_window_close does close it. */
  gtk_window_present (GTK_WINDOW (window));
  return window;
}

static void
test_preferences_spin_to_key (void)
{
  g_autoptr (GSettings) settings = new_settings ();
  GtkWidget *window = new_preferences (settings, cpu_only);

  /* The context size is automatic unless the user chooses one. */
  g_assert_cmpint (g_settings_get_int (settings, "context-size"), ==, 0);
  g_assert_cmpstr (gtk_editable_get_text (GTK_EDITABLE (find_spin (window, "Context Size"))), ==, "Automatic");

  gtk_spin_button_set_value (find_spin (window, "Threads"), 6);
  g_assert_cmpuint (g_settings_get_uint (settings, "threads"), ==, 6);

  gtk_spin_button_set_value (find_spin (window, "Context Size"), 8192);
  g_assert_cmpint (g_settings_get_int (settings, "context-size"), ==, 8192);

  gtk_spin_button_set_value (find_spin (window, "Snapshot Storage Limit"), 512);
  g_assert_cmpuint (g_settings_get_uint (settings, "snapshot-limit-mb"), ==, 512);

  gtk_spin_button_set_value (find_spin (window, "Temperature"), 1.5);
  g_assert_cmpfloat (g_settings_get_double (settings, "temperature"), ==, 1.5);

  gtk_spin_button_set_value (find_spin (window, "Top-k"), 7);
  g_assert_cmpint (g_settings_get_int (settings, "top-k"), ==, 7);

  gtk_spin_button_set_value (find_spin (window, "Maximum Reply Length"), 0);
  g_assert_cmpint (g_settings_get_int (settings, "max-tokens"), ==, 0);

  /* A fixed seed: the switch off, then the number. */
  gtk_switch_set_active (GTK_SWITCH (find_in_row (window, "Random Seed", GTK_TYPE_SWITCH)), FALSE);
  gtk_spin_button_set_value (find_spin (window, "Seed"), 99);
  g_assert_cmpint (g_settings_get_int64 (settings, "seed"), ==, 99);
  gtk_switch_set_active (GTK_SWITCH (find_in_row (window, "Random Seed", GTK_TYPE_SWITCH)), TRUE);
  g_assert_cmpint (g_settings_get_int64 (settings, "seed"), ==, -1);

  gtk_text_buffer_set_text (find_text_buffer (window), "Answer in French.", -1);
  {
    g_autofree char *prompt = g_settings_get_string (settings, "system-prompt");

    g_assert_cmpstr (prompt, ==, "Answer in French.");
  }

  destroy_window (window);
}

static void
test_preferences_key_to_spin (void)
{
  g_autoptr (GSettings) settings = new_settings ();
  GtkWidget *window;
  g_autofree char *text = NULL;

  /* Values set before the window opens show in it... */
  g_settings_set_uint (settings, "threads", 3);
  g_settings_set_string (settings, "system-prompt", "Be brief.");
  window = new_preferences (settings, cpu_only);
  g_assert_cmpfloat (gtk_spin_button_get_value (find_spin (window, "Threads")), ==, 3);
  text = buffer_text (find_text_buffer (window));
  g_assert_cmpstr (text, ==, "Be brief.");
  g_clear_pointer (&text, g_free);

  /* ...and so do changes made while it is open. */
  g_settings_set_int (settings, "context-size", 0);
  g_assert_cmpfloat (gtk_spin_button_get_value (find_spin (window, "Context Size")), ==, 0);
  /* 0 is shown, and read back, as the word a user understands. */
  g_assert_cmpstr (gtk_editable_get_text (GTK_EDITABLE (find_spin (window, "Context Size"))), ==, "Automatic");
  gtk_spin_button_update (find_spin (window, "Context Size"));
  g_assert_cmpint (g_settings_get_int (settings, "context-size"), ==, 0);
  g_settings_set_uint (settings, "snapshot-limit-mb", 100);
  g_assert_cmpfloat (gtk_spin_button_get_value (find_spin (window, "Snapshot Storage Limit")), ==, 100);
  g_settings_set_double (settings, "top-p", 0.5);
  g_assert_cmpfloat (gtk_spin_button_get_value (find_spin (window, "Top-p")), ==, 0.5);
  g_settings_set_double (settings, "min-p", 0.2);
  g_assert_cmpfloat (gtk_spin_button_get_value (find_spin (window, "Min-p")), ==, 0.2);
  g_settings_set_double (settings, "repeat-penalty", 1.3);
  g_assert_cmpfloat (gtk_spin_button_get_value (find_spin (window, "Repeat Penalty")), ==, 1.3);
  g_settings_set_int64 (settings, "seed", 4242);
  g_assert_false (gtk_switch_get_active (GTK_SWITCH (find_in_row (window, "Random Seed", GTK_TYPE_SWITCH))));
  g_assert_cmpfloat (gtk_spin_button_get_value (find_spin (window, "Seed")), ==, 4242);
  g_settings_set_string (settings, "system-prompt", "Be thorough.");
  text = buffer_text (find_text_buffer (window));
  g_assert_cmpstr (text, ==, "Be thorough.");

  destroy_window (window);
}

static void
test_preferences_threads_subtitle (void)
{
  g_autoptr (GSettings) settings = new_settings ();
  GtkWidget *window = new_preferences (settings, cpu_only);
  GtkWidget *row = find_row (window, "Threads");
  g_autofree char *count = g_strdup_printf (" %u ", g_get_num_processors ());

  g_assert_nonnull (strstr (adw_action_row_get_subtitle (ADW_ACTION_ROW (row)), count));
  g_assert_cmpstr (adw_action_row_get_subtitle (ADW_ACTION_ROW (find_row (window, "Data Folder"))), ==,
                   "/tmp/tern-test-data");

  destroy_window (window);
}

static const char *
combo_item (AdwComboRow *row, guint position)
{
  g_autoptr (GObject) item = g_list_model_get_item (adw_combo_row_get_model (row), position);

  g_assert_true (GTK_IS_STRING_OBJECT (item));
  /* The list holds the item, so the string outlives the reference. */
  return gtk_string_object_get_string (GTK_STRING_OBJECT (item));
}

static void
test_preferences_backends (void)
{
  static const char * const backends[] = { "cpu", "vulkan:0", NULL };
  g_autoptr (GSettings) settings = new_settings ();
  GtkWidget *window = new_preferences (settings, backends);
  AdwComboRow *row = ADW_COMBO_ROW (find_row (window, "Backend"));
  g_autofree char *backend = NULL;

  g_assert_cmpuint (g_list_model_get_n_items (adw_combo_row_get_model (row)), ==, 2);
  g_assert_cmpstr (combo_item (row, 0), ==, "CPU");
  g_assert_cmpstr (combo_item (row, 1), ==, "Vulkan GPU 0");
  g_assert_cmpuint (adw_combo_row_get_selected (row), ==, 0);

  adw_combo_row_set_selected (row, 1);
  backend = g_settings_get_string (settings, "backend");
  g_assert_cmpstr (backend, ==, "vulkan:0");

  g_settings_set_string (settings, "backend", "cpu");
  g_assert_cmpuint (adw_combo_row_get_selected (row), ==, 0);

  destroy_window (window);
}

static void
test_preferences_backend_unavailable (void)
{
  g_autoptr (GSettings) settings = new_settings ();
  GtkWidget *window;
  AdwComboRow *row;
  g_autofree char *backend = NULL;

  /* A GPU chosen earlier that is gone: shown as such, the key kept. */
  g_settings_set_string (settings, "backend", "vulkan:3");
  window = new_preferences (settings, cpu_only);
  row = ADW_COMBO_ROW (find_row (window, "Backend"));
  g_assert_cmpuint (g_list_model_get_n_items (adw_combo_row_get_model (row)), ==, 2);
  g_assert_cmpstr (combo_item (row, 0), ==, "CPU");
  g_assert_cmpstr (combo_item (row, 1), ==, "Vulkan GPU 3 (unavailable)");
  g_assert_cmpuint (adw_combo_row_get_selected (row), ==, 1);
  backend = g_settings_get_string (settings, "backend");
  g_assert_cmpstr (backend, ==, "vulkan:3");

  destroy_window (window);
}

/* Without a list of its own, the window offers this computer's devices,
 * the CPU first. */
static void
test_preferences_devices (void)
{
  g_autoptr (GSettings) settings = new_settings ();
  GtkWidget *window;
  AdwComboRow *row;
  guint n_devices;
  const TernDevice *const *devices = tern_devices (&n_devices);

  g_settings_set_string (settings, "backend", "vulkan:7");
  window = new_preferences (settings, NULL);
  row = ADW_COMBO_ROW (find_row (window, "Backend"));
  /* The devices, then the key's missing one. */
  g_assert_cmpuint (g_list_model_get_n_items (adw_combo_row_get_model (row)), ==, n_devices + 1);
  g_assert_cmpstr (devices[0]->name, ==, "cpu");
  g_assert_cmpstr (combo_item (row, 0), ==, "CPU");
  g_assert_cmpstr (combo_item (row, n_devices), ==, "Vulkan GPU 7 (unavailable)");
  g_assert_cmpuint (adw_combo_row_get_selected (row), ==, n_devices);

  adw_combo_row_set_selected (row, 0);
  {
    g_autofree char *backend = g_settings_get_string (settings, "backend");

    g_assert_cmpstr (backend, ==, "cpu");
  }

  destroy_window (window);
}

static void
test_preferences_escape (void)
{
  g_autoptr (GSettings) settings = new_settings ();
  GtkWidget *window = new_preferences (settings, cpu_only);
  gboolean destroyed = FALSE;

  g_signal_connect (window, "destroy", G_CALLBACK (on_destroy), &destroyed);
  press_escape (window);
  g_assert_true (destroyed);
}

/* ---- Sampling group ---- */

static void
assert_params_equal (const TernSamplerParams *a, const TernSamplerParams *b)
{
  g_assert_cmpfloat (a->temperature, ==, b->temperature);
  g_assert_cmpint (a->top_k, ==, b->top_k);
  g_assert_cmpfloat (a->top_p, ==, b->top_p);
  g_assert_cmpfloat (a->min_p, ==, b->min_p);
  g_assert_cmpfloat (a->repeat_penalty, ==, b->repeat_penalty);
  g_assert_cmpint (a->repeat_last_n, ==, b->repeat_last_n);
  g_assert_cmpfloat (a->frequency_penalty, ==, b->frequency_penalty);
  g_assert_cmpfloat (a->presence_penalty, ==, b->presence_penalty);
  g_assert_cmpuint (a->seed, ==, b->seed);
}

static void
test_sampling_round_trip (void)
{
  GtkWidget *group = g_object_ref_sink (tern_sampling_group_new ());
  TernSamplerParams in = {
    .temperature = 1.25f,
    .top_k = 17,
    .top_p = 0.5f,
    .min_p = 0.1f,
    .repeat_penalty = 1.1f,
    .repeat_last_n = 128,
    .frequency_penalty = 0.3f,
    .presence_penalty = 0.2f,
    .seed = 12345,
  };
  TernSamplerParams out;
  gint max_tokens = -1;

  tern_sampling_group_set_params (TERN_SAMPLING_GROUP (group), &in, 333);
  tern_sampling_group_get_params (TERN_SAMPLING_GROUP (group), &out, &max_tokens);
  assert_params_equal (&out, &in);
  g_assert_cmpint (max_tokens, ==, 333);
  g_assert_true (tern_sampler_params_validate (&out, NULL));

  /* The defaults, random seed included. */
  tern_sampler_params_init (&in);
  tern_sampling_group_set_params (TERN_SAMPLING_GROUP (group), &in, 0);
  tern_sampling_group_get_params (TERN_SAMPLING_GROUP (group), &out, &max_tokens);
  assert_params_equal (&out, &in);
  g_assert_cmpint (max_tokens, ==, 0);

  /* A seed too large to show comes back as it was, until the user changes it. */
  in.seed = G_MAXUINT64 - 5;
  tern_sampling_group_set_params (TERN_SAMPLING_GROUP (group), &in, 64);
  tern_sampling_group_get_params (TERN_SAMPLING_GROUP (group), &out, NULL);
  assert_params_equal (&out, &in);
  g_object_set (group, "seed", (gint64) 7, NULL);
  tern_sampling_group_get_params (TERN_SAMPLING_GROUP (group), &out, NULL);
  g_assert_cmpuint (out.seed, ==, 7);

  g_assert_finalize_object (group);
}

static void
count_notify (GObject *object, GParamSpec *pspec, gpointer user_data)
{
  (*(guint *) user_data)++;
}

static void
test_sampling_properties (void)
{
  GtkWidget *group = g_object_ref_sink (tern_sampling_group_new ());
  GtkSpinButton *temperature = find_spin (group, "Temperature");
  GtkSpinButton *top_k = find_spin (group, "Top-k");
  guint notified = 0;
  double value;
  gint ivalue;
  gint64 seed;

  g_signal_connect (group, "notify::temperature", G_CALLBACK (count_notify), &notified);

  /* Widget to property, notified once per real change. */
  gtk_spin_button_set_value (temperature, 0.25);
  g_object_get (group, "temperature", &value, NULL);
  g_assert_cmpfloat (value, ==, 0.25);
  g_assert_cmpuint (notified, ==, 1);
  gtk_spin_button_set_value (temperature, 0.25);
  g_assert_cmpuint (notified, ==, 1);

  /* Property to widget. */
  g_object_set (group, "temperature", 2.0, NULL);
  g_assert_cmpfloat (gtk_spin_button_get_value (temperature), ==, 2.0);
  g_assert_cmpuint (notified, ==, 2);

  /* Whole-number settings stay whole. */
  gtk_spin_button_set_value (top_k, 12.6);
  g_object_get (group, "top-k", &ivalue, NULL);
  g_assert_cmpint (ivalue, ==, 13);
  g_assert_cmpfloat (gtk_spin_button_get_value (top_k), ==, 13);

  /* The seed: -1 is the switch. */
  g_object_set (group, "seed", (gint64) 5, NULL);
  g_assert_false (gtk_switch_get_active (GTK_SWITCH (find_in_row (group, "Random Seed", GTK_TYPE_SWITCH))));
  g_assert_true (gtk_widget_get_sensitive (find_row (group, "Seed")));
  g_object_set (group, "seed", (gint64) -1, NULL);
  g_assert_true (gtk_switch_get_active (GTK_SWITCH (find_in_row (group, "Random Seed", GTK_TYPE_SWITCH))));
  g_assert_false (gtk_widget_get_sensitive (find_row (group, "Seed")));
  g_object_get (group, "seed", &seed, NULL);
  g_assert_cmpint (seed, ==, -1);

  g_assert_finalize_object (group);
}

static void
test_settings_get_sampling (void)
{
  g_autoptr (GSettings) settings = new_settings ();
  TernSamplerParams params, defaults;
  gint max_tokens = -1;

  /* The schema's defaults are the engine's. */
  tern_sampler_params_init (&defaults);
  tern_settings_get_sampling (settings, &params, &max_tokens);
  assert_params_equal (&params, &defaults);
  g_assert_cmpuint (params.seed, ==, TERN_SAMPLER_SEED_RANDOM);
  g_assert_cmpint (max_tokens, ==, 1024);

  g_settings_set_int64 (settings, "seed", 42);
  g_settings_set_double (settings, "temperature", 0.0);
  g_settings_set_int (settings, "max-tokens", 0);
  tern_settings_get_sampling (settings, &params, &max_tokens);
  g_assert_cmpuint (params.seed, ==, 42);
  g_assert_cmpfloat (params.temperature, ==, 0.0f);
  g_assert_cmpint (max_tokens, ==, 0);
  g_assert_true (tern_sampler_params_validate (&params, NULL));

  g_settings_set_int64 (settings, "seed", -1);
  tern_settings_get_sampling (settings, &params, NULL);
  g_assert_cmpuint (params.seed, ==, TERN_SAMPLER_SEED_RANDOM);
}

/* ---- Conversation settings ---- */

static GtkWidget *
new_conversation_settings (const TernSamplerParams *params, gint max_tokens)
{
  GtkWidget *dialog = tern_conversation_settings_new (NULL, "Trip to Lisbon", "You are a travel agent.", params,
                                                      max_tokens);

  g_assert_true (TERN_IS_CONVERSATION_SETTINGS (dialog));
  g_assert_cmpstr (gtk_window_get_title (GTK_WINDOW (dialog)), ==, "“Trip to Lisbon” Settings");
  gtk_window_present (GTK_WINDOW (dialog));
  return dialog;
}

static void
test_conversation_reset (void)
{
  g_autoptr (GSettings) settings = new_settings ();
  TernSamplerParams params = { 0 }, expected, out;
  gint max_tokens = -1, expected_max_tokens;
  GtkWidget *dialog, *reset;
  g_autofree char *prompt = NULL;

  tern_sampler_params_init (&params);
  params.temperature = 0.1f;
  params.seed = 77;
  params.repeat_last_n = 32;
  dialog = new_conversation_settings (&params, 100);
  reset = find_widget (dialog, is_button_labelled, (gpointer) "_Reset to Defaults");
  g_assert_nonnull (reset);

  /* Nothing to reset to yet. */
  g_assert_false (gtk_widget_get_sensitive (reset));

  g_settings_set_double (settings, "temperature", 1.75);
  g_settings_set_int (settings, "top-k", 5);
  g_settings_set_double (settings, "top-p", 0.8);
  g_settings_set_double (settings, "min-p", 0.0);
  g_settings_set_double (settings, "repeat-penalty", 1.2);
  g_settings_set_int64 (settings, "seed", -1);
  g_settings_set_int (settings, "max-tokens", 2048);
  g_settings_set_string (settings, "system-prompt", "Default prompt.");
  tern_conversation_settings_set_defaults (TERN_CONVERSATION_SETTINGS (dialog), settings);
  g_assert_true (gtk_widget_get_sensitive (reset));

  g_signal_emit_by_name (reset, "clicked");
  tern_settings_get_sampling (settings, &expected, &expected_max_tokens);
  tern_conversation_settings_get_params (TERN_CONVERSATION_SETTINGS (dialog), &out, &max_tokens);
  assert_params_equal (&out, &expected);
  g_assert_cmpint (max_tokens, ==, 2048);
  prompt = tern_conversation_settings_get_system_prompt (TERN_CONVERSATION_SETTINGS (dialog));
  g_assert_cmpstr (prompt, ==, "Default prompt.");
  g_clear_pointer (&prompt, g_free);

  /* The toast's Undo brings everything back. */
  g_assert_true (gtk_widget_activate_action (dialog, "conversation.undo-reset", NULL));
  tern_conversation_settings_get_params (TERN_CONVERSATION_SETTINGS (dialog), &out, &max_tokens);
  assert_params_equal (&out, &params);
  g_assert_cmpint (max_tokens, ==, 100);
  prompt = tern_conversation_settings_get_system_prompt (TERN_CONVERSATION_SETTINGS (dialog));
  g_assert_cmpstr (prompt, ==, "You are a travel agent.");

  destroy_window (dialog);
}

typedef struct {
  guint count;
  char *prompt;
  TernSamplerParams params;
  gint max_tokens;
} Changed;

static void
on_changed (TernConversationSettings *dialog, gpointer user_data)
{
  Changed *changed = user_data;

  changed->count++;
  g_free (changed->prompt);
  changed->prompt = tern_conversation_settings_get_system_prompt (dialog);
  tern_conversation_settings_get_params (dialog, &changed->params, &changed->max_tokens);
}

static void
test_conversation_changed (void)
{
  TernSamplerParams params;
  Changed changed = { 0 };
  gboolean destroyed = FALSE;
  GtkWidget *dialog;

  tern_sampler_params_init (&params);

  /* Closed untouched: nothing to store. */
  dialog = new_conversation_settings (&params, 100);
  g_signal_connect (dialog, "changed", G_CALLBACK (on_changed), &changed);
  g_signal_connect (dialog, "destroy", G_CALLBACK (on_destroy), &destroyed);
  gtk_window_close (GTK_WINDOW (dialog));
  g_assert_true (destroyed);
  g_assert_cmpuint (changed.count, ==, 0);

  /* Edited, closed with Escape: one signal, the new values readable. */
  destroyed = FALSE;
  dialog = new_conversation_settings (&params, 100);
  g_signal_connect (dialog, "changed", G_CALLBACK (on_changed), &changed);
  g_signal_connect (dialog, "destroy", G_CALLBACK (on_destroy), &destroyed);
  gtk_spin_button_set_value (find_spin (dialog, "Maximum Reply Length"), 256);
  gtk_text_buffer_set_text (find_text_buffer (dialog), "You are a poet.", -1);
  g_assert_cmpuint (changed.count, ==, 0);
  press_escape (dialog);
  g_assert_true (destroyed);
  g_assert_cmpuint (changed.count, ==, 1);
  g_assert_cmpstr (changed.prompt, ==, "You are a poet.");
  g_assert_cmpint (changed.max_tokens, ==, 256);
  g_assert_cmpfloat (changed.params.temperature, ==, params.temperature);

  g_free (changed.prompt);
}

/* ---- Accessibility ---- */

/* Every spin button, switch and text view in our pages has an accessible
 * label, and every button a label (its visible text or an accessible
 * label). Spin buttons and switches are read back with GTK's testing API
 * (GTK_A11Y=test keeps the properties set on each widget): their label
 * must equal the title of the row they sit in, which must not be empty.
 * The walk covers the preferences pages, that is everything this project
 * builds, not libadwaita's own window chrome, and it does not enter a spin
 * button (its +/- buttons are GTK's). */
static void
check_accessible (GtkWidget *widget, guint *n_checked)
{
  if (GTK_IS_SPIN_BUTTON (widget) || GTK_IS_SWITCH (widget))
    {
      GtkWidget *row = gtk_widget_get_ancestor (widget, ADW_TYPE_ACTION_ROW);
      const char *title;
      g_autofree char *mismatch = NULL;

      g_assert_nonnull (row);
      title = adw_preferences_row_get_title (ADW_PREFERENCES_ROW (row));
      g_assert_nonnull (title);
      g_assert_cmpstr (title, !=, "");
      mismatch = gtk_test_accessible_check_property (GTK_ACCESSIBLE (widget), GTK_ACCESSIBLE_PROPERTY_LABEL, title);
      if (mismatch != NULL)
        g_error ("%s in row “%s” has the accessible label “%s”", G_OBJECT_TYPE_NAME (widget), title, mismatch);
      (*n_checked)++;
      return;
    }

  if (GTK_IS_TEXT_VIEW (widget))
    {
      g_assert_true (gtk_test_accessible_has_property (GTK_ACCESSIBLE (widget), GTK_ACCESSIBLE_PROPERTY_LABEL));
      (*n_checked)++;
    }
  else if (GTK_IS_BUTTON (widget))
    {
      const char *label = gtk_button_get_label (GTK_BUTTON (widget));

      if ((label == NULL || *label == '\0')
          && !gtk_test_accessible_has_property (GTK_ACCESSIBLE (widget), GTK_ACCESSIBLE_PROPERTY_LABEL))
        g_error ("a %s has no accessible name", G_OBJECT_TYPE_NAME (widget));
      (*n_checked)++;
    }
  else if (ADW_IS_PREFERENCES_ROW (widget))
    {
      /* Rows are named by their title: the combo row, the data folder. */
      g_assert_cmpstr (adw_preferences_row_get_title (ADW_PREFERENCES_ROW (widget)), !=, "");
    }

  for (GtkWidget *child = gtk_widget_get_first_child (widget); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    check_accessible (child, n_checked);
}

static gboolean
collect_page (GtkWidget *widget, gpointer user_data)
{
  if (ADW_IS_PREFERENCES_PAGE (widget))
    g_ptr_array_add (user_data, widget);
  return FALSE;
}

/* Checks every page of @window and returns how many controls it saw. */
static guint
check_window_accessible (GtkWidget *window)
{
  g_autoptr (GPtrArray) pages = g_ptr_array_new ();
  guint n_checked = 0;

  find_widget (window, collect_page, pages);
  g_assert_cmpuint (pages->len, >, 0);
  for (guint i = 0; i < pages->len; i++)
    check_accessible (g_ptr_array_index (pages, i), &n_checked);
  return n_checked;
}

static void
test_accessible (void)
{
  g_autoptr (GSettings) settings = new_settings ();
  GtkWidget *window = new_preferences (settings, cpu_only);
  TernSamplerParams params;
  GtkWidget *dialog;

  /* 3 + 7 spins, the seed switch, the text view, the folder button. */
  g_assert_cmpuint (check_window_accessible (window), ==, 13);
  destroy_window (window);

  tern_sampler_params_init (&params);
  dialog = new_conversation_settings (&params, 100);
  /* 7 spins, the switch, the text view, the reset button. */
  g_assert_cmpuint (check_window_accessible (dialog), ==, 10);
  destroy_window (dialog);
}

int
main (int argc, char **argv)
{
  /* GTK's test accessibility backend keeps what widgets set, for
   * gtk_test_accessible_*, and needs no accessibility bus. The memory
   * settings backend keeps the tests off the user's settings even where
   * the environment forgot to say so. */
  g_setenv ("GTK_A11Y", "test", TRUE);
  g_setenv ("GSETTINGS_BACKEND", "memory", TRUE);

  gtk_test_init (&argc, &argv, NULL);
  adw_init ();

  g_test_add_func ("/app/preferences/spin-to-key", test_preferences_spin_to_key);
  g_test_add_func ("/app/preferences/key-to-spin", test_preferences_key_to_spin);
  g_test_add_func ("/app/preferences/threads-subtitle", test_preferences_threads_subtitle);
  g_test_add_func ("/app/preferences/backends", test_preferences_backends);
  g_test_add_func ("/app/preferences/backend-unavailable", test_preferences_backend_unavailable);
  g_test_add_func ("/app/preferences/devices", test_preferences_devices);
  g_test_add_func ("/app/preferences/escape", test_preferences_escape);
  g_test_add_func ("/app/sampling-group/round-trip", test_sampling_round_trip);
  g_test_add_func ("/app/sampling-group/properties", test_sampling_properties);
  g_test_add_func ("/app/settings/get-sampling", test_settings_get_sampling);
  g_test_add_func ("/app/conversation-settings/reset", test_conversation_reset);
  g_test_add_func ("/app/conversation-settings/changed", test_conversation_changed);
  g_test_add_func ("/app/preferences/accessible", test_accessible);

  return g_test_run ();
}
