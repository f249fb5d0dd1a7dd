/* SPDX-License-Identifier: GPL-3.0-or-later */

/* Tensor type kernels (engine/quant/) against llama.cpp: dequantization
 * of every fixture tensor bit for bit, every dot product against the dot
 * of the dequantized rows, and every tile kernel against its level's dot
 * product. The quantizers are tested in test-quantize.c.
 *
 * Each kernel level's own kernels are cases of their own, such as
 * /engine/quant/vec-dot/q4_K/avx512: registered from the level's kernel
 * table whatever the CPU, each running exactly that level's function. A
 * level without a kernel of its own for a type uses the one of the level
 * below (AVX-512 has no Q4_1 dot product): that pair has no case, and the
 * case of the kernel it uses says so. A level this CPU cannot run makes
 * its cases skip (tests/tools/kernel-levels.h), naming the missing CPU
 * features; they never pass.
 *
 * The kernel cases report every mismatch (the first 20 in full) before
 * failing, so one run shows the whole picture. */

#include <tern/gguf.h>

#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>

#include "quant/quant-private.h"
#include "kernel-levels.h"
#include "quant-test.h"

static const TernType all_types[] = {
  TERN_TYPE_F32, TERN_TYPE_F16, TERN_TYPE_BF16, TERN_TYPE_Q4_0, TERN_TYPE_Q4_1,
  TERN_TYPE_Q5_0, TERN_TYPE_Q5_1, TERN_TYPE_Q8_0, TERN_TYPE_Q2_K, TERN_TYPE_Q3_K,
  TERN_TYPE_Q4_K, TERN_TYPE_Q5_K, TERN_TYPE_Q6_K, TERN_TYPE_TQ1_0, TERN_TYPE_TQ2_0,
};

/* ---- Kernel levels ---- */

/* The kernel table of @level as built into the engine, or NULL where the
 * build has none (the x86 levels elsewhere). */
static const TernKernelTable *
level_table (TernKernelLevel level)
{
  switch (level)
    {
    case TERN_KERNEL_SCALAR:
      return &tern_quant_kernels_scalar;
#if defined(__x86_64__)
    case TERN_KERNEL_AVX2:
      return &tern_quant_kernels_avx2;
    case TERN_KERNEL_AVX512:
      return &tern_quant_kernels_avx512;
#endif
    default:
      return NULL;
    }
}

/* Kernels a level may have of its own for a type. */
typedef enum { KERNEL_DEQUANT, KERNEL_VEC_DOT } KernelKind;

static gboolean
has_own (KernelKind kind, TernType type, TernKernelLevel level)
{
  const TernKernelTable *table = level_table (level);
  if (table == NULL)
    return FALSE;
  return kind == KERNEL_DEQUANT ? table->dequant[type] != NULL : table->vec_dot[type] != NULL;
}

/* The level whose @kind kernel @type uses at @level: @level itself or the
 * nearest one below with a kernel of its own. Tiles follow dot products. */
static TernKernelLevel
source_level (KernelKind kind, TernType type, TernKernelLevel level)
{
  while (level > TERN_KERNEL_SCALAR && !has_own (kind, type, level))
    level--;
  return level;
}

/* Says which levels above @level use its @kind kernel for @type. */
static void
report_users (KernelKind kind, TernType type, TernKernelLevel level)
{
  g_autoptr (GString) users = g_string_new (NULL);
  guint n_users = 0;
  for (TernKernelLevel l = level + 1; l < TERN_KERNEL_BEST; l++)
    if (level_table (l) != NULL && source_level (kind, type, l) == level)
      g_string_append_printf (users, "%s%s", n_users++ ? " and " : "", tern_kernel_level_name (l));
  if (n_users > 0)
    g_test_message ("%s %s no %s %s of %s own and use%s this %s one", users->str, n_users > 1 ? "have" : "has",
                    tern_type_name (type), kind == KERNEL_DEQUANT ? "dequantizer" : "dot product or tile kernel",
                    n_users > 1 ? "their" : "its", n_users > 1 ? "" : "s", tern_kernel_level_name (level));
}

