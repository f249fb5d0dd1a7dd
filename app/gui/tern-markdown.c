/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Markdown to blocks of Pango markup: one walk over cmark's tree with its
 * iterator (never recursion, so no input can exhaust the stack), writing
 * styled text line by line. A line starts with a prefix made from the open
 * containers: a bar per block quote, and per list item its marker on the
 * item's first line or as many spaces after it. */
#include "tern-markdown.h"

#include <cmark-gfm-core-extensions.h>
#include <cmark-gfm.h>
#include <string.h>

/* The extensions' node types, exported by libcmark-gfm-extensions but
 * declared only in its uninstalled headers. */
extern cmark_node_type CMARK_NODE_TABLE;
extern cmark_node_type CMARK_NODE_TABLE_ROW;
extern cmark_node_type CMARK_NODE_TABLE_CELL;
extern cmark_node_type CMARK_NODE_STRIKETHROUGH;

/* The GitHub extensions attached to every parser. */
static const char *const extension_names[] = { "table", "strikethrough", "autolink" };

/* Open block quotes, lists and items that get their own bar or indent;
 * deeper ones are written as the deepest shown (the innermost item still
 * shows its marker). Six levels of nested lists. */
#define MAX_SHOWN_CONTAINERS 12

/* Nested inline styles (emphasis, strong, links) written as markup; deeper
 * ones are plain text, which keeps pathological input cheap for Pango. */
#define MAX_INLINE_DEPTH 16

/* A TEXT block is cut at the next top-level block once its markup is this
 * long, so that streaming rewrites a bounded label, not the whole reply. */
#define TEXT_BLOCK_SOFT_LIMIT 4096

/* Code block languages are shown in a header: keep them short. */
#define MAX_LANGUAGE_CHARS 32

#define QUOTE_BAR "<span alpha=\"50%\">▎</span> "
#define QUOTE_STYLE_OPEN "<span style=\"italic\" alpha=\"75%\">"
#define QUOTE_STYLE_CLOSE "</span>"

#define NO_ITEM G_MAXUINT

typedef enum {
  SEPARATOR_LINE,  /* a new line: between the blocks of a tight list */
  SEPARATOR_BLANK, /* a blank line: between paragraphs */
} Separator;

/* An open block quote, list or list item. */
typedef struct {
  cmark_node_type type;
  gboolean ordered;        /* LIST */
  int number;              /* LIST, ordered: the number of its next item */
  char delimiter;          /* LIST, ordered: '.' or ')' */
  guint item;              /* the index of the innermost open item at or above this one, or NO_ITEM */
  gboolean marker_pending; /* ITEM: its first line is still to be written */
  char marker[24];         /* ITEM: "•", "12." */
} Container;

typedef struct {
  cmark_node *root;
  GPtrArray *blocks;     /* TernMarkdownBlock, the result */
  GString *markup;       /* the TEXT block being written */
  GArray *containers;    /* Container, outermost first */
  guint quote_depth;     /* open block quotes */
  guint list_depth;      /* open lists, to vary the bullets */
  Separator separator;   /* what goes between the markup written and the next block */
  guint common_depth;    /* containers open since the last block began, whose bars a blank line keeps */
  guint inline_depth;    /* open emphasis, strong, links and images */
  cmark_node *open_link; /* the link or image written as <a>, as links do not nest */
  GPtrArray *cells;      /* the cells of the table being written, or NULL outside tables */
  guint table_columns;   /* the table's columns */
  guint row_cells;       /* the cells written of the table's current row */
} Renderer;

void
tern_markdown_block_free (TernMarkdownBlock *block)
{
  if (block == NULL)
    return;
  g_free (block->text);
  g_free (block->language);
  g_strfreev (block->cells);
  g_free (block->alignments);
  g_free (block);
}

