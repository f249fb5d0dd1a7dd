/* SPDX-License-Identifier: GPL-3.0-or-later */
/* tern-cli generate MODEL (--prompt P | --file F) [--chat] [-n N] [sampling options] [--ids]
 * tern-cli chat MODEL [-n N] [sampling options]
 * and the text helpers the inference commands share. */
#include "cli.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <tern/chat-template.h>
#include <tern/context.h>
#include <tern/error.h>
#include <tern/sampler.h>

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

  if (!g_file_get_contents (path, &contents, len, error))
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
  { "ctx", 'c', 0, G_OPTION_ARG_INT, &(o).n_ctx, "Context size in tokens (default: the model's)", "N" },        \
  CLI_BACKEND_ENTRY ((o).backend)

/* Checks the options and turns them into sampler parameters; prints the
 * problem and returns FALSE on a bad one. */
static gboolean
gen_options_finish (const char *command, const GenOptions *o, TernSamplerParams *params)
{
  g_autoptr (GError) error = NULL;

  if (o->n_predict < 0 || o->n_threads < 0 || o->n_ctx < 0)
    {
      g_printerr ("tern-cli %s: -n, --threads and --ctx take a number >= 0\n", command);
      return FALSE;
    }
  if (!cli_check_backend (command, o->backend))
    return FALSE;
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

/* A model, a context on it and a sampler: one conversation. */
typedef struct {
  TernModel *model;
  TernContext *ctx;
  TernSampler *sampler;
  const TernTokenizer *tok;
  gint32 n_keep;    /* tokens a context shift keeps: the BOS at the start */
  gint32 last;      /* index of the logits of the last decode's last token */
  gboolean verbose; /* say on stderr when the context shifts */
} Session;

static void
session_clear (Session *s)
{
  g_clear_pointer (&s->sampler, tern_sampler_free);
  g_clear_pointer (&s->ctx, tern_context_free);
  g_clear_pointer (&s->model, tern_model_free);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Session, session_clear)

static gboolean
session_open (Session *s, const char *path, const GenOptions *o, const TernSamplerParams *sampling,
              GError **error)
{
  TernContextParams params;

  s->model = tern_model_load (path, NULL, NULL, NULL, error);
  if (s->model == NULL)
    return FALSE;
  tern_context_params_init (&params);
  params.n_ctx = o->n_ctx;
  params.n_threads = o->n_threads;
  params.backend = o->backend;
  s->ctx = tern_context_new (s->model, &params, error);
  if (s->ctx == NULL)
    return FALSE;
  s->tok = tern_model_tokenizer (s->model);
  s->sampler = tern_sampler_new (sampling, tern_model_hparams (s->model)->n_vocab);
  s->n_keep = tern_tokenizer_add_bos (s->tok) && tern_tokenizer_bos (s->tok) >= 0 ? 1 : 0;
  return TRUE;
}

/* Evaluates @n tokens after those in the cache, first shifting old tokens
 * out when they would not fit; @what names them in errors. The tokens go
 * into the sampler's penalty window. */
static gboolean
session_feed (Session *s, const TernToken *tokens, gint32 n, const char *what, GError **error)
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
      if (s->verbose)
        g_printerr ("context full: dropped %d tokens after the first %d\n", dropped, s->n_keep);
    }
  if (!tern_context_decode (s->ctx, tokens, n, FALSE, NULL, NULL, NULL, error))
    return FALSE;
  for (gint32 i = 0; i < n; i++)
    tern_sampler_accept (s->sampler, tokens[i]);
  s->last = n - 1;
  return TRUE;
}

static TernToken
session_sample (Session *s)
{
  return tern_sampler_sample (s->sampler, tern_context_logits (s->ctx, s->last));
}

