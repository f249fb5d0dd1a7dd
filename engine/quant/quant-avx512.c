/* SPDX-License-Identifier: GPL-3.0-or-later */

/* AVX-512 (F, BW, VL, DQ, VNNI) kernels for the hot types; the others use
 * the AVX2 ones. Same scheme as quant-avx2.c on 64-byte vectors, with
 * VNNI's vpdpbusd (u8 x i8, four products summed into 32 bits) and vpdpwssd
 * (i16 x i16 pairs summed into 32 bits) fusing the multiply and the add. */

#include "quant-simd.h"

/* ---- Float types ---- */

static float
vec_dot_f32 (gint64 n, const void *vw, const void *va)
{
  const float *w = vw, *a = va;
  __m512 acc0 = _mm512_setzero_ps (), acc1 = acc0, acc2 = acc0, acc3 = acc0;
  gint64 i = 0;
  for (; i + 64 <= n; i += 64)
    {
      acc0 = _mm512_fmadd_ps (_mm512_loadu_ps (w + i), _mm512_loadu_ps (a + i), acc0);
      acc1 = _mm512_fmadd_ps (_mm512_loadu_ps (w + i + 16), _mm512_loadu_ps (a + i + 16), acc1);
      acc2 = _mm512_fmadd_ps (_mm512_loadu_ps (w + i + 32), _mm512_loadu_ps (a + i + 32), acc2);
      acc3 = _mm512_fmadd_ps (_mm512_loadu_ps (w + i + 48), _mm512_loadu_ps (a + i + 48), acc3);
    }
  for (; i + 16 <= n; i += 16)
    acc0 = _mm512_fmadd_ps (_mm512_loadu_ps (w + i), _mm512_loadu_ps (a + i), acc0);
  if (i < n)
    {
      __mmask16 k = (__mmask16) ((1u << (n - i)) - 1);
      acc1 = _mm512_fmadd_ps (_mm512_maskz_loadu_ps (k, w + i), _mm512_maskz_loadu_ps (k, a + i), acc1);
    }
  return _mm512_reduce_add_ps (_mm512_add_ps (_mm512_add_ps (acc0, acc1), _mm512_add_ps (acc2, acc3)));
}

static inline __m512
load_f16x16 (const guint16 *p)
{
  return _mm512_cvtph_ps (_mm256_loadu_si256 ((const __m256i *) p));
}

static float
vec_dot_f16 (gint64 n, const void *vw, const void *va)
{
  const guint16 *w = vw, *a = va;
  __m512 acc0 = _mm512_setzero_ps (), acc1 = acc0, acc2 = acc0, acc3 = acc0;
  gint64 i = 0;
  for (; i + 64 <= n; i += 64)
    {
      acc0 = _mm512_fmadd_ps (load_f16x16 (w + i), load_f16x16 (a + i), acc0);
      acc1 = _mm512_fmadd_ps (load_f16x16 (w + i + 16), load_f16x16 (a + i + 16), acc1);
      acc2 = _mm512_fmadd_ps (load_f16x16 (w + i + 32), load_f16x16 (a + i + 32), acc2);
      acc3 = _mm512_fmadd_ps (load_f16x16 (w + i + 48), load_f16x16 (a + i + 48), acc3);
    }
  for (; i + 16 <= n; i += 16)
    acc0 = _mm512_fmadd_ps (load_f16x16 (w + i), load_f16x16 (a + i), acc0);
  if (i < n)
    {
      __mmask16 k = (__mmask16) ((1u << (n - i)) - 1);
      __m512 x = _mm512_cvtph_ps (_mm256_maskz_loadu_epi16 (k, w + i));
      __m512 y = _mm512_cvtph_ps (_mm256_maskz_loadu_epi16 (k, a + i));
      acc1 = _mm512_fmadd_ps (x, y, acc1);
    }
  return _mm512_reduce_add_ps (_mm512_add_ps (_mm512_add_ps (acc0, acc1), _mm512_add_ps (acc2, acc3)));
}

/* ---- Q8_0 activations ---- */

/* Two 32-byte rows side by side. */
static inline __m512i
join_256 (const void *lo, const void *hi)
{
  return _mm512_inserti64x4 (_mm512_castsi256_si512 (_mm256_loadu_si256 ((const __m256i *) lo)),
                             _mm256_loadu_si256 ((const __m256i *) hi), 1);
}

/* One scale per 256-bit half. */
static inline __m512
halves_ps (float lo, float hi)
{
  return _mm512_insertf32x8 (_mm512_castps256_ps512 (_mm256_set1_ps (lo)), _mm256_set1_ps (hi), 1);
}

/* Sums of 4 products of signed bytes: |x| times y with x's sign. */
static inline __m512i
dot_i8 (__m512i x, __m512i y)
{
  __m512i sy = _mm512_mask_sub_epi8 (y, _mm512_movepi8_mask (x), _mm512_setzero_si512 (), y);
  return _mm512_dpbusd_epi32 (_mm512_setzero_si512 (), _mm512_abs_epi8 (x), sy);
}

static inline __m256i
dot_i8_256 (__m256i x, __m256i y)
{
  return _mm256_dpbusd_epi32 (_mm256_setzero_si256 (), _mm256_sign_epi8 (x, x), _mm256_sign_epi8 (y, x));
}

static float
vec_dot_q8_0 (gint64 n, const void *vw, const void *va)
{
  const TernBlockQ8_0 *w = vw;
  const TernBlockQ8_0 *a = va;
  __m512 acc0 = _mm512_setzero_ps (), acc1 = acc0;
  __m256 acc_tail = _mm256_setzero_ps ();
  gint64 nb = n / 32, i = 0;
  for (; i + 4 <= nb; i += 4)
    {
      __m512i p0 = dot_i8 (join_256 (w[i].qs, w[i + 1].qs), join_256 (a[i].qs, a[i + 1].qs));
      __m512i p1 = dot_i8 (join_256 (w[i + 2].qs, w[i + 3].qs), join_256 (a[i + 2].qs, a[i + 3].qs));
      __m512 d0 = halves_ps (simd_half (w[i].d) * simd_half (a[i].d),
                             simd_half (w[i + 1].d) * simd_half (a[i + 1].d));
      __m512 d1 = halves_ps (simd_half (w[i + 2].d) * simd_half (a[i + 2].d),
                             simd_half (w[i + 3].d) * simd_half (a[i + 3].d));
      acc0 = _mm512_fmadd_ps (d0, _mm512_cvtepi32_ps (p0), acc0);
      acc1 = _mm512_fmadd_ps (d1, _mm512_cvtepi32_ps (p1), acc1);
    }
  for (; i < nb; i++)
    {
      __m256i p = dot_i8_256 (_mm256_loadu_si256 ((const __m256i *) w[i].qs),
                              _mm256_loadu_si256 ((const __m256i *) a[i].qs));
      acc_tail = _mm256_fmadd_ps (_mm256_set1_ps (simd_half (w[i].d) * simd_half (a[i].d)),
                                  _mm256_cvtepi32_ps (p), acc_tail);
    }
  return _mm512_reduce_add_ps (_mm512_add_ps (acc0, acc1)) + hsum_ps256 (acc_tail);
}

