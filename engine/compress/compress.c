/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Compressing a model to ternary weights: the plan (each tensor's type and
 * place, llama-quantize's), the rows (the input's dequantized, projected
 * by the method) and the report (what each tensor lost). */
#include <tern/compress.h>
#include <tern/error.h>
#include <tern/gguf.h>
#include <tern/model-writer.h>
#include <tern/type-policy.h>

#include <glib/gstdio.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "compress/calibrate.h"
#include "compress/gptq.h"
#include "compress/precision.h"
#include "compress/ternarize.h"
#include "quant/quant.h"

/* llama.cpp's GGML_QNT_VERSION and its file types (llama_ftype). */
#define QUANTIZATION_VERSION 2
#define FILE_TYPE_TQ1_0 36
#define FILE_TYPE_TQ2_0 37
/* GPTQ's damping of the Hessian, times its mean diagonal: the value of its
 * paper, best of 0.003…0.1 on kjv-tiny too. */
#define GPTQ_DAMP 0.01

static const char *const method_names[TERN_COMPRESS_N_METHODS] = { "absmax", "absmean", "twn", "calibrated" };

const char *
tern_compress_method_name (TernCompressMethod method)
{
  g_return_val_if_fail (method < TERN_COMPRESS_N_METHODS, NULL);

  return method_names[method];
}

gboolean
tern_compress_method_from_name (const char *name, TernCompressMethod *out)
{
  for (guint m = 0; m < TERN_COMPRESS_N_METHODS; m++)
    if (g_strcmp0 (name, method_names[m]) == 0)
      {
        *out = m;
        return TRUE;
      }
  return FALSE;
}

void
tern_compress_params_init (TernCompressParams *params)
{
  *params = (TernCompressParams) { .type = TERN_TYPE_TQ2_0, .method = TERN_COMPRESS_TWN };
}

/* One output tensor: where its rows come from and what they lost. */
typedef struct {
  const TernGgufTensor *src;
  TernType out_type;
  gboolean ternary;        /* stored TQ1_0 / TQ2_0 */
  gboolean copied;         /* the input's bytes, as they are */
  gsize in_row_bytes;
  int absmean_ready;       /* atomic: @absmean_scale is set */
  float absmean_scale;
  int group;               /* TernCalibrationGroup of a layer's matrix, or -1 */
  gint32 layer;
  TernTensorRole role;
  double sensitivity;      /* the precision policy's measure, or -1 */
  /* Under the job's lock. */
  double sum_sq, err_sq;
  guint64 zeros;
} Plan;

/* The feedback of one layer input, made by the first row that needs it. */
typedef struct {
  int ready; /* atomic */
  TernGptq *gptq; /* NULL once ready: the Hessian could not be inverted */
} Feedback;

typedef struct {
  TernGguf *in;
  TernCompressMethod method;
  Plan *plans;             /* in the output's order */
  gsize n_plans;
  GMutex lock;
  TernCalibration *calibration; /* CALIBRATED's */
  Feedback *feedback;      /* [layer * TERN_CALIBRATION_N_GROUPS + group] */
  gint32 n_layer;
} Job;

/* llama.cpp's weight_name_comparer: tensors outside the layers first, then
 * layer by layer (by number), by name within each. */
static int
layer_of (const char *name)
{
  int layer = -1;

  if (sscanf (name, "blk.%d.", &layer) != 1)
    return -1;
  return layer;
}

static int
compare_tensors (gconstpointer a, gconstpointer b)
{
  const TernGgufTensor *ta = *(const TernGgufTensor *const *) a;
  const TernGgufTensor *tb = *(const TernGgufTensor *const *) b;
  int la = layer_of (ta->name), lb = layer_of (tb->name);

  if (la != lb)
    return la < lb ? -1 : 1;
  return strcmp (ta->name, tb->name);
}

/* The type llama-quantize gives @t: only matrices named "…weight" are
 * quantized (others keep their type), the embeddings of a model without an
 * output matrix are its output matrix. */
