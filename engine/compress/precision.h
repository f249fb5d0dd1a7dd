/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>
#include <tern/gguf.h>
#include <tern/types.h>

G_BEGIN_DECLS

/* The precision policy of a compression with a size target (private to
 * the compress layer): which matrices to keep in a better type than their
 * small one, chosen by what storing each one small costs the model's
 * predictions on a calibration text.
 *
 * Each matrix's sensitivity is measured, not guessed: the model reads the
 * text with that matrix alone stored in its small type (ternary ones
 * rounded as TWN does) and the rest as in the file, and the sensitivity is
 * the mean KL divergence of its next-token predictions from the
 * unchanged model's. A better type is expected to remove the share of it
 * that the type removes of the matrix's squared error. The bytes left
 * under the target then go, greedily, to the upgrades that remove the
 * most divergence per byte. */

/* A better type a matrix may get: Q4_K, then Q6_K. */
#define TERN_PRECISION_N_BETTER 2

typedef struct {
  const TernGgufTensor *tensor; /* in: a weight matrix of the model, in the file */
  TernType type;                /* in: its small type; out: the type chosen */
  double sensitivity;           /* out: nats per token (see above) */
} TernPrecisionChoice;

/* Tokens of the calibration text read per measurement at most, and over
 * all measurements (a large model's many matrices are measured on fewer
 * tokens each, at least one chunk). */
#define TERN_PRECISION_TOKENS 2048
#define TERN_PRECISION_TOTAL_TOKENS 65536

/* Measures the sensitivity of each of the @n @choices of the model at
 * @model_path on @text (@len bytes, or NUL-terminated when -1) and gives
 * the upgrades that fit in @budget bytes beyond the small types' (the data
 * of each tensor padded to @alignment) their types. Errors: the model's, INVALID for a text shorter than a
 * chunk, NOMEM, CANCELLED. Any thread; blocks. */
gboolean tern_precision_choose (const char *model_path, const char *text, gssize len, TernPrecisionChoice *choices,
                                gsize n, guint64 budget, guint32 alignment, guint n_threads,
                                GCancellable *cancellable, GError **error);

G_END_DECLS
