/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Jinja parser: tokens to a syntax tree, following jinja2's parser.py
 * (its operator precedence, tuples, tests and filters), for the tags
 * chat templates use. */
#include "jinja-private.h"

#include <string.h>

typedef struct {
  JEnv *env;
  JTemplate *tmpl;
  JTok *toks;
  gsize n_toks, pos;
  guint nesting;    /* open blocks and expression levels */
  guint loop_depth; /* for loops around the current statement, in this macro */
} Parser;

/* A growing list of nodes in the arena. */
typedef struct {
  JNode **items;
  gsize n, cap;
} NodeVec;

static void
vec_push (Parser *p, NodeVec *v, JNode *node)
{
  if (v->n == v->cap)
    {
      gsize cap = MAX (4, v->cap * 2);
      JNode **items = j_alloc (p->env, cap * sizeof (JNode *));
      if (v->n)
        memcpy (items, v->items, v->n * sizeof (JNode *));
      v->items = items;
      v->cap = cap;
    }
  v->items[v->n++] = node;
}

static JNodeList
vec_list (const NodeVec *v)
{
  return (JNodeList) { v->items, v->n };
}

static const JTok *
cur (const Parser *p)
{
  return &p->toks[p->pos];
}

static const JTok *
peek (const Parser *p, gsize ahead)
{
  return &p->toks[MIN (p->pos + ahead, p->n_toks - 1)];
}

static void
next (Parser *p)
{
  if (p->pos + 1 < p->n_toks)
    p->pos++;
}

static gboolean
tok_is (const JTok *t, JTokKind kind, const char *s)
{
  return t->kind == kind && t->len == strlen (s) && memcmp (t->p, s, t->len) == 0;
}

static gboolean
is_op (const Parser *p, const char *op)
{
  return tok_is (cur (p), JT_OP, op);
}

static gboolean
is_name (const Parser *p, const char *name)
{
  return tok_is (cur (p), JT_NAME, name);
}

static gboolean
skip_op (Parser *p, const char *op)
{
  if (!is_op (p, op))
    return FALSE;
  next (p);
  return TRUE;
}

static gboolean
skip_name (Parser *p, const char *name)
{
  if (!is_name (p, name))
    return FALSE;
  next (p);
  return TRUE;
}

/* How a token reads in an error message. */
static const char *
describe (Parser *p, const JTok *t)
{
  switch (t->kind)
    {
    case JT_EOF: return "end of template";
    case JT_TEXT: return "template data";
    case JT_VAR_BEGIN: return "'{{'";
    case JT_VAR_END: return "end of print statement";
    case JT_BLOCK_BEGIN: return "'{%'";
    case JT_BLOCK_END: return "end of statement block";
    case JT_STRING: return "string";
    case JT_INT:
    case JT_FLOAT: return "number";
    default:
      {
        char *s = j_alloc (p->env, MIN (t->len, 40) + 3);
        s[0] = '\'';
        memcpy (s + 1, t->p, MIN (t->len, 40));
        s[MIN (t->len, 40) + 1] = '\'';
        s[MIN (t->len, 40) + 2] = '\0';
        return s;
      }
    }
}

G_GNUC_NORETURN static void
fail_unexpected (Parser *p, const char *expected)
{
  const JTok *t = cur (p);
  if (expected)
    j_fail (p->env, t->line, TERN_ENGINE_ERROR_FORMAT, "expected %s, got %s", expected, describe (p, t));
  j_fail (p->env, t->line, TERN_ENGINE_ERROR_FORMAT, "unexpected %s", describe (p, t));
}

static void
expect_op (Parser *p, const char *op)
{
  if (!skip_op (p, op))
    {
      char what[8];
      g_snprintf (what, sizeof what, "'%s'", op);
      fail_unexpected (p, what);
    }
}

static void
expect_kind (Parser *p, JTokKind kind, const char *what)
{
  if (cur (p)->kind != kind)
    fail_unexpected (p, what);
  next (p);
}

static void
expect_block_end (Parser *p)
{
  expect_kind (p, JT_BLOCK_END, "end of statement block");
}

