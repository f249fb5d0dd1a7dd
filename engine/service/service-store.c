/* SPDX-License-Identifier: GPL-3.0-or-later */
/* TernService's store queries and updates (see tern/store.h for each).
 * Each is one section: its arguments (a struct carried as its task's
 * data, with its free function), what it runs on the engine thread, and
 * its public function and _finish. */
#include "service-private.h"

/* ---- List conversations ---- */

typedef struct {
  gboolean trashed;
  gint64 offset;
  gint64 limit;
} ListConversations;

static gboolean
run_list_conversations (Engine *e, Job *job, gpointer data, GError **error)
{
  ListConversations *lc = data;
  GPtrArray *list = tern_store_conversation_list (e->store, lc->trashed, lc->offset, lc->limit, error);

  if (list == NULL)
    return FALSE;
  tern_service_job_set_array (job, list);
  return TRUE;
}

static const RequestType list_conversations_type = { .needs = NEEDS_STORE, .run = run_list_conversations };

void
tern_service_list_conversations (TernService *self, gboolean trashed, gint64 offset, gint64 limit,
                                 GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data)
{
  g_return_if_fail (TERN_IS_SERVICE (self));

  ListConversations *lc = g_new0 (ListConversations, 1);
  lc->trashed = trashed;
  lc->offset = offset;
  lc->limit = limit;
  tern_service_submit (self, &list_conversations_type, tern_service_list_conversations, lc, g_free, cancellable,
                  callback, user_data);
}

GPtrArray *
tern_service_list_conversations_finish (TernService *self, GAsyncResult *result, GError **error)
{
  return tern_service_finish_array (self, result, tern_service_list_conversations, error);
}

/* ---- Search ---- */

typedef struct {
  char *text;
  char *open; /* the marks around matches */
  char *close;
  gint64 limit;
} Search;

static void
search_free (Search *search)
{
  g_free (search->text);
  g_free (search->open);
  g_free (search->close);
  g_free (search);
}

static gboolean
run_search (Engine *e, Job *job, gpointer data, GError **error)
{
  Search *search = data;
  GPtrArray *hits = tern_store_search (e->store, search->text, search->open, search->close, 0, search->limit, error);

  if (hits == NULL)
    return FALSE;
  tern_service_job_set_array (job, hits);
  return TRUE;
}

static const RequestType search_type = { .needs = NEEDS_STORE, .run = run_search };

void
tern_service_search (TernService *self, const char *text, const char *open, const char *close, gint64 limit,
                     GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data)
{
  g_return_if_fail (TERN_IS_SERVICE (self));
  g_return_if_fail (text != NULL && open != NULL && close != NULL);

  Search *search = g_new0 (Search, 1);
  search->text = g_strdup (text);
  search->open = g_strdup (open);
  search->close = g_strdup (close);
  search->limit = limit;
  tern_service_submit (self, &search_type, tern_service_search, search, (GDestroyNotify) search_free, cancellable,
                  callback, user_data);
}

GPtrArray *
tern_service_search_finish (TernService *self, GAsyncResult *result, GError **error)
{
  return tern_service_finish_array (self, result, tern_service_search, error);
}

/* ---- List a conversation's messages ---- */

typedef struct {
  gint64 conversation_id;
} ListMessages;

static gboolean
run_list_messages (Engine *e, Job *job, gpointer data, GError **error)
{
  ListMessages *lm = data;
  GPtrArray *messages = tern_store_conversation_messages (e->store, lm->conversation_id, 0, error);

  if (messages == NULL)
    return FALSE;
  tern_service_job_set_array (job, messages);
  return TRUE;
}

static const RequestType list_messages_type = { .needs = NEEDS_STORE, .run = run_list_messages };

void
tern_service_list_messages (TernService *self, gint64 id, GCancellable *cancellable, GAsyncReadyCallback callback,
                            gpointer user_data)
{
  g_return_if_fail (TERN_IS_SERVICE (self));

  ListMessages *lm = g_new0 (ListMessages, 1);
  lm->conversation_id = id;
  tern_service_submit (self, &list_messages_type, tern_service_list_messages, lm, g_free, cancellable, callback,
                  user_data);
}

