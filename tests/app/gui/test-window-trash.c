/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The real window's sidebar: its selection follows the conversation shown
 * (open, new chat, a send that stores a new one, delete, search), a
 * restart reopens the last one, the Trash view (restore, delete
 * permanently, empty, the expiry at start), and the settings of a new
 * chat set before its first message. */
#include "app-harness.h"

#include <sqlite3.h>
#include <tern/store.h>

#include "tern-conversation-settings.h"

#include "test-data.h"

/* Conversations stored before the window opens, oldest first: "Apples"
 * and "Pears" both mention fruit. */
static gint64 apples, pears, plums;

static TernStore *
open_store (AppHarness *h)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *db = g_build_filename (h->dir, "tern.db", NULL);
  TernStore *store = tern_store_open (db, &error);

  g_assert_no_error (error);
  return store;
}

static gint64
add_conversation (TernStore *store, const char *title, const char *text)
{
  g_autoptr (GError) error = NULL;
  gint64 id = tern_store_conversation_new (store, title, 0, NULL, NULL, &error);

  g_assert_no_error (error);
  g_assert_cmpint (tern_store_message_add (store, id, TERN_STORE_HEAD, TERN_ROLE_USER, text, NULL, 0, NULL, &error),
                   >, 0);
  return id;
}

static void
fill_store (AppHarness *h)
{
  g_autoptr (TernStore) store = open_store (h);

  apples = add_conversation (store, "Apples", "a fruit that is red");
  pears = add_conversation (store, "Pears", "a fruit that is green");
  plums = add_conversation (store, "Plums", "purple stones");
}

/* The id of the row selected in the sidebar's list (0: none). */
static gint64
selected (TernWindow *w)
{
  TernConversationItem *item = gtk_single_selection_get_selected_item (w->conversation_selection);

  return item ? tern_conversation_item_get_id (item) : 0;
}

/* The position of conversation @id in @list. */
static guint
position_of (GListModel *list, gint64 id)
{
  for (guint i = 0; i < g_list_model_get_n_items (list); i++)
    {
      g_autoptr (TernConversationItem) item = g_list_model_get_item (list, i);
      if (tern_conversation_item_get_id (item) == id)
        return i;
    }
  g_assert_not_reached ();
}

static void
click_conversation (TernWindow *w, gint64 id)
{
  g_signal_emit_by_name (w->conversation_list, "activate", position_of (G_LIST_MODEL (w->conversations), id));
  app_harness_sync (w);
}

static gboolean
results_shown (gpointer data)
{
  TernWindow *w = data;

  return g_strcmp0 (gtk_stack_get_visible_child_name (w->sidebar_stack), "results") == 0 &&
         g_list_model_get_n_items (G_LIST_MODEL (w->results)) == 2;
}

static gboolean
idle_with_reply (gpointer data)
{
  TernWindow *w = data;

  return app_harness_idle (w) && app_harness_n_messages (w) >= 2;
}

static void
start_model (AppHarness *h)
{
  app_harness_open_model (h->window, NULL);
  app_harness_sync (h->window);
}

