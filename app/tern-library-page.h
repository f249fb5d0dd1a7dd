/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>
#include <tern/service.h>

G_BEGIN_DECLS

/* The model library: every model added, with what the store knows of it
 * and whether its file is still the one added; adding models (file dialog,
 * drag and drop, the "library.add" action), removing them (the file kept
 * unless the user asks to trash it) and their details.
 *
 * Signals:
 * - "model-activated" (gint64 id, const char *path): the user chose to
 *   chat with a model.
 * - "model-added" (gint64 id): a file was added (or read again).
 * - "error" (const char *message): something failed; the message names
 *   the file and the reason, ready to show.
 *
 * Main thread only. */
#define TERN_TYPE_LIBRARY_PAGE (tern_library_page_get_type ())
G_DECLARE_FINAL_TYPE (TernLibraryPage, tern_library_page, TERN, LIBRARY_PAGE, AdwBin)

/* A page listing @service's library (it keeps a reference). */
GtkWidget *tern_library_page_new (TernService *service);
/* Reads the library again. */
void tern_library_page_reload (TernLibraryPage *self);
/* Adds the GGUF file @file, as the file dialog and a drop do. */
void tern_library_page_add_file (TernLibraryPage *self, GFile *file);

G_END_DECLS
