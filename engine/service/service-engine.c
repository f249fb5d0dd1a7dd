/* SPDX-License-Identifier: GPL-3.0-or-later */
/* TernService's engine thread: it owns the store, the model, the context,
 * the chat template and the sampler, and runs the commands one at a time.
 * Results go back through service_complete, events through service_emit_*
 * (service.c). */
#include "service-private.h"

#include <tern/error.h>

/* ---- Preconditions ---- */

static gboolean
need_store (Engine *e, GError **error)
{
  if (e->store)
    return TRUE;
  g_propagate_error (error, g_error_copy (e->store_error));
  return FALSE;
}

static gboolean
need_model (Engine *e, GError **error)
{
  if (!need_store (e, error))
    return FALSE;
  if (e->model)
    return TRUE;
  g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_INVALID, "No model is loaded");
  return FALSE;
}

static gboolean
need_conversation (Engine *e, GError **error)
{
  if (!need_model (e, error))
    return FALSE;
  if (e->conversation_id)
    return TRUE;
  g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_INVALID, "No conversation is open");
  return FALSE;
}

/* ---- State and progress ---- */

static void
publish (Engine *e)
{
  e->state.context_used = e->ctx ? tern_context_n_past (e->ctx) : 0;
  e->state.context_size = e->ctx ? tern_context_n_ctx (e->ctx) : 0;
  e->state.conversation_id = e->conversation_id;
  service_publish_state (e->service, &e->state);
}

typedef struct {
  Engine *engine;
  const char *operation;
} Progress;

static void
on_progress (double fraction, gpointer data)
{
  Progress *p = data;

  service_emit_progress (p->engine->service, p->operation, fraction);
}

static void
set_result_int64 (Command *cmd, gint64 v)
{
  g_value_init (&cmd->result, G_TYPE_INT64);
  g_value_set_int64 (&cmd->result, v);
}

static void
set_result_int (Command *cmd, int v)
{
  g_value_init (&cmd->result, G_TYPE_INT);
  g_value_set_int (&cmd->result, v);
}

static void
set_result_boolean (Command *cmd)
{
  g_value_init (&cmd->result, G_TYPE_BOOLEAN);
  g_value_set_boolean (&cmd->result, TRUE);
}

static void
set_result_array (Command *cmd, GPtrArray *array)
{
  g_value_init (&cmd->result, G_TYPE_PTR_ARRAY);
  g_value_take_boxed (&cmd->result, array);
}

/* ---- Models ---- */

static void
unload (Engine *e)
{
  g_clear_pointer (&e->sampler, tern_sampler_free);
  g_clear_pointer (&e->ctx, tern_context_free);
  g_clear_pointer (&e->tmpl, tern_chat_template_free);
  g_clear_pointer (&e->model, tern_model_free);
  e->model_id = 0;
  e->conversation_id = 0;
  e->state.model_loaded = FALSE;
  e->state.model_id = 0;
  g_clear_pointer (&e->state.backend, g_free);
}

static gboolean
run_load (Engine *e, Command *cmd, GError **error)
{
  Progress progress = { e, "load" };
  TernContextParams params;
  TernModelIdentity identity;

  if (!need_store (e, error))
    return FALSE;
  /* Free the old model first: two may not fit in memory. */
  unload (e);
  publish (e);

  g_autoptr (TernModel) model = tern_model_load (cmd->text, on_progress, &progress, cmd->cancellable, error);
  if (model == NULL || !tern_model_identity_of_gguf (tern_model_gguf (model), cmd->text, &identity, error))
    return FALSE;
  g_autoptr (TernChatTemplate) tmpl = tern_chat_template_new_from_gguf (tern_model_gguf (model), tern_model_tokenizer (model), error);
  if (tmpl == NULL)
    return FALSE;
  tern_context_params_init (&params);
  params.n_ctx = e->n_ctx;
  params.n_threads = e->n_threads;
  g_autoptr (TernContext) ctx = tern_context_new (model, &params, error);
  if (ctx == NULL)
    return FALSE;
  gint64 id = tern_store_model_add (e->store, cmd->text, error);
  if (id == 0)
    return FALSE;

  const TernTokenizer *tok = tern_model_tokenizer (model);
  e->n_keep = tern_tokenizer_add_bos (tok) && tern_tokenizer_bos (tok) >= 0 ? 1 : 0;
  e->identity = identity;
  e->model_id = id;
  e->ctx = g_steal_pointer (&ctx);
  e->tmpl = g_steal_pointer (&tmpl);
  e->model = g_steal_pointer (&model);
  e->state.model_loaded = TRUE;
  e->state.model_id = id;
  e->state.backend = g_strdup (tern_context_backend_name (e->ctx));
  publish (e);
  set_result_int64 (cmd, id);
  return TRUE;
}

