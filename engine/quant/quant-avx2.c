/* SPDX-License-Identifier: GPL-3.0-or-later */

/* AVX2 (+FMA, F16C) kernels. Quantized dot products multiply unsigned
 * 8-bit weights by signed 8-bit activations with vpmaddubsw (pairs summed
 * to 16 bits, never saturating for these ranges), apply the 16-bit
 * sub-block scales with vpmaddwd, sum whole blocks in 32-bit integers, and
 * only then go to float: the integer part is exact. Signed weights use
 * |w| and the activation's sign flipped by w's sign. */

#include "quant-simd.h"

static inline __m256i
mul_sum_u8_i8 (__m256i u, __m256i s)
{
  return _mm256_madd_epi16 (_mm256_maddubs_epi16 (u, s), _mm256_set1_epi16 (1));
}

static inline __m256i
mul_sum_i8_i8 (__m256i x, __m256i y)
{
  return mul_sum_u8_i8 (_mm256_sign_epi8 (x, x), _mm256_sign_epi8 (y, x));
}

/* 16 nibbles -> 32 bytes: the low nibbles, then the high ones. */
static inline __m256i
nibbles_32 (const guint8 *p)
{
  __m128i v = _mm_loadu_si128 ((const __m128i *) p);
  __m256i both = _mm256_set_m128i (_mm_srli_epi16 (v, 4), v);
  return _mm256_and_si256 (both, _mm256_set1_epi8 (0x0f));
}

/* 32 bits -> 32 bytes, 0xff where the bit is set. */
static inline __m256i
bits_32 (const guint8 *p)
{
  guint32 x;
  memcpy (&x, p, sizeof x);
  const __m256i spread = _mm256_set_epi64x (0x0303030303030303, 0x0202020202020202,
                                            0x0101010101010101, 0x0000000000000000);
  const __m256i bit = _mm256_set1_epi64x ((gint64) 0x8040201008040201);
  __m256i v = _mm256_shuffle_epi8 (_mm256_set1_epi32 ((int) x), spread);
  return _mm256_cmpeq_epi8 (_mm256_and_si256 (v, bit), bit);
}

/* From a vector holding the same 8 int16 scales in both lanes, a vector of
 * scale @lo in the low lane and @hi in the high lane. */
static inline __m256i
scale_pair (__m256i scales, int lo, int hi)
{
  const __m256i pick = _mm256_set_m128i (_mm_set1_epi16 ((short) ((2 * hi + 1) << 8 | 2 * hi)),
                                         _mm_set1_epi16 ((short) ((2 * lo + 1) << 8 | 2 * lo)));
  return _mm256_shuffle_epi8 (scales, pick);
}

static inline __m256i
lanes_of (__m128i v)
{
  return _mm256_broadcastsi128_si256 (v);
}

/* ---- Float types ---- */

static float
vec_dot_f32 (gint64 n, const void *vw, const void *va)
{
  const float *w = vw, *a = va;
  __m256 acc0 = _mm256_setzero_ps (), acc1 = acc0, acc2 = acc0, acc3 = acc0;
  gint64 i = 0;
  for (; i + 32 <= n; i += 32)
    {
      acc0 = _mm256_fmadd_ps (_mm256_loadu_ps (w + i), _mm256_loadu_ps (a + i), acc0);
      acc1 = _mm256_fmadd_ps (_mm256_loadu_ps (w + i + 8), _mm256_loadu_ps (a + i + 8), acc1);
      acc2 = _mm256_fmadd_ps (_mm256_loadu_ps (w + i + 16), _mm256_loadu_ps (a + i + 16), acc2);
      acc3 = _mm256_fmadd_ps (_mm256_loadu_ps (w + i + 24), _mm256_loadu_ps (a + i + 24), acc3);
    }
  for (; i + 8 <= n; i += 8)
    acc0 = _mm256_fmadd_ps (_mm256_loadu_ps (w + i), _mm256_loadu_ps (a + i), acc0);
  float sum = hsum_ps256 (_mm256_add_ps (_mm256_add_ps (acc0, acc1), _mm256_add_ps (acc2, acc3)));
  for (; i < n; i++)
    sum += w[i] * a[i];
  return sum;
}

static inline __m256
load_f16x8 (const guint16 *p)
{
  return _mm256_cvtph_ps (_mm_loadu_si128 ((const __m128i *) p));
}

static float
vec_dot_f16 (gint64 n, const void *vw, const void *va)
{
  const guint16 *w = vw, *a = va;
  __m256 acc0 = _mm256_setzero_ps (), acc1 = acc0, acc2 = acc0, acc3 = acc0;
  gint64 i = 0;
  for (; i + 32 <= n; i += 32)
    {
      acc0 = _mm256_fmadd_ps (load_f16x8 (w + i), load_f16x8 (a + i), acc0);
      acc1 = _mm256_fmadd_ps (load_f16x8 (w + i + 8), load_f16x8 (a + i + 8), acc1);
      acc2 = _mm256_fmadd_ps (load_f16x8 (w + i + 16), load_f16x8 (a + i + 16), acc2);
      acc3 = _mm256_fmadd_ps (load_f16x8 (w + i + 24), load_f16x8 (a + i + 24), acc3);
    }
  for (; i + 8 <= n; i += 8)
    acc0 = _mm256_fmadd_ps (load_f16x8 (w + i), load_f16x8 (a + i), acc0);
  float sum = hsum_ps256 (_mm256_add_ps (_mm256_add_ps (acc0, acc1), _mm256_add_ps (acc2, acc3)));
  for (; i < n; i++)
    sum += simd_half (w[i]) * simd_half (a[i]);
  return sum;
}

