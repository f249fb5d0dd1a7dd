/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The chat session on the fixture model: prompts rendered and fitted to
 * the context (against the chat template rendered directly), prefix
 * reuse, context shifts, stops, checkpoints, snapshots and resuming. */
#include <string.h>
#include <tern/session.h>

#include "faulty-backend.h"
#include "strict-template.h"
#include "test-data.h"

#define MODEL "kjv-tiny-f32.gguf"

static TernModel *model;
static const TernTokenizer *tok;
static TernChatTemplate *model_template;
static TernChatTemplate *strict_template;

static TernContext *
new_context (gint32 n_ctx)
{
  g_autoptr (GError) error = NULL;
  TernContextParams params;

  tern_context_params_init (&params);
  params.n_ctx = n_ctx;
  params.n_threads = 2;
  TernContext *ctx = tern_context_new (model, &params, &error);
  g_assert_no_error (error);
  return ctx;
}

/* A context of 128 tokens evaluated 8 at a time, on the faulty device: its
 * passes can be stopped on demand. */
static TernContext *
new_stoppable_context (void)
{
  g_autoptr (GError) error = NULL;
  TernContextParams params;

  tern_context_params_init (&params);
  params.n_ctx = 128;
  params.n_batch = 8;
  params.n_threads = 2;
  params.backend = "faulty";
  TernContext *ctx = tern_context_new (model, &params, &error);
  g_assert_no_error (error);
  return ctx;
}

static void
greedy (TernSamplerParams *p)
{
  tern_sampler_params_init (p);
  p->temperature = 0;
}

/* The prompt for @messages rendered by the template itself. */
static GArray *
reference_prompt (const TernChatTemplate *tmpl, const TernChatMessage *messages, gsize n, gboolean generation)
{
  g_autoptr (GError) error = NULL;
  TernChatRenderOptions options;
  GArray *tokens = g_array_new (FALSE, FALSE, sizeof (TernToken));

  tern_chat_render_options_init (&options);
  options.add_generation_prompt = generation;
  g_autoptr (TernChatPrompt) prompt = tern_chat_template_render (tmpl, messages, n, &options, &error);
  g_assert_no_error (error);
  g_assert_true (tern_chat_prompt_tokenize (prompt, tok, TRUE, tokens, &error));
  g_assert_no_error (error);
  return tokens;
}

static void
assert_tokens (GArray *got, GArray *want)
{
  g_assert_cmpmem (got->data, got->len * sizeof (TernToken), want->data, want->len * sizeof (TernToken));
}

/* A message of about @n_words words of Genesis. */
static char *
long_text (guint n_words)
{
  static const char *const words[] = { "In", "the", "beginning", "God", "created", "the", "heaven", "and",
                                       "the", "earth." };
  GString *text = g_string_new (NULL);

  for (guint i = 0; i < n_words; i++)
    g_string_append_printf (text, i ? " %s" : "%s", words[i % G_N_ELEMENTS (words)]);
  return g_string_free (text, FALSE);
}

static GArray *
encode (const char *text, gboolean bos)
{
  g_autoptr (GError) error = NULL;
  GArray *tokens = g_array_new (FALSE, FALSE, sizeof (TernToken));

  g_assert_true (tern_tokenizer_encode (tok, text, -1, bos ? TERN_TOKENIZE_ADD_SPECIAL : 0, tokens, &error));
  g_assert_no_error (error);
  return tokens;
}

/* ---- The prompt ---- */

static void
test_render (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (TernContext) ctx = new_context (256);
  TernSamplerParams p;
  greedy (&p);
  g_autoptr (TernSession) s = tern_session_new (ctx, model_template, &p);
  const TernChatMessage messages[] = { { "user", "Who made the light?" }, { "assistant", "God." } };
  const TernChatMessage with_system[] = { { "system", "Answer briefly." }, messages[0], messages[1] };
  g_autoptr (GArray) tokens = g_array_new (FALSE, FALSE, sizeof (TernToken));

  /* The system prompt goes first, as a system message. */
  g_assert_true (tern_session_render (s, "Answer briefly.", messages, 2, TRUE, tokens, &error));
  g_assert_no_error (error);
  g_autoptr (GArray) want = reference_prompt (model_template, with_system, 3, TRUE);
  assert_tokens (tokens, want);
  g_assert_cmpint (g_array_index (tokens, TernToken, 0), ==, tern_tokenizer_bos (tok));

  /* An empty one is none; without the generation prompt, the transcript. */
  g_array_set_size (tokens, 0);
  g_assert_true (tern_session_render (s, "", messages, 2, FALSE, tokens, &error));
  g_autoptr (GArray) plain = reference_prompt (model_template, messages, 2, FALSE);
  assert_tokens (tokens, plain);
}

/* A long conversation keeps its system prompt and opening system message,
 * and as many of its latest whole turns as fit in three quarters of the
 * context: one turn more does not fit. */