/* A test case's type and level, packed into its data pointer. */
static gconstpointer
case_data (TernType type, TernKernelLevel level)
{
  return GINT_TO_POINTER (type * 16 + level);
}

static TernType
case_type (gconstpointer data)
{
  return GPOINTER_TO_INT (data) / 16;
}

static TernKernelLevel
case_level (gconstpointer data)
{
  return GPOINTER_TO_INT (data) % 16;
}

/* ---- Fixtures, opened once ---- */

static JsonObject *
reference_for (QuantTestModel *m, const char *tensor)
{
  JsonArray *array = json_node_get_array (m->reference);
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      JsonObject *o = json_array_get_object_element (array, i);
      if (g_strcmp0 (json_object_get_string_member (o, "name"), tensor) == 0)
        return o;
    }
  return NULL;
}

static char *
sha256_floats (const float *x, gsize n)
{
  GChecksum *sum = g_checksum_new (G_CHECKSUM_SHA256);
  for (gsize i = 0; i < n; i++)
    {
      guint32 u;
      memcpy (&u, &x[i], sizeof u);
      u = GUINT32_TO_LE (u);
      g_checksum_update (sum, (const guchar *) &u, sizeof u);
    }
  char *hex = g_strdup (g_checksum_get_string (sum));
  g_checksum_free (sum);
  return hex;
}

static void
dequant_tensor (TernDequantRowFn fn, const TernGgufTensor *t, float *out)
{
  gint64 rows = tern_gguf_tensor_n_elems (t) / t->ne[0];
  gsize row_bytes = tern_type_row_bytes (t->type, t->ne[0]);
  for (gint64 r = 0; r < rows; r++)
    fn ((const guint8 *) t->data + r * row_bytes, out + r * t->ne[0], t->ne[0]);
}

/* Equal as bits, so that NaNs with the same payload match too. */
static gboolean
same_float (float a, float b)
{
  return memcmp (&a, &b, sizeof a) == 0;
}

/* ---- Dequantization against llama.cpp ---- */

/* One level's own dequantizer of a type, on every fixture tensor of the
 * type: the SHA-256 of its output and its first values are llama.cpp's. */
