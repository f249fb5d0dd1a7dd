/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Calibration: the model reads a text, and the rows each layer's matrices
 * read are summed into their Hessians. */
#include "compress/calibrate.h"
#include "core/threadpool.h"

#include <stdio.h>
#include <string.h>
#include <tern/compress.h>
#include <tern/context.h>
#include <tern/error.h>
#include <tern/tokenizer.h>

/* Chunks of at most this many tokens, each from an empty cache. */
#define CALIBRATION_MAX_CTX 512

struct TernCalibration {
  gint32 n_layer;
  gint64 n_in[TERN_CALIBRATION_N_GROUPS];
  double **hessians; /* [n_layer * N_GROUPS], n_in × n_in each */
  TernThreadPool *pool;
  gint64 n_rows;     /* rows summed into each Hessian */
};

static TernCalibrationGroup
group_of_kind (TernWeightKind kind)
{
  switch (kind)
    {
    case TERN_WEIGHT_Q:
      return TERN_CALIBRATION_QKV;
    case TERN_WEIGHT_O:
      return TERN_CALIBRATION_O;
    case TERN_WEIGHT_GATE:
      return TERN_CALIBRATION_GATE_UP;
    default:
      return TERN_CALIBRATION_DOWN;
    }
}

/* Rows of the Hessian one task sums at a time: their float partial sums
 * (8 rows of up to 16k inputs: 512 KiB) stay in the core's cache while
 * every input row streams past. */
#define HESSIAN_BLOCK 8

typedef struct {
  double *h;
  const float *rows;
  gint32 n_rows, n_cols;
} Accumulate;

/* Adds rowsᵀ·rows to the upper triangle of blocks t, t + n_threads, …
 * of the Hessian's rows (interleaved: the triangle's rows shrink). The
 * partial sums over one call's rows (at most a chunk) are kept in float,
 * then added in double. */
static void
accumulate_blocks (gpointer data, guint t, guint n_threads)
{
  const Accumulate *a = data;
  gint32 n = a->n_cols;
  g_autofree float *acc = g_new (float, (gsize) HESSIAN_BLOCK * n);

  for (gint32 i0 = (gint32) t * HESSIAN_BLOCK; i0 < n; i0 += (gint32) n_threads * HESSIAN_BLOCK)
    {
      gint32 nb = MIN (HESSIAN_BLOCK, n - i0);

      memset (acc, 0, (gsize) nb * n * sizeof *acc);
      for (gint32 r = 0; r < a->n_rows; r++)
        {
          const float *x = a->rows + (gsize) r * n;

          for (gint32 b = 0; b < nb; b++)
            {
              float xi = x[i0 + b];
              float *row = acc + (gsize) b * n;

              for (gint32 j = i0 + b; j < n; j++)
                row[j] += xi * x[j];
            }
        }
      for (gint32 b = 0; b < nb; b++)
        {
          double *hi = a->h + (gsize) (i0 + b) * n;
          const float *row = acc + (gsize) b * n;

          for (gint32 j = i0 + b; j < n; j++)
            hi[j] += row[j];
        }
    }
}

/* Adds rowsᵀ·rows to the upper triangle of the Hessian. */
static void
add_inputs (gint32 layer, TernWeightKind kind, const float *rows, gint32 n_rows, gint32 n_cols, gpointer data)
{
  TernCalibration *cal = data;
  Accumulate a = { cal->hessians[layer * TERN_CALIBRATION_N_GROUPS + group_of_kind (kind)], rows, n_rows, n_cols };

  tern_thread_pool_run (cal->pool, accumulate_blocks, &a);
  if (layer == 0 && kind == TERN_WEIGHT_Q)
    cal->n_rows += n_rows;
}

static gboolean
allocate (TernCalibration *cal, const TernHParams *hp, GError **error)
{
  cal->n_layer = hp->n_layer;
  cal->n_in[TERN_CALIBRATION_QKV] = hp->n_embd;
  cal->n_in[TERN_CALIBRATION_O] = (gint64) hp->n_head * hp->head_dim;
  cal->n_in[TERN_CALIBRATION_GATE_UP] = hp->n_embd;
  cal->n_in[TERN_CALIBRATION_DOWN] = hp->n_ff;
  cal->hessians = g_new0 (double *, (gsize) hp->n_layer * TERN_CALIBRATION_N_GROUPS);
  for (gint32 l = 0; l < hp->n_layer; l++)
    for (int g = 0; g < TERN_CALIBRATION_N_GROUPS; g++)
      {
        gint64 n = cal->n_in[g];
        double *h = g_try_new0 (double, (gsize) (n * n));

        if (h == NULL)
          {
            g_autofree char *size = g_format_size_full ((guint64) (n * n) * sizeof (double), G_FORMAT_SIZE_IEC_UNITS);
            g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_NOMEM,
                         "not enough memory for the calibration of layer %d (%s per input)", l, size);
            return FALSE;
          }
        cal->hessians[l * TERN_CALIBRATION_N_GROUPS + g] = h;
      }
  return TRUE;
}

/* Each Hessian made whole (the lower triangle from the upper) and an
 * average over the rows. */
