/* SPDX-License-Identifier: GPL-3.0-or-later */
/* make-screenshots OUTDIR [MODEL]: PNG screenshots of the real window
 * (light and dark, wide and narrow), the model library and Preferences,
 * with a short conversation in it, and a reply with a table, for reviewers and the AppStream
 * metainfo. Without MODEL, a first start with the demo model, whose
 * welcome is shot too. Run by data/screenshots/make-screenshots.sh under
 * Xvfb. */
#include <adwaita.h>
#include <stdio.h>

#include "app-harness.h"
#include "tern-preferences-window.h"

static gboolean
shown (gpointer data)
{
  return gtk_widget_get_mapped (data) && gtk_widget_get_width (data) > 0;
}

/* Lets the window lay out and draw at its new size. */
static void
settle (void)
{
  int n = 40;

  while (n-- > 0)
    {
      g_usleep (10000);
      while (g_main_context_iteration (NULL, FALSE))
        ;
    }
}

static void
save (GtkWidget *window, const char *dir, const char *name)
{
  g_autoptr (GdkPaintable) paintable = gtk_widget_paintable_new (window);
  int width, height;
  g_autofree char *path = g_build_filename (dir, name, NULL);

  GskRenderNode *drawn = NULL;

  app_harness_wait ("the window to show", shown, window, 30);
  /* A window just shown has nothing to draw until its first frame. */
  for (int tries = 0; drawn == NULL && tries < 20; tries++)
    {
      settle ();
      width = gtk_widget_get_width (window);
      height = gtk_widget_get_height (window);
      GtkSnapshot *snapshot = gtk_snapshot_new ();
      gdk_paintable_snapshot (paintable, snapshot, width, height);
      drawn = gtk_snapshot_free_to_node (snapshot);
    }
  g_autoptr (GskRenderNode) node = drawn;
  g_assert_nonnull (node);
  GskRenderer *renderer = gtk_native_get_renderer (GTK_NATIVE (window));
  g_autoptr (GdkTexture) texture =
      gsk_renderer_render_texture (renderer, node, &GRAPHENE_RECT_INIT (0, 0, width, height));
  if (!gdk_texture_save_to_png (texture, path))
    g_error ("could not write %s", path);
  printf ("%s (%d x %d)\n", path, width, height);
}

static void
resize (GtkWindow *window, int width, int height)
{
  gtk_window_set_default_size (window, width, height);
  settle ();
}

static gboolean
chat_shown (gpointer data)
{
  TernWindow *w = data;

  return w->fill == NULL && app_harness_n_messages (w) == 2;
}

/* A reply with a table, strikethrough and a link, stored as another
 * program would store it (a model this small writes no tables), then
 * opened. */
static void
open_markdown_reply (AppHarness *h)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *db = g_build_filename (h->dir, "tern.db", NULL);
  TernStore *store = tern_store_open (db, &error);
  gint64 c, question;

  g_assert_no_error (error);
  c = tern_store_conversation_new (store, "Which model should I try?", 0, NULL, NULL, &error);
  g_assert_no_error (error);
  question = tern_store_message_add (store, c, TERN_STORE_HEAD, TERN_ROLE_USER,
                                     "Which model should I try on a laptop with 16 GB?", NULL, 0, NULL, &error);
  g_assert_no_error (error);
  tern_store_message_add (store, c, question, TERN_ROLE_ASSISTANT,
                          "Any of these runs well in **Q4_K_M**:\n\n"
                          "| Model | Parameters | File size | Context |\n"
                          "|:------|-----------:|----------:|:-------:|\n"
                          "| SmolLM2 Instruct | 1.7 B | 1.1 GB | 8 K |\n"
                          "| Qwen2.5 Instruct | 3 B | 1.9 GB | 32 K |\n"
                          "| Llama 3.1 Instruct | 8 B | 4.9 GB | 128 K |\n"
                          "| ~~Llama 2 Chat~~ | 7 B | 4.1 GB | 4 K |\n\n"
                          "Search for “GGUF” on https://huggingface.co to find them.",
                          NULL, 0, NULL, &error);
  g_assert_no_error (error);
  tern_store_free (store);
  tern_window_reload_conversations (h->window);
  app_harness_sync (h->window);
  tern_window_open_conversation (h->window, c);
  app_harness_wait ("the reply with a table", chat_shown, h->window, 30);
}

