/* SPDX-License-Identifier: GPL-3.0-or-later */
/* TernService: the object, the requests' way to the engine thread and
 * back, and the delivery of the engine thread's events and results on the
 * owner context. The requests themselves are in service-requests.c and
 * service-store.c, the engine thread in service-engine.c. */
#include "service-private.h"

#include <tern/error.h>

typedef enum {
  EVENT_REPLY_STARTED,
  EVENT_DELTA,
  EVENT_FINISHED,
  EVENT_PROGRESS,
  EVENT_PROMPT_PROGRESS,
  EVENT_ERROR,
  EVENT_NOTICE,
  EVENT_MODEL_DAMAGED,
  EVENT_DONE, /* a job ran: complete its task */
} EventKind;

typedef struct {
  EventKind kind;
  gint64 id;         /* reply id; MODEL_DAMAGED: model id; PROMPT_PROGRESS: tokens read */
  gint64 parent_id;  /* REPLY_STARTED; PROMPT_PROGRESS: tokens to read */
  gboolean incomplete;
  TernServicePhase phase; /* PROGRESS */
  double value;      /* progress fraction, tokens per second */
  GString *text;     /* delta text */
  GError *error;
  Job *job;          /* DONE */
} Event;

enum {
  PROP_0,
  PROP_DB_PATH,
  PROP_READ_ONLY,
  PROP_N_THREADS,
  PROP_N_CTX,
  PROP_REQUESTED_BACKEND,
  PROP_MODEL_LOADED,
  PROP_MODEL_ID,
  PROP_CONVERSATION_ID,
  PROP_GENERATING,
  PROP_CONTEXT_USED,
  PROP_CONTEXT_SIZE,
  PROP_BACKEND,
  PROP_WAITING,
  PROP_CONTEXT_TRAINED,
  N_PROPS
};

enum {
  SIGNAL_REPLY_STARTED,
  SIGNAL_REPLY_DELTA,
  SIGNAL_REPLY_FINISHED,
  SIGNAL_PROGRESS,
  SIGNAL_PROMPT_PROGRESS,
  SIGNAL_ERROR,
  SIGNAL_NOTICE,
  SIGNAL_MODEL_DAMAGED,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (TernService, tern_service, G_TYPE_OBJECT)

G_DEFINE_ENUM_TYPE (TernServicePhase, tern_service_phase,
                    G_DEFINE_ENUM_VALUE (TERN_SERVICE_PHASE_LOAD, "load"),
                    G_DEFINE_ENUM_VALUE (TERN_SERVICE_PHASE_INGEST, "ingest"),
                    G_DEFINE_ENUM_VALUE (TERN_SERVICE_PHASE_PROMPT, "prompt"),
                    G_DEFINE_ENUM_VALUE (TERN_SERVICE_PHASE_COMPRESS, "compress"),
                    G_DEFINE_ENUM_VALUE (TERN_SERVICE_PHASE_MEASURE, "measure"))

/* ---- State ---- */

void
tern_service_state_clear (ServiceState *state)
{
  g_clear_pointer (&state->backend, g_free);
  *state = (ServiceState) { 0 };
}

void
tern_service_state_copy (ServiceState *dest, const ServiceState *src)
{
  char *backend = g_strdup (src->backend);

  g_free (dest->backend);
  *dest = *src;
  dest->backend = backend;
}

/* Shows @next in the properties, notifying those that changed. */
static void
apply_state (TernService *self, const ServiceState *next)
{
  ServiceState *s = &self->state;

  g_object_freeze_notify (G_OBJECT (self));
#define APPLY(field, prop)                                                                                 \
  if (s->field != next->field)                                                                             \
    {                                                                                                      \
      s->field = next->field;                                                                              \
      g_object_notify_by_pspec (G_OBJECT (self), properties[prop]);                                        \
    }
  APPLY (model_loaded, PROP_MODEL_LOADED);
  APPLY (model_id, PROP_MODEL_ID);
  APPLY (conversation_id, PROP_CONVERSATION_ID);
  APPLY (generating, PROP_GENERATING);
  APPLY (context_used, PROP_CONTEXT_USED);
  APPLY (context_size, PROP_CONTEXT_SIZE);
  APPLY (waiting, PROP_WAITING);
  APPLY (context_trained, PROP_CONTEXT_TRAINED);
#undef APPLY
  if (g_strcmp0 (s->backend, next->backend) != 0)
    {
      g_free (s->backend);
      s->backend = g_strdup (next->backend);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_BACKEND]);
    }
  g_object_thaw_notify (G_OBJECT (self));
}

