/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

/* The page shown instead of the app when its database cannot be opened or
 * written: a full-window status page naming the data folder and the cause
 * (from the error's TERN_ENGINE_ERROR code, never from SQLite's text),
 * with what can be done: buttons for the application's actions
 * app.storage-read-only (only when the database can be read),
 * app.storage-choose-folder, app.storage-retry and app.quit. Main thread
 * only. */
#define TERN_TYPE_STORAGE_PAGE (tern_storage_page_get_type ())
G_DECLARE_FINAL_TYPE (TernStoragePage, tern_storage_page, TERN, STORAGE_PAGE, AdwBin)

/* A page for the database in @folder that failed with @error; @can_read:
 * whether it opens read-only. */
GtkWidget *tern_storage_page_new (const char *folder, const GError *error, gboolean can_read);
/* Shows another failure (after Try Again or another folder). */
void tern_storage_page_update (TernStoragePage *self, const char *folder, const GError *error, gboolean can_read);

/* The cause of @error in plain words, one sentence: for the page and for
 * the read-only banner. */
const char *tern_storage_cause (const GError *error);

G_END_DECLS
