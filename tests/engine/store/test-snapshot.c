/* SPDX-License-Identifier: GPL-3.0-or-later */
/* State snapshots: a round trip through another process gives the tokens
 * of an uninterrupted run; another model, context size or corrupted bytes
 * are refused, and evaluating the transcript again gives the same state;
 * the branch and size rules. */
#include <tern/snapshot.h>
#include <tern/store.h>

#include "store/store-private.h"
#include "store-test.h"

#define N_CTX 64
#define MODEL "kjv-tiny-q4_k_m"

static char *tmp_dir;

static TernContext *
new_context (TernModel *model, gint32 n_ctx)
{
  g_autoptr (GError) error = NULL;
  TernContextParams params;

  tern_context_params_init (&params);
  params.n_ctx = n_ctx;
  params.n_threads = 1;
  TernContext *ctx = tern_context_new (model, &params, &error);
  g_assert_no_error (error);
  return ctx;
}

static TernModel *
load (const char *path, TernModelIdentity *identity)
{
  g_autoptr (GError) error = NULL;
  TernModel *model = tern_model_load (path, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (tern_model_identity_of_gguf (tern_model_gguf (model), path, identity, &error));
  return model;
}

/* The tokens of an uninterrupted run: prompt, then @n tokens. */
static TernToken *
straight_run (TernModel *model, gboolean greedy, gint32 n)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (TernContext) ctx = new_context (model, N_CTX);
  TernSamplerParams params;
  g_autoptr (GArray) prompt = g_array_new (FALSE, FALSE, sizeof (TernToken));
  TernToken *out = g_new (TernToken, n);

  store_test_sampling (&params, greedy);
  g_autoptr (TernSampler) sampler = tern_sampler_new (&params, tern_model_hparams (model)->n_vocab);
  g_assert_true (store_test_prompt (ctx, sampler, prompt, &error));
  g_assert_true (store_test_generate (ctx, sampler, n, out, &error));
  return out;
}

static gint32
prompt_length (TernModel *model)
{
  g_autoptr (GArray) tokens = g_array_new (FALSE, FALSE, sizeof (TernToken));
  g_assert_true (tern_tokenizer_encode (tern_model_tokenizer (model), STORE_TEST_PROMPT, -1, TERN_TOKENIZE_ADD_SPECIAL,
                                        tokens, NULL));
  return (gint32) tokens->len;
}

static char *
helper (const char *const *args)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_autofree char *out = NULL, *err = NULL;
  g_autoptr (GError) error = NULL;
  int status;

  g_ptr_array_add (argv, (gpointer) g_getenv ("STORE_HELPER"));
  for (guint i = 0; args[i]; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);
  g_assert_true (g_spawn_sync (NULL, (char **) argv->pdata, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, &err, &status,
                               &error));
  g_assert_no_error (error);
  if (!g_spawn_check_wait_status (status, NULL))
    g_error ("store-helper failed: %s", err);
  return g_steal_pointer (&out);
}

static char *
tokens_line (const TernToken *tokens, gint32 n)
{
  GString *s = g_string_new (NULL);
  for (gint32 i = 0; i < n; i++)
    g_string_append_printf (s, i ? " %d" : "%d", tokens[i]);
  return g_string_free (s, FALSE);
}

/* Generate N tokens, snapshot, exit; a new process restores and makes M
 * more: they are the N + M tokens of one uninterrupted run. */
