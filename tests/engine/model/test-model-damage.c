/* SPDX-License-Identifier: GPL-3.0-or-later */
/* A model whose weights hold NaN or infinity is reported as damaged, never
 * run into silent garbage: refused at load where the sample of each
 * tensor's rows sees the damage, and at the first logits it spoils where
 * the sample cannot (an unsampled row, finite weights that overflow). The
 * damaged models are fixtures with a few bytes written over
 * (tests/tools/model-variant.h). */
#include <math.h>
#include <string.h>
#include <tern/context.h>
#include <tern/error.h>
#include <tern/perplexity.h>

#include "model-variant.h"
#include "test-data.h"

#define F32_MODEL "kjv-tiny-f32.gguf"
#define Q8_0_MODEL "kjv-tiny-q8_0.gguf"

static char *
fixture (const char *name)
{
  return g_test_build_filename (G_TEST_DIST, "data", "models", name, NULL);
}

/* The row length and row count of tensor @name of fixture @model. */
static void
tensor_shape (const char *model, const char *name, gint64 *row_len, gint64 *n_rows, gsize *n_bytes)
{
  g_autofree char *path = fixture (model);
  g_autoptr (GError) error = NULL;
  g_autoptr (TernGguf) gguf = tern_gguf_open (path, &error);

  g_assert_no_error (error);
  const TernGgufTensor *t = tern_gguf_find_tensor (gguf, name);
  g_assert_nonnull (t);
  *row_len = t->ne[0];
  *n_rows = tern_gguf_tensor_n_elems (t) / t->ne[0];
  *n_bytes = t->n_bytes;
}

static void
assert_refused (const char *path, const char *tensor)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (TernModel) model = tern_model_load (path, NULL, NULL, NULL, &error);
  g_autofree char *expected = g_strdup_printf ("tensor %s holds NaN or infinite values: the model file is damaged",
                                               tensor);

  g_assert_null (model);
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_FORMAT);
  g_assert_nonnull (strstr (error->message, expected));
}

/* Damage where the sample looks: the first and the last row, the last
 * element of a row (past the first piece dequantized), a one-row norm. */
static void
test_sampled_f32 (void)
{
  g_autofree char *dir = g_dir_make_tmp ("tern-damage-XXXXXX", NULL);
  g_autofree char *src = fixture (F32_MODEL);
  const struct {
    const char *tensor;
    gboolean last_row; /* else the first */
    gboolean last_element; /* of the row, else its first */
    float value;
  } cases[] = {
    { "blk.1.attn_q.weight", FALSE, FALSE, NAN },
    { "token_embd.weight", TRUE, FALSE, INFINITY },
    { "blk.0.ffn_down.weight", TRUE, TRUE, NAN },
    { "output.weight", FALSE, TRUE, -INFINITY },
    { "output_norm.weight", FALSE, TRUE, INFINITY },
    { "blk.1.ffn_norm.weight", FALSE, FALSE, NAN },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      gint64 row_len, n_rows;
      gsize n_bytes;
      tensor_shape (F32_MODEL, cases[i].tensor, &row_len, &n_rows, &n_bytes);
      gint64 element = (cases[i].last_row ? (n_rows - 1) * row_len : 0) + (cases[i].last_element ? row_len - 1 : 0);
      g_autofree char *path = model_variant_poke_f32 (dir, "damaged.gguf", src, cases[i].tensor, element, 1,
                                                      cases[i].value);
      g_test_message ("%s element %" G_GINT64_FORMAT ": %g", cases[i].tensor, element, cases[i].value);
      assert_refused (path, cases[i].tensor);
    }
  test_remove_tree (dir);
}

/* A quantized tensor: an infinite scale spoils its whole block. */
static void
test_sampled_q8_0 (void)
{
  g_autofree char *dir = g_dir_make_tmp ("tern-damage-XXXXXX", NULL);
  g_autofree char *src = fixture (Q8_0_MODEL);
  const char *tensor = "blk.0.ffn_down.weight";
  gint64 row_len, n_rows;
  gsize n_bytes;
  /* A Q8_0 block: its f16 scale, then 32 signed bytes. */
  const guint16 inf_f16 = 0x7c00;

  tensor_shape (Q8_0_MODEL, tensor, &row_len, &n_rows, &n_bytes);
  g_autofree char *path = model_variant_poke (dir, "damaged.gguf", src, tensor, n_bytes - 34, &inf_f16, 2);
  assert_refused (path, tensor);
  test_remove_tree (dir);
}

