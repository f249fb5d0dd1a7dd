/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/* The Jinja interpreter behind chat-template.c, in these parts:
 *   lexer.c         source -> tokens, with jinja2's whitespace control
 *   parser.c        tokens -> syntax tree: statements (parser-private.h)
 *   parser-expr.c   the expressions of the syntax tree
 *   value.c         values, arenas, Python's truth, == and <
 *   value-format.c  Python's str()/repr()/json.dumps() of values
 *   eval.c          statements and expressions
 *   builtins.c      methods, attributes, items and globals
 *   filters.c       filters and tests
 *
 * Memory: a compiled template lives in one arena, each render in another,
 * freed whole at the end. Values are immutable (the sandbox forbids
 * list.append and the like) except namespaces, so they share freely.
 * Errors unwind with longjmp to the entry point (compile or render), which
 * frees the arena: nothing between holds another resource. */

#include <setjmp.h>
#include <time.h>
#include <tern/chat-template.h>
#include <tern/error.h>

G_BEGIN_DECLS

/* ---- Arenas ---- */

typedef struct JChunk JChunk;

typedef struct {
  JChunk *chunks;
  char *ptr;   /* free space in the newest chunk */
  gsize left;
  gsize used;  /* bytes handed out, against @budget */
  gsize budget;
} JArena;

void tern_jinja_arena_init (JArena *arena, gsize budget);
void tern_jinja_arena_clear (JArena *arena);
/* NULL when @size would pass the budget. */
void *tern_jinja_arena_alloc (JArena *arena, gsize size);

/* ---- Values ---- */

/* Values nested deeper than this (a list in a list in...) are refused by
 * repr, tojson and ordering rather than overflowing the C stack. */
#define J_MAX_VALUE_DEPTH 500

typedef enum {
  JV_UNDEFINED,
  JV_NONE,
  JV_BOOL,
  JV_INT,
  JV_FLOAT,
  JV_STRING,
  JV_LIST, /* also tuples */
  JV_DICT,
  JV_NAMESPACE,
  JV_FUNC,
  JV_LOOP,
} JType;

/* Bytes [start, start + len) of a string that came from a message. */
typedef struct {
  gsize start, len;
} JRange;

typedef struct {
  gsize n;
  JRange r[]; /* sorted, disjoint, not adjacent */
} JTaint;

typedef struct JList JList;
typedef struct JDict JDict;
typedef struct JFunc JFunc;
typedef struct JLoop JLoop;

typedef struct {
  guint8 type;   /* JType */
  guint8 markup; /* strings: a jinja2 Markup, as |safe makes */
  union {
    gboolean b;
    gint64 i;
    double f;
    struct {
      const char *p; /* UTF-8, not NUL-terminated */
      gsize len;
      const JTaint *taint; /* NULL: no byte came from a message */
    } s;
    JList *list;
    JDict *dict; /* dicts and namespaces */
    JFunc *fn;
    JLoop *loop;
    const char *undef; /* why it is undefined ("'x' is undefined"), NULL for a plain one */
  };
} JVal;

struct JList {
  gsize n;
  gboolean tuple;
  JVal *items;
};

/* Insertion-ordered; namespaces grow in place (@cap). */
struct JDict {
  gsize n, cap;
  JVal *keys;
  JVal *vals;
};

/* ---- Syntax tree ---- */

typedef struct JNode JNode;

typedef struct {
  JNode **items;
  gsize n;
} JNodeList;

typedef enum {
  /* Statements. */
  JN_TEXT,         /* text */
  JN_OUTPUT,       /* {{ a }} */
  JN_IF,           /* a: test, body, else_body (elif is a nested if) */
  JN_FOR,          /* names[n_names] in a, if b; body, else_body */
  JN_SET,          /* names[n_names] = a; or a.name = b (a namespace) */
  JN_SET_BLOCK,    /* name = body piped through filter chain b */
  JN_MACRO,        /* name (names[n_names] with defaults args) body */
  JN_CALL_BLOCK,   /* a: the call; names[n_names]: caller's parameters; body */
  JN_FILTER_BLOCK, /* body piped through filter chain b */
  JN_BREAK,
  JN_CONTINUE,
  JN_GENERATION,   /* Hugging Face's {% generation %}: renders its body */
  /* Expressions. */
  JN_LITERAL,  /* lit */
  JN_NAME,     /* name */
  JN_ATTR,     /* a.name */
  JN_ITEM,     /* a[b] */
  JN_SLICE,    /* a[b:c:d], each optional */
  JN_CALL,     /* a(args, kwargs) */
  JN_FILTER,   /* a|name(args, kwargs); a NULL: the block's content */
  JN_TEST,     /* a is [not] name(args); op: negated */
  JN_UNARY,    /* op a: not, -, + */
  JN_BINARY,   /* a op b */
  JN_AND,
  JN_OR,
  JN_COMPARE,  /* a op b */
  JN_COND,     /* b if a else c (c may be NULL) */
  JN_LIST,     /* [args] */
  JN_TUPLE,    /* (args) */
  JN_DICT,     /* {args[2i]: args[2i + 1]} */
} JNodeKind;

