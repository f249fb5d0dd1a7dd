/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The Vulkan backend: weights uploaded once into device memory, the
 * activations and the KV cache kept there, and each pass recorded into one
 * command buffer of compute shaders (shaders/) that the host waits for only
 * where it reads. A generation's passes differ only in values the shaders
 * read from upload blocks (token ids, RoPE tables, positions), so the
 * command buffer recorded for its first token runs the others as it is
 * (vulkan-runtime.h, Reuse). Numerics: a matmul's activations are rounded as the CPU
 * backend quantizes them for the weight's type (act_quant.comp, bit for
 * bit) and multiplied in f32 with the dequantized weights, so that both
 * backends multiply the same values; RoPE's cosines and sines are the CPU
 * backend's own, computed here; the cache is F16 rounded to nearest even,
 * or F32. */
#include "backend/vulkan/vulkan-runtime.h"

#include <math.h>
#include <string.h>
#include <tern/error.h>

struct TernBuf {
  gint64 rows, cols;
  TernVkMem mem;
  guint64 version; /* bumped by every operation that writes it: keys the
                    * rounded activations below */
};

/* A weight in device memory: whole rows in one buffer or, past the
 * device's largest binding, in several. */
typedef struct {
  const TernGgufTensor *src; /* what was uploaded: a swapped weight is uploaded again */
  TernType type;
  gint64 ne0, ne1;
  gsize row_bytes;
  gint64 part_rows;
  guint n_parts;
  TernVkMem *parts;
  guint refs;                /* roles that share it (tied embeddings) */
} Weight;

/* Host data a pass's shaders read (tokens, RoPE tables): written while the
 * pass is recorded, in host-visible blocks kept until the next pass. */
typedef struct {
  TernVkMem mem;
  VkDeviceSize used;
} UploadBlock;

typedef struct {
  TernBackend base;
  TernVkRuntime *rt;
  TernWeights *weights;
  const TernHParams *hp;
  char *name;
  GCancellable *cancellable;

  Weight **roles;         /* [(layer + 1) * TERN_WEIGHT_N_KINDS + kind] */
  GArray *uploads;        /* UploadBlock */
  float *rope_freqs;      /* [n_rot/2] divisors, or NULL */
  TernVkBind rope;        /* the pass's last RoPE table, at rope_pos.. */
  gint32 rope_pos, rope_n;
  TernVkBind now;         /* the pass's last position values, for now_pos.. */
  gint32 now_pos, now_n;

  guint32 subgroup;       /* invocations of a matmul workgroup */
  guint32 wg;             /* of the other shaders' workgroups */
  gint32 n_ctx;
  TernType kv_type;
  gsize kv_elem;
  gint64 kv_dim;
  TernVkMem *k_cache, *v_cache; /* per layer: [position][kv_dim] */
  /* The activations last rounded for a matmul (as the CPU quantizes them),
   * reused while the same buffer is multiplied by several weights. */
  TernVkMem act;
  const TernBuf *act_src;
  guint64 act_version;
  TernType act_type;
  gboolean act_packed;
  gint32 act_n;
  /* Whether the matrix products of the types that have one take the
   * integer path (integer dot products of packed bytes), and those types:
   * the ones shaders/meson.build compiles a matvec_int shader for. */
  gboolean int_dot;
  gboolean int_types[TERN_TYPE_COUNT];

  TernVkMem attend_parts;       /* the split attention's partial results */
  GArray *retired;              /* TernVkMem: buffers grown out of, freed
                                 * when the pass that may use them is done */
} VkBackend;

#define VKB(b) ((VkBackend *) (b))

#define ATTEND_WG 64
/* The most keys a workgroup of attend.comp takes, and the workgroups that
 * fill a GPU (twice the compute units of a large one). */
#define ATTEND_MAX_KEYS 1024
#define ATTEND_FILL 128
/* The largest attention head the shaders take (kv_move.comp, attend.comp). */
#define MAX_HEAD_DIM 256

/* Tokens a matmul workgroup takes at once in a batch. */
#define MATMUL_TOKENS 8
/* Rows a matrix-vector workgroup takes at a time: NR in matvec.comp. */
#define MATMUL_ROWS 8

/* The byte alignment of a binding's offset that every device accepts. */
#define BIND_ALIGN 256

static guint32
groups (gint64 items, guint32 per_group)
{
  return (guint32) MIN ((items + per_group - 1) / per_group, 65535);
}

static gboolean
stopped (const VkBackend *vb)
{
  return g_cancellable_is_cancelled (vb->cancellable);
}

/* Starts an operation, recorded in a pass: one of a stopped pass does nothing. */
#define OPERATION_START(b)                                                                                 \
  G_STMT_START                                                                                             \
  {                                                                                                        \
    g_assert (VKB (b)->rt->recording);                                                                     \
    if (stopped (VKB (b)))                                                                                 \
      return;                                                                                              \
  }                                                                                                        \
  G_STMT_END

