/* SPDX-License-Identifier: GPL-3.0-or-later */
/* tern_markdown_parse: every kind of block, escaping, hostile input. */
#include <pango/pango.h>
#include <string.h>

#include "tern-markdown.h"

/* ---- Helpers ---- */

/* Asserts that @markup is what a GtkLabel accepts: Pango markup plus the
 * <a href title> links GtkLabel handles itself (turned into spans here). */
static void
assert_markup_valid (const char *markup)
{
  static GRegex *link_open;
  g_autofree char *spans = NULL;
  g_autofree char *plain = NULL;
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) parts = NULL;

  if (link_open == NULL)
    link_open = g_regex_new ("<a href=\"[^\"<>]*\"( title=\"[^\"<>]*\")?>", G_REGEX_OPTIMIZE, 0, NULL);

  spans = g_regex_replace_literal (link_open, markup, -1, 0, "<span>", 0, &error);
  g_assert_no_error (error);
  parts = g_strsplit (spans, "</a>", -1);
  plain = g_strjoinv ("</span>", parts);
  if (!pango_parse_markup (plain, -1, 0, NULL, NULL, NULL, &error))
    g_error ("invalid markup (%s): %.200s", error->message, markup);
}

static void
assert_blocks_valid (GPtrArray *blocks)
{
  for (guint i = 0; i < blocks->len; i++)
    {
      TernMarkdownBlock *block = g_ptr_array_index (blocks, i);

      switch (block->kind)
        {
        case TERN_MARKDOWN_BLOCK_TEXT:
          g_assert_nonnull (block->text);
          g_assert_cmpstr (block->text, !=, "");
          g_assert_null (block->language);
          assert_markup_valid (block->text);
          break;
        case TERN_MARKDOWN_BLOCK_CODE:
          g_assert_nonnull (block->text);
          g_assert_true (g_utf8_validate (block->text, -1, NULL));
          break;
        case TERN_MARKDOWN_BLOCK_RULE:
          g_assert_null (block->text);
          g_assert_null (block->language);
          break;
        case TERN_MARKDOWN_BLOCK_TABLE:
          g_assert_null (block->text);
          g_assert_cmpuint (block->n_columns, >=, 1);
          g_assert_cmpuint (block->n_rows, >=, 1);
          g_assert_cmpuint (g_strv_length (block->cells), ==, block->n_rows * block->n_columns);
          for (guint c = 0; block->cells[c] != NULL; c++)
            assert_markup_valid (block->cells[c]);
          break;
        default:
          g_assert_not_reached ();
        }
    }
}

/* Parses @text, checks every block, and returns the blocks. */
static GPtrArray *
parse (const char *text)
{
  GPtrArray *blocks = tern_markdown_parse (text);

  assert_blocks_valid (blocks);
  return blocks;
}

static TernMarkdownBlock *
block_at (GPtrArray *blocks, guint i)
{
  g_assert_cmpuint (i, <, blocks->len);
  return g_ptr_array_index (blocks, i);
}

/* The markup of @text, which must be a single TEXT block. */
static char *
parse_single_text (const char *text)
{
  g_autoptr (GPtrArray) blocks = parse (text);

  g_assert_cmpuint (blocks->len, ==, 1);
  g_assert_cmpint (block_at (blocks, 0)->kind, ==, TERN_MARKDOWN_BLOCK_TEXT);
  return g_strdup (block_at (blocks, 0)->text);
}

/* ---- Converter ---- */

static void
test_parse_empty (void)
{
  const char *texts[] = { "", "   ", "\n\n\n", " \t\n  \n" };

  for (guint i = 0; i < G_N_ELEMENTS (texts); i++)
    {
      g_autoptr (GPtrArray) blocks = parse (texts[i]);

      g_assert_cmpuint (blocks->len, ==, 0);
    }

  {
    g_autoptr (GPtrArray) blocks = tern_markdown_parse (NULL);

    g_assert_cmpuint (blocks->len, ==, 0);
  }
}