typedef enum {
  JOP_ADD, JOP_SUB, JOP_MUL, JOP_DIV, JOP_FLOORDIV, JOP_MOD, JOP_POW, JOP_CONCAT,
  JOP_EQ, JOP_NE, JOP_LT, JOP_LE, JOP_GT, JOP_GE, JOP_IN, JOP_NOT_IN,
  JOP_NOT, JOP_NEG, JOP_POS,
} JOp;

struct JNode {
  guint8 kind; /* JNodeKind */
  guint8 op;   /* JOp; JN_TEST: negated */
  gint32 line;
  const char *name;    /* interned: compare pointers */
  const char **names;  /* interned */
  gsize n_names;
  JNode *a, *b, *c, *d;
  JNodeList args;
  JNodeList kwargs;         /* keyword argument values... */
  const char **kwnames;     /* ...and their names (interned) */
  JNodeList body, else_body;
  JVal lit;
  const char *text; /* JN_TEXT */
  gsize text_len;
};

/* ---- Templates ---- */

typedef struct {
  JArena arena;
  GHashTable *names; /* every identifier of the source, interned */
  JNodeList body;
} JTemplate;

/* Compiles @source (valid UTF-8, @len bytes). */
JTemplate *tern_jinja_template_compile (const char *source, gsize len, GError **error);
void tern_jinja_template_free (JTemplate *tmpl);
/* The interned copy of @name, or NULL when the source never uses it. */
const char *tern_jinja_template_intern (const JTemplate *tmpl, const char *name);

/* ---- Lexer ---- */

typedef enum {
  JT_TEXT,
  JT_VAR_BEGIN,
  JT_VAR_END,
  JT_BLOCK_BEGIN,
  JT_BLOCK_END,
  JT_NAME,
  JT_STRING,
  JT_INT,
  JT_FLOAT,
  JT_OP, /* p, len: the operator */
  JT_EOF,
} JTokKind;

typedef struct {
  JTokKind kind;
  gint32 line;
  const char *p; /* text, name, operator or unescaped string (UTF-8) */
  gsize len;
  gint64 i;
  double f;
} JTok;

/* The state of a compile or a render: where errors unwind to. */
typedef struct {
  jmp_buf jmp;
  GError *error;
  JArena *arena;
  gint32 line; /* the line being worked on, for errors raised without one */
} JEnv;

G_GNUC_NORETURN G_GNUC_PRINTF (4, 5)
void tern_jinja_fail (JEnv *env, gint32 line, TernEngineError code, const char *format, ...);
void *tern_jinja_alloc (JEnv *env, gsize size);
void *tern_jinja_alloc0 (JEnv *env, gsize size);
char *tern_jinja_memdup (JEnv *env, const char *p, gsize len);

/* Splits @source into tokens (a JT_EOF last) in @env's arena. */
JTok *tern_jinja_lex (JEnv *env, const char *source, gsize len, gsize *n_tokens);

/* Python's str.isspace() for the character at @p (of @left bytes); its
 * byte length in *@n. */
gboolean tern_jinja_py_space (const char *p, gsize left, gsize *n);

/* ---- Rendering ---- */

/* Output being built: bytes and the ranges that came from messages. */
typedef struct {
  char *p;
  gsize len, cap;
  JRange *taint;
  gsize n_taint, cap_taint;
} JBuf;

typedef struct JFrame JFrame;

typedef enum {
  JFLOW_NORMAL,
  JFLOW_BREAK,
  JFLOW_CONTINUE,
} JFlow;

