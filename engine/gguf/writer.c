/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <tern/gguf.h>
#include <tern/error.h>

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

typedef struct {
  char *name;
  TernType type;
  guint32 n_dims;
  gint64 ne[TERN_GGUF_MAX_DIMS];
  guint64 n_bytes;
  guint64 offset;
} PendingTensor;

typedef enum { STATE_DECLARE, STATE_DATA, STATE_DONE } WriterState;

struct TernGgufWriter {
  char *path;
  char *tmp_path;
  FILE *file;
  WriterState state;

  guint32 version;
  guint32 alignment;

  GByteArray *metadata; /* the pairs, encoded as they were added */
  guint64 n_kv;
  GHashTable *keys;
  GArray *tensors;      /* PendingTensor */

  gsize current;        /* tensor whose bytes are being written */
  guint64 current_written;
};

static void
put (GByteArray *out, const void *data, gsize len)
{
  g_byte_array_append (out, data, len);
}

static void
put_u32 (GByteArray *out, guint32 v)
{
  v = GUINT32_TO_LE (v);
  put (out, &v, 4);
}

static void
put_u64 (GByteArray *out, guint64 v)
{
  v = GUINT64_TO_LE (v);
  put (out, &v, 8);
}

static void
put_string (GByteArray *out, const char *s, gsize len)
{
  put_u64 (out, len);
  put (out, s, len);
}

static void
put_key (TernGgufWriter *w, const char *key, TernGgufType type)
{
  g_assert (w->state == STATE_DECLARE);
  g_assert (g_utf8_validate (key, -1, NULL) && key[0] != '\0');
  g_assert (!g_hash_table_contains (w->keys, key));
  g_hash_table_add (w->keys, g_strdup (key));
  put_string (w->metadata, key, strlen (key));
  put_u32 (w->metadata, type);
  w->n_kv++;
}

TernGgufWriter *
tern_gguf_writer_new (const char *path, GError **error)
{
  g_autofree char *template = g_strconcat (path, ".part-XXXXXX", NULL);
  int fd = g_mkstemp_full (template, O_WRONLY, 0644);
  if (fd < 0)
    {
      int saved = errno;
      g_autofree char *name = g_path_get_basename (path);
      g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_IO, "%s: cannot create: %s", name,
                   g_strerror (saved));
      return NULL;
    }

  TernGgufWriter *w = g_new0 (TernGgufWriter, 1);
  w->path = g_strdup (path);
  w->tmp_path = g_steal_pointer (&template);
  w->file = fdopen (fd, "wb");
  g_assert (w->file != NULL);
  /* Tensor data arrives in pieces of any size: a large buffer keeps
   * writes efficient without holding more than it. */
  setvbuf (w->file, NULL, _IOFBF, 1 << 20);
  w->version = 3;
  w->alignment = TERN_GGUF_DEFAULT_ALIGNMENT;
  w->metadata = g_byte_array_new ();
  w->keys = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  w->tensors = g_array_new (FALSE, TRUE, sizeof (PendingTensor));
  return w;
}

void
tern_gguf_writer_free (TernGgufWriter *w)
{
  if (w == NULL)
    return;
  if (w->file)
    fclose (w->file);
  if (w->state != STATE_DONE)
    g_unlink (w->tmp_path);
  for (guint i = 0; i < w->tensors->len; i++)
    g_free (g_array_index (w->tensors, PendingTensor, i).name);
  g_array_unref (w->tensors);
  g_hash_table_unref (w->keys);
  g_byte_array_unref (w->metadata);
  g_free (w->tmp_path);
  g_free (w->path);
  g_free (w);
}

void
tern_gguf_writer_set_version (TernGgufWriter *w, guint32 version)
{
  g_assert (version == 2 || version == 3);
  w->version = version;
}

void
tern_gguf_writer_set_alignment (TernGgufWriter *w, guint32 alignment)
{
  g_assert (alignment != 0 && (alignment & (alignment - 1)) == 0);
  w->alignment = alignment;
}

void
tern_gguf_writer_add_uint32 (TernGgufWriter *w, const char *key, guint32 v)
{
  put_key (w, key, TERN_GGUF_UINT32);
  put_u32 (w->metadata, v);
}

void
tern_gguf_writer_add_int32 (TernGgufWriter *w, const char *key, gint32 v)
{
  put_key (w, key, TERN_GGUF_INT32);
  put_u32 (w->metadata, (guint32) v);
}

void
tern_gguf_writer_add_uint64 (TernGgufWriter *w, const char *key, guint64 v)
{
  put_key (w, key, TERN_GGUF_UINT64);
  put_u64 (w->metadata, v);
}

void
tern_gguf_writer_add_float32 (TernGgufWriter *w, const char *key, float v)
{
  guint32 u;
  memcpy (&u, &v, 4);
  put_key (w, key, TERN_GGUF_FLOAT32);
  put_u32 (w->metadata, u);
}