static void
test_round_trip (void)
{
  g_autofree char *model_path = store_test_model_path (MODEL);
  TernModelIdentity identity;
  g_autoptr (TernModel) model = load (model_path, &identity);
  gint32 full = N_CTX - prompt_length (model);
  const gint32 lengths[] = { 0, 1, 17, full - 1, full };
  const gint32 m = 24; /* past a full context: a shift on the way */
  g_autofree char *ctx_arg = g_strdup_printf ("%d", N_CTX);
  g_autofree char *m_arg = g_strdup_printf ("%d", m);

  for (int greedy = 0; greedy < 2; greedy++)
    for (guint i = 0; i < G_N_ELEMENTS (lengths); i++)
      {
        gint32 n = lengths[i];
        g_autofree TernToken *want = straight_run (model, greedy, n + m);
        g_autofree char *db = g_strdup_printf ("%s/round-trip-%d-%d.db", tmp_dir, greedy, n);
        g_autofree char *n_arg = g_strdup_printf ("%d", n);
        const char *save_args[] = { "save", db, model_path, ctx_arg, greedy ? "greedy" : "seeded", n_arg, NULL };
        g_autofree char *saved = helper (save_args);
        g_auto (GStrv) lines = g_strsplit (saved, "\n", -1);
        const char *resume_args[] = { "resume", db, model_path, ctx_arg, lines[0], m_arg, NULL };
        g_autofree char *resumed = helper (resume_args);
        g_autofree char *want_first = tokens_line (want, n);
        g_autofree char *rest = tokens_line (want + n, m);
        g_autofree char *want_rest = g_strconcat (rest, "\n", NULL);

        g_test_message ("%s, N = %d", greedy ? "greedy" : "seeded", n);
        g_assert_cmpstr (lines[1], ==, want_first);
        g_assert_cmpstr (resumed, ==, want_rest);
      }
}

static gboolean
append_bytes (const void *data, gsize len, gpointer user_data, GError **error)
{
  g_byte_array_append (user_data, data, len);
  return TRUE;
}

static GByteArray *
context_state (TernContext *ctx)
{
  GByteArray *state = g_byte_array_new ();
  g_assert_true (tern_context_save_state (ctx, append_bytes, state, NULL));
  return state;
}

/* Evaluates the transcript again in one batch (the CPU backend's batched
 * evaluation is bit-identical to the token-by-token one it was made
 * with); the sampler from the reply. */
static TernSampler *
reingest (TernStore *store, gint64 c, TernContext *ctx)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) messages = tern_store_conversation_messages (store, c, 0, &error);
  const TernMessage *r = messages->pdata[1];
  gint32 n_vocab = tern_model_hparams (tern_context_model (ctx))->n_vocab;
  g_autoptr (GArray) all = g_array_new (FALSE, FALSE, sizeof (TernToken));

  for (guint i = 0; i < messages->len; i++)
    {
      GArray *tokens = ((TernMessage *) messages->pdata[i])->tokens;
      g_array_append_vals (all, tokens->data, tokens->len);
    }
  g_assert_cmpint (tern_context_n_past (ctx), ==, 0);
  g_assert_true (tern_context_decode (ctx, (TernToken *) all->data, (gint32) all->len, FALSE, NULL, NULL, NULL, &error));
  TernSampler *sampler = tern_sampler_restore (g_bytes_get_data (r->sampler_state, NULL),
                                               g_bytes_get_size (r->sampler_state), n_vocab, &error);
  g_assert_no_error (error);
  return sampler;
}

static void
flip_byte (TernStore *store, gint64 snapshot, gint64 offset)
{
  sqlite3_stmt *stmt;
  sqlite3_blob *blob;
  guint8 b;

  /* Find the chunk that holds @offset. */
  g_assert_cmpint (sqlite3_prepare_v2 (store->db,
                                       "SELECT id, length (data) FROM snapshot_chunks WHERE snapshot_id = ?1 ORDER BY seq",
                                       -1, &stmt, NULL), ==, SQLITE_OK);
  sqlite3_bind_int64 (stmt, 1, snapshot);
  while (sqlite3_step (stmt) == SQLITE_ROW)
    {
      gint64 len = sqlite3_column_int64 (stmt, 1);
      if (offset < len)
        {
          g_assert_cmpint (sqlite3_blob_open (store->db, "main", "snapshot_chunks", "data",
                                              sqlite3_column_int64 (stmt, 0), 1, &blob), ==, SQLITE_OK);
          g_assert_cmpint (sqlite3_blob_read (blob, &b, 1, (int) offset), ==, SQLITE_OK);
          b ^= 0x5a;
          g_assert_cmpint (sqlite3_blob_write (blob, &b, 1, (int) offset), ==, SQLITE_OK);
          sqlite3_blob_close (blob);
          break;
        }
      offset -= len;
    }
  sqlite3_finalize (stmt);
}

