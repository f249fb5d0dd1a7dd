/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>
#include <tern/error.h>
#include <tern/sampler-params.h>

G_BEGIN_DECLS

/* The token sampler: turns the logits of one step into the next token.
 *
 * The chain, in llama.cpp's default order:
 *
 *   penalties -> top-k -> top-p -> min-p -> temperature -> softmax -> draw
 *
 * - penalties: for each token that occurs in the window of the last
 *   repeat_last_n accepted tokens, count times, the logit is divided by
 *   repeat_penalty when positive and multiplied by it otherwise, then
 *   count * frequency_penalty + presence_penalty is subtracted.
 * - top-k keeps the top_k highest logits (0: all).
 * - top-p keeps the fewest highest tokens whose probabilities, taken at
 *   temperature 1 over what top-k kept, sum to at least top_p (1: all).
 * - min-p keeps the tokens whose probability is at least min_p times the
 *   most probable one's, i.e. logit >= max + log (min_p) (0: all).
 * - temperature divides the logits left, which are then normalised and one
 *   is drawn with the sampler's own random number generator.
 *
 * A temperature <= 0 is greedy: the largest penalised logit, ties going to
 * the lowest token id; greedy draws no random number.
 *
 * Ranking is total: a higher logit first, and among equal logits the lower
 * id first, so every truncation keeps a well-defined set.
 *
 * Logits are read, never written. A NaN logit counts as -inf, and +inf as
 * the largest finite float (tokens at +inf share all the probability).
 * When every logit is -inf (or NaN) the result is token 0, the argmax under
 * the ranking above.
 *
 * Determinism: the generator is xoshiro256** seeded through splitmix64,
 * both fully specified, and every non-greedy tern_sampler_sample() call
 * draws exactly one 64-bit number from it, so the random stream is the
 * same on every platform. The same build given the same logits, settings
 * and seed returns the same tokens every time, including after
 * tern_sampler_save() and tern_sampler_restore().
 *
 * Threads: a TernSampler is not thread-safe; one thread at a time uses it
 * (the engine thread). Its settings, TernSamplerParams, are in
 * tern/sampler-params.h. */

/* One token left after truncation, as tern_sampler_get_candidates() sees it. */
typedef struct {
  gint32 id;
  float logit; /* after penalties, before temperature */
  float p;     /* probability of being drawn */
} TernSamplerCandidate;

typedef struct TernSampler TernSampler;

/* A sampler over a vocabulary of @n_vocab tokens with a copy of @params,
 * which must validate and @n_vocab > 0 (programmer errors: critical
 * warning, NULL). All scratch memory is allocated here, none per call.
 * A random seed is resolved now and reported by get_params. */
TernSampler *tern_sampler_new (const TernSamplerParams *params, gint32 n_vocab);
void tern_sampler_free (TernSampler *sampler);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TernSampler, tern_sampler_free)

/* The parameters in use, owned by the sampler; the seed is the resolved
 * one, never TERN_SAMPLER_SEED_RANDOM. */
const TernSamplerParams *tern_sampler_get_params (const TernSampler *sampler);
gint32 tern_sampler_get_n_vocab (const TernSampler *sampler);

/* Picks the next token from @logits (n_vocab values, not modified). It
 * does not accept the token: call tern_sampler_accept() with it. */
gint32 tern_sampler_sample (TernSampler *sampler, const float *logits);

/* Pushes @token (0 <= token < n_vocab), from the prompt or generated,
 * into the penalty window, dropping the oldest when it is full. */
void tern_sampler_accept (TernSampler *sampler, gint32 token);

/* Empties the penalty window and re-seeds the generator from the seed:
 * the sampler is as tern_sampler_new() left it. */
void tern_sampler_reset (TernSampler *sampler);

/* The tokens the next tern_sampler_sample() on @logits would draw from,
 * sorted by descending probability (ties by id), in *@candidates, owned by
 * the sampler and valid until its next call. Returns their number. Draws
 * no random number. Greedy gives the one token it picks, with p = 1. */
gsize tern_sampler_get_candidates (TernSampler *sampler, const float *logits,
                                   const TernSamplerCandidate **candidates);

/* Appends the whole state (parameters, generator state, penalty window) to
 * @out. Layout, all little-endian:
 *
 *   "TSMP", u32 version (1), u32 n_vocab,
 *   f32 temperature, i32 top_k, f32 top_p, f32 min_p, f32 repeat_penalty,
 *   i32 repeat_last_n, f32 frequency_penalty, f32 presence_penalty,
 *   u64 seed, u64 generator state[4], u32 window length n,
 *   i32 window tokens[n] (oldest first),
 *   u64 FNV-1a 64 hash of all the bytes before it.
 */
void tern_sampler_save (const TernSampler *sampler, GByteArray *out);

/* A new sampler from @len bytes written by tern_sampler_save(), which
 * samples exactly as the saved one would have gone on to. @n_vocab is the
 * vocabulary of the model it will sample for. Returns NULL with a FORMAT
 * error for bytes that are not a valid state (truncated, corrupted,
 * inconsistent) and MISMATCH for a state of another format version or
 * another vocabulary size. Any bytes are safe to pass. */
TernSampler *tern_sampler_restore (const guint8 *data, gsize len, gint32 n_vocab, GError **error);

G_END_DECLS
