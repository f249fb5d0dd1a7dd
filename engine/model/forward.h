/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/* The forward pass of the llama family, written once against the backend
 * interface. Private to the engine. */

#include <tern/context.h>

#include "backend/backend.h"

typedef struct {
  TernBuf *x;      /* [n_batch][n_embd]: the residual stream */
  TernBuf *xn;     /* [n_batch][n_embd]: normed input, and layer outputs */
  TernBuf *q;      /* [n_batch][n_head * head_dim] */
  TernBuf *k;      /* [n_batch][n_head_kv * head_dim] */
  TernBuf *v;      /* [n_batch][n_head_kv * head_dim] */
  TernBuf *att;    /* [n_batch][n_head * head_dim] */
  TernBuf *gate;   /* [n_batch][n_ff] */
  TernBuf *up;     /* [n_batch][n_ff] */
  TernBuf *last;   /* [n_batch][n_embd]: rows whose logits are wanted */
  TernBuf *logits; /* [n_batch][n_vocab] */
} TernForwardBuffers;

/* Makes the buffers of passes of up to @n_batch tokens; NOMEM (with none
 * made) when one cannot be. */
gboolean tern_forward_buffers_init (TernForwardBuffers *bufs, TernBackend *b, const TernHParams *hp, gint32 n_batch,
                                    GError **error);
/* Frees those made; does nothing for the others (NULL). */
void tern_forward_buffers_clear (TernForwardBuffers *bufs, TernBackend *b);

/* Evaluates @n tokens at positions @pos.., storing their keys and values in
 * the cache, and computes the logits of the last @n_logits of them into
 * bufs->logits rows 0..n_logits-1, as one pass (backend.h): submitted, not
 * waited for; reading the logits waits. Each layer's weights come from @w,
 * announced and acquired before the layer is recorded. Fails with IO where
 * the weight source cannot provide a layer, with CANCELLED where
 * @cancellable stops the pass (checked before each layer, and by the
 * backend within), and with the backend's error where submitting fails; the
 * pass is then submitted unfinished, and the cache positions it wrote hold
 * unspecified values. Fails with IO too where the model file changed on
 * disk while the pass read it (tern_weights_check): its logits and cache
 * positions are then void. */
gboolean tern_forward (TernBackend *b, TernWeights *w, TernForwardBuffers *bufs, const TernToken *tokens, gint32 n,
                       gint32 pos, gint32 n_logits, GCancellable *cancellable, GError **error);

/* Where a pass hands the inputs of each layer's weight matrices
 * (tern_context_collect_inputs). */
typedef struct {
  TernInputsFn fn;
  gpointer user_data;
  float *rows; /* room for n_batch rows of the widest input (n_embd, the attention's width, n_ff) */
} TernForwardTap;

/* tern_forward, handing @tap each input as the pass reaches it: the pass
 * is submitted and its rows read there, and goes on in a new one. */
gboolean tern_forward_tapped (TernBackend *b, TernWeights *w, TernForwardBuffers *bufs, const TernToken *tokens,
                              gint32 n, gint32 pos, gint32 n_logits, const TernForwardTap *tap,
                              GCancellable *cancellable, GError **error);
