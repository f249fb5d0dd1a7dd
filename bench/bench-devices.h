/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <tern/backend.h>

/* The names of every device the registry lists, for benchmarks that
 * measure each by default. Free with g_strfreev. */
static inline char **
bench_all_devices (void)
{
  guint n;
  const TernDevice *const *devices = tern_devices (&n);
  char **names = g_new0 (char *, n + 1);

  for (guint i = 0; i < n; i++)
    names[i] = g_strdup (devices[i]->name);
  return names;
}
