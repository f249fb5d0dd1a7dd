/* SPDX-License-Identifier: GPL-3.0-or-later */
/* tern-cli template (MODEL | --template-file T --bos S --eos S) --messages FILE
 *   [--no-generation-prompt] [--now TIME] */
#include "cli.h"

#include <json-glib/json-glib.h>
#include <stdio.h>
#include <tern/chat-template.h>
#include <tern/error.h>
#include <tern/json-text.h>

/* Reads a JSON array of {"role", "content"} objects. The strings stay
 * owned by @parser. */
static GArray *
read_messages (JsonParser *parser, const char *path, GError **error)
{
  g_autoptr (GArray) messages = g_array_new (FALSE, FALSE, sizeof (TernChatMessage));
  JsonNode *root;

  g_autofree char *json = NULL;
  g_autofree char *mended = NULL;
  gsize len, mended_len, n_replaced;

  /* Checked first: json-glib overflows its stack on deep nesting. */
  if (!cli_read_file (path, CLI_TEXT_MAX_BYTES, "a messages file", &json, &len, error))
    return NULL;
  if (!tern_json_mend (json, len, CLI_JSON_MAX_DEPTH, &mended, &mended_len, &n_replaced, error))
    {
      g_prefix_error (error, "%s: ", path);
      return NULL;
    }
  cli_say_replaced (path, n_replaced);
  if (!json_parser_load_from_data (parser, mended ? mended : json, (gssize) mended_len, error))
    return NULL;
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_ARRAY (root))
    {
      g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_INVALID, "%s: expected a JSON array of messages",
                   path);
      return NULL;
    }
  JsonArray *array = json_node_get_array (root);
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      JsonNode *node = json_array_get_element (array, i);
      JsonObject *o = JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
      JsonNode *role = o ? json_object_get_member (o, "role") : NULL;
      JsonNode *content = o ? json_object_get_member (o, "content") : NULL;

      if (role == NULL || content == NULL || json_node_get_value_type (role) != G_TYPE_STRING
          || json_node_get_value_type (content) != G_TYPE_STRING)
        {
          g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_INVALID,
                       "%s: message %u is not an object with string \"role\" and \"content\"", path, i + 1);
          return NULL;
        }
      TernChatMessage m = { json_node_get_string (role), json_node_get_string (content) };
      g_array_append_val (messages, m);
    }
  return g_steal_pointer (&messages);
}

static TernChatTemplate *
load_template (const char *model_path, const char *file, const char *bos, const char *eos, GError **error)
{
  g_autofree char *source = NULL;
  gsize len;

  if (model_path)
    {
      g_autoptr (TernModel) model = tern_model_load (model_path, NULL, NULL, NULL, error);
      TernChatTemplate *tmpl;

      if (model == NULL)
        return NULL;
      tmpl = tern_chat_template_new_from_gguf (tern_model_gguf (model), tern_model_tokenizer (model), error);
      if (tmpl && tern_chat_template_is_fallback (tmpl))
        g_printerr ("tern-cli: %s has no chat template; using ChatML\n", model_path);
      return tmpl;
    }
  if (!cli_read_file (file, CLI_TEMPLATE_MAX_BYTES, "a chat template", &source, &len, error))
    return NULL;
  return tern_chat_template_new (source, (gssize) len, bos, eos, error);
}

int
cli_template (int argc, char **argv)
{
  g_autofree char *file = NULL, *bos = NULL, *eos = NULL, *messages_path = NULL, *now_text = NULL;
  gboolean no_generation_prompt = FALSE;
  const GOptionEntry entries[] = {
    { "template-file", 0, 0, G_OPTION_ARG_FILENAME, &file, "Use the Jinja template in T rather than a model's", "T" },
    { "bos", 0, 0, G_OPTION_ARG_STRING, &bos, "bos_token for --template-file (default: empty)", "S" },
    { "eos", 0, 0, G_OPTION_ARG_STRING, &eos, "eos_token for --template-file (default: empty)", "S" },
    { "messages", 'm', 0, G_OPTION_ARG_FILENAME, &messages_path,
      "A JSON array of {\"role\": …, \"content\": …} objects", "FILE" },
    { "no-generation-prompt", 0, 0, G_OPTION_ARG_NONE, &no_generation_prompt,
      "Leave out the start of the assistant's turn", NULL },
    { "now", 0, 0, G_OPTION_ARG_STRING, &now_text,
      "The local time strftime_now() sees, ISO 8601 (default: now)", "TIME" },
    { NULL },
  };
  g_autoptr (GError) error = NULL;
  g_autoptr (GDateTime) now = NULL;

  if (!cli_parse (&argc, &argv, "[MODEL]",
                  "Render a chat template: print the prompt a model's template (or the template\n"
                  "in a file) makes of a conversation, exactly, with no added newline. The\n"
                  "template sees messages, add_generation_prompt, bos_token and eos_token; a\n"
                  "model without a template gets ChatML (noted on stderr).",
                  entries))
    return CLI_EXIT_USAGE;
  if ((argc == 2) == (file != NULL) || argc > 2 || messages_path == NULL)
    {
      g_printerr ("tern-cli template: expected one of MODEL or --template-file, and --messages (see --help)\n");
      return CLI_EXIT_USAGE;
    }
  if (now_text)
    {
      g_autoptr (GTimeZone) local = g_time_zone_new_local ();
      now = g_date_time_new_from_iso8601 (now_text, local);
      if (now == NULL)
        {
          g_printerr ("tern-cli template: --now: '%s' is not an ISO 8601 time\n", now_text);
          return CLI_EXIT_USAGE;
        }
    }

  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GArray) messages = read_messages (parser, messages_path, &error);
  if (messages == NULL)
    return cli_fail (CLI_EXIT_MODEL, error);
  g_autoptr (TernChatTemplate) tmpl = load_template (argc == 2 ? argv[1] : NULL, file, bos, eos, &error);
  if (tmpl == NULL)
    return cli_fail (CLI_EXIT_MODEL, error);

  TernChatRenderOptions options;
  tern_chat_render_options_init (&options);
  options.add_generation_prompt = !no_generation_prompt;
  options.now = now;
  g_autoptr (TernChatPrompt) prompt =
    tern_chat_template_render (tmpl, (const TernChatMessage *) messages->data, messages->len, &options, &error);
  if (prompt == NULL)
    return cli_fail (CLI_EXIT_MODEL, error);

  gsize len;
  const char *text = tern_chat_prompt_text (prompt, &len);
  fwrite (text, 1, len, stdout);
  fflush (stdout);
  return CLI_EXIT_OK;
}
