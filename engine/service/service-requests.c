/* SPDX-License-Identifier: GPL-3.0-or-later */
/* TernService's requests for the model, the settings and the open
 * conversation. Each is one section: its arguments (a struct carried as
 * its task's data, with its free function), what it runs on the engine
 * thread (its RequestType), and its public function and _finish. The work
 * that computes is in service-engine.c; the store's requests are in
 * service-store.c. */
#include "service-private.h"

/* ---- Settings ---- */

typedef struct {
  guint n_threads;
  gint32 n_ctx;
  char *backend;
} Configure;

static void
configure_free (Configure *configure)
{
  g_free (configure->backend);
  g_free (configure);
}

static gboolean
run_configure (Engine *e, Job *job, gpointer data, GError **error)
{
  Configure *configure = data;

  /* For the models loaded from now on. */
  e->n_threads = configure->n_threads;
  e->n_ctx = configure->n_ctx;
  g_free (e->backend);
  e->backend = g_steal_pointer (&configure->backend);
  tern_service_job_set_boolean (job);
  return TRUE;
}

static const RequestType configure_type = { .needs = NEEDS_NOTHING, .run = run_configure };

void
tern_service_configure (TernService *self, guint n_threads, gint32 n_ctx, const char *backend,
                        GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data)
{
  g_return_if_fail (TERN_IS_SERVICE (self));
  g_return_if_fail (n_ctx >= 0);

  Configure *configure = g_new0 (Configure, 1);
  configure->n_threads = n_threads;
  configure->n_ctx = n_ctx;
  configure->backend = g_strdup (backend);
  tern_service_submit (self, &configure_type, tern_service_configure, configure, (GDestroyNotify) configure_free,
                  cancellable, callback, user_data);
}

gboolean
tern_service_configure_finish (TernService *self, GAsyncResult *result, GError **error)
{
  return tern_service_finish_boolean (self, result, tern_service_configure, error);
}

/* ---- Load a model ---- */

typedef struct {
  char *path;
} Load;

static void
load_free (Load *load)
{
  g_free (load->path);
  g_free (load);
}

static gboolean
run_load (Engine *e, Job *job, gpointer data, GError **error)
{
  Load *load = data;
  gint64 id = tern_service_engine_load (e, load->path, job->cancellable, error);

  if (id == 0)
    return FALSE;
  tern_service_job_set_int64 (job, id);
  return TRUE;
}

static const RequestType load_type = { .needs = NEEDS_STORE, .computes = TRUE, .run = run_load };

void
tern_service_load_model (TernService *self, const char *path, GCancellable *cancellable,
                         GAsyncReadyCallback callback, gpointer user_data)
{
  g_return_if_fail (TERN_IS_SERVICE (self));
  g_return_if_fail (path != NULL);

  Load *load = g_new0 (Load, 1);
  load->path = g_strdup (path);
  tern_service_submit (self, &load_type, tern_service_load_model, load, (GDestroyNotify) load_free, cancellable,
                  callback, user_data);
}

gint64
tern_service_load_model_finish (TernService *self, GAsyncResult *result, GError **error)
{
  return tern_service_finish_int64 (self, result, tern_service_load_model, 0, error);
}

/* ---- Unload the model (no arguments) ---- */

static gboolean
run_unload (Engine *e, Job *job, gpointer data, GError **error)
{
  tern_service_engine_unload (e);
  tern_service_job_set_boolean (job);
  return TRUE;
}

static const RequestType unload_type = { .needs = NEEDS_NOTHING, .run = run_unload };

void
tern_service_unload_model (TernService *self, GCancellable *cancellable, GAsyncReadyCallback callback,
                           gpointer user_data)
{
  g_return_if_fail (TERN_IS_SERVICE (self));
  tern_service_submit (self, &unload_type, tern_service_unload_model, NULL, NULL, cancellable, callback, user_data);
}

