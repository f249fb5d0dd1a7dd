/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "tern-application.h"

#include <glib/gi18n.h>

#include "tern-accessible.h"
#include "tern-preferences-window.h"
#include "tern-window.h"

struct _TernApplication {
  AdwApplication parent_instance;

  GSettings *settings;
  TernService *service;
  char *data_dir;
  char *demo_model;
};

G_DEFINE_FINAL_TYPE (TernApplication, tern_application, ADW_TYPE_APPLICATION)

/* Where the demo model is: installed with Tern, or, when Tern runs from
 * its build folder, in the source tree. TERN_DEMO_MODEL overrides both
 * (tests, and an empty value hides the demo). Canonical, as the library
 * stores paths, so the two can be compared. */
static char *
find_demo_model (void)
{
  const char *env = g_getenv ("TERN_DEMO_MODEL");
  const char *candidates[] = { TERN_DEMO_MODEL_INSTALLED, TERN_DEMO_MODEL_SOURCE };

  if (env)
    return env[0] && g_file_test (env, G_FILE_TEST_IS_REGULAR) ? g_canonicalize_filename (env, NULL) : NULL;
  for (guint i = 0; i < G_N_ELEMENTS (candidates); i++)
    if (g_file_test (candidates[i], G_FILE_TEST_IS_REGULAR))
      return g_canonicalize_filename (candidates[i], NULL);
  return NULL;
}

static TernWindow *
main_window (TernApplication *self)
{
  GtkWindow *window = gtk_application_get_active_window (GTK_APPLICATION (self));

  return window ? TERN_WINDOW (window) : tern_window_new (self);
}

static void
tern_application_activate (GApplication *app)
{
  gtk_window_present (GTK_WINDOW (main_window (TERN_APPLICATION (app))));
}

static void
tern_application_open (GApplication *app, GFile **files, int n_files, const char *hint)
{
  TernWindow *window = main_window (TERN_APPLICATION (app));

  gtk_window_present (GTK_WINDOW (window));
  /* One model at a time: the last named is the one chatted with. */
  if (n_files > 0)
    tern_window_open_model_file (window, files[n_files - 1]);
}

static void
first_start_added (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr (GError) error = NULL;

  if (tern_service_add_model_finish (TERN_SERVICE (source), result, &error) == 0)
    g_warning ("The demo model could not be added to the library: %s", error->message);
}

static void
quit_activated (GSimpleAction *action, GVariant *param, gpointer data)
{
  TernApplication *self = data;
  GList *windows = gtk_application_get_windows (GTK_APPLICATION (self));

  /* Closing each window lets it store a reply being written. */
  while (windows)
    {
      GList *next = windows->next;
      gtk_window_close (windows->data);
      windows = next;
    }
}

static void
preferences_activated (GSimpleAction *action, GVariant *param, gpointer data)
{
  TernApplication *self = data;
  GtkWidget *window = tern_preferences_window_new (gtk_application_get_active_window (GTK_APPLICATION (self)),
                                                   self->settings, self->data_dir, NULL);

  gtk_window_present (GTK_WINDOW (window));
}

static void
about_activated (GSimpleAction *action, GVariant *param, gpointer data)
{
  TernApplication *self = data;
  const char *developers[] = { "The Tern developers", NULL };

  adw_show_about_window (gtk_application_get_active_window (GTK_APPLICATION (self)),
                         "application-name", "Tern",
                         "application-icon", TERN_APPLICATION_ID,
                         "version", TERN_VERSION,
                         "comments", _("Chat with language models on your computer, offline"),
                         "developers", developers,
                         "license-type", GTK_LICENSE_GPL_3_0,
                         NULL);
}

static const GActionEntry app_actions[] = {
  { "quit", quit_activated },
  { "preferences", preferences_activated },
  { "about", about_activated },
};

