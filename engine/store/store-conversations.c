/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The store's conversations and messages: branches, the trash, streaming
 * replies. */
#include "store-private.h"

#include <string.h>

static const char *const role_names[] = { "system", "user", "assistant" };

const char *
tern_role_name (TernRole role)
{
  g_return_val_if_fail ((guint) role < G_N_ELEMENTS (role_names), "user");
  return role_names[role];
}

gboolean
tern_role_from_name (const char *name, TernRole *role)
{
  for (guint i = 0; i < G_N_ELEMENTS (role_names); i++)
    if (g_strcmp0 (name, role_names[i]) == 0)
      {
        *role = (TernRole) i;
        return TRUE;
      }
  return FALSE;
}

void
tern_conversation_free (TernConversation *conversation)
{
  if (conversation == NULL)
    return;
  g_free (conversation->title);
  g_free (conversation->system_prompt);
  g_free (conversation);
}

void
tern_message_free (TernMessage *message)
{
  if (message == NULL)
    return;
  g_free (message->content);
  g_clear_pointer (&message->tokens, g_array_unref);
  g_clear_pointer (&message->sampler_state, g_bytes_unref);
  g_free (message);
}

void
tern_search_hit_free (TernSearchHit *hit)
{
  if (hit == NULL)
    return;
  g_free (hit->title);
  g_free (hit->snippet);
  g_free (hit);
}

TernConversation *
tern_store_read_conversation (StoreStmt *stmt)
{
  TernConversation *c = g_new0 (TernConversation, 1);

  c->id = sqlite3_column_int64 (stmt, 0);
  c->title = tern_store_column_text (stmt, 1);
  c->model_id = sqlite3_column_int64 (stmt, 2);
  c->system_prompt = tern_store_column_text (stmt, 3);
  c->sampling.temperature = (float) sqlite3_column_double (stmt, 4);
  c->sampling.top_k = sqlite3_column_int (stmt, 5);
  c->sampling.top_p = (float) sqlite3_column_double (stmt, 6);
  c->sampling.min_p = (float) sqlite3_column_double (stmt, 7);
  c->sampling.repeat_penalty = (float) sqlite3_column_double (stmt, 8);
  c->sampling.repeat_last_n = sqlite3_column_int (stmt, 9);
  c->sampling.frequency_penalty = (float) sqlite3_column_double (stmt, 10);
  c->sampling.presence_penalty = (float) sqlite3_column_double (stmt, 11);
  c->sampling.seed = (guint64) sqlite3_column_int64 (stmt, 12);
  c->created_at = sqlite3_column_int64 (stmt, 13);
  c->updated_at = sqlite3_column_int64 (stmt, 14);
  c->trashed_at = sqlite3_column_int64 (stmt, 15);
  c->head_id = sqlite3_column_int64 (stmt, 16);
  c->n_messages = sqlite3_column_int64 (stmt, 17);
  c->max_tokens = sqlite3_column_int (stmt, 18);
  return c;
}

TernMessage *
tern_store_read_message (StoreStmt *stmt)
{
  TernMessage *m = g_new0 (TernMessage, 1);

  m->id = sqlite3_column_int64 (stmt, 0);
  m->conversation_id = sqlite3_column_int64 (stmt, 1);
  m->parent_id = sqlite3_column_int64 (stmt, 2);
  tern_role_from_name ((const char *) sqlite3_column_text (stmt, 3), &m->role);
  m->content = tern_store_column_text (stmt, 4);
  m->created_at = sqlite3_column_int64 (stmt, 5);
  m->n_tokens = sqlite3_column_int (stmt, 6);
  m->complete = sqlite3_column_int (stmt, 7) != 0;
  m->tokens = tern_store_column_tokens (stmt, 8);
  m->sampler_state = tern_store_column_bytes (stmt, 9);
  /* The branch columns, when the query selected them. */
  m->n_branches = sqlite3_column_count (stmt) > 11 ? sqlite3_column_int (stmt, 10) : 1;
  m->branch_index = sqlite3_column_count (stmt) > 11 ? sqlite3_column_int (stmt, 11) : 0;
  return m;
}

/* Runs @stmt, whose parameters are bound, in a write of its own; when it
 * changes no row, the @what with @id does not exist. */
static gboolean
write_one (TernStore *store, StoreStmt *stmt, const char *what, gint64 id, GError **error)
{
  StoreTxn txn;

  if (!tern_store_txn_begin (store, &txn, error))
    return FALSE;
  if (!tern_store_step_done (store, stmt, "saving a change", error))
    {
      tern_store_txn_rollback (store, &txn);
      return FALSE;
    }
  if (sqlite3_changes (store->db) == 0)
    {
      tern_store_txn_rollback (store, &txn);
      return tern_store_no_such (what, id, error);
    }
  return tern_store_txn_commit (store, &txn, error);
}

