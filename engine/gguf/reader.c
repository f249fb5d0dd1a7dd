/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <tern/gguf.h>
#include <tern/error.h>

#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "guard.h"

/* The file is hostile until proven otherwise: every length is checked
 * against what remains before it is used, and nothing is allocated from a
 * count before that count is bounded by the file's size. */

typedef struct {
  char *key;
  TernGgufValue value;
} KeyValue;

struct TernGguf {
  char *name;
  GBytes *bytes;
  const guint8 *data;
  gsize size;
  int guard;                /* the mapping's slot in the guard (guard.h), or -1 */

  guint32 version;
  guint32 alignment;
  guint64 data_offset;

  KeyValue *kv;
  gsize n_kv;
  GHashTable *kv_index;     /* key -> KeyValue* */

  TernGgufTensor *tensors;
  gsize n_tensors;
  GHashTable *tensor_index; /* name -> TernGgufTensor* */
};

typedef struct {
  const TernGguf *gguf;
  gsize pos;
} Cursor;

static const gsize scalar_size[TERN_GGUF_N_TYPES] = {
  [TERN_GGUF_UINT8] = 1, [TERN_GGUF_INT8] = 1,
  [TERN_GGUF_UINT16] = 2, [TERN_GGUF_INT16] = 2,
  [TERN_GGUF_UINT32] = 4, [TERN_GGUF_INT32] = 4,
  [TERN_GGUF_FLOAT32] = 4, [TERN_GGUF_BOOL] = 1,
  [TERN_GGUF_UINT64] = 8, [TERN_GGUF_INT64] = 8,
  [TERN_GGUF_FLOAT64] = 8,
};

static const char *const gguf_type_names[TERN_GGUF_N_TYPES] = {
  "u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "string", "array", "u64", "i64", "f64",
};

const char *
tern_gguf_type_name (TernGgufType type)
{
  return (guint) type < TERN_GGUF_N_TYPES ? gguf_type_names[type] : "unknown";
}

G_GNUC_PRINTF (3, 4) static void
set_error (GError **error, int code, const char *format, ...)
{
  /* Appended to the file name by the caller's prefix below. */
  va_list args;
  va_start (args, format);
  g_autofree char *msg = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error_literal (error, TERN_ENGINE_ERROR, code, msg);
}

#define FAIL(code, ...) \
  G_STMT_START { set_error (error, code, __VA_ARGS__); return FALSE; } G_STMT_END

static gsize
remaining (const Cursor *c)
{
  return c->gguf->size - c->pos;
}

static gboolean
read_bytes (Cursor *c, void *out, gsize n, const char *what, GError **error)
{
  if (remaining (c) < n)
    FAIL (TERN_ENGINE_ERROR_FORMAT, "the file is cut short: it ends inside %s (offset %" G_GSIZE_FORMAT ")", what,
          c->pos);
  memcpy (out, c->gguf->data + c->pos, n);
  c->pos += n;
  return TRUE;
}

static gboolean
read_u32 (Cursor *c, guint32 *out, const char *what, GError **error)
{
  guint32 v;
  if (!read_bytes (c, &v, 4, what, error))
    return FALSE;
  *out = GUINT32_FROM_LE (v);
  return TRUE;
}

static gboolean
read_u64 (Cursor *c, guint64 *out, const char *what, GError **error)
{
  guint64 v;
  if (!read_bytes (c, &v, 8, what, error))
    return FALSE;
  *out = GUINT64_FROM_LE (v);
  return TRUE;
}

/* Reads a length-prefixed string in place. */
static gboolean
read_string (Cursor *c, TernGgufString *out, const char *what, GError **error)
{
  guint64 len;
  if (!read_u64 (c, &len, what, error))
    return FALSE;
  if (len > remaining (c))
    FAIL (TERN_ENGINE_ERROR_FORMAT, "%s claims %" G_GUINT64_FORMAT " bytes but only %" G_GSIZE_FORMAT
          " remain in the file", what, len, remaining (c));
  out->data = (const char *) c->gguf->data + c->pos;
  out->len = len;
  c->pos += len;
  return TRUE;
}

