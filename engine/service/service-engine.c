/* SPDX-License-Identifier: GPL-3.0-or-later */
/* TernService's engine thread: it owns the store, the model, the context
 * and the chat session on it, and runs the requests one at a time.
 * Results go back through tern_service_complete, events through service_emit_*
 * (service.c). */
#include "service-private.h"

#include <tern/error.h>
#include <tern/model-library.h>

/* ---- State and progress ---- */

/* Publishes the engine's state; whatever it does then, it no longer waits
 * for the database. */
static void
publish (Engine *e)
{
  e->state.waiting = FALSE;
  e->state.context_used = e->ctx ? tern_context_n_past (e->ctx) : 0;
  e->state.context_size = e->ctx ? tern_context_n_ctx (e->ctx) : 0;
  e->state.context_trained = e->model ? tern_model_hparams (e->model)->n_ctx_train : 0;
  e->state.conversation_id = e->conversation_id;
  /* A context moves to the CPU when its GPU fails, even mid-reply. */
  if (e->ctx != NULL)
    {
      const char *fallback = tern_context_backend_fallback (e->ctx);
      g_free (e->state.backend);
      e->state.backend = fallback != NULL
                           ? g_strdup_printf ("%s (%s)", tern_context_backend_name (e->ctx), fallback)
                           : g_strdup (tern_context_backend_name (e->ctx));
    }
  tern_service_publish_state (e->service, &e->state);
}

typedef struct {
  Engine *engine;
  TernServicePhase phase;
  gint n_total; /* PROMPT: the tokens to evaluate */
  gint64 start; /* PROMPT: when the evaluation began */
} Progress;

/* The reading of a prompt, as tokens: what the window shows on the reply. */
static void
prompt_progress (Progress *p, double fraction)
{
  gint n_read = (gint) (fraction * p->n_total + 0.5);
  gint64 elapsed = g_get_monotonic_time () - p->start;

  tern_service_emit_prompt_progress (p->engine->service, n_read, p->n_total,
                                     n_read > 0 && elapsed > 0 ? n_read * 1e6 / elapsed : 0.0);
}

static void
on_progress (double fraction, gpointer data)
{
  Progress *p = data;

  if (p->engine->state.waiting)
    publish (p->engine);
  tern_service_emit_progress (p->engine->service, p->phase, fraction);
  if (p->phase == TERN_SERVICE_PHASE_PROMPT)
    prompt_progress (p, fraction);
#ifdef TERN_SERVICE_TESTING
  TernService *self = p->engine->service;
  if (self->progress_hook != NULL)
    self->progress_hook (self, p->phase, fraction, self->progress_hook_data);
#endif
}

/* What a request needs, or an error saying what is missing. */
static gboolean
ready (Engine *e, Needs needs, GError **error)
{
  if (needs >= NEEDS_STORE && e->store == NULL)
    {
      g_propagate_error (error, g_error_copy (e->store_error));
      return FALSE;
    }
  if (needs >= NEEDS_MODEL && e->model == NULL)
    {
      g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_INVALID, "No model is loaded");
      return FALSE;
    }
  if (needs >= NEEDS_CONVERSATION && e->conversation_id == 0)
    {
      g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_INVALID, "No conversation is open");
      return FALSE;
    }
  return TRUE;
}

/* ---- Waiting for the database ---- */

/* The store waits for another program: shown as "waiting" until the engine
 * thread does something else. Once shutdown began nothing waits (and work
 * in progress, such as a reply being saved, goes on). */
static gboolean
on_store_busy (TernStore *store, gboolean first, gpointer data)
{
  Engine *e = data;

  if (first)
    {
      e->state.waiting = TRUE;
      tern_service_publish_state (e->service, &e->state);
    }
  return !g_atomic_int_get (&e->service->shutting_down);
}

/* ---- Models ---- */