static gboolean
tables_equal (const TernMarkdownBlock *a, const TernMarkdownBlock *b)
{
  if (a->n_columns != b->n_columns || a->n_rows != b->n_rows)
    return FALSE;
  if (a->n_columns > 0 && memcmp (a->alignments, b->alignments, a->n_columns * sizeof *a->alignments) != 0)
    return FALSE;
  return a->cells == NULL ? b->cells == NULL : b->cells != NULL && g_strv_equal ((const char *const *) a->cells,
                                                                                  (const char *const *) b->cells);
}

gboolean
tern_markdown_block_equal (const TernMarkdownBlock *a, const TernMarkdownBlock *b)
{
  return a->kind == b->kind && g_strcmp0 (a->text, b->text) == 0 && g_strcmp0 (a->language, b->language) == 0
         && tables_equal (a, b);
}

static void
append_escaped (GString *string, const char *text, gssize len)
{
  g_autofree char *escaped = NULL;

  if (text == NULL || len == 0)
    return;
  escaped = g_markup_escape_text (text, len);
  g_string_append (string, escaped);
}

static void
push_block (Renderer *r, TernMarkdownBlockKind kind, char *text, char *language)
{
  TernMarkdownBlock *block = g_new0 (TernMarkdownBlock, 1);

  block->kind = kind;
  block->text = text;
  block->language = language;
  g_ptr_array_add (r->blocks, block);
}

/* Ends the TEXT block being written, if any. */
static void
flush_text (Renderer *r)
{
  if (r->markup->len == 0)
    return;
  push_block (r, TERN_MARKDOWN_BLOCK_TEXT, g_strndup (r->markup->str, r->markup->len), NULL);
  g_string_truncate (r->markup, 0);
}

static Container *
container_at (Renderer *r, guint index)
{
  return &g_array_index (r->containers, Container, index);
}

static void
push_container (Renderer *r, const Container *container)
{
  Container copy = *container;
  guint index = r->containers->len;

  if (copy.type == CMARK_NODE_ITEM)
    copy.item = index;
  else
    copy.item = index > 0 ? container_at (r, index - 1)->item : NO_ITEM;
  g_array_append_val (r->containers, copy);
}

static void
pop_container (Renderer *r)
{
  g_array_set_size (r->containers, r->containers->len - 1);
  r->common_depth = MIN (r->common_depth, r->containers->len);
}

static void
append_item_prefix (Renderer *r, Container *item)
{
  if (item->marker_pending)
    {
      g_string_append (r->markup, item->marker);
      g_string_append_c (r->markup, ' ');
      item->marker_pending = FALSE;
    }
  else
    {
      /* Roughly the marker's width in spaces of a proportional font. */
      glong width = g_utf8_strlen (item->marker, -1) * 2 + 1;

      for (glong i = 0; i < width; i++)
        g_string_append_c (r->markup, ' ');
    }
}

static void
append_prefix (Renderer *r)
{
  guint len = r->containers->len;
  guint shown = MIN (len, MAX_SHOWN_CONTAINERS);

  for (guint i = 0; i < shown; i++)
    {
      Container *c = container_at (r, i);

      if (c->type == CMARK_NODE_BLOCK_QUOTE)
        g_string_append (r->markup, QUOTE_BAR);
      else if (c->type == CMARK_NODE_ITEM)
        append_item_prefix (r, c);
    }

  if (len > shown)
    {
      guint item = container_at (r, len - 1)->item;

      if (item != NO_ITEM && item >= shown && container_at (r, item)->marker_pending)
        append_item_prefix (r, container_at (r, item));
    }
}

/* Starts a line of a new block: the separator from what came before, then
 * the containers' prefix. A blank line between two blocks of one quote
 * keeps the quote's bar. */
