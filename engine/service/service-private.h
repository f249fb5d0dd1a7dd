/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/* What the two halves of TernService share: service.c (the object, its
 * API and the delivery of events on the owner context) and
 * service-engine.c (the engine thread and the commands it runs). */

#include <tern/chat-template.h>
#include <tern/model-library.h>
#include <tern/snapshot.h>
#include <tern/service.h>
#ifdef TERN_SERVICE_TESTING
#include <tern/service-testing.h>
#endif

G_BEGIN_DECLS

typedef enum {
  COMMAND_QUIT, /* ends the engine thread; no task */
  COMMAND_LOAD,
  COMMAND_UNLOAD,
  COMMAND_OPEN,
  COMMAND_SEND,
  COMMAND_REGENERATE,
  COMMAND_EDIT,
  COMMAND_SWITCH_BRANCH,
  COMMAND_SNAPSHOT,
  COMMAND_CONFIGURE,
  COMMAND_STORE, /* a store query or update: runs store_fn */
} CommandKind;

typedef struct Engine Engine;
typedef struct Command Command;

/* A store command's work, on the engine thread: sets cmd->result. */
typedef gboolean (*StoreFn) (Engine *engine, Command *cmd, GError **error);

/* One request. Made on the owner thread, run on the engine thread, then
 * handed back to the owner thread, which completes its task and frees it:
 * the engine thread reads the arguments and writes the result, and never
 * touches the task. */
struct Command {
  CommandKind kind;
  GTask *task;
  GCancellable *cancellable;      /* always set: cancelled by the caller's or by shutdown */
  GCancellable *user_cancellable; /* the caller's, linked to cancellable */
  gulong user_handler;

  /* Arguments. */
  char *text;     /* a path, a message, a title, search text */
  char *text2;    /* a system prompt, the search markers */
  char *text3;
  gint64 id;      /* a conversation or a model */
  gint64 offset;
  gint64 limit;
  gboolean flag;  /* list: the trash */
  gint max_tokens;
  gint serial;    /* generations: for tern_service_stop */
  TernSamplerParams sampling;
  gboolean has_sampling;
  StoreFn store_fn;

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
  char *backend;
} ServiceState;

/* The engine thread's own state: only that thread touches it. */
struct Engine {
  TernService *service;
  char *db_path;
  guint n_threads;
  gint32 n_ctx;
  TernStore *store;
  GError *store_error;   /* why the store could not be opened */

  TernModel *model;
  gint64 model_id;
  TernModelIdentity identity;
  TernChatTemplate *tmpl;
  TernContext *ctx;
  TernSampler *sampler;
  gint32 n_keep;         /* tokens a context shift keeps: the BOS */
  gint64 conversation_id;

  ServiceState state;
};

struct _TernService {
  GObject parent_instance;

  GMainContext *context; /* the owner context */
  GThread *thread;
  GAsyncQueue *inbox;    /* Command */
  Engine engine;         /* the engine thread's */

  gint last_serial;      /* atomic: the serial of the last generation requested */
  gint stop_serial;      /* atomic: generations up to this serial stop */
  gint shutting_down;    /* atomic */
  guint reply_n_tokens;  /* atomic */
  gboolean shut_down;    /* owner thread: shutdown is over */

#ifdef TERN_SERVICE_TESTING
  TernServiceTokenHook token_hook; /* set while the engine thread is idle */
  gpointer token_hook_data;
#endif

  GMutex lock;           /* guards what follows */
  Command *current;      /* the command the engine thread runs */
  GQueue events;         /* Event, oldest first */
  ServiceState pending;  /* the last state published */
  gboolean state_changed;
  GSource *dispatch;     /* the scheduled delivery, NULL when none */

  ServiceState state;    /* what the properties show: owner thread */
};

/* service-engine.c: the engine thread's body. */
gpointer service_engine_main (gpointer data);
/* Frees what the engine thread owns, on that thread at its end. */
void service_engine_clear (Engine *engine);

/* service-engine.c: the store commands' work (StoreFn). */
gboolean service_store_list_conversations (Engine *engine, Command *cmd, GError **error);
gboolean service_store_search (Engine *engine, Command *cmd, GError **error);
gboolean service_store_list_messages (Engine *engine, Command *cmd, GError **error);
gboolean service_store_new_conversation (Engine *engine, Command *cmd, GError **error);
gboolean service_store_rename (Engine *engine, Command *cmd, GError **error);
gboolean service_store_set_sampling (Engine *engine, Command *cmd, GError **error);
gboolean service_store_set_system_prompt (Engine *engine, Command *cmd, GError **error);
gboolean service_store_set_max_tokens (Engine *engine, Command *cmd, GError **error);
gboolean service_store_set_snapshot_limit (Engine *engine, Command *cmd, GError **error);
gboolean service_store_trash (Engine *engine, Command *cmd, GError **error);
gboolean service_store_untrash (Engine *engine, Command *cmd, GError **error);
gboolean service_store_duplicate (Engine *engine, Command *cmd, GError **error);
gboolean service_store_add_model (Engine *engine, Command *cmd, GError **error);
gboolean service_store_list_models (Engine *engine, Command *cmd, GError **error);
gboolean service_store_remove_model (Engine *engine, Command *cmd, GError **error);
gboolean service_store_check_model (Engine *engine, Command *cmd, GError **error);

/* service.c: events from the engine thread, delivered on the owner
 * context in the order they are queued. */
void service_emit_reply_started (TernService *self, gint64 reply_id, gint64 parent_id);
void service_emit_delta (TernService *self, const char *text, gsize len);
void service_emit_finished (TernService *self, gint64 reply_id, gboolean incomplete, double tokens_per_second);
void service_emit_progress (TernService *self, const char *operation, double fraction);
void service_emit_error (TernService *self, const GError *error);
/* Publishes @state for the properties. */
void service_publish_state (TernService *self, const ServiceState *state);
/* Hands @cmd back, run: its task completes on the owner context. */
void service_complete (TernService *self, Command *cmd);
/* Marks @cmd as the one running (NULL: none), for shutdown to cancel. */
void service_set_current (TernService *self, Command *cmd);

void service_state_clear (ServiceState *state);
void service_state_copy (ServiceState *dest, const ServiceState *src);

G_END_DECLS