/* ---- Requests ---- */

static void
cancel_linked (GCancellable *cancellable, gpointer linked)
{
  g_cancellable_cancel (linked);
}

static void
job_free (Job *job)
{
  if (job->user_handler)
    g_cancellable_disconnect (job->user_cancellable, job->user_handler);
  g_clear_object (&job->user_cancellable);
  g_clear_object (&job->cancellable);
  g_clear_object (&job->task);
  if (G_IS_VALUE (&job->result))
    g_value_unset (&job->result);
  g_clear_error (&job->error);
  g_free (job);
}

/* Completes @job's task with its result and frees it. Owner thread. */
static void
job_return (Job *job)
{
  if (job->error)
    g_task_return_error (job->task, g_steal_pointer (&job->error));
  else
    g_task_return_value (job->task, &job->result);
  job_free (job);
}

void
tern_service_submit (TernService *self, const RequestType *type, gpointer source_tag, gpointer data,
                GDestroyNotify data_free, GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data)
{
  Job *job = g_new0 (Job, 1);

  job->type = type;
  job->task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (job->task, source_tag);
  g_task_set_task_data (job->task, data, data_free);
  /* Results carry TERN_ENGINE_ERROR_CANCELLED, not GIO's own error. */
  g_task_set_check_cancellable (job->task, FALSE);
  job->data = data;
  /* The engine's own cancellable, so shutdown can cancel without touching
   * the caller's. */
  job->cancellable = g_cancellable_new ();
  if (cancellable)
    {
      job->user_cancellable = g_object_ref (cancellable);
      job->user_handler = g_cancellable_connect (cancellable, G_CALLBACK (cancel_linked), job->cancellable, NULL);
    }
  if (type->generates)
    job->serial = g_atomic_int_add (&self->last_serial, 1) + 1;

  if (self->shut_down)
    {
      g_set_error (&job->error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_CANCELLED, "The engine has shut down");
      job_return (job);
      return;
    }
  g_async_queue_push (self->inbox, job);
}

void
tern_service_job_set_int64 (Job *job, gint64 value)
{
  g_value_init (&job->result, G_TYPE_INT64);
  g_value_set_int64 (&job->result, value);
}

void
tern_service_job_set_int (Job *job, int value)
{
  g_value_init (&job->result, G_TYPE_INT);
  g_value_set_int (&job->result, value);
}

void
tern_service_job_set_boolean (Job *job)
{
  g_value_init (&job->result, G_TYPE_BOOLEAN);
  g_value_set_boolean (&job->result, TRUE);
}

void
tern_service_job_set_array (Job *job, GPtrArray *array)
{
  g_value_init (&job->result, G_TYPE_PTR_ARRAY);
  g_value_take_boxed (&job->result, array);
}

gboolean
tern_service_finish_value (TernService *self, GAsyncResult *result, gpointer source_tag, GValue *value, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == source_tag, FALSE);
  return g_task_propagate_value (G_TASK (result), value, error);
}

gboolean
tern_service_finish_boolean (TernService *self, GAsyncResult *result, gpointer source_tag, GError **error)
{
  g_auto (GValue) value = G_VALUE_INIT;

  return tern_service_finish_value (self, result, source_tag, &value, error) && g_value_get_boolean (&value);
}

gint64
tern_service_finish_int64 (TernService *self, GAsyncResult *result, gpointer source_tag, gint64 failed, GError **error)
{
  g_auto (GValue) value = G_VALUE_INIT;

  return tern_service_finish_value (self, result, source_tag, &value, error) ? g_value_get_int64 (&value) : failed;
}