static void
test_dequant (gconstpointer data)
{
  TernType type = case_type (data);
  TernKernelLevel level = case_level (data);
  const char *level_name = tern_kernel_level_name (level);
  Mismatches mismatches = { 0 };
  guint n_checked = 0;

  report_users (KERNEL_DEQUANT, type, level);
  if (!kernel_level_runs (level))
    return;
  TernDequantRowFn fn = tern_quant_dequant_row_at (type, level);
  g_assert_true (fn == level_table (level)->dequant[type]);
  TernDequantRowFn scalar = tern_quant_dequant_row_at (type, TERN_KERNEL_SCALAR);

  for (gsize k = 0; k < n_fixture_models; k++)
    {
      QuantTestModel *m = quant_test_model (fixture_models[k]);
      for (gsize i = 0; i < tern_gguf_n_tensors (m->gguf); i++)
        {
          const TernGgufTensor *t = tern_gguf_tensor (m->gguf, i);
          if (t->type != type)
            continue;
          JsonObject *ref = reference_for (m, t->name);
          g_assert_nonnull (ref);
          g_assert_cmpstr (json_object_get_string_member (ref, "type"), ==, tern_type_name (type));
          gint64 n = tern_gguf_tensor_n_elems (t);
          g_assert_cmpint (json_object_get_int_member (ref, "n_elements"), ==, n);

          g_autofree float *out = g_new (float, n);
          memset (out, 0xff, n * sizeof (float));
          dequant_tensor (fn, t, out);
          n_checked++;

          JsonArray *first = json_object_get_array_member (ref, "first");
          for (guint j = 0; j < json_array_get_length (first) && j < n; j++)
            {
              float expect = (float) json_array_get_double_element (first, j);
              /* JSON keeps neither the sign of zero nor NaN payloads:
               * the SHA-256 checks those. */
              if (out[j] != expect && !(isnan (out[j]) && isnan (expect)))
                mismatch (&mismatches, "%s %s (%s, %s): element %u is %.9g, llama.cpp's %.9g", fixture_models[k],
                          t->name, tern_type_name (type), level_name, j, out[j], expect);
            }

          g_autofree char *sha = sha256_floats (out, n);
          const char *expect_sha = json_object_get_string_member (ref, "sha256_f32");
          if (g_strcmp0 (sha, expect_sha) == 0)
            continue;
          if (level == TERN_KERNEL_SCALAR)
            {
              mismatch (&mismatches, "%s %s (%s, %s): SHA-256 of the %" G_GINT64_FORMAT " values %s, llama.cpp's %s",
                        fixture_models[k], t->name, tern_type_name (type), level_name, n, sha, expect_sha);
              continue;
            }
          /* Where the scalar dequantizer matches llama.cpp (its own case
           * checks that), it shows which elements are wrong. */
          g_autofree float *expect = g_new (float, n);
          dequant_tensor (scalar, t, expect);
          gint64 n_wrong = 0, first_wrong = -1;
          for (gint64 j = 0; j < n; j++)
            if (!same_float (out[j], expect[j]) && n_wrong++ == 0)
              first_wrong = j;
          if (first_wrong < 0)
            mismatch (&mismatches, "%s %s (%s, %s): SHA-256 %s, llama.cpp's %s, the same as the scalar output",
                      fixture_models[k], t->name, tern_type_name (type), level_name, sha, expect_sha);
          else
            mismatch (&mismatches, "%s %s (%s, %s): SHA-256 differs from llama.cpp's; %" G_GINT64_FORMAT " of %"
                      G_GINT64_FORMAT " values differ from the scalar output, the first at %" G_GINT64_FORMAT
                      " (row %" G_GINT64_FORMAT "): %.9g, scalar %.9g",
                      fixture_models[k], t->name, tern_type_name (type), level_name, n_wrong, n, first_wrong,
                      first_wrong / t->ne[0], out[first_wrong], expect[first_wrong]);
        }
    }
  /* Every type must be covered by some fixture. */
  g_assert_cmpuint (n_checked, >, 0);
  mismatches_done (&mismatches, "dequantized tensors");
  g_test_message ("%u %s tensors checked against llama.cpp with the %s dequantizer", n_checked,
                  tern_type_name (type), level_name);
}

/* ---- Dot products ---- */

typedef enum { DATA_RANDOM, DATA_MAX, DATA_MIN, DATA_ZERO } DataKind;

static const char *const data_kind_names[] = { "random", "max", "min", "zero" };

/* A weight row of @type: from random floats where Tern can quantize to
 * @type, else random bytes with sane f16 scales. */
