/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/* The input of fuzz-snapshot, which make-snapshot-seeds writes too.
 *
 * Byte 0 says what the rest is. Even: a stored snapshot (tern/snapshot.h),
 * stored as FUZZ_SNAPSHOT_CHUNKS (byte 0) chunks of about equal size and
 * with the recorded size fuzz_snapshot_skew (byte 0) bytes off, then
 * restored from the store. Odd: the two states inside a snapshot, without
 * its framing (zstd, checksum), so that changed bytes reach their readers:
 * u32 n, a sampler state of n bytes without its trailing hash (the target
 * adds it), then a context state. */

#include <string.h>
#include <tern/model-identity.h>

#define FUZZ_SNAPSHOT_N_CTX 32

#define FUZZ_SNAPSHOT_STATES 1
#define FUZZ_SNAPSHOT_CHUNKS(mode) (1 + ((mode) >> 1 & 3))

/* How far the recorded size is from the stored bytes', by byte 0. */
static inline gint64
fuzz_snapshot_skew (guint8 mode)
{
  switch (mode >> 3 & 3)
    {
    case 0:
      return 0;
    case 1:
      return -1;
    case 2:
      return 1;
    default:
      return G_MININT32;
    }
}

/* The identity the seeds and the target agree on, in place of the model
 * file's (whose modification time differs in every checkout). */
static inline void
fuzz_snapshot_identity (TernModelIdentity *id)
{
  memset (id, 0, sizeof *id);
  id->size = 1418368;
  id->mtime_us = 1700000000000000;
  memset (id->sha256, 0x5a, sizeof id->sha256);
}

/* FNV-1a, 64 bits: the hash that ends a sampler state (tern/sampler.h). */
static inline guint64
fuzz_fnv1a64 (const guint8 *data, gsize len)
{
  guint64 h = 14695981039346656037ULL;

  for (gsize i = 0; i < len; i++)
    h = (h ^ data[i]) * 1099511628211ULL;
  return h;
}
