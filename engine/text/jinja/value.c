/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Jinja values: arenas, strings that remember which bytes came from
 * messages, and Python's str(), repr(), json.dumps(), == and <. */
#include "jinja-private.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Values nested deeper than this (a list in a list in...) are refused by
 * repr, tojson and ordering rather than overflowing the C stack. */
#define MAX_VALUE_DEPTH 500

/* ---- Arenas ---- */

struct JChunk {
  JChunk *next;
  max_align_t data[];
};

#define CHUNK_SIZE (64 * 1024)

void
j_arena_init (JArena *arena, gsize budget)
{
  *arena = (JArena) { .budget = budget };
}

void
j_arena_clear (JArena *arena)
{
  while (arena->chunks)
    {
      JChunk *next = arena->chunks->next;
      g_free (arena->chunks);
      arena->chunks = next;
    }
  arena->ptr = NULL;
  arena->left = 0;
  arena->used = 0;
}

void *
j_arena_alloc (JArena *arena, gsize size)
{
  const gsize align = sizeof (max_align_t);

  size = (size + align - 1) & ~(align - 1);
  if (size == 0)
    size = align;
  if (size > arena->budget - MIN (arena->used, arena->budget))
    return NULL;
  arena->used += size;
  if (size > arena->left)
    {
      /* Big requests get a chunk of their own, so the current one keeps
       * serving small ones. */
      gsize chunk = MAX (size, CHUNK_SIZE);
      JChunk *c = g_malloc (sizeof (JChunk) + chunk);
      c->next = arena->chunks;
      arena->chunks = c;
      if (size >= CHUNK_SIZE)
        return c->data;
      arena->ptr = (char *) c->data;
      arena->left = chunk;
    }
  void *p = arena->ptr;
  arena->ptr += size;
  arena->left -= size;
  return p;
}

void
j_fail (JEnv *env, gint32 line, TernEngineError code, const char *format, ...)
{
  va_list args;

  va_start (args, format);
  char *message = g_strdup_vprintf (format, args);
  va_end (args);
  g_clear_error (&env->error);
  env->error = g_error_new (TERN_ENGINE_ERROR, code, "chat template line %d: %s", line > 0 ? line : env->line,
                            message);
  g_free (message);
  longjmp (env->jmp, 1);
}

void *
j_alloc (JEnv *env, gsize size)
{
  void *p = j_arena_alloc (env->arena, size);
  if (p == NULL)
    j_fail (env, 0, TERN_ENGINE_ERROR_UNSUPPORTED, "the template needs more than %d MiB of memory",
            TERN_CHAT_TEMPLATE_MAX_MEMORY >> 20);
  return p;
}

void *
j_alloc0 (JEnv *env, gsize size)
{
  return memset (j_alloc (env, size), 0, size);
}

char *
j_memdup (JEnv *env, const char *p, gsize len)
{
  char *s = j_alloc (env, len + 1);
  if (len)
    memcpy (s, p, len);
  s[len] = '\0';
  return s;
}

/* ---- Constructors ---- */

const JVal j_undefined = { .type = JV_UNDEFINED };
const JVal j_none = { .type = JV_NONE };

JVal
j_bool (gboolean b)
{
  return (JVal) { .type = JV_BOOL, .b = b != FALSE };
}

JVal
j_int (gint64 i)
{
  return (JVal) { .type = JV_INT, .i = i };
}

JVal
j_float (double f)
{
  return (JVal) { .type = JV_FLOAT, .f = f };
}

JVal
j_undef (JState *st, const char *format, ...)
{
  va_list args;
  char msg[256];

  va_start (args, format);
  g_vsnprintf (msg, sizeof msg, format, args);
  va_end (args);
  return (JVal) { .type = JV_UNDEFINED, .undef = j_memdup (&st->env, msg, strlen (msg)) };
}

JVal
j_cstr (const char *s)
{
  JVal v = { .type = JV_STRING };
  v.s.p = s;
  v.s.len = strlen (s);
  return v;
}

static const JTaint *
taint_all (JState *st, gsize len)
{
  JTaint *t;

  if (len == 0)
    return NULL;
  t = j_alloc (&st->env, sizeof (JTaint) + sizeof (JRange));
  t->n = 1;
  t->r[0] = (JRange) { 0, len };
  return t;
}

JVal
j_str (JState *st, const char *p, gsize len, gboolean user)
{
  JVal v = { .type = JV_STRING };
  v.s.p = p;
  v.s.len = len;
  v.s.taint = user ? taint_all (st, len) : NULL;
  return v;
}

