/* SPDX-License-Identifier: GPL-3.0-or-later */
/* JSON text checked and mended before json-glib parses it (an import, a
 * messages file). json-glib recurses once per nesting level (so deep
 * nesting overflows the stack), stores a lone surrogate escape as the
 * bytes of the surrogate (not UTF-8, so the export made from it cannot be
 * imported), cuts a string at \u0000, reads an escape JSON does not have
 * as something else, and refuses the whole file for one byte that is not
 * UTF-8. One pass over the bytes finds all of these; a second writes the
 * mended copy, only when something needs mending. */
#include <tern/error.h>
#include <tern/json-text.h>

#include <string.h>

typedef struct {
  const char *p, *end;
  char *out;          /* NULL: count only */
  gsize out_len;
  gsize n_replaced;
  guint depth, max_depth;
  guint line, column; /* of p, from 1 */
} Scan;

static void
put (Scan *s, const char *bytes, gsize n)
{
  if (s->out)
    memcpy (s->out + s->out_len, bytes, n);
  s->out_len += n;
}

static void
advance (Scan *s, gsize n)
{
  for (gsize i = 0; i < n; i++)
    {
      /* Columns count characters, as an editor shows them. */
      if (s->p[i] == '\n')
        {
          s->line++;
          s->column = 1;
        }
      else if (((guchar) s->p[i] & 0xc0) != 0x80)
        s->column++;
    }
  s->p += n;
}

/* The value of the \uXXXX escape at @p (the backslash), or -1 when there
 * is none there. */
static gint32
unicode_escape (const char *p, const char *end)
{
  gint32 value = 0;

  if (end - p < 6 || p[0] != '\\' || p[1] != 'u')
    return -1;
  for (int i = 2; i < 6; i++)
    {
      int digit = g_ascii_xdigit_value (p[i]);
      if (digit < 0)
        return -1;
      value = value * 16 + digit;
    }
  return value;
}

/* One escape inside a string, at the backslash. One that JSON does not
 * have is refused: json-glib reads a \u with fewer than four hex digits
 * as whatever the digits it found make (a lone surrogate, a NUL that cuts
 * the string) and drops the backslash of any other. */
static gboolean
scan_escape (Scan *s, GError **error)
{
  gint32 c = unicode_escape (s->p, s->end);

  if (c >= 0xd800 && c <= 0xdbff)
    {
      gint32 low = unicode_escape (s->p + 6, s->end);
      if (low >= 0xdc00 && low <= 0xdfff)
        {
          put (s, s->p, 12);
          advance (s, 12);
          return TRUE;
        }
    }
  if (c == 0 || (c >= 0xd800 && c <= 0xdfff))
    {
      put (s, "\\ufffd", 6);
      s->n_replaced++;
      advance (s, 6);
      return TRUE;
    }
  if (c < 0 && (s->end - s->p < 2 || s->p[1] == '\0' || strchr ("\"\\/bfnrt", s->p[1]) == NULL))
    {
      g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_FORMAT,
                   "a backslash escape that JSON does not have (line %u, column %u)", s->line, s->column);
      return FALSE;
    }
  gsize n = c >= 0 ? 6 : 2;
  put (s, s->p, n);
  advance (s, n);
  return TRUE;
}

/* One character (or byte that is none) at p, copied or replaced. */
static void
scan_char (Scan *s)
{
  guchar b = (guchar) *s->p;
  gsize n = b != 0; /* NUL: replaced */

  if (b >= 0x80)
    {
      gunichar c = g_utf8_get_char_validated (s->p, s->end - s->p);
      n = c == (gunichar) -1 || c == (gunichar) -2 ? 0 : (gsize) g_utf8_skip[b];
    }
  if (n == 0)
    {
      put (s, "\xef\xbf\xbd", 3);
      s->n_replaced++;
      advance (s, 1);
      return;
    }
  put (s, s->p, n);
  advance (s, n);
}

static gboolean
scan (Scan *s, GError **error)
{
  gboolean in_string = FALSE;

  while (s->p < s->end)
    {
      char c = *s->p;

      if (in_string && c == '\\')
        {
          if (!scan_escape (s, error))
            return FALSE;
          continue;
        }
      if (c == '"')
        in_string = !in_string;
      else if (!in_string && (c == '[' || c == '{'))
        {
          if (++s->depth > s->max_depth)
            {
              g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_FORMAT,
                           "arrays and objects nest deeper than %u levels (line %u, column %u)", s->max_depth,
                           s->line, s->column);
              return FALSE;
            }
        }
      else if (!in_string && (c == ']' || c == '}') && s->depth > 0)
        s->depth--;
      scan_char (s);
    }
  return TRUE;
}

gboolean
tern_json_mend (const char *json, gsize len, guint max_depth, char **mended, gsize *mended_len, gsize *n_replaced,
                GError **error)
{
  Scan s = { .p = json, .end = json + len, .max_depth = max_depth, .line = 1, .column = 1 };

  *mended = NULL;
  *mended_len = len;
  *n_replaced = 0;
  if (!scan (&s, error))
    return FALSE;
  if (s.n_replaced == 0)
    return TRUE;
  /* The size comes from the file: a failure is an error, not an abort. */
  char *out = g_try_malloc (s.out_len + 1);
  if (out == NULL)
    {
      g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_NOMEM,
                   "not enough memory to mend %" G_GSIZE_FORMAT " bytes of JSON", len);
      return FALSE;
    }
  s = (Scan) { .p = json, .end = json + len, .out = out, .max_depth = max_depth, .line = 1, .column = 1 };
  scan (&s, NULL);
  out[s.out_len] = '\0';
  *mended = out;
  *mended_len = s.out_len;
  *n_replaced = s.n_replaced;
  return TRUE;
}
