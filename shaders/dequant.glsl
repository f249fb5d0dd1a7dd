// SPDX-License-Identifier: GPL-3.0-or-later
// Dequantizing rows of a weight tensor. Included after common.glsl and the
// declaration of wq[] (the tensor's bytes as little-endian 32-bit words; or
// a macro WQ (i) that reads word i otherwise),
// with exactly one TYPE_* defined. It gives:
//
//   QK                  elements per block (1 for F32, F16 and BF16)
//   QB                  bytes per block
//   dq1 (row_off, i)    element i of the row at byte offset row_off
//   dq4 (row_off, g)    elements 4g..4g+3 of that row, its block's scales
//                       decoded once and its quants read a word at a time
//                       (the matrix products decode 32 at once: dequant32.glsl)
//
// Values are bit for bit those of the CPU's scalar dequantizers
// (engine/quant/quant-ref.c, which repeat llama.cpp's float operations in
// its order): every float operation is `precise`, so that no compiler fuses
// a multiply and an add into an FMA, and halves go through f16_to_f32 (exact,
// subnormals kept). (Every product here, an f16 times small integers, is
// exact in f32 and at least 2^-24 when not zero, so only a final add or
// subtract rounds; `precise` keeps that so under any compiler.)
//
// Every block size is even, so blocks, and the halves in them, are 2-byte
// aligned, but a block's words need not be 4-byte aligned (Q4_0's blocks are
// 18 bytes): wq_u32_unaligned assembles them.

#if defined(TYPE_F32) + defined(TYPE_F16) + defined(TYPE_BF16) + defined(TYPE_Q4_0) \
  + defined(TYPE_Q4_1) + defined(TYPE_Q5_0) + defined(TYPE_Q5_1) + defined(TYPE_Q8_0) \
  + defined(TYPE_Q2_K) + defined(TYPE_Q3_K) + defined(TYPE_Q4_K) + defined(TYPE_Q5_K) \
  + defined(TYPE_Q6_K) + defined(TYPE_TQ1_0) + defined(TYPE_TQ2_0) != 1
#error "dequant.glsl needs exactly one known TYPE_* defined"
#endif

#ifndef WQ
#define WQ(i) wq[i]
#endif

uint wq_u8 (uint off)
{
  return (WQ (off >> 2) >> ((off & 3u) << 3)) & 0xffu;
}

// @off even.
uint wq_u16 (uint off)
{
  return (WQ (off >> 2) >> ((off & 2u) << 3)) & 0xffffu;
}

// The 4 bytes at any offset, reading only the words that hold them (never
// past the end of the buffer). Without a branch: when @off is aligned, hi is
// lo again and (hi << 1) << 31 is 0 (a shift by 32 would be undefined).
uint wq_u32_unaligned (uint off)
{
  uint s = (off & 3u) << 3;
  uint lo = WQ (off >> 2);
  uint hi = WQ ((off + 3u) >> 2);
  return (lo >> s) | ((hi << 1) << (31u - s));
}

float dq_f16 (uint off)
{
  return f16_to_f32 (wq_u16 (off));
}

// The 4 bytes of @w, low byte first.
uvec4 dq_bytes (uint w)
{
  return (uvec4 (w) >> uvec4 (0u, 8u, 16u, 24u)) & 0xffu;
}

// The 4 bytes of @w as signed bytes.
ivec4 dq_sbytes (uint w)
{
  return ivec4 (uvec4 (w) << uvec4 (24u, 16u, 8u, 0u)) >> 24;
}

#if defined(TYPE_F32)

const uint QK = 1u;
const uint QB = 4u;

float dq1 (uint row_off, uint i)
{
  return uintBitsToFloat (WQ ((row_off >> 2) + i));
}

vec4 dq4 (uint row_off, uint g)
{
  uint w = (row_off >> 2) + 4u * g;
  return uintBitsToFloat (uvec4 (WQ (w), WQ (w + 1u), WQ (w + 2u), WQ (w + 3u)));
}

#elif defined(TYPE_F16)

const uint QK = 1u;
const uint QB = 2u;

float dq1 (uint row_off, uint i)
{
  return dq_f16 (row_off + 2u * i);
}

