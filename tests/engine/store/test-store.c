/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The store: opening and migrations, the model library, conversations,
 * branches, the trash, replies, search, export and import. */
#include <sys/stat.h>
#include <tern/context.h>
#include <tern/model-library.h>
#include <tern/store.h>
#include <unistd.h>

#include "store/store-private.h"
#include "store-test.h"

typedef struct {
  char *dir;
  char *path;
  TernStore *store;
} Fixture;

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  f->dir = g_dir_make_tmp ("tern-store-XXXXXX", &error);
  g_assert_no_error (error);
  f->path = g_build_filename (f->dir, "sub", "tern.db", NULL);
  f->store = tern_store_open (f->path, &error);
  g_assert_no_error (error);
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  tern_store_free (f->store);
  test_remove_tree (f->dir);
  g_free (f->dir);
  g_free (f->path);
}

static int
pragma_int (TernStore *store, const char *sql)
{
  sqlite3_stmt *stmt;
  g_assert_cmpint (sqlite3_prepare_v2 (store->db, sql, -1, &stmt, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
  int v = sqlite3_column_int (stmt, 0);
  sqlite3_finalize (stmt);
  return v;
}

static gboolean
integrity_ok (TernStore *store)
{
  sqlite3_stmt *stmt;
  g_assert_cmpint (sqlite3_prepare_v2 (store->db, "PRAGMA integrity_check", -1, &stmt, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
  gboolean ok = g_strcmp0 ((const char *) sqlite3_column_text (stmt, 0), "ok") == 0;
  sqlite3_finalize (stmt);
  return ok;
}

static void
test_open (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  sqlite3_stmt *stmt;

  g_assert_cmpint (pragma_int (f->store, "PRAGMA user_version"), ==, TERN_STORE_SCHEMA_VERSION);
  g_assert_cmpint (pragma_int (f->store, "PRAGMA foreign_keys"), ==, 1);
  g_assert_cmpint (pragma_int (f->store, "PRAGMA synchronous"), ==, 2);
  g_assert_cmpint (sqlite3_prepare_v2 (f->store->db, "PRAGMA journal_mode", -1, &stmt, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
  g_assert_cmpstr ((const char *) sqlite3_column_text (stmt, 0), ==, "wal");
  sqlite3_finalize (stmt);

  /* Settings. */
  g_assert_null (tern_store_get_setting (f->store, "k", &error));
  g_assert_no_error (error);
  g_assert_true (tern_store_set_setting (f->store, "k", "v1", &error));
  g_assert_true (tern_store_set_setting (f->store, "k", "v2", &error));
  g_autofree char *v = tern_store_get_setting (f->store, "k", &error);
  g_assert_cmpstr (v, ==, "v2");

  /* The default path follows TERN_DATA_DIR. */
  g_setenv ("TERN_DATA_DIR", f->dir, TRUE);
  g_autofree char *def = tern_store_default_path ();
  g_autofree char *want = g_build_filename (f->dir, "tern.db", NULL);
  g_assert_cmpstr (def, ==, want);
  g_autoptr (TernStore) other = tern_store_open (NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (tern_store_path (other), ==, want);
  g_unsetenv ("TERN_DATA_DIR");

  /* Not a database. */
  g_autofree char *junk = g_build_filename (f->dir, "junk.db", NULL);
  g_assert_true (g_file_set_contents (junk, "this is not a database, not at all, no....................................."
                                            "...........................................................",
                                      -1, NULL));
  g_assert_null (tern_store_open (junk, &error));
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_FORMAT);
}

/* A path that is no regular file is refused before SQLite opens it: it
 * would make its journal beside a device or a pipe. */
static void
test_open_not_a_file (Fixture *f, gconstpointer data)
{
  g_autofree char *fifo = g_build_filename (f->dir, "pipe", NULL);
  g_autofree char *folder = g_build_filename (f->dir, "folder", NULL);
  const char *paths[] = { "/dev/null", fifo, folder };

  g_assert_cmpint (mkfifo (fifo, 0600), ==, 0);
  g_assert_cmpint (g_mkdir (folder, 0700), ==, 0);
  for (gsize i = 0; i < G_N_ELEMENTS (paths); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autofree char *expected = g_strdup_printf ("%s is not a regular file", paths[i]);

      g_assert_null (tern_store_open (paths[i], &error));
      g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_INVALID);
      g_assert_nonnull (strstr (error->message, expected));
    }
  /* Nothing made beside them. */
  g_autoptr (GDir) dir = g_dir_open (f->dir, 0, NULL);
  const char *name;
  guint n = 0;
  while ((name = g_dir_read_name (dir)))
    {
      g_assert_true (g_str_equal (name, "pipe") || g_str_equal (name, "folder") || g_str_equal (name, "sub"));
      n++;
    }
  g_assert_cmpuint (n, ==, 3);

  /* A new file in a folder that cannot be written (root writes anywhere). */
  if (geteuid () != 0)
    {
      g_autoptr (GError) error = NULL;
      g_autofree char *path = g_build_filename (folder, "tern.db", NULL);

      g_assert_cmpint (g_chmod (folder, 0500), ==, 0);
      g_assert_null (tern_store_open (path, &error));
      g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_IO);
      g_assert_nonnull (strstr (error->message, "cannot create a database in the folder"));
      g_assert_cmpint (g_chmod (folder, 0700), ==, 0);
    }
}

static void
test_newer (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *sql = g_strdup_printf ("PRAGMA user_version = %d", TERN_STORE_SCHEMA_VERSION + 1);
  g_autofree char *before = NULL, *after = NULL;
  gsize len_before, len_after;

  g_assert_cmpint (sqlite3_exec (f->store->db, sql, NULL, NULL, NULL), ==, SQLITE_OK);
  g_clear_pointer (&f->store, tern_store_free);
  g_assert_true (g_file_get_contents (f->path, &before, &len_before, NULL));
  g_assert_null (tern_store_open (f->path, &error));
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_MISMATCH);
  g_assert_nonnull (strstr (error->message, "newer"));
  /* Refused, and left exactly as it was. */
  g_assert_true (g_file_get_contents (f->path, &after, &len_after, NULL));
  g_assert_cmpmem (before, len_before, after, len_after);
}

/* Data a database of each schema version holds, written with that
 * version's SQL; checked after the upgrade. Version 0 is an empty file. */
static const char *const version_data[TERN_STORE_SCHEMA_VERSION] = {
  NULL,
  /* Version 1: a conversation without a reply limit. */
  "INSERT INTO conversations (title, system_prompt, temperature, top_k, top_p, min_p, repeat_penalty, "
  "repeat_last_n, frequency_penalty, presence_penalty, seed, created_at, updated_at) "
  "VALUES ('from v1', '', 0.8, 40, 0.95, 0.05, 1.0, 64, 0, 0, 1, 1, 1);",
  /* Version 2: a conversation in the trash, with a message at its head. */
  "INSERT INTO conversations (id, title, system_prompt, temperature, top_k, top_p, min_p, repeat_penalty, "
  "repeat_last_n, frequency_penalty, presence_penalty, seed, created_at, updated_at, trashed_at, max_tokens) "
  "VALUES (50, 'from v2', '', 0.8, 40, 0.95, 0.05, 1.0, 64, 0, 0, 1, 1, 1, 5, 20);"
  "INSERT INTO messages (id, conversation_id, role, content, created_at) VALUES (70, 50, 'user', 'trashed v2', 1);"
  "UPDATE conversations SET head_id = 70 WHERE id = 50;",
  /* Version 3: two library models. */
  "INSERT INTO models (id, path, name, arch, n_params, tensor_types, n_ctx_train, size, mtime_us, header_sha256, "
  "added_at, last_used_at) VALUES (8, '/m/a.gguf', 'a', 'llama', 10, 'f32 1', 128, 100, 1, x'00', 1, 0), "
  "(9, '/m/b.gguf', 'b', 'llama', 10, 'tq2_0 1', 128, 20, 1, x'01', 2, 3);",
};

static void
test_migrations (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  for (int v = 0; v < TERN_STORE_SCHEMA_VERSION; v++)
    {
      g_autofree char *path = g_strdup_printf ("%s/v%d.db", f->dir, v);
      TernStore *old = tern_store_open_at_version (path, v, &error);
      g_assert_no_error (error);
      g_assert_cmpint (pragma_int (old, "PRAGMA user_version"), ==, v);
      if (version_data[v])
        g_assert_cmpint (sqlite3_exec (old->db, version_data[v], NULL, NULL, NULL), ==, SQLITE_OK);
      tern_store_free (old);

      g_autoptr (TernStore) store = tern_store_open (path, &error);
      g_assert_no_error (error);
      g_assert_cmpint (pragma_int (store, "PRAGMA user_version"), ==, TERN_STORE_SCHEMA_VERSION);
      g_assert_true (integrity_ok (store));
      /* Usable at once: every table of the current schema is there. */
      gint64 c = tern_store_conversation_new (store, "upgraded", 0, NULL, NULL, &error);
      g_assert_no_error (error);
      g_assert_cmpint (tern_store_message_add (store, c, TERN_STORE_HEAD, TERN_ROLE_USER, "hello upgraded", NULL, 0,
                                               NULL, &error), >, 0);
      g_autoptr (GPtrArray) hits = tern_store_search (store, "upgraded", "[", "]", 0, 10, &error);
      g_assert_cmpuint (hits->len, ==, 1);
      if (v == 1)
        {
          /* A conversation of version 1 gets no reply limit, and can get one. */
          g_autoptr (GPtrArray) list = tern_store_conversation_list (store, FALSE, 0, -1, &error);
          g_assert_no_error (error);
          TernConversation *old_one = list->pdata[list->len - 1];
          g_assert_cmpstr (old_one->title, ==, "from v1");
          g_assert_cmpint (old_one->max_tokens, ==, 0);
          g_assert_true (tern_store_conversation_set_max_tokens (store, old_one->id, 300, &error));
          g_autoptr (TernConversation) again = tern_store_conversation_get (store, old_one->id, &error);
          g_assert_cmpint (again->max_tokens, ==, 300);
        }
      if (v == 2)
        {
          /* Version 3 indexes head_id, so that deleting a message finds
           * the conversations it heads without a scan; the trash of
           * version 2 stays in the trash, and empties. */
          g_assert_cmpint (pragma_int (store, "SELECT count(*) FROM sqlite_master WHERE type = 'index' "
                                              "AND tbl_name = 'conversations' AND sql LIKE '%(head_id)%'"), ==, 1);
          g_autoptr (GPtrArray) trashed = tern_store_conversation_list (store, TRUE, 0, -1, &error);
          g_assert_cmpuint (trashed->len, ==, 1);
          g_assert_cmpint (((TernConversation *) trashed->pdata[0])->head_id, ==, 70);
          g_assert_cmpint (tern_store_empty_trash (store, &error), ==, 1);
          g_assert_cmpint (pragma_int (store, "SELECT count(*) FROM messages WHERE id = 70"), ==, 0);
        }
      if (v == 3)
        {
          /* Every model of version 3 is kept, as it was, not compressed;
           * and can be marked as compressed. */
          g_autoptr (GPtrArray) models = tern_store_model_list (store, &error);
          g_assert_no_error (error);
          g_assert_cmpuint (models->len, ==, 2);
          TernStoreModel *b = models->pdata[0], *a = models->pdata[1];
          g_assert_cmpint (a->id, ==, 8);
          g_assert_cmpstr (a->path, ==, "/m/a.gguf");
          g_assert_cmpuint (a->identity.size, ==, 100);
          g_assert_cmpint (b->id, ==, 9);
          g_assert_cmpstr (b->tensor_types, ==, "tq2_0 1");
          g_assert_cmpint (b->last_used_at, ==, 3);
          g_assert_cmpint (b->compressed_from, ==, 0);
          g_assert_null (b->compression_report);
          g_assert_true (tern_store_model_set_compression (store, 9, 8, "{\"type\": \"tq2_0\"}", &error));
          g_assert_no_error (error);
          g_autoptr (TernStoreModel) marked = tern_store_model_get (store, 9, &error);
          g_assert_cmpint (marked->compressed_from, ==, 8);
        }
    }

  /* Reopening the current version changes nothing and keeps the data. */
  gint64 c = tern_store_conversation_new (f->store, "kept", 0, NULL, NULL, &error);
  tern_store_message_add (f->store, c, TERN_STORE_HEAD, TERN_ROLE_USER, "still here", NULL, 0, NULL, &error);
  g_clear_pointer (&f->store, tern_store_free);
  f->store = tern_store_open (f->path, &error);
  g_assert_no_error (error);
  g_autoptr (GPtrArray) messages = tern_store_conversation_messages (f->store, c, 0, &error);
  g_assert_cmpuint (messages->len, ==, 1);
  g_assert_cmpstr (((TernMessage *) messages->pdata[0])->content, ==, "still here");
}

/* The newest branch through a message ends at its newest descendant. */
static void
test_branch_leaf (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  gint64 a = tern_store_conversation_new (f->store, "tree", 0, NULL, NULL, &error);
  gint64 b = tern_store_conversation_new (f->store, "other", 0, NULL, NULL, &error);
  gint64 q1 = tern_store_message_add (f->store, a, 0, TERN_ROLE_USER, "q1", NULL, 0, NULL, &error);
  gint64 r1 = tern_store_message_add (f->store, a, q1, TERN_ROLE_ASSISTANT, "r1", NULL, 0, NULL, &error);
  gint64 q2 = tern_store_message_add (f->store, a, r1, TERN_ROLE_USER, "q2", NULL, 0, NULL, &error);
  gint64 r2 = tern_store_message_add (f->store, a, q1, TERN_ROLE_ASSISTANT, "r2", NULL, 0, NULL, &error);
  g_assert_no_error (error);

  g_assert_cmpint (tern_store_branch_leaf (f->store, a, r1, &error), ==, q2);
  g_assert_cmpint (tern_store_branch_leaf (f->store, a, q1, &error), ==, r2);
  g_assert_cmpint (tern_store_branch_leaf (f->store, a, r2, &error), ==, r2);
  g_assert_no_error (error);
  g_assert_cmpint (tern_store_branch_leaf (f->store, b, r2, &error), ==, 0);
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_INVALID);
}

/* A compressed model keeps its report and its original while that stays
 * in the library; another file at its path forgets them. */
static void
test_model_compression (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *src = store_test_model_path ("kjv-tiny-q4_k_m");
  g_autofree char *ternary = store_test_model_path ("kjv-tiny-f32");
  g_autofree char *path = g_build_filename (f->dir, "small.gguf", NULL);
  const char *report = "{\"type\": \"tq2_0\", \"ratio\": 7.5, \"verdict\": \"usable: within 10%\"}";
  g_autofree char *contents = NULL;
  gsize len;

  gint64 original = tern_store_model_add (f->store, src, &error);
  g_assert_true (g_file_get_contents (src, &contents, &len, NULL));
  g_assert_true (g_file_set_contents (path, contents, len, NULL));
  gint64 small = tern_store_model_add (f->store, path, &error);
  g_assert_no_error (error);
  g_autoptr (TernStoreModel) plain = tern_store_model_get (f->store, small, &error);
  g_assert_cmpint (plain->compressed_from, ==, 0);
  g_assert_null (plain->compression_report);

  g_assert_true (tern_store_model_set_compression (f->store, small, original, report, &error));
  g_assert_no_error (error);
  g_autoptr (TernStoreModel) got = tern_store_model_get (f->store, small, &error);
  g_assert_cmpint (got->compressed_from, ==, original);
  g_assert_cmpstr (got->compression_report, ==, report);
  /* Adding the same file again (as loading it does) keeps them. */
  g_assert_cmpint (tern_store_model_add (f->store, path, &error), ==, small);
  g_autoptr (TernStoreModel) again = tern_store_model_get (f->store, small, &error);
  g_assert_cmpstr (again->compression_report, ==, report);

  /* Refused: not a JSON object, an unknown model or original. */
  g_assert_false (tern_store_model_set_compression (f->store, small, original, "[1, 2]", &error));
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_false (tern_store_model_set_compression (f->store, small, original, "{\"type\":", &error));
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_false (tern_store_model_set_compression (f->store, small + 100, original, report, &error));
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_false (tern_store_model_set_compression (f->store, small, small + 100, report, &error));
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_INVALID);
  g_clear_error (&error);
  g_autoptr (TernStoreModel) kept = tern_store_model_get (f->store, small, &error);
  g_assert_cmpint (kept->compressed_from, ==, original);
  g_assert_cmpstr (kept->compression_report, ==, report);

  /* The original leaves the library: the report stays, the link goes. */
  g_assert_true (tern_store_model_remove (f->store, original, &error));
  g_autoptr (TernStoreModel) orphan = tern_store_model_get (f->store, small, &error);
  g_assert_cmpint (orphan->compressed_from, ==, 0);
  g_assert_cmpstr (orphan->compression_report, ==, report);

  /* Another file at the path is another model: no report. */
  g_clear_pointer (&contents, g_free);
  g_assert_true (g_file_get_contents (ternary, &contents, &len, NULL));
  g_assert_true (g_file_set_contents (path, contents, len, NULL));
  g_assert_cmpint (tern_store_model_add (f->store, path, &error), ==, small);
  g_autoptr (TernStoreModel) other = tern_store_model_get (f->store, small, &error);
  g_assert_null (other->compression_report);
}

static void
test_models (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *src = store_test_model_path ("kjv-tiny-q4_k_m");
  g_autofree char *path = g_build_filename (f->dir, "model.gguf", NULL);
  g_autofree char *contents = NULL;
  gsize len;
  TernModelStatus status;

  g_assert_true (g_file_get_contents (src, &contents, &len, NULL));
  g_assert_true (g_file_set_contents (path, contents, len, NULL));

  gint64 id = tern_store_model_add (f->store, path, &error);
  g_assert_no_error (error);
  g_assert_cmpint (id, >, 0);
  g_assert_cmpint (tern_store_model_add (f->store, path, &error), ==, id);
  g_autoptr (TernStoreModel) m = tern_store_model_get (f->store, id, &error);
  g_assert_cmpstr (m->path, ==, path);
  g_assert_cmpstr (m->arch, ==, "llama");
  g_assert_cmpuint (m->identity.size, ==, len);
  g_assert_cmpint (m->n_params, >, 0);
  g_assert_cmpint (m->n_ctx_train, >, 0);
  g_assert_nonnull (strstr (m->tensor_types, "q4_K"));
  g_assert_cmpint (m->last_used_at, ==, 0);

  g_assert_true (tern_store_model_check (f->store, id, &status, &error));
  g_assert_cmpint (status, ==, TERN_MODEL_OK);
  g_autoptr (TernModel) model = tern_model_library_load (f->store, id, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  g_autoptr (TernStoreModel) used = tern_store_model_get (f->store, id, &error);
  g_assert_cmpint (used->last_used_at, >, 0);

  /* Renamed: kept when the same file is added again (as each load by path
   * does); an empty name is refused. */
  g_assert_true (tern_store_model_rename (f->store, id, " Genesis ", &error));
  g_assert_no_error (error);
  g_assert_false (tern_store_model_rename (f->store, id, "", &error));
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_false (tern_store_model_rename (f->store, id + 1, "x", &error));
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_cmpint (tern_model_library_note_loaded (f->store, path, &error), ==, id);
  g_autoptr (TernStoreModel) renamed = tern_store_model_get (f->store, id, &error);
  g_assert_cmpstr (renamed->name, ==, "Genesis");
  g_assert_cmpint (renamed->last_used_at, >=, used->last_used_at);

  /* Changed: the same bytes with a new modification time, then other
   * metadata bytes. Never loaded. */
  g_usleep (10000);
  g_assert_true (g_file_set_contents (path, contents, len, NULL));
  g_assert_true (tern_store_model_check (f->store, id, &status, &error));
  g_assert_cmpint (status, ==, TERN_MODEL_CHANGED);
  g_assert_null (tern_model_library_load (f->store, id, NULL, NULL, NULL, &error));
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_MISMATCH);
  g_clear_error (&error);

  /* Missing. */
  g_autofree char *moved = g_build_filename (f->dir, "moved.gguf", NULL);
  g_assert_cmpint (g_rename (path, moved), ==, 0);
  g_assert_true (tern_store_model_check (f->store, id, &status, &error));
  g_assert_cmpint (status, ==, TERN_MODEL_MISSING);
  g_assert_null (tern_model_library_load (f->store, id, NULL, NULL, NULL, &error));
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_IO);
  g_clear_error (&error);

  /* Listing, unknown ids, removal (conversations lose the link). */
  gint64 c = tern_store_conversation_new (f->store, "t", id, NULL, NULL, &error);
  g_autoptr (GPtrArray) list = tern_store_model_list (f->store, &error);
  g_assert_cmpuint (list->len, ==, 1);
  g_assert_null (tern_store_model_get (f->store, id + 1, &error));
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_true (tern_store_model_remove (f->store, id, &error));
  g_autoptr (TernConversation) conv = tern_store_conversation_get (f->store, c, &error);
  g_assert_cmpint (conv->model_id, ==, 0);
  g_assert_false (tern_store_model_remove (f->store, id, &error));
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_cmpint (tern_store_model_add (f->store, "/nonexistent/x.gguf", &error), ==, 0);
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_IO);
}

