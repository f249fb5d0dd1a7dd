/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The accessible names of every page of the real window, read over AT-SPI
 * as a screen reader reads them (a11y-names.py, run while the window
 * waits): the welcome, an empty chat, a chat with messages, search
 * results, the trash, the library, a model's details, the compress dialog, Preferences, conversation
 * settings and the shortcuts. Controls must have a name; no name repeats
 * a word ("Use Use"), shows a mnemonic underscore or a GTK type name. */
#include "app-harness.h"

#include <unistd.h>

#define MODEL "kjv-tiny-q4_k_m.gguf"

typedef struct {
  gboolean done;
  gboolean ok;
  char *output;
} Walk;

static GString *failures;

static void
on_walked (GObject *source, GAsyncResult *result, gpointer data)
{
  Walk *walk = data;
  g_autoptr (GError) error = NULL;
  g_autofree char *err = NULL;

  if (!g_subprocess_communicate_utf8_finish (G_SUBPROCESS (source), result, &walk->output, &err, &error))
    g_error ("a11y-names.py: %s", error->message);
  walk->ok = g_subprocess_get_successful (G_SUBPROCESS (source));
  if (err != NULL && err[0] != '\0')
    g_test_message ("%s", err);
  walk->done = TRUE;
}

static gboolean
walked (gpointer data)
{
  return ((Walk *) data)->done;
}

/* Walks every window of this program over AT-SPI, the main loop serving
 * the walk, and records the offenders on @page. */
static void
check_page (const char *page)
{
  g_autofree char *script = g_test_build_filename (G_TEST_DIST, "app", "gui", "a11y-names.py", NULL);
  g_autofree char *pid = g_strdup_printf ("%d", (int) getpid ());
  g_autoptr (GError) error = NULL;
  g_autoptr (GSubprocess) walker = NULL;
  Walk walk = { 0 };

  /* Let the page lay out and reach the accessibility bus first. */
  for (int i = 0; i < 20; i++)
    {
      g_usleep (10000);
      while (g_main_context_iteration (NULL, FALSE))
        ;
    }
  walker = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE, &error,
                             "/usr/bin/python3", script, pid, page, NULL);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8_async (walker, NULL, NULL, on_walked, &walk);
  app_harness_wait (page, walked, &walk, 120);
  g_test_message ("%s", walk.output);
  if (!walk.ok)
    g_string_append (failures, walk.output);
  g_free (walk.output);
}

static gboolean
mapped (gpointer data)
{
  return gtk_widget_get_mapped (data);
}

/* The newest window other than the main one. */
static GtkWindow *
dialog_of (TernWindow *w)
{
  GListModel *toplevels = gtk_window_get_toplevels ();

  for (guint i = g_list_model_get_n_items (toplevels); i > 0; i--)
    {
      g_autoptr (GtkWindow) window = g_list_model_get_item (toplevels, i - 1);

      if (window != GTK_WINDOW (w) && gtk_widget_get_visible (GTK_WIDGET (window)))
        return window;
    }
  g_error ("no dialog opened");
}

/* Checks the window opened by @action on @group (or, without @group, by
 * the widget action @action of the library page), then closes it. */
static void
check_dialog (TernWindow *w, GActionGroup *group, const char *action, GVariant *parameter, const char *page)
{
  GtkWindow *dialog;

  if (group != NULL)
    g_action_group_activate_action (group, action, parameter);
  else
    g_assert_true (gtk_widget_activate_action_variant (w->library_page, action, parameter));
  dialog = dialog_of (w);
  app_harness_wait (page, mapped, dialog, 30);
  check_page (page);
  gtk_window_destroy (dialog);
}

static void
first_start_body (AppHarness *h, gpointer data)
{
  TernWindow *w = h->window;

  g_assert_cmpstr (gtk_stack_get_visible_child_name (w->main_stack), ==, "welcome");
  check_page ("welcome");
  check_dialog (w, G_ACTION_GROUP (h->app), "preferences", NULL, "preferences");
  check_dialog (w, G_ACTION_GROUP (w), "show-help-overlay", NULL, "shortcuts");
}

static gboolean
chat_shown (gpointer data)
{
  TernWindow *w = data;

  return app_harness_idle (w) && w->fill == NULL && app_harness_n_messages (w) == 4;
}

static gboolean
search_done (gpointer data)
{
  TernWindow *w = data;

  return g_str_equal (gtk_stack_get_visible_child_name (w->sidebar_stack), "results");
}

