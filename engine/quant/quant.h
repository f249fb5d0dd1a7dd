/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <string.h>
#include <tern/types.h>

G_BEGIN_DECLS

/* The quant layer's interface to the rest of the engine (the backends,
 * compression, the tests): not installed, not for the app or tern-cli.
 *
 * Tensor type kernels: for each tensor type Tern reads (see types.h), a row
 * dequantizer, a dot product of a weight row with an activation row, and
 * for some types a quantizer. Layouts and results follow llama.cpp (ggml):
 *
 * - Dequantization is bit-exact with llama.cpp's dequantize_row_* (same
 *   float operations in the same order).
 * - A dot product multiplies a weight row by an activation row in the
 *   weight type's "vec_dot type" (tern_quant_vec_dot_type): the activation
 *   is first converted with tern_quant_quantize_row (vec_dot_type). Like
 *   llama.cpp, Q4_0/Q5_0/Q8_0 take Q8_0 activations, Q4_1/Q5_1 take Q8_1,
 *   K-quants and TQ1_0/TQ2_0 take Q8_K, F16 takes F16, BF16 takes BF16 and
 *   F32 takes F32.
 * - Activation quantizers (Q8_0, Q8_1, Q8_K) give exactly the bytes of
 *   llama.cpp's quantize_row_q8_0_ref / q8_1_ref / q8_K_ref, and
 *   tern_quant_quantize_activations those of its x86 builds.
 *
 * Row lengths @n are element counts and must be positive multiples of the
 * type's block size (types.h; 256 for K-quants, TQ types and Q8_K). Rows
 * must be 2-byte aligned (Q8_K rows 4-byte aligned), as any row of a GGUF
 * tensor or of a g_malloc'ed buffer is. Violations are programmer errors.
 *
 * Every function here is thread-safe: the getters return static,
 * immutable function pointers, and the kernels only read their inputs and
 * write their outputs, which the caller owns. */

/* Converts @n elements of a row of the kernel's type at @src to f32 at @dst. */
typedef void (*TernDequantRowFn) (const void *src, float *dst, gint64 n);

/* Converts @n f32 values at @src to a row of the kernel's type at @dst
 * (tern_type_row_bytes (type, n) bytes). */
typedef void (*TernQuantizeRowFn) (const float *src, void *dst, gint64 n);

/* Returns the dot product of weight row @w (the kernel's type) and
 * activation row @a (its vec_dot type), both of @n elements. */
typedef float (*TernVecDotFn) (gint64 n, const void *w, const void *a);

/* Dot products of a tile of weight rows with a tile of activation rows,
 * all of @n elements: out[c * out_stride + r] = dot (row r of @w, row c of
 * @a) for 0 <= r < @n_rows <= TERN_DOT_TILE_ROWS and 0 <= c < @n_cols <=
 * TERN_DOT_TILE_COLS. Row r of @w starts @w_stride bytes after row r - 1
 * (the same for @a); @out_stride counts floats. A matrix product made of
 * tiles decodes each weight block once per tile instead of once per
 * activation row, and keeps the partial sums in registers. Results are
 * those of the TernVecDotFn of the same type and level up to float
 * summation order (the integer block sums are the same). */
#define TERN_DOT_TILE_ROWS 4
#define TERN_DOT_TILE_COLS 4
typedef void (*TernDotTileFn) (gint64 n, const void *w, gsize w_stride, int n_rows, const void *a,
                               gsize a_stride, int n_cols, float *out, gsize out_stride);

/* The best level this CPU supports, detected once. The environment variable
 * TERN_KERNEL=scalar|avx2|avx512 lowers it (for debugging and comparison;
 * a level the CPU lacks is ignored): the process then behaves as on a CPU
 * without the levels above. Never returns TERN_KERNEL_BEST. */
TernKernelLevel tern_cpu_best_kernel (void);

/* Whether kernels of @level can run: the CPU has the level and TERN_KERNEL
 * does not lower the best level below it (TRUE for SCALAR and BEST). */
gboolean tern_cpu_supports_kernel (TernKernelLevel level);

/* "scalar", "avx2", "avx512" or "best". */
const char *tern_kernel_level_name (TernKernelLevel level);

/* The dequantizer of @type at the best level. Every storage type has one
 * (and Q8_0, Q8_1, Q8_K); NULL for an unknown type. */
TernDequantRowFn tern_quant_dequant_row (TernType type);

/* The dequantizer of @type at exactly @level: NULL when the CPU lacks the
 * level or the level has no dequantizer of its own for @type (the scalar
 * level has them all). All levels give identical results. */
TernDequantRowFn tern_quant_dequant_row_at (TernType type, TernKernelLevel level);

/* The quantizer into @type, or NULL where Tern has none. Weights: Q8_0,
 * Q4_0, Q4_K, Q6_K, TQ1_0 and TQ2_0 port llama.cpp's quantize_row_*_ref
 * (for the K-quants, its iterative scale searches) and give its bytes.
 * Activations: Q8_0, Q8_1, Q8_K (llama.cpp's reference algorithms; note
 * its x86 SIMD Q8_0/Q8_1 round halves to even and may differ in the last
 * bit); F16 and BF16 round to nearest even (a NaN becomes a quiet NaN);
 * F32 copies. Scalar code: these run once per activation row, or once per
 * weight at conversion time. */
