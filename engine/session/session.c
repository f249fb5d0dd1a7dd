/* SPDX-License-Identifier: GPL-3.0-or-later */
/* A chat session: the transcript made a prompt and fitted to the context,
 * prefix reuse, context shifts, replies streamed with stop and
 * checkpoints, snapshots, and resuming a stored conversation. */
#include <tern/session.h>
#include <tern/snapshot.h>

#include <string.h>

struct TernSession {
  TernContext *ctx;             /* borrowed */
  const TernChatTemplate *tmpl; /* borrowed; NULL: plain text */
  const TernTokenizer *tok;
  TernSampler *sampler;
  gint32 n_keep;                /* tokens a context shift keeps: the BOS the model asks for */
  TernSessionShiftFn shift_func;
  gpointer shift_data;
  /* For estimating a window's length before rendering it: the tokens of
   * message texts already seen (text → count), and what the template adds
   * around a message and around the whole chat (-1: not measured yet). */
  GHashTable *text_tokens;
  GArray *scratch;
  gint32 per_message;
  gint32 per_chat;
};

/* Texts whose token counts a session keeps: many more than fill any
 * context, so a long conversation is counted once. */
#define TEXT_TOKENS_MAX 65536

TernSession *
tern_session_new (TernContext *ctx, const TernChatTemplate *tmpl, const TernSamplerParams *sampling)
{
  g_return_val_if_fail (ctx != NULL && sampling != NULL, NULL);

  TernSession *s = g_new0 (TernSession, 1);
  s->ctx = ctx;
  s->tmpl = tmpl;
  s->tok = tern_model_tokenizer (tern_context_model (ctx));
  s->sampler = tern_sampler_new (sampling, tern_tokenizer_n_vocab (s->tok));
  s->n_keep = tern_tokenizer_add_bos (s->tok) && tern_tokenizer_bos (s->tok) >= 0 ? 1 : 0;
  s->text_tokens = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  s->scratch = g_array_new (FALSE, FALSE, sizeof (TernToken));
  s->per_message = -1;
  s->per_chat = -1;
  return s;
}

void
tern_session_free (TernSession *s)
{
  if (s == NULL)
    return;
  tern_sampler_free (s->sampler);
  g_hash_table_unref (s->text_tokens);
  g_array_unref (s->scratch);
  g_free (s);
}

TernContext *
tern_session_get_context (TernSession *s)
{
  return s->ctx;
}

TernSampler *
tern_session_get_sampler (TernSession *s)
{
  return s->sampler;
}

