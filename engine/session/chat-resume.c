/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Resuming a stored conversation: from its snapshot, or by evaluating its
 * transcript again. */
#include <tern/chat-resume.h>
#include <tern/snapshot.h>

gboolean
tern_chat_transcript_tokens (const TernChatTemplate *tmpl, const TernTokenizer *tokenizer, const char *system_prompt,
                             GPtrArray *messages, GArray *out, GError **error)
{
  g_return_val_if_fail (messages != NULL && messages->len > 0, FALSE);

  const TernMessage *last = messages->pdata[messages->len - 1];
  gboolean kept = last->role == TERN_ROLE_ASSISTANT && last->tokens != NULL;
  g_autoptr (GArray) chat = g_array_new (FALSE, FALSE, sizeof (TernChatMessage));
  TernChatRenderOptions options;

  if (system_prompt != NULL && system_prompt[0] != '\0')
    {
      TernChatMessage cm = { "system", system_prompt };
      g_array_append_val (chat, cm);
    }
  for (guint i = 0; i < messages->len - (kept ? 1 : 0); i++)
    {
      const TernMessage *m = messages->pdata[i];
      TernChatMessage cm = { tern_role_name (m->role), m->content };
      g_array_append_val (chat, cm);
    }
  tern_chat_render_options_init (&options);
  options.add_generation_prompt = kept || last->role == TERN_ROLE_USER;
  g_autoptr (TernChatPrompt) prompt =
      tern_chat_template_render (tmpl, (TernChatMessage *) chat->data, chat->len, &options, error);
  if (prompt == NULL || !tern_chat_prompt_tokenize (prompt, tokenizer, TRUE, out, error))
    return FALSE;
  if (kept)
    g_array_append_vals (out, last->tokens->data, last->tokens->len);
  return TRUE;
}

/* Evaluates the transcript again and returns the sampler to go on with. */
static TernSampler *
reingest (const TernConversation *conversation, GPtrArray *messages, TernContext *ctx, const TernChatTemplate *tmpl,
          TernProgressFn progress, gpointer user_data, GCancellable *cancellable, GError **error)
{
  const TernTokenizer *tok = tern_model_tokenizer (tern_context_model (ctx));
  gint32 n_vocab = tern_tokenizer_n_vocab (tok), n_ctx = tern_context_n_ctx (ctx);
  g_autoptr (GArray) tokens = g_array_new (FALSE, FALSE, sizeof (TernToken));
  const TernMessage *last = messages->pdata[messages->len - 1];

  if (!tern_chat_transcript_tokens (tmpl, tok, conversation->system_prompt, messages, tokens, error))
    return NULL;
  tern_context_truncate (ctx, 0);
  /* Too long for the context: the next turn fits what it can. */
  if ((gint32) tokens->len <= n_ctx - n_ctx / 4 &&
      !tern_context_decode (ctx, (TernToken *) tokens->data, (gint32) tokens->len, FALSE, progress, user_data,
                            cancellable, error))
    {
      tern_context_truncate (ctx, 0);
      return NULL;
    }

  GBytes *state = last->sampler_state;
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

TernSampler *
tern_chat_resume (TernStore *store, const TernConversation *conversation, GPtrArray *messages, TernContext *ctx,
                  const TernModelIdentity *identity, const TernChatTemplate *tmpl, TernProgressFn progress,
                  gpointer user_data, GCancellable *cancellable, TernResumeKind *kind, char **why, GError **error)
{
  const TernTokenizer *tok = tern_model_tokenizer (tern_context_model (ctx));
  g_autoptr (GError) refused = NULL;

  if (why)
    *why = NULL;
  if (messages->len == 0)
    {
      tern_context_truncate (ctx, 0);
      *kind = TERN_RESUME_EMPTY;
      return tern_sampler_new (&conversation->sampling, tern_tokenizer_n_vocab (tok));
    }

  gint64 snapshot = tern_store_snapshot_find (store, conversation->id, conversation->head_id, error);
  if (snapshot < 0)
    return NULL;
  if (snapshot > 0)
    {
      TernSampler *sampler = tern_snapshot_restore_from_store (store, snapshot, ctx, identity, &refused);
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
  TernSampler *sampler = reingest (conversation, messages, ctx, tmpl, progress, user_data, cancellable, error);
  if (sampler == NULL)
    return NULL;
  *kind = TERN_RESUME_REINGEST;
  if (why)
    *why = g_strdup (refused ? refused->message : "it has no snapshot");
  return sampler;
}
