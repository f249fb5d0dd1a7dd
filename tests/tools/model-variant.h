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
/* The same, with @n_ctx_train as the training length (ARCH.context_length). */
char *model_variant_write_context (const char *dir, const char *src, gint32 n_ctx_train);

/* Writes a copy of the model file @src as @dir/@name with @n bytes of
 * @bytes written over tensor @tensor at @offset bytes from its start (a
 * damaged model). Returns the new file's path; fails the test on an
 * error. */
char *model_variant_poke (const char *dir, const char *name, const char *src, const char *tensor, gsize offset,
                          const void *bytes, gsize n);

/* Same, with each of the f32 elements @first..@first+@count-1 of f32
 * tensor @tensor set to @value. */
char *model_variant_poke_f32 (const char *dir, const char *name, const char *src, const char *tensor,
                              gint64 first, gint64 count, float value);

G_END_DECLS
