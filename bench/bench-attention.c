/* SPDX-License-Identifier: GPL-3.0-or-later */
/* bench-attention [--backend NAME]... [--head-dim D] [--quick]: how
 * attention scales on each device (default: every device the registry
 * lists) with the cache's length and the number of heads. A query token
 * (generation) attends to a cache of 32…4096 positions, with 1…32 query
 * heads on a quarter as many key/value heads (grouped-query attention, as
 * Llama 3 has); the table gives the time of one attention, the cache bytes
 * it reads per second and the arithmetic it does per second (4 × positions
 * × heads × head size: the two dot products). */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <tern/error.h>

#include "backend/backend.h"
#include "bench-devices.h"

static TernBuf *
filled (TernBackend *b, gint64 rows, gint64 cols, GRand *rand)
{
  g_autofree float *x = g_new (float, rows * cols);
  TernBuf *buf = b->ops->buf_new (b, rows, cols, NULL);

  g_assert (buf != NULL);
  for (gint64 i = 0; i < rows * cols; i++)
    x[i] = (float) g_rand_double_range (rand, -1, 1);
  g_assert (b->ops->write (b, buf, 0, (gint32) rows, x, NULL));
  return buf;
}

/* Seconds one attention of a token over @n_keys positions takes, the
 * median of @reps. */
static double
time_attend (const char *device, gint32 n_head, gint32 head_dim, gint32 n_keys, guint reps)
{
  TernHParams hp = {
    .arch = TERN_ARCH_LLAMA, .n_vocab = 16, .n_ctx_train = n_keys, .n_embd = n_head * head_dim, .n_layer = 1,
    .n_head = n_head, .n_head_kv = MAX (1, n_head / 4), .head_dim = head_dim, .n_ff = 16, .n_rot = head_dim,
    .rms_eps = 1e-5f, .rope_freq_base = 10000, .rope_freq_scale = 1,
  };
  g_autoptr (TernWeights) weights = tern_weights_new_mapped (NULL, &hp);
  TernBackendParams params = { weights, n_keys, TERN_TYPE_F16, TERN_KERNEL_BEST, 2 };
  g_autoptr (GError) error = NULL;
  g_autoptr (GRand) rand = g_rand_new_with_seed (7);
  TernBackend *b = tern_backend_new (device, &params, &error);
  gint64 kv_dim = (gint64) hp.n_head_kv * head_dim, q_dim = (gint64) n_head * head_dim;
  const gint32 chunk = 512;
  g_autofree double *times = g_new (double, reps);

  if (b == NULL)
    {
      g_printerr ("%s: %s\n", device, error->message);
      return -1;
    }
  TernBuf *k = filled (b, chunk, kv_dim, rand), *v = filled (b, chunk, kv_dim, rand);
  TernBuf *q = filled (b, 1, q_dim, rand), *out = b->ops->buf_new (b, 1, q_dim, NULL);
  g_autofree float *row = g_new (float, q_dim);
  for (gint32 pos = 0; pos < n_keys; pos += chunk)
    {
      b->ops->begin (b, NULL);
      b->ops->kv_store (b, 0, k, v, MIN (chunk, n_keys - pos), pos);
      g_assert (b->ops->submit (b, NULL));
    }
  for (guint r = 0; r <= reps; r++)
    {
      gint64 start = g_get_monotonic_time ();
      b->ops->begin (b, NULL);
      b->ops->attend (b, 0, q, 1, n_keys - 1, out);
      g_assert (b->ops->submit (b, NULL) && b->ops->read (b, out, 0, 1, row, NULL));
      /* The first run compiles and warms. */
      if (r > 0)
        times[r - 1] = (g_get_monotonic_time () - start) / 1e6;
    }
  for (TernBuf *bufs[] = { k, v, q, out }, **p = bufs; p < bufs + 4; p++)
    b->ops->buf_free (b, *p);
  b->ops->free (b);
  for (guint i = 1; i < reps; i++)
    for (guint j = i; j > 0 && times[j - 1] > times[j]; j--)
      {
        double t = times[j];
        times[j] = times[j - 1];
        times[j - 1] = t;
      }
  return times[reps / 2];
}

int
main (int argc, char **argv)
{
  g_auto (GStrv) backends = NULL;
  gint head_dim = 64;
  gboolean quick = FALSE;
  GOptionEntry entries[] = {
    { "backend", 0, 0, G_OPTION_ARG_STRING_ARRAY, &backends, "A device to measure (default: each)", "NAME" },
    { "head-dim", 0, 0, G_OPTION_ARG_INT, &head_dim, "Values per head (default 64)", "D" },
    { "quick", 0, 0, G_OPTION_ARG_NONE, &quick, "Fewer lengths and heads, one run each", NULL },
    { NULL },
  };
  g_autoptr (GOptionContext) options = g_option_context_new ("- how attention scales on each device");
  g_autoptr (GError) error = NULL;
  const gint32 all_lengths[] = { 32, 128, 512, 1024, 2048, 4096 }, all_heads[] = { 1, 4, 8, 16, 32 };
  const gint32 quick_lengths[] = { 32, 512 }, quick_heads[] = { 4, 32 };

  g_option_context_add_main_entries (options, entries, NULL);
  if (!g_option_context_parse (options, &argc, &argv, &error) || head_dim < 2 || head_dim % 2 != 0)
    {
      g_printerr ("%s\n", error ? error->message : "--head-dim takes an even number");
      return 1;
    }
  if (backends == NULL)
    backends = bench_all_devices ();
  const gint32 *lengths = quick ? quick_lengths : all_lengths, *heads = quick ? quick_heads : all_heads;
  guint n_lengths = quick ? G_N_ELEMENTS (quick_lengths) : G_N_ELEMENTS (all_lengths);
  guint n_heads = quick ? G_N_ELEMENTS (quick_heads) : G_N_ELEMENTS (all_heads);
  guint reps = quick ? 1 : 5;

  g_print ("| %-10s | %5s | %8s | %6s | %10s | %8s | %9s |\n", "device", "heads", "kv heads", "cache", "ms",
           "GB/s", "GFLOP/s");
  g_print ("| ---------- | ----: | -------: | -----: | ---------: | -------: | --------: |\n");
  for (guint d = 0; backends[d] != NULL; d++)
    for (guint h = 0; h < n_heads; h++)
      for (guint l = 0; l < n_lengths; l++)
        {
          double s = time_attend (backends[d], heads[h], head_dim, lengths[l], reps);
          if (s < 0)
            return 2;
          double bytes = 2.0 * lengths[l] * MAX (1, heads[h] / 4) * head_dim * 2;
          double flops = 4.0 * lengths[l] * heads[h] * head_dim;
          g_print ("| %-10s | %5d | %8d | %6d | %10.3f | %8.2f | %9.2f |\n", backends[d], heads[h],
                   MAX (1, heads[h] / 4), lengths[l], s * 1e3, bytes / s / 1e9, flops / s / 1e9);
        }
  return 0;
}
