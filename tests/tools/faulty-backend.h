/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* A backend that fails on demand, for testing that every caller of the
 * backend interface comes out of each failure cleanly (as SQLite's tests
 * fail its allocations and writes): the device "faulty", which computes on
 * the CPU backend and fails what the plan says. Its failures are for good,
 * as the interface requires of a device lost (engine/backend/backend.h). */

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

G_END_DECLS
