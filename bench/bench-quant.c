/* SPDX-License-Identifier: GPL-3.0-or-later */

/* Throughput of the tensor type kernels, single-threaded, in GB/s of
 * weight bytes: row dequantization, and dot products of weight rows with
 * one activation row (a matrix-vector product) both on a working set that
 * stays in L2 and on one that streams from memory.
 *
 *   bench-quant [--quick] [--json] [--type NAME] */

#include "quant/quant.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ROW 4096

static const TernType bench_types[] = {
  TERN_TYPE_F32, TERN_TYPE_F16, TERN_TYPE_BF16, TERN_TYPE_Q8_0, TERN_TYPE_Q4_0, TERN_TYPE_Q4_1,
  TERN_TYPE_Q5_0, TERN_TYPE_Q5_1, TERN_TYPE_Q2_K, TERN_TYPE_Q3_K, TERN_TYPE_Q4_K, TERN_TYPE_Q5_K,
  TERN_TYPE_Q6_K, TERN_TYPE_TQ1_0, TERN_TYPE_TQ2_0,
};

/* Byte offsets of each block's f16 scales, set to sane values so that
 * random quant bytes dequantize to ordinary floats. */
static const struct {
  TernType type;
  guint offsets[2];
  guint n;
} scale_fields[] = {
  { TERN_TYPE_Q4_0, { 0 }, 1 },  { TERN_TYPE_Q4_1, { 0, 2 }, 2 },   { TERN_TYPE_Q5_0, { 0 }, 1 },
  { TERN_TYPE_Q5_1, { 0, 2 }, 2 }, { TERN_TYPE_Q8_0, { 0 }, 1 },    { TERN_TYPE_Q2_K, { 80, 82 }, 2 },
  { TERN_TYPE_Q3_K, { 108 }, 1 }, { TERN_TYPE_Q4_K, { 0, 2 }, 2 },  { TERN_TYPE_Q5_K, { 0, 2 }, 2 },
  { TERN_TYPE_Q6_K, { 208 }, 1 }, { TERN_TYPE_TQ1_0, { 52 }, 1 },   { TERN_TYPE_TQ2_0, { 64 }, 1 },
};

static void
fill_weights (TernType type, guint8 *w, gsize rows, GRand *rand)
{
  const TernTypeInfo *info = tern_type_info (type);
  gsize row_bytes = tern_type_row_bytes (type, ROW);

  if (info->block_elems == 1)
    {
      float x[ROW];
      for (gsize r = 0; r < rows; r++)
        {
          for (gsize i = 0; i < ROW; i++)
            x[i] = (float) g_rand_double_range (rand, -1, 1);
          tern_quant_quantize_row (type) (x, w + r * row_bytes, ROW);
        }
      return;
    }

  for (gsize i = 0; i < rows * row_bytes; i += 4)
    {
      guint32 v = g_rand_int (rand);
      memcpy (w + i, &v, MIN (4, rows * row_bytes - i));
    }
  guint16 h = GUINT16_TO_LE (tern_fp32_to_fp16 (0.01f));
  for (gsize s = 0; s < G_N_ELEMENTS (scale_fields); s++)
    if (scale_fields[s].type == type)
      for (gsize b = 0; b < rows * row_bytes / info->block_bytes; b++)
        for (guint k = 0; k < scale_fields[s].n; k++)
          memcpy (w + b * info->block_bytes + scale_fields[s].offsets[k], &h, 2);
}

static int
compare_double (gconstpointer a, gconstpointer b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return x < y ? -1 : x > y;
}

typedef struct {
  TernType type;
  TernVecDotFn dot;
  TernDequantRowFn dequant;
  const guint8 *w;
  gsize rows;
  const void *act;
  float *out;
} Job;

static volatile float sink;

/* Seconds for one pass over the job's rows. */
static double
run_once (const Job *job, gboolean dot)
{
  gsize row_bytes = tern_type_row_bytes (job->type, ROW);
  gint64 t0 = g_get_monotonic_time ();
  float acc = 0;
  for (gsize r = 0; r < job->rows; r++)
    {
      if (dot)
        acc += job->dot (ROW, job->w + r * row_bytes, job->act);
      else
        job->dequant (job->w + r * row_bytes, job->out, ROW);
    }
  sink = acc;
  return (g_get_monotonic_time () - t0) / 1e6;
}

/* Median GB/s of @reps timed runs, each repeating passes over the rows for
 * at least @min_seconds. */
static double
measure (const Job *job, gboolean dot, int reps, double min_seconds)
{
  double bytes = (double) job->rows * tern_type_row_bytes (job->type, ROW);
  double rates[16];
  run_once (job, dot); /* warm up caches and page in */
  for (int k = 0; k < reps; k++)
    {
      double seconds = 0;
      int passes = 0;
      while (seconds < min_seconds)
        {
          seconds += run_once (job, dot);
          passes++;
        }
      rates[k] = bytes * passes / seconds / 1e9;
    }
  qsort (rates, reps, sizeof rates[0], compare_double);
  return rates[reps / 2];
}

