/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/* The forward pass of the llama family, written once against the backend
 * interface. Private to the engine. */

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

void tern_forward_buffers_init (TernForwardBuffers *bufs, TernBackend *b, const TernHParams *hp, gint32 n_batch);
void tern_forward_buffers_clear (TernForwardBuffers *bufs, TernBackend *b);

/* Evaluates @n tokens at positions @pos.., storing their keys and values in
 * the cache, and computes the logits of the last @n_logits of them into
 * bufs->logits rows 0..n_logits-1. Each layer's weights come from @w,
 * announced and acquired before the layer is computed. Fails (IO) only
 * where the weight source cannot provide a layer. */
gboolean tern_forward (TernBackend *b, TernWeights *w, TernForwardBuffers *bufs, const TernToken *tokens, gint32 n,
                       gint32 pos, gint32 n_logits, GError **error);
