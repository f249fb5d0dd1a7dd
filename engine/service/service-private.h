/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/* What the parts of TernService share: service.c (the object, its state
 * and the delivery of events and results on the owner context),
 * service-requests.c and service-store.c (each request: its arguments,
 * its public function, and what it runs on the engine thread), and
 * service-engine.c (the engine thread, and the work that computes). */

#include <tern/service.h>
#include <tern/session.h>
#ifdef TERN_SERVICE_TESTING
#include <tern/service-testing.h>
#endif

G_BEGIN_DECLS

typedef struct Engine Engine;
typedef struct Job Job;

/* What a request needs before it runs; each includes the ones before. */
typedef enum {
  NEEDS_NOTHING,
  NEEDS_STORE,
  NEEDS_MODEL,
  NEEDS_CONVERSATION, /* an open conversation */
} Needs;

/* A kind of request. */
typedef struct {
  Needs needs;
  /* Work that computes (a load, an evaluation): not started once
   * shutdown began. */
  gboolean computes;
  /* A reply: numbered, so that tern_service_stop reaches it. */
  gboolean generates;
  /* Runs on the engine thread with @data, the request's own arguments
   * (its task's data): sets the job's result (job_set_*) and returns
   * TRUE, or fails with @error. */
  gboolean (*run) (Engine *engine, Job *job, gpointer data, GError **error);
} RequestType;

/* One request in flight. Made on the owner thread, run on the engine
 * thread, then handed back to the owner thread, which completes its task
 * and frees it: the engine thread reads the arguments and writes the
 * result, and never touches the task. */
struct Job {
  const RequestType *type;        /* NULL: the engine thread ends */
  GTask *task;                    /* its task data: the request's arguments */
  gpointer data;                  /* the same, for the engine thread */
  GCancellable *cancellable;      /* always set: cancelled by the caller's or by shutdown */
  GCancellable *user_cancellable; /* the caller's, linked to cancellable */
  gulong user_handler;
  gint serial;                    /* replies: for tern_service_stop; 0 otherwise */

  /* Result: a value, or an error. */
  GValue result;
  GError *error;
};

/* What the properties show; the engine thread publishes a copy. */
typedef struct {
  gboolean model_loaded;
  gint64 model_id;
  gint64 conversation_id;
  gboolean generating;
  gint context_used;
  gint context_size;
  gint context_trained;  /* the loaded model's training length; 0: no model */
  char *backend;
  gboolean waiting; /* for another program's lock on the database */
} ServiceState;

/* The engine thread's own state: only that thread touches it. */
struct Engine {
  TernService *service;
  char *db_path;
  gboolean read_only;    /* the store is opened read-only (set before the thread starts) */
  /* Settings for the contexts of the models loaded from now on: made
   * into TernContextParams in one place, context_params in
   * service-engine.c. */
  guint n_threads;
  gint32 n_ctx;
  char *backend;         /* NULL: the CPU */
  TernStore *store;
  GError *store_error;   /* why the store could not be opened */

  TernModel *model;
  gint64 model_id;
  TernModelIdentity identity;
  TernChatTemplate *tmpl;
  TernContext *ctx;
  char *ctx_backend;     /* the device ctx was made for, to make it again */
  TernSession *session;  /* the chat on ctx */
  gint64 conversation_id;
  /* The open conversation's head as the engine last read or made it: a
   * message is added only while the head is still that, so a program that
   * wrote to the conversation meanwhile is never interleaved with. */
  gint64 head_id;

  ServiceState state;
};

struct _TernService {
  GObject parent_instance;

  GMainContext *context; /* the owner context */
  GThread *thread;
  GAsyncQueue *inbox;    /* Job */
  Engine engine;         /* the engine thread's */

  gint last_serial;      /* atomic: the serial of the last reply requested */
  gint stop_serial;      /* atomic: replies up to this serial stop */
  gint shutting_down;    /* atomic */
  guint reply_n_tokens;  /* atomic */
  gboolean shut_down;    /* owner thread: shutdown is over */
  /* Cancelled by shutdown: the compressions on threads of their own. */
  GCancellable *shutdown_cancellable;

#ifdef TERN_SERVICE_TESTING
  TernServiceTokenHook token_hook; /* set while the engine thread is idle */
  gpointer token_hook_data;
  TernServiceProgressHook progress_hook; /* the same */
  gpointer progress_hook_data;
#endif

