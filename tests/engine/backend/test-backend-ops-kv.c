/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The backend operation test's cases on the KV cache: kv_store with
 * attend, kv_move, kv_save and kv_load (see test-backend-ops.c). */
#include <math.h>
#include <string.h>
#include "quant/quant.h"

#include "ops-harness.h"
#include "reference.h"

/* Attention shapes: grouped-query, multi-query and plain multi-head, each
 * with a cache type; queries in [-q_range, q_range] (keys in [-2, 2]):
 * the last one's scores go far past 88, where expf overflows unless the
 * softmax subtracts the largest. */
static const struct {
  const char *name;
  gint32 n_head, n_head_kv, head_dim;
  TernType kv_type;
  double q_range;
} kv_shapes[] = {
  { "GQA, 4 heads on 2 of 64, f16", 4, 2, 64, TERN_TYPE_F16, 2 },
  { "MQA, 6 heads on 1 of 32, f32", 6, 1, 32, TERN_TYPE_F32, 2 },
  { "4 heads of 128, f16", 4, 4, 128, TERN_TYPE_F16, 2 },
  { "GQA, 4 heads on 2 of 64, f16, scores past 88", 4, 2, 64, TERN_TYPE_F16, 120 },
};

/* Element @i of a row of the cache type as kv_save writes it. */
static double
cache_value (TernType kv_type, const guint8 *row, gint64 i)
{
  if (kv_type == TERN_TYPE_F16)
    {
      guint16 h;
      memcpy (&h, row + 2 * i, 2);
      return tern_fp16_to_fp32 (h);
    }
  float f;
  memcpy (&f, row + 4 * i, 4);
  return f;
}

static gsize
cache_elem (TernType kv_type)
{
  return kv_type == TERN_TYPE_F16 ? 2 : 4;
}

/* Stores @n rows of keys and values at @pos of layer @layer. */
static void
store (TernBackend *b, gint32 layer, const float *k, const float *v, gint32 n, gint32 pos, gint64 kv_dim)
{
  TernBuf *kb = buf_new (b, n, kv_dim, k), *vb = buf_new (b, n, kv_dim, v);

  begin (b);
  b->ops->kv_store (b, layer, kb, vb, n, pos);
  submit (b);
  b->ops->buf_free (b, kb);
  b->ops->buf_free (b, vb);
}

/* Checks the attention of the @n queries @q at @pos.. against the
 * reference over the keys and values @k, @v ([position][kv_dim], already
 * in the cache type) of positions 0..pos + n - 1. */
static void
check_attention (Check *c, const TernHParams *hp, TernType kv_type, const float *q, const double *k,
                 const double *v, gint32 n, gint32 pos, const float *got, const char *what)
{
  gint32 hd = hp->head_dim, group = hp->n_head / hp->n_head_kv;
  gint64 kv_dim = (gint64) hp->n_head_kv * hd, q_dim = (gint64) hp->n_head * hd;
  g_autofree double *qh = g_new (double, hd);
  g_autofree double *want = g_new (double, hd);
  g_autofree double *tol = g_new (double, hd);

  for (gint32 i = 0; i < n; i++)
    for (gint32 h = 0; h < hp->n_head; h++)
      {
        gint64 kv_head = (gint64) (h / group) * hd;
        /* The backend rounds the query to the cache type too. */
        for (gint32 d = 0; d < hd; d++)
          qh[d] = ref_cache_round (kv_type, q[i * q_dim + h * hd + d]);
        ref_attend_head (qh, k + kv_head, v + kv_head, kv_dim, pos + i + 1, hd, kv_type == TERN_TYPE_F16, want,
                         tol);
        for (gint32 d = 0; d < hd; d++)
          check (c, got[i * q_dim + h * hd + d], want[d], tol[d], "%s, query at %d, head %d, [%d]", what, pos + i,
                 h, d);
      }
}

/* Keys and values stored in batches at several positions, and the
 * attention of each batch's queries over the cache so far; the other
 * layer holds other keys, which must not count. */
