/* SPDX-License-Identifier: GPL-3.0-or-later */
/* TernService and another program on its database: a request waits for
 * the program's lock while "waiting" says so, Stop, a cancellable or
 * shutdown end the wait at once with nothing stored, a message the other
 * program raced is refused with CONFLICT, and a damaged conversation fails
 * to open with the repair named. */
#include <sqlite3.h>
#include <string.h>
#include <tern/service.h>

#include "test-data.h"

#define MODEL "kjv-tiny-q4_k_m.gguf"
#define TIMEOUT_S 120

typedef struct {
  char *dir;
  char *db;
  char *model;
  GMainLoop *loop;
  guint timeout;
  GAsyncResult *result;
  gboolean done;
  guint n_waiting;       /* "waiting" became TRUE */
  guint n_not_waiting;   /* and FALSE again */
  gint64 waiting_since;
  gboolean stop_when_waiting;
  gboolean shutdown_when_waiting;
  GCancellable *cancel_when_waiting;
  gint64 stopped_at;
  sqlite3 *other;        /* another program holding the lock */
  gint held;             /* hold_lock holds it */
} Fixture;

static gboolean
on_timeout (gpointer data)
{
  g_error ("the test took longer than %d s", TIMEOUT_S);
  return G_SOURCE_REMOVE;
}

static void
fixture_init (Fixture *f)
{
  g_autoptr (GError) error = NULL;

  f->dir = g_dir_make_tmp ("tern-service-locks-XXXXXX", &error);
  g_assert_no_error (error);
  f->db = g_build_filename (f->dir, "tern.db", NULL);
  f->model = g_test_build_filename (G_TEST_DIST, "data", "models", MODEL, NULL);
  f->loop = g_main_loop_new (NULL, FALSE);
  f->timeout = g_timeout_add_seconds (TIMEOUT_S, on_timeout, NULL);
}

static void
fixture_clear (Fixture *f)
{
  g_assert_null (f->other);
  g_source_remove (f->timeout);
  g_main_loop_unref (f->loop);
  test_remove_tree (f->dir);
  g_free (f->dir);
  g_free (f->db);
  g_free (f->model);
  g_assert_null (f->result);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Fixture, fixture_clear)

static void
got_result (GObject *source, GAsyncResult *result, gpointer data)
{
  Fixture *f = data;

  g_clear_object (&f->result);
  f->result = g_object_ref (result);
  f->done = TRUE;
  g_main_loop_quit (f->loop);
}

static GAsyncResult *
await (Fixture *f)
{
  g_clear_object (&f->result);
  f->done = FALSE;
  while (!f->done)
    g_main_loop_run (f->loop);
  return f->result;
}

static void
lock_db (Fixture *f)
{
  g_assert_cmpint (sqlite3_open (f->db, &f->other), ==, SQLITE_OK);
  sqlite3_busy_timeout (f->other, 5000);
  g_assert_cmpint (sqlite3_exec (f->other, "BEGIN EXCLUSIVE; UPDATE conversations SET title = title", NULL, NULL, NULL),
                   ==, SQLITE_OK);
}

static void
unlock_db (Fixture *f)
{
  g_assert_cmpint (sqlite3_exec (f->other, "ROLLBACK", NULL, NULL, NULL), ==, SQLITE_OK);
  sqlite3_close (f->other);
  f->other = NULL;
}

/* Holds the lock from another thread for @seconds, so that a wait that
 * shutdown should end cannot hang the test. */
static gpointer
hold_lock (gpointer data)
{
  Fixture *f = data;
  sqlite3 *db;

  g_assert_cmpint (sqlite3_open (f->db, &db), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_exec (db, "BEGIN EXCLUSIVE; UPDATE conversations SET title = title", NULL, NULL, NULL), ==,
                   SQLITE_OK);
  g_atomic_int_set (&f->held, TRUE);
  g_usleep (3 * G_USEC_PER_SEC);
  sqlite3_exec (db, "ROLLBACK", NULL, NULL, NULL);
  sqlite3_close (db);
  return NULL;
}

static gboolean
unlock_later (gpointer data)
{
  unlock_db (data);
  return G_SOURCE_REMOVE;
}

static void
on_waiting (TernService *service, GParamSpec *pspec, Fixture *f)
{
  if (!tern_service_get_waiting (service))
    {
      f->n_not_waiting++;
      return;
    }
  f->n_waiting++;
  f->waiting_since = g_get_monotonic_time ();
  f->stopped_at = g_get_monotonic_time ();
  if (f->stop_when_waiting)
    tern_service_stop (service);
  if (f->cancel_when_waiting)
    g_cancellable_cancel (f->cancel_when_waiting);
  if (f->shutdown_when_waiting)
    tern_service_shutdown (service);
}

static TernService *
service_new (Fixture *f)
{
  TernService *service = tern_service_new (f->db, 2, 256, NULL);

  g_signal_connect (service, "notify::waiting", G_CALLBACK (on_waiting), f);
  return service;
}

