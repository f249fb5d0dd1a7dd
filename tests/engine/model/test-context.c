/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <tern/context.h>
#include <tern/error.h>

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <stdio.h>

#include "kernel-levels.h"
#include "model-variant.h"
#include "test-data.h"

/* How far logits are from a reference, or may be: the measures that
 * tests/tools/measure-numerics.py records in tern-measured.json. */
typedef struct {
  double max_abs_diff;
  double rms_diff;
  double mean_kl;
} LogitDiff;

/* Reference data of one fixture model: llama.cpp's tokens and logits. */
typedef struct {
  char *name;
  JsonParser *parser;
  JsonObject *ref;
  TernToken *prompt;
  gint32 n_prompt;
  float *logits;          /* [n_prompt][n_vocab] */
  double max_abs_diff;
  double min_top1;
  gint32 greedy_check;
  LogitDiff tern;         /* Tern's own tolerance, far tighter */
  double greedy_min_margin;
} Reference;

/* A test of a model at one kernel level. */
typedef struct {
  char *name;
  TernKernelLevel level;
} LevelTest;

static void
level_test_free (gpointer data)
{
  LevelTest *t = data;
  g_free (t->name);
  g_free (t);
}

static char *
data_path (const char *dir, const char *file)
{
  return g_test_build_filename (G_TEST_DIST, "data", dir, file, NULL);
}

static TernToken *
int_array (JsonObject *o, const char *member, gint32 *n)
{
  JsonArray *a = json_object_get_array_member (o, member);
  TernToken *ids = g_new (TernToken, json_array_get_length (a));
  *n = json_array_get_length (a);
  for (gint32 i = 0; i < *n; i++)
    ids[i] = (TernToken) json_array_get_int_element (a, i);
  return ids;
}

static JsonParser *
load_json (const char *dir, const char *file)
{
  g_autofree char *path = data_path (dir, file);
  g_autoptr (GError) error = NULL;
  JsonParser *parser = json_parser_new ();
  g_assert_true (json_parser_load_from_file (parser, path, &error));
  return parser;
}

static LogitDiff
tolerance_get (JsonObject *o)
{
  JsonObject *tol = json_object_get_object_member (o, "tolerance");
  return (LogitDiff) { json_object_get_double_member (tol, "max_abs_logit_diff"),
                       json_object_get_double_member (tol, "rms_logit_diff"),
                       json_object_get_double_member (tol, "mean_kl") };
}

static void
reference_load (Reference *r, const char *name)
{
  g_autofree char *file = g_strconcat (name, ".json", NULL);
  g_autofree char *path = data_path ("reference", file);
  g_autofree char *lfile = g_strconcat (name, ".logits.f32", NULL);
  g_autofree char *lpath = data_path ("reference", lfile);
  g_autoptr (GError) error = NULL;
  gsize len;

  r->name = g_strdup (name);
  r->parser = json_parser_new ();
  g_assert_true (json_parser_load_from_file (r->parser, path, &error));
  r->ref = json_node_get_object (json_parser_get_root (r->parser));
  r->prompt = int_array (r->ref, "prompt_tokens", &r->n_prompt);
  g_assert_true (g_file_get_contents (lpath, (char **) &r->logits, &len, &error));
  JsonObject *tol = json_object_get_object_member (r->ref, "tolerance");
  r->max_abs_diff = json_object_get_double_member (tol, "max_abs_logit_diff");
  r->min_top1 = json_object_get_double_member (tol, "min_top1_agreement");
  r->greedy_check = (gint32) json_object_get_int_member (r->ref, "greedy_check_tokens");

  g_autoptr (JsonParser) measured = load_json ("reference", "tern-measured.json");
  JsonObject *models = json_object_get_object_member (json_node_get_object (json_parser_get_root (measured)),
                                                      "models");
  JsonObject *m = json_object_get_object_member (models, name);
  r->tern = tolerance_get (m);
  r->greedy_min_margin = json_object_get_double_member (m, "greedy_min_margin");
}

static void
reference_clear (Reference *r)
{
  g_free (r->name);
  g_object_unref (r->parser);
  g_free (r->prompt);
  g_free (r->logits);
}

