/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <tern/error.h>
#include <tern/sampler.h>

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Parameters with every truncation off, a fixed seed and no penalties. */
static TernSamplerParams
plain_params (float temperature, guint64 seed)
{
  TernSamplerParams p;

  tern_sampler_params_init (&p);
  p.temperature = temperature;
  p.top_k = 0;
  p.top_p = 1.0f;
  p.min_p = 0.0f;
  p.repeat_last_n = 0;
  p.seed = seed;
  return p;
}

/* @n logits drawn from a normal distribution of deviation @sigma. */
static float *
random_logits (guint32 seed, gsize n, double sigma)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (seed);
  float *logits = g_new (float, n);

  for (gsize i = 0; i < n; i++)
    {
      /* Box-Muller. */
      double u = g_rand_double_range (rand, 1e-12, 1.0);
      double v = g_rand_double (rand);
      logits[i] = (float) (sigma * sqrt (-2.0 * log (u)) * cos (2.0 * G_PI * v));
    }
  return logits;
}

static gint32
reference_argmax (const float *logits, gsize n)
{
  gint32 best = 0;

  for (gsize i = 1; i < n; i++)
    if (logits[i] > logits[best])
      best = (gint32) i;
  return best;
}

static void
test_greedy (void)
{
  TernSamplerParams p = plain_params (0.0f, 1);
  g_autoptr (TernSampler) s = tern_sampler_new (&p, 1000);

  for (guint32 seed = 1; seed <= 20; seed++)
    {
      g_autofree float *logits = random_logits (seed, 1000, 3.0);
      g_assert_cmpint (tern_sampler_sample (s, logits), ==, reference_argmax (logits, 1000));
    }
}

static void
test_greedy_ties (void)
{
  TernSamplerParams p = plain_params (0.0f, 1);
  g_autoptr (TernSampler) s = tern_sampler_new (&p, 6);
  const float logits[6] = { 1.0f, 4.0f, 2.0f, 4.0f, 4.0f, 0.0f };
  const float flat[6] = { 0 };
  const TernSamplerCandidate *c;

  g_assert_cmpint (tern_sampler_sample (s, logits), ==, 1);
  g_assert_cmpint (tern_sampler_sample (s, flat), ==, 0);
  g_assert_cmpuint (tern_sampler_get_candidates (s, logits, &c), ==, 1);
  g_assert_cmpint (c[0].id, ==, 1);
  g_assert_cmpfloat (c[0].p, ==, 1.0f);
}

/* Temperature <= 0 is greedy, draws no random number, and ignores the
 * truncation settings (which never remove the argmax anyway). */
static void
test_greedy_temperature (void)
{
  TernSamplerParams p;
  g_autoptr (GByteArray) before = g_byte_array_new ();
  g_autoptr (GByteArray) after = g_byte_array_new ();
  g_autoptr (TernSampler) zero = NULL;
  g_autoptr (TernSampler) negative = NULL;

  tern_sampler_params_init (&p);
  p.seed = 7;
  p.temperature = 0.0f;
  zero = tern_sampler_new (&p, 500);
  p.temperature = -1.0f;
  negative = tern_sampler_new (&p, 500);

  tern_sampler_save (zero, before);
  for (guint32 seed = 1; seed <= 20; seed++)
    {
      g_autofree float *logits = random_logits (seed, 500, 2.0);
      gint32 best = reference_argmax (logits, 500);
      g_assert_cmpint (tern_sampler_sample (zero, logits), ==, best);
      g_assert_cmpint (tern_sampler_sample (negative, logits), ==, best);
    }
  tern_sampler_save (zero, after);
  g_assert_cmpmem (before->data, before->len, after->data, after->len);
}

static void
test_top_k_one (void)
{
  TernSamplerParams p = plain_params (1.5f, 3);
  g_autoptr (TernSampler) s = NULL;

  p.top_k = 1;
  s = tern_sampler_new (&p, 2000);
  for (guint32 seed = 1; seed <= 50; seed++)
    {
      g_autofree float *logits = random_logits (seed, 2000, 0.5);
      g_assert_cmpint (tern_sampler_sample (s, logits), ==, reference_argmax (logits, 2000));
    }
}

/* The reference chain, by full sort: top-k, top-p, min-p in order. */

static const float *sort_logits;

static int
compare_ids (const void *a, const void *b)
{
  gint32 x = *(const gint32 *) a, y = *(const gint32 *) b;

  if (sort_logits[x] != sort_logits[y])
    return sort_logits[x] > sort_logits[y] ? -1 : 1;
  return x < y ? -1 : x > y;
}

