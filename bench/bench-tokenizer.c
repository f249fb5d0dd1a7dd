/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Tokenizer speed on every vocabulary of a folder (tests/data/vocab by
 * default): the time to build it from its GGUF file, and encoding and
 * decoding speed on 16 KiB of its llama.cpp test cases, in MB of text per
 * second. Best and median of repeated runs: the best shows the cost
 * itself, the median what a busy machine adds.
 * Usage: bench-tokenizer [VOCAB-FOLDER] */
#include <tern/gguf.h>
#include <tern/tokenizer.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TEXT_BYTES 16384

static int
compare_doubles (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return x < y ? -1 : x > y;
}

static int
compare_names (gconstpointer a, gconstpointer b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

typedef struct {
  double best, median; /* seconds per call */
} Timing;

/* Runs @fn for about half a second (at least 5 times) after one warm-up. */
static Timing
run (void (*fn) (gpointer), gpointer data)
{
  g_autoptr (GArray) times = g_array_new (FALSE, FALSE, sizeof (double));
  gint64 end = g_get_monotonic_time () + 500000;

  fn (data);
  while (g_get_monotonic_time () < end || times->len < 5)
    {
      gint64 start = g_get_monotonic_time ();
      fn (data);
      double s = (g_get_monotonic_time () - start) / 1e6;
      g_array_append_val (times, s);
    }
  qsort (times->data, times->len, sizeof (double), compare_doubles);
  return (Timing) { g_array_index (times, double, 0), g_array_index (times, double, times->len / 2) };
}

typedef struct {
  TernGguf *gguf;
  TernTokenizer *tok;
  GString *text;
  GArray *tokens;
} Bench;

static void
build_once (gpointer data)
{
  Bench *b = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (TernTokenizer) tok = tern_tokenizer_new (b->gguf, &error);

  if (tok == NULL)
    g_error ("%s", error->message);
}

static void
encode_once (gpointer data)
{
  Bench *b = data;
  g_autoptr (GError) error = NULL;

  g_array_set_size (b->tokens, 0);
  if (!tern_tokenizer_encode (b->tok, b->text->str, (gssize) b->text->len, TERN_TOKENIZE_NONE, b->tokens, &error))
    g_error ("%s", error->message);
}

static void
decode_once (gpointer data)
{
  Bench *b = data;
  g_autoptr (GString) out = g_string_new (NULL);
  g_autoptr (TernDetokenizer) detok = tern_detokenizer_new (b->tok, FALSE);
  g_autoptr (GError) error = NULL;

  for (guint i = 0; i < b->tokens->len; i++)
    if (!tern_detokenizer_push (detok, g_array_index (b->tokens, TernToken, i), out, &error))
      g_error ("%s", error->message);
  tern_detokenizer_flush (detok, out);
}

static void
bench_vocab (const char *dir, const char *file)
{
  g_autofree char *path = g_build_filename (dir, file, NULL);
  g_autofree char *inp_path = g_strconcat (path, ".inp", NULL);
  g_autofree char *inp = NULL;
  g_autoptr (GError) error = NULL;
  Bench b = { 0 };

  b.gguf = tern_gguf_open (path, &error);
  if (b.gguf == NULL)
    g_error ("%s", error->message);
  b.tok = tern_tokenizer_new (b.gguf, &error);
  if (b.tok == NULL)
    g_error ("%s", error->message);
  if (!g_file_get_contents (inp_path, &inp, NULL, &error))
    g_error ("%s", error->message);
  b.text = g_string_new (NULL);
  while (b.text->len < TEXT_BYTES)
    g_string_append (b.text, inp);
  b.tokens = g_array_new (FALSE, FALSE, sizeof (TernToken));

  Timing build = run (build_once, &b);
  Timing enc = run (encode_once, &b);
  Timing dec = run (decode_once, &b);
  double mb = b.text->len / 1e6;
  printf ("%-36s %7d %8.1f %8.1f %8.2f %8.2f %8.2f %8.2f\n", file, tern_tokenizer_n_vocab (b.tok),
          build.best * 1e3, build.median * 1e3, mb / enc.best, mb / enc.median, mb / dec.best, mb / dec.median);

  g_array_unref (b.tokens);
  g_string_free (b.text, TRUE);
  tern_tokenizer_free (b.tok);
  tern_gguf_free (b.gguf);
}

int
main (int argc, char *argv[])
{
  const char *dir = argc > 1 ? argv[1] : "tests/data/vocab";
  g_autoptr (GError) error = NULL;
  g_autoptr (GDir) d = g_dir_open (dir, 0, &error);
  g_autoptr (GPtrArray) files = g_ptr_array_new_with_free_func (g_free);
  const char *name;

  if (d == NULL)
    {
      fprintf (stderr, "bench-tokenizer: %s\n", error->message);
      return 1;
    }
  while ((name = g_dir_read_name (d)) != NULL)
    if (g_str_has_suffix (name, ".gguf"))
      g_ptr_array_add (files, g_strdup (name));
  g_ptr_array_sort (files, compare_names);

  printf ("%u KiB of each vocabulary's test cases; build in ms, encode and decode in MB/s (best, median)\n",
          TEXT_BYTES / 1024);
  printf ("%-36s %7s %8s %8s %8s %8s %8s %8s\n", "vocabulary", "tokens", "build", "(med)", "encode", "(med)",
          "decode", "(med)");
  for (guint i = 0; i < files->len; i++)
    bench_vocab (dir, files->pdata[i]);
  return 0;
}
