/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The store: opening the database, its schema migrations and the helpers
 * the other store files share. */
#include "store-private.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

/* While waiting for another program's lock, the store looks again after
 * BUSY_POLL_MS at most, so that a cancelled wait ends at once. */
#define BUSY_POLL_MS 20
/* The cancellable is checked every PROGRESS_OPS steps of SQLite's virtual
 * machine: a few microseconds apart. */
#define PROGRESS_OPS 1000

/* The plain causes of tern_store_fail's errors. */
#define CAUSE_READ_ONLY "the database or its folder cannot be written (read-only, or another user's)"
#define CAUSE_FULL "the disk is full: free some space and try again"

/* Schema migrations: migrations[v - 1] takes a database from version
 * v - 1 to v, in one transaction with the user_version update. Never edit
 * a released one: add the next. */
static const char *const migrations[] = {
  /* 1: the first schema. */
  "CREATE TABLE settings ("
  "  key TEXT PRIMARY KEY,"
  "  value TEXT NOT NULL"
  ") STRICT;"

  "CREATE TABLE models ("
  "  id INTEGER PRIMARY KEY,"
  "  path TEXT NOT NULL UNIQUE,"
  "  name TEXT NOT NULL,"
  "  arch TEXT NOT NULL,"
  "  n_params INTEGER NOT NULL,"
  "  tensor_types TEXT NOT NULL,"
  "  n_ctx_train INTEGER NOT NULL,"
  "  size INTEGER NOT NULL,"
  "  mtime_us INTEGER NOT NULL,"
  "  header_sha256 BLOB NOT NULL,"
  "  added_at INTEGER NOT NULL,"
  "  last_used_at INTEGER NOT NULL DEFAULT 0"
  ") STRICT;"

  "CREATE TABLE conversations ("
  "  id INTEGER PRIMARY KEY,"
  "  title TEXT NOT NULL,"
  "  model_id INTEGER REFERENCES models (id) ON DELETE SET NULL,"
  "  system_prompt TEXT NOT NULL DEFAULT '',"
  "  temperature REAL NOT NULL,"
  "  top_k INTEGER NOT NULL,"
  "  top_p REAL NOT NULL,"
  "  min_p REAL NOT NULL,"
  "  repeat_penalty REAL NOT NULL,"
  "  repeat_last_n INTEGER NOT NULL,"
  "  frequency_penalty REAL NOT NULL,"
  "  presence_penalty REAL NOT NULL,"
  "  seed INTEGER NOT NULL," /* the u64 seed's bits as an i64 */
  "  created_at INTEGER NOT NULL,"
  "  updated_at INTEGER NOT NULL,"
  "  trashed_at INTEGER NOT NULL DEFAULT 0,"
  "  head_id INTEGER REFERENCES messages (id) ON DELETE SET NULL DEFERRABLE INITIALLY DEFERRED"
  ") STRICT;"
  "CREATE INDEX conversations_by_time ON conversations (trashed_at, updated_at DESC, id DESC);"
  "CREATE INDEX conversations_by_model ON conversations (model_id);"

  "CREATE TABLE messages ("
  "  id INTEGER PRIMARY KEY,"
  "  conversation_id INTEGER NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,"
  "  parent_id INTEGER REFERENCES messages (id) ON DELETE CASCADE,"
  "  role TEXT NOT NULL CHECK (role IN ('system', 'user', 'assistant')),"
  "  content TEXT NOT NULL,"
  "  created_at INTEGER NOT NULL,"
  "  n_tokens INTEGER NOT NULL DEFAULT 0,"
  "  complete INTEGER NOT NULL DEFAULT 1,"
  "  tokens BLOB,"
  "  sampler BLOB"
  ") STRICT;"
  "CREATE INDEX messages_by_conversation ON messages (conversation_id, id);"
  "CREATE INDEX messages_by_parent ON messages (parent_id);"

  /* Search: an external-content FTS5 index over messages.content, kept in
   * step by triggers. */
  "CREATE VIRTUAL TABLE messages_fts USING fts5 ("
  "  content, content = 'messages', content_rowid = 'id', tokenize = 'unicode61 remove_diacritics 2');"
  "CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN"
  "  INSERT INTO messages_fts (rowid, content) VALUES (new.id, new.content);"
  "END;"
  "CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN"
  "  INSERT INTO messages_fts (messages_fts, rowid, content) VALUES ('delete', old.id, old.content);"
  "END;"
  "CREATE TRIGGER messages_fts_update AFTER UPDATE OF content ON messages BEGIN"
  "  INSERT INTO messages_fts (messages_fts, rowid, content) VALUES ('delete', old.id, old.content);"
  "  INSERT INTO messages_fts (rowid, content) VALUES (new.id, new.content);"
  "END;"

  /* A snapshot's bytes are split in chunks of about a mebibyte, each its
   * own row, so that no step ever holds a whole snapshot in memory. */
  "CREATE TABLE snapshots ("
  "  id INTEGER PRIMARY KEY AUTOINCREMENT," /* never reused: chunks belong to one snapshot */
  "  conversation_id INTEGER NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,"
  "  message_id INTEGER REFERENCES messages (id) ON DELETE CASCADE,"
  "  n_tokens INTEGER NOT NULL,"
  "  size INTEGER NOT NULL,"
  "  created_at INTEGER NOT NULL,"
  "  used_at INTEGER NOT NULL"
  ") STRICT;"
  "CREATE UNIQUE INDEX snapshots_by_message ON snapshots (conversation_id, coalesce (message_id, 0));"
  "CREATE INDEX snapshots_by_use ON snapshots (used_at);"
  "CREATE TABLE snapshot_chunks ("
  "  id INTEGER PRIMARY KEY,"
  "  snapshot_id INTEGER NOT NULL REFERENCES snapshots (id) ON DELETE CASCADE,"
  "  seq INTEGER NOT NULL,"
  "  data BLOB NOT NULL,"
  "  UNIQUE (snapshot_id, seq)"
  ") STRICT;",

  /* 2: a conversation's limit on the length of its replies. */
  "ALTER TABLE conversations ADD COLUMN max_tokens INTEGER NOT NULL DEFAULT 0;",

  /* 3: deleting a message sets the head_id of the conversations that
   * point at it to NULL; without an index each such delete scans every
   * conversation, and emptying a big trash took minutes. */
  "CREATE INDEX conversations_by_head ON conversations (head_id);",

  /* 4: a model made by compressing another keeps the report it was made
   * with and the library entry it was made from. */
  "ALTER TABLE models ADD COLUMN compressed_from INTEGER REFERENCES models (id) ON DELETE SET NULL;"
  "ALTER TABLE models ADD COLUMN compression_report TEXT;",
};