static gboolean
read_value_type (Cursor *c, TernGgufType *out, const char *key, GError **error)
{
  guint32 t;
  if (!read_u32 (c, &t, "a value type", error))
    return FALSE;
  if (t >= TERN_GGUF_N_TYPES)
    FAIL (TERN_ENGINE_ERROR_FORMAT, "key %s has unknown value type %u", key, t);
  *out = (TernGgufType) t;
  return TRUE;
}

static gboolean
read_value (TernGguf *gguf, Cursor *c, const char *key, TernGgufValue *v, GError **error)
{
  if (!read_value_type (c, &v->type, key, error))
    return FALSE;

  if (v->type == TERN_GGUF_STRING)
    {
      TernGgufString s;
      if (!read_string (c, &s, key, error))
        return FALSE;
      v->n = s.len;
      v->data = (const guint8 *) s.data;
      v->n_bytes = s.len;
      return TRUE;
    }

  if (v->type != TERN_GGUF_ARRAY)
    {
      gsize size = scalar_size[v->type];
      if (remaining (c) < size)
        FAIL (TERN_ENGINE_ERROR_FORMAT, "file ends inside the value of key %s", key);
      v->n = 1;
      v->data = gguf->data + c->pos;
      v->n_bytes = size;
      if (v->type == TERN_GGUF_BOOL && v->data[0] > 1)
        FAIL (TERN_ENGINE_ERROR_FORMAT, "key %s: boolean holds %u, not 0 or 1", key, v->data[0]);
      c->pos += size;
      return TRUE;
    }

  if (!read_value_type (c, &v->elem_type, key, error))
    return FALSE;
  if (v->elem_type == TERN_GGUF_ARRAY)
    FAIL (TERN_ENGINE_ERROR_FORMAT, "key %s is an array of arrays, which GGUF does not allow", key);
  if (!read_u64 (c, &v->n, key, error))
    return FALSE;
  v->data = gguf->data + c->pos;

  if (v->elem_type != TERN_GGUF_STRING)
    {
      gsize size = scalar_size[v->elem_type];
      if (v->n > remaining (c) / size)
        FAIL (TERN_ENGINE_ERROR_FORMAT, "array %s claims %" G_GUINT64_FORMAT " elements of %s but the file"
              " has room for at most %" G_GSIZE_FORMAT, key, v->n, tern_gguf_type_name (v->elem_type),
              remaining (c) / size);
      v->n_bytes = v->n * size;
      if (v->elem_type == TERN_GGUF_BOOL)
        for (guint64 i = 0; i < v->n; i++)
          if (v->data[i] > 1)
            FAIL (TERN_ENGINE_ERROR_FORMAT, "array %s: element %" G_GUINT64_FORMAT " is a boolean holding %u",
                  key, i, v->data[i]);
      c->pos += v->n_bytes;
      return TRUE;
    }

  /* Each string takes at least its 8-byte length: bounds the allocation. */
  if (v->n > remaining (c) / 8)
    FAIL (TERN_ENGINE_ERROR_FORMAT, "array %s claims %" G_GUINT64_FORMAT " strings but the file has room"
          " for at most %" G_GSIZE_FORMAT, key, v->n, remaining (c) / 8);
  guint64 *offsets = g_new (guint64, v->n > 0 ? v->n : 1);
  v->string_offsets = offsets;
  gsize start = c->pos;
  for (guint64 i = 0; i < v->n; i++)
    {
      TernGgufString s;
      offsets[i] = c->pos - start;
      if (!read_string (c, &s, "a string array element", error))
        {
          g_prefix_error (error, "array %s, element %" G_GUINT64_FORMAT ": ", key, i);
          return FALSE;
        }
    }
  v->n_bytes = c->pos - start;
  return TRUE;
}