static gboolean
run_unload (Engine *e, Command *cmd, GError **error)
{
  unload (e);
  publish (e);
  set_result_boolean (cmd);
  return TRUE;
}

/* ---- Conversations ---- */

static gboolean resume (Engine *e, Command *cmd, const TernConversation *c, GError **error);

static gboolean
run_open (Engine *e, Command *cmd, GError **error)
{
  if (!need_model (e, error))
    return FALSE;
  g_autoptr (TernConversation) c = tern_store_conversation_get (e->store, cmd->id, error);
  if (c == NULL)
    return FALSE;
  /* The loaded model becomes the conversation's: token ids and snapshots
   * kept for another model are dropped. */
  if (c->model_id != e->model_id)
    {
      if (!tern_store_conversation_set_model (e->store, c->id, e->model_id, error))
        return FALSE;
      c->model_id = e->model_id;
    }
  return resume (e, cmd, c, error);
}

/* Brings the context to the end of conversation @c's branch shown and
 * makes it the open one; the result is the TernResumeKind. */
static gboolean
resume (Engine *e, Command *cmd, const TernConversation *c, GError **error)
{
  Progress progress = { e, "ingest" };
  TernResumeKind kind;
  g_autoptr (GPtrArray) messages = tern_store_conversation_messages (e->store, c->id, 0, error);

  if (messages == NULL)
    return FALSE;
  /* Closed while the context changes: a failure leaves none open. */
  e->conversation_id = 0;
  TernSampler *sampler = tern_chat_resume (e->store, c, messages, e->ctx, &e->identity, e->tmpl, on_progress,
                                           &progress, cmd->cancellable, &kind, NULL, error);
  if (sampler == NULL)
    {
      tern_context_truncate (e->ctx, 0);
      publish (e);
      return FALSE;
    }
  g_clear_pointer (&e->sampler, tern_sampler_free);
  e->sampler = sampler;
  e->conversation_id = c->id;
  publish (e);
  set_result_int (cmd, kind);
  return TRUE;
}

/* Shows the branch @cmd->offset places beside message @cmd->id of the
 * open conversation (its newest continuation), and brings the context
 * there. */
static gboolean
run_switch_branch (Engine *e, Command *cmd, GError **error)
{
  if (!need_conversation (e, error))
    return FALSE;
  g_autoptr (TernMessage) m = tern_store_message_get (e->store, cmd->id, error);
  if (m == NULL)
    return FALSE;
  g_autoptr (GPtrArray) siblings = tern_store_message_children (e->store, e->conversation_id, m->parent_id, error);
  if (siblings == NULL)
    return FALSE;
  guint i = 0;
  while (i < siblings->len && ((TernMessage *) siblings->pdata[i])->id != m->id)
    i++;
  if (i == siblings->len || (gint64) i + cmd->offset < 0 || (gint64) i + cmd->offset >= siblings->len)
    {
      g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_INVALID,
                   "Message %" G_GINT64_FORMAT " of the open conversation has no branch %+" G_GINT64_FORMAT, cmd->id,
                   cmd->offset);
      return FALSE;
    }
  const TernMessage *target = siblings->pdata[i + cmd->offset];
  gint64 leaf = tern_store_branch_leaf (e->store, e->conversation_id, target->id, error);
  if (leaf == 0 || !tern_store_conversation_set_head (e->store, e->conversation_id, leaf, error))
    return FALSE;
  g_autoptr (TernConversation) c = tern_store_conversation_get (e->store, e->conversation_id, error);
  return c != NULL && resume (e, cmd, c, error);
}

