/* SPDX-License-Identifier: GPL-3.0-or-later */
/* libFuzzer target: a stored transcript made a prompt, the path of every
 * chat that resumes or sends a message: the conversation is fitted to a
 * small context by tern_session_fit through a real chat template and
 * tokenized by the fixture model's SentencePiece tokenizer.
 *
 * Input: byte 0 picks the template (one of tests/data/chat-templates.json,
 * or the model's own), byte 1 the context size; the rest is split at NUL
 * bytes into the system prompt and then one message per piece: the
 * piece's first byte gives the role (its low 2 bits: system, user,
 * assistant, or user again) and how many times the rest, the content, is
 * repeated (its upper 6 bits, plus one), so a short input can make a
 * conversation far longer than the context. Contents are made UTF-8 as
 * the store keeps them (bytes that are not become U+FFFD).
 *
 * Checked: the fit succeeds or fails with a specific error; a prompt it
 * gives leaves a quarter of the context free, starts its window at a turn,
 * and is exactly what the template makes of that window. */
#include "fuzz-fixtures.h"

#include <json-glib/json-glib.h>
#include <string.h>
#include <tern/error.h>
#include <tern/session.h>

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

static const gint32 context_sizes[] = { 64, 128, 256 };

typedef struct {
  GPtrArray *templates; /* TernChatTemplate: the fixtures', then the model's own */
  TernContext *contexts[G_N_ELEMENTS (context_sizes)];
} Fixtures;

static void
load_templates (GPtrArray *templates, const TernTokenizer *tok)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;
  TernToken bos = tern_tokenizer_bos (tok), eos = tern_tokenizer_eos (tok);
  const char *bos_text = bos >= 0 ? tern_tokenizer_token_text (tok, bos) : "";
  const char *eos_text = eos >= 0 ? tern_tokenizer_token_text (tok, eos) : "";

  if (!json_parser_load_from_file (parser, FUZZ_TEMPLATES_PATH, &error))
    g_error ("%s", error->message);
  JsonArray *list = json_node_get_array (json_parser_get_root (parser));
  for (guint i = 0; i < json_array_get_length (list); i++)
    {
      const char *source = json_object_get_string_member (json_array_get_object_element (list, i), "template");
      TernChatTemplate *tmpl = tern_chat_template_new (source, -1, bos_text, eos_text, &error);
      if (tmpl == NULL)
        g_error ("template %u: %s", i, error->message);
      g_ptr_array_add (templates, tmpl);
    }
}

static Fixtures *
fixtures (void)
{
  static Fixtures f;
  g_autoptr (GError) error = NULL;

  if (f.templates)
    return &f;
  TernModel *model = fuzz_fixture_model ();
  f.templates = g_ptr_array_new ();
  load_templates (f.templates, tern_model_tokenizer (model));
  TernChatTemplate *own = tern_chat_template_new_from_gguf (tern_model_gguf (model), tern_model_tokenizer (model),
                                                            &error);
  if (own == NULL)
    g_error ("%s", error->message);
  g_ptr_array_add (f.templates, own);
  for (guint i = 0; i < G_N_ELEMENTS (context_sizes); i++)
    f.contexts[i] = fuzz_fixture_context (context_sizes[i]);
  return &f;
}

/* A piece of the input as text the store would hold: @len bytes repeated
 * @times, made valid UTF-8. */
static char *
text_of (const guint8 *p, gsize len, guint times)
{
  g_autoptr (GString) s = g_string_sized_new (len * times);

  for (guint i = 0; i < times; i++)
    g_string_append_len (s, (const char *) p, (gssize) len);
  return g_utf8_make_valid (s->str, (gssize) s->len);
}

static gboolean
tokens_equal (const GArray *a, const GArray *b)
{
  return a->len == b->len && memcmp (a->data, b->data, a->len * sizeof (TernToken)) == 0;
}

