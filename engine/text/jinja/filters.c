/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Jinja filters and tests, as jinja2's filters.py and tests.py define
 * them, plus Hugging Face's tojson (json.dumps). */
#include "jinja-private.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- Tests ---- */

static gboolean
compare_test (JState *st, gint32 line, const char *op, JVal a, JVal b)
{
  if (strcmp (op, "eq") == 0)
    return tern_jinja_equal (a, b);
  if (strcmp (op, "ne") == 0)
    return !tern_jinja_equal (a, b);
  if (a.type == JV_UNDEFINED || b.type == JV_UNDEFINED)
    {
      JVal u = a.type == JV_UNDEFINED ? a : b;
      tern_jinja_fail (&st->env, line, TERN_ENGINE_ERROR_FORMAT, "%s", u.undef ? u.undef : "value is undefined");
    }
  int c = tern_jinja_compare (st, line, a, b);
  return op[0] == 'l' ? (op[1] == 't' ? c < 0 : c <= 0) : (op[1] == 't' ? c > 0 : c >= 0);
}

static gboolean
is_cased (JVal s, gboolean upper)
{
  gboolean cased = FALSE;

  for (const char *p = s.s.p, *end = s.s.p + s.s.len; p < end; p = g_utf8_next_char (p))
    {
      gunichar u = g_utf8_get_char (p);
      if (g_unichar_isupper (u) || g_unichar_islower (u) || g_unichar_istitle (u))
        {
          if (upper ? !g_unichar_isupper (u) : !g_unichar_islower (u))
            return FALSE;
          cased = TRUE;
        }
    }
  return cased;
}

static const struct {
  const char *name, *op;
} compare_tests[] = {
  { "eq", "eq" }, { "equalto", "eq" }, { "==", "eq" }, { "ne", "ne" }, { "!=", "ne" },
  { "lt", "lt" }, { "lessthan", "lt" }, { "<", "lt" }, { "le", "le" }, { "<=", "le" },
  { "gt", "gt" }, { "greaterthan", "gt" }, { ">", "gt" }, { "ge", "ge" }, { ">=", "ge" },
};

static const char *const test_names[] = {
  "defined", "undefined", "none", "boolean", "true", "false", "integer", "float", "number", "string",
  "mapping", "iterable", "sequence", "callable", "sameas", "escaped", "lower", "upper", "odd", "even",
  "divisibleby", "in", "test", "filter", NULL,
};

static gboolean filter_exists (const char *name);

static gboolean
test_exists (const char *name)
{
  for (guint k = 0; k < G_N_ELEMENTS (compare_tests); k++)
    if (strcmp (compare_tests[k].name, name) == 0)
      return TRUE;
  for (guint k = 0; test_names[k]; k++)
    if (strcmp (test_names[k], name) == 0)
      return TRUE;
  return FALSE;
}

