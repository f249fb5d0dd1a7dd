/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The window's layout as a user sees it, without the demo model: the
 * welcome offers only what exists, the chat's background reaches both
 * edges (no grey bands beside it), a sidebar row's title is level with its
 * menu button, and a narrow window still shows a title. */
#include "app-harness.h"

#include <string.h>

#define TITLE "Genesis"

static void
store_conversation (const char *dir)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *db = g_build_filename (dir, "tern.db", NULL);
  TernStore *store = tern_store_open (db, &error);
  gint64 c;

  g_assert_no_error (error);
  c = tern_store_conversation_new (store, TITLE, 0, NULL, NULL, &error);
  g_assert_no_error (error);
  tern_store_message_add (store, c, TERN_STORE_HEAD, TERN_ROLE_USER, "Hello", NULL, 0, NULL, &error);
  g_assert_no_error (error);
  tern_store_message_add (store, c, TERN_STORE_HEAD, TERN_ROLE_ASSISTANT, "In the beginning.", NULL, 0, NULL, &error);
  g_assert_no_error (error);
  tern_store_free (store);
}

/* Lets the window lay out and draw. */
static void
settle (void)
{
  for (int i = 0; i < 30; i++)
    {
      g_usleep (10000);
      while (g_main_context_iteration (NULL, FALSE))
        ;
    }
}

