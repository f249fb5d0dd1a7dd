/* SPDX-License-Identifier: GPL-3.0-or-later */
/* tern-cli make-model OUT.gguf --preset NAME --type TYPE --vocab FILE [--seed S] [--threads N]
 *
 * Writes a llama-architecture model with random weights, for benchmarks and
 * tests: the shape of a preset, the tokenizer of a vocabulary file, weights
 * drawn from a normal distribution. The engine's model writer quantizes
 * and streams them in bounded memory, with the types its type policy
 * gives each tensor. */
#include "cli.h"

#include <math.h>
#include <string.h>
#include <tern/error.h>
#include <tern/gguf.h>
#include <tern/model-writer.h>
#include <tern/tokenizer.h>
#include <tern/type-policy.h>

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

/* A tensor of the model, as make-model declares it. */
typedef struct {
  char name[TERN_GGUF_MAX_NAME + 1];
  guint32 n_dims;
  gint64 ne[2];  /* ne[0]: row length; ne[1]: rows */
  gboolean norm; /* an RMSNorm weight: all ones */
} TensorSpec;

static void
add_spec (GArray *specs, gboolean norm, gint64 ne0, gint64 ne1, const char *fmt, ...)
{
  TensorSpec t = { .n_dims = ne1 > 1 ? 2 : 1, .ne = { ne0, ne1 }, .norm = norm };
  va_list args;

  va_start (args, fmt);
  g_vsnprintf (t.name, sizeof t.name, fmt, args);
  va_end (args);
  g_array_append_val (specs, t);
}

/* The tensors of @p in llama.cpp's naming, in the order it writes them. */
static GArray *
model_tensors (const Preset *p, gint64 n_vocab)
{
  GArray *specs = g_array_new (FALSE, FALSE, sizeof (TensorSpec));
  gint64 n_embd_kv = (gint64) p->n_head_kv * (p->n_embd / p->n_head);

  add_spec (specs, FALSE, p->n_embd, n_vocab, "token_embd.weight");
  for (gint32 l = 0; l < p->n_layer; l++)
    {
      add_spec (specs, TRUE, p->n_embd, 1, "blk.%d.attn_norm.weight", l);
      add_spec (specs, FALSE, p->n_embd, p->n_embd, "blk.%d.attn_q.weight", l);
      add_spec (specs, FALSE, p->n_embd, n_embd_kv, "blk.%d.attn_k.weight", l);
      add_spec (specs, FALSE, p->n_embd, n_embd_kv, "blk.%d.attn_v.weight", l);
      add_spec (specs, FALSE, p->n_embd, p->n_embd, "blk.%d.attn_output.weight", l);
      add_spec (specs, TRUE, p->n_embd, 1, "blk.%d.ffn_norm.weight", l);
      add_spec (specs, FALSE, p->n_embd, p->n_ff, "blk.%d.ffn_gate.weight", l);
      add_spec (specs, FALSE, p->n_embd, p->n_ff, "blk.%d.ffn_up.weight", l);
      add_spec (specs, FALSE, p->n_ff, p->n_embd, "blk.%d.ffn_down.weight", l);
    }
  add_spec (specs, TRUE, p->n_embd, 1, "output_norm.weight");
  add_spec (specs, FALSE, p->n_embd, n_vocab, "output.weight");
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

typedef struct {
  const GArray *specs; /* TensorSpec */
  guint64 seed;
} RandomWeights;

/* The model writer's row source: norm weights are ones, the rest normal. */
static void
random_row (gsize tensor, gint64 row, float *out, gpointer data)
{
  const RandomWeights *rw = data;
  const TensorSpec *t = &g_array_index (rw->specs, TensorSpec, tensor);
  guint64 tensor_state = rw->seed + tensor;
  guint64 state = splitmix64 (&tensor_state) ^ (guint64) row;

  if (t->norm)
    for (gint64 i = 0; i < t->ne[0]; i++)
      out[i] = 1.0f;
  else
    fill_normal (out, t->ne[0], WEIGHT_STD, splitmix64 (&state));
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
  g_autoptr (GArray) specs = model_tensors (p, n_vocab);
  RandomWeights weights = { specs, seed };
  TernTypePolicy policy;

  g_autoptr (TernModelWriter) w = tern_model_writer_new (path, n_threads, error);
  if (w == NULL)
    return FALSE;
  add_metadata (tern_model_writer_metadata (w), p, type, n_vocab, vocab);
  tern_type_policy_init (&policy, type);
  for (guint i = 0; i < specs->len; i++)
    {
      const TensorSpec *t = &g_array_index (specs, TensorSpec, i);
      TernType t_type = tern_type_policy_choose (&policy, t->name, t->n_dims);
      if (!tern_model_writer_add_tensor (w, t->name, t_type, t->n_dims, t->ne, error))
        return FALSE;
    }
  if (!tern_model_writer_write (w, random_row, &weights, NULL, NULL, NULL, error))
    return FALSE;

  g_print ("%s: %s, %s, %" G_GUINT64_FORMAT " parameters, %.2f MiB of weights\n", path, p->name,
           tern_type_name (type), tern_model_writer_n_elements (w), tern_model_writer_n_bytes (w) / (1024.0 * 1024.0));
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
  if (!cli_check_threads ("make-model", n_threads))
    return CLI_EXIT_USAGE;
  if (argc != 2 || preset_name == NULL || type_name == NULL || vocab == NULL)
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
  if (!tern_type_from_name (type_name, &type) || !tern_model_writer_type_supported (type))
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