// Rows of odd length leave every other row 2-byte aligned only.
vec4 dq4 (uint row_off, uint g)
{
  uint a = wq_u32_unaligned (row_off + 8u * g);
  uint b = wq_u32_unaligned (row_off + 8u * g + 4u);
  return vec4 (f16_to_f32 (a & 0xffffu), f16_to_f32 (a >> 16), f16_to_f32 (b & 0xffffu),
               f16_to_f32 (b >> 16));
}

#elif defined(TYPE_BF16)

const uint QK = 1u;
const uint QB = 2u;

float dq1 (uint row_off, uint i)
{
  return bf16_to_f32 (wq_u16 (row_off + 2u * i));
}

vec4 dq4 (uint row_off, uint g)
{
  uint a = wq_u32_unaligned (row_off + 8u * g);
  uint b = wq_u32_unaligned (row_off + 8u * g + 4u);
  return uintBitsToFloat (uvec4 (a << 16, a & 0xffff0000u, b << 16, b & 0xffff0000u));
}

#else // block types: rows are whole blocks, so dq4 may serve dq1

#if defined(TYPE_Q4_0) || defined(TYPE_Q4_1) || defined(TYPE_Q5_0) || defined(TYPE_Q5_1) \
  || defined(TYPE_Q8_0)
const uint QK = 32u;
#else
const uint QK = 256u;
#endif

#if defined(TYPE_Q4_0)

const uint QB = 18u; // f16 d; u8 qs[16]

// Byte j holds element j (low nibble) and element j + 16 (high nibble).
vec4 dq4 (uint row_off, uint g)
{
  uint b = row_off + (g >> 3) * QB;
  uint e = (g & 7u) << 2;
  float d = dq_f16 (b);
  uint w = (wq_u32_unaligned (b + 2u + (e & 15u)) >> ((e & 16u) >> 2)) & 0x0f0f0f0fu;
  precise vec4 y = vec4 (ivec4 (dq_bytes (w)) - 8) * d;
  return y;
}

#elif defined(TYPE_Q4_1)

const uint QB = 20u; // f16 d, m; u8 qs[16]

vec4 dq4 (uint row_off, uint g)
{
  uint b = row_off + (g >> 3) * QB;
  uint e = (g & 7u) << 2;
  uint dm = wq_u32_unaligned (b);
  float d = f16_to_f32 (dm & 0xffffu);
  float m = f16_to_f32 (dm >> 16);
  uint w = (wq_u32_unaligned (b + 4u + (e & 15u)) >> ((e & 16u) >> 2)) & 0x0f0f0f0fu;
  precise vec4 y = vec4 (dq_bytes (w)) * d + m;
  return y;
}

#elif defined(TYPE_Q5_0)

const uint QB = 22u; // f16 d; u8 qh[4]; u8 qs[16]

// Nibbles as Q4_0; bit j of qh (a little-endian u32) is element j's 5th bit.
vec4 dq4 (uint row_off, uint g)
{
  uint b = row_off + (g >> 3) * QB;
  uint e = (g & 7u) << 2;
  float d = dq_f16 (b);
  uint qh = wq_u32_unaligned (b + 2u) >> e;
  uint w = (wq_u32_unaligned (b + 6u + (e & 15u)) >> ((e & 16u) >> 2)) & 0x0f0f0f0fu;
  uvec4 q = dq_bytes (w) | ((uvec4 (qh) >> uvec4 (0u, 1u, 2u, 3u)) & 1u) << 4;
  precise vec4 y = vec4 (ivec4 (q) - 16) * d;
  return y;
}

#elif defined(TYPE_Q5_1)

const uint QB = 24u; // f16 d, m; u8 qh[4]; u8 qs[16]

vec4 dq4 (uint row_off, uint g)
{
  uint b = row_off + (g >> 3) * QB;
  uint e = (g & 7u) << 2;
  uint dm = wq_u32_unaligned (b);
  float d = f16_to_f32 (dm & 0xffffu);
  float m = f16_to_f32 (dm >> 16);
  uint qh = wq_u32_unaligned (b + 4u) >> e;
  uint w = (wq_u32_unaligned (b + 8u + (e & 15u)) >> ((e & 16u) >> 2)) & 0x0f0f0f0fu;
  uvec4 q = dq_bytes (w) | ((uvec4 (qh) >> uvec4 (0u, 1u, 2u, 3u)) & 1u) << 4;
  precise vec4 y = vec4 (q) * d + m;
  return y;
}

#elif defined(TYPE_Q8_0)