int
tern_service_finish_int (TernService *self, GAsyncResult *result, gpointer source_tag, int failed, GError **error)
{
  g_auto (GValue) value = G_VALUE_INIT;

  return tern_service_finish_value (self, result, source_tag, &value, error) ? g_value_get_int (&value) : failed;
}

GPtrArray *
tern_service_finish_array (TernService *self, GAsyncResult *result, gpointer source_tag, GError **error)
{
  g_auto (GValue) value = G_VALUE_INIT;

  return tern_service_finish_value (self, result, source_tag, &value, error) ? g_value_dup_boxed (&value) : NULL;
}

/* ---- Events ---- */

static void
event_free (Event *ev)
{
  if (ev->text)
    g_string_free (ev->text, TRUE);
  g_clear_error (&ev->error);
  g_free (ev);
}

/* Delivers what the engine thread queued, in order. Before each event the
 * latest state is shown, so handlers and callbacks see a state at least
 * as new as their event. Events are taken one at a time, so a handler that
 * shuts the service down (which delivers too) keeps the order. Owner
 * thread. */
static void
deliver (TernService *self)
{
  /* A handler may drop the last reference to the service. */
  g_object_ref (self);
  for (;;)
    {
      ServiceState state = { 0 };
      gboolean changed;

      g_mutex_lock (&self->lock);
      Event *ev = g_queue_pop_head (&self->events);
      changed = self->state_changed;
      if (changed)
        tern_service_state_copy (&state, &self->pending);
      self->state_changed = FALSE;
      g_mutex_unlock (&self->lock);

      if (changed)
        apply_state (self, &state);
      tern_service_state_clear (&state);
      if (ev == NULL)
        break;
      switch (ev->kind)
        {
        case EVENT_REPLY_STARTED:
          g_signal_emit (self, signals[SIGNAL_REPLY_STARTED], 0, ev->id, ev->parent_id);
          break;
        case EVENT_DELTA:
          g_signal_emit (self, signals[SIGNAL_REPLY_DELTA], 0, ev->text->str);
          break;
        case EVENT_FINISHED:
          g_signal_emit (self, signals[SIGNAL_REPLY_FINISHED], 0, ev->id, ev->incomplete, ev->value);
          break;
        case EVENT_PROGRESS:
          g_signal_emit (self, signals[SIGNAL_PROGRESS], 0, ev->phase, ev->value);
          break;
        case EVENT_PROMPT_PROGRESS:
          g_signal_emit (self, signals[SIGNAL_PROMPT_PROGRESS], 0, (gint) ev->id, (gint) ev->parent_id, ev->value);
          break;
        case EVENT_ERROR:
          g_signal_emit (self, signals[SIGNAL_ERROR], 0, ev->error);
          break;
        case EVENT_NOTICE:
          g_signal_emit (self, signals[SIGNAL_NOTICE], 0, ev->text->str);
          break;
        case EVENT_MODEL_DAMAGED:
          g_signal_emit (self, signals[SIGNAL_MODEL_DAMAGED], 0, ev->id, ev->error);
          break;
        case EVENT_DONE:
          job_return (g_steal_pointer (&ev->job));
          break;
        }
      event_free (ev);
    }
  g_object_unref (self);
}

static gboolean
on_dispatch (gpointer data)
{
  TernService *self = data;

  g_mutex_lock (&self->lock);
  g_clear_pointer (&self->dispatch, g_source_unref);
  g_mutex_unlock (&self->lock);
  deliver (self);
  return G_SOURCE_REMOVE;
}

/* Schedules a delivery on the owner context unless one is pending, so the
 * engine thread wakes the main loop at most once per batch. Called with
 * the lock held. */
static void
schedule_locked (TernService *self)
{
  if (self->dispatch != NULL)
    return;
  self->dispatch = g_idle_source_new ();
  g_source_set_static_name (self->dispatch, "[tern] service events");
  /* The source is destroyed before the service goes (shutdown), so it
   * holds no reference. */
  g_source_set_callback (self->dispatch, on_dispatch, self, NULL);
  g_source_attach (self->dispatch, self->context);
}

/* Queues @ev, merging it into the last event when both are text of the
 * same reply or progress of the same phase. Engine thread. */