static gboolean
read_metadata (TernGguf *gguf, Cursor *c, guint64 n_kv, GError **error)
{
  /* Smallest pair: 8-byte key length, 1-byte key, 4-byte type, 1-byte value. */
  if (n_kv > remaining (c) / 14)
    FAIL (TERN_ENGINE_ERROR_FORMAT, "header claims %" G_GUINT64_FORMAT " metadata pairs, more than the file"
          " can hold", n_kv);
  gguf->kv = g_new0 (KeyValue, n_kv > 0 ? n_kv : 1);

  for (guint64 i = 0; i < n_kv; i++)
    {
      KeyValue *kv = &gguf->kv[i];
      TernGgufString key;
      if (!read_string (c, &key, "a metadata key", error))
        {
          g_prefix_error (error, "metadata pair %" G_GUINT64_FORMAT ": ", i);
          return FALSE;
        }
      if (key.len == 0)
        FAIL (TERN_ENGINE_ERROR_FORMAT, "metadata pair %" G_GUINT64_FORMAT " has an empty key", i);
      if (!g_utf8_validate_len (key.data, key.len, NULL) || memchr (key.data, '\0', key.len))
        FAIL (TERN_ENGINE_ERROR_FORMAT, "metadata pair %" G_GUINT64_FORMAT " has a key that is not valid UTF-8", i);
      kv->key = g_strndup (key.data, key.len);
      gguf->n_kv = i + 1;
      if (g_hash_table_contains (gguf->kv_index, kv->key))
        FAIL (TERN_ENGINE_ERROR_FORMAT, "key %s appears twice", kv->key);
      if (!read_value (gguf, c, kv->key, &kv->value, error))
        return FALSE;
      g_hash_table_insert (gguf->kv_index, kv->key, kv);
    }
  return TRUE;
}

static gboolean
read_alignment (TernGguf *gguf, GError **error)
{
  const TernGgufValue *v = tern_gguf_find (gguf, "general.alignment");
  gguf->alignment = TERN_GGUF_DEFAULT_ALIGNMENT;
  if (v == NULL)
    return TRUE;
  if (v->type != TERN_GGUF_UINT32)
    FAIL (TERN_ENGINE_ERROR_FORMAT, "general.alignment has type %s, not u32", tern_gguf_type_name (v->type));
  guint32 a;
  memcpy (&a, v->data, 4);
  a = GUINT32_FROM_LE (a);
  if (a == 0 || (a & (a - 1)) != 0)
    FAIL (TERN_ENGINE_ERROR_FORMAT, "general.alignment is %u, not a power of two", a);
  gguf->alignment = a;
  return TRUE;
}

static gboolean
check_tensor_type (const char *name, guint32 type, GError **error)
{
  const TernTypeInfo *info = tern_type_info (type);
  if (info != NULL && info->storage)
    return TRUE;
  if (type == 4 || type == 5 || (type >= 31 && type <= 33))
    FAIL (TERN_ENGINE_ERROR_FORMAT, "tensor %s uses retired type id %u", name, type);
  if (type < TERN_TYPE_COUNT)
    FAIL (TERN_ENGINE_ERROR_UNSUPPORTED, "tensor %s uses type id %u (%s), which Tern does not support",
          name, type, info ? info->name : "an i-quant or integer type");
  FAIL (TERN_ENGINE_ERROR_FORMAT, "tensor %s has unknown type id %u", name, type);
}

