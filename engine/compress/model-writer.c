/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The model writer: rows in f32 from the caller, quantized a chunk at a
 * time on a thread pool and streamed to the GGUF writer. */
#include <tern/error.h>
#include <tern/model-writer.h>

#include "core/threadpool.h"
#include "quant/quant.h"

/* Bytes of quantized rows produced and written at a time. */
#define CHUNK_BYTES (8 << 20)

typedef struct {
  TernType type;
  gint64 row_len; /* ne[0] */
  gint64 n_rows;  /* the product of the other dimensions */
  gsize row_bytes;
  const guint8 *raw; /* the tensor's bytes as stored, or NULL: made by the row function */
} Tensor;

struct TernModelWriter {
  TernGgufWriter *gguf;
  char *name; /* the file's base name, for messages */
  guint n_threads;
  GArray *tensors; /* Tensor, in file order */
  guint64 n_elements, n_bytes;
  gboolean written; /* write was called: nothing can be added */
  TernTensorDoneFn tensor_done;
  gpointer tensor_done_data;
  TernRowDoneFn row_done;
  gpointer row_done_data;
};

gboolean
tern_model_writer_type_supported (TernType type)
{
  const TernTypeInfo *info = tern_type_info (type);

  return info != NULL && info->storage && tern_quant_quantize_row (type) != NULL;
}

TernModelWriter *
tern_model_writer_new (const char *path, guint n_threads, GError **error)
{
  TernGgufWriter *gguf;
  TernModelWriter *writer;

  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  gguf = tern_gguf_writer_new (path, error);
  if (gguf == NULL)
    return NULL;
  writer = g_new0 (TernModelWriter, 1);
  writer->gguf = gguf;
  writer->name = g_path_get_basename (path);
  writer->n_threads = n_threads ? n_threads : tern_physical_cores ();
  writer->tensors = g_array_new (FALSE, FALSE, sizeof (Tensor));
  return writer;
}

void
tern_model_writer_free (TernModelWriter *writer)
{
  if (writer == NULL)
    return;
  tern_gguf_writer_free (writer->gguf);
  g_array_unref (writer->tensors);
  g_free (writer->name);
  g_free (writer);
}

TernGgufWriter *
tern_model_writer_metadata (TernModelWriter *writer)
{
  g_return_val_if_fail (writer != NULL && !writer->written, NULL);

  return writer->gguf;
}

static void
declare (TernModelWriter *writer, const char *name, TernType type, guint32 n_dims, const gint64 *ne,
         const guint8 *raw)
{
  Tensor t = { .type = type, .row_len = ne[0], .n_rows = 1, .raw = raw };

  for (guint32 d = 1; d < n_dims; d++)
    t.n_rows *= ne[d];
  t.row_bytes = tern_type_row_bytes (type, t.row_len);
  tern_gguf_writer_add_tensor (writer->gguf, name, type, n_dims, ne);
  g_array_append_val (writer->tensors, t);
  writer->n_elements += (guint64) (t.row_len * t.n_rows);
  writer->n_bytes += (guint64) t.row_bytes * (guint64) t.n_rows;
}

static gboolean
rows_fit (const char *name, TernType type, const gint64 *ne, GError **error)
{
  if (ne[0] % tern_type_info (type)->block_elems == 0)
    return TRUE;
  g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_UNSUPPORTED,
               "%s: rows of %" G_GINT64_FORMAT " elements cannot be stored as %s", name, ne[0], tern_type_name (type));
  return FALSE;
}

gboolean
tern_model_writer_add_tensor (TernModelWriter *writer, const char *name, TernType type, guint32 n_dims,
                              const gint64 *ne, GError **error)
{
  g_return_val_if_fail (writer != NULL && !writer->written, FALSE);
  g_return_val_if_fail (n_dims >= 1 && n_dims <= TERN_GGUF_MAX_DIMS, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!tern_model_writer_type_supported (type))
    {
      g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_UNSUPPORTED, "%s: tensors cannot be written as %s",
                   name, tern_type_name (type));
      return FALSE;
    }
  if (!rows_fit (name, type, ne, error))
    return FALSE;
  declare (writer, name, type, n_dims, ne, NULL);
  return TRUE;
}

gboolean
tern_model_writer_add_tensor_bytes (TernModelWriter *writer, const char *name, TernType type, guint32 n_dims,
                                    const gint64 *ne, const void *data, guint64 n_bytes, GError **error)
{
  const TernTypeInfo *info = tern_type_info (type);
  guint64 n_rows = 1;

  g_return_val_if_fail (writer != NULL && !writer->written, FALSE);
  g_return_val_if_fail (n_dims >= 1 && n_dims <= TERN_GGUF_MAX_DIMS, FALSE);
  g_return_val_if_fail (data != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (info == NULL || !info->storage)
    {
      g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_UNSUPPORTED, "%s: type %u is no storage type", name,
                   (guint) type);
      return FALSE;
    }
  if (!rows_fit (name, type, ne, error))
    return FALSE;
  for (guint32 d = 1; d < n_dims; d++)
    n_rows *= (guint64) ne[d];
  if (n_bytes != n_rows * tern_type_row_bytes (type, ne[0]))
    {
      g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_UNSUPPORTED,
                   "%s: %" G_GUINT64_FORMAT " bytes are not a %s tensor of this shape", name, n_bytes,
                   tern_type_name (type));
      return FALSE;
    }
  declare (writer, name, type, n_dims, ne, data);
  return TRUE;
}

