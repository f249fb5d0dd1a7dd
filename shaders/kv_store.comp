// SPDX-License-Identifier: GPL-3.0-or-later
// Writes the rows of k and v into a layer's cache at positions pos..:
// [position][kv_dim] elements, F16 pairs packed in words, or F32 (KV_F32).
#version 450
#include "common.glsl"

layout (local_size_x_id = 0) in;
layout (set = 0, binding = 0) readonly buffer K { float k[]; };
layout (set = 0, binding = 1) readonly buffer V { float v[]; };
layout (set = 0, binding = 2) buffer KC { uint kc[]; };
layout (set = 0, binding = 3) buffer VC { uint vc[]; };
// The first position, written by the host for each pass (attend.comp's
// Now block): a command buffer recorded once stores every token of a
// generation.
layout (set = 0, binding = 4) readonly buffer Now {
  uint groups_x; uint groups_y; uint groups_z; uint pos; uint n_split;
} now;

layout (push_constant) uniform Push {
  uint kv_dim;
  uint k_stride;
  uint v_stride;
} p;

void main ()
{
  const uint i = gl_WorkGroupID.y;
  const uint half_dim = p.kv_dim / 2;

  for (uint j = gl_GlobalInvocationID.x; j < half_dim; j += gl_NumWorkGroups.x * gl_WorkGroupSize.x)
    {
      const uint ki = i * p.k_stride + 2 * j, vi = i * p.v_stride + 2 * j;
#ifdef KV_F32
      const uint at = (now.pos + i) * p.kv_dim + 2 * j;
      kc[at] = floatBitsToUint (k[ki]);
      kc[at + 1] = floatBitsToUint (k[ki + 1]);
      vc[at] = floatBitsToUint (v[vi]);
      vc[at + 1] = floatBitsToUint (v[vi + 1]);
#else
      const uint at = (now.pos + i) * half_dim + j;
      kc[at] = f32_to_f16 (k[ki]) | (f32_to_f16 (k[ki + 1]) << 16);
      vc[at] = f32_to_f16 (v[vi]) | (f32_to_f16 (v[vi + 1]) << 16);
#endif
    }
}