static TernModel *
load_model (const char *name)
{
  g_autofree char *file = g_strconcat (name, ".gguf", NULL);
  g_autofree char *path = data_path ("models", file);
  g_autoptr (GError) error = NULL;
  TernModel *model = tern_model_load (path, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  return model;
}

static TernContext *
new_context_at (TernModel *model, gint32 n_batch, guint n_threads, TernKernelLevel level)
{
  TernContextParams params;
  g_autoptr (GError) error = NULL;

  tern_context_params_init (&params);
  params.n_batch = n_batch;
  params.n_threads = n_threads;
  params.kernel = level;
  TernContext *ctx = tern_context_new (model, &params, &error);
  g_assert_no_error (error);
  return ctx;
}

static TernContext *
new_context (TernModel *model, gint32 n_batch, guint n_threads)
{
  return new_context_at (model, n_batch, n_threads, TERN_KERNEL_BEST);
}

static gint32
argmax (const float *x, gint32 n)
{
  gint32 best = 0;
  for (gint32 i = 1; i < n; i++)
    if (x[i] > x[best])
      best = i;
  return best;
}

/* The differences of logits @got from @want ([n_pos][n_vocab] each): the
 * largest, the root mean square, and the mean over positions of
 * KL(want || got), the measures tern-measured.json records. */
static LogitDiff
logit_diff (const float *got, const float *want, gint32 n_pos, gint32 n_vocab)
{
  LogitDiff d = { 0 };
  double sq = 0, kl = 0;

  for (gint32 i = 0; i < n_pos; i++)
    {
      const float *g = got + (gsize) i * n_vocab, *w = want + (gsize) i * n_vocab;
      double gmax = g[argmax (g, n_vocab)], wmax = w[argmax (w, n_vocab)], gsum = 0, wsum = 0;
      for (gint32 j = 0; j < n_vocab; j++)
        {
          double diff = (double) g[j] - w[j];
          /* A NaN would vanish in the maximum below. */
          g_assert_true (isfinite (g[j]));
          d.max_abs_diff = MAX (d.max_abs_diff, fabs (diff));
          sq += diff * diff;
          gsum += exp (g[j] - gmax);
          wsum += exp (w[j] - wmax);
        }
      /* log p = x - max - log sum */
      double glse = gmax + log (gsum), wlse = wmax + log (wsum);
      for (gint32 j = 0; j < n_vocab; j++)
        kl += exp (w[j] - wlse) * ((w[j] - wlse) - (g[j] - glse));
    }
  d.rms_diff = sqrt (sq / ((double) n_pos * n_vocab));
  d.mean_kl = kl / n_pos;
  return d;
}

static void
assert_within (const LogitDiff *d, const LogitDiff *tol)
{
  g_assert_cmpfloat (d->max_abs_diff, <=, tol->max_abs_diff);
  g_assert_cmpfloat (d->rms_diff, <=, tol->rms_diff);
  g_assert_cmpfloat (d->mean_kl, <=, tol->mean_kl);
}

/* Teacher-forced logits of a fixture model within Tern's measured
 * tolerance of llama.cpp's (and the fixture's own, looser one), and its
 * greedy choices along llama.cpp's greedy continuation wherever llama.cpp's
 * top-two margin is wide enough for them to be certain, at one kernel
 * level. */
static void
test_reference (gconstpointer data)
{
  const LevelTest *t = data;
  Reference r = { 0 };
  if (!kernel_level_runs (t->level))
    return;
  /* The scalar kernels take ten times as long as the SIMD ones. */
  if (t->level == TERN_KERNEL_SCALAR && tern_cpu_best_kernel () != TERN_KERNEL_SCALAR && !g_test_slow ())
    {
      g_test_skip ("the scalar level runs in slow mode (-m slow) where the CPU has SIMD kernels");
      return;
    }
  g_autoptr (TernModel) model = load_model (t->name);
  gint32 n_vocab = tern_model_hparams (model)->n_vocab;
  g_autoptr (TernContext) ctx = new_context_at (model, 512, 0, t->level);
  g_autoptr (GError) error = NULL;
  gint32 agree = 0;

  reference_load (&r, t->name);
  g_assert_true (tern_context_decode (ctx, r.prompt, r.n_prompt, TRUE, NULL, NULL, NULL, &error));
  g_assert_no_error (error);
  g_autofree float *got = g_new (float, (gsize) r.n_prompt * n_vocab);
  for (gint32 i = 0; i < r.n_prompt; i++)
    {
      memcpy (got + (gsize) i * n_vocab, tern_context_logits (ctx, i), sizeof (float) * n_vocab);
      agree += argmax (got + (gsize) i * n_vocab, n_vocab) == argmax (r.logits + (gsize) i * n_vocab, n_vocab);
    }
  LogitDiff d = logit_diff (got, r.logits, r.n_prompt, n_vocab);
  g_test_message ("%s (%s): max |logit diff| %.5f (tolerance %.4f, the fixture's %.3f), RMS %.5f (%.5f), "
                  "mean KL %.3g (%.3g), top-1 agreement %.3f", t->name, tern_kernel_level_name (t->level),
                  d.max_abs_diff, r.tern.max_abs_diff, r.max_abs_diff, d.rms_diff, r.tern.rms_diff, d.mean_kl,
                  r.tern.mean_kl, (double) agree / r.n_prompt);
  g_assert_cmpfloat (d.max_abs_diff, <=, r.max_abs_diff);
  g_assert_cmpfloat ((double) agree / r.n_prompt, >=, r.min_top1);
  assert_within (&d, &r.tern);

  /* llama.cpp's greedy continuation of prompt_greedy.txt, fed token by
   * token: its first greedy_check_tokens are Tern's own continuation; after
   * them, Tern's choice is checked where the margin allows. */
  g_autofree char *text = NULL;
  g_autofree char *text_path = data_path ("text", "prompt_greedy.txt");
  gint32 n_greedy, n_checked = 0;
  g_autofree TernToken *greedy = int_array (r.ref, "greedy_tokens", &n_greedy);
  JsonArray *margins = json_object_get_array_member (r.ref, "greedy_margins");
  g_autoptr (GArray) prompt = g_array_new (FALSE, FALSE, sizeof (TernToken));

  g_assert_true (g_file_get_contents (text_path, &text, NULL, NULL));
  g_assert_true (tern_tokenizer_encode (tern_model_tokenizer (model), text, -1, TERN_TOKENIZE_ADD_SPECIAL, prompt,
                                        &error));
  tern_context_truncate (ctx, 0);
  g_assert_true (tern_context_decode (ctx, (TernToken *) prompt->data, prompt->len, FALSE, NULL, NULL, NULL, &error));
  for (gint32 i = 0; i < n_greedy; i++)
    {
      if (i < r.greedy_check || json_array_get_double_element (margins, i) >= r.greedy_min_margin)
        {
          g_assert_cmpint (argmax (tern_context_last_logits (ctx), n_vocab), ==, greedy[i]);
          n_checked++;
        }
      g_assert_true (tern_context_decode (ctx, &greedy[i], 1, FALSE, NULL, NULL, NULL, &error));
    }
  g_test_message ("%s: %d of %d greedy steps checked", t->name, n_checked, n_greedy);
  reference_clear (&r);
}

/* A tiny model stored in each weight type (tests/tools/make-margin-model.py)
 * whose float64 reference has a wide top-two margin at every greedy step:
 * the greedy tokens must be the reference's exactly, and the logits within
 * Tern's measured tolerance, at every kernel level. The first head of its
 * first layer is an attention sink with scores past 88.7, where expf
 * overflows in float. */
static void
test_margin (gconstpointer data)
{
  const LevelTest *t = data;
  if (!kernel_level_runs (t->level))
    return;
  g_autofree char *file = g_strconcat ("margin-", t->name, ".gguf", NULL);
  g_autofree char *path = data_path ("margin", file);
  g_autofree char *lfile = g_strconcat ("margin-", t->name, ".logits.f32", NULL);
  g_autofree char *lpath = data_path ("margin", lfile);
  g_autoptr (JsonParser) parser = load_json ("margin", "margin.json");
  g_autoptr (JsonParser) measured = load_json ("margin", "tern-measured.json");
  JsonObject *root = json_node_get_object (json_parser_get_root (parser));
  JsonObject *ref = json_object_get_object_member (json_object_get_object_member (root, "types"), t->name);
  JsonObject *types = json_object_get_object_member (json_node_get_object (json_parser_get_root (measured)), "types");
  LogitDiff tol = tolerance_get (json_object_get_object_member (types, t->name));
  g_autoptr (GError) error = NULL;
  g_autofree float *want = NULL;
  gint32 n_prompt, n_greedy;
  gsize len;

  g_autoptr (TernModel) model = tern_model_load (path, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  gint32 n_vocab = tern_model_hparams (model)->n_vocab;
  g_autoptr (TernContext) ctx = new_context_at (model, 512, 0, t->level);
  g_autofree TernToken *prompt = int_array (root, "prompt", &n_prompt);
  g_autofree TernToken *greedy = int_array (ref, "greedy", &n_greedy);
  g_autofree TernToken *all = g_new (TernToken, n_prompt + n_greedy);

  g_assert_true (tern_context_decode (ctx, prompt, n_prompt, FALSE, NULL, NULL, NULL, &error));
  for (gint32 i = 0; i < n_greedy; i++)
    {
      TernToken next = argmax (tern_context_last_logits (ctx), n_vocab);
      g_assert_cmpint (next, ==, greedy[i]);
      g_assert_true (tern_context_decode (ctx, &next, 1, FALSE, NULL, NULL, NULL, &error));
    }

  memcpy (all, prompt, sizeof (TernToken) * n_prompt);
  memcpy (all + n_prompt, greedy, sizeof (TernToken) * n_greedy);
  tern_context_truncate (ctx, 0);
  g_assert_true (tern_context_decode (ctx, all, n_prompt + n_greedy, TRUE, NULL, NULL, NULL, &error));
  g_assert_true (g_file_get_contents (lpath, (char **) &want, &len, &error));
  g_assert_cmpuint (len, ==, sizeof (float) * (n_prompt + n_greedy) * n_vocab);
  g_autofree float *got = g_new (float, (gsize) (n_prompt + n_greedy) * n_vocab);
  for (gint32 i = 0; i < n_prompt + n_greedy; i++)
    memcpy (got + (gsize) i * n_vocab, tern_context_logits (ctx, i), sizeof (float) * n_vocab);
  LogitDiff d = logit_diff (got, want, n_prompt + n_greedy, n_vocab);
  g_test_message ("margin-%s (%s): %d greedy tokens; max |logit diff| %.5f (tolerance %.5f), RMS %.6f (%.6f), "
                  "mean KL %.3g (%.3g)", t->name, tern_kernel_level_name (t->level), n_greedy, d.max_abs_diff,
                  tol.max_abs_diff, d.rms_diff, tol.rms_diff, d.mean_kl, tol.mean_kl);
  assert_within (&d, &tol);
}

/* Architectures and options the llama fixtures lack (qwen2's NEOX RoPE and
 * biases; Llama 3's rope_freqs; tied output embeddings), against a float64
 * NumPy forward pass (tests/tools/make-variant-fixtures.py). */
static void
test_variant (gconstpointer data)
{
  const char *name = data;
  g_autofree char *file = g_strconcat (name, ".gguf", NULL);
  g_autofree char *path = data_path ("models-variant", file);
  g_autofree char *lfile = g_strconcat (name, ".logits.f32", NULL);
  g_autofree char *lpath = data_path ("models-variant", lfile);
  g_autofree char *tpath = data_path ("models-variant", "tokens.json");
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;
  g_autofree float *want = NULL;
  gsize len;

  g_autoptr (TernModel) model = tern_model_load (path, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  const TernHParams *hp = tern_model_hparams (model);
  g_assert_true (tern_model_weight (model, -1, TERN_WEIGHT_OUTPUT) == tern_model_weight (model, -1, TERN_WEIGHT_TOKEN_EMBD));
  g_assert_cmpint (hp->rope_neox, ==, g_str_has_prefix (name, "qwen2"));

  g_assert_true (json_parser_load_from_file (parser, tpath, &error));
  JsonArray *a = json_node_get_array (json_parser_get_root (parser));
  gint32 n = json_array_get_length (a);
  g_autofree TernToken *tokens = g_new (TernToken, n);
  for (gint32 i = 0; i < n; i++)
    tokens[i] = (TernToken) json_array_get_int_element (a, i);
  g_assert_true (g_file_get_contents (lpath, (char **) &want, &len, &error));
  g_assert_cmpuint (len, ==, sizeof (float) * n * hp->n_vocab);

  g_autoptr (TernContext) ctx = new_context (model, 512, 0);
  g_assert_true (tern_context_decode (ctx, tokens, n, TRUE, NULL, NULL, NULL, &error));
  double max_diff = 0;
  for (gint32 i = 0; i < n; i++)
    for (gint32 j = 0; j < hp->n_vocab; j++)
      max_diff = MAX (max_diff, fabs (tern_context_logits (ctx, i)[j] - want[(gsize) i * hp->n_vocab + j]));
  g_test_message ("%s: max |logit diff| %.5f", name, max_diff);
  g_assert_cmpfloat (max_diff, <=, 0.02);
}

/* Prefill in one batch, in chunks of 1, 7 and 64, and token by token give
 * the same logits; so do 1 and 2 threads. */
static void
test_batching (void)
{
  Reference r = { 0 };
  g_autoptr (TernModel) model = load_model ("kjv-tiny-q4_k_m");
  gint32 n_vocab = tern_model_hparams (model)->n_vocab;
  g_autoptr (TernContext) whole = new_context (model, 512, 2);
  g_autoptr (GError) error = NULL;
  const gint32 batches[] = { 1, 7, 64 };

  reference_load (&r, "kjv-tiny-q4_k_m");
  g_assert_true (tern_context_decode (whole, r.prompt, r.n_prompt, TRUE, NULL, NULL, NULL, &error));
  for (guint b = 0; b <= G_N_ELEMENTS (batches); b++)
    {
      /* The last round feeds single tokens through separate decodes. */
      gboolean stepwise = b == G_N_ELEMENTS (batches);
      g_autoptr (TernContext) ctx = new_context (model, stepwise ? 512 : batches[b], 1);
      for (gint32 i = 0; i < r.n_prompt; i++)
        {
          if (stepwise)
            g_assert_true (tern_context_decode (ctx, r.prompt + i, 1, FALSE, NULL, NULL, NULL, &error));
          else if (i == 0)
            g_assert_true (tern_context_decode (ctx, r.prompt, r.n_prompt, TRUE, NULL, NULL, NULL, &error));
          const float *got = tern_context_logits (ctx, stepwise ? 0 : i);
          const float *want = tern_context_logits (whole, i);
          for (gint32 j = 0; j < n_vocab; j++)
            g_assert_cmpfloat_with_epsilon (got[j], want[j], 1e-4);
        }
    }
  reference_clear (&r);
}

static void
test_bad_input (void)
{
  g_autoptr (TernModel) model = load_model ("kjv-tiny-q8_0");
  g_autoptr (GError) error = NULL;
  TernContextParams params;

  tern_context_params_init (&params);
  params.n_ctx = 16;
  g_autoptr (TernContext) ctx = tern_context_new (model, &params, &error);
  TernToken tokens[17] = { 1, 2, 3 };
  TernToken bad = 2048;

  g_assert_false (tern_context_decode (ctx, tokens, 0, FALSE, NULL, NULL, NULL, &error));
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_false (tern_context_decode (ctx, tokens, 17, FALSE, NULL, NULL, NULL, &error));
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_false (tern_context_decode (ctx, &bad, 1, FALSE, NULL, NULL, NULL, &error));
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_cmpint (tern_context_n_past (ctx), ==, 0);

  params.n_batch = 0;
  g_assert_null (tern_context_new (model, &params, &error));
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_INVALID);
}

static gint32
context_size (TernModel *model, gint32 n_ctx, gint32 n_ctx_max, gint64 memory_limit)
{
  TernContextParams params;
  g_autoptr (GError) error = NULL;

  tern_context_params_init (&params);
  params.n_ctx = n_ctx;
  params.n_ctx_max = n_ctx_max;
  params.memory_limit = memory_limit;
  params.n_threads = 1;
  g_autoptr (TernContext) ctx = tern_context_new (model, &params, &error);
  g_assert_no_error (error);
  return tern_context_n_ctx (ctx);
}

/* The automatic size is the training length, cut down, in steps of 256
 * tokens, to what fits in the memory allowed; a size asked for is given
 * whatever the memory, past the training length too, and RoPE is not
 * scaled for it: only the file's rope.scaling keys do that. */
static void
test_automatic_size (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("tern-context-XXXXXX", &error);
  g_autofree char *src = data_path ("models", "kjv-tiny-q4_k_m.gguf");
  g_autofree char *path = model_variant_write_context (dir, src, 4096);
  g_autoptr (TernModel) model = tern_model_load (path, NULL, NULL, NULL, &error);

  g_assert_no_error (error);
  g_assert_cmpint (tern_model_hparams (model)->n_ctx_train, ==, 4096);
  g_assert_cmpint (context_size (model, 0, 0, G_MAXINT64), ==, 4096);
  g_assert_cmpint (context_size (model, 0, 1000, G_MAXINT64), ==, 1000);
  g_assert_cmpint (context_size (model, 0, 0, 1), ==, 256);
  /* Room for the buffers of a pass and part of the cache. */
  gint32 n = context_size (model, 0, 0, 12 << 20);
  g_test_message ("12 MiB: %d tokens", n);
  g_assert_cmpint (n, >, 256);
  g_assert_cmpint (n, <, 4096);
  g_assert_cmpint (n % 256, ==, 0);
  /* Room for the f16 cache of all 4096 tokens leaves none for a pass. */
  const TernHParams *hp = tern_model_hparams (model);
  gint64 cache = 2 * (gint64) hp->n_layer * hp->n_head_kv * hp->head_dim * 2 * 4096;
  g_assert_cmpint (context_size (model, 0, 0, cache), <, 4096);
  g_assert_cmpint (context_size (model, 8192, 0, 1), ==, 8192);
  g_assert_cmpfloat (tern_model_hparams (model)->rope_freq_scale, ==, 1.0f);
  /* The fixture, in the memory there is. */
  g_autoptr (TernModel) small = load_model ("kjv-tiny-q4_k_m");
  g_assert_cmpint (context_size (small, 0, 0, 0), ==, tern_model_hparams (small)->n_ctx_train);
  g_clear_pointer (&model, tern_model_free);
  test_remove_tree (dir);
}

/* Truncating and evaluating again gives the logits of the first time. */
static void
test_truncate (void)
{
  Reference r = { 0 };
  g_autoptr (TernModel) model = load_model ("kjv-tiny-f16");
  gint32 n_vocab = tern_model_hparams (model)->n_vocab;
  g_autoptr (TernContext) ctx = new_context (model, 512, 0);
  g_autoptr (GError) error = NULL;
  g_autofree float *first = g_new (float, n_vocab);

  reference_load (&r, "kjv-tiny-f16");
  g_assert_true (tern_context_decode (ctx, r.prompt, 40, FALSE, NULL, NULL, NULL, &error));
  memcpy (first, tern_context_logits (ctx, 39), sizeof (float) * n_vocab);
  g_assert_true (tern_context_decode (ctx, r.prompt + 40, 20, FALSE, NULL, NULL, NULL, &error));
  tern_context_truncate (ctx, 30);
  g_assert_cmpint (tern_context_n_past (ctx), ==, 30);
  g_assert_true (tern_context_decode (ctx, r.prompt + 30, 10, FALSE, NULL, NULL, NULL, &error));
  g_assert_cmpmem (tern_context_logits (ctx, 9), sizeof (float) * n_vocab, first, sizeof (float) * n_vocab);
  reference_clear (&r);
}

static gboolean
append_bytes (const void *data, gsize len, gpointer user_data, GError **error)
{
  g_byte_array_append (user_data, data, len);
  return TRUE;
}

typedef struct {
  const GByteArray *bytes;
  gsize pos;
} Reader;

static gboolean
read_bytes (void *data, gsize len, gpointer user_data, GError **error)
{
  Reader *r = user_data;
  if (len > r->bytes->len - r->pos)
    {
      g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_FORMAT, "state truncated");
      return FALSE;
    }
  memcpy (data, r->bytes->data + r->pos, len);
  r->pos += len;
  return TRUE;
}

/* Greedy tokens after @ctx's current state. */
static void
greedy (TernContext *ctx, gint32 n, TernToken *out)
{
  g_autoptr (GError) error = NULL;
  gint32 n_vocab = tern_model_hparams (tern_context_model (ctx))->n_vocab;
  for (gint32 i = 0; i < n; i++)
    {
      out[i] = argmax (tern_context_last_logits (ctx), n_vocab);
      g_assert_true (tern_context_decode (ctx, &out[i], 1, FALSE, NULL, NULL, NULL, &error));
    }
}

/* Save after N tokens, load into a new context, generate M more: the
 * tokens equal an uninterrupted run. */
static void
test_state (void)
{
  Reference r = { 0 };
  g_autoptr (TernModel) model = load_model ("kjv-tiny-q4_k_m");
  g_autoptr (TernContext) ctx = new_context (model, 512, 0);
  g_autoptr (TernContext) other = new_context (model, 512, 0);
  g_autoptr (GByteArray) state = g_byte_array_new ();
  g_autoptr (GError) error = NULL;
  TernToken straight[20], resumed[20];

  reference_load (&r, "kjv-tiny-q4_k_m");
  g_assert_true (tern_context_decode (ctx, r.prompt, 30, FALSE, NULL, NULL, NULL, &error));
  greedy (ctx, 5, straight);
  g_assert_true (tern_context_save_state (ctx, append_bytes, state, &error));
  g_assert_cmpuint (state->len, ==, tern_context_state_size (ctx));
  greedy (ctx, 20, straight);

  Reader reader = { state, 0 };
  g_assert_true (tern_context_load_state (other, read_bytes, &reader, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (reader.pos, ==, state->len);
  g_assert_cmpint (tern_context_n_past (other), ==, 35);
  greedy (other, 20, resumed);
  g_assert_cmpmem (straight, sizeof straight, resumed, sizeof resumed);

  /* An empty context's state restores to an empty context. */
  g_autoptr (GByteArray) empty = g_byte_array_new ();
  tern_context_truncate (ctx, 0);
  g_assert_true (tern_context_save_state (ctx, append_bytes, empty, &error));
  reader = (Reader) { empty, 0 };
  g_assert_true (tern_context_load_state (other, read_bytes, &reader, &error));
  g_assert_cmpint (tern_context_n_past (other), ==, 0);

  /* Truncated at every length: an error, and an empty context after it. */
  for (gsize len = 0; len < state->len; len += 1 + len / 8)
    {
      g_autoptr (GByteArray) cut = g_byte_array_new ();
      g_byte_array_append (cut, state->data, len);
      reader = (Reader) { cut, 0 };
      g_assert_false (tern_context_load_state (other, read_bytes, &reader, &error));
      g_assert_nonnull (error);
      g_clear_error (&error);
      g_assert_cmpint (tern_context_n_past (other), ==, 0);
    }

  /* Another context size, or a corrupt header. */
  TernContextParams params;
  tern_context_params_init (&params);
  params.n_ctx = 128;
  g_autoptr (TernContext) small = tern_context_new (model, &params, &error);
  reader = (Reader) { state, 0 };
  g_assert_false (tern_context_load_state (small, read_bytes, &reader, &error));
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_MISMATCH);
  g_clear_error (&error);
  state->data[0] ^= 1;
  reader = (Reader) { state, 0 };
  g_assert_false (tern_context_load_state (other, read_bytes, &reader, &error));
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_FORMAT);
  reference_clear (&r);
}


/* A variant of fixture model @model in @dir (see model_variant_write). */
static char *
write_variant (const char *dir, const char *model, const char *drop, const char *arch, gint32 n_layers)
{
  g_autofree char *file = g_strconcat (model, ".gguf", NULL);
  g_autofree char *src = data_path ("models", file);

  return model_variant_write (dir, src, drop, arch, n_layers);
}

/* A context shift keeps the first tokens, drops half of the rest and
 * re-rotates the keys of those that move. In a one-layer model keys and
 * values depend only on the token and its position, so the shifted cache
 * must equal a fresh evaluation of the kept tokens. */
static void
test_shift (void)
{
  Reference r = { 0 };
  g_autofree char *dir = g_dir_make_tmp ("tern-model-XXXXXX", NULL);
  g_autofree char *path = write_variant (dir, "kjv-tiny-f32", NULL, NULL, 1);
  g_autoptr (GError) error = NULL;
  g_autoptr (TernModel) model = tern_model_load (path, NULL, NULL, NULL, &error);
  gint32 n_vocab = tern_model_hparams (model)->n_vocab;
  TernContextParams params;

  g_assert_no_error (error);
  reference_load (&r, "kjv-tiny-f32");
  tern_context_params_init (&params);
  params.n_ctx = 64;
  params.kv_type = TERN_TYPE_F32;
  g_autoptr (TernContext) ctx = tern_context_new (model, &params, &error);
  g_autoptr (TernContext) fresh = tern_context_new (model, &params, &error);

  g_assert_true (tern_context_decode (ctx, r.prompt, 64, FALSE, NULL, NULL, NULL, &error));
  g_assert_false (tern_context_decode (ctx, r.prompt + 64, 1, FALSE, NULL, NULL, NULL, &error));
  g_clear_error (&error);
  g_assert_cmpint (tern_context_shift (ctx, 4), ==, 30);
  g_assert_cmpint (tern_context_n_past (ctx), ==, 34);

  gint32 n;
  const TernToken *kept = tern_context_tokens (ctx, &n);
  g_assert_cmpint (kept[3], ==, r.prompt[3]);
  g_assert_cmpint (kept[4], ==, r.prompt[34]);
  g_assert_true (tern_context_decode (fresh, kept, n, FALSE, NULL, NULL, NULL, &error));
  g_assert_true (tern_context_decode (ctx, r.prompt + 64, 1, FALSE, NULL, NULL, NULL, &error));
  g_assert_true (tern_context_decode (fresh, r.prompt + 64, 1, FALSE, NULL, NULL, NULL, &error));
  const float *a = tern_context_logits (ctx, 0), *b = tern_context_logits (fresh, 0);
  for (gint32 j = 0; j < n_vocab; j++)
    g_assert_cmpfloat_with_epsilon (a[j], b[j], 1e-3);
  reference_clear (&r);
  g_unlink (path);
  g_rmdir (dir);
}

static void
test_bad_models (void)
{
  g_autofree char *dir = g_dir_make_tmp ("tern-model-XXXXXX", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (GCancellable) cancel = g_cancellable_new ();
  g_autofree char *good = data_path ("models", "kjv-tiny-q4_0.gguf");
  char *path;

  path = write_variant (dir, "kjv-tiny-q4_0", "blk.2.ffn_up.weight", NULL, 0);
  g_assert_null (tern_model_load (path, NULL, NULL, NULL, &error));
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_FORMAT);
  g_assert_nonnull (strstr (error->message, "blk.2.ffn_up.weight"));
  g_clear_error (&error);
  g_unlink (path);
  g_free (path);

  path = write_variant (dir, "kjv-tiny-q4_0", NULL, "mamba", 0);
  g_assert_null (tern_model_load (path, NULL, NULL, NULL, &error));
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_UNSUPPORTED);
  g_assert_nonnull (strstr (error->message, "mamba"));
  g_clear_error (&error);
  g_unlink (path);
  g_free (path);

  g_cancellable_cancel (cancel);
  g_assert_null (tern_model_load (good, NULL, NULL, cancel, &error));
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_CANCELLED);
  g_rmdir (dir);
}