static inline __m256
load_bf16x8 (const guint16 *p)
{
  __m256i v = _mm256_cvtepu16_epi32 (_mm_loadu_si128 ((const __m128i *) p));
  return _mm256_castsi256_ps (_mm256_slli_epi32 (v, 16));
}

static float
vec_dot_bf16 (gint64 n, const void *vw, const void *va)
{
  const guint16 *w = vw, *a = va;
  __m256 acc0 = _mm256_setzero_ps (), acc1 = acc0, acc2 = acc0, acc3 = acc0;
  gint64 i = 0;
  for (; i + 32 <= n; i += 32)
    {
      acc0 = _mm256_fmadd_ps (load_bf16x8 (w + i), load_bf16x8 (a + i), acc0);
      acc1 = _mm256_fmadd_ps (load_bf16x8 (w + i + 8), load_bf16x8 (a + i + 8), acc1);
      acc2 = _mm256_fmadd_ps (load_bf16x8 (w + i + 16), load_bf16x8 (a + i + 16), acc2);
      acc3 = _mm256_fmadd_ps (load_bf16x8 (w + i + 24), load_bf16x8 (a + i + 24), acc3);
    }
  for (; i + 8 <= n; i += 8)
    acc0 = _mm256_fmadd_ps (load_bf16x8 (w + i), load_bf16x8 (a + i), acc0);
  float sum = hsum_ps256 (_mm256_add_ps (_mm256_add_ps (acc0, acc1), _mm256_add_ps (acc2, acc3)));
  for (; i < n; i++)
    sum += tern_bf16_to_fp32 (w[i]) * tern_bf16_to_fp32 (a[i]);
  return sum;
}

/* ---- 32-element blocks ---- */

static float
vec_dot_q8_0 (gint64 n, const void *vw, const void *va)
{
  const TernBlockQ8_0 *w = vw;
  const TernBlockQ8_0 *a = va;
  __m256 acc0 = _mm256_setzero_ps (), acc1 = acc0;
  gint64 nb = n / 32, i = 0;
  for (; i + 2 <= nb; i += 2)
    {
      __m256i p0 = mul_sum_i8_i8 (_mm256_loadu_si256 ((const __m256i *) w[i].qs),
                                  _mm256_loadu_si256 ((const __m256i *) a[i].qs));
      __m256i p1 = mul_sum_i8_i8 (_mm256_loadu_si256 ((const __m256i *) w[i + 1].qs),
                                  _mm256_loadu_si256 ((const __m256i *) a[i + 1].qs));
      acc0 = _mm256_fmadd_ps (_mm256_set1_ps (simd_half (w[i].d) * simd_half (a[i].d)),
                              _mm256_cvtepi32_ps (p0), acc0);
      acc1 = _mm256_fmadd_ps (_mm256_set1_ps (simd_half (w[i + 1].d) * simd_half (a[i + 1].d)),
                              _mm256_cvtepi32_ps (p1), acc1);
    }
  for (; i < nb; i++)
    {
      __m256i p = mul_sum_i8_i8 (_mm256_loadu_si256 ((const __m256i *) w[i].qs),
                                 _mm256_loadu_si256 ((const __m256i *) a[i].qs));
      acc0 = _mm256_fmadd_ps (_mm256_set1_ps (simd_half (w[i].d) * simd_half (a[i].d)),
                              _mm256_cvtepi32_ps (p), acc0);
    }
  return hsum_ps256 (_mm256_add_ps (acc0, acc1));
}

static float
vec_dot_q4_0 (gint64 n, const void *vw, const void *va)
{
  const TernBlockQ4_0 *w = vw;
  const TernBlockQ8_0 *a = va;
  const __m256i eight = _mm256_set1_epi8 (8);
  __m256 acc0 = _mm256_setzero_ps (), acc1 = acc0;
  gint64 nb = n / 32, i = 0;
  for (; i + 2 <= nb; i += 2)
    {
      __m256i q0 = _mm256_sub_epi8 (nibbles_32 (w[i].qs), eight);
      __m256i q1 = _mm256_sub_epi8 (nibbles_32 (w[i + 1].qs), eight);
      __m256i p0 = mul_sum_i8_i8 (q0, _mm256_loadu_si256 ((const __m256i *) a[i].qs));
      __m256i p1 = mul_sum_i8_i8 (q1, _mm256_loadu_si256 ((const __m256i *) a[i + 1].qs));
      acc0 = _mm256_fmadd_ps (_mm256_set1_ps (simd_half (w[i].d) * simd_half (a[i].d)),
                              _mm256_cvtepi32_ps (p0), acc0);
      acc1 = _mm256_fmadd_ps (_mm256_set1_ps (simd_half (w[i + 1].d) * simd_half (a[i + 1].d)),
                              _mm256_cvtepi32_ps (p1), acc1);
    }
  for (; i < nb; i++)
    {
      __m256i q = _mm256_sub_epi8 (nibbles_32 (w[i].qs), eight);
      __m256i p = mul_sum_i8_i8 (q, _mm256_loadu_si256 ((const __m256i *) a[i].qs));
      acc0 = _mm256_fmadd_ps (_mm256_set1_ps (simd_half (w[i].d) * simd_half (a[i].d)),
                              _mm256_cvtepi32_ps (p), acc0);
    }
  return hsum_ps256 (_mm256_add_ps (acc0, acc1));
}

