/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Jinja evaluation: statements write to an output buffer, expressions
 * give values, with jinja2's scoping (a for loop's body and a macro get
 * their own scope; if does not) and Python's operators. */
#include "jinja-private.h"

#include <math.h>
#include <string.h>

struct JFrame {
  JFrame *parent;
  const char **names; /* interned */
  JVal *vals;
  gsize n, cap;
};

static JFrame *
frame_new (JState *st, JFrame *parent)
{
  JFrame *f = tern_jinja_alloc0 (&st->env, sizeof (JFrame));
  f->parent = parent;
  return f;
}

static JVal *
frame_lookup (JFrame *f, const char *name)
{
  for (; f; f = f->parent)
    for (gsize k = 0; k < f->n; k++)
      if (f->names[k] == name)
        return &f->vals[k];
  return NULL;
}

static void
frame_set (JState *st, JFrame *f, const char *name, JVal v)
{
  for (gsize k = 0; k < f->n; k++)
    if (f->names[k] == name)
      {
        f->vals[k] = v;
        return;
      }
  if (f->n == f->cap)
    {
      gsize cap = MAX (4, f->cap * 2);
      const char **names = tern_jinja_alloc (&st->env, cap * sizeof (char *));
      JVal *vals = tern_jinja_alloc (&st->env, cap * sizeof (JVal));
      if (f->n)
        {
          memcpy (names, f->names, f->n * sizeof (char *));
          memcpy (vals, f->vals, f->n * sizeof (JVal));
        }
      f->names = names;
      f->vals = vals;
      f->cap = cap;
    }
  f->names[f->n] = name;
  f->vals[f->n] = v;
  f->n++;
}

void
tern_jinja_step (JState *st, gint32 line)
{
  if (++st->steps > TERN_CHAT_TEMPLATE_MAX_STEPS)
    tern_jinja_fail (&st->env, line, TERN_ENGINE_ERROR_UNSUPPORTED,
                     "the template runs more than %d loop iterations and macro calls", TERN_CHAT_TEMPLATE_MAX_STEPS);
  tern_jinja_work (st, line, 1);
}

/* A million units take a millisecond or so: a cancel is seen at once. */
#define WORK_CHECK (1 << 20)

void
tern_jinja_work (JState *st, gint32 line, guint64 units)
{
  st->work += units;
  if (st->work > TERN_CHAT_TEMPLATE_MAX_WORK)
    tern_jinja_fail (&st->env, line, TERN_ENGINE_ERROR_UNSUPPORTED,
                     "the template does more than %" G_GUINT64_FORMAT " MiB of work on strings and lists",
                     TERN_CHAT_TEMPLATE_MAX_WORK >> 20);
  if (st->work >= st->next_check)
    {
      st->next_check = st->work + WORK_CHECK;
      if (g_cancellable_is_cancelled (st->cancellable))
        tern_jinja_fail (&st->env, line, TERN_ENGINE_ERROR_CANCELLED, "rendering was cancelled");
    }
}

/* Comparing or copying a value costs about as much as 32 bytes. */
#define ITEM_WEIGHT 32

guint64
tern_jinja_weight (JVal v)
{
  switch ((JType) v.type)
    {
    case JV_STRING: return v.s.len;
    case JV_LIST: return (guint64) v.list->n * ITEM_WEIGHT;
    case JV_DICT:
    case JV_NAMESPACE: return (guint64) v.dict->n * ITEM_WEIGHT;
    default: return 0;
    }
}

/* Using an undefined value where jinja2's Undefined raises. */
G_GNUC_NORETURN static void
fail_undefined (JState *st, gint32 line, JVal v)
{
  tern_jinja_fail (&st->env, line, TERN_ENGINE_ERROR_FORMAT, "%s", v.undef ? v.undef : "value is undefined");
}

static JVal eval (JState *st, JFrame *f, const JNode *n);
static void exec_body (JState *st, JFrame *f, const JNodeList *body, JBuf *out);

/* ---- Operators ---- */

static JVal
concat (JState *st, JVal a, JVal b)
{
  JBuf buf;

  tern_jinja_buf_init (&buf);
  tern_jinja_buf_append_str (st, &buf, a);
  tern_jinja_buf_append_str (st, &buf, b);
  return tern_jinja_buf_value (st, &buf);
}

