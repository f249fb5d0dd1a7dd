/* SPDX-License-Identifier: GPL-3.0-or-later */

/* The GGUF reader on broken files: every file of the malformed corpus is
 * refused with the error code and message its case states; every strict
 * prefix of a valid file is refused, or opens when only padding is gone;
 * and every byte of the metadata and tensor infos, set to a few values,
 * gives a refusal with a well-formed error or a file whose every value,
 * string, array element and tensor lies inside the bytes given and agrees
 * with the rest. These checks need no sanitizer: a build without ASan
 * catches a reader that lets a length run past the file. CI runs them
 * under ASan and UBSan as well. */

#include <tern/error.h>
#include <tern/gguf.h>
#include <tern/tokenizer.h>

#include <string.h>

#include "malformed-gguf.h"

/* ---- Reports ---- */

#define MAX_REPORTED 20

/* Counts a test case's problems, showing the first MAX_REPORTED, so that
 * the case fails once with the whole picture. */
typedef struct {
  guint count;
} Problems;

G_GNUC_PRINTF (2, 3) static void
problem (Problems *p, const char *format, ...)
{
  if (++p->count > MAX_REPORTED)
    return;
  va_list args;
  va_start (args, format);
  g_autofree char *text = g_strdup_vprintf (format, args);
  va_end (args);
  g_test_message ("problem %u: %s", p->count, text);
}

static void
problems_done (const Problems *p, const char *what)
{
  if (p->count > 0)
    g_test_fail_printf ("%u problems in %s%s", p->count, what,
                        p->count > MAX_REPORTED ? " (the first " G_STRINGIFY (MAX_REPORTED) " are shown)" : "");
}

/* ---- What an opened file must satisfy ---- */

#define BROKEN(...) return g_strdup_printf (__VA_ARGS__)

/* Whether the @n bytes at @p lie inside the @size bytes at @base. */
static gboolean
inside (const guint8 *base, gsize size, const void *p, guint64 n)
{
  guintptr b = (guintptr) base, x = (guintptr) p;
  return x >= b && x - b <= size && n <= size - (x - b);
}

/* Bytes of one value of each fixed-size type, from the GGUF specification. */
static gsize
spec_size (TernGgufType type)
{
  static const gsize sizes[TERN_GGUF_N_TYPES] = { 1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8 };
  return (guint) type < TERN_GGUF_N_TYPES ? sizes[type] : 0;
}

static guint64
load_le (const guint8 *p, gsize n)
{
  guint64 v = 0;
  for (gsize i = 0; i < n; i++)
    v |= (guint64) p[i] << (8 * i);
  return v;
}

static gboolean
is_signed (TernGgufType t)
{
  return t == TERN_GGUF_INT8 || t == TERN_GGUF_INT16 || t == TERN_GGUF_INT32 || t == TERN_GGUF_INT64;
}

static gboolean
is_integer (TernGgufType t)
{
  return t <= TERN_GGUF_INT32 || t == TERN_GGUF_UINT64 || t == TERN_GGUF_INT64;
}

/* The integer of type @t at @p, sign-extended where @t is signed (an
 * unsigned 64-bit value above G_MAXINT64 comes back negative). */
static gint64
decode_int (TernGgufType t, const guint8 *p)
{
  gsize n = spec_size (t);
  guint64 v = load_le (p, n);
  if (is_signed (t) && n < 8 && (v >> (8 * n - 1)))
    v |= ~(guint64) 0 << (8 * n);
  return (gint64) v;
}

static double
decode_float (TernGgufType t, const guint8 *p)
{
  if (t == TERN_GGUF_FLOAT32)
    {
      guint32 u = (guint32) load_le (p, 4);
      float f;
      memcpy (&f, &u, 4);
      return f;
    }
  guint64 u = load_le (p, 8);
  double d;
  memcpy (&d, &u, 8);
  return d;
}

static gboolean
same_double (double a, double b)
{
  return memcmp (&a, &b, sizeof a) == 0;
}