static float
vec_dot_q4_1 (gint64 n, const void *vw, const void *va)
{
  const TernBlockQ4_1 *w = vw;
  const TernBlockQ8_1 *a = va;
  __m256 acc = _mm256_setzero_ps ();
  float summ = 0;
  for (gint64 i = 0; i < n / 32; i++)
    {
      __m256i p = mul_sum_u8_i8 (nibbles_32 (w[i].qs), _mm256_loadu_si256 ((const __m256i *) a[i].qs));
      acc = _mm256_fmadd_ps (_mm256_set1_ps (simd_half (w[i].d) * simd_half (a[i].d)),
                             _mm256_cvtepi32_ps (p), acc);
      summ += simd_half (w[i].m) * simd_half (a[i].s);
    }
  return hsum_ps256 (acc) + summ;
}

static float
vec_dot_q5_0 (gint64 n, const void *vw, const void *va)
{
  const TernBlockQ5_0 *w = vw;
  const TernBlockQ8_0 *a = va;
  __m256 acc = _mm256_setzero_ps ();
  for (gint64 i = 0; i < n / 32; i++)
    {
      /* q - 16 as a signed byte: the nibble with 0xf0 or-ed in where the
       * fifth bit is clear. */
      __m256i high = _mm256_andnot_si256 (bits_32 (w[i].qh), _mm256_set1_epi8 ((char) 0xf0));
      __m256i q = _mm256_or_si256 (nibbles_32 (w[i].qs), high);
      __m256i p = mul_sum_i8_i8 (q, _mm256_loadu_si256 ((const __m256i *) a[i].qs));
      acc = _mm256_fmadd_ps (_mm256_set1_ps (simd_half (w[i].d) * simd_half (a[i].d)),
                             _mm256_cvtepi32_ps (p), acc);
    }
  return hsum_ps256 (acc);
}

static float
vec_dot_q5_1 (gint64 n, const void *vw, const void *va)
{
  const TernBlockQ5_1 *w = vw;
  const TernBlockQ8_1 *a = va;
  __m256 acc = _mm256_setzero_ps ();
  float summ = 0;
  for (gint64 i = 0; i < n / 32; i++)
    {
      __m256i high = _mm256_and_si256 (bits_32 (w[i].qh), _mm256_set1_epi8 (0x10));
      __m256i q = _mm256_or_si256 (nibbles_32 (w[i].qs), high);
      __m256i p = mul_sum_u8_i8 (q, _mm256_loadu_si256 ((const __m256i *) a[i].qs));
      acc = _mm256_fmadd_ps (_mm256_set1_ps (simd_half (w[i].d) * simd_half (a[i].d)),
                             _mm256_cvtepi32_ps (p), acc);
      summ += simd_half (w[i].m) * simd_half (a[i].s);
    }
  return hsum_ps256 (acc) + summ;
}

/* ---- K-quants and ternary types against Q8_K ---- */

static inline __m256i
load_y (const TernBlockQ8_K *a, int offset)
{
  return _mm256_loadu_si256 ((const __m256i *) (a->qs + offset));
}

static float
vec_dot_q2_K (gint64 n, const void *vw, const void *va)
{
  const TernBlockQ2_K *w = vw;
  const TernBlockQ8_K *a = va;
  const __m256i m3 = _mm256_set1_epi8 (3);
  __m256 acc = _mm256_setzero_ps ();
  for (gint64 i = 0; i < n / 256; i++)
    {
      __m128i packed = _mm_loadu_si128 ((const __m128i *) w[i].scales);
      __m128i sc8 = _mm_and_si128 (packed, _mm_set1_epi8 (0x0f));
      __m128i m8 = _mm_and_si128 (_mm_srli_epi16 (packed, 4), _mm_set1_epi8 (0x0f));
      /* x = d*sc*q - dmin*m: the min part from the activation's 16-sums. */
      __m256i mins = _mm256_madd_epi16 (_mm256_cvtepu8_epi16 (m8),
                                        _mm256_loadu_si256 ((const __m256i *) a[i].bsums));
      __m256i sc16 = _mm256_cvtepu8_epi16 (sc8);
      __m256i sumi = _mm256_setzero_si256 ();
      for (int h = 0; h < 2; h++)
        {
          __m256i sc = lanes_of (_mm256_extracti128_si256 (sc16, 0));
          if (h == 1)
            sc = lanes_of (_mm256_extracti128_si256 (sc16, 1));
          __m256i q = _mm256_loadu_si256 ((const __m256i *) (w[i].qs + 32 * h));
          for (int g = 0; g < 4; g++)
            {
              __m256i qg = _mm256_and_si256 (_mm256_srli_epi16 (q, 2 * g), m3);
              __m256i p = _mm256_maddubs_epi16 (qg, load_y (&a[i], 128 * h + 32 * g));
              sumi = _mm256_add_epi32 (sumi, _mm256_madd_epi16 (p, scale_pair (sc, 2 * g, 2 * g + 1)));
            }
        }
      const float d = a[i].d * simd_half (w[i].d);
      const float dmin = a[i].d * simd_half (w[i].dmin);
      acc = _mm256_fmadd_ps (_mm256_set1_ps (d), _mm256_cvtepi32_ps (sumi), acc);
      acc = _mm256_fnmadd_ps (_mm256_set1_ps (dmin), _mm256_cvtepi32_ps (mins), acc);
    }
  return hsum_ps256 (acc);
}

