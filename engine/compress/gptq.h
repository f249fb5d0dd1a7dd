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

/* Rounds the @n_rows rows of @n_in weights in @w (row-major, a multiple of
 * 256 long) to ternary 256-blocks,
 * writing what is stored to @out: each block's scale is fitted
 * (tern_ternarize_weighted) when the feedback reaches it, and each weight
 * rounds at half that scale. @h is the inputs' Hessian XᵀX (@n_in × @n_in,
 * row-major), damped here by @damp times its mean diagonal. FALSE when it
 * is not positive definite even then (a layer that never saw its inputs). */
gboolean tern_gptq_ternary (const float *w, gint64 n_rows, gint64 n_in, const double *h, double damp, float *out);

G_END_DECLS
