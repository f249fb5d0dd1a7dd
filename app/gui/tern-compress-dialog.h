/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>
#include <tern/service.h>

G_BEGIN_DECLS

/* TernCompressDialog: compressing one library model to ternary weights.
 * A preset ("Balanced": TQ2_0, the default; "Smallest": TQ1_0) and, under
 * "Details", the type and the method (every method the engine has).
 * "Compress" starts it (tern_service_compress_model): the dialog shows the
 * phase, the percentage, a progress bar and the time left; "Stop" cancels
 * it (no file, no library entry, and the dialog says so). At the end it
 * shows the report (tern_compress_report_add_rows) and a "Use" button.
 * Closing the dialog while it runs cancels the compression.
 *
 * Signals:
 * - "compressed" (gint64 id): the new model @id is in the library.
 * - "use" (gint64 id): the user chose to chat with the new model.
 *
 * The dialog is modal, transient for its parent and destroyed with it.
 * Threads: the main thread only. */

#define TERN_TYPE_COMPRESS_DIALOG (tern_compress_dialog_get_type ())
G_DECLARE_FINAL_TYPE (TernCompressDialog, tern_compress_dialog, TERN, COMPRESS_DIALOG, AdwWindow)

/* A new dialog for compressing @model (its id and name are copied), not
 * yet shown. @parent may be NULL; the dialog keeps a reference on
 * @service. */
GtkWidget *tern_compress_dialog_new (GtkWindow *parent, TernService *service, const TernStoreModel *model);

/* Adds to @group a row per field of the compression report @json (as
 * tern_store_model_set_compression keeps it): type, method, sizes and
 * ratio, bits per weight, share of zeros, relative error, and the quality
 * fields the report has (perplexity and speed before and after, the
 * verdict). Returns FALSE, adding nothing, when @json is not a report. */
gboolean tern_compress_report_add_rows (AdwPreferencesGroup *group, const char *json);

G_END_DECLS
