/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Every operation of every registered backend against the references of
 * reference.c: on each device of the registry (the CPU at each kernel
 * level it has, a level it lacks skipped, saying why), over several shapes
 * and batches of 1, 7 and 64 rows, on hand-made weights of every type the
 * CPU computes with. The harness a new backend is held to: a device of its
 * own shows up here with no change to this file.
 *
 * Tolerances, per operation (why each is what it is: reference.c):
 *   embed, add, copy_rows, read, write, kv_save/kv_load: exact.
 *   rms_norm: 1e-6 relative.  swiglu: 1e-6 of |gate × up|.
 *   matmul: 1e-5 of Σ|w a|, one activation rounding step × max|w|, and
 *     for Q8_1 activations 2^-10 of their block sums.
 *   rope: the angle's float error, (n_rot + 4) × 2^-24 × |angle| + 2^-21.
 *   attend: 2^-10 of Σ p|v| for an F16 cache (1e-6 for F32), and the
 *     scores' float error.
 *   kv_move: rope's, and the key rounded to the cache type twice. */
#include <math.h>
#include <tern/error.h>

#include "kernel-levels.h"
#include "ops-harness.h"
#include "reference.h"

static const TernType weight_types[] = {
  TERN_TYPE_F32,  TERN_TYPE_F16,  TERN_TYPE_BF16, TERN_TYPE_Q4_0, TERN_TYPE_Q4_1,  TERN_TYPE_Q5_0,
  TERN_TYPE_Q5_1, TERN_TYPE_Q8_0, TERN_TYPE_Q2_K, TERN_TYPE_Q3_K, TERN_TYPE_Q4_K,  TERN_TYPE_Q5_K,
  TERN_TYPE_Q6_K, TERN_TYPE_TQ1_0, TERN_TYPE_TQ2_0,
};

/* The types whose products have a Vulkan integer path (shaders/meson.build):
 * the others take the float path there too, which the matmul case checks
 * already. */
static gboolean
has_int_path (TernType type)
{
  return type == TERN_TYPE_Q4_0 || type == TERN_TYPE_Q8_0 || type == TERN_TYPE_Q4_K || type == TERN_TYPE_Q6_K
         || type == TERN_TYPE_TQ2_0;
}

/* ---- Weights: embed, rms_norm, matmul ---- */

static void
test_embed (gconstpointer data)
{
  const Target *t = data;
  Check c = { "embed" };

  if (!target_runs (t))
    return;
  for (guint ti = 0; ti < G_N_ELEMENTS (weight_types); ti++)
    {
      TernHParams hp = hparams (256, 4, 4, 64);
      g_autoptr (HandModel) m = hand_model_new (&hp, 10 + ti);
      const TernGgufTensor *emb = hand_model_add (m, -1, TERN_WEIGHT_TOKEN_EMBD, weight_types[ti], hp.n_embd,
                                                  hp.n_vocab, -1, 1);
      TernBackend *b = backend_open (t, m, 8, TERN_TYPE_F16);
      g_autofree double *want = g_new (double, hp.n_embd);

      for (guint bi = 0; bi < N_BATCHES; bi++)
        {
          gint32 n = batches[bi];
          g_autofree TernToken *tokens = g_new (TernToken, n);
          for (gint32 i = 0; i < n; i++)
            tokens[i] = g_rand_int_range (hand_model_rand (m), 0, hp.n_vocab);
          TernBuf *out = buf_new (b, n, hp.n_embd, NULL);
          begin (b);
          b->ops->embed (b, tokens, n, out);
          submit (b);
          g_autofree float *got = buf_read (b, out, 0, n, hp.n_embd);
          for (gint32 i = 0; i < n; i++)
            {
              ref_weight_row (emb, tokens[i], want);
              for (gint32 j = 0; j < hp.n_embd; j++)
                check (&c, got[i * hp.n_embd + j], want[j], 0, "%s, token %d, [%d]",
                       tern_type_name (weight_types[ti]), tokens[i], j);
            }
          b->ops->buf_free (b, out);
        }
      backend_close (b, m);
    }
  check_done (&c);
}

