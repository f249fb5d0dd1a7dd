/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "core/threadpool.h"
#include <string.h>
#include <sys/resource.h>
#include <tern/error.h>
#include <unistd.h>

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
      g_autoptr (GError) error = NULL;
      g_autoptr (TernThreadPool) pool = tern_thread_pool_new (n_threads, &error);
      g_assert_no_error (error);
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
  g_autoptr (GError) error = NULL;
  g_autoptr (TernThreadPool) pool = tern_thread_pool_new (3, &error);
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

/* Short of memory for the threads' stacks (an address-space limit a little
 * above what the process uses), creating a pool fails with NOMEM, and the
 * workers already started are stopped. In a subprocess, which the limit
 * would otherwise outlive; not under ASan, whose shadow memory needs far
 * more address space than any limit leaves. */
static void
test_no_memory (void)
{
#ifdef __SANITIZE_ADDRESS__
  g_test_skip ("ASan reserves more address space than the limit allows");
#else
  if (g_test_subprocess ())
    {
      g_autofree char *statm = NULL;
      g_autoptr (GError) error = NULL;
      struct rlimit limit;

      g_assert_true (g_file_get_contents ("/proc/self/statm", &statm, NULL, NULL));
      limit.rlim_cur = limit.rlim_max = g_ascii_strtoull (statm, NULL, 10) * sysconf (_SC_PAGESIZE) + (16 << 20);
      g_assert_cmpint (setrlimit (RLIMIT_AS, &limit), ==, 0);
      TernThreadPool *pool = tern_thread_pool_new (256, &error);
      g_assert_null (pool);
      g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_NOMEM);
      g_assert_nonnull (strstr (error->message, "not enough memory to start 256 compute threads"));
      return;
    }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
#endif
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
  g_test_add_func ("/engine/threadpool/no-memory", test_no_memory);
  g_test_add_func ("/engine/threadpool/split-range", test_split_range);
  g_test_add_func ("/engine/threadpool/physical-cores", test_physical_cores);
  return g_test_run ();
}