static void
test_parse_inline (void)
{
  g_autofree char *markup = parse_single_text ("Hello *world*, **bold** _and_ __strong__, `a < b`.");

  g_assert_cmpstr (markup, ==, "Hello <i>world</i>, <b>bold</b> <i>and</i> <b>strong</b>, <tt>a &lt; b</tt>.");
}

static void
test_parse_escape (void)
{
  g_autofree char *markup = parse_single_text ("a < b && c > d 'q' \"dq\" &amp; &lt;");

  /* Entities in Markdown are decoded by cmark, then escaped again. */
  g_assert_cmpstr (markup, ==, "a &lt; b &amp;&amp; c &gt; d &apos;q&apos; &quot;dq&quot; &amp; &lt;");
}

static void
test_parse_strikethrough (void)
{
  g_autofree char *markup = parse_single_text ("Was ~~wrong~~ ~right~, a~b.");

  g_assert_cmpstr (markup, ==, "Was <s>wrong</s> <s>right</s>, a~b.");
}

static void
test_parse_autolinks (void)
{
  g_autofree char *markup = parse_single_text ("See https://example.org/a?b=1&c=2, www.gnome.org and me@example.com.");

  g_assert_cmpstr (markup, ==,
                   "See <a href=\"https://example.org/a?b=1&amp;c=2\">https://example.org/a?b=1&amp;c=2</a>, "
                   "<a href=\"http://www.gnome.org\">www.gnome.org</a> and "
                   "<a href=\"mailto:me@example.com\">me@example.com</a>.");
}

static void
test_parse_table (void)
{
  g_autoptr (GPtrArray) blocks = parse ("Sizes:\n\n"
                                        "| Model | **Size** | Fast |\n"
                                        "|:------|------:|:----:|\n"
                                        "| `tiny` | 1 MB | ~~no~~ |\n"
                                        "| a &lt; b | 2 GB |\n"
                                        "| x | y | z | extra |\n"
                                        "\nDone.");
  TernMarkdownBlock *table;
  const char *cells[] = { "Model", "<b>Size</b>", "Fast", "<tt>tiny</tt>", "1 MB", "<s>no</s>",
                          "a &lt; b", "2 GB", "", "x", "y", "z", NULL };

  g_assert_cmpuint (blocks->len, ==, 3);
  g_assert_cmpstr (block_at (blocks, 0)->text, ==, "Sizes:");
  table = block_at (blocks, 1);
  g_assert_cmpint (table->kind, ==, TERN_MARKDOWN_BLOCK_TABLE);
  g_assert_cmpuint (table->n_columns, ==, 3);
  g_assert_cmpuint (table->n_rows, ==, 4);
  g_assert_true (g_strv_equal ((const char *const *) table->cells, cells));
  g_assert_cmpint (table->alignments[0], ==, TERN_MARKDOWN_ALIGN_LEFT);
  g_assert_cmpint (table->alignments[1], ==, TERN_MARKDOWN_ALIGN_RIGHT);
  g_assert_cmpint (table->alignments[2], ==, TERN_MARKDOWN_ALIGN_CENTER);
  g_assert_cmpstr (block_at (blocks, 2)->text, ==, "Done.");
}

