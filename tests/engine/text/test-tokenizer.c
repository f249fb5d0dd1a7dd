/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <string.h>

#include <json-glib/json-glib.h>
#include <tern/error.h>
#include <tern/gguf.h>
#include <tern/tokenizer.h>

#include "text/tokenizer-private.h"
#include "tokenizer-test.h"

/* ---- llama.cpp's vocabulary tests ---- */

static void
test_vocab (gconstpointer data)
{
  const char *name = data;
  g_autoptr (TernTokenizer) tok = load_vocab (name);
  g_autofree char *base = g_strdup_printf ("ggml-vocab-%s.gguf", name);
  g_autofree char *inp_name = g_strconcat (base, ".inp", NULL);
  g_autofree char *out_name = g_strconcat (base, ".out", NULL);
  g_autofree char *inp_path = g_test_build_filename (G_TEST_DIST, "data", "vocab", inp_name, NULL);
  g_autofree char *out_path = g_test_build_filename (G_TEST_DIST, "data", "vocab", out_name, NULL);
  g_autofree char *inp = NULL, *outs = NULL;
  g_auto (GStrv) cases = NULL, lines = NULL;
  g_autoptr (GError) error = NULL;
  const char *sep = "\n__ggml_vocab_test__\n";
  guint n_cases, n_failed = 0;

  g_assert_true (g_file_get_contents (inp_path, &inp, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (g_file_get_contents (out_path, &outs, NULL, &error));
  g_assert_no_error (error);

  /* The input ends with a separator: the last split is empty. */
  g_assert_true (g_str_has_suffix (inp, sep));
  inp[strlen (inp) - strlen (sep)] = '\0';
  cases = g_strsplit (inp, sep, -1);
  lines = g_strsplit (outs, "\n", -1);
  n_cases = g_strv_length (cases);
  g_assert_cmpuint (g_strv_length (lines), >=, n_cases);

  for (guint i = 0; i < n_cases; i++) {
    g_autoptr (GArray) got = encode (tok, cases[i], -1, TERN_TOKENIZE_NONE);
    g_autoptr (GArray) want = g_array_new (FALSE, FALSE, sizeof (TernToken));
    g_auto (GStrv) ids = g_strsplit (g_strstrip (lines[i]), " ", -1);
    g_autofree char *text = NULL, *streamed = NULL;

    for (guint k = 0; ids[k] != NULL; k++) {
      TernToken id;

      if (ids[k][0] == '\0')
        continue;
      id = (TernToken) g_ascii_strtoll (ids[k], NULL, 10);
      g_array_append_val (want, id);
    }
    if (got->len != want->len ||
        (got->len > 0 && memcmp (got->data, want->data, got->len * sizeof (TernToken)) != 0)) {
      GString *g = g_string_new (NULL);

      for (guint k = 0; k < got->len; k++)
        g_string_append_printf (g, " %d", g_array_index (got, TernToken, k));
      g_test_message ("%s case %u '%s': got%s, want %s", name, i, cases[i], g->str, lines[i]);
      g_string_free (g, TRUE);
      n_failed++;
      continue;
    }

    /* Tokens give the text back: byte-level BPE and byte-fallback SPM lose
     * nothing (these inputs hold no U+2581, which SPM decodes as space). */
    text = decode (tok, got, FALSE);
    g_assert_cmpstr (text, ==, cases[i]);
    streamed = decode_streaming (tok, got);
    g_assert_cmpstr (streamed, ==, cases[i]);
  }
  g_assert_cmpuint (n_failed, ==, 0);
}

/* ---- The project's own model: llama.cpp's tokens for its prompts ---- */

static GArray *
json_tokens (JsonObject *ref, const char *member)
{
  JsonArray *array = json_object_get_array_member (ref, member);
  GArray *tokens = g_array_new (FALSE, FALSE, sizeof (TernToken));

  for (guint i = 0; i < json_array_get_length (array); i++) {
    TernToken t = (TernToken) json_array_get_int_element (array, i);

    g_array_append_val (tokens, t);
  }
  return tokens;
}

static void
assert_prompt (const TernTokenizer *tok, JsonObject *ref, const char *file, const char *member)
{
  g_autofree char *path = g_test_build_filename (G_TEST_DIST, "data", "text", file, NULL);
  g_autofree char *text = NULL;
  gsize len;
  g_autoptr (GError) error = NULL;
  g_autoptr (GArray) want = json_tokens (ref, member);
  g_autoptr (GArray) got = NULL;

  g_assert_true (g_file_get_contents (path, &text, &len, &error));
  g_assert_no_error (error);
  got = encode (tok, text, (gssize) len, TERN_TOKENIZE_ADD_SPECIAL);
  assert_tokens (got, (const TernToken *) want->data, want->len);
}

static void
test_kjv (void)
{
  g_autofree char *model = g_test_build_filename (G_TEST_DIST, "data", "models", "kjv-tiny-f32.gguf", NULL);
  g_autofree char *json = g_test_build_filename (G_TEST_DIST, "data", "reference", "kjv-tiny-f32.json", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (TernGguf) gguf = tern_gguf_open (model, &error);
  g_autoptr (TernTokenizer) tok = NULL;
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GArray) greedy = NULL;
  g_autoptr (TernDetokenizer) detok = NULL;
  g_autoptr (GString) out = g_string_new (NULL);
  JsonObject *ref;

  g_assert_no_error (error);
  tok = tern_tokenizer_new (gguf, &error);
  g_assert_no_error (error);
  g_assert_true (json_parser_load_from_file (parser, json, &error));
  g_assert_no_error (error);
  ref = json_node_get_object (json_parser_get_root (parser));

  assert_prompt (tok, ref, "prompt_logits.txt", "prompt_tokens");
  assert_prompt (tok, ref, "prompt_greedy.txt", "greedy_prompt_tokens");

  /* The continuation reads as llama.cpp printed it, space and all. */
  greedy = json_tokens (ref, "greedy_tokens");
  detok = tern_detokenizer_new (tok, FALSE);
  tern_detokenizer_keep_leading_space (detok);
  for (guint i = 0; i < greedy->len; i++)
    g_assert_true (tern_detokenizer_push (detok, g_array_index (greedy, TernToken, i), out, &error));
  tern_detokenizer_flush (detok, out);
  g_assert_cmpstr (out->str, ==, json_object_get_string_member (ref, "greedy_text"));
}

/* ---- Pre-tokenizers without a vocabulary fixture ---- */

static void
assert_split (const char *pre, const char *text, const char *const *want)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (TernPreTokenizer) pretok = tern_pretokenizer_new (pre, &error);
  g_autoptr (GArray) ends = g_array_new (FALSE, FALSE, sizeof (gsize));
  gsize start = 0;
  guint i;

  g_assert_no_error (error);
  g_assert_true (tern_pretokenizer_split (pretok, text, strlen (text), ends, &error));
  g_assert_no_error (error);
  for (i = 0; i < ends->len; i++) {
    gsize end = g_array_index (ends, gsize, i);
    g_autofree char *piece = g_strndup (text + start, end - start);

    g_assert_nonnull (want[i]);
    g_assert_cmpstr (piece, ==, want[i]);
    start = end;
  }
  g_assert_null (want[i]);
}

#define SPLIT(pre, text, ...) assert_split (pre, text, (const char *const[]) { __VA_ARGS__, NULL })

static void
test_pre_llama3 (void)
{
  SPLIT ("llama-bpe", "Hello world", "Hello", " world");
  /* Contractions match in either case, ASCII only (U+017F is a letter). */
  SPLIT ("llama-bpe", "I'm DON'T 'ſ", "I", "'m", " DON", "'T", " '", "ſ");
  /* Digits in threes; a space before a digit stands alone. */
  SPLIT ("llama-bpe", "I'm 12345 years", "I", "'m", " ", "123", "45", " years");
  /* Whitespace: the last space joins the word, newlines group. */
  SPLIT ("llama-bpe", "  Hello\n\nworld  ", " ", " Hello", "\n\n", "world", "  ");
  SPLIT ("llama-bpe", "a...b!!\n\nc", "a", "...", "b", "!!\n\n", "c");
  SPLIT ("llama-bpe", "привет мир", "привет", " мир");
  /* U+180E is no whitespace for llama.cpp (it is for PCRE2's \s). */
  SPLIT ("llama-bpe", "!\u180e! \u00a0x", "!\u180e!", " ", "\u00a0x");
  SPLIT ("llama3", "x", "x");
}

static void
test_pre_qwen2 (void)
{
  SPLIT ("qwen2", "12345", "1", "2", "3", "4", "5");
  SPLIT ("qwen2", "Hello, world!", "Hello", ",", " world", "!");
  SPLIT ("qwen2", "   x", "  ", " x");
  SPLIT ("qwen2", "我想在apple工作1314151天～", "我想在apple工作", "1", "3", "1", "4", "1", "5", "1",
         "天", "～");
  SPLIT ("qwen2", "it's\r\n\tok", "it", "'s", "\r\n", "\tok");
}

static void
test_pre_smollm (void)
{
  /* Digits are cut out first, then GPT-2's expression splits the rest. */
  SPLIT ("smollm", "abc123 def", "abc", "1", "2", "3", " def");
  SPLIT ("smollm", "I'm here  now", "I", "'m", " here", " ", " now");
  SPLIT ("smollm", "Don't!!", "Don", "'t", "!!");
  /* A single newline before a letter matches nothing and stays a piece. */
  SPLIT ("smollm", "x\n\ny", "x", "\n", "\n", "y");
  SPLIT ("smollm", "a1", "a", "1");
}

static void
test_pre_unknown (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (TernPreTokenizer) pretok = tern_pretokenizer_new ("no-such-pre", &error);

  g_assert_null (pretok);
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_UNSUPPORTED);
  g_assert_nonnull (strstr (error->message, "no-such-pre"));
}

