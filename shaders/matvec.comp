// SPDX-License-Identifier: GPL-3.0-or-later
// y[t][row] = W[row] · x[t] (+ bias[row]) for up to NC tokens t
// (specialization constant 1) and NR rows per workgroup. The invocations
// share a row's 32-element units; each loads its unit of every token's
// activations once and multiplies it with the unit of NR rows, each unit
// of weights dequantized once (dq32). Loads are what costs on a CPU-type
// device, so each loaded value serves as many products as registers allow.
// Sums are added with subgroup operations, through shared memory only where
// the workgroup holds several subgroups. The host makes workgroups of one
// subgroup: no barrier at all (lavapipe runs a barrier as a switch of every
// invocation).
#version 450
#extension GL_KHR_shader_subgroup_arithmetic : require
#extension GL_EXT_control_flow_attributes : require
#extension GL_EXT_samplerless_texture_functions : require
#include "common.glsl"

layout (local_size_x_id = 0) in;
layout (constant_id = 1) const uint NC = 8;
// Rows per workgroup: MATMUL_ROWS in backend-vulkan.c.
const uint NR = 8;
// The weights and the activations are read through the texel views of
// bindings 0 and 1, as words (bindings 6 and 7) and as 16-byte quads (8 and
// 9): on a CPU-type device a texel fetch is a vector gather, where a storage
// buffer is read one invocation at a time.
layout (set = 0, binding = 6) uniform utextureBuffer weights;
layout (set = 0, binding = 7) uniform utextureBuffer xt;
layout (set = 0, binding = 8) uniform utextureBuffer weights16;
layout (set = 0, binding = 9) uniform utextureBuffer xt16;
#define WQ(i) texelFetch (weights, int (i)).x
#define WQ16(i) texelFetch (weights16, int (i))
#include "dequant.glsl"
#include "dequant32.glsl"
#ifdef INT_DOT
// The integer path: the activations are packed signed bytes with a scale
// per 32 (act_quant.comp's ACT_PACK), multiplied with the weights' integers
// four at a time by the device's integer dot product.
#extension GL_EXT_spirv_intrinsics : require
#include "dequant_int.glsl"
#ifndef INT_DOT_TYPE
#error "this type has no integer path"
#endif
// OpSDot (SPV_KHR_integer_dot_product) of two words of four signed bytes:
// format 0 is PackedVectorFormat4x8Bit; capabilities DotProductInput4x8BitPacked
// and DotProduct. (Debian 12's glslang predates GL_EXT_integer_dot_product.)
spirv_instruction (extensions = ["SPV_KHR_integer_dot_product"], capabilities = [6018, 6019], id = 4450)
int sdot4 (int a, int b, spirv_literal int format);
#define SDOT4(a, b) sdot4 (int (a), int (b), 0)
#endif
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
  uint x_base;    // where token 0's x starts in the activations
} p;

// One sum per row, token and subgroup, where there are several subgroups.
shared float partial[NR * NC * 32];

float x_at (uint i)
{
  return uintBitsToFloat (texelFetch (xt, int (p.x_base + i)).x);
}

// x[i..i + 3], i a multiple of 4. Rows of block types hold whole blocks,
// so x_stride and x_base are multiples of 4 too; other types' rows may be
// of any length.
vec4 x4_at (uint i)
{
#if defined(TYPE_F32) || defined(TYPE_F16) || defined(TYPE_BF16)
  if (((p.x_stride | p.x_base) & 3u) != 0u)
    return vec4 (x_at (i), x_at (i + 1u), x_at (i + 2u), x_at (i + 3u));
#endif
  return uintBitsToFloat (texelFetch (xt16, int ((p.x_base + i) >> 2)));
}

