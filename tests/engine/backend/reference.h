/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <tern/gguf.h>
#include <tern/weights.h>

G_BEGIN_DECLS

/* Plain references for the backend operations, in double precision,
 * written from the definitions (llama.cpp's CPU numerics, which Tern's CPU
 * backend follows and every other backend is held to) rather than from
 * Tern's kernels. Only the weights are read with Tern's code: the scalar
 * dequantizers, checked against llama.cpp's by the quant tests.
 *
 * Each reference also gives the tolerance of each value it computes: how
 * far a correct backend's float result may be from it. The reasons are in
 * reference.c; the backend test states which reference each operation is
 * held to. */

/* Row @r of weight @t (t->ne[0] values) from the scalar dequantizer. */
void ref_weight_row (const TernGgufTensor *t, gint64 r, double *out);

/* Row @x (@n values) as a matmul's dot products take it: rounded to the
 * activation type @type of the weights' dot products (F32, F16, BF16, or
 * blocks of 8-bit values with a scale, Q8_0, Q8_1, Q8_K). Sets @step to
 * the largest rounding step of the row, @block to the block size (1 for
 * the float types). */
void ref_activations (TernType type, const float *x, gint64 n, double *a, double *step, gint64 *block);

/* out = W x + bias (@bias NULL: none) for one row @x of @n_in values,
 * rounded as activations of type @a_type, and the @n_out rows of @w
 * (dequantized, [n_out][n_in]); sets @tol for each. */
void ref_matmul (const double *w, TernType a_type, gint64 n_in, gint64 n_out, const float *x, const double *bias,
                 double *out, double *tol);

/* RMSNorm of @x (@n values) times the norm weight @w. */
void ref_rms_norm (const float *x, const float *w, gint64 n, float eps, double *out, double *tol);

/* RoPE of one row of @n_heads heads at position @pos (may be negative:
 * kv_move rotates by a position change), as @hp says: n_rot, base, scale,
 * NEOX or adjacent pairs, and the frequency divisors @freqs (NULL: none). */
void ref_rope (const TernHParams *hp, const float *freqs, const double *x, gint32 n_heads, double pos, double *out,
               double *tol);

/* Causal attention of one query head @q (head_dim values, already rounded
 * to the cache type, as the backend rounds it) over @n_keys keys and values
 * (rows @stride apart, rounded to the cache type): @out and @tol, head_dim
 * values each. With @f16_cache, the attention weights are rounded to F16
 * as the CPU backend does. */
void ref_attend_head (const double *q, const double *k, const double *v, gint64 stride, gint32 n_keys,
                      gint32 head_dim, gboolean f16_cache, double *out, double *tol);

/* silu(gate) * up. */
void ref_swiglu (float gate, float up, double *out, double *tol);

/* @x rounded to the cache type (F16 or F32), as a double. */
double ref_cache_round (TernType kv_type, double x);

G_END_DECLS