static gboolean
read_tensor_info (TernGguf *gguf, Cursor *c, TernGgufTensor *t, GError **error)
{
  TernGgufString name;
  if (!read_string (c, &name, "a tensor name", error))
    return FALSE;
  if (name.len == 0)
    FAIL (TERN_ENGINE_ERROR_FORMAT, "a tensor has an empty name");
  if (!g_utf8_validate_len (name.data, name.len, NULL) || memchr (name.data, '\0', name.len))
    FAIL (TERN_ENGINE_ERROR_FORMAT, "a tensor name is not valid UTF-8");
  t->name = g_strndup (name.data, name.len);
  if (name.len > TERN_GGUF_MAX_NAME)
    FAIL (TERN_ENGINE_ERROR_FORMAT, "tensor name %s is %" G_GSIZE_FORMAT " bytes long (at most %d)",
          t->name, name.len, TERN_GGUF_MAX_NAME);
  if (g_hash_table_contains (gguf->tensor_index, t->name))
    FAIL (TERN_ENGINE_ERROR_FORMAT, "tensor %s appears twice", t->name);

  if (!read_u32 (c, &t->n_dims, t->name, error))
    return FALSE;
  if (t->n_dims < 1 || t->n_dims > TERN_GGUF_MAX_DIMS)
    FAIL (TERN_ENGINE_ERROR_FORMAT, "tensor %s has %u dimensions (1 to %d allowed)", t->name, t->n_dims,
          TERN_GGUF_MAX_DIMS);

  gint64 n_elems = 1;
  for (guint d = 0; d < TERN_GGUF_MAX_DIMS; d++)
    {
      guint64 ne = 1;
      if (d < t->n_dims && !read_u64 (c, &ne, t->name, error))
        return FALSE;
      if ((gint64) ne <= 0)
        FAIL (TERN_ENGINE_ERROR_FORMAT, "tensor %s: dimension %u is %" G_GINT64_FORMAT, t->name, d, (gint64) ne);
      if ((gint64) ne > G_MAXINT64 / n_elems)
        FAIL (TERN_ENGINE_ERROR_FORMAT, "tensor %s: element count overflows", t->name);
      t->ne[d] = (gint64) ne;
      n_elems *= (gint64) ne;
    }

  guint32 type;
  if (!read_u32 (c, &type, t->name, error))
    return FALSE;
  if (!check_tensor_type (t->name, type, error))
    return FALSE;
  t->type = (TernType) type;

  const TernTypeInfo *info = tern_type_info (type);
  if (t->ne[0] % info->block_elems != 0)
    FAIL (TERN_ENGINE_ERROR_FORMAT, "tensor %s: row length %" G_GINT64_FORMAT " is not a multiple of the %s"
          " block size %u", t->name, t->ne[0], info->name, info->block_elems);
  guint64 blocks = (guint64) (n_elems / info->block_elems);
  if (blocks > G_MAXUINT64 / info->block_bytes)
    FAIL (TERN_ENGINE_ERROR_FORMAT, "tensor %s: byte size overflows", t->name);
  t->n_bytes = blocks * info->block_bytes;

  if (!read_u64 (c, &t->offset, t->name, error))
    return FALSE;
  if (t->offset % gguf->alignment != 0)
    FAIL (TERN_ENGINE_ERROR_FORMAT, "tensor %s: offset %" G_GUINT64_FORMAT " is not a multiple of the"
          " alignment %u", t->name, t->offset, gguf->alignment);

  g_hash_table_insert (gguf->tensor_index, (gpointer) t->name, t);
  return TRUE;
}

static int
compare_offsets (gconstpointer a, gconstpointer b)
{
  const TernGgufTensor *x = *(const TernGgufTensor *const *) a;
  const TernGgufTensor *y = *(const TernGgufTensor *const *) b;
  return x->offset < y->offset ? -1 : x->offset > y->offset;
}

static gboolean
place_tensors (TernGguf *gguf, GError **error)
{
  if (gguf->n_tensors == 0)
    return TRUE;
  if (gguf->data_offset > gguf->size)
    FAIL (TERN_ENGINE_ERROR_FORMAT, "file ends before its data section");

  guint64 data_size = gguf->size - gguf->data_offset;
  g_autofree TernGgufTensor **sorted = g_new (TernGgufTensor *, gguf->n_tensors);
  for (gsize i = 0; i < gguf->n_tensors; i++)
    {
      TernGgufTensor *t = &gguf->tensors[i];
      if (t->offset > data_size || t->n_bytes > data_size - t->offset)
        FAIL (TERN_ENGINE_ERROR_FORMAT, "the file is cut short: tensor %s extends past end of file (%" G_GSIZE_FORMAT
              " bytes)", t->name, gguf->size);
      t->data = gguf->data + gguf->data_offset + t->offset;
      sorted[i] = t;
    }

  qsort (sorted, gguf->n_tensors, sizeof *sorted, compare_offsets);
  for (gsize i = 1; i < gguf->n_tensors; i++)
    if (sorted[i - 1]->offset + sorted[i - 1]->n_bytes > sorted[i]->offset)
      FAIL (TERN_ENGINE_ERROR_FORMAT, "tensors %s and %s overlap", sorted[i - 1]->name, sorted[i]->name);
  return TRUE;
}

