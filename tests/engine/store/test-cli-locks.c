/* SPDX-License-Identifier: GPL-3.0-or-later */
/* tern-cli and another program on one database, as the issue found them: a
 * line typed while another program holds the database waits for it (said
 * once on stderr) and is stored, or, stopped with Ctrl+C, is printed back;
 * history reads while another program writes; two chats on one
 * conversation never weave into one chain; a damaged chain fails at once
 * with the repair named, and history check finds and repairs it. */
#include <signal.h>
#include <sqlite3.h>
#include <tern/store.h>

#include "store-test.h"

#define WAITING "tern-cli: waiting for the database: another program is using it…"

typedef struct {
  char *dir;
  char *db;
  char *model;
} Fixture;

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  f->dir = g_dir_make_tmp ("tern-cli-locks-XXXXXX", NULL);
  f->db = g_build_filename (f->dir, "tern.db", NULL);
  f->model = store_test_model_path ("kjv-tiny-q4_k_m");
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  test_remove_tree (f->dir);
  g_free (f->dir);
  g_free (f->db);
  g_free (f->model);
}

/* ---- tern-cli run whole, with a time limit ---- */

typedef struct {
  char *out, *err;
  int status;
  gint64 elapsed_us;
} Run;

static void
run_clear (Run *r)
{
  g_free (r->out);
  g_free (r->err);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Run, run_clear)

static void
on_communicated (GObject *source, GAsyncResult *result, gpointer data)
{
  Run *r = data;
  g_autoptr (GError) error = NULL;

  g_assert_true (g_subprocess_communicate_utf8_finish (G_SUBPROCESS (source), result, &r->out, &r->err, &error));
  g_assert_no_error (error);
}

/* Runs tern-cli with @args (NULL-terminated) and @input; fails the test
 * when it runs longer than @limit_s (it went round a loop). */
static void
run (Run *r, double limit_s, const char *input, ...)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_autoptr (GError) error = NULL;
  va_list args;
  const char *arg;

  g_ptr_array_add (argv, (gpointer) g_getenv ("TERN_CLI"));
  va_start (args, input);
  while ((arg = va_arg (args, const char *)))
    g_ptr_array_add (argv, (gpointer) arg);
  va_end (args);
  g_ptr_array_add (argv, NULL);
  g_autoptr (GSubprocess) p = g_subprocess_newv ((const char *const *) argv->pdata,
                                                 G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                                     G_SUBPROCESS_FLAGS_STDERR_PIPE,
                                                 &error);
  g_assert_no_error (error);
  gint64 start = g_get_monotonic_time ();
  g_subprocess_communicate_utf8_async (p, input, NULL, on_communicated, r);
  while (r->err == NULL)
    {
      g_main_context_iteration (NULL, FALSE);
      g_usleep (1000);
      if (g_get_monotonic_time () - start > limit_s * G_USEC_PER_SEC)
        {
          g_subprocess_force_exit (p);
          g_error ("tern-cli %s %s ran longer than %.0f s", (char *) argv->pdata[1], (char *) argv->pdata[2], limit_s);
        }
    }
  g_assert_true (g_subprocess_wait (p, NULL, &error));
  r->elapsed_us = g_get_monotonic_time () - start;
  r->status = g_subprocess_get_if_exited (p) ? g_subprocess_get_exit_status (p) : -1;
}

/* ---- A chat driven line by line ---- */

typedef struct {
  GSubprocess *p;
  GOutputStream *in;
  GDataInputStream *out, *err;
} Chat;

static void
chat_start (Chat *c, const char *first, ...)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_autoptr (GError) error = NULL;
  va_list args;

  g_ptr_array_add (argv, (gpointer) g_getenv ("TERN_CLI"));
  g_ptr_array_add (argv, (gpointer) first);
  va_start (args, first);
  for (const char *arg; (arg = va_arg (args, const char *));)
    g_ptr_array_add (argv, (gpointer) arg);
  va_end (args);
  g_ptr_array_add (argv, NULL);
  c->p = g_subprocess_newv ((const char *const *) argv->pdata,
                            G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                G_SUBPROCESS_FLAGS_STDERR_PIPE,
                            &error);
  g_assert_no_error (error);
  c->in = g_subprocess_get_stdin_pipe (c->p);
  c->out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (c->p));
  c->err = g_data_input_stream_new (g_subprocess_get_stderr_pipe (c->p));
}

static void
chat_say (Chat *c, const char *line)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *text = g_strconcat (line, "\n", NULL);

  g_assert_true (g_output_stream_write_all (c->in, text, strlen (text), NULL, NULL, &error));
  g_assert_no_error (error);
}