/* The tokens of the prompt for a reply after @messages (a branch ending
 * with a user message): the system prompt and the messages rendered with
 * the start of the assistant's turn. When they would leave less than a
 * quarter of the context for the reply, the oldest exchanges are left
 * out; when the last message alone is too long, an INVALID error. */
static gboolean
prompt_tokens (Engine *e, const TernConversation *c, GPtrArray *messages, GArray *tokens, GError **error)
{
  const TernTokenizer *tok = tern_model_tokenizer (e->model);
  gint32 n_ctx = tern_context_n_ctx (e->ctx);
  g_autoptr (GArray) chat = g_array_new (FALSE, FALSE, sizeof (TernChatMessage));
  guint first = 0;

  for (;;)
    {
      g_array_set_size (chat, 0);
      if (c->system_prompt[0] != '\0')
        {
          TernChatMessage cm = { "system", c->system_prompt };
          g_array_append_val (chat, cm);
        }
      for (guint i = first; i < messages->len; i++)
        {
          const TernMessage *m = messages->pdata[i];
          TernChatMessage cm = { tern_role_name (m->role), m->content };
          g_array_append_val (chat, cm);
        }
      g_autoptr (TernChatPrompt) prompt =
          tern_chat_template_render (e->tmpl, (TernChatMessage *) chat->data, chat->len, NULL, error);
      g_array_set_size (tokens, 0);
      if (prompt == NULL || !tern_chat_prompt_tokenize (prompt, tok, TRUE, tokens, error))
        return FALSE;
      if ((gint32) tokens->len <= n_ctx - n_ctx / 4)
        return TRUE;
      if (first + 2 >= messages->len)
        {
          g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_INVALID,
                       "The message is %u tokens with the chat template, too long for the context (%d tokens)",
                       tokens->len, n_ctx);
          return FALSE;
        }
      /* A user message and its reply, so the rest still alternates. */
      first += 2;
    }
}

/* Evaluates @n tokens after those in the context, shifting old tokens
 * out first when they would not fit, and puts them in the sampler's
 * penalty window. */
static gboolean
feed (Engine *e, const TernToken *tokens, gint32 n, Progress *progress, GCancellable *cancellable, GError **error)
{
  gint32 n_ctx = tern_context_n_ctx (e->ctx);

  /* A shift drops half the tokens after the kept ones; when too few are
   * left to halve, all of them go. */
  while (tern_context_n_past (e->ctx) + n > n_ctx)
    if (tern_context_shift (e->ctx, e->n_keep) == 0)
      tern_context_truncate (e->ctx, e->n_keep);
  if (!tern_context_decode (e->ctx, tokens, n, FALSE, progress ? on_progress : NULL, progress, cancellable, error))
    return FALSE;
  for (gint32 i = 0; i < n; i++)
    tern_sampler_accept (e->sampler, tokens[i]);
  return TRUE;
}

/* Evaluates what the context lacks of @tokens: those after the longest
 * prefix it already holds (the conversation so far, usually). */
static gboolean
feed_prompt (Engine *e, GArray *tokens, GCancellable *cancellable, GError **error)
{
  Progress progress = { e, "prompt" };
  gint32 n_cached, common = 0;
  const TernToken *cached = tern_context_tokens (e->ctx, &n_cached);
  const TernToken *want = (const TernToken *) tokens->data;

  while (common < n_cached && common < (gint32) tokens->len && cached[common] == want[common])
    common++;
  /* The last token is evaluated again when all are there: its logits are
   * what the reply starts from. */
  if (common == (gint32) tokens->len)
    common--;
  tern_context_truncate (e->ctx, common);
  return feed (e, want + common, (gint32) tokens->len - common, &progress, cancellable, error);
}