static gboolean
parse (TernGguf *gguf, GError **error)
{
  Cursor c = { gguf, 0 };
  char magic[4];
  guint64 n_tensors, n_kv;

  if (gguf->size == 0)
    FAIL (TERN_ENGINE_ERROR_FORMAT, "not a GGUF model file (the file is empty)");
  if (gguf->size < 4 || (memcpy (magic, gguf->data, 4), memcmp (magic, "GGUF", 4) != 0))
    {
      /* What it starts with tells a web page or an archive from a model. */
      char start[13];
      gsize n = MIN (gguf->size, sizeof start - 1);
      for (gsize i = 0; i < n; i++)
        start[i] = g_ascii_isprint (gguf->data[i]) && gguf->data[i] != '"' ? (char) gguf->data[i] : '.';
      start[n] = '\0';
      FAIL (TERN_ENGINE_ERROR_FORMAT, "not a GGUF model file (it starts with \"%s\", not \"GGUF\")", start);
    }
  c.pos = 4;
  if (!read_u32 (&c, &gguf->version, "the header", error))
    return FALSE;
  if (gguf->version == 1)
    FAIL (TERN_ENGINE_ERROR_UNSUPPORTED, "GGUF version 1 is obsolete; convert the model again");
  if (gguf->version != 2 && gguf->version != 3)
    FAIL (TERN_ENGINE_ERROR_UNSUPPORTED, "GGUF version %u is not supported (2 and 3 are)", gguf->version);
  if (!read_u64 (&c, &n_tensors, "the header", error) || !read_u64 (&c, &n_kv, "the header", error))
    return FALSE;
  if ((gint64) n_tensors < 0 || (gint64) n_kv < 0)
    FAIL (TERN_ENGINE_ERROR_FORMAT, "header has a negative tensor or metadata count");

  if (!read_metadata (gguf, &c, n_kv, error) || !read_alignment (gguf, error))
    return FALSE;

  /* Smallest tensor info: name length and 1 byte, n_dims, one dim, type, offset. */
  if (n_tensors > remaining (&c) / 33)
    FAIL (TERN_ENGINE_ERROR_FORMAT, "header claims %" G_GUINT64_FORMAT " tensors, more than the file can hold",
          n_tensors);
  gguf->tensors = g_new0 (TernGgufTensor, n_tensors > 0 ? n_tensors : 1);
  for (guint64 i = 0; i < n_tensors; i++)
    {
      gguf->n_tensors = i + 1;
      if (!read_tensor_info (gguf, &c, &gguf->tensors[i], error))
        return FALSE;
    }

  gguf->data_offset = (c.pos + gguf->alignment - 1) / gguf->alignment * gguf->alignment;
  return place_tensors (gguf, error);
}

/* Opens @bytes, whose mapping is registered in the guard's slot @guard
 * (-1: none), which the TernGguf then owns. */
static TernGguf *
open_guarded (GBytes *bytes, const char *name, int guard, GError **error)
{
  g_autoptr (TernGguf) gguf = g_new0 (TernGguf, 1);
  g_autoptr (GError) local = NULL;

  gguf->guard = guard;
  gguf->name = g_strdup (name);
  gguf->bytes = g_bytes_ref (bytes);
  gguf->data = g_bytes_get_data (bytes, &gguf->size);
  gguf->kv_index = g_hash_table_new (g_str_hash, g_str_equal);
  gguf->tensor_index = g_hash_table_new (g_str_hash, g_str_equal);
  if (gguf->data == NULL)
    gguf->size = 0;

  gboolean parsed = parse (gguf, &local);
  /* A file that shrank while it was read gave zeros, which say nothing
   * about it: the change is what to report. */
  if (!tern_gguf_check_intact (gguf, error))
    return NULL;
  if (!parsed)
    {
      g_propagate_prefixed_error (error, g_steal_pointer (&local), "%s: ", name);
      return NULL;
    }
  return g_steal_pointer (&gguf);
}

TernGguf *
tern_gguf_open_bytes (GBytes *bytes, const char *name, GError **error)
{
  return open_guarded (bytes, name, -1, error);
}

