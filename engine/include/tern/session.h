/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <tern/chat-template.h>
#include <tern/context.h>
#include <tern/model-identity.h>
#include <tern/sampler.h>
#include <tern/store.h>

G_BEGIN_DECLS

/* A chat session: one conversation carried by a context and its sampler.
 * It makes the transcript a prompt with the model's chat template, fitted
 * to the context; evaluates only the tokens the context does not already
 * hold; shifts the context when generation fills it; streams a reply token
 * by token, checkpointed in the store, until an end-of-generation token,
 * a token limit or a stop; and brings a stored conversation back, from its
 * snapshot or by evaluating its transcript again. tern-cli (chat,
 * generate) and TernService both chat through it.
 *
 * Ownership: a session borrows its context and chat template, which must
 * outlive it, and owns its sampler.
 *
 * Threads: a session is used by one thread at a time, the one that owns
 * its context and the store it is given (the engine thread). */

typedef struct TernSession TernSession;

/* A session on @ctx, whose chat prompts @tmpl renders (NULL: a session of
 * plain text, without the functions that render), with a new sampler of
 * @sampling (which must validate). A context shift keeps the first token
 * when the model asks for a BOS, and drops the oldest half of the rest. */
TernSession *tern_session_new (TernContext *ctx, const TernChatTemplate *tmpl, const TernSamplerParams *sampling);
void tern_session_free (TernSession *session);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TernSession, tern_session_free)

TernContext *tern_session_get_context (TernSession *session);
/* The sampler the replies are drawn with, owned by the session; it changes
 * with tern_session_set_sampling and tern_session_resume. */
TernSampler *tern_session_get_sampler (TernSession *session);

/* Replies to come are sampled with @sampling: the sampler carries on (its
 * random stream and penalty window) when these are its settings (a random
 * seed matches any), otherwise a new sampler takes its place with the
 * context's tokens in its penalty window. */
void tern_session_set_sampling (TernSession *session, const TernSamplerParams *sampling);

/* Called at each context shift: @n_dropped tokens went after the first
 * @n_keep. */
typedef void (*TernSessionShiftFn) (gint32 n_dropped, gint32 n_keep, gpointer user_data);
/* Sets the shift function (NULL: none); @user_data must outlive it. */
void tern_session_set_shift_func (TernSession *session, TernSessionShiftFn func, gpointer user_data);

/* ---- The prompt ---- */

/* Appends to @tokens the prompt for @system_prompt (NULL or "": none) and
 * @n_messages messages after it, rendered with the chat template (ending
 * with the start of the assistant's turn when @add_generation_prompt) and
 * tokenized with the BOS the model asks for. Errors: the template's (see
 * tern/chat-template.h); @tokens is then left as it was. */
gboolean tern_session_render (TernSession *session, const char *system_prompt, const TernChatMessage *messages,
                              gsize n_messages, gboolean add_generation_prompt, GArray *tokens, GError **error);

/* The prompt for the reply after @messages (ending with the message to
 * answer), fitted to the context: it leaves at least a quarter of the
 * context for the reply. When the whole transcript does not fit, or the
 * template refuses it (UNSUPPORTED: roles that do not alternate, say),
 * the oldest turns are left out, a whole turn at a time (a turn starts at
 * a user message, whatever follows it), until what is left fits and the
 * template takes it; as many turns are kept as fit. The system prompt and
 * the system messages that open @messages are always kept.
 *
 * The work is proportional to what fits, not to the conversation: the
 * window is estimated backwards from the end with token counts the
 * session keeps per message text, then rendered a few times at most.
 *
 * Sets *@first (may be NULL) to the first message kept after the opening
 * system messages, and *@note (may be NULL; free with g_free) to a
 * sentence for the user when messages the length allowed were left out
 * because the template refused them, else NULL. Replaces the contents of
 * @tokens. Errors: INVALID when the last turn alone is too long for the
 * context; CANCELLED when @cancellable is, even inside a render;
 * otherwise the template's error for the last turn (a refusal, FORMAT). */
gboolean tern_session_fit (TernSession *session, const char *system_prompt, const TernChatMessage *messages,
                           gsize n_messages, GCancellable *cancellable, gsize *first, GArray *tokens, char **note,
                           GError **error);

/* ---- Evaluation ---- */

/* How many of the @n_tokens of a prompt tern_session_feed_prompt would
 * keep from the context rather than evaluate: the longest prefix the
 * context holds, less the last token when it holds them all. */
gint32 tern_session_prompt_reuse (TernSession *session, const TernToken *tokens, gint32 n_tokens);

/* Brings the context to hold exactly the @n_tokens of a prompt:
 * evaluates only those after the longest prefix it already holds (and at
 * least the last one, whose logits a reply starts from), putting them in
 * the sampler's penalty window. *@n_reused (may be NULL) is set to how
 * many were already there. @progress and @cancellable: as
 * tern_context_decode. Errors: INVALID for a prompt of no tokens or one
 * longer than the context, CANCELLED (the batches evaluated before the stop
 * stay in the context and the sampler's window, as if they were the whole
 * prompt: the next prompt goes on from them), and the context's. */
