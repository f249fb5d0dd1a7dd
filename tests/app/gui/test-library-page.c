/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The model library page and the model details dialog, over a real
 * TernService on a database of their own: the empty state, adding a model
 * (and files that are not one), the rows and "Use", removing a model
 * (keeping its file, or moving it to the trash), the warnings for a file
 * missing or changed, the details dialog, accessible names, and a page
 * destroyed while its requests are in flight.
 *
 * Needs a display (Xvfb) and G_TEST_SRCDIR at tests/ (for
 * data/models/kjv-tiny-q4_k_m.gguf). Each test has its own data folder
 * and, through G_TEST_OPTION_ISOLATE_DIRS, its own home and trash.
 * Nothing waits on time: the main loop runs until a condition holds, and
 * fails the test after a generous timeout. */
#include "tern-library-page.h"
#include "tern-model-details.h"

#include <fcntl.h>
#include <glib/gstdio.h>
#include <sys/stat.h>
#include <tern/model-identity.h>

#include "app-harness.h"
#include "test-data.h"

#define TIMEOUT_S 60
#define FIXTURE_MODEL "kjv-tiny-q4_k_m.gguf"
#define OTHER_MODEL "kjv-tiny-q8_0.gguf"

typedef struct {
  char *dir;
  TernService *service;
  GtkWindow *window;
  TernLibraryPage *page; /* a reference of the test's own */
  gint64 added;          /* the id of the last "model-added"; 0: none */
  guint n_added;
  char *error;           /* the last "error" message */
  guint n_errors;
  gint64 activated;      /* "model-activated" */
  char *activated_path;
} Fixture;

/* ---- The main loop ---- */

typedef gboolean (*Condition) (gpointer data);

static gboolean
wake (gpointer data)
{
  return G_SOURCE_CONTINUE;
}

/* Runs the main loop until @done (@data) holds; fails after TIMEOUT_S,
 * naming @what. The timeout source only wakes the loop to look at the
 * clock: the wait ends as soon as the condition holds. */
static void
wait_until (const char *what, Condition done, gpointer data)
{
  gint64 deadline = g_get_monotonic_time () + TIMEOUT_S * G_USEC_PER_SEC;
  guint tick = g_timeout_add (100, wake, NULL);

  while (!done (data))
    {
      if (g_get_monotonic_time () > deadline)
        g_error ("timed out after %d s waiting for %s", TIMEOUT_S, what);
      g_main_context_iteration (NULL, TRUE);
    }
  g_source_remove (tick);
}

static gboolean
is_nonnull (gpointer pointer)
{
  return *(gpointer *) pointer != NULL;
}

static gboolean
is_nonzero (gpointer pointer)
{
  return *(gint64 *) pointer != 0;
}

static gboolean
is_null (gpointer pointer)
{
  return *(gpointer *) pointer == NULL;
}

static void
got_list (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr (GError) error = NULL;

  *(GPtrArray **) data = tern_service_list_models_finish (TERN_SERVICE (source), result, &error);
  g_assert_no_error (error);
}

/* The library as the service has it, once every request made before has
 * been answered (requests run in order). */
static GPtrArray *
list_models (Fixture *f)
{
  GPtrArray *models = NULL;

  tern_service_list_models (f->service, NULL, got_list, &models);
  wait_until ("the library to be listed", is_nonnull, &models);
  return models;
}

/* ---- Finding widgets ---- */

static gboolean
is_any_row (GtkWidget *widget, gconstpointer data)
{
  return ADW_IS_ACTION_ROW (widget);
}

static gboolean
is_button_tooltip (GtkWidget *widget, gconstpointer tooltip)
{
  return GTK_IS_BUTTON (widget) && g_strcmp0 (gtk_widget_get_tooltip_text (widget), tooltip) == 0;
}

static gboolean
is_warning (GtkWidget *widget, gconstpointer data)
{
  return GTK_IS_IMAGE (widget) && g_strcmp0 (gtk_image_get_icon_name (GTK_IMAGE (widget)), "dialog-warning-symbolic") == 0;
}

static gboolean
is_status_page (GtkWidget *widget, gconstpointer title)
{
  return ADW_IS_STATUS_PAGE (widget) && g_strcmp0 (adw_status_page_get_title (ADW_STATUS_PAGE (widget)), title) == 0;
}

static GtkWidget *
find_row (Fixture *f, const char *title)
{
  return app_harness_find_widget (GTK_WIDGET (f->page), app_harness_is_row_titled, title);
}

/* The page's stack: list, empty state, or nothing yet. */
static const char *
page_state (Fixture *f)
{
  GtkWidget *overlay = adw_bin_get_child (ADW_BIN (f->page));

  g_assert_true (GTK_IS_OVERLAY (overlay));
  return gtk_stack_get_visible_child_name (GTK_STACK (gtk_overlay_get_child (GTK_OVERLAY (overlay))));
}

