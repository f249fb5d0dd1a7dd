/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <tern/context.h>
#include <tern/error.h>
#include "core/threadpool.h"

#include <math.h>
#include <string.h>
#include <unistd.h>

#include "backend/backend.h"
#include "forward.h"

struct TernContext {
  TernModel *model;
  const TernHParams *hp;
  TernBackend *backend;
  TernBackendParams backend_params;
  char *device;          /* the name of the device asked for */
  char *fallback;        /* why it runs on the CPU though asked for a GPU */
  TernForwardBuffers bufs;
  gint32 n_ctx;
  gint32 n_batch;
  guint n_threads;
  GArray *tokens;        /* TernToken: what the cache holds */

  TernType kv_type;
  float *logits;         /* [n_logit_rows][n_vocab] of the last decode */
  gsize logits_capacity; /* in rows */
  gint32 first_logit;    /* the decode index of row 0 */
  gint32 n_logit_rows;
};

void
tern_context_params_init (TernContextParams *params)
{
  memset (params, 0, sizeof *params);
  params->n_batch = 512;
  params->kv_type = TERN_TYPE_F16;
  params->kernel = TERN_KERNEL_BEST;
}

/* Bytes of a context's KV cache and of the buffers of a pass, whatever
 * the device: what a user short of memory weighs against the context. */
static guint64
context_bytes (const TernHParams *hp, gint32 n_ctx, gint32 n_batch, TernType kv_type)
{
  guint64 kv_dim = (guint64) hp->n_head_kv * hp->head_dim, q_dim = (guint64) hp->n_head * hp->head_dim;
  guint64 kv = 2 * (guint64) hp->n_layer * n_ctx * kv_dim * (kv_type == TERN_TYPE_F16 ? 2 : 4);
  guint64 pass = (guint64) n_batch * sizeof (float) * (3 * hp->n_embd + 2 * q_dim + 2 * kv_dim + 2 * hp->n_ff +
                                                       hp->n_vocab);
  return kv + pass;
}

/* Memory available to a new context now: MemAvailable of Linux (free
 * memory plus caches that can be dropped), else the free pages. */
static guint64
memory_available (void)
{
  g_autofree char *meminfo = NULL;
  const char *line;

  if (g_file_get_contents ("/proc/meminfo", &meminfo, NULL, NULL) &&
      (line = strstr (meminfo, "MemAvailable:")) != NULL)
    return g_ascii_strtoull (line + strlen ("MemAvailable:"), NULL, 10) * 1024;
  return (guint64) sysconf (_SC_AVPHYS_PAGES) * (guint64) sysconf (_SC_PAGESIZE);
}

/* Granularity of an automatic context size cut down to fit in memory. */
#define AUTO_CTX_STEP 256

/* The automatic context size: the training length, or the most tokens (a
 * multiple of AUTO_CTX_STEP) whose cache and buffers fit in @limit bytes.
 * Never less than one step: a context that cannot have that fails later
 * with NOMEM, saying how much it needs. */
static gint32
automatic_n_ctx (const TernHParams *hp, gint32 n_ctx, gint32 n_batch, TernType kv_type, guint64 limit)
{
  if (context_bytes (hp, n_ctx, MIN (n_batch, n_ctx), kv_type) <= limit || n_ctx <= AUTO_CTX_STEP)
    return n_ctx;
  guint64 fixed = context_bytes (hp, 0, n_batch, kv_type), per_token = context_bytes (hp, 1, 0, kv_type);
  guint64 fit = limit > fixed ? (limit - fixed) / per_token : 0;
  return MAX ((gint32) MIN (fit, (guint64) n_ctx) / AUTO_CTX_STEP * AUTO_CTX_STEP, AUTO_CTX_STEP);
}

/* Makes the context's backend on device @name and its buffers. */
static gboolean
open_backend (TernContext *ctx, const char *name, GError **error)
{
  ctx->backend = tern_backend_new (name, &ctx->backend_params, error);
  if (ctx->backend == NULL)
    return FALSE;
  if (tern_forward_buffers_init (&ctx->bufs, ctx->backend, ctx->hp, ctx->n_batch, error))
    return TRUE;
  ctx->backend->ops->free (ctx->backend);
  ctx->backend = NULL;
  return FALSE;
}

