/* SPDX-License-Identifier: GPL-3.0-or-later */
/* tern-cli history [--db PATH] list | show ID | search TEXT |
 *   export (ID | --all) --format md|json | import FILE.json | delete ID |
 *   restore ID | empty-trash | check [--repair]
 * The conversations of the store, for scripts and backups. */
#include "cli.h"

#include <stdio.h>
#include <string.h>
#include <tern/store.h>

static gboolean
parse_id (const char *text, gint64 *id)
{
  guint64 v;
  if (!g_ascii_string_to_unsigned (text, 10, 1, G_MAXINT64, &v, NULL))
    {
      g_printerr ("tern-cli history: '%s' is not a conversation id\n", text);
      return FALSE;
    }
  *id = (gint64) v;
  return TRUE;
}

static char *
format_time (gint64 us)
{
  g_autoptr (GDateTime) t = g_date_time_new_from_unix_local (us / G_USEC_PER_SEC);
  return t ? g_date_time_format (t, "%Y-%m-%d %H:%M") : g_strdup ("?");
}

static int
list (TernStore *store, gboolean trash, gint limit, gint offset)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) list = tern_store_conversation_list (store, trash, offset, limit, &error);

  if (list == NULL)
    return cli_fail (CLI_EXIT_MODEL, error);
  for (guint i = 0; i < list->len; i++)
    {
      const TernConversation *c = list->pdata[i];
      g_autofree char *when = format_time (c->updated_at);
      printf ("%" G_GINT64_FORMAT "\t%s\t%" G_GINT64_FORMAT " messages\t%s\n", c->id, when, c->n_messages, c->title);
    }
  return CLI_EXIT_OK;
}

static int
search (TernStore *store, const char *text, gint limit)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) hits = tern_store_search (store, text, "[", "]", 0, limit, &error);

  if (hits == NULL)
    return cli_fail (CLI_EXIT_MODEL, error);
  for (guint i = 0; i < hits->len; i++)
    {
      const TernSearchHit *h = hits->pdata[i];
      g_autofree char *snippet = g_strdelimit (g_strdup (h->snippet), "\n\t", ' ');
      printf ("%" G_GINT64_FORMAT "\t%s\t%s: %s\n", h->conversation_id, h->title, tern_role_name (h->role), snippet);
    }
  return CLI_EXIT_OK;
}

static int
export (TernStore *store, const char *id_text, gboolean all, const char *format)
{
  g_autoptr (GError) error = NULL;
  TernExportFormat fmt;
  gint64 id = 0;

  if (g_strcmp0 (format, "md") == 0)
    fmt = TERN_EXPORT_MARKDOWN;
  else if (g_strcmp0 (format, "json") == 0)
    fmt = TERN_EXPORT_JSON;
  else
    {
      g_printerr ("tern-cli history export: --format md or --format json\n");
      return CLI_EXIT_USAGE;
    }
  if (all == (id_text != NULL))
    {
      g_printerr ("tern-cli history export: give a conversation ID or --all\n");
      return CLI_EXIT_USAGE;
    }
  if (id_text && !parse_id (id_text, &id))
    return CLI_EXIT_USAGE;
  g_autofree char *text = tern_store_export (store, id_text ? &id : NULL, id_text ? 1 : 0, fmt, &error);
  if (text == NULL)
    return cli_fail (CLI_EXIT_MODEL, error);
  fputs (text, stdout);
  return CLI_EXIT_OK;
}

static int
import (TernStore *store, const char *path)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *json = NULL;
  gsize len, n_replaced;
  g_autoptr (GArray) ids = g_array_new (FALSE, FALSE, sizeof (gint64));

  if (!cli_read_file (path, TERN_STORE_IMPORT_MAX_BYTES, "an import", &json, &len, &error) ||
      !tern_store_import_full (store, json, (gssize) len, ids, &n_replaced, &error))
    return cli_fail (CLI_EXIT_MODEL, error);
  cli_say_replaced (path, n_replaced);
  for (guint i = 0; i < ids->len; i++)
    printf ("%" G_GINT64_FORMAT "\n", g_array_index (ids, gint64, i));
  return CLI_EXIT_OK;
}

/* Exit status 0 when the database is sound (after repairing it, with
 * @repair), 1 when problems remain. */
static int
check (TernStore *store, gboolean repair)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) problems = g_ptr_array_new_with_free_func (g_free);

  if (!tern_store_check (store, repair, problems, &error))
    return cli_fail (CLI_EXIT_MODEL, error);
  for (guint i = 0; i < problems->len; i++)
    printf ("%s%s\n", repair ? "repaired: " : "", (const char *) problems->pdata[i]);
  if (repair && problems->len > 0)
    {
      /* What a repair could not fix is still there. */
      g_ptr_array_set_size (problems, 0);
      if (!tern_store_check (store, FALSE, problems, &error))
        return cli_fail (CLI_EXIT_MODEL, error);
      for (guint i = 0; i < problems->len; i++)
        printf ("not repaired: %s\n", (const char *) problems->pdata[i]);
    }
  if (problems->len > 0)
    return 1;
  printf ("no problems found\n");
  return CLI_EXIT_OK;
}

