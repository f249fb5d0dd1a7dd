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

G_END_DECLS