static gboolean
same_sampling (const TernSamplerParams *a, const TernSamplerParams *b)
{
  /* A random seed was resolved when the sampler was made. */
  gboolean same_seed = b->seed == TERN_SAMPLER_SEED_RANDOM || a->seed == b->seed;

  return same_seed && a->temperature == b->temperature && a->top_k == b->top_k && a->top_p == b->top_p &&
         a->min_p == b->min_p && a->repeat_penalty == b->repeat_penalty && a->repeat_last_n == b->repeat_last_n &&
         a->frequency_penalty == b->frequency_penalty && a->presence_penalty == b->presence_penalty;
}

/* A reply's sampler carries on from the last one unless the
 * conversation's settings changed: then a new one, which has seen the
 * context's tokens. */
static void
update_sampler (Engine *e, const TernConversation *c)
{
  gint32 n;
  const TernToken *tokens;

  if (same_sampling (tern_sampler_get_params (e->sampler), &c->sampling))
    return;
  g_clear_pointer (&e->sampler, tern_sampler_free);
  e->sampler = tern_sampler_new (&c->sampling, tern_tokenizer_n_vocab (tern_model_tokenizer (e->model)));
  tokens = tern_context_tokens (e->ctx, &n);
  for (gint32 i = 0; i < n; i++)
    tern_sampler_accept (e->sampler, tokens[i]);
}

static gboolean
stopped (Engine *e, Command *cmd)
{
  return g_atomic_int_get (&e->service->stop_serial) >= cmd->serial || g_cancellable_is_cancelled (cmd->cancellable);
}

static void
set_generating (Engine *e, gboolean generating)
{
  e->state.generating = generating;
  publish (e);
}

/* Streams the tokens of @reply into @text and @tokens until an
 * end-of-generation token (*@ended), the token limit or a stop,
 * checkpointing it as it goes. */
static gboolean
stream (Engine *e, Command *cmd, TernReply *reply, GString *text, GArray *tokens, gboolean *ended, GError **error)
{
  TernService *self = e->service;
  const TernTokenizer *tok = tern_model_tokenizer (e->model);
  gint max_tokens = cmd->max_tokens > 0 ? cmd->max_tokens : tern_context_n_ctx (e->ctx);
  g_autoptr (TernDetokenizer) detok = tern_detokenizer_new (tok, FALSE);
  gsize before;

  *ended = FALSE;
  while ((gint) tokens->len < max_tokens && !stopped (e, cmd))
    {
      TernToken t = tern_sampler_sample (e->sampler, tern_context_last_logits (e->ctx));
      if (tern_tokenizer_is_eog (tok, t))
        {
          *ended = TRUE;
          break;
        }
      before = text->len;
      if (!feed (e, &t, 1, NULL, NULL, error) || !tern_detokenizer_push (detok, t, text, error))
        return FALSE;
      g_array_append_val (tokens, t);
      g_atomic_int_set (&self->reply_n_tokens, tokens->len);
      service_emit_delta (self, text->str + before, text->len - before);
      if (!tern_reply_update (reply, text->str, (TernToken *) tokens->data, (gint32) tokens->len, error))
        return FALSE;
      publish (e);
#ifdef TERN_SERVICE_TESTING
      if (self->token_hook != NULL)
        self->token_hook (self, tokens->len, self->token_hook_data);
#endif
    }
  before = text->len;
  tern_detokenizer_flush (detok, text);
  service_emit_delta (self, text->str + before, text->len - before);
  return TRUE;
}

/* Generates the reply after message @parent_id, streaming and
 * checkpointing it, then stores it and its snapshot. On failure the reply
 * keeps its last checkpoint, flagged incomplete. */
