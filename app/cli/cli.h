/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>
#include <tern/chat-template.h>
#include <tern/context.h>
#include <tern/sampler.h>
#include <tern/session.h>
#include <tern/store.h>

/* tern-cli subcommands. Each takes the arguments after its name (argv[0]
 * is the subcommand) and returns the process exit status. */

enum {
  CLI_EXIT_OK = 0,
  CLI_EXIT_USAGE = 1, /* bad command line */
  CLI_EXIT_MODEL = 2, /* the model or input could not be used */
};

int cli_info (int argc, char **argv);
int cli_tokenize (int argc, char **argv);
int cli_detokenize (int argc, char **argv);
int cli_generate (int argc, char **argv);
int cli_chat (int argc, char **argv);
int cli_logits (int argc, char **argv);
int cli_perplexity (int argc, char **argv);
int cli_bench (int argc, char **argv);
int cli_make_model (int argc, char **argv);
int cli_compress (int argc, char **argv);
int cli_template (int argc, char **argv);
int cli_devices (int argc, char **argv);

/* Parses @argv with @entries; on failure prints the error and the usage
 * line to stderr. Positional arguments stay in @argv. */
gboolean cli_parse (int *argc, char ***argv, const char *params, const char *summary,
                    const GOptionEntry *entries);

/* TRUE when @value >= @min; otherwise prints that option @option of
 * @command takes a number >= @min. */
gboolean cli_check_min (const char *command, const char *option, gint64 value, gint64 min);

/* TRUE when @value is a thread count the engine takes (0 for one per core,
 * up to TERN_CONTEXT_MAX_THREADS); otherwise prints the range. */
gboolean cli_check_threads (const char *command, gint64 value);

/* Prints "tern-cli: MESSAGE" to stderr and returns @status. */
int cli_fail (int status, const GError *error);

/* --backend NAME of the commands that compute, in cli-devices.c. */
#define CLI_BACKEND_ENTRY(name)                                                                 \
  { "backend", 0, 0, G_OPTION_ARG_STRING, &(name), "Compute on this device (default cpu; see " \
    "tern-cli devices)", "NAME" }
/* TRUE when @name is NULL or a device's name; otherwise prints that it is
 * none, naming those there are. */
gboolean cli_check_backend (const char *command, const char *name);

/* The largest files tern-cli reads whole: a text (a prompt, a text to
 * tokenize or score, a messages file) and a chat template. Imports have
 * the store's TERN_STORE_IMPORT_MAX_BYTES. */
#define CLI_TEXT_MAX_BYTES ((gsize) 64 << 20)
#define CLI_TEMPLATE_MAX_BYTES ((gsize) 1 << 20)
/* How deep the arrays and objects of a JSON file tern-cli reads may nest
 * (tern/json-text.h): a messages file needs two levels. */
#define CLI_JSON_MAX_DEPTH 64

/* Says on stderr that @n characters of @path that are not valid Unicode
 * text were replaced with U+FFFD; nothing when @n is 0. */
void cli_say_replaced (const char *path, gsize n);

/* Reads the file @path whole into @contents (NUL-terminated, @len bytes
 * before the NUL), refusing with INVALID one larger than @max bytes:
 * "PATH is larger than the 64 MiB WHAT may be". It reads in pieces and
 * stops one byte past @max, so /dev/zero and endless pipes end quickly;
 * NOMEM when memory runs out first. In cli-read.c. */
gboolean cli_read_file (const char *path, gsize max, const char *what, char **contents, gsize *len,
                        GError **error);

/* Helpers of the inference commands, in cli-generate.c. */

/* Reads the text file @path (at most CLI_TEXT_MAX_BYTES) into @text
 * (NUL-terminated) and @len, checking it as cli_check_text does. */
gboolean cli_read_text (const char *path, char **text, gsize *len, GError **error);
/* An INVALID error naming @name unless @text is non-empty valid UTF-8. */
gboolean cli_check_text (const char *name, const char *text, gsize len, GError **error);

/* The store as tern-cli opens it (tern_store_open): a wait for another
 * program's lock is said on stderr. In cli-store.c. */
TernStore *cli_store_open (const char *path, GError **error);

/* Ctrl+C while armed cancels a GCancellable (for the store call in
 * progress) instead of ending tern-cli; while not armed it ends tern-cli as
 * it always did. A thread of its own watches for it. In cli-store.c. */
typedef struct CliInterrupt CliInterrupt;
CliInterrupt *cli_interrupt_new (void);
void cli_interrupt_free (CliInterrupt *in);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CliInterrupt, cli_interrupt_free)
/* Cancelled by Ctrl+C while armed; never reset. */
GCancellable *cli_interrupt_cancellable (CliInterrupt *in);
void cli_interrupt_arm (CliInterrupt *in, gboolean armed);

/* tern-cli history, in cli-history.c. */
int cli_history (int argc, char **argv);
/* tern-cli models, in cli-models.c. */
int cli_models (int argc, char **argv);

/* tern-cli chat --db: the chat kept in the store, in cli-chat-store.c.
 * Every function does nothing and succeeds when @cs is NULL (no --db). */
typedef struct CliChatStore CliChatStore;

typedef struct {
  char *db;
  gint64 conversation;
  char *new_title;
} CliChatStoreOptions;

void cli_chat_store_options_clear (CliChatStoreOptions *o);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (CliChatStoreOptions, cli_chat_store_options_clear)

#define CLI_CHAT_STORE_ENTRIES(o)                                                                          \
  { "db", 0, 0, G_OPTION_ARG_FILENAME, &(o).db, "Keep the chat in this database", "PATH" },               \
  { "conversation", 0, 0, G_OPTION_ARG_INT64, &(o).conversation, "With --db: go on with conversation ID", \
    "ID" },                                                                                                \
  { "new-title", 0, 0, G_OPTION_ARG_STRING, &(o).new_title, "With --db: the conversation's title", "T" }

/* With --db, opens the database and the conversation --conversation, or a
 * new one titled --new-title or after its first message, and adds the
 * model at @model_path to the library; *@cs stays NULL without --db. */
gboolean cli_chat_store_open (const CliChatStoreOptions *o, const char *model_path, const TernModel *model,
                              const TernSamplerParams *sampling, CliChatStore **cs, GError **error);
void cli_chat_store_free (CliChatStore *cs);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CliChatStore, cli_chat_store_free)
/* Appends the stored messages to @chat (TernChatMessage, contents
 * g_strdup'ed) and brings @session to where the conversation stood: from
 * its snapshot, or by evaluating it again (says which on stderr). */
gboolean cli_chat_store_resume (CliChatStore *cs, TernSession *session, GArray *chat, GError **error);
/* Commits a user message. */
gboolean cli_chat_store_user (CliChatStore *cs, const char *text, GError **error);
/* A reply: begin before its first token (*@reply is what the stream
 * checkpoints, owned by @cs; NULL without --db), finish after the last
 * (then a snapshot). */
gboolean cli_chat_store_reply_begin (CliChatStore *cs, TernReply **reply, GError **error);
gboolean cli_chat_store_reply_finish (CliChatStore *cs, TernSession *session, const char *text, GArray *tokens,
                                      GError **error);