static float
vec_dot_q3_K (gint64 n, const void *vw, const void *va)
{
  const TernBlockQ3_K *w = vw;
  const TernBlockQ8_K *a = va;
  const __m256i m3 = _mm256_set1_epi8 (3), one = _mm256_set1_epi8 (1);
  __m256 acc = _mm256_setzero_ps ();
  for (gint64 i = 0; i < n / 256; i++)
    {
      __m256i sc16 = _mm256_cvtepi8_epi16 (q3k_scales (w[i].scales));
      /* q = u - 4 with u = low 2 bits + 4 * high bit in 0..7: sum sc*u*y,
       * minus 4 * sum sc * (16-sums of y). */
      __m256i offset = _mm256_madd_epi16 (sc16, _mm256_loadu_si256 ((const __m256i *) a[i].bsums));
      __m256i sumi = _mm256_sub_epi32 (_mm256_setzero_si256 (), _mm256_slli_epi32 (offset, 2));
      __m256i hm = _mm256_loadu_si256 ((const __m256i *) w[i].hmask);
      for (int h = 0; h < 2; h++)
        {
          __m256i sc = lanes_of (_mm256_extracti128_si256 (sc16, 0));
          if (h == 1)
            sc = lanes_of (_mm256_extracti128_si256 (sc16, 1));
          __m256i q = _mm256_loadu_si256 ((const __m256i *) (w[i].qs + 32 * h));
          for (int g = 0; g < 4; g++)
            {
              __m256i lo = _mm256_and_si256 (_mm256_srli_epi16 (q, 2 * g), m3);
              __m256i hb = _mm256_and_si256 (_mm256_srli_epi16 (hm, 4 * h + g), one);
              __m256i u = _mm256_or_si256 (lo, _mm256_slli_epi16 (hb, 2));
              __m256i p = _mm256_maddubs_epi16 (u, load_y (&a[i], 128 * h + 32 * g));
              sumi = _mm256_add_epi32 (sumi, _mm256_madd_epi16 (p, scale_pair (sc, 2 * g, 2 * g + 1)));
            }
        }
      const float d = a[i].d * simd_half (w[i].d);
      acc = _mm256_fmadd_ps (_mm256_set1_ps (d), _mm256_cvtepi32_ps (sumi), acc);
    }
  return hsum_ps256 (acc);
}

/* Q4_K / Q5_K: sum over the 8 mins of m * (the activation's 32-sums). */
static inline __m128i
k4_mins_dot (__m128i scales_mins, const TernBlockQ8_K *a)
{
  __m128i mins = _mm_cvtepu8_epi16 (_mm_srli_si128 (scales_mins, 8));
  __m128i b0 = _mm_loadu_si128 ((const __m128i *) a->bsums);
  __m128i b1 = _mm_loadu_si128 ((const __m128i *) (a->bsums + 8));
  return _mm_madd_epi16 (mins, _mm_hadd_epi16 (b0, b1));
}

static float
vec_dot_q4_K (gint64 n, const void *vw, const void *va)
{
  const TernBlockQ4_K *w = vw;
  const TernBlockQ8_K *a = va;
  const __m256i m4 = _mm256_set1_epi8 (0x0f);
  __m256 acc = _mm256_setzero_ps ();
  __m128 accm = _mm_setzero_ps ();
  for (gint64 i = 0; i < n / 256; i++)
    {
      __m128i sm = k4_scales_mins (w[i].scales);
      __m256i sc = lanes_of (_mm_cvtepu8_epi16 (sm));
      __m256i sumi = _mm256_setzero_si256 ();
      for (int c = 0; c < 4; c++)
        {
          __m256i q = _mm256_loadu_si256 ((const __m256i *) (w[i].qs + 32 * c));
          __m256i lo = _mm256_and_si256 (q, m4);
          __m256i hi = _mm256_and_si256 (_mm256_srli_epi16 (q, 4), m4);
          __m256i p0 = _mm256_maddubs_epi16 (lo, load_y (&a[i], 64 * c));
          __m256i p1 = _mm256_maddubs_epi16 (hi, load_y (&a[i], 64 * c + 32));
          p0 = _mm256_madd_epi16 (p0, scale_pair (sc, 2 * c, 2 * c));
          p1 = _mm256_madd_epi16 (p1, scale_pair (sc, 2 * c + 1, 2 * c + 1));
          sumi = _mm256_add_epi32 (sumi, _mm256_add_epi32 (p0, p1));
        }
      const float d = a[i].d * simd_half (w[i].d);
      const float dmin = a[i].d * simd_half (w[i].dmin);
      acc = _mm256_fmadd_ps (_mm256_set1_ps (d), _mm256_cvtepi32_ps (sumi), acc);
      accm = _mm_fmadd_ps (_mm_set1_ps (dmin), _mm_cvtepi32_ps (k4_mins_dot (sm, &a[i])), accm);
    }
  return hsum_ps256 (acc) - hsum_ps128 (accm);
}