static void
selection_body (AppHarness *h, gpointer data)
{
  TernWindow *w = h->window;

  start_model (h);
  g_assert_cmpint (selected (w), ==, 0);

  /* Opening: its row. */
  click_conversation (w, pears);
  g_assert_cmpint (w->conversation_id, ==, pears);
  g_assert_cmpint (selected (w), ==, pears);

  /* A new chat: none. */
  g_action_group_activate_action (G_ACTION_GROUP (w), "new-conversation", NULL);
  app_harness_sync (w);
  g_assert_cmpint (selected (w), ==, 0);

  /* A send that stores a new conversation: its row, once listed. */
  app_harness_send (w, "And the figs?");
  app_harness_wait ("the reply", idle_with_reply, w, 60);
  app_harness_sync (w);
  g_assert_cmpint (w->conversation_id, !=, 0);
  g_assert_cmpint (selected (w), ==, w->conversation_id);
  TernConversationItem *item = gtk_single_selection_get_selected_item (w->conversation_selection);
  g_assert_cmpstr (tern_conversation_item_get_title (item), ==, "And the figs?");

  /* A model file opened: a new chat with it, none selected. */
  click_conversation (w, plums);
  g_assert_cmpint (selected (w), ==, plums);
  start_model (h);
  g_assert_cmpint (w->conversation_id, ==, 0);
  g_assert_cmpint (selected (w), ==, 0);

  /* A search: the hit of the conversation opened is the one selected,
   * there and in the list once the search is cleared. */
  gtk_editable_set_text (GTK_EDITABLE (w->search_entry), "fruit");
  app_harness_wait ("the search results", results_shown, w, 30);
  g_signal_emit_by_name (w->result_list, "activate", position_of (G_LIST_MODEL (w->results), apples));
  app_harness_sync (w);
  g_assert_cmpint (w->conversation_id, ==, apples);
  GtkSingleSelection *hits = GTK_SINGLE_SELECTION (gtk_list_view_get_model (w->result_list));
  TernConversationItem *hit = gtk_single_selection_get_selected_item (hits);
  g_assert_nonnull (hit);
  g_assert_cmpint (tern_conversation_item_get_id (hit), ==, apples);
  gtk_editable_set_text (GTK_EDITABLE (w->search_entry), "");
  app_harness_sync (w);
  g_assert_cmpint (selected (w), ==, apples);

  /* Deleting the one shown: a new chat, none selected. */
  g_action_group_activate_action (G_ACTION_GROUP (w), "delete-conversation", g_variant_new_int64 (apples));
  app_harness_sync (w);
  g_assert_cmpint (w->conversation_id, ==, 0);
  g_assert_cmpint (selected (w), ==, 0);
}

static void
test_selection (void)
{
  AppHarness h;

  app_harness_init (&h, NULL, 1, 256);
  fill_store (&h);
  app_harness_run (&h, selection_body, NULL);
  app_harness_clear (&h);
}

/* ---- Restart ---- */

static void
open_pears_body (AppHarness *h, gpointer data)
{
  click_conversation (h->window, pears);
  g_assert_cmpint (h->window->conversation_id, ==, pears);
}

static void
reopened_body (AppHarness *h, gpointer data)
{
  gint64 expected = GPOINTER_TO_SIZE (data);

  app_harness_sync (h->window);
  g_assert_cmpint (h->window->conversation_id, ==, expected);
  g_assert_cmpint (selected (h->window), ==, expected);
  if (expected != 0)
    g_assert_cmpuint (app_harness_n_messages (h->window), ==, 1);
}

static void
test_restart (void)
{
  AppHarness h;
  g_autoptr (GError) error = NULL;

  app_harness_init (&h, NULL, 1, 256);
  fill_store (&h);
  app_harness_run (&h, open_pears_body, NULL);
  /* The next start shows it again. */
  app_harness_run (&h, reopened_body, GSIZE_TO_POINTER (pears));
  /* In the trash, it is not reopened: a new chat. */
  TernStore *store = open_store (&h);
  g_assert_true (tern_store_conversation_trash (store, pears, &error));
  tern_store_free (store);
  app_harness_run (&h, reopened_body, GSIZE_TO_POINTER (0));
  app_harness_clear (&h);
}

/* ---- Trash ---- */

/* The titles of the Trash view's rows, as shown, joined by ",". */
static char *
trash_titles (TernWindow *w)
{
  g_autoptr (GString) titles = g_string_new (NULL);

  for (int i = 0;; i++)
    {
      GtkListBoxRow *row = gtk_list_box_get_row_at_index (w->trash_list, i);
      if (row == NULL)
        break;
      g_string_append_printf (titles, "%s%s", i ? "," : "",
                              adw_preferences_row_get_title (ADW_PREFERENCES_ROW (row)));
    }
  return g_string_free (g_steal_pointer (&titles), FALSE);
}

static char *
button_label (TernWindow *w)
{
  GtkWidget *content = gtk_button_get_child (GTK_BUTTON (w->trash_button));

  return g_strdup (adw_button_content_get_label (ADW_BUTTON_CONTENT (content)));
}

static gboolean
has_conversation (AppHarness *h, gint64 id)
{
  g_autoptr (TernStore) store = open_store (h);
  g_autoptr (GError) error = NULL;
  g_autoptr (TernConversation) c = tern_store_conversation_get (store, id, &error);

  return c != NULL;
}