static void
test_mismatch (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *path = store_test_model_path (MODEL);
  TernModelIdentity identity;
  g_autoptr (TernModel) model = load (path, &identity);
  g_autoptr (TernContext) ctx = new_context (model, N_CTX);
  g_autofree char *db = g_build_filename (tmp_dir, "mismatch.db", NULL);
  g_autoptr (TernStore) store = tern_store_open (db, &error);
  TernSamplerParams params;
  g_autoptr (GArray) prompt = g_array_new (FALSE, FALSE, sizeof (TernToken));
  TernToken out[20], want[20], got[20];

  /* A conversation of the prompt and a 20-token reply, seeded sampling. */
  store_test_sampling (&params, FALSE);
  g_autoptr (TernSampler) sampler = tern_sampler_new (&params, tern_model_hparams (model)->n_vocab);
  g_assert_true (store_test_prompt (ctx, sampler, prompt, &error));
  g_assert_true (store_test_generate (ctx, sampler, 20, out, &error));
  g_autoptr (GByteArray) sampler_bytes = g_byte_array_new ();
  tern_sampler_save (sampler, sampler_bytes);
  g_autoptr (GBytes) sampler_state = g_bytes_new (sampler_bytes->data, sampler_bytes->len);
  gint64 c = tern_store_conversation_new (store, "mismatch", 0, NULL, &params, &error);
  gint64 q = tern_store_message_add (store, c, TERN_STORE_HEAD, TERN_ROLE_USER, STORE_TEST_PROMPT,
                                     (TernToken *) prompt->data, (gint32) prompt->len, NULL, &error);
  gint64 r = tern_store_message_add (store, c, q, TERN_ROLE_ASSISTANT, "reply", out, 20, sampler_state, &error);
  gint64 snap = tern_snapshot_save_to_store (store, c, r, ctx, sampler, &identity, &error);
  g_assert_no_error (error);
  g_assert_cmpint (snap, >, 0);
  g_autoptr (GByteArray) want_state = context_state (ctx);
  g_autoptr (TernSampler) copy = tern_sampler_restore (sampler_bytes->data, sampler_bytes->len,
                                                       tern_model_hparams (model)->n_vocab, &error);
  g_assert_true (store_test_generate (ctx, copy, 20, want, &error));

  /* Another model file: other weights, or the same bytes copied (a new
   * modification time). */
  g_autofree char *other_path = store_test_model_path ("kjv-tiny-q8_0");
  g_autofree char *copy_path = g_build_filename (tmp_dir, "copy.gguf", NULL);
  g_autofree char *contents = NULL;
  gsize len;
  g_assert_true (g_file_get_contents (path, &contents, &len, NULL));
  g_assert_true (g_file_set_contents (copy_path, contents, len, NULL));
  const char *others[] = { other_path, copy_path };
  for (guint i = 0; i < G_N_ELEMENTS (others); i++)
    {
      TernModelIdentity other_id;
      g_autoptr (TernModel) other = load (others[i], &other_id);
      g_autoptr (TernContext) other_ctx = new_context (other, N_CTX);
      g_assert_null (tern_snapshot_restore_from_store (store, snap, other_ctx, &other_id, &error));
      g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_MISMATCH);
      g_clear_error (&error);
      g_assert_cmpint (tern_context_n_past (other_ctx), ==, 0);
    }

  /* Another context size. */
  g_autoptr (TernContext) big = new_context (model, 2 * N_CTX);
  g_assert_null (tern_snapshot_restore_from_store (store, snap, big, &identity, &error));
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_MISMATCH);
  g_clear_error (&error);

  /* A byte flipped anywhere: refused, and the transcript evaluated again
   * gives exactly the saved state and the same tokens after it. */
  g_autoptr (GPtrArray) entries = tern_store_snapshot_list (store, c, &error);
  gint64 size = ((TernSnapshotEntry *) entries->pdata[0])->size;
  g_test_message ("snapshot of %d tokens: %" G_GINT64_FORMAT " bytes", tern_context_n_past (ctx) - 20, size);
  for (gint64 k = 0; k < 48; k++)
    {
      gint64 offset = k < 40 ? k * size / 40 : size - 1 - (k - 40) * 7;
      g_autoptr (TernContext) fresh = new_context (model, N_CTX);
      flip_byte (store, snap, offset);
      g_assert_null (tern_snapshot_restore_from_store (store, snap, fresh, &identity, &error));
      g_assert_nonnull (error);
      g_assert_true (g_error_matches (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_FORMAT) ||
                     g_error_matches (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_MISMATCH));
      g_clear_error (&error);
      g_assert_cmpint (tern_context_n_past (fresh), ==, 0);
      flip_byte (store, snap, offset);

      if (k % 16 == 0)
        {
          g_autoptr (TernSampler) s = reingest (store, c, fresh);
          g_autoptr (GByteArray) state = context_state (fresh);
          g_assert_cmpmem (state->data, state->len, want_state->data, want_state->len);
          g_assert_true (store_test_generate (fresh, s, 20, got, &error));
          g_assert_cmpmem (got, sizeof got, want, sizeof want);
        }
    }

  /* Unharmed, it restores to the same state. */
  g_autoptr (TernContext) fresh = new_context (model, N_CTX);
  g_autoptr (TernSampler) s = tern_snapshot_restore_from_store (store, snap, fresh, &identity, &error);
  g_assert_no_error (error);
  g_autoptr (GByteArray) state = context_state (fresh);
  g_assert_cmpmem (state->data, state->len, want_state->data, want_state->len);
  g_assert_true (store_test_generate (fresh, s, 20, got, &error));
  g_assert_cmpmem (got, sizeof got, want, sizeof want);

  /* Cut short or made longer: refused. */
  g_assert_cmpint (sqlite3_exec (store->db, "UPDATE snapshots SET size = size - 1", NULL, NULL, NULL), ==, SQLITE_OK);
  g_assert_null (tern_snapshot_restore_from_store (store, snap, fresh, &identity, &error));
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_FORMAT);
  g_clear_error (&error);
  g_assert_cmpint (sqlite3_exec (store->db, "UPDATE snapshots SET size = size + 2", NULL, NULL, NULL), ==, SQLITE_OK);
  g_assert_null (tern_snapshot_restore_from_store (store, snap, fresh, &identity, &error));
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_FORMAT);
  g_clear_error (&error);
  g_assert_cmpint (sqlite3_exec (store->db, "DELETE FROM snapshot_chunks WHERE seq = 0", NULL, NULL, NULL), ==,
                   SQLITE_OK);
  g_assert_null (tern_snapshot_restore_from_store (store, snap, fresh, &identity, &error));
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_FORMAT);
}

