/* SPDX-License-Identifier: GPL-3.0-or-later */
/* tern-cli info MODEL [--json] */
#include "cli.h"

#include <json-glib/json-glib.h>
#include <tern/gguf.h>

typedef struct {
  guint count;
  guint64 bytes;
  gint64 elems;
} TypeStats;

typedef struct {
  char *architecture;
  char *name;
  gint64 n_params;
  guint64 context_length;  /* 0 when unknown */
  char *tokenizer;
  char *pre;
  guint64 n_vocab;
  gboolean chat_template;
  TypeStats types[TERN_TYPE_COUNT];
} ModelInfo;

static char *
dup_string (const TernGguf *gguf, const char *key)
{
  TernGgufString s;
  if (!tern_gguf_get_string (gguf, key, &s, NULL))
    return NULL;
  return g_utf8_make_valid (s.data, s.len);
}

static void
collect (const TernGguf *gguf, ModelInfo *info)
{
  const TernGgufValue *tokens;

  info->architecture = dup_string (gguf, "general.architecture");
  info->name = dup_string (gguf, "general.name");
  info->tokenizer = dup_string (gguf, "tokenizer.ggml.model");
  info->pre = dup_string (gguf, "tokenizer.ggml.pre");
  info->chat_template = tern_gguf_find (gguf, "tokenizer.chat_template") != NULL;
  if (info->architecture)
    {
      g_autofree char *key = g_strconcat (info->architecture, ".context_length", NULL);
      if (!tern_gguf_get_uint (gguf, key, &info->context_length, NULL))
        info->context_length = 0;
    }
  if (tern_gguf_get_array (gguf, "tokenizer.ggml.tokens", TERN_GGUF_STRING, &tokens, NULL))
    info->n_vocab = tokens->n;

  for (gsize i = 0; i < tern_gguf_n_tensors (gguf); i++)
    {
      const TernGgufTensor *t = tern_gguf_tensor (gguf, i);
      TypeStats *s = &info->types[t->type];
      s->count++;
      s->bytes += t->n_bytes;
      s->elems += tern_gguf_tensor_n_elems (t);
      info->n_params += tern_gguf_tensor_n_elems (t);
    }
}

static void
print_text (const char *path, const TernGguf *gguf, const ModelInfo *info)
{
  gsize size;
  tern_gguf_file_data (gguf, &size);

  g_print ("file:            %s\n", path);
  g_print ("gguf version:    %u\n", tern_gguf_version (gguf));
  g_print ("size:            %" G_GSIZE_FORMAT " bytes\n", size);
  g_print ("name:            %s\n", info->name ? info->name : "(none)");
  g_print ("architecture:    %s\n", info->architecture ? info->architecture : "(none)");
  g_print ("parameters:      %" G_GINT64_FORMAT "\n", info->n_params);
  if (info->context_length)
    g_print ("context length:  %" G_GUINT64_FORMAT "\n", info->context_length);
  else
    g_print ("context length:  (unknown)\n");
  g_print ("tokenizer:       %s", info->tokenizer ? info->tokenizer : "(none)");
  if (info->pre)
    g_print (" (pre-tokenizer %s)", info->pre);
  g_print (", %" G_GUINT64_FORMAT " tokens\n", info->n_vocab);
  g_print ("chat template:   %s\n", info->chat_template ? "yes" : "no");
  g_print ("tensors:         %" G_GSIZE_FORMAT "\n", tern_gguf_n_tensors (gguf));
  for (guint t = 0; t < TERN_TYPE_COUNT; t++)
    if (info->types[t].count > 0)
      g_print ("  %-6s %4u tensors %12" G_GUINT64_FORMAT " bytes %12" G_GINT64_FORMAT " elements\n",
               tern_type_name (t), info->types[t].count, info->types[t].bytes, info->types[t].elems);
}

static void
print_json (const char *path, const TernGguf *gguf, const ModelInfo *info)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  gsize size;
  tern_gguf_file_data (gguf, &size);

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "file");
  json_builder_add_string_value (b, path);
  json_builder_set_member_name (b, "gguf_version");
  json_builder_add_int_value (b, tern_gguf_version (gguf));
  json_builder_set_member_name (b, "size");
  json_builder_add_int_value (b, (gint64) size);
  json_builder_set_member_name (b, "name");
  info->name ? json_builder_add_string_value (b, info->name) : json_builder_add_null_value (b);
  json_builder_set_member_name (b, "architecture");
  info->architecture ? json_builder_add_string_value (b, info->architecture) : json_builder_add_null_value (b);
  json_builder_set_member_name (b, "parameters");
  json_builder_add_int_value (b, info->n_params);
  json_builder_set_member_name (b, "context_length");
  info->context_length ? json_builder_add_int_value (b, (gint64) info->context_length)
                       : json_builder_add_null_value (b);
  json_builder_set_member_name (b, "tokenizer");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "model");
  info->tokenizer ? json_builder_add_string_value (b, info->tokenizer) : json_builder_add_null_value (b);
  json_builder_set_member_name (b, "pre");
  info->pre ? json_builder_add_string_value (b, info->pre) : json_builder_add_null_value (b);
  json_builder_set_member_name (b, "n_vocab");
  json_builder_add_int_value (b, (gint64) info->n_vocab);
  json_builder_end_object (b);
  json_builder_set_member_name (b, "chat_template");
  json_builder_add_boolean_value (b, info->chat_template);
  json_builder_set_member_name (b, "n_tensors");
  json_builder_add_int_value (b, (gint64) tern_gguf_n_tensors (gguf));
  json_builder_set_member_name (b, "tensor_types");
  json_builder_begin_object (b);
  for (guint t = 0; t < TERN_TYPE_COUNT; t++)
    if (info->types[t].count > 0)
      {
        json_builder_set_member_name (b, tern_type_name (t));
        json_builder_begin_object (b);
        json_builder_set_member_name (b, "count");
        json_builder_add_int_value (b, info->types[t].count);
        json_builder_set_member_name (b, "bytes");
        json_builder_add_int_value (b, (gint64) info->types[t].bytes);
        json_builder_set_member_name (b, "elements");
        json_builder_add_int_value (b, info->types[t].elems);
        json_builder_end_object (b);
      }
  json_builder_end_object (b);
  json_builder_end_object (b);

  g_autoptr (JsonNode) root = json_builder_get_root (b);
  g_autofree char *text = json_to_string (root, TRUE);
  g_print ("%s\n", text);
}

int
cli_info (int argc, char **argv)
{
  gboolean json = FALSE;
  const GOptionEntry entries[] = {
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print one JSON object", NULL },
    { NULL },
  };
  g_autoptr (GError) error = NULL;

  if (!cli_parse (&argc, &argv, "MODEL", "Describe a GGUF model: architecture, parameters, tensor types,\n"
                  "context length, tokenizer and chat template.", entries))
    return CLI_EXIT_USAGE;
  if (argc != 2)
    {
      g_printerr ("tern-cli info: expected one MODEL argument (see --help)\n");
      return CLI_EXIT_USAGE;
    }

  g_autoptr (TernGguf) gguf = tern_gguf_open (argv[1], &error);
  if (gguf == NULL)
    return cli_fail (CLI_EXIT_MODEL, error);

  ModelInfo info = { 0 };
  collect (gguf, &info);
  if (json)
    print_json (argv[1], gguf, &info);
  else
    print_text (argv[1], gguf, &info);
  g_free (info.architecture);
  g_free (info.name);
  g_free (info.tokenizer);
  g_free (info.pre);
  return CLI_EXIT_OK;
}
