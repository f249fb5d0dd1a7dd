/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

/* Accessible names as a screen reader should read them, where GTK 4.8
 * and libadwaita 1.2 get them wrong: a button with a mnemonic is named
 * by its raw label and its text ("_Use Use"), and a control without a
 * name is named by its type ("GtkToggleButton"). The main thread only. */

/* Fixes the names in @root and below as they are now: buttons with a
 * mnemonic are named by their text alone (also after their label
 * changes), a drop-down's button takes the drop-down's tooltip as its
 * name, view switchers are named "Pages" and their decorative icons
 * hidden, and unnamed search entries are named "Search". Call it again
 * for widgets added later. */
void tern_accessible_fix_names (GtkWidget *root);

/* Fixes the names of every window, each time it is shown: call it once
 * at startup. */
void tern_accessible_watch_windows (void);

/* Keeps @revealer's content out of the accessibility tree while it is
 * not revealed, as it is out of sight. */
void tern_accessible_follow_revealer (GtkRevealer *revealer);

G_END_DECLS
