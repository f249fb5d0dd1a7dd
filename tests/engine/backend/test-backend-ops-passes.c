/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The backend operation test's cases on whole passes (backend.h): a pass
 * stopped at any point fails its submit with CANCELLED and leaves the
 * backend as good as new, and a long operation ends soon after its pass is
 * stopped (see test-backend-ops.c). A GPU's pass reads back only the
 * logits, and a GPU runs the command buffer of a generation's first token
 * for the tokens after it. */
#include <string.h>
#include <tern/error.h>

#include "backend/vulkan/vulkan-private.h"
#include "ops-harness.h"

/* The buffers of a layer's pass over @n tokens. */
typedef struct {
  TernBuf *x, *xn, *q, *k, *v, *att, *gate, *up, *logits;
} Bufs;

/* Records a layer over @n tokens at positions @pos.. and the logits of the
 * last token, as the forward pass does, cancelling @stop before operation
 * @stop_at; returns what submit does. */
static gboolean
layer_pass_at (TernBackend *b, Bufs *f, const TernToken *tokens, gint32 n, gint32 pos, GCancellable *stop,
               gint stop_at, GError **error)
{
  const TernBackendOps *ops = b->ops;
  const TernWeightKind none = TERN_WEIGHT_N_KINDS;
  gint step = 0;

#define OP(call)                                                                                           \
  G_STMT_START                                                                                             \
  {                                                                                                        \
    if (step++ == stop_at)                                                                                 \
      g_cancellable_cancel (stop);                                                                         \
    call;                                                                                                  \
  }                                                                                                        \
  G_STMT_END

  ops->begin (b, stop);
  OP (ops->embed (b, tokens, n, f->x));
  OP (ops->rms_norm (b, f->x, n, 0, TERN_WEIGHT_ATTN_NORM, f->xn));
  OP (ops->matmul (b, f->xn, n, 0, TERN_WEIGHT_Q, none, f->q));
  OP (ops->matmul (b, f->xn, n, 0, TERN_WEIGHT_K, none, f->k));
  OP (ops->matmul (b, f->xn, n, 0, TERN_WEIGHT_V, none, f->v));
  OP (ops->rope (b, f->q, n, 4, pos));
  OP (ops->rope (b, f->k, n, 2, pos));
  OP (ops->kv_store (b, 0, f->k, f->v, n, pos));
  OP (ops->attend (b, 0, f->q, n, pos, f->att));
  OP (ops->matmul (b, f->att, n, 0, TERN_WEIGHT_O, none, f->xn));
  OP (ops->add (b, f->x, f->xn, n));
  OP (ops->rms_norm (b, f->x, n, 0, TERN_WEIGHT_FFN_NORM, f->xn));
  OP (ops->matmul (b, f->xn, n, 0, TERN_WEIGHT_GATE, none, f->gate));
  OP (ops->matmul (b, f->xn, n, 0, TERN_WEIGHT_UP, none, f->up));
  OP (ops->swiglu (b, f->gate, f->up, n));
  OP (ops->matmul (b, f->gate, n, 0, TERN_WEIGHT_DOWN, none, f->xn));
  OP (ops->add (b, f->x, f->xn, n));
  OP (ops->copy_rows (b, f->x, n - 1, 1, f->xn, 0));
  OP (ops->rms_norm (b, f->xn, 1, -1, TERN_WEIGHT_OUTPUT_NORM, f->x));
  OP (ops->matmul (b, f->x, 1, -1, TERN_WEIGHT_OUTPUT, none, f->logits));
#undef OP
  if (step == stop_at)
    g_cancellable_cancel (stop);
  return ops->submit (b, error);
}

#define LAYER_PASS_OPS 20

static gboolean
layer_pass (TernBackend *b, Bufs *f, const TernToken *tokens, gint32 n, GCancellable *stop, gint stop_at,
            GError **error)
{
  return layer_pass_at (b, f, tokens, n, 0, stop, stop_at, error);
}

static void
bufs_init (Bufs *f, TernBackend *b, const TernHParams *hp, gint32 n)
{
  f->x = buf_new (b, n, hp->n_embd, NULL);
  f->xn = buf_new (b, n, hp->n_embd, NULL);
  f->q = buf_new (b, n, hp->n_head * hp->head_dim, NULL);
  f->k = buf_new (b, n, hp->n_head_kv * hp->head_dim, NULL);
  f->v = buf_new (b, n, hp->n_head_kv * hp->head_dim, NULL);
  f->att = buf_new (b, n, hp->n_head * hp->head_dim, NULL);
  f->gate = buf_new (b, n, hp->n_ff, NULL);
  f->up = buf_new (b, n, hp->n_ff, NULL);
  f->logits = buf_new (b, 1, hp->n_vocab, NULL);
}