static const char *
intern (Parser *p, const char *s, gsize len)
{
  char *key = j_memdup (p->env, s, len);
  const char *found = g_hash_table_lookup (p->tmpl->names, key);

  if (found)
    return found;
  g_hash_table_add (p->tmpl->names, key);
  return key;
}

static const char *
expect_identifier (Parser *p)
{
  const JTok *t = cur (p);
  if (t->kind != JT_NAME)
    fail_unexpected (p, "a name");
  next (p);
  return intern (p, t->p, t->len);
}

static JNode *
new_node (Parser *p, JNodeKind kind, gint32 line)
{
  JNode *n = j_alloc0 (p->env, sizeof (JNode));
  n->kind = kind;
  n->line = line;
  return n;
}

static void
enter (Parser *p)
{
  if (++p->nesting > TERN_CHAT_TEMPLATE_MAX_NESTING)
    j_fail (p->env, cur (p)->line, TERN_ENGINE_ERROR_UNSUPPORTED,
            "the template nests more than %d levels deep", TERN_CHAT_TEMPLATE_MAX_NESTING);
}

static void
leave (Parser *p)
{
  p->nesting--;
}

/* ---- Expressions ---- */

static JNode *parse_expression (Parser *p, gboolean with_condexpr);
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
static JNode *
parse_tuple (Parser *p, gboolean with_condexpr, gboolean explicit_parens, const char *extra_end)
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
      vec_push (p, &items, parse_expression (p, with_condexpr));
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
        j_fail (p->env, cur (p)->line, TERN_ENGINE_ERROR_UNSUPPORTED, "*args and **kwargs are not supported");
      if (cur (p)->kind == JT_NAME && tok_is (peek (p, 1), JT_OP, "="))
        {
          const char *name = expect_identifier (p);
          next (p);
          if (kwargs.n == cap_kw)
            {
              cap_kw = MAX (4, cap_kw * 2);
              const char **grown = j_alloc (p->env, cap_kw * sizeof (char *));
              if (kwargs.n)
                memcpy (grown, kwnames, kwargs.n * sizeof (char *));
              kwnames = grown;
            }
          kwnames[kwargs.n] = name;
          vec_push (p, &kwargs, parse_expression (p, TRUE));
        }
      else
        {
          if (kwargs.n)
            j_fail (p->env, cur (p)->line, TERN_ENGINE_ERROR_FORMAT, "positional argument after keyword argument");
          vec_push (p, &args, parse_expression (p, TRUE));
        }
    }
  next (p);
  n->args = vec_list (&args);
  n->kwargs = vec_list (&kwargs);
  n->kwnames = kwnames;
}

/* A filter (after the '|') applied to @input. */
static JNode *
parse_filter (Parser *p, JNode *input)
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
        j_fail (p->env, t->line, TERN_ENGINE_ERROR_FORMAT, "you cannot chain multiple tests with is");
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
        node = parse_filter (p, node);
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
          n->b->lit = j_int (t->i);
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
    parts[0] = parse_expression (p, TRUE);
  if (skip_op (p, ":"))
    {
      slice = TRUE;
      if (!is_op (p, "]") && !is_op (p, ":"))
        parts[1] = parse_expression (p, TRUE);
      if (skip_op (p, ":") && !is_op (p, "]"))
        parts[2] = parse_expression (p, TRUE);
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
        n = literal (p, line, j_bool (TRUE));
      else if (tok_is (t, JT_NAME, "false") || tok_is (t, JT_NAME, "False"))
        n = literal (p, line, j_bool (FALSE));
      else if (tok_is (t, JT_NAME, "none") || tok_is (t, JT_NAME, "None"))
        n = literal (p, line, j_none);
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
        char *s = j_alloc (p->env, len + 1);
        len = 0;
        for (; cur (p)->kind == JT_STRING; next (p))
          {
            memcpy (s + len, cur (p)->p, cur (p)->len);
            len += cur (p)->len;
          }
        if (!utf8_valid_with_nul (s, len))
          j_fail (p->env, line, TERN_ENGINE_ERROR_FORMAT, "a string is not valid UTF-8");
        n = literal (p, line, j_cstr (""));
        n->lit.s.p = s;
        n->lit.s.len = len;
        break;
      }
    case JT_INT:
      n = literal (p, line, j_int (t->i));
      next (p);
      break;
    case JT_FLOAT:
      n = literal (p, line, j_float (t->f));
      next (p);
      break;
    default:
      if (skip_op (p, "("))
        {
          n = parse_tuple (p, TRUE, TRUE, NULL);
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
              vec_push (p, &items, parse_expression (p, TRUE));
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
              vec_push (p, &items, parse_expression (p, TRUE));
              expect_op (p, ":");
              vec_push (p, &items, parse_expression (p, TRUE));
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

static JNode *
parse_expression (Parser *p, gboolean with_condexpr)
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
        cond->c = parse_expression (p, TRUE);
      n = cond;
    }
  leave (p);
  return n;
}

