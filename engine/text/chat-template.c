/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Chat templates: the public face of the Jinja interpreter, and the
 * tokenization that keeps message text from ever becoming special tokens. */
#include <tern/chat-template.h>

#include <string.h>

#include "jinja/jinja-private.h"
#include "tokenizer-private.h"

#define KEY_CHAT_TEMPLATE "tokenizer.chat_template"

struct TernChatTemplate {
  JTemplate *tmpl;
  char *bos_token;
  char *eos_token;
  gboolean fallback;
};

typedef struct {
  gsize start, len;
  gboolean is_user;
} Segment;

struct TernChatPrompt {
  char *text;
  gsize len;
  GArray *segments; /* Segment */
};

TernChatTemplate *
tern_chat_template_new (const char *source, gssize len, const char *bos_token, const char *eos_token,
                        GError **error)
{
  TernChatTemplate *t;
  JTemplate *tmpl;

  g_return_val_if_fail (source != NULL, NULL);
  tmpl = tern_jinja_template_compile (source, len < 0 ? strlen (source) : (gsize) len, error);
  if (tmpl == NULL)
    return NULL;
  t = g_new0 (TernChatTemplate, 1);
  t->tmpl = tmpl;
  t->bos_token = g_strdup (bos_token ? bos_token : "");
  t->eos_token = g_strdup (eos_token ? eos_token : "");
  return t;
}

TernChatTemplate *
tern_chat_template_new_from_gguf (const TernGguf *gguf, const TernTokenizer *tok, GError **error)
{
  TernToken bos = tern_tokenizer_bos (tok), eos = tern_tokenizer_eos (tok);
  const char *bos_text = bos >= 0 ? tern_tokenizer_token_text (tok, bos) : "";
  const char *eos_text = eos >= 0 ? tern_tokenizer_token_text (tok, eos) : "";
  TernGgufString source = { 0 };
  g_autoptr (GError) local_error = NULL;
  TernChatTemplate *t;

  if (!tern_gguf_get_string (gguf, KEY_CHAT_TEMPLATE, &source, &local_error))
    {
      if (local_error)
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return NULL;
        }
      t = tern_chat_template_new (TERN_CHAT_TEMPLATE_CHATML, -1, bos_text, eos_text, error);
      t->fallback = TRUE;
      return t;
    }
  t = tern_chat_template_new (source.data, (gssize) source.len, bos_text, eos_text, &local_error);
  if (t == NULL)
    g_propagate_prefixed_error (error, g_steal_pointer (&local_error), "%s: ", tern_gguf_name (gguf));
  return t;
}

void
tern_chat_template_free (TernChatTemplate *t)
{
  if (t == NULL)
    return;
  tern_jinja_template_free (t->tmpl);
  g_free (t->bos_token);
  g_free (t->eos_token);
  g_free (t);
}

gboolean
tern_chat_template_is_fallback (const TernChatTemplate *t)
{
  return t->fallback;
}

void
tern_chat_render_options_init (TernChatRenderOptions *options)
{
  *options = (TernChatRenderOptions) { .add_generation_prompt = TRUE };
}

/* ---- Rendering ---- */

/* A string value in @arena (NULL when over budget), from a message when @user. */
static gboolean
make_str (JArena *arena, const char *s, gboolean user, JVal *out)
{
  gsize len = strlen (s);

  *out = (JVal) { .type = JV_STRING };
  out->s.p = s;
  out->s.len = len;
  if (user && len > 0)
    {
      JTaint *t = tern_jinja_arena_alloc (arena, sizeof (JTaint) + sizeof (JRange));
      if (t == NULL)
        return FALSE;
      t->n = 1;
      t->r[0] = (JRange) { 0, len };
      out->s.taint = t;
    }
  return TRUE;
}

/* The messages as a list of {"role", "content"} dicts. */
static gboolean
make_messages (JArena *arena, const TernChatMessage *messages, gsize n, JVal *out)
{
  JList *list = tern_jinja_arena_alloc (arena, sizeof (JList));
  JVal *items = tern_jinja_arena_alloc (arena, MAX (n, 1) * sizeof (JVal));

  if (list == NULL || items == NULL)
    return FALSE;
  for (gsize k = 0; k < n; k++)
    {
      JDict *d = tern_jinja_arena_alloc (arena, sizeof (JDict));
      JVal *keys = tern_jinja_arena_alloc (arena, 2 * sizeof (JVal));
      JVal *vals = tern_jinja_arena_alloc (arena, 2 * sizeof (JVal));
      if (d == NULL || keys == NULL || vals == NULL)
        return FALSE;
      *d = (JDict) { 2, 2, keys, vals };
      keys[0] = tern_jinja_cstr ("role");
      keys[1] = tern_jinja_cstr ("content");
      /* Roles come from the application, never from the user's text. */
      if (!make_str (arena, messages[k].role, FALSE, &vals[0])
          || !make_str (arena, messages[k].content, TRUE, &vals[1]))
        return FALSE;
      items[k] = (JVal) { .type = JV_DICT, .dict = d };
    }
  *list = (JList) { n, FALSE, items };
  *out = (JVal) { .type = JV_LIST, .list = list };
  return TRUE;
}