gboolean
tern_store_check_text (const char *what, const char *text, GError **error)
{
  if (text == NULL || !g_utf8_validate (text, -1, NULL))
    {
      g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_INVALID, "the %s is not UTF-8 text", what);
      return FALSE;
    }
  return TRUE;
}

static void
bind_sampling (StoreStmt *stmt, int first, const TernSamplerParams *p)
{
  sqlite3_bind_double (stmt, first, p->temperature);
  sqlite3_bind_int (stmt, first + 1, p->top_k);
  sqlite3_bind_double (stmt, first + 2, p->top_p);
  sqlite3_bind_double (stmt, first + 3, p->min_p);
  sqlite3_bind_double (stmt, first + 4, p->repeat_penalty);
  sqlite3_bind_int (stmt, first + 5, p->repeat_last_n);
  sqlite3_bind_double (stmt, first + 6, p->frequency_penalty);
  sqlite3_bind_double (stmt, first + 7, p->presence_penalty);
  sqlite3_bind_int64 (stmt, first + 8, (gint64) p->seed);
}

static gboolean
check_sampling (const TernSamplerParams *sampling, GError **error)
{
  return sampling == NULL || tern_sampler_params_validate (sampling, error);
}

/* Inserts a conversation row with every field given; returns its id or 0. */
gint64
tern_store_conversation_insert (TernStore *store, const char *title, gint64 model_id, const char *system_prompt,
                                const TernSamplerParams *sampling, gint32 max_tokens, gint64 created_at,
                                gint64 updated_at, GError **error)
{
  g_autoptr (StoreStmt) stmt = tern_store_prepare (
      store,
      "INSERT INTO conversations (title, model_id, system_prompt, temperature, top_k, top_p, min_p, "
      "repeat_penalty, repeat_last_n, frequency_penalty, presence_penalty, seed, created_at, updated_at, max_tokens) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15) RETURNING id",
      error);
  TernSamplerParams defaults;

  if (stmt == NULL)
    return 0;
  if (sampling == NULL)
    {
      tern_sampler_params_init (&defaults);
      sampling = &defaults;
    }
  sqlite3_bind_text (stmt, 1, title, -1, SQLITE_TRANSIENT);
  if (model_id > 0)
    sqlite3_bind_int64 (stmt, 2, model_id);
  sqlite3_bind_text (stmt, 3, system_prompt ? system_prompt : "", -1, SQLITE_TRANSIENT);
  bind_sampling (stmt, 4, sampling);
  sqlite3_bind_int64 (stmt, 13, created_at);
  sqlite3_bind_int64 (stmt, 14, updated_at);
  sqlite3_bind_int (stmt, 15, MAX (max_tokens, 0));
  if (sqlite3_step (stmt) != SQLITE_ROW)
    {
      if (sqlite3_extended_errcode (store->db) == SQLITE_CONSTRAINT_FOREIGNKEY)
        tern_store_no_such ("model", model_id, error);
      else
        tern_store_fail (store, "adding a conversation", error);
      return 0;
    }
  gint64 id = sqlite3_column_int64 (stmt, 0);
  if (!tern_store_step_done (store, stmt, "adding a conversation", error))
    return 0;
  return id;
}

gint64
tern_store_conversation_new (TernStore *store, const char *title, gint64 model_id, const char *system_prompt,
                             const TernSamplerParams *sampling, GError **error)
{
  gint64 now = tern_store_now (store);
  StoreTxn txn;

  if (!tern_store_check_text ("title", title, error) ||
      (system_prompt && !tern_store_check_text ("system prompt", system_prompt, error)) ||
      !check_sampling (sampling, error) || !tern_store_txn_begin (store, &txn, error))
    return 0;
  gint64 id = tern_store_conversation_insert (store, title, model_id, system_prompt, sampling, 0, now, now, error);
  if (id == 0 || !tern_store_txn_commit (store, &txn, error))
    {
      tern_store_txn_rollback (store, &txn);
      return 0;
    }
  return id;
}

TernConversation *
tern_store_conversation_get (TernStore *store, gint64 id, GError **error)
{
  return tern_store_get_by_id (store, "SELECT " STORE_CONVERSATION_COLUMNS " FROM conversations c WHERE c.id = ?1", id,
                               "conversation", (StoreReadRowFn) tern_store_read_conversation, error);
}

