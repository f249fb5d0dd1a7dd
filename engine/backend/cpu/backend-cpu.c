/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The CPU backend: weights used in place from the mapped file, activations
 * in host memory, and a persistent thread pool. Numerics follow llama.cpp's
 * CPU backend: activations are quantized to each weight type's vec_dot
 * type, queries and attention weights are rounded to the cache type before
 * their dot products, and RMSNorm sums squares in double.
 *
 * Operations run as they are recorded, so a pass is done when it is
 * submitted; nothing here fails once the backend and its buffers exist
 * (every allocation an operation needs is made with them). A stopped pass
 * does no more work: each operation checks its cancellable first, and the
 * threads of the long ones (matmul, attention) between chunks. */
#include "backend/backend.h"

#include <math.h>
#include <stdatomic.h>
#include <string.h>
#include <tern/error.h>
#include "quant/quant.h"
#include "core/threadpool.h"

struct TernBuf {
  gint64 rows, cols;
  float *data;
  guint64 version; /* bumped on every write: keys the quantized copy below */
};

typedef struct {
  TernBackend base;
  TernWeights *weights;
  const TernHParams *hp;
  TernThreadPool *pool;
  TernKernelLevel kernel; /* never TERN_KERNEL_BEST */
  char *name;
  gboolean recording;     /* between begin and submit */
  GCancellable *cancellable; /* the pass's, or NULL */

  gint32 n_ctx;
  TernType kv_type;
  gsize kv_elem;        /* bytes per cache element */
  gint64 kv_dim;        /* n_head_kv * head_dim */
  guint8 *k_cache;      /* [layer][position][kv_dim] */
  guint8 *v_cache;      /* [layer][kv_dim][n_ctx]: transposed, so a head's
                         * values for one dimension are one dot product */
  TernVecDotFn kv_dot;
  float *kv_row;           /* [kv_dim]: a key being moved */
  float *rope_freqs;       /* [n_rot/2] divisors, or NULL */

  /* The activation matrix last quantized for a matmul, reused while the
   * same buffer is multiplied by several weights (Q, K, V; gate, up).
   * Grown by buf_new to hold any buffer that can be a matmul's input. */
  guint8 *act;
  gsize act_size;
  gint64 max_matmul_cols; /* the widest matmul input of the model */
  const TernBuf *act_src;
  guint64 act_version;
  TernType act_type;
  gint32 act_n;

  /* Attention scratch, per thread: scores (f32), then the query and the
   * weights in the cache type. */
  guint8 *scratch;
  gsize scratch_per_thread;
} CpuBackend;

#define CPU(b) ((CpuBackend *) (b))

static void
touch (TernBuf *buf)
{
  buf->version++;
}

/* No activation type takes more than 2 bytes an element (F16 and BF16;
 * the 8-bit ones take about 1.1). */
#define ACT_MAX_ELEM_BYTES 2

static TernBuf *
cpu_buf_new (TernBackend *b, gint64 rows, gint64 cols, GError **error)
{
  CpuBackend *cpu = CPU (b);
  gsize n = 0;
  float *data = NULL;

  g_assert (!cpu->recording && rows > 0 && cols > 0);
  if (g_size_checked_mul (&n, rows, cols))
    data = g_try_malloc0_n (n, sizeof (float));
  /* The quantized copy a matmul makes of this buffer fits in cpu->act. */
  gsize act_need = cols <= cpu->max_matmul_cols ? n * ACT_MAX_ELEM_BYTES : 0;
  if (data != NULL && act_need > cpu->act_size)
    {
      guint8 *act = g_try_malloc (act_need);
      if (act == NULL)
        g_clear_pointer (&data, g_free);
      else
        {
          g_free (cpu->act);
          cpu->act = act;
          cpu->act_size = act_need;
          cpu->act_src = NULL;
        }
    }
  if (data == NULL)
    {
      g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_NOMEM,
                   "not enough memory for %" G_GINT64_FORMAT " activations of %" G_GINT64_FORMAT " values",
                   rows, cols);
      return NULL;
    }

  TernBuf *buf = g_new0 (TernBuf, 1);
  buf->rows = rows;
  buf->cols = cols;
  buf->data = data;
  return buf;
}