static void
test_rms_norm (gconstpointer data)
{
  const Target *t = data;
  const gint32 widths[] = { 96, 256, 1000 };
  Check c = { "rms_norm" };

  if (!target_runs (t))
    return;
  for (guint wi = 0; wi < G_N_ELEMENTS (widths); wi++)
    {
      TernHParams hp = hparams (widths[wi], 4, 4, 64);
      g_autoptr (HandModel) m = hand_model_new (&hp, 20 + wi);
      GRand *rand = hand_model_rand (m);
      gint32 d = hp.n_embd;
      const TernGgufTensor *norms[] = {
        hand_model_add (m, 0, TERN_WEIGHT_ATTN_NORM, TERN_TYPE_F32, d, 1, 0.5, 1.5),
        hand_model_add (m, 1, TERN_WEIGHT_ATTN_NORM, TERN_TYPE_F32, d, 1, 0.5, 1.5),
        hand_model_add (m, -1, TERN_WEIGHT_OUTPUT_NORM, TERN_TYPE_F32, d, 1, 0.5, 1.5),
      };
      const gint32 layers[] = { 0, 1, -1 };
      const TernWeightKind kinds[] = { TERN_WEIGHT_ATTN_NORM, TERN_WEIGHT_ATTN_NORM, TERN_WEIGHT_OUTPUT_NORM };
      TernBackend *b = backend_open (t, m, 8, TERN_TYPE_F16);
      g_autofree double *want = g_new (double, d);
      g_autofree double *tol = g_new (double, d);

      for (guint bi = 0; bi < N_BATCHES; bi++)
        for (guint k = 0; k < G_N_ELEMENTS (norms); k++)
          {
            gint32 n = batches[bi];
            /* Rows of very different sizes. */
            g_autofree float *x = random_floats (rand, (gsize) n * d, -1, 1);
            for (gint32 i = 0; i < n; i++)
              {
                float size = (float) pow (10, g_rand_double_range (rand, -3, 3));
                for (gint32 j = 0; j < d; j++)
                  x[i * d + j] *= size;
              }
            TernBuf *in = buf_new (b, n, d, x), *out = buf_new (b, n, d, NULL);
            begin (b);
            b->ops->rms_norm (b, in, n, layers[k], kinds[k], out);
            submit (b);
            g_autofree float *got = buf_read (b, out, 0, n, d);
            for (gint32 i = 0; i < n; i++)
              {
                ref_rms_norm (x + i * d, norms[k]->data, d, hp.rms_eps, want, tol);
                for (gint32 j = 0; j < d; j++)
                  check (&c, got[i * d + j], want[j], tol[j], "width %d, layer %d, row %d of %d, [%d]", d, layers[k],
                         i, n, j);
              }
            b->ops->buf_free (b, in);
            b->ops->buf_free (b, out);
          }
      backend_close (b, m);
    }
  check_done (&c);
}

/* W x with and without a bias, for every weight type (on a Vulkan target's
 * integer path, those that have one), on shapes of odd output counts (tile
 * edges) and inputs of one or several blocks. */
static void
test_matmul (gconstpointer data)
{
  const Target *t = data;
  const struct { gint64 n_in, n_out; } shapes[] = { { 96, 5 }, { 256, 33 }, { 768, 130 } };
  Check c = { "matmul" };

  if (!target_runs (t))
    return;
  for (guint ti = 0; ti < G_N_ELEMENTS (weight_types); ti++)
    for (guint si = 0; si < G_N_ELEMENTS (shapes); si++)
      {
        TernType type = weight_types[ti];
        gint64 n_in = shapes[si].n_in, n_out = shapes[si].n_out;
        if (n_in % tern_type_info (type)->block_elems != 0 || (t->int_dot && !has_int_path (type)))
          continue;
        TernHParams hp = hparams ((gint32) n_in, 4, 4, (gint32) n_in / 4);
        g_autoptr (HandModel) m = hand_model_new (&hp, 30 + ti * 8 + si);
        GRand *rand = hand_model_rand (m);
        /* Without a bias on the output weight, with one on a layer's. */
        const TernGgufTensor *weights[] = {
          hand_model_add (m, -1, TERN_WEIGHT_OUTPUT, type, n_in, n_out, -1, 1),
          hand_model_add (m, 1, TERN_WEIGHT_Q, type, n_in, n_out, -1, 1),
        };
        const TernGgufTensor *bias = hand_model_add (m, 1, TERN_WEIGHT_Q_BIAS, TERN_TYPE_F32, n_out, 1, -1, 1);
        TernBackend *b = backend_open (t, m, 8, TERN_TYPE_F16);
        g_autofree double *w = g_new (double, n_in * n_out);
        g_autofree double *bias_d = g_new (double, n_out);
        g_autofree double *want = g_new (double, n_out);
        g_autofree double *tol = g_new (double, n_out);

        for (gint64 i = 0; i < n_out; i++)
          bias_d[i] = ((const float *) bias->data)[i];
        for (guint k = 0; k < G_N_ELEMENTS (weights); k++)
          {
            for (gint64 r = 0; r < n_out; r++)
              ref_weight_row (weights[k], r, w + r * n_in);
            for (guint bi = 0; bi < N_BATCHES; bi++)
              {
                gint32 n = batches[bi];
                g_autofree float *x = random_floats (rand, (gsize) n * n_in, -3, 3);
                TernBuf *in = buf_new (b, n, n_in, x), *out = buf_new (b, n, n_out, NULL);
                begin (b);
                if (k == 0)
                  b->ops->matmul (b, in, n, -1, TERN_WEIGHT_OUTPUT, TERN_WEIGHT_N_KINDS, out);
                else
                  b->ops->matmul (b, in, n, 1, TERN_WEIGHT_Q, TERN_WEIGHT_Q_BIAS, out);
                submit (b);
                g_autofree float *got = buf_read (b, out, 0, n, n_out);
                for (gint32 i = 0; i < n; i++)
                  {
                    ref_matmul (w, tern_quant_vec_dot_type (type), n_in, n_out, x + i * n_in, k == 0 ? NULL : bias_d, want, tol);
                    for (gint64 r = 0; r < n_out; r++)
                      check (&c, got[i * n_out + r], want[r], tol[r], "%s %" G_GINT64_FORMAT "×%" G_GINT64_FORMAT
                             "%s, row %d of %d, output %" G_GINT64_FORMAT, tern_type_name (type), n_out, n_in,
                             k == 0 ? "" : " with bias", i, n, r);
                  }
                b->ops->buf_free (b, in);
                b->ops->buf_free (b, out);
              }
          }
        backend_close (b, m);
      }
  check_done (&c);
}

