/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <tern/error.h>
#include <tern/model-identity.h>
#include <tern/model-library.h>

TernModel *
tern_model_library_load (TernStore *store, gint64 id, TernProgressFn progress, gpointer user_data,
                         GCancellable *cancellable, GError **error)
{
  g_autoptr (TernStoreModel) entry = tern_store_model_get (store, id, error);
  TernModelIdentity now;

  if (entry == NULL)
    return NULL;
  if (!g_file_test (entry->path, G_FILE_TEST_IS_REGULAR))
    {
      g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_IO,
                   "the model “%s” is no longer at %s: it was moved or deleted", entry->name, entry->path);
      return NULL;
    }
  g_autoptr (TernModel) model = tern_model_load (entry->path, progress, user_data, cancellable, error);
  if (model == NULL)
    return NULL;
  /* Compared after loading: what was checked is what is mapped. */
  if (!tern_model_identity_of_gguf (tern_model_gguf (model), entry->path, &now, error))
    return NULL;
  if (!tern_model_identity_equal (&now, &entry->identity))
    {
      g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_MISMATCH,
                   "the file %s changed since the model “%s” was added; add it again to use it", entry->path,
                   entry->name);
      return NULL;
    }
  if (!tern_store_model_mark_used (store, id, error))
    return NULL;
  return g_steal_pointer (&model);
}

gint64
tern_model_library_note_loaded (TernStore *store, const char *path, GError **error)
{
  gint64 id = tern_store_model_add (store, path, error);

  if (id == 0 || !tern_store_model_mark_used (store, id, error))
    return 0;
  return id;
}
