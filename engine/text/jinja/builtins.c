/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Jinja builtins: the Python methods, attributes and globals chat
 * templates use, with jinja2's and Python's semantics. Strings made from
 * pieces of others (strip, split, slices, join) keep track of the bytes
 * that came from messages; other transformations mark the whole result
 * as from a message when any input byte was. */
#include "jinja-private.h"

#include <locale.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* jinja2's sandbox refuses bigger ranges. */
#define MAX_RANGE 100000

gint64
tern_jinja_int_of (JVal v)
{
  return v.type == JV_INT ? v.i : v.type == JV_BOOL ? v.b : (gint64) v.f;
}

/* Argument @index, or keyword @name; NULL when not given. */
const JVal *
tern_jinja_arg (const JArgs *a, gsize index, const char *name)
{
  if (index < a->n_pos)
    return &a->pos[index];
  for (gsize k = 0; name && k < a->n_kw; k++)
    if (strcmp (a->kw_names[k], name) == 0)
      return &a->kw[k];
  return NULL;
}

JVal
tern_jinja_arg_or (const JArgs *a, gsize index, const char *name, JVal fallback)
{
  const JVal *v = tern_jinja_arg (a, index, name);
  return v ? *v : fallback;
}

JVal
tern_jinja_expect_str (JState *st, gint32 line, JVal v, const char *what)
{
  if (v.type != JV_STRING)
    tern_jinja_fail (&st->env, line, TERN_ENGINE_ERROR_FORMAT, "%s must be a string, not %s", what,
                     tern_jinja_type_name (v));
  return v;
}

gint64
tern_jinja_expect_int (JState *st, gint32 line, JVal v, const char *what)
{
  if (v.type != JV_INT && v.type != JV_BOOL)
    tern_jinja_fail (&st->env, line, TERN_ENGINE_ERROR_FORMAT, "%s must be an integer, not %s", what,
                     tern_jinja_type_name (v));
  return tern_jinja_int_of (v);
}

/* A string of the same taint as @from (or @also) made from a buffer. */
JVal
tern_jinja_buf_like (JState *st, JBuf *buf, JVal from, JVal also)
{
  gboolean user = (tern_jinja_is_str (from) && from.s.taint) || (tern_jinja_is_str (also) && also.s.taint);
  return tern_jinja_str (st, buf->p ? buf->p : "", buf->len, user);
}

JVal
tern_jinja_markup_escape (JState *st, JVal v)
{
  JBuf buf;

  if (v.markup)
    return v;
  v = tern_jinja_to_str (st, v);
  tern_jinja_buf_init (&buf);
  for (gsize i = 0; i < v.s.len; i++)
    {
      char c = v.s.p[i];
      const char *esc = c == '&' ? "&amp;" : c == '<' ? "&lt;" : c == '>' ? "&gt;" : c == '\'' ? "&#39;"
                        : c == '"' ? "&#34;" : NULL;
      if (esc)
        tern_jinja_buf_append (st, &buf, esc, strlen (esc));
      else
        tern_jinja_buf_append (st, &buf, &c, 1);
    }
  JVal r = tern_jinja_buf_like (st, &buf, v, tern_jinja_none);
  r.markup = TRUE;
  return r;
}

/* Appends @text padded to @width code points (left-aligned with @left). */
static void
append_padded (JState *st, JBuf *buf, JVal text, gsize width, gboolean left)
{
  gsize n = tern_jinja_utf8_len (text);

  if (left)
    tern_jinja_buf_append_str (st, buf, text);
  for (; n < width; n++)
    tern_jinja_buf_append (st, buf, " ", 1);
  if (!left)
    tern_jinja_buf_append_str (st, buf, text);
}

