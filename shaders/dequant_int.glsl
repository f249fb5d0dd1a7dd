// SPDX-License-Identifier: GPL-3.0-or-later
// 32 consecutive elements of a weight row as small integers, for the
// integer path of the matrix-vector products (matvec.comp with INT_DOT).
// Included after dequant32.glsl. For the types that have one (INT_DOT_TYPE
// defined) it gives
//
//   dqi32 (row_off, u, q, ab)   elements 32u..32u+31 of the row at byte
//                               offset row_off as signed bytes, four a word,
//                               into q[8], and the map to their values:
//                               element = ab.x * q + ab.y for the first 16,
//                               ab.z * q + ab.w for the last 16
//
// so that a dot product with activations x = dx * qx is
// dx * (ab.x * sum q qx + ab.y * sum qx + ...), its sums in integers.

// Each byte of @w minus @o (< 128), as signed bytes: no byte borrows from
// the next one, each being at least 128 before the subtraction.
uint sub_bytes (uint w, uint o)
{
  return ((w | 0x80808080u) - o * 0x01010101u) ^ 0x80808080u;
}

#if defined(TYPE_Q4_0) || defined(TYPE_Q8_0) || defined(TYPE_Q4_K) || defined(TYPE_Q6_K) \
  || defined(TYPE_TQ2_0)
#define INT_DOT_TYPE 1
#endif

#if defined(TYPE_Q4_0)

// Byte j holds element j (low nibble) and element j + 16 (high nibble),
// each 8 more than its integer.
void dqi32 (uint row_off, uint u, out uint q[8], out vec4 ab)
{
  uint b = row_off + u * QB;
  float d = dq_f16 (b);
  uint s = ((b + 2u) & 3u) << 3, base = (b + 2u) >> 2;
  uint words[5];
  [[unroll]] for (uint k = 0; k < 4; k++)
    words[k] = WQ (base + k);
  words[4] = WQ ((b + 17u) >> 2);
  [[unroll]] for (uint k = 0; k < 4; k++)
    {
      uint w = (words[k] >> s) | ((words[k + 1] << 1) << (31u - s));
      q[k] = sub_bytes (w & 0x0f0f0f0fu, 8u);
      q[k + 4] = sub_bytes ((w >> 4) & 0x0f0f0f0fu, 8u);
    }
  ab = vec4 (d, 0.0, d, 0.0);
}

#elif defined(TYPE_Q8_0)

void dqi32 (uint row_off, uint u, out uint q[8], out vec4 ab)
{
  uint b = row_off + u * QB;
  float d = dq_f16 (b);
  wq_span32 (b + 2u, q);
  ab = vec4 (d, 0.0, d, 0.0);
}

#elif defined(TYPE_Q4_K)

// As dq32: sub-block j = u % 8, nibbles of qs[32 (j / 2)..], scale d * sc
// and minimum dmin * m.
void dqi32 (uint row_off, uint u, out uint q[8], out vec4 ab)
{
  uint b = row_off + (u >> 3) * QB;
  uint j = u & 7u;
  uvec4 h = WQ16 (b >> 4);
  float d = f16_to_f32 (h.x & 0xffffu);
  float dmin = f16_to_f32 (h.x >> 16);
  uint sc, m;
  if (j < 4u)
    {
      sc = dq_k4_scale_byte (h, j) & 63u;
      m = dq_k4_scale_byte (h, j + 4u) & 63u;
    }
  else
    {
      uint both = dq_k4_scale_byte (h, j + 4u);
      sc = (both & 15u) | (dq_k4_scale_byte (h, j - 4u) >> 6) << 4;
      m = (both >> 4) | (dq_k4_scale_byte (h, j) >> 6) << 4;
    }
  precise float d1 = d * float (sc);
  precise float m1 = dmin * float (m);
  uint qs = (b + 16u + ((j >> 1) << 5)) >> 4;
  uvec4 q0 = WQ16 (qs), q1 = WQ16 (qs + 1u);
  uint w[8] = uint[8] (q0.x, q0.y, q0.z, q0.w, q1.x, q1.y, q1.z, q1.w);
  uint shift = (j & 1u) << 2;
  [[unroll]] for (uint k = 0; k < 8; k++)
    q[k] = (w[k] >> shift) & 0x0f0f0f0fu;
  ab = vec4 (d1, -m1, d1, -m1);
}

#elif defined(TYPE_Q6_K)

// As dq32: 6-bit values 32 more than their integer, a scale for each 16.
void dqi32 (uint row_off, uint u, out uint q[8], out vec4 ab)
{
  uint b = row_off + (u >> 3) * QB;
  uint j = u & 7u;
  uint h = j >> 2, s = j & 3u;
  float d = dq_f16 (b + 208u);
  uint scales = wq_u16 (b + 192u + (h << 3) + (s << 1));
  int sc0 = int (scales << 24) >> 24, sc1 = int (scales << 16) >> 24;
  precise float ds0 = d * float (sc0);
  precise float ds1 = d * float (sc1);
  uint lo[8], hi[8];
  wq_span32 (b + (h << 6) + ((s & 1u) << 5), lo);
  wq_span32 (b + 128u + (h << 5), hi);
  uint lo_shift = (s >> 1) << 2, hi_shift = s << 1;
  [[unroll]] for (uint k = 0; k < 8; k++)
    q[k] = sub_bytes (((lo[k] >> lo_shift) & 0x0f0f0f0fu) | ((hi[k] >> hi_shift) & 0x03030303u) << 4, 32u);
  ab = vec4 (ds0, 0.0, ds1, 0.0);
}

#elif defined(TYPE_TQ2_0)

// As dq32: 2-bit values 1 more than their integer.
void dqi32 (uint row_off, uint u, out uint q[8], out vec4 ab)
{
  uint b = row_off + (u >> 3) * QB;
  uint j = u & 7u;
  float d = dq_f16 (b + 64u);
  uint w[8];
  wq_span32 (b + ((j >> 2) << 5), w);
  uint shift = (j & 3u) << 1;
  [[unroll]] for (uint k = 0; k < 8; k++)
    q[k] = sub_bytes ((w[k] >> shift) & 0x03030303u, 1u);
  ab = vec4 (d, 0.0, d, 0.0);
}

#endif