static void
test_fit_trims (void)
{
  g_autoptr (GError) error = NULL;
  const gint32 n_ctx = 256;
  g_autoptr (TernContext) ctx = new_context (n_ctx);
  TernSamplerParams p;
  greedy (&p);
  g_autoptr (TernSession) s = tern_session_new (ctx, model_template, &p);
  g_autoptr (GPtrArray) texts = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GArray) chat = g_array_new (FALSE, FALSE, sizeof (TernChatMessage));
  g_autoptr (GArray) tokens = g_array_new (FALSE, FALSE, sizeof (TernToken));

  TernChatMessage rule = { "system", "Speak as the King James Bible does." };
  g_array_append_val (chat, rule);
  for (guint i = 0; i < 12; i++)
    {
      char *text = long_text (8 + i);
      g_ptr_array_add (texts, text);
      TernChatMessage m = { i % 2 ? "assistant" : "user", text };
      g_array_append_val (chat, m);
    }
  const TernChatMessage *msgs = (TernChatMessage *) chat->data;

  gsize first = 0;
  g_assert_true (tern_session_fit (s, "Be brief.", msgs, chat->len, NULL, &first, tokens, NULL, &error));
  g_assert_no_error (error);
  g_test_message ("kept messages %" G_GSIZE_FORMAT " to %u: %u tokens", first, chat->len - 1, tokens->len);
  g_assert_cmpuint (first, >, 1);
  g_assert_cmpstr (msgs[first].role, ==, "user");
  g_assert_cmpint (tokens->len, <=, n_ctx - n_ctx / 4);

  /* What was kept, rendered by the template itself. */
  g_autoptr (GArray) kept = g_array_new (FALSE, FALSE, sizeof (TernChatMessage));
  TernChatMessage system = { "system", "Be brief." };
  g_array_append_val (kept, system);
  g_array_append_val (kept, rule);
  g_array_append_vals (kept, msgs + first, chat->len - first);
  g_autoptr (GArray) want = reference_prompt (model_template, (TernChatMessage *) kept->data, kept->len, TRUE);
  assert_tokens (tokens, want);

  /* One turn more (two messages back: a user message and its reply) does
   * not fit. */
  g_array_remove_range (kept, 2, kept->len - 2);
  g_array_append_vals (kept, msgs + first - 2, chat->len - first + 2);
  g_autoptr (GArray) more = reference_prompt (model_template, (TernChatMessage *) kept->data, kept->len, TRUE);
  g_assert_cmpint (more->len, >, n_ctx - n_ctx / 4);

  /* The last message alone too long: INVALID, nothing to evaluate. */
  g_autofree char *huge = long_text (400);
  TernChatMessage last = { "user", huge };
  g_array_append_val (chat, last);
  first = 0;
  g_assert_false (
      tern_session_fit (s, NULL, (TernChatMessage *) chat->data, chat->len, NULL, &first, tokens, NULL, &error));
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "too long for the context"));
  g_assert_cmpuint (tokens->len, ==, 0);
}

/* A conversation far longer than the chat template may render whole (its
 * interpreter stops at 256 MiB of output) fits at once: only the latest
 * turns are counted and rendered, and they are those a reference render
 * keeps. */