static JVal
repeat (JState *st, gint32 line, JVal v, gint64 times)
{
  if (times <= 0)
    return v.type == JV_STRING ? tern_jinja_cstr ("") : tern_jinja_list (st, 0, v.list->tuple);
  gsize unit = v.type == JV_STRING ? v.s.len : v.list->n * sizeof (JVal);
  if (unit && (guint64) times > TERN_CHAT_TEMPLATE_MAX_OUTPUT / unit)
    tern_jinja_fail (&st->env, line, TERN_ENGINE_ERROR_UNSUPPORTED, "a repetition passes %d MiB",
                     TERN_CHAT_TEMPLATE_MAX_OUTPUT >> 20);
  if (v.type == JV_STRING)
    {
      JBuf buf;
      tern_jinja_buf_init (&buf);
      for (gint64 k = 0; k < times; k++)
        tern_jinja_buf_append_str (st, &buf, v);
      return tern_jinja_buf_value (st, &buf);
    }
  JVal r = tern_jinja_list (st, v.list->n * (gsize) times, v.list->tuple);
  for (gint64 k = 0; k < times; k++)
    if (v.list->n)
      memcpy (r.list->items + k * v.list->n, v.list->items, v.list->n * sizeof (JVal));
  return r;
}

/* Python's divmod for floats. */
static void
float_divmod (double x, double y, double *floordiv, double *mod)
{
  double m = fmod (x, y), div = (x - m) / y;

  if (m != 0.0)
    {
      if ((y < 0) != (m < 0))
        {
          m += y;
          div -= 1.0;
        }
    }
  else
    m = copysign (0.0, y);
  if (div != 0.0)
    {
      double f = floor (div);
      if (div - f > 0.5)
        f += 1.0;
      div = f;
    }
  else
    div = copysign (0.0, x / y);
  *floordiv = div;
  *mod = m;
}

static gint64
int_of (JVal v)
{
  return v.type == JV_INT ? v.i : v.b;
}

G_GNUC_NORETURN static void
fail_operands (JState *st, gint32 line, const char *op, JVal a, JVal b)
{
  tern_jinja_fail (&st->env, line, TERN_ENGINE_ERROR_FORMAT, "unsupported operand type(s) for %s: '%s' and '%s'", op,
                   tern_jinja_type_name (a), tern_jinja_type_name (b));
}

G_GNUC_NORETURN static void
fail_overflow (JState *st, gint32 line)
{
  tern_jinja_fail (&st->env, line, TERN_ENGINE_ERROR_UNSUPPORTED, "integer overflow (Tern's integers are 64-bit)");
}

static JVal
power (JState *st, gint32 line, JVal a, JVal b)
{
  if (a.type != JV_FLOAT && b.type != JV_FLOAT && int_of (b) >= 0)
    {
      gint64 base = int_of (a), exp = int_of (b), r = 1;
      while (exp > 0)
        {
          if ((exp & 1) && __builtin_mul_overflow (r, base, &r))
            fail_overflow (st, line);
          exp >>= 1;
          if (exp > 0 && __builtin_mul_overflow (base, base, &base))
            fail_overflow (st, line);
        }
      return tern_jinja_int (r);
    }
  if (tern_jinja_num (a) == 0.0 && tern_jinja_num (b) < 0)
    tern_jinja_fail (&st->env, line, TERN_ENGINE_ERROR_FORMAT, "0.0 cannot be raised to a negative power");
  return tern_jinja_float (pow (tern_jinja_num (a), tern_jinja_num (b)));
}

