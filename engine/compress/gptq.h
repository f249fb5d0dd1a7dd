/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Calibrated ternary rounding (private to the compress layer): GPTQ's
 * column-by-column error feedback (Frantar et al., 2022) around a
 * weighted least-squares fit of each 256-weight block, the weights of the
 * fit being the diagonal of the layer's input Hessian. Pure functions, any
 * thread. */

/* The ternary block s·{−1, 0, 1} (s in float16) nearest @w in the norm
 * Σ @h_diag[j] (w[j] − y[j])²: the kept weights are the k of largest
 * magnitude for the best k, at s = Σ h|w| / Σ h over them. Returns s
 * and writes the block to @y; @n is 256. */
float tern_ternarize_weighted (const float *w, const float *h_diag, float *y, gint64 n);

/* The error feedback of one layer input's Hessian, shared by the rows of
 * every matrix that reads that input. */
typedef struct TernGptq TernGptq;

/* Prepares the feedback of @h, the inputs' Hessian XᵀX (@n_in × @n_in,
 * row-major; @n_in a multiple of 256), damped by @damp times its mean
 * diagonal. NULL when it is not positive definite even then (a layer that
 * never saw its inputs). O(@n_in³). */
TernGptq *tern_gptq_new (const double *h, gint64 n_in, double damp);
void tern_gptq_free (TernGptq *gptq);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TernGptq, tern_gptq_free)

/* Rounds the row @w of n_in weights to ternary 256-blocks into @out: each
 * block's scale is fitted (tern_ternarize_weighted) when the feedback
 * reaches it, and each weight rounds at half that scale; the rounding
 * error of each weight is spread over the weights after it. Any thread,
 * for different rows at once. O(n_in²). */
void tern_gptq_row (const TernGptq *gptq, const float *w, float *out);

G_END_DECLS
