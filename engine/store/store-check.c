/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Checking the database, and repairing what a program writing the file
 * directly can break: chains of messages (loops, parents and heads that
 * are missing or elsewhere), the search index, orphan snapshots. */
#include "store-private.h"

#include <stdarg.h>

gboolean
tern_store_damaged (GError **error, gint64 id, const char *what, ...)
{
  va_list args;

  va_start (args, what);
  g_autofree char *text = g_strdup_vprintf (what, args);
  va_end (args);
  g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_FORMAT,
               "conversation %" G_GINT64_FORMAT " is damaged: %s; tern-cli history check --repair repairs it", id,
               text);
  return FALSE;
}

/* A message as the chains see it. */
typedef struct {
  gint64 id;
  gint64 conversation_id;
  gint64 parent_id; /* 0: none */
  guint8 walk;      /* cycle search: 0 not seen, 1 on the path walked, 2 done */
} Link;

/* What a check works on: every message, by id. */
typedef struct {
  TernStore *store;
  gboolean repair;
  GPtrArray *problems;
  GArray *links;      /* Link, by id */
  GHashTable *by_id;  /* gint64 id -> index + 1 in links */
} Check;

static Link *
find_link (Check *ck, gint64 id)
{
  guint at = GPOINTER_TO_UINT (g_hash_table_lookup (ck->by_id, &id));
  return at ? &g_array_index (ck->links, Link, at - 1) : NULL;
}

static void
report (Check *ck, const char *repaired, const char *format, ...) G_GNUC_PRINTF (3, 4);

/* Adds a problem; with a repair, @repaired says what was done. */
static void
report (Check *ck, const char *repaired, const char *format, ...)
{
  va_list args;

  va_start (args, format);
  g_autofree char *text = g_strdup_vprintf (format, args);
  va_end (args);
  g_ptr_array_add (ck->problems, ck->repair && repaired ? g_strdup_printf ("%s; %s", text, repaired)
                                                         : g_steal_pointer (&text));
}

static gboolean
quick_check (Check *ck, GError **error)
{
  g_autoptr (StoreStmt) stmt = tern_store_prepare (ck->store, "PRAGMA quick_check", error);
  int rc;

  if (stmt == NULL)
    return FALSE;
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      const char *row = (const char *) sqlite3_column_text (stmt, 0);
      if (g_strcmp0 (row, "ok") != 0)
        report (ck, NULL, "SQLite's quick check: %s (not repaired here: restore a backup)", row ? row : "?");
    }
  return rc == SQLITE_DONE || tern_store_fail (ck->store, "checking the database", error);
}

static gboolean
load_links (Check *ck, GError **error)
{
  g_autoptr (StoreStmt) stmt =
      tern_store_prepare (ck->store, "SELECT id, conversation_id, coalesce (parent_id, 0) FROM messages ORDER BY id",
                          error);
  int rc;

  if (stmt == NULL)
    return FALSE;
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      Link link = { sqlite3_column_int64 (stmt, 0), sqlite3_column_int64 (stmt, 1), sqlite3_column_int64 (stmt, 2) };
      g_array_append_val (ck->links, link);
    }
  if (rc != SQLITE_DONE)
    return tern_store_fail (ck->store, "reading messages", error);
  /* Keys point into the array, which no longer grows. */
  for (guint i = 0; i < ck->links->len; i++)
    g_hash_table_insert (ck->by_id, &g_array_index (ck->links, Link, i).id, GUINT_TO_POINTER (i + 1));
  return TRUE;
}

/* Makes @link a first message. */
static gboolean
cut_parent (Check *ck, Link *link, GError **error)
{
  g_autoptr (StoreStmt) stmt = tern_store_prepare (ck->store, "UPDATE messages SET parent_id = NULL WHERE id = ?1",
                                                   error);

  link->parent_id = 0;
  if (!ck->repair)
    return TRUE;
  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_int64 (stmt, 1, link->id);
  return tern_store_step_done (ck->store, stmt, "repairing a message", error);
}

/* Parents that are missing or in another conversation. */
static gboolean
check_parents (Check *ck, GError **error)
{
  for (guint i = 0; i < ck->links->len; i++)
    {
      Link *link = &g_array_index (ck->links, Link, i);
      if (link->parent_id == 0)
        continue;
      const Link *parent = find_link (ck, link->parent_id);
      if (parent && parent->conversation_id == link->conversation_id)
        continue;
      g_autofree char *now = g_strdup_printf ("message %" G_GINT64_FORMAT " is now a first message", link->id);
      if (parent)
        report (ck, now,
                "conversation %" G_GINT64_FORMAT ": the parent of message %" G_GINT64_FORMAT
                ", message %" G_GINT64_FORMAT ", is in conversation %" G_GINT64_FORMAT,
                link->conversation_id, link->id, link->parent_id, parent->conversation_id);
      else
        report (ck, now,
                "conversation %" G_GINT64_FORMAT ": the parent of message %" G_GINT64_FORMAT
                ", message %" G_GINT64_FORMAT ", is missing",
                link->conversation_id, link->id, link->parent_id);
      if (!cut_parent (ck, link, error))
        return FALSE;
    }
  return TRUE;
}