gboolean
tern_jinja_test (JState *st, gint32 line, const char *name, JVal v, const JArgs *args)
{
  const JVal *x = tern_jinja_arg (args, 0, NULL);
  JType t = (JType) v.type;

  for (guint k = 0; k < G_N_ELEMENTS (compare_tests); k++)
    if (strcmp (compare_tests[k].name, name) == 0)
      {
        if (x == NULL)
          tern_jinja_fail (&st->env, line, TERN_ENGINE_ERROR_FORMAT, "the test '%s' needs an argument", name);
        return compare_test (st, line, compare_tests[k].op, v, *x);
      }
  if (strcmp (name, "defined") == 0)
    return t != JV_UNDEFINED;
  if (strcmp (name, "undefined") == 0)
    return t == JV_UNDEFINED;
  if (strcmp (name, "none") == 0)
    return t == JV_NONE;
  if (strcmp (name, "boolean") == 0)
    return t == JV_BOOL;
  if (strcmp (name, "true") == 0 || strcmp (name, "false") == 0)
    return t == JV_BOOL && v.b == (name[0] == 't');
  if (strcmp (name, "integer") == 0)
    return t == JV_INT;
  if (strcmp (name, "float") == 0)
    return t == JV_FLOAT;
  if (strcmp (name, "number") == 0)
    return tern_jinja_is_number (v);
  if (strcmp (name, "string") == 0)
    return t == JV_STRING;
  if (strcmp (name, "mapping") == 0)
    return t == JV_DICT;
  if (strcmp (name, "iterable") == 0)
    return t == JV_STRING || t == JV_LIST || t == JV_DICT || t == JV_UNDEFINED || t == JV_LOOP;
  if (strcmp (name, "sequence") == 0)
    return t == JV_STRING || t == JV_LIST || t == JV_DICT;
  if (strcmp (name, "callable") == 0)
    return t == JV_FUNC;
  if (strcmp (name, "escaped") == 0)
    return t == JV_STRING && v.markup;
  if (strcmp (name, "sameas") == 0)
    {
      if (x == NULL)
        tern_jinja_fail (&st->env, line, TERN_ENGINE_ERROR_FORMAT, "the test 'sameas' needs an argument");
      /* Containers by identity; None, booleans and numbers by value. */
      if (t == JV_LIST || t == JV_DICT || t == JV_NAMESPACE)
        return x->type == t && x->list == v.list;
      return x->type == t && tern_jinja_equal (v, *x);
    }
  if (strcmp (name, "lower") == 0 || strcmp (name, "upper") == 0)
    return t == JV_STRING && is_cased (v, name[0] == 'u');
  if (strcmp (name, "odd") == 0 || strcmp (name, "even") == 0 || strcmp (name, "divisibleby") == 0)
    {
      gint64 n = tern_jinja_expect_int (st, line, v, "the value");
      if (name[0] == 'o')
        return n % 2 != 0;
      if (name[0] == 'e')
        return n % 2 == 0;
      if (x == NULL)
        tern_jinja_fail (&st->env, line, TERN_ENGINE_ERROR_FORMAT, "the test 'divisibleby' needs an argument");
      gint64 d = tern_jinja_expect_int (st, line, *x, "the divisor");
      if (d == 0)
        tern_jinja_fail (&st->env, line, TERN_ENGINE_ERROR_FORMAT, "integer modulo by zero");
      return d == -1 || n % d == 0;
    }
  if (strcmp (name, "in") == 0)
    {
      if (x == NULL)
        tern_jinja_fail (&st->env, line, TERN_ENGINE_ERROR_FORMAT, "the test 'in' needs an argument");
      if (x->type == JV_STRING)
        return tern_jinja_find (*x, 0, tern_jinja_expect_str (st, line, v, "the left operand of 'in'").s.p,
                                v.s.len) >= 0;
      const JList *items = tern_jinja_iterate (st, line, *x);
      if (x->type == JV_DICT)
        return tern_jinja_dict_get (x->dict, v) != NULL;
      for (gsize k = 0; k < items->n; k++)
        if (tern_jinja_equal (items->items[k], v))
          return TRUE;
      return FALSE;
    }
  if (strcmp (name, "test") == 0 || strcmp (name, "filter") == 0)
    {
      JVal s = tern_jinja_expect_str (st, line, v, "the name");
      char *n = tern_jinja_memdup (&st->env, s.s.p, s.s.len);
      return name[0] == 't' ? test_exists (n) : filter_exists (n);
    }
  tern_jinja_fail (&st->env, line, TERN_ENGINE_ERROR_UNSUPPORTED, "no test named '%s'", name);
}

/* ---- Filter helpers ---- */

/* jinja2's attribute getter: "a.b.0" looks up a, then b, then item 0. */
static JVal
get_attribute (JState *st, gint32 line, JVal item, JVal attribute)
{
  JVal path = tern_jinja_to_str (st, attribute);
  gsize start = 0;

  for (gsize i = 0; i <= path.s.len; i++)
    {
      if (i < path.s.len && path.s.p[i] != '.')
        continue;
      JVal part = tern_jinja_substr (st, path, start, i - start);
      guint64 index;
      char *text = tern_jinja_memdup (&st->env, part.s.p, part.s.len);
      if (g_ascii_string_to_unsigned (text, 10, 0, G_MAXINT64, &index, NULL))
        item = tern_jinja_getitem (st, line, item, tern_jinja_int ((gint64) index));
      else
        item = tern_jinja_getitem (st, line, item, part);
      start = i + 1;
    }
  return item;
}

/* The sort key of an item: its @attribute, lower case unless @case_sensitive. */
static JVal
sort_key (JState *st, gint32 line, JVal item, const JVal *attribute, gboolean case_sensitive)
{
  if (attribute && attribute->type != JV_NONE)
    item = get_attribute (st, line, item, *attribute);
  if (!case_sensitive && item.type == JV_STRING)
    item = tern_jinja_change_case (st, item, 'l');
  return item;
}

