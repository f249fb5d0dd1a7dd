/* SPDX-License-Identifier: GPL-3.0-or-later */
/* tern-cli on a damaged model, on a model file cut short while in use,
 * and with too little memory for what it is asked: generate, chat and
 * perplexity exit 2 saying what is wrong, never print nothing (or "PPL =
 * nan") and exit 0, never die of a signal. */
#include <gio/gio.h>
#include <math.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "cli-run.h"
#include "model-variant.h"
#include "test-data.h"

static char *
data_path (const char *dir, const char *file)
{
  return g_test_build_filename (G_TEST_DIST, "data", dir, file, NULL);
}

/* Runs generate and perplexity on @model; both must exit 2 with @message
 * on stderr and no result on stdout. */
static void
assert_commands_fail (const char *model, const char *message)
{
  g_autofree char *text = data_path ("text", "kjv_eval.txt");
  g_auto (RunResult) gen = { 0 };
  g_auto (RunResult) ppl = { 0 };

  run_cli (&gen, "generate", model, "--prompt", "In the beginning", "-n", "8", "--temp", "0", "--threads", "2",
           NULL);
  g_assert_cmpint (gen.status, ==, 2);
  g_assert_nonnull (strstr (gen.err, message));
  g_assert_cmpstr (gen.out, ==, "");

  run_cli (&ppl, "perplexity", model, "--file", text, "--ctx", "64", "--threads", "2", NULL);
  g_assert_cmpint (ppl.status, ==, 2);
  g_assert_nonnull (strstr (ppl.err, message));
  g_assert_null (strstr (ppl.out, "PPL"));
}

/* Every value of a tensor NaN (the case): refused at load. */
static void
test_damaged_at_load (void)
{
  g_autofree char *dir = g_dir_make_tmp ("tern-cli-damage-XXXXXX", NULL);
  g_autofree char *src = data_path ("models", "kjv-tiny-f32.gguf");
  /* blk.1.attn_q.weight of the fixture: 256 × 256. */
  g_autofree char *model = model_variant_poke_f32 (dir, "nan.gguf", src, "blk.1.attn_q.weight", 0, 256 * 256, NAN);

  assert_commands_fail (model, "tensor blk.1.attn_q.weight holds NaN or infinite values: the model file is damaged");
  test_remove_tree (dir);
}

/* Finite weights that overflow in the forward pass: the load accepts
 * them, the first logits do not. */
static void
test_damaged_at_run_time (void)
{
  g_autofree char *dir = g_dir_make_tmp ("tern-cli-damage-XXXXXX", NULL);
  g_autofree char *src = data_path ("models", "kjv-tiny-f32.gguf");
  g_autofree char *model = model_variant_poke_f32 (dir, "huge.gguf", src, "output_norm.weight", 0, 256, 3e38f);

  assert_commands_fail (model, "the model computed a non-finite value (NaN or infinity)");
  test_remove_tree (dir);
}

/* The same in a quantized model, whose activations are quantized before
 * each matrix product: an infinite activation aborted the quantizer's
 * rounding (found by fuzz-snapshot, through a restored cache). */
static void
test_damaged_quantized (void)
{
  g_autofree char *dir = g_dir_make_tmp ("tern-cli-damage-XXXXXX", NULL);
  g_autofree char *src = data_path ("models", "kjv-tiny-q4_k_m.gguf");
  g_autofree char *model = model_variant_poke_f32 (dir, "huge.gguf", src, "blk.0.attn_norm.weight", 0, 256, 3e38f);

  assert_commands_fail (model, "the model computed a non-finite value (NaN or infinity)");
  test_remove_tree (dir);
}

#define CHANGED "tern-cli: the model file model.gguf changed on disk while in use (it shrank, or could not be read); " \
                "load it again\n"

