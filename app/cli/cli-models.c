/* SPDX-License-Identifier: GPL-3.0-or-later */
/* tern-cli models [--db PATH]
 * The model library of the store, and whether each file is still the one
 * added. */
#include "cli.h"

#include <stdio.h>
#include <tern/store.h>

static const char *
status_word (TernModelStatus status)
{
  switch (status)
    {
    case TERN_MODEL_OK: return "ok";
    case TERN_MODEL_MISSING: return "missing";
    case TERN_MODEL_CHANGED: return "changed";
    }
  g_assert_not_reached ();
}

int
cli_models (int argc, char **argv)
{
  g_autofree char *db = NULL;
  const GOptionEntry entries[] = {
    { "db", 0, 0, G_OPTION_ARG_FILENAME, &db, "The database (default: Tern's, in the user's data folder)", "PATH" },
    { NULL },
  };
  g_autoptr (GError) error = NULL;

  if (!cli_parse (&argc, &argv, "",
                  "The model library, the model used last first: id, the state of the file, name\n"
                  "and path. The state is ok, missing (moved or deleted), or changed: not the file\n"
                  "added, as after it changed on disk while in use; load it again to add it anew.",
                  entries))
    return CLI_EXIT_USAGE;
  if (argc != 1)
    {
      g_printerr ("tern-cli models: takes no arguments (see --help)\n");
      return CLI_EXIT_USAGE;
    }

  g_autoptr (TernStore) store = tern_store_open (db, &error);
  if (store == NULL)
    return cli_fail (CLI_EXIT_MODEL, error);
  g_autoptr (GPtrArray) models = tern_store_model_list (store, &error);
  if (models == NULL)
    return cli_fail (CLI_EXIT_MODEL, error);
  for (guint i = 0; i < models->len; i++)
    {
      const TernStoreModel *m = models->pdata[i];
      TernModelStatus status;
      if (!tern_store_model_check (store, m->id, &status, &error))
        return cli_fail (CLI_EXIT_MODEL, error);
      printf ("%" G_GINT64_FORMAT "\t%s\t%s\t%s\n", m->id, status_word (status), m->name, m->path);
    }
  return CLI_EXIT_OK;
}