gboolean
tern_service_unload_model_finish (TernService *self, GAsyncResult *result, GError **error)
{
  return tern_service_finish_boolean (self, result, tern_service_unload_model, error);
}

/* ---- Open a conversation ---- */

typedef struct {
  gint64 id;
} Open;

static gboolean
run_open (Engine *e, Job *job, gpointer data, GError **error)
{
  Open *open = data;
  int kind = tern_service_engine_open (e, open->id, job->cancellable, error);

  if (kind < 0)
    return FALSE;
  tern_service_job_set_int (job, kind);
  return TRUE;
}

static const RequestType open_type = { .needs = NEEDS_MODEL, .computes = TRUE, .run = run_open };

void
tern_service_open_conversation (TernService *self, gint64 id, GCancellable *cancellable,
                                GAsyncReadyCallback callback, gpointer user_data)
{
  g_return_if_fail (TERN_IS_SERVICE (self));

  Open *open = g_new0 (Open, 1);
  open->id = id;
  tern_service_submit (self, &open_type, tern_service_open_conversation, open, g_free, cancellable, callback,
                       user_data);
}

int
tern_service_open_conversation_finish (TernService *self, GAsyncResult *result, GError **error)
{
  return tern_service_finish_int (self, result, tern_service_open_conversation, -1, error);
}

/* ---- Send a message ---- */

typedef struct {
  char *text;
  gint max_tokens;
} Send;

static void
send_free (Send *send)
{
  g_free (send->text);
  g_free (send);
}

static gboolean
run_send (Engine *e, Job *job, gpointer data, GError **error)
{
  Send *send = data;
  gint64 id = tern_service_engine_send (e, job, 0, send->text, send->max_tokens, error);

  if (id == 0)
    return FALSE;
  tern_service_job_set_int64 (job, id);
  return TRUE;
}

static const RequestType send_type = {
  .needs = NEEDS_CONVERSATION, .computes = TRUE, .generates = TRUE, .run = run_send
};

void
tern_service_send_message (TernService *self, const char *text, gint max_tokens, GCancellable *cancellable,
                           GAsyncReadyCallback callback, gpointer user_data)
{
  g_return_if_fail (TERN_IS_SERVICE (self));
  g_return_if_fail (text != NULL);

  Send *send = g_new0 (Send, 1);
  send->text = g_strdup (text);
  send->max_tokens = max_tokens;
  tern_service_submit (self, &send_type, tern_service_send_message, send, (GDestroyNotify) send_free, cancellable,
                  callback, user_data);
}

gint64
tern_service_send_message_finish (TernService *self, GAsyncResult *result, GError **error)
{
  return tern_service_finish_int64 (self, result, tern_service_send_message, 0, error);
}

/* ---- Regenerate the last reply ---- */

typedef struct {
  gint max_tokens;
} Regenerate;

static gboolean
run_regenerate (Engine *e, Job *job, gpointer data, GError **error)
{
  Regenerate *regenerate = data;
  gint64 id = tern_service_engine_regenerate (e, job, regenerate->max_tokens, error);

  if (id == 0)
    return FALSE;
  tern_service_job_set_int64 (job, id);
  return TRUE;
}

static const RequestType regenerate_type = {
  .needs = NEEDS_CONVERSATION, .computes = TRUE, .generates = TRUE, .run = run_regenerate
};

void
tern_service_regenerate (TernService *self, gint max_tokens, GCancellable *cancellable, GAsyncReadyCallback callback,
                         gpointer user_data)
{
  g_return_if_fail (TERN_IS_SERVICE (self));

  Regenerate *regenerate = g_new0 (Regenerate, 1);
  regenerate->max_tokens = max_tokens;
  tern_service_submit (self, &regenerate_type, tern_service_regenerate, regenerate, g_free, cancellable, callback,
                  user_data);
}

gint64
tern_service_regenerate_finish (TernService *self, GAsyncResult *result, GError **error)
{
  return tern_service_finish_int64 (self, result, tern_service_regenerate, 0, error);
}