/* Whether the failure @error of device @name leaves the CPU to compute
 * on: that of a GPU ("vulkan", "vulkan:1"), which may also be gone (a GPU
 * unplugged, its driver removed). */
static gboolean
can_fall_back (const char *name, const GError *error)
{
  return name != NULL && tern_device_name_is_gpu (name)
         && !g_error_matches (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_CANCELLED);
}

static void
set_fallback (TernContext *ctx, const char *name, const GError *why)
{
  g_free (ctx->fallback);
  ctx->fallback = g_strdup_printf ("%s could not be used: %s", name, why->message);
  g_info ("computing on the CPU: %s", ctx->fallback);
}

TernContext *
tern_context_new (TernModel *model, const TernContextParams *params, GError **error)
{
  const TernHParams *hp = tern_model_hparams (model);
  gint32 n_ctx = params->n_ctx > 0 ? params->n_ctx : hp->n_ctx_train;

  if (params->n_ctx < 0 || params->n_ctx_max < 0 || params->memory_limit < 0 || params->n_batch <= 0 ||
      (params->kv_type != TERN_TYPE_F16 && params->kv_type != TERN_TYPE_F32) || params->n_threads > TERN_CONTEXT_MAX_THREADS)
    {
      g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_INVALID,
                   "invalid context settings (context %d, cap %d, batch %d, %s cache, %u threads)", params->n_ctx,
                   params->n_ctx_max, params->n_batch, tern_type_name (params->kv_type), params->n_threads);
      return NULL;
    }
  if (!tern_cpu_supports_kernel (params->kernel))
    {
      g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_UNSUPPORTED, "this CPU cannot run %s kernels",
                   tern_kernel_level_name (params->kernel));
      return NULL;
    }
  if (params->n_ctx_max > 0)
    n_ctx = MIN (n_ctx, params->n_ctx_max);
  if (params->n_ctx == 0)
    n_ctx = automatic_n_ctx (hp, n_ctx, params->n_batch, params->kv_type,
                             params->memory_limit > 0 ? (guint64) params->memory_limit : memory_available () / 2);

  TernContext *ctx = g_new0 (TernContext, 1);
  ctx->model = model;
  ctx->hp = hp;
  ctx->n_ctx = n_ctx;
  ctx->n_batch = MIN (params->n_batch, n_ctx);
  ctx->n_threads = params->n_threads > 0 ? params->n_threads : tern_physical_cores ();
  ctx->kv_type = params->kv_type;
  ctx->tokens = g_array_new (FALSE, FALSE, sizeof (TernToken));

  ctx->backend_params = (TernBackendParams) {
    .weights = tern_model_weights (model),
    .n_ctx = n_ctx,
    .kv_type = params->kv_type,
    .kernel = params->kernel,
    .n_threads = ctx->n_threads,
  };
  GError *local = NULL;
  ctx->device = g_strdup (params->backend != NULL ? params->backend : "cpu");
  if (!open_backend (ctx, params->backend, &local) && can_fall_back (params->backend, local))
    {
      set_fallback (ctx, params->backend, local);
      g_clear_error (&local);
      open_backend (ctx, "cpu", &local);
    }
  if (local != NULL)
    {
      /* Whichever allocation failed, the size asked for is the cause. */
      if (g_error_matches (local, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_NOMEM))
        {
          g_autofree char *size = g_format_size_full (context_bytes (hp, n_ctx, ctx->n_batch, ctx->kv_type),
                                                      G_FORMAT_SIZE_IEC_UNITS);
          g_clear_error (&local);
          /* Threads take memory too (their stacks), which only matters
           * where more than the default were asked for. */
          g_set_error (&local, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_NOMEM,
                       "not enough memory for a context of %d tokens (needs %s): choose a smaller context%s", n_ctx,
                       size, ctx->n_threads > tern_physical_cores () ? " or fewer threads" : "");
        }
      g_propagate_error (error, local);
      tern_context_free (ctx);
      return NULL;
    }
  return ctx;
}

void
tern_context_free (TernContext *ctx)
{
  if (ctx == NULL)
    return;
  if (ctx->backend != NULL)
    {
      tern_forward_buffers_clear (&ctx->bufs, ctx->backend);
      ctx->backend->ops->free (ctx->backend);
    }
  g_array_unref (ctx->tokens);
  g_free (ctx->logits);
  g_free (ctx->fallback);
  g_free (ctx->device);
  g_free (ctx);
}

