/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Jinja expressions: tokens to expression nodes, with jinja2's operator
 * precedence, tuples, subscripts, calls, tests and filters. */
#include "parser-private.h"

static JNode *parse_unary (Parser *p, gboolean with_filter);
static JNode *parse_primary (Parser *p);
static JNode *parse_postfix (Parser *p, JNode *node);

static gboolean
tuple_ends (const Parser *p, const char *extra_end)
{
  const JTok *t = cur (p);
  return t->kind == JT_VAR_END || t->kind == JT_BLOCK_END || tok_is (t, JT_OP, ")")
         || (extra_end && tok_is (t, JT_NAME, extra_end));
}

/* Expressions separated by commas: a tuple when there is a comma. */
JNode *
tern_jinja_parse_tuple (Parser *p, gboolean with_condexpr, gboolean explicit_parens, const char *extra_end)
{
  gint32 line = cur (p)->line;
  NodeVec items = { 0 };
  gboolean is_tuple = FALSE;

  for (;;)
    {
      if (items.n)
        expect_op (p, ",");
      if (tuple_ends (p, extra_end))
        break;
      vec_push (p, &items, tern_jinja_parse_expression (p, with_condexpr));
      if (is_op (p, ","))
        is_tuple = TRUE;
      else
        break;
    }
  if (!is_tuple)
    {
      if (items.n)
        return items.items[0];
      if (!explicit_parens)
        fail_unexpected (p, "an expression");
    }
  JNode *n = new_node (p, JN_TUPLE, line);
  n->args = vec_list (&items);
  return n;
}

/* (args, name=kwargs) after the opening parenthesis was seen. */
static void
parse_call_args (Parser *p, JNode *n)
{
  NodeVec args = { 0 }, kwargs = { 0 };
  const char **kwnames = NULL;
  gsize cap_kw = 0;

  expect_op (p, "(");
  while (!is_op (p, ")"))
    {
      if (args.n + kwargs.n)
        {
          expect_op (p, ",");
          if (is_op (p, ")"))
            break;
        }
      if (is_op (p, "*") || is_op (p, "**"))
        tern_jinja_fail (p->env, cur (p)->line, TERN_ENGINE_ERROR_UNSUPPORTED, "*args and **kwargs are not supported");
      if (cur (p)->kind == JT_NAME && tok_is (peek (p, 1), JT_OP, "="))
        {
          const char *name = expect_identifier (p);
          next (p);
          if (kwargs.n == cap_kw)
            {
              cap_kw = MAX (4, cap_kw * 2);
              const char **grown = tern_jinja_alloc (p->env, cap_kw * sizeof (char *));
              if (kwargs.n)
                memcpy (grown, kwnames, kwargs.n * sizeof (char *));
              kwnames = grown;
            }
          kwnames[kwargs.n] = name;
          vec_push (p, &kwargs, tern_jinja_parse_expression (p, TRUE));
        }
      else
        {
          if (kwargs.n)
            tern_jinja_fail (p->env, cur (p)->line, TERN_ENGINE_ERROR_FORMAT,
                             "positional argument after keyword argument");
          vec_push (p, &args, tern_jinja_parse_expression (p, TRUE));
        }
    }
  next (p);
  n->args = vec_list (&args);
  n->kwargs = vec_list (&kwargs);
  n->kwnames = kwnames;
}

/* A filter (after the '|') applied to @input. */
JNode *
tern_jinja_parse_filter (Parser *p, JNode *input)
{
  gint32 line = cur (p)->line;
  JNode *n = new_node (p, JN_FILTER, line);

  n->name = expect_identifier (p);
  n->a = input;
  if (is_op (p, "("))
    parse_call_args (p, n);
  return n;
}

