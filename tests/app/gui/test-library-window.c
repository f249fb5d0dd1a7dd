/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The model library in the real window, with the real engine on the two
 * fixture models (both named "kjv-tiny"): a chat on a model opened by path
 * records its last use, the library lists the models by last use and
 * marks the one loaded (the mark moves with the next load), the model
 * menu tells the two apart by type and size, and a rename shows in the
 * library and the menu and survives a load of the same file and a
 * restart. */
#include "app-harness.h"

#include "tern-library-page.h"
#include "tern-model-details.h"

#include "test-data.h"

#define MODEL_A "kjv-tiny-q4_k_m.gguf"
#define MODEL_B "kjv-tiny-q8_0.gguf"

typedef struct {
  char *a; /* copies of the fixture models in the data folder */
  char *b;
} Models;

static char *
copy_model (const char *dir, const char *name, const char *as)
{
  g_autofree char *src = g_test_build_filename (G_TEST_DIST, "data", "models", name, NULL);
  g_autofree char *contents = NULL;
  char *dest = g_build_filename (dir, as, NULL);
  gsize len;

  g_assert_true (g_file_get_contents (src, &contents, &len, NULL));
  g_assert_true (g_file_set_contents (dest, contents, len, NULL));
  return dest;
}

/* ---- Finding widgets ---- */

static gboolean
is_label (GtkWidget *widget, gconstpointer data)
{
  return GTK_IS_LABEL (widget);
}

static gboolean
is_list_view (GtkWidget *widget, gconstpointer data)
{
  return GTK_IS_LIST_VIEW (widget);
}

/* A library row is the model's file: its tooltip. */
static gboolean
is_row_of (GtkWidget *widget, gconstpointer path)
{
  return ADW_IS_ACTION_ROW (widget) && g_strcmp0 (gtk_widget_get_tooltip_text (widget), path) == 0;
}

static GtkWidget *
library_row (TernWindow *w, const char *path)
{
  GtkWidget *row = app_harness_find_widget (w->library_page, is_row_of, path);

  g_assert_nonnull (row);
  return row;
}

static gboolean
is_list_box (GtkWidget *widget, gconstpointer data)
{
  return GTK_IS_LIST_BOX (widget);
}

/* The file names of the library's rows, top to bottom: "a.gguf b.gguf". */
static char *
rows_by_file (TernWindow *w)
{
  GtkWidget *list = app_harness_find_widget (w->library_page, is_list_box, NULL);
  GString *order = g_string_new (NULL);

  for (GtkWidget *row = gtk_widget_get_first_child (list); row; row = gtk_widget_get_next_sibling (row))
    if (ADW_IS_ACTION_ROW (row))
      {
        g_autofree char *base = g_path_get_basename (gtk_widget_get_tooltip_text (row));
        g_string_append_printf (order, "%s%s", order->len ? " " : "", base);
      }
  return g_string_free (order, FALSE);
}

/* The "Loaded" tag of @row is shown, and its accessible description
 * starts with it. */
static gboolean
row_loaded (GtkWidget *row)
{
  GtkWidget *tag = app_harness_find_widget (row, app_harness_is_label_text, "Loaded");
  g_autofree char *description =
      g_strdup_printf ("Loaded · %s", adw_action_row_get_subtitle (ADW_ACTION_ROW (row)));
  g_autofree char *mismatch =
      gtk_test_accessible_check_property (GTK_ACCESSIBLE (row), GTK_ACCESSIBLE_PROPERTY_DESCRIPTION, description);
  gboolean shown = tag != NULL && gtk_widget_get_visible (tag);

  /* Both or neither. */
  g_assert_cmpint (shown, ==, mismatch == NULL);
  return shown;
}

/* The labels of the model menu's rows, as shown when it opens, joined by
 * " | "; the menu is closed again. */
static char *
model_menu_labels (TernWindow *w)
{
  GtkWidget *dropdown = GTK_WIDGET (w->model_dropdown);
  GtkWidget *popover = NULL;
  GString *labels = g_string_new (NULL);

  g_assert_true (gtk_widget_get_mapped (dropdown));
  g_signal_emit_by_name (dropdown, "activate");
  while (g_main_context_iteration (NULL, FALSE))
    ;
  for (GtkWidget *child = gtk_widget_get_first_child (dropdown); child; child = gtk_widget_get_next_sibling (child))
    if (GTK_IS_POPOVER (child))
      popover = child;
  g_assert_nonnull (popover);
  app_harness_wait ("the model menu to open", (gboolean (*) (gpointer)) gtk_widget_get_mapped, popover, 60);

  GtkWidget *list = app_harness_find_widget (popover, is_list_view, NULL);
  g_assert_nonnull (list);
  for (GtkWidget *row = gtk_widget_get_first_child (list); row; row = gtk_widget_get_next_sibling (row))
    {
      GtkWidget *label = app_harness_find_widget (row, is_label, NULL);
      if (label && gtk_widget_get_visible (row))
        g_string_append_printf (labels, "%s%s", labels->len ? " | " : "", gtk_label_get_text (GTK_LABEL (label)));
    }
  gtk_popover_popdown (GTK_POPOVER (popover));
  return g_string_free (labels, FALSE);
}