gboolean tern_session_feed_prompt (TernSession *session, const TernToken *tokens, gint32 n_tokens,
                                   TernProgressFn progress, gpointer user_data, GCancellable *cancellable,
                                   gint32 *n_reused, GError **error);

/* Evaluates @n_tokens tokens after those in the context and puts them in
 * the sampler's penalty window. When they do not fit, the context shifts
 * first, as often as needed: the kept first token stays, the oldest half
 * of the rest goes (all of it when too few are left to halve), and the
 * shift function hears of it. Errors: INVALID for more tokens than the
 * context holds after the kept one, and the context's. */
gboolean tern_session_feed (TernSession *session, const TernToken *tokens, gint32 n_tokens, GError **error);

/* The next token, drawn from the logits of the last token evaluated. It is
 * neither evaluated nor put in the penalty window: tern_session_feed does
 * both. */
TernToken tern_session_sample (TernSession *session);

/* ---- Replies ---- */

/* How tern_session_stream goes. */
typedef struct {
  gint max_tokens;  /* the longest reply; 0: as many tokens as the context holds */
  TernReply *reply; /* checkpointed after each token (tern_reply_update); NULL: none */
  /* Asked before each token is drawn: TRUE stops the reply there, so a
   * stop asked for after token k leaves exactly k tokens. NULL: never. */
  gboolean (*stopped) (gpointer user_data);
  /* The text each token adds (UTF-8; empty while a character is
   * incomplete) and how many tokens the reply has with it; at the end,
   * what the detokenizer held back. NULL: none. */
  void (*text) (const char *text, gsize len, guint n_tokens, gpointer user_data);
  /* After each token is evaluated, added to the reply, told through
   * @text and checkpointed. NULL: none. */
  void (*token) (guint n_tokens, gpointer user_data);
  gpointer user_data;
} TernSessionStream;

/* Generates a reply after what the context holds, as @stream says: draws
 * a token; an end-of-generation token ends the reply (*@ended TRUE; the
 * token is neither evaluated nor kept); any other is evaluated (shifting
 * the context when it is full), appended to @tokens (TernToken) and its
 * text to @text, both empty at the start. Goes on until the token limit
 * or a stop. Errors: the context's and the store's (a checkpoint). */
gboolean tern_session_stream (TernSession *session, const TernSessionStream *stream, GString *text, GArray *tokens,
                              gboolean *ended, GError **error);

/* Commits @reply as complete with @text and @tokens (TernToken), and the
 * sampler's state after them (see tern_reply_finish). */
gboolean tern_session_finish_reply (TernSession *session, TernReply *reply, const char *text, GArray *tokens,
                                    GError **error);

/* ---- Snapshots ---- */

/* Saves the context and the sampler in @store as the snapshot of
 * conversation @conversation_id's branch at @message_id; @identity is that
 * of the context's model. Returns as tern_snapshot_save_to_store. */
gint64 tern_session_save_snapshot (TernSession *session, TernStore *store, gint64 conversation_id,
                                   gint64 message_id, const TernModelIdentity *identity, GError **error);

typedef enum {
  TERN_RESUME_EMPTY,    /* the conversation has no messages: nothing to evaluate */
  TERN_RESUME_SNAPSHOT, /* restored from the snapshot at the conversation's head */
  TERN_RESUME_REINGEST, /* the transcript was evaluated again */
} TernResumeKind;

/* Brings the session to where @conversation stood at the end of
 * @messages, its branch up to the head (TernMessage, possibly none), with
 * the context's model of identity @identity. The snapshot at the head is
 * restored when it matches; when it does not (MISMATCH, FORMAT) or there
 * is none, the transcript is evaluated again: the system prompt and the
 * messages up to the last user message rendered with the start of the
 * assistant's turn, then the last reply's own tokens when it kept them
 * (otherwise the whole branch rendered), fitted to the context as
 * tern_session_fit does, so that a conversation of any length resumes in
 * the time its latest turns take; @progress, @cancellable: CANCELLED. A
 * transcript whose last turn alone does not fit, or that the template
 * refuses in every window, leaves the context empty: the next turn fits
 * what it can. The sampler comes from the snapshot,
 * else from the last reply's saved state, else new from the
 * conversation's settings with the transcript in its penalty window.
 * *@kind says which happened; *@why (may be NULL; free with g_free) why the
 * snapshot was not used, or NULL. On error the context is left empty and
 * the sampler as it was. */
gboolean tern_session_resume (TernSession *session, TernStore *store, const TernConversation *conversation,
                              GPtrArray *messages, const TernModelIdentity *identity, TernProgressFn progress,
                              gpointer user_data, GCancellable *cancellable, TernResumeKind *kind, char **why,
                              GError **error);

G_END_DECLS