void
tern_session_set_shift_func (TernSession *s, TernSessionShiftFn func, gpointer user_data)
{
  s->shift_func = func;
  s->shift_data = user_data;
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

/* A new sampler of @sampling that has seen the context's tokens. */
static void
replace_sampler (TernSession *s, const TernSamplerParams *sampling)
{
  gint32 n;
  const TernToken *tokens = tern_context_tokens (s->ctx, &n);

  tern_sampler_free (s->sampler);
  s->sampler = tern_sampler_new (sampling, tern_tokenizer_n_vocab (s->tok));
  for (gint32 i = 0; i < n; i++)
    tern_sampler_accept (s->sampler, tokens[i]);
}

void
tern_session_set_sampling (TernSession *s, const TernSamplerParams *sampling)
{
  if (!same_sampling (tern_sampler_get_params (s->sampler), sampling))
    replace_sampler (s, sampling);
}

/* ---- The prompt ---- */

/* Appends the prompt for the system prompt, the @n_head messages of @head
 * and the @n_messages of @messages to @tokens. */
static gboolean
render (TernSession *s, const char *system_prompt, const TernChatMessage *head, gsize n_head,
        const TernChatMessage *messages, gsize n_messages, gboolean add_generation_prompt, GCancellable *cancellable,
        GArray *tokens, GError **error)
{
  g_autoptr (GArray) chat = g_array_sized_new (FALSE, FALSE, sizeof (TernChatMessage), n_head + n_messages + 1);
  TernChatRenderOptions options;

  g_return_val_if_fail (s->tmpl != NULL, FALSE);
  if (system_prompt != NULL && system_prompt[0] != '\0')
    {
      TernChatMessage system = { "system", system_prompt };
      g_array_append_val (chat, system);
    }
  g_array_append_vals (chat, head, n_head);
  g_array_append_vals (chat, messages, n_messages);
  tern_chat_render_options_init (&options);
  options.add_generation_prompt = add_generation_prompt;
  options.cancellable = cancellable;
  g_autoptr (TernChatPrompt) prompt =
      tern_chat_template_render (s->tmpl, (TernChatMessage *) chat->data, chat->len, &options, error);
  return prompt != NULL && tern_chat_prompt_tokenize (prompt, s->tok, TRUE, tokens, error);
}

gboolean
tern_session_render (TernSession *s, const char *system_prompt, const TernChatMessage *messages, gsize n_messages,
                     gboolean add_generation_prompt, GArray *tokens, GError **error)
{
  return render (s, system_prompt, NULL, 0, messages, n_messages, add_generation_prompt, NULL, tokens, error);
}

/* The tokens of @text alone, counted once per session. Text the tokenizer
 * refuses counts by its bytes, an upper bound; rendering it reports why. */
static gint32
text_tokens (TernSession *s, const char *text)
{
  gpointer count;

  if (g_hash_table_lookup_extended (s->text_tokens, text, NULL, &count))
    return GPOINTER_TO_INT (count);
  g_array_set_size (s->scratch, 0);
  gint32 n = tern_tokenizer_encode (s->tok, text, -1, TERN_TOKENIZE_NONE, s->scratch, NULL) ? (gint32) s->scratch->len
                                                                                        : (gint32) strlen (text);
  if (g_hash_table_size (s->text_tokens) >= TEXT_TOKENS_MAX)
    g_hash_table_remove_all (s->text_tokens);
  g_hash_table_insert (s->text_tokens, g_strdup (text), GINT_TO_POINTER (n));
  return n;
}

/* Measures once what the template adds around a message and around a
 * chat (BOS, the generation prompt), from two small chats it renders. */
static void
measure_template (TernSession *s)
{
  const TernChatMessage chat[] = { { "user", "Hello" }, { "assistant", "Hail" }, { "user", "Hello" } };
  g_autoptr (GArray) one = g_array_new (FALSE, FALSE, sizeof (TernToken));
  g_autoptr (GArray) three = g_array_new (FALSE, FALSE, sizeof (TernToken));
  gint32 hello = text_tokens (s, "Hello"), hail = text_tokens (s, "Hail");

  /* A template that takes neither is estimated by the texts alone. */
  s->per_message = 0;
  s->per_chat = 0;
  if (render (s, NULL, NULL, 0, chat, 1, TRUE, NULL, one, NULL) &&
      render (s, NULL, NULL, 0, chat, 3, TRUE, NULL, three, NULL))
    {
      s->per_message = MAX (0, ((gint32) three->len - (gint32) one->len - hello - hail) / 2);
      s->per_chat = MAX (0, (gint32) one->len - hello - s->per_message);
    }
}

static gint32
message_estimate (TernSession *s, const TernChatMessage *m)
{
  return text_tokens (s, m->content) + s->per_message;
}

/* The turn before the one starting at @start, or @n_head when none. */
static gsize
previous_turn (const TernChatMessage *messages, gsize n_head, gsize start)
{
  while (start > n_head)
    {
      start--;
      if (g_str_equal (messages[start].role, "user"))
        return start;
    }
  return n_head;
}

/* The turn after the one starting at @start, or @n when none. */
static gsize
next_turn (const TernChatMessage *messages, gsize n, gsize start)
{
  do
    start++;
  while (start < n && !g_str_equal (messages[start].role, "user"));
  return start;
}

/* tern_session_fit's work: the prompt for @messages that leaves @reserve
 * tokens and a quarter of the context free, ending with the generation
 * prompt when @add_generation_prompt. The window is first estimated in one
 * pass backwards from the end, by cached token counts, and stops where the
 * context is full: its cost is what fits, not the conversation's length.
 * Rendering then checks it, moving a turn at a time: later while it does
 * not fit or the template refuses it, earlier while one more turn fits. */
static gboolean
fit (TernSession *s, const char *system_prompt, const TernChatMessage *messages, gsize n_messages,
     gboolean add_generation_prompt, gint32 reserve, GCancellable *cancellable, gsize *first, GArray *tokens,
     char **note, GError **error)
{
  static const TernChatMessage none[1];
  gint32 n_ctx = tern_context_n_ctx (s->ctx);
  gint32 budget = n_ctx - n_ctx / 4 - reserve;
  g_autoptr (GArray) attempt = g_array_new (FALSE, FALSE, sizeof (TernToken));
  g_autoptr (GError) failed = NULL;
  gsize n_head = 0, best = G_MAXSIZE, refused_from = G_MAXSIZE;
  gint32 best_len = 0;

  /* No messages may come as NULL (an empty GArray's data), to which even
   * adding 0 is undefined. */
  if (messages == NULL)
    messages = none;
  if (s->per_message < 0)
    measure_template (s);
  /* The system messages that open the transcript stay, as the system
   * prompt does. */
  while (n_head < n_messages && g_str_equal (messages[n_head].role, "system"))
    n_head++;
  gint32 fixed = s->per_chat;
  if (system_prompt && system_prompt[0])
    fixed += text_tokens (s, system_prompt) + s->per_message;
  for (gsize i = 0; i < n_head; i++)
    fixed += message_estimate (s, &messages[i]);

  /* The earliest turn whose window the estimate says fits; the last turn
   * at least, which rendering then judges. */
  gsize start = n_messages, estimated = n_messages;
  gint32 used = fixed;
  while (start > n_head)
    {
      used += message_estimate (s, &messages[--start]);
      if (used > budget)
        break;
      if (g_str_equal (messages[start].role, "user") || start == n_head)
        estimated = start;
    }
  start = estimated < n_messages ? estimated : previous_turn (messages, n_head, n_messages);

  for (gboolean growing = TRUE;;)
    {
      g_array_set_size (attempt, 0);
      g_clear_error (&failed);
      gboolean rendered = render (s, system_prompt, messages, n_head, messages + start, n_messages - start,
                                  add_generation_prompt, cancellable, attempt, &failed);
      /* A cancelled render ends the fitting, whatever fitted before. */
      if (g_error_matches (failed, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_CANCELLED))
        {
          g_array_set_size (tokens, 0);
          g_propagate_error (error, g_steal_pointer (&failed));
          return FALSE;
        }
      if (rendered && (gint32) attempt->len <= budget)
        {
          best = start;
          best_len = (gint32) attempt->len;
          g_array_set_size (tokens, 0);
          g_array_append_vals (tokens, attempt->data, attempt->len);
          gsize earlier = previous_turn (messages, n_head, start);
          gint32 more = 0;
          for (gsize i = earlier; i < start; i++)
            more += message_estimate (s, &messages[i]);
          /* Counted alone, texts can take a token or two more or less
           * than in the chat: a turn the estimate nearly fits is tried. */
          if (!growing || earlier == start || best_len + more - more / 8 - 4 > budget)
            break;
          start = earlier;
          continue;
        }
      if (rendered)
        g_set_error (&failed, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_INVALID,
                     "The message is %u tokens with the chat template, too long for the context (%d tokens)",
                     attempt->len, n_ctx);
      else if (!g_error_matches (failed, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_UNSUPPORTED))
        break;
      else if (refused_from == G_MAXSIZE)
        refused_from = start;
      /* One turn too many: the window before it was the best. */
      if (best != G_MAXSIZE)
        break;
      growing = FALSE;
      start = next_turn (messages, n_messages, start);
      if (start >= n_messages)
        break;
    }
  if (best == G_MAXSIZE)
    {
      g_array_set_size (tokens, 0);
      g_propagate_error (error, g_steal_pointer (&failed));
      return FALSE;
    }
  *first = best;
  if (note && refused_from != G_MAXSIZE && best > refused_from)
    *note = g_strdup_printf ("The chat template does not take the conversation as it stands (roles that do not "
                             "alternate, say): %u earlier %s left out",
                             (guint) (best - refused_from), best - refused_from == 1 ? "message is" : "messages are");
  return TRUE;
}

gboolean
tern_session_fit (TernSession *s, const char *system_prompt, const TernChatMessage *messages, gsize n_messages,
                  GCancellable *cancellable, gsize *first, GArray *tokens, char **note, GError **error)
{
  gsize kept;

  if (note)
    *note = NULL;
  if (!fit (s, system_prompt, messages, n_messages, TRUE, 0, cancellable, &kept, tokens, note, error))
    return FALSE;
  if (first)
    *first = kept;
  return TRUE;
}

/* ---- Evaluation ---- */

/* tern_session_feed, with @what naming the tokens in errors. */
static gboolean
feed (TernSession *s, const TernToken *tokens, gint32 n, const char *what, TernProgressFn progress,
      gpointer user_data, GCancellable *cancellable, GError **error)
{
  gint32 n_ctx = tern_context_n_ctx (s->ctx);
  gint32 room = tern_context_n_past (s->ctx) == 0 ? n_ctx : n_ctx - s->n_keep;

  if (n > room)
    {
      g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_INVALID,
                   "%s is %d tokens, longer than the context (%d tokens)", what, n, n_ctx);
      return FALSE;
    }
  /* A shift drops half of the tokens after the kept ones; when too few
   * are left to halve, all of them go. */
  while (tern_context_n_past (s->ctx) + n > n_ctx)
    {
      gint32 dropped = tern_context_shift (s->ctx, s->n_keep);
      if (dropped == 0)
        {
          dropped = tern_context_n_past (s->ctx) - s->n_keep;
          tern_context_truncate (s->ctx, s->n_keep);
        }
      if (s->shift_func)
        s->shift_func (dropped, s->n_keep, s->shift_data);
    }
  gint32 n_past = tern_context_n_past (s->ctx);
  gboolean ok = tern_context_decode (s->ctx, tokens, n, FALSE, progress, user_data, cancellable, error);
  /* The sampler sees what the context holds: after a stop, the batches
   * evaluated before it, which the next prompt reuses. */
  for (gint32 i = 0; i < tern_context_n_past (s->ctx) - n_past; i++)
    tern_sampler_accept (s->sampler, tokens[i]);
  return ok;
}

