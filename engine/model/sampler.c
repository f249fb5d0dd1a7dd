/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <tern/sampler.h>

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define STATE_MAGIC "TSMP"
#define STATE_VERSION 1
/* Bytes before the window tokens, and of the trailing hash. */
#define STATE_HEADER_SIZE (4 + 4 + 4 + 8 * 4 + 8 + 4 * 8 + 4)
#define STATE_HASH_SIZE 8

struct TernSampler {
  TernSamplerParams params;
  gint32 n_vocab;
  guint64 rng[4];          /* xoshiro256** state, never all zero */

  /* Penalty window: a ring of the last repeat_last_n accepted tokens and
   * how many times each token occurs in it. */
  gint32 *window;          /* (repeat_last_n) */
  guint32 window_head;     /* index of the oldest token */
  guint32 window_len;
  gint32 *counts;          /* (n_vocab), NULL when repeat_last_n is 0 */
  gboolean penalize;       /* window on and some penalty not neutral */

  /* Scratch: the candidates, min(top_k, n_vocab) of them or n_vocab.
   * During the chain .p holds unnormalised weights. */
  TernSamplerCandidate *cand;
  gsize cand_cap;
};

/* Random numbers: splitmix64 to seed xoshiro256**, both as published by
 * Blackman and Vigna (https://prng.di.unimi.it/). */

static guint64
splitmix64_next (guint64 *x)
{
  guint64 z = (*x += G_GUINT64_CONSTANT (0x9e3779b97f4a7c15));

  z = (z ^ (z >> 30)) * G_GUINT64_CONSTANT (0xbf58476d1ce4e5b9);
  z = (z ^ (z >> 27)) * G_GUINT64_CONSTANT (0x94d049bb133111eb);
  return z ^ (z >> 31);
}

static inline guint64
rotl (guint64 x, int k)
{
  return (x << k) | (x >> (64 - k));
}

static guint64
xoshiro_next (guint64 s[4])
{
  guint64 result = rotl (s[1] * 5, 7) * 9;
  guint64 t = s[1] << 17;

  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl (s[3], 45);
  return result;
}

static void
seed_rng (TernSampler *s)
{
  guint64 x = s->params.seed;

  for (int i = 0; i < 4; i++)
    s->rng[i] = splitmix64_next (&x);
}

/* Uniform in [0, 1): the top 53 bits. */
static double
rng_uniform (TernSampler *s)
{
  return (double) (xoshiro_next (s->rng) >> 11) * 0x1.0p-53;
}

/* Construction */

/* A sampler with @params taken as they are (seed included), freshly seeded. */
static TernSampler *
sampler_alloc (const TernSamplerParams *params, gint32 n_vocab)
{
  TernSampler *s = g_new0 (TernSampler, 1);

  s->params = *params;
  s->n_vocab = n_vocab;
  if (params->repeat_last_n > 0)
    {
      s->window = g_new (gint32, params->repeat_last_n);
      s->counts = g_new0 (gint32, n_vocab);
      s->penalize = params->repeat_penalty != 1.0f
                    || params->frequency_penalty != 0.0f
                    || params->presence_penalty != 0.0f;
    }
  s->cand_cap = params->top_k > 0 && params->top_k < n_vocab ? (gsize) params->top_k
                                                               : (gsize) n_vocab;
  s->cand = g_new (TernSamplerCandidate, s->cand_cap);
  seed_rng (s);
  return s;
}

TernSampler *
tern_sampler_new (const TernSamplerParams *params, gint32 n_vocab)
{
  TernSamplerParams p;

  g_return_val_if_fail (params != NULL, NULL);
  g_return_val_if_fail (tern_sampler_params_validate (params, NULL), NULL);
  g_return_val_if_fail (n_vocab > 0, NULL);

  p = *params;
  while (p.seed == TERN_SAMPLER_SEED_RANDOM)
    p.seed = (guint64) g_random_int () << 32 | g_random_int ();
  return sampler_alloc (&p, n_vocab);
}