GPtrArray *
tern_service_list_messages_finish (TernService *self, GAsyncResult *result, GError **error)
{
  return tern_service_finish_array (self, result, tern_service_list_messages, error);
}

/* ---- New conversation ---- */

typedef struct {
  char *title;
  char *system_prompt; /* NULL: none */
  TernSamplerParams sampling;
  gboolean has_sampling;
} NewConversation;

static void
new_conversation_free (NewConversation *nc)
{
  g_free (nc->title);
  g_free (nc->system_prompt);
  g_free (nc);
}

static gboolean
run_new_conversation (Engine *e, Job *job, gpointer data, GError **error)
{
  NewConversation *nc = data;
  gint64 id = tern_store_conversation_new (e->store, nc->title, e->model_id, nc->system_prompt,
                                           nc->has_sampling ? &nc->sampling : NULL, error);

  if (id == 0)
    return FALSE;
  tern_service_job_set_int64 (job, id);
  return TRUE;
}

static const RequestType new_conversation_type = { .needs = NEEDS_STORE, .run = run_new_conversation };

void
tern_service_new_conversation (TernService *self, const char *title, const char *system_prompt,
                               const TernSamplerParams *sampling, GCancellable *cancellable,
                               GAsyncReadyCallback callback, gpointer user_data)
{
  g_return_if_fail (TERN_IS_SERVICE (self));
  g_return_if_fail (title != NULL);

  NewConversation *nc = g_new0 (NewConversation, 1);
  nc->title = g_strdup (title);
  nc->system_prompt = g_strdup (system_prompt);
  nc->has_sampling = sampling != NULL;
  if (sampling)
    nc->sampling = *sampling;
  tern_service_submit (self, &new_conversation_type, tern_service_new_conversation, nc,
                  (GDestroyNotify) new_conversation_free, cancellable, callback, user_data);
}

gint64
tern_service_new_conversation_finish (TernService *self, GAsyncResult *result, GError **error)
{
  return tern_service_finish_int64 (self, result, tern_service_new_conversation, 0, error);
}

/* ---- Rename a conversation ---- */

typedef struct {
  gint64 id;
  char *title;
} Rename;

static void
rename_free (Rename *rename)
{
  g_free (rename->title);
  g_free (rename);
}

static gboolean
run_rename (Engine *e, Job *job, gpointer data, GError **error)
{
  Rename *rename = data;

  if (!tern_store_conversation_rename (e->store, rename->id, rename->title, error))
    return FALSE;
  tern_service_job_set_boolean (job);
  return TRUE;
}

static const RequestType rename_type = { .needs = NEEDS_STORE, .run = run_rename };

void
tern_service_rename_conversation (TernService *self, gint64 id, const char *title, GCancellable *cancellable,
                                  GAsyncReadyCallback callback, gpointer user_data)
{
  g_return_if_fail (TERN_IS_SERVICE (self));
  g_return_if_fail (title != NULL);

  Rename *rename = g_new0 (Rename, 1);
  rename->id = id;
  rename->title = g_strdup (title);
  tern_service_submit (self, &rename_type, tern_service_rename_conversation, rename, (GDestroyNotify) rename_free,
                  cancellable, callback, user_data);
}

gboolean
tern_service_rename_conversation_finish (TernService *self, GAsyncResult *result, GError **error)
{
  return tern_service_finish_boolean (self, result, tern_service_rename_conversation, error);
}

/* ---- A conversation's sampling settings ---- */

typedef struct {
  gint64 id;
  TernSamplerParams sampling;
} SetSampling;

static gboolean
run_set_sampling (Engine *e, Job *job, gpointer data, GError **error)
{
  SetSampling *ss = data;

  if (!tern_sampler_params_validate (&ss->sampling, error) ||
      !tern_store_conversation_set_sampling (e->store, ss->id, &ss->sampling, error))
    return FALSE;
  tern_service_job_set_boolean (job);
  return TRUE;
}

static const RequestType set_sampling_type = { .needs = NEEDS_STORE, .run = run_set_sampling };