gboolean
tern_session_feed (TernSession *s, const TernToken *tokens, gint32 n_tokens, GError **error)
{
  return feed (s, tokens, n_tokens, "the text", NULL, NULL, NULL, error);
}

gint32
tern_session_prompt_reuse (TernSession *s, const TernToken *tokens, gint32 n_tokens)
{
  gint32 n_cached, common = 0;
  const TernToken *cached = tern_context_tokens (s->ctx, &n_cached);

  while (common < n_cached && common < n_tokens && cached[common] == tokens[common])
    common++;
  /* The last token is evaluated again when all are there: its logits are
   * what the reply starts from. */
  if (common > 0 && common == n_tokens)
    common--;
  return common;
}

gboolean
tern_session_feed_prompt (TernSession *s, const TernToken *tokens, gint32 n_tokens, TernProgressFn progress,
                          gpointer user_data, GCancellable *cancellable, gint32 *n_reused, GError **error)
{
  gint32 common;

  if (n_tokens == 0)
    {
      g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_INVALID, "The prompt has no tokens");
      return FALSE;
    }
  common = tern_session_prompt_reuse (s, tokens, n_tokens);
  if (n_reused)
    *n_reused = common;
  tern_context_truncate (s->ctx, common);
  return feed (s, tokens + common, n_tokens - common, "the prompt", progress, user_data, cancellable, error);
}

