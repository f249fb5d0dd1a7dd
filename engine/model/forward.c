/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "forward.h"

#include <tern/error.h>

gboolean
tern_forward_buffers_init (TernForwardBuffers *bufs, TernBackend *b, const TernHParams *hp, gint32 n_batch,
                           GError **error)
{
  gint64 q_dim = (gint64) hp->n_head * hp->head_dim, kv_dim = (gint64) hp->n_head_kv * hp->head_dim;
  struct { TernBuf **buf; gint64 cols; } shapes[] = {
    { &bufs->x, hp->n_embd }, { &bufs->xn, hp->n_embd }, { &bufs->q, q_dim },     { &bufs->k, kv_dim },
    { &bufs->v, kv_dim },     { &bufs->att, q_dim },     { &bufs->gate, hp->n_ff }, { &bufs->up, hp->n_ff },
    { &bufs->last, hp->n_embd }, { &bufs->logits, hp->n_vocab },
  };

  *bufs = (TernForwardBuffers) { 0 };
  for (guint i = 0; i < G_N_ELEMENTS (shapes); i++)
    {
      *shapes[i].buf = b->ops->buf_new (b, n_batch, shapes[i].cols, error);
      if (*shapes[i].buf == NULL)
        {
          tern_forward_buffers_clear (bufs, b);
          return FALSE;
        }
    }
  return TRUE;
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

/* Hands @tap the @n rows of @buf that layer @layer's @kind matrices read:
 * what the pass recorded so far is submitted and waited for, and the pass
 * goes on in a new one (begun again whatever happens, so that the caller
 * always ends a begun pass). */
static gboolean
tap_input (TernBackend *b, const TernForwardTap *tap, TernBuf *buf, gint32 n, gint64 n_cols, gint32 layer,
           TernWeightKind kind, GCancellable *cancellable, GError **error)
{
  gboolean ok = b->ops->submit (b, error) && b->ops->read (b, buf, 0, n, tap->rows, error);

  if (ok)
    tap->fn (layer, kind, tap->rows, n, (gint32) n_cols, tap->user_data);
  b->ops->begin (b, cancellable);
  return ok;
}

/* Records layer @l of the pass (with @tap, handing it the layer's inputs). */
static gboolean
record_layer (TernBackend *b, TernForwardBuffers *bufs, const TernHParams *hp, gint32 l, gint32 n, gint32 pos,
              const TernForwardTap *tap, GCancellable *cancellable, GError **error)
{
  const TernBackendOps *ops = b->ops;
  gboolean biases = hp->arch == TERN_ARCH_QWEN2;
  const TernWeightKind none = TERN_WEIGHT_N_KINDS;

  /* Attention block. */
  ops->rms_norm (b, bufs->x, n, l, TERN_WEIGHT_ATTN_NORM, bufs->xn);
  if (tap && !tap_input (b, tap, bufs->xn, n, hp->n_embd, l, TERN_WEIGHT_Q, cancellable, error))
    return FALSE;
  ops->matmul (b, bufs->xn, n, l, TERN_WEIGHT_Q, biases ? TERN_WEIGHT_Q_BIAS : none, bufs->q);
  ops->matmul (b, bufs->xn, n, l, TERN_WEIGHT_K, biases ? TERN_WEIGHT_K_BIAS : none, bufs->k);
  ops->matmul (b, bufs->xn, n, l, TERN_WEIGHT_V, biases ? TERN_WEIGHT_V_BIAS : none, bufs->v);
  ops->rope (b, bufs->q, n, hp->n_head, pos);
  ops->rope (b, bufs->k, n, hp->n_head_kv, pos);
  ops->kv_store (b, l, bufs->k, bufs->v, n, pos);
  ops->attend (b, l, bufs->q, n, pos, bufs->att);
  if (tap && !tap_input (b, tap, bufs->att, n, (gint64) hp->n_head * hp->head_dim, l, TERN_WEIGHT_O, cancellable,
                         error))
    return FALSE;
  ops->matmul (b, bufs->att, n, l, TERN_WEIGHT_O, none, bufs->xn);
  ops->add (b, bufs->x, bufs->xn, n);

  /* Feed-forward block (SwiGLU). */
  ops->rms_norm (b, bufs->x, n, l, TERN_WEIGHT_FFN_NORM, bufs->xn);
  if (tap && !tap_input (b, tap, bufs->xn, n, hp->n_embd, l, TERN_WEIGHT_GATE, cancellable, error))
    return FALSE;
  ops->matmul (b, bufs->xn, n, l, TERN_WEIGHT_GATE, none, bufs->gate);
  ops->matmul (b, bufs->xn, n, l, TERN_WEIGHT_UP, none, bufs->up);
  ops->swiglu (b, bufs->gate, bufs->up, n);
  if (tap && !tap_input (b, tap, bufs->gate, n, hp->n_ff, l, TERN_WEIGHT_DOWN, cancellable, error))
    return FALSE;
  ops->matmul (b, bufs->gate, n, l, TERN_WEIGHT_DOWN, none, bufs->xn);
  ops->add (b, bufs->x, bufs->xn, n);
  return TRUE;
}

/* Records the pass (with @tap, in several). */
static gboolean
record (TernBackend *b, TernWeights *w, TernForwardBuffers *bufs, const TernToken *tokens, gint32 n, gint32 pos,
        gint32 n_logits, const TernForwardTap *tap, GCancellable *cancellable, GError **error)
{
  const TernBackendOps *ops = b->ops;
  const TernHParams *hp = tern_weights_hparams (w);
  const TernWeightKind none = TERN_WEIGHT_N_KINDS;

  /* The global weights (embedding, output) for the whole pass. */
  tern_weights_announce (w, -1);
  if (!tern_weights_acquire (w, -1, error))
    return FALSE;
  ops->embed (b, tokens, n, bufs->x);
  for (gint32 l = 0; l < hp->n_layer; l++)
    {
      /* A stopped pass records no more layers, nor acquires their
       * weights (which a weight source may have to read). */
      if (g_cancellable_is_cancelled (cancellable))
        {
          tern_weights_release (w, -1);
          g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_CANCELLED, "evaluation cancelled");
          return FALSE;
        }
      tern_weights_announce (w, l);
      if (!tern_weights_acquire (w, l, error))
        {
          tern_weights_release (w, -1);
          return FALSE;
        }

      if (!record_layer (b, bufs, hp, l, n, pos, tap, cancellable, error))
        {
          tern_weights_release (w, l);
          tern_weights_release (w, -1);
          return FALSE;
        }
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

gboolean
tern_forward (TernBackend *b, TernWeights *w, TernForwardBuffers *bufs, const TernToken *tokens, gint32 n,
              gint32 pos, gint32 n_logits, GCancellable *cancellable, GError **error)
{
  return tern_forward_tapped (b, w, bufs, tokens, n, pos, n_logits, NULL, cancellable, error);
}

gboolean
tern_forward_tapped (TernBackend *b, TernWeights *w, TernForwardBuffers *bufs, const TernToken *tokens, gint32 n,
                     gint32 pos, gint32 n_logits, const TernForwardTap *tap, GCancellable *cancellable,
                     GError **error)
{
  b->ops->begin (b, cancellable);
  if (!record (b, w, bufs, tokens, n, pos, n_logits, tap, cancellable, error))
    {
      /* A pass always ends; what it computed is not used. A failure of
       * the backend's own shows again where the context next uses it. */
      b->ops->submit (b, NULL);
      return FALSE;
    }
  /* Weights read from a file that shrank meanwhile were zeros. */
  return b->ops->submit (b, error) && tern_weights_check (w, error);
}