JVal
tern_jinja_format_percent (JState *st, gint32 line, JVal fmt, JVal args)
{
  const JVal *items = &args;
  gsize n_items = 1, used = 0;
  JBuf buf;

  if (args.type == JV_LIST && args.list->tuple)
    {
      items = args.list->items;
      n_items = args.list->n;
    }
  tern_jinja_buf_init (&buf);
  for (gsize i = 0; i < fmt.s.len; i++)
    {
      gsize run = i;
      while (i < fmt.s.len && fmt.s.p[i] != '%')
        i++;
      tern_jinja_buf_append_str (st, &buf, tern_jinja_substr (st, fmt, run, i - run));
      if (i == fmt.s.len)
        break;

      /* %[flags][width][.precision]conversion */
      gsize start = i++;
      gboolean left = FALSE;
      gsize width = 0, precision = G_MAXSIZE;
      while (i < fmt.s.len && strchr ("-+ #0", fmt.s.p[i]))
        left |= fmt.s.p[i++] == '-';
      while (i < fmt.s.len && g_ascii_isdigit (fmt.s.p[i]) && width < 1000)
        width = width * 10 + (gsize) (fmt.s.p[i++] - '0');
      if (i < fmt.s.len && fmt.s.p[i] == '.')
        for (precision = 0, i++; i < fmt.s.len && g_ascii_isdigit (fmt.s.p[i]) && precision < 1000;)
          precision = precision * 10 + (gsize) (fmt.s.p[i++] - '0');
      if (i >= fmt.s.len)
        tern_jinja_fail (&st->env, line, TERN_ENGINE_ERROR_FORMAT, "incomplete format");
      char conv = fmt.s.p[i];
      if (conv == '%' && i == start + 1)
        {
          tern_jinja_buf_append (st, &buf, "%", 1);
          continue;
        }
      if (width >= 1000 || (precision != G_MAXSIZE && precision >= 1000) || !strchr ("sdifrxXeEgG", conv))
        tern_jinja_fail (&st->env, line, TERN_ENGINE_ERROR_UNSUPPORTED, "format conversion '%.*s' is not supported",
                         (int) MIN (i - start + 1, 16), fmt.s.p + start);
      if (used >= n_items)
        tern_jinja_fail (&st->env, line, TERN_ENGINE_ERROR_FORMAT, "not enough arguments for format string");
      JVal v = items[used++];

      if (conv == 's' || conv == 'r')
        {
          JBuf text;
          tern_jinja_buf_init (&text);
          if (conv == 's')
            tern_jinja_buf_append_val (st, &text, v);
          else
            tern_jinja_buf_append_repr (st, &text, v);
          JVal t = tern_jinja_buf_value (st, &text);
          if (precision != G_MAXSIZE && precision < tern_jinja_utf8_len (t))
            t = tern_jinja_substr (st, t, 0, tern_jinja_utf8_offset (t, precision));
          append_padded (st, &buf, t, width, left);
          continue;
        }
      if (!tern_jinja_is_number (v))
        tern_jinja_fail (&st->env, line, TERN_ENGINE_ERROR_FORMAT, "%%%c format: a real number is required, not %s",
                         conv, tern_jinja_type_name (v));
      char spec[48], out[1100];
      memcpy (spec, fmt.s.p + start, i - start);
      if (strchr ("dixX", conv))
        {
          g_snprintf (spec + (i - start), sizeof spec - (i - start), "ll%c", conv == 'i' ? 'd' : conv);
          g_snprintf (out, sizeof out, spec, (long long) tern_jinja_int_of (v));
        }
      else
        {
          g_snprintf (spec + (i - start), sizeof spec - (i - start), "%c", conv);
          g_snprintf (out, sizeof out, spec, tern_jinja_num (v));
        }
      tern_jinja_buf_append (st, &buf, out, strlen (out));
    }
  if (used < n_items)
    tern_jinja_fail (&st->env, line, TERN_ENGINE_ERROR_FORMAT, "not all arguments converted during string formatting");
  return tern_jinja_buf_value (st, &buf);
}

/* ---- Iteration ---- */

const JList *
tern_jinja_iterate (JState *st, gint32 line, JVal v)
{
  JVal r;

  switch ((JType) v.type)
    {
    case JV_LIST: return v.list;
    case JV_DICT:
    case JV_NAMESPACE:
      r = tern_jinja_list (st, v.dict->n, FALSE);
      if (v.dict->n)
        memcpy (r.list->items, v.dict->keys, v.dict->n * sizeof (JVal));
      return r.list;
    case JV_STRING:
      r = tern_jinja_list (st, tern_jinja_utf8_len (v), FALSE);
      for (gsize k = 0, i = 0; i < v.s.len; k++)
        {
          gsize n = (gsize) (g_utf8_next_char (v.s.p + i) - (v.s.p + i));
          r.list->items[k] = tern_jinja_substr (st, v, i, n);
          i += n;
        }
      return r.list;
    case JV_UNDEFINED:
      r = tern_jinja_list (st, 0, FALSE);
      return r.list;
    default:
      tern_jinja_fail (&st->env, line, TERN_ENGINE_ERROR_FORMAT, "'%s' object is not iterable",
                       tern_jinja_type_name (v));
    }
}

JVal
tern_jinja_list_copy (JState *st, const JList *items)
{
  JVal r = tern_jinja_list (st, items->n, FALSE);
  if (items->n)
    memcpy (r.list->items, items->items, items->n * sizeof (JVal));
  return r;
}

/* ---- Python string methods ---- */

/* Is the character at @p one of the code points of @chars? */
static gboolean
in_chars (JVal chars, const char *p, gsize n)
{
  for (gsize i = 0; i < chars.s.len;)
    {
      gsize m = (gsize) (g_utf8_next_char (chars.s.p + i) - (chars.s.p + i));
      if (m == n && memcmp (chars.s.p + i, p, n) == 0)
        return TRUE;
      i += m;
    }
  return FALSE;
}

/* str.strip (chars); @how: 1 left, 2 right, 3 both. @chars none: whitespace. */
JVal
tern_jinja_strip (JState *st, JVal s, JVal chars, int how)
{
  gsize a = 0, b = s.s.len, n;

  if (how & 1)
    while (a < b)
      {
        gboolean space = tern_jinja_py_space (s.s.p + a, b - a, &n);
        if (chars.type == JV_STRING ? !in_chars (chars, s.s.p + a, n) : !space)
          break;
        a += n;
      }
  if (how & 2)
    while (b > a)
      {
        gsize start = b - 1;
        while (start > a && ((guint8) s.s.p[start] & 0xc0) == 0x80)
          start--;
        gboolean space = tern_jinja_py_space (s.s.p + start, b - start, &n);
        n = b - start;
        if (chars.type == JV_STRING ? !in_chars (chars, s.s.p + start, n) : !space)
          break;
        b = start;
      }
  return tern_jinja_substr (st, s, a, b - a);
}

