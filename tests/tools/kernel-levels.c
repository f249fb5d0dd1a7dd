/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "kernel-levels.h"

#if defined(__x86_64__)
#include <cpuid.h>
#endif

/* The CPU features the engine needs for @level that this CPU lacks, found
 * here with the compiler's and CPUID's own checks, as "avx512f, avx512vnni";
 * NULL when none is missing. */
static char *
missing_features (TernKernelLevel level)
{
  g_autoptr (GString) missing = g_string_new (NULL);
#if defined(__x86_64__)
  unsigned int eax, ebx, ecx = 0, edx;
  __builtin_cpu_init ();
  /* clang's __builtin_cpu_supports lacks "f16c". */
  gboolean f16c = __get_cpuid (1, &eax, &ebx, &ecx, &edx) && (ecx & bit_F16C);
  const struct { TernKernelLevel level; const char *name; gboolean present; } features[] = {
    { TERN_KERNEL_AVX2, "avx2", __builtin_cpu_supports ("avx2") },
    { TERN_KERNEL_AVX2, "fma", __builtin_cpu_supports ("fma") },
    { TERN_KERNEL_AVX2, "f16c", f16c },
    { TERN_KERNEL_AVX512, "avx512f", __builtin_cpu_supports ("avx512f") },
    { TERN_KERNEL_AVX512, "avx512bw", __builtin_cpu_supports ("avx512bw") },
    { TERN_KERNEL_AVX512, "avx512vl", __builtin_cpu_supports ("avx512vl") },
    { TERN_KERNEL_AVX512, "avx512dq", __builtin_cpu_supports ("avx512dq") },
    { TERN_KERNEL_AVX512, "avx512vnni", __builtin_cpu_supports ("avx512vnni") },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (features); i++)
    if (features[i].level <= level && !features[i].present)
      g_string_append_printf (missing, "%s%s", missing->len ? ", " : "", features[i].name);
#else
  if (level > TERN_KERNEL_SCALAR)
    g_string_append (missing, "x86-64 (this build is for another architecture)");
#endif
  return missing->len ? g_string_free (g_steal_pointer (&missing), FALSE) : NULL;
}

/* The level TERN_KERNEL limits the engine to, read as the engine reads it;
 * TERN_KERNEL_BEST when it sets no limit. */
static TernKernelLevel
env_kernel_limit (void)
{
  const char *env = g_getenv ("TERN_KERNEL");
  for (TernKernelLevel l = TERN_KERNEL_SCALAR; env && l < TERN_KERNEL_BEST; l++)
    if (g_ascii_strcasecmp (env, tern_kernel_level_name (l)) == 0)
      return l;
  return TERN_KERNEL_BEST;
}

/* Whether TERN_TEST_REQUIRE_KERNELS names @level (or "all"). */
static gboolean
level_required (TernKernelLevel level)
{
  g_auto (GStrv) names = g_strsplit (g_getenv ("TERN_TEST_REQUIRE_KERNELS") ?: "", ",", -1);
  for (gsize i = 0; names[i]; i++)
    {
      const char *name = g_strstrip (names[i]);
      if (g_ascii_strcasecmp (name, "all") == 0 || g_ascii_strcasecmp (name, tern_kernel_level_name (level)) == 0)
        return TRUE;
    }
  return FALSE;
}

void
kernel_levels_check_required (void)
{
  g_auto (GStrv) names = g_strsplit (g_getenv ("TERN_TEST_REQUIRE_KERNELS") ?: "", ",", -1);
  for (gsize i = 0; names[i]; i++)
    {
      const char *name = g_strstrip (names[i]);
      gboolean known = *name == '\0' || g_ascii_strcasecmp (name, "all") == 0;
      for (TernKernelLevel l = TERN_KERNEL_SCALAR; l < TERN_KERNEL_BEST; l++)
        known = known || g_ascii_strcasecmp (name, tern_kernel_level_name (l)) == 0;
      if (!known)
        g_error ("TERN_TEST_REQUIRE_KERNELS names \"%s\", not a kernel level (scalar, avx2, avx512 or all)", name);
    }
}

gboolean
kernel_level_runs (TernKernelLevel level)
{
  g_autofree char *missing = missing_features (level);
  TernKernelLevel limit = env_kernel_limit ();
  gboolean expected = missing == NULL && level <= limit;
  gboolean supported = tern_cpu_supports_kernel (level);
  const char *name = tern_kernel_level_name (level);

  if (supported != expected)
    {
      g_autofree char *reason = supported ? (missing ? g_strdup_printf ("this CPU lacks %s", missing)
                                                     : g_strdup_printf ("TERN_KERNEL=%s turns them off",
                                                                        g_getenv ("TERN_KERNEL")))
                                          : g_strdup ("this CPU has their features and TERN_KERNEL allows them");
      g_test_fail_printf ("the engine says %s kernels %s, but %s", name, supported ? "run" : "do not run", reason);
      return FALSE;
    }
  if (supported)
    return TRUE;

  g_autofree char *why = missing ? g_strdup_printf ("this CPU lacks %s", missing)
                                 : g_strdup_printf ("TERN_KERNEL=%s turns them off", g_getenv ("TERN_KERNEL"));
  if (level_required (level))
    g_test_fail_printf ("%s kernels cannot run (%s), and TERN_TEST_REQUIRE_KERNELS=%s requires them", name, why,
                        g_getenv ("TERN_TEST_REQUIRE_KERNELS"));
  else
    g_test_skip_printf ("%s kernels not tested: %s", name, why);
  return FALSE;
}

