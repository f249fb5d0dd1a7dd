/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>
#include <tern/store.h>

G_BEGIN_DECLS

/* A window showing all the library knows of @model (copied) and @status,
 * modal for @parent; Escape closes it. Main thread only. */
GtkWidget *tern_model_details_new (GtkWindow *parent, const TernStoreModel *model, TernModelStatus status);

/* Text for the library: "1.1 B", "15 M", "4.1 M" parameters. */
char *tern_format_parameters (gint64 n_params);
/* The most common tensor type of @tensor_types ("q4_K 155, f32 45"): "q4_K". */
char *tern_main_tensor_type (const char *tensor_types);

G_END_DECLS
