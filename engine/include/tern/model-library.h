/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <tern/model.h>
#include <tern/store.h>

G_BEGIN_DECLS

/* Loads model @id of the store's library, refusing a file that is missing
 * (IO) or changed (MISMATCH) since it was added: a model is never silently
 * loaded from another file. Marks it used. @progress as tern_model_load;
 * the thread that owns @store calls it. */
TernModel *tern_model_library_load (TernStore *store, gint64 id, TernProgressFn progress, gpointer user_data,
                                    GCancellable *cancellable, GError **error);

/* Records that the model file at @path was just loaded by path: adds it to
 * the library (or reads its entry again, see tern_store_model_add) and
 * marks it used; returns its id, 0 on error. Every load that has a store
 * goes through here or tern_model_library_load, so the library's last use
 * is true whatever opened the model. The thread that owns @store calls it. */
gint64 tern_model_library_note_loaded (TernStore *store, const char *path, GError **error);

G_END_DECLS
