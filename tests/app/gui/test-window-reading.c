/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The real window while the engine reads a message and writes its reply:
 * the message shown at once, the reading row ("Reading… N of M tokens")
 * and the rate in the status line, Stop then (no empty reply, ready at
 * once), a reply stopped after some tokens kept and marked, another
 * conversation opened mid-reply, and a new chat's status line. The
 * faulty device (tests/tools/faulty-backend.h) holds the prompt's pass
 * until the stop comes, as a large model's pass runs for seconds; the
 * service's test hooks place a stop at an exact point. */
#include "app-harness.h"

#include <tern/service-testing.h>
#include <tern/store.h>

#include "faulty-backend.h"
#include "test-data.h"

#define QUESTION "Tell me of the flood, and of the ark, and of all that was in it."
/* An operation in the second layer of the prompt's pass. */
#define HELD_OP 20
/* Short enough to be its conversation's title. */
#define SECOND "Tell me of the ark."

static gboolean
held (gpointer data)
{
  return faulty_backend_waiting ();
}

/* The label under @widget whose text begins with @prefix, or NULL. */
static GtkLabel *
find_label (GtkWidget *widget, const char *prefix)
{
  if (GTK_IS_LABEL (widget) && gtk_widget_get_visible (widget) &&
      g_str_has_prefix (gtk_label_get_label (GTK_LABEL (widget)), prefix))
    return GTK_LABEL (widget);
  for (GtkWidget *child = gtk_widget_get_first_child (widget); child; child = gtk_widget_get_next_sibling (child))
    {
      GtkLabel *found = find_label (child, prefix);
      if (found)
        return found;
    }
  return NULL;
}

static GtkLabel *
find_note (TernWindow *w, const char *prefix)
{
  return find_label (GTK_WIDGET (w->message_list), prefix);
}

/* The message row a label is in. */
static GtkWidget *
row_of (GtkLabel *label)
{
  GtkWidget *widget = GTK_WIDGET (label);

  while (widget && !g_str_equal (G_OBJECT_TYPE_NAME (widget), "TernMessageRow"))
    widget = gtk_widget_get_parent (widget);
  g_assert_nonnull (widget);
  return widget;
}

static void
assert_description (GtkWidget *row, const char *text)
{
  g_autofree char *mismatch =
      gtk_test_accessible_check_property (GTK_ACCESSIBLE (row), GTK_ACCESSIBLE_PROPERTY_DESCRIPTION, text);
  if (mismatch)
    g_error ("the row's accessible description is “%s”, not “%s”", mismatch, text);
}

/* The messages of the conversation stored in @dir titled @title (the
 * only one when NULL). */
static GPtrArray *
stored_messages (const char *dir, const char *title)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *db = g_build_filename (dir, "tern.db", NULL);
  g_autoptr (TernStore) store = tern_store_open (db, &error);
  g_assert_no_error (error);
  g_autoptr (GPtrArray) list = tern_store_conversation_list (store, FALSE, 0, -1, &error);
  g_assert_no_error (error);
  const TernConversation *c = NULL;
  for (guint i = 0; i < list->len; i++)
    if (title == NULL || g_str_equal (((TernConversation *) list->pdata[i])->title, title))
      c = list->pdata[i];
  g_assert_nonnull (c);
  if (title == NULL)
    g_assert_cmpuint (list->len, ==, 1);
  GPtrArray *messages = tern_store_conversation_messages (store, c->id, 0, &error);
  g_assert_no_error (error);
  return messages;
}

static void
harness_on_faulty (AppHarness *h, gint held_op)
{
  g_autoptr (GSettings) settings = g_settings_new (TERN_APPLICATION_ID);

  app_harness_init (h, NULL, 1, 256);
  g_settings_set_string (settings, "backend", "faulty");
  faulty_backend_plan_stop (held_op, FALSE);
}

/* ---- The message shown at once, the reading row, Esc ---- */

static gboolean
counting (gpointer data)
{
  return find_note (data, "Reading… 0 of ") != NULL;
}

