/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The store's model library. */
#include "store-private.h"

#include <json-glib/json-glib.h>
#include <stdlib.h>
#include <string.h>

#define MODEL_COLUMNS \
  "id, path, name, arch, n_params, tensor_types, n_ctx_train, size, mtime_us, header_sha256, added_at, last_used_at, " \
  "compressed_from, compression_report"

void
tern_store_model_free (TernStoreModel *model)
{
  if (model == NULL)
    return;
  g_free (model->path);
  g_free (model->name);
  g_free (model->arch);
  g_free (model->tensor_types);
  g_free (model->compression_report);
  g_free (model);
}

static TernStoreModel *
read_model (StoreStmt *stmt)
{
  TernStoreModel *m = g_new0 (TernStoreModel, 1);
  const void *hash = sqlite3_column_blob (stmt, 9);

  m->id = sqlite3_column_int64 (stmt, 0);
  m->path = tern_store_column_text (stmt, 1);
  m->name = tern_store_column_text (stmt, 2);
  m->arch = tern_store_column_text (stmt, 3);
  m->n_params = sqlite3_column_int64 (stmt, 4);
  m->tensor_types = tern_store_column_text (stmt, 5);
  m->n_ctx_train = sqlite3_column_int (stmt, 6);
  m->identity.size = (guint64) sqlite3_column_int64 (stmt, 7);
  m->identity.mtime_us = sqlite3_column_int64 (stmt, 8);
  if (hash && sqlite3_column_bytes (stmt, 9) == sizeof m->identity.sha256)
    memcpy (m->identity.sha256, hash, sizeof m->identity.sha256);
  m->added_at = sqlite3_column_int64 (stmt, 10);
  m->last_used_at = sqlite3_column_int64 (stmt, 11);
  m->compressed_from = sqlite3_column_int64 (stmt, 12);
  m->compression_report = g_strdup ((const char *) sqlite3_column_text (stmt, 13));
  return m;
}

typedef struct {
  TernType type;
  guint count;
} TypeCount;

static int
by_count (gconstpointer a, gconstpointer b)
{
  const TypeCount *x = a, *y = b;
  return x->count != y->count ? (x->count < y->count ? 1 : -1) : (int) x->type - (int) y->type;
}

/* "q4_K 155, f32 45": tensor types by count, most first. */
static char *
describe_types (const TernGguf *gguf)
{
  TypeCount counts[TERN_TYPE_COUNT] = { 0 };
  GString *out = g_string_new (NULL);

  for (int t = 0; t < TERN_TYPE_COUNT; t++)
    counts[t].type = t;
  for (gsize i = 0; i < tern_gguf_n_tensors (gguf); i++)
    counts[tern_gguf_tensor (gguf, i)->type].count++;
  qsort (counts, TERN_TYPE_COUNT, sizeof counts[0], by_count);
  for (int t = 0; t < TERN_TYPE_COUNT && counts[t].count > 0; t++)
    g_string_append_printf (out, "%s%s %u", t ? ", " : "", tern_type_name (counts[t].type), counts[t].count);
  return g_string_free (out, FALSE);
}

