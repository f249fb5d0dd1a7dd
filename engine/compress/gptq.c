/* SPDX-License-Identifier: GPL-3.0-or-later */
/* GPTQ for ternary blocks: the inverse Hessian's Cholesky factor spreads
 * each weight's rounding error over the weights after it, which the
 * remaining blocks then absorb. */
#include "compress/gptq.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "compress/ternarize.h"
#include "quant/quant.h"

typedef struct {
  float magnitude;
  int index;
} Ranked;

static int
by_magnitude_down (const void *a, const void *b)
{
  float x = ((const Ranked *) a)->magnitude, y = ((const Ranked *) b)->magnitude;

  return (x < y) - (x > y);
}

float
tern_ternarize_weighted (const float *w, const float *h_diag, float *y, gint64 n)
{
  Ranked ranked[TERN_TERNARY_BLOCK];
  double sum_hw = 0.0, sum_h = 0.0, best_gain = 0.0, best_scale = 0.0;
  int best_k = 0;
  float scale;

  g_return_val_if_fail (n == TERN_TERNARY_BLOCK, 0.0f);

  for (int j = 0; j < TERN_TERNARY_BLOCK; j++)
    ranked[j] = (Ranked) { fabsf (w[j]), j };
  qsort (ranked, TERN_TERNARY_BLOCK, sizeof *ranked, by_magnitude_down);
  /* For a given scale the best block keeps the weights above half of it:
   * the k largest, for some k. Keeping them at the weighted mean
   * magnitude removes (Σ h|w|)² / Σ h of the weighted error. */
  for (int k = 1; k <= TERN_TERNARY_BLOCK; k++)
    {
      const Ranked *r = &ranked[k - 1];

      sum_hw += (double) h_diag[r->index] * r->magnitude;
      sum_h += h_diag[r->index];
      if (sum_h > 0.0 && sum_hw * sum_hw / sum_h > best_gain)
        {
          best_gain = sum_hw * sum_hw / sum_h;
          best_scale = sum_hw / sum_h;
          best_k = k;
        }
    }
  scale = tern_fp16_to_fp32 (tern_fp32_to_fp16 ((float) best_scale));
  memset (y, 0, TERN_TERNARY_BLOCK * sizeof *y);
  for (int k = 0; k < best_k; k++)
    y[ranked[k].index] = copysignf (scale, w[ranked[k].index]);
  return scale;
}

/* @a (@n × @n, row-major, symmetric) becomes L, lower, with L·Lᵀ = @a;
 * FALSE when @a is not positive definite. */
static gboolean
cholesky (double *a, gint64 n)
{
  for (gint64 j = 0; j < n; j++)
    {
      double d = a[j * n + j];

      for (gint64 k = 0; k < j; k++)
        d -= a[j * n + k] * a[j * n + k];
      if (!(d > 0.0))
        return FALSE;
      d = sqrt (d);
      a[j * n + j] = d;
      for (gint64 i = j + 1; i < n; i++)
        {
          double s = a[i * n + j];

          for (gint64 k = 0; k < j; k++)
            s -= a[i * n + k] * a[j * n + k];
          a[i * n + j] = s / d;
        }
      for (gint64 i = 0; i < j; i++)
        a[i * n + j] = 0.0;
    }
  return TRUE;
}

/* The upper factor U with Uᵀ·U = H⁻¹, from L (lower, L·Lᵀ = H): GPTQ's
 * weights of the error feedback. */
static gboolean
inverse_factor (const double *l, gint64 n, double *u)
{
  g_autofree double *inv = g_new0 (double, (gsize) (n * n));

  /* inv = L⁻¹, lower, by forward substitution column by column. */
  for (gint64 j = 0; j < n; j++)
    {
      inv[j * n + j] = 1.0 / l[j * n + j];
      for (gint64 i = j + 1; i < n; i++)
        {
          double s = 0.0;

          for (gint64 k = j; k < i; k++)
            s -= l[i * n + k] * inv[k * n + j];
          inv[i * n + j] = s / l[i * n + i];
        }
    }
  /* H⁻¹ = L⁻ᵀ·L⁻¹, then its lower factor M; U = Mᵀ. */
  for (gint64 i = 0; i < n; i++)
    for (gint64 j = 0; j <= i; j++)
      {
        double s = 0.0;

        for (gint64 k = i; k < n; k++)
          s += inv[k * n + i] * inv[k * n + j];
        u[i * n + j] = u[j * n + i] = s;
      }
  if (!cholesky (u, n))
    return FALSE;
  for (gint64 i = 0; i < n; i++)
    for (gint64 j = i + 1; j < n; j++)
      {
        u[i * n + j] = u[j * n + i];
        u[j * n + i] = 0.0;
      }
  return TRUE;
}

struct TernGptq {
  gint64 n_in;
  double *u;      /* upper, Uᵀ·U = H⁻¹ */
  float *h_diag;  /* the weights of the block fit */
};

TernGptq *
tern_gptq_new (const double *h, gint64 n_in, double damp)
{
  g_autoptr (TernGptq) gptq = g_new0 (TernGptq, 1);
  g_autofree double *l = NULL;
  double mean_diag = 0.0;

  g_return_val_if_fail (n_in % TERN_TERNARY_BLOCK == 0, NULL);

  gptq->n_in = n_in;
  gptq->u = g_new (double, (gsize) (n_in * n_in));
  gptq->h_diag = g_new (float, (gsize) n_in);
  for (gint64 j = 0; j < n_in; j++)
    {
      gptq->h_diag[j] = (float) h[j * n_in + j];
      mean_diag += h[j * n_in + j] / (double) n_in;
    }
  l = g_memdup2 (h, (gsize) (n_in * n_in) * sizeof *l);
  for (gint64 j = 0; j < n_in; j++)
    l[j * n_in + j] += damp * mean_diag;
  if (!cholesky (l, n_in) || !inverse_factor (l, n_in, gptq->u))
    return NULL;
  return g_steal_pointer (&gptq);
}

void
tern_gptq_free (TernGptq *gptq)
{
  if (gptq == NULL)
    return;
  g_free (gptq->u);
  g_free (gptq->h_diag);
  g_free (gptq);
}

void
tern_gptq_row (const TernGptq *gptq, const float *w, float *out)
{
  gint64 n_in = gptq->n_in;
  g_autofree double *row = g_new (double, (gsize) n_in);
  float block[TERN_TERNARY_BLOCK], fitted[TERN_TERNARY_BLOCK];

  for (gint64 j = 0; j < n_in; j++)
    row[j] = w[j];
  for (gint64 b = 0; b < n_in; b += TERN_TERNARY_BLOCK)
    {
      float scale;

      for (int j = 0; j < TERN_TERNARY_BLOCK; j++)
        block[j] = (float) row[b + j];
      scale = tern_ternarize_weighted (block, gptq->h_diag + b, fitted, TERN_TERNARY_BLOCK);
      for (gint64 j = b; j < b + TERN_TERNARY_BLOCK; j++)
        {
          const double *uj = gptq->u + j * n_in;
          double err;

          out[j] = scale > 0.0f && fabs (row[j]) >= 0.5 * scale ? copysignf (scale, (float) row[j]) : 0.0f;
          err = (row[j] - out[j]) / uj[j];
          for (gint64 k = j + 1; k < n_in; k++)
            row[k] -= err * uj[k];
        }
    }
}
