/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "compress-test.h"

#include <glib/gstdio.h>
#include <tern/context.h>
#include <tern/model.h>
#include <tern/perplexity.h>

char *
compress_test_model_path (const char *name)
{
  g_autofree char *file = g_strconcat (name, ".gguf", NULL);

  return g_test_build_filename (G_TEST_DIST, "data", "models", file, NULL);
}

char *
compress_test_make_dir (void)
{
  g_autoptr (GError) error = NULL;
  char *dir = g_dir_make_tmp ("tern-compress-XXXXXX", &error);

  g_assert_no_error (error);
  return dir;
}

void
compress_test_assert_empty_and_remove (const char *dir)
{
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);

  g_assert_nonnull (d);
  g_assert_null (g_dir_read_name (d));
  g_assert_cmpint (g_rmdir (dir), ==, 0);
}

double
compress_test_perplexity (const char *path)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *text_path = g_test_build_filename (G_TEST_DIST, "data", "text", "kjv_eval.txt", NULL);
  g_autofree char *text = NULL;
  g_autoptr (TernModel) model = tern_model_load (path, NULL, NULL, NULL, &error);
  TernContextParams cp;
  g_autoptr (TernContext) ctx = NULL;
  double ppl = 0.0;

  g_assert_no_error (error);
  g_assert_true (g_file_get_contents (text_path, &text, NULL, NULL));
  tern_context_params_init (&cp);
  cp.n_ctx = 128;
  cp.n_threads = 2;
  ctx = tern_context_new (model, &cp, &error);
  g_assert_no_error (error);
  g_assert_true (tern_perplexity_eval_text (ctx, text, -1, 128, NULL, NULL, NULL, &ppl, NULL, &error));
  g_assert_no_error (error);
  return ppl;
}

char *
compress_test_calibration_text (void)
{
  g_autofree char *path = g_test_build_filename (G_TEST_DIST, "data", "text", "kjv_calibration.txt", NULL);
  char *text = NULL;

  g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
  return text;
}
