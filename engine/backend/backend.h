/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/* The compute backend interface, private to the engine. The forward pass
 * (forward.c) is written once against these operations; each backend (the
 * CPU now, Vulkan and the layer-prefetching residency manager next) keeps
 * the activations, the KV cache and the weights where it computes, and
 * takes a layer's weights by (layer, role) from the model's weight source
 * (tern/weights.h), never from the file mapping.
 *
 * Activations are TernBuf matrices of f32 rows, one row per token of the
 * batch; operations take @n, the number of rows in use. Positions are
 * those of the batch's first token (@pos) and onwards, consecutive. A
 * backend is used by one thread at a time. */

#include "quant/quant.h"
#include <tern/tokenizer.h>
#include <tern/weights.h>

typedef struct TernBackend TernBackend;
typedef struct TernBuf TernBuf;

typedef struct {
  void (*free) (TernBackend *b);
  const char *(*name) (TernBackend *b);

  /* A [rows][cols] f32 activation matrix. */
  TernBuf *(*buf_new) (TernBackend *b, gint64 rows, gint64 cols);
  void (*buf_free) (TernBackend *b, TernBuf *buf);

  /* out[i] = the embedding row of tokens[i]. */
  void (*embed) (TernBackend *b, const TernToken *tokens, gint32 n, TernBuf *out);
  /* out = RMSNorm(x) * weight (a norm weight of layer @layer). */
  void (*rms_norm) (TernBackend *b, const TernBuf *x, gint32 n, gint32 layer, TernWeightKind weight,
                    TernBuf *out);
  /* out[i] = W x[i] (+ bias[i] where @bias is not TERN_WEIGHT_N_KINDS). */
  void (*matmul) (TernBackend *b, const TernBuf *x, gint32 n, gint32 layer, TernWeightKind weight,
                  TernWeightKind bias, TernBuf *out);
  /* Rotates each head of each row by its position (RoPE). */
  void (*rope) (TernBackend *b, TernBuf *x, gint32 n, gint32 n_heads, gint32 pos);
  /* Writes the rows of @k and @v to layer @layer's cache at @pos.. */
  void (*kv_store) (TernBackend *b, gint32 layer, const TernBuf *k, const TernBuf *v, gint32 n, gint32 pos);
  /* Causal attention of the queries (@pos..) over cache positions 0..their own. */
  void (*attend) (TernBackend *b, gint32 layer, const TernBuf *q, gint32 n, gint32 pos, TernBuf *out);
  /* gate = silu(gate) * up. */
  void (*swiglu) (TernBackend *b, TernBuf *gate, const TernBuf *up, gint32 n);
  /* x += y. */
  void (*add) (TernBackend *b, TernBuf *x, const TernBuf *y, gint32 n);
  /* Copies row @row of @src (@count rows) to the row @dst_row of @dst. */
  void (*copy_rows) (TernBackend *b, const TernBuf *src, gint32 row, gint32 count, TernBuf *dst, gint32 dst_row);
  /* Reads rows @row.. (@count rows) back to host memory. */
  void (*read) (TernBackend *b, const TernBuf *buf, gint32 row, gint32 count, float *dst);

  /* Moves cache positions [@from, @from + @count) to @to (< @from) in every
   * layer, rotating keys by the position change. */
  void (*kv_move) (TernBackend *b, gint32 from, gint32 to, gint32 count);
  /* Copies cache positions [0, @n) of layer @layer out to / in from host
   * memory, keys and values each as [n][n_head_kv * head_dim] elements of
   * the cache type (whatever the backend's own layout). */
  void (*kv_save) (TernBackend *b, gint32 layer, gint32 n, guint8 *k, guint8 *v);
  void (*kv_load) (TernBackend *b, gint32 layer, gint32 n, const guint8 *k, const guint8 *v);
} TernBackendOps;

struct TernBackend {
  const TernBackendOps *ops;
};

/* The CPU backend for the model whose weights @weights hands out (it must
 * outlive the backend): @n_ctx cache positions of @kv_type, kernels of
 * @kernel (a level the CPU supports), a pool of @n_threads. NOMEM when the
 * cache does not fit. */
TernBackend *tern_backend_cpu_new (TernWeights *weights, gint32 n_ctx, TernType kv_type, TernKernelLevel kernel,
                                   guint n_threads, GError **error);
