/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <tern/gguf.h>

G_BEGIN_DECLS

/* What a model is made of, for the layers that compute with it: its
 * hyper-parameters, the roles of its weights, and the weight source that
 * hands them out by (layer, role). */

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

/* A weight source: where a model's weights come from. The backends take a
 * layer's weights from it, never from the file mapping, so that a source
 * can decide where they live: the mapped file (the only source for now,
 * weights used in place), or later a residency manager that streams layers
 * from disk into a memory budget.
 *
 * The forward pass announces each layer before it computes it (a source
 * that loads layers can start on the next ones) and acquires it for as long
 * as it computes with it. Used by one thread at a time: the one that runs
 * the forward pass. */
typedef struct TernWeights TernWeights;

/* A source over the mapped GGUF file @gguf (NULL: tensors in memory, which
 * cannot change), empty until tern_weights_bind fills it. @gguf and the
 * tensors it is given must outlive it (the model owns them all). */
TernWeights *tern_weights_new_mapped (const TernGguf *gguf, const TernHParams *hp);
void tern_weights_free (TernWeights *weights);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TernWeights, tern_weights_free)

/* Sets the tensor in role @kind of layer @layer (-1 for global roles).
 * While the model is being loaded, and between passes to swap a weight
 * for one of its shape (tern_model_swap_weight). */
void tern_weights_bind (TernWeights *weights, gint32 layer, TernWeightKind kind, const TernGgufTensor *tensor);

const TernHParams *tern_weights_hparams (const TernWeights *weights);

/* The forward pass is about to compute layer @layer (-1: the global
 * weights, embedding and output). */
void tern_weights_announce (TernWeights *weights, gint32 layer);

/* Makes layer @layer's weights (-1: the global ones) available until
 * tern_weights_release. IO when they cannot be read, as once the file
 * changed on disk (tern_weights_check). */
gboolean tern_weights_acquire (TernWeights *weights, gint32 layer, GError **error);
void tern_weights_release (TernWeights *weights, gint32 layer);

/* The tensor in role @kind of layer @layer (-1 for global roles), or NULL
 * for an optional weight the model lacks. The output weight of a model with
 * tied embeddings is the token embedding. Valid while the layer is
 * acquired (always, for a mapped source). */
const TernGgufTensor *tern_weights_get (const TernWeights *weights, gint32 layer, TernWeightKind kind);

/* IO when the file of the weights changed on disk since it was mapped, so
 * that some weights read as zeros (tern_gguf_check_intact): whatever was
 * computed with them must not be used. Any thread. */
gboolean tern_weights_check (const TernWeights *weights, GError **error);

G_END_DECLS