static const char *
type_suffix (TernType type)
{
  static char names[TERN_TYPE_COUNT][8];
  char *s = names[type];

  if (s[0] == '\0')
    {
      g_autofree char *lower = g_ascii_strdown (tern_type_name (type), -1);
      g_strlcpy (s, lower, sizeof names[type]);
    }
  return s;
}

static void
touch (TernBuf *buf)
{
  buf->version++;
}

/* ---- Weights ---- */

static void
weight_unref (VkBackend *vb, Weight *w)
{
  if (w == NULL || --w->refs > 0)
    return;
  for (guint i = 0; i < w->n_parts; i++)
    tern_vk_mem_free (vb->rt, &w->parts[i]);
  g_free (w->parts);
  g_free (w);
}

static Weight *
weight_upload (VkBackend *vb, const TernGgufTensor *t)
{
  /* The matrix products read a part through its texel views, which cover
   * the buffer's size rounded up to 16 bytes (tern_vk_mem_new). */
  VkDeviceSize range = MIN (vb->rt->dev->props.limits.maxStorageBufferRange,
                            (VkDeviceSize) vb->rt->dev->props.limits.maxTexelBufferElements * 4 - 16);
  Weight *w = g_new0 (Weight, 1);

  w->src = t;
  w->type = t->type;
  w->ne0 = t->ne[0];
  w->ne1 = t->ne[1];
  w->row_bytes = tern_type_row_bytes (t->type, t->ne[0]);
  w->part_rows = MAX (1, (gint64) (range / w->row_bytes));
  w->n_parts = (guint) ((w->ne1 + w->part_rows - 1) / w->part_rows);
  w->parts = g_new0 (TernVkMem, w->n_parts);
  w->refs = 1;
  for (guint i = 0; i < w->n_parts; i++)
    {
      gint64 r0 = i * w->part_rows, rows = MIN (w->part_rows, w->ne1 - r0);
      gsize bytes = rows * w->row_bytes;
      if (!tern_vk_mem_new (vb->rt, bytes, FALSE, &w->parts[i])
          || !tern_vk_upload (vb->rt, &w->parts[i], 0, (const guint8 *) t->data + r0 * w->row_bytes, bytes))
        {
          w->n_parts = i + 1;
          weight_unref (vb, w);
          return NULL;
        }
    }
  return w;
}

/* Layer @layer's weight @kind in device memory, uploaded again when the
 * model swapped it since (tern_model_swap_weight); NULL once a failure is
 * stored. Called with the layer acquired, outside a running pass. */
static Weight *
weight (VkBackend *vb, gint32 layer, TernWeightKind kind)
{
  Weight **slot = &vb->roles[(layer + 1) * TERN_WEIGHT_N_KINDS + kind];
  const TernGgufTensor *t = tern_weights_get (vb->weights, layer, kind);

  if (*slot != NULL && (*slot)->src == t)
    return *slot;
  /* The pass in flight may read the old one; recording waited for it. */
  weight_unref (vb, *slot);
  *slot = NULL;
  if (t == NULL || vb->rt->failure != NULL)
    return NULL;
  /* Tied embeddings: the output is the embedding's tensor. */
  for (guint k = 0; k < TERN_WEIGHT_N_KINDS && layer == -1; k++)
    if (vb->roles[k] != NULL && vb->roles[k]->src == t)
      {
        vb->roles[k]->refs++;
        return *slot = vb->roles[k];
      }
  return *slot = weight_upload (vb, t);
}

static TernVkBind
whole (const TernVkMem *mem)
{
  return (TernVkBind) { mem, 0, VK_WHOLE_SIZE };
}

/* ---- Host data of a pass ---- */

/* Copies @size bytes into the pass's upload blocks; the binding that reads
 * them, or one of no memory when a failure is stored. */
static TernVkBind
upload (VkBackend *vb, const void *data, gsize size)
{
  UploadBlock *last = vb->uploads->len > 0 ? &g_array_index (vb->uploads, UploadBlock, vb->uploads->len - 1) : NULL;

  if (last == NULL || last->used + size > last->mem.size)
    {
      UploadBlock block = { 0 };
      if (!tern_vk_mem_new (vb->rt, MAX (size, 1 << 20), TRUE, &block.mem))
        return (TernVkBind) { 0 };
      g_array_append_val (vb->uploads, block);
      last = &g_array_index (vb->uploads, UploadBlock, vb->uploads->len - 1);
    }
  TernVkBind bind = { &last->mem, last->used, size };
  memcpy (last->mem.map + last->used, data, size);
  last->used = (last->used + size + BIND_ALIGN - 1) / BIND_ALIGN * BIND_ALIGN;
  if (!last->mem.coherent)
    {
      VkMappedMemoryRange range = { .sType = VK_STRUCTURE_TYPE_MAPPED_MEMORY_RANGE, .memory = last->mem.memory,
                                    .offset = 0, .size = VK_WHOLE_SIZE };
      tern_vk_check (vb->rt, vkFlushMappedMemoryRanges (vb->rt->device, 1, &range), "flush");
    }
  return bind;
}

