/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Every fixture model on every device that is not the CPU backend (the
 * Vulkan GPUs; lavapipe in CI): teacher-forced logits within the fixture's
 * tolerance of llama.cpp's reference (the largest logit difference and the
 * top-1 agreement), the same greedy continuation as the CPU backend (or
 * one that parts from it at a near tie), and a perplexity within 0.5% of
 * the CPU's. A machine with no such device skips
 * each case, saying so. A quick run takes three models (quick_models).
 * A state saved on the GPU restores on the GPU and on the CPU. And a GPU
 * that is not there, runs out of memory or is lost leaves the context on
 * the CPU, saying why. A backend's bare name ("vulkan") chooses its best
 * GPU, never a CPU-type device. */
#include <tern/backend.h>
#include <tern/context.h>
#include <tern/error.h>
#include <tern/perplexity.h>

#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>

#include "backend/backend.h"
#include "test-data.h"

/* Greedy tokens compared with the CPU's, after prompt_greedy.txt. */
#define N_GREEDY 24
/* A top-two margin (in logits) under which a greedy choice is a near tie:
 * the logits of the two backends differ by a few tenths at most. */
#define NEAR_TIE 0.25f
/* Perplexity: 24 chunks of 128 tokens of kjv_eval.txt. Fewer leave too
 * few tokens scored for the ternary kjv-tiny models, whose perplexity (over
 * 500) moves with rounding: on 1024 tokens the CPU's own kernel levels
 * differed by 0.36% there. And a GPU's attention keeps its probabilities
 * in F32 where the CPU rounds them to F16 as llama.cpp does, which lowers
 * those models' perplexity by a few tenths of a percent (the CPU's with
 * F32 probabilities: 545.2 instead of 550.5, Vulkan's 544.3, on the
 * first 1,000 tokens). */
#define PPL_CTX 128
#define PPL_TOKENS 3072

typedef struct {
  const TernDevice *device;
  char *model;
} DeviceTest;

static char *
data_path (const char *dir, const char *file)
{
  return g_test_build_filename (G_TEST_DIST, "data", dir, file, NULL);
}

static TernContext *
new_context_batch (TernModel *model, const char *backend, gint32 n_batch)
{
  TernContextParams params;
  g_autoptr (GError) error = NULL;

  tern_context_params_init (&params);
  params.n_ctx = 512;
  params.n_batch = n_batch;
  params.backend = backend;
  TernContext *ctx = tern_context_new (model, &params, &error);
  g_assert_no_error (error);
  return ctx;
}

static TernContext *
new_context (TernModel *model, const char *backend)
{
  return new_context_batch (model, backend, 512);
}

static gint32
argmax (const float *x, gint32 n)
{
  gint32 best = 0;
  for (gint32 i = 1; i < n; i++)
    if (x[i] > x[best])
      best = i;
  return best;
}

