// SPDX-License-Identifier: GPL-3.0-or-later
// y = the activations x rounded as the CPU backend quantizes them to a
// weight type's vec_dot type (tern_quant_quantize_activations), then
// dequantized (tern_quant_dequant_row): the values the CPU's dot products
// multiply, bit for bit. Compiled with one of ACT_F16, ACT_BF16, ACT_Q8_0,
// ACT_Q8_1 (its y is Q8_0's: s is not a per-value quantity) or ACT_Q8_K.
//
// Dispatch: (ceil (n_cols / SPAN), n_rows, 1) workgroups, where SPAN is the
// workgroup size for F16 and BF16, and for the block types (B = 32 for
// Q8_0 / Q8_1, 256 for Q8_K) max (WG / B, 1) * B: 64 and 256 for WG = 64.
// The block types need n_cols to be a multiple of B. A block is taken by
// min (WG, B) threads, consecutive columns to consecutive threads; they
// find its largest magnitude in shared memory.
//
// With ACT_PACK (block types only), for the integer dot products of
// matvec.comp's integer path, y holds the quantized values themselves:
// row r's region of `stride` words holds its n_cols values as signed bytes,
// four a word, then each 32-column unit's scale (its block's d) as an f32.
// A block with an infinity or NaN gets zeros and a NaN scale.
//
// Exactness: Vulkan lets a division be 2.5 ulp off and may fuse a multiply
// and an add, so divisions are done in integers (div_rn) and products are
// precise. Scales and values that fall below FLT_MIN (|x| < ~1.5e-36, where
// the CPU itself aborts on an infinite inverse scale) are not covered: a
// device may flush denormals to zero. Blocks with an infinity or NaN give
// the CPU's NaN, 0x7fc00000, throughout.
#version 450
#include "common.glsl"

#ifdef ACT_F16
#define ACT_IS_F16 1
#else
#define ACT_IS_F16 0
#endif
#ifdef ACT_BF16
#define ACT_IS_BF16 1
#else
#define ACT_IS_BF16 0
#endif
#ifdef ACT_Q8_0
#define ACT_IS_Q8_0 1
#else
#define ACT_IS_Q8_0 0
#endif
#ifdef ACT_Q8_1
#define ACT_IS_Q8_1 1
#else
#define ACT_IS_Q8_1 0
#endif
#ifdef ACT_Q8_K
#define ACT_IS_Q8_K 1
#else
#define ACT_IS_Q8_K 0
#endif
#if ACT_IS_F16 + ACT_IS_BF16 + ACT_IS_Q8_0 + ACT_IS_Q8_1 + ACT_IS_Q8_K != 1
#error "define exactly one of ACT_F16, ACT_BF16, ACT_Q8_0, ACT_Q8_1, ACT_Q8_K"
#endif

layout (local_size_x_id = 0) in;
layout (set = 0, binding = 0) readonly buffer X { float x[]; };
#ifdef ACT_PACK
layout (set = 0, binding = 1) buffer Y { uint y[]; };
#else
layout (set = 0, binding = 1) buffer Y { float y[]; };
#endif

layout (push_constant) uniform P {
  uint n_cols;
  uint stride; // floats from one row to the next, in x and y
} p;

#if defined(ACT_F16) || defined(ACT_BF16)

