/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Jinja values as text: output buffers that keep track of which bytes came
 * from messages, and Python's str(), repr() and json.dumps(). */
#include "jinja-private.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- Output buffers ---- */

void
tern_jinja_buf_init (JBuf *buf)
{
  *buf = (JBuf) { 0 };
}

static void
buf_reserve (JState *st, JBuf *buf, gsize more)
{
  if (more > TERN_CHAT_TEMPLATE_MAX_OUTPUT - buf->len)
    tern_jinja_fail (&st->env, 0, TERN_ENGINE_ERROR_UNSUPPORTED, "the template's output passes %d MiB",
                     TERN_CHAT_TEMPLATE_MAX_OUTPUT >> 20);
  if (buf->len + more <= buf->cap)
    return;
  gsize cap = MAX (MAX (256, buf->cap * 2), buf->len + more);
  char *p = tern_jinja_alloc (&st->env, cap);
  if (buf->len)
    memcpy (p, buf->p, buf->len);
  buf->p = p;
  buf->cap = cap;
}

void
tern_jinja_buf_append (JState *st, JBuf *buf, const char *p, gsize len)
{
  if (len == 0)
    return;
  tern_jinja_work (st, st->env.line, len);
  buf_reserve (st, buf, len);
  memcpy (buf->p + buf->len, p, len);
  buf->len += len;
}

/* Marks bytes [start, end) of @buf as from a message. */
static void
buf_taint (JState *st, JBuf *buf, gsize start, gsize end)
{
  if (start >= end)
    return;
  if (buf->n_taint && buf->taint[buf->n_taint - 1].start + buf->taint[buf->n_taint - 1].len >= start)
    {
      JRange *last = &buf->taint[buf->n_taint - 1];
      last->len = MAX (last->start + last->len, end) - last->start;
      return;
    }
  if (buf->n_taint == buf->cap_taint)
    {
      gsize cap = MAX (8, buf->cap_taint * 2);
      JRange *r = tern_jinja_alloc (&st->env, cap * sizeof (JRange));
      if (buf->n_taint)
        memcpy (r, buf->taint, buf->n_taint * sizeof (JRange));
      buf->taint = r;
      buf->cap_taint = cap;
    }
  buf->taint[buf->n_taint++] = (JRange) { start, end - start };
}

void
tern_jinja_buf_append_str (JState *st, JBuf *buf, JVal v)
{
  gsize at = buf->len;

  tern_jinja_buf_append (st, buf, v.s.p, v.s.len);
  if (v.s.taint)
    for (gsize k = 0; k < v.s.taint->n; k++)
      buf_taint (st, buf, at + v.s.taint->r[k].start, at + v.s.taint->r[k].start + v.s.taint->r[k].len);
}

JVal
tern_jinja_buf_value (JState *st, JBuf *buf)
{
  JVal v = { .type = JV_STRING };
  v.s.p = buf->p ? buf->p : "";
  v.s.len = buf->len;
  if (buf->n_taint)
    {
      JTaint *t = tern_jinja_alloc (&st->env, sizeof (JTaint) + buf->n_taint * sizeof (JRange));
      t->n = buf->n_taint;
      memcpy (t->r, buf->taint, buf->n_taint * sizeof (JRange));
      v.s.taint = t;
    }
  return v;
}

static void
buf_printf (JState *st, JBuf *buf, const char *format, ...) G_GNUC_PRINTF (3, 4);

static void
buf_printf (JState *st, JBuf *buf, const char *format, ...)
{
  char tmp[64];
  va_list args;

  va_start (args, format);
  gint n = g_vsnprintf (tmp, sizeof tmp, format, args);
  va_end (args);
  tern_jinja_buf_append (st, buf, tmp, (gsize) MIN (n, (gint) sizeof tmp - 1));
}

