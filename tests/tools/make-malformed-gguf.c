/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Writes the malformed-GGUF corpus, the valid file it starts from and the
 * tokenizer seeds to a directory (a fuzzing seed corpus):
 * make-malformed-gguf DIR */
#include "malformed-gguf.h"

#include <glib/gstdio.h>

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;

  if (argc != 2)
    {
      g_printerr ("usage: %s DIR\n", argv[0]);
      return 1;
    }
  if (g_mkdir_with_parents (argv[1], 0755) != 0)
    {
      g_printerr ("%s: cannot create\n", argv[1]);
      return 1;
    }

  g_autoptr (GPtrArray) corpus = malformed_gguf_corpus ();
  g_autoptr (GPtrArray) seeds = malformed_gguf_tokenizer_seeds ();
  g_autoptr (GBytes) valid = malformed_gguf_valid ();
  g_autofree char *valid_path = g_build_filename (argv[1], "valid.gguf", NULL);
  if (!g_file_set_contents (valid_path, g_bytes_get_data (valid, NULL), g_bytes_get_size (valid), &error))
    goto fail;
  g_ptr_array_extend_and_steal (corpus, g_steal_pointer (&seeds));
  for (guint i = 0; i < corpus->len; i++)
    {
      MalformedGguf *m = corpus->pdata[i];
      g_autofree char *file = g_strconcat (m->name, ".gguf", NULL);
      g_autofree char *path = g_build_filename (argv[1], file, NULL);
      if (!g_file_set_contents (path, g_bytes_get_data (m->bytes, NULL), g_bytes_get_size (m->bytes), &error))
        goto fail;
    }
  g_print ("wrote %u files (malformed files and tokenizer seeds) and valid.gguf to %s\n", corpus->len, argv[1]);
  return 0;

fail:
  g_printerr ("%s\n", error->message);
  return 1;
}