gboolean
tern_store_conversation_rename (TernStore *store, gint64 id, const char *title, GError **error)
{
  g_autoptr (StoreStmt) stmt =
      tern_store_prepare (store, "UPDATE conversations SET title = ?2, updated_at = ?3 WHERE id = ?1", error);

  if (!tern_store_check_text ("title", title, error) || stmt == NULL)
    return FALSE;
  sqlite3_bind_int64 (stmt, 1, id);
  sqlite3_bind_text (stmt, 2, title, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64 (stmt, 3, tern_store_now (store));
  return write_one (store, stmt, "conversation", id, error);
}

gboolean
tern_store_conversation_set_system_prompt (TernStore *store, gint64 id, const char *system_prompt, GError **error)
{
  g_autoptr (StoreStmt) stmt =
      tern_store_prepare (store, "UPDATE conversations SET system_prompt = ?2, updated_at = ?3 WHERE id = ?1", error);

  if (!tern_store_check_text ("system prompt", system_prompt, error) || stmt == NULL)
    return FALSE;
  sqlite3_bind_int64 (stmt, 1, id);
  sqlite3_bind_text (stmt, 2, system_prompt, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64 (stmt, 3, tern_store_now (store));
  return write_one (store, stmt, "conversation", id, error);
}

gboolean
tern_store_conversation_set_sampling (TernStore *store, gint64 id, const TernSamplerParams *sampling, GError **error)
{
  g_autoptr (StoreStmt) stmt = tern_store_prepare (
      store,
      "UPDATE conversations SET temperature = ?2, top_k = ?3, top_p = ?4, min_p = ?5, repeat_penalty = ?6, "
      "repeat_last_n = ?7, frequency_penalty = ?8, presence_penalty = ?9, seed = ?10, updated_at = ?11 "
      "WHERE id = ?1",
      error);

  if (!tern_sampler_params_validate (sampling, error) || stmt == NULL)
    return FALSE;
  sqlite3_bind_int64 (stmt, 1, id);
  bind_sampling (stmt, 2, sampling);
  sqlite3_bind_int64 (stmt, 11, tern_store_now (store));
  return write_one (store, stmt, "conversation", id, error);
}

gboolean
tern_store_conversation_set_max_tokens (TernStore *store, gint64 id, gint32 max_tokens, GError **error)
{
  g_autoptr (StoreStmt) stmt =
      tern_store_prepare (store, "UPDATE conversations SET max_tokens = ?2, updated_at = ?3 WHERE id = ?1", error);

  if (max_tokens < 0)
    {
      g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_INVALID, "the reply limit must not be negative (%d)",
                   max_tokens);
      return FALSE;
    }
  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_int64 (stmt, 1, id);
  sqlite3_bind_int (stmt, 2, max_tokens);
  sqlite3_bind_int64 (stmt, 3, tern_store_now (store));
  return write_one (store, stmt, "conversation", id, error);
}

gboolean
tern_store_conversation_set_model (TernStore *store, gint64 id, gint64 model_id, GError **error)
{
  g_autoptr (StoreStmt) get = tern_store_prepare (store, "SELECT model_id FROM conversations WHERE id = ?1", error);
  g_autoptr (StoreStmt) set =
      tern_store_prepare (store, "UPDATE conversations SET model_id = ?2, updated_at = ?3 WHERE id = ?1", error);
  g_autoptr (StoreStmt) caches =
      tern_store_prepare (store, "UPDATE messages SET tokens = NULL, sampler = NULL WHERE conversation_id = ?1", error);
  g_autoptr (StoreStmt) snaps = tern_store_prepare (store, "DELETE FROM snapshots WHERE conversation_id = ?1", error);
  StoreTxn txn;

  if (get == NULL || set == NULL || caches == NULL || snaps == NULL || !tern_store_txn_begin (store, &txn, error))
    return FALSE;
  sqlite3_bind_int64 (get, 1, id);
  int rc = sqlite3_step (get);
  if (rc != SQLITE_ROW)
    {
      if (rc == SQLITE_DONE)
        tern_store_no_such ("conversation", id, error);
      else
        tern_store_fail (store, "reading a conversation", error);
      tern_store_txn_rollback (store, &txn);
      return FALSE;
    }
  gboolean same = sqlite3_column_int64 (get, 0) == model_id;
  sqlite3_bind_int64 (set, 1, id);
  if (model_id > 0)
    sqlite3_bind_int64 (set, 2, model_id);
  sqlite3_bind_int64 (set, 3, tern_store_now (store));
  sqlite3_bind_int64 (caches, 1, id);
  sqlite3_bind_int64 (snaps, 1, id);
  if (!same && (!tern_store_step_done (store, set, "changing the model", error) ||
                !tern_store_step_done (store, caches, "changing the model", error) ||
                !tern_store_step_done (store, snaps, "changing the model", error)))
    {
      if (sqlite3_extended_errcode (store->db) == SQLITE_CONSTRAINT_FOREIGNKEY)
        {
          g_clear_error (error);
          tern_store_no_such ("model", model_id, error);
        }
      tern_store_txn_rollback (store, &txn);
      return FALSE;
    }
  return tern_store_txn_commit (store, &txn, error);
}

/* Whether message @id belongs to conversation @conversation_id. */
static gboolean
check_message (TernStore *store, gint64 conversation_id, gint64 id, GError **error)
{
  g_autoptr (StoreStmt) stmt =
      tern_store_prepare (store, "SELECT 1 FROM messages WHERE id = ?1 AND conversation_id = ?2", error);
  int rc;

  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_int64 (stmt, 1, id);
  sqlite3_bind_int64 (stmt, 2, conversation_id);
  rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW)
    return TRUE;
  if (rc != SQLITE_DONE)
    return tern_store_fail (store, "reading a message", error);
  g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_INVALID,
               "conversation %" G_GINT64_FORMAT " has no message with id %" G_GINT64_FORMAT, conversation_id, id);
  return FALSE;
}

