/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "tern-conversation-settings.h"

#include "tern-sampling-group.h"

#include <glib/gi18n.h>

enum {
  SIGNAL_CHANGED,
  N_SIGNALS
};

/* What the dialog showed before "Reset to Defaults", for its Undo. */
typedef struct {
  char *system_prompt;
  TernSamplerParams params;
  gint max_tokens;
} Values;

struct _TernConversationSettings
{
  AdwPreferencesWindow parent_instance;

  GSettings *defaults;
  gboolean loading; /* values are being set by code, not edited by the user */
  gboolean dirty;   /* the user changed something since the dialog opened or last emitted "changed" */
  Values before_reset;
  gboolean can_undo_reset;

  GtkTextView *system_prompt_view;
  TernSamplingGroup *sampling_group;
  GtkButton *reset_button;
};

static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (TernConversationSettings, tern_conversation_settings, ADW_TYPE_PREFERENCES_WINDOW)

static void
values_clear (Values *values)
{
  g_clear_pointer (&values->system_prompt, g_free);
}

static void
edited_cb (TernConversationSettings *self)
{
  if (!self->loading)
    self->dirty = TRUE;
}

static void
show_values (TernConversationSettings *self, const char *system_prompt, const TernSamplerParams *params,
             gint max_tokens)
{
  gtk_text_buffer_set_text (gtk_text_view_get_buffer (self->system_prompt_view),
                            system_prompt != NULL ? system_prompt : "", -1);
  tern_sampling_group_set_params (self->sampling_group, params, max_tokens);
}

static void
reset_clicked_cb (TernConversationSettings *self)
{
  TernSamplerParams params;
  gint max_tokens;
  g_autofree char *system_prompt = NULL;
  AdwToast *toast;

  g_return_if_fail (self->defaults != NULL);

  values_clear (&self->before_reset);
  self->before_reset.system_prompt = tern_conversation_settings_get_system_prompt (self);
  tern_conversation_settings_get_params (self, &self->before_reset.params, &self->before_reset.max_tokens);
  self->can_undo_reset = TRUE;
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "conversation.undo-reset", TRUE);

  system_prompt = g_settings_get_string (self->defaults, "system-prompt");
  tern_settings_get_sampling (self->defaults, &params, &max_tokens);
  show_values (self, system_prompt, &params, max_tokens);

  /* Undo rather than a confirmation: the prompt may be long work. */
  toast = adw_toast_new (_("Settings reset to defaults"));
  adw_toast_set_button_label (toast, _("_Undo"));
  adw_toast_set_action_name (toast, "conversation.undo-reset");
  adw_preferences_window_add_toast (ADW_PREFERENCES_WINDOW (self), toast);
}

static void
undo_reset_activated (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  TernConversationSettings *self = TERN_CONVERSATION_SETTINGS (widget);

  if (!self->can_undo_reset)
    return;
  show_values (self, self->before_reset.system_prompt, &self->before_reset.params, self->before_reset.max_tokens);
  self->can_undo_reset = FALSE;
  gtk_widget_action_set_enabled (widget, "conversation.undo-reset", FALSE);
}

static gboolean
tern_conversation_settings_close_request (GtkWindow *window)
{
  TernConversationSettings *self = TERN_CONVERSATION_SETTINGS (window);

  /* Handlers connected normally run before this one, and may have kept the
   * window open; here it does close. */
  if (self->dirty)
    {
      self->dirty = FALSE;
      g_signal_emit (self, signals[SIGNAL_CHANGED], 0);
    }
  return GTK_WINDOW_CLASS (tern_conversation_settings_parent_class)->close_request (window);
}

static void
tern_conversation_settings_dispose (GObject *object)
{
  TernConversationSettings *self = TERN_CONVERSATION_SETTINGS (object);

  gtk_widget_dispose_template (GTK_WIDGET (self), TERN_TYPE_CONVERSATION_SETTINGS);
  g_clear_object (&self->defaults);

  G_OBJECT_CLASS (tern_conversation_settings_parent_class)->dispose (object);
}

