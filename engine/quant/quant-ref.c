/* SPDX-License-Identifier: GPL-3.0-or-later */

/* Scalar kernels: the reference every SIMD kernel is tested against, and
 * the ones non-x86 builds run. Dequantizers repeat llama.cpp's float
 * operations in its order so results are bit-identical; quantizers port
 * llama.cpp's reference quantizers. */

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

/* ---- Unpacking quants to one integer per element ---- */

static void
unpack_q4_0 (const TernBlockQ4_0 *b, int q[32])
{
  for (int j = 0; j < 16; j++)
    {
      q[j] = (b->qs[j] & 15) - 8;
      q[j + 16] = (b->qs[j] >> 4) - 8;
    }
}

static void
unpack_q4_1 (const TernBlockQ4_1 *b, int q[32])
{
  for (int j = 0; j < 16; j++)
    {
      q[j] = b->qs[j] & 15;
      q[j + 16] = b->qs[j] >> 4;
    }
}

static void
unpack_q5 (const guint8 qh_bytes[4], const guint8 qs[16], int offset, int q[32])
{
  guint32 qh;
  memcpy (&qh, qh_bytes, sizeof qh);
  qh = GUINT32_FROM_LE (qh);
  for (int j = 0; j < 16; j++)
    {
      q[j] = ((qs[j] & 15) | ((qh >> j) & 1) << 4) - offset;
      q[j + 16] = ((qs[j] >> 4) | ((qh >> (j + 16)) & 1) << 4) - offset;
    }
}

/* Q2_K: 0..3 */
static void
unpack_q2_K (const TernBlockQ2_K *b, int q[256])
{
  for (int h = 0; h < 2; h++)
    for (int g = 0; g < 4; g++)
      for (int l = 0; l < 32; l++)
        q[128 * h + 32 * g + l] = (b->qs[32 * h + l] >> (2 * g)) & 3;
}

/* Q3_K: -4..3 */
static void
unpack_q3_K (const TernBlockQ3_K *b, int q[256])
{
  for (int h = 0; h < 2; h++)
    for (int g = 0; g < 4; g++)
      for (int l = 0; l < 32; l++)
        {
          int lo = (b->qs[32 * h + l] >> (2 * g)) & 3;
          q[128 * h + 32 * g + l] = lo - ((b->hmask[l] >> (4 * h + g)) & 1 ? 0 : 4);
        }
}

/* Q4_K: 0..15 */
static void
unpack_q4_K (const TernBlockQ4_K *b, int q[256])
{
  for (int c = 0; c < 4; c++)
    for (int l = 0; l < 32; l++)
      {
        q[64 * c + l] = b->qs[32 * c + l] & 15;
        q[64 * c + 32 + l] = b->qs[32 * c + l] >> 4;
      }
}

/* Q5_K: 0..31 */
static void
unpack_q5_K (const TernBlockQ5_K *b, int q[256])
{
  for (int c = 0; c < 4; c++)
    for (int l = 0; l < 32; l++)
      {
        q[64 * c + l] = (b->qs[32 * c + l] & 15) + 16 * ((b->qh[l] >> (2 * c)) & 1);
        q[64 * c + 32 + l] = (b->qs[32 * c + l] >> 4) + 16 * ((b->qh[l] >> (2 * c + 1)) & 1);
      }
}

/* Q6_K: -32..31 */
static void
unpack_q6_K (const TernBlockQ6_K *b, int q[256])
{
  for (int h = 0; h < 2; h++)
    for (int l = 0; l < 32; l++)
      {
        const guint8 ql0 = b->ql[64 * h + l], ql1 = b->ql[64 * h + 32 + l];
        const guint8 qh = b->qh[32 * h + l];
        int *out = q + 128 * h + l;
        out[0] = ((ql0 & 15) | (qh & 3) << 4) - 32;
        out[32] = ((ql1 & 15) | ((qh >> 2) & 3) << 4) - 32;
        out[64] = ((ql0 >> 4) | ((qh >> 4) & 3) << 4) - 32;
        out[96] = ((ql1 >> 4) | ((qh >> 6) & 3) << 4) - 32;
      }
}