/* A scalar value, read by every typed getter against its own decoding. */
static char *
check_scalar (const TernGguf *gguf, const guint8 *file, gsize limit, const char *key, const TernGgufValue *v)
{
  gsize size = spec_size (v->type);
  if (v->n != 1 || v->n_bytes != size)
    BROKEN ("key %s: %s value with n %" G_GUINT64_FORMAT " and %" G_GUINT64_FORMAT " bytes", key,
            tern_gguf_type_name (v->type), v->n, v->n_bytes);
  if (!inside (file, limit, v->data, size))
    BROKEN ("key %s: value outside the metadata", key);

  g_autoptr (GError) error = NULL;
  gint64 i;
  guint64 u;
  double f;
  gboolean b;
  if (is_integer (v->type))
    {
      gint64 x = decode_int (v->type, v->data);
      gboolean big = v->type == TERN_GGUF_UINT64 && x < 0;
      if (tern_gguf_get_int (gguf, key, &i, &error) == big || (!big && i != x))
        BROKEN ("key %s: get_int disagrees with the bytes", key);
      g_clear_error (&error);
      if (tern_gguf_get_uint (gguf, key, &u, &error) == (!big && x < 0) || (!(x < 0 && !big) && u != (guint64) x))
        BROKEN ("key %s: get_uint disagrees with the bytes", key);
      g_clear_error (&error);
      if (tern_gguf_get_float (gguf, key, &f, &error) || !g_error_matches (error, TERN_ENGINE_ERROR,
                                                                            TERN_ENGINE_ERROR_FORMAT))
        BROKEN ("key %s: get_float accepts an integer", key);
    }
  else if (v->type == TERN_GGUF_FLOAT32 || v->type == TERN_GGUF_FLOAT64)
    {
      if (!tern_gguf_get_float (gguf, key, &f, &error) || !same_double (f, decode_float (v->type, v->data)))
        BROKEN ("key %s: get_float disagrees with the bytes", key);
      if (tern_gguf_get_int (gguf, key, &i, &error) || !g_error_matches (error, TERN_ENGINE_ERROR,
                                                                          TERN_ENGINE_ERROR_FORMAT))
        BROKEN ("key %s: get_int accepts a float", key);
    }
  else if (v->type == TERN_GGUF_BOOL)
    {
      if (v->data[0] > 1)
        BROKEN ("key %s: boolean holding %u", key, v->data[0]);
      if (!tern_gguf_get_bool (gguf, key, &b, &error) || b != v->data[0])
        BROKEN ("key %s: get_bool disagrees with the bytes", key);
    }
  return NULL;
}

/* An array: its elements inside the metadata, a string array's elements
 * back to back, each read through the accessors. */
