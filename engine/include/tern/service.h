/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>
#include <tern/compress.h>
#include <tern/session.h>
#include <tern/store.h>

G_BEGIN_DECLS

/* TernService: the engine behind a thread, for an application's main loop.
 *
 * The service starts one engine thread that owns the store (the SQLite
 * database), the model, its context and the chat session on it
 * (tern/session.h); no other thread touches them. Requests, each with its
 * own typed arguments, go to that thread over a GAsyncQueue and run one
 * after another, in the order they were made. Each request is an asynchronous call in the GIO style: its
 * callback runs on the main context that was the thread-default when the
 * service was made (the "owner" context), and its _finish function gives
 * the result or a GError in TERN_ENGINE_ERROR. Events (signals) and
 * property changes arrive on that context too, in the order the engine
 * thread produced them, and before the callback of the request that
 * produced them.
 *
 * Threads: every function here is for the thread that runs the owner
 * context (the application's main thread), except tern_service_stop and
 * tern_service_get_reply_n_tokens, which any thread may call.
 *
 * Lifetime: a request in flight holds a reference on the service, so the
 * service lives until its callbacks have run. To quit while a request is
 * in flight (a reply being generated), call tern_service_shutdown. Data
 * returned by the _finish functions are plain copies owned by the caller.
 *
 * Signals:
 *
 * - "reply-started" (gint64 reply_id, gint64 parent_id): a reply is being
 *   generated as message @reply_id of the open conversation, after the
 *   user message @parent_id. Its text follows in "reply-delta".
 * - "reply-delta" (const char *text): more text of the reply (valid UTF-8).
 *   Pieces are batched: text produced while the owner context is busy
 *   arrives as one piece, so a fast model cannot flood the main loop.
 *   The pieces of a reply concatenate to the stored message.
 * - "reply-finished" (gint64 reply_id, gboolean incomplete,
 *   double tokens_per_second): the reply is stored. @incomplete is TRUE
 *   when it did not end with an end-of-generation token (stopped, cut at
 *   the token limit, or the service shut down).
 * - "progress" (TernServicePhase phase, double fraction): a long operation
 *   advanced (see TernServicePhase). Fractions of one phase only grow;
 *   consecutive ones may be merged.
 * - "prompt-progress" (gint n_read, gint n_total, double tokens_per_second):
 *   the message being answered is read: @n_read of the @n_total prompt
 *   tokens the context did not hold yet are evaluated, at
 *   @tokens_per_second (0 until the first chunk is read). The first comes
 *   with @n_read 0 before the reading starts, the last with @n_read
 *   @n_total before "reply-started"; consecutive ones may be merged.
 * - "error" (GError *error): a failure no request reports: the store
 *   could not be opened (every request that needs it then fails with the
 *   same error), or a snapshot after a stored reply could not be saved.
 * - "notice" (const char *text): something the user should know that is
 *   not a failure: messages left out of the prompt because the model's
 *   chat template does not take them.
 * - "model-damaged" (gint64 model_id, GError *error): the file of the
 *   loaded model (library id @model_id) changed on disk while in use, so
 *   that the request that found it failed (IO, the same @error), and the
 *   model was unloaded ("model-loaded" is FALSE by then). Checking the
 *   model (tern_service_check_model) then finds it changed or missing.
 *
 * Properties (read-only, notified on the owner context only on change):
 * "model-loaded", "model-id" (the library id of the loaded model),
 * "conversation-id" (the open conversation, 0: none), "generating",
 * "context-used" and "context-size" (tokens), "context-trained" (the
 * tokens the loaded model was trained on: a larger "context-size" gives
 * worse replies past it; 0 without a model), "backend" (e.g. "cpu
 * (avx512, 2 threads)", followed by why in parentheses where a GPU was
 * asked for and could not be used; NULL without a model), "waiting" (TRUE while the
 * engine thread has waited more than TERN_STORE_BUSY_NOTICE_MS for another
 * program's lock on the database, until it goes on).
 *
 * The database: a request waits as long as another program holds the
 * database's lock ("waiting" shows it), until its cancellable is
 * cancelled, tern_service_stop stops it (for the replies) or shutdown
 * begins; it then fails with CANCELLED having stored nothing. The long
 * store requests (a search) end the same way as they go. Once a reply has
 * started it is saved whatever Stop does: the saving waits for the
 * database as long as needed, until shutdown. */