void
tern_jinja_format_float (double f, char *out, gsize size)
{
  char buf[40];
  int prec;

  if (isnan (f))
    {
      g_strlcpy (out, "nan", size);
      return;
    }
  if (isinf (f))
    {
      g_strlcpy (out, f < 0 ? "-inf" : "inf", size);
      return;
    }
  if (f == 0.0)
    {
      g_strlcpy (out, signbit (f) ? "-0.0" : "0.0", size);
      return;
    }
  /* The shortest digits that read back as @f, as Python's repr. */
  for (prec = 1; prec < 17; prec++)
    {
      g_snprintf (buf, sizeof buf, "%.*e", prec - 1, f);
      if (g_ascii_strtod (buf, NULL) == f)
        break;
    }
  g_snprintf (buf, sizeof buf, "%.*e", prec - 1, f);

  char digits[24];
  gsize nd = 0;
  const char *p = buf;
  gboolean neg = *p == '-';
  if (neg)
    p++;
  for (; *p && *p != 'e'; p++)
    if (g_ascii_isdigit (*p))
      digits[nd++] = *p;
  int exp = atoi (p + 1);
  while (nd > 1 && digits[nd - 1] == '0')
    nd--;
  digits[nd] = '\0';

  GString *s = g_string_new (neg ? "-" : "");
  if (exp < -4 || exp >= 16)
    {
      g_string_append_c (s, digits[0]);
      if (nd > 1)
        {
          g_string_append_c (s, '.');
          g_string_append (s, digits + 1);
        }
      g_string_append_printf (s, "e%c%02d", exp < 0 ? '-' : '+', ABS (exp));
    }
  else if (exp < 0)
    {
      g_string_append (s, "0.");
      for (int k = 0; k < -exp - 1; k++)
        g_string_append_c (s, '0');
      g_string_append (s, digits);
    }
  else
    {
      for (int k = 0; k <= exp; k++)
        g_string_append_c (s, (gsize) k < nd ? digits[k] : '0');
      g_string_append_c (s, '.');
      g_string_append (s, (gsize) exp + 1 < nd ? digits + exp + 1 : "0");
    }
  g_strlcpy (out, s->str, size);
  g_string_free (s, TRUE);
}

/* Python's str.isprintable() for one character. */
static gboolean
py_printable (gunichar u)
{
  switch (g_unichar_type (u))
    {
    case G_UNICODE_CONTROL:
    case G_UNICODE_FORMAT:
    case G_UNICODE_SURROGATE:
    case G_UNICODE_PRIVATE_USE:
    case G_UNICODE_UNASSIGNED:
    case G_UNICODE_LINE_SEPARATOR:
    case G_UNICODE_PARAGRAPH_SEPARATOR:
      return FALSE;
    case G_UNICODE_SPACE_SEPARATOR:
      return u == ' ';
    default:
      return TRUE;
    }
}

static void
repr_string (JState *st, JBuf *buf, JVal v)
{
  gboolean has_single = memchr (v.s.p, '\'', v.s.len) != NULL;
  gboolean has_double = memchr (v.s.p, '"', v.s.len) != NULL;
  char quote = has_single && !has_double ? '"' : '\'';
  gsize at = buf->len;

  tern_jinja_buf_append (st, buf, &quote, 1);
  for (const char *p = v.s.p, *end = v.s.p + v.s.len; p < end; p = g_utf8_next_char (p))
    {
      gunichar u = g_utf8_get_char (p);
      if (u == '\\' || u == (gunichar) quote)
        {
          char esc[2] = { '\\', (char) u };
          tern_jinja_buf_append (st, buf, esc, 2);
        }
      else if (u == '\n')
        tern_jinja_buf_append (st, buf, "\\n", 2);
      else if (u == '\r')
        tern_jinja_buf_append (st, buf, "\\r", 2);
      else if (u == '\t')
        tern_jinja_buf_append (st, buf, "\\t", 2);
      else if (u < 0x20 || u == 0x7f || (u >= 0x80 && !py_printable (u)))
        buf_printf (st, buf, u < 0x100 ? "\\x%02x" : u < 0x10000 ? "\\u%04x" : "\\U%08x", u);
      else
        tern_jinja_buf_append (st, buf, p, (gsize) (g_utf8_next_char (p) - p));
    }
  tern_jinja_buf_append (st, buf, &quote, 1);
  if (v.s.taint)
    buf_taint (st, buf, at, buf->len);
}

static void append_repr (JState *st, JBuf *buf, JVal v, guint depth);

