/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>
#include <tern/model.h>

G_BEGIN_DECLS

/* The calibration of a compression (private to the compress layer): the
 * Hessian XᵀX / n of every input of every layer's weight matrices, over
 * the chunks of a text evaluated by the model being compressed. */

/* The inputs a layer's matrices read (tern_context_collect_inputs). */
typedef enum {
  TERN_CALIBRATION_QKV,     /* the attention norm's output: attn_q, attn_k, attn_v */
  TERN_CALIBRATION_O,       /* the attention's output: attn_output */
  TERN_CALIBRATION_GATE_UP, /* the feed-forward norm's output: ffn_gate, ffn_up */
  TERN_CALIBRATION_DOWN,    /* the gated activation: ffn_down */
  TERN_CALIBRATION_N_GROUPS
} TernCalibrationGroup;

typedef struct TernCalibration TernCalibration;

/* The tokens of @text (@len bytes, or NUL-terminated when -1) that @model
 * reads in calibrating, in chunks of *@n_ctx tokens (half its training
 * context, at most 512), each starting with BOS as a text does: as many
 * whole chunks as the first @max_tokens tokens hold. INVALID for a text
 * shorter than a chunk. */
GArray *tern_calibration_chunks (const TernModel *model, const char *text, gssize len, guint max_tokens, gint32 *n_ctx,
                                 GError **error);

/* Evaluates the model at @model_path on @text (@len bytes, or
 * NUL-terminated when -1) in chunks of half its training context (at most
 * 512 tokens), at most TERN_COMPRESS_CALIBRATION_TOKENS tokens, and sums
 * the Hessians. Errors: the model's, INVALID for a text shorter than a
 * chunk, NOMEM for Hessians that do not fit, CANCELLED. */
TernCalibration *tern_calibration_collect (const char *model_path, const char *text, gssize len, guint n_threads,
                                           GCancellable *cancellable, GError **error);
void tern_calibration_free (TernCalibration *calibration);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TernCalibration, tern_calibration_free)

/* The layers the calibration has Hessians of. */
gint32 tern_calibration_n_layer (const TernCalibration *calibration);

/* The group of the tensor named @name ("blk.3.attn_k.weight") and its
 * layer; -1 for a tensor that is no layer's weight matrix. */
int tern_calibration_group_of (const char *name, gint32 *layer);

/* The Hessian (@n_in × @n_in, row-major) of @layer's @group, owned by
 * @calibration, or NULL when the model has no such layer. */
const double *tern_calibration_hessian (const TernCalibration *calibration, gint32 layer, TernCalibrationGroup group,
                                        gint64 *n_in);

G_END_DECLS