static void
make_weights (TernType type, gint64 n, DataKind kind, GRand *rand, guint8 *out)
{
  const TernTypeInfo *info = tern_type_info (type);
  gsize bytes = tern_type_row_bytes (type, n);
  g_autofree float *x = g_new (float, n);

  for (gint64 i = 0; i < n; i++)
    x[i] = kind == DATA_RANDOM ? (float) g_rand_double_range (rand, -1, 1)
           : kind == DATA_MAX  ? 1.0f
           : kind == DATA_MIN  ? -1.0f
                               : 0.0f;
  if (type == TERN_TYPE_F32 || type == TERN_TYPE_F16 || type == TERN_TYPE_BF16)
    {
      tern_quant_quantize_row (type) (x, out, n);
      return;
    }

  for (gsize i = 0; i < bytes; i++)
    out[i] = kind == DATA_RANDOM ? (guint8) g_rand_int (rand)
             : kind == DATA_MAX  ? 0xff
             : kind == DATA_MIN  ? 0x00
                                 : 0x00;
  /* Overwrite the f16 scale fields with finite values. */
  static const struct { TernType type; guint offsets[2]; guint n; } scales[] = {
    { TERN_TYPE_Q4_0, { 0 }, 1 },      { TERN_TYPE_Q4_1, { 0, 2 }, 2 },
    { TERN_TYPE_Q5_0, { 0 }, 1 },      { TERN_TYPE_Q5_1, { 0, 2 }, 2 },
    { TERN_TYPE_Q8_0, { 0 }, 1 },      { TERN_TYPE_Q2_K, { 80, 82 }, 2 },
    { TERN_TYPE_Q3_K, { 108 }, 1 },    { TERN_TYPE_Q4_K, { 0, 2 }, 2 },
    { TERN_TYPE_Q5_K, { 0, 2 }, 2 },   { TERN_TYPE_Q6_K, { 208 }, 1 },
    { TERN_TYPE_TQ1_0, { 52 }, 1 },    { TERN_TYPE_TQ2_0, { 64 }, 1 },
  };
  for (gsize s = 0; s < G_N_ELEMENTS (scales); s++)
    {
      if (scales[s].type != type)
        continue;
      for (gsize b = 0; b < bytes / info->block_bytes; b++)
        for (guint k = 0; k < scales[s].n; k++)
          {
            float v = kind == DATA_RANDOM ? (float) g_rand_double_range (rand, 0.001, 0.1)
                      : kind == DATA_ZERO ? 0.0f
                                          : 65504.0f / 4096;
            guint16 h = GUINT16_TO_LE (tern_fp32_to_fp16 (v));
            memcpy (out + b * info->block_bytes + scales[s].offsets[k], &h, 2);
          }
    }
}

/* dot(dequant(w), dequant(a)) and the same with absolute values, in double,
 * from the scalar dequantizers (which match llama.cpp's). */
static void
dot_dequantized (TernType type, TernType atype, gint64 n, const void *w, const void *a,
                 double *dot, double *absdot)
{
  g_autofree float *x = g_new (float, n);
  g_autofree float *y = g_new (float, n);
  tern_quant_dequant_row_at (type, TERN_KERNEL_SCALAR) (w, x, n);
  tern_quant_dequant_row_at (atype, TERN_KERNEL_SCALAR) (a, y, n);
  *dot = *absdot = 0;
  for (gint64 i = 0; i < n; i++)
    {
      *dot += (double) x[i] * y[i];
      *absdot += fabs ((double) x[i] * y[i]);
    }
}

/* Q8_1 keeps d * sum(q) as an f16, not the exact sum the dequantized dot
 * uses: allow for its rounding (2^-11 relative) times the weight's m. */
static double
q8_1_sum_error (TernType type, TernType atype, gint64 n, const guint8 *w, const guint8 *a)
{
  if (atype != TERN_TYPE_Q8_1)
    return 0;
  gsize wb = tern_type_info (type)->block_bytes, ab = tern_type_info (atype)->block_bytes;
  double e = 0;
  for (gint64 b = 0; b < n / 32; b++)
    {
      guint16 m, s;
      memcpy (&m, w + b * wb + 2, 2);
      memcpy (&s, a + b * ab + 2, 2);
      e += fabs (tern_fp16_to_fp32 (GUINT16_FROM_LE (m)) * tern_fp16_to_fp32 (GUINT16_FROM_LE (s))) * 0x1p-11;
    }
  return e;
}

/* One level's own dot product of a type, on rows of several lengths (odd
 * block counts and tails included) and contents: within float rounding of
 * the dot of the dequantized rows, and for SIMD levels of the scalar
 * kernel's result too. */