/* Presses the button of @label in row @i of the Trash view. */
static void
press_row_button (TernWindow *w, int i, const char *label)
{
  GtkListBoxRow *row = gtk_list_box_get_row_at_index (w->trash_list, i);

  g_assert_nonnull (row);
  for (GtkWidget *child = gtk_widget_get_first_child (GTK_WIDGET (row)); child != NULL;)
    {
      if (GTK_IS_BUTTON (child) && g_strcmp0 (gtk_widget_get_tooltip_text (child), label) == 0)
        {
          g_signal_emit_by_name (child, "clicked");
          app_harness_sync (w);
          return;
        }
      /* Depth first through the row's widgets. */
      GtkWidget *next = gtk_widget_get_first_child (child);
      while (next == NULL && child != GTK_WIDGET (row))
        {
          next = gtk_widget_get_next_sibling (child);
          if (next == NULL)
            child = gtk_widget_get_parent (child);
        }
      child = child == GTK_WIDGET (row) ? NULL : next;
    }
  g_error ("no button %s in row %d", label, i);
}

static void
trash_body (AppHarness *h, gpointer data)
{
  TernWindow *w = h->window;

  app_harness_sync (w);
  /* At start, what was deleted long ago went for good; the rest is listed. */
  g_assert_false (has_conversation (h, plums));
  g_autofree char *label = button_label (w);
  g_assert_cmpstr (label, ==, "Trash");

  g_action_group_activate_action (G_ACTION_GROUP (w), "delete-conversation", g_variant_new_int64 (pears));
  app_harness_sync (w);
  g_action_group_activate_action (G_ACTION_GROUP (w), "delete-conversation", g_variant_new_int64 (apples));
  app_harness_sync (w);
  g_clear_pointer (&label, g_free);
  label = button_label (w);
  g_assert_cmpstr (label, ==, "Trash (2)");
  gtk_toggle_button_set_active (w->trash_button, TRUE);
  app_harness_sync (w);
  g_assert_cmpstr (gtk_stack_get_visible_child_name (w->sidebar_stack), ==, "trash");
  g_autofree char *titles = trash_titles (w);
  g_assert_cmpstr (titles, ==, "Pears,Apples"); /* the newest change first, as the list */
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (w->conversations)), ==, 0);

  /* Restore: back in the list. */
  press_row_button (w, 0, "Restore");
  g_clear_pointer (&titles, g_free);
  titles = trash_titles (w);
  g_assert_cmpstr (titles, ==, "Apples");
  g_assert_nonnull (tern_window_find_conversation (w, pears));

  /* Delete permanently: gone from the store. */
  press_row_button (w, 0, "Delete Permanently");
  g_clear_pointer (&titles, g_free);
  titles = trash_titles (w);
  g_assert_cmpstr (titles, ==, "");
  g_assert_false (has_conversation (h, apples));
  g_assert_true (has_conversation (h, pears));

  /* Empty Trash, confirmed. */
  g_action_group_activate_action (G_ACTION_GROUP (w), "delete-conversation", g_variant_new_int64 (pears));
  app_harness_sync (w);
  g_clear_pointer (&titles, g_free);
  titles = trash_titles (w);
  g_assert_cmpstr (titles, ==, "Pears");
  g_assert_true (gtk_widget_get_sensitive (w->empty_trash_button));
  g_signal_emit_by_name (w->empty_trash_button, "clicked");
  GtkWindow *dialog = NULL;
  GListModel *toplevels = gtk_window_get_toplevels ();
  for (guint i = 0; i < g_list_model_get_n_items (toplevels); i++)
    {
      g_autoptr (GtkWindow) top = g_list_model_get_item (toplevels, i);
      if (ADW_IS_MESSAGE_DIALOG (top))
        dialog = top;
    }
  g_assert_nonnull (dialog);
  g_assert_cmpstr (adw_message_dialog_get_heading (ADW_MESSAGE_DIALOG (dialog)), ==, "Empty Trash?");
  adw_message_dialog_response (ADW_MESSAGE_DIALOG (dialog), "empty");
  gtk_window_destroy (dialog);
  app_harness_sync (w);
  g_clear_pointer (&titles, g_free);
  titles = trash_titles (w);
  g_assert_cmpstr (titles, ==, "");
  g_assert_false (has_conversation (h, pears));
  g_clear_pointer (&label, g_free);
  label = button_label (w);
  g_assert_cmpstr (label, ==, "Trash");
  g_assert_false (gtk_widget_get_sensitive (w->empty_trash_button));
}