/* A copy of the f32 fixture at @dir/model.gguf, which the test cuts short. */
static char *
copy_model (const char *dir)
{
  g_autofree char *src = data_path ("models", "kjv-tiny-f32.gguf");
  g_autofree char *contents = NULL;
  char *dest = g_build_filename (dir, "model.gguf", NULL);
  gsize len;

  g_assert_true (g_file_get_contents (src, &contents, &len, NULL));
  g_assert_true (g_file_set_contents (dest, contents, len, NULL));
  return dest;
}

static void
halve (const char *path)
{
  GStatBuf st;

  g_assert_cmpint (g_stat (path, &st), ==, 0);
  g_assert_cmpint (truncate (path, st.st_size / 2), ==, 0);
}

/* Whether process @pid has @path mapped. */
static gboolean
maps_file (GPid pid, const char *path)
{
  g_autofree char *maps_path = g_strdup_printf ("/proc/%d/maps", (int) pid);
  g_autofree char *maps = NULL;

  return g_file_get_contents (maps_path, &maps, NULL, NULL) && strstr (maps, path) != NULL;
}

/* The reproduction: the model file cut to half while generate
 * runs (as soon as it has mapped it: loading, or generating 3000 tokens,
 * which take seconds). A clear error, not SIGBUS. */
static void
test_shrink_generate (void)
{
  g_autofree char *dir = g_dir_make_tmp ("tern-cli-shrink-XXXXXX", NULL);
  g_autofree char *model = copy_model (dir);
  g_autoptr (GError) error = NULL;
  g_autofree char *out = NULL, *err = NULL;
  g_autoptr (GSubprocess) p = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE, &error,
                                                g_getenv ("TERN_CLI"), "generate", model, "--prompt", "In the beginning",
                                                "-n", "3000", "--temp", "0", "--threads", "2", NULL);
  g_assert_no_error (error);
  GPid pid = atoi (g_subprocess_get_identifier (p));
  gint64 deadline = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;

  while (!maps_file (pid, model))
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (1000);
    }
  halve (model);
  g_subprocess_communicate_utf8 (p, NULL, NULL, &out, &err, &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_if_exited (p));
  g_assert_cmpint (g_subprocess_get_exit_status (p), ==, 2);
  g_assert_true (g_str_has_suffix (err, CHANGED));
  test_remove_tree (dir);
}

/* chat --db: the file cut to half between two messages. The second gets
 * the error, not SIGBUS; the library then says the file changed (tern-cli
 * models). */
static void
test_shrink_chat (void)
{
  g_autofree char *dir = g_dir_make_tmp ("tern-cli-shrink-XXXXXX", NULL);
  g_autofree char *model = copy_model (dir);
  g_autofree char *db = g_build_filename (dir, "tern.db", NULL);
  g_autoptr (GError) error = NULL;
  g_autofree char *out = NULL, *err = NULL;
  g_autoptr (GSubprocess) p = g_subprocess_new (G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                                G_SUBPROCESS_FLAGS_STDERR_PIPE, &error,
                                                g_getenv ("TERN_CLI"), "chat", model, "--db", db, "-n", "8", "--temp",
                                                "0", "--threads", "2", NULL);
  g_assert_no_error (error);
  g_autoptr (GDataInputStream) replies = g_data_input_stream_new (g_subprocess_get_stdout_pipe (p));
  GOutputStream *input = g_subprocess_get_stdin_pipe (p);

  /* A reply ends with a blank line. */
  g_assert_true (g_output_stream_write_all (input, "In the beginning\n", 17, NULL, NULL, &error));
  for (;;)
    {
      g_autofree char *line = g_data_input_stream_read_line_utf8 (replies, NULL, NULL, &error);
      g_assert_no_error (error);
      g_assert_nonnull (line);
      if (line[0] == '\0')
        break;
    }
  halve (model);
  g_assert_true (g_output_stream_write_all (input, "And God said\n", 13, NULL, NULL, &error));
  g_subprocess_communicate_utf8 (p, NULL, NULL, &out, &err, &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_if_exited (p));
  g_assert_cmpint (g_subprocess_get_exit_status (p), ==, 2);
  g_assert_true (g_str_has_suffix (err, CHANGED));

  g_auto (RunResult) models = { 0 };
  run_cli (&models, "models", "--db", db, NULL);
  g_autofree char *expected = g_strdup_printf ("1\tchanged\tkjv-tiny\t%s\n", model);
  g_assert_cmpint (models.status, ==, 0);
  g_assert_cmpstr (models.out, ==, expected);
  test_remove_tree (dir);
}

