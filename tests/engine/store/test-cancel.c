/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The store's long operations end within 0.3 s of their cancellable being
 * cancelled, at any moment, with CANCELLED and nothing half-written: an
 * export of everything, an import of a large file, a search, a snapshot
 * saved and read, emptying the trash. Each is timed whole, then cancelled
 * at random moments within that time.
 *
 * TERN_CANCEL_MESSAGES (default 10,000) sets the number of messages and
 * TERN_CANCEL_TRIALS (default 3) the cancellations per operation; the
 * worst delay is printed. */
#include <stdlib.h>
#include <tern/store.h>

#include "store/store-private.h"
#include "store-test.h"

#define MAX_DELAY_US 300000
#define SNAPSHOT_BYTES ((gsize) 64 << 20)

typedef struct {
  char *dir;
  TernStore *store;
  GCancellable *cancellable;
  char *export;   /* the JSON of every conversation, for the import */
  gint64 worst;   /* the longest delay seen, in µs */
  guint trials;
  GRand *rand;
} Fixture;

typedef struct {
  GCancellable *cancellable;
  gint64 delay_us;
  gint64 cancelled_at;
} Canceller;

static gpointer
canceller_main (gpointer data)
{
  Canceller *c = data;

  g_usleep (c->delay_us);
  c->cancelled_at = g_get_monotonic_time ();
  g_cancellable_cancel (c->cancellable);
  return NULL;
}

static guint
env_uint (const char *name, guint fallback)
{
  const char *text = g_getenv (name);
  return text ? (guint) atoi (text) : fallback;
}

/* Conversations of ten messages each, made in one statement each. */
static void
fill (TernStore *store, guint n_messages)
{
  g_autofree char *sql = g_strdup_printf (
      "BEGIN;"
      "WITH RECURSIVE i (x) AS (SELECT 0 UNION ALL SELECT x + 1 FROM i WHERE x < %u) "
      "INSERT INTO conversations (id, title, system_prompt, temperature, top_k, top_p, min_p, repeat_penalty, "
      "repeat_last_n, frequency_penalty, presence_penalty, seed, created_at, updated_at) "
      "SELECT x + 1, 'Conversation ' || x, '', 0.8, 40, 0.95, 0.05, 1.0, 64, 0, 0, 1, x, x FROM i;"
      "WITH RECURSIVE i (x) AS (SELECT 0 UNION ALL SELECT x + 1 FROM i WHERE x < %u) "
      "INSERT INTO messages (id, conversation_id, parent_id, role, content, created_at) "
      "SELECT x + 1, x / 10 + 1, CASE WHEN x %% 10 = 0 THEN NULL ELSE x END, "
      "CASE WHEN x %% 2 = 0 THEN 'user' ELSE 'assistant' END, "
      "printf ('%%d: In the beginning God created the heaven and the earth. And the earth was without form, "
      "and void; and darkness was upon the face of the deep. word%%d and thing%%d', x, x %% 997, x %% 101), x FROM i;"
      "UPDATE conversations SET head_id = id * 10;"
      "COMMIT",
      n_messages / 10 - 1, n_messages - 1);
  g_assert_cmpint (sqlite3_exec (store->db, sql, NULL, NULL, NULL), ==, SQLITE_OK);
}

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  guint n = env_uint ("TERN_CANCEL_MESSAGES", 10000);

  f->dir = g_dir_make_tmp ("tern-cancel-XXXXXX", &error);
  g_assert_no_error (error);
  g_autofree char *path = g_build_filename (f->dir, "tern.db", NULL);
  f->store = tern_store_open (path, &error);
  g_assert_no_error (error);
  fill (f->store, n);
  f->export = tern_store_export (f->store, NULL, 0, TERN_EXPORT_JSON, &error);
  g_assert_no_error (error);
  f->cancellable = g_cancellable_new ();
  f->trials = env_uint ("TERN_CANCEL_TRIALS", 3);
  f->rand = g_rand_new ();
  g_test_message ("%u messages, export of %zu MiB", n, strlen (f->export) >> 20);
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  g_test_message ("worst delay: %.1f ms", f->worst / 1000.0);
  g_print ("# worst delay from cancel to return: %.1f ms\n", f->worst / 1000.0);
  tern_store_free (f->store);
  g_object_unref (f->cancellable);
  g_rand_free (f->rand);
  g_free (f->export);
  test_remove_tree (f->dir);
  g_free (f->dir);
}

/* One long operation: runs it with the store's cancellable, returning
 * FALSE with @error when it fails; @check sees the store after it. */