static void
begin_block (Renderer *r)
{
  if (r->markup->len > 0)
    {
      g_string_append_c (r->markup, '\n');
      if (r->separator == SEPARATOR_BLANK)
        {
          guint common = MIN (r->common_depth, MIN (r->containers->len, MAX_SHOWN_CONTAINERS));
          guint end = r->markup->len;

          for (guint i = 0; i < common; i++)
            {
              if (container_at (r, i)->type == CMARK_NODE_BLOCK_QUOTE)
                {
                  g_string_append (r->markup, QUOTE_BAR);
                  end = r->markup->len - 1;
                }
            }
          /* No trailing space after the last bar. */
          g_string_truncate (r->markup, end);
          g_string_append_c (r->markup, '\n');
        }
    }
  append_prefix (r);
  r->common_depth = r->containers->len;
}

static void
new_line (Renderer *r)
{
  g_string_append_c (r->markup, '\n');
  append_prefix (r);
}

/* Writes @text escaped, keeping its line breaks as lines with a prefix. */
static void
append_lines (Renderer *r, const char *text)
{
  const char *line = text;
  const char *end;

  while ((end = strchr (line, '\n')) != NULL)
    {
      append_escaped (r->markup, line, end - line);
      if (end[1] == '\0')
        return;
      new_line (r);
      line = end + 1;
    }
  append_escaped (r->markup, line, -1);
}

static Separator
separator_after (cmark_node *node)
{
  cmark_node *parent = cmark_node_parent (node);

  if (cmark_node_get_type (node) == CMARK_NODE_ITEM)
    return cmark_node_get_list_tight (parent) ? SEPARATOR_LINE : SEPARATOR_BLANK;
  if (parent != NULL && cmark_node_get_type (parent) == CMARK_NODE_ITEM
      && cmark_node_get_list_tight (cmark_node_parent (parent)))
    return SEPARATOR_LINE;
  return SEPARATOR_BLANK;
}

static gboolean
is_safe_link (const char *url)
{
  g_autofree char *scheme = NULL;

  if (url == NULL)
    return FALSE;
  /* Only what a browser or mail client opens: a reply must not be able to
   * launch local files or other handlers with one click. */
  scheme = g_uri_parse_scheme (url);
  return scheme != NULL
         && (g_ascii_strcasecmp (scheme, "http") == 0 || g_ascii_strcasecmp (scheme, "https") == 0
             || g_ascii_strcasecmp (scheme, "mailto") == 0);
}

static void
enter_item (Renderer *r)
{
  Container *list = container_at (r, r->containers->len - 1);
  Container item = { .type = CMARK_NODE_ITEM, .marker_pending = TRUE };
  static const char *const bullets[] = { "•", "◦", "▪" };

  if (list->ordered)
    {
      g_snprintf (item.marker, sizeof item.marker, "%d%c", list->number, list->delimiter);
      list->number++;
    }
  else
    g_strlcpy (item.marker, bullets[(r->list_depth - 1) % G_N_ELEMENTS (bullets)], sizeof item.marker);
  push_container (r, &item);
}

static void
enter_list (Renderer *r, cmark_node *node)
{
  Container list = { .type = CMARK_NODE_LIST };

  if (cmark_node_get_list_type (node) == CMARK_ORDERED_LIST)
    {
      list.ordered = TRUE;
      list.number = cmark_node_get_list_start (node);
      list.delimiter = cmark_node_get_list_delim (node) == CMARK_PAREN_DELIM ? ')' : '.';
    }
  r->list_depth++;
  push_container (r, &list);
}

static void
exit_item (Renderer *r, cmark_node *node)
{
  Container *item = container_at (r, r->containers->len - 1);

  /* An empty item still shows its marker. */
  if (item->marker_pending)
    {
      begin_block (r);
      item->marker_pending = FALSE;
      r->separator = separator_after (node);
    }
  pop_container (r);
}

