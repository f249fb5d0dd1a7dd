/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>
#include <tern/service.h>

G_BEGIN_DECLS

/* TernModelDetails: a dialog showing everything the library knows of one
 * model: its name, file, architecture, parameters, tensor types, size,
 * context length, when it was added and last used, the SHA-256 of its
 * header, and whether its file is still the one added, checked when the
 * dialog opens (tern_service_check_model).
 *
 * Property "status" (int, read-only): the TernModelStatus found by that
 * check, or -1 until it answers (and when it failed, which the dialog
 * shows in place of the status); notified when it changes.
 *
 * The dialog is modal, transient for its parent and destroyed with it;
 * Escape closes it. The path and the hash can be selected and copied.
 *
 * Threads: the main thread only. */

#define TERN_TYPE_MODEL_DETAILS (tern_model_details_get_type ())
G_DECLARE_FINAL_TYPE (TernModelDetails, tern_model_details, TERN, MODEL_DETAILS, AdwPreferencesWindow)

/* A new dialog about @model (copied as text: the dialog keeps no pointer
 * to it), not yet shown: call gtk_window_present. @parent may be NULL.
 * The dialog keeps a reference on @service until it is destroyed. */
GtkWidget *tern_model_details_new (GtkWindow *parent, TernService *service, const TernStoreModel *model);

/* The status checked (a TernModelStatus), or -1 while unknown. */
int tern_model_details_get_status (TernModelDetails *self);

/* Text for the library, shared by the page and the dialog. */

/* A parameter count in short: "1.1 B", "15 M", "4.1 M", "830 K", "512".
 * Free with g_free. */
char *tern_format_parameters (gint64 n_params);

/* The first (most common) type of a tensor_types text of TernStoreModel
 * ("q4_K 155, f32 45" gives "q4_K"); "unknown" when there is none. Free
 * with g_free. */
char *tern_main_tensor_type (const char *tensor_types);

/* A model as menus name it: "kjv-tiny · Q8_0 · 12 MB" (name, main tensor
 * type, file size), so that look-alikes differ. Free with g_free. */
char *tern_model_label (const TernStoreModel *model);

/* What a TernModelStatus means, for people: "File missing", "File
 * changed since it was added", or NULL for TERN_MODEL_OK. Static. */
const char *tern_model_status_problem (TernModelStatus status);

G_END_DECLS