static gboolean
generate (Engine *e, Command *cmd, gint64 parent_id, gint64 *reply_id, GError **error)
{
  TernService *self = e->service;
  g_autoptr (GString) text = g_string_new (NULL);
  g_autoptr (GArray) tokens = g_array_new (FALSE, FALSE, sizeof (TernToken)); /* the reply's */
  g_autoptr (GByteArray) state = g_byte_array_new ();
  g_autoptr (GError) snapshot_error = NULL;
  gboolean ended;

  g_autoptr (TernReply) reply = tern_store_reply_begin (e->store, e->conversation_id, parent_id, error);
  if (reply == NULL)
    return FALSE;
  *reply_id = tern_reply_id (reply);
  g_atomic_int_set (&self->reply_n_tokens, 0);
  service_emit_reply_started (self, *reply_id, parent_id);
  set_generating (e, TRUE);

  gint64 start = g_get_monotonic_time ();
  gboolean ok = stream (e, cmd, reply, text, tokens, &ended, error);
  gint64 elapsed = g_get_monotonic_time () - start;
  if (ok)
    {
      tern_sampler_save (e->sampler, state);
      g_autoptr (GBytes) sampler_state = g_bytes_new (state->data, state->len);
      ok = tern_reply_finish (reply, text->str, (TernToken *) tokens->data, (gint32) tokens->len, sampler_state,
                              error);
    }
  set_generating (e, FALSE);
  if (!ok)
    return FALSE;
  /* The state after the reply, so the conversation resumes at once; the
   * reply itself is safe without it. */
  if (tern_snapshot_save_to_store (e->store, e->conversation_id, *reply_id, e->ctx, e->sampler, &e->identity,
                                &snapshot_error) < 0)
    service_emit_error (self, snapshot_error);
  service_emit_finished (self, *reply_id, !ended, elapsed > 0 ? tokens->len * 1e6 / elapsed : 0.0);
  return TRUE;
}

static gboolean
run_generate (Engine *e, Command *cmd, GError **error)
{
  gint64 parent_id, reply_id;
  g_autoptr (GArray) tokens = g_array_new (FALSE, FALSE, sizeof (TernToken));

  if (!need_conversation (e, error))
    return FALSE;
  g_autoptr (TernConversation) c = tern_store_conversation_get (e->store, e->conversation_id, error);
  if (c == NULL)
    return FALSE;
  g_autoptr (GPtrArray) messages = tern_store_conversation_messages (e->store, c->id, 0, error);
  if (messages == NULL)
    return FALSE;

  if (cmd->kind == COMMAND_REGENERATE)
    {
      /* Answer the last user message again, beside its reply. */
      guint n = messages->len;
      while (n > 0 && ((TernMessage *) messages->pdata[n - 1])->role != TERN_ROLE_USER)
        n--;
      if (n == 0)
        {
          g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_INVALID, "There is no message to answer again");
          return FALSE;
        }
      g_ptr_array_set_size (messages, n);
      parent_id = ((TernMessage *) messages->pdata[n - 1])->id;
      if (!prompt_tokens (e, c, messages, tokens, error))
        return FALSE;
    }
  else
    {
      /* An edit is a new user message beside the one edited: the branch
       * is cut before it. */
      gint64 add_after = TERN_STORE_HEAD;
      if (cmd->kind == COMMAND_EDIT)
        {
          g_autoptr (TernMessage) edited = tern_store_message_get (e->store, cmd->id, error);
          if (edited == NULL)
            return FALSE;
          if (edited->conversation_id != c->id || edited->role != TERN_ROLE_USER)
            {
              g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_INVALID,
                           "Message %" G_GINT64_FORMAT " is not a user message of the open conversation", cmd->id);
              return FALSE;
            }
          guint n = 0;
          while (n < messages->len && ((TernMessage *) messages->pdata[n])->id != edited->id)
            n++;
          g_ptr_array_set_size (messages, n);
          add_after = edited->parent_id;
        }
      /* The prompt is checked before the message is stored, so a message
       * too long for the context leaves the conversation as it was. */
      TernMessage *m = g_new0 (TernMessage, 1);
      m->role = TERN_ROLE_USER;
      m->content = g_strdup (cmd->text);
      g_ptr_array_add (messages, m);
      if (!g_utf8_validate (cmd->text, -1, NULL))
        {
          g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_INVALID, "The message is not UTF-8 text");
          return FALSE;
        }
      if (!prompt_tokens (e, c, messages, tokens, error))
        return FALSE;
      parent_id = tern_store_message_add (e->store, c->id, add_after, TERN_ROLE_USER, cmd->text, NULL, 0, NULL, error);
      if (parent_id == 0)
        return FALSE;
    }

  update_sampler (e, c);
  if (!feed_prompt (e, tokens, cmd->cancellable, error))
    {
      publish (e);
      return FALSE;
    }
  publish (e);
  if (!generate (e, cmd, parent_id, &reply_id, error))
    return FALSE;
  set_result_int64 (cmd, reply_id);
  return TRUE;
}