const uint QB = 34u; // f16 d; i8 qs[32]

vec4 dq4 (uint row_off, uint g)
{
  uint b = row_off + (g >> 3) * QB;
  uint e = (g & 7u) << 2;
  float d = dq_f16 (b);
  precise vec4 y = vec4 (dq_sbytes (wq_u32_unaligned (b + 2u + e))) * d;
  return y;
}

#elif defined(TYPE_Q2_K)

const uint QB = 84u; // u8 scales[16]; u8 qs[64]; f16 d, dmin

// Element e = 128h + 32s + l has bits 2s..2s+1 of qs[32h + l], and the
// scale byte e / 16 (low nibble: scale, high nibble: min).
vec4 dq4 (uint row_off, uint g)
{
  uint b = row_off + (g >> 6) * QB;
  uint e = (g & 63u) << 2;
  uint shift = ((e >> 5) & 3u) << 1;
  uint dm = wq_u32_unaligned (b + 80u);
  float d = f16_to_f32 (dm & 0xffffu);
  float dmin = f16_to_f32 (dm >> 16);
  uint sc = wq_u8 (b + (e >> 4));
  uint w = (wq_u32_unaligned (b + 16u + ((e >> 7) << 5) + (e & 31u)) >> shift) & 0x03030303u;
  precise float dl = d * float (sc & 15u);
  precise float ml = dmin * float (sc >> 4);
  precise vec4 y = dl * vec4 (dq_bytes (w)) - ml;
  return y;
}

#elif defined(TYPE_Q3_K)

const uint QB = 110u; // u8 hmask[32]; u8 qs[64]; u8 scales[12]; f16 d

// Low bits as Q2_K; bit 4h + s of hmask[l] set means no -4. Sub-block k's
// 6-bit scale: low nibble of scales[k] (k < 8) or high nibble of
// scales[k - 8], and 2 bits of scales[8 + k % 4] at 2 (k / 4).
vec4 dq4 (uint row_off, uint g)
{
  uint b = row_off + (g >> 6) * QB;
  uint e = (g & 63u) << 2;
  uint h = e >> 7;
  uint s = (e >> 5) & 3u;
  uint l = e & 31u;
  uint k = e >> 4;
  float d = dq_f16 (b + 108u);
  uint lo = (wq_u8 (b + 96u + (k & 7u)) >> ((k & 8u) >> 1)) & 15u;
  uint hi = (wq_u8 (b + 104u + (k & 3u)) >> ((k >> 2) << 1)) & 3u;
  int sc = int (lo | hi << 4) - 32;
  uint w = (wq_u32_unaligned (b + 32u + (h << 5) + l) >> (s << 1)) & 0x03030303u;
  uint hm = (wq_u32_unaligned (b + l) >> ((h << 2) + s)) & 0x01010101u;
  ivec4 q = ivec4 (dq_bytes (w)) - 4 + 4 * ivec4 (dq_bytes (hm));
  precise float dl = d * float (sc);
  precise vec4 y = dl * vec4 (q);
  return y;
}

#elif defined(TYPE_Q4_K) || defined(TYPE_Q5_K)

#if defined(TYPE_Q4_K)
const uint QB = 144u; // f16 d, dmin; u8 scales[12]; u8 qs[128]
#else
const uint QB = 176u; // f16 d, dmin; u8 scales[12]; u8 qh[32]; u8 qs[128]
#endif

// The 6-bit (scale, min) of sub-block j, from the 12 scale bytes at @off.
uvec2 dq_k4_scale_min (uint off, uint j)
{
  if (j < 4u)
    return uvec2 (wq_u8 (off + j) & 63u, wq_u8 (off + j + 4u) & 63u);
  uint both = wq_u8 (off + j + 4u);
  return uvec2 ((both & 15u) | (wq_u8 (off + j - 4u) >> 6) << 4,
                (both >> 4) | (wq_u8 (off + j) >> 6) << 4);
}