/* ---- Detokenization ---- */

static void
test_detok_split_char (void)
{
  g_autoptr (TernTokenizer) tok = load_vocab ("llama-spm");
  const char *text = "I 🦙 you";
  g_autoptr (GArray) tokens = encode (tok, text, -1, TERN_TOKENIZE_ADD_SPECIAL);
  g_autoptr (TernDetokenizer) detok = tern_detokenizer_new (tok, FALSE);
  g_autoptr (GString) out = g_string_new (NULL);
  g_autofree char *streamed = NULL;
  guint n_bytes = 0;

  /* The llama is not in the vocabulary: four byte tokens. */
  for (guint i = 0; i < tokens->len; i++) {
    TernToken t = g_array_index (tokens, TernToken, i);

    if (tern_tokenizer_token_attr (tok, t) == TERN_TOKEN_ATTR_BYTE)
      n_bytes++;
  }
  g_assert_cmpuint (n_bytes, ==, 4);
  streamed = decode_streaming (tok, tokens);
  g_assert_cmpstr (streamed, ==, text);

  /* A character cut short by another token, or by the end of the stream,
   * becomes U+FFFD; the byte that broke it still counts. */
  {
    TernToken f0 = 3 + 0xf0, x9f = 3 + 0x9f, a = 3 + 'a', e2 = 3 + 0xe2, x96 = 3 + 0x96;
    GError *error = NULL;

    g_assert_cmpstr (tern_tokenizer_token_text (tok, f0), ==, "<0xF0>");
    g_assert_true (tern_detokenizer_push (detok, f0, out, &error));
    g_assert_true (tern_detokenizer_push (detok, x9f, out, &error));
    g_assert_cmpuint (out->len, ==, 0);
    g_assert_true (tern_detokenizer_push (detok, a, out, &error));
    g_assert_cmpstr (out->str, ==, "\xef\xbf\xbd" "a");
    g_assert_true (tern_detokenizer_push (detok, x9f, out, &error));
    g_assert_cmpstr (out->str, ==, "\xef\xbf\xbd" "a" "\xef\xbf\xbd");
    g_assert_true (tern_detokenizer_push (detok, e2, out, &error));
    g_assert_true (tern_detokenizer_push (detok, e2, out, &error));
    g_assert_true (tern_detokenizer_push (detok, x96, out, &error));
    tern_detokenizer_flush (detok, out);
    g_assert_cmpstr (out->str, ==, "\xef\xbf\xbd" "a" "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
    g_assert_false (tern_detokenizer_push (detok, 32000, out, &error));
    g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_INVALID);
    g_clear_error (&error);
  }
}

