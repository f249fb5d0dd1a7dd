/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Jinja lexer: template source to tokens, following jinja2's lexer.py
 * with Hugging Face's settings (trim_blocks, lstrip_blocks, no
 * keep_trailing_newline). */
#include "jinja-private.h"

#include <string.h>

typedef struct {
  JEnv *env;
  const char *src;
  gsize len;
  gsize pos;
  gint32 line;        /* line of @pos */
  gboolean line_starting; /* the last thing consumed ended a line */
  JTok *toks;
  gsize n_toks, cap_toks;
  gint depth;         /* open brackets inside a tag */
  char brackets[TERN_CHAT_TEMPLATE_MAX_NESTING];
} Lexer;

gboolean
tern_jinja_py_space (const char *p, gsize left, gsize *n)
{
  guint8 c = (guint8) p[0];
  gunichar u;

  *n = 1;
  if (c < 0x80)
    return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f);
  u = g_utf8_get_char_validated (p, (gssize) left);
  if (u == (gunichar) -1 || u == (gunichar) -2)
    return FALSE;
  *n = (gsize) g_unichar_to_utf8 (u, NULL);
  /* The characters Python's str.isspace() accepts beyond ASCII. */
  return u == 0x85 || u == 0xa0 || u == 0x1680 || (u >= 0x2000 && u <= 0x200a) || u == 0x2028 || u == 0x2029
         || u == 0x202f || u == 0x205f || u == 0x3000;
}

/* Moves to @pos, counting the lines passed. */
static void
advance (Lexer *lx, gsize pos)
{
  for (gsize i = lx->pos; i < pos; i++)
    if (lx->src[i] == '\n')
      lx->line++;
  lx->pos = pos;
}

static JTok *
push (Lexer *lx, JTokKind kind, const char *p, gsize len)
{
  if (lx->n_toks == lx->cap_toks)
    {
      gsize cap = MAX (64, lx->cap_toks * 2);
      JTok *toks = tern_jinja_alloc (lx->env, cap * sizeof (JTok));
      if (lx->n_toks)
        memcpy (toks, lx->toks, lx->n_toks * sizeof (JTok));
      lx->toks = toks;
      lx->cap_toks = cap;
    }
  JTok *t = &lx->toks[lx->n_toks++];
  *t = (JTok) { kind, lx->line, p, len, 0, 0.0 };
  return t;
}

/* The end of the whitespace starting at @pos. */
static gsize
skip_space (const Lexer *lx, gsize pos)
{
  gsize n;

  while (pos < lx->len && tern_jinja_py_space (lx->src + pos, lx->len - pos, &n))
    pos += n;
  return pos;
}

/* Where the text [start, end) ends once trailing whitespace is stripped. */
static gsize
rstrip (const Lexer *lx, gsize start, gsize end)
{
  gsize last = start;

  for (gsize i = start, n; i < end; i += n)
    if (!tern_jinja_py_space (lx->src + i, end - i, &n))
      last = i + n;
  return last;
}

static gint
hex_value (char c)
{
  return g_ascii_xdigit_value (c);
}

/* Reads a string literal at lx->pos (its quote), undoing escapes as
 * Python's unicode-escape codec does. */