static void
count_progress (double fraction, gpointer user_data)
{
  double *last = user_data;
  g_assert_cmpfloat (fraction, >=, *last);
  *last = fraction;
}

static void
test_load_progress (void)
{
  g_autofree char *path = data_path ("models", "kjv-tiny-q4_k_m.gguf");
  g_autoptr (GError) error = NULL;
  double last = 0;
  g_autoptr (TernModel) model = tern_model_load (path, count_progress, &last, NULL, &error);
  const TernHParams *hp = tern_model_hparams (model);

  g_assert_no_error (error);
  g_assert_cmpfloat (last, ==, 1.0);
  g_assert_cmpint (hp->n_embd, ==, 256);
  g_assert_cmpint (hp->n_layer, ==, 4);
  g_assert_cmpint (hp->n_head, ==, 8);
  g_assert_cmpint (hp->n_head_kv, ==, 2);
  g_assert_cmpint (hp->n_ff, ==, 768);
  g_assert_cmpint (hp->n_vocab, ==, 2048);
  g_assert_cmpint (hp->n_ctx_train, ==, 256);
  g_assert_false (hp->rope_neox);
  g_assert_cmpint (tern_model_n_params (model), >, 4000000);
}

typedef struct {
  GCancellable *stop;
  double stop_at, last;
  guint n_after;
} StopLoad;