/* ---- RoPE ---- */

static void
test_rope (gconstpointer data)
{
  const Target *t = data;
  const gint32 positions[] = { 0, 37, 700 };
  Check c = { "rope" };

  if (!target_runs (t))
    return;
  for (guint si = 0; si < N_ROPE_SHAPES; si++)
    {
      const float *freqs;
      g_autoptr (HandModel) m = rope_model (&rope_shapes[si], 40 + si, &freqs);
      const TernHParams *hp = hand_model_hparams (m);
      TernBackend *b = backend_open (t, m, 800, TERN_TYPE_F16);

      for (guint bi = 0; bi < N_BATCHES; bi++)
        for (guint pi = 0; pi < G_N_ELEMENTS (positions); pi++)
          for (gint32 n_heads = hp->n_head_kv; n_heads <= hp->n_head; n_heads += hp->n_head - hp->n_head_kv)
            {
              gint32 n = batches[bi], cols = n_heads * hp->head_dim;
              g_autofree float *x = random_floats (hand_model_rand (m), (gsize) n * cols, -2, 2);
              g_autofree double *xd = g_new (double, cols);
              g_autofree double *want = g_new (double, cols);
              g_autofree double *tol = g_new (double, cols);
              TernBuf *buf = buf_new (b, n, cols, x);
              begin (b);
              b->ops->rope (b, buf, n, n_heads, positions[pi]);
              submit (b);
              g_autofree float *got = buf_read (b, buf, 0, n, cols);
              for (gint32 i = 0; i < n; i++)
                {
                  for (gint32 j = 0; j < cols; j++)
                    xd[j] = x[i * cols + j];
                  ref_rope (hp, freqs, xd, n_heads, positions[pi] + i, want, tol);
                  for (gint32 j = 0; j < cols; j++)
                    check (&c, got[i * cols + j], want[j], tol[j], "%s, %d heads, position %d, [%d]",
                           rope_shapes[si].name, n_heads, positions[pi] + i, j);
                }
              b->ops->buf_free (b, buf);
              if (hp->n_head == hp->n_head_kv)
                break;
            }
      backend_close (b, m);
    }
  check_done (&c);
}

/* ---- Element-wise and copies ---- */