G_STATIC_ASSERT (G_N_ELEMENTS (migrations) == TERN_STORE_SCHEMA_VERSION);

static gboolean
cancelled (TernStore *store)
{
  return store->cancellable != NULL && g_cancellable_is_cancelled (store->cancellable);
}

gboolean
tern_store_check_cancelled (TernStore *store, GError **error)
{
  if (!cancelled (store))
    return TRUE;
  g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_CANCELLED, "%s: cancelled", store->path);
  return FALSE;
}

/* The error code for a failed file system call's errno. */
static TernEngineError
errno_kind (int err)
{
  switch (err)
    {
    case EACCES:
    case EPERM:
    case EROFS:
      return TERN_ENGINE_ERROR_READ_ONLY;
    case ENOSPC:
    case EDQUOT:
      return TERN_ENGINE_ERROR_FULL;
    default:
      return TERN_ENGINE_ERROR_IO;
    }
}

/* Whether the file at @path and its folder can be written. */
static gboolean
writable (const char *path)
{
  g_autofree char *dir = g_path_get_dirname (path);

  return g_access (dir, W_OK) == 0 && (g_access (path, W_OK) == 0 || errno == ENOENT);
}

gboolean
tern_store_fail (TernStore *store, const char *what, GError **error)
{
  /* The primary code: the connection reports extended ones
   * (SQLITE_OPEN_EXRESCODE), e.g. SQLITE_READONLY_DIRECTORY. */
  int code = sqlite3_errcode (store->db) & 0xff;
  const char *cause = NULL;
  TernEngineError kind;

  /* A statement the progress handler interrupted, or a wait given up. */
  gboolean refused = code == SQLITE_BUSY && store->busy_refused;
  gboolean expired = code == SQLITE_BUSY && store->busy_expired;
  store->busy_refused = FALSE;
  store->busy_expired = FALSE;
  if (!expired && (((code == SQLITE_INTERRUPT || code == SQLITE_BUSY) && cancelled (store)) || refused))
    {
      g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_CANCELLED, "%s: %s: cancelled%s", store->path, what,
                   code == SQLITE_BUSY ? " while another program was using the database" : "");
      return FALSE;
    }
  switch (code)
    {
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      kind = TERN_ENGINE_ERROR_FORMAT;
      cause = "the file is damaged or is not a Tern database";
      break;
    case SQLITE_NOMEM:
      kind = TERN_ENGINE_ERROR_NOMEM;
      break;
    case SQLITE_CONSTRAINT:
    case SQLITE_TOOBIG:
    case SQLITE_RANGE:
      kind = TERN_ENGINE_ERROR_INVALID;
      break;
    case SQLITE_READONLY:
    case SQLITE_PERM:
      kind = TERN_ENGINE_ERROR_READ_ONLY;
      cause = store->read_only ? "the database is open read-only" : CAUSE_READ_ONLY;
      break;
    case SQLITE_FULL:
      kind = TERN_ENGINE_ERROR_FULL;
      cause = CAUSE_FULL;
      break;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      kind = TERN_ENGINE_ERROR_LOCKED;
      cause = "another program is keeping the database locked";
      break;
    default: /* SQLITE_IOERR, SQLITE_CANTOPEN... */
      kind = TERN_ENGINE_ERROR_IO;
      break;
    }
  /* SQLite reports some failures of the file system only as an I/O error
   * (the WAL index of a full disk) or as a file it cannot open (the
   * journal files of a folder that cannot be written): the system's
   * errno and the folder say which. */
  if (code == SQLITE_IOERR || code == SQLITE_CANTOPEN)
    {
      TernEngineError by_errno = errno_kind (sqlite3_system_errno (store->db));
      if (by_errno == TERN_ENGINE_ERROR_FULL)
        {
          kind = TERN_ENGINE_ERROR_FULL;
          cause = CAUSE_FULL;
        }
      else if (by_errno == TERN_ENGINE_ERROR_READ_ONLY || (!store->read_only && !writable (store->path)))
        {
          kind = TERN_ENGINE_ERROR_READ_ONLY;
          cause = CAUSE_READ_ONLY;
        }
    }
  g_set_error (error, TERN_ENGINE_ERROR, kind, "%s: %s: %s", store->path, what,
               cause ? cause : sqlite3_errmsg (store->db));
  return FALSE;
}

