/* SPDX-License-Identifier: GPL-3.0-or-later */
/* TernWindow: the window itself, the status line, progress and errors.
 * The sidebar is in tern-window-conversations.c, the model menu and the
 * library in tern-window-models.c, the chat in tern-window-chat.c. */
#include "tern-accessible.h"
#include "tern-window-private.h"

#include <tern/error.h>
#include <tern/session.h>

G_DEFINE_FINAL_TYPE (TernWindow, tern_window, ADW_TYPE_APPLICATION_WINDOW)

gboolean
tern_window_gone (TernWindow *self)
{
  return g_cancellable_is_cancelled (self->cancellable);
}

gboolean
tern_window_cancelled (const GError *error)
{
  return g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) ||
         g_error_matches (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_CANCELLED);
}

static gboolean
fix_toast_names (gpointer data)
{
  TernWindow *self = data;

  if (!tern_window_gone (self) && self->toasts != NULL)
    tern_accessible_fix_names (GTK_WIDGET (self->toasts));
  return G_SOURCE_REMOVE;
}

static void
on_toast_dismissed (AdwToast *toast, TernWindow *self)
{
  if (!tern_window_gone (self))
    g_idle_add_full (G_PRIORITY_DEFAULT_IDLE, fix_toast_names, g_object_ref (self), g_object_unref);
}

void
tern_window_add_toast (TernWindow *self, AdwToast *toast)
{
  /* libadwaita names the toast's buttons "_Undo Undo" and after the icon's
   * type: named again each time a toast is shown, which is when one is
   * added or the one before it goes. */
  g_signal_connect_object (toast, "dismissed", G_CALLBACK (on_toast_dismissed), self, 0);
  adw_toast_overlay_add_toast (self->toasts, toast);
  tern_accessible_fix_names (GTK_WIDGET (self->toasts));
}

void
tern_window_toast (TernWindow *self, const char *text)
{
  AdwToast *toast = adw_toast_new (text);

  adw_toast_set_timeout (toast, 3);
  tern_window_add_toast (self, toast);
}

void
tern_window_toast_error (TernWindow *self, const char *what, const GError *error)
{
  g_autofree char *text = g_strdup_printf ("%s: %s", what, error ? error->message : _("unknown error"));
  g_autofree char *escaped = g_markup_escape_text (text, -1);
  AdwToast *toast = adw_toast_new (escaped);

  /* Errors stay until dismissed: the detail is for reading. */
  adw_toast_set_timeout (toast, 0);
  adw_toast_set_priority (toast, ADW_TOAST_PRIORITY_HIGH);
  tern_window_add_toast (self, toast);
}

void
tern_window_show_banner (TernWindow *self, const char *text)
{
  /* Read-only, that is what matters most, and it stays. */
  if (self->read_only_note)
    text = self->read_only_note;
  gtk_label_set_label (self->banner_label, text);
  gtk_revealer_set_reveal_child (self->banner, text != NULL);
  gtk_widget_set_visible (GTK_WIDGET (self->banner_remove_button), FALSE);
}

/* ---- Status ---- */

void
tern_window_update_status (TernWindow *self)
{
  g_autoptr (GString) status = g_string_new (NULL);

  if (!tern_service_get_model_loaded (self->service))
    g_string_append (status, self->model_pending ? _("Loading the model…") : _("No model loaded"));
  else
    {
      g_string_append (status, tern_service_get_backend (self->service));
      g_string_append_printf (status, _(" · %d / %d tokens"), tern_service_get_context_used (self->service),
                              tern_service_get_context_size (self->service));
      if (self->reading_rate > 0)
        g_string_append_printf (status, _(" · reading %.1f tokens/s"), self->reading_rate);
      else if (self->tokens_per_second > 0)
        g_string_append_printf (status, _(" · %.1f tokens/s"), self->tokens_per_second);
      if (self->resume_note)
        g_string_append_printf (status, " · %s", self->resume_note);
    }
  if (tern_service_get_waiting (self->service))
    g_string_append_printf (status, " · %s", _("Waiting for the database: another program is using it…"));
  gtk_label_set_label (self->status_label, status->str);
}

static void
on_state_changed (TernService *service, GParamSpec *pspec, TernWindow *self)
{
  tern_window_update_status (self);
  tern_window_chat_update_actions (self);
}

static void
on_progress (TernService *service, TernServicePhase phase, double fraction, TernWindow *self)
{
  const char *label = _("Reading your message…");

  if (phase == TERN_SERVICE_PHASE_LOAD)
    label = _("Loading the model…");
  else if (phase == TERN_SERVICE_PHASE_INGEST)
    label = _("Reading the conversation again (no snapshot matches)…");
  gtk_label_set_label (self->progress_label, label);
  gtk_progress_bar_set_fraction (self->progress_bar, fraction);
  gtk_revealer_set_reveal_child (self->progress, fraction < 1.0);
}

void
tern_window_hide_progress (TernWindow *self)
{
  gtk_revealer_set_reveal_child (self->progress, FALSE);
}

