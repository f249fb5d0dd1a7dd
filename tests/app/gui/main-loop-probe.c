/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "main-loop-probe.h"

#include <math.h>
#include <stdio.h>
#include <time.h>

static gint64
thread_cpu_us (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_THREAD_CPUTIME_ID, &ts);
  return (gint64) ts.tv_sec * G_USEC_PER_SEC + ts.tv_nsec / 1000;
}

static gboolean
on_tick (gpointer data)
{
  MainLoopProbe *probe = data;
  gint64 wall = g_get_monotonic_time (), cpu = thread_cpu_us ();
  gint64 wall_gap = wall - probe->last_wall, cpu_gap = cpu - probe->last_cpu;

  g_array_append_val (probe->wall_us, wall_gap);
  g_array_append_val (probe->cpu_us, cpu_gap);
  probe->last_wall = wall;
  probe->last_cpu = cpu;
  return G_SOURCE_CONTINUE;
}

void
main_loop_probe_start (MainLoopProbe *probe)
{
  probe->wall_us = g_array_new (FALSE, FALSE, sizeof (gint64));
  probe->cpu_us = g_array_new (FALSE, FALSE, sizeof (gint64));
  probe->last_wall = g_get_monotonic_time ();
  probe->last_cpu = thread_cpu_us ();
  probe->source = g_timeout_add_full (G_PRIORITY_HIGH, 1, on_tick, probe, NULL);
}

void
main_loop_probe_stop (MainLoopProbe *probe)
{
  g_clear_handle_id (&probe->source, g_source_remove);
}

guint
main_loop_probe_n_samples (MainLoopProbe *probe)
{
  return probe->wall_us->len;
}

static int
compare (gconstpointer a, gconstpointer b)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;

  return (x > y) - (x < y);
}

double
main_loop_probe_quantile_ms (MainLoopProbe *probe, ProbeClock clock, double q)
{
  GArray *gaps = clock == PROBE_WALL ? probe->wall_us : probe->cpu_us;
  guint n = gaps->len;

  if (n == 0)
    return 0;
  g_array_sort (gaps, compare);
  guint i = (guint) MIN (floor (q * (n - 1) + 0.5), n - 1);
  return g_array_index (gaps, gint64, i) / 1000.0;
}

void
main_loop_probe_report (MainLoopProbe *probe, const char *what, gboolean to_stdout)
{
  for (ProbeClock clock = PROBE_WALL; clock <= PROBE_CPU; clock++)
    {
      g_autofree char *line = g_strdup_printf (
          "%-22s %-5s samples %6u   p50 %6.2f ms   p99 %6.2f ms   max %6.2f ms", what,
          clock == PROBE_WALL ? "wall" : "cpu", main_loop_probe_n_samples (probe),
          main_loop_probe_quantile_ms (probe, clock, 0.5), main_loop_probe_quantile_ms (probe, clock, 0.99),
          main_loop_probe_quantile_ms (probe, clock, 1.0));
      if (to_stdout)
        printf ("%s\n", line);
      else
        g_test_message ("%s", line);
    }
}

void
main_loop_probe_clear (MainLoopProbe *probe)
{
  main_loop_probe_stop (probe);
  g_clear_pointer (&probe->wall_us, g_array_unref);
  g_clear_pointer (&probe->cpu_us, g_array_unref);
}