TernModel *tern_context_model (const TernContext *ctx) { return ctx->model; }
gint32 tern_context_n_ctx (const TernContext *ctx) { return ctx->n_ctx; }
guint tern_context_n_threads (const TernContext *ctx) { return ctx->n_threads; }
gint32 tern_context_n_past (const TernContext *ctx) { return (gint32) ctx->tokens->len; }

const char *
tern_context_backend_name (const TernContext *ctx)
{
  return ctx->backend->ops->name (ctx->backend);
}

const char *
tern_context_backend_fallback (const TernContext *ctx)
{
  return ctx->fallback;
}

const TernToken *
tern_context_tokens (const TernContext *ctx, gint32 *n_tokens)
{
  *n_tokens = (gint32) ctx->tokens->len;
  return (const TernToken *) ctx->tokens->data;
}

static gboolean
check_tokens (const TernContext *ctx, const TernToken *tokens, gint32 n_tokens, GError **error)
{
  if (n_tokens <= 0)
    {
      g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_INVALID, "nothing to evaluate: no tokens");
      return FALSE;
    }
  if (n_tokens > ctx->n_ctx - (gint32) ctx->tokens->len)
    {
      g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_INVALID,
                   "%d tokens do not fit: the context holds %d and has %d free", n_tokens, ctx->n_ctx,
                   ctx->n_ctx - (gint32) ctx->tokens->len);
      return FALSE;
    }
  for (gint32 i = 0; i < n_tokens; i++)
    if (tokens[i] < 0 || tokens[i] >= ctx->hp->n_vocab)
      {
        g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_INVALID,
                     "token id %d is outside the vocabulary of %d", tokens[i], ctx->hp->n_vocab);
        return FALSE;
      }
  return TRUE;
}

/* The index of the first row of @logits (@n_rows of @n_vocab) holding a NaN
 * or an infinity, or -1: a damaged model's, as no sound one computes them. */
static gint32
first_non_finite_row (const float *logits, gint32 n_rows, gint32 n_vocab)
{
  for (gint32 r = 0; r < n_rows; r++)
    for (gint32 i = 0; i < n_vocab; i++)
      if (!isfinite (logits[(gsize) r * n_vocab + i]))
        return r;
  return -1;
}

static gboolean
decode (TernContext *ctx, const TernToken *tokens, gint32 n_tokens, gboolean all_logits, TernProgressFn progress,
        gpointer user_data, GCancellable *cancellable, GError **error)
{
  const TernBackendOps *ops = ctx->backend->ops;
  gint32 n_vocab = ctx->hp->n_vocab;
  gsize rows = all_logits ? (gsize) n_tokens : 1;

  if (!check_tokens (ctx, tokens, n_tokens, error))
    return FALSE;
  if (rows > ctx->logits_capacity)
    {
      float *logits = g_try_malloc_n (rows * n_vocab, sizeof (float));
      if (logits == NULL)
        {
          g_autofree char *size = g_format_size_full ((guint64) rows * n_vocab * sizeof (float),
                                                      G_FORMAT_SIZE_IEC_UNITS);
          g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_NOMEM,
                       "not enough memory for the logits of %d tokens (needs %s): evaluate fewer at once", n_tokens,
                       size);
          return FALSE;
        }
      g_free (ctx->logits);
      ctx->logits = logits;
      ctx->logits_capacity = rows;
    }
  ctx->first_logit = all_logits ? 0 : n_tokens - 1;
  ctx->n_logit_rows = 0;

  for (gint32 done = 0; done < n_tokens;)
    {
      gint32 n = MIN (ctx->n_batch, n_tokens - done);
      gboolean last = done + n == n_tokens;
      gint32 n_logits = all_logits ? n : (last ? 1 : 0);

      /* A stopped pass leaves the tokens before it in the cache, and the
       * positions it wrote past them to be written again. */
      if (!tern_forward (ctx->backend, tern_model_weights (ctx->model), &ctx->bufs, tokens + done, n,
                         (gint32) ctx->tokens->len, n_logits, cancellable, error))
        {
          ctx->n_logit_rows = 0;
          return FALSE;
        }
      /* The host waits for the device only here, where it reads. */
      if (n_logits > 0)
        {
          float *read = ctx->logits + (gsize) ctx->n_logit_rows * n_vocab;
          gint32 bad;
          if (!ops->read (ctx->backend, ctx->bufs.logits, 0, n_logits, read, error))
            return FALSE;
          bad = first_non_finite_row (read, n_logits, n_vocab);
          if (bad >= 0)
            {
              ctx->n_logit_rows = 0;
              g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_FORMAT,
                           "the model computed a non-finite value (NaN or infinity) for token %d of %d: "
                           "the model file is damaged", done + n - n_logits + bad + 1, n_tokens);
              return FALSE;
            }
          ctx->n_logit_rows += n_logits;
        }
      g_array_append_vals (ctx->tokens, tokens + done, n);
      done += n;
      if (progress)
        progress ((double) done / n_tokens, user_data);
    }
  return TRUE;
}