static void
test_swiglu (gconstpointer data)
{
  const Target *t = data;
  const gint32 widths[] = { 96, 1000 };
  Check c = { "swiglu" };

  if (!target_runs (t))
    return;
  for (guint wi = 0; wi < G_N_ELEMENTS (widths); wi++)
    {
      TernHParams hp = hparams (widths[wi], 4, 4, 64);
      g_autoptr (HandModel) m = hand_model_new (&hp, 60 + wi);
      TernBackend *b = backend_open (t, m, 8, TERN_TYPE_F16);
      gint32 d = widths[wi];

      for (guint bi = 0; bi < N_BATCHES; bi++)
        {
          gint32 n = batches[bi];
          g_autofree float *gate = random_floats (hand_model_rand (m), (gsize) n * d, -8, 8);
          g_autofree float *up = random_floats (hand_model_rand (m), (gsize) n * d, -2, 2);
          TernBuf *g = buf_new (b, n, d, gate), *u = buf_new (b, n, d, up);
          begin (b);
          b->ops->swiglu (b, g, u, n);
          submit (b);
          g_autofree float *got = buf_read (b, g, 0, n, d);
          for (gint32 i = 0; i < n * d; i++)
            {
              double want, tol;
              ref_swiglu (gate[i], up[i], &want, &tol);
              check (&c, got[i], want, tol, "width %d, row %d of %d, [%d]", d, i / d, n, i % d);
            }
          b->ops->buf_free (b, g);
          b->ops->buf_free (b, u);
        }
      backend_close (b, m);
    }
  check_done (&c);
}

/* add is exact: a float sum is the exact sum rounded once, as the double
 * sum of two floats rounded to float is. copy_rows, read and write copy. */
static void
test_add_copy_read (gconstpointer data)
{
  const Target *t = data;
  const gint32 widths[] = { 96, 1000 };
  const gint32 rows = 64;
  Check add = { "add" }, copy = { "copy_rows" }, read = { "read" };

  if (!target_runs (t))
    return;
  for (guint wi = 0; wi < G_N_ELEMENTS (widths); wi++)
    {
      TernHParams hp = hparams (widths[wi], 4, 4, 64);
      g_autoptr (HandModel) m = hand_model_new (&hp, 70 + wi);
      GRand *rand = hand_model_rand (m);
      TernBackend *b = backend_open (t, m, 8, TERN_TYPE_F16);
      gint32 d = widths[wi];

      for (guint bi = 0; bi < N_BATCHES; bi++)
        {
          gint32 n = batches[bi], src_row = (rows - n) / 3, dst_row = rows - n - (rows - n) / 2;
          g_autofree float *x = random_floats (rand, (gsize) rows * d, -100, 100);
          g_autofree float *y = random_floats (rand, (gsize) rows * d, -1, 1);
          g_autofree float *z = random_floats (rand, (gsize) rows * d, -1, 1);
          TernBuf *xb = buf_new (b, rows, d, x), *yb = buf_new (b, rows, d, y), *zb = buf_new (b, rows, d, z);

          begin (b);
          b->ops->add (b, xb, yb, n);
          b->ops->copy_rows (b, yb, src_row, n, zb, dst_row);
          submit (b);
          g_autofree float *sum = buf_read (b, xb, 0, n, d);
          for (gint32 i = 0; i < n * d; i++)
            check (&add, sum[i], (float) ((double) x[i] + y[i]), 0, "width %d, row %d of %d", d, i / d, n);
          /* The rows copied, and the others as they were. */
          g_autofree float *copied = buf_read (b, zb, 0, rows, d);
          for (gint32 i = 0; i < rows * d; i++)
            {
              gint32 r = i / d;
              gboolean inside = r >= dst_row && r < dst_row + n;
              check (&copy, copied[i], inside ? y[(r - dst_row + src_row) * d + i % d] : z[i], 0,
                     "width %d, %d rows from %d to %d, row %d", d, n, src_row, dst_row, r);
            }
          /* A part of a buffer, read back. */
          g_autofree float *part = buf_read (b, yb, src_row, n, d);
          for (gint32 i = 0; i < n * d; i++)
            check (&read, part[i], y[src_row * d + i], 0, "width %d, %d rows from %d", d, n, src_row);
          b->ops->buf_free (b, xb);
          b->ops->buf_free (b, yb);
          b->ops->buf_free (b, zb);
        }
      backend_close (b, m);
    }
  check_done (&add);
  check_done (&copy);
  check_done (&read);
}

/* A buffer too large for memory is NOMEM, not an abort, and the backend
 * goes on working. */