static TernTensorRole
role_of (const TernGguf *in, const TernGgufTensor *t)
{
  TernTensorRole role = tern_tensor_role (t->name, t->n_dims);

  if (role == TERN_TENSOR_ROLE_TOKEN_EMBD && tern_gguf_find_tensor (in, "output.weight") == NULL)
    return TERN_TENSOR_ROLE_OUTPUT;
  return role;
}

static TernType
choose_type (const TernGgufTensor *t, TernTensorRole role, TernType type)
{
  TernTypePolicy policy;

  if (role == TERN_TENSOR_ROLE_VECTOR || !g_str_has_suffix (t->name, "weight"))
    return t->type;
  tern_type_policy_init (&policy, type);
  return tern_type_policy_fit_rows (policy.types[role], role, t->ne[0]);
}

static gboolean
is_ternary (TernType type)
{
  return type == TERN_TYPE_TQ1_0 || type == TERN_TYPE_TQ2_0;
}

static void
set_type (Plan *p, TernType type)
{
  p->out_type = type;
  p->ternary = is_ternary (type);
  p->copied = type == p->src->type;
}

static gboolean
make_plans (Job *job, TernType type, GError **error)
{
  gsize n = tern_gguf_n_tensors (job->in);
  g_autofree const TernGgufTensor **order = g_new (const TernGgufTensor *, MAX (n, 1));

  if (tern_gguf_find (job->in, "general.architecture") == NULL || n == 0)
    {
      g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_FORMAT,
                   "%s: not a model (no general.architecture key or no tensors)", tern_gguf_name (job->in));
      return FALSE;
    }
  for (gsize i = 0; i < n; i++)
    order[i] = tern_gguf_tensor (job->in, i);
  qsort (order, n, sizeof *order, compare_tensors);

  job->plans = g_new0 (Plan, n);
  job->n_plans = n;
  for (gsize i = 0; i < n; i++)
    {
      Plan *p = &job->plans[i];

      p->src = order[i];
      p->role = role_of (job->in, p->src);
      p->sensitivity = -1.0;
      set_type (p, choose_type (p->src, p->role, type));
      p->in_row_bytes = tern_type_row_bytes (p->src->type, p->src->ne[0]);
      p->group = tern_calibration_group_of (p->src->name, &p->layer);
      if (tern_quant_dequant_row (p->src->type) == NULL)
        {
          g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_UNSUPPORTED, "%s: tensor %s is %s, which Tern cannot read",
                       tern_gguf_name (job->in), p->src->name, tern_type_name (p->src->type));
          return FALSE;
        }
    }
  return TRUE;
}

/* Metadata as llama-quantize writes it: the input's keys in order, then
 * the quantization version and the file type. */
static void
copy_metadata (const TernGguf *in, TernGgufWriter *out, TernType type)
{
  tern_gguf_writer_set_alignment (out, tern_gguf_alignment (in));
  for (gsize i = 0; i < tern_gguf_n_kv (in); i++)
    {
      const char *key = tern_gguf_kv_key (in, i);

      if (strcmp (key, "general.file_type") != 0 && strcmp (key, "general.quantization_version") != 0)
        tern_gguf_writer_add_value (out, key, tern_gguf_kv_value (in, i));
    }
  tern_gguf_writer_add_uint32 (out, "general.quantization_version", QUANTIZATION_VERSION);
  tern_gguf_writer_add_uint32 (out, "general.file_type", type == TERN_TYPE_TQ1_0 ? FILE_TYPE_TQ1_0 : FILE_TYPE_TQ2_0);
}