void
tern_service_set_sampling (TernService *self, gint64 id, const TernSamplerParams *sampling,
                           GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data)
{
  g_return_if_fail (TERN_IS_SERVICE (self));
  g_return_if_fail (sampling != NULL);

  SetSampling *ss = g_new0 (SetSampling, 1);
  ss->id = id;
  ss->sampling = *sampling;
  tern_service_submit (self, &set_sampling_type, tern_service_set_sampling, ss, g_free, cancellable, callback,
                  user_data);
}

gboolean
tern_service_set_sampling_finish (TernService *self, GAsyncResult *result, GError **error)
{
  return tern_service_finish_boolean (self, result, tern_service_set_sampling, error);
}

/* ---- A conversation's system prompt ---- */

typedef struct {
  gint64 id;
  char *system_prompt;
} SetSystemPrompt;

static void
set_system_prompt_free (SetSystemPrompt *ssp)
{
  g_free (ssp->system_prompt);
  g_free (ssp);
}

static gboolean
run_set_system_prompt (Engine *e, Job *job, gpointer data, GError **error)
{
  SetSystemPrompt *ssp = data;

  if (!tern_store_conversation_set_system_prompt (e->store, ssp->id, ssp->system_prompt, error))
    return FALSE;
  tern_service_job_set_boolean (job);
  return TRUE;
}

static const RequestType set_system_prompt_type = { .needs = NEEDS_STORE, .run = run_set_system_prompt };

void
tern_service_set_system_prompt (TernService *self, gint64 id, const char *system_prompt, GCancellable *cancellable,
                                GAsyncReadyCallback callback, gpointer user_data)
{
  g_return_if_fail (TERN_IS_SERVICE (self));

  SetSystemPrompt *ssp = g_new0 (SetSystemPrompt, 1);
  ssp->id = id;
  ssp->system_prompt = g_strdup (system_prompt ? system_prompt : "");
  tern_service_submit (self, &set_system_prompt_type, tern_service_set_system_prompt, ssp,
                  (GDestroyNotify) set_system_prompt_free, cancellable, callback, user_data);
}

gboolean
tern_service_set_system_prompt_finish (TernService *self, GAsyncResult *result, GError **error)
{
  return tern_service_finish_boolean (self, result, tern_service_set_system_prompt, error);
}

/* ---- A conversation's reply limit ---- */

typedef struct {
  gint64 id;
  gint max_tokens;
} SetMaxTokens;

static gboolean
run_set_max_tokens (Engine *e, Job *job, gpointer data, GError **error)
{
  SetMaxTokens *smt = data;

  if (!tern_store_conversation_set_max_tokens (e->store, smt->id, smt->max_tokens, error))
    return FALSE;
  tern_service_job_set_boolean (job);
  return TRUE;
}

static const RequestType set_max_tokens_type = { .needs = NEEDS_STORE, .run = run_set_max_tokens };

void
tern_service_set_max_tokens (TernService *self, gint64 id, gint max_tokens, GCancellable *cancellable,
                             GAsyncReadyCallback callback, gpointer user_data)
{
  g_return_if_fail (TERN_IS_SERVICE (self));

  SetMaxTokens *smt = g_new0 (SetMaxTokens, 1);
  smt->id = id;
  smt->max_tokens = max_tokens;
  tern_service_submit (self, &set_max_tokens_type, tern_service_set_max_tokens, smt, g_free, cancellable, callback,
                  user_data);
}

gboolean
tern_service_set_max_tokens_finish (TernService *self, GAsyncResult *result, GError **error)
{
  return tern_service_finish_boolean (self, result, tern_service_set_max_tokens, error);
}

/* ---- The snapshot size limit ---- */

typedef struct {
  gint64 bytes;
} SetSnapshotLimit;

static gboolean
run_set_snapshot_limit (Engine *e, Job *job, gpointer data, GError **error)
{
  SetSnapshotLimit *ssl = data;

  if (!tern_store_set_snapshot_limit (e->store, ssl->bytes, error))
    return FALSE;
  tern_service_job_set_boolean (job);
  return TRUE;
}

static const RequestType set_snapshot_limit_type = { .needs = NEEDS_STORE, .run = run_set_snapshot_limit };

