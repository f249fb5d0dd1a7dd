/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The real window with the real engine on a small fixture model: chat,
 * stop, branches, search, delete and undo, restart and resume, and the
 * banner for a model file that went missing or changed, or shrank while
 * in use. */
#include "app-harness.h"

#include <glib/gstdio.h>
#include <tern/session.h>
#include <unistd.h>

#include "test-data.h"
#include "token-gate.h"

#define MODEL "kjv-tiny-q4_k_m.gguf"
#define QUESTION "Who created the heaven and the earth?"

/* A copy of the fixture model in @dir, which tests may delete or spoil. */
static char *
copy_model (const char *dir)
{
  g_autofree char *src = g_test_build_filename (G_TEST_DIST, "data", "models", MODEL, NULL);
  g_autofree char *contents = NULL;
  char *dest = g_build_filename (dir, "model.gguf", NULL);
  gsize len;

  g_assert_true (g_file_get_contents (src, &contents, &len, NULL));
  g_assert_true (g_file_set_contents (dest, contents, len, NULL));
  return dest;
}

static void
start_chat (AppHarness *h, const char *model)
{
  app_harness_open_model (h->window, model);
  g_assert_cmpstr (gtk_stack_get_visible_child_name (h->window->main_stack), ==, "chat");
}

static void
wait_reply (TernWindow *w)
{
  app_harness_wait ("the reply", app_harness_replied, w, 120);
  app_harness_sync (w);
}

static char *
message_text (TernWindow *w, guint i)
{
  g_autoptr (TernMessageItem) item = app_harness_message (w, i);

  return g_strdup (tern_message_item_get_content (item));
}

static gint64
message_id (TernWindow *w, guint i)
{
  g_autoptr (TernMessageItem) item = app_harness_message (w, i);

  return tern_message_item_get_id (item);
}

static gint
message_branches (TernWindow *w, guint i, gint *index)
{
  g_autoptr (TernMessageItem) item = app_harness_message (w, i);

  *index = tern_message_item_get_branch_index (item);
  return tern_message_item_get_n_branches (item);
}

/* The window's own controller of @type on @widget, which watches in the
 * capture phase (not a new reference). */
static GtkEventController *
capture_controller (GtkWidget *widget, GType type)
{
  g_autoptr (GListModel) controllers = gtk_widget_observe_controllers (widget);

  for (guint i = 0; i < g_list_model_get_n_items (controllers); i++)
    {
      g_autoptr (GtkEventController) c = g_list_model_get_item (controllers, i);
      if (G_TYPE_CHECK_INSTANCE_TYPE (c, type) && gtk_event_controller_get_propagation_phase (c) == GTK_PHASE_CAPTURE)
        return c;
    }
  g_assert_not_reached ();
}

static GtkEventController *
composer_keys (TernWindow *w)
{
  return capture_controller (GTK_WIDGET (w->composer), GTK_TYPE_EVENT_CONTROLLER_KEY);
}

static char *
demo_model_path (void)
{
  return g_test_build_filename (G_TEST_DIST, "..", "data", "demo-model", "tern-demo.gguf", NULL);
}

static gboolean
press (TernWindow *w, guint keyval, GdkModifierType state)
{
  gboolean handled = FALSE;

  g_signal_emit_by_name (composer_keys (w), "key-pressed", keyval, 0, state, &handled);
  return handled;
}

typedef struct {
  TernWindow *window;
  gboolean streamed;    /* a delta showed in a reply still streaming */
  gboolean stop_button; /* the send button was Stop meanwhile */
} Streaming;

static void
on_delta_seen (TernService *service, const char *text, Streaming *seen)
{
  TernWindow *w = seen->window;

  if (w->reply && tern_message_item_get_streaming (w->reply) && tern_message_item_get_content (w->reply)[0])
    seen->streamed = TRUE;
  if (g_strcmp0 (gtk_actionable_get_action_name (GTK_ACTIONABLE (w->send_button)), "win.stop") == 0)
    seen->stop_button = TRUE;
}