static void
lex_string (Lexer *lx)
{
  char quote = lx->src[lx->pos];
  gsize i = lx->pos + 1, end = i;
  gint32 line = lx->line;

  while (end < lx->len && lx->src[end] != quote)
    end += lx->src[end] == '\\' ? 2 : 1;
  if (end >= lx->len)
    tern_jinja_fail (lx->env, line, TERN_ENGINE_ERROR_FORMAT, "unterminated string");

  /* No escape more than doubles its length ("\é" is "\\xe9"). */
  char *out = tern_jinja_alloc (lx->env, 2 * (end - i) + 16);
  gsize n = 0;

  while (i < end)
    {
      char c = lx->src[i];
      if (c != '\\')
        {
          out[n++] = c;
          i++;
          continue;
        }
      c = lx->src[i + 1];
      i += 2;
      switch (c)
        {
        case '\n': break;
        case '\\': out[n++] = '\\'; break;
        case '\'': out[n++] = '\''; break;
        case '"': out[n++] = '"'; break;
        case 'a': out[n++] = '\a'; break;
        case 'b': out[n++] = '\b'; break;
        case 'f': out[n++] = '\f'; break;
        case 'n': out[n++] = '\n'; break;
        case 'r': out[n++] = '\r'; break;
        case 't': out[n++] = '\t'; break;
        case 'v': out[n++] = '\v'; break;
        case 'x':
        case 'u':
        case 'U':
          {
            guint digits = c == 'x' ? 2 : c == 'u' ? 4 : 8;
            gunichar u = 0;
            for (guint k = 0; k < digits; k++, i++)
              {
                if (i >= end || hex_value (lx->src[i]) < 0)
                  tern_jinja_fail (lx->env, line, TERN_ENGINE_ERROR_FORMAT, "truncated \\%c%.*s escape", c,
                                   (int) digits, "XXXXXXXX");
                u = u * 16 + (gunichar) hex_value (lx->src[i]);
              }
            if (u > 0x10ffff)
              tern_jinja_fail (lx->env, line, TERN_ENGINE_ERROR_FORMAT, "illegal Unicode character");
            if (u >= 0xd800 && u <= 0xdfff)
              tern_jinja_fail (lx->env, line, TERN_ENGINE_ERROR_FORMAT, "invalid character escape U+%04X in a string",
                               u);
            n += (gsize) g_unichar_to_utf8 (u, out + n);
            break;
          }
        default:
          if (c >= '0' && c <= '7')
            {
              gunichar u = (gunichar) (c - '0');
              for (guint k = 0; k < 2 && i < end && lx->src[i] >= '0' && lx->src[i] <= '7'; k++, i++)
                u = u * 8 + (gunichar) (lx->src[i] - '0');
              n += (gsize) g_unichar_to_utf8 (u, out + n);
            }
          else if (c == 'N')
            tern_jinja_fail (lx->env, line, TERN_ENGINE_ERROR_UNSUPPORTED, "\\N{...} escapes are not supported");
          else if ((guint8) c >= 0x80)
            {
              /* Python escapes the character before decoding: "\é" is
               * the backslash and "xe9". */
              const char *ch = lx->src + i - 1;
              gunichar u = g_utf8_get_char (ch);
              n += (gsize) g_snprintf (out + n, 12, u < 0x100 ? "\\x%02x" : u < 0x10000 ? "\\u%04x" : "\\U%08x", u);
              i = (gsize) (g_utf8_next_char (ch) - lx->src);
            }
          else
            {
              out[n++] = '\\';
              out[n++] = c;
            }
        }
    }
  push (lx, JT_STRING, out, n);
  advance (lx, end + 1);
}

static gboolean
is_digit (char c)
{
  return c >= '0' && c <= '9';
}

/* Digits with single underscores between them, from @i; the end. */
static gsize
scan_digits (const Lexer *lx, gsize i)
{
  while (i < lx->len && (is_digit (lx->src[i]) || (lx->src[i] == '_' && i + 1 < lx->len && is_digit (lx->src[i + 1]))))
    i++;
  return i;
}