static void
reading_body (AppHarness *hp, gpointer data)
{
  AppHarness h = *hp;
  GActionGroup *actions = G_ACTION_GROUP (h.window);

  app_harness_open_model (h.window, NULL);
  app_harness_send (h.window, QUESTION);
  /* Before the main loop runs again: the message, and no empty page. */
  g_assert_cmpuint (app_harness_n_messages (h.window), >=, 1);
  g_autoptr (TernMessageItem) first = app_harness_message (h.window, 0);
  g_assert_cmpstr (tern_message_item_get_content (first), ==, QUESTION);
  g_assert_false (gtk_widget_get_visible (GTK_WIDGET (h.window->chat_empty)));

  app_harness_wait ("the engine to read the message", held, NULL, 60);
  app_harness_wait ("the count of tokens to read", counting, h.window, 10);
  g_assert_cmpuint (app_harness_n_messages (h.window), ==, 2);
  GtkLabel *note = find_note (h.window, "Reading… ");
  g_assert_nonnull (note);
  int n_read = -1, n_total = -1;
  g_assert_cmpint (sscanf (gtk_label_get_label (note), "Reading… %d of %d tokens", &n_read, &n_total), ==, 2);
  g_assert_cmpint (n_read, ==, 0);
  g_assert_cmpint (n_total, >, 10);
  assert_description (row_of (note), gtk_label_get_label (note));

  /* Esc. */
  gint64 start = g_get_monotonic_time ();
  g_action_group_activate_action (actions, "stop", NULL);
  app_harness_wait ("the window to be ready", app_harness_idle, h.window, 10);
  double took = (g_get_monotonic_time () - start) / 1e6;
  g_test_message ("the window was ready %.3f s after Esc", took);
  g_assert_cmpfloat (took, <, 1);
  app_harness_sync (h.window);
  g_assert_cmpuint (app_harness_n_messages (h.window), ==, 1);
  g_assert_null (find_note (h.window, "Reading"));
  g_assert_null (find_note (h.window, "Assistant"));
}

static void
test_reading (void)
{
  AppHarness h;
  g_autoptr (GSettings) settings = g_settings_new (TERN_APPLICATION_ID);

  harness_on_faulty (&h, HELD_OP);
  app_harness_run (&h, reading_body, NULL);
  faulty_backend_plan_stop (-1, FALSE);
  g_settings_reset (settings, "backend");
  g_autoptr (GPtrArray) messages = stored_messages (h.dir, NULL);
  g_assert_cmpuint (messages->len, ==, 1);
  app_harness_clear (&h);
}

/* ---- The whole reading: N of M, the rate ---- */

typedef struct {
  TernWindow *window;
  char *note;   /* the reading row's note when the last token was read */
  char *status; /* the status line then */
} Seen;

static void
on_prompt_progress (TernService *service, gint n_read, gint n_total, double rate, Seen *seen)
{
  GtkLabel *note = find_note (seen->window, "Reading… ");

  if (n_read < n_total || n_total == 0 || note == NULL)
    return;
  g_free (seen->note);
  seen->note = g_strdup (gtk_label_get_label (note));
  g_free (seen->status);
  seen->status = g_strdup (gtk_label_get_label (seen->window->status_label));
}

static gboolean
answered (gpointer data)
{
  TernWindow *w = data;

  return app_harness_idle (w) && app_harness_n_messages (w) == 2;
}

static void
rate_body (AppHarness *hp, gpointer data)
{
  AppHarness h = *hp;
  Seen seen = { h.window };

  app_harness_open_model (h.window, NULL);
  /* After the window's own handler, which updates the row. */
  gulong handler = g_signal_connect (h.window->service, "prompt-progress", G_CALLBACK (on_prompt_progress), &seen);
  app_harness_send (h.window, QUESTION);
  app_harness_wait ("the reply", answered, h.window, 60);
  g_signal_handler_disconnect (h.window->service, handler);
  app_harness_sync (h.window);

  g_assert_nonnull (seen.note);
  int n_read = -1, n_total = -1;
  g_assert_cmpint (sscanf (seen.note, "Reading… %d of %d tokens", &n_read, &n_total), ==, 2);
  g_assert_cmpint (n_read, ==, n_total);
  g_assert_cmpint (n_total, >, 10);
  g_test_message ("status while reading: %s", seen.status);
  g_assert_nonnull (strstr (seen.status, "reading "));
  g_assert_nonnull (strstr (seen.status, " tokens/s"));
  /* The reply's rate now, not the reading's. */
  const char *status = gtk_label_get_label (h.window->status_label);
  g_assert_null (strstr (status, "reading"));
  g_assert_nonnull (strstr (status, " tokens/s"));

  /* A new chat has no reply yet, so no rate. */
  g_action_group_activate_action (G_ACTION_GROUP (h.window), "new-conversation", NULL);
  app_harness_sync (h.window);
  status = gtk_label_get_label (h.window->status_label);
  g_test_message ("status in a new chat: %s", status);
  g_assert_null (strstr (status, "tokens/s"));
  g_free (seen.note);
  g_free (seen.status);
}

