/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Calibrated ternary rounding: the weighted block fit against a search over
 * a fine grid of scales; GPTQ without correlations (an identity Hessian)
 * equal to the plain fit; GPTQ with correlated inputs leaving a smaller
 * output error than the plain fit; a Hessian that is not positive
 * definite refused; the calibration's Hessians against double sums of
 * the inputs the model hands out, on one thread and two. */
#include <math.h>
#include <tern/compress.h>
#include <tern/context.h>
#include <tern/model.h>

#include "compress/calibrate.h"
#include "compress/gptq.h"
#include "compress/ternarize.h"
#include "compress-test.h"

static double
normal (GRand *rand)
{
  double u = g_rand_double_range (rand, 1e-12, 1.0), v = g_rand_double (rand);

  return sqrt (-2.0 * log (u)) * cos (2.0 * G_PI * v);
}

static double
weighted_error (const float *w, const float *y, const float *h, gint64 n)
{
  double e = 0.0;

  for (gint64 j = 0; j < n; j++)
    e += h[j] * ((double) w[j] - y[j]) * ((double) w[j] - y[j]);
  return e;
}

/* The least weighted error of any scale on a grid of 20,000 up to the
 * largest magnitude, each weight kept where it is above half the scale. */
static double
grid_search (const float *w, const float *h)
{
  double amax = 0.0, best = G_MAXDOUBLE;

  for (int j = 0; j < TERN_TERNARY_BLOCK; j++)
    amax = MAX (amax, fabs (w[j]));
  for (int g = 0; g <= 20000; g++)
    {
      double s = amax * g / 20000.0, e = 0.0;

      for (int j = 0; j < TERN_TERNARY_BLOCK; j++)
        {
          double y = fabs (w[j]) >= s / 2 ? copysign (s, w[j]) : 0.0;
          e += h[j] * (w[j] - y) * (w[j] - y);
        }
      best = MIN (best, e);
    }
  return best;
}

static void
test_weighted_fit (void)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (3);

  for (int b = 0; b < 40; b++)
    {
      float w[TERN_TERNARY_BLOCK], h[TERN_TERNARY_BLOCK], y[TERN_TERNARY_BLOCK];
      double fit, grid;

      for (int j = 0; j < TERN_TERNARY_BLOCK; j++)
        {
          w[j] = (float) normal (rand);
          /* Input channels of very different importance, as activations have. */
          h[j] = (float) exp (2.0 * normal (rand));
        }
      tern_ternarize_weighted (w, h, y, TERN_TERNARY_BLOCK);
      fit = weighted_error (w, y, h, TERN_TERNARY_BLOCK);
      grid = grid_search (w, h);
      /* The scale is stored in float16: a relative 2⁻¹¹ from the optimum. */
      g_assert_cmpfloat (fit, <=, grid * (1.0 + 1e-3));
    }
}

/* tr ((W − Q) H (W − Q)ᵀ): the squared error of the outputs. */
static double
output_error (const float *w, const float *q, const double *h, gint64 n_rows, gint64 n_in)
{
  double total = 0.0;

  for (gint64 r = 0; r < n_rows; r++)
    for (gint64 i = 0; i < n_in; i++)
      {
        double di = (double) w[r * n_in + i] - q[r * n_in + i];
        for (gint64 k = 0; k < n_in; k++)
          total += di * h[i * n_in + k] * ((double) w[r * n_in + k] - q[r * n_in + k]);
      }
  return total;
}

enum { N_IN = 512, N_ROWS = 12, N_SAMPLES = 2048 };

/* Rows fitted block by block with the Hessian's diagonal, without feedback. */
static void
plain_fit (const float *w, const double *h, float *out)
{
  float h_diag[N_IN];

  for (int j = 0; j < N_IN; j++)
    h_diag[j] = (float) h[j * N_IN + j];
  for (int r = 0; r < N_ROWS; r++)
    for (int b = 0; b < N_IN; b += TERN_TERNARY_BLOCK)
      tern_ternarize_weighted (w + r * N_IN + b, h_diag + b, out + r * N_IN + b, TERN_TERNARY_BLOCK);
}

/* GPTQ over the rows of @w. */
static gboolean
gptq_rows (const float *w, const double *h, double damp, float *out)
{
  g_autoptr (TernGptq) gptq = tern_gptq_new (h, N_IN, damp);

  if (gptq == NULL)
    return FALSE;
  for (int r = 0; r < N_ROWS; r++)
    tern_gptq_row (gptq, w + r * N_IN, out + r * N_IN);
  return TRUE;
}

static void
random_weights (GRand *rand, float *w)
{
  for (int i = 0; i < N_ROWS * N_IN; i++)
    w[i] = (float) (0.02 * normal (rand));
}

/* Uncorrelated inputs of one scale: nothing to feed back, GPTQ's blocks
 * are the plain fit's but where the feedback of rounding within a block
 * moved a weight across half the scale. */
static void
test_identity (void)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (5);
  g_autofree double *h = g_new0 (double, N_IN * N_IN);
  g_autofree float *w = g_new (float, N_ROWS * N_IN), *plain = g_new (float, N_ROWS * N_IN);
  g_autofree float *gptq = g_new (float, N_ROWS * N_IN);
  int same = 0;

  for (int j = 0; j < N_IN; j++)
    h[j * N_IN + j] = 1.0;
  random_weights (rand, w);
  plain_fit (w, h, plain);
  g_assert_true (gptq_rows (w, h, 0.01, gptq));
  for (int i = 0; i < N_ROWS * N_IN; i++)
    same += plain[i] == gptq[i];
  g_assert_cmpint (same, >=, N_ROWS * N_IN * 999 / 1000);
}