static void
test_detok_leading_space (void)
{
  g_autoptr (TernTokenizer) tok = load_vocab ("llama-spm");
  g_autoptr (GArray) tokens = encode (tok, "Hello world", -1, TERN_TOKENIZE_NONE);
  g_autoptr (TernDetokenizer) detok = tern_detokenizer_new (tok, FALSE);
  g_autoptr (GString) out = g_string_new (NULL);
  g_autoptr (GError) error = NULL;

  /* A completion continuing shown text keeps the space of its first piece. */
  tern_detokenizer_keep_leading_space (detok);
  for (guint i = 0; i < tokens->len; i++)
    g_assert_true (tern_detokenizer_push (detok, g_array_index (tokens, TernToken, i), out, &error));
  g_assert_cmpstr (out->str, ==, " Hello world");
}

/* Random text of every kind of character survives the round trip. */
static void
test_random_roundtrip (gconstpointer data)
{
  g_autoptr (TernTokenizer) tok = load_vocab (data);
  GRand *rand = g_rand_new_with_seed (1234);

  for (guint round = 0; round < 200; round++) {
    g_autoptr (GString) text = g_string_new (NULL);
    g_autoptr (GArray) tokens = NULL;
    g_autofree char *back = NULL;
    guint n = (guint) g_rand_int_range (rand, 1, 40);

    for (guint i = 0; i < n; i++) {
      gunichar c;

      switch (g_rand_int_range (rand, 0, 4)) {
      case 0:
        c = (gunichar) g_rand_int_range (rand, 1, 0x80);
        break;
      case 1:
        c = (gunichar) g_rand_int_range (rand, 0x80, 0x800);
        break;
      case 2:
        c = (gunichar) g_rand_int_range (rand, 0x800, 0x10000);
        break;
      default:
        c = (gunichar) g_rand_int_range (rand, 0x10000, 0x110000);
        break;
      }
      /* Surrogates are no characters; SPM reads U+2581 as a space. */
      if ((c >= 0xd800 && c < 0xe000) || c == 0x2581)
        c = ' ';
      g_string_append_unichar (text, c);
      /* Some byte-level vocabularies lack the bytes of rare characters
       * (falcon has no 0xF2, starcoder no 0xF1): those cannot come back. */
      for (gsize k = text->len - g_unichar_to_utf8 (c, NULL); k < text->len; k++) {
        if (tok->byte_token[(guint8) text->str[k]] < 0) {
          g_string_truncate (text, text->len - g_unichar_to_utf8 (c, NULL));
          g_string_append_c (text, ' ');
          break;
        }
      }
    }
    tokens = encode (tok, text->str, (gssize) text->len, TERN_TOKENIZE_ADD_SPECIAL);
    back = decode (tok, tokens, FALSE);
    g_assert_cmpstr (back, ==, text->str);
  }
  g_rand_free (rand);
}

