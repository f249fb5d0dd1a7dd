/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <tern/error.h>
#include <tern/model.h>

#include <math.h>
#include <string.h>

#include "quant/quant.h"

/* The weights of one layer, by role (global roles unused), while loading. */
typedef struct {
  const TernGgufTensor *w[TERN_WEIGHT_N_KINDS];
} LayerWeights;

struct TernModel {
  TernGguf *gguf;
  TernTokenizer *tokenizer;
  char *arch_name;
  TernHParams hp;
  gint64 n_params;
  TernWeights *weights;
  /* Bound and checked while loading, then handed to the weight source. */
  const TernGgufTensor *global[TERN_WEIGHT_FIRST_LAYER_KIND];
  LayerWeights *layers;
};

typedef struct {
  const char *suffix; /* after "blk.N." */
  gboolean qwen2_only;
} LayerTensorName;

static const LayerTensorName layer_names[TERN_WEIGHT_N_KINDS] = {
  [TERN_WEIGHT_ATTN_NORM] = { "attn_norm.weight", FALSE },
  [TERN_WEIGHT_Q] = { "attn_q.weight", FALSE },
  [TERN_WEIGHT_K] = { "attn_k.weight", FALSE },
  [TERN_WEIGHT_V] = { "attn_v.weight", FALSE },
  [TERN_WEIGHT_Q_BIAS] = { "attn_q.bias", TRUE },
  [TERN_WEIGHT_K_BIAS] = { "attn_k.bias", TRUE },
  [TERN_WEIGHT_V_BIAS] = { "attn_v.bias", TRUE },
  [TERN_WEIGHT_O] = { "attn_output.weight", FALSE },
  [TERN_WEIGHT_FFN_NORM] = { "ffn_norm.weight", FALSE },
  [TERN_WEIGHT_GATE] = { "ffn_gate.weight", FALSE },
  [TERN_WEIGHT_UP] = { "ffn_up.weight", FALSE },
  [TERN_WEIGHT_DOWN] = { "ffn_down.weight", FALSE },
};

static gboolean
get_dim (const TernGguf *gguf, const char *arch, const char *name, gboolean required, gint32 fallback,
         gint32 *out, GError **error)
{
  g_autofree char *key = g_strconcat (arch, ".", name, NULL);
  guint64 v;
  GError *local = NULL;

  if (!tern_gguf_get_uint (gguf, key, &v, &local))
    {
      if (local)
        {
          g_propagate_error (error, local);
          return FALSE;
        }
      if (required)
        {
          g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_FORMAT, "%s: missing key %s",
                       tern_gguf_name (gguf), key);
          return FALSE;
        }
      *out = fallback;
      return TRUE;
    }
  /* Generous bounds keep later size arithmetic far from overflow. */
  if (v == 0 || v > (1u << 24))
    {
      g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_FORMAT, "%s: key %s is %" G_GUINT64_FORMAT
                   ", out of range", tern_gguf_name (gguf), key, v);
      return FALSE;
    }
  *out = (gint32) v;
  return TRUE;
}

static gboolean
get_real (const TernGguf *gguf, const char *arch, const char *name, double fallback, double *out, GError **error)
{
  g_autofree char *key = g_strconcat (arch, ".", name, NULL);
  GError *local = NULL;

  if (!tern_gguf_get_float (gguf, key, out, &local))
    {
      if (local)
        {
          g_propagate_error (error, local);
          return FALSE;
        }
      *out = fallback;
    }
  if (!isfinite (*out))
    {
      g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_FORMAT, "%s: key %s is not a finite number",
                   tern_gguf_name (gguf), key);
      return FALSE;
    }
  return TRUE;
}

