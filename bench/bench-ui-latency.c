/* SPDX-License-Identifier: GPL-3.0-or-later */
/* bench-ui-latency [MODEL] [--ctx N] [--reply N] [--exchanges N]: how long
 * the window's main loop goes without running while a reply streams and
 * while a long transcript is evaluated again (p50, p99, max of the gaps
 * between runs of a 1 ms high-priority timeout), on the real application.
 * Needs a display and a session bus:
 *   xvfb-run -a dbus-run-session -- meson devenv -C build bench/bench-ui-latency
 * MODEL defaults to the tiny fixture model. */
#include <adwaita.h>
#include <stdio.h>

#include "latency-scenario.h"

int
main (int argc, char *argv[])
{
  int n_ctx = 8192, reply = 400, exchanges = 100;
  g_autofree char *model = NULL;
  g_autofree char *default_model = g_build_filename (TERN_SOURCE_DIR, "tests", "data", "models",
                                                     "kjv-tiny-q4_k_m.gguf", NULL);
  GOptionEntry entries[] = {
    { "ctx", 0, 0, G_OPTION_ARG_INT, &n_ctx, "Context size (tokens)", "N" },
    { "reply", 0, 0, G_OPTION_ARG_INT, &reply, "Reply length (tokens)", "N" },
    { "exchanges", 0, 0, G_OPTION_ARG_INT, &exchanges, "Exchanges in the transcript evaluated again", "N" },
    { NULL },
  };
  g_autoptr (GOptionContext) options = g_option_context_new ("[MODEL]");
  g_autoptr (GError) error = NULL;
  MainLoopProbe streaming = { 0 }, ingest = { 0 };

  g_option_context_add_main_entries (options, entries, NULL);
  if (!g_option_context_parse (options, &argc, &argv, &error) || argc > 2)
    {
      fprintf (stderr, "%s\n", error ? error->message : "one model at most");
      return 1;
    }
  model = g_strdup (argc == 2 ? argv[1] : default_model);
  /* The app's settings stay in memory, not in the user's. */
  g_setenv ("GSETTINGS_BACKEND", "memory", TRUE);
  /* Under Xvfb, GL would be Mesa's software rasterizer, whose frames (about
   * 30 ms each on two busy cores) measure Mesa, not the app. Cairo draws
   * the same; GSK_RENDERER set by hand still wins. */
  g_setenv ("GSK_RENDERER", "cairo", FALSE);
  gtk_init ();
  adw_init ();

  latency_scenario_run (model, n_ctx, reply, (guint) exchanges, &streaming, &ingest, NULL);
  printf ("main loop gaps on %s (context %d, one engine thread)\n", model, n_ctx);
  main_loop_probe_report (&streaming, "reply streaming", TRUE);
  main_loop_probe_report (&ingest, "transcript re-ingest", TRUE);
  main_loop_probe_clear (&streaming);
  main_loop_probe_clear (&ingest);
  return 0;
}
