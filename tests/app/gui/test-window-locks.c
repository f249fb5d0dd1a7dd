/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The window while another program uses its database: a message sent then
 * stays shown, pending, while the status line says the database is busy,
 * and is answered once it is free; stopped, or refused because the other
 * program changed the conversation, its text goes back to the composer; a
 * damaged conversation shows what is wrong and the command that repairs
 * it, in place of its messages. */
#include "app-harness.h"

#include <sqlite3.h>

#include "test-data.h"

#define MODEL "kjv-tiny-q4_k_m.gguf"
#define WAITING "Waiting for the database: another program is using it…"

typedef struct {
  AppHarness *h;
  char *model;
  char *db;
  sqlite3 *other;
} World;

static void
lock_db (World *w)
{
  g_assert_cmpint (sqlite3_open (w->db, &w->other), ==, SQLITE_OK);
  sqlite3_busy_timeout (w->other, 5000);
  g_assert_cmpint (sqlite3_exec (w->other, "BEGIN EXCLUSIVE; UPDATE conversations SET title = title", NULL, NULL, NULL),
                   ==, SQLITE_OK);
}

static void
unlock_db (World *w)
{
  g_assert_cmpint (sqlite3_exec (w->other, "ROLLBACK", NULL, NULL, NULL), ==, SQLITE_OK);
  sqlite3_close (w->other);
  w->other = NULL;
}

static gboolean
waiting_shown (gpointer data)
{
  TernWindow *win = data;

  return strstr (gtk_label_get_label (win->status_label), WAITING) != NULL;
}

static char *
composer_text (TernWindow *win)
{
  GtkTextBuffer *buffer = gtk_text_view_get_buffer (win->composer);
  GtkTextIter start, end;

  gtk_text_buffer_get_bounds (buffer, &start, &end);
  return gtk_text_buffer_get_text (buffer, &start, &end, FALSE);
}

/* The last message (before the reply's reading row, when it is there):
 * @text, a user message; @stored: with its id, else pending. */
static void
assert_last (TernWindow *win, const char *text, gboolean stored)
{
  guint n = app_harness_n_messages (win);
  g_autoptr (TernMessageItem) last = app_harness_message (win, n - 1);
  g_autoptr (TernMessageItem) item =
      tern_message_item_get_reading (last, NULL, NULL) ? app_harness_message (win, n - 2) : g_object_ref (last);

  g_assert_cmpstr (tern_message_item_get_content (item), ==, text);
  g_assert_cmpint (tern_message_item_get_role (item), ==, TERN_ROLE_USER);
  if (stored)
    g_assert_cmpint (tern_message_item_get_id (item), >, 0);
  else
    g_assert_cmpint (tern_message_item_get_id (item), ==, 0);
}

/* Whether conversation @id has a message @text, as the file says. */
static gboolean
stored (World *w, gint64 id, const char *text)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (TernStore) store = tern_store_open (w->db, &error);
  g_assert_no_error (error);
  g_autoptr (GPtrArray) messages = tern_store_conversation_messages (store, id, 0, &error);
  g_assert_no_error (error);
  for (guint i = 0; i < messages->len; i++)
    if (g_str_equal (((TernMessage *) messages->pdata[i])->content, text))
      return TRUE;
  return FALSE;
}

/* The model loaded and a first turn answered; returns the conversation. */
static gint64
first_turn (World *w)
{
  TernWindow *win = w->h->window;
  app_harness_open_model (win, w->model);
  app_harness_send (win, "In the beginning");
  app_harness_wait ("the first reply", app_harness_replied, win, 120);
  app_harness_sync (win);
  return win->conversation_id;
}

static void
wait_body (AppHarness *h, gpointer data)
{
  World *w = data;
  TernWindow *win = h->window;
  gint64 id = first_turn (w);

  lock_db (w);
  app_harness_send (win, "typed while busy");
  app_harness_wait ("the waiting status", waiting_shown, win, 30);
  assert_last (win, "typed while busy", FALSE);
  g_assert_true (g_action_group_get_action_enabled (G_ACTION_GROUP (win), "stop"));
  unlock_db (w);
  app_harness_wait ("the reply", app_harness_replied, win, 120);
  app_harness_sync (win);
  g_assert_false (waiting_shown (win));
  guint n = app_harness_n_messages (win);
  g_assert_cmpuint (n, ==, 4);
  g_autoptr (TernMessageItem) user = app_harness_message (win, 2);
  g_assert_cmpstr (tern_message_item_get_content (user), ==, "typed while busy");
  g_assert_cmpint (tern_message_item_get_id (user), >, 0);
  g_assert_true (stored (w, id, "typed while busy"));
}

