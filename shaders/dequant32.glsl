// SPDX-License-Identifier: GPL-3.0-or-later
// 32 consecutive elements of a weight row at once, for the matrix-vector
// products. Included after dequant.glsl and a macro WQ16 (i) that reads
// the tensor's 16-byte word i. It gives
//
//   dq32 (row_off, u, w)   elements 32u..32u+31 of the row at byte offset
//                          row_off into w[8]
//
// with the values of dq4, bit for bit (the same `precise` expressions), but
// with each block's scales decoded once and its quants read in as few loads
// as the layout allows: a load is what costs on a CPU-type device (lavapipe
// reads a buffer one invocation at a time). Types without their own dq32
// take eight dq4 calls. Q4_K, Q6_K and TQ2_0 decode a unit's quants as
// bytes and its scales in dq_*_unit, which the integer path
// (dequant_int.glsl) shares.

// The 8 words of the 32 bytes at the even offset @off, in 9 word loads
// (when @off is word-aligned the last one reads word 7 again, never past
// the span).
void wq_span32 (uint off, out uint w[8])
{
  uint s = (off & 3u) << 3;
  uint base = off >> 2;
  uint words[9];
  [[unroll]] for (uint k = 0; k < 8; k++)
    words[k] = WQ (base + k);
  words[8] = WQ ((off + 31u) >> 2);
  // (hi << 1) << (31 - s) is hi << (32 - s), and 0 when s is 0.
  [[unroll]] for (uint k = 0; k < 8; k++)
    w[k] = (words[k] >> s) | ((words[k + 1] << 1) << (31u - s));
}

#if defined(TYPE_Q8_0)

void dq32 (uint row_off, uint u, out vec4 w[8])
{
  uint b = row_off + u * QB;
  float d = dq_f16 (b);
  uint q[8];
  wq_span32 (b + 2u, q);
  [[unroll]] for (uint k = 0; k < 8; k++)
    {
      precise vec4 y = vec4 (dq_sbytes (q[k])) * d;
      w[k] = y;
    }
}

#elif defined(TYPE_Q4_K)

// Byte @i of the 12 scale bytes, which are words 1..3 of a block's first
// 16 bytes @h.
uint dq_k4_scale_byte (uvec4 h, uint i)
{
  uint word = i < 4u ? h.y : (i < 8u ? h.z : h.w);
  return (word >> ((i & 3u) << 3)) & 0xffu;
}

// Sub-block j = u % 8 of its block: 32 nibbles of qs[32 (j / 2)..], low
// ones for even j, into q[8] as bytes; its scale d1 and minimum m1
// (element = d1 * q - m1), as dq_k4_scale_min.
void dq_q4k_unit (uint row_off, uint u, out uint q[8], out float d1, out float m1)
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
  precise float scaled = d * float (sc);
  precise float least = dmin * float (m);
  d1 = scaled;
  m1 = least;
  uint qs = (b + 16u + ((j >> 1) << 5)) >> 4;
  uvec4 q0 = WQ16 (qs), q1 = WQ16 (qs + 1u);
  uint w[8] = uint[8] (q0.x, q0.y, q0.z, q0.w, q1.x, q1.y, q1.z, q1.w);
  uint shift = (j & 1u) << 2;
  [[unroll]] for (uint k = 0; k < 8; k++)
    q[k] = (w[k] >> shift) & 0x0f0f0f0fu;
}

void dq32 (uint row_off, uint u, out vec4 w[8])
{
  uint q[8];
  float d1, m1;
  dq_q4k_unit (row_off, u, q, d1, m1);
  [[unroll]] for (uint k = 0; k < 8; k++)
    {
      precise vec4 y = d1 * vec4 (dq_bytes (q[k])) - m1;
      w[k] = y;
    }
}

#elif defined(TYPE_Q6_K)

// Elements 128h + 32s + 0..31 (j = u % 8 = 4h + s): low bits from 32
// bytes of ql, high bits from 32 of qh, into q[8] as bytes 32 more than
// their integer; the scales of each 16, d times scales 8h + 2s and the next.
void dq_q6k_unit (uint row_off, uint u, out uint q[8], out float ds0, out float ds1)
{
  uint b = row_off + (u >> 3) * QB;
  uint j = u & 7u;
  uint h = j >> 2, s = j & 3u;
  float d = dq_f16 (b + 208u);
  uint scales = wq_u16 (b + 192u + (h << 3) + (s << 1));
  int sc0 = int (scales << 24) >> 24, sc1 = int (scales << 16) >> 24;
  precise float first = d * float (sc0);
  precise float second = d * float (sc1);
  ds0 = first;
  ds1 = second;
  uint lo[8], hi[8];
  wq_span32 (b + (h << 6) + ((s & 1u) << 5), lo);
  wq_span32 (b + 128u + (h << 5), hi);
  uint lo_shift = (s >> 1) << 2, hi_shift = s << 1;
  [[unroll]] for (uint k = 0; k < 8; k++)
    q[k] = ((lo[k] >> lo_shift) & 0x0f0f0f0fu) | ((hi[k] >> hi_shift) & 0x03030303u) << 4;
}

void dq32 (uint row_off, uint u, out vec4 w[8])
{
  uint q[8];
  float ds0, ds1;
  dq_q6k_unit (row_off, u, q, ds0, ds1);
  [[unroll]] for (uint k = 0; k < 8; k++)
    {
      precise vec4 y = (k < 4u ? ds0 : ds1) * vec4 (ivec4 (dq_bytes (q[k])) - 32);
      w[k] = y;
    }
}

#elif defined(TYPE_TQ2_0)

// Elements 128h + 32s + 0..31 (j = u % 8 = 4h + s): bits 2s of 32 bytes
// of qs, into q[8] as bytes 1 more than their integer; the scale d.
void dq_tq2_unit (uint row_off, uint u, out uint q[8], out float d)
{
  uint b = row_off + (u >> 3) * QB;
  uint j = u & 7u;
  d = dq_f16 (b + 64u);
  uint w[8];
  wq_span32 (b + ((j >> 2) << 5), w);
  uint shift = (j & 3u) << 1;
  [[unroll]] for (uint k = 0; k < 8; k++)
    q[k] = (w[k] >> shift) & 0x03030303u;
}

void dq32 (uint row_off, uint u, out vec4 w[8])
{
  uint q[8];
  float d;
  dq_tq2_unit (row_off, u, q, d);
  [[unroll]] for (uint k = 0; k < 8; k++)
    {
      precise vec4 y = vec4 (ivec4 (dq_bytes (q[k])) - 1) * d;
      w[k] = y;
    }
}

#else

void dq32 (uint row_off, uint u, out vec4 w[8])
{
  [[unroll]] for (uint k = 0; k < 8; k++)
    w[k] = dq4 (row_off, 8u * u + k);
}

#endif