  GMutex lock;           /* guards what follows */
  Job *current;          /* the job the engine thread runs */
  GQueue events;         /* Event, oldest first */
  ServiceState pending;  /* the last state published */
  gboolean state_changed;
  GSource *dispatch;     /* the scheduled delivery, NULL when none */

  ServiceState state;    /* what the properties show: owner thread */
};

/* ---- service.c ---- */

/* Sends a request of @type with @data (the request's arguments, freed by
 * @data_free with its task) to the engine thread; its task has
 * @source_tag. Owner thread. */
void tern_service_submit (TernService *self, const RequestType *type, gpointer source_tag, gpointer data,
                     GDestroyNotify data_free, GCancellable *cancellable, GAsyncReadyCallback callback,
                     gpointer user_data);

/* The result of a job, set by its run function on the engine thread. */
void tern_service_job_set_int64 (Job *job, gint64 value);
void tern_service_job_set_int (Job *job, int value);
void tern_service_job_set_boolean (Job *job);
void tern_service_job_set_array (Job *job, GPtrArray *array); /* takes @array */

/* The result of a request whose task has @source_tag: its value in
 * @value (unset), or FALSE with @error. The others read it as their type,
 * @failed on error. Owner thread. */
gboolean tern_service_finish_value (TernService *self, GAsyncResult *result, gpointer source_tag, GValue *value,
                               GError **error);
gboolean tern_service_finish_boolean (TernService *self, GAsyncResult *result, gpointer source_tag, GError **error);
gint64 tern_service_finish_int64 (TernService *self, GAsyncResult *result, gpointer source_tag, gint64 failed,
                             GError **error);
int tern_service_finish_int (TernService *self, GAsyncResult *result, gpointer source_tag, int failed, GError **error);
GPtrArray *tern_service_finish_array (TernService *self, GAsyncResult *result, gpointer source_tag, GError **error);

/* Events from the engine thread, delivered on the owner context in the
 * order they are queued. */
void tern_service_emit_reply_started (TernService *self, gint64 reply_id, gint64 parent_id);
void tern_service_emit_delta (TernService *self, const char *text, gsize len);
void tern_service_emit_finished (TernService *self, gint64 reply_id, gboolean incomplete, double tokens_per_second);
void tern_service_emit_progress (TernService *self, TernServicePhase phase, double fraction);
void tern_service_emit_prompt_progress (TernService *self, gint n_read, gint n_total, double tokens_per_second);
void tern_service_emit_error (TernService *self, const GError *error);
void tern_service_emit_notice (TernService *self, const char *text);
void tern_service_emit_model_damaged (TernService *self, gint64 model_id, const GError *error);
/* Publishes @state for the properties. */
void tern_service_publish_state (TernService *self, const ServiceState *state);
/* Hands @job back, run: its task completes on the owner context. */
void tern_service_complete (TernService *self, Job *job);
/* Marks @job as the one running (NULL: none), for stop and shutdown to
 * cancel. */
void tern_service_set_current (TernService *self, Job *job);

void tern_service_state_clear (ServiceState *state);
void tern_service_state_copy (ServiceState *dest, const ServiceState *src);

/* ---- service-engine.c: the engine thread ---- */

/* The engine thread's body. */
gpointer tern_service_engine_main (gpointer data);

/* The work of the requests that use the model, the context or the chat
 * session; each returns its result (0 or -1 on error, as the request's
 * _finish does). Engine thread. */
gint64 tern_service_engine_load (Engine *engine, const char *path, GCancellable *cancellable, GError **error);
void tern_service_engine_unload (Engine *engine);
int tern_service_engine_open (Engine *engine, gint64 conversation_id, GCancellable *cancellable, GError **error);
int tern_service_engine_switch_branch (Engine *engine, gint64 message_id, gint offset, GCancellable *cancellable,
                                  GError **error);
/* A user message @text after the head of the open conversation's branch,
 * or beside user message @edited_id (0: none), and its reply. */
gint64 tern_service_engine_send (Engine *engine, Job *job, gint64 edited_id, const char *text, gint max_tokens,
                            GError **error);
/* Another reply to the last user message of the open conversation. */
gint64 tern_service_engine_regenerate (Engine *engine, Job *job, gint max_tokens, GError **error);
gint64 tern_service_engine_save_snapshot (Engine *engine, GError **error);
/* Closes the open conversation when it is @conversation_id. */
void tern_service_engine_forget_conversation (Engine *engine, gint64 conversation_id);

G_END_DECLS