JVal
j_str_like (JState *st, const char *p, gsize len, JVal from)
{
  return j_str (st, p, len, j_is_str (from) && from.s.taint != NULL);
}

JVal
j_substr (JState *st, JVal v, gsize start, gsize len)
{
  JVal r = { .type = JV_STRING };
  const JTaint *t = v.s.taint;

  g_assert (start + len <= v.s.len);
  r.s.p = v.s.p + start;
  r.s.len = len;
  if (t == NULL || len == 0)
    return r;
  JTaint *nt = j_alloc (&st->env, sizeof (JTaint) + t->n * sizeof (JRange));
  nt->n = 0;
  for (gsize k = 0; k < t->n; k++)
    {
      gsize a = MAX (t->r[k].start, start), b = MIN (t->r[k].start + t->r[k].len, start + len);
      if (a < b)
        nt->r[nt->n++] = (JRange) { a - start, b - a };
    }
  r.s.taint = nt->n ? nt : NULL;
  return r;
}

JVal
j_list (JState *st, gsize n, gboolean tuple)
{
  JVal v = { .type = JV_LIST };
  v.list = j_alloc (&st->env, sizeof (JList));
  v.list->n = n;
  v.list->tuple = tuple;
  v.list->items = n ? j_alloc (&st->env, n * sizeof (JVal)) : NULL;
  return v;
}

JVal
j_dict (JState *st, gsize cap)
{
  JVal v = { .type = JV_DICT };
  v.dict = j_alloc0 (&st->env, sizeof (JDict));
  v.dict->cap = cap;
  if (cap)
    {
      v.dict->keys = j_alloc (&st->env, cap * sizeof (JVal));
      v.dict->vals = j_alloc (&st->env, cap * sizeof (JVal));
    }
  return v;
}

JVal *
j_dict_get_str (const JDict *dict, const char *key, gsize len)
{
  for (gsize k = 0; k < dict->n; k++)
    if (dict->keys[k].type == JV_STRING && dict->keys[k].s.len == len && memcmp (dict->keys[k].s.p, key, len) == 0)
      return &dict->vals[k];
  return NULL;
}

JVal *
j_dict_get (const JDict *dict, JVal key)
{
  if (key.type == JV_STRING)
    return j_dict_get_str (dict, key.s.p, key.s.len);
  for (gsize k = 0; k < dict->n; k++)
    if (j_equal (dict->keys[k], key))
      return &dict->vals[k];
  return NULL;
}

void
j_dict_set (JState *st, JDict *dict, JVal key, JVal val)
{
  JVal *slot = j_dict_get (dict, key);

  if (slot)
    {
      *slot = val;
      return;
    }
  if (dict->n == dict->cap)
    {
      gsize cap = MAX (4, dict->cap * 2);
      JVal *keys = j_alloc (&st->env, cap * sizeof (JVal));
      JVal *vals = j_alloc (&st->env, cap * sizeof (JVal));
      if (dict->n)
        {
          memcpy (keys, dict->keys, dict->n * sizeof (JVal));
          memcpy (vals, dict->vals, dict->n * sizeof (JVal));
        }
      dict->keys = keys;
      dict->vals = vals;
      dict->cap = cap;
    }
  dict->keys[dict->n] = key;
  dict->vals[dict->n] = val;
  dict->n++;
}

/* ---- Python semantics ---- */

gboolean
j_is_str (JVal v)
{
  return v.type == JV_STRING;
}

gboolean
j_is_number (JVal v)
{
  return v.type == JV_INT || v.type == JV_FLOAT || v.type == JV_BOOL;
}

double
j_num (JVal v)
{
  return v.type == JV_FLOAT ? v.f : v.type == JV_INT ? (double) v.i : (double) v.b;
}

gboolean
j_truthy (JVal v)
{
  switch ((JType) v.type)
    {
    case JV_UNDEFINED:
    case JV_NONE: return FALSE;
    case JV_BOOL: return v.b;
    case JV_INT: return v.i != 0;
    case JV_FLOAT: return v.f != 0.0;
    case JV_STRING: return v.s.len > 0;
    case JV_LIST: return v.list->n > 0;
    case JV_DICT: return v.dict->n > 0;
    case JV_NAMESPACE:
    case JV_FUNC:
    case JV_LOOP: return TRUE;
    }
  return FALSE;
}

