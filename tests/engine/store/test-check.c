/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Damage that another program writing the file can do: a loop of parents,
 * heads and parents missing or in another conversation, a search index out
 * of step, orphan snapshots. Every walk of a chain fails at once with an
 * error that names the conversation and the repair; tern_store_check finds
 * each, and with repair fixes them so that a second check finds none. The
 * damage is made with plain SQL on a connection of its own, foreign keys
 * off, as sqlite3's shell would. */
#include <tern/store.h>

#include "store/store-private.h"
#include "store-test.h"

typedef struct {
  char *dir;
  char *path;
  TernStore *store;
  gint64 a, b;        /* two conversations of four messages each */
  gint64 ma[4], mb[4]; /* their messages, first to last */
} Fixture;

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  const char *texts[] = { "In the beginning", "God created", "the heaven", "and the earth" };

  f->dir = g_dir_make_tmp ("tern-check-XXXXXX", &error);
  g_assert_no_error (error);
  f->path = g_build_filename (f->dir, "tern.db", NULL);
  f->store = tern_store_open (f->path, &error);
  g_assert_no_error (error);
  f->a = tern_store_conversation_new (f->store, "A", 0, NULL, NULL, &error);
  f->b = tern_store_conversation_new (f->store, "B", 0, NULL, NULL, &error);
  g_assert_no_error (error);
  for (guint i = 0; i < 4; i++)
    {
      TernRole role = i % 2 ? TERN_ROLE_ASSISTANT : TERN_ROLE_USER;
      f->ma[i] = tern_store_message_add (f->store, f->a, TERN_STORE_HEAD, role, texts[i], NULL, 0, NULL, &error);
      f->mb[i] = tern_store_message_add (f->store, f->b, TERN_STORE_HEAD, role, texts[i], NULL, 0, NULL, &error);
      g_assert_no_error (error);
    }
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  tern_store_free (f->store);
  test_remove_tree (f->dir);
  g_free (f->dir);
  g_free (f->path);
}

/* Runs @sql (a printf format) as another program would. */
static void damage (Fixture *f, const char *sql, ...) G_GNUC_PRINTF (2, 3);

static void
damage (Fixture *f, const char *sql, ...)
{
  va_list args;
  sqlite3 *db;

  va_start (args, sql);
  g_autofree char *text = g_strdup_vprintf (sql, args);
  va_end (args);
  g_assert_cmpint (sqlite3_open (f->path, &db), ==, SQLITE_OK);
  char *message = NULL;
  sqlite3_exec (db, text, NULL, NULL, &message);
  g_assert_cmpstr (message, ==, NULL);
  sqlite3_close (db);
}

static GPtrArray *
check (Fixture *f, gboolean repair)
{
  g_autoptr (GError) error = NULL;
  GPtrArray *problems = g_ptr_array_new_with_free_func (g_free);

  g_assert_true (tern_store_check (f->store, repair, problems, &error));
  g_assert_no_error (error);
  for (guint i = 0; i < problems->len; i++)
    g_test_message ("%s%s", repair ? "repaired: " : "", (const char *) problems->pdata[i]);
  return problems;
}

/* The one problem that mentions @text; fails when not exactly one does. */
static const char *
problem_with (GPtrArray *problems, const char *text)
{
  const char *found = NULL;

  for (guint i = 0; i < problems->len; i++)
    if (strstr (problems->pdata[i], text))
      {
        g_assert_null (found);
        found = problems->pdata[i];
      }
  g_assert_nonnull (found);
  return found;
}

/* Reading conversation @id fails at once with FORMAT, naming it, what is
 * wrong (@what) and the repair. */
static void
assert_damaged (Fixture *f, gint64 id, const char *what)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *name = g_strdup_printf ("conversation %" G_GINT64_FORMAT " is damaged: ", id);
  gint64 start = g_get_monotonic_time ();

  g_assert_null (tern_store_conversation_messages (f->store, id, 0, &error));
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_FORMAT);
  g_assert_true (g_str_has_prefix (error->message, name));
  g_assert_nonnull (strstr (error->message, what));
  g_assert_true (g_str_has_suffix (error->message, "tern-cli history check --repair repairs it"));
  g_clear_error (&error);
  g_assert_null (tern_store_export (f->store, &id, 1, TERN_EXPORT_MARKDOWN, &error));
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_FORMAT);
  g_assert_cmpint (g_get_monotonic_time () - start, <, G_USEC_PER_SEC / 2);
}

/* Conversation @id reads as @n messages ending at @head, each the parent
 * of the next. */
