/* SPDX-License-Identifier: GPL-3.0-or-later */
/* tern_context_collect_inputs: the inputs of every layer's weight matrices,
 * in order and in shape; layer 0's inputs against double-precision sums
 * from the file's weights (RMSNorm of the embeddings, then each input from
 * the one before); the cache it
 * leaves the same as a decode's; batches, and a cancel. */
#include <math.h>

#include <tern/context.h>
#include <tern/error.h>
#include <tern/gguf.h>

#include "test-data.h"

typedef struct {
  gint32 layer;
  TernWeightKind kind;
  gint32 n_rows, n_cols;
  float *rows; /* layer 0's inputs only */
} Call;

static void
record_call (gint32 layer, TernWeightKind kind, const float *rows, gint32 n_rows, gint32 n_cols, gpointer data)
{
  GArray *calls = data;
  Call c = { layer, kind, n_rows, n_cols, NULL };

  if (layer == 0)
    c.rows = g_memdup2 (rows, (gsize) n_rows * n_cols * sizeof (float));
  g_array_append_val (calls, c);
}

static void
call_clear (gpointer data)
{
  g_free (((Call *) data)->rows);
}

static TernModel *
load (void)
{
  g_autofree char *path = g_test_build_filename (G_TEST_DIST, "data", "models", "kjv-tiny-f32.gguf", NULL);
  g_autoptr (GError) error = NULL;
  TernModel *model = tern_model_load (path, NULL, NULL, NULL, &error);

  g_assert_no_error (error);
  return model;
}

static TernContext *
context (TernModel *model, gint32 n_batch)
{
  g_autoptr (GError) error = NULL;
  TernContextParams params;
  TernContext *ctx;

  tern_context_params_init (&params);
  params.n_ctx = 64;
  params.n_batch = n_batch;
  params.n_threads = 2;
  ctx = tern_context_new (model, &params, &error);
  g_assert_no_error (error);
  return ctx;
}

static const TernToken tokens[] = { 1, 400, 31, 97, 1500, 12, 8, 640, 77, 2000, 5 };

static const float *
weight (TernModel *model, const char *name)
{
  const TernGgufTensor *t = tern_gguf_find_tensor (tern_model_gguf (model), name);

  g_assert_nonnull (t);
  g_assert_cmpint (t->type, ==, TERN_TYPE_F32);
  return t->data;
}

/* y = x · Wᵀ for a row @x of @n_in and W of [@n_out][@n_in], in double. */
static void
project (const float *x, const float *w, gint32 n_in, gint32 n_out, double *y)
{
  for (gint32 o = 0; o < n_out; o++)
    {
      double sum = 0.0;
      for (gint32 j = 0; j < n_in; j++)
        sum += (double) x[j] * w[(gsize) o * n_in + j];
      y[o] = sum;
    }
}

/* Layer 0's feed-forward inputs follow from its attention's, here in
 * double precision from the file's weights: the norm's input is the
 * embedding plus the attention's output projected by O, and the gated
 * activation is silu (x·GATEᵀ) · (x·UPᵀ) of the norm's output. So each
 * input is the buffer it should be, in the layer's order. */
static void
check_feed_forward_inputs (TernModel *model, GArray *calls, gint32 n)
{
  const TernHParams *hp = tern_model_hparams (model);
  const float *embd = weight (model, "token_embd.weight"), *w_o = weight (model, "blk.0.attn_output.weight");
  const float *ffn_norm = weight (model, "blk.0.ffn_norm.weight");
  const float *w_gate = weight (model, "blk.0.ffn_gate.weight"), *w_up = weight (model, "blk.0.ffn_up.weight");
  const float *att = g_array_index (calls, Call, 1).rows, *ffn_in = g_array_index (calls, Call, 2).rows;
  const float *down_in = g_array_index (calls, Call, 3).rows;
  gint32 q_dim = hp->n_head * hp->head_dim;
  g_autofree double *x = g_new (double, hp->n_embd), *g = g_new (double, hp->n_ff), *u = g_new (double, hp->n_ff);
  double worst_norm = 0.0, worst_act = 0.0;

  for (gint32 t = 0; t < n; t++)
    {
      double sum_sq = 0.0, scale;

      project (att + (gsize) t * q_dim, w_o, q_dim, hp->n_embd, x);
      for (gint32 j = 0; j < hp->n_embd; j++)
        {
          x[j] += embd[(gsize) tokens[t] * hp->n_embd + j];
          sum_sq += x[j] * x[j];
        }
      scale = 1.0 / sqrt (sum_sq / hp->n_embd + hp->rms_eps);
      for (gint32 j = 0; j < hp->n_embd; j++)
        {
          double want = x[j] * scale * ffn_norm[j];
          worst_norm = MAX (worst_norm, fabs (ffn_in[(gsize) t * hp->n_embd + j] - want) / MAX (fabs (want), 1e-2));
        }
      project (ffn_in + (gsize) t * hp->n_embd, w_gate, hp->n_embd, hp->n_ff, g);
      project (ffn_in + (gsize) t * hp->n_embd, w_up, hp->n_embd, hp->n_ff, u);
      for (gint32 j = 0; j < hp->n_ff; j++)
        {
          double want = g[j] / (1.0 + exp (-g[j])) * u[j];
          worst_act = MAX (worst_act, fabs (down_in[(gsize) t * hp->n_ff + j] - want) / MAX (fabs (want), 1e-2));
        }
    }
  g_test_message ("layer 0's feed-forward input: %.2e, gated activation: %.2e", worst_norm, worst_act);
  g_assert_cmpfloat (worst_norm, <, 1e-4);
  g_assert_cmpfloat (worst_act, <, 1e-4);
}