void main ()
{
  const uint wg = gl_WorkGroupSize.x, tid = gl_LocalInvocationID.x;
  const uint t0 = gl_WorkGroupID.y * NC;
  const uint nc = min (NC, p.n - t0);
  const uint n_units = p.n_in / 32u;

  for (uint row0 = gl_WorkGroupID.x * NR; row0 < p.n_rows; row0 += gl_NumWorkGroups.x * NR)
    {
      float acc[NR][NC];
      [[unroll]] for (uint r = 0; r < NR; r++)
        [[unroll]] for (uint c = 0; c < NC; c++)
          acc[r][c] = 0.0;
#ifdef INT_DOT
      for (uint u = tid; u < n_units; u += wg)
        {
          // Each token's unit: 8 words of bytes, their scale, and the sums
          // of each half's bytes (for the weights' offsets).
          uint xq[NC][8];
          float xd[NC];
          ivec2 xsum[NC];
          [[unroll]] for (uint c = 0; c < NC; c++)
            if (c < nc)
              {
                const uint at = p.x_base + (t0 + c) * p.x_stride;
                const uvec4 lo = texelFetch (xt16, int ((at >> 2) + 2u * u));
                const uvec4 hi = texelFetch (xt16, int ((at >> 2) + 2u * u + 1u));
                xq[c] = uint[8] (lo.x, lo.y, lo.z, lo.w, hi.x, hi.y, hi.z, hi.w);
                xd[c] = uintBitsToFloat (texelFetch (xt, int (at + p.n_in / 4u + u)).x);
                xsum[c] = ivec2 (0);
                [[unroll]] for (uint k = 0; k < 8; k++)
                  xsum[c][k / 4u] += SDOT4 (xq[c][k], 0x01010101u);
              }
          [[unroll]] for (uint r = 0; r < NR; r++)
            if (row0 + r < p.n_rows)
              {
                uint wq[8];
                vec4 ab;
                dqi32 ((row0 + r) * p.row_bytes, u, wq, ab);
                [[unroll]] for (uint c = 0; c < NC; c++)
                  if (c < nc)
                    {
                      ivec2 isum = ivec2 (0);
                      [[unroll]] for (uint k = 0; k < 8; k++)
                        isum[k / 4u] += SDOT4 (wq[k], xq[c][k]);
                      acc[r][c] += xd[c] * (ab.x * float (isum.x) + ab.y * float (xsum[c].x)
                                            + ab.z * float (isum.y) + ab.w * float (xsum[c].y));
                    }
              }
        }
#else
      for (uint u = tid; u < n_units; u += wg)
        {
          vec4 xs[NC][8];
          [[unroll]] for (uint c = 0; c < NC; c++)
            if (c < nc)
              [[unroll]] for (uint k = 0; k < 8; k++)
                xs[c][k] = x4_at ((t0 + c) * p.x_stride + 32u * u + 4u * k);
          [[unroll]] for (uint r = 0; r < NR; r++)
            if (row0 + r < p.n_rows)
              {
                vec4 w[8];
                dq32 ((row0 + r) * p.row_bytes, u, w);
                [[unroll]] for (uint c = 0; c < NC; c++)
                  if (c < nc)
                    {
                      float sum = 0.0;
                      [[unroll]] for (uint k = 0; k < 8; k++)
                        sum += dot (w[k], xs[c][k]);
                      acc[r][c] += sum;
                    }
              }
        }
      for (uint i = 32u * n_units + tid; i < p.n_in; i += wg)
        [[unroll]] for (uint r = 0; r < NR; r++)
          if (row0 + r < p.n_rows)
            {
              const float w = dq1 ((row0 + r) * p.row_bytes, i);
              [[unroll]] for (uint c = 0; c < NC; c++)
                if (c < nc)
                  acc[r][c] += w * x_at ((t0 + c) * p.x_stride + i);
            }
#endif
      [[unroll]] for (uint r = 0; r < NR; r++)
        [[unroll]] for (uint c = 0; c < NC; c++)
          acc[r][c] = subgroupAdd (acc[r][c]);
      if (gl_NumSubgroups > 1)
        {
          if (subgroupElect ())
            [[unroll]] for (uint r = 0; r < NR; r++)
              [[unroll]] for (uint c = 0; c < NC; c++)
                partial[(r * NC + c) * 32 + gl_SubgroupID] = acc[r][c];
          barrier ();
          [[unroll]] for (uint r = 0; r < NR; r++)
            [[unroll]] for (uint c = 0; c < NC; c++)
              {
                acc[r][c] = 0.0;
                for (uint s = 0; s < gl_NumSubgroups; s++)
                  acc[r][c] += partial[(r * NC + c) * 32 + s];
              }
          barrier ();
        }
      if (tid == 0)
        [[unroll]] for (uint r = 0; r < NR; r++)
          if (row0 + r < p.n_rows)
            [[unroll]] for (uint c = 0; c < NC; c++)
              if (c < nc)
                {
                  float v = acc[r][c];
                  if (p.has_bias != 0)
                    v += bias[p.bias_base + row0 + r];
                  y[p.y_base + (t0 + c) * p.y_stride + row0 + r] = v;
                }
    }
}
