/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>
#include <tern/types.h>

G_BEGIN_DECLS

/* GGUF container files (versions 2 and 3), read memory-mapped and written
 * streaming. Every count, length, offset, shape and type of a file is
 * checked when it is opened; a bad file gives a TERN_ENGINE_ERROR_FORMAT
 * error naming the key or tensor at fault. Once open, a TernGguf is
 * immutable: any thread may read it concurrently. */

typedef enum {
  TERN_GGUF_UINT8 = 0,
  TERN_GGUF_INT8 = 1,
  TERN_GGUF_UINT16 = 2,
  TERN_GGUF_INT16 = 3,
  TERN_GGUF_UINT32 = 4,
  TERN_GGUF_INT32 = 5,
  TERN_GGUF_FLOAT32 = 6,
  TERN_GGUF_BOOL = 7,
  TERN_GGUF_STRING = 8,
  TERN_GGUF_ARRAY = 9,
  TERN_GGUF_UINT64 = 10,
  TERN_GGUF_INT64 = 11,
  TERN_GGUF_FLOAT64 = 12,
  TERN_GGUF_N_TYPES
} TernGgufType;

#define TERN_GGUF_MAX_DIMS 4
#define TERN_GGUF_MAX_NAME 63         /* bytes in a tensor name */
#define TERN_GGUF_DEFAULT_ALIGNMENT 32

typedef struct TernGguf TernGguf;

/* A string inside the mapped file: not NUL-terminated. */
typedef struct {
  const char *data;
  gsize len;
} TernGgufString;

/* One metadata value, pointing into the mapped file. For scalars @data
 * holds the little-endian value and @n is 1; for strings @n is the byte
 * length; for arrays @elem_type is the element type and @n the count. */
typedef struct {
  TernGgufType type;
  TernGgufType elem_type;
  guint64 n;
  const guint8 *data;
  guint64 n_bytes;               /* bytes at @data: the encoded value or array elements */
  const guint64 *string_offsets; /* string arrays: offset from @data of each element's length */
} TernGgufValue;

typedef struct {
  const char *name;            /* NUL-terminated, valid UTF-8 */
  guint32 n_dims;              /* 1..4 */
  gint64 ne[TERN_GGUF_MAX_DIMS]; /* ne[0] is the row length; unused dims are 1 */
  TernType type;
  guint64 offset;              /* from the start of the data section */
  guint64 n_bytes;
  const void *data;            /* inside the mapping, valid while the TernGguf lives */
} TernGgufTensor;

/* Opens and validates @path. Returns NULL with an IO or FORMAT error (or
 * UNSUPPORTED for a valid file using a tensor type Tern lacks).
 *
 * The file stays mapped while the TernGguf lives, and may change on disk
 * meanwhile. Where it shrinks, a read of the part gone does not crash the
 * process (as a plain mapping's SIGBUS would): it gives zeros, and marks
 * the TernGguf damaged for good; tern_gguf_check_intact tells, and
 * whatever read the file checks it before its result is used. A SIGBUS
 * that is no read of such a mapping goes to the handler installed before,
 * or kills the process as without Tern. Errors: IO too when the file
 * shrinks while it is being opened. */
TernGguf *tern_gguf_open (const char *path, GError **error);

/* Same on bytes already in memory; @name is used in error messages. The
 * TernGguf keeps a reference to @bytes. */
TernGguf *tern_gguf_open_bytes (GBytes *bytes, const char *name, GError **error);

void tern_gguf_free (TernGguf *gguf);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TernGguf, tern_gguf_free)

/* TRUE while every read of @gguf's file read the file; FALSE with an IO
 * error ("the model file NAME changed on disk while in use…; load it
 * again") once a read found the file shorter than when it was opened, or
 * could not read it, and got zeros instead. Always TRUE for a TernGguf
 * opened on bytes. Any thread. */
gboolean tern_gguf_check_intact (const TernGguf *gguf, GError **error);

guint32 tern_gguf_version (const TernGguf *gguf);
guint32 tern_gguf_alignment (const TernGguf *gguf);
/* File offset of the data section. */
guint64 tern_gguf_data_offset (const TernGguf *gguf);
/* The whole file as mapped. */
const guint8 *tern_gguf_file_data (const TernGguf *gguf, gsize *size);
/* The file name given when opening, for messages. */
const char *tern_gguf_name (const TernGguf *gguf);

/* Metadata, in file order. */
gsize tern_gguf_n_kv (const TernGguf *gguf);
const char *tern_gguf_kv_key (const TernGguf *gguf, gsize i);
const TernGgufValue *tern_gguf_kv_value (const TernGguf *gguf, gsize i);
/* Returns the value of @key, or NULL when absent. */
const TernGgufValue *tern_gguf_find (const TernGguf *gguf, const char *key);

/* Typed getters. Each returns TRUE and stores the value when @key exists
 * with a compatible type; FALSE with @error unset when @key is absent;
 * FALSE with a FORMAT error naming the key when the type or value is wrong.
 * get_uint accepts any integer type holding a non-negative value; get_int
 * any integer type that fits in gint64; get_float f32 or f64. */