gboolean
tern_store_no_such (const char *what, gint64 id, GError **error)
{
  g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_INVALID, "there is no %s with id %" G_GINT64_FORMAT, what,
               id);
  return FALSE;
}

gpointer
tern_store_get_by_id (TernStore *store, const char *sql, gint64 id, const char *what, StoreReadRowFn read_row,
                      GError **error)
{
  g_autoptr (StoreStmt) stmt = tern_store_prepare (store, sql, error);
  int rc;

  if (stmt == NULL)
    return NULL;
  sqlite3_bind_int64 (stmt, 1, id);
  rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW)
    return read_row (stmt);
  if (rc == SQLITE_DONE)
    tern_store_no_such (what, id, error);
  else
    {
      g_autofree char *doing = g_strconcat ("reading a ", what, NULL);
      tern_store_fail (store, doing, error);
    }
  return NULL;
}

StoreStmt *
tern_store_prepare (TernStore *store, const char *sql, GError **error)
{
  sqlite3_stmt *stmt = g_hash_table_lookup (store->stmts, sql);

  if (stmt)
    return stmt;
  if (sqlite3_prepare_v3 (store->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, NULL) != SQLITE_OK)
    {
      tern_store_fail (store, "preparing a query", error);
      return NULL;
    }
  g_hash_table_insert (store->stmts, g_strdup (sql), stmt);
  return stmt;
}

void
tern_store_stmt_release (StoreStmt *stmt)
{
  sqlite3_reset (stmt);
  sqlite3_clear_bindings (stmt);
}

gboolean
tern_store_step_done (TernStore *store, StoreStmt *stmt, const char *what, GError **error)
{
  int rc;

  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    ;
  return rc == SQLITE_DONE || tern_store_fail (store, what, error);
}

gboolean
tern_store_exec (TernStore *store, const char *sql, GError **error)
{
  if (sqlite3_exec (store->db, sql, NULL, NULL, NULL) != SQLITE_OK)
    return tern_store_fail (store, "writing", error);
  return TRUE;
}