int
main (int argc, char **argv)
{
  gboolean quick = FALSE, json = FALSE;
  const char *only = NULL;
  for (int i = 1; i < argc; i++)
    {
      if (g_str_equal (argv[i], "--quick"))
        quick = TRUE;
      else if (g_str_equal (argv[i], "--json"))
        json = TRUE;
      else if (g_str_equal (argv[i], "--type") && i + 1 < argc)
        only = argv[++i];
      else
        {
          fprintf (stderr, "usage: %s [--quick] [--json] [--type NAME]\n", argv[0]);
          return 2;
        }
    }

  const int reps = quick ? 3 : 5;
  const double min_seconds = quick ? 0.02 : 0.1;
  const gsize cache_bytes = 512 * 1024;                           /* stays in L2 */
  const gsize memory_bytes = (quick ? 16 : 64) * 1024 * 1024;     /* streams from RAM */
  g_autoptr (GRand) rand = g_rand_new_with_seed (42);

  if (json)
    printf ("{\"cpu_best\": \"%s\", \"row\": %d, \"results\": [", tern_kernel_level_name (tern_cpu_best_kernel ()), ROW);
  else
    {
      printf ("Tensor kernel throughput, 1 thread, %d-element rows, GB/s of weight bytes (median of %d)\n",
              ROW, reps);
      printf ("best level on this CPU: %s; dot L2 = %zu KiB of weights, dot RAM = %zu MiB\n\n",
              tern_kernel_level_name (tern_cpu_best_kernel ()), cache_bytes / 1024,
              memory_bytes / (1024 * 1024));
      printf ("%-6s %-7s %10s %10s %10s\n", "type", "kernel", "dequant", "dot L2", "dot RAM");
    }

  gboolean first = TRUE;
  float act_src[ROW];
  float out[ROW];
  for (gsize i = 0; i < ROW; i++)
    act_src[i] = (float) g_rand_double_range (rand, -2, 2);

  for (gsize t = 0; t < G_N_ELEMENTS (bench_types); t++)
    {
      TernType type = bench_types[t];
      if (only && g_ascii_strcasecmp (only, tern_type_name (type)) != 0)
        continue;
      TernType atype = tern_quant_vec_dot_type (type);
      gsize row_bytes = tern_type_row_bytes (type, ROW);
      gsize rows_cache = MAX (1, cache_bytes / row_bytes);
      gsize rows_memory = MAX (1, memory_bytes / row_bytes);
      g_autofree guint8 *w = g_malloc (rows_memory * row_bytes);
      g_autofree guint8 *act = g_malloc (tern_type_row_bytes (atype, ROW));
      fill_weights (type, w, rows_memory, rand);
      tern_quant_quantize_row (atype) (act_src, act, ROW);

      TernVecDotFn previous = NULL;
      for (TernKernelLevel level = TERN_KERNEL_SCALAR; level < TERN_KERNEL_BEST; level++)
        {
          TernVecDotFn dot = tern_quant_vec_dot (type, level);
          TernDequantRowFn dequant = tern_quant_dequant_row_at (type, level);
          /* Skip levels with nothing of their own for this type. */
          if (dot == NULL || (dot == previous && dequant == NULL))
            continue;
          gboolean own_dot = dot != previous;
          previous = dot;

          Job job = { type, dot, dequant, w, rows_cache, act, out };
          double dq = dequant ? measure (&job, FALSE, reps, min_seconds) : 0;
          double dot_cache = own_dot ? measure (&job, TRUE, reps, min_seconds) : 0;
          job.rows = rows_memory;
          double dot_memory = own_dot ? measure (&job, TRUE, reps, min_seconds) : 0;

          if (json)
            {
              printf ("%s\n  {\"type\": \"%s\", \"kernel\": \"%s\", \"dequant_gbs\": %.3f, "
                      "\"dot_l2_gbs\": %.3f, \"dot_ram_gbs\": %.3f}",
                      first ? "" : ",", tern_type_name (type), tern_kernel_level_name (level), dq,
                      dot_cache, dot_memory);
              first = FALSE;
            }
          else
            {
              char c0[16] = "-", c1[16] = "-", c2[16] = "-";
              if (dequant)
                g_snprintf (c0, sizeof c0, "%.2f", dq);
              if (own_dot)
                {
                  g_snprintf (c1, sizeof c1, "%.2f", dot_cache);
                  g_snprintf (c2, sizeof c2, "%.2f", dot_memory);
                }
              printf ("%-6s %-7s %10s %10s %10s\n", tern_type_name (type),
                      tern_kernel_level_name (level), c0, c1, c2);
            }
          fflush (stdout);
        }
    }
  if (json)
    printf ("\n]}\n");
  return 0;
}
