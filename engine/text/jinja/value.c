/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Jinja values: arenas, strings that remember which bytes came from
 * messages, and Python's truth, == and <. Their text (str(), repr(),
 * json.dumps()) is in value-format.c. */
#include "jinja-private.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- Arenas ---- */

struct JChunk {
  JChunk *next;
  max_align_t data[];
};

#define CHUNK_SIZE (64 * 1024)

void
tern_jinja_arena_init (JArena *arena, gsize budget)
{
  *arena = (JArena) { .budget = budget };
}

void
tern_jinja_arena_clear (JArena *arena)
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
tern_jinja_arena_alloc (JArena *arena, gsize size)
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
tern_jinja_fail (JEnv *env, gint32 line, TernEngineError code, const char *format, ...)
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
tern_jinja_alloc (JEnv *env, gsize size)
{
  void *p = tern_jinja_arena_alloc (env->arena, size);
  if (p == NULL)
    tern_jinja_fail (env, 0, TERN_ENGINE_ERROR_UNSUPPORTED, "the template needs more than %d MiB of memory",
                     TERN_CHAT_TEMPLATE_MAX_MEMORY >> 20);
  return p;
}

void *
tern_jinja_alloc0 (JEnv *env, gsize size)
{
  return memset (tern_jinja_alloc (env, size), 0, size);
}

char *
tern_jinja_memdup (JEnv *env, const char *p, gsize len)
{
  char *s = tern_jinja_alloc (env, len + 1);
  if (len)
    memcpy (s, p, len);
  s[len] = '\0';
  return s;
}

/* ---- Constructors ---- */

const JVal tern_jinja_undefined = { .type = JV_UNDEFINED };
const JVal tern_jinja_none = { .type = JV_NONE };

JVal
tern_jinja_bool (gboolean b)
{
  return (JVal) { .type = JV_BOOL, .b = b != FALSE };
}

JVal
tern_jinja_int (gint64 i)
{
  return (JVal) { .type = JV_INT, .i = i };
}

JVal
tern_jinja_float (double f)
{
  return (JVal) { .type = JV_FLOAT, .f = f };
}

JVal
tern_jinja_undef (JState *st, const char *format, ...)
{
  va_list args;
  char msg[256];

  va_start (args, format);
  g_vsnprintf (msg, sizeof msg, format, args);
  va_end (args);
  return (JVal) { .type = JV_UNDEFINED, .undef = tern_jinja_memdup (&st->env, msg, strlen (msg)) };
}

JVal
tern_jinja_cstr (const char *s)
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
  t = tern_jinja_alloc (&st->env, sizeof (JTaint) + sizeof (JRange));
  t->n = 1;
  t->r[0] = (JRange) { 0, len };
  return t;
}

JVal
tern_jinja_str (JState *st, const char *p, gsize len, gboolean user)
{
  JVal v = { .type = JV_STRING };
  v.s.p = p;
  v.s.len = len;
  v.s.taint = user ? taint_all (st, len) : NULL;
  return v;
}

JVal
tern_jinja_str_like (JState *st, const char *p, gsize len, JVal from)
{
  return tern_jinja_str (st, p, len, tern_jinja_is_str (from) && from.s.taint != NULL);
}