/* Reads @stream up to a line equal to @line (or starting with it, with
 * @prefix); returns what came before it. */
static char *
read_until (GDataInputStream *stream, const char *line, gboolean prefix)
{
  g_autoptr (GString) before = g_string_new (NULL);

  for (;;)
    {
      g_autoptr (GError) error = NULL;
      g_autofree char *got = g_data_input_stream_read_line_utf8 (stream, NULL, NULL, &error);
      g_assert_no_error (error);
      if (got == NULL)
        g_error ("the stream ended before \"%s\"; it had: %s", line, before->str);
      if (prefix ? g_str_has_prefix (got, line) : g_str_equal (got, line))
        return g_string_free (g_steal_pointer (&before), FALSE);
      g_string_append_printf (before, "%s\n", got);
    }
}

/* The reply to the last line said: up to the blank line after it (the
 * input is not a terminal). */
static char *
chat_reply (Chat *c)
{
  return read_until (c->out, "", FALSE);
}

/* Ends the input; returns the exit status and the rest of stderr. */
static int
chat_end (Chat *c, char **err_rest)
{
  g_autoptr (GError) error = NULL;

  g_output_stream_close (c->in, NULL, NULL);
  g_assert_true (g_subprocess_wait (c->p, NULL, &error));
  g_assert_no_error (error);
  g_autoptr (GString) rest = g_string_new (NULL);
  char *line;
  while ((line = g_data_input_stream_read_line_utf8 (c->err, NULL, NULL, &error)))
    {
      g_string_append_printf (rest, "%s\n", line);
      g_free (line);
    }
  g_assert_no_error (error);
  if (err_rest)
    *err_rest = g_string_free (g_steal_pointer (&rest), FALSE);
  int status = g_subprocess_get_if_exited (c->p) ? g_subprocess_get_exit_status (c->p) : -1;
  g_clear_object (&c->out);
  g_clear_object (&c->err);
  g_clear_object (&c->p);
  return status;
}

/* ---- Another program ---- */

/* Takes the database's write lock, as sqlite3's shell with BEGIN
 * EXCLUSIVE would. */
static sqlite3 *
lock_db (const char *path)
{
  sqlite3 *db;

  g_assert_cmpint (sqlite3_open (path, &db), ==, SQLITE_OK);
  sqlite3_busy_timeout (db, 5000);
  g_assert_cmpint (sqlite3_exec (db, "BEGIN EXCLUSIVE; UPDATE settings SET value = value", NULL, NULL, NULL), ==,
                   SQLITE_OK);
  return db;
}

static void
unlock_db (sqlite3 *db)
{
  g_assert_cmpint (sqlite3_exec (db, "ROLLBACK", NULL, NULL, NULL), ==, SQLITE_OK);
  sqlite3_close (db);
}

/* The contents of conversation @id's messages, first to last, one a line. */
static char *
transcript (Fixture *f, gint64 id)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (TernStore) store = tern_store_open (f->db, &error);
  g_assert_no_error (error);
  g_autoptr (GPtrArray) messages = tern_store_conversation_messages (store, id, 0, &error);
  g_assert_no_error (error);
  g_autoptr (GString) text = g_string_new (NULL);
  for (guint i = 0; i < messages->len; i++)
    g_string_append_printf (text, "%s: %s\n", tern_role_name (((TernMessage *) messages->pdata[i])->role),
                            ((TernMessage *) messages->pdata[i])->content);
  return g_string_free (g_steal_pointer (&text), FALSE);
}

/* A conversation of one turn (id 1), and a setting for the lock's
 * update. */
