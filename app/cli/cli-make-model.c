/* SPDX-License-Identifier: GPL-3.0-or-later */
/* tern-cli make-model OUT.gguf --preset NAME --type TYPE --vocab FILE [--seed S] [--threads N]
 *
 * Writes a llama-architecture model with random weights, for benchmarks and
 * tests: the shape of a preset, the tokenizer of a vocabulary file, weights
 * drawn from a normal distribution and quantized tensor by tensor, streamed
 * to the file in chunks of rows so that memory stays bounded whatever the
 * model's size. */
#include "cli.h"

#include <math.h>
#include <string.h>
#include <tern/error.h>
#include <tern/gguf.h>
#include <tern/quant.h>
#include <tern/threadpool.h>
#include <tern/tokenizer.h>

typedef struct {
  const char *name;
  gint32 n_embd, n_layer, n_head, n_head_kv, n_ff, n_ctx;
} Preset;

static const Preset presets[] = {
  /* The shape of llama.cpp's figures in the fixtures' bench.md. */
  { "bench-1b", 2048, 16, 32, 8, 8192, 4096 },
  /* Small enough for tests. */
  { "tiny", 256, 2, 8, 2, 768, 256 },
};

#define WEIGHT_STD 0.02
#define RMS_EPS 1e-5f
#define ROPE_BASE 10000.0f
/* Bytes of quantized rows produced and written at a time. */
#define CHUNK_BYTES (8 << 20)

typedef struct {
  char name[TERN_GGUF_MAX_NAME + 1];
  TernType type;
  guint32 n_dims;
  gint64 ne[2];  /* ne[0]: row length; ne[1]: rows */
  gboolean norm; /* an RMSNorm weight: all ones */
} TensorSpec;

static void
add_spec (GArray *specs, TernType type, gboolean norm, gint64 ne0, gint64 ne1, const char *fmt, ...)
{
  TensorSpec t = { .type = norm ? TERN_TYPE_F32 : type, .n_dims = ne1 > 1 ? 2 : 1, .ne = { ne0, ne1 }, .norm = norm };
  va_list args;

  va_start (args, fmt);
  g_vsnprintf (t.name, sizeof t.name, fmt, args);
  va_end (args);
  g_array_append_val (specs, t);
}

/* Like llama-quantize: the output matrix of a quantized model is Q6_K
 * (except Q8_0, which is kept as it is); a ternary model also keeps its
 * token embeddings in Q4_K, as llama.cpp's TQ1_0/TQ2_0 mixes do. */
static void
mix_types (TernType type, TernType *embd, TernType *output)
{
  gboolean ternary = type == TERN_TYPE_TQ1_0 || type == TERN_TYPE_TQ2_0;
  gboolean floats = type == TERN_TYPE_F32 || type == TERN_TYPE_F16 || type == TERN_TYPE_BF16;

  *embd = ternary ? TERN_TYPE_Q4_K : type;
  *output = floats || type == TERN_TYPE_Q8_0 ? type : TERN_TYPE_Q6_K;
}

/* The tensors of @p in llama.cpp's naming, in the order it writes them. */
static GArray *
model_tensors (const Preset *p, gint64 n_vocab, TernType type)
{
  GArray *specs = g_array_new (FALSE, FALSE, sizeof (TensorSpec));
  gint64 n_embd_kv = (gint64) p->n_head_kv * (p->n_embd / p->n_head);
  TernType embd_type, output_type;

  mix_types (type, &embd_type, &output_type);
  add_spec (specs, embd_type, FALSE, p->n_embd, n_vocab, "token_embd.weight");
  for (gint32 l = 0; l < p->n_layer; l++)
    {
      add_spec (specs, type, TRUE, p->n_embd, 1, "blk.%d.attn_norm.weight", l);
      add_spec (specs, type, FALSE, p->n_embd, p->n_embd, "blk.%d.attn_q.weight", l);
      add_spec (specs, type, FALSE, p->n_embd, n_embd_kv, "blk.%d.attn_k.weight", l);
      add_spec (specs, type, FALSE, p->n_embd, n_embd_kv, "blk.%d.attn_v.weight", l);
      add_spec (specs, type, FALSE, p->n_embd, p->n_embd, "blk.%d.attn_output.weight", l);
      add_spec (specs, type, TRUE, p->n_embd, 1, "blk.%d.ffn_norm.weight", l);
      add_spec (specs, type, FALSE, p->n_embd, p->n_ff, "blk.%d.ffn_gate.weight", l);
      add_spec (specs, type, FALSE, p->n_embd, p->n_ff, "blk.%d.ffn_up.weight", l);
      add_spec (specs, type, FALSE, p->n_ff, p->n_embd, "blk.%d.ffn_down.weight", l);
    }
  add_spec (specs, type, TRUE, p->n_embd, 1, "output_norm.weight");
  add_spec (specs, output_type, FALSE, p->n_embd, n_vocab, "output.weight");
  return specs;
}