static void
stop_progress (double fraction, gpointer user_data)
{
  StopLoad *s = user_data;

  if (g_cancellable_is_cancelled (s->stop))
    s->n_after++;
  s->last = fraction;
  if (fraction >= s->stop_at)
    g_cancellable_cancel (s->stop);
}

/* A load stopped once each layer is bound: CANCELLED, no layer bound after
 * the stop, unless it came after the last. */
static void
test_load_stopped (void)
{
  g_autofree char *path = data_path ("models", "kjv-tiny-q4_k_m.gguf");

  for (gint32 layer = 1; layer <= 4; layer++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (GCancellable) stop = g_cancellable_new ();
      StopLoad s = { stop, layer / 4.0, 0, 0 };
      g_autoptr (TernModel) model = tern_model_load (path, stop_progress, &s, stop, &error);
      g_assert_cmpuint (s.n_after, ==, 0);
      g_assert_cmpfloat (s.last, ==, s.stop_at);
      if (layer == 4)
        continue;
      g_assert_null (model);
      g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_CANCELLED);
    }
}

/* /engine/context/@group/LEVEL/NAME for every kernel level and every model
 * tests/data/@dir holds (NAME: its file name without @prefix and .gguf). */
/* The tests' data, freed after the run: GLib frees a test's data only when
 * it runs, and -p runs some of them. */