static JNode *
parse_test (Parser *p, JNode *input)
{
  JNode *n = new_node (p, JN_TEST, cur (p)->line);

  n->a = input;
  n->op = skip_name (p, "not");
  n->name = expect_identifier (p);
  const JTok *t = cur (p);
  if (tok_is (t, JT_OP, "("))
    parse_call_args (p, n);
  else if ((t->kind == JT_NAME || t->kind == JT_STRING || t->kind == JT_INT || t->kind == JT_FLOAT
            || tok_is (t, JT_OP, "[") || tok_is (t, JT_OP, "{"))
           && !tok_is (t, JT_NAME, "else") && !tok_is (t, JT_NAME, "or") && !tok_is (t, JT_NAME, "and"))
    {
      /* One argument without parentheses: "is divisibleby 3". */
      if (tok_is (t, JT_NAME, "is"))
        tern_jinja_fail (p->env, t->line, TERN_ENGINE_ERROR_FORMAT, "you cannot chain multiple tests with is");
      NodeVec args = { 0 };
      vec_push (p, &args, parse_postfix (p, parse_primary (p)));
      n->args = vec_list (&args);
    }
  return n;
}

static JNode *
parse_filter_expr (Parser *p, JNode *node)
{
  for (;;)
    {
      if (skip_op (p, "|"))
        node = tern_jinja_parse_filter (p, node);
      else if (skip_name (p, "is"))
        node = parse_test (p, node);
      else if (is_op (p, "("))
        {
          JNode *call = new_node (p, JN_CALL, cur (p)->line);
          call->a = node;
          parse_call_args (p, call);
          node = call;
        }
      else
        return node;
    }
}

static JNode *
parse_subscript (Parser *p, JNode *node)
{
  gint32 line = cur (p)->line;

  if (skip_op (p, "."))
    {
      const JTok *t = cur (p);
      if (t->kind == JT_INT)
        {
          JNode *n = new_node (p, JN_ITEM, line);
          n->a = node;
          n->b = new_node (p, JN_LITERAL, line);
          n->b->lit = tern_jinja_int (t->i);
          next (p);
          return n;
        }
      JNode *n = new_node (p, JN_ATTR, line);
      n->a = node;
      n->name = expect_identifier (p);
      return n;
    }

  expect_op (p, "[");
  JNode *parts[3] = { NULL, NULL, NULL };
  gboolean slice = FALSE;
  if (!is_op (p, ":"))
    parts[0] = tern_jinja_parse_expression (p, TRUE);
  if (skip_op (p, ":"))
    {
      slice = TRUE;
      if (!is_op (p, "]") && !is_op (p, ":"))
        parts[1] = tern_jinja_parse_expression (p, TRUE);
      if (skip_op (p, ":") && !is_op (p, "]"))
        parts[2] = tern_jinja_parse_expression (p, TRUE);
    }
  expect_op (p, "]");

  JNode *n = new_node (p, slice ? JN_SLICE : JN_ITEM, line);
  n->a = node;
  n->b = parts[0];
  n->c = parts[1];
  n->d = parts[2];
  return n;
}

static JNode *
parse_postfix (Parser *p, JNode *node)
{
  for (;;)
    {
      if (is_op (p, ".") || is_op (p, "["))
        node = parse_subscript (p, node);
      else if (is_op (p, "("))
        {
          JNode *call = new_node (p, JN_CALL, cur (p)->line);
          call->a = node;
          parse_call_args (p, call);
          node = call;
        }
      else
        return node;
    }
}

static JNode *
literal (Parser *p, gint32 line, JVal v)
{
  JNode *n = new_node (p, JN_LITERAL, line);
  n->lit = v;
  return n;
}

/* g_utf8_validate_len, except that U+0000 (which "\x00" makes) is valid. */
static gboolean
utf8_valid_with_nul (const char *s, gsize len)
{
  const char *end;

  while (!g_utf8_validate_len (s, len, &end))
    {
      if (*end != '\0')
        return FALSE;
      len -= (gsize) (end - s) + 1;
      s = end + 1;
    }
  return TRUE;
}

