/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Fault injection, as SQLite's own tests do it: a VFS that fails the Nth
 * write with SQLITE_IOERR or SQLITE_FULL, for every N of each kind of save
 * (a message, a streamed reply, a snapshot, an import, a duplicate, the
 * trash, a schema migration). Each must fail cleanly with an IO error
 * (FULL for a full disk), leave what was committed before intact, and the
 * store must go on working once the disk does. */
#include <tern/snapshot.h>
#include <tern/store.h>

#include "store/store-private.h"
#include "store-test.h"

/* The fault VFS: the default one, with xWrite failing on the Nth call
 * after arming. */
static sqlite3_vfs *base_vfs;
static sqlite3_vfs fault_vfs;
static int countdown; /* 0: disarmed */
static int fault_code;
static gboolean fired;

typedef struct {
  sqlite3_file base;
  sqlite3_file *real; /* allocated right after this struct */
} FaultFile;

#define REAL(f) (((FaultFile *) (f))->real)

static int
f_close (sqlite3_file *f)
{
  return REAL (f)->pMethods->xClose (REAL (f));
}
static int
f_read (sqlite3_file *f, void *buf, int n, sqlite3_int64 off)
{
  return REAL (f)->pMethods->xRead (REAL (f), buf, n, off);
}
static int
f_write (sqlite3_file *f, const void *buf, int n, sqlite3_int64 off)
{
  if (countdown > 0 && --countdown == 0)
    {
      fired = TRUE;
      return fault_code;
    }
  return REAL (f)->pMethods->xWrite (REAL (f), buf, n, off);
}
static int
f_truncate (sqlite3_file *f, sqlite3_int64 size)
{
  return REAL (f)->pMethods->xTruncate (REAL (f), size);
}
static int
f_sync (sqlite3_file *f, int flags)
{
  return REAL (f)->pMethods->xSync (REAL (f), flags);
}
static int
f_file_size (sqlite3_file *f, sqlite3_int64 *size)
{
  return REAL (f)->pMethods->xFileSize (REAL (f), size);
}
static int
f_lock (sqlite3_file *f, int lock)
{
  return REAL (f)->pMethods->xLock (REAL (f), lock);
}
static int
f_unlock (sqlite3_file *f, int lock)
{
  return REAL (f)->pMethods->xUnlock (REAL (f), lock);
}
static int
f_check_lock (sqlite3_file *f, int *out)
{
  return REAL (f)->pMethods->xCheckReservedLock (REAL (f), out);
}
static int
f_file_control (sqlite3_file *f, int op, void *arg)
{
  return REAL (f)->pMethods->xFileControl (REAL (f), op, arg);
}
static int
f_sector_size (sqlite3_file *f)
{
  return REAL (f)->pMethods->xSectorSize (REAL (f));
}
static int
f_device_chars (sqlite3_file *f)
{
  return REAL (f)->pMethods->xDeviceCharacteristics (REAL (f));
}
static int
f_shm_map (sqlite3_file *f, int region, int size, int extend, void volatile **p)
{
  return REAL (f)->pMethods->xShmMap (REAL (f), region, size, extend, p);
}
static int
f_shm_lock (sqlite3_file *f, int offset, int n, int flags)
{
  return REAL (f)->pMethods->xShmLock (REAL (f), offset, n, flags);
}
static void
f_shm_barrier (sqlite3_file *f)
{
  REAL (f)->pMethods->xShmBarrier (REAL (f));
}
static int
f_shm_unmap (sqlite3_file *f, int delete)
{
  return REAL (f)->pMethods->xShmUnmap (REAL (f), delete);
}

/* Version 2: no memory-mapped reads (xFetch), so every page goes through
 * xRead and xWrite. */
static const sqlite3_io_methods fault_io = {
  2,         f_close,       f_read,       f_write,        f_truncate,     f_sync,     f_file_size,
  f_lock,    f_unlock,      f_check_lock, f_file_control, f_sector_size,  f_device_chars,
  f_shm_map, f_shm_lock,    f_shm_barrier, f_shm_unmap,
};

