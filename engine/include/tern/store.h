/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>
#include <tern/model-identity.h>
#include <tern/sampler-params.h>
#include <tern/stream.h>

G_BEGIN_DECLS

/* The store: Tern's one SQLite database — the model library, the
 * conversations and their messages, state snapshots and settings.
 *
 * Files: by default $TERN_DATA_DIR/tern.db, or without that variable
 * g_get_user_data_dir()/tern/tern.db; the folder is made when missing.
 *
 * Safety: every write is one transaction, committed before the call
 * returns, so a message that was added is on disk, and a crash, a kill or
 * a power cut loses nothing committed. A reply being generated is
 * checkpointed as it streams (TernReply) and stays flagged incomplete
 * until it is finished; one found incomplete later was interrupted. A
 * failed write (I/O error, disk full) rolls back whole and leaves what was
 * committed before intact.
 *
 * Errors, all in TERN_ENGINE_ERROR: READ_ONLY when the database or its
 * folder cannot be written (permissions, a read-only disk, a store opened
 * read-only), FULL for a full disk, LOCKED when opening waited
 * TERN_STORE_OPEN_WAIT_MS for another program's lock, IO for another I/O
 * error (with SQLite's message), FORMAT for a file that is not a Tern
 * database or is corrupt, MISMATCH for a database of a newer schema than
 * this Tern knows (refused, never changed), INVALID for an unknown id or a bad
 * argument, CANCELLED for a call cancelled (tern_store_set_cancellable),
 * CONFLICT for a compare-and-set that lost to another program.
 *
 * The store keeps bytes and identities: it never loads a model or a
 * context. Loading a library model and saving or restoring a context's
 * snapshot are the session's (tern/model-library.h, tern/snapshot.h). 
 *
 * Threads: a TernStore is owned by one thread, the engine thread, which
 * makes every call on it and frees it; objects it returns are plain copies
 * that may go to any thread. Other processes (tern-cli) may open the same
 * file at the same time: SQLite's locks serialise writers, and a call that
 * needs the write lock waits for it as long as another program holds it
 * (see tern_store_set_busy_func), until its cancellable is cancelled.
 * Reads never wait for a writer (the database is in WAL mode), opening
 * included: a database that is already up to date opens without the write
 * lock.
 *
 * Damage: a conversation whose messages do not form chains (a parent
 * cycle, a parent or head that is missing or belongs to another
 * conversation), as only a program writing the file directly can make,
 * makes every call that follows its chains fail with FORMAT, naming the
 * conversation and `tern-cli history check --repair`; tern_store_check
 * finds and repairs such damage. */

/* The schema version this Tern writes (PRAGMA user_version). */
#define TERN_STORE_SCHEMA_VERSION 4

typedef struct TernStore TernStore;

/* The default database path (see above). Free with g_free. */
char *tern_store_default_path (void);

/* How long opening waits for another program's write lock (a schema
 * upgrade, a new database) before it fails with LOCKED: opening has no
 * cancellable to stop the wait. */
#define TERN_STORE_OPEN_WAIT_MS 3000

/* Opens (creating if needed) the database at @path, or the default path
 * when @path is NULL, and upgrades its schema to the current version.
 * INVALID when @path is not a regular file (a device, a pipe, a folder),
 * READ_ONLY (or FULL, IO) when it is missing and its folder cannot be
 * written: both before anything is created. */
TernStore *tern_store_open (const char *path, GError **error);
/* Opens the existing database at @path (NULL: the default path) for
 * reading only: nothing is created, migrated or written (no journal mode
 * change, no checkpoint), and every writing call fails with READ_ONLY. A
 * database of a newer schema opens too (its tables only grew); one of an
 * older schema fails with MISMATCH (upgrading it needs writing). Opening
 * needs no lock. */
TernStore *tern_store_open_read_only (const char *path, GError **error);
/* Whether @store was opened with tern_store_open_read_only. */
gboolean tern_store_is_read_only (const TernStore *store);
void tern_store_free (TernStore *store);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TernStore, tern_store_free)

const char *tern_store_path (const TernStore *store);

/* ---- Waiting and cancelling ---- */

