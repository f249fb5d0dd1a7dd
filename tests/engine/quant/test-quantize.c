/* SPDX-License-Identifier: GPL-3.0-or-later */

/* The quantizers (engine/quant/quantize.c) against llama.cpp: weight
 * quantizers against llama-quantize's output for the same F32 model, and
 * activation quantizers on hand-computed inputs. */

#include <tern/gguf.h>

#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>

#include "quant/quant-private.h"
#include "quant-test.h"

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

  for (gsize k = 0; k < n_fixture_models; k++)
    {
      const char *name = fixture_models[k];
      const char *source = g_str_has_prefix (name, "kjv-ternary") ? "kjv-ternary-f32" : "kjv-tiny-f32";
      if (g_str_equal (name, source))
        continue;
      QuantTestModel *m = quant_test_model (name);
      QuantTestModel *f32 = quant_test_model (source);

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
  g_assert_cmpfloat (tern_fp16_to_fp32 (GUINT16_FROM_LE (s)), ==, 4.0f);
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
  g_assert_cmpfloat (tern_fp16_to_fp32 (GUINT16_FROM_LE (s)), ==, 127 - 2 + 2 + 0 + 0 + 2 - 126 + 4);
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

/* Activations that are not finite give blocks of scale NaN and no
 * quants, so that the products made with them are NaN (and reported as a
 * damaged model) rather than the rounding aborting; the other blocks are
 * as ever. */
static void
test_quantize_activations_not_finite (void)
{
  const float bad[] = { NAN, INFINITY, -INFINITY };
  const TernType types[] = { TERN_TYPE_Q8_0, TERN_TYPE_Q8_1, TERN_TYPE_Q8_K };

  for (guint t = 0; t < G_N_ELEMENTS (types); t++)
    for (guint b = 0; b < G_N_ELEMENTS (bad); b++)
      {
        const TernTypeInfo *info = tern_type_info (types[t]);
        gsize n = 2 * info->block_elems, block_bytes = info->block_bytes;
        g_autofree float *x = g_new (float, n);
        g_autofree guint8 *out = g_malloc (2 * block_bytes);
        g_autofree guint8 *want = g_malloc (block_bytes);

        for (gsize j = 0; j < n; j++)
          x[j] = (float) j / 16 - 3;
        tern_quant_quantize_activations (types[t]) (x + info->block_elems, want, info->block_elems);
        x[5] = bad[b];
        tern_quant_quantize_activations (types[t]) (x, out, n);

        float d;
        if (types[t] == TERN_TYPE_Q8_K)
          memcpy (&d, out, sizeof d);
        else
          d = tern_fp16_to_fp32 (out[0] | out[1] << 8);
        g_assert_true (isnan (d));
        /* Q8_0: d, then the quants; Q8_1: d, s (NaN too), the quants;
         * Q8_K: d, the quants, their sums. */
        gsize skip = types[t] == TERN_TYPE_Q8_0 ? 2 : 4;
        if (types[t] == TERN_TYPE_Q8_1)
          g_assert_true (isnan (tern_fp16_to_fp32 (out[2] | out[3] << 8)));
        for (gsize j = skip; j < block_bytes; j++)
          g_assert_cmpint (out[j], ==, 0);
        g_assert_cmpmem (out + block_bytes, block_bytes, want, block_bytes);
      }
}

int
main (int argc, char **argv)
{
  static const TernType quantized_types[] = {
    TERN_TYPE_Q8_0, TERN_TYPE_Q4_0, TERN_TYPE_Q4_K, TERN_TYPE_Q6_K, TERN_TYPE_TQ1_0, TERN_TYPE_TQ2_0,
  };

  g_test_init (&argc, &argv, NULL);
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
  g_test_add_func ("/engine/quant/quantize/activations-not-finite", test_quantize_activations_not_finite);
  g_test_add_func ("/engine/quant/quantize/f16", test_quantize_f16);
  g_test_add_func ("/engine/quant/quantize/bf16", test_quantize_bf16);

  int ret = g_test_run ();
  quant_test_models_free ();
  return ret;
}