void
tern_sampler_free (TernSampler *sampler)
{
  if (sampler == NULL)
    return;
  g_free (sampler->window);
  g_free (sampler->counts);
  g_free (sampler->cand);
  g_free (sampler);
}

const TernSamplerParams *
tern_sampler_get_params (const TernSampler *sampler)
{
  g_return_val_if_fail (sampler != NULL, NULL);
  return &sampler->params;
}

gint32
tern_sampler_get_n_vocab (const TernSampler *sampler)
{
  g_return_val_if_fail (sampler != NULL, 0);
  return sampler->n_vocab;
}

/* Penalty window */

static void
window_push (TernSampler *s, gint32 token)
{
  guint32 cap = (guint32) s->params.repeat_last_n;

  if (s->window_len < cap)
    {
      s->window[(s->window_head + s->window_len) % cap] = token;
      s->window_len++;
    }
  else
    {
      s->counts[s->window[s->window_head]]--;
      s->window[s->window_head] = token;
      s->window_head = (s->window_head + 1) % cap;
    }
  s->counts[token]++;
}

void
tern_sampler_accept (TernSampler *sampler, gint32 token)
{
  g_return_if_fail (sampler != NULL);
  g_return_if_fail (token >= 0 && token < sampler->n_vocab);

  if (sampler->params.repeat_last_n > 0)
    window_push (sampler, token);
}

void
tern_sampler_reset (TernSampler *sampler)
{
  g_return_if_fail (sampler != NULL);

  /* The window is small next to the vocabulary: undo its counts one by one. */
  for (guint32 i = 0; i < sampler->window_len; i++)
    sampler->counts[sampler->window[(sampler->window_head + i) % sampler->params.repeat_last_n]]--;
  sampler->window_head = 0;
  sampler->window_len = 0;
  seed_rng (sampler);
}

/* The chain */

/* NaN ranks as -inf; +inf as FLT_MAX so that differences stay finite. */
static inline float
sanitize (float v)
{
  if (G_LIKELY (v <= FLT_MAX))
    return v;
  return isnan (v) ? -INFINITY : FLT_MAX;
}

/* The penalised logit of a token occurring @count > 0 times in the window,
 * with llama.cpp's arithmetic. */
static inline float
penalized (const TernSamplerParams *p, float v, gint32 count)
{
  if (v <= 0.0f)
    v *= p->repeat_penalty;
  else
    v /= p->repeat_penalty;
  v -= (float) count * p->frequency_penalty + p->presence_penalty;
  return sanitize (v);
}

/* The logit of token @i after sanitizing and penalties. */
static inline float
logit_at (const TernSampler *s, const gint32 *counts, const float *logits, gint32 i)
{
  float v = sanitize (logits[i]);

  if (counts != NULL && counts[i] != 0)
    v = penalized (&s->params, v, counts[i]);
  return v;
}

/* Whether @a ranks before @b: higher logit, then lower id. */
static inline gboolean
ranks_before (const TernSamplerCandidate *a, const TernSamplerCandidate *b)
{
  return a->logit > b->logit || (a->logit == b->logit && a->id < b->id);
}

/* The hot loops below compare a raw logit first and sanitize only one that
 * would win: NaN never wins a comparison, and +inf must become FLT_MAX to
 * tie with it. They are inlined twice, with and without the penalty
 * counts, so that the common case carries no penalty test. */

static G_ALWAYS_INLINE inline gint32
argmax_impl (const TernSampler *s, const gint32 *counts, const float *logits)
{
  gint32 best = 0;
  float best_v = logit_at (s, counts, logits, 0);

  /* Strictly greater: ties keep the lowest id. */
  for (gint32 i = 1; i < s->n_vocab; i++)
    {
      float v = logits[i];
      if (counts != NULL && counts[i] != 0)
        v = penalized (&s->params, sanitize (v), counts[i]);
      if (G_UNLIKELY (v > best_v) && (v = sanitize (v)) > best_v)
        best = i, best_v = v;
    }
  return best;
}