static void
push_item (JState *st, JVal list, gsize *cap, JVal item)
{
  if (list.list->n == *cap)
    {
      *cap = MAX (8, *cap * 2);
      JVal *items = tern_jinja_alloc (&st->env, *cap * sizeof (JVal));
      if (list.list->n)
        memcpy (items, list.list->items, list.list->n * sizeof (JVal));
      list.list->items = items;
    }
  list.list->items[list.list->n++] = item;
}

/* str.split (sep, maxsplit); with @from_right, str.rsplit. */
static JVal
split (JState *st, gint32 line, JVal s, JVal sep, gint64 maxsplit, gboolean from_right)
{
  JVal r = tern_jinja_list (st, 0, FALSE);
  gsize cap = 0;

  if (sep.type == JV_STRING && sep.s.len == 0)
    tern_jinja_fail (&st->env, line, TERN_ENGINE_ERROR_FORMAT, "empty separator");
  if (sep.type != JV_STRING)
    {
      /* Runs of whitespace separate; no empty strings. */
      JVal pieces = tern_jinja_list (st, 0, FALSE);
      gsize pcap = 0, i = 0, n;
      while (i < s.s.len)
        {
          while (i < s.s.len && tern_jinja_py_space (s.s.p + i, s.s.len - i, &n))
            i += n;
          if (i == s.s.len)
            break;
          gsize start = i;
          while (i < s.s.len && !tern_jinja_py_space (s.s.p + i, s.s.len - i, &n))
            i += n;
          push_item (st, pieces, &pcap, tern_jinja_substr (st, s, start, i - start));
        }
      if (maxsplit < 0 || (gsize) maxsplit + 1 >= pieces.list->n)
        return pieces;
      /* What is left after maxsplit splits stays whole, from its first
       * word to the end (or from the start to its last word). */
      gsize keep = (gsize) maxsplit;
      const JList *p = pieces.list;
      if (!from_right)
        {
          for (gsize k = 0; k < keep; k++)
            push_item (st, r, &cap, p->items[k]);
          gsize rest = (gsize) (p->items[keep].s.p - s.s.p);
          push_item (st, r, &cap, tern_jinja_substr (st, s, rest, s.s.len - rest));
        }
      else
        {
          const JVal *last = &p->items[p->n - keep - 1];
          push_item (st, r, &cap, tern_jinja_substr (st, s, 0, (gsize) (last->s.p - s.s.p) + last->s.len));
          for (gsize k = p->n - keep; k < p->n; k++)
            push_item (st, r, &cap, p->items[k]);
        }
      return r;
    }

  if (!from_right)
    {
      gsize start = 0;
      gssize hit;
      while ((maxsplit < 0 || (gint64) r.list->n < maxsplit) &&
             (hit = tern_jinja_find (s, start, sep.s.p, sep.s.len)) >= 0)
        {
          push_item (st, r, &cap, tern_jinja_substr (st, s, start, (gsize) hit - start));
          start = (gsize) hit + sep.s.len;
        }
      push_item (st, r, &cap, tern_jinja_substr (st, s, start, s.s.len - start));
      return r;
    }

  /* rsplit: collect the cut points from the right. */
  gsize end = s.s.len;
  JVal rev = tern_jinja_list (st, 0, FALSE);
  gsize rcap = 0;
  while (maxsplit < 0 || (gint64) rev.list->n < maxsplit)
    {
      gssize hit = -1;
      for (gsize i = end; i >= sep.s.len; i--)
        if (memcmp (s.s.p + i - sep.s.len, sep.s.p, sep.s.len) == 0)
          {
            hit = (gssize) (i - sep.s.len);
            break;
          }
      if (hit < 0)
        break;
      push_item (st, rev, &rcap, tern_jinja_substr (st, s, (gsize) hit + sep.s.len, end - (gsize) hit - sep.s.len));
      end = (gsize) hit;
    }
  push_item (st, r, &cap, tern_jinja_substr (st, s, 0, end));
  for (gsize k = rev.list->n; k > 0; k--)
    push_item (st, r, &cap, rev.list->items[k - 1]);
  return r;
}