static int
tq1_trit (guint8 byte, int n)
{
  static const guint8 pow3[5] = { 1, 3, 9, 27, 81 };
  guint8 q = (guint8) (byte * pow3[n]);
  return (q * 3) >> 8;
}

/* TQ1_0: -1..1 */
static void
unpack_tq1_0 (const TernBlockTQ1_0 *b, int q[256])
{
  for (int n = 0; n < 5; n++)
    for (int m = 0; m < 32; m++)
      q[32 * n + m] = tq1_trit (b->qs[m], n) - 1;
  for (int n = 0; n < 5; n++)
    for (int m = 0; m < 16; m++)
      q[160 + 16 * n + m] = tq1_trit (b->qs[32 + m], n) - 1;
  for (int n = 0; n < 4; n++)
    for (int j = 0; j < 4; j++)
      q[240 + 4 * n + j] = tq1_trit (b->qh[j], n) - 1;
}

/* TQ2_0: -1..2 (2 is never written) */
static void
unpack_tq2_0 (const TernBlockTQ2_0 *b, int q[256])
{
  for (int h = 0; h < 2; h++)
    for (int g = 0; g < 4; g++)
      for (int l = 0; l < 32; l++)
        q[128 * h + 32 * g + l] = ((b->qs[32 * h + l] >> (2 * g)) & 3) - 1;
}

/* ---- Dequantization ---- */

static void
dequant_f32 (const void *src, float *dst, gint64 n)
{
  memcpy (dst, src, (gsize) n * sizeof (float));
}

static void
dequant_f16 (const void *src, float *dst, gint64 n)
{
  const guint16 *x = src;
  for (gint64 i = 0; i < n; i++)
    dst[i] = tern_half_to_float (x[i]);
}

static void
dequant_bf16 (const void *src, float *dst, gint64 n)
{
  const guint16 *x = src;
  for (gint64 i = 0; i < n; i++)
    dst[i] = tern_bf16_bits_to_float (x[i]);
}

static void
dequant_q4_0 (const void *src, float *dst, gint64 n)
{
  const TernBlockQ4_0 *x = src;
  int q[QK];
  for (gint64 i = 0; i < n / QK; i++, dst += QK)
    {
      const float d = tern_half_to_float (x[i].d);
      unpack_q4_0 (&x[i], q);
      for (int j = 0; j < QK; j++)
        dst[j] = q[j] * d;
    }
}

static void
dequant_q4_1 (const void *src, float *dst, gint64 n)
{
  const TernBlockQ4_1 *x = src;
  int q[QK];
  for (gint64 i = 0; i < n / QK; i++, dst += QK)
    {
      const float d = tern_half_to_float (x[i].d);
      const float m = tern_half_to_float (x[i].m);
      unpack_q4_1 (&x[i], q);
      for (int j = 0; j < QK; j++)
        dst[j] = q[j] * d + m;
    }
}

static void
dequant_q5_0 (const void *src, float *dst, gint64 n)
{
  const TernBlockQ5_0 *x = src;
  int q[QK];
  for (gint64 i = 0; i < n / QK; i++, dst += QK)
    {
      const float d = tern_half_to_float (x[i].d);
      unpack_q5 (x[i].qh, x[i].qs, 16, q);
      for (int j = 0; j < QK; j++)
        dst[j] = q[j] * d;
    }
}

static void
dequant_q5_1 (const void *src, float *dst, gint64 n)
{
  const TernBlockQ5_1 *x = src;
  int q[QK];
  for (gint64 i = 0; i < n / QK; i++, dst += QK)
    {
      const float d = tern_half_to_float (x[i].d);
      const float m = tern_half_to_float (x[i].m);
      unpack_q5 (x[i].qh, x[i].qs, 0, q);
      for (int j = 0; j < QK; j++)
        dst[j] = q[j] * d + m;
    }
}

static void
dequant_q8_0 (const void *src, float *dst, gint64 n)
{
  const TernBlockQ8_0 *x = src;
  for (gint64 i = 0; i < n / QK; i++, dst += QK)
    {
      const float d = tern_half_to_float (x[i].d);
      for (int j = 0; j < QK; j++)
        dst[j] = x[i].qs[j] * d;
    }
}

