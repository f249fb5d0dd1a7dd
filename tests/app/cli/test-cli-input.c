/* SPDX-License-Identifier: GPL-3.0-or-later */
/* tern-cli on input it must mend, refuse or stop reading: text with NUL
 * and bytes that are not UTF-8, JSON nested too deep, files that never
 * end (/dev/zero) or are too large. Each ends quickly with a message
 * naming the problem, and exit status 2. */
#include <glib/gstdio.h>
#include <string.h>

#include "cli-run.h"
#include "test-data.h"

/* Runs tern-cli with @args and @input (@len bytes, NUL bytes allowed) on
 * its standard input. */
static void
run_bytes (RunResult *r, const char *input, gsize len, const char *const *args)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) in = g_bytes_new (input, len);
  g_autoptr (GBytes) out = NULL, err = NULL;

  g_ptr_array_add (argv, (gpointer) g_getenv ("TERN_CLI"));
  for (guint i = 0; args[i]; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);
  g_autoptr (GSubprocess) p = g_subprocess_newv (
      (const char *const *) argv->pdata,
      G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE, &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_communicate (p, in, NULL, &out, &err, &error));
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_if_exited (p));
  r->status = g_subprocess_get_exit_status (p);
  r->out = g_strndup (g_bytes_get_data (out, NULL), g_bytes_get_size (out));
  r->err = g_strndup (g_bytes_get_data (err, NULL), g_bytes_get_size (err));
}

static char *
write_file (const char *dir, const char *name, const char *contents, gssize len)
{
  g_autoptr (GError) error = NULL;
  char *path = g_build_filename (dir, name, NULL);

  g_assert_true (g_file_set_contents (path, contents, len, &error));
  g_assert_no_error (error);
  return path;
}

/* A NUL typed into chat: the line is refused, said so, and the chat goes
 * on; nothing cut is stored. */
static void
test_chat_nul (void)
{
  g_autofree char *dir = g_dir_make_tmp ("tern-cli-input-XXXXXX", NULL);
  g_autofree char *db = g_build_filename (dir, "tern.db", NULL);
  g_autofree char *model = g_test_build_filename (G_TEST_DIST, "data", "models", "kjv-tiny-f32.gguf", NULL);
  static const char input[] = "secret\0tail\nhello\n";
  g_auto (RunResult) chat = { 0 }, show = { 0 };

  run_bytes (&chat, input, sizeof input - 1, (const char *[]) { "chat", model, "-n", "1", "--db", db, NULL });
  g_assert_cmpint (chat.status, ==, 0);
  g_assert_nonnull (strstr (chat.err, "the message holds a NUL character; it was not sent"));
  run_cli (&show, "history", "--db", db, "show", "1", NULL);
  g_assert_cmpint (show.status, ==, 0);
  g_assert_nonnull (strstr (show.out, "## User\n\nhello\n"));
  g_assert_null (strstr (show.out, "secret"));
  test_remove_tree (dir);
}

/* history import mends what the store cannot hold and says how much. */
static void
test_import_mended (void)
{
  g_autofree char *dir = g_dir_make_tmp ("tern-cli-input-XXXXXX", NULL);
  g_autofree char *db = g_build_filename (dir, "tern.db", NULL);
  static const char json[] =
      "{\"format\": \"tern-conversations\", \"version\": 1, \"conversations\": [{\"title\": \"\\ud800\", "
      "\"model\": null, \"system_prompt\": \"a\\u0000b\", \"sampling\": {\"temperature\": 0.5, \"top_k\": 40, "
      "\"top_p\": 0.9, \"min_p\": 0.05, \"repeat_penalty\": 1.1, \"repeat_last_n\": 64, \"frequency_penalty\": 0, "
      "\"presence_penalty\": 0, \"seed\": \"7\"}, \"created_us\": 1, \"updated_us\": 2, \"head\": null, "
      "\"messages\": []}]}";
  g_autofree char *path = write_file (dir, "in.json", json, -1);
  g_auto (RunResult) import = { 0 }, export = { 0 }, again = { 0 };

  run_cli (&import, "history", "--db", db, "import", path, NULL);
  g_assert_cmpint (import.status, ==, 0);
  g_assert_nonnull (strstr (import.err, "replaced 2 characters that are not valid Unicode text"));
  run_cli (&export, "history", "--db", db, "export", "--all", "--format", "json", NULL);
  g_assert_cmpint (export.status, ==, 0);
  g_assert_true (g_utf8_validate (export.out, -1, NULL));
  g_assert_nonnull (strstr (export.out, "\"title\" : \"\xef\xbf\xbd\""));
  g_autofree char *exported = write_file (dir, "out.json", export.out, -1);
  run_cli (&again, "history", "--db", db, "import", exported, NULL);
  g_assert_cmpint (again.status, ==, 0);
  g_assert_cmpstr (again.err, ==, "");
  test_remove_tree (dir);
}

/* 100,000 levels overflowed json-glib's stack, in an import and in a
 * messages file; a file that is no JSON had its first word quoted. */