void
test_attend (gconstpointer data)
{
  const Target *t = data;
  Check c = { "kv_store+attend" };

  if (!target_runs (t))
    return;
  for (guint si = 0; si < G_N_ELEMENTS (kv_shapes); si++)
    for (guint bi = 0; bi < N_BATCHES; bi++)
      {
        TernHParams hp = hparams (256, kv_shapes[si].n_head, kv_shapes[si].n_head_kv, kv_shapes[si].head_dim);
        TernType kv_type = kv_shapes[si].kv_type;
        g_autoptr (HandModel) m = hand_model_new (&hp, 100 + si * 8 + bi);
        GRand *rand = hand_model_rand (m);
        gint32 batch = batches[bi], n_ctx = 1 + 2 * batch;
        gint64 kv_dim = (gint64) hp.n_head_kv * hp.head_dim, q_dim = (gint64) hp.n_head * hp.head_dim;
        const struct { gint32 pos, n; } steps[] = { { 0, 1 }, { 1, batch }, { 1 + batch, batch } };
        TernBackend *b = backend_open (t, m, n_ctx, kv_type);
        g_autofree float *k = random_floats (rand, n_ctx * kv_dim, -2, 2);
        g_autofree float *v = random_floats (rand, n_ctx * kv_dim, -2, 2);
        g_autofree double *kd = g_new (double, n_ctx * kv_dim);
        g_autofree double *vd = g_new (double, n_ctx * kv_dim);
        g_autofree float *decoy = random_floats (rand, n_ctx * kv_dim, -2, 2);

        for (gint64 i = 0; i < n_ctx * kv_dim; i++)
          {
            kd[i] = ref_cache_round (kv_type, k[i]);
            vd[i] = ref_cache_round (kv_type, v[i]);
          }
        store (b, 0, decoy, decoy, n_ctx, 0, kv_dim);
        for (guint s = 0; s < G_N_ELEMENTS (steps); s++)
          {
            gint32 pos = steps[s].pos, n = steps[s].n;
            g_autofree float *q = random_floats (rand, n * q_dim, -kv_shapes[si].q_range, kv_shapes[si].q_range);
            TernBuf *kb = buf_new (b, n, kv_dim, k + pos * kv_dim), *vb = buf_new (b, n, kv_dim, v + pos * kv_dim);
            TernBuf *qb = buf_new (b, n, q_dim, q), *out = buf_new (b, n, q_dim, NULL);
            begin (b);
            b->ops->kv_store (b, 1, kb, vb, n, pos);
            b->ops->attend (b, 1, qb, n, pos, out);
            submit (b);
            g_autofree float *got = buf_read (b, out, 0, n, q_dim);
            g_autofree char *what = g_strdup_printf ("%s, %d rows at %d", kv_shapes[si].name, n, pos);
            check_attention (&c, &hp, kv_type, q, kd, vd, n, pos, got, what);
            b->ops->buf_free (b, kb);
            b->ops->buf_free (b, vb);
            b->ops->buf_free (b, qb);
            b->ops->buf_free (b, out);
          }
        backend_close (b, m);
      }
  check_done (&c);
}

/* Attention over every head size and grouping models have (head sizes
 * 32 to 256, 1 to 8 query heads a key head), from a cache filled in one
 * call and continued in another: 1 query on an empty cache, 7 after one
 * position, 64 after 57, 512 after 100, and 1 and 7 after long caches (up
 * to 8,191 positions), for a GPU's splits of the keys. */