TernToken
tern_session_sample (TernSession *s)
{
  return tern_sampler_sample (s->sampler, tern_context_last_logits (s->ctx));
}

/* ---- Replies ---- */

gboolean
tern_session_stream (TernSession *s, const TernSessionStream *stream, GString *text, GArray *tokens,
                     gboolean *ended, GError **error)
{
  gint max_tokens = stream->max_tokens > 0 ? stream->max_tokens : tern_context_n_ctx (s->ctx);
  g_autoptr (TernDetokenizer) detok = tern_detokenizer_new (s->tok, FALSE);
  gsize before;

  *ended = FALSE;
  while ((gint) tokens->len < max_tokens && !(stream->stopped && stream->stopped (stream->user_data)))
    {
      TernToken t = tern_session_sample (s);
      if (tern_tokenizer_is_eog (s->tok, t))
        {
          *ended = TRUE;
          break;
        }
      before = text->len;
      if (!feed (s, &t, 1, "the reply", NULL, NULL, NULL, error) || !tern_detokenizer_push (detok, t, text, error))
        return FALSE;
      g_array_append_val (tokens, t);
      if (stream->text)
        stream->text (text->str + before, text->len - before, tokens->len, stream->user_data);
      if (stream->reply &&
          !tern_reply_update (stream->reply, text->str, (TernToken *) tokens->data, (gint32) tokens->len, error))
        return FALSE;
      if (stream->token)
        stream->token (tokens->len, stream->user_data);
    }
  before = text->len;
  tern_detokenizer_flush (detok, text);
  if (stream->text)
    stream->text (text->str + before, text->len - before, tokens->len, stream->user_data);
  return TRUE;
}