static void
test_parse_table_variants (void)
{
  /* No alignment, a single column, and a table in a list item. */
  g_autoptr (GPtrArray) plain = parse ("a | b\n--|--\n1 | 2");
  g_autoptr (GPtrArray) single = parse ("| only |\n|---|");
  g_autoptr (GPtrArray) in_list = parse ("- item\n\n  | h |\n  |---|\n  | c |\n- next");
  g_autoptr (GPtrArray) not_table = parse ("a | b\nno delimiter row");
  const char *plain_cells[] = { "a", "b", "1", "2", NULL };

  g_assert_cmpuint (plain->len, ==, 1);
  g_assert_true (g_strv_equal ((const char *const *) block_at (plain, 0)->cells, plain_cells));
  g_assert_cmpint (block_at (plain, 0)->alignments[0], ==, TERN_MARKDOWN_ALIGN_NONE);
  g_assert_cmpint (block_at (plain, 0)->alignments[1], ==, TERN_MARKDOWN_ALIGN_NONE);

  g_assert_cmpuint (single->len, ==, 1);
  g_assert_cmpuint (block_at (single, 0)->n_columns, ==, 1);
  g_assert_cmpuint (block_at (single, 0)->n_rows, ==, 1);
  g_assert_cmpstr (block_at (single, 0)->cells[0], ==, "only");

  g_assert_cmpuint (in_list->len, ==, 3);
  g_assert_cmpstr (block_at (in_list, 0)->text, ==, "• item");
  g_assert_cmpint (block_at (in_list, 1)->kind, ==, TERN_MARKDOWN_BLOCK_TABLE);
  g_assert_cmpstr (block_at (in_list, 2)->text, ==, "• next");

  g_assert_cmpuint (not_table->len, ==, 1);
  g_assert_cmpint (block_at (not_table, 0)->kind, ==, TERN_MARKDOWN_BLOCK_TEXT);
}

static void
test_parse_raw_html (void)
{
  g_autofree char *inline_html = parse_single_text ("Some <b>not bold</b> and <script>alert(1)</script>");
  g_autofree char *block_html = parse_single_text ("<div class=\"x\">\n<i>block</i>\n</div>");

  g_assert_cmpstr (inline_html, ==, "Some &lt;b&gt;not bold&lt;/b&gt; and &lt;script&gt;alert(1)&lt;/script&gt;");
  g_assert_cmpstr (block_html, ==, "&lt;div class=&quot;x&quot;&gt;\n&lt;i&gt;block&lt;/i&gt;\n&lt;/div&gt;");
}

static void
test_parse_paragraphs (void)
{
  g_autofree char *markup = parse_single_text ("One\ntwo\\\nthree\n\nFour");

  /* Soft and hard line breaks both keep the line; paragraphs get a blank line. */
  g_assert_cmpstr (markup, ==, "One\ntwo\nthree\n\nFour");
}

static void
test_parse_headings (void)
{
  g_autofree char *markup = parse_single_text ("# Title\n\n## Sub <x>\n\n### Small\n\nText\n\nSetext\n===");

  g_assert_cmpstr (markup, ==,
                   "<span size=\"x-large\" weight=\"bold\">Title</span>\n\n"
                   "<span size=\"large\" weight=\"bold\">Sub &lt;x&gt;</span>\n\n"
                   "<span weight=\"bold\">Small</span>\n\n"
                   "Text\n\n"
                   "<span size=\"x-large\" weight=\"bold\">Setext</span>");
}

static void
test_parse_links (void)
{
  g_autofree char *link = parse_single_text ("See [the *site*](https://example.org/?a=1&b=2 \"A <title>\").");
  g_autofree char *autolink = parse_single_text ("<https://example.org> and <someone@example.org>");
  g_autofree char *quoted = parse_single_text ("[q](<https://example.org/a\"b>)");
  g_autofree char *unsafe = parse_single_text ("[js](javascript:alert(1)) [file](file:///etc/passwd) [rel](docs/a.md)");
  g_autofree char *image = parse_single_text ("![a cat](https://example.org/cat.png) ![](https://example.org/x.png)");
  g_autofree char *nested = parse_single_text ("[![logo](https://example.org/l.png)](https://example.org)");

  g_assert_cmpstr (link, ==,
                   "See <a href=\"https://example.org/?a=1&amp;b=2\" title=\"A &lt;title&gt;\">the <i>site</i></a>.");
  g_assert_cmpstr (autolink, ==,
                   "<a href=\"https://example.org\">https://example.org</a> and "
                   "<a href=\"mailto:someone@example.org\">someone@example.org</a>");
  g_assert_cmpstr (quoted, ==, "<a href=\"https://example.org/a&quot;b\">q</a>");
  /* Only web and mail addresses become links. */
  g_assert_cmpstr (unsafe, ==, "js file rel");
  g_assert_cmpstr (image, ==,
                   "<a href=\"https://example.org/cat.png\">a cat</a> "
                   "<a href=\"https://example.org/x.png\">https://example.org/x.png</a>");
  /* Links never nest. */
  g_assert_cmpstr (nested, ==, "<a href=\"https://example.org\">logo</a>");
}

