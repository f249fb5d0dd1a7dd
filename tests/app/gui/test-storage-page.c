/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Storage trouble under Xvfb with the real application: a database that
 * cannot be opened or written shows the storage page (not an empty app)
 * naming the folder and the cause, with what can be done; Open Read-Only
 * shows the stored conversations with everything that writes off.
 *
 * As root the read-only folder and the full disk are real: a tmpfs in a
 * mount namespace of this process only; where that cannot be mounted,
 * those cases are skipped. */
#define _GNU_SOURCE
#include <sched.h>
#include <sys/mount.h>
#include <unistd.h>

#include <sqlite3.h>
#include <tern/store.h>

#include "app-harness.h"
#include "test-data.h"

static gboolean can_mount;

typedef struct {
  const char *cause;     /* a phrase the page must show */
  gboolean can_read;     /* Open Read-Only offered */
  char *dir;             /* the data folder */
  gboolean checked;
} Case;

/* Every label's text in @widget, visible ones only, one per line. */
static void
collect_text (GtkWidget *widget, GString *out)
{
  if (!gtk_widget_get_visible (widget))
    return;
  if (GTK_IS_LABEL (widget))
    g_string_append_printf (out, "%s\n", gtk_label_get_text (GTK_LABEL (widget)));
  for (GtkWidget *c = gtk_widget_get_first_child (widget); c; c = gtk_widget_get_next_sibling (c))
    collect_text (c, out);
}

static GtkWidget *
find_button (GtkWidget *widget, const char *action)
{
  if (GTK_IS_BUTTON (widget) && g_strcmp0 (gtk_actionable_get_action_name (GTK_ACTIONABLE (widget)), action) == 0)
    return widget;
  for (GtkWidget *c = gtk_widget_get_first_child (widget); c; c = gtk_widget_get_next_sibling (c))
    {
      GtkWidget *found = find_button (c, action);
      if (found)
        return found;
    }
  return NULL;
}

static gboolean
main_window_up (gpointer app)
{
  GtkWindow *w = gtk_application_get_active_window (app);
  return w && TERN_IS_WINDOW (w) && g_list_length (gtk_application_get_windows (app)) == 1;
}

static gboolean
conversations_listed (gpointer window)
{
  return g_list_model_get_n_items (G_LIST_MODEL (TERN_WINDOW (window)->conversations)) == 1;
}

static gboolean
messages_shown (gpointer window)
{
  return app_harness_n_messages (window) == 2;
}

