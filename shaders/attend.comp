// SPDX-License-Identifier: GPL-3.0-or-later
// Causal attention of a chunk of query tokens against the F16 key/value
// cache (F32 with KV_F32), flash-attention style. One workgroup per (KV head, query token,
// split): it serves every query head of that KV head (GQA), so each key and
// value row is read once per workgroup, not once per query head.
//
// Query token i sits at position pos + i and sees cache positions
// 0 .. pos + i. With max_keys = pos + n (the last token's count) and
// chunk = ceil (max_keys / n_split), split s takes the keys
// [s * chunk, min ((s + 1) * chunk, pos + i + 1)), possibly none.
//
// Per query head: the query is rounded to F16 (as the CPU backend rounds it
// to the cache type), scores are q.k in F32 times scale, and the keys are
// taken in tiles with an online softmax: a running max m, a running sum
// l = sum exp (s - m) and an accumulator acc = sum exp (s - m) v, both
// rescaled by exp (m_old - m_new) when the max grows. With one split the
// output is acc / l; otherwise (m, l, acc) go to part[] unnormalized and
// attend-reduce.comp combines the splits.
//
// Unlike the CPU backend, the probabilities stay in F32: the CPU rounds the
// normalized probabilities to F16 before the product with the values, but
// they are known only at the end here. The difference is within 2^-11 of
// sum p |v|, the CPU's own rounding.
//
// lavapipe (gallivm) ends an invocation's loops after 65,535 iterations in
// all, silently: the host keeps chunk <= 1024 keys and the workgroup at 32
// invocations or more, which keeps this shader under a third of that for
// head_dim 256 and 16 query heads a KV head.
//
// part[] holds, for token i, query head h and split s, the record
// [m, l, acc[head_dim]] at ((i * n_head + h) * n_split + s) * (head_dim + 2).
#version 450
#include "common.glsl"

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

// Shared memory, 29,440 bytes in all (lavapipe allows 32 KiB), in vec4s:
// lavapipe loads and stores invocation by invocation, so four elements a
// load make the loops several times faster there. Rows of head_dim values
// are padded with zeros to hd4 = ceil (head_dim / 4) vec4s.
//
// The query heads of one pass, [head][hd4], and their accumulators.
const uint QMAX4 = 512u;
// One tile of keys or values, [key][hd4], F32.
const uint TILE4 = 512u;
// Scores, then probabilities, of one tile, [head][key / 4].
const uint SMAX4 = 256u;
// Query heads of one pass.
const uint HMAX = 64u;

shared vec4 qs[QMAX4];
shared vec4 acc[QMAX4];
shared vec4 tile[TILE4];
shared vec4 sc[SMAX4];
shared float m_run[HMAX];
shared float l_run[HMAX];
shared float alpha[HMAX];

#ifdef KV_F32
// The word of a cache element: F32 elements take one each.
#define KV_WORD(e) (e)
// The query in the cache's type, as the CPU backend rounds it.
#define ROUND_TO_CACHE(x) (x)

// Four elements of row @at (a word index) of the F32 cache, from element
// 4 * @c4 on; past the row's end (head_dim not a multiple of 4) they are 0.
vec4 load_k (uint at, uint c4, uint hd)
{
  uint e = 4u * c4;
  return vec4 (uintBitsToFloat (kc[at + e]), uintBitsToFloat (kc[at + e + 1u]),
               e + 2u < hd ? uintBitsToFloat (kc[at + e + 2u]) : 0.0,
               e + 2u < hd ? uintBitsToFloat (kc[at + e + 3u]) : 0.0);
}

vec4 load_v (uint at, uint c4, uint hd)
{
  uint e = 4u * c4;
  return vec4 (uintBitsToFloat (vc[at + e]), uintBitsToFloat (vc[at + e + 1u]),
               e + 2u < hd ? uintBitsToFloat (vc[at + e + 2u]) : 0.0,
               e + 2u < hd ? uintBitsToFloat (vc[at + e + 3u]) : 0.0);
}
#else
// The word of a cache element: F16 elements go in pairs.
#define KV_WORD(e) ((e) / 2u)
#define ROUND_TO_CACHE(x) f16_to_f32 (f32_to_f16 (x))