static void
test_rate (void)
{
  AppHarness h;

  app_harness_init (&h, NULL, 1, 256);
  app_harness_run (&h, rate_body, NULL);
  app_harness_clear (&h);
}

/* ---- Stopped as the reading ends: nothing empty, shown or stored ---- */

static void
stop_at_end_of_prompt (TernService *service, TernServicePhase phase, double fraction, gpointer data)
{
  if (phase == TERN_SERVICE_PHASE_PROMPT && fraction >= 1.0)
    tern_service_stop (service);
}

static void
stop_at_end_body (AppHarness *hp, gpointer data)
{
  AppHarness h = *hp;

  app_harness_open_model (h.window, NULL);
  tern_service_testing_set_progress_hook (h.window->service, stop_at_end_of_prompt, NULL);
  app_harness_send (h.window, QUESTION);
  app_harness_wait ("the window to be ready", app_harness_idle, h.window, 60);
  app_harness_sync (h.window);
  tern_service_testing_set_progress_hook (h.window->service, NULL, NULL);
  g_assert_cmpuint (app_harness_n_messages (h.window), ==, 1);
  g_assert_null (find_note (h.window, "Reading"));
  g_assert_null (find_note (h.window, "Stopped"));
  g_assert_true (g_action_group_get_action_enabled (G_ACTION_GROUP (h.window), "send") ||
                 gtk_text_buffer_get_char_count (gtk_text_view_get_buffer (h.window->composer)) == 0);
  g_assert_cmpstr (gtk_actionable_get_action_name (GTK_ACTIONABLE (h.window->send_button)), ==, "win.send");
}

static void
test_stop_at_end (void)
{
  AppHarness h;

  app_harness_init (&h, NULL, 1, 256);
  app_harness_run (&h, stop_at_end_body, NULL);
  g_autoptr (GPtrArray) messages = stored_messages (h.dir, NULL);
  g_assert_cmpuint (messages->len, ==, 1);
  g_assert_cmpint (((TernMessage *) messages->pdata[0])->role, ==, TERN_ROLE_USER);
  app_harness_clear (&h);
}

/* ---- Stopped after some tokens: kept, marked ---- */

static void
stop_at_token (TernService *service, guint n_tokens, gpointer data)
{
  if (n_tokens == 3)
    tern_service_stop (service);
}

static void
stopped_body (AppHarness *hp, gpointer data)
{
  AppHarness h = *hp;

  app_harness_open_model (h.window, NULL);
  tern_service_testing_set_token_hook (h.window->service, stop_at_token, NULL);
  app_harness_send (h.window, QUESTION);
  app_harness_wait ("the reply", answered, h.window, 60);
  app_harness_sync (h.window);
  tern_service_testing_set_token_hook (h.window->service, NULL, NULL);
  g_autoptr (TernMessageItem) reply = app_harness_message (h.window, 1);
  g_test_message ("the reply stopped: %s", tern_message_item_get_content (reply));
  g_assert_cmpstr (tern_message_item_get_content (reply), !=, "");
  GtkLabel *note = find_note (h.window, "Stopped");
  g_assert_nonnull (note);
  assert_description (row_of (note), "The reply was stopped before its end");
}

static void
test_stopped (void)
{
  AppHarness h;

  app_harness_init (&h, NULL, 1, 256);
  app_harness_run (&h, stopped_body, NULL);
  g_autoptr (GPtrArray) messages = stored_messages (h.dir, NULL);
  g_assert_cmpuint (messages->len, ==, 2);
  g_assert_cmpstr (((TernMessage *) messages->pdata[1])->content, !=, "");
  app_harness_clear (&h);
}

