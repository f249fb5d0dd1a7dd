/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Reading a file whole, with a limit: g_file_get_contents reads until
 * memory runs out on /dev/zero or an endless pipe. */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <sys/stat.h>
#include <tern/error.h>
#include <unistd.h>

static gboolean
too_large (const char *path, gsize max, const char *what, GError **error)
{
  g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_INVALID,
               "%s is larger than the %" G_GSIZE_FORMAT " %s %s may be", path,
               max >= (1 << 20) ? max >> 20 : max >> 10, max >= (1 << 20) ? "MiB" : "KiB", what);
  return FALSE;
}

static gboolean
io_failed (const char *path, const char *doing, int saved_errno, GError **error)
{
  g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved_errno), "%s %s: %s", doing, path,
               g_strerror (saved_errno));
  return FALSE;
}

gboolean
cli_read_file (const char *path, gsize max, const char *what, char **contents, gsize *len, GError **error)
{
  int fd = g_open (path, O_RDONLY | O_CLOEXEC, 0);
  struct stat st;
  g_autofree char *buf = NULL;
  gsize size = 0, capacity = 0;

  if (fd < 0)
    return io_failed (path, "Could not open", errno, error);
  /* A regular file says its size: refuse it unread. */
  if (fstat (fd, &st) == 0 && S_ISREG (st.st_mode) && (guint64) st.st_size > max)
    {
      g_close (fd, NULL);
      return too_large (path, max, what, error);
    }
  for (;;)
    {
      /* One byte past the limit tells a file at the limit from a longer one. */
      if (size == capacity)
        {
          gsize grown = MIN (MAX (capacity * 2, 64 * 1024), max + 1);
          char *more = grown > capacity ? g_try_realloc (buf, grown + 1) : NULL;
          if (more == NULL)
            {
              g_close (fd, NULL);
              if (grown <= capacity)
                return too_large (path, max, what, error);
              g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_NOMEM, "not enough memory to read %s", path);
              return FALSE;
            }
          buf = more;
          capacity = grown;
        }
      gssize n = read (fd, buf + size, capacity - size);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          int saved_errno = errno;
          g_close (fd, NULL);
          return io_failed (path, "Could not read", saved_errno, error);
        }
      if (n == 0)
        break;
      size += (gsize) n;
    }
  g_close (fd, NULL);
  if (size > max)
    return too_large (path, max, what, error);
  /* The slack of the last doubling is given back. */
  char *fitted = g_try_realloc (buf, size + 1);
  if (fitted)
    buf = fitted;
  buf[size] = '\0';
  *contents = g_steal_pointer (&buf);
  *len = size;
  return TRUE;
}
