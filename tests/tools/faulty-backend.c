/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "faulty-backend.h"

#include <tern/error.h>

#include "backend/backend.h"

typedef struct {
  gint fail_alloc, fail_submit, fail_io;
} FaultyPlan;

typedef struct {
  TernBackend base;
  TernBackend *cpu;
  FaultyPlan plan;
  gint n_submits, n_io;
  GError *lost; /* the failure that lost the device */
} Faulty;

#define FAULTY(b) ((Faulty *) (b))

static FaultyPlan plan = { -1, -1, -1 };
static gint n_allocs;

static void
faulty_free (TernBackend *b)
{
  Faulty *f = FAULTY (b);
  f->cpu->ops->free (f->cpu);
  g_clear_error (&f->lost);
  g_free (f);
}

static const char *
faulty_name (TernBackend *b)
{
  return FAULTY (b)->cpu->ops->name (FAULTY (b)->cpu);
}

static TernBuf *
faulty_buf_new (TernBackend *b, gint64 rows, gint64 cols, GError **error)
{
  if (n_allocs++ == FAULTY (b)->plan.fail_alloc)
    {
      g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_NOMEM, "injected: no memory for a buffer");
      return NULL;
    }
  return FAULTY (b)->cpu->ops->buf_new (FAULTY (b)->cpu, rows, cols, error);
}

static void
faulty_buf_free (TernBackend *b, TernBuf *buf)
{
  FAULTY (b)->cpu->ops->buf_free (FAULTY (b)->cpu, buf);
}

/* Whether the device is (now) lost: sets @error then. */
static gboolean
lost (Faulty *f, gint *counter, gint fail_at, GError **error)
{
  if (f->lost == NULL && (*counter)++ == fail_at)
    g_set_error (&f->lost, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_DEVICE, "injected: the device was lost");
  if (f->lost == NULL)
    return FALSE;
  g_propagate_error (error, g_error_copy (f->lost));
  return TRUE;
}

static void
faulty_begin (TernBackend *b)
{
  FAULTY (b)->cpu->ops->begin (FAULTY (b)->cpu);
}

static gboolean
faulty_submit (TernBackend *b, GError **error)
{
  Faulty *f = FAULTY (b);
  g_assert_true (f->cpu->ops->submit (f->cpu, NULL));
  return !lost (f, &f->n_submits, f->plan.fail_submit, error);
}

#define CPU(b) (FAULTY (b)->cpu)

static void
faulty_embed (TernBackend *b, const TernToken *tokens, gint32 n, TernBuf *out)
{
  CPU (b)->ops->embed (CPU (b), tokens, n, out);
}

static void
faulty_rms_norm (TernBackend *b, const TernBuf *x, gint32 n, gint32 layer, TernWeightKind weight, TernBuf *out)
{
  CPU (b)->ops->rms_norm (CPU (b), x, n, layer, weight, out);
}

static void
faulty_matmul (TernBackend *b, const TernBuf *x, gint32 n, gint32 layer, TernWeightKind weight, TernWeightKind bias,
               TernBuf *out)
{
  CPU (b)->ops->matmul (CPU (b), x, n, layer, weight, bias, out);
}

static void
faulty_rope (TernBackend *b, TernBuf *x, gint32 n, gint32 n_heads, gint32 pos)
{
  CPU (b)->ops->rope (CPU (b), x, n, n_heads, pos);
}

static void
faulty_kv_store (TernBackend *b, gint32 layer, const TernBuf *k, const TernBuf *v, gint32 n, gint32 pos)
{
  CPU (b)->ops->kv_store (CPU (b), layer, k, v, n, pos);
}

static void
faulty_attend (TernBackend *b, gint32 layer, const TernBuf *q, gint32 n, gint32 pos, TernBuf *out)
{
  CPU (b)->ops->attend (CPU (b), layer, q, n, pos, out);
}

static void
faulty_swiglu (TernBackend *b, TernBuf *gate, const TernBuf *up, gint32 n)
{
  CPU (b)->ops->swiglu (CPU (b), gate, up, n);
}

