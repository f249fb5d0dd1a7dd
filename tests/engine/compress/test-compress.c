/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The compress layer: the type policy against llama-quantize's choices in
 * the fixture models; the model writer read back by the GGUF reader (every
 * key, every tensor's bytes against rows quantized one by one here), its
 * progress and cancel, its memory while writing a model many times larger
 * than a tensor, and its errors (unsupported types, a full disk, a folder
 * it cannot write). */
#include <glib/gstdio.h>
#include <math.h>
#include <signal.h>
#include <string.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <tern/error.h>
#include <tern/gguf.h>
#include <tern/model-writer.h>
#include <tern/type-policy.h>

#include "quant/quant.h"

#include "compress-test.h"
#include "peak-rss.h"

/* ---- Helpers ---- */

/* A value of row @row, column @col of tensor @tensor: smooth enough that
 * every block has a spread of values, different for every tensor. */
static float
value_at (gsize tensor, gint64 row, gint64 col)
{
  return (float) (sin ((double) tensor * 1.7 + (double) row * 0.37 + (double) col * 0.011) *
                  (1.0 + (double) ((row + col) % 7)));
}

static void
rows_by_formula (gsize tensor, gint64 row, float *out, gpointer data)
{
  const gint64 *row_lengths = data;

  for (gint64 i = 0; i < row_lengths[tensor]; i++)
    out[i] = value_at (tensor, row, i);
}

/* ---- The type policy ---- */

/* Every fixture model that llama-quantize made with one type (the K-quant
 * "_m" mixes and Q2_K vary by layer, which the policy does not model):
 * the policy gives each of its tensors the type llama-quantize gave it. */
static void
test_policy_llama_quantize (void)
{
  static const char *const models[] = {
    "kjv-tiny-f32",  "kjv-tiny-f16",  "kjv-tiny-bf16",  "kjv-tiny-q8_0",     "kjv-tiny-q4_0",     "kjv-tiny-q4_1",
    "kjv-tiny-q5_0", "kjv-tiny-q5_1", "kjv-tiny-q6_k",  "kjv-tiny-tq1_0",    "kjv-tiny-tq2_0",    "kjv-ternary-f32",
    "kjv-ternary-tq1_0", "kjv-ternary-tq2_0",
  };

  for (gsize m = 0; m < G_N_ELEMENTS (models); m++)
    {
      g_autofree char *file = g_strconcat (models[m], ".gguf", NULL);
      g_autofree char *path = g_test_build_filename (G_TEST_DIST, "data", "models", file, NULL);
      g_autoptr (GError) error = NULL;
      g_autoptr (TernGguf) gguf = tern_gguf_open (path, &error);
      const char *type_name = strrchr (models[m], '-') + 1;
      TernTypePolicy policy;
      TernType type;

      g_assert_no_error (error);
      g_assert_true (tern_type_from_name (type_name, &type));
      tern_type_policy_init (&policy, type);
      for (gsize i = 0; i < tern_gguf_n_tensors (gguf); i++)
        {
          const TernGgufTensor *t = tern_gguf_tensor (gguf, i);
          TernType chosen = tern_type_policy_choose (&policy, t->name, t->n_dims);

          if (chosen != t->type)
            g_error ("%s: %s is %s in the file, the policy says %s", models[m], t->name, tern_type_name (t->type),
                     tern_type_name (chosen));
        }
    }
}

/* The tensors of a llama model, and what make-model's types give them:
 * the cases the fixtures lack (Q4_K, whose fixture is a per-layer mix). */
static void
test_policy_llama_shape (void)
{
  static const struct {
    const char *name;
    guint32 n_dims;
    TernTensorRole role;
  } tensors[] = {
    { "token_embd.weight", 2, TERN_TENSOR_ROLE_TOKEN_EMBD },
    { "blk.0.attn_norm.weight", 1, TERN_TENSOR_ROLE_VECTOR },
    { "blk.0.attn_q.weight", 2, TERN_TENSOR_ROLE_LINEAR },
    { "blk.0.attn_k.weight", 2, TERN_TENSOR_ROLE_LINEAR },
    { "blk.0.attn_v.weight", 2, TERN_TENSOR_ROLE_LINEAR },
    { "blk.0.attn_output.weight", 2, TERN_TENSOR_ROLE_LINEAR },
    { "blk.0.ffn_norm.weight", 1, TERN_TENSOR_ROLE_VECTOR },
    { "blk.0.ffn_gate.weight", 2, TERN_TENSOR_ROLE_LINEAR },
    { "blk.0.ffn_up.weight", 2, TERN_TENSOR_ROLE_LINEAR },
    { "blk.15.ffn_down.weight", 2, TERN_TENSOR_ROLE_LINEAR },
    { "blk.0.attn_q.bias", 1, TERN_TENSOR_ROLE_VECTOR },
    { "rope_freqs.weight", 1, TERN_TENSOR_ROLE_VECTOR },
    { "output_norm.weight", 1, TERN_TENSOR_ROLE_VECTOR },
    { "output.weight", 2, TERN_TENSOR_ROLE_OUTPUT },
  };
  /* Per target type: the types of vectors, embeddings, output and linear weights. */
  static const struct {
    TernType target, vector, embd, output, linear;
  } mixes[] = {
    { TERN_TYPE_Q4_K, TERN_TYPE_F32, TERN_TYPE_Q4_K, TERN_TYPE_Q6_K, TERN_TYPE_Q4_K },
    { TERN_TYPE_Q6_K, TERN_TYPE_F32, TERN_TYPE_Q6_K, TERN_TYPE_Q6_K, TERN_TYPE_Q6_K },
    { TERN_TYPE_Q8_0, TERN_TYPE_F32, TERN_TYPE_Q8_0, TERN_TYPE_Q8_0, TERN_TYPE_Q8_0 },
    { TERN_TYPE_Q4_0, TERN_TYPE_F32, TERN_TYPE_Q4_0, TERN_TYPE_Q6_K, TERN_TYPE_Q4_0 },
    { TERN_TYPE_TQ2_0, TERN_TYPE_F32, TERN_TYPE_Q4_K, TERN_TYPE_Q6_K, TERN_TYPE_TQ2_0 },
    { TERN_TYPE_TQ1_0, TERN_TYPE_F32, TERN_TYPE_Q4_K, TERN_TYPE_Q6_K, TERN_TYPE_TQ1_0 },
    { TERN_TYPE_F16, TERN_TYPE_F32, TERN_TYPE_F16, TERN_TYPE_F16, TERN_TYPE_F16 },
    { TERN_TYPE_BF16, TERN_TYPE_F32, TERN_TYPE_BF16, TERN_TYPE_BF16, TERN_TYPE_BF16 },
    { TERN_TYPE_F32, TERN_TYPE_F32, TERN_TYPE_F32, TERN_TYPE_F32, TERN_TYPE_F32 },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (tensors); i++)
    g_assert_cmpint (tern_tensor_role (tensors[i].name, tensors[i].n_dims), ==, tensors[i].role);
  for (gsize m = 0; m < G_N_ELEMENTS (mixes); m++)
    {
      TernTypePolicy policy;

      tern_type_policy_init (&policy, mixes[m].target);
      for (gsize i = 0; i < G_N_ELEMENTS (tensors); i++)
        {
          TernType want = tensors[i].role == TERN_TENSOR_ROLE_VECTOR       ? mixes[m].vector
                          : tensors[i].role == TERN_TENSOR_ROLE_TOKEN_EMBD ? mixes[m].embd
                          : tensors[i].role == TERN_TENSOR_ROLE_OUTPUT     ? mixes[m].output
                                                                           : mixes[m].linear;

          g_test_message ("%s: %s", tern_type_name (mixes[m].target), tensors[i].name);
          g_assert_cmpstr (tern_type_name (tern_type_policy_choose (&policy, tensors[i].name, tensors[i].n_dims)), ==,
                           tern_type_name (want));
        }
    }

  /* A policy is data: a field changed is the type chosen. */
  {
    TernTypePolicy policy;

    tern_type_policy_init (&policy, TERN_TYPE_TQ2_0);
    policy.types[TERN_TENSOR_ROLE_OUTPUT] = TERN_TYPE_Q8_0;
    g_assert_cmpint (tern_type_policy_choose (&policy, "output.weight", 2), ==, TERN_TYPE_Q8_0);
  }
}

/* ---- The model writer ---- */

typedef struct {
  const char *name;
  TernType type;
  guint32 n_dims;
  gint64 ne[3];
} Spec;

/* Every type the writer makes, one- to three-dimensional tensors, and a
 * Q8_0 matrix of 9 MB, which the writer makes and writes in two chunks. */
static const Spec read_back_specs[] = {
  { "token_embd.weight", TERN_TYPE_Q4_K, 2, { 256, 40 } },
  { "blk.0.attn_norm.weight", TERN_TYPE_F32, 1, { 96 } },
  { "blk.0.attn_q.weight", TERN_TYPE_F16, 2, { 96, 33 } },
  { "blk.0.attn_k.weight", TERN_TYPE_BF16, 2, { 64, 17 } },
  { "blk.0.attn_v.weight", TERN_TYPE_Q8_0, 2, { 4096, 2100 } },
  { "blk.0.attn_output.weight", TERN_TYPE_Q4_0, 2, { 128, 9 } },
  { "blk.0.ffn_gate.weight", TERN_TYPE_TQ1_0, 2, { 512, 7 } },
  { "blk.0.ffn_up.weight", TERN_TYPE_TQ2_0, 2, { 256, 11 } },
  { "blk.0.ffn_down.weight", TERN_TYPE_Q6_K, 3, { 256, 3, 5 } },
  { "output.weight", TERN_TYPE_F32, 2, { 32, 3 } },
};

/* Rows of @spec: the product of the dimensions after the first. */
static gint64
spec_rows (const Spec *spec)
{
  gint64 n = 1;

  for (guint32 d = 1; d < spec->n_dims; d++)
    n *= spec->ne[d];
  return n;
}

/* Quantizes each row of @spec (tensor @index) on its own and compares it
 * with the file's bytes. */
static void
assert_tensor_bytes (const TernGgufTensor *t, const Spec *spec, gsize index)
{
  gint64 n_rows = spec_rows (spec);
  gsize row_bytes = tern_type_row_bytes (spec->type, spec->ne[0]);
  g_autofree float *row = g_new (float, spec->ne[0]);
  g_autofree guint8 *want = g_malloc (row_bytes);

  g_assert_cmpuint (t->n_bytes, ==, row_bytes * (gsize) n_rows);
  for (gint64 r = 0; r < n_rows; r++)
    {
      for (gint64 i = 0; i < spec->ne[0]; i++)
        row[i] = value_at (index, r, i);
      tern_quant_quantize_row (spec->type) (row, want, spec->ne[0]);
      if (memcmp (want, (const guint8 *) t->data + (gsize) r * row_bytes, row_bytes) != 0)
        g_error ("%s: row %" G_GINT64_FORMAT " differs from the row quantized alone", spec->name, r);
    }
}

static void
record_progress (double fraction, gpointer data)
{
  GArray *fractions = data;

  g_array_append_val (fractions, fraction);
}

static void
test_writer_read_back (void)
{
  g_autofree char *dir = compress_test_make_dir ();
  g_autofree char *path = g_build_filename (dir, "model.gguf", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (TernModelWriter) w = tern_model_writer_new (path, 3, &error);
  g_autoptr (GArray) fractions = g_array_new (FALSE, FALSE, sizeof (double));
  gint64 row_lengths[G_N_ELEMENTS (read_back_specs)];
  const guint32 layers = 1;
  guint64 n_elements = 0, n_bytes = 0;
  g_autoptr (TernGguf) gguf = NULL;
  TernGgufWriter *meta;
  guint64 u;
  double f;
  TernGgufString s;

  g_assert_no_error (error);
  meta = tern_model_writer_metadata (w);
  tern_gguf_writer_add_string (meta, "general.architecture", "llama");
  tern_gguf_writer_add_uint32 (meta, "llama.block_count", layers);
  tern_gguf_writer_add_float32 (meta, "llama.rope.freq_base", 10000.0f);
  for (gsize i = 0; i < G_N_ELEMENTS (read_back_specs); i++)
    {
      const Spec *spec = &read_back_specs[i];

      g_assert_true (tern_model_writer_add_tensor (w, spec->name, spec->type, spec->n_dims, spec->ne, &error));
      g_assert_no_error (error);
      row_lengths[i] = spec->ne[0];
      n_elements += (guint64) (spec->ne[0] * spec_rows (spec));
      n_bytes += tern_type_row_bytes (spec->type, spec->ne[0]) * (guint64) spec_rows (spec);
    }
  g_assert_cmpuint (tern_model_writer_n_elements (w), ==, n_elements);
  g_assert_cmpuint (tern_model_writer_n_bytes (w), ==, n_bytes);
  g_assert_true (tern_model_writer_write (w, rows_by_formula, row_lengths, record_progress, fractions, NULL, &error));
  g_assert_no_error (error);

  /* One report per chunk, growing to the whole: the 9 MB tensor in two. */
  g_assert_cmpuint (fractions->len, ==, G_N_ELEMENTS (read_back_specs) + 1);
  for (guint i = 1; i < fractions->len; i++)
    g_assert_cmpfloat (g_array_index (fractions, double, i), >, g_array_index (fractions, double, i - 1));
  g_assert_cmpfloat (g_array_index (fractions, double, fractions->len - 1), ==, 1.0);

  gguf = tern_gguf_open (path, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (tern_gguf_n_kv (gguf), ==, 3);
  g_assert_true (tern_gguf_get_string (gguf, "general.architecture", &s, &error));
  g_assert_cmpmem (s.data, s.len, "llama", 5);
  g_assert_true (tern_gguf_get_uint (gguf, "llama.block_count", &u, &error));
  g_assert_cmpuint (u, ==, layers);
  g_assert_cmpint (tern_gguf_find (gguf, "llama.block_count")->type, ==, TERN_GGUF_UINT32);
  g_assert_true (tern_gguf_get_float (gguf, "llama.rope.freq_base", &f, &error));
  g_assert_cmpfloat (f, ==, 10000.0);
  g_assert_no_error (error);

  g_assert_cmpuint (tern_gguf_n_tensors (gguf), ==, G_N_ELEMENTS (read_back_specs));
  for (gsize i = 0; i < G_N_ELEMENTS (read_back_specs); i++)
    {
      const Spec *spec = &read_back_specs[i];
      const TernGgufTensor *t = tern_gguf_tensor (gguf, i);

      g_assert_cmpstr (t->name, ==, spec->name);
      g_assert_cmpint (t->type, ==, spec->type);
      g_assert_cmpuint (t->n_dims, ==, spec->n_dims);
      for (guint32 d = 0; d < TERN_GGUF_MAX_DIMS; d++)
        g_assert_cmpint (t->ne[d], ==, d < spec->n_dims ? spec->ne[d] : 1);
      assert_tensor_bytes (t, spec, i);
    }

  g_clear_pointer (&gguf, tern_gguf_free);
  g_unlink (path);
  compress_test_assert_empty_and_remove (dir);
}

/* The file does not depend on the number of threads. */
static void
test_writer_threads (void)
{
  g_autofree char *dir = compress_test_make_dir ();
  const guint n_threads[] = { 1, 2, 5 };
  g_autofree char *first = NULL;
  gsize first_len = 0;
  gint64 row_lengths[G_N_ELEMENTS (read_back_specs)];

  for (gsize i = 0; i < G_N_ELEMENTS (read_back_specs); i++)
    row_lengths[i] = read_back_specs[i].ne[0];
  for (gsize k = 0; k < G_N_ELEMENTS (n_threads); k++)
    {
      g_autofree char *path = g_build_filename (dir, "model.gguf", NULL);
      g_autoptr (GError) error = NULL;
      g_autoptr (TernModelWriter) w = tern_model_writer_new (path, n_threads[k], &error);
      g_autofree char *bytes = NULL;
      gsize len;

      for (gsize i = 0; i < G_N_ELEMENTS (read_back_specs); i++)
        g_assert_true (tern_model_writer_add_tensor (w, read_back_specs[i].name, read_back_specs[i].type,
                                                     read_back_specs[i].n_dims, read_back_specs[i].ne, &error));
      g_assert_true (tern_model_writer_write (w, rows_by_formula, row_lengths, NULL, NULL, NULL, &error));
      g_assert_no_error (error);
      g_assert_true (g_file_get_contents (path, &bytes, &len, NULL));
      if (first == NULL)
        {
          first = g_steal_pointer (&bytes);
          first_len = len;
        }
      else
        g_assert_cmpmem (bytes, len, first, first_len);
      g_unlink (path);
    }
  compress_test_assert_empty_and_remove (dir);
}

typedef struct {
  GCancellable *cancellable;
  guint cancel_at; /* the report after which to cancel; 0: never */
  guint n_reports;
} CancelAt;

static void
count_and_cancel (double fraction, gpointer data)
{
  CancelAt *c = data;

  if (++c->n_reports == c->cancel_at)
    g_cancellable_cancel (c->cancellable);
}

/* Cancelled before the start, or between the two chunks of the 9 MB
 * tensor (after the fifth chunk): CANCELLED at once, no chunk after the
 * cancel, and nothing left in the folder. */
static void
test_writer_cancel (void)
{
  gint64 row_lengths[G_N_ELEMENTS (read_back_specs)];
  const guint cancel_at[] = { 0, 5 };

  for (gsize i = 0; i < G_N_ELEMENTS (read_back_specs); i++)
    row_lengths[i] = read_back_specs[i].ne[0];
  g_assert_cmpint (read_back_specs[4].type, ==, TERN_TYPE_Q8_0);
  g_assert_cmpint (read_back_specs[4].ne[1], ==, 2100);
  for (gsize k = 0; k < G_N_ELEMENTS (cancel_at); k++)
    {
      g_autofree char *dir = compress_test_make_dir ();
      g_autofree char *path = g_build_filename (dir, "model.gguf", NULL);
      g_autoptr (GCancellable) cancellable = g_cancellable_new ();
      CancelAt c = { cancellable, cancel_at[k], 0 };
      g_autoptr (GError) error = NULL;
      TernModelWriter *w = tern_model_writer_new (path, 2, &error);

      for (gsize i = 0; i < G_N_ELEMENTS (read_back_specs); i++)
        g_assert_true (tern_model_writer_add_tensor (w, read_back_specs[i].name, read_back_specs[i].type,
                                                     read_back_specs[i].n_dims, read_back_specs[i].ne, &error));
      if (cancel_at[k] == 0)
        g_cancellable_cancel (cancellable);
      g_assert_false (tern_model_writer_write (w, rows_by_formula, row_lengths, count_and_cancel, &c, cancellable,
                                               &error));
      g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_CANCELLED);
      g_assert_cmpuint (c.n_reports, ==, cancel_at[k]);
      g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
      tern_model_writer_free (w);
      compress_test_assert_empty_and_remove (dir);
    }
}

/* Rows of a model of many tensors, made without memory of their own (and
 * cheaply: the test is about memory). */
#define BIG_N_TENSORS 16
#define BIG_ROW 4096
#define BIG_ROWS 4096

static void
big_rows (gsize tensor, gint64 row, float *out, gpointer data)
{
  for (gint64 i = 0; i < BIG_ROW; i++)
    out[i] = (float) ((gint64) (tensor * 131 + (gsize) row * 31 + (gsize) i * 7) % 97 - 48) * 0.01f;
}

/* Writing a model of 16 tensors of 17 MiB (Q8_0) raises the process's
 * peak resident memory by about one chunk (8 MiB) and one row per thread:
 * less than one tensor, and nothing like the model's 272 MiB. Measured
 * from the resident memory just before, in a fresh process, whose
 * allocator holds no memory freed by other tests that the write could
 * reuse unseen. */
static void
test_writer_bounded_memory (void)
{
  if (g_test_subprocess ())
    {
      g_autofree char *dir = compress_test_make_dir ();
      g_autofree char *path = g_build_filename (dir, "big.gguf", NULL);
      g_autoptr (GError) error = NULL;
      g_autoptr (TernModelWriter) w = tern_model_writer_new (path, 2, &error);
      const gint64 ne[2] = { BIG_ROW, BIG_ROWS };
      gint64 tensor_bytes = (gint64) tern_type_row_bytes (TERN_TYPE_Q8_0, BIG_ROW) * BIG_ROWS;
      gint64 before, growth;
      struct stat st;

      for (int i = 0; i < BIG_N_TENSORS; i++)
        {
          g_autofree char *name = g_strdup_printf ("blk.%d.ffn_up.weight", i);
          g_assert_true (tern_model_writer_add_tensor (w, name, TERN_TYPE_Q8_0, 2, ne, &error));
        }
      reset_peak_rss ();
      before = peak_rss ();
      g_assert_true (tern_model_writer_write (w, big_rows, NULL, NULL, NULL, NULL, &error));
      g_assert_no_error (error);
      growth = peak_rss () - before;

      g_assert_cmpint (g_stat (path, &st), ==, 0);
      g_assert_cmpint (st.st_size, >, BIG_N_TENSORS * tensor_bytes);
      g_printerr ("model %" G_GINT64_FORMAT " MiB, one tensor %.1f MiB, peak resident memory grew by %.1f MiB\n",
                  (gint64) st.st_size >> 20, tensor_bytes / 1048576.0, growth / 1048576.0);
      g_assert_cmpint (growth, <, (8 << 20) + (4 << 20));
      g_assert_cmpint (growth, <, tensor_bytes);
      g_unlink (path);
      g_rmdir (dir);
      return;
    }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_INHERIT_STDERR);
  g_test_trap_assert_passed ();
}

/* Types without a quantizer, and rows that are no whole number of
 * blocks, are refused when declared; no file is left. */
static void
test_writer_unsupported (void)
{
  g_autofree char *dir = compress_test_make_dir ();
  g_autofree char *path = g_build_filename (dir, "model.gguf", NULL);
  const TernType no_quantizer[] = { TERN_TYPE_Q4_1, TERN_TYPE_Q5_0, TERN_TYPE_Q2_K, TERN_TYPE_Q3_K, TERN_TYPE_Q5_K,
                                    TERN_TYPE_Q8_1, TERN_TYPE_Q8_K };
  const TernType supported[] = { TERN_TYPE_F32, TERN_TYPE_F16, TERN_TYPE_BF16, TERN_TYPE_Q8_0, TERN_TYPE_Q4_0,
                                 TERN_TYPE_Q4_K, TERN_TYPE_Q6_K, TERN_TYPE_TQ1_0, TERN_TYPE_TQ2_0 };
  const gint64 ne[2] = { 256, 4 }, short_rows[2] = { 100, 4 };
  g_autoptr (GError) error = NULL;
  TernModelWriter *w = tern_model_writer_new (path, 1, &error);

  for (gsize i = 0; i < G_N_ELEMENTS (supported); i++)
    g_assert_true (tern_model_writer_type_supported (supported[i]));
  for (gsize i = 0; i < G_N_ELEMENTS (no_quantizer); i++)
    {
      g_assert_false (tern_model_writer_type_supported (no_quantizer[i]));
      g_assert_false (tern_model_writer_add_tensor (w, "blk.0.attn_q.weight", no_quantizer[i], 2, ne, &error));
      g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_UNSUPPORTED);
      g_clear_error (&error);
    }
  g_assert_false (tern_model_writer_add_tensor (w, "blk.0.attn_q.weight", TERN_TYPE_Q4_K, 2, short_rows, &error));
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_UNSUPPORTED);
  g_assert_nonnull (strstr (error->message, "blk.0.attn_q.weight: rows of 100 elements cannot be stored as q4_K"));
  g_assert_cmpuint (tern_model_writer_n_bytes (w), ==, 0);
  tern_model_writer_free (w);
  compress_test_assert_empty_and_remove (dir);
}