static void
dequant_q8_1 (const void *src, float *dst, gint64 n)
{
  const TernBlockQ8_1 *x = src;
  for (gint64 i = 0; i < n / QK; i++, dst += QK)
    {
      const float d = tern_half_to_float (x[i].d);
      for (int j = 0; j < QK; j++)
        dst[j] = x[i].qs[j] * d;
    }
}

static void
dequant_q2_K (const void *src, float *dst, gint64 n)
{
  const TernBlockQ2_K *x = src;
  int q[256];
  for (gint64 i = 0; i < n / 256; i++, dst += 256)
    {
      const float d = tern_half_to_float (x[i].d);
      const float min = tern_half_to_float (x[i].dmin);
      unpack_q2_K (&x[i], q);
      for (int k = 0; k < 16; k++)
        {
          const float dl = d * (x[i].scales[k] & 15);
          const float ml = min * (x[i].scales[k] >> 4);
          for (int l = 0; l < 16; l++)
            dst[16 * k + l] = dl * q[16 * k + l] - ml;
        }
    }
}

static void
dequant_q3_K (const void *src, float *dst, gint64 n)
{
  const TernBlockQ3_K *x = src;
  int q[256];
  gint8 sc[16];
  for (gint64 i = 0; i < n / 256; i++, dst += 256)
    {
      const float d = tern_half_to_float (x[i].d);
      unpack_q3_K (&x[i], q);
      tern_q3k_scales (x[i].scales, sc);
      for (int k = 0; k < 16; k++)
        {
          const float dl = d * sc[k];
          for (int l = 0; l < 16; l++)
            dst[16 * k + l] = dl * q[16 * k + l];
        }
    }
}

static void
dequant_q4_K (const void *src, float *dst, gint64 n)
{
  const TernBlockQ4_K *x = src;
  int q[256];
  for (gint64 i = 0; i < n / 256; i++, dst += 256)
    {
      const float d = tern_half_to_float (x[i].d);
      const float min = tern_half_to_float (x[i].dmin);
      unpack_q4_K (&x[i], q);
      for (int j = 0; j < 8; j++)
        {
          guint8 sc, m;
          tern_k4_scale_min (x[i].scales, j, &sc, &m);
          const float d1 = d * sc;
          const float m1 = min * m;
          for (int l = 0; l < 32; l++)
            dst[32 * j + l] = d1 * q[32 * j + l] - m1;
        }
    }
}

static void
dequant_q5_K (const void *src, float *dst, gint64 n)
{
  const TernBlockQ5_K *x = src;
  int q[256];
  for (gint64 i = 0; i < n / 256; i++, dst += 256)
    {
      const float d = tern_half_to_float (x[i].d);
      const float min = tern_half_to_float (x[i].dmin);
      unpack_q5_K (&x[i], q);
      for (int j = 0; j < 8; j++)
        {
          guint8 sc, m;
          tern_k4_scale_min (x[i].scales, j, &sc, &m);
          const float d1 = d * sc;
          const float m1 = min * m;
          for (int l = 0; l < 32; l++)
            dst[32 * j + l] = d1 * q[32 * j + l] - m1;
        }
    }
}

static void
dequant_q6_K (const void *src, float *dst, gint64 n)
{
  const TernBlockQ6_K *x = src;
  int q[256];
  for (gint64 i = 0; i < n / 256; i++, dst += 256)
    {
      const float d = tern_half_to_float (x[i].d);
      unpack_q6_K (&x[i], q);
      for (int l = 0; l < 256; l++)
        dst[l] = d * x[i].scales[l / 16] * q[l];
    }
}

static void
dequant_q8_K (const void *src, float *dst, gint64 n)
{
  const TernBlockQ8_K *x = src;
  for (gint64 i = 0; i < n / 256; i++, dst += 256)
    for (int l = 0; l < 256; l++)
      dst[l] = x[i].d * x[i].qs[l];
}

static void
dequant_tq1_0 (const void *src, float *dst, gint64 n)
{
  const TernBlockTQ1_0 *x = src;
  int q[256];
  for (gint64 i = 0; i < n / 256; i++, dst += 256)
    {
      const float d = tern_half_to_float (x[i].d);
      unpack_tq1_0 (&x[i], q);
      for (int l = 0; l < 256; l++)
        dst[l] = (float) q[l] * d;
    }
}