static void
cpu_buf_free (TernBackend *b, TernBuf *buf)
{
  g_assert (!CPU (b)->recording);
  if (CPU (b)->act_src == buf)
    CPU (b)->act_src = NULL;
  g_free (buf->data);
  g_free (buf);
}

static const char *
cpu_name (TernBackend *b)
{
  return CPU (b)->name;
}

static void
cpu_begin (TernBackend *b, GCancellable *cancellable)
{
  CpuBackend *cpu = CPU (b);

  g_assert (!cpu->recording);
  cpu->recording = TRUE;
  cpu->cancellable = cancellable ? g_object_ref (cancellable) : NULL;
}

/* Whether the pass was stopped. Any thread of the pass. */
static gboolean
stopped (const CpuBackend *cpu)
{
  return g_cancellable_is_cancelled (cpu->cancellable);
}

static gboolean
cpu_submit (TernBackend *b, GError **error)
{
  CpuBackend *cpu = CPU (b);
  gboolean was_stopped = stopped (cpu);

  g_assert (cpu->recording);
  cpu->recording = FALSE;
  g_clear_object (&cpu->cancellable);
  if (was_stopped)
    {
      g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_CANCELLED, "the computation was stopped");
      return FALSE;
    }
  return TRUE;
}

/* Starts an operation, recorded in a pass: one of a stopped pass does nothing. */
#define OPERATION_START(b)                                                                                 \
  G_STMT_START                                                                                             \
  {                                                                                                        \
    g_assert (CPU (b)->recording);                                                                         \
    if (stopped (CPU (b)))                                                                                 \
      return;                                                                                              \
  }                                                                                                        \
  G_STMT_END

static void
cpu_free (TernBackend *b)
{
  CpuBackend *cpu = CPU (b);
  g_clear_pointer (&cpu->pool, tern_thread_pool_free);
  g_free (cpu->k_cache);
  g_free (cpu->v_cache);
  g_free (cpu->act);
  g_free (cpu->scratch);
  g_free (cpu->kv_row);
  g_free (cpu->name);
  g_free (cpu->rope_freqs);
  g_free (cpu);
}

/* Rows split into chunks handed out dynamically: the threads of a shared
 * machine do not run at equal speed. */
typedef struct {
  atomic_long next;
  gint64 n_chunks;
} ChunkQueue;

static gboolean
next_chunk (ChunkQueue *q, gint64 *chunk)
{
  *chunk = atomic_fetch_add_explicit (&q->next, 1, memory_order_relaxed);
  return *chunk < q->n_chunks;
}

/* Embedding. */

static void
cpu_embed (TernBackend *b, const TernToken *tokens, gint32 n, TernBuf *out)
{
  const TernGgufTensor *t = tern_weights_get (CPU (b)->weights, -1, TERN_WEIGHT_TOKEN_EMBD);
  TernDequantRowFn dequant = NULL;
  gsize row_bytes = tern_type_row_bytes (t->type, t->ne[0]);

  OPERATION_START (b);
  /* The backend's level, or the best below it with a dequantizer of its own. */
  for (int l = CPU (b)->kernel; dequant == NULL; l--)
    dequant = tern_quant_dequant_row_at (t->type, l);
  for (gint32 i = 0; i < n; i++)
    dequant ((const guint8 *) t->data + (gsize) tokens[i] * row_bytes, out->data + i * out->cols, t->ne[0]);
  touch (out);
}

/* RMSNorm. */

static void
cpu_rms_norm (TernBackend *b, const TernBuf *x, gint32 n, gint32 layer, TernWeightKind weight, TernBuf *out)
{
  const float *w = tern_weights_get (CPU (b)->weights, layer, weight)->data;
  gint64 d = x->cols;
  float eps = CPU (b)->hp->rms_eps;

  OPERATION_START (b);
  for (gint32 i = 0; i < n; i++)
    {
      const float *xi = x->data + i * d;
      float *yi = out->data + i * out->cols;
      double sum = 0;
      for (gint64 j = 0; j < d; j++)
        sum += (double) (xi[j] * xi[j]);
      float scale = 1.0f / sqrtf ((float) (sum / d) + eps);
      for (gint64 j = 0; j < d; j++)
        yi[j] = (xi[j] * scale) * w[j];
    }
  touch (out);
}

/* Matrix multiplication. */

