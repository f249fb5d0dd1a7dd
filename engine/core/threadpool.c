/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "threadpool.h"

#include <stdatomic.h>
#include <string.h>
#include <tern/error.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define cpu_relax() _mm_pause ()
#else
#define cpu_relax() ((void) 0)
#endif

/* How long a worker spins for the next job before sleeping: long enough
 * to bridge the gap between the jobs of one forward pass, short enough
 * not to burn a core while the user reads. */
#define SPIN_ITERATIONS 200000

/* Spinning threads yield now and then, so that a pool larger than the
 * free cores still makes progress. */
static inline void
spin_pause (int i)
{
  if ((i & 255) == 255)
    g_thread_yield ();
  else
    cpu_relax ();
}

struct TernThreadPool {
  guint n_threads;
  GThread **workers;

  /* The current job; published by bumping @generation. */
  TernParallelFn fn;
  gpointer data;
  atomic_uint generation;
  atomic_uint pending;   /* workers still running the current job */
  atomic_bool stop;

  GMutex lock;           /* guards sleeping, with @wake and @done */
  GCond wake;
  GCond done;
  guint sleepers;
};

typedef struct {
  TernThreadPool *pool;
  guint index;
} WorkerArgs;

static guint
wait_for_job (TernThreadPool *pool, guint seen)
{
  guint gen;
  for (int i = 0; i < SPIN_ITERATIONS; i++)
    {
      gen = atomic_load_explicit (&pool->generation, memory_order_acquire);
      if (gen != seen)
        return gen;
      spin_pause (i);
    }
  g_mutex_lock (&pool->lock);
  pool->sleepers++;
  while ((gen = atomic_load_explicit (&pool->generation, memory_order_acquire)) == seen)
    g_cond_wait (&pool->wake, &pool->lock);
  pool->sleepers--;
  g_mutex_unlock (&pool->lock);
  return gen;
}

static gpointer
worker_main (gpointer user_data)
{
  WorkerArgs *args = user_data;
  TernThreadPool *pool = args->pool;
  guint index = args->index;
  guint seen = 0;

  g_free (args);
  for (;;)
    {
      seen = wait_for_job (pool, seen);
      if (atomic_load (&pool->stop))
        return NULL;
      pool->fn (pool->data, index, pool->n_threads);
      if (atomic_fetch_sub_explicit (&pool->pending, 1, memory_order_acq_rel) == 1)
        {
          g_mutex_lock (&pool->lock);
          g_cond_signal (&pool->done);
          g_mutex_unlock (&pool->lock);
        }
    }
}

TernThreadPool *
tern_thread_pool_new (guint n_threads, GError **error)
{
  TernThreadPool *pool = g_new0 (TernThreadPool, 1);
  g_autoptr (GError) local = NULL;

  g_assert (n_threads >= 1);
  pool->n_threads = n_threads;
  g_mutex_init (&pool->lock);
  g_cond_init (&pool->wake);
  g_cond_init (&pool->done);
  pool->workers = g_new0 (GThread *, n_threads);
  for (guint i = 1; i < n_threads; i++)
    {
      WorkerArgs *args = g_new (WorkerArgs, 1);
      args->pool = pool;
      args->index = i;
      pool->workers[i] = g_thread_try_new ("tern-compute", worker_main, args, &local);
      if (pool->workers[i] == NULL)
        {
          g_free (args);
          /* Each thread's stack is memory too: short of it, creating one
           * fails. The free below joins those started. */
          g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_NOMEM,
                       "not enough memory to start %u compute threads (%s): use fewer threads", n_threads,
                       local->message);
          pool->n_threads = i;
          tern_thread_pool_free (pool);
          return NULL;
        }
    }
  return pool;
}

/* Publishes the job held in pool->fn/data to the workers. */
static void
publish (TernThreadPool *pool)
{
  atomic_fetch_add_explicit (&pool->generation, 1, memory_order_acq_rel);
  g_mutex_lock (&pool->lock);
  if (pool->sleepers > 0)
    g_cond_broadcast (&pool->wake);
  g_mutex_unlock (&pool->lock);
}

void
tern_thread_pool_free (TernThreadPool *pool)
{
  if (pool == NULL)
    return;
  atomic_store (&pool->stop, TRUE);
  publish (pool);
  for (guint i = 1; i < pool->n_threads; i++)
    g_thread_join (pool->workers[i]);
  g_free (pool->workers);
  g_mutex_clear (&pool->lock);
  g_cond_clear (&pool->wake);
  g_cond_clear (&pool->done);
  g_free (pool);
}

guint
tern_thread_pool_n_threads (const TernThreadPool *pool)
{
  return pool->n_threads;
}

void
tern_thread_pool_run (TernThreadPool *pool, TernParallelFn fn, gpointer data)
{
  if (pool->n_threads == 1)
    {
      fn (data, 0, 1);
      return;
    }

  pool->fn = fn;
  pool->data = data;
  atomic_store_explicit (&pool->pending, pool->n_threads - 1, memory_order_release);
  publish (pool);

  fn (data, 0, pool->n_threads);

  for (int i = 0; i < SPIN_ITERATIONS; i++)
    {
      if (atomic_load_explicit (&pool->pending, memory_order_acquire) == 0)
        return;
      spin_pause (i);
    }
  g_mutex_lock (&pool->lock);
  while (atomic_load_explicit (&pool->pending, memory_order_acquire) != 0)
    g_cond_wait (&pool->done, &pool->lock);
  g_mutex_unlock (&pool->lock);
}

guint
tern_physical_cores (void)
{
  g_autoptr (GHashTable) cores = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  guint n_cpus = g_get_num_processors ();

  for (guint cpu = 0; cpu < n_cpus; cpu++)
    {
      g_autofree char *path = g_strdup_printf ("/sys/devices/system/cpu/cpu%u/topology/thread_siblings_list", cpu);
      g_autofree char *siblings = NULL;
      if (!g_file_get_contents (path, &siblings, NULL, NULL))
        return MAX (n_cpus, 1);
      g_hash_table_add (cores, g_strdup (g_strstrip (siblings)));
    }
  return MAX (g_hash_table_size (cores), 1);
}
