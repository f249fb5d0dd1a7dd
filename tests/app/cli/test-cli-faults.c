/* SPDX-License-Identifier: GPL-3.0-or-later */
/* tern-cli on a damaged model: generate and perplexity exit 2 saying the
 * model is damaged, never print nothing (or "PPL = nan") and exit 0. */
#include <gio/gio.h>
#include <math.h>
#include <string.h>

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

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/cli/damaged/at-load", test_damaged_at_load);
  g_test_add_func ("/cli/damaged/at-run-time", test_damaged_at_run_time);
  return g_test_run ();
}
