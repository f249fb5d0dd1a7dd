/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Ternary projections for the compress layer (private): each turns a row
 * of weights into 256-weight blocks of the form s·{−1, 0, 1}, with s a
 * float16 value, so that llama.cpp's TQ1_0 and TQ2_0 quantizers store the
 * result exactly. Pure functions, any thread. */

#define TERN_TERNARY_BLOCK 256

/* Ternary weight networks: for each block, among thresholds t = c·mean|w|
 * for c on a grid around 0.7, the one whose least-squares scale (the mean
 * magnitude of the weights above t) leaves the least squared error.
 * @n is a multiple of 256. @x and @y may not overlap. */
void tern_ternarize_twn (const float *x, float *y, gint64 n);

/* BitNet b1.58: y = s·clip(round(x / @scale), −1, 1), s @scale rounded to
 * float16. @n is a multiple of 256. */
void tern_ternarize_absmean (const float *x, float *y, gint64 n, float scale);

/* Folds @n weights into the state of a tensor's absmean scale. */
typedef struct {
  double sum_abs;
  guint64 n;
  float min_nonzero, max_nonzero; /* of |w|; min > max while none */
} TernAbsmeanScale;

void tern_absmean_scale_init (TernAbsmeanScale *scale);
void tern_absmean_scale_add (TernAbsmeanScale *scale, const float *x, gint64 n);
/* The tensor's scale: its mean magnitude, or, for a tensor whose nonzero
 * weights all have one magnitude (a model trained ternary), that
 * magnitude, so that such a tensor is stored exactly. */
float tern_absmean_scale_get (const TernAbsmeanScale *scale);

G_END_DECLS
