/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The registry of backends and their devices (tern/backend.h): the
 * built-in backends' devices, enumerated once, and the tests' additions. */
#include "backend/backend.h"

#include <string.h>
#include <tern/error.h>

/* The built-in backends, in the order their devices are listed. */
static const TernBackendClass *const builtin[] = {
  &tern_backend_cpu_class,
};

typedef struct {
  const TernDevice *device;
  const TernBackendClass *klass;
} Entry;

static GMutex lock;
static GArray *entries;    /* Entry */
static GPtrArray *devices; /* the same devices, for tern_devices */

static void
add_class_locked (const TernBackendClass *klass)
{
  g_autoptr (GPtrArray) found = g_ptr_array_new ();

  klass->enumerate (found);
  for (guint i = 0; i < found->len; i++)
    {
      Entry e = { found->pdata[i], klass };
      g_array_append_val (entries, e);
      g_ptr_array_add (devices, found->pdata[i]);
    }
}

static void
ensure_locked (void)
{
  if (entries != NULL)
    return;
  entries = g_array_new (FALSE, FALSE, sizeof (Entry));
  devices = g_ptr_array_new ();
  for (guint i = 0; i < G_N_ELEMENTS (builtin); i++)
    add_class_locked (builtin[i]);
}

void
tern_backend_register (const TernBackendClass *klass)
{
  g_mutex_lock (&lock);
  ensure_locked ();
  add_class_locked (klass);
  g_mutex_unlock (&lock);
}

const TernDevice *const *
tern_devices (guint *n_devices)
{
  g_mutex_lock (&lock);
  ensure_locked ();
  g_mutex_unlock (&lock);
  *n_devices = devices->len;
  return (const TernDevice *const *) devices->pdata;
}

const TernDevice *
tern_device_find (const char *name, GError **error)
{
  guint n;
  const TernDevice *const *all = tern_devices (&n);
  g_autoptr (GString) names = g_string_new (NULL);

  for (guint i = 0; i < n; i++)
    if (g_strcmp0 (all[i]->name, name) == 0)
      return all[i];
  for (guint i = 0; i < n; i++)
    g_string_append_printf (names, "%s%s", i > 0 ? ", " : "", all[i]->name);
  g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_INVALID, "unknown backend '%s' (the backends are: %s)",
               name, names->str);
  return NULL;
}

const char *
tern_device_feature (const TernDevice *device, const char *key)
{
  for (guint i = 0; i < device->n_features; i++)
    if (strcmp (device->features[i].key, key) == 0)
      return device->features[i].value;
  return NULL;
}

const char *
tern_device_kind_name (TernDeviceKind kind)
{
  static const char *const names[] = {
    [TERN_DEVICE_CPU] = "cpu",
    [TERN_DEVICE_INTEGRATED_GPU] = "integrated-gpu",
    [TERN_DEVICE_DISCRETE_GPU] = "discrete-gpu",
    [TERN_DEVICE_VIRTUAL_GPU] = "virtual-gpu",
    [TERN_DEVICE_OTHER] = "other",
  };

  g_return_val_if_fail ((guint) kind < G_N_ELEMENTS (names), "other");
  return names[kind];
}

TernBackend *
tern_backend_new (const char *name, const TernBackendParams *params, GError **error)
{
  const TernDevice *device = tern_device_find (name != NULL ? name : "cpu", error);

  if (device == NULL)
    return NULL;
  g_mutex_lock (&lock);
  const TernBackendClass *klass = NULL;
  for (guint i = 0; klass == NULL; i++)
    if (g_array_index (entries, Entry, i).device == device)
      klass = g_array_index (entries, Entry, i).klass;
  g_mutex_unlock (&lock);
  return klass->open (device, params, error);
}
