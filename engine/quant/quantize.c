/* SPDX-License-Identifier: GPL-3.0-or-later */

/* Quantizers: rows of f32 into each block format Tern writes (weights) or
 * computes with (activations), ported from llama.cpp's reference
 * quantizers in ggml-quants.c so that they give its bytes. Scalar code,
 * the same on every CPU. */

#include "quant-private.h"

#include <float.h>
#include <math.h>

/* llama.cpp's results depend on each multiply and add being rounded on its
 * own: never fuse them into FMAs (x86-64's baseline has none, but other
 * targets do). */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize ("fp-contract=off")
#endif

#define QK 32

/* ---- Helpers ---- */

#define GROUP_MAX_EPS 1e-15f

/* Round to nearest, ties to even, by the float magic-number trick. */
static inline int
nearest_int (float fval)
{
  g_assert (fabsf (fval) <= 4194303.f);
  float val = fval + 12582912.f;
  int i;
  memcpy (&i, &val, sizeof i);
  return (i & 0x007fffff) - 0x00400000;
}

/* Symmetric quantization of @n values to [-nmax, nmax - 1] (stored in @L
 * offset by nmax), searching 19 scales around -nmax/max for the one with
 * the least x^2-weighted error. Returns the scale. */
static float
make_qx_quants (int n, int nmax, const float *x, gint8 *L)
{
  float max = 0, amax = 0;
  for (int i = 0; i < n; i++)
    {
      float ax = fabsf (x[i]);
      if (ax > amax)
        {
          amax = ax;
          max = x[i];
        }
    }
  if (amax < GROUP_MAX_EPS)
    {
      memset (L, 0, n);
      return 0.f;
    }

  float iscale = -nmax / max;
  float sumlx = 0, suml2 = 0;
  for (int i = 0; i < n; i++)
    {
      int l = nearest_int (iscale * x[i]);
      l = MAX (-nmax, MIN (nmax - 1, l));
      L[i] = l + nmax;
      float w = x[i] * x[i];
      sumlx += w * x[i] * l;
      suml2 += w * l * l;
    }
  float scale = suml2 ? sumlx / suml2 : 0.0f;
  float best = scale * sumlx;
  for (int is = -9; is <= 9; is++)
    {
      if (is == 0)
        continue;
      iscale = -(nmax + 0.1f * is) / max;
      sumlx = suml2 = 0;
      for (int i = 0; i < n; i++)
        {
          int l = nearest_int (iscale * x[i]);
          l = MAX (-nmax, MIN (nmax - 1, l));
          float w = x[i] * x[i];
          sumlx += w * x[i] * l;
          suml2 += w * l * l;
        }
      if (suml2 > 0 && sumlx * sumlx > best * suml2)
        {
          for (int i = 0; i < n; i++)
            {
              int l = nearest_int (iscale * x[i]);
              L[i] = nmax + MAX (-nmax, MIN (nmax - 1, l));
            }
          scale = sumlx / suml2;
          best = scale * sumlx;
        }
    }
  return scale;
}

/* Asymmetric quantization of @n values to [0, nmax] with x ~ scale*L - min:
 * tries nstep + 1 scales and fits scale and min by weighted least squares
 * for each, keeping the fit of least weighted squared error. Returns the
 * scale; *the_min gets the (non-negative) min. */
