/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "quant/quant.h"

G_BEGIN_DECLS

/* Which kernel levels a test may run, the same way in every test: a level
 * the CPU cannot run skips the case, naming the missing CPU features; it
 * never passes.
 *
 *   TERN_TEST_REQUIRE_KERNELS=avx2,avx512 (or "all") makes those cases fail
 *     instead: for CI machines known to have the levels.
 *   TERN_KERNEL=avx2 (the engine's own switch) makes the levels above it
 *     count as missing: how to see the skips on a larger CPU. */

/* Whether the current test case can run @level's kernels. When it cannot,
 * skips the case saying why, or fails it where TERN_TEST_REQUIRE_KERNELS
 * requires the level; and fails it where the engine's view of the CPU
 * disagrees with the test's own (the engine would then skip a level the
 * CPU has, or run one it lacks). */
gboolean kernel_level_runs (TernKernelLevel level);

/* Aborts on a name in TERN_TEST_REQUIRE_KERNELS that is no level: a typo
 * there would quietly require nothing. Call from main. */
void kernel_levels_check_required (void);

G_END_DECLS