/* The logits of llama.cpp's prompt against its reference. */
static void
check_reference (TernModel *model, TernContext *ctx, const char *name)
{
  g_autofree char *file = g_strconcat (name, ".json", NULL);
  g_autofree char *path = data_path ("reference", file);
  g_autofree char *lfile = g_strconcat (name, ".logits.f32", NULL);
  g_autofree char *lpath = data_path ("reference", lfile);
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;
  g_autofree float *want = NULL;
  gint32 n_vocab = tern_model_hparams (model)->n_vocab, agree = 0;
  double max_diff = 0;
  gsize len;

  g_assert_true (json_parser_load_from_file (parser, path, &error));
  JsonObject *ref = json_node_get_object (json_parser_get_root (parser));
  JsonArray *tokens = json_object_get_array_member (ref, "prompt_tokens");
  gint32 n = json_array_get_length (tokens);
  g_autofree TernToken *prompt = g_new (TernToken, n);
  for (gint32 i = 0; i < n; i++)
    prompt[i] = (TernToken) json_array_get_int_element (tokens, i);
  JsonObject *tol = json_object_get_object_member (ref, "tolerance");
  g_assert_true (g_file_get_contents (lpath, (char **) &want, &len, &error));
  g_assert_cmpuint (len, ==, sizeof (float) * n * n_vocab);

  g_assert_true (tern_context_decode (ctx, prompt, n, TRUE, NULL, NULL, NULL, &error));
  g_assert_no_error (error);
  for (gint32 i = 0; i < n; i++)
    {
      const float *got = tern_context_logits (ctx, i), *w = want + (gsize) i * n_vocab;
      for (gint32 j = 0; j < n_vocab; j++)
        {
          g_assert_true (isfinite (got[j]));
          max_diff = MAX (max_diff, fabs ((double) got[j] - w[j]));
        }
      agree += argmax (got, n_vocab) == argmax (w, n_vocab);
    }
  g_test_message ("%s: max |logit diff| from llama.cpp %.5f (tolerance %.3f), top-1 agreement %.3f (at least %.3f)",
                  name, max_diff, json_object_get_double_member (tol, "max_abs_logit_diff"), (double) agree / n,
                  json_object_get_double_member (tol, "min_top1_agreement"));
  g_assert_cmpfloat (max_diff, <=, json_object_get_double_member (tol, "max_abs_logit_diff"));
  g_assert_cmpfloat ((double) agree / n, >=, json_object_get_double_member (tol, "min_top1_agreement"));
}

/* The greedy continuation of prompt_greedy.txt, token by token; @margins
 * (or NULL): the top-two margin of each choice. */
static void
greedy (TernModel *model, TernContext *ctx, TernToken *out, float *margins)
{
  g_autofree char *path = data_path ("text", "prompt_greedy.txt");
  g_autofree char *text = NULL;
  g_autoptr (GArray) prompt = g_array_new (FALSE, FALSE, sizeof (TernToken));
  g_autoptr (GError) error = NULL;
  gint32 n_vocab = tern_model_hparams (model)->n_vocab;

  g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
  g_assert_true (tern_tokenizer_encode (tern_model_tokenizer (model), text, -1, TERN_TOKENIZE_ADD_SPECIAL, prompt,
                                        &error));
  tern_context_truncate (ctx, 0);
  g_assert_true (tern_context_decode (ctx, (TernToken *) prompt->data, prompt->len, FALSE, NULL, NULL, NULL, &error));
  for (gint32 i = 0; i < N_GREEDY; i++)
    {
      const float *logits = tern_context_last_logits (ctx);
      out[i] = argmax (logits, n_vocab);
      if (margins != NULL)
        {
          float second = -INFINITY;
          for (gint32 j = 0; j < n_vocab; j++)
            if (j != out[i])
              second = MAX (second, logits[j]);
          margins[i] = logits[out[i]] - second;
        }
      g_assert_true (tern_context_decode (ctx, &out[i], 1, FALSE, NULL, NULL, NULL, &error));
      g_assert_no_error (error);
    }
}

/* Perplexity on the first PPL_TOKENS tokens of kjv_eval.txt. */
static double
perplexity (TernModel *model, TernContext *ctx)
{
  g_autofree char *path = data_path ("text", "kjv_eval.txt");
  g_autofree char *text = NULL;
  g_autoptr (GArray) tokens = g_array_new (FALSE, FALSE, sizeof (TernToken));
  g_autoptr (GError) error = NULL;
  double ppl;

  g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
  g_assert_true (tern_tokenizer_encode (tern_model_tokenizer (model), text, -1, TERN_TOKENIZE_ADD_SPECIAL, tokens,
                                        &error));
  g_assert_cmpuint (tokens->len, >=, PPL_TOKENS);
  g_assert_true (tern_perplexity_eval_tokens (ctx, (TernToken *) tokens->data, PPL_TOKENS, PPL_CTX, NULL, NULL, NULL,
                                              &ppl, NULL, &error));
  g_assert_no_error (error);
  return ppl;
}