gboolean
tern_store_txn_begin (TernStore *store, StoreTxn *txn, GError **error)
{
  /* IMMEDIATE takes the write lock at once, so a busy database makes the
   * call wait its turn rather than fail half-way through. */
  txn->nested = !sqlite3_get_autocommit (store->db);
  return tern_store_exec (store, txn->nested ? "SAVEPOINT tern_write" : "BEGIN IMMEDIATE", error);
}

gboolean
tern_store_txn_commit (TernStore *store, StoreTxn *txn, GError **error)
{
  if (tern_store_exec (store, txn->nested ? "RELEASE tern_write" : "COMMIT", error))
    return TRUE;
  tern_store_txn_rollback (store, txn);
  return FALSE;
}

void
tern_store_txn_rollback (TernStore *store, StoreTxn *txn)
{
  /* After an I/O error SQLite may have rolled back the whole transaction
   * itself: then there is nothing left to undo (and the statements below
   * fail harmlessly). */
  if (sqlite3_get_autocommit (store->db))
    return;
  if (txn->nested)
    sqlite3_exec (store->db, "ROLLBACK TO tern_write; RELEASE tern_write", NULL, NULL, NULL);
  else
    sqlite3_exec (store->db, "ROLLBACK", NULL, NULL, NULL);
}

char *
tern_store_column_text (StoreStmt *stmt, int col)
{
  const char *text = (const char *) sqlite3_column_text (stmt, col);
  return g_strdup (text ? text : "");
}

GArray *
tern_store_column_tokens (StoreStmt *stmt, int col)
{
  if (sqlite3_column_type (stmt, col) == SQLITE_NULL)
    return NULL;
  const void *data = sqlite3_column_blob (stmt, col);
  guint n = (guint) sqlite3_column_bytes (stmt, col) / sizeof (TernToken);
  GArray *tokens = g_array_sized_new (FALSE, FALSE, sizeof (TernToken), n);
  g_array_append_vals (tokens, data, n);
  return tokens;
}

GBytes *
tern_store_column_bytes (StoreStmt *stmt, int col)
{
  if (sqlite3_column_type (stmt, col) == SQLITE_NULL)
    return NULL;
  const void *data = sqlite3_column_blob (stmt, col);
  return g_bytes_new (data, (gsize) sqlite3_column_bytes (stmt, col));
}

void
tern_store_bind_tokens (StoreStmt *stmt, int col, const TernToken *tokens, gint32 n)
{
  G_STATIC_ASSERT (G_BYTE_ORDER == G_LITTLE_ENDIAN);
  if (tokens)
    sqlite3_bind_blob64 (stmt, col, n > 0 ? (const void *) tokens : "", (sqlite3_uint64) n * sizeof (TernToken),
                         SQLITE_TRANSIENT);
  else
    sqlite3_bind_null (stmt, col);
}

gint64
tern_store_now (TernStore *store)
{
  if (store->clock_step == 0)
    return g_get_real_time ();
  gint64 now = store->clock_next;
  store->clock_next += store->clock_step;
  return now;
}

void
tern_store_set_clock (TernStore *store, gint64 start_us, gint64 step_us)
{
  g_return_if_fail (step_us > 0);
  store->clock_next = start_us;
  store->clock_step = step_us;
}

char *
tern_store_default_path (void)
{
  const char *dir = g_getenv ("TERN_DATA_DIR");

  if (dir && dir[0])
    return g_build_filename (dir, "tern.db", NULL);
  return g_build_filename (g_get_user_data_dir (), "tern", "tern.db", NULL);
}

static gboolean
read_version (TernStore *store, int *version, GError **error)
{
  g_autoptr (StoreStmt) stmt = tern_store_prepare (store, "PRAGMA user_version", error);

  if (stmt == NULL)
    return FALSE;
  if (sqlite3_step (stmt) != SQLITE_ROW)
    return tern_store_fail (store, "reading the schema version", error);
  *version = sqlite3_column_int (stmt, 0);
  return TRUE;
}

