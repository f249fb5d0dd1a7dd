/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The Vulkan backend's machinery (vulkan-runtime.h): device, memory,
 * pipelines, and passes recorded into one command buffer. */
#include "backend/vulkan/vulkan-runtime.h"

#include <string.h>
#include <tern/error.h>

/* Descriptor sets per pool: a pass of a large model records a few
 * thousand dispatches, and pools are added as they fill. */
#define SETS_PER_POOL 1024

gboolean
tern_vk_failed (TernVkRuntime *rt, GError **error)
{
  if (rt->failure == NULL)
    return FALSE;
  if (error != NULL)
    *error = g_error_copy (rt->failure);
  return TRUE;
}

gboolean
tern_vk_check (TernVkRuntime *rt, VkResult result, const char *what)
{
  if (result == VK_SUCCESS)
    return TRUE;
  if (rt->failure != NULL)
    return FALSE;
  switch (result)
    {
    case VK_ERROR_OUT_OF_DEVICE_MEMORY:
    case VK_ERROR_OUT_OF_HOST_MEMORY:
    case VK_ERROR_OUT_OF_POOL_MEMORY:
      rt->failure = g_error_new (TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_NOMEM, "the GPU (%s) ran out of memory (%s)",
                                 rt->dev->device.description, what);
      break;
    case VK_ERROR_DEVICE_LOST:
      rt->failure = g_error_new (TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_DEVICE,
                                 "the GPU (%s) stopped working (device lost, %s)", rt->dev->device.description, what);
      break;
    default:
      rt->failure = g_error_new (TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_DEVICE,
                                 "the GPU (%s) refused to %s (Vulkan error %d)", rt->dev->device.description, what,
                                 (int) result);
      break;
    }
  return FALSE;
}

/* ---- Memory ---- */

/* The memory type for @bits with @want's properties, preferring @prefer's
 * too; G_MAXUINT32 when none fits. */
static guint32
memory_type (const TernVkDevice *dev, guint32 bits, VkMemoryPropertyFlags want, VkMemoryPropertyFlags prefer)
{
  const VkPhysicalDeviceMemoryProperties *m = &dev->memory;

  for (guint pass = 0; pass < 2; pass++)
    for (guint32 i = 0; i < m->memoryTypeCount; i++)
      {
        VkMemoryPropertyFlags f = m->memoryTypes[i].propertyFlags, need = pass == 0 ? want | prefer : want;
        if ((bits & (1u << i)) && (f & need) == need)
          return i;
      }
  return G_MAXUINT32;
}