/* Stable merge sort of @order (indices into @keys). */
static void
merge_sort (JState *st, gint32 line, const JVal *keys, gsize *order, gsize *tmp, gsize n, gboolean reverse)
{
  if (n < 2)
    return;
  gsize half = n / 2;
  merge_sort (st, line, keys, order, tmp, half, reverse);
  merge_sort (st, line, keys, order + half, tmp, n - half, reverse);
  gsize i = 0, j = half, k = 0;
  while (i < half && j < n)
    {
      int c = tern_jinja_compare (st, line, keys[order[j]], keys[order[i]]);
      gboolean take_right = reverse ? c > 0 : c < 0;
      tmp[k++] = take_right ? order[j++] : order[i++];
    }
  while (i < half)
    tmp[k++] = order[i++];
  while (j < n)
    tmp[k++] = order[j++];
  memcpy (order, tmp, n * sizeof (gsize));
}

static JVal
sort_filter (JState *st, gint32 line, JVal v, const JArgs *a)
{
  const JList *items = tern_jinja_iterate (st, line, v);
  gboolean reverse = tern_jinja_truthy (tern_jinja_arg_or (a, 0, "reverse", tern_jinja_bool (FALSE)));
  gboolean case_sensitive = tern_jinja_truthy (tern_jinja_arg_or (a, 1, "case_sensitive", tern_jinja_bool (FALSE)));
  const JVal *attribute = tern_jinja_arg (a, 2, "attribute");
  gsize n = items->n;
  JVal *keys = tern_jinja_alloc (&st->env, MAX (n, 1) * sizeof (JVal));
  gsize *order = tern_jinja_alloc (&st->env, MAX (n, 1) * sizeof (gsize));
  gsize *tmp = tern_jinja_alloc (&st->env, MAX (n, 1) * sizeof (gsize));

  for (gsize k = 0; k < n; k++)
    {
      keys[k] = sort_key (st, line, items->items[k], attribute, case_sensitive);
      order[k] = k;
    }
  merge_sort (st, line, keys, order, tmp, n, reverse);
  JVal r = tern_jinja_list (st, n, FALSE);
  for (gsize k = 0; k < n; k++)
    r.list->items[k] = items->items[order[k]];
  return r;
}

/* unique, min and max: @how 'u', '<' or '>'. */
static JVal
pick_filter (JState *st, gint32 line, JVal v, const JArgs *a, char how)
{
  const JList *items = tern_jinja_iterate (st, line, v);
  gboolean case_sensitive = tern_jinja_truthy (tern_jinja_arg_or (a, 0, "case_sensitive", tern_jinja_bool (FALSE)));
  const JVal *attribute = tern_jinja_arg (a, 1, "attribute");
  JVal *keys = tern_jinja_alloc (&st->env, MAX (items->n, 1) * sizeof (JVal));

  for (gsize k = 0; k < items->n; k++)
    keys[k] = sort_key (st, line, items->items[k], attribute, case_sensitive);
  if (how == 'u')
    {
      JVal r = tern_jinja_list (st, items->n, FALSE);
      r.list->n = 0;
      for (gsize k = 0; k < items->n; k++)
        {
          gboolean seen = FALSE;
          for (gsize m = 0; m < k && !seen; m++)
            seen = tern_jinja_equal (keys[m], keys[k]);
          if (!seen)
            r.list->items[r.list->n++] = items->items[k];
        }
      return r;
    }
  if (items->n == 0)
    return tern_jinja_undef (st, "No aggregated item, sequence was empty.");
  gsize best = 0;
  for (gsize k = 1; k < items->n; k++)
    {
      int c = tern_jinja_compare (st, line, keys[k], keys[best]);
      if (how == '<' ? c < 0 : c > 0)
        best = k;
    }
  return items->items[best];
}

/* select, reject, selectattr and rejectattr. */
static JVal
select_filter (JState *st, gint32 line, JVal v, const JArgs *a, gboolean keep, gboolean by_attribute)
{
  /* jinja2 skips a false value (None, empty) without iterating it. */
  const JList *items = tern_jinja_iterate (st, line, tern_jinja_truthy (v) ? v : tern_jinja_undefined);
  gsize first = by_attribute ? 1 : 0;
  const JVal *attribute = by_attribute ? tern_jinja_arg (a, 0, NULL) : NULL;
  const JVal *test = tern_jinja_arg (a, first, NULL);
  JArgs test_args = { 0 };
  JVal r = tern_jinja_list (st, items->n, FALSE);

  if (by_attribute && attribute == NULL)
    tern_jinja_fail (&st->env, line, TERN_ENGINE_ERROR_FORMAT, "missing the attribute to select by");
  if (test)
    {
      tern_jinja_expect_str (st, line, *test, "the test name");
      test_args.pos = a->pos + first + 1;
      test_args.n_pos = a->n_pos - first - 1;
      test_args.kw = a->kw;
      test_args.kw_names = a->kw_names;
      test_args.n_kw = a->n_kw;
    }
  char *test_name = test ? tern_jinja_memdup (&st->env, test->s.p, test->s.len) : NULL;
  r.list->n = 0;
  for (gsize k = 0; k < items->n; k++)
    {
      JVal x = attribute ? get_attribute (st, line, items->items[k], *attribute) : items->items[k];
      gboolean pass = test_name ? tern_jinja_test (st, line, test_name, x, &test_args) : tern_jinja_truthy (x);
      if (pass == keep)
        r.list->items[r.list->n++] = items->items[k];
    }
  return r;
}

