/* SPDX-License-Identifier: GPL-3.0-or-later */
/* tern-cli logits MODEL --file F --out OUT.f32 [--threads N] [--backend NAME] */
#include "cli.h"

#include <string.h>
#include <tern/context.h>
#include <tern/error.h>

/* Writes @n_rows rows of @n_vocab logits as float32 little-endian. */
static gboolean
write_logits (const char *path, const TernContext *ctx, gint32 n_rows, gint32 n_vocab, GError **error)
{
  g_autoptr (GFile) file = g_file_new_for_commandline_arg (path);
  g_autoptr (GFileOutputStream) out = g_file_replace (file, NULL, FALSE, G_FILE_CREATE_NONE, NULL, error);
  g_autofree guint32 *row = g_new (guint32, n_vocab);

  if (out == NULL)
    return FALSE;
  for (gint32 i = 0; i < n_rows; i++)
    {
      memcpy (row, tern_context_logits (ctx, i), sizeof (float) * n_vocab);
      for (gint32 j = 0; j < n_vocab; j++)
        row[j] = GUINT32_TO_LE (row[j]);
      if (!g_output_stream_write_all (G_OUTPUT_STREAM (out), row, sizeof (float) * n_vocab, NULL, NULL, error))
        return FALSE;
    }
  return g_output_stream_close (G_OUTPUT_STREAM (out), NULL, error);
}

int
cli_logits (int argc, char **argv)
{
  g_autofree char *file = NULL, *out = NULL, *backend = NULL;
  gint n_threads = 0;
  const GOptionEntry entries[] = {
    { "file", 'f', 0, G_OPTION_ARG_FILENAME, &file, "The text to evaluate", "F" },
    { "out", 'o', 0, G_OPTION_ARG_FILENAME, &out, "The file to write the logits to", "OUT" },
    { "threads", 't', 0, G_OPTION_ARG_INT, &n_threads, "Compute threads (default: one per core)", "N" },
    CLI_BACKEND_ENTRY (backend),
    { NULL },
  };
  g_autoptr (GError) error = NULL;
  g_autofree char *text = NULL;
  gsize len;

  if (!cli_parse (&argc, &argv, "MODEL",
                  "Evaluate a text (with the model's BOS) in one batch and write the logits after\n"
                  "every token: float32 little-endian, [n_tokens][n_vocab], as llama.cpp's\n"
                  "reference logits files.",
                  entries))
    return CLI_EXIT_USAGE;
  if (!cli_check_threads ("logits", n_threads))
    return CLI_EXIT_USAGE;
  if (argc != 2 || file == NULL || out == NULL)
    {
      g_printerr ("tern-cli logits: expected MODEL, --file and --out (see --help)\n");
      return CLI_EXIT_USAGE;
    }
  if (!cli_check_backend ("logits", backend))
    return CLI_EXIT_USAGE;
  if (!cli_read_text (file, &text, &len, &error))
    return cli_fail (CLI_EXIT_MODEL, error);

  g_autoptr (TernModel) model = tern_model_load (argv[1], NULL, NULL, NULL, &error);
  if (model == NULL)
    return cli_fail (CLI_EXIT_MODEL, error);
  const TernHParams *hp = tern_model_hparams (model);
  g_autoptr (GArray) tokens = g_array_new (FALSE, FALSE, sizeof (TernToken));
  if (!tern_tokenizer_encode (tern_model_tokenizer (model), text, (gssize) len, TERN_TOKENIZE_ADD_SPECIAL, tokens,
                              &error))
    return cli_fail (CLI_EXIT_MODEL, error);
  if (tokens->len > (guint) hp->n_ctx_train)
    {
      g_printerr ("tern-cli: %s is %u tokens, longer than the model's context (%d tokens)\n", file, tokens->len,
                  hp->n_ctx_train);
      return CLI_EXIT_MODEL;
    }

  /* One forward pass over every token, as the reference was made. */
  TernContextParams params;
  tern_context_params_init (&params);
  params.n_ctx = (gint32) tokens->len;
  params.n_batch = (gint32) tokens->len;
  params.n_threads = n_threads;
  params.backend = backend;
  g_autoptr (TernContext) ctx = tern_context_new (model, &params, &error);
  if (ctx == NULL)
    return cli_fail (CLI_EXIT_MODEL, error);
  if (!tern_context_decode (ctx, (TernToken *) tokens->data, (gint32) tokens->len, TRUE, NULL, NULL, NULL, &error)
      || !write_logits (out, ctx, (gint32) tokens->len, hp->n_vocab, &error))
    return cli_fail (CLI_EXIT_MODEL, error);
  return CLI_EXIT_OK;
}
