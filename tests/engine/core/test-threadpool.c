/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "core/threadpool.h"

typedef struct {
  gint64 n;
  gint64 *out;
  guint calls[8];
} SumJob;

/* Each thread writes its own range: any lost or doubled call shows. */
static void
fill (gpointer data, guint index, guint n_threads)
{
  SumJob *job = data;
  gint64 start, end;

  tern_split_range (job->n, index, n_threads, &start, &end);
  for (gint64 i = start; i < end; i++)
    job->out[i] += i;
  job->calls[index]++;
}

static void
test_run (void)
{
  for (guint n_threads = 1; n_threads <= 4; n_threads++)
    {
      g_autoptr (TernThreadPool) pool = tern_thread_pool_new (n_threads);
      SumJob job = { .n = 1001 };
      const guint rounds = 2000;

      job.out = g_new0 (gint64, job.n);
      g_assert_cmpuint (tern_thread_pool_n_threads (pool), ==, n_threads);
      for (guint r = 0; r < rounds; r++)
        tern_thread_pool_run (pool, fill, &job);
      for (gint64 i = 0; i < job.n; i++)
        g_assert_cmpint (job.out[i], ==, i * rounds);
      for (guint t = 0; t < n_threads; t++)
        g_assert_cmpuint (job.calls[t], ==, rounds);
      g_free (job.out);
    }
}

/* Workers that fell asleep between jobs wake for the next one. */
static void
test_sleep_and_wake (void)
{
  g_autoptr (TernThreadPool) pool = tern_thread_pool_new (3);
  SumJob job = { .n = 10 };

  job.out = g_new0 (gint64, job.n);
  for (guint r = 0; r < 3; r++)
    {
      g_usleep (200 * 1000);
      tern_thread_pool_run (pool, fill, &job);
    }
  for (gint64 i = 0; i < job.n; i++)
    g_assert_cmpint (job.out[i], ==, i * 3);
  g_free (job.out);
}

static void
test_split_range (void)
{
  for (gint64 n = 0; n < 50; n++)
    for (guint parts = 1; parts < 9; parts++)
      {
        gint64 next = 0;
        for (guint p = 0; p < parts; p++)
          {
            gint64 start, end;
            tern_split_range (n, p, parts, &start, &end);
            g_assert_cmpint (start, ==, next);
            g_assert_cmpint (end - start, <=, n / parts + 1);
            next = end;
          }
        g_assert_cmpint (next, ==, n);
      }
}

static void
test_physical_cores (void)
{
  guint n = tern_physical_cores ();
  g_assert_cmpuint (n, >=, 1);
  g_assert_cmpuint (n, <=, g_get_num_processors ());
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/engine/threadpool/run", test_run);
  g_test_add_func ("/engine/threadpool/sleep-and-wake", test_sleep_and_wake);
  g_test_add_func ("/engine/threadpool/split-range", test_split_range);
  g_test_add_func ("/engine/threadpool/physical-cores", test_physical_cores);
  return g_test_run ();
}