const char *
j_type_name (JVal v)
{
  switch ((JType) v.type)
    {
    case JV_UNDEFINED: return "Undefined";
    case JV_NONE: return "NoneType";
    case JV_BOOL: return "bool";
    case JV_INT: return "int";
    case JV_FLOAT: return "float";
    case JV_STRING: return "str";
    case JV_LIST: return v.list->tuple ? "tuple" : "list";
    case JV_DICT: return "dict";
    case JV_NAMESPACE: return "Namespace";
    case JV_FUNC: return v.fn->kind == JF_MACRO || v.fn->kind == JF_CALLER ? "Macro" : "builtin_function_or_method";
    case JV_LOOP: return "LoopContext";
    }
  return "object";
}

static gboolean
equal_depth (JVal a, JVal b, guint depth)
{
  if (j_is_number (a) && j_is_number (b))
    {
      if (a.type != JV_FLOAT && b.type != JV_FLOAT)
        return (a.type == JV_INT ? a.i : a.b) == (b.type == JV_INT ? b.i : b.b);
      return j_num (a) == j_num (b);
    }
  if (a.type != b.type)
    return FALSE;
  switch ((JType) a.type)
    {
    case JV_UNDEFINED:
    case JV_NONE: return TRUE;
    case JV_STRING: return a.s.len == b.s.len && memcmp (a.s.p, b.s.p, a.s.len) == 0;
    case JV_LIST:
      /* Too deep to compare: only the same list is equal. */
      if (a.list == b.list)
        return TRUE;
      if (a.list->tuple != b.list->tuple || a.list->n != b.list->n || depth > MAX_VALUE_DEPTH)
        return FALSE;
      for (gsize k = 0; k < a.list->n; k++)
        if (!equal_depth (a.list->items[k], b.list->items[k], depth + 1))
          return FALSE;
      return TRUE;
    case JV_DICT:
      if (a.dict == b.dict)
        return TRUE;
      if (a.dict->n != b.dict->n || depth > MAX_VALUE_DEPTH)
        return FALSE;
      for (gsize k = 0; k < a.dict->n; k++)
        {
          JVal *other = j_dict_get (b.dict, a.dict->keys[k]);
          if (other == NULL || !equal_depth (a.dict->vals[k], *other, depth + 1))
            return FALSE;
        }
      return TRUE;
    case JV_NAMESPACE: return a.dict == b.dict;
    case JV_FUNC: return a.fn == b.fn;
    case JV_LOOP: return a.loop == b.loop;
    default: return FALSE;
    }
}

gboolean
j_equal (JVal a, JVal b)
{
  return equal_depth (a, b, 0);
}

static int
compare_depth (JState *st, gint32 line, JVal a, JVal b, guint depth)
{
  if (j_is_number (a) && j_is_number (b))
    {
      if (a.type != JV_FLOAT && b.type != JV_FLOAT)
        {
          gint64 x = a.type == JV_INT ? a.i : a.b, y = b.type == JV_INT ? b.i : b.b;
          return (x > y) - (x < y);
        }
      double x = j_num (a), y = j_num (b);
      return (x > y) - (x < y);
    }
  if (a.type == JV_STRING && b.type == JV_STRING)
    {
      int c = memcmp (a.s.p, b.s.p, MIN (a.s.len, b.s.len));
      return c ? c : (a.s.len > b.s.len) - (a.s.len < b.s.len);
    }
  if (a.type == JV_LIST && b.type == JV_LIST && a.list->tuple == b.list->tuple)
    {
      if (depth > MAX_VALUE_DEPTH)
        j_fail (&st->env, line, TERN_ENGINE_ERROR_UNSUPPORTED, "values nested too deeply to compare");
      for (gsize k = 0; k < a.list->n && k < b.list->n; k++)
        if (!j_equal (a.list->items[k], b.list->items[k]))
          return compare_depth (st, line, a.list->items[k], b.list->items[k], depth + 1);
      return (a.list->n > b.list->n) - (a.list->n < b.list->n);
    }
  j_fail (&st->env, line, TERN_ENGINE_ERROR_FORMAT, "'<' not supported between instances of '%s' and '%s'",
          j_type_name (a), j_type_name (b));
}

int
j_compare (JState *st, gint32 line, JVal a, JVal b)
{
  return compare_depth (st, line, a, b, 0);
}

gsize
j_utf8_len (JVal v)
{
  gsize n = 0;
  for (gsize i = 0; i < v.s.len; i++)
    n += ((guint8) v.s.p[i] & 0xc0) != 0x80;
  return n;
}