static void
chat_body (AppHarness *hp, gpointer model)
{
  AppHarness h = *hp;

  /* First start: nothing in the library, the welcome page. */
  g_assert_cmpstr (gtk_stack_get_visible_child_name (h.window->main_stack), ==, "welcome");
  start_chat (&h, model);
  g_assert_nonnull (strstr (gtk_label_get_label (h.window->status_label), "tokens"));
  g_assert_cmpstr (gtk_stack_get_visible_child_name (h.window->sidebar_stack), ==, "empty");

  /* Shift+Enter is a new line; Enter sends. */
  Streaming seen = { h.window, FALSE, FALSE };
  gulong handler = g_signal_connect_after (h.window->service, "reply-delta", G_CALLBACK (on_delta_seen), &seen);
  /* The empty composer shows its placeholder; typing hides it. */
  g_assert_true (gtk_widget_get_visible (h.window->composer_placeholder));
  gtk_text_buffer_set_text (gtk_text_view_get_buffer (h.window->composer), QUESTION, -1);
  g_assert_false (gtk_widget_get_visible (h.window->composer_placeholder));
  g_assert_false (press (h.window, GDK_KEY_Return, GDK_SHIFT_MASK));
  g_assert_true (press (h.window, GDK_KEY_Return, 0));
  wait_reply (h.window);
  g_signal_handler_disconnect (h.window->service, handler);
  /* The reply showed as it came, and meanwhile the send button stopped. */
  g_assert_true (seen.streamed);
  g_assert_true (seen.stop_button);

  g_assert_cmpuint (app_harness_n_messages (h.window), ==, 2);
  g_assert_true (gtk_widget_get_visible (h.window->composer_placeholder));
  g_autofree char *user = message_text (h.window, 0);
  g_autofree char *reply = message_text (h.window, 1);
  g_assert_cmpstr (user, ==, QUESTION);
  g_assert_cmpstr (reply, !=, "");
  g_assert_cmpstr (gtk_actionable_get_action_name (GTK_ACTIONABLE (h.window->send_button)), ==, "win.send");
  g_assert_nonnull (strstr (gtk_label_get_label (h.window->status_label), "tokens/s"));
  /* The new conversation is in the sidebar, named after the question. */
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (h.window->conversations)), ==, 1);
  g_autoptr (TernConversationItem) c = g_list_model_get_item (G_LIST_MODEL (h.window->conversations), 0);
  g_assert_cmpstr (tern_conversation_item_get_title (c), ==, QUESTION);
  g_assert_cmpstr (gtk_stack_get_visible_child_name (h.window->sidebar_stack), ==, "list");
}

/* First start with the demo model installed: it is in the library and
 * loaded, and the empty chat welcomes the user, says what the demo can do
 * and where real models come from, and offers a question to ask it. */
static void
first_start_body (AppHarness *hp, gpointer data)
{
  AppHarness h = *hp;
  TernWindow *w = h.window;

  app_harness_wait ("the demo model to load", app_harness_model_ready, w, 60);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (w->models)), ==, 1);
  g_assert_cmpstr (gtk_stack_get_visible_child_name (w->main_stack), ==, "chat");
  g_assert_true (gtk_widget_get_visible (GTK_WIDGET (w->chat_empty)));
  g_assert_cmpstr (adw_status_page_get_title (w->chat_empty), ==, "Welcome to Tern");
  g_assert_nonnull (strstr (adw_status_page_get_description (w->chat_empty), "demo model"));
  g_assert_nonnull (strstr (adw_status_page_get_description (w->chat_empty), "GGUF"));
  g_assert_true (gtk_widget_get_visible (w->demo_hints));

  gtk_widget_activate (GTK_WIDGET (w->example_button));
  wait_reply (w);
  g_autofree char *question = message_text (w, 0);
  g_autofree char *reply = message_text (w, 1);
  g_assert_cmpstr (question, ==, "What does smile mean?");
  g_assert_nonnull (strstr (reply, "smile"));
  g_assert_false (gtk_widget_get_visible (GTK_WIDGET (w->chat_empty)));

  /* A new chat is no longer the first; the demo's hints stay. */
  g_action_group_activate_action (G_ACTION_GROUP (w), "new-conversation", NULL);
  app_harness_sync (w);
  g_assert_cmpuint (app_harness_n_messages (w), ==, 0);
  g_assert_cmpstr (adw_status_page_get_title (w->chat_empty), ==, "New Chat");
  g_assert_true (gtk_widget_get_visible (w->demo_hints));
}

static void
test_first_start (void)
{
  AppHarness h;
  g_autofree char *demo = demo_model_path ();

  app_harness_init (&h, NULL, 1, 512);
  g_setenv ("TERN_DEMO_MODEL", demo, TRUE);
  g_autoptr (GSettings) settings = g_settings_new (TERN_APPLICATION_ID);
  g_settings_set_boolean (settings, "demo-model-added", FALSE);
  app_harness_run (&h, first_start_body, NULL);
  app_harness_clear (&h);
}

/* Runs @body on a fresh data folder holding a copy of the fixture model. */
static void
run_with_model (AppHarnessBody body)
{
  AppHarness h;

  app_harness_init (&h, NULL, 1, 256);
  g_autofree char *model = copy_model (h.dir);
  app_harness_run (&h, body, model);
  app_harness_clear (&h);
}

static void
test_chat (void)
{
  run_with_model (chat_body);
}

/* The backend setting is the service's, at start and when changed: a GPU
 * that is not there leaves the model on the CPU, and the status line says
 * why; choosing the CPU in Preferences makes it the one asked for. */