/* The checks on what tern_session_fit gave: a prompt that fits, starting
 * at a turn, made by the template of the window it says it kept. */
static void
check_prompt (TernSession *session, const char *system, const TernChatMessage *messages, gsize n, gsize first,
              const GArray *tokens, const char *note)
{
  gint32 n_ctx = tern_context_n_ctx (tern_session_get_context (session));
  gsize n_head = 0;
  g_autoptr (GError) error = NULL;
  g_autoptr (GArray) window = g_array_new (FALSE, FALSE, sizeof (TernChatMessage));
  g_autoptr (GArray) expected = g_array_new (FALSE, FALSE, sizeof (TernToken));

  while (n_head < n && g_str_equal (messages[n_head].role, "system"))
    n_head++;
  g_assert_cmpuint (tokens->len, >, 0);
  g_assert_cmpint ((gint32) tokens->len, <=, n_ctx - n_ctx / 4);
  g_assert_cmpuint (first, >=, n_head);
  g_assert_true (first == n_head || (first < n && g_str_equal (messages[first].role, "user")));
  g_assert_true (note == NULL || g_utf8_validate (note, -1, NULL));

  g_array_append_vals (window, messages, n_head);
  if (first < n)
    g_array_append_vals (window, messages + first, n - first);
  g_assert_true (tern_session_render (session, system, (const TernChatMessage *) window->data, window->len, TRUE,
                                      expected, &error));
  g_assert_no_error (error);
  g_assert_true (tokens_equal (tokens, expected));
}

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
  static const char *const roles[] = { "system", "user", "assistant", "user" };
  Fixtures *f = fixtures ();
  g_autoptr (GPtrArray) texts = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GArray) messages = g_array_new (FALSE, FALSE, sizeof (TernChatMessage));
  g_autoptr (GArray) tokens = g_array_new (FALSE, FALSE, sizeof (TernToken));
  g_autoptr (GError) error = NULL;
  g_autofree char *note = NULL;
  const char *system = NULL;
  TernSamplerParams sampling;
  gsize first = G_MAXSIZE;

  if (size < 2)
    return 0;
  const TernChatTemplate *tmpl = f->templates->pdata[data[0] % f->templates->len];
  TernContext *ctx = f->contexts[data[1] % G_N_ELEMENTS (context_sizes)];

  for (const guint8 *p = data + 2, *end = data + size; p <= end;)
    {
      const guint8 *stop = memchr (p, 0, (gsize) (end - p));
      if (stop == NULL)
        stop = end;
      if (system == NULL)
        {
          g_ptr_array_add (texts, text_of (p, (gsize) (stop - p), 1));
          system = g_ptr_array_index (texts, texts->len - 1);
        }
      else if (stop > p)
        {
          g_ptr_array_add (texts, text_of (p + 1, (gsize) (stop - p - 1), 1 + (*p >> 2)));
          TernChatMessage m = { roles[*p & 3], g_ptr_array_index (texts, texts->len - 1) };
          g_array_append_val (messages, m);
        }
      p = stop + 1;
    }

  /* A new session each time: its token counts of texts start empty, so
   * each input is fitted the same way on every run. */
  tern_sampler_params_init (&sampling);
  g_autoptr (TernSession) session = tern_session_new (ctx, tmpl, &sampling);
  const TernChatMessage *list = (const TernChatMessage *) messages->data;
  if (tern_session_fit (session, system, list, messages->len, NULL, &first, tokens, &note, &error))
    check_prompt (session, system, list, messages->len, first, tokens, note);
  else
    {
      g_assert_true (error->domain == TERN_ENGINE_ERROR);
      g_assert_true (error->code == TERN_ENGINE_ERROR_INVALID || error->code == TERN_ENGINE_ERROR_UNSUPPORTED ||
                     error->code == TERN_ENGINE_ERROR_FORMAT);
      g_assert_true (g_utf8_validate (error->message, -1, NULL));
    }
  return 0;
}