/* The cosines and sines of RoPE at positions @pos.. (@n rows of n_rot
 * values), the CPU backend's own; the last table of the pass again when
 * it is the same (each layer rotates its queries and keys alike). */
static TernVkBind
rope_table (VkBackend *vb, gint32 pos, gint32 n)
{
  gint32 n_rot = vb->hp->n_rot;

  if (vb->rope.mem != NULL && vb->rope_pos == pos && vb->rope_n == n)
    return vb->rope;
  g_autofree float *table = g_new (float, (gsize) n * n_rot);
  for (gint32 i = 0; i < n; i++)
    tern_rope_cos_sin (vb->hp, vb->rope_freqs, (float) (pos + i), table + (gsize) i * n_rot);
  vb->rope = upload (vb, table, sizeof (float) * n * n_rot);
  vb->rope_pos = pos;
  vb->rope_n = n;
  return vb->rope;
}

/* ---- Buffers and passes ---- */

static TernBuf *
vk_buf_new (TernBackend *b, gint64 rows, gint64 cols, GError **error)
{
  VkBackend *vb = VKB (b);
  TernBuf *buf = g_new0 (TernBuf, 1);

  guint64 n, size;
  gboolean failed_before = vb->rt->failure != NULL;

  g_assert (!vb->rt->recording && rows > 0 && cols > 0);
  buf->rows = rows;
  buf->cols = cols;
  if (!g_uint64_checked_mul (&n, rows, cols) || !g_uint64_checked_mul (&size, n, sizeof (float)))
    {
      g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_NOMEM,
                   "not enough memory for %" G_GINT64_FORMAT " activations of %" G_GINT64_FORMAT " values", rows, cols);
      g_free (buf);
      return NULL;
    }
  if (!tern_vk_mem_new (vb->rt, size, FALSE, &buf->mem))
    {
      tern_vk_failed (vb->rt, error);
      /* A buffer that does not fit is no failure of the backend's. */
      if (!failed_before && g_error_matches (vb->rt->failure, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_NOMEM))
        g_clear_error (&vb->rt->failure);
      g_free (buf);
      return NULL;
    }
  return buf;
}

static void
vk_buf_free (TernBackend *b, TernBuf *buf)
{
  VkBackend *vb = VKB (b);

  g_assert (!vb->rt->recording);
  /* A pass in flight may still use it. */
  tern_vk_wait (vb->rt);
  if (vb->act_src == buf)
    vb->act_src = NULL;
  tern_vk_mem_free (vb->rt, &buf->mem);
  g_free (buf);
}

static const char *
vk_name (TernBackend *b)
{
  return VKB (b)->name;
}

static void
free_retired (VkBackend *vb)
{
  for (guint i = 0; i < vb->retired->len; i++)
    tern_vk_mem_free (vb->rt, &g_array_index (vb->retired, TernVkMem, i));
  g_array_set_size (vb->retired, 0);
}

static void
vk_begin (TernBackend *b, GCancellable *cancellable)
{
  VkBackend *vb = VKB (b);

  tern_vk_begin (vb->rt);
  vb->cancellable = cancellable ? g_object_ref (cancellable) : NULL;
  /* The last pass is done: its upload blocks are free again. */
  while (vb->uploads->len > 1)
    {
      tern_vk_mem_free (vb->rt, &g_array_index (vb->uploads, UploadBlock, vb->uploads->len - 1).mem);
      g_array_set_size (vb->uploads, vb->uploads->len - 1);
    }
  if (vb->uploads->len == 1)
    g_array_index (vb->uploads, UploadBlock, 0).used = 0;
  vb->rope = (TernVkBind) { 0 };
  vb->now = (TernVkBind) { 0 };
  free_retired (vb);
}

static gboolean
vk_submit (TernBackend *b, GError **error)
{
  VkBackend *vb = VKB (b);
  gboolean was_stopped = stopped (vb);

  g_clear_object (&vb->cancellable);
  if (!tern_vk_submit (vb->rt, !was_stopped, error))
    return FALSE;
  if (was_stopped)
    {
      g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_CANCELLED, "the computation was stopped");
      return FALSE;
    }
  return TRUE;
}

/* ---- Operations ---- */

static void
vk_embed (TernBackend *b, const TernToken *tokens, gint32 n, TernBuf *out)
{
  VkBackend *vb = VKB (b);

  OPERATION_START (b);
  Weight *w = weight (vb, -1, TERN_WEIGHT_TOKEN_EMBD);
  TernVkBind ids = upload (vb, tokens, sizeof (TernToken) * n);
  g_autofree char *shader = g_strdup_printf ("embed-%s", type_suffix (w ? w->type : TERN_TYPE_F32));
  for (guint i = 0; w != NULL && ids.mem != NULL && i < w->n_parts; i++)
    {
      guint32 push[] = { w->ne0, i * w->part_rows, MIN (w->part_rows, w->ne1 - i * w->part_rows), w->row_bytes,
                         out->cols };
      TernVkBind binds[] = { whole (&w->parts[i]), ids, whole (&out->mem) };
      tern_vk_dispatch (vb->rt, shader, vb->wg, 0, binds, 3, push, sizeof push, groups (w->ne0, vb->wg), n, 1);
    }
  touch (out);
}