static float
make_qkx2_quants (int n, int nmax, const float *x, const float *weights, guint8 *L,
                  float *the_min, guint8 *Laux, float rmin, float rdelta, int nstep)
{
  float min = x[0], max = x[0];
  float sum_w = weights[0];
  float sum_x = sum_w * x[0];
  for (int i = 1; i < n; i++)
    {
      if (x[i] < min)
        min = x[i];
      if (x[i] > max)
        max = x[i];
      float w = weights[i];
      sum_w += w;
      sum_x += w * x[i];
    }
  if (min > 0)
    min = 0;
  if (max == min)
    {
      memset (L, 0, n);
      *the_min = -min;
      return 0.f;
    }

  float iscale = nmax / (max - min);
  float scale = 1 / iscale;
  float best_error = 0;
  for (int i = 0; i < n; i++)
    {
      int l = nearest_int (iscale * (x[i] - min));
      L[i] = MAX (0, MIN (nmax, l));
      float diff = scale * L[i] + min - x[i];
      best_error += weights[i] * (diff * diff);
    }
  for (int is = 0; is <= nstep; is++)
    {
      iscale = (rmin + rdelta * is + nmax) / (max - min);
      float sum_l = 0, sum_l2 = 0, sum_xl = 0;
      for (int i = 0; i < n; i++)
        {
          int l = nearest_int (iscale * (x[i] - min));
          l = MAX (0, MIN (nmax, l));
          Laux[i] = l;
          float w = weights[i];
          sum_l += w * l;
          sum_l2 += w * l * l;
          sum_xl += w * l * x[i];
        }
      float D = sum_w * sum_l2 - sum_l * sum_l;
      if (D > 0)
        {
          float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
          float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
          if (this_min > 0)
            {
              this_min = 0;
              this_scale = sum_xl / sum_l2;
            }
          float cur_error = 0;
          for (int i = 0; i < n; i++)
            {
              float diff = this_scale * Laux[i] + this_min - x[i];
              cur_error += weights[i] * (diff * diff);
            }
          if (cur_error < best_error)
            {
              memcpy (L, Laux, n);
              best_error = cur_error;
              scale = this_scale;
              min = this_min;
            }
        }
    }
  *the_min = -min;
  return scale;
}

/* ---- Quantizers ---- */

void
tern_quant_quantize_row_f32 (const float *x, void *y, gint64 n)
{
  memcpy (y, x, (gsize) n * sizeof (float));
}

void
tern_quant_quantize_row_f16 (const float *x, void *y, gint64 n)
{
  guint16 *out = y;
  for (gint64 i = 0; i < n; i++)
    out[i] = tern_fp32_to_fp16 (x[i]);
}

void
tern_quant_quantize_row_bf16 (const float *x, void *y, gint64 n)
{
  guint16 *out = y;
  for (gint64 i = 0; i < n; i++)
    out[i] = tern_fp32_to_bf16 (x[i]);
}

void
tern_quant_quantize_row_q4_0 (const float *x, void *vy, gint64 n)
{
  TernBlockQ4_0 *y = vy;
  for (gint64 i = 0; i < n / QK; i++, x += QK)
    {
      /* d maps the value of largest magnitude to -8, the end of the range
       * with the extra level. */
      float amax = 0.0f, max = 0.0f;
      for (int j = 0; j < QK; j++)
        if (amax < fabsf (x[j]))
          {
            amax = fabsf (x[j]);
            max = x[j];
          }
      const float d = max / -8;
      const float id = d ? 1.0f / d : 0.0f;
      y[i].d = tern_fp32_to_fp16 (d);
      for (int j = 0; j < QK / 2; j++)
        {
          const guint8 xi0 = MIN (15, (gint8) (x[j] * id + 8.5f));
          const guint8 xi1 = MIN (15, (gint8) (x[QK / 2 + j] * id + 8.5f));
          y[i].qs[j] = xi0 | (guint8) (xi1 << 4);
        }
    }
}

void
tern_quant_quantize_row_q8_0 (const float *x, void *vy, gint64 n)
{
  TernBlockQ8_0 *y = vy;
  for (gint64 i = 0; i < n / QK; i++, x += QK)
    {
      float amax = 0.0f;
      for (int j = 0; j < QK; j++)
        amax = MAX (amax, fabsf (x[j]));
      const float d = amax / 127;
      const float id = d ? 1.0f / d : 0.0f;
      y[i].d = tern_fp32_to_fp16 (d);
      for (int j = 0; j < QK; j++)
        y[i].qs[j] = (gint8) roundf (x[j] * id);
    }
}

