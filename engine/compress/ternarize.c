/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Ternary projections: the per-block search of ternary weight networks and
 * BitNet's per-tensor absmean rounding. */
#include "compress/ternarize.h"

#include <math.h>

#include "quant/quant.h"

/* Thresholds tried, as multiples of the block's mean magnitude: TWN's
 * 0.7 is the optimum for normally distributed weights; trained weights
 * have heavier tails, so the grid spans 0.3…1.2. */
#define N_THRESHOLDS 16
#define THRESHOLD_FIRST 0.3f
#define THRESHOLD_STEP 0.06f
/* Lanes the sums are split over, so that the compiler can vectorize them. */
#define LANES 8

static float
to_fp16_value (float x)
{
  return tern_fp16_to_fp32 (tern_fp32_to_fp16 (x));
}

/* Sets @y to @scale·sign(x) where |x| > @threshold, 0 elsewhere. */
static void
write_block (const float *x, float *y, float threshold, float scale)
{
  for (int j = 0; j < TERN_TERNARY_BLOCK; j++)
    y[j] = fabsf (x[j]) > threshold ? copysignf (scale, x[j]) : 0.0f;
}

static void
twn_block (const float *x, float *y)
{
  float a[TERN_TERNARY_BLOCK];
  float lane_sum[LANES] = { 0 };
  float mean, best_t = 0.0f, best_scale = 0.0f;
  double best_gain = 0.0;

  for (int j = 0; j < TERN_TERNARY_BLOCK; j++)
    a[j] = fabsf (x[j]);
  for (int j = 0; j < TERN_TERNARY_BLOCK; j += LANES)
    for (int l = 0; l < LANES; l++)
      lane_sum[l] += a[j + l];
  mean = 0.0f;
  for (int l = 0; l < LANES; l++)
    mean += lane_sum[l];
  mean /= TERN_TERNARY_BLOCK;

  /* Keeping the k weights above t at the scale s = S/k (S their summed
   * magnitude) leaves an error of Σw² − S²/k: the best threshold is the
   * one with the largest S²/k. */
  for (int c = 0; c < N_THRESHOLDS; c++)
    {
      float t = mean * (THRESHOLD_FIRST + THRESHOLD_STEP * (float) c);
      float s[LANES] = { 0 };
      int k[LANES] = { 0 };
      float sum = 0.0f;
      int kept = 0;
      double gain;

      for (int j = 0; j < TERN_TERNARY_BLOCK; j += LANES)
        for (int l = 0; l < LANES; l++)
          {
            int keep = a[j + l] > t;
            s[l] += keep ? a[j + l] : 0.0f;
            k[l] += keep;
          }
      for (int l = 0; l < LANES; l++)
        {
          sum += s[l];
          kept += k[l];
        }
      if (kept == 0)
        continue;
      gain = (double) sum * sum / kept;
      if (gain > best_gain)
        {
          best_gain = gain;
          best_t = t;
          best_scale = sum / (float) kept;
        }
    }
  write_block (x, y, best_t, to_fp16_value (best_scale));
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