static gboolean
read_hparams (TernModel *model, GError **error)
{
  const TernGguf *gguf = model->gguf;
  const char *arch = model->arch_name;
  TernHParams *hp = &model->hp;
  double eps, base, scale_factor = 1.0;
  TernGgufString scaling;

  if (g_str_equal (arch, "llama"))
    hp->arch = TERN_ARCH_LLAMA;
  else if (g_str_equal (arch, "qwen2"))
    hp->arch = TERN_ARCH_QWEN2;
  else
    {
      g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_UNSUPPORTED,
                   "%s: architecture \"%s\" is not supported (Tern runs llama and qwen2 models)",
                   tern_gguf_name (gguf), arch);
      return FALSE;
    }

  if (!get_dim (gguf, arch, "context_length", TRUE, 0, &hp->n_ctx_train, error) ||
      !get_dim (gguf, arch, "embedding_length", TRUE, 0, &hp->n_embd, error) ||
      !get_dim (gguf, arch, "block_count", TRUE, 0, &hp->n_layer, error) ||
      !get_dim (gguf, arch, "feed_forward_length", TRUE, 0, &hp->n_ff, error) ||
      !get_dim (gguf, arch, "attention.head_count", TRUE, 0, &hp->n_head, error) ||
      !get_dim (gguf, arch, "attention.head_count_kv", FALSE, hp->n_head, &hp->n_head_kv, error))
    return FALSE;

  if (hp->n_embd % hp->n_head != 0 || hp->n_head % hp->n_head_kv != 0)
    {
      g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_FORMAT,
                   "%s: %d heads do not divide the embedding length %d, or %d KV heads the heads",
                   tern_gguf_name (gguf), hp->n_head, hp->n_embd, hp->n_head_kv);
      return FALSE;
    }
  hp->head_dim = hp->n_embd / hp->n_head;

  gint32 key_length, value_length;
  if (!get_dim (gguf, arch, "attention.key_length", FALSE, hp->head_dim, &key_length, error) ||
      !get_dim (gguf, arch, "attention.value_length", FALSE, hp->head_dim, &value_length, error) ||
      !get_dim (gguf, arch, "rope.dimension_count", FALSE, hp->head_dim, &hp->n_rot, error))
    return FALSE;
  if (key_length != hp->head_dim || value_length != hp->head_dim)
    {
      g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_UNSUPPORTED,
                   "%s: heads of %d/%d dimensions, not n_embd/n_head = %d, are not supported",
                   tern_gguf_name (gguf), key_length, value_length, hp->head_dim);
      return FALSE;
    }
  if (hp->n_rot > hp->head_dim || hp->n_rot % 2 != 0)
    {
      g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_FORMAT,
                   "%s: rope.dimension_count %d does not fit a head of %d", tern_gguf_name (gguf), hp->n_rot,
                   hp->head_dim);
      return FALSE;
    }

  if (!get_real (gguf, arch, "attention.layer_norm_rms_epsilon", 1e-5, &eps, error) ||
      !get_real (gguf, arch, "rope.freq_base", 10000.0, &base, error))
    return FALSE;
  {
    g_autofree char *key = g_strconcat (arch, ".rope.scaling.type", NULL);
    GError *local = NULL;
    if (tern_gguf_get_string (gguf, key, &scaling, &local))
      {
        gboolean linear = scaling.len == 6 && memcmp (scaling.data, "linear", 6) == 0;
        gboolean none = scaling.len == 4 && memcmp (scaling.data, "none", 4) == 0;
        if (!linear && !none)
          {
            g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_UNSUPPORTED,
                         "%s: RoPE scaling \"%.*s\" is not supported", tern_gguf_name (gguf),
                         (int) MIN (scaling.len, 32), scaling.data);
            return FALSE;
          }
        if (linear && !get_real (gguf, arch, "rope.scaling.factor", 1.0, &scale_factor, error))
          return FALSE;
      }
    else if (local)
      {
        g_propagate_error (error, local);
        return FALSE;
      }
  }
  if (eps <= 0 || base <= 0 || scale_factor <= 0)
    {
      g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_FORMAT,
                   "%s: RMS epsilon, RoPE base and scaling factor must be positive", tern_gguf_name (gguf));
      return FALSE;
    }
  hp->rms_eps = (float) eps;
  hp->rope_freq_base = (float) base;
  hp->rope_freq_scale = (float) (1.0 / scale_factor);
  hp->rope_neox = hp->arch == TERN_ARCH_QWEN2;
  hp->n_vocab = tern_tokenizer_n_vocab (model->tokenizer);
  return TRUE;
}

/* Rows of each tensor read at load for NaN and infinity, spread from the
 * first to the last, and the elements dequantized at a time. A fixed budget
 * keeps loading fast; damage outside the sample shows in the logits
 * (context.c checks every row it computes). */
#define SAMPLE_ROWS 16
#define SAMPLE_CHUNK 256