static void
tern_conversation_settings_finalize (GObject *object)
{
  TernConversationSettings *self = TERN_CONVERSATION_SETTINGS (object);

  values_clear (&self->before_reset);

  G_OBJECT_CLASS (tern_conversation_settings_parent_class)->finalize (object);
}

static void
tern_conversation_settings_class_init (TernConversationSettingsClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);
  GtkWindowClass *window_class = GTK_WINDOW_CLASS (klass);

  object_class->dispose = tern_conversation_settings_dispose;
  object_class->finalize = tern_conversation_settings_finalize;
  window_class->close_request = tern_conversation_settings_close_request;

  signals[SIGNAL_CHANGED] = g_signal_new ("changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                                          NULL, G_TYPE_NONE, 0);

  g_type_ensure (TERN_TYPE_SAMPLING_GROUP);

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/ternapp/Tern/ui/tern-conversation-settings.ui");
  gtk_widget_class_bind_template_child (widget_class, TernConversationSettings, system_prompt_view);
  gtk_widget_class_bind_template_child (widget_class, TernConversationSettings, sampling_group);
  gtk_widget_class_bind_template_child (widget_class, TernConversationSettings, reset_button);
  gtk_widget_class_bind_template_callback (widget_class, reset_clicked_cb);

  gtk_widget_class_install_action (widget_class, "conversation.undo-reset", NULL, undo_reset_activated);
}

static void
tern_conversation_settings_init (TernConversationSettings *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));

  gtk_widget_action_set_enabled (GTK_WIDGET (self), "conversation.undo-reset", FALSE);
  g_signal_connect_object (gtk_text_view_get_buffer (self->system_prompt_view), "changed", G_CALLBACK (edited_cb),
                           self, G_CONNECT_SWAPPED);
  /* Any property of the group: they notify only on a real change. */
  g_signal_connect_object (self->sampling_group, "notify", G_CALLBACK (edited_cb), self, G_CONNECT_SWAPPED);
}

GtkWidget *
tern_conversation_settings_new (GtkWindow               *parent,
                                const char              *title,
                                const char              *system_prompt,
                                const TernSamplerParams *params,
                                gint                     max_tokens)
{
  TernConversationSettings *self;
  g_autofree char *window_title = NULL;

  g_return_val_if_fail (parent == NULL || GTK_IS_WINDOW (parent), NULL);
  g_return_val_if_fail (params != NULL, NULL);

  if (title != NULL && *title != '\0')
    window_title = g_strdup_printf (_("“%s” Settings"), title);
  else
    window_title = g_strdup (_("Conversation Settings"));

  self = g_object_new (TERN_TYPE_CONVERSATION_SETTINGS,
                       "transient-for", parent,
                       "title", window_title,
                       NULL);
  self->loading = TRUE;
  show_values (self, system_prompt, params, max_tokens);
  self->loading = FALSE;
  return GTK_WIDGET (self);
}

void
tern_conversation_settings_set_defaults (TernConversationSettings *self, GSettings *settings)
{
  g_return_if_fail (TERN_IS_CONVERSATION_SETTINGS (self));
  g_return_if_fail (settings == NULL || G_IS_SETTINGS (settings));

  g_set_object (&self->defaults, settings);
  gtk_widget_set_sensitive (GTK_WIDGET (self->reset_button), settings != NULL);
}

char *
tern_conversation_settings_get_system_prompt (TernConversationSettings *self)
{
  GtkTextBuffer *buffer;
  GtkTextIter start, end;

  g_return_val_if_fail (TERN_IS_CONVERSATION_SETTINGS (self), NULL);

  buffer = gtk_text_view_get_buffer (self->system_prompt_view);
  gtk_text_buffer_get_bounds (buffer, &start, &end);
  return gtk_text_buffer_get_text (buffer, &start, &end, FALSE);
}

void
tern_conversation_settings_get_params (TernConversationSettings *self, TernSamplerParams *out, gint *max_tokens)
{
  g_return_if_fail (TERN_IS_CONVERSATION_SETTINGS (self));
  g_return_if_fail (out != NULL);

  tern_sampling_group_get_params (self->sampling_group, out, max_tokens);
}