static void
show_library (TernWindow *w)
{
  /* What is on its way may open the chat again. */
  app_harness_sync (w);
  app_harness_wait ("the window to settle", app_harness_idle, w, 60);
  g_action_group_change_action_state (G_ACTION_GROUP (w), "show-library", g_variant_new_boolean (FALSE));
  g_action_group_change_action_state (G_ACTION_GROUP (w), "show-library", g_variant_new_boolean (TRUE));
  app_harness_sync (w);
  g_assert_cmpstr (gtk_stack_get_visible_child_name (w->main_stack), ==, "library");
}

static gboolean
is_model (gpointer data)
{
  TernWindow *w = g_object_get_data (data, "tern-window");
  gint64 id = GPOINTER_TO_SIZE (g_object_get_data (data, "tern-id"));

  return app_harness_model_ready (w) && tern_service_get_model_id (w->service) == id;
}

static gint64
model_id (TernWindow *w, const char *path)
{
  for (guint i = 0; i < g_list_model_get_n_items (G_LIST_MODEL (w->models)); i++)
    {
      g_autoptr (TernModelItem) item = g_list_model_get_item (G_LIST_MODEL (w->models), i);
      if (g_strcmp0 (tern_model_item_get_path (item), path) == 0)
        return tern_model_item_get_id (item);
    }
  g_error ("%s is not in the model menu", path);
}

/* ---- The tests ---- */