/* Moves the context to the CPU after its GPU failed with @why: a CPU
 * backend, and the tokens of the cache evaluated again there. */
static gboolean
move_to_cpu (TernContext *ctx, const GError *why, GCancellable *cancellable, GError **error)
{
  g_autoptr (GArray) held = g_array_copy (ctx->tokens);

  tern_forward_buffers_clear (&ctx->bufs, ctx->backend);
  ctx->backend->ops->free (ctx->backend);
  ctx->backend = NULL;
  set_fallback (ctx, ctx->device, why);
  g_array_set_size (ctx->tokens, 0);
  if (!open_backend (ctx, "cpu", error))
    return FALSE;
  return held->len == 0 || decode (ctx, (const TernToken *) held->data, held->len, FALSE, NULL, NULL, cancellable,
                                   error);
}

gboolean
tern_context_decode (TernContext *ctx, const TernToken *tokens, gint32 n_tokens, gboolean all_logits,
                     TernProgressFn progress, gpointer user_data, GCancellable *cancellable, GError **error)
{
  g_autoptr (GError) local = NULL;
  gint32 n_before = (gint32) ctx->tokens->len;

  if (decode (ctx, tokens, n_tokens, all_logits, progress, user_data, cancellable, &local))
    return TRUE;
  /* A GPU lost, or out of memory, in the middle of a decode. */
  if (ctx->fallback != NULL || !can_fall_back (ctx->device, local)
      || !(g_error_matches (local, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_DEVICE)
           || g_error_matches (local, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_NOMEM)))
    {
      g_propagate_error (error, g_steal_pointer (&local));
      return FALSE;
    }
  /* The batches of this decode that were done are evaluated again too. */
  g_array_set_size (ctx->tokens, n_before);
  return move_to_cpu (ctx, local, cancellable, error)
         && decode (ctx, tokens, n_tokens, all_logits, progress, user_data, cancellable, error);
}

gboolean
tern_context_collect_inputs (TernContext *ctx, const TernToken *tokens, gint32 n_tokens, TernInputsFn fn,
                             gpointer user_data, GCancellable *cancellable, GError **error)
{
  const TernHParams *hp = ctx->hp;
  gint64 widest = MAX (MAX ((gint64) hp->n_embd, (gint64) hp->n_head * hp->head_dim), (gint64) hp->n_ff);
  g_autofree float *rows = NULL;
  TernForwardTap tap = { .fn = fn, .user_data = user_data };

  g_return_val_if_fail (ctx != NULL && fn != NULL, FALSE);

  if (!check_tokens (ctx, tokens, n_tokens, error))
    return FALSE;
  rows = g_try_malloc_n ((gsize) MIN (ctx->n_batch, n_tokens) * (gsize) widest, sizeof (float));
  if (rows == NULL)
    {
      g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_NOMEM,
                   "not enough memory for the inputs of %d tokens: evaluate fewer at once", n_tokens);
      return FALSE;
    }
  tap.rows = rows;
  /* No logits are kept: those of the last decode are gone. */
  ctx->n_logit_rows = 0;
  for (gint32 done = 0; done < n_tokens;)
    {
      gint32 n = MIN (ctx->n_batch, n_tokens - done);

      if (!tern_forward_tapped (ctx->backend, tern_model_weights (ctx->model), &ctx->bufs, tokens + done, n,
                                (gint32) ctx->tokens->len, 0, &tap, cancellable, error))
        return FALSE;
      g_array_append_vals (ctx->tokens, tokens + done, n);
      done += n;
    }
  return TRUE;
}

