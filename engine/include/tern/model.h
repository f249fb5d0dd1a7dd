/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>
#include <tern/gguf.h>
#include <tern/tokenizer.h>

G_BEGIN_DECLS

/* A model: a GGUF file's hyper-parameters, tokenizer and weights. Weights
 * stay memory-mapped in their stored type; the compute backends find them
 * through tern_model_weight. A loaded model is immutable: any thread may
 * read it, and several contexts may share it. */

typedef enum {
  TERN_ARCH_LLAMA, /* Llama 1-3, Mistral, TinyLlama, SmolLM, ternary llamas */
  TERN_ARCH_QWEN2, /* as llama, plus Q/K/V biases and NEOX RoPE */
} TernArch;

typedef struct {
  TernArch arch;
  gint32 n_vocab;
  gint32 n_ctx_train;   /* the context length the model was trained with */
  gint32 n_embd;
  gint32 n_layer;
  gint32 n_head;
  gint32 n_head_kv;     /* < n_head for grouped-query attention */
  gint32 head_dim;      /* n_embd / n_head */
  gint32 n_ff;
  gint32 n_rot;         /* dimensions of a head that RoPE rotates */
  float rms_eps;
  float rope_freq_base;
  float rope_freq_scale; /* 1 / linear scaling factor */
  gboolean rope_neox;   /* rotate (i, i + n_rot/2) pairs rather than (2i, 2i + 1) */
} TernHParams;

/* The weights of a model, by role. Global weights have layer -1. */
typedef enum {
  TERN_WEIGHT_TOKEN_EMBD,
  TERN_WEIGHT_OUTPUT_NORM,
  TERN_WEIGHT_OUTPUT,
  TERN_WEIGHT_ROPE_FREQS, /* optional: per-pair frequency divisors (Llama 3) */
  TERN_WEIGHT_ATTN_NORM,
  TERN_WEIGHT_Q,
  TERN_WEIGHT_K,
  TERN_WEIGHT_V,
  TERN_WEIGHT_Q_BIAS,     /* qwen2 only */
  TERN_WEIGHT_K_BIAS,
  TERN_WEIGHT_V_BIAS,
  TERN_WEIGHT_O,
  TERN_WEIGHT_FFN_NORM,
  TERN_WEIGHT_GATE,
  TERN_WEIGHT_UP,
  TERN_WEIGHT_DOWN,
  TERN_WEIGHT_N_KINDS
} TernWeightKind;

#define TERN_WEIGHT_FIRST_LAYER_KIND TERN_WEIGHT_ATTN_NORM

typedef struct TernModel TernModel;

/* Called from the loading thread with the fraction done (0..1). */
typedef void (*TernProgressFn) (double fraction, gpointer user_data);

/* Loads the model at @path: validates the file, reads the hyper-parameters,
 * builds the tokenizer and binds every weight, checking its shape. Errors:
 * IO, FORMAT (a missing or mis-shaped tensor, bad metadata: the message
 * names it), UNSUPPORTED (an unknown architecture), CANCELLED. Call from
 * any thread; @progress is called on that thread. */
TernModel *tern_model_load (const char *path, TernProgressFn progress, gpointer user_data,
                            GCancellable *cancellable, GError **error);
void tern_model_free (TernModel *model);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TernModel, tern_model_free)

const TernHParams *tern_model_hparams (const TernModel *model);
const TernTokenizer *tern_model_tokenizer (const TernModel *model);
const TernGguf *tern_model_gguf (const TernModel *model);
/* The architecture name as the file states it ("llama", "qwen2"). */
const char *tern_model_arch_name (const TernModel *model);
/* Total elements of all weight tensors. */
gint64 tern_model_n_params (const TernModel *model);

/* The tensor in role @kind of layer @layer (-1 for global roles), or NULL
 * for an optional weight the model lacks. The output weight of a model with
 * tied embeddings is the token embedding. */
const TernGgufTensor *tern_model_weight (const TernModel *model, gint32 layer, TernWeightKind kind);

G_END_DECLS
