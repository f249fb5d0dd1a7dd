/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* A token id of a vocabulary. */
typedef gint32 TernToken;

/* Tensor element types, with llama.cpp's (ggml's) numeric ids: these ids are
 * what GGUF files store. Q8_1 and Q8_K are activation formats only: no GGUF
 * tensor of Tern's may use them. */
typedef enum {
  TERN_TYPE_F32 = 0,
  TERN_TYPE_F16 = 1,
  TERN_TYPE_Q4_0 = 2,
  TERN_TYPE_Q4_1 = 3,
  TERN_TYPE_Q5_0 = 6,
  TERN_TYPE_Q5_1 = 7,
  TERN_TYPE_Q8_0 = 8,
  TERN_TYPE_Q8_1 = 9,
  TERN_TYPE_Q2_K = 10,
  TERN_TYPE_Q3_K = 11,
  TERN_TYPE_Q4_K = 12,
  TERN_TYPE_Q5_K = 13,
  TERN_TYPE_Q6_K = 14,
  TERN_TYPE_Q8_K = 15,
  TERN_TYPE_BF16 = 30,
  TERN_TYPE_TQ1_0 = 34,
  TERN_TYPE_TQ2_0 = 35,
  TERN_TYPE_COUNT = 39, /* one past the largest id ggml has assigned */
} TernType;

#define TERN_QK_K 256

/* Instruction-set levels of the CPU kernels, a context parameter (tests run
 * each level). SIMD kernels agree with the scalar ones up to float rounding
 * (they sum in another order); integer parts (block sums of quantized
 * products) are exact at every level. */
typedef enum {
  TERN_KERNEL_SCALAR,  /* portable C */
  TERN_KERNEL_AVX2,    /* x86-64 with AVX2, FMA and F16C */
  TERN_KERNEL_AVX512,  /* x86-64 with AVX-512 F, BW, VL, DQ, VNNI (and the above) */
  TERN_KERNEL_BEST,    /* the best level this CPU runs */
} TernKernelLevel;

typedef struct {
  const char *name;        /* llama.cpp's name, e.g. "q4_K" */
  guint32 block_elems;     /* elements per block (1 for plain floats) */
  guint32 block_bytes;     /* bytes per block */
  gboolean storage;        /* TRUE when GGUF tensors may hold this type */
} TernTypeInfo;

/* Returns the description of type id @type, or NULL when @type is not one
 * Tern knows (unknown, retired, or a ggml type Tern does not implement).
 * Thread-safe; the result is static. */
const TernTypeInfo *tern_type_info (guint32 type);

/* Returns the type's name, or "unknown". */
const char *tern_type_name (guint32 type);

/* Looks up a type by llama.cpp's name, case-insensitive ("Q4_K", "tq2_0").
 * Returns FALSE when there is none. */
gboolean tern_type_from_name (const char *name, TernType *out);

/* Bytes taken by a row of @n_elems elements of @type. @n_elems must be a
 * multiple of the block size (g_assert). */
gsize tern_type_row_bytes (TernType type, gint64 n_elems);

G_END_DECLS