gboolean
tern_session_finish_reply (TernSession *s, TernReply *reply, const char *text, GArray *tokens, GError **error)
{
  g_autoptr (GByteArray) state = g_byte_array_new ();

  tern_sampler_save (s->sampler, state);
  g_autoptr (GBytes) sampler_state = g_byte_array_free_to_bytes (g_steal_pointer (&state));
  return tern_reply_finish (reply, text, (TernToken *) tokens->data, (gint32) tokens->len, sampler_state, error);
}

/* ---- Snapshots and resuming ---- */

gint64
tern_session_save_snapshot (TernSession *s, TernStore *store, gint64 conversation_id, gint64 message_id,
                            const TernModelIdentity *identity, GError **error)
{
  return tern_snapshot_save_to_store (store, conversation_id, message_id, s->ctx, s->sampler, identity, error);
}

/* Evaluates again the tokens a live chat had in its context at the end of
 * @messages (TernMessage, at least one), fitted to the context as the
 * turns were; appends them to @out. A transcript the template refuses, or
 * whose last turn alone does not fit, leaves the context empty: the next
 * turn fits what it can. */
static gboolean
reingest_tokens (TernSession *s, const TernConversation *conversation, GPtrArray *messages, TernProgressFn progress,
                 gpointer user_data, GCancellable *cancellable, GArray *out, GError **error)
{
  const TernMessage *last = messages->pdata[messages->len - 1];
  /* A stored reply's own tokens are what the context held, not its text
   * tokenized again. */
  gboolean kept = last->role == TERN_ROLE_ASSISTANT && last->tokens != NULL;
  guint n = messages->len - (kept ? 1 : 0);
  g_autoptr (GArray) chat = g_array_sized_new (FALSE, FALSE, sizeof (TernChatMessage), n);
  g_autoptr (GError) refused = NULL;
  gsize first;

  for (guint i = 0; i < n; i++)
    {
      const TernMessage *m = messages->pdata[i];
      TernChatMessage cm = { tern_role_name (m->role), m->content };
      g_array_append_val (chat, cm);
    }
  if (!fit (s, conversation->system_prompt, (TernChatMessage *) chat->data, chat->len,
            kept || last->role == TERN_ROLE_USER, kept ? (gint32) last->tokens->len : 0, cancellable, &first, out,
            NULL, &refused))
    {
      if (g_error_matches (refused, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_UNSUPPORTED) ||
          g_error_matches (refused, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_INVALID))
        return TRUE;
      g_propagate_error (error, g_steal_pointer (&refused));
      return FALSE;
    }
  if (kept)
    g_array_append_vals (out, last->tokens->data, last->tokens->len);
  return tern_context_decode (s->ctx, (TernToken *) out->data, (gint32) out->len, FALSE, progress, user_data,
                              cancellable, error);
}