static void
time_of (GDateTime *now, struct tm *tm)
{
  g_autoptr (GDateTime) local = now ? g_date_time_ref (now) : g_date_time_new_now_local ();

  memset (tm, 0, sizeof *tm);
  tm->tm_year = g_date_time_get_year (local) - 1900;
  tm->tm_mon = g_date_time_get_month (local) - 1;
  tm->tm_mday = g_date_time_get_day_of_month (local);
  tm->tm_hour = g_date_time_get_hour (local);
  tm->tm_min = g_date_time_get_minute (local);
  tm->tm_sec = g_date_time_get_second (local);
  tm->tm_wday = g_date_time_get_day_of_week (local) % 7; /* GLib: Monday 1 ... Sunday 7 */
  tm->tm_yday = g_date_time_get_day_of_year (local) - 1;
  tm->tm_isdst = 0;
}

static void
add_segment (GArray *segments, gsize start, gsize len, gboolean is_user)
{
  Segment s = { start, len, is_user };

  if (len > 0)
    g_array_append_val (segments, s);
}

TernChatPrompt *
tern_chat_template_render (const TernChatTemplate *t, const TernChatMessage *messages, gsize n_messages,
                           const TernChatRenderOptions *options, GError **error)
{
  TernChatRenderOptions defaults;
  JArena arena;
  JBuf out;
  JVal vals[4];
  const char *const names[4] = { "messages", "add_generation_prompt", "bos_token", "eos_token" };
  struct tm now;

  g_return_val_if_fail (t != NULL, NULL);
  g_return_val_if_fail (messages != NULL || n_messages == 0, NULL);
  if (options == NULL)
    {
      tern_chat_render_options_init (&defaults);
      options = &defaults;
    }
  for (gsize k = 0; k < n_messages; k++)
    if (!g_utf8_validate (messages[k].role, -1, NULL) || !g_utf8_validate (messages[k].content, -1, NULL))
      {
        g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_INVALID, "message %" G_GSIZE_FORMAT
                     " is not valid UTF-8", k + 1);
        return NULL;
      }

  tern_jinja_arena_init (&arena, TERN_CHAT_TEMPLATE_MAX_MEMORY);
  if (!make_messages (&arena, messages, n_messages, &vals[0]))
    {
      tern_jinja_arena_clear (&arena);
      g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_NOMEM, "the conversation is too large to format");
      return NULL;
    }
  vals[1] = tern_jinja_bool (options->add_generation_prompt);
  make_str (&arena, t->bos_token, FALSE, &vals[2]);
  make_str (&arena, t->eos_token, FALSE, &vals[3]);
  time_of (options->now, &now);

  if (!tern_jinja_render (t->tmpl, names, vals, G_N_ELEMENTS (vals), &now, options->cancellable, &arena, &out,
                          error))
    {
      tern_jinja_arena_clear (&arena);
      return NULL;
    }

  TernChatPrompt *p = g_new0 (TernChatPrompt, 1);
  p->text = g_malloc (out.len + 1);
  if (out.len)
    memcpy (p->text, out.p, out.len);
  p->text[out.len] = '\0';
  p->len = out.len;
  p->segments = g_array_new (FALSE, FALSE, sizeof (Segment));
  gsize at = 0;
  for (gsize k = 0; k < out.n_taint; k++)
    {
      add_segment (p->segments, at, out.taint[k].start - at, FALSE);
      add_segment (p->segments, out.taint[k].start, out.taint[k].len, TRUE);
      at = out.taint[k].start + out.taint[k].len;
    }
  add_segment (p->segments, at, out.len - at, FALSE);
  tern_jinja_arena_clear (&arena);
  return p;
}

void
tern_chat_prompt_free (TernChatPrompt *p)
{
  if (p == NULL)
    return;
  g_free (p->text);
  g_array_unref (p->segments);
  g_free (p);
}

const char *
tern_chat_prompt_text (const TernChatPrompt *p, gsize *len)
{
  if (len)
    *len = p->len;
  return p->text;
}

gsize
tern_chat_prompt_n_segments (const TernChatPrompt *p)
{
  return p->segments->len;
}

void
tern_chat_prompt_segment (const TernChatPrompt *p, gsize i, gsize *start, gsize *len, gboolean *is_user)
{
  const Segment *s;

  g_return_if_fail (i < p->segments->len);
  s = &g_array_index (p->segments, Segment, i);
  *start = s->start;
  *len = s->len;
  *is_user = s->is_user;
}

