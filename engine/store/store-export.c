/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Export of conversations to Markdown and JSON, and import of the JSON.
 *
 * The JSON holds the transcript, not the engine's caches (token ids,
 * sampler states, snapshots), which belong to one model file and are
 * rebuilt from the text:
 *
 *   { "format": "tern-conversations", "version": 1,
 *     "conversations": [ { "title", "model": { "path", "name", "sha256" } | null,
 *       "system_prompt", "sampling": { "temperature", "top_k", "top_p", "min_p",
 *         "repeat_penalty", "repeat_last_n", "frequency_penalty",
 *         "presence_penalty", "seed" (decimal string), "max_tokens" (optional, 0) },
 *       "created_us", "updated_us", "head": index | null,
 *       "messages": [ { "role", "content", "created_us", "n_tokens",
 *                       "complete", "parent": index | null } ] } ] }
 *
 * Times are microseconds since the epoch, exact; a message refers to its
 * parent and a conversation to its head by index in "messages", where
 * parents come first. */
#include "store-private.h"

#include <json-glib/json-glib.h>
#include <string.h>
#include <tern/json-text.h>

#define EXPORT_FORMAT "tern-conversations"
#define EXPORT_VERSION 1

/* The ids to export: @ids, or every conversation not in the trash. */
static GArray *
export_ids (TernStore *store, const gint64 *ids, gsize n_ids, GError **error)
{
  g_autoptr (GArray) out = g_array_new (FALSE, FALSE, sizeof (gint64));

  if (n_ids > 0)
    {
      g_array_append_vals (out, ids, n_ids);
      return g_steal_pointer (&out);
    }
  g_autoptr (StoreStmt) stmt = tern_store_prepare (
      store, "SELECT id FROM conversations WHERE trashed_at = 0 ORDER BY created_at, id", error);
  int rc;
  if (stmt == NULL)
    return NULL;
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      gint64 id = sqlite3_column_int64 (stmt, 0);
      g_array_append_val (out, id);
    }
  if (rc != SQLITE_DONE)
    {
      tern_store_fail (store, "listing conversations", error);
      return NULL;
    }
  return g_steal_pointer (&out);
}

static char *
format_time (gint64 us)
{
  g_autoptr (GDateTime) t = g_date_time_new_from_unix_utc (us / G_USEC_PER_SEC);
  return t ? g_date_time_format (t, "%Y-%m-%d %H:%M UTC") : g_strdup ("?");
}

static gboolean
markdown_one (TernStore *store, gint64 id, GString *out, GError **error)
{
  g_autoptr (TernConversation) c = tern_store_conversation_get (store, id, error);
  if (c == NULL)
    return FALSE;
  g_autoptr (GPtrArray) messages = tern_store_conversation_messages (store, id, 0, error);
  if (messages == NULL)
    return FALSE;
  g_autoptr (TernStoreModel) model = c->model_id ? tern_store_model_get (store, c->model_id, NULL) : NULL;
  g_autofree char *created = format_time (c->created_at);

  g_string_append_printf (out, "# %s\n\n", c->title);
  g_string_append_printf (out, "- Created: %s\n", created);
  if (model)
    g_string_append_printf (out, "- Model: %s (%s)\n", model->name, model->path);
  g_string_append_c (out, '\n');
  if (c->system_prompt[0])
    g_string_append_printf (out, "## System\n\n%s\n\n", c->system_prompt);
  for (guint i = 0; i < messages->len; i++)
    {
      const TernMessage *m = messages->pdata[i];
      g_autofree char *when = format_time (m->created_at);
      g_string_append_printf (out, "## %s\n\n%s\n\n", m->role == TERN_ROLE_USER        ? "User"
                                                      : m->role == TERN_ROLE_ASSISTANT ? "Assistant"
                                                                                       : "System",
                              m->content);
      if (!m->complete)
        g_string_append (out, "*(interrupted)*\n\n");
    }
  return TRUE;
}