JVal
tern_jinja_replace (JState *st, JVal s, JVal old, JVal new, gint64 count)
{
  JBuf buf;
  gsize start = 0;
  gint64 done = 0;

  tern_jinja_buf_init (&buf);
  if (old.s.len == 0)
    {
      /* Python puts @new before every character and at the end. */
      for (gsize i = 0; i <= s.s.len; i = (gsize) (g_utf8_next_char (s.s.p + i) - s.s.p))
        {
          if (count < 0 || done < count)
            {
              tern_jinja_buf_append (st, &buf, new.s.p, new.s.len);
              done++;
            }
          if (i == s.s.len)
            break;
          tern_jinja_buf_append (st, &buf, s.s.p + i, (gsize) (g_utf8_next_char (s.s.p + i) - (s.s.p + i)));
        }
      return tern_jinja_buf_like (st, &buf, s, new);
    }
  gssize hit;
  while ((count < 0 || done < count) && (hit = tern_jinja_find (s, start, old.s.p, old.s.len)) >= 0)
    {
      tern_jinja_buf_append (st, &buf, s.s.p + start, (gsize) hit - start);
      tern_jinja_buf_append (st, &buf, new.s.p, new.s.len);
      start = (gsize) hit + old.s.len;
      done++;
    }
  tern_jinja_buf_append (st, &buf, s.s.p + start, s.s.len - start);
  return tern_jinja_buf_like (st, &buf, s, new);
}

/* Case mapping of a whole string: 'u' upper, 'l' lower. */
JVal
tern_jinja_change_case (JState *st, JVal s, char how)
{
  char *mapped = how == 'u' ? g_utf8_strup (s.s.p, (gssize) s.s.len) : g_utf8_strdown (s.s.p, (gssize) s.s.len);
  gsize len = strlen (mapped);
  char *copy = tern_jinja_alloc (&st->env, len + 1);
  memcpy (copy, mapped, len + 1);
  g_free (mapped);
  return tern_jinja_str_like (st, copy, len, s);
}

/* First character upper, the rest lower: str.capitalize and one word of
 * the title filter. */
void
tern_jinja_append_capitalized (JState *st, JBuf *buf, JVal word)
{
  if (word.s.len == 0)
    return;
  gsize first = (gsize) (g_utf8_next_char (word.s.p) - word.s.p);
  tern_jinja_buf_append_str (st, buf, tern_jinja_change_case (st, tern_jinja_substr (st, word, 0, first), 'u'));
  tern_jinja_buf_append_str (st, buf,
                             tern_jinja_change_case (st, tern_jinja_substr (st, word, first, word.s.len - first), 'l'));
}

/* Python's str.title (): a cased letter after an uncased one is upper. */
static JVal
py_title (JState *st, JVal s)
{
  JBuf buf;
  gboolean prev_cased = FALSE;

  tern_jinja_buf_init (&buf);
  for (const char *p = s.s.p, *end = s.s.p + s.s.len; p < end; p = g_utf8_next_char (p))
    {
      gunichar u = g_utf8_get_char (p);
      gboolean cased = g_unichar_isupper (u) || g_unichar_islower (u) || g_unichar_istitle (u);
      gunichar m = cased ? (prev_cased ? g_unichar_tolower (u) : g_unichar_toupper (u)) : u;
      char out[8];
      tern_jinja_buf_append (st, &buf, out, (gsize) g_unichar_to_utf8 (m, out));
      prev_cased = cased;
    }
  return tern_jinja_buf_like (st, &buf, s, tern_jinja_none);
}

/* jinja2's title filter: words split at whitespace and -({[< runs. */
JVal
tern_jinja_title (JState *st, JVal s)
{
  JBuf buf;
  gsize i = 0, n;

  tern_jinja_buf_init (&buf);
  while (i < s.s.len)
    {
      gsize start = i;
      gboolean sep = tern_jinja_py_space (s.s.p + i, s.s.len - i, &n) || strchr ("-({[<", s.s.p[i]);
      while (i < s.s.len
             && (tern_jinja_py_space (s.s.p + i, s.s.len - i, &n)
                 || (s.s.p[i] && strchr ("-({[<", s.s.p[i]) && (n = 1)))
                  == sep)
        i += n;
      if (sep)
        tern_jinja_buf_append (st, &buf, s.s.p + start, i - start);
      else
        tern_jinja_append_capitalized (st, &buf, tern_jinja_substr (st, s, start, i - start));
    }
  return tern_jinja_buf_like (st, &buf, s, tern_jinja_none);
}

static gboolean
affix (JVal s, JVal x, gboolean start)
{
  return x.s.len <= s.s.len && memcmp (s.s.p + (start ? 0 : s.s.len - x.s.len), x.s.p, x.s.len) == 0;
}

static gboolean
has_affix (JState *st, gint32 line, JVal s, JVal x, gboolean start)
{
  if (x.type == JV_LIST && x.list->tuple)
    {
      for (gsize k = 0; k < x.list->n; k++)
        if (affix (s, tern_jinja_expect_str (st, line, x.list->items[k], "a prefix"), start))
          return TRUE;
      return FALSE;
    }
  return affix (s, tern_jinja_expect_str (st, line, x, start ? "startswith's argument" : "endswith's argument"), start);
}