static JNode *
parse_primary (Parser *p)
{
  const JTok *t = cur (p);
  gint32 line = t->line;
  JNode *n;

  enter (p);
  switch (t->kind)
    {
    case JT_NAME:
      if (tok_is (t, JT_NAME, "true") || tok_is (t, JT_NAME, "True"))
        n = literal (p, line, tern_jinja_bool (TRUE));
      else if (tok_is (t, JT_NAME, "false") || tok_is (t, JT_NAME, "False"))
        n = literal (p, line, tern_jinja_bool (FALSE));
      else if (tok_is (t, JT_NAME, "none") || tok_is (t, JT_NAME, "None"))
        n = literal (p, line, tern_jinja_none);
      else
        {
          n = new_node (p, JN_NAME, line);
          n->name = intern (p, t->p, t->len);
        }
      next (p);
      break;
    case JT_STRING:
      {
        /* Adjacent strings join, as in Python. */
        gsize len = 0, k = p->pos;
        for (; p->toks[k].kind == JT_STRING; k++)
          len += p->toks[k].len;
        char *s = tern_jinja_alloc (p->env, len + 1);
        len = 0;
        for (; cur (p)->kind == JT_STRING; next (p))
          {
            memcpy (s + len, cur (p)->p, cur (p)->len);
            len += cur (p)->len;
          }
        if (!utf8_valid_with_nul (s, len))
          tern_jinja_fail (p->env, line, TERN_ENGINE_ERROR_FORMAT, "a string is not valid UTF-8");
        n = literal (p, line, tern_jinja_cstr (""));
        n->lit.s.p = s;
        n->lit.s.len = len;
        break;
      }
    case JT_INT:
      n = literal (p, line, tern_jinja_int (t->i));
      next (p);
      break;
    case JT_FLOAT:
      n = literal (p, line, tern_jinja_float (t->f));
      next (p);
      break;
    default:
      if (skip_op (p, "("))
        {
          n = tern_jinja_parse_tuple (p, TRUE, TRUE, NULL);
          expect_op (p, ")");
        }
      else if (skip_op (p, "["))
        {
          NodeVec items = { 0 };
          while (!is_op (p, "]"))
            {
              if (items.n)
                {
                  expect_op (p, ",");
                  if (is_op (p, "]"))
                    break;
                }
              vec_push (p, &items, tern_jinja_parse_expression (p, TRUE));
            }
          next (p);
          n = new_node (p, JN_LIST, line);
          n->args = vec_list (&items);
        }
      else if (skip_op (p, "{"))
        {
          NodeVec items = { 0 };
          while (!is_op (p, "}"))
            {
              if (items.n)
                {
                  expect_op (p, ",");
                  if (is_op (p, "}"))
                    break;
                }
              vec_push (p, &items, tern_jinja_parse_expression (p, TRUE));
              expect_op (p, ":");
              vec_push (p, &items, tern_jinja_parse_expression (p, TRUE));
            }
          next (p);
          n = new_node (p, JN_DICT, line);
          n->args = vec_list (&items);
        }
      else
        fail_unexpected (p, NULL);
    }
  leave (p);
  return n;
}

static JNode *
parse_unary (Parser *p, gboolean with_filter)
{
  gint32 line = cur (p)->line;
  JNode *n;

  enter (p);
  if (skip_op (p, "-") || skip_op (p, "+"))
    {
      n = new_node (p, JN_UNARY, line);
      n->op = tok_is (&p->toks[p->pos - 1], JT_OP, "-") ? JOP_NEG : JOP_POS;
      n->a = parse_unary (p, FALSE);
    }
  else
    n = parse_primary (p);
  n = parse_postfix (p, n);
  if (with_filter)
    n = parse_filter_expr (p, n);
  leave (p);
  return n;
}

static JNode *
binary (Parser *p, gint32 line, JOp op, JNode *a, JNode *b)
{
  JNode *n = new_node (p, JN_BINARY, line);
  n->op = op;
  n->a = a;
  n->b = b;
  return n;
}

static JNode *
parse_pow (Parser *p)
{
  JNode *n = parse_unary (p, TRUE);
  while (is_op (p, "**"))
    {
      gint32 line = cur (p)->line;
      next (p);
      n = binary (p, line, JOP_POW, n, parse_unary (p, TRUE));
    }
  return n;
}

