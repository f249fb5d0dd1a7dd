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
  JFrame *f = j_alloc0 (&st->env, sizeof (JFrame));
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
      const char **names = j_alloc (&st->env, cap * sizeof (char *));
      JVal *vals = j_alloc (&st->env, cap * sizeof (JVal));
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
j_step (JState *st, gint32 line)
{
  if (++st->steps > TERN_CHAT_TEMPLATE_MAX_STEPS)
    j_fail (&st->env, line, TERN_ENGINE_ERROR_UNSUPPORTED,
            "the template runs more than %d loop iterations and macro calls", TERN_CHAT_TEMPLATE_MAX_STEPS);
}

/* Using an undefined value where jinja2's Undefined raises. */
G_GNUC_NORETURN static void
fail_undefined (JState *st, gint32 line, JVal v)
{
  j_fail (&st->env, line, TERN_ENGINE_ERROR_FORMAT, "%s", v.undef ? v.undef : "value is undefined");
}

static JVal eval (JState *st, JFrame *f, const JNode *n);
static void exec_body (JState *st, JFrame *f, const JNodeList *body, JBuf *out);

/* ---- Operators ---- */

static JVal
concat (JState *st, JVal a, JVal b)
{
  JBuf buf;

  j_buf_init (&buf);
  j_buf_append_str (st, &buf, a);
  j_buf_append_str (st, &buf, b);
  return j_buf_value (st, &buf);
}

static JVal
repeat (JState *st, gint32 line, JVal v, gint64 times)
{
  if (times <= 0)
    return v.type == JV_STRING ? j_cstr ("") : j_list (st, 0, v.list->tuple);
  gsize unit = v.type == JV_STRING ? v.s.len : v.list->n * sizeof (JVal);
  if (unit && (guint64) times > TERN_CHAT_TEMPLATE_MAX_OUTPUT / unit)
    j_fail (&st->env, line, TERN_ENGINE_ERROR_UNSUPPORTED, "a repetition passes %d MiB",
            TERN_CHAT_TEMPLATE_MAX_OUTPUT >> 20);
  if (v.type == JV_STRING)
    {
      JBuf buf;
      j_buf_init (&buf);
      for (gint64 k = 0; k < times; k++)
        j_buf_append_str (st, &buf, v);
      return j_buf_value (st, &buf);
    }
  JVal r = j_list (st, v.list->n * (gsize) times, v.list->tuple);
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
  j_fail (&st->env, line, TERN_ENGINE_ERROR_FORMAT, "unsupported operand type(s) for %s: '%s' and '%s'", op,
          j_type_name (a), j_type_name (b));
}

G_GNUC_NORETURN static void
fail_overflow (JState *st, gint32 line)
{
  j_fail (&st->env, line, TERN_ENGINE_ERROR_UNSUPPORTED, "integer overflow (Tern's integers are 64-bit)");
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
      return j_int (r);
    }
  if (j_num (a) == 0.0 && j_num (b) < 0)
    j_fail (&st->env, line, TERN_ENGINE_ERROR_FORMAT, "0.0 cannot be raised to a negative power");
  return j_float (pow (j_num (a), j_num (b)));
}

