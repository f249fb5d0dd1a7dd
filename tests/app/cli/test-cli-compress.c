/* SPDX-License-Identifier: GPL-3.0-or-later */
/* tern-cli compress as scripts drive it: usage errors exit 1, bad input
 * exits 2 and leaves no file, absmax writes llama-quantize's file, the
 * JSON report describes the file written, the result runs, and a size
 * target is kept. */
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

static char *
make_tmp_dir (void)
{
  g_autoptr (GError) error = NULL;
  char *dir = g_dir_make_tmp ("tern-cli-compress-XXXXXX", &error);

  g_assert_no_error (error);
  return dir;
}

/* Each bad command line exits 1 with its message and writes nothing. */
static void
test_usage (void)
{
  g_autofree char *model = data_path ("models", "kjv-tiny-f32.gguf");
  g_autofree char *dir = make_tmp_dir ();
  g_autofree char *out = g_build_filename (dir, "out.gguf", NULL);
  const struct {
    const char *args[6];
    const char *message;
  } cases[] = {
    { { "compress", model }, "expected IN.gguf and OUT.gguf" },
    { { "compress", model, out, "--type", "q4_k" }, "--type: 'q4_k' is not tq2_0 or tq1_0" },
    { { "compress", model, out, "--method", "gptq" }, "--method: 'gptq' is not absmax, absmean, twn or calibrated" },
    { { "compress", model, out, "--threads", "-1" }, "--threads takes a number" },
    { { "compress", model, out, "--bogus" }, "Unknown option --bogus" },
    { { "compress", model, out, "--no-eval", "--eval-text", model }, "--eval-text and --no-eval exclude each other" },
    { { "compress", model, out, "--max-size", "big" }, "--max-size: 'big' is not a size" },
    { { "compress", model, out, "--max-size", "0" }, "--max-size: '0' is not a size" },
    { { "compress", model, out, "--max-size", "1.5" }, "--max-size: '1.5' is not a size" },
    { { "compress", model, out, "--max-size", "120%" }, "--max-size: '120%' is not a size" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_auto (RunResult) r = { 0 };

      run_cli (&r, cases[i].args[0], cases[i].args[1], cases[i].args[2], cases[i].args[3], cases[i].args[4],
               cases[i].args[5], NULL);
      g_assert_cmpint (r.status, ==, 1);
      g_assert_nonnull (strstr (r.err, cases[i].message));
      g_assert_false (g_file_test (out, G_FILE_TEST_EXISTS));
    }
  g_assert_cmpint (g_rmdir (dir), ==, 0);
}

/* A file that is not a model, a missing file, and the input as the output:
 * exit 2, a message naming the file, no output. */
static void
test_bad_input (void)
{
  g_autofree char *dir = make_tmp_dir ();
  g_autofree char *text = g_build_filename (dir, "page.gguf", NULL);
  g_autofree char *missing = g_build_filename (dir, "missing.gguf", NULL);
  g_autofree char *out = g_build_filename (dir, "out.gguf", NULL);
  g_auto (RunResult) bad = { 0 };
  g_auto (RunResult) gone = { 0 };
  g_auto (RunResult) same = { 0 };

  g_assert_true (g_file_set_contents (text, "<!DOCTYPE html>\n", -1, NULL));
  run_cli (&bad, "compress", text, out, NULL);
  g_assert_cmpint (bad.status, ==, 2);
  g_assert_nonnull (strstr (bad.err, "page.gguf"));
  run_cli (&gone, "compress", missing, out, NULL);
  g_assert_cmpint (gone.status, ==, 2);
  g_assert_nonnull (strstr (gone.err, "the file is gone"));
  run_cli (&same, "compress", text, text, NULL);
  g_assert_cmpint (same.status, ==, 2);
  g_assert_nonnull (strstr (same.err, "is the model being compressed"));
  g_assert_false (g_file_test (out, G_FILE_TEST_EXISTS));
  g_unlink (text);
  g_assert_cmpint (g_rmdir (dir), ==, 0);
}

/* --method absmax --type tq1_0 writes llama-quantize's TQ1_0 file. */
static void
test_absmax_file (void)
{
  g_autofree char *model = data_path ("models", "kjv-tiny-f32.gguf");
  g_autofree char *ref = data_path ("models", "kjv-tiny-tq1_0.gguf");
  g_autofree char *dir = make_tmp_dir ();
  g_autofree char *out = g_build_filename (dir, "out.gguf", NULL);
  g_autofree char *a = NULL, *b = NULL;
  gsize la, lb;
  g_auto (RunResult) r = { 0 };

  run_cli (&r, "compress", model, out, "--method", "absmax", "--type", "tq1_0", "-t", "2", "--no-eval", NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_nonnull (strstr (r.err, "compressing: 100%"));
  g_assert_true (g_file_get_contents (out, &a, &la, NULL));
  g_assert_true (g_file_get_contents (ref, &b, &lb, NULL));
  g_assert_cmpuint (la, ==, lb);
  g_assert_true (memcmp (a, b, la) == 0);
  g_unlink (out);
  g_assert_cmpint (g_rmdir (dir), ==, 0);
}

/* The default (TWN, TQ2_0) with --report: the JSON names the method and
 * type and gives the sizes of the files, a tensor per tensor of the model,
 * and the quality measured on the bundled held-out text with its verdict;
 * the summary says the same; the model runs with a perplexity far below
 * absmax's 513. */
static void
test_report_and_run (void)
{
  g_autofree char *model = data_path ("models", "kjv-tiny-f32.gguf");
  g_autofree char *text = data_path ("text", "kjv_eval.txt");
  g_autofree char *dir = make_tmp_dir ();
  g_autofree char *out = g_build_filename (dir, "out.gguf", NULL);
  g_autofree char *json_path = g_build_filename (dir, "report.json", NULL);
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;
  g_auto (RunResult) r = { 0 };
  g_auto (RunResult) ppl = { 0 };
  JsonObject *o, *q;
  GStatBuf st;
  const char *line;

  run_cli (&r, "compress", model, out, "--report", json_path, NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_nonnull (strstr (r.out, "(tq2_0, twn)"));
  g_assert_true (json_parser_load_from_file (parser, json_path, &error));
  g_assert_no_error (error);
  o = json_node_get_object (json_parser_get_root (parser));
  g_assert_cmpstr (json_object_get_string_member (o, "method"), ==, "twn");
  g_assert_cmpstr (json_object_get_string_member (o, "type"), ==, "tq2_0");
  g_assert_cmpint (g_stat (out, &st), ==, 0);
  g_assert_cmpint (json_object_get_int_member (o, "output_bytes"), ==, st.st_size);
  g_assert_cmpint (g_stat (model, &st), ==, 0);
  g_assert_cmpint (json_object_get_int_member (o, "input_bytes"), ==, st.st_size);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (o, "tensors")), ==, 39);
  g_assert_cmpfloat (json_object_get_double_member (o, "sparsity"), >, 0.2);
  g_assert_cmpfloat (json_object_get_double_member (o, "sparsity"), <, 0.8);
  q = json_object_get_object_member (o, "quality");
  g_assert_nonnull (q);
  g_assert_cmpstr (json_object_get_string_member (q, "verdict"), ==, "degraded");
  g_assert_cmpfloat (json_object_get_double_member (q, "perplexity_after"), >,
                     json_object_get_double_member (q, "perplexity_before"));
  g_assert_nonnull (strstr (r.out, "verdict:         degraded: perplexity"));

  run_cli (&ppl, "perplexity", "-c", "128", "-t", "2", "-f", text, out, NULL);
  g_assert_cmpint (ppl.status, ==, 0);
  line = strstr (ppl.out, "PPL = ");
  g_assert_nonnull (line);
  g_assert_cmpfloat (g_ascii_strtod (line + 6, NULL), <, 53.0);
  g_unlink (out);
  g_unlink (json_path);
  g_assert_cmpint (g_rmdir (dir), ==, 0);
}

/* --max-size as a percentage of the input: the file keeps to it, the
 * summary and the report name the target and the matrices kept better;
 * a target below the smallest file exits 2 with that size, and no file. */
static void
test_max_size (void)
{
  g_autofree char *model = data_path ("models", "kjv-tiny-f32.gguf");
  g_autofree char *dir = make_tmp_dir ();
  g_autofree char *out = g_build_filename (dir, "out.gguf", NULL);
  g_autofree char *json_path = g_build_filename (dir, "report.json", NULL);
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;
  g_auto (RunResult) r = { 0 };
  g_auto (RunResult) small = { 0 };
  GStatBuf in, st;
  guint64 target;

  g_assert_cmpint (g_stat (model, &in), ==, 0);
  target = (guint64) ((double) in.st_size * 9.6 / 100.0);
  run_cli (&r, "compress", model, out, "--type", "tq1_0", "--max-size", "9.6%", "--no-eval", "--report", json_path,
           NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_cmpint (g_stat (out, &st), ==, 0);
  g_assert_cmpuint ((guint64) st.st_size, <=, target);
  g_assert_true (json_parser_load_from_file (parser, json_path, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (json_object_get_int_member (json_node_get_object (json_parser_get_root (parser)), "max_bytes"), ==,
                    target);
  g_assert_nonnull (strstr (r.out, "size target:"));
  g_assert_nonnull (strstr (r.out, "kept better: blk."));
  g_unlink (out);
  g_unlink (json_path);

  run_cli (&small, "compress", model, out, "--max-size", "1000000", "--no-eval", NULL);
  g_assert_cmpint (small.status, ==, 2);
  g_assert_nonnull (strstr (small.err, "at the least"));
  g_assert_false (g_file_test (out, G_FILE_TEST_EXISTS));
  g_assert_cmpint (g_rmdir (dir), ==, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/cli/compress/usage", test_usage);
  g_test_add_func ("/cli/compress/bad-input", test_bad_input);
  g_test_add_func ("/cli/compress/absmax-file", test_absmax_file);
  g_test_add_func ("/cli/compress/report-and-run", test_report_and_run);
  g_test_add_func ("/cli/compress/max-size", test_max_size);
  return g_test_run ();
}