/* The library lists the models used most recently first, then the ones
 * never used by name; loading by path records the use. */
static void
test_models_order (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *src = store_test_model_path ("kjv-tiny-q4_k_m");
  g_autofree char *contents = NULL;
  const char *names[] = { "b.gguf", "a.gguf", "c.gguf", "d.gguf" };
  gint64 ids[G_N_ELEMENTS (names)];
  gsize len;

  g_assert_true (g_file_get_contents (src, &contents, &len, NULL));
  for (gsize i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_autofree char *path = g_build_filename (f->dir, names[i], NULL);

      g_assert_true (g_file_set_contents (path, contents, len, NULL));
      ids[i] = tern_store_model_add (f->store, path, &error);
      g_assert_no_error (error);
      g_assert_true (tern_store_model_rename (f->store, ids[i], names[i], &error));
    }
  /* c, then d, used; a and b never. */
  g_assert_true (tern_store_model_mark_used (f->store, ids[2], &error));
  g_usleep (2000);
  g_autofree char *d = g_build_filename (f->dir, names[3], NULL);
  g_assert_cmpint (tern_model_library_note_loaded (f->store, d, &error), ==, ids[3]);
  g_assert_no_error (error);

  g_autoptr (GPtrArray) list = tern_store_model_list (f->store, &error);
  g_assert_no_error (error);
  const char *expected[] = { "d.gguf", "c.gguf", "a.gguf", "b.gguf" };
  g_assert_cmpuint (list->len, ==, G_N_ELEMENTS (expected));
  for (gsize i = 0; i < G_N_ELEMENTS (expected); i++)
    g_assert_cmpstr (((TernStoreModel *) list->pdata[i])->name, ==, expected[i]);
}

