/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "ops-harness.h"

#include <math.h>

#include "backend/vulkan/vulkan-private.h"
#include "kernel-levels.h"

const gint32 batches[N_BATCHES] = { 1, 7, 64 };

gboolean
target_runs (const Target *t)
{
  const char *dot = tern_device_feature (t->device, "integer-dot-product");

  if (t->int_dot && !g_str_has_prefix (dot ? dot : "no", "yes"))
    {
      g_test_skip ("this device has no integer dot products");
      return FALSE;
    }
  return t->level == TERN_KERNEL_BEST || kernel_level_runs (t->level);
}

/* ---- Checking values ---- */

void
check (Check *c, float got, double want, double tol, const char *format, ...)
{
  double error = fabs ((double) got - want);

  c->n_checked++;
  if (error <= tol)
    {
      if (tol > 0)
        c->worst = MAX (c->worst, error / tol);
      return;
    }
  if (c->n_bad++ < 8)
    {
      va_list args;
      va_start (args, format);
      g_autofree char *where = g_strdup_vprintf (format, args);
      va_end (args);
      g_test_message ("%s, %s: %.9g, reference %.9g (off by %.3g, tolerance %.3g)", c->what, where, got, want,
                      error, tol);
    }
}

void
check_done (Check *c)
{
  g_test_message ("%s: %u values, the worst at %.3f of its tolerance", c->what, c->n_checked, c->worst);
  if (c->n_bad > 0)
    g_test_fail_printf ("%s: %u of %u values out of tolerance", c->what, c->n_bad, c->n_checked);
  g_assert_cmpuint (c->n_checked, >, 0);
}

/* ---- Models, backends and buffers ---- */

TernHParams
hparams (gint32 n_embd, gint32 n_head, gint32 n_head_kv, gint32 head_dim)
{
  return (TernHParams) {
    .arch = TERN_ARCH_LLAMA, .n_vocab = 50, .n_ctx_train = 1024, .n_embd = n_embd, .n_layer = 2,
    .n_head = n_head, .n_head_kv = n_head_kv, .head_dim = head_dim, .n_ff = n_embd, .n_rot = head_dim,
    .rms_eps = 1e-5f, .rope_freq_base = 10000, .rope_freq_scale = 1,
  };
}

TernBackend *
backend_open (const Target *t, HandModel *m, gint32 n_ctx, TernType kv_type)
{
  TernBackendParams params = { hand_model_weights (m), n_ctx, kv_type, t->level, N_THREADS };
  g_autoptr (GError) error = NULL;
  TernBackend *b = tern_backend_new (t->device->name, &params, &error);

  g_assert_no_error (error);
  if (g_strcmp0 (t->device->backend, "vulkan") == 0)
    g_assert_true (tern_backend_vulkan_set_int_dot (b, t->int_dot));
  for (gint32 l = -1; l < hand_model_hparams (m)->n_layer; l++)
    g_assert_true (tern_weights_acquire (hand_model_weights (m), l, NULL));
  return b;
}

void
backend_close (TernBackend *b, HandModel *m)
{
  for (gint32 l = -1; l < hand_model_hparams (m)->n_layer; l++)
    tern_weights_release (hand_model_weights (m), l);
  b->ops->free (b);
}

void
begin (TernBackend *b)
{
  b->ops->begin (b, NULL);
}

void
submit (TernBackend *b)
{
  g_autoptr (GError) error = NULL;
  g_assert_true (b->ops->submit (b, &error));
  g_assert_no_error (error);
}

TernBuf *
buf_new (TernBackend *b, gint64 rows, gint64 cols, const float *data)
{
  g_autoptr (GError) error = NULL;
  TernBuf *buf = b->ops->buf_new (b, rows, cols, &error);

  g_assert_no_error (error);
  if (data != NULL)
    g_assert_true (b->ops->write (b, buf, 0, (gint32) rows, data, &error));
  return buf;
}

float *
buf_read (TernBackend *b, const TernBuf *buf, gint32 row, gint32 count, gint64 cols)
{
  g_autoptr (GError) error = NULL;
  float *out = g_new (float, (gsize) count * cols);

  g_assert_true (b->ops->read (b, buf, row, count, out, &error));
  g_assert_no_error (error);
  return out;
}

float *
random_floats (GRand *rand, gsize n, double lo, double hi)
{
  float *x = g_new (float, n);
  for (gsize i = 0; i < n; i++)
    x[i] = (float) g_rand_double_range (rand, lo, hi);
  return x;
}

const RopeShape rope_shapes[N_ROPE_SHAPES] = {
  { "adjacent pairs", FALSE, FALSE, 64, 10000, 1 },
  { "adjacent pairs, rope_freqs", FALSE, TRUE, 64, 500000, 1 },
  { "NEOX", TRUE, FALSE, 64, 1000000, 1 },
  { "NEOX, rope_freqs", TRUE, TRUE, 64, 10000, 1 },
  { "half the head, scaled", FALSE, FALSE, 32, 500000, 0.25f },
  { "NEOX, half the head, scaled", TRUE, FALSE, 32, 10000, 0.5f },
};

HandModel *
rope_model (const RopeShape *s, guint32 seed, const float **freqs)
{
  TernHParams hp = hparams (256, 4, 2, 64);
  hp.rope_neox = s->neox;
  hp.n_rot = s->n_rot;
  hp.rope_freq_base = s->base;
  hp.rope_freq_scale = s->scale;
  HandModel *m = hand_model_new (&hp, seed);
  /* Before the backend opens: it reads them then. */
  *freqs = s->freqs ? hand_model_add (m, -1, TERN_WEIGHT_ROPE_FREQS, TERN_TYPE_F32, s->n_rot / 2, 1, 1, 8)->data
                    : NULL;
  return m;
}