gsize
j_utf8_offset (JVal v, gsize index)
{
  gsize i = 0;
  for (; i < v.s.len; i++)
    if (((guint8) v.s.p[i] & 0xc0) != 0x80 && index-- == 0)
      return i;
  return v.s.len;
}

gssize
j_find (JVal hay, gsize from, const char *needle, gsize len)
{
  if (len == 0)
    return from <= hay.s.len ? (gssize) from : -1;
  for (gsize i = from; i + len <= hay.s.len; i++)
    {
      const char *hit = memchr (hay.s.p + i, needle[0], hay.s.len - len + 1 - i);
      if (hit == NULL)
        return -1;
      i = (gsize) (hit - hay.s.p);
      if (memcmp (hit, needle, len) == 0)
        return (gssize) i;
    }
  return -1;
}

/* ---- Output buffers ---- */

void
j_buf_init (JBuf *buf)
{
  *buf = (JBuf) { 0 };
}

static void
buf_reserve (JState *st, JBuf *buf, gsize more)
{
  if (more > TERN_CHAT_TEMPLATE_MAX_OUTPUT - buf->len)
    j_fail (&st->env, 0, TERN_ENGINE_ERROR_UNSUPPORTED, "the template's output passes %d MiB",
            TERN_CHAT_TEMPLATE_MAX_OUTPUT >> 20);
  if (buf->len + more <= buf->cap)
    return;
  gsize cap = MAX (MAX (256, buf->cap * 2), buf->len + more);
  char *p = j_alloc (&st->env, cap);
  if (buf->len)
    memcpy (p, buf->p, buf->len);
  buf->p = p;
  buf->cap = cap;
}

void
j_buf_append (JState *st, JBuf *buf, const char *p, gsize len)
{
  if (len == 0)
    return;
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
      JRange *r = j_alloc (&st->env, cap * sizeof (JRange));
      if (buf->n_taint)
        memcpy (r, buf->taint, buf->n_taint * sizeof (JRange));
      buf->taint = r;
      buf->cap_taint = cap;
    }
  buf->taint[buf->n_taint++] = (JRange) { start, end - start };
}

void
j_buf_append_str (JState *st, JBuf *buf, JVal v)
{
  gsize at = buf->len;

  j_buf_append (st, buf, v.s.p, v.s.len);
  if (v.s.taint)
    for (gsize k = 0; k < v.s.taint->n; k++)
      buf_taint (st, buf, at + v.s.taint->r[k].start, at + v.s.taint->r[k].start + v.s.taint->r[k].len);
}

JVal
j_buf_value (JState *st, JBuf *buf)
{
  JVal v = { .type = JV_STRING };
  v.s.p = buf->p ? buf->p : "";
  v.s.len = buf->len;
  if (buf->n_taint)
    {
      JTaint *t = j_alloc (&st->env, sizeof (JTaint) + buf->n_taint * sizeof (JRange));
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
  j_buf_append (st, buf, tmp, (gsize) MIN (n, (gint) sizeof tmp - 1));
}

void
j_format_float (double f, char *out, gsize size)
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

  j_buf_append (st, buf, &quote, 1);
  for (const char *p = v.s.p, *end = v.s.p + v.s.len; p < end; p = g_utf8_next_char (p))
    {
      gunichar u = g_utf8_get_char (p);
      if (u == '\\' || u == (gunichar) quote)
        {
          char esc[2] = { '\\', (char) u };
          j_buf_append (st, buf, esc, 2);
        }
      else if (u == '\n')
        j_buf_append (st, buf, "\\n", 2);
      else if (u == '\r')
        j_buf_append (st, buf, "\\r", 2);
      else if (u == '\t')
        j_buf_append (st, buf, "\\t", 2);
      else if (u < 0x20 || u == 0x7f || (u >= 0x80 && !py_printable (u)))
        buf_printf (st, buf, u < 0x100 ? "\\x%02x" : u < 0x10000 ? "\\u%04x" : "\\U%08x", u);
      else
        j_buf_append (st, buf, p, (gsize) (g_utf8_next_char (p) - p));
    }
  j_buf_append (st, buf, &quote, 1);
  if (v.s.taint)
    buf_taint (st, buf, at, buf->len);
}

static void append_repr (JState *st, JBuf *buf, JVal v, guint depth);

