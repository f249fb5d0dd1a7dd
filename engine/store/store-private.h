/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/* What the store's files (store*.c) share, and the tests may use. */

#include <sqlite3.h>
#include <tern/error.h>
#include <tern/store.h>

G_BEGIN_DECLS

struct TernStore {
  sqlite3 *db;
  char *path;
  GHashTable *stmts; /* SQL text -> prepared statement, kept for the store's life */
  gint64 clock_next;  /* tern_store_set_clock: the next stamp; clock_step 0: the real time */
  gint64 clock_step;
  GCancellable *cancellable; /* of the calls in progress; NULL: none */
  TernStoreBusyFn busy_fn;
  gpointer busy_data;
  gint64 busy_since;  /* monotonic time the current wait began */
  gboolean busy_told; /* busy_fn was told of the current wait */
  gboolean busy_refused; /* busy_fn gave the last wait up */
  gboolean busy_expired; /* the last wait passed the opening's limit (TERN_STORE_OPEN_WAIT_MS) */
  gboolean opening;      /* the database is being opened: waits are limited */
  gboolean read_only;    /* opened with tern_store_open_read_only */
};

/* Opens @path and upgrades its schema to @version only (tests build
 * databases of earlier versions with it). */
TernStore *tern_store_open_at_version (const char *path, int version, GError **error);

/* The time the store records (a conversation's or message's creation, a
 * change, the trash, a model's or snapshot's use), in microseconds since
 * the epoch: the real time, or after tern_store_set_clock @start_us and then
 * @step_us (> 0) more at each reading, so that a test's stamps are the
 * same in every run (golden exports). */
gint64 tern_store_now (TernStore *store);
void tern_store_set_clock (TernStore *store, gint64 start_us, gint64 step_us);

/* Sets @error from the connection's last error by SQLite's code: READ_ONLY,
 * FULL, LOCKED, FORMAT, NOMEM, INVALID or else IO, with a plain cause
 * (SQLite's message for IO) after @what. Returns FALSE. */
gboolean tern_store_fail (TernStore *store, const char *what, GError **error);

/* A cached prepared statement for @sql, reset and unbound; release it with
 * g_autoptr (StoreStmt) so it is reset again after use. */
typedef sqlite3_stmt StoreStmt;
StoreStmt *tern_store_prepare (TernStore *store, const char *sql, GError **error);
void tern_store_stmt_release (StoreStmt *stmt);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (StoreStmt, tern_store_stmt_release)

/* Steps @stmt to completion (a statement returning no rows). */
gboolean tern_store_step_done (TernStore *store, StoreStmt *stmt, const char *what, GError **error);
/* Runs SQL without parameters. */
gboolean tern_store_exec (TernStore *store, const char *sql, GError **error);

/* One write: a transaction of its own, or a savepoint inside the caller's
 * transaction (tern_store_begin), so writes nest. */
typedef struct {
  gboolean nested;
} StoreTxn;

gboolean tern_store_txn_begin (TernStore *store, StoreTxn *txn, GError **error);
gboolean tern_store_txn_commit (TernStore *store, StoreTxn *txn, GError **error);
void tern_store_txn_rollback (TernStore *store, StoreTxn *txn);

/* FALSE with a CANCELLED error when the store's cancellable is cancelled:
 * for loops that do work between statements. */
gboolean tern_store_check_cancelled (TernStore *store, GError **error);

/* TRUE when @text is UTF-8 text; otherwise an INVALID error saying the
 * @what is not. */
gboolean tern_store_check_text (const char *what, const char *text, GError **error);

/* An INVALID error: no @what with id @id. Returns FALSE. */
gboolean tern_store_no_such (const char *what, gint64 id, GError **error);

/* Runs @sql, a SELECT of one row whose ?1 is @id, and returns the row as
 * @read_row makes it; NULL with an INVALID error naming @what when there is
 * no such row, or the store's error. */
typedef gpointer (*StoreReadRowFn) (StoreStmt *stmt);
gpointer tern_store_get_by_id (TernStore *store, const char *sql, gint64 id, const char *what, StoreReadRowFn read_row,
                               GError **error);

/* Column helpers: text or "" for NULL; an i32 array blob as a GArray of
 * TernToken (NULL for NULL); a blob as GBytes (NULL for NULL). */
char *tern_store_column_text (StoreStmt *stmt, int col);
GArray *tern_store_column_tokens (StoreStmt *stmt, int col);
GBytes *tern_store_column_bytes (StoreStmt *stmt, int col);

/* store-conversations.c: reading a conversation or message row as
 * selected by STORE_CONVERSATION_COLUMNS / STORE_MESSAGE_COLUMNS. */
#define STORE_CONVERSATION_COLUMNS                                                                         \
  "c.id, c.title, c.model_id, c.system_prompt, c.temperature, c.top_k, c.top_p, c.min_p, c.repeat_penalty, " \
  "c.repeat_last_n, c.frequency_penalty, c.presence_penalty, c.seed, c.created_at, c.updated_at, "          \
  "c.trashed_at, c.head_id, (SELECT count(*) FROM messages m WHERE m.conversation_id = c.id), c.max_tokens"
TernConversation *tern_store_read_conversation (StoreStmt *stmt);

#define STORE_MESSAGE_COLUMNS \
  "m.id, m.conversation_id, m.parent_id, m.role, m.content, m.created_at, m.n_tokens, m.complete, m.tokens, m.sampler"
TernMessage *tern_store_read_message (StoreStmt *stmt);

/* Insert rows with every field given, in the caller's transaction;
 * return the new id, or 0. */
gint64 tern_store_conversation_insert (TernStore *store, const char *title, gint64 model_id, const char *system_prompt,
                                       const TernSamplerParams *sampling, gint32 max_tokens, gint64 created_at,
                                       gint64 updated_at, GError **error);
gint64 tern_store_message_insert (TernStore *store, gint64 conversation_id, gint64 parent_id, TernRole role,
                                  const char *content, gint64 created_at, gint32 n_tokens, gboolean complete,
                                  const TernToken *tokens, GBytes *sampler_state, GError **error);

/* store-check.c: a FORMAT error for damaged conversation @id, saying
 * @what is wrong (printf-style) and how to repair it. Returns FALSE. */
gboolean tern_store_damaged (GError **error, gint64 id, const char *what, ...) G_GNUC_PRINTF (3, 4);

/* Binds @n tokens as a little-endian i32 blob (NULL when @tokens is NULL). */
void tern_store_bind_tokens (StoreStmt *stmt, int col, const TernToken *tokens, gint32 n);

G_END_DECLS