/* The ids kept, in rank order, written to @out; returns how many. */
static gsize
reference_chain (const float *logits, gsize n, const TernSamplerParams *p, gint32 *out)
{
  gsize kept = n;
  double sum = 0.0, cum = 0.0;
  float max;

  for (gsize i = 0; i < n; i++)
    out[i] = (gint32) i;
  sort_logits = logits;
  qsort (out, n, sizeof *out, compare_ids);
  max = logits[out[0]];

  if (p->top_k > 0 && (gsize) p->top_k < kept)
    kept = (gsize) p->top_k;
  if (p->top_p < 1.0f)
    {
      for (gsize i = 0; i < kept; i++)
        sum += expf (logits[out[i]] - max);
      for (gsize i = 0; i < kept; i++)
        {
          cum += expf (logits[out[i]] - max);
          if (cum >= p->top_p * sum)
            {
              kept = i + 1;
              break;
            }
        }
    }
  if (p->min_p > 0.0f)
    for (gsize i = 1; i < kept; i++)
      if (logits[out[i]] < max + logf (p->min_p))
        {
          kept = i;
          break;
        }
  return kept;
}

static void
check_against_reference (const float *logits, gsize n, const TernSamplerParams *p)
{
  g_autoptr (TernSampler) s = tern_sampler_new (p, (gint32) n);
  g_autofree gint32 *ref = g_new (gint32, n);
  gsize n_ref = reference_chain (logits, n, p, ref);
  const TernSamplerCandidate *c;
  gsize n_c = tern_sampler_get_candidates (s, logits, &c);
  double sum = 0.0, total = 0.0;

  g_assert_cmpuint (n_c, ==, n_ref);
  for (gsize i = 0; i < n_ref; i++)
    sum += exp ((logits[ref[i]] - (double) logits[ref[0]]) / p->temperature);
  for (gsize i = 0; i < n_c; i++)
    {
      double expected = exp ((logits[ref[i]] - (double) logits[ref[0]]) / p->temperature) / sum;
      g_assert_cmpint (c[i].id, ==, ref[i]);
      g_assert_cmpfloat (c[i].logit, ==, logits[ref[i]]);
      g_assert_cmpfloat_with_epsilon (c[i].p, expected, 1e-5);
      total += c[i].p;
    }
  g_assert_cmpfloat_with_epsilon (total, 1.0, 1e-5);

  /* Draws stay inside the set. */
  for (int i = 0; i < 200; i++)
    {
      gint32 t = tern_sampler_sample (s, logits);
      gboolean found = FALSE;
      for (gsize j = 0; j < n_c && !found; j++)
        found = c[j].id == t;
      g_assert_true (found);
    }
}

