/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "app-harness.h"

#include "test-data.h"

static gboolean remove_dir;

void
app_harness_init (AppHarness *h, const char *dir, guint n_threads, gint n_ctx)
{
  g_autoptr (GError) error = NULL;

  memset (h, 0, sizeof *h);
  remove_dir = dir == NULL;
  h->dir = dir ? g_strdup (dir) : g_dir_make_tmp ("tern-app-XXXXXX", &error);
  g_assert_no_error (error);
  g_setenv ("TERN_DATA_DIR", h->dir, TRUE);
  g_setenv ("TERN_DEMO_MODEL", "", TRUE);

  g_autoptr (GSettings) settings = g_settings_new (TERN_APPLICATION_ID);
  g_settings_set_uint (settings, "threads", n_threads);
  g_settings_set_int (settings, "context-size", n_ctx);
  g_settings_set_string (settings, "backend", "cpu");
  g_settings_set_double (settings, "temperature", 0.0);
  g_settings_set_int (settings, "max-tokens", 24);
}

typedef struct {
  AppHarness *h;
  AppHarnessBody body;
  gpointer data;
  GWeakRef window;
} Run;

static void
on_activate (GApplication *app, Run *run)
{
  AppHarness *h = run->h;

  h->window = TERN_WINDOW (gtk_application_get_active_window (GTK_APPLICATION (app)));
  g_assert_nonnull (h->window);
  g_weak_ref_set (&run->window, h->window);
  app_harness_sync (h->window);
  app_harness_wait ("the window to settle", app_harness_idle, h->window, 60);
  run->body (h, run->data);
  h->window = NULL;
  g_action_group_activate_action (G_ACTION_GROUP (app), "quit", NULL);
}

void
app_harness_run (AppHarness *h, AppHarnessBody body, gpointer data)
{
  Run run = { h, body, data };

  h->app = tern_application_new ();
  /* Tests of one run may overlap on the session bus. */
  g_application_set_flags (G_APPLICATION (h->app), G_APPLICATION_HANDLES_OPEN | G_APPLICATION_NON_UNIQUE);
  g_weak_ref_init (&run.window, NULL);
  g_signal_connect_after (h->app, "activate", G_CALLBACK (on_activate), &run);
  g_assert_cmpint (g_application_run (G_APPLICATION (h->app), 0, NULL), ==, 0);
  g_clear_object (&h->app);
  /* The window went with the application: nothing kept it alive. */
  g_assert_null (g_weak_ref_get (&run.window));
  g_weak_ref_clear (&run.window);
}

void
app_harness_clear (AppHarness *h)
{
  if (remove_dir)
    test_remove_tree (h->dir);
  g_clear_pointer (&h->dir, g_free);
}

typedef struct {
  gboolean timed_out;
} Deadline;

static gboolean
on_deadline (gpointer data)
{
  ((Deadline *) data)->timed_out = TRUE;
  return G_SOURCE_REMOVE;
}

void
app_harness_wait (const char *what, gboolean (*done) (gpointer data), gpointer data, guint timeout_s)
{
  Deadline deadline = { FALSE };
  guint source = g_timeout_add_seconds (timeout_s, on_deadline, &deadline);

  while (!done (data) && !deadline.timed_out)
    g_main_context_iteration (NULL, TRUE);
  if (deadline.timed_out)
    g_error ("Timed out after %u s waiting for %s", timeout_s, what);
  g_source_remove (source);
}

static void
on_synced (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr (GPtrArray) list = tern_service_list_models_finish (TERN_SERVICE (source), result, NULL);

  *(gboolean *) data = TRUE;
}

static gboolean
flag_set (gpointer data)
{
  return *(gboolean *) data;
}

void
app_harness_sync (TernWindow *window)
{
  /* Twice: an answer may make a request of its own (a change, then the
   * list read again). */
  for (int i = 0; i < 2; i++)
    {
      gboolean done = FALSE;
      tern_service_list_models (window->service, NULL, on_synced, &done);
      app_harness_wait ("the engine to catch up", flag_set, &done, 120);
      while (g_main_context_iteration (NULL, FALSE))
        ;
    }
}

GtkWidget *
app_harness_find_widget (GtkWidget *root, AppHarnessMatch match, gconstpointer data)
{
  if (match (root, data))
    return root;
  for (GtkWidget *child = gtk_widget_get_first_child (root); child; child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *found = app_harness_find_widget (child, match, data);

      if (found)
        return found;
    }
  return NULL;
}

gboolean
app_harness_is_label_text (GtkWidget *widget, gconstpointer text)
{
  return GTK_IS_LABEL (widget) && g_strcmp0 (gtk_label_get_text (GTK_LABEL (widget)), text) == 0;
}

gboolean
app_harness_is_value_text (GtkWidget *widget, gconstpointer text)
{
  return app_harness_is_label_text (widget, text) && gtk_label_get_selectable (GTK_LABEL (widget));
}