/* Correlated inputs (mixed from fewer sources): GPTQ's outputs are much
 * nearer the original's than the plain fit's. */
static void
test_correlated (void)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (9);
  g_autofree double *h = g_new0 (double, N_IN * N_IN), *mix = g_new (double, 64 * N_IN);
  g_autofree float *w = g_new (float, N_ROWS * N_IN), *plain = g_new (float, N_ROWS * N_IN);
  g_autofree float *gptq = g_new (float, N_ROWS * N_IN);
  double x[N_IN], e_plain, e_gptq;

  for (int i = 0; i < 64 * N_IN; i++)
    mix[i] = normal (rand);
  for (int s = 0; s < N_SAMPLES; s++)
    {
      double z[64];

      for (int k = 0; k < 64; k++)
        z[k] = normal (rand);
      for (int j = 0; j < N_IN; j++)
        {
          x[j] = 0.3 * normal (rand);
          for (int k = 0; k < 64; k++)
            x[j] += z[k] * mix[k * N_IN + j];
        }
      for (int i = 0; i < N_IN; i++)
        for (int j = 0; j < N_IN; j++)
          h[i * N_IN + j] += x[i] * x[j] / N_SAMPLES;
    }
  random_weights (rand, w);
  plain_fit (w, h, plain);
  g_assert_true (gptq_rows (w, h, 0.01, gptq));
  e_plain = output_error (w, plain, h, N_ROWS, N_IN);
  e_gptq = output_error (w, gptq, h, N_ROWS, N_IN);
  g_test_message ("output error: plain fit %.4g, GPTQ %.4g (%.2f)", e_plain, e_gptq, e_gptq / e_plain);
  g_assert_cmpfloat (e_gptq, <, 0.5 * e_plain);
}

/* A layer whose inputs were all zero has no Hessian to invert. */
static void
test_not_positive_definite (void)
{
  g_autofree double *h = g_new0 (double, N_IN * N_IN);
  g_autofree float *w = g_new0 (float, N_ROWS * N_IN), *out = g_new (float, N_ROWS * N_IN);

  g_assert_false (gptq_rows (w, h, 0.01, out));
}

/* The inputs of layer 1's feed-forward down matrix, summed in double. */
typedef struct {
  double *h;
  gint64 n_rows;
} DownSums;

static void
sum_down (gint32 layer, TernWeightKind kind, const float *rows, gint32 n_rows, gint32 n_cols, gpointer data)
{
  DownSums *d = data;

  if (layer != 1 || kind != TERN_WEIGHT_DOWN)
    return;
  for (gint32 r = 0; r < n_rows; r++)
    for (gint32 i = 0; i < n_cols; i++)
      for (gint32 j = 0; j < n_cols; j++)
        d->h[(gsize) i * n_cols + j] += (double) rows[(gsize) r * n_cols + i] * rows[(gsize) r * n_cols + j];
  d->n_rows += n_rows;
}

/* The Hessian of an input is XᵀX / n over the chunks of the text: the
 * calibration's (summed in cached blocks, on a thread pool) against a
 * plain double sum of the same inputs, every element of it. */
static void
test_calibration_hessian (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *path = compress_test_model_path ("kjv-tiny-f32");
  g_autofree char *text = compress_test_calibration_text ();
  g_autoptr (TernModel) model = tern_model_load (path, NULL, NULL, NULL, &error);
  g_autoptr (TernContext) ctx = NULL;
  g_autoptr (GArray) tokens = NULL;
  TernContextParams params;
  gint32 n_ctx;
  gint64 n = tern_model_hparams (model)->n_ff;
  DownSums sums = { g_new0 (double, (gsize) (n * n)), 0 };

  g_assert_no_error (error);
  tokens = tern_calibration_chunks (model, text, 4096, TERN_COMPRESS_CALIBRATION_TOKENS, &n_ctx, &error);
  g_assert_no_error (error);
  tern_context_params_init (&params);
  params.n_ctx = n_ctx;
  params.n_threads = 1;
  ctx = tern_context_new (model, &params, &error);
  g_assert_no_error (error);
  for (guint c = 0; c < tokens->len; c += (guint) n_ctx)
    {
      tern_context_truncate (ctx, 0);
      g_assert_true (tern_context_collect_inputs (ctx, &g_array_index (tokens, TernToken, c), n_ctx, sum_down, &sums,
                                                  NULL, &error));
    }
  for (guint threads = 1; threads <= 2; threads++)
    {
      g_autoptr (TernCalibration) cal = tern_calibration_collect (path, text, 4096, threads, NULL, &error);
      gint64 n_in = 0;
      const double *h;
      double worst = 0.0;

      g_assert_no_error (error);
      h = tern_calibration_hessian (cal, 1, TERN_CALIBRATION_DOWN, &n_in);
      g_assert_cmpint (n_in, ==, n);
      for (gint64 i = 0; i < n * n; i++)
        {
          double want = sums.h[i] / (double) sums.n_rows;

          worst = MAX (worst, fabs (h[i] - want) / (fabs (want) + 1e-3));
        }
      g_test_message ("%u threads: worst relative difference %.2g", threads, worst);
      g_assert_cmpfloat (worst, <, 1e-4);
    }
  g_free (sums.h);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/engine/compress/gptq/weighted-fit", test_weighted_fit);
  g_test_add_func ("/engine/compress/gptq/identity", test_identity);
  g_test_add_func ("/engine/compress/gptq/correlated", test_correlated);
  g_test_add_func ("/engine/compress/gptq/not-positive-definite", test_not_positive_definite);
  g_test_add_func ("/engine/compress/gptq/calibration-hessian", test_calibration_hessian);
  return g_test_run ();
}