static gint32
argmax (const TernSampler *s, const float *logits)
{
  return s->penalize ? argmax_impl (s, s->counts, logits) : argmax_impl (s, NULL, logits);
}

/* Min-heap on rank: the root is the worst of the candidates kept. */
static void
heap_sift_down (TernSamplerCandidate *h, gsize n, gsize i)
{
  TernSamplerCandidate x = h[i];

  for (;;)
    {
      gsize child = 2 * i + 1;
      if (child >= n)
        break;
      if (child + 1 < n && ranks_before (&h[child], &h[child + 1]))
        child++;
      if (!ranks_before (&x, &h[child]))
        break;
      h[i] = h[child];
      i = child;
    }
  h[i] = x;
}

/* Fills s->cand with the cand_cap best-ranked tokens, in heap order. */
static G_ALWAYS_INLINE inline void
collect_top_k (TernSampler *s, const gint32 *counts, const float *logits)
{
  TernSamplerCandidate *c = s->cand;
  gsize k = s->cand_cap;

  for (gsize i = 0; i < k; i++)
    c[i] = (TernSamplerCandidate) { (gint32) i, logit_at (s, counts, logits, (gint32) i), 0.0f };
  if (k == (gsize) s->n_vocab)
    return;

  for (gsize i = k / 2; i-- > 0;)
    heap_sift_down (c, k, i);
  /* A later token has a higher id than any kept, so it must beat the
   * worst kept logit strictly to rank before it. */
  for (gint32 i = (gint32) k; i < s->n_vocab; i++)
    {
      float v = logits[i];
      if (counts != NULL && counts[i] != 0)
        v = penalized (&s->params, sanitize (v), counts[i]);
      if (G_UNLIKELY (v > c[0].logit) && (v = sanitize (v)) > c[0].logit)
        {
          c[0] = (TernSamplerCandidate) { i, v, 0.0f };
          heap_sift_down (c, k, 0);
        }
    }
}

/* Penalties and top-k in one pass over the vocabulary: fills s->cand and
 * returns how many, with the largest logit in *@max. */
static gsize
collect (TernSampler *s, const float *logits, float *max)
{
  float m = -INFINITY;

  if (s->penalize)
    collect_top_k (s, s->counts, logits);
  else
    collect_top_k (s, NULL, logits);
  for (gsize i = 0; i < s->cand_cap; i++)
    m = MAX (m, s->cand[i].logit);
  *max = m;
  return s->cand_cap;
}

static inline void
swap_cand (TernSamplerCandidate *a, TernSamplerCandidate *b)
{
  TernSamplerCandidate t = *a;
  *a = *b;
  *b = t;
}

/* Moves to the front of @c the fewest best-ranked candidates whose weights
 * (.p) sum to at least @need and returns how many; all @n when they never
 * do. A quickselect that decides at each pivot on which side the boundary
 * lies, so expected O(n) without sorting. */