static void
test_parse_lists (void)
{
  g_autofree char *tight = parse_single_text ("- a\n- b\n  - c\n    - d\n- e");
  g_autofree char *ordered = parse_single_text ("3. three\n4. four\n\n1) one\n2) two");
  g_autofree char *loose = parse_single_text ("- a\n\n- b\n\n  more b\n\nAfter");
  g_autofree char *empty_item = parse_single_text ("- \n- x");

  /* Bullets change with depth; nested items are indented with spaces. */
  g_assert_cmpstr (tight, ==, "• a\n• b\n   ◦ c\n      ▪ d\n• e");
  /* Numbers follow the list's start and delimiter. */
  g_assert_cmpstr (ordered, ==, "3. three\n4. four\n\n1) one\n2) two");
  g_assert_cmpstr (loose, ==, "• a\n\n• b\n\n   more b\n\nAfter");
  g_assert_cmpstr (empty_item, ==, "• \n• x");
}

#define BAR "<span alpha=\"50%\">▎</span>"
#define QUOTED "<span style=\"italic\" alpha=\"75%\">"

static void
test_parse_quote (void)
{
  g_autofree char *markup = parse_single_text ("> quoted *text*\n> more\n\nafter");
  g_autofree char *blocks = parse_single_text ("> a\n>\n> > b\n>\n> - x\n>   - y");

  g_assert_cmpstr (markup, ==, BAR " " QUOTED "quoted <i>text</i>\n" BAR " more</span>\n\nafter");
  /* The bar goes on through the blank lines of one quote. */
  g_assert_cmpstr (blocks, ==,
                   BAR " " QUOTED "a</span>\n" BAR "\n"
                   BAR " " BAR " " QUOTED "b</span>\n" BAR "\n"
                   BAR " • " QUOTED "x</span>\n"
                   BAR "    ◦ " QUOTED "y</span>");
}

static void
test_parse_code (void)
{
  g_autoptr (GPtrArray) blocks =
    parse ("Intro\n\n```python extra words\nprint('<hi>' & \"x\")\n\n  indented\n```\n\nOutro");

  g_assert_cmpuint (blocks->len, ==, 3);
  g_assert_cmpint (block_at (blocks, 0)->kind, ==, TERN_MARKDOWN_BLOCK_TEXT);
  g_assert_cmpstr (block_at (blocks, 0)->text, ==, "Intro");
  g_assert_cmpint (block_at (blocks, 1)->kind, ==, TERN_MARKDOWN_BLOCK_CODE);
  g_assert_cmpstr (block_at (blocks, 1)->text, ==, "print('<hi>' & \"x\")\n\n  indented");
  g_assert_cmpstr (block_at (blocks, 1)->language, ==, "python");
  g_assert_cmpint (block_at (blocks, 2)->kind, ==, TERN_MARKDOWN_BLOCK_TEXT);
  g_assert_cmpstr (block_at (blocks, 2)->text, ==, "Outro");
}