static float
vec_dot_q5_K (gint64 n, const void *vw, const void *va)
{
  const TernBlockQ5_K *w = vw;
  const TernBlockQ8_K *a = va;
  const __m256i m4 = _mm256_set1_epi8 (0x0f), one = _mm256_set1_epi8 (1);
  __m256 acc = _mm256_setzero_ps ();
  __m128 accm = _mm_setzero_ps ();
  for (gint64 i = 0; i < n / 256; i++)
    {
      __m128i sm = k4_scales_mins (w[i].scales);
      __m256i sc = lanes_of (_mm_cvtepu8_epi16 (sm));
      __m256i qh = _mm256_loadu_si256 ((const __m256i *) w[i].qh);
      __m256i sumi = _mm256_setzero_si256 ();
      for (int c = 0; c < 4; c++)
        {
          __m256i q = _mm256_loadu_si256 ((const __m256i *) (w[i].qs + 32 * c));
          __m256i h0 = _mm256_and_si256 (_mm256_srli_epi16 (qh, 2 * c), one);
          __m256i h1 = _mm256_and_si256 (_mm256_srli_epi16 (qh, 2 * c + 1), one);
          __m256i lo = _mm256_or_si256 (_mm256_and_si256 (q, m4), _mm256_slli_epi16 (h0, 4));
          __m256i hi = _mm256_or_si256 (_mm256_and_si256 (_mm256_srli_epi16 (q, 4), m4),
                                        _mm256_slli_epi16 (h1, 4));
          __m256i p0 = _mm256_maddubs_epi16 (lo, load_y (&a[i], 64 * c));
          __m256i p1 = _mm256_maddubs_epi16 (hi, load_y (&a[i], 64 * c + 32));
          p0 = _mm256_madd_epi16 (p0, scale_pair (sc, 2 * c, 2 * c));
          p1 = _mm256_madd_epi16 (p1, scale_pair (sc, 2 * c + 1, 2 * c + 1));
          sumi = _mm256_add_epi32 (sumi, _mm256_add_epi32 (p0, p1));
        }
      const float d = a[i].d * simd_half (w[i].d);
      const float dmin = a[i].d * simd_half (w[i].dmin);
      acc = _mm256_fmadd_ps (_mm256_set1_ps (d), _mm256_cvtepi32_ps (sumi), acc);
      accm = _mm_fmadd_ps (_mm_set1_ps (dmin), _mm_cvtepi32_ps (k4_mins_dot (sm, &a[i])), accm);
    }
  return hsum_ps256 (acc) - hsum_ps128 (accm);
}

static float
vec_dot_q6_K (gint64 n, const void *vw, const void *va)
{
  const TernBlockQ6_K *w = vw;
  const TernBlockQ8_K *a = va;
  const __m256i m4 = _mm256_set1_epi8 (0x0f), m3 = _mm256_set1_epi8 (3);
  __m256 acc = _mm256_setzero_ps ();
  for (gint64 i = 0; i < n / 256; i++)
    {
      __m256i sc16 = _mm256_cvtepi8_epi16 (_mm_loadu_si128 ((const __m128i *) w[i].scales));
      /* q - 32 with q in 0..63: sum sc*q*y minus 32 * sum sc * (16-sums). */
      __m256i offset = _mm256_madd_epi16 (sc16, _mm256_loadu_si256 ((const __m256i *) a[i].bsums));
      __m256i sumi = _mm256_sub_epi32 (_mm256_setzero_si256 (), _mm256_slli_epi32 (offset, 5));
      for (int h = 0; h < 2; h++)
        {
          __m256i sc = lanes_of (_mm256_extracti128_si256 (sc16, 0));
          if (h == 1)
            sc = lanes_of (_mm256_extracti128_si256 (sc16, 1));
          __m256i ql0 = _mm256_loadu_si256 ((const __m256i *) (w[i].ql + 64 * h));
          __m256i ql1 = _mm256_loadu_si256 ((const __m256i *) (w[i].ql + 64 * h + 32));
          __m256i qh = _mm256_loadu_si256 ((const __m256i *) (w[i].qh + 32 * h));
          __m256i q[4] = {
            _mm256_or_si256 (_mm256_and_si256 (ql0, m4),
                             _mm256_slli_epi16 (_mm256_and_si256 (qh, m3), 4)),
            _mm256_or_si256 (_mm256_and_si256 (ql1, m4),
                             _mm256_slli_epi16 (_mm256_and_si256 (_mm256_srli_epi16 (qh, 2), m3), 4)),
            _mm256_or_si256 (_mm256_and_si256 (_mm256_srli_epi16 (ql0, 4), m4),
                             _mm256_slli_epi16 (_mm256_and_si256 (_mm256_srli_epi16 (qh, 4), m3), 4)),
            _mm256_or_si256 (_mm256_and_si256 (_mm256_srli_epi16 (ql1, 4), m4),
                             _mm256_slli_epi16 (_mm256_and_si256 (_mm256_srli_epi16 (qh, 6), m3), 4)),
          };
          for (int g = 0; g < 4; g++)
            {
              __m256i p = _mm256_maddubs_epi16 (q[g], load_y (&a[i], 128 * h + 32 * g));
              sumi = _mm256_add_epi32 (sumi, _mm256_madd_epi16 (p, scale_pair (sc, 2 * g, 2 * g + 1)));
            }
        }
      const float d = a[i].d * simd_half (w[i].d);
      acc = _mm256_fmadd_ps (_mm256_set1_ps (d), _mm256_cvtepi32_ps (sumi), acc);
    }
  return hsum_ps256 (acc);
}