typedef struct {
  const CpuBackend *cpu;
  TernDotTileFn tile;
  const guint8 *w;
  gsize w_row_bytes;
  gint64 n_in, n_out;
  const guint8 *a;
  gsize a_row_bytes;
  gint32 n;
  gint32 token_block;
  float *out;
  gint64 out_stride;
  const float *bias;
  gint64 chunk_rows;
  ChunkQueue queue;
} MatmulJob;

/* Activation bytes of one token block: they stay in L2 while the chunk's
 * weight rows (read once from memory per chunk) are multiplied by them. */
#define MATMUL_BLOCK_BYTES (256 * 1024)

/* A chunk is a block of weight rows times every token, in tiles of
 * TERN_DOT_TILE_ROWS rows by TERN_DOT_TILE_COLS tokens: a weight block is
 * decoded once per tile and an activation block is read once per
 * TERN_DOT_TILE_ROWS rows. With one token (generation) the tiles stream
 * TERN_DOT_TILE_ROWS weight rows side by side. */
static void
matmul_worker (gpointer data, guint index, guint n_threads)
{
  MatmulJob *job = data;
  gint64 chunk;

  while (!stopped (job->cpu) && next_chunk (&job->queue, &chunk))
    {
      gint64 r0 = chunk * job->chunk_rows, r1 = MIN (r0 + job->chunk_rows, job->n_out);
      for (gint32 t0 = 0; t0 < job->n; t0 += job->token_block)
        {
          gint32 t1 = MIN (t0 + job->token_block, job->n);
          for (gint64 r = r0; r < r1; r += TERN_DOT_TILE_ROWS)
            {
              int nr = (int) MIN (TERN_DOT_TILE_ROWS, r1 - r);
              for (gint32 t = t0; t < t1; t += TERN_DOT_TILE_COLS)
                {
                  int nc = MIN (TERN_DOT_TILE_COLS, t1 - t);
                  float *out = job->out + t * job->out_stride + r;
                  job->tile (job->n_in, job->w + r * job->w_row_bytes, job->w_row_bytes, nr,
                             job->a + t * job->a_row_bytes, job->a_row_bytes, nc, out, job->out_stride);
                  if (job->bias)
                    for (int c = 0; c < nc; c++)
                      for (int i = 0; i < nr; i++)
                        out[c * job->out_stride + i] += job->bias[r + i];
                }
            }
        }
    }
}

/* Returns @x's rows in @type, quantizing them unless the last call did. */
static const guint8 *
activations (CpuBackend *cpu, const TernBuf *x, gint32 n, TernType type, gsize *row_bytes)
{
  *row_bytes = tern_type_row_bytes (type, x->cols);
  if (type == TERN_TYPE_F32)
    return (const guint8 *) x->data;
  if (cpu->act_src == x && cpu->act_version == x->version && cpu->act_type == type && cpu->act_n >= n)
    return cpu->act;

  g_assert (*row_bytes * n <= cpu->act_size);
  /* As llama.cpp's x86 builds, whose results Tern's are compared with. */
  TernQuantizeRowFn quantize = tern_quant_quantize_activations (type);
  for (gint32 i = 0; i < n; i++)
    quantize (x->data + i * x->cols, cpu->act + i * *row_bytes, x->cols);
  cpu->act_src = x;
  cpu->act_version = x->version;
  cpu->act_type = type;
  cpu->act_n = n;
  return cpu->act;
}

static void
cpu_matmul (TernBackend *b, const TernBuf *x, gint32 n, gint32 layer, TernWeightKind weight, TernWeightKind bias,
            TernBuf *out)
{
  CpuBackend *cpu = CPU (b);
  const TernGgufTensor *w = tern_weights_get (cpu->weights, layer, weight);
  TernType act_type = tern_quant_vec_dot_type (w->type);
  MatmulJob job = { 0 };
  guint n_threads = tern_thread_pool_n_threads (cpu->pool);

  OPERATION_START (b);
  g_assert (x->cols == w->ne[0] && out->cols >= w->ne[1]);
  job.cpu = cpu;
  job.tile = tern_quant_dot_tile (w->type, cpu->kernel);
  job.w = w->data;
  job.w_row_bytes = tern_type_row_bytes (w->type, w->ne[0]);
  job.n_in = w->ne[0];
  job.n_out = w->ne[1];
  job.a = activations (cpu, x, n, act_type, &job.a_row_bytes);
  job.n = n;
  job.token_block = CLAMP (MATMUL_BLOCK_BYTES / job.a_row_bytes, 1, 64);
  job.token_block = MAX (job.token_block / TERN_DOT_TILE_COLS, 1) * TERN_DOT_TILE_COLS;
  job.out = out->data;
  job.out_stride = out->cols;
  job.bias = bias != TERN_WEIGHT_N_KINDS ? tern_weights_get (cpu->weights, layer, bias)->data : NULL;
  /* Several chunks per thread, whole tiles each. */
  job.chunk_rows = CLAMP (job.n_out / (n_threads * 16), 4, 64) / TERN_DOT_TILE_ROWS * TERN_DOT_TILE_ROWS;
  job.queue.n_chunks = (job.n_out + job.chunk_rows - 1) / job.chunk_rows;
  tern_thread_pool_run (cpu->pool, matmul_worker, &job);
  touch (out);
}

