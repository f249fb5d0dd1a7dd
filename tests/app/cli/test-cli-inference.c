/* SPDX-License-Identifier: GPL-3.0-or-later */
/* tern-cli's inference commands (generate, chat, template, logits,
 * perplexity, bench, make-model) driven as scripts drive them, against llama.cpp's reference
 * data for the fixture models. */
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <tern/context.h>
#include <tern/model.h>
#include <tern/tokenizer.h>

#include "cli-run.h"
#include "model-variant.h"
#include "test-data.h"


static char *
data_path (const char *dir, const char *file)
{
  return g_test_build_filename (G_TEST_DIST, "data", dir, file, NULL);
}

/* A JSON file of tests/data/reference: fixture model @model's ("kjv-tiny-f32"),
 * or Tern's measured tolerances ("tern-measured"). */
static JsonObject *
load_reference (const char *model)
{
  g_autofree char *name = g_strconcat (model, ".json", NULL);
  g_autofree char *path = data_path ("reference", name);
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;

  json_parser_load_from_file (parser, path, &error);
  g_assert_no_error (error);
  return json_object_ref (json_node_get_object (json_parser_get_root (parser)));
}

static char *
model_path (const char *model)
{
  g_autofree char *name = g_strconcat (model, ".gguf", NULL);
  return data_path ("models", name);
}

/* Splits "1 2 3\n" into token ids. */
static GArray *
parse_ids (const char *text)
{
  GArray *ids = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_auto (GStrv) words = g_strsplit_set (text, " \n", -1);

  for (guint i = 0; words[i]; i++)
    if (words[i][0] != '\0')
      {
        gint64 id;
        g_assert_true (g_ascii_string_to_signed (words[i], 10, 0, G_MAXINT32, &id, NULL));
        g_array_append_val (ids, id);
      }
  return ids;
}

/* Every command answers --help on stdout with status 0, and a command line
 * it cannot use with status 1. */
static void
test_usage (void)
{
  g_autofree char *model = model_path ("kjv-tiny-f32");
  g_autofree char *text = data_path ("text", "prompt_greedy.txt");
  const char *commands[] = { "generate", "chat", "template", "logits", "perplexity", "bench", "make-model" };

  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    {
      g_auto (RunResult) r = { 0 };
      run_cli (&r, commands[i], "--help", NULL);
      g_assert_cmpint (r.status, ==, 0);
      g_assert_nonnull (strstr (r.out, "Usage:"));
    }

  const char *const bad[][8] = {
    { "generate", model, NULL },                                       /* no prompt */
    { "generate", model, "--prompt", "a", "--file", text, NULL },      /* both */
    { "generate", "--prompt", "a", NULL },                             /* no model */
    { "generate", model, "--prompt", "a", "-n", "-1", NULL },
    { "generate", model, "--prompt", "a", "--top-p", "2", NULL },
    { "generate", model, "--prompt", "a", "--seed", "x", NULL },
    { "generate", model, "--prompt", "a", "--no-such-option", NULL },
    { "chat", NULL },
    { "template", model, NULL },                                       /* no --messages */
    { "template", "--messages", text, NULL },                          /* no template */
    { "logits", model, "--file", text, NULL },                         /* no --out */
    { "perplexity", model, NULL },
    { "bench", model, "-r", "0", NULL },
    { "make-model", "/nonexistent/x.gguf", "--preset", "huge", "--type", "f32", "--vocab", text },
    { "make-model", "/nonexistent/x.gguf", "--preset", "tiny", "--type", "q5_1", "--vocab", text },
  };
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_auto (RunResult) r = { 0 };
      g_test_message ("%s %s", bad[i][0], bad[i][1] ? bad[i][1] : "");
      run_cli (&r, bad[i][0], bad[i][1], bad[i][2], bad[i][3], bad[i][4], bad[i][5], bad[i][6], bad[i][7], NULL);
      g_assert_cmpint (r.status, ==, 1);
      g_assert_cmpstr (r.err, !=, "");
    }

  /* A file that is not a model is a bad input: status 2. */
  g_auto (RunResult) r = { 0 };
  run_cli (&r, "generate", text, "--prompt", "a", NULL);
  g_assert_cmpint (r.status, ==, 2);
  g_assert_nonnull (strstr (r.err, "prompt_greedy.txt"));
}