static void
add_sampling (JsonBuilder *b, const TernSamplerParams *p, gint32 max_tokens)
{
  g_autofree char *seed = g_strdup_printf ("%" G_GUINT64_FORMAT, p->seed);

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "temperature");
  json_builder_add_double_value (b, p->temperature);
  json_builder_set_member_name (b, "top_k");
  json_builder_add_int_value (b, p->top_k);
  json_builder_set_member_name (b, "top_p");
  json_builder_add_double_value (b, p->top_p);
  json_builder_set_member_name (b, "min_p");
  json_builder_add_double_value (b, p->min_p);
  json_builder_set_member_name (b, "repeat_penalty");
  json_builder_add_double_value (b, p->repeat_penalty);
  json_builder_set_member_name (b, "repeat_last_n");
  json_builder_add_int_value (b, p->repeat_last_n);
  json_builder_set_member_name (b, "frequency_penalty");
  json_builder_add_double_value (b, p->frequency_penalty);
  json_builder_set_member_name (b, "presence_penalty");
  json_builder_add_double_value (b, p->presence_penalty);
  json_builder_set_member_name (b, "seed");
  json_builder_add_string_value (b, seed);
  json_builder_set_member_name (b, "max_tokens");
  json_builder_add_int_value (b, max_tokens);
  json_builder_end_object (b);
}

static gboolean
json_one (TernStore *store, gint64 id, JsonBuilder *b, GError **error)
{
  g_autoptr (TernConversation) c = tern_store_conversation_get (store, id, error);
  if (c == NULL)
    return FALSE;
  g_autoptr (StoreStmt) stmt = tern_store_prepare (
      store, "SELECT " STORE_MESSAGE_COLUMNS " FROM messages m WHERE m.conversation_id = ?1 ORDER BY m.id", error);
  if (stmt == NULL)
    return FALSE;
  g_autoptr (TernStoreModel) model = c->model_id ? tern_store_model_get (store, c->model_id, NULL) : NULL;
  g_autoptr (GHashTable) index = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  int rc;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "title");
  json_builder_add_string_value (b, c->title);
  json_builder_set_member_name (b, "model");
  if (model)
    {
      g_autofree char *hash = tern_model_identity_hash_hex (&model->identity);
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "path");
      json_builder_add_string_value (b, model->path);
      json_builder_set_member_name (b, "name");
      json_builder_add_string_value (b, model->name);
      json_builder_set_member_name (b, "sha256");
      json_builder_add_string_value (b, hash);
      json_builder_end_object (b);
    }
  else
    json_builder_add_null_value (b);
  json_builder_set_member_name (b, "system_prompt");
  json_builder_add_string_value (b, c->system_prompt);
  json_builder_set_member_name (b, "sampling");
  add_sampling (b, &c->sampling, c->max_tokens);
  json_builder_set_member_name (b, "created_us");
  json_builder_add_int_value (b, c->created_at);
  json_builder_set_member_name (b, "updated_us");
  json_builder_add_int_value (b, c->updated_at);

  json_builder_set_member_name (b, "messages");
  json_builder_begin_array (b);
  sqlite3_bind_int64 (stmt, 1, id);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      if (!tern_store_check_cancelled (store, error))
        return FALSE;
      g_autoptr (TernMessage) m = tern_store_read_message (stmt);
      gpointer parent = NULL;
      gboolean has_parent = m->parent_id && g_hash_table_lookup_extended (index, &m->parent_id, NULL, &parent);

      g_hash_table_insert (index, g_memdup2 (&m->id, sizeof m->id), GUINT_TO_POINTER (g_hash_table_size (index)));
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "role");
      json_builder_add_string_value (b, tern_role_name (m->role));
      json_builder_set_member_name (b, "content");
      json_builder_add_string_value (b, m->content);
      json_builder_set_member_name (b, "created_us");
      json_builder_add_int_value (b, m->created_at);
      json_builder_set_member_name (b, "n_tokens");
      json_builder_add_int_value (b, m->n_tokens);
      json_builder_set_member_name (b, "complete");
      json_builder_add_boolean_value (b, m->complete);
      json_builder_set_member_name (b, "parent");
      if (has_parent)
        json_builder_add_int_value (b, GPOINTER_TO_UINT (parent));
      else
        json_builder_add_null_value (b);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  if (rc != SQLITE_DONE)
    return tern_store_fail (store, "reading messages", error);

  gpointer head;
  json_builder_set_member_name (b, "head");
  if (c->head_id && g_hash_table_lookup_extended (index, &c->head_id, NULL, &head))
    json_builder_add_int_value (b, GPOINTER_TO_UINT (head));
  else
    json_builder_add_null_value (b);
  json_builder_end_object (b);
  return TRUE;
}