static void
test_vec_dot (gconstpointer data)
{
  TernType type = case_type (data);
  TernKernelLevel level = case_level (data);
  TernType atype = tern_quant_vec_dot_type (type);
  const TernTypeInfo *info = tern_type_info (type);
  g_autoptr (GRand) rand = g_rand_new_with_seed (1234 + type);
  const gint64 block_counts[] = { 1, 2, 3, 5, 16, 17 };
  const gint64 float_lengths[] = { 1, 7, 33, 100, 1000, 4099 };
  gboolean is_float = info->block_elems == 1;
  Mismatches mismatches = { 0 };
  guint n_checked = 0;

  report_users (KERNEL_VEC_DOT, type, level);
  if (!kernel_level_runs (level))
    return;
  g_assert_cmpint (atype, !=, TERN_TYPE_COUNT);
  TernVecDotFn fn = tern_quant_vec_dot (type, level);
  g_assert_true (fn == level_table (level)->vec_dot[type]);
  TernVecDotFn scalar = tern_quant_vec_dot (type, TERN_KERNEL_SCALAR);
  g_assert_nonnull (scalar);

  for (gsize li = 0; li < G_N_ELEMENTS (block_counts); li++)
    for (DataKind kind = DATA_RANDOM; kind <= DATA_ZERO; kind++)
      {
        gint64 n = is_float ? float_lengths[li] : block_counts[li] * info->block_elems;
        g_autofree guint8 *w = g_malloc (tern_type_row_bytes (type, n));
        g_autofree guint8 *a = g_malloc (tern_type_row_bytes (atype, n));
        g_autofree float *x = g_new (float, n);
        make_weights (type, n, kind, rand, w);
        for (gint64 i = 0; i < n; i++)
          x[i] = kind == DATA_RANDOM ? (float) g_rand_double_range (rand, -3, 3)
                 : kind == DATA_MAX  ? 3.0f
                 : kind == DATA_MIN  ? -3.0f
                                     : 0.0f;
        tern_quant_quantize_row (atype) (x, a, n);

        double expect, absdot;
        dot_dequantized (type, atype, n, w, a, &expect, &absdot);
        double tolerance = 1e-5 * absdot + q8_1_sum_error (type, atype, n, w, a) + 1e-30;
        float got = fn (n, w, a);
        float ref = level == TERN_KERNEL_SCALAR ? got : scalar (n, w, a);
        n_checked++;
        if (fabs (got - expect) > tolerance || fabs (got - ref) > 1e-5 * absdot + 1e-30)
          mismatch (&mismatches, "%s %s n=%" G_GINT64_FORMAT " (%s data): %.9g, dequantized rows' dot %.9g, "
                    "scalar kernel %.9g (tolerance %.3g)", tern_type_name (type), tern_kernel_level_name (level), n,
                    data_kind_names[kind], got, expect, ref, tolerance);
      }
  mismatches_done (&mismatches, "dot products");
  g_test_message ("%u %s dot products of the %s kernel checked", n_checked, tern_type_name (type),
                  tern_kernel_level_name (level));
}

/* ---- Tile dot products against vec_dot ---- */

/* Every tile shape (ragged ones too) of one level's tile kernel gives that
 * level's vec_dot results, up to float summation order, and the dot of the
 * dequantized rows as closely as vec_dot must; entries outside the tile
 * stay untouched. */