/* A library model whose file shrinks on disk while it computes: the pass
 * fails with IO, and the library then says the file changed. */
static void
test_model_shrunk_in_use (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *src = store_test_model_path ("kjv-tiny-q4_k_m");
  g_autofree char *path = g_build_filename (f->dir, "model.gguf", NULL);
  g_autofree char *contents = NULL;
  TernContextParams params;
  TernToken token = 1;
  TernModelStatus status;
  gsize len;

  g_assert_true (g_file_get_contents (src, &contents, &len, NULL));
  g_assert_true (g_file_set_contents (path, contents, len, NULL));
  gint64 id = tern_store_model_add (f->store, path, &error);
  g_assert_no_error (error);
  g_autoptr (TernModel) model = tern_model_library_load (f->store, id, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  tern_context_params_init (&params);
  params.n_ctx = 16;
  g_autoptr (TernContext) ctx = tern_context_new (model, &params, &error);
  g_assert_no_error (error);

  g_assert_cmpint (truncate (path, len / 2), ==, 0);
  g_assert_false (tern_context_decode (ctx, &token, 1, FALSE, NULL, NULL, NULL, &error));
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_IO);
  g_assert_nonnull (strstr (error->message, "model.gguf changed on disk while in use"));
  g_assert_true (tern_store_model_check (f->store, id, &status, NULL));
  g_assert_cmpint (status, ==, TERN_MODEL_CHANGED);
}