static gboolean
run_snapshot (Engine *e, Command *cmd, GError **error)
{
  if (!need_conversation (e, error))
    return FALSE;
  g_autoptr (TernConversation) c = tern_store_conversation_get (e->store, e->conversation_id, error);
  if (c == NULL)
    return FALSE;
  gint64 id = tern_snapshot_save_to_store (e->store, c->id, c->head_id, e->ctx, e->sampler, &e->identity, error);
  if (id < 0)
    return FALSE;
  set_result_int64 (cmd, id);
  return TRUE;
}

/* ---- Store queries and updates ---- */

gboolean
service_store_list_conversations (Engine *e, Command *cmd, GError **error)
{
  GPtrArray *list = tern_store_conversation_list (e->store, cmd->flag, cmd->offset, cmd->limit, error);

  if (list == NULL)
    return FALSE;
  set_result_array (cmd, list);
  return TRUE;
}

gboolean
service_store_search (Engine *e, Command *cmd, GError **error)
{
  GPtrArray *hits = tern_store_search (e->store, cmd->text, cmd->text2, cmd->text3, 0, cmd->limit, error);

  if (hits == NULL)
    return FALSE;
  set_result_array (cmd, hits);
  return TRUE;
}

gboolean
service_store_list_messages (Engine *e, Command *cmd, GError **error)
{
  GPtrArray *messages = tern_store_conversation_messages (e->store, cmd->id, 0, error);

  if (messages == NULL)
    return FALSE;
  set_result_array (cmd, messages);
  return TRUE;
}

gboolean
service_store_new_conversation (Engine *e, Command *cmd, GError **error)
{
  gint64 id = tern_store_conversation_new (e->store, cmd->text, e->model_id, cmd->text2,
                                           cmd->has_sampling ? &cmd->sampling : NULL, error);

  if (id == 0)
    return FALSE;
  set_result_int64 (cmd, id);
  return TRUE;
}

gboolean
service_store_rename (Engine *e, Command *cmd, GError **error)
{
  if (!tern_store_conversation_rename (e->store, cmd->id, cmd->text, error))
    return FALSE;
  set_result_boolean (cmd);
  return TRUE;
}

gboolean
service_store_set_sampling (Engine *e, Command *cmd, GError **error)
{
  if (!tern_sampler_params_validate (&cmd->sampling, error) ||
      !tern_store_conversation_set_sampling (e->store, cmd->id, &cmd->sampling, error))
    return FALSE;
  set_result_boolean (cmd);
  return TRUE;
}

gboolean
service_store_set_system_prompt (Engine *e, Command *cmd, GError **error)
{
  if (!tern_store_conversation_set_system_prompt (e->store, cmd->id, cmd->text, error))
    return FALSE;
  set_result_boolean (cmd);
  return TRUE;
}

gboolean
service_store_set_max_tokens (Engine *e, Command *cmd, GError **error)
{
  if (!tern_store_conversation_set_max_tokens (e->store, cmd->id, cmd->max_tokens, error))
    return FALSE;
  set_result_boolean (cmd);
  return TRUE;
}

gboolean
service_store_set_snapshot_limit (Engine *e, Command *cmd, GError **error)
{
  if (!tern_store_set_snapshot_limit (e->store, cmd->offset, error))
    return FALSE;
  set_result_boolean (cmd);
  return TRUE;
}

gboolean
service_store_trash (Engine *e, Command *cmd, GError **error)
{
  if (!tern_store_conversation_trash (e->store, cmd->id, error))
    return FALSE;
  if (e->conversation_id == cmd->id)
    {
      e->conversation_id = 0;
      publish (e);
    }
  set_result_boolean (cmd);
  return TRUE;
}

gboolean
service_store_untrash (Engine *e, Command *cmd, GError **error)
{
  if (!tern_store_conversation_untrash (e->store, cmd->id, error))
    return FALSE;
  set_result_boolean (cmd);
  return TRUE;
}