static void
bufs_clear (Bufs *f, TernBackend *b)
{
  TernBuf *all[] = { f->x, f->xn, f->q, f->k, f->v, f->att, f->gate, f->up, f->logits };
  for (guint i = 0; i < G_N_ELEMENTS (all); i++)
    b->ops->buf_free (b, all[i]);
}

/* What passes over @n cache positions leave: the logits in @logits and
 * layer 0's cache. */
static GByteArray *
logits_result (TernBackend *b, const TernBuf *logits, const TernHParams *hp, gint32 n)
{
  gsize cache = (gsize) n * hp->n_head_kv * hp->head_dim * 2;
  GByteArray *out = g_byte_array_sized_new (hp->n_vocab * sizeof (float) + 2 * cache);
  g_autoptr (GError) error = NULL;

  g_byte_array_set_size (out, hp->n_vocab * sizeof (float) + 2 * cache);
  g_assert_true (b->ops->read (b, logits, 0, 1, (float *) out->data, &error));
  guint8 *k = out->data + hp->n_vocab * sizeof (float);
  g_assert_true (b->ops->kv_save (b, 0, n, k, k + cache, &error));
  g_assert_no_error (error);
  return out;
}

/* A pass stopped before each of its operations (and before its submit)
 * fails with CANCELLED; the pass after it on the same backend computes
 * what a fresh backend does, bit for bit. */
/* A model of one layer (and the output) with weights of several types:
 * norm weights in [0.5, 1], the others in [-1, 1]. */
static HandModel *
layer_model (const TernHParams *hp, guint32 seed)
{
  const struct { gint32 layer; TernWeightKind kind; TernType type; gint64 ne0, ne1; float lo; } weights[] = {
    { -1, TERN_WEIGHT_TOKEN_EMBD, TERN_TYPE_Q8_0, 256, 50, -1 },
    { -1, TERN_WEIGHT_OUTPUT_NORM, TERN_TYPE_F32, 256, 1, 0.5 },
    { -1, TERN_WEIGHT_OUTPUT, TERN_TYPE_Q6_K, 256, 50, -1 },
    { 0, TERN_WEIGHT_ATTN_NORM, TERN_TYPE_F32, 256, 1, 0.5 },
    { 0, TERN_WEIGHT_Q, TERN_TYPE_Q4_K, 256, 256, -1 },
    { 0, TERN_WEIGHT_K, TERN_TYPE_Q4_K, 256, 128, -1 },
    { 0, TERN_WEIGHT_V, TERN_TYPE_Q8_0, 256, 128, -1 },
    { 0, TERN_WEIGHT_O, TERN_TYPE_Q4_0, 256, 256, -1 },
    { 0, TERN_WEIGHT_FFN_NORM, TERN_TYPE_F32, 256, 1, 0.5 },
    { 0, TERN_WEIGHT_GATE, TERN_TYPE_Q4_K, 256, 256, -1 },
    { 0, TERN_WEIGHT_UP, TERN_TYPE_Q4_K, 256, 256, -1 },
    { 0, TERN_WEIGHT_DOWN, TERN_TYPE_Q6_K, 256, 256, -1 },
  };
  HandModel *m = hand_model_new (hp, seed);

  for (guint i = 0; i < G_N_ELEMENTS (weights); i++)
    hand_model_add (m, weights[i].layer, weights[i].kind, weights[i].type, weights[i].ne0, weights[i].ne1,
                    weights[i].lo, 1);
  return m;
}

