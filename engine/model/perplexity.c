/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Perplexity by llama.cpp's llama-perplexity convention (see perplexity.h). */
#include <tern/perplexity.h>

#include <math.h>
#include <string.h>
#include <tern/error.h>

/* The negative log-likelihood of @target under softmax (@logits). In double
 * precision: the sum runs over the whole vocabulary, and the scores of
 * thousands of positions are added up afterwards. */
static double
token_nll (const float *logits, gint32 n_vocab, TernToken target)
{
  float max = logits[0];
  for (gint32 i = 1; i < n_vocab; i++)
    max = MAX (max, logits[i]);

  double sum = 0.0;
  for (gint32 i = 0; i < n_vocab; i++)
    sum += exp ((double) logits[i] - max);
  return log (sum) - ((double) logits[target] - max);
}

gboolean
tern_perplexity_eval_tokens (TernContext *ctx, const TernToken *tokens, gsize n_tokens, gint32 n_chunk_ctx,
                             TernPerplexityChunkFn chunk_fn, gpointer user_data, GCancellable *cancellable,
                             double *ppl, gint64 *n_scored, GError **error)
{
  const TernModel *model = tern_context_model (ctx);
  const TernTokenizer *tok = tern_model_tokenizer (model);
  gint32 n_vocab = tern_model_hparams (model)->n_vocab;

  /* A chunk of 3 tokens scores one position; a smaller one none. */
  if (n_chunk_ctx < 3)
    {
      g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_INVALID,
                   "perplexity: chunks of %d tokens are too small to score (3 at least)", n_chunk_ctx);
      return FALSE;
    }
  if (n_chunk_ctx > tern_context_n_ctx (ctx))
    {
      g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_INVALID,
                   "perplexity: chunks of %d tokens do not fit in a context of %d tokens", n_chunk_ctx,
                   tern_context_n_ctx (ctx));
      return FALSE;
    }
  if (n_tokens < (gsize) n_chunk_ctx)
    {
      g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_INVALID,
                   "perplexity: the text is %" G_GSIZE_FORMAT " tokens, too short for one chunk of %d tokens",
                   n_tokens, n_chunk_ctx);
      return FALSE;
    }
  for (gsize i = 0; i < n_tokens; i++)
    if (tokens[i] < 0 || tokens[i] >= n_vocab)
      {
        g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_INVALID,
                     "perplexity: token %d at position %" G_GSIZE_FORMAT " is outside the vocabulary (%d tokens)",
                     tokens[i], i, n_vocab);
        return FALSE;
      }

  gint32 n_chunks = (gint32) MIN (n_tokens / n_chunk_ctx, (gsize) G_MAXINT32);
  gint32 first = n_chunk_ctx / 2;
  TernToken bos = tern_tokenizer_bos (tok);
  gboolean replace_bos = tern_tokenizer_add_bos (tok) && bos >= 0;
  g_autofree TernToken *chunk = g_try_new (TernToken, n_chunk_ctx);
  double nll_sum = 0.0;
  gint64 count = 0;

  if (chunk == NULL)
    {
      g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_NOMEM,
                   "perplexity: not enough memory for chunks of %d tokens: choose smaller chunks", n_chunk_ctx);
      return FALSE;
    }

  for (gint32 c = 0; c < n_chunks; c++)
    {
      if (g_cancellable_is_cancelled (cancellable))
        {
          g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_CANCELLED, "perplexity: cancelled");
          return FALSE;
        }

      const TernToken *src = tokens + (gsize) c * n_chunk_ctx;
      memcpy (chunk, src, sizeof (TernToken) * n_chunk_ctx);
      if (replace_bos)
        chunk[0] = bos;

      tern_context_truncate (ctx, 0);
      if (!tern_context_decode (ctx, chunk, n_chunk_ctx, TRUE, NULL, NULL, cancellable, error))
        return FALSE;

      /* The logits at position i predict the token at i + 1. */
      for (gint32 i = first; i < n_chunk_ctx - 1; i++)
        nll_sum += token_nll (tern_context_logits (ctx, i), n_vocab, chunk[i + 1]);
      count += n_chunk_ctx - 1 - first;

      if (chunk_fn)
        chunk_fn (c, n_chunks, exp (nll_sum / count), user_data);
    }

  if (ppl)
    *ppl = exp (nll_sum / count);
  if (n_scored)
    *n_scored = count;
  return TRUE;
}

gboolean
tern_perplexity_eval_text (TernContext *ctx, const char *text, gssize len, gint32 n_chunk_ctx,
                           TernPerplexityChunkFn chunk_fn, gpointer user_data, GCancellable *cancellable,
                           double *ppl, gint64 *n_scored, GError **error)
{
  const TernTokenizer *tok = tern_model_tokenizer (tern_context_model (ctx));
  g_autoptr (GArray) tokens = g_array_new (FALSE, FALSE, sizeof (TernToken));

  if (!tern_tokenizer_encode (tok, text, len, TERN_TOKENIZE_ADD_SPECIAL, tokens, error))
    return FALSE;
  return tern_perplexity_eval_tokens (ctx, (const TernToken *) tokens->data, tokens->len, n_chunk_ctx, chunk_fn,
                                      user_data, cancellable, ppl, n_scored, error);
}