static gboolean
shows_empty (gpointer f)
{
  return g_strcmp0 (page_state (f), "empty") == 0;
}

typedef struct {
  Fixture *f;
  const char *title;
} RowWait;

static gboolean
row_shown (gpointer data)
{
  RowWait *wait = data;

  return g_strcmp0 (page_state (wait->f), "list") == 0 && find_row (wait->f, wait->title) != NULL;
}

static GtkWidget *
wait_row (Fixture *f, const char *title)
{
  RowWait wait = { f, title };

  wait_until ("the model's row", row_shown, &wait);
  return find_row (f, title);
}

/* GTK has no public way to synthesize a key press: this finds the Escape
 * shortcut among @window's controllers and runs its action. */
static void
press_escape (GtkWidget *window)
{
  g_autoptr (GListModel) controllers = gtk_widget_observe_controllers (window);
  GtkShortcut *escape = NULL;

  for (guint i = 0; escape == NULL && i < g_list_model_get_n_items (controllers); i++)
    {
      g_autoptr (GObject) controller = g_list_model_get_item (controllers, i);

      if (!GTK_IS_SHORTCUT_CONTROLLER (controller))
        continue;
      for (guint j = 0; escape == NULL && j < g_list_model_get_n_items (G_LIST_MODEL (controller)); j++)
        {
          g_autoptr (GtkShortcut) shortcut = g_list_model_get_item (G_LIST_MODEL (controller), j);
          g_autofree char *trigger = gtk_shortcut_trigger_to_string (gtk_shortcut_get_trigger (shortcut));

          if (g_strcmp0 (trigger, "Escape") == 0)
            escape = g_steal_pointer (&shortcut);
        }
    }
  g_assert_nonnull (escape);
  g_assert_true (gtk_shortcut_action_activate (gtk_shortcut_get_action (escape), GTK_SHORTCUT_ACTION_EXCLUSIVE, window,
                                               gtk_shortcut_get_arguments (escape)));
  g_object_unref (escape);
}

/* ---- Files ---- */

static const char *
fixture_model (const char *name)
{
  const char *path = g_test_get_filename (G_TEST_DIST, "data", "models", name, NULL);

  if (!g_file_test (path, G_FILE_TEST_IS_REGULAR))
    g_error ("%s not found: set G_TEST_SRCDIR to the tests folder", path);
  return path;
}

/* Copies the fixture model @name into the test's folder as @as; returns
 * the copy's path. */
static char *
copy_model (Fixture *f, const char *name, const char *as)
{
  g_autoptr (GFile) from = g_file_new_for_path (fixture_model (name));
  char *path = g_build_filename (f->dir, as, NULL);
  g_autoptr (GFile) to = g_file_new_for_path (path);
  g_autoptr (GError) error = NULL;

  g_file_copy (from, to, G_FILE_COPY_OVERWRITE, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  return path;
}

/* ---- The fixture ---- */

static void
on_added (TernLibraryPage *page, gint64 id, Fixture *f)
{
  f->added = id;
  f->n_added++;
}

static void
on_error (TernLibraryPage *page, const char *message, Fixture *f)
{
  g_test_message ("error: %s", message);
  g_free (f->error);
  f->error = g_strdup (message);
  f->n_errors++;
}

static void
on_activated (TernLibraryPage *page, gint64 id, const char *path, Fixture *f)
{
  f->activated = id;
  g_free (f->activated_path);
  f->activated_path = g_strdup (path);
}

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  memset (f, 0, sizeof *f);
  f->dir = g_dir_make_tmp ("tern-library-XXXXXX", &error);
  g_assert_no_error (error);
  g_setenv ("TERN_DATA_DIR", f->dir, TRUE);

  g_autofree char *db = g_build_filename (f->dir, "tern.db", NULL);
  f->service = tern_service_new (db, 1, 256, NULL);
  f->window = GTK_WINDOW (gtk_window_new ());
  gtk_window_set_default_size (f->window, 900, 700);
  f->page = g_object_ref_sink (TERN_LIBRARY_PAGE (tern_library_page_new (f->service)));
  g_signal_connect (f->page, "model-added", G_CALLBACK (on_added), f);
  g_signal_connect (f->page, "error", G_CALLBACK (on_error), f);
  g_signal_connect (f->page, "model-activated", G_CALLBACK (on_activated), f);
  gtk_window_set_child (f->window, GTK_WIDGET (f->page));
  gtk_window_present (f->window);
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  gpointer service = f->service;

  /* The dialogs go with the window, and nothing else holds the page:
   * requests in flight do not. */
  gtk_window_destroy (f->window);
  if (f->page != NULL)
    g_assert_finalize_object (f->page);

  /* Answers still on their way hold the service; shutting it down
   * delivers them (to nothing: the page is gone). */
  g_object_add_weak_pointer (service, &service);
  tern_service_shutdown (f->service);
  g_object_unref (f->service);
  wait_until ("the service to be freed", is_null, &service);

  test_remove_tree (f->dir);
  g_free (f->dir);
  g_free (f->error);
  g_free (f->activated_path);
}

