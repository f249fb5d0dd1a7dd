/* SPDX-License-Identifier: GPL-3.0-or-later */
/* tern-cli: Tern's engine from the command line, for scripts and tests. */
#include "cli.h"

#include <locale.h>
#include <stdio.h>
#include <string.h>

typedef struct {
  const char *name;
  int (*run) (int argc, char **argv);
  const char *summary;
} Command;

static const Command commands[] = {
  { "info", cli_info, "describe a GGUF model" },
  { "tokenize", cli_tokenize, "print the token ids of a text" },
  { "detokenize", cli_detokenize, "print the text of token ids" },
  { "generate", cli_generate, "continue a prompt" },
  { "chat", cli_chat, "chat with a model on the terminal" },
  { "history", cli_history, "list, search, export and import stored conversations" },
  { "models", cli_models, "list the model library and the state of each file" },
  { "template", cli_template, "print the prompt a chat template makes of a conversation" },
  { "logits", cli_logits, "write the logits of every token of a text" },
  { "perplexity", cli_perplexity, "measure perplexity on a text, as llama.cpp does" },
  { "bench", cli_bench, "measure prompt and generation speed, as llama-bench does" },
  { "make-model", cli_make_model, "write a model with random weights" },
  { "compress", cli_compress, "make a model's weights ternary, with a report of what it cost" },
  { "devices", cli_devices, "list the devices Tern can compute on" },
};

static void
print_usage (FILE *out)
{
  fprintf (out, "Usage: tern-cli COMMAND [ARGS…]\n\nCommands:\n");
  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    fprintf (out, "  %-12s %s\n", commands[i].name, commands[i].summary);
  fprintf (out, "\nRun 'tern-cli COMMAND --help' for a command's options.\n");
}

gboolean
cli_parse (int *argc, char ***argv, const char *params, const char *summary, const GOptionEntry *entries)
{
  g_autofree char *prgname = g_strconcat ("tern-cli ", (*argv)[0], NULL);
  g_autoptr (GOptionContext) context = g_option_context_new (params);
  g_autoptr (GError) error = NULL;

  /* --help then reads "Usage: tern-cli COMMAND [OPTION…] PARAMS". */
  g_set_prgname (prgname);

  g_option_context_set_summary (context, summary);
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, argc, argv, &error))
    {
      g_printerr ("tern-cli %s: %s\n", (*argv)[0], error->message);
      return FALSE;
    }
  return TRUE;
}

void
cli_say_replaced (const char *path, gsize n)
{
  if (n > 0)
    g_printerr ("tern-cli: %s: replaced %" G_GSIZE_FORMAT " %s not valid Unicode text\n", path, n,
                n == 1 ? "character that is" : "characters that are");
}

gboolean
cli_check_min (const char *command, const char *option, gint64 value, gint64 min)
{
  if (value >= min)
    return TRUE;
  g_printerr ("tern-cli %s: %s takes a number >= %" G_GINT64_FORMAT ", not %" G_GINT64_FORMAT "\n", command, option,
              min, value);
  return FALSE;
}

gboolean
cli_check_threads (const char *command, gint64 value)
{
  if (value >= 0 && value <= TERN_CONTEXT_MAX_THREADS)
    return TRUE;
  g_printerr ("tern-cli %s: --threads takes a number from 0 (one per core) to %d, not %" G_GINT64_FORMAT "\n", command,
              TERN_CONTEXT_MAX_THREADS, value);
  return FALSE;
}

int
cli_fail (int status, const GError *error)
{
  g_printerr ("tern-cli: %s\n", error->message);
  return status;
}

int
main (int argc, char **argv)
{
  setlocale (LC_ALL, "");
  g_set_prgname ("tern-cli");

  if (argc < 2)
    {
      print_usage (stderr);
      return CLI_EXIT_USAGE;
    }
  if (strcmp (argv[1], "--help") == 0 || strcmp (argv[1], "-h") == 0)
    {
      print_usage (stdout);
      return CLI_EXIT_OK;
    }
  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    if (strcmp (argv[1], commands[i].name) == 0)
      return commands[i].run (argc - 1, argv + 1);

  g_printerr ("tern-cli: unknown command '%s'\n", argv[1]);
  print_usage (stderr);
  return CLI_EXIT_USAGE;
}