void
tern_quant_quantize_row_q8_1 (const float *x, void *vy, gint64 n)
{
  TernBlockQ8_1 *y = vy;
  for (gint64 i = 0; i < n / QK; i++, x += QK)
    {
      float amax = 0.0f;
      for (int j = 0; j < QK; j++)
        amax = MAX (amax, fabsf (x[j]));
      const float d = amax / 127;
      const float id = d ? 1.0f / d : 0.0f;
      int sum = 0;
      y[i].d = tern_fp32_to_fp16 (d);
      for (int j = 0; j < QK; j++)
        {
          y[i].qs[j] = (gint8) roundf (x[j] * id);
          sum += y[i].qs[j];
        }
      y[i].s = tern_fp32_to_fp16 (sum * d);
    }
}

/* llama.cpp's x86 activation quantizers (AVX2 / AVX quantize_row_q8_0 and
 * q8_1): the inverse scale is 127 / amax rather than 1 / d, halves round to
 * even, and Q8_1's s is d times the sum of the quants.
 *
 * Activations that are not finite (a damaged model, a damaged state) give
 * a block of scale NaN: every product with it is NaN, which the logits
 * check reports, where rounding them would abort. */
static float
act_block_q8 (const float *x, gint8 qs[QK], int *sum)
{
  float amax = 0.0f;
  gboolean finite = TRUE;
  for (int j = 0; j < QK; j++)
    {
      finite = finite && isfinite (x[j]);
      amax = MAX (amax, fabsf (x[j]));
    }
  *sum = 0;
  if (!finite)
    {
      memset (qs, 0, QK);
      return NAN;
    }
  const float d = amax / 127.f;
  const float id = amax != 0.0f ? 127.f / amax : 0.0f;
  for (int j = 0; j < QK; j++)
    {
      qs[j] = (gint8) nearest_int (x[j] * id);
      *sum += qs[j];
    }
  return d;
}

void
tern_quant_quantize_act_q8_0 (const float *x, void *vy, gint64 n)
{
  TernBlockQ8_0 *y = vy;
  int sum;
  for (gint64 i = 0; i < n / QK; i++, x += QK)
    y[i].d = tern_fp32_to_fp16 (act_block_q8 (x, y[i].qs, &sum));
}

void
tern_quant_quantize_act_q8_1 (const float *x, void *vy, gint64 n)
{
  TernBlockQ8_1 *y = vy;
  int sum;
  for (gint64 i = 0; i < n / QK; i++, x += QK)
    {
      const float d = act_block_q8 (x, y[i].qs, &sum);
      y[i].d = tern_fp32_to_fp16 (d);
      y[i].s = tern_fp32_to_fp16 (d * sum);
    }
}

void
tern_quant_quantize_row_q8_K (const float *x, void *vy, gint64 n)
{
  TernBlockQ8_K *y = vy;
  for (gint64 i = 0; i < n / 256; i++, x += 256)
    {
      float max = 0, amax = 0;
      gboolean finite = TRUE;
      for (int j = 0; j < 256; j++)
        {
          finite = finite && isfinite (x[j]);
          if (fabsf (x[j]) > amax)
            {
              amax = fabsf (x[j]);
              max = x[j];
            }
        }
      /* As act_block_q8: a scale of NaN. */
      if (!finite)
        {
          memset (&y[i], 0, sizeof y[i]);
          y[i].d = NAN;
          continue;
        }
      if (!amax)
        {
          memset (&y[i], 0, sizeof y[i]);
          continue;
        }
      /* -127 (not -128) keeps every value in [-127, 127], so SIMD kernels
       * may negate activations. */
      const float iscale = -127.f / max;
      for (int j = 0; j < 256; j++)
        y[i].qs[j] = (gint8) MIN (127, nearest_int (iscale * x[j]));
      for (int j = 0; j < 16; j++)
        {
          int sum = 0;
          for (int l = 0; l < 16; l++)
            sum += y[i].qs[16 * j + l];
          y[i].bsums[j] = (gint16) sum;
        }
      y[i].d = 1 / iscale;
    }
}

