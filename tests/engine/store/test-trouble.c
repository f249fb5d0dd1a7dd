/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Storage trouble: each cause a database cannot be opened or written for
 * has its own error code (the app shows a page by it), and a database
 * that can be read opens read-only, changing nothing.
 *
 * Root writes anywhere, so as root the read-only folder and the full disk
 * are real: a small tmpfs, mounted in a mount namespace of this process
 * only, then made read-only or filled. Where mounting is not allowed the
 * read-only folder is made by chmod (not root), and otherwise the test is
 * skipped (test-fault covers a full disk by an injected write failure). */
#define _GNU_SOURCE
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <tern/store.h>
#include <unistd.h>

#include "store/store-private.h"
#include "store-test.h"

static gboolean can_mount;

/* A private mount namespace, so that the tmpfs mounts below vanish with
 * the process and are never seen outside it. */
static void
enter_namespace (void)
{
  can_mount = geteuid () == 0 && unshare (CLONE_NEWNS) == 0 &&
              mount (NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0;
}

static char *
make_dir (void)
{
  g_autoptr (GError) error = NULL;
  char *dir = g_dir_make_tmp ("tern-trouble-XXXXXX", &error);
  g_assert_no_error (error);
  return dir;
}

/* A database with one conversation of two messages at @path. */
static void
make_db (const char *path)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (TernStore) store = tern_store_open (path, &error);
  g_assert_no_error (error);
  gint64 c = tern_store_conversation_new (store, "Kept", 0, NULL, NULL, &error);
  g_assert_cmpint (c, >, 0);
  gint64 m = tern_store_message_add (store, c, 0, TERN_ROLE_USER, "hello there", NULL, 0, NULL, &error);
  g_assert_cmpint (m, >, 0);
  g_assert_cmpint (tern_store_message_add (store, c, m, TERN_ROLE_ASSISTANT, "general kenobi", NULL, 0, NULL, &error),
                   >, 0);
  g_assert_no_error (error);
}

/* Makes @dir read-only: a tmpfs remounted read-only (root), or chmod. */
static gboolean
make_read_only (const char *dir, gboolean mounted)
{
  if (mounted)
    return mount (NULL, dir, NULL, MS_REMOUNT | MS_RDONLY, NULL) == 0;
  return geteuid () != 0 && g_chmod (dir, 0500) == 0;
}

static void
check_read_only_store (TernStore *store)
{
  g_autoptr (GError) error = NULL;

  g_assert_true (tern_store_is_read_only (store));
  g_autoptr (GPtrArray) list = tern_store_conversation_list (store, FALSE, 0, -1, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (list->len, ==, 1);
  g_autoptr (GPtrArray) messages = tern_store_conversation_messages (store, 1, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (messages->len, ==, 2);
  g_autoptr (GPtrArray) hits = tern_store_search (store, "kenobi", "[", "]", 0, 10, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (hits->len, ==, 1);
  /* Every write is refused, as READ_ONLY. */
  g_assert_cmpint (tern_store_conversation_new (store, "new", 0, NULL, NULL, &error), ==, 0);
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_READ_ONLY);
  g_clear_error (&error);
  g_assert_false (tern_store_conversation_rename (store, 1, "renamed", &error));
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_READ_ONLY);
  g_clear_error (&error);
  g_assert_false (tern_store_model_set_compression (store, 1, 0, "{}", &error));
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_READ_ONLY);
}

/* A folder the user cannot write: opening for writing fails with
 * READ_ONLY, a new database there too; opening read-only shows it all. */
static void
test_read_only_folder (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = make_dir ();
  gboolean mounted = can_mount && mount ("tmpfs", dir, "tmpfs", 0, "size=4m") == 0;
  g_autofree char *path = g_build_filename (dir, "tern.db", NULL);
  g_autofree char *fresh = g_build_filename (dir, "new.db", NULL);

  make_db (path);
  if (!make_read_only (dir, mounted))
    {
      g_test_skip ("neither a read-only mount nor chmod can make a folder read-only here");
      if (mounted)
        umount (dir);
      test_remove_tree (dir);
      return;
    }
  g_assert_null (tern_store_open (fresh, &error));
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_READ_ONLY);
  g_assert_nonnull (strstr (error->message, dir));
  g_clear_error (&error);
  g_assert_null (tern_store_open (path, &error));
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_READ_ONLY);
  g_clear_error (&error);

  g_autoptr (TernStore) store = tern_store_open_read_only (path, &error);
  g_assert_no_error (error);
  check_read_only_store (store);
  g_clear_pointer (&store, tern_store_free);

  if (mounted)
    g_assert_cmpint (umount (dir), ==, 0);
  else
    g_chmod (dir, 0700);
  test_remove_tree (dir);
}