TernQuantizeRowFn tern_quant_quantize_row (TernType type);

/* The quantizer the CPU backend applies to activations of type @type (a
 * vec_dot type), or NULL: llama.cpp's x86 builds quantize activations with
 * SIMD code that differs from its reference quantizers, and Tern's results
 * should match theirs. For Q8_0 and Q8_1 the scale's inverse is 127 / amax
 * (not 1 / d) and halves round to even, as llama.cpp's AVX2 / AVX
 * quantize_row_q8_0 / q8_1; Q8_K, F16, BF16 and F32 are the same as
 * tern_quant_quantize_row (llama.cpp's x86 Q8_K quantizer is its
 * reference one). Scalar code, the same bytes on every CPU. */
TernQuantizeRowFn tern_quant_quantize_activations (TernType type);

/* The activation type @type's dot products take; TERN_TYPE_COUNT for a type
 * without dot products (unknown types, Q8_1, Q8_K). */
TernType tern_quant_vec_dot_type (TernType type);

/* The dot product of @type weights at @level: NULL when the CPU lacks the
 * level or @type has no dot product. A level without a kernel of its own
 * for @type gives the best one below it (AVX-512 covers the hot types and
 * reuses AVX2 for the others), so any supported level gives a kernel. */
TernVecDotFn tern_quant_vec_dot (TernType type, TernKernelLevel level);

/* The tile dot product of @type at @level, under the same rules as
 * tern_quant_vec_dot: a kernel exists exactly where the vec_dot does. Types
 * without a tile kernel of their own at a level get one that calls that
 * level's vec_dot per (row, column). */
TernDotTileFn tern_quant_dot_tile (TernType type, TernKernelLevel level);

/* Single-value conversions, for the kernels and the rest of the engine
 * (norm weights, KV caches). */

/* IEEE binary16 -> binary32, exact (subnormals, infinities, NaN payloads). */
static inline float
tern_fp16_to_fp32 (guint16 h)
{
  guint32 sign = (guint32) (h & 0x8000) << 16;
  guint32 exp = (h >> 10) & 0x1f;
  guint32 mant = h & 0x3ff;
  guint32 bits;

  if (exp == 0x1f)
    bits = sign | 0x7f800000 | (mant << 13);
  else if (exp != 0)
    bits = sign | ((exp + 112) << 23) | (mant << 13);
  else if (mant == 0)
    bits = sign;
  else
    {
      /* Subnormal: normalise the mantissa into an f32 exponent. */
      exp = 113;
      while (!(mant & 0x400))
        {
          mant <<= 1;
          exp--;
        }
      bits = sign | (exp << 23) | ((mant & 0x3ff) << 13);
    }

  float f;
  memcpy (&f, &bits, sizeof f);
  return f;
}

/* binary32 -> binary16, round to nearest even; overflow gives infinity and
 * a NaN a quiet NaN keeping the top of its payload (as F16C's vcvtps2ph). */
static inline guint16
tern_fp32_to_fp16 (float f)
{
  guint32 u;
  memcpy (&u, &f, sizeof u);
  guint16 sign = (u >> 16) & 0x8000;
  guint32 abs = u & 0x7fffffff;

  if (abs > 0x7f800000)
    return sign | 0x7e00 | ((abs >> 13) & 0x3ff);
  if (abs >= 0x477ff000) /* rounds to 65536 or more */
    return sign | 0x7c00;
  if (abs >= 0x38800000) /* normal half */
    {
      guint32 r = abs + 0xfff + ((abs >> 13) & 1);
      return sign | (guint16) ((r - 0x38000000) >> 13);
    }
  if (abs < 0x33000000) /* below half the smallest subnormal */
    return sign;

  /* Subnormal half: shift the full mantissa right, rounding to even. */
  guint32 e = abs >> 23;
  guint32 mant = (abs & 0x7fffff) | 0x800000;
  guint32 shift = 126 - e; /* 14..24 */
  guint32 q = mant >> shift;
  guint32 rem = mant & ((1u << shift) - 1);
  guint32 halfway = 1u << (shift - 1);
  if (rem > halfway || (rem == halfway && (q & 1)))
    q++;
  return sign | (guint16) q;
}

/* bfloat16 -> binary32, exact. */
static inline float
tern_bf16_to_fp32 (guint16 h)
{
  guint32 bits = (guint32) h << 16;
  float f;
  memcpy (&f, &bits, sizeof f);
  return f;
}

/* binary32 -> bfloat16, round to nearest even; a NaN gives a quiet NaN. */
static inline guint16
tern_fp32_to_bf16 (float f)
{
  guint32 u;
  memcpy (&u, &f, sizeof u);
  if ((u & 0x7fffffff) > 0x7f800000)
    return (guint16) ((u >> 16) | 0x40);
  return (guint16) ((u + 0x7fff + ((u >> 16) & 1)) >> 16);
}


G_END_DECLS