static void
test_parse_code_variants (void)
{
  g_autoptr (GPtrArray) indented = parse ("    x = 1\n    y = 2\n");
  g_autoptr (GPtrArray) tilde = parse ("~~~\n```\n~~~");
  g_autoptr (GPtrArray) empty = parse ("```c\n```");
  g_autoptr (GPtrArray) adjacent = parse ("```a\n1\n```\n```b\n2\n```");

  g_assert_cmpuint (indented->len, ==, 1);
  g_assert_cmpint (block_at (indented, 0)->kind, ==, TERN_MARKDOWN_BLOCK_CODE);
  g_assert_cmpstr (block_at (indented, 0)->text, ==, "x = 1\ny = 2");
  g_assert_null (block_at (indented, 0)->language);

  g_assert_cmpuint (tilde->len, ==, 1);
  g_assert_cmpstr (block_at (tilde, 0)->text, ==, "```");

  g_assert_cmpuint (empty->len, ==, 1);
  g_assert_cmpstr (block_at (empty, 0)->text, ==, "");
  g_assert_cmpstr (block_at (empty, 0)->language, ==, "c");

  g_assert_cmpuint (adjacent->len, ==, 2);
  g_assert_cmpstr (block_at (adjacent, 0)->language, ==, "a");
  g_assert_cmpstr (block_at (adjacent, 1)->language, ==, "b");
}

static void
test_parse_code_unterminated (void)
{
  g_autoptr (GPtrArray) blocks = parse ("Here:\n\n```js\nlet a = 1;\nlet b");

  g_assert_cmpuint (blocks->len, ==, 2);
  g_assert_cmpint (block_at (blocks, 1)->kind, ==, TERN_MARKDOWN_BLOCK_CODE);
  g_assert_cmpstr (block_at (blocks, 1)->text, ==, "let a = 1;\nlet b");
  g_assert_cmpstr (block_at (blocks, 1)->language, ==, "js");
}

static void
test_parse_code_in_list (void)
{
  g_autoptr (GPtrArray) blocks = parse ("- item\n\n  ```sh\n  ls -l\n  ```\n- next");

  g_assert_cmpuint (blocks->len, ==, 3);
  g_assert_cmpstr (block_at (blocks, 0)->text, ==, "• item");
  g_assert_cmpstr (block_at (blocks, 1)->text, ==, "ls -l");
  g_assert_cmpstr (block_at (blocks, 1)->language, ==, "sh");
  g_assert_cmpstr (block_at (blocks, 2)->text, ==, "• next");
}

static void
test_parse_rule (void)
{
  g_autoptr (GPtrArray) blocks = parse ("a\n\n---\n\nb\n\n***\n* * *");

  g_assert_cmpuint (blocks->len, ==, 5);
  g_assert_cmpint (block_at (blocks, 0)->kind, ==, TERN_MARKDOWN_BLOCK_TEXT);
  g_assert_cmpint (block_at (blocks, 1)->kind, ==, TERN_MARKDOWN_BLOCK_RULE);
  g_assert_cmpint (block_at (blocks, 2)->kind, ==, TERN_MARKDOWN_BLOCK_TEXT);
  g_assert_cmpstr (block_at (blocks, 2)->text, ==, "b");
  g_assert_cmpint (block_at (blocks, 3)->kind, ==, TERN_MARKDOWN_BLOCK_RULE);
  g_assert_cmpint (block_at (blocks, 4)->kind, ==, TERN_MARKDOWN_BLOCK_RULE);
}

static void
test_parse_equal (void)
{
  TernMarkdownBlock a = { TERN_MARKDOWN_BLOCK_CODE, (char *) "x", (char *) "c" };
  TernMarkdownBlock b = { TERN_MARKDOWN_BLOCK_CODE, (char *) "x", (char *) "c" };
  TernMarkdownBlock c = { TERN_MARKDOWN_BLOCK_CODE, (char *) "x", NULL };
  TernMarkdownBlock d = { TERN_MARKDOWN_BLOCK_TEXT, (char *) "x", NULL };
  TernMarkdownBlock r1 = { TERN_MARKDOWN_BLOCK_RULE, NULL, NULL };
  TernMarkdownBlock r2 = { TERN_MARKDOWN_BLOCK_RULE, NULL, NULL };

  g_assert_true (tern_markdown_block_equal (&a, &b));
  g_assert_false (tern_markdown_block_equal (&a, &c));
  g_assert_false (tern_markdown_block_equal (&c, &d));
  g_assert_true (tern_markdown_block_equal (&r1, &r2));
  tern_markdown_block_free (NULL);
}

