/* SPDX-License-Identifier: GPL-3.0-or-later */

/* Tensor type descriptions (engine/types.c) against FORMATS.md. */

#include <tern/types.h>

static const struct {
  TernType type;
  guint32 id;
  const char *name;
  guint32 block_elems, block_bytes;
  gboolean storage;
} expected[] = {
  { TERN_TYPE_F32, 0, "f32", 1, 4, TRUE },
  { TERN_TYPE_F16, 1, "f16", 1, 2, TRUE },
  { TERN_TYPE_Q4_0, 2, "q4_0", 32, 18, TRUE },
  { TERN_TYPE_Q4_1, 3, "q4_1", 32, 20, TRUE },
  { TERN_TYPE_Q5_0, 6, "q5_0", 32, 22, TRUE },
  { TERN_TYPE_Q5_1, 7, "q5_1", 32, 24, TRUE },
  { TERN_TYPE_Q8_0, 8, "q8_0", 32, 34, TRUE },
  { TERN_TYPE_Q8_1, 9, "q8_1", 32, 36, FALSE },
  { TERN_TYPE_Q2_K, 10, "q2_K", 256, 84, TRUE },
  { TERN_TYPE_Q3_K, 11, "q3_K", 256, 110, TRUE },
  { TERN_TYPE_Q4_K, 12, "q4_K", 256, 144, TRUE },
  { TERN_TYPE_Q5_K, 13, "q5_K", 256, 176, TRUE },
  { TERN_TYPE_Q6_K, 14, "q6_K", 256, 210, TRUE },
  { TERN_TYPE_Q8_K, 15, "q8_K", 256, 292, FALSE },
  { TERN_TYPE_BF16, 30, "bf16", 1, 2, TRUE },
  { TERN_TYPE_TQ1_0, 34, "tq1_0", 256, 54, TRUE },
  { TERN_TYPE_TQ2_0, 35, "tq2_0", 256, 66, TRUE },
};

static void
test_info (void)
{
  for (gsize i = 0; i < G_N_ELEMENTS (expected); i++)
    {
      const TernTypeInfo *info = tern_type_info (expected[i].id);
      g_assert_cmpint (expected[i].type, ==, expected[i].id);
      g_assert_nonnull (info);
      g_assert_cmpstr (info->name, ==, expected[i].name);
      g_assert_cmpuint (info->block_elems, ==, expected[i].block_elems);
      g_assert_cmpuint (info->block_bytes, ==, expected[i].block_bytes);
      g_assert_cmpint (info->storage, ==, expected[i].storage);
      /* The same static description every time. */
      g_assert_true (tern_type_info (expected[i].id) == info);
    }
}

static void
test_unknown (void)
{
  /* Retired ids, ids of ggml types Tern lacks, and out of range ones. */
  const guint32 unknown[] = { 4, 5, 16, 20, 29, 31, 32, 33, 36, 38, TERN_TYPE_COUNT, 1000, G_MAXUINT32 };
  for (gsize i = 0; i < G_N_ELEMENTS (unknown); i++)
    {
      g_assert_null (tern_type_info (unknown[i]));
      g_assert_cmpstr (tern_type_name (unknown[i]), ==, "unknown");
    }

  guint n_known = 0;
  for (guint32 id = 0; id < TERN_TYPE_COUNT; id++)
    n_known += tern_type_info (id) != NULL;
  g_assert_cmpuint (n_known, ==, G_N_ELEMENTS (expected));
}

static void
test_name (void)
{
  for (gsize i = 0; i < G_N_ELEMENTS (expected); i++)
    g_assert_cmpstr (tern_type_name (expected[i].id), ==, expected[i].name);
}

static void
test_from_name (void)
{
  for (gsize i = 0; i < G_N_ELEMENTS (expected); i++)
    {
      TernType t = TERN_TYPE_COUNT;
      g_assert_true (tern_type_from_name (expected[i].name, &t));
      g_assert_cmpint (t, ==, expected[i].type);

      /* Case does not matter. */
      g_autofree char *upper = g_ascii_strup (expected[i].name, -1);
      t = TERN_TYPE_COUNT;
      g_assert_true (tern_type_from_name (upper, &t));
      g_assert_cmpint (t, ==, expected[i].type);
    }

  const char *bad[] = { "", "q4", "q4_k_m", "f64", "q4_0 ", "iq2_xxs", "unknown" };
  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      TernType t = TERN_TYPE_Q4_0;
      g_assert_false (tern_type_from_name (bad[i], &t));
      g_assert_cmpint (t, ==, TERN_TYPE_Q4_0); /* untouched */
    }
}

static void
test_row_bytes (void)
{
  g_assert_cmpuint (tern_type_row_bytes (TERN_TYPE_F32, 0), ==, 0);
  g_assert_cmpuint (tern_type_row_bytes (TERN_TYPE_F32, 7), ==, 28);
  g_assert_cmpuint (tern_type_row_bytes (TERN_TYPE_F16, 4096), ==, 8192);
  g_assert_cmpuint (tern_type_row_bytes (TERN_TYPE_BF16, 3), ==, 6);
  g_assert_cmpuint (tern_type_row_bytes (TERN_TYPE_Q4_0, 4096), ==, 128 * 18);
  g_assert_cmpuint (tern_type_row_bytes (TERN_TYPE_Q8_0, 32), ==, 34);
  g_assert_cmpuint (tern_type_row_bytes (TERN_TYPE_Q4_K, 4096), ==, 16 * 144);
  g_assert_cmpuint (tern_type_row_bytes (TERN_TYPE_Q6_K, 256), ==, 210);
  g_assert_cmpuint (tern_type_row_bytes (TERN_TYPE_TQ1_0, 512), ==, 108);
  g_assert_cmpuint (tern_type_row_bytes (TERN_TYPE_Q8_K, 768), ==, 3 * 292);
  /* Large rows do not overflow. */
  g_assert_cmpuint (tern_type_row_bytes (TERN_TYPE_F32, G_GINT64_CONSTANT (1) << 40), ==,
                    G_GUINT64_CONSTANT (1) << 42);
  for (gsize i = 0; i < G_N_ELEMENTS (expected); i++)
    g_assert_cmpuint (tern_type_row_bytes (expected[i].type, 3 * expected[i].block_elems), ==,
                      3 * expected[i].block_bytes);
}

/* A row length that is not a whole number of blocks is a programmer error. */
static void
test_row_bytes_partial_block (void)
{
  if (g_test_subprocess ())
    {
      tern_type_row_bytes (TERN_TYPE_Q4_K, 100);
      return;
    }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_failed ();
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/engine/types/info", test_info);
  g_test_add_func ("/engine/types/unknown", test_unknown);
  g_test_add_func ("/engine/types/name", test_name);
  g_test_add_func ("/engine/types/from-name", test_from_name);
  g_test_add_func ("/engine/types/row-bytes", test_row_bytes);
  g_test_add_func ("/engine/types/row-bytes-partial-block", test_row_bytes_partial_block);
  return g_test_run ();
}