void
test_attend_shapes (gconstpointer data)
{
  const Target *t = data;
  const gint32 head_dims[] = { 32, 64, 80, 96, 128, 256 }, ratios[] = { 1, 2, 4, 8 };
  const struct { gint32 filled, n; } steps[] = { { 0, 1 }, { 1, 7 }, { 57, 64 }, { 100, 512 }, { 2000, 7 },
                                                 { 8191, 1 } };
  Check c = { "attend shapes" };

  if (!target_runs (t))
    return;
  for (guint hi = 0; hi < G_N_ELEMENTS (head_dims); hi++)
    for (guint ri = 0; ri < G_N_ELEMENTS (ratios); ri++)
      for (guint si = 0; si < G_N_ELEMENTS (steps); si++)
        {
          gint32 hd = head_dims[hi], filled = steps[si].filled, n = steps[si].n, n_ctx = filled + n;
          /* The long chunk with the common head sizes only: its reference
           * costs the most. */
          if (n == 512 && hd != 64 && hd != 128)
            continue;
          TernHParams hp = hparams (256, 2 * ratios[ri], 2, hd);
          g_autoptr (HandModel) m = hand_model_new (&hp, 300 + hi * 64 + ri * 8 + si);
          GRand *rand = hand_model_rand (m);
          gint64 kv_dim = (gint64) hp.n_head_kv * hd, q_dim = (gint64) hp.n_head * hd;
          TernBackend *b = backend_open (t, m, n_ctx, TERN_TYPE_F16);
          g_autofree float *k = random_floats (rand, n_ctx * kv_dim, -2, 2);
          g_autofree float *v = random_floats (rand, n_ctx * kv_dim, -2, 2);
          g_autofree float *q = random_floats (rand, n * q_dim, -2, 2);
          g_autofree double *kd = g_new (double, n_ctx * kv_dim);
          g_autofree double *vd = g_new (double, n_ctx * kv_dim);

          for (gint64 i = 0; i < n_ctx * kv_dim; i++)
            {
              kd[i] = ref_cache_round (TERN_TYPE_F16, k[i]);
              vd[i] = ref_cache_round (TERN_TYPE_F16, v[i]);
            }
          if (filled > 0)
            store (b, 0, k, v, filled, 0, kv_dim);
          TernBuf *kb = buf_new (b, n, kv_dim, k + filled * kv_dim), *vb = buf_new (b, n, kv_dim, v + filled * kv_dim);
          TernBuf *qb = buf_new (b, n, q_dim, q), *out = buf_new (b, n, q_dim, NULL);
          begin (b);
          b->ops->kv_store (b, 0, kb, vb, n, filled);
          b->ops->attend (b, 0, qb, n, filled, out);
          submit (b);
          g_autofree float *got = buf_read (b, out, 0, n, q_dim);
          g_autofree char *what = g_strdup_printf ("heads of %d, %d on 2, %d queries after %d", hd, hp.n_head, n,
                                                   filled);
          check_attention (&c, &hp, TERN_TYPE_F16, q, kd, vd, n, filled, got, what);
          b->ops->buf_free (b, kb);
          b->ops->buf_free (b, vb);
          b->ops->buf_free (b, qb);
          b->ops->buf_free (b, out);
          backend_close (b, m);
        }
  check_done (&c);
}

/* |x_j| + |x_k| for the RoPE pair (j, k) of element @j of a head (2|x_j|
 * past n_rot). */
static double
pair_size (const TernHParams *hp, const double *head, gint32 j)
{
  gint32 half = hp->n_rot / 2, partner = j;

  if (j < hp->n_rot)
    partner = hp->rope_neox ? (j < half ? j + half : j - half) : (j ^ 1);
  return fabs (head[j]) + fabs (head[partner]);
}

/* The cache after kv_move: positions before the destination as they were;
 * the moved keys those of their new position (RoPE of the key before
 * rotation), within RoPE's tolerance for the change of position and two
 * roundings to the cache type; the moved values unchanged. Moves that
 * overlap their source and ones that do not, in both layers at once. */