static void
test_stopped_pass (const Target *t)
{
  TernHParams hp = hparams (256, 4, 2, 64);
  g_autoptr (HandModel) m = layer_model (&hp, 90);
  const gint32 n = 7;
  TernToken tokens[7] = { 3, 14, 15, 9, 26, 5, 35 }, others[7] = { 2, 7, 18, 28, 18, 28, 45 };
  g_autoptr (GError) error = NULL;
  Bufs f;

  TernBackend *fresh = backend_open (t, m, 16, TERN_TYPE_F16);
  bufs_init (&f, fresh, &hp, n);
  /* A GPU's pass copies nothing between host and device but the tokens
   * it embeds: the one row of logits read is the only transfer. */
  gboolean gpu = g_strcmp0 (t->device->backend, "vulkan") == 0;
  guint64 n_before = 0, bytes_before = 0, n_after, bytes_after;
  if (gpu)
    tern_backend_vulkan_transfers (fresh, &n_before, &bytes_before);
  g_assert_true (layer_pass (fresh, &f, tokens, n, NULL, -1, &error));
  g_assert_no_error (error);
  g_autofree float *logits = g_new (float, hp.n_vocab);
  g_assert_true (fresh->ops->read (fresh, f.logits, 0, 1, logits, &error));
  if (gpu)
    {
      tern_backend_vulkan_transfers (fresh, &n_after, &bytes_after);
      g_assert_cmpuint (n_after - n_before, ==, 1);
      g_assert_cmpuint (bytes_after - bytes_before, ==, hp.n_vocab * sizeof (float));
    }
  g_autoptr (GByteArray) want = logits_result (fresh, f.logits, &hp, n);
  bufs_clear (&f, fresh);
  backend_close (fresh, m);

  TernBackend *b = backend_open (t, m, 16, TERN_TYPE_F16);
  bufs_init (&f, b, &hp, n);
  for (gint stop_at = 0; stop_at <= LAYER_PASS_OPS; stop_at++)
    {
      g_autoptr (GCancellable) stop = g_cancellable_new ();
      g_assert_false (layer_pass (b, &f, others, n, stop, stop_at, &error));
      g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_CANCELLED);
      g_clear_error (&error);
      g_assert_true (layer_pass (b, &f, tokens, n, NULL, -1, &error));
      g_assert_no_error (error);
      g_autoptr (GByteArray) got = logits_result (b, f.logits, &hp, n);
      g_assert_cmpmem (got->data, got->len, want->data, want->len);
    }
  bufs_clear (&f, b);
  backend_close (b, m);
}

typedef struct {
  GCancellable *stop;
  gulong after_us;
} Stopper;

static gpointer
stop_later (gpointer data)
{
  Stopper *s = data;

  g_usleep (s->after_us);
  g_cancellable_cancel (s->stop);
  return NULL;
}

/* Seconds one matmul of @n tokens takes until its result can be read,
 * stopped by @stop (NULL: none). */
static double
timed_matmul (TernBackend *b, TernBuf *in, TernBuf *out, gint32 n, gint64 n_out, GCancellable *stop)
{
  g_autoptr (GError) error = NULL;
  g_autofree float *row = g_new (float, n_out);
  gboolean stopped_at_start = g_cancellable_is_cancelled (stop);
  gint64 start = g_get_monotonic_time ();

  b->ops->begin (b, stop);
  b->ops->matmul (b, in, n, -1, TERN_WEIGHT_OUTPUT, TERN_WEIGHT_N_KINDS, out);
  gboolean ran = b->ops->submit (b, &error);
  g_assert_true (b->ops->read (b, out, 0, 1, row, NULL));
  double took = (g_get_monotonic_time () - start) / 1e6;
  /* Stopped once it was submitted, a GPU's pass runs; one stopped before
   * it began never does. */
  g_assert_true (ran || stop != NULL);
  g_assert_true (!ran || !stopped_at_start);
  if (!ran)
    g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_CANCELLED);
  return took;
}

/* A matmul long enough to time (a quarter of a second at least, unless the
 * device does a thousand tokens faster), stopped before it starts, ends
 * within a tenth of its time; on the CPU, which runs operations as they
 * are recorded, stopped a tenth of the way through, within half. A GPU
 * runs a pass it was given to the end: stopping it spares only the passes
 * not yet submitted. */
static void
test_stopped_operation (const Target *t)
{
  const gint64 n_in = 2048, n_out = 4096;
  TernHParams hp = hparams ((gint32) n_in, 4, 4, (gint32) n_in / 4);
  g_autoptr (HandModel) m = hand_model_new (&hp, 91);
  double whole = 0;
  gint32 n;

  hand_model_add (m, -1, TERN_WEIGHT_OUTPUT, TERN_TYPE_F32, n_in, n_out, -1, 1);
  TernBackend *b = backend_open (t, m, 8, TERN_TYPE_F16);
  for (n = 16;; n *= 4)
    {
      g_autofree float *x = random_floats (hand_model_rand (m), (gsize) n * n_in, -1, 1);
      TernBuf *in = buf_new (b, n, n_in, x), *out = buf_new (b, n, n_out, NULL);
      whole = timed_matmul (b, in, out, n, n_out, NULL);
      if (whole >= 0.25 || n >= 1024)
        {
          g_autoptr (GCancellable) stop = g_cancellable_new ();
          Stopper stopper = { stop, (gulong) (whole * G_USEC_PER_SEC / 10) };
          GThread *thread = g_thread_new ("stopper", stop_later, &stopper);
          double stopped = timed_matmul (b, in, out, n, n_out, stop);
          g_thread_join (thread);
          double before = timed_matmul (b, in, out, n, n_out, stop);
          g_test_message ("%d tokens: %.3f s whole, %.3f s stopped after %.3f s, %.4f s stopped before", n, whole,
                          stopped, whole / 10, before);
          if (whole >= 0.1)
            {
              if (g_strcmp0 (t->device->backend, "cpu") == 0)
                g_assert_cmpfloat (stopped, <, whole / 2);
              g_assert_cmpfloat (before, <, whole / 10);
            }
          b->ops->buf_free (b, in);
          b->ops->buf_free (b, out);
          break;
        }
      b->ops->buf_free (b, in);
      b->ops->buf_free (b, out);
    }
  backend_close (b, m);
}