/* How long a call waits for another program's lock before the store says
 * so. */
#define TERN_STORE_BUSY_NOTICE_MS 250

/* Told that a call is waiting for another program's lock on the database,
 * on the thread making the call: each time the store looks again (every
 * few milliseconds) once the wait has lasted TERN_STORE_BUSY_NOTICE_MS,
 * @first TRUE the first time in a wait, so that the caller can say once
 * that it waits. Returns TRUE to go on waiting, FALSE to give up (the call
 * then fails with CANCELLED, having written nothing). It must not call the
 * store. */
typedef gboolean (*TernStoreBusyFn) (TernStore *store, gboolean first, gpointer user_data);

/* Sets the function told of waits (NULL: none, and a call waits as long as
 * the lock is held, or until it is cancelled). */
void tern_store_set_busy_func (TernStore *store, TernStoreBusyFn fn, gpointer user_data);

/* Sets the cancellable of the calls made from now on (NULL: none; the store
 * holds a reference until it is replaced or the store is freed). Cancelling
 * it, from any thread, ends the call in progress within a few milliseconds
 * with CANCELLED and nothing of it written (its transaction is rolled
 * back): a call waiting for another program's lock, and the long ones as
 * they go (an export, an import, a search, a snapshot saved or read,
 * emptying the trash). A call made while it is cancelled may fail
 * with CANCELLED at any point before it commits. */
void tern_store_set_cancellable (TernStore *store, GCancellable *cancellable);

/* Groups the writes between begin and commit into one transaction (an
 * import, a bulk change): faster, and all or nothing. Each call inside
 * still rolls back its own part when it fails; rollback drops them all. */
gboolean tern_store_begin (TernStore *store, GError **error);
gboolean tern_store_commit (TernStore *store, GError **error);
void tern_store_rollback (TernStore *store);

/* Settings: text values by key. get returns NULL (no error) when unset. */
gboolean tern_store_set_setting (TernStore *store, const char *key, const char *value, GError **error);
char *tern_store_get_setting (TernStore *store, const char *key, GError **error);

/* ---- Model library ---- */

typedef struct {
  gint64 id;
  char *path;
  char *name;          /* general.name, or the file name */
  char *arch;          /* general.architecture */
  gint64 n_params;
  char *tensor_types;  /* "q4_K 155, f32 45": types by tensor count, most first */
  gint32 n_ctx_train;  /* 0 when the file does not say */
  TernModelIdentity identity; /* identity.size is the file size */
  gint64 added_at;     /* microseconds since the epoch */
  gint64 last_used_at; /* 0: never */
  /* For a model made by compressing another: the library model it was made
   * from (0 when it was not, or when that entry has been removed) and the
   * compression's report as JSON text (tern_compress_report_to_json; NULL
   * when not compressed). */
  gint64 compressed_from;
  char *compression_report;
} TernStoreModel;

void tern_store_model_free (TernStoreModel *model);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TernStoreModel, tern_store_model_free)

typedef enum {
  TERN_MODEL_OK,      /* the file is there and is the one added */
  TERN_MODEL_MISSING, /* nothing at the path (moved or deleted) */
  TERN_MODEL_CHANGED, /* a file at the path, but not the one added */
} TernModelStatus;

/* Adds the GGUF file at @path (made absolute) to the library, reading its
 * metadata, and returns its id; a path already in the library is read
 * again and keeps its id. Errors: IO, FORMAT, UNSUPPORTED for the file. */
gint64 tern_store_model_add (TernStore *store, const char *path, GError **error);
TernStoreModel *tern_store_model_get (TernStore *store, gint64 id, GError **error);
/* Every model in the library (TernStoreModel): the used ones most recently
 * used first, then those never used by name. */
GPtrArray *tern_store_model_list (TernStore *store, GError **error);
/* Removes a model from the library (not the file). Conversations keep
 * their transcripts and lose the link; its snapshots go. */
gboolean tern_store_model_remove (TernStore *store, gint64 id, GError **error);
/* Compares the file at the model's path with the identity recorded when it
 * was added. FALSE only for an unknown id or a database error. */
