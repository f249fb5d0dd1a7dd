/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The precision policy: each matrix's sensitivity measured on the
 * calibration text, then the bytes under the size target spent where they
 * remove the most of it. */
#include "compress/precision.h"

#include <math.h>
#include <tern/context.h>
#include <tern/error.h>
#include <tern/model.h>

#include "compress/calibrate.h"
#include "compress/ternarize.h"
#include "quant/quant.h"

/* The reference predictions kept at most (floats): 128 MiB. */
#define REFERENCE_MAX_FLOATS ((gsize) 32 << 20)

static const TernType better_types[TERN_PRECISION_N_BETTER] = { TERN_TYPE_Q4_K, TERN_TYPE_Q6_K };

/* The model reading the text's chunks, and its predictions there as the
 * file has it. Positions are scored as perplexity scores them: the second
 * half of each chunk but its last token. */
typedef struct {
  TernModel *model;
  TernContext *ctx;
  GArray *tokens;
  gint32 n_ctx;
  guint n_chunks;
  gint32 n_vocab;
  float *reference; /* log-probabilities, [chunk][scored position][vocabulary] */
} Measure;

static gint32
n_scored (gint32 n_ctx)
{
  return n_ctx - 1 - n_ctx / 2;
}

static void
log_softmax (const float *logits, float *out, gint32 n)
{
  float max = logits[0];
  double sum = 0.0, lse;

  for (gint32 i = 1; i < n; i++)
    max = MAX (max, logits[i]);
  for (gint32 i = 0; i < n; i++)
    sum += exp ((double) logits[i] - max);
  lse = max + log (sum);
  for (gint32 i = 0; i < n; i++)
    out[i] = (float) (logits[i] - lse);
}

/* Reads every chunk: with @kl NULL keeps the predictions as the
 * reference, else sets *@kl to their mean divergence from it. */
static gboolean
read_chunks (Measure *m, double *kl, GCancellable *cancellable, GError **error)
{
  g_autofree float *lp = g_new (float, m->n_vocab);
  gint32 scored = n_scored (m->n_ctx);
  double sum = 0.0;

  for (guint c = 0; c < m->n_chunks; c++)
    {
      tern_context_truncate (m->ctx, 0);
      if (!tern_context_decode (m->ctx, &g_array_index (m->tokens, TernToken, c * (guint) m->n_ctx), m->n_ctx, TRUE,
                                NULL, NULL, cancellable, error))
        return FALSE;
      for (gint32 i = 0; i < scored; i++)
        {
          float *ref = m->reference + ((gsize) c * scored + i) * m->n_vocab;
          const float *logits = tern_context_logits (m->ctx, m->n_ctx / 2 + i);

          if (kl == NULL)
            {
              log_softmax (logits, ref, m->n_vocab);
              continue;
            }
          log_softmax (logits, lp, m->n_vocab);
          for (gint32 v = 0; v < m->n_vocab; v++)
            sum += exp ((double) ref[v]) * ((double) ref[v] - lp[v]);
        }
    }
  if (kl != NULL)
    *kl = MAX (sum / ((double) m->n_chunks * scored), 0.0);
  return TRUE;
}

static gboolean
measure_init (Measure *m, const char *model_path, const char *text, gssize len, gsize n_choices, guint n_threads,
              GCancellable *cancellable, GError **error)
{
  TernContextParams params;
  gsize per_chunk;

  m->model = tern_model_load (model_path, NULL, NULL, cancellable, error);
  if (m->model == NULL)
    return FALSE;
  m->tokens = tern_calibration_chunks (m->model, text, len, TERN_PRECISION_TOKENS, &m->n_ctx, error);
  if (m->tokens == NULL)
    return FALSE;
  m->n_vocab = tern_model_hparams (m->model)->n_vocab;
  per_chunk = (gsize) n_scored (m->n_ctx) * (gsize) m->n_vocab;
  m->n_chunks = MIN (m->tokens->len / (guint) m->n_ctx, REFERENCE_MAX_FLOATS / per_chunk);
  m->n_chunks = MIN (m->n_chunks, TERN_PRECISION_TOTAL_TOKENS / (MAX (n_choices, 1) * (gsize) m->n_ctx));
  m->n_chunks = MAX (m->n_chunks, 1);
  m->reference = g_try_new (float, per_chunk * m->n_chunks);
  if (m->reference == NULL)
    {
      g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_NOMEM,
                   "not enough memory for the model's predictions on the calibration text");
      return FALSE;
    }
  tern_context_params_init (&params);
  params.n_ctx = m->n_ctx;
  params.n_threads = n_threads;
  m->ctx = tern_context_new (m->model, &params, error);
  return m->ctx != NULL && read_chunks (m, NULL, cancellable, error);
}