static void
on_activate (GApplication *app, Case *c)
{
  GtkWindow *page_window = gtk_application_get_active_window (GTK_APPLICATION (app));

  /* The storage page, not the (empty) main window. */
  g_assert_nonnull (page_window);
  g_assert_false (TERN_IS_WINDOW (page_window));
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_autoptr (GString) text = g_string_new (NULL);
  collect_text (GTK_WIDGET (page_window), text);
  g_test_message ("page:\n%s", text->str);
  g_assert_nonnull (strstr (text->str, "Your Conversations Cannot Be Opened"));
  g_assert_nonnull (strstr (text->str, c->dir));
  g_assert_nonnull (strstr (text->str, c->cause));
  g_assert_null (strstr (text->str, "sqlite"));
  g_assert_null (strstr (text->str, "SQL"));

  GtkWidget *read_only = find_button (GTK_WIDGET (page_window), "app.storage-read-only");
  const char *actions[] = { "app.storage-choose-folder", "app.storage-retry", "app.quit" };
  const char *names[] = { "Choose Another Folder…", "Try Again", "Quit" };
  for (guint i = 0; i < G_N_ELEMENTS (actions); i++)
    {
      GtkWidget *b = find_button (GTK_WIDGET (page_window), actions[i]);
      g_assert_nonnull (b);
      g_assert_true (gtk_widget_get_visible (b));
      g_autofree char *label = g_strdup (gtk_button_get_label (GTK_BUTTON (b)));
      g_assert_nonnull (strstr (text->str, names[i]));
      g_assert_nonnull (gtk_widget_get_tooltip_text (b));
    }
  g_assert_nonnull (read_only);
  g_assert_cmpint (gtk_widget_get_visible (read_only), ==, c->can_read);

  /* Try Again, still broken: the page stays. */
  g_action_group_activate_action (G_ACTION_GROUP (app), "storage-retry", NULL);
  g_assert_false (TERN_IS_WINDOW (gtk_application_get_active_window (GTK_APPLICATION (app))));

  if (c->can_read)
    {
      app_harness_click (read_only);
      app_harness_wait ("the main window", main_window_up, app, 30);
      TernWindow *window = TERN_WINDOW (gtk_application_get_active_window (GTK_APPLICATION (app)));
      app_harness_sync (window);
      app_harness_wait ("the conversations", conversations_listed, window, 30);
      g_assert_true (tern_service_get_read_only (window->service));
      tern_window_open_conversation (window, 1);
      app_harness_wait ("the messages", messages_shown, window, 30);
      g_autoptr (TernMessageItem) reply = app_harness_message (window, 1);
      g_assert_cmpstr (tern_message_item_get_content (reply), ==, "general kenobi");
      /* Writing is off, and the banner says why. */
      g_assert_true (gtk_revealer_get_reveal_child (window->banner));
      g_assert_true (g_str_has_prefix (gtk_label_get_text (window->banner_label), "Read-only: "));
      g_assert_nonnull (strstr (gtk_label_get_text (window->banner_label), c->cause));
      g_assert_false (g_action_group_get_action_enabled (G_ACTION_GROUP (window), "send"));
      g_assert_false (g_action_group_get_action_enabled (G_ACTION_GROUP (window), "new-conversation"));
      g_assert_false (g_action_group_get_action_enabled (G_ACTION_GROUP (window), "delete-conversation"));
      g_assert_false (g_action_group_get_action_enabled (G_ACTION_GROUP (window), "rename-conversation"));
      g_assert_false (g_action_group_get_action_enabled (G_ACTION_GROUP (window), "add-model"));
      g_assert_false (gtk_widget_get_sensitive (GTK_WIDGET (window->send_button)));
      g_assert_false (gtk_widget_get_sensitive (GTK_WIDGET (window->composer)));
      /* Trying anyway changes nothing and crashes nothing. */
      g_action_group_activate_action (G_ACTION_GROUP (window), "delete-conversation", g_variant_new_int64 (1));
      app_harness_sync (window);
      g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (window->conversations)), ==, 1);
    }
  c->checked = TRUE;
  g_action_group_activate_action (G_ACTION_GROUP (app), "quit", NULL);
}

static void
run_case (Case *c)
{
  g_setenv ("TERN_DATA_DIR", c->dir, TRUE);
  g_setenv ("TERN_DEMO_MODEL", "", TRUE);
  TernApplication *app = tern_application_new ();
  g_application_set_flags (G_APPLICATION (app), G_APPLICATION_HANDLES_OPEN | G_APPLICATION_NON_UNIQUE);
  g_signal_connect_after (app, "activate", G_CALLBACK (on_activate), c);
  g_assert_cmpint (g_application_run (G_APPLICATION (app), 0, NULL), ==, 0);
  g_object_unref (app);
  g_assert_true (c->checked);
}

/* A database of one conversation with two messages in @dir. */
static char *
make_db (const char *dir)
{
  g_autoptr (GError) error = NULL;
  char *path = g_build_filename (dir, "tern.db", NULL);
  g_autoptr (TernStore) store = tern_store_open (path, &error);
  g_assert_no_error (error);
  gint64 c = tern_store_conversation_new (store, "Kept", 0, NULL, NULL, &error);
  gint64 m = tern_store_message_add (store, c, 0, TERN_ROLE_USER, "hello there", NULL, 0, NULL, &error);
  g_assert_cmpint (tern_store_message_add (store, c, m, TERN_ROLE_ASSISTANT, "general kenobi", NULL, 0, NULL, &error),
                   >, 0);
  return path;
}

