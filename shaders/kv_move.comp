// SPDX-License-Identifier: GPL-3.0-or-later
// Moves count cache positions from..  to to.. (to < from) in one layer,
// rotating each key head by the position change (table: cos, sin of each
// pair, computed by the host). The host moves at most from - to positions
// per dispatch, so that no position is written before it is read.
#version 450
#include "common.glsl"

layout (local_size_x_id = 0) in;
layout (set = 0, binding = 0) buffer KC { uint kc[]; };
layout (set = 0, binding = 1) buffer VC { uint vc[]; };
layout (set = 0, binding = 2) readonly buffer Table { float table[]; };

layout (push_constant) uniform Push {
  uint from;
  uint to;
  uint count;
  uint n_head_kv;
  uint head_dim;
  uint n_rot;
  uint neox;
} p;

#ifdef KV_F32
#define WORDS_PER_ROW(d) (d)
#else
#define WORDS_PER_ROW(d) ((d) / 2)
#endif

void main ()
{
  const uint kv_dim = p.n_head_kv * p.head_dim, row_words = WORDS_PER_ROW (kv_dim);
  const uint n_items = p.count * p.n_head_kv;

  for (uint item = gl_GlobalInvocationID.x; item < n_items; item += gl_NumWorkGroups.x * gl_WorkGroupSize.x)
    {
      const uint i = item / p.n_head_kv, h = item % p.n_head_kv;
      const uint src = (p.from + i) * row_words, dst = (p.to + i) * row_words;
      const uint head_words = WORDS_PER_ROW (p.head_dim), first = h * head_words;
      float e[256];

      for (uint w = 0; w < head_words; w++)
        {
#ifdef KV_F32
          e[w] = uintBitsToFloat (kc[src + first + w]);
#else
          const uint bits = kc[src + first + w];
          e[2 * w] = f16_to_f32 (bits);
          e[2 * w + 1] = f16_to_f32 (bits >> 16);
#endif
        }
      const uint half_rot = p.n_rot / 2;
      for (uint pair = 0; pair < half_rot; pair++)
        {
          const uint a = p.neox != 0 ? pair : 2 * pair, b = a + (p.neox != 0 ? half_rot : 1);
          const float c = table[2 * pair], s = table[2 * pair + 1];
          const float x0 = e[a], x1 = e[b];
          precise float r0 = x0 * c - x1 * s;
          precise float r1 = x0 * s + x1 * c;
          e[a] = r0;
          e[b] = r1;
        }
      for (uint w = 0; w < head_words; w++)
        {
#ifdef KV_F32
          kc[dst + first + w] = floatBitsToUint (e[w]);
#else
          kc[dst + first + w] = f32_to_f16 (e[2 * w]) | (f32_to_f16 (e[2 * w + 1]) << 16);
#endif
          vc[dst + first + w] = vc[src + first + w];
        }
    }
}
