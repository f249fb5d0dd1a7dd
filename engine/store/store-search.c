/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Full-text search over the messages (the FTS5 index the schema keeps in
 * step with them). */
#include "store-private.h"

/* The FTS5 query for what a person typed: each word a quoted phrase (so
 * FTS5 operators and punctuation are just text), all required, the last
 * one a prefix as the person may still be typing it. NULL when there is
 * no word. */
static char *
match_query (const char *text)
{
  g_auto (GStrv) words = g_strsplit_set (text, " \t\r\n", -1);
  g_autoptr (GString) query = g_string_new (NULL);

  for (guint i = 0; words[i]; i++)
    {
      gboolean has_word = FALSE;
      for (const char *p = words[i]; *p && !has_word; p = g_utf8_next_char (p))
        has_word = g_unichar_isalnum (g_utf8_get_char (p));
      if (!has_word)
        continue;
      if (query->len > 0)
        g_string_append_c (query, ' ');
      g_string_append_c (query, '"');
      for (const char *p = words[i]; *p; p++)
        {
          if (*p == '"')
            g_string_append_c (query, '"');
          g_string_append_c (query, *p);
        }
      g_string_append_c (query, '"');
    }
  if (query->len == 0)
    return NULL;
  g_string_append_c (query, '*');
  return g_string_free (g_steal_pointer (&query), FALSE);
}

GPtrArray *
tern_store_search (TernStore *store, const char *text, const char *open, const char *close, gint64 offset,
                   gint64 limit, GError **error)
{
  g_autoptr (GPtrArray) hits = g_ptr_array_new_with_free_func ((GDestroyNotify) tern_search_hit_free);
  int rc;

  if (!tern_store_check_text ("search text", text, error))
    return NULL;
  g_autofree char *query = match_query (text);
  if (query == NULL)
    return g_steal_pointer (&hits);

  g_autoptr (StoreStmt) stmt = tern_store_prepare (
      store,
      "SELECT m.conversation_id, m.id, c.title, m.role, snippet (messages_fts, 0, ?2, ?3, '…', 16), m.created_at "
      "FROM messages_fts JOIN messages m ON m.id = messages_fts.rowid "
      "JOIN conversations c ON c.id = m.conversation_id "
      "WHERE messages_fts MATCH ?1 AND c.trashed_at = 0 ORDER BY rank, m.id DESC LIMIT ?4 OFFSET ?5",
      error);
  if (stmt == NULL)
    return NULL;
  sqlite3_bind_text (stmt, 1, query, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 2, open, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 3, close, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (stmt, 4, limit);
  sqlite3_bind_int64 (stmt, 5, MAX (offset, 0));
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      TernSearchHit *hit = g_new0 (TernSearchHit, 1);
      hit->conversation_id = sqlite3_column_int64 (stmt, 0);
      hit->message_id = sqlite3_column_int64 (stmt, 1);
      hit->title = tern_store_column_text (stmt, 2);
      tern_role_from_name ((const char *) sqlite3_column_text (stmt, 3), &hit->role);
      hit->snippet = tern_store_column_text (stmt, 4);
      hit->created_at = sqlite3_column_int64 (stmt, 5);
      g_ptr_array_add (hits, hit);
    }
  if (rc != SQLITE_DONE)
    {
      tern_store_fail (store, "searching", error);
      return NULL;
    }
  return g_steal_pointer (&hits);
}