const float *
tern_context_logits (const TernContext *ctx, gint32 i)
{
  g_assert (i >= ctx->first_logit && i < ctx->first_logit + ctx->n_logit_rows);
  return ctx->logits + (gsize) (i - ctx->first_logit) * ctx->hp->n_vocab;
}

const float *
tern_context_last_logits (const TernContext *ctx)
{
  g_assert (ctx->n_logit_rows > 0);
  return ctx->logits + (gsize) (ctx->n_logit_rows - 1) * ctx->hp->n_vocab;
}

void
tern_context_truncate (TernContext *ctx, gint32 n_keep)
{
  g_assert (n_keep >= 0);
  if ((guint) n_keep < ctx->tokens->len)
    {
      /* The logits belonged to a token that is gone. */
      g_array_set_size (ctx->tokens, n_keep);
      ctx->n_logit_rows = 0;
    }
}

gint32
tern_context_shift (TernContext *ctx, gint32 n_keep)
{
  gint32 n_past = (gint32) ctx->tokens->len;

  n_keep = CLAMP (n_keep, 0, n_past);
  gint32 n_discard = (n_past - n_keep) / 2;
  if (n_discard == 0)
    return 0;
  gint32 n_move = n_past - n_keep - n_discard;
  if (n_move > 0)
    {
      TernBackend *b = ctx->backend;
      b->ops->begin (b, NULL);
      b->ops->kv_move (b, n_keep + n_discard, n_keep, n_move);
      /* A backend that fails here fails every later pass and read too
       * (backend.h): the next decode or save reports it. */
      b->ops->submit (b, NULL);
    }
  g_array_remove_range (ctx->tokens, n_keep, n_discard);
  return n_discard;
}

/* State stream: header, tokens, logits of the last token (when any), then
 * each layer's keys and values. */

#define STATE_MAGIC "TCTX"
#define STATE_VERSION 1

typedef struct {
  char magic[4];
  guint32 version;
  guint32 n_ctx;
  guint32 kv_type;
  guint32 n_layer;
  guint32 kv_dim;
  guint32 n_vocab;
  guint32 n_past;
  guint32 has_logits;
  guint32 reserved;
} StateHeader;

G_STATIC_ASSERT (sizeof (StateHeader) == 40);

static gsize
kv_layer_bytes (const TernContext *ctx, gint32 n)
{
  gsize elem = ctx->kv_type == TERN_TYPE_F16 ? 2 : 4;
  return (gsize) n * ctx->hp->n_head_kv * ctx->hp->head_dim * elem;
}

/* The host copies of one layer's keys and values, on their way to or from
 * the stream. */
static gboolean
alloc_layer_buffers (gsize layer_bytes, guint8 **k, guint8 **v, GError **error)
{
  *k = g_try_malloc (MAX (layer_bytes, 1));
  *v = g_try_malloc (MAX (layer_bytes, 1));
  if (*k == NULL || *v == NULL)
    {
      g_clear_pointer (k, g_free);
      g_clear_pointer (v, g_free);
      g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_NOMEM,
                   "not enough memory to copy a layer's cache (%" G_GSIZE_FORMAT " MiB)", 2 * layer_bytes >> 20);
      return FALSE;
    }
  return TRUE;
}

gsize
tern_context_state_size (const TernContext *ctx)
{
  gint32 n = (gint32) ctx->tokens->len;
  gsize logits = ctx->n_logit_rows > 0 ? sizeof (float) * ctx->hp->n_vocab : 0;
  return sizeof (StateHeader) + sizeof (guint32) * n + logits + 2 * ctx->hp->n_layer * kv_layer_bytes (ctx, n);
}

/* Values are stored little-endian; Tern's targets are little-endian
 * machines, which this checks at build time. */
G_STATIC_ASSERT (G_BYTE_ORDER == G_LITTLE_ENDIAN);