/* ---- Statements ---- */

static JNodeList parse_body (Parser *p, const char *const *ends);

/* Names separated by commas, optionally in parentheses: for and set targets. */
static void
parse_names (Parser *p, JNode *n)
{
  gboolean parens = skip_op (p, "(");
  gsize cap = 4;
  const char **names = j_alloc (p->env, cap * sizeof (char *));

  n->n_names = 0;
  do
    {
      if (n->n_names == cap)
        {
          const char **grown = j_alloc (p->env, 2 * cap * sizeof (char *));
          memcpy (grown, names, cap * sizeof (char *));
          names = grown;
          cap *= 2;
        }
      names[n->n_names++] = expect_identifier (p);
    }
  while (skip_op (p, ",") && cur (p)->kind == JT_NAME);
  if (parens)
    expect_op (p, ")");
  n->names = names;
}

/* "name" or "name=default" parameters up to ')' (macros, call blocks). */
static void
parse_params (Parser *p, JNode *n)
{
  NodeVec defaults = { 0 };
  gsize cap = 4;
  const char **names = j_alloc (p->env, cap * sizeof (char *));

  expect_op (p, "(");
  while (!is_op (p, ")"))
    {
      if (n->n_names)
        expect_op (p, ",");
      if (n->n_names == cap)
        {
          const char **grown = j_alloc (p->env, 2 * cap * sizeof (char *));
          memcpy (grown, names, cap * sizeof (char *));
          names = grown;
          cap *= 2;
        }
      names[n->n_names++] = expect_identifier (p);
      vec_push (p, &defaults, skip_op (p, "=") ? parse_expression (p, TRUE) : NULL);
    }
  next (p);
  n->names = names;
  n->args = vec_list (&defaults);
}

/* A chain of filters on the block's content: "trim|upper". */
static JNode *
parse_filter_chain (Parser *p)
{
  JNode *n = parse_filter (p, NULL);
  while (skip_op (p, "|"))
    n = parse_filter (p, n);
  return n;
}

static JNode *
parse_if (Parser *p, gint32 line)
{
  static const char *const ends[] = { "elif", "else", "endif", NULL };
  JNode *n = new_node (p, JN_IF, line);

  n->a = parse_tuple (p, FALSE, FALSE, NULL);
  expect_block_end (p);
  n->body = parse_body (p, ends);
  if (skip_name (p, "elif"))
    {
      NodeVec v = { 0 };
      vec_push (p, &v, parse_if (p, p->toks[p->pos - 1].line));
      n->else_body = vec_list (&v);
      return n;
    }
  if (skip_name (p, "else"))
    {
      static const char *const endif[] = { "endif", NULL };
      expect_block_end (p);
      n->else_body = parse_body (p, endif);
    }
  expect_identifier (p);
  expect_block_end (p);
  return n;
}

static JNode *
parse_for (Parser *p, gint32 line)
{
  static const char *const ends[] = { "else", "endfor", NULL };
  static const char *const endfor[] = { "endfor", NULL };
  JNode *n = new_node (p, JN_FOR, line);

  parse_names (p, n);
  if (!skip_name (p, "in"))
    fail_unexpected (p, "'in'");
  n->a = parse_tuple (p, FALSE, FALSE, "recursive");
  if (skip_name (p, "if"))
    n->b = parse_expression (p, TRUE);
  if (is_name (p, "recursive"))
    j_fail (p->env, cur (p)->line, TERN_ENGINE_ERROR_UNSUPPORTED, "recursive loops are not supported");
  expect_block_end (p);
  p->loop_depth++;
  n->body = parse_body (p, ends);
  p->loop_depth--;
  if (skip_name (p, "else"))
    {
      expect_block_end (p);
      n->else_body = parse_body (p, endfor);
    }
  next (p);
  expect_block_end (p);
  return n;
}