/* The model's chat template, or ChatML (saying so on stderr). */
static TernChatTemplate *
chat_template_open (Session *s, const char *path, GError **error)
{
  TernChatTemplate *tmpl = tern_chat_template_new_from_gguf (tern_model_gguf (s->model), tern_model_tokenizer (s->model), error);

  if (tmpl && tern_chat_template_is_fallback (tmpl))
    g_printerr ("tern-cli: %s has no chat template; using ChatML\n", path);
  return tmpl;
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

  g_auto (Session) s = { .verbose = verbose };
  if (!session_open (&s, argv[1], &o, &sampling, &error))
    return cli_fail (CLI_EXIT_MODEL, error);

  g_autoptr (GArray) tokens = g_array_new (FALSE, FALSE, sizeof (TernToken));
  if (chat)
    {
      TernChatMessage message = { "user", text };
      g_autoptr (TernChatTemplate) tmpl = chat_template_open (&s, argv[1], &error);
      g_autoptr (TernChatPrompt) formatted = NULL;
      if (tmpl)
        formatted = tern_chat_template_render (tmpl, &message, 1, NULL, &error);
      if (formatted == NULL || !tern_chat_prompt_tokenize (formatted, s.tok, TRUE, tokens, &error))
        return cli_fail (CLI_EXIT_MODEL, error);
    }
  else if (!tern_tokenizer_encode (s.tok, text, (gssize) len, TERN_TOKENIZE_ADD_SPECIAL, tokens, &error))
    return cli_fail (CLI_EXIT_MODEL, error);

  gint64 t_start = g_get_monotonic_time ();
  if (!session_feed (&s, (TernToken *) tokens->data, (gint32) tokens->len, "the prompt", &error))
    return cli_fail (CLI_EXIT_MODEL, error);
  gint64 t_prompt = g_get_monotonic_time ();

  /* A continuation follows the prompt's text, so its first piece keeps
   * its leading space; a chat reply starts afresh. */
  g_autoptr (TernDetokenizer) detok = tern_detokenizer_new (s.tok, FALSE);
  if (!chat)
    tern_detokenizer_keep_leading_space (detok);
  g_autoptr (GString) piece = g_string_new (NULL);
  gint n_generated = 0;

  for (gint i = 0; i < o.n_predict; i++)
    {
      TernToken t = session_sample (&s);
      if (tern_tokenizer_is_eog (s.tok, t))
        break;
      n_generated++;
      g_string_truncate (piece, 0);
      if (ids)
        g_string_append_printf (piece, i == 0 ? "%d" : " %d", t);
      else if (!tern_detokenizer_push (detok, t, piece, &error))
        return cli_fail (CLI_EXIT_MODEL, error);
      emit (piece->str, piece->len);
      /* The last token needs no evaluation: nothing samples after it. */
      if (i + 1 < o.n_predict && !session_feed (&s, &t, 1, "the text", &error))
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
      g_printerr ("backend:    %s, seed %" G_GUINT64_FORMAT "\n", tern_context_backend_name (s.ctx),
                  tern_sampler_get_params (s.sampler)->seed);
    }
  return CLI_EXIT_OK;
}

/* A conversation: its messages, oldest first. */
typedef struct {
  GArray *messages; /* TernChatMessage; contents owned */
  guint first;      /* messages before it no longer fit in the context */
} Conversation;

static void
conversation_clear (Conversation *c)
{
  for (guint i = 0; c->messages && i < c->messages->len; i++)
    g_free ((char *) g_array_index (c->messages, TernChatMessage, i).content);
  g_clear_pointer (&c->messages, g_array_unref);
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

/* The tokens of the conversation (from c->first) with the start of the
 * assistant's reply. When they do not fit in the context with room for a
 * reply, the oldest exchanges are left out; when the last message alone
 * does not fit, an INVALID error. */
static gboolean
conversation_tokens (Conversation *c, Session *s, const TernChatTemplate *tmpl, GArray *tokens, GError **error)
{
  gint32 n_ctx = tern_context_n_ctx (s->ctx);

  for (;;)
    {
      g_autoptr (TernChatPrompt) prompt =
        tern_chat_template_render (tmpl, &g_array_index (c->messages, TernChatMessage, c->first),
                                   c->messages->len - c->first, NULL, error);
      g_array_set_size (tokens, 0);
      if (prompt == NULL || !tern_chat_prompt_tokenize (prompt, s->tok, TRUE, tokens, error))
        return FALSE;
      /* Leave at least a quarter of the context for the reply. */
      if ((gint32) tokens->len <= n_ctx - n_ctx / 4)
        return TRUE;
      if (c->first + 2 >= c->messages->len)
        {
          g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_INVALID,
                       "the message is %u tokens with the template, too long for the context (%d tokens)",
                       tokens->len, n_ctx);
          return FALSE;
        }
      /* Drop a user message and its reply, so the rest still alternates. */
      c->first += 2;
    }
}

/* Evaluates what the context lacks of @tokens: the tokens after the
 * longest prefix it already holds; with @verbose, says how many. */