/* RoPE. */

/* Rotates the @n_heads heads of one row to position @pos. */
static void
rope_row (const CpuBackend *cpu, float *x, gint32 n_heads, float pos)
{
  const TernHParams *hp = cpu->hp;
  gint32 n_rot = hp->n_rot, hd = hp->head_dim;
  float cs[2 * 512];
  float *cache = n_rot <= 512 ? cs : g_new (float, n_rot);

  tern_rope_cos_sin (hp, cpu->rope_freqs, pos, cache);
  for (gint32 h = 0; h < n_heads; h++)
    {
      float *xh = x + h * hd;
      for (gint32 i0 = 0; i0 < n_rot; i0 += 2)
        {
          /* NEOX pairs element i with i + n_rot/2; the original layout
           * pairs neighbours. */
          gint32 a = hp->rope_neox ? i0 / 2 : i0;
          gint32 c = hp->rope_neox ? i0 / 2 + n_rot / 2 : i0 + 1;
          float x0 = xh[a], x1 = xh[c];
          xh[a] = x0 * cache[i0] - x1 * cache[i0 + 1];
          xh[c] = x0 * cache[i0 + 1] + x1 * cache[i0];
        }
    }
  if (cache != cs)
    g_free (cache);
}

static void
cpu_rope (TernBackend *b, TernBuf *x, gint32 n, gint32 n_heads, gint32 pos)
{
  OPERATION_START (b);
  for (gint32 i = 0; i < n; i++)
    rope_row (CPU (b), x->data + i * x->cols, n_heads, (float) (pos + i));
  touch (x);
}

/* KV cache. */

static guint8 *
k_at (const CpuBackend *cpu, gint32 layer, gint32 pos)
{
  return cpu->k_cache + (((gsize) layer * cpu->n_ctx + pos) * cpu->kv_dim) * cpu->kv_elem;
}

/* Row @dim of layer @layer's transposed value cache. */
static guint8 *
vt_at (const CpuBackend *cpu, gint32 layer, gint64 dim)
{
  return cpu->v_cache + (((gsize) layer * cpu->kv_dim + dim) * cpu->n_ctx) * cpu->kv_elem;
}

static void
store_value (const CpuBackend *cpu, guint8 *dst, float v)
{
  if (cpu->kv_type == TERN_TYPE_F16)
    {
      guint16 h = tern_fp32_to_fp16 (v);
      memcpy (dst, &h, 2);
    }
  else
    memcpy (dst, &v, 4);
}

static float
load_value (const CpuBackend *cpu, const guint8 *src)
{
  if (cpu->kv_type == TERN_TYPE_F16)
    {
      guint16 h;
      memcpy (&h, src, 2);
      return tern_fp16_to_fp32 (h);
    }
  float v;
  memcpy (&v, src, 4);
  return v;
}

static void
cpu_kv_store (TernBackend *b, gint32 layer, const TernBuf *k, const TernBuf *v, gint32 n, gint32 pos)
{
  CpuBackend *cpu = CPU (b);

  OPERATION_START (b);
  g_assert (pos + n <= cpu->n_ctx);
  for (gint32 i = 0; i < n; i++)
    {
      guint8 *kd = k_at (cpu, layer, pos + i);
      const float *ki = k->data + i * k->cols, *vi = v->data + i * v->cols;
      for (gint64 j = 0; j < cpu->kv_dim; j++)
        {
          store_value (cpu, kd + j * cpu->kv_elem, ki[j]);
          store_value (cpu, vt_at (cpu, layer, j) + (gsize) (pos + i) * cpu->kv_elem, vi[j]);
        }
    }
}