/* The one place the service's settings become a context's parameters. */
static void
context_params (Engine *e, TernContextParams *params)
{
  tern_context_params_init (params);
  params->n_ctx = e->n_ctx;
  params->n_threads = e->n_threads;
  params->backend = e->backend;
}

void
tern_service_engine_unload (Engine *e)
{
  g_clear_pointer (&e->session, tern_session_free);
  g_clear_pointer (&e->ctx, tern_context_free);
  g_clear_pointer (&e->tmpl, tern_chat_template_free);
  g_clear_pointer (&e->model, tern_model_free);
  e->model_id = 0;
  e->conversation_id = 0;
  e->state.model_loaded = FALSE;
  e->state.model_id = 0;
  g_clear_pointer (&e->state.backend, g_free);
  publish (e);
}

/* Drops the session and the context (the KV cache, the large allocation),
 * closing the open conversation; the model stays. */
static void
drop_context (Engine *e)
{
  g_clear_pointer (&e->session, tern_session_free);
  g_clear_pointer (&e->ctx, tern_context_free);
  e->conversation_id = 0;
}

/* A session on e->ctx with the default sampler, replaced by the
 * conversation's when one opens. */
static void
start_session (Engine *e)
{
  TernSamplerParams sampling;

  tern_sampler_params_init (&sampling);
  e->session = tern_session_new (e->ctx, e->tmpl, &sampling);
}

gint64
tern_service_engine_load (Engine *e, const char *path, GCancellable *cancellable, GError **error)
{
  Progress progress = { e, TERN_SERVICE_PHASE_LOAD };
  TernContextParams params;
  TernModelIdentity identity;
  g_autoptr (GError) local = NULL;

  /* The new file is checked in full (header, tensor table against the
   * file's size, tokenizer, hyper-parameters, tensor shapes and a sample of
   * their values, chat template) while the working model stays loaded: the
   * file is mapped, not copied, so this costs little memory, and a file
   * that fails leaves the working model as it was. */
  g_autoptr (TernModel) model = tern_model_load (path, on_progress, &progress, cancellable, error);
  if (model == NULL || !tern_model_identity_of_gguf (tern_model_gguf (model), path, &identity, error))
    return 0;
  g_autoptr (TernChatTemplate) tmpl =
      tern_chat_template_new_from_gguf (tern_model_gguf (model), tern_model_tokenizer (model), error);
  if (tmpl == NULL)
    return 0;
  /* The last moment a stop leaves the working model as it was. */
  if (g_cancellable_is_cancelled (cancellable))
    {
      g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_CANCELLED, "%s: loading cancelled",
                   tern_gguf_name (tern_model_gguf (model)));
      return 0;
    }
  gint64 id = tern_model_library_note_loaded (e->store, path, error);
  if (id == 0)
    return 0;

  /* The old context goes before the new one is made: two KV caches may
   * not fit in memory. Its settings are kept to make it again. */
  TernContextParams old_params;
  context_params (e, &old_params);
  if (e->ctx != NULL)
    {
      old_params.n_ctx = tern_context_n_ctx (e->ctx);
      old_params.n_threads = tern_context_n_threads (e->ctx);
      old_params.backend = e->ctx_backend;
    }
  drop_context (e);
  context_params (e, &params);
  g_autoptr (TernContext) ctx = tern_context_new (model, &params, &local);
  if (ctx == NULL)
    {
      /* The previous model gets its context again, so the user can go on. */
      if (e->model != NULL)
        {
          e->ctx = tern_context_new (e->model, &old_params, NULL);
          if (e->ctx != NULL)
            start_session (e);
          else
            tern_service_engine_unload (e);
        }
      publish (e);
      g_propagate_prefixed_error (error, g_steal_pointer (&local), "%s: ", tern_gguf_name (tern_model_gguf (model)));
      return 0;
    }

  /* Replaced without a state between: the window never sees no model. */
  g_clear_pointer (&e->tmpl, tern_chat_template_free);
  g_clear_pointer (&e->model, tern_model_free);
  g_clear_pointer (&e->state.backend, g_free);
  e->identity = identity;
  e->model_id = id;
  e->ctx = g_steal_pointer (&ctx);
  g_free (e->ctx_backend);
  e->ctx_backend = g_strdup (e->backend);
  e->tmpl = g_steal_pointer (&tmpl);
  e->model = g_steal_pointer (&model);
  start_session (e);
  e->state.model_loaded = TRUE;
  e->state.model_id = id;
  publish (e);
  return id;
}

