/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "tern-application.h"

#include <glib/gi18n.h>

#include "tern-accessible.h"
#include "tern-preferences-window.h"
#include "tern-storage-page.h"
#include "tern-window.h"

struct _TernApplication {
  AdwApplication parent_instance;

  GSettings *settings;
  TernService *service;
  char *data_dir;
  char *demo_model;

  /* Storage trouble: why the database could not be opened (NULL: it
   * was), whether it opens read-only, the page showing it, and a model
   * named on the command line meanwhile. */
  GError *trouble;
  gboolean can_read;
  char *read_only_reason; /* the service is read-only: why */
  GtkWidget *storage_window;
  GFile *pending_model;
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

/* ---- Storage trouble ---- */

/* The database: in the folder chosen on the storage page, else the
 * default one. */
static char *
database_path (TernApplication *self)
{
  g_autofree char *folder = g_settings_get_string (self->settings, "data-folder");

  if (folder[0])
    return g_build_filename (folder, "tern.db", NULL);
  return tern_store_default_path ();
}

static void
first_start_added (GObject *source, GAsyncResult *result, gpointer data);

static void
start_service (TernApplication *self, const char *db, gboolean read_only)
{
  g_autofree char *backend = g_settings_get_string (self->settings, "backend");
  guint n_threads = g_settings_get_uint (self->settings, "threads");
  gint n_ctx = g_settings_get_int (self->settings, "context-size");

  self->service = read_only ? tern_service_new_read_only (db, n_threads, n_ctx, backend)
                            : tern_service_new (db, n_threads, n_ctx, backend);
  tern_service_set_snapshot_limit (self->service,
                                   (gint64) g_settings_get_uint (self->settings, "snapshot-limit-mb") << 20, NULL,
                                   NULL, NULL);
  /* The demo model is in the library from the first start, so a new user
   * can chat at once. */
  if (!read_only && self->demo_model && !g_settings_get_boolean (self->settings, "demo-model-added"))
    {
      g_settings_set_boolean (self->settings, "demo-model-added", TRUE);
      tern_service_add_model (self->service, self->demo_model, NULL, first_start_added, NULL);
    }
}

/* Opens the database once on this thread to learn whether it can be used
 * (then starts the service on it) or why not, and whether it can at least
 * be read. */
static gboolean
try_open (TernApplication *self)
{
  g_autofree char *db = database_path (self);

  g_clear_error (&self->trouble);
  g_free (self->data_dir);
  self->data_dir = g_path_get_dirname (db);
  TernStore *store = tern_store_open (db, &self->trouble);
  if (store)
    {
      tern_store_free (store);
      start_service (self, db, FALSE);
      return TRUE;
    }
  store = tern_store_open_read_only (db, NULL);
  self->can_read = store != NULL;
  tern_store_free (store);
  return FALSE;
}

static void
show_storage_page (TernApplication *self)
{
  if (self->storage_window == NULL)
    {
      self->storage_window = adw_application_window_new (GTK_APPLICATION (self));
      g_object_add_weak_pointer (G_OBJECT (self->storage_window), (gpointer *) &self->storage_window);
      gtk_window_set_title (GTK_WINDOW (self->storage_window), "Tern");
      gtk_window_set_default_size (GTK_WINDOW (self->storage_window), g_settings_get_int (self->settings, "window-width"),
                                   g_settings_get_int (self->settings, "window-height"));
      GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 0);
      gtk_box_append (GTK_BOX (box), adw_header_bar_new ());
      GtkWidget *page = tern_storage_page_new (self->data_dir, self->trouble, self->can_read);
      gtk_widget_set_vexpand (page, TRUE);
      gtk_box_append (GTK_BOX (box), page);
      adw_application_window_set_content (ADW_APPLICATION_WINDOW (self->storage_window), box);
    }
  else
    {
      GtkWidget *box = adw_application_window_get_content (ADW_APPLICATION_WINDOW (self->storage_window));
      tern_storage_page_update (TERN_STORAGE_PAGE (gtk_widget_get_last_child (box)), self->data_dir, self->trouble,
                                self->can_read);
    }
  gtk_window_present (GTK_WINDOW (self->storage_window));
}