gboolean
service_store_duplicate (Engine *e, Command *cmd, GError **error)
{
  gint64 id = tern_store_conversation_duplicate (e->store, cmd->id, error);

  if (id == 0)
    return FALSE;
  set_result_int64 (cmd, id);
  return TRUE;
}

gboolean
service_store_add_model (Engine *e, Command *cmd, GError **error)
{
  gint64 id = tern_store_model_add (e->store, cmd->text, error);

  if (id == 0)
    return FALSE;
  set_result_int64 (cmd, id);
  return TRUE;
}

gboolean
service_store_list_models (Engine *e, Command *cmd, GError **error)
{
  GPtrArray *models = tern_store_model_list (e->store, error);

  if (models == NULL)
    return FALSE;
  set_result_array (cmd, models);
  return TRUE;
}

gboolean
service_store_remove_model (Engine *e, Command *cmd, GError **error)
{
  if (!tern_store_model_remove (e->store, cmd->id, error))
    return FALSE;
  set_result_boolean (cmd);
  return TRUE;
}

gboolean
service_store_check_model (Engine *e, Command *cmd, GError **error)
{
  TernModelStatus status;

  if (!tern_store_model_check (e->store, cmd->id, &status, error))
    return FALSE;
  set_result_int (cmd, status);
  return TRUE;
}

/* ---- The thread ---- */

static void
run (Engine *e, Command *cmd)
{
  gboolean ok = FALSE;

  switch (cmd->kind)
    {
    case COMMAND_LOAD:
    case COMMAND_OPEN:
    case COMMAND_SEND:
    case COMMAND_REGENERATE:
    case COMMAND_EDIT:
    case COMMAND_SWITCH_BRANCH:
      /* Work that computes is not started once shutdown began. */
      if (g_atomic_int_get (&e->service->shutting_down))
        {
          g_set_error (&cmd->error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_CANCELLED, "The engine is shutting down");
          return;
        }
      break;
    default:
      break;
    }

  switch (cmd->kind)
    {
    case COMMAND_LOAD:
      ok = run_load (e, cmd, &cmd->error);
      break;
    case COMMAND_UNLOAD:
      ok = run_unload (e, cmd, &cmd->error);
      break;
    case COMMAND_OPEN:
      ok = run_open (e, cmd, &cmd->error);
      break;
    case COMMAND_SEND:
    case COMMAND_REGENERATE:
    case COMMAND_EDIT:
      ok = run_generate (e, cmd, &cmd->error);
      break;
    case COMMAND_SWITCH_BRANCH:
      ok = run_switch_branch (e, cmd, &cmd->error);
      break;
    case COMMAND_SNAPSHOT:
      ok = run_snapshot (e, cmd, &cmd->error);
      break;
    case COMMAND_CONFIGURE:
      /* For the models loaded from now on. */
      e->n_threads = (guint) cmd->offset;
      e->n_ctx = (gint32) cmd->limit;
      set_result_boolean (cmd);
      ok = TRUE;
      break;
    case COMMAND_STORE:
      ok = need_store (e, &cmd->error) && cmd->store_fn (e, cmd, &cmd->error);
      break;
    case COMMAND_QUIT:
      g_assert_not_reached ();
    }
  g_assert (ok == (cmd->error == NULL));
}

gpointer
service_engine_main (gpointer data)
{
  Engine *e = data;
  TernService *self = e->service;

  e->store = tern_store_open (e->db_path, &e->store_error);
  if (e->store == NULL)
    service_emit_error (self, e->store_error);

  for (;;)
    {
      Command *cmd = g_async_queue_pop (self->inbox);
      if (cmd->kind == COMMAND_QUIT)
        break;
      service_set_current (self, cmd);
      run (e, cmd);
      service_set_current (self, NULL);
      service_complete (self, cmd);
    }
  service_engine_clear (e);
  return NULL;
}

void
service_engine_clear (Engine *e)
{
  unload (e);
  g_clear_pointer (&e->store, tern_store_free);
  g_clear_error (&e->store_error);
  service_state_clear (&e->state);
}