/* The tensor's absmean scale, made by the first row that needs it. */
static float
absmean_scale (Job *job, Plan *p)
{
  if (!g_atomic_int_get (&p->absmean_ready))
    {
      g_mutex_lock (&job->lock);
      if (!p->absmean_ready)
        {
          TernDequantRowFn dequant = tern_quant_dequant_row (p->src->type);
          g_autofree float *row = g_new (float, p->src->ne[0]);
          gint64 n_rows = tern_gguf_tensor_n_elems (p->src) / p->src->ne[0];
          TernAbsmeanScale scale;

          tern_absmean_scale_init (&scale);
          for (gint64 r = 0; r < n_rows; r++)
            {
              dequant ((const guint8 *) p->src->data + r * p->in_row_bytes, row, p->src->ne[0]);
              tern_absmean_scale_add (&scale, row, p->src->ne[0]);
            }
          p->absmean_scale = tern_absmean_scale_get (&scale);
          g_atomic_int_set (&p->absmean_ready, TRUE);
        }
      g_mutex_unlock (&job->lock);
    }
  return p->absmean_scale;
}

/* The feedback of @p's input, or NULL where there is none (a matrix no
 * layer input of the calibration feeds, a Hessian that could not be
 * inverted): TWN rounds those. */
static const TernGptq *
feedback (Job *job, const Plan *p)
{
  Feedback *f;
  const double *h;
  gint64 n_in;

  if (job->calibration == NULL || p->group < 0 || p->layer >= job->n_layer)
    return NULL;
  f = &job->feedback[p->layer * TERN_CALIBRATION_N_GROUPS + p->group];
  if (!g_atomic_int_get (&f->ready))
    {
      g_mutex_lock (&job->lock);
      h = tern_calibration_hessian (job->calibration, p->layer, p->group, &n_in);
      if (!f->ready && h != NULL && n_in == p->src->ne[0])
        f->gptq = tern_gptq_new (h, n_in, GPTQ_DAMP);
      g_atomic_int_set (&f->ready, TRUE);
      g_mutex_unlock (&job->lock);
    }
  return f->gptq;
}

/* Adds the squared norm of @x, of its difference to @y, and @y's zeros. */
static void
measure (const float *x, const float *y, gint64 n, double *sum_sq, double *err_sq, guint64 *zeros)
{
  for (gint64 i = 0; i < n; i++)
    {
      double d = (double) x[i] - (double) y[i];

      *sum_sq += (double) x[i] * x[i];
      *err_sq += d * d;
      *zeros += y[i] == 0.0f;
    }
}

/* Measures what storing @x as @stored lost, 256 weights at a time (every
 * type's blocks fit a 256-weight piece). */
static void
measure_stored (const float *x, const guint8 *stored, gint64 n, TernType type, double *sum_sq, double *err_sq,
                guint64 *zeros)
{
  TernDequantRowFn dequant = tern_quant_dequant_row (type);
  float back[TERN_TERNARY_BLOCK];

  for (gint64 i = 0; i < n; i += TERN_TERNARY_BLOCK)
    {
      gint64 len = MIN (TERN_TERNARY_BLOCK, n - i);

      dequant (stored + tern_type_row_bytes (type, i), back, len);
      measure (x + i, back, len, sum_sq, err_sq, zeros);
    }
}

static void
add_stats (Job *job, Plan *p, double sum_sq, double err_sq, guint64 zeros)
{
  g_mutex_lock (&job->lock);
  p->sum_sq += sum_sq;
  p->err_sq += err_sq;
  p->zeros += zeros;
  g_mutex_unlock (&job->lock);
}