static gboolean
migrate (TernStore *store, int version, int target, GError **error)
{
  /* Up to date: no write lock, so a database another program is writing
   * opens at once for reading. */
  for (int v = version + 1; v <= target; v++)
    {
      StoreTxn txn;

      if (!tern_store_txn_begin (store, &txn, error))
        return FALSE;
      /* Read again under the write lock: another process may have
       * upgraded the file meanwhile. */
      if (!read_version (store, &version, error))
        {
          tern_store_txn_rollback (store, &txn);
          return FALSE;
        }
      if (version >= v)
        {
          tern_store_txn_rollback (store, &txn);
          continue;
        }
      g_autofree char *set_version = g_strdup_printf ("PRAGMA user_version = %d", v);
      if (!tern_store_exec (store, migrations[v - 1], error) || !tern_store_exec (store, set_version, error) ||
          !tern_store_txn_commit (store, &txn, error))
        {
          tern_store_txn_rollback (store, &txn);
          g_prefix_error (error, "upgrading the database to version %d: ", v);
          return FALSE;
        }
    }
  return TRUE;
}

/* Runs a PRAGMA that returns its new value, and checks it. */
static gboolean
set_pragma (TernStore *store, const char *sql, const char *want, GError **error)
{
  g_autoptr (StoreStmt) stmt = tern_store_prepare (store, sql, error);

  if (stmt == NULL)
    return FALSE;
  if (sqlite3_step (stmt) != SQLITE_ROW)
    return tern_store_fail (store, sql, error);
  if (g_ascii_strcasecmp ((const char *) sqlite3_column_text (stmt, 0), want) != 0)
    {
      g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_IO, "%s: %s gave %s", store->path, sql,
                   sqlite3_column_text (stmt, 0));
      return FALSE;
    }
  return TRUE;
}

/* A database is a regular file, or a new one in a folder Tern may write:
 * SQLite would open a device or a pipe too, and make its journal beside
 * it ("/dev/null-journal"). Checked before SQLite touches anything. */
static gboolean
check_path (const char *path, const char *dir, GError **error)
{
  GStatBuf st;

  if (g_stat (path, &st) == 0)
    {
      if (!S_ISREG (st.st_mode))
        {
          g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_INVALID,
                       "%s is not a regular file: choose a database file, or a new file's name", path);
          return FALSE;
        }
      return TRUE;
    }
  int saved = errno;
  if (saved != ENOENT)
    {
      g_set_error (error, TERN_ENGINE_ERROR, errno_kind (saved), "cannot open %s: %s", path, g_strerror (saved));
      return FALSE;
    }
  if (g_access (dir, W_OK) != 0)
    {
      saved = errno;
      g_set_error (error, TERN_ENGINE_ERROR, errno_kind (saved), "cannot create a database in the folder %s: %s",
                   dir, g_strerror (saved));
      return FALSE;
    }
  return TRUE;
}

/* SQLite's busy handler: waits while another program holds the lock, as
 * long as it does, telling the busy function once the wait passes
 * TERN_STORE_BUSY_NOTICE_MS, and gives up (SQLITE_BUSY) when cancelled or
 * when the busy function says so. */
static int
on_busy (void *data, int count)
{
  TernStore *store = data;
  gint64 now = g_get_monotonic_time ();

  if (count == 0)
    {
      store->busy_since = now;
      store->busy_told = FALSE;
      store->busy_refused = FALSE;
    }
  if (cancelled (store))
    return 0;
  /* Opening has no cancellable to stop a wait: it gives up on its own. */
  if (store->opening && now - store->busy_since >= TERN_STORE_OPEN_WAIT_MS * G_TIME_SPAN_MILLISECOND)
    {
      store->busy_expired = TRUE;
      return 0;
    }
  if (store->busy_fn && now - store->busy_since >= TERN_STORE_BUSY_NOTICE_MS * G_TIME_SPAN_MILLISECOND)
    {
      gboolean first = !store->busy_told;
      store->busy_told = TRUE;
      if (!store->busy_fn (store, first, store->busy_data))
        {
          store->busy_refused = TRUE;
          return 0;
        }
    }
  g_usleep (MIN (1 << MIN (count, 5), BUSY_POLL_MS) * G_TIME_SPAN_MILLISECOND);
  return 1;
}

/* SQLite's progress handler: a non-zero return interrupts the statement. */
static int
on_progress (void *data)
{
  return cancelled (data);
}

