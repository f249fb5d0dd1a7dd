/* SPDX-License-Identifier: GPL-3.0-or-later */
/* tern-cli compress IN OUT [--type tq2_0|tq1_0] [--method M] [--report FILE.json] [--threads N]:
 * a model's linear weights made ternary, progress on stderr, a summary on
 * stdout and the report as JSON. */
#include <tern/compress.h>
#include <tern/error.h>

#include <stdio.h>
#include <unistd.h>

#include "cli.h"

typedef struct {
  gboolean tty;
  int shown; /* percent last printed */
} Progress;

static void
show_progress (double fraction, gpointer data)
{
  Progress *p = data;
  int percent = (int) (fraction * 100.0);

  /* A terminal sees one line counting up; a log a line per tenth. */
  if (p->tty && percent != p->shown)
    g_printerr ("\rcompressing: %3d%%", percent);
  else if (!p->tty && percent / 10 != p->shown / 10)
    g_printerr ("compressing: %d%%\n", percent);
  else
    return;
  p->shown = percent;
}

static void
print_summary (const TernCompressReport *r)
{
  g_print ("%s → %s (%s, %s)\n", r->in_path, r->out_path, tern_type_name (r->type),
           tern_compress_method_name (r->method));
  g_print ("size:            %" G_GUINT64_FORMAT " → %" G_GUINT64_FORMAT " bytes (%.2f× smaller, %.3f bits per weight)\n",
           r->in_size, r->out_size, r->out_size ? (double) r->in_size / (double) r->out_size : 0.0,
           tern_compress_report_bits_per_weight (r));
  g_print ("ternary weights: %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT ", %.1f%% of them zero\n", r->n_ternary,
           r->n_weights, 100.0 * r->sparsity);
  g_print ("relative error:  %.4f (over every matrix)\n", r->rel_error);
  g_print ("time:            %.2f s\n", r->seconds);
}

int
cli_compress (int argc, char **argv)
{
  g_autofree char *type_name = NULL, *method_name = NULL, *report_path = NULL;
  gint n_threads = 0;
  const GOptionEntry entries[] = {
    { "type", 0, 0, G_OPTION_ARG_STRING, &type_name, "Ternary type: tq2_0 (default) or tq1_0", "TYPE" },
    { "method", 0, 0, G_OPTION_ARG_STRING, &method_name, "absmax, absmean or twn (default)", "METHOD" },
    { "report", 0, 0, G_OPTION_ARG_FILENAME, &report_path, "Write the report as JSON to FILE", "FILE.json" },
    { "threads", 't', 0, G_OPTION_ARG_INT, &n_threads, "Threads (default: one per core)", "N" },
    { NULL },
  };
  g_autoptr (GError) error = NULL;
  g_autoptr (TernCompressReport) report = NULL;
  g_autoptr (CliInterrupt) interrupt = NULL;
  TernCompressParams params;
  Progress progress = { .tty = isatty (STDERR_FILENO), .shown = -1 };

  if (!cli_parse (&argc, &argv, "IN.gguf OUT.gguf",
                  "Compress a model: its linear weights ternary (three values per 256-weight\n"
                  "block), as llama-quantize's TQ2_0 and TQ1_0 mixes store them (token\n"
                  "embeddings Q4_K, output matrix Q6_K, norms as they are).\n"
                  "\n"
                  "Methods:\n"
                  "  absmax   llama.cpp's rounding (its file, byte for byte)\n"
                  "  absmean  BitNet b1.58's: one scale per tensor, its mean magnitude\n"
                  "  twn      per block, the threshold and least-squares scale of least error\n"
                  "\n"
                  "A model trained for ternary weights comes out as it was with absmean and\n"
                  "twn. Ctrl+C stops and leaves no file.",
                  entries))
    return CLI_EXIT_USAGE;
  if (!cli_check_threads ("compress", n_threads))
    return CLI_EXIT_USAGE;
  if (argc != 3)
    {
      g_printerr ("tern-cli compress: expected IN.gguf and OUT.gguf (see --help)\n");
      return CLI_EXIT_USAGE;
    }
  tern_compress_params_init (&params);
  params.n_threads = (guint) n_threads;
  if (type_name && (!tern_type_from_name (type_name, &params.type) ||
                    (params.type != TERN_TYPE_TQ1_0 && params.type != TERN_TYPE_TQ2_0)))
    {
      g_printerr ("tern-cli compress: --type: '%s' is not tq2_0 or tq1_0\n", type_name);
      return CLI_EXIT_USAGE;
    }
  if (method_name && !tern_compress_method_from_name (method_name, &params.method))
    {
      g_printerr ("tern-cli compress: --method: '%s' is not absmax, absmean or twn\n", method_name);
      return CLI_EXIT_USAGE;
    }

  interrupt = cli_interrupt_new ();
  cli_interrupt_arm (interrupt, TRUE);
  report = tern_compress (argv[1], argv[2], &params, show_progress, &progress, cli_interrupt_cancellable (interrupt),
                          &error);
  if (progress.tty && progress.shown >= 0)
    g_printerr ("\n");
  if (report == NULL)
    return cli_fail (CLI_EXIT_MODEL, error);
  print_summary (report);
  if (report_path)
    {
      g_autofree char *json = tern_compress_report_to_json (report);

      if (!g_file_set_contents (report_path, json, -1, &error))
        return cli_fail (CLI_EXIT_MODEL, error);
    }
  return CLI_EXIT_OK;
}