static void
compress_row (gsize tensor, gint64 row, float *out, gpointer data)
{
  Job *job = data;
  Plan *p = &job->plans[tensor];
  gint64 n = p->src->ne[0];

  tern_quant_dequant_row (p->src->type) ((const guint8 *) p->src->data + row * p->in_row_bytes, out, n);
  if (p->ternary && job->method == TERN_COMPRESS_CALIBRATED && feedback (job, p) != NULL)
    {
      g_autofree float *x = g_memdup2 (out, (gsize) n * sizeof *out);
      double sum_sq = 0.0, err_sq = 0.0;
      guint64 zeros = 0;

      tern_gptq_row (feedback (job, p), x, out);
      measure (x, out, n, &sum_sq, &err_sq, &zeros);
      add_stats (job, p, sum_sq, err_sq, zeros);
    }
  else if (p->ternary && job->method != TERN_COMPRESS_ABSMAX)
    {
      double sum_sq = 0.0, err_sq = 0.0;
      guint64 zeros = 0;
      float x[TERN_TERNARY_BLOCK];
      float scale = job->method == TERN_COMPRESS_ABSMEAN ? absmean_scale (job, p) : 0.0f;

      /* The projection is exact in the ternary types: what it gives is
       * what is stored. */
      for (gint64 i = 0; i < n; i += TERN_TERNARY_BLOCK)
        {
          memcpy (x, out + i, sizeof x);
          if (job->method == TERN_COMPRESS_ABSMEAN)
            tern_ternarize_absmean (x, out + i, TERN_TERNARY_BLOCK, scale);
          else
            tern_ternarize_twn (x, out + i, TERN_TERNARY_BLOCK);
          measure (x, out + i, TERN_TERNARY_BLOCK, &sum_sq, &err_sq, &zeros);
        }
      add_stats (job, p, sum_sq, err_sq, zeros);
    }
}

/* Rows the writer quantized as they came (absmax, and the types that are
 * not ternary): what they lost is measured on the bytes written. */
static void
row_stored (gsize tensor, gint64 row, const float *values, const void *stored, gpointer data)
{
  Job *job = data;
  Plan *p = &job->plans[tensor];
  double sum_sq = 0.0, err_sq = 0.0;
  guint64 zeros = 0;

  (void) row;
  if (p->ternary && job->method != TERN_COMPRESS_ABSMAX)
    return;
  measure_stored (values, stored, p->src->ne[0], p->out_type, &sum_sq, &err_sq, &zeros);
  add_stats (job, p, sum_sq, err_sq, zeros);
}

static void
tensor_done (gsize tensor, gpointer data)
{
  Job *job = data;
  Plan *p = &job->plans[tensor];

  /* A ternary tensor copied as it was loses nothing; its zeros still
   * count in the report. */
  if (p->copied && p->ternary)
    {
      g_autofree float *row = g_new (float, p->src->ne[0]);
      gint64 n_rows = tern_gguf_tensor_n_elems (p->src) / p->src->ne[0];

      for (gint64 r = 0; r < n_rows; r++)
        {
          tern_quant_dequant_row (p->src->type) ((const guint8 *) p->src->data + r * p->in_row_bytes, row, p->src->ne[0]);
          measure (row, row, p->src->ne[0], &p->sum_sq, &p->err_sq, &p->zeros);
        }
    }
  tern_gguf_release_tensor (job->in, p->src);
}

