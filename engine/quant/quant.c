/* SPDX-License-Identifier: GPL-3.0-or-later */

/* Run-time choice of tensor type kernels: the CPU's features are read once
 * and each getter returns the best kernel the CPU can run. */

#include "quant-private.h"

#if defined(__x86_64__)
#include <cpuid.h>
#endif

static const TernType vec_dot_types[TERN_TYPE_COUNT] = {
  [TERN_TYPE_F32] = TERN_TYPE_F32,
  [TERN_TYPE_F16] = TERN_TYPE_F16,
  [TERN_TYPE_BF16] = TERN_TYPE_BF16,
  [TERN_TYPE_Q4_0] = TERN_TYPE_Q8_0,
  [TERN_TYPE_Q4_1] = TERN_TYPE_Q8_1,
  [TERN_TYPE_Q5_0] = TERN_TYPE_Q8_0,
  [TERN_TYPE_Q5_1] = TERN_TYPE_Q8_1,
  [TERN_TYPE_Q8_0] = TERN_TYPE_Q8_0,
  [TERN_TYPE_Q2_K] = TERN_TYPE_Q8_K,
  [TERN_TYPE_Q3_K] = TERN_TYPE_Q8_K,
  [TERN_TYPE_Q4_K] = TERN_TYPE_Q8_K,
  [TERN_TYPE_Q5_K] = TERN_TYPE_Q8_K,
  [TERN_TYPE_Q6_K] = TERN_TYPE_Q8_K,
  [TERN_TYPE_TQ1_0] = TERN_TYPE_Q8_K,
  [TERN_TYPE_TQ2_0] = TERN_TYPE_Q8_K,
};

static const TernQuantizeRowFn quantizers[TERN_TYPE_COUNT] = {
  [TERN_TYPE_F32] = tern_quant_quantize_row_f32,
  [TERN_TYPE_F16] = tern_quant_quantize_row_f16,
  [TERN_TYPE_BF16] = tern_quant_quantize_row_bf16,
  [TERN_TYPE_Q4_0] = tern_quant_quantize_row_q4_0,
  [TERN_TYPE_Q8_0] = tern_quant_quantize_row_q8_0,
  [TERN_TYPE_Q8_1] = tern_quant_quantize_row_q8_1,
  [TERN_TYPE_Q8_K] = tern_quant_quantize_row_q8_K,
  [TERN_TYPE_Q4_K] = tern_quant_quantize_row_q4_K,
  [TERN_TYPE_Q6_K] = tern_quant_quantize_row_q6_K,
  [TERN_TYPE_TQ1_0] = tern_quant_quantize_row_tq1_0,
  [TERN_TYPE_TQ2_0] = tern_quant_quantize_row_tq2_0,
};

/* Where llama.cpp's x86 builds quantize activations differently. */
static const TernQuantizeRowFn activation_quantizers[TERN_TYPE_COUNT] = {
  [TERN_TYPE_F32] = tern_quant_quantize_row_f32,
  [TERN_TYPE_F16] = tern_quant_quantize_row_f16,
  [TERN_TYPE_BF16] = tern_quant_quantize_row_bf16,
  [TERN_TYPE_Q8_0] = tern_quant_quantize_act_q8_0,
  [TERN_TYPE_Q8_1] = tern_quant_quantize_act_q8_1,
  [TERN_TYPE_Q8_K] = tern_quant_quantize_row_q8_K,
};

static TernKernelLevel
detect_cpu (void)
{
#if defined(__x86_64__)
  /* __builtin_cpu_supports also checks that the OS saves the wider
   * registers; clang's lacks "f16c", so that one comes from CPUID. */
  unsigned int eax, ebx, ecx = 0, edx;
  __builtin_cpu_init ();
  gboolean f16c = __get_cpuid (1, &eax, &ebx, &ecx, &edx) && (ecx & bit_F16C);
  gboolean avx2 = __builtin_cpu_supports ("avx2") && __builtin_cpu_supports ("fma") && f16c;
  gboolean avx512 = avx2 && __builtin_cpu_supports ("avx512f")
                    && __builtin_cpu_supports ("avx512bw") && __builtin_cpu_supports ("avx512vl")
                    && __builtin_cpu_supports ("avx512dq")
                    && __builtin_cpu_supports ("avx512vnni");
  return avx512 ? TERN_KERNEL_AVX512 : avx2 ? TERN_KERNEL_AVX2 : TERN_KERNEL_SCALAR;
#else
  return TERN_KERNEL_SCALAR;
#endif
}

