/* SPDX-License-Identifier: GPL-3.0-or-later */
/* A model whose file shrinks on disk while it is loaded (the issue: "a
 * model file truncated while generating: SIGBUS"): the forward pass fails
 * with IO, between passes or inside one (even where only the weights read
 * after the last layer are gone), on any thread of the pool, and so do
 * every pass after it, a perplexity run and a load that was under
 * way; another model loaded at the same time computes as before. */
#include <tern/context.h>
#include <tern/error.h>
#include <tern/perplexity.h>

#include <string.h>
#include <unistd.h>

#include "test-data.h"

#define FIXTURE "kjv-tiny-f32.gguf"
#define CHANGED "the model file model.gguf changed on disk while in use (it shrank, or could not be read); load it again"
#define N_CTX 64
#define N_TOKENS 24

typedef struct {
  char *dir;
  char *path; /* a copy of the fixture, cut short by the tests */
} Fixture;

static char *
copy_fixture (const char *dir, const char *name)
{
  g_autofree char *src = g_test_build_filename (G_TEST_DIST, "data", "models", FIXTURE, NULL);
  g_autofree char *contents = NULL;
  char *dest = g_build_filename (dir, name, NULL);
  gsize len;

  g_assert_true (g_file_get_contents (src, &contents, &len, NULL));
  g_assert_true (g_file_set_contents (dest, contents, len, NULL));
  return dest;
}

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  f->dir = g_dir_make_tmp ("tern-model-shrink-XXXXXX", NULL);
  f->path = copy_fixture (f->dir, "model.gguf");
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  test_remove_tree (f->dir);
  g_free (f->dir);
  g_free (f->path);
}

/* Cuts the file at @path to half its size, as `truncate` would. */
static void
halve (const char *path)
{
  GStatBuf st;

  g_assert_cmpint (g_stat (path, &st), ==, 0);
  g_assert_cmpint (truncate (path, st.st_size / 2), ==, 0);
}

static TernModel *
load (const char *path)
{
  g_autoptr (GError) error = NULL;
  TernModel *model = tern_model_load (path, NULL, NULL, NULL, &error);

  g_assert_no_error (error);
  return model;
}

/* Two threads, so that a fault can come from a worker of the pool. */
static TernContext *
new_context (TernModel *model, gint32 n_batch)
{
  g_autoptr (GError) error = NULL;
  TernContextParams params;

  tern_context_params_init (&params);
  params.n_ctx = N_CTX;
  params.n_batch = n_batch;
  params.n_threads = 2;
  TernContext *ctx = tern_context_new (model, &params, &error);
  g_assert_no_error (error);
  return ctx;
}

static void
tokens_init (TernToken *tokens)
{
  for (gint32 i = 0; i < N_TOKENS; i++)
    tokens[i] = 1 + i * 37 % 1000;
}

static void
assert_changed (GError *error)
{
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_IO);
  g_assert_cmpstr (error->message, ==, CHANGED);
}

/* Cut between two passes: the next fails, and every one after it, with
 * the context as it was; the weights refuse to be acquired. */
static void
test_between_passes (Fixture *f, gconstpointer data)
{
  g_autoptr (TernModel) model = load (f->path);
  g_autoptr (TernContext) ctx = new_context (model, 512);
  g_autoptr (GError) error = NULL;
  TernToken tokens[N_TOKENS];

  tokens_init (tokens);
  g_assert_true (tern_context_decode (ctx, tokens, 8, FALSE, NULL, NULL, NULL, &error));
  g_assert_no_error (error);

  halve (f->path);
  g_assert_false (tern_context_decode (ctx, tokens + 8, 1, FALSE, NULL, NULL, NULL, &error));
  assert_changed (error);
  g_clear_error (&error);
  g_assert_cmpint (tern_context_n_past (ctx), ==, 8);
  g_assert_false (tern_context_decode (ctx, tokens + 8, 1, FALSE, NULL, NULL, NULL, &error));
  assert_changed (error);
  g_clear_error (&error);

  g_assert_false (tern_weights_acquire (tern_model_weights (model), 0, &error));
  assert_changed (error);
  g_assert_null (tern_model_weight (model, -1, TERN_WEIGHT_TOKEN_EMBD));
}

/* Cut where only the last tensor of the file was (the output matrix, read
 * after the last layer was acquired, at a page boundary, as a read past
 * the end of a file's last page faults): the pass itself sees it. */