gboolean
tern_vk_mem_new (TernVkRuntime *rt, VkDeviceSize size, gboolean host_visible, TernVkMem *mem)
{
  VkMemoryRequirements req;
  const VkMemoryPropertyFlags visible = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;

  *mem = (TernVkMem) { 0 };
  if (rt->failure != NULL)
    return FALSE;
  VkBufferCreateInfo info = {
    .sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO,
    /* Shaders read whole words and quads: a tensor of 270 bytes is read to
     * 272, and through its quad view to 288. */
    .size = MAX ((size + 15) / 16 * 16, 16),
    .usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT
             | VK_BUFFER_USAGE_TRANSFER_DST_BIT | VK_BUFFER_USAGE_UNIFORM_TEXEL_BUFFER_BIT
             | VK_BUFFER_USAGE_INDIRECT_BUFFER_BIT,
    .sharingMode = VK_SHARING_MODE_EXCLUSIVE,
  };
  if (!tern_vk_check (rt, vkCreateBuffer (rt->device, &info, NULL, &mem->buffer), "make a buffer"))
    return FALSE;
  vkGetBufferMemoryRequirements (rt->device, mem->buffer, &req);
  /* Where the GPU shares the host's memory (integrated GPUs, lavapipe),
   * device-local memory the host sees needs no staging. A discrete GPU's
   * host-visible device memory is a small window: not for weights. */
  gboolean unified = rt->dev->props.deviceType != VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU;
  guint32 type = host_visible ? memory_type (rt->dev, req.memoryTypeBits, visible, 0)
                              : memory_type (rt->dev, req.memoryTypeBits, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT,
                                             unified ? VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT : 0);
  if (type == G_MAXUINT32)
    type = memory_type (rt->dev, req.memoryTypeBits, 0, 0);
  VkMemoryAllocateInfo alloc = {
    .sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO,
    .allocationSize = req.size,
    .memoryTypeIndex = type,
  };
  rt->n_allocs++;
  VkResult r = rt->fail_alloc != 0 && rt->n_allocs >= rt->fail_alloc
                 ? VK_ERROR_OUT_OF_DEVICE_MEMORY
                 : vkAllocateMemory (rt->device, &alloc, NULL, &mem->memory);
  if (!tern_vk_check (rt, r, "allocate memory"))
    {
      mem->memory = VK_NULL_HANDLE;
      tern_vk_mem_free (rt, mem);
      return FALSE;
    }
  if (!tern_vk_check (rt, vkBindBufferMemory (rt->device, mem->buffer, mem->memory, 0), "bind memory"))
    {
      tern_vk_mem_free (rt, mem);
      return FALSE;
    }
  static const struct {
    VkFormat format;
    VkDeviceSize size;
  } texels[] = { [TERN_VK_VIEW_WORDS] = { VK_FORMAT_R32_UINT, 4 }, [TERN_VK_VIEW_QUADS] = { VK_FORMAT_R32G32B32A32_UINT, 16 } };
  for (guint v = 0; v < G_N_ELEMENTS (texels); v++)
    if (info.size / texels[v].size <= rt->dev->props.limits.maxTexelBufferElements)
      {
        VkBufferViewCreateInfo view = { .sType = VK_STRUCTURE_TYPE_BUFFER_VIEW_CREATE_INFO, .buffer = mem->buffer,
                                        .format = texels[v].format, .offset = 0, .range = VK_WHOLE_SIZE };
        if (!tern_vk_check (rt, vkCreateBufferView (rt->device, &view, NULL, &mem->views[v]), "make a view"))
          {
            tern_vk_mem_free (rt, mem);
            return FALSE;
          }
      }
  VkMemoryPropertyFlags flags = rt->dev->memory.memoryTypes[type].propertyFlags;
  if (flags & VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT)
    {
      void *map;
      if (!tern_vk_check (rt, vkMapMemory (rt->device, mem->memory, 0, VK_WHOLE_SIZE, 0, &map), "map memory"))
        {
          tern_vk_mem_free (rt, mem);
          return FALSE;
        }
      mem->map = map;
      mem->coherent = (flags & VK_MEMORY_PROPERTY_HOST_COHERENT_BIT) != 0;
    }
  mem->size = size;
  return TRUE;
}

/* One command of a pass, zeroed before it is filled in so that two of
 * them compare with memcmp: a dispatch (direct, or over the counts in
 * @indirect), or a copy (@pipeline VK_NULL_HANDLE). */
typedef struct {
  VkPipeline pipeline;
  VkDescriptorBufferInfo buffers[TERN_VK_MAX_BINDINGS];
  VkBufferView views[TERN_VK_TEXEL_BINDINGS];
  guint8 push[TERN_VK_PUSH_BYTES];
  guint32 groups[3];
  VkDescriptorBufferInfo indirect;
  VkBuffer src, dst;
  VkBufferCopy region;
} Command;

/* Whether the command buffer, as recorded, reads or writes @buffer. */
static gboolean
recorded_uses (const TernVkRuntime *rt, VkBuffer buffer)
{
  for (guint i = 0; rt->cmd_ready && i < rt->recorded->len; i++)
    {
      const Command *c = &g_array_index (rt->recorded, Command, i);
      if (c->src == buffer || c->dst == buffer || c->indirect.buffer == buffer)
        return TRUE;
      for (guint b = 0; b < TERN_VK_MAX_BINDINGS; b++)
        if (c->buffers[b].buffer == buffer)
          return TRUE;
    }
  return FALSE;
}

void
tern_vk_mem_free (TernVkRuntime *rt, TernVkMem *mem)
{
  /* Another buffer may get its handle: the command buffer must not run
   * as recorded with it. */
  if (mem->buffer != VK_NULL_HANDLE && recorded_uses (rt, mem->buffer))
    rt->cmd_ready = FALSE;
  for (guint v = 0; v < G_N_ELEMENTS (mem->views); v++)
    if (mem->views[v] != VK_NULL_HANDLE)
      vkDestroyBufferView (rt->device, mem->views[v], NULL);
  if (mem->buffer != VK_NULL_HANDLE)
    vkDestroyBuffer (rt->device, mem->buffer, NULL);
  if (mem->memory != VK_NULL_HANDLE)
    vkFreeMemory (rt->device, mem->memory, NULL);
  *mem = (TernVkMem) { 0 };
}

