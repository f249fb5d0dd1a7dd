/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>
#include <tern/service.h>

G_BEGIN_DECLS

/* TernLibraryPage: the model library. A row per model of the library,
 * most recently used first, then the ones never used by name: its name,
 * and its main tensor type, file size, architecture, parameter count,
 * context length and when it was last used; a "Loaded" tag (and the same
 * word first in the row's accessible description) on the model the service
 * has loaded, following its "model-id"; a warning on a model whose file is
 * missing or changed since it was added (each model is checked at every
 * listing, and again when the service finds the loaded model's file
 * changed: "model-damaged"). Each row has "Use" and a menu of "Rename…" (a
 * dialog asking the new name), "Compress…" (a TernCompressDialog; the new
 * model joins the list once made), "Details…" (a TernModelDetails dialog) and
 * "Remove…" (a confirmation that can also move the file to the trash;
 * otherwise the file is kept).
 * With no models, an empty state says how to add one.
 *
 * Models are added with the "library.add" action (a file chooser for GGUF
 * files; the page's "Add a Model…" buttons use it, and a window may
 * too, e.g. gtk_widget_activate_action (page, "library.add", NULL)), by
 * dropping files on the page, or with tern_library_page_add_file.
 *
 * Signals:
 * - "model-activated" (gint64 id, const char *path): the user chose to
 *   chat with model @id, whose file is at @path. The page does not load
 *   it: the handler does (tern_service_load_model).
 * - "model-added" (gint64 id): a file was added to the library (or, when
 *   already there, read again); the list is being read again.
 * - "model-renamed" (gint64 id): the library stored a new name for model
 *   @id; the list is being read again.
 * - "error" (const char *message): something failed, said in a sentence
 *   ready to show (a toast) that names the file and gives the reason,
 *   e.g. "notes.txt is not a usable model: …". Not emitted for requests
 *   that ended because the page went away.
 *
 * Lifetime: requests in flight do not keep the page alive; their answers
 * are dropped once it is disposed. Dialogs it opened are transient for its
 * window and destroyed with it.
 *
 * Threads: the main thread only. */

#define TERN_TYPE_LIBRARY_PAGE (tern_library_page_get_type ())
G_DECLARE_FINAL_TYPE (TernLibraryPage, tern_library_page, TERN, LIBRARY_PAGE, AdwBin)

/* A page showing @service's model library, read at once; the page keeps a
 * reference on @service. */
GtkWidget *tern_library_page_new (TernService *service);

/* Reads the library again, and checks each model's file; the rows change
 * when the answers come. */
void tern_library_page_reload (TernLibraryPage *self);

/* Adds the GGUF file @file to the library, as the file chooser and a drop
 * do: "model-added" on success, then the list is read again; "error" for
 * a file that is not local or not a usable model. */
void tern_library_page_add_file (TernLibraryPage *self, GFile *file);

G_END_DECLS