static void
lex_number (Lexer *lx)
{
  gsize start = lx->pos, i = scan_digits (lx, start);
  gboolean is_float = FALSE;
  /* A number right after a dot is an integer item index (x.0.1). */
  gboolean after_dot = start > 0 && lx->src[start - 1] == '.';

  if (!after_dot && i + 1 < lx->len && lx->src[i] == '.' && is_digit (lx->src[i + 1]))
    {
      i = scan_digits (lx, i + 1);
      is_float = TRUE;
    }
  if (!after_dot && i < lx->len && (lx->src[i] == 'e' || lx->src[i] == 'E'))
    {
      gsize j = i + 1;
      if (j < lx->len && (lx->src[j] == '+' || lx->src[j] == '-'))
        j++;
      if (j < lx->len && is_digit (lx->src[j]))
        {
          i = scan_digits (lx, j);
          is_float = TRUE;
        }
    }

  char buf[128];
  gsize n = 0;
  for (gsize k = start; k < i && n + 1 < sizeof buf; k++)
    if (lx->src[k] != '_')
      buf[n++] = lx->src[k];
  buf[n] = '\0';
  if (i - start >= sizeof buf - 1)
    tern_jinja_fail (lx->env, lx->line, TERN_ENGINE_ERROR_UNSUPPORTED, "number too long");

  JTok *t = push (lx, is_float ? JT_FLOAT : JT_INT, lx->src + start, i - start);
  if (is_float)
    t->f = g_ascii_strtod (buf, NULL);
  else
    {
      guint64 v;
      if (!g_ascii_string_to_unsigned (buf, 10, 0, G_MAXINT64, &v, NULL))
        tern_jinja_fail (lx->env, lx->line, TERN_ENGINE_ERROR_UNSUPPORTED, "integer %s is too large", buf);
      t->i = (gint64) v;
    }
  advance (lx, i);
}

static const char *const operators2[] = { "//", "**", "==", "!=", "<=", ">=" };
static const char operators1[] = "+-*/%~<>=()[]{},.:|;";

static void
lex_operator (Lexer *lx)
{
  const char *p = lx->src + lx->pos;
  gsize left = lx->len - lx->pos;

  for (guint k = 0; k < G_N_ELEMENTS (operators2); k++)
    if (left >= 2 && memcmp (p, operators2[k], 2) == 0)
      {
        push (lx, JT_OP, p, 2);
        advance (lx, lx->pos + 2);
        return;
      }
  if (strchr (operators1, *p) == NULL || *p == '\0')
    {
      gunichar u = g_utf8_get_char (p);
      tern_jinja_fail (lx->env, lx->line, TERN_ENGINE_ERROR_FORMAT, "unexpected character U+%04X", u);
    }
  if (*p == '(' || *p == '[' || *p == '{')
    {
      if (lx->depth == TERN_CHAT_TEMPLATE_MAX_NESTING)
        tern_jinja_fail (lx->env, lx->line, TERN_ENGINE_ERROR_UNSUPPORTED, "brackets nested too deeply");
      lx->brackets[lx->depth++] = *p == '(' ? ')' : *p == '[' ? ']' : '}';
    }
  else if (*p == ')' || *p == ']' || *p == '}')
    {
      if (lx->depth == 0)
        tern_jinja_fail (lx->env, lx->line, TERN_ENGINE_ERROR_FORMAT, "unexpected '%c'", *p);
      if (lx->brackets[--lx->depth] != *p)
        tern_jinja_fail (lx->env, lx->line, TERN_ENGINE_ERROR_FORMAT, "unexpected '%c', expected '%c'", *p,
                         lx->brackets[lx->depth]);
    }
  push (lx, JT_OP, p, 1);
  advance (lx, lx->pos + 1);
}

static gboolean
at (const Lexer *lx, const char *s)
{
  gsize n = strlen (s);
  return lx->len - lx->pos >= n && memcmp (lx->src + lx->pos, s, n) == 0;
}