static void
vk_rms_norm (TernBackend *b, const TernBuf *x, gint32 n, gint32 layer, TernWeightKind kind, TernBuf *out)
{
  VkBackend *vb = VKB (b);

  OPERATION_START (b);
  Weight *w = weight (vb, layer, kind);
  struct { guint32 d, x_stride, o_stride; float eps; } push = { x->cols, x->cols, out->cols, vb->hp->rms_eps };
  TernVkBind binds[] = { whole (&x->mem), w ? whole (&w->parts[0]) : (TernVkBind) { 0 }, whole (&out->mem) };
  if (w != NULL)
    tern_vk_dispatch (vb->rt, "rms_norm", vb->wg, 0, binds, 3, &push, sizeof push, n, 1, 1);
  touch (out);
}

/* Whether products with weights of @type take the integer path. */
static gboolean
int_path (const VkBackend *vb, TernType type)
{
  return vb->int_dot && vb->int_types[type];
}

/* @x's rows rounded as the CPU's dot products of weights whose vec_dot
 * type is @type take them (so that both backends multiply the same
 * values), or, @packed, quantized the same way and kept as bytes and
 * scales (act_quant.comp's ACT_PACK); unless the last call did. NULL once
 * a failure is stored. */
static const TernVkMem *
activations (VkBackend *vb, const TernBuf *x, gint32 n, TernType type, gboolean packed)
{
  VkDeviceSize size = (VkDeviceSize) n * x->cols * sizeof (float);

  if (type == TERN_TYPE_F32)
    return &x->mem;
  if (vb->act_src == x && vb->act_version == x->version && vb->act_type == type && vb->act_packed == packed
      && vb->act_n >= n)
    return &vb->act;
  if (size > vb->act.size)
    {
      /* The pass recorded so far may read the old one. */
      g_array_append_val (vb->retired, vb->act);
      if (!tern_vk_mem_new (vb->rt, size, FALSE, &vb->act))
        return NULL;
    }
  gint64 block = tern_type_info (type)->block_elems;
  gint64 span = type == TERN_TYPE_F16 || type == TERN_TYPE_BF16 ? vb->wg : MAX (vb->wg / block, 1) * block;
  g_autofree char *shader = g_strdup_printf ("%s-%s", packed ? "act_pack" : "act_quant", type_suffix (type));
  guint32 push[] = { x->cols, x->cols };
  TernVkBind binds[] = { whole (&x->mem), whole (&vb->act) };
  tern_vk_dispatch (vb->rt, shader, vb->wg, 0, binds, 2, push, sizeof push, groups (x->cols, span), n, 1);
  vb->act_src = x;
  vb->act_version = x->version;
  vb->act_type = type;
  vb->act_packed = packed;
  vb->act_n = n;
  return &vb->act;
}

static void
vk_matmul (TernBackend *b, const TernBuf *x, gint32 n, gint32 layer, TernWeightKind kind, TernWeightKind bias_kind,
           TernBuf *out)
{
  VkBackend *vb = VKB (b);
  VkDeviceSize range = vb->rt->dev->props.limits.maxStorageBufferRange;

  OPERATION_START (b);
  Weight *w = weight (vb, layer, kind);
  Weight *bias = bias_kind != TERN_WEIGHT_N_KINDS ? weight (vb, layer, bias_kind) : NULL;
  if (w == NULL || (bias_kind != TERN_WEIGHT_N_KINDS && bias == NULL))
    return;
  g_assert (x->cols == w->ne0 && out->cols >= w->ne1);
  gboolean integer = int_path (vb, w->type);
  const TernVkMem *input = activations (vb, x, n, tern_quant_vec_dot_type (w->type), integer);
  if (input == NULL)
    return;
  if (input->views[TERN_VK_VIEW_WORDS] == VK_NULL_HANDLE)
    {
      if (vb->rt->failure == NULL)
        vb->rt->failure = g_error_new (TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_NOMEM,
                                       "the GPU cannot read %" G_GINT64_FORMAT " activations of %" G_GINT64_FORMAT
                                       " values at once", (gint64) n, x->cols);
      return;
    }
  g_autofree char *shader = g_strdup_printf ("%s-%s", integer ? "matvec_int" : "matvec", type_suffix (w->type));
  /* An output past the device's largest binding (a long prompt's logits)
   * is bound a slice of tokens at a time. */
  VkDeviceSize row_size = out->cols * sizeof (float);
  gint32 slice = (gint32) MAX (1, (range - BIND_ALIGN) / row_size);
  /* Tokens a workgroup multiplies each weight with: one in generation. */
  guint32 nc = n == 1 ? 1 : MATMUL_TOKENS;
  for (gint32 t0 = 0; t0 < n; t0 += slice)
    {
      gint32 nt = MIN (slice, n - t0);
      VkDeviceSize first = t0 * row_size, offset = first / BIND_ALIGN * BIND_ALIGN;
      TernVkBind y = { &out->mem, offset, MIN (out->mem.size - offset, range) };
      /* The shader reads the activations through the buffer's texel view,
       * from token t0 on (push constant x_base). */
      TernVkBind xs = { input, 0, MIN (input->size, range) };
      for (guint i = 0; i < w->n_parts; i++)
        {
          gint64 r0 = i * w->part_rows;
          guint32 push[] = {
            w->ne0, MIN (w->part_rows, w->ne1 - r0), w->row_bytes, nt, x->cols, out->cols,
            (first - offset) / sizeof (float) + r0, r0, bias != NULL, t0 * x->cols,
          };
          TernVkBind binds[] = { whole (&w->parts[i]), xs, y, bias ? whole (&bias->parts[0]) : (TernVkBind) { 0 } };
          guint32 rows = (guint32) MIN ((push[1] + MATMUL_ROWS - 1) / MATMUL_ROWS, 65535);
          tern_vk_dispatch (vb->rt, shader, vb->subgroup, nc, binds, 4, push, sizeof push, rows, (nt + nc - 1) / nc, 1);
        }
    }
  touch (out);
}

