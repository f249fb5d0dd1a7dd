/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The real window and engine when a model file fails: a bad file opened
 * while a model is loaded keeps that model and says what is wrong; a
 * library model whose file is gone at start falls back to another; the
 * composer says why nothing can be sent without a model; a context longer
 * than the model was trained on is warned of. */
#include "app-harness.h"

#include <glib/gstdio.h>
#include <string.h>

#include "test-data.h"

#define MODEL "kjv-tiny-q4_k_m.gguf"
#define QUESTION "Who created the heaven and the earth?"

/* A copy of the fixture model at @dir/@name, which the test may delete. */
static char *
copy_model (const char *dir, const char *name)
{
  g_autofree char *src = g_test_build_filename (G_TEST_DIST, "data", "models", MODEL, NULL);
  g_autofree char *contents = NULL;
  char *dest = g_build_filename (dir, name, NULL);
  gsize len;

  g_assert_true (g_file_get_contents (src, &contents, &len, NULL));
  g_assert_true (g_file_set_contents (dest, contents, len, NULL));
  return dest;
}

/* Opens @path as `tern PATH` does, while the window runs. */
static void
open_on_command_line (AppHarness *h, const char *path)
{
  g_autoptr (GFile) file = g_file_new_for_path (path);
  GFile *files[] = { file };

  g_application_open (G_APPLICATION (h->app), files, 1, "");
}

static gboolean
load_settled (gpointer data)
{
  TernWindow *w = data;

  return w->model_pending == 0 && w->load_fallbacks == NULL && app_harness_idle (w);
}

static gboolean
replied (gpointer data)
{
  TernWindow *w = data;

  return app_harness_idle (w) && app_harness_n_messages (w) >= 2;
}

/* The name the model menu shows. */
static const char *
menu_model_name (TernWindow *w)
{
  TernModelItem *item = gtk_drop_down_get_selected_item (w->model_dropdown);

  return item ? tern_model_item_get_name (item) : NULL;
}

static const char *
banner_text (TernWindow *w)
{
  g_assert_true (gtk_revealer_get_reveal_child (w->banner));
  return gtk_label_get_label (w->banner_label);
}

/* Report 2: `tern bad.gguf` while a model was loaded unloaded it. */
static void
bad_file_body (AppHarness *hp, gpointer data)
{
  AppHarness h = *hp;
  g_autofree char *model = copy_model (h.dir, "model.gguf");
  g_autofree char *bad = g_build_filename (h.dir, "bad.gguf", NULL);

  g_assert_true (g_file_set_contents (bad, "<!DOCTYPE html><html>404 Not Found</html>", -1, NULL));
  open_on_command_line (&h, model);
  app_harness_wait ("the model to load", load_settled, h.window, 60);
  app_harness_sync (h.window);
  g_assert_true (tern_service_get_model_loaded (h.window->service));
  g_autofree char *name = g_strdup (menu_model_name (h.window));
  g_assert_nonnull (name);

  open_on_command_line (&h, bad);
  app_harness_wait ("the bad file to fail", load_settled, h.window, 60);
  app_harness_sync (h.window);
  const char *text = banner_text (h.window);
  g_test_message ("banner: %s", text);
  g_assert_true (g_str_has_prefix (text, "Could not load bad.gguf: not a GGUF model file (it starts with "
                                         "\"<!DOCTYPE ht"));
  g_assert_nonnull (strstr (text, "download it again, or choose another file"));
  g_assert_nonnull (strstr (text, "stays loaded"));
  g_assert_null (strstr (text, "()"));
  /* The header still names the model in use, and the chat goes on. */
  g_assert_true (tern_service_get_model_loaded (h.window->service));
  g_assert_cmpstr (menu_model_name (h.window), ==, name);
  g_assert_false (gtk_revealer_get_reveal_child (h.window->composer_note));
  app_harness_send (h.window, QUESTION);
  app_harness_wait ("the reply", replied, h.window, 120);
  g_autoptr (TernMessageItem) reply = app_harness_message (h.window, 1);
  g_assert_cmpstr (tern_message_item_get_content (reply), !=, "");
}

static void
test_bad_file_keeps_model (void)
{
  AppHarness h;

  app_harness_init (&h, NULL, 1, 256);
  app_harness_run (&h, bad_file_body, NULL);
  app_harness_clear (&h);
}

/* A library of @n models, copies of the fixture named @names (the last
 * added, marked used, is the one loaded at start), made before the
 * application runs. */
static void
fill_library (AppHarness *h, const char *const *names, guint n)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *db = tern_store_default_path ();
  g_autoptr (TernStore) store = tern_store_open (db, &error);

  g_assert_no_error (error);
  for (guint i = 0; i < n; i++)
    {
      g_autofree char *path = copy_model (h->dir, names[i]);
      gint64 id = tern_store_model_add (store, path, &error);
      g_assert_cmpint (id, >, 0);
      g_assert_no_error (error);
      if (i == n - 1)
        g_assert_true (tern_store_model_mark_used (store, id, &error));
    }
}

static gboolean
is_remove_button (GtkWidget *widget, gconstpointer data)
{
  return GTK_IS_BUTTON (widget) && gtk_widget_get_visible (widget) &&
         g_strcmp0 (gtk_button_get_label (GTK_BUTTON (widget)), "_Remove from Library") == 0;
}

static gboolean
one_model_listed (gpointer data)
{
  TernWindow *w = data;

  return g_list_model_get_n_items (G_LIST_MODEL (w->models)) == 1 && !gtk_revealer_get_reveal_child (w->banner);
}

/* Report 10: the model used last was deleted; the app started with
 * "open() failed" and no model. */
