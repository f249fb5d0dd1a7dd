/* SPDX-License-Identifier: GPL-3.0-or-later */
/* tern-cli tokenize MODEL [--no-bos] (--text T | --file F) [--cases]
 * tern-cli detokenize MODEL [--special] IDS... */
#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tern/tokenizer.h>

/* llama.cpp's tokenizer test files separate their cases with this line. */
#define CASE_SEPARATOR "\n__ggml_vocab_test__\n"

static TernTokenizer *
open_tokenizer (const char *path, GError **error)
{
  g_autoptr (TernGguf) gguf = tern_gguf_open (path, error);
  if (gguf == NULL)
    return NULL;
  return tern_tokenizer_new (gguf, error);
}

static gboolean
print_tokens (const TernTokenizer *tok, const char *text, gsize len, TernTokenizeFlags flags,
              gboolean leading_space, GString *out, GError **error)
{
  g_autoptr (GArray) ids = g_array_new (FALSE, FALSE, sizeof (TernToken));

  if (!tern_tokenizer_encode (tok, text, (gssize) len, flags, ids, error))
    return FALSE;
  for (guint i = 0; i < ids->len; i++)
    g_string_append_printf (out, leading_space || i > 0 ? " %d" : "%d", g_array_index (ids, TernToken, i));
  g_string_append_c (out, '\n');
  return TRUE;
}

int
cli_tokenize (int argc, char **argv)
{
  gboolean no_bos = FALSE, cases = FALSE;
  g_autofree char *text = NULL, *file = NULL;
  const GOptionEntry entries[] = {
    { "text", 't', 0, G_OPTION_ARG_STRING, &text, "Text to tokenize", "T" },
    { "file", 'f', 0, G_OPTION_ARG_FILENAME, &file, "Read the text from a file", "F" },
    { "no-bos", 0, 0, G_OPTION_ARG_NONE, &no_bos, "Do not add the model's BOS/EOS tokens", NULL },
    { "cases", 0, 0, G_OPTION_ARG_NONE, &cases,
      "Split the text on lines '__ggml_vocab_test__' and print one line per case, each id after a space", NULL },
    { NULL },
  };
  g_autoptr (GError) error = NULL;
  g_autofree char *contents = NULL;
  gsize len;

  if (!cli_parse (&argc, &argv, "MODEL", "Print the token ids of a text, separated by spaces.", entries))
    return CLI_EXIT_USAGE;
  if (argc != 2 || (text == NULL) == (file == NULL))
    {
      g_printerr ("tern-cli tokenize: expected MODEL and one of --text or --file (see --help)\n");
      return CLI_EXIT_USAGE;
    }
  if (file)
    {
      if (!cli_read_file (file, CLI_TEXT_MAX_BYTES, "a text file", &contents, &len, &error))
        return cli_fail (g_error_matches (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_INVALID) ? CLI_EXIT_MODEL
                                                                                               : CLI_EXIT_USAGE,
                         error);
    }
  else
    {
      contents = g_steal_pointer (&text);
      len = strlen (contents);
    }

  g_autoptr (TernTokenizer) tok = open_tokenizer (argv[1], &error);
  if (tok == NULL)
    return cli_fail (CLI_EXIT_MODEL, error);

  TernTokenizeFlags flags = no_bos ? TERN_TOKENIZE_NONE : TERN_TOKENIZE_ADD_SPECIAL;
  g_autoptr (GString) out = g_string_new (NULL);
  if (!cases)
    {
      if (!print_tokens (tok, contents, len, flags, FALSE, out, &error))
        return cli_fail (CLI_EXIT_MODEL, error);
    }
  else
    {
      const char *p = contents, *end = contents + len;
      while (p < end)
        {
          const char *sep = g_strstr_len (p, end - p, CASE_SEPARATOR);
          const char *case_end = sep ? sep : end;
          if (!print_tokens (tok, p, case_end - p, flags, TRUE, out, &error))
            return cli_fail (CLI_EXIT_MODEL, error);
          p = sep ? sep + strlen (CASE_SEPARATOR) : end;
        }
    }
  fwrite (out->str, 1, out->len, stdout);
  return CLI_EXIT_OK;
}

int
cli_detokenize (int argc, char **argv)
{
  gboolean special = FALSE;
  const GOptionEntry entries[] = {
    { "special", 0, 0, G_OPTION_ARG_NONE, &special, "Print control tokens such as <s> too", NULL },
    { NULL },
  };
  g_autoptr (GError) error = NULL;

  if (!cli_parse (&argc, &argv, "MODEL IDS…", "Print the text that token ids stand for.", entries))
    return CLI_EXIT_USAGE;
  if (argc < 2)
    {
      g_printerr ("tern-cli detokenize: expected MODEL and token ids (see --help)\n");
      return CLI_EXIT_USAGE;
    }

  g_autoptr (GArray) ids = g_array_new (FALSE, FALSE, sizeof (TernToken));
  for (int i = 2; i < argc; i++)
    {
      char *end;
      errno = 0;
      gint64 id = g_ascii_strtoll (argv[i], &end, 10);
      if (errno != 0 || *end != '\0' || end == argv[i] || id < 0 || id > G_MAXINT32)
        {
          g_printerr ("tern-cli detokenize: '%s' is not a token id\n", argv[i]);
          return CLI_EXIT_USAGE;
        }
      TernToken t = (TernToken) id;
      g_array_append_val (ids, t);
    }

  g_autoptr (TernTokenizer) tok = open_tokenizer (argv[1], &error);
  if (tok == NULL)
    return cli_fail (CLI_EXIT_MODEL, error);

  g_autoptr (TernDetokenizer) detok = tern_detokenizer_new (tok, special);
  g_autoptr (GString) out = g_string_new (NULL);
  for (guint i = 0; i < ids->len; i++)
    if (!tern_detokenizer_push (detok, g_array_index (ids, TernToken, i), out, &error))
      return cli_fail (CLI_EXIT_MODEL, error);
  tern_detokenizer_flush (detok, out);
  fwrite (out->str, 1, out->len, stdout);
  return CLI_EXIT_OK;
}