gboolean
tern_store_conversation_set_head (TernStore *store, gint64 id, gint64 message_id, GError **error)
{
  g_autoptr (StoreStmt) stmt = tern_store_prepare (store, "UPDATE conversations SET head_id = ?2 WHERE id = ?1", error);

  if (stmt == NULL || !check_message (store, id, message_id, error))
    return FALSE;
  sqlite3_bind_int64 (stmt, 1, id);
  sqlite3_bind_int64 (stmt, 2, message_id);
  return write_one (store, stmt, "conversation", id, error);
}

gboolean
tern_store_conversation_trash (TernStore *store, gint64 id, GError **error)
{
  g_autoptr (StoreStmt) stmt = tern_store_prepare (
      store, "UPDATE conversations SET trashed_at = CASE trashed_at WHEN 0 THEN ?2 ELSE trashed_at END WHERE id = ?1",
      error);

  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_int64 (stmt, 1, id);
  sqlite3_bind_int64 (stmt, 2, tern_store_now (store));
  return write_one (store, stmt, "conversation", id, error);
}

gboolean
tern_store_conversation_untrash (TernStore *store, gint64 id, GError **error)
{
  g_autoptr (StoreStmt) stmt = tern_store_prepare (store, "UPDATE conversations SET trashed_at = 0 WHERE id = ?1",
                                                   error);

  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_int64 (stmt, 1, id);
  return write_one (store, stmt, "conversation", id, error);
}

gint64
tern_store_empty_trash_before (TernStore *store, gint64 before, GError **error)
{
  g_autoptr (StoreStmt) stmt =
      tern_store_prepare (store, "DELETE FROM conversations WHERE trashed_at != 0 AND trashed_at < ?1", error);
  StoreTxn txn;

  if (stmt == NULL || !tern_store_txn_begin (store, &txn, error))
    return -1;
  sqlite3_bind_int64 (stmt, 1, before);
  if (!tern_store_step_done (store, stmt, "emptying the trash", error))
    {
      tern_store_txn_rollback (store, &txn);
      return -1;
    }
  gint64 n = sqlite3_changes64 (store->db);
  if (!tern_store_txn_commit (store, &txn, error))
    return -1;
  return n;
}

gint64
tern_store_empty_trash (TernStore *store, GError **error)
{
  return tern_store_empty_trash_before (store, G_MAXINT64, error);
}

gboolean
tern_store_conversation_purge (TernStore *store, gint64 id, GError **error)
{
  g_autoptr (StoreStmt) stmt =
      tern_store_prepare (store, "DELETE FROM conversations WHERE id = ?1 AND trashed_at != 0", error);

  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_int64 (stmt, 1, id);
  return write_one (store, stmt, "conversation in the trash", id, error);
}