/* Two Q4_0 blocks' 64 nibbles in element order (low nibbles of each block
 * before its high ones), as unsigned bytes 0..15. */
static inline __m512i
nibbles_2x32 (const guint8 *qs0, const guint8 *qs1)
{
  __m256i both = _mm256_set_m128i (_mm_loadu_si128 ((const __m128i *) qs1),
                                   _mm_loadu_si128 ((const __m128i *) qs0));
  __m512i v = _mm512_permutexvar_epi64 (_mm512_set_epi64 (3, 2, 3, 2, 1, 0, 1, 0),
                                        _mm512_castsi256_si512 (both));
  v = _mm512_mask_blend_epi64 (0xcc, v, _mm512_srli_epi16 (v, 4));
  return _mm512_and_si512 (v, _mm512_set1_epi8 (0x0f));
}

static float
vec_dot_q4_0 (gint64 n, const void *vw, const void *va)
{
  const TernBlockQ4_0 *w = vw;
  const TernBlockQ8_0 *a = va;
  const __m512i eight = _mm512_set1_epi8 (8);
  __m512 acc0 = _mm512_setzero_ps (), acc1 = acc0;
  __m256 acc_tail = _mm256_setzero_ps ();
  gint64 nb = n / 32, i = 0;
  for (; i + 4 <= nb; i += 4)
    {
      /* (q - 8) * y = q * y - 8 * y, q unsigned. */
      __m512i y0 = join_256 (a[i].qs, a[i + 1].qs);
      __m512i y1 = join_256 (a[i + 2].qs, a[i + 3].qs);
      __m512i p0 = _mm512_dpbusd_epi32 (_mm512_setzero_si512 (), nibbles_2x32 (w[i].qs, w[i + 1].qs), y0);
      __m512i p1 = _mm512_dpbusd_epi32 (_mm512_setzero_si512 (), nibbles_2x32 (w[i + 2].qs, w[i + 3].qs), y1);
      p0 = _mm512_sub_epi32 (p0, _mm512_dpbusd_epi32 (_mm512_setzero_si512 (), eight, y0));
      p1 = _mm512_sub_epi32 (p1, _mm512_dpbusd_epi32 (_mm512_setzero_si512 (), eight, y1));
      __m512 d0 = halves_ps (simd_half (w[i].d) * simd_half (a[i].d),
                             simd_half (w[i + 1].d) * simd_half (a[i + 1].d));
      __m512 d1 = halves_ps (simd_half (w[i + 2].d) * simd_half (a[i + 2].d),
                             simd_half (w[i + 3].d) * simd_half (a[i + 3].d));
      acc0 = _mm512_fmadd_ps (d0, _mm512_cvtepi32_ps (p0), acc0);
      acc1 = _mm512_fmadd_ps (d1, _mm512_cvtepi32_ps (p1), acc1);
    }
  for (; i < nb; i++)
    {
      __m128i v = _mm_loadu_si128 ((const __m128i *) w[i].qs);
      __m256i q = _mm256_and_si256 (_mm256_set_m128i (_mm_srli_epi16 (v, 4), v), _mm256_set1_epi8 (0x0f));
      q = _mm256_sub_epi8 (q, _mm256_set1_epi8 (8));
      __m256i p = dot_i8_256 (q, _mm256_loadu_si256 ((const __m256i *) a[i].qs));
      acc_tail = _mm256_fmadd_ps (_mm256_set1_ps (simd_half (w[i].d) * simd_half (a[i].d)),
                                  _mm256_cvtepi32_ps (p), acc_tail);
    }
  return _mm512_reduce_add_ps (_mm512_add_ps (acc0, acc1)) + hsum_ps256 (acc_tail);
}

/* ---- Q8_K activations ---- */

static inline __m512i
load_y512 (const TernBlockQ8_K *a, int offset)
{
  return _mm512_loadu_si512 ((const void *) (a->qs + offset));
}

/* The same 8 int16 scales in every 128-bit lane. */
static inline __m512i
lanes_of_512 (__m128i v)
{
  return _mm512_broadcast_i32x4 (v);
}

/* From a vector with 8 int16 scales in every lane, scale s[k] in 128-bit
 * lane l, with @pick giving k for lanes 0..3. */
static inline __m512i
scale_lanes (__m512i scales, int k0, int k1, int k2, int k3)
{
#define PICK(k) ((short) ((2 * (k) + 1) << 8 | 2 * (k)))
  const __m512i pick = _mm512_inserti64x4 (
    _mm512_castsi256_si512 (_mm256_set_m128i (_mm_set1_epi16 (PICK (k1)), _mm_set1_epi16 (PICK (k0)))),
    _mm256_set_m128i (_mm_set1_epi16 (PICK (k3)), _mm_set1_epi16 (PICK (k2))), 1);
#undef PICK
  return _mm512_shuffle_epi8 (scales, pick);
}

static inline __m512i
widen_256 (__m256i lo, __m256i hi)
{
  return _mm512_inserti64x4 (_mm512_castsi256_si512 (lo), hi, 1);
}

