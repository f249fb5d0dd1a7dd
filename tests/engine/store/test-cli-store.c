/* SPDX-License-Identifier: GPL-3.0-or-later */
/* tern-cli chat --db and tern-cli history, as scripts drive them: a chat
 * resumed in a new process (from its snapshot, or evaluated again) goes on
 * exactly as one process would have; history lists, shows, searches,
 * exports, imports and deletes, and its exports match the golden files of
 * test-export.c. */
#include <tern/store.h>

#include "golden.h"
#include "store-test.h"

typedef struct {
  char *out, *err;
  int status;
} Run;

static void
run_clear (Run *r)
{
  g_free (r->out);
  g_free (r->err);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Run, run_clear)

/* Runs tern-cli with @args and @input on its standard input. */
static void
run (Run *r, const char *input, const char *const *args)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_autoptr (GError) error = NULL;
  g_autoptr (GSubprocessLauncher) launcher =
      g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                 G_SUBPROCESS_FLAGS_STDERR_PIPE);

  g_ptr_array_add (argv, (gpointer) g_getenv ("TERN_CLI"));
  for (guint i = 0; args[i]; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);
  g_autoptr (GSubprocess) p = g_subprocess_launcher_spawnv (launcher, (const char *const *) argv->pdata, &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_communicate_utf8 (p, input, NULL, &r->out, &r->err, &error));
  g_assert_no_error (error);
  r->status = g_subprocess_get_exit_status (p);
}

/* What history show prints for the chat of test_chat, written from what
 * was said (@replies: the straight run's) and the store's record of when
 * and with which model, rather than by the export code: the conversation
 * shown in Markdown, every turn in order. */
static char *
expected_show (const char *db, char **replies)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (TernStore) store = tern_store_open (db, &error);
  g_assert_no_error (error);
  g_autoptr (TernConversation) c = tern_store_conversation_get (store, 1, &error);
  g_assert_no_error (error);
  g_autoptr (TernStoreModel) model = tern_store_model_get (store, c->model_id, &error);
  g_assert_no_error (error);
  g_autoptr (GDateTime) created = g_date_time_new_from_unix_utc (c->created_at / G_USEC_PER_SEC);
  g_autofree char *when = g_date_time_format (created, "%Y-%m-%d %H:%M");

  return g_strdup_printf ("# Genesis\n\n- Created: %s UTC\n- Model: %s (%s)\n\n"
                          "## User\n\nIn the beginning\n\n## Assistant\n\n%s\n\n"
                          "## User\n\nAnd then?\n\n## Assistant\n\n%s\n\n"
                          "## User\n\nWhat next?\n\n## Assistant\n\n%s\n\n",
                          when, model->name, model->path, replies[0], replies[1], replies[2]);
}