gint64
tern_store_model_add (TernStore *store, const char *path, GError **error)
{
  g_autofree char *abs = g_canonicalize_filename (path, NULL);
  TernModelIdentity id;
  TernGgufString s;
  guint64 n_ctx = 0;
  gint64 n_params = 0;
  StoreTxn txn;

  if (!tern_model_identity_compute (abs, &id, error))
    return 0;
  g_autoptr (TernGguf) gguf = tern_gguf_open (abs, error);
  if (gguf == NULL)
    return 0;

  g_autofree char *arch = tern_gguf_get_string (gguf, "general.architecture", &s, NULL) ? g_strndup (s.data, s.len)
                                                                                       : g_strdup ("unknown");
  g_autofree char *name = tern_gguf_get_string (gguf, "general.name", &s, NULL) && s.len > 0
                              ? g_strndup (s.data, s.len)
                              : g_path_get_basename (abs);
  g_autofree char *ctx_key = g_strconcat (arch, ".context_length", NULL);
  tern_gguf_get_uint (gguf, ctx_key, &n_ctx, NULL);
  for (gsize i = 0; i < tern_gguf_n_tensors (gguf); i++)
    n_params += tern_gguf_tensor_n_elems (tern_gguf_tensor (gguf, i));
  g_autofree char *types = describe_types (gguf);

  g_autoptr (StoreStmt) stmt = tern_store_prepare (
      store,
      "INSERT INTO models (path, name, arch, n_params, tensor_types, n_ctx_train, size, mtime_us, header_sha256, "
      "added_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) "
      /* A name given in the library stays while the file is the same one;
       * another file at the path is another model, with its own name. */
      "ON CONFLICT (path) DO UPDATE SET name = CASE WHEN header_sha256 = ?9 AND size = ?7 THEN name ELSE ?2 END, "
      "compressed_from = CASE WHEN header_sha256 = ?9 AND size = ?7 THEN compressed_from END, "
      "compression_report = CASE WHEN header_sha256 = ?9 AND size = ?7 THEN compression_report END, "
      "arch = ?3, n_params = ?4, tensor_types = ?5, "
      "n_ctx_train = ?6, size = ?7, mtime_us = ?8, header_sha256 = ?9 RETURNING id",
      error);
  if (stmt == NULL || !tern_store_txn_begin (store, &txn, error))
    return 0;
  sqlite3_bind_text (stmt, 1, abs, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 2, name, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 3, arch, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (stmt, 4, n_params);
  sqlite3_bind_text (stmt, 5, types, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (stmt, 6, (gint64) MIN (n_ctx, G_MAXINT32));
  sqlite3_bind_int64 (stmt, 7, (gint64) id.size);
  sqlite3_bind_int64 (stmt, 8, id.mtime_us);
  sqlite3_bind_blob (stmt, 9, id.sha256, sizeof id.sha256, SQLITE_STATIC);
  sqlite3_bind_int64 (stmt, 10, tern_store_now (store));
  if (sqlite3_step (stmt) != SQLITE_ROW)
    {
      tern_store_fail (store, "adding a model", error);
      tern_store_txn_rollback (store, &txn);
      return 0;
    }
  gint64 model_id = sqlite3_column_int64 (stmt, 0);
  if (!tern_store_step_done (store, stmt, "adding a model", error) || !tern_store_txn_commit (store, &txn, error))
    {
      tern_store_txn_rollback (store, &txn);
      return 0;
    }
  return model_id;
}

TernStoreModel *
tern_store_model_get (TernStore *store, gint64 id, GError **error)
{
  return tern_store_get_by_id (store, "SELECT " MODEL_COLUMNS " FROM models WHERE id = ?1", id, "model",
                               (StoreReadRowFn) read_model, error);
}

GPtrArray *
tern_store_model_list (TernStore *store, GError **error)
{
  g_autoptr (StoreStmt) stmt = tern_store_prepare (
      store, "SELECT " MODEL_COLUMNS " FROM models "
      "ORDER BY last_used_at = 0, last_used_at DESC, name COLLATE NOCASE, id", error);
  g_autoptr (GPtrArray) models = g_ptr_array_new_with_free_func ((GDestroyNotify) tern_store_model_free);
  int rc;

  if (stmt == NULL)
    return NULL;
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    g_ptr_array_add (models, read_model (stmt));
  if (rc != SQLITE_DONE)
    {
      tern_store_fail (store, "listing models", error);
      return NULL;
    }
  return g_steal_pointer (&models);
}

gboolean
tern_store_model_remove (TernStore *store, gint64 id, GError **error)
{
  g_autoptr (StoreStmt) snaps = tern_store_prepare (
      store, "DELETE FROM snapshots WHERE conversation_id IN (SELECT id FROM conversations WHERE model_id = ?1)",
      error);
  g_autoptr (StoreStmt) stmt = tern_store_prepare (store, "DELETE FROM models WHERE id = ?1", error);
  StoreTxn txn;

  if (snaps == NULL || stmt == NULL || !tern_store_txn_begin (store, &txn, error))
    return FALSE;
  sqlite3_bind_int64 (snaps, 1, id);
  sqlite3_bind_int64 (stmt, 1, id);
  if (!tern_store_step_done (store, snaps, "removing a model", error) ||
      !tern_store_step_done (store, stmt, "removing a model", error))
    {
      tern_store_txn_rollback (store, &txn);
      return FALSE;
    }
  if (sqlite3_changes (store->db) == 0)
    {
      tern_store_txn_rollback (store, &txn);
      return tern_store_no_such ("model", id, error);
    }
  return tern_store_txn_commit (store, &txn, error);
}

gboolean
tern_store_model_check (TernStore *store, gint64 id, TernModelStatus *status, GError **error)
{
  g_autoptr (TernStoreModel) model = tern_store_model_get (store, id, error);
  TernModelIdentity now;
  g_autoptr (GError) local = NULL;

  if (model == NULL)
    return FALSE;
  if (!g_file_test (model->path, G_FILE_TEST_IS_REGULAR))
    *status = TERN_MODEL_MISSING;
  else if (!tern_model_identity_compute (model->path, &now, &local))
    *status = TERN_MODEL_CHANGED; /* there, but no longer a usable GGUF */
  else
    *status = tern_model_identity_equal (&now, &model->identity) ? TERN_MODEL_OK : TERN_MODEL_CHANGED;
  return TRUE;
}

gboolean
tern_store_model_rename (TernStore *store, gint64 id, const char *name, GError **error)
{
  g_autofree char *stripped = name ? g_strstrip (g_strdup (name)) : NULL;
  g_autoptr (StoreStmt) stmt = NULL;
  StoreTxn txn;

  if (!tern_store_check_text ("name", stripped, error))
    return FALSE;
  if (stripped[0] == '\0')
    {
      g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_INVALID, "a model's name cannot be empty");
      return FALSE;
    }
  stmt = tern_store_prepare (store, "UPDATE models SET name = ?2 WHERE id = ?1", error);
  if (stmt == NULL || !tern_store_txn_begin (store, &txn, error))
    return FALSE;
  sqlite3_bind_int64 (stmt, 1, id);
  sqlite3_bind_text (stmt, 2, stripped, -1, SQLITE_STATIC);
  if (!tern_store_step_done (store, stmt, "renaming a model", error))
    {
      tern_store_txn_rollback (store, &txn);
      return FALSE;
    }
  if (sqlite3_changes (store->db) == 0)
    {
      tern_store_txn_rollback (store, &txn);
      return tern_store_no_such ("model", id, error);
    }
  return tern_store_txn_commit (store, &txn, error);
}

static gboolean
is_json_object (const char *text)
{
  g_autoptr (JsonParser) parser = json_parser_new ();

  return text != NULL && json_parser_load_from_data (parser, text, -1, NULL) &&
         JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser));
}