gboolean tern_store_model_check (TernStore *store, gint64 id, TernModelStatus *status, GError **error);
/* Gives the model the name @name (trimmed; not empty: INVALID), kept
 * when the same file is added again. */
gboolean tern_store_model_rename (TernStore *store, gint64 id, const char *name, GError **error);
/* Records that model @id was made by compressing library model @from_id
 * (0: unknown) and the report it came with (@report_json, a JSON object's
 * text, copied). Forgotten when another file takes the model's path.
 * Errors: INVALID for an unknown id or text that is not a JSON object,
 * READ_ONLY. */
gboolean tern_store_model_set_compression (TernStore *store, gint64 id, gint64 from_id, const char *report_json,
                                           GError **error);
/* Records that the model was just loaded (its last_used_at). */
gboolean tern_store_model_mark_used (TernStore *store, gint64 id, GError **error);

/* ---- Conversations and messages ---- */

typedef enum {
  TERN_ROLE_SYSTEM,
  TERN_ROLE_USER,
  TERN_ROLE_ASSISTANT,
} TernRole;

const char *tern_role_name (TernRole role); /* "system", "user", "assistant" */
gboolean tern_role_from_name (const char *name, TernRole *role);

typedef struct {
  gint64 id;
  char *title;
  gint64 model_id;          /* 0: none */
  char *system_prompt;      /* "" when none */
  TernSamplerParams sampling;
  gint32 max_tokens;        /* the longest reply, in tokens; 0: until the context is full */
  gint64 created_at;        /* microseconds since the epoch */
  gint64 updated_at;        /* the last change, or the last message */
  gint64 trashed_at;        /* 0: not in the trash */
  gint64 head_id;           /* the last message of the branch shown; 0: no messages */
  gint64 n_messages;        /* in all branches */
} TernConversation;

void tern_conversation_free (TernConversation *conversation);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TernConversation, tern_conversation_free)

/* A message. Edits and regenerations never overwrite one: they add a
 * message with the same parent, starting a branch. */
typedef struct {
  gint64 id;
  gint64 conversation_id;
  gint64 parent_id;      /* 0: the first message of the conversation (of its branch) */
  TernRole role;
  char *content;
  gint64 created_at;     /* microseconds since the epoch */
  gint32 n_tokens;
  gboolean complete;     /* FALSE: being generated, or interrupted by a crash */
  /* The branches at this message: how many messages share its parent,
   * and its place among them, oldest first. Set by
   * tern_store_conversation_messages only (1 and 0 elsewhere). */
  gint32 n_branches;
  gint32 branch_index;
  /* Engine caches, valid under the conversation's model only (NULL when
   * unknown): the token ids the message put in the context, and the
   * sampler state after it. They let the transcript be evaluated again to
   * exactly the state it had; changing the model clears them. */
  GArray *tokens;        /* TernToken */
  GBytes *sampler_state; /* tern_sampler_save */
} TernMessage;

void tern_message_free (TernMessage *message);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TernMessage, tern_message_free)

/* A new, empty conversation; returns its id (0 on error). @model_id may be
 * 0, @system_prompt NULL, @sampling NULL for the defaults. */
gint64 tern_store_conversation_new (TernStore *store, const char *title, gint64 model_id, const char *system_prompt,
                                    const TernSamplerParams *sampling, GError **error);
TernConversation *tern_store_conversation_get (TernStore *store, gint64 id, GError **error);
gboolean tern_store_conversation_rename (TernStore *store, gint64 id, const char *title, GError **error);
gboolean tern_store_conversation_set_system_prompt (TernStore *store, gint64 id, const char *system_prompt,
                                                    GError **error);
/* Settings for the replies to come; a reply's sampler state carries on. */
gboolean tern_store_conversation_set_sampling (TernStore *store, gint64 id, const TernSamplerParams *sampling,
                                               GError **error);
/* The longest reply to generate, in tokens (0: until the context is
 * full; INVALID when negative). */
gboolean tern_store_conversation_set_max_tokens (TernStore *store, gint64 id, gint32 max_tokens, GError **error);
/* Moves the conversation to another model (0: none). Its messages' engine
 * caches and its snapshots belong to the old one and are dropped. */