static JVal
binary (JState *st, gint32 line, JOp op, JVal a, JVal b)
{
  static const char *const names[] = { "+", "-", "*", "/", "//", "%", "**" };

  if (op == JOP_CONCAT)
    return concat (st, j_to_str (st, a), j_to_str (st, b));
  if (a.type == JV_UNDEFINED)
    fail_undefined (st, line, a);
  if (b.type == JV_UNDEFINED)
    fail_undefined (st, line, b);

  if (j_is_number (a) && j_is_number (b))
    {
      gboolean ints = a.type != JV_FLOAT && b.type != JV_FLOAT;
      gint64 x = int_of (a), y = int_of (b), r;
      double fx = j_num (a), fy = j_num (b), q, m;

      if ((op == JOP_DIV || op == JOP_FLOORDIV || op == JOP_MOD) && fy == 0.0)
        j_fail (&st->env, line, TERN_ENGINE_ERROR_FORMAT, "division by zero");
      switch (op)
        {
        case JOP_ADD:
          if (!ints)
            return j_float (fx + fy);
          if (__builtin_add_overflow (x, y, &r))
            fail_overflow (st, line);
          return j_int (r);
        case JOP_SUB:
          if (!ints)
            return j_float (fx - fy);
          if (__builtin_sub_overflow (x, y, &r))
            fail_overflow (st, line);
          return j_int (r);
        case JOP_MUL:
          if (!ints)
            return j_float (fx * fy);
          if (__builtin_mul_overflow (x, y, &r))
            fail_overflow (st, line);
          return j_int (r);
        case JOP_DIV: return j_float (fx / fy);
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
              return j_int (op == JOP_MOD ? md : d);
            }
          float_divmod (fx, fy, &q, &m);
          return j_float (op == JOP_MOD ? m : q);
        case JOP_POW: return power (st, line, a, b);
        default: break;
        }
    }
  if (op == JOP_ADD && a.type == JV_STRING && b.type == JV_STRING)
    {
      /* Markup escapes what is added to it, as markupsafe does. */
      if (a.markup && !b.markup)
        b = j_markup_escape (st, b);
      else if (b.markup && !a.markup)
        a = j_markup_escape (st, a);
      JVal r = concat (st, a, b);
      r.markup = a.markup || b.markup;
      return r;
    }
  if (op == JOP_ADD && a.type == JV_LIST && b.type == JV_LIST && a.list->tuple == b.list->tuple)
    {
      JVal r = j_list (st, a.list->n + b.list->n, a.list->tuple);
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
    return j_format_percent (st, line, a, b);
  if (op == JOP_ADD && a.type == JV_STRING)
    j_fail (&st->env, line, TERN_ENGINE_ERROR_FORMAT, "can only concatenate str (not \"%s\") to str",
            j_type_name (b));
  fail_operands (st, line, names[op], a, b);
}

static gboolean
contains (JState *st, gint32 line, JVal container, JVal item)
{
  switch ((JType) container.type)
    {
    case JV_STRING:
      if (item.type != JV_STRING)
        j_fail (&st->env, line, TERN_ENGINE_ERROR_FORMAT, "'in <string>' requires string as left operand, not %s",
                j_type_name (item));
      return j_find (container, 0, item.s.p, item.s.len) >= 0;
    case JV_LIST:
      for (gsize k = 0; k < container.list->n; k++)
        if (j_equal (container.list->items[k], item))
          return TRUE;
      return FALSE;
    case JV_DICT:
    case JV_NAMESPACE: return j_dict_get (container.dict, item) != NULL;
    case JV_UNDEFINED: return FALSE;
    default:
      j_fail (&st->env, line, TERN_ENGINE_ERROR_FORMAT, "argument of type '%s' is not iterable",
              j_type_name (container));
    }
}

static gboolean
compare (JState *st, gint32 line, JOp op, JVal a, JVal b)
{
  switch (op)
    {
    case JOP_EQ: return j_equal (a, b);
    case JOP_NE: return !j_equal (a, b);
    case JOP_IN: return contains (st, line, b, a);
    case JOP_NOT_IN: return !contains (st, line, b, a);
    default: break;
    }
  if (a.type == JV_UNDEFINED)
    fail_undefined (st, line, a);
  if (b.type == JV_UNDEFINED)
    fail_undefined (st, line, b);
  int c = j_compare (st, line, a, b);
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
        j_fail (&st->env, line, TERN_ENGINE_ERROR_FORMAT, "slice indices must be integers or None");
    }
  if (step.type != JV_NONE)
    k = int_of (step);
  if (k == 0)
    j_fail (&st->env, line, TERN_ENGINE_ERROR_FORMAT, "slice step cannot be zero");
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
      JVal r = j_list (st, n, obj.list->tuple);
      for (gsize k = 0; k < n; k++)
        r.list->items[k] = obj.list->items[first + (gint64) k * by];
      return r;
    }
  if (obj.type == JV_STRING)
    {
      gsize n_chars = j_utf8_len (obj);
      gsize n = slice_indices (st, line, n_chars, start, stop, step, &first, &by);
      if (by == 1 && n > 0)
        {
          gsize a = j_utf8_offset (obj, (gsize) first), b = j_utf8_offset (obj, (gsize) first + n);
          return j_substr (st, obj, a, b - a);
        }
      JBuf buf;
      j_buf_init (&buf);
      for (gsize k = 0; k < n; k++)
        {
          gsize a = j_utf8_offset (obj, (gsize) (first + (gint64) k * by));
          gsize b = (gsize) (g_utf8_next_char (obj.s.p + a) - obj.s.p);
          j_buf_append_str (st, &buf, j_substr (st, obj, a, b - a));
        }
      return j_buf_value (st, &buf);
    }
  j_fail (&st->env, line, TERN_ENGINE_ERROR_FORMAT, "'%s' object is not subscriptable", j_type_name (obj));
}