/* Inserts a message row with every field given; returns its id or 0. */
gint64
tern_store_message_insert (TernStore *store, gint64 conversation_id, gint64 parent_id, TernRole role,
                           const char *content, gint64 created_at, gint32 n_tokens, gboolean complete,
                           const TernToken *tokens, GBytes *sampler_state, GError **error)
{
  g_autoptr (StoreStmt) stmt = tern_store_prepare (
      store,
      "INSERT INTO messages (conversation_id, parent_id, role, content, created_at, n_tokens, complete, tokens, "
      "sampler) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) RETURNING id",
      error);

  if (stmt == NULL)
    return 0;
  sqlite3_bind_int64 (stmt, 1, conversation_id);
  if (parent_id > 0)
    sqlite3_bind_int64 (stmt, 2, parent_id);
  sqlite3_bind_text (stmt, 3, tern_role_name (role), -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 4, content, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64 (stmt, 5, created_at);
  sqlite3_bind_int (stmt, 6, n_tokens);
  sqlite3_bind_int (stmt, 7, complete);
  tern_store_bind_tokens (stmt, 8, tokens, n_tokens);
  if (sampler_state)
    sqlite3_bind_blob64 (stmt, 9, g_bytes_get_data (sampler_state, NULL), g_bytes_get_size (sampler_state),
                         SQLITE_TRANSIENT);
  if (sqlite3_step (stmt) != SQLITE_ROW)
    {
      tern_store_fail (store, "adding a message", error);
      return 0;
    }
  gint64 id = sqlite3_column_int64 (stmt, 0);
  if (!tern_store_step_done (store, stmt, "adding a message", error))
    return 0;
  return id;
}

/* append's @head_id when any head will do. */
#define ANY_HEAD G_MININT64

/* Adds a message after @parent_id (or the head) and makes it the head,
 * provided the head is @head_id (unless ANY_HEAD); in the caller's
 * transaction, which holds the write lock, so the head cannot change
 * between the comparison and the write. */
static gint64
append (TernStore *store, gint64 conversation_id, gint64 head_id, gint64 parent_id, TernRole role,
        const char *content, gint32 n_tokens, gboolean complete, const TernToken *tokens, GBytes *sampler_state,
        GError **error)
{
  gint64 now = tern_store_now (store);

  if (parent_id == TERN_STORE_HEAD || head_id != ANY_HEAD)
    {
      g_autoptr (TernConversation) c = tern_store_conversation_get (store, conversation_id, error);
      if (c == NULL)
        return 0;
      if (head_id != ANY_HEAD && c->head_id != head_id)
        {
          g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_CONFLICT,
                       "conversation %" G_GINT64_FORMAT " was changed by another program; open it again",
                       conversation_id);
          return 0;
        }
      if (parent_id == TERN_STORE_HEAD)
        parent_id = c->head_id;
    }
  if (parent_id > 0 && !check_message (store, conversation_id, parent_id, error))
    return 0;

  g_autoptr (StoreStmt) head =
      tern_store_prepare (store, "UPDATE conversations SET head_id = ?2, updated_at = ?3 WHERE id = ?1", error);
  if (head == NULL)
    return 0;
  gint64 id = tern_store_message_insert (store, conversation_id, parent_id, role, content, now, n_tokens, complete,
                                         tokens, sampler_state, error);
  if (id == 0)
    {
      if (sqlite3_extended_errcode (store->db) == SQLITE_CONSTRAINT_FOREIGNKEY)
        {
          g_clear_error (error);
          tern_store_no_such ("conversation", conversation_id, error);
        }
      return 0;
    }
  sqlite3_bind_int64 (head, 1, conversation_id);
  sqlite3_bind_int64 (head, 2, id);
  sqlite3_bind_int64 (head, 3, now);
  if (!tern_store_step_done (store, head, "adding a message", error))
    return 0;
  return id;
}

gint64
tern_store_message_add (TernStore *store, gint64 conversation_id, gint64 parent_id, TernRole role,
                        const char *content, const TernToken *tokens, gint32 n_tokens, GBytes *sampler_state,
                        GError **error)
{
  return tern_store_message_add_if_head (store, conversation_id, ANY_HEAD, parent_id, role, content, tokens, n_tokens,
                                         sampler_state, error);
}

gint64
tern_store_message_add_if_head (TernStore *store, gint64 conversation_id, gint64 head_id, gint64 parent_id,
                                TernRole role, const char *content, const TernToken *tokens, gint32 n_tokens,
                                GBytes *sampler_state, GError **error)
{
  StoreTxn txn;

  if (!tern_store_check_text ("message", content, error) || !tern_store_txn_begin (store, &txn, error))
    return 0;
  gint64 id = append (store, conversation_id, head_id, parent_id, role, content, n_tokens, TRUE, tokens,
                      sampler_state, error);
  if (id == 0 || !tern_store_txn_commit (store, &txn, error))
    {
      tern_store_txn_rollback (store, &txn);
      return 0;
    }
  return id;
}

TernMessage *
tern_store_message_get (TernStore *store, gint64 id, GError **error)
{
  return tern_store_get_by_id (store, "SELECT " STORE_MESSAGE_COLUMNS " FROM messages m WHERE m.id = ?1", id, "message",
                               (StoreReadRowFn) tern_store_read_message, error);
}

static GPtrArray *
collect_messages (TernStore *store, StoreStmt *stmt, GError **error)
{
  g_autoptr (GPtrArray) messages = g_ptr_array_new_with_free_func ((GDestroyNotify) tern_message_free);
  int rc;

  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    g_ptr_array_add (messages, tern_store_read_message (stmt));
  if (rc != SQLITE_DONE)
    {
      tern_store_fail (store, "reading messages", error);
      return NULL;
    }
  return g_steal_pointer (&messages);
}

/* How many messages conversation @id has, -1 on error. */
static gint64
count_messages (TernStore *store, gint64 id, GError **error)
{
  g_autoptr (StoreStmt) stmt = tern_store_prepare (store, "SELECT count(*) FROM messages WHERE conversation_id = ?1",
                                                   error);

  if (stmt == NULL)
    return -1;
  sqlite3_bind_int64 (stmt, 1, id);
  if (sqlite3_step (stmt) != SQLITE_ROW)
    {
      tern_store_fail (store, "reading messages", error);
      return -1;
    }
  return sqlite3_column_int64 (stmt, 0);
}

/* Whether @chain, the messages read up from @leaf_id (at most @n_messages +
 * 1 of them), is a whole chain of conversation @id: from a first message
 * down to the leaf, each the parent of the next, with no message twice. */
