/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Opening a search result in the real window: the chat shows the message
 * that matched, not the end of the conversation, with the matching words
 * marked until the user types. No model is needed to read a transcript. */
#include "app-harness.h"

#include "tern-markdown-view.h"

#define QUESTION "What was made on each day? Answer in a table."
#define MATCH "Made on the second day, the firmament:"
#define MATCH_REPLY MATCH "\n\n| Day | Made |\n|:--|--:|\n| second | Firmament |"

/* A conversation long enough to scroll, whose match is near its start. */
static void
store_conversation (const char *dir)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *db = g_build_filename (dir, "tern.db", NULL);
  TernStore *store = tern_store_open (db, &error);

  g_assert_no_error (error);
  gint64 c = tern_store_conversation_new (store, "Genesis", 0, NULL, NULL, &error);
  g_assert_no_error (error);
  for (guint i = 0; i < 30; i++)
    {
      g_autofree char *question = g_strdup_printf ("Question %u: and the evening and the morning?", i);
      const char *reply = "And the evening and the morning were the day.\n\nAnd God saw that it was good.";

      tern_store_message_add (store, c, TERN_STORE_HEAD, TERN_ROLE_USER, i == 2 ? QUESTION : question, NULL, 0, NULL,
                              &error);
      g_assert_no_error (error);
      tern_store_message_add (store, c, TERN_STORE_HEAD, TERN_ROLE_ASSISTANT, i == 2 ? MATCH_REPLY : reply, NULL, 0,
                              NULL, &error);
      g_assert_no_error (error);
    }
  tern_store_conversation_new (store, "Another", 0, NULL, NULL, &error);
  g_assert_no_error (error);
  tern_store_free (store);
}

static gboolean
search_done (gpointer data)
{
  TernWindow *w = data;

  return g_str_equal (gtk_stack_get_visible_child_name (w->sidebar_stack), "results");
}

static void
collect_views (GtkWidget *widget, GPtrArray *views)
{
  if (TERN_IS_MARKDOWN_VIEW (widget))
    g_ptr_array_add (views, widget);
  for (GtkWidget *child = gtk_widget_get_first_child (widget); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    collect_views (child, views);
}

/* The shown message view whose text is @text, or NULL. */
static GtkWidget *
shown_view (TernWindow *w, const char *text)
{
  g_autoptr (GPtrArray) views = g_ptr_array_new ();

  collect_views (GTK_WIDGET (w->message_list), views);
  for (guint i = 0; i < views->len; i++)
    {
      GtkWidget *view = g_ptr_array_index (views, i);
      graphene_rect_t bounds;
      int height = gtk_widget_get_height (GTK_WIDGET (w->message_scroller));

      if (!gtk_widget_get_mapped (view) || !g_str_equal (tern_markdown_view_get_text (TERN_MARKDOWN_VIEW (view)), text)
          || !gtk_widget_compute_bounds (view, GTK_WIDGET (w->message_scroller), &bounds))
        continue;
      /* Wholly inside the part of the chat on screen. */
      if (bounds.origin.y >= 0 && bounds.origin.y + bounds.size.height <= height)
        return view;
    }
  return NULL;
}

/* The labels in @widget whose text is @text. */
static GtkWidget *
find_label (GtkWidget *widget, const char *text)
{
  if (GTK_IS_LABEL (widget) && g_str_equal (gtk_label_get_text (GTK_LABEL (widget)), text))
    return widget;
  for (GtkWidget *child = gtk_widget_get_first_child (widget); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *found = find_label (child, text);

      if (found != NULL)
        return found;
    }
  return NULL;
}

/* The text of @label marked with a background. */
static char *
marked_text (GtkWidget *label)
{
  PangoAttrList *attributes = gtk_label_get_attributes (GTK_LABEL (label));
  const char *text = gtk_label_get_text (GTK_LABEL (label));
  GString *marked = g_string_new (NULL);
  GSList *list;

  if (attributes == NULL)
    return g_string_free (marked, FALSE);
  list = pango_attr_list_get_attributes (attributes);
  for (GSList *l = list; l != NULL; l = l->next)
    {
      PangoAttribute *attribute = l->data;

      if (attribute->klass->type != PANGO_ATTR_BACKGROUND)
        continue;
      if (marked->len > 0)
        g_string_append_c (marked, '|');
      g_string_append_len (marked, text + attribute->start_index, attribute->end_index - attribute->start_index);
    }
  g_slist_free_full (list, (GDestroyNotify) pango_attribute_destroy);
  return g_string_free (marked, FALSE);
}

static gboolean
match_shown (gpointer data)
{
  TernWindow *w = data;
  /* Once every message is in the list, after the last layout. */
  GtkWidget *view = w->fill == NULL && w->reveal_id == 0 ? shown_view (w, MATCH_REPLY) : NULL;
  GtkWidget *label = view != NULL ? find_label (view, MATCH) : NULL;
  g_autofree char *marked = label != NULL ? marked_text (label) : NULL;

  return marked != NULL && g_str_equal (marked, "firmament");
}

static gboolean
unmarked (gpointer data)
{
  GtkWidget *label = data;
  g_autofree char *marked = marked_text (label);

  return marked[0] == '\0';
}

static void
search_body (AppHarness *h, gpointer data)
{
  TernWindow *w = h->window;
  GtkAdjustment *adj = gtk_scrolled_window_get_vadjustment (w->message_scroller);
  GtkWidget *view, *label, *cell;
  g_autofree char *marked = NULL;

  gtk_window_set_default_size (GTK_WINDOW (w), 900, 600);
  gtk_editable_set_text (GTK_EDITABLE (w->search_entry), "firmament");
  g_signal_emit_by_name (w->search_entry, "search-changed");
  app_harness_sync (w);
  app_harness_wait ("search results", search_done, w, 30);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (w->results)), >=, 1);

  /* Activated as a click or Enter on the first result does. */
  g_signal_emit_by_name (w->result_list, "activate", 0);
  app_harness_wait ("the match in view, marked", match_shown, w, 30);

  /* Not at the end: the match is the sixth of sixty messages. */
  g_assert_cmpfloat (gtk_adjustment_get_value (adj) + gtk_adjustment_get_page_size (adj), <,
                     gtk_adjustment_get_upper (adj) - 200);

  /* The table cell is marked too, whatever its case; the question is not. */
  view = shown_view (w, MATCH_REPLY);
  cell = find_label (view, "Firmament");
  g_assert_nonnull (cell);
  marked = marked_text (cell);
  g_assert_cmpstr (marked, ==, "Firmament");
  g_assert_cmpstr (gtk_label_get_label (GTK_LABEL (cell)), ==, "Firmament");

  /* Typing clears the marks. */
  label = find_label (view, MATCH);
  gtk_text_buffer_set_text (gtk_text_view_get_buffer (w->composer), "And", -1);
  /* At once, long before the marks would time out. */
  app_harness_wait ("the marks to go", unmarked, label, 2);
  gtk_text_buffer_set_text (gtk_text_view_get_buffer (w->composer), "", -1);
}

static void
test_open_search_result (void)
{
  AppHarness h;

  app_harness_init (&h, NULL, 1, 256);
  store_conversation (h.dir);
  app_harness_run (&h, search_body, NULL);
  app_harness_clear (&h);
}

int
main (int argc, char **argv)
{
  gtk_test_init (&argc, &argv, NULL);
  adw_init ();
  g_test_add_func ("/app/window/open-search-result", test_open_search_result);
  return g_test_run ();
}
