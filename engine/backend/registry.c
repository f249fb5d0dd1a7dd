/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The registry of backends and their devices (tern/backend.h): the
 * built-in backends' devices, enumerated once, and the tests' additions. */
#include "backend/backend.h"
#include "backend/vulkan/vulkan-private.h"

#include <string.h>
#include <tern/error.h>

/* The built-in backends, in the order their devices are listed. */
static const TernBackendClass *const builtin[] = {
  &tern_backend_cpu_class,
  &tern_backend_vulkan_class,
};

/* A backend class and its devices, enumerated on first need: a program
 * that computes on the CPU never starts the Vulkan loader and driver. */
typedef struct {
  const TernBackendClass *klass;
  GPtrArray *devices; /* TernDevice *; NULL until enumerated */
} Entry;

static GMutex lock;
static GArray *entries;    /* Entry, in the order their devices are listed */
static GPtrArray *devices; /* every class's devices, for tern_devices */

static void
ensure_entries_locked (void)
{
  if (entries != NULL)
    return;
  entries = g_array_new (FALSE, FALSE, sizeof (Entry));
  for (guint i = 0; i < G_N_ELEMENTS (builtin); i++)
    {
      Entry e = { builtin[i], NULL };
      g_array_append_val (entries, e);
    }
}

static void
enumerate_locked (Entry *e)
{
  if (e->devices != NULL)
    return;
  e->devices = g_ptr_array_new ();
  e->klass->enumerate (e->devices);
}

void
tern_backend_register (const TernBackendClass *klass)
{
  Entry e = { klass, NULL };

  g_mutex_lock (&lock);
  ensure_entries_locked ();
  enumerate_locked (&e);
  g_array_append_val (entries, e);
  g_clear_pointer (&devices, g_ptr_array_unref);
  g_mutex_unlock (&lock);
}

const TernDevice *const *
tern_devices (guint *n_devices)
{
  g_mutex_lock (&lock);
  ensure_entries_locked ();
  if (devices == NULL)
    {
      devices = g_ptr_array_new ();
      for (guint i = 0; i < entries->len; i++)
        {
          Entry *e = &g_array_index (entries, Entry, i);
          enumerate_locked (e);
          for (guint j = 0; j < e->devices->len; j++)
            g_ptr_array_add (devices, e->devices->pdata[j]);
        }
    }
  g_mutex_unlock (&lock);
  *n_devices = devices->len;
  return (const TernDevice *const *) devices->pdata;
}

/* How much a bare backend name ("vulkan") prefers a device of @kind: a
 * discrete GPU, then an integrated one, then any other; never a CPU-type
 * device such as lavapipe, which computes only when named ("vulkan:0"). */
static int
kind_rank (TernDeviceKind kind)
{
  switch (kind)
    {
    case TERN_DEVICE_DISCRETE_GPU:
      return 3;
    case TERN_DEVICE_INTEGRATED_GPU:
      return 2;
    case TERN_DEVICE_VIRTUAL_GPU:
    case TERN_DEVICE_OTHER:
      return 1;
    case TERN_DEVICE_CPU:
    default:
      return 0;
    }
}

/* The device a bare backend name chooses among @devices: the first of the
 * most preferred kind that can be used; NULL when none is a GPU. */
static const TernDevice *
choose (GPtrArray *list)
{
  const TernDevice *best = NULL;

  for (guint i = 0; i < list->len; i++)
    {
      const TernDevice *d = list->pdata[i];
      const char *usable = tern_device_feature (d, "usable");
      if (kind_rank (d->kind) > (best ? kind_rank (best->kind) : 0) && (usable == NULL || strcmp (usable, "yes") == 0))
        best = d;
    }
  return best;
}

/* The class whose name @name is, alone or before ":"; NULL when none. */
static Entry *
entry_locked (const char *name)
{
  ensure_entries_locked ();
  for (guint i = 0; i < entries->len; i++)
    {
      Entry *e = &g_array_index (entries, Entry, i);
      gsize len = strlen (e->klass->name);
      if (strncmp (name, e->klass->name, len) == 0 && (name[len] == '\0' || name[len] == ':'))
        return e;
    }
  return NULL;
}

/* The device named @name and its class, enumerating only the class that
 * the name belongs to ("vulkan:1" → vulkan); a class's bare name chooses
 * its best GPU. NULL when there is none. */
static const TernDevice *
find_locked (const char *name, const TernBackendClass **klass)
{
  Entry *e = entry_locked (name);
  const TernDevice *device = NULL;

  if (e == NULL)
    return NULL;
  enumerate_locked (e);
  for (guint j = 0; j < e->devices->len && device == NULL; j++)
    if (strcmp (((const TernDevice *) e->devices->pdata[j])->name, name) == 0)
      device = e->devices->pdata[j];
  if (device == NULL && e->klass->gpus && strcmp (name, e->klass->name) == 0)
    device = choose (e->devices);
  *klass = e->klass;
  return device;
}

const TernDevice *
tern_device_find (const char *name, GError **error)
{
  const TernBackendClass *klass;
  guint n;

  g_mutex_lock (&lock);
  const TernDevice *device = find_locked (name, &klass);
  Entry *e = entry_locked (name);
  gboolean bare = device == NULL && e != NULL && e->klass->gpus && strchr (name, ':') == NULL;
  g_mutex_unlock (&lock);
  if (device != NULL)
    return device;

  const TernDevice *const *all = tern_devices (&n);
  g_autoptr (GString) names = g_string_new (NULL);
  for (guint i = 0; i < n; i++)
    g_string_append_printf (names, "%s%s", i > 0 ? ", " : "", all[i]->name);
  if (bare)
    g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_INVALID,
                 "'%s' found no GPU it can use; a CPU-type device such as llvmpipe computes only when named "
                 "(the backends are: %s)", name, names->str);
  else
    g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_INVALID, "unknown backend '%s' (the backends are: %s)",
                 name, names->str);
  return NULL;
}

gboolean
tern_device_name_is_gpu (const char *name)
{
  if (strchr (name, ':') != NULL)
    return TRUE;
  g_mutex_lock (&lock);
  Entry *e = entry_locked (name);
  gboolean gpus = e != NULL && e->klass->gpus;
  g_mutex_unlock (&lock);
  return gpus;
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
  const TernBackendClass *klass = NULL;

  if (tern_device_find (name != NULL ? name : "cpu", error) == NULL)
    return NULL;
  g_mutex_lock (&lock);
  const TernDevice *device = find_locked (name != NULL ? name : "cpu", &klass);
  g_mutex_unlock (&lock);
  return klass->open (device, params, error);
}
