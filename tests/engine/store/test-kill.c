/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Kill test: a process streaming replies (and saving snapshots) into the
 * database is killed with SIGKILL at a random moment of its work, 100
 * times (timed from when it is ready, so a slow start, under a sanitizer
 * or on a busy machine, does not leave it nothing to commit). Every
 * time the database opens, passes integrity_check, holds every message the
 * process reported committed (complete), and every snapshot's chunks add
 * up to its recorded size. */
#include <signal.h>
#include <sys/wait.h>
#include <tern/store.h>
#include <unistd.h>

#include "store-check.h"
#include "store-test.h"

#define ROUNDS 100

static char *
read_all (int fd)
{
  GString *out = g_string_new (NULL);
  char buf[4096];
  ssize_t n;

  while ((n = read (fd, buf, sizeof buf)) > 0)
    g_string_append_len (out, buf, n);
  return g_string_free (out, FALSE);
}

/* Reads the helper's "R" line: it has opened the database and the model. */
static void
wait_ready (int fd)
{
  char line[2];
  gsize got = 0;

  while (got < sizeof line)
    {
      ssize_t n = read (fd, line + got, sizeof line - got);
      if (n <= 0)
        g_error ("the store helper ended before it was ready");
      got += n;
    }
  g_assert_true (line[0] == 'R' && line[1] == '\n');
}

static void
check_database (const char *db, GArray *committed)
{
  g_autoptr (GError) error = NULL;

  store_check_after_kill (db);
  g_autoptr (TernStore) store = tern_store_open (db, &error);
  g_assert_no_error (error);
  for (guint i = 0; i < committed->len; i++)
    {
      g_autoptr (TernMessage) m = tern_store_message_get (store, g_array_index (committed, gint64, i), &error);
      g_assert_no_error (error);
      g_assert_true (m->complete);
    }
}

static void
test_kill (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("tern-kill-XXXXXX", &error);
  g_autofree char *db = g_build_filename (dir, "tern.db", NULL);
  g_autofree char *model = store_test_model_path ("kjv-tiny-q4_k_m");
  g_autoptr (GArray) committed = g_array_new (FALSE, FALSE, sizeof (gint64));
  guint n_snapshots = 0, n_interrupted;

  for (guint round = 0; round < ROUNDS; round++)
    {
      const char *argv[] = { g_getenv ("STORE_HELPER"), "stream", db, model, NULL };
      GPid pid;
      int out_fd, status;

      g_assert_true (g_spawn_async_with_pipes (NULL, (char **) argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL,
                                               &pid, NULL, &out_fd, NULL, &error));
      g_assert_no_error (error);
      wait_ready (out_fd);
      g_usleep (g_test_rand_int_range (0, 150000));
      g_assert_cmpint (kill (pid, SIGKILL), ==, 0);
      g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
      g_assert_true (WIFSIGNALED (status) && WTERMSIG (status) == SIGKILL);
      g_spawn_close_pid (pid);

      g_autofree char *out = read_all (out_fd);
      close (out_fd);
      g_auto (GStrv) lines = g_strsplit (out, "\n", -1);
      for (guint i = 0; lines[i]; i++)
        {
          gint64 id = g_ascii_strtoll (lines[i] + MIN (strlen (lines[i]), 2), NULL, 10);
          if (lines[i][0] == 'M')
            g_array_append_val (committed, id);
          else if (lines[i][0] == 'S')
            n_snapshots++;
        }
      check_database (db, committed);
    }

  g_autoptr (TernStore) store = tern_store_open (db, &error);
  sqlite3_stmt *stmt;
  g_assert_cmpint (sqlite3_prepare_v2 (store->db, "SELECT count(*) FROM messages WHERE complete = 0", -1, &stmt, NULL),
                   ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
  n_interrupted = sqlite3_column_int (stmt, 0);
  sqlite3_finalize (stmt);
  g_test_message ("%d kills: %u messages committed, %u interrupted replies, %u snapshots saved", ROUNDS,
                  committed->len, n_interrupted, n_snapshots);
  g_assert_cmpuint (committed->len, >, 0);
  test_remove_tree (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/store/kill", test_kill);
  return g_test_run ();
}
