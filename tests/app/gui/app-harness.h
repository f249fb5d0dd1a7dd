/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/* Running the real application in a test or a benchmark: a TernApplication
 * on a data folder of its own, its window, and the main loop driven until
 * a condition holds. Needs a display (Xvfb), a session bus
 * (dbus-run-session) and GSETTINGS_SCHEMA_DIR at the compiled schema. */

#include "tern-window-private.h"

G_BEGIN_DECLS

typedef struct {
  char *dir;              /* TERN_DATA_DIR */
  TernApplication *app;
  TernWindow *window;
} AppHarness;

/* Points TERN_DATA_DIR at @dir (made when NULL; removed by clear only
 * then), hides the demo model, and sets the settings tests rely on:
 * @n_threads engine threads, a context of @n_ctx tokens. */
void app_harness_init (AppHarness *h, const char *dir, guint n_threads, gint n_ctx);
/* Runs the application as `tern` does (g_application_run) and, once its
 * window is up and has read the library and the conversations, calls
 * @body (@h, @data), which drives it; then quits it as the user would
 * (app.quit) and frees it, checking the window was freed. */
typedef void (*AppHarnessBody) (AppHarness *h, gpointer data);
void app_harness_run (AppHarness *h, AppHarnessBody body, gpointer data);
void app_harness_clear (AppHarness *h);

/* Runs the main loop until @done (@data) is TRUE; fails the test after
 * @timeout_s seconds, naming @what. */
void app_harness_wait (const char *what, gboolean (*done) (gpointer data), gpointer data, guint timeout_s);

/* Waits until the engine ran every request made so far, and those their
 * answers made, and their results reached the window. */
void app_harness_sync (TernWindow *window);

/* Common conditions on the window. */
gboolean app_harness_model_ready (gpointer window);   /* a model is loaded, nothing pending */
gboolean app_harness_idle (gpointer window);          /* no reply, no open, no load in flight */
gboolean app_harness_has_reply (gpointer window);     /* a reply is streaming with some text */

/* Whether @widget is the one looked for (@data: what the test gives). */
typedef gboolean (*AppHarnessMatch) (GtkWidget *widget, gconstpointer data);
/* @root or its first descendant, depth first, that @match accepts; NULL
 * when none does. */
GtkWidget *app_harness_find_widget (GtkWidget *root, AppHarnessMatch match, gconstpointer data);
/* Matches an AdwActionRow whose title is the string @data. */
gboolean app_harness_is_row_titled (GtkWidget *widget, gconstpointer title);
/* Runs the main loop until a widget below @root matches (at most 120 s),
 * failing the test with @what otherwise. */
void app_harness_wait_widget (const char *what, GtkWidget *root, AppHarnessMatch match, gconstpointer data);
/* For app_harness_wait: window @data is idle and shows a message and its
 * reply (at least two messages). */
gboolean app_harness_replied (gpointer window);
/* The first visible toplevel window of @type, or NULL. */
GtkWindow *app_harness_find_toplevel (GType type);
/* Opens the menu of @row (its menu button) and clicks its item @text, as a
 * pointer would; fails the test when there is no such item. */
void app_harness_choose_from_menu (GtkWidget *row, const char *text);

/* Clicks @button as a pointer would, once it is on screen (mapped, at
 * most 60 s): it must be sensitive. (gtk_widget_activate does nothing on a
 * button not yet realized, and emits "clicked" only after GTK's 250 ms
 * press animation.) */
void app_harness_click (GtkWidget *button);

/* Matches for app_harness_find_widget. */
gboolean app_harness_is_label_text (GtkWidget *widget, gconstpointer text);       /* a label showing @text */
gboolean app_harness_is_value_text (GtkWidget *widget, gconstpointer text);       /* a selectable one: a value */
gboolean app_harness_is_button_labelled (GtkWidget *widget, gconstpointer label); /* a button labelled @label */
gboolean app_harness_is_menu_button (GtkWidget *widget, gconstpointer data);      /* any menu button */

/* Opens the model file at @path (NULL: the kjv-tiny fixture) as `tern PATH`
 * does, and waits until it is loaded. */
void app_harness_open_model (TernWindow *window, const char *path);

/* Types @text into the composer and sends it, as Enter does. */
void app_harness_send (TernWindow *window, const char *text);
/* Message @i of the chat view (a new reference). */
TernMessageItem *app_harness_message (TernWindow *window, guint i);
guint app_harness_n_messages (TernWindow *window);

G_END_DECLS
