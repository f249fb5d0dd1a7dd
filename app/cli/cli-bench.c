/* SPDX-License-Identifier: GPL-3.0-or-later */
/* tern-cli bench MODEL [-p 512] [-n 128] [-r 3] [--threads N] [--backend NAME] [--json]
 *
 * Measures as llama.cpp's llama-bench does, so the figures compare: pp is
 * the evaluation of a prompt of random tokens from an empty cache, tg the
 * evaluation of tokens one at a time from an empty cache (fed, not sampled);
 * each is run once to warm up and then -r times, and the tokens/s of the
 * runs give a mean and a sample standard deviation. */
#include "cli.h"

#include <json-glib/json-glib.h>
#include <math.h>
#include <stdio.h>
#include <tern/context.h>

/* llama-bench's batch size and a fixed seed for the token ids. */
#define BENCH_BATCH 512
#define BENCH_SEED 1234

typedef struct {
  gint n_tokens;
  gint repetitions;
  double mean, stddev; /* tokens/s */
} BenchResult;

typedef gboolean (*BenchRunFn) (TernContext *ctx, const TernToken *tokens, gint n, GError **error);

/* One prompt of @n tokens in batches of BENCH_BATCH. */
static gboolean
run_prompt (TernContext *ctx, const TernToken *tokens, gint n, GError **error)
{
  return tern_context_decode (ctx, tokens, n, FALSE, NULL, NULL, NULL, error);
}

/* @n tokens, one decode each. */
static gboolean
run_generate (TernContext *ctx, const TernToken *tokens, gint n, GError **error)
{
  for (gint i = 0; i < n; i++)
    if (!tern_context_decode (ctx, &tokens[i], 1, FALSE, NULL, NULL, NULL, error))
      return FALSE;
  return TRUE;
}

/* A warm-up run of @warmup tokens, then @reps timed runs of @n tokens,
 * each from an empty cache. */
static gboolean
bench (TernContext *ctx, BenchRunFn run, const TernToken *tokens, gint n, gint warmup, gint reps,
       BenchResult *result, GError **error)
{
  double sum = 0.0, sum_sq = 0.0;

  tern_context_truncate (ctx, 0);
  if (!run (ctx, tokens, warmup, error))
    return FALSE;
  for (gint r = 0; r < reps; r++)
    {
      tern_context_truncate (ctx, 0);
      gint64 start = g_get_monotonic_time ();
      if (!run (ctx, tokens, n, error))
        return FALSE;
      double seconds = MAX (g_get_monotonic_time () - start, 1) / 1e6;
      sum += n / seconds;
      sum_sq += (n / seconds) * (n / seconds);
    }
  result->n_tokens = n;
  result->repetitions = reps;
  result->mean = sum / reps;
  result->stddev = reps > 1 ? sqrt (MAX (sum_sq - sum * sum / reps, 0.0) / (reps - 1)) : 0.0;
  return TRUE;
}

/* "llama 1.1B q4_K": the architecture, the size and the type holding most
 * of the weights' bytes. */
static char *
describe_model (const TernModel *model, guint64 *size_bytes)
{
  const TernGguf *gguf = tern_model_gguf (model);
  guint64 bytes[TERN_TYPE_COUNT] = { 0 };
  guint main_type = 0;
  gint64 n_params = tern_model_n_params (model);

  *size_bytes = 0;
  for (gsize i = 0; i < tern_gguf_n_tensors (gguf); i++)
    {
      const TernGgufTensor *t = tern_gguf_tensor (gguf, i);
      bytes[t->type] += t->n_bytes;
      *size_bytes += t->n_bytes;
    }
  for (guint t = 1; t < TERN_TYPE_COUNT; t++)
    if (bytes[t] > bytes[main_type])
      main_type = t;
  if (n_params >= 1000000000)
    return g_strdup_printf ("%s %.1fB %s", tern_model_arch_name (model), n_params / 1e9, tern_type_name (main_type));
  return g_strdup_printf ("%s %.1fM %s", tern_model_arch_name (model), n_params / 1e6, tern_type_name (main_type));
}

