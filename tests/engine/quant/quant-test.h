/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <json-glib/json-glib.h>
#include <tern/gguf.h>

G_BEGIN_DECLS

/* What the quant tests share: the fixture models with llama.cpp's
 * dequantization of each, and mismatch reports. */

/* The fixture models (tests/data/models), by name without ".gguf". */
extern const char *const fixture_models[];
extern const gsize n_fixture_models;

typedef struct {
  TernGguf *gguf;
  JsonNode *reference; /* array of { name, type, n_elements, sha256_f32, first } */
} QuantTestModel;

/* Fixture model @name and its reference (NAME.dequant.json), opened on
 * first use and kept until quant_test_models_free. */
QuantTestModel *quant_test_model (const char *name);
void quant_test_models_free (void);

/* Counts a test case's mismatches, showing the first few, so that the case
 * fails once with the whole picture rather than at the first. */
typedef struct {
  guint count;
} Mismatches;

G_GNUC_PRINTF (2, 3) void mismatch (Mismatches *m, const char *format, ...);
/* Fails the test case when there were mismatches. */
void mismatches_done (const Mismatches *m, const char *what);

G_END_DECLS
