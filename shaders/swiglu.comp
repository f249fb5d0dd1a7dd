// SPDX-License-Identifier: GPL-3.0-or-later
// gate = silu(gate) * up, over n rows of cols values.
#version 450

layout (local_size_x_id = 0) in;
layout (set = 0, binding = 0) buffer Gate { float gate[]; };
layout (set = 0, binding = 1) readonly buffer Up { float up[]; };

layout (push_constant) uniform Push {
  uint count;
} p;

void main ()
{
  for (uint i = gl_GlobalInvocationID.x; i < p.count; i += gl_NumWorkGroups.x * gl_WorkGroupSize.x)
    {
      const float g = gate[i];
      precise float silu = g / (1.0 + exp (-g));
      gate[i] = silu * up[i];
    }
}