static void
backend_body (AppHarness *h, gpointer model)
{
  g_autoptr (GSettings) settings = g_settings_new (TERN_APPLICATION_ID);

  start_chat (h, model);
  g_assert_true (g_str_has_prefix (tern_service_get_backend (h->window->service), "cpu "));
  g_assert_nonnull (strstr (gtk_label_get_label (h->window->status_label), "vulkan:9 could not be used"));

  g_settings_set_string (settings, "backend", "cpu");
  start_chat (h, model);
  g_assert_true (g_str_has_prefix (tern_service_get_backend (h->window->service), "cpu "));
  g_assert_null (strstr (gtk_label_get_label (h->window->status_label), "could not be used"));
}

static void
test_backend_setting (void)
{
  AppHarness h;

  app_harness_init (&h, NULL, 1, 256);
  g_autoptr (GSettings) settings = g_settings_new (TERN_APPLICATION_ID);
  g_settings_set_string (settings, "backend", "vulkan:9");
  g_autofree char *model = copy_model (h.dir);
  app_harness_run (&h, backend_body, model);
  app_harness_clear (&h);
}

/* Stop, pressed when the reply shows its third token, leaves exactly three:
 * the engine thread is held at that token (the service's test hook) while
 * the user presses Stop. */
static void
stop_body (AppHarness *hp, gpointer model)
{
  AppHarness h = *hp;
  g_autoptr (GSettings) settings = g_settings_new (TERN_APPLICATION_ID);
  const guint stop_at = 3;
  TokenGate gate;

  /* Long enough that the stop comes well before the end. */
  g_settings_set_int (settings, "max-tokens", 3000);
  start_chat (&h, model);
  token_gate_install (&gate, h.window->service, stop_at);
  app_harness_send (h.window, "Tell me of the flood, and of the ark, and of all that was in it.");
  token_gate_wait (&gate, 60);
  g_autofree char *shown = message_text (h.window, 1);
  g_assert_cmpstr (shown, !=, "");
  g_assert_true (g_action_group_get_action_enabled (G_ACTION_GROUP (h.window), "stop"));
  g_action_group_activate_action (G_ACTION_GROUP (h.window), "stop", NULL);
  token_gate_release (&gate);
  wait_reply (h.window);
  token_gate_remove (&gate, h.window->service);

  g_assert_cmpuint (tern_service_get_reply_n_tokens (h.window->service), ==, stop_at);
  g_assert_cmpuint (app_harness_n_messages (h.window), ==, 2);
  g_autoptr (TernMessageItem) reply = app_harness_message (h.window, 1);
  /* No text came after the one shown when Stop was pressed. */
  g_assert_cmpstr (tern_message_item_get_content (reply), ==, shown);
  g_assert_true (g_action_group_get_action_enabled (G_ACTION_GROUP (h.window), "regenerate"));
  g_assert_false (g_action_group_get_action_enabled (G_ACTION_GROUP (h.window), "stop"));
  g_assert_cmpstr (gtk_actionable_get_action_name (GTK_ACTIONABLE (h.window->send_button)), ==, "win.send");
}

static void
test_stop (void)
{
  AppHarness h;

  app_harness_init (&h, NULL, 1, 4096);
  g_autofree char *model = copy_model (h.dir);
  app_harness_run (&h, stop_body, model);
  app_harness_clear (&h);
}

/* The chat keeps its end in view while replies stream and their rows
 * grow, until the user scrolls up. */
static gboolean
end_in_view (gpointer data)
{
  TernWindow *w = data;
  GtkAdjustment *adj = gtk_scrolled_window_get_vadjustment (w->message_scroller);
  GtkWidget *last = gtk_widget_get_last_child (GTK_WIDGET (w->message_list));
  graphene_rect_t bounds;

  if (gtk_adjustment_get_value (adj) + gtk_adjustment_get_page_size (adj) < gtk_adjustment_get_upper (adj) - 1)
    return FALSE;
  /* Where the last row is drawn, which the adjustment alone does not
   * tell: GTK 4.8's list view can disagree with it. */
  if (last == NULL || !gtk_widget_compute_bounds (last, GTK_WIDGET (w->message_scroller), &bounds))
    return FALSE;
  return bounds.origin.y + bounds.size.height <= gtk_widget_get_height (GTK_WIDGET (w->message_scroller)) + 1;
}

typedef struct {
  TernWindow *window;
  GtkEventController *wheel;
  gboolean scrolled;
} LookBack;

/* At the first piece of the reply, the user turns the wheel to the top. */
static void
on_delta_look_back (TernService *service, const char *text, LookBack *look)
{
  gboolean handled;

  if (look->scrolled)
    return;
  look->scrolled = TRUE;
  g_signal_emit_by_name (look->wheel, "scroll", 0.0, -1.0, &handled);
  gtk_adjustment_set_value (gtk_scrolled_window_get_vadjustment (look->window->message_scroller), 0);
}