static void
tern_application_startup (GApplication *app)
{
  TernApplication *self = TERN_APPLICATION (app);
  const struct {
    const char *action;
    const char *accels[3];
  } accels[] = {
    { "app.quit", { "<Control>q", NULL } },
    { "app.preferences", { "<Control>comma", NULL } },
    { "win.new-conversation", { "<Control>n", NULL } },
    { "win.search", { "<Control>f", NULL } },
    { "win.focus-composer", { "<Control>l", NULL } },
    { "win.stop", { "Escape", NULL } },
    { "win.show-library", { "<Control>m", NULL } },
    { "win.conversation-settings", { "<Control><Shift>comma", NULL } },
  };

  G_APPLICATION_CLASS (tern_application_parent_class)->startup (app);
  tern_accessible_watch_windows ();

  g_autofree char *db = tern_store_default_path ();
  self->data_dir = g_path_get_dirname (db);
  self->demo_model = find_demo_model ();
  self->settings = g_settings_new (TERN_APPLICATION_ID);
  g_autofree char *backend = g_settings_get_string (self->settings, "backend");
  self->service = tern_service_new (NULL, g_settings_get_uint (self->settings, "threads"),
                                    g_settings_get_int (self->settings, "context-size"), backend);
  tern_service_set_snapshot_limit (self->service,
                                   (gint64) g_settings_get_uint (self->settings, "snapshot-limit-mb") << 20, NULL,
                                   NULL, NULL);
  /* The demo model is in the library from the first start, so a new user
   * can chat at once. */
  if (self->demo_model && !g_settings_get_boolean (self->settings, "demo-model-added"))
    {
      g_settings_set_boolean (self->settings, "demo-model-added", TRUE);
      tern_service_add_model (self->service, self->demo_model, NULL, first_start_added, NULL);
    }

  g_action_map_add_action_entries (G_ACTION_MAP (self), app_actions, G_N_ELEMENTS (app_actions), self);
  for (guint i = 0; i < G_N_ELEMENTS (accels); i++)
    gtk_application_set_accels_for_action (GTK_APPLICATION (self), accels[i].action, accels[i].accels);
}

static void
tern_application_shutdown (GApplication *app)
{
  TernApplication *self = TERN_APPLICATION (app);

  /* Stores a reply being written and joins the engine thread. */
  if (self->service)
    tern_service_shutdown (self->service);
  G_APPLICATION_CLASS (tern_application_parent_class)->shutdown (app);
}

static void
tern_application_dispose (GObject *object)
{
  TernApplication *self = TERN_APPLICATION (object);

  g_clear_object (&self->service);
  g_clear_object (&self->settings);
  G_OBJECT_CLASS (tern_application_parent_class)->dispose (object);
}

static void
tern_application_finalize (GObject *object)
{
  TernApplication *self = TERN_APPLICATION (object);

  g_free (self->data_dir);
  g_free (self->demo_model);
  G_OBJECT_CLASS (tern_application_parent_class)->finalize (object);
}

static void
tern_application_class_init (TernApplicationClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GApplicationClass *app_class = G_APPLICATION_CLASS (klass);

  object_class->dispose = tern_application_dispose;
  object_class->finalize = tern_application_finalize;
  app_class->activate = tern_application_activate;
  app_class->open = tern_application_open;
  app_class->startup = tern_application_startup;
  app_class->shutdown = tern_application_shutdown;
}

static void
tern_application_init (TernApplication *self)
{
}

TernApplication *
tern_application_new (void)
{
  return g_object_new (TERN_TYPE_APPLICATION, "application-id", TERN_APPLICATION_ID, "flags",
                       G_APPLICATION_HANDLES_OPEN, "resource-base-path", "/io/github/ternapp/Tern", NULL);
}

TernService *
tern_application_get_service (TernApplication *self)
{
  g_return_val_if_fail (TERN_IS_APPLICATION (self), NULL);
  return self->service;
}

GSettings *
tern_application_get_settings (TernApplication *self)
{
  g_return_val_if_fail (TERN_IS_APPLICATION (self), NULL);
  return self->settings;
}

const char *
tern_application_get_data_dir (TernApplication *self)
{
  g_return_val_if_fail (TERN_IS_APPLICATION (self), NULL);
  return self->data_dir;
}

const char *
tern_application_get_demo_model (TernApplication *self)
{
  g_return_val_if_fail (TERN_IS_APPLICATION (self), NULL);
  return self->demo_model;
}