/* Python's str.splitlines (): also \r, \v, \f, \x1c-\x1e, \x85, U+2028/9. */
JVal
tern_jinja_splitlines (JState *st, JVal s)
{
  JVal r = tern_jinja_list (st, 0, FALSE);
  gsize cap = 0, start = 0, i = 0;

  while (i < s.s.len)
    {
      const char *p = s.s.p + i;
      guint8 c = (guint8) *p;
      gsize n = 0;
      if (c == '\n' || c == '\r' || c == '\v' || c == '\f' || (c >= 0x1c && c <= 0x1e))
        n = c == '\r' && i + 1 < s.s.len && p[1] == '\n' ? 2 : 1;
      else if (c == 0xc2 && i + 1 < s.s.len && (guint8) p[1] == 0x85)
        n = 2;
      else if (c == 0xe2 && i + 2 < s.s.len && (guint8) p[1] == 0x80
               && ((guint8) p[2] == 0xa8 || (guint8) p[2] == 0xa9))
        n = 3;
      if (n == 0)
        {
          i++;
          continue;
        }
      push_item (st, r, &cap, tern_jinja_substr (st, s, start, i - start));
      i += n;
      start = i;
    }
  if (start < s.s.len)
    push_item (st, r, &cap, tern_jinja_substr (st, s, start, s.s.len - start));
  return r;
}

JVal
tern_jinja_join (JState *st, gint32 line, const JList *items, JVal sep, const char *attribute)
{
  JBuf buf;

  tern_jinja_buf_init (&buf);
  for (gsize k = 0; k < items->n; k++)
    {
      if (k)
        tern_jinja_buf_append_str (st, &buf, sep);
      JVal v = items->items[k];
      if (attribute)
        v = tern_jinja_getitem (st, line, v, tern_jinja_cstr (attribute));
      tern_jinja_buf_append_val (st, &buf, v);
    }
  return tern_jinja_buf_value (st, &buf);
}

static JVal
string_method (JState *st, gint32 line, const char *name, JVal s, const JArgs *a)
{
  if (strcmp (name, "strip") == 0 || strcmp (name, "lstrip") == 0 || strcmp (name, "rstrip") == 0)
    return tern_jinja_strip (st, s, tern_jinja_arg_or (a, 0, "chars", tern_jinja_none),
                             name[0] == 'l' ? 1 : name[0] == 'r' ? 2 : 3);
  if (strcmp (name, "split") == 0 || strcmp (name, "rsplit") == 0)
    return split (st, line, s, tern_jinja_arg_or (a, 0, "sep", tern_jinja_none),
                  tern_jinja_expect_int (st, line, tern_jinja_arg_or (a, 1, "maxsplit", tern_jinja_int (-1)),
                                         "maxsplit"), name[0] == 'r');
  if (strcmp (name, "startswith") == 0 || strcmp (name, "endswith") == 0)
    {
      const JVal *x = tern_jinja_arg (a, 0, NULL);
      if (x == NULL)
        tern_jinja_fail (&st->env, line, TERN_ENGINE_ERROR_FORMAT, "%s() takes at least 1 argument", name);
      return tern_jinja_bool (has_affix (st, line, s, *x, name[0] == 's'));
    }
  if (strcmp (name, "upper") == 0 || strcmp (name, "lower") == 0)
    return tern_jinja_change_case (st, s, name[0]);
  if (strcmp (name, "title") == 0)
    return py_title (st, s);
  if (strcmp (name, "capitalize") == 0)
    {
      JBuf buf;
      tern_jinja_buf_init (&buf);
      tern_jinja_append_capitalized (st, &buf, s);
      return tern_jinja_buf_like (st, &buf, s, tern_jinja_none);
    }
  if (strcmp (name, "replace") == 0)
    {
      const JVal *old = tern_jinja_arg (a, 0, NULL), *new = tern_jinja_arg (a, 1, NULL);
      if (old == NULL || new == NULL)
        tern_jinja_fail (&st->env, line, TERN_ENGINE_ERROR_FORMAT, "replace() takes at least 2 arguments");
      return tern_jinja_replace (st, s, tern_jinja_expect_str (st, line, *old, "replace's argument"),
                                 tern_jinja_expect_str (st, line, *new, "replace's argument"),
                                 tern_jinja_expect_int (st, line,
                                                        tern_jinja_arg_or (a, 2, "count", tern_jinja_int (-1)),
                                 "count"));
    }
  if (strcmp (name, "find") == 0 || strcmp (name, "count") == 0 || strcmp (name, "index") == 0)
    {
      const JVal *x = tern_jinja_arg (a, 0, NULL);
      if (x == NULL)
        tern_jinja_fail (&st->env, line, TERN_ENGINE_ERROR_FORMAT, "%s() takes at least 1 argument", name);
      JVal sub = tern_jinja_expect_str (st, line, *x, "the substring");
      gssize hit = tern_jinja_find (s, 0, sub.s.p, sub.s.len);
      if (name[0] == 'c')
        {
          gint64 n = 0;
          for (gsize from = 0; (hit = tern_jinja_find (s, from, sub.s.p, sub.s.len)) >= 0; n++)
            from = (gsize) hit + MAX (sub.s.len, 1);
          return tern_jinja_int (n);
        }
      if (hit < 0 && name[0] == 'i')
        tern_jinja_fail (&st->env, line, TERN_ENGINE_ERROR_FORMAT, "substring not found");
      return tern_jinja_int (hit < 0 ? -1 : (gint64) tern_jinja_utf8_len (tern_jinja_substr (st, s, 0, (gsize) hit)));
    }
  if (strcmp (name, "join") == 0)
    {
      const JVal *x = tern_jinja_arg (a, 0, NULL);
      if (x == NULL)
        tern_jinja_fail (&st->env, line, TERN_ENGINE_ERROR_FORMAT, "join() takes exactly one argument");
      const JList *items = tern_jinja_iterate (st, line, *x);
      for (gsize k = 0; k < items->n; k++)
        tern_jinja_expect_str (st, line, items->items[k], "join's items");
      return tern_jinja_join (st, line, items, s, NULL);
    }
  if (strcmp (name, "splitlines") == 0)
    return tern_jinja_splitlines (st, s);
  if (strcmp (name, "isdigit") == 0 || strcmp (name, "isalpha") == 0 || strcmp (name, "isspace") == 0
      || strcmp (name, "isalnum") == 0)
    {
      gboolean ok = s.s.len > 0;
      for (const char *p = s.s.p, *end = s.s.p + s.s.len; ok && p < end; p = g_utf8_next_char (p))
        {
          gunichar u = g_utf8_get_char (p);
          gsize n;
          ok = name[2] == 'd'   ? g_unichar_isdigit (u)
               : name[2] == 's' ? tern_jinja_py_space (p, (gsize) (end - p), &n)
               : name[4] == 'p' ? g_unichar_isalpha (u)
                                : g_unichar_isalnum (u);
        }
      return tern_jinja_bool (ok);
    }
  if (strcmp (name, "isupper") == 0 || strcmp (name, "islower") == 0)
    {
      gboolean cased = FALSE, ok = TRUE;
      for (const char *p = s.s.p, *end = s.s.p + s.s.len; p < end; p = g_utf8_next_char (p))
        {
          gunichar u = g_utf8_get_char (p);
          if (g_unichar_isupper (u) || g_unichar_islower (u) || g_unichar_istitle (u))
            {
              cased = TRUE;
              ok &= name[2] == 'u' ? g_unichar_isupper (u) : g_unichar_islower (u);
            }
        }
      return tern_jinja_bool (cased && ok);
    }
  tern_jinja_fail (&st->env, line, TERN_ENGINE_ERROR_UNSUPPORTED, "the string method '%s' is not supported", name);
}