static void
follow_body (AppHarness *hp, gpointer model)
{
  AppHarness h = *hp;
  g_autoptr (GSettings) settings = g_settings_new (TERN_APPLICATION_ID);
  GtkAdjustment *adj = gtk_scrolled_window_get_vadjustment (h.window->message_scroller);

  g_settings_set_int (settings, "max-tokens", 200);
  start_chat (&h, model);
  /* Exchanges until the chat fills the view twice over (the sampled
   * replies' lengths vary): the end follows each one. */
  static const char *const questions[] = {
    "Hello! Who are you?", "What does tree mean?", "What is the opposite of happy?",
    "What does cat mean?", "Use it in a sentence.", "Thanks!",
  };
  gtk_window_set_default_size (GTK_WINDOW (h.window), 1100, 720);
  for (guint i = 0; i < 4 * G_N_ELEMENTS (questions); i++)
    {
      if (i >= G_N_ELEMENTS (questions) &&
          gtk_adjustment_get_upper (adj) > 2 * gtk_adjustment_get_page_size (adj))
        break;
      app_harness_send (h.window, questions[i % G_N_ELEMENTS (questions)]);
      wait_reply (h.window);
      app_harness_wait ("the end of the chat in view", end_in_view, h.window, 10);
    }
  g_assert_cmpfloat (gtk_adjustment_get_upper (adj), >, 2 * gtk_adjustment_get_page_size (adj));

  /* Scrolled up with the wheel while a reply streams, the view stays
   * where the user put it. */
  LookBack look = {
    h.window, capture_controller (GTK_WIDGET (h.window->message_scroller), GTK_TYPE_EVENT_CONTROLLER_SCROLL), FALSE
  };
  gulong handler = g_signal_connect_after (h.window->service, "reply-delta", G_CALLBACK (on_delta_look_back), &look);
  app_harness_send (h.window, QUESTION);
  wait_reply (h.window);
  g_signal_handler_disconnect (h.window->service, handler);
  g_assert_true (look.scrolled);
  g_assert_cmpfloat (gtk_adjustment_get_value (adj), ==, 0);
}

static void
test_follow (void)
{
  AppHarness h;

  app_harness_init (&h, NULL, 1, 4096);
  g_autofree char *model = demo_model_path ();
  app_harness_run (&h, follow_body, model);
  app_harness_clear (&h);
}

/* Quitting while a reply streams: the app stops it, stores it as it
 * stands, and ends (the harness checks the window was freed; ASan that
 * nothing leaked). */
static void
quit_streaming_body (AppHarness *hp, gpointer model)
{
  AppHarness h = *hp;
  g_autoptr (GSettings) settings = g_settings_new (TERN_APPLICATION_ID);

  g_settings_set_int (settings, "max-tokens", 3000);
  start_chat (&h, model);
  app_harness_send (h.window, QUESTION);
  app_harness_wait ("the reply to stream", app_harness_has_reply, h.window, 120);
  /* Returning quits, as app.quit does, with the reply still streaming. */
}

