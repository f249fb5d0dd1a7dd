/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>
#include <tern/sampler.h>

G_BEGIN_DECLS

/* TernConversationSettings: a dialog editing the settings of one
 * conversation: its system prompt and its sampling settings
 * (TernSamplingGroup), with a "Reset to Defaults" button that takes both
 * from the application's settings.
 *
 * Signal "changed" (no arguments): emitted once, when the dialog closes
 * (the user closes it, presses Escape, or gtk_window_close is called),
 * if the user changed anything since it opened, even back to the same
 * value. The handler runs before the dialog is destroyed: read the new
 * values there with tern_conversation_settings_get_system_prompt and
 * tern_conversation_settings_get_params. Closing rather than every edit,
 * so that the owner stores a conversation's settings once, not at every
 * keystroke of the prompt. A dialog destroyed without closing (its parent
 * destroyed, the application quitting) emits nothing.
 *
 * The dialog is modal, transient for its parent and destroyed with it.
 *
 * Threads: the main thread only. */

#define TERN_TYPE_CONVERSATION_SETTINGS (tern_conversation_settings_get_type ())
G_DECLARE_FINAL_TYPE (TernConversationSettings, tern_conversation_settings, TERN, CONVERSATION_SETTINGS,
                      AdwPreferencesWindow)

/* A new dialog, not yet shown: call gtk_window_present. @parent may be
 * NULL. @title is the conversation's title, shown in the window's title
 * (NULL or empty: "Conversation Settings"). @system_prompt (NULL: empty),
 * @params and @max_tokens are the conversation's current values, copied;
 * see tern_sampling_group_set_params for how they are shown. */
GtkWidget *tern_conversation_settings_new (GtkWindow               *parent,
                                           const char              *title,
                                           const char              *system_prompt,
                                           const TernSamplerParams *params,
                                           gint                     max_tokens);

/* Where "Reset to Defaults" takes its values from: settings of the schema
 * io.github.ternapp.Tern (keys "system-prompt" and the sampling keys read
 * by tern_settings_get_sampling); the dialog keeps a reference. Until
 * this is called, or with NULL, the button is insensitive. */
void tern_conversation_settings_set_defaults (TernConversationSettings *self, GSettings *settings);

/* The system prompt shown, as a new string (g_free). */
char *tern_conversation_settings_get_system_prompt (TernConversationSettings *self);

/* The sampling settings shown, into @out and @max_tokens (may be NULL);
 * see tern_sampling_group_get_params. The widgets keep every value in
 * range, yet callers pass @out through tern_sampler_params_validate before
 * giving it to the engine, as for any settings from outside. */
void tern_conversation_settings_get_params (TernConversationSettings *self, TernSamplerParams *out,
                                            gint *max_tokens);

G_END_DECLS