static void
test_invalid_utf8 (void)
{
  g_autoptr (TernTokenizer) tok = load_vocab ("gpt-2");
  g_autoptr (GArray) out = g_array_new (FALSE, FALSE, sizeof (TernToken));
  const char *bad[] = { "abc\xff", "\xc0\x80", "\xed\xa0\x80", "\xe2\x82", "\xf4\x90\x80\x80" };
  TernToken seven = 7;

  g_array_append_val (out, seven);
  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++) {
    g_autoptr (GError) error = NULL;

    g_assert_false (tern_tokenizer_encode (tok, bad[i], -1, TERN_TOKENIZE_ADD_SPECIAL, out, &error));
    g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_INVALID);
    g_assert_cmpuint (out->len, ==, 1);
  }

  /* NUL is a character like any other when the length is given. */
  {
    g_autoptr (GArray) nul = encode (tok, "a\0b", 3, TERN_TOKENIZE_NONE);
    g_autofree char *back = decode (tok, nul, FALSE);

    g_assert_cmpuint (nul->len, ==, 3);
    g_assert_cmpmem (back, 3, "a\0b", 3);
  }
}

/* ---- Metadata made by hand ---- */

/* Builds a GGUF file's bytes: no tensors, the metadata added. */
typedef struct {
  GByteArray *kv;
  guint64 n_kv;
} Builder;

