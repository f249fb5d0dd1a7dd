/* SPDX-License-Identifier: GPL-3.0-or-later */
/* A context comes out of every failure of its backend cleanly: each
 * allocation failing in turn (NOMEM, nothing leaked: ASan's leak check
 * runs over this test), and the device lost at each pass and each read
 * (DEVICE, for good); and out of a stop at each operation of a pass. The
 * failures and stops come from the faulty device
 * (tests/tools/faulty-backend.h), the CPU backend failing on demand; the
 * choice of the backend by name is tested with it too. */
#include <string.h>
#include <tern/backend.h>
#include <tern/context.h>
#include <tern/error.h>

#include "faulty-backend.h"

#define N_TOKENS 20
#define N_BATCH 8 /* three passes for N_TOKENS */

static TernModel *
load_model (void)
{
  g_autofree char *path = g_test_build_filename (G_TEST_DIST, "data", "models", "kjv-tiny-q8_0.gguf", NULL);
  g_autoptr (GError) error = NULL;
  TernModel *model = tern_model_load (path, NULL, NULL, NULL, &error);

  g_assert_no_error (error);
  return model;
}

static TernContext *
new_context (TernModel *model, const char *backend, GError **error)
{
  TernContextParams params;

  tern_context_params_init (&params);
  params.n_ctx = 64;
  params.n_batch = N_BATCH;
  params.n_threads = 2;
  params.backend = backend;
  return tern_context_new (model, &params, error);
}

static void
tokens_init (TernToken *tokens)
{
  for (gint32 i = 0; i < N_TOKENS; i++)
    tokens[i] = 1 + i * 37 % 1000;
}

static gboolean
discard (const void *data, gsize len, gpointer user_data, GError **error)
{
  return TRUE;
}

static gboolean
append (const void *data, gsize len, gpointer user_data, GError **error)
{
  g_byte_array_append (user_data, data, len);
  return TRUE;
}

/* A state read back from memory. */
typedef struct {
  GByteArray *bytes;
  gsize offset;
} Reader;

static gboolean
take (void *data, gsize len, gpointer user_data, GError **error)
{
  Reader *r = user_data;

  g_assert_cmpuint (r->offset + len, <=, r->bytes->len);
  memcpy (data, r->bytes->data + r->offset, len);
  r->offset += len;
  return TRUE;
}

/* The device is lost: decoding and saving fail with DEVICE from now on. */
static void
assert_lost (TernContext *ctx)
{
  TernToken token = 5;
  g_autoptr (GError) error = NULL;

  g_assert_false (tern_context_decode (ctx, &token, 1, FALSE, NULL, NULL, NULL, &error));
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_DEVICE);
  g_clear_error (&error);
  if (tern_context_n_past (ctx) > 0)
    {
      g_assert_false (tern_context_save_state (ctx, discard, NULL, &error));
      g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_DEVICE);
    }
}

/* The backend is chosen by name: an unknown one is INVALID, naming those
 * there are. */
static void
test_backend_by_name (void)
{
  g_autoptr (TernModel) model = load_model ();
  g_autoptr (GError) error = NULL;

  g_assert_null (new_context (model, "nosuch", &error));
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "'nosuch'"));
  g_assert_nonnull (strstr (error->message, "are: cpu, "));
  g_assert_nonnull (strstr (error->message, ", faulty"));
  g_clear_error (&error);

  g_autoptr (TernContext) cpu = new_context (model, "cpu", &error);
  g_assert_no_error (error);
  g_assert_true (g_str_has_prefix (tern_context_backend_name (cpu), "cpu ("));
}

/* Each allocation failing in turn: NOMEM, until there are none left to
 * fail; then the context computes what one on the CPU does. */
