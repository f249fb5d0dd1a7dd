/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <tern/context.h>

G_BEGIN_DECLS

/* Perplexity of a model on a text, by llama.cpp's llama-perplexity
 * convention, so the numbers compare with its own:
 *
 * - the text is tokenized once, with BOS when the model adds one;
 * - it is cut into floor (n_tokens / n_chunk_ctx) chunks of n_chunk_ctx
 *   tokens (a tail shorter than a chunk is not scored);
 * - each chunk's first token is replaced by BOS (when the model adds one)
 *   and the chunk is evaluated from an empty cache in one decode with the
 *   logits of every position;
 * - the logits at positions n_chunk_ctx / 2 .. n_chunk_ctx - 2 are scored
 *   against the token that follows each: the negative log-likelihood of
 *   that token under a log-softmax computed in double precision;
 * - PPL = exp (mean negative log-likelihood over every scored token). */

/* Called after each chunk with its index (0-based), the number of chunks
 * and the perplexity over the chunks scored so far. */
typedef void (*TernPerplexityChunkFn) (gint32 chunk, gint32 n_chunks, double ppl, gpointer user_data);

/* Scores @n_tokens tokens (the whole text, already tokenized with BOS) in
 * chunks of @n_chunk_ctx tokens on @ctx. @ctx's cache must hold a chunk
 * (tern_context_n_ctx (ctx) >= @n_chunk_ctx); it is emptied before each
 * chunk and left holding the last one. Returns the perplexity in @ppl and
 * the count of scored tokens in @n_scored (either may be NULL). Errors:
 * INVALID (@n_chunk_ctx below 3 or larger than the cache, fewer tokens than
 * one chunk), CANCELLED (checked between chunks and inside each decode),
 * and whatever tern_context_decode reports. */
gboolean tern_perplexity_eval_tokens (TernContext *ctx, const TernToken *tokens, gsize n_tokens,
                                      gint32 n_chunk_ctx, TernPerplexityChunkFn chunk_fn,
                                      gpointer user_data, GCancellable *cancellable, double *ppl,
                                      gint64 *n_scored, GError **error);

/* Tokenizes @text (@len bytes, or NUL-terminated when -1) with the
 * context's model tokenizer (adding BOS as the model says), then as
 * tern_perplexity_eval_tokens. Invalid UTF-8 is an INVALID error. */
gboolean tern_perplexity_eval_text (TernContext *ctx, const char *text, gssize len, gint32 n_chunk_ctx,
                                    TernPerplexityChunkFn chunk_fn, gpointer user_data,
                                    GCancellable *cancellable, double *ppl, gint64 *n_scored,
                                    GError **error);

G_END_DECLS
