/* SPDX-License-Identifier: GPL-3.0-or-later */
/* bench-matmul [--backend NAME]... [--tokens N]... MODEL.gguf: the time of
 * the weight products of one layer of MODEL (its Q, K, V, O, gate, up and
 * down matrices) on each device (default: every device the registry lists),
 * for batches of 1 token (generation) and 64 (a prompt chunk): milliseconds
 * per layer, the weight bytes read per second, and multiply-adds per second.
 * The median of 5 runs, after one that compiles and warms. A Vulkan device
 * with integer dot products is measured on both paths of its products:
 * "float" and "int8" (the types that have one; the others stay float). */
#include <stdio.h>
#include <tern/error.h>
#include <tern/model.h>

#include "backend/backend.h"
#include "backend/vulkan/vulkan-private.h"
#include "bench-devices.h"

static const TernWeightKind kinds[] = {
  TERN_WEIGHT_Q, TERN_WEIGHT_K, TERN_WEIGHT_V, TERN_WEIGHT_O, TERN_WEIGHT_GATE, TERN_WEIGHT_UP, TERN_WEIGHT_DOWN,
};

static int
compare_doubles (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return (x > y) - (x < y);
}

/* The paths a Vulkan device's products can take. */
typedef enum {
  PATH_DEFAULT,
  PATH_FLOAT,
  PATH_INT8,
} Path;

/* Seconds the layer's products of @n tokens take on @device, the median of
 * @reps; -1 when the device cannot be opened. */
static double
time_layer (TernModel *model, const char *device, Path path, gint32 n, guint reps)
{
  const TernHParams *hp = tern_model_hparams (model);
  TernBackendParams params = { tern_model_weights (model), 16, TERN_TYPE_F16, TERN_KERNEL_BEST, 2 };
  g_autoptr (GError) error = NULL;
  TernBackend *b = tern_backend_new (device, &params, &error);
  gint64 width = MAX (hp->n_embd, hp->n_ff);
  g_autofree double *times = g_new (double, reps);

  if (b == NULL)
    {
      g_printerr ("%s: %s\n", device, error->message);
      return -1;
    }
  if (path != PATH_DEFAULT)
    g_assert (tern_backend_vulkan_set_int_dot (b, path == PATH_INT8));
  g_autofree float *x = g_new (float, n * width);
  g_autoptr (GRand) rand = g_rand_new_with_seed (7);
  for (gint64 i = 0; i < n * width; i++)
    x[i] = (float) g_rand_double_range (rand, -1, 1);
  /* The inputs of the products: rows of n_embd (Q ... up) and n_ff (down). */
  TernBuf *in_embd = b->ops->buf_new (b, n, hp->n_embd, NULL), *in_ff = b->ops->buf_new (b, n, hp->n_ff, NULL);
  TernBuf *out = b->ops->buf_new (b, n, width, NULL);
  g_assert (in_embd != NULL && in_ff != NULL && out != NULL);
  g_assert (b->ops->write (b, in_embd, 0, n, x, NULL) && b->ops->write (b, in_ff, 0, n, x, NULL));
  g_assert (tern_weights_acquire (params.weights, 0, NULL));
  for (guint r = 0; r <= reps; r++)
    {
      gint64 start = g_get_monotonic_time ();
      b->ops->begin (b, NULL);
      for (guint k = 0; k < G_N_ELEMENTS (kinds); k++)
        b->ops->matmul (b, kinds[k] == TERN_WEIGHT_DOWN ? in_ff : in_embd, n, 0, kinds[k], TERN_WEIGHT_N_KINDS,
                        out);
      g_assert (b->ops->submit (b, NULL) && b->ops->read (b, out, 0, 1, x, NULL));
      if (r > 0)
        times[r - 1] = (g_get_monotonic_time () - start) / 1e6;
    }
  tern_weights_release (params.weights, 0);
  b->ops->buf_free (b, in_embd);
  b->ops->buf_free (b, in_ff);
  b->ops->buf_free (b, out);
  b->ops->free (b);
  qsort (times, reps, sizeof *times, compare_doubles);
  return times[reps / 2];
}

int
main (int argc, char **argv)
{
  g_auto (GStrv) backends = NULL;
  g_auto (GStrv) tokens = NULL;
  GOptionEntry entries[] = {
    { "backend", 0, 0, G_OPTION_ARG_STRING_ARRAY, &backends, "A device to measure (default: each)", "NAME" },
    { "tokens", 0, 0, G_OPTION_ARG_STRING_ARRAY, &tokens, "Tokens per product (default: 1 and 64)", "N" },
    { NULL },
  };
  g_autoptr (GOptionContext) options = g_option_context_new ("MODEL.gguf - one layer's weight products");
  g_autoptr (GError) error = NULL;

  g_option_context_add_main_entries (options, entries, NULL);
  if (!g_option_context_parse (options, &argc, &argv, &error) || argc != 2)
    {
      g_printerr ("%s\n", error ? error->message : "one model file, please");
      return 1;
    }
  g_autoptr (TernModel) model = tern_model_load (argv[1], NULL, NULL, NULL, &error);
  if (model == NULL)
    {
      g_printerr ("%s: %s\n", argv[1], error->message);
      return 1;
    }
  if (backends == NULL)
    backends = bench_all_devices ();
  if (tokens == NULL)
    tokens = g_strsplit ("1 64", " ", -1);

  double bytes = 0, macs = 0;
  for (guint k = 0; k < G_N_ELEMENTS (kinds); k++)
    {
      const TernGgufTensor *t = tern_model_weight (model, 0, kinds[k]);
      bytes += (double) t->n_bytes;
      macs += (double) t->ne[0] * (double) t->ne[1];
    }
  g_print ("| %-10s | %-7s | %6s | %10s | %8s | %8s |\n", "device", "path", "tokens", "ms/layer", "GB/s", "GMAC/s");
  g_print ("| ---------- | ------- | -----: | ---------: | -------: | -------: |\n");
  for (guint d = 0; backends[d] != NULL; d++)
    {
      const TernDevice *device = tern_device_find (backends[d], NULL);
      const char *dot = device ? tern_device_feature (device, "integer-dot-product") : NULL;
      gboolean two = g_str_has_prefix (dot ? dot : "no", "yes");
      for (Path path = two ? PATH_FLOAT : PATH_DEFAULT; path <= (two ? PATH_INT8 : PATH_DEFAULT); path++)
        for (guint t = 0; tokens[t] != NULL; t++)
          {
            gint32 n = (gint32) g_ascii_strtoll (tokens[t], NULL, 10);
            if (n < 1)
              {
                g_printerr ("--tokens takes a positive number\n");
                return 1;
              }
            double s = time_layer (model, backends[d], path, n, 5);
            if (s < 0)
              return 2;
            g_print ("| %-10s | %-7s | %6d | %10.2f | %8.2f | %8.2f |\n", backends[d],
                     path == PATH_DEFAULT ? "-" : path == PATH_FLOAT ? "float" : "int8", n, s * 1e3, bytes / s / 1e9,
                     macs * n / s / 1e9);
          }
    }
  return 0;
}
