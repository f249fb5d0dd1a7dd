/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <tern/model.h>
#include <tern/stream.h>
#include <tern/weights.h>

G_BEGIN_DECLS

/* A context: one conversation's state on a model — the KV cache of the
 * tokens evaluated so far, and the logits of the last evaluation. It runs
 * on a compute device chosen by name (tern/backend.h) with its own thread
 * pool. A context is used by one thread at a time; the model must outlive
 * it. */

/* More threads than any machine Tern runs on has cores. */
#define TERN_CONTEXT_MAX_THREADS 1024

typedef struct {
  gint32 n_ctx;      /* tokens the cache holds; 0 (automatic): the model's training length, as much of it
                      * as fits in memory_limit. More than the training length works, but replies
                      * past it are poor: RoPE is scaled only where the model file says so. */
  gint32 n_ctx_max;  /* cap on n_ctx (a user setting); 0: none */
  gint64 memory_limit; /* bytes an automatic context may take; 0: half the memory available now */
  gint32 n_batch;    /* most tokens evaluated in one forward pass */
  guint n_threads;   /* 0: one per physical core; at most TERN_CONTEXT_MAX_THREADS */
  TernType kv_type;  /* TERN_TYPE_F16 (default) or TERN_TYPE_F32 */
  TernKernelLevel kernel; /* the dot products' level; TERN_KERNEL_BEST (default):
                           * tern_cpu_best_kernel (). Tests run each level. */
  const char *backend;    /* the device to compute on, by name (tern_devices ()):
                           * "cpu", "vulkan:0"; NULL (default): "cpu". Not kept. */
} TernContextParams;

void tern_context_params_init (TernContextParams *params);

typedef struct TernContext TernContext;

/* Creates a context. INVALID for bad parameters or a backend that is no
 * device's name (the message lists those there are), UNSUPPORTED for a
 * kernel level the CPU lacks, NOMEM when the KV cache, the buffers of a
 * batch (n_batch × n_vocab logits the largest) or the compute threads
 * cannot be allocated (the message gives the size asked for and says to
 * choose a smaller context).
 *
 * A GPU that cannot be used (a device of a backend with several, named
 * "NAME:INDEX", that is not there, whose driver refuses, or that is short
 * of memory for the model) is no error: the context computes on the CPU, and
 * tern_context_backend_fallback says why. So does a GPU lost or out of
 * memory later: the decode that met it moves the context to the CPU,
 * evaluates the cache's tokens again there and goes on. */
TernContext *tern_context_new (TernModel *model, const TernContextParams *params, GError **error);
void tern_context_free (TernContext *ctx);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TernContext, tern_context_free)

TernModel *tern_context_model (const TernContext *ctx);
gint32 tern_context_n_ctx (const TernContext *ctx);
guint tern_context_n_threads (const TernContext *ctx);
/* The tokens in the cache, oldest first. */
const TernToken *tern_context_tokens (const TernContext *ctx, gint32 *n_tokens);
gint32 tern_context_n_past (const TernContext *ctx);
/* "cpu (avx512, 2 threads)", for status lines. */
const char *tern_context_backend_name (const TernContext *ctx);
/* Why the context computes on the CPU though another device was asked
 * for ("vulkan:0 could not be used: …"), or NULL. */
const char *tern_context_backend_fallback (const TernContext *ctx);

/* Evaluates @n_tokens tokens after those in the cache, in forward passes of
 * at most n_batch tokens. With @all_logits, the logits of every token are
 * kept (tern_context_logits (ctx, i) for i < n_tokens); otherwise only
 * those of the last token. Errors: INVALID (no tokens, an id outside the
 * vocabulary, more tokens than the context has room for — nothing is
 * evaluated then), NOMEM (no room for the logits kept: nothing is
 * evaluated), CANCELLED (@cancellable stops a pass within milliseconds,
 * however long it is: the tokens of the passes that finished stay in the
 * cache, those of the stopped one do not, and no logits are left), FORMAT
 * (the model computed a NaN or infinite logit: it is damaged; the tokens of
 * that pass are not kept and no logits are left),
 * IO (the model's weights could not be read), DEVICE (the
 * device failed: it is lost for good, and so is the context, whose every
 * later decode, save and load fails too; free it). */
