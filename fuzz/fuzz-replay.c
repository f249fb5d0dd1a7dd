/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The main of a fuzz target built without libFuzzer: feeds each file
 * named (each file of a folder named, in name order) to the target's
 * LLVMFuzzerTestOneInput once, as libFuzzer would. The default test suite
 * replays the seed corpora and every input that once crashed a target
 * (fuzz/regressions/TARGET/) this way, under ASan when the build has it. */
#include <glib.h>
#include <stdio.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

static int
compare_names (gconstpointer a, gconstpointer b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

static void
replay_file (const char *path, guint *n)
{
  g_autofree char *contents = NULL;
  g_autoptr (GError) error = NULL;
  gsize len;

  if (!g_file_get_contents (path, &contents, &len, &error))
    g_error ("%s", error->message);
  /* libFuzzer hands over a copy of exactly the input's bytes: a target
   * that reads past them is caught by ASan here too. */
  g_autofree guint8 *copy = g_memdup2 (contents, len);
  printf ("%s (%" G_GSIZE_FORMAT " bytes)\n", path, len);
  fflush (stdout);
  LLVMFuzzerTestOneInput (copy, len);
  (*n)++;
}

int
main (int argc, char **argv)
{
  guint n = 0;

  if (argc < 2)
    {
      fprintf (stderr, "usage: %s FILE-OR-FOLDER...\n", argv[0]);
      return 1;
    }
  for (int i = 1; i < argc; i++)
    {
      if (!g_file_test (argv[i], G_FILE_TEST_IS_DIR))
        {
          replay_file (argv[i], &n);
          continue;
        }
      g_autoptr (GError) error = NULL;
      g_autoptr (GDir) dir = g_dir_open (argv[i], 0, &error);
      g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
      const char *name;

      if (dir == NULL)
        g_error ("%s", error->message);
      while ((name = g_dir_read_name (dir)))
        g_ptr_array_add (names, g_build_filename (argv[i], name, NULL));
      g_ptr_array_sort (names, compare_names);
      for (guint j = 0; j < names->len; j++)
        replay_file (names->pdata[j], &n);
    }
  printf ("%u inputs replayed\n", n);
  return n > 0 ? 0 : 1;
}
