/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Kill test of tern-cli chat --db: chats over several conversations of
 * the smallest fixture model are killed with SIGKILL at random moments
 * (while a message is stored, a conversation resumed or a prompt
 * evaluated, a reply generated and checkpointed, a snapshot saved), and
 * every conversation must stay resumable and answerable: after each kill
 * the database passes integrity_check, the conversation killed takes one
 * more line and answers it (exit 0, a reply printed and stored after it),
 * and at the end every conversation does.
 *
 * TERN_KILL_ROUNDS sets the number of kills (default 200) and
 * TERN_TEST_SEED the random seed (default: a random one); the seed is
 * printed first, so a failure can be run again with it. */
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli-run.h"
#include "store-check.h"
#include "test-data.h"

#define DEFAULT_ROUNDS 200
/* Conversations the chats are spread over. */
#define N_CONVERSATIONS 5
#define CHECK_LINE "Amen."

/* Where a kill left the conversation it hit. */
typedef enum {
  LEFT_UNCHANGED,  /* nothing new stored: killed starting, resuming, or waiting */
  LEFT_UNANSWERED, /* a line stored, no reply begun: killed storing it or evaluating the prompt */
  LEFT_INTERRUPTED, /* a reply begun, not finished: killed generating it */
  LEFT_UNSAVED,    /* a reply finished, its snapshot not saved: killed saving it */
  LEFT_SAVED,      /* a reply and its snapshot: killed after a turn */
  N_LEFT
} Left;

static const char *const left_names[] = { "nothing new", "a line unanswered", "a reply interrupted",
                                          "a reply without its snapshot", "a whole turn" };

typedef struct {
  char *dir, *db, *model;
  GRand *rand;
  gint64 round_us; /* how long an unkilled round takes; kills fall within it */
  guint left[N_LEFT];
} Kill;

static const char *const words[] = {
  "In", "the", "beginning", "God", "created", "heaven", "and", "earth", "light", "darkness",
  "waters", "firmament", "day", "night", "seed", "fruit", "Let", "there", "be", "was",
  "good", "evening", "morning", "behold", "said", "unto", "them", "his", "spirit", "upon",
};

/* @n random words. */
static char *
random_line (GRand *rand, guint n)
{
  GString *s = g_string_new (NULL);

  for (guint i = 0; i < n; i++)
    g_string_append_printf (s, "%s%s", i ? " " : "", words[g_rand_int_range (rand, 0, G_N_ELEMENTS (words))]);
  return g_string_free (s, FALSE);
}

static char *
read_fd (int fd)
{
  GString *out = g_string_new (NULL);
  char buf[4096];
  ssize_t n;

  while ((n = read (fd, buf, sizeof buf)) > 0)
    g_string_append_len (out, buf, n);
  close (fd);
  return g_string_free (out, FALSE);
}

/* The ids of the conversations in the database. */
static GArray *
conversation_ids (const char *db)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (TernStore) store = tern_store_open (db, &error);
  g_assert_no_error (error);
  g_autoptr (GPtrArray) list = tern_store_conversation_list (store, FALSE, 0, G_MAXINT64, &error);
  g_assert_no_error (error);
  GArray *ids = g_array_new (FALSE, FALSE, sizeof (gint64));

  for (guint i = 0; i < list->len; i++)
    g_array_append_val (ids, ((TernConversation *) list->pdata[i])->id);
  return ids;
}

/* Starts tern-cli chat on conversation @id (0: a new one) with its input
 * @input, the pipe left open so that it waits for more. */
static GPid
start_chat (Kill *k, gint64 id, const char *input, int *in_fd, int *out_fd, int *err_fd)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *n = g_strdup_printf ("%d", g_rand_int_range (k->rand, 4, 48));
  g_autofree char *seed = g_strdup_printf ("%u", g_rand_int (k->rand));
  g_autofree char *conversation = g_strdup_printf ("%" G_GINT64_FORMAT, id);
  /* Without an id, the list ends before --conversation. */
  const char *argv[] = { g_getenv ("TERN_CLI"), "chat", k->model, "--db", k->db, "-n", n, "--seed", seed,
                         "--threads", "1", id ? "--conversation" : NULL, conversation, NULL };
  GPid pid;

  g_assert_true (g_spawn_async_with_pipes (NULL, (char **) argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL, &pid,
                                           in_fd, out_fd, err_fd, &error));
  g_assert_no_error (error);
  g_assert_cmpint (write (*in_fd, input, strlen (input)), ==, (gssize) strlen (input));
  return pid;
}