// Element e = 64c + r: the low (r < 32) or high nibble of qs[32c + r % 32];
// Q5_K's 5th bit is bit 2c + r / 32 of qh[r % 32].
vec4 dq4 (uint row_off, uint g)
{
  uint b = row_off + (g >> 6) * QB;
  uint e = (g & 63u) << 2;
  uint c = e >> 6;
  uint r = e & 63u;
  uint dm = wq_u32_unaligned (b);
  float d = f16_to_f32 (dm & 0xffffu);
  float dmin = f16_to_f32 (dm >> 16);
  uvec2 sm = dq_k4_scale_min (b + 4u, e >> 5);
#if defined(TYPE_Q4_K)
  uint qs = b + 16u;
#else
  uint qs = b + 48u;
#endif
  uint w = (wq_u32_unaligned (qs + (c << 5) + (r & 31u)) >> ((r & 32u) >> 3)) & 0x0f0f0f0fu;
#if defined(TYPE_Q5_K)
  w |= ((wq_u32_unaligned (b + 16u + (r & 31u)) >> ((c << 1) + (r >> 5))) & 0x01010101u) << 4;
#endif
  precise float d1 = d * float (sm.x);
  precise float m1 = dmin * float (sm.y);
  precise vec4 y = d1 * vec4 (dq_bytes (w)) - m1;
  return y;
}

#elif defined(TYPE_Q6_K)

const uint QB = 210u; // u8 ql[128]; u8 qh[64]; i8 scales[16]; f16 d

// Element e = 128h + 32s + l: low 4 bits from ql[64h + 32 (s & 1) + l]
// (low nibble for s < 2), high 2 bits at 2s of qh[32h + l]; scale e / 16.
vec4 dq4 (uint row_off, uint g)
{
  uint b = row_off + (g >> 6) * QB;
  uint e = (g & 63u) << 2;
  uint h = e >> 7;
  uint s = (e >> 5) & 3u;
  uint l = e & 31u;
  float d = dq_f16 (b + 208u);
  int sc = int (wq_u8 (b + 192u + (e >> 4)) << 24) >> 24;
  uint lo = wq_u32_unaligned (b + (h << 6) + ((s & 1u) << 5) + l);
  lo = (lo >> ((s >> 1) << 2)) & 0x0f0f0f0fu;
  uint hi = (wq_u32_unaligned (b + 128u + (h << 5) + l) >> (s << 1)) & 0x03030303u;
  // The reference computes d * scale * q from left to right.
  precise float ds = d * float (sc);
  precise vec4 y = ds * vec4 (ivec4 (dq_bytes (lo | hi << 4)) - 32);
  return y;
}

#elif defined(TYPE_TQ1_0)

const uint QB = 54u; // u8 qs[48]; u8 qh[4]; f16 d

// Trit n of a byte: its top 8 bits, times 3, after multiplying by 3^n mod
// 256. qs[m] (m < 32) holds elements m + 32n, qs[32 + m] (m < 16) elements
// 160 + m + 16n and qh[j] elements 240 + j + 4n: 4 consecutive elements
// always share n and lie in 4 consecutive bytes.
vec4 dq4 (uint row_off, uint g)
{
  uint b = row_off + (g >> 6) * QB;
  uint e = (g & 63u) << 2;
  uint n, off;
  if (e < 160u)
    {
      n = e >> 5;
      off = e & 31u;
    }
  else if (e < 240u)
    {
      n = (e - 160u) >> 4;
      off = 32u + (e & 15u);
    }
  else
    {
      n = (e - 240u) >> 2;
      off = 48u;
    }
  const uint pow3[5] = uint[5] (1u, 3u, 9u, 27u, 81u);
  float d = dq_f16 (b + 52u);
  uvec4 t = (((dq_bytes (wq_u32_unaligned (b + off)) * pow3[n]) & 0xffu) * 3u) >> 8;
  precise vec4 y = vec4 (ivec4 (t) - 1) * d;
  return y;
}

#elif defined(TYPE_TQ2_0)

const uint QB = 66u; // u8 qs[64]; f16 d

// Element e = 128h + 32s + l is bits 2s..2s+1 of qs[32h + l], minus 1.
vec4 dq4 (uint row_off, uint g)
{
  uint b = row_off + (g >> 6) * QB;
  uint e = (g & 63u) << 2;
  float d = dq_f16 (b + 64u);
  uint w = wq_u32_unaligned (b + ((e >> 7) << 5) + (e & 31u));
  w = (w >> (((e >> 5) & 3u) << 1)) & 0x03030303u;
  precise vec4 y = vec4 (ivec4 (dq_bytes (w)) - 1) * d;
  return y;
}

#endif

float dq1 (uint row_off, uint i)
{
  return dq4 (row_off, i >> 2)[i & 3u];
}

#endif