/* Evaluates the transcript again and returns the sampler to go on with. */
static TernSampler *
reingest (TernSession *s, const TernConversation *conversation, GPtrArray *messages, TernProgressFn progress,
          gpointer user_data, GCancellable *cancellable, GError **error)
{
  g_autoptr (GArray) tokens = g_array_new (FALSE, FALSE, sizeof (TernToken));
  const TernMessage *last = messages->pdata[messages->len - 1];

  tern_context_truncate (s->ctx, 0);
  if (!reingest_tokens (s, conversation, messages, progress, user_data, cancellable, tokens, error))
    return NULL;

  GBytes *state = last->sampler_state;
  gint32 n_vocab = tern_tokenizer_n_vocab (s->tok);
  TernSampler *sampler =
      state ? tern_sampler_restore (g_bytes_get_data (state, NULL), g_bytes_get_size (state), n_vocab, NULL) : NULL;
  if (sampler == NULL)
    {
      sampler = tern_sampler_new (&conversation->sampling, n_vocab);
      for (guint i = 0; i < tokens->len; i++)
        tern_sampler_accept (sampler, g_array_index (tokens, TernToken, i));
    }
  return sampler;
}

/* tern_session_resume, leaving the context as it is on error. */
static TernSampler *
resume (TernSession *s, TernStore *store, const TernConversation *conversation, GPtrArray *messages,
        const TernModelIdentity *identity, TernProgressFn progress, gpointer user_data, GCancellable *cancellable,
        TernResumeKind *kind, char **why, GError **error)
{
  g_autoptr (GError) refused = NULL;

  if (messages->len == 0)
    {
      tern_context_truncate (s->ctx, 0);
      *kind = TERN_RESUME_EMPTY;
      return tern_sampler_new (&conversation->sampling, tern_tokenizer_n_vocab (s->tok));
    }

  gint64 snapshot = tern_store_snapshot_find (store, conversation->id, conversation->head_id, error);
  if (snapshot < 0)
    return NULL;
  if (snapshot > 0)
    {
      TernSampler *sampler = tern_snapshot_restore_from_store (store, snapshot, s->ctx, identity, &refused);
      if (sampler)
        {
          *kind = TERN_RESUME_SNAPSHOT;
          return sampler;
        }
      /* Only a snapshot that does not fit falls back to the transcript; a
       * database error is the caller's to see. */
      if (!g_error_matches (refused, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_MISMATCH) &&
          !g_error_matches (refused, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_FORMAT))
        {
          g_propagate_error (error, g_steal_pointer (&refused));
          return NULL;
        }
    }
  TernSampler *sampler = reingest (s, conversation, messages, progress, user_data, cancellable, error);
  if (sampler == NULL)
    return NULL;
  *kind = TERN_RESUME_REINGEST;
  if (why)
    *why = g_strdup (refused ? refused->message : "it has no snapshot");
  return sampler;
}

gboolean
tern_session_resume (TernSession *s, TernStore *store, const TernConversation *conversation, GPtrArray *messages,
                     const TernModelIdentity *identity, TernProgressFn progress, gpointer user_data,
                     GCancellable *cancellable, TernResumeKind *kind, char **why, GError **error)
{
  if (why)
    *why = NULL;
  TernSampler *sampler =
      resume (s, store, conversation, messages, identity, progress, user_data, cancellable, kind, why, error);
  if (sampler == NULL)
    {
      tern_context_truncate (s->ctx, 0);
      return FALSE;
    }
  tern_sampler_free (s->sampler);
  s->sampler = sampler;
  return TRUE;
}