/* Greedy decoding reproduces llama.cpp's continuation: the ids, and the
 * text as streamed piece by piece. */
static void
test_generate_greedy (void)
{
  g_autoptr (JsonObject) ref = load_reference ("kjv-tiny-f32");
  g_autofree char *model = model_path ("kjv-tiny-f32");
  g_autofree char *prompt = data_path ("text", "prompt_greedy.txt");
  JsonArray *expected = json_object_get_array_member (ref, "greedy_tokens");
  guint n_check = json_object_get_int_member (ref, "greedy_check_tokens");
  g_autofree char *n = g_strdup_printf ("%u", json_array_get_length (expected));
  g_auto (RunResult) ids = { 0 };
  g_auto (RunResult) text = { 0 };

  g_assert_cmpuint (n_check, ==, 48);
  run_cli (&ids, "generate", model, "--file", prompt, "--temp", "0", "--ids", "-n", n, NULL);
  g_assert_cmpint (ids.status, ==, 0);
  g_autoptr (GArray) got = parse_ids (ids.out);
  g_assert_cmpuint (got->len, >=, n_check);
  for (guint i = 0; i < n_check; i++)
    g_assert_cmpint (g_array_index (got, gint64, i), ==, json_array_get_int_element (expected, i));

  run_cli (&text, "generate", model, "--file", prompt, "--temp", "0", "-n", n, NULL);
  g_assert_cmpint (text.status, ==, 0);
  g_assert_cmpstr (text.out, ==, json_object_get_string_member (ref, "greedy_text"));
  g_assert_cmpstr (text.err, ==, "");
}

/* Sampling with a seed gives the same tokens every time and for any
 * thread count; another seed gives others. */
static void
test_generate_seed (void)
{
  g_autofree char *model = model_path ("kjv-tiny-f32");
  const char *threads[] = { "1", "2", "2" };
  g_autofree char *first = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    {
      g_auto (RunResult) r = { 0 };
      run_cli (&r, "generate", model, "--prompt", "And God said", "--seed", "42", "--temp", "1", "-n", "40",
               "--ids", "--threads", threads[i], NULL);
      g_assert_cmpint (r.status, ==, 0);
      g_assert_cmpstr (r.out, !=, "\n");
      if (first == NULL)
        first = g_strdup (r.out);
      g_assert_cmpstr (r.out, ==, first);
    }

  g_auto (RunResult) other = { 0 };
  run_cli (&other, "generate", model, "--prompt", "And God said", "--seed", "43", "--temp", "1", "-n", "40",
           "--ids", NULL);
  g_assert_cmpint (other.status, ==, 0);
  g_assert_cmpstr (other.out, !=, first);
}

/* Generation goes on past a full context by shifting it. */
/* Checks @ids, the greedy tokens tern-cli generate printed for @prompt
 * with a context of @n_ctx, without a context shift: each must be the
 * argmax of a fresh evaluation of what the context holds by then (BOS, the
 * prompt and the tokens before it, less what the oldest-half drops took).
 * That is exact for a one-layer model, whose keys and values depend only on
 * each token and its position. Steps whose top two logits are close enough
 * for the F16 cache's rounding (different for moved keys) to swap them are
 * not checked. Returns how many were, and in @shifts the number of tokens
 * each shift should drop. */
