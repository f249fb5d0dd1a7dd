/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "reference.h"

#include <math.h>
#include "quant/quant.h"

/* A float's unit roundoff, and a half's. */
#define U32 0x1p-24
#define U16 0x1p-11

void
ref_weight_row (const TernGgufTensor *t, gint64 r, double *out)
{
  gint64 n = t->ne[0];
  g_autofree float *row = g_new (float, n);

  tern_quant_dequant_row_at (t->type, TERN_KERNEL_SCALAR) ((const guint8 *) t->data +
                                                           r * tern_type_row_bytes (t->type, n), row, n);
  for (gint64 i = 0; i < n; i++)
    out[i] = row[i];
}

double
ref_cache_round (TernType kv_type, double x)
{
  return kv_type == TERN_TYPE_F16 ? tern_fp16_to_fp32 (tern_fp32_to_fp16 ((float) x)) : (float) x;
}

void
ref_activations (TernType type, const float *x, gint64 n, double *a, double *step, gint64 *block)
{
  *step = 0;
  *block = 1;
  switch (type)
    {
    case TERN_TYPE_F32:
      for (gint64 i = 0; i < n; i++)
        a[i] = x[i];
      return;
    case TERN_TYPE_F16:
    case TERN_TYPE_BF16:
      for (gint64 i = 0; i < n; i++)
        {
          a[i] = type == TERN_TYPE_F16 ? tern_fp16_to_fp32 (tern_fp32_to_fp16 (x[i]))
                                       : tern_bf16_to_fp32 (tern_fp32_to_bf16 (x[i]));
          *step = MAX (*step, fabs (a[i] - x[i]) * 2);
        }
      return;
    case TERN_TYPE_Q8_0:
    case TERN_TYPE_Q8_1:
      /* Blocks of 32 values q = round (x × 127 / amax) (float arithmetic,
       * halves to even), scaled by amax / 127 stored as an f16. */
      *block = 32;
      for (gint64 b = 0; b < n; b += 32)
        {
          float amax = 0;
          for (gint64 i = b; i < b + 32; i++)
            amax = MAX (amax, fabsf (x[i]));
          float id = amax != 0 ? 127.f / amax : 0;
          double d = tern_fp16_to_fp32 (tern_fp32_to_fp16 (amax / 127.f));
          for (gint64 i = b; i < b + 32; i++)
            a[i] = nearbyintf (x[i] * id) * d;
          *step = MAX (*step, d);
        }
      return;
    case TERN_TYPE_Q8_K:
      /* Blocks of 256 values q = round (x × -127 / max) (max: the value
       * of the largest magnitude; float arithmetic, halves to even), at
       * most 127, scaled by an f32 1 / (-127 / max). */
      *block = 256;
      for (gint64 b = 0; b < n; b += 256)
        {
          float max = 0;
          for (gint64 i = b; i < b + 256; i++)
            if (fabsf (x[i]) > fabsf (max))
              max = x[i];
          float iscale = max != 0 ? -127.f / max : 0;
          double d = max != 0 ? 1 / iscale : 0;
          for (gint64 i = b; i < b + 256; i++)
            a[i] = MIN (127, nearbyintf (iscale * x[i])) * d;
          *step = MAX (*step, fabs (d));
        }
      return;
    default:
      g_assert_not_reached ();
    }
}

/* The tolerance of one output: the dot product's float arithmetic, 1e-5 of
 * the sum of |w a| (the quant tests hold each kernel to it); one value of
 * the row rounded one step the other way than here (ties, and the last bit
 * of a scale's inverse, may round either way), at most max|w| × step; and
 * for Q8_1 activations, whose dot products take the block sum d × Σq from
 * its own f16 (weights w = d_w q + m: the m × d × Σq part), that f16's and
 * d's rounding, 2^-10 of |m| × Σ|a| per block, with |m| <= max |w| of the
 * block (the hand-made weights have m >= 0 and d > 0). */
void
ref_matmul (const double *w, TernType a_type, gint64 n_in, gint64 n_out, const float *x, const double *bias,
            double *out, double *tol)
{
  g_autofree double *a = g_new (double, n_in);
  double step;
  gint64 block;

  ref_activations (a_type, x, n_in, a, &step, &block);
  for (gint64 r = 0; r < n_out; r++)
    {
      const double *wr = w + r * n_in;
      double dot = 0, abs_dot = 0, w_max = 0, sum_error = 0;
      for (gint64 b = 0; b < n_in; b += block)
        {
          double block_w_max = 0, block_abs_a = 0;
          for (gint64 i = b; i < b + block; i++)
            {
              dot += wr[i] * a[i];
              abs_dot += fabs (wr[i] * a[i]);
              block_w_max = MAX (block_w_max, fabs (wr[i]));
              block_abs_a += fabs (a[i]);
            }
          w_max = MAX (w_max, block_w_max);
          if (a_type == TERN_TYPE_Q8_1)
            sum_error += block_w_max * block_abs_a * 0x1p-10;
        }
      out[r] = dot + (bias ? bias[r] : 0);
      tol[r] = 1e-5 * abs_dot + w_max * step + sum_error + (bias ? U32 * fabs (out[r]) * 2 : 0);
    }
}

