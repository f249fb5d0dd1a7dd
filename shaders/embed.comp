// SPDX-License-Identifier: GPL-3.0-or-later
// out[i] = the embedding row of tokens[i], for the tokens whose rows are in
// this part of the embedding (rows row_begin.. of n_rows).
#version 450
#include "common.glsl"

layout (local_size_x_id = 0) in;
layout (set = 0, binding = 0) readonly buffer Weights { uint wq[]; };
#include "dequant.glsl"
layout (set = 0, binding = 1) readonly buffer Tokens { uint tokens[]; };
layout (set = 0, binding = 2) buffer Out { float o[]; };

layout (push_constant) uniform Push {
  uint n_embd;
  uint row_begin;
  uint n_rows;
  uint row_bytes;
  uint o_stride;
} p;

void main ()
{
  const uint i = gl_WorkGroupID.y;
  const uint row = tokens[i] - p.row_begin;

  if (tokens[i] < p.row_begin || row >= p.n_rows)
    return;
  const uint off = row * p.row_bytes;
  for (uint j = gl_GlobalInvocationID.x; j < p.n_embd; j += gl_NumWorkGroups.x * gl_WorkGroupSize.x)
    o[i * p.o_stride + j] = dq1 (off, j);
}