/* Four inputs per layer, layer by layer, each of the width its matrices
 * read; layer 0's attention input is RMSNorm (embedding) · attn_norm. */
static void
test_inputs (void)
{
  g_autoptr (TernModel) model = load ();
  g_autoptr (TernContext) ctx = context (model, 512);
  g_autoptr (GArray) calls = g_array_new (FALSE, TRUE, sizeof (Call));
  g_autoptr (GError) error = NULL;
  const TernHParams *hp = tern_model_hparams (model);
  const TernWeightKind order[] = { TERN_WEIGHT_Q, TERN_WEIGHT_O, TERN_WEIGHT_GATE, TERN_WEIGHT_DOWN };
  const gint32 widths[] = { hp->n_embd, hp->n_head * hp->head_dim, hp->n_embd, hp->n_ff };
  const gint32 n = G_N_ELEMENTS (tokens);
  const TernGgufTensor *embd = tern_gguf_find_tensor (tern_model_gguf (model), "token_embd.weight");
  const TernGgufTensor *norm = tern_gguf_find_tensor (tern_model_gguf (model), "blk.0.attn_norm.weight");
  double worst = 0.0;

  g_array_set_clear_func (calls, call_clear);
  g_assert_true (tern_context_collect_inputs (ctx, tokens, n, record_call, calls, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (tern_context_n_past (ctx), ==, n);
  g_assert_cmpuint (calls->len, ==, 4 * (guint) hp->n_layer);
  for (guint i = 0; i < calls->len; i++)
    {
      const Call *c = &g_array_index (calls, Call, i);
      g_assert_cmpint (c->layer, ==, (gint32) (i / 4));
      g_assert_cmpint (c->kind, ==, order[i % 4]);
      g_assert_cmpint (c->n_rows, ==, n);
      g_assert_cmpint (c->n_cols, ==, widths[i % 4]);
    }

  /* The file's F32 values, normed here in double precision. */
  g_assert_cmpint (embd->type, ==, TERN_TYPE_F32);
  for (gint32 t = 0; t < n; t++)
    {
      const float *x = (const float *) embd->data + (gsize) tokens[t] * hp->n_embd;
      const float *w = norm->data;
      const float *got = g_array_index (calls, Call, 0).rows + (gsize) t * hp->n_embd;
      double sum_sq = 0.0, scale;

      for (gint32 j = 0; j < hp->n_embd; j++)
        sum_sq += (double) x[j] * x[j];
      scale = 1.0 / sqrt (sum_sq / hp->n_embd + hp->rms_eps);
      for (gint32 j = 0; j < hp->n_embd; j++)
        {
          double want = x[j] * scale * w[j];
          worst = MAX (worst, fabs (got[j] - want) / MAX (fabs (want), 1e-3));
        }
    }
  g_test_message ("layer 0's attention input: largest relative difference %.2e", worst);
  g_assert_cmpfloat (worst, <, 1e-5);
  check_feed_forward_inputs (model, calls, n);
}

/* Collected in batches of 4 (rows per call at most 4, every token once),
 * the cache then gives the next token the logits a plain decode gives. */
static void
test_same_cache (void)
{
  g_autoptr (TernModel) model = load ();
  g_autoptr (TernContext) tapped = context (model, 4), plain = context (model, 4);
  g_autoptr (GArray) calls = g_array_new (FALSE, TRUE, sizeof (Call));
  g_autoptr (GError) error = NULL;
  const gint32 n = G_N_ELEMENTS (tokens) - 1;
  gint32 rows_layer1_down = 0;

  g_array_set_clear_func (calls, call_clear);
  g_assert_true (tern_context_collect_inputs (tapped, tokens, n, record_call, calls, NULL, &error));
  g_assert_no_error (error);
  for (guint i = 0; i < calls->len; i++)
    {
      const Call *c = &g_array_index (calls, Call, i);
      g_assert_cmpint (c->n_rows, <=, 4);
      if (c->layer == 1 && c->kind == TERN_WEIGHT_DOWN)
        rows_layer1_down += c->n_rows;
    }
  g_assert_cmpint (rows_layer1_down, ==, n);

  g_assert_true (tern_context_decode (plain, tokens, n, FALSE, NULL, NULL, NULL, &error));
  g_assert_true (tern_context_decode (plain, tokens + n, 1, FALSE, NULL, NULL, NULL, &error));
  g_assert_true (tern_context_decode (tapped, tokens + n, 1, FALSE, NULL, NULL, NULL, &error));
  g_assert_no_error (error);
  const float *a = tern_context_last_logits (tapped), *b = tern_context_last_logits (plain);
  for (gint32 v = 0; v < tern_model_hparams (model)->n_vocab; v++)
    g_assert_cmpfloat (a[v], ==, b[v]);
}

/* A cancelled collection is CANCELLED and leaves the cache as it was. */
static void
test_cancel (void)
{
  g_autoptr (TernModel) model = load ();
  g_autoptr (TernContext) ctx = context (model, 512);
  g_autoptr (GArray) calls = g_array_new (FALSE, TRUE, sizeof (Call));
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  g_autoptr (GError) error = NULL;

  g_array_set_clear_func (calls, call_clear);
  g_cancellable_cancel (cancellable);
  g_assert_false (tern_context_collect_inputs (ctx, tokens, G_N_ELEMENTS (tokens), record_call, calls, cancellable,
                                               &error));
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_CANCELLED);
  g_assert_cmpint (tern_context_n_past (ctx), ==, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/engine/context/collect-inputs/inputs", test_inputs);
  g_test_add_func ("/engine/context/collect-inputs/same-cache", test_same_cache);
  g_test_add_func ("/engine/context/collect-inputs/cancel", test_cancel);
  return g_test_run ();
}