/* Appends conversation @id as the JSON of one element of the export's
 * "conversations" array: json-glib's pretty text of it, each line indented
 * to the element's depth (no string holds a raw newline), so that the
 * export is written a conversation at a time. */
static gboolean
json_element (TernStore *store, gint64 id, GString *out, GError **error)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();

  if (!json_one (store, id, b, error))
    return FALSE;
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  json_generator_set_pretty (gen, TRUE);
  json_generator_set_root (gen, root);
  g_autofree char *text = json_generator_to_data (gen, NULL);
  g_string_append (out, "    ");
  for (const char *p = text; *p; p++)
    {
      g_string_append_c (out, *p);
      if (*p == '\n')
        g_string_append (out, "    ");
    }
  return TRUE;
}

char *
tern_store_export (TernStore *store, const gint64 *ids, gsize n_ids, TernExportFormat format, GError **error)
{
  /* One read transaction: a consistent picture even if another process
   * writes meanwhile. */
  if (!tern_store_exec (store, "SAVEPOINT tern_export", error))
    return NULL;
  g_autoptr (GArray) list = export_ids (store, ids, n_ids, error);
  g_autoptr (GString) text = g_string_new (NULL);
  gboolean ok = list != NULL;

  if (format == TERN_EXPORT_JSON)
    g_string_append_printf (text, "{\n  \"format\" : \"%s\",\n  \"version\" : %d,\n  \"conversations\" : [",
                            EXPORT_FORMAT, EXPORT_VERSION);
  for (guint i = 0; ok && i < list->len; i++)
    {
      gint64 id = g_array_index (list, gint64, i);
      if (!tern_store_check_cancelled (store, error))
        ok = FALSE;
      else if (format == TERN_EXPORT_MARKDOWN)
        {
          if (i > 0)
            g_string_append (text, "---\n\n");
          ok = markdown_one (store, id, text, error);
        }
      else
        {
          g_string_append (text, i > 0 ? ",\n" : "\n");
          ok = json_element (store, id, text, error);
        }
    }
  sqlite3_exec (store->db, "RELEASE tern_export", NULL, NULL, NULL);
  if (!ok)
    return NULL;
  if (format == TERN_EXPORT_MARKDOWN)
    return g_string_free (g_steal_pointer (&text), FALSE);

  g_string_append (text, list->len > 0 ? "\n  ]\n}\n" : "]\n}\n");
  /* json-glib (1.6 at least) writes U+001F raw, which JSON does not allow
   * in a string (RFC 8259, 7), so strict readers refuse the file: escape
   * it. Every other control character comes escaped, the text between
   * values is spaces and newlines, and UTF-8 has no 0x1f byte inside a
   * character, so each 0x1f byte is that character in a string. */
  g_string_replace (text, "\x1f", "\\u001f", 0);
  return g_string_free (g_steal_pointer (&text), FALSE);
}

/* Import. */

static gboolean
bad_json (GError **error, const char *what, guint conversation)
{
  g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_FORMAT, "not a Tern conversation export: %s (conversation %u)",
               what, conversation + 1);
  return FALSE;
}