static void
test_buffer_nomem (gconstpointer data)
{
  const Target *t = data;
  TernHParams hp = hparams (256, 4, 4, 64);
  g_autoptr (HandModel) m = hand_model_new (&hp, 80);
  g_autoptr (GError) error = NULL;

  if (!target_runs (t))
    return;
  TernBackend *b = backend_open (t, m, 8, TERN_TYPE_F16);
  /* 2^48 bytes of activations; the second also overflows a size_t. */
  g_assert_null (b->ops->buf_new (b, (gint64) 1 << 30, (gint64) 1 << 16, &error));
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_NOMEM);
  g_clear_error (&error);
  g_assert_null (b->ops->buf_new (b, G_MAXINT64 / 2, 4, &error));
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_NOMEM);

  float x[4] = { 1, 2, 3, 4 }, y[4] = { 0.5f, 0.25f, 0.125f, 1 };
  TernBuf *xb = buf_new (b, 1, 4, x), *yb = buf_new (b, 1, 4, y);
  begin (b);
  b->ops->add (b, xb, yb, 1);
  submit (b);
  g_autofree float *sum = buf_read (b, xb, 0, 1, 4);
  g_assert_cmpfloat (sum[3], ==, 5);
  b->ops->buf_free (b, xb);
  b->ops->buf_free (b, yb);
  backend_close (b, m);
}

/* ---- Registration ---- */

/* AddressSanitizer's allocator aborts on a request larger than memory
 * unless told to fail it as malloc does (test_buffer_nomem). */
const char *__asan_default_options (void);
const char *
__asan_default_options (void)
{
  return "allocator_may_return_null=1";
}

/* The cases of every operation on @device at @level, named @name. */
static void
add_target_tests (GPtrArray *targets, const TernDevice *device, TernKernelLevel level, const char *name)
{
  const struct { const char *op; GTestDataFunc func; } ops[] = {
    { "embed", test_embed },
    { "rms_norm", test_rms_norm },
    { "matmul", test_matmul },
    { "rope", test_rope },
    { "kv_store+attend", test_attend },
    { "attend-shapes", test_attend_shapes },
    { "kv_move", test_kv_move },
    { "kv_save+kv_load", test_kv_save_load },
    { "swiglu", test_swiglu },
    { "add+copy_rows+read", test_add_copy_read },
    { "buffer-nomem", test_buffer_nomem },
  };
  Target *t = g_new (Target, 1);

  *t = (Target) { device, level };
  g_ptr_array_add (targets, t);
  for (guint i = 0; i < G_N_ELEMENTS (ops); i++)
    {
      g_autofree char *path = g_strdup_printf ("/engine/backend/ops/%s/%s", name, ops[i].op);
      g_test_add_data_func (path, t, ops[i].func);
    }
}

int
main (int argc, char **argv)
{
  guint n_devices;
  const TernDevice *const *devices = tern_devices (&n_devices);
  g_autoptr (GPtrArray) targets = g_ptr_array_new_with_free_func (g_free);

  g_test_init (&argc, &argv, NULL);
  kernel_levels_check_required ();
  for (guint i = 0; i < n_devices; i++)
    {
      /* Stopping does not depend on the kernels. */
      Target *best = g_new (Target, 1);
      *best = (Target) { devices[i], TERN_KERNEL_BEST };
      g_ptr_array_add (targets, best);
      g_autofree char *stop_path = g_strdup_printf ("/engine/backend/ops/%s/stop", devices[i]->name);
      g_test_add_data_func (stop_path, best, test_stop);
      g_autofree char *reuse_path = g_strdup_printf ("/engine/backend/ops/%s/reuse", devices[i]->name);
      g_test_add_data_func (reuse_path, best, test_reuse);
      /* A Vulkan device's matrix products have an integer path too. */
      if (g_strcmp0 (devices[i]->backend, "vulkan") == 0)
        {
          Target *dot = g_new (Target, 1);
          *dot = (Target) { devices[i], TERN_KERNEL_BEST, TRUE };
          g_ptr_array_add (targets, dot);
          g_autofree char *dot_path = g_strdup_printf ("/engine/backend/ops/%s/matmul-int", devices[i]->name);
          g_test_add_data_func (dot_path, dot, test_matmul);
        }
      /* A device with kernel levels (the CPU) runs at each of them. */
      if (tern_device_feature (devices[i], "kernel-levels") == NULL)
        {
          add_target_tests (targets, devices[i], TERN_KERNEL_BEST, devices[i]->name);
          continue;
        }
      for (TernKernelLevel l = TERN_KERNEL_SCALAR; l < TERN_KERNEL_BEST; l++)
        {
          g_autofree char *name = g_strdup_printf ("%s/%s", devices[i]->name, tern_kernel_level_name (l));
          add_target_tests (targets, devices[i], l, name);
        }
    }
  return g_test_run ();
}
