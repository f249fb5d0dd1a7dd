/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Writes a copy of the model file @src as @dir/variant.gguf, without the
 * tensor named @drop (none when NULL), with general.architecture set to
 * @arch (unchanged when NULL), or with only the first @n_layers layers
 * (0: all). Returns the new file's path; fails the test on an error. */
char *model_variant_write (const char *dir, const char *src, const char *drop, const char *arch, gint32 n_layers);
/* The same, with @chat_template as tokenizer.chat_template (the source
 * must have one). */
char *model_variant_write_template (const char *dir, const char *src, const char *chat_template);

G_END_DECLS
