/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <tern/service-testing.h>

G_BEGIN_DECLS

/* Holds a reply of a TernService (its test build) at its @at-th token, so a
 * test can act at exactly that point: the engine thread waits in the
 * service's token hook until the test releases it. Main thread, except
 * the hook. */
typedef struct {
  GMutex lock;
  GCond cond;
  guint at;
  gboolean reached;  /* the engine thread waits at token @at */
  gboolean released; /* the test let it go on */
} TokenGate;

/* Sets @service's token hook to hold at token @at (1: the first). */
void token_gate_install (TokenGate *gate, TernService *service, guint at);
/* Runs the default main context until the engine thread holds at the
 * token, then until the events it sent before (the reply's text so far)
 * are delivered. Fails the test after @timeout_s seconds. */
void token_gate_wait (TokenGate *gate, guint timeout_s);
/* Lets the engine thread go on. */
void token_gate_release (TokenGate *gate);
/* Removes the hook (releasing the thread if it still waits). */
void token_gate_remove (TokenGate *gate, TernService *service);

G_END_DECLS
