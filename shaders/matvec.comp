// SPDX-License-Identifier: GPL-3.0-or-later
// y[t][row] = W[row] · x[t] (+ bias[row]) for up to NC tokens t per
// workgroup (specialization constant 1): each weight group of four is
// dequantized once and multiplied with every token's activations. A
// workgroup takes rows in turn; its invocations share a row's groups and
// add their sums with subgroup operations, through shared memory only
// where the workgroup holds several subgroups. The host makes workgroups
// of one subgroup: no barrier at all (lavapipe runs a barrier as a switch
// of every invocation).
#version 450
#extension GL_KHR_shader_subgroup_arithmetic : require
#extension GL_EXT_control_flow_attributes : require
#include "common.glsl"

layout (local_size_x_id = 0) in;
layout (constant_id = 1) const uint NC = 8;
layout (set = 0, binding = 0) readonly buffer Weights { uint wq[]; };
#include "dequant.glsl"
layout (set = 0, binding = 1) readonly buffer X { float x[]; };
layout (set = 0, binding = 2) buffer Y { float y[]; };
layout (set = 0, binding = 3) readonly buffer Bias { float bias[]; };

layout (push_constant) uniform Push {
  uint n_in;      // elements of a row
  uint n_rows;    // rows of this part of the weight
  uint row_bytes;
  uint n;         // tokens
  uint x_stride;  // floats from one token's x to the next
  uint y_stride;
  uint y_base;    // where token 0's value of row 0 goes in y
  uint bias_base; // bias[bias_base + row]; no bias when has_bias is 0
  uint has_bias;
} p;

// One sum per token and subgroup, where there are several subgroups.
shared float partial[NC * 32];

void main ()
{
  const uint wg = gl_WorkGroupSize.x, tid = gl_LocalInvocationID.x;
  const uint t0 = gl_WorkGroupID.y * NC;
  const uint nc = min (NC, p.n - t0);
  const uint n_groups = p.n_in / 4;

  for (uint row = gl_WorkGroupID.x; row < p.n_rows; row += gl_NumWorkGroups.x)
    {
      float acc[NC];
      [[unroll]] for (uint c = 0; c < NC; c++)
        acc[c] = 0.0;
      const uint off = row * p.row_bytes;
      for (uint g = tid; g < n_groups; g += wg)
        {
          const vec4 w = dq4 (off, g);
          [[unroll]] for (uint c = 0; c < NC; c++)
            if (c < nc)
              {
                const uint xi = (t0 + c) * p.x_stride + 4 * g;
                acc[c] += dot (w, vec4 (x[xi], x[xi + 1], x[xi + 2], x[xi + 3]));
              }
        }
      for (uint i = 4 * n_groups + tid; i < p.n_in; i += wg)
        {
          const float w = dq1 (off, i);
          [[unroll]] for (uint c = 0; c < NC; c++)
            if (c < nc)
              acc[c] += w * x[(t0 + c) * p.x_stride + i];
        }
      [[unroll]] for (uint c = 0; c < NC; c++)
        acc[c] = subgroupAdd (acc[c]);
      if (gl_NumSubgroups > 1)
        {
          if (subgroupElect ())
            [[unroll]] for (uint c = 0; c < NC; c++)
              partial[c * 32 + gl_SubgroupID] = acc[c];
          barrier ();
          [[unroll]] for (uint c = 0; c < NC; c++)
            {
              acc[c] = 0.0;
              for (uint s = 0; s < gl_NumSubgroups; s++)
                acc[c] += partial[c * 32 + s];
            }
          barrier ();
        }
      if (tid == 0)
        [[unroll]] for (uint c = 0; c < NC; c++)
          if (c < nc)
            {
              float v = acc[c];
              if (p.has_bias != 0)
                v += bias[p.bias_base + row];
              y[p.y_base + (t0 + c) * p.y_stride + row] = v;
            }
    }
}