static void
put (Builder *b, const void *data, gsize len)
{
  g_byte_array_append (b->kv, data, (guint) len);
}

static void
put_u32 (Builder *b, guint32 v)
{
  v = GUINT32_TO_LE (v);
  put (b, &v, 4);
}

static void
put_u64 (Builder *b, guint64 v)
{
  v = GUINT64_TO_LE (v);
  put (b, &v, 8);
}

static void
put_str (Builder *b, const char *s)
{
  put_u64 (b, strlen (s));
  put (b, s, strlen (s));
}

static void
add_key (Builder *b, const char *key, TernGgufType type)
{
  put_str (b, key);
  put_u32 (b, type);
  b->n_kv++;
}

static void
add_string (Builder *b, const char *key, const char *v)
{
  add_key (b, key, TERN_GGUF_STRING);
  put_str (b, v);
}

static void
add_u32 (Builder *b, const char *key, guint32 v)
{
  add_key (b, key, TERN_GGUF_UINT32);
  put_u32 (b, v);
}

static void
add_strings (Builder *b, const char *key, const char *const *v)
{
  guint64 n = g_strv_length ((char **) v);

  add_key (b, key, TERN_GGUF_ARRAY);
  put_u32 (b, TERN_GGUF_STRING);
  put_u64 (b, n);
  for (guint64 i = 0; i < n; i++)
    put_str (b, v[i]);
}

static void
add_i32s (Builder *b, const char *key, const gint32 *v, guint64 n)
{
  add_key (b, key, TERN_GGUF_ARRAY);
  put_u32 (b, TERN_GGUF_INT32);
  put_u64 (b, n);
  for (guint64 i = 0; i < n; i++)
    put_u32 (b, (guint32) v[i]);
}

static void
add_f32s (Builder *b, const char *key, const float *v, guint64 n)
{
  add_key (b, key, TERN_GGUF_ARRAY);
  put_u32 (b, TERN_GGUF_FLOAT32);
  put_u64 (b, n);
  for (guint64 i = 0; i < n; i++) {
    guint32 bits;

    memcpy (&bits, &v[i], 4);
    put_u32 (b, bits);
  }
}

static TernTokenizer *
build_tokenizer (Builder *b, GError **error)
{
  g_autoptr (GByteArray) file = g_byte_array_new ();
  g_autoptr (GBytes) bytes = NULL;
  g_autoptr (TernGguf) gguf = NULL;
  guint32 version = GUINT32_TO_LE (3);
  guint64 n_tensors = 0, n_kv = GUINT64_TO_LE (b->n_kv);

  g_byte_array_append (file, (const guint8 *) "GGUF", 4);
  g_byte_array_append (file, (const guint8 *) &version, 4);
  g_byte_array_append (file, (const guint8 *) &n_tensors, 8);
  g_byte_array_append (file, (const guint8 *) &n_kv, 8);
  g_byte_array_append (file, b->kv->data, b->kv->len);
  g_byte_array_unref (b->kv);
  b->kv = NULL;
  bytes = g_byte_array_free_to_bytes (g_steal_pointer (&file));
  gguf = tern_gguf_open_bytes (bytes, "made.gguf", error);
  g_assert_no_error (error ? *error : NULL);
  return tern_tokenizer_new (gguf, error);
}

/* A byte-level BPE vocabulary: a, b, c, ab, bc, abc. */
static const char *const bpe_tokens[] = { "a", "b", "c", "ab", "bc", "abc", NULL };

static Builder
bpe_builder (const char *pre, const char *const *merges)
{
  Builder b = { g_byte_array_new (), 0 };

  add_string (&b, "tokenizer.ggml.model", "gpt2");
  if (pre != NULL)
    add_string (&b, "tokenizer.ggml.pre", pre);
  add_strings (&b, "tokenizer.ggml.tokens", bpe_tokens);
  if (merges != NULL)
    add_strings (&b, "tokenizer.ggml.merges", merges);
  return b;
}

