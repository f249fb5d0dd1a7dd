/* SPDX-License-Identifier: GPL-3.0-or-later */
/* What a compression cost: perplexity and generation speed of the model
 * before and after, and a verdict in plain words. */
#include <tern/compress.h>
#include <tern/context.h>
#include <tern/error.h>
#include <tern/perplexity.h>
#include <tern/tokenizer.h>


/* Chunks of at most this many tokens: llama-perplexity's default. */
#define EVAL_MAX_CTX 512
/* Decodes before generation is timed: the first ones wake the threads. */
#define EVAL_WARMUP 4
/* The verdict's bounds on the ratio of the perplexities. */
#define USABLE_RATIO 1.10
#define DEGRADED_RATIO 2.0

typedef struct {
  TernProgressFn progress;
  gpointer progress_data;
  double start, span; /* the share of the whole this model's perplexity covers */
} Share;

static void
chunk_done (gint32 chunk, gint32 n_chunks, double ppl, gpointer data)
{
  Share *s = data;

  (void) ppl;
  if (s->progress)
    s->progress (s->start + s->span * (chunk + 1) / n_chunks, s->progress_data);
}

/* The text's tokens as llama-perplexity reads them (BOS first where the
 * model wants one), cut to whole chunks of @n_ctx within the limit. */
static GArray *
text_tokens (const TernModel *model, const char *text, gssize len, gint32 n_ctx, GError **error)
{
  const TernTokenizer *tok = tern_model_tokenizer (model);
  g_autoptr (GArray) tokens = g_array_new (FALSE, FALSE, sizeof (TernToken));
  gsize keep;

  if (tern_tokenizer_add_bos (tok) && tern_tokenizer_bos (tok) >= 0)
    {
      TernToken bos = tern_tokenizer_bos (tok);
      g_array_append_val (tokens, bos);
    }
  if (!tern_tokenizer_encode (tok, text, len, 0, tokens, error))
    return NULL;
  keep = MIN (tokens->len, TERN_COMPRESS_EVAL_MAX_TOKENS) / (gsize) n_ctx * (gsize) n_ctx;
  if (keep == 0)
    {
      g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_INVALID,
                   "the text has %u tokens: it takes at least %d to measure perplexity", tokens->len, n_ctx);
      return NULL;
    }
  g_array_set_size (tokens, (guint) keep);
  return g_steal_pointer (&tokens);
}

/* Perplexity of the model at @path on @text and its generation speed. */
static gboolean
measure_model (const char *path, const char *text, gssize len, guint n_threads, Share *share,
               GCancellable *cancellable, gint32 *n_ctx_out, gint64 *n_scored, double *ppl, double *tps,
               GError **error)
{
  g_autoptr (TernModel) model = tern_model_load (path, NULL, NULL, cancellable, error);
  g_autoptr (TernContext) ctx = NULL;
  g_autoptr (GArray) tokens = NULL;
  TernContextParams params;
  gint32 n_ctx, n_gen;
  gint64 start;

  if (model == NULL)
    return FALSE;
  /* Half the training context: the positions scored (a chunk's second
   * half) stay well inside what the model learnt. */
  n_ctx = tern_model_hparams (model)->n_ctx_train / 2;
  n_ctx = n_ctx >= 16 ? MIN (n_ctx, EVAL_MAX_CTX) : EVAL_MAX_CTX;
  tern_context_params_init (&params);
  params.n_ctx = n_ctx;
  params.n_threads = n_threads;
  ctx = tern_context_new (model, &params, error);
  if (ctx == NULL)
    return FALSE;
  tokens = text_tokens (model, text, len, n_ctx, error);
  if (tokens == NULL)
    return FALSE;
  if (!tern_perplexity_eval_tokens (ctx, (const TernToken *) tokens->data, tokens->len, n_ctx, chunk_done, share,
                                    cancellable, ppl, n_scored, error))
    return FALSE;

  /* Generation: one token per decode, as a reply is made, from an empty
   * cache; the text's tokens stand in for sampled ones. */
  n_gen = MIN (TERN_COMPRESS_EVAL_GENERATE, n_ctx);
  start = 0;
  for (gint32 i = -EVAL_WARMUP; i < n_gen; i++)
    {
      if (i <= 0)
        {
          tern_context_truncate (ctx, 0);
          start = g_get_monotonic_time ();
        }
      if (!tern_context_decode (ctx, &g_array_index (tokens, TernToken, MAX (i, 0)), 1, FALSE, NULL, NULL, cancellable,
                                error))
        return FALSE;
    }
  *tps = n_gen / ((double) MAX (g_get_monotonic_time () - start, 1) / G_USEC_PER_SEC);
  *n_ctx_out = n_ctx;
  return TRUE;
}

gboolean
tern_compress_evaluate (TernCompressReport *report, const char *text, gssize len, guint n_threads,
                        TernProgressFn progress, gpointer progress_data, GCancellable *cancellable, GError **error)
{
  Share before = { progress, progress_data, 0.0, 0.5 }, after = { progress, progress_data, 0.5, 0.5 };
  double ppl_before, ppl_after, tps_before, tps_after, ratio;
  gint32 n_ctx;
  gint64 n_scored;

  g_return_val_if_fail (report != NULL && text != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!measure_model (report->in_path, text, len, n_threads, &before, cancellable, &n_ctx, &n_scored, &ppl_before,
                      &tps_before, error) ||
      !measure_model (report->out_path, text, len, n_threads, &after, cancellable, &n_ctx, &n_scored, &ppl_after,
                      &tps_after, error))
    return FALSE;

  report->eval_ctx = n_ctx;
  report->eval_tokens = n_scored;
  report->ppl_before = ppl_before;
  report->ppl_after = ppl_after;
  report->tps_before = tps_before;
  report->tps_after = tps_after;
  ratio = ppl_after / ppl_before;
  report->verdict = ratio <= USABLE_RATIO     ? TERN_COMPRESS_USABLE
                    : ratio <= DEGRADED_RATIO ? TERN_COMPRESS_DEGRADED
                                              : TERN_COMPRESS_UNUSABLE;
  return TRUE;
}

char *
tern_compress_report_verdict (const TernCompressReport *report)
{
  double ratio;

  g_return_val_if_fail (report != NULL, NULL);

  if (report->verdict == TERN_COMPRESS_NOT_EVALUATED)
    return g_strdup ("not measured: the quality of the compressed model is unknown");
  ratio = report->ppl_after / report->ppl_before;
  switch (report->verdict)
    {
    case TERN_COMPRESS_USABLE:
      return g_strdup_printf ("usable: within 10%% of the original's perplexity (%.2f, was %.2f)", report->ppl_after,
                              report->ppl_before);
    case TERN_COMPRESS_DEGRADED:
      return g_strdup_printf ("degraded: perplexity %.0f%% higher than the original's (%.2f, was %.2f); "
                              "check its answers before relying on it",
                              100.0 * (ratio - 1.0), report->ppl_after, report->ppl_before);
    default:
      return g_strdup_printf ("unusable: perplexity %.1f× the original's (%.2f, was %.2f); use a model trained "
                              "for ternary weights, such as BitNet b1.58 2B4T or Falcon3 1.58-bit",
                              ratio, report->ppl_after, report->ppl_before);
    }
}