/* The member @name of @o with value type @type, or NULL. */
static JsonNode *
member (JsonObject *o, const char *name, GType type)
{
  JsonNode *n = json_object_get_member (o, name);
  if (n == NULL || JSON_NODE_TYPE (n) != JSON_NODE_VALUE)
    return NULL;
  GType t = json_node_get_value_type (n);
  /* A whole-number double is written without a fraction. */
  if (type == G_TYPE_DOUBLE && t == G_TYPE_INT64)
    return n;
  return t == type ? n : NULL;
}

static gboolean
read_sampling (JsonObject *o, TernSamplerParams *p, gint32 *max_tokens)
{
  const char *floats[] = { "temperature", "top_p", "min_p", "repeat_penalty", "frequency_penalty", "presence_penalty" };
  float *dest[] = { &p->temperature, &p->top_p, &p->min_p, &p->repeat_penalty, &p->frequency_penalty,
                    &p->presence_penalty };
  JsonNode *n;

  for (guint i = 0; i < G_N_ELEMENTS (floats); i++)
    {
      if ((n = member (o, floats[i], G_TYPE_DOUBLE)) == NULL)
        return FALSE;
      *dest[i] = (float) json_node_get_double (n);
    }
  if ((n = member (o, "top_k", G_TYPE_INT64)) == NULL)
    return FALSE;
  p->top_k = (gint32) CLAMP (json_node_get_int (n), G_MININT32, G_MAXINT32);
  if ((n = member (o, "repeat_last_n", G_TYPE_INT64)) == NULL)
    return FALSE;
  p->repeat_last_n = (gint32) CLAMP (json_node_get_int (n), G_MININT32, G_MAXINT32);
  /* Exports older than the reply limit have none. */
  *max_tokens = 0;
  if (json_object_has_member (o, "max_tokens"))
    {
      if ((n = member (o, "max_tokens", G_TYPE_INT64)) == NULL || json_node_get_int (n) < 0 ||
          json_node_get_int (n) > G_MAXINT32)
        return FALSE;
      *max_tokens = (gint32) json_node_get_int (n);
    }
  if ((n = member (o, "seed", G_TYPE_STRING)) == NULL)
    return FALSE;
  return g_ascii_string_to_unsigned (json_node_get_string (n), 10, 0, G_MAXUINT64, &p->seed, NULL) &&
         tern_sampler_params_validate (p, NULL);
}

static gint64
find_model (TernStore *store, JsonObject *o, GError **error)
{
  JsonNode *model = json_object_get_member (o, "model");
  JsonNode *path;

  if (model == NULL || JSON_NODE_TYPE (model) != JSON_NODE_OBJECT ||
      (path = member (json_node_get_object (model), "path", G_TYPE_STRING)) == NULL)
    return 0;
  g_autoptr (StoreStmt) stmt = tern_store_prepare (store, "SELECT id FROM models WHERE path = ?1", error);
  if (stmt == NULL)
    return -1;
  sqlite3_bind_text (stmt, 1, json_node_get_string (path), -1, SQLITE_STATIC);
  int rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW)
    return sqlite3_column_int64 (stmt, 0);
  if (rc != SQLITE_DONE)
    {
      tern_store_fail (store, "reading models", error);
      return -1;
    }
  return 0;
}

