/* SPDX-License-Identifier: GPL-3.0-or-later */
/* State snapshots in the store: bytes that the session makes of a context
 * (tern/snapshot.h), split in chunks of CHUNK_BYTES, each a row written and
 * read with SQLite's incremental blob I/O, so memory stays at one chunk
 * whatever the snapshot's size. */
#include "store-private.h"

#include <string.h>

#define CHUNK_BYTES (1 << 20)
#define LIMIT_KEY "snapshot_limit_bytes"

typedef struct {
  TernStore *store;
  gint64 snapshot_id;
  gint64 seq;
  guint8 *buf;
  gsize len;
} ChunkWriter;

static gboolean
flush_chunk (ChunkWriter *w, GError **error)
{
  TernStore *store = w->store;
  g_autoptr (StoreStmt) stmt = tern_store_prepare (
      store, "INSERT INTO snapshot_chunks (snapshot_id, seq, data) VALUES (?1, ?2, zeroblob (?3))", error);
  sqlite3_blob *blob;

  if (w->len == 0)
    return TRUE;
  if (stmt == NULL || !tern_store_check_cancelled (store, error))
    return FALSE;
  sqlite3_bind_int64 (stmt, 1, w->snapshot_id);
  sqlite3_bind_int64 (stmt, 2, w->seq);
  sqlite3_bind_int (stmt, 3, (int) w->len);
  if (!tern_store_step_done (store, stmt, "saving a snapshot", error))
    return FALSE;
  if (sqlite3_blob_open (store->db, "main", "snapshot_chunks", "data", sqlite3_last_insert_rowid (store->db), 1,
                         &blob) != SQLITE_OK)
    return tern_store_fail (store, "saving a snapshot", error);
  if (sqlite3_blob_write (blob, w->buf, (int) w->len, 0) != SQLITE_OK)
    {
      tern_store_fail (store, "saving a snapshot", error);
      sqlite3_blob_close (blob);
      return FALSE;
    }
  if (sqlite3_blob_close (blob) != SQLITE_OK)
    return tern_store_fail (store, "saving a snapshot", error);
  w->seq++;
  w->len = 0;
  return TRUE;
}

static gboolean
write_chunks (const void *data, gsize len, gpointer user_data, GError **error)
{
  ChunkWriter *w = user_data;
  const guint8 *p = data;

  while (len > 0)
    {
      gsize n = MIN (len, CHUNK_BYTES - w->len);
      memcpy (w->buf + w->len, p, n);
      w->len += n;
      p += n;
      len -= n;
      if (w->len == CHUNK_BYTES && !flush_chunk (w, error))
        return FALSE;
    }
  return TRUE;
}

gint64
tern_store_get_snapshot_limit (TernStore *store)
{
  g_autofree char *value = tern_store_get_setting (store, LIMIT_KEY, NULL);
  guint64 limit;

  if (value && g_ascii_string_to_unsigned (value, 10, 0, G_MAXINT64, &limit, NULL))
    return (gint64) limit;
  return TERN_STORE_SNAPSHOT_LIMIT_DEFAULT;
}

/* Deletes the least recently used snapshots until the total fits the
 * limit; in the caller's transaction. */
static gboolean
evict (TernStore *store, GError **error)
{
  g_autoptr (StoreStmt) total = tern_store_prepare (store, "SELECT coalesce (sum (size), 0) FROM snapshots", error);
  g_autoptr (StoreStmt) oldest = tern_store_prepare (
      store, "DELETE FROM snapshots WHERE id = (SELECT id FROM snapshots ORDER BY used_at, id LIMIT 1) "
             "RETURNING size",
      error);
  gint64 limit = tern_store_get_snapshot_limit (store);

  if (total == NULL || oldest == NULL)
    return FALSE;
  if (sqlite3_step (total) != SQLITE_ROW)
    return tern_store_fail (store, "measuring snapshots", error);
  gint64 size = sqlite3_column_int64 (total, 0);
  while (size > limit)
    {
      if (sqlite3_step (oldest) != SQLITE_ROW)
        return tern_store_fail (store, "evicting a snapshot", error);
      size -= sqlite3_column_int64 (oldest, 0);
      if (!tern_store_step_done (store, oldest, "evicting a snapshot", error))
        return FALSE;
      sqlite3_reset (oldest);
    }
  return TRUE;
}

