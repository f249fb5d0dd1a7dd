/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>
#include <tern/service.h>

G_BEGIN_DECLS

#define TERN_APPLICATION_ID "io.github.ternapp.Tern"

/* The application: owns the engine service (one engine thread for all
 * windows) and the settings, handles the command line (`tern`, or
 * `tern MODEL.gguf` to chat with that model) and the app-wide actions
 * (quit, preferences, about). Main thread only. */
#define TERN_TYPE_APPLICATION (tern_application_get_type ())
G_DECLARE_FINAL_TYPE (TernApplication, tern_application, TERN, APPLICATION, AdwApplication)

TernApplication *tern_application_new (void);

/* Valid from startup to shutdown (the service: once the database could be
 * opened, see the storage page); owned by the application. */
TernService *tern_application_get_service (TernApplication *self);
GSettings *tern_application_get_settings (TernApplication *self);
/* The folder holding the database ($TERN_DATA_DIR, or ~/.local/share/tern). */
const char *tern_application_get_data_dir (TernApplication *self);
/* Why the database is open read-only (a plain sentence), or NULL when it
 * is not: the user chose Open Read-Only on the storage page. */
const char *tern_application_get_read_only_reason (TernApplication *self);
/* The demo model shipped with Tern, or NULL when it is not installed. */
const char *tern_application_get_demo_model (TernApplication *self);

G_END_DECLS
