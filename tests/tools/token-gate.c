/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "token-gate.h"

static void
on_token (TernService *service, guint n_tokens, gpointer data)
{
  TokenGate *gate = data;

  if (n_tokens != gate->at)
    return;
  g_mutex_lock (&gate->lock);
  gate->reached = TRUE;
  /* The waiting main loop sleeps in poll(): wake it to see the flag. */
  g_main_context_wakeup (NULL);
  while (!gate->released)
    g_cond_wait (&gate->cond, &gate->lock);
  g_mutex_unlock (&gate->lock);
}

void
token_gate_install (TokenGate *gate, TernService *service, guint at)
{
  g_assert_cmpuint (at, >, 0);
  g_mutex_init (&gate->lock);
  g_cond_init (&gate->cond);
  gate->at = at;
  gate->reached = FALSE;
  gate->released = FALSE;
  tern_service_testing_set_token_hook (service, on_token, gate);
}

static gboolean
tick (gpointer data)
{
  return G_SOURCE_CONTINUE;
}

static gboolean
reached (TokenGate *gate)
{
  g_mutex_lock (&gate->lock);
  gboolean r = gate->reached;
  g_mutex_unlock (&gate->lock);
  return r;
}

void
token_gate_wait (TokenGate *gate, guint timeout_s)
{
  gint64 deadline = g_get_monotonic_time () + timeout_s * G_USEC_PER_SEC;
  /* Wakes the loop now and then, so that the deadline is seen. */
  guint ticker = g_timeout_add (100, tick, NULL);

  while (!reached (gate))
    {
      if (g_get_monotonic_time () > deadline)
        g_error ("the reply never reached token %u in %u s", gate->at, timeout_s);
      g_main_context_iteration (NULL, TRUE);
    }
  g_source_remove (ticker);
  while (g_main_context_pending (NULL))
    g_main_context_iteration (NULL, FALSE);
}

void
token_gate_release (TokenGate *gate)
{
  g_mutex_lock (&gate->lock);
  gate->released = TRUE;
  g_cond_signal (&gate->cond);
  g_mutex_unlock (&gate->lock);
}

void
token_gate_remove (TokenGate *gate, TernService *service)
{
  token_gate_release (gate);
  tern_service_testing_set_token_hook (service, NULL, NULL);
  g_mutex_clear (&gate->lock);
  g_cond_clear (&gate->cond);
}