static TernMessage *
msg (GPtrArray *messages, guint i)
{
  return messages->pdata[i];
}

static void
test_conversations (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  TernSamplerParams sampling;

  tern_sampler_params_init (&sampling);
  sampling.temperature = 0.3f;
  sampling.seed = G_MAXUINT64 - 5;
  gint64 a = tern_store_conversation_new (f->store, "First", 0, "Be brief.", &sampling, &error);
  g_assert_no_error (error);
  gint64 b = tern_store_conversation_new (f->store, "Second", 0, NULL, NULL, &error);
  g_autoptr (TernConversation) ca = tern_store_conversation_get (f->store, a, &error);
  g_assert_cmpstr (ca->title, ==, "First");
  g_assert_cmpstr (ca->system_prompt, ==, "Be brief.");
  g_assert_cmpmem (&ca->sampling, sizeof sampling, &sampling, sizeof sampling);
  g_assert_cmpint (ca->head_id, ==, 0);

  /* A branch: an edited question and a regenerated answer keep the old. */
  gint64 q1 = tern_store_message_add (f->store, a, TERN_STORE_HEAD, TERN_ROLE_USER, "Question?", NULL, 3, NULL, &error);
  const TernToken toks[] = { 5, 6, 7 };
  g_autoptr (GBytes) samp = g_bytes_new_static ("state", 5);
  gint64 r1 = tern_store_message_add (f->store, a, TERN_STORE_HEAD, TERN_ROLE_ASSISTANT, "Answer.", toks, 3, samp,
                                      &error);
  gint64 r2 = tern_store_message_add (f->store, a, q1, TERN_ROLE_ASSISTANT, "Other answer.", NULL, 2, NULL, &error);
  g_assert_no_error (error);
  g_autoptr (GPtrArray) path = tern_store_conversation_messages (f->store, a, 0, &error);
  g_assert_cmpuint (path->len, ==, 2);
  g_assert_cmpint (msg (path, 0)->id, ==, q1);
  g_assert_cmpint (msg (path, 1)->id, ==, r2);
  g_autoptr (GPtrArray) old = tern_store_conversation_messages (f->store, a, r1, &error);
  g_assert_cmpint (msg (old, 1)->id, ==, r1);
  g_assert_cmpint (msg (old, 1)->n_tokens, ==, 3);
  g_assert_cmpmem (msg (old, 1)->tokens->data, 3 * sizeof (TernToken), toks, sizeof toks);
  g_assert_true (g_bytes_equal (msg (old, 1)->sampler_state, samp));
  g_assert_null (msg (path, 1)->tokens);
  g_autoptr (GPtrArray) children = tern_store_message_children (f->store, a, q1, &error);
  g_assert_cmpuint (children->len, ==, 2);
  g_autoptr (GPtrArray) roots = tern_store_message_children (f->store, a, 0, &error);
  g_assert_cmpuint (roots->len, ==, 1);
  /* Each message of a branch knows its siblings. */
  g_assert_cmpint (msg (path, 0)->n_branches, ==, 1);
  g_assert_cmpint (msg (path, 0)->branch_index, ==, 0);
  g_assert_cmpint (msg (path, 1)->n_branches, ==, 2);
  g_assert_cmpint (msg (path, 1)->branch_index, ==, 1);
  g_assert_cmpint (msg (old, 1)->branch_index, ==, 0);
  g_assert_true (tern_store_conversation_set_head (f->store, a, r1, &error));
  g_clear_pointer (&path, g_ptr_array_unref);
  path = tern_store_conversation_messages (f->store, a, 0, &error);
  g_assert_cmpint (msg (path, 1)->id, ==, r1);
  /* A message of another conversation is not a head or a parent here. */
  g_assert_false (tern_store_conversation_set_head (f->store, b, r1, &error));
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_cmpint (tern_store_message_add (f->store, b, r1, TERN_ROLE_USER, "x", NULL, 0, NULL, &error), ==, 0);
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_cmpint (tern_store_message_add (f->store, 999, TERN_STORE_HEAD, TERN_ROLE_USER, "x", NULL, 0, NULL, &error),
                   ==, 0);
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_INVALID);
  g_clear_error (&error);

  /* Rename, settings, duplicate. */
  g_assert_true (tern_store_conversation_rename (f->store, a, "Renamed", &error));
  g_assert_false (tern_store_conversation_rename (f->store, 999, "x", &error));
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_INVALID);
  g_clear_error (&error);
  sampling.top_k = 7;
  g_assert_true (tern_store_conversation_set_sampling (f->store, a, &sampling, &error));
  g_assert_true (tern_store_conversation_set_system_prompt (f->store, a, "", &error));
  gint64 d = tern_store_conversation_duplicate (f->store, a, &error);
  g_assert_no_error (error);
  g_autoptr (TernConversation) cd = tern_store_conversation_get (f->store, d, &error);
  g_assert_cmpstr (cd->title, ==, "Renamed (copy)");
  g_assert_cmpint (cd->sampling.top_k, ==, 7);
  g_assert_cmpint (cd->n_messages, ==, 3);
  g_autoptr (GPtrArray) dpath = tern_store_conversation_messages (f->store, d, 0, &error);
  g_assert_cmpuint (dpath->len, ==, 2);
  g_assert_cmpstr (msg (dpath, 1)->content, ==, "Answer.");
  g_assert_cmpint (msg (dpath, 1)->id, !=, r1);

  /* Changing the model drops the engine caches. */
  g_assert_true (tern_store_conversation_set_model (f->store, a, 0, &error));
  g_autoptr (TernMessage) kept = tern_store_message_get (f->store, r1, &error);
  g_assert_nonnull (kept->tokens);

  /* Newest first, with paging; trash and restore; empty the trash. */
  g_autoptr (GPtrArray) list = tern_store_conversation_list (f->store, FALSE, 0, 10, &error);
  g_assert_cmpuint (list->len, ==, 3);
  g_assert_cmpint (((TernConversation *) list->pdata[0])->id, ==, d);
  g_autoptr (GPtrArray) page = tern_store_conversation_list (f->store, FALSE, 1, 1, &error);
  g_assert_cmpuint (page->len, ==, 1);
  g_assert_cmpint (((TernConversation *) page->pdata[0])->id, ==, ((TernConversation *) list->pdata[1])->id);
  g_assert_true (tern_store_conversation_trash (f->store, a, &error));
  g_assert_cmpint (tern_store_conversation_count (f->store, FALSE, &error), ==, 2);
  g_assert_cmpint (tern_store_conversation_count (f->store, TRUE, &error), ==, 1);
  g_autoptr (GPtrArray) hits = tern_store_search (f->store, "question", "[", "]", 0, 10, &error);
  g_assert_cmpuint (hits->len, ==, 1); /* the copy's, not the trashed one's */
  g_assert_true (tern_store_conversation_untrash (f->store, a, &error));
  g_assert_cmpint (tern_store_conversation_count (f->store, TRUE, &error), ==, 0);
  g_assert_true (tern_store_conversation_trash (f->store, a, &error));
  g_assert_true (tern_store_conversation_trash (f->store, b, &error));
  g_assert_cmpint (tern_store_empty_trash (f->store, &error), ==, 2);
  g_assert_null (tern_store_conversation_get (f->store, a, &error));
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_null (tern_store_message_get (f->store, r1, &error));
  g_clear_error (&error);
  g_assert_cmpint (pragma_int (f->store, "SELECT count(*) FROM messages"), ==, 3);
  g_assert_cmpint (pragma_int (f->store, "SELECT count(*) FROM messages_fts"), ==, 3);
}