typedef struct {
  JEnv env;
  const JTemplate *tmpl;
  JFrame *globals;
  guint64 steps;
  guint64 work;         /* against TERN_CHAT_TEMPLATE_MAX_WORK */
  guint64 next_check;   /* the work at which the cancellable is checked next */
  GCancellable *cancellable;
  guint depth;
  JFlow flow;
  struct tm now; /* strftime_now's time */
  JVal caller;   /* the caller of the macro being called from a call block */
} JState;

typedef struct {
  const JVal *pos;
  gsize n_pos;
  const char *const *kw_names;
  const JVal *kw;
  gsize n_kw;
} JArgs;

struct JFunc {
  enum { JF_MACRO, JF_METHOD, JF_GLOBAL, JF_CALLER } kind;
  const char *name;
  JVal self;            /* methods: the object */
  const JNode *node;    /* macros and callers: the definition */
  JFrame *closure;      /* macros and callers: where defined */
  JVal caller;          /* callers: the caller of the enclosing macro */
};

struct JLoop {
  const JList *items;
  gsize index0;
};

/* Renders @tmpl into @out with the variables @names[i] = @vals[i]. */
gboolean tern_jinja_render (const JTemplate *tmpl, const char *const *names, const JVal *vals, gsize n,
                            const struct tm *now, GCancellable *cancellable, JArena *arena, JBuf *out,
                            GError **error);

/* Values (jinja-value.c). */
extern const JVal tern_jinja_undefined;
extern const JVal tern_jinja_none;
JVal tern_jinja_bool (gboolean b);
JVal tern_jinja_int (gint64 i);
JVal tern_jinja_float (double f);
JVal tern_jinja_undef (JState *st, const char *format, ...) G_GNUC_PRINTF (2, 3);
/* A string of @len bytes at @p, kept (not copied); all from a message when @user. */
JVal tern_jinja_str (JState *st, const char *p, gsize len, gboolean user);
JVal tern_jinja_cstr (const char *s);
/* Bytes [start, start + len) of string @v, with their taint. */
JVal tern_jinja_substr (JState *st, JVal v, gsize start, gsize len);
/* @v's string, tainted all over when any byte of @from was (for strings
 * derived from another by a transformation that cannot track bytes). */
JVal tern_jinja_str_like (JState *st, const char *p, gsize len, JVal from);
JVal tern_jinja_list (JState *st, gsize n, gboolean tuple);
JVal tern_jinja_dict (JState *st, gsize cap);
JVal *tern_jinja_dict_get (const JDict *dict, JVal key);
JVal *tern_jinja_dict_get_str (const JDict *dict, const char *key, gsize len);
/* Sets @key to @val, growing @dict (namespaces and dicts being built). */
void tern_jinja_dict_set (JState *st, JDict *dict, JVal key, JVal val);

gboolean tern_jinja_truthy (JVal v);
const char *tern_jinja_type_name (JVal v);
gboolean tern_jinja_equal (JVal a, JVal b);
/* <0, 0, >0; a FORMAT error for values Python cannot order. */
int tern_jinja_compare (JState *st, gint32 line, JVal a, JVal b);
gboolean tern_jinja_is_str (JVal v);
gboolean tern_jinja_is_number (JVal v); /* int, float or bool */
double tern_jinja_num (JVal v);

void tern_jinja_buf_init (JBuf *buf);
void tern_jinja_buf_append (JState *st, JBuf *buf, const char *p, gsize len);
/* Appends string @v keeping its taint. */
void tern_jinja_buf_append_str (JState *st, JBuf *buf, JVal v);
/* Appends Python's str() of @v (undefined: nothing). */
void tern_jinja_buf_append_val (JState *st, JBuf *buf, JVal v);
void tern_jinja_buf_append_repr (JState *st, JBuf *buf, JVal v);
typedef struct {
  const char *indent; /* NULL: all on one line */
  gsize indent_len;
  const char *item_sep, *key_sep; /* NULL: json.dumps's defaults */
  gsize item_sep_len, key_sep_len;
  gboolean ensure_ascii, sort_keys;
} JJsonOptions;