static void
check_depth (JState *st, guint depth)
{
  if (depth > J_MAX_VALUE_DEPTH)
    tern_jinja_fail (&st->env, 0, TERN_ENGINE_ERROR_UNSUPPORTED, "values nested more than %d deep", J_MAX_VALUE_DEPTH);
}

static void
append_dict_repr (JState *st, JBuf *buf, const JDict *d, guint depth)
{
  tern_jinja_buf_append (st, buf, "{", 1);
  for (gsize k = 0; k < d->n; k++)
    {
      if (k)
        tern_jinja_buf_append (st, buf, ", ", 2);
      append_repr (st, buf, d->keys[k], depth + 1);
      tern_jinja_buf_append (st, buf, ": ", 2);
      append_repr (st, buf, d->vals[k], depth + 1);
    }
  tern_jinja_buf_append (st, buf, "}", 1);
}

/* str() when @as_repr is FALSE: strings as they are. */
static void
append_value (JState *st, JBuf *buf, JVal v, gboolean as_repr, guint depth)
{
  char num[40];

  check_depth (st, depth);
  switch ((JType) v.type)
    {
    case JV_UNDEFINED:
      if (as_repr)
        tern_jinja_buf_append (st, buf, "Undefined", 9);
      break;
    case JV_NONE: tern_jinja_buf_append (st, buf, "None", 4); break;
    case JV_BOOL: v.b ? tern_jinja_buf_append (st, buf, "True", 4) : tern_jinja_buf_append (st, buf, "False", 5); break;
    case JV_INT: buf_printf (st, buf, "%" G_GINT64_FORMAT, v.i); break;
    case JV_FLOAT:
      tern_jinja_format_float (v.f, num, sizeof num);
      tern_jinja_buf_append (st, buf, num, strlen (num));
      break;
    case JV_STRING:
      if (!as_repr)
        tern_jinja_buf_append_str (st, buf, v);
      else if (v.markup)
        {
          /* markupsafe's Markup.__repr__. */
          tern_jinja_buf_append (st, buf, "Markup(", 7);
          repr_string (st, buf, v);
          tern_jinja_buf_append (st, buf, ")", 1);
        }
      else
        repr_string (st, buf, v);
      break;
    case JV_LIST:
      tern_jinja_buf_append (st, buf, v.list->tuple ? "(" : "[", 1);
      for (gsize k = 0; k < v.list->n; k++)
        {
          if (k)
            tern_jinja_buf_append (st, buf, ", ", 2);
          append_repr (st, buf, v.list->items[k], depth + 1);
        }
      if (v.list->tuple && v.list->n == 1)
        tern_jinja_buf_append (st, buf, ",", 1);
      tern_jinja_buf_append (st, buf, v.list->tuple ? ")" : "]", 1);
      break;
    case JV_DICT: append_dict_repr (st, buf, v.dict, depth); break;
    case JV_NAMESPACE:
      tern_jinja_buf_append (st, buf, "<Namespace ", 11);
      append_dict_repr (st, buf, v.dict, depth);
      tern_jinja_buf_append (st, buf, ">", 1);
      break;
    case JV_FUNC:
      if (v.fn->kind == JF_MACRO || v.fn->kind == JF_CALLER)
        {
          tern_jinja_buf_append (st, buf, "<Macro '", 8);
          tern_jinja_buf_append (st, buf, v.fn->name, strlen (v.fn->name));
          tern_jinja_buf_append (st, buf, "'>", 2);
        }
      else
        {
          tern_jinja_buf_append (st, buf, "<built-in method ", 17);
          tern_jinja_buf_append (st, buf, v.fn->name, strlen (v.fn->name));
          tern_jinja_buf_append (st, buf, ">", 1);
        }
      break;
    case JV_LOOP:
      buf_printf (st, buf, "<LoopContext %" G_GSIZE_FORMAT "/%" G_GSIZE_FORMAT ">", v.loop->index0 + 1,
                  v.loop->items->n);
      break;
    }
}

static void
append_repr (JState *st, JBuf *buf, JVal v, guint depth)
{
  append_value (st, buf, v, TRUE, depth);
}

void
tern_jinja_buf_append_val (JState *st, JBuf *buf, JVal v)
{
  append_value (st, buf, v, FALSE, 0);
}