static JVal
map_filter (JState *st, gint32 line, JVal v, const JArgs *a)
{
  const JList *items = tern_jinja_iterate (st, line, tern_jinja_truthy (v) ? v : tern_jinja_undefined);
  const JVal *attribute = NULL, *fallback = NULL;
  JVal r = tern_jinja_list (st, items->n, FALSE);

  for (gsize k = 0; k < a->n_kw; k++)
    {
      if (strcmp (a->kw_names[k], "attribute") == 0)
        attribute = &a->kw[k];
      else if (strcmp (a->kw_names[k], "default") == 0)
        fallback = &a->kw[k];
    }
  if (attribute)
    {
      for (gsize k = 0; k < items->n; k++)
        {
          JVal x = get_attribute (st, line, items->items[k], *attribute);
          r.list->items[k] = x.type == JV_UNDEFINED && fallback ? *fallback : x;
        }
      return r;
    }
  if (a->n_pos == 0)
    tern_jinja_fail (&st->env, line, TERN_ENGINE_ERROR_FORMAT, "map needs a filter name or an attribute");
  JVal name = tern_jinja_expect_str (st, line, a->pos[0], "the filter name");
  char *filter = tern_jinja_memdup (&st->env, name.s.p, name.s.len);
  JArgs rest = { a->pos + 1, a->n_pos - 1, a->kw_names, a->kw, a->n_kw };
  for (gsize k = 0; k < items->n; k++)
    r.list->items[k] = tern_jinja_filter (st, line, filter, items->items[k], &rest);
  return r;
}

/* Python's int () of a string, as do_int tries it; FALSE when it is not one. */
static gboolean
parse_int (JState *st, JVal s, gint64 base, gint64 *out)
{
  JVal t = tern_jinja_strip (st, s, tern_jinja_none, 3);
  char *text = tern_jinja_alloc (&st->env, t.s.len + 1);
  gsize n = 0;

  /* Underscores may only sit between digits. */
  for (gsize i = 0; i < t.s.len; i++)
    {
      if (t.s.p[i] == '_' && i > 0 && i + 1 < t.s.len && g_ascii_isalnum (t.s.p[i - 1])
          && g_ascii_isalnum (t.s.p[i + 1]))
        continue;
      text[n++] = t.s.p[i];
    }
  text[n] = '\0';
  if (n == 0 || base < 2 || base > 36)
    return FALSE;
  return g_ascii_string_to_signed (text[0] == '+' ? text + 1 : text, (guint) base, G_MININT64, G_MAXINT64, out, NULL);
}

/* Python's float () of a string. */
static gboolean
parse_float (JState *st, JVal s, double *out)
{
  JVal t = tern_jinja_strip (st, s, tern_jinja_none, 3);
  char *text = tern_jinja_memdup (&st->env, t.s.p, t.s.len);
  char *end;

  if (t.s.len == 0 || strpbrk (text, "xXpP") != NULL)
    return FALSE;
  *out = g_ascii_strtod (text, &end);
  return *end == '\0';
}

static JVal
int_filter (JState *st, gint32 line, JVal v, const JArgs *a)
{
  JVal fallback = tern_jinja_arg_or (a, 0, "default", tern_jinja_int (0));
  gint64 base = tern_jinja_expect_int (st, line, tern_jinja_arg_or (a, 1, "base", tern_jinja_int (10)), "base");
  gint64 i;
  double f;

  switch ((JType) v.type)
    {
    case JV_INT: return v;
    case JV_BOOL: return tern_jinja_int (v.b);
    case JV_FLOAT:
      if (isfinite (v.f) && fabs (v.f) < 9.2e18)
        return tern_jinja_int ((gint64) v.f);
      return fallback;
    case JV_STRING:
      if (parse_int (st, v, base, &i))
        return tern_jinja_int (i);
      if (parse_float (st, v, &f) && isfinite (f) && fabs (f) < 9.2e18)
        return tern_jinja_int ((gint64) f);
      return fallback;
    default:
      return fallback;
    }
}