static gboolean
import_one (TernStore *store, JsonNode *node, guint k, GArray *ids, GError **error)
{
  JsonObject *o = JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
  JsonNode *title, *prompt, *created, *updated, *sampling, *messages, *head;
  TernSamplerParams params;
  gint32 max_tokens;

  if (o == NULL || (title = member (o, "title", G_TYPE_STRING)) == NULL ||
      (prompt = member (o, "system_prompt", G_TYPE_STRING)) == NULL ||
      (created = member (o, "created_us", G_TYPE_INT64)) == NULL ||
      (updated = member (o, "updated_us", G_TYPE_INT64)) == NULL ||
      (sampling = json_object_get_member (o, "sampling")) == NULL || !JSON_NODE_HOLDS_OBJECT (sampling) ||
      (messages = json_object_get_member (o, "messages")) == NULL || !JSON_NODE_HOLDS_ARRAY (messages) ||
      (head = json_object_get_member (o, "head")) == NULL)
    return bad_json (error, "a field is missing or of the wrong type", k);
  if (!read_sampling (json_node_get_object (sampling), &params, &max_tokens))
    return bad_json (error, "bad sampling settings", k);
  gint64 model_id = find_model (store, o, error);
  if (model_id < 0)
    return FALSE;
  gint64 id = tern_store_conversation_insert (store, json_node_get_string (title), model_id,
                                              json_node_get_string (prompt), &params, max_tokens,
                                              json_node_get_int (created), json_node_get_int (updated), error);
  if (id == 0)
    return FALSE;

  JsonArray *list = json_node_get_array (messages);
  guint n = json_array_get_length (list);
  g_autoptr (GArray) new_ids = g_array_sized_new (FALSE, FALSE, sizeof (gint64), n);
  for (guint i = 0; i < n; i++)
    {
      JsonNode *mn = json_array_get_element (list, i);
      JsonObject *m = JSON_NODE_HOLDS_OBJECT (mn) ? json_node_get_object (mn) : NULL;
      JsonNode *role, *content, *time, *n_tokens, *complete, *parent;
      TernRole r;
      gint64 parent_id = 0;

      if (!tern_store_check_cancelled (store, error))
        return FALSE;
      if (m == NULL || (role = member (m, "role", G_TYPE_STRING)) == NULL ||
          !tern_role_from_name (json_node_get_string (role), &r) ||
          (content = member (m, "content", G_TYPE_STRING)) == NULL ||
          (time = member (m, "created_us", G_TYPE_INT64)) == NULL ||
          (n_tokens = member (m, "n_tokens", G_TYPE_INT64)) == NULL ||
          json_node_get_int (n_tokens) < 0 || json_node_get_int (n_tokens) > G_MAXINT32 ||
          (complete = member (m, "complete", G_TYPE_BOOLEAN)) == NULL ||
          (parent = json_object_get_member (m, "parent")) == NULL)
        return bad_json (error, "a message is malformed", k);
      if (!JSON_NODE_HOLDS_NULL (parent))
        {
          if (member (m, "parent", G_TYPE_INT64) == NULL || json_node_get_int (parent) < 0 ||
              json_node_get_int (parent) >= i)
            return bad_json (error, "a message's parent is not an earlier message", k);
          parent_id = g_array_index (new_ids, gint64, json_node_get_int (parent));
        }
      gint64 mid = tern_store_message_insert (store, id, parent_id, r, json_node_get_string (content),
                                              json_node_get_int (time), (gint32) json_node_get_int (n_tokens),
                                              json_node_get_boolean (complete), NULL, NULL, error);
      if (mid == 0)
        return FALSE;
      g_array_append_val (new_ids, mid);
    }

  if (!JSON_NODE_HOLDS_NULL (head))
    {
      if (member (o, "head", G_TYPE_INT64) == NULL || json_node_get_int (head) < 0 || json_node_get_int (head) >= n)
        return bad_json (error, "the head is not one of the messages", k);
      g_autoptr (StoreStmt) stmt = tern_store_prepare (store, "UPDATE conversations SET head_id = ?2 WHERE id = ?1",
                                                       error);
      if (stmt == NULL)
        return FALSE;
      sqlite3_bind_int64 (stmt, 1, id);
      sqlite3_bind_int64 (stmt, 2, g_array_index (new_ids, gint64, json_node_get_int (head)));
      if (!tern_store_step_done (store, stmt, "importing", error))
        return FALSE;
    }
  if (ids)
    g_array_append_val (ids, id);
  return TRUE;
}

