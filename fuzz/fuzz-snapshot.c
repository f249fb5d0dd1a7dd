/* SPDX-License-Identifier: GPL-3.0-or-later */
/* libFuzzer target: the snapshot reader. The bytes of a stored snapshot,
 * in chunks of the store as a damaged database may hold them, restored
 * into a context of the fixture model (tern_snapshot_restore_from_store:
 * engine/store/store-snapshots.c, engine/session/snapshot.c); or the
 * sampler and context states a snapshot carries, read directly (see
 * fuzz-snapshot.h for the input). The seeds are real snapshots
 * (make-snapshot-seeds, run at build time).
 *
 * Checked: a restore succeeds or fails with a specific error and leaves
 * the context empty; a restored context and sampler go on: one more token
 * is evaluated and one drawn. */
#include "fuzz-fixtures.h"
#include "fuzz-snapshot.h"

#include <sqlite3.h>
#include <tern/error.h>
#include <tern/snapshot.h>

#include "store/store-private.h"

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

typedef struct {
  TernContext *ctx;
  TernStore *store;
  gint64 conversation_id;
  TernModelIdentity identity;
} Fixtures;

static Fixtures *
fixtures (void)
{
  static Fixtures f;
  g_autoptr (GError) error = NULL;
  TernSamplerParams sampling;

  if (f.ctx)
    return &f;
  f.ctx = fuzz_fixture_context (FUZZ_SNAPSHOT_N_CTX);
  f.store = fuzz_fixture_store ();
  tern_sampler_params_init (&sampling);
  f.conversation_id = tern_store_conversation_new (f.store, "fuzz", 0, NULL, &sampling, &error);
  g_assert_no_error (error);
  fuzz_snapshot_identity (&f.identity);
  return &f;
}

static void
check_refusal (const Fixtures *f, const GError *error)
{
  g_assert_nonnull (error);
  g_assert_true (error->domain == TERN_ENGINE_ERROR);
  g_assert_true (error->code == TERN_ENGINE_ERROR_FORMAT || error->code == TERN_ENGINE_ERROR_MISMATCH);
  g_assert_true (g_utf8_validate (error->message, -1, NULL));
  g_assert_cmpint (tern_context_n_past (f->ctx), ==, 0);
}

/* What a session does with a restored context: evaluates the next token
 * (making room first when the context is full) and draws one from it. */
static void
go_on (const Fixtures *f, TernSampler *sampler)
{
  g_autoptr (GError) error = NULL;
  gint32 n_ctx = tern_context_n_ctx (f->ctx);
  TernToken next = 1;

  g_assert_cmpint (tern_context_n_past (f->ctx), <=, n_ctx);
  if (tern_context_n_past (f->ctx) == n_ctx)
    tern_context_shift (f->ctx, 1);
  if (!tern_context_decode (f->ctx, &next, 1, FALSE, NULL, NULL, NULL, &error))
    {
      /* Restored keys and values that are not finite make the logits so. */
      g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_FORMAT);
      return;
    }
  TernToken t = tern_sampler_sample (sampler, tern_context_last_logits (f->ctx));
  g_assert_cmpint (t, >=, 0);
  g_assert_cmpint (t, <, tern_sampler_get_n_vocab (sampler));
  tern_sampler_accept (sampler, t);
}

/* Stores @data as a snapshot in @n_chunks chunks with its recorded size
 * @skew bytes off, and restores it. */
static void
restore_stored (const Fixtures *f, guint n_chunks, gint64 skew, const guint8 *data, gsize size)
{
  g_autoptr (GError) error = NULL;
  sqlite3 *db = f->store->db;
  sqlite3_stmt *stmt;

  if (!tern_store_begin (f->store, &error))
    g_error ("%s", error->message);
  g_assert_cmpint (sqlite3_prepare_v2 (db,
                                       "INSERT INTO snapshots (conversation_id, message_id, n_tokens, size, created_at,"
                                       " used_at) VALUES (?1, NULL, 0, ?2, 0, 0)",
                                       -1, &stmt, NULL), ==, SQLITE_OK);
  sqlite3_bind_int64 (stmt, 1, f->conversation_id);
  sqlite3_bind_int64 (stmt, 2, (gint64) size + skew);
  g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_DONE);
  sqlite3_finalize (stmt);
  gint64 id = sqlite3_last_insert_rowid (db);

  g_assert_cmpint (sqlite3_prepare_v2 (db, "INSERT INTO snapshot_chunks (snapshot_id, seq, data) VALUES (?1, ?2, ?3)",
                                       -1, &stmt, NULL), ==, SQLITE_OK);
  for (guint i = 0; i < n_chunks; i++)
    {
      gsize start = size * i / n_chunks, end = size * (i + 1) / n_chunks;
      sqlite3_bind_int64 (stmt, 1, id);
      sqlite3_bind_int64 (stmt, 2, i);
      /* A chunk of no bytes is an empty blob, not NULL. */
      sqlite3_bind_blob (stmt, 3, end > start ? data + start : (const guint8 *) "", (int) (end - start),
                         SQLITE_STATIC);
      g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_DONE);
      sqlite3_reset (stmt);
    }
  sqlite3_finalize (stmt);

  TernSampler *sampler = tern_snapshot_restore_from_store (f->store, id, f->ctx, &f->identity, &error);
  if (sampler)
    {
      g_assert_no_error (error);
      go_on (f, sampler);
      tern_sampler_free (sampler);
    }
  else
    check_refusal (f, error);
  tern_store_rollback (f->store);
}

typedef struct {
  const guint8 *p;
  gsize left;
} Reader;

static gboolean
read_bytes (void *data, gsize len, gpointer user_data, GError **error)
{
  Reader *r = user_data;

  if (len > r->left)
    {
      g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_FORMAT, "the state ends early");
      return FALSE;
    }
  /* An empty read may come with no buffer at all. */
  if (len > 0)
    memcpy (data, r->p, len);
  r->p += len;
  r->left -= len;
  return TRUE;
}

/* Restores the sampler state (hashed here) and the context state that
 * @data holds. */
static void
restore_states (const Fixtures *f, const guint8 *data, gsize size)
{
  g_autoptr (GError) error = NULL;
  guint32 n;

  if (size < 4)
    return;
  memcpy (&n, data, 4);
  n = (guint32) MIN (n, size - 4);
  g_autoptr (GByteArray) state = g_byte_array_sized_new (n + 8);
  g_byte_array_append (state, data + 4, n);
  guint64 hash = fuzz_fnv1a64 (state->data, state->len);
  g_byte_array_append (state, (const guint8 *) &hash, sizeof hash);

  gint32 n_vocab = tern_model_hparams (tern_context_model (f->ctx))->n_vocab;
  g_autoptr (TernSampler) sampler = tern_sampler_restore (state->data, state->len, n_vocab, &error);
  if (sampler == NULL)
    {
      g_assert_true (g_error_matches (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_FORMAT) ||
                     g_error_matches (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_MISMATCH));
      return;
    }
  Reader r = { data + 4 + n, size - 4 - n };
  if (tern_context_load_state (f->ctx, read_bytes, &r, &error))
    go_on (f, sampler);
  else
    check_refusal (f, error);
}

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
  const Fixtures *f = fixtures ();

  if (size < 1)
    return 0;
  if (data[0] & FUZZ_SNAPSHOT_STATES)
    restore_states (f, data + 1, size - 1);
  else
    restore_stored (f, FUZZ_SNAPSHOT_CHUNKS (data[0]), fuzz_snapshot_skew (data[0]), data + 1, size - 1);
  return 0;
}