static float
vec_dot_q4_K (gint64 n, const void *vw, const void *va)
{
  const TernBlockQ4_K *w = vw;
  const TernBlockQ8_K *a = va;
  const __m256i m4 = _mm256_set1_epi8 (0x0f);
  __m512 acc = _mm512_setzero_ps ();
  __m128 accm = _mm_setzero_ps ();
  for (gint64 i = 0; i < n / 256; i++)
    {
      __m128i sm = k4_scales_mins (w[i].scales);
      __m512i sc = lanes_of_512 (_mm_cvtepu8_epi16 (sm));
      __m512i sumi = _mm512_setzero_si512 ();
      for (int c = 0; c < 4; c++)
        {
          /* 64 elements: the 32 low nibbles, then the 32 high ones. */
          __m256i q = _mm256_loadu_si256 ((const __m256i *) (w[i].qs + 32 * c));
          __m512i q64 = widen_256 (_mm256_and_si256 (q, m4), _mm256_and_si256 (_mm256_srli_epi16 (q, 4), m4));
          __m512i p = _mm512_maddubs_epi16 (q64, load_y512 (&a[i], 64 * c));
          sumi = _mm512_dpwssd_epi32 (sumi, p, scale_lanes (sc, 2 * c, 2 * c, 2 * c + 1, 2 * c + 1));
        }
      /* Mins against the activation's 32-sums. */
      __m128i mins = _mm_cvtepu8_epi16 (_mm_srli_si128 (sm, 8));
      __m128i bs = _mm_hadd_epi16 (_mm_loadu_si128 ((const __m128i *) a[i].bsums),
                                   _mm_loadu_si128 ((const __m128i *) (a[i].bsums + 8)));
      const float d = a[i].d * simd_half (w[i].d);
      const float dmin = a[i].d * simd_half (w[i].dmin);
      acc = _mm512_fmadd_ps (_mm512_set1_ps (d), _mm512_cvtepi32_ps (sumi), acc);
      accm = _mm_fmadd_ps (_mm_set1_ps (dmin), _mm_cvtepi32_ps (_mm_madd_epi16 (mins, bs)), accm);
    }
  return _mm512_reduce_add_ps (acc) - hsum_ps128 (accm);
}

static float
vec_dot_q6_K (gint64 n, const void *vw, const void *va)
{
  const TernBlockQ6_K *w = vw;
  const TernBlockQ8_K *a = va;
  const __m512i m4 = _mm512_set1_epi8 (0x0f), m3 = _mm512_set1_epi8 (3);
  __m512 acc = _mm512_setzero_ps ();
  for (gint64 i = 0; i < n / 256; i++)
    {
      __m256i sc16 = _mm256_cvtepi8_epi16 (_mm_loadu_si128 ((const __m128i *) w[i].scales));
      /* q - 32 with q in 0..63: subtract 32 * sum sc * (16-sums) once. */
      __m256i offset = _mm256_madd_epi16 (sc16, _mm256_loadu_si256 ((const __m256i *) a[i].bsums));
      __m512i sumi = _mm512_zextsi256_si512 (_mm256_sub_epi32 (_mm256_setzero_si256 (),
                                                               _mm256_slli_epi32 (offset, 5)));
      for (int h = 0; h < 2; h++)
        {
          __m512i sc = lanes_of_512 (h == 0 ? _mm256_castsi256_si128 (sc16)
                                            : _mm256_extracti128_si256 (sc16, 1));
          /* ql[64h..64h+63]: low nibbles are elements 128h + 0..63, high
           * nibbles 128h + 64..127; qh bit pairs 0,1 then 2,3 (for the
           * low nibbles), 4,5 then 6,7 (for the high ones). */
          __m512i ql = _mm512_loadu_si512 ((const void *) (w[i].ql + 64 * h));
          __m256i qh = _mm256_loadu_si256 ((const __m256i *) (w[i].qh + 32 * h));
          __m512i qh2 = widen_256 (qh, _mm256_srli_epi16 (qh, 2));
          __m512i q0 = _mm512_or_si512 (_mm512_and_si512 (ql, m4),
                                        _mm512_slli_epi16 (_mm512_and_si512 (qh2, m3), 4));
          __m512i q1 = _mm512_or_si512 (_mm512_and_si512 (_mm512_srli_epi16 (ql, 4), m4),
                                        _mm512_slli_epi16 (_mm512_and_si512 (_mm512_srli_epi16 (qh2, 4), m3), 4));
          __m512i p0 = _mm512_maddubs_epi16 (q0, load_y512 (&a[i], 128 * h));
          __m512i p1 = _mm512_maddubs_epi16 (q1, load_y512 (&a[i], 128 * h + 64));
          sumi = _mm512_dpwssd_epi32 (sumi, p0, scale_lanes (sc, 0, 1, 2, 3));
          sumi = _mm512_dpwssd_epi32 (sumi, p1, scale_lanes (sc, 4, 5, 6, 7));
        }
      const float d = a[i].d * simd_half (w[i].d);
      acc = _mm512_fmadd_ps (_mm512_set1_ps (d), _mm512_cvtepi32_ps (sumi), acc);
    }
  return _mm512_reduce_add_ps (acc);
}

/* Sum of all 256 activation values, as 16 partial int32 sums. */
static inline __m512i
q8k_sum (const TernBlockQ8_K *a)
{
  __m256i s = _mm256_madd_epi16 (_mm256_loadu_si256 ((const __m256i *) a->bsums), _mm256_set1_epi16 (1));
  return _mm512_zextsi256_si512 (s);
}

static float
vec_dot_tq2_0 (gint64 n, const void *vw, const void *va)
{
  const TernBlockTQ2_0 *w = vw;
  const TernBlockQ8_K *a = va;
  const __m512i m3 = _mm512_set1_epi8 (3);
  __m512 acc = _mm512_setzero_ps ();
  for (gint64 i = 0; i < n / 256; i++)
    {
      /* t in 0..2 and x = t - 1: sum t*y, then subtract sum y. */
      __m512i sumi = _mm512_sub_epi32 (_mm512_setzero_si512 (), q8k_sum (&a[i]));
      for (int h = 0; h < 2; h++)
        {
          __m256i q = _mm256_loadu_si256 ((const __m256i *) (w[i].qs + 32 * h));
          __m512i q2 = widen_256 (q, _mm256_srli_epi16 (q, 2));
          __m512i t0 = _mm512_and_si512 (q2, m3);
          __m512i t1 = _mm512_and_si512 (_mm512_srli_epi16 (q2, 4), m3);
          sumi = _mm512_dpbusd_epi32 (sumi, t0, load_y512 (&a[i], 128 * h));
          sumi = _mm512_dpbusd_epi32 (sumi, t1, load_y512 (&a[i], 128 * h + 64));
        }
      const float d = a[i].d * simd_half (w[i].d);
      acc = _mm512_fmadd_ps (_mm512_set1_ps (d), _mm512_cvtepi32_ps (sumi), acc);
    }
  return _mm512_reduce_add_ps (acc);
}

/* Trits of packed TQ1_0 bytes, as in quant-avx2.c's trits_256. */
static inline __m512i
trits_512 (__m512i b, __m512i pow)
{
  const __m512i three = _mm512_set1_epi16 (3);
  __m512i even = _mm512_slli_epi16 (_mm512_mullo_epi16 (b, pow), 8);
  __m512i odd = _mm512_mullo_epi16 (_mm512_and_si512 (b, _mm512_set1_epi16 ((short) 0xff00)), pow);
  return _mm512_or_si512 (_mm512_mulhi_epu16 (even, three),
                          _mm512_slli_epi16 (_mm512_mulhi_epu16 (odd, three), 8));
}