static void
collect_labels (GtkWidget *widget, GPtrArray *labels)
{
  if (GTK_IS_LABEL (widget) && gtk_widget_get_mapped (widget) && gtk_widget_get_width (widget) > 0)
    g_ptr_array_add (labels, widget);
  for (GtkWidget *child = gtk_widget_get_first_child (widget); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    collect_labels (child, labels);
}

/* Whether a label on screen under @root shows @text (NULL: any text
 * containing @part, case aside). */
static gboolean
shows_text (GtkWidget *root, const char *text, const char *part)
{
  g_autoptr (GPtrArray) labels = g_ptr_array_new ();

  collect_labels (root, labels);
  for (guint i = 0; i < labels->len; i++)
    {
      const char *shown = gtk_label_get_text (GTK_LABEL (g_ptr_array_index (labels, i)));
      g_autofree char *folded = g_utf8_strdown (shown, -1);

      if (text != NULL ? g_str_equal (shown, text) : strstr (folded, part) != NULL)
        return TRUE;
    }
  return FALSE;
}

/* The window as drawn, RGBA rows. */
static guchar *
draw_window (GtkWidget *window, int *width, int *height, gsize *stride)
{
  g_autoptr (GdkPaintable) paintable = gtk_widget_paintable_new (window);
  GtkSnapshot *snapshot = gtk_snapshot_new ();
  g_autoptr (GskRenderNode) node = NULL;
  g_autoptr (GdkTexture) texture = NULL;
  guchar *pixels;

  *width = gtk_widget_get_width (window);
  *height = gtk_widget_get_height (window);
  gdk_paintable_snapshot (paintable, snapshot, *width, *height);
  node = gtk_snapshot_free_to_node (snapshot);
  g_assert_nonnull (node);
  texture = gsk_renderer_render_texture (gtk_native_get_renderer (GTK_NATIVE (window)), node,
                                         &GRAPHENE_RECT_INIT (0, 0, *width, *height));
  *stride = (gsize) *width * 4;
  pixels = g_malloc (*stride * *height);
  gdk_texture_download (texture, pixels, *stride);
  return pixels;
}

static guint32
pixel_at (const guchar *pixels, gsize stride, int x, int y)
{
  const guchar *p = pixels + (gsize) y * stride + (gsize) x * 4;

  return (guint32) p[0] << 24 | (guint32) p[1] << 16 | (guint32) p[2] << 8 | p[3];
}

static gboolean
wide_enough (gpointer data)
{
  return !adw_leaflet_get_folded (data);
}

static gboolean
folded (gpointer data)
{
  return adw_leaflet_get_folded (data);
}

static gboolean
chat_open (gpointer data)
{
  TernWindow *w = data;

  return w->fill == NULL && app_harness_n_messages (w) == 2;
}

static void
layout_body (AppHarness *h, gpointer data)
{
  TernWindow *w = h->window;
  GtkWidget *window = GTK_WIDGET (w);
  graphene_rect_t scroller, list, title, button;
  g_autofree guchar *pixels = NULL;
  int width, height;
  gsize stride;

  gtk_window_set_default_size (GTK_WINDOW (w), 1280, 720);
  app_harness_wait ("a wide window", wide_enough, w->leaflet, 30);
  settle ();

  /* No model: the welcome, offering to add one and nothing else. */
  g_assert_cmpstr (gtk_stack_get_visible_child_name (w->main_stack), ==, "welcome");
  g_assert_true (shows_text (GTK_WIDGET (w->welcome), NULL, "add"));
  g_assert_false (shows_text (GTK_WIDGET (w->welcome), NULL, "demo"));

  /* The sidebar row: its title's middle is the menu button's. */
  {
    GtkWidget *row = gtk_widget_get_first_child (GTK_WIDGET (w->conversation_list));
    g_autoptr (GPtrArray) labels = g_ptr_array_new ();
    GtkWidget *menu = NULL;

    g_assert_nonnull (row);
    collect_labels (row, labels);
    g_assert_cmpuint (labels->len, >=, 1);
    for (GtkWidget *child = gtk_widget_get_first_child (gtk_widget_get_first_child (row)); child != NULL;
         child = gtk_widget_get_next_sibling (child))
      if (GTK_IS_MENU_BUTTON (child))
        menu = child;
    g_assert_nonnull (menu);
    g_assert_true (gtk_widget_compute_bounds (g_ptr_array_index (labels, 0), row, &title));
    g_assert_true (gtk_widget_compute_bounds (menu, row, &button));
    g_assert_cmpfloat (fabs ((title.origin.y + title.size.height / 2) - (button.origin.y + button.size.height / 2)), <=,
                       2);
  }

  /* The chat: the same background beside the messages as behind them. */
  {
    g_autoptr (TernConversationItem) item = g_list_model_get_item (G_LIST_MODEL (w->conversations), 0);

    tern_window_open_conversation (w, tern_conversation_item_get_id (item));
  }
  app_harness_wait ("the chat", chat_open, w, 30);
  settle ();
  g_assert_true (gtk_widget_compute_bounds (GTK_WIDGET (w->message_scroller), window, &scroller));
  g_assert_true (gtk_widget_compute_bounds (GTK_WIDGET (w->message_list), window, &list));
  /* The messages are centred, narrower than the view. */
  g_assert_cmpfloat (list.origin.x, >, scroller.origin.x + 40);
  pixels = draw_window (window, &width, &height, &stride);
  {
    int y = (int) (scroller.origin.y + scroller.size.height - 20);

    g_assert_cmphex (pixel_at (pixels, stride, (int) scroller.origin.x + 4, y), ==,
                     pixel_at (pixels, stride, (int) list.origin.x + 4, y));
    g_assert_cmphex (pixel_at (pixels, stride, (int) (scroller.origin.x + scroller.size.width) - 20, y), ==,
                     pixel_at (pixels, stride, (int) list.origin.x + 4, y));
  }

  /* Narrow: folded, the chat's header shows its title and no model. */
  gtk_window_set_default_size (GTK_WINDOW (w), 400, 720);
  app_harness_wait ("a folded window", folded, w->leaflet, 30);
  adw_leaflet_set_visible_child (w->leaflet, w->content);
  settle ();
  g_assert_true (shows_text (w->content, TITLE, NULL));
  g_assert_true (shows_text (w->content, "No model loaded", NULL));
  g_assert_false (gtk_widget_get_mapped (GTK_WIDGET (w->model_dropdown)));

  /* Wide again: the model menu is back. */
  gtk_window_set_default_size (GTK_WINDOW (w), 1280, 720);
  app_harness_wait ("a wide window", wide_enough, w->leaflet, 30);
  settle ();
  g_assert_true (gtk_widget_get_mapped (GTK_WIDGET (w->model_dropdown)));
  g_assert_false (gtk_widget_get_mapped (GTK_WIDGET (w->chat_title)));
}

static void
test_layout (void)
{
  AppHarness h;

  app_harness_init (&h, NULL, 1, 256);
  store_conversation (h.dir);
  app_harness_run (&h, layout_body, NULL);
  app_harness_clear (&h);
}

int
main (int argc, char **argv)
{
  gtk_test_init (&argc, &argv, NULL);
  adw_init ();
  g_test_add_func ("/app/window/layout", test_layout);
  return g_test_run ();
}