/* One more line to conversation @id: tern-cli resumes it and answers
 * (exit 0, a reply printed), and the answer is stored after the line. */
static void
check_answers (Kill *k, gint64 id)
{
  g_auto (RunResult) r = { 0 };
  g_autofree char *conversation = g_strdup_printf ("%" G_GINT64_FORMAT, id);
  g_autoptr (GError) error = NULL;

  run_cli_input (&r, CHECK_LINE "\n", "chat", k->model, "--db", k->db, "--conversation", conversation, "-n", "6",
                 "--temp", "0", "--threads", "1", NULL);
  if (r.status != 0)
    g_error ("conversation %" G_GINT64_FORMAT " does not resume: tern-cli exited with %d: %s", id, r.status, r.err);

  g_autoptr (TernStore) store = tern_store_open (k->db, &error);
  g_assert_no_error (error);
  g_autoptr (GPtrArray) messages = tern_store_conversation_messages (store, id, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (messages->len, >=, 2);
  const TernMessage *reply = messages->pdata[messages->len - 1], *line = messages->pdata[messages->len - 2];
  g_assert_cmpint (line->role, ==, TERN_ROLE_USER);
  g_assert_cmpstr (line->content, ==, CHECK_LINE);
  g_assert_cmpint (reply->role, ==, TERN_ROLE_ASSISTANT);
  g_assert_true (reply->complete);
  g_assert_cmpstr (reply->content, !=, "");
  /* What it printed: the reply, its newline and a blank line. */
  g_autofree char *printed = g_strconcat (reply->content, "\n\n", NULL);
  g_assert_cmpstr (r.out, ==, printed);
}

/* What each round sends: one to three lines, now and then one longer than
 * the context (refused, the chat goes on) or long enough that the oldest
 * turns are left out. */
static char *
random_input (Kill *k)
{
  GString *input = g_string_new (NULL);
  guint n_lines = g_rand_int_range (k->rand, 1, 4);

  for (guint i = 0; i < n_lines; i++)
    {
      guint n_words = g_rand_int_range (k->rand, 0, 10) == 0 ? g_rand_int_range (k->rand, 60, 400)
                                                            : g_rand_int_range (k->rand, 1, 12);
      g_autofree char *line = random_line (k->rand, n_words);
      g_string_append_printf (input, "%s\n", line);
    }
  return g_string_free (input, FALSE);
}

/* One round: a chat killed @delay_us after it starts. When it ended by
 * itself before (it never does while its input is open), that is the
 * failure. */
static void
kill_round (Kill *k, gint64 id, gint64 delay_us)
{
  g_autofree char *input = random_input (k);
  int in_fd, out_fd, err_fd, status;
  GPid pid = start_chat (k, id, input, &in_fd, &out_fd, &err_fd);

  g_usleep (delay_us);
  if (waitpid (pid, &status, WNOHANG) == pid)
    {
      g_autofree char *err = read_fd (err_fd);
      g_error ("tern-cli chat on conversation %" G_GINT64_FORMAT " ended by itself (status %d): %s", id, status, err);
    }
  g_assert_cmpint (kill (pid, SIGKILL), ==, 0);
  g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
  g_assert_true (WIFSIGNALED (status) && WTERMSIG (status) == SIGKILL);
  g_spawn_close_pid (pid);
  close (in_fd);
  g_free (read_fd (out_fd));
  g_free (read_fd (err_fd));
}

/* How long an average round (two lines, replies of 24 tokens) takes
 * unkilled, on a conversation of its own: the span the kills are spread
 * over. Longer rounds are killed before they end more often. */
static gint64
time_round (Kill *k)
{
  g_auto (RunResult) r = { 0 };
  gint64 start = g_get_monotonic_time ();

  run_cli_input (&r, "In the beginning\nGod created the heaven\n", "chat", k->model, "--db", k->db, "-n", "24",
                 "--temp", "0", "--threads", "1", NULL);
  g_assert_cmpint (r.status, ==, 0);
  return g_get_monotonic_time () - start;
}

/* Where the kill left conversation @id, which had @n_before messages. */
static Left
classify (Kill *k, gint64 id, guint n_before)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (TernStore) store = tern_store_open (k->db, &error);
  g_assert_no_error (error);
  g_autoptr (GPtrArray) messages = tern_store_conversation_messages (store, id, 0, &error);
  g_assert_no_error (error);

  if (messages->len == n_before)
    return LEFT_UNCHANGED;
  const TernMessage *last = messages->pdata[messages->len - 1];
  if (last->role == TERN_ROLE_USER)
    return LEFT_UNANSWERED;
  if (!last->complete)
    return LEFT_INTERRUPTED;
  return tern_store_snapshot_find (store, id, last->id, &error) > 0 ? LEFT_SAVED : LEFT_UNSAVED;
}