gboolean
tern_context_save_state (const TernContext *ctx, TernStreamWriteFn write, gpointer user_data, GError **error)
{
  gint32 n = (gint32) ctx->tokens->len;
  StateHeader h = { STATE_MAGIC, STATE_VERSION, ctx->n_ctx, ctx->kv_type, ctx->hp->n_layer,
                    ctx->hp->n_head_kv * ctx->hp->head_dim, ctx->hp->n_vocab, n, ctx->n_logit_rows > 0, 0 };
  gsize layer_bytes = kv_layer_bytes (ctx, n);
  g_autofree guint8 *k = NULL, *v = NULL;

  if (!alloc_layer_buffers (layer_bytes, &k, &v, error))
    return FALSE;
  if (!write (&h, sizeof h, user_data, error) || !write (ctx->tokens->data, sizeof (guint32) * n, user_data, error))
    return FALSE;
  if (h.has_logits && !write (tern_context_last_logits (ctx), sizeof (float) * ctx->hp->n_vocab, user_data, error))
    return FALSE;
  for (gint32 l = 0; l < ctx->hp->n_layer; l++)
    if (!ctx->backend->ops->kv_save (ctx->backend, l, n, k, v, error) || !write (k, layer_bytes, user_data, error)
        || !write (v, layer_bytes, user_data, error))
      return FALSE;
  return TRUE;
}

static gboolean
read_state (TernContext *ctx, TernStreamReadFn read, gpointer user_data, GError **error)
{
  StateHeader h;
  guint32 kv_dim = ctx->hp->n_head_kv * ctx->hp->head_dim;

  if (!read (&h, sizeof h, user_data, error))
    return FALSE;
  if (memcmp (h.magic, STATE_MAGIC, 4) != 0)
    {
      g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_FORMAT, "not a context state");
      return FALSE;
    }
  if (h.version != STATE_VERSION || h.n_ctx != (guint32) ctx->n_ctx || h.kv_type != ctx->kv_type ||
      h.n_layer != (guint32) ctx->hp->n_layer || h.kv_dim != kv_dim || h.n_vocab != (guint32) ctx->hp->n_vocab)
    {
      g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_MISMATCH,
                   "the saved state (format %u, context %u, %s cache, %u layers of %u, vocabulary %u) does not fit "
                   "this context (format %d, context %d, %s cache, %d layers of %u, vocabulary %d)",
                   h.version, h.n_ctx, tern_type_name (h.kv_type), h.n_layer, h.kv_dim, h.n_vocab, STATE_VERSION,
                   ctx->n_ctx, tern_type_name (ctx->kv_type), ctx->hp->n_layer, kv_dim, ctx->hp->n_vocab);
      return FALSE;
    }
  if (h.n_past > h.n_ctx || h.has_logits > 1 || (h.has_logits && h.n_past == 0))
    {
      g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_FORMAT, "the saved state is inconsistent");
      return FALSE;
    }

  gint32 n = (gint32) h.n_past;
  g_array_set_size (ctx->tokens, n);
  if (!read (ctx->tokens->data, sizeof (guint32) * n, user_data, error))
    return FALSE;
  for (gint32 i = 0; i < n; i++)
    if (g_array_index (ctx->tokens, TernToken, i) < 0 || g_array_index (ctx->tokens, TernToken, i) >= ctx->hp->n_vocab)
      {
        g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_FORMAT, "the saved state holds an invalid token");
        return FALSE;
      }
  if (h.has_logits)
    {
      if (ctx->logits_capacity < 1)
        {
          ctx->logits = g_try_new (float, ctx->hp->n_vocab);
          if (ctx->logits == NULL)
            {
              g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_NOMEM, "not enough memory for the logits");
              return FALSE;
            }
          ctx->logits_capacity = 1;
        }
      if (!read (ctx->logits, sizeof (float) * ctx->hp->n_vocab, user_data, error))
        return FALSE;
      ctx->first_logit = n - 1;
      ctx->n_logit_rows = 1;
    }

  gsize layer_bytes = kv_layer_bytes (ctx, n);
  g_autofree guint8 *k = NULL, *v = NULL;
  if (!alloc_layer_buffers (layer_bytes, &k, &v, error))
    return FALSE;
  for (gint32 l = 0; l < ctx->hp->n_layer; l++)
    if (!read (k, layer_bytes, user_data, error) || !read (v, layer_bytes, user_data, error)
        || !ctx->backend->ops->kv_load (ctx->backend, l, n, k, v, error))
      return FALSE;
  return TRUE;
}

gboolean
tern_context_load_state (TernContext *ctx, TernStreamReadFn read, gpointer user_data, GError **error)
{
  ctx->n_logit_rows = 0;
  if (read_state (ctx, read, user_data, error))
    return TRUE;
  g_array_set_size (ctx->tokens, 0);
  ctx->n_logit_rows = 0;
  return FALSE;
}