/* The tokens of a {{ }} or {% %} tag whose opener was consumed, and its end. */
static void
lex_tag (Lexer *lx, gboolean block)
{
  lx->depth = 0;
  for (;;)
    {
      advance (lx, skip_space (lx, lx->pos));
      if (lx->pos >= lx->len)
        tern_jinja_fail (lx->env, lx->line, TERN_ENGINE_ERROR_FORMAT, "unexpected end of template, expected '%s'",
                         block ? "%}" : "}}");
      if (lx->depth == 0)
        {
          const char *end = block ? "%}" : "}}";
          gsize after = 0;
          gboolean strip = FALSE, trim = FALSE;

          if ((lx->src[lx->pos] == '-' || lx->src[lx->pos] == '+') && lx->len - lx->pos >= 3
              && memcmp (lx->src + lx->pos + 1, end, 2) == 0 && (block || lx->src[lx->pos] == '-'))
            {
              strip = lx->src[lx->pos] == '-';
              after = lx->pos + 3;
            }
          else if (at (lx, end))
            {
              trim = block;
              after = lx->pos + 2;
            }
          if (after)
            {
              push (lx, block ? JT_BLOCK_END : JT_VAR_END, lx->src + lx->pos, after - lx->pos);
              if (strip)
                after = skip_space (lx, after);
              else if (trim && after < lx->len && lx->src[after] == '\n')
                after++;
              advance (lx, after);
              lx->line_starting = lx->src[after - 1] == '\n';
              return;
            }
        }
      char c = lx->src[lx->pos];
      if (g_ascii_isalpha (c) || c == '_')
        {
          gsize i = lx->pos;
          while (i < lx->len && (g_ascii_isalnum (lx->src[i]) || lx->src[i] == '_'))
            i++;
          push (lx, JT_NAME, lx->src + lx->pos, i - lx->pos);
          advance (lx, i);
        }
      else if (is_digit (c))
        lex_number (lx);
      else if (c == '\'' || c == '"')
        lex_string (lx);
      else
        lex_operator (lx);
    }
}

/* Emits the text [start, end) before a tag opening with @kind ('{', '%'
 * or '#') and whitespace control @sign ('-', '+' or 0). */
static void
emit_text (Lexer *lx, gsize start, gsize end, char kind, char sign)
{
  gsize text_end = end;

  if (sign == '-')
    text_end = rstrip (lx, start, end);
  else if (sign != '+' && kind != '{')
    {
      /* lstrip_blocks: a block or comment tag alone after the indentation
       * of its line takes the indentation away. */
      const char *nl = NULL;
      for (gsize i = end; i > start; i--)
        if (lx->src[i - 1] == '\n')
          {
            nl = lx->src + i - 1;
            break;
          }
      gsize l_pos = nl ? (gsize) (nl - lx->src) + 1 : start;
      if ((nl || lx->line_starting) && rstrip (lx, l_pos, end) == l_pos)
        text_end = l_pos;
    }
  if (text_end > start)
    push (lx, JT_TEXT, lx->src + start, text_end - start);
}

/* The first bytes @a @b at or after @from, or -1. */
static gssize
find_pair (const Lexer *lx, gsize from, char a, char b)
{
  for (gsize i = from; i + 1 < lx->len; i++)
    {
      const char *hit = memchr (lx->src + i, a, lx->len - 1 - i);
      if (hit == NULL)
        return -1;
      i = (gsize) (hit - lx->src);
      if (hit[1] == b)
        return (gssize) i;
    }
  return -1;
}

/* Matches "\s*WORD\s*[-+]?%}" at @pos (just after "{%" and its sign):
 * the end of the tag, and its closing sign in *@sign; 0 when it does not. */
static gsize
match_word_tag (const Lexer *lx, gsize pos, const char *word, char *sign)
{
  gsize n = strlen (word);

  while (pos < lx->len && g_ascii_isspace (lx->src[pos]))
    pos++;
  if (lx->len - pos < n || memcmp (lx->src + pos, word, n) != 0)
    return 0;
  pos += n;
  while (pos < lx->len && g_ascii_isspace (lx->src[pos]))
    pos++;
  *sign = pos < lx->len && (lx->src[pos] == '-' || lx->src[pos] == '+') ? lx->src[pos] : 0;
  if (*sign)
    pos++;
  return lx->len - pos >= 2 && lx->src[pos] == '%' && lx->src[pos + 1] == '}' ? pos + 2 : 0;
}

/* {% raw %}...{% endraw %}: the text between, as it is. @after is the end
 * of the opening tag, whose closing sign is @sign. */
