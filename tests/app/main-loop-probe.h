/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Measures how long the main loop goes without running: a
 * high-priority timeout every millisecond records the time since it last
 * ran, so each sample is the longest the loop was busy (or blocked) in
 * that moment. Main thread only. */
typedef struct {
  GArray *gaps_us; /* gint64: time between two runs of the timeout */
  gint64 last;
  guint source;
} MainLoopProbe;

void main_loop_probe_start (MainLoopProbe *probe);
void main_loop_probe_stop (MainLoopProbe *probe);
/* The @q quantile (0..1) of the gaps, in milliseconds. */
double main_loop_probe_quantile_ms (MainLoopProbe *probe, double q);
/* Prints n, p50, p99 and max for @what with g_test_message, or to stdout
 * when @to_stdout. */
void main_loop_probe_report (MainLoopProbe *probe, const char *what, gboolean to_stdout);
void main_loop_probe_clear (MainLoopProbe *probe);

G_END_DECLS
