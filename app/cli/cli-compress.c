/* SPDX-License-Identifier: GPL-3.0-or-later */
/* tern-cli compress IN OUT [--type tq2_0|tq1_0] [--method M] [--calibration FILE]
 * [--max-size BYTES|PERCENT] [--report FILE.json] [--threads N] [--eval-text FILE | --no-eval]: a model's linear weights made ternary, both models measured on
 * held-out text, progress on stderr, a summary on stdout and the report as JSON. */
#include <tern/compress.h>
#include <tern/error.h>

#include <errno.h>
#include <glib/gstdio.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "cli.h"

typedef struct {
  gboolean tty;
  const char *phase; /* "compressing", "measuring" */
  int shown;         /* percent last printed */
} Progress;

static void
show_progress (double fraction, gpointer data)
{
  Progress *p = data;
  int percent = (int) (fraction * 100.0);

  /* A terminal sees one line counting up; a log a line per tenth. */
  if (p->tty && percent != p->shown)
    g_printerr ("\r%s: %3d%%", p->phase, percent);
  else if (!p->tty && percent / 10 != p->shown / 10)
    g_printerr ("%s: %d%%\n", p->phase, percent);
  else
    return;
  p->shown = percent;
}

/* A matrix the size target kept in a better type than its small one (a
 * layer's: ternary; the output matrix: Q4_K). */
static gboolean
kept_better (const TernCompressTensor *t)
{
  if (t->sensitivity < 0.0)
    return FALSE;
  if (g_str_has_prefix (t->name, "blk."))
    return t->out_type != TERN_TYPE_TQ1_0 && t->out_type != TERN_TYPE_TQ2_0;
  return t->out_type == TERN_TYPE_Q6_K;
}

static void
print_summary (const TernCompressReport *r)
{
  g_print ("%s → %s (%s, %s)\n", r->in_path, r->out_path, tern_type_name (r->type),
           tern_compress_method_name (r->method));
  g_print ("size:            %" G_GUINT64_FORMAT " → %" G_GUINT64_FORMAT " bytes (%.2f× smaller, %.3f bits per weight)\n",
           r->in_size, r->out_size, r->out_size ? (double) r->in_size / (double) r->out_size : 0.0,
           tern_compress_report_bits_per_weight (r));
  if (r->max_size > 0)
    {
      g_autoptr (GString) kept = g_string_new (NULL);

      for (guint i = 0; i < r->tensors->len; i++)
        {
          const TernCompressTensor *t = &g_array_index (r->tensors, TernCompressTensor, i);

          if (kept_better (t))
            g_string_append_printf (kept, " %s (%s)", t->name, tern_type_name (t->out_type));
        }
      g_print ("size target:     %" G_GUINT64_FORMAT " bytes; kept better:%s\n", r->max_size,
               kept->len ? kept->str : " none");
    }
  g_print ("ternary weights: %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT ", %.1f%% of them zero\n", r->n_ternary,
           r->n_weights, 100.0 * r->sparsity);
  g_print ("relative error:  %.4f (over every matrix)\n", r->rel_error);
  g_print ("time:            %.2f s\n", r->seconds);
  if (r->verdict != TERN_COMPRESS_NOT_EVALUATED)
    {
      g_autofree char *verdict = tern_compress_report_verdict (r);

      g_print ("perplexity:      %.3f → %.3f (%" G_GINT64_FORMAT " tokens in chunks of %d)\n", r->ppl_before,
               r->ppl_after, r->eval_tokens, r->eval_ctx);
      g_print ("generation:      %.1f → %.1f tokens/s\n", r->tps_before, r->tps_after);
      g_print ("verdict:         %s\n", verdict);
    }
}

/* A bundled text: installed, or in the source tree when tern-cli runs
 * from its build folder. */
static const char *
bundled (const char *installed, const char *source)
{
  return g_file_test (installed, G_FILE_TEST_IS_REGULAR) ? installed : source;
}

/* --max-size: whole bytes, or a percentage of @in_path's size. Errors:
 * G_OPTION_ERROR for a bad value, the engine's IO for an input that
 * cannot be read. */