/* A service with the model loaded and a conversation of one turn open;
 * returns the conversation's id. */
static gint64
ready (Fixture *f, TernService *service)
{
  g_autoptr (GError) error = NULL;
  TernSamplerParams greedy;

  tern_service_load_model (service, f->model, NULL, got_result, f);
  g_assert_cmpint (tern_service_load_model_finish (service, await (f), &error), >, 0);
  g_assert_no_error (error);
  tern_sampler_params_init (&greedy);
  greedy.temperature = 0;
  tern_service_new_conversation (service, "Locks", NULL, &greedy, NULL, got_result, f);
  gint64 id = tern_service_new_conversation_finish (service, await (f), &error);
  g_assert_no_error (error);
  tern_service_open_conversation (service, id, NULL, got_result, f);
  g_assert_cmpint (tern_service_open_conversation_finish (service, await (f), &error), >=, 0);
  g_assert_no_error (error);
  tern_service_send_message (service, "In the beginning", 4, NULL, got_result, f);
  g_assert_cmpint (tern_service_send_message_finish (service, await (f), &error), >, 0);
  g_assert_no_error (error);
  return id;
}

/* The conversation's messages' texts, one a line, read from the file. */
static char *
transcript (Fixture *f, gint64 id)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (TernStore) store = tern_store_open (f->db, &error);
  g_assert_no_error (error);
  g_autoptr (GPtrArray) messages = tern_store_conversation_messages (store, id, 0, &error);
  g_assert_no_error (error);
  g_autoptr (GString) text = g_string_new (NULL);
  for (guint i = 0; i < messages->len; i++)
    g_string_append_printf (text, "%s\n", ((TernMessage *) messages->pdata[i])->content);
  return g_string_free (g_steal_pointer (&text), FALSE);
}

/* A message sent while another program holds the database waits, shown
 * by "waiting", and is answered once the lock is free. */
static void
test_wait (void)
{
  g_auto (Fixture) f = { 0 };
  g_autoptr (GError) error = NULL;

  fixture_init (&f);
  TernService *service = service_new (&f);
  gint64 id = ready (&f, service);
  lock_db (&f);
  g_timeout_add (1000, unlock_later, &f);
  gint64 start = g_get_monotonic_time ();
  tern_service_send_message (service, "typed while busy", 4, NULL, got_result, &f);
  gint64 reply = tern_service_send_message_finish (service, await (&f), &error);
  g_assert_no_error (error);
  g_assert_cmpint (reply, >, 0);
  g_assert_cmpint (g_get_monotonic_time () - start, >=, 900000);
  g_assert_cmpuint (f.n_waiting, ==, 1);
  g_assert_cmpuint (f.n_not_waiting, ==, 1);
  g_assert_false (tern_service_get_waiting (service));
  g_clear_object (&f.result);
  g_assert_finalize_object (service);
  g_autofree char *text = transcript (&f, id);
  g_assert_nonnull (strstr (text, "In the beginning\n"));
  g_assert_nonnull (strstr (text, "typed while busy\n"));
}

/* Stop while it waits: CANCELLED at once, and the message is not stored. */
static void
test_wait_stopped (void)
{
  g_auto (Fixture) f = { 0 };
  g_autoptr (GError) error = NULL;

  fixture_init (&f);
  TernService *service = service_new (&f);
  gint64 id = ready (&f, service);
  lock_db (&f);
  f.stop_when_waiting = TRUE;
  tern_service_send_message (service, "typed while busy", 4, NULL, got_result, &f);
  g_assert_cmpint (tern_service_send_message_finish (service, await (&f), &error), ==, 0);
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_CANCELLED);
  g_assert_cmpint (g_get_monotonic_time () - f.stopped_at, <, 300000);
  g_assert_cmpuint (f.n_waiting, ==, 1);
  g_assert_false (tern_service_get_waiting (service));
  unlock_db (&f);
  g_clear_object (&f.result);
  g_assert_finalize_object (service);
  g_autofree char *text = transcript (&f, id);
  g_assert_null (strstr (text, "typed while busy"));
}

/* A store request waiting: its cancellable ends it, and so does shutdown
 * (quitting the app), at once. */
