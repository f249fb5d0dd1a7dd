/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "cli-run.h"
#include "test-data.h"

static char *
data_path (const char *dir, const char *file)
{
  return g_test_build_filename (G_TEST_DIST, "data", dir, file, NULL);
}

/* info works on every fixture model and vocabulary, in text and JSON. */
static void
test_info (void)
{
  const char *dirs[] = { "models", "vocab" };

  for (guint d = 0; d < G_N_ELEMENTS (dirs); d++)
    {
      g_autoptr (GPtrArray) files = test_data_list (dirs[d], ".gguf", FALSE);
      for (guint i = 0; i < files->len; i++)
        {
          g_autofree char *path = data_path (dirs[d], files->pdata[i]);
          g_auto (RunResult) text = { 0 };
          g_auto (RunResult) json = { 0 };
          g_autoptr (JsonParser) parser = json_parser_new ();
          g_autoptr (GError) error = NULL;

          run_cli (&text, "info", path, NULL);
          g_assert_cmpint (text.status, ==, 0);
          g_assert_nonnull (strstr (text.out, "architecture:"));
          run_cli (&json, "info", "--json", path, NULL);
          g_assert_cmpint (json.status, ==, 0);
          g_assert_true (json_parser_load_from_data (parser, json.out, -1, &error));
          JsonObject *o = json_node_get_object (json_parser_get_root (parser));
          JsonObject *tok = json_object_get_object_member (o, "tokenizer");
          g_assert_cmpint (json_object_get_int_member (tok, "n_vocab"), >, 0);
          if (d == 0)
            {
              g_assert_cmpstr (json_object_get_string_member (o, "architecture"), ==, "llama");
              g_assert_cmpint (json_object_get_int_member (o, "parameters"), >, 4000000);
              g_assert_cmpint (json_object_get_int_member (o, "context_length"), ==, 256);
              g_assert_true (json_object_get_boolean_member (o, "chat_template"));
            }
        }
    }
}

/* tokenize --cases reproduces llama.cpp's .out for every vocabulary. */
static void
test_tokenize_cases (void)
{
  g_autoptr (GPtrArray) files = test_data_list ("vocab", ".gguf", FALSE);

  for (guint i = 0; i < files->len; i++)
    {
      g_autofree char *path = data_path ("vocab", files->pdata[i]);
      g_autofree char *inp = g_strconcat (path, ".inp", NULL);
      g_autofree char *outp = g_strconcat (path, ".out", NULL);
      g_autofree char *expected = NULL;
      g_auto (RunResult) r = { 0 };

      g_assert_true (g_file_get_contents (outp, &expected, NULL, NULL));
      run_cli (&r, "tokenize", path, "--no-bos", "--file", inp, "--cases", NULL);
      g_test_message ("%s", (char *) files->pdata[i]);
      g_assert_cmpint (r.status, ==, 0);
      g_assert_cmpstr (r.out, ==, expected);
    }
}