/* A database that exists, for opening read-only: nothing is created. */
static gboolean
check_existing (const char *path, GError **error)
{
  GStatBuf st;

  if (g_stat (path, &st) != 0)
    {
      int saved = errno;
      g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_IO, "cannot open %s: %s", path, g_strerror (saved));
      return FALSE;
    }
  if (!S_ISREG (st.st_mode))
    {
      g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_INVALID, "%s is not a regular file", path);
      return FALSE;
    }
  return TRUE;
}

/* Whether @path has no WAL content: no -wal file, or an empty one. */
static gboolean
wal_empty (const char *path)
{
  g_autofree char *wal = g_strconcat (path, "-wal", NULL);
  GStatBuf st;

  return g_stat (wal, &st) != 0 || st.st_size == 0;
}

/* @immutable: read the file as one nobody writes (read-only only). */
static gboolean
open_db (TernStore *store, int target, gboolean immutable, GError **error)
{
  int version;
  int flags = SQLITE_OPEN_EXRESCODE | (store->read_only ? SQLITE_OPEN_READONLY
                                                        : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  g_autofree char *dir = g_path_get_dirname (store->path);

  if (store->read_only)
    {
      if (!check_existing (store->path, error))
        return FALSE;
    }
  else
    {
      if (g_mkdir_with_parents (dir, 0700) != 0)
        {
          int saved = errno;
          g_set_error (error, TERN_ENGINE_ERROR, errno_kind (saved), "cannot create the folder %s: %s", dir,
                       g_strerror (saved));
          return FALSE;
        }
      if (!check_path (store->path, dir, error))
        return FALSE;
    }
  g_autofree char *uri = NULL;
  if (immutable)
    {
      g_autofree char *escaped = g_uri_escape_string (store->path, "/", FALSE);
      uri = g_strconcat ("file:", escaped, "?immutable=1", NULL);
      flags |= SQLITE_OPEN_URI;
    }
  if (sqlite3_open_v2 (uri ? uri : store->path, &store->db, flags, NULL) != SQLITE_OK)
    {
      if (store->db == NULL)
        {
          g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_NOMEM, "%s: out of memory", store->path);
          return FALSE;
        }
      return tern_store_fail (store, "opening", error);
    }
  sqlite3_busy_handler (store->db, on_busy, store);
  sqlite3_progress_handler (store->db, PROGRESS_OPS, on_progress, store);

  /* The version first: a newer database is left exactly as it is. */
  if (!read_version (store, &version, error))
    return FALSE;
  if (store->read_only)
    {
      /* No migration, no journal change: the file is read as it is, and
       * query_only refuses every write, also where the file could be
       * written (a full disk, a newer schema). Tables of a newer schema
       * only grow, so this Tern reads what it knows; an older one lacks
       * columns this Tern reads. */
      if (version < TERN_STORE_SCHEMA_VERSION)
        {
          g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_MISMATCH,
                       "%s was written by an older Tern and must be upgraded, which needs writing", store->path);
          return FALSE;
        }
      return tern_store_exec (store, "PRAGMA query_only = ON; PRAGMA foreign_keys = ON", error);
    }
  if (version > TERN_STORE_SCHEMA_VERSION)
    {
      g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_MISMATCH,
                   "%s was written by a newer Tern (schema version %d; this Tern knows up to %d): "
                   "update Tern to open it",
                   store->path, version, TERN_STORE_SCHEMA_VERSION);
      return FALSE;
    }

  /* WAL: readers never block the writer, and a crash mid-write leaves the
   * database as of the last commit.
   * synchronous=FULL: each commit is synced to disk before it returns, so
   * a message once committed survives a power cut too, not only a crash
   * of Tern (NORMAL would only keep the database consistent, possibly
   * losing the last commits). Commits are few — one per message, one
   * streaming checkpoint a second, one per snapshot — so the cost of a
   * sync each is not felt.
   * secure_delete=FAST: deleted conversations are overwritten where that
   * costs no extra I/O. */
  if (!set_pragma (store, "PRAGMA journal_mode = WAL", "wal", error) ||
      !tern_store_exec (store, "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA secure_delete = FAST",
                        error))
    return FALSE;
  return migrate (store, version, target, error);
}

static void
finalize_stmt (gpointer stmt)
{
  sqlite3_finalize (stmt);
}

