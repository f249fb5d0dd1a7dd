/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The search index (messages_fts, an external-content FTS5 table kept in
 * step with messages by triggers) after each kind of write: a streamed
 * reply checkpointed in pieces, an edit (a new branch), the trash and its
 * restore, deleting for good, an import, a duplicate, and a database
 * upgraded from an older schema. After each, FTS5's own integrity check
 * (run on a second connection to the file, as any SQLite client would)
 * must pass, and tern_store_search must find the new text and not the text
 * that was replaced or removed. A test goes on after a failed check, so
 * that the log lists every one. */
#include <tern/store.h>

#include "store/store-private.h"
#include "store-test.h"

typedef struct {
  char *dir;
  char *path;
  TernStore *store;
} Fixture;

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  f->dir = g_dir_make_tmp ("tern-fts-XXXXXX", &error);
  g_assert_no_error (error);
  f->path = g_build_filename (f->dir, "tern.db", NULL);
  f->store = tern_store_open (f->path, &error);
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

/* FTS5's integrity check with rank 1: the index must also match the
 * content table, messages, row for row. */
static void
assert_index_intact (const char *path, const char *after)
{
  sqlite3 *db = NULL;
  char *message = NULL;

  g_assert_cmpint (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READWRITE, NULL), ==, SQLITE_OK);
  sqlite3_busy_timeout (db, 5000);
  int rc = sqlite3_exec (db, "INSERT INTO messages_fts (messages_fts, rank) VALUES ('integrity-check', 1)", NULL,
                         NULL, &message);
  if (rc != SQLITE_OK)
    {
      g_test_message ("the search index fails its integrity check after %s: %s", after, message);
      g_test_fail ();
    }
  sqlite3_free (message);
  sqlite3_close (db);
}

static gint
compare_ids (gconstpointer a, gconstpointer b)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;
  return x < y ? -1 : x > y;
}

/* tern_store_search finds @text in exactly the messages listed (0 ends
 * the list; none: it finds nothing). */
static void
assert_search (TernStore *store, const char *text, ...)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) hits = tern_store_search (store, text, "[", "]", 0, 100, &error);
  g_autoptr (GArray) got = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_autoptr (GArray) want = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_autoptr (GString) got_text = g_string_new (NULL), want_text = g_string_new (NULL);
  va_list ap;
  gint64 id;

  g_assert_no_error (error);
  for (guint i = 0; i < hits->len; i++)
    g_array_append_val (got, ((TernSearchHit *) hits->pdata[i])->message_id);
  va_start (ap, text);
  while ((id = va_arg (ap, gint64)) != 0)
    g_array_append_val (want, id);
  va_end (ap);
  g_array_sort (got, compare_ids);
  g_array_sort (want, compare_ids);
  for (guint i = 0; i < got->len; i++)
    g_string_append_printf (got_text, " %" G_GINT64_FORMAT, g_array_index (got, gint64, i));
  for (guint i = 0; i < want->len; i++)
    g_string_append_printf (want_text, " %" G_GINT64_FORMAT, g_array_index (want, gint64, i));
  if (!g_str_equal (got_text->str, want_text->str))
    {
      g_test_message ("searching '%s' found messages [%s ], not [%s ]", text, got_text->str, want_text->str);
      g_test_fail ();
    }
}

#define NONE ((gint64) 0)

/* A reply streamed in checkpoints: each replaces the text indexed before
 * it, whose last word was cut short. */