static void
test_tokenize_detokenize (void)
{
  g_autofree char *model = data_path ("models", "kjv-tiny-f32.gguf");
  g_auto (RunResult) tok = { 0 };
  g_auto (RunResult) detok = { 0 };

  run_cli (&tok, "tokenize", model, "--text", "In the beginning God created the heaven", NULL);
  g_assert_cmpint (tok.status, ==, 0);
  g_assert_true (g_str_has_prefix (tok.out, "1 "));  /* BOS */
  g_auto (GStrv) ids = g_strsplit (g_strchomp (tok.out), " ", -1);
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_ptr_array_add (argv, (gpointer) g_getenv ("TERN_CLI"));
  g_ptr_array_add (argv, "detokenize");
  g_ptr_array_add (argv, model);
  for (guint i = 0; ids[i]; i++)
    g_ptr_array_add (argv, ids[i]);
  g_ptr_array_add (argv, NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (GSubprocess) p = g_subprocess_newv ((const char *const *) argv->pdata,
                                                 G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (p, NULL, NULL, &detok.out, NULL, &error);
  g_assert_cmpint (g_subprocess_get_exit_status (p), ==, 0);
  g_assert_cmpstr (detok.out, ==, "In the beginning God created the heaven");
}

static void
test_exit_status (void)
{
  g_autofree char *model = data_path ("models", "kjv-tiny-f32.gguf");
  g_autofree char *dir = g_dir_make_tmp ("tern-cli-XXXXXX", NULL);
  g_autofree char *bad = g_build_filename (dir, "bad.gguf", NULL);
  g_auto (RunResult) r1 = { 0 };
  g_auto (RunResult) r2 = { 0 };
  g_auto (RunResult) r3 = { 0 };
  g_auto (RunResult) r4 = { 0 };
  g_auto (RunResult) r5 = { 0 };
  g_auto (RunResult) r6 = { 0 };

  g_assert_true (g_file_set_contents (bad, "GGUF\3\0\0\0", 8, NULL));
  run_cli (&r1, "info", NULL);
  g_assert_cmpint (r1.status, ==, 1);
  run_cli (&r2, "no-such-command", NULL);
  g_assert_cmpint (r2.status, ==, 1);
  run_cli (&r3, "info", bad, NULL);
  g_assert_cmpint (r3.status, ==, 2);
  g_assert_nonnull (strstr (r3.err, "bad.gguf"));
  run_cli (&r4, "tokenize", model, NULL);
  g_assert_cmpint (r4.status, ==, 1);
  run_cli (&r5, "detokenize", model, "99999", NULL);
  g_assert_cmpint (r5.status, ==, 2);
  run_cli (&r6, "tokenize", "--help", NULL);
  g_assert_cmpint (r6.status, ==, 0);
  g_assert_nonnull (strstr (r6.out, "--cases"));
  g_remove (bad);
  g_rmdir (dir);
}

/* A number out of range names its option (once "perplexity --ctx -1" said
 * "expected MODEL and --file", "--threads 100000" the engine's error and
 * "--temp -1" nothing), with the usage status, before any model is
 * loaded. */
static void
test_numeric_options (void)
{
  g_autofree char *model = data_path ("models", "kjv-tiny-f32.gguf");
  g_autofree char *text = data_path ("text", "kjv_eval.txt");
  const struct {
    const char *args[8];
    const char *message;
  } cases[] = {
    { { "perplexity", model, "--file", text, "--ctx", "-1" }, "perplexity: --ctx takes a number >= 0, not -1" },
    { { "perplexity", model, "--file", text, "-t", "-2" },
      "perplexity: --threads takes a number from 0 (one per core) to 1024, not -2" },
    { { "generate", model, "-p", "x", "--ctx", "-5" }, "generate: --ctx takes a number >= 0, not -5" },
    { { "generate", model, "-p", "x", "-n", "-1" }, "generate: --n-predict takes a number >= 0, not -1" },
    { { "generate", model, "-p", "x", "--threads", "-1" },
      "generate: --threads takes a number from 0 (one per core) to 1024, not -1" },
    { { "generate", model, "-p", "x", "--threads", "100000" },
      "generate: --threads takes a number from 0 (one per core) to 1024, not 100000" },
    { { "generate", model, "-p", "x", "--temp", "-1" }, "generate: --temp takes a number >= 0 (0 is greedy), not -1" },
    { { "chat", model, "--temp", "nan" }, "chat: --temp takes a number >= 0 (0 is greedy), not nan" },
    { { "chat", model, "--ctx", "-1" }, "chat: --ctx takes a number >= 0, not -1" },
    { { "chat", model, "--conversation", "-3" }, "chat: --conversation takes a number >= 0, not -3" },
    { { "logits", model, "-f", text, "-o", "/dev/null", "-t", "-1" },
      "logits: --threads takes a number from 0 (one per core) to 1024, not -1" },
    { { "bench", model, "-p", "-1" }, "bench: --n-prompt takes a number >= 0, not -1" },
    { { "bench", model, "-n", "-1" }, "bench: --n-gen takes a number >= 0, not -1" },
    { { "bench", model, "-r", "0" }, "bench: --repetitions takes a number >= 1, not 0" },
    { { "bench", model, "-t", "-4" }, "bench: --threads takes a number from 0 (one per core) to 1024, not -4" },
    { { "make-model", "out.gguf", "--threads", "-1" },
      "make-model: --threads takes a number from 0 (one per core) to 1024, not -1" },
    { { "history", "list", "--limit", "-1" }, "history: --limit takes a number >= 0, not -1" },
    { { "history", "list", "--offset", "-7" }, "history: --offset takes a number >= 0, not -7" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_auto (RunResult) r = { 0 };
      g_autofree char *expected = g_strdup_printf ("tern-cli %s\n", cases[i].message);
      const char *const *a = cases[i].args;

      run_cli (&r, a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], NULL);
      g_assert_cmpint (r.status, ==, 1);
      g_assert_cmpstr (r.err, ==, expected);
      g_assert_cmpstr (r.out, ==, "");
    }
}

/* A database path that is no regular file is refused, and nothing is
 * made beside it (once "--db /dev/null" made /dev/null-journal). */
static void
test_db_not_a_file (void)
{
  g_auto (RunResult) r = { 0 };

  run_cli (&r, "history", "list", "--db", "/dev/null", NULL);
  g_assert_cmpint (r.status, ==, 2);
  g_assert_cmpstr (r.err, ==, "tern-cli: /dev/null is not a regular file: choose a database file, or a new file's name\n");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/cli/info", test_info);
  g_test_add_func ("/cli/tokenize/cases", test_tokenize_cases);
  g_test_add_func ("/cli/tokenize/detokenize", test_tokenize_detokenize);
  g_test_add_func ("/cli/exit-status", test_exit_status);
  g_test_add_func ("/cli/numeric-options", test_numeric_options);
  g_test_add_func ("/cli/db-not-a-file", test_db_not_a_file);
  return g_test_run ();
}