static JNode *
parse_math2 (Parser *p)
{
  static const struct { const char *op; JOp code; } ops[] = {
    { "*", JOP_MUL }, { "/", JOP_DIV }, { "//", JOP_FLOORDIV }, { "%", JOP_MOD },
  };
  JNode *n = parse_pow (p);
  for (;;)
    {
      guint k;
      for (k = 0; k < G_N_ELEMENTS (ops) && !is_op (p, ops[k].op); k++)
        ;
      if (k == G_N_ELEMENTS (ops))
        return n;
      gint32 line = cur (p)->line;
      next (p);
      n = binary (p, line, ops[k].code, n, parse_pow (p));
    }
}

static JNode *
parse_concat (Parser *p)
{
  JNode *n = parse_math2 (p);
  while (is_op (p, "~"))
    {
      gint32 line = cur (p)->line;
      next (p);
      n = binary (p, line, JOP_CONCAT, n, parse_math2 (p));
    }
  return n;
}

static JNode *
parse_math1 (Parser *p)
{
  JNode *n = parse_concat (p);
  for (;;)
    {
      gint32 line = cur (p)->line;
      if (skip_op (p, "+"))
        n = binary (p, line, JOP_ADD, n, parse_concat (p));
      else if (skip_op (p, "-"))
        n = binary (p, line, JOP_SUB, n, parse_concat (p));
      else
        return n;
    }
}

static JNode *
parse_compare (Parser *p)
{
  static const struct { const char *op; JOp code; } ops[] = {
    { "==", JOP_EQ }, { "!=", JOP_NE }, { "<", JOP_LT }, { "<=", JOP_LE }, { ">", JOP_GT }, { ">=", JOP_GE },
  };
  JNode *left = parse_math1 (p), *result = NULL;

  /* a < b < c is (a < b) and (b < c). */
  for (;;)
    {
      gint32 line = cur (p)->line;
      JOp op;
      guint k;

      for (k = 0; k < G_N_ELEMENTS (ops) && !is_op (p, ops[k].op); k++)
        ;
      if (k < G_N_ELEMENTS (ops))
        {
          op = ops[k].code;
          next (p);
        }
      else if (skip_name (p, "in"))
        op = JOP_IN;
      else if (is_name (p, "not") && tok_is (peek (p, 1), JT_NAME, "in"))
        {
          next (p);
          next (p);
          op = JOP_NOT_IN;
        }
      else
        return result ? result : left;

      JNode *right = parse_math1 (p);
      JNode *cmp = new_node (p, JN_COMPARE, line);
      cmp->op = op;
      cmp->a = left;
      cmp->b = right;
      if (result)
        {
          JNode *both = new_node (p, JN_AND, line);
          both->a = result;
          both->b = cmp;
          result = both;
        }
      else
        result = cmp;
      left = right;
    }
}

static JNode *
parse_not (Parser *p)
{
  if (is_name (p, "not"))
    {
      JNode *n = new_node (p, JN_UNARY, cur (p)->line);
      next (p);
      enter (p);
      n->op = JOP_NOT;
      n->a = parse_not (p);
      leave (p);
      return n;
    }
  return parse_compare (p);
}

static JNode *
parse_and (Parser *p)
{
  JNode *n = parse_not (p);
  while (is_name (p, "and"))
    {
      JNode *both = new_node (p, JN_AND, cur (p)->line);
      next (p);
      both->a = n;
      both->b = parse_not (p);
      n = both;
    }
  return n;
}

static JNode *
parse_or (Parser *p)
{
  JNode *n = parse_and (p);
  while (is_name (p, "or"))
    {
      JNode *either = new_node (p, JN_OR, cur (p)->line);
      next (p);
      either->a = n;
      either->b = parse_and (p);
      n = either;
    }
  return n;
}

JNode *
tern_jinja_parse_expression (Parser *p, gboolean with_condexpr)
{
  JNode *n;

  enter (p);
  n = parse_or (p);
  while (with_condexpr && is_name (p, "if"))
    {
      JNode *cond = new_node (p, JN_COND, cur (p)->line);
      next (p);
      cond->b = n;
      cond->a = parse_or (p);
      if (skip_name (p, "else"))
        cond->c = tern_jinja_parse_expression (p, TRUE);
      n = cond;
    }
  leave (p);
  return n;
}