static void
cpu_kv_move (TernBackend *b, gint32 from, gint32 to, gint32 count)
{
  CpuBackend *cpu = CPU (b);
  gint32 n_head_kv = cpu->hp->n_head_kv;
  float *row = cpu->kv_row;

  OPERATION_START (b);
  g_assert (to < from && from + count <= cpu->n_ctx);
  for (gint32 l = 0; l < cpu->hp->n_layer; l++)
    {
      for (gint32 i = 0; i < count; i++)
        {
          /* Keys were rotated for their old position; rotating by the
           * difference moves them to the new one. */
          const guint8 *src = k_at (cpu, l, from + i);
          guint8 *dst = k_at (cpu, l, to + i);
          for (gint64 j = 0; j < cpu->kv_dim; j++)
            row[j] = load_value (cpu, src + j * cpu->kv_elem);
          rope_row (cpu, row, n_head_kv, (float) (to - from));
          for (gint64 j = 0; j < cpu->kv_dim; j++)
            store_value (cpu, dst + j * cpu->kv_elem, row[j]);
        }
      for (gint64 j = 0; j < cpu->kv_dim; j++)
        {
          guint8 *vt = vt_at (cpu, l, j);
          memmove (vt + (gsize) to * cpu->kv_elem, vt + (gsize) from * cpu->kv_elem, (gsize) count * cpu->kv_elem);
        }
    }
}

static gboolean
cpu_kv_save (TernBackend *b, gint32 layer, gint32 n, guint8 *k, guint8 *v, GError **error)
{
  CpuBackend *cpu = CPU (b);
  gsize row = cpu->kv_dim * cpu->kv_elem;

  g_assert (!cpu->recording);
  memcpy (k, k_at (cpu, layer, 0), n * row);
  for (gint64 j = 0; j < cpu->kv_dim; j++)
    {
      const guint8 *vt = vt_at (cpu, layer, j);
      for (gint32 i = 0; i < n; i++)
        memcpy (v + i * row + j * cpu->kv_elem, vt + (gsize) i * cpu->kv_elem, cpu->kv_elem);
    }
  return TRUE;
}

static gboolean
cpu_kv_load (TernBackend *b, gint32 layer, gint32 n, const guint8 *k, const guint8 *v, GError **error)
{
  CpuBackend *cpu = CPU (b);
  gsize row = cpu->kv_dim * cpu->kv_elem;

  g_assert (!cpu->recording);
  memcpy (k_at (cpu, layer, 0), k, n * row);
  for (gint64 j = 0; j < cpu->kv_dim; j++)
    {
      guint8 *vt = vt_at (cpu, layer, j);
      for (gint32 i = 0; i < n; i++)
        memcpy (vt + (gsize) i * cpu->kv_elem, v + i * row + j * cpu->kv_elem, cpu->kv_elem);
    }
  return TRUE;
}

/* Attention. */

typedef struct {
  CpuBackend *cpu;
  gint32 layer;
  const TernBuf *q;
  gint32 n, pos;
  TernBuf *out;
  ChunkQueue queue; /* one chunk per (token, head) */
} AttendJob;

