/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Jinja parser: tokens to a syntax tree, following jinja2's parser.py
 * (its operator precedence, tuples, tests and filters), for the tags
 * chat templates use. */
#include "parser-private.h"

/* ---- Statements ---- */

static JNodeList parse_body (Parser *p, const char *const *ends);

/* Names separated by commas, optionally in parentheses: for and set targets. */
static void
parse_names (Parser *p, JNode *n)
{
  gboolean parens = skip_op (p, "(");
  gsize cap = 4;
  const char **names = tern_jinja_alloc (p->env, cap * sizeof (char *));

  n->n_names = 0;
  do
    {
      if (n->n_names == cap)
        {
          const char **grown = tern_jinja_alloc (p->env, 2 * cap * sizeof (char *));
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
  const char **names = tern_jinja_alloc (p->env, cap * sizeof (char *));

  expect_op (p, "(");
  while (!is_op (p, ")"))
    {
      if (n->n_names)
        expect_op (p, ",");
      if (n->n_names == cap)
        {
          const char **grown = tern_jinja_alloc (p->env, 2 * cap * sizeof (char *));
          memcpy (grown, names, cap * sizeof (char *));
          names = grown;
          cap *= 2;
        }
      names[n->n_names++] = expect_identifier (p);
      vec_push (p, &defaults, skip_op (p, "=") ? tern_jinja_parse_expression (p, TRUE) : NULL);
    }
  next (p);
  n->names = names;
  n->args = vec_list (&defaults);
}

/* A chain of filters on the block's content: "trim|upper". */
static JNode *
parse_filter_chain (Parser *p)
{
  JNode *n = tern_jinja_parse_filter (p, NULL);
  while (skip_op (p, "|"))
    n = tern_jinja_parse_filter (p, n);
  return n;
}

static JNode *
parse_if (Parser *p, gint32 line)
{
  static const char *const ends[] = { "elif", "else", "endif", NULL };
  JNode *n = new_node (p, JN_IF, line);

  n->a = tern_jinja_parse_tuple (p, FALSE, FALSE, NULL);
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
  n->a = tern_jinja_parse_tuple (p, FALSE, FALSE, "recursive");
  if (skip_name (p, "if"))
    n->b = tern_jinja_parse_expression (p, TRUE);
  if (is_name (p, "recursive"))
    tern_jinja_fail (p->env, cur (p)->line, TERN_ENGINE_ERROR_UNSUPPORTED, "recursive loops are not supported");
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
      n->b = tern_jinja_parse_tuple (p, TRUE, FALSE, NULL);
      expect_block_end (p);
      return n;
    }

  n = new_node (p, JN_SET, line);
  parse_names (p, n);
  if (skip_op (p, "="))
    {
      n->b = tern_jinja_parse_tuple (p, TRUE, FALSE, NULL);
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
  n->a = tern_jinja_parse_expression (p, TRUE);
  if (n->a->kind != JN_CALL)
    tern_jinja_fail (p->env, line, TERN_ENGINE_ERROR_FORMAT, "expected a call");
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
        tern_jinja_fail (p->env, line, TERN_ENGINE_ERROR_FORMAT, "'%s' outside of a loop",
                         tok_is (t, JT_NAME, "break") ? "break" : "continue");
      n = new_node (p, tok_is (t, JT_NAME, "break") ? JN_BREAK : JN_CONTINUE, line);
      expect_block_end (p);
      return n;
    }
  for (guint k = 0; unsupported[k]; k++)
    if (tok_is (t, JT_NAME, unsupported[k]))
      tern_jinja_fail (p->env, line, TERN_ENGINE_ERROR_UNSUPPORTED, "the '%s' tag is not supported", unsupported[k]);
  p->pos--;
  tern_jinja_fail (p->env, line, TERN_ENGINE_ERROR_FORMAT, "unknown tag %s", describe (p, t));
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
            tern_jinja_fail (p->env, t->line, TERN_ENGINE_ERROR_FORMAT, "unexpected end of template, expected '%s'",
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
          n->a = tern_jinja_parse_tuple (p, TRUE, FALSE, NULL);
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
    tern_jinja_fail (env, 0, TERN_ENGINE_ERROR_FORMAT, "the template is not valid UTF-8");
  p.toks = tern_jinja_lex (env, source, len, &p.n_toks);
  tmpl->body = parse_body (&p, NULL);
  return TRUE;
}

JTemplate *
tern_jinja_template_compile (const char *source, gsize len, GError **error)
{
  JTemplate *tmpl = g_new0 (JTemplate, 1);
  JEnv env = { .arena = &tmpl->arena };

  tern_jinja_arena_init (&tmpl->arena, TERN_CHAT_TEMPLATE_MAX_MEMORY);
  tmpl->names = g_hash_table_new (g_str_hash, g_str_equal);
  if (!compile (tmpl, &env, source, len))
    {
      g_propagate_error (error, env.error);
      tern_jinja_template_free (tmpl);
      return NULL;
    }
  return tmpl;
}

void
tern_jinja_template_free (JTemplate *tmpl)
{
  if (tmpl == NULL)
    return;
  g_hash_table_unref (tmpl->names);
  tern_jinja_arena_clear (&tmpl->arena);
  g_free (tmpl);
}

const char *
tern_jinja_template_intern (const JTemplate *tmpl, const char *name)
{
  return g_hash_table_lookup (tmpl->names, name);
}
