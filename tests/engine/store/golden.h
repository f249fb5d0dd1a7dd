/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/* The golden exports in tests/data/export (see test-export.c): reading
 * them, and comparing a text with one byte for byte. */

#include <glib.h>
#include <string.h>

static inline char *
golden_path (const char *name)
{
  return g_test_build_filename (G_TEST_DIST, "data", "export", name, NULL);
}

static inline char *
golden_read (const char *name)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *path = golden_path (name);
  char *text = NULL;

  g_assert_true (g_file_get_contents (path, &text, NULL, &error));
  g_assert_no_error (error);
  return text;
}

/* The line of @text around @offset, with its control characters escaped
 * (and UTF-8 left as it is). */
static inline char *
golden_line_at (const char *text, gsize len, gsize offset)
{
  char keep[129];
  gsize start = offset, end = offset;

  for (guint i = 0; i < 128; i++)
    keep[i] = (char) (0x80 + i);
  keep[128] = '\0';
  while (start > 0 && text[start - 1] != '\n')
    start--;
  while (end < len && text[end] != '\n')
    end++;
  g_autofree char *line = g_strndup (text + start, end - start);
  return g_strescape (line, keep);
}

/* Fails the test (g_test_fail_printf: it goes on) unless @text is the
 * golden file @name byte for byte, naming the first line that differs. */
static inline void
golden_compare (const char *name, const char *what, const char *text)
{
  g_autofree char *want = golden_read (name);
  gsize len = strlen (text), want_len = strlen (want), at = 0;
  guint line = 1;

  if (len == want_len && memcmp (want, text, len) == 0)
    return;
  while (at < len && at < want_len && want[at] == text[at])
    if (text[at++] == '\n')
      line++;
  g_autofree char *want_line = golden_line_at (want, want_len, at);
  g_autofree char *got_line = golden_line_at (text, len, at);
  g_test_fail_printf ("%s differs from %s at line %u (byte %" G_GSIZE_FORMAT "; %" G_GSIZE_FORMAT
                      " bytes, the golden %" G_GSIZE_FORMAT "):\n  golden: %s\n  %s: %s",
                      what, name, line, at, len, want_len, want_line, what, got_line);
}