static void
test_dot_tile (gconstpointer data)
{
  TernType type = case_type (data);
  TernKernelLevel level = case_level (data);
  TernType atype = tern_quant_vec_dot_type (type);
  const TernTypeInfo *info = tern_type_info (type);
  const char *level_name = tern_kernel_level_name (level);
  g_autoptr (GRand) rand = g_rand_new_with_seed (4321 + type);
  const gint64 block_counts[] = { 1, 2, 3, 8, 9 };
  const gint64 float_lengths[] = { 1, 15, 16, 33, 2048 };
  gboolean is_float = info->block_elems == 1;
  const gsize pad = 8; /* strides longer than a row */
  const gsize out_stride = TERN_DOT_TILE_ROWS + 3;
  Mismatches mismatches = { 0 };

  report_users (KERNEL_VEC_DOT, type, level);
  if (!kernel_level_runs (level))
    return;
  TernVecDotFn dot = tern_quant_vec_dot (type, level);
  TernDotTileFn tile = tern_quant_dot_tile (type, level);
  g_assert_true (dot == level_table (level)->vec_dot[type]);
  g_assert_true (tile == level_table (level)->dot_tile[type]);
  g_assert_nonnull (tile);

  for (gsize li = 0; li < G_N_ELEMENTS (block_counts); li++)
    {
      gint64 n = is_float ? float_lengths[li] : block_counts[li] * info->block_elems;
      gsize ws = tern_type_row_bytes (type, n) + pad, as = tern_type_row_bytes (atype, n) + pad;
      g_autofree guint8 *w = g_malloc0 (ws * TERN_DOT_TILE_ROWS);
      g_autofree guint8 *a = g_malloc0 (as * TERN_DOT_TILE_COLS);
      g_autofree float *x = g_new (float, n);
      float expect[TERN_DOT_TILE_COLS][TERN_DOT_TILE_ROWS];
      double dequantized[TERN_DOT_TILE_COLS][TERN_DOT_TILE_ROWS], scale[TERN_DOT_TILE_COLS][TERN_DOT_TILE_ROWS];
      double sum_error[TERN_DOT_TILE_COLS][TERN_DOT_TILE_ROWS];

      for (int r = 0; r < TERN_DOT_TILE_ROWS; r++)
        make_weights (type, n, DATA_RANDOM, rand, w + r * ws);
      for (int c = 0; c < TERN_DOT_TILE_COLS; c++)
        {
          for (gint64 i = 0; i < n; i++)
            x[i] = (float) g_rand_double_range (rand, -3, 3);
          tern_quant_quantize_activations (atype) (x, a + c * as, n);
        }
      for (int c = 0; c < TERN_DOT_TILE_COLS; c++)
        for (int r = 0; r < TERN_DOT_TILE_ROWS; r++)
          {
            dot_dequantized (type, atype, n, w + r * ws, a + c * as, &dequantized[c][r], &scale[c][r]);
            sum_error[c][r] = q8_1_sum_error (type, atype, n, w + r * ws, a + c * as);
            expect[c][r] = dot (n, w + r * ws, a + c * as);
          }

      for (int nr = 1; nr <= TERN_DOT_TILE_ROWS; nr++)
        for (int nc = 1; nc <= TERN_DOT_TILE_COLS; nc++)
          {
            float out[TERN_DOT_TILE_COLS * (TERN_DOT_TILE_ROWS + 3)];
            for (gsize k = 0; k < G_N_ELEMENTS (out); k++)
              out[k] = 12345.0f;
            tile (n, w, ws, nr, a, as, nc, out, out_stride);
            for (int c = 0; c < TERN_DOT_TILE_COLS; c++)
              for (gsize r = 0; r < out_stride; r++)
                {
                  float got = out[c * out_stride + r];
                  if (c >= nc || (int) r >= nr)
                    {
                      if (got != 12345.0f)
                        mismatch (&mismatches, "%s %s n=%" G_GINT64_FORMAT " tile %dx%d: wrote %.9g at (%d, %d), "
                                  "outside the tile", tern_type_name (type), level_name, n, nr, nc, got, (int) r, c);
                    }
                  else if (fabs (got - expect[c][r]) > 1e-5 * scale[c][r] + 1e-30
                           || fabs (got - dequantized[c][r]) > 1e-5 * scale[c][r] + sum_error[c][r] + 1e-30)
                    mismatch (&mismatches, "%s %s n=%" G_GINT64_FORMAT " tile %dx%d (%d, %d): %.9g, vec_dot %.9g, "
                              "dequantized rows' dot %.9g", tern_type_name (type), level_name, n, nr, nc, (int) r, c,
                              got, expect[c][r], dequantized[c][r]);
                }
          }
    }
  mismatches_done (&mismatches, "tile entries");
}