/* FORMAT when a sampled row of @t holds a NaN or an infinity. */
static gboolean
check_finite (const TernModel *model, const TernGgufTensor *t, GError **error)
{
  TernDequantRowFn dequant = tern_quant_dequant_row (t->type);
  gint64 row_len = t->ne[0], n_rows = tern_gguf_tensor_n_elems (t) / row_len;
  gint64 n_sample = MIN (n_rows, SAMPLE_ROWS);
  gsize row_bytes = tern_type_row_bytes (t->type, row_len);
  /* Every block size divides the chunk, so chunks start on blocks. */
  gint64 chunk = MIN (row_len, SAMPLE_CHUNK);
  float values[SAMPLE_CHUNK];

  for (gint64 i = 0; i < n_sample; i++)
    {
      gint64 row = n_sample > 1 ? i * (n_rows - 1) / (n_sample - 1) : 0;
      const guint8 *src = (const guint8 *) t->data + row * row_bytes;
      for (gint64 done = 0; done < row_len; done += chunk)
        {
          gint64 n = MIN (chunk, row_len - done);
          dequant (src + tern_type_row_bytes (t->type, done), values, n);
          for (gint64 j = 0; j < n; j++)
            if (!isfinite (values[j]))
              {
                g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_FORMAT,
                             "%s: tensor %s holds NaN or infinite values: the model file is damaged",
                             tern_gguf_name (model->gguf), t->name);
                return FALSE;
              }
        }
    }
  return TRUE;
}

/* CANCELLED when @cancellable is. Loading checks it between its steps and
 * before each tensor's sample, which reads the file: a cold page cache makes
 * that the slow part. */
static gboolean
cancelled (const TernGguf *gguf, GCancellable *cancellable, GError **error)
{
  if (!g_cancellable_is_cancelled (cancellable))
    return FALSE;
  g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_CANCELLED, "%s: loading cancelled", tern_gguf_name (gguf));
  return TRUE;
}

/* Finds @name and checks its shape (@n_dims dims; trailing dims of 1 are
 * allowed beyond) and a sample of its values. A NULL return without error
 * means absent and optional. */
static const TernGgufTensor *
bind (TernModel *model, const char *name, gboolean required, gint64 ne0, gint64 ne1, GCancellable *cancellable,
      GError **error)
{
  const TernGgufTensor *t = tern_gguf_find_tensor (model->gguf, name);

  if (cancelled (model->gguf, cancellable, error))
    return NULL;
  if (t == NULL)
    {
      if (required)
        g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_FORMAT, "%s: tensor %s is missing",
                     tern_gguf_name (model->gguf), name);
      return NULL;
    }
  if (t->ne[0] != ne0 || t->ne[1] != ne1 || t->ne[2] != 1 || t->ne[3] != 1)
    {
      g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_FORMAT,
                   "%s: tensor %s has shape [%" G_GINT64_FORMAT ", %" G_GINT64_FORMAT ", %" G_GINT64_FORMAT ", %"
                   G_GINT64_FORMAT "], expected [%" G_GINT64_FORMAT ", %" G_GINT64_FORMAT "]",
                   tern_gguf_name (model->gguf), name, t->ne[0], t->ne[1], t->ne[2], t->ne[3], ne0, ne1);
      return NULL;
    }
  if (!check_finite (model, t, error))
    return NULL;
  model->n_params += tern_gguf_tensor_n_elems (t);
  return t;
}

static void
layer_shape (const TernHParams *hp, TernWeightKind kind, gint64 *ne0, gint64 *ne1)
{
  gint64 q = (gint64) hp->n_head * hp->head_dim, kv = (gint64) hp->n_head_kv * hp->head_dim;
  switch (kind)
    {
    case TERN_WEIGHT_ATTN_NORM:
    case TERN_WEIGHT_FFN_NORM: *ne0 = hp->n_embd; *ne1 = 1; break;
    case TERN_WEIGHT_Q: *ne0 = hp->n_embd; *ne1 = q; break;
    case TERN_WEIGHT_K:
    case TERN_WEIGHT_V: *ne0 = hp->n_embd; *ne1 = kv; break;
    case TERN_WEIGHT_Q_BIAS: *ne0 = q; *ne1 = 1; break;
    case TERN_WEIGHT_K_BIAS:
    case TERN_WEIGHT_V_BIAS: *ne0 = kv; *ne1 = 1; break;
    case TERN_WEIGHT_O: *ne0 = q; *ne1 = hp->n_embd; break;
    case TERN_WEIGHT_GATE:
    case TERN_WEIGHT_UP: *ne0 = hp->n_embd; *ne1 = hp->n_ff; break;
    case TERN_WEIGHT_DOWN: *ne0 = hp->n_ff; *ne1 = hp->n_embd; break;
    default: g_assert_not_reached ();
    }
}