/* Opened read-only where the file could be written: nothing changes, not
 * a byte, and the WAL (which a reader opens) stays empty. */
static void
test_read_only_changes_nothing (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = make_dir ();
  g_autofree char *path = g_build_filename (dir, "tern.db", NULL);
  g_autofree char *wal = g_strconcat (path, "-wal", NULL);
  g_autofree char *before = NULL, *after = NULL;
  gsize len_before, len_after;

  make_db (path);
  g_assert_true (g_file_get_contents (path, &before, &len_before, NULL));
  g_autoptr (TernStore) store = tern_store_open_read_only (path, &error);
  g_assert_no_error (error);
  check_read_only_store (store);
  g_clear_pointer (&store, tern_store_free);
  g_assert_true (g_file_get_contents (path, &after, &len_after, NULL));
  g_assert_cmpmem (before, len_before, after, len_after);
  GStatBuf st;
  g_assert_true (g_stat (wal, &st) != 0 || st.st_size == 0);

  /* A missing database is not made. */
  g_autofree char *missing = g_build_filename (dir, "missing.db", NULL);
  g_assert_null (tern_store_open_read_only (missing, &error));
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_IO);
  g_assert_false (g_file_test (missing, G_FILE_TEST_EXISTS));
  test_remove_tree (dir);
}

/* A full disk: a write fails with FULL and says so plainly; what was
 * committed stays, and a new database cannot be made there. */
static void
test_full (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = make_dir ();

  if (!can_mount || mount ("tmpfs", dir, "tmpfs", 0, "size=1m") != 0)
    {
      g_test_skip ("a small tmpfs cannot be mounted here (test-fault injects a full disk instead)");
      test_remove_tree (dir);
      return;
    }
  g_autofree char *path = g_build_filename (dir, "tern.db", NULL);
  g_autofree char *filler = g_build_filename (dir, "filler", NULL);
  make_db (path);
  g_autoptr (TernStore) store = tern_store_open (path, &error);
  g_assert_no_error (error);

  /* Fill the disk to the last byte. */
  FILE *fp = fopen (filler, "w");
  char block[4096] = { 0 };
  while (fwrite (block, 1, sizeof block, fp) == sizeof block && fflush (fp) == 0)
    ;
  fclose (fp);

  g_autofree char *big = g_strnfill (256 * 1024, 'x');
  gint64 id = 0;
  for (int i = 0; i < 16 && id >= 0; i++)
    {
      id = tern_store_message_add (store, 1, TERN_STORE_HEAD, TERN_ROLE_USER, big, NULL, 0, NULL, &error);
      if (id == 0)
        break;
    }
  g_assert_cmpint (id, ==, 0);
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_FULL);
  g_assert_nonnull (strstr (error->message, "the disk is full"));
  g_clear_error (&error);
  g_autoptr (GPtrArray) messages = tern_store_conversation_messages (store, 1, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (((TernMessage *) messages->pdata[1])->content, ==, "general kenobi");
  g_clear_pointer (&store, tern_store_free);

  g_autofree char *sub = g_build_filename (dir, "sub", "x", NULL);
  g_assert_null (tern_store_open (sub, &error));
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_FULL);
  g_clear_error (&error);

  /* Full, the database still opens read-only. */
  store = tern_store_open_read_only (path, &error);
  g_assert_no_error (error);
  g_clear_pointer (&store, tern_store_free);
  g_assert_cmpint (umount (dir), ==, 0);
  test_remove_tree (dir);
}

/* Another program holds the write lock while the schema needs upgrading:
 * opening gives up after TERN_STORE_OPEN_WAIT_MS with LOCKED. */