static void
dequant_tq2_0 (const void *src, float *dst, gint64 n)
{
  const TernBlockTQ2_0 *x = src;
  int q[256];
  for (gint64 i = 0; i < n / 256; i++, dst += 256)
    {
      const float d = tern_half_to_float (x[i].d);
      unpack_tq2_0 (&x[i], q);
      for (int l = 0; l < 256; l++)
        dst[l] = (float) q[l] * d;
    }
}

/* ---- Quantization helpers, ported from llama.cpp's ggml-quants.c ---- */

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
tern_quantize_row_f32 (const float *x, void *y, gint64 n)
{
  memcpy (y, x, (gsize) n * sizeof (float));
}

void
tern_quantize_row_f16 (const float *x, void *y, gint64 n)
{
  guint16 *out = y;
  for (gint64 i = 0; i < n; i++)
    out[i] = tern_float_to_half (x[i]);
}

void
tern_quantize_row_bf16 (const float *x, void *y, gint64 n)
{
  guint16 *out = y;
  for (gint64 i = 0; i < n; i++)
    out[i] = tern_float_to_bf16_bits (x[i]);
}

void
tern_quantize_row_q4_0 (const float *x, void *vy, gint64 n)
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
      y[i].d = tern_float_to_half (d);
      for (int j = 0; j < QK / 2; j++)
        {
          const guint8 xi0 = MIN (15, (gint8) (x[j] * id + 8.5f));
          const guint8 xi1 = MIN (15, (gint8) (x[QK / 2 + j] * id + 8.5f));
          y[i].qs[j] = xi0 | (guint8) (xi1 << 4);
        }
    }
}

void
tern_quantize_row_q8_0 (const float *x, void *vy, gint64 n)
{
  TernBlockQ8_0 *y = vy;
  for (gint64 i = 0; i < n / QK; i++, x += QK)
    {
      float amax = 0.0f;
      for (int j = 0; j < QK; j++)
        amax = MAX (amax, fabsf (x[j]));
      const float d = amax / 127;
      const float id = d ? 1.0f / d : 0.0f;
      y[i].d = tern_float_to_half (d);
      for (int j = 0; j < QK; j++)
        y[i].qs[j] = (gint8) roundf (x[j] * id);
    }
}

void
tern_quantize_row_q8_1 (const float *x, void *vy, gint64 n)
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
      y[i].d = tern_float_to_half (d);
      for (int j = 0; j < QK; j++)
        {
          y[i].qs[j] = (gint8) roundf (x[j] * id);
          sum += y[i].qs[j];
        }
      y[i].s = tern_float_to_half (sum * d);
    }
}

/* llama.cpp's x86 activation quantizers (AVX2 / AVX quantize_row_q8_0 and
 * q8_1): the inverse scale is 127 / amax rather than 1 / d, halves round to
 * even, and Q8_1's s is d times the sum of the quants. */
static float
act_block_q8 (const float *x, gint8 qs[QK], int *sum)
{
  float amax = 0.0f;
  for (int j = 0; j < QK; j++)
    amax = MAX (amax, fabsf (x[j]));
  const float d = amax / 127.f;
  const float id = amax != 0.0f ? 127.f / amax : 0.0f;
  *sum = 0;
  for (int j = 0; j < QK; j++)
    {
      qs[j] = (gint8) nearest_int (x[j] * id);
      *sum += qs[j];
    }
  return d;
}

void
tern_quantize_act_q8_0 (const float *x, void *vy, gint64 n)
{
  TernBlockQ8_0 *y = vy;
  int sum;
  for (gint64 i = 0; i < n / QK; i++, x += QK)
    y[i].d = tern_float_to_half (act_block_q8 (x, y[i].qs, &sum));
}

void
tern_quantize_act_q8_1 (const float *x, void *vy, gint64 n)
{
  TernBlockQ8_1 *y = vy;
  int sum;
  for (gint64 i = 0; i < n / QK; i++, x += QK)
    {
      const float d = act_block_q8 (x, y[i].qs, &sum);
      y[i].d = tern_float_to_half (d);
      y[i].s = tern_float_to_half (d * sum);
    }
}