static gboolean
bind_weights (TernModel *model, TernProgressFn progress, gpointer user_data, GCancellable *cancellable,
              GError **error)
{
  const TernHParams *hp = &model->hp;
  GError *local = NULL;

  model->global[TERN_WEIGHT_TOKEN_EMBD] =
      bind (model, "token_embd.weight", TRUE, hp->n_embd, hp->n_vocab, cancellable, error);
  if (!model->global[TERN_WEIGHT_TOKEN_EMBD])
    return FALSE;
  model->global[TERN_WEIGHT_OUTPUT_NORM] = bind (model, "output_norm.weight", TRUE, hp->n_embd, 1, cancellable, error);
  if (!model->global[TERN_WEIGHT_OUTPUT_NORM])
    return FALSE;
  model->global[TERN_WEIGHT_OUTPUT] =
      bind (model, "output.weight", FALSE, hp->n_embd, hp->n_vocab, cancellable, &local);
  if (local)
    {
      g_propagate_error (error, local);
      return FALSE;
    }
  if (!model->global[TERN_WEIGHT_OUTPUT])
    model->global[TERN_WEIGHT_OUTPUT] = model->global[TERN_WEIGHT_TOKEN_EMBD];
  model->global[TERN_WEIGHT_ROPE_FREQS] =
      bind (model, "rope_freqs.weight", FALSE, hp->n_rot / 2, 1, cancellable, &local);
  if (local)
    {
      g_propagate_error (error, local);
      return FALSE;
    }
  if (model->global[TERN_WEIGHT_ROPE_FREQS] && model->global[TERN_WEIGHT_ROPE_FREQS]->type != TERN_TYPE_F32)
    {
      g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_UNSUPPORTED, "%s: rope_freqs.weight is not f32",
                   tern_gguf_name (model->gguf));
      return FALSE;
    }

  /* Each layer has nine tensors at least: a block count the file cannot
   * hold is refused before anything is sized by it. */
  if ((guint64) hp->n_layer * 9 > tern_gguf_n_tensors (model->gguf))
    {
      g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_FORMAT,
                   "%s: %d layers do not fit in the file's %" G_GSIZE_FORMAT " tensors", tern_gguf_name (model->gguf),
                   hp->n_layer, tern_gguf_n_tensors (model->gguf));
      return FALSE;
    }
  model->layers = g_new0 (LayerWeights, hp->n_layer);
  for (gint32 l = 0; l < hp->n_layer; l++)
    {
      for (int k = TERN_WEIGHT_FIRST_LAYER_KIND; k < TERN_WEIGHT_N_KINDS; k++)
        {
          g_autofree char *name = NULL;
          gint64 ne0, ne1;
          if (layer_names[k].qwen2_only && hp->arch != TERN_ARCH_QWEN2)
            continue;
          name = g_strdup_printf ("blk.%d.%s", l, layer_names[k].suffix);
          layer_shape (hp, k, &ne0, &ne1);
          model->layers[l].w[k] = bind (model, name, TRUE, ne0, ne1, cancellable, error);
          if (!model->layers[l].w[k])
            return FALSE;
          /* Norms and biases are read as plain floats by every backend. */
          if ((k == TERN_WEIGHT_ATTN_NORM || k == TERN_WEIGHT_FFN_NORM || layer_names[k].qwen2_only) &&
              model->layers[l].w[k]->type != TERN_TYPE_F32)
            {
              g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_UNSUPPORTED, "%s: tensor %s is %s, not f32",
                           tern_gguf_name (model->gguf), name, tern_type_name (model->layers[l].w[k]->type));
              return FALSE;
            }
        }
      if (progress)
        progress ((double) (l + 1) / hp->n_layer, user_data);
    }
  if (model->global[TERN_WEIGHT_OUTPUT_NORM]->type != TERN_TYPE_F32)
    {
      g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_UNSUPPORTED, "%s: output_norm.weight is not f32",
                   tern_gguf_name (model->gguf));
      return FALSE;
    }

  model->weights = tern_weights_new_mapped (model->gguf, hp);
  for (int k = 0; k < TERN_WEIGHT_FIRST_LAYER_KIND; k++)
    tern_weights_bind (model->weights, -1, k, model->global[k]);
  for (gint32 l = 0; l < hp->n_layer; l++)
    for (int k = TERN_WEIGHT_FIRST_LAYER_KIND; k < TERN_WEIGHT_N_KINDS; k++)
      tern_weights_bind (model->weights, l, k, model->layers[l].w[k]);
  g_clear_pointer (&model->layers, g_free);
  return TRUE;
}

