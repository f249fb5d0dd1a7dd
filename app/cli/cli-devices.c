/* SPDX-License-Identifier: GPL-3.0-or-later */
/* tern-cli devices [--json]
 * and the check of the inference commands' --backend. */
#include "cli.h"

#include <json-glib/json-glib.h>
#include <tern/backend.h>

gboolean
cli_check_backend (const char *command, const char *name)
{
  g_autoptr (GError) error = NULL;

  if (name == NULL || tern_device_find (name, &error) != NULL)
    return TRUE;
  g_printerr ("tern-cli %s: %s\n", command, error->message);
  return FALSE;
}

static void
print_text (const TernDevice *const *devices, guint n)
{
  for (guint i = 0; i < n; i++)
    {
      const TernDevice *d = devices[i];
      g_autofree char *memory = d->memory > 0 ? g_format_size_full (d->memory, G_FORMAT_SIZE_IEC_UNITS)
                                              : g_strdup ("unknown");

      g_print ("%s%s\n", i > 0 ? "\n" : "", d->name);
      g_print ("  %-18s %s\n", "description", d->description);
      g_print ("  %-18s %s\n", "kind", tern_device_kind_name (d->kind));
      g_print ("  %-18s %s\n", "backend", d->backend);
      g_print ("  %-18s %s\n", "memory", memory);
      for (guint f = 0; f < d->n_features; f++)
        g_print ("  %-18s %s\n", d->features[f].key, d->features[f].value);
    }
}

static void
print_json (const TernDevice *const *devices, guint n)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();

  json_builder_begin_array (b);
  for (guint i = 0; i < n; i++)
    {
      const TernDevice *d = devices[i];

      json_builder_begin_object (b);
      json_builder_set_member_name (b, "name");
      json_builder_add_string_value (b, d->name);
      json_builder_set_member_name (b, "description");
      json_builder_add_string_value (b, d->description);
      json_builder_set_member_name (b, "kind");
      json_builder_add_string_value (b, tern_device_kind_name (d->kind));
      json_builder_set_member_name (b, "backend");
      json_builder_add_string_value (b, d->backend);
      json_builder_set_member_name (b, "memory");
      d->memory > 0 ? json_builder_add_int_value (b, (gint64) d->memory) : json_builder_add_null_value (b);
      json_builder_set_member_name (b, "features");
      json_builder_begin_object (b);
      for (guint f = 0; f < d->n_features; f++)
        {
          json_builder_set_member_name (b, d->features[f].key);
          json_builder_add_string_value (b, d->features[f].value);
        }
      json_builder_end_object (b);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);

  g_autoptr (JsonNode) root = json_builder_get_root (b);
  g_autofree char *text = json_to_string (root, TRUE);
  g_print ("%s\n", text);
}

int
cli_devices (int argc, char **argv)
{
  gboolean json = FALSE;
  const GOptionEntry entries[] = {
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print a JSON array of objects", NULL },
    { NULL },
  };
  guint n;

  if (!cli_parse (&argc, &argv, NULL,
                  "List the devices Tern can compute on, by the name --backend takes: each with\n"
                  "its kind, memory and features (for the CPU: the level of Tern's kernels it\n"
                  "runs, the instruction sets they use, the threads used by default).",
                  entries))
    return CLI_EXIT_USAGE;
  if (argc != 1)
    {
      g_printerr ("tern-cli devices: expected no arguments (see --help)\n");
      return CLI_EXIT_USAGE;
    }

  const TernDevice *const *devices = tern_devices (&n);
  if (json)
    print_json (devices, n);
  else
    print_text (devices, n);
  return CLI_EXIT_OK;
}
