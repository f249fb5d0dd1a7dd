/* SPDX-License-Identifier: GPL-3.0-or-later */
/* tern-cli generate MODEL (--prompt P | --file F) [--chat] [-n N] [sampling options] [--ids]
 * tern-cli chat MODEL [-n N] [sampling options]
 * and the text helpers the inference commands share. */
#include "cli.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <tern/error.h>
#include <tern/session.h>

gboolean
cli_check_text (const char *name, const char *text, gsize len, GError **error)
{
  const char *end;

  if (len == 0)
    {
      g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_INVALID, "%s is empty", name);
      return FALSE;
    }
  if (!g_utf8_validate_len (text, len, &end))
    {
      g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_INVALID,
                   "%s is not UTF-8 text (invalid byte at offset %" G_GSIZE_FORMAT ")", name,
                   (gsize) (end - text));
      return FALSE;
    }
  return TRUE;
}

gboolean
cli_read_text (const char *path, char **text, gsize *len, GError **error)
{
  g_autofree char *contents = NULL;

  if (!cli_read_file (path, CLI_TEXT_MAX_BYTES, "a text file", &contents, len, error))
    return FALSE;
  if (!cli_check_text (path, contents, *len, error))
    return FALSE;
  *text = g_steal_pointer (&contents);
  return TRUE;
}

/* Options generate and chat share. */
typedef struct {
  gint n_predict;
  gint n_threads;
  gint n_ctx;
  double temp, top_p, min_p;
  gint top_k;
  char *seed;
  char *backend;
  /* Option descriptions that show the sampler's defaults. */
  char *n_predict_help, *temp_help, *top_k_help, *top_p_help, *min_p_help;
} GenOptions;

static void
gen_options_init (GenOptions *o, gint n_predict)
{
  TernSamplerParams defaults;

  tern_sampler_params_init (&defaults);
  *o = (GenOptions) {
    .n_predict = n_predict,
    .n_predict_help = g_strdup_printf ("Generate at most N tokens (default %d)", n_predict),
    .temp = defaults.temperature,
    .top_k = defaults.top_k,
    .top_p = defaults.top_p,
    .min_p = defaults.min_p,
    .temp_help = g_strdup_printf ("Sampling temperature; 0 is greedy (default %g)", defaults.temperature),
    .top_k_help = g_strdup_printf ("Keep the K most likely tokens; 0 keeps all (default %d)", defaults.top_k),
    .top_p_help = g_strdup_printf ("Keep the most likely tokens up to probability P; 1 is off (default %g)",
                                   defaults.top_p),
    .min_p_help = g_strdup_printf ("Drop tokens below P times the top probability; 0 is off (default %g)",
                                   defaults.min_p),
  };
}