/* ---- Edit and resend a message ---- */

typedef struct {
  gint64 message_id;
  char *text;
  gint max_tokens;
} Edit;

static void
edit_free (Edit *edit)
{
  g_free (edit->text);
  g_free (edit);
}

static gboolean
run_edit (Engine *e, Job *job, gpointer data, GError **error)
{
  Edit *edit = data;
  gint64 id = tern_service_engine_send (e, job, edit->message_id, edit->text, edit->max_tokens, error);

  if (id == 0)
    return FALSE;
  tern_service_job_set_int64 (job, id);
  return TRUE;
}

static const RequestType edit_type = {
  .needs = NEEDS_CONVERSATION, .computes = TRUE, .generates = TRUE, .run = run_edit
};

void
tern_service_edit_message (TernService *self, gint64 message_id, const char *text, gint max_tokens,
                           GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data)
{
  g_return_if_fail (TERN_IS_SERVICE (self));
  g_return_if_fail (text != NULL);

  Edit *edit = g_new0 (Edit, 1);
  edit->message_id = message_id;
  edit->text = g_strdup (text);
  edit->max_tokens = max_tokens;
  tern_service_submit (self, &edit_type, tern_service_edit_message, edit, (GDestroyNotify) edit_free, cancellable,
                  callback, user_data);
}

gint64
tern_service_edit_message_finish (TernService *self, GAsyncResult *result, GError **error)
{
  return tern_service_finish_int64 (self, result, tern_service_edit_message, 0, error);
}

/* ---- Switch branches ---- */

typedef struct {
  gint64 message_id;
  gint offset;
} SwitchBranch;

static gboolean
run_switch_branch (Engine *e, Job *job, gpointer data, GError **error)
{
  SwitchBranch *sb = data;
  int kind = tern_service_engine_switch_branch (e, sb->message_id, sb->offset, job->cancellable, error);

  if (kind < 0)
    return FALSE;
  tern_service_job_set_int (job, kind);
  return TRUE;
}

static const RequestType switch_branch_type = {
  .needs = NEEDS_CONVERSATION, .computes = TRUE, .run = run_switch_branch
};

void
tern_service_switch_branch (TernService *self, gint64 message_id, gint offset, GCancellable *cancellable,
                            GAsyncReadyCallback callback, gpointer user_data)
{
  g_return_if_fail (TERN_IS_SERVICE (self));

  SwitchBranch *sb = g_new0 (SwitchBranch, 1);
  sb->message_id = message_id;
  sb->offset = offset;
  tern_service_submit (self, &switch_branch_type, tern_service_switch_branch, sb, g_free, cancellable, callback,
                  user_data);
}

int
tern_service_switch_branch_finish (TernService *self, GAsyncResult *result, GError **error)
{
  return tern_service_finish_int (self, result, tern_service_switch_branch, -1, error);
}

/* ---- Save a snapshot (no arguments) ---- */

static gboolean
run_save_snapshot (Engine *e, Job *job, gpointer data, GError **error)
{
  gint64 id = tern_service_engine_save_snapshot (e, error);

  if (id < 0)
    return FALSE;
  tern_service_job_set_int64 (job, id);
  return TRUE;
}

static const RequestType save_snapshot_type = { .needs = NEEDS_CONVERSATION, .run = run_save_snapshot };

void
tern_service_save_snapshot (TernService *self, GCancellable *cancellable, GAsyncReadyCallback callback,
                            gpointer user_data)
{
  g_return_if_fail (TERN_IS_SERVICE (self));
  tern_service_submit (self, &save_snapshot_type, tern_service_save_snapshot, NULL, NULL, cancellable, callback,
                  user_data);
}

gint64
tern_service_save_snapshot_finish (TernService *self, GAsyncResult *result, GError **error)
{
  return tern_service_finish_int64 (self, result, tern_service_save_snapshot, -1, error);
}