/* Loops of parents. Each walk up from a message not yet seen marks the
 * messages it passes; meeting one of its own marks closes a loop, which is
 * broken at its oldest message (whose parent, being newer, is where the
 * loop closes). Linear in the number of messages. */
static gboolean
check_loops (Check *ck, GError **error)
{
  g_autoptr (GPtrArray) path = g_ptr_array_new ();

  for (guint i = 0; i < ck->links->len; i++)
    {
      Link *link = &g_array_index (ck->links, Link, i);
      g_ptr_array_set_size (path, 0);
      while (link && link->walk == 0)
        {
          link->walk = 1;
          g_ptr_array_add (path, link);
          link = link->parent_id ? find_link (ck, link->parent_id) : NULL;
        }
      if (link && link->walk == 1)
        {
          /* The loop: from @link, where the walk came back, to the end. */
          guint start = 0;
          while (path->pdata[start] != link)
            start++;
          Link *oldest = link;
          g_autoptr (GString) ids = g_string_new (NULL);
          for (guint j = start; j < path->len; j++)
            {
              Link *l = path->pdata[j];
              g_string_append_printf (ids, "%s%" G_GINT64_FORMAT, j > start ? " → " : "", l->id);
              if (l->id < oldest->id)
                oldest = l;
            }
          g_autofree char *now = g_strdup_printf ("message %" G_GINT64_FORMAT " is now a first message", oldest->id);
          report (ck, now,
                  "conversation %" G_GINT64_FORMAT ": its messages' parents go round a loop (%s → %"
                  G_GINT64_FORMAT ")",
                  link->conversation_id, ids->str, link->id);
          if (!cut_parent (ck, oldest, error))
            return FALSE;
        }
      for (guint j = 0; j < path->len; j++)
        ((Link *) path->pdata[j])->walk = 2;
    }
  return TRUE;
}

/* Heads that are missing, in another conversation, or none while there are
 * messages; repaired to the newest message of the conversation. */
static gboolean
check_heads (Check *ck, GError **error)
{
  g_autoptr (StoreStmt) stmt = tern_store_prepare (
      ck->store,
      "SELECT c.id, coalesce (c.head_id, 0), (SELECT max(m.id) FROM messages m WHERE m.conversation_id = c.id) "
      "FROM conversations c ORDER BY c.id",
      error);
  g_autoptr (StoreStmt) set = tern_store_prepare (ck->store, "UPDATE conversations SET head_id = ?2 WHERE id = ?1",
                                                  error);
  g_autoptr (GArray) fixes = g_array_new (FALSE, FALSE, sizeof (gint64));
  int rc;

  if (stmt == NULL || set == NULL)
    return FALSE;
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      gint64 id = sqlite3_column_int64 (stmt, 0), head = sqlite3_column_int64 (stmt, 1);
      gint64 newest = sqlite3_column_int64 (stmt, 2);
      const Link *link = head ? find_link (ck, head) : NULL;
      g_autofree char *now = newest ? g_strdup_printf ("its head is now message %" G_GINT64_FORMAT, newest)
                                    : g_strdup ("it now has no head");

      if (head == 0 && newest != 0)
        report (ck, now, "conversation %" G_GINT64_FORMAT " has messages but no head", id);
      else if (head != 0 && link == NULL)
        report (ck, now, "conversation %" G_GINT64_FORMAT ": its head, message %" G_GINT64_FORMAT ", is missing", id,
                head);
      else if (link && link->conversation_id != id)
        report (ck, now,
                "conversation %" G_GINT64_FORMAT ": its head, message %" G_GINT64_FORMAT ", is in conversation %"
                G_GINT64_FORMAT, id, head, link->conversation_id);
      else
        continue;
      g_array_append_val (fixes, id);
      g_array_append_val (fixes, newest);
    }
  if (rc != SQLITE_DONE)
    return tern_store_fail (ck->store, "reading conversations", error);
  for (guint i = 0; ck->repair && i < fixes->len; i += 2)
    {
      sqlite3_reset (set);
      sqlite3_bind_int64 (set, 1, g_array_index (fixes, gint64, i));
      if (g_array_index (fixes, gint64, i + 1) != 0)
        sqlite3_bind_int64 (set, 2, g_array_index (fixes, gint64, i + 1));
      else
        sqlite3_bind_null (set, 2);
      if (!tern_store_step_done (ck->store, set, "repairing a head", error))
        return FALSE;
    }
  return TRUE;
}

/* The search index against the messages it indexes (FTS5's own check,
 * which compares an external-content index with its table). */