gboolean tern_store_conversation_set_model (TernStore *store, gint64 id, gint64 model_id, GError **error);
/* Shows the branch ending at @message_id, a message of the conversation. */
gboolean tern_store_conversation_set_head (TernStore *store, gint64 id, gint64 message_id, GError **error);

/* Delete and undo: a trashed conversation leaves the list and search
 * until it is restored or the trash is emptied (for good). */
gboolean tern_store_conversation_trash (TernStore *store, gint64 id, GError **error);
gboolean tern_store_conversation_untrash (TernStore *store, gint64 id, GError **error);
/* Deletes every trashed conversation; returns how many, or -1 on error. */
gint64 tern_store_empty_trash (TernStore *store, GError **error);
/* Deletes the conversations trashed before @before (microseconds since
 * the epoch, as trashed_at); returns how many, or -1 on error. */
gint64 tern_store_empty_trash_before (TernStore *store, gint64 before, GError **error);
/* Deletes trashed conversation @id for good (INVALID when it is not in
 * the trash: a conversation in use is never deleted here). */
gboolean tern_store_conversation_purge (TernStore *store, gint64 id, GError **error);
/* A copy with every message and branch (not the snapshots); returns its id. */
gint64 tern_store_conversation_duplicate (TernStore *store, gint64 id, GError **error);

/* Conversations newest first (by updated_at, then id), @limit from
 * @offset, in the trash or not. Returns TernConversation. */
GPtrArray *tern_store_conversation_list (TernStore *store, gboolean trashed, gint64 offset, gint64 limit,
                                         GError **error);
gint64 tern_store_conversation_count (TernStore *store, gboolean trashed, GError **error);

/* Pass as a parent to add after the head of the branch shown. */
#define TERN_STORE_HEAD ((gint64) -1)

/* Adds a complete message after @parent_id (0: as a first message,
 * TERN_STORE_HEAD: after the head) and makes it the head. @tokens and
 * @sampler_state may be NULL. Returns its id, 0 on error.
 *
 * Texts (message contents, replies, titles, system prompts) are
 * NUL-terminated UTF-8: the store refuses text that is not UTF-8 with
 * INVALID and never changes what it is given. Input that may hold a NUL
 * or bytes that are not UTF-8 (a line read from a pipe) must be refused
 * or mended by the caller before it gets here, never cut at the NUL:
 * tern-cli chat refuses such a line and says why; an import mends it
 * (tern_store_import_full). */
gint64 tern_store_message_add (TernStore *store, gint64 conversation_id, gint64 parent_id, TernRole role,
                               const char *content, const TernToken *tokens, gint32 n_tokens,
                               GBytes *sampler_state, GError **error);
/* Compare-and-set, for a program that shows a conversation and adds to it
 * (tern-cli chat, the app), so that two of them never weave their messages
 * into one chain: as tern_store_message_add, provided the conversation's
 * head is still @head_id, the head the caller last read or made (0: no
 * messages), when the write holds the lock. Otherwise nothing is written
 * and the error is CONFLICT ("conversation N was changed by another
 * program; open it again"). @parent_id TERN_STORE_HEAD adds after
 * @head_id; another parent starts a branch, as an edit does. */
gint64 tern_store_message_add_if_head (TernStore *store, gint64 conversation_id, gint64 head_id, gint64 parent_id,
                                       TernRole role, const char *content, const TernToken *tokens, gint32 n_tokens,
                                       GBytes *sampler_state, GError **error);
TernMessage *tern_store_message_get (TernStore *store, gint64 id, GError **error);
/* The messages of the branch ending at @leaf_id (0: the head), first to
 * last. Returns TernMessage. */
GPtrArray *tern_store_conversation_messages (TernStore *store, gint64 conversation_id, gint64 leaf_id,
                                             GError **error);
/* The last message of the newest branch through @message_id: following
 * the newest reply down from it. What to show when the user picks the
 * branch starting at @message_id. Returns 0 on error. */
gint64 tern_store_branch_leaf (TernStore *store, gint64 conversation_id, gint64 message_id, GError **error);
/* The messages whose parent is @parent_id (0: the first messages), oldest
 * first: the branches at that point. Returns TernMessage. */
