/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <tern/error.h>
#include <tern/model-identity.h>

#include <errno.h>
#include <glib/gstdio.h>
#include <string.h>

static gboolean
stat_file (const char *path, TernModelIdentity *out, GError **error)
{
  GStatBuf st;

  if (g_stat (path, &st) != 0)
    {
      int saved = errno;
      g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_IO, "%s: %s", path, g_strerror (saved));
      return FALSE;
    }
  out->size = (guint64) st.st_size;
  out->mtime_us = (gint64) st.st_mtim.tv_sec * G_USEC_PER_SEC + st.st_mtim.tv_nsec / 1000;
  return TRUE;
}

/* IO when the header changed on disk while it was hashed: the hash would
 * be of zeros. */
static gboolean
hash_header (const TernGguf *gguf, TernModelIdentity *out, GError **error)
{
  g_autoptr (GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);
  gsize size, len = sizeof out->sha256;
  const guint8 *data = tern_gguf_file_data (gguf, &size);

  g_checksum_update (sum, data, (gssize) MIN (tern_gguf_data_offset (gguf), size));
  g_checksum_get_digest (sum, out->sha256, &len);
  return tern_gguf_check_intact (gguf, error);
}

gboolean
tern_model_identity_compute (const char *path, TernModelIdentity *out, GError **error)
{
  memset (out, 0, sizeof *out);
  if (!stat_file (path, out, error))
    return FALSE;
  g_autoptr (TernGguf) gguf = tern_gguf_open (path, error);
  if (gguf == NULL)
    return FALSE;
  return hash_header (gguf, out, error);
}

gboolean
tern_model_identity_of_gguf (const TernGguf *gguf, const char *path, TernModelIdentity *out, GError **error)
{
  memset (out, 0, sizeof *out);
  if (!stat_file (path, out, error))
    return FALSE;
  return hash_header (gguf, out, error);
}

gboolean
tern_model_identity_equal (const TernModelIdentity *a, const TernModelIdentity *b)
{
  return a->size == b->size && a->mtime_us == b->mtime_us && memcmp (a->sha256, b->sha256, sizeof a->sha256) == 0;
}

char *
tern_model_identity_hash_hex (const TernModelIdentity *identity)
{
  GString *hex = g_string_sized_new (2 * sizeof identity->sha256);

  for (gsize i = 0; i < sizeof identity->sha256; i++)
    g_string_append_printf (hex, "%02x", identity->sha256[i]);
  return g_string_free (hex, FALSE);
}