static void
test_import_refused (void)
{
  g_autofree char *dir = g_dir_make_tmp ("tern-cli-input-XXXXXX", NULL);
  g_autofree char *db = g_build_filename (dir, "tern.db", NULL);
  g_autofree char *brackets = g_strnfill (100000, '[');
  g_autofree char *deep = write_file (dir, "deep.json", brackets, -1);
  g_autofree char *shadow = write_file (dir, "shadow", "root:$y$j9T$salt$hash:19000:0:99999:7:::\n", -1);
  g_auto (RunResult) r1 = { 0 }, r2 = { 0 };

  run_cli (&r1, "history", "--db", db, "import", deep, NULL);
  g_assert_cmpint (r1.status, ==, 2);
  g_assert_nonnull (strstr (r1.err, "nest deeper than 64 levels"));
  /* A messages file for tern-cli template, the same. */
  g_auto (RunResult) r3 = { 0 };
  run_cli (&r3, "template", "--template-file", deep, "--messages", deep, NULL);
  g_assert_cmpint (r3.status, ==, 2);
  g_assert_nonnull (strstr (r3.err, "nest deeper than 64 levels"));
  run_cli (&r2, "history", "--db", db, "import", shadow, NULL);
  g_assert_cmpint (r2.status, ==, 2);
  g_assert_nonnull (strstr (r2.err, "not valid JSON (line 1, column"));
  g_assert_null (strstr (r2.err, "root"));
  test_remove_tree (dir);
}

/* Every file tern-cli reads whole, given /dev/zero (no size, no end):
 * refused at its limit, quickly. generate -f /dev/zero read until 23 GB. */
static void
test_dev_zero (void)
{
  g_autofree char *dir = g_dir_make_tmp ("tern-cli-input-XXXXXX", NULL);
  g_autofree char *db = g_build_filename (dir, "tern.db", NULL);
  g_autofree char *out = g_build_filename (dir, "logits.f32", NULL);
  g_autofree char *model = g_test_build_filename (G_TEST_DIST, "data", "models", "kjv-tiny-f32.gguf", NULL);
  g_autofree char *messages = write_file (dir, "messages.json", "[{\"role\": \"user\", \"content\": \"hi\"}]", -1);
  const struct {
    const char *args[8];
    const char *limit;
  } cases[] = {
    { { "generate", model, "-f", "/dev/zero", NULL }, "64 MiB a text file" },
    { { "logits", model, "-f", "/dev/zero", "--out", out, NULL }, "64 MiB a text file" },
    { { "perplexity", model, "-f", "/dev/zero", NULL }, "64 MiB a text file" },
    { { "tokenize", model, "-f", "/dev/zero", NULL }, "64 MiB a text file" },
    { { "template", "--template-file", "/dev/zero", "--messages", messages, NULL }, "1 MiB a chat template" },
    { { "template", "--template-file", messages, "--messages", "/dev/zero", NULL }, "64 MiB a messages file" },
    { { "history", "--db", db, "import", "/dev/zero", NULL }, "64 MiB an import" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_auto (RunResult) r = { 0 };
      g_autofree char *want = g_strdup_printf ("/dev/zero is larger than the %s may be", cases[i].limit);
      gint64 start = g_get_monotonic_time ();

      run_bytes (&r, "", 0, cases[i].args);
      g_test_message ("%s: %.2f s", cases[i].args[0], (g_get_monotonic_time () - start) / 1e6);
      g_assert_cmpint (r.status, ==, 2);
      g_assert_nonnull (strstr (r.err, want));
    }
  test_remove_tree (dir);
}

/* A template file exactly at the limit is read; a byte more is refused
 * (from its size, unread). */
static void
test_template_limit (void)
{
  g_autofree char *dir = g_dir_make_tmp ("tern-cli-input-XXXXXX", NULL);
  g_autofree char *messages = write_file (dir, "messages.json", "[]", -1);
  g_autofree char *text = g_strnfill ((1 << 20) + 1, 'x');
  g_autofree char *over = write_file (dir, "over.jinja", text, -1);
  g_autofree char *at = write_file (dir, "at.jinja", text, 1 << 20);
  g_auto (RunResult) r1 = { 0 }, r2 = { 0 };

  run_cli (&r1, "template", "--template-file", at, "--messages", messages, NULL);
  g_assert_cmpint (r1.status, ==, 0);
  g_assert_cmpuint (strlen (r1.out), ==, 1 << 20);
  run_cli (&r2, "template", "--template-file", over, "--messages", messages, NULL);
  g_assert_cmpint (r2.status, ==, 2);
  g_assert_nonnull (strstr (r2.err, "over.jinja is larger than the 1 MiB a chat template may be"));
  test_remove_tree (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/cli/input/chat-nul", test_chat_nul);
  g_test_add_func ("/cli/input/import-mended", test_import_mended);
  g_test_add_func ("/cli/input/import-refused", test_import_refused);
  g_test_add_func ("/cli/input/dev-zero", test_dev_zero);
  g_test_add_func ("/cli/input/template-limit", test_template_limit);
  return g_test_run ();
}