void
tern_gguf_writer_add_bool (TernGgufWriter *w, const char *key, gboolean v)
{
  guint8 b = v ? 1 : 0;
  put_key (w, key, TERN_GGUF_BOOL);
  put (w->metadata, &b, 1);
}

void
tern_gguf_writer_add_string (TernGgufWriter *w, const char *key, const char *v)
{
  put_key (w, key, TERN_GGUF_STRING);
  put_string (w->metadata, v, strlen (v));
}

/* Appends @n elements of @size bytes each, converting from host order. */
static void
put_elements (GByteArray *out, const guint8 *data, gsize size, guint64 n)
{
#if G_BYTE_ORDER == G_LITTLE_ENDIAN
  put (out, data, size * n);
#else
  for (guint64 i = 0; i < n; i++)
    for (gsize b = 0; b < size; b++)
      put (out, data + i * size + size - 1 - b, 1);
#endif
}

void
tern_gguf_writer_add_array (TernGgufWriter *w, const char *key, TernGgufType elem_type, const void *data,
                            guint64 n)
{
  gsize size = tern_gguf_scalar_size (elem_type);
  g_assert (size > 0);
  put_key (w, key, TERN_GGUF_ARRAY);
  put_u32 (w->metadata, elem_type);
  put_u64 (w->metadata, n);
  put_elements (w->metadata, data, size, n);
}

void
tern_gguf_writer_add_string_array (TernGgufWriter *w, const char *key, const char *const *strings, guint64 n)
{
  put_key (w, key, TERN_GGUF_ARRAY);
  put_u32 (w->metadata, TERN_GGUF_STRING);
  put_u64 (w->metadata, n);
  for (guint64 i = 0; i < n; i++)
    put_string (w->metadata, strings[i], strlen (strings[i]));
}

void
tern_gguf_writer_add_value (TernGgufWriter *w, const char *key, const TernGgufValue *v)
{
  put_key (w, key, v->type);
  if (v->type == TERN_GGUF_STRING)
    put_u64 (w->metadata, v->n);
  else if (v->type == TERN_GGUF_ARRAY)
    {
      put_u32 (w->metadata, v->elem_type);
      put_u64 (w->metadata, v->n);
    }
  /* Values read from a file are already in file byte order. */
  put (w->metadata, v->data, v->n_bytes);
}

void
tern_gguf_writer_add_tensor (TernGgufWriter *w, const char *name, TernType type, guint32 n_dims,
                             const gint64 *ne)
{
  PendingTensor t = { 0 };
  gint64 n_elems = 1;

  g_assert (w->state == STATE_DECLARE);
  g_assert (strlen (name) > 0 && strlen (name) <= TERN_GGUF_MAX_NAME);
  g_assert (n_dims >= 1 && n_dims <= TERN_GGUF_MAX_DIMS);
  g_assert (tern_type_info (type) != NULL && tern_type_info (type)->storage);

  t.name = g_strdup (name);
  t.type = type;
  t.n_dims = n_dims;
  for (guint d = 0; d < TERN_GGUF_MAX_DIMS; d++)
    {
      t.ne[d] = d < n_dims ? ne[d] : 1;
      g_assert (t.ne[d] > 0);
      n_elems *= t.ne[d];
    }
  t.n_bytes = tern_type_row_bytes (type, t.ne[0]) * (guint64) (n_elems / t.ne[0]);
  g_array_append_val (w->tensors, t);
}

guint64
tern_gguf_tensor_info_size (const char *name, guint32 n_dims)
{
  /* The name as a string, the dimension count, the sizes, type, offset. */
  return 8 + strlen (name) + 4 + 8 * (guint64) n_dims + 4 + 8;
}

static guint64
align_up (guint64 n, guint32 alignment)
{
  return (n + alignment - 1) / alignment * alignment;
}

guint64
tern_gguf_writer_file_size (const TernGgufWriter *w)
{
  guint64 head = 4 + 4 + 8 + 8 + w->metadata->len, data = 0;

  g_assert (w->state == STATE_DECLARE);
  for (guint i = 0; i < w->tensors->len; i++)
    {
      const PendingTensor *t = &g_array_index (w->tensors, PendingTensor, i);

      head += tern_gguf_tensor_info_size (t->name, t->n_dims);
      data += align_up (t->n_bytes, w->alignment);
    }
  return w->tensors->len == 0 ? head : align_up (head, w->alignment) + data;
}

static gboolean
write_out (TernGgufWriter *w, const void *data, gsize len, GError **error)
{
  if (len > 0 && fwrite (data, 1, len, w->file) != len)
    {
      int saved = errno;
      g_autofree char *name = g_path_get_basename (w->path);
      g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_IO, "%s: write failed: %s", name,
                   g_strerror (saved));
      return FALSE;
    }
  return TRUE;
}

static gboolean
write_padding (TernGgufWriter *w, guint64 written, GError **error)
{
  static const guint8 zeros[256];
  guint64 pad = (w->alignment - written % w->alignment) % w->alignment;
  while (pad > 0)
    {
      gsize n = MIN (pad, sizeof zeros);
      if (!write_out (w, zeros, n, error))
        return FALSE;
      pad -= n;
    }
  return TRUE;
}