static gboolean
has_added (gpointer f)
{
  return ((Fixture *) f)->n_added > 0;
}

static gboolean
has_error (gpointer f)
{
  return ((Fixture *) f)->n_errors > 0;
}

/* Drops the file at @path on the page, as a file manager would. */
static void
drop_file (Fixture *f, const char *path)
{
  g_autoptr (GListModel) controllers = gtk_widget_observe_controllers (GTK_WIDGET (f->page));
  g_autoptr (GFile) file = g_file_new_for_path (path);
  g_autoptr (GSList) files = g_slist_prepend (NULL, file);
  g_auto (GValue) value = G_VALUE_INIT;
  GtkDropTarget *target = NULL;
  gboolean accepted = FALSE;

  for (guint i = 0; target == NULL && i < g_list_model_get_n_items (controllers); i++)
    {
      g_autoptr (GObject) controller = g_list_model_get_item (controllers, i);
      if (GTK_IS_DROP_TARGET (controller))
        target = GTK_DROP_TARGET (controller);
    }
  g_assert_nonnull (target);
  g_value_init (&value, GDK_TYPE_FILE_LIST);
  g_value_take_boxed (&value, gdk_file_list_new_from_list (files));
  g_signal_emit_by_name (target, "drop", &value, 10.0, 10.0, &accepted);
  g_assert_true (accepted);
}

/* Adds the file at @path by dropping it, and waits for its row; returns
 * the model as the library has it (free with tern_store_model_free). */
static TernStoreModel *
add_model (Fixture *f, const char *path)
{
  f->n_added = 0;
  drop_file (f, path);
  wait_until ("model-added", has_added, f);
  g_assert_cmpuint (f->n_errors, ==, 0);

  g_autoptr (GPtrArray) models = list_models (f);
  TernStoreModel *model = NULL;
  for (guint i = 0; i < models->len; i++)
    if (((TernStoreModel *) models->pdata[i])->id == f->added)
      model = g_ptr_array_steal_index (models, i);
  g_assert_nonnull (model);
  wait_row (f, model->name);
  return model;
}

/* ---- Tests ---- */

static void
test_empty (Fixture *f, gconstpointer data)
{
  wait_until ("the empty state", shows_empty, f);

  GtkWidget *status = app_harness_find_widget (GTK_WIDGET (f->page), is_status_page, "No Models");
  g_assert_nonnull (status);
  g_assert_true (gtk_widget_get_mapped (status));
  g_assert_cmpstr (adw_status_page_get_description (ADW_STATUS_PAGE (status)), ==,
                   "Add a GGUF model file to chat with it");

  GtkWidget *add = app_harness_find_widget (status, app_harness_is_button_labelled, "_Add a Model…");
  g_assert_nonnull (add);
  g_assert_true (gtk_widget_get_mapped (add));
  g_assert_cmpstr (gtk_actionable_get_action_name (GTK_ACTIONABLE (add)), ==, "library.add");
  g_assert_true (gtk_widget_is_sensitive (add));
  g_assert_null (app_harness_find_widget (GTK_WIDGET (f->page), is_any_row, NULL));
}

static void
test_add (Fixture *f, gconstpointer data)
{
  const char *path = fixture_model (FIXTURE_MODEL);
  g_autoptr (TernStoreModel) model = add_model (f, path);
  GtkWidget *row = find_row (f, model->name);
  const char *subtitle = adw_action_row_get_subtitle (ADW_ACTION_ROW (row));
  g_autofree char *size = g_format_size (model->identity.size);
  g_autofree char *params = tern_format_parameters (model->n_params);
  g_autofree char *type = tern_main_tensor_type (model->tensor_types);
  g_autofree char *context = g_strdup_printf ("context %d", model->n_ctx_train);

  g_test_message ("row: %s — %s", model->name, subtitle);
  g_assert_cmpstr (model->name, ==, "kjv-tiny");
  g_assert_cmpint (f->added, ==, model->id);
  g_assert_true (gtk_widget_get_mapped (row));
  g_assert_nonnull (strstr (subtitle, size));
  g_assert_nonnull (strstr (subtitle, model->arch));
  g_assert_nonnull (strstr (subtitle, params));
  g_assert_cmpstr (type, ==, "q4_K");
  /* Type and size first, as the model menu names them. */
  g_autofree char *type_size = g_strdup_printf ("Q4_K · %s · ", size);
  g_assert_true (g_str_has_prefix (subtitle, type_size));
  g_assert_nonnull (strstr (subtitle, context));
  g_assert_nonnull (strstr (subtitle, "never used"));
  g_assert_cmpstr (page_state (f), ==, "list");

  /* "Use" says which model and where its file is. */
  GtkWidget *use = app_harness_find_widget (row, app_harness_is_button_labelled, "_Use");
  app_harness_click (use);
  g_assert_cmpint (f->activated, ==, model->id);
  g_assert_cmpstr (f->activated_path, ==, model->path);

  /* The same file again keeps its id and its one row. */
  g_autoptr (TernStoreModel) again = add_model (f, path);
  g_assert_cmpint (again->id, ==, model->id);
  g_autoptr (GPtrArray) models = list_models (f);
  g_assert_cmpuint (models->len, ==, 1);
  guint n_rows = 0;
  /* The rows were made again with the listing. */
  row = find_row (f, model->name);
  for (GtkWidget *child = gtk_widget_get_first_child (gtk_widget_get_parent (row)); child;
       child = gtk_widget_get_next_sibling (child))
    n_rows += GTK_IS_LIST_BOX_ROW (child);
  g_assert_cmpuint (n_rows, ==, 1);
  g_assert_cmpuint (f->n_errors, ==, 0);
}

