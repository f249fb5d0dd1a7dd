/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Vulkan devices: the process's instance, and each physical device with
 * the limits and features Tern's shaders depend on, read from the device
 * (none is assumed). Every device is listed, usable or not; the registry
 * opens one only by its name ("vulkan:0"). */
#include "backend/vulkan/vulkan-private.h"

#include <string.h>

/* The oldest Vulkan the backend runs on. */
#define API_VERSION VK_API_VERSION_1_2

enum {
  FEATURE_API, FEATURE_DRIVER, FEATURE_SUBGROUP, FEATURE_SHARED, FEATURE_STORAGE_RANGE, FEATURE_ALLOCATION,
  FEATURE_16BIT_STORAGE, FEATURE_FLOAT16, FEATURE_INT8, FEATURE_DOT_PRODUCT, FEATURE_HEAPS, FEATURE_BUDGET,
  FEATURE_USABLE, N_FEATURES
};

typedef struct {
  TernVkDevice vk;
  TernDeviceFeature features[N_FEATURES];
} VkListed;

static VkInstance instance = VK_NULL_HANDLE;

VkInstance
tern_vk_instance (void)
{
  return instance;
}

static VKAPI_ATTR VkBool32 VKAPI_CALL
validation_message (VkDebugUtilsMessageSeverityFlagBitsEXT severity, VkDebugUtilsMessageTypeFlagsEXT type,
                    const VkDebugUtilsMessengerCallbackDataEXT *data, void *user_data)
{
  g_critical ("Vulkan validation: %s", data->pMessage);
  return VK_FALSE;
}

static gboolean
has_layer (const char *name)
{
  guint32 n = 0;
  vkEnumerateInstanceLayerProperties (&n, NULL);
  g_autofree VkLayerProperties *layers = g_new0 (VkLayerProperties, MAX (n, 1));
  vkEnumerateInstanceLayerProperties (&n, layers);
  for (guint32 i = 0; i < n; i++)
    if (strcmp (layers[i].layerName, name) == 0)
      return TRUE;
  return FALSE;
}

/* Makes the instance; FALSE where there is no Vulkan 1.2 loader. */
static gboolean
make_instance (void)
{
  const char *layer = "VK_LAYER_KHRONOS_validation";
  const char *debug_ext = VK_EXT_DEBUG_UTILS_EXTENSION_NAME;
  gboolean validate = g_getenv ("TERN_VULKAN_VALIDATE") != NULL;
  guint32 version = 0;

  if (vkEnumerateInstanceVersion (&version) != VK_SUCCESS || version < API_VERSION)
    return FALSE;
  if (validate && !has_layer (layer))
    {
      g_warning ("TERN_VULKAN_VALIDATE is set but the Khronos validation layer is not installed");
      validate = FALSE;
    }

  VkDebugUtilsMessengerCreateInfoEXT messenger = {
    .sType = VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT,
    .messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT,
    .messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT
                   | VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT,
    .pfnUserCallback = validation_message,
  };
  VkApplicationInfo app = {
    .sType = VK_STRUCTURE_TYPE_APPLICATION_INFO,
    .pApplicationName = "Tern",
    .pEngineName = "Tern",
    .apiVersion = API_VERSION,
  };
  VkInstanceCreateInfo info = {
    .sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO,
    /* The messenger chained here also reports the instance's own making. */
    .pNext = validate ? &messenger : NULL,
    .pApplicationInfo = &app,
    .enabledLayerCount = validate ? 1 : 0,
    .ppEnabledLayerNames = &layer,
    .enabledExtensionCount = validate ? 1 : 0,
    .ppEnabledExtensionNames = &debug_ext,
  };
  if (vkCreateInstance (&info, NULL, &instance) != VK_SUCCESS)
    {
      instance = VK_NULL_HANDLE;
      return FALSE;
    }
  if (validate)
    {
      PFN_vkCreateDebugUtilsMessengerEXT create
        = (PFN_vkCreateDebugUtilsMessengerEXT) vkGetInstanceProcAddr (instance, "vkCreateDebugUtilsMessengerEXT");
      VkDebugUtilsMessengerEXT handle;
      if (create != NULL)
        create (instance, &messenger, NULL, &handle);
    }
  return TRUE;
}

