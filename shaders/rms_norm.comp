// SPDX-License-Identifier: GPL-3.0-or-later
// out = RMSNorm(x) * weight, one row per workgroup. The sum of squares is
// compensated (Kahan) per thread and added pairwise: as close to the CPU
// backend's double sum as f32 allows.
#version 450

layout (local_size_x_id = 0) in;
layout (set = 0, binding = 0) readonly buffer X { float x[]; };
layout (set = 0, binding = 1) readonly buffer W { float w[]; };
layout (set = 0, binding = 2) buffer Out { float o[]; };

layout (push_constant) uniform Push {
  uint d;
  uint x_stride;
  uint o_stride;
  float eps;
} p;

shared float sums[gl_WorkGroupSize.x];
shared float errs[gl_WorkGroupSize.x];

void main ()
{
  const uint wg = gl_WorkGroupSize.x, tid = gl_LocalInvocationID.x;
  const uint xi = gl_WorkGroupID.x * p.x_stride, oi = gl_WorkGroupID.x * p.o_stride;
  precise float sum = 0.0, err = 0.0;

  for (uint j = tid; j < p.d; j += wg)
    {
      precise float v = x[xi + j] * x[xi + j];
      precise float y = v - err;
      precise float t = sum + y;
      err = (t - sum) - y;
      sum = t;
    }
  sums[tid] = sum;
  errs[tid] = err;
  barrier ();
  for (uint s = wg / 2; s > 0; s >>= 1)
    {
      if (tid < s)
        {
          sums[tid] += sums[tid + s];
          errs[tid] += errs[tid + s];
        }
      barrier ();
    }
  precise float total = sums[0] - errs[0];
  precise float scale = 1.0 / sqrt (total / float (p.d) + p.eps);
  for (uint j = tid; j < p.d; j += wg)
    {
      precise float v = x[xi + j] * scale;
      o[oi + j] = v * w[j];
    }
}