static inline __m256i
trits_256 (__m256i b, __m256i pow)
{
  const __m256i three = _mm256_set1_epi16 (3);
  __m256i even = _mm256_slli_epi16 (_mm256_mullo_epi16 (b, pow), 8);
  __m256i odd = _mm256_mullo_epi16 (_mm256_and_si256 (b, _mm256_set1_epi16 ((short) 0xff00)), pow);
  return _mm256_or_si256 (_mm256_mulhi_epu16 (even, three),
                          _mm256_slli_epi16 (_mm256_mulhi_epu16 (odd, three), 8));
}

static float
vec_dot_tq1_0 (gint64 n, const void *vw, const void *va)
{
  const TernBlockTQ1_0 *w = vw;
  const TernBlockQ8_K *a = va;
  const __m512i pow_01 = widen_256 (_mm256_set1_epi16 (1), _mm256_set1_epi16 (3));
  const __m512i pow_23 = widen_256 (_mm256_set1_epi16 (9), _mm256_set1_epi16 (27));
  const __m512i pow_0123 = _mm512_set_epi16 (27, 27, 27, 27, 27, 27, 27, 27, 9, 9, 9, 9, 9, 9, 9, 9,
                                             3, 3, 3, 3, 3, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1);
  const __m256i pow_last = _mm256_set_epi16 (27, 27, 9, 9, 3, 3, 1, 1, 81, 81, 81, 81, 81, 81, 81, 81);
  __m512 acc = _mm512_setzero_ps ();
  for (gint64 i = 0; i < n / 256; i++)
    {
      __m512i sumi = _mm512_sub_epi32 (_mm512_setzero_si512 (), q8k_sum (&a[i]));
      /* qs[0..31]: trit n of byte m is element 32n + m. */
      __m256i b = _mm256_loadu_si256 ((const __m256i *) w[i].qs);
      __m512i bb = widen_256 (b, b);
      sumi = _mm512_dpbusd_epi32 (sumi, trits_512 (bb, pow_01), load_y512 (&a[i], 0));
      sumi = _mm512_dpbusd_epi32 (sumi, trits_512 (bb, pow_23), load_y512 (&a[i], 64));
      __m256i sum256 = _mm256_dpbusd_epi32 (_mm256_setzero_si256 (), trits_256 (b, _mm256_set1_epi16 (81)),
                                            _mm256_loadu_si256 ((const __m256i *) (a[i].qs + 128)));
      /* qs[32..47]: trit n of byte m is element 160 + 16n + m. */
      __m128i b16 = _mm_loadu_si128 ((const __m128i *) (w[i].qs + 32));
      sumi = _mm512_dpbusd_epi32 (sumi, trits_512 (lanes_of_512 (b16), pow_0123), load_y512 (&a[i], 160));
      /* Their last trit (elements 224..239) beside qh's four (240 + 4n + j). */
      guint32 qh;
      memcpy (&qh, w[i].qh, sizeof qh);
      __m256i b3 = _mm256_set_m128i (_mm_set1_epi32 ((int) qh), b16);
      sum256 = _mm256_dpbusd_epi32 (sum256, trits_256 (b3, pow_last),
                                    _mm256_loadu_si256 ((const __m256i *) (a[i].qs + 224)));
      sumi = _mm512_add_epi32 (sumi, _mm512_zextsi256_si512 (sum256));
      const float d = a[i].d * simd_half (w[i].d);
      acc = _mm512_fmadd_ps (_mm512_set1_ps (d), _mm512_cvtepi32_ps (sumi), acc);
    }
  return _mm512_reduce_add_ps (acc);
}

/* ---- Dequantization ---- */

static void
dequant_f16 (const void *src, float *dst, gint64 n)
{
  const guint16 *x = src;
  gint64 i = 0;
  for (; i + 16 <= n; i += 16)
    _mm512_storeu_ps (dst + i, load_f16x16 (x + i));
  for (; i < n; i++)
    dst[i] = simd_half (x[i]);
}

/* ---- Tile kernels ----
 *
 * Each weight block of the tile's rows is decoded once, then multiplied by
 * the block of every activation row; the block sums are the vec_dot
 * kernels' (integers, then one float multiply-add per block). The kernels
 * always compute TERN_DOT_TILE_ROWS rows (past @n_rows they repeat the
 * last one) and take the column count as a constant, so that the compiler
 * keeps the accumulators in registers; DEFINE_TILE instantiates them.
 * A single column (generation) goes one row at a time (@n_r = 1), which
 * streams the weights as the vec_dot kernels do. Each (row, column) sum
 * takes the same operations in the same order whatever the tile's shape,
 * so a token's results do not depend on how tokens are batched. */

#define TR TERN_DOT_TILE_ROWS
#define TC TERN_DOT_TILE_COLS
#define UNROLL _Pragma ("GCC unroll 4")
#define TILE_INLINE static inline __attribute__ ((always_inline)) void

static inline const void *
tile_row (const void *w, gsize stride, int r, int n_rows)
{
  return (const guint8 *) w + (gsize) MIN (r, n_rows - 1) * stride;
}

/* The sums of @v[0..3], in that order. */
static inline __m128
hsum4_512 (const __m512 v[TR])
{
  __m256 s[TR];
  UNROLL for (int r = 0; r < TR; r++)
    s[r] = _mm256_add_ps (_mm512_castps512_ps256 (v[r]), _mm512_extractf32x8_ps (v[r], 1));
  __m256 t = _mm256_hadd_ps (_mm256_hadd_ps (s[0], s[1]), _mm256_hadd_ps (s[2], s[3]));
  return _mm_add_ps (_mm256_castps256_ps128 (t), _mm256_extractf128_ps (t, 1));
}

/* The sum of each 128-bit lane of @v. */
static inline __m128
lane_sums_512 (__m512 v)
{
  v = _mm512_add_ps (v, _mm512_permute_ps (v, 0xb1));
  v = _mm512_add_ps (v, _mm512_permute_ps (v, 0x4e));
  return _mm512_castps512_ps128 (_mm512_permutexvar_ps (_mm512_set_epi32 (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                                                          12, 8, 4, 0), v));
}

/* Stores column @c of a tile: row r's sum is lane r of @v. */
static inline void
store_tile_col (float *out, gsize out_stride, int c, int n_rows, __m128 v)
{
  _mm_mask_storeu_ps (out + c * out_stride, (__mmask8) ((1u << n_rows) - 1), v);
}

