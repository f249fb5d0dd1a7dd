/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Another program on the same database: a call waits for its lock as long
 * as it is held, says so once, and can be cancelled with nothing written;
 * reads go on while it writes; two writers on one conversation never weave
 * their messages into one chain. The other program is a second SQLite
 * connection on a thread, as sqlite3's shell or a second Tern would be. */
#include <tern/store.h>

#include "store/store-private.h"
#include "store-test.h"

/* Holds the database's write lock (BEGIN EXCLUSIVE) from locker_start
 * until @hold_us has passed or locker_stop. */
typedef struct {
  char *path;
  gint64 hold_us;
  GMutex lock;
  GCond cond;
  gboolean held;
  gboolean stop;
  GThread *thread;
} Locker;

static gpointer
locker_main (gpointer data)
{
  Locker *l = data;
  sqlite3 *db;

  g_assert_cmpint (sqlite3_open (l->path, &db), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_exec (db, "BEGIN EXCLUSIVE; UPDATE settings SET value = value", NULL, NULL, NULL), ==,
                   SQLITE_OK);
  gint64 until = g_get_monotonic_time () + l->hold_us;
  g_mutex_lock (&l->lock);
  l->held = TRUE;
  g_cond_broadcast (&l->cond);
  while (!l->stop && (l->hold_us == 0 || g_get_monotonic_time () < until))
    {
      if (l->hold_us == 0)
        g_cond_wait (&l->cond, &l->lock);
      else
        g_cond_wait_until (&l->cond, &l->lock, until);
    }
  g_mutex_unlock (&l->lock);
  sqlite3_exec (db, "ROLLBACK", NULL, NULL, NULL);
  sqlite3_close (db);
  return NULL;
}

/* Returns once the lock is held. */
static void
locker_start (Locker *l, const char *path, gint64 hold_us)
{
  *l = (Locker) { 0 };
  l->path = g_strdup (path);
  l->hold_us = hold_us;
  g_mutex_init (&l->lock);
  g_cond_init (&l->cond);
  l->thread = g_thread_new ("locker", locker_main, l);
  g_mutex_lock (&l->lock);
  while (!l->held)
    g_cond_wait (&l->cond, &l->lock);
  g_mutex_unlock (&l->lock);
}

static void
locker_stop (Locker *l)
{
  g_mutex_lock (&l->lock);
  l->stop = TRUE;
  g_cond_broadcast (&l->cond);
  g_mutex_unlock (&l->lock);
  g_thread_join (l->thread);
  g_mutex_clear (&l->lock);
  g_cond_clear (&l->cond);
  g_free (l->path);
}

/* Cancels @cancellable after @delay_us, on a thread of its own, noting
 * when. */
typedef struct {
  GCancellable *cancellable;
  gint64 delay_us;
  gint64 cancelled_at;
  GThread *thread;
} Canceller;

static gpointer
canceller_main (gpointer data)
{
  Canceller *c = data;

  g_usleep (c->delay_us);
  c->cancelled_at = g_get_monotonic_time ();
  g_cancellable_cancel (c->cancellable);
  return NULL;
}

static void
canceller_start (Canceller *c, GCancellable *cancellable, gint64 delay_us)
{
  c->cancellable = cancellable;
  c->delay_us = delay_us;
  c->thread = g_thread_new ("canceller", canceller_main, c);
}

typedef struct {
  char *dir;
  char *path;
  TernStore *store;
  gint64 conversation;
  guint n_busy;       /* calls of the busy function */
  guint n_first;      /* of them, the first of a wait */
  gint64 first_after; /* how long after the call began the first came */
  gint64 call_start;
  gboolean give_up;   /* the busy function's answer is FALSE */
} Fixture;

static gboolean
on_busy (TernStore *store, gboolean first, gpointer data)
{
  Fixture *f = data;

  f->n_busy++;
  if (first)
    {
      f->n_first++;
      f->first_after = g_get_monotonic_time () - f->call_start;
    }
  return !f->give_up;
}

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  f->dir = g_dir_make_tmp ("tern-locks-XXXXXX", &error);
  g_assert_no_error (error);
  f->path = g_build_filename (f->dir, "tern.db", NULL);
  f->store = tern_store_open (f->path, &error);
  g_assert_no_error (error);
  tern_store_set_busy_func (f->store, on_busy, f);
  f->conversation = tern_store_conversation_new (f->store, "Locks", 0, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (tern_store_set_setting (f->store, "k", "v", &error));
  g_assert_cmpint (tern_store_message_add (f->store, f->conversation, TERN_STORE_HEAD, TERN_ROLE_USER,
                                           "In the beginning", NULL, 0, NULL, &error), >, 0);
  g_assert_no_error (error);
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  tern_store_free (f->store);
  test_remove_tree (f->dir);
  g_free (f->dir);
  g_free (f->path);
}