static void
assert_chain (Fixture *f, gint64 id, guint n, gint64 head)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) messages = tern_store_conversation_messages (f->store, id, 0, &error);

  g_assert_no_error (error);
  g_assert_cmpuint (messages->len, ==, n);
  for (guint i = 0; i < n; i++)
    {
      const TernMessage *m = messages->pdata[i];
      g_assert_cmpint (m->parent_id, ==, i ? ((TernMessage *) messages->pdata[i - 1])->id : 0);
    }
  g_assert_cmpint (((TernMessage *) messages->pdata[n - 1])->id, ==, head);
}

/* In a subprocess with a time limit: before the fix these walks went
 * round the loop for ever. */
static void
test_loop (Fixture *f, gconstpointer data)
{
  if (!g_test_subprocess ())
    {
      g_test_trap_subprocess (NULL, 20 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_INHERIT_STDERR);
      g_test_trap_assert_passed ();
      return;
    }
  g_autoptr (GError) error = NULL;

  /* The first message's parent is the last: a loop through the head. */
  damage (f, "UPDATE messages SET parent_id = %" G_GINT64_FORMAT " WHERE id = %" G_GINT64_FORMAT, f->ma[3], f->ma[0]);
  assert_damaged (f, f->a, "is its own ancestor");
  assert_chain (f, f->b, 4, f->mb[3]);
  /* Branch walks end too. */
  g_assert_cmpint (tern_store_branch_leaf (f->store, f->a, f->ma[0], &error), ==, f->ma[3]);
  g_assert_no_error (error);

  g_autoptr (GPtrArray) found = check (f, FALSE);
  g_assert_cmpuint (found->len, ==, 1);
  g_autofree char *loop = g_strdup_printf ("conversation %" G_GINT64_FORMAT ": its messages' parents go round a loop",
                                           f->a);
  problem_with (found, loop);
  /* Looking changes nothing. */
  assert_damaged (f, f->a, "is its own ancestor");

  g_autoptr (GPtrArray) repaired = check (f, TRUE);
  g_assert_cmpuint (repaired->len, ==, 1);
  g_autofree char *cut = g_strdup_printf ("message %" G_GINT64_FORMAT " is now a first message", f->ma[0]);
  g_assert_nonnull (strstr (problem_with (repaired, loop), cut));
  g_autoptr (GPtrArray) after = check (f, FALSE);
  g_assert_cmpuint (after->len, ==, 0);
  assert_chain (f, f->a, 4, f->ma[3]);
}

/* Heads and parents that are missing or in another conversation. */
static void
test_dangling (Fixture *f, gconstpointer data)
{
  if (!g_test_subprocess ())
    {
      g_test_trap_subprocess (NULL, 20 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_INHERIT_STDERR);
      g_test_trap_assert_passed ();
      return;
    }
  g_autoptr (GError) error = NULL;

  damage (f, "UPDATE conversations SET head_id = 999 WHERE id = %" G_GINT64_FORMAT, f->a);
  assert_damaged (f, f->a, "its head, message 999, is not one of its messages");
  damage (f, "UPDATE conversations SET head_id = %" G_GINT64_FORMAT " WHERE id = %" G_GINT64_FORMAT, f->mb[1], f->a);
  assert_damaged (f, f->a, "is not one of its messages");
  damage (f, "UPDATE messages SET parent_id = 888 WHERE id = %" G_GINT64_FORMAT, f->mb[2]);
  g_autofree char *lost = g_strdup_printf ("the parent of message %" G_GINT64_FORMAT ", message 888, is not one of "
                                           "its messages", f->mb[2]);
  assert_damaged (f, f->b, lost);

  g_autoptr (GPtrArray) found = check (f, FALSE);
  g_assert_cmpuint (found->len, ==, 2);
  g_autofree char *head = g_strdup_printf ("conversation %" G_GINT64_FORMAT ": its head, message %" G_GINT64_FORMAT
                                           ", is in conversation %" G_GINT64_FORMAT, f->a, f->mb[1], f->b);
  g_autofree char *parent = g_strdup_printf ("conversation %" G_GINT64_FORMAT ": the parent of message %"
                                             G_GINT64_FORMAT ", message 888, is missing", f->b, f->mb[2]);
  problem_with (found, head);
  problem_with (found, parent);

  g_autoptr (GPtrArray) repaired = check (f, TRUE);
  g_assert_cmpuint (repaired->len, ==, 2);
  g_autofree char *newest = g_strdup_printf ("its head is now message %" G_GINT64_FORMAT, f->ma[3]);
  g_assert_nonnull (strstr (problem_with (repaired, head), newest));
  g_autoptr (GPtrArray) after = check (f, FALSE);
  g_assert_cmpuint (after->len, ==, 0);
  assert_chain (f, f->a, 4, f->ma[3]);
  /* Cut from its lost parent, the message starts a chain of its own. */
  assert_chain (f, f->b, 2, f->mb[3]);

  /* A parent in another conversation, a head missing, and no head at all
   * while there are messages. */
  damage (f, "UPDATE messages SET parent_id = %" G_GINT64_FORMAT " WHERE id = %" G_GINT64_FORMAT, f->mb[0], f->ma[2]);
  assert_damaged (f, f->a, "is not one of its messages");
  damage (f, "UPDATE conversations SET head_id = 777 WHERE id = %" G_GINT64_FORMAT, f->b);
  g_autoptr (GPtrArray) found2 = check (f, FALSE);
  g_assert_cmpuint (found2->len, ==, 2);
  g_autofree char *foreign = g_strdup_printf ("the parent of message %" G_GINT64_FORMAT ", message %" G_GINT64_FORMAT
                                              ", is in conversation %" G_GINT64_FORMAT, f->ma[2], f->mb[0], f->b);
  problem_with (found2, foreign);
  problem_with (found2, "its head, message 777, is missing");
  g_autoptr (GPtrArray) repaired2 = check (f, TRUE);
  g_assert_cmpuint (repaired2->len, ==, 2);
  damage (f, "UPDATE conversations SET head_id = NULL WHERE id = %" G_GINT64_FORMAT, f->b);
  g_autoptr (GPtrArray) found3 = check (f, FALSE);
  g_assert_cmpuint (found3->len, ==, 1);
  problem_with (found3, "has messages but no head");
  g_autoptr (GPtrArray) repaired3 = check (f, TRUE);
  g_autoptr (GPtrArray) after2 = check (f, FALSE);
  g_assert_cmpuint (after2->len, ==, 0);
  assert_chain (f, f->a, 2, f->ma[3]);
  assert_chain (f, f->b, 2, f->mb[3]);
}