void
test_kv_move (gconstpointer data)
{
  const Target *t = data;
  const guint shapes[] = { 0, 3, 5 };
  Check keys = { "kv_move keys" }, values = { "kv_move values" };

  if (!target_runs (t))
    return;
  for (guint si = 0; si < G_N_ELEMENTS (shapes); si++)
    for (guint bi = 0; bi < N_BATCHES; bi++)
      for (gint32 overlap = 0; overlap < 2; overlap++)
        {
          const RopeShape *shape = &rope_shapes[shapes[si]];
          TernType kv_type = (si + bi) % 2 ? TERN_TYPE_F32 : TERN_TYPE_F16;
          double u = kv_type == TERN_TYPE_F16 ? 0x1p-11 : 0x1p-24;
          const float *freqs;
          g_autoptr (HandModel) m = rope_model (shape, 200 + si * 8 + bi * 2 + overlap, &freqs);
          const TernHParams *hp = hand_model_hparams (m);
          GRand *rand = hand_model_rand (m);
          gint32 count = batches[bi], to = 2, from = to + (overlap ? count / 2 + 1 : count + 3), n_ctx = from + count;
          gint64 kv_dim = (gint64) hp->n_head_kv * hp->head_dim;
          gsize row_bytes = kv_dim * cache_elem (kv_type);
          TernBackend *b = backend_open (t, m, n_ctx, kv_type);
          g_autofree char *what = g_strdup_printf ("%s, %s cache, %d from %d to %d", shape->name,
                                                   tern_type_name (kv_type), count, from, to);
          g_autofree double *row = g_new (double, kv_dim);
          g_autofree double *want = g_new (double, kv_dim);
          g_autofree double *tol = g_new (double, kv_dim);
          g_autofree double *rot_tol = g_new (double, kv_dim);
          g_autofree guint8 *k_saved = g_malloc (n_ctx * row_bytes);
          g_autofree guint8 *v_saved = g_malloc (n_ctx * row_bytes);
          float *k_raw[2], *k[2], *v[2];

          for (gint32 l = 0; l < hp->n_layer; l++)
            {
              /* Keys as the forward pass stores them: rotated for their
               * position. */
              k_raw[l] = random_floats (rand, n_ctx * kv_dim, -2, 2);
              k[l] = g_new (float, n_ctx * kv_dim);
              v[l] = random_floats (rand, n_ctx * kv_dim, -2, 2);
              for (gint32 p = 0; p < n_ctx; p++)
                {
                  for (gint64 j = 0; j < kv_dim; j++)
                    row[j] = k_raw[l][p * kv_dim + j];
                  ref_rope (hp, freqs, row, hp->n_head_kv, p, want, tol);
                  for (gint64 j = 0; j < kv_dim; j++)
                    k[l][p * kv_dim + j] = (float) want[j];
                }
              store (b, l, k[l], v[l], n_ctx, 0, kv_dim);
            }
          begin (b);
          b->ops->kv_move (b, from, to, count);
          submit (b);

          for (gint32 l = 0; l < hp->n_layer; l++)
            {
              g_autoptr (GError) error = NULL;
              g_assert_true (b->ops->kv_save (b, l, to + count, k_saved, v_saved, &error));
              g_assert_no_error (error);
              for (gint32 p = 0; p < to + count; p++)
                {
                  const guint8 *k_row = k_saved + p * row_bytes, *v_row = v_saved + p * row_bytes;
                  gint32 src = p < to ? p : from + p - to;
                  for (gint64 j = 0; j < kv_dim; j++)
                    check (&values, cache_value (kv_type, v_row, j), ref_cache_round (kv_type, v[l][src * kv_dim + j]),
                           0, "%s, layer %d, value at %d, [%" G_GINT64_FORMAT "]", what, l, p, j);
                  if (p < to)
                    {
                      for (gint64 j = 0; j < kv_dim; j++)
                        check (&keys, cache_value (kv_type, k_row, j), ref_cache_round (kv_type, k[l][p * kv_dim + j]),
                               0, "%s, layer %d, key at %d, [%" G_GINT64_FORMAT "]", what, l, p, j);
                      continue;
                    }
                  /* The tolerance of rotating the stored key by to - from. */
                  for (gint64 j = 0; j < kv_dim; j++)
                    row[j] = ref_cache_round (kv_type, k[l][src * kv_dim + j]);
                  ref_rope (hp, freqs, row, hp->n_head_kv, to - from, want, rot_tol);
                  for (gint64 j = 0; j < kv_dim; j++)
                    row[j] = k_raw[l][src * kv_dim + j];
                  ref_rope (hp, freqs, row, hp->n_head_kv, p, want, tol);
                  for (gint64 j = 0; j < kv_dim; j++)
                    check (&keys, cache_value (kv_type, k_row, j), want[j],
                           rot_tol[j] + 2 * u * pair_size (hp, want + j / hp->head_dim * hp->head_dim,
                                                           (gint32) (j % hp->head_dim)),
                           "%s, layer %d, key at %d, [%" G_GINT64_FORMAT "]", what, l, p, j);
                }
            }
          for (gint32 l = 0; l < hp->n_layer; l++)
            {
              g_free (k_raw[l]);
              g_free (k[l]);
              g_free (v[l]);
            }
          backend_close (b, m);
        }
  check_done (&keys);
  check_done (&values);
}

/* kv_save writes the cache in the layout the interface gives, whatever the
 * backend's own: [position][n_head_kv × head_dim] of the cache type. What
 * kv_load writes, kv_save reads back, attention uses, and the other layer
 * keeps its own. */
