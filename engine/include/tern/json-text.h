/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Checks JSON text before json-glib parses it, and mends what json-glib
 * would not read back losslessly. FORMAT error when arrays and objects
 * nest deeper than @max_depth (json-glib recurses once per level and
 * would overflow the stack), and for a backslash escape JSON does not
 * have (\u without four hex digits, \x), which json-glib would read as
 * other text, both naming the line and column. Replaces with
 * U+FFFD every byte that does not start a valid UTF-8 character, every NUL
 * byte, every \u0000 and every escaped surrogate that is not half of a
 * pair; *@n_replaced counts them. *@mended is the mended text
 * (@mended_len bytes, NUL-terminated, for g_free), or NULL when nothing
 * needed mending (*@mended_len is then @len). NOMEM when the copy cannot
 * be allocated. Pure: any thread. */
gboolean tern_json_mend (const char *json, gsize len, guint max_depth, char **mended, gsize *mended_len,
                         gsize *n_replaced, GError **error);

G_END_DECLS