static void
vk_rope (TernBackend *b, TernBuf *x, gint32 n, gint32 n_heads, gint32 pos)
{
  VkBackend *vb = VKB (b);
  const TernHParams *hp = vb->hp;

  OPERATION_START (b);
  TernVkBind table = rope_table (vb, pos, n);
  guint32 push[] = { n_heads, hp->head_dim, hp->n_rot, hp->rope_neox, x->cols };
  TernVkBind binds[] = { whole (&x->mem), table };
  if (table.mem != NULL)
    tern_vk_dispatch (vb->rt, "rope", vb->wg, 0, binds, 2, push, sizeof push, groups (n_heads * hp->n_rot / 2, vb->wg), n, 1);
  touch (x);
}

/* Whether the cache's shaders take the model's heads (up to 256 values,
 * an even number); stores a failure where they do not. */
static gboolean
heads_fit (VkBackend *vb)
{
  if (vb->hp->head_dim <= MAX_HEAD_DIM && vb->hp->head_dim % 2 == 0)
    return TRUE;
  if (vb->rt->failure == NULL)
    vb->rt->failure = g_error_new (TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_UNSUPPORTED,
                                   "the GPU backend computes attention heads of up to %d values, and this model's "
                                   "have %d", MAX_HEAD_DIM, vb->hp->head_dim);
  return FALSE;
}

static const char *
kv_suffix (const VkBackend *vb)
{
  return vb->kv_type == TERN_TYPE_F16 ? "f16" : "f32";
}

/* How many parts a query's keys are split into: at most 1024 keys each
 * (lavapipe ends an invocation's loops after 65,535 iterations in all),
 * and with few queries (generation) enough parts to fill the device, of
 * 256 keys at least. */
static guint32
attend_splits (const VkBackend *vb, gint32 n, gint32 n_keys)
{
  guint32 needed = (n_keys + ATTEND_MAX_KEYS - 1) / ATTEND_MAX_KEYS;
  guint32 fill = MIN ((ATTEND_FILL + n * vb->hp->n_head_kv - 1) / (n * vb->hp->n_head_kv), (n_keys + 255) / 256);

  return MIN (MAX (needed, fill), vb->rt->dev->props.limits.maxComputeWorkGroupCount[2]);
}

/* What changes from token to token for @n tokens at positions @pos.. (the
 * Now block of kv_store.comp, attend.comp and attend-reduce.comp): the
 * workgroups of attend's indirect dispatch, the position and the split;
 * uploaded once a pass for every layer. A binding of no memory once a
 * failure is stored. */
static TernVkBind
now_values (VkBackend *vb, gint32 n, gint32 pos)
{
  if (vb->now.mem != NULL && vb->now_pos == pos && vb->now_n == n)
    return vb->now;
  guint32 n_split = attend_splits (vb, n, pos + n);
  guint32 values[] = { vb->hp->n_head_kv, n, n_split, pos, n_split };
  vb->now = upload (vb, values, sizeof values);
  vb->now_pos = pos;
  vb->now_n = n;
  return vb->now;
}

static void
vk_kv_store (TernBackend *b, gint32 layer, const TernBuf *k, const TernBuf *v, gint32 n, gint32 pos)
{
  VkBackend *vb = VKB (b);

  OPERATION_START (b);
  g_assert (pos + n <= vb->n_ctx);
  g_autofree char *shader = g_strdup_printf ("kv_store-%s", kv_suffix (vb));
  guint32 push[] = { vb->kv_dim, k->cols, v->cols };
  TernVkBind binds[] = { whole (&k->mem), whole (&v->mem), whole (&vb->k_cache[layer]), whole (&vb->v_cache[layer]),
                         now_values (vb, n, pos) };
  if (binds[4].mem != NULL)
    tern_vk_dispatch (vb->rt, shader, vb->wg, 0, binds, 5, push, sizeof push, groups (vb->kv_dim / 2, vb->wg), n, 1);
}