static gboolean
check_chain (gint64 id, gint64 leaf_id, gint64 n_messages, GPtrArray *chain, GError **error)
{
  if (chain->len == 0)
    return tern_store_damaged (error, id, "its head, message %" G_GINT64_FORMAT ", is not one of its messages",
                               leaf_id);
  /* A chain of more messages than the conversation has goes round a loop. */
  if ((gint64) chain->len > n_messages)
    {
      g_autoptr (GHashTable) seen = g_hash_table_new (g_int64_hash, g_int64_equal);
      for (guint i = 0; i < chain->len; i++)
        {
          TernMessage *m = chain->pdata[i];
          if (!g_hash_table_add (seen, &m->id))
            return tern_store_damaged (error, id, "message %" G_GINT64_FORMAT " is its own ancestor", m->id);
        }
    }
  const TernMessage *first = chain->pdata[0];
  if (first->parent_id != 0)
    return tern_store_damaged (error, id, "the parent of message %" G_GINT64_FORMAT
                               ", message %" G_GINT64_FORMAT ", is not one of its messages",
                               first->id, first->parent_id);
  return TRUE;
}

GPtrArray *
tern_store_conversation_messages (TernStore *store, gint64 conversation_id, gint64 leaf_id, GError **error)
{
  /* The walk up stays in the conversation and stops after one step more
   * than it has messages: a damaged chain (a loop, a parent elsewhere)
   * ends it, and check_chain says what is wrong. */
  g_autoptr (StoreStmt) stmt = tern_store_prepare (
      store,
      "WITH RECURSIVE path (id, depth) AS ("
      "  SELECT ?2, 0"
      "  UNION ALL"
      "  SELECT m.parent_id, p.depth + 1 FROM messages m JOIN path p ON m.id = p.id"
      "  WHERE m.conversation_id = ?1 AND m.parent_id IS NOT NULL AND p.depth < ?3"
      /* The first messages are counted among the conversation's own
       * (+ keeps SQLite off the parent index, where every conversation's
       * first messages are). */
      ") SELECT " STORE_MESSAGE_COLUMNS ","
      "  CASE WHEN m.parent_id IS NULL"
      "  THEN (SELECT count(*) FROM messages s WHERE s.conversation_id = ?1 AND +s.parent_id IS NULL)"
      "  ELSE (SELECT count(*) FROM messages s WHERE s.conversation_id = ?1 AND s.parent_id = m.parent_id) END,"
      "  CASE WHEN m.parent_id IS NULL"
      "  THEN (SELECT count(*) FROM messages s WHERE s.conversation_id = ?1 AND +s.parent_id IS NULL AND s.id < m.id)"
      "  ELSE (SELECT count(*) FROM messages s WHERE s.conversation_id = ?1 AND s.parent_id = m.parent_id"
      "        AND s.id < m.id) END"
      " FROM path p JOIN messages m ON m.id = p.id WHERE m.conversation_id = ?1 ORDER BY p.depth DESC",
      error);

  if (stmt == NULL)
    return NULL;
  if (leaf_id == 0)
    {
      g_autoptr (TernConversation) c = tern_store_conversation_get (store, conversation_id, error);
      if (c == NULL)
        return NULL;
      leaf_id = c->head_id;
      if (leaf_id == 0)
        return g_ptr_array_new_with_free_func ((GDestroyNotify) tern_message_free);
    }
  else if (!check_message (store, conversation_id, leaf_id, error))
    return NULL;
  gint64 n_messages = count_messages (store, conversation_id, error);
  if (n_messages < 0)
    return NULL;
  sqlite3_bind_int64 (stmt, 1, conversation_id);
  sqlite3_bind_int64 (stmt, 2, leaf_id);
  sqlite3_bind_int64 (stmt, 3, n_messages);
  g_autoptr (GPtrArray) chain = collect_messages (store, stmt, error);
  if (chain == NULL || !check_chain (conversation_id, leaf_id, n_messages, chain, error))
    return NULL;
  return g_steal_pointer (&chain);
}

gint64
tern_store_branch_leaf (TernStore *store, gint64 conversation_id, gint64 message_id, GError **error)
{
  /* Replies have larger ids than their parents; asking for one keeps the
   * walk finite even through a damaged chain. */
  g_autoptr (StoreStmt) stmt = tern_store_prepare (
      store, "SELECT max(id) FROM messages WHERE conversation_id = ?1 AND parent_id = ?2 AND id > ?2", error);

  if (stmt == NULL || !check_message (store, conversation_id, message_id, error))
    return 0;
  for (;;)
    {
      sqlite3_reset (stmt);
      sqlite3_bind_int64 (stmt, 1, conversation_id);
      sqlite3_bind_int64 (stmt, 2, message_id);
      if (sqlite3_step (stmt) != SQLITE_ROW)
        {
          tern_store_fail (store, "reading messages", error);
          return 0;
        }
      if (sqlite3_column_type (stmt, 0) == SQLITE_NULL)
        return message_id;
      message_id = sqlite3_column_int64 (stmt, 0);
    }
}