static const char *const string_methods[] = {
  "strip", "lstrip", "rstrip", "split", "rsplit", "startswith", "endswith", "upper", "lower", "title",
  "capitalize", "replace", "find", "count", "index", "join", "splitlines", "isdigit", "isalpha", "isspace",
  "isalnum", "isupper", "islower", NULL,
};
static const char *const dict_methods[] = { "get", "items", "keys", "values", NULL };

JVal
tern_jinja_dict_items (JState *st, const JDict *d)
{
  JVal r = tern_jinja_list (st, d->n, FALSE);
  for (gsize k = 0; k < d->n; k++)
    {
      JVal pair = tern_jinja_list (st, 2, TRUE);
      pair.list->items[0] = d->keys[k];
      pair.list->items[1] = d->vals[k];
      r.list->items[k] = pair;
    }
  return r;
}

static JVal
dict_method (JState *st, gint32 line, const char *name, JVal d, const JArgs *a)
{
  if (strcmp (name, "get") == 0)
    {
      const JVal *key = tern_jinja_arg (a, 0, NULL);
      if (key == NULL)
        tern_jinja_fail (&st->env, line, TERN_ENGINE_ERROR_FORMAT, "get expected at least 1 argument");
      JVal *v = tern_jinja_dict_get (d.dict, *key);
      return v ? *v : tern_jinja_arg_or (a, 1, NULL, tern_jinja_none);
    }
  if (strcmp (name, "items") == 0)
    return tern_jinja_dict_items (st, d.dict);
  JVal r = tern_jinja_list (st, d.dict->n, FALSE);
  if (d.dict->n)
    memcpy (r.list->items, name[0] == 'k' ? d.dict->keys : d.dict->vals, d.dict->n * sizeof (JVal));
  return r;
}

/* ---- Attributes and items ---- */

static JVal
bound_method (JState *st, const char *name, JVal self)
{
  JVal v = { .type = JV_FUNC };
  v.fn = tern_jinja_alloc0 (&st->env, sizeof (JFunc));
  v.fn->kind = JF_METHOD;
  v.fn->name = name;
  v.fn->self = self;
  return v;
}

static const char *
find_name (const char *const *names, const char *name, gsize len)
{
  for (guint k = 0; names[k]; k++)
    if (strlen (names[k]) == len && memcmp (names[k], name, len) == 0)
      return names[k];
  return NULL;
}

