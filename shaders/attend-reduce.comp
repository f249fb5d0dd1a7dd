// SPDX-License-Identifier: GPL-3.0-or-later
// Combines the splits of attend.comp into the output: one workgroup per
// (query head, query token). Split s left (m_s, l_s, acc_s) in part[] (see
// attend.comp for the layout), with m_s = -inf and l_s = 0 where it had no
// keys. With M = max m_s and w_s = exp (m_s - M):
// o = sum w_s acc_s / sum w_s l_s. Split 0 always has key 0, so M is finite;
// an empty split (l_s = 0, every split with keys has l_s >= 1) weighs 0
// without exp (-inf).
#version 450

layout(local_size_x_id = 0) in;

layout(set = 0, binding = 0) readonly buffer Q { float q[]; };
layout(set = 0, binding = 1) readonly buffer K { uint kc[]; };
layout(set = 0, binding = 2) readonly buffer V { uint vc[]; };
layout(set = 0, binding = 3) buffer O { float o[]; };
layout(set = 0, binding = 4) buffer Part { float part[]; };
// What changes from one token to the next, written by the host for each
// pass (so that a command buffer recorded once runs every token of a
// generation): the workgroup counts of attend.comp's indirect dispatch,
// the first query's position and the number of splits.
layout(set = 0, binding = 5) readonly buffer Now {
  uint groups_x; uint groups_y; uint groups_z; uint pos; uint n_split;
} now;

layout(push_constant) uniform P {
  uint n; uint n_head; uint n_head_kv; uint head_dim;
  uint q_stride; uint o_stride; float scale;
} p;

// The weight of the split whose record starts at @at.
float weight (uint at, float m)
{
  return part[at + 1u] > 0.0 ? exp (part[at] - m) : 0.0;
}

void main ()
{
  const uint h = gl_WorkGroupID.x;
  const uint i = gl_WorkGroupID.y;
  const uint rec = p.head_dim + 2u;
  const uint base = (i * p.n_head + h) * now.n_split * rec;

  // Every invocation finds M and the sum itself: a few splits, no barrier.
  float m = part[base];
  for (uint s = 1u; s < now.n_split; s++)
    m = max (m, part[base + s * rec]);
  float l = 0.0;
  for (uint s = 0u; s < now.n_split; s++)
    l += weight (base + s * rec, m) * part[base + s * rec + 1u];

  for (uint d = gl_LocalInvocationID.x; d < p.head_dim; d += gl_WorkGroupSize.x)
    {
      float a = 0.0;
      for (uint s = 0u; s < now.n_split; s++)
        a += weight (base + s * rec, m) * part[base + s * rec + 2u + d];
      o[i * p.o_stride + h * p.head_dim + d] = a / l;
    }
}