static void
chat_body (AppHarness *h, gpointer data)
{
  TernWindow *w = h->window;
  gint64 conversation = GPOINTER_TO_SIZE (data);
  TernConversationItem *item;

  app_harness_wait ("the model", app_harness_model_ready, w, 60);
  tern_window_open_conversation (w, conversation);
  app_harness_wait ("the chat", chat_shown, w, 60);
  check_page ("chat");
  item = tern_window_find_conversation (w, conversation);
  g_assert_nonnull (item);
  check_dialog (w, G_ACTION_GROUP (w), "conversation-settings", NULL, "conversation settings");

  gtk_editable_set_text (GTK_EDITABLE (w->search_entry), "firmament");
  g_signal_emit_by_name (w->search_entry, "search-changed");
  app_harness_sync (w);
  app_harness_wait ("search results", search_done, w, 30);
  check_page ("search");
  gtk_editable_set_text (GTK_EDITABLE (w->search_entry), "");
  g_signal_emit_by_name (w->search_entry, "search-changed");

  g_action_group_activate_action (G_ACTION_GROUP (w), "new-conversation", NULL);
  app_harness_sync (w);
  check_page ("empty chat");

  g_action_group_activate_action (G_ACTION_GROUP (w), "delete-conversation", g_variant_new_int64 (conversation));
  app_harness_sync (w);
  gtk_toggle_button_set_active (w->trash_button, TRUE);
  app_harness_sync (w);
  check_page ("trash");
  gtk_toggle_button_set_active (w->trash_button, FALSE);

  g_action_group_change_action_state (G_ACTION_GROUP (w), "show-library", g_variant_new_boolean (TRUE));
  app_harness_sync (w);
  check_page ("library");
  {
    g_autoptr (TernModelItem) model = g_list_model_get_item (G_LIST_MODEL (w->models), 0);

    g_assert_nonnull (model);
    check_dialog (w, NULL, "library.details", g_variant_new_int64 (tern_model_item_get_id (model)), "model details");
    check_dialog (w, NULL, "library.compress", g_variant_new_int64 (tern_model_item_get_id (model)), "compress");
  }
}

static void
test_names (void)
{
  AppHarness h;
  g_autoptr (GError) error = NULL;

  failures = g_string_new (NULL);

  app_harness_init (&h, NULL, 1, 256);
  app_harness_run (&h, first_start_body, NULL);
  app_harness_clear (&h);

  app_harness_init (&h, NULL, 1, 256);
  {
    g_autofree char *src = g_test_build_filename (G_TEST_DIST, "data", "models", MODEL, NULL);
    g_autofree char *db = g_build_filename (h.dir, "tern.db", NULL);
    TernStore *store = tern_store_open (db, &error);
    gint64 model, conversation, question;

    g_assert_no_error (error);
    model = tern_store_model_add (store, src, &error);
    g_assert_no_error (error);
    conversation = tern_store_conversation_new (store, "The firmament", model, NULL, NULL, &error);
    g_assert_no_error (error);
    question = tern_store_message_add (store, conversation, TERN_STORE_HEAD, TERN_ROLE_USER,
                                       "What was made on the second day?", NULL, 0, NULL, &error);
    g_assert_no_error (error);
    tern_store_message_add (store, conversation, question, TERN_ROLE_ASSISTANT,
                            "The **firmament**, see https://example.org:\n\n| Day | Made |\n|:--|--:|\n"
                            "| second | firmament |\n\n```c\nint day = 2;\n```",
                            NULL, 0, NULL, &error);
    g_assert_no_error (error);
    tern_store_message_add (store, conversation, TERN_STORE_HEAD, TERN_ROLE_USER, "And the third?", NULL, 0, NULL,
                            &error);
    g_assert_no_error (error);
    tern_store_message_add (store, conversation, TERN_STORE_HEAD, TERN_ROLE_ASSISTANT, "~~Nothing~~ The dry land.",
                            NULL, 0, NULL, &error);
    g_assert_no_error (error);
    tern_store_free (store);
    app_harness_run (&h, chat_body, GSIZE_TO_POINTER (conversation));
  }
  app_harness_clear (&h);

  if (failures->len > 0)
    g_error ("accessible names to fix:\n%s", failures->str);
  g_string_free (failures, TRUE);
}

int
main (int argc, char **argv)
{
  /* Names as AT-SPI gives them, not the test context's. */
  g_setenv ("GTK_A11Y", "atspi", TRUE);
  g_test_init (&argc, &argv, NULL);
  gtk_init ();
  adw_init ();
  g_test_add_func ("/app/a11y/names", test_names);
  return g_test_run ();
}
