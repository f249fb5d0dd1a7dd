/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* A byte stream passed in pieces, so that large data (a context's state,
 * a snapshot) never has to be in memory whole. A callback returns FALSE
 * with @error set when it cannot take or give the @len bytes; a read must
 * fill all of @data. */
typedef gboolean (*TernStreamWriteFn) (const void *data, gsize len, gpointer user_data, GError **error);
typedef gboolean (*TernStreamReadFn) (void *data, gsize len, gpointer user_data, GError **error);

G_END_DECLS