static void
print_table (const char *desc, guint64 size, gint64 n_params, const char *backend, guint n_threads,
             const BenchResult *pp, const BenchResult *tg)
{
  const BenchResult *results[] = { pp, tg };
  const char *names[] = { "pp", "tg" };

  g_print ("| %-30s | %10s | %10s | %-24s | %7s | %8s | %20s |\n", "model", "size", "params", "backend", "threads",
           "test", "t/s");
  g_print ("| %.30s | %.9s: | %.9s: | %.24s | %.6s: | %.7s: | %.19s: |\n", "------------------------------",
           "----------", "----------", "------------------------", "-------", "--------", "--------------------");
  for (guint i = 0; i < G_N_ELEMENTS (results); i++)
    {
      if (results[i]->n_tokens == 0)
        continue;
      g_autofree char *size_s = g_strdup_printf ("%.2f MiB", size / (1024.0 * 1024.0));
      g_autofree char *params_s = g_strdup_printf ("%.2f %s", n_params >= 1000000000 ? n_params / 1e9 : n_params / 1e6,
                                                   n_params >= 1000000000 ? "B" : "M");
      g_autofree char *test_s = g_strdup_printf ("%s%d", names[i], results[i]->n_tokens);
      g_autofree char *ts_s = g_strdup_printf ("%.2f ± %.2f", results[i]->mean, results[i]->stddev);
      /* "±" is two bytes but one column wide. */
      g_print ("| %-30s | %10s | %10s | %-24s | %7u | %8s | %21s |\n", desc, size_s, params_s, backend, n_threads,
               test_s, ts_s);
    }
}

static void
add_result (JsonBuilder *b, const char *prefix, const BenchResult *r)
{
  g_autofree char *tokens = g_strconcat (prefix, "_tokens", NULL);
  g_autofree char *ts = g_strconcat (prefix, "_tokens_per_s", NULL);
  g_autofree char *sd = g_strconcat (prefix, "_stddev", NULL);

  json_builder_set_member_name (b, tokens);
  json_builder_add_int_value (b, r->n_tokens);
  json_builder_set_member_name (b, ts);
  r->n_tokens ? json_builder_add_double_value (b, r->mean) : json_builder_add_null_value (b);
  json_builder_set_member_name (b, sd);
  r->n_tokens ? json_builder_add_double_value (b, r->stddev) : json_builder_add_null_value (b);
}

static void
print_json (const char *path, const char *desc, guint64 size, gint64 n_params, const char *backend,
            guint n_threads, gint reps, const BenchResult *pp, const BenchResult *tg)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "model");
  json_builder_add_string_value (b, desc);
  json_builder_set_member_name (b, "model_file");
  json_builder_add_string_value (b, path);
  json_builder_set_member_name (b, "model_size_bytes");
  json_builder_add_int_value (b, (gint64) size);
  json_builder_set_member_name (b, "n_params");
  json_builder_add_int_value (b, n_params);
  json_builder_set_member_name (b, "backend");
  json_builder_add_string_value (b, backend);
  json_builder_set_member_name (b, "threads");
  json_builder_add_int_value (b, n_threads);
  json_builder_set_member_name (b, "repetitions");
  json_builder_add_int_value (b, reps);
  add_result (b, "pp", pp);
  add_result (b, "tg", tg);
  json_builder_end_object (b);

  g_autoptr (JsonNode) root = json_builder_get_root (b);
  g_autofree char *text = json_to_string (root, TRUE);
  g_print ("%s\n", text);
}

