/* SPDX-License-Identifier: GPL-3.0-or-later */
/* TernMarkdownView: children, reuse while streaming, copy, keyboard. The
 * tests need a display (Xvfb) and are skipped without one. */
#include <adwaita.h>
#include <string.h>

#include "tern-markdown-view.h"

#define TIMEOUT_S 30

static gboolean have_display;

static gboolean
on_timeout (gpointer data)
{
  g_error ("the test took longer than %d s", TIMEOUT_S);
  return G_SOURCE_REMOVE;
}

static gboolean
require_display (void)
{
  if (!have_display)
    g_test_skip ("no display");
  return have_display;
}

static GtkWidget *
nth_child (GtkWidget *widget, guint n)
{
  GtkWidget *child = gtk_widget_get_first_child (widget);

  while (child != NULL && n-- > 0)
    child = gtk_widget_get_next_sibling (child);
  g_assert_nonnull (child);
  return child;
}

static guint
n_children (GtkWidget *widget)
{
  guint n = 0;

  for (GtkWidget *child = gtk_widget_get_first_child (widget); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    n++;
  return n;
}

static void
collect_of_type (GtkWidget *widget, GType type, GPtrArray *found)
{
  if (G_TYPE_CHECK_INSTANCE_TYPE (widget, type))
    g_ptr_array_add (found, widget);
  for (GtkWidget *child = gtk_widget_get_first_child (widget); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    collect_of_type (child, type, found);
}

/* The only descendant of @widget of @type. */
static GtkWidget *
find_one (GtkWidget *widget, GType type)
{
  g_autoptr (GPtrArray) found = g_ptr_array_new ();

  collect_of_type (widget, type, found);
  g_assert_cmpuint (found->len, ==, 1);
  return g_ptr_array_index (found, 0);
}

/* The code label of a code block: the selectable label with the monospace class. */
static GtkWidget *
code_label (GtkWidget *frame)
{
  g_autoptr (GPtrArray) labels = g_ptr_array_new ();

  collect_of_type (frame, GTK_TYPE_LABEL, labels);
  for (guint i = 0; i < labels->len; i++)
    {
      GtkWidget *label = g_ptr_array_index (labels, i);

      if (gtk_widget_has_css_class (label, "monospace"))
        return label;
    }
  g_assert_not_reached ();
}

static GtkWidget *
new_view (void)
{
  return g_object_ref_sink (tern_markdown_view_new ());
}

static gboolean
has_background (GtkWidget *label, int start, int end)
{
  PangoAttrList *attributes = gtk_label_get_attributes (GTK_LABEL (label));
  GSList *list = NULL;

  if (attributes == NULL)
    return FALSE;
  list = pango_attr_list_get_attributes (attributes);
  for (GSList *l = list; l != NULL; l = l->next)
    {
      PangoAttribute *attribute = l->data;

      if (attribute->klass->type == PANGO_ATTR_BACKGROUND && (int) attribute->start_index == start
          && (int) attribute->end_index == end)
        {
          g_slist_free_full (list, (GDestroyNotify) pango_attribute_destroy);
          return TRUE;
        }
    }
  g_slist_free_full (list, (GDestroyNotify) pango_attribute_destroy);
  return FALSE;
}

static guint
n_backgrounds (GtkWidget *label)
{
  PangoAttrList *attributes = gtk_label_get_attributes (GTK_LABEL (label));
  GSList *list = NULL;
  guint n = 0;

  if (attributes == NULL)
    return 0;
  list = pango_attr_list_get_attributes (attributes);
  for (GSList *l = list; l != NULL; l = l->next)
    n += ((PangoAttribute *) l->data)->klass->type == PANGO_ATTR_BACKGROUND;
  g_slist_free_full (list, (GDestroyNotify) pango_attribute_destroy);
  return n;
}

/* A table is a grid of selectable labels: the header bold, the columns
 * aligned as the delimiter row says, links and strikethrough kept. */
static void
test_view_table (void)
{
  g_autoptr (GtkWidget) view = NULL;
  GtkWidget *grid, *cell;
  PangoAttrList *attributes;

  if (!require_display ())
    return;

  view = new_view ();
  tern_markdown_view_set_text (TERN_MARKDOWN_VIEW (view), "Before\n\n| Name | Size | Note |\n|:--|--:|:-:|\n"
                                                          "| tiny | 1 MB | ~~old~~ |\n\nAfter");
  g_assert_cmpuint (n_children (view), ==, 3);
  g_assert_true (GTK_IS_SCROLLED_WINDOW (nth_child (view, 1)));
  grid = find_one (nth_child (view, 1), GTK_TYPE_GRID);

  cell = gtk_grid_get_child_at (GTK_GRID (grid), 0, 0);
  g_assert_cmpstr (gtk_label_get_text (GTK_LABEL (cell)), ==, "Name");
  g_assert_cmpstr (gtk_label_get_label (GTK_LABEL (cell)), ==, "<b>Name</b>");
  g_assert_true (gtk_label_get_selectable (GTK_LABEL (cell)));
  g_assert_cmpfloat (gtk_label_get_xalign (GTK_LABEL (cell)), ==, 0.0);

  cell = gtk_grid_get_child_at (GTK_GRID (grid), 1, 1);
  g_assert_cmpstr (gtk_label_get_text (GTK_LABEL (cell)), ==, "1 MB");
  g_assert_cmpfloat (gtk_label_get_xalign (GTK_LABEL (cell)), ==, 1.0);
  g_assert_true (gtk_label_get_selectable (GTK_LABEL (cell)));

  cell = gtk_grid_get_child_at (GTK_GRID (grid), 2, 1);
  g_assert_cmpstr (gtk_label_get_text (GTK_LABEL (cell)), ==, "old");
  g_assert_cmpfloat (gtk_label_get_xalign (GTK_LABEL (cell)), ==, 0.5);
  attributes = gtk_label_get_attributes (GTK_LABEL (cell));
  g_assert_null (attributes);
  g_assert_cmpstr (gtk_label_get_label (GTK_LABEL (cell)), ==, "<s>old</s>");

  /* Streaming a row in keeps the cells already shown. */
  tern_markdown_view_set_text (TERN_MARKDOWN_VIEW (view), "Before\n\n| Name | Size | Note |\n|:--|--:|:-:|\n"
                                                          "| tiny | 1 MB | ~~old~~ |\n| big | 9 GB | new |\n\nAfter");
  g_assert_true (find_one (nth_child (view, 1), GTK_TYPE_GRID) == grid);
  g_assert_true (gtk_grid_get_child_at (GTK_GRID (grid), 0, 0) != NULL);
  g_assert_cmpstr (gtk_label_get_text (GTK_LABEL (gtk_grid_get_child_at (GTK_GRID (grid), 0, 2))), ==, "big");
  g_assert_cmpuint (n_children (grid), ==, 9);

  /* Fewer rows remove the labels of the rows gone, in the same grid. */
  tern_markdown_view_set_text (TERN_MARKDOWN_VIEW (view), "Before\n\n| Name | Size | Note |\n|:--|--:|:-:|\n"
                                                          "| tiny | 1 MB | ~~old~~ |\n\nAfter");
  g_assert_true (find_one (nth_child (view, 1), GTK_TYPE_GRID) == grid);
  g_assert_cmpuint (n_children (grid), ==, 6);
  g_assert_null (gtk_grid_get_child_at (GTK_GRID (grid), 0, 2));

  tern_markdown_view_set_text (TERN_MARKDOWN_VIEW (view), "| A | B |\n|---|---|");
  g_assert_cmpuint (n_children (view), ==, 1);
  grid = find_one (view, GTK_TYPE_GRID);
  g_assert_cmpuint (n_children (grid), ==, 2);
  g_assert_cmpstr (gtk_label_get_text (GTK_LABEL (gtk_grid_get_child_at (GTK_GRID (grid), 1, 0))), ==, "B");
}

/* In a window, a table is as tall as its rows, however long its cells. */
static void
test_view_table_height (void)
{
  GtkWidget *window, *scrolled, *view, *table, *grid;
  int natural;

  if (!require_display ())
    return;

  window = gtk_window_new ();
  scrolled = gtk_scrolled_window_new ();
  view = tern_markdown_view_new ();
  gtk_window_set_default_size (GTK_WINDOW (window), 700, 600);
  gtk_scrolled_window_set_policy (GTK_SCROLLED_WINDOW (scrolled), GTK_POLICY_NEVER, GTK_POLICY_AUTOMATIC);
  gtk_scrolled_window_set_child (GTK_SCROLLED_WINDOW (scrolled), view);
  gtk_window_set_child (GTK_WINDOW (window), scrolled);
  tern_markdown_view_set_text (TERN_MARKDOWN_VIEW (view),
                               "| Model | Notes |\n|---|---|\n"
                               "| Llama 3.1 Instruct | a long cell that says a great deal about the model and more |\n"
                               "| SmolLM2 | short |");
  gtk_window_present (GTK_WINDOW (window));
  for (int i = 0; i < 50 && gtk_widget_get_height (view) == 0; i++)
    {
      g_usleep (10000);
      while (g_main_context_iteration (NULL, FALSE))
        ;
    }

  table = nth_child (view, 0);
  grid = find_one (table, GTK_TYPE_GRID);
  gtk_widget_measure (grid, GTK_ORIENTATION_VERTICAL, -1, NULL, &natural, NULL, NULL);
  g_assert_cmpint (gtk_widget_get_height (grid), >, 0);
  /* Three rows of one line each, not the height of the narrowest grid. */
  g_assert_cmpint (gtk_widget_get_height (table), <=, natural + 16);
  g_assert_cmpint (natural, <, 3 * 40);
  gtk_window_destroy (GTK_WINDOW (window));
}

/* Search terms are highlighted in text, code and cells, kept while the
 * text changes, and cleared. */
static void
test_view_highlight (void)
{
  g_autoptr (GtkWidget) view = NULL;
  const char *terms[] = { "apple", "pie", NULL };
  GtkWidget *label, *code, *cell;

  if (!require_display ())
    return;

  view = new_view ();
  tern_markdown_view_set_text (TERN_MARKDOWN_VIEW (view),
                               "An **Apple** a day.\n\n```\napple = 1\n```\n\n| Pie |\n|---|\n| x |");
  label = nth_child (view, 0);
  code = code_label (nth_child (view, 1));
  cell = gtk_grid_get_child_at (GTK_GRID (find_one (nth_child (view, 2), GTK_TYPE_GRID)), 0, 0);
  g_assert_cmpuint (n_backgrounds (label), ==, 0);

  tern_markdown_view_set_highlight (TERN_MARKDOWN_VIEW (view), terms);
  g_assert_true (has_background (label, 3, 8));
  g_assert_cmpuint (n_backgrounds (label), ==, 1);
  g_assert_true (has_background (code, 0, 5));
  g_assert_true (has_background (cell, 0, 3));

  tern_markdown_view_set_text (TERN_MARKDOWN_VIEW (view), "No fruit, then apple pie.");
  label = nth_child (view, 0);
  g_assert_cmpuint (n_backgrounds (label), ==, 2);
  g_assert_true (has_background (label, 15, 20));

  tern_markdown_view_set_highlight (TERN_MARKDOWN_VIEW (view), NULL);
  g_assert_cmpuint (n_backgrounds (label), ==, 0);
}

static void
test_view_children (void)
{
  g_autoptr (GtkWidget) view = NULL;
  GtkWidget *label, *frame, *code;

  if (!require_display ())
    return;
  view = new_view ();
  g_assert_cmpuint (n_children (view), ==, 0);

  tern_markdown_view_set_text (TERN_MARKDOWN_VIEW (view),
                               "Some *text* & <b>html</b>\n\n```rust\nfn main() {}\n```\n\n---\n\nEnd.");
  g_assert_cmpuint (n_children (view), ==, 4);

  label = nth_child (view, 0);
  g_assert_true (GTK_IS_LABEL (label));
  g_assert_cmpstr (gtk_label_get_text (GTK_LABEL (label)), ==, "Some text & <b>html</b>");
  g_assert_true (gtk_label_get_wrap (GTK_LABEL (label)));
  g_assert_cmpint (gtk_label_get_wrap_mode (GTK_LABEL (label)), ==, PANGO_WRAP_WORD_CHAR);
  g_assert_true (gtk_label_get_selectable (GTK_LABEL (label)));
  g_assert_true (gtk_label_get_use_markup (GTK_LABEL (label)));
  g_assert_cmpfloat (gtk_label_get_xalign (GTK_LABEL (label)), ==, 0.0);

  frame = nth_child (view, 1);
  g_assert_true (GTK_IS_FRAME (frame));
  g_assert_true (gtk_widget_has_css_class (frame, "code-block"));
  code = code_label (frame);
  g_assert_cmpstr (gtk_label_get_text (GTK_LABEL (code)), ==, "fn main() {}");
  g_assert_true (gtk_label_get_selectable (GTK_LABEL (code)));
  g_assert_false (gtk_label_get_wrap (GTK_LABEL (code)));
  {
    GtkWidget *scrolled = find_one (frame, GTK_TYPE_SCROLLED_WINDOW);
    GtkPolicyType h, v;

    gtk_scrolled_window_get_policy (GTK_SCROLLED_WINDOW (scrolled), &h, &v);
    g_assert_cmpint (h, ==, GTK_POLICY_AUTOMATIC);
    g_assert_cmpint (v, ==, GTK_POLICY_NEVER);
  }
  {
    /* The header shows the language. */
    g_autoptr (GPtrArray) labels = g_ptr_array_new ();
    gboolean shown = FALSE;

    collect_of_type (frame, GTK_TYPE_LABEL, labels);
    for (guint i = 0; i < labels->len; i++)
      shown |= g_strcmp0 (gtk_label_get_text (g_ptr_array_index (labels, i)), "rust") == 0;
    g_assert_true (shown);
  }

  g_assert_true (GTK_IS_SEPARATOR (nth_child (view, 2)));
  g_assert_true (GTK_IS_LABEL (nth_child (view, 3)));
  g_assert_cmpstr (gtk_label_get_text (GTK_LABEL (nth_child (view, 3))), ==, "End.");

  tern_markdown_view_set_text (TERN_MARKDOWN_VIEW (view), "");
  g_assert_cmpuint (n_children (view), ==, 0);
}

static void
on_notify (GObject *object, GParamSpec *pspec, guint *count)
{
  (*count)++;
}

static void
test_view_streaming (void)
{
  g_autoptr (GtkWidget) view = NULL;
  g_autoptr (GString) text = g_string_new ("First paragraph with **bold**.\n\n```c\nint x;\n```\n\nSecond");
  GtkWidget *first, *frame, *last;
  guint notified = 0;

  if (!require_display ())
    return;
  view = new_view ();
  g_signal_connect (view, "notify::text", G_CALLBACK (on_notify), &notified);

  tern_markdown_view_set_text (TERN_MARKDOWN_VIEW (view), text->str);
  g_assert_cmpuint (notified, ==, 1);
  g_assert_cmpuint (n_children (view), ==, 3);
  first = nth_child (view, 0);
  frame = nth_child (view, 1);
  last = nth_child (view, 2);

  /* The same text again changes nothing. */
  tern_markdown_view_set_text (TERN_MARKDOWN_VIEW (view), text->str);
  g_assert_cmpuint (notified, ==, 1);

  /* Token by token: the same widgets, the last one updated. */
  for (guint i = 0; i < 50; i++)
    {
      g_string_append (text, i % 7 == 6 ? "\n" : " word");
      tern_markdown_view_set_text (TERN_MARKDOWN_VIEW (view), text->str);
      g_assert_cmpuint (n_children (view), ==, 3);
      g_assert_true (nth_child (view, 0) == first);
      g_assert_true (nth_child (view, 1) == frame);
      g_assert_true (nth_child (view, 2) == last);
    }
  g_assert_cmpuint (notified, ==, 51);
  g_assert_true (g_str_has_prefix (gtk_label_get_text (GTK_LABEL (last)), "Second word word"));
  g_assert_cmpstr (gtk_label_get_text (GTK_LABEL (first)), ==, "First paragraph with bold.");

  /* A code block opened and growing: the earlier widgets stay. */
  g_string_append (text, "\n\n```py\nprint(1)");
  tern_markdown_view_set_text (TERN_MARKDOWN_VIEW (view), text->str);
  g_assert_cmpuint (n_children (view), ==, 4);
  {
    GtkWidget *growing = nth_child (view, 3);

    g_assert_true (GTK_IS_FRAME (growing));
    g_string_append (text, "\nprint(2)");
    tern_markdown_view_set_text (TERN_MARKDOWN_VIEW (view), text->str);
    g_assert_true (nth_child (view, 3) == growing);
    g_assert_true (nth_child (view, 0) == first);
    g_assert_cmpstr (gtk_label_get_text (GTK_LABEL (code_label (growing))), ==, "print(1)\nprint(2)");

    /* The fence closes and text follows. */
    g_string_append (text, "\n```\n\nDone.");
    tern_markdown_view_set_text (TERN_MARKDOWN_VIEW (view), text->str);
    g_assert_cmpuint (n_children (view), ==, 5);
    g_assert_true (nth_child (view, 3) == growing);
    g_assert_cmpstr (gtk_label_get_text (GTK_LABEL (nth_child (view, 4))), ==, "Done.");
  }

  /* Shorter again (a regenerated reply): extra widgets go. */
  tern_markdown_view_set_text (TERN_MARKDOWN_VIEW (view), "First paragraph with **bold**.");
  g_assert_cmpuint (n_children (view), ==, 1);
  g_assert_true (nth_child (view, 0) == first);
}

static void
test_view_long_stream (void)
{
  g_autoptr (GtkWidget) view = NULL;
  g_autoptr (GString) text = g_string_new (NULL);
  GtkWidget *first = NULL;

  if (!require_display ())
    return;
  view = new_view ();

  /* Past the TEXT block soft limit, the first label stops changing. */
  for (guint i = 0; i < 400; i++)
    {
      g_string_append (text, i % 10 == 9 ? "\n\n" : "streamed words ");
      tern_markdown_view_set_text (TERN_MARKDOWN_VIEW (view), text->str);
      if (first == NULL)
        first = nth_child (view, 0);
      g_assert_true (nth_child (view, 0) == first);
    }
  g_assert_cmpuint (n_children (view), >, 1);
}

static void
test_view_kind_change (void)
{
  g_autoptr (GtkWidget) view = NULL;

  if (!require_display ())
    return;
  view = new_view ();

  tern_markdown_view_set_text (TERN_MARKDOWN_VIEW (view), "a\n\nb");
  g_assert_true (GTK_IS_LABEL (nth_child (view, 0)));
  tern_markdown_view_set_text (TERN_MARKDOWN_VIEW (view), "```\na\n\nb");
  g_assert_cmpuint (n_children (view), ==, 1);
  g_assert_true (GTK_IS_FRAME (nth_child (view, 0)));
  tern_markdown_view_set_text (TERN_MARKDOWN_VIEW (view), "---\n\nx\n\n---");
  g_assert_cmpuint (n_children (view), ==, 3);
  g_assert_true (GTK_IS_SEPARATOR (nth_child (view, 0)));
  g_assert_true (GTK_IS_LABEL (nth_child (view, 1)));
  g_assert_true (GTK_IS_SEPARATOR (nth_child (view, 2)));
}

static void
test_view_property (void)
{
  g_autoptr (GtkWidget) view = NULL;
  g_autofree char *text = NULL;

  if (!require_display ())
    return;
  view = new_view ();

  g_assert_cmpstr (tern_markdown_view_get_text (TERN_MARKDOWN_VIEW (view)), ==, "");
  g_object_set (view, "text", "*hi*", NULL);
  g_object_get (view, "text", &text, NULL);
  g_assert_cmpstr (text, ==, "*hi*");
  g_assert_cmpuint (n_children (view), ==, 1);
  tern_markdown_view_set_text (TERN_MARKDOWN_VIEW (view), NULL);
  g_assert_cmpstr (tern_markdown_view_get_text (TERN_MARKDOWN_VIEW (view)), ==, "");
  g_assert_cmpuint (n_children (view), ==, 0);
}

static void
on_text_read (GObject *source, GAsyncResult *result, gpointer data)
{
  char **text = data;
  g_autoptr (GError) error = NULL;

  *text = gdk_clipboard_read_text_finish (GDK_CLIPBOARD (source), result, &error);
  g_assert_no_error (error);
  g_assert_nonnull (*text);
}

static gboolean
on_wait_done (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

static void
test_view_copy (void)
{
  static const char code[] = "print('<hi>' & \"x\")\n\tindented\n\nünïcödé";
  g_autoptr (GtkWidget) view = NULL;
  g_autoptr (GtkWidget) other = NULL;
  g_autofree char *markdown = g_strdup_printf ("Text\n\n```python\n%s\n```\n", code);
  g_autofree char *read = NULL;
  GtkWidget *button;
  GdkClipboard *clipboard;
  gboolean waited = FALSE;
  guint guard;

  if (!require_display ())
    return;
  guard = g_timeout_add_seconds (TIMEOUT_S, on_timeout, NULL);
  view = new_view ();
  tern_markdown_view_set_text (TERN_MARKDOWN_VIEW (view), markdown);

  button = find_one (view, GTK_TYPE_BUTTON);
  g_assert_cmpstr (gtk_button_get_icon_name (GTK_BUTTON (button)), ==, "edit-copy-symbolic");
  g_signal_emit_by_name (button, "clicked");
  g_assert_cmpstr (gtk_button_get_icon_name (GTK_BUTTON (button)), ==, "object-select-symbolic");

  clipboard = gtk_widget_get_clipboard (button);
  gdk_clipboard_read_text_async (clipboard, NULL, on_text_read, &read);
  while (read == NULL)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpstr (read, ==, code);

  /* A view destroyed while its button shows "copied" leaves nothing behind
   * that fires later. */
  other = new_view ();
  tern_markdown_view_set_text (TERN_MARKDOWN_VIEW (other), "```\nx\n```");
  g_signal_emit_by_name (find_one (other, GTK_TYPE_BUTTON), "clicked");
  g_assert_finalize_object (g_steal_pointer (&other));

  g_timeout_add (1700, on_wait_done, &waited);
  while (!waited)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpstr (gtk_button_get_icon_name (GTK_BUTTON (button)), ==, "edit-copy-symbolic");
  g_source_remove (guard);
}

static void
test_view_accessible (void)
{
  g_autoptr (GtkWidget) view = NULL;
  g_autoptr (GPtrArray) buttons = g_ptr_array_new ();

  if (!require_display ())
    return;
  view = new_view ();
  tern_markdown_view_set_text (TERN_MARKDOWN_VIEW (view), "a\n\n```\n1\n```\n\n```sh\n2\n```\n\nb\n\n    3\n");

  collect_of_type (view, GTK_TYPE_BUTTON, buttons);
  g_assert_cmpuint (buttons->len, ==, 3);
  for (guint i = 0; i < buttons->len; i++)
    {
      GtkWidget *button = g_ptr_array_index (buttons, i);

      g_assert_cmpstr (gtk_widget_get_tooltip_text (button), ==, "Copy code");
      g_assert_true (gtk_widget_get_focusable (button));
    }
}

static void
test_view_focus (void)
{
  GtkWidget *window;
  GtkWidget *view;
  GtkWidget *button;
  GtkWidget *link_label;

  if (!require_display ())
    return;
  window = gtk_window_new ();
  view = tern_markdown_view_new ();
  gtk_window_set_child (GTK_WINDOW (window), view);
  tern_markdown_view_set_text (TERN_MARKDOWN_VIEW (view),
                               "Plain text.\n\n```c\ncode\n```\n\nMore plain.\n\n---\n\n"
                               "See [this](https://example.org).");
  button = find_one (view, GTK_TYPE_BUTTON);
  link_label = nth_child (view, 4);
  gtk_window_present (GTK_WINDOW (window));
  gtk_window_set_focus (GTK_WINDOW (window), NULL);

  /* Tab goes to the copy button, then to the link, then out. */
  g_assert_true (gtk_widget_child_focus (view, GTK_DIR_TAB_FORWARD));
  g_assert_true (gtk_window_get_focus (GTK_WINDOW (window)) == button);
  g_assert_true (gtk_widget_child_focus (view, GTK_DIR_TAB_FORWARD));
  g_assert_true (gtk_window_get_focus (GTK_WINDOW (window)) == link_label);
  g_assert_false (gtk_widget_child_focus (view, GTK_DIR_TAB_FORWARD));

  /* And back. */
  gtk_window_set_focus (GTK_WINDOW (window), NULL);
  g_assert_true (gtk_widget_child_focus (view, GTK_DIR_TAB_BACKWARD));
  g_assert_true (gtk_window_get_focus (GTK_WINDOW (window)) == link_label);
  g_assert_true (gtk_widget_child_focus (view, GTK_DIR_TAB_BACKWARD));
  g_assert_true (gtk_window_get_focus (GTK_WINDOW (window)) == button);

  /* Updating the text while a label has focus leaves focus alone. */
  gtk_widget_grab_focus (nth_child (view, 2));
  tern_markdown_view_set_text (TERN_MARKDOWN_VIEW (view),
                               "Plain text.\n\n```c\ncode\n```\n\nMore plain, longer.\n\n---\n\n"
                               "See [this](https://example.org). Yes");
  g_assert_true (gtk_window_get_focus (GTK_WINDOW (window)) == nth_child (view, 2));
  /* From a clicked label, Tab goes on to the next stop. */
  g_assert_true (gtk_widget_child_focus (view, GTK_DIR_TAB_FORWARD));
  g_assert_true (gtk_window_get_focus (GTK_WINDOW (window)) == nth_child (view, 4));

  /* A clicked code label: Shift+Tab goes to its copy button, Tab past it. */
  gtk_widget_grab_focus (code_label (nth_child (view, 1)));
  g_assert_true (gtk_widget_child_focus (view, GTK_DIR_TAB_BACKWARD));
  g_assert_true (gtk_window_get_focus (GTK_WINDOW (window)) == button);
  gtk_widget_grab_focus (code_label (nth_child (view, 1)));
  g_assert_true (gtk_widget_child_focus (view, GTK_DIR_TAB_FORWARD));
  g_assert_true (gtk_window_get_focus (GTK_WINDOW (window)) == nth_child (view, 4));

  gtk_window_destroy (GTK_WINDOW (window));
}

static void
test_view_lifecycle (void)
{
  if (!require_display ())
    return;

  for (guint i = 0; i < 300; i++)
    {
      GtkWidget *view = new_view ();
      GtkWidget *label;

      tern_markdown_view_set_text (TERN_MARKDOWN_VIEW (view),
                                   "# Hi\n\ntext [l](https://e.org)\n\n```c\nx\n```\n\n---\n\n- a\n- b");
      tern_markdown_view_set_text (TERN_MARKDOWN_VIEW (view), "# Hi\n\ntext\n\n```c\nx\ny\n```\n\n---");
      label = nth_child (view, 0);
      g_object_add_weak_pointer (G_OBJECT (label), (gpointer *) &label);
      g_assert_finalize_object (view);
      g_assert_null (label);
    }
}

static void
on_css_error (GtkCssProvider *provider, GtkCssSection *section, GError *error, guint *count)
{
  g_test_message ("style.css: %s", error->message);
  (*count)++;
}

/* The code block rules load in the application's stylesheet. */
static void
test_view_css (void)
{
  g_autofree char *path = g_test_build_filename (G_TEST_DIST, "..", "ui", "style.css", NULL);
  g_autofree char *css = NULL;
  g_autoptr (GtkCssProvider) provider = NULL;
  guint errors = 0;

  if (!require_display ())
    return;
  if (!g_file_get_contents (path, &css, NULL, NULL))
    {
      g_test_skip ("ui/style.css not found");
      return;
    }
  g_assert_nonnull (strstr (css, ".code-block"));
  provider = gtk_css_provider_new ();
  g_signal_connect (provider, "parsing-error", G_CALLBACK (on_css_error), &errors);
  gtk_css_provider_load_from_data (provider, css, -1);
  g_assert_cmpuint (errors, ==, 0);
}

int

main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/app/markdown/view/children", test_view_children);
  g_test_add_func ("/app/markdown/view/table", test_view_table);
  g_test_add_func ("/app/markdown/view/table-height", test_view_table_height);
  g_test_add_func ("/app/markdown/view/highlight", test_view_highlight);
  g_test_add_func ("/app/markdown/view/streaming", test_view_streaming);
  g_test_add_func ("/app/markdown/view/long-stream", test_view_long_stream);
  g_test_add_func ("/app/markdown/view/kind-change", test_view_kind_change);
  g_test_add_func ("/app/markdown/view/property", test_view_property);
  g_test_add_func ("/app/markdown/view/copy", test_view_copy);
  g_test_add_func ("/app/markdown/view/accessible", test_view_accessible);
  g_test_add_func ("/app/markdown/view/focus", test_view_focus);
  g_test_add_func ("/app/markdown/view/lifecycle", test_view_lifecycle);
  g_test_add_func ("/app/markdown/view/css", test_view_css);

  have_display = gtk_init_check ();
  if (have_display)
    adw_init ();

  return g_test_run ();
}
