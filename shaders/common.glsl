// SPDX-License-Identifier: GPL-3.0-or-later
// What every compute shader shares. Buffers are arrays of 32-bit words,
// read and written without the 8- and 16-bit storage features (devices
// that lack them run the same shaders); halves are converted here with
// round-to-nearest-even, bit for bit as the CPU backend converts them
// (packHalf2x16 leaves the rounding to the implementation).

// The f16 bits nearest to @f, ties to even; overflow gives infinity.
uint f32_to_f16 (float f)
{
  uint x = floatBitsToUint (f);
  uint sign = (x >> 16) & 0x8000u;
  uint e = (x >> 23) & 0xffu;
  uint m = x & 0x7fffffu;

  if (e == 0xffu)
    return sign | 0x7c00u | (m != 0u ? 0x200u | (m >> 13) : 0u);
  int exp = int (e) - 127 + 15;
  if (exp >= 31)
    return sign | 0x7c00u;
  if (exp <= 0)
    {
      // Subnormal (or zero): shift the mantissa, with its implicit one,
      // right and round to nearest even.
      if (exp < -10)
        return sign;
      m |= 0x800000u;
      uint shift = uint (14 - exp);
      uint h = m >> shift;
      uint rest = m & ((1u << shift) - 1u);
      uint half_way = 1u << (shift - 1u);
      if (rest > half_way || (rest == half_way && (h & 1u) != 0u))
        h++;
      return sign | h;
    }
  uint h = (uint (exp) << 10) | (m >> 13);
  uint rest = m & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (h & 1u) != 0u))
    h++; // a carry into the exponent rounds up to the next binade or infinity
  return sign | h;
}

// Exact, subnormals included (unpackHalf2x16 may flush them).
float f16_to_f32 (uint h)
{
  uint sign = (h & 0x8000u) << 16;
  uint e = (h >> 10) & 0x1fu;
  uint m = h & 0x3ffu;

  if (e == 0u)
    return uintBitsToFloat (sign | floatBitsToUint (float (m) * exp2 (-24.0)));
  if (e == 31u)
    return uintBitsToFloat (sign | 0x7f800000u | (m << 13));
  return uintBitsToFloat (sign | ((e + 112u) << 23) | (m << 13));
}

float bf16_to_f32 (uint b)
{
  return uintBitsToFloat ((b & 0xffffu) << 16);
}