gboolean
tern_vk_wait (TernVkRuntime *rt)
{
  if (!rt->in_flight)
    return rt->failure == NULL;
  rt->in_flight = FALSE;
  VkResult r = vkWaitForFences (rt->device, 1, &rt->fence, VK_TRUE, G_MAXUINT64);
  if (r == VK_SUCCESS && rt->lose_after_submits != 0 && rt->n_submits >= rt->lose_after_submits)
    r = VK_ERROR_DEVICE_LOST;
  return tern_vk_check (rt, r, "finish its work");
}

/* Runs @src → @dst copies on a command buffer of their own, and waits. */
static gboolean
copy_now (TernVkRuntime *rt, VkBuffer src, VkDeviceSize src_offset, VkBuffer dst, VkDeviceSize dst_offset,
          VkDeviceSize size)
{
  VkCommandBufferAllocateInfo alloc = {
    .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
    .commandPool = rt->cmd_pool,
    .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
    .commandBufferCount = 1,
  };
  VkCommandBuffer cmd;
  VkCommandBufferBeginInfo begin = { .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
                                     .flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT };
  VkBufferCopy region = { src_offset, dst_offset, size };

  if (!tern_vk_check (rt, vkAllocateCommandBuffers (rt->device, &alloc, &cmd), "record a copy"))
    return FALSE;
  vkBeginCommandBuffer (cmd, &begin);
  vkCmdCopyBuffer (cmd, src, dst, 1, &region);
  VkMemoryBarrier barrier = { .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
                              .srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT,
                              .dstAccessMask = VK_ACCESS_HOST_READ_BIT | VK_ACCESS_SHADER_READ_BIT };
  vkCmdPipelineBarrier (cmd, VK_PIPELINE_STAGE_TRANSFER_BIT,
                        VK_PIPELINE_STAGE_HOST_BIT | VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, 0, 1, &barrier, 0, NULL,
                        0, NULL);
  gboolean ok = tern_vk_check (rt, vkEndCommandBuffer (cmd), "record a copy");
  VkSubmitInfo submit = { .sType = VK_STRUCTURE_TYPE_SUBMIT_INFO, .commandBufferCount = 1, .pCommandBuffers = &cmd };
  ok = ok && tern_vk_check (rt, vkResetFences (rt->device, 1, &rt->fence), "reset a fence")
       && tern_vk_check (rt, vkQueueSubmit (rt->queue, 1, &submit, rt->fence), "copy");
  if (ok)
    {
      rt->in_flight = TRUE;
      ok = tern_vk_wait (rt);
    }
  vkFreeCommandBuffers (rt->device, rt->cmd_pool, 1, &cmd);
  return ok;
}

/* Copies between host and device memory in one direction. */
static gboolean
transfer (TernVkRuntime *rt, const TernVkMem *mem, VkDeviceSize offset, guint8 *host, VkDeviceSize size,
          gboolean to_device)
{
  /* While a pass is recorded only to upload a swapped weight: the last
   * pass is done (tern_vk_begin waited for it). */
  g_assert (offset + size <= mem->size);
  if (!tern_vk_wait (rt))
    return FALSE;
  rt->transfer_bytes += size;
  rt->n_transfers++;
  if (mem->map != NULL)
    {
      VkMappedMemoryRange range = { .sType = VK_STRUCTURE_TYPE_MAPPED_MEMORY_RANGE, .memory = mem->memory,
                                    .offset = 0, .size = VK_WHOLE_SIZE };
      if (to_device)
        {
          memcpy (mem->map + offset, host, size);
          return mem->coherent || tern_vk_check (rt, vkFlushMappedMemoryRanges (rt->device, 1, &range), "flush");
        }
      if (!mem->coherent && !tern_vk_check (rt, vkInvalidateMappedMemoryRanges (rt->device, 1, &range), "read"))
        return FALSE;
      memcpy (host, mem->map + offset, size);
      return TRUE;
    }

  TernVkMem staging;
  if (!tern_vk_mem_new (rt, size, TRUE, &staging))
    return FALSE;
  gboolean ok;
  if (to_device)
    {
      memcpy (staging.map, host, size);
      ok = copy_now (rt, staging.buffer, 0, mem->buffer, offset, size);
    }
  else
    {
      ok = copy_now (rt, mem->buffer, offset, staging.buffer, 0, size);
      if (ok)
        memcpy (host, staging.map, size);
    }
  tern_vk_mem_free (rt, &staging);
  return ok;
}