static JNode *
parse_set (Parser *p, gint32 line)
{
  static const char *const endset[] = { "endset", NULL };
  JNode *n;

  if (cur (p)->kind == JT_NAME && tok_is (peek (p, 1), JT_OP, "."))
    {
      /* ns.attr = value */
      n = new_node (p, JN_SET, line);
      n->a = new_node (p, JN_NAME, line);
      n->a->name = expect_identifier (p);
      next (p);
      n->name = expect_identifier (p);
      expect_op (p, "=");
      n->b = parse_tuple (p, TRUE, FALSE, NULL);
      expect_block_end (p);
      return n;
    }

  n = new_node (p, JN_SET, line);
  parse_names (p, n);
  if (skip_op (p, "="))
    {
      n->b = parse_tuple (p, TRUE, FALSE, NULL);
      expect_block_end (p);
      return n;
    }
  if (n->n_names != 1)
    fail_unexpected (p, "'='");
  n->kind = JN_SET_BLOCK;
  n->name = n->names[0];
  if (skip_op (p, "|"))
    n->b = parse_filter_chain (p);
  expect_block_end (p);
  n->body = parse_body (p, endset);
  next (p);
  expect_block_end (p);
  return n;
}

static JNode *
parse_macro (Parser *p, gint32 line)
{
  static const char *const endmacro[] = { "endmacro", NULL };
  JNode *n = new_node (p, JN_MACRO, line);
  guint loop_depth = p->loop_depth;

  n->name = expect_identifier (p);
  parse_params (p, n);
  expect_block_end (p);
  /* break and continue do not reach through a macro. */
  p->loop_depth = 0;
  n->body = parse_body (p, endmacro);
  p->loop_depth = loop_depth;
  next (p);
  if (cur (p)->kind == JT_NAME)
    next (p); /* {% endmacro name %} */
  expect_block_end (p);
  return n;
}

static JNode *
parse_call_block (Parser *p, gint32 line)
{
  static const char *const endcall[] = { "endcall", NULL };
  JNode *n = new_node (p, JN_CALL_BLOCK, line);
  guint loop_depth = p->loop_depth;

  if (is_op (p, "("))
    parse_params (p, n);
  n->a = parse_expression (p, TRUE);
  if (n->a->kind != JN_CALL)
    j_fail (p->env, line, TERN_ENGINE_ERROR_FORMAT, "expected a call");
  expect_block_end (p);
  p->loop_depth = 0;
  n->body = parse_body (p, endcall);
  p->loop_depth = loop_depth;
  next (p);
  expect_block_end (p);
  return n;
}

static JNode *
parse_statement (Parser *p)
{
  static const char *const unsupported[] = {
    "include", "extends", "block", "import", "from", "do", "with", "autoescape", "trans", NULL,
  };
  static const char *const endfilter[] = { "endfilter", NULL };
  static const char *const endgeneration[] = { "endgeneration", NULL };
  const JTok *t = cur (p);
  gint32 line = t->line;
  JNode *n;

  if (t->kind != JT_NAME)
    fail_unexpected (p, "a tag name");
  next (p);
  if (tok_is (t, JT_NAME, "if"))
    return parse_if (p, line);
  if (tok_is (t, JT_NAME, "for"))
    return parse_for (p, line);
  if (tok_is (t, JT_NAME, "set"))
    return parse_set (p, line);
  if (tok_is (t, JT_NAME, "macro"))
    return parse_macro (p, line);
  if (tok_is (t, JT_NAME, "call"))
    return parse_call_block (p, line);
  if (tok_is (t, JT_NAME, "filter"))
    {
      n = new_node (p, JN_FILTER_BLOCK, line);
      n->b = parse_filter_chain (p);
      expect_block_end (p);
      n->body = parse_body (p, endfilter);
      next (p);
      expect_block_end (p);
      return n;
    }
  if (tok_is (t, JT_NAME, "generation"))
    {
      n = new_node (p, JN_GENERATION, line);
      expect_block_end (p);
      n->body = parse_body (p, endgeneration);
      next (p);
      expect_block_end (p);
      return n;
    }
  if (tok_is (t, JT_NAME, "break") || tok_is (t, JT_NAME, "continue"))
    {
      if (p->loop_depth == 0)
        j_fail (p->env, line, TERN_ENGINE_ERROR_FORMAT, "'%s' outside of a loop",
                tok_is (t, JT_NAME, "break") ? "break" : "continue");
      n = new_node (p, tok_is (t, JT_NAME, "break") ? JN_BREAK : JN_CONTINUE, line);
      expect_block_end (p);
      return n;
    }
  for (guint k = 0; unsupported[k]; k++)
    if (tok_is (t, JT_NAME, unsupported[k]))
      j_fail (p->env, line, TERN_ENGINE_ERROR_UNSUPPORTED, "the '%s' tag is not supported", unsupported[k]);
  p->pos--;
  j_fail (p->env, line, TERN_ENGINE_ERROR_FORMAT, "unknown tag %s", describe (p, t));
}