static void
test_truncation_reference (void)
{
  static const struct {
    gint32 top_k;
    float top_p, min_p, temperature;
    double sigma;
  } cases[] = {
    { 40, 0.95f, 0.05f, 0.8f, 3.0 },
    { 0, 0.9f, 0.0f, 1.0f, 1.0 },     /* thousands kept: many select levels */
    { 0, 0.5f, 0.0f, 1.0f, 0.1 },     /* nearly flat */
    { 0, 0.99f, 0.0f, 0.7f, 5.0 },
    { 0, 1.0f, 0.1f, 1.2f, 2.0 },
    { 0, 0.3f, 0.2f, 1.0f, 2.0 },
    { 7, 1.0f, 0.0f, 2.0f, 1.0 },
    { 100, 0.8f, 0.01f, 0.5f, 1.0 },
    { 4999, 0.95f, 0.0f, 1.0f, 1.0 }, /* heap with most of the vocabulary */
    { 0, 0.0f, 0.0f, 1.0f, 1.0 },     /* top_p = 0 keeps the best */
    { 0, 1.0f, 1.0f, 1.0f, 1.0 },     /* min_p = 1 keeps the best */
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    for (guint32 seed = 1; seed <= 5; seed++)
      {
        TernSamplerParams p = plain_params (cases[i].temperature, seed);
        g_autofree float *logits = random_logits (seed * 100 + (guint32) i, 5000, cases[i].sigma);

        p.top_k = cases[i].top_k;
        p.top_p = cases[i].top_p;
        p.min_p = cases[i].min_p;
        check_against_reference (logits, 5000, &p);
      }
}

static void
test_top_k (void)
{
  TernSamplerParams p = plain_params (1.0f, 5);
  g_autoptr (TernSampler) s = NULL;
  const float flat[10] = { 0 };
  const float logits[10] = { 1, 9, 3, 9, 5, 2, 8, 9, 0, 4 };
  const TernSamplerCandidate *c;

  p.top_k = 3;
  s = tern_sampler_new (&p, 10);

  /* Equal logits: the lowest ids rank first. */
  g_assert_cmpuint (tern_sampler_get_candidates (s, flat, &c), ==, 3);
  g_assert_cmpint (c[0].id, ==, 0);
  g_assert_cmpint (c[1].id, ==, 1);
  g_assert_cmpint (c[2].id, ==, 2);

  g_assert_cmpuint (tern_sampler_get_candidates (s, logits, &c), ==, 3);
  g_assert_cmpint (c[0].id, ==, 1);
  g_assert_cmpint (c[1].id, ==, 3);
  g_assert_cmpint (c[2].id, ==, 7);
  for (int i = 0; i < 3; i++)
    g_assert_cmpfloat_with_epsilon (c[i].p, 1.0 / 3.0, 1e-6);
}

/* Counts draws of each token over @n_draws samples. */
static guint *
histogram (TernSampler *s, const float *logits, gsize n_vocab, guint n_draws)
{
  guint *counts = g_new0 (guint, n_vocab);

  for (guint i = 0; i < n_draws; i++)
    {
      gint32 t = tern_sampler_sample (s, logits);
      g_assert_cmpint (t, >=, 0);
      g_assert_cmpint (t, <, (gint32) n_vocab);
      counts[t]++;
    }
  return counts;
}

/* Probabilities 1/2, 1/4, 1/8...: top-p 0.8 keeps 3 tokens, min-p 0.2
 * keeps those at least a fifth of the best: 3 too (1/8 >= 1/10, 1/16 not). */
static void
test_top_p_min_p_draws (void)
{
  float logits[8];
  TernSamplerParams p = plain_params (1.0f, 11);
  const TernSamplerCandidate *c;

  for (int i = 0; i < 8; i++)
    logits[7 - i] = -(float) i * (float) G_LN2;

  for (int variant = 0; variant < 3; variant++)
    {
      g_autoptr (TernSampler) s = NULL;
      g_autofree guint *counts = NULL;

      p.top_p = variant == 0 ? 0.8f : variant == 1 ? 1.0f : 0.7f;
      p.min_p = variant == 0 ? 0.0f : variant == 1 ? 0.2f : 0.3f;
      s = tern_sampler_new (&p, 8);

      /* Variant 2: top-p keeps 3, min-p then keeps 2 (1/8 < 0.3/2). */
      g_assert_cmpuint (tern_sampler_get_candidates (s, logits, &c), ==, variant == 2 ? 2 : 3);
      g_assert_cmpint (c[0].id, ==, 7);
      g_assert_cmpint (c[1].id, ==, 6);
      if (variant < 2)
        {
          g_assert_cmpint (c[2].id, ==, 5);
          g_assert_cmpfloat_with_epsilon (c[0].p, 4.0 / 7.0, 1e-6);
          g_assert_cmpfloat_with_epsilon (c[2].p, 1.0 / 7.0, 1e-6);
        }

      counts = histogram (s, logits, 8, 10000);
      for (int i = 0; i < 8; i++)
        {
          gboolean allowed = i >= (variant == 2 ? 6 : 5);
          if (allowed)
            g_assert_cmpuint (counts[i], >, 0);
          else
            g_assert_cmpuint (counts[i], ==, 0);
        }
    }
}

/* Draw frequencies against the softmax of the logits at the temperature:
 * chi-square with 7 degrees of freedom below its 0.999 quantile. The seed
 * is fixed, so the outcome is too. */
static void
test_distribution (void)
{
  const float logits[8] = { 2.0f, 1.5f, 1.0f, 0.5f, 0.0f, -0.5f, -1.0f, -3.0f };
  const float temperatures[] = { 1.0f, 0.5f, 2.0f };
  const guint n_draws = 200000;

  for (gsize t = 0; t < G_N_ELEMENTS (temperatures); t++)
    {
      TernSamplerParams p = plain_params (temperatures[t], 1 + t);
      g_autoptr (TernSampler) s = tern_sampler_new (&p, 8);
      g_autofree guint *counts = histogram (s, logits, 8, n_draws);
      double z = 0.0, chi2 = 0.0;

      for (int i = 0; i < 8; i++)
        z += exp (logits[i] / temperatures[t]);
      for (int i = 0; i < 8; i++)
        {
          double expected = n_draws * exp (logits[i] / temperatures[t]) / z;
          chi2 += (counts[i] - expected) * (counts[i] - expected) / expected;
        }
      g_test_message ("temperature %g: chi-square %.2f", temperatures[t], chi2);
      g_assert_cmpfloat (chi2, <, 24.32);
    }
}

static void
sample_sequence (TernSampler *s, const float *logits, gint32 *out, gsize n)
{
  for (gsize i = 0; i < n; i++)
    {
      out[i] = tern_sampler_sample (s, logits);
      tern_sampler_accept (s, out[i]);
    }
}

static void
test_seed_repeatable (void)
{
  g_autofree float *logits = random_logits (9, 3000, 1.0);
  TernSamplerParams p;
  gint32 a[200], b[200], c[200];

  tern_sampler_params_init (&p);
  p.seed = 2024;
  p.repeat_penalty = 1.1f;
  {
    g_autoptr (TernSampler) s = tern_sampler_new (&p, 3000);
    sample_sequence (s, logits, a, 200);
  }
  {
    g_autoptr (TernSampler) s = tern_sampler_new (&p, 3000);
    sample_sequence (s, logits, b, 200);
    /* Reset: back to as new. */
    tern_sampler_reset (s);
    sample_sequence (s, logits, c, 200);
  }
  g_assert_cmpmem (a, sizeof a, b, sizeof b);
  g_assert_cmpmem (a, sizeof a, c, sizeof c);
}

static void
test_seed_different (void)
{
  g_autofree float *logits = random_logits (9, 3000, 0.5);
  TernSamplerParams p1, p2;
  g_autoptr (TernSampler) s1 = NULL;
  g_autoptr (TernSampler) s2 = NULL;
  gint32 a[100], b[100];

  tern_sampler_params_init (&p1);
  p1.seed = 1;
  p2 = p1;
  p2.seed = 2;
  s1 = tern_sampler_new (&p1, 3000);
  s2 = tern_sampler_new (&p2, 3000);
  sample_sequence (s1, logits, a, 100);
  sample_sequence (s2, logits, b, 100);
  g_assert_true (memcmp (a, b, sizeof a) != 0);
}

/* Over a flat vocabulary of 65536 tokens the draw is the top 16 bits of
 * each xoshiro256** output; these come from the published algorithms
 * (splitmix64 seeding, seed 42), computed independently. */
static void
test_rng_golden (void)
{
  const gint32 expected[] = { 5496, 24836, 44567, 60600, 64998, 50445,
                              47137, 55706, 49897, 38230, 44725, 19049 };
  TernSamplerParams p = plain_params (1.0f, 42);
  g_autoptr (TernSampler) s = tern_sampler_new (&p, 65536);
  g_autofree float *flat = g_new0 (float, 65536);

  for (gsize i = 0; i < G_N_ELEMENTS (expected); i++)
    g_assert_cmpint (tern_sampler_sample (s, flat), ==, expected[i]);
}

/* The candidate of token @id, with everything kept. */
static float
logit_of (TernSampler *s, const float *logits, gint32 id)
{
  const TernSamplerCandidate *c;
  gsize n = tern_sampler_get_candidates (s, logits, &c);

  for (gsize i = 0; i < n; i++)
    if (c[i].id == id)
      return c[i].logit;
  g_assert_not_reached ();
}

static void
test_penalties (void)
{
  const float logits[8] = { 3.0f, -2.0f, 0.0f, 1.0f, 5.0f, -1.0f, 0.5f, 2.0f };
  float copy[8];
  TernSamplerParams p = plain_params (1.0f, 1);
  g_autoptr (TernSampler) s = NULL;

  p.repeat_penalty = 2.0f;
  p.frequency_penalty = 0.5f;
  p.presence_penalty = 0.25f;
  p.repeat_last_n = 4;
  s = tern_sampler_new (&p, 8);
  memcpy (copy, logits, sizeof copy);

  tern_sampler_accept (s, 0);
  tern_sampler_accept (s, 1);
  tern_sampler_accept (s, 1);
  tern_sampler_accept (s, 2);
  /* llama.cpp: positive / penalty, non-positive * penalty, then
   * - (count * frequency + presence). */
  g_assert_cmpfloat (logit_of (s, logits, 0), ==, 3.0f / 2.0f - (1 * 0.5f + 0.25f));
  g_assert_cmpfloat (logit_of (s, logits, 1), ==, -2.0f * 2.0f - (2 * 0.5f + 0.25f));
  g_assert_cmpfloat (logit_of (s, logits, 2), ==, 0.0f * 2.0f - (1 * 0.5f + 0.25f));
  for (gint32 id = 3; id < 8; id++)
    g_assert_cmpfloat (logit_of (s, logits, id), ==, logits[id]);

  /* The window holds 4: token 0 leaves it. */
  tern_sampler_accept (s, 3);
  g_assert_cmpfloat (logit_of (s, logits, 0), ==, 3.0f);
  g_assert_cmpfloat (logit_of (s, logits, 1), ==, -5.25f);
  g_assert_cmpfloat (logit_of (s, logits, 3), ==, 1.0f / 2.0f - 0.75f);

  /* Many turns of the ring keep the counts right. */
  for (int i = 0; i < 103; i++)
    tern_sampler_accept (s, i % 2 ? 4 : 5);
  tern_sampler_accept (s, 6);
  /* Window: 5 4 5 6 */
  g_assert_cmpfloat (logit_of (s, logits, 5), ==, -1.0f * 2.0f - (2 * 0.5f + 0.25f));
  g_assert_cmpfloat (logit_of (s, logits, 4), ==, 5.0f / 2.0f - 0.75f);
  g_assert_cmpfloat (logit_of (s, logits, 6), ==, 0.5f / 2.0f - 0.75f);
  g_assert_cmpfloat (logit_of (s, logits, 3), ==, 1.0f);
  g_assert_cmpfloat (logit_of (s, logits, 1), ==, -2.0f);

  tern_sampler_reset (s);
  for (gint32 id = 0; id < 8; id++)
    g_assert_cmpfloat (logit_of (s, logits, id), ==, logits[id]);

  g_assert_cmpmem (copy, sizeof copy, logits, sizeof logits);
}

/* Penalties apply to greedy too; a zero window turns them off. */
static void
test_penalties_greedy (void)
{
  const float logits[3] = { 1.0f, 0.9f, -5.0f };
  TernSamplerParams p = plain_params (0.0f, 1);
  g_autoptr (TernSampler) s = NULL;
  g_autoptr (TernSampler) off = NULL;

  p.repeat_penalty = 2.0f;
  p.repeat_last_n = 8;
  s = tern_sampler_new (&p, 3);
  p.repeat_last_n = 0;
  off = tern_sampler_new (&p, 3);

  g_assert_cmpint (tern_sampler_sample (s, logits), ==, 0);
  tern_sampler_accept (s, 0);
  tern_sampler_accept (off, 0);
  g_assert_cmpint (tern_sampler_sample (s, logits), ==, 1);
  g_assert_cmpint (tern_sampler_sample (off, logits), ==, 0);
  tern_sampler_accept (s, 1);
  /* 0.5 and 0.45: back to 0. */
  g_assert_cmpint (tern_sampler_sample (s, logits), ==, 0);
}

static void
test_logits_unchanged (void)
{
  g_autofree float *logits = random_logits (3, 4096, 2.0);
  g_autofree float *copy = g_memdup2 (logits, 4096 * sizeof (float));
  TernSamplerParams p;
  g_autoptr (TernSampler) s = NULL;
  const TernSamplerCandidate *c;

  tern_sampler_params_init (&p);
  p.seed = 5;
  p.repeat_penalty = 1.3f;
  p.frequency_penalty = 0.2f;
  logits[17] = NAN;
  logits[18] = INFINITY;
  logits[19] = -INFINITY;
  copy[17] = NAN;
  copy[18] = INFINITY;
  copy[19] = -INFINITY;
  s = tern_sampler_new (&p, 4096);
  for (int i = 0; i < 50; i++)
    tern_sampler_accept (s, tern_sampler_sample (s, logits));
  tern_sampler_get_candidates (s, logits, &c);
  g_assert_cmpmem (copy, 4096 * sizeof (float), logits, 4096 * sizeof (float));
}

static void
test_nonfinite (void)
{
  const float some_nan[5] = { NAN, 1.0f, NAN, 3.0f, NAN };
  const float all_nan[5] = { NAN, NAN, NAN, NAN, NAN };
  const float all_ninf[5] = { -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY };
  const float one_pinf[8] = { 1, 2, 3, 4, 5, INFINITY, 7, 8 };
  const float two_pinf[8] = { 1, NAN, INFINITY, 4, -INFINITY, 6, INFINITY, FLT_MAX };
  const float holes[4] = { 0.0f, -INFINITY, 0.0f, NAN };
  TernSamplerParams greedy = plain_params (0.0f, 1);
  TernSamplerParams sampled;
  g_autoptr (TernSampler) g = NULL;
  const TernSamplerCandidate *c;

  g = tern_sampler_new (&greedy, 5);
  g_assert_cmpint (tern_sampler_sample (g, some_nan), ==, 3);
  g_assert_cmpint (tern_sampler_sample (g, all_nan), ==, 0);
  g_assert_cmpint (tern_sampler_sample (g, all_ninf), ==, 0);

  tern_sampler_params_init (&sampled);
  sampled.seed = 99;
  for (int variant = 0; variant < 2; variant++)
    {
      g_autoptr (TernSampler) s4 = NULL;
      g_autoptr (TernSampler) s5 = NULL;
      g_autoptr (TernSampler) s8 = NULL;
      g_autofree guint *counts = NULL;

      /* Variant 1: everything off, the whole vocabulary in play. */
      if (variant == 1)
        sampled = plain_params (1.0f, 99);
      s4 = tern_sampler_new (&sampled, 4);
      s5 = tern_sampler_new (&sampled, 5);
      s8 = tern_sampler_new (&sampled, 8);

      for (int i = 0; i < 20; i++)
        {
          gint32 t = tern_sampler_sample (s5, some_nan);
          g_assert_true (t == 1 || t == 3);
          g_assert_cmpint (tern_sampler_sample (s4, all_nan), ==, 0);
          g_assert_cmpint (tern_sampler_sample (s4, all_ninf), ==, 0);
          g_assert_cmpint (tern_sampler_sample (s8, one_pinf), ==, 5);
        }
      g_assert_cmpuint (tern_sampler_get_candidates (s4, all_nan, &c), ==, 1);
      g_assert_cmpint (c[0].id, ==, 0);
      g_assert_cmpfloat (c[0].p, ==, 1.0f);

      /* Two +inf share everything; FLT_MAX ties with them. */
      g_assert_cmpuint (tern_sampler_get_candidates (s8, two_pinf, &c), >=, 3);
      g_assert_cmpint (c[0].id, ==, 2);
      g_assert_cmpint (c[1].id, ==, 6);
      g_assert_cmpint (c[2].id, ==, 7);
      g_assert_cmpfloat_with_epsilon (c[0].p, 1.0 / 3.0, 1e-6);
      counts = histogram (s8, two_pinf, 8, 3000);
      g_assert_cmpuint (counts[2] + counts[6] + counts[7], ==, 3000);
      g_assert_cmpuint (counts[2], >, 800);
      g_assert_cmpuint (counts[6], >, 800);
      g_clear_pointer (&counts, g_free);

      counts = histogram (s4, holes, 4, 1000);
      g_assert_cmpuint (counts[1] + counts[3], ==, 0);
      g_assert_cmpuint (counts[0], >, 0);
      g_assert_cmpuint (counts[2], >, 0);
    }

  /* A penalty pushing FLT_MAX past the range stays finite. */
  {
    TernSamplerParams p = plain_params (1.0f, 1);
    g_autoptr (TernSampler) s = NULL;

    p.repeat_penalty = 0.5f;
    p.repeat_last_n = 4;
    s = tern_sampler_new (&p, 8);
    tern_sampler_accept (s, 5);
    tern_sampler_accept (s, 0);
    g_assert_cmpfloat (logit_of (s, one_pinf, 5), ==, FLT_MAX);
    g_assert_cmpint (tern_sampler_sample (s, one_pinf), ==, 5);
  }
}

static void
test_large_vocab (void)
{
  const gint32 n = 152000;
  g_autofree float *logits = random_logits (77, (gsize) n, 3.0);
  TernSamplerParams p;

  tern_sampler_params_init (&p);
  p.seed = 77;
  check_against_reference (logits, (gsize) n, &p);
  p.top_k = 0;
  p.min_p = 0.0f;
  check_against_reference (logits, (gsize) n, &p);
}

/* Saved state */

/* A sampler part-way through a conversation, its window wrapped. */
static TernSampler *
busy_sampler (void)
{
  TernSamplerParams p;
  TernSampler *s;
  g_autofree float *logits = random_logits (5, 1000, 1.0);

  tern_sampler_params_init (&p);
  p.seed = 31337;
  p.repeat_penalty = 1.15f;
  p.frequency_penalty = 0.1f;
  p.presence_penalty = 0.05f;
  p.repeat_last_n = 16;
  s = tern_sampler_new (&p, 1000);
  for (gint32 i = 0; i < 20; i++)
    tern_sampler_accept (s, (i * 37) % 1000);
  for (int i = 0; i < 30; i++)
    tern_sampler_accept (s, tern_sampler_sample (s, logits));
  return s;
}

static void
generate (TernSampler *s, gint32 *out, gsize n)
{
  for (gsize i = 0; i < n; i++)
    {
      g_autofree float *logits = random_logits (1000 + (guint32) i, 1000, 1.5);
      out[i] = tern_sampler_sample (s, logits);
      tern_sampler_accept (s, out[i]);
    }
}

static void
test_state_round_trip (void)
{
  g_autoptr (TernSampler) s = busy_sampler ();
  g_autoptr (TernSampler) r = NULL;
  g_autoptr (GByteArray) blob = g_byte_array_new ();
  g_autoptr (GByteArray) again = g_byte_array_new ();
  g_autoptr (GError) error = NULL;
  gint32 a[80], b[80];

  /* Save appends. */
  g_byte_array_append (blob, (const guint8 *) "xyz", 3);
  tern_sampler_save (s, blob);
  g_assert_cmpmem (blob->data, 3, "xyz", 3);
  g_assert_cmpmem (blob->data + 3, 4, "TSMP", 4);
  g_assert_cmpuint (blob->len, ==, 3 + 88 + 16 * 4 + 8);

  r = tern_sampler_restore (blob->data + 3, blob->len - 3, 1000, &error);
  g_assert_no_error (error);
  g_assert_nonnull (r);
  g_assert_cmpmem (tern_sampler_get_params (s), sizeof (TernSamplerParams),
                   tern_sampler_get_params (r), sizeof (TernSamplerParams));
  tern_sampler_save (r, again);
  g_assert_cmpmem (blob->data + 3, blob->len - 3, again->data, again->len);

  generate (s, a, G_N_ELEMENTS (a));
  generate (r, b, G_N_ELEMENTS (b));
  g_assert_cmpmem (a, sizeof a, b, sizeof b);

  /* Reset after restore still goes back to the seed. */
  tern_sampler_reset (s);
  tern_sampler_reset (r);
  generate (s, a, G_N_ELEMENTS (a));
  generate (r, b, G_N_ELEMENTS (b));
  g_assert_cmpmem (a, sizeof a, b, sizeof b);

  /* Another vocabulary is a mismatch. */
  g_clear_pointer (&r, tern_sampler_free);
  r = tern_sampler_restore (blob->data + 3, blob->len - 3, 999, &error);
  g_assert_null (r);
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_MISMATCH);
}