/* A full disk (simulated by a file size limit) is a clean IO error, and
 * leaves no file. */
static void
test_writer_disk_full (void)
{
  if (g_test_subprocess ())
    {
      g_autofree char *dir = compress_test_make_dir ();
      g_autofree char *path = g_build_filename (dir, "model.gguf", NULL);
      g_autoptr (GError) error = NULL;
      TernModelWriter *w = tern_model_writer_new (path, 2, &error);
      struct rlimit limit = { 1 << 20, 1 << 20 };
      gint64 row_lengths[G_N_ELEMENTS (read_back_specs)];

      for (gsize i = 0; i < G_N_ELEMENTS (read_back_specs); i++)
        {
          row_lengths[i] = read_back_specs[i].ne[0];
          g_assert_true (tern_model_writer_add_tensor (w, read_back_specs[i].name, read_back_specs[i].type,
                                                       read_back_specs[i].n_dims, read_back_specs[i].ne, &error));
        }
      signal (SIGXFSZ, SIG_IGN);
      g_assert_cmpint (setrlimit (RLIMIT_FSIZE, &limit), ==, 0);
      g_assert_false (tern_model_writer_write (w, rows_by_formula, row_lengths, NULL, NULL, NULL, &error));
      g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_IO);
      g_printerr ("%s\n", error->message);
      tern_model_writer_free (w);
      compress_test_assert_empty_and_remove (dir);
      return;
    }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
  g_test_trap_assert_stderr ("*model.gguf: write failed*");
}