/* json.dumps (v, ensure_ascii=..., indent=..., separators=..., sort_keys=...) */
void tern_jinja_buf_append_json (JState *st, gint32 line, JBuf *buf, JVal v, const JJsonOptions *options);
JVal tern_jinja_buf_value (JState *st, JBuf *buf);
/* str (v) as a value (strings as they are). */
JVal tern_jinja_to_str (JState *st, JVal v);
/* Python's repr () of a float. */
void tern_jinja_format_float (double f, char *out, gsize size);
/* Code points in string @v. */
gsize tern_jinja_utf8_len (JVal v);
/* Byte offset of code point @index of string @v. */
gsize tern_jinja_utf8_offset (JVal v, gsize index);

/* The first offset >= @from of @needle in string @hay, or -1. */
gssize tern_jinja_find (JVal hay, gsize from, const char *needle, gsize len);

/* Builtins (jinja-builtins.c: methods, attributes, globals; jinja-filters.c:
 * filters and tests), and helpers they share. */
gint64 tern_jinja_int_of (JVal v); /* ints, bools, floats truncated */
/* Argument @index, or keyword @name; NULL when not given. */
const JVal *tern_jinja_arg (const JArgs *a, gsize index, const char *name);
JVal tern_jinja_arg_or (const JArgs *a, gsize index, const char *name, JVal fallback);
JVal tern_jinja_expect_str (JState *st, gint32 line, JVal v, const char *what);
gint64 tern_jinja_expect_int (JState *st, gint32 line, JVal v, const char *what);
/* The buffer's bytes, from a message all over when @from or @also was. */
JVal tern_jinja_buf_like (JState *st, JBuf *buf, JVal from, JVal also);
JVal tern_jinja_list_copy (JState *st, const JList *items);
/* str.strip (chars): @how 1 left, 2 right, 3 both; @chars none: whitespace. */
JVal tern_jinja_strip (JState *st, JVal s, JVal chars, int how);
JVal tern_jinja_replace (JState *st, JVal s, JVal old, JVal new, gint64 count);
/* str.upper () ('u') or str.lower () ('l'). */
JVal tern_jinja_change_case (JState *st, JVal s, char how);
void tern_jinja_append_capitalized (JState *st, JBuf *buf, JVal word);
/* jinja2's title filter. */
JVal tern_jinja_title (JState *st, JVal s);
JVal tern_jinja_splitlines (JState *st, JVal s);
/* str(items) joined by @sep, optionally of each item's @attribute. */
JVal tern_jinja_join (JState *st, gint32 line, const JList *items, JVal sep, const char *attribute);
/* dict.items (): a list of (key, value) tuples. */
JVal tern_jinja_dict_items (JState *st, const JDict *d);
/* markupsafe's escape (): & < > ' " as entities, the result Markup. */
JVal tern_jinja_markup_escape (JState *st, JVal v);
/* Python's printf-style "fmt % args". */
JVal tern_jinja_format_percent (JState *st, gint32 line, JVal fmt, JVal args);
JVal tern_jinja_filter (JState *st, gint32 line, const char *name, JVal v, const JArgs *args);
gboolean tern_jinja_test (JState *st, gint32 line, const char *name, JVal v, const JArgs *args);
JVal tern_jinja_getattr (JState *st, gint32 line, JVal obj, const char *name, gsize len);
JVal tern_jinja_getitem (JState *st, gint32 line, JVal obj, JVal key);
JVal tern_jinja_call_builtin (JState *st, gint32 line, const JFunc *fn, const JArgs *args);
/* The global function @name (range, namespace...), or undefined. */
JVal tern_jinja_global (JState *st, const char *name);
/* Iterates @v as Python's iter() would: the items of a list, the keys of
 * a dict, the characters of a string; undefined is empty. */
const JList *tern_jinja_iterate (JState *st, gint32 line, JVal v);

/* Evaluation (jinja-eval.c), for builtins that call back. */
JVal tern_jinja_call (JState *st, gint32 line, JVal callee, const JArgs *args);
void tern_jinja_step (JState *st, gint32 line);
/* Counts @units of work (bytes scanned, copied or compared, items gone
 * through); fails past TERN_CHAT_TEMPLATE_MAX_WORK, and with CANCELLED
 * once the render's cancellable is, checked every WORK_CHECK units. */
void tern_jinja_work (JState *st, gint32 line, guint64 units);
/* The work @v stands for when an operation goes through it: a string's
 * bytes, a list's or dict's items. */
guint64 tern_jinja_weight (JVal v);

G_END_DECLS
