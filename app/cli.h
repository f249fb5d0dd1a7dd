/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

/* tern-cli subcommands. Each takes the arguments after its name (argv[0]
 * is the subcommand) and returns the process exit status. */

enum {
  CLI_EXIT_OK = 0,
  CLI_EXIT_USAGE = 1, /* bad command line */
  CLI_EXIT_MODEL = 2, /* the model or input could not be used */
};

int cli_info (int argc, char **argv);
int cli_tokenize (int argc, char **argv);
int cli_detokenize (int argc, char **argv);
int cli_generate (int argc, char **argv);
int cli_chat (int argc, char **argv);
int cli_logits (int argc, char **argv);
int cli_perplexity (int argc, char **argv);
int cli_bench (int argc, char **argv);
int cli_make_model (int argc, char **argv);

/* Parses @argv with @entries; on failure prints the error and the usage
 * line to stderr. Positional arguments stay in @argv. */
gboolean cli_parse (int *argc, char ***argv, const char *params, const char *summary,
                    const GOptionEntry *entries);

/* Prints "tern-cli: MESSAGE" to stderr and returns @status. */
int cli_fail (int status, const GError *error);

/* Helpers of the inference commands, in cli-generate.c. */

/* Reads the text file @path into @text (NUL-terminated) and @len, checking
 * it as cli_check_text does. */
gboolean cli_read_text (const char *path, char **text, gsize *len, GError **error);
/* An INVALID error naming @name unless @text is non-empty valid UTF-8. */
gboolean cli_check_text (const char *name, const char *text, gsize len, GError **error);
