/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>
#include <tern/gguf.h>
#include <tern/model.h>

G_BEGIN_DECLS

/* Writes a model file tensor by tensor in bounded memory: the caller hands
 * out each tensor's rows as f32, the writer quantizes them to the tensor's
 * type on a pool of threads, a chunk of rows at a time, and streams them to
 * the file through the GGUF writer. Memory stays at one chunk (8 MiB of
 * output, or one row where a row is larger) and one f32 row per thread,
 * whatever the model's size. Like the GGUF writer, it writes to a
 * temporary file renamed into place when all went well: a failed,
 * cancelled or abandoned write leaves no file at the path.
 *
 * Calls go in this order: new, metadata keys (tern_model_writer_metadata)
 * and tensors (tern_model_writer_add_tensor) in file order, then write
 * once. A writer is used by one thread at a time. */

typedef struct TernModelWriter TernModelWriter;

/* Fills @out with row @row (ne[0] floats) of tensor @tensor (its index in
 * the order added). Called from the writer's threads at the same time for
 * different rows, each with its own @out: it must be thread-safe, and
 * give the same values whatever the thread. */
typedef void (*TernRowFn) (gsize tensor, gint64 row, float *out, gpointer user_data);

/* Called from the writer's threads after row @row of tensor @tensor is
 * quantized: @values are the floats the row function gave, @stored the
 * row's bytes as they will be written (both valid during the call only).
 * Called for different rows at the same time: it must be thread-safe. */
typedef void (*TernRowDoneFn) (gsize tensor, gint64 row, const float *values, const void *stored,
                               gpointer user_data);

/* Called on the thread that writes, once all rows of tensor @tensor are
 * written. */
typedef void (*TernTensorDoneFn) (gsize tensor, gpointer user_data);

/* Whether tensors of @type can be written: a storage type with a quantizer
 * (F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q6_K, TQ1_0, TQ2_0). */
gboolean tern_model_writer_type_supported (TernType type);

/* Starts a model file at @path, computing on @n_threads threads (0: one
 * per physical core). IO when the file cannot be created. */
TernModelWriter *tern_model_writer_new (const char *path, guint n_threads, GError **error);
/* Frees the writer; an unfinished file is abandoned. */
void tern_model_writer_free (TernModelWriter *writer);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TernModelWriter, tern_model_writer_free)

/* The GGUF writer underneath, to add metadata keys to before the tensors
 * are added (owned by @writer). */
TernGgufWriter *tern_model_writer_metadata (TernModelWriter *writer);

/* Declares the next tensor: @n_dims dimensions of sizes @ne, ne[0] the row
 * length. UNSUPPORTED when tensors of @type cannot be written or a row of
 * ne[0] elements is not a whole number of @type's blocks. */
gboolean tern_model_writer_add_tensor (TernModelWriter *writer, const char *name, TernType type, guint32 n_dims,
                                       const gint64 *ne, GError **error);

/* Has @done called after each row is quantized (before write). */
void tern_model_writer_set_row_done (TernModelWriter *writer, TernRowDoneFn done, gpointer user_data);

/* Declares the next tensor as @data, @n_bytes of @type's blocks stored as
 * they are (no row function is called for it): for a tensor copied from
 * another file. @data must stay valid until the write. UNSUPPORTED when
 * @n_bytes is not the size of such a tensor. */
gboolean tern_model_writer_add_tensor_bytes (TernModelWriter *writer, const char *name, TernType type, guint32 n_dims,
                                             const gint64 *ne, const void *data, guint64 n_bytes, GError **error);

/* Has @done called after each tensor while the file is written (before
 * write). */
void tern_model_writer_set_tensor_done (TernModelWriter *writer, TernTensorDoneFn done, gpointer user_data);

/* Elements and bytes of the tensors declared so far. */
guint64 tern_model_writer_n_elements (const TernModelWriter *writer);
guint64 tern_model_writer_n_bytes (const TernModelWriter *writer);

/* Writes the file: the metadata, then every tensor's rows from @rows, and
 * renames it into place. @progress (may be NULL) is called on the calling
 * thread with the fraction of the bytes written after each chunk; the
 * write stops between chunks when @cancellable is cancelled (CANCELLED).
 * IO when writing fails (a full disk). On any error nothing is left at
 * the path, and the writer can only be freed. */
gboolean tern_model_writer_write (TernModelWriter *writer, TernRowFn rows, gpointer user_data, TernProgressFn progress,
                                  gpointer progress_data, GCancellable *cancellable, GError **error);

G_END_DECLS