static JVal
binary (JState *st, gint32 line, JOp op, JVal a, JVal b)
{
  static const char *const names[] = { "+", "-", "*", "/", "//", "%", "**" };

  if (op == JOP_CONCAT)
    return concat (st, tern_jinja_to_str (st, a), tern_jinja_to_str (st, b));
  if (a.type == JV_UNDEFINED)
    fail_undefined (st, line, a);
  if (b.type == JV_UNDEFINED)
    fail_undefined (st, line, b);

  if (tern_jinja_is_number (a) && tern_jinja_is_number (b))
    {
      gboolean ints = a.type != JV_FLOAT && b.type != JV_FLOAT;
      gint64 x = int_of (a), y = int_of (b), r;
      double fx = tern_jinja_num (a), fy = tern_jinja_num (b), q, m;

      if ((op == JOP_DIV || op == JOP_FLOORDIV || op == JOP_MOD) && fy == 0.0)
        tern_jinja_fail (&st->env, line, TERN_ENGINE_ERROR_FORMAT, "division by zero");
      switch (op)
        {
        case JOP_ADD:
          if (!ints)
            return tern_jinja_float (fx + fy);
          if (__builtin_add_overflow (x, y, &r))
            fail_overflow (st, line);
          return tern_jinja_int (r);
        case JOP_SUB:
          if (!ints)
            return tern_jinja_float (fx - fy);
          if (__builtin_sub_overflow (x, y, &r))
            fail_overflow (st, line);
          return tern_jinja_int (r);
        case JOP_MUL:
          if (!ints)
            return tern_jinja_float (fx * fy);
          if (__builtin_mul_overflow (x, y, &r))
            fail_overflow (st, line);
          return tern_jinja_int (r);
        case JOP_DIV: return tern_jinja_float (fx / fy);
        case JOP_FLOORDIV:
        case JOP_MOD:
          if (ints)
            {
              if (x == G_MININT64 && y == -1)
                fail_overflow (st, line);
              gint64 d = x / y, md = x % y;
              if (md != 0 && ((md < 0) != (y < 0)))
                {
                  md += y;
                  d -= 1;
                }
              return tern_jinja_int (op == JOP_MOD ? md : d);
            }
          float_divmod (fx, fy, &q, &m);
          return tern_jinja_float (op == JOP_MOD ? m : q);
        case JOP_POW: return power (st, line, a, b);
        default: break;
        }
    }
  if (op == JOP_ADD && a.type == JV_STRING && b.type == JV_STRING)
    {
      /* Markup escapes what is added to it, as markupsafe does. */
      if (a.markup && !b.markup)
        b = tern_jinja_markup_escape (st, b);
      else if (b.markup && !a.markup)
        a = tern_jinja_markup_escape (st, a);
      JVal r = concat (st, a, b);
      r.markup = a.markup || b.markup;
      return r;
    }
  if (op == JOP_ADD && a.type == JV_LIST && b.type == JV_LIST && a.list->tuple == b.list->tuple)
    {
      JVal r = tern_jinja_list (st, a.list->n + b.list->n, a.list->tuple);
      if (a.list->n)
        memcpy (r.list->items, a.list->items, a.list->n * sizeof (JVal));
      if (b.list->n)
        memcpy (r.list->items + a.list->n, b.list->items, b.list->n * sizeof (JVal));
      return r;
    }
  if (op == JOP_MUL && (a.type == JV_STRING || a.type == JV_LIST) && (b.type == JV_INT || b.type == JV_BOOL))
    return repeat (st, line, a, int_of (b));
  if (op == JOP_MUL && (b.type == JV_STRING || b.type == JV_LIST) && (a.type == JV_INT || a.type == JV_BOOL))
    return repeat (st, line, b, int_of (a));
  if (op == JOP_MOD && a.type == JV_STRING)
    return tern_jinja_format_percent (st, line, a, b);
  if (op == JOP_ADD && a.type == JV_STRING)
    tern_jinja_fail (&st->env, line, TERN_ENGINE_ERROR_FORMAT, "can only concatenate str (not \"%s\") to str",
                     tern_jinja_type_name (b));
  fail_operands (st, line, names[op], a, b);
}

static gboolean
contains (JState *st, gint32 line, JVal container, JVal item)
{
  /* A list is gone through comparing the item with each element. */
  guint64 n = container.type == JV_LIST ? container.list->n : 1;
  tern_jinja_work (st, line, tern_jinja_weight (container) + n * tern_jinja_weight (item));
  switch ((JType) container.type)
    {
    case JV_STRING:
      if (item.type != JV_STRING)
        tern_jinja_fail (&st->env, line, TERN_ENGINE_ERROR_FORMAT,
                         "'in <string>' requires string as left operand, not %s", tern_jinja_type_name (item));
      return tern_jinja_find (container, 0, item.s.p, item.s.len) >= 0;
    case JV_LIST:
      for (gsize k = 0; k < container.list->n; k++)
        if (tern_jinja_equal (container.list->items[k], item))
          return TRUE;
      return FALSE;
    case JV_DICT:
    case JV_NAMESPACE: return tern_jinja_dict_get (container.dict, item) != NULL;
    case JV_UNDEFINED: return FALSE;
    default:
      tern_jinja_fail (&st->env, line, TERN_ENGINE_ERROR_FORMAT, "argument of type '%s' is not iterable",
                       tern_jinja_type_name (container));
    }
}