static gboolean
same_file (const char *a, const char *b)
{
  GStatBuf sa, sb;

  return g_stat (a, &sa) == 0 && g_stat (b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

static guint64
file_size (const char *path)
{
  GStatBuf st;

  return g_stat (path, &st) == 0 ? (guint64) st.st_size : 0;
}

static TernCompressReport *
make_report (const Job *job, const char *in_path, const char *out_path, const TernCompressParams *params)
{
  TernCompressReport *report = g_new0 (TernCompressReport, 1);
  double sum_sq = 0.0, err_sq = 0.0;
  guint64 ternary_zeros = 0;

  report->in_path = g_strdup (in_path);
  report->out_path = g_strdup (out_path);
  report->type = params->type;
  report->method = params->method;
  report->max_size = params->max_size;
  report->in_size = file_size (in_path);
  report->out_size = file_size (out_path);
  report->tensors = g_array_sized_new (FALSE, TRUE, sizeof (TernCompressTensor), (guint) job->n_plans);
  for (gsize i = 0; i < job->n_plans; i++)
    {
      const Plan *p = &job->plans[i];
      guint64 n = (guint64) tern_gguf_tensor_n_elems (p->src);
      TernCompressTensor t = {
        .name = g_strdup (p->src->name),
        .in_type = p->src->type,
        .out_type = p->out_type,
        .n_elements = n,
        .in_bytes = p->src->n_bytes,
        .out_bytes = (guint64) tern_type_row_bytes (p->out_type, p->src->ne[0]) * (n / (guint64) p->src->ne[0]),
        .sparsity = p->ternary ? (double) p->zeros / (double) n : 0.0,
        .rel_error = p->sum_sq > 0.0 ? sqrt (p->err_sq / p->sum_sq) : 0.0,
        .sensitivity = p->sensitivity,
      };

      g_array_append_val (report->tensors, t);
      report->n_weights += n;
      if (p->src->n_dims >= 2)
        {
          sum_sq += p->sum_sq;
          err_sq += p->err_sq;
        }
      if (p->ternary)
        {
          report->n_ternary += n;
          ternary_zeros += p->zeros;
        }
    }
  report->sparsity = report->n_ternary ? (double) ternary_zeros / (double) report->n_ternary : 0.0;
  report->rel_error = sum_sq > 0.0 ? sqrt (err_sq / sum_sq) : 0.0;
  return report;
}

/* CALIBRATED: the Hessians of every layer's inputs over the text. */
static gboolean
calibrate (Job *job, const char *in_path, const TernCompressParams *params, GCancellable *cancellable,
           GError **error)
{
  if (params->calibration_text == NULL)
    {
      g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_INVALID,
                   "the calibrated method needs a calibration text");
      return FALSE;
    }
  job->calibration = tern_calibration_collect (in_path, params->calibration_text, params->calibration_len,
                                               params->n_threads, cancellable, error);
  if (job->calibration == NULL)
    return FALSE;
  job->n_layer = tern_calibration_n_layer (job->calibration);
  job->feedback = g_new0 (Feedback, (gsize) job->n_layer * TERN_CALIBRATION_N_GROUPS);
  return TRUE;
}

/* The matrices the precision policy chooses for: the ternary ones, and
 * the output matrix from Q4_K. */
static gboolean
is_choice (const Plan *p)
{
  return p->ternary ||
         (p->role == TERN_TENSOR_ROLE_OUTPUT && !p->copied && p->src->ne[0] % tern_type_info (TERN_TYPE_Q4_K)->block_elems == 0);
}

/* The size target: the output matrix starts at Q4_K, and the policy
 * spends what the target leaves. */
static gboolean
fit_size (Job *job, const TernGgufWriter *meta, guint32 alignment, const char *in_path,
          const TernCompressParams *params, GCancellable *cancellable, GError **error)
{
  g_autoptr (GArray) choices = g_array_new (FALSE, FALSE, sizeof (TernPrecisionChoice));
  g_autofree gsize *plan_of = g_new (gsize, MAX (job->n_plans, 1));
  guint64 head = tern_gguf_writer_file_size (meta), data = 0, smallest;

  if (params->calibration_text == NULL)
    {
      g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_INVALID,
                   "a size target needs a calibration text, to measure which matrices matter");
      return FALSE;
    }
  for (gsize i = 0; i < job->n_plans; i++)
    {
      Plan *p = &job->plans[i];

      if (is_choice (p))
        {
          TernPrecisionChoice c = { p->src, p->ternary ? p->out_type : TERN_TYPE_Q4_K, 0.0 };

          set_type (p, c.type);
          plan_of[choices->len] = i;
          g_array_append_val (choices, c);
        }
      head += tern_gguf_tensor_info_size (p->src->name, p->src->n_dims);
      data += (tern_type_row_bytes (p->out_type, p->src->ne[0]) * (guint64) (tern_gguf_tensor_n_elems (p->src) / p->src->ne[0]) +
               alignment - 1) / alignment * alignment;
    }
  smallest = (head + alignment - 1) / alignment * alignment + data;
  if (smallest > params->max_size)
    {
      g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_INVALID,
                   "%s compresses to %" G_GUINT64_FORMAT " bytes at the least (every matrix %s), more than the %"
                   G_GUINT64_FORMAT " asked for",
                   tern_gguf_name (job->in), smallest, tern_type_name (params->type), params->max_size);
      return FALSE;
    }
  if (!tern_precision_choose (in_path, params->calibration_text, params->calibration_len,
                              (TernPrecisionChoice *) choices->data, choices->len, params->max_size - smallest,
                              alignment, params->n_threads, cancellable, error))
    return FALSE;
  for (guint c = 0; c < choices->len; c++)
    {
      const TernPrecisionChoice *choice = &g_array_index (choices, TernPrecisionChoice, c);

      set_type (&job->plans[plan_of[c]], choice->type);
      job->plans[plan_of[c]].sensitivity = choice->sensitivity;
    }
  return TRUE;
}

