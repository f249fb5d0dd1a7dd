/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "main-loop-probe.h"

#include <math.h>
#include <stdio.h>

static gboolean
on_tick (gpointer data)
{
  MainLoopProbe *probe = data;
  gint64 now = g_get_monotonic_time ();
  gint64 gap = now - probe->last;

  g_array_append_val (probe->gaps_us, gap);
  probe->last = now;
  return G_SOURCE_CONTINUE;
}

void
main_loop_probe_start (MainLoopProbe *probe)
{
  probe->gaps_us = g_array_new (FALSE, FALSE, sizeof (gint64));
  probe->last = g_get_monotonic_time ();
  probe->source = g_timeout_add_full (G_PRIORITY_HIGH, 1, on_tick, probe, NULL);
}

void
main_loop_probe_stop (MainLoopProbe *probe)
{
  g_clear_handle_id (&probe->source, g_source_remove);
}

static int
compare (gconstpointer a, gconstpointer b)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;

  return (x > y) - (x < y);
}

double
main_loop_probe_quantile_ms (MainLoopProbe *probe, double q)
{
  guint n = probe->gaps_us->len;

  if (n == 0)
    return 0;
  g_array_sort (probe->gaps_us, compare);
  guint i = (guint) MIN (floor (q * (n - 1) + 0.5), n - 1);
  return g_array_index (probe->gaps_us, gint64, i) / 1000.0;
}

void
main_loop_probe_report (MainLoopProbe *probe, const char *what, gboolean to_stdout)
{
  g_autofree char *line = g_strdup_printf ("%-28s samples %6u   p50 %6.2f ms   p99 %6.2f ms   max %6.2f ms", what,
                                           probe->gaps_us->len, main_loop_probe_quantile_ms (probe, 0.5),
                                           main_loop_probe_quantile_ms (probe, 0.99),
                                           main_loop_probe_quantile_ms (probe, 1.0));

  if (to_stdout)
    printf ("%s\n", line);
  else
    g_test_message ("%s", line);
}

void
main_loop_probe_clear (MainLoopProbe *probe)
{
  main_loop_probe_stop (probe);
  g_clear_pointer (&probe->gaps_us, g_array_unref);
}
