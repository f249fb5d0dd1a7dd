/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The window never stalls while a reply streams and while a long
 * transcript is evaluated again. The pauses of the main loop are measured
 * in the main thread's CPU time, the work the app did, so that another
 * process taking the cores does not fail the test; the wall-clock figures
 * are printed beside them, and bench-ui-latency prints both for the 50 ms
 * target on a quiet machine.
 *
 * The bounds hold on a runner twice as slow as the 2-core machines this
 * was measured on (busy ones, while other builds ran): 95% of the pauses
 * stay under 50 ms (measured: at most 16 ms), and none reaches 250 ms
 * (measured: 18-40 ms, and in about one run in four a single pause of
 * 100-117 ms, which a profile placed in GTK's list view making and
 * measuring rows). */
#include "latency-scenario.h"

#include <adwaita.h>

#define MAX_P95_MS 50.0
#define MAX_STALL_MS 250.0

static void
test_latency (void)
{
  g_autofree char *model = g_test_build_filename (G_TEST_DIST, "data", "models", "kjv-tiny-q4_k_m.gguf", NULL);
  MainLoopProbe streaming = { 0 }, ingest = { 0 };
  guint max_rows_added;

  latency_scenario_run (model, 8192, 300, 100, &streaming, &ingest, &max_rows_added);
  /* The rows of a long conversation come a few at a time, whatever the
   * machine's speed: making 200 at once stalled the loop 220-300 ms, under
   * the cap below only on a fast machine. */
  g_assert_cmpuint (max_rows_added, <=, 8);
  main_loop_probe_report (&streaming, "reply streaming", FALSE);
  main_loop_probe_report (&ingest, "transcript re-ingest", FALSE);
  g_assert_cmpuint (main_loop_probe_n_samples (&streaming), >, 10);
  g_assert_cmpuint (main_loop_probe_n_samples (&ingest), >, 10);
#ifdef __SANITIZE_ADDRESS__
  /* Instrumented code runs a few times slower: its timings say nothing. */
  g_test_skip ("timings are not checked under AddressSanitizer");
#else
  g_assert_cmpfloat (main_loop_probe_quantile_ms (&streaming, PROBE_CPU, 0.95), <, MAX_P95_MS);
  g_assert_cmpfloat (main_loop_probe_quantile_ms (&ingest, PROBE_CPU, 0.95), <, MAX_P95_MS);
  g_assert_cmpfloat (main_loop_probe_quantile_ms (&streaming, PROBE_CPU, 1.0), <, MAX_STALL_MS);
  g_assert_cmpfloat (main_loop_probe_quantile_ms (&ingest, PROBE_CPU, 1.0), <, MAX_STALL_MS);
#endif
  main_loop_probe_clear (&streaming);
  main_loop_probe_clear (&ingest);
}

int
main (int argc, char *argv[])
{
  gtk_test_init (&argc, &argv, NULL);
  adw_init ();

  g_test_add_func ("/app/main-loop-latency", test_latency);
  return g_test_run ();
}
