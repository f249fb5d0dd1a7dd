/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Measures how long the main loop goes without running: a high-priority
 * timeout every millisecond records the time since it last ran, so each
 * sample is how long the loop was busy in that moment. Two clocks: the
 * wall clock (what the user sees) and the main thread's CPU time (what the
 * app's own work cost, leaving out the time the thread waited for a core
 * other processes held). Main thread only. */
typedef struct {
  GArray *wall_us; /* gint64: wall time between two runs of the timeout */
  GArray *cpu_us;  /* gint64: the main thread's CPU time in that interval */
  gint64 last_wall;
  gint64 last_cpu;
  guint source;
} MainLoopProbe;

typedef enum {
  PROBE_WALL,
  PROBE_CPU,
} ProbeClock;

void main_loop_probe_start (MainLoopProbe *probe);
void main_loop_probe_stop (MainLoopProbe *probe);
guint main_loop_probe_n_samples (MainLoopProbe *probe);
/* The @q quantile (0..1) of the gaps on @clock, in milliseconds. */
double main_loop_probe_quantile_ms (MainLoopProbe *probe, ProbeClock clock, double q);
/* Prints n and p50, p99, max on both clocks for @what, with g_test_message
 * or to stdout when @to_stdout. */
void main_loop_probe_report (MainLoopProbe *probe, const char *what, gboolean to_stdout);
void main_loop_probe_clear (MainLoopProbe *probe);

G_END_DECLS