TernModel *
tern_model_load (const char *path, TernProgressFn progress, gpointer user_data, GCancellable *cancellable,
                 GError **error)
{
  g_autoptr (TernModel) model = g_new0 (TernModel, 1);
  TernGgufString arch;
  g_autoptr (GError) local = NULL;

  model->gguf = tern_gguf_open (path, error);
  if (model->gguf == NULL || cancelled (model->gguf, cancellable, error))
    return NULL;
  if (!tern_gguf_get_string (model->gguf, "general.architecture", &arch, &local))
    {
      if (local == NULL)
        g_set_error (&local, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_FORMAT, "%s: missing key general.architecture",
                     tern_gguf_name (model->gguf));
      g_propagate_error (error, g_steal_pointer (&local));
      return NULL;
    }
  model->arch_name = g_utf8_make_valid (arch.data, MIN (arch.len, 64));
  model->tokenizer = tern_tokenizer_new (model->gguf, &local);
  gboolean ok = model->tokenizer != NULL && !cancelled (model->gguf, cancellable, &local) &&
                read_hparams (model, &local) && bind_weights (model, progress, user_data, cancellable, &local);
  /* The tokenizer and the sample checked for NaN read the file: zeros from
   * a file that shrank meanwhile are the error, whatever they made of it. */
  if (!tern_gguf_check_intact (model->gguf, error))
    return NULL;
  if (!ok)
    {
      g_propagate_error (error, g_steal_pointer (&local));
      return NULL;
    }
  return g_steal_pointer (&model);
}

void
tern_model_free (TernModel *model)
{
  if (model == NULL)
    return;
  g_free (model->layers);
  tern_weights_free (model->weights);
  tern_tokenizer_free (model->tokenizer);
  tern_gguf_free (model->gguf);
  g_free (model->arch_name);
  g_free (model);
}

const TernHParams *tern_model_hparams (const TernModel *model) { return &model->hp; }
const TernTokenizer *tern_model_tokenizer (const TernModel *model) { return model->tokenizer; }
const TernGguf *tern_model_gguf (const TernModel *model) { return model->gguf; }
const char *tern_model_arch_name (const TernModel *model) { return model->arch_name; }
gint64 tern_model_n_params (const TernModel *model) { return model->n_params; }

TernWeights *
tern_model_weights (const TernModel *model)
{
  return model->weights;
}

const TernGgufTensor *
tern_model_weight (const TernModel *model, gint32 layer, TernWeightKind kind)
{
  const TernGgufTensor *t;

  /* Acquired just for the look: only a file changed on disk refuses. */
  if (!tern_weights_acquire (model->weights, layer, NULL))
    return NULL;
  t = tern_weights_get (model->weights, layer, kind);
  tern_weights_release (model->weights, layer);
  return t;
}

gboolean
tern_model_weight_role (const TernModel *model, const char *name, gint32 *layer, TernWeightKind *kind)
{
  g_return_val_if_fail (name != NULL && layer != NULL && kind != NULL, FALSE);

  for (gint32 l = -1; l < model->hp.n_layer; l++)
    {
      int first = l < 0 ? 0 : TERN_WEIGHT_FIRST_LAYER_KIND;
      int end = l < 0 ? TERN_WEIGHT_FIRST_LAYER_KIND : TERN_WEIGHT_N_KINDS;

      for (int k = first; k < end; k++)
        {
          const TernGgufTensor *t = tern_model_weight (model, l, k);

          if (t != NULL && strcmp (t->name, name) == 0)
            {
              *layer = l;
              *kind = k;
              return TRUE;
            }
        }
    }
  return FALSE;
}

const TernGgufTensor *
tern_model_swap_weight (TernModel *model, gint32 layer, TernWeightKind kind, const TernGgufTensor *tensor)
{
  const TernGgufTensor *old = tern_model_weight (model, layer, kind);

  g_return_val_if_fail (old != NULL && tensor != NULL, NULL);
  g_return_val_if_fail (tensor->n_dims == old->n_dims && tensor->ne[0] == old->ne[0] && tensor->ne[1] == old->ne[1],
                        NULL);

  /* Tied embeddings are one weight in two roles. */
  if (layer < 0 && (kind == TERN_WEIGHT_TOKEN_EMBD || kind == TERN_WEIGHT_OUTPUT))
    {
      TernWeightKind other = kind == TERN_WEIGHT_OUTPUT ? TERN_WEIGHT_TOKEN_EMBD : TERN_WEIGHT_OUTPUT;

      if (tern_model_weight (model, -1, other) == old)
        tern_weights_bind (model->weights, -1, other, tensor);
    }
  tern_weights_bind (model->weights, layer, kind, tensor);
  return old;
}