// Four elements of row @at (a word index) of the F16 cache, from element
// 4 * @c4 on; past the row's end (head_dim not a multiple of 4) they are 0.
vec4 load_k (uint at, uint c4, uint hd)
{
  uint w0 = kc[at + 2u * c4];
  uint w1 = 4u * c4 + 2u < hd ? kc[at + 2u * c4 + 1u] : 0u;
  return vec4 (f16_to_f32 (w0 & 0xffffu), f16_to_f32 (w0 >> 16),
               f16_to_f32 (w1 & 0xffffu), f16_to_f32 (w1 >> 16));
}

vec4 load_v (uint at, uint c4, uint hd)
{
  uint w0 = vc[at + 2u * c4];
  uint w1 = 4u * c4 + 2u < hd ? vc[at + 2u * c4 + 1u] : 0u;
  return vec4 (f16_to_f32 (w0 & 0xffffu), f16_to_f32 (w0 >> 16),
               f16_to_f32 (w1 & 0xffffu), f16_to_f32 (w1 >> 16));
}

#endif

// Lane j of @x where key 4 * @t4 + j < @nk, else @other.
vec4 mask_keys (vec4 x, uint t4, uint nk, float other)
{
  bvec4 in_tile = lessThan (uvec4 (4u * t4) + uvec4 (0u, 1u, 2u, 3u), uvec4 (nk));
  return mix (vec4 (other), x, in_tile);
}