/* Stores the tile's sums, @n_r rows of @acc computed (@n_rows of them
 * stored). */
static inline void
store_tile (float *out, gsize out_stride, int n_rows, const int n_r, const int n_cols, __m512 acc[TR][TC])
{
  UNROLL for (int c = 0; c < n_cols; c++)
    {
      __m512 col[TR];
      UNROLL for (int r = 0; r < TR; r++)
        col[r] = acc[MIN (r, n_r - 1)][c];
      store_tile_col (out, out_stride, c, n_rows, hsum4_512 (col));
    }
}

/* With one activation row (generation), @one_row_at_a_time streams the
 * weight rows one by one, which keeps the integer decoders of the
 * quantized types within their registers; float types instead take all
 * TR rows side by side, so their independent sums hide the FMA latency.
 * Either way each (row, column) sum is formed in the same order. */
#define DEFINE_TILE(name, kernel, one_row_at_a_time)                                                          \
  static void name (gint64 n, const void *w, gsize ws, int n_rows, const void *a, gsize as, int n_cols,     \
                    float *out, gsize os)                                                                     \
  {                                                                                                           \
    switch (n_cols)                                                                                           \
      {                                                                                                       \
      case 1:                                                                                                 \
        if (one_row_at_a_time)                                                                                \
          for (int r = 0; r < n_rows; r++)                                                                    \
            kernel (n, (const guint8 *) w + r * ws, ws, 1, a, as, 1, out + r, os, 1);                         \
        else                                                                                                  \
          kernel (n, w, ws, n_rows, a, as, 1, out, os, TR);                                                   \
        break;                                                                                                \
      case 2: kernel (n, w, ws, n_rows, a, as, 2, out, os, TR); break;                                        \
      case 3: kernel (n, w, ws, n_rows, a, as, 3, out, os, TR); break;                                        \
      default: kernel (n, w, ws, n_rows, a, as, 4, out, os, TR); break;                                       \
      }                                                                                                       \
  }

#define ZERO_ACC(acc, n_cols)                   \
  UNROLL for (int r_ = 0; r_ < TR; r_++)        \
    UNROLL for (int c_ = 0; c_ < (n_cols); c_++) \
      (acc)[r_][c_] = _mm512_setzero_ps ()

TILE_INLINE
tile_f16 (gint64 n, const void *w, gsize ws, int n_rows, const void *a, gsize as, const int n_cols, float *out,
          gsize os, const int n_r)
{
  const guint16 *wr[TR], *ar[TC];
  __m512 acc[TR][TC];
  UNROLL for (int r = 0; r < n_r; r++)
    wr[r] = tile_row (w, ws, r, n_rows);
  UNROLL for (int c = 0; c < n_cols; c++)
    ar[c] = (const guint16 *) ((const guint8 *) a + c * as);
  ZERO_ACC (acc, n_cols);
  gint64 i = 0;
  for (; i + 16 <= n; i += 16)
    {
      __m512 x[TR];
      UNROLL for (int r = 0; r < n_r; r++)
        x[r] = load_f16x16 (wr[r] + i);
      UNROLL for (int c = 0; c < n_cols; c++)
        {
          __m512 y = load_f16x16 (ar[c] + i);
          UNROLL for (int r = 0; r < n_r; r++)
            acc[r][c] = _mm512_fmadd_ps (x[r], y, acc[r][c]);
        }
    }
  if (i < n)
    {
      __mmask16 k = (__mmask16) ((1u << (n - i)) - 1);
      __m512 x[TR];
      UNROLL for (int r = 0; r < n_r; r++)
        x[r] = _mm512_cvtph_ps (_mm256_maskz_loadu_epi16 (k, wr[r] + i));
      UNROLL for (int c = 0; c < n_cols; c++)
        {
          __m512 y = _mm512_cvtph_ps (_mm256_maskz_loadu_epi16 (k, ar[c] + i));
          UNROLL for (int r = 0; r < n_r; r++)
            acc[r][c] = _mm512_fmadd_ps (x[r], y, acc[r][c]);
        }
    }
  store_tile (out, os, n_rows, n_r, n_cols, acc);
}

/* Blocks @i and @i + 1 of 32 bytes, or block @i and zeros when @two is
 * false (the last block of an odd count). */
static inline __m512i
block_pair (const void *b0, const void *b1, gboolean two)
{
  __m256i lo = _mm256_loadu_si256 ((const __m256i *) b0);
  return two ? _mm512_inserti64x4 (_mm512_castsi256_si512 (lo), _mm256_loadu_si256 ((const __m256i *) b1), 1)
             : _mm512_zextsi256_si512 (lo);
}

static inline __m512
scale_pair (guint16 d0, guint16 d1, gboolean two)
{
  return halves_ps (simd_half (d0), two ? simd_half (d1) : 0.0f);
}

TILE_INLINE
tile_q8_0 (gint64 n, const void *w, gsize ws, int n_rows, const void *a, gsize as, const int n_cols, float *out,
           gsize os, const int n_r)
{
  const TernBlockQ8_0 *wr[TR], *ar[TC];
  const __m512i bias = _mm512_set1_epi8 ((char) 0x80);
  __m512 acc[TR][TC];
  UNROLL for (int r = 0; r < n_r; r++)
    wr[r] = tile_row (w, ws, r, n_rows);
  UNROLL for (int c = 0; c < n_cols; c++)
    ar[c] = (const void *) ((const guint8 *) a + c * as);
  ZERO_ACC (acc, n_cols);
  gint64 nb = n / 32;
  for (gint64 i = 0; i < nb; i += 2)
    {
      /* vpdpbusd wants one unsigned side: y + 128 times signed x, minus
       * 128 * sum(x). */
      gboolean two = i + 1 < nb;
      __m512i x[TR], minus[TR];
      __m512 dx[TR];
      UNROLL for (int r = 0; r < n_r; r++)
        {
          x[r] = block_pair (wr[r][i].qs, wr[r][i + 1].qs, two);
          minus[r] = _mm512_sub_epi32 (_mm512_setzero_si512 (), _mm512_dpbusd_epi32 (_mm512_setzero_si512 (), bias, x[r]));
          dx[r] = scale_pair (wr[r][i].d, two ? wr[r][i + 1].d : 0, two);
        }
      UNROLL for (int c = 0; c < n_cols; c++)
        {
          __m512i y = _mm512_xor_si512 (block_pair (ar[c][i].qs, ar[c][i + 1].qs, two), bias);
          __m512 dy = scale_pair (ar[c][i].d, two ? ar[c][i + 1].d : 0, two);
          UNROLL for (int r = 0; r < n_r; r++)
            {
              __m512i p = _mm512_dpbusd_epi32 (minus[r], y, x[r]);
              acc[r][c] = _mm512_fmadd_ps (_mm512_mul_ps (dx[r], dy), _mm512_cvtepi32_ps (p), acc[r][c]);
            }
        }
    }
  store_tile (out, os, n_rows, n_r, n_cols, acc);
}