static void
test_model (gconstpointer data)
{
  const DeviceTest *t = data;

  if (t->device == NULL)
    {
      g_test_skip ("no device other than the CPU backend's (no Vulkan GPU, nor lavapipe)");
      return;
    }
  g_autofree char *file = g_strconcat (t->model, ".gguf", NULL);
  g_autofree char *path = data_path ("models", file);
  g_autoptr (GError) error = NULL;
  g_autoptr (TernModel) model = tern_model_load (path, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  g_autoptr (TernContext) ctx = new_context (model, t->device->name);
  g_autoptr (TernContext) cpu = new_context (model, "cpu");
  TernToken got[N_GREEDY], want[N_GREEDY];

  float margins[N_GREEDY];
  gint32 n_same = 0;

  check_reference (model, ctx, t->model);
  greedy (model, ctx, got, NULL);
  greedy (model, cpu, want, margins);
  /* The same tokens, unless they part at a near tie of the CPU's, where
   * rounding may choose either (and after it the texts differ). */
  while (n_same < N_GREEDY && got[n_same] == want[n_same])
    n_same++;
  if (n_same < N_GREEDY)
    {
      g_test_message ("%s: the CPU's greedy tokens for %d of %d, then a near tie (margin %.3f)", t->model, n_same,
                      N_GREEDY, margins[n_same]);
      g_assert_cmpfloat (margins[n_same], <, NEAR_TIE);
    }
  double ppl = perplexity (model, ctx), cpu_ppl = perplexity (model, cpu);
  g_test_message ("%s on %s: perplexity %.4f, the CPU's %.4f (%+.3f%%)", t->model, t->device->name, ppl, cpu_ppl,
                  100 * (ppl / cpu_ppl - 1));
  g_assert_cmpfloat (fabs (ppl / cpu_ppl - 1), <=, 0.005);
}

/* Contexts asked for a GPU that fails, at once or later, compute on the
 * CPU and say why; their logits are the CPU's own. @data: the fault
 * (TERN_VULKAN_INJECT), or NULL for a device that is not there. */
static void
test_fallback (gconstpointer data)
{
  const char *inject = data;
  g_autofree char *path = data_path ("models", "kjv-tiny-q4_k_m.gguf");
  g_autoptr (GError) error = NULL;
  const TernToken prompt[] = { 1, 450, 386, 310, 278, 560, 338, 411 }, next = 1234;
  guint n_devices;
  const TernDevice *const *devices = tern_devices (&n_devices);
  const char *gpu = NULL;

  for (guint i = 0; i < n_devices && inject != NULL && gpu == NULL; i++)
    if (strcmp (devices[i]->backend, "vulkan") == 0)
      gpu = devices[i]->name;
  if (inject != NULL && gpu == NULL)
    {
      g_test_skip ("no Vulkan device to inject a fault into");
      return;
    }
  g_autoptr (TernModel) model = tern_model_load (path, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  /* Passes of 4 tokens: the device is lost in the second pass of the
   * prompt's decode, after the first one's tokens joined the cache. */
  g_autoptr (TernContext) cpu = new_context_batch (model, "cpu", 4);
  if (inject != NULL)
    g_setenv ("TERN_VULKAN_INJECT", inject, TRUE);
  g_autoptr (TernContext) ctx = new_context_batch (model, gpu != NULL ? gpu : "vulkan:99", 4);
  g_unsetenv ("TERN_VULKAN_INJECT");
  gint32 n_vocab = tern_model_hparams (model)->n_vocab;

  /* The prompt, then one more token: a device lost moves the context,
   * whose cache is evaluated again on the CPU. */
  for (guint step = 0; step < 2; step++)
    {
      const TernToken *tokens = step == 0 ? prompt : &next;
      gint32 n = step == 0 ? G_N_ELEMENTS (prompt) : 1;
      g_assert_true (tern_context_decode (ctx, tokens, n, TRUE, NULL, NULL, NULL, &error));
      g_assert_no_error (error);
      g_assert_true (tern_context_decode (cpu, tokens, n, TRUE, NULL, NULL, NULL, &error));
      g_assert_nonnull (tern_context_backend_fallback (ctx));
      for (gint32 i = 0; i < n; i++)
        g_assert_cmpmem (tern_context_logits (ctx, i), n_vocab * sizeof (float), tern_context_logits (cpu, i),
                         n_vocab * sizeof (float));
    }
  const char *why = tern_context_backend_fallback (ctx);
  g_test_message ("%s", why);
  g_assert_nonnull (why);
  g_assert_true (g_str_has_prefix (tern_context_backend_name (ctx), "cpu ("));
  g_assert_cmpint (tern_context_n_past (ctx), ==, G_N_ELEMENTS (prompt) + 1);
  if (inject == NULL)
    g_assert_nonnull (strstr (why, "vulkan:99 could not be used: unknown backend"));
  else if (g_str_has_prefix (inject, "alloc"))
    g_assert_nonnull (strstr (why, "ran out of memory"));
  else
    g_assert_nonnull (strstr (why, "stopped working (device lost"));
}

static gboolean
write_bytes (const void *data, gsize len, gpointer user_data, GError **error)
{
  g_byte_array_append (user_data, data, len);
  return TRUE;
}

typedef struct {
  GByteArray *bytes;
  gsize at;
} Reader;

static gboolean
read_bytes (void *data, gsize len, gpointer user_data, GError **error)
{
  Reader *r = user_data;

  g_assert_cmpuint (r->at + len, <=, r->bytes->len);
  memcpy (data, r->bytes->data + r->at, len);
  r->at += len;
  return TRUE;
}

/* The logits of the token after @ctx's state @state, loaded. */
static float *
next_after (TernModel *model, TernContext *ctx, GByteArray *state)
{
  Reader r = { state, 0 };
  g_autoptr (GError) error = NULL;
  const TernToken next = 1234;
  gint32 n_vocab = tern_model_hparams (model)->n_vocab;

  g_assert_true (tern_context_load_state (ctx, read_bytes, &r, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (r.at, ==, state->len);
  g_assert_true (tern_context_decode (ctx, &next, 1, FALSE, NULL, NULL, NULL, &error));
  return g_memdup2 (tern_context_last_logits (ctx), sizeof (float) * n_vocab);
}

/* A state saved on the GPU restores on the GPU, where the next token's
 * logits are the ones it would have had, and on the CPU, where they are
 * within rounding of the CPU's own. */
static void
test_snapshot (gconstpointer data)
{
  const TernDevice *device = data;
  g_autofree char *path = data_path ("models", "kjv-tiny-q4_k_m.gguf");
  g_autoptr (GError) error = NULL;
  const TernToken prompt[] = { 1, 450, 386, 310, 278, 560, 338, 411 }, next = 1234;
  g_autoptr (GByteArray) state = g_byte_array_new ();
  g_autoptr (GByteArray) cpu_state = g_byte_array_new ();
  double max_diff = 0;

  if (device == NULL)
    {
      g_test_skip ("no device other than the CPU backend's (no Vulkan GPU, nor lavapipe)");
      return;
    }
  g_autoptr (TernModel) model = tern_model_load (path, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  gint32 n_vocab = tern_model_hparams (model)->n_vocab;
  g_autoptr (TernContext) gpu = new_context (model, device->name);
  g_autoptr (TernContext) cpu = new_context (model, "cpu");
  g_assert_true (tern_context_decode (gpu, prompt, G_N_ELEMENTS (prompt), FALSE, NULL, NULL, NULL, &error));
  g_assert_true (tern_context_save_state (gpu, write_bytes, state, &error));
  g_assert_true (tern_context_decode (gpu, &next, 1, FALSE, NULL, NULL, NULL, &error));
  g_assert_true (tern_context_decode (cpu, prompt, G_N_ELEMENTS (prompt), FALSE, NULL, NULL, NULL, &error));
  g_assert_true (tern_context_save_state (cpu, write_bytes, cpu_state, &error));
  g_assert_true (tern_context_decode (cpu, &next, 1, FALSE, NULL, NULL, NULL, &error));
  g_assert_no_error (error);

  g_autoptr (TernContext) gpu2 = new_context (model, device->name);
  g_autofree float *on_gpu = next_after (model, gpu2, state);
  g_assert_cmpmem (on_gpu, sizeof (float) * n_vocab, tern_context_last_logits (gpu), sizeof (float) * n_vocab);

  g_autoptr (TernContext) cpu2 = new_context (model, "cpu");
  g_autofree float *on_cpu = next_after (model, cpu2, state);
  for (gint32 j = 0; j < n_vocab; j++)
    max_diff = MAX (max_diff, fabs (on_cpu[j] - tern_context_last_logits (cpu)[j]));
  g_test_message ("restored on the CPU: max |logit diff| from the CPU's own %.4f", max_diff);
  g_assert_cmpfloat (max_diff, <, 0.5);

  /* And the CPU's state on the GPU. */
  g_autoptr (TernContext) gpu3 = new_context (model, device->name);
  g_autofree float *cpu_on_gpu = next_after (model, gpu3, cpu_state);
  max_diff = 0;
  for (gint32 j = 0; j < n_vocab; j++)
    max_diff = MAX (max_diff, fabs (cpu_on_gpu[j] - tern_context_last_logits (cpu)[j]));
  g_test_message ("the CPU's state on the GPU: max |logit diff| from the CPU %.4f", max_diff);
  g_assert_cmpfloat (max_diff, <, 0.5);
}

/* The models of a quick run, one per family of tensor types; -m slow runs
 * every fixture model. */
static const char *const quick_models[] = { "kjv-tiny-q4_k_m", "kjv-ternary-tq2_0", "kjv-tiny-f16", NULL };

/* Two backends of GPUs that only enumerate: "fakegpu", with one device of
 * each kind (and a discrete GPU that cannot be used before the one that
 * can), and "cpuonly", with a CPU-type device (as lavapipe is) only. */
static const TernDeviceFeature unusable[] = { { "usable", "no: it has no compute queue" } };
static const TernDeviceFeature usable[] = { { "usable", "yes" } };
static const TernDevice fake_devices[] = {
  { "fakegpu:0", "fakegpu", "a CPU", TERN_DEVICE_CPU, 0, usable, 1 },
  { "fakegpu:1", "fakegpu", "an integrated GPU", TERN_DEVICE_INTEGRATED_GPU, 0, usable, 1 },
  { "fakegpu:2", "fakegpu", "a broken discrete GPU", TERN_DEVICE_DISCRETE_GPU, 0, unusable, 1 },
  { "fakegpu:3", "fakegpu", "a discrete GPU", TERN_DEVICE_DISCRETE_GPU, 0, usable, 1 },
  { "fakegpu:4", "fakegpu", "a virtual GPU", TERN_DEVICE_VIRTUAL_GPU, 0, usable, 1 },
};

static void
fake_enumerate (GPtrArray *list)
{
  for (guint i = 0; i < G_N_ELEMENTS (fake_devices); i++)
    g_ptr_array_add (list, (gpointer) &fake_devices[i]);
}

static void
cpuonly_enumerate (GPtrArray *list)
{
  g_ptr_array_add (list, (gpointer) &fake_devices[0]);
}

static const TernBackendClass fake_class = { .name = "fakegpu", .gpus = TRUE, .enumerate = fake_enumerate };
static const TernBackendClass cpuonly_class = { .name = "cpuonly", .gpus = TRUE, .enumerate = cpuonly_enumerate };

static void
test_choose (void)
{
  g_autoptr (GError) error = NULL;

  tern_backend_register (&fake_class);
  tern_backend_register (&cpuonly_class);
  g_assert_cmpstr (tern_device_find ("fakegpu", &error)->name, ==, "fakegpu:3");
  g_assert_cmpstr (tern_device_find ("fakegpu:0", &error)->name, ==, "fakegpu:0");
  g_assert_null (tern_device_find ("cpuonly", &error));
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "found no GPU"));
  g_clear_error (&error);

  /* Vulkan's own: lavapipe is never chosen by the bare name, and a
   * context asked for "vulkan" where there is no GPU computes on the CPU. */
  const TernDevice *vulkan = tern_device_find ("vulkan", &error);
  if (vulkan != NULL)
    g_assert_cmpint (vulkan->kind, !=, TERN_DEVICE_CPU);
  else
    {
      g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_INVALID);
      g_clear_error (&error);
      g_autofree char *path = data_path ("models", "kjv-tiny-q4_k_m.gguf");
      g_autoptr (TernModel) model = tern_model_load (path, NULL, NULL, NULL, &error);
      g_assert_no_error (error);
      g_autoptr (TernContext) ctx = new_context_batch (model, "vulkan", 4);
      g_assert_true (g_str_has_prefix (tern_context_backend_name (ctx), "cpu ("));
      g_assert_nonnull (strstr (tern_context_backend_fallback (ctx), "vulkan could not be used: 'vulkan' found no GPU"));
    }
  g_clear_error (&error);

  g_assert_true (tern_device_name_is_gpu ("vulkan"));
  g_assert_true (tern_device_name_is_gpu ("vulkan:7"));
  g_assert_false (tern_device_name_is_gpu ("cpu"));
  g_assert_false (tern_device_name_is_gpu ("vulkanx"));
  g_assert_false (tern_device_name_is_gpu ("bogus"));
}

int
main (int argc, char **argv)
{
  guint n_devices;
  const TernDevice *const *devices = tern_devices (&n_devices);
  g_autoptr (GPtrArray) tests = g_ptr_array_new ();
  gboolean any = FALSE;

  g_test_init (&argc, &argv, NULL);
  g_autoptr (GPtrArray) models = test_data_list ("models", ".gguf", TRUE);
  for (guint d = 0; d <= n_devices; d++)
    {
      /* Past the last device: one skipped case per model where no device
       * but the CPU backend's is there. */
      const TernDevice *device = d < n_devices ? devices[d] : NULL;
      if ((device != NULL && strcmp (device->backend, "cpu") == 0) || (device == NULL && any))
        continue;
      any |= device != NULL;
      g_autofree char *snapshot_path = g_strdup_printf ("/engine/devices/%s/snapshot", device ? device->name : "none");
      g_test_add_data_func (snapshot_path, device, test_snapshot);
      for (guint i = 0; i < models->len; i++)
        {
          if (!g_test_slow () && !g_strv_contains (quick_models, models->pdata[i]))
            continue;
          DeviceTest *t = g_new (DeviceTest, 1);
          *t = (DeviceTest) { device, g_strdup (models->pdata[i]) };
          g_autofree char *test_path = g_strdup_printf ("/engine/devices/%s/%s", device ? device->name : "none",
                                                        t->model);
          g_ptr_array_add (tests, t);
          g_test_add_data_func (test_path, t, test_model);
        }
    }
  g_test_add_func ("/engine/devices/choose", test_choose);
  g_test_add_data_func ("/engine/devices/fallback/no-device", NULL, test_fallback);
  g_test_add_data_func ("/engine/devices/fallback/out-of-memory", "alloc=1", test_fallback);
  g_test_add_data_func ("/engine/devices/fallback/device-lost", "lost=2", test_fallback);
  int status = g_test_run ();
  for (guint i = 0; i < tests->len; i++)
    {
      DeviceTest *t = tests->pdata[i];
      g_free (t->model);
      g_free (t);
    }
  return status;
}
