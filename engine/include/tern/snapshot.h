/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <tern/context.h>
#include <tern/model-identity.h>
#include <tern/sampler.h>
#include <tern/store.h>

G_BEGIN_DECLS

/* A state snapshot: everything needed to go on with a conversation exactly
 * where it stood — the context's tokens, KV cache and last logits, and the
 * sampler's settings, random generator and penalty window — bound to the
 * model file, the engine version and the context settings it was made
 * with. Layout, all little-endian:
 *
 *   "TERNSNAP", u32 format version (1),
 *   u32 n, engine version string (n bytes, n <= 64),
 *   model identity: u64 file size, i64 mtime (us), u8 sha256[32],
 *   u32 n_ctx, u32 n_tokens,
 *   u32 n, sampler state (n bytes, tern_sampler_save),
 *   u64 context state size (uncompressed),
 *   the context state (tern_context_save_state) as one zstd frame,
 *   u64 XXH64 (seed 0) of every byte before it.
 *
 * The K/V rows are stored in the context's own cache type (F16 by
 * default), never at a lower precision, so a restored context is
 * bit-identical to the saved one. Both directions stream: memory use is
 * bounded by one layer's cache and the compressor's window, whatever the
 * snapshot's size. Functions here are used by one thread at a time, the
 * one that owns the context. */

#define TERN_SNAPSHOT_FORMAT_VERSION 1

/* Writes a snapshot of @ctx and @sampler, whose model has identity @model
 * (tern_model_identity_of_gguf), through @write, in pieces; sets *@size
 * to the bytes written. Errors: whatever @write reports, NOMEM when the
 * compressor cannot start. */
gboolean tern_snapshot_save (const TernContext *ctx, const TernSampler *sampler, const TernModelIdentity *model,
                             TernStreamWriteFn write, gpointer user_data, guint64 *size, GError **error);

/* Reads the snapshot of @size bytes that @read delivers (exact reads, in
 * order) into @ctx and returns the sampler it holds. Checked before @ctx
 * is touched: the format and engine versions, the model identity (@model,
 * that of @ctx's model), the context size and the sampler's vocabulary; then
 * the context state's own header (cache type, model shape) — any
 * difference is a MISMATCH error. Malformed or corrupted bytes (including a checksum
 * that does not match) are a FORMAT error. On any error @ctx is left empty,
 * ready for the transcript to be evaluated again. */
TernSampler *tern_snapshot_load (TernContext *ctx, const TernModelIdentity *model, guint64 size,
                                 TernStreamReadFn read, gpointer user_data, GError **error);

/* Saves a snapshot of @ctx and @sampler (@model: the identity of the
 * context's model) in @store as the snapshot of the conversation's branch
 * at @message_id: tern_store_snapshot_save says what it keeps and returns. */
gint64 tern_snapshot_save_to_store (TernStore *store, gint64 conversation_id, gint64 message_id,
                                    const TernContext *ctx, const TernSampler *sampler,
                                    const TernModelIdentity *model, GError **error);

/* Restores snapshot @id of @store into @ctx and returns its sampler, with
 * tern_snapshot_load's checks. MISMATCH or FORMAT: evaluate the transcript
 * again instead; @ctx is left empty for it. */
TernSampler *tern_snapshot_restore_from_store (TernStore *store, gint64 id, TernContext *ctx,
                                               const TernModelIdentity *model, GError **error);

G_END_DECLS