void
tern_jinja_buf_append_repr (JState *st, JBuf *buf, JVal v)
{
  append_value (st, buf, v, TRUE, 0);
}

JVal
tern_jinja_to_str (JState *st, JVal v)
{
  JBuf buf;

  if (v.type == JV_STRING)
    {
      v.markup = FALSE;
      return v;
    }
  tern_jinja_buf_init (&buf);
  tern_jinja_buf_append_val (st, &buf, v);
  return tern_jinja_buf_value (st, &buf);
}

/* ---- json.dumps ---- */

typedef struct {
  gint32 line;
  JJsonOptions o;
} JsonStyle;

static void
json_string (JState *st, JBuf *buf, JVal v, const JsonStyle *style)
{
  const char *p = v.s.p;
  gsize len = v.s.len, at = buf->len;
  gsize run = 0; /* bytes copied as they are, pending */

  tern_jinja_buf_append (st, buf, "\"", 1);
  for (gsize i = 0; i < len;)
    {
      guint8 c = (guint8) p[i];
      const char *esc = NULL;
      char hex[16];
      gsize n = 1;

      switch (c)
        {
        case '"': esc = "\\\""; break;
        case '\\': esc = "\\\\"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        case '\t': esc = "\\t"; break;
        case '\b': esc = "\\b"; break;
        case '\f': esc = "\\f"; break;
        default:
          /* ensure_ascii escapes all but printable ASCII: DEL too. */
          if (c < 0x20 || (c == 0x7f && style->o.ensure_ascii))
            {
              g_snprintf (hex, sizeof hex, "\\u%04x", c);
              esc = hex;
            }
          else if (c >= 0x80 && style->o.ensure_ascii)
            {
              gunichar u = g_utf8_get_char (p + i);
              n = (gsize) (g_utf8_next_char (p + i) - (p + i));
              if (u >= 0x10000)
                g_snprintf (hex, sizeof hex, "\\u%04x\\u%04x", 0xd800 + ((u - 0x10000) >> 10),
                            0xdc00 + ((u - 0x10000) & 0x3ff));
              else
                g_snprintf (hex, sizeof hex, "\\u%04x", u);
              esc = hex;
            }
        }
      if (esc)
        {
          tern_jinja_buf_append (st, buf, p + i - run, run);
          run = 0;
          tern_jinja_buf_append (st, buf, esc, strlen (esc));
        }
      else
        run += n;
      i += n;
    }
  tern_jinja_buf_append (st, buf, p + len - run, run);
  tern_jinja_buf_append (st, buf, "\"", 1);
  if (v.s.taint)
    buf_taint (st, buf, at, buf->len);
}

static void
json_newline (JState *st, JBuf *buf, const JsonStyle *style, guint level)
{
  tern_jinja_buf_append (st, buf, "\n", 1);
  for (guint k = 0; k < level; k++)
    tern_jinja_buf_append (st, buf, style->o.indent, style->o.indent_len);
}

static void json_value (JState *st, JBuf *buf, JVal v, const JsonStyle *style, guint level);

static void
json_key (JState *st, JBuf *buf, JVal key, const JsonStyle *style)
{
  char num[40];

  switch ((JType) key.type)
    {
    case JV_STRING: json_string (st, buf, key, style); return;
    case JV_NONE: tern_jinja_buf_append (st, buf, "\"null\"", 6); return;
    case JV_BOOL: key.b ? tern_jinja_buf_append (st, buf, "\"true\"", 6) : tern_jinja_buf_append (st, buf, "\"false\"",
                                                                                                  7); return;
    case JV_INT: buf_printf (st, buf, "\"%" G_GINT64_FORMAT "\"", key.i); return;
    case JV_FLOAT:
      tern_jinja_format_float (key.f, num, sizeof num);
      if (!isfinite (key.f))
        g_strlcpy (num, isnan (key.f) ? "NaN" : key.f < 0 ? "-Infinity" : "Infinity", sizeof num);
      buf_printf (st, buf, "\"%s\"", num);
      return;
    default:
      tern_jinja_fail (&st->env, style->line, TERN_ENGINE_ERROR_FORMAT,
                       "keys must be str, int, float, bool or None, not %s", tern_jinja_type_name (key));
    }
}