/* ---- Dispatch ---- */

static void
test_dispatch (void)
{
  TernKernelLevel best = tern_cpu_best_kernel ();
  g_assert_cmpint (best, <, TERN_KERNEL_BEST);
  g_assert_true (tern_cpu_supports_kernel (TERN_KERNEL_SCALAR));
  g_assert_true (tern_cpu_supports_kernel (best));
  g_assert_false (best < TERN_KERNEL_AVX512 && tern_cpu_supports_kernel (best + 1));
  g_test_message ("best kernel level: %s", tern_kernel_level_name (best));

  for (gsize i = 0; i < G_N_ELEMENTS (all_types); i++)
    {
      TernType t = all_types[i];
      g_assert_nonnull (tern_quant_dequant_row (t));
      g_assert_nonnull (tern_quant_dequant_row_at (t, TERN_KERNEL_SCALAR));
      g_assert_nonnull (tern_quant_vec_dot (t, TERN_KERNEL_BEST));
      g_assert_nonnull (tern_quant_dot_tile (t, TERN_KERNEL_BEST));
      for (TernKernelLevel l = TERN_KERNEL_SCALAR; l <= TERN_KERNEL_BEST; l++)
        {
          g_assert_true ((tern_quant_vec_dot (t, l) != NULL) == tern_cpu_supports_kernel (l));
          g_assert_true ((tern_quant_dot_tile (t, l) != NULL) == tern_cpu_supports_kernel (l));
        }
    }

  g_assert_cmpint (tern_quant_vec_dot_type (TERN_TYPE_F32), ==, TERN_TYPE_F32);
  g_assert_cmpint (tern_quant_vec_dot_type (TERN_TYPE_F16), ==, TERN_TYPE_F16);
  g_assert_cmpint (tern_quant_vec_dot_type (TERN_TYPE_BF16), ==, TERN_TYPE_BF16);
  g_assert_cmpint (tern_quant_vec_dot_type (TERN_TYPE_Q4_0), ==, TERN_TYPE_Q8_0);
  g_assert_cmpint (tern_quant_vec_dot_type (TERN_TYPE_Q5_0), ==, TERN_TYPE_Q8_0);
  g_assert_cmpint (tern_quant_vec_dot_type (TERN_TYPE_Q8_0), ==, TERN_TYPE_Q8_0);
  g_assert_cmpint (tern_quant_vec_dot_type (TERN_TYPE_Q4_1), ==, TERN_TYPE_Q8_1);
  g_assert_cmpint (tern_quant_vec_dot_type (TERN_TYPE_Q5_1), ==, TERN_TYPE_Q8_1);
  g_assert_cmpint (tern_quant_vec_dot_type (TERN_TYPE_Q4_K), ==, TERN_TYPE_Q8_K);
  g_assert_cmpint (tern_quant_vec_dot_type (TERN_TYPE_TQ1_0), ==, TERN_TYPE_Q8_K);
  g_assert_cmpint (tern_quant_vec_dot_type (TERN_TYPE_Q8_K), ==, TERN_TYPE_COUNT);
  g_assert_cmpint (tern_quant_vec_dot_type (4), ==, TERN_TYPE_COUNT);
  g_assert_cmpint (tern_quant_vec_dot_type (TERN_TYPE_COUNT), ==, TERN_TYPE_COUNT);

  g_assert_null (tern_quant_vec_dot (TERN_TYPE_Q8_K, TERN_KERNEL_SCALAR));
  g_assert_null (tern_quant_vec_dot (31, TERN_KERNEL_BEST));
  g_assert_null (tern_quant_dequant_row (5));
  g_assert_null (tern_quant_quantize_row (TERN_TYPE_Q3_K));
  g_assert_null (tern_quant_quantize_row (TERN_TYPE_COUNT));
  g_assert_nonnull (tern_quant_quantize_row (TERN_TYPE_Q8_K));

  g_assert_cmpstr (tern_kernel_level_name (TERN_KERNEL_AVX512), ==, "avx512");
}