static void
queue_event (TernService *self, Event *ev)
{
  g_mutex_lock (&self->lock);
  Event *tail = g_queue_peek_tail (&self->events);
  if (tail && tail->kind == EVENT_DELTA && ev->kind == EVENT_DELTA)
    {
      g_string_append_len (tail->text, ev->text->str, ev->text->len);
      event_free (ev);
    }
  else if (tail && tail->kind == EVENT_PROGRESS && ev->kind == EVENT_PROGRESS && tail->phase == ev->phase)
    {
      tail->value = ev->value;
      event_free (ev);
    }
  else if (tail && tail->kind == EVENT_PROMPT_PROGRESS && ev->kind == EVENT_PROMPT_PROGRESS)
    {
      tail->id = ev->id;
      tail->parent_id = ev->parent_id;
      tail->value = ev->value;
      event_free (ev);
    }
  else
    g_queue_push_tail (&self->events, ev);
  schedule_locked (self);
  g_mutex_unlock (&self->lock);
}

static Event *
event_new (EventKind kind)
{
  Event *ev = g_new0 (Event, 1);

  ev->kind = kind;
  return ev;
}

void
tern_service_emit_reply_started (TernService *self, gint64 reply_id, gint64 parent_id)
{
  Event *ev = event_new (EVENT_REPLY_STARTED);

  ev->id = reply_id;
  ev->parent_id = parent_id;
  queue_event (self, ev);
}

void
tern_service_emit_delta (TernService *self, const char *text, gsize len)
{
  if (len == 0)
    return;
  Event *ev = event_new (EVENT_DELTA);
  ev->text = g_string_new_len (text, (gssize) len);
  queue_event (self, ev);
}

void
tern_service_emit_finished (TernService *self, gint64 reply_id, gboolean incomplete, double tokens_per_second)
{
  Event *ev = event_new (EVENT_FINISHED);

  ev->id = reply_id;
  ev->incomplete = incomplete;
  ev->value = tokens_per_second;
  queue_event (self, ev);
}

void
tern_service_emit_progress (TernService *self, TernServicePhase phase, double fraction)
{
  Event *ev = event_new (EVENT_PROGRESS);

  ev->phase = phase;
  ev->value = fraction;
  queue_event (self, ev);
}

void
tern_service_emit_prompt_progress (TernService *self, gint n_read, gint n_total, double tokens_per_second)
{
  Event *ev = event_new (EVENT_PROMPT_PROGRESS);

  ev->id = n_read;
  ev->parent_id = n_total;
  ev->value = tokens_per_second;
  queue_event (self, ev);
}

void
tern_service_emit_error (TernService *self, const GError *error)
{
  Event *ev = event_new (EVENT_ERROR);

  ev->error = g_error_copy (error);
  queue_event (self, ev);
}

void
tern_service_emit_notice (TernService *self, const char *text)
{
  Event *ev = event_new (EVENT_NOTICE);

  ev->text = g_string_new (text);
  queue_event (self, ev);
}

void
tern_service_emit_model_damaged (TernService *self, gint64 model_id, const GError *error)
{
  Event *ev = event_new (EVENT_MODEL_DAMAGED);

  ev->id = model_id;
  ev->error = g_error_copy (error);
  queue_event (self, ev);
}

void
tern_service_complete (TernService *self, Job *job)
{
  Event *ev = event_new (EVENT_DONE);

  ev->job = job;
  queue_event (self, ev);
}

void
tern_service_publish_state (TernService *self, const ServiceState *state)
{
  g_mutex_lock (&self->lock);
  tern_service_state_copy (&self->pending, state);
  self->state_changed = TRUE;
  schedule_locked (self);
  g_mutex_unlock (&self->lock);
}

void
tern_service_set_current (TernService *self, Job *job)
{
  g_mutex_lock (&self->lock);
  self->current = job;
  g_mutex_unlock (&self->lock);
}

/* ---- The object ---- */