static char *
check_array (const TernGguf *gguf, const guint8 *file, gsize limit, const char *key, const TernGgufValue *v)
{
  const TernGgufValue *got = NULL;
  if ((guint) v->elem_type >= TERN_GGUF_N_TYPES || v->elem_type == TERN_GGUF_ARRAY)
    BROKEN ("array %s has elements of type %d", key, v->elem_type);
  if (!inside (file, limit, v->data, v->n_bytes))
    BROKEN ("array %s: its %" G_GUINT64_FORMAT " bytes run outside the metadata", key, v->n_bytes);
  if (!tern_gguf_get_array (gguf, key, v->elem_type, &got, NULL) || got != v)
    BROKEN ("array %s: get_array does not give it", key);

  if (v->elem_type == TERN_GGUF_STRING)
    {
      /* Each string takes its 8-byte length at least. */
      if (v->n > v->n_bytes / 8)
        BROKEN ("array %s: %" G_GUINT64_FORMAT " strings in %" G_GUINT64_FORMAT " bytes", key, v->n, v->n_bytes);
      guint64 at = 0;
      for (guint64 k = 0; k < v->n; k++)
        {
          if (v->string_offsets[k] != at || v->n_bytes - at < 8)
            BROKEN ("array %s: element %" G_GUINT64_FORMAT " is not where the one before ends", key, k);
          guint64 len = load_le (v->data + at, 8);
          if (len > v->n_bytes - at - 8)
            BROKEN ("array %s: element %" G_GUINT64_FORMAT " runs past the array", key, k);
          TernGgufString s = tern_gguf_array_string (v, k);
          if ((const guint8 *) s.data != v->data + at + 8 || s.len != len)
            BROKEN ("array %s: array_string (%" G_GUINT64_FORMAT ") disagrees with the bytes", key, k);
          at += 8 + len;
        }
      if (at != v->n_bytes)
        BROKEN ("array %s: strings end at %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT " bytes", key, at,
                v->n_bytes);
      return NULL;
    }

  gsize size = spec_size (v->elem_type);
  if (v->n > limit / size || v->n_bytes != v->n * size)
    BROKEN ("array %s: %" G_GUINT64_FORMAT " elements of %s in %" G_GUINT64_FORMAT " bytes", key, v->n,
            tern_gguf_type_name (v->elem_type), v->n_bytes);
  for (guint64 k = 0; k < v->n; k++)
    {
      const guint8 *p = v->data + k * size;
      if (v->elem_type == TERN_GGUF_BOOL && *p > 1)
        BROKEN ("array %s: element %" G_GUINT64_FORMAT " is a boolean holding %u", key, k, *p);
      if (is_integer (v->elem_type) && tern_gguf_array_int (v, k) != decode_int (v->elem_type, p))
        BROKEN ("array %s: array_int (%" G_GUINT64_FORMAT ") disagrees with the bytes", key, k);
      if ((v->elem_type == TERN_GGUF_FLOAT32 || v->elem_type == TERN_GGUF_FLOAT64)
          && !same_double (tern_gguf_array_float (v, k), decode_float (v->elem_type, p)))
        BROKEN ("array %s: array_float (%" G_GUINT64_FORMAT ") disagrees with the bytes", key, k);
    }
  return NULL;
}

static char *
check_value (const TernGguf *gguf, const guint8 *file, gsize limit, const char *key, const TernGgufValue *v)
{
  if ((guint) v->type >= TERN_GGUF_N_TYPES)
    BROKEN ("key %s has type %d", key, v->type);
  if (v->type == TERN_GGUF_ARRAY)
    return check_array (gguf, file, limit, key, v);
  if (v->type != TERN_GGUF_STRING)
    return check_scalar (gguf, file, limit, key, v);

  TernGgufString s, got;
  if (v->n != v->n_bytes || !inside (file, limit, v->data, v->n_bytes))
    BROKEN ("string %s: its %" G_GUINT64_FORMAT " bytes run outside the metadata", key, v->n_bytes);
  s = tern_gguf_value_string (v);
  if ((const guint8 *) s.data != v->data || s.len != v->n || !tern_gguf_get_string (gguf, key, &got, NULL)
      || got.data != s.data || got.len != s.len)
    BROKEN ("string %s: the accessors disagree with the value", key);
  return NULL;
}

/* Where tensor bytes are read to, so that the reads are not optimised out. */
static volatile guint8 read_sink;

static int
compare_offsets (gconstpointer a, gconstpointer b)
{
  const TernGgufTensor *x = *(const TernGgufTensor *const *) a;
  const TernGgufTensor *y = *(const TernGgufTensor *const *) b;
  return x->offset < y->offset ? -1 : x->offset > y->offset;
}