static void
test_stream (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  TernToken toks[3 * TERN_REPLY_CHECKPOINT_TOKENS] = { 0 };
  gint64 c = tern_store_conversation_new (f->store, "Stream", 0, NULL, NULL, &error);
  gint64 q = tern_store_message_add (f->store, c, TERN_STORE_HEAD, TERN_ROLE_USER, "Tell me a story.", NULL, 0, NULL,
                                     &error);
  g_assert_no_error (error);

  g_autoptr (TernReply) reply = tern_store_reply_begin (f->store, c, TERN_STORE_HEAD, &error);
  g_assert_no_error (error);
  gint64 r = tern_reply_id (reply);
  assert_index_intact (f->path, "an empty reply began");

  g_assert_true (tern_reply_update (reply, "Once upo", toks, TERN_REPLY_CHECKPOINT_TOKENS, &error));
  assert_index_intact (f->path, "the first checkpoint");
  /* The last word searched is a prefix; the others are whole words. */
  assert_search (f->store, "once upo", r, NONE);

  g_assert_true (tern_reply_update (reply, "Once upon a ti", toks, 2 * TERN_REPLY_CHECKPOINT_TOKENS, &error));
  assert_index_intact (f->path, "the second checkpoint");
  assert_search (f->store, "upon", r, NONE);
  assert_search (f->store, "upo once", NONE);

  g_assert_true (tern_reply_finish (reply, "Once upon a time, a dragon.", toks, 3 * TERN_REPLY_CHECKPOINT_TOKENS,
                                    NULL, &error));
  assert_index_intact (f->path, "the reply finished");
  assert_search (f->store, "dragon", r, NONE);
  assert_search (f->store, "ti upon", NONE);
  assert_search (f->store, "story", q, NONE);

  /* Interrupted: its last checkpoint stays, indexed. */
  TernReply *cut = tern_store_reply_begin (f->store, c, TERN_STORE_HEAD, &error);
  gint64 half = tern_reply_id (cut);
  g_assert_true (tern_reply_update (cut, "Halfway thr", toks, TERN_REPLY_CHECKPOINT_TOKENS, &error));
  g_assert_true (tern_reply_update (cut, "Halfway through the woods", toks, 2 * TERN_REPLY_CHECKPOINT_TOKENS, &error));
  tern_reply_free (cut);
  assert_index_intact (f->path, "an interrupted reply");
  assert_search (f->store, "woods", half, NONE);
  assert_search (f->store, "thr halfway", NONE);
}

/* An edit and a regeneration add a branch: the old text stays, searchable
 * beside the new. */
static void
test_edit (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  gint64 c = tern_store_conversation_new (f->store, "Edits", 0, NULL, NULL, &error);
  gint64 q1 = tern_store_message_add (f->store, c, 0, TERN_ROLE_USER, "Name a colour.", NULL, 0, NULL, &error);
  gint64 r1 = tern_store_message_add (f->store, c, q1, TERN_ROLE_ASSISTANT, "Crimson.", NULL, 0, NULL, &error);
  gint64 r2 = tern_store_message_add (f->store, c, q1, TERN_ROLE_ASSISTANT, "Turquoise.", NULL, 0, NULL, &error);
  gint64 q2 = tern_store_message_add (f->store, c, 0, TERN_ROLE_USER, "Name a bird.", NULL, 0, NULL, &error);
  g_assert_no_error (error);

  assert_index_intact (f->path, "an edit and a regeneration");
  assert_search (f->store, "name", q1, q2, NONE);
  assert_search (f->store, "crimson", r1, NONE);
  assert_search (f->store, "turquoise", r2, NONE);
  assert_search (f->store, "bird", q2, NONE);
}

/* The trash hides a conversation from search and its restore shows it
 * again; emptying the trash deletes it and its messages for good, and the
 * ids SQLite then gives new messages find none of their words. */
static void
test_trash (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  gint64 keep = tern_store_conversation_new (f->store, "Kept", 0, NULL, NULL, &error);
  gint64 k = tern_store_message_add (f->store, keep, TERN_STORE_HEAD, TERN_ROLE_USER, "A zebra stays here.", NULL, 0,
                                     NULL, &error);
  gint64 gone = tern_store_conversation_new (f->store, "Gone", 0, NULL, NULL, &error);
  gint64 g1 = tern_store_message_add (f->store, gone, TERN_STORE_HEAD, TERN_ROLE_USER, "A zebra and an ocelot.", NULL,
                                      0, NULL, &error);
  gint64 g2 = tern_store_message_add (f->store, gone, TERN_STORE_HEAD, TERN_ROLE_ASSISTANT, "The ocelot sleeps.", NULL,
                                      0, NULL, &error);
  g_assert_no_error (error);

  g_assert_true (tern_store_conversation_trash (f->store, gone, &error));
  assert_index_intact (f->path, "moving a conversation to the trash");
  assert_search (f->store, "zebra", k, NONE);
  assert_search (f->store, "ocelot", NONE);

  g_assert_true (tern_store_conversation_untrash (f->store, gone, &error));
  assert_index_intact (f->path, "restoring it");
  assert_search (f->store, "zebra", k, g1, NONE);
  assert_search (f->store, "ocelot", g1, g2, NONE);

  g_assert_true (tern_store_conversation_trash (f->store, gone, &error));
  g_assert_cmpint (tern_store_empty_trash (f->store, &error), ==, 1);
  g_assert_no_error (error);
  assert_index_intact (f->path, "emptying the trash");
  assert_search (f->store, "zebra", k, NONE);
  assert_search (f->store, "ocelot", NONE);

  /* The deleted messages had the largest ids: the next ones get them. */
  gint64 again = tern_store_conversation_new (f->store, "New", 0, NULL, NULL, &error);
  gint64 n1 = tern_store_message_add (f->store, again, TERN_STORE_HEAD, TERN_ROLE_USER, "A giraffe.", NULL, 0, NULL,
                                      &error);
  gint64 n2 = tern_store_message_add (f->store, again, TERN_STORE_HEAD, TERN_ROLE_ASSISTANT, "Tall.", NULL, 0, NULL,
                                      &error);
  g_assert_no_error (error);
  g_assert_cmpint (n1, ==, g1);
  g_assert_cmpint (n2, ==, g2);
  assert_index_intact (f->path, "new messages in the deleted ones' ids");
  assert_search (f->store, "ocelot", NONE);
  assert_search (f->store, "zebra", k, NONE);
  assert_search (f->store, "giraffe", n1, NONE);
}