gboolean tern_context_decode (TernContext *ctx, const TernToken *tokens, gint32 n_tokens, gboolean all_logits,
                              TernProgressFn progress, gpointer user_data, GCancellable *cancellable,
                              GError **error);

/* Called with the rows a pass feeds a layer's weight matrices: @kind is
 * TERN_WEIGHT_Q for the attention norm's output (which Q, K and V read),
 * TERN_WEIGHT_O for the attention's output, TERN_WEIGHT_GATE for the
 * feed-forward norm's output (which GATE and UP read) and TERN_WEIGHT_DOWN
 * for the gated activation. @rows is [@n_rows][@n_cols], valid during the
 * call; the calls come layer by layer, in that order, on the thread that
 * called tern_context_collect_inputs. */
typedef void (*TernInputsFn) (gint32 layer, TernWeightKind kind, const float *rows, gint32 n_rows, gint32 n_cols,
                              gpointer user_data);

/* Evaluates @n_tokens tokens after those in the cache, as
 * tern_context_decode does but keeping no logits, and hands @fn the inputs
 * of every weight matrix of every layer: what calibrating a compression
 * measures. Slower than a decode: each pass waits for the device at every
 * input. Errors as tern_context_decode's, and NOMEM when the rows of a
 * batch cannot be held. */
gboolean tern_context_collect_inputs (TernContext *ctx, const TernToken *tokens, gint32 n_tokens, TernInputsFn fn,
                                      gpointer user_data, GCancellable *cancellable, GError **error);

/* The logits (n_vocab floats) of token @i of the last decode; with
 * all_logits unset only the last token's (i = n_tokens - 1) exist. Valid
 * until the next decode. */
const float *tern_context_logits (const TernContext *ctx, gint32 i);
/* The logits of the last token of the last decode. */
const float *tern_context_last_logits (const TernContext *ctx);

/* Drops the tokens after the first @n_keep (for regenerate and edit), and
 * with them the logits of the last decode. */
void tern_context_truncate (TernContext *ctx, gint32 n_keep);

/* Makes room when the cache is full: keeps the first @n_keep tokens, drops
 * the oldest half of the rest and moves the remaining ones back, rotating
 * their keys to their new positions. Returns how many were dropped. The
 * move runs on the device without waiting for it: should the device fail
 * meanwhile, the next decode or save says so. */
gint32 tern_context_shift (TernContext *ctx, gint32 n_keep);

/* The context's state as a byte stream: the tokens in the cache, their KV
 * cache and the last token's logits, so that a restored context goes on
 * exactly as the saved one would have. The layout is versioned and
 * little-endian; it carries no checksum or model identity (the snapshot
 * format around it does). Data passes through the callbacks in pieces of
 * at most one layer's cache, never the whole state at once. */
/* Bytes tern_context_save_state writes for the current state. */
gsize tern_context_state_size (const TernContext *ctx);

/* Writes the state through @write; fails when @write does, NOMEM without
 * room for one layer's cache in host memory, DEVICE when the device
 * fails. */
gboolean tern_context_save_state (const TernContext *ctx, TernStreamWriteFn write, gpointer user_data,
                                  GError **error);

/* Replaces the context's state by one read through @read. A state from
 * another format version, context size, cache type or model shape is a
 * MISMATCH error, a malformed one FORMAT; NOMEM and DEVICE as for saving.
 * On any error the context is left empty, ready to re-ingest the
 * transcript (after DEVICE, it is lost). */
gboolean tern_context_load_state (TernContext *ctx, TernStreamReadFn read, gpointer user_data, GError **error);

G_END_DECLS
