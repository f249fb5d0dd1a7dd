/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/* The Jinja parser's state and token helpers, shared by parser.c
 * (statements, the entry point) and parser-expr.c (expressions). */

#include "jinja-private.h"

#include <string.h>

G_BEGIN_DECLS

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

static inline void
vec_push (Parser *p, NodeVec *v, JNode *node)
{
  if (v->n == v->cap)
    {
      gsize cap = MAX (4, v->cap * 2);
      JNode **items = tern_jinja_alloc (p->env, cap * sizeof (JNode *));
      if (v->n)
        memcpy (items, v->items, v->n * sizeof (JNode *));
      v->items = items;
      v->cap = cap;
    }
  v->items[v->n++] = node;
}

static inline JNodeList
vec_list (const NodeVec *v)
{
  return (JNodeList) { v->items, v->n };
}

static inline const JTok *
cur (const Parser *p)
{
  return &p->toks[p->pos];
}

static inline const JTok *
peek (const Parser *p, gsize ahead)
{
  return &p->toks[MIN (p->pos + ahead, p->n_toks - 1)];
}

static inline void
next (Parser *p)
{
  if (p->pos + 1 < p->n_toks)
    p->pos++;
}

static inline gboolean
tok_is (const JTok *t, JTokKind kind, const char *s)
{
  return t->kind == kind && t->len == strlen (s) && memcmp (t->p, s, t->len) == 0;
}

static inline gboolean
is_op (const Parser *p, const char *op)
{
  return tok_is (cur (p), JT_OP, op);
}

static inline gboolean
is_name (const Parser *p, const char *name)
{
  return tok_is (cur (p), JT_NAME, name);
}

static inline gboolean
skip_op (Parser *p, const char *op)
{
  if (!is_op (p, op))
    return FALSE;
  next (p);
  return TRUE;
}

static inline gboolean
skip_name (Parser *p, const char *name)
{
  if (!is_name (p, name))
    return FALSE;
  next (p);
  return TRUE;
}

/* How a token reads in an error message. */
static inline const char *
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
        char *s = tern_jinja_alloc (p->env, MIN (t->len, 40) + 3);
        s[0] = '\'';
        memcpy (s + 1, t->p, MIN (t->len, 40));
        s[MIN (t->len, 40) + 1] = '\'';
        s[MIN (t->len, 40) + 2] = '\0';
        return s;
      }
    }
}

G_GNUC_NORETURN static inline void
fail_unexpected (Parser *p, const char *expected)
{
  const JTok *t = cur (p);
  if (expected)
    tern_jinja_fail (p->env, t->line, TERN_ENGINE_ERROR_FORMAT, "expected %s, got %s", expected, describe (p, t));
  tern_jinja_fail (p->env, t->line, TERN_ENGINE_ERROR_FORMAT, "unexpected %s", describe (p, t));
}

static inline void
expect_op (Parser *p, const char *op)
{
  if (!skip_op (p, op))
    {
      char what[8];
      g_snprintf (what, sizeof what, "'%s'", op);
      fail_unexpected (p, what);
    }
}

static inline void
expect_kind (Parser *p, JTokKind kind, const char *what)
{
  if (cur (p)->kind != kind)
    fail_unexpected (p, what);
  next (p);
}

static inline void
expect_block_end (Parser *p)
{
  expect_kind (p, JT_BLOCK_END, "end of statement block");
}

static inline const char *
intern (Parser *p, const char *s, gsize len)
{
  char *key = tern_jinja_memdup (p->env, s, len);
  const char *found = g_hash_table_lookup (p->tmpl->names, key);

  if (found)
    return found;
  g_hash_table_add (p->tmpl->names, key);
  return key;
}

static inline const char *
expect_identifier (Parser *p)
{
  const JTok *t = cur (p);
  if (t->kind != JT_NAME)
    fail_unexpected (p, "a name");
  next (p);
  return intern (p, t->p, t->len);
}

static inline JNode *
new_node (Parser *p, JNodeKind kind, gint32 line)
{
  JNode *n = tern_jinja_alloc0 (p->env, sizeof (JNode));
  n->kind = kind;
  n->line = line;
  return n;
}

static inline void
enter (Parser *p)
{
  if (++p->nesting > TERN_CHAT_TEMPLATE_MAX_NESTING)
    tern_jinja_fail (p->env, cur (p)->line, TERN_ENGINE_ERROR_UNSUPPORTED,
                     "the template nests more than %d levels deep", TERN_CHAT_TEMPLATE_MAX_NESTING);
}

static inline void
leave (Parser *p)
{
  p->nesting--;
}

/* Expressions (parser-expr.c), as jinja2's parser.py parses them. */
JNode *tern_jinja_parse_expression (Parser *p, gboolean with_condexpr);
/* Expressions separated by commas: a tuple when there is a comma, else the
 * one expression; @extra_end names a keyword that also ends it. */
JNode *tern_jinja_parse_tuple (Parser *p, gboolean with_condexpr, gboolean explicit_parens,
                               const char *extra_end);
/* The filter after a '|' (the parser on its name), applied to @input. */
JNode *tern_jinja_parse_filter (Parser *p, JNode *input);

G_END_DECLS