gboolean
tern_gguf_writer_begin_data (TernGgufWriter *w, GError **error)
{
  g_autoptr (GByteArray) head = g_byte_array_new ();
  guint64 offset = 0;

  g_assert (w->state == STATE_DECLARE);
  put (head, "GGUF", 4);
  put_u32 (head, w->version);
  put_u64 (head, w->tensors->len);
  put_u64 (head, w->n_kv);
  put (head, w->metadata->data, w->metadata->len);

  for (guint i = 0; i < w->tensors->len; i++)
    {
      PendingTensor *t = &g_array_index (w->tensors, PendingTensor, i);
      t->offset = offset;
      put_string (head, t->name, strlen (t->name));
      put_u32 (head, t->n_dims);
      for (guint d = 0; d < t->n_dims; d++)
        put_u64 (head, (guint64) t->ne[d]);
      put_u32 (head, t->type);
      put_u64 (head, t->offset);
      offset += align_up (t->n_bytes, w->alignment);
    }

  w->state = STATE_DATA;
  w->current = 0;
  w->current_written = 0;
  if (!write_out (w, head->data, head->len, error))
    return FALSE;
  /* llama.cpp pads the header only when tensor data follows. */
  return w->tensors->len == 0 || write_padding (w, head->len, error);
}

gboolean
tern_gguf_writer_write (TernGgufWriter *w, const void *data, gsize len, GError **error)
{
  const guint8 *p = data;

  g_assert (w->state == STATE_DATA);
  while (len > 0)
    {
      g_assert (w->current < w->tensors->len);
      PendingTensor *t = &g_array_index (w->tensors, PendingTensor, w->current);
      gsize n = (gsize) MIN ((guint64) len, t->n_bytes - w->current_written);
      if (!write_out (w, p, n, error))
        return FALSE;
      p += n;
      len -= n;
      w->current_written += n;
      if (w->current_written == t->n_bytes)
        {
          if (!write_padding (w, t->n_bytes, error))
            return FALSE;
          w->current++;
          w->current_written = 0;
        }
    }
  return TRUE;
}

gboolean
tern_gguf_writer_finish (TernGgufWriter *w, GError **error)
{
  g_autofree char *name = g_path_get_basename (w->path);
  int saved;

  g_assert (w->state == STATE_DATA);
  g_assert (w->current == w->tensors->len);

  if (fflush (w->file) != 0 || fsync (fileno (w->file)) != 0)
    goto fail;
  if (fclose (w->file) != 0)
    {
      w->file = NULL;
      goto fail;
    }
  w->file = NULL;
  if (g_rename (w->tmp_path, w->path) != 0)
    goto fail;
  w->state = STATE_DONE;
  return TRUE;

fail:
  saved = errno;
  g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_IO, "%s: write failed: %s", name, g_strerror (saved));
  return FALSE;
}

/* Bytes of tensor data copied at a time. */
#define COPY_CHUNK ((gsize) 1 << 20)

gboolean
tern_gguf_write_copy (const TernGguf *gguf, const char *path, GError **error)
{
  g_autoptr (TernGgufWriter) w = tern_gguf_writer_new (path, error);
  if (w == NULL)
    return FALSE;

  tern_gguf_writer_set_version (w, tern_gguf_version (gguf));
  tern_gguf_writer_set_alignment (w, tern_gguf_alignment (gguf));
  for (gsize i = 0; i < tern_gguf_n_kv (gguf); i++)
    tern_gguf_writer_add_value (w, tern_gguf_kv_key (gguf, i), tern_gguf_kv_value (gguf, i));
  for (gsize i = 0; i < tern_gguf_n_tensors (gguf); i++)
    {
      const TernGgufTensor *t = tern_gguf_tensor (gguf, i);
      tern_gguf_writer_add_tensor (w, t->name, t->type, t->n_dims, t->ne);
    }
  if (!tern_gguf_writer_begin_data (w, error))
    return FALSE;
  /* Through a buffer: a read of a part of the file that is gone then
   * faults here, where the guard gives zeros and marks the file (gguf.h),
   * rather than in write(2), which would fail with EFAULT. */
  g_autofree guint8 *buffer = g_malloc (COPY_CHUNK);
  for (gsize i = 0; i < tern_gguf_n_tensors (gguf); i++)
    {
      const TernGgufTensor *t = tern_gguf_tensor (gguf, i);
      for (guint64 done = 0; done < t->n_bytes; done += COPY_CHUNK)
        {
          gsize n = MIN (COPY_CHUNK, t->n_bytes - done);
          memcpy (buffer, (const guint8 *) t->data + done, n);
          if (!tern_gguf_writer_write (w, buffer, n, error))
            return FALSE;
        }
    }
  /* Zeros from a source that shrank meanwhile are no copy of it. */
  if (!tern_gguf_check_intact (gguf, error))
    return FALSE;
  return tern_gguf_writer_finish (w, error);
}
