/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "forward.h"

void
tern_forward_buffers_init (TernForwardBuffers *bufs, TernBackend *b, const TernHParams *hp, gint32 n_batch)
{
  const TernBackendOps *ops = b->ops;
  gint64 q_dim = (gint64) hp->n_head * hp->head_dim, kv_dim = (gint64) hp->n_head_kv * hp->head_dim;

  bufs->x = ops->buf_new (b, n_batch, hp->n_embd);
  bufs->xn = ops->buf_new (b, n_batch, hp->n_embd);
  bufs->q = ops->buf_new (b, n_batch, q_dim);
  bufs->k = ops->buf_new (b, n_batch, kv_dim);
  bufs->v = ops->buf_new (b, n_batch, kv_dim);
  bufs->att = ops->buf_new (b, n_batch, q_dim);
  bufs->gate = ops->buf_new (b, n_batch, hp->n_ff);
  bufs->up = ops->buf_new (b, n_batch, hp->n_ff);
  bufs->last = ops->buf_new (b, n_batch, hp->n_embd);
  bufs->logits = ops->buf_new (b, n_batch, hp->n_vocab);
}

void
tern_forward_buffers_clear (TernForwardBuffers *bufs, TernBackend *b)
{
  TernBuf **all[] = { &bufs->x, &bufs->xn, &bufs->q, &bufs->k, &bufs->v, &bufs->att,
                      &bufs->gate, &bufs->up, &bufs->last, &bufs->logits };
  for (guint i = 0; i < G_N_ELEMENTS (all); i++)
    if (*all[i])
      {
        b->ops->buf_free (b, *all[i]);
        *all[i] = NULL;
      }
}

gboolean
tern_forward (TernBackend *b, TernWeights *w, TernForwardBuffers *bufs, const TernToken *tokens, gint32 n,
              gint32 pos, gint32 n_logits, GError **error)
{
  const TernBackendOps *ops = b->ops;
  const TernHParams *hp = tern_weights_hparams (w);
  gboolean biases = hp->arch == TERN_ARCH_QWEN2;
  const TernWeightKind none = TERN_WEIGHT_N_KINDS;

  /* The global weights (embedding, output) for the whole pass. */
  tern_weights_announce (w, -1);
  if (!tern_weights_acquire (w, -1, error))
    return FALSE;
  ops->embed (b, tokens, n, bufs->x);
  for (gint32 l = 0; l < hp->n_layer; l++)
    {
      tern_weights_announce (w, l);
      if (!tern_weights_acquire (w, l, error))
        {
          tern_weights_release (w, -1);
          return FALSE;
        }

      /* Attention block. */
      ops->rms_norm (b, bufs->x, n, l, TERN_WEIGHT_ATTN_NORM, bufs->xn);
      ops->matmul (b, bufs->xn, n, l, TERN_WEIGHT_Q, biases ? TERN_WEIGHT_Q_BIAS : none, bufs->q);
      ops->matmul (b, bufs->xn, n, l, TERN_WEIGHT_K, biases ? TERN_WEIGHT_K_BIAS : none, bufs->k);
      ops->matmul (b, bufs->xn, n, l, TERN_WEIGHT_V, biases ? TERN_WEIGHT_V_BIAS : none, bufs->v);
      ops->rope (b, bufs->q, n, hp->n_head, pos);
      ops->rope (b, bufs->k, n, hp->n_head_kv, pos);
      ops->kv_store (b, l, bufs->k, bufs->v, n, pos);
      ops->attend (b, l, bufs->q, n, pos, bufs->att);
      ops->matmul (b, bufs->att, n, l, TERN_WEIGHT_O, none, bufs->xn);
      ops->add (b, bufs->x, bufs->xn, n);

      /* Feed-forward block (SwiGLU). */
      ops->rms_norm (b, bufs->x, n, l, TERN_WEIGHT_FFN_NORM, bufs->xn);
      ops->matmul (b, bufs->xn, n, l, TERN_WEIGHT_GATE, none, bufs->gate);
      ops->matmul (b, bufs->xn, n, l, TERN_WEIGHT_UP, none, bufs->up);
      ops->swiglu (b, bufs->gate, bufs->up, n);
      ops->matmul (b, bufs->gate, n, l, TERN_WEIGHT_DOWN, none, bufs->xn);
      ops->add (b, bufs->x, bufs->xn, n);
      tern_weights_release (w, l);
    }

  if (n_logits > 0)
    {
      ops->copy_rows (b, bufs->x, n - n_logits, n_logits, bufs->last, 0);
      ops->rms_norm (b, bufs->last, n_logits, -1, TERN_WEIGHT_OUTPUT_NORM, bufs->xn);
      ops->matmul (b, bufs->xn, n_logits, -1, TERN_WEIGHT_OUTPUT, none, bufs->logits);
    }
  tern_weights_release (w, -1);
  return TRUE;
}
