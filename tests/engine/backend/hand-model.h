/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <tern/weights.h>

G_BEGIN_DECLS

/* A model made by hand in memory: hyper-parameters, and tensors of any
 * type with random contents, handed out by a weight source as a loaded
 * model's are. For the backend tests, which need no file. */
typedef struct HandModel HandModel;

/* A model of @hp's shape with no tensors yet; @seed seeds its contents. */
HandModel *hand_model_new (const TernHParams *hp, guint32 seed);
void hand_model_free (HandModel *m);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (HandModel, hand_model_free)

const TernHParams *hand_model_hparams (const HandModel *m);
TernWeights *hand_model_weights (HandModel *m);
GRand *hand_model_rand (HandModel *m);

/* Makes a [@ne1][@ne0] tensor of @type the weight in role @kind of layer
 * @layer (-1 for the global roles), replacing any there was. Its values
 * are uniform in [@lo, @hi] rounded to @type where Tern can quantize to
 * @type; otherwise random quants with small finite scales. */
const TernGgufTensor *hand_model_add (HandModel *m, gint32 layer, TernWeightKind kind, TernType type, gint64 ne0,
                                      gint64 ne1, float lo, float hi);

G_END_DECLS