gboolean
tern_vk_upload (TernVkRuntime *rt, const TernVkMem *mem, VkDeviceSize offset, const void *src, VkDeviceSize size)
{
  return transfer (rt, mem, offset, (guint8 *) src, size, TRUE);
}

gboolean
tern_vk_download (TernVkRuntime *rt, const TernVkMem *mem, VkDeviceSize offset, void *dst, VkDeviceSize size)
{
  return transfer (rt, mem, offset, dst, size, FALSE);
}

/* ---- Pipelines ---- */

static VkPipeline
pipeline (TernVkRuntime *rt, const char *name, guint32 workgroup, guint32 spec1)
{
  g_autofree char *key = g_strdup_printf ("%s/%u/%u", name, workgroup, spec1);
  VkPipeline p = g_hash_table_lookup (rt->pipelines, key);

  if (p != VK_NULL_HANDLE)
    return p;
  g_autofree char *path = g_strdup_printf ("/org/tern/shaders/%s.spv", name);
  g_autoptr (GBytes) code = g_resource_lookup_data (tern_shaders_get_resource (), path, 0, NULL);
  g_assert (code != NULL); /* every name the backend uses is compiled */
  gsize size;
  const guint32 *words = g_bytes_get_data (code, &size);
  VkShaderModuleCreateInfo module_info = { .sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO,
                                           .codeSize = size, .pCode = words };
  VkShaderModule module;
  if (!tern_vk_check (rt, vkCreateShaderModule (rt->device, &module_info, NULL, &module), "load a shader"))
    return VK_NULL_HANDLE;
  /* Constants a shader does not declare are ignored. */
  const guint32 values[] = { workgroup, spec1 };
  VkSpecializationMapEntry entries[] = { { 0, 0, sizeof (guint32) }, { 1, sizeof (guint32), sizeof (guint32) } };
  VkSpecializationInfo spec = { 2, entries, sizeof values, values };
  VkComputePipelineCreateInfo info = {
    .sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO,
    .stage = { .sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO,
               .stage = VK_SHADER_STAGE_COMPUTE_BIT, .module = module, .pName = "main",
               .pSpecializationInfo = &spec },
    .layout = rt->layout,
  };
  VkResult r = vkCreateComputePipelines (rt->device, VK_NULL_HANDLE, 1, &info, NULL, &p);
  vkDestroyShaderModule (rt->device, module, NULL);
  if (!tern_vk_check (rt, r, "compile a shader"))
    return VK_NULL_HANDLE;
  g_hash_table_insert (rt->pipelines, g_steal_pointer (&key), p);
  return p;
}

/* ---- Passes ---- */

static gboolean
add_pool (TernVkRuntime *rt)
{
  VkDescriptorPoolSize sizes[] = {
    { VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, SETS_PER_POOL * TERN_VK_MAX_BINDINGS },
    { VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER, SETS_PER_POOL * TERN_VK_TEXEL_BINDINGS },
  };
  VkDescriptorPoolCreateInfo info = {
    .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO,
    .maxSets = SETS_PER_POOL,
    .poolSizeCount = G_N_ELEMENTS (sizes),
    .pPoolSizes = sizes,
  };
  VkDescriptorPool pool;

  if (!tern_vk_check (rt, vkCreateDescriptorPool (rt->device, &info, NULL, &pool), "make a descriptor pool"))
    return FALSE;
  g_array_append_val (rt->pools, pool);
  return TRUE;
}

void
tern_vk_begin (TernVkRuntime *rt)
{
  g_assert (!rt->recording);
  rt->recording = TRUE;
  g_array_set_size (rt->commands, 0);
  /* What the host writes for the pass must not change the last one's
   * inputs while it runs. */
  tern_vk_wait (rt);
}

