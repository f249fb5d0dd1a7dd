/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The mapped-file weight source: tensors used in place in the mapping,
 * available until the file shrinks on disk. It keeps count of acquisitions
 * so that a forward pass that reads a layer it has not acquired fails here,
 * as it would with a source that loads layers. */
#include <tern/error.h>
#include <tern/weights.h>

struct TernWeights {
  const TernGguf *gguf;          /* the mapped file, or NULL */
  TernHParams hp;
  const TernGgufTensor *global[TERN_WEIGHT_FIRST_LAYER_KIND];
  const TernGgufTensor **layers; /* [n_layer][TERN_WEIGHT_N_KINDS] */
  gint32 *acquired;              /* [n_layer + 1]: the global weights last */
};

TernWeights *
tern_weights_new_mapped (const TernGguf *gguf, const TernHParams *hp)
{
  TernWeights *w = g_new0 (TernWeights, 1);

  w->gguf = gguf;
  w->hp = *hp;
  w->layers = g_new0 (const TernGgufTensor *, (gsize) hp->n_layer * TERN_WEIGHT_N_KINDS);
  w->acquired = g_new0 (gint32, hp->n_layer + 1);
  return w;
}

void
tern_weights_free (TernWeights *w)
{
  if (w == NULL)
    return;
  g_free (w->layers);
  g_free (w->acquired);
  g_free (w);
}

static const TernGgufTensor **
slot (const TernWeights *w, gint32 layer, TernWeightKind kind)
{
  if (layer < 0)
    {
      g_assert (kind < TERN_WEIGHT_FIRST_LAYER_KIND);
      return (const TernGgufTensor **) &w->global[kind];
    }
  g_assert (layer < w->hp.n_layer && kind >= TERN_WEIGHT_FIRST_LAYER_KIND && kind < TERN_WEIGHT_N_KINDS);
  return &w->layers[(gsize) layer * TERN_WEIGHT_N_KINDS + kind];
}

void
tern_weights_bind (TernWeights *w, gint32 layer, TernWeightKind kind, const TernGgufTensor *tensor)
{
  *slot (w, layer, kind) = tensor;
}

const TernHParams *
tern_weights_hparams (const TernWeights *w)
{
  return &w->hp;
}

static gint32 *
counter (const TernWeights *w, gint32 layer)
{
  g_assert (layer >= -1 && layer < w->hp.n_layer);
  return &w->acquired[layer < 0 ? w->hp.n_layer : layer];
}

void
tern_weights_announce (TernWeights *w, gint32 layer)
{
  /* The mapping holds every layer: nothing to start on. */
  g_assert (layer >= -1 && layer < w->hp.n_layer);
}

gboolean
tern_weights_acquire (TernWeights *w, gint32 layer, GError **error)
{
  /* A pass stops at the next layer once the file shrank under it. */
  if (!tern_weights_check (w, error))
    return FALSE;
  (*counter (w, layer))++;
  return TRUE;
}

void
tern_weights_release (TernWeights *w, gint32 layer)
{
  gint32 *n = counter (w, layer);

  g_assert (*n > 0);
  (*n)--;
}

const TernGgufTensor *
tern_weights_get (const TernWeights *w, gint32 layer, TernWeightKind kind)
{
  g_assert (*counter (w, layer) > 0);
  return *slot (w, layer, kind);
}

gboolean
tern_weights_check (const TernWeights *w, GError **error)
{
  return w->gguf == NULL || tern_gguf_check_intact (w->gguf, error);
}