static void
test_quit_while_streaming (void)
{
  AppHarness h;
  g_autoptr (GError) error = NULL;

  app_harness_init (&h, NULL, 1, 4096);
  g_autofree char *model = copy_model (h.dir);
  app_harness_run (&h, quit_streaming_body, model);

  g_autofree char *db = g_build_filename (h.dir, "tern.db", NULL);
  g_autoptr (TernStore) store = tern_store_open (db, &error);
  g_assert_no_error (error);
  g_autoptr (GPtrArray) list = tern_store_conversation_list (store, FALSE, 0, -1, &error);
  g_assert_cmpuint (list->len, ==, 1);
  g_autoptr (GPtrArray) messages =
      tern_store_conversation_messages (store, ((TernConversation *) list->pdata[0])->id, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (messages->len, ==, 2);
  const TernMessage *reply = messages->pdata[1];
  g_test_message ("the reply was stored with %d tokens", reply->n_tokens);
  g_assert_cmpint (reply->role, ==, TERN_ROLE_ASSISTANT);
  g_assert_cmpstr (reply->content, !=, "");
  g_assert_cmpint (reply->n_tokens, <, 3000);
  g_clear_pointer (&store, tern_store_free);
  app_harness_clear (&h);
}

static gboolean
not_opening (gpointer data)
{
  TernWindow *w = data;

  return !w->opening && !w->busy;
}

static void
branches_body (AppHarness *hp, gpointer model)
{
  AppHarness h = *hp;
  g_autoptr (GSettings) settings = g_settings_new (TERN_APPLICATION_ID);
  gint index;

  /* Sampled, so a regenerated reply can differ. */
  g_settings_set_double (settings, "temperature", 1.0);
  start_chat (&h, model);
  app_harness_send (h.window, QUESTION);
  wait_reply (h.window);
  gint64 question = message_id (h.window, 0);
  gint64 first_reply = message_id (h.window, 1);

  /* Regenerate: a second reply beside the first. */
  g_action_group_activate_action (G_ACTION_GROUP (h.window), "regenerate", NULL);
  wait_reply (h.window);
  g_assert_cmpuint (app_harness_n_messages (h.window), ==, 2);
  g_assert_cmpint (message_id (h.window, 1), !=, first_reply);
  g_assert_cmpint (message_branches (h.window, 1, &index), ==, 2);
  g_assert_cmpint (index, ==, 1);

  /* Edit and resend: the question is put in the composer, and sending
   * makes a branch beside it. */
  g_action_group_activate_action (G_ACTION_GROUP (h.window), "edit-message", g_variant_new_int64 (question));
  g_assert_true (gtk_revealer_get_reveal_child (h.window->edit_bar));
  app_harness_send (h.window, "And what of the waters?");
  wait_reply (h.window);
  g_autofree char *edited = message_text (h.window, 0);
  g_assert_cmpstr (edited, ==, "And what of the waters?");
  g_assert_cmpint (message_branches (h.window, 0, &index), ==, 2);
  g_assert_cmpint (index, ==, 1);
  g_assert_false (gtk_revealer_get_reveal_child (h.window->edit_bar));

  /* Back to the first question: its newest reply shows again. */
  g_action_group_activate_action (G_ACTION_GROUP (h.window), "previous-branch",
                                  g_variant_new_int64 (message_id (h.window, 0)));
  app_harness_wait ("the other branch", not_opening, h.window, 60);
  app_harness_sync (h.window);
  g_assert_cmpint (message_id (h.window, 0), ==, question);
  g_assert_cmpint (message_branches (h.window, 0, &index), ==, 2);
  g_assert_cmpint (index, ==, 0);
  g_assert_cmpint (message_branches (h.window, 1, &index), ==, 2);
  g_assert_cmpint (index, ==, 1);
}

static void
test_branches (void)
{
  run_with_model (branches_body);
}

static gboolean
search_done (gpointer data)
{
  TernWindow *w = data;
  const char *page = gtk_stack_get_visible_child_name (w->sidebar_stack);

  return g_str_equal (page, "results") || g_str_equal (page, "no-results");
}

static void
search (TernWindow *w, const char *text)
{
  gtk_editable_set_text (GTK_EDITABLE (w->search_entry), text);
  /* The entry waits a moment before it reports a change; ask now. */
  g_signal_emit_by_name (w->search_entry, "search-changed");
  app_harness_sync (w);
  app_harness_wait ("search results", search_done, w, 30);
}

static void
search_body (AppHarness *hp, gpointer model)
{
  AppHarness h = *hp;

  start_chat (&h, model);
  app_harness_send (h.window, QUESTION);
  wait_reply (h.window);
  g_action_group_activate_action (G_ACTION_GROUP (h.window), "new-conversation", NULL);
  g_assert_cmpuint (app_harness_n_messages (h.window), ==, 0);
  app_harness_send (h.window, "Speak of the firmament");
  wait_reply (h.window);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (h.window->conversations)), ==, 2);

  search (h.window, "firmament");
  g_assert_cmpstr (gtk_stack_get_visible_child_name (h.window->sidebar_stack), ==, "results");
  g_autoptr (TernConversationItem) hit = g_list_model_get_item (G_LIST_MODEL (h.window->results), 0);
  g_assert_cmpstr (tern_conversation_item_get_title (hit), ==, "Speak of the firmament");
  g_assert_nonnull (strstr (tern_conversation_item_get_snippet (hit), TERN_SNIPPET_OPEN "firmament"));
  gint64 id = tern_conversation_item_get_id (hit);

  /* Delete: gone from the list and from search... */
  g_action_group_activate_action (G_ACTION_GROUP (h.window), "delete-conversation", g_variant_new_int64 (id));
  app_harness_sync (h.window);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (h.window->conversations)), ==, 1);
  g_assert_null (tern_window_find_conversation (h.window, id));
  search (h.window, "firmament");
  g_assert_cmpstr (gtk_stack_get_visible_child_name (h.window->sidebar_stack), ==, "no-results");

  /* ...and back with Undo. */
  g_action_group_activate_action (G_ACTION_GROUP (h.window), "undo-delete", g_variant_new_int64 (id));
  app_harness_sync (h.window);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (h.window->conversations)), ==, 2);
  g_assert_nonnull (tern_window_find_conversation (h.window, id));
  search (h.window, "firmament");
  g_assert_cmpstr (gtk_stack_get_visible_child_name (h.window->sidebar_stack), ==, "results");
  gtk_editable_set_text (GTK_EDITABLE (h.window->search_entry), "");
  g_signal_emit_by_name (h.window->search_entry, "search-changed");
  g_assert_cmpstr (gtk_stack_get_visible_child_name (h.window->sidebar_stack), ==, "list");
}