static void
append_code_block (Renderer *r, cmark_node *node)
{
  const char *literal = cmark_node_get_literal (node);
  const char *info = cmark_node_get_fence_info (node);
  char *language = NULL;
  gsize len;

  flush_text (r);

  if (literal == NULL)
    literal = "";
  len = strlen (literal);
  if (len > 0 && literal[len - 1] == '\n')
    len--;

  if (info != NULL)
    {
      gsize word;

      info += strspn (info, " \t");
      word = strcspn (info, " \t");
      if (word > 0)
        {
          g_autofree char *first = g_strndup (info, word);

          language = g_utf8_substring (first, 0, MIN (g_utf8_strlen (first, -1), MAX_LANGUAGE_CHARS));
        }
    }

  push_block (r, TERN_MARKDOWN_BLOCK_CODE, g_strndup (literal, len), language);
}

static void
enter_heading (Renderer *r, cmark_node *node)
{
  int level = cmark_node_get_heading_level (node);

  begin_block (r);
  if (level <= 1)
    g_string_append (r->markup, "<span size=\"x-large\" weight=\"bold\">");
  else if (level == 2)
    g_string_append (r->markup, "<span size=\"large\" weight=\"bold\">");
  else
    g_string_append (r->markup, "<span weight=\"bold\">");
}

/* Emphasis, strong, strikethrough, links and images, beyond MAX_INLINE_DEPTH left as
 * plain text; links only to safe addresses and never nested. */
static void
enter_inline_style (Renderer *r, cmark_node *node)
{
  cmark_node_type type = cmark_node_get_type (node);

  r->inline_depth++;
  if (r->inline_depth > MAX_INLINE_DEPTH)
    return;

  if (type == CMARK_NODE_STRIKETHROUGH)
    g_string_append (r->markup, "<s>");

  switch (type)
    {
    case CMARK_NODE_EMPH:
      g_string_append (r->markup, "<i>");
      break;
    case CMARK_NODE_STRONG:
      g_string_append (r->markup, "<b>");
      break;
    case CMARK_NODE_LINK:
    case CMARK_NODE_IMAGE:
      {
        const char *url = cmark_node_get_url (node);
        const char *title = cmark_node_get_title (node);

        if (r->open_link != NULL || !is_safe_link (url))
          break;
        r->open_link = node;
        g_string_append (r->markup, "<a href=\"");
        append_escaped (r->markup, url, -1);
        if (title != NULL && title[0] != '\0')
          {
            g_string_append (r->markup, "\" title=\"");
            append_escaped (r->markup, title, -1);
          }
        g_string_append (r->markup, "\">");
        break;
      }
    default:
      break;
    }

  /* An image shows its description; one without shows its address. */
  if (type == CMARK_NODE_IMAGE && cmark_node_first_child (node) == NULL)
    append_escaped (r->markup, cmark_node_get_url (node), -1);
}

static void
exit_inline_style (Renderer *r, cmark_node *node)
{
  if (r->inline_depth-- > MAX_INLINE_DEPTH)
    return;

  if (cmark_node_get_type (node) == CMARK_NODE_STRIKETHROUGH)
    g_string_append (r->markup, "</s>");

  switch (cmark_node_get_type (node))
    {
    case CMARK_NODE_EMPH:
      g_string_append (r->markup, "</i>");
      break;
    case CMARK_NODE_STRONG:
      g_string_append (r->markup, "</b>");
      break;
    case CMARK_NODE_LINK:
    case CMARK_NODE_IMAGE:
      if (r->open_link == node)
        {
          g_string_append (r->markup, "</a>");
          r->open_link = NULL;
        }
      break;
    default:
      break;
    }
}

/* ---- Tables: each cell's inlines are written to the markup, then moved
 * to the table's cells when the cell ends. ---- */

static TernMarkdownAlign
alignment_from_cmark (uint8_t alignment)
{
  switch (alignment)
    {
    case 'l':
      return TERN_MARKDOWN_ALIGN_LEFT;
    case 'c':
      return TERN_MARKDOWN_ALIGN_CENTER;
    case 'r':
      return TERN_MARKDOWN_ALIGN_RIGHT;
    default:
      return TERN_MARKDOWN_ALIGN_NONE;
    }
}

