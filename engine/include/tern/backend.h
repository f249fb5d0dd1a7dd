/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The compute devices Tern can run a model on, for choosing one: each
 * compute backend (the CPU now, Vulkan later) enumerates its devices, and
 * a device's name chooses it (TernContextParams.backend, tern-cli's
 * --backend, the "backend" setting). Names are the backend's name, alone
 * for a backend with one device ("cpu"), or followed by ":" and the
 * device's index for one with several ("vulkan:0", "vulkan:1"). The
 * backend's name alone ("vulkan") chooses its best GPU: a discrete one,
 * else an integrated one, else any other; a CPU-type device (lavapipe)
 * computes only when named.
 *
 * The list is made once, on first use, and never changes: devices and
 * everything they point to are static for the life of the process. Every
 * function here may be called from any thread. */

typedef enum {
  TERN_DEVICE_CPU,
  TERN_DEVICE_INTEGRATED_GPU,
  TERN_DEVICE_DISCRETE_GPU,
  TERN_DEVICE_VIRTUAL_GPU,
  TERN_DEVICE_OTHER,
} TernDeviceKind;

/* One property of a device, for people and scripts: for the CPU "kernels"
 * (the level of Tern's kernels it runs: scalar, avx2, avx512),
 * "kernel-levels" (every level it can run), "instruction-sets" (those of
 * the instruction sets Tern's kernels use that it has, space-separated),
 * "threads" (compute threads by default: one per physical core) and
 * "logical-cpus". */
typedef struct {
  const char *key;
  const char *value;
} TernDeviceFeature;

typedef struct {
  const char *name;         /* "cpu", "vulkan:0": what chooses it */
  const char *backend;      /* the backend that drives it: "cpu", "vulkan" */
  const char *description;  /* the processor's or the GPU's model name */
  TernDeviceKind kind;
  guint64 memory;           /* bytes it computes in: the RAM for the CPU, device-local
                             * memory for a GPU; 0 when unknown */
  const TernDeviceFeature *features;
  guint n_features;
} TernDevice;

/* The devices, the CPU first; sets *@n_devices. */
const TernDevice *const *tern_devices (guint *n_devices);

/* The device named @name (for a backend's bare name, the GPU it chooses),
 * or NULL with an INVALID error whose message lists the names there are. */
const TernDevice *tern_device_find (const char *name, GError **error);

/* Whether @name names a GPU, by index ("vulkan:3", of any backend) or by
 * its backend's name alone ("vulkan"), whether or not there is such a
 * device now: a context asked for one computes on the CPU where it cannot
 * be used. */
gboolean tern_device_name_is_gpu (const char *name);

/* The value of feature @key of @device, or NULL. */
const char *tern_device_feature (const TernDevice *device, const char *key);

/* "cpu", "integrated-gpu", "discrete-gpu", "virtual-gpu", "other". */
const char *tern_device_kind_name (TernDeviceKind kind);

G_END_DECLS