GPtrArray *
tern_store_message_children (TernStore *store, gint64 conversation_id, gint64 parent_id, GError **error)
{
  g_autoptr (StoreStmt) stmt = tern_store_prepare (
      store,
      "SELECT " STORE_MESSAGE_COLUMNS " FROM messages m WHERE m.conversation_id = ?1 AND m.parent_id IS ?2 "
      "ORDER BY m.id",
      error);

  if (stmt == NULL)
    return NULL;
  sqlite3_bind_int64 (stmt, 1, conversation_id);
  if (parent_id > 0)
    sqlite3_bind_int64 (stmt, 2, parent_id);
  return collect_messages (store, stmt, error);
}

/* Copies every message of @from into @to, mapping parents; returns the
 * new id of @from's message @old_head (0 for 0). */
static gboolean
copy_messages (TernStore *store, gint64 from, gint64 to, gint64 old_head, gint64 *new_head, GError **error)
{
  g_autoptr (StoreStmt) all = tern_store_prepare (
      store, "SELECT " STORE_MESSAGE_COLUMNS " FROM messages m WHERE m.conversation_id = ?1 ORDER BY m.id", error);
  g_autoptr (GHashTable) ids = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, g_free);
  g_autoptr (GPtrArray) messages = NULL;

  if (all == NULL)
    return FALSE;
  sqlite3_bind_int64 (all, 1, from);
  messages = collect_messages (store, all, error);
  if (messages == NULL)
    return FALSE;
  *new_head = 0;
  /* Parents come before their children: ids grow. */
  for (guint i = 0; i < messages->len; i++)
    {
      const TernMessage *m = messages->pdata[i];
      gint64 *parent = m->parent_id ? g_hash_table_lookup (ids, &m->parent_id) : NULL;
      gint64 id = tern_store_message_insert (store, to, parent ? *parent : 0, m->role, m->content, m->created_at,
                                             m->n_tokens, m->complete, m->tokens ? (TernToken *) m->tokens->data : NULL,
                                             m->sampler_state, error);
      if (id == 0)
        return FALSE;
      g_hash_table_insert (ids, g_memdup2 (&m->id, sizeof m->id), g_memdup2 (&id, sizeof id));
      if (m->id == old_head)
        *new_head = id;
    }
  return TRUE;
}

gint64
tern_store_conversation_duplicate (TernStore *store, gint64 id, GError **error)
{
  g_autoptr (StoreStmt) set_head =
      tern_store_prepare (store, "UPDATE conversations SET head_id = ?2 WHERE id = ?1", error);
  gint64 now = tern_store_now (store), copy, head;
  StoreTxn txn;

  if (set_head == NULL || !tern_store_txn_begin (store, &txn, error))
    return 0;
  g_autoptr (TernConversation) c = tern_store_conversation_get (store, id, error);
  g_autofree char *title = c ? g_strdup_printf ("%s (copy)", c->title) : NULL;
  if (c == NULL ||
      (copy = tern_store_conversation_insert (store, title, c->model_id, c->system_prompt, &c->sampling, c->max_tokens,
                                              now, now, error)) == 0 ||
      !copy_messages (store, id, copy, c->head_id, &head, error))
    {
      tern_store_txn_rollback (store, &txn);
      return 0;
    }
  sqlite3_bind_int64 (set_head, 1, copy);
  if (head > 0)
    sqlite3_bind_int64 (set_head, 2, head);
  if (!tern_store_step_done (store, set_head, "duplicating a conversation", error) ||
      !tern_store_txn_commit (store, &txn, error))
    {
      tern_store_txn_rollback (store, &txn);
      return 0;
    }
  return copy;
}

GPtrArray *
tern_store_conversation_list (TernStore *store, gboolean trashed, gint64 offset, gint64 limit, GError **error)
{
  /* Two queries, so that each walks the (trashed_at, updated_at) index. */
  g_autoptr (StoreStmt) stmt = tern_store_prepare (
      store,
      trashed ? "SELECT " STORE_CONVERSATION_COLUMNS " FROM conversations c WHERE c.trashed_at != 0 "
                "ORDER BY c.updated_at DESC, c.id DESC LIMIT ?1 OFFSET ?2"
              : "SELECT " STORE_CONVERSATION_COLUMNS " FROM conversations c WHERE c.trashed_at = 0 "
                "ORDER BY c.updated_at DESC, c.id DESC LIMIT ?1 OFFSET ?2",
      error);
  g_autoptr (GPtrArray) list = g_ptr_array_new_with_free_func ((GDestroyNotify) tern_conversation_free);
  int rc;

  if (stmt == NULL)
    return NULL;
  sqlite3_bind_int64 (stmt, 1, limit);
  sqlite3_bind_int64 (stmt, 2, MAX (offset, 0));
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    g_ptr_array_add (list, tern_store_read_conversation (stmt));
  if (rc != SQLITE_DONE)
    {
      tern_store_fail (store, "listing conversations", error);
      return NULL;
    }
  return g_steal_pointer (&list);
}