TernGguf *
tern_gguf_open (const char *path, GError **error)
{
  g_autofree char *name = g_path_get_basename (path);
  g_autoptr (GError) local_error = NULL;
  g_autoptr (GMappedFile) mapped = g_mapped_file_new (path, FALSE, &local_error);
  int guard = -1;

  if (mapped == NULL)
    {
      /* GLib's message names the system call; these say what happened. */
      if (g_error_matches (local_error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_IO,
                     "%s: the file is gone: nothing is at %s (it was moved or deleted)", name, path);
      else if (g_error_matches (local_error, G_FILE_ERROR, G_FILE_ERROR_ACCES))
        g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_IO,
                     "%s: you do not have permission to read %s", name, path);
      else
        g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_IO, "%s: %s", name, local_error->message);
      return NULL;
    }
  g_autoptr (GBytes) bytes = g_mapped_file_get_bytes (mapped);
  if (g_mapped_file_get_length (mapped) > 0)
    {
      guard = tern_gguf_guard_register (g_mapped_file_get_contents (mapped), g_mapped_file_get_length (mapped));
      if (guard < 0)
        {
          g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_IO,
                       "%s: more than %d model files are open at once; close some first", name,
                       TERN_GGUF_GUARD_SLOTS);
          return NULL;
        }
    }
  return open_guarded (bytes, name, guard, error);
}

void
tern_gguf_free (TernGguf *gguf)
{
  if (gguf == NULL)
    return;
  for (gsize i = 0; i < gguf->n_kv; i++)
    {
      g_free (gguf->kv[i].key);
      g_free ((gpointer) gguf->kv[i].value.string_offsets);
    }
  g_free (gguf->kv);
  for (gsize i = 0; i < gguf->n_tensors; i++)
    g_free ((gpointer) gguf->tensors[i].name);
  g_free (gguf->tensors);
  g_hash_table_unref (gguf->kv_index);
  g_hash_table_unref (gguf->tensor_index);
  /* Out of the guard before the mapping goes (with the last reference to
   * the bytes). */
  if (gguf->guard >= 0)
    tern_gguf_guard_unregister (gguf->guard);
  g_bytes_unref (gguf->bytes);
  g_free (gguf->name);
  g_free (gguf);
}

guint32 tern_gguf_version (const TernGguf *gguf) { return gguf->version; }
guint32 tern_gguf_alignment (const TernGguf *gguf) { return gguf->alignment; }
guint64 tern_gguf_data_offset (const TernGguf *gguf) { return gguf->data_offset; }
const char *tern_gguf_name (const TernGguf *gguf) { return gguf->name; }
gsize tern_gguf_n_kv (const TernGguf *gguf) { return gguf->n_kv; }
gsize tern_gguf_n_tensors (const TernGguf *gguf) { return gguf->n_tensors; }

const guint8 *
tern_gguf_file_data (const TernGguf *gguf, gsize *size)
{
  *size = gguf->size;
  return gguf->data;
}

gboolean
tern_gguf_check_intact (const TernGguf *gguf, GError **error)
{
  if (gguf->guard < 0 || !tern_gguf_guard_damaged (gguf->guard))
    return TRUE;
  g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_IO,
               "the model file %s changed on disk while in use (it shrank, or could not be read); load it again",
               gguf->name);
  return FALSE;
}

const char *
tern_gguf_kv_key (const TernGguf *gguf, gsize i)
{
  g_assert (i < gguf->n_kv);
  return gguf->kv[i].key;
}

const TernGgufValue *
tern_gguf_kv_value (const TernGguf *gguf, gsize i)
{
  g_assert (i < gguf->n_kv);
  return &gguf->kv[i].value;
}

const TernGgufValue *
tern_gguf_find (const TernGguf *gguf, const char *key)
{
  KeyValue *kv = g_hash_table_lookup (gguf->kv_index, key);
  return kv ? &kv->value : NULL;
}

const TernGgufTensor *
tern_gguf_tensor (const TernGguf *gguf, gsize i)
{
  g_assert (i < gguf->n_tensors);
  return &gguf->tensors[i];
}