void main ()
{
  const uint col = gl_WorkGroupID.x * gl_WorkGroupSize.x + gl_LocalInvocationID.x;
  if (col >= p.n_cols)
    return;
  const uint i = gl_WorkGroupID.y * p.stride + col;
  const uint u = floatBitsToUint (x[i]);
#if defined(ACT_F16)
  y[i] = f16_to_f32 (f32_to_f16 (uintBitsToFloat (u)));
#else
  // tern_fp32_to_bf16: ties to even, a NaN made quiet.
  uint b = (u & 0x7fffffffu) > 0x7f800000u ? (u >> 16) | 0x40u : (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
  y[i] = bf16_to_f32 (b);
#endif
}

#else

#if defined(ACT_Q8_K)
#define B 256u
#else
#define B 32u
#endif

const uint NONFINITE = 0xffffffffu; // a key above every finite magnitude's bits
#define CPU_NAN uintBitsToFloat (0x7fc00000u) // C's NAN, as the CPU leaves it

// Magnitudes' bits (NONFINITE for an infinity or NaN): as unsigned integers
// they order as the floats do.
shared uint keys[gl_WorkGroupSize.x];
#if defined(ACT_Q8_K)
// The column in the block of the first value of that magnitude.
shared uint cols[gl_WorkGroupSize.x];
#endif

// a / b rounded to nearest even, as the CPU divides, for finite a, b > 0
// (subnormals included): 25 quotient bits by long division, then a sticky
// bit from the remainder.
float div_rn (float a, float b)
{
  uint ua = floatBitsToUint (a), ub = floatBitsToUint (b);
  int ea = int (ua >> 23), eb = int (ub >> 23);
  uint ma = ua & 0x7fffffu, mb = ub & 0x7fffffu;
  if (ea == 0)
    {
      int s = 23 - findMSB (ma);
      ma <<= uint (s);
      ea = 1 - s;
    }
  else
    ma |= 0x800000u;
  if (eb == 0)
    {
      int s = 23 - findMSB (mb);
      mb <<= uint (s);
      eb = 1 - s;
    }
  else
    mb |= 0x800000u;

  int e = ea - eb; // a / b = ma / mb * 2^e
  if (ma < mb)
    {
      ma <<= 1;
      e--;
    }
  uint q = 0u, r = ma; // r < 2 * mb < 2^25 throughout
  for (int i = 0; i < 25; i++)
    {
      q <<= 1;
      if (r >= mb)
        {
          r -= mb;
          q |= 1u;
        }
      r <<= 1;
    }
  // a / b = (q + r / (2 mb)) * 2^(e - 24), q in [2^24, 2^25).
  int E = e + 127; // the biased exponent, if normal
  uint extra = E >= 1 ? 0u : uint (min (1 - E, 25));
  uint sh = 1u + extra;
  uint m = q >> sh;
  uint rest = q & ((1u << sh) - 1u);
  uint half_way = 1u << extra;
  if (rest > half_way || (rest == half_way && (r != 0u || (m & 1u) != 0u)))
    m++;
  if (E < 1)
    return uintBitsToFloat (m); // subnormal; 2^23 is FLT_MIN's bits
  if (m == 0x1000000u)
    {
      m >>= 1;
      E++;
    }
  if (E >= 255)
    return uintBitsToFloat (0x7f800000u);
  return uintBitsToFloat ((uint (E) << 23) | (m & 0x7fffffu));
}

// quantize.c's nearest_int: ties to even, by the magic number.
int nearest_int (float v)
{
  precise float t = v + 12582912.0;
  return (floatBitsToInt (t) & 0x007fffff) - 0x00400000;
}

#ifdef ACT_PACK
// Writes the block's values, quantized by quant (), and its scale @d into
// the packed layout; @x0 is the block's first value in x, @row its row.
#define WRITE_PACKED(x0, row, d)                                                          \
  for (uint c4 = lane; c4 < B / 4u; c4 += lanes)                                          \
    {                                                                                     \
      uint word = 0u;                                                                     \
      for (uint k = 0u; k < 4u; k++)                                                      \
        word |= (uint (quant (x[x0 + 4u * c4 + k])) & 0xffu) << (8u * k);                 \
      y[row * p.stride + col0 / 4u + c4] = word;                                          \
    }                                                                                     \
  for (uint s = lane; s < B / 32u; s += lanes)                                            \
    y[row * p.stride + p.n_cols / 4u + col0 / 32u + s] = floatBitsToUint (d);
#endif

void main ()
{
  const uint wg = gl_WorkGroupSize.x, tid = gl_LocalInvocationID.x;
  const uint lanes = min (wg, B); // threads per block
  const uint slot = tid / lanes, lane = tid % lanes;
  const uint col0 = (gl_WorkGroupID.x * max (wg / B, 1u) + slot) * B;
  const bool live = slot < max (wg / B, 1u) && col0 < p.n_cols;
  const uint base = gl_WorkGroupID.y * p.stride + col0;

  // Each thread's largest magnitude, the first of it for Q8_K.
  uint key = 0u;
#if defined(ACT_Q8_K)
  uint first = 0u;
#endif
  if (live)
    for (uint c = lane; c < B; c += lanes)
      {
        uint k = floatBitsToUint (x[base + c]) & 0x7fffffffu;
        k = k >= 0x7f800000u ? NONFINITE : k;
#if defined(ACT_Q8_K)
        if (k > key)
          {
            key = k;
            first = c;
          }
#else
        key = max (key, k);
#endif
      }
  keys[tid] = key;
#if defined(ACT_Q8_K)
  cols[tid] = first;
#endif
  barrier ();
  for (uint s = lanes > 1u ? 1u << uint (findMSB (lanes - 1u)) : 0u; s > 0u; s >>= 1)
    {
      if (lane < s && lane + s < lanes)
        {
          uint k = keys[tid + s];
#if defined(ACT_Q8_K)
          uint c = cols[tid + s];
          if (k > keys[tid] || (k == keys[tid] && c < cols[tid]))
            {
              keys[tid] = k;
              cols[tid] = c;
            }
#else
          keys[tid] = max (keys[tid], k);
#endif
        }
      barrier ();
    }
  if (!live)
    return;
  key = keys[slot * lanes];
  const float amax = uintBitsToFloat (key);

#if defined(ACT_Q8_K)
  // tern_quant_quantize_row_q8_K: iscale = -127 / max, d = 1 / iscale.
  if (key == NONFINITE || key == 0u)
    {
      const float v = key == 0u ? 0.0 : CPU_NAN;
#ifdef ACT_PACK
#define quant(value) 0
      WRITE_PACKED (base, gl_WorkGroupID.y, v);
#undef quant
#else
      for (uint c = lane; c < B; c += lanes)
        y[base + c] = v;
#endif
      return;
    }
  const bool neg = x[base + cols[slot * lanes]] < 0.0;
  const float ai = div_rn (127.0, amax);
  const float iscale = neg ? ai : -ai;
  const float ad = div_rn (1.0, ai);
  const float d = neg ? ad : -ad;
#ifdef ACT_PACK
#define quant(value) min (127, nearest_int (iscale * (value)))
  WRITE_PACKED (base, gl_WorkGroupID.y, d);
#else
  for (uint c = lane; c < B; c += lanes)
    {
      precise float t = iscale * x[base + c];
      int q = min (127, nearest_int (t));
      precise float v = d * float (q);
      y[base + c] = v;
    }
#endif
#else
  // quantize.c's act_block_q8: d = amax / 127, id = 127 / amax, d stored
  // as f16.
  if (key == NONFINITE)
    {
#ifdef ACT_PACK
#define quant(value) 0
      WRITE_PACKED (base, gl_WorkGroupID.y, CPU_NAN);
#undef quant
#else
      for (uint c = lane; c < B; c += lanes)
        y[base + c] = CPU_NAN;
#endif
      return;
    }
  const float d = key == 0u ? 0.0 : f16_to_f32 (f32_to_f16 (div_rn (amax, 127.0)));
  const float id = key == 0u ? 0.0 : div_rn (127.0, amax);
#ifdef ACT_PACK
#define quant(value) nearest_int ((value) * id)
  WRITE_PACKED (base, gl_WorkGroupID.y, d);
#else
  for (uint c = lane; c < B; c += lanes)
    {
      precise float t = x[base + c] * id;
      int q = nearest_int (t);
      precise float v = float (q) * d;
      y[base + c] = v;
    }
#endif
#endif
}

#endif