/* Emptying the trash by age, and deleting one trashed conversation for
 * good: a conversation not in the trash is never deleted that way. */
static void
test_trash_purge (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  tern_store_set_clock (f->store, 1000, 10);
  gint64 old = tern_store_conversation_new (f->store, "old", 0, NULL, NULL, &error);
  gint64 recent = tern_store_conversation_new (f->store, "recent", 0, NULL, NULL, &error);
  gint64 kept = tern_store_conversation_new (f->store, "kept", 0, NULL, NULL, &error);
  gint64 gone = tern_store_conversation_new (f->store, "gone", 0, NULL, NULL, &error);
  g_assert_cmpint (tern_store_message_add (f->store, old, TERN_STORE_HEAD, TERN_ROLE_USER, "old words", NULL, 0, NULL,
                                           &error), >, 0);
  g_assert_true (tern_store_conversation_trash (f->store, old, &error));
  g_autoptr (TernConversation) trashed = tern_store_conversation_get (f->store, old, &error);
  gint64 old_at = trashed->trashed_at;
  g_assert_true (tern_store_conversation_trash (f->store, recent, &error));
  g_assert_true (tern_store_conversation_trash (f->store, gone, &error));

  /* Only what was trashed before the time given. */
  g_assert_cmpint (tern_store_empty_trash_before (f->store, old_at + 1, &error), ==, 1);
  g_assert_no_error (error);
  g_assert_null (tern_store_conversation_get (f->store, old, &error));
  g_clear_error (&error);
  g_assert_cmpint (pragma_int (f->store, "SELECT count(*) FROM messages"), ==, 0);
  g_assert_cmpint (tern_store_conversation_count (f->store, TRUE, &error), ==, 2);

  g_assert_true (tern_store_conversation_purge (f->store, gone, &error));
  g_assert_null (tern_store_conversation_get (f->store, gone, &error));
  g_clear_error (&error);
  g_assert_false (tern_store_conversation_purge (f->store, kept, &error));
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_INVALID);
  g_clear_error (&error);
  g_autoptr (TernConversation) still = tern_store_conversation_get (f->store, kept, &error);
  g_assert_nonnull (still);
  g_assert_cmpint (tern_store_conversation_count (f->store, TRUE, &error), ==, 1);
}