static void
gen_options_clear (GenOptions *o)
{
  g_free (o->seed);
  g_free (o->backend);
  g_free (o->n_predict_help);
  g_free (o->temp_help);
  g_free (o->top_k_help);
  g_free (o->top_p_help);
  g_free (o->min_p_help);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (GenOptions, gen_options_clear)

#define GEN_OPTION_ENTRIES(o)                                                                                \
  { "n-predict", 'n', 0, G_OPTION_ARG_INT, &(o).n_predict, (o).n_predict_help, "N" },                        \
  { "temp", 0, 0, G_OPTION_ARG_DOUBLE, &(o).temp, (o).temp_help, "T" },                                      \
  { "top-k", 0, 0, G_OPTION_ARG_INT, &(o).top_k, (o).top_k_help, "K" },                                      \
  { "top-p", 0, 0, G_OPTION_ARG_DOUBLE, &(o).top_p, (o).top_p_help, "P" },                                   \
  { "min-p", 0, 0, G_OPTION_ARG_DOUBLE, &(o).min_p, (o).min_p_help, "P" },                                   \
  { "seed", 0, 0, G_OPTION_ARG_STRING, &(o).seed, "Random seed, 0 to 2^64-2 (default: a random one)", "S" }, \
  { "threads", 't', 0, G_OPTION_ARG_INT, &(o).n_threads, "Compute threads (default: one per core)", "N" },   \
  { "ctx", 'c', 0, G_OPTION_ARG_INT, &(o).n_ctx, "Context size in tokens (default: the model's, as fits in memory)", "N" },        \
  CLI_BACKEND_ENTRY ((o).backend)

/* Checks the options and turns them into sampler parameters; prints the
 * problem and returns FALSE on a bad one. */
static gboolean
gen_options_finish (const char *command, const GenOptions *o, TernSamplerParams *params)
{
  g_autoptr (GError) error = NULL;

  if (!cli_check_min (command, "--n-predict", o->n_predict, 0) || !cli_check_threads (command, o->n_threads)
      || !cli_check_min (command, "--ctx", o->n_ctx, 0))
    return FALSE;
  if (!cli_check_backend (command, o->backend))
    return FALSE;
  /* The engine takes any temperature <= 0 as greedy; here a negative one
   * is more likely a typo than a wish. */
  if (!(o->temp >= 0))
    {
      g_printerr ("tern-cli %s: --temp takes a number >= 0 (0 is greedy), not %g\n", command, o->temp);
      return FALSE;
    }
  tern_sampler_params_init (params);
  params->temperature = (float) o->temp;
  params->top_k = o->top_k;
  params->top_p = (float) o->top_p;
  params->min_p = (float) o->min_p;
  if (o->seed && !g_ascii_string_to_unsigned (o->seed, 10, 0, G_MAXUINT64 - 1, &params->seed, &error))
    {
      g_printerr ("tern-cli %s: --seed: %s\n", command, error->message);
      return FALSE;
    }
  if (!tern_sampler_params_validate (params, &error))
    {
      g_printerr ("tern-cli %s: %s\n", command, error->message);
      return FALSE;
    }
  return TRUE;
}

/* A model, a context on it and the chat session it carries. */
typedef struct {
  TernModel *model;
  TernContext *ctx;
  TernChatTemplate *tmpl; /* chats: the model's template, or ChatML */
  TernSession *session;
} Loaded;

static void
loaded_clear (Loaded *l)
{
  g_clear_pointer (&l->session, tern_session_free);
  g_clear_pointer (&l->tmpl, tern_chat_template_free);
  g_clear_pointer (&l->ctx, tern_context_free);
  g_clear_pointer (&l->model, tern_model_free);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Loaded, loaded_clear)

static void
print_shift (gint32 n_dropped, gint32 n_keep, gpointer user_data)
{
  g_printerr ("context full: dropped %d tokens after the first %d\n", n_dropped, n_keep);
}

/* Loads the model at @path with a context and a session on it; for a
 * @chat, with the model's chat template (or ChatML, saying so on stderr).
 * With @verbose, each context shift is told on stderr. */
static gboolean
loaded_open (Loaded *l, const char *path, const GenOptions *o, const TernSamplerParams *sampling, gboolean chat,
             gboolean verbose, GError **error)
{
  TernContextParams params;

  l->model = tern_model_load (path, NULL, NULL, NULL, error);
  if (l->model == NULL)
    return FALSE;
  tern_context_params_init (&params);
  params.n_ctx = o->n_ctx;
  params.n_threads = o->n_threads;
  params.backend = o->backend;
  l->ctx = tern_context_new (l->model, &params, error);
  if (l->ctx == NULL)
    return FALSE;
  /* RoPE is scaled only where the file says so: past the trained length
   * the model sees positions it never learnt. */
  gint32 n_ctx_train = tern_model_hparams (l->model)->n_ctx_train;
  if (tern_context_n_ctx (l->ctx) > n_ctx_train)
    g_printerr ("tern-cli: warning: a context of %d tokens is longer than %s was trained with (%d tokens); "
                "output past %d tokens will be poor\n", tern_context_n_ctx (l->ctx), path, n_ctx_train, n_ctx_train);
  if (chat)
    {
      l->tmpl = tern_chat_template_new_from_gguf (tern_model_gguf (l->model), tern_model_tokenizer (l->model), error);
      if (l->tmpl == NULL)
        return FALSE;
      if (tern_chat_template_is_fallback (l->tmpl))
        g_printerr ("tern-cli: %s has no chat template; using ChatML\n", path);
    }
  l->session = tern_session_new (l->ctx, l->tmpl, sampling);
  if (verbose)
    tern_session_set_shift_func (l->session, print_shift, NULL);
  return TRUE;
}

static void
emit (const char *text, gsize len)
{
  fwrite (text, 1, len, stdout);
  fflush (stdout);
}

int
cli_generate (int argc, char **argv)
{
  g_auto (GenOptions) o = { 0 };
  g_autofree char *prompt = NULL, *file = NULL;
  gboolean ids = FALSE, verbose = FALSE, chat = FALSE;
  gen_options_init (&o, 128);
  const GOptionEntry entries[] = {
    { "prompt", 'p', 0, G_OPTION_ARG_STRING, &prompt, "The prompt", "P" },
    { "file", 'f', 0, G_OPTION_ARG_FILENAME, &file, "Read the prompt from a file", "F" },
    { "chat", 0, 0, G_OPTION_ARG_NONE, &chat,
      "The prompt is a user's message: format it with the model's chat template", NULL },
    GEN_OPTION_ENTRIES (o),
    { "ids", 0, 0, G_OPTION_ARG_NONE, &ids, "Print the generated token ids rather than text", NULL },
    { "verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose, "Print each context shift, and timings at the end, to stderr",
      NULL },
    { NULL },
  };
  g_autoptr (GError) error = NULL;
  g_autofree char *text = NULL;
  gsize len;
  TernSamplerParams sampling;

  if (!cli_parse (&argc, &argv, "MODEL",
                  "Continue a prompt: print the tokens the model generates after it as they come,\n"
                  "until an end-of-generation token or N tokens. The prompt gets the model's BOS.\n"
                  "With --chat the prompt is a user's message in the model's chat template (ChatML\n"
                  "when it has none), and the output the assistant's reply.\n"
                  "When the context fills, its oldest half (after BOS) is dropped and generation\n"
                  "goes on. Prints the continuation only, exactly, with no added newline.",
                  entries))
    return CLI_EXIT_USAGE;
  if (argc != 2 || (prompt == NULL) == (file == NULL))
    {
      g_printerr ("tern-cli generate: expected MODEL and one of --prompt or --file (see --help)\n");
      return CLI_EXIT_USAGE;
    }
  if (!gen_options_finish ("generate", &o, &sampling))
    return CLI_EXIT_USAGE;
  if (file)
    {
      if (!cli_read_text (file, &text, &len, &error))
        return cli_fail (CLI_EXIT_MODEL, error);
    }
  else
    {
      text = g_steal_pointer (&prompt);
      len = strlen (text);
      if (!cli_check_text ("the prompt", text, len, &error))
        return cli_fail (CLI_EXIT_MODEL, error);
    }

  g_auto (Loaded) l = { 0 };
  if (!loaded_open (&l, argv[1], &o, &sampling, chat, verbose, &error))
    return cli_fail (CLI_EXIT_MODEL, error);

  const TernTokenizer *tok = tern_model_tokenizer (l.model);
  g_autoptr (GArray) tokens = g_array_new (FALSE, FALSE, sizeof (TernToken));
  if (chat)
    {
      TernChatMessage message = { "user", text };
      if (!tern_session_render (l.session, NULL, &message, 1, TRUE, tokens, &error))
        return cli_fail (CLI_EXIT_MODEL, error);
    }
  else if (!tern_tokenizer_encode (tok, text, (gssize) len, TERN_TOKENIZE_ADD_SPECIAL, tokens, &error))
    return cli_fail (CLI_EXIT_MODEL, error);

  gint64 t_start = g_get_monotonic_time ();
  if (!tern_session_feed_prompt (l.session, (TernToken *) tokens->data, (gint32) tokens->len, NULL, NULL, NULL, NULL,
                                 &error))
    return cli_fail (CLI_EXIT_MODEL, error);
  gint64 t_prompt = g_get_monotonic_time ();

  /* A continuation follows the prompt's text, so its first piece keeps
   * its leading space; a chat reply starts afresh. */
  g_autoptr (TernDetokenizer) detok = tern_detokenizer_new (tok, FALSE);
  if (!chat)
    tern_detokenizer_keep_leading_space (detok);
  g_autoptr (GString) piece = g_string_new (NULL);
  gint n_generated = 0;

  for (gint i = 0; i < o.n_predict; i++)
    {
      TernToken t = tern_session_sample (l.session);
      if (tern_tokenizer_is_eog (tok, t))
        break;
      n_generated++;
      g_string_truncate (piece, 0);
      if (ids)
        g_string_append_printf (piece, i == 0 ? "%d" : " %d", t);
      else if (!tern_detokenizer_push (detok, t, piece, &error))
        return cli_fail (CLI_EXIT_MODEL, error);
      emit (piece->str, piece->len);
      /* The last token needs no evaluation: nothing samples after it. */
      if (i + 1 < o.n_predict && !tern_session_feed (l.session, &t, 1, &error))
        return cli_fail (CLI_EXIT_MODEL, error);
    }
  g_string_truncate (piece, 0);
  if (ids)
    g_string_append_c (piece, '\n');
  else
    tern_detokenizer_flush (detok, piece);
  emit (piece->str, piece->len);
  gint64 t_end = g_get_monotonic_time ();

  if (verbose)
    {
      double prompt_s = (t_prompt - t_start) / 1e6, gen_s = (t_end - t_prompt) / 1e6;
      g_printerr ("prompt:     %u tokens in %.3f s, %.2f tokens/s\n", tokens->len, prompt_s,
                  prompt_s > 0 ? tokens->len / prompt_s : 0.0);
      g_printerr ("generation: %d tokens in %.3f s, %.2f tokens/s\n", n_generated, gen_s,
                  gen_s > 0 ? n_generated / gen_s : 0.0);
      g_printerr ("backend:    %s, seed %" G_GUINT64_FORMAT "\n", tern_context_backend_name (l.ctx),
                  tern_sampler_get_params (tern_session_get_sampler (l.session))->seed);
    }
  return CLI_EXIT_OK;
}

/* A conversation: its messages, oldest first. */
typedef struct {
  GArray *messages; /* TernChatMessage; contents owned */
  char *note;       /* what fitting it to the context said last */
} Conversation;

static void
conversation_clear (Conversation *c)
{
  for (guint i = 0; c->messages && i < c->messages->len; i++)
    g_free ((char *) g_array_index (c->messages, TernChatMessage, i).content);
  g_clear_pointer (&c->messages, g_array_unref);
  g_clear_pointer (&c->note, g_free);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Conversation, conversation_clear)

static void
conversation_add (Conversation *c, const char *role, const char *content)
{
  TernChatMessage m = { role, g_strdup (content) };
  g_array_append_val (c->messages, m);
}

static void
conversation_drop_last (Conversation *c)
{
  g_free ((char *) g_array_index (c->messages, TernChatMessage, c->messages->len - 1).content);
  g_array_set_size (c->messages, c->messages->len - 1);
}

/* Brings the context to the prompt for a reply to the conversation,
 * fitted to it; with @verbose, says how many of its tokens were there. */
static gboolean
conversation_prompt (Conversation *c, TernSession *session, gboolean verbose, GArray *tokens, GError **error)
{
  g_autofree char *note = NULL;
  gint32 reused;

  if (!tern_session_fit (session, NULL, (TernChatMessage *) c->messages->data, c->messages->len, NULL, NULL, tokens, &note,
                         error))
    return FALSE;
  /* Said once, not at every turn. */
  if (note && g_strcmp0 (note, c->note) != 0)
    g_printerr ("tern-cli: %s\n", note);
  g_free (c->note);
  c->note = g_steal_pointer (&note);
  if (!tern_session_feed_prompt (session, (TernToken *) tokens->data, (gint32) tokens->len, NULL, NULL, NULL,
                                 &reused, error))
    return FALSE;
  if (verbose)
    g_printerr ("prompt: %u tokens, %d already in the context\n", tokens->len, reused);
  return TRUE;
}

static void
print_text (const char *text, gsize len, guint n_tokens, gpointer user_data)
{
  emit (text, len);
}

/* Generates and prints one reply, leaving it in the context, its text in
 * @reply and its tokens in @tokens; checkpoints it in @checkpoint (NULL:
 * none). */
static gboolean
chat_reply (TernSession *session, gint n_predict, TernReply *checkpoint, GString *reply, GArray *tokens,
            GError **error)
{
  TernSessionStream stream = { .max_tokens = n_predict, .reply = checkpoint, .text = print_text };
  gboolean ended;

  g_string_truncate (reply, 0);
  g_array_set_size (tokens, 0);
  /* -n 0 asks for no token, where the stream's 0 is no limit. */
  if (n_predict > 0 && !tern_session_stream (session, &stream, reply, tokens, &ended, error))
    return FALSE;
  emit ("\n", 1);
  return TRUE;
}

int
cli_chat (int argc, char **argv)
{
  g_auto (GenOptions) o = { 0 };
  g_auto (CliChatStoreOptions) store_options = { 0 };
  gboolean verbose = FALSE;
  gen_options_init (&o, 256);
  const GOptionEntry entries[] = {
    GEN_OPTION_ENTRIES (o),
    CLI_CHAT_STORE_ENTRIES (store_options),
    { "verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose,
      "Print how many prompt tokens each turn reuses from the context to stderr", NULL },
    { NULL },
  };
  g_autoptr (GError) error = NULL;
  TernSamplerParams sampling;

  if (!cli_parse (&argc, &argv, "MODEL",
                  "Chat with a model: each line read from standard input is a message, and the\n"
                  "model's reply is printed as it is generated, then a newline. The conversation\n"
                  "is formatted with the model's chat template (ChatML when it has none, noted on\n"
                  "stderr) and stays in the context: each turn formats it whole and evaluates only\n"
                  "the tokens the context does not already hold. When it outgrows the context,\n"
                  "the oldest turns are left out. A reply ends at an end-of-generation token\n"
                  "or after N tokens. A line \"/quit\" or the end of the input ends the chat.\n"
                  "With --db every message is stored as it goes (see tern-cli history), and\n"
                  "--conversation ID resumes a stored chat from its snapshot, or by evaluating it\n"
                  "again (stderr says which). While another program holds the database, a message\n"
                  "waits for it (stderr says so once) and Ctrl+C stops the wait; a message that\n"
                  "could not be stored that way, or because another program added to the\n"
                  "conversation meanwhile, is printed back on stderr and the chat ends (exit 2).\n"
                  "When the input is not a terminal, a blank line follows each reply.",
                  entries))
    return CLI_EXIT_USAGE;
  if (argc != 2)
    {
      g_printerr ("tern-cli chat: expected one MODEL argument (see --help)\n");
      return CLI_EXIT_USAGE;
    }
  if (!gen_options_finish ("chat", &o, &sampling) ||
      !cli_check_min ("chat", "--conversation", store_options.conversation, 0))
    return CLI_EXIT_USAGE;

  g_auto (Loaded) l = { 0 };
  if (!loaded_open (&l, argv[1], &o, &sampling, TRUE, verbose, &error))
    return cli_fail (CLI_EXIT_MODEL, error);

  gboolean interactive = isatty (STDIN_FILENO);
  g_autofree char *line = NULL;
  size_t line_size = 0;
  g_autoptr (GArray) tokens = g_array_new (FALSE, FALSE, sizeof (TernToken));
  g_autoptr (GString) reply = g_string_new (NULL);
  g_autoptr (GArray) reply_tokens = g_array_new (FALSE, FALSE, sizeof (TernToken));
  g_auto (Conversation) conv = { g_array_new (FALSE, FALSE, sizeof (TernChatMessage)), 0 };
  /* --db: the chat kept in the store (cli-chat-store.c). */
  g_autoptr (CliChatStore) cs = NULL;
  if (!cli_chat_store_open (&store_options, argv[1], l.model, &sampling, &cs, &error) ||
      !cli_chat_store_resume (cs, l.session, conv.messages, &error))
    return cli_fail (CLI_EXIT_MODEL, error);

  for (;;)
    {
      if (interactive)
        emit ("> ", 2);
      ssize_t n = getline (&line, &line_size, stdin);
      if (n < 0)
        break;
      /* A NUL would cut the message where the store and the template
       * read it: refused, as text that is not UTF-8 is, never cut. */
      if (memchr (line, '\0', (size_t) n) != NULL)
        {
          g_printerr ("tern-cli chat: the message holds a NUL character; it was not sent\n");
          continue;
        }
      g_strchomp (line);
      if (strcmp (line, "/quit") == 0)
        break;
      if (line[0] == '\0')
        continue;
      if (!g_utf8_validate (line, -1, NULL))
        {
          g_printerr ("tern-cli chat: the message is not UTF-8 text\n");
          continue;
        }

      conversation_add (&conv, "user", line);
      if (!conversation_prompt (&conv, l.session, verbose, tokens, &error))
        {
          /* A message too long for the context is dropped; the chat goes on. */
          if (!g_error_matches (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_INVALID))
            return cli_fail (CLI_EXIT_MODEL, error);
          g_printerr ("tern-cli chat: %s\n", error->message);
          g_clear_error (&error);
          conversation_drop_last (&conv);
          continue;
        }
      if (!cli_chat_store_user (cs, line, &error))
        {
          /* Not stored (cancelled, or the conversation changed under
           * it): the line goes back to the user rather than being lost. */
          g_printerr ("tern-cli: %s\ntern-cli chat: this message was not stored:\n%s\n", error->message, line);
          return CLI_EXIT_MODEL;
        }
      TernReply *checkpoint;
      if (!cli_chat_store_reply_begin (cs, &checkpoint, &error) ||
          !chat_reply (l.session, o.n_predict, checkpoint, reply, reply_tokens, &error) ||
          !cli_chat_store_reply_finish (cs, l.session, reply->str, reply_tokens, &error))
        return cli_fail (CLI_EXIT_MODEL, error);
      if (!interactive)
        emit ("\n", 1);
      conversation_add (&conv, "assistant", reply->str);
    }
  return CLI_EXIT_OK;
}