static void
test_add_invalid (Fixture *f, gconstpointer data)
{
  g_autofree char *path = g_build_filename (f->dir, "notes.txt", NULL);
  g_autoptr (GFile) file = g_file_new_for_path (path);
  g_autoptr (GError) error = NULL;

  g_file_set_contents (path, "Not a model, only some words.\n", -1, &error);
  g_assert_no_error (error);
  tern_library_page_add_file (f->page, file);
  wait_until ("the error", has_error, f);
  g_assert_nonnull (strstr (f->error, "notes.txt is not a usable model: "));
  g_assert_cmpuint (f->n_added, ==, 0);

  /* A file that is not on this computer: refused at once. */
  g_autoptr (GFile) remote = g_file_new_for_uri ("https://example.com/models/remote.gguf");
  tern_library_page_add_file (f->page, remote);
  g_assert_cmpuint (f->n_errors, ==, 2);
  g_assert_nonnull (strstr (f->error, "remote.gguf"));

  g_autoptr (GPtrArray) models = list_models (f);
  g_assert_cmpuint (models->len, ==, 0);
  wait_until ("the empty state", shows_empty, f);
  g_assert_cmpuint (f->n_added, ==, 0);
}

/* Opens the remove dialog of @row and checks what it says. */
static AdwMessageDialog *
open_remove_dialog (Fixture *f, GtkWidget *row, const char *name)
{
  app_harness_choose_from_menu (row, "Remove…");

  AdwMessageDialog *dialog = ADW_MESSAGE_DIALOG (app_harness_find_toplevel (ADW_TYPE_MESSAGE_DIALOG));
  g_autofree char *heading = g_strdup_printf ("Remove %s from the library?", name);

  g_assert_nonnull (dialog);
  g_assert_true (gtk_window_get_transient_for (GTK_WINDOW (dialog)) == f->window);
  g_assert_true (gtk_window_get_modal (GTK_WINDOW (dialog)));
  g_assert_cmpstr (adw_message_dialog_get_heading (dialog), ==, heading);
  g_assert_true (adw_message_dialog_has_response (dialog, "cancel"));
  g_assert_true (adw_message_dialog_has_response (dialog, "remove"));
  g_assert_cmpstr (adw_message_dialog_get_close_response (dialog), ==, "cancel");

  GtkWidget *trash = adw_message_dialog_get_extra_child (dialog);
  g_assert_true (GTK_IS_CHECK_BUTTON (trash));
  g_assert_cmpstr (gtk_check_button_get_label (GTK_CHECK_BUTTON (trash)), ==, "Also move the _file to the trash");
  g_assert_false (gtk_check_button_get_active (GTK_CHECK_BUTTON (trash)));
  return dialog;
}

/* Answers @dialog as its button would, and checks it is gone. */
static void
respond (AdwMessageDialog *dialog, const char *response)
{
  gpointer weak = dialog;

  g_object_add_weak_pointer (G_OBJECT (dialog), &weak);
  adw_message_dialog_response (dialog, response);
  /* A response button closes the dialog after the response; so does
   * the test. */
  if (weak != NULL)
    gtk_window_destroy (GTK_WINDOW (dialog));
  wait_until ("the dialog to be freed", is_null, &weak);
}