static void
test_locked (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = make_dir ();
  g_autofree char *path = g_build_filename (dir, "tern.db", NULL);
  sqlite3 *other;

  TernStore *old = tern_store_open_at_version (path, 1, &error);
  g_assert_no_error (error);
  tern_store_free (old);
  g_assert_cmpint (sqlite3_open (path, &other), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_exec (other, "BEGIN IMMEDIATE", NULL, NULL, NULL), ==, SQLITE_OK);

  gint64 start = g_get_monotonic_time ();
  g_assert_null (tern_store_open (path, &error));
  gint64 waited_ms = (g_get_monotonic_time () - start) / 1000;
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_LOCKED);
  g_assert_nonnull (strstr (error->message, "another program"));
  g_assert_cmpint (waited_ms, >=, TERN_STORE_OPEN_WAIT_MS);
  g_assert_cmpint (waited_ms, <, TERN_STORE_OPEN_WAIT_MS + 2000);
  g_clear_error (&error);

  /* Once the other program lets go, it opens and upgrades. */
  sqlite3_exec (other, "ROLLBACK", NULL, NULL, NULL);
  sqlite3_close (other);
  g_autoptr (TernStore) store = tern_store_open (path, &error);
  g_assert_no_error (error);
  test_remove_tree (dir);
}

/* Not a database, or one damaged: FORMAT, for reading too (the app offers
 * no read-only mode then). */
static void
test_corrupt (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = make_dir ();
  g_autofree char *junk = g_build_filename (dir, "junk.db", NULL);
  g_autofree char *path = g_build_filename (dir, "tern.db", NULL);
  g_autofree char *contents = NULL;
  g_autofree char *bytes = g_strnfill (8192, 'j');
  gsize len;

  g_assert_true (g_file_set_contents (junk, bytes, 8192, NULL));
  g_assert_null (tern_store_open (junk, &error));
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_FORMAT);
  g_assert_nonnull (strstr (error->message, "not a Tern database"));
  g_clear_error (&error);
  g_assert_null (tern_store_open_read_only (junk, &error));
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_FORMAT);
  g_clear_error (&error);

  /* Malformed: the schema page overwritten past the header. */
  make_db (path);
  g_assert_true (g_file_get_contents (path, &contents, &len, NULL));
  memset (contents + 100, 0xa5, MIN (len, 4096) - 100);
  g_assert_true (g_file_set_contents (path, contents, len, NULL));
  g_assert_null (tern_store_open (path, &error));
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_FORMAT);
  test_remove_tree (dir);
}

/* A newer schema: refused for writing, left as it is; read-only, it
 * opens and shows what this Tern knows of it. */
static void
test_newer_schema (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = make_dir ();
  g_autofree char *path = g_build_filename (dir, "tern.db", NULL);
  g_autofree char *sql = g_strdup_printf ("PRAGMA user_version = %d", TERN_STORE_SCHEMA_VERSION + 1);

  make_db (path);
  TernStore *store = tern_store_open (path, &error);
  g_assert_cmpint (sqlite3_exec (store->db, sql, NULL, NULL, NULL), ==, SQLITE_OK);
  tern_store_free (store);
  g_assert_null (tern_store_open (path, &error));
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_MISMATCH);
  g_clear_error (&error);
  store = tern_store_open_read_only (path, &error);
  g_assert_no_error (error);
  check_read_only_store (store);
  tern_store_free (store);

  /* An older schema cannot be read without upgrading it. */
  g_autofree char *old_path = g_build_filename (dir, "old.db", NULL);
  store = tern_store_open_at_version (old_path, 1, &error);
  tern_store_free (store);
  g_assert_null (tern_store_open_read_only (old_path, &error));
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_MISMATCH);
  test_remove_tree (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  enter_namespace ();
  g_test_add_func ("/store/trouble/read-only-folder", test_read_only_folder);
  g_test_add_func ("/store/trouble/read-only-changes-nothing", test_read_only_changes_nothing);
  g_test_add_func ("/store/trouble/full", test_full);
  g_test_add_func ("/store/trouble/locked", test_locked);
  g_test_add_func ("/store/trouble/corrupt", test_corrupt);
  g_test_add_func ("/store/trouble/newer-schema", test_newer_schema);
  return g_test_run ();
}