static void
enter_table (Renderer *r, cmark_node *node)
{
  flush_text (r);
  r->table_columns = MAX (cmark_gfm_extensions_get_table_columns (node), 1);
  r->cells = g_ptr_array_new_with_free_func (g_free);
}

/* Rows have as many cells as the table has columns. */
static void
exit_table_row (Renderer *r)
{
  for (; r->row_cells < r->table_columns; r->row_cells++)
    g_ptr_array_add (r->cells, g_strdup (""));
  r->row_cells = 0;
}

static void
exit_table (Renderer *r, cmark_node *node)
{
  TernMarkdownBlock *block = g_new0 (TernMarkdownBlock, 1);
  uint8_t *alignments = cmark_gfm_extensions_get_table_alignments (node);

  block->kind = TERN_MARKDOWN_BLOCK_TABLE;
  block->n_columns = r->table_columns;
  block->n_rows = r->cells->len / r->table_columns;
  g_ptr_array_add (r->cells, NULL);
  block->cells = (char **) g_ptr_array_free (g_steal_pointer (&r->cells), FALSE);
  block->alignments = g_new0 (TernMarkdownAlign, block->n_columns);
  for (guint i = 0; alignments != NULL && i < block->n_columns; i++)
    block->alignments[i] = alignment_from_cmark (alignments[i]);
  g_ptr_array_add (r->blocks, block);
  r->separator = SEPARATOR_BLANK;
}

static void
exit_table_cell (Renderer *r)
{
  /* Cells beyond the header's count are dropped, as GitHub does. */
  if (r->row_cells < r->table_columns)
    {
      g_ptr_array_add (r->cells, g_strndup (r->markup->str, r->markup->len));
      r->row_cells++;
    }
  g_string_truncate (r->markup, 0);
}

static void
enter_node (Renderer *r, cmark_node *node)
{
  cmark_node_type type = cmark_node_get_type (node);

  if (cmark_node_parent (node) == r->root && r->markup->len >= TEXT_BLOCK_SOFT_LIMIT)
    flush_text (r);

  if (type == CMARK_NODE_TABLE)
    {
      enter_table (r, node);
      return;
    }
  if (type == CMARK_NODE_STRIKETHROUGH)
    {
      enter_inline_style (r, node);
      return;
    }

  switch (type)
    {
    case CMARK_NODE_BLOCK_QUOTE:
      {
        Container quote = { .type = CMARK_NODE_BLOCK_QUOTE };

        push_container (r, &quote);
        r->quote_depth++;
        break;
      }
    case CMARK_NODE_LIST:
      enter_list (r, node);
      break;
    case CMARK_NODE_ITEM:
      enter_item (r);
      break;
    case CMARK_NODE_CODE_BLOCK:
      append_code_block (r, node);
      break;
    case CMARK_NODE_HTML_BLOCK:
      begin_block (r);
      append_lines (r, cmark_node_get_literal (node));
      r->separator = separator_after (node);
      break;
    case CMARK_NODE_PARAGRAPH:
      begin_block (r);
      if (r->quote_depth > 0)
        g_string_append (r->markup, QUOTE_STYLE_OPEN);
      break;
    case CMARK_NODE_HEADING:
      enter_heading (r, node);
      break;
    case CMARK_NODE_THEMATIC_BREAK:
      flush_text (r);
      push_block (r, TERN_MARKDOWN_BLOCK_RULE, NULL, NULL);
      break;
    case CMARK_NODE_TEXT:
    case CMARK_NODE_HTML_INLINE:
      /* Raw HTML is shown as written, never interpreted. */
      append_escaped (r->markup, cmark_node_get_literal (node), -1);
      break;
    case CMARK_NODE_CODE:
      g_string_append (r->markup, "<tt>");
      append_escaped (r->markup, cmark_node_get_literal (node), -1);
      g_string_append (r->markup, "</tt>");
      break;
    case CMARK_NODE_SOFTBREAK:
      /* A reply's lines are meant as written (verse, addresses, steps). */
    case CMARK_NODE_LINEBREAK:
      new_line (r);
      break;
    case CMARK_NODE_EMPH:
    case CMARK_NODE_STRONG:
    case CMARK_NODE_LINK:
    case CMARK_NODE_IMAGE:
      enter_inline_style (r, node);
      break;
    case CMARK_NODE_DOCUMENT:
    case CMARK_NODE_CUSTOM_BLOCK:
    case CMARK_NODE_CUSTOM_INLINE:
    case CMARK_NODE_NONE:
    default:
      break;
    }
}