static void
test_parse_control_characters (void)
{
  g_autofree char *markup = parse_single_text ("a\x01" "b\x1f" "c\x7f" "d\xc2\x85" "e\xef\xbf\xbf" "f");

  /* Control characters become character references that Pango accepts. */
  g_assert_cmpstr (markup, ==, "a&#x1;b&#x1f;c&#x7f;d\xc2\x85" "e\xef\xbf\xbf" "f");
}

/* Each prefix of a reply, as streaming shows it. */
static const char sample[] =
  "# Plan\n\nHere is **the plan**, with `code` and a [link](https://example.org \"t\").\n\n"
  "1. First *step*\n2. Second step\n   - nested a\n   - nested b\n\n"
  "> A quote with <html> & stuff\n> > nested quote\n\n"
  "```c\nint main (void)\n{\n  return 0; /* <done> */\n}\n```\n\n"
  "---\n\nSetext\n------\n\n<div>raw</div>\n\n    indented code\n\nLast line  \nhard break ![img](https://x.y/i.png)";

static void
test_parse_prefixes (void)
{
  const char *end = sample + strlen (sample);

  for (const char *p = sample; p <= end; p = p < end ? g_utf8_next_char (p) : end + 1)
    {
      g_autofree char *prefix = g_strndup (sample, p - sample);
      g_autoptr (GPtrArray) blocks = parse (prefix);

      (void) blocks;
    }
}

/* The letters of @text, in order. */
static void
append_letters (GString *out, const char *text)
{
  for (const char *p = text; *p; p = g_utf8_next_char (p))
    if (g_unichar_isalpha (g_utf8_get_char (p)))
      g_string_append_unichar (out, g_utf8_get_char (p));
}

/* The letters a reader sees in @blocks: the text of the markup and the
 * code, in order. */
static char *
shown_letters (GPtrArray *blocks)
{
  GString *out = g_string_new (NULL);

  for (guint i = 0; i < blocks->len; i++)
    {
      TernMarkdownBlock *block = g_ptr_array_index (blocks, i);
      g_autofree char *plain = NULL;

      if (block->kind == TERN_MARKDOWN_BLOCK_TEXT)
        {
          g_assert_true (pango_parse_markup (block->text, -1, 0, NULL, &plain, NULL, NULL));
          append_letters (out, plain);
        }
      else if (block->kind == TERN_MARKDOWN_BLOCK_CODE)
        append_letters (out, block->text);
    }
  return g_string_free (out, FALSE);
}

/* Random mixes of every kind of syntax, hostile pieces among them: each
 * block is valid (parse checks it), and parsing is repeatable. */
static void
test_parse_random (void)
{
  static const char *const pieces[] = {
    "*", "**", "_", "`", "```", "~~~", "[", "]", "(", ")", "<", ">", "&", "#", "# ", "- ", "+ ", "1. ", "2) ", "\n",
    "\n\n", " ", "  ", "    ", "\t", "a", "word", "é", "日本", "\\", "!", "\"", "'", "|", "---", "***", "=", "<a>",
    "</b>", "&amp;", "&#0;", "&#x1F600;", "http://x.y", "https://e.org", "[x](https://e.org)", "<https://e.org>",
    "> ", ">", "<!--", "-->", "<div>", "\x01", "\x7f",
  };
  GRand *rand = g_rand_new_with_seed (20240601);
  guint n_blocks = 0;

  for (guint round = 0; round < 3000; round++)
    {
      g_autoptr (GString) text = g_string_new (NULL);
      guint n = g_rand_int_range (rand, 0, 120);

      for (guint i = 0; i < n; i++)
        g_string_append (text, pieces[g_rand_int_range (rand, 0, G_N_ELEMENTS (pieces))]);
      g_autoptr (GPtrArray) blocks = parse (text->str);
      g_autoptr (GPtrArray) again = tern_markdown_parse (text->str);
      g_assert_cmpuint (again->len, ==, blocks->len);
      for (guint i = 0; i < blocks->len; i++)
        g_assert_true (tern_markdown_block_equal (g_ptr_array_index (blocks, i), g_ptr_array_index (again, i)));
      n_blocks += blocks->len;
    }
  g_assert_cmpuint (n_blocks, >, 3000);
  g_rand_free (rand);
}