static JVal
loop_attr (JState *st, const JLoop *loop, const char *name, gsize len)
{
  static const char *const names[] = { "index", "index0", "revindex", "revindex0", "first", "last", "length",
                                       "previtem", "nextitem", "depth", "depth0", "cycle", NULL };
  const char *attr = find_name (names, name, len);
  gsize n = loop->items->n, i = loop->index0;

  if (attr == NULL)
    return tern_jinja_undef (st, "'LoopContext object' has no attribute '%.*s'", (int) MIN (len, 64), name);
  if (strcmp (attr, "index") == 0)
    return tern_jinja_int ((gint64) i + 1);
  if (strcmp (attr, "index0") == 0)
    return tern_jinja_int ((gint64) i);
  if (strcmp (attr, "revindex") == 0)
    return tern_jinja_int ((gint64) (n - i));
  if (strcmp (attr, "revindex0") == 0)
    return tern_jinja_int ((gint64) (n - i - 1));
  if (strcmp (attr, "first") == 0)
    return tern_jinja_bool (i == 0);
  if (strcmp (attr, "last") == 0)
    return tern_jinja_bool (i + 1 == n);
  if (strcmp (attr, "length") == 0)
    return tern_jinja_int ((gint64) n);
  if (strcmp (attr, "previtem") == 0)
    return i > 0 ? loop->items->items[i - 1] : tern_jinja_undef (st, "there is no previous item");
  if (strcmp (attr, "nextitem") == 0)
    return i + 1 < n ? loop->items->items[i + 1] : tern_jinja_undef (st, "there is no next item");
  if (strcmp (attr, "depth") == 0)
    return tern_jinja_int (1);
  if (strcmp (attr, "depth0") == 0)
    return tern_jinja_int (0);
  JVal self = { .type = JV_LOOP };
  self.loop = (JLoop *) loop;
  return bound_method (st, attr, self);
}

static const char *
object_name (JVal v)
{
  switch ((JType) v.type)
    {
    case JV_NONE: return "None";
    case JV_DICT: return "dict object";
    case JV_LIST: return v.list->tuple ? "tuple object" : "list object";
    case JV_STRING: return "str object";
    case JV_INT: return "int object";
    case JV_FLOAT: return "float object";
    case JV_BOOL: return "bool object";
    default: return tern_jinja_type_name (v);
    }
}

JVal
tern_jinja_getattr (JState *st, gint32 line, JVal obj, const char *name, gsize len)
{
  const char *method;
  JVal *v;

  switch ((JType) obj.type)
    {
    case JV_UNDEFINED:
      tern_jinja_fail (&st->env, line, TERN_ENGINE_ERROR_FORMAT, "%s", obj.undef ? obj.undef : "value is undefined");
    case JV_DICT:
      if ((method = find_name (dict_methods, name, len)))
        return bound_method (st, method, obj);
      /* fall through */
    case JV_NAMESPACE:
      v = tern_jinja_dict_get_str (obj.dict, name, len);
      if (v)
        return *v;
      break;
    case JV_STRING:
      if ((method = find_name (string_methods, name, len)))
        return bound_method (st, method, obj);
      break;
    case JV_LOOP:
      return loop_attr (st, obj.loop, name, len);
    default:
      break;
    }
  return tern_jinja_undef (st, "'%s' has no attribute '%.*s'", object_name (obj), (int) MIN (len, 64), name);
}

JVal
tern_jinja_getitem (JState *st, gint32 line, JVal obj, JVal key)
{
  if (obj.type == JV_UNDEFINED)
    tern_jinja_fail (&st->env, line, TERN_ENGINE_ERROR_FORMAT, "%s", obj.undef ? obj.undef : "value is undefined");
  if (obj.type == JV_DICT)
    {
      JVal *v = tern_jinja_dict_get (obj.dict, key);
      if (v)
        return *v;
    }
  if ((obj.type == JV_LIST || obj.type == JV_STRING) && (key.type == JV_INT || key.type == JV_BOOL))
    {
      gint64 n = obj.type == JV_LIST ? (gint64) obj.list->n : (gint64) tern_jinja_utf8_len (obj);
      gint64 i = tern_jinja_int_of (key);
      if (i < 0)
        i += n;
      if (i >= 0 && i < n)
        {
          if (obj.type == JV_LIST)
            return obj.list->items[i];
          gsize at = tern_jinja_utf8_offset (obj, (gsize) i);
          return tern_jinja_substr (st, obj, at, (gsize) (g_utf8_next_char (obj.s.p + at) - (obj.s.p + at)));
        }
      return tern_jinja_undef (st, "%s has no element %" G_GINT64_FORMAT, object_name (obj), tern_jinja_int_of (key));
    }
  if (key.type == JV_STRING)
    return tern_jinja_getattr (st, line, obj, key.s.p, key.s.len);
  return tern_jinja_undef (st, "%s has no element", object_name (obj));
}

/* ---- Globals ---- */

static JFunc globals[] = {
  { .kind = JF_GLOBAL, .name = "range" },
  { .kind = JF_GLOBAL, .name = "namespace" },
  { .kind = JF_GLOBAL, .name = "dict" },
  { .kind = JF_GLOBAL, .name = "raise_exception" },
  { .kind = JF_GLOBAL, .name = "strftime_now" },
};

JVal
tern_jinja_global (JState *st, const char *name)
{
  for (guint k = 0; k < G_N_ELEMENTS (globals); k++)
    if (strcmp (globals[k].name, name) == 0)
      {
        JVal v = { .type = JV_FUNC };
        v.fn = &globals[k];
        return v;
      }
  return tern_jinja_undefined;
}