/* The service runs: the main window replaces the storage page. */
static void
leave_storage_page (TernApplication *self)
{
  TernWindow *window = tern_window_new (self);

  gtk_window_present (GTK_WINDOW (window));
  if (self->pending_model)
    {
      g_autoptr (GFile) file = g_steal_pointer (&self->pending_model);
      tern_window_open_model_file (window, file);
    }
  if (self->storage_window)
    gtk_window_destroy (GTK_WINDOW (self->storage_window));
}

static void
storage_read_only_activated (GSimpleAction *action, GVariant *param, gpointer data)
{
  TernApplication *self = data;
  g_autofree char *db = database_path (self);

  if (self->service || !self->can_read)
    return;
  self->read_only_reason = g_strdup (tern_storage_cause (self->trouble));
  start_service (self, db, TRUE);
  leave_storage_page (self);
}

static void
storage_retry_activated (GSimpleAction *action, GVariant *param, gpointer data)
{
  TernApplication *self = data;

  if (self->service)
    return;
  if (try_open (self))
    leave_storage_page (self);
  else
    show_storage_page (self);
}

static void
on_folder_chosen (GtkNativeDialog *dialog, int response, gpointer data)
{
  TernApplication *self = data;
  g_autoptr (GFile) folder = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (dialog));

  gtk_native_dialog_destroy (dialog);
  g_object_unref (dialog);
  if (response != GTK_RESPONSE_ACCEPT || folder == NULL || self->service)
    return;
  g_autofree char *path = g_file_get_path (folder);
  /* Kept for the next start too. */
  g_settings_set_string (self->settings, "data-folder", path);
  storage_retry_activated (NULL, NULL, self);
}

static void
storage_choose_folder_activated (GSimpleAction *action, GVariant *param, gpointer data)
{
  TernApplication *self = data;
  GtkFileChooserNative *chooser = gtk_file_chooser_native_new (
      _("Choose a Folder for Tern's Data"), GTK_WINDOW (self->storage_window), GTK_FILE_CHOOSER_ACTION_SELECT_FOLDER,
      _("_Choose"), _("_Cancel"));

  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (chooser), TRUE);
  g_signal_connect (chooser, "response", G_CALLBACK (on_folder_chosen), self);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (chooser));
}

static void
tern_application_activate (GApplication *app)
{
  TernApplication *self = TERN_APPLICATION (app);

  if (self->service == NULL)
    show_storage_page (self);
  else
    gtk_window_present (GTK_WINDOW (main_window (self)));
}

static void
tern_application_open (GApplication *app, GFile **files, int n_files, const char *hint)
{
  TernApplication *self = TERN_APPLICATION (app);

  if (self->service == NULL)
    {
      /* Opened once the database can be used. */
      if (n_files > 0)
        g_set_object (&self->pending_model, files[n_files - 1]);
      show_storage_page (self);
      return;
    }
  TernWindow *window = main_window (self);

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
  { "storage-read-only", storage_read_only_activated },
  { "storage-retry", storage_retry_activated },
  { "storage-choose-folder", storage_choose_folder_activated },
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

  self->demo_model = find_demo_model ();
  self->settings = g_settings_new (TERN_APPLICATION_ID);
  /* A database that cannot be used shows the storage page instead of
   * the window (activate). */
  try_open (self);

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
  g_clear_object (&self->pending_model);
  G_OBJECT_CLASS (tern_application_parent_class)->dispose (object);
}

static void
tern_application_finalize (GObject *object)
{
  TernApplication *self = TERN_APPLICATION (object);

  g_free (self->data_dir);
  g_free (self->demo_model);
  g_clear_error (&self->trouble);
  g_free (self->read_only_reason);
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

const char *
tern_application_get_read_only_reason (TernApplication *self)
{
  g_return_val_if_fail (TERN_IS_APPLICATION (self), NULL);
  return self->read_only_reason;
}