void
tern_service_set_snapshot_limit (TernService *self, gint64 bytes, GCancellable *cancellable,
                                 GAsyncReadyCallback callback, gpointer user_data)
{
  g_return_if_fail (TERN_IS_SERVICE (self));

  SetSnapshotLimit *ssl = g_new0 (SetSnapshotLimit, 1);
  ssl->bytes = bytes;
  tern_service_submit (self, &set_snapshot_limit_type, tern_service_set_snapshot_limit, ssl, g_free, cancellable,
                  callback, user_data);
}

gboolean
tern_service_set_snapshot_limit_finish (TernService *self, GAsyncResult *result, GError **error)
{
  return tern_service_finish_boolean (self, result, tern_service_set_snapshot_limit, error);
}

/* ---- Delete a conversation (to the trash) ---- */

typedef struct {
  gint64 id;
} Delete;

static gboolean
run_delete (Engine *e, Job *job, gpointer data, GError **error)
{
  Delete *del = data;

  if (!tern_store_conversation_trash (e->store, del->id, error))
    return FALSE;
  tern_service_engine_forget_conversation (e, del->id);
  tern_service_job_set_boolean (job);
  return TRUE;
}

static const RequestType delete_type = { .needs = NEEDS_STORE, .run = run_delete };

void
tern_service_delete_conversation (TernService *self, gint64 id, GCancellable *cancellable,
                                  GAsyncReadyCallback callback, gpointer user_data)
{
  g_return_if_fail (TERN_IS_SERVICE (self));

  Delete *del = g_new0 (Delete, 1);
  del->id = id;
  tern_service_submit (self, &delete_type, tern_service_delete_conversation, del, g_free, cancellable, callback,
                  user_data);
}

gboolean
tern_service_delete_conversation_finish (TernService *self, GAsyncResult *result, GError **error)
{
  return tern_service_finish_boolean (self, result, tern_service_delete_conversation, error);
}

/* ---- Restore a conversation from the trash ---- */

typedef struct {
  gint64 id;
} Restore;

static gboolean
run_restore (Engine *e, Job *job, gpointer data, GError **error)
{
  Restore *restore = data;

  if (!tern_store_conversation_untrash (e->store, restore->id, error))
    return FALSE;
  tern_service_job_set_boolean (job);
  return TRUE;
}

static const RequestType restore_type = { .needs = NEEDS_STORE, .run = run_restore };

void
tern_service_restore_conversation (TernService *self, gint64 id, GCancellable *cancellable,
                                   GAsyncReadyCallback callback, gpointer user_data)
{
  g_return_if_fail (TERN_IS_SERVICE (self));

  Restore *restore = g_new0 (Restore, 1);
  restore->id = id;
  tern_service_submit (self, &restore_type, tern_service_restore_conversation, restore, g_free, cancellable, callback,
                  user_data);
}

gboolean
tern_service_restore_conversation_finish (TernService *self, GAsyncResult *result, GError **error)
{
  return tern_service_finish_boolean (self, result, tern_service_restore_conversation, error);
}

/* ---- Delete a conversation in the trash for good ---- */

typedef struct {
  gint64 id;
} Purge;

static gboolean
run_purge (Engine *e, Job *job, gpointer data, GError **error)
{
  Purge *purge = data;

  if (!tern_store_conversation_purge (e->store, purge->id, error))
    return FALSE;
  tern_service_job_set_boolean (job);
  return TRUE;
}

static const RequestType purge_type = { .needs = NEEDS_STORE, .run = run_purge };

void
tern_service_purge_conversation (TernService *self, gint64 id, GCancellable *cancellable,
                                 GAsyncReadyCallback callback, gpointer user_data)
{
  g_return_if_fail (TERN_IS_SERVICE (self));

  Purge *purge = g_new0 (Purge, 1);
  purge->id = id;
  tern_service_submit (self, &purge_type, tern_service_purge_conversation, purge, g_free, cancellable, callback,
                       user_data);
}

gboolean
tern_service_purge_conversation_finish (TernService *self, GAsyncResult *result, GError **error)
{
  return tern_service_finish_boolean (self, result, tern_service_purge_conversation, error);
}