static void
json_dict (JState *st, JBuf *buf, const JDict *d, const JsonStyle *style, guint level)
{
  gsize *order = tern_jinja_alloc (&st->env, MAX (d->n, 1) * sizeof (gsize));

  if (d->n == 0)
    {
      tern_jinja_buf_append (st, buf, "{}", 2);
      return;
    }
  for (gsize k = 0; k < d->n; k++)
    order[k] = k;
  if (style->o.sort_keys)
    for (gsize k = 1; k < d->n; k++) /* insertion sort: dicts in templates are small */
      for (gsize m = k; m > 0 &&
           tern_jinja_compare (st, style->line, d->keys[order[m - 1]], d->keys[order[m]]) > 0; m--)
        {
          gsize t = order[m];
          order[m] = order[m - 1];
          order[m - 1] = t;
        }
  tern_jinja_buf_append (st, buf, "{", 1);
  for (gsize k = 0; k < d->n; k++)
    {
      if (k)
        tern_jinja_buf_append (st, buf, style->o.item_sep, style->o.item_sep_len);
      if (style->o.indent)
        json_newline (st, buf, style, level + 1);
      json_key (st, buf, d->keys[order[k]], style);
      tern_jinja_buf_append (st, buf, style->o.key_sep, style->o.key_sep_len);
      json_value (st, buf, d->vals[order[k]], style, level + 1);
    }
  if (style->o.indent)
    json_newline (st, buf, style, level);
  tern_jinja_buf_append (st, buf, "}", 1);
}

static void
json_value (JState *st, JBuf *buf, JVal v, const JsonStyle *style, guint level)
{
  char num[40];

  check_depth (st, level);
  switch ((JType) v.type)
    {
    case JV_NONE: tern_jinja_buf_append (st, buf, "null", 4); return;
    case JV_BOOL: v.b ? tern_jinja_buf_append (st, buf, "true", 4) : tern_jinja_buf_append (st, buf, "false",
                                                                                            5); return;
    case JV_INT: buf_printf (st, buf, "%" G_GINT64_FORMAT, v.i); return;
    case JV_FLOAT:
      if (isnan (v.f))
        tern_jinja_buf_append (st, buf, "NaN", 3);
      else if (isinf (v.f))
        v.f < 0 ? tern_jinja_buf_append (st, buf, "-Infinity", 9) : tern_jinja_buf_append (st, buf, "Infinity", 8);
      else
        {
          tern_jinja_format_float (v.f, num, sizeof num);
          tern_jinja_buf_append (st, buf, num, strlen (num));
        }
      return;
    case JV_STRING: json_string (st, buf, v, style); return;
    case JV_LIST:
      if (v.list->n == 0)
        {
          tern_jinja_buf_append (st, buf, "[]", 2);
          return;
        }
      tern_jinja_buf_append (st, buf, "[", 1);
      for (gsize k = 0; k < v.list->n; k++)
        {
          if (k)
            tern_jinja_buf_append (st, buf, style->o.item_sep, style->o.item_sep_len);
          if (style->o.indent)
            json_newline (st, buf, style, level + 1);
          json_value (st, buf, v.list->items[k], style, level + 1);
        }
      if (style->o.indent)
        json_newline (st, buf, style, level);
      tern_jinja_buf_append (st, buf, "]", 1);
      return;
    case JV_DICT: json_dict (st, buf, v.dict, style, level); return;
    default:
      tern_jinja_fail (&st->env, style->line, TERN_ENGINE_ERROR_FORMAT, "Object of type %s is not JSON serializable",
                       tern_jinja_type_name (v));
    }
}

void
tern_jinja_buf_append_json (JState *st, gint32 line, JBuf *buf, JVal v, const JJsonOptions *options)
{
  JsonStyle style = { .line = line, .o = *options };

  if (style.o.item_sep == NULL)
    {
      style.o.item_sep = style.o.indent ? "," : ", ";
      style.o.item_sep_len = strlen (style.o.item_sep);
    }
  if (style.o.key_sep == NULL)
    {
      style.o.key_sep = ": ";
      style.o.key_sep_len = 2;
    }
  json_value (st, buf, v, &style, 0);
}