static void
test_remove (Fixture *f, gconstpointer data)
{
  g_autofree char *path = copy_model (f, FIXTURE_MODEL, "model.gguf");
  g_autoptr (TernStoreModel) model = add_model (f, path);
  GtkWidget *row = find_row (f, model->name);

  /* Cancel: nothing changes. */
  respond (open_remove_dialog (f, row, model->name), "cancel");
  g_autoptr (GPtrArray) kept = list_models (f);
  g_assert_cmpuint (kept->len, ==, 1);
  g_assert_nonnull (find_row (f, model->name));

  /* Remove: the row goes, the file stays. */
  respond (open_remove_dialog (f, find_row (f, model->name), model->name), "remove");
  wait_until ("the empty state", shows_empty, f);
  g_assert_null (find_row (f, model->name));
  g_assert_true (g_file_test (path, G_FILE_TEST_IS_REGULAR));
  g_autoptr (GPtrArray) models = list_models (f);
  g_assert_cmpuint (models->len, ==, 0);
  g_assert_cmpuint (f->n_errors, ==, 0);
}

static gboolean
trashed (gpointer path)
{
  return !g_file_test (path, G_FILE_TEST_EXISTS);
}

static void
test_remove_trash (Fixture *f, gconstpointer data)
{
  g_autofree char *path = copy_model (f, FIXTURE_MODEL, "to-trash.gguf");
  g_autoptr (TernStoreModel) model = add_model (f, path);
  AdwMessageDialog *dialog = open_remove_dialog (f, find_row (f, model->name), model->name);

  gtk_check_button_set_active (GTK_CHECK_BUTTON (adw_message_dialog_get_extra_child (dialog)), TRUE);
  respond (dialog, "remove");
  wait_until ("the empty state", shows_empty, f);
  wait_until ("the file to go to the trash", trashed, path);
  g_assert_cmpuint (f->n_errors, ==, 0);

  /* In the (isolated) user's trash. */
  g_autofree char *in_trash = g_build_filename (g_get_user_data_dir (), "Trash", "files", "to-trash.gguf", NULL);
  g_assert_true (g_file_test (in_trash, G_FILE_TEST_IS_REGULAR));
}

typedef struct {
  Fixture *f;
  const char *title;
  const char *tooltip; /* NULL: no warning shown */
} WarningWait;

static gboolean
warning_shown (gpointer data)
{
  WarningWait *wait = data;
  GtkWidget *row = find_row (wait->f, wait->title);
  GtkWidget *warning = row ? app_harness_find_widget (row, is_warning, NULL) : NULL;

  if (warning == NULL)
    return FALSE;
  if (wait->tooltip == NULL)
    return !gtk_widget_get_visible (warning);
  return gtk_widget_get_visible (warning) && g_strcmp0 (gtk_widget_get_tooltip_text (warning), wait->tooltip) == 0;
}

static GtkWidget *
use_button (Fixture *f, const char *title)
{
  GtkWidget *use = app_harness_find_widget (find_row (f, title), app_harness_is_button_labelled, "_Use");

  g_assert_nonnull (use);
  return use;
}

static void
test_missing (Fixture *f, gconstpointer data)
{
  g_autofree char *path = copy_model (f, FIXTURE_MODEL, "moved-away.gguf");
  g_autoptr (TernStoreModel) model = add_model (f, path);
  WarningWait wait = { f, model->name, NULL };

  g_assert_true (warning_shown (&wait));
  g_assert_true (gtk_widget_get_sensitive (use_button (f, model->name)));

  /* Deleted: "File missing", nothing to use. */
  g_assert_cmpint (g_remove (path), ==, 0);
  tern_library_page_reload (f->page);
  wait.tooltip = "File missing";
  wait_until ("the missing warning", warning_shown, &wait);
  g_assert_false (gtk_widget_get_sensitive (use_button (f, model->name)));
  gtk_test_accessible_assert_property (GTK_ACCESSIBLE (app_harness_find_widget (find_row (f, model->name), is_warning, NULL)),
                                       GTK_ACCESSIBLE_PROPERTY_LABEL, "File missing");

  /* Another model at the same path: "changed". */
  g_free (copy_model (f, OTHER_MODEL, "moved-away.gguf"));
  tern_library_page_reload (f->page);
  wait.tooltip = "File changed since it was added";
  wait_until ("the changed warning", warning_shown, &wait);
  g_assert_true (gtk_widget_get_sensitive (use_button (f, model->name)));

  /* The original back: no warning. */
  g_free (copy_model (f, FIXTURE_MODEL, "moved-away.gguf"));
  /* The copy has a new modification time: give it the one recorded
   * (utimensat: GLib 2.74 set it to the whole second). */
  struct timespec times[2] = {
    { .tv_nsec = UTIME_OMIT },
    { .tv_sec = model->identity.mtime_us / G_USEC_PER_SEC, .tv_nsec = model->identity.mtime_us % G_USEC_PER_SEC * 1000 },
  };
  g_assert_cmpint (utimensat (AT_FDCWD, path, times, 0), ==, 0);
  tern_library_page_reload (f->page);
  wait.tooltip = NULL;
  wait_until ("the warning to go", warning_shown, &wait);
  g_assert_cmpuint (f->n_errors, ==, 0);
}