int
cli_history (int argc, char **argv)
{
  g_autofree char *db = NULL, *format = NULL;
  gboolean all = FALSE, trash = FALSE, repair = FALSE, read_only = FALSE;
  gint limit = 100, offset = 0;
  const GOptionEntry entries[] = {
    { "db", 0, 0, G_OPTION_ARG_FILENAME, &db, "The database (default: Tern's, in the user's data folder)", "PATH" },
    { "format", 0, 0, G_OPTION_ARG_STRING, &format, "export: md (Markdown) or json", "FORMAT" },
    { "all", 0, 0, G_OPTION_ARG_NONE, &all, "export: every conversation not in the trash", NULL },
    { "trash", 0, 0, G_OPTION_ARG_NONE, &trash, "list: the conversations in the trash", NULL },
    { "limit", 0, 0, G_OPTION_ARG_INT, &limit, "list, search: at most N (default 100)", "N" },
    { "offset", 0, 0, G_OPTION_ARG_INT, &offset, "list: skip the first N", "N" },
    { "repair", 0, 0, G_OPTION_ARG_NONE, &repair, "check: repair what it finds", NULL },
    { "read-only", 0, 0, G_OPTION_ARG_NONE, &read_only, "list, show, search, export: open the database read-only",
      NULL },
    { NULL },
  };
  g_autoptr (GError) error = NULL;
  gint64 id;

  if (!cli_parse (&argc, &argv,
                  "list | show ID | search TEXT | export (ID | --all) | import FILE.json | delete ID | "
                  "check [--repair]",
                  "The stored conversations. list prints the newest first: id, last change, messages\n"
                  "and title. show prints one as Markdown (its current branch). search finds\n"
                  "messages with every word (the last as a prefix), matches in [brackets]. export\n"
                  "writes Markdown or JSON to standard output; import reads the JSON back and\n"
                  "prints the new ids. delete moves a conversation to the trash; restore ID takes\n"
                  "it back, empty-trash deletes the trash for good.\n"
                  "check looks for damage another program may have done to the database (SQLite's\n"
                  "quick check; loops of messages, parents and heads that are missing or in\n"
                  "another conversation; a search index out of step; snapshots of messages that\n"
                  "are gone) and prints each problem; it exits with 0 when there is none, 1 when\n"
                  "there are. check --repair also fixes them, all at once, and says what it\n"
                  "changed (a loop is cut at its oldest message, a lost parent makes a message a\n"
                  "first one, a bad head points at the newest message, the index is rebuilt,\n"
                  "orphan snapshots are dropped); it exits with 1 when problems remain.\n"
                  "While another program writes to the database, reading commands go on and\n"
                  "writing ones wait for it (saying so on stderr). list, show, search and export\n"
                  "open a database they cannot write (a read-only folder, a full disk, a newer\n"
                  "schema) read-only, saying so on stderr; --read-only always does.",
                  entries))
    return CLI_EXIT_USAGE;
  if (!cli_check_min ("history", "--limit", limit, 0) || !cli_check_min ("history", "--offset", offset, 0))
    return CLI_EXIT_USAGE;
  if (argc < 2)
    {
      g_printerr ("tern-cli history: expected a subcommand (see --help)\n");
      return CLI_EXIT_USAGE;
    }
  const char *sub = argv[1];
  const char *arg = argc > 2 ? argv[2] : NULL;
  gboolean no_arg = g_str_equal (sub, "list") || g_str_equal (sub, "check");
  gboolean wants_arg = !no_arg && !g_str_equal (sub, "empty-trash") && !g_str_equal (sub, "export");
  if ((wants_arg && argc != 3) || (!wants_arg && argc > 3) || (no_arg && argc != 2))
    {
      g_printerr ("tern-cli history %s: wrong arguments (see --help)\n", sub);
      return CLI_EXIT_USAGE;
    }

  gboolean reads = g_str_equal (sub, "list") || g_str_equal (sub, "show") || g_str_equal (sub, "search") ||
                   g_str_equal (sub, "export");
  if (read_only && !reads)
    {
      g_printerr ("tern-cli history %s: --read-only is for list, show, search and export\n", sub);
      return CLI_EXIT_USAGE;
    }
  g_autoptr (TernStore) store = read_only ? tern_store_open_read_only (db, &error) : cli_store_open (db, &error);
  if (store == NULL && reads && !read_only &&
      (g_error_matches (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_READ_ONLY) ||
       g_error_matches (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_FULL) ||
       g_error_matches (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_MISMATCH)))
    {
      g_autoptr (GError) why = g_steal_pointer (&error);
      store = tern_store_open_read_only (db, &error);
      if (store)
        g_printerr ("tern-cli: reading the database read-only: %s\n", why->message);
    }
  if (store == NULL)
    return cli_fail (CLI_EXIT_MODEL, error);

  if (g_str_equal (sub, "check"))
    return check (store, repair);
  if (g_str_equal (sub, "list"))
    return list (store, trash, limit, offset);
  if (g_str_equal (sub, "search"))
    return search (store, arg, limit);
  if (g_str_equal (sub, "export"))
    return export (store, arg, all, format);
  if (g_str_equal (sub, "import"))
    return import (store, arg);
  if (g_str_equal (sub, "empty-trash"))
    {
      gint64 n = tern_store_empty_trash (store, &error);
      if (n < 0)
        return cli_fail (CLI_EXIT_MODEL, error);
      printf ("%" G_GINT64_FORMAT " conversations deleted\n", n);
      return CLI_EXIT_OK;
    }
  if (!g_str_equal (sub, "show") && !g_str_equal (sub, "delete") && !g_str_equal (sub, "restore"))
    {
      g_printerr ("tern-cli history: unknown subcommand '%s' (see --help)\n", sub);
      return CLI_EXIT_USAGE;
    }
  if (!parse_id (arg, &id))
    return CLI_EXIT_USAGE;
  if (g_str_equal (sub, "show"))
    return export (store, arg, FALSE, "md");
  if (g_str_equal (sub, "delete") ? !tern_store_conversation_trash (store, id, &error)
                                  : !tern_store_conversation_untrash (store, id, &error))
    return cli_fail (CLI_EXIT_MODEL, error);
  return CLI_EXIT_OK;
}