gboolean tern_gguf_get_uint (const TernGguf *gguf, const char *key, guint64 *out, GError **error);
gboolean tern_gguf_get_int (const TernGguf *gguf, const char *key, gint64 *out, GError **error);
gboolean tern_gguf_get_float (const TernGguf *gguf, const char *key, double *out, GError **error);
gboolean tern_gguf_get_bool (const TernGguf *gguf, const char *key, gboolean *out, GError **error);
gboolean tern_gguf_get_string (const TernGguf *gguf, const char *key, TernGgufString *out, GError **error);
/* An array whose elements have type @elem_type. */
gboolean tern_gguf_get_array (const TernGguf *gguf, const char *key, TernGgufType elem_type,
                              const TernGgufValue **out, GError **error);

/* Elements of an array value; @i < value->n and the element type must match
 * (g_assert). */
TernGgufString tern_gguf_array_string (const TernGgufValue *array, guint64 i);
gint64 tern_gguf_array_int (const TernGgufValue *array, guint64 i);   /* any integer type */
double tern_gguf_array_float (const TernGgufValue *array, guint64 i); /* f32 or f64 */

/* Scalar accessors on a value of matching type (g_assert). */
TernGgufString tern_gguf_value_string (const TernGgufValue *value);

const char *tern_gguf_type_name (TernGgufType type);
/* Bytes of one value of a fixed-size type; 0 for strings and arrays. */
gsize tern_gguf_scalar_size (TernGgufType type);

/* Tensors, in file order. */
gsize tern_gguf_n_tensors (const TernGguf *gguf);
const TernGgufTensor *tern_gguf_tensor (const TernGguf *gguf, gsize i);
/* Returns the tensor named @name, or NULL. */
const TernGgufTensor *tern_gguf_find_tensor (const TernGguf *gguf, const char *name);
/* Elements in the tensor. */
gint64 tern_gguf_tensor_n_elems (const TernGgufTensor *tensor);

/* Gives back the memory of the pages of @tensor's data that the process
 * holds (they are read from the file again when touched), so that a
 * program going once through a file, as compression does, keeps resident
 * only what it reads now. Does nothing for a TernGguf made from bytes.
 * Any thread. */
void tern_gguf_release_tensor (const TernGguf *gguf, const TernGgufTensor *tensor);

/* Writer. Calls go in this order: add metadata and tensor infos, then
 * begin_data (which writes the header, metadata and infos), then the bytes
 * of each tensor in the order they were added, possibly in pieces, then
 * finish. Memory use is bounded by the metadata; tensor data is streamed.
 * The file is written to a temporary name and renamed into place by
 * finish, so a failed or abandoned write never leaves a partial file at
 * @path. One thread at a time. */
typedef struct TernGgufWriter TernGgufWriter;

TernGgufWriter *tern_gguf_writer_new (const char *path, GError **error);
/* Abandons an unfinished file (removing the temporary) and frees. */
void tern_gguf_writer_free (TernGgufWriter *writer);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TernGgufWriter, tern_gguf_writer_free)

void tern_gguf_writer_set_version (TernGgufWriter *writer, guint32 version);
/* Sets the data alignment (a power of two) without adding the
 * general.alignment key; add the key too when it is not the default. */
void tern_gguf_writer_set_alignment (TernGgufWriter *writer, guint32 alignment);

void tern_gguf_writer_add_uint32 (TernGgufWriter *writer, const char *key, guint32 v);
void tern_gguf_writer_add_int32 (TernGgufWriter *writer, const char *key, gint32 v);
void tern_gguf_writer_add_uint64 (TernGgufWriter *writer, const char *key, guint64 v);
void tern_gguf_writer_add_float32 (TernGgufWriter *writer, const char *key, float v);
void tern_gguf_writer_add_bool (TernGgufWriter *writer, const char *key, gboolean v);
void tern_gguf_writer_add_string (TernGgufWriter *writer, const char *key, const char *v);
/* Arrays of fixed-size elements (@data holds @n little-endian values). */
void tern_gguf_writer_add_array (TernGgufWriter *writer, const char *key, TernGgufType elem_type,
                                 const void *data, guint64 n);
void tern_gguf_writer_add_string_array (TernGgufWriter *writer, const char *key,
                                        const char *const *strings, guint64 n);
/* Copies a value read from another file, type and bytes exactly. */
void tern_gguf_writer_add_value (TernGgufWriter *writer, const char *key, const TernGgufValue *value);

/* Declares a tensor; its data comes after begin_data. */
void tern_gguf_writer_add_tensor (TernGgufWriter *writer, const char *name, TernType type,
                                  guint32 n_dims, const gint64 *ne);

/* Bytes a tensor named @name with @n_dims dimensions takes in the header
 * (its info), whatever its type. */
guint64 tern_gguf_tensor_info_size (const char *name, guint32 n_dims);
/* Bytes of the file as declared so far: the header with the metadata and
 * the infos of the tensors added, padded to the alignment when there are
 * tensors, then each tensor's data padded. Before begin_data. */
guint64 tern_gguf_writer_file_size (const TernGgufWriter *writer);

gboolean tern_gguf_writer_begin_data (TernGgufWriter *writer, GError **error);
gboolean tern_gguf_writer_write (TernGgufWriter *writer, const void *data, gsize len, GError **error);
/* Checks every tensor got exactly its bytes, pads, syncs and renames. */
gboolean tern_gguf_writer_finish (TernGgufWriter *writer, GError **error);

/* Writes a copy of @gguf to @path: same metadata, tensor infos and data.
 * For a file laid out as llama.cpp writes them, the bytes are identical.
 * IO, with nothing left at @path, when @gguf's file changed on disk
 * meanwhile (tern_gguf_check_intact). */
gboolean tern_gguf_write_copy (const TernGguf *gguf, const char *path, GError **error);

G_END_DECLS