static void
on_service_error (TernService *service, const GError *error, TernWindow *self)
{
  tern_window_toast_error (self, _("Storage error"), error);
}

static void
on_service_notice (TernService *service, const char *text, TernWindow *self)
{
  tern_window_toast (self, text);
}

/* ---- The window ---- */

static void
on_settings_applied (GSettings *settings, const char *key, TernWindow *self)
{
  if (g_str_equal (key, "threads") || g_str_equal (key, "context-size") || g_str_equal (key, "backend"))
    {
      g_autofree char *backend = g_settings_get_string (settings, "backend");
      tern_service_configure (self->service, g_settings_get_uint (settings, "threads"),
                              g_settings_get_int (settings, "context-size"), backend, NULL, NULL, NULL);
    }
  else if (g_str_equal (key, "snapshot-limit-mb"))
    tern_service_set_snapshot_limit (self->service, (gint64) g_settings_get_uint (settings, "snapshot-limit-mb") << 20,
                                     NULL, NULL, NULL);
}

static gboolean
tern_window_close_request (GtkWindow *window)
{
  TernWindow *self = TERN_WINDOW (window);
  int width, height;

  gtk_window_get_default_size (window, &width, &height);
  g_settings_set_int (self->settings, "window-width", width);
  g_settings_set_int (self->settings, "window-height", height);
  g_settings_set_boolean (self->settings, "window-maximized", gtk_window_is_maximized (window));
  /* A reply being written stops and is stored; the application's
   * shutdown then waits for the engine thread. */
  if (tern_service_get_generating (self->service) || self->busy)
    tern_service_stop (self->service);
  return GTK_WINDOW_CLASS (tern_window_parent_class)->close_request (window);
}

/* A database opened read-only: everything that writes is off, and the
 * banner says why. */
static void
set_read_only (TernWindow *self, const char *reason)
{
  const char *writes[] = { "new-conversation", "conversation-settings", "rename-conversation",
                           "duplicate-conversation", "delete-conversation", "undo-delete", "add-model",
                           "use-demo-model", "locate-model", "ask-example", "restore-from-trash",
                           "delete-permanently", "empty-trash" };
  const char *library_writes[] = { "library.add", "library.use", "library.remove" };

  self->read_only_note = g_strdup_printf (_("Read-only: %s Nothing can be changed."), reason);
  for (guint i = 0; i < G_N_ELEMENTS (writes); i++)
    g_simple_action_set_enabled (G_SIMPLE_ACTION (g_action_map_lookup_action (G_ACTION_MAP (self), writes[i])),
                                 FALSE);
  for (guint i = 0; i < G_N_ELEMENTS (library_writes); i++)
    gtk_widget_action_set_enabled (self->library_page, library_writes[i], FALSE);
  gtk_widget_set_sensitive (GTK_WIDGET (self->model_dropdown), FALSE);
  gtk_text_view_set_editable (self->composer, FALSE);
  gtk_widget_set_sensitive (GTK_WIDGET (self->composer), FALSE);
  tern_window_show_banner (self, NULL);
}

/* What needs the application: its service and settings. */
static void
setup (TernWindow *self, TernApplication *app)
{
  self->service = g_object_ref (tern_application_get_service (app));
  self->settings = g_object_ref (tern_application_get_settings (app));
  gtk_window_set_default_size (GTK_WINDOW (self), g_settings_get_int (self->settings, "window-width"),
                               g_settings_get_int (self->settings, "window-height"));
  if (g_settings_get_boolean (self->settings, "window-maximized"))
    gtk_window_maximize (GTK_WINDOW (self));

  tern_window_conversations_init (self);
  tern_window_trash_init (self);
  tern_window_models_init (self);
  g_simple_action_set_enabled (G_SIMPLE_ACTION (g_action_map_lookup_action (G_ACTION_MAP (self), "use-demo-model")),
                               tern_application_get_demo_model (app) != NULL);
  gtk_widget_set_visible (self->demo_button, tern_application_get_demo_model (app) != NULL);


  g_signal_connect_object (self->service, "notify::model-loaded", G_CALLBACK (on_state_changed), self, 0);
  g_signal_connect_object (self->service, "notify::context-used", G_CALLBACK (on_state_changed), self, 0);
  g_signal_connect_object (self->service, "notify::context-size", G_CALLBACK (on_state_changed), self, 0);
  g_signal_connect_object (self->service, "notify::backend", G_CALLBACK (on_state_changed), self, 0);
  g_signal_connect_object (self->service, "notify::waiting", G_CALLBACK (on_state_changed), self, 0);
  g_signal_connect_object (self->service, "progress", G_CALLBACK (on_progress), self, 0);
  g_signal_connect_object (self->service, "error", G_CALLBACK (on_service_error), self, 0);
  g_signal_connect_object (self->service, "notice", G_CALLBACK (on_service_notice), self, 0);
  g_signal_connect_object (self->settings, "changed", G_CALLBACK (on_settings_applied), self, 0);

  tern_window_chat_init (self);
  if (tern_service_get_read_only (self->service))
    set_read_only (self, tern_application_get_read_only_reason (app));
  tern_window_reveal_init (self);
  tern_accessible_follow_revealer (self->banner);
  tern_accessible_follow_revealer (self->progress);
  tern_accessible_follow_revealer (self->edit_bar);
  tern_window_layout_init (self, tern_application_get_demo_model (app) != NULL);
  tern_window_update_status (self);
  tern_window_reload_conversations (self);
  tern_window_reload_models (self, TRUE);
}

