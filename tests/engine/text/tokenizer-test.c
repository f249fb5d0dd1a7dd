/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <tern/error.h>
#include <tern/gguf.h>

#include "tokenizer-test.h"

TernTokenizer *
load_vocab (const char *name)
{
  g_autofree char *file = g_strdup_printf ("ggml-vocab-%s.gguf", name);
  g_autofree char *path = g_test_build_filename (G_TEST_DIST, "data", "vocab", file, NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (TernGguf) gguf = tern_gguf_open (path, &error);
  TernTokenizer *tok;

  g_assert_no_error (error);
  tok = tern_tokenizer_new (gguf, &error);
  g_assert_no_error (error);
  g_assert_nonnull (tok);
  return tok;
}

GArray *
encode (const TernTokenizer *tok, const char *text, gssize len, TernTokenizeFlags flags)
{
  GArray *out = g_array_new (FALSE, FALSE, sizeof (TernToken));
  g_autoptr (GError) error = NULL;

  g_assert_true (tern_tokenizer_encode (tok, text, len, flags, out, &error));
  g_assert_no_error (error);
  return out;
}

char *
decode (const TernTokenizer *tok, const GArray *tokens, gboolean render_special)
{
  GString *out = g_string_new (NULL);
  g_autoptr (GError) error = NULL;

  g_assert_true (tern_tokenizer_decode (tok, (const TernToken *) tokens->data, tokens->len,
                                        render_special, out, &error));
  g_assert_no_error (error);
  return g_string_free (out, FALSE);
}

char *
decode_streaming (const TernTokenizer *tok, const GArray *tokens)
{
  g_autoptr (TernDetokenizer) detok = tern_detokenizer_new (tok, FALSE);
  GString *all = g_string_new (NULL);
  g_autoptr (GString) piece = g_string_new (NULL);

  for (guint i = 0; i < tokens->len; i++) {
    g_autoptr (GError) error = NULL;

    g_string_truncate (piece, 0);
    g_assert_true (tern_detokenizer_push (detok, g_array_index (tokens, TernToken, i), piece, &error));
    g_assert_no_error (error);
    g_assert_true (g_utf8_validate_len (piece->str, piece->len, NULL));
    g_string_append_len (all, piece->str, (gssize) piece->len);
  }
  g_string_truncate (piece, 0);
  tern_detokenizer_flush (detok, piece);
  g_assert_true (g_utf8_validate_len (piece->str, piece->len, NULL));
  g_string_append_len (all, piece->str, (gssize) piece->len);
  return g_string_free (all, FALSE);
}

void
assert_tokens (const GArray *got, const TernToken *want, guint n)
{
  g_assert_cmpmem (got->data, got->len * sizeof (TernToken), want, n * sizeof (TernToken));
}