static int
pragma_count_chunks (TernStore *store)
{
  sqlite3_stmt *stmt;
  g_assert_cmpint (sqlite3_prepare_v2 (store->db, "SELECT count(*) FROM snapshot_chunks", -1, &stmt, NULL), ==,
                   SQLITE_OK);
  g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
  int n = sqlite3_column_int (stmt, 0);
  sqlite3_finalize (stmt);
  return n;
}

static void
test_branches_and_limit (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *path = store_test_model_path (MODEL);
  TernModelIdentity identity;
  g_autoptr (TernModel) model = load (path, &identity);
  g_autoptr (TernContext) ctx = new_context (model, N_CTX);
  g_autofree char *db = g_build_filename (tmp_dir, "branches.db", NULL);
  g_autoptr (TernStore) store = tern_store_open (db, &error);
  TernSamplerParams params;
  g_autoptr (GArray) prompt = g_array_new (FALSE, FALSE, sizeof (TernToken));

  store_test_sampling (&params, TRUE);
  g_autoptr (TernSampler) sampler = tern_sampler_new (&params, tern_model_hparams (model)->n_vocab);
  g_assert_true (store_test_prompt (ctx, sampler, prompt, &error));

  gint64 c = tern_store_conversation_new (store, "branches", 0, NULL, NULL, &error);
  gint64 s0 = tern_snapshot_save_to_store (store, c, 0, ctx, sampler, &identity, &error);
  gint64 m1 = tern_store_message_add (store, c, TERN_STORE_HEAD, TERN_ROLE_USER, "one", NULL, 0, NULL, &error);
  gint64 m2 = tern_store_message_add (store, c, m1, TERN_ROLE_ASSISTANT, "two", NULL, 0, NULL, &error);
  gint64 m2b = tern_store_message_add (store, c, m1, TERN_ROLE_ASSISTANT, "two again", NULL, 0, NULL, &error);
  gint64 s1 = tern_snapshot_save_to_store (store, c, m1, ctx, sampler, &identity, &error);
  g_assert_no_error (error);
  /* The later snapshot of the branch replaced the one before any message. */
  g_assert_cmpint (tern_store_snapshot_find (store, c, 0, &error), ==, 0);
  g_assert_cmpint (tern_store_snapshot_find (store, c, m1, &error), ==, s1);
  gint64 s2 = tern_snapshot_save_to_store (store, c, m2, ctx, sampler, &identity, &error);
  gint64 s2b = tern_snapshot_save_to_store (store, c, m2b, ctx, sampler, &identity, &error);
  /* Both branches keep their latest; their common ancestor's went. */
  g_assert_cmpint (tern_store_snapshot_find (store, c, m1, &error), ==, 0);
  g_assert_cmpint (tern_store_snapshot_find (store, c, m2, &error), ==, s2);
  g_assert_cmpint (tern_store_snapshot_find (store, c, m2b, &error), ==, s2b);
  g_assert_cmpint (s0, >, 0);
  /* Saving at the same message again replaces it. */
  gint64 s2c = tern_snapshot_save_to_store (store, c, m2, ctx, sampler, &identity, &error);
  g_assert_cmpint (tern_store_snapshot_find (store, c, m2, &error), ==, s2c);
  g_autoptr (GPtrArray) all = tern_store_snapshot_list (store, 0, &error);
  g_assert_cmpuint (all->len, ==, 2);
  gint64 one = ((TernSnapshotEntry *) all->pdata[0])->size;

  /* The limit: least recently used go first; a restore counts as a use. */
  gint64 c2 = tern_store_conversation_new (store, "other", 0, NULL, NULL, &error);
  gint64 s3 = tern_snapshot_save_to_store (store, c2, 0, ctx, sampler, &identity, &error);
  g_autoptr (TernContext) scratch = new_context (model, N_CTX);
  g_autoptr (TernSampler) restored = tern_snapshot_restore_from_store (store, s2b, scratch, &identity, &error);
  g_assert_no_error (error);
  g_assert_true (tern_store_set_snapshot_limit (store, 2 * one + one / 2, &error));
  g_assert_cmpint (tern_store_get_snapshot_limit (store), ==, 2 * one + one / 2);
  g_assert_cmpint (tern_store_snapshot_find (store, c, m2, &error), ==, 0);
  g_assert_cmpint (tern_store_snapshot_find (store, c, m2b, &error), ==, s2b);
  g_assert_cmpint (tern_store_snapshot_find (store, c2, 0, &error), ==, s3);
  g_assert_cmpint (tern_store_snapshot_total_size (store, &error), <=, 2 * one + one / 2);
  /* A snapshot larger than the limit alone is not kept. */
  g_assert_true (tern_store_set_snapshot_limit (store, one / 2, &error));
  g_assert_cmpint (tern_store_snapshot_total_size (store, &error), ==, 0);
  g_assert_cmpint (tern_snapshot_save_to_store (store, c, m2, ctx, sampler, &identity, &error), ==, 0);
  g_assert_no_error (error);
  g_assert_cmpint (pragma_count_chunks (store), ==, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  tmp_dir = g_dir_make_tmp ("tern-snapshot-XXXXXX", NULL);
  g_test_add_func ("/store/snapshot/round-trip", test_round_trip);
  g_test_add_func ("/store/snapshot/mismatch", test_mismatch);
  g_test_add_func ("/store/snapshot/branches-and-limit", test_branches_and_limit);
  int status = g_test_run ();
  test_remove_tree (tmp_dir);
  g_free (tmp_dir);
  return status;
}