/* Sum of all 256 activation values, as 8 partial int32 sums. */
static inline __m256i
q8k_sum (const TernBlockQ8_K *a)
{
  return _mm256_madd_epi16 (_mm256_loadu_si256 ((const __m256i *) a->bsums), _mm256_set1_epi16 (1));
}

static float
vec_dot_tq2_0 (gint64 n, const void *vw, const void *va)
{
  const TernBlockTQ2_0 *w = vw;
  const TernBlockQ8_K *a = va;
  const __m256i m3 = _mm256_set1_epi8 (3);
  __m256 acc = _mm256_setzero_ps ();
  for (gint64 i = 0; i < n / 256; i++)
    {
      /* t in 0..2 (x = t - 1): pair sums of t*y stay below 509, so eight
       * of them add up in 16 bits. */
      __m256i sum16 = _mm256_setzero_si256 ();
      for (int h = 0; h < 2; h++)
        {
          __m256i q = _mm256_loadu_si256 ((const __m256i *) (w[i].qs + 32 * h));
          for (int g = 0; g < 4; g++)
            {
              __m256i t = _mm256_and_si256 (_mm256_srli_epi16 (q, 2 * g), m3);
              sum16 = _mm256_add_epi16 (sum16, _mm256_maddubs_epi16 (t, load_y (&a[i], 128 * h + 32 * g)));
            }
        }
      __m256i sumi = _mm256_sub_epi32 (_mm256_madd_epi16 (sum16, _mm256_set1_epi16 (1)), q8k_sum (&a[i]));
      const float d = a[i].d * simd_half (w[i].d);
      acc = _mm256_fmadd_ps (_mm256_set1_ps (d), _mm256_cvtepi32_ps (sumi), acc);
    }
  return hsum_ps256 (acc);
}

/* Trits of packed TQ1_0 bytes @b: trit n of byte v is the top of
 * (v * 3^n mod 256) * 3 >> 8; @pow holds 3^n per 16-bit lane (both bytes
 * of a lane take the same power). */
static inline __m256i
trits_256 (__m256i b, __m256i pow)
{
  const __m256i three = _mm256_set1_epi16 (3);
  __m256i even = _mm256_slli_epi16 (_mm256_mullo_epi16 (b, pow), 8);
  __m256i odd = _mm256_mullo_epi16 (_mm256_and_si256 (b, _mm256_set1_epi16 ((short) 0xff00)), pow);
  __m256i t_even = _mm256_mulhi_epu16 (even, three);
  __m256i t_odd = _mm256_slli_epi16 (_mm256_mulhi_epu16 (odd, three), 8);
  return _mm256_or_si256 (t_even, t_odd);
}

static inline __m256i
pow3_pair (int lo, int hi)
{
  return _mm256_set_m128i (_mm_set1_epi16 ((short) hi), _mm_set1_epi16 ((short) lo));
}

