/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "faulty-backend.h"

#include <tern/error.h>

#include "backend/backend.h"

typedef struct {
  gint fail_alloc, fail_submit, fail_io;
} FaultyPlan;

typedef struct {
  gint op;
  gboolean cancel;
} StopPlan;

typedef struct {
  TernBackend base;
  TernBackend *cpu;
  FaultyPlan plan;
  StopPlan stop;
  gint n_submits, n_io;
  GError *lost; /* the failure that lost the device */
  GCancellable *cancellable; /* the pass's */
} Faulty;

#define FAULTY(b) ((Faulty *) (b))

static FaultyPlan plan = { -1, -1, -1 };
static StopPlan stop_plan = { -1, FALSE };
static gint n_allocs;
/* Of the last backend opened, read by the test's thread once the engine's
 * is done with it, or while it waits (atomic). */
static gint n_ops, n_ops_stopped;
static gint waiting;

static void
faulty_free (TernBackend *b)
{
  Faulty *f = FAULTY (b);
  f->cpu->ops->free (f->cpu);
  g_clear_object (&f->cancellable);
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
faulty_begin (TernBackend *b, GCancellable *cancellable)
{
  Faulty *f = FAULTY (b);

  g_set_object (&f->cancellable, cancellable);
  f->cpu->ops->begin (f->cpu, cancellable);
}

/* Before each operation: the stop planned, and the count of those recorded
 * once their pass was stopped. */
static void
operation (TernBackend *b)
{
  Faulty *f = FAULTY (b);

  if (n_ops++ == f->stop.op)
    {
      if (f->cancellable == NULL)
        g_error ("operation %d is in a pass that cannot be stopped", f->stop.op);
      if (f->stop.cancel)
        g_cancellable_cancel (f->cancellable);
      else
        {
          g_atomic_int_set (&waiting, TRUE);
          /* A test's main loop may sleep in poll(): wake it to see this. */
          g_main_context_wakeup (NULL);
          while (!g_cancellable_is_cancelled (f->cancellable))
            g_usleep (1000);
          g_atomic_int_set (&waiting, FALSE);
        }
    }
  if (g_cancellable_is_cancelled (f->cancellable))
    n_ops_stopped++;
}

static gboolean
faulty_submit (TernBackend *b, GError **error)
{
  Faulty *f = FAULTY (b);
  GError *stopped = NULL;
  gboolean ran = f->cpu->ops->submit (f->cpu, &stopped);

  g_clear_object (&f->cancellable);
  if (lost (f, &f->n_submits, f->plan.fail_submit, error))
    {
      g_clear_error (&stopped);
      return FALSE;
    }
  if (!ran)
    g_propagate_error (error, stopped);
  return ran;
}

#define CPU(b) (FAULTY (b)->cpu)

static void
faulty_embed (TernBackend *b, const TernToken *tokens, gint32 n, TernBuf *out)
{
  operation (b);
  CPU (b)->ops->embed (CPU (b), tokens, n, out);
}

static void
faulty_rms_norm (TernBackend *b, const TernBuf *x, gint32 n, gint32 layer, TernWeightKind weight, TernBuf *out)
{
  operation (b);
  CPU (b)->ops->rms_norm (CPU (b), x, n, layer, weight, out);
}

static void
faulty_matmul (TernBackend *b, const TernBuf *x, gint32 n, gint32 layer, TernWeightKind weight, TernWeightKind bias,
               TernBuf *out)
{
  operation (b);
  CPU (b)->ops->matmul (CPU (b), x, n, layer, weight, bias, out);
}

static void
faulty_rope (TernBackend *b, TernBuf *x, gint32 n, gint32 n_heads, gint32 pos)
{
  operation (b);
  CPU (b)->ops->rope (CPU (b), x, n, n_heads, pos);
}

static void
faulty_kv_store (TernBackend *b, gint32 layer, const TernBuf *k, const TernBuf *v, gint32 n, gint32 pos)
{
  operation (b);
  CPU (b)->ops->kv_store (CPU (b), layer, k, v, n, pos);
}

static void
faulty_attend (TernBackend *b, gint32 layer, const TernBuf *q, gint32 n, gint32 pos, TernBuf *out)
{
  operation (b);
  CPU (b)->ops->attend (CPU (b), layer, q, n, pos, out);
}

static void
faulty_swiglu (TernBackend *b, TernBuf *gate, const TernBuf *up, gint32 n)
{
  operation (b);
  CPU (b)->ops->swiglu (CPU (b), gate, up, n);
}

static void
faulty_add (TernBackend *b, TernBuf *x, const TernBuf *y, gint32 n)
{
  operation (b);
  CPU (b)->ops->add (CPU (b), x, y, n);
}

static void
faulty_copy_rows (TernBackend *b, const TernBuf *src, gint32 row, gint32 count, TernBuf *dst, gint32 dst_row)
{
  operation (b);
  CPU (b)->ops->copy_rows (CPU (b), src, row, count, dst, dst_row);
}

static void
faulty_kv_move (TernBackend *b, gint32 from, gint32 to, gint32 count)
{
  operation (b);
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
  n_ops = 0;
  n_ops_stopped = 0;
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
  f->stop = stop_plan;
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

void
faulty_backend_plan_stop (gint op, gboolean cancel)
{
  stop_plan = (StopPlan) { op, cancel };
}

gboolean
faulty_backend_waiting (void)
{
  return g_atomic_int_get (&waiting);
}

gint
faulty_backend_n_ops (void)
{
  return n_ops;
}

gint
faulty_backend_n_ops_stopped (void)
{
  return n_ops_stopped;
}