/* What a "progress" signal reports on. */
typedef enum {
  TERN_SERVICE_PHASE_LOAD,   /* a model being loaded */
  TERN_SERVICE_PHASE_INGEST, /* a transcript evaluated again as a conversation opens */
  TERN_SERVICE_PHASE_PROMPT, /* a message evaluated before its reply */
  TERN_SERVICE_PHASE_COMPRESS, /* a model being compressed (tern_service_compress_model) */
  TERN_SERVICE_PHASE_MEASURE,  /* a compressed model and its original being measured */
} TernServicePhase;

#define TERN_TYPE_SERVICE_PHASE (tern_service_phase_get_type ())
GType tern_service_phase_get_type (void);

#define TERN_TYPE_SERVICE (tern_service_get_type ())
G_DECLARE_FINAL_TYPE (TernService, tern_service, TERN, SERVICE, GObject)

/* Starts the engine thread, which opens the store at @db_path (NULL: the
 * default path, see tern/store.h). Models get contexts of @n_ctx tokens
 * (0: the model's training length, as much of it as fits in half the
 * memory available) computed on the device named @backend
 * (tern/backend.h; NULL: the CPU) by @n_threads threads (0: one per
 * physical core). Never fails: a store that cannot be opened is reported
 * through the "error" signal and the requests that need it; a backend
 * that is not there makes loading a model fail with INVALID, naming the
 * devices there are. */
TernService *tern_service_new (const char *db_path, guint n_threads, gint32 n_ctx, const char *backend);
/* As tern_service_new, with the store opened read-only
 * (tern_store_open_read_only): every request that writes fails with
 * READ_ONLY and changes nothing. */
TernService *tern_service_new_read_only (const char *db_path, guint n_threads, gint32 n_ctx, const char *backend);
/* Whether the service was made with tern_service_new_read_only. */
gboolean tern_service_get_read_only (TernService *self);

/* Ends the engine thread cleanly and waits for it: a reply being generated
 * stops within one token and is stored (with its snapshot), a model load
 * or a prompt or transcript evaluation in progress is cancelled within
 * milliseconds (the store keeps the user message), requests not yet run
 * that would compute (load, open, send, regenerate) fail with CANCELLED,
 * while store updates already requested still run. Pending events and
 * callbacks are then delivered on the owner context. Requests made
 * afterwards fail with CANCELLED. Called by dispose; calling it again does
 * nothing. */
void tern_service_shutdown (TernService *self);

/* Stops the replies requested so far: the generating loop sees the request
 * between two tokens, so at most one more token is produced. The reply is
 * stored as it stands (complete, "reply-finished" says incomplete); a reply
 * once begun ("reply-started") is never stored empty: it gets its first
 * token, and a stop that comes before it begins stores no reply. A
 * prompt still being evaluated for one of them stops within milliseconds,
 * inside a forward pass too: its request fails with CANCELLED, the user
 * message stays stored, and the context keeps the passes that finished.
 * Has no effect on replies requested later. Any thread. */
void tern_service_stop (TernService *self);

/* The number of tokens of the reply being generated (or of the last one),
 * read atomically: for a live token count. Any thread. */
guint tern_service_get_reply_n_tokens (TernService *self);

/* Property getters, on the owner context. */
gboolean tern_service_get_model_loaded (TernService *self);
gint64 tern_service_get_model_id (TernService *self);
gint64 tern_service_get_conversation_id (TernService *self);
gboolean tern_service_get_generating (TernService *self);
gint tern_service_get_context_used (TernService *self);
gint tern_service_get_context_size (TernService *self);
gint tern_service_get_context_trained (TernService *self);
const char *tern_service_get_backend (TernService *self);
gboolean tern_service_get_waiting (TernService *self);

/* Threads, context size and backend for the models loaded from now on
 * (the one loaded keeps its own until loaded again); as in
 * tern_service_new. */
void tern_service_configure (TernService *self, guint n_threads, gint32 n_ctx, const char *backend,
                             GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data);
gboolean tern_service_configure_finish (TernService *self, GAsyncResult *result, GError **error);

/* ---- Models ---- */

/* Loads the GGUF model at @path in place of the one loaded, adds it to the
 * library when new, and makes a context for it (progress:
 * TERN_SERVICE_PHASE_LOAD). The file is checked in full before the loaded
 * model is touched: a file that fails (IO for a missing or unreadable file,
 * FORMAT, UNSUPPORTED, CANCELLED, store errors) leaves the loaded model and
 * the open conversation as they were. Only the new context (NOMEM) fails
 * after the old context is freed: the old model then gets a context again,
 * with no conversation open. _finish returns the model's library id, 0 on
 * error. */
