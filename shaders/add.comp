// SPDX-License-Identifier: GPL-3.0-or-later
// x += y, over count values.
#version 450

layout (local_size_x_id = 0) in;
layout (set = 0, binding = 0) buffer X { float x[]; };
layout (set = 0, binding = 1) readonly buffer Y { float y[]; };

layout (push_constant) uniform Push {
  uint count;
} p;

void main ()
{
  for (uint i = gl_GlobalInvocationID.x; i < p.count; i += gl_NumWorkGroups.x * gl_WorkGroupSize.x)
    x[i] += y[i];
}
