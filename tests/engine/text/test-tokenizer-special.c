/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Special tokens: found in text only when asked (user-defined ones always),
 * rendered only when asked, the ones that end generation, and Phi-3's
 * whitespace rule. */
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#include <tern/error.h>
#include <tern/gguf.h>

#include "tokenizer-test.h"

static void
test_special_spm (void)
{
  g_autoptr (TernTokenizer) tok = load_vocab ("llama-spm");
  const char *text = "<s>Hello</s>";
  g_autoptr (GArray) plain = encode (tok, text, -1, TERN_TOKENIZE_NONE);
  g_autoptr (GArray) parsed = encode (tok, text, -1, TERN_TOKENIZE_PARSE_SPECIAL);
  g_autoptr (GArray) both = encode (tok, text, -1, TERN_TOKENIZE_PARSE_SPECIAL | TERN_TOKENIZE_ADD_SPECIAL);
  g_autoptr (GArray) hello = encode (tok, "Hello", -1, TERN_TOKENIZE_ADD_SPECIAL);
  g_autofree char *shown = NULL, *hidden = NULL, *plain_text = NULL;

  g_assert_cmpstr (tern_tokenizer_model (tok), ==, "llama");
  g_assert_cmpint (tern_tokenizer_bos (tok), ==, 1);
  g_assert_cmpint (tern_tokenizer_eos (tok), ==, 2);
  g_assert_true (tern_tokenizer_add_bos (tok));
  g_assert_false (tern_tokenizer_add_eos (tok));
  g_assert_true (tern_tokenizer_is_eog (tok, 2));
  g_assert_false (tern_tokenizer_is_eog (tok, 1));
  g_assert_cmpint (tern_tokenizer_token_attr (tok, 1), ==, TERN_TOKEN_ATTR_CONTROL);
  g_assert_cmpstr (tern_tokenizer_token_text (tok, 1), ==, "<s>");

  /* User text: "<s>" is just characters. */
  for (guint i = 0; i < plain->len; i++)
    g_assert_cmpint (g_array_index (plain, TernToken, i), >, 2);
  plain_text = decode (tok, plain, FALSE);
  g_assert_cmpstr (plain_text, ==, text);

  /* Template text: the tokens themselves; the text after a special token
   * gets SentencePiece's space prefix, as in llama.cpp. */
  g_assert_cmpuint (parsed->len, ==, 3);
  g_assert_cmpint (g_array_index (parsed, TernToken, 0), ==, 1);
  g_assert_cmpint (g_array_index (parsed, TernToken, 1), ==, g_array_index (hello, TernToken, 1));
  g_assert_cmpint (g_array_index (parsed, TernToken, 2), ==, 2);
  g_assert_cmpuint (both->len, ==, 4);
  g_assert_cmpint (g_array_index (both, TernToken, 0), ==, 1);
  g_assert_cmpuint (hello->len, ==, 2);
  g_assert_cmpint (g_array_index (hello, TernToken, 0), ==, 1);

  shown = decode (tok, parsed, TRUE);
  g_assert_cmpstr (shown, ==, "<s> Hello</s>");
  hidden = decode (tok, both, FALSE);
  g_assert_cmpstr (hidden, ==, "Hello");
}

static void
test_special_bpe (void)
{
  g_autoptr (TernTokenizer) tok = load_vocab ("gpt-2");
  const char *text = "Hi<|endoftext|>";
  g_autoptr (GArray) plain = encode (tok, text, -1, TERN_TOKENIZE_NONE);
  g_autoptr (GArray) parsed = encode (tok, text, -1, TERN_TOKENIZE_PARSE_SPECIAL);
  g_autoptr (GByteArray) bytes = g_byte_array_new ();
  g_autoptr (GError) error = NULL;

  g_assert_cmpstr (tern_tokenizer_model (tok), ==, "gpt2");
  g_assert_cmpstr (tern_tokenizer_pre (tok), ==, "gpt-2");
  g_assert_cmpint (tern_tokenizer_n_vocab (tok), ==, 50257);
  g_assert_true (tern_tokenizer_is_eog (tok, 50256));
  g_assert_false (tern_tokenizer_add_bos (tok));

  g_assert_cmpuint (plain->len, >, 2);
  for (guint i = 0; i < plain->len; i++)
    g_assert_cmpint (g_array_index (plain, TernToken, i), !=, 50256);
  g_assert_cmpuint (parsed->len, ==, 2);
  g_assert_cmpint (g_array_index (parsed, TernToken, 1), ==, 50256);

  g_assert_true (tern_tokenizer_token_bytes (tok, 50256, FALSE, bytes, &error));
  g_assert_cmpuint (bytes->len, ==, 0);
  g_assert_true (tern_tokenizer_token_bytes (tok, 50256, TRUE, bytes, &error));
  g_assert_cmpmem (bytes->data, bytes->len, "<|endoftext|>", 13);
  g_assert_no_error (error);
  g_assert_false (tern_tokenizer_token_bytes (tok, 50257, TRUE, bytes, &error));
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_INVALID);
}