/* ---- Conversations ---- */

/* Brings the session to the end of conversation @c's branch shown and
 * makes it the open one; returns the TernResumeKind. */
static int
resume (Engine *e, const TernConversation *c, GCancellable *cancellable, GError **error)
{
  Progress progress = { e, TERN_SERVICE_PHASE_INGEST };
  TernResumeKind kind;
  g_autoptr (GPtrArray) messages = tern_store_conversation_messages (e->store, c->id, 0, error);

  if (messages == NULL)
    return -1;
  /* Closed while the context changes: a failure leaves none open. */
  e->conversation_id = 0;
  gboolean ok = tern_session_resume (e->session, e->store, c, messages, &e->identity, on_progress, &progress,
                                     cancellable, &kind, NULL, error);
  if (ok)
    {
      e->conversation_id = c->id;
      e->head_id = c->head_id;
    }
  publish (e);
  return ok ? (int) kind : -1;
}

int
tern_service_engine_open (Engine *e, gint64 conversation_id, GCancellable *cancellable, GError **error)
{
  g_autoptr (TernConversation) c = tern_store_conversation_get (e->store, conversation_id, error);
  if (c == NULL)
    return -1;
  /* The loaded model becomes the conversation's: token ids and snapshots
   * kept for another model are dropped. */
  if (c->model_id != e->model_id)
    {
      if (!tern_store_conversation_set_model (e->store, c->id, e->model_id, error))
        return -1;
      c->model_id = e->model_id;
    }
  return resume (e, c, cancellable, error);
}

int
tern_service_engine_switch_branch (Engine *e, gint64 message_id, gint offset, GCancellable *cancellable, GError **error)
{
  g_autoptr (TernMessage) m = tern_store_message_get (e->store, message_id, error);
  if (m == NULL)
    return -1;
  g_autoptr (GPtrArray) siblings = tern_store_message_children (e->store, e->conversation_id, m->parent_id, error);
  if (siblings == NULL)
    return -1;
  guint i = 0;
  while (i < siblings->len && ((TernMessage *) siblings->pdata[i])->id != m->id)
    i++;
  if (i == siblings->len || (gint64) i + offset < 0 || (gint64) i + offset >= siblings->len)
    {
      g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_INVALID,
                   "Message %" G_GINT64_FORMAT " of the open conversation has no branch %+d", message_id, offset);
      return -1;
    }
  const TernMessage *target = siblings->pdata[i + offset];
  gint64 leaf = tern_store_branch_leaf (e->store, e->conversation_id, target->id, error);
  if (leaf == 0 || !tern_store_conversation_set_head (e->store, e->conversation_id, leaf, error))
    return -1;
  g_autoptr (TernConversation) c = tern_store_conversation_get (e->store, e->conversation_id, error);
  return c ? resume (e, c, cancellable, error) : -1;
}

void
tern_service_engine_forget_conversation (Engine *e, gint64 conversation_id)
{
  if (e->conversation_id != conversation_id)
    return;
  e->conversation_id = 0;
  publish (e);
}

gint64
tern_service_engine_save_snapshot (Engine *e, GError **error)
{
  g_autoptr (TernConversation) c = tern_store_conversation_get (e->store, e->conversation_id, error);
  if (c == NULL)
    return -1;
  return tern_session_save_snapshot (e->session, e->store, c->id, c->head_id, &e->identity, error);
}

/* ---- Replies ---- */

