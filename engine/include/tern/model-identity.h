/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <tern/gguf.h>

G_BEGIN_DECLS

/* The identity of a model file: enough to tell that the file at a path is
 * still the one seen before, without reading gigabytes of weights. The
 * hash covers the GGUF header, metadata and tensor infos (every byte
 * before the data section); size and modification time stand for the
 * weights. A file rewritten in place with other weights of the same
 * shapes keeps the hash but changes the mtime. */
typedef struct {
  guint64 size;          /* bytes */
  gint64 mtime_us;       /* modification time, microseconds since the epoch */
  guint8 sha256[32];     /* of the bytes before tern_gguf_data_offset */
} TernModelIdentity;

/* Computes the identity of the GGUF file at @path (which is validated as
 * tern_gguf_open does). Errors: IO, FORMAT, UNSUPPORTED. */
gboolean tern_model_identity_compute (const char *path, TernModelIdentity *out, GError **error);

/* The identity of the model file @gguf, opened from @path: the hash of its
 * mapped header, and the size and mtime of the file at @path now. Call it
 * right after opening (tern_model_gguf of a model just loaded). IO when the
 * file is gone, or changed on disk since @gguf mapped it
 * (tern_gguf_check_intact). */
gboolean tern_model_identity_of_gguf (const TernGguf *gguf, const char *path, TernModelIdentity *out,
                                      GError **error);

gboolean tern_model_identity_equal (const TernModelIdentity *a, const TernModelIdentity *b);

/* The hash as 64 lowercase hex digits. Free with g_free. */
char *tern_model_identity_hash_hex (const TernModelIdentity *identity);

G_END_DECLS