static void
job_clear (Job *job)
{
  for (gint32 i = 0; job->feedback && i < job->n_layer * TERN_CALIBRATION_N_GROUPS; i++)
    tern_gptq_free (job->feedback[i].gptq);
  g_free (job->feedback);
  tern_calibration_free (job->calibration);
  g_free (job->plans);
  tern_gguf_free (job->in);
  g_mutex_clear (&job->lock);
}

TernCompressReport *
tern_compress (const char *in_path, const char *out_path, const TernCompressParams *params, TernProgressFn progress,
               gpointer progress_data, GCancellable *cancellable, GError **error)
{
  g_autoptr (TernModelWriter) writer = NULL;
  Job job = { 0 };
  TernCompressReport *report = NULL;
  gint64 start = g_get_monotonic_time ();

  g_return_val_if_fail (in_path != NULL && out_path != NULL && params != NULL, NULL);
  g_return_val_if_fail (params->method < TERN_COMPRESS_N_METHODS, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (params->type != TERN_TYPE_TQ1_0 && params->type != TERN_TYPE_TQ2_0)
    {
      g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_UNSUPPORTED,
                   "models are compressed to tq1_0 or tq2_0, not %s", tern_type_name (params->type));
      return NULL;
    }
  if (same_file (in_path, out_path))
    {
      g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_IO,
                   "%s is the model being compressed: choose another file for the result", out_path);
      return NULL;
    }

  g_mutex_init (&job.lock);
  job.method = params->method;
  job.in = tern_gguf_open (in_path, error);
  if (job.in == NULL || !make_plans (&job, params->type, error))
    goto out;

  writer = tern_model_writer_new (out_path, params->n_threads, error);
  if (writer == NULL)
    goto out;
  copy_metadata (job.in, tern_model_writer_metadata (writer), params->type);
  if (params->max_size > 0 && !fit_size (&job, tern_model_writer_metadata (writer), tern_gguf_alignment (job.in),
                                         in_path, params, cancellable, error))
    goto out;
  if (params->method == TERN_COMPRESS_CALIBRATED && !calibrate (&job, in_path, params, cancellable, error))
    goto out;

  for (gsize i = 0; i < job.n_plans; i++)
    {
      const Plan *p = &job.plans[i];
      gboolean ok = p->copied ? tern_model_writer_add_tensor_bytes (writer, p->src->name, p->out_type, p->src->n_dims,
                                                                    p->src->ne, p->src->data, p->src->n_bytes, error)
                              : tern_model_writer_add_tensor (writer, p->src->name, p->out_type, p->src->n_dims,
                                                              p->src->ne, error);
      if (!ok)
        goto out;
    }
  tern_model_writer_set_tensor_done (writer, tensor_done, &job);
  tern_model_writer_set_row_done (writer, row_stored, &job);
  if (!tern_model_writer_write (writer, compress_row, &job, progress, progress_data, cancellable, error))
    goto out;
  /* A file that changed while it was read gave zeros where it shrank. */
  if (!tern_gguf_check_intact (job.in, error))
    {
      g_unlink (out_path);
      goto out;
    }
  report = make_report (&job, in_path, out_path, params);
  report->seconds = (double) (g_get_monotonic_time () - start) / G_USEC_PER_SEC;

out:
  job_clear (&job);
  return report;
}