static void
test_search_delete_undo (void)
{
  run_with_model (search_body);
}

/* Every control a keyboard reaches has a name for screen readers: its own
 * label text, or an accessible label. Returns how many were checked. */
static guint
check_names (GtkWidget *widget)
{
  guint n = 0;

  if (!gtk_widget_get_mapped (widget))
    return 0;
  if (GTK_IS_BUTTON (widget) || GTK_IS_MENU_BUTTON (widget) || GTK_IS_DROP_DOWN (widget) ||
      GTK_IS_SEARCH_ENTRY (widget) || GTK_IS_TEXT_VIEW (widget))
    {
      gboolean named = gtk_test_accessible_has_property (GTK_ACCESSIBLE (widget), GTK_ACCESSIBLE_PROPERTY_LABEL) ||
                       gtk_test_accessible_has_relation (GTK_ACCESSIBLE (widget), GTK_ACCESSIBLE_RELATION_LABELLED_BY);
      if (!named && GTK_IS_BUTTON (widget) && gtk_button_get_label (GTK_BUTTON (widget)) &&
          !gtk_button_get_icon_name (GTK_BUTTON (widget)))
        named = TRUE;
      /* The button inside a menu button or drop-down is named by its owner. */
      if (!named && GTK_IS_BUTTON (widget) &&
          (GTK_IS_MENU_BUTTON (gtk_widget_get_parent (widget)) || GTK_IS_DROP_DOWN (gtk_widget_get_parent (widget))))
        named = TRUE;
      if (!named)
        g_error ("%s %s has no accessible name", G_OBJECT_TYPE_NAME (widget),
                 gtk_widget_get_tooltip_text (widget) ? gtk_widget_get_tooltip_text (widget) : "");
      n++;
    }
  for (GtkWidget *child = gtk_widget_get_first_child (widget); child; child = gtk_widget_get_next_sibling (child))
    n += check_names (child);
  return n;
}

static void
accessible_body (AppHarness *hp, gpointer model)
{
  AppHarness h = *hp;

  start_chat (&h, model);
  app_harness_send (h.window, QUESTION);
  wait_reply (h.window);
  guint n = check_names (GTK_WIDGET (h.window));
  g_test_message ("%u controls named", n);
  g_assert_cmpuint (n, >, 10);
  g_action_group_change_action_state (G_ACTION_GROUP (h.window), "show-library", g_variant_new_boolean (TRUE));
  app_harness_sync (h.window);
  guint in_library = check_names (GTK_WIDGET (h.window));
  g_test_message ("%u controls named with the library shown", in_library);
  g_assert_cmpuint (in_library, >, 8);
}

static void
test_accessible (void)
{
  run_with_model (accessible_body);
}

/* The shortcuts window lists every accelerator the application sets, and
 * each action it names exists. */
static void
collect_shortcuts (GtkWidget *widget, GPtrArray *found)
{
  if (GTK_IS_SHORTCUTS_SHORTCUT (widget))
    g_ptr_array_add (found, widget);
  for (GtkWidget *child = gtk_widget_get_first_child (widget); child; child = gtk_widget_get_next_sibling (child))
    collect_shortcuts (child, found);
}

static gboolean
action_exists (TernWindow *w, const char *detailed)
{
  GActionMap *map = g_str_has_prefix (detailed, "app.") ? G_ACTION_MAP (gtk_window_get_application (GTK_WINDOW (w)))
                                                        : G_ACTION_MAP (w);

  return g_action_map_lookup_action (map, strchr (detailed, '.') + 1) != NULL;
}