static void
set_generating (Engine *e, gboolean generating)
{
  e->state.generating = generating;
  publish (e);
}

/* A reply streaming, for the session's callbacks. */
typedef struct {
  Engine *engine;
  Job *job;
  guint n_tokens; /* of the reply so far */
} Streaming;

static gboolean
stop_requested (Streaming *st)
{
  return g_atomic_int_get (&st->engine->service->stop_serial) >= st->job->serial ||
         g_cancellable_is_cancelled (st->job->cancellable);
}

/* A reply begun is never stopped before its first token: a stop that came
 * before it began stores nothing (reply), and one after stores a reply
 * with something in it, never an empty one. */
static gboolean
stream_stopped (gpointer data)
{
  Streaming *st = data;

  return st->n_tokens > 0 && stop_requested (st);
}

static void
stream_text (const char *text, gsize len, guint n_tokens, gpointer data)
{
  Streaming *st = data;

  g_atomic_int_set (&st->engine->service->reply_n_tokens, n_tokens);
  tern_service_emit_delta (st->engine->service, text, len);
}

static void
stream_token (guint n_tokens, gpointer data)
{
  Streaming *st = data;

  st->n_tokens = n_tokens;
  publish (st->engine);
#ifdef TERN_SERVICE_TESTING
  TernService *self = st->engine->service;
  if (self->token_hook != NULL)
    self->token_hook (self, n_tokens, self->token_hook_data);
#endif
}

/* Generates the reply after message @parent_id of the open conversation,
 * provided its head is still @head_id, streaming and checkpointing it, then
 * stores it and its snapshot. On failure the reply keeps its last
 * checkpoint, flagged incomplete. */
static gint64
reply (Engine *e, Job *job, gint64 head_id, gint64 parent_id, gint max_tokens, GError **error)
{
  TernService *self = e->service;
  g_autoptr (GString) text = g_string_new (NULL);
  g_autoptr (GArray) tokens = g_array_new (FALSE, FALSE, sizeof (TernToken));
  g_autoptr (GError) snapshot_error = NULL;
  Streaming streaming = { e, job, 0 };
  gboolean ended;

  /* Stopped as the prompt's last chunk was read: no reply, nothing stored. */
  if (stop_requested (&streaming))
    {
      g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_CANCELLED, "The reply was stopped before it began");
      return 0;
    }
  g_autoptr (TernReply) checkpoint =
      tern_store_reply_begin_if_head (e->store, e->conversation_id, head_id, parent_id, error);
  if (checkpoint == NULL)
    return 0;
  gint64 id = tern_reply_id (checkpoint);
  e->head_id = id;
  /* Stop ends the generating, not the saving of what was generated: from
   * here the store waits for the database until the reply is stored (or
   * shutdown begins). */
  tern_store_set_cancellable (e->store, NULL);
  g_atomic_int_set (&self->reply_n_tokens, 0);
  tern_service_emit_reply_started (self, id, parent_id);
  set_generating (e, TRUE);

  TernSessionStream stream = {
    .max_tokens = MAX (max_tokens, 0),
    .reply = checkpoint,
    .stopped = stream_stopped,
    .text = stream_text,
    .token = stream_token,
    .user_data = &streaming,
  };
  gint64 start = g_get_monotonic_time ();
  gboolean ok = tern_session_stream (e->session, &stream, text, tokens, &ended, error);
  gint64 elapsed = g_get_monotonic_time () - start;
  if (ok)
    ok = tern_session_finish_reply (e->session, checkpoint, text->str, tokens, error);
  set_generating (e, FALSE);
  if (!ok)
    return 0;
  /* The state after the reply, so the conversation resumes at once; the
   * reply itself is safe without it. */
  if (tern_session_save_snapshot (e->session, e->store, e->conversation_id, id, &e->identity, &snapshot_error) < 0)
    tern_service_emit_error (self, snapshot_error);
  tern_service_emit_finished (self, id, !ended, elapsed > 0 ? tokens->len * 1e6 / elapsed : 0.0);
  return id;
}