static char *
make_dir (void)
{
  char *dir = g_dir_make_tmp ("tern-storage-XXXXXX", NULL);
  g_assert_nonnull (dir);
  return dir;
}

static void
test_not_a_database (void)
{
  Case c = { "damaged, or is not a Tern database", FALSE, make_dir () };
  g_autofree char *path = g_build_filename (c.dir, "tern.db", NULL);
  g_autofree char *bytes = g_strnfill (8192, 'j');

  g_assert_true (g_file_set_contents (path, bytes, 8192, NULL));
  run_case (&c);
  test_remove_tree (c.dir);
  g_free (c.dir);
}

static void
test_newer_schema (void)
{
  Case c = { "newer version of Tern", TRUE, make_dir () };
  g_autofree char *path = make_db (c.dir);
  sqlite3 *db;
  g_autofree char *sql = g_strdup_printf ("PRAGMA user_version = %d", TERN_STORE_SCHEMA_VERSION + 1);

  g_assert_cmpint (sqlite3_open (path, &db), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_exec (db, sql, NULL, NULL, NULL), ==, SQLITE_OK);
  sqlite3_close (db);
  run_case (&c);
  test_remove_tree (c.dir);
  g_free (c.dir);
}

static void
test_read_only_folder (void)
{
  Case c = { "cannot write to this folder", TRUE, make_dir () };

  if (!can_mount || mount ("tmpfs", c.dir, "tmpfs", 0, "size=4m") != 0)
    {
      g_test_skip ("a read-only tmpfs cannot be mounted here");
      test_remove_tree (c.dir);
      g_free (c.dir);
      return;
    }
  g_autofree char *path = make_db (c.dir);
  g_assert_cmpint (mount (NULL, c.dir, NULL, MS_REMOUNT | MS_RDONLY, NULL), ==, 0);
  run_case (&c);
  g_assert_cmpint (umount (c.dir), ==, 0);
  test_remove_tree (c.dir);
  g_free (c.dir);
}

static void
test_full (void)
{
  Case c = { "disk holding this folder is full", TRUE, make_dir () };

  if (!can_mount || mount ("tmpfs", c.dir, "tmpfs", 0, "size=1m") != 0)
    {
      g_test_skip ("a small tmpfs cannot be mounted here");
      test_remove_tree (c.dir);
      g_free (c.dir);
      return;
    }
  /* A database out of WAL mode: opening must write to turn it on. */
  g_autofree char *path = make_db (c.dir);
  sqlite3 *db;
  g_assert_cmpint (sqlite3_open (path, &db), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_exec (db, "PRAGMA journal_mode = DELETE", NULL, NULL, NULL), ==, SQLITE_OK);
  sqlite3_close (db);
  g_autofree char *filler = g_build_filename (c.dir, "filler", NULL);
  FILE *fp = fopen (filler, "w");
  char block[4096] = { 0 };
  while (fwrite (block, 1, sizeof block, fp) == sizeof block && fflush (fp) == 0)
    ;
  fclose (fp);
  run_case (&c);
  g_assert_cmpint (umount (c.dir), ==, 0);
  test_remove_tree (c.dir);
  g_free (c.dir);
}

int
main (int argc, char **argv)
{
  gtk_test_init (&argc, &argv, NULL);
  can_mount = geteuid () == 0 && unshare (CLONE_NEWNS) == 0 && mount (NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0;
  g_test_add_func ("/storage-page/not-a-database", test_not_a_database);
  g_test_add_func ("/storage-page/newer-schema", test_newer_schema);
  g_test_add_func ("/storage-page/read-only-folder", test_read_only_folder);
  g_test_add_func ("/storage-page/full", test_full);
  return g_test_run ();
}