void
tern_quant_quantize_row_q4_K (const float *x, void *vy, gint64 n)
{
  TernBlockQ4_K *y = vy;
  guint8 L[256], Laux[32];
  float weights[32], mins[8], scales[8];

  for (gint64 i = 0; i < n / 256; i++, x += 256)
    {
      float max_scale = 0, max_min = 0;
      for (int j = 0; j < 8; j++)
        {
          const float *xs = x + 32 * j;
          float sum_x2 = 0;
          for (int l = 0; l < 32; l++)
            sum_x2 += xs[l] * xs[l];
          float av_x = sqrtf (sum_x2 / 32);
          for (int l = 0; l < 32; l++)
            weights[l] = av_x + fabsf (xs[l]);
          scales[j] = make_qkx2_quants (32, 15, xs, weights, L + 32 * j, &mins[j], Laux,
                                        -1.f, 0.1f, 20);
          max_scale = MAX (max_scale, scales[j]);
          max_min = MAX (max_min, mins[j]);
        }

      /* Scales and mins to 6 bits each, relative to the block's d and dmin. */
      float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
      float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
      memset (y[i].scales, 0, sizeof y[i].scales);
      for (int j = 0; j < 8; j++)
        {
          guint8 ls = MIN (63, (guint8) nearest_int (inv_scale * scales[j]));
          guint8 lm = MIN (63, (guint8) nearest_int (inv_min * mins[j]));
          if (j < 4)
            {
              y[i].scales[j] = ls;
              y[i].scales[j + 4] = lm;
            }
          else
            {
              y[i].scales[j + 4] = (ls & 0xf) | (guint8) ((lm & 0xf) << 4);
              y[i].scales[j - 4] |= (guint8) ((ls >> 4) << 6);
              y[i].scales[j] |= (guint8) ((lm >> 4) << 6);
            }
        }
      y[i].d = tern_fp32_to_fp16 (max_scale / 63.f);
      y[i].dmin = tern_fp32_to_fp16 (max_min / 63.f);

      /* Requantize against the scales as stored. */
      for (int j = 0; j < 8; j++)
        {
          guint8 sc, m;
          tern_k4_scale_min (y[i].scales, j, &sc, &m);
          const float d = tern_fp16_to_fp32 (y[i].d) * sc;
          if (!d)
            continue;
          const float dm = tern_fp16_to_fp32 (y[i].dmin) * m;
          for (int l = 0; l < 32; l++)
            {
              int q = nearest_int ((x[32 * j + l] + dm) / d);
              L[32 * j + l] = (guint8) MAX (0, MIN (15, q));
            }
        }

      for (int c = 0; c < 4; c++)
        for (int l = 0; l < 32; l++)
          y[i].qs[32 * c + l] = L[64 * c + l] | (guint8) (L[64 * c + 32 + l] << 4);
    }
}