static void
test_trash (void)
{
  AppHarness h;
  g_autoptr (GError) error = NULL;

  app_harness_init (&h, NULL, 1, 256);
  fill_store (&h);
  /* Plums went to the trash 31 days ago. */
  TernStore *store = open_store (&h);
  g_assert_true (tern_store_conversation_trash (store, plums, &error));
  tern_store_free (store);
  g_autofree char *db_path = g_build_filename (h.dir, "tern.db", NULL);
  g_autofree char *sql = g_strdup_printf ("UPDATE conversations SET trashed_at = %" G_GINT64_FORMAT " WHERE id = %"
                                          G_GINT64_FORMAT, g_get_real_time () - (gint64) 31 * 86400 * G_USEC_PER_SEC,
                                          plums);
  sqlite3 *db = NULL;
  g_assert_cmpint (sqlite3_open (db_path, &db), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_exec (db, sql, NULL, NULL, NULL), ==, SQLITE_OK);
  sqlite3_close (db);
  app_harness_run (&h, trash_body, NULL);
  app_harness_clear (&h);
}

/* ---- A new chat's settings ---- */

static TernConversationSettings *
find_settings_dialog (void)
{
  GListModel *toplevels = gtk_window_get_toplevels ();

  for (guint i = 0; i < g_list_model_get_n_items (toplevels); i++)
    {
      g_autoptr (GtkWindow) top = g_list_model_get_item (toplevels, i);
      if (TERN_IS_CONVERSATION_SETTINGS (top) && gtk_widget_get_visible (GTK_WIDGET (top)))
        return TERN_CONVERSATION_SETTINGS (top);
    }
  return NULL;
}

/* The first GtkTextView under @widget. */
static GtkTextView *
find_text_view (GtkWidget *widget)
{
  if (GTK_IS_TEXT_VIEW (widget))
    return GTK_TEXT_VIEW (widget);
  for (GtkWidget *child = gtk_widget_get_first_child (widget); child; child = gtk_widget_get_next_sibling (child))
    {
      GtkTextView *found = find_text_view (child);
      if (found)
        return found;
    }
  return NULL;
}

#define PROMPT "You answer in the words of the King James Bible."

static void
settings_body (AppHarness *h, gpointer data)
{
  TernWindow *w = h->window;

  start_model (h);
  g_assert_cmpint (w->conversation_id, ==, 0);
  /* The gear of the new, empty chat: its own settings, not Preferences. */
  g_action_group_activate_action (G_ACTION_GROUP (w), "conversation-settings", NULL);
  TernConversationSettings *dialog = find_settings_dialog ();
  g_assert_nonnull (dialog);
  GtkTextView *prompt = find_text_view (GTK_WIDGET (dialog));
  g_assert_nonnull (prompt);
  gtk_text_buffer_set_text (gtk_text_view_get_buffer (prompt), PROMPT, -1);
  gtk_window_close (GTK_WINDOW (dialog));
  app_harness_sync (w);

  app_harness_send (w, "Who built the ark?");
  app_harness_wait ("the reply", idle_with_reply, w, 60);
  app_harness_sync (w);
  g_assert_cmpint (w->conversation_id, !=, 0);

  /* Stored with the conversation, from which the prompt is made. */
  g_autoptr (TernStore) store = open_store (h);
  g_autoptr (GError) error = NULL;
  g_autoptr (TernConversation) c = tern_store_conversation_get (store, w->conversation_id, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (c->system_prompt, ==, PROMPT);

  /* The next new chat starts from the defaults again. */
  g_action_group_activate_action (G_ACTION_GROUP (w), "new-conversation", NULL);
  g_action_group_activate_action (G_ACTION_GROUP (w), "conversation-settings", NULL);
  dialog = find_settings_dialog ();
  g_autofree char *fresh = tern_conversation_settings_get_system_prompt (dialog);
  g_assert_cmpstr (fresh, ==, "");
  gtk_window_destroy (GTK_WINDOW (dialog));
}

static void
test_new_chat_settings (void)
{
  AppHarness h;

  app_harness_init (&h, NULL, 1, 256);
  app_harness_run (&h, settings_body, NULL);
  app_harness_clear (&h);
}

int
main (int argc, char **argv)
{
  gtk_test_init (&argc, &argv, NULL);
  g_test_add_func ("/window-trash/selection", test_selection);
  g_test_add_func ("/window-trash/restart", test_restart);
  g_test_add_func ("/window-trash/trash", test_trash);
  g_test_add_func ("/window-trash/new-chat-settings", test_new_chat_settings);
  return g_test_run ();
}