static void
first_turn (Fixture *f)
{
  g_auto (Run) r = { 0 };
  g_autoptr (GError) error = NULL;

  run (&r, 60, "In the beginning\n", "chat", f->model, "--db", f->db, "-n", "4", NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_autoptr (TernStore) store = tern_store_open (f->db, &error);
  g_assert_true (tern_store_set_setting (store, "k", "v", &error));
  g_assert_no_error (error);
}

/* A line typed while another program holds the database waits for it,
 * saying so once, and is stored when the lock is free. */
static void
test_wait (Fixture *f, gconstpointer data)
{
  Chat c = { 0 };

  first_turn (f);
  chat_start (&c, "chat", f->model, "--db", f->db, "--conversation", "1", "-n", "4", NULL);
  chat_say (&c, "And then?");
  g_free (chat_reply (&c));
  sqlite3 *other = lock_db (f->db);
  gint64 start = g_get_monotonic_time ();
  chat_say (&c, "typed while busy");
  g_free (read_until (c.err, WAITING, FALSE));
  g_assert_cmpint (g_get_monotonic_time () - start, >=, TERN_STORE_BUSY_NOTICE_MS * 1000);
  g_usleep (G_USEC_PER_SEC);
  unlock_db (other);
  g_free (chat_reply (&c));
  g_autofree char *rest = NULL;
  g_assert_cmpint (chat_end (&c, &rest), ==, 0);
  g_assert_null (strstr (rest, "waiting"));

  g_autofree char *text = transcript (f, 1);
  g_assert_nonnull (strstr (text, "user: And then?\nassistant: "));
  g_assert_nonnull (strstr (text, "user: typed while busy\nassistant: "));
}

/* Ctrl+C while it waits: the line is not stored, and is printed back. */
static void
test_wait_interrupted (Fixture *f, gconstpointer data)
{
  Chat c = { 0 };

  first_turn (f);
  chat_start (&c, "chat", f->model, "--db", f->db, "--conversation", "1", "-n", "4", NULL);
  g_free (read_until (c.err, "tern-cli chat: restored conversation 1", TRUE));
  sqlite3 *other = lock_db (f->db);
  chat_say (&c, "typed while busy");
  g_free (read_until (c.err, WAITING, FALSE));
  gint64 start = g_get_monotonic_time ();
  g_subprocess_send_signal (c.p, SIGINT);
  g_autofree char *said = read_until (c.err, "tern-cli chat: this message was not stored:", FALSE);
  g_assert_nonnull (strstr (said, "cancelled while another program was using the database"));
  g_autofree char *rest = NULL;
  g_assert_cmpint (chat_end (&c, &rest), ==, 2);
  g_assert_cmpint (g_get_monotonic_time () - start, <, G_USEC_PER_SEC);
  g_assert_cmpstr (rest, ==, "typed while busy\n");
  unlock_db (other);
  g_autofree char *text = transcript (f, 1);
  g_assert_null (strstr (text, "typed while busy"));
}

/* While another program holds the database, history's reading commands
 * work at once. */
static void
test_read_while_locked (Fixture *f, gconstpointer data)
{
  first_turn (f);
  sqlite3 *other = lock_db (f->db);
  const char *commands[][4] = {
    { "list", NULL }, { "show", "1", NULL }, { "search", "beginning", NULL },
    { "export", "1", "--format", "md" }, { "export", "--all", "--format", "json" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    {
      g_auto (Run) r = { 0 };
      run (&r, 30, NULL, "history", "--db", f->db, commands[i][0], commands[i][1], commands[i][2], commands[i][3],
           NULL);
      g_assert_cmpint (r.status, ==, 0);
      g_assert_cmpstr (r.err, ==, "");
      g_assert_cmpint (r.elapsed_us, <, G_USEC_PER_SEC);
      g_assert_cmpstr (r.out, !=, "");
    }
  unlock_db (other);
}

/* Two chats on one conversation: the second to write after the first
 * changed it is refused, prints its line back and the chain stays whole. */
static void
test_two_chats (Fixture *f, gconstpointer data)
{
  Chat a = { 0 }, b = { 0 };

  first_turn (f);
  chat_start (&a, "chat", f->model, "--db", f->db, "--conversation", "1", "-n", "4", NULL);
  chat_start (&b, "chat", f->model, "--db", f->db, "--conversation", "1", "-n", "4", NULL);
  g_free (read_until (a.err, "tern-cli chat: restored conversation 1", TRUE));
  g_free (read_until (b.err, "tern-cli chat: restored conversation 1", TRUE));
  chat_say (&a, "from A");
  g_free (chat_reply (&a));
  chat_say (&b, "from B");
  g_autofree char *b_rest = NULL;
  g_assert_cmpint (chat_end (&b, &b_rest), ==, 2);
  g_assert_cmpstr (b_rest, ==,
                   "tern-cli: conversation 1 was changed by another program; open it again\n"
                   "tern-cli chat: this message was not stored:\nfrom B\n");
  chat_say (&a, "A again");
  g_free (chat_reply (&a));
  g_assert_cmpint (chat_end (&a, NULL), ==, 0);

  g_autofree char *text = transcript (f, 1);
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  g_assert_cmpuint (g_strv_length (lines), ==, 7);
  g_assert_cmpstr (lines[2], ==, "user: from A");
  g_assert_cmpstr (lines[4], ==, "user: A again");
  g_assert_null (strstr (text, "from B"));
  g_auto (Run) check = { 0 };
  run (&check, 30, NULL, "history", "--db", f->db, "check", NULL);
  g_assert_cmpint (check.status, ==, 0);
  g_assert_cmpstr (check.out, ==, "no problems found\n");
}

/* A loop of parents and a missing head, made with plain SQL: show, export
 * and chat fail at once naming the repair; check lists both (exit 1), the
 * repair fixes them and a second check finds nothing (exit 0). */
static void
test_damaged (Fixture *f, gconstpointer data)
{
  g_auto (Run) second = { 0 };
  sqlite3 *db;

  first_turn (f);
  run (&second, 60, "Let there be light\n", "chat", f->model, "--db", f->db, "-n", "4", NULL);
  g_assert_cmpint (second.status, ==, 0);
  g_assert_cmpint (sqlite3_open (f->db, &db), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_exec (db,
                                 "UPDATE messages SET parent_id = 2 WHERE id = 1;"
                                 "UPDATE conversations SET head_id = 999 WHERE id = 2",
                                 NULL, NULL, NULL),
                   ==, SQLITE_OK);
  sqlite3_close (db);

  const char *loop = "tern-cli: conversation 1 is damaged: message 2 is its own ancestor; "
                     "tern-cli history check --repair repairs it\n";
  const char *head = "tern-cli: conversation 2 is damaged: its head, message 999, is not one of its messages; "
                     "tern-cli history check --repair repairs it\n";
  g_auto (Run) show = { 0 }, md = { 0 }, chat = { 0 }, chat2 = { 0 };
  run (&show, 10, NULL, "history", "--db", f->db, "show", "1", NULL);
  g_assert_cmpint (show.status, ==, 2);
  g_assert_cmpstr (show.err, ==, loop);
  run (&md, 10, NULL, "history", "--db", f->db, "export", "--all", "--format", "md", NULL);
  g_assert_cmpint (md.status, ==, 2);
  g_assert_cmpstr (md.err, ==, loop);
  run (&chat, 30, "hello\n", "chat", f->model, "--db", f->db, "--conversation", "1", NULL);
  g_assert_cmpint (chat.status, ==, 2);
  g_assert_cmpstr (chat.err, ==, loop);
  run (&chat2, 30, "hello\n", "chat", f->model, "--db", f->db, "--conversation", "2", NULL);
  g_assert_cmpint (chat2.status, ==, 2);
  g_assert_cmpstr (chat2.err, ==, head);

  g_auto (Run) check = { 0 }, repair = { 0 }, again = { 0 }, shown = { 0 };
  run (&check, 10, NULL, "history", "--db", f->db, "check", NULL);
  g_assert_cmpint (check.status, ==, 1);
  g_assert_cmpstr (check.out, ==,
                   "conversation 1: its messages' parents go round a loop (1 → 2 → 1)\n"
                   "conversation 2: its head, message 999, is missing\n");
  run (&repair, 10, NULL, "history", "--db", f->db, "check", "--repair", NULL);
  g_assert_cmpint (repair.status, ==, 0);
  g_assert_cmpstr (repair.out, ==,
                   "repaired: conversation 1: its messages' parents go round a loop (1 → 2 → 1); "
                   "message 1 is now a first message\n"
                   "repaired: conversation 2: its head, message 999, is missing; its head is now message 4\n"
                   "no problems found\n");
  run (&again, 10, NULL, "history", "--db", f->db, "check", NULL);
  g_assert_cmpint (again.status, ==, 0);
  g_assert_cmpstr (again.out, ==, "no problems found\n");
  run (&shown, 10, NULL, "history", "--db", f->db, "show", "1", NULL);
  g_assert_cmpint (shown.status, ==, 0);
  g_assert_nonnull (strstr (shown.out, "## User\n\nIn the beginning\n\n## Assistant"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/store/cli-locks/wait", Fixture, NULL, fixture_set_up, test_wait, fixture_tear_down);
  g_test_add ("/store/cli-locks/wait-interrupted", Fixture, NULL, fixture_set_up, test_wait_interrupted,
              fixture_tear_down);
  g_test_add ("/store/cli-locks/read-while-locked", Fixture, NULL, fixture_set_up, test_read_while_locked,
              fixture_tear_down);
  g_test_add ("/store/cli-locks/two-chats", Fixture, NULL, fixture_set_up, test_two_chats, fixture_tear_down);
  g_test_add ("/store/cli-locks/damaged", Fixture, NULL, fixture_set_up, test_damaged, fixture_tear_down);
  return g_test_run ();
}
