/* SPDX-License-Identifier: GPL-3.0-or-later */
/* What the engine computes on a model, as the numerics tests run it, for
 * tests/tools/measure-numerics.py to compare with the reference data:
 *
 * numerics-probe MODEL --kernel LEVEL --threads N --tokens 1,2,3 --logits OUT.f32
 *                [--greedy-prompt 1,2 --continuation 3,4]
 *
 * Evaluates --tokens in one batch and writes the logits after each of them
 * (float32 little-endian, [n_tokens][n_vocab]) to OUT.f32; then, from an
 * empty cache, evaluates --greedy-prompt and feeds the --continuation
 * tokens one at a time, noting the engine's greedy choice before each.
 * Prints {"argmax": [greedy choice at each step], "margins": [its top-two
 * margin]}: while the choices equal the continuation, they are the
 * engine's own greedy continuation. */
#include <stdlib.h>
#include <tern/context.h>

#include "quant/quant.h"

static GArray *
parse_tokens (const char *list, GError **error)
{
  g_auto (GStrv) parts = g_strsplit (list, ",", -1);
  GArray *tokens = g_array_new (FALSE, FALSE, sizeof (TernToken));

  for (guint i = 0; parts[i]; i++)
    {
      guint64 v;
      if (!g_ascii_string_to_unsigned (parts[i], 10, 0, G_MAXINT32, &v, error))
        {
          g_array_unref (tokens);
          return NULL;
        }
      TernToken t = (TernToken) v;
      g_array_append_val (tokens, t);
    }
  return tokens;
}

static TernKernelLevel
parse_level (const char *name)
{
  for (TernKernelLevel l = TERN_KERNEL_SCALAR; l <= TERN_KERNEL_BEST; l++)
    if (g_strcmp0 (name, tern_kernel_level_name (l)) == 0)
      return l;
  g_printerr ("numerics-probe: unknown kernel level %s\n", name);
  exit (2);
}

/* Runs the probe and prints its result. */
static gboolean
probe (const char *path, TernKernelLevel level, guint n_threads, const GArray *tokens, const char *out,
       const GArray *prompt, const GArray *continuation, GError **error)
{
  g_autoptr (TernModel) model = tern_model_load (path, NULL, NULL, NULL, error);
  if (model == NULL)
    return FALSE;
  gint32 n_vocab = tern_model_hparams (model)->n_vocab;

  TernContextParams params;
  tern_context_params_init (&params);
  params.n_batch = 512;
  params.n_threads = n_threads;
  params.kernel = level;
  g_autoptr (TernContext) ctx = tern_context_new (model, &params, error);
  if (ctx == NULL || !tern_context_decode (ctx, (TernToken *) tokens->data, tokens->len, TRUE, NULL, NULL, NULL, error))
    return FALSE;

  g_autoptr (GString) logits = g_string_new (NULL);
  for (guint i = 0; i < tokens->len; i++)
    g_string_append_len (logits, (const char *) tern_context_logits (ctx, i), sizeof (float) * n_vocab);
  if (!g_file_set_contents (out, logits->str, logits->len, error))
    return FALSE;

  g_autoptr (GString) greedy = g_string_new ("{\"argmax\": [");
  g_autoptr (GString) margins = g_string_new ("\"margins\": [");
  if (prompt)
    {
      tern_context_truncate (ctx, 0);
      if (!tern_context_decode (ctx, (TernToken *) prompt->data, prompt->len, FALSE, NULL, NULL, NULL, error))
        return FALSE;
    }
  for (guint i = 0; continuation && i < continuation->len; i++)
    {
      const float *l = tern_context_last_logits (ctx);
      TernToken best = 0, second = -1;
      for (TernToken j = 1; j < n_vocab; j++)
        if (l[j] > l[best])
          {
            second = best;
            best = j;
          }
        else if (second < 0 || l[j] > l[second])
          second = j;
      g_string_append_printf (greedy, "%s%d", i ? ", " : "", best);
      g_string_append_printf (margins, "%s%.6g", i ? ", " : "", (double) (l[best] - l[second]));
      if (!tern_context_decode (ctx, &g_array_index (continuation, TernToken, i), 1, FALSE, NULL, NULL, NULL, error))
        return FALSE;
    }
  g_print ("%s], %s]}\n", greedy->str, margins->str);
  return TRUE;
}

int
main (int argc, char **argv)
{
  g_autofree char *kernel = NULL, *token_list = NULL, *out = NULL, *prompt_list = NULL, *continuation_list = NULL;
  gint n_threads = 1;
  const GOptionEntry entries[] = {
    { "kernel", 0, 0, G_OPTION_ARG_STRING, &kernel, "Kernel level (scalar, avx2, avx512, best)", "LEVEL" },
    { "threads", 0, 0, G_OPTION_ARG_INT, &n_threads, "Compute threads", "N" },
    { "tokens", 0, 0, G_OPTION_ARG_STRING, &token_list, "Tokens to evaluate in one batch", "IDS" },
    { "logits", 0, 0, G_OPTION_ARG_FILENAME, &out, "Where to write their logits", "OUT" },
    { "greedy-prompt", 0, 0, G_OPTION_ARG_STRING, &prompt_list, "Prompt of the greedy run", "IDS" },
    { "continuation", 0, 0, G_OPTION_ARG_STRING, &continuation_list, "Tokens fed after it", "IDS" },
    { NULL },
  };
  g_autoptr (GOptionContext) options = g_option_context_new ("MODEL");
  g_autoptr (GError) error = NULL;
  g_autoptr (GArray) tokens = NULL, prompt = NULL, continuation = NULL;

  g_option_context_add_main_entries (options, entries, NULL);
  if (!g_option_context_parse (options, &argc, &argv, &error) || argc != 2 || token_list == NULL || out == NULL
      || n_threads < 1 || (continuation_list && prompt_list == NULL))
    {
      g_printerr ("numerics-probe: %s\n", error ? error->message : "expected MODEL, --tokens and --logits");
      return 2;
    }
  if (!(tokens = parse_tokens (token_list, &error)) || (prompt_list && !(prompt = parse_tokens (prompt_list, &error)))
      || (continuation_list && !(continuation = parse_tokens (continuation_list, &error)))
      || !probe (argv[1], parse_level (kernel ? kernel : "best"), n_threads, tokens, out, prompt, continuation,
                 &error))
    {
      g_printerr ("numerics-probe: %s\n", error->message);
      return 1;
    }
  return 0;
}
