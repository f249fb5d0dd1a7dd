/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "model-variant.h"

#include <stdio.h>
#include <string.h>
#include <tern/gguf.h>

static char *
write_variant (const char *dir, const char *src, const char *drop, const char *arch, gint32 n_layers,
               const char *chat_template, gint32 n_ctx_train)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (TernGguf) gguf = tern_gguf_open (src, &error);
  g_assert_no_error (error);
  char *path = g_build_filename (dir, "variant.gguf", NULL);
  g_autoptr (TernGgufWriter) w = tern_gguf_writer_new (path, &error);
  g_assert_no_error (error);
  g_autoptr (GPtrArray) kept = g_ptr_array_new ();

  for (gsize i = 0; i < tern_gguf_n_kv (gguf); i++)
    {
      const char *key = tern_gguf_kv_key (gguf, i);
      if (arch && g_str_equal (key, "general.architecture"))
        tern_gguf_writer_add_string (w, key, arch);
      else if (n_layers > 0 && g_str_has_suffix (key, ".block_count"))
        tern_gguf_writer_add_uint32 (w, key, n_layers);
      else if (chat_template && g_str_equal (key, "tokenizer.chat_template"))
        tern_gguf_writer_add_string (w, key, chat_template);
      else if (n_ctx_train > 0 && g_str_has_suffix (key, ".context_length"))
        tern_gguf_writer_add_uint32 (w, key, n_ctx_train);
      else
        tern_gguf_writer_add_value (w, key, tern_gguf_kv_value (gguf, i));
    }
  for (gsize i = 0; i < tern_gguf_n_tensors (gguf); i++)
    {
      const TernGgufTensor *t = tern_gguf_tensor (gguf, i);
      int layer;
      if (g_strcmp0 (t->name, drop) == 0)
        continue;
      if (n_layers > 0 && sscanf (t->name, "blk.%d.", &layer) == 1 && layer >= n_layers)
        continue;
      tern_gguf_writer_add_tensor (w, t->name, t->type, t->n_dims, t->ne);
      g_ptr_array_add (kept, (gpointer) t);
    }
  g_assert_true (tern_gguf_writer_begin_data (w, &error));
  for (guint i = 0; i < kept->len; i++)
    {
      const TernGgufTensor *t = kept->pdata[i];
      g_assert_true (tern_gguf_writer_write (w, t->data, t->n_bytes, &error));
    }
  g_assert_true (tern_gguf_writer_finish (w, &error));
  g_assert_no_error (error);
  return path;
}

char *
model_variant_write (const char *dir, const char *src, const char *drop, const char *arch, gint32 n_layers)
{
  return write_variant (dir, src, drop, arch, n_layers, NULL, 0);
}

char *
model_variant_write_template (const char *dir, const char *src, const char *chat_template)
{
  return write_variant (dir, src, NULL, NULL, 0, chat_template, 0);
}

char *
model_variant_write_context (const char *dir, const char *src, gint32 n_ctx_train)
{
  return write_variant (dir, src, NULL, NULL, 0, NULL, n_ctx_train);
}

char *
model_variant_poke (const char *dir, const char *name, const char *src, const char *tensor, gsize offset,
                    const void *bytes, gsize n)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (TernGguf) gguf = tern_gguf_open (src, &error);
  g_assert_no_error (error);
  const TernGgufTensor *t = tern_gguf_find_tensor (gguf, tensor);
  g_autofree char *contents = NULL;
  gsize len;

  g_assert_nonnull (t);
  g_assert_cmpuint (offset + n, <=, t->n_bytes);
  g_assert_true (g_file_get_contents (src, &contents, &len, &error));
  gsize at = tern_gguf_data_offset (gguf) + t->offset + offset;
  g_assert_cmpuint (at + n, <=, len);
  memcpy (contents + at, bytes, n);
  char *path = g_build_filename (dir, name, NULL);
  g_assert_true (g_file_set_contents (path, contents, len, &error));
  return path;
}

char *
model_variant_poke_f32 (const char *dir, const char *name, const char *src, const char *tensor, gint64 first,
                        gint64 count, float value)
{
  g_autofree float *values = g_new (float, count);

  for (gint64 i = 0; i < count; i++)
    values[i] = value;
  return model_variant_poke (dir, name, src, tensor, first * sizeof (float), values, count * sizeof (float));
}