static void
test_last_tensor (Fixture *f, gconstpointer data)
{
  g_autoptr (TernModel) model = load (f->path);
  g_autoptr (TernContext) ctx = new_context (model, 512);
  g_autoptr (GError) error = NULL;
  const TernGguf *gguf = tern_model_gguf (model);
  const TernGgufTensor *last = tern_gguf_tensor (gguf, 0);
  guint64 page = (guint64) sysconf (_SC_PAGESIZE);
  TernToken token = 1;

  for (gsize i = 1; i < tern_gguf_n_tensors (gguf); i++)
    if (tern_gguf_tensor (gguf, i)->offset > last->offset)
      last = tern_gguf_tensor (gguf, i);
  g_assert_cmpstr (last->name, ==, "output.weight");
  g_assert_cmpint (truncate (f->path, (tern_gguf_data_offset (gguf) + last->offset) / page * page), ==, 0);
  g_assert_false (tern_context_decode (ctx, &token, 1, FALSE, NULL, NULL, NULL, &error));
  assert_changed (error);
}

/* A progress callback that cuts the file at @path to nothing the first
 * time it is called. */
static void
cut_on_first_call (double fraction, gpointer path)
{
  GStatBuf st;

  g_assert_cmpint (g_stat (path, &st), ==, 0);
  if (st.st_size > 0)
    g_assert_cmpint (truncate (path, 0), ==, 0);
}

/* Cut while a long prompt is evaluated, after its first batch: the
 * batches after it read zeros, and the decode fails. */
static void
test_inside_decode (Fixture *f, gconstpointer data)
{
  g_autoptr (TernModel) model = load (f->path);
  g_autoptr (TernContext) ctx = new_context (model, 4);
  g_autoptr (GError) error = NULL;
  TernToken tokens[N_TOKENS];

  tokens_init (tokens);
  g_assert_false (tern_context_decode (ctx, tokens, N_TOKENS, TRUE, cut_on_first_call, f->path, NULL, &error));
  assert_changed (error);
  g_assert_cmpint (tern_context_n_past (ctx), <, N_TOKENS);
}

static void
cut_after_chunk (gint32 chunk, gint32 n_chunks, double ppl, gpointer path)
{
  if (chunk == 0)
    halve (path);
}

/* Perplexity: the chunk after the cut fails, not a number from zeros. */
static void
test_perplexity (Fixture *f, gconstpointer data)
{
  g_autoptr (TernModel) model = load (f->path);
  g_autoptr (TernContext) ctx = new_context (model, 512);
  g_autoptr (GError) error = NULL;
  TernToken tokens[N_TOKENS];
  double ppl = 0;

  tokens_init (tokens);
  g_assert_false (tern_perplexity_eval_tokens (ctx, tokens, N_TOKENS, 8, cut_after_chunk, f->path, NULL, &ppl, NULL,
                                               &error));
  assert_changed (error);
}

/* Cut while the model loads, after its first layer was checked: the
 * load fails with IO, whatever the zeros read since would have passed
 * for. */
static void
test_while_loading (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (TernModel) model = tern_model_load (f->path, cut_on_first_call, f->path, NULL, &error);

  g_assert_null (model);
  assert_changed (error);
}

/* Two models loaded at once, one of them cut: the other computes the
 * same logits as before. */
static void
test_other_model (Fixture *f, gconstpointer data)
{
  g_autofree char *other_path = copy_fixture (f->dir, "other.gguf");
  g_autoptr (TernModel) model = load (f->path);
  g_autoptr (TernModel) other = load (other_path);
  g_autoptr (GError) error = NULL;
  TernToken tokens[N_TOKENS];
  gint32 n_vocab = tern_model_hparams (other)->n_vocab;

  tokens_init (tokens);
  g_autoptr (TernContext) before = new_context (other, 512);
  g_assert_true (tern_context_decode (before, tokens, N_TOKENS, FALSE, NULL, NULL, NULL, &error));
  g_assert_no_error (error);

  halve (f->path);
  g_autoptr (TernContext) spoilt = new_context (model, 512);
  g_assert_false (tern_context_decode (spoilt, tokens, N_TOKENS, FALSE, NULL, NULL, NULL, &error));
  assert_changed (error);
  g_clear_error (&error);

  g_autoptr (TernContext) after = new_context (other, 512);
  g_assert_true (tern_context_decode (after, tokens, N_TOKENS, FALSE, NULL, NULL, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpmem (tern_context_last_logits (after), n_vocab * sizeof (float), tern_context_last_logits (before),
                   n_vocab * sizeof (float));
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
#define ADD(path, func) g_test_add (path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)
  ADD ("/engine/model/shrink/between-passes", test_between_passes);
  ADD ("/engine/model/shrink/inside-decode", test_inside_decode);
  ADD ("/engine/model/shrink/last-tensor", test_last_tensor);
  ADD ("/engine/model/shrink/perplexity", test_perplexity);
  ADD ("/engine/model/shrink/while-loading", test_while_loading);
  ADD ("/engine/model/shrink/other-model", test_other_model);
#undef ADD
  return g_test_run ();
}