static void
test_eog (void)
{
  g_autoptr (TernTokenizer) tok = load_vocab ("phi-3");
  g_autoptr (GArray) end = encode (tok, "<|end|>", -1, TERN_TOKENIZE_PARSE_SPECIAL);

  g_assert_cmpint (tern_tokenizer_eos (tok), ==, 32000);
  g_assert_true (tern_tokenizer_is_eog (tok, 32000));
  g_assert_cmpuint (end->len, ==, 1);
  g_assert_true (tern_tokenizer_is_eog (tok, g_array_index (end, TernToken, 0)));
  g_assert_false (tern_tokenizer_is_eog (tok, -1));
  g_assert_false (tern_tokenizer_is_eog (tok, 1 << 30));
}

/* ---- Phi-3: special tokens swallow the whitespace after them ---- */

/* The phi-3 vocabulary saved under another general.name, in a temporary
 * file (NULL: no name at all). */
static TernTokenizer *
load_phi3_named (const char *name)
{
  g_autofree char *src = g_test_build_filename (G_TEST_DIST, "data", "vocab", "ggml-vocab-phi-3.gguf", NULL);
  g_autofree char *path = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (TernGguf) vocab = tern_gguf_open (src, &error);
  g_autoptr (TernGgufWriter) w = NULL;
  g_autoptr (TernGguf) copy = NULL;
  int fd;

  g_assert_no_error (error);
  fd = g_file_open_tmp ("tern-phi3-XXXXXX.gguf", &path, &error);
  g_assert_no_error (error);
  close (fd);
  w = tern_gguf_writer_new (path, &error);
  g_assert_no_error (error);
  if (name != NULL)
    tern_gguf_writer_add_string (w, "general.name", name);
  for (gsize i = 0; i < tern_gguf_n_kv (vocab); i++)
    if (g_strcmp0 (tern_gguf_kv_key (vocab, i), "general.name") != 0)
      tern_gguf_writer_add_value (w, tern_gguf_kv_key (vocab, i), tern_gguf_kv_value (vocab, i));
  g_assert_true (tern_gguf_writer_begin_data (w, &error));
  g_assert_true (tern_gguf_writer_finish (w, &error));
  g_assert_no_error (error);
  copy = tern_gguf_open (path, &error);
  g_assert_no_error (error);
  g_unlink (path);
  {
    TernTokenizer *tok = tern_tokenizer_new (copy, &error);

    g_assert_no_error (error);
    return tok;
  }
}

/* @pieces: special tokens (ids >= 0) and raw texts (id -1, text), each raw
 * text encoded on its own: what the whole text must give when the special
 * tokens drop the whitespace after them. */
typedef struct {
  TernToken id;
  const char *text;
} Piece;

static GArray *
encode_pieces (const TernTokenizer *tok, const Piece *pieces, gsize n)
{
  GArray *out = g_array_new (FALSE, FALSE, sizeof (TernToken));

  for (gsize i = 0; i < n; i++) {
    if (pieces[i].id >= 0) {
      g_array_append_val (out, pieces[i].id);
    } else {
      g_autoptr (GArray) raw = encode (tok, pieces[i].text, -1, TERN_TOKENIZE_NONE);

      g_array_append_vals (out, raw->data, raw->len);
    }
  }
  return out;
}