static gint64
n_messages (Fixture *f)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (TernConversation) c = tern_store_conversation_get (f->store, f->conversation, &error);

  g_assert_no_error (error);
  return c->n_messages;
}

/* A write waits while another program holds the lock, says so once after
 * TERN_STORE_BUSY_NOTICE_MS, and succeeds once the lock is free. */
static void
test_wait (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  Locker locker = { 0 };

  locker_start (&locker, f->path, G_USEC_PER_SEC);
  f->call_start = g_get_monotonic_time ();
  gint64 id = tern_store_message_add (f->store, f->conversation, TERN_STORE_HEAD, TERN_ROLE_USER, "typed while busy",
                                      NULL, 0, NULL, &error);
  gint64 waited = g_get_monotonic_time () - f->call_start;
  locker_stop (&locker);
  g_assert_no_error (error);
  g_assert_cmpint (id, >, 0);
  g_assert_cmpint (waited, >=, G_USEC_PER_SEC * 9 / 10);
  g_assert_cmpuint (f->n_first, ==, 1);
  g_assert_cmpuint (f->n_busy, >=, 2);
  g_assert_cmpint (f->first_after, >=, TERN_STORE_BUSY_NOTICE_MS * 1000);
  g_assert_cmpint (f->first_after, <, TERN_STORE_BUSY_NOTICE_MS * 1000 + 200000);
  g_assert_cmpint (n_messages (f), ==, 2);

  /* No wait, no word of one. */
  f->n_first = f->n_busy = 0;
  g_assert_true (tern_store_set_setting (f->store, "k", "w", &error));
  g_assert_no_error (error);
  g_assert_cmpuint (f->n_busy, ==, 0);
}

/* As long as the lock is held: past the five seconds a call once waited
 * before it failed. */
static void
test_wait_long (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  Locker locker = { 0 };

  locker_start (&locker, f->path, 6 * G_USEC_PER_SEC);
  f->call_start = g_get_monotonic_time ();
  g_assert_true (tern_store_set_setting (f->store, "k", "after the wait", &error));
  gint64 waited = g_get_monotonic_time () - f->call_start;
  locker_stop (&locker);
  g_assert_no_error (error);
  g_assert_cmpint (waited, >=, 5 * G_USEC_PER_SEC);
  g_assert_cmpuint (f->n_first, ==, 1);
  g_autofree char *value = tern_store_get_setting (f->store, "k", &error);
  g_assert_cmpstr (value, ==, "after the wait");
}

/* A wait cancelled ends at once with CANCELLED, having written nothing. */
static void
test_wait_cancelled (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  Locker locker = { 0 };
  Canceller canceller = { 0 };

  /* Held long enough that only the cancel ends the wait in time. */
  tern_store_set_cancellable (f->store, cancellable);
  locker_start (&locker, f->path, 5 * G_USEC_PER_SEC);
  canceller_start (&canceller, cancellable, G_USEC_PER_SEC / 2);
  gint64 id = tern_store_message_add (f->store, f->conversation, TERN_STORE_HEAD, TERN_ROLE_USER, "typed while busy",
                                      NULL, 0, NULL, &error);
  gint64 end = g_get_monotonic_time ();
  g_thread_join (canceller.thread);
  gint64 late = end - canceller.cancelled_at;
  g_assert_cmpint (id, ==, 0);
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_CANCELLED);
  g_assert_nonnull (strstr (error->message, "another program"));
  g_assert_cmpint (late, <, 300000);
  g_assert_cmpuint (f->n_first, ==, 1);
  locker_stop (&locker);

  tern_store_set_cancellable (f->store, NULL);
  g_assert_cmpint (n_messages (f), ==, 1);

  /* The busy function can give up too. */
  g_clear_error (&error);
  f->give_up = TRUE;
  locker_start (&locker, f->path, 5 * G_USEC_PER_SEC);
  f->call_start = g_get_monotonic_time ();
  g_assert_false (tern_store_set_setting (f->store, "k", "not written", &error));
  gint64 waited = g_get_monotonic_time () - f->call_start;
  locker_stop (&locker);
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_CANCELLED);
  g_assert_cmpint (waited, <, TERN_STORE_BUSY_NOTICE_MS * 1000 + 100000);
  g_clear_error (&error);
  f->give_up = FALSE;
  g_autofree char *value = tern_store_get_setting (f->store, "k", &error);
  g_assert_cmpstr (value, ==, "v");
}