typedef gboolean (*OperationFn) (Fixture *f, GError **error);
typedef void (*CheckFn) (Fixture *f, gboolean completed);

/* Times @op whole, then cancels it at random moments within that time:
 * each run ends within MAX_DELAY_US of the cancel, with CANCELLED unless
 * it had finished, and @check finds nothing half-written. An operation
 * @interrupted mid-statement by SQLite (a search, emptying the trash) is
 * cancelled in the first half of its time and must end within a quarter
 * of it too: on a fast machine its whole time can be under MAX_DELAY_US,
 * which alone would not tell it from one that runs to its end. */
static void
run_cancelled_within (Fixture *f, const char *name, OperationFn op, CheckFn check, gboolean interrupted)
{
  g_autoptr (GError) error = NULL;

  tern_store_set_cancellable (f->store, f->cancellable);
  gint64 start = g_get_monotonic_time ();
  g_assert_true (op (f, &error));
  g_assert_no_error (error);
  gint64 whole = g_get_monotonic_time () - start;
  check (f, TRUE);
  g_test_message ("%s: %.0f ms whole", name, whole / 1000.0);

  gint64 window = interrupted ? whole / 2 : whole;
  gint64 limit = interrupted ? MIN (MAX_DELAY_US, MAX (whole / 4, 5000)) : MAX_DELAY_US;
  for (guint i = 0; i < f->trials; i++)
    {
      Canceller c = { f->cancellable, g_rand_int_range (f->rand, 0, (gint32) MAX (window, 1)) };
      g_cancellable_reset (f->cancellable);
      GThread *thread = g_thread_new ("canceller", canceller_main, &c);
      gboolean ok = op (f, &error);
      gint64 end = g_get_monotonic_time ();
      g_thread_join (thread);
      if (ok)
        {
          /* Done before the cancel came; the cancel, come since, must not
           * stop what @check does to the store. */
          g_assert_cmpint (end, <=, c.cancelled_at + limit);
          g_cancellable_reset (f->cancellable);
          check (f, TRUE);
          continue;
        }
      g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_CANCELLED);
      g_clear_error (&error);
      gint64 delay = end - c.cancelled_at;
      g_test_message ("%s: cancelled after %.0f ms, ended %.1f ms later", name, c.delay_us / 1000.0, delay / 1000.0);
      f->worst = MAX (f->worst, delay);
      g_assert_cmpint (delay, <=, limit);
      check (f, FALSE);
    }
  g_cancellable_reset (f->cancellable);
  tern_store_set_cancellable (f->store, NULL);
}

static void
run_cancelled (Fixture *f, const char *name, OperationFn op, CheckFn check)
{
  run_cancelled_within (f, name, op, check, FALSE);
}