static gboolean
details_checked (gpointer details)
{
  return tern_model_details_get_status (details) >= 0;
}

static TernModelDetails *
open_details (Fixture *f, const char *title)
{
  app_harness_choose_from_menu (find_row (f, title), "Details…");

  TernModelDetails *details = TERN_MODEL_DETAILS (app_harness_find_toplevel (TERN_TYPE_MODEL_DETAILS));
  g_assert_nonnull (details);
  g_assert_true (gtk_window_get_transient_for (GTK_WINDOW (details)) == f->window);
  g_assert_true (gtk_window_get_modal (GTK_WINDOW (details)));
  wait_until ("the details to check the file", details_checked, details);
  return details;
}

static void
close_details (TernModelDetails *details)
{
  gpointer weak = details;

  g_object_add_weak_pointer (G_OBJECT (details), &weak);
  press_escape (GTK_WIDGET (details));
  wait_until ("the details to be freed", is_null, &weak);
}

static void
test_details (Fixture *f, gconstpointer data)
{
  g_autofree char *path = copy_model (f, FIXTURE_MODEL, "detailed.gguf");
  g_autoptr (TernStoreModel) model = add_model (f, path);
  TernModelDetails *details = open_details (f, model->name);
  TernModelIdentity identity;
  g_autoptr (GError) error = NULL;

  g_assert_cmpint (tern_model_details_get_status (details), ==, TERN_MODEL_OK);
  g_assert_cmpstr (gtk_window_get_title (GTK_WINDOW (details)), ==, model->name);

  /* Every field, as text. */
  g_assert_true (tern_model_identity_compute (path, &identity, &error));
  g_assert_no_error (error);
  g_autofree char *hash = tern_model_identity_hash_hex (&identity);
  g_autofree char *params_short = tern_format_parameters (model->n_params);
  g_autofree char *params = g_strdup_printf ("%s (%'" G_GINT64_FORMAT ")", params_short, model->n_params);
  g_autofree char *size = g_format_size_full (model->identity.size, G_FORMAT_SIZE_LONG_FORMAT);
  g_autofree char *context = g_strdup_printf ("%'d tokens", model->n_ctx_train);
  /* Dates in the locale's own format, not C's "%c". */
  g_autoptr (GDateTime) added_at = g_date_time_new_from_unix_local (model->added_at / G_USEC_PER_SEC);
  g_autofree char *added = g_date_time_format (added_at, "%x %X");
  const char *expected[] = { model->name, model->path, model->arch, params, model->tensor_types, size, context,
                             hash, "Ready", "Never", added };
  for (gsize i = 0; i < G_N_ELEMENTS (expected); i++)
    {
      GtkWidget *label = app_harness_find_widget (GTK_WIDGET (details), app_harness_is_value_text, expected[i]);

      if (label == NULL)
        g_error ("the details do not show \"%s\"", expected[i]);
      /* One line: never wrapped or hyphenated; a long value is cut in the
       * middle, whole in its tooltip. */
      g_assert_false (gtk_label_get_wrap (GTK_LABEL (label)));
      g_assert_cmpint (gtk_label_get_ellipsize (GTK_LABEL (label)), ==, PANGO_ELLIPSIZE_MIDDLE);
      g_assert_cmpstr (gtk_widget_get_tooltip_text (label), ==, expected[i]);
      g_assert_true (gtk_widget_has_css_class (gtk_widget_get_ancestor (label, ADW_TYPE_ACTION_ROW), "property"));
    }
  g_assert_nonnull (app_harness_find_widget (GTK_WIDGET (details), is_button_tooltip, "Copy Header SHA-256"));
  /* The path is long: it shows its start and its file name, and never
   * takes more than its line. */
  GtkWidget *location = app_harness_find_widget (GTK_WIDGET (details), app_harness_is_value_text, model->path);
  GtkWidget *ready = app_harness_find_widget (GTK_WIDGET (details), app_harness_is_value_text, "Ready");
  g_assert_cmpint (gtk_widget_get_height (location), ==, gtk_widget_get_height (ready));
  g_assert_nonnull (app_harness_find_widget (GTK_WIDGET (details), is_button_tooltip, "Copy Location"));
  close_details (details);

  /* Checked when opened: a file deleted since the listing shows missing,
   * in the dialog and then in the row. */
  g_assert_cmpint (g_remove (path), ==, 0);
  details = open_details (f, model->name);
  g_assert_cmpint (tern_model_details_get_status (details), ==, TERN_MODEL_MISSING);
  g_assert_nonnull (app_harness_find_widget (GTK_WIDGET (details), app_harness_is_label_text, "File missing"));
  WarningWait wait = { f, model->name, "File missing" };
  g_assert_true (warning_shown (&wait));
  close_details (details);
  g_assert_cmpuint (f->n_errors, ==, 0);
}