TILE_INLINE
tile_q4_0 (gint64 n, const void *w, gsize ws, int n_rows, const void *a, gsize as, const int n_cols, float *out,
           gsize os, const int n_r)
{
  const TernBlockQ4_0 *wr[TR];
  const TernBlockQ8_0 *ar[TC];
  const __m512i eight = _mm512_set1_epi8 (8);
  __m512 acc[TR][TC];
  UNROLL for (int r = 0; r < n_r; r++)
    wr[r] = tile_row (w, ws, r, n_rows);
  UNROLL for (int c = 0; c < n_cols; c++)
    ar[c] = (const void *) ((const guint8 *) a + c * as);
  ZERO_ACC (acc, n_cols);
  gint64 nb = n / 32;
  for (gint64 i = 0; i < nb; i += 2)
    {
      /* (q - 8) * y = q * y - 8 * y, q unsigned. */
      gboolean two = i + 1 < nb;
      __m512i x[TR];
      __m512 dx[TR];
      UNROLL for (int r = 0; r < n_r; r++)
        {
          if (two)
            x[r] = nibbles_2x32 (wr[r][i].qs, wr[r][i + 1].qs);
          else
            {
              __m128i v = _mm_loadu_si128 ((const __m128i *) wr[r][i].qs);
              __m256i q = _mm256_and_si256 (_mm256_set_m128i (_mm_srli_epi16 (v, 4), v), _mm256_set1_epi8 (0x0f));
              x[r] = _mm512_zextsi256_si512 (q);
            }
          dx[r] = scale_pair (wr[r][i].d, two ? wr[r][i + 1].d : 0, two);
        }
      UNROLL for (int c = 0; c < n_cols; c++)
        {
          __m512i y = block_pair (ar[c][i].qs, ar[c][i + 1].qs, two);
          __m512 dy = scale_pair (ar[c][i].d, two ? ar[c][i + 1].d : 0, two);
          __m512i minus = _mm512_sub_epi32 (_mm512_setzero_si512 (), _mm512_dpbusd_epi32 (_mm512_setzero_si512 (), eight, y));
          UNROLL for (int r = 0; r < n_r; r++)
            {
              __m512i p = _mm512_dpbusd_epi32 (minus, x[r], y);
              acc[r][c] = _mm512_fmadd_ps (_mm512_mul_ps (dx[r], dy), _mm512_cvtepi32_ps (p), acc[r][c]);
            }
        }
    }
  store_tile (out, os, n_rows, n_r, n_cols, acc);
}

TILE_INLINE
tile_q4_K (gint64 n, const void *w, gsize ws, int n_rows, const void *a, gsize as, const int n_cols, float *out,
           gsize os, const int n_r)
{
  const TernBlockQ4_K *wr[TR];
  const TernBlockQ8_K *ar[TC];
  const __m256i m4 = _mm256_set1_epi8 (0x0f);
  __m512 acc[TR][TC], accm[TC]; /* accm: the mins' part, row r in 128-bit lane r */
  UNROLL for (int r = 0; r < n_r; r++)
    wr[r] = tile_row (w, ws, r, n_rows);
  UNROLL for (int c = 0; c < n_cols; c++)
    {
      ar[c] = (const void *) ((const guint8 *) a + c * as);
      accm[c] = _mm512_setzero_ps ();
    }
  ZERO_ACC (acc, n_cols);
  for (gint64 i = 0; i < n / 256; i++)
    {
      __m512i sc[TR], sumi[TR][TC];
      __m128i row_mins[TR] = { 0 }; /* gathered through memory: lane indexes must be constants */
      float dx[TR], dminx[TR] = { 0 };
      UNROLL for (int r = 0; r < n_r; r++)
        {
          __m128i sm = k4_scales_mins (wr[r][i].scales);
          sc[r] = lanes_of_512 (_mm_cvtepu8_epi16 (sm));
          row_mins[r] = _mm_cvtepu8_epi16 (_mm_srli_si128 (sm, 8));
          dx[r] = simd_half (wr[r][i].d);
          dminx[r] = simd_half (wr[r][i].dmin);
        }
      const __m512i mins = _mm512_loadu_si512 ((const void *) row_mins);
      const __m512 dmins = _mm512_permutexvar_ps (_mm512_set_epi32 (3, 3, 3, 3, 2, 2, 2, 2, 1, 1, 1, 1, 0, 0, 0, 0),
                                                  _mm512_castps128_ps512 (_mm_loadu_ps (dminx)));
      UNROLL for (int c = 0; c < n_cols; c++)
        {
          /* Mins against the activation's 32-sums, all rows at once. */
          const TernBlockQ8_K *y = &ar[c][i];
          __m128i bs = _mm_hadd_epi16 (_mm_loadu_si128 ((const __m128i *) y->bsums),
                                       _mm_loadu_si128 ((const __m128i *) (y->bsums + 8)));
          __m512i m = _mm512_madd_epi16 (mins, _mm512_broadcast_i32x4 (bs));
          accm[c] = _mm512_fnmadd_ps (_mm512_mul_ps (dmins, _mm512_set1_ps (y->d)), _mm512_cvtepi32_ps (m), accm[c]);
          UNROLL for (int r = 0; r < n_r; r++)
            sumi[r][c] = _mm512_setzero_si512 ();
        }
      /* 64 elements at a time: the 32 low nibbles, then the 32 high ones. */
      UNROLL for (int k = 0; k < 4; k++)
        {
          __m512i yk[TC];
          UNROLL for (int c = 0; c < n_cols; c++)
            yk[c] = load_y512 (&ar[c][i], 64 * k);
          UNROLL for (int r = 0; r < n_r; r++)
            {
              __m256i q = _mm256_loadu_si256 ((const __m256i *) (wr[r][i].qs + 32 * k));
              __m512i x = widen_256 (_mm256_and_si256 (q, m4), _mm256_and_si256 (_mm256_srli_epi16 (q, 4), m4));
              __m512i scale = scale_lanes (sc[r], 2 * k, 2 * k, 2 * k + 1, 2 * k + 1);
              UNROLL for (int c = 0; c < n_cols; c++)
                sumi[r][c] = _mm512_dpwssd_epi32 (sumi[r][c], _mm512_maddubs_epi16 (x, yk[c]), scale);
            }
        }
      UNROLL for (int c = 0; c < n_cols; c++)
        UNROLL for (int r = 0; r < n_r; r++)
          acc[r][c] = _mm512_fmadd_ps (_mm512_set1_ps (ar[c][i].d * dx[r]), _mm512_cvtepi32_ps (sumi[r][c]), acc[r][c]);
    }
  UNROLL for (int c = 0; c < n_cols; c++)
    {
      __m512 col[TR];
      UNROLL for (int r = 0; r < TR; r++)
        col[r] = acc[MIN (r, n_r - 1)][c];
      store_tile_col (out, os, c, n_rows, _mm_add_ps (hsum4_512 (col), lane_sums_512 (accm[c])));
    }
}

