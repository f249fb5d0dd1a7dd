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
 * backend is used by one thread at a time.
 *
 * Passes. The operations from embed to kv_move are recorded between begin
 * and submit: a pass. A GPU backend records them into a command buffer and
 * runs the whole pass when it is submitted, with no round trip to the host
 * in between; the CPU backend runs each operation as it is recorded. The
 * host waits only where it reads (read, kv_save), which comes after the
 * pass that wrote what it reads has been submitted. Buffers are made,
 * freed and written from the host (write), and the cache is read and
 * written (kv_save, kv_load), outside a pass. Breaking these rules is a
 * programmer error.
 *
 * Stopping. A pass is begun with a cancellable (or NULL): once it is
 * cancelled, the backend leaves the rest of the pass's work undone, within a
 * few milliseconds whatever the size of an operation (the CPU backend checks
 * between the chunks of rows its threads share), and submit fails with
 * CANCELLED. That is no failure of the backend: what the pass would have
 * written (activations, the cache positions it stores) holds unspecified
 * values, and the next pass runs as usual.
 *
 * Failures. buf_new fails with NOMEM. A recorded operation reports no
 * failure of its own: a GPU learns that its device is lost, or that its
 * memory ran out, only when it runs the work. submit, read, write, kv_save
 * and kv_load report it instead (DEVICE for a device lost), and a failure is
 * for good: once one of them has failed, each later one fails the same way
 * and the caches hold unspecified values; the backend is only good for
 * freeing. The CPU backend never fails an operation. */

#include <gio/gio.h>
#include <tern/backend.h>
#include "quant/quant.h"
#include <tern/tokenizer.h>
#include <tern/weights.h>

typedef struct TernBackend TernBackend;
typedef struct TernBuf TernBuf;

typedef struct {
  void (*free) (TernBackend *b);
  /* "cpu (avx2, 4 threads)", for status lines. */
  const char *(*name) (TernBackend *b);

  /* A [rows][cols] f32 activation matrix, or NULL with NOMEM. */
  TernBuf *(*buf_new) (TernBackend *b, gint64 rows, gint64 cols, GError **error);
  void (*buf_free) (TernBackend *b, TernBuf *buf);

  /* Starts recording a pass, which @cancellable (NULL: none) stops. */
  void (*begin) (TernBackend *b, GCancellable *cancellable);
  /* Ends the pass and starts running it; returns without waiting for it.
   * CANCELLED when the pass was stopped. */
  gboolean (*submit) (TernBackend *b, GError **error);

  /* out[i] = the embedding row of tokens[i]. */
  void (*embed) (TernBackend *b, const TernToken *tokens, gint32 n, TernBuf *out);
  /* out = RMSNorm(x) * weight (a norm weight of layer @layer). */
  void (*rms_norm) (TernBackend *b, const TernBuf *x, gint32 n, gint32 layer, TernWeightKind weight,
                    TernBuf *out);
  /* out[i] = W x[i] (+ bias where @bias is not TERN_WEIGHT_N_KINDS). */
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
  /* Moves cache positions [@from, @from + @count) to @to (< @from) in every
   * layer, rotating keys by the position change. */
  void (*kv_move) (TernBackend *b, gint32 from, gint32 to, gint32 count);

  /* Waits for the submitted passes and reads rows @row.. (@count rows) back
   * to host memory. */
  gboolean (*read) (TernBackend *b, const TernBuf *buf, gint32 row, gint32 count, float *dst, GError **error);
  /* Copies @count rows from host memory to rows @row.. of @buf, for the
   * passes submitted after it (the forward pass starts from tokens; tests
   * set an operation's inputs). */
  gboolean (*write) (TernBackend *b, TernBuf *buf, gint32 row, gint32 count, const float *src, GError **error);
  /* Copies cache positions [0, @n) of layer @layer out to / in from host
   * memory, keys and values each as [n][n_head_kv * head_dim] elements of
   * the cache type (whatever the backend's own layout); kv_save waits for
   * the submitted passes. */
  gboolean (*kv_save) (TernBackend *b, gint32 layer, gint32 n, guint8 *k, guint8 *v, GError **error);
  gboolean (*kv_load) (TernBackend *b, gint32 layer, gint32 n, const guint8 *k, const guint8 *v, GError **error);
} TernBackendOps;

struct TernBackend {
  const TernBackendOps *ops;
};

/* What a backend is made for: a model and a context's settings. */
typedef struct {
  TernWeights *weights;   /* the model's weights; must outlive the backend */
  gint32 n_ctx;           /* positions in the KV cache */
  TernType kv_type;       /* the cache's type: TERN_TYPE_F16 or TERN_TYPE_F32 */
  TernKernelLevel kernel; /* the CPU's kernels: a level it supports, or BEST */
  guint n_threads;        /* host compute threads, >= 1 */
} TernBackendParams;

/* A kind of backend: its devices, and backends on them. */
typedef struct {
  const char *name; /* "cpu": its devices are named after it */
  /* Whether its devices are GPUs named "NAME:INDEX", NAME alone choosing
   * the best of them (tern/backend.h), and a context that cannot use one
   * computes on the CPU instead. */
  gboolean gpus;
  /* Appends the backend's devices (TernDevice *, static for the life of
   * the process) to @devices: none when it finds no device. Called once. */
  void (*enumerate) (GPtrArray *devices);
  /* A backend on @device (one of those it enumerated). NOMEM when the
   * cache does not fit, DEVICE when the device cannot be used. */
  TernBackend *(*open) (const TernDevice *device, const TernBackendParams *params, GError **error);
} TernBackendClass;

/* The cosines and sines of RoPE at position @pos into @cs (@hp's n_rot
 * values: cos, sin of each pair), as ggml's rope_yarn with no
 * extrapolation: theta_i = pos * base^(-2i/n_rot) / freqs[i] (@freqs:
 * the model's frequency divisors, or NULL), by a running product. */
void tern_rope_cos_sin (const TernHParams *hp, const float *freqs, float pos, float *cs);

/* A backend on the device named @device (NULL: "cpu"); the errors of
 * tern_device_find and of the class's open. */
TernBackend *tern_backend_new (const char *device, const TernBackendParams *params, GError **error);

/* Adds a backend class after the built-in ones, with its devices: for
 * tests, which add backends that wrap another to inject failures. Call
 * before any other thread uses the registry. */
void tern_backend_register (const TernBackendClass *klass);

/* The CPU backend: weights used in place, activations and cache in host
 * memory, a thread pool (backend-cpu.c); its device (device-cpu.c). */
extern const TernBackendClass tern_backend_cpu_class;
TernBackend *tern_backend_cpu_open (const TernDevice *device, const TernBackendParams *params, GError **error);
void tern_backend_cpu_enumerate (GPtrArray *devices);