static JVal
float_filter (JState *st, gint32 line, JVal v, const JArgs *a)
{
  double f;

  if (tern_jinja_is_number (v))
    return tern_jinja_float (tern_jinja_num (v));
  if (v.type == JV_STRING && parse_float (st, v, &f))
    return tern_jinja_float (f);
  return tern_jinja_arg_or (a, 0, "default", tern_jinja_float (0.0));
}

static JVal
round_filter (JState *st, gint32 line, JVal v, const JArgs *a)
{
  gint64 precision = tern_jinja_expect_int (st, line, tern_jinja_arg_or (a, 0, "precision", tern_jinja_int (0)),
                                            "precision");
  JVal method = tern_jinja_arg_or (a, 1, "method", tern_jinja_cstr ("common"));

  if (!tern_jinja_is_number (v))
    tern_jinja_fail (&st->env, line, TERN_ENGINE_ERROR_FORMAT, "type %s doesn't define __round__ method",
                     tern_jinja_type_name (v));
  tern_jinja_expect_str (st, line, method, "method");
  precision = CLAMP (precision, -308, 308);
  if (method.s.len == 6 && memcmp (method.s.p, "common", 6) == 0)
    {
      /* Python's round (): ints stay ints; floats round half to even on
       * their exact binary value, which printf does too. */
      double scale = pow (10, (double) -precision);
      if (v.type != JV_FLOAT)
        return tern_jinja_int (precision >= 0 ? tern_jinja_int_of (v)
                                              : (gint64) (rint ((double) tern_jinja_int_of (v) / scale) * scale));
      if (!isfinite (v.f))
        return v;
      if (precision < 0)
        return tern_jinja_float (rint (v.f / scale) * scale);
      char buf[400];
      g_snprintf (buf, sizeof buf, "%.*f", (int) MIN (precision, 330), v.f);
      return tern_jinja_float (g_ascii_strtod (buf, NULL));
    }
  gboolean ceil_ = method.s.len == 4 && memcmp (method.s.p, "ceil", 4) == 0;
  gboolean floor_ = method.s.len == 5 && memcmp (method.s.p, "floor", 5) == 0;
  if (!ceil_ && !floor_)
    tern_jinja_fail (&st->env, line, TERN_ENGINE_ERROR_FORMAT, "method must be common, ceil or floor");
  double scale = pow (10, (double) precision), x = tern_jinja_num (v) * scale;
  return tern_jinja_float ((ceil_ ? ceil (x) : floor (x)) / scale);
}

static JVal
indent_filter (JState *st, gint32 line, JVal v, const JArgs *a)
{
  JVal width = tern_jinja_arg_or (a, 0, "width", tern_jinja_int (4));
  gboolean first = tern_jinja_truthy (tern_jinja_arg_or (a, 1, "first", tern_jinja_bool (FALSE)));
  gboolean blank = tern_jinja_truthy (tern_jinja_arg_or (a, 2, "blank", tern_jinja_bool (FALSE)));
  JVal s = tern_jinja_to_str (st, v), indent;
  JBuf buf;

  if (width.type == JV_STRING)
    indent = width;
  else
    {
      gint64 n = CLAMP (tern_jinja_expect_int (st, line, width, "width"), 0, 1000);
      char *spaces = tern_jinja_alloc (&st->env, (gsize) n + 1);
      memset (spaces, ' ', (gsize) n);
      indent = tern_jinja_str (st, spaces, (gsize) n, FALSE);
    }
  /* jinja2 appends a newline before splitting, so a trailing newline
   * gives no extra line. */
  JBuf with_nl;
  tern_jinja_buf_init (&with_nl);
  tern_jinja_buf_append_str (st, &with_nl, s);
  tern_jinja_buf_append (st, &with_nl, "\n", 1);
  const JList *lines = tern_jinja_splitlines (st, tern_jinja_buf_value (st, &with_nl)).list;

  tern_jinja_buf_init (&buf);
  if (first)
    tern_jinja_buf_append_str (st, &buf, indent);
  for (gsize k = 0; k < lines->n; k++)
    {
      JVal l = lines->items[k];
      if (k)
        {
          tern_jinja_buf_append (st, &buf, "\n", 1);
          if (blank || l.s.len)
            tern_jinja_buf_append_str (st, &buf, indent);
        }
      tern_jinja_buf_append_str (st, &buf, l);
    }
  return tern_jinja_buf_value (st, &buf);
}

