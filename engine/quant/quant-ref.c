/* SPDX-License-Identifier: GPL-3.0-or-later */

/* Scalar kernels: the reference every SIMD kernel is tested against, and
 * the ones non-x86 builds run. Dequantizers repeat llama.cpp's float
 * operations in its order so results are bit-identical. The quantizers are
 * in quantize.c. */

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
    dst[i] = tern_fp16_to_fp32 (x[i]);
}

static void
dequant_bf16 (const void *src, float *dst, gint64 n)
{
  const guint16 *x = src;
  for (gint64 i = 0; i < n; i++)
    dst[i] = tern_bf16_to_fp32 (x[i]);
}

static void
dequant_q4_0 (const void *src, float *dst, gint64 n)
{
  const TernBlockQ4_0 *x = src;
  int q[QK];
  for (gint64 i = 0; i < n / QK; i++, dst += QK)
    {
      const float d = tern_fp16_to_fp32 (x[i].d);
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
      const float d = tern_fp16_to_fp32 (x[i].d);
      const float m = tern_fp16_to_fp32 (x[i].m);
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
      const float d = tern_fp16_to_fp32 (x[i].d);
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
      const float d = tern_fp16_to_fp32 (x[i].d);
      const float m = tern_fp16_to_fp32 (x[i].m);
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
      const float d = tern_fp16_to_fp32 (x[i].d);
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
      const float d = tern_fp16_to_fp32 (x[i].d);
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
      const float d = tern_fp16_to_fp32 (x[i].d);
      const float min = tern_fp16_to_fp32 (x[i].dmin);
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
      const float d = tern_fp16_to_fp32 (x[i].d);
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
      const float d = tern_fp16_to_fp32 (x[i].d);
      const float min = tern_fp16_to_fp32 (x[i].dmin);
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
      const float d = tern_fp16_to_fp32 (x[i].d);
      const float min = tern_fp16_to_fp32 (x[i].dmin);
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
      const float d = tern_fp16_to_fp32 (x[i].d);
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
      const float d = tern_fp16_to_fp32 (x[i].d);
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
      const float d = tern_fp16_to_fp32 (x[i].d);
      unpack_tq2_0 (&x[i], q);
      for (int l = 0; l < 256; l++)
        dst[l] = (float) q[l] * d;
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
    sum += (double) (tern_fp16_to_fp32 (w[i]) * tern_fp16_to_fp32 (a[i]));
  return (float) sum;
}

static float
vec_dot_bf16 (gint64 n, const void *vw, const void *va)
{
  const guint16 *w = vw, *a = va;
  double sum = 0;
  for (gint64 i = 0; i < n; i++)
    sum += (double) (tern_bf16_to_fp32 (w[i]) * tern_bf16_to_fp32 (a[i]));
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
      sum += sumi * (tern_fp16_to_fp32 (w[i].d) * tern_fp16_to_fp32 (a[i].d));
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
      sum += sumi * (tern_fp16_to_fp32 (w[i].d) * tern_fp16_to_fp32 (a[i].d))
             + tern_fp16_to_fp32 (w[i].m) * tern_fp16_to_fp32 (a[i].s);
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
      sum += sumi * (tern_fp16_to_fp32 (w[i].d) * tern_fp16_to_fp32 (a[i].d));
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
      sum += sumi * (tern_fp16_to_fp32 (w[i].d) * tern_fp16_to_fp32 (a[i].d))
             + tern_fp16_to_fp32 (w[i].m) * tern_fp16_to_fp32 (a[i].s);
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
      sum += sumi * (tern_fp16_to_fp32 (w[i].d) * tern_fp16_to_fp32 (a[i].d));
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
      const float dall = a[i].d * tern_fp16_to_fp32 (w[i].d);
      const float dmin = a[i].d * tern_fp16_to_fp32 (w[i].dmin);
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
      sum += a[i].d * tern_fp16_to_fp32 (w[i].d) * isum;
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
      sum += dot_k4_block (q, w[i].scales, tern_fp16_to_fp32 (w[i].d),
                           tern_fp16_to_fp32 (w[i].dmin), &a[i]);
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
      sum += dot_k4_block (q, w[i].scales, tern_fp16_to_fp32 (w[i].d),
                           tern_fp16_to_fp32 (w[i].dmin), &a[i]);
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
      sum += a[i].d * tern_fp16_to_fp32 (w[i].d) * isum;
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
      sum += dot_i32 (q, a[i].qs, 256) * (tern_fp16_to_fp32 (w[i].d) * a[i].d);
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
      sum += dot_i32 (q, a[i].qs, 256) * (tern_fp16_to_fp32 (w[i].d) * a[i].d);
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

const TernKernelTable tern_quant_kernels_scalar = {
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