/* While another program holds the write lock, opening the database and
 * every read go on at once. */
static void
test_read_while_locked (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  Locker locker = { 0 };

  locker_start (&locker, f->path, 0);
  gint64 start = g_get_monotonic_time ();
  g_autoptr (TernStore) reader = tern_store_open (f->path, &error);
  g_assert_no_error (error);
  g_autoptr (GPtrArray) list = tern_store_conversation_list (reader, FALSE, 0, -1, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (list->len, ==, 1);
  g_autoptr (GPtrArray) messages = tern_store_conversation_messages (reader, f->conversation, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (messages->len, ==, 1);
  g_autoptr (GPtrArray) hits = tern_store_search (reader, "beginning", "[", "]", 0, 10, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (hits->len, ==, 1);
  g_autofree char *md = tern_store_export (reader, NULL, 0, TERN_EXPORT_MARKDOWN, &error);
  g_assert_no_error (error);
  g_assert_nonnull (strstr (md, "In the beginning"));
  g_autofree char *json = tern_store_export (reader, NULL, 0, TERN_EXPORT_JSON, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_get_monotonic_time () - start, <, G_USEC_PER_SEC / 2);
  locker_stop (&locker);
}

/* Two programs on one conversation: each adds only while the head is the
 * one it last saw, so the second is refused and the chain stays whole. */
static void
test_two_writers (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (TernStore) other = tern_store_open (f->path, &error);
  g_assert_no_error (error);
  g_autoptr (TernConversation) seen = tern_store_conversation_get (f->store, f->conversation, &error);
  g_assert_no_error (error);
  gint64 head = seen->head_id;

  /* Both read the head; this one adds first. */
  gint64 mine = tern_store_message_add_if_head (f->store, f->conversation, head, TERN_STORE_HEAD, TERN_ROLE_ASSISTANT,
                                                "And the earth", NULL, 0, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (mine, >, 0);
  gint64 theirs = tern_store_message_add_if_head (other, f->conversation, head, TERN_STORE_HEAD, TERN_ROLE_USER,
                                                  "from the other program", NULL, 0, NULL, &error);
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_CONFLICT);
  g_assert_cmpint (theirs, ==, 0);
  g_autofree char *expected = g_strdup_printf ("conversation %" G_GINT64_FORMAT " was changed by another program; "
                                               "open it again", f->conversation);
  g_assert_cmpstr (error->message, ==, expected);
  g_clear_error (&error);
  g_assert_null (tern_store_reply_begin_if_head (other, f->conversation, head, TERN_STORE_HEAD, &error));
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_CONFLICT);
  g_clear_error (&error);
  g_assert_cmpint (n_messages (f), ==, 2);

  /* Read again, it goes on; a branch (a parent that is not the head, as an
   * edit or another reply has) is fine while the head is as read. */
  gint64 next = tern_store_message_add_if_head (other, f->conversation, mine, TERN_STORE_HEAD, TERN_ROLE_USER,
                                                "And then?", NULL, 0, NULL, &error);
  g_assert_no_error (error);
  g_autoptr (TernReply) reply = tern_store_reply_begin_if_head (f->store, f->conversation, next, head, &error);
  g_assert_no_error (error);
  g_autoptr (TernMessage) m = tern_store_message_get (f->store, tern_reply_id (reply), &error);
  g_assert_no_error (error);
  g_assert_cmpint (m->parent_id, ==, head);

  g_autoptr (GPtrArray) problems = g_ptr_array_new_with_free_func (g_free);
  g_assert_true (tern_store_check (f->store, FALSE, problems, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (problems->len, ==, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/store/locks/wait", Fixture, NULL, fixture_set_up, test_wait, fixture_tear_down);
  g_test_add ("/store/locks/wait-long", Fixture, NULL, fixture_set_up, test_wait_long, fixture_tear_down);
  g_test_add ("/store/locks/wait-cancelled", Fixture, NULL, fixture_set_up, test_wait_cancelled, fixture_tear_down);
  g_test_add ("/store/locks/read-while-locked", Fixture, NULL, fixture_set_up, test_read_while_locked,
              fixture_tear_down);
  g_test_add ("/store/locks/two-writers", Fixture, NULL, fixture_set_up, test_two_writers, fixture_tear_down);
  return g_test_run ();
}