TILE_INLINE
tile_q6_K (gint64 n, const void *w, gsize ws, int n_rows, const void *a, gsize as, const int n_cols, float *out,
           gsize os, const int n_r)
{
  const TernBlockQ6_K *wr[TR];
  const TernBlockQ8_K *ar[TC];
  const __m512i m4 = _mm512_set1_epi8 (0x0f), m3 = _mm512_set1_epi8 (3);
  __m512 acc[TR][TC];
  UNROLL for (int r = 0; r < n_r; r++)
    wr[r] = tile_row (w, ws, r, n_rows);
  UNROLL for (int c = 0; c < n_cols; c++)
    ar[c] = (const void *) ((const guint8 *) a + c * as);
  ZERO_ACC (acc, n_cols);
  for (gint64 i = 0; i < n / 256; i++)
    {
      __m256i sc16[TR];
      __m512i sumi[TR][TC];
      UNROLL for (int r = 0; r < n_r; r++)
        sc16[r] = _mm256_cvtepi8_epi16 (_mm_loadu_si128 ((const __m128i *) wr[r][i].scales));
      /* q - 32 with q in 0..63: start from -32 * sum sc * (16-sums). */
      UNROLL for (int c = 0; c < n_cols; c++)
        {
          __m256i bsums = _mm256_loadu_si256 ((const __m256i *) ar[c][i].bsums);
          UNROLL for (int r = 0; r < n_r; r++)
            sumi[r][c] = _mm512_zextsi256_si512 (
              _mm256_sub_epi32 (_mm256_setzero_si256 (), _mm256_slli_epi32 (_mm256_madd_epi16 (sc16[r], bsums), 5)));
        }
      /* Elements 64k..64k+63: ql[64h..64h+63] holds 128h + 0..63 in its
       * low nibbles and 128h + 64..127 in its high ones (k = 2h + j); qh
       * bit pairs 0,1 then 2,3 for the former, 4,5 then 6,7 for the latter. */
      UNROLL for (int k = 0; k < 4; k++)
        {
          const int h = k / 2, j = k % 2;
          __m512i yk[TC];
          UNROLL for (int c = 0; c < n_cols; c++)
            yk[c] = load_y512 (&ar[c][i], 64 * k);
          UNROLL for (int r = 0; r < n_r; r++)
            {
              const TernBlockQ6_K *b = &wr[r][i];
              __m512i ql = _mm512_loadu_si512 ((const void *) (b->ql + 64 * h));
              __m256i qh = _mm256_loadu_si256 ((const __m256i *) (b->qh + 32 * h));
              __m512i qh2 = widen_256 (qh, _mm256_srli_epi16 (qh, 2));
              __m512i x = j == 0 ? _mm512_or_si512 (_mm512_and_si512 (ql, m4), _mm512_slli_epi16 (_mm512_and_si512 (qh2, m3), 4))
                                 : _mm512_or_si512 (_mm512_and_si512 (_mm512_srli_epi16 (ql, 4), m4),
                                                    _mm512_slli_epi16 (_mm512_and_si512 (_mm512_srli_epi16 (qh2, 4), m3), 4));
              __m512i sc = lanes_of_512 (h == 0 ? _mm256_castsi256_si128 (sc16[r]) : _mm256_extracti128_si256 (sc16[r], 1));
              __m512i scale = j == 0 ? scale_lanes (sc, 0, 1, 2, 3) : scale_lanes (sc, 4, 5, 6, 7);
              UNROLL for (int c = 0; c < n_cols; c++)
                sumi[r][c] = _mm512_dpwssd_epi32 (sumi[r][c], _mm512_maddubs_epi16 (x, yk[c]), scale);
            }
        }
      UNROLL for (int c = 0; c < n_cols; c++)
        UNROLL for (int r = 0; r < n_r; r++)
          acc[r][c] = _mm512_fmadd_ps (_mm512_set1_ps (ar[c][i].d * simd_half (wr[r][i].d)),
                                       _mm512_cvtepi32_ps (sumi[r][c]), acc[r][c]);
    }
  store_tile (out, os, n_rows, n_r, n_cols, acc);
}

TILE_INLINE
tile_tq2_0 (gint64 n, const void *w, gsize ws, int n_rows, const void *a, gsize as, const int n_cols, float *out,
            gsize os, const int n_r)
{
  const TernBlockTQ2_0 *wr[TR];
  const TernBlockQ8_K *ar[TC];
  const __m512i m3 = _mm512_set1_epi8 (3);
  __m512 acc[TR][TC];
  UNROLL for (int r = 0; r < n_r; r++)
    wr[r] = tile_row (w, ws, r, n_rows);
  UNROLL for (int c = 0; c < n_cols; c++)
    ar[c] = (const void *) ((const guint8 *) a + c * as);
  ZERO_ACC (acc, n_cols);
  for (gint64 i = 0; i < n / 256; i++)
    {
      /* t[r][k]: elements 64k..64k+63 as t in 0..2 (x = t - 1). */
      __m512i t[TR][4];
      float dx[TR];
      UNROLL for (int r = 0; r < n_r; r++)
        {
          UNROLL for (int h = 0; h < 2; h++)
            {
              __m256i q = _mm256_loadu_si256 ((const __m256i *) (wr[r][i].qs + 32 * h));
              __m512i q2 = widen_256 (q, _mm256_srli_epi16 (q, 2));
              t[r][2 * h] = _mm512_and_si512 (q2, m3);
              t[r][2 * h + 1] = _mm512_and_si512 (_mm512_srli_epi16 (q2, 4), m3);
            }
          dx[r] = simd_half (wr[r][i].d);
        }
      UNROLL for (int c = 0; c < n_cols; c++)
        {
          const TernBlockQ8_K *y = &ar[c][i];
          __m512i sumi[TR], minus = _mm512_sub_epi32 (_mm512_setzero_si512 (), q8k_sum (y));
          UNROLL for (int r = 0; r < n_r; r++)
            sumi[r] = minus;
          UNROLL for (int k = 0; k < 4; k++)
            {
              __m512i yk = load_y512 (y, 64 * k);
              UNROLL for (int r = 0; r < n_r; r++)
                sumi[r] = _mm512_dpbusd_epi32 (sumi[r], t[r][k], yk);
            }
          UNROLL for (int r = 0; r < n_r; r++)
            acc[r][c] = _mm512_fmadd_ps (_mm512_set1_ps (y->d * dx[r]), _mm512_cvtepi32_ps (sumi[r]), acc[r][c]);
        }
    }
  store_tile (out, os, n_rows, n_r, n_cols, acc);
}