static gsize
select_mass (TernSamplerCandidate *c, gsize n, double need)
{
  gsize lo = 0, hi = n;

  if (need <= 0.0)
    {
      /* llama.cpp keeps the best token even for top_p = 0. */
      for (gsize i = 1; i < n; i++)
        if (ranks_before (&c[i], &c[0]))
          swap_cand (&c[0], &c[i]);
      return MIN (n, 1);
    }

  /* Invariant: c[0, lo) are kept, c[hi, n) are not, need > 0 is the
   * weight still wanted. */
  while (lo < hi)
    {
      gsize mid = lo + (hi - lo) / 2, last = hi - 1, g = lo;
      double upper = 0.0;

      /* Median of three, moved to c[last] as the pivot. */
      if (ranks_before (&c[mid], &c[lo]))
        swap_cand (&c[mid], &c[lo]);
      if (ranks_before (&c[last], &c[lo]))
        swap_cand (&c[last], &c[lo]);
      if (ranks_before (&c[mid], &c[last]))
        swap_cand (&c[mid], &c[last]);

      for (gsize i = lo; i < last; i++)
        if (ranks_before (&c[i], &c[last]))
          {
            swap_cand (&c[i], &c[g]);
            upper += c[g].p;
            g++;
          }
      swap_cand (&c[g], &c[last]);

      if (upper >= need)
        hi = g;
      else
        {
          need -= upper + c[g].p;
          lo = g + 1;
          if (need <= 0.0)
            return lo;
        }
    }
  return lo;
}

/* Runs the chain up to the draw: leaves the final candidates in s->cand
 * with unnormalised probabilities in .p, their sum in *@total, and
 * returns how many. Not for greedy. */
static gsize
run_chain (TernSampler *s, const float *logits, double *total)
{
  const TernSamplerParams *p = &s->params;
  TernSamplerCandidate *c = s->cand;
  float max;
  gsize n = collect (s, logits, &max);
  double sum = 0.0;

  if (max == -INFINITY)
    {
      c[0] = (TernSamplerCandidate) { 0, -INFINITY, 1.0f };
      *total = 1.0;
      return 1;
    }

  /* Top-p before min-p, as the chain says; but min-p only keeps a prefix
   * of the ranking, and so does top-p, so filtering min-p first leaves the
   * same set and top-p has less to look at. Top-p's probabilities are
   * still normalised over everything top-k kept. */
  if (p->top_p < 1.0f)
    for (gsize i = 0; i < n; i++)
      {
        c[i].p = expf (c[i].logit - max);
        sum += c[i].p;
      }
  if (p->min_p > 0.0f)
    {
      float threshold = max + logf (p->min_p);
      gsize kept = 0;

      for (gsize i = 0; i < n; i++)
        if (c[i].logit >= threshold)
          c[kept++] = c[i];
      n = kept;
    }
  if (p->top_p < 1.0f)
    n = select_mass (c, n, (double) p->top_p * sum);

  /* The best token survives every truncation, so max is still the max. */
  sum = 0.0;
  for (gsize i = 0; i < n; i++)
    {
      c[i].p = expf ((c[i].logit - max) / p->temperature);
      sum += c[i].p;
    }
  *total = sum;
  return n;
}

gint32
tern_sampler_sample (TernSampler *sampler, const float *logits)
{
  const TernSamplerCandidate *c;
  double target, cum = 0.0;
  gsize n;
  gint32 last = 0;

  g_return_val_if_fail (sampler != NULL, 0);
  g_return_val_if_fail (logits != NULL, 0);

  if (sampler->params.temperature <= 0.0f)
    return argmax (sampler, logits);

  /* Drawn first, so that every call advances the generator once. */
  target = rng_uniform (sampler);
  n = run_chain (sampler, logits, &cum);
  target *= cum;
  c = sampler->cand;

  cum = 0.0;
  for (gsize i = 0; i < n; i++)
    {
      if (c[i].p <= 0.0f)
        continue;
      cum += c[i].p;
      last = c[i].id;
      if (target < cum)
        return c[i].id;
    }
  /* Rounding put target at the very end: the last token with weight. */
  return last;
}

static int
compare_rank (const void *a, const void *b)
{
  return ranks_before (a, b) ? -1 : ranks_before (b, a) ? 1 : 0;
}

