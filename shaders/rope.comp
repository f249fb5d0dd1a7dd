// SPDX-License-Identifier: GPL-3.0-or-later
// Rotates each head of each row by its position (RoPE). The host computes
// the cosines and sines (table[row][n_rot]: cos, sin of each pair), as the
// CPU backend does: a GPU's sin and cos are not accurate enough for the
// angles of long contexts.
#version 450

layout (local_size_x_id = 0) in;
layout (set = 0, binding = 0) buffer X { float x[]; };
layout (set = 0, binding = 1) readonly buffer Table { float table[]; };

layout (push_constant) uniform Push {
  uint n_heads;
  uint head_dim;
  uint n_rot;
  uint neox;
  uint x_stride;
} p;

void main ()
{
  const uint half_rot = p.n_rot / 2;
  const uint i = gl_WorkGroupID.y;

  for (uint k = gl_GlobalInvocationID.x; k < p.n_heads * half_rot; k += gl_NumWorkGroups.x * gl_WorkGroupSize.x)
    {
      const uint h = k / half_rot, pair = k % half_rot;
      // NEOX pairs element i with i + n_rot/2; the original layout pairs
      // neighbours.
      const uint a = h * p.head_dim + (p.neox != 0 ? pair : 2 * pair);
      const uint b = a + (p.neox != 0 ? half_rot : 1);
      const float c = table[i * p.n_rot + 2 * pair], s = table[i * p.n_rot + 2 * pair + 1];
      const float x0 = x[i * p.x_stride + a], x1 = x[i * p.x_stride + b];
      precise float r0 = x0 * c - x1 * s;
      precise float r1 = x0 * s + x1 * c;
      x[i * p.x_stride + a] = r0;
      x[i * p.x_stride + b] = r1;
    }
}