const TernGgufTensor *
tern_gguf_find_tensor (const TernGguf *gguf, const char *name)
{
  return g_hash_table_lookup (gguf->tensor_index, name);
}

gint64
tern_gguf_tensor_n_elems (const TernGgufTensor *t)
{
  return t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3];
}

void
tern_gguf_release_tensor (const TernGguf *gguf, const TernGgufTensor *tensor)
{
  guintptr page = (guintptr) sysconf (_SC_PAGESIZE);
  guintptr start, end;

  g_return_if_fail (gguf != NULL && tensor != NULL);

  start = ((guintptr) tensor->data + page - 1) / page * page;
  end = ((guintptr) tensor->data + tensor->n_bytes) / page * page;

  /* Only a file's mapping: dropping pages of memory would zero them. Only
   * the tensor's whole pages: their neighbours may still be in use. */
  if (gguf->guard < 0 || end <= start)
    return;
  madvise ((void *) start, end - start, MADV_DONTNEED);
}

/* Typed access. */

static gboolean
is_integer (TernGgufType t)
{
  return t <= TERN_GGUF_INT32 || t == TERN_GGUF_UINT64 || t == TERN_GGUF_INT64;
}

/* Reads integer element @i of type @t at @p, widened; unsigned 64-bit
 * values above G_MAXINT64 come back through @big. */
static gint64
load_int (TernGgufType t, const guint8 *p, gboolean *big)
{
  union { guint8 u8; gint8 i8; guint16 u16; gint16 i16; guint32 u32; gint32 i32; guint64 u64; gint64 i64; } v;
  memcpy (&v, p, scalar_size[t]);
  if (big)
    *big = FALSE;
  switch (t)
    {
    case TERN_GGUF_UINT8: return v.u8;
    case TERN_GGUF_INT8: return v.i8;
    case TERN_GGUF_UINT16: return GUINT16_FROM_LE (v.u16);
    case TERN_GGUF_INT16: return (gint16) GUINT16_FROM_LE (v.u16);
    case TERN_GGUF_UINT32: return GUINT32_FROM_LE (v.u32);
    case TERN_GGUF_INT32: return (gint32) GUINT32_FROM_LE (v.u32);
    case TERN_GGUF_INT64: return (gint64) GUINT64_FROM_LE (v.u64);
    case TERN_GGUF_UINT64:
      v.u64 = GUINT64_FROM_LE (v.u64);
      if (big)
        *big = v.u64 > G_MAXINT64;
      return (gint64) v.u64;
    default:
      g_assert_not_reached ();
    }
}

static double
load_float (TernGgufType t, const guint8 *p)
{
  if (t == TERN_GGUF_FLOAT32)
    {
      guint32 u;
      float f;
      memcpy (&u, p, 4);
      u = GUINT32_FROM_LE (u);
      memcpy (&f, &u, 4);
      return f;
    }
  guint64 u;
  double d;
  memcpy (&u, p, 8);
  u = GUINT64_FROM_LE (u);
  memcpy (&d, &u, 8);
  return d;
}

static const TernGgufValue *
find_typed (const TernGguf *gguf, const char *key, gboolean (*ok) (TernGgufType), const char *want,
            gboolean *absent, GError **error)
{
  const TernGgufValue *v = tern_gguf_find (gguf, key);
  *absent = v == NULL;
  if (v == NULL)
    return NULL;
  if (!ok (v->type))
    {
      g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_FORMAT, "%s: key %s has type %s, expected %s",
                   gguf->name, key, tern_gguf_type_name (v->type), want);
      return NULL;
    }
  return v;
}

gboolean
tern_gguf_get_uint (const TernGguf *gguf, const char *key, guint64 *out, GError **error)
{
  gboolean absent, big;
  const TernGgufValue *v = find_typed (gguf, key, is_integer, "an integer", &absent, error);
  if (v == NULL)
    return FALSE;
  gint64 x = load_int (v->type, v->data, &big);
  if (!big && x < 0)
    {
      g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_FORMAT, "%s: key %s is negative (%" G_GINT64_FORMAT ")",
                   gguf->name, key, x);
      return FALSE;
    }
  *out = (guint64) x;
  return TRUE;
}