static void
test_fit_long (void)
{
  g_autoptr (GError) error = NULL;
  const guint n = 400001; /* ending with a user message */
  g_autoptr (TernContext) ctx = new_context (256);
  TernSamplerParams p;
  greedy (&p);
  g_autoptr (TernSession) s = tern_session_new (ctx, model_template, &p);
  g_autoptr (GArray) tokens = g_array_new (FALSE, FALSE, sizeof (TernToken));
  g_autofree TernChatMessage *chat = g_new (TernChatMessage, n);
  g_autofree char *text = long_text (16);
  gsize first;

  for (guint i = 0; i < n; i++)
    chat[i] = (TernChatMessage) { i % 2 ? "assistant" : "user", text + (i % 7) * 4 };
  g_assert_true (tern_session_fit (s, NULL, chat, n, NULL, &first, tokens, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (first, >, n - 40);
  g_autoptr (GArray) want = reference_prompt (model_template, chat + first, n - first, TRUE);
  assert_tokens (tokens, want);
  /* One turn more does not fit. */
  g_autoptr (GArray) more = reference_prompt (model_template, chat + first - 2, n - first + 2, TRUE);
  g_assert_cmpint (more->len, >, 256 - 256 / 4);
}

/* Conversations whose roles do not alternate (a reply lost to a crash
 * leaves two user messages in a row) are trimmed by whole turns, never
 * stranded, and a template that demands alternation gets a prompt it
 * takes. */
static void
test_fit_roles (void)
{
  g_autoptr (GError) error = NULL;
  const gint32 n_ctx = 256;
  g_autoptr (TernContext) ctx = new_context (n_ctx);
  TernSamplerParams p;
  greedy (&p);
  g_autoptr (TernSession) s = tern_session_new (ctx, model_template, &p);
  g_autoptr (TernSession) strict = tern_session_new (ctx, strict_template, &p);
  g_autoptr (GArray) tokens = g_array_new (FALSE, FALSE, sizeof (TernToken));
  g_autofree char *long_reply = long_text (180);
  gsize first;

  /* Two user messages, then a reply too long to keep: only the last
   * message fits. Dropping two messages at a time would have tried [reply,
   * question] and given up. */
  const TernChatMessage stranded[] = {
    { "user", "Hello" }, { "user", "Are you there?" }, { "assistant", long_reply }, { "user", "And then?" },
  };
  first = 0;
  g_autofree char *note = NULL;
  g_assert_true (tern_session_fit (s, NULL, stranded, 4, NULL, &first, tokens, &note, &error));
  g_assert_no_error (error);
  /* Left out for length, not for the template: nothing to say. */
  g_assert_null (note);
  g_assert_cmpuint (first, ==, 3);
  g_autoptr (GArray) last_only = reference_prompt (model_template, stranded + 3, 1, TRUE);
  assert_tokens (tokens, last_only);

  /* A long first question: what is left starts at the next user message,
   * not at a reply, so the strict template takes it. */
  g_autofree char *long_question = long_text (180);
  const TernChatMessage shifted[] = {
    { "user", long_question }, { "user", "Who made the light?" }, { "assistant", "God." },
    { "user", "And the dark?" },
  };
  first = 0;
  g_assert_true (tern_session_fit (strict, NULL, shifted, 4, NULL, &first, tokens, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (first, ==, 1);
  g_autoptr (GArray) from_second = reference_prompt (strict_template, shifted + 1, 3, TRUE);
  assert_tokens (tokens, from_second);

  /* Short, but refused as it stands: the latest turns it takes, with the
   * system prompt. */
  const TernChatMessage refused[] = {
    { "user", "Hello" }, { "assistant", "Hail." }, { "user", "Lost reply" }, { "user", "Who made the light?" },
    { "assistant", "God." }, { "user", "And the dark?" },
  };
  first = 0;
  g_assert_true (tern_session_fit (strict, "Be brief.", refused, 6, NULL, &first, tokens, &note, &error));
  g_assert_no_error (error);
  /* The template's refusal is said, naming what was left out. */
  g_assert_nonnull (note);
  g_assert_nonnull (strstr (note, "3 earlier messages are left out"));
  g_assert_cmpuint (first, ==, 3);
  const TernChatMessage taken[] = { { "system", "Be brief." }, refused[3], refused[4], refused[5] };
  g_autoptr (GArray) want = reference_prompt (strict_template, taken, 4, TRUE);
  assert_tokens (tokens, want);

  /* A template that refuses every window: its own error. */
  g_autoptr (TernChatTemplate) never =
      tern_chat_template_new ("{{ raise_exception('No chat here') }}", -1, NULL, NULL, &error);
  g_assert_no_error (error);
  g_autoptr (TernSession) refusing = tern_session_new (ctx, never, &p);
  first = 0;
  g_assert_false (tern_session_fit (refusing, NULL, refused, 6, NULL, &first, tokens, NULL, &error));
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_UNSUPPORTED);
  g_assert_nonnull (strstr (error->message, "No chat here"));
}

/* ---- Evaluation ---- */

/* The logits of a fresh context that evaluated @tokens in one batch. */
static float *
fresh_logits (GArray *tokens)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (TernContext) ctx = new_context (256);
  gint32 n_vocab = tern_tokenizer_n_vocab (tok);

  g_assert_true (tern_context_decode (ctx, (TernToken *) tokens->data, (gint32) tokens->len, FALSE, NULL, NULL,
                                      NULL, &error));
  return g_memdup2 (tern_context_last_logits (ctx), n_vocab * sizeof (float));
}

static void
assert_context (TernContext *ctx, GArray *tokens)
{
  gint32 n;
  const TernToken *held = tern_context_tokens (ctx, &n);
  g_autofree float *want = fresh_logits (tokens);

  g_assert_cmpmem (held, n * sizeof (TernToken), tokens->data, tokens->len * sizeof (TernToken));
  g_assert_cmpmem (tern_context_last_logits (ctx), tern_tokenizer_n_vocab (tok) * sizeof (float), want,
                   tern_tokenizer_n_vocab (tok) * sizeof (float));
}

/* A prompt evaluates only what the context lacks: the tokens after the
 * longest prefix it holds, and at least the last. */
static void
test_prefix_reuse (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (TernContext) ctx = new_context (256);
  TernSamplerParams p;
  greedy (&p);
  g_autoptr (TernSession) s = tern_session_new (ctx, NULL, &p);
  g_autoptr (GArray) a = encode ("In the beginning God created the heaven and the earth.", TRUE);
  g_autoptr (GArray) b = encode ("And the earth was without form, and void", FALSE);
  g_autoptr (GArray) c = encode ("Let there be light: and there was light", FALSE);
  g_autoptr (GArray) ab = g_array_copy (a);
  g_array_append_vals (ab, b->data, b->len);
  g_autoptr (GArray) ac = g_array_copy (a);
  g_array_append_vals (ac, c->data, c->len);
  g_assert_cmpint (g_array_index (b, TernToken, 0), !=, g_array_index (c, TernToken, 0));
  gint32 reused;

  g_assert_true (tern_session_feed_prompt (s, (TernToken *) a->data, a->len, NULL, NULL, NULL, &reused, &error));
  g_assert_no_error (error);
  g_assert_cmpint (reused, ==, 0);
  assert_context (ctx, a);

  /* The conversation grew: all of it was there. */
  g_assert_true (tern_session_feed_prompt (s, (TernToken *) ab->data, ab->len, NULL, NULL, NULL, &reused, &error));
  g_assert_cmpint (reused, ==, a->len);
  assert_context (ctx, ab);

  /* The same again: only the last token, for its logits. */
  g_assert_true (tern_session_feed_prompt (s, (TernToken *) ab->data, ab->len, NULL, NULL, NULL, &reused, &error));
  g_assert_cmpint (reused, ==, ab->len - 1);
  assert_context (ctx, ab);

  /* Another continuation: from where they part. */
  g_assert_true (tern_session_feed_prompt (s, (TernToken *) ac->data, ac->len, NULL, NULL, NULL, &reused, &error));
  g_assert_cmpint (reused, ==, a->len);
  assert_context (ctx, ac);

  /* Shorter: cut back, the last token evaluated again. */
  g_assert_true (tern_session_feed_prompt (s, (TernToken *) a->data, a->len, NULL, NULL, NULL, &reused, &error));
  g_assert_cmpint (reused, ==, a->len - 1);
  assert_context (ctx, a);

  /* Longer than the context: refused before anything is evaluated. */
  g_autoptr (TernContext) small = new_context (16);
  g_autoptr (TernSession) s2 = tern_session_new (small, NULL, &p);
  g_assert_false (tern_session_feed_prompt (s2, (TernToken *) ab->data, ab->len, NULL, NULL, NULL, NULL, &error));
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "longer than the context"));
  g_assert_cmpint (tern_context_n_past (small), ==, 0);
}