static void
shortcuts_body (AppHarness *hp, gpointer data)
{
  AppHarness h = *hp;
  GtkApplication *app = GTK_APPLICATION (h.app);
  GtkShortcutsWindow *overlay = gtk_application_window_get_help_overlay (GTK_APPLICATION_WINDOW (h.window));
  g_autoptr (GPtrArray) shortcuts = g_ptr_array_new ();
  g_autoptr (GHashTable) listed = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

  g_assert_nonnull (overlay);
  collect_shortcuts (GTK_WIDGET (overlay), shortcuts);
  g_assert_cmpuint (shortcuts->len, >, 0);
  for (guint i = 0; i < shortcuts->len; i++)
    {
      g_autofree char *action = NULL;
      g_autofree char *accelerator = NULL;

      g_object_get (shortcuts->pdata[i], "action-name", &action, "accelerator", &accelerator, NULL);
      g_assert_true (action != NULL || accelerator != NULL);
      if (action)
        {
          g_assert_true (action_exists (h.window, action));
          g_hash_table_add (listed, g_steal_pointer (&action));
        }
    }

  g_auto (GStrv) described = gtk_application_list_action_descriptions (app);
  for (guint i = 0; described[i]; i++)
    {
      g_auto (GStrv) accels = gtk_application_get_accels_for_action (app, described[i]);
      if (accels[0] == NULL)
        continue;
      g_test_message ("%s: %s", described[i], accels[0]);
      g_assert_true (g_hash_table_contains (listed, described[i]));
    }
  /* The window's own shortcut for this window. */
  g_assert_true (g_hash_table_contains (listed, "win.show-help-overlay"));
}

static void
test_shortcuts (void)
{
  AppHarness h;

  app_harness_init (&h, NULL, 1, 256);
  app_harness_run (&h, shortcuts_body, NULL);
  app_harness_clear (&h);
}

/* ---- Restart: each phase is a process of its own on one data folder ---- */

static const char *
phase_dir (void)
{
  const char *dir = g_getenv ("TERN_TEST_PHASE_DIR");

  g_assert_nonnull (dir);
  return dir;
}

/* The phases run only as subprocesses of /app/window/restart. */
static gboolean
in_phase (void)
{
  if (g_test_subprocess ())
    return TRUE;
  g_test_skip ("a phase of /app/window/restart");
  return FALSE;
}

static void
phase_chat_body (AppHarness *hp, gpointer model)
{
  AppHarness h = *hp;

  start_chat (&h, model);
  app_harness_send (h.window, QUESTION);
  wait_reply (h.window);
  g_autofree char *reply = message_text (h.window, 1);
  g_autofree char *saved = g_build_filename (h.dir, "reply.txt", NULL);
  g_assert_true (g_file_set_contents (saved, reply, -1, NULL));
}

static void
phase_chat (void)
{
  AppHarness h;

  if (!in_phase ())
    return;
  app_harness_init (&h, phase_dir (), 1, 256);
  g_autofree char *model = copy_model (h.dir);
  app_harness_run (&h, phase_chat_body, model);
  app_harness_clear (&h);
}

static void
open_first_conversation (AppHarness *h)
{
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (h->window->conversations)), ==, 1);
  g_signal_emit_by_name (h->window->conversation_list, "activate", 0);
  app_harness_wait ("the conversation to open", not_opening, h->window, 60);
  app_harness_wait ("the model", app_harness_idle, h->window, 60);
  app_harness_sync (h->window);
}

static void
phase_resume_body (AppHarness *hp, gpointer data)
{
  AppHarness h = *hp;
  g_autofree char *saved = g_build_filename (phase_dir (), "reply.txt", NULL);
  g_autofree char *expected = NULL;

  g_assert_true (g_file_get_contents (saved, &expected, NULL, NULL));
  /* The model used last is loaded on start. */
  app_harness_wait ("the model to load", app_harness_model_ready, h.window, 60);
  open_first_conversation (&h);
  g_assert_cmpuint (app_harness_n_messages (h.window), ==, 2);
  g_autofree char *reply = message_text (h.window, 1);
  g_assert_cmpstr (reply, ==, expected);
  g_assert_nonnull (h.window->resume_note);
  g_assert_nonnull (strstr (gtk_label_get_label (h.window->status_label), "snapshot"));
  g_assert_false (gtk_revealer_get_reveal_child (h.window->banner));
  /* And it goes on. */
  app_harness_send (h.window, "And then?");
  wait_reply (h.window);
  g_assert_cmpuint (app_harness_n_messages (h.window), ==, 4);
}

static void
phase_resume (void)
{
  AppHarness h;

  if (!in_phase ())
    return;
  app_harness_init (&h, phase_dir (), 1, 256);
  app_harness_run (&h, phase_resume_body, NULL);
  app_harness_clear (&h);
}

static gboolean
banner_shown (gpointer data)
{
  TernWindow *w = data;

  return gtk_revealer_get_reveal_child (w->banner);
}

static void
banner_body (AppHarness *hp, gpointer word)
{
  AppHarness h = *hp;

  open_first_conversation (&h);
  app_harness_wait ("the banner", banner_shown, h.window, 60);
  g_test_message ("banner: %s", gtk_label_get_label (h.window->banner_label));
  g_assert_nonnull (strstr (gtk_label_get_label (h.window->banner_label), word));
  /* The transcript (two exchanges by now) still shows; nothing can be
   * sent without a model. */
  g_assert_cmpuint (app_harness_n_messages (h.window), ==, 4);
  g_assert_false (g_action_group_get_action_enabled (G_ACTION_GROUP (h.window), "send"));
  g_assert_false (tern_service_get_model_loaded (h.window->service));
}

