/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/* The Vulkan backend's machinery, below its operations (backend-vulkan.c):
 * a logical device and its queue, buffers in device memory, the compute
 * pipelines made from the embedded shaders, and a pass recorded into one
 * command buffer (vulkan-runtime.c). One thread at a time, as the backend.
 *
 * Reuse. A pass's commands are collected as it is recorded and written
 * into the command buffer at submit, unless they are those the command
 * buffer already holds: then it runs again as it is, descriptor sets
 * included. Same commands means the same shaders, buffers, ranges, push
 * constants and workgroup counts, so what changes from one token to the
 * next (positions, the attention's split, token ids, RoPE tables) lives
 * in buffers the host writes (the backend's upload blocks), never in the
 * commands. Freeing a buffer the command buffer uses makes it record
 * again.
 *
 * Failures are kept: the first one (NOMEM for memory, DEVICE for a lost
 * device or any other refusal of the driver) is stored in the runtime, and
 * every later call that could fail fails the same way. */

#include "backend/vulkan/vulkan-private.h"

G_BEGIN_DECLS

/* A buffer and its memory. @map is the memory mapped, where the device
 * lets the host see it (always on integrated GPUs and lavapipe). */
typedef struct {
  VkBuffer buffer;
  VkDeviceMemory memory;
  VkDeviceSize size;
  guint8 *map;
  gboolean coherent;
  /* The whole buffer as texels (TernVkView), where it has no more of them
   * than the device's maxTexelBufferElements; else VK_NULL_HANDLE. */
  VkBufferView views[2];
} TernVkMem;

/* A buffer's texel views: 32-bit words (R32_UINT) and 16-byte quads
 * (R32G32B32A32_UINT). */
typedef enum {
  TERN_VK_VIEW_WORDS,
  TERN_VK_VIEW_QUADS,
} TernVkView;

/* A buffer bound to one of a shader's bindings: @range bytes from @offset
 * (VK_WHOLE_SIZE: to the end). */
typedef struct {
  const TernVkMem *mem;
  VkDeviceSize offset, range;
} TernVkBind;

/* The most storage-buffer bindings a shader has. */
#define TERN_VK_MAX_BINDINGS 6
/* The texel views of binds 0 and 1 follow: binding TERN_VK_MAX_BINDINGS
 * + 2 view + bind. */
#define TERN_VK_TEXEL_BINDINGS 4
/* The largest push constant block a shader has, in bytes (the least every
 * device allows is 128). */
#define TERN_VK_PUSH_BYTES 64

typedef struct {
  const TernVkDevice *dev;
  VkDevice device;
  VkQueue queue;
  VkDescriptorSetLayout set_layout;
  VkPipelineLayout layout;
  GArray *pools;          /* VkDescriptorPool: sets of the pass */
  guint pool;             /* the one sets come from now */
  VkCommandPool cmd_pool;
  VkCommandBuffer cmd;    /* the pass */
  VkFence fence;          /* signalled when the pass submitted last is done */
  GArray *commands;       /* the pass being recorded (see Reuse) */
  GArray *recorded;       /* what cmd holds, where cmd_ready */
  gboolean cmd_ready;
  gboolean reuse;         /* TRUE but in tests that compare without it */
  guint64 n_recorded, n_reused; /* passes written into cmd, and run as it was */
  gboolean recording;
  gboolean in_flight;     /* a submitted pass not yet waited for */
  GHashTable *pipelines;  /* "name/workgroup" → VkPipeline */
  TernVkMem dummy;        /* bound where a shader leaves a binding unused */
  GError *failure;
  /* Faults injected by tests (TERN_VULKAN_INJECT): the allocation that
   * fails (counting from 1), or the submit after which the device is lost
   * (0: none). */
  guint fail_alloc, lose_after_submits;
  guint n_allocs, n_submits;
  /* Bytes copied between host and device memory by read and write, and
   * how many such copies: a test counts them. */
  guint64 transfer_bytes, n_transfers;
} TernVkRuntime;

/* A runtime on @dev: NULL with DEVICE (or NOMEM) when it cannot be made. */
TernVkRuntime *tern_vk_runtime_new (const TernVkDevice *dev, GError **error);
void tern_vk_runtime_free (TernVkRuntime *rt);

/* Whether a failure was stored; copies it to @error. */
gboolean tern_vk_failed (TernVkRuntime *rt, GError **error);
/* Stores @result's failure (doing nothing for VK_SUCCESS), naming @what;
 * returns whether @result was VK_SUCCESS. */
gboolean tern_vk_check (TernVkRuntime *rt, VkResult result, const char *what);

/* A buffer of @size bytes in device memory (host-visible when
 * @host_visible, else device-local where the device has such memory);
 * FALSE with the failure stored. Outside a pass. */
gboolean tern_vk_mem_new (TernVkRuntime *rt, VkDeviceSize size, gboolean host_visible, TernVkMem *mem);
void tern_vk_mem_free (TernVkRuntime *rt, TernVkMem *mem);
/* Copies @size bytes between host memory and @mem at @offset, through a
 * staging buffer where @mem is not mapped; waits for the pass in flight
 * first. Outside a pass. */
gboolean tern_vk_upload (TernVkRuntime *rt, const TernVkMem *mem, VkDeviceSize offset, const void *src,
                         VkDeviceSize size);
gboolean tern_vk_download (TernVkRuntime *rt, const TernVkMem *mem, VkDeviceSize offset, void *dst,
                           VkDeviceSize size);

/* Waits for the pass in flight, if any. */
gboolean tern_vk_wait (TernVkRuntime *rt);

/* Starts recording a pass (waiting for the last one first). */
void tern_vk_begin (TernVkRuntime *rt);
/* Ends the pass and submits it unless @run is FALSE (a stopped pass). */
gboolean tern_vk_submit (TernVkRuntime *rt, gboolean run, GError **error);

/* Records shader @name (with workgroup size @workgroup, and @spec1 as its
 * specialization constant 1 where it has one) on @binds (storage buffers
 * 0, 1, ...; then the texel views of the buffers of binds 0 and 1, whole
 * whatever their bind's offset, for shaders that read through them) over
 * @gx × @gy × @gz workgroups, @push its push constants, and a barrier
 * after it so that the next command sees what it wrote. Failures are
 * stored. */
void tern_vk_dispatch (TernVkRuntime *rt, const char *name, guint32 workgroup, guint32 spec1, const TernVkBind *binds,
                       guint n_binds, const void *push, gsize push_size, guint32 gx, guint32 gy, guint32 gz);
/* The same, over the workgroup counts that three words at @groups hold
 * when the pass runs (a host-visible buffer the host writes: see Reuse). */
void tern_vk_dispatch_indirect (TernVkRuntime *rt, const char *name, guint32 workgroup, guint32 spec1,
                                const TernVkBind *binds, guint n_binds, const void *push, gsize push_size,
                                TernVkBind groups);
/* Records a copy of @size bytes between buffers, and the same barrier. */
void tern_vk_copy (TernVkRuntime *rt, const TernVkMem *src, VkDeviceSize src_offset, const TernVkMem *dst,
                   VkDeviceSize dst_offset, VkDeviceSize size);

G_END_DECLS