static void
assert_built_error (Builder *b, gint code, const char *in_message)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (TernTokenizer) tok = build_tokenizer (b, &error);

  g_assert_null (tok);
  g_assert_error (error, TERN_ENGINE_ERROR, code);
  if (strstr (error->message, in_message) == NULL)
    g_error ("'%s' does not name '%s'", error->message, in_message);
}

static void
test_bpe_merges (void)
{
  const char *const merges[] = { "b c", "a b", "a bc", NULL };
  Builder b = bpe_builder ("qwen2", merges);
  g_autoptr (GError) error = NULL;
  g_autoptr (TernTokenizer) tok = build_tokenizer (&b, &error);
  g_autoptr (GArray) abc = NULL, abab = NULL;

  g_assert_no_error (error);
  abc = encode (tok, "abc", -1, TERN_TOKENIZE_NONE);
  /* "b c" ranks first, then only "a bc" applies. */
  assert_tokens (abc, (const TernToken[]) { 5 }, 1);
  abab = encode (tok, "abab", -1, TERN_TOKENIZE_NONE);
  assert_tokens (abab, (const TernToken[]) { 3, 3 }, 2);
  /* Bytes without a token (here 'd', ' ') are dropped, as in llama.cpp. */
  {
    g_autoptr (GArray) d = encode (tok, "adc", -1, TERN_TOKENIZE_NONE);

    assert_tokens (d, (const TernToken[]) { 0, 2 }, 2);
  }
}

static void
test_bpe_ignore_merges (void)
{
  const char *const merges[] = { "a b", NULL };
  Builder b = bpe_builder ("llama-bpe", merges);
  g_autoptr (GError) error = NULL;
  g_autoptr (TernTokenizer) tok = NULL;
  g_autoptr (GArray) abc = NULL;

  add_u32 (&b, "tokenizer.ggml.bos_token_id", 0); /* llama-bpe adds BOS by default */
  tok = build_tokenizer (&b, &error);
  g_assert_no_error (error);
  /* No merges lead to "abc", but Llama 3 takes whole-token words as they are. */
  abc = encode (tok, "abc", -1, TERN_TOKENIZE_NONE);
  assert_tokens (abc, (const TernToken[]) { 5 }, 1);
}

static void
test_unsupported (void)
{
  Builder b = { g_byte_array_new (), 0 };

  add_string (&b, "tokenizer.ggml.model", "t5");
  add_strings (&b, "tokenizer.ggml.tokens", bpe_tokens);
  assert_built_error (&b, TERN_ENGINE_ERROR_UNSUPPORTED, "'t5'");

  b = bpe_builder ("klingon", (const char *const[]) { "a b", NULL });
  assert_built_error (&b, TERN_ENGINE_ERROR_UNSUPPORTED, "'klingon'");
}