void
tern_quant_quantize_row_q6_K (const float *x, void *vy, gint64 n)
{
  TernBlockQ6_K *y = vy;
  gint8 L[256];
  float scales[16];

  for (gint64 i = 0; i < n / 256; i++, x += 256)
    {
      float max_scale = 0, max_abs_scale = 0;
      for (int k = 0; k < 16; k++)
        {
          scales[k] = make_qx_quants (16, 32, x + 16 * k, L + 16 * k);
          if (fabsf (scales[k]) > max_abs_scale)
            {
              max_abs_scale = fabsf (scales[k]);
              max_scale = scales[k];
            }
        }
      if (max_abs_scale < GROUP_MAX_EPS)
        {
          memset (&y[i], 0, sizeof y[i]);
          continue;
        }

      float iscale = -128.f / max_scale;
      y[i].d = tern_fp32_to_fp16 (1 / iscale);
      for (int k = 0; k < 16; k++)
        y[i].scales[k] = (gint8) MIN (127, nearest_int (iscale * scales[k]));

      /* Requantize against the scales as stored. */
      for (int k = 0; k < 16; k++)
        {
          float d = tern_fp16_to_fp32 (y[i].d) * y[i].scales[k];
          if (!d)
            continue;
          for (int l = 0; l < 16; l++)
            {
              int q = nearest_int (x[16 * k + l] / d);
              L[16 * k + l] = (gint8) (MAX (-32, MIN (31, q)) + 32);
            }
        }

      for (int h = 0; h < 2; h++)
        for (int l = 0; l < 32; l++)
          {
            const guint8 *Lh = (const guint8 *) L + 128 * h;
            y[i].ql[64 * h + l] = (Lh[l] & 0xf) | (guint8) ((Lh[l + 64] & 0xf) << 4);
            y[i].ql[64 * h + 32 + l] = (Lh[l + 32] & 0xf) | (guint8) ((Lh[l + 96] & 0xf) << 4);
            y[i].qh[32 * h + l] = (Lh[l] >> 4) | (guint8) ((Lh[l + 32] >> 4) << 2)
                                  | (guint8) ((Lh[l + 64] >> 4) << 4)
                                  | (guint8) ((Lh[l + 96] >> 4) << 6);
          }
    }
}

/* A trit 0..2 of x/d, rounding half away from zero like llama.cpp. */
static inline int
ternary (float x, float id)
{
  /* lroundf (x * id) + 1 for |x * id| <= 1 (id is 1 / the block's largest
   * magnitude), without the library call: halves round away from zero. */
  float v = x * id;

  return (v >= 0.5f) - (v <= -0.5f) + 1;
}

static float
absmax (const float *x, int n)
{
  float amax = 0.0f;
  for (int j = 0; j < n; j++)
    amax = MAX (amax, fabsf (x[j]));
  return amax;
}

void
tern_quant_quantize_row_tq1_0 (const float *x, void *vy, gint64 n)
{
  TernBlockTQ1_0 *y = vy;
  for (gint64 i = 0; i < n / 256; i++, x += 256)
    {
      const float d = absmax (x, 256);
      const float id = d ? 1.0f / d : 0.0f;
      y[i].d = tern_fp32_to_fp16 (d);

      /* Five trits per byte, first trit most significant, stored as
       * ceil(v * 256 / 243) so that multiplying by 3^n brings trit n to the
       * top (see tq1_trit). */
      for (int m = 0; m < 32; m++)
        {
          guint v = 0;
          for (int k = 0; k < 5; k++)
            v = v * 3 + ternary (x[m + 32 * k], id);
          y[i].qs[m] = (guint8) ((v * 256 + 242) / 243);
        }
      for (int m = 0; m < 16; m++)
        {
          guint v = 0;
          for (int k = 0; k < 5; k++)
            v = v * 3 + ternary (x[160 + m + 16 * k], id);
          y[i].qs[32 + m] = (guint8) ((v * 256 + 242) / 243);
        }
      /* Four trits per byte; the fifth (least significant) is padding. */
      for (int j = 0; j < 4; j++)
        {
          guint v = 0;
          for (int k = 0; k < 4; k++)
            v = v * 3 + ternary (x[240 + j + 4 * k], id);
          v *= 3;
          y[i].qh[j] = (guint8) ((v * 256 + 242) / 243);
        }
    }
}

void
tern_quant_quantize_row_tq2_0 (const float *x, void *vy, gint64 n)
{
  TernBlockTQ2_0 *y = vy;
  for (gint64 i = 0; i < n / 256; i++, x += 256)
    {
      const float d = absmax (x, 256);
      const float id = d ? 1.0f / d : 0.0f;
      y[i].d = tern_fp32_to_fp16 (d);
      for (int h = 0; h < 2; h++)
        for (int m = 0; m < 32; m++)
          {
            guint8 q = 0;
            for (int g = 0; g < 4; g++)
              q |= (guint8) ((ternary (x[128 * h + 32 * g + m], id) & 3) << (2 * g));
            y[i].qs[32 * h + m] = q;
          }
    }
}