typedef struct {
  GArray *dropped; /* gint32, one per shift */
  gint32 n_keep;
} Shifts;

static void
on_shift (gint32 n_dropped, gint32 n_keep, gpointer data)
{
  Shifts *shifts = data;

  g_array_append_val (shifts->dropped, n_dropped);
  shifts->n_keep = n_keep;
}

/* A reply longer than the context goes on past it: each time the context
 * is full, the oldest half of what follows the BOS goes. */
static void
test_shift (void)
{
  g_autoptr (GError) error = NULL;
  const gint32 n_ctx = 32;
  g_autoptr (TernContext) ctx = new_context (n_ctx);
  TernSamplerParams p;
  greedy (&p);
  g_autoptr (TernSession) s = tern_session_new (ctx, NULL, &p);
  g_autoptr (GArray) prompt = encode ("And God said", TRUE);
  g_autoptr (GString) text = g_string_new (NULL);
  g_autoptr (GArray) tokens = g_array_new (FALSE, FALSE, sizeof (TernToken));
  Shifts shifts = { g_array_new (FALSE, FALSE, sizeof (gint32)), -1 };
  TernSessionStream stream = { .max_tokens = 100 };
  gboolean ended;

  tern_session_set_shift_func (s, on_shift, &shifts);
  g_assert_true (tern_session_feed_prompt (s, (TernToken *) prompt->data, prompt->len, NULL, NULL, NULL, NULL,
                                           &error));
  g_assert_true (tern_session_stream (s, &stream, text, tokens, &ended, &error));
  g_assert_no_error (error);
  g_assert_false (ended);
  g_assert_cmpuint (tokens->len, ==, 100);

  /* The window the context should hold: the prompt and the reply, less
   * what each shift dropped after the BOS. */
  g_autoptr (GArray) window = g_array_copy (prompt);
  g_autoptr (GArray) want_dropped = g_array_new (FALSE, FALSE, sizeof (gint32));
  for (guint i = 0; i < tokens->len; i++)
    {
      if ((gint32) window->len == n_ctx)
        {
          gint32 dropped = (window->len - 1) / 2;
          g_array_remove_range (window, 1, dropped);
          g_array_append_val (want_dropped, dropped);
        }
      g_array_append_val (window, g_array_index (tokens, TernToken, i));
    }
  g_assert_cmpuint (want_dropped->len, >=, 5);
  g_assert_cmpint (shifts.n_keep, ==, 1);
  g_assert_cmpmem (shifts.dropped->data, shifts.dropped->len * sizeof (gint32), want_dropped->data,
                   want_dropped->len * sizeof (gint32));
  gint32 n;
  const TernToken *held = tern_context_tokens (ctx, &n);
  g_assert_cmpint (held[0], ==, tern_tokenizer_bos (tok));
  g_assert_cmpmem (held, n * sizeof (TernToken), window->data, window->len * sizeof (TernToken));
  g_array_unref (shifts.dropped);
}

/* ---- Replies ---- */

typedef struct {
  guint stop_at;  /* the token after which a stop is asked for */
  gboolean stop;  /* asked for */
  GString *text;  /* what the text callback told */
  guint n_tokens; /* the count it gave with the last piece */
} Watch;

static gboolean
watch_stopped (gpointer data)
{
  return ((Watch *) data)->stop;
}

static void
watch_text (const char *text, gsize len, guint n_tokens, gpointer data)
{
  Watch *w = data;

  g_assert_true (g_utf8_validate_len (text, len, NULL));
  g_string_append_len (w->text, text, len);
  w->n_tokens = n_tokens;
}

/* As a user who presses Stop having seen token @stop_at. */
static void
watch_token (guint n_tokens, gpointer data)
{
  Watch *w = data;

  g_assert_cmpuint (n_tokens, ==, w->n_tokens);
  if (n_tokens == w->stop_at)
    w->stop = TRUE;
}

static void
test_stop (void)
{
  g_autoptr (GError) error = NULL;
  const guint stop_at[] = { 1, 5, 12 };
  TernSamplerParams p;
  greedy (&p);
  g_autoptr (GArray) prompt = encode ("And God said", TRUE);

  for (guint i = 0; i < G_N_ELEMENTS (stop_at); i++)
    {
      g_autoptr (TernContext) ctx = new_context (256);
      g_autoptr (TernSession) s = tern_session_new (ctx, NULL, &p);
      g_autoptr (GString) text = g_string_new (NULL);
      g_autoptr (GString) decoded = g_string_new (NULL);
      g_autoptr (GArray) tokens = g_array_new (FALSE, FALSE, sizeof (TernToken));
      Watch w = { .stop_at = stop_at[i], .text = g_string_new (NULL) };
      TernSessionStream stream = {
        .max_tokens = 40, .stopped = watch_stopped, .text = watch_text, .token = watch_token, .user_data = &w,
      };
      gboolean ended;

      g_assert_true (tern_session_feed_prompt (s, (TernToken *) prompt->data, prompt->len, NULL, NULL, NULL, NULL,
                                               &error));
      g_assert_true (tern_session_stream (s, &stream, text, tokens, &ended, &error));
      g_assert_no_error (error);
      g_assert_false (ended);
      g_assert_cmpuint (tokens->len, ==, stop_at[i]);
      g_assert_cmpint (tern_context_n_past (ctx), ==, prompt->len + stop_at[i]);
      g_assert_true (tern_tokenizer_decode (tok, (TernToken *) tokens->data, tokens->len, FALSE, decoded, &error));
      g_assert_cmpstr (text->str, ==, decoded->str);
      g_assert_cmpstr (w.text->str, ==, text->str);
      g_string_free (w.text, TRUE);
    }
}