static void
missing_body (AppHarness *hp, gpointer data)
{
  AppHarness h = *hp;

  app_harness_wait ("the start-up load", load_settled, h.window, 60);
  app_harness_sync (h.window);
  const char *text = banner_text (h.window);
  g_test_message ("banner: %s", text);
  g_assert_true (g_str_has_prefix (text, "Could not load gone.gguf: the file is gone: nothing is at "));
  g_assert_nonnull (strstr (text, "(it was moved or deleted)"));
  g_assert_nonnull (strstr (text, "Tern loaded kjv-tiny instead"));
  g_assert_null (strstr (text, "open()"));
  g_assert_true (tern_service_get_model_loaded (h.window->service));
  TernModelItem *loaded = tern_window_find_model (h.window, tern_service_get_model_id (h.window->service), NULL);
  g_assert_true (g_str_has_suffix (tern_model_item_get_path (loaded), "/kept.gguf"));
  g_assert_true (gtk_drop_down_get_selected_item (h.window->model_dropdown) == loaded);

  /* The banner offers to remove the model that is gone. */
  GtkWidget *remove = app_harness_find_widget (GTK_WIDGET (h.window->banner), is_remove_button, NULL);
  app_harness_click (remove);
  app_harness_wait ("the model to leave the library", one_model_listed, h.window, 60);
  TernModelItem *left = g_list_model_get_item (G_LIST_MODEL (h.window->models), 0);
  g_assert_true (g_str_has_suffix (tern_model_item_get_path (left), "/kept.gguf"));
  g_object_unref (left);
}

static void
test_missing_at_start (void)
{
  AppHarness h;
  const char *names[] = { "kept.gguf", "gone.gguf" };

  app_harness_init (&h, NULL, 1, 256);
  fill_library (&h, names, G_N_ELEMENTS (names));
  g_autofree char *gone = g_build_filename (h.dir, "gone.gguf", NULL);
  g_assert_cmpint (g_remove (gone), ==, 0);
  app_harness_run (&h, missing_body, NULL);
  app_harness_clear (&h);
}

/* The only model is gone: nothing loads, and the composer says why Enter
 * sends nothing. */
static void
no_model_body (AppHarness *hp, gpointer data)
{
  AppHarness h = *hp;
  GtkTextBuffer *buffer = gtk_text_view_get_buffer (h.window->composer);

  app_harness_wait ("the start-up load", load_settled, h.window, 60);
  app_harness_sync (h.window);
  g_assert_false (tern_service_get_model_loaded (h.window->service));
  g_assert_cmpstr (gtk_stack_get_visible_child_name (h.window->main_stack), ==, "chat");
  g_assert_true (g_str_has_prefix (banner_text (h.window), "Could not load gone.gguf: the file is gone"));

  gtk_text_buffer_set_text (buffer, QUESTION, -1);
  g_assert_true (gtk_revealer_get_reveal_child (h.window->composer_note));
  GtkLabel *note = GTK_LABEL (gtk_revealer_get_child (h.window->composer_note));
  g_assert_cmpstr (gtk_label_get_label (note), ==,
                   "No model is loaded, so messages cannot be sent: choose one in the model menu or the library");
  g_assert_false (gtk_widget_is_sensitive (GTK_WIDGET (h.window->send_button)));
  g_assert_cmpstr (gtk_widget_get_tooltip_text (GTK_WIDGET (h.window->send_button)), ==,
                   "No model is loaded: choose one in the model menu or the library");
}

static void
test_no_model_composer (void)
{
  AppHarness h;
  const char *names[] = { "gone.gguf" };

  app_harness_init (&h, NULL, 1, 256);
  fill_library (&h, names, G_N_ELEMENTS (names));
  g_autofree char *gone = g_build_filename (h.dir, "gone.gguf", NULL);
  g_assert_cmpint (g_remove (gone), ==, 0);
  app_harness_run (&h, no_model_body, NULL);
  app_harness_clear (&h);
}

/* Report 7: a context longer than the model was trained on (the fixture:
 * 256 tokens) is warned of; the automatic size is the trained one. */
static void
context_body (AppHarness *hp, gpointer expect_warning)
{
  AppHarness h = *hp;
  g_autofree char *model = copy_model (h.dir, "model.gguf");

  open_on_command_line (&h, model);
  app_harness_wait ("the model to load", load_settled, h.window, 60);
  app_harness_sync (h.window);
  if (GPOINTER_TO_INT (expect_warning))
    {
      g_assert_cmpint (tern_service_get_context_size (h.window->service), ==, 1024);
      const char *text = banner_text (h.window);
      g_test_message ("banner: %s", text);
      g_assert_nonnull (strstr (text, "was trained on 256 tokens, but the context size chosen in Preferences is 1024"));
    }
  else
    {
      g_assert_cmpint (tern_service_get_context_size (h.window->service), ==, 256);
      g_assert_false (gtk_revealer_get_reveal_child (h.window->banner));
    }
}

static void
test_context_warning (void)
{
  AppHarness h;

  app_harness_init (&h, NULL, 1, 1024);
  app_harness_run (&h, context_body, GINT_TO_POINTER (TRUE));
  app_harness_clear (&h);
  app_harness_init (&h, NULL, 1, 0);
  app_harness_run (&h, context_body, GINT_TO_POINTER (FALSE));
  app_harness_clear (&h);
}

int
main (int argc, char *argv[])
{
  gtk_test_init (&argc, &argv, NULL);
  adw_init ();

  g_test_add_func ("/app/window-models/bad-file-keeps-model", test_bad_file_keeps_model);
  g_test_add_func ("/app/window-models/missing-at-start", test_missing_at_start);
  g_test_add_func ("/app/window-models/no-model-composer", test_no_model_composer);
  g_test_add_func ("/app/window-models/context-warning", test_context_warning);
  return g_test_run ();
}