static void
attend_worker (gpointer data, guint index, guint n_threads)
{
  AttendJob *job = data;
  CpuBackend *cpu = job->cpu;
  const TernHParams *hp = cpu->hp;
  gint32 hd = hp->head_dim, group = hp->n_head / hp->n_head_kv;
  float *scores = (float *) (cpu->scratch + index * cpu->scratch_per_thread);
  guint8 *weights = (guint8 *) (scores + cpu->n_ctx);   /* n_ctx values of the cache type */
  guint8 *query = weights + (gsize) cpu->n_ctx * cpu->kv_elem;
  TernQuantizeRowFn to_cache_type = tern_quant_quantize_row (cpu->kv_type);
  float scale = 1.0f / sqrtf ((float) hd);
  gint64 chunk;

  while (!stopped (cpu) && next_chunk (&job->queue, &chunk))
    {
      gint32 i = (gint32) (chunk / hp->n_head), h = (gint32) (chunk % hp->n_head);
      gint32 kvh = h / group, n_keys = job->pos + i + 1;
      const float *qh = job->q->data + i * job->q->cols + h * hd;
      float *oh = job->out->data + i * job->out->cols + h * hd;
      float max = -INFINITY;
      double sum = 0;

      to_cache_type (qh, query, hd);
      for (gint32 j = 0; j < n_keys; j++)
        {
          scores[j] = cpu->kv_dot (hd, k_at (cpu, job->layer, j) + (gsize) kvh * hd * cpu->kv_elem, query) * scale;
          max = MAX (max, scores[j]);
        }
      for (gint32 j = 0; j < n_keys; j++)
        {
          scores[j] = expf (scores[j] - max);
          sum += scores[j];
        }
      float inv = (float) (1.0 / sum);
      for (gint32 j = 0; j < n_keys; j++)
        scores[j] *= inv;
      to_cache_type (scores, weights, n_keys);
      for (gint32 d = 0; d < hd; d++)
        oh[d] = cpu->kv_dot (n_keys, vt_at (cpu, job->layer, (gint64) kvh * hd + d), weights);
    }
}

static void
cpu_attend (TernBackend *b, gint32 layer, const TernBuf *q, gint32 n, gint32 pos, TernBuf *out)
{
  AttendJob job = { CPU (b), layer, q, n, pos, out, { 0 } };

  OPERATION_START (b);
  job.queue.n_chunks = (gint64) n * CPU (b)->hp->n_head;
  tern_thread_pool_run (CPU (b)->pool, attend_worker, &job);
  touch (out);
}

/* Element-wise. */

typedef struct {
  TernBuf *gate;
  const TernBuf *up;
  gint32 n;
} SwigluJob;

static void
swiglu_worker (gpointer data, guint index, guint n_threads)
{
  SwigluJob *job = data;
  gint64 start, end;

  tern_split_range (job->n, index, n_threads, &start, &end);
  for (gint64 i = start; i < end; i++)
    {
      float *g = job->gate->data + i * job->gate->cols;
      const float *u = job->up->data + i * job->up->cols;
      for (gint64 j = 0; j < job->gate->cols; j++)
        g[j] = g[j] / (1.0f + expf (-g[j])) * u[j];
    }
}

static void
cpu_swiglu (TernBackend *b, TernBuf *gate, const TernBuf *up, gint32 n)
{
  SwigluJob job = { gate, up, n };

  OPERATION_START (b);
  tern_thread_pool_run (CPU (b)->pool, swiglu_worker, &job);
  touch (gate);
}

static void
cpu_add (TernBackend *b, TernBuf *x, const TernBuf *y, gint32 n)
{
  OPERATION_START (b);
  for (gint32 i = 0; i < n; i++)
    for (gint64 j = 0; j < x->cols; j++)
      x->data[i * x->cols + j] += y->data[i * y->cols + j];
  touch (x);
}

static void
cpu_copy_rows (TernBackend *b, const TernBuf *src, gint32 row, gint32 count, TernBuf *dst, gint32 dst_row)
{
  OPERATION_START (b);
  g_assert (src->cols == dst->cols);
  memcpy (dst->data + dst_row * dst->cols, src->data + row * src->cols, sizeof (float) * count * src->cols);
  touch (dst);
}

static gboolean
cpu_read (TernBackend *b, const TernBuf *buf, gint32 row, gint32 count, float *dst, GError **error)
{
  g_assert (!CPU (b)->recording && row + count <= buf->rows);
  memcpy (dst, buf->data + row * buf->cols, sizeof (float) * count * buf->cols);
  return TRUE;
}

static gboolean
cpu_write (TernBackend *b, TernBuf *buf, gint32 row, gint32 count, const float *src, GError **error)
{
  g_assert (!CPU (b)->recording && row + count <= buf->rows);
  memcpy (buf->data + row * buf->cols, src, sizeof (float) * count * buf->cols);
  touch (buf);
  return TRUE;
}