void
tern_service_stop (TernService *self)
{
  g_return_if_fail (TERN_IS_SERVICE (self));

  gint serial = g_atomic_int_get (&self->last_serial);
  g_atomic_int_set (&self->stop_serial, serial);
  /* A prompt being evaluated stops too (its request fails with CANCELLED). */
  g_mutex_lock (&self->lock);
  GCancellable *running = self->current && self->current->serial > 0 && self->current->serial <= serial
                              ? g_object_ref (self->current->cancellable)
                              : NULL;
  g_mutex_unlock (&self->lock);
  if (running)
    {
      g_cancellable_cancel (running);
      g_object_unref (running);
    }
}

guint
tern_service_get_reply_n_tokens (TernService *self)
{
  g_return_val_if_fail (TERN_IS_SERVICE (self), 0);
  return g_atomic_int_get (&self->reply_n_tokens);
}

#ifdef TERN_SERVICE_TESTING
void
tern_service_testing_set_token_hook (TernService *self, TernServiceTokenHook hook, gpointer user_data)
{
  g_return_if_fail (TERN_IS_SERVICE (self));

  /* The engine thread reads these only while it runs a request, which it
   * took from the queue after this returned. */
  self->token_hook = hook;
  self->token_hook_data = user_data;
}

void
tern_service_testing_set_progress_hook (TernService *self, TernServiceProgressHook hook, gpointer user_data)
{
  g_return_if_fail (TERN_IS_SERVICE (self));

  self->progress_hook = hook;
  self->progress_hook_data = user_data;
}
#endif

void
tern_service_shutdown (TernService *self)
{
  g_return_if_fail (TERN_IS_SERVICE (self));

  if (self->shut_down || self->thread == NULL)
    return;
  self->shut_down = TRUE;
  g_atomic_int_set (&self->shutting_down, TRUE);
  tern_service_stop (self);
  g_cancellable_cancel (self->shutdown_cancellable);

  /* Cancel a load or an evaluation in progress; the engine thread checks
   * shutting_down before it starts the next one, and stops waiting for the
   * database. */
  g_mutex_lock (&self->lock);
  GCancellable *running = self->current ? g_object_ref (self->current->cancellable) : NULL;
  g_mutex_unlock (&self->lock);
  if (running)
    {
      g_cancellable_cancel (running);
      g_object_unref (running);
    }

  Job quit = { .type = NULL };
  g_async_queue_push (self->inbox, &quit);
  g_thread_join (g_steal_pointer (&self->thread));

  g_mutex_lock (&self->lock);
  if (self->dispatch)
    {
      g_source_destroy (self->dispatch);
      g_clear_pointer (&self->dispatch, g_source_unref);
    }
  g_mutex_unlock (&self->lock);
  deliver (self);
}

static void
tern_service_constructed (GObject *object)
{
  TernService *self = TERN_SERVICE (object);

  G_OBJECT_CLASS (tern_service_parent_class)->constructed (object);
  self->engine.service = self;
  self->thread = g_thread_new ("tern-engine", tern_service_engine_main, &self->engine);
}

static void
tern_service_dispose (GObject *object)
{
  tern_service_shutdown (TERN_SERVICE (object));
  G_OBJECT_CLASS (tern_service_parent_class)->dispose (object);
}

static void
tern_service_finalize (GObject *object)
{
  TernService *self = TERN_SERVICE (object);

  g_async_queue_unref (self->inbox);
  g_object_unref (self->shutdown_cancellable);
  g_free (self->engine.db_path);
  g_free (self->engine.backend);
  g_free (self->engine.ctx_backend);
  tern_service_state_clear (&self->pending);
  tern_service_state_clear (&self->state);
  g_mutex_clear (&self->lock);
  g_main_context_unref (self->context);
  G_OBJECT_CLASS (tern_service_parent_class)->finalize (object);
}