/* The split attention's partial results for @n queries: grown as needed
 * (the pass before, the last user of the old buffer, is done) to the most
 * parts @n queries take, so that a generation, whose parts grow with its
 * cache, does not grow it again; FALSE with the failure stored. */
static gboolean
attend_parts (VkBackend *vb, gint32 n)
{
  guint32 most = attend_splits (vb, n, vb->n_ctx);
  VkDeviceSize need = (VkDeviceSize) n * vb->hp->n_head * most * (vb->hp->head_dim + 2) * sizeof (float);

  if (need <= vb->attend_parts.size)
    return TRUE;
  g_array_append_val (vb->retired, vb->attend_parts);
  return tern_vk_mem_new (vb->rt, need, FALSE, &vb->attend_parts);
}

static void
vk_attend (TernBackend *b, gint32 layer, const TernBuf *q, gint32 n, gint32 pos, TernBuf *out)
{
  VkBackend *vb = VKB (b);
  const TernHParams *hp = vb->hp;

  OPERATION_START (b);
  if (!heads_fit (vb))
    return;
  guint32 n_split = attend_splits (vb, n, pos + n);
  if (n_split > 1 && !attend_parts (vb, n))
    return;
  struct {
    guint32 n, n_head, n_head_kv, head_dim, q_stride, o_stride;
    float scale;
  } push = { n, hp->n_head, hp->n_head_kv, hp->head_dim, q->cols, out->cols, 1.0f / sqrtf ((float) hp->head_dim) };
  g_autofree char *shader = g_strdup_printf ("attend-%s", kv_suffix (vb));
  TernVkBind binds[] = { whole (&q->mem), whole (&vb->k_cache[layer]), whole (&vb->v_cache[layer]),
                         whole (&out->mem), whole (&vb->attend_parts), now_values (vb, n, pos) };
  tern_vk_dispatch_indirect (vb->rt, shader, ATTEND_WG, 0, binds, 6, &push, sizeof push, binds[5]);
  if (n_split > 1)
    tern_vk_dispatch (vb->rt, "attend-reduce", ATTEND_WG, 0, binds, 6, &push, sizeof push, hp->n_head, n, 1);
}

static void
vk_swiglu (TernBackend *b, TernBuf *gate, const TernBuf *up, gint32 n)
{
  OPERATION_START (b);
  g_assert (gate->cols == up->cols);
  guint32 count = n * gate->cols;
  TernVkBind binds[] = { whole (&gate->mem), whole (&up->mem) };
  tern_vk_dispatch (VKB (b)->rt, "swiglu", VKB (b)->wg, 0, binds, 2, &count, sizeof count, groups (count, VKB (b)->wg), 1, 1);
  touch (gate);
}

static void
vk_add (TernBackend *b, TernBuf *x, const TernBuf *y, gint32 n)
{
  OPERATION_START (b);
  g_assert (x->cols == y->cols);
  guint32 count = n * x->cols;
  TernVkBind binds[] = { whole (&x->mem), whole (&y->mem) };
  tern_vk_dispatch (VKB (b)->rt, "add", VKB (b)->wg, 0, binds, 2, &count, sizeof count, groups (count, VKB (b)->wg), 1, 1);
  touch (x);
}

static void
vk_copy_rows (TernBackend *b, const TernBuf *src, gint32 row, gint32 count, TernBuf *dst, gint32 dst_row)
{
  gsize row_size = src->cols * sizeof (float);

  OPERATION_START (b);
  g_assert (src->cols == dst->cols);
  tern_vk_copy (VKB (b)->rt, &src->mem, row * row_size, &dst->mem, dst_row * row_size, count * row_size);
  touch (dst);
}

static void
vk_kv_move (TernBackend *b, gint32 from, gint32 to, gint32 count)
{
  VkBackend *vb = VKB (b);
  const TernHParams *hp = vb->hp;
  gint32 step = from - to;

  OPERATION_START (b);
  g_assert (to < from && from + count <= vb->n_ctx);
  if (!heads_fit (vb))
    return;
  /* Keys were rotated for their old position; rotating by the difference
   * moves them to the new one. */
  TernVkBind table = rope_table (vb, to - from, 1);
  if (table.mem == NULL)
    return;
  g_autofree char *shader = g_strdup_printf ("kv_move-%s", kv_suffix (vb));
  for (gint32 l = 0; l < hp->n_layer; l++)
    for (gint32 done = 0; done < count; done += step)
      {
        gint32 part = MIN (step, count - done);
        guint32 push[] = { from + done, to + done, part, hp->n_head_kv, hp->head_dim, hp->n_rot, hp->rope_neox };
        TernVkBind binds[] = { whole (&vb->k_cache[l]), whole (&vb->v_cache[l]), table };
        tern_vk_dispatch (vb->rt, shader, vb->wg, 0, binds, 3, push, sizeof push, groups (part * hp->n_head_kv, vb->wg), 1, 1);
      }
}

