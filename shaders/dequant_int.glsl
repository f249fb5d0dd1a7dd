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

void dqi32 (uint row_off, uint u, out uint q[8], out vec4 ab)
{
  float d1, m1;
  dq_q4k_unit (row_off, u, q, d1, m1);
  ab = vec4 (d1, -m1, d1, -m1);
}

#elif defined(TYPE_Q6_K)

void dqi32 (uint row_off, uint u, out uint q[8], out vec4 ab)
{
  uint w[8];
  float ds0, ds1;
  dq_q6k_unit (row_off, u, w, ds0, ds1);
  [[unroll]] for (uint k = 0; k < 8; k++)
    q[k] = sub_bytes (w[k], 32u);
  ab = vec4 (ds0, 0.0, ds1, 0.0);
}

#elif defined(TYPE_TQ2_0)

void dqi32 (uint row_off, uint u, out uint q[8], out vec4 ab)
{
  uint w[8];
  float d;
  dq_tq2_unit (row_off, u, w, d);
  [[unroll]] for (uint k = 0; k < 8; k++)
    q[k] = sub_bytes (w[k], 1u);
  ab = vec4 (d, 0.0, d, 0.0);
}

#endif
