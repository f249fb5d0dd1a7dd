/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/* The guard over mapped files, private to the GGUF layer (reader.c
 * registers each mapping it makes).
 *
 * A mapped file that shrinks on disk (truncated, or rewritten in place by a
 * shorter one) turns a read of a page past its new end into SIGBUS, which
 * would kill the process. While a mapping is registered, a process-wide
 * SIGBUS handler maps zero pages over it from the faulting page to its end,
 * so the read that faulted, and every later one, completes with zeros, and
 * marks the mapping damaged: the engine checks the mark where a result
 * leaves it (tern_gguf_check_intact) and fails rather than use the zeros.
 * Any other SIGBUS goes to the handler installed before the guard's, or
 * takes the default action (the process dies of it) as without the guard.
 *
 * The handler is installed with the first registration. Any thread may
 * register and unregister. */

#include <glib.h>

/* The most mappings registered at once. */
#define TERN_GGUF_GUARD_SLOTS 256

/* Registers the mapping of @size bytes at @data (@size > 0) and returns
 * its slot, or -1 when all TERN_GGUF_GUARD_SLOTS are taken. */
int tern_gguf_guard_register (const void *data, gsize size);

/* Unregisters the mapping in @slot: call it before unmapping, once nothing
 * reads the mapping any more. */
void tern_gguf_guard_unregister (int slot);

/* Whether a read of the mapping in @slot faulted since it was registered.
 * Any thread. */
gboolean tern_gguf_guard_damaged (int slot);