static gboolean
compare (JState *st, gint32 line, JOp op, JVal a, JVal b)
{
  if (op != JOP_IN && op != JOP_NOT_IN)
    tern_jinja_work (st, line, MIN (tern_jinja_weight (a), tern_jinja_weight (b)) + 1);
  switch (op)
    {
    case JOP_EQ: return tern_jinja_equal (a, b);
    case JOP_NE: return !tern_jinja_equal (a, b);
    case JOP_IN: return contains (st, line, b, a);
    case JOP_NOT_IN: return !contains (st, line, b, a);
    default: break;
    }
  if (a.type == JV_UNDEFINED)
    fail_undefined (st, line, a);
  if (b.type == JV_UNDEFINED)
    fail_undefined (st, line, b);
  int c = tern_jinja_compare (st, line, a, b);
  return op == JOP_LT ? c < 0 : op == JOP_LE ? c <= 0 : op == JOP_GT ? c > 0 : c >= 0;
}

/* Python's slice semantics: the indices [start, stop) by step of a
 * sequence of @n items; returns the count. */
static gsize
slice_indices (JState *st, gint32 line, gsize n, JVal start, JVal stop, JVal step, gint64 *first, gint64 *by)
{
  gint64 len = (gint64) n, s, e, k = 1;

  for (guint i = 0; i < 3; i++)
    {
      JVal v = i == 0 ? start : i == 1 ? stop : step;
      if (v.type != JV_NONE && v.type != JV_INT && v.type != JV_BOOL)
        tern_jinja_fail (&st->env, line, TERN_ENGINE_ERROR_FORMAT, "slice indices must be integers or None");
    }
  if (step.type != JV_NONE)
    k = int_of (step);
  if (k == 0)
    tern_jinja_fail (&st->env, line, TERN_ENGINE_ERROR_FORMAT, "slice step cannot be zero");
  if (start.type == JV_NONE)
    s = k > 0 ? 0 : len - 1;
  else
    {
      s = int_of (start);
      if (s < 0)
        s = MAX (s + len, k > 0 ? 0 : -1);
      else
        s = MIN (s, k > 0 ? len : len - 1);
    }
  if (stop.type == JV_NONE)
    e = k > 0 ? len : -1;
  else
    {
      e = int_of (stop);
      if (e < 0)
        e = MAX (e + len, k > 0 ? 0 : -1);
      else
        e = MIN (e, k > 0 ? len : len - 1);
    }
  *first = s;
  *by = k;
  if (k > 0)
    return e > s ? (gsize) ((e - s + k - 1) / k) : 0;
  return s > e ? (gsize) ((s - e - k - 1) / -k) : 0;
}

static JVal
slice (JState *st, gint32 line, JVal obj, JVal start, JVal stop, JVal step)
{
  gint64 first, by;

  if (obj.type == JV_UNDEFINED)
    fail_undefined (st, line, obj);
  if (obj.type == JV_LIST)
    {
      gsize n = slice_indices (st, line, obj.list->n, start, stop, step, &first, &by);
      JVal r = tern_jinja_list (st, n, obj.list->tuple);
      for (gsize k = 0; k < n; k++)
        r.list->items[k] = obj.list->items[first + (gint64) k * by];
      return r;
    }
  if (obj.type == JV_STRING)
    {
      gsize n_chars = tern_jinja_utf8_len (obj);
      gsize n = slice_indices (st, line, n_chars, start, stop, step, &first, &by);
      if (by == 1 && n > 0)
        {
          gsize a = tern_jinja_utf8_offset (obj, (gsize) first), b = tern_jinja_utf8_offset (obj, (gsize) first + n);
          return tern_jinja_substr (st, obj, a, b - a);
        }
      JBuf buf;
      tern_jinja_buf_init (&buf);
      for (gsize k = 0; k < n; k++)
        {
          gsize a = tern_jinja_utf8_offset (obj, (gsize) (first + (gint64) k * by));
          gsize b = (gsize) (g_utf8_next_char (obj.s.p + a) - obj.s.p);
          tern_jinja_buf_append_str (st, &buf, tern_jinja_substr (st, obj, a, b - a));
        }
      return tern_jinja_buf_value (st, &buf);
    }
  tern_jinja_fail (&st->env, line, TERN_ENGINE_ERROR_FORMAT, "'%s' object is not subscriptable",
                   tern_jinja_type_name (obj));
}