static guint
check_shifted_tokens (const char *model_file, const char *prompt, gint32 n_ctx, GArray *ids, GArray *shifts)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (TernModel) model = tern_model_load (model_file, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  const TernTokenizer *tok = tern_model_tokenizer (model);
  gint32 n_vocab = tern_model_hparams (model)->n_vocab;
  g_autoptr (GArray) window = g_array_new (FALSE, FALSE, sizeof (TernToken));
  TernContextParams params;
  const gint32 n_keep = 1; /* the BOS */
  guint n_checked = 0;

  g_assert_true (tern_tokenizer_encode (tok, prompt, -1, TERN_TOKENIZE_ADD_SPECIAL, window, &error));
  g_assert_cmpint (g_array_index (window, TernToken, 0), ==, tern_tokenizer_bos (tok));
  tern_context_params_init (&params);
  params.n_ctx = n_ctx;
  params.n_threads = 1;
  for (guint i = 0; i < ids->len; i++)
    {
      g_autoptr (TernContext) ctx = tern_context_new (model, &params, &error);
      g_assert_no_error (error);
      g_assert_true (tern_context_decode (ctx, (TernToken *) window->data, (gint32) window->len, FALSE, NULL, NULL,
                                          NULL, &error));
      const float *logits = tern_context_last_logits (ctx);
      TernToken best = 0;
      for (TernToken j = 1; j < n_vocab; j++)
        if (logits[j] > logits[best])
          best = j;
      float second = -G_MAXFLOAT;
      for (TernToken j = 0; j < n_vocab; j++)
        if (j != best)
          second = MAX (second, logits[j]);

      TernToken got = (TernToken) g_array_index (ids, gint64, i);
      if (logits[best] - second > 0.05f)
        {
          if (got != best)
            g_error ("token %u: tern-cli printed %d, expected %d (window of %u tokens)", i, got, best, window->len);
          n_checked++;
        }
      /* The last token is never evaluated. */
      if ((gint32) window->len == n_ctx && i + 1 < ids->len)
        {
          gint32 dropped = (window->len - n_keep) / 2;
          g_array_remove_range (window, n_keep, dropped);
          g_array_append_val (shifts, dropped);
        }
      g_array_append_val (window, got);
    }
  return n_checked;
}

/* A context longer than the model was trained on (256 tokens) is warned of
 * on stderr; the default, the trained length, is not. */
static void
test_generate_ctx_warning (void)
{
  g_autofree char *model = model_path ("kjv-tiny-q4_k_m");
  g_auto (RunResult) longer = { 0 };
  g_auto (RunResult) automatic = { 0 };

  run_cli (&longer, "generate", model, "--prompt", "And God said", "--ctx", "1024", "--temp", "0", "-n", "2", NULL);
  g_assert_cmpint (longer.status, ==, 0);
  g_assert_nonnull (strstr (longer.err, "warning: a context of 1024 tokens is longer than"));
  g_assert_nonnull (strstr (longer.err, "was trained with (256 tokens)"));
  run_cli (&automatic, "generate", model, "--prompt", "And God said", "--temp", "0", "-n", "2", NULL);
  g_assert_cmpint (automatic.status, ==, 0);
  g_assert_null (strstr (automatic.err, "warning"));
}

/* Generation goes on past a full context: the oldest half after BOS is
 * dropped and the rest moved back, and the tokens are those of a context
 * that never shifted. */