static char *
check_tensor (const TernGguf *gguf, const guint8 *file, gsize size, guint64 data_offset, const TernGgufTensor *t)
{
  gsize name_len = strlen (t->name);
  if (name_len == 0 || name_len > TERN_GGUF_MAX_NAME || !g_utf8_validate (t->name, -1, NULL))
    BROKEN ("tensor name \"%s\" is empty, too long or not UTF-8", t->name);
  if (tern_gguf_find_tensor (gguf, t->name) != t)
    BROKEN ("tensor %s: find_tensor gives another", t->name);
  if (t->n_dims < 1 || t->n_dims > TERN_GGUF_MAX_DIMS)
    BROKEN ("tensor %s has %u dimensions", t->name, t->n_dims);

  guint64 n_elems = 1;
  for (guint d = 0; d < TERN_GGUF_MAX_DIMS; d++)
    if (t->ne[d] <= 0 || (d >= t->n_dims && t->ne[d] != 1)
        || __builtin_mul_overflow (n_elems, (guint64) t->ne[d], &n_elems) || n_elems > G_MAXINT64)
      BROKEN ("tensor %s: dimension %u is %" G_GINT64_FORMAT, t->name, d, t->ne[d]);
  if ((guint64) tern_gguf_tensor_n_elems (t) != n_elems)
    BROKEN ("tensor %s: tensor_n_elems gives %" G_GINT64_FORMAT ", not %" G_GUINT64_FORMAT, t->name,
            tern_gguf_tensor_n_elems (t), n_elems);

  const TernTypeInfo *info = tern_type_info (t->type);
  if (info == NULL || !info->storage)
    BROKEN ("tensor %s has type %d, not a storage type", t->name, t->type);
  guint64 n_bytes;
  if (t->ne[0] % info->block_elems != 0
      || __builtin_mul_overflow (n_elems / info->block_elems, (guint64) info->block_bytes, &n_bytes)
      || t->n_bytes != n_bytes)
    BROKEN ("tensor %s: %" G_GUINT64_FORMAT " bytes for %" G_GUINT64_FORMAT " elements of %s", t->name, t->n_bytes,
            n_elems, info->name);

  if (t->offset % tern_gguf_alignment (gguf) != 0)
    BROKEN ("tensor %s: offset %" G_GUINT64_FORMAT " is not aligned", t->name, t->offset);
  if (t->offset > size - data_offset)
    BROKEN ("tensor %s: offset %" G_GUINT64_FORMAT " lies past the end of the file", t->name, t->offset);
  if ((guintptr) t->data != (guintptr) file + data_offset + t->offset)
    BROKEN ("tensor %s: data not at the data section plus its offset %" G_GUINT64_FORMAT, t->name, t->offset);
  if (!inside (file + data_offset, size - data_offset, t->data, t->n_bytes))
    BROKEN ("tensor %s: its %" G_GUINT64_FORMAT " bytes at offset %" G_GUINT64_FORMAT " run past the end of "
            "the file", t->name, t->n_bytes, t->offset);

  /* Every byte is read: under ASan, that proves them inside the file. */
  guint8 x = 0;
  for (guint64 k = 0; k < t->n_bytes; k++)
    x ^= ((const guint8 *) t->data)[k];
  read_sink = x;
  return NULL;
}

/* The first rule an opened file breaks, or NULL. @bytes are those given
 * to tern_gguf_open_bytes. */
