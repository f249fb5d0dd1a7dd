/* SPDX-License-Identifier: GPL-3.0-or-later */

/* Tensor type kernels (engine/quant*.c) against llama.cpp: dequantization
 * of every fixture tensor bit for bit, quantizers against llama-quantize's
 * output for the same F32 model, activation quantizers on hand-computed
 * inputs, every dot product against the dot of the dequantized rows, and
 * every tile kernel against its level's dot product.
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
#include <tern/quant.h>

#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>

#include "quant/quant-private.h"
#include "kernel-levels.h"

static const TernType all_types[] = {
  TERN_TYPE_F32, TERN_TYPE_F16, TERN_TYPE_BF16, TERN_TYPE_Q4_0, TERN_TYPE_Q4_1,
  TERN_TYPE_Q5_0, TERN_TYPE_Q5_1, TERN_TYPE_Q8_0, TERN_TYPE_Q2_K, TERN_TYPE_Q3_K,
  TERN_TYPE_Q4_K, TERN_TYPE_Q5_K, TERN_TYPE_Q6_K, TERN_TYPE_TQ1_0, TERN_TYPE_TQ2_0,
};

static const char *const fixture_models[] = {
  "kjv-tiny-f32", "kjv-tiny-f16", "kjv-tiny-bf16", "kjv-tiny-q8_0", "kjv-tiny-q4_0",
  "kjv-tiny-q4_1", "kjv-tiny-q5_0", "kjv-tiny-q5_1", "kjv-tiny-q2_k", "kjv-tiny-q3_k_m",
  "kjv-tiny-q4_k_m", "kjv-tiny-q5_k_m", "kjv-tiny-q6_k", "kjv-tiny-tq1_0", "kjv-tiny-tq2_0",
  "kjv-ternary-f32", "kjv-ternary-tq1_0", "kjv-ternary-tq2_0",
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
      return &tern_kernels_scalar;
#if defined(__x86_64__)
    case TERN_KERNEL_AVX2:
      return &tern_kernels_avx2;
    case TERN_KERNEL_AVX512:
      return &tern_kernels_avx512;
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

/* ---- Mismatch reports ---- */

#define MAX_REPORTED 20

/* Counts a test case's mismatches, showing the first MAX_REPORTED, so that
 * the case fails once with the whole picture rather than at the first. */
typedef struct {
  guint count;
} Mismatches;

G_GNUC_PRINTF (2, 3) static void
mismatch (Mismatches *m, const char *format, ...)
{
  if (++m->count > MAX_REPORTED)
    return;
  va_list args;
  va_start (args, format);
  g_autofree char *text = g_strdup_vprintf (format, args);
  va_end (args);
  g_test_message ("mismatch %u: %s", m->count, text);
}

/* Fails the test case when there were mismatches. */
static void
mismatches_done (const Mismatches *m, const char *what)
{
  if (m->count > 0)
    g_test_fail_printf ("%u mismatches in %s%s", m->count, what,
                        m->count > MAX_REPORTED ? " (the first " G_STRINGIFY (MAX_REPORTED) " are shown)" : "");
}

/* ---- Fixtures, opened once ---- */

typedef struct {
  TernGguf *gguf;
  JsonNode *reference; /* array of { name, type, n_elements, sha256_f32, first } */
} Model;

static GHashTable *models; /* name => Model */

static void
model_free (gpointer data)
{
  Model *m = data;
  tern_gguf_free (m->gguf);
  json_node_unref (m->reference);
  g_free (m);
}

static Model *
model_get (const char *name)
{
  Model *m = g_hash_table_lookup (models, name);
  if (m)
    return m;

  g_autoptr (GError) error = NULL;
  g_autofree char *file = g_strconcat (name, ".gguf", NULL);
  g_autofree char *path = g_test_build_filename (G_TEST_DIST, "data", "models", file, NULL);
  g_autofree char *json_file = g_strconcat (name, ".dequant.json", NULL);
  g_autofree char *json_path = g_test_build_filename (G_TEST_DIST, "data", "reference", json_file, NULL);

  m = g_new0 (Model, 1);
  m->gguf = tern_gguf_open (path, &error);
  g_assert_no_error (error);
  g_autoptr (JsonParser) parser = json_parser_new ();
  json_parser_load_from_file (parser, json_path, &error);
  g_assert_no_error (error);
  m->reference = json_node_ref (json_parser_get_root (parser));
  g_assert_true (JSON_NODE_HOLDS_ARRAY (m->reference));
  g_hash_table_insert (models, g_strdup (name), m);
  return m;
}