static void
stop_body (AppHarness *h, gpointer data)
{
  World *w = data;
  TernWindow *win = h->window;
  gint64 id = first_turn (w);

  lock_db (w);
  app_harness_send (win, "typed while busy");
  app_harness_wait ("the waiting status", waiting_shown, win, 30);
  g_action_group_activate_action (G_ACTION_GROUP (win), "stop", NULL);
  app_harness_wait ("the stop", app_harness_idle, win, 10);
  app_harness_sync (win);
  unlock_db (w);
  /* Not stored: the text is back to send again, the chat as it was. */
  g_autofree char *text = composer_text (win);
  g_assert_cmpstr (text, ==, "typed while busy");
  g_assert_cmpuint (app_harness_n_messages (win), ==, 2);
  g_assert_false (waiting_shown (win));
  g_assert_false (stored (w, id, "typed while busy"));
  g_assert_true (g_action_group_get_action_enabled (G_ACTION_GROUP (win), "send"));
}

static void
conflict_body (AppHarness *h, gpointer data)
{
  World *w = data;
  TernWindow *win = h->window;
  g_autoptr (GError) error = NULL;
  gint64 id = first_turn (w);

  /* tern-cli, say, adds to the conversation the window shows. */
  g_autoptr (TernStore) other = tern_store_open (w->db, &error);
  g_assert_no_error (error);
  g_assert_cmpint (tern_store_message_add (other, id, TERN_STORE_HEAD, TERN_ROLE_USER, "from the other program", NULL,
                                           0, NULL, &error), >, 0);
  g_assert_no_error (error);
  app_harness_send (win, "from the app");
  app_harness_wait ("the refusal", app_harness_idle, win, 60);
  app_harness_sync (win);
  g_autofree char *text = composer_text (win);
  g_assert_cmpstr (text, ==, "from the app");
  g_assert_false (stored (w, id, "from the app"));
  /* Read again: the other program's message shows. */
  assert_last (win, "from the other program", TRUE);

  g_action_group_activate_action (G_ACTION_GROUP (win), "send", NULL);
  app_harness_wait ("the reply", app_harness_replied, win, 120);
  app_harness_sync (win);
  g_assert_true (stored (w, id, "from the app"));
}

static void
damaged_body (AppHarness *h, gpointer data)
{
  World *w = data;
  TernWindow *win = h->window;
  sqlite3 *db;
  gint64 id = first_turn (w);

  g_assert_cmpint (sqlite3_open (w->db, &db), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_exec (db, "UPDATE messages SET parent_id = 2 WHERE id = 1", NULL, NULL, NULL), ==,
                   SQLITE_OK);
  sqlite3_close (db);
  tern_window_open_conversation (win, id);
  app_harness_wait ("the conversation to open", app_harness_idle, win, 30);
  app_harness_sync (win);
  g_assert_cmpuint (app_harness_n_messages (win), ==, 0);
  g_assert_true (gtk_widget_get_visible (GTK_WIDGET (win->chat_empty)));
  g_assert_cmpstr (adw_status_page_get_title (win->chat_empty), ==, "This Conversation Cannot Be Shown");
  const char *why = adw_status_page_get_description (win->chat_empty);
  g_autofree char *name = g_strdup_printf ("conversation %" G_GINT64_FORMAT " is damaged", id);
  g_assert_nonnull (strstr (why, name));
  g_assert_nonnull (strstr (why, "tern-cli history check --repair"));
}

static void
run_world (AppHarnessBody body)
{
  AppHarness h;
  World w = { &h };

  app_harness_init (&h, NULL, 1, 1024);
  w.model = g_test_build_filename (G_TEST_DIST, "data", "models", MODEL, NULL);
  w.db = g_build_filename (h.dir, "tern.db", NULL);
  app_harness_run (&h, body, &w);
  g_assert_null (w.other);
  app_harness_clear (&h);
  g_free (w.model);
  g_free (w.db);
}

static void
test_wait (void)
{
  run_world (wait_body);
}

static void
test_stop (void)
{
  run_world (stop_body);
}

static void
test_conflict (void)
{
  run_world (conflict_body);
}

static void
test_damaged (void)
{
  run_world (damaged_body);
}

int
main (int argc, char **argv)
{
  gtk_test_init (&argc, &argv, NULL);
  adw_init ();
  g_test_add_func ("/app/window/locks/wait", test_wait);
  g_test_add_func ("/app/window/locks/stop", test_stop);
  g_test_add_func ("/app/window/locks/conflict", test_conflict);
  g_test_add_func ("/app/window/locks/damaged", test_damaged);
  return g_test_run ();
}