static gboolean
has_extension (VkPhysicalDevice physical, const char *name)
{
  guint32 n = 0;
  vkEnumerateDeviceExtensionProperties (physical, NULL, &n, NULL);
  g_autofree VkExtensionProperties *exts = g_new0 (VkExtensionProperties, MAX (n, 1));
  vkEnumerateDeviceExtensionProperties (physical, NULL, &n, exts);
  for (guint32 i = 0; i < n; i++)
    if (strcmp (exts[i].extensionName, name) == 0)
      return TRUE;
  return FALSE;
}

static TernDeviceKind
device_kind (VkPhysicalDeviceType type)
{
  switch (type)
    {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU:
      return TERN_DEVICE_DISCRETE_GPU;
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU:
      return TERN_DEVICE_INTEGRATED_GPU;
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU:
      return TERN_DEVICE_VIRTUAL_GPU;
    case VK_PHYSICAL_DEVICE_TYPE_CPU:
      return TERN_DEVICE_CPU;
    default:
      return TERN_DEVICE_OTHER;
    }
}

static const char *
yes_no (gboolean b)
{
  return b ? "yes" : "no";
}

/* "device-local 8.0 GiB, host 31.3 GiB": each heap. */
static char *
heaps_text (const VkPhysicalDeviceMemoryProperties *m, guint64 *device_local)
{
  GString *s = g_string_new (NULL);

  *device_local = 0;
  for (guint32 i = 0; i < m->memoryHeapCount; i++)
    {
      gboolean local = (m->memoryHeaps[i].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT) != 0;
      if (local)
        *device_local += m->memoryHeaps[i].size;
      g_string_append_printf (s, "%s%s %.1f GiB", s->len > 0 ? ", " : "", local ? "device-local" : "host",
                              m->memoryHeaps[i].size / (1024.0 * 1024 * 1024));
    }
  return g_string_free (s, FALSE);
}