static gboolean
vk_read (TernBackend *b, const TernBuf *buf, gint32 row, gint32 count, float *dst, GError **error)
{
  VkBackend *vb = VKB (b);
  gsize row_size = buf->cols * sizeof (float);

  g_assert (!vb->rt->recording && row + count <= buf->rows);
  return tern_vk_download (vb->rt, &buf->mem, row * row_size, dst, count * row_size) || !tern_vk_failed (vb->rt, error);
}

static gboolean
vk_write (TernBackend *b, TernBuf *buf, gint32 row, gint32 count, const float *src, GError **error)
{
  VkBackend *vb = VKB (b);
  gsize row_size = buf->cols * sizeof (float);

  g_assert (!vb->rt->recording && row + count <= buf->rows);
  touch (buf);
  return tern_vk_upload (vb->rt, &buf->mem, row * row_size, src, count * row_size) || !tern_vk_failed (vb->rt, error);
}

static gboolean
vk_kv_save (TernBackend *b, gint32 layer, gint32 n, guint8 *k, guint8 *v, GError **error)
{
  VkBackend *vb = VKB (b);
  gsize size = (gsize) n * vb->kv_dim * vb->kv_elem;

  g_assert (!vb->rt->recording);
  if (!tern_vk_download (vb->rt, &vb->k_cache[layer], 0, k, size)
      || !tern_vk_download (vb->rt, &vb->v_cache[layer], 0, v, size))
    return !tern_vk_failed (vb->rt, error);
  return TRUE;
}

static gboolean
vk_kv_load (TernBackend *b, gint32 layer, gint32 n, const guint8 *k, const guint8 *v, GError **error)
{
  VkBackend *vb = VKB (b);
  gsize size = (gsize) n * vb->kv_dim * vb->kv_elem;

  g_assert (!vb->rt->recording);
  if (!tern_vk_upload (vb->rt, &vb->k_cache[layer], 0, k, size)
      || !tern_vk_upload (vb->rt, &vb->v_cache[layer], 0, v, size))
    return !tern_vk_failed (vb->rt, error);
  return TRUE;
}

static void
vk_free (TernBackend *b)
{
  VkBackend *vb = VKB (b);

  if (vb->rt != NULL)
    {
      tern_vk_wait (vb->rt);
      for (gint64 i = 0; i < (gint64) (vb->hp->n_layer + 1) * TERN_WEIGHT_N_KINDS; i++)
        weight_unref (vb, vb->roles[i]);
      for (guint i = 0; i < vb->uploads->len; i++)
        tern_vk_mem_free (vb->rt, &g_array_index (vb->uploads, UploadBlock, i).mem);
      for (gint32 l = 0; vb->k_cache != NULL && l < vb->hp->n_layer; l++)
        {
          tern_vk_mem_free (vb->rt, &vb->k_cache[l]);
          tern_vk_mem_free (vb->rt, &vb->v_cache[l]);
        }
      tern_vk_mem_free (vb->rt, &vb->attend_parts);
      tern_vk_mem_free (vb->rt, &vb->act);
      free_retired (vb);
      tern_vk_runtime_free (vb->rt);
    }
  g_clear_object (&vb->cancellable);
  g_array_unref (vb->uploads);
  g_array_unref (vb->retired);
  g_free (vb->roles);
  g_free (vb->k_cache);
  g_free (vb->v_cache);
  g_free (vb->rope_freqs);
  g_free (vb->name);
  g_free (vb);
}

static const TernBackendOps vk_ops = {
  .free = vk_free,
  .name = vk_name,
  .buf_new = vk_buf_new,
  .buf_free = vk_buf_free,
  .begin = vk_begin,
  .submit = vk_submit,
  .embed = vk_embed,
  .rms_norm = vk_rms_norm,
  .matmul = vk_matmul,
  .rope = vk_rope,
  .kv_store = vk_kv_store,
  .attend = vk_attend,
  .swiglu = vk_swiglu,
  .add = vk_add,
  .copy_rows = vk_copy_rows,
  .kv_move = vk_kv_move,
  .read = vk_read,
  .write = vk_write,
  .kv_save = vk_kv_save,
  .kv_load = vk_kv_load,
};

/* Uploads every weight of layer @layer (-1: the global ones). */
static gboolean
upload_layer (VkBackend *vb, gint32 layer, GError **error)
{
  TernWeightKind first = layer < 0 ? 0 : TERN_WEIGHT_FIRST_LAYER_KIND;
  TernWeightKind end = layer < 0 ? TERN_WEIGHT_FIRST_LAYER_KIND : TERN_WEIGHT_N_KINDS;

  if (!tern_weights_acquire (vb->weights, layer, error))
    return FALSE;
  for (TernWeightKind k = first; k < end; k++)
    if (k != TERN_WEIGHT_ROPE_FREQS)
      weight (vb, layer, k);
  if (layer < 0)
    {
      const TernGgufTensor *freqs = tern_weights_get (vb->weights, -1, TERN_WEIGHT_ROPE_FREQS);
      vb->rope_freqs = freqs ? g_memdup2 (freqs->data, freqs->n_bytes) : NULL;
    }
  tern_weights_release (vb->weights, layer);
  return !tern_vk_failed (vb->rt, error);
}

