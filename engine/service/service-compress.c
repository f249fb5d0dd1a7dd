/* SPDX-License-Identifier: GPL-3.0-or-later */
/* TernService's compression of a library model. It takes minutes, so it
 * does not run on the engine thread, where it would hold up every chat
 * request: the engine thread reads the original's entry, a thread of the
 * compression's own writes the file (tern_compress), and the engine
 * thread then adds it to the library with its report. */
#include "service-private.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

/* How much the compression yields to the rest of the process (nice). */
#define BACKGROUND_NICE 10
/* The least time between two progress reports. */
#define PROGRESS_INTERVAL_US (100 * 1000)

typedef struct {
  TernService *service;
  gint64 model_id;
  TernCompressParams params;
  char *out_path;   /* asked for; NULL: chosen beside the original */
  char *eval_path;  /* the held-out text, or NULL: not measured */
  char *calibration_path; /* the calibrated method's text, or NULL */
  char *calibration; /* its contents, read on the compression thread */
  TernServiceCompressProgressFn progress;
  gpointer progress_data;
  GCancellable *cancellable; /* cancelled by the caller's or by shutdown */
  GCancellable *user_cancellable;
  gulong user_handler, shutdown_handler;
  gboolean returned; /* owner thread: the task has its result, no more progress */

  /* Filled as the steps go. */
  char *in_path;     /* the original's file */
  char *name;        /* the original's name in the library */
  char *written;     /* the file made, removed on failure */
  char *report_json;

  /* The compression thread's. */
  gint64 start_us, last_report_us;
} Compress;

static void
compress_free (Compress *c)
{
  if (c->user_handler)
    g_cancellable_disconnect (c->user_cancellable, c->user_handler);
  g_cancellable_disconnect (c->service->shutdown_cancellable, c->shutdown_handler);
  g_clear_object (&c->user_cancellable);
  g_object_unref (c->cancellable);
  g_object_unref (c->service);
  g_free (c->out_path);
  g_free (c->eval_path);
  g_free (c->calibration_path);
  g_free (c->calibration);
  g_free (c->in_path);
  g_free (c->name);
  g_free (c->written);
  g_free (c->report_json);
  g_free (c);
}

static void
cancel_linked (GCancellable *cancellable, gpointer data)
{
  g_cancellable_cancel (G_CANCELLABLE (data));
}

/* Ends the request: no progress is delivered after this. */
static void
compress_return (GTask *task, gint64 id, GError *error)
{
  Compress *c = g_task_get_task_data (task);

  c->returned = TRUE;
  if (error)
    {
      if (c->written)
        g_unlink (c->written);
      g_task_return_error (task, error);
    }
  else
    g_task_return_int (task, id);
  g_object_unref (task);
}

/* ---- Progress: from the compression thread to the owner context ---- */

typedef struct {
  GTask *task;
  TernServicePhase phase;
  double fraction, seconds_left;
} Progress;

static void
progress_free (Progress *p)
{
  g_object_unref (p->task);
  g_free (p);
}

static gboolean
deliver_progress (gpointer data)
{
  Progress *p = data;
  Compress *c = g_task_get_task_data (p->task);

  /* Updates queued before a cancel from this context are old news. */
  if (!c->returned && c->progress && !g_cancellable_is_cancelled (c->cancellable))
    c->progress (p->phase, p->fraction, p->seconds_left, c->progress_data);
  return G_SOURCE_REMOVE;
}

static void
send_progress (GTask *task, TernServicePhase phase, double fraction, double seconds_left)
{
  Progress *p = g_new (Progress, 1);

  p->task = g_object_ref (task);
  p->phase = phase;
  p->fraction = fraction;
  p->seconds_left = seconds_left;
  g_main_context_invoke_full (g_task_get_context (task), G_PRIORITY_DEFAULT, deliver_progress, p,
                              (GDestroyNotify) progress_free);
}