void
tern_model_writer_set_tensor_done (TernModelWriter *writer, TernTensorDoneFn done, gpointer user_data)
{
  g_return_if_fail (writer != NULL && !writer->written);

  writer->tensor_done = done;
  writer->tensor_done_data = user_data;
}

void
tern_model_writer_set_row_done (TernModelWriter *writer, TernRowDoneFn done, gpointer user_data)
{
  g_return_if_fail (writer != NULL && !writer->written);

  writer->row_done = done;
  writer->row_done_data = user_data;
}

guint64
tern_model_writer_n_elements (const TernModelWriter *writer)
{
  return writer->n_elements;
}

guint64
tern_model_writer_n_bytes (const TernModelWriter *writer)
{
  return writer->n_bytes;
}

/* A chunk of rows of one tensor, made and quantized by the pool. */
typedef struct {
  TernRowFn rows;
  gpointer user_data;
  TernRowDoneFn row_done;
  gpointer row_done_data;
  gsize tensor;
  const Tensor *t;
  TernQuantizeRowFn quantize;
  gint64 row0; /* the chunk's first row */
  gint64 n_rows;
  float *scratch; /* one f32 row per thread, @stride floats apart */
  gint64 stride;
  guint8 *out; /* n_rows quantized rows */
} Chunk;

static void
chunk_run (gpointer data, guint thread, guint n_threads)
{
  Chunk *c = data;
  float *row = c->scratch + thread * c->stride;
  gint64 start, end;

  tern_split_range (c->n_rows, thread, n_threads, &start, &end);
  for (gint64 r = start; r < end; r++)
    {
      c->rows (c->tensor, c->row0 + r, row, c->user_data);
      c->quantize (row, c->out + r * c->t->row_bytes, c->t->row_len);
      if (c->row_done)
        c->row_done (c->tensor, c->row0 + r, row, c->out + r * c->t->row_bytes, c->row_done_data);
    }
}

/* Rows of @t made and written at a time. */
static gint64
chunk_rows (const Tensor *t)
{
  return CLAMP ((gint64) (CHUNK_BYTES / t->row_bytes), 1, t->n_rows);
}

static gboolean
cancelled (const TernModelWriter *writer, GCancellable *cancellable, GError **error)
{
  if (!g_cancellable_is_cancelled (cancellable))
    return FALSE;
  g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_CANCELLED, "%s: writing cancelled", writer->name);
  return TRUE;
}

gboolean
tern_model_writer_write (TernModelWriter *writer, TernRowFn rows, gpointer user_data, TernProgressFn progress,
                         gpointer progress_data, GCancellable *cancellable, GError **error)
{
  g_autoptr (TernThreadPool) pool = NULL;
  g_autofree float *scratch = NULL;
  g_autofree guint8 *out = NULL;
  gint64 longest_row = 1;
  gsize chunk_bytes = 1;
  guint64 done = 0;

  g_return_val_if_fail (writer != NULL && !writer->written, FALSE);
  g_return_val_if_fail (rows != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  writer->written = TRUE;
  if (!tern_gguf_writer_begin_data (writer->gguf, error))
    return FALSE;

  /* One buffer of each kind for the whole file, sized for its largest
   * tensor: memory does not grow with the number of tensors. */
  for (guint i = 0; i < writer->tensors->len; i++)
    {
      const Tensor *t = &g_array_index (writer->tensors, Tensor, i);
      longest_row = MAX (longest_row, t->row_len);
      chunk_bytes = MAX (chunk_bytes, (gsize) chunk_rows (t) * t->row_bytes);
    }
  scratch = g_try_new (float, (gsize) longest_row * writer->n_threads);
  out = g_try_malloc (chunk_bytes);
  if (scratch == NULL || out == NULL)
    {
      g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_NOMEM, "%s: no memory for rows of %" G_GINT64_FORMAT
                   " elements", writer->name, longest_row);
      return FALSE;
    }
  pool = tern_thread_pool_new (writer->n_threads, error);
  if (pool == NULL)
    return FALSE;

  for (guint i = 0; i < writer->tensors->len; i++)
    {
      const Tensor *t = &g_array_index (writer->tensors, Tensor, i);
      gint64 n = chunk_rows (t);
      Chunk chunk = {
        .rows = rows,
        .user_data = user_data,
        .row_done = writer->row_done,
        .row_done_data = writer->row_done_data,
        .tensor = i,
        .t = t,
        .quantize = tern_quant_quantize_row (t->type),
        .scratch = scratch,
        .stride = longest_row,
        .out = out,
      };

      for (chunk.row0 = 0; chunk.row0 < t->n_rows; chunk.row0 += chunk.n_rows)
        {
          gsize len;

          if (cancelled (writer, cancellable, error))
            return FALSE;
          chunk.n_rows = MIN (n, t->n_rows - chunk.row0);
          len = (gsize) chunk.n_rows * t->row_bytes;
          if (t->raw == NULL)
            tern_thread_pool_run (pool, chunk_run, &chunk);
          if (!tern_gguf_writer_write (writer->gguf, t->raw ? t->raw + chunk.row0 * t->row_bytes : out, len, error))
            return FALSE;
          done += len;
          if (progress)
            progress ((double) done / (double) writer->n_bytes, progress_data);
        }
      if (writer->tensor_done)
        writer->tensor_done (i, writer->tensor_done_data);
    }
  /* A cancel after the last chunk still leaves no file. */
  return !cancelled (writer, cancellable, error) && tern_gguf_writer_finish (writer->gguf, error);
}