static gint64
count (Fixture *f, const char *sql)
{
  sqlite3_stmt *stmt;
  g_assert_cmpint (sqlite3_prepare_v2 (f->store->db, sql, -1, &stmt, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
  gint64 n = sqlite3_column_int64 (stmt, 0);
  sqlite3_finalize (stmt);
  return n;
}

static void
check_nothing (Fixture *f, gboolean completed)
{
  /* Reads write nothing: the transaction is over either way. */
  g_assert_true (sqlite3_get_autocommit (f->store->db));
}

/* ---- Export ---- */

static gboolean
export_json (Fixture *f, GError **error)
{
  g_autofree char *text = tern_store_export (f->store, NULL, 0, TERN_EXPORT_JSON, error);
  return text != NULL;
}

static gboolean
export_markdown (Fixture *f, GError **error)
{
  g_autofree char *text = tern_store_export (f->store, NULL, 0, TERN_EXPORT_MARKDOWN, error);
  return text != NULL;
}

static void
test_export (Fixture *f, gconstpointer data)
{
  run_cancelled (f, "export json", export_json, check_nothing);
  run_cancelled (f, "export markdown", export_markdown, check_nothing);
}

/* ---- Import ---- */

static gint64 imported_before;

static gboolean
import (Fixture *f, GError **error)
{
  imported_before = count (f, "SELECT count(*) FROM conversations");
  return tern_store_import (f->store, f->export, -1, NULL, error);
}

static void
check_import (Fixture *f, gboolean completed)
{
  gint64 n = count (f, "SELECT count(*) FROM conversations");
  gint64 per = count (f, "SELECT count(*) FROM conversations WHERE id <= 10");

  g_assert_true (sqlite3_get_autocommit (f->store->db));
  g_assert_cmpint (per, ==, 10);
  /* All or nothing. */
  if (completed)
    g_assert_cmpint (n, >, imported_before);
  else
    g_assert_cmpint (n, ==, imported_before);
}

static void
test_import (Fixture *f, gconstpointer data)
{
  run_cancelled (f, "import", import, check_import);
}

/* ---- Search ---- */

static gboolean
search (Fixture *f, GError **error)
{
  g_autoptr (GPtrArray) hits = tern_store_search (f->store, "the earth w", "[", "]", 0, 100, error);
  return hits != NULL;
}

static void
test_search (Fixture *f, gconstpointer data)
{
  run_cancelled_within (f, "search", search, check_nothing, TRUE);
}

/* ---- Snapshots ---- */

static gboolean
produce (TernStreamWriteFn write, gpointer write_data, guint64 *size, gpointer user_data, GError **error)
{
  g_autofree guint8 *block = g_malloc0 (64 << 10);

  for (gsize done = 0; done < SNAPSHOT_BYTES; done += 64 << 10)
    if (!write (block, 64 << 10, write_data, error))
      return FALSE;
  *size = SNAPSHOT_BYTES;
  return TRUE;
}

static gboolean
consume (TernStreamReadFn read, gpointer read_data, guint64 size, gpointer user_data, GError **error)
{
  g_autofree guint8 *block = g_malloc (64 << 10);

  for (guint64 done = 0; done < size; done += 64 << 10)
    if (!read (block, MIN (64 << 10, size - done), read_data, error))
      return FALSE;
  return TRUE;
}

static gint64 chunks_before, snapshots_before;

static gboolean
snapshot_save (Fixture *f, GError **error)
{
  chunks_before = count (f, "SELECT count(*) FROM snapshot_chunks");
  snapshots_before = count (f, "SELECT count(*) FROM snapshots");
  return tern_store_snapshot_save (f->store, 1, 10, 1, produce, NULL, error) > 0;
}

static void
check_snapshot_save (Fixture *f, gboolean completed)
{
  g_assert_true (sqlite3_get_autocommit (f->store->db));
  /* A save replaces the snapshot before it, whole; a cancelled one leaves
   * it as it was. */
  g_assert_cmpint (count (f, "SELECT count(*) FROM snapshot_chunks"), ==,
                   completed ? (gint64) (SNAPSHOT_BYTES >> 20) : chunks_before);
  g_assert_cmpint (count (f, "SELECT count(*) FROM snapshots"), ==, completed ? 1 : snapshots_before);
}

static gboolean
snapshot_read (Fixture *f, GError **error)
{
  gint64 id = tern_store_snapshot_find (f->store, 1, 10, error);
  return id > 0 && tern_store_snapshot_read (f->store, id, consume, NULL, error);
}

static void
test_snapshot (Fixture *f, gconstpointer data)
{
  run_cancelled (f, "snapshot save", snapshot_save, check_snapshot_save);
  run_cancelled (f, "snapshot read", snapshot_read, check_nothing);
}

/* ---- Emptying the trash ---- */

static gint64 trashed_before;

static gboolean
empty_trash (Fixture *f, GError **error)
{
  g_assert_cmpint (sqlite3_exec (f->store->db, "UPDATE conversations SET trashed_at = 1", NULL, NULL, NULL), ==,
                   SQLITE_OK);
  trashed_before = count (f, "SELECT count(*) FROM conversations");
  return tern_store_empty_trash (f->store, error) == trashed_before;
}

static void
check_trash (Fixture *f, gboolean completed)
{
  g_assert_true (sqlite3_get_autocommit (f->store->db));
  g_assert_cmpint (count (f, "SELECT count(*) FROM conversations"), ==, completed ? 0 : trashed_before);
  g_assert_cmpint (count (f, "SELECT count(*) FROM messages"), ==, completed ? 0 : 10 * trashed_before);
  /* Filled again for the next run. */
  if (completed)
    fill (f->store, env_uint ("TERN_CANCEL_MESSAGES", 10000));
}

static void
test_empty_trash (Fixture *f, gconstpointer data)
{
  run_cancelled_within (f, "empty trash", empty_trash, check_trash, TRUE);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/store/cancel/export", Fixture, NULL, fixture_set_up, test_export, fixture_tear_down);
  g_test_add ("/store/cancel/import", Fixture, NULL, fixture_set_up, test_import, fixture_tear_down);
  g_test_add ("/store/cancel/search", Fixture, NULL, fixture_set_up, test_search, fixture_tear_down);
  g_test_add ("/store/cancel/snapshot", Fixture, NULL, fixture_set_up, test_snapshot, fixture_tear_down);
  g_test_add ("/store/cancel/empty-trash", Fixture, NULL, fixture_set_up, test_empty_trash, fixture_tear_down);
  return g_test_run ();
}
