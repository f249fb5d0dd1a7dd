/* SPDX-License-Identifier: GPL-3.0-or-later */
/* tern-cli perplexity MODEL --file F [--ctx N] [--threads N] [--backend NAME] */
#include "cli.h"

#include <stdio.h>
#include <tern/perplexity.h>

/* The chunk size when none is given, as small models cap it. */
#define DEFAULT_CHUNK 512

static void
print_chunk (gint32 chunk, gint32 n_chunks, double ppl, gpointer user_data)
{
  g_print ("[%d/%d] %.4f\n", chunk + 1, n_chunks, ppl);
  fflush (stdout);
}

int
cli_perplexity (int argc, char **argv)
{
  g_autofree char *file = NULL, *backend = NULL;
  gint n_chunk = 0, n_threads = 0;
  const GOptionEntry entries[] = {
    { "file", 'f', 0, G_OPTION_ARG_FILENAME, &file, "The text to score", "F" },
    { "ctx", 'c', 0, G_OPTION_ARG_INT, &n_chunk,
      "Tokens per chunk (default 512, or the model's context when smaller)", "N" },
    { "threads", 't', 0, G_OPTION_ARG_INT, &n_threads, "Compute threads (default: one per core)", "N" },
    CLI_BACKEND_ENTRY (backend),
    { NULL },
  };
  g_autoptr (GError) error = NULL;
  g_autofree char *text = NULL;
  gsize len;
  double ppl;
  gint64 n_scored;

  if (!cli_parse (&argc, &argv, "MODEL",
                  "Measure the perplexity of a model on a text, as llama.cpp's llama-perplexity\n"
                  "does: the text (with BOS) is cut into chunks of N tokens, each evaluated from\n"
                  "an empty cache with BOS as its first token, and the second half of each chunk\n"
                  "is scored. Prints the running perplexity after each chunk, then a last line\n"
                  "\"PPL = <value>\".",
                  entries))
    return CLI_EXIT_USAGE;
  if (!cli_check_min ("perplexity", "--ctx", n_chunk, 0) || !cli_check_threads ("perplexity", n_threads))
    return CLI_EXIT_USAGE;
  if (argc != 2 || file == NULL)
    {
      g_printerr ("tern-cli perplexity: expected MODEL and --file (see --help)\n");
      return CLI_EXIT_USAGE;
    }
  if (!cli_check_backend ("perplexity", backend))
    return CLI_EXIT_USAGE;
  if (!cli_read_text (file, &text, &len, &error))
    return cli_fail (CLI_EXIT_MODEL, error);

  g_autoptr (TernModel) model = tern_model_load (argv[1], NULL, NULL, NULL, &error);
  if (model == NULL)
    return cli_fail (CLI_EXIT_MODEL, error);
  gint32 n_ctx_train = tern_model_hparams (model)->n_ctx_train;
  if (n_chunk == 0)
    n_chunk = MIN (DEFAULT_CHUNK, n_ctx_train);
  if (n_chunk > n_ctx_train)
    g_printerr ("tern-cli perplexity: warning: chunks of %d tokens are longer than the context the model "
                "was trained with (%d tokens)\n", n_chunk, n_ctx_train);

  TernContextParams params;
  tern_context_params_init (&params);
  params.n_ctx = n_chunk;
  params.n_batch = n_chunk;
  params.n_threads = n_threads;
  params.backend = backend;
  g_autoptr (TernContext) ctx = tern_context_new (model, &params, &error);
  if (ctx == NULL)
    return cli_fail (CLI_EXIT_MODEL, error);
  if (!tern_perplexity_eval_text (ctx, text, (gssize) len, n_chunk, print_chunk, NULL, NULL, &ppl, &n_scored,
                                  &error))
    return cli_fail (CLI_EXIT_MODEL, error);
  g_print ("scored tokens: %" G_GINT64_FORMAT "\n", n_scored);
  g_print ("PPL = %.4f\n", ppl);
  return CLI_EXIT_OK;
}