/* A phase's progress, on the compression thread: passed on at most once
 * per PROGRESS_INTERVAL_US, so that a fast model cannot flood the main
 * loop. */
static void
pass_progress (GTask *task, TernServicePhase phase, double fraction)
{
  Compress *c = g_task_get_task_data (task);
  gint64 now = g_get_monotonic_time ();
  double seconds_left = -1;

  if (now - c->last_report_us < PROGRESS_INTERVAL_US || fraction >= 1)
    return;
  c->last_report_us = now;
  /* Too early a guess swings wildly: none before a hundredth is done. */
  if (fraction >= 0.01)
    seconds_left = (double) (now - c->start_us) / G_USEC_PER_SEC * (1 - fraction) / fraction;
  send_progress (task, phase, fraction, seconds_left);
}

static void
on_compress_progress (double fraction, gpointer data)
{
  pass_progress (data, TERN_SERVICE_PHASE_COMPRESS, fraction);
}

static void
on_measure_progress (double fraction, gpointer data)
{
  pass_progress (data, TERN_SERVICE_PHASE_MEASURE, fraction);
}

/* ---- Where the file goes ---- */

/* @path, or the first of "stem (2).gguf", "stem (3).gguf"… that is not
 * there, made empty (O_EXCL) so that no other compression takes it. */
static char *
reserve_path (const char *path, GError **error)
{
  g_autofree char *stem = g_str_has_suffix (path, ".gguf") ? g_strndup (path, strlen (path) - strlen (".gguf"))
                                                             : g_strdup (path);
  const char *ext = g_str_has_suffix (path, ".gguf") ? ".gguf" : "";

  for (guint n = 1; n < 10000; n++)
    {
      g_autofree char *candidate = n == 1 ? g_strdup (path) : g_strdup_printf ("%s (%u)%s", stem, n, ext);
      int fd = g_open (candidate, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);

      if (fd >= 0)
        {
          close (fd);
          return g_steal_pointer (&candidate);
        }
      if (errno != EEXIST)
        {
          int saved = errno;
          g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_IO, "%s: cannot be written: %s", candidate,
                       g_strerror (saved));
          return NULL;
        }
    }
  g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_IO, "%s: every name like it is taken", path);
  return NULL;
}

/* The original's folder when it can be written in, else "models" beside
 * the database; the file named after the original's and the type. */
static char *
choose_path (TernService *self, const Compress *c, GError **error)
{
  g_autofree char *dir = g_path_get_dirname (c->in_path);
  g_autofree char *base = g_path_get_basename (c->in_path);
  g_autofree char *stem = g_str_has_suffix (base, ".gguf") ? g_strndup (base, strlen (base) - strlen (".gguf"))
                                                             : g_strdup (base);
  g_autofree char *name = g_strdup_printf ("%s-%s.gguf", stem, tern_type_name (c->params.type));

  if (g_access (dir, W_OK) != 0)
    {
      g_autofree char *db = self->engine.db_path ? g_strdup (self->engine.db_path) : tern_store_default_path ();
      g_autofree char *data_dir = g_path_get_dirname (db);

      g_free (dir);
      dir = g_build_filename (data_dir, "models", NULL);
      if (g_mkdir_with_parents (dir, 0755) != 0)
        {
          int saved = errno;
          g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_IO, "%s: cannot be made: %s", dir,
                       g_strerror (saved));
          return NULL;
        }
    }
  return g_build_filename (dir, name, NULL);
}

/* ---- The compression thread ---- */

/* Both models measured on the held-out text, on the compression thread. */
static gboolean
measure (Compress *c, GTask *task, TernCompressReport *report, GError **error)
{
  g_autofree char *text = NULL;
  gsize len;

  if (!g_file_get_contents (c->eval_path, &text, &len, NULL))
    {
      g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_IO, "the held-out text %s cannot be read",
                   c->eval_path);
      return FALSE;
    }
  c->start_us = c->last_report_us = g_get_monotonic_time ();
  if (!tern_compress_evaluate (report, text, (gssize) len, c->params.n_threads, on_measure_progress, task,
                               c->cancellable, error))
    return FALSE;
  send_progress (task, TERN_SERVICE_PHASE_MEASURE, 1, 0);
  return TRUE;
}