/* ---- Calls ---- */

static JArgs
eval_args (JState *st, JFrame *f, const JNode *n)
{
  JArgs args = { 0 };
  JVal *pos = n->args.n ? tern_jinja_alloc (&st->env, n->args.n * sizeof (JVal)) : NULL;
  JVal *kw = n->kwargs.n ? tern_jinja_alloc (&st->env, n->kwargs.n * sizeof (JVal)) : NULL;

  for (gsize k = 0; k < n->args.n; k++)
    pos[k] = eval (st, f, n->args.items[k]);
  for (gsize k = 0; k < n->kwargs.n; k++)
    kw[k] = eval (st, f, n->kwargs.items[k]);
  args.pos = pos;
  args.n_pos = n->args.n;
  args.kw = kw;
  args.kw_names = n->kwnames;
  args.n_kw = n->kwargs.n;
  return args;
}

/* Runs a macro (or a call block's caller) and returns what it wrote. */
static JVal
call_macro (JState *st, gint32 line, const JFunc *fn, const JArgs *args, JVal caller)
{
  const JNode *def = fn->node;
  JFrame *f = frame_new (st, fn->closure);
  JBuf out;

  tern_jinja_step (st, line);
  if (st->depth >= TERN_CHAT_TEMPLATE_MAX_DEPTH)
    tern_jinja_fail (&st->env, line, TERN_ENGINE_ERROR_UNSUPPORTED, "macro calls nest more than %d deep",
                     TERN_CHAT_TEMPLATE_MAX_DEPTH);
  if (args->n_pos > def->n_names)
    tern_jinja_fail (&st->env, line, TERN_ENGINE_ERROR_FORMAT, "macro '%s' takes not more than %" G_GSIZE_FORMAT
                     " argument(s)", fn->name, def->n_names);
  for (gsize k = 0; k < args->n_kw; k++)
    {
      gsize p;
      for (p = 0; p < def->n_names && def->names[p] != args->kw_names[k]; p++)
        ;
      if (p == def->n_names)
        tern_jinja_fail (&st->env, line, TERN_ENGINE_ERROR_FORMAT, "macro '%s' takes no keyword argument '%s'",
                         fn->name, args->kw_names[k]);
      if (p < args->n_pos)
        tern_jinja_fail (&st->env, line, TERN_ENGINE_ERROR_FORMAT, "macro '%s' got multiple values for argument '%s'",
                         fn->name, args->kw_names[k]);
    }
  for (gsize p = 0; p < def->n_names; p++)
    {
      JVal v = tern_jinja_undefined;
      gboolean given = FALSE;
      if (p < args->n_pos)
        {
          v = args->pos[p];
          given = TRUE;
        }
      for (gsize k = 0; k < args->n_kw && !given; k++)
        if (args->kw_names[k] == def->names[p])
          {
            v = args->kw[k];
            given = TRUE;
          }
      if (!given && def->args.items[p])
        v = eval (st, f, def->args.items[p]);
      else if (!given)
        v = tern_jinja_undef (st, "parameter '%s' was not provided", def->names[p]);
      frame_set (st, f, def->names[p], v);
    }
  const char *caller_name = tern_jinja_template_intern (st->tmpl, "caller");
  if (caller_name && caller.type == JV_FUNC)
    frame_set (st, f, caller_name, caller);

  st->depth++;
  tern_jinja_buf_init (&out);
  exec_body (st, f, &def->body, &out);
  st->flow = JFLOW_NORMAL;
  st->depth--;
  return tern_jinja_buf_value (st, &out);
}

static guint64
args_weight (const JArgs *args)
{
  guint64 w = 0;

  for (gsize k = 0; k < args->n_pos; k++)
    w += tern_jinja_weight (args->pos[k]);
  for (gsize k = 0; k < args->n_kw; k++)
    w += tern_jinja_weight (args->kw[k]);
  return w;
}