/* The address-space limit of the runs below, as `ulimit -v 300M` sets it. */
#define MEMORY_LIMIT (300u << 20)

static void
limit_memory (gpointer user_data)
{
  struct rlimit limit = { MEMORY_LIMIT, MEMORY_LIMIT };

  setrlimit (RLIMIT_AS, &limit);
}

/* Runs tern-cli with the arguments of @args (NULL-terminated) under
 * MEMORY_LIMIT; FALSE when it died of a signal. */
static gboolean
spawn_limited (RunResult *r, va_list args)
{
  g_autoptr (GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                                                        G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_autoptr (GError) error = NULL;
  const char *arg;

  g_ptr_array_add (argv, (gpointer) g_getenv ("TERN_CLI"));
  while ((arg = va_arg (args, const char *)))
    g_ptr_array_add (argv, (gpointer) arg);
  g_ptr_array_add (argv, NULL);

  g_subprocess_launcher_set_child_setup (launcher, limit_memory, NULL, NULL);
  g_autoptr (GSubprocess) p = g_subprocess_launcher_spawnv (launcher, (const char *const *) argv->pdata, &error);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (p, NULL, NULL, &r->out, &r->err, &error);
  g_assert_no_error (error);
  if (!g_subprocess_get_if_exited (p))
    {
      r->status = -g_subprocess_get_term_sig (p);
      return FALSE;
    }
  r->status = g_subprocess_get_exit_status (p);
  return TRUE;
}

/* The same with the arguments after @r; fails the test when tern-cli dies
 * of a signal. */
static void
run_limited (RunResult *r, ...)
{
  va_list args;
  gboolean exited;

  va_start (args, r);
  exited = spawn_limited (r, args);
  va_end (args);
  if (!exited)
    g_error ("tern-cli died of signal %d: %s", -r->status, r->err);
}

static gboolean
probe_limited (RunResult *r, ...)
{
  va_list args;
  gboolean exited;

  va_start (args, r);
  exited = spawn_limited (r, args);
  va_end (args);
  return exited && r->status == 0;
}

/* FALSE (the test skipped) where tern-cli cannot start under the limit at
 * all: under ASan, whose shadow memory needs far more address space. */
static gboolean
can_run_limited (void)
{
  g_auto (RunResult) r = { 0 };

  if (!probe_limited (&r, "devices", NULL))
    {
      g_test_skip ("tern-cli cannot start with 300 MiB of address space (a sanitizer build?)");
      return FALSE;
    }
  return TRUE;
}

static void
assert_no_memory (const RunResult *r, const char *n_ctx)
{
  g_autofree char *expected = g_strdup_printf ("tern-cli: not enough memory for a context of %s tokens (needs ",
                                               n_ctx);

  g_assert_cmpint (r->status, ==, 2);
  g_assert_nonnull (strstr (r->err, expected));
  g_assert_nonnull (strstr (r->err, "): choose a smaller context"));
}

/* The cases: a context whose cache fits in 300 MiB but not with
 * everything else (the compute threads were the first to abort), and a
 * perplexity chunk whose buffers do not fit. */
static void
test_no_memory (void)
{
  g_autofree char *model = data_path ("models", "kjv-tiny-q4_k_m.gguf");
  g_autofree char *text = data_path ("text", "kjv_eval.txt");

  if (!can_run_limited ())
    return;

  g_auto (RunResult) gen = { 0 };
  run_limited (&gen, "generate", model, "--ctx", "280000", "--prompt", "In the beginning", "-n", "4", NULL);
  assert_no_memory (&gen, "280000");

  g_auto (RunResult) ppl = { 0 };
  run_limited (&ppl, "perplexity", model, "--ctx", "100000", "--file", text, NULL);
  assert_no_memory (&ppl, "100000");
  g_assert_null (strstr (ppl.out, "PPL"));
}

/* A small context on more threads than the limit has room for stacks
 * (512 threads of 2 MiB at least): the threads are what fails, and the
 * message says to use fewer. */
static void
test_no_memory_threads (void)
{
  g_autofree char *model = data_path ("models", "kjv-tiny-q4_k_m.gguf");

  if (!can_run_limited ())
    return;

  g_auto (RunResult) r = { 0 };
  run_limited (&r, "generate", model, "--ctx", "256", "--threads", "512", "--prompt", "In", "-n", "1", NULL);
  assert_no_memory (&r, "256");
  g_assert_nonnull (strstr (r.err, "choose a smaller context or fewer threads"));
}

/* A block count far beyond the file's tensors is refused before anything
 * is sized by it (the table of 16 million layers' weights alone was more
 * than the limit). */
static void
test_block_count (void)
{
  g_autofree char *dir = g_dir_make_tmp ("tern-cli-damage-XXXXXX", NULL);
  g_autofree char *src = data_path ("models", "kjv-tiny-q4_k_m.gguf");
  g_autofree char *model = model_variant_write (dir, src, NULL, NULL, 1 << 24);

  if (can_run_limited ())
    {
      g_auto (RunResult) r = { 0 };
      run_limited (&r, "generate", model, "--prompt", "In", "-n", "1", NULL);
      g_assert_cmpint (r.status, ==, 2);
      g_assert_nonnull (strstr (r.err, "16777216 layers do not fit in the file's 39 tensors"));
    }
  test_remove_tree (dir);
}

/* Contexts from well within the limit to past it, with more threads than
 * cores: each either runs or fails with the message, whichever allocation
 * is the one that fails. */
static void
test_no_memory_sweep (void)
{
  g_autofree char *model = data_path ("models", "kjv-tiny-q4_k_m.gguf");
  /* More than the physical cores, which the logical ones count at least. */
  g_autofree char *threads_arg = g_strdup_printf ("%u", g_get_num_processors () + 1);
  gboolean ran = FALSE, refused = FALSE;

  if (!can_run_limited ())
    return;
  for (int n_ctx = 100000; n_ctx <= 340000; n_ctx += 10000)
    {
      g_autofree char *ctx_arg = g_strdup_printf ("%d", n_ctx);
      g_auto (RunResult) r = { 0 };

      run_limited (&r, "generate", model, "--ctx", ctx_arg, "--threads", threads_arg, "--prompt", "In", "-n", "1", NULL);
      g_test_message ("--ctx %d: exit %d", n_ctx, r.status);
      if (r.status == 0)
        ran = TRUE;
      else
        {
          assert_no_memory (&r, ctx_arg);
          g_assert_nonnull (strstr (r.err, "choose a smaller context or fewer threads"));
          refused = TRUE;
        }
    }
  g_assert_true (ran && refused);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/cli/damaged/at-load", test_damaged_at_load);
  g_test_add_func ("/cli/damaged/at-run-time", test_damaged_at_run_time);
  g_test_add_func ("/cli/damaged/quantized", test_damaged_quantized);
  g_test_add_func ("/cli/shrink/generate", test_shrink_generate);
  g_test_add_func ("/cli/shrink/chat", test_shrink_chat);
  g_test_add_func ("/cli/no-memory/issue", test_no_memory);
  g_test_add_func ("/cli/no-memory/sweep", test_no_memory_sweep);
  g_test_add_func ("/cli/no-memory/threads", test_no_memory_threads);
  g_test_add_func ("/cli/no-memory/block-count", test_block_count);
  return g_test_run ();
}