static gboolean
feed_new_tokens (Session *s, GArray *tokens, gboolean verbose, GError **error)
{
  gint32 n_cached, common = 0;
  const TernToken *cached = tern_context_tokens (s->ctx, &n_cached);
  const TernToken *want = (const TernToken *) tokens->data;

  while (common < n_cached && common < (gint32) tokens->len && cached[common] == want[common])
    common++;
  /* The last token is evaluated again when all are there: its logits are
   * what the reply starts from. */
  if (common == (gint32) tokens->len)
    common--;
  if (verbose)
    g_printerr ("prompt: %u tokens, %d already in the context\n", tokens->len, common);
  tern_context_truncate (s->ctx, common);
  return session_feed (s, want + common, (gint32) tokens->len - common, "the conversation", error);
}

/* Generates and prints one reply, leaving it in the context and its text
 * in @reply. */
static gboolean
chat_reply (Session *s, gint n_predict, GString *reply, CliChatStore *cs, GError **error)
{
  g_autoptr (TernDetokenizer) detok = tern_detokenizer_new (s->tok, FALSE);
  gsize printed = 0;

  g_string_truncate (reply, 0);
  for (gint i = 0; i < n_predict; i++)
    {
      TernToken t = session_sample (s);
      if (tern_tokenizer_is_eog (s->tok, t))
        break;
      if (!session_feed (s, &t, 1, "the reply", error) || !tern_detokenizer_push (detok, t, reply, error))
        return FALSE;
      emit (reply->str + printed, reply->len - printed);
      printed = reply->len;
      if (!cli_chat_store_reply_progress (cs, s->ctx, reply->str, error)) /* --db: checkpoint */
        return FALSE;
    }
  tern_detokenizer_flush (detok, reply);
  emit (reply->str + printed, reply->len - printed);
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
                  "the oldest exchanges are left out. A reply ends at an end-of-generation token\n"
                  "or after N tokens. A line \"/quit\" or the end of the input ends the chat.\n"
                  "With --db every message is stored as it goes (see tern-cli history), and\n"
                  "--conversation ID resumes a stored chat from its snapshot, or by evaluating it\n"
                  "again (stderr says which). When the input is not a terminal, a blank line\n"
                  "follows each reply.",
                  entries))
    return CLI_EXIT_USAGE;
  if (argc != 2)
    {
      g_printerr ("tern-cli chat: expected one MODEL argument (see --help)\n");
      return CLI_EXIT_USAGE;
    }
  if (!gen_options_finish ("chat", &o, &sampling))
    return CLI_EXIT_USAGE;

  g_auto (Session) s = { .verbose = verbose };
  if (!session_open (&s, argv[1], &o, &sampling, &error))
    return cli_fail (CLI_EXIT_MODEL, error);
  g_autoptr (TernChatTemplate) tmpl = chat_template_open (&s, argv[1], &error);
  if (tmpl == NULL)
    return cli_fail (CLI_EXIT_MODEL, error);

  gboolean interactive = isatty (STDIN_FILENO);
  g_autofree char *line = NULL;
  size_t line_size = 0;
  g_autoptr (GArray) tokens = g_array_new (FALSE, FALSE, sizeof (TernToken));
  g_autoptr (GString) reply = g_string_new (NULL);
  g_auto (Conversation) conv = { g_array_new (FALSE, FALSE, sizeof (TernChatMessage)), 0 };
  /* --db: the chat kept in the store (cli-chat-store.c). */
  g_autoptr (CliChatStore) cs = NULL;
  if (!cli_chat_store_open (&store_options, argv[1], s.model, &sampling, &cs, &error) ||
      !cli_chat_store_resume (cs, s.ctx, &s.sampler, tmpl, conv.messages, &error))
    return cli_fail (CLI_EXIT_MODEL, error);

  for (;;)
    {
      if (interactive)
        emit ("> ", 2);
      ssize_t n = getline (&line, &line_size, stdin);
      if (n < 0)
        break;
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
      if (!conversation_tokens (&conv, &s, tmpl, tokens, &error)
          || !feed_new_tokens (&s, tokens, verbose, &error))
        {
          /* A message too long for the context is dropped; the chat goes on. */
          if (!g_error_matches (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_INVALID))
            return cli_fail (CLI_EXIT_MODEL, error);
          g_printerr ("tern-cli chat: %s\n", error->message);
          g_clear_error (&error);
          conversation_drop_last (&conv);
          continue;
        }
      if (!cli_chat_store_user (cs, line, &error) || !cli_chat_store_reply_begin (cs, s.ctx, &error) ||
          !chat_reply (&s, o.n_predict, reply, cs, &error) ||
          !cli_chat_store_reply_finish (cs, s.ctx, s.sampler, reply->str, &error))
        return cli_fail (CLI_EXIT_MODEL, error);
      if (!interactive)
        emit ("\n", 1);
      conversation_add (&conv, "assistant", reply->str);
    }
  return CLI_EXIT_OK;
}