static JVal
call_with_caller (JState *st, gint32 line, JVal callee, const JArgs *args, JVal caller)
{
  if (callee.type == JV_UNDEFINED)
    fail_undefined (st, line, callee);
  if (callee.type != JV_FUNC)
    tern_jinja_fail (&st->env, line, TERN_ENGINE_ERROR_FORMAT, "'%s' object is not callable",
                     tern_jinja_type_name (callee));
  switch (callee.fn->kind)
    {
    case JF_MACRO: return call_macro (st, line, callee.fn, args, caller);
    case JF_CALLER: return call_macro (st, line, callee.fn, args, callee.fn->caller);
    default:
      /* A method goes through its object and arguments (find, split,
       * replace, join…). */
      tern_jinja_work (st, line, tern_jinja_weight (callee.fn->self) + args_weight (args));
      return tern_jinja_call_builtin (st, line, callee.fn, args);
    }
}

JVal
tern_jinja_call (JState *st, gint32 line, JVal callee, const JArgs *args)
{
  return call_with_caller (st, line, callee, args, tern_jinja_undefined);
}

/* Applies the filter chain ending at @n; the innermost input is @input. */
static JVal
eval_filter (JState *st, JFrame *f, const JNode *n, JVal input)
{
  JVal v = n->a ? (n->a->kind == JN_FILTER ? eval_filter (st, f, n->a, input) : eval (st, f, n->a)) : input;
  JArgs args = eval_args (st, f, n);
  tern_jinja_work (st, n->line, tern_jinja_weight (v) + args_weight (&args));
  return tern_jinja_filter (st, n->line, n->name, v, &args);
}

/* ---- Expressions ---- */

static JVal
lookup (JState *st, JFrame *f, const char *name)
{
  JVal *v = frame_lookup (f, name);
  if (v)
    return *v;
  JVal g = tern_jinja_global (st, name);
  if (g.type != JV_UNDEFINED)
    return g;
  return tern_jinja_undef (st, "'%s' is undefined", name);
}

static JVal
eval (JState *st, JFrame *f, const JNode *n)
{
  JVal a, b, r;

  st->env.line = n->line;
  tern_jinja_work (st, n->line, 1);
  switch ((JNodeKind) n->kind)
    {
    case JN_LITERAL: return n->lit;
    case JN_NAME: return lookup (st, f, n->name);
    case JN_ATTR: return tern_jinja_getattr (st, n->line, eval (st, f, n->a), n->name, strlen (n->name));
    case JN_ITEM:
      a = eval (st, f, n->a);
      return tern_jinja_getitem (st, n->line, a, eval (st, f, n->b));
    case JN_SLICE:
      a = eval (st, f, n->a);
      return slice (st, n->line, a, n->b ? eval (st, f, n->b) : tern_jinja_none,
                    n->c ? eval (st, f, n->c) : tern_jinja_none, n->d ? eval (st, f, n->d) : tern_jinja_none);
    case JN_CALL:
      {
        JVal callee = eval (st, f, n->a);
        JArgs args = eval_args (st, f, n);
        return tern_jinja_call (st, n->line, callee, &args);
      }
    case JN_FILTER: return eval_filter (st, f, n, tern_jinja_undefined);
    case JN_TEST:
      {
        JVal v = eval (st, f, n->a);
        JArgs args = eval_args (st, f, n);
        return tern_jinja_bool (tern_jinja_test (st, n->line, n->name, v, &args) != (n->op != 0));
      }
    case JN_UNARY:
      a = eval (st, f, n->a);
      if (n->op == JOP_NOT)
        return tern_jinja_bool (!tern_jinja_truthy (a));
      if (a.type == JV_UNDEFINED)
        fail_undefined (st, n->line, a);
      if (!tern_jinja_is_number (a))
        tern_jinja_fail (&st->env, n->line, TERN_ENGINE_ERROR_FORMAT, "bad operand type for unary %s: '%s'",
                         n->op == JOP_NEG ? "-" : "+", tern_jinja_type_name (a));
      if (n->op == JOP_POS)
        return a.type == JV_BOOL ? tern_jinja_int (a.b) : a;
      if (a.type == JV_FLOAT)
        return tern_jinja_float (-a.f);
      if (int_of (a) == G_MININT64)
        fail_overflow (st, n->line);
      return tern_jinja_int (-int_of (a));
    case JN_BINARY:
      a = eval (st, f, n->a);
      b = eval (st, f, n->b);
      return binary (st, n->line, (JOp) n->op, a, b);
    case JN_AND:
      a = eval (st, f, n->a);
      return tern_jinja_truthy (a) ? eval (st, f, n->b) : a;
    case JN_OR:
      a = eval (st, f, n->a);
      return tern_jinja_truthy (a) ? a : eval (st, f, n->b);
    case JN_COMPARE:
      a = eval (st, f, n->a);
      b = eval (st, f, n->b);
      return tern_jinja_bool (compare (st, n->line, (JOp) n->op, a, b));
    case JN_COND:
      if (tern_jinja_truthy (eval (st, f, n->a)))
        return eval (st, f, n->b);
      return n->c ? eval (st, f, n->c) : tern_jinja_undefined;
    case JN_LIST:
    case JN_TUPLE:
      r = tern_jinja_list (st, n->args.n, n->kind == JN_TUPLE);
      for (gsize k = 0; k < n->args.n; k++)
        r.list->items[k] = eval (st, f, n->args.items[k]);
      return r;
    case JN_DICT:
      r = tern_jinja_dict (st, n->args.n / 2);
      for (gsize k = 0; k + 1 < n->args.n; k += 2)
        {
          JVal key = eval (st, f, n->args.items[k]);
          if (key.type == JV_LIST && !key.list->tuple)
            tern_jinja_fail (&st->env, n->line, TERN_ENGINE_ERROR_FORMAT, "unhashable type: 'list'");
          if (key.type == JV_DICT || key.type == JV_UNDEFINED)
            tern_jinja_fail (&st->env, n->line, TERN_ENGINE_ERROR_FORMAT, "unhashable type: '%s'",
                             tern_jinja_type_name (key));
          tern_jinja_dict_set (st, r.dict, key, eval (st, f, n->args.items[k + 1]));
        }
      return r;
    default:
      g_assert_not_reached ();
    }
}