/* Brings the context to the prompt for a reply after @messages (the
 * conversation @c's branch up to the message to answer), fitted to the
 * context. */
static gboolean
fit_prompt (Engine *e, const TernConversation *c, GPtrArray *messages, GCancellable *cancellable, GArray *tokens,
            GError **error)
{
  g_autoptr (GArray) chat = g_array_sized_new (FALSE, FALSE, sizeof (TernChatMessage), messages->len);
  g_autofree char *note = NULL;

  for (guint i = 0; i < messages->len; i++)
    {
      const TernMessage *m = messages->pdata[i];
      TernChatMessage cm = { tern_role_name (m->role), m->content };
      g_array_append_val (chat, cm);
    }
  if (!tern_session_fit (e->session, c->system_prompt, (TernChatMessage *) chat->data, chat->len, cancellable, NULL, tokens, &note,
                         error))
    return FALSE;
  if (note)
    tern_service_emit_notice (e->service, note);
  return TRUE;
}

/* Evaluates the prompt @tokens, then streams the reply after @parent_id
 * (while the head is @head_id). */
static gint64
answer (Engine *e, Job *job, const TernConversation *c, GArray *tokens, gint64 head_id, gint64 parent_id,
        gint max_tokens, GError **error)
{
  gint32 n = (gint32) tokens->len;
  gint32 n_reused = tern_session_prompt_reuse (e->session, (TernToken *) tokens->data, n);
  Progress progress = { e, TERN_SERVICE_PHASE_PROMPT, n - n_reused, g_get_monotonic_time () };

  tern_session_set_sampling (e->session, &c->sampling);
  prompt_progress (&progress, 0.0);
  gboolean ok = tern_session_feed_prompt (e->session, (TernToken *) tokens->data, (gint32) tokens->len, on_progress,
                                          &progress, job->cancellable, NULL, error);
  publish (e);
  return ok ? reply (e, job, head_id, parent_id, max_tokens, error) : 0;
}

gint64
tern_service_engine_regenerate (Engine *e, Job *job, gint max_tokens, GError **error)
{
  g_autoptr (GArray) tokens = g_array_new (FALSE, FALSE, sizeof (TernToken));
  g_autoptr (TernConversation) c = tern_store_conversation_get (e->store, e->conversation_id, error);
  if (c == NULL)
    return 0;
  g_autoptr (GPtrArray) messages = tern_store_conversation_messages (e->store, c->id, 0, error);
  if (messages == NULL)
    return 0;

  /* Answer the last user message again, beside its reply. */
  guint n = messages->len;
  while (n > 0 && ((TernMessage *) messages->pdata[n - 1])->role != TERN_ROLE_USER)
    n--;
  if (n == 0)
    {
      g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_INVALID, "There is no message to answer again");
      return 0;
    }
  g_ptr_array_set_size (messages, n);
  gint64 parent_id = ((TernMessage *) messages->pdata[n - 1])->id;
  if (!fit_prompt (e, c, messages, job->cancellable, tokens, error))
    return 0;
  return answer (e, job, c, tokens, e->head_id, parent_id, max_tokens, error);
}