/* Random mixes of the syntax that only styles or arranges text (emphasis,
 * code, headings, lists, quotes, rules, breaks, escapes): the reader sees
 * every letter of the input, in order, and no other. (Links, images, HTML
 * and entities, which hide or turn letters into others, are left out; so
 * are backticks that could join into a fence followed by a word, which
 * becomes its language.) */
static void
test_parse_random_keeps_text (void)
{
  static const char *const pieces[] = {
    "*", "**", "_", "__", "`code`", "`x`", "\n```\n", "\n~~~\n", "[", "]", "# ", "## ", "- ", "+ ", "* ", "1. ", "2) ",
    "\n", "\n\n", " ", "  ", "    ", "\t", "> ", "\\", "!", "\"", "'", "|", "---", "***", "===", "a", "word", "é",
    "日本", "Ωmega", "x", "zz",
  };
  GRand *rand = g_rand_new_with_seed (20261206);

  for (guint round = 0; round < 3000; round++)
    {
      g_autoptr (GString) text = g_string_new (NULL);
      g_autoptr (GString) letters = g_string_new (NULL);
      guint n = g_rand_int_range (rand, 1, 120);

      for (guint i = 0; i < n; i++)
        g_string_append (text, pieces[g_rand_int_range (rand, 0, G_N_ELEMENTS (pieces))]);
      append_letters (letters, text->str);
      g_autoptr (GPtrArray) blocks = parse (text->str);
      g_autofree char *shown = shown_letters (blocks);
      if (g_strcmp0 (shown, letters->str) != 0)
        g_error ("round %u: the input's letters \"%s\" show as \"%s\"; input:\n%s", round, letters->str, shown,
                 text->str);
    }
  g_rand_free (rand);
}

static void
test_parse_deep_nesting (void)
{
  const guint depth = 100000;
  g_autoptr (GString) quotes = g_string_new (NULL);
  g_autoptr (GString) lists = g_string_new (NULL);
  g_autoptr (GString) emphasis = g_string_new (NULL);
  g_autoptr (GString) brackets = g_string_new (NULL);
  g_autoptr (GString) mixed = g_string_new (NULL);
  GString *texts[] = { quotes, lists, emphasis, brackets, mixed };

  for (guint i = 0; i < depth; i++)
    {
      g_string_append_c (quotes, '>');
      g_string_append (lists, "- ");
      g_string_append (emphasis, i % 2 ? "*" : "_");
      g_string_append_c (brackets, '[');
      g_string_append (mixed, i % 3 == 0 ? "> " : i % 3 == 1 ? "1. " : "* ");
    }
  g_string_append (quotes, " deep\\\nline two\\\nline *three*");
  g_string_append (lists, "deep\n\n  more");
  g_string_append (emphasis, "x");
  for (guint i = 0; i < depth; i++)
    g_string_append (emphasis, (depth - 1 - i) % 2 ? "*" : "_");
  g_string_append (brackets, "x");
  for (guint i = 0; i < depth; i++)
    g_string_append (brackets, "](https://e.org)");
  g_string_append (mixed, "end\n\n```\ncode\n```");

  for (guint t = 0; t < G_N_ELEMENTS (texts); t++)
    {
      g_autoptr (GPtrArray) blocks = parse (texts[t]->str);

      g_assert_cmpuint (blocks->len, >, 0);
      /* The markup stays proportional to the text, not to its depth squared. */
      for (guint i = 0; i < blocks->len; i++)
        {
          TernMarkdownBlock *block = block_at (blocks, i);

          if (block->text != NULL)
            g_assert_cmpuint (strlen (block->text), <, 40 * texts[t]->len);
        }
    }
}