GPtrArray *tern_store_message_children (TernStore *store, gint64 conversation_id, gint64 parent_id,
                                        GError **error);

/* A reply being generated. begin commits an empty incomplete assistant
 * message and makes it the head; update checkpoints the text so far when a
 * second has passed or TERN_REPLY_CHECKPOINT_TOKENS tokens came since the
 * last checkpoint (otherwise it only remembers it); finish commits the
 * whole reply as complete. Freeing an unfinished reply leaves its last
 * checkpoint, flagged incomplete. The store must outlive it. */
#define TERN_REPLY_CHECKPOINT_TOKENS 32
#define TERN_REPLY_CHECKPOINT_US G_USEC_PER_SEC

typedef struct TernReply TernReply;

TernReply *tern_store_reply_begin (TernStore *store, gint64 conversation_id, gint64 parent_id, GError **error);
/* begin as a compare-and-set on the head (see tern_store_message_add_if_head). */
TernReply *tern_store_reply_begin_if_head (TernStore *store, gint64 conversation_id, gint64 head_id, gint64 parent_id,
                                           GError **error);
gint64 tern_reply_id (const TernReply *reply);
gboolean tern_reply_update (TernReply *reply, const char *content, const TernToken *tokens, gint32 n_tokens,
                            GError **error);
gboolean tern_reply_finish (TernReply *reply, const char *content, const TernToken *tokens, gint32 n_tokens,
                            GBytes *sampler_state, GError **error);
void tern_reply_free (TernReply *reply);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TernReply, tern_reply_free)

/* ---- Search, export, import ---- */

typedef struct {
  gint64 conversation_id;
  gint64 message_id;
  char *title;   /* of the conversation */
  TernRole role;
  char *snippet; /* the matching text around the match, marked as asked */
  gint64 created_at;
} TernSearchHit;

void tern_search_hit_free (TernSearchHit *hit);

/* Full-text search over the messages of conversations not in the trash:
 * every word of @text must occur (the last one as a prefix); words are
 * matched without case or accents. Best matches first. Returns
 * TernSearchHit, with matches in snippets between @open and @close. */
GPtrArray *tern_store_search (TernStore *store, const char *text, const char *open, const char *close,
                              gint64 offset, gint64 limit, GError **error);

typedef enum {
  TERN_EXPORT_MARKDOWN, /* for people: each conversation's shown branch */
  TERN_EXPORT_JSON,     /* for backup: everything, every branch; import reads it back */
} TernExportFormat;

/* Exports the conversations @ids (all those not in the trash when @n_ids
 * is 0), oldest first. Returns the text, NULL on error. */
char *tern_store_export (TernStore *store, const gint64 *ids, gsize n_ids, TernExportFormat format,
                         GError **error);

/* The largest JSON text an import reads (UNSUPPORTED beyond), and the
 * deepest nesting of its arrays and objects (FORMAT beyond; an export
 * needs 5 levels). */
#define TERN_STORE_IMPORT_MAX_BYTES ((gsize) 64 << 20)
#define TERN_STORE_IMPORT_MAX_DEPTH 64

/* Imports conversations from JSON written by tern_store_export, all or
 * none; their ids are appended to @ids when given. Exporting them again
 * gives the same JSON. A model is linked when its path is in the library.
 * FORMAT for text that is not such JSON (the message gives the line and
 * column where it fails, never the text there).
 *
 * Text the store cannot keep as it is (every text the store holds is
 * UTF-8 without NUL, see tern_store_message_add) is replaced, not
 * refused, so that no backup is unrestorable: each byte that does not
 * start a valid UTF-8 character, each NUL (raw or \u0000) and each
 * escaped surrogate that is not half of a pair becomes U+FFFD, and
 * *@n_replaced (when given) says how many; the caller should tell the
 * user. An export therefore always imports again to the same export. */
gboolean tern_store_import_full (TernStore *store, const char *json, gssize len, GArray *ids, gsize *n_replaced,
                                 GError **error);