int
cli_bench (int argc, char **argv)
{
  gint n_prompt = 512, n_gen = 128, reps = 3, n_threads = 0;
  gboolean json = FALSE;
  g_autofree char *backend = NULL;
  const GOptionEntry entries[] = {
    { "n-prompt", 'p', 0, G_OPTION_ARG_INT, &n_prompt, "Prompt tokens to evaluate; 0 skips the test (default 512)",
      "N" },
    { "n-gen", 'n', 0, G_OPTION_ARG_INT, &n_gen, "Tokens to generate; 0 skips the test (default 128)", "N" },
    { "repetitions", 'r', 0, G_OPTION_ARG_INT, &reps, "Timed runs of each test (default 3)", "N" },
    { "threads", 't', 0, G_OPTION_ARG_INT, &n_threads, "Compute threads (default: one per core)", "N" },
    CLI_BACKEND_ENTRY (backend),
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print one JSON object", NULL },
    { NULL },
  };
  g_autoptr (GError) error = NULL;

  if (!cli_parse (&argc, &argv, "MODEL",
                  "Measure prompt processing (pp: a prompt of random tokens, evaluated in batches\n"
                  "of 512) and generation (tg: tokens evaluated one at a time) in tokens/s, as\n"
                  "llama.cpp's llama-bench does: each test starts from an empty cache and runs\n"
                  "once to warm up, then N times; prints the mean ± standard deviation.",
                  entries))
    return CLI_EXIT_USAGE;
  if (argc != 2)
    {
      g_printerr ("tern-cli bench: expected one MODEL argument (see --help)\n");
      return CLI_EXIT_USAGE;
    }
  if (!cli_check_min ("bench", "--n-prompt", n_prompt, 0) || !cli_check_min ("bench", "--n-gen", n_gen, 0) ||
      !cli_check_min ("bench", "--repetitions", reps, 1) || !cli_check_threads ("bench", n_threads))
    return CLI_EXIT_USAGE;
  if (n_prompt > G_MAXINT32 - n_gen)
    {
      g_printerr ("tern-cli bench: --n-prompt and --n-gen add up to more than %d tokens\n", G_MAXINT32);
      return CLI_EXIT_USAGE;
    }
  if (!cli_check_backend ("bench", backend))
    return CLI_EXIT_USAGE;

  g_autoptr (TernModel) model = tern_model_load (argv[1], NULL, NULL, NULL, &error);
  if (model == NULL)
    return cli_fail (CLI_EXIT_MODEL, error);

  TernContextParams params;
  tern_context_params_init (&params);
  params.n_ctx = MAX (MAX (n_prompt, n_gen), 1);
  params.n_batch = BENCH_BATCH;
  params.n_threads = n_threads;
  params.backend = backend;
  g_autoptr (TernContext) ctx = tern_context_new (model, &params, &error);
  if (ctx == NULL)
    return cli_fail (CLI_EXIT_MODEL, error);

  /* Random ids, the first one BOS where the model starts with it. */
  const TernTokenizer *tok = tern_model_tokenizer (model);
  gint n_vocab = tern_model_hparams (model)->n_vocab;
  g_autoptr (GRand) rand = g_rand_new_with_seed (BENCH_SEED);
  g_autofree TernToken *tokens = g_new (TernToken, params.n_ctx);
  for (gint i = 0; i < params.n_ctx; i++)
    tokens[i] = g_rand_int_range (rand, 0, n_vocab);
  if (tern_tokenizer_add_bos (tok) && tern_tokenizer_bos (tok) >= 0)
    tokens[0] = tern_tokenizer_bos (tok);

  BenchResult pp = { 0 }, tg = { 0 };
  if ((n_prompt > 0 && !bench (ctx, run_prompt, tokens, n_prompt, n_prompt, reps, &pp, &error))
      || (n_gen > 0 && !bench (ctx, run_generate, tokens, n_gen, 1, reps, &tg, &error)))
    return cli_fail (CLI_EXIT_MODEL, error);

  guint64 size;
  g_autofree char *desc = describe_model (model, &size);
  if (json)
    print_json (argv[1], desc, size, tern_model_n_params (model), tern_context_backend_name (ctx),
                tern_context_n_threads (ctx), reps, &pp, &tg);
  else
    print_table (desc, size, tern_model_n_params (model), tern_context_backend_name (ctx),
                 tern_context_n_threads (ctx), &pp, &tg);
  return CLI_EXIT_OK;
}
