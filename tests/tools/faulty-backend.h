/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* A backend that fails or is stopped on demand, for testing that every
 * caller of the backend interface comes out of each failure and each stop
 * cleanly (as SQLite's tests fail its allocations and writes): the device
 * "faulty", which computes on the CPU backend and fails what the plan says.
 * Its failures are for good, as the interface requires of a device lost
 * (engine/backend/backend.h). */

/* Adds the device "faulty" to the registry. Call once, from main. */
void faulty_backend_register (void);

/* What fails in the backends opened from now on (at first: nothing), each
 * counted from 0, -1 for nothing: allocation @fail_alloc (NOMEM; 0 is the
 * backend itself, then its buffers in order), the submit of pass
 * @fail_submit (DEVICE), the read, write, kv_save or kv_load number
 * @fail_io (DEVICE). */
void faulty_backend_plan (gint fail_alloc, gint fail_submit, gint fail_io);

/* Allocations the last backend opened has made (or tried), itself included. */
gint faulty_backend_n_allocs (void);

/* Where the passes of the backends opened from now on stop: at recorded
 * operation number @op (counted from 0 over the backend's passes; -1:
 * nowhere), the pass's cancellable is cancelled there when @cancel, as a
 * Stop arriving then; otherwise the thread recording it waits there until
 * the pass is stopped, as in an operation that runs until then. Either way
 * the pass then goes on as the interface says, and the operation must be in
 * a pass begun with a cancellable. */
void faulty_backend_plan_stop (gint op, gboolean cancel);
/* Whether a thread waits at the planned operation now. Any thread. */
gboolean faulty_backend_waiting (void);
/* Operations the last backend opened has recorded, and those of them
 * recorded once their pass was stopped (the one it stopped at included).
 * Read them once the backend's thread is done with it. */
gint faulty_backend_n_ops (void);
gint faulty_backend_n_ops_stopped (void);

G_END_DECLS
