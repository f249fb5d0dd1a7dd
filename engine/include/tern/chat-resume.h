/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <tern/chat-template.h>
#include <tern/context.h>
#include <tern/sampler.h>
#include <tern/store.h>

G_BEGIN_DECLS

/* Going on with a stored conversation: bringing a context and a sampler
 * to where the conversation stood, from its snapshot when one matches,
 * otherwise by evaluating its transcript again. What tern-cli chat --db
 * and the engine service share. Like the store, used by the one thread
 * that owns the store and the context. */

typedef enum {
  TERN_RESUME_EMPTY,    /* the conversation has no messages: nothing to evaluate */
  TERN_RESUME_SNAPSHOT, /* restored from the snapshot at the conversation's head */
  TERN_RESUME_REINGEST, /* the transcript was evaluated again */
} TernResumeKind;

/* Appends to @out the tokens a live chat had in its context at the end of
 * @messages (TernMessage, a branch first to last, at least one): the
 * system prompt (when not empty) and the messages up to the last user
 * message rendered with @tmpl and the start of the assistant's turn, then
 * the last reply's own tokens when it kept them; otherwise the whole
 * branch rendered. */
gboolean tern_chat_transcript_tokens (const TernChatTemplate *tmpl, const TernTokenizer *tokenizer,
                                      const char *system_prompt, GPtrArray *messages, GArray *out,
                                      GError **error);

/* Brings @ctx (whose model has identity @identity) to the state of
 * @conversation at the end of @messages, its branch up to the head
 * (TernMessage, possibly empty), and returns the sampler to go on with.
 * A snapshot at the head is restored when it matches; when it does not
 * (MISMATCH, FORMAT) or there is none, the transcript is evaluated again
 * (@progress, @cancellable: CANCELLED), unless it is longer than three
 * quarters of the context: then @ctx is left empty and the next turn fits
 * what it can. The sampler comes from the snapshot, else the last reply's
 * saved state, else fresh from the conversation's settings with the
 * transcript in its penalty window. *@kind says which happened; *@why
 * (may be NULL; free with g_free) why the snapshot was not used, or NULL. */
TernSampler *tern_chat_resume (TernStore *store, const TernConversation *conversation, GPtrArray *messages,
                               TernContext *ctx, const TernModelIdentity *identity, const TernChatTemplate *tmpl,
                               TernProgressFn progress, gpointer user_data, GCancellable *cancellable,
                               TernResumeKind *kind, char **why, GError **error);

G_END_DECLS