static char *
check_opened (GBytes *bytes, const TernGguf *gguf)
{
  gsize size, got_size;
  const guint8 *file = g_bytes_get_data (bytes, &size);
  if (tern_gguf_file_data (gguf, &got_size) != file || got_size != size)
    BROKEN ("file_data is not the bytes given");
  if (tern_gguf_version (gguf) != 2 && tern_gguf_version (gguf) != 3)
    BROKEN ("version %u", tern_gguf_version (gguf));

  guint32 alignment = tern_gguf_alignment (gguf);
  const TernGgufValue *a = tern_gguf_find (gguf, "general.alignment");
  guint32 expect = a && a->type == TERN_GGUF_UINT32 ? (guint32) load_le (a->data, 4) : TERN_GGUF_DEFAULT_ALIGNMENT;
  if (alignment == 0 || (alignment & (alignment - 1)) != 0 || alignment != expect)
    BROKEN ("alignment %u (general.alignment says %u)", alignment, expect);
  guint64 data_offset = tern_gguf_data_offset (gguf);
  if (data_offset % alignment != 0)
    BROKEN ("data section at %" G_GUINT64_FORMAT ", not aligned to %u", data_offset, alignment);

  /* Metadata and tensor infos come before the data section. */
  gsize limit = MIN (data_offset, size);
  for (gsize i = 0; i < tern_gguf_n_kv (gguf); i++)
    {
      const char *key = tern_gguf_kv_key (gguf, i);
      const TernGgufValue *v = tern_gguf_kv_value (gguf, i);
      if (key == NULL || *key == '\0' || !g_utf8_validate (key, -1, NULL))
        BROKEN ("metadata pair %" G_GSIZE_FORMAT " has an empty or invalid key", i);
      if (tern_gguf_find (gguf, key) != v)
        BROKEN ("key %s: find gives another value", key);
      char *broken = check_value (gguf, file, limit, key, v);
      if (broken)
        return broken;
    }

  gsize n_tensors = tern_gguf_n_tensors (gguf);
  if (n_tensors == 0)
    return NULL;
  if (data_offset > size)
    BROKEN ("data section at %" G_GUINT64_FORMAT ", past the end of the file (%" G_GSIZE_FORMAT " bytes)",
            data_offset, size);
  g_autofree const TernGgufTensor **sorted = g_new (const TernGgufTensor *, n_tensors);
  for (gsize i = 0; i < n_tensors; i++)
    {
      sorted[i] = tern_gguf_tensor (gguf, i);
      char *broken = check_tensor (gguf, file, size, data_offset, sorted[i]);
      if (broken)
        return broken;
    }
  qsort (sorted, n_tensors, sizeof *sorted, compare_offsets);
  for (gsize i = 1; i < n_tensors; i++)
    if (sorted[i - 1]->offset + sorted[i - 1]->n_bytes > sorted[i]->offset)
      BROKEN ("tensors %s and %s overlap", sorted[i - 1]->name, sorted[i]->name);
  return NULL;
}

/* What is wrong with a refusal of file @name: it must be a FORMAT error
 * (or, where @unsupported_too, an UNSUPPORTED one about a version or a
 * tensor type) whose message starts with the file name and says more. */
static char *
check_refused (const GError *error, const char *name, gboolean unsupported_too)
{
  if (error == NULL)
    BROKEN ("refused without an error");
  gboolean unsupported = error->code == TERN_ENGINE_ERROR_UNSUPPORTED;
  if (error->domain != TERN_ENGINE_ERROR
      || (error->code != TERN_ENGINE_ERROR_FORMAT && !(unsupported_too && unsupported)))
    BROKEN ("error %s %d: %s", g_quark_to_string (error->domain), error->code, error->message);
  if (unsupported && !strstr (error->message, "version") && !strstr (error->message, "type id"))
    BROKEN ("UNSUPPORTED for neither a version nor a tensor type: %s", error->message);
  g_autofree char *prefix = g_strconcat (name, ": ", NULL);
  if (!g_str_has_prefix (error->message, prefix) || strlen (error->message) < strlen (prefix) + 10)
    BROKEN ("message \"%s\" does not start with \"%s\" and say what is wrong", error->message, prefix);
  return NULL;
}

/* Where the metadata and tensor infos of a valid file end. */
static gsize
header_end (const TernGguf *gguf)
{
  gsize size;
  const guint8 *file = tern_gguf_file_data (gguf, &size);
  if (tern_gguf_n_tensors (gguf) > 0)
    return MIN (tern_gguf_data_offset (gguf), size);
  /* No tensors: the padding after the metadata may go too. The header
   * (magic, version and counts) is 24 bytes. */
  gsize end = 24;
  for (gsize i = 0; i < tern_gguf_n_kv (gguf); i++)
    {
      const TernGgufValue *v = tern_gguf_kv_value (gguf, i);
      end = MAX (end, (gsize) (v->data - file) + v->n_bytes);
    }
  return end;
}

/* ---- Cases ---- */