/* ---- Another conversation opened mid-reply ---- */

/* Each token takes a while, as on a large model. */
static void
slow_token (TernService *service, guint n_tokens, gpointer data)
{
  g_usleep (300 * 1000);
}

static void
on_reply_finished (TernService *service, gint64 reply_id, gboolean incomplete, double rate, int *stopped)
{
  *stopped = incomplete;
}

static gboolean
shows_first (gpointer data)
{
  TernWindow *w = data;

  if (app_harness_n_messages (w) != 2 || w->reply != NULL)
    return FALSE;
  g_autoptr (TernMessageItem) item = app_harness_message (w, 0);
  return g_str_equal (tern_message_item_get_content (item), "First");
}

static void
switch_body (AppHarness *hp, gpointer data)
{
  AppHarness h = *hp;
  g_autoptr (GSettings) settings = g_settings_new (TERN_APPLICATION_ID);

  app_harness_open_model (h.window, NULL);
  g_settings_set_int (settings, "max-tokens", 4);
  app_harness_send (h.window, "First");
  app_harness_wait ("the first reply", answered, h.window, 60);
  app_harness_sync (h.window);
  gint64 first_id = h.window->conversation_id;

  g_settings_set_int (settings, "max-tokens", 0);
  g_action_group_activate_action (G_ACTION_GROUP (h.window), "new-conversation", NULL);
  tern_service_testing_set_token_hook (h.window->service, slow_token, NULL);
  app_harness_send (h.window, SECOND);
  app_harness_wait ("the second reply to stream", app_harness_has_reply, h.window, 60);

  /* A click on the first conversation in the sidebar. */
  guint position = G_MAXUINT;
  GListModel *list = G_LIST_MODEL (h.window->conversation_selection);
  for (guint i = 0; i < g_list_model_get_n_items (list); i++)
    {
      g_autoptr (TernConversationItem) item = g_list_model_get_item (list, i);
      if (tern_conversation_item_get_id (item) == first_id)
        position = i;
    }
  g_assert_cmpuint (position, !=, G_MAXUINT);
  int stopped = -1;
  gulong handler = g_signal_connect (h.window->service, "reply-finished", G_CALLBACK (on_reply_finished), &stopped);
  gint64 start = g_get_monotonic_time ();
  g_signal_emit_by_name (h.window->conversation_list, "activate", position);
  app_harness_wait ("the first conversation", shows_first, h.window, 1);
  g_test_message ("the first conversation was shown %.3f s after the click", (g_get_monotonic_time () - start) / 1e6);
  g_assert_cmpint (h.window->conversation_id, ==, first_id);
  app_harness_wait ("the window to be ready", app_harness_idle, h.window, 10);
  app_harness_sync (h.window);
  tern_service_testing_set_token_hook (h.window->service, NULL, NULL);
  g_signal_handler_disconnect (h.window->service, handler);
  /* Stopped, not ended on its own. */
  g_assert_cmpint (stopped, ==, TRUE);
  g_assert_true (shows_first (h.window));
  g_assert_cmpint (tern_service_get_conversation_id (h.window->service), ==, first_id);
}

static void
test_switch (void)
{
  AppHarness h;

  app_harness_init (&h, NULL, 1, 256);
  app_harness_run (&h, switch_body, NULL);
  /* The second conversation keeps what was written. */
  g_autoptr (GPtrArray) messages = stored_messages (h.dir, SECOND);
  g_assert_cmpuint (messages->len, ==, 2);
  g_assert_cmpstr (((TernMessage *) messages->pdata[1])->content, !=, "");
  app_harness_clear (&h);
}

int
main (int argc, char *argv[])
{
  gtk_test_init (&argc, &argv, NULL);
  adw_init ();
  faulty_backend_register ();

  g_test_add_func ("/app/window/reading/shown", test_reading);
  g_test_add_func ("/app/window/reading/rate", test_rate);
  g_test_add_func ("/app/window/reading/stop-at-end", test_stop_at_end);
  g_test_add_func ("/app/window/reading/stopped", test_stopped);
  g_test_add_func ("/app/window/reading/switch", test_switch);
  return g_test_run ();
}