void
test_kv_save_load (gconstpointer data)
{
  const Target *t = data;
  Check layout = { "kv_save" }, attention = { "kv_load+attend" };

  if (!target_runs (t))
    return;
  for (guint si = 0; si < 2; si++)
    for (guint bi = 0; bi < N_BATCHES; bi++)
      {
        TernHParams hp = hparams (256, kv_shapes[si].n_head, kv_shapes[si].n_head_kv, kv_shapes[si].head_dim);
        TernType kv_type = kv_shapes[si].kv_type;
        g_autoptr (HandModel) m = hand_model_new (&hp, 300 + si * 8 + bi);
        GRand *rand = hand_model_rand (m);
        gint32 n = batches[bi], n_ctx = n + 1;
        gint64 kv_dim = (gint64) hp.n_head_kv * hp.head_dim, q_dim = (gint64) hp.n_head * hp.head_dim;
        gsize row_bytes = kv_dim * cache_elem (kv_type);
        TernBackend *b = backend_open (t, m, n_ctx, kv_type);
        g_autoptr (GError) error = NULL;
        g_autofree char *what = g_strdup_printf ("%s, %d positions", kv_shapes[si].name, n);
        g_autofree float *k = random_floats (rand, n * kv_dim, -2, 2);
        g_autofree float *v = random_floats (rand, n * kv_dim, -2, 2);
        g_autofree guint8 *k_saved = g_malloc (n_ctx * row_bytes);
        g_autofree guint8 *v_saved = g_malloc (n_ctx * row_bytes);

        /* Stored in layer 1, saved in the interface's layout. */
        store (b, 1, k, v, n, 0, kv_dim);
        g_assert_true (b->ops->kv_save (b, 1, n, k_saved, v_saved, &error));
        for (gint64 i = 0; i < n * kv_dim; i++)
          {
            check (&layout, cache_value (kv_type, k_saved, i), ref_cache_round (kv_type, k[i]), 0,
                   "%s, key %" G_GINT64_FORMAT, what, i);
            check (&layout, cache_value (kv_type, v_saved, i), ref_cache_round (kv_type, v[i]), 0,
                   "%s, value %" G_GINT64_FORMAT, what, i);
          }

        /* Other data loaded into layer 0 comes back as it went in... */
        g_autofree float *k_in = random_floats (rand, n_ctx * kv_dim, -2, 2);
        g_autofree float *v_in = random_floats (rand, n_ctx * kv_dim, -2, 2);
        g_autofree double *kd = g_new (double, n_ctx * kv_dim);
        g_autofree double *vd = g_new (double, n_ctx * kv_dim);
        g_autofree guint8 *k_load = g_malloc (n_ctx * row_bytes);
        g_autofree guint8 *v_load = g_malloc (n_ctx * row_bytes);
        for (gint64 i = 0; i < n_ctx * kv_dim; i++)
          {
            kd[i] = ref_cache_round (kv_type, k_in[i]);
            vd[i] = ref_cache_round (kv_type, v_in[i]);
            if (kv_type == TERN_TYPE_F16)
              {
                guint16 kh = tern_fp32_to_fp16 (k_in[i]), vh = tern_fp32_to_fp16 (v_in[i]);
                memcpy (k_load + 2 * i, &kh, 2);
                memcpy (v_load + 2 * i, &vh, 2);
              }
            else
              {
                memcpy (k_load + 4 * i, &k_in[i], 4);
                memcpy (v_load + 4 * i, &v_in[i], 4);
              }
          }
        g_assert_true (b->ops->kv_load (b, 0, n_ctx, k_load, v_load, &error));
        g_assert_true (b->ops->kv_save (b, 0, n_ctx, k_saved, v_saved, &error));
        g_assert_cmpmem (k_saved, n_ctx * row_bytes, k_load, n_ctx * row_bytes);
        g_assert_cmpmem (v_saved, n_ctx * row_bytes, v_load, n_ctx * row_bytes);

        /* ...attention uses it... */
        g_autofree float *q = random_floats (rand, q_dim, -2, 2);
        TernBuf *qb = buf_new (b, 1, q_dim, q), *out = buf_new (b, 1, q_dim, NULL);
        begin (b);
        b->ops->attend (b, 0, qb, 1, n, out);
        submit (b);
        g_autofree float *got = buf_read (b, out, 0, 1, q_dim);
        check_attention (&attention, &hp, kv_type, q, kd, vd, 1, n, got, what);
        b->ops->buf_free (b, qb);
        b->ops->buf_free (b, out);

        /* ...and layer 1 keeps what was stored there. */
        g_assert_true (b->ops->kv_save (b, 1, n, k_saved, v_saved, &error));
        for (gint64 i = 0; i < n * kv_dim; i++)
          check (&layout, cache_value (kv_type, k_saved, i), ref_cache_round (kv_type, k[i]), 0,
                 "%s, layer 1 after loading layer 0, key %" G_GINT64_FORMAT, what, i);
        g_assert_no_error (error);
        backend_close (b, m);
      }
  check_done (&layout);
  check_done (&attention);
}