static void
check_depth (JState *st, guint depth)
{
  if (depth > MAX_VALUE_DEPTH)
    j_fail (&st->env, 0, TERN_ENGINE_ERROR_UNSUPPORTED, "values nested more than %d deep", MAX_VALUE_DEPTH);
}

static void
append_dict_repr (JState *st, JBuf *buf, const JDict *d, guint depth)
{
  j_buf_append (st, buf, "{", 1);
  for (gsize k = 0; k < d->n; k++)
    {
      if (k)
        j_buf_append (st, buf, ", ", 2);
      append_repr (st, buf, d->keys[k], depth + 1);
      j_buf_append (st, buf, ": ", 2);
      append_repr (st, buf, d->vals[k], depth + 1);
    }
  j_buf_append (st, buf, "}", 1);
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
        j_buf_append (st, buf, "Undefined", 9);
      break;
    case JV_NONE: j_buf_append (st, buf, "None", 4); break;
    case JV_BOOL: v.b ? j_buf_append (st, buf, "True", 4) : j_buf_append (st, buf, "False", 5); break;
    case JV_INT: buf_printf (st, buf, "%" G_GINT64_FORMAT, v.i); break;
    case JV_FLOAT:
      j_format_float (v.f, num, sizeof num);
      j_buf_append (st, buf, num, strlen (num));
      break;
    case JV_STRING:
      if (!as_repr)
        j_buf_append_str (st, buf, v);
      else if (v.markup)
        {
          /* markupsafe's Markup.__repr__. */
          j_buf_append (st, buf, "Markup(", 7);
          repr_string (st, buf, v);
          j_buf_append (st, buf, ")", 1);
        }
      else
        repr_string (st, buf, v);
      break;
    case JV_LIST:
      j_buf_append (st, buf, v.list->tuple ? "(" : "[", 1);
      for (gsize k = 0; k < v.list->n; k++)
        {
          if (k)
            j_buf_append (st, buf, ", ", 2);
          append_repr (st, buf, v.list->items[k], depth + 1);
        }
      if (v.list->tuple && v.list->n == 1)
        j_buf_append (st, buf, ",", 1);
      j_buf_append (st, buf, v.list->tuple ? ")" : "]", 1);
      break;
    case JV_DICT: append_dict_repr (st, buf, v.dict, depth); break;
    case JV_NAMESPACE:
      j_buf_append (st, buf, "<Namespace ", 11);
      append_dict_repr (st, buf, v.dict, depth);
      j_buf_append (st, buf, ">", 1);
      break;
    case JV_FUNC:
      if (v.fn->kind == JF_MACRO || v.fn->kind == JF_CALLER)
        {
          j_buf_append (st, buf, "<Macro '", 8);
          j_buf_append (st, buf, v.fn->name, strlen (v.fn->name));
          j_buf_append (st, buf, "'>", 2);
        }
      else
        {
          j_buf_append (st, buf, "<built-in method ", 17);
          j_buf_append (st, buf, v.fn->name, strlen (v.fn->name));
          j_buf_append (st, buf, ">", 1);
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
j_buf_append_val (JState *st, JBuf *buf, JVal v)
{
  append_value (st, buf, v, FALSE, 0);
}

void
j_buf_append_repr (JState *st, JBuf *buf, JVal v)
{
  append_value (st, buf, v, TRUE, 0);
}

JVal
j_to_str (JState *st, JVal v)
{
  JBuf buf;

  if (v.type == JV_STRING)
    {
      v.markup = FALSE;
      return v;
    }
  j_buf_init (&buf);
  j_buf_append_val (st, &buf, v);
  return j_buf_value (st, &buf);
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

  j_buf_append (st, buf, "\"", 1);
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
          j_buf_append (st, buf, p + i - run, run);
          run = 0;
          j_buf_append (st, buf, esc, strlen (esc));
        }
      else
        run += n;
      i += n;
    }
  j_buf_append (st, buf, p + len - run, run);
  j_buf_append (st, buf, "\"", 1);
  if (v.s.taint)
    buf_taint (st, buf, at, buf->len);
}

static void
json_newline (JState *st, JBuf *buf, const JsonStyle *style, guint level)
{
  j_buf_append (st, buf, "\n", 1);
  for (guint k = 0; k < level; k++)
    j_buf_append (st, buf, style->o.indent, style->o.indent_len);
}

static void json_value (JState *st, JBuf *buf, JVal v, const JsonStyle *style, guint level);