typedef struct {
  Fixture *f;
  const char *loaded;     /* the path of the row that shows the Loaded tag */
  const char *not_loaded; /* one that does not */
} LoadedWait;

static gboolean
is_row_of (GtkWidget *widget, gconstpointer path)
{
  return ADW_IS_ACTION_ROW (widget) && g_strcmp0 (gtk_widget_get_tooltip_text (widget), path) == 0;
}

static gboolean
tag_shown (Fixture *f, const char *path)
{
  GtkWidget *row = app_harness_find_widget (GTK_WIDGET (f->page), is_row_of, path);
  GtkWidget *tag = row ? app_harness_find_widget (row, app_harness_is_label_text, "Loaded") : NULL;

  return tag != NULL && gtk_widget_get_visible (tag);
}

static gboolean
loaded_shown (gpointer data)
{
  LoadedWait *wait = data;

  return tag_shown (wait->f, wait->loaded) && !tag_shown (wait->f, wait->not_loaded);
}

static void
got_loaded (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr (GError) error = NULL;

  *(gint64 *) data = tern_service_load_model_finish (TERN_SERVICE (source), result, &error);
  g_assert_no_error (error);
}

static gint64
load (Fixture *f, const char *path)
{
  gint64 id = 0;

  tern_service_load_model (f->service, path, NULL, got_loaded, &id);
  wait_until ("the model to load", is_nonzero, &id);
  return id;
}

/* The Loaded tag follows the service's loaded model on its own, without a
 * new listing. */
static void
test_loaded (Fixture *f, gconstpointer data)
{
  g_autofree char *a = copy_model (f, FIXTURE_MODEL, "a.gguf");
  g_autofree char *b = copy_model (f, OTHER_MODEL, "b.gguf");
  g_autoptr (TernStoreModel) model_a = add_model (f, a);
  g_autoptr (TernStoreModel) model_b = add_model (f, b);
  LoadedWait wait = { f, a, b };

  g_assert_false (tag_shown (f, a) || tag_shown (f, b));
  load (f, a);
  wait_until ("the tag on a", loaded_shown, &wait);
  load (f, b);
  wait.loaded = b;
  wait.not_loaded = a;
  wait_until ("the tag to move to b", loaded_shown, &wait);
  g_autofree char *description = g_strdup_printf (
      "Loaded · %s", adw_action_row_get_subtitle (ADW_ACTION_ROW (app_harness_find_widget (GTK_WIDGET (f->page), is_row_of, b))));
  gtk_test_accessible_assert_property (GTK_ACCESSIBLE (app_harness_find_widget (GTK_WIDGET (f->page), is_row_of, b)),
                                       GTK_ACCESSIBLE_PROPERTY_DESCRIPTION, description);
  g_assert_cmpuint (f->n_errors, ==, 0);
}

/* Every control shown has a name for assistive technologies. */
static guint
check_names (GtkWidget *widget)
{
  guint n = 0;

  if (!gtk_widget_get_mapped (widget))
    return 0;
  if (GTK_IS_BUTTON (widget) || GTK_IS_CHECK_BUTTON (widget))
    {
      gboolean named = gtk_test_accessible_has_property (GTK_ACCESSIBLE (widget), GTK_ACCESSIBLE_PROPERTY_LABEL) ||
                       gtk_test_accessible_has_relation (GTK_ACCESSIBLE (widget), GTK_ACCESSIBLE_RELATION_LABELLED_BY);
      if (!named && GTK_IS_BUTTON (widget) && gtk_button_get_label (GTK_BUTTON (widget)) &&
          !gtk_button_get_icon_name (GTK_BUTTON (widget)))
        named = TRUE;
      if (!named && GTK_IS_CHECK_BUTTON (widget) && gtk_check_button_get_label (GTK_CHECK_BUTTON (widget)))
        named = TRUE;
      if (!named)
        g_error ("%s %s has no accessible name", G_OBJECT_TYPE_NAME (widget),
                 gtk_widget_get_tooltip_text (widget) ? gtk_widget_get_tooltip_text (widget) : "");
      /* Icon buttons say what they do on hover too. */
      if (GTK_IS_BUTTON (widget) && gtk_button_get_icon_name (GTK_BUTTON (widget)) != NULL)
        g_assert_nonnull (gtk_widget_get_tooltip_text (widget));
      g_assert_true (gtk_widget_get_focusable (widget));
      n++;
    }
  for (GtkWidget *child = gtk_widget_get_first_child (widget); child; child = gtk_widget_get_next_sibling (child))
    n += check_names (child);
  return n;
}

