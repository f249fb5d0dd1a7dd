/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "hand-model.h"

#include <string.h>
#include "quant/quant.h"

struct HandModel {
  TernHParams hp;
  TernWeights *weights;
  GPtrArray *tensors; /* TernGgufTensor *, data owned with it */
  GRand *rand;
};

static void
tensor_free (gpointer data)
{
  TernGgufTensor *t = data;
  g_free ((gpointer) t->data);
  g_free (t);
}

HandModel *
hand_model_new (const TernHParams *hp, guint32 seed)
{
  HandModel *m = g_new0 (HandModel, 1);

  m->hp = *hp;
  m->weights = tern_weights_new_mapped (NULL, hp);
  m->tensors = g_ptr_array_new_with_free_func (tensor_free);
  m->rand = g_rand_new_with_seed (seed);
  return m;
}

void
hand_model_free (HandModel *m)
{
  tern_weights_free (m->weights);
  g_ptr_array_unref (m->tensors);
  g_rand_free (m->rand);
  g_free (m);
}

const TernHParams *hand_model_hparams (const HandModel *m) { return &m->hp; }
TernWeights *hand_model_weights (HandModel *m) { return m->weights; }
GRand *hand_model_rand (HandModel *m) { return m->rand; }

/* Random bytes, but for the f16 scales of each block (their offsets in
 * the block), which get small finite values. */
static void
random_quants (GRand *rand, TernType type, guint8 *data, gsize n_bytes)
{
  static const struct { TernType type; guint offsets[2]; guint n; } scales[] = {
    { TERN_TYPE_Q4_0, { 0 }, 1 },   { TERN_TYPE_Q4_1, { 0, 2 }, 2 },  { TERN_TYPE_Q5_0, { 0 }, 1 },
    { TERN_TYPE_Q5_1, { 0, 2 }, 2 }, { TERN_TYPE_Q8_0, { 0 }, 1 },    { TERN_TYPE_Q2_K, { 80, 82 }, 2 },
    { TERN_TYPE_Q3_K, { 108 }, 1 },  { TERN_TYPE_Q4_K, { 0, 2 }, 2 }, { TERN_TYPE_Q5_K, { 0, 2 }, 2 },
    { TERN_TYPE_Q6_K, { 208 }, 1 },  { TERN_TYPE_TQ1_0, { 52 }, 1 },  { TERN_TYPE_TQ2_0, { 64 }, 1 },
  };
  guint32 block_bytes = tern_type_info (type)->block_bytes;

  for (gsize i = 0; i < n_bytes; i++)
    data[i] = (guint8) g_rand_int (rand);
  for (guint s = 0; s < G_N_ELEMENTS (scales); s++)
    if (scales[s].type == type)
      for (gsize b = 0; b < n_bytes / block_bytes; b++)
        for (guint k = 0; k < scales[s].n; k++)
          {
            guint16 h = GUINT16_TO_LE (tern_fp32_to_fp16 ((float) g_rand_double_range (rand, 0.001, 0.1)));
            memcpy (data + b * block_bytes + scales[s].offsets[k], &h, 2);
          }
}

const TernGgufTensor *
hand_model_add (HandModel *m, gint32 layer, TernWeightKind kind, TernType type, gint64 ne0, gint64 ne1, float lo,
                float hi)
{
  TernGgufTensor *t = g_new0 (TernGgufTensor, 1);
  gsize row_bytes = tern_type_row_bytes (type, ne0);
  guint8 *data = g_malloc (row_bytes * ne1);
  TernQuantizeRowFn quantize = tern_quant_quantize_row (type);

  if (quantize != NULL)
    {
      g_autofree float *row = g_new (float, ne0);
      for (gint64 r = 0; r < ne1; r++)
        {
          for (gint64 i = 0; i < ne0; i++)
            row[i] = (float) g_rand_double_range (m->rand, lo, hi);
          quantize (row, data + r * row_bytes, ne0);
        }
    }
  else
    random_quants (m->rand, type, data, row_bytes * ne1);

  t->name = "hand-made";
  t->n_dims = ne1 > 1 ? 2 : 1;
  t->ne[0] = ne0;
  t->ne[1] = ne1;
  t->ne[2] = t->ne[3] = 1;
  t->type = type;
  t->n_bytes = row_bytes * ne1;
  t->data = data;
  g_ptr_array_add (m->tensors, t);
  tern_weights_bind (m->weights, layer, kind, t);
  return t;
}
