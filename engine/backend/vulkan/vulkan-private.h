/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/* What the Vulkan backend's files share: its devices as the registry lists
 * them (device-vulkan.c), with the facts the backend sizes its work by. */

#include <vulkan/vulkan.h>
#include "backend/backend.h"

G_BEGIN_DECLS

typedef struct {
  TernDevice device;         /* what the registry lists: first, so that a
                              * TernDevice * of this backend is one of these */
  VkPhysicalDevice physical;
  VkPhysicalDeviceProperties props;
  VkPhysicalDeviceMemoryProperties memory;
  guint32 queue_family;      /* one with compute */
  guint32 subgroup_size;
  gboolean has_memory_budget; /* VK_EXT_memory_budget */
  /* Integer dot products of four packed signed bytes (VK_KHR_shader_integer_dot_product),
   * and whether the device says they are faster than the same arithmetic
   * done otherwise. */
  gboolean int_dot, int_dot_fast;
  /* NULL when the device can run Tern's shaders, or why it cannot. */
  const char *unusable;
} TernVkDevice;

/* The process's Vulkan instance, made by the first enumeration (with the
 * Khronos validation layer when TERN_VULKAN_VALIDATE is set: each message
 * it reports is a g_critical); VK_NULL_HANDLE where there is no Vulkan. */
VkInstance tern_vk_instance (void);

/* The compiled shaders (shaders/, glib-compile-resources): SPIR-V under
 * /org/tern/shaders/NAME.spv. */
GResource *tern_shaders_get_resource (void);

/* The Vulkan backend (backend-vulkan.c) and its devices (device-vulkan.c). */
extern const TernBackendClass tern_backend_vulkan_class;
void tern_backend_vulkan_enumerate (GPtrArray *devices);
TernBackend *tern_backend_vulkan_open (const TernDevice *device, const TernBackendParams *params, GError **error);

/* How many copies between host and device memory backend @b (a Vulkan
 * one) made since it was opened, and their bytes: read, write, kv_save
 * and kv_load, and the uploads of weights. For tests. */
void tern_backend_vulkan_transfers (TernBackend *b, guint64 *n_transfers, guint64 *bytes);
/* How many passes backend @b (a Vulkan one) wrote into its command buffer,
 * and how many ran the one recorded before as it was; and whether passes
 * may do that (TRUE from the start), for tests that compare with and
 * without. */
void tern_backend_vulkan_passes (TernBackend *b, guint64 *n_recorded, guint64 *n_reused);
void tern_backend_vulkan_set_reuse (TernBackend *b, gboolean reuse);
/* Makes the matrix products of backend @b (a Vulkan one) take their
 * integer path (integer dot products), where their weight's type has one,
 * or the float path; FALSE, changing nothing, when the device has no
 * integer dot products. The backend takes the integer path from the start
 * where the device has them. */
gboolean tern_backend_vulkan_set_int_dot (TernBackend *b, gboolean int_dot);

G_END_DECLS