/* Statements up to a tag named in @ends (left as the current token, after
 * its '{%'), or to the end of the template when @ends is NULL. */
static JNodeList
parse_body (Parser *p, const char *const *ends)
{
  NodeVec body = { 0 };

  enter (p);
  for (;;)
    {
      const JTok *t = cur (p);
      if (t->kind == JT_EOF)
        {
          if (ends)
            j_fail (p->env, t->line, TERN_ENGINE_ERROR_FORMAT, "unexpected end of template, expected '%s'",
                    ends[g_strv_length ((char **) ends) - 1]);
          break;
        }
      if (t->kind == JT_TEXT)
        {
          JNode *n = new_node (p, JN_TEXT, t->line);
          n->text = t->p;
          n->text_len = t->len;
          vec_push (p, &body, n);
          next (p);
        }
      else if (t->kind == JT_VAR_BEGIN)
        {
          JNode *n = new_node (p, JN_OUTPUT, t->line);
          next (p);
          n->a = parse_tuple (p, TRUE, FALSE, NULL);
          expect_kind (p, JT_VAR_END, "end of print statement");
          vec_push (p, &body, n);
        }
      else if (t->kind == JT_BLOCK_BEGIN)
        {
          next (p);
          if (ends && cur (p)->kind == JT_NAME)
            for (guint k = 0; ends[k]; k++)
              if (tok_is (cur (p), JT_NAME, ends[k]))
                {
                  leave (p);
                  return vec_list (&body);
                }
          vec_push (p, &body, parse_statement (p));
        }
      else
        fail_unexpected (p, NULL);
    }
  leave (p);
  return vec_list (&body);
}

static gboolean
compile (JTemplate *tmpl, JEnv *env, const char *source, gsize len)
{
  Parser p = { .env = env, .tmpl = tmpl };

  if (setjmp (env->jmp))
    return FALSE;
  if (!g_utf8_validate_len (source, len, NULL))
    j_fail (env, 0, TERN_ENGINE_ERROR_FORMAT, "the template is not valid UTF-8");
  p.toks = j_lex (env, source, len, &p.n_toks);
  tmpl->body = parse_body (&p, NULL);
  return TRUE;
}

JTemplate *
j_template_compile (const char *source, gsize len, GError **error)
{
  JTemplate *tmpl = g_new0 (JTemplate, 1);
  JEnv env = { .arena = &tmpl->arena };

  j_arena_init (&tmpl->arena, TERN_CHAT_TEMPLATE_MAX_MEMORY);
  tmpl->names = g_hash_table_new (g_str_hash, g_str_equal);
  if (!compile (tmpl, &env, source, len))
    {
      g_propagate_error (error, env.error);
      j_template_free (tmpl);
      return NULL;
    }
  return tmpl;
}

void
j_template_free (JTemplate *tmpl)
{
  if (tmpl == NULL)
    return;
  g_hash_table_unref (tmpl->names);
  j_arena_clear (&tmpl->arena);
  g_free (tmpl);
}

const char *
j_template_intern (const JTemplate *tmpl, const char *name)
{
  return g_hash_table_lookup (tmpl->names, name);
}