static void
faulty_add (TernBackend *b, TernBuf *x, const TernBuf *y, gint32 n)
{
  CPU (b)->ops->add (CPU (b), x, y, n);
}

static void
faulty_copy_rows (TernBackend *b, const TernBuf *src, gint32 row, gint32 count, TernBuf *dst, gint32 dst_row)
{
  CPU (b)->ops->copy_rows (CPU (b), src, row, count, dst, dst_row);
}

static void
faulty_kv_move (TernBackend *b, gint32 from, gint32 to, gint32 count)
{
  CPU (b)->ops->kv_move (CPU (b), from, to, count);
}

static gboolean
faulty_read (TernBackend *b, const TernBuf *buf, gint32 row, gint32 count, float *dst, GError **error)
{
  return !lost (FAULTY (b), &FAULTY (b)->n_io, FAULTY (b)->plan.fail_io, error)
         && CPU (b)->ops->read (CPU (b), buf, row, count, dst, error);
}

static gboolean
faulty_write (TernBackend *b, TernBuf *buf, gint32 row, gint32 count, const float *src, GError **error)
{
  return !lost (FAULTY (b), &FAULTY (b)->n_io, FAULTY (b)->plan.fail_io, error)
         && CPU (b)->ops->write (CPU (b), buf, row, count, src, error);
}

static gboolean
faulty_kv_save (TernBackend *b, gint32 layer, gint32 n, guint8 *k, guint8 *v, GError **error)
{
  return !lost (FAULTY (b), &FAULTY (b)->n_io, FAULTY (b)->plan.fail_io, error)
         && CPU (b)->ops->kv_save (CPU (b), layer, n, k, v, error);
}

static gboolean
faulty_kv_load (TernBackend *b, gint32 layer, gint32 n, const guint8 *k, const guint8 *v, GError **error)
{
  return !lost (FAULTY (b), &FAULTY (b)->n_io, FAULTY (b)->plan.fail_io, error)
         && CPU (b)->ops->kv_load (CPU (b), layer, n, k, v, error);
}

static const TernBackendOps faulty_ops = {
  .free = faulty_free,
  .name = faulty_name,
  .buf_new = faulty_buf_new,
  .buf_free = faulty_buf_free,
  .begin = faulty_begin,
  .submit = faulty_submit,
  .embed = faulty_embed,
  .rms_norm = faulty_rms_norm,
  .matmul = faulty_matmul,
  .rope = faulty_rope,
  .kv_store = faulty_kv_store,
  .attend = faulty_attend,
  .swiglu = faulty_swiglu,
  .add = faulty_add,
  .copy_rows = faulty_copy_rows,
  .kv_move = faulty_kv_move,
  .read = faulty_read,
  .write = faulty_write,
  .kv_save = faulty_kv_save,
  .kv_load = faulty_kv_load,
};

static TernBackend *
faulty_open (const TernDevice *device, const TernBackendParams *params, GError **error)
{
  n_allocs = 0;
  if (n_allocs++ == plan.fail_alloc)
    {
      g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_NOMEM, "injected: no memory for the backend");
      return NULL;
    }
  TernBackend *cpu = tern_backend_new ("cpu", params, error);
  if (cpu == NULL)
    return NULL;
  Faulty *f = g_new0 (Faulty, 1);
  f->base.ops = &faulty_ops;
  f->cpu = cpu;
  f->plan = plan;
  return &f->base;
}

static void
faulty_enumerate (GPtrArray *devices)
{
  static const TernDevice device = {
    .name = "faulty",
    .backend = "faulty",
    .description = "the CPU, failing on demand",
    .kind = TERN_DEVICE_OTHER,
  };
  g_ptr_array_add (devices, (gpointer) &device);
}

static const TernBackendClass faulty_class = {
  .name = "faulty",
  .enumerate = faulty_enumerate,
  .open = faulty_open,
};

void
faulty_backend_register (void)
{
  tern_backend_register (&faulty_class);
}

void
faulty_backend_plan (gint fail_alloc, gint fail_submit, gint fail_io)
{
  plan = (FaultyPlan) { fail_alloc, fail_submit, fail_io };
}

gint
faulty_backend_n_allocs (void)
{
  return n_allocs;
}
