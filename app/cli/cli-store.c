/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The store as tern-cli opens it: a wait for another program said on
 * stderr, and Ctrl+C ending a store call rather than the process. */
#include "cli.h"

#include <glib-unix.h>
#include <signal.h>

static gboolean
say_waiting (TernStore *store, gboolean first, gpointer user_data)
{
  if (first)
    g_printerr ("tern-cli: waiting for the database: another program is using it…\n");
  return TRUE;
}

TernStore *
cli_store_open (const char *path, GError **error)
{
  TernStore *store = tern_store_open (path, error);

  if (store)
    tern_store_set_busy_func (store, say_waiting, NULL);
  return store;
}

/* SIGINT is seen by a thread of its own (the main thread may be waiting in
 * SQLite): while armed it cancels, otherwise it ends the process as
 * SIGINT always did. */
struct CliInterrupt {
  GMainContext *context;
  GMainLoop *loop;
  GSource *source;
  GThread *thread;
  GCancellable *cancellable;
  gint armed; /* atomic */
};

static gboolean
on_sigint (gpointer data)
{
  CliInterrupt *in = data;

  if (g_atomic_int_get (&in->armed))
    {
      g_cancellable_cancel (in->cancellable);
      return G_SOURCE_CONTINUE;
    }
  signal (SIGINT, SIG_DFL);
  raise (SIGINT);
  return G_SOURCE_REMOVE;
}

static gpointer
interrupt_main (gpointer data)
{
  CliInterrupt *in = data;

  g_main_context_push_thread_default (in->context);
  g_main_loop_run (in->loop);
  g_main_context_pop_thread_default (in->context);
  return NULL;
}

static gboolean
quit_loop (gpointer data)
{
  CliInterrupt *in = data;

  g_main_loop_quit (in->loop);
  return G_SOURCE_REMOVE;
}

CliInterrupt *
cli_interrupt_new (void)
{
  CliInterrupt *in = g_new0 (CliInterrupt, 1);

  in->context = g_main_context_new ();
  in->loop = g_main_loop_new (in->context, FALSE);
  in->cancellable = g_cancellable_new ();
  in->source = g_unix_signal_source_new (SIGINT);
  g_source_set_callback (in->source, on_sigint, in, NULL);
  g_source_attach (in->source, in->context);
  in->thread = g_thread_new ("tern-cli-sigint", interrupt_main, in);
  return in;
}

void
cli_interrupt_free (CliInterrupt *in)
{
  if (in == NULL)
    return;
  /* Through the loop: a quit before it runs would be lost. */
  g_main_context_invoke (in->context, quit_loop, in);
  g_thread_join (in->thread);
  g_source_destroy (in->source);
  g_source_unref (in->source);
  signal (SIGINT, SIG_DFL);
  g_main_loop_unref (in->loop);
  g_main_context_unref (in->context);
  g_object_unref (in->cancellable);
  g_free (in);
}

GCancellable *
cli_interrupt_cancellable (CliInterrupt *in)
{
  return in->cancellable;
}

void
cli_interrupt_arm (CliInterrupt *in, gboolean armed)
{
  g_atomic_int_set (&in->armed, armed);
}
