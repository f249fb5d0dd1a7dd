/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Compressing a library model from the window: the row's menu opens the
 * dialog; a run stopped leaves no file and no entry; a run finished shows
 * its report (measured on the held-out text: the verdict), joins the
 * library with it (its details show it), and chats; the main loop stays
 * responsive meanwhile. */
#include <glib/gstdio.h>

#include "app-harness.h"
#include "main-loop-probe.h"
#include "tern-compress-dialog.h"
#include "tern-library-page.h"
#include "tern-model-details.h"
#include "test-data.h"

static gboolean
has_dialog (gpointer data)
{
  return app_harness_find_toplevel (TERN_TYPE_COMPRESS_DIALOG) != NULL;
}

static gboolean
bar_moved (gpointer data)
{
  GtkWidget *b = data;
  return gtk_progress_bar_get_fraction (GTK_PROGRESS_BAR (b)) > 0;
}

static gboolean
is_progress_bar (GtkWidget *widget, gconstpointer data)
{
  return GTK_IS_PROGRESS_BAR (widget);
}

static gboolean
is_spin_button (GtkWidget *widget, gconstpointer data)
{
  return GTK_IS_SPIN_BUTTON (widget);
}

/* How many files @folder holds. */
static guint
n_files (const char *folder)
{
  g_autoptr (GDir) dir = g_dir_open (folder, 0, NULL);
  guint n = 0;

  g_assert_nonnull (dir);
  while (g_dir_read_name (dir))
    n++;
  return n;
}

static gboolean
has_details (gpointer data)
{
  return app_harness_find_toplevel (TERN_TYPE_MODEL_DETAILS) != NULL;
}