static void
test_wait_cancelled (void)
{
  g_auto (Fixture) f = { 0 };
  g_autoptr (GError) error = NULL;
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();

  fixture_init (&f);
  TernService *service = service_new (&f);
  gint64 id = ready (&f, service);
  lock_db (&f);
  f.cancel_when_waiting = cancellable;
  tern_service_rename_conversation (service, id, "Renamed", cancellable, got_result, &f);
  g_assert_false (tern_service_rename_conversation_finish (service, await (&f), &error));
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_CANCELLED);
  g_assert_cmpint (g_get_monotonic_time () - f.stopped_at, <, 300000);
  g_clear_error (&error);
  f.cancel_when_waiting = NULL;

  unlock_db (&f);

  /* Quit while a rename waits, a message and another change behind it:
   * the rename ends at once, the message is not started, and the change
   * (store requests still run after shutdown) gives up its wait as soon
   * as it notices it. */
  GThread *holder = g_thread_new ("holder", hold_lock, &f);
  while (!g_atomic_int_get (&f.held))
    g_usleep (1000);
  f.shutdown_when_waiting = TRUE;
  tern_service_rename_conversation (service, id, "Renamed", NULL, got_result, &f);
  tern_service_send_message (service, "typed while busy", 4, NULL, NULL, NULL);
  tern_service_set_max_tokens (service, id, 7, NULL, NULL, NULL);
  gint64 start = g_get_monotonic_time ();
  g_assert_false (tern_service_rename_conversation_finish (service, await (&f), &error));
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_CANCELLED);
  g_assert_cmpint (g_get_monotonic_time () - f.stopped_at, <, TERN_STORE_BUSY_NOTICE_MS * 1000 + 300000);
  g_assert_cmpint (g_get_monotonic_time () - start, <, 2 * TERN_STORE_BUSY_NOTICE_MS * 1000 + 600000);
  g_thread_join (holder);
  g_clear_object (&f.result);
  g_assert_finalize_object (service);
  g_autofree char *text = transcript (&f, id);
  g_assert_null (strstr (text, "typed while busy"));
}

/* Another program added to the open conversation: the service's message
 * is refused with CONFLICT, nothing stored; opened again, it goes on. */
static void
test_conflict (void)
{
  g_auto (Fixture) f = { 0 };
  g_autoptr (GError) error = NULL;

  fixture_init (&f);
  TernService *service = service_new (&f);
  gint64 id = ready (&f, service);
  g_autoptr (TernStore) other = tern_store_open (f.db, &error);
  g_assert_no_error (error);
  g_assert_cmpint (tern_store_message_add (other, id, TERN_STORE_HEAD, TERN_ROLE_USER, "from the other program", NULL,
                                           0, NULL, &error), >, 0);
  g_assert_no_error (error);

  tern_service_send_message (service, "from the app", 4, NULL, got_result, &f);
  g_assert_cmpint (tern_service_send_message_finish (service, await (&f), &error), ==, 0);
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_CONFLICT);
  g_autofree char *expected = g_strdup_printf ("conversation %" G_GINT64_FORMAT " was changed by another program; "
                                               "open it again", id);
  g_assert_cmpstr (error->message, ==, expected);
  g_clear_error (&error);
  g_autofree char *text = transcript (&f, id);
  g_assert_null (strstr (text, "from the app"));

  tern_service_open_conversation (service, id, NULL, got_result, &f);
  g_assert_cmpint (tern_service_open_conversation_finish (service, await (&f), &error), >=, 0);
  g_assert_no_error (error);
  tern_service_send_message (service, "from the app", 4, NULL, got_result, &f);
  g_assert_cmpint (tern_service_send_message_finish (service, await (&f), &error), >, 0);
  g_assert_no_error (error);
  g_clear_object (&f.result);
  g_assert_finalize_object (service);
  g_autofree char *after = transcript (&f, id);
  g_assert_nonnull (strstr (after, "from the other program\n"));
  g_assert_nonnull (strstr (after, "from the app\n"));
}

/* A loop of parents: opening and reading the conversation fail at once,
 * naming the conversation and the repair. */
static void
test_damaged (void)
{
  g_auto (Fixture) f = { 0 };
  g_autoptr (GError) error = NULL;
  sqlite3 *db;

  fixture_init (&f);
  TernService *service = service_new (&f);
  gint64 id = ready (&f, service);
  g_assert_cmpint (sqlite3_open (f.db, &db), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_exec (db, "UPDATE messages SET parent_id = 2 WHERE id = 1", NULL, NULL, NULL), ==,
                   SQLITE_OK);
  sqlite3_close (db);

  g_autofree char *prefix = g_strdup_printf ("conversation %" G_GINT64_FORMAT " is damaged: ", id);
  tern_service_open_conversation (service, id, NULL, got_result, &f);
  g_assert_cmpint (tern_service_open_conversation_finish (service, await (&f), &error), ==, -1);
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_FORMAT);
  g_assert_true (g_str_has_prefix (error->message, prefix));
  g_assert_nonnull (strstr (error->message, "tern-cli history check --repair"));
  g_clear_error (&error);
  tern_service_list_messages (service, id, NULL, got_result, &f);
  g_assert_null (tern_service_list_messages_finish (service, await (&f), &error));
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_FORMAT);
  g_clear_object (&f.result);
  g_assert_finalize_object (service);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/service/locks/wait", test_wait);
  g_test_add_func ("/service/locks/wait-stopped", test_wait_stopped);
  g_test_add_func ("/service/locks/wait-cancelled", test_wait_cancelled);
  g_test_add_func ("/service/locks/conflict", test_conflict);
  g_test_add_func ("/service/locks/damaged", test_damaged);
  return g_test_run ();
}