typedef struct {
  const char *dir;
  const char *model; /* NULL: the demo model, as on first start */
} Shots;

static void
shots_body (AppHarness *hp, gpointer data)
{
  AppHarness h = *hp;
  const char *dir = ((Shots *) data)->dir;
  const char *model = ((Shots *) data)->model;
  GtkWindow *window = GTK_WINDOW (h.window);
  resize (window, 1100, 720);
  if (model)
    {
      g_autoptr (GFile) file = g_file_new_for_path (model);
      tern_window_open_model_file (h.window, file);
    }
  app_harness_wait ("the model", app_harness_model_ready, h.window, 120);
  if (model == NULL)
    save (GTK_WIDGET (window), dir, "welcome.png");
  /* What the demo model knows: English words. */
  app_harness_send (h.window, "Hello! Who are you?");
  app_harness_wait ("the reply", app_harness_replied, h.window, 300);
  app_harness_send (h.window, "What does tree mean?");
  app_harness_wait ("the reply", app_harness_replied, h.window, 300);
  app_harness_send (h.window, "What is the opposite of happy?");
  app_harness_wait ("the reply", app_harness_replied, h.window, 300);
  settle ();

  AdwStyleManager *style = adw_style_manager_get_default ();
  adw_style_manager_set_color_scheme (style, ADW_COLOR_SCHEME_FORCE_LIGHT);
  save (GTK_WIDGET (window), dir, "main-window-light.png");
  adw_style_manager_set_color_scheme (style, ADW_COLOR_SCHEME_FORCE_DARK);
  save (GTK_WIDGET (window), dir, "main-window-dark.png");
  resize (window, 360, 720);
  adw_leaflet_set_visible_child (h.window->leaflet, h.window->content);
  save (GTK_WIDGET (window), dir, "main-window-narrow-dark.png");
  adw_style_manager_set_color_scheme (style, ADW_COLOR_SCHEME_FORCE_LIGHT);
  save (GTK_WIDGET (window), dir, "main-window-narrow-light.png");
  adw_leaflet_set_visible_child (h.window->leaflet, h.window->sidebar);
  save (GTK_WIDGET (window), dir, "main-window-narrow-sidebar.png");
  resize (window, 1100, 720);
  g_action_group_change_action_state (G_ACTION_GROUP (window), "show-library", g_variant_new_boolean (TRUE));
  save (GTK_WIDGET (window), dir, "library.png");
  g_action_group_change_action_state (G_ACTION_GROUP (window), "show-library", g_variant_new_boolean (FALSE));

  const char *backends[] = { "cpu", NULL };
  GtkWidget *prefs = tern_preferences_window_new (window, h.window->settings,
                                                  tern_application_get_data_dir (h.app), backends);
  gtk_window_present (GTK_WINDOW (prefs));
  save (prefs, dir, "preferences.png");
  gtk_window_destroy (GTK_WINDOW (prefs));

  open_markdown_reply (&h);
  save (GTK_WIDGET (window), dir, "markdown-table.png");
}

int
main (int argc, char *argv[])
{
  AppHarness h;

  if (argc < 2 || argc > 3)
    {
      fprintf (stderr, "usage: make-screenshots OUTDIR [MODEL]\n");
      return 1;
    }
  gtk_init ();
  adw_init ();
  Shots shots = { argv[1], argc == 3 ? argv[2] : NULL };

  /* The settings a new user has: the default context size. */
  app_harness_init (&h, NULL, 0, 4096);
  g_autoptr (GSettings) settings = g_settings_new (TERN_APPLICATION_ID);
  g_settings_set_int (settings, "max-tokens", 200);
  if (shots.model == NULL)
    {
      g_autofree char *demo = g_build_filename (TERN_SOURCE_DIR, "data", "demo-model", "tern-demo.gguf", NULL);
      g_setenv ("TERN_DEMO_MODEL", demo, TRUE);
      g_settings_set_boolean (settings, "demo-model-added", FALSE);
    }
  app_harness_run (&h, shots_body, &shots);
  app_harness_clear (&h);
  return 0;
}