/* Float arithmetic on positive factors: the sum of squares (in double),
 * its mean and eps in float, sqrtf, the inverse and two products, each
 * within half an ulp: 1e-6 of |y| (four times as many ulps). */
void
ref_rms_norm (const float *x, const float *w, gint64 n, float eps, double *out, double *tol)
{
  double sum = 0;

  for (gint64 i = 0; i < n; i++)
    sum += (double) x[i] * x[i];
  double scale = 1 / sqrt (sum / n + eps);
  for (gint64 i = 0; i < n; i++)
    {
      out[i] = x[i] * scale * w[i];
      tol[i] = 1e-6 * fabs (out[i]);
    }
}

/* The angle of pair i is pos × scale × base^(-2i/n_rot) / freq_i. The CPU
 * computes base^(-2i/n_rot) as a running product of floats, which is
 * within (i + 1) float roundings, and then scales, divides and takes cosf
 * and sinf: the angle is off by at most (n_rot + 4) × 2^-24 × |angle| +
 * 2^-21, and a rotation by an angle off by δ moves the pair (x0, x1) by at
 * most δ × (|x0| + |x1|); its own arithmetic adds four roundings. */
void
ref_rope (const TernHParams *hp, const float *freqs, const double *x, gint32 n_heads, double pos, double *out,
          double *tol)
{
  gint32 n_rot = hp->n_rot, hd = hp->head_dim;

  for (gint32 h = 0; h < n_heads; h++)
    {
      const double *xh = x + h * hd;
      double *oh = out + h * hd, *th = tol + h * hd;
      for (gint32 i = n_rot; i < hd; i++)
        {
          oh[i] = xh[i];
          th[i] = 0;
        }
      for (gint32 i = 0; i < n_rot / 2; i++)
        {
          double theta = pos * hp->rope_freq_scale * pow (hp->rope_freq_base, -2.0 * i / n_rot)
                         / (freqs ? freqs[i] : 1.0);
          /* NEOX pairs element i with i + n_rot/2; the original layout
           * pairs 2i with 2i + 1. */
          gint32 a = hp->rope_neox ? i : 2 * i, c = hp->rope_neox ? i + n_rot / 2 : 2 * i + 1;
          double size = fabs (xh[a]) + fabs (xh[c]);
          oh[a] = xh[a] * cos (theta) - xh[c] * sin (theta);
          oh[c] = xh[a] * sin (theta) + xh[c] * cos (theta);
          th[a] = th[c] = ((n_rot + 4) * U32 * fabs (theta) + 0x1p-21 + 4 * U32) * size;
        }
    }
}

/* The scores are float dot products of F16 or F32 values: each within
 * 1e-5 of the sum of |q k| (scaled as the scores), so the weights are
 * within twice the largest score error, relatively. The CPU rounds the
 * weights to the cache type before its value dot product: 2^-11 of each
 * for F16 (2^-10 allowed, the softmax's float arithmetic with it), and
 * that product is within 1e-5 of Σ w |v|. */
void
ref_attend_head (const double *q, const double *k, const double *v, gint64 stride, gint32 n_keys, gint32 head_dim,
                 gboolean f16_cache, double *out, double *tol)
{
  g_autofree double *p = g_new (double, n_keys);
  double scale = 1 / sqrt (head_dim), max = -INFINITY, sum = 0, score_error = 0;

  for (gint32 j = 0; j < n_keys; j++)
    {
      double s = 0, abs_s = 0;
      for (gint32 d = 0; d < head_dim; d++)
        {
          s += q[d] * k[j * stride + d];
          abs_s += fabs (q[d] * k[j * stride + d]);
        }
      p[j] = s * scale;
      score_error = MAX (score_error, 1e-5 * abs_s * scale);
      max = MAX (max, p[j]);
    }
  for (gint32 j = 0; j < n_keys; j++)
    {
      p[j] = exp (p[j] - max);
      sum += p[j];
    }
  for (gint32 d = 0; d < head_dim; d++)
    {
      double o = 0, abs_o = 0;
      for (gint32 j = 0; j < n_keys; j++)
        {
          o += p[j] / sum * v[j * stride + d];
          abs_o += p[j] / sum * fabs (v[j * stride + d]);
        }
      out[d] = o;
      tol[d] = abs_o * ((f16_cache ? 2 * U16 : 1e-6) + 2 * score_error + 1e-5) + 1e-30;
    }
}

/* gate / (1 + expf (-gate)) * up: expf within an ulp, then three float
 * operations: 1e-6 of |gate × up|, which bounds |silu (gate) × up|. */
void
ref_swiglu (float gate, float up, double *out, double *tol)
{
  *out = gate / (1 + exp (-(double) gate)) * up;
  *tol = 1e-6 * fabs ((double) gate * up);
}