void
tern_quantize_row_q8_K (const float *x, void *vy, gint64 n)
{
  TernBlockQ8_K *y = vy;
  for (gint64 i = 0; i < n / 256; i++, x += 256)
    {
      float max = 0, amax = 0;
      for (int j = 0; j < 256; j++)
        if (fabsf (x[j]) > amax)
          {
            amax = fabsf (x[j]);
            max = x[j];
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
tern_quantize_row_q4_K (const float *x, void *vy, gint64 n)
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
      y[i].d = tern_float_to_half (max_scale / 63.f);
      y[i].dmin = tern_float_to_half (max_min / 63.f);

      /* Requantize against the scales as stored. */
      for (int j = 0; j < 8; j++)
        {
          guint8 sc, m;
          tern_k4_scale_min (y[i].scales, j, &sc, &m);
          const float d = tern_half_to_float (y[i].d) * sc;
          if (!d)
            continue;
          const float dm = tern_half_to_float (y[i].dmin) * m;
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
tern_quantize_row_q6_K (const float *x, void *vy, gint64 n)
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
      y[i].d = tern_float_to_half (1 / iscale);
      for (int k = 0; k < 16; k++)
        y[i].scales[k] = (gint8) MIN (127, nearest_int (iscale * scales[k]));

      /* Requantize against the scales as stored. */
      for (int k = 0; k < 16; k++)
        {
          float d = tern_half_to_float (y[i].d) * y[i].scales[k];
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
  return (int) lroundf (x * id) + 1;
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
tern_quantize_row_tq1_0 (const float *x, void *vy, gint64 n)
{
  TernBlockTQ1_0 *y = vy;
  for (gint64 i = 0; i < n / 256; i++, x += 256)
    {
      const float d = absmax (x, 256);
      const float id = d ? 1.0f / d : 0.0f;
      y[i].d = tern_float_to_half (d);

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
tern_quantize_row_tq2_0 (const float *x, void *vy, gint64 n)
{
  TernBlockTQ2_0 *y = vy;
  for (gint64 i = 0; i < n / 256; i++, x += 256)
    {
      const float d = absmax (x, 256);
      const float id = d ? 1.0f / d : 0.0f;
      y[i].d = tern_float_to_half (d);
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

/* ---- Dot products ---- */

static float
vec_dot_f32 (gint64 n, const void *vw, const void *va)
{
  const float *w = vw, *a = va;
  double sum = 0;
  for (gint64 i = 0; i < n; i++)
    sum += (double) w[i] * a[i];
  return (float) sum;
}

static float
vec_dot_f16 (gint64 n, const void *vw, const void *va)
{
  const guint16 *w = vw, *a = va;
  double sum = 0;
  for (gint64 i = 0; i < n; i++)
    sum += (double) (tern_half_to_float (w[i]) * tern_half_to_float (a[i]));
  return (float) sum;
}

static float
vec_dot_bf16 (gint64 n, const void *vw, const void *va)
{
  const guint16 *w = vw, *a = va;
  double sum = 0;
  for (gint64 i = 0; i < n; i++)
    sum += (double) (tern_bf16_bits_to_float (w[i]) * tern_bf16_bits_to_float (a[i]));
  return (float) sum;
}

static int
dot_i32 (const int *q, const gint8 *y, int n)
{
  int sum = 0;
  for (int j = 0; j < n; j++)
    sum += q[j] * y[j];
  return sum;
}

static float
vec_dot_q4_0 (gint64 n, const void *vw, const void *va)
{
  const TernBlockQ4_0 *w = vw;
  const TernBlockQ8_0 *a = va;
  int q[QK];
  float sum = 0;
  for (gint64 i = 0; i < n / QK; i++)
    {
      unpack_q4_0 (&w[i], q);
      int sumi = dot_i32 (q, a[i].qs, QK);
      sum += sumi * (tern_half_to_float (w[i].d) * tern_half_to_float (a[i].d));
    }
  return sum;
}

static float
vec_dot_q4_1 (gint64 n, const void *vw, const void *va)
{
  const TernBlockQ4_1 *w = vw;
  const TernBlockQ8_1 *a = va;
  int q[QK];
  float sum = 0;
  for (gint64 i = 0; i < n / QK; i++)
    {
      unpack_q4_1 (&w[i], q);
      int sumi = dot_i32 (q, a[i].qs, QK);
      sum += sumi * (tern_half_to_float (w[i].d) * tern_half_to_float (a[i].d))
             + tern_half_to_float (w[i].m) * tern_half_to_float (a[i].s);
    }
  return sum;
}

static float
vec_dot_q5_0 (gint64 n, const void *vw, const void *va)
{
  const TernBlockQ5_0 *w = vw;
  const TernBlockQ8_0 *a = va;
  int q[QK];
  float sum = 0;
  for (gint64 i = 0; i < n / QK; i++)
    {
      unpack_q5 (w[i].qh, w[i].qs, 16, q);
      int sumi = dot_i32 (q, a[i].qs, QK);
      sum += sumi * (tern_half_to_float (w[i].d) * tern_half_to_float (a[i].d));
    }
  return sum;
}

static float
vec_dot_q5_1 (gint64 n, const void *vw, const void *va)
{
  const TernBlockQ5_1 *w = vw;
  const TernBlockQ8_1 *a = va;
  int q[QK];
  float sum = 0;
  for (gint64 i = 0; i < n / QK; i++)
    {
      unpack_q5 (w[i].qh, w[i].qs, 0, q);
      int sumi = dot_i32 (q, a[i].qs, QK);
      sum += sumi * (tern_half_to_float (w[i].d) * tern_half_to_float (a[i].d))
             + tern_half_to_float (w[i].m) * tern_half_to_float (a[i].s);
    }
  return sum;
}

static float
vec_dot_q8_0 (gint64 n, const void *vw, const void *va)
{
  const TernBlockQ8_0 *w = vw;
  const TernBlockQ8_0 *a = va;
  float sum = 0;
  for (gint64 i = 0; i < n / QK; i++)
    {
      int sumi = 0;
      for (int j = 0; j < QK; j++)
        sumi += w[i].qs[j] * a[i].qs[j];
      sum += sumi * (tern_half_to_float (w[i].d) * tern_half_to_float (a[i].d));
    }
  return sum;
}

static float
vec_dot_q2_K (gint64 n, const void *vw, const void *va)
{
  const TernBlockQ2_K *w = vw;
  const TernBlockQ8_K *a = va;
  int q[256];
  float sum = 0;
  for (gint64 i = 0; i < n / 256; i++)
    {
      unpack_q2_K (&w[i], q);
      int isum = 0, summs = 0;
      for (int k = 0; k < 16; k++)
        {
          isum += (w[i].scales[k] & 15) * dot_i32 (q + 16 * k, a[i].qs + 16 * k, 16);
          summs += (w[i].scales[k] >> 4) * a[i].bsums[k];
        }
      const float dall = a[i].d * tern_half_to_float (w[i].d);
      const float dmin = a[i].d * tern_half_to_float (w[i].dmin);
      sum += dall * isum - dmin * summs;
    }
  return sum;
}

static float
vec_dot_q3_K (gint64 n, const void *vw, const void *va)
{
  const TernBlockQ3_K *w = vw;
  const TernBlockQ8_K *a = va;
  int q[256];
  gint8 sc[16];
  float sum = 0;
  for (gint64 i = 0; i < n / 256; i++)
    {
      unpack_q3_K (&w[i], q);
      tern_q3k_scales (w[i].scales, sc);
      int isum = 0;
      for (int k = 0; k < 16; k++)
        isum += sc[k] * dot_i32 (q + 16 * k, a[i].qs + 16 * k, 16);
      sum += a[i].d * tern_half_to_float (w[i].d) * isum;
    }
  return sum;
}

/* Q4_K and Q5_K: x = d*sc*q - dmin*m per 32; the min part only needs the
 * activation's 16-element sums. */
static float
dot_k4_block (const int q[256], const guint8 *scales, float d, float dmin, const TernBlockQ8_K *a)
{
  int isum = 0, summs = 0;
  for (int j = 0; j < 8; j++)
    {
      guint8 sc, m;
      tern_k4_scale_min (scales, j, &sc, &m);
      isum += sc * dot_i32 (q + 32 * j, a->qs + 32 * j, 32);
      summs += m * (a->bsums[2 * j] + a->bsums[2 * j + 1]);
    }
  return a->d * d * isum - a->d * dmin * summs;
}

static float
vec_dot_q4_K (gint64 n, const void *vw, const void *va)
{
  const TernBlockQ4_K *w = vw;
  const TernBlockQ8_K *a = va;
  int q[256];
  float sum = 0;
  for (gint64 i = 0; i < n / 256; i++)
    {
      unpack_q4_K (&w[i], q);
      sum += dot_k4_block (q, w[i].scales, tern_half_to_float (w[i].d),
                           tern_half_to_float (w[i].dmin), &a[i]);
    }
  return sum;
}

static float
vec_dot_q5_K (gint64 n, const void *vw, const void *va)
{
  const TernBlockQ5_K *w = vw;
  const TernBlockQ8_K *a = va;
  int q[256];
  float sum = 0;
  for (gint64 i = 0; i < n / 256; i++)
    {
      unpack_q5_K (&w[i], q);
      sum += dot_k4_block (q, w[i].scales, tern_half_to_float (w[i].d),
                           tern_half_to_float (w[i].dmin), &a[i]);
    }
  return sum;
}

static float
vec_dot_q6_K (gint64 n, const void *vw, const void *va)
{
  const TernBlockQ6_K *w = vw;
  const TernBlockQ8_K *a = va;
  int q[256];
  float sum = 0;
  for (gint64 i = 0; i < n / 256; i++)
    {
      unpack_q6_K (&w[i], q);
      int isum = 0;
      for (int k = 0; k < 16; k++)
        isum += w[i].scales[k] * dot_i32 (q + 16 * k, a[i].qs + 16 * k, 16);
      sum += a[i].d * tern_half_to_float (w[i].d) * isum;
    }
  return sum;
}

static float
vec_dot_tq1_0 (gint64 n, const void *vw, const void *va)
{
  const TernBlockTQ1_0 *w = vw;
  const TernBlockQ8_K *a = va;
  int q[256];
  float sum = 0;
  for (gint64 i = 0; i < n / 256; i++)
    {
      unpack_tq1_0 (&w[i], q);
      sum += dot_i32 (q, a[i].qs, 256) * (tern_half_to_float (w[i].d) * a[i].d);
    }
  return sum;
}

static float
vec_dot_tq2_0 (gint64 n, const void *vw, const void *va)
{
  const TernBlockTQ2_0 *w = vw;
  const TernBlockQ8_K *a = va;
  int q[256];
  float sum = 0;
  for (gint64 i = 0; i < n / 256; i++)
    {
      unpack_tq2_0 (&w[i], q);
      sum += dot_i32 (q, a[i].qs, 256) * (tern_half_to_float (w[i].d) * a[i].d);
    }
  return sum;
}

/* The scalar tile kernels only repeat the vec_dot ones. */
TERN_DEFINE_VEC_DOT_TILE (dot_tile_f32, vec_dot_f32)
TERN_DEFINE_VEC_DOT_TILE (dot_tile_f16, vec_dot_f16)
TERN_DEFINE_VEC_DOT_TILE (dot_tile_bf16, vec_dot_bf16)
TERN_DEFINE_VEC_DOT_TILE (dot_tile_q4_0, vec_dot_q4_0)
TERN_DEFINE_VEC_DOT_TILE (dot_tile_q4_1, vec_dot_q4_1)
TERN_DEFINE_VEC_DOT_TILE (dot_tile_q5_0, vec_dot_q5_0)
TERN_DEFINE_VEC_DOT_TILE (dot_tile_q5_1, vec_dot_q5_1)
TERN_DEFINE_VEC_DOT_TILE (dot_tile_q8_0, vec_dot_q8_0)
TERN_DEFINE_VEC_DOT_TILE (dot_tile_q2_K, vec_dot_q2_K)
TERN_DEFINE_VEC_DOT_TILE (dot_tile_q3_K, vec_dot_q3_K)
TERN_DEFINE_VEC_DOT_TILE (dot_tile_q4_K, vec_dot_q4_K)
TERN_DEFINE_VEC_DOT_TILE (dot_tile_q5_K, vec_dot_q5_K)
TERN_DEFINE_VEC_DOT_TILE (dot_tile_q6_K, vec_dot_q6_K)
TERN_DEFINE_VEC_DOT_TILE (dot_tile_tq1_0, vec_dot_tq1_0)
TERN_DEFINE_VEC_DOT_TILE (dot_tile_tq2_0, vec_dot_tq2_0)

const TernKernelTable tern_kernels_scalar = {
  .vec_dot = {
    [TERN_TYPE_F32] = vec_dot_f32,
    [TERN_TYPE_F16] = vec_dot_f16,
    [TERN_TYPE_BF16] = vec_dot_bf16,
    [TERN_TYPE_Q4_0] = vec_dot_q4_0,
    [TERN_TYPE_Q4_1] = vec_dot_q4_1,
    [TERN_TYPE_Q5_0] = vec_dot_q5_0,
    [TERN_TYPE_Q5_1] = vec_dot_q5_1,
    [TERN_TYPE_Q8_0] = vec_dot_q8_0,
    [TERN_TYPE_Q2_K] = vec_dot_q2_K,
    [TERN_TYPE_Q3_K] = vec_dot_q3_K,
    [TERN_TYPE_Q4_K] = vec_dot_q4_K,
    [TERN_TYPE_Q5_K] = vec_dot_q5_K,
    [TERN_TYPE_Q6_K] = vec_dot_q6_K,
    [TERN_TYPE_TQ1_0] = vec_dot_tq1_0,
    [TERN_TYPE_TQ2_0] = vec_dot_tq2_0,
  },
  .dot_tile = {
    [TERN_TYPE_F32] = dot_tile_f32,
    [TERN_TYPE_F16] = dot_tile_f16,
    [TERN_TYPE_BF16] = dot_tile_bf16,
    [TERN_TYPE_Q4_0] = dot_tile_q4_0,
    [TERN_TYPE_Q4_1] = dot_tile_q4_1,
    [TERN_TYPE_Q5_0] = dot_tile_q5_0,
    [TERN_TYPE_Q5_1] = dot_tile_q5_1,
    [TERN_TYPE_Q8_0] = dot_tile_q8_0,
    [TERN_TYPE_Q2_K] = dot_tile_q2_K,
    [TERN_TYPE_Q3_K] = dot_tile_q3_K,
    [TERN_TYPE_Q4_K] = dot_tile_q4_K,
    [TERN_TYPE_Q5_K] = dot_tile_q5_K,
    [TERN_TYPE_Q6_K] = dot_tile_q6_K,
    [TERN_TYPE_TQ1_0] = dot_tile_tq1_0,
    [TERN_TYPE_TQ2_0] = dot_tile_tq2_0,
  },
  .dequant = {
    [TERN_TYPE_F32] = dequant_f32,
    [TERN_TYPE_F16] = dequant_f16,
    [TERN_TYPE_BF16] = dequant_bf16,
    [TERN_TYPE_Q4_0] = dequant_q4_0,
    [TERN_TYPE_Q4_1] = dequant_q4_1,
    [TERN_TYPE_Q5_0] = dequant_q5_0,
    [TERN_TYPE_Q5_1] = dequant_q5_1,
    [TERN_TYPE_Q8_0] = dequant_q8_0,
    [TERN_TYPE_Q8_1] = dequant_q8_1,
    [TERN_TYPE_Q2_K] = dequant_q2_K,
    [TERN_TYPE_Q3_K] = dequant_q3_K,
    [TERN_TYPE_Q4_K] = dequant_q4_K,
    [TERN_TYPE_Q5_K] = dequant_q5_K,
    [TERN_TYPE_Q6_K] = dequant_q6_K,
    [TERN_TYPE_Q8_K] = dequant_q8_K,
    [TERN_TYPE_TQ1_0] = dequant_tq1_0,
    [TERN_TYPE_TQ2_0] = dequant_tq2_0,
  },
};