/* The search index out of step with the messages, and snapshots of
 * messages and conversations that are gone. */
static void
test_index_and_snapshots (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  /* The index loses a message (a delete written straight to it). */
  damage (f, "INSERT INTO messages_fts (messages_fts, rowid, content) SELECT 'delete', id, content FROM messages "
             "WHERE id = %" G_GINT64_FORMAT, f->ma[2]);
  damage (f, "INSERT INTO snapshots (conversation_id, message_id, n_tokens, size, created_at, used_at) "
             "VALUES (%" G_GINT64_FORMAT ", 555, 1, 0, 0, 0), (444, NULL, 1, 0, 0, 0);"
             "INSERT INTO snapshot_chunks (snapshot_id, seq, data) VALUES (333, 0, x'00')",
          f->a);
  g_autoptr (GPtrArray) found = check (f, FALSE);
  g_assert_cmpuint (found->len, ==, 4);
  problem_with (found, "the search index does not match the messages");
  problem_with (found, "is of message 555 of conversation");
  problem_with (found, "is of conversation 444, which is not there");
  problem_with (found, "1 piece of a snapshot belongs to no snapshot");

  g_autoptr (GPtrArray) repaired = check (f, TRUE);
  g_assert_cmpuint (repaired->len, ==, 4);
  g_assert_nonnull (strstr (problem_with (repaired, "search index"), "; rebuilt"));
  g_autoptr (GPtrArray) after = check (f, FALSE);
  g_assert_cmpuint (after->len, ==, 0);
  g_autoptr (GPtrArray) hits = tern_store_search (f->store, "heaven", "[", "]", 0, 10, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (hits->len, ==, 2);
  g_autoptr (GPtrArray) snapshots = tern_store_snapshot_list (f->store, 0, &error);
  g_assert_cmpuint (snapshots->len, ==, 0);
}

/* A sound database: nothing found, and a repair changes nothing. */
static void
test_sound (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *before = tern_store_export (f->store, NULL, 0, TERN_EXPORT_JSON, &error);
  g_assert_no_error (error);

  g_autoptr (GPtrArray) found = check (f, FALSE);
  g_assert_cmpuint (found->len, ==, 0);
  g_autoptr (GPtrArray) repaired = check (f, TRUE);
  g_assert_cmpuint (repaired->len, ==, 0);
  g_autofree char *after = tern_store_export (f->store, NULL, 0, TERN_EXPORT_JSON, &error);
  g_assert_cmpstr (after, ==, before);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/store/check/loop", Fixture, NULL, fixture_set_up, test_loop, fixture_tear_down);
  g_test_add ("/store/check/dangling", Fixture, NULL, fixture_set_up, test_dangling, fixture_tear_down);
  g_test_add ("/store/check/index-and-snapshots", Fixture, NULL, fixture_set_up, test_index_and_snapshots,
              fixture_tear_down);
  g_test_add ("/store/check/sound", Fixture, NULL, fixture_set_up, test_sound, fixture_tear_down);
  return g_test_run ();
}