static GByteArray *
saved_blob (void)
{
  g_autoptr (TernSampler) s = busy_sampler ();
  GByteArray *blob = g_byte_array_new ();

  tern_sampler_save (s, blob);
  return blob;
}

/* Restores from an exact-size copy, so ASan catches any read past it. */
static TernSampler *
restore_copy (const guint8 *data, gsize len, GError **error)
{
  g_autofree guint8 *copy = g_memdup2 (data, len);

  return tern_sampler_restore (copy, len, 1000, error);
}

static void
test_state_truncated (void)
{
  g_autoptr (GByteArray) blob = saved_blob ();

  for (gsize len = 0; len < blob->len; len++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (TernSampler) r = restore_copy (blob->data, len, &error);

      g_assert_null (r);
      g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_FORMAT);
    }
}

static void
test_state_corrupted (void)
{
  g_autoptr (GByteArray) blob = saved_blob ();
  g_autoptr (GRand) rand = g_rand_new_with_seed (4);
  const guint8 masks[] = { 0x01, 0x80, 0xff };

  /* Every byte changed: caught (the hash sees any single change). */
  for (gsize i = 0; i < blob->len; i++)
    for (gsize m = 0; m < G_N_ELEMENTS (masks); m++)
      {
        g_autoptr (GError) error = NULL;
        g_autoptr (TernSampler) r = NULL;
        gint code = i >= 4 && i < 8 ? TERN_ENGINE_ERROR_MISMATCH : TERN_ENGINE_ERROR_FORMAT;

        blob->data[i] ^= masks[m];
        r = restore_copy (blob->data, blob->len, &error);
        blob->data[i] ^= masks[m];
        g_assert_null (r);
        g_assert_error (error, TERN_ENGINE_ERROR, code);
      }

  /* Random bytes, some behind a valid magic and version. */
  for (int i = 0; i < 2000; i++)
    {
      gsize len = g_rand_int_range (rand, 0, 300);
      g_autofree guint8 *junk = g_malloc (len + 1);
      g_autoptr (GError) error = NULL;
      g_autoptr (TernSampler) r = NULL;

      for (gsize j = 0; j < len; j++)
        junk[j] = (guint8) g_rand_int (rand);
      if (i % 2 && len >= 8)
        memcpy (junk, blob->data, 8);
      r = restore_copy (junk, len, &error);
      g_assert_null (r);
      g_assert_nonnull (error);
    }
}