void tern_service_load_model (TernService *self, const char *path, GCancellable *cancellable,
                              GAsyncReadyCallback callback, gpointer user_data);
gint64 tern_service_load_model_finish (TernService *self, GAsyncResult *result, GError **error);

/* Frees the model and its context, closing the open conversation. */
void tern_service_unload_model (TernService *self, GCancellable *cancellable, GAsyncReadyCallback callback,
                                gpointer user_data);
gboolean tern_service_unload_model_finish (TernService *self, GAsyncResult *result, GError **error);

/* ---- The open conversation ---- */

/* Opens conversation @id for chatting with the loaded model (which
 * becomes the conversation's model): its snapshot is restored when it
 * matches, otherwise its transcript is evaluated again (progress:
 * TERN_SERVICE_PHASE_INGEST); _finish says which (TernResumeKind), or -1
 * with an error: INVALID without a model or for an unknown id, CANCELLED,
 * store errors. */
void tern_service_open_conversation (TernService *self, gint64 id, GCancellable *cancellable,
                                     GAsyncReadyCallback callback, gpointer user_data);
int tern_service_open_conversation_finish (TernService *self, GAsyncResult *result, GError **error);

/* Adds the user message @text (valid UTF-8) to the open conversation and
 * generates the reply with the conversation's sampling settings, at most
 * @max_tokens tokens (0: until the context is full), streaming it through
 * "reply-started", "reply-delta" and "reply-finished"; the prompt's
 * evaluation reports progress (TERN_SERVICE_PHASE_PROMPT). When the
 * conversation is too long for the context, or the chat template refuses
 * it, its oldest turns are left out of the prompt (tern_session_fit).
 * @cancellable cancels the prompt's evaluation
 * (CANCELLED; the user message stays stored) and, once the reply streams,
 * stops it as tern_service_stop does. The message is stored only while the
 * conversation is as the service last read it: when another program added
 * to it meanwhile, nothing is stored and the error is CONFLICT (open the
 * conversation again). _finish returns the reply's message id, 0 on error:
 * INVALID without a model or an open conversation or for a message too
 * long for the context, CONFLICT, FORMAT for a damaged conversation, store
 * and compute errors. Whether the message was stored when it fails, its
 * conversation's messages say. */
void tern_service_send_message (TernService *self, const char *text, gint max_tokens, GCancellable *cancellable,
                                GAsyncReadyCallback callback, gpointer user_data);
gint64 tern_service_send_message_finish (TernService *self, GAsyncResult *result, GError **error);

/* Generates another reply to the last user message of the open
 * conversation's branch, as a new branch beside the reply it had (which
 * is kept). As tern_service_send_message otherwise; INVALID when the
 * branch has no user message. */
void tern_service_regenerate (TernService *self, gint max_tokens, GCancellable *cancellable,
                              GAsyncReadyCallback callback, gpointer user_data);
gint64 tern_service_regenerate_finish (TernService *self, GAsyncResult *result, GError **error);

/* Edit and resend: adds @text as a new user message beside the user
 * message @message_id of the open conversation's branch (same parent: a
 * new branch, the original is kept) and generates its reply, as
 * tern_service_send_message does. INVALID for a message that is not a
 * user message of the open conversation. */
void tern_service_edit_message (TernService *self, gint64 message_id, const char *text, gint max_tokens,
                                GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data);
gint64 tern_service_edit_message_finish (TernService *self, GAsyncResult *result, GError **error);

/* Shows another branch of the open conversation: the branch @offset
 * places beside message @message_id among the messages sharing its
 * parent (-1: the one before, 1: the one after, 0: its own), continued
 * by its newest messages (see tern_store_branch_leaf), becomes the one
 * shown, and the context is brought to its end as opening does
 * (progress: TERN_SERVICE_PHASE_INGEST). _finish gives the TernResumeKind, or -1 with an
 * error (INVALID for a message not in the conversation or an offset past
 * the branches). */
void tern_service_switch_branch (TernService *self, gint64 message_id, gint offset, GCancellable *cancellable,
                                 GAsyncReadyCallback callback, gpointer user_data);
int tern_service_switch_branch_finish (TernService *self, GAsyncResult *result, GError **error);