static void
test_parse_large (void)
{
  g_autoptr (GString) text = g_string_new (NULL);
  g_autoptr (GPtrArray) blocks = NULL;
  guint n_text = 0, n_code = 0;

  while (text->len < 1024 * 1024)
    {
      g_string_append (text, "## Section\n\nSome *emphasis* and **strong** text with `code` & <tags>, "
                             "and a [link](https://example.org/page).\n\n"
                             "- item one\n- item two\n  1. sub\n\n> a quote\n\n"
                             "```python\nfor i in range(10):\n    print(i < 5)\n```\n\n");
    }
  blocks = parse (text->str);

  for (guint i = 0; i < blocks->len; i++)
    {
      TernMarkdownBlock *block = block_at (blocks, i);

      if (block->kind == TERN_MARKDOWN_BLOCK_TEXT)
        n_text++;
      else if (block->kind == TERN_MARKDOWN_BLOCK_CODE)
        {
          g_assert_cmpstr (block->text, ==, "for i in range(10):\n    print(i < 5)");
          n_code++;
        }
    }
  g_assert_cmpuint (n_code, >, 1000);
  g_assert_cmpuint (n_text, ==, n_code);

  {
    /* One long run of text is cut into TEXT blocks of bounded size. */
    g_autoptr (GString) prose = g_string_new (NULL);
    g_autoptr (GPtrArray) prose_blocks = NULL;

    while (prose->len < 1024 * 1024)
      g_string_append (prose, "A paragraph of *prose* that goes on for a while, and then some more.\n\n");
    prose_blocks = parse (prose->str);
    g_assert_cmpuint (prose_blocks->len, >, 100);
    for (guint i = 0; i < prose_blocks->len; i++)
      g_assert_cmpuint (strlen (block_at (prose_blocks, i)->text), <, 8192);
  }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/app/markdown/parse/empty", test_parse_empty);
  g_test_add_func ("/app/markdown/parse/inline", test_parse_inline);
  g_test_add_func ("/app/markdown/parse/escape", test_parse_escape);
  g_test_add_func ("/app/markdown/parse/raw-html", test_parse_raw_html);
  g_test_add_func ("/app/markdown/parse/strikethrough", test_parse_strikethrough);
  g_test_add_func ("/app/markdown/parse/autolinks", test_parse_autolinks);
  g_test_add_func ("/app/markdown/parse/table", test_parse_table);
  g_test_add_func ("/app/markdown/parse/table-variants", test_parse_table_variants);
  g_test_add_func ("/app/markdown/parse/paragraphs", test_parse_paragraphs);
  g_test_add_func ("/app/markdown/parse/headings", test_parse_headings);
  g_test_add_func ("/app/markdown/parse/links", test_parse_links);
  g_test_add_func ("/app/markdown/parse/lists", test_parse_lists);
  g_test_add_func ("/app/markdown/parse/quote", test_parse_quote);
  g_test_add_func ("/app/markdown/parse/code", test_parse_code);
  g_test_add_func ("/app/markdown/parse/code-variants", test_parse_code_variants);
  g_test_add_func ("/app/markdown/parse/code-unterminated", test_parse_code_unterminated);
  g_test_add_func ("/app/markdown/parse/code-in-list", test_parse_code_in_list);
  g_test_add_func ("/app/markdown/parse/rule", test_parse_rule);
  g_test_add_func ("/app/markdown/parse/equal", test_parse_equal);
  g_test_add_func ("/app/markdown/parse/control-characters", test_parse_control_characters);
  g_test_add_func ("/app/markdown/parse/prefixes", test_parse_prefixes);
  g_test_add_func ("/app/markdown/parse/random", test_parse_random);
  g_test_add_func ("/app/markdown/parse/random-keeps-text", test_parse_random_keeps_text);
  g_test_add_func ("/app/markdown/parse/deep-nesting", test_parse_deep_nesting);
  g_test_add_func ("/app/markdown/parse/large", test_parse_large);

  return g_test_run ();
}
