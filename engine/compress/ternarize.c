/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Ternary projections: the per-block search of ternary weight networks and
 * BitNet's per-tensor absmean rounding. */
#include "compress/ternarize.h"

#include <math.h>
#include <string.h>

#include "quant/quant.h"

/* Thresholds tried, as multiples of the block's mean magnitude: TWN's
 * 0.7 is the optimum for normally distributed weights; trained weights
 * have heavier tails, so the grid spans 0.3…1.2 (and keeps everything
 * from a lower one when that is best). */
#define N_THRESHOLDS 16
#define THRESHOLD_FIRST 0.3f
#define THRESHOLD_STEP 0.06f

static float
to_fp16_value (float x)
{
  return tern_fp16_to_fp32 (tern_fp32_to_fp16 (x));
}

/* y = ±@scale (the sign of x) where the level reaches @best, +0 elsewhere;
 * on the bits, without a branch per weight (which half the weights would
 * mispredict). */
static void
write_block (const float *x, const guint8 *level, int best, float scale, float *y)
{
  guint32 scale_bits;

  memcpy (&scale_bits, &scale, sizeof scale_bits);
  for (int j = 0; j < TERN_TERNARY_BLOCK; j++)
    {
      guint32 bits, keep = -(guint32) (level[j] >= best);

      memcpy (&bits, &x[j], sizeof bits);
      bits = ((bits & 0x80000000u) | scale_bits) & keep;
      memcpy (&y[j], &bits, sizeof bits);
    }
}

static void
twn_block (const float *x, float *y)
{
  guint8 level[TERN_TERNARY_BLOCK];
  float lane_sum[8] = { 0 };
  /* Four copies of the bins, so that neighbouring weights of one bin do
   * not wait for each other's sums. */
  float bin_sum[4][N_THRESHOLDS + 1] = { { 0 } };
  int bin_count[4][N_THRESHOLDS + 1] = { { 0 } };
  float mean = 0.0f, scale_of_best = 0.0f, step, offset;
  double best_gain = 0.0, sum = 0.0;
  int kept = 0, best = N_THRESHOLDS + 1;

  for (int j = 0; j < TERN_TERNARY_BLOCK; j += 8)
    for (int l = 0; l < 8; l++)
      lane_sum[l] += fabsf (x[j + l]);
  for (int l = 0; l < 8; l++)
    mean += lane_sum[l];
  mean /= TERN_TERNARY_BLOCK;

  /* A weight's level is how many thresholds of the grid it reaches:
   * threshold c keeps the weights of level above c. */
  step = mean > 0.0f ? 1.0f / (mean * THRESHOLD_STEP) : 0.0f;
  offset = 1.0f - THRESHOLD_FIRST / THRESHOLD_STEP;
  for (int j = 0; j < TERN_TERNARY_BLOCK; j++)
    level[j] = (guint8) CLAMP (fabsf (x[j]) * step + offset, 0.0f, (float) N_THRESHOLDS);
  for (int j = 0; j < TERN_TERNARY_BLOCK; j++)
    {
      bin_sum[j & 3][level[j]] += fabsf (x[j]);
      bin_count[j & 3][level[j]]++;
    }

  /* Keeping the k weights of level above c at the scale s = S/k (S their
   * summed magnitude) leaves an error of Σw² − S²/k: the best threshold is
   * the one with the largest S²/k. */
  for (int c = N_THRESHOLDS; c >= 1; c--)
    {
      double gain;

      sum += (double) bin_sum[0][c] + bin_sum[1][c] + bin_sum[2][c] + bin_sum[3][c];
      kept += bin_count[0][c] + bin_count[1][c] + bin_count[2][c] + bin_count[3][c];
      if (kept == 0)
        continue;
      gain = sum * sum / kept;
      if (gain > best_gain)
        {
          best_gain = gain;
          best = c;
          scale_of_best = (float) (sum / kept);
        }
    }
  scale_of_best = to_fp16_value (scale_of_best);
  write_block (x, level, best, scale_of_best, y);
}

void
tern_ternarize_twn (const float *x, float *y, gint64 n)
{
  g_return_if_fail (n % TERN_TERNARY_BLOCK == 0);

  for (gint64 i = 0; i < n; i += TERN_TERNARY_BLOCK)
    twn_block (x + i, y + i);
}

void
tern_ternarize_absmean (const float *x, float *y, gint64 n, float scale)
{
  float s = to_fp16_value (scale);

  g_return_if_fail (n % TERN_TERNARY_BLOCK == 0);

  /* round(x/scale) is nonzero exactly where |x| ≥ scale/2 (halves round
   * away from zero); clipping leaves its sign. */
  for (gint64 i = 0; i < n; i += TERN_TERNARY_BLOCK)
    for (int j = 0; j < TERN_TERNARY_BLOCK; j++)
      y[i + j] = scale > 0.0f && fabsf (x[i + j]) >= 0.5f * scale ? copysignf (s, x[i + j]) : 0.0f;
}

void
tern_absmean_scale_init (TernAbsmeanScale *scale)
{
  scale->sum_abs = 0.0;
  scale->n = 0;
  scale->min_nonzero = INFINITY;
  scale->max_nonzero = 0.0f;
}

void
tern_absmean_scale_add (TernAbsmeanScale *scale, const float *x, gint64 n)
{
  for (gint64 i = 0; i < n; i++)
    {
      float a = fabsf (x[i]);

      scale->sum_abs += a;
      if (a > 0.0f)
        {
          scale->min_nonzero = MIN (scale->min_nonzero, a);
          scale->max_nonzero = MAX (scale->max_nonzero, a);
        }
    }
  scale->n += (guint64) n;
}

float
tern_absmean_scale_get (const TernAbsmeanScale *scale)
{
  if (scale->min_nonzero == scale->max_nonzero)
    return scale->max_nonzero;
  return scale->n > 0 ? (float) (scale->sum_abs / (double) scale->n) : 0.0f;
}