static void
put_u32_at (guint8 *at, guint32 v)
{
  at[0] = v, at[1] = v >> 8, at[2] = v >> 16, at[3] = v >> 24;
}

/* Rewrites the trailing FNV-1a hash after a deliberate change. */
static void
rehash (guint8 *data, gsize len)
{
  guint64 h = G_GUINT64_CONSTANT (0xcbf29ce484222325);

  for (gsize i = 0; i < len - 8; i++)
    {
      h ^= data[i];
      h *= G_GUINT64_CONSTANT (0x100000001b3);
    }
  put_u32_at (data + len - 8, (guint32) h);
  put_u32_at (data + len - 4, (guint32) (h >> 32));
}

/* Well-hashed states whose fields are wrong. Field offsets follow the
 * layout in sampler.h. */
static void
test_state_invalid_fields (void)
{
  static const struct {
    gsize offset;
    guint32 value;
    gint code;
  } cases[] = {
    { 4, 2, TERN_ENGINE_ERROR_MISMATCH },             /* version */
    { 8, 1001, TERN_ENGINE_ERROR_MISMATCH },          /* n_vocab */
    { 8, 0, TERN_ENGINE_ERROR_MISMATCH },
    { 12, 0x7fc00000, TERN_ENGINE_ERROR_FORMAT },     /* temperature NaN */
    { 16, 0xffffffff, TERN_ENGINE_ERROR_FORMAT },     /* top_k -1 */
    { 20, 0x40000000, TERN_ENGINE_ERROR_FORMAT },     /* top_p 2 */
    { 24, 0xbf800000, TERN_ENGINE_ERROR_FORMAT },     /* min_p -1 */
    { 28, 0, TERN_ENGINE_ERROR_FORMAT },              /* repeat_penalty 0 */
    { 32, 8, TERN_ENGINE_ERROR_FORMAT },              /* repeat_last_n below the window */
    { 32, 0x80000000, TERN_ENGINE_ERROR_FORMAT },     /* repeat_last_n negative */
    { 36, 0x7f800000, TERN_ENGINE_ERROR_FORMAT },     /* frequency inf */
    { 44, 0xffffffff, TERN_ENGINE_ERROR_FORMAT },     /* seed, with the next... */
    { 84, 17, TERN_ENGINE_ERROR_FORMAT },             /* window length vs bytes */
    { 84, 0xffffffff, TERN_ENGINE_ERROR_FORMAT },
    { 88, 1000, TERN_ENGINE_ERROR_FORMAT },           /* token out of range */
    { 88 + 15 * 4, 0x80000000, TERN_ENGINE_ERROR_FORMAT },
  };
  g_autoptr (GByteArray) blob = saved_blob ();

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree guint8 *copy = g_memdup2 (blob->data, blob->len);
      g_autoptr (GError) error = NULL;
      g_autoptr (TernSampler) r = NULL;

      put_u32_at (copy + cases[i].offset, cases[i].value);
      if (cases[i].offset == 44)
        put_u32_at (copy + 48, 0xffffffff); /* ...a seed of TERN_SAMPLER_SEED_RANDOM */
      rehash (copy, blob->len);
      r = restore_copy (copy, blob->len, &error);
      g_assert_null (r);
      g_assert_error (error, TERN_ENGINE_ERROR, cases[i].code);
    }

  /* A generator state of all zeros would only ever give zeros. */
  {
    g_autofree guint8 *copy = g_memdup2 (blob->data, blob->len);
    g_autoptr (GError) error = NULL;
    g_autoptr (TernSampler) r = NULL;

    memset (copy + 52, 0, 32);
    rehash (copy, blob->len);
    r = restore_copy (copy, blob->len, &error);
    g_assert_null (r);
    g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_FORMAT);
  }

  /* Bytes after the end. */
  {
    g_autofree guint8 *copy = g_malloc0 (blob->len + 4);
    g_autoptr (GError) error = NULL;
    g_autoptr (TernSampler) r = NULL;

    memcpy (copy, blob->data, blob->len);
    rehash (copy, blob->len + 4);
    r = restore_copy (copy, blob->len + 4, &error);
    g_assert_null (r);
    g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_FORMAT);
  }
}