static void
describe (VkListed *l, guint index)
{
  TernVkDevice *vk = &l->vk;
  VkPhysicalDevice physical = vk->physical;
  VkPhysicalDeviceShaderIntegerDotProductProperties dot = {
    .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_INTEGER_DOT_PRODUCT_PROPERTIES };
  VkPhysicalDeviceSubgroupProperties subgroup = { .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES };
  VkPhysicalDeviceDriverProperties driver = { .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES,
                                              .pNext = &subgroup };
  VkPhysicalDeviceMaintenance3Properties maintenance = {
    .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MAINTENANCE_3_PROPERTIES, .pNext = &driver };
  VkPhysicalDeviceProperties2 props = { .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2,
                                        .pNext = &maintenance };
  VkPhysicalDeviceShaderIntegerDotProductFeatures dot_features = {
    .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_INTEGER_DOT_PRODUCT_FEATURES };
  VkPhysicalDeviceVulkan11Features f11 = { .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES };
  VkPhysicalDeviceVulkan12Features f12 = { .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES,
                                           .pNext = &f11 };
  VkPhysicalDeviceFeatures2 features = { .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2, .pNext = &f12 };
  guint64 device_local;

  vkGetPhysicalDeviceProperties (physical, &vk->props);
  /* The structures of an extension are chained only where the device has
   * it. */
  gboolean has_dot = has_extension (physical, VK_KHR_SHADER_INTEGER_DOT_PRODUCT_EXTENSION_NAME);
  if (has_dot)
    {
      subgroup.pNext = &dot;
      f11.pNext = &dot_features;
    }
  if (vk->props.apiVersion >= API_VERSION)
    {
      vkGetPhysicalDeviceProperties2 (physical, &props);
      vkGetPhysicalDeviceFeatures2 (physical, &features);
    }
  vk->int_dot = has_dot && dot_features.shaderIntegerDotProduct;
  vk->int_dot_fast = vk->int_dot && dot.integerDotProduct4x8BitPackedSignedAccelerated;
  vkGetPhysicalDeviceMemoryProperties (physical, &vk->memory);
  vk->subgroup_size = MAX (subgroup.subgroupSize, 1);
  vk->has_memory_budget = has_extension (physical, VK_EXT_MEMORY_BUDGET_EXTENSION_NAME);

  guint32 n_families = 0;
  vkGetPhysicalDeviceQueueFamilyProperties (physical, &n_families, NULL);
  g_autofree VkQueueFamilyProperties *families = g_new0 (VkQueueFamilyProperties, MAX (n_families, 1));
  vkGetPhysicalDeviceQueueFamilyProperties (physical, &n_families, families);
  vk->queue_family = G_MAXUINT32;
  for (guint32 i = 0; i < n_families && vk->queue_family == G_MAXUINT32; i++)
    if (families[i].queueFlags & VK_QUEUE_COMPUTE_BIT)
      vk->queue_family = i;

  if (vk->props.apiVersion < API_VERSION)
    vk->unusable = "it supports Vulkan 1.1 or older, and Tern needs 1.2";
  else if (vk->queue_family == G_MAXUINT32)
    vk->unusable = "it has no compute queue";
  else if (vk->props.limits.maxComputeSharedMemorySize < 32768)
    vk->unusable = "it has less than 32 KiB of shared memory";
  else if (!(subgroup.supportedStages & VK_SHADER_STAGE_COMPUTE_BIT)
           || !(subgroup.supportedOperations & VK_SUBGROUP_FEATURE_ARITHMETIC_BIT))
    vk->unusable = "its compute shaders lack subgroup arithmetic";

  const VkPhysicalDeviceLimits *lim = &vk->props.limits;
  guint32 v = vk->props.apiVersion;
  l->features[FEATURE_API] = (TernDeviceFeature) {
    "vulkan", g_strdup_printf ("%u.%u.%u", VK_API_VERSION_MAJOR (v), VK_API_VERSION_MINOR (v),
                               VK_API_VERSION_PATCH (v)) };
  l->features[FEATURE_DRIVER] = (TernDeviceFeature) {
    "driver", g_strdup_printf ("%s %s", driver.driverName, driver.driverInfo) };
  l->features[FEATURE_SUBGROUP] = (TernDeviceFeature) { "subgroup-size",
                                                        g_strdup_printf ("%u", vk->subgroup_size) };
  l->features[FEATURE_SHARED] = (TernDeviceFeature) { "shared-memory",
                                                      g_strdup_printf ("%u", lim->maxComputeSharedMemorySize) };
  l->features[FEATURE_STORAGE_RANGE] = (TernDeviceFeature) { "max-storage-buffer-range",
                                                             g_strdup_printf ("%u", lim->maxStorageBufferRange) };
  l->features[FEATURE_ALLOCATION] = (TernDeviceFeature) {
    "max-allocation-size", g_strdup_printf ("%" G_GUINT64_FORMAT, (guint64) maintenance.maxMemoryAllocationSize) };
  l->features[FEATURE_16BIT_STORAGE] = (TernDeviceFeature) { "16bit-storage",
                                                             yes_no (f11.storageBuffer16BitAccess) };
  l->features[FEATURE_FLOAT16] = (TernDeviceFeature) { "float16", yes_no (f12.shaderFloat16) };
  l->features[FEATURE_INT8] = (TernDeviceFeature) { "int8", yes_no (f12.shaderInt8) };
  l->features[FEATURE_DOT_PRODUCT] = (TernDeviceFeature) {
    "integer-dot-product", !vk->int_dot ? "no" : vk->int_dot_fast ? "yes (accelerated)" : "yes (not accelerated)" };
  l->features[FEATURE_HEAPS] = (TernDeviceFeature) { "memory-heaps", heaps_text (&vk->memory, &device_local) };
  l->features[FEATURE_BUDGET] = (TernDeviceFeature) { "memory-budget", yes_no (vk->has_memory_budget) };
  l->features[FEATURE_USABLE] = (TernDeviceFeature) {
    "usable", vk->unusable ? g_strdup_printf ("no: %s", vk->unusable) : "yes" };

  vk->device = (TernDevice) {
    .name = g_strdup_printf ("vulkan:%u", index),
    .backend = "vulkan",
    .description = g_strdup (vk->props.deviceName),
    .kind = device_kind (vk->props.deviceType),
    .memory = device_local,
    .features = l->features,
    .n_features = N_FEATURES,
  };
}

void
tern_backend_vulkan_enumerate (GPtrArray *devices)
{
  guint32 n = 0;

  if (!make_instance ())
    return;
  if (vkEnumeratePhysicalDevices (instance, &n, NULL) != VK_SUCCESS || n == 0)
    return;
  g_autofree VkPhysicalDevice *physical = g_new0 (VkPhysicalDevice, n);
  if (vkEnumeratePhysicalDevices (instance, &n, physical) < 0)
    return;
  for (guint32 i = 0; i < n; i++)
    {
      VkListed *l = g_new0 (VkListed, 1);
      l->vk.physical = physical[i];
      describe (l, i);
      g_ptr_array_add (devices, &l->vk.device);
    }
}