/* An import, and an import refused half-way (all or nothing). */
static void
test_import (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GArray) ids = g_array_new (FALSE, FALSE, sizeof (gint64));
  static const char *const conversation =
      "{\"title\": \"%s\", \"model\": null, \"system_prompt\": \"\", \"sampling\": {\"temperature\": 0.8, "
      "\"top_k\": 40, \"top_p\": 0.95, \"min_p\": 0.05, \"repeat_penalty\": 1.0, \"repeat_last_n\": 64, "
      "\"frequency_penalty\": 0, \"presence_penalty\": 0, \"seed\": \"1\"}, \"created_us\": 1, \"updated_us\": 2, "
      "\"messages\": [{\"role\": \"user\", \"content\": \"%s\", \"created_us\": 1, \"n_tokens\": 0, "
      "\"complete\": true, \"parent\": %s}], \"head\": 0}";
  g_autofree char *one = g_strdup_printf (conversation, "One", "Imported walrus.", "null");
  g_autofree char *bad = g_strdup_printf (conversation, "Bad", "Refused narwhal.", "5");
  g_autofree char *json = g_strdup_printf ("{\"format\": \"tern-conversations\", \"version\": 1, "
                                           "\"conversations\": [%s]}", one);
  g_autofree char *refused = g_strdup_printf ("{\"format\": \"tern-conversations\", \"version\": 1, "
                                              "\"conversations\": [%s, %s]}", one, bad);

  gint64 c = tern_store_conversation_new (f->store, "Here", 0, NULL, NULL, &error);
  gint64 m = tern_store_message_add (f->store, c, TERN_STORE_HEAD, TERN_ROLE_USER, "A walrus was here.", NULL, 0,
                                     NULL, &error);
  g_assert_true (tern_store_import (f->store, json, -1, ids, &error));
  g_assert_no_error (error);
  assert_index_intact (f->path, "an import");
  g_autoptr (GPtrArray) imported = tern_store_conversation_messages (f->store, g_array_index (ids, gint64, 0), 0,
                                                                     &error);
  g_assert_cmpuint (imported->len, ==, 1);
  assert_search (f->store, "walrus", m, ((TernMessage *) imported->pdata[0])->id, NONE);

  g_assert_false (tern_store_import (f->store, refused, -1, NULL, &error));
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_FORMAT);
  assert_index_intact (f->path, "an import refused half-way");
  assert_search (f->store, "narwhal", NONE);
  assert_search (f->store, "walrus", m, ((TernMessage *) imported->pdata[0])->id, NONE);
}