static void
json_key (JState *st, JBuf *buf, JVal key, const JsonStyle *style)
{
  char num[40];

  switch ((JType) key.type)
    {
    case JV_STRING: json_string (st, buf, key, style); return;
    case JV_NONE: j_buf_append (st, buf, "\"null\"", 6); return;
    case JV_BOOL: key.b ? j_buf_append (st, buf, "\"true\"", 6) : j_buf_append (st, buf, "\"false\"", 7); return;
    case JV_INT: buf_printf (st, buf, "\"%" G_GINT64_FORMAT "\"", key.i); return;
    case JV_FLOAT:
      j_format_float (key.f, num, sizeof num);
      if (!isfinite (key.f))
        g_strlcpy (num, isnan (key.f) ? "NaN" : key.f < 0 ? "-Infinity" : "Infinity", sizeof num);
      buf_printf (st, buf, "\"%s\"", num);
      return;
    default:
      j_fail (&st->env, style->line, TERN_ENGINE_ERROR_FORMAT, "keys must be str, int, float, bool or None, not %s",
              j_type_name (key));
    }
}

static void
json_dict (JState *st, JBuf *buf, const JDict *d, const JsonStyle *style, guint level)
{
  gsize *order = j_alloc (&st->env, MAX (d->n, 1) * sizeof (gsize));

  if (d->n == 0)
    {
      j_buf_append (st, buf, "{}", 2);
      return;
    }
  for (gsize k = 0; k < d->n; k++)
    order[k] = k;
  if (style->o.sort_keys)
    for (gsize k = 1; k < d->n; k++) /* insertion sort: dicts in templates are small */
      for (gsize m = k; m > 0 && j_compare (st, style->line, d->keys[order[m - 1]], d->keys[order[m]]) > 0; m--)
        {
          gsize t = order[m];
          order[m] = order[m - 1];
          order[m - 1] = t;
        }
  j_buf_append (st, buf, "{", 1);
  for (gsize k = 0; k < d->n; k++)
    {
      if (k)
        j_buf_append (st, buf, style->o.item_sep, style->o.item_sep_len);
      if (style->o.indent)
        json_newline (st, buf, style, level + 1);
      json_key (st, buf, d->keys[order[k]], style);
      j_buf_append (st, buf, style->o.key_sep, style->o.key_sep_len);
      json_value (st, buf, d->vals[order[k]], style, level + 1);
    }
  if (style->o.indent)
    json_newline (st, buf, style, level);
  j_buf_append (st, buf, "}", 1);
}

static void
json_value (JState *st, JBuf *buf, JVal v, const JsonStyle *style, guint level)
{
  char num[40];

  check_depth (st, level);
  switch ((JType) v.type)
    {
    case JV_NONE: j_buf_append (st, buf, "null", 4); return;
    case JV_BOOL: v.b ? j_buf_append (st, buf, "true", 4) : j_buf_append (st, buf, "false", 5); return;
    case JV_INT: buf_printf (st, buf, "%" G_GINT64_FORMAT, v.i); return;
    case JV_FLOAT:
      if (isnan (v.f))
        j_buf_append (st, buf, "NaN", 3);
      else if (isinf (v.f))
        v.f < 0 ? j_buf_append (st, buf, "-Infinity", 9) : j_buf_append (st, buf, "Infinity", 8);
      else
        {
          j_format_float (v.f, num, sizeof num);
          j_buf_append (st, buf, num, strlen (num));
        }
      return;
    case JV_STRING: json_string (st, buf, v, style); return;
    case JV_LIST:
      if (v.list->n == 0)
        {
          j_buf_append (st, buf, "[]", 2);
          return;
        }
      j_buf_append (st, buf, "[", 1);
      for (gsize k = 0; k < v.list->n; k++)
        {
          if (k)
            j_buf_append (st, buf, style->o.item_sep, style->o.item_sep_len);
          if (style->o.indent)
            json_newline (st, buf, style, level + 1);
          json_value (st, buf, v.list->items[k], style, level + 1);
        }
      if (style->o.indent)
        json_newline (st, buf, style, level);
      j_buf_append (st, buf, "]", 1);
      return;
    case JV_DICT: json_dict (st, buf, v.dict, style, level); return;
    default:
      j_fail (&st->env, style->line, TERN_ENGINE_ERROR_FORMAT, "Object of type %s is not JSON serializable",
              j_type_name (v));
    }
}

void
j_buf_append_json (JState *st, gint32 line, JBuf *buf, JVal v, const JJsonOptions *options)
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