static void
check_banner (const char *word)
{
  AppHarness h;

  app_harness_init (&h, phase_dir (), 1, 256);
  app_harness_run (&h, banner_body, (gpointer) word);
  app_harness_clear (&h);
}

static gboolean
is_changed_warning (GtkWidget *widget, gconstpointer data)
{
  return GTK_IS_IMAGE (widget) && gtk_widget_get_visible (widget) &&
         g_strcmp0 (gtk_image_get_icon_name (GTK_IMAGE (widget)), "dialog-warning-symbolic") == 0 &&
         g_strcmp0 (gtk_widget_get_tooltip_text (widget), "File changed since it was added") == 0;
}

static gboolean
library_marks_changed (gpointer data)
{
  TernWindow *w = data;

  return app_harness_find_widget (w->library_page, is_changed_warning, NULL) != NULL;
}

/* The model file cut to half while chatting (the SIGBUS): the
 * next message gets no reply, the banner says the model was unloaded and
 * why, nothing can be sent, and the library marks the file changed. */
static void
damaged_body (AppHarness *hp, gpointer model)
{
  AppHarness h = *hp;
  GStatBuf st;

  start_chat (&h, model);
  app_harness_send (h.window, QUESTION);
  wait_reply (h.window);
  g_assert_false (library_marks_changed (h.window));

  g_assert_cmpint (g_stat (model, &st), ==, 0);
  g_assert_cmpint (truncate (model, st.st_size / 2), ==, 0);
  app_harness_send (h.window, "And then?");
  app_harness_wait ("the banner", banner_shown, h.window, 60);
  g_test_message ("banner: %s", gtk_label_get_label (h.window->banner_label));
  g_assert_true (g_str_has_prefix (gtk_label_get_label (h.window->banner_label),
                                   "The model was unloaded: the model file model.gguf changed on disk while in use"));
  app_harness_wait ("the window to settle", app_harness_idle, h.window, 60);
  g_assert_false (tern_service_get_model_loaded (h.window->service));
  g_assert_false (g_action_group_get_action_enabled (G_ACTION_GROUP (h.window), "send"));
  app_harness_wait ("the library to mark the file", library_marks_changed, h.window, 60);
}

static void
test_model_damaged (void)
{
  run_with_model (damaged_body);
}

static void
phase_missing (void)
{
  if (!in_phase ())
    return;
  g_autofree char *model = g_build_filename (phase_dir (), "model.gguf", NULL);

  g_assert_cmpint (g_remove (model), ==, 0);
  check_banner ("missing");
}

static void
phase_changed (void)
{
  if (!in_phase ())
    return;
  g_autofree char *model = g_build_filename (phase_dir (), "model.gguf", NULL);

  g_assert_true (g_file_set_contents (model, "GGUF but not a model at all", -1, NULL));
  check_banner ("changed");
}

static void
run_phase (const char *path)
{
  g_test_trap_subprocess (path, 300 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_INHERIT_STDERR);
  g_test_trap_assert_passed ();
}

static void
test_restart (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("tern-restart-XXXXXX", &error);

  g_assert_no_error (error);
  g_setenv ("TERN_TEST_PHASE_DIR", dir, TRUE);
  run_phase ("/app/window/restart/chat");
  run_phase ("/app/window/restart/resume");
  run_phase ("/app/window/restart/missing");
  run_phase ("/app/window/restart/changed");
  test_remove_tree (dir);
}

int
main (int argc, char *argv[])
{
  gtk_test_init (&argc, &argv, NULL);
  adw_init ();

  g_test_add_func ("/app/window/chat", test_chat);
  g_test_add_func ("/app/window/first-start", test_first_start);
  g_test_add_func ("/app/window/stop", test_stop);
  g_test_add_func ("/app/window/backend-setting", test_backend_setting);
  g_test_add_func ("/app/window/follow", test_follow);
  g_test_add_func ("/app/window/quit-while-streaming", test_quit_while_streaming);
  g_test_add_func ("/app/window/branches", test_branches);
  g_test_add_func ("/app/window/search-delete-undo", test_search_delete_undo);
  g_test_add_func ("/app/window/accessible", test_accessible);
  g_test_add_func ("/app/window/shortcuts", test_shortcuts);
  g_test_add_func ("/app/window/model-damaged", test_model_damaged);
  g_test_add_func ("/app/window/restart", test_restart);
  g_test_add_func ("/app/window/restart/chat", phase_chat);
  g_test_add_func ("/app/window/restart/resume", phase_resume);
  g_test_add_func ("/app/window/restart/missing", phase_missing);
  g_test_add_func ("/app/window/restart/changed", phase_changed);
  return g_test_run ();
}