static void
barrier (TernVkRuntime *rt)
{
  VkMemoryBarrier b = {
    .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
    .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT,
    .dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_READ_BIT
                     | VK_ACCESS_TRANSFER_WRITE_BIT,
  };
  VkPipelineStageFlags stages = VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT;

  vkCmdPipelineBarrier (rt->cmd, stages, stages, 0, 1, &b, 0, NULL, 0, NULL);
}

static VkDescriptorSet
descriptor_set (TernVkRuntime *rt)
{
  VkDescriptorSet set = VK_NULL_HANDLE;

  for (;;)
    {
      if (rt->pool == rt->pools->len && !add_pool (rt))
        return VK_NULL_HANDLE;
      VkDescriptorSetAllocateInfo info = {
        .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO,
        .descriptorPool = g_array_index (rt->pools, VkDescriptorPool, rt->pool),
        .descriptorSetCount = 1,
        .pSetLayouts = &rt->set_layout,
      };
      VkResult r = vkAllocateDescriptorSets (rt->device, &info, &set);
      if (r == VK_SUCCESS)
        return set;
      if (r != VK_ERROR_OUT_OF_POOL_MEMORY && r != VK_ERROR_FRAGMENTED_POOL)
        {
          tern_vk_check (rt, r, "allocate descriptors");
          return VK_NULL_HANDLE;
        }
      rt->pool++;
    }
}

/* Writes dispatch @c into the command buffer, with a descriptor set of its
 * own; FALSE with the failure stored. */
static gboolean
record_dispatch (TernVkRuntime *rt, const Command *c)
{
  VkWriteDescriptorSet writes[TERN_VK_MAX_BINDINGS + TERN_VK_TEXEL_BINDINGS];
  VkDescriptorSet set = descriptor_set (rt);

  if (set == VK_NULL_HANDLE)
    return FALSE;
  for (guint i = 0; i < G_N_ELEMENTS (writes); i++)
    {
      gboolean texel = i >= TERN_VK_MAX_BINDINGS;
      writes[i] = (VkWriteDescriptorSet) {
        .sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET,
        .dstSet = set,
        .dstBinding = i,
        .descriptorCount = 1,
        .descriptorType = texel ? VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER : VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
        .pBufferInfo = texel ? NULL : &c->buffers[i],
        .pTexelBufferView = texel ? &c->views[i - TERN_VK_MAX_BINDINGS] : NULL,
      };
    }
  vkUpdateDescriptorSets (rt->device, G_N_ELEMENTS (writes), writes, 0, NULL);
  vkCmdBindPipeline (rt->cmd, VK_PIPELINE_BIND_POINT_COMPUTE, c->pipeline);
  vkCmdBindDescriptorSets (rt->cmd, VK_PIPELINE_BIND_POINT_COMPUTE, rt->layout, 0, 1, &set, 0, NULL);
  vkCmdPushConstants (rt->cmd, rt->layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, TERN_VK_PUSH_BYTES, c->push);
  if (c->indirect.buffer != VK_NULL_HANDLE)
    vkCmdDispatchIndirect (rt->cmd, c->indirect.buffer, c->indirect.offset);
  else
    vkCmdDispatch (rt->cmd, c->groups[0], c->groups[1], c->groups[2]);
  return TRUE;
}

/* Writes the pass's commands into the command buffer, in place of what it
 * held (the last pass is done: begin waited for it). */
static gboolean
record (TernVkRuntime *rt)
{
  VkCommandBufferBeginInfo begin = { .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO };

  rt->cmd_ready = FALSE;
  for (guint i = 0; i < rt->pools->len; i++)
    vkResetDescriptorPool (rt->device, g_array_index (rt->pools, VkDescriptorPool, i), 0);
  rt->pool = 0;
  if (!tern_vk_check (rt, vkResetCommandBuffer (rt->cmd, 0), "reset a command buffer")
      || !tern_vk_check (rt, vkBeginCommandBuffer (rt->cmd, &begin), "record commands"))
    return FALSE;
  for (guint i = 0; i < rt->commands->len; i++)
    {
      const Command *c = &g_array_index (rt->commands, Command, i);
      if (c->pipeline != VK_NULL_HANDLE && !record_dispatch (rt, c))
        return FALSE;
      if (c->pipeline == VK_NULL_HANDLE)
        vkCmdCopyBuffer (rt->cmd, c->src, c->dst, 1, &c->region);
      barrier (rt);
    }
  /* What the pass wrote is visible to the host's reads of mapped memory. */
  VkMemoryBarrier barrier = { .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
                              .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT,
                              .dstAccessMask = VK_ACCESS_HOST_READ_BIT };
  vkCmdPipelineBarrier (rt->cmd, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
                        VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &barrier, 0, NULL, 0, NULL);
  if (!tern_vk_check (rt, vkEndCommandBuffer (rt->cmd), "record commands"))
    return FALSE;
  g_array_set_size (rt->recorded, 0);
  g_array_append_vals (rt->recorded, rt->commands->data, rt->commands->len);
  rt->cmd_ready = TRUE;
  rt->n_recorded++;
  return TRUE;
}

gboolean
tern_vk_submit (TernVkRuntime *rt, gboolean run, GError **error)
{
  g_assert (rt->recording);
  rt->recording = FALSE;
  if (rt->failure != NULL)
    return tern_vk_failed (rt, error) && FALSE;
  if (!run)
    return TRUE;
  gboolean same = rt->reuse && rt->cmd_ready && rt->recorded->len == rt->commands->len
                  && memcmp (rt->recorded->data, rt->commands->data, rt->commands->len * sizeof (Command)) == 0;
  if (same)
    rt->n_reused++;
  else if (!record (rt))
    return tern_vk_failed (rt, error) && FALSE;
  VkSubmitInfo submit = { .sType = VK_STRUCTURE_TYPE_SUBMIT_INFO, .commandBufferCount = 1,
                          .pCommandBuffers = &rt->cmd };
  if (!tern_vk_check (rt, vkResetFences (rt->device, 1, &rt->fence), "reset a fence")
      || !tern_vk_check (rt, vkQueueSubmit (rt->queue, 1, &submit, rt->fence), "run a pass"))
    return tern_vk_failed (rt, error) && FALSE;
  rt->in_flight = TRUE;
  rt->n_submits++;
  return TRUE;
}

static VkDescriptorBufferInfo
buffer_info (const TernVkRuntime *rt, const TernVkBind *bind)
{
  if (bind == NULL || bind->mem == NULL || bind->mem->buffer == VK_NULL_HANDLE)
    return (VkDescriptorBufferInfo) { rt->dummy.buffer, 0, VK_WHOLE_SIZE };
  return (VkDescriptorBufferInfo) { bind->mem->buffer, bind->offset, bind->range };
}

/* Adds a dispatch to the pass; FALSE (nothing added) once a failure is
 * stored. */
static gboolean
add_dispatch (TernVkRuntime *rt, const char *name, guint32 workgroup, guint32 spec1, const TernVkBind *binds,
              guint n_binds, const void *push, gsize push_size, Command *c)
{
  g_assert (rt->recording && n_binds <= TERN_VK_MAX_BINDINGS && push_size <= TERN_VK_PUSH_BYTES);
  if (rt->failure != NULL)
    return FALSE;
  c->pipeline = pipeline (rt, name, workgroup, spec1);
  if (c->pipeline == VK_NULL_HANDLE)
    return FALSE;
  for (guint i = 0; i < TERN_VK_MAX_BINDINGS; i++)
    c->buffers[i] = buffer_info (rt, i < n_binds ? &binds[i] : NULL);
  for (guint i = 0; i < TERN_VK_TEXEL_BINDINGS; i++)
    {
      guint b = i % 2, v = i / 2;
      c->views[i] = n_binds > b && binds[b].mem != NULL && binds[b].mem->views[v] != VK_NULL_HANDLE
                      ? binds[b].mem->views[v]
                      : rt->dummy.views[v];
    }
  memcpy (c->push, push, push_size);
  g_array_append_vals (rt->commands, c, 1);
  return TRUE;
}

void
tern_vk_dispatch (TernVkRuntime *rt, const char *name, guint32 workgroup, guint32 spec1, const TernVkBind *binds,
                  guint n_binds, const void *push, gsize push_size, guint32 gx, guint32 gy, guint32 gz)
{
  Command c = { 0 };

  if (gx == 0 || gy == 0 || gz == 0)
    return;
  c.groups[0] = gx;
  c.groups[1] = gy;
  c.groups[2] = gz;
  add_dispatch (rt, name, workgroup, spec1, binds, n_binds, push, push_size, &c);
}