static char *
tmp_db (char **dir)
{
  g_autoptr (GError) error = NULL;

  *dir = g_dir_make_tmp ("tern-session-XXXXXX", &error);
  g_assert_no_error (error);
  return g_build_filename (*dir, "tern.db", NULL);
}

/* A reply streamed with a checkpoint holds, while it streams, a prefix of
 * itself (at least every TERN_REPLY_CHECKPOINT_TOKENS tokens), flagged
 * incomplete; finished, all of it with the sampler's state. */
static void
test_checkpoint (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = NULL;
  g_autofree char *db = tmp_db (&dir);
  g_autoptr (TernStore) store = tern_store_open (db, &error);
  g_assert_no_error (error);
  g_autoptr (TernContext) ctx = new_context (256);
  TernSamplerParams p;
  greedy (&p);
  g_autoptr (TernSession) s = tern_session_new (ctx, NULL, &p);
  g_autoptr (GArray) prompt = encode ("And God said", TRUE);
  g_autoptr (GString) text = g_string_new (NULL);
  g_autoptr (GArray) tokens = g_array_new (FALSE, FALSE, sizeof (TernToken));
  const guint n = TERN_REPLY_CHECKPOINT_TOKENS + 8;
  gboolean ended;

  gint64 c = tern_store_conversation_new (store, "checkpoint", 0, NULL, &p, &error);
  gint64 q = tern_store_message_add (store, c, TERN_STORE_HEAD, TERN_ROLE_USER, "And God said", NULL, 0, NULL, &error);
  g_assert_no_error (error);
  g_autoptr (TernReply) reply = tern_store_reply_begin (store, c, q, &error);
  g_assert_no_error (error);
  TernSessionStream stream = { .max_tokens = n, .reply = reply };
  g_assert_true (tern_session_feed_prompt (s, (TernToken *) prompt->data, prompt->len, NULL, NULL, NULL, NULL,
                                           &error));
  g_assert_true (tern_session_stream (s, &stream, text, tokens, &ended, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (tokens->len, ==, n);

  /* What a crash now would leave: checkpoints come every
   * TERN_REPLY_CHECKPOINT_TOKENS tokens or sooner (a second passed, as on
   * a loaded machine), so the last holds more than n minus that many. */
  g_autoptr (TernMessage) partial = tern_store_message_get (store, tern_reply_id (reply), &error);
  g_assert_no_error (error);
  g_assert_false (partial->complete);
  g_assert_cmpint (partial->n_tokens, >, (gint32) n - TERN_REPLY_CHECKPOINT_TOKENS);
  g_assert_cmpint (partial->tokens->len, ==, partial->n_tokens);
  g_assert_cmpmem (partial->tokens->data, partial->tokens->len * sizeof (TernToken), tokens->data,
                   partial->tokens->len * sizeof (TernToken));
  g_autoptr (GString) partial_text = g_string_new (NULL);
  g_assert_true (tern_tokenizer_decode (tok, (TernToken *) partial->tokens->data, partial->tokens->len, FALSE,
                                        partial_text, &error));
  g_assert_cmpstr (partial->content, ==, partial_text->str);

  g_assert_true (tern_session_finish_reply (s, reply, text->str, tokens, &error));
  g_assert_no_error (error);
  g_autoptr (TernMessage) done = tern_store_message_get (store, tern_reply_id (reply), &error);
  g_assert_true (done->complete);
  g_assert_cmpstr (done->content, ==, text->str);
  g_assert_cmpmem (done->tokens->data, done->tokens->len * sizeof (TernToken), tokens->data,
                   tokens->len * sizeof (TernToken));
  g_autoptr (GByteArray) state = g_byte_array_new ();
  tern_sampler_save (tern_session_get_sampler (s), state);
  g_assert_cmpmem (g_bytes_get_data (done->sampler_state, NULL), g_bytes_get_size (done->sampler_state), state->data,
                   state->len);
  test_remove_tree (dir);
}

/* ---- Snapshots and resuming ---- */

static gboolean
append_bytes (const void *data, gsize len, gpointer user_data, GError **error)
{
  g_byte_array_append (user_data, data, len);
  return TRUE;
}

static GByteArray *
context_state (TernContext *ctx)
{
  g_autoptr (GError) error = NULL;
  GByteArray *state = g_byte_array_new ();

  g_assert_true (tern_context_save_state (ctx, append_bytes, state, &error));
  g_assert_no_error (error);
  return state;
}

/* One turn of @session in @store's conversation @c: @text, then a reply
 * of @n tokens stored with its checkpoint and, with @snapshot, the
 * snapshot after it. Returns the reply's tokens. */
static GArray *
turn (TernSession *session, TernStore *store, gint64 c, const TernModelIdentity *identity, const char *text,
      guint n, gboolean snapshot)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (TernConversation) conv = tern_store_conversation_get (store, c, &error);
  g_assert_no_error (error);
  g_autoptr (GPtrArray) messages = tern_store_conversation_messages (store, c, 0, &error);
  g_autoptr (GArray) chat = g_array_new (FALSE, FALSE, sizeof (TernChatMessage));
  g_autoptr (GArray) prompt = g_array_new (FALSE, FALSE, sizeof (TernToken));
  g_autoptr (GString) reply_text = g_string_new (NULL);
  GArray *tokens = g_array_new (FALSE, FALSE, sizeof (TernToken));
  gboolean ended;
  gsize first = 0;

  for (guint i = 0; i < messages->len; i++)
    {
      TernMessage *m = messages->pdata[i];
      TernChatMessage cm = { tern_role_name (m->role), m->content };
      g_array_append_val (chat, cm);
    }
  TernChatMessage user = { "user", text };
  g_array_append_val (chat, user);
  g_assert_true (tern_session_fit (session, conv->system_prompt, (TernChatMessage *) chat->data, chat->len, NULL,
                                   &first, prompt, NULL, &error));
  g_assert_true (tern_session_feed_prompt (session, (TernToken *) prompt->data, prompt->len, NULL, NULL, NULL, NULL,
                                           &error));
  g_assert_no_error (error);
  gint64 q = tern_store_message_add (store, c, TERN_STORE_HEAD, TERN_ROLE_USER, text, NULL, 0, NULL, &error);
  g_autoptr (TernReply) reply = tern_store_reply_begin (store, c, q, &error);
  g_assert_no_error (error);
  TernSessionStream stream = { .max_tokens = n, .reply = reply };
  g_assert_true (tern_session_stream (session, &stream, reply_text, tokens, &ended, &error));
  g_assert_true (tern_session_finish_reply (session, reply, reply_text->str, tokens, &error));
  g_assert_no_error (error);
  if (snapshot)
    g_assert_cmpint (tern_session_save_snapshot (session, store, c, tern_reply_id (reply), identity, &error), >, 0);
  g_assert_no_error (error);
  return tokens;
}

/* A conversation brought back from its snapshot, or by evaluating its
 * transcript again, is in exactly the state the live one was, and goes
 * on with the same tokens. */
static void
test_snapshot_and_reingest (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = NULL;
  g_autofree char *db = tmp_db (&dir);
  g_autoptr (TernStore) store = tern_store_open (db, &error);
  g_autofree char *path = g_test_build_filename (G_TEST_DIST, "data", "models", MODEL, NULL);
  TernModelIdentity identity;
  TernSamplerParams p;
  TernResumeKind kind;
  g_autofree char *why = NULL;

  g_assert_true (tern_model_identity_compute (path, &identity, &error));
  /* Sampled, not greedy: the random stream must carry on too. */
  tern_sampler_params_init (&p);
  p.seed = 77;
  gint64 c = tern_store_conversation_new (store, "Genesis", 0, "Speak as the King James Bible does.", &p, &error);
  g_assert_no_error (error);

  g_autoptr (TernContext) live_ctx = new_context (256);
  g_autoptr (TernSession) live = tern_session_new (live_ctx, model_template, &p);
  g_autoptr (GArray) first_reply = turn (live, store, c, &identity, "In the beginning", 16, TRUE);
  g_autoptr (GByteArray) live_state = context_state (live_ctx);
  /* Copies have the messages, not the snapshot: one to evaluate again,
   * one for the live session to go on with. */
  gint64 copy = tern_store_conversation_duplicate (store, c, &error);
  gint64 live_copy = tern_store_conversation_duplicate (store, c, &error);
  g_assert_no_error (error);

  g_autoptr (TernConversation) conv = tern_store_conversation_get (store, c, &error);
  g_autoptr (GPtrArray) messages = tern_store_conversation_messages (store, c, 0, &error);
  g_autoptr (TernContext) restored_ctx = new_context (256);
  g_autoptr (TernSession) restored = tern_session_new (restored_ctx, model_template, &p);
  g_assert_true (tern_session_resume (restored, store, conv, messages, &identity, NULL, NULL, NULL, &kind, &why,
                                      &error));
  g_assert_no_error (error);
  g_assert_cmpint (kind, ==, TERN_RESUME_SNAPSHOT);
  g_assert_null (why);
  g_autoptr (GByteArray) restored_state = context_state (restored_ctx);
  g_assert_cmpmem (restored_state->data, restored_state->len, live_state->data, live_state->len);

  g_autoptr (TernConversation) conv2 = tern_store_conversation_get (store, copy, &error);
  g_autoptr (GPtrArray) messages2 = tern_store_conversation_messages (store, copy, 0, &error);
  g_autoptr (TernContext) reingested_ctx = new_context (256);
  g_autoptr (TernSession) reingested = tern_session_new (reingested_ctx, model_template, &p);
  g_assert_true (tern_session_resume (reingested, store, conv2, messages2, &identity, NULL, NULL, NULL, &kind, &why,
                                      &error));
  g_assert_no_error (error);
  g_assert_cmpint (kind, ==, TERN_RESUME_REINGEST);
  g_assert_cmpstr (why, ==, "it has no snapshot");
  g_autoptr (GByteArray) reingested_state = context_state (reingested_ctx);
  g_assert_cmpmem (reingested_state->data, reingested_state->len, live_state->data, live_state->len);

  /* The next turn: the same tokens, however the state came back. */
  g_autoptr (GArray) live_next = turn (live, store, live_copy, &identity, "And then?", 16, FALSE);
  g_autoptr (GArray) restored_next = turn (restored, store, c, &identity, "And then?", 16, FALSE);
  g_autoptr (GArray) reingested_next = turn (reingested, store, copy, &identity, "And then?", 16, FALSE);
  assert_tokens (restored_next, live_next);
  assert_tokens (reingested_next, live_next);

  /* Another context size: the snapshot does not fit, so the transcript is
   * evaluated again, and the reason said. */
  g_autoptr (TernContext) big_ctx = new_context (512);
  g_autoptr (TernSession) big = tern_session_new (big_ctx, model_template, &p);
  g_clear_pointer (&why, g_free);
  g_assert_true (tern_session_resume (big, store, conv, messages, &identity, NULL, NULL, NULL, &kind, &why, &error));
  g_assert_cmpint (kind, ==, TERN_RESUME_REINGEST);
  g_assert_nonnull (why);
  g_assert_cmpstr (why, !=, "it has no snapshot");

  /* No messages: nothing to evaluate. */
  gint64 empty = tern_store_conversation_new (store, "empty", 0, NULL, &p, &error);
  g_autoptr (TernConversation) conv3 = tern_store_conversation_get (store, empty, &error);
  g_autoptr (GPtrArray) none = g_ptr_array_new ();
  g_assert_true (tern_session_resume (restored, store, conv3, none, &identity, NULL, NULL, NULL, &kind, NULL, &error));
  g_assert_cmpint (kind, ==, TERN_RESUME_EMPTY);
  g_assert_cmpint (tern_context_n_past (restored_ctx), ==, 0);
  test_remove_tree (dir);
}

/* A stored conversation the template refuses (two user messages in a row)
 * resumes with the latest turns the template takes instead of failing,
 * and its next turn is fitted to them. */
static void
test_resume_refused (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = NULL;
  g_autofree char *db = tmp_db (&dir);
  g_autoptr (TernStore) store = tern_store_open (db, &error);
  TernModelIdentity identity = { 0 };
  TernSamplerParams p;
  TernResumeKind kind;
  const struct {
    TernRole role;
    const char *text;
  } transcript[] = {
    { TERN_ROLE_USER, "Hello" }, { TERN_ROLE_ASSISTANT, "Hail." }, { TERN_ROLE_USER, "Lost reply" },
    { TERN_ROLE_USER, "Who made the light?" }, { TERN_ROLE_ASSISTANT, "God." },
  };

  greedy (&p);
  gint64 c = tern_store_conversation_new (store, "crash", 0, NULL, &p, &error);
  for (guint i = 0; i < G_N_ELEMENTS (transcript); i++)
    tern_store_message_add (store, c, TERN_STORE_HEAD, transcript[i].role, transcript[i].text, NULL, 0, NULL, &error);
  g_assert_no_error (error);
  g_autoptr (TernConversation) conv = tern_store_conversation_get (store, c, &error);
  g_autoptr (GPtrArray) messages = tern_store_conversation_messages (store, c, 0, &error);
  g_autoptr (TernContext) ctx = new_context (256);
  g_autoptr (TernSession) s = tern_session_new (ctx, strict_template, &p);

  g_assert_true (tern_session_resume (s, store, conv, messages, &identity, NULL, NULL, NULL, &kind, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (kind, ==, TERN_RESUME_REINGEST);
  const TernChatMessage taken[] = { { "user", "Who made the light?" }, { "assistant", "God." } };
  g_autoptr (GArray) want = reference_prompt (strict_template, taken, 2, FALSE);
  gint32 n_past;
  const TernToken *held = tern_context_tokens (ctx, &n_past);
  g_assert_cmpmem (held, n_past * sizeof (TernToken), want->data, want->len * sizeof (TernToken));

  const TernChatMessage chat[] = {
    { "user", "Hello" }, { "assistant", "Hail." }, { "user", "Lost reply" }, { "user", "Who made the light?" },
    { "assistant", "God." }, { "user", "And the dark?" },
  };
  g_autoptr (GArray) tokens = g_array_new (FALSE, FALSE, sizeof (TernToken));
  gsize first = 0;
  g_assert_true (tern_session_fit (s, conv->system_prompt, chat, G_N_ELEMENTS (chat), NULL, &first, tokens, NULL, &error));
  g_assert_cmpuint (first, ==, 3);

  /* A template that refuses every window: resumed with an empty context,
   * and the next turn gets the template's own error. */
  g_autoptr (TernChatTemplate) never =
      tern_chat_template_new ("{{ raise_exception('No chat here') }}", -1, NULL, NULL, &error);
  g_assert_no_error (error);
  g_autoptr (TernSession) refusing = tern_session_new (ctx, never, &p);
  g_assert_true (
      tern_session_resume (refusing, store, conv, messages, &identity, NULL, NULL, NULL, &kind, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (kind, ==, TERN_RESUME_REINGEST);
  g_assert_cmpint (tern_context_n_past (ctx), ==, 0);
  test_remove_tree (dir);
}

/* New settings make a new sampler that has seen the context; the same
 * ones keep the sampler going. */
static void
test_sampling (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (TernContext) ctx = new_context (256);
  TernSamplerParams p, other;
  tern_sampler_params_init (&p);
  p.seed = 5;
  g_autoptr (TernSession) s = tern_session_new (ctx, NULL, &p);
  g_autoptr (GArray) prompt = encode ("And God said", TRUE);

  g_assert_true (tern_session_feed_prompt (s, (TernToken *) prompt->data, prompt->len, NULL, NULL, NULL, NULL,
                                           &error));
  TernSampler *before = tern_session_get_sampler (s);
  tern_session_set_sampling (s, &p);
  g_assert_true (tern_session_get_sampler (s) == before);

  other = p;
  other.repeat_penalty = 1.5f;
  tern_session_set_sampling (s, &other);
  g_autoptr (TernSampler) want = tern_sampler_new (&other, tern_tokenizer_n_vocab (tok));
  for (guint i = 0; i < prompt->len; i++)
    tern_sampler_accept (want, g_array_index (prompt, TernToken, i));
  g_autoptr (GByteArray) got_state = g_byte_array_new ();
  g_autoptr (GByteArray) want_state = g_byte_array_new ();
  tern_sampler_save (tern_session_get_sampler (s), got_state);
  tern_sampler_save (want, want_state);
  g_assert_cmpmem (got_state->data, got_state->len, want_state->data, want_state->len);
}

/* The greedy reply of @n tokens to what @s's context holds. */
static GArray *
reply_tokens (TernSession *s, guint n)
{
  g_autoptr (GError) error = NULL;
  GArray *tokens = g_array_new (FALSE, FALSE, sizeof (TernToken));

  for (guint i = 0; i < n; i++)
    {
      TernToken t = tern_session_sample (s);
      g_array_append_val (tokens, t);
      g_assert_true (tern_session_feed (s, &t, 1, &error));
      g_assert_no_error (error);
    }
  return tokens;
}

/* A prompt stopped in its third pass keeps the two before it, and the same
 * prompt then goes on from them to what it gives never stopped: the same
 * reply, with penalties that count every token of the prompt. */
static void
test_stopped_prompt (void)
{
  g_autoptr (GError) error = NULL;
  TernSamplerParams p;
  greedy (&p);
  p.frequency_penalty = 1.0f;
  p.presence_penalty = 0.5f;
  g_autoptr (GArray) prompt = encode ("In the beginning God created the heaven and the earth. In the beginning "
                                      "God created the heaven and the earth. In the beginning God", TRUE);
  g_assert_cmpuint (prompt->len, >, 24);

  g_autoptr (TernContext) whole_ctx = new_stoppable_context ();
  g_autoptr (TernSession) whole = tern_session_new (whole_ctx, NULL, &p);
  g_assert_true (tern_session_feed_prompt (whole, (TernToken *) prompt->data, prompt->len, NULL, NULL, NULL, NULL,
                                           &error));
  g_assert_no_error (error);
  g_autoptr (GArray) want = reply_tokens (whole, 24);

  /* Each pass: the embedding and four layers of 16 operations; the third
   * pass stopped in its second layer. */
  g_autoptr (GCancellable) stop = g_cancellable_new ();
  faulty_backend_plan_stop (2 * 65 + 20, TRUE);
  g_autoptr (TernContext) ctx = new_stoppable_context ();
  faulty_backend_plan_stop (-1, FALSE);
  g_autoptr (TernSession) s = tern_session_new (ctx, NULL, &p);
  g_assert_false (tern_session_feed_prompt (s, (TernToken *) prompt->data, prompt->len, NULL, NULL, stop, NULL,
                                            &error));
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_CANCELLED);
  g_clear_error (&error);
  g_assert_cmpint (tern_context_n_past (ctx), ==, 16);
  gint32 reused;
  g_assert_true (tern_session_feed_prompt (s, (TernToken *) prompt->data, prompt->len, NULL, NULL, NULL, &reused,
                                           &error));
  g_assert_no_error (error);
  g_assert_cmpint (reused, ==, 16);
  g_autoptr (GArray) got = reply_tokens (s, 24);
  assert_tokens (got, want);
}

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;

  g_test_init (&argc, &argv, NULL);
  faulty_backend_register ();
  g_autofree char *path = g_test_build_filename (G_TEST_DIST, "data", "models", MODEL, NULL);
  model = tern_model_load (path, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  tok = tern_model_tokenizer (model);
  model_template = tern_chat_template_new_from_gguf (tern_model_gguf (model), tok, &error);
  g_assert_no_error (error);
  strict_template = tern_chat_template_new (STRICT_TEMPLATE, -1, "<s>", "</s>", &error);
  g_assert_no_error (error);

  g_test_add_func ("/engine/session/render", test_render);
  g_test_add_func ("/engine/session/fit/trims", test_fit_trims);
  g_test_add_func ("/engine/session/fit/roles", test_fit_roles);
  g_test_add_func ("/engine/session/fit/long", test_fit_long);
  g_test_add_func ("/engine/session/prefix-reuse", test_prefix_reuse);
  g_test_add_func ("/engine/session/stopped-prompt", test_stopped_prompt);
  g_test_add_func ("/engine/session/shift", test_shift);
  g_test_add_func ("/engine/session/stop", test_stop);
  g_test_add_func ("/engine/session/checkpoint", test_checkpoint);
  g_test_add_func ("/engine/session/snapshot-and-reingest", test_snapshot_and_reingest);
  g_test_add_func ("/engine/session/resume-refused", test_resume_refused);
  g_test_add_func ("/engine/session/sampling", test_sampling);
  int status = g_test_run ();

  tern_chat_template_free (strict_template);
  tern_chat_template_free (model_template);
  tern_model_free (model);
  return status;
}