static void
body (AppHarness *h, gpointer data)
{
  const char *folder = data;
  TernWindow *w = h->window;
  g_autofree char *path = g_build_filename (folder, "kjv-tiny-f32.gguf", NULL);
  g_autoptr (GFile) file = g_file_new_for_path (path);
  MainLoopProbe probe = { 0 };

  g_action_group_change_action_state (G_ACTION_GROUP (w), "show-library", g_variant_new_boolean (TRUE));
  tern_library_page_add_file (TERN_LIBRARY_PAGE (w->library_page), file);
  app_harness_wait_widget ("the model's row", w->library_page, app_harness_is_row_titled, "kjv-tiny");
  GtkWidget *row = app_harness_find_widget (w->library_page, app_harness_is_row_titled, "kjv-tiny");

  /* A run stopped: no file, no entry. */
  app_harness_choose_from_menu (row, "Compress…");
  app_harness_wait ("the dialog", has_dialog, NULL, 60);
  GtkWidget *dialog = GTK_WIDGET (app_harness_find_toplevel (TERN_TYPE_COMPRESS_DIALOG));
  GtkWidget *bar = app_harness_find_widget (dialog, is_progress_bar, NULL);
  GtkWidget *start = app_harness_find_widget (dialog, app_harness_is_button_labelled, "_Compress");
  GtkWidget *stop = app_harness_find_widget (dialog, app_harness_is_button_labelled, "_Stop");
  g_signal_emit_by_name (start, "clicked");
  g_signal_emit_by_name (stop, "clicked");
  app_harness_wait_widget ("the run to stop", dialog, app_harness_is_row_titled, "Stopped");
  g_assert_cmpuint (n_files (folder), ==, 1);
  app_harness_sync (w);
  g_assert_null (app_harness_find_widget (w->library_page, app_harness_is_row_titled, "kjv-tiny · TQ2_0"));
  gtk_window_destroy (GTK_WINDOW (dialog));

  /* A run finished, within a size target (9.6% of the F32 file: about
   * llama.cpp's TQ2_0 size): progress, the report, the new row. The list
   * may have been read again meanwhile: its rows are new. */
  row = app_harness_find_widget (w->library_page, app_harness_is_row_titled, "kjv-tiny");
  app_harness_choose_from_menu (row, "Compress…");
  app_harness_wait ("the dialog", has_dialog, NULL, 60);
  dialog = GTK_WIDGET (app_harness_find_toplevel (TERN_TYPE_COMPRESS_DIALOG));
  bar = app_harness_find_widget (dialog, is_progress_bar, NULL);
  start = app_harness_find_widget (dialog, app_harness_is_button_labelled, "_Compress");
  gtk_spin_button_set_value (GTK_SPIN_BUTTON (app_harness_find_widget (dialog, is_spin_button, NULL)), 9.6);
  main_loop_probe_start (&probe);
  g_signal_emit_by_name (start, "clicked");
  /* Generous: under AddressSanitizer on 2 cores the first progress comes late. */
  app_harness_wait ("progress", bar_moved, bar, 300);
  app_harness_wait_widget ("the report", dialog, app_harness_is_row_titled, "Bits per Weight");
  /* Measured on the bundled held-out text: the verdict and both perplexities. */
  g_assert_nonnull (app_harness_find_widget (dialog, app_harness_is_row_titled, "Verdict"));
  g_assert_nonnull (app_harness_find_widget (dialog, app_harness_is_row_titled, "Perplexity"));
  /* The target, and the matrices kept better within it. */
  g_assert_nonnull (app_harness_find_widget (dialog, app_harness_is_row_titled, "Size Target"));
  g_assert_nonnull (app_harness_find_widget (dialog, app_harness_is_row_titled, "Kept Better"));
  main_loop_probe_stop (&probe);
  main_loop_probe_report (&probe, "compressing", FALSE);
#ifdef __SANITIZE_ADDRESS__
  /* Instrumented code runs a few times slower: its timings say nothing. */
  g_test_message ("timings are not checked under AddressSanitizer");
#else
  /* The loop's own work never takes more than 50 ms, and the compression
   * threads (at a lower priority) do not keep it waiting: a busy machine
   * may delay a single wake-up, not one in a hundred. */
  g_assert_cmpfloat (main_loop_probe_quantile_ms (&probe, PROBE_CPU, 1.0), <=, 50);
  g_assert_cmpfloat (main_loop_probe_quantile_ms (&probe, PROBE_WALL, 0.99), <=, 50);
#endif
  g_assert_cmpfloat (gtk_progress_bar_get_fraction (GTK_PROGRESS_BAR (bar)), ==, 1);
  app_harness_wait_widget ("the new model's row", w->library_page, app_harness_is_row_titled, "kjv-tiny · TQ2_0");
  main_loop_probe_clear (&probe);

  /* Its details keep the report and the model it was made from. */
  app_harness_choose_from_menu (app_harness_find_widget (w->library_page, app_harness_is_row_titled, "kjv-tiny · TQ2_0"),
                                "Details…");
  app_harness_wait ("the details", has_details, NULL, 60);
  GtkWidget *details = GTK_WIDGET (app_harness_find_toplevel (TERN_TYPE_MODEL_DETAILS));
  app_harness_wait_widget ("the details' report", details, app_harness_is_row_titled, "Made From");
  g_assert_nonnull (app_harness_find_widget (details, app_harness_is_row_titled, "Verdict"));
  g_assert_nonnull (app_harness_find_widget (details, app_harness_is_row_titled, "Bits per Weight"));
  gtk_window_destroy (GTK_WINDOW (details));

  /* Use it, and chat. */
  g_signal_emit_by_name (app_harness_find_widget (dialog, app_harness_is_button_labelled, "_Use"), "clicked");
  app_harness_wait ("the model to load", app_harness_model_ready, w, 120);
  app_harness_send (w, "In the beginning");
  /* The tiny model may answer within one turn of the loop: wait for the
   * reply stored, not for it streaming. */
  app_harness_wait ("the reply", app_harness_replied, w, 120);
  g_autoptr (TernMessageItem) reply = app_harness_message (w, 1);
  g_assert_cmpint (tern_message_item_get_role (reply), ==, TERN_ROLE_ASSISTANT);
  g_assert_cmpstr (tern_message_item_get_content (reply), !=, "");
}

static void
test_compress_dialog (void)
{
  AppHarness h;
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("tern-compress-XXXXXX", &error);
  g_autofree char *folder = g_build_filename (dir, "models", NULL);
  g_autofree char *src = g_test_build_filename (G_TEST_DIST, "data", "models", "kjv-tiny-f32.gguf", NULL);
  g_autofree char *dest = g_build_filename (folder, "kjv-tiny-f32.gguf", NULL);
  g_autofree char *contents = NULL;
  gsize len;

  g_mkdir (folder, 0755);
  g_assert_true (g_file_get_contents (src, &contents, &len, NULL));
  g_assert_true (g_file_set_contents (dest, contents, len, NULL));
  app_harness_init (&h, dir, 1, 256);
  app_harness_run (&h, body, folder);
  app_harness_clear (&h);
  test_remove_tree (dir);
}

int
main (int argc, char *argv[])
{
  gtk_test_init (&argc, &argv, NULL);
  adw_init ();
  g_test_add_func ("/app/compress-dialog", test_compress_dialog);
  return g_test_run ();
}