static float
vec_dot_tq1_0 (gint64 n, const void *vw, const void *va)
{
  const TernBlockTQ1_0 *w = vw;
  const TernBlockQ8_K *a = va;
  __m256 acc = _mm256_setzero_ps ();
  for (gint64 i = 0; i < n / 256; i++)
    {
      __m256i sum16 = _mm256_setzero_si256 ();
      /* qs[0..31]: five trits each, elements 32n + m. */
      __m256i b = _mm256_loadu_si256 ((const __m256i *) w[i].qs);
      static const short pow3[5] = { 1, 3, 9, 27, 81 };
      for (int k = 0; k < 5; k++)
        {
          __m256i t = trits_256 (b, _mm256_set1_epi16 (pow3[k]));
          sum16 = _mm256_add_epi16 (sum16, _mm256_maddubs_epi16 (t, load_y (&a[i], 32 * k)));
        }
      /* qs[32..47]: elements 160 + 16n + m, two trits per vector. */
      __m128i b16 = _mm_loadu_si128 ((const __m128i *) (w[i].qs + 32));
      __m256i b2 = lanes_of (b16);
      __m256i t01 = trits_256 (b2, pow3_pair (1, 3));
      __m256i t23 = trits_256 (b2, pow3_pair (9, 27));
      sum16 = _mm256_add_epi16 (sum16, _mm256_maddubs_epi16 (t01, load_y (&a[i], 160)));
      sum16 = _mm256_add_epi16 (sum16, _mm256_maddubs_epi16 (t23, load_y (&a[i], 192)));
      /* Last trit of qs[32..47] (elements 224..239) beside the four
       * trits of qh (elements 240 + 4n + j). */
      guint32 qh;
      memcpy (&qh, w[i].qh, sizeof qh);
      __m256i b3 = _mm256_set_m128i (_mm_set1_epi32 ((int) qh), b16);
      __m256i pow_last = _mm256_set_epi16 (27, 27, 9, 9, 3, 3, 1, 1, 81, 81, 81, 81, 81, 81, 81, 81);
      __m256i t4 = trits_256 (b3, pow_last);
      sum16 = _mm256_add_epi16 (sum16, _mm256_maddubs_epi16 (t4, load_y (&a[i], 224)));

      __m256i sumi = _mm256_sub_epi32 (_mm256_madd_epi16 (sum16, _mm256_set1_epi16 (1)), q8k_sum (&a[i]));
      const float d = a[i].d * simd_half (w[i].d);
      acc = _mm256_fmadd_ps (_mm256_set1_ps (d), _mm256_cvtepi32_ps (sumi), acc);
    }
  return hsum_ps256 (acc);
}

/* ---- Dequantization (same float operations as quant-ref.c) ---- */

static void
dequant_f16 (const void *src, float *dst, gint64 n)
{
  const guint16 *x = src;
  gint64 i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps (dst + i, load_f16x8 (x + i));
  for (; i < n; i++)
    dst[i] = simd_half (x[i]);
}

static void
dequant_bf16 (const void *src, float *dst, gint64 n)
{
  const guint16 *x = src;
  gint64 i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps (dst + i, load_bf16x8 (x + i));
  for (; i < n; i++)
    dst[i] = tern_bf16_to_fp32 (x[i]);
}

/* 32 signed bytes times @d, to 32 floats. */
static inline void
store_scaled_i8 (float *dst, __m256i q, __m256 d)
{
  __m128i lo = _mm256_castsi256_si128 (q), hi = _mm256_extracti128_si256 (q, 1);
  _mm256_storeu_ps (dst, _mm256_mul_ps (_mm256_cvtepi32_ps (_mm256_cvtepi8_epi32 (lo)), d));
  _mm256_storeu_ps (dst + 8, _mm256_mul_ps (_mm256_cvtepi32_ps (_mm256_cvtepi8_epi32 (_mm_srli_si128 (lo, 8))), d));
  _mm256_storeu_ps (dst + 16, _mm256_mul_ps (_mm256_cvtepi32_ps (_mm256_cvtepi8_epi32 (hi)), d));
  _mm256_storeu_ps (dst + 24, _mm256_mul_ps (_mm256_cvtepi32_ps (_mm256_cvtepi8_epi32 (_mm_srli_si128 (hi, 8))), d));
}

/* 32 bytes q (as unsigned) to d * q - m; a multiply then a subtract, each
 * rounded, like llama.cpp (the file is built with -ffp-contract=off). */
static inline void
store_affine_u8 (float *dst, __m256i q, __m256 d, __m256 m)
{
  __m128i lo = _mm256_castsi256_si128 (q), hi = _mm256_extracti128_si256 (q, 1);
  __m128i parts[4] = { lo, _mm_srli_si128 (lo, 8), hi, _mm_srli_si128 (hi, 8) };
  for (int k = 0; k < 4; k++)
    {
      __m256 v = _mm256_cvtepi32_ps (_mm256_cvtepu8_epi32 (parts[k]));
      _mm256_storeu_ps (dst + 8 * k, _mm256_sub_ps (_mm256_mul_ps (d, v), m));
    }
}

static void
dequant_q8_0 (const void *src, float *dst, gint64 n)
{
  const TernBlockQ8_0 *x = src;
  for (gint64 i = 0; i < n / 32; i++, dst += 32)
    store_scaled_i8 (dst, _mm256_loadu_si256 ((const __m256i *) x[i].qs),
                     _mm256_set1_ps (simd_half (x[i].d)));
}

static void
dequant_q4_0 (const void *src, float *dst, gint64 n)
{
  const TernBlockQ4_0 *x = src;
  for (gint64 i = 0; i < n / 32; i++, dst += 32)
    store_scaled_i8 (dst, _mm256_sub_epi8 (nibbles_32 (x[i].qs), _mm256_set1_epi8 (8)),
                     _mm256_set1_ps (simd_half (x[i].d)));
}