static void
measure_clear (Measure *m)
{
  g_clear_pointer (&m->ctx, tern_context_free);
  g_clear_pointer (&m->model, tern_model_free);
  g_clear_pointer (&m->tokens, g_array_unref);
  g_clear_pointer (&m->reference, g_free);
}

static gboolean
is_ternary (TernType type)
{
  return type == TERN_TYPE_TQ1_0 || type == TERN_TYPE_TQ2_0;
}

static guint64
padded_bytes (const TernGgufTensor *t, TernType type, guint32 alignment)
{
  guint64 n = tern_type_row_bytes (type, t->ne[0]) * (guint64) (tern_gguf_tensor_n_elems (t) / t->ne[0]);

  return (n + alignment - 1) / alignment * alignment;
}

static double
squared_error (const float *x, const float *y, gint64 n)
{
  double sum = 0.0;

  for (gint64 i = 0; i < n; i++)
    sum += ((double) x[i] - y[i]) * ((double) x[i] - y[i]);
  return sum;
}

/* What one matrix may become: its squared error in its small type and in
 * each better one, and its data in the small type (while measured). */
typedef struct {
  double err_small;
  double err[TERN_PRECISION_N_BETTER];
  gboolean allowed[TERN_PRECISION_N_BETTER];
  guint64 bytes_small;
  guint64 bytes[TERN_PRECISION_N_BETTER];
  int level; /* -1: the small type, else the better type's index */
} Options;

/* @t's rows in its small type @type (ternary ones rounded as TWN does),
 * newly allocated (NULL when memory is short), and the squared error of
 * that and of each better type allowed. */
static guint8 *
quantize_small (const TernGgufTensor *t, TernType type, Options *o)
{
  gint64 n = t->ne[0], n_rows = tern_gguf_tensor_n_elems (t) / n;
  gsize in_row = tern_type_row_bytes (t->type, n), out_row = tern_type_row_bytes (type, n);
  g_autofree float *row = g_new (float, n);
  g_autofree float *x = g_new (float, n);
  g_autofree guint8 *scratch = g_new (guint8, tern_type_row_bytes (TERN_TYPE_F32, n));
  guint8 *out = g_try_malloc ((gsize) n_rows * out_row);

  if (out == NULL)
    return NULL;
  for (gint64 r = 0; r < n_rows; r++)
    {
      guint8 *stored = out + (gsize) r * out_row;

      tern_quant_dequant_row (t->type) ((const guint8 *) t->data + (gsize) r * in_row, row, n);
      if (is_ternary (type))
        {
          tern_ternarize_twn (row, x, n);
          tern_quant_quantize_row (type) (x, stored, n);
        }
      else
        tern_quant_quantize_row (type) (row, stored, n);
      tern_quant_dequant_row (type) (stored, x, n);
      o->err_small += squared_error (row, x, n);
      for (int b = 0; b < TERN_PRECISION_N_BETTER; b++)
        if (o->allowed[b])
          {
            tern_quant_quantize_row (better_types[b]) (row, scratch, n);
            tern_quant_dequant_row (better_types[b]) (scratch, x, n);
            o->err[b] += squared_error (row, x, n);
          }
    }
  return out;
}

/* The divergence of the model's predictions when @c's matrix alone is
 * stored in its small type. */