/* The work, on a thread of its own at a lower priority (nice), whose
 * compute threads inherit it: the window and a chat going on meanwhile get
 * the CPU first, and the compression takes what is left. Returns the error,
 * or NULL. */
static gpointer
compress_work (gpointer data)
{
  GTask *task = data;
  Compress *c = g_task_get_task_data (task);
  GError *error = NULL;
  TernCompressReport *report;

  /* On Linux the nice value is the thread's own; failing is harmless. */
  (void) setpriority (PRIO_PROCESS, (id_t) syscall (SYS_gettid), BACKGROUND_NICE);
  if ((c->params.method == TERN_COMPRESS_CALIBRATED || c->params.max_size > 0) && c->calibration_path)
    {
      gsize len;

      if (!g_file_get_contents (c->calibration_path, &c->calibration, &len, NULL))
        return g_error_new (TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_IO, "the calibration text %s cannot be read",
                            c->calibration_path);
      c->params.calibration_text = c->calibration;
      c->params.calibration_len = (gssize) len;
    }
  c->start_us = g_get_monotonic_time ();
  report = tern_compress (c->in_path, c->written, &c->params, on_compress_progress, task, c->cancellable, &error);
  if (report == NULL)
    return error;
  send_progress (task, TERN_SERVICE_PHASE_COMPRESS, 1, 0);
  if (c->eval_path && !measure (c, task, report, &error))
    {
      tern_compress_report_free (report);
      return error;
    }
  c->report_json = tern_compress_report_to_json (report);
  tern_compress_report_free (report);
  return NULL;
}

/* A GTask thread, lent by GLib's pool: it only waits for the work's own
 * thread, so that the lower priority does not stay with a pooled thread. */
static void
compress_thread (GTask *thread_task, gpointer source, gpointer data, GCancellable *cancellable)
{
  GError *error = NULL;
  GThread *work = g_thread_try_new ("tern-compress", compress_work, data, &error);

  if (work)
    error = g_thread_join (work);
  if (error)
    g_task_return_error (thread_task, error);
  else
    g_task_return_boolean (thread_task, TRUE);
}

/* ---- Adding the file to the library, on the engine thread ---- */

static gboolean
run_add_compressed (Engine *e, Job *job, gpointer data, GError **error)
{
  Compress *c = data;
  g_autofree char *type = g_ascii_strup (tern_type_name (c->params.type), -1);
  g_autofree char *name = g_strdup_printf ("%s · %s", c->name, type);

  if (g_cancellable_is_cancelled (job->cancellable))
    {
      g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_CANCELLED, "The compression was cancelled");
      return FALSE;
    }
  gint64 id = tern_store_model_add (e->store, c->written, error);
  if (id == 0)
    return FALSE;
  if (!tern_store_model_rename (e->store, id, name, error) ||
      !tern_store_model_set_compression (e->store, id, c->model_id, c->report_json, error))
    {
      tern_store_model_remove (e->store, id, NULL);
      return FALSE;
    }
  tern_service_job_set_int64 (job, id);
  return TRUE;
}

static const RequestType add_compressed_type = { .needs = NEEDS_STORE, .run = run_add_compressed };

static void
added (GObject *source, GAsyncResult *result, gpointer data)
{
  GTask *task = data;
  GError *error = NULL;
  gint64 id = tern_service_finish_int64 (TERN_SERVICE (source), result, run_add_compressed, 0, &error);

  compress_return (task, id, error);
}

static void
compressed (GObject *source, GAsyncResult *result, gpointer data)
{
  GTask *task = data;
  Compress *c = g_task_get_task_data (task);
  GError *error = NULL;

  if (!g_task_propagate_boolean (G_TASK (result), &error))
    {
      compress_return (task, 0, error);
      return;
    }
  /* The request's data stays the task's: the added callback ends it. */
  tern_service_submit (c->service, &add_compressed_type, run_add_compressed, c, NULL, c->cancellable, added, task);
}

