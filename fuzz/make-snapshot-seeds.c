/* SPDX-License-Identifier: GPL-3.0-or-later */
/* make-snapshot-seeds FOLDER: writes the seed corpus of fuzz-snapshot,
 * real snapshots of the fixture model made by this build (so that they
 * carry its engine version), into FOLDER. Three states of a context: empty,
 * after a prompt, and full after a reply with a sampler whose penalty
 * window is in use; each as a stored snapshot (one chunk, and three
 * chunks for the full one) and as the two bare states (fuzz-snapshot.h). */
#include "fuzz-fixtures.h"
#include "fuzz-snapshot.h"

#include <tern/snapshot.h>

static gboolean
append (const void *data, gsize len, gpointer user_data, GError **error)
{
  g_byte_array_append (user_data, data, (guint) len);
  return TRUE;
}

static void
write_seed (const char *folder, const char *name, GByteArray *bytes)
{
  g_autofree char *path = g_build_filename (folder, name, NULL);
  g_autoptr (GError) error = NULL;

  if (!g_file_set_contents (path, (const char *) bytes->data, bytes->len, &error))
    g_error ("%s", error->message);
}

/* The seeds of the state @ctx and @sampler are in now. */
static void
write_seeds (const char *folder, const char *name, const TernContext *ctx, const TernSampler *sampler,
             gboolean chunked)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GByteArray) stored = g_byte_array_new ();
  g_autoptr (GByteArray) states = g_byte_array_new ();
  g_autoptr (GByteArray) sampler_state = g_byte_array_new ();
  TernModelIdentity identity;
  guint64 size;
  guint8 mode = 0;

  fuzz_snapshot_identity (&identity);
  g_byte_array_append (stored, &mode, 1);
  if (!tern_snapshot_save (ctx, sampler, &identity, append, stored, &size, &error))
    g_error ("%s", error->message);
  g_autofree char *stored_name = g_strconcat ("stored-", name, NULL);
  write_seed (folder, stored_name, stored);
  if (chunked)
    {
      /* Three chunks: FUZZ_SNAPSHOT_CHUNKS (2 << 1). */
      stored->data[0] = 2 << 1;
      g_autofree char *chunked_name = g_strconcat ("stored-", name, "-chunks", NULL);
      write_seed (folder, chunked_name, stored);
    }

  /* The sampler state without its hash, which the target adds. */
  tern_sampler_save (sampler, sampler_state);
  guint32 n = sampler_state->len - 8;
  mode = FUZZ_SNAPSHOT_STATES;
  g_byte_array_append (states, &mode, 1);
  g_byte_array_append (states, (const guint8 *) &n, 4);
  g_byte_array_append (states, sampler_state->data, n);
  if (!tern_context_save_state (ctx, append, states, &error))
    g_error ("%s", error->message);
  g_autofree char *states_name = g_strconcat ("states-", name, NULL);
  write_seed (folder, states_name, states);
}

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GArray) tokens = g_array_new (FALSE, FALSE, sizeof (TernToken));
  TernSamplerParams params;

  if (argc != 2)
    g_error ("usage: make-snapshot-seeds FOLDER");
  if (g_mkdir_with_parents (argv[1], 0755) != 0)
    g_error ("cannot make %s", argv[1]);
  g_autoptr (TernContext) ctx = fuzz_fixture_context (FUZZ_SNAPSHOT_N_CTX);
  const TernTokenizer *tok = tern_model_tokenizer (tern_context_model (ctx));

  tern_sampler_params_init (&params);
  params.seed = 42;
  g_autoptr (TernSampler) fresh = tern_sampler_new (&params, tern_tokenizer_n_vocab (tok));
  write_seeds (argv[1], "empty", ctx, fresh, FALSE);

  params.temperature = 0;
  g_autoptr (TernSampler) greedy = tern_sampler_new (&params, tern_tokenizer_n_vocab (tok));
  if (!tern_tokenizer_encode (tok, "In the beginning God created", -1, TERN_TOKENIZE_ADD_SPECIAL, tokens, &error) ||
      !tern_context_decode (ctx, (TernToken *) tokens->data, (gint32) tokens->len, FALSE, NULL, NULL, NULL, &error))
    g_error ("%s", error->message);
  for (guint i = 0; i < tokens->len; i++)
    tern_sampler_accept (greedy, g_array_index (tokens, TernToken, i));
  write_seeds (argv[1], "prompt", ctx, greedy, FALSE);

  params.temperature = 0.8f;
  params.repeat_penalty = 1.1f;
  params.repeat_last_n = 16;
  g_autoptr (TernSampler) reply = tern_sampler_new (&params, tern_tokenizer_n_vocab (tok));
  while (tern_context_n_past (ctx) < tern_context_n_ctx (ctx))
    {
      TernToken t = tern_sampler_sample (reply, tern_context_last_logits (ctx));
      tern_sampler_accept (reply, t);
      if (!tern_context_decode (ctx, &t, 1, FALSE, NULL, NULL, NULL, &error))
        g_error ("%s", error->message);
    }
  write_seeds (argv[1], "full", ctx, reply, TRUE);
  return 0;
}