/* Random field values behind a valid hash: whatever restores must work. */
static void
test_state_random_fields (void)
{
  g_autoptr (GByteArray) blob = saved_blob ();
  g_autoptr (GRand) rand = g_rand_new_with_seed (8);
  g_autofree float *logits = random_logits (2, 1000, 1.0);
  guint restored = 0;

  for (int i = 0; i < 3000; i++)
    {
      g_autofree guint8 *copy = g_memdup2 (blob->data, blob->len);
      g_autoptr (GError) error = NULL;
      g_autoptr (TernSampler) r = NULL;
      int n_changes = g_rand_int_range (rand, 1, 4);

      for (int j = 0; j < n_changes; j++)
        {
          /* Mostly small values, which are more often valid. */
          gsize at = 12 + 4 * g_rand_int_range (rand, 0, (blob->len - 20) / 4);
          guint32 v = g_rand_boolean (rand) ? (guint32) g_rand_int_range (rand, 0, 2000) : g_rand_int (rand);
          put_u32_at (copy + at, v);
        }
      rehash (copy, blob->len);
      r = restore_copy (copy, blob->len, &error);
      if (r == NULL)
        {
          g_assert_nonnull (error);
          continue;
        }
      restored++;
      for (int j = 0; j < 5; j++)
        {
          gint32 t = tern_sampler_sample (r, logits);
          g_assert_cmpint (t, >=, 0);
          g_assert_cmpint (t, <, 1000);
          tern_sampler_accept (r, t);
        }
    }
  g_test_message ("%u of 3000 altered states restored", restored);
  g_assert_cmpuint (restored, >, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/engine/sampler/greedy", test_greedy);
  g_test_add_func ("/engine/sampler/greedy/ties", test_greedy_ties);
  g_test_add_func ("/engine/sampler/greedy/temperature", test_greedy_temperature);
  g_test_add_func ("/engine/sampler/top-k/one", test_top_k_one);
  g_test_add_func ("/engine/sampler/top-k/ties", test_top_k);
  g_test_add_func ("/engine/sampler/truncation/reference", test_truncation_reference);
  g_test_add_func ("/engine/sampler/truncation/draws", test_top_p_min_p_draws);
  g_test_add_func ("/engine/sampler/distribution", test_distribution);
  g_test_add_func ("/engine/sampler/seed/repeatable", test_seed_repeatable);
  g_test_add_func ("/engine/sampler/seed/different", test_seed_different);
  g_test_add_func ("/engine/sampler/seed/golden", test_rng_golden);
  g_test_add_func ("/engine/sampler/penalties", test_penalties);
  g_test_add_func ("/engine/sampler/penalties/greedy", test_penalties_greedy);
  g_test_add_func ("/engine/sampler/logits-unchanged", test_logits_unchanged);
  g_test_add_func ("/engine/sampler/nonfinite", test_nonfinite);
  g_test_add_func ("/engine/sampler/large-vocab", test_large_vocab);
  g_test_add_func ("/engine/sampler/state/round-trip", test_state_round_trip);
  g_test_add_func ("/engine/sampler/state/truncated", test_state_truncated);
  g_test_add_func ("/engine/sampler/state/corrupted", test_state_corrupted);
  g_test_add_func ("/engine/sampler/state/invalid-fields", test_state_invalid_fields);
  g_test_add_func ("/engine/sampler/state/random-fields", test_state_random_fields);

  return g_test_run ();
}