gboolean
tern_store_model_set_compression (TernStore *store, gint64 id, gint64 from_id, const char *report_json,
                                  GError **error)
{
  g_autoptr (StoreStmt) stmt = NULL;
  StoreTxn txn;

  if (!tern_store_check_text ("compression report", report_json, error))
    return FALSE;
  if (!is_json_object (report_json))
    {
      g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_INVALID, "the compression report is not a JSON object");
      return FALSE;
    }
  stmt = tern_store_prepare (store, "UPDATE models SET compressed_from = ?2, compression_report = ?3 WHERE id = ?1",
                             error);
  if (stmt == NULL || !tern_store_txn_begin (store, &txn, error))
    return FALSE;
  sqlite3_bind_int64 (stmt, 1, id);
  if (from_id > 0)
    sqlite3_bind_int64 (stmt, 2, from_id);
  sqlite3_bind_text (stmt, 3, report_json, -1, SQLITE_STATIC);
  if (!tern_store_step_done (store, stmt, "recording a model's compression", error))
    {
      tern_store_txn_rollback (store, &txn);
      return FALSE;
    }
  if (sqlite3_changes (store->db) == 0)
    {
      tern_store_txn_rollback (store, &txn);
      return tern_store_no_such ("model", id, error);
    }
  return tern_store_txn_commit (store, &txn, error);
}

gboolean
tern_store_model_mark_used (TernStore *store, gint64 id, GError **error)
{
  g_autoptr (StoreStmt) stmt = tern_store_prepare (store, "UPDATE models SET last_used_at = ?2 WHERE id = ?1", error);
  StoreTxn txn;

  if (stmt == NULL || !tern_store_txn_begin (store, &txn, error))
    return FALSE;
  sqlite3_bind_int64 (stmt, 1, id);
  sqlite3_bind_int64 (stmt, 2, tern_store_now (store));
  if (!tern_store_step_done (store, stmt, "marking a model used", error))
    {
      tern_store_txn_rollback (store, &txn);
      return FALSE;
    }
  if (sqlite3_changes (store->db) == 0)
    {
      tern_store_txn_rollback (store, &txn);
      return tern_store_no_such ("model", id, error);
    }
  return tern_store_txn_commit (store, &txn, error);
}
