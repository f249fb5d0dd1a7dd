/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>
#include <tern/model.h>
#include <tern/types.h>

G_BEGIN_DECLS

/* Compressing a model to ternary weights: a GGUF model of any supported
 * tensor type in, a GGUF model whose linear weights are TQ2_0 or TQ1_0 out,
 * with a report of what each tensor lost.
 *
 * The output follows llama-quantize: the same metadata with
 * general.quantization_version and general.file_type set last, tensors in
 * its order (the tensors outside the layers by name, then each layer's by
 * name), token embeddings in Q4_K and the output matrix in Q6_K (the
 * embeddings take the output's type when the model ties them), vectors in
 * F32, and rows that are not whole 256-weight blocks in a type whose blocks
 * fit them. With the ABSMAX method the file is byte for byte
 * llama-quantize's.
 *
 * The file is written tensor by tensor through the model writer (bounded
 * memory: one chunk of rows and one row per thread beyond the input's
 * mapping, whose pages are given back after each tensor), to a temporary
 * file renamed into place when all went well: a failed or cancelled
 * compression leaves nothing at the output path. */

typedef enum {
  /* llama.cpp's rounding: per 256-weight block, the scale is the largest
   * magnitude and each weight rounds to the nearest of -1, 0, 1 times it. */
  TERN_COMPRESS_ABSMAX,
  /* BitNet b1.58's: one scale per tensor, the mean magnitude; each weight
   * rounds to the nearest of -1, 0, 1 times it (clipped). */
  TERN_COMPRESS_ABSMEAN,
  /* Ternary weight networks: per block, the threshold (searched around
   * 0.7 times the block's mean magnitude) and the least-squares scale that
   * minimize the block's squared error. */
  TERN_COMPRESS_TWN,
  /* Calibrated on a text: the inputs each matrix reads there give its
   * Hessian, and GPTQ spreads each weight's rounding error over the
   * weights after it, fitting each block's scale to the inputs'
   * importance (tern_compress_params.calibration_text). */
  TERN_COMPRESS_CALIBRATED,
  TERN_COMPRESS_N_METHODS
} TernCompressMethod;

/* "absmax", "absmean", "twn", "calibrated". */
const char *tern_compress_method_name (TernCompressMethod method);
/* The method named @name; FALSE for an unknown name. */
gboolean tern_compress_method_from_name (const char *name, TernCompressMethod *out);

typedef struct {
  TernType type;             /* TERN_TYPE_TQ2_0 or TERN_TYPE_TQ1_0 */
  TernCompressMethod method;
  guint n_threads;           /* 0: one per physical core */
  /* CALIBRATED's text (UTF-8, not kept), @calibration_len bytes or
   * NUL-terminated when -1: at most TERN_COMPRESS_CALIBRATION_TOKENS of
   * it are read. */
  const char *calibration_text;
  gssize calibration_len;
  /* The size target: the output file's size at most, in bytes (0: none;
   * the types are llama-quantize's). With a target the output matrix
   * starts at Q4_K, and the bytes left under the target keep the
   * matrices where they remove the most damage at Q4_K or Q6_K, by their
   * sensitivity measured on the calibration text (needed then, whatever
   * the method). */
  guint64 max_size;
} TernCompressParams;

/* Tokens of calibration text read at most. */
#define TERN_COMPRESS_CALIBRATION_TOKENS 16384

/* TQ2_0, TWN, one thread per core. */
void tern_compress_params_init (TernCompressParams *params);

/* What one tensor became. */
typedef struct {
  char *name;
  TernType in_type, out_type;
  guint64 n_elements;
  guint64 in_bytes, out_bytes;
  double sparsity;  /* the share of weights stored as zero (ternary types); 0 otherwise */
  double rel_error; /* ‖w − w'‖ / ‖w‖ over the tensor, against the input's values */
  /* With a size target: the mean KL divergence (nats per token) of the
   * model's predictions on the calibration text when this matrix alone is
   * stored small (ternary, or Q4_K for the output); -1 when not measured. */
  double sensitivity;
} TernCompressTensor;