static void
tern_window_dispose (GObject *object)
{
  TernWindow *self = TERN_WINDOW (object);

  g_cancellable_cancel (self->cancellable);
  tern_window_reveal_dispose (self);
  tern_window_chat_dispose (self);
  g_clear_object (&self->conversation_selection);
  g_clear_object (&self->conversations);
  g_clear_object (&self->results);
  g_clear_object (&self->trash);
  g_clear_object (&self->models);
  g_clear_object (&self->service);
  g_clear_object (&self->settings);
  g_clear_pointer (&self->resume_note, g_free);
  g_clear_pointer (&self->draft_system_prompt, g_free);
  g_clear_pointer (&self->read_only_note, g_free);
  g_clear_pointer (&self->load_fallbacks, g_ptr_array_unref);
  g_clear_pointer (&self->load_failure, g_free);
  G_OBJECT_CLASS (tern_window_parent_class)->dispose (object);
}

static void
tern_window_finalize (GObject *object)
{
  TernWindow *self = TERN_WINDOW (object);

  g_clear_object (&self->cancellable);
  G_OBJECT_CLASS (tern_window_parent_class)->finalize (object);
}

static void
tern_window_class_init (TernWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);
  GtkWindowClass *window_class = GTK_WINDOW_CLASS (klass);

  object_class->dispose = tern_window_dispose;
  object_class->finalize = tern_window_finalize;
  window_class->close_request = tern_window_close_request;

  gtk_widget_class_set_template_from_resource (widget_class, "/io/github/ternapp/Tern/ui/tern-window.ui");
  gtk_widget_class_bind_template_child (widget_class, TernWindow, toasts);
  gtk_widget_class_bind_template_child (widget_class, TernWindow, leaflet);
  gtk_widget_class_bind_template_child (widget_class, TernWindow, sidebar);
  gtk_widget_class_bind_template_child (widget_class, TernWindow, content);
  gtk_widget_class_bind_template_child (widget_class, TernWindow, search_entry);
  gtk_widget_class_bind_template_child (widget_class, TernWindow, sidebar_stack);
  gtk_widget_class_bind_template_child (widget_class, TernWindow, conversation_list);
  gtk_widget_class_bind_template_child (widget_class, TernWindow, result_list);
  gtk_widget_class_bind_template_child (widget_class, TernWindow, model_dropdown);
  gtk_widget_class_bind_template_child (widget_class, TernWindow, status_label);
  gtk_widget_class_bind_template_child (widget_class, TernWindow, library_button);
  gtk_widget_class_bind_template_child (widget_class, TernWindow, banner);
  gtk_widget_class_bind_template_child (widget_class, TernWindow, banner_label);
  gtk_widget_class_bind_template_child (widget_class, TernWindow, banner_remove_button);
  gtk_widget_class_bind_template_child (widget_class, TernWindow, composer_note);
  gtk_widget_class_bind_template_child (widget_class, TernWindow, progress);
  gtk_widget_class_bind_template_child (widget_class, TernWindow, progress_label);
  gtk_widget_class_bind_template_child (widget_class, TernWindow, progress_bar);
  gtk_widget_class_bind_template_child (widget_class, TernWindow, main_stack);
  gtk_widget_class_bind_template_child (widget_class, TernWindow, chat_empty);
  gtk_widget_class_bind_template_child (widget_class, TernWindow, composer_placeholder);
  gtk_widget_class_bind_template_child (widget_class, TernWindow, demo_hints);
  gtk_widget_class_bind_template_child (widget_class, TernWindow, example_button);
  gtk_widget_class_bind_template_child (widget_class, TernWindow, message_scroller);
  gtk_widget_class_bind_template_child (widget_class, TernWindow, message_list);
  gtk_widget_class_bind_template_child (widget_class, TernWindow, edit_bar);
  gtk_widget_class_bind_template_child (widget_class, TernWindow, chat_title);
  gtk_widget_class_bind_template_child (widget_class, TernWindow, welcome);
  gtk_widget_class_bind_template_child (widget_class, TernWindow, composer);
  gtk_widget_class_bind_template_child (widget_class, TernWindow, send_button);
  gtk_widget_class_bind_template_child (widget_class, TernWindow, demo_button);
  tern_window_conversations_class_init (widget_class);
}

static void
tern_window_init (TernWindow *self)
{
  self->cancellable = g_cancellable_new ();
  gtk_widget_init_template (GTK_WIDGET (self));
}

TernWindow *
tern_window_new (TernApplication *app)
{
  TernWindow *self = g_object_new (TERN_TYPE_WINDOW, "application", app, NULL);

  setup (self, app);
  return self;
}