/* Where json-glib stopped, read while it reports the error: its message
 * would quote the text there, and the file may be one the user never
 * meant to show (history import /etc/shadow). */
typedef struct {
  guint line, column;
} ParsePosition;

static void
on_parse_error (JsonParser *parser, const GError *error, gpointer data)
{
  ParsePosition *at = data;

  at->line = json_parser_get_current_line (parser);
  at->column = json_parser_get_current_pos (parser);
}

/* The JSON text parsed on a thread of its own, which also frees the tree
 * afterwards: json-glib's parser cannot be stopped, and parsing or freeing
 * the tree of a large export takes a second, so a cancelled import leaves
 * both to the thread and returns at once. */
typedef struct {
  GMutex lock;
  GCond cond;
  char *text; /* owned */
  gsize len;
  JsonParser *parser;
  GError *error;
  ParsePosition at;
  gboolean parsed;   /* the thread is done parsing */
  gboolean released; /* the caller is done with the tree */
} Parse;

static gpointer
parse_main (gpointer data)
{
  Parse *p = data;
  g_autoptr (JsonParser) parser = json_parser_new ();
  ParsePosition at = { 0, 0 };
  GError *error = NULL;

  g_signal_connect (parser, "error", G_CALLBACK (on_parse_error), &at);
  json_parser_load_from_data (parser, p->text, (gssize) p->len, &error);
  g_mutex_lock (&p->lock);
  p->parser = parser;
  p->error = error;
  p->at = at;
  p->parsed = TRUE;
  g_cond_broadcast (&p->cond);
  while (!p->released)
    g_cond_wait (&p->cond, &p->lock);
  g_mutex_unlock (&p->lock);

  g_clear_error (&p->error);
  g_free (p->text);
  g_mutex_clear (&p->lock);
  g_cond_clear (&p->cond);
  g_free (p);
  return NULL;
}

/* Starts parsing @text (taken); NULL with NOMEM when no thread can be
 * started. */
static Parse *
parse_start (char *text, gsize len, GError **error)
{
  Parse *p = g_new0 (Parse, 1);
  g_autoptr (GError) local = NULL;
  GThread *thread;

  g_mutex_init (&p->lock);
  g_cond_init (&p->cond);
  p->text = text;
  p->len = len;
  thread = g_thread_try_new ("tern-import-parse", parse_main, p, &local);
  if (thread == NULL)
    {
      g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_NOMEM, "cannot start a thread to read the export: %s",
                   local->message);
      g_mutex_clear (&p->lock);
      g_cond_clear (&p->cond);
      g_free (p->text);
      g_free (p);
      return NULL;
    }
  g_thread_unref (thread);
  return p;
}

/* Waits for the parse, or until the store's cancellable is cancelled
 * (FALSE with CANCELLED). */
static gboolean
parse_wait (TernStore *store, Parse *p, GError **error)
{
  gboolean ok = TRUE;

  g_mutex_lock (&p->lock);
  while (!p->parsed && (ok = tern_store_check_cancelled (store, error)))
    g_cond_wait_until (&p->cond, &p->lock, g_get_monotonic_time () + 10 * G_TIME_SPAN_MILLISECOND);
  g_mutex_unlock (&p->lock);
  return ok;
}