/* Saves the state of the open conversation as a snapshot at its head
 * (replies save one on their own). _finish returns the snapshot id, 0 when
 * it was over the snapshot size limit and not kept, -1 on error. */
void tern_service_save_snapshot (TernService *self, GCancellable *cancellable, GAsyncReadyCallback callback,
                                 gpointer user_data);
gint64 tern_service_save_snapshot_finish (TernService *self, GAsyncResult *result, GError **error);

/* ---- Store queries and updates (see tern/store.h for each) ---- */

/* Conversations newest first (TernConversation; @limit < 0: all). */
void tern_service_list_conversations (TernService *self, gboolean trashed, gint64 offset, gint64 limit,
                                      GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data);
GPtrArray *tern_service_list_conversations_finish (TernService *self, GAsyncResult *result, GError **error);

/* Full-text search (TernSearchHit), matches between @open and @close. */
void tern_service_search (TernService *self, const char *text, const char *open, const char *close, gint64 limit,
                          GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data);
GPtrArray *tern_service_search_finish (TernService *self, GAsyncResult *result, GError **error);

/* The messages of conversation @id's branch shown (TernMessage, with
 * their n_branches and branch_index). */
void tern_service_list_messages (TernService *self, gint64 id, GCancellable *cancellable,
                                 GAsyncReadyCallback callback, gpointer user_data);
GPtrArray *tern_service_list_messages_finish (TernService *self, GAsyncResult *result, GError **error);

/* A new empty conversation with the loaded model (none when no model is
 * loaded); @system_prompt may be NULL, @sampling NULL for the defaults.
 * _finish returns its id, 0 on error. */
void tern_service_new_conversation (TernService *self, const char *title, const char *system_prompt,
                                    const TernSamplerParams *sampling, GCancellable *cancellable,
                                    GAsyncReadyCallback callback, gpointer user_data);
gint64 tern_service_new_conversation_finish (TernService *self, GAsyncResult *result, GError **error);

void tern_service_rename_conversation (TernService *self, gint64 id, const char *title, GCancellable *cancellable,
                                       GAsyncReadyCallback callback, gpointer user_data);
gboolean tern_service_rename_conversation_finish (TernService *self, GAsyncResult *result, GError **error);

/* Settings for the replies to come (validated: INVALID). */
void tern_service_set_sampling (TernService *self, gint64 id, const TernSamplerParams *sampling,
                                GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data);
gboolean tern_service_set_sampling_finish (TernService *self, GAsyncResult *result, GError **error);

void tern_service_set_system_prompt (TernService *self, gint64 id, const char *system_prompt,
                                     GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data);
gboolean tern_service_set_system_prompt_finish (TernService *self, GAsyncResult *result, GError **error);

/* The longest reply of conversation @id, in tokens (0: until the context
 * is full). The service does not apply it on its own: callers pass it as
 * the max_tokens of the generations they request. */
void tern_service_set_max_tokens (TernService *self, gint64 id, gint max_tokens, GCancellable *cancellable,
                                  GAsyncReadyCallback callback, gpointer user_data);
gboolean tern_service_set_max_tokens_finish (TernService *self, GAsyncResult *result, GError **error);

/* The most space snapshots may take, in bytes (see
 * tern_store_set_snapshot_limit). */
void tern_service_set_snapshot_limit (TernService *self, gint64 bytes, GCancellable *cancellable,
                                      GAsyncReadyCallback callback, gpointer user_data);
gboolean tern_service_set_snapshot_limit_finish (TernService *self, GAsyncResult *result, GError **error);

/* Delete (to the trash, closing it when open) and undo. */
void tern_service_delete_conversation (TernService *self, gint64 id, GCancellable *cancellable,
                                       GAsyncReadyCallback callback, gpointer user_data);
gboolean tern_service_delete_conversation_finish (TernService *self, GAsyncResult *result, GError **error);
void tern_service_restore_conversation (TernService *self, gint64 id, GCancellable *cancellable,
                                        GAsyncReadyCallback callback, gpointer user_data);
gboolean tern_service_restore_conversation_finish (TernService *self, GAsyncResult *result, GError **error);
/* Deletes trashed conversation @id for good (INVALID when it is not in
 * the trash). */
void tern_service_purge_conversation (TernService *self, gint64 id, GCancellable *cancellable,
                                      GAsyncReadyCallback callback, gpointer user_data);
