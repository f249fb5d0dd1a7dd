/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>
#include <tern/gguf.h>
#include <tern/tokenizer.h>
#include <tern/weights.h>

G_BEGIN_DECLS

/* A model: a GGUF file's hyper-parameters, tokenizer and weights. Weights
 * stay memory-mapped in their stored type; the compute backends take them
 * from the model's weight source (tern_model_weights), never from the
 * mapping. A loaded model is immutable: any thread may read it, and
 * several contexts may share it. */


typedef struct TernModel TernModel;

/* Called from the loading thread with the fraction done (0..1). */
typedef void (*TernProgressFn) (double fraction, gpointer user_data);

/* Loads the model at @path: validates the file, reads the hyper-parameters,
 * builds the tokenizer and binds every weight, checking its shape and that
 * a sample of its rows (16 at most, spread over it) holds no NaN or
 * infinity. Errors: IO (also when the file shrinks on disk while it is
 * read), FORMAT (a missing, mis-shaped or damaged tensor, bad metadata:
 * the message names it), UNSUPPORTED (an unknown architecture), CANCELLED.
 * Call from any thread; @progress is called on that thread.
 *
 * The weights stay mapped: a file that shrinks on disk while the model is
 * loaded gives zeros where it is read past its new end, never a crash, and
 * every computation after that fails with IO (tern_gguf_check_intact). */
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

/* The model's weight source, owned by the model. */
TernWeights *tern_model_weights (const TernModel *model);

/* The tensor in role @kind of layer @layer (-1 for global roles), or NULL
 * for an optional weight the model lacks, and for any once the file changed
 * on disk: tern_weights_get on the model's source, for inspection (tern-cli
 * info, tests). */
const TernGgufTensor *tern_model_weight (const TernModel *model, gint32 layer, TernWeightKind kind);

/* The role of the model's weight named @name ("blk.3.attn_k.weight"):
 * its layer (-1 for a global one) and kind. FALSE when the model uses no
 * tensor of that name. */
gboolean tern_model_weight_role (const TernModel *model, const char *name, gint32 *layer, TernWeightKind *kind);

/* Makes the model compute with @tensor in role @kind of layer @layer in
 * place of the weight it has there, and returns that weight (to swap it
 * back): for measuring what storing one weight differently costs
 * (compression's sensitivity). @tensor must have the weight's shape and a
 * type the backends compute with, and outlive its use; the caller owns
 * it. Tied embeddings (the output matrix is the token embedding) are
 * swapped in both roles. Between passes only, on the thread that runs
 * them. */
const TernGgufTensor *tern_model_swap_weight (TernModel *model, gint32 layer, TernWeightKind kind,
                                              const TernGgufTensor *tensor);

G_END_DECLS