/* Hands the tree back to the thread, which frees it and itself. */
static void
parse_release (Parse *p)
{
  g_mutex_lock (&p->lock);
  p->released = TRUE;
  g_cond_broadcast (&p->cond);
  g_mutex_unlock (&p->lock);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (Parse, parse_release)

gboolean
tern_store_import (TernStore *store, const char *json, gssize len, GArray *ids, GError **error)
{
  return tern_store_import_full (store, json, len, ids, NULL, error);
}

gboolean
tern_store_import_full (TernStore *store, const char *json, gssize len, GArray *ids, gsize *n_replaced,
                        GError **error)
{
  g_autofree char *mended = NULL;
  gsize text_len = len < 0 ? strlen (json) : (gsize) len, mended_len, n_mended;
  JsonObject *root;
  JsonNode *format, *version, *list;
  StoreTxn txn;
  guint n_before = ids ? ids->len : 0;

  if (n_replaced)
    *n_replaced = 0;
  if (text_len > TERN_STORE_IMPORT_MAX_BYTES)
    {
      g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_UNSUPPORTED,
                   "the export is larger than the %" G_GSIZE_FORMAT " MiB an import may be",
                   TERN_STORE_IMPORT_MAX_BYTES >> 20);
      return FALSE;
    }
  if (!tern_json_mend (json, text_len, TERN_STORE_IMPORT_MAX_DEPTH, &mended, &mended_len, &n_mended, error))
    {
      g_prefix_error (error, "not a Tern conversation export: ");
      return FALSE;
    }
  /* json-glib allocates with g_malloc, which aborts when memory runs out:
   * a string is built in a GString (up to twice its length while it
   * grows) and then copied into its node. Asking for that much first
   * turns an address-space limit (ulimit -v) into an error. */
  gpointer probe = g_try_malloc (3 * mended_len + 1);
  if (probe == NULL)
    {
      g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_NOMEM,
                   "not enough memory to import an export of %" G_GSIZE_FORMAT " MiB", (mended_len >> 20) + 1);
      return FALSE;
    }
  g_free (probe);
  /* The parse's own copy (NUL-terminated): it may outlive this call. */
  char *text = NULL;
  if (mended)
    text = g_steal_pointer (&mended);
  else if ((text = g_try_malloc (text_len + 1)) != NULL)
    {
      memcpy (text, json, text_len);
      text[text_len] = '\0';
    }
  if (text == NULL)
    {
      g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_NOMEM,
                   "not enough memory to import an export of %" G_GSIZE_FORMAT " MiB", (mended_len >> 20) + 1);
      return FALSE;
    }
  g_autoptr (Parse) parse = parse_start (text, mended_len, error);
  if (parse == NULL || !parse_wait (store, parse, error))
    return FALSE;
  if (parse->error)
    {
      g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_FORMAT,
                   "not a Tern conversation export: not valid JSON (line %u, column %u)", parse->at.line,
                   parse->at.column);
      return FALSE;
    }
  /* An empty text parses to no root at all. */
  JsonNode *top = json_parser_get_root (parse->parser);
  root = top && JSON_NODE_HOLDS_OBJECT (top) ? json_node_get_object (top) : NULL;
  if (root == NULL || (format = member (root, "format", G_TYPE_STRING)) == NULL ||
      strcmp (json_node_get_string (format), EXPORT_FORMAT) != 0 ||
      (version = member (root, "version", G_TYPE_INT64)) == NULL ||
      (list = json_object_get_member (root, "conversations")) == NULL || !JSON_NODE_HOLDS_ARRAY (list))
    {
      g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_FORMAT, "not a Tern conversation export");
      return FALSE;
    }
  if (json_node_get_int (version) != EXPORT_VERSION)
    {
      g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_UNSUPPORTED,
                   "the export has version %" G_GINT64_FORMAT "; this Tern reads version %d",
                   json_node_get_int (version), EXPORT_VERSION);
      return FALSE;
    }

  JsonArray *array = json_node_get_array (list);
  if (!tern_store_check_cancelled (store, error) || !tern_store_txn_begin (store, &txn, error))
    return FALSE;
  for (guint i = 0; i < json_array_get_length (array); i++)
    if (!import_one (store, json_array_get_element (array, i), i, ids, error))
      {
        tern_store_txn_rollback (store, &txn);
        if (ids)
          g_array_set_size (ids, n_before);
        return FALSE;
      }
  if (!tern_store_txn_commit (store, &txn, error))
    {
      if (ids)
        g_array_set_size (ids, n_before);
      return FALSE;
    }
  if (n_replaced)
    *n_replaced = n_mended;
  return TRUE;
}