gboolean
tern_store_set_snapshot_limit (TernStore *store, gint64 bytes, GError **error)
{
  g_autofree char *value = g_strdup_printf ("%" G_GINT64_FORMAT, bytes);
  StoreTxn txn;

  if (bytes < 0)
    {
      g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_INVALID, "the snapshot limit cannot be negative");
      return FALSE;
    }
  if (!tern_store_txn_begin (store, &txn, error))
    return FALSE;
  if (!tern_store_set_setting (store, LIMIT_KEY, value, error) || !evict (store, error))
    {
      tern_store_txn_rollback (store, &txn);
      return FALSE;
    }
  return tern_store_txn_commit (store, &txn, error);
}

/* In the caller's transaction: drops the snapshots of the branch ending at
 * @message_id (those of it and its ancestors, and the one before any
 * message), then adds the new snapshot's row. */
static gint64
insert_snapshot (TernStore *store, gint64 conversation_id, gint64 message_id, gint32 n_tokens, GError **error)
{
  g_autoptr (StoreStmt) drop = tern_store_prepare (
      store,
      "WITH RECURSIVE path (id) AS ("
      "  SELECT ?2"
      "  UNION" /* not UNION ALL: a damaged chain's loop ends */
      "  SELECT m.parent_id FROM messages m JOIN path p ON m.id = p.id WHERE m.parent_id IS NOT NULL"
      ") DELETE FROM snapshots WHERE conversation_id = ?1 AND (message_id IS NULL OR message_id IN path)",
      error);
  g_autoptr (StoreStmt) add = tern_store_prepare (
      store,
      "INSERT INTO snapshots (conversation_id, message_id, n_tokens, size, created_at, used_at) "
      "VALUES (?1, ?2, ?3, 0, ?4, ?4)",
      error);
  g_autoptr (StoreStmt) check = tern_store_prepare (
      store,
      "SELECT 1 FROM conversations c WHERE c.id = ?1 AND "
      "(?2 = 0 OR EXISTS (SELECT 1 FROM messages m WHERE m.id = ?2 AND m.conversation_id = ?1))",
      error);

  if (drop == NULL || add == NULL || check == NULL)
    return 0;
  sqlite3_bind_int64 (check, 1, conversation_id);
  sqlite3_bind_int64 (check, 2, message_id);
  int rc = sqlite3_step (check);
  if (rc == SQLITE_DONE)
    {
      g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_INVALID,
                   "there is no conversation %" G_GINT64_FORMAT " with message %" G_GINT64_FORMAT, conversation_id,
                   message_id);
      return 0;
    }
  if (rc != SQLITE_ROW)
    {
      tern_store_fail (store, "saving a snapshot", error);
      return 0;
    }
  sqlite3_bind_int64 (drop, 1, conversation_id);
  sqlite3_bind_int64 (drop, 2, message_id);
  sqlite3_bind_int64 (add, 1, conversation_id);
  if (message_id > 0)
    sqlite3_bind_int64 (add, 2, message_id);
  sqlite3_bind_int (add, 3, n_tokens);
  sqlite3_bind_int64 (add, 4, tern_store_now (store));
  if (!tern_store_step_done (store, drop, "saving a snapshot", error) ||
      !tern_store_step_done (store, add, "saving a snapshot", error))
    return 0;
  return sqlite3_last_insert_rowid (store->db);
}

gint64
tern_store_snapshot_save (TernStore *store, gint64 conversation_id, gint64 message_id, gint32 n_tokens,
                          TernSnapshotWriteFn produce, gpointer user_data, GError **error)
{
  g_autoptr (StoreStmt) size_stmt = tern_store_prepare (store, "UPDATE snapshots SET size = ?2 WHERE id = ?1", error);
  g_autoptr (StoreStmt) kept = tern_store_prepare (store, "SELECT 1 FROM snapshots WHERE id = ?1", error);
  ChunkWriter w = { store };
  guint64 size;
  StoreTxn txn;

  if (size_stmt == NULL || kept == NULL || !tern_store_txn_begin (store, &txn, error))
    return -1;
  w.buf = g_malloc (CHUNK_BYTES);
  w.snapshot_id = insert_snapshot (store, conversation_id, message_id, n_tokens, error);
  gboolean ok = w.snapshot_id > 0 && produce (write_chunks, &w, &size, user_data, error) && flush_chunk (&w, error);
  g_free (w.buf);
  if (ok)
    {
      sqlite3_bind_int64 (size_stmt, 1, w.snapshot_id);
      sqlite3_bind_int64 (size_stmt, 2, (gint64) size);
      ok = tern_store_step_done (store, size_stmt, "saving a snapshot", error) && evict (store, error);
    }
  if (!ok)
    {
      tern_store_txn_rollback (store, &txn);
      return -1;
    }
  sqlite3_bind_int64 (kept, 1, w.snapshot_id);
  int rc = sqlite3_step (kept);
  if ((rc != SQLITE_ROW && rc != SQLITE_DONE && !tern_store_fail (store, "saving a snapshot", error)) ||
      !tern_store_txn_commit (store, &txn, error))
    {
      tern_store_txn_rollback (store, &txn);
      return -1;
    }
  return rc == SQLITE_ROW ? w.snapshot_id : 0;
}

