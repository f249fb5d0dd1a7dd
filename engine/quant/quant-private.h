/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/* Shared by the tensor type kernels (quant.c, quant-ref.c, quantize.c,
 * quant-avx2.c, quant-avx512.c): llama.cpp's block layouts and the kernel
 * tables each instruction-set file fills in. */

#include "quant.h"

#include <assert.h>
#include <string.h>

G_BEGIN_DECLS

/* Blocks, exactly as ggml lays them out (see FORMATS.md). f16 fields are
 * kept as raw bits. Every block size is even, so in a tensor aligned to 32
 * bytes each f16 field is 2-byte aligned; Q8_K (which has an f32) is only
 * ever allocated by Tern. */
typedef struct { guint16 d; guint8 qs[16]; } TernBlockQ4_0;
typedef struct { guint16 d, m; guint8 qs[16]; } TernBlockQ4_1;
typedef struct { guint16 d; guint8 qh[4]; guint8 qs[16]; } TernBlockQ5_0;
typedef struct { guint16 d, m; guint8 qh[4]; guint8 qs[16]; } TernBlockQ5_1;
typedef struct { guint16 d; gint8 qs[32]; } TernBlockQ8_0;
typedef struct { guint16 d, s; gint8 qs[32]; } TernBlockQ8_1; /* s = d * sum(qs) */
typedef struct { guint8 scales[16]; guint8 qs[64]; guint16 d, dmin; } TernBlockQ2_K;
typedef struct { guint8 hmask[32]; guint8 qs[64]; guint8 scales[12]; guint16 d; } TernBlockQ3_K;
typedef struct { guint16 d, dmin; guint8 scales[12]; guint8 qs[128]; } TernBlockQ4_K;
typedef struct { guint16 d, dmin; guint8 scales[12]; guint8 qh[32]; guint8 qs[128]; } TernBlockQ5_K;
typedef struct { guint8 ql[128]; guint8 qh[64]; gint8 scales[16]; guint16 d; } TernBlockQ6_K;
typedef struct { float d; gint8 qs[256]; gint16 bsums[16]; } TernBlockQ8_K; /* bsums: sums of 16 qs */
typedef struct { guint8 qs[48]; guint8 qh[4]; guint16 d; } TernBlockTQ1_0;
typedef struct { guint8 qs[64]; guint16 d; } TernBlockTQ2_0;

static_assert (sizeof (TernBlockQ4_0) == 18, "q4_0 block");
static_assert (sizeof (TernBlockQ4_1) == 20, "q4_1 block");
static_assert (sizeof (TernBlockQ5_0) == 22, "q5_0 block");
static_assert (sizeof (TernBlockQ5_1) == 24, "q5_1 block");
static_assert (sizeof (TernBlockQ8_0) == 34, "q8_0 block");
static_assert (sizeof (TernBlockQ8_1) == 36, "q8_1 block");
static_assert (sizeof (TernBlockQ2_K) == 84, "q2_K block");
static_assert (sizeof (TernBlockQ3_K) == 110, "q3_K block");
static_assert (sizeof (TernBlockQ4_K) == 144, "q4_K block");
static_assert (sizeof (TernBlockQ5_K) == 176, "q5_K block");
static_assert (sizeof (TernBlockQ6_K) == 210, "q6_K block");
static_assert (sizeof (TernBlockQ8_K) == 292, "q8_K block");
static_assert (sizeof (TernBlockTQ1_0) == 54, "tq1_0 block");
static_assert (sizeof (TernBlockTQ2_0) == 66, "tq2_0 block");

/* The 8 6-bit (scale, min) pairs of a Q4_K / Q5_K block. */
static inline void
tern_k4_scale_min (const guint8 *scales, int j, guint8 *sc, guint8 *m)
{
  if (j < 4)
    {
      *sc = scales[j] & 63;
      *m = scales[j + 4] & 63;
    }
  else
    {
      *sc = (scales[j + 4] & 0xf) | ((scales[j - 4] >> 6) << 4);
      *m = (scales[j + 4] >> 4) | ((scales[j] >> 6) << 4);
    }
}

/* The 16 signed 6-bit scales of a Q3_K block. */
static inline void
tern_q3k_scales (const guint8 *scales, gint8 out[16])
{
  for (int k = 0; k < 16; k++)
    {
      int lo = k < 8 ? scales[k] & 15 : scales[k - 8] >> 4;
      int hi = (scales[8 + k % 4] >> (2 * (k / 4))) & 3;
      out[k] = (gint8) ((lo | hi << 4) - 32);
    }
}

/* What one instruction-set file provides: NULL entries fall back to the
 * level below. Indexed by TernType. */
typedef struct {
  TernVecDotFn vec_dot[TERN_TYPE_COUNT];
  TernDotTileFn dot_tile[TERN_TYPE_COUNT];
  TernDequantRowFn dequant[TERN_TYPE_COUNT];
} TernKernelTable;

/* A tile made of one @dot call per (row, column): the tile kernel of types
 * and levels without one of their own. */
static inline void
tern_dot_tile_by_vec_dot (TernVecDotFn dot, gint64 n, const void *w, gsize w_stride, int n_rows, const void *a,
                          gsize a_stride, int n_cols, float *out, gsize out_stride)
{
  for (int c = 0; c < n_cols; c++)
    for (int r = 0; r < n_rows; r++)
      out[c * out_stride + r] = dot (n, (const guint8 *) w + r * w_stride, (const guint8 *) a + c * a_stride);
}

/* Defines static tile kernel @name from vec_dot kernel @dot. */
#define TERN_DEFINE_VEC_DOT_TILE(name, dot)                                                              \
  static void name (gint64 n, const void *w, gsize w_stride, int n_rows, const void *a, gsize a_stride, \
                    int n_cols, float *out, gsize out_stride)                                            \
  {                                                                                                      \
    tern_dot_tile_by_vec_dot (dot, n, w, w_stride, n_rows, a, a_stride, n_cols, out, out_stride);        \
  }

extern const TernKernelTable tern_quant_kernels_scalar;
#if defined(__x86_64__)
extern const TernKernelTable tern_quant_kernels_avx2;
extern const TernKernelTable tern_quant_kernels_avx512;
#endif

/* Scalar quantizers, in quantize.c. */
void tern_quant_quantize_row_q4_0 (const float *x, void *y, gint64 n);
void tern_quant_quantize_row_q8_0 (const float *x, void *y, gint64 n);
void tern_quant_quantize_row_q8_1 (const float *x, void *y, gint64 n);
void tern_quant_quantize_row_q8_K (const float *x, void *y, gint64 n);
void tern_quant_quantize_act_q8_0 (const float *x, void *y, gint64 n);
void tern_quant_quantize_act_q8_1 (const float *x, void *y, gint64 n);
void tern_quant_quantize_row_q4_K (const float *x, void *y, gint64 n);
void tern_quant_quantize_row_q6_K (const float *x, void *y, gint64 n);
void tern_quant_quantize_row_tq1_0 (const float *x, void *y, gint64 n);
void tern_quant_quantize_row_tq2_0 (const float *x, void *y, gint64 n);
void tern_quant_quantize_row_f32 (const float *x, void *y, gint64 n);
void tern_quant_quantize_row_f16 (const float *x, void *y, gint64 n);
void tern_quant_quantize_row_bf16 (const float *x, void *y, gint64 n);

G_END_DECLS