static JVal
range (JState *st, gint32 line, const JArgs *a)
{
  gint64 start = 0, stop, step = 1;

  if (a->n_pos == 0 || a->n_pos > 3)
    tern_jinja_fail (&st->env, line, TERN_ENGINE_ERROR_FORMAT, "range expected 1 to 3 arguments");
  if (a->n_pos == 1)
    stop = tern_jinja_expect_int (st, line, a->pos[0], "range's argument");
  else
    {
      start = tern_jinja_expect_int (st, line, a->pos[0], "range's argument");
      stop = tern_jinja_expect_int (st, line, a->pos[1], "range's argument");
      if (a->n_pos == 3)
        step = tern_jinja_expect_int (st, line, a->pos[2], "range's argument");
    }
  if (step == 0)
    tern_jinja_fail (&st->env, line, TERN_ENGINE_ERROR_FORMAT, "range() arg 3 must not be zero");
  /* Counted in doubles: no overflow for any 64-bit bounds. */
  double count = step > 0 ? ceil (((double) stop - (double) start) / (double) step)
                          : ceil (((double) start - (double) stop) / -(double) step);
  if (count > MAX_RANGE)
    tern_jinja_fail (&st->env, line, TERN_ENGINE_ERROR_UNSUPPORTED, "range too big (more than %d items)", MAX_RANGE);
  gsize n = count > 0 ? (gsize) count : 0;
  JVal r = tern_jinja_list (st, n, FALSE);
  for (gsize k = 0; k < n; k++)
    r.list->items[k] = tern_jinja_int (start + (gint64) k * step);
  return r;
}

static JVal
strftime_now (JState *st, gint32 line, const JArgs *a)
{
  const JVal *fmt = tern_jinja_arg (a, 0, "format");
  char out[512];

  if (fmt == NULL)
    tern_jinja_fail (&st->env, line, TERN_ENGINE_ERROR_FORMAT, "strftime_now() takes a format");
  char *f = tern_jinja_memdup (&st->env, tern_jinja_expect_str (st, line, *fmt, "the format").s.p, fmt->s.len);
  /* Python's datetime.strftime runs in the C locale unless told otherwise. */
  locale_t c_locale = newlocale (LC_ALL_MASK, "C", (locale_t) 0);
  gsize n = c_locale ? strftime_l (out, sizeof out, f, &st->now, c_locale) : 0;
  if (c_locale)
    freelocale (c_locale);
  if (n == 0 && fmt->s.len > 0)
    tern_jinja_fail (&st->env, line, TERN_ENGINE_ERROR_UNSUPPORTED, "strftime_now: cannot format '%s'", f);
  return tern_jinja_str (st, tern_jinja_memdup (&st->env, out, n), n, FALSE);
}

static JVal
call_global (JState *st, gint32 line, const JFunc *fn, const JArgs *a)
{
  if (strcmp (fn->name, "range") == 0)
    return range (st, line, a);
  if (strcmp (fn->name, "raise_exception") == 0)
    {
      JVal msg = tern_jinja_to_str (st, tern_jinja_arg_or (a, 0, "message", tern_jinja_cstr ("")));
      tern_jinja_fail (&st->env, line, TERN_ENGINE_ERROR_UNSUPPORTED, "%.*s", (int) MIN (msg.s.len, 4096), msg.s.p);
    }
  if (strcmp (fn->name, "strftime_now") == 0)
    return strftime_now (st, line, a);

  /* namespace (mapping?, **kw) and dict (mapping?, **kw). */
  JVal r = tern_jinja_dict (st, a->n_kw + 4);
  if (a->n_pos > 1)
    tern_jinja_fail (&st->env, line, TERN_ENGINE_ERROR_FORMAT, "%s expected at most 1 argument", fn->name);
  if (a->n_pos == 1)
    {
      JVal init = a->pos[0];
      if (init.type != JV_DICT && init.type != JV_NAMESPACE)
        tern_jinja_fail (&st->env, line, TERN_ENGINE_ERROR_FORMAT, "%s() needs a mapping, not %s", fn->name,
                         tern_jinja_type_name (init));
      for (gsize k = 0; k < init.dict->n; k++)
        tern_jinja_dict_set (st, r.dict, init.dict->keys[k], init.dict->vals[k]);
    }
  for (gsize k = 0; k < a->n_kw; k++)
    tern_jinja_dict_set (st, r.dict, tern_jinja_cstr (a->kw_names[k]), a->kw[k]);
  if (fn->name[0] == 'n')
    r.type = JV_NAMESPACE;
  return r;
}

JVal
tern_jinja_call_builtin (JState *st, gint32 line, const JFunc *fn, const JArgs *args)
{
  if (fn->kind == JF_GLOBAL)
    return call_global (st, line, fn, args);
  if (fn->self.type == JV_STRING)
    return string_method (st, line, fn->name, fn->self, args);
  if (fn->self.type == JV_DICT)
    return dict_method (st, line, fn->name, fn->self, args);
  /* loop.cycle (a, b, ...) */
  if (args->n_pos == 0)
    tern_jinja_fail (&st->env, line, TERN_ENGINE_ERROR_FORMAT, "no items for cycling given");
  return args->pos[fn->self.loop->index0 % args->n_pos];
}