static int
f_open (sqlite3_vfs *vfs, const char *name, sqlite3_file *file, int flags, int *out_flags)
{
  FaultFile *f = (FaultFile *) file;
  f->real = (sqlite3_file *) (f + 1);
  int rc = base_vfs->xOpen (base_vfs, name, f->real, flags, out_flags);
  f->base.pMethods = f->real->pMethods ? &fault_io : NULL;
  return rc;
}

static void
install_fault_vfs (void)
{
  base_vfs = sqlite3_vfs_find (NULL);
  fault_vfs = *base_vfs;
  fault_vfs.zName = "tern-fault";
  fault_vfs.szOsFile = (int) sizeof (FaultFile) + base_vfs->szOsFile;
  fault_vfs.xOpen = f_open;
  g_assert_cmpint (sqlite3_vfs_register (&fault_vfs, 1), ==, SQLITE_OK);
}

static void
arm (int n, int code)
{
  countdown = n;
  fault_code = code;
  fired = FALSE;
}

static void
disarm (void)
{
  countdown = 0;
}

/* Everything about the database a failed save must leave as it was. */
static char *
fingerprint (TernStore *store)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *json = tern_store_export (store, NULL, 0, TERN_EXPORT_JSON, &error);
  sqlite3_stmt *stmt;
  g_assert_no_error (error);
  g_assert_cmpint (sqlite3_prepare_v2 (store->db,
                                       "SELECT (SELECT count(*) FROM conversations), (SELECT count(*) FROM messages), "
                                       "(SELECT count(*) FROM snapshots), (SELECT count(*) FROM snapshot_chunks), "
                                       "(SELECT group_concat (id || ':' || size) FROM snapshots)",
                                       -1, &stmt, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
  char *out = g_strdup_printf ("%d %d %d %d %s\n%s", sqlite3_column_int (stmt, 0), sqlite3_column_int (stmt, 1),
                               sqlite3_column_int (stmt, 2), sqlite3_column_int (stmt, 3),
                               sqlite3_column_text (stmt, 4), json);
  sqlite3_finalize (stmt);
  return out;
}

static void
check_integrity (TernStore *store)
{
  sqlite3_stmt *stmt;
  g_assert_cmpint (sqlite3_prepare_v2 (store->db, "PRAGMA integrity_check", -1, &stmt, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
  g_assert_cmpstr ((const char *) sqlite3_column_text (stmt, 0), ==, "ok");
  sqlite3_finalize (stmt);
}

/* The engine state a snapshot save saves. */
static TernModel *model;
static TernModelIdentity identity;
static TernContext *ctx;
static TernSampler *sampler;

typedef gboolean (*SaveFn) (TernStore *store, GError **error);

static gboolean
save_message (TernStore *store, GError **error)
{
  return tern_store_message_add (store, 1, TERN_STORE_HEAD, TERN_ROLE_USER, "A new message to save.", NULL, 0, NULL,
                                 error) > 0;
}

/* A reply begun before the fault is armed, for the reply saves. */
static TernReply *pending;
static TernToken reply_tokens[64];

static gboolean
begin_reply (TernStore *store, GError **error)
{
  pending = tern_store_reply_begin (store, 1, TERN_STORE_HEAD, error);
  return pending != NULL;
}

static gboolean
save_checkpoint (TernStore *store, GError **error)
{
  /* Enough tokens that the update writes a checkpoint. */
  return tern_reply_update (pending, "Half a reply", reply_tokens, TERN_REPLY_CHECKPOINT_TOKENS, error);
}

static gboolean
save_finish (TernStore *store, GError **error)
{
  return tern_reply_finish (pending, "Half a reply, and the rest.", reply_tokens, 64, NULL, error);
}

static gboolean
save_snapshot (TernStore *store, GError **error)
{
  return tern_snapshot_save_to_store (store, 1, 0, ctx, sampler, &identity, error) > 0;
}

static gboolean
save_import (TernStore *store, GError **error)
{
  gint64 id = 1;
  g_autofree char *json = tern_store_export (store, &id, 1, TERN_EXPORT_JSON, error);
  return json && tern_store_import (store, json, -1, NULL, error);
}

static gboolean
save_duplicate (TernStore *store, GError **error)
{
  return tern_store_conversation_duplicate (store, 1, error) > 0;
}

static gboolean
fill_trash (TernStore *store, GError **error)
{
  gint64 c = tern_store_conversation_new (store, "to the trash", 0, NULL, NULL, error);
  return c > 0 && tern_store_message_add (store, c, TERN_STORE_HEAD, TERN_ROLE_USER, "bye", NULL, 0, NULL, error) > 0 &&
         tern_store_conversation_trash (store, c, error);
}

static gboolean
save_empty_trash (TernStore *store, GError **error)
{
  return tern_store_empty_trash (store, error) >= 0;
}

/* Each save is one transaction; @prepare runs before the fault is armed. */
static const struct {
  const char *name;
  SaveFn prepare, save;
} saves[] = {
  { "message", NULL, save_message },
  { "reply-checkpoint", begin_reply, save_checkpoint },
  { "reply-finish", begin_reply, save_finish },
  { "snapshot", NULL, save_snapshot },
  { "import", NULL, save_import },
  { "duplicate", NULL, save_duplicate },
  { "empty-trash", fill_trash, save_empty_trash },
};

static char *dir;

static char *
make_database (const char *name)
{
  g_autoptr (GError) error = NULL;
  char *path = g_build_filename (dir, name, NULL);
  g_autoptr (TernStore) store = tern_store_open (path, &error);
  gint64 c = tern_store_conversation_new (store, "committed before", 0, "system", NULL, &error);
  gint64 q = tern_store_message_add (store, c, TERN_STORE_HEAD, TERN_ROLE_USER, "first", NULL, 1, NULL, &error);
  tern_store_message_add (store, c, q, TERN_ROLE_ASSISTANT, "second", NULL, 1, NULL, &error);
  g_assert_cmpint (tern_snapshot_save_to_store (store, c, q, ctx, sampler, &identity, &error), >, 0);
  g_assert_no_error (error);
  g_assert_cmpint (c, ==, 1);
  return path;
}

static void
test_saves (gconstpointer data)
{
  int code = GPOINTER_TO_INT (data);

  for (guint s = 0; s < G_N_ELEMENTS (saves); s++)
    {
      g_autofree char *name = g_strdup_printf ("%s-%d.db", saves[s].name, code);
      g_autofree char *path = make_database (name);
      guint n_failed = 0;

      for (int n = 1;; n++)
        {
          g_autoptr (GError) error = NULL;
          g_autoptr (TernStore) store = tern_store_open (path, &error);
          g_assert_no_error (error);
          if (saves[s].prepare)
            g_assert_true (saves[s].prepare (store, &error));
          g_autofree char *before = fingerprint (store);

          arm (n, code);
          gboolean ok = saves[s].save (store, &error);
          disarm ();
          if (!fired)
            {
              g_assert_no_error (error);
              g_assert_true (ok);
              g_clear_pointer (&pending, tern_reply_free);
              g_test_message ("%s: a fault at each of %d writes; %u saves failed cleanly", saves[s].name, n - 1,
                              n_failed);
              break;
            }
          if (!ok)
            {
              /* A clean error, and nothing changed. */
              n_failed++;
              int want = code == SQLITE_FULL ? TERN_ENGINE_ERROR_FULL : TERN_ENGINE_ERROR_IO;
              g_assert_error (error, TERN_ENGINE_ERROR, want);
              g_assert_nonnull (strstr (error->message, code == SQLITE_FULL ? "the disk is full" : "I/O"));
              g_clear_error (&error);
              check_integrity (store);
              g_autofree char *after = fingerprint (store);
              g_assert_cmpstr (after, ==, before);
            }
          /* Otherwise the fault hit after the commit (a WAL checkpoint),
           * which SQLite retries later. Either way the store goes on. */
          if (!saves[s].save (store, &error))
            g_error ("%s: after a fault at write %d (%s): %s", saves[s].name, n, ok ? "saved" : "failed",
                     error->message);
          g_clear_pointer (&pending, tern_reply_free);
          g_clear_pointer (&store, tern_store_free);

          /* Reopened, the committed data is all there. */
          store = tern_store_open (path, &error);
          g_assert_no_error (error);
          check_integrity (store);
          g_autoptr (GPtrArray) first = tern_store_conversation_messages (store, 1, 0, &error);
          g_assert_no_error (error);
          g_assert_cmpuint (first->len, >=, 2);
          g_assert_cmpstr (((TernMessage *) first->pdata[0])->content, ==, "first");
        }
      g_assert_cmpuint (n_failed, >, 0);
    }
}

static void
test_migration (gconstpointer data)
{
  int code = GPOINTER_TO_INT (data);

  for (int n = 1;; n++)
    {
      g_autoptr (GError) error = NULL;
      g_autofree char *path = g_strdup_printf ("%s/migrate-%d-%d.db", dir, code, n);

      arm (n, code);
      TernStore *store = tern_store_open (path, &error);
      disarm ();
      if (!fired)
        {
          g_assert_nonnull (store);
          tern_store_free (store);
          g_test_message ("migration: a fault at each of %d writes", n - 1);
          break;
        }
      if (store == NULL)
        {
          int want = code == SQLITE_FULL ? TERN_ENGINE_ERROR_FULL : TERN_ENGINE_ERROR_IO;
          g_assert_error (error, TERN_ENGINE_ERROR, want);
          g_clear_error (&error);
        }
      tern_store_free (store);
      /* Each migration is all there or not at all; opening again upgrades. */
      TernStore *peek = tern_store_open_at_version (path, 0, &error);
      g_assert_no_error (error);
      sqlite3_stmt *stmt;
      g_assert_cmpint (sqlite3_prepare_v2 (peek->db, "SELECT (SELECT user_version FROM pragma_user_version), "
                                                     "(SELECT count(*) FROM sqlite_schema)",
                                           -1, &stmt, NULL), ==, SQLITE_OK);
      g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
      int version = sqlite3_column_int (stmt, 0), n_objects = sqlite3_column_int (stmt, 1);
      sqlite3_finalize (stmt);
      g_assert_true ((version == 0 && n_objects == 0) || (version >= 1 && version <= TERN_STORE_SCHEMA_VERSION && n_objects > 0));
      check_integrity (peek);
      tern_store_free (peek);
      store = tern_store_open (path, &error);
      g_assert_no_error (error);
      tern_store_free (store);
    }
}

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *path = NULL;
  TernContextParams params;
  TernSamplerParams sampling;

  g_test_init (&argc, &argv, NULL);
  install_fault_vfs ();
  dir = g_dir_make_tmp ("tern-fault-XXXXXX", &error);

  path = store_test_model_path ("kjv-tiny-q4_k_m");
  model = tern_model_load (path, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (tern_model_identity_of_gguf (tern_model_gguf (model), path, &identity, &error));
  tern_context_params_init (&params);
  params.n_ctx = 256;
  params.n_threads = 1;
  ctx = tern_context_new (model, &params, &error);
  store_test_sampling (&sampling, TRUE);
  sampler = tern_sampler_new (&sampling, tern_model_hparams (model)->n_vocab);
  g_autoptr (GArray) prompt = g_array_new (FALSE, FALSE, sizeof (TernToken));
  g_assert_true (store_test_prompt (ctx, sampler, prompt, &error));
  /* A state of a few chunks, so a save spans many writes. */
  TernToken out[200];
  g_assert_true (store_test_generate (ctx, sampler, 200, out, &error));

  g_test_add_data_func ("/store/fault/io-error", GINT_TO_POINTER (SQLITE_IOERR_WRITE), test_saves);
  g_test_add_data_func ("/store/fault/disk-full", GINT_TO_POINTER (SQLITE_FULL), test_saves);
  g_test_add_data_func ("/store/fault/migration-io-error", GINT_TO_POINTER (SQLITE_IOERR_WRITE), test_migration);
  g_test_add_data_func ("/store/fault/migration-disk-full", GINT_TO_POINTER (SQLITE_FULL), test_migration);
  int status = g_test_run ();

  tern_sampler_free (sampler);
  tern_context_free (ctx);
  tern_model_free (model);
  test_remove_tree (dir);
  g_free (dir);
  return status;
}