static void
tern_service_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  TernService *self = TERN_SERVICE (object);

  switch (prop_id)
    {
    case PROP_DB_PATH:
      g_value_set_string (value, self->engine.db_path);
      break;
    case PROP_READ_ONLY:
      g_value_set_boolean (value, self->engine.read_only);
      break;
    case PROP_MODEL_LOADED:
      g_value_set_boolean (value, self->state.model_loaded);
      break;
    case PROP_MODEL_ID:
      g_value_set_int64 (value, self->state.model_id);
      break;
    case PROP_CONVERSATION_ID:
      g_value_set_int64 (value, self->state.conversation_id);
      break;
    case PROP_GENERATING:
      g_value_set_boolean (value, self->state.generating);
      break;
    case PROP_CONTEXT_USED:
      g_value_set_int (value, self->state.context_used);
      break;
    case PROP_CONTEXT_SIZE:
      g_value_set_int (value, self->state.context_size);
      break;
    case PROP_CONTEXT_TRAINED:
      g_value_set_int (value, self->state.context_trained);
      break;
    case PROP_BACKEND:
      g_value_set_string (value, self->state.backend);
      break;
    case PROP_WAITING:
      g_value_set_boolean (value, self->state.waiting);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
tern_service_set_property (GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  TernService *self = TERN_SERVICE (object);

  /* Construct-only: read by the engine thread, which starts after them. */
  switch (prop_id)
    {
    case PROP_DB_PATH:
      self->engine.db_path = g_value_dup_string (value);
      break;
    case PROP_READ_ONLY:
      self->engine.read_only = g_value_get_boolean (value);
      break;
    case PROP_N_THREADS:
      self->engine.n_threads = g_value_get_uint (value);
      break;
    case PROP_N_CTX:
      self->engine.n_ctx = g_value_get_int (value);
      break;
    case PROP_REQUESTED_BACKEND:
      self->engine.backend = g_value_dup_string (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
tern_service_class_init (TernServiceClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GParamFlags ro = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY;
  GParamFlags co = G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS;
  GParamFlags settings = G_PARAM_WRITABLE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS;

  object_class->constructed = tern_service_constructed;
  object_class->dispose = tern_service_dispose;
  object_class->finalize = tern_service_finalize;
  object_class->get_property = tern_service_get_property;
  object_class->set_property = tern_service_set_property;

  properties[PROP_DB_PATH] = g_param_spec_string ("db-path", NULL, NULL, NULL, co);
  properties[PROP_READ_ONLY] = g_param_spec_boolean ("read-only", NULL, NULL, FALSE, co);
  /* Write-only: the engine thread owns the settings once it runs, and
   * tern_service_configure changes them there. "requested-backend" is the
   * device asked for; "backend" the one the loaded model runs on. */
  properties[PROP_N_THREADS] = g_param_spec_uint ("n-threads", NULL, NULL, 0, 4096, 0, settings);
  properties[PROP_N_CTX] = g_param_spec_int ("n-ctx", NULL, NULL, 0, G_MAXINT32, 0, settings);
  properties[PROP_REQUESTED_BACKEND] = g_param_spec_string ("requested-backend", NULL, NULL, NULL, settings);
  properties[PROP_MODEL_LOADED] = g_param_spec_boolean ("model-loaded", NULL, NULL, FALSE, ro);
  properties[PROP_MODEL_ID] = g_param_spec_int64 ("model-id", NULL, NULL, 0, G_MAXINT64, 0, ro);
  properties[PROP_CONVERSATION_ID] = g_param_spec_int64 ("conversation-id", NULL, NULL, 0, G_MAXINT64, 0, ro);
  properties[PROP_GENERATING] = g_param_spec_boolean ("generating", NULL, NULL, FALSE, ro);
  properties[PROP_CONTEXT_USED] = g_param_spec_int ("context-used", NULL, NULL, 0, G_MAXINT32, 0, ro);
  properties[PROP_CONTEXT_SIZE] = g_param_spec_int ("context-size", NULL, NULL, 0, G_MAXINT32, 0, ro);
  properties[PROP_BACKEND] = g_param_spec_string ("backend", NULL, NULL, NULL, ro);
  properties[PROP_WAITING] = g_param_spec_boolean ("waiting", NULL, NULL, FALSE, ro);
  properties[PROP_CONTEXT_TRAINED] = g_param_spec_int ("context-trained", NULL, NULL, 0, G_MAXINT32, 0, ro);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  signals[SIGNAL_REPLY_STARTED] = g_signal_new ("reply-started", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                                                NULL, NULL, NULL, G_TYPE_NONE, 2, G_TYPE_INT64, G_TYPE_INT64);
  signals[SIGNAL_REPLY_DELTA] = g_signal_new ("reply-delta", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                                              NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING | G_SIGNAL_TYPE_STATIC_SCOPE);
  signals[SIGNAL_REPLY_FINISHED] =
      g_signal_new ("reply-finished", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE,
                    3, G_TYPE_INT64, G_TYPE_BOOLEAN, G_TYPE_DOUBLE);
  signals[SIGNAL_PROGRESS] =
      g_signal_new ("progress", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE, 2,
                    TERN_TYPE_SERVICE_PHASE, G_TYPE_DOUBLE);
  signals[SIGNAL_PROMPT_PROGRESS] =
      g_signal_new ("prompt-progress", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE,
                    3, G_TYPE_INT, G_TYPE_INT, G_TYPE_DOUBLE);
  signals[SIGNAL_ERROR] = g_signal_new ("error", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                        G_TYPE_NONE, 1, G_TYPE_ERROR);
  signals[SIGNAL_NOTICE] = g_signal_new ("notice", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                         G_TYPE_NONE, 1, G_TYPE_STRING);
  signals[SIGNAL_MODEL_DAMAGED] = g_signal_new ("model-damaged", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                                                NULL, NULL, G_TYPE_NONE, 2, G_TYPE_INT64, G_TYPE_ERROR);
}

static void
tern_service_init (TernService *self)
{
  g_mutex_init (&self->lock);
  g_queue_init (&self->events);
  self->inbox = g_async_queue_new ();
  self->shutdown_cancellable = g_cancellable_new ();
  self->context = g_main_context_ref_thread_default ();
}

TernService *
tern_service_new (const char *db_path, guint n_threads, gint32 n_ctx, const char *backend)
{
  g_return_val_if_fail (n_ctx >= 0, NULL);
  return g_object_new (TERN_TYPE_SERVICE, "db-path", db_path, "n-threads", n_threads, "n-ctx", n_ctx,
                       "requested-backend", backend, NULL);
}

TernService *
tern_service_new_read_only (const char *db_path, guint n_threads, gint32 n_ctx, const char *backend)
{
  g_return_val_if_fail (n_ctx >= 0, NULL);
  return g_object_new (TERN_TYPE_SERVICE, "db-path", db_path, "read-only", TRUE, "n-threads", n_threads, "n-ctx",
                       n_ctx, "requested-backend", backend, NULL);
}

/* ---- Property getters ---- */

gboolean
tern_service_get_read_only (TernService *self)
{
  g_return_val_if_fail (TERN_IS_SERVICE (self), FALSE);
  return self->engine.read_only;
}

gboolean
tern_service_get_model_loaded (TernService *self)
{
  g_return_val_if_fail (TERN_IS_SERVICE (self), FALSE);
  return self->state.model_loaded;
}

gint64
tern_service_get_model_id (TernService *self)
{
  g_return_val_if_fail (TERN_IS_SERVICE (self), 0);
  return self->state.model_id;
}

gint64
tern_service_get_conversation_id (TernService *self)
{
  g_return_val_if_fail (TERN_IS_SERVICE (self), 0);
  return self->state.conversation_id;
}

gboolean
tern_service_get_generating (TernService *self)
{
  g_return_val_if_fail (TERN_IS_SERVICE (self), FALSE);
  return self->state.generating;
}

gint
tern_service_get_context_used (TernService *self)
{
  g_return_val_if_fail (TERN_IS_SERVICE (self), 0);
  return self->state.context_used;
}

gint
tern_service_get_context_size (TernService *self)
{
  g_return_val_if_fail (TERN_IS_SERVICE (self), 0);
  return self->state.context_size;
}

gint
tern_service_get_context_trained (TernService *self)
{
  g_return_val_if_fail (TERN_IS_SERVICE (self), 0);
  return self->state.context_trained;
}

const char *
tern_service_get_backend (TernService *self)
{
  g_return_val_if_fail (TERN_IS_SERVICE (self), NULL);
  return self->state.backend;
}

gboolean
tern_service_get_waiting (TernService *self)
{
  g_return_val_if_fail (TERN_IS_SERVICE (self), FALSE);
  return self->state.waiting;
}
