/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* A persistent pool of compute threads, for the engine's compute (the CPU
 * backend, compression): not installed, not for the app or tern-cli. The
 * thread that calls tern_thread_pool_run takes part as thread 0, so a pool
 * of N threads starts N - 1 workers. Workers spin briefly between jobs (a decode step
 * issues hundreds of jobs per token) and then sleep.
 *
 * A pool is used by one thread at a time (the engine thread); the function
 * it runs is called concurrently on every pool thread. */

typedef struct TernThreadPool TernThreadPool;

/* Called on each of @n_threads threads with its @thread_index (0..n-1). */
typedef void (*TernParallelFn) (gpointer data, guint thread_index, guint n_threads);

/* Creates a pool of @n_threads threads in all (>= 1); NULL with NOMEM when
 * a thread cannot be started (its stack is memory too). */
TernThreadPool *tern_thread_pool_new (guint n_threads, GError **error);
/* Stops and joins the workers. */
void tern_thread_pool_free (TernThreadPool *pool);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TernThreadPool, tern_thread_pool_free)

guint tern_thread_pool_n_threads (const TernThreadPool *pool);

/* Runs @fn on every thread of the pool and returns when all are done. */
void tern_thread_pool_run (TernThreadPool *pool, TernParallelFn fn, gpointer data);

/* The number of physical cores (hyper-threads of a core count once): the
 * default thread count. At least 1. */
guint tern_physical_cores (void);

/* Splits @n items into @n_parts nearly equal ranges; sets [*start, *end)
 * of part @part. */
static inline void
tern_split_range (gint64 n, guint part, guint n_parts, gint64 *start, gint64 *end)
{
  gint64 base = n / n_parts, extra = n % n_parts;
  *start = part * base + MIN ((gint64) part, extra);
  *end = *start + base + ((gint64) part < extra ? 1 : 0);
}

G_END_DECLS