static void
dequant_q4_K (const void *src, float *dst, gint64 n)
{
  const TernBlockQ4_K *x = src;
  const __m256i m4 = _mm256_set1_epi8 (0x0f);
  for (gint64 i = 0; i < n / 256; i++, dst += 256)
    {
      const float d = simd_half (x[i].d), min = simd_half (x[i].dmin);
      guint8 sm[16];
      _mm_storeu_si128 ((__m128i *) sm, k4_scales_mins (x[i].scales));
      for (int c = 0; c < 4; c++)
        {
          __m256i q = _mm256_loadu_si256 ((const __m256i *) (x[i].qs + 32 * c));
          store_affine_u8 (dst + 64 * c, _mm256_and_si256 (q, m4),
                           _mm256_set1_ps (d * sm[2 * c]), _mm256_set1_ps (min * sm[8 + 2 * c]));
          store_affine_u8 (dst + 64 * c + 32, _mm256_and_si256 (_mm256_srli_epi16 (q, 4), m4),
                           _mm256_set1_ps (d * sm[2 * c + 1]), _mm256_set1_ps (min * sm[9 + 2 * c]));
        }
    }
}

static void
dequant_q6_K (const void *src, float *dst, gint64 n)
{
  const TernBlockQ6_K *x = src;
  const __m256i m4 = _mm256_set1_epi8 (0x0f), m3 = _mm256_set1_epi8 (3);
  const __m256i m32 = _mm256_set1_epi8 (32);
  for (gint64 i = 0; i < n / 256; i++, dst += 256)
    {
      const float d = simd_half (x[i].d);
      for (int h = 0; h < 2; h++)
        {
          __m256i ql0 = _mm256_loadu_si256 ((const __m256i *) (x[i].ql + 64 * h));
          __m256i ql1 = _mm256_loadu_si256 ((const __m256i *) (x[i].ql + 64 * h + 32));
          __m256i qh = _mm256_loadu_si256 ((const __m256i *) (x[i].qh + 32 * h));
          __m256i q[4] = {
            _mm256_or_si256 (_mm256_and_si256 (ql0, m4),
                             _mm256_slli_epi16 (_mm256_and_si256 (qh, m3), 4)),
            _mm256_or_si256 (_mm256_and_si256 (ql1, m4),
                             _mm256_slli_epi16 (_mm256_and_si256 (_mm256_srli_epi16 (qh, 2), m3), 4)),
            _mm256_or_si256 (_mm256_and_si256 (_mm256_srli_epi16 (ql0, 4), m4),
                             _mm256_slli_epi16 (_mm256_and_si256 (_mm256_srli_epi16 (qh, 4), m3), 4)),
            _mm256_or_si256 (_mm256_and_si256 (_mm256_srli_epi16 (ql1, 4), m4),
                             _mm256_slli_epi16 (_mm256_and_si256 (_mm256_srli_epi16 (qh, 6), m3), 4)),
          };
          for (int g = 0; g < 4; g++)
            {
              /* (d * sc) * q per 16 elements, as llama.cpp. */
              const gint8 *sc = x[i].scales + 8 * h + 2 * g;
              __m256i qs = _mm256_sub_epi8 (q[g], m32);
              __m128i lo = _mm256_castsi256_si128 (qs), hi = _mm256_extracti128_si256 (qs, 1);
              __m256 d0 = _mm256_set1_ps (d * sc[0]), d1 = _mm256_set1_ps (d * sc[1]);
              float *out = dst + 128 * h + 32 * g;
              _mm256_storeu_ps (out, _mm256_mul_ps (d0, _mm256_cvtepi32_ps (_mm256_cvtepi8_epi32 (lo))));
              _mm256_storeu_ps (out + 8, _mm256_mul_ps (d0, _mm256_cvtepi32_ps (_mm256_cvtepi8_epi32 (_mm_srli_si128 (lo, 8)))));
              _mm256_storeu_ps (out + 16, _mm256_mul_ps (d1, _mm256_cvtepi32_ps (_mm256_cvtepi8_epi32 (hi))));
              _mm256_storeu_ps (out + 24, _mm256_mul_ps (d1, _mm256_cvtepi32_ps (_mm256_cvtepi8_epi32 (_mm_srli_si128 (hi, 8)))));
            }
        }
    }
}

static void
dequant_tq2_0 (const void *src, float *dst, gint64 n)
{
  const TernBlockTQ2_0 *x = src;
  const __m256i m3 = _mm256_set1_epi8 (3), one = _mm256_set1_epi8 (1);
  for (gint64 i = 0; i < n / 256; i++, dst += 256)
    {
      __m256 d = _mm256_set1_ps (simd_half (x[i].d));
      for (int h = 0; h < 2; h++)
        {
          __m256i q = _mm256_loadu_si256 ((const __m256i *) (x[i].qs + 32 * h));
          for (int g = 0; g < 4; g++)
            {
              __m256i t = _mm256_sub_epi8 (_mm256_and_si256 (_mm256_srli_epi16 (q, 2 * g), m3), one);
              store_scaled_i8 (dst + 128 * h + 32 * g, t, d);
            }
        }
    }
}

/* ---- Tile kernels ---- */

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

const TernKernelTable tern_quant_kernels_avx2 = {
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
    [TERN_TYPE_F16] = dequant_f16,
    [TERN_TYPE_BF16] = dequant_bf16,
    [TERN_TYPE_Q4_0] = dequant_q4_0,
    [TERN_TYPE_Q8_0] = dequant_q8_0,
    [TERN_TYPE_Q4_K] = dequant_q4_K,
    [TERN_TYPE_Q6_K] = dequant_q6_K,
    [TERN_TYPE_TQ2_0] = dequant_tq2_0,
  },
};