static gboolean
measure_one (Measure *m, TernPrecisionChoice *c, Options *o, GError **error, GCancellable *cancellable)
{
  TernGgufTensor small = *c->tensor;
  const TernGgufTensor *kept;
  g_autofree guint8 *data = NULL;
  TernWeightKind kind;
  gint32 layer;
  gboolean ok;

  c->sensitivity = 0.0;
  /* A tensor the model never computes with costs nothing. */
  if (!tern_model_weight_role (m->model, c->tensor->name, &layer, &kind))
    return TRUE;
  data = quantize_small (c->tensor, c->type, o);
  if (data == NULL)
    {
      g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_NOMEM, "not enough memory to measure %s",
                   c->tensor->name);
      return FALSE;
    }
  small.type = c->type;
  small.data = data;
  small.n_bytes = tern_type_row_bytes (c->type, small.ne[0]) * (guint64) (tern_gguf_tensor_n_elems (&small) / small.ne[0]);
  kept = tern_model_swap_weight (m->model, layer, kind, &small);
  ok = read_chunks (m, &c->sensitivity, cancellable, error);
  tern_model_swap_weight (m->model, layer, kind, kept);
  return ok;
}

/* What upgrading @o to level @level removes of @c's divergence. */
static double
gain (const TernPrecisionChoice *c, const Options *o, int level)
{
  if (level < 0 || o->err_small <= 0.0)
    return 0.0;
  return c->sensitivity * (1.0 - o->err[level] / o->err_small);
}

static guint64
bytes_at (const Options *o, int level)
{
  return level < 0 ? o->bytes_small : o->bytes[level];
}

/* Spends @budget on the upgrades that remove the most divergence per
 * byte, one at a time. */
static void
spend (TernPrecisionChoice *choices, Options *options, gsize n, guint64 budget)
{
  for (;;)
    {
      double best_ratio = 0.0;
      gsize best = n;
      int best_level = -1;

      for (gsize i = 0; i < n; i++)
        {
          const Options *o = &options[i];

          for (int b = o->level + 1; b < TERN_PRECISION_N_BETTER; b++)
            {
              guint64 cost = bytes_at (o, b) - bytes_at (o, o->level);
              double removed = gain (&choices[i], o, b) - gain (&choices[i], o, o->level);

              if (!o->allowed[b] || cost > budget || removed <= 0.0)
                continue;
              if (removed / (double) cost > best_ratio)
                {
                  best_ratio = removed / (double) cost;
                  best = i;
                  best_level = b;
                }
            }
        }
      if (best == n)
        return;
      budget -= bytes_at (&options[best], best_level) - bytes_at (&options[best], options[best].level);
      options[best].level = best_level;
    }
}

gboolean
tern_precision_choose (const char *model_path, const char *text, gssize len, TernPrecisionChoice *choices, gsize n,
                       guint64 budget, guint32 alignment, guint n_threads,
                       GCancellable *cancellable, GError **error)
{
  Measure m = { 0 };
  g_autofree Options *options = g_new0 (Options, MAX (n, 1));
  gboolean ok;

  g_return_val_if_fail (model_path != NULL && text != NULL && (choices != NULL || n == 0), FALSE);

  ok = measure_init (&m, model_path, text, len, n, n_threads, cancellable, error);
  for (gsize i = 0; ok && i < n; i++)
    {
      Options *o = &options[i];
      const TernGgufTensor *t = choices[i].tensor;

      o->level = -1;
      o->bytes_small = padded_bytes (t, choices[i].type, alignment);
      for (int b = 0; b < TERN_PRECISION_N_BETTER; b++)
        {
          o->bytes[b] = padded_bytes (t, better_types[b], alignment);
          o->allowed[b] = t->ne[0] % tern_type_info (better_types[b])->block_elems == 0 && o->bytes[b] > o->bytes_small;
        }
      ok = measure_one (&m, &choices[i], o, error, cancellable);
    }
  measure_clear (&m);
  if (!ok)
    return FALSE;
  spend (choices, options, n, budget);
  for (gsize i = 0; i < n; i++)
    if (options[i].level >= 0)
      choices[i].type = better_types[options[i].level];
  return TRUE;
}
