/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Markdown (GitHub Flavored Markdown, parsed by cmark-gfm with its table,
 * strikethrough and autolink extensions) turned into blocks that a chat
 * message shows: runs of styled text as Pango markup, code blocks as raw
 * text, tables as cells of markup, and rules. Pure data, no GTK: any thread
 * may call these functions.
 *
 * The markup of a TEXT block or a table cell is valid Pango markup plus GtkLabel's <a href>
 * links (only http, https and mailto addresses become links). Everything
 * that comes from the input is escaped, raw HTML included, so the input can
 * never inject markup. */

typedef enum {
  TERN_MARKDOWN_BLOCK_TEXT, /* paragraphs, headings, lists, quotes: @text is markup */
  TERN_MARKDOWN_BLOCK_CODE, /* a code block: @text is the code, @language its info word */
  TERN_MARKDOWN_BLOCK_RULE, /* a thematic break: @text and @language are NULL */
  TERN_MARKDOWN_BLOCK_TABLE, /* a table: @cells and @alignments; @text and @language are NULL */
} TernMarkdownBlockKind;

/* A table column's alignment, from its delimiter row (":--", ":-:", "--:"). */
typedef enum {
  TERN_MARKDOWN_ALIGN_NONE,
  TERN_MARKDOWN_ALIGN_LEFT,
  TERN_MARKDOWN_ALIGN_CENTER,
  TERN_MARKDOWN_ALIGN_RIGHT,
} TernMarkdownAlign;

typedef struct {
  TernMarkdownBlockKind kind;
  char *text;     /* TEXT: Pango markup; CODE: the code, without its final newline */
  char *language; /* CODE: the first word of the fence's info string, NULL if none */
  guint n_columns;               /* TABLE: at least 1 */
  guint n_rows;                  /* TABLE: at least 1, the first being the header row */
  char **cells;                  /* TABLE: n_rows × n_columns cells of markup, row by row, NULL-terminated */
  TernMarkdownAlign *alignments; /* TABLE: n_columns alignments */
} TernMarkdownBlock;

/* Frees @block and its strings. NULL is allowed. */
void tern_markdown_block_free (TernMarkdownBlock *block);

/* Whether @a and @b have the same kind, text, language and table. */
gboolean tern_markdown_block_equal (const TernMarkdownBlock *a, const TernMarkdownBlock *b);

/* Parses @text (UTF-8, NULL is taken as "") and returns its blocks in
 * order, as a new array of TernMarkdownBlock that frees its elements. Text
 * between two code blocks or rules is one TEXT block, cut at top-level
 * block boundaries once it grows past a few kilobytes so that a long
 * message being streamed rewrites only its end. Code blocks, tables and
 * rules are always blocks of their own (a table in a list or quote too). An empty or blank text gives an empty
 * array. Nesting deeper than a few levels of lists and quotes is shown at
 * the deepest level shown. Never fails. */
GPtrArray *tern_markdown_parse (const char *text);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TernMarkdownBlock, tern_markdown_block_free)

G_END_DECLS