gint64
tern_store_conversation_count (TernStore *store, gboolean trashed, GError **error)
{
  g_autoptr (StoreStmt) stmt = tern_store_prepare (
      store,
      trashed ? "SELECT count(*) FROM conversations WHERE trashed_at != 0"
              : "SELECT count(*) FROM conversations WHERE trashed_at = 0",
      error);

  if (stmt == NULL)
    return -1;
  if (sqlite3_step (stmt) != SQLITE_ROW)
    {
      tern_store_fail (store, "counting conversations", error);
      return -1;
    }
  return sqlite3_column_int64 (stmt, 0);
}

/* Streaming replies. */

struct TernReply {
  TernStore *store;
  gint64 id;
  gint64 conversation_id;
  gint64 saved_at;    /* time of the last checkpoint */
  gint32 saved_tokens; /* tokens at the last checkpoint */
};

TernReply *
tern_store_reply_begin (TernStore *store, gint64 conversation_id, gint64 parent_id, GError **error)
{
  return tern_store_reply_begin_if_head (store, conversation_id, ANY_HEAD, parent_id, error);
}

TernReply *
tern_store_reply_begin_if_head (TernStore *store, gint64 conversation_id, gint64 head_id, gint64 parent_id,
                                GError **error)
{
  StoreTxn txn;

  if (!tern_store_txn_begin (store, &txn, error))
    return NULL;
  gint64 id = append (store, conversation_id, head_id, parent_id, TERN_ROLE_ASSISTANT, "", 0, FALSE, NULL, NULL,
                      error);
  if (id == 0 || !tern_store_txn_commit (store, &txn, error))
    {
      tern_store_txn_rollback (store, &txn);
      return NULL;
    }
  TernReply *reply = g_new0 (TernReply, 1);
  reply->store = store;
  reply->id = id;
  reply->conversation_id = conversation_id;
  reply->saved_at = g_get_monotonic_time ();
  return reply;
}

gint64
tern_reply_id (const TernReply *reply)
{
  return reply->id;
}

static gboolean
save_reply (TernReply *reply, const char *content, const TernToken *tokens, gint32 n_tokens, GBytes *sampler_state,
            gboolean complete, GError **error)
{
  TernStore *store = reply->store;
  g_autoptr (StoreStmt) stmt = tern_store_prepare (
      store,
      "UPDATE messages SET content = ?2, n_tokens = ?3, tokens = ?4, sampler = ?5, complete = ?6 WHERE id = ?1",
      error);
  g_autoptr (StoreStmt) touch =
      tern_store_prepare (store, "UPDATE conversations SET updated_at = ?2 WHERE id = ?1", error);

  if (!tern_store_check_text ("reply", content, error) || stmt == NULL || touch == NULL)
    return FALSE;
  sqlite3_bind_int64 (stmt, 1, reply->id);
  sqlite3_bind_text (stmt, 2, content, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int (stmt, 3, n_tokens);
  tern_store_bind_tokens (stmt, 4, tokens, n_tokens);
  if (sampler_state)
    sqlite3_bind_blob64 (stmt, 5, g_bytes_get_data (sampler_state, NULL), g_bytes_get_size (sampler_state),
                         SQLITE_TRANSIENT);
  sqlite3_bind_int (stmt, 6, complete);
  sqlite3_bind_int64 (touch, 1, reply->conversation_id);
  sqlite3_bind_int64 (touch, 2, tern_store_now (store));
  /* One statement, so no explicit transaction unless the caller has one:
   * a checkpoint is atomic on its own. The touch only matters at the end. */
  if (complete)
    {
      StoreTxn txn;
      if (!tern_store_txn_begin (store, &txn, error))
        return FALSE;
      if (!tern_store_step_done (store, stmt, "saving the reply", error) ||
          !tern_store_step_done (store, touch, "saving the reply", error) ||
          !tern_store_txn_commit (store, &txn, error))
        {
          tern_store_txn_rollback (store, &txn);
          return FALSE;
        }
    }
  else if (!tern_store_step_done (store, stmt, "saving the reply", error))
    return FALSE;
  reply->saved_at = g_get_monotonic_time ();
  reply->saved_tokens = n_tokens;
  return TRUE;
}

gboolean
tern_reply_update (TernReply *reply, const char *content, const TernToken *tokens, gint32 n_tokens, GError **error)
{
  if (n_tokens - reply->saved_tokens < TERN_REPLY_CHECKPOINT_TOKENS &&
      g_get_monotonic_time () - reply->saved_at < TERN_REPLY_CHECKPOINT_US)
    return TRUE;
  return save_reply (reply, content, tokens, n_tokens, NULL, FALSE, error);
}

gboolean
tern_reply_finish (TernReply *reply, const char *content, const TernToken *tokens, gint32 n_tokens,
                   GBytes *sampler_state, GError **error)
{
  return save_reply (reply, content, tokens, n_tokens, sampler_state, TRUE, error);
}

void
tern_reply_free (TernReply *reply)
{
  g_free (reply);
}