static guint
n_messages (Kill *k, gint64 id)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (TernStore) store = tern_store_open (k->db, &error);
  g_assert_no_error (error);
  g_autoptr (GPtrArray) messages = tern_store_conversation_messages (store, id, 0, &error);
  g_assert_no_error (error);
  return messages->len;
}

/* What the kills left, as the log says it. */
static void
report (Kill *k, guint n_conversations)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (TernStore) store = tern_store_open (k->db, &error);
  const char *queries[] = { "SELECT count(*) FROM messages", "SELECT count(*) FROM snapshots" };
  gint64 n[G_N_ELEMENTS (queries)];

  g_assert_no_error (error);
  for (guint i = 0; i < G_N_ELEMENTS (queries); i++)
    {
      sqlite3_stmt *stmt;
      g_assert_cmpint (sqlite3_prepare_v2 (store->db, queries[i], -1, &stmt, NULL), ==, SQLITE_OK);
      g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
      n[i] = sqlite3_column_int64 (stmt, 0);
      sqlite3_finalize (stmt);
    }
  g_test_message ("%u conversations, %" G_GINT64_FORMAT " messages, %" G_GINT64_FORMAT
                  " snapshots; kills within %.0f ms of the start", n_conversations, n[0], n[1], k->round_us / 1e3);
  for (Left l = 0; l < N_LEFT; l++)
    g_test_message ("%u kills left %s", k->left[l], left_names[l]);
}

static void
test_kill (void)
{
  const char *seed_env = g_getenv ("TERN_TEST_SEED"), *rounds_env = g_getenv ("TERN_KILL_ROUNDS");
  guint32 seed = seed_env ? (guint32) g_ascii_strtoull (seed_env, NULL, 10) : g_random_int ();
  guint rounds = rounds_env ? (guint) g_ascii_strtoull (rounds_env, NULL, 10) : DEFAULT_ROUNDS;
  g_autoptr (GError) error = NULL;
  Kill k = { 0 };

  g_test_message ("seed %u (TERN_TEST_SEED=%u runs this again), %u kills", seed, seed, rounds);
  k.rand = g_rand_new_with_seed (seed);
  k.dir = g_dir_make_tmp ("tern-cli-kill-XXXXXX", &error);
  g_assert_no_error (error);
  k.db = g_build_filename (k.dir, "tern.db", NULL);
  k.model = g_test_build_filename (G_TEST_DIST, "data", "models", "kjv-tiny-tq1_0.gguf", NULL);
  k.round_us = time_round (&k);

  for (guint round = 0; round < rounds; round++)
    {
      g_autoptr (GArray) ids = conversation_ids (k.db);
      gint64 id = 0;

      /* New conversations (killed before they are made, or before their
       * first message, too) until there are enough, then now and then. */
      if (ids->len >= N_CONVERSATIONS && g_rand_int_range (k.rand, 0, 10) != 0)
        id = g_array_index (ids, gint64, g_rand_int_range (k.rand, 0, ids->len));
      guint n_before = id ? n_messages (&k, id) : 0;
      kill_round (&k, id, g_rand_int_range (k.rand, 0, (gint32) k.round_us));
      store_check_after_kill (k.db);
      if (id == 0)
        {
          /* The conversation the chat made, if it got that far: the
           * newest id. */
          g_autoptr (GArray) after = conversation_ids (k.db);
          if (after->len == ids->len)
            {
              k.left[LEFT_UNCHANGED]++;
              continue;
            }
          for (guint i = 0; i < after->len; i++)
            id = MAX (id, g_array_index (after, gint64, i));
        }
      k.left[classify (&k, id, n_before)]++;
      check_answers (&k, id);
    }

  g_autoptr (GArray) ids = conversation_ids (k.db);
  for (guint i = 0; i < ids->len; i++)
    check_answers (&k, g_array_index (ids, gint64, i));
  store_check_after_kill (k.db);
  report (&k, ids->len);

  test_remove_tree (k.dir);
  g_free (k.dir);
  g_free (k.db);
  g_free (k.model);
  g_rand_free (k.rand);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/cli/kill", test_kill);
  return g_test_run ();
}