static void
test_valid (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) bytes = malformed_gguf_valid ();
  g_autoptr (TernGguf) gguf = tern_gguf_open_bytes (bytes, "valid.gguf", &error);
  gint64 i;
  double f;

  g_assert_no_error (error);
  g_assert_cmpuint (tern_gguf_n_tensors (gguf), ==, 2);
  g_assert_true (tern_gguf_get_int (gguf, "test.i16", &i, &error));
  g_assert_cmpint (i, ==, 300);
  g_assert_true (tern_gguf_get_int (gguf, "test.i32", &i, &error));
  g_assert_cmpint (i, ==, -2);
  g_assert_true (tern_gguf_get_float (gguf, "test.f64", &f, &error));
  g_assert_cmpfloat (f, ==, 0.25);
  /* The last tensor ends at the end of the file. */
  g_assert_cmpuint (tern_gguf_data_offset (gguf) + 64 + 34 * 16, ==, g_bytes_get_size (bytes));

  g_autofree char *broken = check_opened (bytes, gguf);
  g_assert_null (broken);
}

/* Each malformed file is refused with its case's code, and the message
 * names what its case says is at fault. */
static void
test_corpus (void)
{
  g_autoptr (GPtrArray) corpus = malformed_gguf_corpus ();
  Problems problems = { 0 };

  for (guint i = 0; i < corpus->len; i++)
    {
      MalformedGguf *m = corpus->pdata[i];
      g_autoptr (GError) error = NULL;
      g_autofree char *name = g_strconcat (m->name, ".gguf", NULL);
      g_autoptr (TernGguf) gguf = tern_gguf_open_bytes (m->bytes, name, &error);

      g_test_message ("%s: %s", m->name, error ? error->message : "(opened)");
      if (gguf != NULL)
        {
          problem (&problems, "%s: opened", m->name);
          continue;
        }
      g_autofree char *broken = check_refused (error, name, m->error_code == TERN_ENGINE_ERROR_UNSUPPORTED);
      if (broken)
        problem (&problems, "%s: %s", m->name, broken);
      else if (error->code != m->error_code)
        problem (&problems, "%s: error code %d, not %d", m->name, error->code, m->error_code);
      else if (strstr (error->message, m->message) == NULL)
        problem (&problems, "%s: message \"%s\" does not name \"%s\"", m->name, error->message, m->message);
    }
  problems_done (&problems, "the malformed corpus");
}

/* Every prefix of a valid file that cuts into its metadata, tensor infos
 * or tensor data is refused; one that only cuts off padding after the
 * metadata of a file without tensors opens, whole. */
static void
test_truncated (void)
{
  g_autoptr (GPtrArray) bases = malformed_gguf_valid_files ();
  Problems problems = { 0 };

  for (guint b = 0; b < bases->len; b++)
    {
      MalformedGguf *base = bases->pdata[b];
      gsize size = g_bytes_get_size (base->bytes);
      g_autoptr (TernGguf) whole = tern_gguf_open_bytes (base->bytes, base->name, NULL);
      g_assert_nonnull (whole);
      gsize needed = tern_gguf_n_tensors (whole) > 0 ? size : header_end (whole);

      for (gsize len = 0; len < size; len++)
        {
          g_autoptr (GError) error = NULL;
          g_autoptr (GBytes) cut = g_bytes_new_from_bytes (base->bytes, 0, len);
          g_autoptr (TernGguf) gguf = tern_gguf_open_bytes (cut, "cut.gguf", &error);
          g_autofree char *broken = NULL;
          if (gguf == NULL && len >= needed)
            problem (&problems, "%s cut to %" G_GSIZE_FORMAT " of %" G_GSIZE_FORMAT " bytes, after its last value"
                     " ends at %" G_GSIZE_FORMAT ", refused: %s", base->name, len, size, needed,
                     error ? error->message : "(no error)");
          else if (gguf == NULL && (broken = check_refused (error, "cut.gguf", FALSE)))
            problem (&problems, "%s cut to %" G_GSIZE_FORMAT " bytes: %s", base->name, len, broken);
          else if (gguf != NULL && len < needed)
            problem (&problems, "%s cut to %" G_GSIZE_FORMAT " of %" G_GSIZE_FORMAT " bytes (it needs %"
                     G_GSIZE_FORMAT ") but opened", base->name, len, size, needed);
          else if (gguf != NULL && (broken = check_opened (cut, gguf)))
            problem (&problems, "%s cut to %" G_GSIZE_FORMAT " bytes opened, but %s", base->name, len, broken);
        }
    }
  problems_done (&problems, "truncated files");
}