static void
test_phi3_whitespace (void)
{
  g_autoptr (TernTokenizer) tok = load_vocab ("phi-3");
  /* llama.cpp's tokens for this turn of Phi-3's chat template. */
  static const TernToken turn_want[] = { 1, 32010, 317, 21554, 13, 17628, 32007, 32001 };
  const char *turn = "<|user|>\nSYS\nHI<|end|>\n<|assistant|>\n";
  g_autoptr (GArray) turn_got = encode (tok, turn, -1, TERN_TOKENIZE_ADD_SPECIAL | TERN_TOKENIZE_PARSE_SPECIAL);
  /* Every kind of whitespace C's isspace knows goes, up to the next text;
   * the user-defined </s> is matched without PARSE_SPECIAL and strips too. */
  const char *mixed = "a</s> \t\n\v\f\rb<|user|>  c";
  static const Piece mixed_none[] = { { -1, "a" }, { 2, NULL }, { -1, "b<|user|>  c" } };
  static const Piece mixed_special[] = { { -1, "a" }, { 2, NULL }, { -1, "b" }, { 32010, NULL }, { -1, "c" } };
  /* <s>, <unk> and <|endoftext|> keep the whitespace after them, and
   * whitespace before a special token stays. */
  const char *kept = "<s> x <unk>\ty<|endoftext|> z";
  static const Piece kept_want[] = { { 1, NULL }, { -1, " x " }, { 0, NULL }, { -1, "\ty" }, { 32000, NULL },
                                     { -1, " z" } };
  g_autoptr (GArray) got = NULL, want = NULL;

  assert_tokens (turn_got, turn_want, G_N_ELEMENTS (turn_want));

  got = encode (tok, mixed, -1, TERN_TOKENIZE_NONE);
  want = encode_pieces (tok, mixed_none, G_N_ELEMENTS (mixed_none));
  assert_tokens (got, (const TernToken *) want->data, want->len);
  g_clear_pointer (&got, g_array_unref);
  g_clear_pointer (&want, g_array_unref);
  got = encode (tok, mixed, -1, TERN_TOKENIZE_PARSE_SPECIAL);
  want = encode_pieces (tok, mixed_special, G_N_ELEMENTS (mixed_special));
  assert_tokens (got, (const TernToken *) want->data, want->len);
  g_clear_pointer (&got, g_array_unref);
  g_clear_pointer (&want, g_array_unref);

  got = encode (tok, kept, -1, TERN_TOKENIZE_PARSE_SPECIAL);
  want = encode_pieces (tok, kept_want, G_N_ELEMENTS (kept_want));
  assert_tokens (got, (const TernToken *) want->data, want->len);
  g_clear_pointer (&got, g_array_unref);
  g_clear_pointer (&want, g_array_unref);

  /* A special token at the very end, or followed only by whitespace. */
  got = encode (tok, "x<|end|> \n", -1, TERN_TOKENIZE_PARSE_SPECIAL);
  want = encode_pieces (tok, (const Piece[]) { { -1, "x" }, { 32007, NULL } }, 2);
  assert_tokens (got, (const TernToken *) want->data, want->len);
}

/* The rule follows the model's name, in any case; other names, or none,
 * keep the whitespace (applying it to every SentencePiece vocabulary would
 * change every chat model's prompts). */
static void
test_phi3_by_name (void)
{
  const char *text = "<|user|>\nHi<|end|>\n";
  static const Piece stripped[] = { { 32010, NULL }, { -1, "Hi" }, { 32007, NULL } };
  static const Piece kept[] = { { 32010, NULL }, { -1, "\nHi" }, { 32007, NULL }, { -1, "\n" } };
  static const struct {
    const char *name;
    gboolean strips;
  } cases[] = {
    { "Phi-3 mini 4k instruct", TRUE },
    { "PHI3", TRUE },
    { "microsoft_phi3.5", TRUE },
    { "Phi 3", FALSE },
    { "phi-2", FALSE },
    { "Llama", FALSE },
    { NULL, FALSE },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autoptr (TernTokenizer) tok = load_phi3_named (cases[i].name);
    g_autoptr (GArray) got = encode (tok, text, -1, TERN_TOKENIZE_PARSE_SPECIAL);
    g_autoptr (GArray) want = cases[i].strips ? encode_pieces (tok, stripped, G_N_ELEMENTS (stripped))
                                              : encode_pieces (tok, kept, G_N_ELEMENTS (kept));

    g_test_message ("general.name %s", cases[i].name ? cases[i].name : "(none)");
    assert_tokens (got, (const TernToken *) want->data, want->len);
  }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/engine/tokenizer/special/spm", test_special_spm);
  g_test_add_func ("/engine/tokenizer/special/bpe", test_special_bpe);
  g_test_add_func ("/engine/tokenizer/special/eog", test_eog);
  g_test_add_func ("/engine/tokenizer/special/phi-3-whitespace", test_phi3_whitespace);
  g_test_add_func ("/engine/tokenizer/special/phi-3-by-name", test_phi3_by_name);
  return g_test_run ();
}