static JVal
tojson_filter (JState *st, gint32 line, JVal v, const JArgs *a)
{
  static const char *const params[] = { "ensure_ascii", "indent", "separators", "sort_keys", NULL };
  JJsonOptions o = { 0 };
  JVal indent = tern_jinja_arg_or (a, 1, "indent", tern_jinja_none);
  JVal separators = tern_jinja_arg_or (a, 2, "separators", tern_jinja_none);
  JBuf buf;

  /* transformers' tojson takes these and fails on anything else, rather
   * than rendering without it. */
  gsize n_params = G_N_ELEMENTS (params) - 1;
  if (a->n_pos > n_params)
    tern_jinja_fail (&st->env, line, TERN_ENGINE_ERROR_FORMAT, /* Python counts the value too */
                     "tojson() takes from 1 to %" G_GSIZE_FORMAT " positional arguments but %" G_GSIZE_FORMAT
                     " were given",
                     n_params + 1, a->n_pos + 1);
  for (gsize k = 0; k < a->n_kw; k++)
    if (!g_strv_contains (params, a->kw_names[k]))
      tern_jinja_fail (&st->env, line, TERN_ENGINE_ERROR_FORMAT, "tojson() got an unexpected keyword argument '%s'",
                       a->kw_names[k]);

  o.ensure_ascii = tern_jinja_truthy (tern_jinja_arg_or (a, 0, "ensure_ascii", tern_jinja_bool (FALSE)));
  o.sort_keys = tern_jinja_truthy (tern_jinja_arg_or (a, 3, "sort_keys", tern_jinja_bool (FALSE)));
  if (indent.type == JV_STRING)
    {
      o.indent = indent.s.p;
      o.indent_len = indent.s.len;
    }
  else if (indent.type != JV_NONE)
    {
      gint64 n = CLAMP (tern_jinja_expect_int (st, line, indent, "indent"), 0, 1000);
      char *spaces = tern_jinja_alloc (&st->env, (gsize) n + 1);
      memset (spaces, ' ', (gsize) n);
      o.indent = spaces;
      o.indent_len = (gsize) n;
    }
  if (separators.type != JV_NONE)
    {
      if (separators.type != JV_LIST || separators.list->n != 2)
        tern_jinja_fail (&st->env, line, TERN_ENGINE_ERROR_FORMAT, "separators must be a pair of strings");
      JVal item = tern_jinja_expect_str (st, line, separators.list->items[0], "a separator");
      JVal key = tern_jinja_expect_str (st, line, separators.list->items[1], "a separator");
      o.item_sep = item.s.p;
      o.item_sep_len = item.s.len;
      o.key_sep = key.s.p;
      o.key_sep_len = key.s.len;
    }
  tern_jinja_buf_init (&buf);
  tern_jinja_buf_append_json (st, line, &buf, v, &o);
  return tern_jinja_buf_value (st, &buf);
}

static JVal
length_filter (JState *st, gint32 line, JVal v)
{
  switch ((JType) v.type)
    {
    case JV_UNDEFINED: return tern_jinja_int (0);
    case JV_STRING: return tern_jinja_int ((gint64) tern_jinja_utf8_len (v));
    case JV_LIST: return tern_jinja_int ((gint64) v.list->n);
    case JV_DICT: return tern_jinja_int ((gint64) v.dict->n);
    case JV_LOOP: return tern_jinja_int ((gint64) v.loop->items->n);
    default:
      tern_jinja_fail (&st->env, line, TERN_ENGINE_ERROR_FORMAT, "object of type '%s' has no len()",
                       tern_jinja_type_name (v));
    }
}

static JVal
sum_filter (JState *st, gint32 line, JVal v, const JArgs *a)
{
  const JList *items = tern_jinja_iterate (st, line, v);
  const JVal *attribute = tern_jinja_arg (a, 0, "attribute");
  JVal total = tern_jinja_arg_or (a, 1, "start", tern_jinja_int (0));

  for (gsize k = 0; k < items->n; k++)
    {
      JVal x = attribute && attribute->type != JV_NONE ? get_attribute (st, line, items->items[k], *attribute)
                                                       : items->items[k];
      if (!tern_jinja_is_number (x) || !tern_jinja_is_number (total))
        tern_jinja_fail (&st->env, line, TERN_ENGINE_ERROR_FORMAT, "unsupported operand type(s) for +: '%s' and '%s'",
                         tern_jinja_type_name (total), tern_jinja_type_name (x));
      gint64 r;
      if (total.type != JV_FLOAT && x.type != JV_FLOAT &&
          !__builtin_add_overflow (tern_jinja_int_of (total), tern_jinja_int_of (x), &r))
        total = tern_jinja_int (r);
      else if (total.type != JV_FLOAT && x.type != JV_FLOAT)
        tern_jinja_fail (&st->env, line, TERN_ENGINE_ERROR_UNSUPPORTED,
                         "integer overflow (Tern's integers are 64-bit)");
      else
        total = tern_jinja_float (tern_jinja_num (total) + tern_jinja_num (x));
    }
  return total;
}