static GPtrArray *level_tests;

static void
add_level_tests (const char *group, const char *dir, const char *prefix, GTestDataFunc func)
{
  g_autoptr (GPtrArray) files = test_data_list (dir, ".gguf", TRUE);
  for (TernKernelLevel level = TERN_KERNEL_SCALAR; level < TERN_KERNEL_BEST; level++)
    for (guint i = 0; i < files->len; i++)
      {
        const char *name = (const char *) files->pdata[i] + strlen (prefix);
        g_autofree char *path = g_strdup_printf ("/engine/context/%s/%s/%s", group, tern_kernel_level_name (level),
                                                 name);
        LevelTest *t = g_new (LevelTest, 1);
        *t = (LevelTest) { g_strdup (name), level };
        g_ptr_array_add (level_tests, t);
        g_test_add_data_func (path, t, func);
      }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  kernel_levels_check_required ();
  level_tests = g_ptr_array_new_with_free_func (level_test_free);
  add_level_tests ("reference", "models", "", test_reference);
  add_level_tests ("margin", "margin", "margin-", test_margin);
  g_test_add_data_func ("/engine/context/variant/qwen2-tiny", "qwen2-tiny", test_variant);
  g_test_add_data_func ("/engine/context/variant/llama3-tiny", "llama3-tiny", test_variant);
  g_test_add_func ("/engine/context/batching", test_batching);
  g_test_add_func ("/engine/context/bad-input", test_bad_input);
  g_test_add_func ("/engine/context/truncate", test_truncate);
  g_test_add_func ("/engine/context/automatic-size", test_automatic_size);
  g_test_add_func ("/engine/context/shift", test_shift);
  g_test_add_func ("/engine/context/state", test_state);
  g_test_add_func ("/engine/model/bad-models", test_bad_models);
  g_test_add_func ("/engine/model/load-progress", test_load_progress);
  g_test_add_func ("/engine/model/load-stopped", test_load_stopped);
  int status = g_test_run ();
  g_ptr_array_unref (level_tests);
  return status;
}