static void
test_accessible (Fixture *f, gconstpointer data)
{
  wait_until ("the empty state", shows_empty, f);
  g_assert_cmpuint (check_names (GTK_WIDGET (f->page)), >=, 1);

  g_autofree char *path = copy_model (f, FIXTURE_MODEL, "named.gguf");
  g_autoptr (TernStoreModel) model = add_model (f, path);
  /* Add, and the row's Use and its menu. */
  g_assert_cmpuint (check_names (GTK_WIDGET (f->page)), >=, 3);

  AdwMessageDialog *dialog = open_remove_dialog (f, find_row (f, model->name), model->name);
  check_names (GTK_WIDGET (dialog));
  respond (dialog, "cancel");

  app_harness_choose_from_menu (find_row (f, model->name), "Rename…");
  dialog = ADW_MESSAGE_DIALOG (app_harness_find_toplevel (ADW_TYPE_MESSAGE_DIALOG));
  g_assert_nonnull (dialog);
  check_names (GTK_WIDGET (dialog));
  gtk_test_accessible_assert_property (GTK_ACCESSIBLE (adw_message_dialog_get_extra_child (dialog)),
                                       GTK_ACCESSIBLE_PROPERTY_LABEL, "Name");
  respond (dialog, "cancel");

  TernModelDetails *details = open_details (f, model->name);
  g_assert_cmpuint (check_names (GTK_WIDGET (details)), >=, 2);
  close_details (details);
}

static void
test_destroy_in_flight (Fixture *f, gconstpointer data)
{
  g_autoptr (GFile) file = g_file_new_for_path (fixture_model (FIXTURE_MODEL));
  g_autofree char *text = g_build_filename (f->dir, "text.txt", NULL);
  g_autoptr (GFile) not_model = g_file_new_for_path (text);

  g_assert_true (g_file_set_contents (text, "words", -1, NULL));
  /* Requests of every kind on their way when the page goes: the listing
   * made at construction, two adds (one to fail), a reload. Their
   * answers must leave the page alone: it is freed at once, and ASan
   * checks nothing touches it after. */
  tern_library_page_add_file (f->page, file);
  tern_library_page_add_file (f->page, not_model);
  tern_library_page_reload (f->page);
  gtk_window_destroy (f->window);
  g_assert_finalize_object (g_steal_pointer (&f->page));
  f->window = GTK_WINDOW (gtk_window_new ());

  g_autoptr (GPtrArray) models = list_models (f);
  g_assert_cmpuint (models->len, ==, 1);
  g_assert_cmpuint (f->n_added, ==, 0);
  g_assert_cmpuint (f->n_errors, ==, 0);
}

static void
test_format (void)
{
  static const struct {
    gint64 n;
    const char *text;
  } cases[] = {
    { 0, "0" },           { 512, "512" },          { 830000, "830 K" },   { 4123456, "4.1 M" },
    { 15123456, "15 M" }, { 134515008, "135 M" },  { 999600000, "1.0 B" }, { 1100048384, "1.1 B" },
    { 9960000, "10 M" },  { 70553706496, "71 B" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *text = tern_format_parameters (cases[i].n);
      g_assert_cmpstr (text, ==, cases[i].text);
    }

  const char *types[][2] = {
    { "q4_K 155, f32 45", "q4_K" }, { "f32 12", "f32" }, { "tq2_0", "tq2_0" }, { "", "unknown" }, { NULL, "unknown" },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (types); i++)
    {
      g_autofree char *type = tern_main_tensor_type (types[i][0]);
      g_assert_cmpstr (type, ==, types[i][1]);
    }
  g_assert_null (tern_model_status_problem (TERN_MODEL_OK));
  g_assert_cmpstr (tern_model_status_problem (TERN_MODEL_MISSING), ==, "File missing");
  g_assert_cmpstr (tern_model_status_problem (TERN_MODEL_CHANGED), ==, "File changed since it was added");
}

int
main (int argc, char **argv)
{
  /* GTK's test accessibility backend keeps what widgets set, for
   * gtk_test_accessible_*; settings stay in memory. */
  g_setenv ("GTK_A11Y", "test", TRUE);
  g_setenv ("GSETTINGS_BACKEND", "memory", TRUE);
  /* Numbers as the tests spell them. */
  g_setenv ("LC_NUMERIC", "C", TRUE);

  gtk_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
  adw_init ();

#define ADD(path, func) g_test_add (path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)
  g_test_add_func ("/app/library-page/format", test_format);
  ADD ("/app/library-page/empty", test_empty);
  ADD ("/app/library-page/add", test_add);
  ADD ("/app/library-page/add-invalid", test_add_invalid);
  ADD ("/app/library-page/remove", test_remove);
  ADD ("/app/library-page/remove-trash", test_remove_trash);
  ADD ("/app/library-page/missing", test_missing);
  ADD ("/app/library-page/details", test_details);
  ADD ("/app/library-page/loaded", test_loaded);
  ADD ("/app/library-page/accessible", test_accessible);
  ADD ("/app/library-page/destroy-in-flight", test_destroy_in_flight);
#undef ADD

  return g_test_run ();
}
