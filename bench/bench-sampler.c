/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Time per tern_sampler_sample() call over 32000- and 152000-token
 * vocabularies, for the default chain, greedy, and the chain without top-k. */
#include <tern/sampler.h>

#include <math.h>
#include <stdio.h>

#define N_STEPS 16   /* distinct logit vectors, cycled */

/* Logits shaped like a language model's: a normal background with a few
 * strong candidates, different at each step. */
static float *
make_logits (gint32 n_vocab)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (1);
  float *logits = g_new (float, (gsize) n_vocab * N_STEPS);

  for (gsize i = 0; i < (gsize) n_vocab * N_STEPS; i++)
    {
      double u = g_rand_double_range (rand, 1e-12, 1.0);
      double v = g_rand_double (rand);
      logits[i] = (float) (2.0 * sqrt (-2.0 * log (u)) * cos (2.0 * G_PI * v));
    }
  for (gsize step = 0; step < N_STEPS; step++)
    for (int j = 0; j < 5; j++)
      logits[step * n_vocab + g_rand_int_range (rand, 0, n_vocab)] += 12.0f - 2.0f * j;
  return logits;
}

static int
compare_doubles (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return x < y ? -1 : x > y;
}

/* Times batches of N_STEPS samples for about half a second and prints the
 * per-sample time of the best and the median batch: the best shows the
 * cost itself, the median what a busy machine adds. */
static void
run (const char *name, const TernSamplerParams *params, gint32 n_vocab, const float *logits)
{
  g_autoptr (TernSampler) s = tern_sampler_new (params, n_vocab);
  g_autoptr (GArray) batches = g_array_new (FALSE, FALSE, sizeof (double));
  gint64 end;

  for (int i = 0; i < N_STEPS; i++)
    tern_sampler_accept (s, tern_sampler_sample (s, logits + (gsize) i * n_vocab));
  end = g_get_monotonic_time () + 500000;
  while (g_get_monotonic_time () < end || batches->len < 5)
    {
      gint64 start = g_get_monotonic_time ();
      double us;

      for (int i = 0; i < N_STEPS; i++)
        tern_sampler_accept (s, tern_sampler_sample (s, logits + (gsize) i * n_vocab));
      us = (double) (g_get_monotonic_time () - start) / N_STEPS;
      g_array_append_val (batches, us);
    }
  g_array_sort (batches, compare_doubles);
  printf ("%-26s n_vocab %6d  best %8.1f us/sample  median %8.1f\n", name, n_vocab,
          g_array_index (batches, double, 0), g_array_index (batches, double, batches->len / 2));
}

int
main (void)
{
  const gint32 vocabs[] = { 32000, 152000 };

  for (gsize v = 0; v < G_N_ELEMENTS (vocabs); v++)
    {
      g_autofree float *logits = make_logits (vocabs[v]);
      TernSamplerParams p;

      tern_sampler_params_init (&p);
      p.seed = 1;
      run ("default (top-k 40)", &p, vocabs[v], logits);

      p.repeat_penalty = 1.1f;
      p.frequency_penalty = 0.1f;
      run ("default + penalties", &p, vocabs[v], logits);

      tern_sampler_params_init (&p);
      p.seed = 1;
      p.temperature = 0.0f;
      run ("greedy", &p, vocabs[v], logits);

      p.temperature = 0.8f;
      p.top_k = 0;
      run ("top-k off", &p, vocabs[v], logits);

      p.min_p = 0.0f;
      run ("top-k, min-p off (top-p)", &p, vocabs[v], logits);

      p.top_p = 1.0f;
      run ("all truncation off", &p, vocabs[v], logits);
    }
  return 0;
}