/* ---- Statements ---- */

/* Binds @names to @v, unpacking it when there are several. */
static void
assign (JState *st, JFrame *f, gint32 line, const char *const *names, gsize n_names, JVal v)
{
  if (n_names == 1)
    {
      frame_set (st, f, names[0], v);
      return;
    }
  const JList *items = tern_jinja_iterate (st, line, v);
  if (items->n != n_names)
    tern_jinja_fail (&st->env, line, TERN_ENGINE_ERROR_FORMAT,
                     "%s values to unpack (expected %" G_GSIZE_FORMAT ", got %" G_GSIZE_FORMAT ")",
                     items->n > n_names ? "too many" : "not enough", n_names, items->n);
  for (gsize k = 0; k < n_names; k++)
    frame_set (st, f, names[k], items->items[k]);
}

static void
exec_for (JState *st, JFrame *f, const JNode *n, JBuf *out)
{
  const JList *items = tern_jinja_iterate (st, n->line, eval (st, f, n->a));
  const char *loop_name = tern_jinja_template_intern (st->tmpl, "loop");

  if (n->b)
    {
      /* The if clause filters first: loop.length counts what is left. */
      JVal kept = tern_jinja_list (st, items->n, FALSE);
      kept.list->n = 0;
      for (gsize k = 0; k < items->n; k++)
        {
          JFrame *iter = frame_new (st, f);
          tern_jinja_step (st, n->line);
          assign (st, iter, n->line, n->names, n->n_names, items->items[k]);
          if (tern_jinja_truthy (eval (st, iter, n->b)))
            kept.list->items[kept.list->n++] = items->items[k];
        }
      items = kept.list;
    }

  for (gsize k = 0; k < items->n; k++)
    {
      JFrame *iter = frame_new (st, f);
      tern_jinja_step (st, n->line);
      assign (st, iter, n->line, n->names, n->n_names, items->items[k]);
      if (loop_name)
        {
          JVal loop = { .type = JV_LOOP };
          loop.loop = tern_jinja_alloc (&st->env, sizeof (JLoop));
          loop.loop->items = items;
          loop.loop->index0 = k;
          frame_set (st, iter, loop_name, loop);
        }
      exec_body (st, iter, &n->body, out);
      if (st->flow == JFLOW_BREAK)
        {
          st->flow = JFLOW_NORMAL;
          break;
        }
      st->flow = JFLOW_NORMAL;
    }
  if (items->n == 0)
    exec_body (st, f, &n->else_body, out);
}