/* What the dispatch gives at one level: the level's own kernels where it
 * has them, the nearest lower level's elsewhere. Lists both, so that the
 * log says what a level's cases cover. */
static void
test_level (gconstpointer data)
{
  TernKernelLevel level = GPOINTER_TO_INT (data);
  g_autoptr (GString) own_dots = g_string_new (NULL);
  g_autoptr (GString) borrowed_dots = g_string_new (NULL);
  g_autoptr (GString) own_dequant = g_string_new (NULL);

  if (!kernel_level_runs (level))
    return;
  for (gsize i = 0; i < G_N_ELEMENTS (all_types); i++)
    {
      TernType t = all_types[i];
      TernKernelLevel dot_level = source_level (KERNEL_VEC_DOT, t, level);
      TernKernelLevel dequant_level = source_level (KERNEL_DEQUANT, t, level);
      g_assert_true (tern_quant_vec_dot (t, level) == level_table (dot_level)->vec_dot[t]);
      g_assert_true (tern_quant_dot_tile (t, level) == level_table (dot_level)->dot_tile[t]);
      g_assert_true (tern_quant_dequant_row_at (t, level) == level_table (level)->dequant[t]);
      if (level == tern_cpu_best_kernel ())
        g_assert_true (tern_quant_dequant_row (t) == level_table (dequant_level)->dequant[t]);
      if (dot_level == level)
        g_string_append_printf (own_dots, " %s", tern_type_name (t));
      else
        g_string_append_printf (borrowed_dots, " %s (%s)", tern_type_name (t), tern_kernel_level_name (dot_level));
      if (dequant_level == level)
        g_string_append_printf (own_dequant, " %s", tern_type_name (t));
    }
  g_test_message ("%s: own dot products and tiles:%s", tern_kernel_level_name (level), own_dots->str);
  g_test_message ("%s: those of a lower level:%s", tern_kernel_level_name (level),
                  borrowed_dots->len ? borrowed_dots->str : " none");
  g_test_message ("%s: own dequantizers:%s", tern_kernel_level_name (level), own_dequant->str);
}

static void
add_level_cases (const char *kind, GTestDataFunc func, KernelKind own)
{
  for (gsize i = 0; i < G_N_ELEMENTS (all_types); i++)
    for (TernKernelLevel l = TERN_KERNEL_SCALAR; l < TERN_KERNEL_BEST; l++)
      if (has_own (own, all_types[i], l))
        {
          g_autofree char *path = g_strdup_printf ("/engine/quant/%s/%s/%s", kind, tern_type_name (all_types[i]),
                                                   tern_kernel_level_name (l));
          g_test_add_data_func (path, case_data (all_types[i], l), func);
        }
}

int
main (int argc, char **argv)
{
  /* A failing case must not hide the cases after it. */
  g_autofree char **args = g_new0 (char *, argc + 2);
  args[0] = argv[0];
  args[1] = (char *) "--keep-going";
  memcpy (args + 2, argv + 1, (argc - 1) * sizeof (char *));
  argc++;
  argv = args;
  g_test_init (&argc, &argv, NULL);
  kernel_levels_check_required ();

  g_test_add_func ("/engine/quant/dispatch", test_dispatch);
  for (TernKernelLevel l = TERN_KERNEL_SCALAR; l < TERN_KERNEL_BEST; l++)
    {
      g_autofree char *path = g_strdup_printf ("/engine/quant/level/%s", tern_kernel_level_name (l));
      g_test_add_data_func (path, GINT_TO_POINTER (l), test_level);
    }
  add_level_cases ("dequant", test_dequant, KERNEL_DEQUANT);
  add_level_cases ("vec-dot", test_vec_dot, KERNEL_VEC_DOT);
  add_level_cases ("dot-tile", test_dot_tile, KERNEL_VEC_DOT);

  int ret = g_test_run ();
  quant_test_models_free ();
  return ret;
}