gboolean tern_service_purge_conversation_finish (TernService *self, GAsyncResult *result, GError **error);
/* Deletes for good the conversations trashed before @before (microseconds
 * since the epoch; G_MAXINT64: the whole trash). _finish returns how many,
 * -1 on error. */
void tern_service_empty_trash (TernService *self, gint64 before, GCancellable *cancellable,
                               GAsyncReadyCallback callback, gpointer user_data);
gint64 tern_service_empty_trash_finish (TernService *self, GAsyncResult *result, GError **error);

/* A copy with every message and branch, not the snapshots; its id. */
void tern_service_duplicate_conversation (TernService *self, gint64 id, GCancellable *cancellable,
                                          GAsyncReadyCallback callback, gpointer user_data);
gint64 tern_service_duplicate_conversation_finish (TernService *self, GAsyncResult *result, GError **error);

/* The model library: add a file (its id), list (TernStoreModel), remove
 * (the file is kept), check (TernModelStatus, -1 on error). */
void tern_service_add_model (TernService *self, const char *path, GCancellable *cancellable,
                             GAsyncReadyCallback callback, gpointer user_data);
gint64 tern_service_add_model_finish (TernService *self, GAsyncResult *result, GError **error);
void tern_service_list_models (TernService *self, GCancellable *cancellable, GAsyncReadyCallback callback,
                               gpointer user_data);
GPtrArray *tern_service_list_models_finish (TernService *self, GAsyncResult *result, GError **error);
void tern_service_remove_model (TernService *self, gint64 id, GCancellable *cancellable,
                                GAsyncReadyCallback callback, gpointer user_data);
gboolean tern_service_remove_model_finish (TernService *self, GAsyncResult *result, GError **error);
/* Renames model @id in the library (tern_store_model_rename: INVALID for an
 * empty name); the main thread calls it, the answer comes there. */
void tern_service_rename_model (TernService *self, gint64 id, const char *name, GCancellable *cancellable,
                                GAsyncReadyCallback callback, gpointer user_data);
gboolean tern_service_rename_model_finish (TernService *self, GAsyncResult *result, GError **error);
void tern_service_check_model (TernService *self, gint64 id, GCancellable *cancellable,
                               GAsyncReadyCallback callback, gpointer user_data);
int tern_service_check_model_finish (TernService *self, GAsyncResult *result, GError **error);

/* ---- Compression ---- */

/* How a compression advances: @fraction of @phase done (0 to 1, only
 * growing; the last is 1) and an estimate of the @seconds_left (-1 while
 * there is none yet). */
typedef void (*TernServiceCompressProgressFn) (TernServicePhase phase, double fraction, double seconds_left,
                                               gpointer user_data);

/* Compresses library model @model_id as @params say (tern_compress) into
 * a new file and adds that to the library beside it, named after it ("kjv
 * · TQ2_0"), with the compression's report and the link to the original
 * (tern_store_model_set_compression). The file is @out_path, or when NULL
 * one named after the original's file ("kjv-tq2_0.gguf") in its folder,
 * or when that folder cannot be written in the "models" folder beside the
 * service's database; an existing file is never replaced: the name gets
 * " (2)", " (3)"… instead. The calibrated method and a size target
 * (@params max_size) read the text file @calibration (may be NULL
 * otherwise). With @eval_text (a
 * held-out text file, may be NULL) both models are then measured on it
 * (tern_compress_evaluate, the MEASURE phase) and the report carries their
 * quality and the verdict.
 *
 * The work runs on a thread of its own, so that the engine thread's
 * requests (a chat) go on meanwhile. @progress (may be NULL) is called on
 * the owner context, at most about ten times a second, until the callback
 * runs or @cancellable is cancelled; @progress_data must live until then. @cancellable (or shutdown)
 * stops it: then, as on any error, there is no new file and no library
 * entry. _finish returns the new model's library id, 0 on error:
 * READ_ONLY for a read-only service, INVALID for an unknown model,
 * CANCELLED, and tern_compress's and the store's errors. */
void tern_service_compress_model (TernService *self, gint64 model_id, const TernCompressParams *params,
                                  const char *out_path, const char *calibration, const char *eval_text,
                                  TernServiceCompressProgressFn progress,
                                  gpointer progress_data, GCancellable *cancellable, GAsyncReadyCallback callback,
                                  gpointer user_data);
gint64 tern_service_compress_model_finish (TernService *self, GAsyncResult *result, GError **error);

G_END_DECLS