/* Every byte of the header, metadata and tensor infos of each valid file,
 * set to each of a few values: the reader refuses with a well-formed
 * error, or everything it gives lies inside the file and agrees. */
static void
test_corrupted_bytes (void)
{
  g_autoptr (GPtrArray) bases = malformed_gguf_valid_files ();
  static const guint8 values[] = { 0x00, 0x01, 0x7f, 0x80, 0xff };
  Problems problems = { 0 };
  guint n_opened = 0, n_refused = 0;

  for (guint b = 0; b < bases->len; b++)
    {
      MalformedGguf *base = bases->pdata[b];
      g_autoptr (TernGguf) whole = tern_gguf_open_bytes (base->bytes, base->name, NULL);
      g_assert_nonnull (whole);
      gsize head = header_end (whole);

      for (gsize pos = 0; pos < head; pos++)
        for (guint v = 0; v < G_N_ELEMENTS (values); v++)
          {
            g_autoptr (GByteArray) copy = g_byte_array_new ();
            g_byte_array_append (copy, g_bytes_get_data (base->bytes, NULL), g_bytes_get_size (base->bytes));
            copy->data[pos] = values[v];
            g_autoptr (GBytes) bytes = g_byte_array_free_to_bytes (g_steal_pointer (&copy));
            g_autoptr (GError) error = NULL;
            g_autoptr (TernGguf) gguf = tern_gguf_open_bytes (bytes, "x.gguf", &error);
            g_autofree char *broken = gguf ? check_opened (bytes, gguf) : check_refused (error, "x.gguf", TRUE);
            if (gguf && error)
              problem (&problems, "%s, byte %" G_GSIZE_FORMAT " set to 0x%02x: opened and set an error", base->name,
                       pos, values[v]);
            else if (broken)
              problem (&problems, "%s, byte %" G_GSIZE_FORMAT " set to 0x%02x: %s: %s", base->name, pos, values[v],
                       gguf ? "opened" : "refused", broken);
            if (gguf)
              n_opened++;
            else
              n_refused++;
          }
    }
  g_test_message ("%u corrupted files opened, %u refused", n_opened, n_refused);
  problems_done (&problems, "corrupted files");
}

/* The fuzzing seeds are valid vocabularies that tokenize. */
static void
test_tokenizer_seeds (void)
{
  g_autoptr (GPtrArray) seeds = malformed_gguf_tokenizer_seeds ();

  for (guint i = 0; i < seeds->len; i++)
    {
      MalformedGguf *m = seeds->pdata[i];
      g_autoptr (GError) error = NULL;
      g_autoptr (TernGguf) gguf = tern_gguf_open_bytes (m->bytes, m->name, &error);
      g_assert_no_error (error);
      g_autofree char *broken = check_opened (m->bytes, gguf);
      g_assert_null (broken);
      g_autoptr (TernTokenizer) tok = tern_tokenizer_new (gguf, &error);
      g_assert_no_error (error);
      g_autoptr (GArray) ids = g_array_new (FALSE, FALSE, sizeof (TernToken));
      g_autoptr (GString) text = g_string_new (NULL);
      g_assert_true (tern_tokenizer_encode (tok, "the hand in the sand", -1, TERN_TOKENIZE_NONE, ids, &error));
      g_assert_cmpuint (ids->len, >, 0);
      g_assert_true (tern_tokenizer_decode (tok, (TernToken *) ids->data, ids->len, FALSE, text, &error));
      g_assert_cmpstr (text->str, ==, "the hand in the sand");
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/engine/gguf-malformed/valid", test_valid);
  g_test_add_func ("/engine/gguf-malformed/corpus", test_corpus);
  g_test_add_func ("/engine/gguf-malformed/truncated", test_truncated);
  g_test_add_func ("/engine/gguf-malformed/corrupted-bytes", test_corrupted_bytes);
  g_test_add_func ("/engine/gguf-malformed/tokenizer-seeds", test_tokenizer_seeds);
  return g_test_run ();
}