/* A folder the process may not write to: IO from the start. Permissions
 * do not stop root, so there the folder is /proc, where no one creates
 * files. */
static void
test_writer_unwritable_folder (void)
{
  g_autofree char *dir = compress_test_make_dir ();
  const char *folder = dir;
  g_autofree char *path = NULL;
  g_autoptr (GError) error = NULL;
  TernModelWriter *w;

  g_assert_cmpint (g_chmod (dir, 0500), ==, 0);
  if (access (dir, W_OK) == 0)
    folder = "/proc";
  path = g_build_filename (folder, "model.gguf", NULL);
  w = tern_model_writer_new (path, 1, &error);
  g_assert_null (w);
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_IO);
  g_assert_nonnull (strstr (error->message, "model.gguf: cannot create"));
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
  g_assert_cmpint (g_chmod (dir, 0700), ==, 0);
  compress_test_assert_empty_and_remove (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/engine/compress/policy/llama-quantize", test_policy_llama_quantize);
  g_test_add_func ("/engine/compress/policy/llama-shape", test_policy_llama_shape);
  g_test_add_func ("/engine/compress/writer/read-back", test_writer_read_back);
  g_test_add_func ("/engine/compress/writer/threads", test_writer_threads);
  g_test_add_func ("/engine/compress/writer/cancel", test_writer_cancel);
  g_test_add_func ("/engine/compress/writer/bounded-memory", test_writer_bounded_memory);
  g_test_add_func ("/engine/compress/writer/unsupported", test_writer_unsupported);
  g_test_add_func ("/engine/compress/writer/disk-full", test_writer_disk_full);
  g_test_add_func ("/engine/compress/writer/unwritable-folder", test_writer_unwritable_folder);
  return g_test_run ();
}