static gboolean
parse_size (const char *text, const char *in_path, guint64 *out, GError **error)
{
  g_autofree char *number = g_strdup (text);
  gboolean percent = g_str_has_suffix (number, "%");
  char *end = NULL;
  double value;
  GStatBuf st;

  if (percent)
    number[strlen (number) - 1] = '\0';
  value = g_ascii_strtod (number, &end);
  if (end == number || *end != '\0' || !(value > 0.0) || (!percent && value != floor (value)) ||
      (percent && value > 100.0) || value > 1e18)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "'%s' is not a size: bytes (\"1500000\") or a percentage of the input's (\"20%%\")", text);
      return FALSE;
    }
  if (!percent)
    {
      *out = (guint64) value;
      return TRUE;
    }
  if (g_stat (in_path, &st) != 0)
    {
      int saved = errno;

      g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_IO, "%s: %s", in_path, g_strerror (saved));
      return FALSE;
    }
  *out = MAX ((guint64) ((double) st.st_size * value / 100.0), 1);
  return TRUE;
}

int
cli_compress (int argc, char **argv)
{
  g_autofree char *type_name = NULL, *method_name = NULL, *report_path = NULL, *eval_path = NULL;
  g_autofree char *eval_text = NULL, *calibration_path = NULL, *calibration = NULL, *max_size = NULL;
  gsize calibration_len = 0;
  gsize eval_len = 0;
  gboolean no_eval = FALSE;
  gint n_threads = 0;
  const GOptionEntry entries[] = {
    { "type", 0, 0, G_OPTION_ARG_STRING, &type_name, "Ternary type: tq2_0 (default) or tq1_0", "TYPE" },
    { "method", 0, 0, G_OPTION_ARG_STRING, &method_name, "absmax, absmean, twn (default) or calibrated", "METHOD" },
    { "calibration", 0, 0, G_OPTION_ARG_FILENAME, &calibration_path,
      "The calibrated method's text (default: the bundled one)", "FILE" },
    { "max-size", 0, 0, G_OPTION_ARG_STRING, &max_size,
      "The output's size at most: bytes, or a percentage of the input's (\"20%\")", "BYTES|PERCENT" },
    { "report", 0, 0, G_OPTION_ARG_FILENAME, &report_path, "Write the report as JSON to FILE", "FILE.json" },
    { "threads", 't', 0, G_OPTION_ARG_INT, &n_threads, "Threads (default: one per core)", "N" },
    { "eval-text", 0, 0, G_OPTION_ARG_FILENAME, &eval_path,
      "Measure both models' perplexity on this held-out text (default: the bundled one)", "FILE" },
    { "no-eval", 0, 0, G_OPTION_ARG_NONE, &no_eval, "Do not measure perplexity and speed", NULL },
    { NULL },
  };
  g_autoptr (GError) error = NULL;
  g_autoptr (TernCompressReport) report = NULL;
  g_autoptr (CliInterrupt) interrupt = NULL;
  TernCompressParams params;
  Progress progress = { .tty = isatty (STDERR_FILENO), .phase = "compressing", .shown = -1 };

  if (!cli_parse (&argc, &argv, "IN.gguf OUT.gguf",
                  "Compress a model: its linear weights ternary (three values per 256-weight\n"
                  "block), as llama-quantize's TQ2_0 and TQ1_0 mixes store them (token\n"
                  "embeddings Q4_K, output matrix Q6_K, norms as they are).\n"
                  "\n"
                  "Methods:\n"
                  "  absmax   llama.cpp's rounding (its file, byte for byte)\n"
                  "  absmean  BitNet b1.58's: one scale per tensor, its mean magnitude\n"
                  "  twn      per block, the threshold and least-squares scale of least error\n"
                  "  calibrated  GPTQ: the model reads a text (--calibration, by default parts of\n"
                  "           Genesis, Psalms, Matthew and Isaiah, KJV), each layer's inputs weigh\n"
                  "           the error, and each weight's rounding error is passed on to the\n"
                  "           weights after it\n"
                  "\n"
                  "With --max-size, the output matrix starts at Q4_K and the bytes the target\n"
                  "leaves keep the matrices that matter most at Q4_K or Q6_K: each one's\n"
                  "sensitivity is measured on the calibration text (the model's predictions\n"
                  "with that matrix alone ternary, against the original's).\n"
                  "\n"
                  "A model trained for ternary weights comes out as it was with absmean and\n"
                  "twn. Ctrl+C stops and leaves no file.\n"
                  "\n"
                  "Then both models are measured on held-out text (the Book of Revelation,\n"
                  "KJV, unless --eval-text says otherwise): perplexity as llama-perplexity\n"
                  "scores it (chunks of half the training context, at most 512 tokens, over\n"
                  "at most 4096 tokens) and generation tokens/s, with a verdict: usable\n"
                  "(perplexity within 10%), degraded (within twice), or unusable.",
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
      g_printerr ("tern-cli compress: --method: '%s' is not absmax, absmean, twn or calibrated\n", method_name);
      return CLI_EXIT_USAGE;
    }

  if (max_size && !parse_size (max_size, argv[1], &params.max_size, &error))
    {
      if (error->domain == TERN_ENGINE_ERROR)
        return cli_fail (CLI_EXIT_MODEL, error);
      g_printerr ("tern-cli compress: --max-size: %s\n", error->message);
      return CLI_EXIT_USAGE;
    }
  if (no_eval && eval_path)
    {
      g_printerr ("tern-cli compress: --eval-text and --no-eval exclude each other\n");
      return CLI_EXIT_USAGE;
    }
  if ((params.method == TERN_COMPRESS_CALIBRATED || params.max_size > 0) && calibration_path == NULL)
    calibration_path = g_strdup (bundled (TERN_CALIBRATION_TEXT_INSTALLED, TERN_CALIBRATION_TEXT_SOURCE));
  if (calibration_path)
    {
      if (!cli_read_file (calibration_path, CLI_TEXT_MAX_BYTES, "text", &calibration, &calibration_len, &error))
        return cli_fail (CLI_EXIT_MODEL, error);
      params.calibration_text = calibration;
      params.calibration_len = (gssize) calibration_len;
    }
  /* Read before the work starts: a bad text should not cost a compression. */
  if (!no_eval && !cli_read_file (eval_path ? eval_path : bundled (TERN_HELDOUT_TEXT_INSTALLED, TERN_HELDOUT_TEXT_SOURCE), CLI_TEXT_MAX_BYTES, "text",
                                  &eval_text, &eval_len, &error))
    return cli_fail (CLI_EXIT_MODEL, error);

  interrupt = cli_interrupt_new ();
  cli_interrupt_arm (interrupt, TRUE);
  report = tern_compress (argv[1], argv[2], &params, show_progress, &progress, cli_interrupt_cancellable (interrupt),
                          &error);
  if (progress.tty && progress.shown >= 0)
    g_printerr ("\n");
  if (report == NULL)
    return cli_fail (CLI_EXIT_MODEL, error);
  if (eval_text)
    {
      progress.phase = "measuring";
      progress.shown = -1;
      if (!tern_compress_evaluate (report, eval_text, (gssize) eval_len, params.n_threads, show_progress,
                                   &progress, cli_interrupt_cancellable (interrupt), &error))
        {
          if (progress.tty)
            g_printerr ("\n");
          /* The file is made; only its measure failed. */
          g_printerr ("tern-cli compress: %s is written, but could not be measured: %s\n", argv[2], error->message);
          return CLI_EXIT_MODEL;
        }
      if (progress.tty)
        g_printerr ("\n");
    }
  print_summary (report);
  if (report_path)
    {
      g_autofree char *json = tern_compress_report_to_json (report);

      if (!g_file_set_contents (report_path, json, -1, &error))
        return cli_fail (CLI_EXIT_MODEL, error);
    }
  return CLI_EXIT_OK;
}
