/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/* Helpers shared by the x86 SIMD kernel files, which are compiled with at
 * least -mavx2 -mfma -mf16c (see engine/meson.build). */

#include "quant-private.h"

#include <immintrin.h>

static inline float
simd_half (guint16 h)
{
  return _cvtsh_ss (h);
}

static inline float
hsum_ps256 (__m256 v)
{
  __m128 s = _mm_add_ps (_mm256_castps256_ps128 (v), _mm256_extractf128_ps (v, 1));
  s = _mm_add_ps (s, _mm_movehl_ps (s, s));
  s = _mm_add_ss (s, _mm_movehdup_ps (s));
  return _mm_cvtss_f32 (s);
}

static inline float
hsum_ps128 (__m128 s)
{
  s = _mm_add_ps (s, _mm_movehl_ps (s, s));
  s = _mm_add_ss (s, _mm_movehdup_ps (s));
  return _mm_cvtss_f32 (s);
}

/* The 8 scales (bytes 0-7) and 8 mins (bytes 8-15) of a Q4_K/Q5_K block,
 * unpacked from their 12-byte 6-bit packing with 32-bit word operations
 * (x86 is little-endian). */
static inline __m128i
k4_scales_mins (const guint8 packed[12])
{
  const guint32 m6 = 0x3f3f3f3f, m4 = 0x0f0f0f0f, m2 = 0x03030303;
  guint32 u[4];
  memcpy (u, packed, 12);
  guint32 mins_hi = ((u[2] >> 4) & m4) | (((u[1] >> 6) & m2) << 4);
  guint32 mins_lo = u[1] & m6;
  guint32 scales_hi = (u[2] & m4) | (((u[0] >> 6) & m2) << 4);
  guint32 scales_lo = u[0] & m6;
  return _mm_set_epi32 ((int) mins_hi, (int) mins_lo, (int) scales_hi, (int) scales_lo);
}

/* The 16 signed 6-bit scales of a Q3_K block, as bytes (see
 * tern_q3k_scales), with the same word operations. */
static inline __m128i
q3k_scales (const guint8 packed[12])
{
  const guint32 m4 = 0x0f0f0f0f, m2 = 0x03030303;
  guint32 u[3];
  memcpy (u, packed, 12);
  guint32 s0 = (u[0] & m4) | ((u[2] & m2) << 4);
  guint32 s1 = (u[1] & m4) | (((u[2] >> 2) & m2) << 4);
  guint32 s2 = ((u[0] >> 4) & m4) | (((u[2] >> 4) & m2) << 4);
  guint32 s3 = ((u[1] >> 4) & m4) | (((u[2] >> 6) & m2) << 4);
  return _mm_sub_epi8 (_mm_set_epi32 ((int) s3, (int) s2, (int) s1, (int) s0), _mm_set1_epi8 (32));
}