/* ---- Empty the trash ---- */

typedef struct {
  gint64 before;
} EmptyTrash;

static gboolean
run_empty_trash (Engine *e, Job *job, gpointer data, GError **error)
{
  EmptyTrash *empty = data;
  gint64 n = tern_store_empty_trash_before (e->store, empty->before, error);

  if (n < 0)
    return FALSE;
  tern_service_job_set_int64 (job, n);
  return TRUE;
}

static const RequestType empty_trash_type = { .needs = NEEDS_STORE, .run = run_empty_trash };

void
tern_service_empty_trash (TernService *self, gint64 before, GCancellable *cancellable, GAsyncReadyCallback callback,
                          gpointer user_data)
{
  g_return_if_fail (TERN_IS_SERVICE (self));

  EmptyTrash *empty = g_new0 (EmptyTrash, 1);
  empty->before = before;
  tern_service_submit (self, &empty_trash_type, tern_service_empty_trash, empty, g_free, cancellable, callback,
                       user_data);
}

gint64
tern_service_empty_trash_finish (TernService *self, GAsyncResult *result, GError **error)
{
  return tern_service_finish_int64 (self, result, tern_service_empty_trash, -1, error);
}

/* ---- Duplicate a conversation ---- */

typedef struct {
  gint64 id;
} Duplicate;

static gboolean
run_duplicate (Engine *e, Job *job, gpointer data, GError **error)
{
  Duplicate *duplicate = data;
  gint64 id = tern_store_conversation_duplicate (e->store, duplicate->id, error);

  if (id == 0)
    return FALSE;
  tern_service_job_set_int64 (job, id);
  return TRUE;
}

static const RequestType duplicate_type = { .needs = NEEDS_STORE, .run = run_duplicate };

void
tern_service_duplicate_conversation (TernService *self, gint64 id, GCancellable *cancellable,
                                     GAsyncReadyCallback callback, gpointer user_data)
{
  g_return_if_fail (TERN_IS_SERVICE (self));

  Duplicate *duplicate = g_new0 (Duplicate, 1);
  duplicate->id = id;
  tern_service_submit (self, &duplicate_type, tern_service_duplicate_conversation, duplicate, g_free, cancellable,
                  callback, user_data);
}

gint64
tern_service_duplicate_conversation_finish (TernService *self, GAsyncResult *result, GError **error)
{
  return tern_service_finish_int64 (self, result, tern_service_duplicate_conversation, 0, error);
}

/* ---- Add a model to the library ---- */

typedef struct {
  char *path;
} AddModel;

static void
add_model_free (AddModel *am)
{
  g_free (am->path);
  g_free (am);
}

static gboolean
run_add_model (Engine *e, Job *job, gpointer data, GError **error)
{
  AddModel *am = data;
  gint64 id = tern_store_model_add (e->store, am->path, error);

  if (id == 0)
    return FALSE;
  tern_service_job_set_int64 (job, id);
  return TRUE;
}

static const RequestType add_model_type = { .needs = NEEDS_STORE, .run = run_add_model };

void
tern_service_add_model (TernService *self, const char *path, GCancellable *cancellable, GAsyncReadyCallback callback,
                        gpointer user_data)
{
  g_return_if_fail (TERN_IS_SERVICE (self));
  g_return_if_fail (path != NULL);

  AddModel *am = g_new0 (AddModel, 1);
  am->path = g_strdup (path);
  tern_service_submit (self, &add_model_type, tern_service_add_model, am, (GDestroyNotify) add_model_free, cancellable,
                  callback, user_data);
}

gint64
tern_service_add_model_finish (TernService *self, GAsyncResult *result, GError **error)
{
  return tern_service_finish_int64 (self, result, tern_service_add_model, 0, error);
}

/* ---- List the library's models (no arguments) ---- */

static gboolean
run_list_models (Engine *e, Job *job, gpointer data, GError **error)
{
  GPtrArray *models = tern_store_model_list (e->store, error);

  if (models == NULL)
    return FALSE;
  tern_service_job_set_array (job, models);
  return TRUE;
}

static const RequestType list_models_type = { .needs = NEEDS_STORE, .run = run_list_models };