static TernKernelLevel
cpu_level (void)
{
  static gsize once = 0;
  static TernKernelLevel level;
  if (g_once_init_enter (&once))
    {
      level = detect_cpu ();
      g_once_init_leave (&once, 1);
    }
  return level;
}

/* Levels above TERN_KERNEL's count as missing, as on a smaller CPU: tests
 * can then see how they report a level they cannot run. */
gboolean
tern_cpu_supports_kernel (TernKernelLevel level)
{
  return level == TERN_KERNEL_BEST || level <= tern_cpu_best_kernel ();
}

TernKernelLevel
tern_cpu_best_kernel (void)
{
  static gsize once = 0;
  static TernKernelLevel best;
  if (g_once_init_enter (&once))
    {
      best = cpu_level ();
      const char *env = g_getenv ("TERN_KERNEL");
      for (TernKernelLevel l = TERN_KERNEL_SCALAR; env && l < best; l++)
        if (g_ascii_strcasecmp (env, tern_kernel_level_name (l)) == 0)
          best = l;
      g_once_init_leave (&once, 1);
    }
  return best;
}

const char *
tern_kernel_level_name (TernKernelLevel level)
{
  switch (level)
    {
    case TERN_KERNEL_SCALAR:
      return "scalar";
    case TERN_KERNEL_AVX2:
      return "avx2";
    case TERN_KERNEL_AVX512:
      return "avx512";
    case TERN_KERNEL_BEST:
      return "best";
    }
  g_assert_not_reached ();
}

static const TernKernelTable *
table_at (TernKernelLevel level)
{
  switch (level)
    {
#if defined(__x86_64__)
    case TERN_KERNEL_AVX512:
      return &tern_quant_kernels_avx512;
    case TERN_KERNEL_AVX2:
      return &tern_quant_kernels_avx2;
#endif
    default:
      return &tern_quant_kernels_scalar;
    }
}

static gboolean
valid_type (TernType type)
{
  return (guint) type < TERN_TYPE_COUNT && tern_type_info (type) != NULL;
}

TernDequantRowFn
tern_quant_dequant_row_at (TernType type, TernKernelLevel level)
{
  if (level == TERN_KERNEL_BEST)
    level = tern_cpu_best_kernel ();
  if (!valid_type (type) || !tern_cpu_supports_kernel (level))
    return NULL;
  return table_at (level)->dequant[type];
}

TernDequantRowFn
tern_quant_dequant_row (TernType type)
{
  if (!valid_type (type))
    return NULL;
  for (int l = tern_cpu_best_kernel (); l >= TERN_KERNEL_SCALAR; l--)
    if (table_at (l)->dequant[type])
      return table_at (l)->dequant[type];
  return NULL;
}

TernQuantizeRowFn
tern_quant_quantize_row (TernType type)
{
  return valid_type (type) ? quantizers[type] : NULL;
}

TernQuantizeRowFn
tern_quant_quantize_activations (TernType type)
{
  return valid_type (type) ? activation_quantizers[type] : NULL;
}

TernType
tern_quant_vec_dot_type (TernType type)
{
  if (!valid_type (type) || table_at (TERN_KERNEL_SCALAR)->vec_dot[type] == NULL)
    return TERN_TYPE_COUNT;
  return vec_dot_types[type];
}

TernVecDotFn
tern_quant_vec_dot (TernType type, TernKernelLevel level)
{
  if (level == TERN_KERNEL_BEST)
    level = tern_cpu_best_kernel ();
  if (!valid_type (type) || !tern_cpu_supports_kernel (level))
    return NULL;
  for (int l = level; l >= TERN_KERNEL_SCALAR; l--)
    if (table_at (l)->vec_dot[type])
      return table_at (l)->vec_dot[type];
  return NULL;
}

TernDotTileFn
tern_quant_dot_tile (TernType type, TernKernelLevel level)
{
  if (level == TERN_KERNEL_BEST)
    level = tern_cpu_best_kernel ();
  if (!valid_type (type) || !tern_cpu_supports_kernel (level))
    return NULL;
  /* The level that gives the vec_dot also gives the tile. */
  for (int l = level; l >= TERN_KERNEL_SCALAR; l--)
    if (table_at (l)->vec_dot[type])
      return table_at (l)->dot_tile[type];
  return NULL;
}