gint64
tern_store_snapshot_find (TernStore *store, gint64 conversation_id, gint64 message_id, GError **error)
{
  g_autoptr (StoreStmt) stmt = tern_store_prepare (
      store, "SELECT id FROM snapshots WHERE conversation_id = ?1 AND coalesce (message_id, 0) = ?2", error);

  if (stmt == NULL)
    return -1;
  sqlite3_bind_int64 (stmt, 1, conversation_id);
  sqlite3_bind_int64 (stmt, 2, message_id);
  int rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW)
    return sqlite3_column_int64 (stmt, 0);
  if (rc != SQLITE_DONE)
    {
      tern_store_fail (store, "finding a snapshot", error);
      return -1;
    }
  return 0;
}

typedef struct {
  TernStore *store;
  gint64 snapshot_id;
  gint64 seq;         /* of the next chunk to open */
  sqlite3_blob *blob; /* the chunk being read */
  int blob_len, pos;
} ChunkReader;

/* Opens chunk r->seq; FALSE with *found unset when there is none. */
static gboolean
next_chunk (ChunkReader *r, gboolean *found, GError **error)
{
  TernStore *store = r->store;
  g_autoptr (StoreStmt) stmt =
      tern_store_prepare (store, "SELECT id FROM snapshot_chunks WHERE snapshot_id = ?1 AND seq = ?2", error);

  *found = FALSE;
  if (stmt == NULL || !tern_store_check_cancelled (store, error))
    return FALSE;
  sqlite3_bind_int64 (stmt, 1, r->snapshot_id);
  sqlite3_bind_int64 (stmt, 2, r->seq);
  int rc = sqlite3_step (stmt);
  if (rc == SQLITE_DONE)
    return TRUE;
  if (rc != SQLITE_ROW)
    return tern_store_fail (store, "reading a snapshot", error);
  gint64 rowid = sqlite3_column_int64 (stmt, 0);
  rc = r->blob ? sqlite3_blob_reopen (r->blob, rowid)
               : sqlite3_blob_open (store->db, "main", "snapshot_chunks", "data", rowid, 0, &r->blob);
  if (rc != SQLITE_OK)
    return tern_store_fail (store, "reading a snapshot", error);
  r->blob_len = sqlite3_blob_bytes (r->blob);
  r->pos = 0;
  r->seq++;
  *found = TRUE;
  return TRUE;
}

static gboolean
read_chunks (void *data, gsize len, gpointer user_data, GError **error)
{
  ChunkReader *r = user_data;
  guint8 *p = data;

  while (len > 0)
    {
      gboolean found;
      if (r->blob == NULL || r->pos == r->blob_len)
        {
          if (!next_chunk (r, &found, error))
            return FALSE;
          if (!found)
            {
              g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_FORMAT, "the snapshot is corrupt: it ends early");
              return FALSE;
            }
          continue;
        }
      int n = (int) MIN (len, (gsize) (r->blob_len - r->pos));
      if (sqlite3_blob_read (r->blob, p, n, r->pos) != SQLITE_OK)
        return tern_store_fail (r->store, "reading a snapshot", error);
      r->pos += n;
      p += n;
      len -= n;
    }
  return TRUE;
}