static JVal
reverse_filter (JState *st, gint32 line, JVal v)
{
  const JList *items = tern_jinja_iterate (st, line, v);
  JVal r = tern_jinja_list (st, items->n, FALSE);

  for (gsize k = 0; k < items->n; k++)
    r.list->items[k] = items->items[items->n - 1 - k];
  if (v.type != JV_STRING)
    return r;
  return tern_jinja_join (st, line, r.list, tern_jinja_cstr (""), NULL);
}

static gsize
word_count (JVal s)
{
  gsize n = 0;
  gboolean in_word = FALSE;

  for (const char *p = s.s.p, *end = s.s.p + s.s.len; p < end; p = g_utf8_next_char (p))
    {
      gunichar u = g_utf8_get_char (p);
      gboolean w = g_unichar_isalnum (u) || u == '_';
      n += w && !in_word;
      in_word = w;
    }
  return n;
}

/* ---- Filters ---- */

static const char *const filter_names[] = {
  "abs", "attr", "capitalize", "count", "d", "default", "dictsort", "e", "escape", "first", "float",
  "format", "indent", "int", "items", "join", "last", "length", "list", "lower", "map", "max", "min",
  "reject", "rejectattr", "replace", "reverse", "round", "safe", "select", "selectattr", "sort", "string",
  "sum", "title", "tojson", "trim", "unique", "upper", "wordcount", NULL,
};

static gboolean
filter_exists (const char *name)
{
  for (guint k = 0; filter_names[k]; k++)
    if (strcmp (filter_names[k], name) == 0)
      return TRUE;
  return FALSE;
}

static gboolean
is (const char *name, const char *what)
{
  return strcmp (name, what) == 0;
}