void
tern_vk_dispatch_indirect (TernVkRuntime *rt, const char *name, guint32 workgroup, guint32 spec1,
                           const TernVkBind *binds, guint n_binds, const void *push, gsize push_size,
                           TernVkBind groups)
{
  Command c = { 0 };

  g_assert (groups.mem == NULL || groups.offset % 4 == 0);
  if (groups.mem == NULL)
    return;
  c.indirect = buffer_info (rt, &groups);
  add_dispatch (rt, name, workgroup, spec1, binds, n_binds, push, push_size, &c);
}

void
tern_vk_copy (TernVkRuntime *rt, const TernVkMem *src, VkDeviceSize src_offset, const TernVkMem *dst,
              VkDeviceSize dst_offset, VkDeviceSize size)
{
  Command c = { 0 };

  g_assert (rt->recording);
  if (rt->failure != NULL || size == 0)
    return;
  c.src = src->buffer;
  c.dst = dst->buffer;
  c.region = (VkBufferCopy) { src_offset, dst_offset, size };
  g_array_append_vals (rt->commands, &c, 1);
}

/* ---- The runtime ---- */

/* Faults tests ask for: TERN_VULKAN_INJECT=alloc=N fails the Nth memory
 * allocation (and those after it) as out of device memory; lost=N loses
 * the device once the Nth pass has been submitted. */
static void
inject_faults (TernVkRuntime *rt)
{
  const char *inject = g_getenv ("TERN_VULKAN_INJECT");
  guint64 n;

  if (inject == NULL)
    return;
  if (g_str_has_prefix (inject, "alloc=") && g_ascii_string_to_unsigned (inject + 6, 10, 1, G_MAXUINT, &n, NULL))
    rt->fail_alloc = n;
  else if (g_str_has_prefix (inject, "lost=") && g_ascii_string_to_unsigned (inject + 5, 10, 1, G_MAXUINT, &n, NULL))
    rt->lose_after_submits = n;
  else
    g_warning ("TERN_VULKAN_INJECT=%s is neither alloc=N nor lost=N", inject);
}