gint64
tern_service_engine_send (Engine *e, Job *job, gint64 edited_id, const char *text, gint max_tokens, GError **error)
{
  g_autoptr (GArray) tokens = g_array_new (FALSE, FALSE, sizeof (TernToken));
  gint64 add_after = TERN_STORE_HEAD;

  g_autoptr (TernConversation) c = tern_store_conversation_get (e->store, e->conversation_id, error);
  if (c == NULL)
    return 0;
  g_autoptr (GPtrArray) messages = tern_store_conversation_messages (e->store, c->id, 0, error);
  if (messages == NULL)
    return 0;

  /* An edit is a new user message beside the one edited: the branch is
   * cut before it. */
  if (edited_id != 0)
    {
      g_autoptr (TernMessage) edited = tern_store_message_get (e->store, edited_id, error);
      if (edited == NULL)
        return 0;
      if (edited->conversation_id != c->id || edited->role != TERN_ROLE_USER)
        {
          g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_INVALID,
                       "Message %" G_GINT64_FORMAT " is not a user message of the open conversation", edited_id);
          return 0;
        }
      guint n = 0;
      while (n < messages->len && ((TernMessage *) messages->pdata[n])->id != edited->id)
        n++;
      g_ptr_array_set_size (messages, n);
      add_after = edited->parent_id;
    }
  if (!g_utf8_validate (text, -1, NULL))
    {
      g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_INVALID, "The message is not UTF-8 text");
      return 0;
    }
  /* The prompt is made before the message is stored, so a message too
   * long for the context leaves the conversation as it was. */
  TernMessage *m = g_new0 (TernMessage, 1);
  m->role = TERN_ROLE_USER;
  m->content = g_strdup (text);
  g_ptr_array_add (messages, m);
  if (!fit_prompt (e, c, messages, job->cancellable, tokens, error))
    return 0;
  /* Only while the conversation is as the engine last saw it: another
   * program that wrote to it since makes this fail with CONFLICT, storing
   * nothing. */
  gint64 parent_id = tern_store_message_add_if_head (e->store, c->id, e->head_id, add_after, TERN_ROLE_USER, text,
                                                     NULL, 0, NULL, error);
  if (parent_id == 0)
    return 0;
  e->head_id = parent_id;
  return answer (e, job, c, tokens, parent_id, parent_id, max_tokens, error);
}

/* ---- The thread ---- */

/* A model whose file shrank on disk computes nothing more (every pass
 * fails, tern_gguf_check_intact): it is unloaded, and the owner told. */
static void
drop_damaged_model (Engine *e)
{
  g_autoptr (GError) error = NULL;

  if (e->model == NULL || tern_gguf_check_intact (tern_model_gguf (e->model), &error))
    return;
  gint64 id = e->model_id;
  tern_service_engine_unload (e);
  tern_service_emit_model_damaged (e->service, id, error);
}

static void
run (Engine *e, Job *job)
{
  const RequestType *type = job->type;

  /* Work that computes is not started once shutdown began. */
  if (type->computes && g_atomic_int_get (&e->service->shutting_down))
    {
      g_set_error (&job->error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_CANCELLED, "The engine is shutting down");
      return;
    }
  gboolean ok = ready (e, type->needs, &job->error) && type->run (e, job, job->data, &job->error);
  g_assert (ok == (job->error == NULL));
  drop_damaged_model (e);
}

gpointer
tern_service_engine_main (gpointer data)
{
  Engine *e = data;
  TernService *self = e->service;

  e->store = e->read_only ? tern_store_open_read_only (e->db_path, &e->store_error)
                          : tern_store_open (e->db_path, &e->store_error);
  if (e->store == NULL)
    tern_service_emit_error (self, e->store_error);
  else
    tern_store_set_busy_func (e->store, on_store_busy, e);

  for (;;)
    {
      Job *job = g_async_queue_pop (self->inbox);
      if (job->type == NULL)
        break;
      tern_service_set_current (self, job);
      if (e->store)
        tern_store_set_cancellable (e->store, job->cancellable);
      run (e, job);
      if (e->store)
        tern_store_set_cancellable (e->store, NULL);
      tern_service_set_current (self, NULL);
      if (e->state.waiting)
        publish (e);
      tern_service_complete (self, job);
    }

  g_clear_pointer (&e->session, tern_session_free);
  g_clear_pointer (&e->ctx, tern_context_free);
  g_clear_pointer (&e->tmpl, tern_chat_template_free);
  g_clear_pointer (&e->model, tern_model_free);
  g_clear_pointer (&e->store, tern_store_free);
  g_clear_error (&e->store_error);
  tern_service_state_clear (&e->state);
  return NULL;
}