static TernStore *
store_open (const char *path, int version, gboolean read_only, GError **error)
{
  TernStore *store = g_new0 (TernStore, 1);
  store->path = path ? g_canonicalize_filename (path, NULL) : tern_store_default_path ();
  store->stmts = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, finalize_stmt);
  store->read_only = read_only;
  store->opening = TRUE;
  /* Reading a WAL database needs its -shm file, which SQLite makes or
   * grows beside it: where that cannot be (a folder that cannot be
   * written, a full disk) and the WAL holds nothing (so nobody is
   * writing), the file is read as immutable instead. */
  gboolean immutable = read_only && !writable (store->path) && wal_empty (store->path);
  GError *first = NULL;
  gboolean ok = open_db (store, version, immutable, &first);
  if (!ok && read_only && !immutable && g_error_matches (first, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_FULL) &&
      wal_empty (store->path))
    {
      g_clear_error (&first);
      g_hash_table_remove_all (store->stmts);
      g_clear_pointer (&store->db, sqlite3_close_v2);
      ok = open_db (store, version, TRUE, &first);
    }
  if (!ok)
    {
      g_propagate_error (error, first);
      tern_store_free (store);
      return NULL;
    }
  store->opening = FALSE;
  return store;
}

TernStore *
tern_store_open_at_version (const char *path, int version, GError **error)
{
  g_return_val_if_fail (version >= 0 && version <= TERN_STORE_SCHEMA_VERSION, NULL);
  return store_open (path, version, FALSE, error);
}

TernStore *
tern_store_open (const char *path, GError **error)
{
  return store_open (path, TERN_STORE_SCHEMA_VERSION, FALSE, error);
}

TernStore *
tern_store_open_read_only (const char *path, GError **error)
{
  return store_open (path, TERN_STORE_SCHEMA_VERSION, TRUE, error);
}

gboolean
tern_store_is_read_only (const TernStore *store)
{
  return store->read_only;
}

void
tern_store_free (TernStore *store)
{
  if (store == NULL)
    return;
  g_hash_table_destroy (store->stmts);
  /* sqlite3_close_v2 (not _close): it cannot fail on a statement the
   * table above missed. */
  sqlite3_close_v2 (store->db);
  g_clear_object (&store->cancellable);
  g_free (store->path);
  g_free (store);
}

void
tern_store_set_busy_func (TernStore *store, TernStoreBusyFn fn, gpointer user_data)
{
  store->busy_fn = fn;
  store->busy_data = user_data;
}

void
tern_store_set_cancellable (TernStore *store, GCancellable *cancellable)
{
  g_set_object (&store->cancellable, cancellable);
}

const char *
tern_store_path (const TernStore *store)
{
  return store->path;
}

gboolean
tern_store_begin (TernStore *store, GError **error)
{
  g_return_val_if_fail (sqlite3_get_autocommit (store->db), FALSE);
  return tern_store_exec (store, "BEGIN IMMEDIATE", error);
}

gboolean
tern_store_commit (TernStore *store, GError **error)
{
  if (tern_store_exec (store, "COMMIT", error))
    return TRUE;
  tern_store_rollback (store);
  return FALSE;
}

void
tern_store_rollback (TernStore *store)
{
  if (!sqlite3_get_autocommit (store->db))
    sqlite3_exec (store->db, "ROLLBACK", NULL, NULL, NULL);
}

gboolean
tern_store_set_setting (TernStore *store, const char *key, const char *value, GError **error)
{
  g_autoptr (StoreStmt) stmt = tern_store_prepare (
      store, "INSERT INTO settings (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = ?2", error);
  StoreTxn txn;

  if (stmt == NULL || !tern_store_txn_begin (store, &txn, error))
    return FALSE;
  sqlite3_bind_text (stmt, 1, key, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (stmt, 2, value, -1, SQLITE_TRANSIENT);
  if (!tern_store_step_done (store, stmt, "saving a setting", error))
    {
      tern_store_txn_rollback (store, &txn);
      return FALSE;
    }
  return tern_store_txn_commit (store, &txn, error);
}

char *
tern_store_get_setting (TernStore *store, const char *key, GError **error)
{
  g_autoptr (StoreStmt) stmt = tern_store_prepare (store, "SELECT value FROM settings WHERE key = ?1", error);
  int rc;

  if (stmt == NULL)
    return NULL;
  sqlite3_bind_text (stmt, 1, key, -1, SQLITE_TRANSIENT);
  rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW)
    return tern_store_column_text (stmt, 0);
  if (rc != SQLITE_DONE)
    tern_store_fail (store, "reading a setting", error);
  return NULL;
}