void main ()
{
  const uint wg = gl_WorkGroupSize.x;
  const uint tid = gl_LocalInvocationID.x;
  const uint kvh = gl_WorkGroupID.x;
  const uint i = gl_WorkGroupID.y;
  const uint s = gl_WorkGroupID.z;
  const uint hd = p.head_dim;
  const uint hd4 = (hd + 3u) / 4u;
  const uint group = p.n_head / p.n_head_kv;
  const uint kv_dim = p.n_head_kv * hd;
  const float neg_inf = uintBitsToFloat (0xff800000u);

  const uint max_keys = now.pos + p.n;
  const uint chunk = (max_keys + now.n_split - 1u) / now.n_split;
  const uint first = s * chunk;
  const uint last = min (first + chunk, now.pos + i + 1u);

  // Heads per pass, and keys per tile (a multiple of 4, at least 8): a
  // tile's keys and its scores for every head of the pass must fit.
  const uint heads = min (min (group, QMAX4 / hd4), HMAX);
  const uint tk = min (TILE4 / hd4, 4u * SMAX4 / heads) & ~3u;
  const uint tk4 = tk / 4u;

  for (uint h0 = 0u; h0 < group; h0 += heads)
    {
      const uint nh = min (heads, group - h0);
      const uint qh0 = kvh * group + h0; // first query head of the pass

      for (uint u = tid; u < nh * hd4; u += wg)
        {
          uint g = u / hd4, c4 = u % hd4;
          uint at = i * p.q_stride + (qh0 + g) * hd + 4u * c4;
          vec4 x = vec4 (0.0);
          for (uint j = 0u; j < 4u && 4u * c4 + j < hd; j++)
            x[j] = ROUND_TO_CACHE (q[at + j]);
          qs[u] = x;
          acc[u] = vec4 (0.0);
        }
      for (uint g = tid; g < nh; g += wg)
        {
          m_run[g] = neg_inf;
          l_run[g] = 0.0;
        }
      barrier ();

      for (uint k0 = first; k0 < last; k0 += tk)
        {
          const uint nk = min (tk, last - k0);
          const uint nk4 = (nk + 3u) / 4u;

          for (uint u = tid; u < nk * hd4; u += wg)
            {
              uint t = u / hd4, c4 = u % hd4;
              tile[u] = load_k (KV_WORD ((k0 + t) * kv_dim + kvh * hd), c4, hd);
            }
          barrier ();

          // Four keys an invocation: one query load serves four key loads.
          // Keys past nk hold stale values, masked out below.
          for (uint u = tid; u < nh * nk4; u += wg)
            {
              uint g = u / nk4, t4 = u % nk4;
              vec4 dot4 = vec4 (0.0);
              for (uint c4 = 0u; c4 < hd4; c4++)
                {
                  vec4 x = qs[g * hd4 + c4];
                  uint at = 4u * t4 * hd4 + c4;
                  dot4 += vec4 (dot (x, tile[at]), dot (x, tile[at + hd4]),
                                dot (x, tile[at + 2u * hd4]), dot (x, tile[at + 3u * hd4]));
                }
              sc[g * tk4 + t4] = dot4 * p.scale;
            }
          barrier ();

          for (uint g = tid; g < nh; g += wg)
            {
              float m_old = m_run[g];
              vec4 m4 = vec4 (m_old);
              for (uint t4 = 0u; t4 < nk4; t4++)
                m4 = max (m4, mask_keys (sc[g * tk4 + t4], t4, nk, m_old));
              float m_new = max (max (m4.x, m4.y), max (m4.z, m4.w));
              // The tile has a key, so m_new is finite; nothing to rescale
              // on the first tile (not left to exp (-inf)).
              alpha[g] = k0 == first ? 0.0 : exp (m_old - m_new);
              m_run[g] = m_new;
            }
          barrier ();

          // Probabilities (0 past nk), and the values over the keys; rows
          // up to 4 * nk4 are zeroed so that stale values cannot give NaN.
          for (uint u = tid; u < nh * nk4; u += wg)
            {
              uint g = u / nk4, t4 = u % nk4;
              vec4 x = exp (mask_keys (sc[g * tk4 + t4], t4, nk, 0.0) - m_run[g]);
              sc[g * tk4 + t4] = mask_keys (x, t4, nk, 0.0);
            }
          for (uint u = tid; u < 4u * nk4 * hd4; u += wg)
            {
              uint t = u / hd4, c4 = u % hd4;
              tile[u] = t < nk ? load_v (KV_WORD ((k0 + t) * kv_dim + kvh * hd), c4, hd) : vec4 (0.0);
            }
          barrier ();

          for (uint u = tid; u < nh * hd4; u += wg)
            {
              uint g = u / hd4, c4 = u % hd4;
              vec4 a = acc[u] * alpha[g];
              for (uint t4 = 0u; t4 < nk4; t4++)
                {
                  vec4 pr = sc[g * tk4 + t4];
                  uint at = 4u * t4 * hd4 + c4;
                  a += pr.x * tile[at] + pr.y * tile[at + hd4]
                       + pr.z * tile[at + 2u * hd4] + pr.w * tile[at + 3u * hd4];
                }
              acc[u] = a;
            }
          for (uint g = tid; g < nh; g += wg)
            {
              vec4 l4 = vec4 (0.0);
              for (uint t4 = 0u; t4 < nk4; t4++)
                l4 += sc[g * tk4 + t4];
              l_run[g] = l_run[g] * alpha[g] + (l4.x + l4.y) + (l4.z + l4.w);
            }
          barrier ();
        }

      if (now.n_split == 1u)
        {
          for (uint u = tid; u < nh * hd; u += wg)
            {
              uint g = u / hd, d = u % hd;
              o[i * p.o_stride + (qh0 + g) * hd + d] = acc[g * hd4 + d / 4u][d % 4u] / l_run[g];
            }
        }
      else
        {
          for (uint u = tid; u < nh * (hd + 2u); u += wg)
            {
              uint g = u / (hd + 2u), e = u % (hd + 2u);
              float x = e == 0u ? m_run[g] : e == 1u ? l_run[g] : acc[g * hd4 + (e - 2u) / 4u][(e - 2u) % 4u];
              part[((i * p.n_head + qh0 + g) * now.n_split + s) * (hd + 2u) + e] = x;
            }
        }
      // The next pass overwrites qs, acc and the running values.
      barrier ();
    }
}
