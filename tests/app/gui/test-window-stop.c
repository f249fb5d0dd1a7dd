/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The real window stopped and quit while the engine reads the user's
 * message ("Reading your message…"): the engine runs on the faulty device
 * (tests/tools/faulty-backend.h), which holds it in the middle of the
 * prompt's pass until the stop comes, as a large model's pass runs for
 * seconds. */
#include "app-harness.h"

#include <tern/store.h>

#include "faulty-backend.h"
#include "test-data.h"

#define QUESTION "Tell me of the flood, and of the ark, and of all that was in it."
/* An operation in the second layer of the prompt's pass. */
#define HELD_OP 20

static gboolean
held (gpointer data)
{
  return faulty_backend_waiting ();
}

static gboolean
settled (gpointer data)
{
  TernWindow *w = data;

  return app_harness_idle (w) && app_harness_n_messages (w) >= 3;
}

static char *
message_text (TernWindow *w, guint i)
{
  g_autoptr (TernMessageItem) item = app_harness_message (w, i);

  return g_strdup (tern_message_item_get_content (item));
}

/* Stop while the message is read: the window is ready again at once, the
 * message stays shown and stored, unanswered, and the next one is
 * answered. */
static void
stop_body (AppHarness *hp, gpointer data)
{
  AppHarness h = *hp;
  GActionGroup *actions = G_ACTION_GROUP (h.window);

  app_harness_open_model (h.window, NULL);
  app_harness_send (h.window, QUESTION);
  app_harness_wait ("the engine to read the message", held, NULL, 60);
  g_assert_true (g_action_group_get_action_enabled (actions, "stop"));
  gint64 start = g_get_monotonic_time ();
  g_action_group_activate_action (actions, "stop", NULL);
  app_harness_wait ("the window to be ready", app_harness_idle, h.window, 10);
  double took = (g_get_monotonic_time () - start) / 1e6;
  g_test_message ("the window was ready %.3f s after Stop", took);
  g_assert_cmpfloat (took, <, 1);
  g_assert_cmpint (faulty_backend_n_ops_stopped (), <=, 16);

  app_harness_sync (h.window);
  g_assert_cmpuint (app_harness_n_messages (h.window), ==, 1);
  g_autofree char *shown = message_text (h.window, 0);
  g_assert_cmpstr (shown, ==, QUESTION);
  g_assert_false (g_action_group_get_action_enabled (actions, "stop"));
  g_assert_cmpstr (gtk_actionable_get_action_name (GTK_ACTIONABLE (h.window->send_button)), ==, "win.send");

  app_harness_send (h.window, "And then?");
  app_harness_wait ("the reply", settled, h.window, 60);
  app_harness_sync (h.window);
  g_assert_cmpuint (app_harness_n_messages (h.window), ==, 3);
  g_autofree char *reply = message_text (h.window, 2);
  g_assert_cmpstr (reply, !=, "");
}

/* The only messages of the only conversation stored in @dir. */
static GPtrArray *
stored_messages (const char *dir)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *db = g_build_filename (dir, "tern.db", NULL);
  g_autoptr (TernStore) store = tern_store_open (db, &error);
  g_assert_no_error (error);
  g_autoptr (GPtrArray) list = tern_store_conversation_list (store, FALSE, 0, -1, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (list->len, ==, 1);
  GPtrArray *messages = tern_store_conversation_messages (store, ((TernConversation *) list->pdata[0])->id, 0, &error);
  g_assert_no_error (error);
  return messages;
}

static void
test_stop_reading (void)
{
  AppHarness h;
  g_autoptr (GSettings) settings = g_settings_new (TERN_APPLICATION_ID);

  app_harness_init (&h, NULL, 1, 256);
  g_settings_set_string (settings, "backend", "faulty");
  faulty_backend_plan_stop (HELD_OP, FALSE);
  app_harness_run (&h, stop_body, NULL);
  faulty_backend_plan_stop (-1, FALSE);
  g_autoptr (GPtrArray) messages = stored_messages (h.dir);
  g_assert_cmpuint (messages->len, ==, 3);
  g_assert_cmpstr (((TernMessage *) messages->pdata[0])->content, ==, QUESTION);
  app_harness_clear (&h);
}

static gint64 quit_at;

/* Quit (app.quit, as Ctrl+Q) while the message is read. */
static void
quit_body (AppHarness *hp, gpointer data)
{
  AppHarness h = *hp;

  app_harness_open_model (h.window, NULL);
  app_harness_send (h.window, QUESTION);
  app_harness_wait ("the engine to read the message", held, NULL, 60);
  /* Returning quits, as app.quit does. */
  quit_at = g_get_monotonic_time ();
}

/* The application ends within a second, the message stored, unanswered. */
static void
test_quit_reading (void)
{
  AppHarness h;
  g_autoptr (GSettings) settings = g_settings_new (TERN_APPLICATION_ID);

  app_harness_init (&h, NULL, 1, 256);
  g_settings_set_string (settings, "backend", "faulty");
  faulty_backend_plan_stop (HELD_OP, FALSE);
  app_harness_run (&h, quit_body, NULL);
  double took = (g_get_monotonic_time () - quit_at) / 1e6;
  faulty_backend_plan_stop (-1, FALSE);
  g_test_message ("the application ended %.3f s after quit", took);
  g_assert_cmpfloat (took, <, 1);
  g_assert_cmpint (faulty_backend_n_ops_stopped (), <=, 16);
  g_autoptr (GPtrArray) messages = stored_messages (h.dir);
  g_assert_cmpuint (messages->len, ==, 1);
  g_assert_cmpint (((TernMessage *) messages->pdata[0])->role, ==, TERN_ROLE_USER);
  g_assert_cmpstr (((TernMessage *) messages->pdata[0])->content, ==, QUESTION);
  app_harness_clear (&h);
}

int
main (int argc, char *argv[])
{
  gtk_test_init (&argc, &argv, NULL);
  adw_init ();
  faulty_backend_register ();

  g_test_add_func ("/app/window/stop-reading", test_stop_reading);
  g_test_add_func ("/app/window/quit-reading", test_quit_reading);
  return g_test_run ();
}