static void
test_generate_context_shift (void)
{
  g_autofree char *dir = g_dir_make_tmp ("tern-cli-XXXXXX", NULL);
  g_autofree char *full = model_path ("kjv-tiny-f32");
  g_autofree char *model = model_variant_write (dir, full, NULL, NULL, 1);
  const char *prompt = "And God said";
  g_auto (RunResult) r = { 0 };
  g_autoptr (GArray) shifts = g_array_new (FALSE, FALSE, sizeof (gint32));
  g_autoptr (GString) said = g_string_new (NULL);

  run_cli (&r, "generate", model, "--prompt", prompt, "--ctx", "32", "--temp", "0", "-n", "100", "--ids", "-t", "1",
           "--verbose", NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_autoptr (GArray) ids = parse_ids (r.out);
  g_assert_cmpuint (ids->len, ==, 100);
  guint n_checked = check_shifted_tokens (model, prompt, 32, ids, shifts);
  g_test_message ("%u of %u tokens checked, %u shifts", n_checked, ids->len, shifts->len);
  g_assert_cmpuint (n_checked, >=, 60);

  /* Each shift, as --verbose reports it. */
  g_assert_cmpuint (shifts->len, >=, 5);
  for (guint i = 0; i < shifts->len; i++)
    g_string_append_printf (said, "context full: dropped %d tokens after the first 1\n",
                            g_array_index (shifts, gint32, i));
  g_assert_true (g_str_has_prefix (r.err, said->str));
  g_assert_nonnull (strstr (r.err, "tokens/s"));
  test_remove_tree (dir);
}

/* Unusable prompts are clean errors: status 2 and a message. */
static void
test_generate_bad_input (void)
{
  g_autofree char *model = model_path ("kjv-tiny-f32");
  g_autofree char *long_text = data_path ("text", "kjv_eval.txt");
  g_autofree char *dir = g_dir_make_tmp ("tern-cli-XXXXXX", NULL);
  g_autofree char *empty = g_build_filename (dir, "empty.txt", NULL);
  g_autofree char *latin1 = g_build_filename (dir, "latin1.txt", NULL);
  g_autofree char *missing = g_build_filename (dir, "missing.txt", NULL);
  g_auto (RunResult) r1 = { 0 };
  g_auto (RunResult) r2 = { 0 };
  g_auto (RunResult) r3 = { 0 };
  g_auto (RunResult) r4 = { 0 };
  g_auto (RunResult) r5 = { 0 };

  g_assert_true (g_file_set_contents (empty, "", 0, NULL));
  g_assert_true (g_file_set_contents (latin1, "caf\xe9 au lait", -1, NULL));

  run_cli (&r1, "generate", model, "--file", empty, NULL);
  g_assert_cmpint (r1.status, ==, 2);
  g_assert_nonnull (strstr (r1.err, "empty"));
  run_cli (&r2, "generate", model, "--file", latin1, NULL);
  g_assert_cmpint (r2.status, ==, 2);
  g_assert_nonnull (strstr (r2.err, "UTF-8"));
  run_cli (&r3, "generate", model, "--file", long_text, NULL);
  g_assert_cmpint (r3.status, ==, 2);
  g_assert_nonnull (strstr (r3.err, "longer than the context"));
  run_cli (&r4, "generate", model, "--file", missing, NULL);
  g_assert_cmpint (r4.status, ==, 2);
  g_assert_nonnull (strstr (r4.err, "missing.txt"));
  run_cli (&r5, "perplexity", model, "--file", latin1, "--ctx", "128", NULL);
  g_assert_cmpint (r5.status, ==, 2);
  g_assert_nonnull (strstr (r5.err, "UTF-8"));

  g_remove (empty);
  g_remove (latin1);
  g_rmdir (dir);
}

/* perplexity agrees with llama-perplexity within Tern's measured tolerance
 * (tern-measured.json: twice its largest difference over the kernel levels). */
static void
check_perplexity (const char *name)
{
  g_autoptr (JsonObject) ref = load_reference (name);
  g_autoptr (JsonObject) measured = load_reference ("tern-measured");
  g_autofree char *model = model_path (name);
  g_autofree char *text = data_path ("text", "kjv_eval.txt");
  double expected = json_object_get_double_member (ref, "perplexity_ctx128");
  JsonObject *ours = json_object_get_object_member (json_object_get_object_member (measured, "models"), name);
  double rel = json_object_get_double_member (json_object_get_object_member (ours, "tolerance"), "perplexity_rel");
  g_auto (RunResult) r = { 0 };

  run_cli (&r, "perplexity", model, "--file", text, "--ctx", "128", NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_true (g_str_has_prefix (r.out, "[1/"));
  g_auto (GStrv) lines = g_strsplit (g_strchomp (r.out), "\n", -1);
  const char *last = lines[g_strv_length (lines) - 1];
  g_assert_true (g_str_has_prefix (last, "PPL = "));
  double ppl = g_ascii_strtod (last + strlen ("PPL = "), NULL);
  g_test_message ("%s: perplexity %.4f, llama.cpp %.4f (relative difference %.2g, tolerance %.2g)", name, ppl,
                  expected, fabs (ppl - expected) / expected, rel);
  g_assert_cmpfloat (fabs (ppl - expected), <=, rel * expected);
}

static void
test_perplexity (gconstpointer name)
{
  check_perplexity (name);
}

static void
test_perplexity_short (void)
{
  g_autofree char *model = model_path ("kjv-tiny-f32");
  g_autofree char *text = data_path ("text", "prompt_greedy.txt");
  g_auto (RunResult) r = { 0 };

  run_cli (&r, "perplexity", model, "--file", text, "--ctx", "128", NULL);
  g_assert_cmpint (r.status, ==, 2);
  g_assert_nonnull (strstr (r.err, "too short"));
}

/* logits writes [n_tokens][n_vocab] float32, close to llama.cpp's: within
 * Tern's measured tolerance (tern-measured.json), as the engine's own
 * reference test. */
static void
test_logits (void)
{
  g_autoptr (JsonObject) ref = load_reference ("kjv-tiny-f32");
  g_autofree char *model = model_path ("kjv-tiny-f32");
  g_autofree char *text = data_path ("text", "prompt_logits.txt");
  g_autofree char *ref_logits = data_path ("reference", "kjv-tiny-f32.logits.f32");
  g_autofree char *dir = g_dir_make_tmp ("tern-cli-XXXXXX", NULL);
  g_autofree char *out = g_build_filename (dir, "logits.f32", NULL);
  gsize n_tokens = json_array_get_length (json_object_get_array_member (ref, "prompt_tokens"));
  gsize n_vocab = json_object_get_int_member (ref, "n_vocab");
  g_autoptr (JsonObject) measured = load_reference ("tern-measured");
  JsonObject *f32 = json_object_get_object_member (json_object_get_object_member (measured, "models"), "kjv-tiny-f32");
  double tolerance =
    json_object_get_double_member (json_object_get_object_member (f32, "tolerance"), "max_abs_logit_diff");
  g_autofree char *got = NULL, *expected = NULL;
  gsize got_len, expected_len;
  g_auto (RunResult) r = { 0 };

  run_cli (&r, "logits", model, "--file", text, "--out", out, NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_true (g_file_get_contents (out, &got, &got_len, NULL));
  g_assert_cmpuint (got_len, ==, n_tokens * n_vocab * sizeof (float));
  g_assert_true (g_file_get_contents (ref_logits, &expected, &expected_len, NULL));
  g_assert_cmpuint (expected_len, ==, got_len);

  double max_diff = 0.0;
  for (gsize i = 0; i < n_tokens * n_vocab; i++)
    {
      guint32 a, b;
      float fa, fb;
      memcpy (&a, got + 4 * i, 4);
      memcpy (&b, expected + 4 * i, 4);
      a = GUINT32_FROM_LE (a);
      b = GUINT32_FROM_LE (b);
      memcpy (&fa, &a, 4);
      memcpy (&fb, &b, 4);
      max_diff = MAX (max_diff, fabs ((double) fa - fb));
    }
  g_test_message ("largest logit difference from llama.cpp: %g", max_diff);
  g_assert_cmpfloat (max_diff, <=, tolerance);
  g_remove (out);
  g_rmdir (dir);
}

static void
test_bench_json (void)
{
  g_autofree char *model = model_path ("kjv-tiny-f32");
  g_auto (RunResult) r = { 0 };
  g_auto (RunResult) table = { 0 };
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;
  const char *keys[] = { "pp_tokens_per_s", "pp_stddev", "tg_tokens_per_s", "tg_stddev", "threads", "model",
                         "pp_tokens", "tg_tokens", "repetitions", "backend", "model_size_bytes", "n_params" };

  run_cli (&r, "bench", model, "-p", "16", "-n", "4", "-r", "1", "--json", NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_true (json_parser_load_from_data (parser, r.out, -1, &error));
  JsonObject *o = json_node_get_object (json_parser_get_root (parser));
  for (guint i = 0; i < G_N_ELEMENTS (keys); i++)
    g_assert_true (json_object_has_member (o, keys[i]));
  g_assert_cmpfloat (json_object_get_double_member (o, "pp_tokens_per_s"), >, 0.0);
  g_assert_cmpfloat (json_object_get_double_member (o, "tg_tokens_per_s"), >, 0.0);
  g_assert_cmpint (json_object_get_int_member (o, "pp_tokens"), ==, 16);
  g_assert_cmpint (json_object_get_int_member (o, "tg_tokens"), ==, 4);
  g_assert_cmpint (json_object_get_int_member (o, "n_params"), ==, 4065536);

  run_cli (&table, "bench", model, "-p", "0", "-n", "2", "-r", "2", "--threads", "1", NULL);
  g_assert_cmpint (table.status, ==, 0);
  g_assert_nonnull (strstr (table.out, "tg2"));
  g_assert_null (strstr (table.out, "pp0"));
}

static void
test_chat_pipe (void)
{
  g_autofree char *model = model_path ("kjv-tiny-f32");
  g_auto (RunResult) r = { 0 };
  g_auto (RunResult) eof = { 0 };

  run_cli_input (&r, "Hello\n/quit\nnot read\n", "chat", model, "--seed", "1", "-n", "32", NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_cmpuint (strlen (g_strstrip (r.out)), >, 0);

  /* Two turns, then the end of the input; a turn fills the small context
   * and shifts it. */
  run_cli_input (&eof, "Hello\nAnd then?", "chat", model, "--seed", "1", "--ctx", "48", "-n", "40", NULL);
  g_assert_cmpint (eof.status, ==, 0);
  g_assert_cmpuint (strlen (g_strstrip (eof.out)), >, 0);
}

/* chat keeps the conversation in the context: each turn evaluates only
 * what follows the tokens already there. */
static void
test_chat_reuses_context (void)
{
  g_autofree char *model = model_path ("kjv-tiny-f32");
  g_auto (RunResult) r = { 0 };

  run_cli_input (&r, "Hello\nAnd then?\n", "chat", model, "--seed", "1", "-n", "8", "--verbose", NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_auto (GStrv) lines = g_strsplit (r.err, "\n", -1);
  g_assert_cmpuint (g_strv_length (lines), ==, 3);
  g_assert_true (g_str_has_suffix (lines[0], " 0 already in the context"));
  /* The second turn reuses the first prompt and the reply. */
  guint n_first, n_second, reused;
  g_assert_cmpint (sscanf (lines[0], "prompt: %u tokens", &n_first), ==, 1);
  g_assert_cmpint (sscanf (lines[1], "prompt: %u tokens, %u already", &n_second, &reused), ==, 2);
  g_assert_cmpuint (reused, >=, n_first);
  g_assert_cmpuint (reused, <, n_second);
}

/* generate --chat formats the prompt as a user's message. */
static void
test_generate_chat (void)
{
  g_autofree char *model = model_path ("kjv-tiny-f32");
  g_auto (RunResult) plain = { 0 };
  g_auto (RunResult) chat = { 0 };

  run_cli (&plain, "generate", model, "--prompt", "Hello", "--temp", "0", "-n", "8", NULL);
  run_cli (&chat, "generate", model, "--prompt", "Hello", "--chat", "--temp", "0", "-n", "8", NULL);
  g_assert_cmpint (plain.status, ==, 0);
  g_assert_cmpint (chat.status, ==, 0);
  g_assert_cmpstr (chat.out, !=, "");
  g_assert_cmpstr (chat.out, !=, plain.out);
}

/* template prints exactly the rendered prompt, from a model or a file. */
static void
test_template (void)
{
  g_autofree char *model = model_path ("kjv-tiny-f32");
  g_autofree char *dir = g_dir_make_tmp ("tern-cli-XXXXXX", NULL);
  g_autofree char *messages = g_build_filename (dir, "messages.json", NULL);
  g_autofree char *tmpl = g_build_filename (dir, "t.jinja", NULL);
  g_autofree char *failing = g_build_filename (dir, "failing.jinja", NULL);
  g_autofree char *bad_json = g_build_filename (dir, "bad.json", NULL);
  g_auto (RunResult) from_model = { 0 };
  g_auto (RunResult) no_prompt = { 0 };
  g_auto (RunResult) from_file = { 0 };
  g_auto (RunResult) fails = { 0 };
  g_auto (RunResult) bad = { 0 };

  g_assert_true (g_file_set_contents (messages,
                                      "[{\"role\": \"user\", \"content\": \"Hi <s>\"},"
                                      " {\"role\": \"assistant\", \"content\": \"Hello\"}]", -1, NULL));
  g_assert_true (g_file_set_contents (tmpl,
                                      "{{ bos_token }}{% for m in messages %}[{{ m.role }}] {{ m.content|trim }}"
                                      "{{ eos_token }}{% endfor %}{% if add_generation_prompt %}[assistant]{% endif %}\n",
                                      -1, NULL));
  g_assert_true (g_file_set_contents (failing, "ok\n{% if messages|length > 1 %}{{ raise_exception('two') }}{% endif %}",
                                      -1, NULL));
  g_assert_true (g_file_set_contents (bad_json, "{\"role\": \"user\"}", -1, NULL));

  run_cli (&from_model, "template", model, "--messages", messages, NULL);
  g_assert_cmpint (from_model.status, ==, 0);
  g_assert_cmpstr (from_model.out, ==, "<|user|>\nHi <s>\n<|assistant|>\nHello\n<|assistant|>\n");
  run_cli (&no_prompt, "template", model, "--messages", messages, "--no-generation-prompt", NULL);
  g_assert_cmpstr (no_prompt.out, ==, "<|user|>\nHi <s>\n<|assistant|>\nHello\n");

  /* The template's final newline goes, as in jinja2. */
  run_cli (&from_file, "template", "--template-file", tmpl, "--bos", "<s>", "--eos", "</s>", "--messages", messages,
           NULL);
  g_assert_cmpint (from_file.status, ==, 0);
  g_assert_cmpstr (from_file.out, ==, "<s>[user] Hi <s></s>[assistant] Hello</s>[assistant]");

  run_cli (&fails, "template", "--template-file", failing, "--messages", messages, NULL);
  g_assert_cmpint (fails.status, ==, 2);
  g_assert_cmpstr (fails.out, ==, "");
  g_assert_nonnull (strstr (fails.err, "line 2: two"));

  run_cli (&bad, "template", "--template-file", tmpl, "--messages", bad_json, NULL);
  g_assert_cmpint (bad.status, ==, 2);
  g_assert_nonnull (strstr (bad.err, "array"));

  g_remove (messages);
  g_remove (tmpl);
  g_remove (failing);
  g_remove (bad_json);
  g_rmdir (dir);
}

/* make-model writes a loadable model of each type, with llama-quantize's
 * mix for the embeddings and output, the same bytes for any thread count. */
static void
test_make_model (void)
{
  g_autofree char *vocab = data_path ("vocab", "ggml-vocab-llama-spm.gguf");
  g_autofree char *dir = g_dir_make_tmp ("tern-cli-XXXXXX", NULL);
  const struct {
    const char *type, *embd, *output;
  } types[] = {
    { "f32", "f32", "f32" },       { "f16", "f16", "f16" },       { "bf16", "bf16", "bf16" },
    { "q8_0", "q8_0", "q8_0" },    { "q4_0", "q4_0", "q6_K" },    { "q4_k", "q4_K", "q6_K" },
    { "q6_k", "q6_K", "q6_K" },    { "tq1_0", "q4_K", "q6_K" },   { "tq2_0", "q4_K", "q6_K" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (types); i++)
    {
      g_autofree char *name = g_strdup_printf ("tiny-%s.gguf", types[i].type);
      g_autofree char *path = g_build_filename (dir, name, NULL);
      g_auto (RunResult) make = { 0 };
      g_auto (RunResult) info = { 0 };
      g_auto (RunResult) gen = { 0 };
      g_autoptr (JsonParser) parser = json_parser_new ();
      g_autoptr (GError) error = NULL;

      g_test_message ("type %s", types[i].type);
      run_cli (&make, "make-model", path, "--preset", "tiny", "--type", types[i].type, "--vocab", vocab, NULL);
      g_assert_cmpint (make.status, ==, 0);

      run_cli (&info, "info", "--json", path, NULL);
      g_assert_cmpint (info.status, ==, 0);
      g_assert_true (json_parser_load_from_data (parser, info.out, -1, &error));
      JsonObject *o = json_node_get_object (json_parser_get_root (parser));
      g_assert_cmpstr (json_object_get_string_member (o, "architecture"), ==, "llama");
      g_assert_cmpint (json_object_get_int_member (o, "context_length"), ==, 256);
      g_assert_cmpint (json_object_get_int_member (json_object_get_object_member (o, "tokenizer"), "n_vocab"), ==,
                       32000);
      JsonObject *tensor_types = json_object_get_object_member (o, "tensor_types");
      g_assert_true (json_object_has_member (tensor_types, types[i].embd));
      g_assert_true (json_object_has_member (tensor_types, types[i].output));
      g_assert_true (json_object_has_member (tensor_types, "f32"));

      run_cli (&gen, "generate", path, "--prompt", "Hello world", "-n", "4", "--seed", "1", "--ids", NULL);
      g_assert_cmpint (gen.status, ==, 0);
      g_remove (path);
    }

  /* The weights depend on the seed only. */
  g_autofree char *a = g_build_filename (dir, "a.gguf", NULL);
  g_autofree char *b = g_build_filename (dir, "b.gguf", NULL);
  g_autofree char *a_bytes = NULL, *b_bytes = NULL;
  gsize a_len, b_len;
  g_auto (RunResult) ra = { 0 };
  g_auto (RunResult) rb = { 0 };
  run_cli (&ra, "make-model", a, "--preset", "tiny", "--type", "q4_k", "--vocab", vocab, "--seed", "5",
           "--threads", "1", NULL);
  run_cli (&rb, "make-model", b, "--preset", "tiny", "--type", "q4_k", "--vocab", vocab, "--seed", "5",
           "--threads", "2", NULL);
  g_assert_cmpint (ra.status, ==, 0);
  g_assert_cmpint (rb.status, ==, 0);
  g_assert_true (g_file_get_contents (a, &a_bytes, &a_len, NULL));
  g_assert_true (g_file_get_contents (b, &b_bytes, &b_len, NULL));
  g_assert_cmpmem (a_bytes, a_len, b_bytes, b_len);

  /* A vocabulary file that is not one: status 2. */
  g_auto (RunResult) bad = { 0 };
  g_autofree char *text = data_path ("text", "prompt_greedy.txt");
  run_cli (&bad, "make-model", a, "--preset", "tiny", "--type", "f32", "--vocab", text, NULL);
  g_assert_cmpint (bad.status, ==, 2);

  g_remove (a);
  g_remove (b);
  g_rmdir (dir);
}

int
main (int argc, char **argv)
{
  /* The fixture models checked in the quick suite; the slow one checks
   * the perplexity of all the others. */
  static const char *const quick_models[] = { "kjv-tiny-f32", "kjv-tiny-q4_k_m", NULL };

  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/cli/usage", test_usage);
  g_test_add_func ("/cli/generate/greedy", test_generate_greedy);
  g_test_add_func ("/cli/generate/seed", test_generate_seed);
  g_test_add_func ("/cli/generate/context-shift", test_generate_context_shift);
  g_test_add_func ("/cli/generate/ctx-warning", test_generate_ctx_warning);
  g_test_add_func ("/cli/generate/bad-input", test_generate_bad_input);
  g_test_add_func ("/cli/logits", test_logits);
  g_test_add_func ("/cli/perplexity/short", test_perplexity_short);
  for (guint i = 0; quick_models[i]; i++)
    {
      g_autofree char *path = g_strconcat ("/cli/perplexity/", quick_models[i], NULL);
      g_test_add_data_func (path, quick_models[i], test_perplexity);
    }
  g_test_add_func ("/cli/bench/json", test_bench_json);
  g_test_add_func ("/cli/chat/pipe", test_chat_pipe);
  g_test_add_func ("/cli/chat/reuses-context", test_chat_reuses_context);
  g_test_add_func ("/cli/generate/chat", test_generate_chat);
  g_test_add_func ("/cli/template", test_template);
  g_test_add_func ("/cli/make-model", test_make_model);

  if (g_test_slow ())
    {
      g_autoptr (GPtrArray) models = test_data_list ("models", ".gguf", TRUE);
      for (guint i = 0; i < models->len; i++)
        {
          const char *model = models->pdata[i];
          g_autofree char *path = g_strconcat ("/cli/slow/perplexity/", model, NULL);
          if (!g_strv_contains (quick_models, model))
            g_test_add_data_func_full (path, g_strdup (model), test_perplexity, g_free);
        }
    }
  return g_test_run ();
}