static void
finish (TernCalibration *cal)
{
  for (gint32 i = 0; i < cal->n_layer * TERN_CALIBRATION_N_GROUPS; i++)
    {
      gint64 n = cal->n_in[i % TERN_CALIBRATION_N_GROUPS];
      double *h = cal->hessians[i];

      for (gint64 r = 0; r < n; r++)
        for (gint64 c = r; c < n; c++)
          h[c * n + r] = h[r * n + c] /= (double) cal->n_rows;
    }
}

GArray *
tern_calibration_chunks (const TernModel *model, const char *text, gssize len, guint max_tokens, gint32 *n_ctx,
                         GError **error)
{
  const TernHParams *hp = tern_model_hparams (model);
  const TernTokenizer *tok = tern_model_tokenizer (model);
  g_autoptr (GArray) tokens = g_array_new (FALSE, FALSE, sizeof (TernToken));
  TernToken bos = tern_tokenizer_bos (tok);
  guint n_chunks;

  /* As the quality measure reads its text (evaluate.c). */
  *n_ctx = hp->n_ctx_train / 2 >= 16 ? MIN (hp->n_ctx_train / 2, CALIBRATION_MAX_CTX) : CALIBRATION_MAX_CTX;
  if (!tern_tokenizer_encode (tok, text, len, 0, tokens, error))
    return NULL;
  n_chunks = MIN (tokens->len, max_tokens) / (guint) *n_ctx;
  if (n_chunks == 0)
    {
      g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_INVALID,
                   "the calibration text has %u tokens: it takes at least %d", tokens->len, *n_ctx);
      return NULL;
    }
  g_array_set_size (tokens, n_chunks * (guint) *n_ctx);
  /* Each chunk starts as a text does. */
  for (guint c = 0; bos >= 0 && c < n_chunks; c++)
    g_array_index (tokens, TernToken, c * (guint) *n_ctx) = bos;
  return g_steal_pointer (&tokens);
}

TernCalibration *
tern_calibration_collect (const char *model_path, const char *text, gssize len, guint n_threads,
                          GCancellable *cancellable, GError **error)
{
  g_autoptr (TernCalibration) cal = g_new0 (TernCalibration, 1);
  g_autoptr (TernModel) model = tern_model_load (model_path, NULL, NULL, cancellable, error);
  g_autoptr (TernContext) ctx = NULL;
  g_autoptr (GArray) tokens = NULL;
  TernContextParams params;
  gint32 n_ctx;

  if (model == NULL)
    return NULL;
  tokens = tern_calibration_chunks (model, text, len, TERN_COMPRESS_CALIBRATION_TOKENS, &n_ctx, error);
  if (tokens == NULL)
    return NULL;
  tern_context_params_init (&params);
  params.n_ctx = n_ctx;
  params.n_threads = n_threads;
  ctx = tern_context_new (model, &params, error);
  if (ctx == NULL || !allocate (cal, tern_model_hparams (model), error))
    return NULL;
  cal->pool = tern_thread_pool_new (n_threads ? n_threads : tern_physical_cores (), error);
  if (cal->pool == NULL)
    return NULL;
  for (guint c = 0; c < tokens->len; c += (guint) n_ctx)
    {
      tern_context_truncate (ctx, 0);
      if (!tern_context_collect_inputs (ctx, &g_array_index (tokens, TernToken, c), n_ctx, add_inputs, cal,
                                        cancellable, error))
        return NULL;
    }
  finish (cal);
  return g_steal_pointer (&cal);
}

void
tern_calibration_free (TernCalibration *cal)
{
  if (cal == NULL)
    return;
  for (gint32 i = 0; cal->hessians && i < cal->n_layer * TERN_CALIBRATION_N_GROUPS; i++)
    g_free (cal->hessians[i]);
  g_free (cal->hessians);
  if (cal->pool)
    tern_thread_pool_free (cal->pool);
  g_free (cal);
}

gint32
tern_calibration_n_layer (const TernCalibration *cal)
{
  return cal->n_layer;
}

int
tern_calibration_group_of (const char *name, gint32 *layer)
{
  static const struct {
    const char *suffix;
    TernCalibrationGroup group;
  } kinds[] = {
    { "attn_q.weight", TERN_CALIBRATION_QKV },    { "attn_k.weight", TERN_CALIBRATION_QKV },
    { "attn_v.weight", TERN_CALIBRATION_QKV },    { "attn_output.weight", TERN_CALIBRATION_O },
    { "ffn_gate.weight", TERN_CALIBRATION_GATE_UP }, { "ffn_up.weight", TERN_CALIBRATION_GATE_UP },
    { "ffn_down.weight", TERN_CALIBRATION_DOWN },
  };
  int l, end = 0;

  if (sscanf (name, "blk.%d.%n", &l, &end) != 1 || end == 0 || l < 0)
    return -1;
  for (gsize i = 0; i < G_N_ELEMENTS (kinds); i++)
    if (strcmp (name + end, kinds[i].suffix) == 0)
      {
        *layer = l;
        return kinds[i].group;
      }
  return -1;
}

const double *
tern_calibration_hessian (const TernCalibration *cal, gint32 layer, TernCalibrationGroup group, gint64 *n_in)
{
  if (layer < 0 || layer >= cal->n_layer)
    return NULL;
  *n_in = cal->n_in[group];
  return cal->hessians[layer * TERN_CALIBRATION_N_GROUPS + group];
}