/* What the compression cost, in plain words (tern_compress_evaluate). */
typedef enum {
  TERN_COMPRESS_NOT_EVALUATED,
  TERN_COMPRESS_USABLE,   /* perplexity within 10% of the original's */
  TERN_COMPRESS_DEGRADED, /* within twice the original's */
  TERN_COMPRESS_UNUSABLE, /* more */
} TernCompressVerdict;

/* What a compression made. */
typedef struct {
  char *in_path, *out_path;
  TernType type;
  TernCompressMethod method;
  guint64 max_size;          /* the size target, 0 for none */
  guint64 in_size, out_size; /* the files' sizes in bytes */
  guint64 n_weights;         /* elements of every tensor */
  guint64 n_ternary;         /* elements stored ternary */
  double sparsity;           /* the share of zeros among the ternary weights */
  double rel_error;          /* over every matrix, weighted by its squared norm */
  double seconds;            /* wall time of the compression */
  GArray *tensors;           /* TernCompressTensor, in the output's order */
  /* Set by tern_compress_evaluate. */
  TernCompressVerdict verdict;
  gint32 eval_ctx;           /* tokens per perplexity chunk */
  gint64 eval_tokens;        /* tokens scored */
  double ppl_before, ppl_after;
  double tps_before, tps_after; /* generation, tokens/s */
} TernCompressReport;

void tern_compress_report_free (TernCompressReport *report);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TernCompressReport, tern_compress_report_free)

/* Bits per weight of the output (its size over its weights). */
double tern_compress_report_bits_per_weight (const TernCompressReport *report);

/* The report as a JSON object (a newly allocated string, ending in a
 * newline): the fields above, sizes in bytes, types and the method by
 * name, "tensors" as an array of objects. */
char *tern_compress_report_to_json (const TernCompressReport *report);

/* The verdict in plain words, for people: "usable: within 10% of the
 * original's perplexity" and so on, with the figures. Newly allocated. */
char *tern_compress_report_verdict (const TernCompressReport *report);

/* Perplexity is scored on at most this many tokens of the text. */
#define TERN_COMPRESS_EVAL_MAX_TOKENS 4096
/* Generation speed is timed over this many tokens. */
#define TERN_COMPRESS_EVAL_GENERATE 32

/* Measures what the compression @report describes cost: the perplexity of
 * both models on @text (@len bytes, or NUL-terminated when -1: held-out
 * text, never the calibration text), as llama-perplexity scores it in
 * chunks of half the model's training context (at most 512 tokens) over at most
 * TERN_COMPRESS_EVAL_MAX_TOKENS tokens, and their generation speed over
 * TERN_COMPRESS_EVAL_GENERATE tokens on @n_threads threads (0: one per
 * core); then sets the verdict from the ratio of the perplexities. Each
 * model is loaded in turn. @progress gets the share done; @cancellable
 * stops it (CANCELLED). Errors: those of loading a model and of
 * perplexity (INVALID for a text shorter than one chunk). On error the
 * report is left as it was. Any thread; blocks. */
gboolean tern_compress_evaluate (TernCompressReport *report, const char *text, gssize len, guint n_threads,
                                 TernProgressFn progress, gpointer progress_data, GCancellable *cancellable,
                                 GError **error);

/* Compresses the model at @in_path into @out_path as @params say. The
 * input is checked as a model is when it loads (every tensor against the
 * file) before anything is written. @progress (may be NULL) is called on
 * the calling thread with the share of the output written; @cancellable
 * stops the work between chunks of rows (CANCELLED). Errors: IO or
 * FORMAT for the input, UNSUPPORTED for a @params type that is not
 * ternary or a tensor that cannot be converted, INVALID for a size target
 * below the smallest the model compresses to (every matrix small) or
 * without a calibration text, IO for the output (a full disk), NOMEM. On
 * any error nothing is left at @out_path.
 *
 * Returns the report (free with tern_compress_report_free), or NULL. Any
 * thread; the call blocks until the file is written. */
TernCompressReport *tern_compress (const char *in_path, const char *out_path, const TernCompressParams *params,
                                   TernProgressFn progress, gpointer progress_data, GCancellable *cancellable,
                                   GError **error);

G_END_DECLS