static void
exit_node (Renderer *r, cmark_node *node)
{
  cmark_node_type type = cmark_node_get_type (node);

  if (type == CMARK_NODE_TABLE)
    exit_table (r, node);
  else if (type == CMARK_NODE_TABLE_ROW)
    exit_table_row (r);
  else if (type == CMARK_NODE_TABLE_CELL)
    exit_table_cell (r);
  else if (type == CMARK_NODE_STRIKETHROUGH)
    exit_inline_style (r, node);

  switch (type)
    {
    case CMARK_NODE_BLOCK_QUOTE:
      pop_container (r);
      r->quote_depth--;
      r->separator = separator_after (node);
      break;
    case CMARK_NODE_LIST:
      pop_container (r);
      r->list_depth--;
      r->separator = separator_after (node);
      break;
    case CMARK_NODE_ITEM:
      exit_item (r, node);
      break;
    case CMARK_NODE_PARAGRAPH:
      if (r->quote_depth > 0)
        g_string_append (r->markup, QUOTE_STYLE_CLOSE);
      r->separator = separator_after (node);
      break;
    case CMARK_NODE_HEADING:
      g_string_append (r->markup, "</span>");
      r->separator = separator_after (node);
      break;
    case CMARK_NODE_EMPH:
    case CMARK_NODE_STRONG:
    case CMARK_NODE_LINK:
    case CMARK_NODE_IMAGE:
      exit_inline_style (r, node);
      break;
    default:
      break;
    }
}

/* The registry of extensions is global and filled without a lock. */
static void
ensure_extensions_registered (void)
{
  static gsize registered;

  if (g_once_init_enter (&registered))
    {
      cmark_gfm_core_extensions_ensure_registered ();
      g_once_init_leave (&registered, 1);
    }
}

static cmark_node *
parse_document (const char *text)
{
  cmark_parser *parser;
  cmark_node *root;

  ensure_extensions_registered ();
  parser = cmark_parser_new (CMARK_OPT_VALIDATE_UTF8);
  for (guint i = 0; i < G_N_ELEMENTS (extension_names); i++)
    cmark_parser_attach_syntax_extension (parser, cmark_find_syntax_extension (extension_names[i]));
  cmark_parser_feed (parser, text, strlen (text));
  root = cmark_parser_finish (parser);
  cmark_parser_free (parser);
  return root;
}

GPtrArray *
tern_markdown_parse (const char *text)
{
  Renderer r = { 0 };
  cmark_iter *iter;
  cmark_event_type event;

  if (text == NULL)
    text = "";

  r.root = parse_document (text);
  r.blocks = g_ptr_array_new_with_free_func ((GDestroyNotify) tern_markdown_block_free);
  r.markup = g_string_new (NULL);
  r.containers = g_array_new (FALSE, FALSE, sizeof (Container));
  r.separator = SEPARATOR_BLANK;

  iter = cmark_iter_new (r.root);
  while ((event = cmark_iter_next (iter)) != CMARK_EVENT_DONE)
    {
      cmark_node *node = cmark_iter_get_node (iter);

      if (event == CMARK_EVENT_ENTER)
        enter_node (&r, node);
      else if (event == CMARK_EVENT_EXIT)
        exit_node (&r, node);
    }
  cmark_iter_free (iter);

  flush_text (&r);

  cmark_node_free (r.root);
  g_string_free (r.markup, TRUE);
  g_array_unref (r.containers);
  return r.blocks;
}