/* A duplicate is indexed on its own: deleting the original leaves it. */
static void
test_duplicate (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  gint64 c = tern_store_conversation_new (f->store, "Original", 0, NULL, NULL, &error);
  gint64 q = tern_store_message_add (f->store, c, TERN_STORE_HEAD, TERN_ROLE_USER, "Where do penguins live?", NULL,
                                     0, NULL, &error);
  gint64 r1 = tern_store_message_add (f->store, c, q, TERN_ROLE_ASSISTANT, "In the south.", NULL, 0, NULL, &error);
  gint64 r2 = tern_store_message_add (f->store, c, q, TERN_ROLE_ASSISTANT, "Antarctica, mostly.", NULL, 0, NULL,
                                      &error);
  g_assert_no_error (error);

  gint64 d = tern_store_conversation_duplicate (f->store, c, &error);
  g_assert_no_error (error);
  assert_index_intact (f->path, "a duplicate");
  g_autoptr (GPtrArray) copy = tern_store_conversation_messages (f->store, d, 0, &error);
  g_assert_cmpuint (copy->len, ==, 2);
  gint64 dq = ((TernMessage *) copy->pdata[0])->id, dr2 = ((TernMessage *) copy->pdata[1])->id;
  g_autoptr (GPtrArray) branches = tern_store_message_children (f->store, d, dq, &error);
  g_assert_cmpuint (branches->len, ==, 2);
  gint64 dr1 = ((TernMessage *) branches->pdata[0])->id;
  assert_search (f->store, "penguins", q, dq, NONE);
  assert_search (f->store, "south", r1, dr1, NONE);
  assert_search (f->store, "antarctica", r2, dr2, NONE);

  g_assert_true (tern_store_conversation_trash (f->store, c, &error));
  g_assert_cmpint (tern_store_empty_trash (f->store, &error), ==, 1);
  assert_index_intact (f->path, "deleting the original of a duplicate");
  assert_search (f->store, "penguins", dq, NONE);
  assert_search (f->store, "south", dr1, NONE);
}

/* Messages written under each older schema version (with that version's
 * SQL), then the upgrade: still indexed, and the index kept in step after. */
static void
test_migrate (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  TernToken toks[TERN_REPLY_CHECKPOINT_TOKENS] = { 0 };

  for (int v = 1; v < TERN_STORE_SCHEMA_VERSION; v++)
    {
      g_autofree char *path = g_strdup_printf ("%s/v%d.db", f->dir, v);
      g_autofree char *upgraded = g_strdup_printf ("upgrading version %d", v);
      TernStore *old = tern_store_open_at_version (path, v, &error);
      g_assert_no_error (error);
      /* Version 1's tables, as it wrote them. */
      g_assert_cmpint (sqlite3_exec (old->db,
                                     "INSERT INTO conversations (id, title, system_prompt, temperature, top_k, top_p, "
                                     "min_p, repeat_penalty, repeat_last_n, frequency_penalty, presence_penalty, seed, "
                                     "created_at, updated_at) "
                                     "VALUES (1, 'old', '', 0.8, 40, 0.95, 0.05, 1.0, 64, 0, 0, 1, 1, 1);"
                                     "INSERT INTO messages (id, conversation_id, parent_id, role, content, created_at) "
                                     "VALUES (1, 1, NULL, 'user', 'An old aardvark.', 1),"
                                     "       (2, 1, 1, 'assistant', 'An old answer', 1);"
                                     "UPDATE messages SET content = 'An old reply.' WHERE id = 2;"
                                     "UPDATE conversations SET head_id = 2 WHERE id = 1;",
                                     NULL, NULL, NULL),
                       ==, SQLITE_OK);
      tern_store_free (old);

      g_autoptr (TernStore) store = tern_store_open (path, &error);
      g_assert_no_error (error);
      assert_index_intact (path, upgraded);
      assert_search (store, "aardvark", (gint64) 1, NONE);
      assert_search (store, "reply", (gint64) 2, NONE);
      assert_search (store, "answer", NONE);

      g_autoptr (TernReply) reply = tern_store_reply_begin (store, 1, TERN_STORE_HEAD, &error);
      g_assert_no_error (error);
      g_assert_true (tern_reply_update (reply, "A new par", toks, TERN_REPLY_CHECKPOINT_TOKENS, &error));
      g_assert_true (tern_reply_finish (reply, "A new pangolin.", toks, TERN_REPLY_CHECKPOINT_TOKENS, NULL, &error));
      assert_index_intact (path, "a reply after the upgrade");
      assert_search (store, "pangolin", tern_reply_id (reply), NONE);
      assert_search (store, "par new", NONE);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
#define ADD(name, fn) g_test_add ("/store/search-index/" name, Fixture, NULL, fixture_set_up, fn, fixture_tear_down)
  ADD ("stream", test_stream);
  ADD ("edit", test_edit);
  ADD ("trash", test_trash);
  ADD ("import", test_import);
  ADD ("duplicate", test_duplicate);
  ADD ("migrate", test_migrate);
  return g_test_run ();
}