static void
test_malformed (void)
{
  const float scores[] = { 0, -1, -2, -3, -4 };
  const gint32 types[] = { 1, 1, 1, 1, 1, 9 };
  Builder b;

  /* No tokens. */
  b = (Builder) { g_byte_array_new (), 0 };
  add_string (&b, "tokenizer.ggml.model", "llama");
  assert_built_error (&b, TERN_ENGINE_ERROR_FORMAT, "tokenizer.ggml.tokens");

  /* Tokens of the wrong type. */
  b = (Builder) { g_byte_array_new (), 0 };
  add_string (&b, "tokenizer.ggml.model", "llama");
  add_f32s (&b, "tokenizer.ggml.tokens", scores, 5);
  assert_built_error (&b, TERN_ENGINE_ERROR_FORMAT, "tokenizer.ggml.tokens");

  /* Five scores for six tokens. */
  b = (Builder) { g_byte_array_new (), 0 };
  add_string (&b, "tokenizer.ggml.model", "llama");
  add_strings (&b, "tokenizer.ggml.tokens", bpe_tokens);
  add_f32s (&b, "tokenizer.ggml.scores", scores, 5);
  assert_built_error (&b, TERN_ENGINE_ERROR_FORMAT, "tokenizer.ggml.scores");

  /* A token type that does not exist. */
  b = (Builder) { g_byte_array_new (), 0 };
  add_string (&b, "tokenizer.ggml.model", "llama");
  add_strings (&b, "tokenizer.ggml.tokens", bpe_tokens);
  add_i32s (&b, "tokenizer.ggml.token_type", types, 6);
  assert_built_error (&b, TERN_ENGINE_ERROR_FORMAT, "tokenizer.ggml.token_type");

  /* BOS past the end. */
  b = bpe_builder ("gpt-2", (const char *const[]) { "a b", NULL });
  add_u32 (&b, "tokenizer.ggml.bos_token_id", 6);
  assert_built_error (&b, TERN_ENGINE_ERROR_FORMAT, "tokenizer.ggml.bos_token_id");

  /* Adding a BOS the file does not have (llama-bpe adds one by default). */
  b = bpe_builder ("llama-bpe", (const char *const[]) { "a b", NULL });
  assert_built_error (&b, TERN_ENGINE_ERROR_FORMAT, "tokenizer.ggml.add_bos_token");

  /* Merges: missing, of a missing token, of a missing result, not a pair. */
  b = bpe_builder ("gpt-2", NULL);
  assert_built_error (&b, TERN_ENGINE_ERROR_FORMAT, "tokenizer.ggml.merges");
  b = bpe_builder ("gpt-2", (const char *const[]) { "a z", NULL });
  assert_built_error (&b, TERN_ENGINE_ERROR_FORMAT, "tokenizer.ggml.merges");
  b = bpe_builder ("gpt-2", (const char *const[]) { "c a", NULL });
  assert_built_error (&b, TERN_ENGINE_ERROR_FORMAT, "tokenizer.ggml.merges");
  b = bpe_builder ("gpt-2", (const char *const[]) { "ab", NULL });
  assert_built_error (&b, TERN_ENGINE_ERROR_FORMAT, "tokenizer.ggml.merges");

  /* The same text twice. */
  b = (Builder) { g_byte_array_new (), 0 };
  add_string (&b, "tokenizer.ggml.model", "llama");
  add_strings (&b, "tokenizer.ggml.tokens", (const char *const[]) { "x", "y", "x", NULL });
  assert_built_error (&b, TERN_ENGINE_ERROR_FORMAT, "tokenizer.ggml.tokens");

  /* A byte token that is not <0xXX>; BPE text that is not UTF-8. */
  b = (Builder) { g_byte_array_new (), 0 };
  add_string (&b, "tokenizer.ggml.model", "llama");
  add_strings (&b, "tokenizer.ggml.tokens", (const char *const[]) { "<0xZZ>", NULL });
  add_i32s (&b, "tokenizer.ggml.token_type", (const gint32[]) { 6 }, 1);
  assert_built_error (&b, TERN_ENGINE_ERROR_FORMAT, "tokenizer.ggml.tokens");
  b = (Builder) { g_byte_array_new (), 0 };
  add_string (&b, "tokenizer.ggml.model", "gpt2");
  add_strings (&b, "tokenizer.ggml.tokens", (const char *const[]) { "a", "\xff", NULL });
  add_strings (&b, "tokenizer.ggml.merges", (const char *const[]) { NULL });
  assert_built_error (&b, TERN_ENGINE_ERROR_FORMAT, "tokenizer.ggml.tokens");
}

/* A minimal SentencePiece vocabulary works, byte fallback missing and all. */
static void
test_spm_minimal (void)
{
  Builder b = { g_byte_array_new (), 0 };
  const float scores[] = { 0, 0, 0, -1, -2, -3 };
  g_autoptr (GError) error = NULL;
  g_autoptr (TernTokenizer) tok = NULL;
  g_autoptr (GArray) out = NULL;

  add_string (&b, "tokenizer.ggml.model", "llama");
  add_strings (&b, "tokenizer.ggml.tokens",
               (const char *const[]) { "<unk>", "<s>", "</s>", "\xe2\x96\x81", "a", "\xe2\x96\x81" "a", NULL });
  add_f32s (&b, "tokenizer.ggml.scores", scores, 6);
  add_i32s (&b, "tokenizer.ggml.token_type", (const gint32[]) { 2, 3, 3, 1, 1, 1 }, 6);
  tok = build_tokenizer (&b, &error);
  g_assert_no_error (error);

  /* "▁a ▁a" then 'z' has no token and no byte token: <unk>. */
  out = encode (tok, "a az", -1, TERN_TOKENIZE_ADD_SPECIAL);
  assert_tokens (out, (const TernToken[]) { 1, 5, 5, 0 }, 4);
}