void
test_stop (gconstpointer data)
{
  const Target *t = data;

  if (!target_runs (t))
    return;
  test_stopped_pass (t);
  test_stopped_operation (t);
}

/* A generation on two backends of the device, one running the command
 * buffer of a pass again for the next one of the same shape and one
 * recording every pass: a prompt that fills the cache past the point where
 * attention splits, then tokens one by one, across a change in the number
 * of splits, and then into another logits buffer. After each pass both
 * hold the same logits and cache, bit for bit; the first counts one pass
 * recorded for the prompt, one for the first token, one for the change of
 * buffer, and reuses the command buffer for every other token. */
void
test_reuse (gconstpointer data)
{
  const Target *t = data;
  const gint32 n_prompt = 510, n_tokens = 8, n_ctx = 520;

  if (!target_runs (t))
    return;
  if (g_strcmp0 (t->device->backend, "vulkan") != 0)
    {
      g_test_skip ("only a GPU backend records passes");
      return;
    }
  TernHParams hp = hparams (256, 4, 2, 64);
  g_autoptr (HandModel) m = layer_model (&hp, 92);
  g_autoptr (GRand) rand = g_rand_new_with_seed (93);
  TernBackend *b[2];
  Bufs f[2];
  TernBuf *other[2];
  g_autofree TernToken *tokens = g_new (TernToken, n_prompt + n_tokens);

  for (gint32 i = 0; i < n_prompt + n_tokens; i++)
    tokens[i] = g_rand_int_range (rand, 0, hp.n_vocab);
  for (guint i = 0; i < 2; i++)
    {
      b[i] = backend_open (t, m, n_ctx, TERN_TYPE_F16);
      tern_backend_vulkan_set_reuse (b[i], i == 0);
      bufs_init (&f[i], b[i], &hp, n_prompt);
      other[i] = buf_new (b[i], 1, hp.n_vocab, NULL);
    }
  for (gint32 pos = 0; pos < n_prompt + n_tokens; pos += pos == 0 ? n_prompt : 1)
    {
      g_autoptr (GByteArray) want = NULL;
      for (guint i = 0; i < 2; i++)
        {
          g_autoptr (GError) error = NULL;
          /* The last two tokens' logits go to another buffer. */
          TernBuf *logits = pos >= n_prompt + n_tokens - 2 ? other[i] : f[i].logits;
          TernBuf *kept = f[i].logits;
          f[i].logits = logits;
          g_assert_true (layer_pass_at (b[i], &f[i], tokens + pos, pos == 0 ? n_prompt : 1, pos, NULL, -1, &error));
          g_assert_no_error (error);
          f[i].logits = kept;
          g_autoptr (GByteArray) got = logits_result (b[i], logits, &hp, pos == 0 ? n_prompt : pos + 1);
          if (i == 0)
            want = g_steal_pointer (&got);
          else
            g_assert_cmpmem (got->data, got->len, want->data, want->len);
        }
    }
  guint64 recorded[2], reused[2];
  for (guint i = 0; i < 2; i++)
    tern_backend_vulkan_passes (b[i], &recorded[i], &reused[i]);
  g_assert_cmpuint (recorded[0], ==, 3);
  g_assert_cmpuint (reused[0], ==, n_tokens - 2);
  g_assert_cmpuint (recorded[1], ==, n_tokens + 1);
  g_assert_cmpuint (reused[1], ==, 0);
  for (guint i = 0; i < 2; i++)
    {
      b[i]->ops->buf_free (b[i], other[i]);
      bufs_clear (&f[i], b[i]);
      backend_close (b[i], m);
    }
}
