/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <tern/error.h>
#include <tern/gguf.h>
#include <tern/tokenizer.h>

#include "malformed-gguf.h"

static void
test_valid (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) bytes = malformed_gguf_valid ();
  g_autoptr (TernGguf) gguf = tern_gguf_open_bytes (bytes, "valid.gguf", &error);
  gint64 i;
  double f;

  g_assert_no_error (error);
  g_assert_cmpuint (tern_gguf_n_tensors (gguf), ==, 2);
  g_assert_true (tern_gguf_get_int (gguf, "test.i16", &i, &error));
  g_assert_cmpint (i, ==, 300);
  g_assert_true (tern_gguf_get_int (gguf, "test.i32", &i, &error));
  g_assert_cmpint (i, ==, -2);
  g_assert_true (tern_gguf_get_float (gguf, "test.f64", &f, &error));
  g_assert_cmpfloat (f, ==, 0.25);
}

static void
test_corpus (void)
{
  g_autoptr (GPtrArray) corpus = malformed_gguf_corpus ();

  for (guint i = 0; i < corpus->len; i++)
    {
      MalformedGguf *m = corpus->pdata[i];
      g_autoptr (GError) error = NULL;
      g_autofree char *name = g_strconcat (m->name, ".gguf", NULL);
      TernGguf *gguf = tern_gguf_open_bytes (m->bytes, name, &error);

      g_test_message ("%s: %s", m->name, error ? error->message : "(opened)");
      g_assert_null (gguf);
      g_assert_error (error, TERN_ENGINE_ERROR, m->error_code);
      /* Messages start with the file name and say something after it. */
      g_assert_true (g_str_has_prefix (error->message, name));
      g_assert_cmpuint (strlen (error->message), >, strlen (name) + 10);
    }
}

static void
test_truncated (void)
{
  g_autoptr (GBytes) valid = malformed_gguf_valid ();
  gsize size = g_bytes_get_size (valid);

  for (gsize len = 0; len < size; len++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (GBytes) cut = g_bytes_new_from_bytes (valid, 0, len);
      TernGguf *gguf = tern_gguf_open_bytes (cut, "cut.gguf", &error);
      if (gguf != NULL)
        g_error ("truncated at %" G_GSIZE_FORMAT " of %" G_GSIZE_FORMAT " bytes but opened", len, size);
      g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_FORMAT);
    }
}

/* Every byte of the header, metadata and tensor infos set to each of a few
 * values: the reader may accept or refuse, but never misbehaves (ASan and
 * UBSan builds check that). */
static void
test_corrupted_bytes (void)
{
  g_autoptr (GBytes) valid = malformed_gguf_valid ();
  g_autoptr (TernGguf) gguf = tern_gguf_open_bytes (valid, "valid.gguf", NULL);
  gsize head = tern_gguf_data_offset (gguf);
  static const guint8 values[] = { 0x00, 0x01, 0x7f, 0x80, 0xff };

  for (gsize pos = 0; pos < head; pos++)
    for (guint v = 0; v < G_N_ELEMENTS (values); v++)
      {
        g_autoptr (GByteArray) copy = g_byte_array_new ();
        g_byte_array_append (copy, g_bytes_get_data (valid, NULL), g_bytes_get_size (valid));
        copy->data[pos] = values[v];
        g_autoptr (GBytes) bytes = g_byte_array_free_to_bytes (g_steal_pointer (&copy));
        g_autoptr (GError) error = NULL;
        g_autoptr (TernGguf) g = tern_gguf_open_bytes (bytes, "x.gguf", &error);
        g_assert_true ((g == NULL) == (error != NULL));
      }
}

/* The fuzzing seeds are valid vocabularies that tokenize. */
static void
test_tokenizer_seeds (void)
{
  g_autoptr (GPtrArray) seeds = malformed_gguf_tokenizer_seeds ();

  for (guint i = 0; i < seeds->len; i++)
    {
      MalformedGguf *m = seeds->pdata[i];
      g_autoptr (GError) error = NULL;
      g_autoptr (TernGguf) gguf = tern_gguf_open_bytes (m->bytes, m->name, &error);
      g_assert_no_error (error);
      g_autoptr (TernTokenizer) tok = tern_tokenizer_new (gguf, &error);
      g_assert_no_error (error);
      g_autoptr (GArray) ids = g_array_new (FALSE, FALSE, sizeof (TernToken));
      g_autoptr (GString) text = g_string_new (NULL);
      g_assert_true (tern_tokenizer_encode (tok, "the hand in the sand", -1, TERN_TOKENIZE_NONE, ids, &error));
      g_assert_cmpuint (ids->len, >, 0);
      g_assert_true (tern_tokenizer_decode (tok, (TernToken *) ids->data, ids->len, FALSE, text, &error));
      g_assert_cmpstr (text->str, ==, "the hand in the sand");
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/engine/gguf-malformed/valid", test_valid);
  g_test_add_func ("/engine/gguf-malformed/corpus", test_corpus);
  g_test_add_func ("/engine/gguf-malformed/truncated", test_truncated);
  g_test_add_func ("/engine/gguf-malformed/corrupted-bytes", test_corrupted_bytes);
  g_test_add_func ("/engine/gguf-malformed/tokenizer-seeds", test_tokenizer_seeds);
  return g_test_run ();
}