gboolean
tern_store_snapshot_read (TernStore *store, gint64 id, TernSnapshotReadFn consume, gpointer user_data,
                          GError **error)
{
  g_autoptr (StoreStmt) get = tern_store_prepare (store, "SELECT size FROM snapshots WHERE id = ?1", error);
  g_autoptr (StoreStmt) used = tern_store_prepare (store, "UPDATE snapshots SET used_at = ?2 WHERE id = ?1", error);
  ChunkReader r = { store, id };
  gboolean ok = FALSE, more = FALSE;

  if (get == NULL || used == NULL)
    return FALSE;
  /* One read transaction: the chunks cannot change under the reader. */
  if (!tern_store_exec (store, "SAVEPOINT tern_restore", error))
    return FALSE;
  sqlite3_bind_int64 (get, 1, id);
  int rc = sqlite3_step (get);
  if (rc != SQLITE_ROW)
    {
      if (rc == SQLITE_DONE)
        tern_store_no_such ("snapshot", id, error);
      else
        tern_store_fail (store, "reading a snapshot", error);
    }
  else
    {
      ok = consume (read_chunks, &r, (guint64) sqlite3_column_int64 (get, 0), user_data, error);
      /* Every stored byte must have been part of it. */
      if (ok && (r.pos != r.blob_len || !next_chunk (&r, &more, error) || more))
        {
          if (error && *error == NULL)
            g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_FORMAT,
                         "the snapshot is corrupt: it is longer than recorded");
          ok = FALSE;
        }
    }
  if (r.blob)
    sqlite3_blob_close (r.blob);
  sqlite3_reset (get);
  sqlite3_exec (store->db, "RELEASE tern_restore", NULL, NULL, NULL);
  if (!ok)
    return FALSE;

  /* Recently used snapshots are the last to be evicted. */
  StoreTxn txn;
  sqlite3_bind_int64 (used, 1, id);
  sqlite3_bind_int64 (used, 2, tern_store_now (store));
  if (!tern_store_txn_begin (store, &txn, error))
    return FALSE;
  if (!tern_store_step_done (store, used, "marking a snapshot used", error) ||
      !tern_store_txn_commit (store, &txn, error))
    {
      tern_store_txn_rollback (store, &txn);
      return FALSE;
    }
  return TRUE;
}

gboolean
tern_store_snapshot_delete (TernStore *store, gint64 id, GError **error)
{
  g_autoptr (StoreStmt) stmt = tern_store_prepare (store, "DELETE FROM snapshots WHERE id = ?1", error);
  StoreTxn txn;

  if (stmt == NULL || !tern_store_txn_begin (store, &txn, error))
    return FALSE;
  sqlite3_bind_int64 (stmt, 1, id);
  if (!tern_store_step_done (store, stmt, "deleting a snapshot", error))
    {
      tern_store_txn_rollback (store, &txn);
      return FALSE;
    }
  if (sqlite3_changes (store->db) == 0)
    {
      tern_store_txn_rollback (store, &txn);
      return tern_store_no_such ("snapshot", id, error);
    }
  return tern_store_txn_commit (store, &txn, error);
}

GPtrArray *
tern_store_snapshot_list (TernStore *store, gint64 conversation_id, GError **error)
{
  g_autoptr (StoreStmt) stmt = tern_store_prepare (
      store,
      "SELECT id, conversation_id, coalesce (message_id, 0), n_tokens, size, created_at, used_at FROM snapshots "
      "WHERE ?1 = 0 OR conversation_id = ?1 ORDER BY used_at DESC, id DESC",
      error);
  g_autoptr (GPtrArray) list = g_ptr_array_new_with_free_func (g_free);
  int rc;

  if (stmt == NULL)
    return NULL;
  sqlite3_bind_int64 (stmt, 1, conversation_id);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      TernSnapshotEntry *e = g_new0 (TernSnapshotEntry, 1);
      e->id = sqlite3_column_int64 (stmt, 0);
      e->conversation_id = sqlite3_column_int64 (stmt, 1);
      e->message_id = sqlite3_column_int64 (stmt, 2);
      e->n_tokens = sqlite3_column_int (stmt, 3);
      e->size = sqlite3_column_int64 (stmt, 4);
      e->created_at = sqlite3_column_int64 (stmt, 5);
      e->used_at = sqlite3_column_int64 (stmt, 6);
      g_ptr_array_add (list, e);
    }
  if (rc != SQLITE_DONE)
    {
      tern_store_fail (store, "listing snapshots", error);
      return NULL;
    }
  return g_steal_pointer (&list);
}

gint64
tern_store_snapshot_total_size (TernStore *store, GError **error)
{
  g_autoptr (StoreStmt) stmt = tern_store_prepare (store, "SELECT coalesce (sum (size), 0) FROM snapshots", error);

  if (stmt == NULL)
    return -1;
  if (sqlite3_step (stmt) != SQLITE_ROW)
    {
      tern_store_fail (store, "measuring snapshots", error);
      return -1;
    }
  return sqlite3_column_int64 (stmt, 0);
}