static gboolean
check_search (Check *ck, GError **error)
{
  StoreTxn txn;
  int rc;

  /* In a savepoint of its own: a failed check leaves the transaction as
   * it was. */
  if (!tern_store_txn_begin (ck->store, &txn, error))
    return FALSE;
  rc = sqlite3_exec (ck->store->db, "INSERT INTO messages_fts (messages_fts, rank) VALUES ('integrity-check', 1)",
                     NULL, NULL, NULL);
  if (rc != SQLITE_OK && (rc & 0xff) != SQLITE_CORRUPT)
    {
      tern_store_fail (ck->store, "checking the search index", error);
      tern_store_txn_rollback (ck->store, &txn);
      return FALSE;
    }
  tern_store_txn_rollback (ck->store, &txn);
  if (rc == SQLITE_OK)
    return TRUE;
  report (ck, "rebuilt", "the search index does not match the messages");
  return !ck->repair ||
         tern_store_exec (ck->store, "INSERT INTO messages_fts (messages_fts) VALUES ('rebuild')", error);
}

/* Snapshots whose conversation or message is gone, and chunks of no
 * snapshot. */
static gboolean
check_snapshots (Check *ck, GError **error)
{
  g_autoptr (StoreStmt) stmt = tern_store_prepare (
      ck->store,
      "SELECT s.id, s.conversation_id, coalesce (s.message_id, 0) FROM snapshots s "
      "WHERE NOT EXISTS (SELECT 1 FROM conversations c WHERE c.id = s.conversation_id) OR "
      "(s.message_id IS NOT NULL AND NOT EXISTS "
      "  (SELECT 1 FROM messages m WHERE m.id = s.message_id AND m.conversation_id = s.conversation_id)) "
      "ORDER BY s.id",
      error);
  g_autoptr (StoreStmt) chunks = tern_store_prepare (
      ck->store, "SELECT count(*) FROM snapshot_chunks WHERE snapshot_id NOT IN (SELECT id FROM snapshots)", error);
  g_autoptr (GArray) orphans = g_array_new (FALSE, FALSE, sizeof (gint64));
  int rc;

  if (stmt == NULL || chunks == NULL)
    return FALSE;
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      gint64 id = sqlite3_column_int64 (stmt, 0), conversation = sqlite3_column_int64 (stmt, 1);
      gint64 message = sqlite3_column_int64 (stmt, 2);
      if (message)
        report (ck, "dropped",
                "snapshot %" G_GINT64_FORMAT " is of message %" G_GINT64_FORMAT " of conversation %" G_GINT64_FORMAT
                ", which is not there",
                id, message, conversation);
      else
        report (ck, "dropped",
                "snapshot %" G_GINT64_FORMAT " is of conversation %" G_GINT64_FORMAT ", which is not there", id,
                conversation);
      g_array_append_val (orphans, id);
    }
  if (rc != SQLITE_DONE || sqlite3_step (chunks) != SQLITE_ROW)
    return tern_store_fail (ck->store, "reading snapshots", error);
  gint64 n_chunks = sqlite3_column_int64 (chunks, 0);
  if (n_chunks == 1)
    report (ck, "dropped", "1 piece of a snapshot belongs to no snapshot");
  else if (n_chunks > 1)
    report (ck, "dropped", "%" G_GINT64_FORMAT " pieces of snapshots belong to no snapshot", n_chunks);
  if (!ck->repair)
    return TRUE;

  g_autoptr (StoreStmt) drop = tern_store_prepare (ck->store, "DELETE FROM snapshots WHERE id = ?1", error);
  if (drop == NULL)
    return FALSE;
  for (guint i = 0; i < orphans->len; i++)
    {
      sqlite3_reset (drop);
      sqlite3_bind_int64 (drop, 1, g_array_index (orphans, gint64, i));
      if (!tern_store_step_done (ck->store, drop, "dropping a snapshot", error))
        return FALSE;
    }
  return tern_store_exec (ck->store, "DELETE FROM snapshot_chunks WHERE snapshot_id NOT IN (SELECT id FROM snapshots)",
                          error);
}

gboolean
tern_store_check (TernStore *store, gboolean repair, GPtrArray *problems, GError **error)
{
  g_autoptr (GArray) links = g_array_new (FALSE, FALSE, sizeof (Link));
  g_autoptr (GHashTable) by_id = g_hash_table_new (g_int64_hash, g_int64_equal);
  Check ck = { store, repair, problems, links, by_id };
  guint n_before = problems->len;
  StoreTxn txn;

  /* One write transaction, even to look only (FTS5's check is written as
   * an insert): the checks see one state of the file, and a repair is all
   * or nothing. */
  if (!tern_store_txn_begin (store, &txn, error))
    return FALSE;
  gboolean ok = quick_check (&ck, error) && load_links (&ck, error) && check_parents (&ck, error) &&
                check_loops (&ck, error) && check_heads (&ck, error) && check_search (&ck, error) &&
                check_snapshots (&ck, error);
  if (!ok || !repair)
    tern_store_txn_rollback (store, &txn);
  else if (!tern_store_txn_commit (store, &txn, error))
    ok = FALSE;
  if (!ok)
    g_ptr_array_set_size (problems, n_before);
  return ok;
}