static void
exec_node (JState *st, JFrame *f, const JNode *n, JBuf *out)
{
  st->env.line = n->line;
  switch ((JNodeKind) n->kind)
    {
    case JN_TEXT:
      tern_jinja_buf_append (st, out, n->text, n->text_len);
      break;
    case JN_OUTPUT:
      tern_jinja_buf_append_val (st, out, eval (st, f, n->a));
      break;
    case JN_IF:
      exec_body (st, f, tern_jinja_truthy (eval (st, f, n->a)) ? &n->body : &n->else_body, out);
      break;
    case JN_FOR:
      exec_for (st, f, n, out);
      break;
    case JN_SET:
      if (n->a)
        {
          JVal ns = eval (st, f, n->a);
          if (ns.type != JV_NAMESPACE)
            tern_jinja_fail (&st->env, n->line, TERN_ENGINE_ERROR_FORMAT,
                             "cannot assign attribute on non-namespace object");
          tern_jinja_dict_set (st, ns.dict, tern_jinja_cstr (n->name), eval (st, f, n->b));
        }
      else
        assign (st, f, n->line, n->names, n->n_names, eval (st, f, n->b));
      break;
    case JN_SET_BLOCK:
    case JN_FILTER_BLOCK:
      {
        JBuf body;
        tern_jinja_buf_init (&body);
        exec_body (st, f, &n->body, &body);
        JVal v = tern_jinja_buf_value (st, &body);
        if (n->b)
          v = eval_filter (st, f, n->b, v);
        if (n->kind == JN_SET_BLOCK)
          frame_set (st, f, n->name, v);
        else
          tern_jinja_buf_append_val (st, out, v);
        break;
      }
    case JN_MACRO:
    case JN_CALL_BLOCK:
      {
        JVal fn = { .type = JV_FUNC };
        fn.fn = tern_jinja_alloc0 (&st->env, sizeof (JFunc));
        fn.fn->kind = n->kind == JN_MACRO ? JF_MACRO : JF_CALLER;
        fn.fn->name = n->kind == JN_MACRO ? n->name : "caller";
        fn.fn->node = n;
        fn.fn->closure = f;
        if (n->kind == JN_MACRO)
          {
            frame_set (st, f, n->name, fn);
            break;
          }
        /* The caller sees the caller of the macro it is in, if any. */
        const char *caller_name = tern_jinja_template_intern (st->tmpl, "caller");
        JVal *outer = caller_name ? frame_lookup (f, caller_name) : NULL;
        fn.fn->caller = outer ? *outer : tern_jinja_undefined;
        JVal callee = eval (st, f, n->a->a);
        JArgs args = eval_args (st, f, n->a);
        tern_jinja_buf_append_val (st, out, call_with_caller (st, n->line, callee, &args, fn));
        break;
      }
    case JN_BREAK:
      st->flow = JFLOW_BREAK;
      break;
    case JN_CONTINUE:
      st->flow = JFLOW_CONTINUE;
      break;
    case JN_GENERATION:
      exec_body (st, f, &n->body, out);
      break;
    default:
      g_assert_not_reached ();
    }
}

static void
exec_body (JState *st, JFrame *f, const JNodeList *body, JBuf *out)
{
  for (gsize k = 0; k < body->n && st->flow == JFLOW_NORMAL; k++)
    exec_node (st, f, body->items[k], out);
}

static gboolean
run (JState *st, const JVal *vals, const char *const *names, gsize n, JBuf *out)
{
  if (setjmp (st->env.jmp))
    return FALSE;
  st->globals = frame_new (st, NULL);
  for (gsize k = 0; k < n; k++)
    {
      const char *name = tern_jinja_template_intern (st->tmpl, names[k]);
      if (name)
        frame_set (st, st->globals, name, vals[k]);
    }
  exec_body (st, st->globals, &st->tmpl->body, out);
  return TRUE;
}

gboolean
tern_jinja_render (const JTemplate *tmpl, const char *const *names, const JVal *vals, gsize n, const struct tm *now,
                   GCancellable *cancellable, JArena *arena, JBuf *out, GError **error)
{
  JState st = { .env = { .arena = arena }, .tmpl = tmpl, .now = *now, .cancellable = cancellable };

  tern_jinja_buf_init (out);
  if (!run (&st, vals, names, n, out))
    {
      g_propagate_error (error, st.env.error);
      return FALSE;
    }
  return TRUE;
}