TILE_INLINE
tile_tq1_0 (gint64 n, const void *w, gsize ws, int n_rows, const void *a, gsize as, const int n_cols, float *out,
            gsize os, const int n_r)
{
  const TernBlockTQ1_0 *wr[TR];
  const TernBlockQ8_K *ar[TC];
  const __m512i pow_01 = widen_256 (_mm256_set1_epi16 (1), _mm256_set1_epi16 (3));
  const __m512i pow_23 = widen_256 (_mm256_set1_epi16 (9), _mm256_set1_epi16 (27));
  const __m512i pow_0123 = _mm512_set_epi16 (27, 27, 27, 27, 27, 27, 27, 27, 9, 9, 9, 9, 9, 9, 9, 9,
                                             3, 3, 3, 3, 3, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1);
  const __m256i pow_last = _mm256_set_epi16 (27, 27, 9, 9, 3, 3, 1, 1, 81, 81, 81, 81, 81, 81, 81, 81);
  __m512 acc[TR][TC];
  UNROLL for (int r = 0; r < n_r; r++)
    wr[r] = tile_row (w, ws, r, n_rows);
  UNROLL for (int c = 0; c < n_cols; c++)
    ar[c] = (const void *) ((const guint8 *) a + c * as);
  ZERO_ACC (acc, n_cols);
  for (gint64 i = 0; i < n / 256; i++)
    {
      /* As vec_dot_tq1_0: t[r][0..2] go with the activation's bytes 0, 64
       * and 160 (64 each), t[r][3] with bytes 128..159 and 224..255. */
      __m512i t[TR][4];
      float dx[TR];
      UNROLL for (int r = 0; r < n_r; r++)
        {
          const TernBlockTQ1_0 *b = &wr[r][i];
          __m256i b32 = _mm256_loadu_si256 ((const __m256i *) b->qs);
          __m512i bb = widen_256 (b32, b32);
          __m128i b16 = _mm_loadu_si128 ((const __m128i *) (b->qs + 32));
          guint32 qh;
          memcpy (&qh, b->qh, sizeof qh);
          __m256i b3 = _mm256_set_m128i (_mm_set1_epi32 ((int) qh), b16);
          t[r][0] = trits_512 (bb, pow_01);
          t[r][1] = trits_512 (bb, pow_23);
          t[r][2] = trits_512 (lanes_of_512 (b16), pow_0123);
          t[r][3] = widen_256 (trits_256 (b32, _mm256_set1_epi16 (81)), trits_256 (b3, pow_last));
          dx[r] = simd_half (b->d);
        }
      UNROLL for (int c = 0; c < n_cols; c++)
        {
          const TernBlockQ8_K *y = &ar[c][i];
          __m512i yk[4] = { load_y512 (y, 0), load_y512 (y, 64), load_y512 (y, 160), join_256 (y->qs + 128, y->qs + 224) };
          __m512i minus = _mm512_sub_epi32 (_mm512_setzero_si512 (), q8k_sum (y));
          UNROLL for (int r = 0; r < n_r; r++)
            {
              __m512i sumi = minus;
              UNROLL for (int k = 0; k < 4; k++)
                sumi = _mm512_dpbusd_epi32 (sumi, t[r][k], yk[k]);
              acc[r][c] = _mm512_fmadd_ps (_mm512_set1_ps (y->d * dx[r]), _mm512_cvtepi32_ps (sumi), acc[r][c]);
            }
        }
    }
  store_tile (out, os, n_rows, n_r, n_cols, acc);
}

DEFINE_TILE (dot_tile_f16, tile_f16, FALSE)
DEFINE_TILE (dot_tile_q8_0, tile_q8_0, TRUE)
DEFINE_TILE (dot_tile_q4_0, tile_q4_0, TRUE)
DEFINE_TILE (dot_tile_q4_K, tile_q4_K, TRUE)
DEFINE_TILE (dot_tile_q6_K, tile_q6_K, TRUE)
DEFINE_TILE (dot_tile_tq2_0, tile_tq2_0, TRUE)
DEFINE_TILE (dot_tile_tq1_0, tile_tq1_0, TRUE)
TERN_DEFINE_VEC_DOT_TILE (dot_tile_f32, vec_dot_f32)

const TernKernelTable tern_quant_kernels_avx512 = {
  .vec_dot = {
    [TERN_TYPE_F32] = vec_dot_f32,
    [TERN_TYPE_F16] = vec_dot_f16,
    [TERN_TYPE_Q4_0] = vec_dot_q4_0,
    [TERN_TYPE_Q8_0] = vec_dot_q8_0,
    [TERN_TYPE_Q4_K] = vec_dot_q4_K,
    [TERN_TYPE_Q6_K] = vec_dot_q6_K,
    [TERN_TYPE_TQ1_0] = vec_dot_tq1_0,
    [TERN_TYPE_TQ2_0] = vec_dot_tq2_0,
  },
  .dot_tile = {
    [TERN_TYPE_F32] = dot_tile_f32,
    [TERN_TYPE_F16] = dot_tile_f16,
    [TERN_TYPE_Q4_0] = dot_tile_q4_0,
    [TERN_TYPE_Q8_0] = dot_tile_q8_0,
    [TERN_TYPE_Q4_K] = dot_tile_q4_K,
    [TERN_TYPE_Q6_K] = dot_tile_q6_K,
    [TERN_TYPE_TQ1_0] = dot_tile_tq1_0,
    [TERN_TYPE_TQ2_0] = dot_tile_tq2_0,
  },
  .dequant = {
    [TERN_TYPE_F16] = dequant_f16,
  },
};
