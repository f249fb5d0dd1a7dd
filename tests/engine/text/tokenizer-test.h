/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <tern/tokenizer.h>

G_BEGIN_DECLS

/* Helpers of the tokenizer tests: each asserts that the engine call
 * succeeds. */

/* The tokenizer of tests/data/vocab/ggml-vocab-NAME.gguf. */
TernTokenizer *load_vocab (const char *name);
/* The tokens of @text (@len bytes, -1: NUL-terminated); free with
 * g_array_unref. */
GArray *encode (const TernTokenizer *tok, const char *text, gssize len, TernTokenizeFlags flags);
/* The text of @tokens, in one call. */
char *decode (const TernTokenizer *tok, const GArray *tokens, gboolean render_special);
/* The text of @tokens fed one at a time to a detokenizer; every piece of
 * output must be valid UTF-8 on its own. */
char *decode_streaming (const TernTokenizer *tok, const GArray *tokens);
/* Asserts that @got holds the @n tokens of @want. */
void assert_tokens (const GArray *got, const TernToken *want, guint n);

G_END_DECLS