static TernContext *
new_context (TernModel *model)
{
  TernContextParams params;
  g_autoptr (GError) error = NULL;

  tern_context_params_init (&params);
  params.n_ctx = 64;
  params.n_threads = 2;
  TernContext *ctx = tern_context_new (model, &params, &error);
  g_assert_no_error (error);
  return ctx;
}

static TernModel *
load (const char *path)
{
  g_autoptr (GError) error = NULL;
  TernModel *model = tern_model_load (path, NULL, NULL, NULL, &error);

  g_assert_no_error (error);
  return model;
}

/* A NaN in a row of the embeddings the sample skips (row 5 of 2048) loads,
 * and spoils the logits from the first position that reads it on: the
 * decode names that token, whichever of the kept rows it is. */
static void
test_unsampled_row (void)
{
  g_autofree char *dir = g_dir_make_tmp ("tern-damage-XXXXXX", NULL);
  g_autofree char *src = fixture (F32_MODEL);
  gint64 row_len, n_rows;
  gsize n_bytes;
  const TernToken damaged = 5;

  tensor_shape (F32_MODEL, "token_embd.weight", &row_len, &n_rows, &n_bytes);
  g_autofree char *path = model_variant_poke_f32 (dir, "damaged.gguf", src, "token_embd.weight",
                                                  damaged * row_len + 3, 1, NAN);
  g_autoptr (TernModel) model = load (path);
  g_autoptr (TernContext) ctx = new_context (model);
  const TernToken tokens[] = { 1, 40, 41, damaged, 42, 43 };
  g_autoptr (GError) error = NULL;

  /* The tokens before it are sound. */
  g_assert_true (tern_context_decode (ctx, tokens, 3, TRUE, NULL, NULL, NULL, &error));
  g_assert_no_error (error);
  tern_context_truncate (ctx, 0);

  for (int all_logits = 0; all_logits <= 1; all_logits++)
    {
      g_assert_false (tern_context_decode (ctx, tokens, G_N_ELEMENTS (tokens), all_logits, NULL, NULL, NULL, &error));
      g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_FORMAT);
      g_assert_nonnull (strstr (error->message, "the model computed a non-finite value"));
      g_assert_nonnull (strstr (error->message, "the model file is damaged"));
      /* With every row's logits, the first spoiled one is named. */
      g_assert_nonnull (strstr (error->message, all_logits ? "for token 4 of 6" : "for token 6 of 6"));
      g_clear_error (&error);
      tern_context_truncate (ctx, 0);
    }
  test_remove_tree (dir);
}

/* Finite weights the sample accepts, so large that the norm's output
 * overflows: the logits are infinite or NaN. Generation and perplexity
 * both fail. */
static void
test_overflow (void)
{
  g_autofree char *dir = g_dir_make_tmp ("tern-damage-XXXXXX", NULL);
  g_autofree char *src = fixture (F32_MODEL);
  gint64 row_len, n_rows;
  gsize n_bytes;

  tensor_shape (F32_MODEL, "output_norm.weight", &row_len, &n_rows, &n_bytes);
  g_autofree char *path = model_variant_poke_f32 (dir, "damaged.gguf", src, "output_norm.weight", 0, row_len,
                                                  3e38f);
  g_autoptr (TernModel) model = load (path);
  g_autoptr (TernContext) ctx = new_context (model);
  const TernToken tokens[] = { 1, 40, 41, 42 };
  g_autoptr (GError) error = NULL;

  g_assert_false (tern_context_decode (ctx, tokens, G_N_ELEMENTS (tokens), FALSE, NULL, NULL, NULL, &error));
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_FORMAT);
  g_assert_nonnull (strstr (error->message, "non-finite"));
  g_clear_error (&error);

  g_autoptr (GArray) text = g_array_new (FALSE, FALSE, sizeof (TernToken));
  for (int i = 0; i < 64; i++)
    g_array_append_val (text, tokens[i % G_N_ELEMENTS (tokens)]);
  double ppl = 0;
  g_assert_false (tern_perplexity_eval_tokens (ctx, (const TernToken *) text->data, text->len, 32, NULL, NULL, NULL,
                                               &ppl, NULL, &error));
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_FORMAT);
  test_remove_tree (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/engine/model/damage/sampled-f32", test_sampled_f32);
  g_test_add_func ("/engine/model/damage/sampled-q8_0", test_sampled_q8_0);
  g_test_add_func ("/engine/model/damage/unsampled-row", test_unsampled_row);
  g_test_add_func ("/engine/model/damage/overflow", test_overflow);
  return g_test_run ();
}