/* ---- Tokenization ---- */

/* A piece of the prompt: text to tokenize, or a special token. */
typedef struct {
  gsize start, len;
  TernToken token; /* -1 for text */
} Piece;

/* The first occurrence of @s (@slen bytes) in text [pos, end), or -1. */
static gssize
find_bytes (const char *text, gsize pos, gsize end, const char *s, gsize slen)
{
  while (pos + slen <= end)
    {
      const char *hit = memchr (text + pos, s[0], end - pos - slen + 1);
      if (hit == NULL)
        return -1;
      if (memcmp (hit, s, slen) == 0)
        return hit - text;
      pos = (gsize) (hit - text) + 1;
    }
  return -1;
}

static void
push_piece (GArray *pieces, gsize start, gsize len, TernToken token)
{
  Piece p = { start, len, token };

  if (len > 0)
    g_array_append_val (pieces, p);
}

/* Cuts the template text [start, start + len) at the control and unknown
 * tokens written in it, longest token first and leftmost first, as the
 * tokenizer's own special-token partition does. */
static void
split_template_text (const TernTokenizer *tok, const char *text, gsize start, gsize len, GArray *pieces)
{
  g_autoptr (GArray) scratch = g_array_new (FALSE, FALSE, sizeof (Piece));
  guint first = pieces->len;

  push_piece (pieces, start, len, -1);
  for (gsize k = 0; k < tok->n_special; k++)
    {
      TernToken id = tok->special[k];
      TernTokenAttr attr = (TernTokenAttr) tok->attrs[id];
      gsize slen;
      const char *s = tern_tokenizer_text (tok, id, &slen);

      /* User-defined tokens are ordinary text: the encoder matches them. */
      if ((attr != TERN_TOKEN_ATTR_CONTROL && attr != TERN_TOKEN_ATTR_UNKNOWN) || slen == 0 || slen > len)
        continue;
      g_array_set_size (scratch, 0);
      for (guint i = first; i < pieces->len; i++)
        {
          Piece p = g_array_index (pieces, Piece, i);
          gsize pos = p.start, end = p.start + p.len;
          gssize hit;

          if (p.token >= 0)
            {
              g_array_append_val (scratch, p);
              continue;
            }
          while ((hit = find_bytes (text, pos, end, s, slen)) >= 0)
            {
              push_piece (scratch, pos, (gsize) hit - pos, -1);
              push_piece (scratch, (gsize) hit, slen, id);
              pos = (gsize) hit + slen;
            }
          push_piece (scratch, pos, end - pos, -1);
        }
      g_array_set_size (pieces, first);
      g_array_append_vals (pieces, scratch->data, scratch->len);
    }
}

gboolean
tern_chat_prompt_tokenize (const TernChatPrompt *p, const TernTokenizer *tok, gboolean add_bos, GArray *out,
                           GError **error)
{
  g_autoptr (GArray) pieces = g_array_new (FALSE, FALSE, sizeof (Piece));
  guint out_len = out->len;
  TernToken bos = tern_tokenizer_bos (tok);

  g_return_val_if_fail (g_array_get_element_size (out) == sizeof (TernToken), FALSE);

  for (guint k = 0; k < p->segments->len; k++)
    {
      const Segment *s = &g_array_index (p->segments, Segment, k);
      if (s->is_user)
        {
          Piece text = { s->start, s->len, -1 };
          g_array_append_val (pieces, text);
        }
      else
        split_template_text (tok, p->text, s->start, s->len, pieces);
    }

  if (add_bos && tern_tokenizer_add_bos (tok) && bos >= 0
      && !(pieces->len && g_array_index (pieces, Piece, 0).token == bos))
    g_array_append_val (out, bos);

  /* Text between special tokens is encoded in one run, whether the
   * template or a message wrote it, so the tokens are those of encoding
   * the whole prompt. */
  for (guint k = 0; k < pieces->len;)
    {
      const Piece *piece = &g_array_index (pieces, Piece, k);
      if (piece->token >= 0)
        {
          g_array_append_val (out, piece->token);
          k++;
          continue;
        }
      gsize start = piece->start, end = piece->start + piece->len;
      for (k++; k < pieces->len && g_array_index (pieces, Piece, k).token < 0; k++)
        end = g_array_index (pieces, Piece, k).start + g_array_index (pieces, Piece, k).len;
      if (!tern_tokenizer_encode (tok, p->text + start, (gssize) (end - start), TERN_TOKENIZE_NONE, out, error))
        {
          g_array_set_size (out, out_len);
          return FALSE;
        }
    }
  return TRUE;
}
