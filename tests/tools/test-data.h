/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>

/* Test data lives in tests/data/ (G_TEST_SRCDIR is tests/). */

static inline int
test_data_compare_names (gconstpointer a, gconstpointer b)
{
  /* g_ptr_array_sort passes pointers to the elements. */
  return strcmp (*(char *const *) a, *(char *const *) b);
}

/* The names of the files in tests/data/@dir ending in @suffix, sorted;
 * with @strip_suffix, without it. Free the array. */
static inline GPtrArray *
test_data_list (const char *dir, const char *suffix, gboolean strip_suffix)
{
  g_autofree char *path = g_test_build_filename (G_TEST_DIST, "data", dir, NULL);
  g_autoptr (GDir) d = g_dir_open (path, 0, NULL);
  GPtrArray *names = g_ptr_array_new_with_free_func (g_free);
  const char *name;

  g_assert_nonnull (d);
  while ((name = g_dir_read_name (d)))
    if (g_str_has_suffix (name, suffix))
      g_ptr_array_add (names, strip_suffix ? g_strndup (name, strlen (name) - strlen (suffix)) : g_strdup (name));
  g_ptr_array_sort (names, test_data_compare_names);
  g_assert_cmpuint (names->len, >, 0);
  return names;
}

/* Deletes @path and, for a folder, everything in it (links are removed,
 * not followed). */
static inline void
test_remove_tree (const char *path)
{
  if (g_file_test (path, G_FILE_TEST_IS_DIR) && !g_file_test (path, G_FILE_TEST_IS_SYMLINK))
    {
      g_autoptr (GDir) dir = g_dir_open (path, 0, NULL);
      const char *name;

      while (dir && (name = g_dir_read_name (dir)))
        {
          g_autofree char *child = g_build_filename (path, name, NULL);
          test_remove_tree (child);
        }
    }
  g_remove (path);
}