static void
test_nomem (void)
{
  g_autoptr (TernModel) model = load_model ();
  TernToken tokens[N_TOKENS];
  gint n_failed = 0;

  tokens_init (tokens);
  for (gint n = 0;; n++)
    {
      g_autoptr (GError) error = NULL;
      faulty_backend_plan (n, -1, -1);
      g_autoptr (TernContext) ctx = new_context (model, "faulty", &error);
      if (ctx == NULL)
        {
          g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_NOMEM);
          n_failed++;
          continue;
        }
      g_assert_no_error (error);
      g_assert_cmpint (n, >=, faulty_backend_n_allocs ());

      g_autoptr (TernContext) cpu = new_context (model, NULL, &error);
      g_assert_true (tern_context_decode (ctx, tokens, N_TOKENS, FALSE, NULL, NULL, NULL, &error));
      g_assert_true (tern_context_decode (cpu, tokens, N_TOKENS, FALSE, NULL, NULL, NULL, &error));
      g_assert_no_error (error);
      g_assert_cmpmem (tern_context_last_logits (ctx), sizeof (float) * tern_model_hparams (model)->n_vocab,
                       tern_context_last_logits (cpu), sizeof (float) * tern_model_hparams (model)->n_vocab);
      break;
    }
  /* The backend, then its buffers: ten for a pass, logits among them. */
  g_assert_cmpint (n_failed, ==, 11);
  faulty_backend_plan (-1, -1, -1);
}

/* The device lost at each pass of a decode: DEVICE, for good. */
static void
test_device_lost_in_pass (void)
{
  g_autoptr (TernModel) model = load_model ();
  TernToken tokens[N_TOKENS];

  tokens_init (tokens);
  for (gint pass = 0; pass <= 3; pass++)
    {
      g_autoptr (GError) error = NULL;
      faulty_backend_plan (-1, pass, -1);
      g_autoptr (TernContext) ctx = new_context (model, "faulty", &error);
      g_assert_no_error (error);
      if (pass == 3)
        {
          g_assert_true (tern_context_decode (ctx, tokens, N_TOKENS, FALSE, NULL, NULL, NULL, &error));
          g_assert_no_error (error);
          break;
        }
      g_assert_false (tern_context_decode (ctx, tokens, N_TOKENS, FALSE, NULL, NULL, NULL, &error));
      g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_DEVICE);
      assert_lost (ctx);
    }
  faulty_backend_plan (-1, -1, -1);
}

/* The device lost while the host reads: the logits (decode), the cache
 * (save), or while it writes the cache (load, which leaves the context
 * empty). */
static void
test_device_lost_in_io (void)
{
  g_autoptr (TernModel) model = load_model ();
  gint32 n_layer = tern_model_hparams (model)->n_layer;
  TernToken tokens[N_TOKENS];
  g_autoptr (GByteArray) state = g_byte_array_new ();
  g_autoptr (GError) error = NULL;

  tokens_init (tokens);
  /* Read 0: the logits; then one kv_save a layer. */
  for (gint io = 0; io <= n_layer + 1; io++)
    {
      faulty_backend_plan (-1, -1, io);
      g_autoptr (TernContext) ctx = new_context (model, "faulty", &error);
      g_assert_no_error (error);
      gboolean decoded = tern_context_decode (ctx, tokens, N_TOKENS, FALSE, NULL, NULL, NULL, &error);
      g_assert_cmpint (decoded, ==, io > 0);
      if (decoded)
        {
          g_byte_array_set_size (state, 0);
          if (tern_context_save_state (ctx, append, state, &error))
            {
              g_assert_cmpint (io, ==, n_layer + 1);
              break;
            }
        }
      g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_DEVICE);
      g_clear_error (&error);
      assert_lost (ctx);
    }
  g_assert_no_error (error);

  /* The first kv_load fails. */
  faulty_backend_plan (-1, -1, 0);
  g_autoptr (TernContext) ctx = new_context (model, "faulty", &error);
  Reader reader = { state, 0 };
  g_assert_false (tern_context_load_state (ctx, take, &reader, &error));
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_DEVICE);
  g_assert_cmpint (tern_context_n_past (ctx), ==, 0);
  faulty_backend_plan (-1, -1, -1);
}

/* The device lost while a context shift moves the cache: the next decode
 * says so. */
static void
test_device_lost_in_shift (void)
{
  g_autoptr (TernModel) model = load_model ();
  TernToken tokens[N_TOKENS];
  g_autoptr (GError) error = NULL;

  tokens_init (tokens);
  faulty_backend_plan (-1, 3, -1);
  g_autoptr (TernContext) ctx = new_context (model, "faulty", &error);
  g_assert_true (tern_context_decode (ctx, tokens, N_TOKENS, FALSE, NULL, NULL, NULL, &error));
  g_assert_cmpint (tern_context_shift (ctx, 1), ==, 9);
  assert_lost (ctx);
  faulty_backend_plan (-1, -1, -1);
}