static JsonObject *
reference_for (Model *m, const char *tensor)
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

  for (gsize k = 0; k < G_N_ELEMENTS (fixture_models); k++)
    {
      Model *m = model_get (fixture_models[k]);
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

/* ---- Quantizers against llama-quantize ---- */

/* Sum of squared differences between @type row data (dequantized by the
 * scalar kernel, which matches llama.cpp's) and @x. */
static double
sq_error (TernType type, const void *q, const float *x, gint64 n, gint64 ne0)
{
  g_autofree float *y = g_new (float, n);
  TernDequantRowFn dq = tern_quant_dequant_row_at (type, TERN_KERNEL_SCALAR);
  gsize row_bytes = tern_type_row_bytes (type, ne0);
  for (gint64 r = 0; r < n / ne0; r++)
    dq ((const guint8 *) q + r * row_bytes, y + r * ne0, ne0);
  double e = 0;
  for (gint64 i = 0; i < n; i++)
    e += ((double) y[i] - x[i]) * ((double) y[i] - x[i]);
  return e;
}

/* Tern's weight quantizers port llama.cpp's reference ones (K-quants
 * included, scale searches and all), so they must give llama-quantize's
 * very bytes; and, the property that matters, no more round-trip error.
 * Quantizers are scalar code, one level for every CPU. */
static void
test_quantize_vs_llama (gconstpointer data)
{
  TernType type = GPOINTER_TO_INT (data);
  TernQuantizeRowFn quantize = tern_quant_quantize_row (type);
  const TernTypeInfo *info = tern_type_info (type);
  Mismatches mismatches = { 0 };
  guint n_checked = 0;
  g_assert_nonnull (quantize);

  for (gsize k = 0; k < G_N_ELEMENTS (fixture_models); k++)
    {
      const char *name = fixture_models[k];
      const char *source = g_str_has_prefix (name, "kjv-ternary") ? "kjv-ternary-f32" : "kjv-tiny-f32";
      if (g_str_equal (name, source))
        continue;
      Model *m = model_get (name);
      Model *f32 = model_get (source);

      /* An importance matrix would make llama.cpp's K-quants another
       * algorithm: these fixtures must not have used one. */
      g_assert_null (tern_gguf_find (m->gguf, "quantize.imatrix.file"));

      for (gsize i = 0; i < tern_gguf_n_tensors (m->gguf); i++)
        {
          const TernGgufTensor *t = tern_gguf_tensor (m->gguf, i);
          if (t->type != type)
            continue;
          const TernGgufTensor *src = tern_gguf_find_tensor (f32->gguf, t->name);
          g_assert_nonnull (src);
          g_assert_cmpint (src->type, ==, TERN_TYPE_F32);
          gint64 n = tern_gguf_tensor_n_elems (t), ne0 = t->ne[0];
          g_assert_cmpint (tern_gguf_tensor_n_elems (src), ==, n);

          g_autofree guint8 *mine = g_malloc (t->n_bytes);
          gsize row_bytes = tern_type_row_bytes (type, ne0);
          const float *x = src->data;
          for (gint64 r = 0; r < n / ne0; r++)
            quantize (x + r * ne0, mine + r * row_bytes, ne0);
          n_checked++;

          /* One report per differing block. */
          const guint8 *theirs = t->data;
          for (gsize b = 0; b < t->n_bytes / info->block_bytes; b++)
            {
              gsize at = b * info->block_bytes;
              if (memcmp (mine + at, theirs + at, info->block_bytes) == 0)
                continue;
              gsize j = 0;
              while (mine[at + j] == theirs[at + j])
                j++;
              mismatch (&mismatches, "%s %s (%s): block %" G_GSIZE_FORMAT " (row %" G_GSIZE_FORMAT "), byte %"
                        G_GSIZE_FORMAT ": 0x%02x, llama-quantize's 0x%02x", name, t->name, tern_type_name (type),
                        b, at / row_bytes, j, mine[at + j], theirs[at + j]);
            }

          double e_mine = sq_error (type, mine, x, n, ne0);
          double e_llama = sq_error (type, t->data, x, n, ne0);
          g_test_message ("%s %s %s: squared error %.9g (llama.cpp %.9g)", name, t->name,
                          tern_type_name (type), e_mine, e_llama);
          if (!(e_mine <= e_llama * (1 + 1e-6)))
            mismatch (&mismatches, "%s %s (%s): squared error %.9g, above llama-quantize's %.9g", name, t->name,
                      tern_type_name (type), e_mine, e_llama);
        }
    }
  g_assert_cmpuint (n_checked, >, 0);
  mismatches_done (&mismatches, "quantized tensors");
}

/* ---- Activation quantizers, by hand ---- */

static float
f16 (guint16 h)
{
  return tern_fp16_to_fp32 (h);
}

static void
test_quantize_q8_0 (void)
{
  /* Block 0: absmax 127 so d = 1 and q = roundf(x), halves away from
   * zero. Block 1: absmax 254, d = 2, id = 0.5. */
  float x[64] = { 0 };
  const float b0[] = { 127, -2.5f, 2.5f, 0.49f, -0.5f, 1.5f, -126.6f, 3.0f };
  const gint8 q0[] = { 127, -3, 3, 0, -1, 2, -127, 3 };
  const float b1[] = { -254, 3, 5, -5, 1, 0.999f, 100, 253 };
  const gint8 q1[] = { -127, 2, 3, -3, 1, 0, 50, 127 };
  memcpy (x, b0, sizeof b0);
  memcpy (x + 32, b1, sizeof b1);

  guint8 out[2 * 34];
  tern_quant_quantize_row (TERN_TYPE_Q8_0) (x, out, 64);
  guint16 d0, d1;
  memcpy (&d0, out, 2);
  memcpy (&d1, out + 34, 2);
  g_assert_cmphex (GUINT16_FROM_LE (d0), ==, 0x3c00);
  g_assert_cmphex (GUINT16_FROM_LE (d1), ==, 0x4000);
  for (guint j = 0; j < 32; j++)
    {
      g_assert_cmpint ((gint8) out[2 + j], ==, j < G_N_ELEMENTS (q0) ? q0[j] : 0);
      g_assert_cmpint ((gint8) out[36 + j], ==, j < G_N_ELEMENTS (q1) ? q1[j] : 0);
    }

  /* All zeros: d = 0, q = 0. */
  float zeros[32] = { 0 };
  tern_quant_quantize_row (TERN_TYPE_Q8_0) (zeros, out, 32);
  for (guint j = 0; j < 34; j++)
    g_assert_cmpint (out[j], ==, 0);
}

static void
test_quantize_q8_1 (void)
{
  float x[32] = { 127, -2.5f, 2.5f, 0.49f, -0.5f, 1.5f, -126.6f, 3.0f };
  guint8 out[36];
  tern_quant_quantize_row (TERN_TYPE_Q8_1) (x, out, 32);
  guint16 d, s;
  memcpy (&d, out, 2);
  memcpy (&s, out + 2, 2);
  g_assert_cmphex (GUINT16_FROM_LE (d), ==, 0x3c00);
  /* s = d * sum(q) = 127 - 3 + 3 + 0 - 1 + 2 - 127 + 3 = 4 */
  g_assert_cmpfloat (f16 (GUINT16_FROM_LE (s)), ==, 4.0f);
  const gint8 q[] = { 127, -3, 3, 0, -1, 2, -127, 3 };
  for (guint j = 0; j < G_N_ELEMENTS (q); j++)
    g_assert_cmpint ((gint8) out[4 + j], ==, q[j]);
}

static void
test_quantize_q8_K (void)
{
  /* Block 0: the value of largest magnitude is -127, so iscale = 1 and
   * q = x rounded to nearest even. Block 1: it is +127, iscale = -1 and
   * q = -x, d = -1. */
  float x[512] = { 0 };
  const float v[] = { -127, 2.5f, 3.5f, -2.5f, 0.5f, 1.5f, 126.4f, -0.51f };
  const gint8 q0[] = { -127, 2, 4, -2, 0, 2, 126, -1 };
  memcpy (x, v, sizeof v);
  for (guint j = 0; j < G_N_ELEMENTS (v); j++)
    x[256 + 16 * j] = -v[j];

  guint8 out[2 * 292];
  tern_quant_quantize_row (TERN_TYPE_Q8_K) (x, out, 512);
  float d0, d1;
  memcpy (&d0, out, 4);
  memcpy (&d1, out + 292, 4);
  g_assert_cmpfloat (d0, ==, 1.0f);
  g_assert_cmpfloat (d1, ==, -1.0f);
  const gint8 *qs0 = (const gint8 *) out + 4, *qs1 = (const gint8 *) out + 292 + 4;
  const gint8 q1[] = { -127, 2, 4, -2, 0, 2, 126, -1 }; /* nearest_int(-1 * -v) */
  for (guint j = 0; j < 256; j++)
    {
      g_assert_cmpint (qs0[j], ==, j < G_N_ELEMENTS (q0) ? q0[j] : 0);
      g_assert_cmpint (qs1[j], ==, j % 16 == 0 && j / 16 < G_N_ELEMENTS (q1) ? q1[j / 16] : 0);
    }
  gint16 bsums0[16], bsums1[16];
  memcpy (bsums0, out + 4 + 256, sizeof bsums0);
  memcpy (bsums1, out + 292 + 4 + 256, sizeof bsums1);
  g_assert_cmpint (bsums0[0], ==, -127 + 2 + 4 - 2 + 0 + 2 + 126 - 1);
  for (guint j = 1; j < 16; j++)
    g_assert_cmpint (bsums0[j], ==, 0);
  for (guint j = 0; j < 16; j++)
    g_assert_cmpint (bsums1[j], ==, j < G_N_ELEMENTS (q1) ? q1[j] : 0);

  /* All zeros: everything zero. */
  float zeros[256] = { 0 };
  tern_quant_quantize_row (TERN_TYPE_Q8_K) (zeros, out, 256);
  for (guint j = 0; j < 292; j++)
    g_assert_cmpint (out[j], ==, 0);
}

static float
bits_to_float (guint32 u)
{
  float f;
  memcpy (&f, &u, sizeof f);
  return f;
}

static void
test_quantize_f16 (void)
{
  const struct { float x; guint16 h; } cases[] = {
    { 1.0f, 0x3c00 }, { -2.0f, 0xc000 }, { 65504.0f, 0x7bff }, { 65519.0f, 0x7bff },
    { 65520.0f, 0x7c00 }, { 1e10f, 0x7c00 }, { 1.0f / 3, 0x3555 },
    { 0x1p-24f, 0x0001 }, { 0x1p-25f, 0x0000 }, { 0x3p-25f, 0x0002 }, { 0x5p-25f, 0x0002 },
    { 0x1p-14f, 0x0400 }, { 0x1.ffcp-15f, 0x0400 }, { -0.0f, 0x8000 },
    { 1.0f + 0x1p-11f, 0x3c00 }, { 1.0f + 0x3p-11f, 0x3c02 }, { 1.0f + 0x1p-11f + 0x1p-20f, 0x3c01 },
    { INFINITY, 0x7c00 }, { -INFINITY, 0xfc00 }, { 1e-30f, 0x0000 },
    { bits_to_float (0x7fc00000), 0x7e00 }, { bits_to_float (0xff800001), 0xfe00 },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      guint16 h;
      tern_quant_quantize_row (TERN_TYPE_F16) (&cases[i].x, &h, 1);
      g_assert_cmphex (h, ==, cases[i].h);
      g_assert_cmphex (tern_fp32_to_fp16 (cases[i].x), ==, cases[i].h);
    }
  /* Every half survives a round trip through f32 (NaNs stay NaNs). */
  for (guint32 h = 0; h < 0x10000; h++)
    {
      float f = tern_fp16_to_fp32 ((guint16) h);
      if ((h & 0x7c00) == 0x7c00 && (h & 0x3ff))
        g_assert_true (isnan (f));
      else
        g_assert_cmphex (tern_fp32_to_fp16 (f), ==, h);
    }
}

static void
test_quantize_bf16 (void)
{
  const struct { guint32 x; guint16 h; } cases[] = {
    { 0x3f800000, 0x3f80 },  /* 1 */
    { 0x3f808000, 0x3f80 },  /* halfway, to even */
    { 0x3f818000, 0x3f82 },  /* halfway, to even (up) */
    { 0x3f808001, 0x3f81 },
    { 0x7f7fffff, 0x7f80 },  /* rounds to infinity, as llama.cpp */
    { 0x7f800000, 0x7f80 },
    { 0x7f800001, 0x7fc0 },  /* signalling NaN -> quiet */
    { 0xffc00001, 0xffc0 },
    { 0x80000000, 0x8000 },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      float x = bits_to_float (cases[i].x);
      guint16 h;
      tern_quant_quantize_row (TERN_TYPE_BF16) (&x, &h, 1);
      g_assert_cmphex (h, ==, cases[i].h);
      g_assert_cmphex (tern_fp32_to_bf16 (x), ==, cases[i].h);
    }
  g_assert_cmpfloat (tern_bf16_to_fp32 (0x3fc0), ==, 1.5f);
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
      e += fabs (f16 (GUINT16_FROM_LE (m)) * f16 (GUINT16_FROM_LE (s))) * 0x1p-11;
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

/* ---- Activation quantizers as llama.cpp's x86 builds ---- */

static void
test_quantize_activations (void)
{
  /* Absmax 127: d = 1, id = 127 / 127 = 1, halves to even. */
  float x[32] = { 127, -2.5f, 2.5f, 0.49f, -0.5f, 1.5f, -126.5f, 3.5f };
  const gint8 q[] = { 127, -2, 2, 0, 0, 2, -126, 4 };
  guint8 out[36];

  tern_quant_quantize_activations (TERN_TYPE_Q8_0) (x, out, 32);
  guint16 d, s;
  memcpy (&d, out, 2);
  g_assert_cmphex (GUINT16_FROM_LE (d), ==, 0x3c00);
  for (guint j = 0; j < 32; j++)
    g_assert_cmpint ((gint8) out[2 + j], ==, j < G_N_ELEMENTS (q) ? q[j] : 0);

  tern_quant_quantize_activations (TERN_TYPE_Q8_1) (x, out, 32);
  memcpy (&d, out, 2);
  memcpy (&s, out + 2, 2);
  g_assert_cmphex (GUINT16_FROM_LE (d), ==, 0x3c00);
  g_assert_cmpfloat (f16 (GUINT16_FROM_LE (s)), ==, 127 - 2 + 2 + 0 + 0 + 2 - 126 + 4);
  for (guint j = 0; j < G_N_ELEMENTS (q); j++)
    g_assert_cmpint ((gint8) out[4 + j], ==, q[j]);

  /* Random blocks: q = rint (x * (127 / amax)). */
  g_autoptr (GRand) rand = g_rand_new_with_seed (99);
  float y[256];
  guint8 q8_0[8 * 34];
  for (guint j = 0; j < 256; j++)
    y[j] = (float) g_rand_double_range (rand, -5, 5);
  tern_quant_quantize_activations (TERN_TYPE_Q8_0) (y, q8_0, 256);
  for (guint b = 0; b < 8; b++)
    {
      float amax = 0;
      for (guint j = 0; j < 32; j++)
        amax = MAX (amax, fabsf (y[32 * b + j]));
      memcpy (&d, q8_0 + 34 * b, 2);
      g_assert_cmphex (GUINT16_FROM_LE (d), ==, tern_fp32_to_fp16 (amax / 127.f));
      for (guint j = 0; j < 32; j++)
        g_assert_cmpint ((gint8) q8_0[34 * b + 2 + j], ==, (int) rintf (y[32 * b + j] * (127.f / amax)));
    }

  /* Q8_K is llama.cpp's reference quantizer on x86 too. */
  guint8 k1[292], k2[292];
  tern_quant_quantize_row (TERN_TYPE_Q8_K) (y, k1, 256);
  tern_quant_quantize_activations (TERN_TYPE_Q8_K) (y, k2, 256);
  g_assert_cmpmem (k1, sizeof k1, k2, sizeof k2);
  g_assert_null (tern_quant_quantize_activations (TERN_TYPE_Q4_K));
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
  models = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, model_free);

  g_test_add_func ("/engine/quant/dispatch", test_dispatch);
  for (TernKernelLevel l = TERN_KERNEL_SCALAR; l < TERN_KERNEL_BEST; l++)
    {
      g_autofree char *path = g_strdup_printf ("/engine/quant/level/%s", tern_kernel_level_name (l));
      g_test_add_data_func (path, GINT_TO_POINTER (l), test_level);
    }
  add_level_cases ("dequant", test_dequant, KERNEL_DEQUANT);
  add_level_cases ("vec-dot", test_vec_dot, KERNEL_VEC_DOT);
  add_level_cases ("dot-tile", test_dot_tile, KERNEL_VEC_DOT);

  static const TernType quantized_types[] = {
    TERN_TYPE_Q8_0, TERN_TYPE_Q4_0, TERN_TYPE_Q4_K, TERN_TYPE_Q6_K, TERN_TYPE_TQ1_0, TERN_TYPE_TQ2_0,
  };
  for (gsize i = 0; i < G_N_ELEMENTS (quantized_types); i++)
    {
      g_autofree char *path = g_strdup_printf ("/engine/quant/quantize/%s",
                                               tern_type_name (quantized_types[i]));
      g_test_add_data_func (path, GINT_TO_POINTER (quantized_types[i]), test_quantize_vs_llama);
    }
  g_test_add_func ("/engine/quant/quantize/q8_0-activation", test_quantize_q8_0);
  g_test_add_func ("/engine/quant/quantize/q8_1-activation", test_quantize_q8_1);
  g_test_add_func ("/engine/quant/quantize/q8_K-activation", test_quantize_q8_K);
  g_test_add_func ("/engine/quant/quantize/activations", test_quantize_activations);
  g_test_add_func ("/engine/quant/quantize/f16", test_quantize_f16);
  g_test_add_func ("/engine/quant/quantize/bf16", test_quantize_bf16);

  int ret = g_test_run ();
  g_hash_table_destroy (models);
  return ret;
}