gboolean
tern_gguf_get_int (const TernGguf *gguf, const char *key, gint64 *out, GError **error)
{
  gboolean absent, big;
  const TernGgufValue *v = find_typed (gguf, key, is_integer, "an integer", &absent, error);
  if (v == NULL)
    return FALSE;
  gint64 x = load_int (v->type, v->data, &big);
  if (big)
    {
      g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_FORMAT, "%s: key %s is too large", gguf->name, key);
      return FALSE;
    }
  *out = x;
  return TRUE;
}

static gboolean
is_float (TernGgufType t)
{
  return t == TERN_GGUF_FLOAT32 || t == TERN_GGUF_FLOAT64;
}

gboolean
tern_gguf_get_float (const TernGguf *gguf, const char *key, double *out, GError **error)
{
  gboolean absent;
  const TernGgufValue *v = find_typed (gguf, key, is_float, "a float", &absent, error);
  if (v == NULL)
    return FALSE;
  *out = load_float (v->type, v->data);
  return TRUE;
}

static gboolean
is_bool (TernGgufType t)
{
  return t == TERN_GGUF_BOOL;
}

gboolean
tern_gguf_get_bool (const TernGguf *gguf, const char *key, gboolean *out, GError **error)
{
  gboolean absent;
  const TernGgufValue *v = find_typed (gguf, key, is_bool, "bool", &absent, error);
  if (v == NULL)
    return FALSE;
  *out = v->data[0] != 0;
  return TRUE;
}

static gboolean
is_string (TernGgufType t)
{
  return t == TERN_GGUF_STRING;
}

gboolean
tern_gguf_get_string (const TernGguf *gguf, const char *key, TernGgufString *out, GError **error)
{
  gboolean absent;
  const TernGgufValue *v = find_typed (gguf, key, is_string, "string", &absent, error);
  if (v == NULL)
    return FALSE;
  *out = tern_gguf_value_string (v);
  return TRUE;
}

gboolean
tern_gguf_get_array (const TernGguf *gguf, const char *key, TernGgufType elem_type, const TernGgufValue **out,
                     GError **error)
{
  const TernGgufValue *v = tern_gguf_find (gguf, key);
  if (v == NULL)
    return FALSE;
  if (v->type != TERN_GGUF_ARRAY || v->elem_type != elem_type)
    {
      g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_FORMAT, "%s: key %s is %s%s, expected an array of %s",
                   gguf->name, key, v->type == TERN_GGUF_ARRAY ? "an array of " : "",
                   tern_gguf_type_name (v->type == TERN_GGUF_ARRAY ? v->elem_type : v->type),
                   tern_gguf_type_name (elem_type));
      return FALSE;
    }
  *out = v;
  return TRUE;
}

TernGgufString
tern_gguf_value_string (const TernGgufValue *value)
{
  g_assert (value->type == TERN_GGUF_STRING);
  return (TernGgufString) { (const char *) value->data, value->n };
}

TernGgufString
tern_gguf_array_string (const TernGgufValue *array, guint64 i)
{
  g_assert (array->type == TERN_GGUF_ARRAY && array->elem_type == TERN_GGUF_STRING && i < array->n);
  const guint8 *p = array->data + array->string_offsets[i];
  guint64 len;
  memcpy (&len, p, 8);
  return (TernGgufString) { (const char *) p + 8, GUINT64_FROM_LE (len) };
}

gint64
tern_gguf_array_int (const TernGgufValue *array, guint64 i)
{
  g_assert (array->type == TERN_GGUF_ARRAY && is_integer (array->elem_type) && i < array->n);
  return load_int (array->elem_type, array->data + i * scalar_size[array->elem_type], NULL);
}

double
tern_gguf_array_float (const TernGgufValue *array, guint64 i)
{
  g_assert (array->type == TERN_GGUF_ARRAY && is_float (array->elem_type) && i < array->n);
  return load_float (array->elem_type, array->data + i * scalar_size[array->elem_type]);
}

gsize
tern_gguf_scalar_size (TernGgufType type)
{
  return (guint) type < TERN_GGUF_N_TYPES ? scalar_size[type] : 0;
}
