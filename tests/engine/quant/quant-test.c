/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <tern/gguf.h>

#include <json-glib/json-glib.h>

#include "quant-test.h"

const char *const fixture_models[] = {
  "kjv-tiny-f32", "kjv-tiny-f16", "kjv-tiny-bf16", "kjv-tiny-q8_0", "kjv-tiny-q4_0",
  "kjv-tiny-q4_1", "kjv-tiny-q5_0", "kjv-tiny-q5_1", "kjv-tiny-q2_k", "kjv-tiny-q3_k_m",
  "kjv-tiny-q4_k_m", "kjv-tiny-q5_k_m", "kjv-tiny-q6_k", "kjv-tiny-tq1_0", "kjv-tiny-tq2_0",
  "kjv-ternary-f32", "kjv-ternary-tq1_0", "kjv-ternary-tq2_0",
};
const gsize n_fixture_models = G_N_ELEMENTS (fixture_models);

#define MAX_REPORTED 20

void
mismatch (Mismatches *m, const char *format, ...)
{
  if (++m->count > MAX_REPORTED)
    return;
  va_list args;
  va_start (args, format);
  g_autofree char *text = g_strdup_vprintf (format, args);
  va_end (args);
  g_test_message ("mismatch %u: %s", m->count, text);
}

void
mismatches_done (const Mismatches *m, const char *what)
{
  if (m->count > 0)
    g_test_fail_printf ("%u mismatches in %s%s", m->count, what,
                        m->count > MAX_REPORTED ? " (the first " G_STRINGIFY (MAX_REPORTED) " are shown)" : "");
}

static GHashTable *models; /* name => QuantTestModel */

static void
model_free (gpointer data)
{
  QuantTestModel *m = data;
  tern_gguf_free (m->gguf);
  json_node_unref (m->reference);
  g_free (m);
}

QuantTestModel *
quant_test_model (const char *name)
{
  QuantTestModel *m;

  if (models == NULL)
    models = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, model_free);
  m = g_hash_table_lookup (models, name);
  if (m)
    return m;

  g_autoptr (GError) error = NULL;
  g_autofree char *file = g_strconcat (name, ".gguf", NULL);
  g_autofree char *path = g_test_build_filename (G_TEST_DIST, "data", "models", file, NULL);
  g_autofree char *json_file = g_strconcat (name, ".dequant.json", NULL);
  g_autofree char *json_path = g_test_build_filename (G_TEST_DIST, "data", "reference", json_file, NULL);

  m = g_new0 (QuantTestModel, 1);
  m->gguf = tern_gguf_open (path, &error);
  g_assert_no_error (error);
  g_autoptr (JsonParser) parser = json_parser_new ();
  json_parser_load_from_file (parser, json_path, &error);
  g_assert_no_error (error);
  m->reference = json_node_ref (json_parser_get_root (parser));
  g_assert_true (JSON_NODE_HOLDS_ARRAY (m->reference));
  g_hash_table_insert (models, g_strdup (name), m);
  return m;
}

void
quant_test_models_free (void)
{
  g_clear_pointer (&models, g_hash_table_destroy);
}