/* tern_store_import_full without the count. */
gboolean tern_store_import (TernStore *store, const char *json, gssize len, GArray *ids, GError **error);

/* ---- Checking and repairing ---- */

/* Checks the whole database: SQLite's quick_check, every conversation's
 * chains (a parent cycle; a parent missing or in another conversation; a
 * head missing, in another conversation, or none while there are
 * messages), the search index against the messages, and snapshots whose
 * conversation or message is gone. Appends one sentence per problem found
 * to @problems (char *, g_free) and returns TRUE, or FALSE with @error when
 * the check itself cannot be made. It holds the write lock while it runs
 * (FTS5's check is written as an insert), looking only or not.
 *
 * With @repair it fixes them, in one transaction (all or nothing), and each
 * sentence also says what it changed: a cycle is broken where it closes
 * (its oldest message becomes a first message), a message whose parent is
 * missing or foreign becomes a first message, a bad head is pointed at the
 * conversation's newest message, the search index is rebuilt, orphan
 * snapshots are dropped. What quick_check finds is reported, never
 * repaired (that needs a backup). */
gboolean tern_store_check (TernStore *store, gboolean repair, GPtrArray *problems, GError **error);

/* ---- State snapshots ---- */

typedef struct {
  gint64 id;
  gint64 conversation_id;
  gint64 message_id;   /* the last message the state holds; 0: none */
  gint32 n_tokens;
  gint64 size;         /* stored bytes */
  gint64 created_at;
  gint64 used_at;      /* the last save or restore */
} TernSnapshotEntry;

/* Writes a snapshot's bytes through @write (given @write_data) and sets
 * *@size to how many it wrote; FALSE with @error when it cannot. */
typedef gboolean (*TernSnapshotWriteFn) (TernStreamWriteFn write, gpointer write_data, guint64 *size,
                                         gpointer user_data, GError **error);
/* Reads a snapshot's @size bytes through @read (given @read_data), all of
 * them; FALSE with @error when they are not what it expects. */
typedef gboolean (*TernSnapshotReadFn) (TernStreamReadFn read, gpointer read_data, guint64 size,
                                        gpointer user_data, GError **error);

/* Stores the bytes @produce writes (the state after @n_tokens tokens) as the
 * snapshot of the conversation's branch at @message_id (0: before any
 * message), replacing the older snapshots of that branch, then evicts the
 * least recently used snapshots until the total fits the limit. Returns the
 * snapshot's id, or 0 with no error when it alone is over the limit and was
 * not kept; -1 on error (nothing changed then). Memory: one chunk,
 * whatever the size. */
gint64 tern_store_snapshot_save (TernStore *store, gint64 conversation_id, gint64 message_id, gint32 n_tokens,
                                 TernSnapshotWriteFn produce, gpointer user_data, GError **error);

/* The id of the snapshot at @message_id of the conversation, 0 when there
 * is none; -1 on error. */
gint64 tern_store_snapshot_find (TernStore *store, gint64 conversation_id, gint64 message_id, GError **error);

/* Hands snapshot @id's bytes to @consume, in one read transaction, and
 * marks it used when @consume took them all. FORMAT when the stored bytes
 * are longer than it read. */
gboolean tern_store_snapshot_read (TernStore *store, gint64 id, TernSnapshotReadFn consume, gpointer user_data,
                                   GError **error);

gboolean tern_store_snapshot_delete (TernStore *store, gint64 id, GError **error);
/* Snapshots of a conversation (0: all), most recently used first. */
GPtrArray *tern_store_snapshot_list (TernStore *store, gint64 conversation_id, GError **error);
gint64 tern_store_snapshot_total_size (TernStore *store, GError **error);

/* The cap on the total size of snapshots, in bytes (a setting); the
 * default is TERN_STORE_SNAPSHOT_LIMIT_DEFAULT. Lowering it evicts at once. */
#define TERN_STORE_SNAPSHOT_LIMIT_DEFAULT ((gint64) 4 << 30)
gint64 tern_store_get_snapshot_limit (TernStore *store);
gboolean tern_store_set_snapshot_limit (TernStore *store, gint64 bytes, GError **error);

G_END_DECLS