JVal
tern_jinja_substr (JState *st, JVal v, gsize start, gsize len)
{
  JVal r = { .type = JV_STRING };
  const JTaint *t = v.s.taint;

  g_assert (start + len <= v.s.len);
  r.s.p = v.s.p + start;
  r.s.len = len;
  if (t == NULL || len == 0)
    return r;
  JTaint *nt = tern_jinja_alloc (&st->env, sizeof (JTaint) + t->n * sizeof (JRange));
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
tern_jinja_list (JState *st, gsize n, gboolean tuple)
{
  JVal v = { .type = JV_LIST };
  v.list = tern_jinja_alloc (&st->env, sizeof (JList));
  v.list->n = n;
  v.list->tuple = tuple;
  v.list->items = n ? tern_jinja_alloc (&st->env, n * sizeof (JVal)) : NULL;
  return v;
}

JVal
tern_jinja_dict (JState *st, gsize cap)
{
  JVal v = { .type = JV_DICT };
  v.dict = tern_jinja_alloc0 (&st->env, sizeof (JDict));
  v.dict->cap = cap;
  if (cap)
    {
      v.dict->keys = tern_jinja_alloc (&st->env, cap * sizeof (JVal));
      v.dict->vals = tern_jinja_alloc (&st->env, cap * sizeof (JVal));
    }
  return v;
}

JVal *
tern_jinja_dict_get_str (const JDict *dict, const char *key, gsize len)
{
  for (gsize k = 0; k < dict->n; k++)
    if (dict->keys[k].type == JV_STRING && dict->keys[k].s.len == len && memcmp (dict->keys[k].s.p, key, len) == 0)
      return &dict->vals[k];
  return NULL;
}

JVal *
tern_jinja_dict_get (const JDict *dict, JVal key)
{
  if (key.type == JV_STRING)
    return tern_jinja_dict_get_str (dict, key.s.p, key.s.len);
  for (gsize k = 0; k < dict->n; k++)
    if (tern_jinja_equal (dict->keys[k], key))
      return &dict->vals[k];
  return NULL;
}

void
tern_jinja_dict_set (JState *st, JDict *dict, JVal key, JVal val)
{
  JVal *slot = tern_jinja_dict_get (dict, key);

  if (slot)
    {
      *slot = val;
      return;
    }
  if (dict->n == dict->cap)
    {
      gsize cap = MAX (4, dict->cap * 2);
      JVal *keys = tern_jinja_alloc (&st->env, cap * sizeof (JVal));
      JVal *vals = tern_jinja_alloc (&st->env, cap * sizeof (JVal));
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
tern_jinja_is_str (JVal v)
{
  return v.type == JV_STRING;
}

gboolean
tern_jinja_is_number (JVal v)
{
  return v.type == JV_INT || v.type == JV_FLOAT || v.type == JV_BOOL;
}

double
tern_jinja_num (JVal v)
{
  return v.type == JV_FLOAT ? v.f : v.type == JV_INT ? (double) v.i : (double) v.b;
}

gboolean
tern_jinja_truthy (JVal v)
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
tern_jinja_type_name (JVal v)
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
  if (tern_jinja_is_number (a) && tern_jinja_is_number (b))
    {
      if (a.type != JV_FLOAT && b.type != JV_FLOAT)
        return (a.type == JV_INT ? a.i : a.b) == (b.type == JV_INT ? b.i : b.b);
      return tern_jinja_num (a) == tern_jinja_num (b);
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
      if (a.list->tuple != b.list->tuple || a.list->n != b.list->n || depth > J_MAX_VALUE_DEPTH)
        return FALSE;
      for (gsize k = 0; k < a.list->n; k++)
        if (!equal_depth (a.list->items[k], b.list->items[k], depth + 1))
          return FALSE;
      return TRUE;
    case JV_DICT:
      if (a.dict == b.dict)
        return TRUE;
      if (a.dict->n != b.dict->n || depth > J_MAX_VALUE_DEPTH)
        return FALSE;
      for (gsize k = 0; k < a.dict->n; k++)
        {
          JVal *other = tern_jinja_dict_get (b.dict, a.dict->keys[k]);
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
tern_jinja_equal (JVal a, JVal b)
{
  return equal_depth (a, b, 0);
}

static int
compare_depth (JState *st, gint32 line, JVal a, JVal b, guint depth)
{
  if (tern_jinja_is_number (a) && tern_jinja_is_number (b))
    {
      if (a.type != JV_FLOAT && b.type != JV_FLOAT)
        {
          gint64 x = a.type == JV_INT ? a.i : a.b, y = b.type == JV_INT ? b.i : b.b;
          return (x > y) - (x < y);
        }
      double x = tern_jinja_num (a), y = tern_jinja_num (b);
      return (x > y) - (x < y);
    }
  if (a.type == JV_STRING && b.type == JV_STRING)
    {
      int c = memcmp (a.s.p, b.s.p, MIN (a.s.len, b.s.len));
      return c ? c : (a.s.len > b.s.len) - (a.s.len < b.s.len);
    }
  if (a.type == JV_LIST && b.type == JV_LIST && a.list->tuple == b.list->tuple)
    {
      if (depth > J_MAX_VALUE_DEPTH)
        tern_jinja_fail (&st->env, line, TERN_ENGINE_ERROR_UNSUPPORTED, "values nested too deeply to compare");
      for (gsize k = 0; k < a.list->n && k < b.list->n; k++)
        if (!tern_jinja_equal (a.list->items[k], b.list->items[k]))
          return compare_depth (st, line, a.list->items[k], b.list->items[k], depth + 1);
      return (a.list->n > b.list->n) - (a.list->n < b.list->n);
    }
  tern_jinja_fail (&st->env, line, TERN_ENGINE_ERROR_FORMAT, "'<' not supported between instances of '%s' and '%s'",
                   tern_jinja_type_name (a), tern_jinja_type_name (b));
}

int
tern_jinja_compare (JState *st, gint32 line, JVal a, JVal b)
{
  return compare_depth (st, line, a, b, 0);
}

gsize
tern_jinja_utf8_len (JVal v)
{
  gsize n = 0;
  for (gsize i = 0; i < v.s.len; i++)
    n += ((guint8) v.s.p[i] & 0xc0) != 0x80;
  return n;
}

gsize
tern_jinja_utf8_offset (JVal v, gsize index)
{
  gsize i = 0;
  for (; i < v.s.len; i++)
    if (((guint8) v.s.p[i] & 0xc0) != 0x80 && index-- == 0)
      return i;
  return v.s.len;
}

gssize
tern_jinja_find (JVal hay, gsize from, const char *needle, gsize len)
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