/* ---- Reading the original's entry, on the engine thread ---- */

static gboolean
run_get_model (Engine *e, Job *job, gpointer data, GError **error)
{
  Compress *c = data;
  TernStoreModel *model = tern_store_model_get (e->store, c->model_id, error);
  GPtrArray *array;

  if (model == NULL)
    return FALSE;
  array = g_ptr_array_new_with_free_func ((GDestroyNotify) tern_store_model_free);
  g_ptr_array_add (array, model);
  tern_service_job_set_array (job, array);
  return TRUE;
}

static const RequestType get_model_type = { .needs = NEEDS_STORE, .run = run_get_model };

static void
got_model (GObject *source, GAsyncResult *result, gpointer data)
{
  GTask *task = data;
  Compress *c = g_task_get_task_data (task);
  GError *error = NULL;
  g_autoptr (GPtrArray) models = tern_service_finish_array (TERN_SERVICE (source), result, run_get_model, &error);

  if (models == NULL)
    {
      compress_return (task, 0, error);
      return;
    }
  const TernStoreModel *model = models->pdata[0];
  c->in_path = g_strdup (model->path);
  c->name = g_strdup (model->name);
  g_autofree char *path = c->out_path ? g_strdup (c->out_path) : choose_path (c->service, c, &error);
  if (path)
    c->written = reserve_path (path, &error);
  if (c->written == NULL)
    {
      compress_return (task, 0, error);
      return;
    }

  g_autoptr (GTask) thread_task = g_task_new (NULL, c->cancellable, compressed, task);
  g_task_set_check_cancellable (thread_task, FALSE);
  g_task_set_task_data (thread_task, task, NULL);
  g_task_run_in_thread (thread_task, compress_thread);
}

void
tern_service_compress_model (TernService *self, gint64 model_id, const TernCompressParams *params,
                             const char *out_path, const char *calibration, const char *eval_text,
                             TernServiceCompressProgressFn progress,
                             gpointer progress_data,
                             GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data)
{
  g_return_if_fail (TERN_IS_SERVICE (self));
  g_return_if_fail (params != NULL);

  GTask *task = g_task_new (self, cancellable, callback, user_data);
  Compress *c = g_new0 (Compress, 1);

  g_task_set_source_tag (task, tern_service_compress_model);
  g_task_set_check_cancellable (task, FALSE);
  c->service = g_object_ref (self);
  c->model_id = model_id;
  c->params = *params;
  c->out_path = g_strdup (out_path);
  c->eval_path = g_strdup (eval_text);
  c->calibration_path = g_strdup (calibration);
  c->progress = progress;
  c->progress_data = progress_data;
  c->cancellable = g_cancellable_new ();
  if (cancellable)
    {
      c->user_cancellable = g_object_ref (cancellable);
      c->user_handler = g_cancellable_connect (cancellable, G_CALLBACK (cancel_linked), c->cancellable, NULL);
    }
  c->shutdown_handler = g_cancellable_connect (self->shutdown_cancellable, G_CALLBACK (cancel_linked),
                                               c->cancellable, NULL);
  g_task_set_task_data (task, c, (GDestroyNotify) compress_free);

  if (self->engine.read_only)
    {
      compress_return (task, 0, g_error_new (TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_READ_ONLY,
                                             "The library is open read-only: a compressed model could not be "
                                             "added to it"));
      return;
    }
  tern_service_submit (self, &get_model_type, run_get_model, c, NULL, c->cancellable, got_model, task);
}

gint64
tern_service_compress_model_finish (TernService *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), 0);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == tern_service_compress_model, 0);
  gssize id = g_task_propagate_int (G_TASK (result), error);

  return id > 0 ? id : 0;
}