JVal
tern_jinja_filter (JState *st, gint32 line, const char *name, JVal v, const JArgs *a)
{
  if (is (name, "default") || is (name, "d"))
    {
      gboolean boolean = tern_jinja_truthy (tern_jinja_arg_or (a, 1, "boolean", tern_jinja_bool (FALSE)));
      if (v.type == JV_UNDEFINED || (boolean && !tern_jinja_truthy (v)))
        return tern_jinja_arg_or (a, 0, "default_value", tern_jinja_cstr (""));
      return v;
    }
  if (is (name, "length") || is (name, "count"))
    return length_filter (st, line, v);
  if (is (name, "tojson"))
    return tojson_filter (st, line, v, a);
  if (is (name, "items"))
    {
      if (v.type == JV_UNDEFINED)
        return tern_jinja_list (st, 0, FALSE);
      if (v.type != JV_DICT)
        tern_jinja_fail (&st->env, line, TERN_ENGINE_ERROR_FORMAT, "can only get item pairs from a mapping");
      return tern_jinja_dict_items (st, v.dict);
    }
  if (is (name, "list"))
    return tern_jinja_list_copy (st, tern_jinja_iterate (st, line, v));
  if (is (name, "first") || is (name, "last"))
    {
      const JList *items = tern_jinja_iterate (st, line, v);
      if (items->n == 0)
        return tern_jinja_undef (st, "No %s item, sequence was empty.", name);
      return items->items[name[0] == 'f' ? 0 : items->n - 1];
    }
  if (is (name, "join"))
    {
      JVal sep = tern_jinja_to_str (st, tern_jinja_arg_or (a, 0, "d", tern_jinja_cstr ("")));
      const JVal *attribute = tern_jinja_arg (a, 1, "attribute");
      char *attr = NULL;
      if (attribute && attribute->type != JV_NONE)
        {
          JVal s = tern_jinja_to_str (st, *attribute);
          attr = tern_jinja_memdup (&st->env, s.s.p, s.s.len);
        }
      return tern_jinja_join (st, line, tern_jinja_iterate (st, line, v), sep, attr);
    }
  if (is (name, "selectattr") || is (name, "rejectattr") || is (name, "select") || is (name, "reject"))
    return select_filter (st, line, v, a, name[0] == 's', g_str_has_suffix (name, "attr"));
  if (is (name, "map"))
    return map_filter (st, line, v, a);
  if (is (name, "attr"))
    {
      JVal attr = tern_jinja_expect_str (st, line, tern_jinja_arg_or (a, 0, "name", tern_jinja_none),
                                         "the attribute name");
      return tern_jinja_getattr (st, line, v, attr.s.p, attr.s.len);
    }
  if (is (name, "sort"))
    return sort_filter (st, line, v, a);
  if (is (name, "dictsort"))
    {
      if (v.type != JV_DICT)
        tern_jinja_fail (&st->env, line, TERN_ENGINE_ERROR_FORMAT, "dictsort needs a mapping");
      JVal by = tern_jinja_arg_or (a, 1, "by", tern_jinja_cstr ("key"));
      JVal pairs = tern_jinja_dict_items (st, v.dict);
      JVal attribute = tern_jinja_cstr (by.type == JV_STRING && by.s.len == 5 &&
                                        memcmp (by.s.p, "value", 5) == 0 ? "1" : "0");
      const JVal args[3] = {
        tern_jinja_arg_or (a, 2, "reverse", tern_jinja_bool (FALSE)),
        tern_jinja_arg_or (a, 0, "case_sensitive", tern_jinja_bool (FALSE)),
        attribute,
      };
      JArgs sort_args = { args, 3, NULL, NULL, 0 };
      return sort_filter (st, line, pairs, &sort_args);
    }
  if (is (name, "unique"))
    return pick_filter (st, line, v, a, 'u');
  if (is (name, "min") || is (name, "max"))
    return pick_filter (st, line, v, a, name[1] == 'i' ? '<' : '>');
  if (is (name, "sum"))
    return sum_filter (st, line, v, a);
  if (is (name, "reverse"))
    return reverse_filter (st, line, v);
  if (is (name, "int"))
    return int_filter (st, line, v, a);
  if (is (name, "float"))
    return float_filter (st, line, v, a);
  if (is (name, "round"))
    return round_filter (st, line, v, a);
  if (is (name, "abs"))
    {
      if (!tern_jinja_is_number (v))
        tern_jinja_fail (&st->env, line, TERN_ENGINE_ERROR_FORMAT, "bad operand type for abs(): '%s'",
                         tern_jinja_type_name (v));
      if (v.type == JV_FLOAT)
        return tern_jinja_float (fabs (v.f));
      if (tern_jinja_int_of (v) == G_MININT64)
        tern_jinja_fail (&st->env, line, TERN_ENGINE_ERROR_UNSUPPORTED,
                         "integer overflow (Tern's integers are 64-bit)");
      return tern_jinja_int (ABS (tern_jinja_int_of (v)));
    }
  if (is (name, "safe"))
    {
      JVal s = tern_jinja_to_str (st, v);
      s.markup = TRUE;
      return s;
    }
  if (is (name, "escape") || is (name, "e"))
    return tern_jinja_markup_escape (st, v);
  if (is (name, "format"))
    {
      JVal args = tern_jinja_list (st, a->n_pos, TRUE);
      if (a->n_pos)
        memcpy (args.list->items, a->pos, a->n_pos * sizeof (JVal));
      return tern_jinja_format_percent (st, line, tern_jinja_expect_str (st, line, v, "the format"), args);
    }

  /* The rest work on str (value). */
  if (!filter_exists (name))
    tern_jinja_fail (&st->env, line, TERN_ENGINE_ERROR_UNSUPPORTED, "no filter named '%s'", name);
  gboolean markup = v.type == JV_STRING && v.markup;
  JVal s = tern_jinja_to_str (st, v);
  if (is (name, "string"))
    {
      s.markup = markup;
      return s;
    }
  if (is (name, "trim"))
    {
      JVal chars = tern_jinja_arg_or (a, 0, "chars", tern_jinja_none);
      if (chars.type != JV_NONE)
        tern_jinja_expect_str (st, line, chars, "chars");
      return tern_jinja_strip (st, s, chars, 3);
    }
  if (is (name, "upper") || is (name, "lower"))
    return tern_jinja_change_case (st, s, name[0]);
  if (is (name, "title"))
    return tern_jinja_title (st, s);
  if (is (name, "capitalize"))
    {
      JBuf buf;
      tern_jinja_buf_init (&buf);
      tern_jinja_append_capitalized (st, &buf, s);
      return tern_jinja_buf_like (st, &buf, s, tern_jinja_none);
    }
  if (is (name, "replace"))
    {
      JVal old = tern_jinja_to_str (st, tern_jinja_arg_or (a, 0, "old", tern_jinja_none));
      JVal new = tern_jinja_to_str (st, tern_jinja_arg_or (a, 1, "new", tern_jinja_none));
      JVal count = tern_jinja_arg_or (a, 2, "count", tern_jinja_none);
      return tern_jinja_replace (st, s, old, new,
                                 count.type == JV_NONE ? -1 : tern_jinja_expect_int (st, line, count, "count"));
    }
  if (is (name, "indent"))
    return indent_filter (st, line, s, a);
  if (is (name, "wordcount"))
    return tern_jinja_int ((gint64) word_count (s));
  g_assert_not_reached ();
}