static void
library_body (AppHarness *h, gpointer data)
{
  Models *m = data;
  TernWindow *w = h->window;
  g_autoptr (GFile) a = g_file_new_for_path (m->a);
  g_autoptr (GFile) b = g_file_new_for_path (m->b);

  /* A chat on model a, opened by path as `tern a.gguf` does. */
  tern_window_open_model_file (w, a);
  app_harness_wait ("the model to load", app_harness_model_ready, w, 60);
  app_harness_send (w, "In the beginning");
  app_harness_wait ("the reply", app_harness_replied, w, 120);

  /* Model b joins the library, never used. */
  show_library (w);
  tern_library_page_add_file (TERN_LIBRARY_PAGE (w->library_page), b);
  app_harness_sync (w);
  g_autofree char *order = rows_by_file (w);
  g_assert_cmpstr (order, ==, "a.gguf b.gguf");
  const char *subtitle_a = adw_action_row_get_subtitle (ADW_ACTION_ROW (library_row (w, m->a)));
  g_test_message ("a: %s", subtitle_a);
  g_assert_true (g_str_has_suffix (subtitle_a, "used just now"));
  g_assert_true (g_str_has_suffix (adw_action_row_get_subtitle (ADW_ACTION_ROW (library_row (w, m->b))), "never used"));
  g_assert_true (row_loaded (library_row (w, m->a)));
  g_assert_false (row_loaded (library_row (w, m->b)));

  /* The details say when, in the locale's format. */
  app_harness_choose_from_menu (library_row (w, m->a), "Details…");
  GtkWindow *details = app_harness_find_toplevel (TERN_TYPE_MODEL_DETAILS);
  g_assert_nonnull (details);
  g_assert_null (app_harness_find_widget (GTK_WIDGET (details), app_harness_is_value_text, "Never"));
  gtk_window_destroy (details);

  /* The two differ in the model menu by type and size. */
  g_autofree char *labels = model_menu_labels (w);
  g_test_message ("model menu: %s", labels);
  g_auto (GStrv) each = g_strsplit (labels, " | ", -1);
  g_assert_cmpuint (g_strv_length (each), ==, 2);
  g_assert_cmpstr (each[0], !=, each[1]);
  g_assert_true (g_str_has_prefix (each[0], "kjv-tiny · Q4_K · "));
  g_assert_true (g_str_has_prefix (each[1], "kjv-tiny · Q8_0 · "));

  /* "Use" on b, from a new chat (one of model a's conversations open
   * would bring back its own model): b loads, comes first, and the mark
   * moves to it. */
  g_action_group_activate_action (G_ACTION_GROUP (w), "new-conversation", NULL);
  show_library (w);
  GtkWidget *use = app_harness_find_widget (library_row (w, m->b), app_harness_is_button_labelled, "_Use");
  g_assert_true (gtk_widget_get_mapped (use));
  g_signal_emit_by_name (use, "clicked");
  g_object_set_data (G_OBJECT (w), "tern-window", w);
  g_object_set_data (G_OBJECT (w), "tern-id", GSIZE_TO_POINTER (model_id (w, m->b)));
  app_harness_wait ("model b to load", is_model, w, 60);
  show_library (w);
  g_free (order);
  order = rows_by_file (w);
  g_assert_cmpstr (order, ==, "b.gguf a.gguf");
  g_assert_true (row_loaded (library_row (w, m->b)));
  g_assert_false (row_loaded (library_row (w, m->a)));

  /* Rename a from its menu: the row and the model menu follow. */
  app_harness_choose_from_menu (library_row (w, m->a), "Rename…");
  AdwMessageDialog *dialog = ADW_MESSAGE_DIALOG (app_harness_find_toplevel (ADW_TYPE_MESSAGE_DIALOG));
  g_assert_nonnull (dialog);
  GtkWidget *entry = adw_message_dialog_get_extra_child (dialog);
  g_assert_cmpstr (gtk_editable_get_text (GTK_EDITABLE (entry)), ==, "kjv-tiny");
  gtk_test_accessible_assert_property (GTK_ACCESSIBLE (entry), GTK_ACCESSIBLE_PROPERTY_LABEL, "Name");
  gtk_editable_set_text (GTK_EDITABLE (entry), "");
  g_assert_false (adw_message_dialog_get_response_enabled (dialog, "rename"));
  gtk_editable_set_text (GTK_EDITABLE (entry), "Genesis");
  g_assert_true (adw_message_dialog_get_response_enabled (dialog, "rename"));
  adw_message_dialog_response (dialog, "rename");
  gtk_window_destroy (GTK_WINDOW (dialog));
  app_harness_sync (w);
  g_assert_cmpstr (adw_preferences_row_get_title (ADW_PREFERENCES_ROW (library_row (w, m->a))), ==, "Genesis");
  g_free (labels);
  labels = model_menu_labels (w);
  g_test_message ("model menu: %s", labels);
  g_assert_nonnull (strstr (labels, "Genesis · Q4_K · "));
  g_assert_nonnull (strstr (labels, "kjv-tiny · Q8_0 · "));
}

/* After a restart: the name was stored, and loading the file by path
 * again keeps it. */
static void
restart_body (AppHarness *h, gpointer data)
{
  Models *m = data;
  TernWindow *w = h->window;
  g_autoptr (GFile) a = g_file_new_for_path (m->a);

  show_library (w);
  g_assert_cmpstr (adw_preferences_row_get_title (ADW_PREFERENCES_ROW (library_row (w, m->a))), ==, "Genesis");
  tern_window_open_model_file (w, a);
  g_object_set_data (G_OBJECT (w), "tern-window", w);
  g_object_set_data (G_OBJECT (w), "tern-id", GSIZE_TO_POINTER (model_id (w, m->a)));
  app_harness_wait ("model a to load", is_model, w, 60);
  show_library (w);
  g_assert_cmpstr (adw_preferences_row_get_title (ADW_PREFERENCES_ROW (library_row (w, m->a))), ==, "Genesis");
  g_assert_true (row_loaded (library_row (w, m->a)));
  g_autofree char *order = rows_by_file (w);
  g_assert_cmpstr (order, ==, "a.gguf b.gguf");
}

static void
test_library (void)
{
  AppHarness h;
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("tern-library-window-XXXXXX", &error);
  Models m;

  g_assert_no_error (error);
  m.a = copy_model (dir, MODEL_A, "a.gguf");
  m.b = copy_model (dir, MODEL_B, "b.gguf");
  app_harness_init (&h, dir, 1, 256);
  app_harness_run (&h, library_body, &m);
  app_harness_clear (&h);
  app_harness_init (&h, dir, 1, 256);
  app_harness_run (&h, restart_body, &m);
  app_harness_clear (&h);
  test_remove_tree (dir);
  g_free (m.a);
  g_free (m.b);
}

int
main (int argc, char *argv[])
{
  gtk_test_init (&argc, &argv, NULL);
  adw_init ();

  g_test_add_func ("/app/library-window/library", test_library);
  return g_test_run ();
}