TernBackend *
tern_backend_vulkan_open (const TernDevice *device, const TernBackendParams *params, GError **error)
{
  const TernVkDevice *dev = (const TernVkDevice *) device;
  const TernHParams *hp = tern_weights_hparams (params->weights);
  VkBackend *vb = g_new0 (VkBackend, 1);

  g_assert (params->kv_type == TERN_TYPE_F16 || params->kv_type == TERN_TYPE_F32);
  vb->base.ops = &vk_ops;
  vb->weights = params->weights;
  vb->hp = hp;
  vb->uploads = g_array_new (FALSE, FALSE, sizeof (UploadBlock));
  vb->retired = g_array_new (FALSE, FALSE, sizeof (TernVkMem));
  vb->roles = g_new0 (Weight *, (gsize) (hp->n_layer + 1) * TERN_WEIGHT_N_KINDS);
  vb->n_ctx = params->n_ctx;
  vb->kv_type = params->kv_type;
  vb->kv_elem = params->kv_type == TERN_TYPE_F16 ? 2 : 4;
  vb->kv_dim = (gint64) hp->n_head_kv * hp->head_dim;
  vb->subgroup = CLAMP (dev->subgroup_size, 4, 32);
  /* A GPU wants several subgroups a workgroup. Lavapipe runs a workgroup
   * one SIMD vector at a time, and each barrier switches every vector:
   * there one subgroup a workgroup is several times faster. */
  vb->wg = dev->props.deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU ? vb->subgroup : 64;
  /* The integer path wherever the device has integer dot products: it
   * reads a quarter of the activations' bytes, and even where the device
   * says its dot products are not accelerated (lavapipe) it measured
   * faster (bench-matmul on bench-1b Q4_K: 17.6 against 30.0 ms a layer
   * for one token). */
  vb->int_dot = dev->int_dot;
  for (TernType t = 0; t < TERN_TYPE_COUNT; t++)
    {
      g_autofree char *path = g_strdup_printf ("/org/tern/shaders/matvec_int-%s.spv", type_suffix (t));
      vb->int_types[t] = g_resource_get_info (tern_shaders_get_resource (), path, 0, NULL, NULL, NULL);
    }
  vb->rt = tern_vk_runtime_new (dev, error);
  if (vb->rt == NULL)
    {
      vk_free (&vb->base);
      return NULL;
    }

  vb->k_cache = g_new0 (TernVkMem, hp->n_layer);
  vb->v_cache = g_new0 (TernVkMem, hp->n_layer);
  VkDeviceSize layer_bytes = (VkDeviceSize) vb->n_ctx * vb->kv_dim * vb->kv_elem;
  for (gint32 l = 0; l < hp->n_layer; l++)
    if (!tern_vk_mem_new (vb->rt, layer_bytes, FALSE, &vb->k_cache[l])
        || !tern_vk_mem_new (vb->rt, layer_bytes, FALSE, &vb->v_cache[l]))
      break;
  if (tern_vk_failed (vb->rt, error))
    {
      vk_free (&vb->base);
      return NULL;
    }
  for (gint32 l = -1; l < hp->n_layer; l++)
    if (!upload_layer (vb, l, error))
      {
        vk_free (&vb->base);
        return NULL;
      }
  vb->name = g_strdup_printf ("vulkan (%s)", dev->device.description);
  return &vb->base;
}

void
tern_backend_vulkan_transfers (TernBackend *b, guint64 *n_transfers, guint64 *bytes)
{
  g_return_if_fail (b->ops == &vk_ops);
  *n_transfers = VKB (b)->rt->n_transfers;
  *bytes = VKB (b)->rt->transfer_bytes;
}

void
tern_backend_vulkan_passes (TernBackend *b, guint64 *n_recorded, guint64 *n_reused)
{
  g_return_if_fail (b->ops == &vk_ops);
  *n_recorded = VKB (b)->rt->n_recorded;
  *n_reused = VKB (b)->rt->n_reused;
}

gboolean
tern_backend_vulkan_set_int_dot (TernBackend *b, gboolean int_dot)
{
  g_return_val_if_fail (b->ops == &vk_ops, FALSE);
  if (int_dot && !VKB (b)->rt->dev->int_dot)
    return FALSE;
  VKB (b)->int_dot = int_dot;
  return TRUE;
}

void
tern_backend_vulkan_set_reuse (TernBackend *b, gboolean reuse)
{
  g_return_if_fail (b->ops == &vk_ops);
  VKB (b)->rt->reuse = reuse;
}

const TernBackendClass tern_backend_vulkan_class = {
  .name = "vulkan",
  .gpus = TRUE,
  .enumerate = tern_backend_vulkan_enumerate,
  .open = tern_backend_vulkan_open,
};