gboolean
app_harness_is_button_labelled (GtkWidget *widget, gconstpointer label)
{
  return GTK_IS_BUTTON (widget) && g_strcmp0 (gtk_button_get_label (GTK_BUTTON (widget)), label) == 0;
}

gboolean
app_harness_is_menu_button (GtkWidget *widget, gconstpointer data)
{
  return GTK_IS_MENU_BUTTON (widget);
}

void
app_harness_open_model (TernWindow *window, const char *path)
{
  g_autofree char *fixture = g_test_build_filename (G_TEST_DIST, "data", "models", "kjv-tiny-q4_k_m.gguf", NULL);
  g_autoptr (GFile) file = g_file_new_for_path (path ? path : fixture);

  tern_window_open_model_file (window, file);
  app_harness_wait ("the model to load", app_harness_model_ready, window, 60);
}

gboolean
app_harness_model_ready (gpointer data)
{
  TernWindow *w = data;

  return tern_service_get_model_loaded (w->service) && w->model_pending == 0;
}

gboolean
app_harness_idle (gpointer data)
{
  TernWindow *w = data;

  return !w->busy && !w->opening && w->model_pending == 0 && w->reply == NULL && w->fill == NULL &&
         !tern_service_get_generating (w->service);
}

gboolean
app_harness_has_reply (gpointer data)
{
  TernWindow *w = data;

  return w->reply != NULL && tern_message_item_get_content (w->reply)[0] != '\0';
}

void
app_harness_send (TernWindow *window, const char *text)
{
  gtk_text_buffer_set_text (gtk_text_view_get_buffer (window->composer), text, -1);
  g_assert_true (g_action_group_get_action_enabled (G_ACTION_GROUP (window), "send"));
  g_action_group_activate_action (G_ACTION_GROUP (window), "send", NULL);
}

TernMessageItem *
app_harness_message (TernWindow *window, guint i)
{
  return g_list_model_get_item (G_LIST_MODEL (window->messages), i);
}

guint
app_harness_n_messages (TernWindow *window)
{
  return g_list_model_get_n_items (G_LIST_MODEL (window->messages));
}

gboolean
app_harness_is_row_titled (GtkWidget *widget, gconstpointer title)
{
  return ADW_IS_ACTION_ROW (widget) && g_strcmp0 (adw_preferences_row_get_title (ADW_PREFERENCES_ROW (widget)), title) == 0;
}

typedef struct {
  GtkWidget *root;
  AppHarnessMatch match;
  gconstpointer data;
} Find;

static gboolean
has_widget (gpointer data)
{
  const Find *find = data;

  return app_harness_find_widget (find->root, find->match, find->data) != NULL;
}

void
app_harness_wait_widget (const char *what, GtkWidget *root, AppHarnessMatch match, gconstpointer data)
{
  Find find = { root, match, data };

  app_harness_wait (what, has_widget, &find, 120);
}

static gboolean
is_mapped (gpointer widget)
{
  return gtk_widget_get_mapped (widget);
}

void
app_harness_click (GtkWidget *button)
{
  g_assert_nonnull (button);
  app_harness_wait ("the button to be on screen", is_mapped, button, 60);
  g_assert_true (gtk_widget_is_sensitive (button));
  g_signal_emit_by_name (button, "clicked");
}

gboolean
app_harness_replied (gpointer window)
{
  return app_harness_idle (window) && app_harness_n_messages (window) >= 2;
}

static gboolean
widget_mapped (gpointer widget)
{
  return gtk_widget_get_mapped (widget);
}

GtkWindow *
app_harness_find_toplevel (GType type)
{
  g_autoptr (GList) toplevels = gtk_window_list_toplevels ();

  for (GList *l = toplevels; l; l = l->next)
    if (G_TYPE_CHECK_INSTANCE_TYPE (l->data, type) && gtk_widget_get_visible (l->data))
      return l->data;
  return NULL;
}

void
app_harness_choose_from_menu (GtkWidget *row, const char *text)
{
  GtkWidget *more = app_harness_find_widget (row, app_harness_is_menu_button, NULL);

  g_assert_nonnull (more);
  g_assert_true (gtk_widget_get_mapped (more));
  gtk_menu_button_popup (GTK_MENU_BUTTON (more));

  GtkWidget *popover = GTK_WIDGET (gtk_menu_button_get_popover (GTK_MENU_BUTTON (more)));
  GtkWidget *label = app_harness_find_widget (popover, app_harness_is_label_text, text);

  if (label == NULL)
    g_error ("the row's menu has no item \"%s\"", text);
  GtkWidget *item = gtk_widget_get_ancestor (label, g_type_from_name ("GtkModelButton"));
  g_assert_nonnull (item);
  /* The popover maps on a later frame when the machine is busy. */
  app_harness_wait ("the menu item to show", widget_mapped, item, 10);
  g_signal_emit_by_name (item, "clicked");
}