gsize
tern_sampler_get_candidates (TernSampler *sampler, const float *logits,
                             const TernSamplerCandidate **candidates)
{
  TernSamplerCandidate *c;
  double total;
  gsize n;

  g_return_val_if_fail (sampler != NULL, 0);
  g_return_val_if_fail (logits != NULL, 0);
  g_return_val_if_fail (candidates != NULL, 0);

  c = sampler->cand;
  if (sampler->params.temperature <= 0.0f)
    {
      gint32 best = argmax (sampler, logits);
      c[0] = (TernSamplerCandidate) {
        best, logit_at (sampler, sampler->penalize ? sampler->counts : NULL, logits, best), 1.0f
      };
      n = 1;
    }
  else
    {
      n = run_chain (sampler, logits, &total);
      for (gsize i = 0; i < n; i++)
        c[i].p = (float) (c[i].p / total);
      qsort (c, n, sizeof *c, compare_rank);
    }
  *candidates = c;
  return n;
}

/* Saved state */

/* FNV-1a, 64 bits: every single-byte change alters it. */
static guint64
fnv1a64 (const guint8 *data, gsize len)
{
  guint64 h = G_GUINT64_CONSTANT (0xcbf29ce484222325);

  for (gsize i = 0; i < len; i++)
    {
      h ^= data[i];
      h *= G_GUINT64_CONSTANT (0x100000001b3);
    }
  return h;
}

static void
put_u32 (GByteArray *out, guint32 v)
{
  guint8 b[4] = { v, v >> 8, v >> 16, v >> 24 };
  g_byte_array_append (out, b, sizeof b);
}

static void
put_u64 (GByteArray *out, guint64 v)
{
  put_u32 (out, (guint32) v);
  put_u32 (out, (guint32) (v >> 32));
}

static void
put_f32 (GByteArray *out, float v)
{
  guint32 u;
  memcpy (&u, &v, sizeof u);
  put_u32 (out, u);
}

void
tern_sampler_save (const TernSampler *sampler, GByteArray *out)
{
  const TernSamplerParams *p;
  guint start;

  g_return_if_fail (sampler != NULL);
  g_return_if_fail (out != NULL);

  p = &sampler->params;
  start = out->len;
  g_byte_array_append (out, (const guint8 *) STATE_MAGIC, 4);
  put_u32 (out, STATE_VERSION);
  put_u32 (out, (guint32) sampler->n_vocab);
  put_f32 (out, p->temperature);
  put_u32 (out, (guint32) p->top_k);
  put_f32 (out, p->top_p);
  put_f32 (out, p->min_p);
  put_f32 (out, p->repeat_penalty);
  put_u32 (out, (guint32) p->repeat_last_n);
  put_f32 (out, p->frequency_penalty);
  put_f32 (out, p->presence_penalty);
  put_u64 (out, p->seed);
  for (int i = 0; i < 4; i++)
    put_u64 (out, sampler->rng[i]);
  put_u32 (out, sampler->window_len);
  for (guint32 i = 0; i < sampler->window_len; i++)
    put_u32 (out, (guint32) sampler->window[(sampler->window_head + i) % p->repeat_last_n]);
  put_u64 (out, fnv1a64 (out->data + start, out->len - start));
}

/* Readers over bytes whose length was checked beforehand. */
static guint32
get_u32 (const guint8 **at)
{
  const guint8 *b = *at;
  *at += 4;
  return (guint32) b[0] | (guint32) b[1] << 8 | (guint32) b[2] << 16 | (guint32) b[3] << 24;
}

static guint64
get_u64 (const guint8 **at)
{
  guint64 lo = get_u32 (at);
  return lo | (guint64) get_u32 (at) << 32;
}

static float
get_f32 (const guint8 **at)
{
  guint32 u = get_u32 (at);
  float v;
  memcpy (&v, &u, sizeof v);
  return v;
}