static void
lex_raw (Lexer *lx, gsize after, char sign)
{
  gint32 line = lx->line;

  if (sign == '-')
    after = skip_space (lx, after);
  advance (lx, after);
  lx->line_starting = lx->src[after - 1] == '\n';
  for (gssize open = find_pair (lx, after, '{', '%'); open >= 0; open = find_pair (lx, (gsize) open + 1, '{', '%'))
    {
      gsize body = (gsize) open + 2;
      char open_sign = body < lx->len && (lx->src[body] == '-' || lx->src[body] == '+') ? lx->src[body] : 0;
      char close_sign;
      gsize end = match_word_tag (lx, body + (open_sign ? 1 : 0), "endraw", &close_sign);
      if (end == 0)
        continue;
      emit_text (lx, lx->pos, (gsize) open, '%', open_sign);
      if (close_sign == '-')
        end = skip_space (lx, end);
      else if (close_sign != '+' && end < lx->len && lx->src[end] == '\n')
        end++;
      advance (lx, end);
      lx->line_starting = lx->src[end - 1] == '\n';
      return;
    }
  tern_jinja_fail (lx->env, line, TERN_ENGINE_ERROR_FORMAT, "missing end of raw directive");
}

JTok *
tern_jinja_lex (JEnv *env, const char *source, gsize len, gsize *n_tokens)
{
  Lexer lx = { .env = env, .line = 1, .line_starting = TRUE };
  char *src = tern_jinja_alloc (env, len + 1);
  gsize n = 0;

  /* Newlines are \n; one final newline is dropped. */
  for (gsize i = 0; i < len; i++)
    {
      if (source[i] == '\r')
        {
          if (i + 1 < len && source[i + 1] == '\n')
            i++;
          src[n++] = '\n';
        }
      else
        src[n++] = source[i];
    }
  if (n > 0 && src[n - 1] == '\n')
    n--;
  src[n] = '\0';
  lx.src = src;
  lx.len = n;

  while (lx.pos < lx.len)
    {
      const char *open = lx.src + lx.pos;
      const char *end = lx.src + lx.len;
      while ((open = memchr (open, '{', (gsize) (end - open))))
        {
          if (open + 1 < end && (open[1] == '{' || open[1] == '%' || open[1] == '#'))
            break;
          open++;
        }
      if (open == NULL)
        {
          push (&lx, JT_TEXT, lx.src + lx.pos, lx.len - lx.pos);
          advance (&lx, lx.len);
          break;
        }

      gsize tag = (gsize) (open - lx.src);
      char kind = open[1];
      char sign = tag + 2 < lx.len && (open[2] == '-' || open[2] == '+') ? open[2] : 0;
      emit_text (&lx, lx.pos, tag, kind, sign);
      advance (&lx, tag);
      gsize body = tag + 2 + (sign ? 1 : 0);

      if (kind == '#')
        {
          gssize close = find_pair (&lx, body, '#', '}');
          if (close < 0)
            tern_jinja_fail (env, lx.line, TERN_ENGINE_ERROR_FORMAT, "missing end of comment tag");
          gsize c = (gsize) close;
          char end_sign = c > body && (lx.src[c - 1] == '-' || lx.src[c - 1] == '+') ? lx.src[c - 1] : 0;
          gsize after = c + 2;
          if (end_sign == '-')
            after = skip_space (&lx, after);
          else if (end_sign != '+' && after < lx.len && lx.src[after] == '\n')
            after++;
          advance (&lx, after);
          lx.line_starting = lx.src[after - 1] == '\n';
          continue;
        }

      char raw_sign;
      gsize raw_end = kind == '%' ? match_word_tag (&lx, body, "raw", &raw_sign) : 0;
      if (raw_end)
        {
          lex_raw (&lx, raw_end, raw_sign);
          continue;
        }
      push (&lx, kind == '{' ? JT_VAR_BEGIN : JT_BLOCK_BEGIN, open, body - tag);
      advance (&lx, body);
      lex_tag (&lx, kind == '%');
    }
  push (&lx, JT_EOF, lx.src + lx.len, 0);
  *n_tokens = lx.n_toks;
  return lx.toks;
}