/* ---- Calls ---- */

static JArgs
eval_args (JState *st, JFrame *f, const JNode *n)
{
  JArgs args = { 0 };
  JVal *pos = n->args.n ? j_alloc (&st->env, n->args.n * sizeof (JVal)) : NULL;
  JVal *kw = n->kwargs.n ? j_alloc (&st->env, n->kwargs.n * sizeof (JVal)) : NULL;

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

  j_step (st, line);
  if (st->depth >= TERN_CHAT_TEMPLATE_MAX_DEPTH)
    j_fail (&st->env, line, TERN_ENGINE_ERROR_UNSUPPORTED, "macro calls nest more than %d deep",
            TERN_CHAT_TEMPLATE_MAX_DEPTH);
  if (args->n_pos > def->n_names)
    j_fail (&st->env, line, TERN_ENGINE_ERROR_FORMAT, "macro '%s' takes not more than %" G_GSIZE_FORMAT
            " argument(s)", fn->name, def->n_names);
  for (gsize k = 0; k < args->n_kw; k++)
    {
      gsize p;
      for (p = 0; p < def->n_names && def->names[p] != args->kw_names[k]; p++)
        ;
      if (p == def->n_names)
        j_fail (&st->env, line, TERN_ENGINE_ERROR_FORMAT, "macro '%s' takes no keyword argument '%s'", fn->name,
                args->kw_names[k]);
      if (p < args->n_pos)
        j_fail (&st->env, line, TERN_ENGINE_ERROR_FORMAT, "macro '%s' got multiple values for argument '%s'",
                fn->name, args->kw_names[k]);
    }
  for (gsize p = 0; p < def->n_names; p++)
    {
      JVal v = j_undefined;
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
        v = j_undef (st, "parameter '%s' was not provided", def->names[p]);
      frame_set (st, f, def->names[p], v);
    }
  const char *caller_name = j_template_intern (st->tmpl, "caller");
  if (caller_name && caller.type == JV_FUNC)
    frame_set (st, f, caller_name, caller);

  st->depth++;
  j_buf_init (&out);
  exec_body (st, f, &def->body, &out);
  st->flow = JFLOW_NORMAL;
  st->depth--;
  return j_buf_value (st, &out);
}

static JVal
call_with_caller (JState *st, gint32 line, JVal callee, const JArgs *args, JVal caller)
{
  if (callee.type == JV_UNDEFINED)
    fail_undefined (st, line, callee);
  if (callee.type != JV_FUNC)
    j_fail (&st->env, line, TERN_ENGINE_ERROR_FORMAT, "'%s' object is not callable", j_type_name (callee));
  switch (callee.fn->kind)
    {
    case JF_MACRO: return call_macro (st, line, callee.fn, args, caller);
    case JF_CALLER: return call_macro (st, line, callee.fn, args, callee.fn->caller);
    default: return j_call_builtin (st, line, callee.fn, args);
    }
}

JVal
j_call (JState *st, gint32 line, JVal callee, const JArgs *args)
{
  return call_with_caller (st, line, callee, args, j_undefined);
}

/* Applies the filter chain ending at @n; the innermost input is @input. */
static JVal
eval_filter (JState *st, JFrame *f, const JNode *n, JVal input)
{
  JVal v = n->a ? (n->a->kind == JN_FILTER ? eval_filter (st, f, n->a, input) : eval (st, f, n->a)) : input;
  JArgs args = eval_args (st, f, n);
  return j_filter (st, n->line, n->name, v, &args);
}

/* ---- Expressions ---- */

