/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "tern-application.h"

G_BEGIN_DECLS

/* The main window: conversations in a sidebar (with search), the chat
 * with the open one, the model library, and the model menu and status in
 * the header. It talks to the engine only through the application's
 * TernService, so it never waits on it. Main thread only. */
#define TERN_TYPE_WINDOW (tern_window_get_type ())
G_DECLARE_FINAL_TYPE (TernWindow, tern_window, TERN, WINDOW, AdwApplicationWindow)

TernWindow *tern_window_new (TernApplication *app);

/* Chats with the GGUF model @file: adds it to the library when new,
 * loads it and starts a new conversation. Failures show in the window. */
void tern_window_open_model_file (TernWindow *self, GFile *file);

G_END_DECLS
