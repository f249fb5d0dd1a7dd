/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

/* TernPreferencesWindow: the application's Preferences.
 *
 * Page "General": threads, context size and compute backend
 * (Performance); the snapshot storage limit and the data folder, with a
 * button that opens it in the file manager (Storage). Page
 * "Conversations": the default system prompt and sampling settings of new
 * conversations.
 *
 * Every control is bound to its key of the io.github.ternapp.Tern schema,
 * both ways, so a change applies at once (there is no Apply button) and a
 * change of the key made elsewhere shows at once. The system prompt is
 * saved on every edit.
 *
 * The window is modal, transient for its parent, destroyed with it, and
 * closes with Escape. Errors (the data folder cannot be opened) show as a
 * toast in the window.
 *
 * Threads: the main thread only. */

#define TERN_TYPE_PREFERENCES_WINDOW (tern_preferences_window_get_type ())
G_DECLARE_FINAL_TYPE (TernPreferencesWindow, tern_preferences_window, TERN, PREFERENCES_WINDOW, AdwPreferencesWindow)

/* A new preferences window, not yet shown: call gtk_window_present.
 *
 * @parent: the window it is transient for and modal to (may be NULL).
 * @settings: settings of the schema io.github.ternapp.Tern; the window
 *   keeps a reference.
 * @data_dir: the folder where Tern keeps its database, shown and opened by
 *   the data folder row; copied.
 * @backends: NULL-terminated identifiers of the compute backends that can
 *   be chosen, as the "backend" key holds them ("cpu", "vulkan:0"…); copied.
 *   NULL: the devices of this computer (tern_devices ()).
 *   The combo row shows "CPU" for "cpu", "Vulkan GPU N" for "vulkan:N" and
 *   other identifiers as they are. A key naming a backend not in the list
 *   is shown as an extra, unavailable entry rather than changed.
 *
 * The window is owned by GTK's list of toplevels, like any window. */
GtkWidget *tern_preferences_window_new (GtkWindow          *parent,
                                        GSettings          *settings,
                                        const char         *data_dir,
                                        const char * const *backends);

G_END_DECLS
