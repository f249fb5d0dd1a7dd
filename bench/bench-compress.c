/* SPDX-License-Identifier: GPL-3.0-or-later */

/* Throughput of ternary compression: MB/s of input for each method, the
 * best of a few runs, the output written to a temporary folder beside
 * nothing else. For llama.cpp's figure, make the model with
 *   tern-cli make-model bench-1b-f16.gguf --preset bench-1b --type f16 \
 *     --vocab tests/data/vocab/ggml-vocab-llama-spm.gguf
 * and time llama-quantize bench-1b-f16.gguf out.gguf TQ2_0 2 on it.
 *
 *   bench-compress MODEL.gguf [--threads N] [--runs N] [--type tq2_0|tq1_0] */

#include <tern/compress.h>

#include <glib/gstdio.h>
#include <stdio.h>
#include <stdlib.h>

int
main (int argc, char **argv)
{
  gint n_threads = 2, runs = 3;
  g_autofree char *type_name = NULL;
  const GOptionEntry entries[] = {
    { "threads", 't', 0, G_OPTION_ARG_INT, &n_threads, "Threads (default 2)", "N" },
    { "runs", 'r', 0, G_OPTION_ARG_INT, &runs, "Runs per method, the best kept (default 3)", "N" },
    { "type", 0, 0, G_OPTION_ARG_STRING, &type_name, "tq2_0 (default) or tq1_0", "TYPE" },
    { NULL },
  };
  g_autoptr (GOptionContext) options = g_option_context_new ("MODEL.gguf");
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = NULL, *out = NULL;
  TernType type = TERN_TYPE_TQ2_0;
  GStatBuf st;

  g_option_context_add_main_entries (options, entries, NULL);
  if (!g_option_context_parse (options, &argc, &argv, &error) || argc != 2 || runs < 1 || n_threads < 1 ||
      (type_name && !tern_type_from_name (type_name, &type)))
    {
      fprintf (stderr, "usage: bench-compress MODEL.gguf [--threads N] [--runs N] [--type tq2_0|tq1_0]\n");
      return 1;
    }
  if (g_stat (argv[1], &st) != 0)
    {
      fprintf (stderr, "bench-compress: cannot read %s\n", argv[1]);
      return 1;
    }
  dir = g_dir_make_tmp ("bench-compress-XXXXXX", &error);
  if (dir == NULL)
    {
      fprintf (stderr, "bench-compress: %s\n", error->message);
      return 1;
    }
  out = g_build_filename (dir, "out.gguf", NULL);

  printf ("%s: %.1f MB, %s, %d threads, best of %d\n", argv[1], st.st_size / 1e6, tern_type_name (type), n_threads,
          runs);
  printf ("%-10s %10s %10s %10s %9s\n", "method", "MB/s", "seconds", "out MB", "rel.err");
  for (guint m = 0; m < TERN_COMPRESS_N_METHODS; m++)
    {
      double best = G_MAXDOUBLE, out_mb = 0.0, rel_error = 0.0;

      for (int r = 0; r < runs; r++)
        {
          TernCompressParams params;
          g_autoptr (TernCompressReport) report = NULL;

          tern_compress_params_init (&params);
          params.type = type;
          params.method = m;
          params.n_threads = (guint) n_threads;
          report = tern_compress (argv[1], out, &params, NULL, NULL, NULL, &error);
          if (report == NULL)
            {
              fprintf (stderr, "bench-compress: %s\n", error->message);
              g_rmdir (dir);
              return 2;
            }
          best = MIN (best, report->seconds);
          out_mb = report->out_size / 1e6;
          rel_error = report->rel_error;
          g_unlink (out);
        }
      printf ("%-10s %10.1f %10.3f %10.1f %9.4f\n", tern_compress_method_name (m), st.st_size / 1e6 / best, best,
              out_mb, rel_error);
    }
  g_rmdir (dir);
  return 0;
}