/* Operations of a layer (llama, no biases), and of the logits after the
 * last one. */
#define LAYER_OPS 16
#define OUTPUT_OPS 3

/* Operations a pass records from its operation @at on when stopped there:
 * the rest of the embedding or of the layer, and the output's after the
 * last layer of the last pass. */
static gint
ops_to_layer_end (gint at, gint32 n_layer, gboolean last_pass)
{
  gint layers_end = 1 + n_layer * LAYER_OPS;
  gint end = at == 0 ? 1 : MIN (1 + ((at - 1) / LAYER_OPS + 1) * LAYER_OPS, layers_end);

  if (end == layers_end && last_pass)
    end += OUTPUT_OPS;
  return end - at;
}

/* A stop at each operation of a decode's passes: CANCELLED once the rest of
 * its layer is recorded at most (the output's operations too after the
 * last layer), the next layers are not; the passes before it stay in the
 * context, the one stopped does not; and decoding the rest then gives the
 * logits of a decode never stopped, bit for bit. */
static void
test_stopped_in_pass (void)
{
  g_autoptr (TernModel) model = load_model ();
  gint32 n_vocab = tern_model_hparams (model)->n_vocab, n_layer = tern_model_hparams (model)->n_layer;
  gint32 pass_ops = 1 + n_layer * LAYER_OPS;
  TernToken tokens[N_TOKENS];
  g_autoptr (GError) error = NULL;

  tokens_init (tokens);
  g_autoptr (TernContext) whole = new_context (model, "faulty", &error);
  g_assert_true (tern_context_decode (whole, tokens, N_TOKENS, FALSE, NULL, NULL, NULL, &error));
  g_assert_no_error (error);
  gint n_ops = faulty_backend_n_ops ();
  gint n_passes = (N_TOKENS + N_BATCH - 1) / N_BATCH;
  g_assert_cmpint (n_ops, ==, n_passes * pass_ops + OUTPUT_OPS);

  for (gint op = 0; op < n_ops; op++)
    {
      g_autoptr (GCancellable) stop = g_cancellable_new ();
      faulty_backend_plan_stop (op, TRUE);
      g_autoptr (TernContext) ctx = new_context (model, "faulty", &error);
      g_assert_no_error (error);
      g_assert_false (tern_context_decode (ctx, tokens, N_TOKENS, FALSE, NULL, NULL, stop, &error));
      g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_CANCELLED);
      g_clear_error (&error);

      gint pass = MIN (op / pass_ops, n_passes - 1);
      g_assert_cmpint (faulty_backend_n_ops_stopped (), ==, ops_to_layer_end (op - pass * pass_ops, n_layer,
                                                                               pass == n_passes - 1));
      g_assert_cmpint (tern_context_n_past (ctx), ==, pass * N_BATCH);

      gint32 n_past = tern_context_n_past (ctx);
      g_assert_true (tern_context_decode (ctx, tokens + n_past, N_TOKENS - n_past, FALSE, NULL, NULL, NULL, &error));
      g_assert_no_error (error);
      g_assert_cmpmem (tern_context_last_logits (ctx), sizeof (float) * n_vocab, tern_context_last_logits (whole),
                       sizeof (float) * n_vocab);
    }
  faulty_backend_plan_stop (-1, FALSE);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  faulty_backend_register ();
  g_test_add_func ("/engine/context/backend-by-name", test_backend_by_name);
  g_test_add_func ("/engine/context/faults/nomem", test_nomem);
  g_test_add_func ("/engine/context/faults/device-lost-in-pass", test_device_lost_in_pass);
  g_test_add_func ("/engine/context/faults/device-lost-in-io", test_device_lost_in_io);
  g_test_add_func ("/engine/context/faults/device-lost-in-shift", test_device_lost_in_shift);
  g_test_add_func ("/engine/context/faults/stopped-in-pass", test_stopped_in_pass);
  return g_test_run ();
}