static void
test_reply (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  gint64 c = tern_store_conversation_new (f->store, "Stream", 0, NULL, NULL, &error);
  gint64 q = tern_store_message_add (f->store, c, TERN_STORE_HEAD, TERN_ROLE_USER, "Tell me.", NULL, 0, NULL, &error);
  TernToken toks[100] = { 0 };

  g_autoptr (TernReply) reply = tern_store_reply_begin (f->store, c, TERN_STORE_HEAD, &error);
  g_assert_no_error (error);
  gint64 id = tern_reply_id (reply);
  g_autoptr (TernMessage) m0 = tern_store_message_get (f->store, id, &error);
  g_assert_false (m0->complete);
  g_assert_cmpint (m0->parent_id, ==, q);
  g_assert_cmpstr (m0->content, ==, "");

  /* Few tokens within the second: remembered, not written. */
  g_assert_true (tern_reply_update (reply, "Once", toks, 1, &error));
  g_autoptr (TernMessage) m1 = tern_store_message_get (f->store, id, &error);
  g_assert_cmpstr (m1->content, ==, "");
  /* Enough tokens: a checkpoint. */
  g_assert_true (tern_reply_update (reply, "Once upon", toks, TERN_REPLY_CHECKPOINT_TOKENS, &error));
  g_autoptr (TernMessage) m2 = tern_store_message_get (f->store, id, &error);
  g_assert_cmpstr (m2->content, ==, "Once upon");
  g_assert_false (m2->complete);
  /* A second later: a checkpoint too. */
  g_usleep (TERN_REPLY_CHECKPOINT_US + 10000);
  g_assert_true (tern_reply_update (reply, "Once upon a", toks, TERN_REPLY_CHECKPOINT_TOKENS + 1, &error));
  g_autoptr (TernMessage) m3 = tern_store_message_get (f->store, id, &error);
  g_assert_cmpstr (m3->content, ==, "Once upon a");

  g_autoptr (GBytes) samp = g_bytes_new_static ("s", 1);
  g_assert_true (tern_reply_finish (reply, "Once upon a time.", toks, 40, samp, &error));
  g_autoptr (TernMessage) m4 = tern_store_message_get (f->store, id, &error);
  g_assert_true (m4->complete);
  g_assert_cmpint (m4->n_tokens, ==, 40);
  g_assert_cmpstr (m4->content, ==, "Once upon a time.");
  g_autoptr (GPtrArray) hits = tern_store_search (f->store, "time", "<", ">", 0, 10, &error);
  g_assert_cmpuint (hits->len, ==, 1);
  g_assert_cmpstr (((TernSearchHit *) hits->pdata[0])->snippet, ==, "Once upon a <time>.");

  /* An unfinished reply stays, flagged incomplete. */
  TernReply *cut = tern_store_reply_begin (f->store, c, TERN_STORE_HEAD, &error);
  gint64 cut_id = tern_reply_id (cut);
  g_assert_true (tern_reply_update (cut, "Half", toks, 64, &error));
  tern_reply_free (cut);
  g_clear_pointer (&f->store, tern_store_free);
  f->store = tern_store_open (f->path, &error);
  g_autoptr (TernMessage) m5 = tern_store_message_get (f->store, cut_id, &error);
  g_assert_false (m5->complete);
  g_assert_cmpstr (m5->content, ==, "Half");
}

