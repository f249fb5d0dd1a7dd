/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The CPU as a device: its model name, its RAM, the level of Tern's kernels
 * it runs and the instruction sets they use. */
#include "backend/backend.h"

#include <string.h>
#include "core/threadpool.h"
#include <unistd.h>
#if defined(__x86_64__)
#include <cpuid.h>
#endif

enum { FEATURE_KERNELS, FEATURE_KERNEL_LEVELS, FEATURE_INSTRUCTION_SETS, FEATURE_THREADS, FEATURE_LOGICAL_CPUS,
       N_FEATURES };

typedef struct {
  TernDevice device;
  TernDeviceFeature features[N_FEATURES];
} CpuDevice;

/* The "model name" of /proc/cpuinfo, or "CPU" where there is none. */
static char *
model_name (void)
{
  g_autofree char *info = NULL;

  if (g_file_get_contents ("/proc/cpuinfo", &info, NULL, NULL))
    {
      g_auto (GStrv) lines = g_strsplit (info, "\n", -1);
      for (guint i = 0; lines[i] != NULL; i++)
        {
          const char *colon = strchr (lines[i], ':');
          if (g_str_has_prefix (lines[i], "model name") && colon != NULL && colon[1] != '\0')
            return g_strstrip (g_strdup (colon + 1));
        }
    }
  return g_strdup ("CPU");
}

static guint64
ram_bytes (void)
{
  long pages = sysconf (_SC_PHYS_PAGES), page_size = sysconf (_SC_PAGESIZE);

  return pages > 0 && page_size > 0 ? (guint64) pages * (guint64) page_size : 0;
}

/* Those of the instruction sets Tern's kernels use (quant/) that the CPU
 * has and the system lets programs use. */
static char *
instruction_sets (void)
{
  GString *s = g_string_new (NULL);

#if defined(__x86_64__)
  unsigned eax, ebx, ecx, edx;
  __builtin_cpu_init ();
  /* __builtin_cpu_supports takes a literal, hence the macro. */
#define SET(name) { name, __builtin_cpu_supports (name) }
  const struct { const char *name; gboolean present; } sets[] = {
    SET ("sse3"), SET ("ssse3"), SET ("sse4.1"), SET ("sse4.2"), SET ("avx"), SET ("avx2"), SET ("fma"),
    { "f16c", __get_cpuid (1, &eax, &ebx, &ecx, &edx) && (ecx & bit_F16C) },
    SET ("avx512f"), SET ("avx512bw"), SET ("avx512dq"), SET ("avx512vl"), SET ("avx512vnni"),
  };
#undef SET
  for (guint i = 0; i < G_N_ELEMENTS (sets); i++)
    if (sets[i].present)
      g_string_append_printf (s, "%s%s", s->len > 0 ? " " : "", sets[i].name);
#elif defined(__aarch64__)
  g_string_append (s, "neon");
#endif
  return g_string_free (s, FALSE);
}

static char *
kernel_levels (void)
{
  GString *s = g_string_new (NULL);

  for (TernKernelLevel l = TERN_KERNEL_SCALAR; l < TERN_KERNEL_BEST; l++)
    if (tern_cpu_supports_kernel (l))
      g_string_append_printf (s, "%s%s", s->len > 0 ? " " : "", tern_kernel_level_name (l));
  return g_string_free (s, FALSE);
}

void
tern_backend_cpu_enumerate (GPtrArray *devices)
{
  CpuDevice *cpu = g_new0 (CpuDevice, 1);

  cpu->features[FEATURE_KERNELS] = (TernDeviceFeature) { "kernels",
                                                         tern_kernel_level_name (tern_cpu_best_kernel ()) };
  cpu->features[FEATURE_KERNEL_LEVELS] = (TernDeviceFeature) { "kernel-levels", kernel_levels () };
  cpu->features[FEATURE_INSTRUCTION_SETS] = (TernDeviceFeature) { "instruction-sets", instruction_sets () };
  cpu->features[FEATURE_THREADS] = (TernDeviceFeature) { "threads",
                                                         g_strdup_printf ("%u", tern_physical_cores ()) };
  cpu->features[FEATURE_LOGICAL_CPUS] = (TernDeviceFeature) { "logical-cpus",
                                                              g_strdup_printf ("%u", g_get_num_processors ()) };
  cpu->device = (TernDevice) {
    .name = "cpu",
    .backend = "cpu",
    .description = model_name (),
    .kind = TERN_DEVICE_CPU,
    .memory = ram_bytes (),
    .features = cpu->features,
    .n_features = N_FEATURES,
  };
  g_ptr_array_add (devices, &cpu->device);
}
