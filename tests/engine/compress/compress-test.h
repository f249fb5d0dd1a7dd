/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* What the compression tests share. */

/* The path of the fixture model tests/data/models/@name.gguf. */
char *compress_test_model_path (const char *name);
/* A new temporary folder. */
char *compress_test_make_dir (void);
/* Asserts that @dir holds no file and removes it. */
void compress_test_assert_empty_and_remove (const char *dir);
/* The model's perplexity on tests/data/text/kjv_eval.txt in chunks of 128
 * tokens, as llama-perplexity scores it (the fixtures' README figures). */
double compress_test_perplexity (const char *path);
/* The bundled calibration text (tests/data/text/kjv_calibration.txt). */
char *compress_test_calibration_text (void);

G_END_DECLS