static void
test_search (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  gint64 c = tern_store_conversation_new (f->store, "Search", 0, NULL, NULL, &error);
  const char *texts[] = {
    "The quick brown fox jumps over the lazy dog.",
    "Un café crème, s'il vous plaît.",
    "Quoting \"AND\" OR NOT NEAR( * ) - these are FTS5 operators.",
    "Nothing to see here.",
  };

  for (guint i = 0; i < G_N_ELEMENTS (texts); i++)
    tern_store_message_add (f->store, c, TERN_STORE_HEAD, TERN_ROLE_USER, texts[i], NULL, 0, NULL, &error);
  g_assert_no_error (error);

  struct {
    const char *query;
    guint hits;
  } cases[] = {
    { "fox", 1 },        { "FOX lazy", 1 },   { "qui", 1 },   { "cafe", 1 }, { "CRÈME", 1 },
    { "fox nothing", 0 }, { "\"AND\" OR", 1 }, { "NEAR(", 1 }, { "*", 0 },    { "", 0 },
    { "-", 0 },          { "the", 2 }, /* "these" too: the last word is a prefix */
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GPtrArray) hits = tern_store_search (f->store, cases[i].query, "[", "]", 0, 10, &error);
      g_assert_no_error (error);
      g_assert_cmpuint (hits->len, ==, cases[i].hits);
    }
  g_autoptr (GPtrArray) hits = tern_store_search (f->store, "fox", "[", "]", 0, 10, &error);
  TernSearchHit *hit = hits->pdata[0];
  g_assert_cmpstr (hit->snippet, ==, "The quick brown [fox] jumps over the lazy dog.");
  g_assert_cmpstr (hit->title, ==, "Search");
  g_assert_cmpint (hit->conversation_id, ==, c);
}