static void
test_chat (void)
{
  g_autofree char *dir = g_dir_make_tmp ("tern-cli-store-XXXXXX", NULL);
  g_autofree char *db = g_build_filename (dir, "tern.db", NULL);
  g_autofree char *db2 = g_build_filename (dir, "again.db", NULL);
  g_autofree char *model = store_test_model_path ("kjv-tiny-q4_k_m");
  g_auto (Run) straight = { 0 }, first = { 0 }, resumed = { 0 }, second = { 0 }, again = { 0 };

  /* Three turns in one process. */
  const char *plain[] = { "chat", model, "--seed", "7", "-n", "24", NULL };
  run (&straight, "In the beginning\nAnd then?\nWhat next?\n", plain);
  g_assert_cmpint (straight.status, ==, 0);
  g_auto (GStrv) replies = g_strsplit (straight.out, "\n\n", -1);
  g_assert_cmpuint (g_strv_length (replies), ==, 4);

  /* Two, then the third in a new process: from the snapshot. */
  const char *with_db[] = { "chat", model, "--db", db, "--new-title", "Genesis", "--seed", "7", "-n", "24", NULL };
  run (&first, "In the beginning\nAnd then?\n", with_db);
  g_assert_cmpint (first.status, ==, 0);
  g_autofree char *want_first = g_strconcat (replies[0], "\n\n", replies[1], "\n\n", NULL);
  g_assert_cmpstr (first.out, ==, want_first);
  const char *resume[] = { "chat", model, "--db", db, "--conversation", "1", "-n", "24", NULL };
  run (&resumed, "What next?\n", resume);
  g_assert_cmpint (resumed.status, ==, 0);
  g_assert_nonnull (strstr (resumed.err, "restored conversation 1 from its snapshot"));
  g_autofree char *want_third = g_strconcat (replies[2], "\n\n", NULL);
  g_assert_cmpstr (resumed.out, ==, want_third);

  /* The same without a snapshot (another context size): evaluated again,
   * the same reply. */
  const char *with_db2[] = { "chat", model, "--db", db2, "--seed", "7", "-n", "24", NULL };
  run (&second, "In the beginning\nAnd then?\n", with_db2);
  const char *resume2[] = { "chat", model, "--db", db2, "--conversation", "1", "-n", "24", "--ctx", "512", NULL };
  run (&again, "What next?\n", resume2);
  g_assert_cmpint (again.status, ==, 0);
  g_assert_nonnull (strstr (again.err, "re-ingested conversation 1"));
  g_assert_cmpstr (again.out, ==, want_third);

  /* history */
  g_auto (Run) list = { 0 }, show = { 0 }, search = { 0 }, json = { 0 }, md = { 0 }, import = { 0 }, del = { 0 },
               trash = { 0 }, bad = { 0 };
  const char *list_args[] = { "history", "--db", db, "list", NULL };
  run (&list, NULL, list_args);
  g_assert_cmpint (list.status, ==, 0);
  g_assert_true (g_str_has_prefix (list.out, "1\t"));
  g_assert_nonnull (strstr (list.out, "6 messages\tGenesis"));
  const char *show_args[] = { "history", "--db", db, "show", "1", NULL };
  run (&show, NULL, show_args);
  g_assert_cmpint (show.status, ==, 0);
  g_autofree char *want_show = expected_show (db, replies);
  g_assert_cmpstr (show.out, ==, want_show);
  const char *search_args[] = { "history", "--db", db, "search", "beginn", NULL };
  run (&search, NULL, search_args);
  g_assert_cmpstr (search.out, ==, "1\tGenesis\tuser: In the [beginning]\n");
  const char *json_args[] = { "history", "--db", db, "export", "--all", "--format", "json", NULL };
  run (&json, NULL, json_args);
  g_assert_cmpint (json.status, ==, 0);
  const char *md_args[] = { "history", "--db", db, "export", "1", "--format", "md", NULL };
  run (&md, NULL, md_args);
  g_assert_cmpstr (md.out, ==, show.out);
  g_autofree char *json_path = g_build_filename (dir, "export.json", NULL);
  g_assert_true (g_file_set_contents (json_path, json.out, -1, NULL));
  const char *import_args[] = { "history", "--db", db2, "import", json_path, NULL };
  run (&import, NULL, import_args);
  g_assert_cmpstr (import.out, ==, "2\n");
  const char *del_args[] = { "history", "--db", db, "delete", "1", NULL };
  run (&del, NULL, del_args);
  g_assert_cmpint (del.status, ==, 0);
  const char *trash_args[] = { "history", "--db", db, "list", "--trash", NULL };
  run (&trash, NULL, trash_args);
  g_assert_true (g_str_has_prefix (trash.out, "1\t"));
  const char *bad_args[] = { "history", "--db", db, "show", "99", NULL };
  run (&bad, NULL, bad_args);
  g_assert_cmpint (bad.status, ==, 2);
  g_assert_nonnull (strstr (bad.err, "no conversation with id 99"));

  test_remove_tree (dir);
}

/* tern-cli history import and export, against the golden files of
 * test-export.c: the golden JSON imported, then exported again as JSON and
 * Markdown, gives the golden bytes; show prints the first conversation's
 * part of the golden Markdown. */
static void
test_export_golden (void)
{
  g_autofree char *dir = g_dir_make_tmp ("tern-cli-store-XXXXXX", NULL);
  g_autofree char *db = g_build_filename (dir, "tern.db", NULL);
  g_autofree char *json_path = golden_path ("conversations.json");
  g_autofree char *golden_md = golden_read ("conversations.md");
  g_auto (Run) import = { 0 }, json = { 0 }, md = { 0 }, show = { 0 };

  const char *import_args[] = { "history", "--db", db, "import", json_path, NULL };
  run (&import, NULL, import_args);
  g_assert_cmpint (import.status, ==, 0);
  g_assert_cmpstr (import.out, ==, "1\n2\n3\n");
  const char *json_args[] = { "history", "--db", db, "export", "--all", "--format", "json", NULL };
  run (&json, NULL, json_args);
  g_assert_cmpint (json.status, ==, 0);
  golden_compare ("conversations.json", "history export --format json", json.out);
  const char *md_args[] = { "history", "--db", db, "export", "--all", "--format", "md", NULL };
  run (&md, NULL, md_args);
  g_assert_cmpint (md.status, ==, 0);
  golden_compare ("conversations.md", "history export --format md", md.out);
  const char *show_args[] = { "history", "--db", db, "show", "1", NULL };
  run (&show, NULL, show_args);
  g_assert_cmpint (show.status, ==, 0);
  g_auto (GStrv) parts = g_strsplit (golden_md, "---\n\n", 2);
  g_assert_cmpstr (show.out, ==, parts[0]);

  test_remove_tree (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/store/cli/chat-and-history", test_chat);
  g_test_add_func ("/store/cli/export-golden", test_export_golden);
  return g_test_run ();
}