void
tern_service_list_models (TernService *self, GCancellable *cancellable, GAsyncReadyCallback callback,
                          gpointer user_data)
{
  g_return_if_fail (TERN_IS_SERVICE (self));
  tern_service_submit (self, &list_models_type, tern_service_list_models, NULL, NULL, cancellable, callback, user_data);
}

GPtrArray *
tern_service_list_models_finish (TernService *self, GAsyncResult *result, GError **error)
{
  return tern_service_finish_array (self, result, tern_service_list_models, error);
}

/* ---- Remove a model from the library ---- */

typedef struct {
  gint64 id;
} RemoveModel;

static gboolean
run_remove_model (Engine *e, Job *job, gpointer data, GError **error)
{
  RemoveModel *rm = data;

  if (!tern_store_model_remove (e->store, rm->id, error))
    return FALSE;
  tern_service_job_set_boolean (job);
  return TRUE;
}

static const RequestType remove_model_type = { .needs = NEEDS_STORE, .run = run_remove_model };

void
tern_service_remove_model (TernService *self, gint64 id, GCancellable *cancellable, GAsyncReadyCallback callback,
                           gpointer user_data)
{
  g_return_if_fail (TERN_IS_SERVICE (self));

  RemoveModel *rm = g_new0 (RemoveModel, 1);
  rm->id = id;
  tern_service_submit (self, &remove_model_type, tern_service_remove_model, rm, g_free, cancellable, callback,
                  user_data);
}

gboolean
tern_service_remove_model_finish (TernService *self, GAsyncResult *result, GError **error)
{
  return tern_service_finish_boolean (self, result, tern_service_remove_model, error);
}

/* ---- Rename a library model ---- */

typedef struct {
  gint64 id;
  char *name;
} RenameModel;

static void
rename_model_free (RenameModel *rm)
{
  g_free (rm->name);
  g_free (rm);
}

static gboolean
run_rename_model (Engine *e, Job *job, gpointer data, GError **error)
{
  RenameModel *rm = data;

  if (!tern_store_model_rename (e->store, rm->id, rm->name, error))
    return FALSE;
  tern_service_job_set_boolean (job);
  return TRUE;
}

static const RequestType rename_model_type = { .needs = NEEDS_STORE, .run = run_rename_model };

void
tern_service_rename_model (TernService *self, gint64 id, const char *name, GCancellable *cancellable,
                           GAsyncReadyCallback callback, gpointer user_data)
{
  g_return_if_fail (TERN_IS_SERVICE (self));
  g_return_if_fail (name != NULL);

  RenameModel *rm = g_new0 (RenameModel, 1);
  rm->id = id;
  rm->name = g_strdup (name);
  tern_service_submit (self, &rename_model_type, tern_service_rename_model, rm, (GDestroyNotify) rename_model_free,
                       cancellable, callback, user_data);
}

gboolean
tern_service_rename_model_finish (TernService *self, GAsyncResult *result, GError **error)
{
  return tern_service_finish_boolean (self, result, tern_service_rename_model, error);
}

/* ---- Check a library model's file ---- */

typedef struct {
  gint64 id;
} CheckModel;

static gboolean
run_check_model (Engine *e, Job *job, gpointer data, GError **error)
{
  CheckModel *cm = data;
  TernModelStatus status;

  if (!tern_store_model_check (e->store, cm->id, &status, error))
    return FALSE;
  tern_service_job_set_int (job, status);
  return TRUE;
}

static const RequestType check_model_type = { .needs = NEEDS_STORE, .run = run_check_model };

void
tern_service_check_model (TernService *self, gint64 id, GCancellable *cancellable, GAsyncReadyCallback callback,
                          gpointer user_data)
{
  g_return_if_fail (TERN_IS_SERVICE (self));

  CheckModel *cm = g_new0 (CheckModel, 1);
  cm->id = id;
  tern_service_submit (self, &check_model_type, tern_service_check_model, cm, g_free, cancellable, callback, user_data);
}

int
tern_service_check_model_finish (TernService *self, GAsyncResult *result, GError **error)
{
  return tern_service_finish_int (self, result, tern_service_check_model, -1, error);
}
