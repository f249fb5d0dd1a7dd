/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <tern/types.h>

G_BEGIN_DECLS

/* Tensor type kernels: for each tensor type Tern reads (see types.h), a row
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

/* Instruction-set levels of the kernels. SIMD kernels agree with the scalar
 * ones up to float rounding (they sum in another order); integer parts
 * (block sums of quantized products) are exact at every level. */
typedef enum {
  TERN_KERNEL_SCALAR,  /* portable C */
  TERN_KERNEL_AVX2,    /* x86-64 with AVX2, FMA and F16C */
  TERN_KERNEL_AVX512,  /* x86-64 with AVX-512 F, BW, VL, DQ, VNNI (and the above) */
  TERN_KERNEL_BEST,    /* the best level this CPU runs */
} TernKernelLevel;

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

/* Single-value conversions used by the kernels, exposed for the rest of
 * the engine (norm weights, KV caches). f16 -> f32 is exact; f32 -> f16
 * and f32 -> bf16 round to nearest even, a NaN gives a quiet NaN. */
float tern_fp16_to_fp32 (guint16 h);
guint16 tern_fp32_to_fp16 (float f);
float tern_bf16_to_fp32 (guint16 h);
guint16 tern_fp32_to_bf16 (float f);

G_END_DECLS