static JVal
lookup (JState *st, JFrame *f, const char *name)
{
  JVal *v = frame_lookup (f, name);
  if (v)
    return *v;
  JVal g = j_global (st, name);
  if (g.type != JV_UNDEFINED)
    return g;
  return j_undef (st, "'%s' is undefined", name);
}

static JVal
eval (JState *st, JFrame *f, const JNode *n)
{
  JVal a, b, r;

  st->env.line = n->line;
  switch ((JNodeKind) n->kind)
    {
    case JN_LITERAL: return n->lit;
    case JN_NAME: return lookup (st, f, n->name);
    case JN_ATTR: return j_getattr (st, n->line, eval (st, f, n->a), n->name, strlen (n->name));
    case JN_ITEM:
      a = eval (st, f, n->a);
      return j_getitem (st, n->line, a, eval (st, f, n->b));
    case JN_SLICE:
      a = eval (st, f, n->a);
      return slice (st, n->line, a, n->b ? eval (st, f, n->b) : j_none, n->c ? eval (st, f, n->c) : j_none,
                    n->d ? eval (st, f, n->d) : j_none);
    case JN_CALL:
      {
        JVal callee = eval (st, f, n->a);
        JArgs args = eval_args (st, f, n);
        return j_call (st, n->line, callee, &args);
      }
    case JN_FILTER: return eval_filter (st, f, n, j_undefined);
    case JN_TEST:
      {
        JVal v = eval (st, f, n->a);
        JArgs args = eval_args (st, f, n);
        return j_bool (j_test (st, n->line, n->name, v, &args) != (n->op != 0));
      }
    case JN_UNARY:
      a = eval (st, f, n->a);
      if (n->op == JOP_NOT)
        return j_bool (!j_truthy (a));
      if (a.type == JV_UNDEFINED)
        fail_undefined (st, n->line, a);
      if (!j_is_number (a))
        j_fail (&st->env, n->line, TERN_ENGINE_ERROR_FORMAT, "bad operand type for unary %s: '%s'",
                n->op == JOP_NEG ? "-" : "+", j_type_name (a));
      if (n->op == JOP_POS)
        return a.type == JV_BOOL ? j_int (a.b) : a;
      if (a.type == JV_FLOAT)
        return j_float (-a.f);
      if (int_of (a) == G_MININT64)
        fail_overflow (st, n->line);
      return j_int (-int_of (a));
    case JN_BINARY:
      a = eval (st, f, n->a);
      b = eval (st, f, n->b);
      return binary (st, n->line, (JOp) n->op, a, b);
    case JN_AND:
      a = eval (st, f, n->a);
      return j_truthy (a) ? eval (st, f, n->b) : a;
    case JN_OR:
      a = eval (st, f, n->a);
      return j_truthy (a) ? a : eval (st, f, n->b);
    case JN_COMPARE:
      a = eval (st, f, n->a);
      b = eval (st, f, n->b);
      return j_bool (compare (st, n->line, (JOp) n->op, a, b));
    case JN_COND:
      if (j_truthy (eval (st, f, n->a)))
        return eval (st, f, n->b);
      return n->c ? eval (st, f, n->c) : j_undefined;
    case JN_LIST:
    case JN_TUPLE:
      r = j_list (st, n->args.n, n->kind == JN_TUPLE);
      for (gsize k = 0; k < n->args.n; k++)
        r.list->items[k] = eval (st, f, n->args.items[k]);
      return r;
    case JN_DICT:
      r = j_dict (st, n->args.n / 2);
      for (gsize k = 0; k + 1 < n->args.n; k += 2)
        {
          JVal key = eval (st, f, n->args.items[k]);
          if (key.type == JV_LIST && !key.list->tuple)
            j_fail (&st->env, n->line, TERN_ENGINE_ERROR_FORMAT, "unhashable type: 'list'");
          if (key.type == JV_DICT || key.type == JV_UNDEFINED)
            j_fail (&st->env, n->line, TERN_ENGINE_ERROR_FORMAT, "unhashable type: '%s'", j_type_name (key));
          j_dict_set (st, r.dict, key, eval (st, f, n->args.items[k + 1]));
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
  const JList *items = j_iterate (st, line, v);
  if (items->n != n_names)
    j_fail (&st->env, line, TERN_ENGINE_ERROR_FORMAT, "%s values to unpack (expected %" G_GSIZE_FORMAT ", got %"
            G_GSIZE_FORMAT ")", items->n > n_names ? "too many" : "not enough", n_names, items->n);
  for (gsize k = 0; k < n_names; k++)
    frame_set (st, f, names[k], items->items[k]);
}

static void
exec_for (JState *st, JFrame *f, const JNode *n, JBuf *out)
{
  const JList *items = j_iterate (st, n->line, eval (st, f, n->a));
  const char *loop_name = j_template_intern (st->tmpl, "loop");

  if (n->b)
    {
      /* The if clause filters first: loop.length counts what is left. */
      JVal kept = j_list (st, items->n, FALSE);
      kept.list->n = 0;
      for (gsize k = 0; k < items->n; k++)
        {
          JFrame *iter = frame_new (st, f);
          j_step (st, n->line);
          assign (st, iter, n->line, n->names, n->n_names, items->items[k]);
          if (j_truthy (eval (st, iter, n->b)))
            kept.list->items[kept.list->n++] = items->items[k];
        }
      items = kept.list;
    }

  for (gsize k = 0; k < items->n; k++)
    {
      JFrame *iter = frame_new (st, f);
      j_step (st, n->line);
      assign (st, iter, n->line, n->names, n->n_names, items->items[k]);
      if (loop_name)
        {
          JVal loop = { .type = JV_LOOP };
          loop.loop = j_alloc (&st->env, sizeof (JLoop));
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
      j_buf_append (st, out, n->text, n->text_len);
      break;
    case JN_OUTPUT:
      j_buf_append_val (st, out, eval (st, f, n->a));
      break;
    case JN_IF:
      exec_body (st, f, j_truthy (eval (st, f, n->a)) ? &n->body : &n->else_body, out);
      break;
    case JN_FOR:
      exec_for (st, f, n, out);
      break;
    case JN_SET:
      if (n->a)
        {
          JVal ns = eval (st, f, n->a);
          if (ns.type != JV_NAMESPACE)
            j_fail (&st->env, n->line, TERN_ENGINE_ERROR_FORMAT, "cannot assign attribute on non-namespace object");
          j_dict_set (st, ns.dict, j_cstr (n->name), eval (st, f, n->b));
        }
      else
        assign (st, f, n->line, n->names, n->n_names, eval (st, f, n->b));
      break;
    case JN_SET_BLOCK:
    case JN_FILTER_BLOCK:
      {
        JBuf body;
        j_buf_init (&body);
        exec_body (st, f, &n->body, &body);
        JVal v = j_buf_value (st, &body);
        if (n->b)
          v = eval_filter (st, f, n->b, v);
        if (n->kind == JN_SET_BLOCK)
          frame_set (st, f, n->name, v);
        else
          j_buf_append_val (st, out, v);
        break;
      }
    case JN_MACRO:
    case JN_CALL_BLOCK:
      {
        JVal fn = { .type = JV_FUNC };
        fn.fn = j_alloc0 (&st->env, sizeof (JFunc));
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
        const char *caller_name = j_template_intern (st->tmpl, "caller");
        JVal *outer = caller_name ? frame_lookup (f, caller_name) : NULL;
        fn.fn->caller = outer ? *outer : j_undefined;
        JVal callee = eval (st, f, n->a->a);
        JArgs args = eval_args (st, f, n->a);
        j_buf_append_val (st, out, call_with_caller (st, n->line, callee, &args, fn));
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
      const char *name = j_template_intern (st->tmpl, names[k]);
      if (name)
        frame_set (st, st->globals, name, vals[k]);
    }
  exec_body (st, st->globals, &st->tmpl->body, out);
  return TRUE;
}

gboolean
j_render (const JTemplate *tmpl, const char *const *names, const JVal *vals, gsize n, const struct tm *now,
          JArena *arena, JBuf *out, GError **error)
{
  JState st = { .env = { .arena = arena }, .tmpl = tmpl, .now = *now };

  j_buf_init (out);
  if (!run (&st, vals, names, n, out))
    {
      g_propagate_error (error, st.env.error);
      return FALSE;
    }
  return TRUE;
}