/* splitmix64: seeds each row's generator from (seed, tensor, row), so the
 * weights do not depend on the thread count or the chunking. */
static guint64
splitmix64 (guint64 *state)
{
  guint64 z = (*state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/* Fills @row with normal values of standard deviation @std (Box-Muller). */
static void
fill_normal (float *row, gint64 n, double std, guint64 seed)
{
  guint64 state = seed;

  for (gint64 i = 0; i < n; i += 2)
    {
      /* 53-bit uniforms; u1 in (0, 1] so that its log is finite. */
      double u1 = ((splitmix64 (&state) >> 11) + 1) * 0x1.0p-53;
      double u2 = (splitmix64 (&state) >> 11) * 0x1.0p-53;
      double r = std * sqrt (-2.0 * log (u1));
      row[i] = (float) (r * cos (2.0 * G_PI * u2));
      if (i + 1 < n)
        row[i + 1] = (float) (r * sin (2.0 * G_PI * u2));
    }
}

/* A chunk of rows of one tensor, generated and quantized by the pool. */
typedef struct {
  const TensorSpec *t;
  guint64 seed;  /* the tensor's: the model seed mixed with its index */
  gint64 row0;   /* the chunk's first row */
  gint64 n_rows;
  gsize row_bytes;
  TernQuantizeRowFn quantize;
  float *scratch; /* one f32 row per thread */
  guint8 *out;    /* n_rows quantized rows */
} ChunkJob;

static void
chunk_job_run (gpointer data, guint thread, guint n_threads)
{
  ChunkJob *job = data;
  gint64 n = job->t->ne[0];
  float *row = job->scratch + thread * n;
  gint64 start, end;

  tern_split_range (job->n_rows, thread, n_threads, &start, &end);
  for (gint64 r = start; r < end; r++)
    {
      guint64 state = job->seed ^ (guint64) (job->row0 + r);
      if (job->t->norm)
        for (gint64 i = 0; i < n; i++)
          row[i] = 1.0f;
      else
        fill_normal (row, n, WEIGHT_STD, splitmix64 (&state));
      job->quantize (row, job->out + r * job->row_bytes, n);
    }
}

static gboolean
write_tensor (TernGgufWriter *writer, TernThreadPool *pool, const TensorSpec *t, guint64 seed, guint index,
              GError **error)
{
  gsize row_bytes = tern_type_row_bytes (t->type, t->ne[0]);
  gint64 chunk_rows = CLAMP ((gint64) (CHUNK_BYTES / row_bytes), 1, t->ne[1]);
  g_autofree float *scratch = g_new (float, (gsize) t->ne[0] * tern_thread_pool_n_threads (pool));
  g_autofree guint8 *out = g_malloc (row_bytes * chunk_rows);
  guint64 tensor_state = seed + index;
  ChunkJob job = {
    .t = t,
    .seed = splitmix64 (&tensor_state),
    .row_bytes = row_bytes,
    .quantize = tern_quant_quantize_row (t->type),
    .scratch = scratch,
    .out = out,
  };

  for (job.row0 = 0; job.row0 < t->ne[1]; job.row0 += job.n_rows)
    {
      job.n_rows = MIN (chunk_rows, t->ne[1] - job.row0);
      tern_thread_pool_run (pool, chunk_job_run, &job);
      if (!tern_gguf_writer_write (writer, out, row_bytes * job.n_rows, error))
        return FALSE;
    }
  return TRUE;
}

/* Types a weight may be made in: storage types Tern can quantize into. */
static gboolean
type_supported (TernType type)
{
  const TernTypeInfo *info = tern_type_info (type);
  return info && info->storage && tern_quant_quantize_row (type) != NULL;
}

static gboolean
check_shapes (GArray *specs, GError **error)
{
  for (guint i = 0; i < specs->len; i++)
    {
      const TensorSpec *t = &g_array_index (specs, TensorSpec, i);
      if (!type_supported (t->type) || t->ne[0] % tern_type_info (t->type)->block_elems != 0)
        {
          g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_UNSUPPORTED,
                       "%s: rows of %" G_GINT64_FORMAT " elements cannot be stored as %s", t->name, t->ne[0],
                       tern_type_name (t->type));
          return FALSE;
        }
    }
  return TRUE;
}

static void
add_metadata (TernGgufWriter *w, const Preset *p, TernType type, gint64 n_vocab, const TernGguf *vocab)
{
  g_autofree char *name = g_strdup_printf ("tern %s %s (random weights)", p->name, tern_type_name (type));

  tern_gguf_writer_add_string (w, "general.architecture", "llama");
  tern_gguf_writer_add_string (w, "general.name", name);
  tern_gguf_writer_add_uint32 (w, "general.quantization_version", 2);
  tern_gguf_writer_add_uint32 (w, "llama.vocab_size", (guint32) n_vocab);
  tern_gguf_writer_add_uint32 (w, "llama.context_length", p->n_ctx);
  tern_gguf_writer_add_uint32 (w, "llama.embedding_length", p->n_embd);
  tern_gguf_writer_add_uint32 (w, "llama.block_count", p->n_layer);
  tern_gguf_writer_add_uint32 (w, "llama.feed_forward_length", p->n_ff);
  tern_gguf_writer_add_uint32 (w, "llama.rope.dimension_count", p->n_embd / p->n_head);
  tern_gguf_writer_add_uint32 (w, "llama.attention.head_count", p->n_head);
  tern_gguf_writer_add_uint32 (w, "llama.attention.head_count_kv", p->n_head_kv);
  tern_gguf_writer_add_float32 (w, "llama.attention.layer_norm_rms_epsilon", RMS_EPS);
  tern_gguf_writer_add_float32 (w, "llama.rope.freq_base", ROPE_BASE);
  for (gsize i = 0; i < tern_gguf_n_kv (vocab); i++)
    if (g_str_has_prefix (tern_gguf_kv_key (vocab, i), "tokenizer."))
      tern_gguf_writer_add_value (w, tern_gguf_kv_key (vocab, i), tern_gguf_kv_value (vocab, i));
}

static gboolean
make_model (const char *path, const Preset *p, TernType type, const char *vocab_path, guint64 seed,
            guint n_threads, GError **error)
{
  g_autoptr (TernGguf) vocab = tern_gguf_open (vocab_path, error);
  if (vocab == NULL)
    return FALSE;
  /* Only a vocabulary Tern can tokenize with makes a usable model. */
  g_autoptr (TernTokenizer) tok = tern_tokenizer_new (vocab, error);
  if (tok == NULL)
    return FALSE;
  gint64 n_vocab = tern_tokenizer_n_vocab (tok);

  g_autoptr (GArray) specs = model_tensors (p, n_vocab, type);
  if (!check_shapes (specs, error))
    return FALSE;

  g_autoptr (TernGgufWriter) w = tern_gguf_writer_new (path, error);
  if (w == NULL)
    return FALSE;
  add_metadata (w, p, type, n_vocab, vocab);
  for (guint i = 0; i < specs->len; i++)
    {
      const TensorSpec *t = &g_array_index (specs, TensorSpec, i);
      tern_gguf_writer_add_tensor (w, t->name, t->type, t->n_dims, t->ne);
    }
  if (!tern_gguf_writer_begin_data (w, error))
    return FALSE;

  g_autoptr (TernThreadPool) pool = tern_thread_pool_new (n_threads ? n_threads : tern_physical_cores ());
  guint64 n_params = 0, n_bytes = 0;
  for (guint i = 0; i < specs->len; i++)
    {
      const TensorSpec *t = &g_array_index (specs, TensorSpec, i);
      if (!write_tensor (w, pool, t, seed, i, error))
        return FALSE;
      n_params += t->ne[0] * t->ne[1];
      n_bytes += tern_type_row_bytes (t->type, t->ne[0]) * t->ne[1];
    }
  if (!tern_gguf_writer_finish (w, error))
    return FALSE;

  g_print ("%s: %s, %s, %" G_GUINT64_FORMAT " parameters, %.2f MiB of weights\n", path, p->name,
           tern_type_name (type), n_params, n_bytes / (1024.0 * 1024.0));
  return TRUE;
}

int
cli_make_model (int argc, char **argv)
{
  g_autofree char *preset_name = NULL, *type_name = NULL, *vocab = NULL, *seed_s = NULL;
  gint n_threads = 0;
  const GOptionEntry entries[] = {
    { "preset", 0, 0, G_OPTION_ARG_STRING, &preset_name, "The model's shape: bench-1b or tiny", "NAME" },
    { "type", 0, 0, G_OPTION_ARG_STRING, &type_name,
      "Weight type: f32, f16, bf16, q8_0, q4_0, q4_k, q6_k, tq1_0 or tq2_0", "TYPE" },
    { "vocab", 0, 0, G_OPTION_ARG_FILENAME, &vocab, "GGUF file whose tokenizer the model gets", "FILE" },
    { "seed", 0, 0, G_OPTION_ARG_STRING, &seed_s, "Seed of the weights (default 1)", "S" },
    { "threads", 't', 0, G_OPTION_ARG_INT, &n_threads, "Threads (default: one per core)", "N" },
    { NULL },
  };
  g_autoptr (GError) error = NULL;
  const Preset *preset = NULL;
  TernType type;
  guint64 seed = 1;

  if (!cli_parse (&argc, &argv, "OUT.gguf",
                  "Write a llama-architecture model with random weights, for benchmarks and tests.\n"
                  "\n"
                  "Presets (RoPE base 10000, RMSNorm eps 1e-5, separate output matrix):\n"
                  "  bench-1b  embedding 2048, 16 layers, 32 heads, 8 KV heads, feed-forward 8192,\n"
                  "            context 4096 (1.1 B parameters with a 32000-token vocabulary)\n"
                  "  tiny      embedding 256, 2 layers, 8 heads, 2 KV heads, feed-forward 768,\n"
                  "            context 256\n"
                  "\n"
                  "The tokenizer, and so the vocabulary size, is copied from the tokenizer.* keys\n"
                  "of --vocab FILE: use llama.cpp's ggml-vocab-llama-spm.gguf (32000 tokens,\n"
                  "tests/data/vocab/ in Tern's sources) for the shape of llama.cpp's figures.\n"
                  "\n"
                  "Weights are normal with standard deviation 0.02 (norm weights 1), drawn from\n"
                  "the seed, and quantized to TYPE. Like llama-quantize's mixes, the output\n"
                  "matrix is Q6_K for every quantized TYPE but Q8_0, and the ternary types keep\n"
                  "the token embeddings in Q4_K.",
                  entries))
    return CLI_EXIT_USAGE;
  if (argc != 2 || preset_name == NULL || type_name == NULL || vocab == NULL || n_threads < 0)
    {
      g_printerr ("tern-cli make-model: expected OUT.gguf, --preset, --type and --vocab (see --help)\n");
      return CLI_EXIT_USAGE;
    }
  for (guint i = 0; i < G_N_ELEMENTS (presets); i++)
    if (g_strcmp0 (preset_name, presets[i].name) == 0)
      preset = &presets[i];
  if (preset == NULL)
    {
      g_printerr ("tern-cli make-model: unknown preset '%s' (bench-1b or tiny)\n", preset_name);
      return CLI_EXIT_USAGE;
    }
  if (!tern_type_from_name (type_name, &type) || !type_supported (type))
    {
      g_printerr ("tern-cli make-model: cannot make weights of type '%s' (see --help)\n", type_name);
      return CLI_EXIT_USAGE;
    }
  if (seed_s && !g_ascii_string_to_unsigned (seed_s, 10, 0, G_MAXUINT64, &seed, &error))
    {
      g_printerr ("tern-cli make-model: --seed: %s\n", error->message);
      return CLI_EXIT_USAGE;
    }

  if (!make_model (argv[1], preset, type, vocab, seed, n_threads, &error))
    return cli_fail (CLI_EXIT_MODEL, error);
  return CLI_EXIT_OK;
}
