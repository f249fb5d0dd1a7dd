/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The compression report: freeing it and writing it as JSON. */
#include <tern/compress.h>

#include <json-glib/json-glib.h>

static void
tensor_clear (gpointer data)
{
  TernCompressTensor *t = data;

  g_free (t->name);
}

void
tern_compress_report_free (TernCompressReport *report)
{
  if (report == NULL)
    return;
  g_free (report->in_path);
  g_free (report->out_path);
  if (report->tensors)
    {
      g_array_set_clear_func (report->tensors, tensor_clear);
      g_array_unref (report->tensors);
    }
  g_free (report);
}

double
tern_compress_report_bits_per_weight (const TernCompressReport *report)
{
  g_return_val_if_fail (report != NULL, 0.0);

  return report->n_weights ? 8.0 * (double) report->out_size / (double) report->n_weights : 0.0;
}

static void
add_size (JsonBuilder *b, const char *name, guint64 v)
{
  json_builder_set_member_name (b, name);
  json_builder_add_int_value (b, (gint64) v);
}

static void
add_number (JsonBuilder *b, const char *name, double v)
{
  json_builder_set_member_name (b, name);
  json_builder_add_double_value (b, v);
}

static void
add_text (JsonBuilder *b, const char *name, const char *v)
{
  json_builder_set_member_name (b, name);
  json_builder_add_string_value (b, v);
}

char *
tern_compress_report_to_json (const TernCompressReport *report)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  g_autoptr (JsonNode) root = NULL;
  g_autofree char *text = NULL;

  g_return_val_if_fail (report != NULL, NULL);

  json_builder_begin_object (b);
  add_text (b, "input", report->in_path);
  add_text (b, "output", report->out_path);
  add_text (b, "type", tern_type_name (report->type));
  add_text (b, "method", tern_compress_method_name (report->method));
  add_size (b, "input_bytes", report->in_size);
  add_size (b, "output_bytes", report->out_size);
  if (report->max_size > 0)
    add_size (b, "max_bytes", report->max_size);
  add_number (b, "ratio", report->out_size ? (double) report->in_size / (double) report->out_size : 0.0);
  add_number (b, "bits_per_weight", tern_compress_report_bits_per_weight (report));
  add_size (b, "weights", report->n_weights);
  add_size (b, "ternary_weights", report->n_ternary);
  add_number (b, "sparsity", report->sparsity);
  add_number (b, "relative_error", report->rel_error);
  add_number (b, "seconds", report->seconds);
  if (report->verdict != TERN_COMPRESS_NOT_EVALUATED)
    {
      static const char *const verdicts[] = { "", "usable", "degraded", "unusable" };
      g_autofree char *verdict = tern_compress_report_verdict (report);

      json_builder_set_member_name (b, "quality");
      json_builder_begin_object (b);
      add_text (b, "verdict", verdicts[report->verdict]);
      add_text (b, "verdict_text", verdict);
      add_number (b, "perplexity_before", report->ppl_before);
      add_number (b, "perplexity_after", report->ppl_after);
      add_size (b, "perplexity_context", (guint64) report->eval_ctx);
      add_size (b, "perplexity_tokens", (guint64) report->eval_tokens);
      add_number (b, "tokens_per_second_before", report->tps_before);
      add_number (b, "tokens_per_second_after", report->tps_after);
      json_builder_end_object (b);
    }
  json_builder_set_member_name (b, "tensors");
  json_builder_begin_array (b);
  for (guint i = 0; i < report->tensors->len; i++)
    {
      const TernCompressTensor *t = &g_array_index (report->tensors, TernCompressTensor, i);

      json_builder_begin_object (b);
      add_text (b, "name", t->name);
      add_text (b, "input_type", tern_type_name (t->in_type));
      add_text (b, "output_type", tern_type_name (t->out_type));
      add_size (b, "elements", t->n_elements);
      add_size (b, "input_bytes", t->in_bytes);
      add_size (b, "output_bytes", t->out_bytes);
      add_number (b, "sparsity", t->sparsity);
      add_number (b, "relative_error", t->rel_error);
      if (t->sensitivity >= 0.0)
        add_number (b, "sensitivity", t->sensitivity);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  json_builder_end_object (b);

  root = json_builder_get_root (b);
  json_generator_set_root (gen, root);
  json_generator_set_pretty (gen, TRUE);
  text = json_generator_to_data (gen, NULL);
  return g_strconcat (text, "\n", NULL);
}