/* ---- Threads ---- */

typedef struct {
  const TernTokenizer *tok;
  const char *text;
  const GArray *want;
} ThreadJob;

static gpointer
encode_in_thread (gpointer data)
{
  const ThreadJob *job = data;

  for (guint round = 0; round < 20; round++) {
    g_autoptr (GArray) got = encode (job->tok, job->text, -1, TERN_TOKENIZE_ADD_SPECIAL);
    g_autofree char *back = decode (job->tok, got, FALSE);

    assert_tokens (got, (const TernToken *) job->want->data, job->want->len);
    g_assert_cmpstr (back, ==, job->text);
  }
  return NULL;
}

/* One tokenizer, used by several threads at once, as llama.cpp's test does. */
static void
test_threads (void)
{
  const char *names[] = { "llama-spm", "deepseek-llm" };

  for (gsize k = 0; k < G_N_ELEMENTS (names); k++) {
    g_autoptr (TernTokenizer) tok = load_vocab (names[k]);
    g_autofree char *base = g_strdup_printf ("ggml-vocab-%s.gguf.inp", names[k]);
    g_autofree char *path = g_test_build_filename (G_TEST_DIST, "data", "vocab", base, NULL);
    g_autofree char *text = NULL;
    g_autoptr (GError) error = NULL;
    g_autoptr (GArray) want = NULL;
    ThreadJob job;
    GThread *threads[4];

    g_assert_true (g_file_get_contents (path, &text, NULL, &error));
    g_assert_no_error (error);
    want = encode (tok, text, -1, TERN_TOKENIZE_ADD_SPECIAL);
    job = (ThreadJob) { tok, text, want };
    for (gsize i = 0; i < G_N_ELEMENTS (threads); i++)
      threads[i] = g_thread_new ("tokenize", encode_in_thread, &job);
    for (gsize i = 0; i < G_N_ELEMENTS (threads); i++)
      g_thread_join (threads[i]);
  }
}

int
main (int argc, char **argv)
{
  static const char *const vocabs[] = {
    "deepseek-coder", "deepseek-llm", "falcon", "gpt-2", "llama-spm",
    "mpt",            "phi-3",        "refact", "starcoder",
  };

  g_test_init (&argc, &argv, NULL);

  for (gsize i = 0; i < G_N_ELEMENTS (vocabs); i++) {
    g_autofree char *name = g_strdup_printf ("/engine/tokenizer/vocab/%s", vocabs[i]);
    g_autofree char *rt = g_strdup_printf ("/engine/tokenizer/random-roundtrip/%s", vocabs[i]);

    g_test_add_data_func (name, vocabs[i], test_vocab);
    g_test_add_data_func (rt, vocabs[i], test_random_roundtrip);
  }
  g_test_add_func ("/engine/tokenizer/kjv-tiny", test_kjv);
  g_test_add_func ("/engine/tokenizer/pre/llama-bpe", test_pre_llama3);
  g_test_add_func ("/engine/tokenizer/pre/qwen2", test_pre_qwen2);
  g_test_add_func ("/engine/tokenizer/pre/smollm", test_pre_smollm);
  g_test_add_func ("/engine/tokenizer/pre/unknown", test_pre_unknown);
  g_test_add_func ("/engine/tokenizer/detokenize/split-character", test_detok_split_char);
  g_test_add_func ("/engine/tokenizer/detokenize/leading-space", test_detok_leading_space);
  g_test_add_func ("/engine/tokenizer/invalid-utf8", test_invalid_utf8);
  g_test_add_func ("/engine/tokenizer/bpe/merges", test_bpe_merges);
  g_test_add_func ("/engine/tokenizer/bpe/ignore-merges", test_bpe_ignore_merges);
  g_test_add_func ("/engine/tokenizer/spm/minimal", test_spm_minimal);
  g_test_add_func ("/engine/tokenizer/unsupported", test_unsupported);
  g_test_add_func ("/engine/tokenizer/malformed", test_malformed);
  g_test_add_func ("/engine/tokenizer/threads", test_threads);
  return g_test_run ();
}