static void
test_export_import (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  TernSamplerParams sampling;

  tern_sampler_params_init (&sampling);
  sampling.temperature = 0.7f;
  sampling.top_p = 1.0f;
  sampling.seed = G_MAXUINT64;
  gint64 a = tern_store_conversation_new (f->store, "Ünïcode “title”", 0, "System\nprompt", &sampling, &error);
  gint64 q = tern_store_message_add (f->store, a, TERN_STORE_HEAD, TERN_ROLE_USER, "Line one\nline \"two\"\t\\", NULL,
                                     4, NULL, &error);
  tern_store_message_add (f->store, a, q, TERN_ROLE_ASSISTANT, "Branch one", NULL, 2, NULL, &error);
  tern_store_message_add (f->store, a, q, TERN_ROLE_ASSISTANT, "Branch two 🙂", NULL, 3, NULL, &error);
  TernReply *cut = tern_store_reply_begin (f->store, a, TERN_STORE_HEAD, &error);
  tern_reply_free (cut);
  gint64 b = tern_store_conversation_new (f->store, "Empty", 0, NULL, NULL, &error);
  g_assert_no_error (error);

  g_autofree char *json = tern_store_export (f->store, NULL, 0, TERN_EXPORT_JSON, &error);
  g_assert_no_error (error);
  g_autofree char *md = tern_store_export (f->store, &a, 1, TERN_EXPORT_MARKDOWN, &error);
  g_assert_no_error (error);
  g_assert_nonnull (strstr (md, "# Ünïcode “title”"));
  g_assert_nonnull (strstr (md, "## System\n\nSystem\nprompt"));
  g_assert_nonnull (strstr (md, "Branch two 🙂"));
  g_assert_null (strstr (md, "Branch one"));
  g_assert_nonnull (strstr (md, "*(interrupted)*"));

  /* Into a fresh database and out again: the same JSON. */
  g_autofree char *path2 = g_build_filename (f->dir, "other.db", NULL);
  g_autoptr (TernStore) other = tern_store_open (path2, &error);
  g_autoptr (GArray) ids = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_assert_true (tern_store_import (other, json, -1, ids, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (ids->len, ==, 2);
  g_autofree char *again = tern_store_export (other, NULL, 0, TERN_EXPORT_JSON, &error);
  g_assert_cmpstr (again, ==, json);
  /* And into the same database, beside the originals. */
  g_assert_true (tern_store_import (f->store, json, -1, NULL, &error));
  g_assert_cmpint (tern_store_conversation_count (f->store, FALSE, &error), ==, 4);
  g_autofree char *one = tern_store_export (f->store, &b, 1, TERN_EXPORT_JSON, &error);
  g_assert_nonnull (strstr (one, "\"Empty\""));

  /* Bad input: refused whole, nothing imported. */
  const char *bad[] = {
    "not json",
    "{}",
    "{\"format\": \"tern-conversations\", \"version\": 1, \"conversations\": [{\"title\": 3}]}",
    "[1, 2]",
  };
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_assert_false (tern_store_import (other, bad[i], -1, NULL, &error));
      g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_FORMAT);
      g_clear_error (&error);
    }
  /* A message whose parent comes after it, in the second conversation:
   * the first is not kept either. */
  g_autofree char *broken = g_strdup (json);
  char *p = strstr (broken, "\"parent\" : 0");
  g_assert_nonnull (p);
  p[strlen ("\"parent\" : ")] = '7';
  g_assert_false (tern_store_import (other, broken, -1, NULL, &error));
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_FORMAT);
  g_assert_cmpint (tern_store_conversation_count (other, FALSE, NULL), ==, 2);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
#define ADD(name, fn) g_test_add ("/store/" name, Fixture, NULL, fixture_set_up, fn, fixture_tear_down)
  ADD ("open", test_open);
  ADD ("open-not-a-file", test_open_not_a_file);
  ADD ("newer-version", test_newer);
  ADD ("migrations", test_migrations);
  ADD ("trash-purge", test_trash_purge);
  ADD ("branch-leaf", test_branch_leaf);
  ADD ("models", test_models);
  ADD ("models/shrunk-in-use", test_model_shrunk_in_use);
  ADD ("models/order", test_models_order);
  ADD ("models/compression", test_model_compression);
  ADD ("conversations", test_conversations);
  ADD ("reply", test_reply);
  ADD ("search", test_search);
  ADD ("export-import", test_export_import);
  return g_test_run ();
}
