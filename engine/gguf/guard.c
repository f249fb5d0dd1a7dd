/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The guard over mapped files (guard.h). The handler takes no lock and
 * allocates nothing, as a signal handler must: the registered ranges are a
 * fixed array of slots, each published under a sequence number that is odd
 * while the slot is being written, so the handler never takes half of one
 * range and half of another. Registering and unregistering take a mutex
 * among themselves only. */
#include "guard.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

typedef struct {
  atomic_uint seq;        /* odd while the slot is being written */
  atomic_uintptr_t start; /* the mapping's first byte */
  atomic_uintptr_t end;   /* past its last byte; start == end: a free slot */
  atomic_int damaged;
} Slot;

static Slot slots[TERN_GGUF_GUARD_SLOTS];

static GMutex lock;                            /* guards what follows */
static gboolean taken[TERN_GGUF_GUARD_SLOTS];
static gboolean installed;

/* Written before the handler is installed, read-only after. */
static struct sigaction previous;
static uintptr_t page_size;

/* Finds the registered range holding @addr; its slot, or -1. A slot being
 * written is passed over: it is being registered (nothing reads the mapping
 * yet) or unregistered (nothing may read it any more). */
static int
find_slot (uintptr_t addr, uintptr_t *end)
{
  for (int i = 0; i < TERN_GGUF_GUARD_SLOTS; i++)
    {
      Slot *s = &slots[i];
      unsigned before = atomic_load_explicit (&s->seq, memory_order_acquire);
      if (before & 1)
        continue;
      uintptr_t start = atomic_load_explicit (&s->start, memory_order_relaxed);
      *end = atomic_load_explicit (&s->end, memory_order_relaxed);
      atomic_thread_fence (memory_order_acquire);
      if (atomic_load_explicit (&s->seq, memory_order_relaxed) == before && addr >= start && addr < *end)
        return i;
    }
  return -1;
}

/* A SIGBUS the guard does not handle: to whoever handled it before, or the
 * default action, as if the guard were not there. */
static void
chain (int sig, siginfo_t *info, void *context)
{
  if (previous.sa_flags & SA_SIGINFO)
    {
      previous.sa_sigaction (sig, info, context);
      return;
    }
  if (previous.sa_handler == SIG_IGN && info->si_code <= 0)
    return; /* sent by a process, and ignored before the guard came */
  if (previous.sa_handler != SIG_DFL && previous.sa_handler != SIG_IGN)
    {
      previous.sa_handler (sig);
      return;
    }
  /* The default action: the process dies of the signal, which is pending
   * (blocked in this handler) until the handler returns. */
  struct sigaction dfl = { .sa_handler = SIG_DFL };
  sigemptyset (&dfl.sa_mask);
  sigaction (sig, &dfl, NULL);
  raise (sig);
}

static void
on_sigbus (int sig, siginfo_t *info, void *context)
{
  int saved_errno = errno;
  uintptr_t addr = (uintptr_t) info->si_addr, end = 0;
  /* BUS_ADRERR: a page of a mapped file past its end, or one that could
   * not be read. */
  int i = info->si_code == BUS_ADRERR ? find_slot (addr, &end) : -1;

  if (i >= 0)
    {
      /* Zeros from the faulting page to the end of the mapping: the rest
       * of a file that shrank is gone too, and one fault covers it. */
      uintptr_t from = addr & ~(page_size - 1), to = (end + page_size - 1) & ~(page_size - 1);
      if (mmap ((void *) from, to - from, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != MAP_FAILED)
        {
          atomic_store (&slots[i].damaged, 1);
          errno = saved_errno;
          return;
        }
    }
  errno = saved_errno;
  chain (sig, info, context);
}

static void
write_slot (Slot *s, uintptr_t start, uintptr_t end)
{
  unsigned seq = atomic_load_explicit (&s->seq, memory_order_relaxed);

  atomic_store_explicit (&s->seq, seq + 1, memory_order_relaxed);
  atomic_thread_fence (memory_order_release);
  atomic_store_explicit (&s->start, start, memory_order_relaxed);
  atomic_store_explicit (&s->end, end, memory_order_relaxed);
  atomic_store_explicit (&s->damaged, 0, memory_order_relaxed);
  atomic_store_explicit (&s->seq, seq + 2, memory_order_release);
}

static void
install (void)
{
  struct sigaction act = { .sa_sigaction = on_sigbus, .sa_flags = SA_SIGINFO };

  page_size = (uintptr_t) sysconf (_SC_PAGESIZE);
  /* The previous action is read before the handler can run. */
  sigaction (SIGBUS, NULL, &previous);
  sigemptyset (&act.sa_mask);
  sigaction (SIGBUS, &act, NULL);
}

int
tern_gguf_guard_register (const void *data, gsize size)
{
  int slot = -1;

  g_assert (size > 0);
  g_mutex_lock (&lock);
  if (!installed)
    {
      install ();
      installed = TRUE;
    }
  for (int i = 0; i < TERN_GGUF_GUARD_SLOTS && slot < 0; i++)
    if (!taken[i])
      slot = i;
  if (slot >= 0)
    {
      taken[slot] = TRUE;
      write_slot (&slots[slot], (uintptr_t) data, (uintptr_t) data + size);
    }
  g_mutex_unlock (&lock);
  return slot;
}

void
tern_gguf_guard_unregister (int slot)
{
  g_assert (slot >= 0 && slot < TERN_GGUF_GUARD_SLOTS);
  g_mutex_lock (&lock);
  g_assert (taken[slot]);
  write_slot (&slots[slot], 0, 0);
  taken[slot] = FALSE;
  g_mutex_unlock (&lock);
}

gboolean
tern_gguf_guard_damaged (int slot)
{
  g_assert (slot >= 0 && slot < TERN_GGUF_GUARD_SLOTS);
  return atomic_load (&slots[slot].damaged) != 0;
}