TernSampler *
tern_sampler_restore (const guint8 *data, gsize len, gint32 n_vocab, GError **error)
{
  g_autoptr (TernSampler) s = NULL;
  g_autoptr (GError) invalid = NULL;
  TernSamplerParams p;
  const guint8 *at;
  guint32 version, saved_vocab, window_len;
  guint64 rng[4];

  g_return_val_if_fail (data != NULL || len == 0, NULL);
  g_return_val_if_fail (n_vocab > 0, NULL);

  if (len < 8 || memcmp (data, STATE_MAGIC, 4) != 0)
    {
      g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_FORMAT,
                   "Not a saved sampler state");
      return NULL;
    }
  at = data + 4;
  version = get_u32 (&at);
  if (version != STATE_VERSION)
    {
      g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_MISMATCH,
                   "Saved sampler state has version %u; this build reads version %u",
                   version, STATE_VERSION);
      return NULL;
    }
  if (len < STATE_HEADER_SIZE + STATE_HASH_SIZE)
    goto truncated;
  at = data + STATE_HEADER_SIZE - 4;
  window_len = get_u32 (&at);
  if (window_len > TERN_SAMPLER_MAX_LAST_N)
    {
      g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_FORMAT,
                   "Saved sampler state has a window of %u tokens, more than %d",
                   window_len, TERN_SAMPLER_MAX_LAST_N);
      return NULL;
    }
  if (len < STATE_HEADER_SIZE + 4 * (gsize) window_len + STATE_HASH_SIZE)
    goto truncated;
  if (len > STATE_HEADER_SIZE + 4 * (gsize) window_len + STATE_HASH_SIZE)
    {
      g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_FORMAT,
                   "Saved sampler state has %" G_GSIZE_FORMAT " bytes after its end",
                   len - (STATE_HEADER_SIZE + 4 * (gsize) window_len + STATE_HASH_SIZE));
      return NULL;
    }
  at = data + len - STATE_HASH_SIZE;
  if (get_u64 (&at) != fnv1a64 (data, len - STATE_HASH_SIZE))
    {
      g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_FORMAT,
                   "Saved sampler state is corrupted (hash mismatch)");
      return NULL;
    }

  at = data + 8;
  saved_vocab = get_u32 (&at);
  p.temperature = get_f32 (&at);
  p.top_k = (gint32) get_u32 (&at);
  p.top_p = get_f32 (&at);
  p.min_p = get_f32 (&at);
  p.repeat_penalty = get_f32 (&at);
  p.repeat_last_n = (gint32) get_u32 (&at);
  p.frequency_penalty = get_f32 (&at);
  p.presence_penalty = get_f32 (&at);
  p.seed = get_u64 (&at);
  for (int i = 0; i < 4; i++)
    rng[i] = get_u64 (&at);
  at += 4; /* window_len, read above */

  if (saved_vocab != (guint32) n_vocab)
    {
      g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_MISMATCH,
                   "Saved sampler state is for a vocabulary of %u tokens, not %d",
                   saved_vocab, n_vocab);
      return NULL;
    }
  if (!tern_sampler_params_validate (&p, &invalid))
    {
      g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_FORMAT,
                   "Saved sampler state is invalid: %s", invalid->message);
      return NULL;
    }
  if (p.seed == TERN_SAMPLER_SEED_RANDOM || (rng[0] | rng[1] | rng[2] | rng[3]) == 0
      || window_len > (guint32) p.repeat_last_n)
    {
      g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_FORMAT,
                   "Saved sampler state is inconsistent");
      return NULL;
    }

  s = sampler_alloc (&p, n_vocab);
  memcpy (s->rng, rng, sizeof rng);
  for (guint32 i = 0; i < window_len; i++)
    {
      gint32 token = (gint32) get_u32 (&at);
      if (token < 0 || token >= n_vocab)
        {
          g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_FORMAT,
                       "Saved sampler state holds token %d, outside the vocabulary of %d",
                       token, n_vocab);
          return NULL;
        }
      window_push (s, token);
    }
  return g_steal_pointer (&s);

truncated:
  g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_FORMAT,
               "Saved sampler state is truncated (%" G_GSIZE_FORMAT " bytes)", len);
  return NULL;
}