static const TernBackendOps cpu_ops = {
  .free = cpu_free,
  .name = cpu_name,
  .buf_new = cpu_buf_new,
  .buf_free = cpu_buf_free,
  .begin = cpu_begin,
  .submit = cpu_submit,
  .embed = cpu_embed,
  .rms_norm = cpu_rms_norm,
  .matmul = cpu_matmul,
  .rope = cpu_rope,
  .kv_store = cpu_kv_store,
  .attend = cpu_attend,
  .swiglu = cpu_swiglu,
  .add = cpu_add,
  .copy_rows = cpu_copy_rows,
  .kv_move = cpu_kv_move,
  .read = cpu_read,
  .write = cpu_write,
  .kv_save = cpu_kv_save,
  .kv_load = cpu_kv_load,
};

TernBackend *
tern_backend_cpu_open (const TernDevice *device, const TernBackendParams *params, GError **error)
{
  const TernHParams *hp = tern_weights_hparams (params->weights);
  TernType kv_type = params->kv_type;
  gint32 n_ctx = params->n_ctx;
  guint n_threads = params->n_threads;
  gsize kv_elem = kv_type == TERN_TYPE_F16 ? 2 : 4;
  gint64 kv_dim = (gint64) hp->n_head_kv * hp->head_dim;
  gsize cache_bytes = (gsize) hp->n_layer * n_ctx * kv_dim * kv_elem;
  TernKernelLevel kernel = params->kernel;

  g_assert (kv_type == TERN_TYPE_F16 || kv_type == TERN_TYPE_F32);
  g_assert (tern_cpu_supports_kernel (kernel) && n_threads >= 1 && n_ctx >= 1);
  if (kernel == TERN_KERNEL_BEST)
    kernel = tern_cpu_best_kernel ();

  CpuBackend *cpu = g_new0 (CpuBackend, 1);
  cpu->base.ops = &cpu_ops;
  cpu->weights = params->weights;
  cpu->hp = hp;
  cpu->kernel = kernel;
  cpu->n_ctx = n_ctx;
  cpu->kv_type = kv_type;
  cpu->kv_elem = kv_elem;
  cpu->kv_dim = kv_dim;
  cpu->kv_dot = tern_quant_vec_dot (kv_type, kernel);
  cpu->max_matmul_cols = MAX (MAX (hp->n_embd, (gint64) hp->n_head * hp->head_dim), hp->n_ff);
  cpu->k_cache = g_try_malloc0 (cache_bytes);
  cpu->v_cache = g_try_malloc0 (cache_bytes);
  if (cpu->k_cache == NULL || cpu->v_cache == NULL)
    {
      g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_NOMEM,
                   "not enough memory for a KV cache of %d tokens (%" G_GSIZE_FORMAT " MiB)", n_ctx,
                   2 * cache_bytes >> 20);
      cpu_free (&cpu->base);
      return NULL;
    }
  /* Per thread: the scores of a query over every position (f32), then
   * the same as weights and the query, both in the cache type. */
  cpu->scratch_per_thread = (sizeof (float) + kv_elem) * n_ctx + kv_elem * hp->head_dim;
  cpu->scratch_per_thread = (cpu->scratch_per_thread + 63) / 64 * 64;
  cpu->scratch = g_try_malloc (cpu->scratch_per_thread * n_threads);
  if (cpu->scratch == NULL)
    {
      g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_NOMEM,
                   "not enough memory for attention over %d tokens on %u threads", n_ctx, n_threads);
      cpu_free (&cpu->base);
      return NULL;
    }
  cpu->kv_row = g_new (float, kv_dim);
  /* A few floats, kept here: RoPE needs them outside any layer. */
  if (!tern_weights_acquire (params->weights, -1, error))
    {
      cpu_free (&cpu->base);
      return NULL;
    }
  const TernGgufTensor *freqs = tern_weights_get (params->weights, -1, TERN_WEIGHT_ROPE_FREQS);
  cpu->rope_freqs = freqs ? g_memdup2 (freqs->data, freqs->n_bytes) : NULL;
  tern_weights_release (params->weights, -1);
  cpu->pool = tern_thread_pool_new (n_threads, error);
  if (cpu->pool == NULL)
    {
      cpu_free (&cpu->base);
      return NULL;
    }
  cpu->name = g_strdup_printf ("cpu (%s, %u thread%s)", tern_kernel_level_name (kernel),
                               n_threads, n_threads == 1 ? "" : "s");
  return &cpu->base;
}

const TernBackendClass tern_backend_cpu_class = {
  .name = "cpu",
  .enumerate = tern_backend_cpu_enumerate,
  .open = tern_backend_cpu_open,
};