TernVkRuntime *
tern_vk_runtime_new (const TernVkDevice *dev, GError **error)
{
  float priority = 1.0f;
  VkDeviceQueueCreateInfo queue = {
    .sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO,
    .queueFamilyIndex = dev->queue_family,
    .queueCount = 1,
    .pQueuePriorities = &priority,
  };
  /* Integer dot products, for the matrix products' integer path. */
  const char *dot_extension = VK_KHR_SHADER_INTEGER_DOT_PRODUCT_EXTENSION_NAME;
  VkPhysicalDeviceShaderIntegerDotProductFeatures dot = {
    .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_INTEGER_DOT_PRODUCT_FEATURES,
    .shaderIntegerDotProduct = VK_TRUE,
  };
  VkDeviceCreateInfo info = {
    .sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO,
    .pNext = dev->int_dot ? &dot : NULL,
    .queueCreateInfoCount = 1,
    .pQueueCreateInfos = &queue,
    .enabledExtensionCount = dev->int_dot ? 1 : 0,
    .ppEnabledExtensionNames = &dot_extension,
  };
  TernVkRuntime *rt = g_new0 (TernVkRuntime, 1);

  rt->dev = dev;
  inject_faults (rt);
  rt->pools = g_array_new (FALSE, FALSE, sizeof (VkDescriptorPool));
  rt->pipelines = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  rt->commands = g_array_new (FALSE, FALSE, sizeof (Command));
  rt->recorded = g_array_new (FALSE, FALSE, sizeof (Command));
  rt->reuse = TRUE;
  if (dev->unusable != NULL)
    {
      g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_DEVICE, "the GPU %s cannot be used: %s",
                   dev->device.description, dev->unusable);
      tern_vk_runtime_free (rt);
      return NULL;
    }
  if (!tern_vk_check (rt, vkCreateDevice (dev->physical, &info, NULL, &rt->device), "open the device"))
    {
      rt->device = VK_NULL_HANDLE;
      tern_vk_failed (rt, error);
      tern_vk_runtime_free (rt);
      return NULL;
    }
  vkGetDeviceQueue (rt->device, dev->queue_family, 0, &rt->queue);

  VkDescriptorSetLayoutBinding bindings[TERN_VK_MAX_BINDINGS + TERN_VK_TEXEL_BINDINGS];
  for (guint i = 0; i < TERN_VK_MAX_BINDINGS; i++)
    bindings[i] = (VkDescriptorSetLayoutBinding) { i, VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, 1,
                                                   VK_SHADER_STAGE_COMPUTE_BIT, NULL };
  for (guint i = TERN_VK_MAX_BINDINGS; i < G_N_ELEMENTS (bindings); i++)
    bindings[i] = (VkDescriptorSetLayoutBinding) { i, VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER, 1,
                                                   VK_SHADER_STAGE_COMPUTE_BIT, NULL };
  VkDescriptorSetLayoutCreateInfo set_info = { .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO,
                                               .bindingCount = G_N_ELEMENTS (bindings), .pBindings = bindings };
  VkPushConstantRange push = { VK_SHADER_STAGE_COMPUTE_BIT, 0, TERN_VK_PUSH_BYTES };
  VkPipelineLayoutCreateInfo layout_info = { .sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO,
                                             .setLayoutCount = 1, .pSetLayouts = &rt->set_layout,
                                             .pushConstantRangeCount = 1, .pPushConstantRanges = &push };
  VkCommandPoolCreateInfo pool_info = { .sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
                                        .flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT,
                                        .queueFamilyIndex = dev->queue_family };
  VkFenceCreateInfo fence_info = { .sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO };
  gboolean ok
    = tern_vk_check (rt, vkCreateDescriptorSetLayout (rt->device, &set_info, NULL, &rt->set_layout), "set up")
      && tern_vk_check (rt, vkCreatePipelineLayout (rt->device, &layout_info, NULL, &rt->layout), "set up")
      && tern_vk_check (rt, vkCreateCommandPool (rt->device, &pool_info, NULL, &rt->cmd_pool), "set up")
      && tern_vk_check (rt, vkCreateFence (rt->device, &fence_info, NULL, &rt->fence), "set up");
  if (ok)
    {
      VkCommandBufferAllocateInfo alloc = { .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
                                            .commandPool = rt->cmd_pool, .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
                                            .commandBufferCount = 1 };
      ok = tern_vk_check (rt, vkAllocateCommandBuffers (rt->device, &alloc, &rt->cmd), "set up")
           && tern_vk_mem_new (rt, 16, FALSE, &rt->dummy);
    }
  if (!ok)
    {
      tern_vk_failed (rt, error);
      tern_vk_runtime_free (rt);
      return NULL;
    }
  return rt;
}

void
tern_vk_runtime_free (TernVkRuntime *rt)
{
  if (rt->device != VK_NULL_HANDLE)
    {
      vkDeviceWaitIdle (rt->device);
      GHashTableIter iter;
      gpointer p;
      g_hash_table_iter_init (&iter, rt->pipelines);
      while (g_hash_table_iter_next (&iter, NULL, &p))
        vkDestroyPipeline (rt->device, p, NULL);
      for (guint i = 0; i < rt->pools->len; i++)
        vkDestroyDescriptorPool (rt->device, g_array_index (rt->pools, VkDescriptorPool, i), NULL);
      tern_vk_mem_free (rt, &rt->dummy);
      if (rt->fence != VK_NULL_HANDLE)
        vkDestroyFence (rt->device, rt->fence, NULL);
      if (rt->cmd_pool != VK_NULL_HANDLE)
        vkDestroyCommandPool (rt->device, rt->cmd_pool, NULL);
      if (rt->layout != VK_NULL_HANDLE)
        vkDestroyPipelineLayout (rt->device, rt->layout, NULL);
      if (rt->set_layout != VK_NULL_HANDLE)
        vkDestroyDescriptorSetLayout (rt->device, rt->set_layout, NULL);
      vkDestroyDevice (rt->device, NULL);
    }
  g_hash_table_unref (rt->pipelines);
  g_array_unref (rt->pools);
  g_array_unref (rt->commands);
  g_array_unref (rt->recorded);
  g_clear_error (&rt->failure);
  g_free (rt);
}
