/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Export against golden files. A fixed set of conversations, built
 * through the store's API under a test clock (tern_store_set_clock), is
 * exported as Markdown and as JSON and compared byte for byte with
 * tests/data/export/conversations.md and conversations.json; that JSON,
 * imported into a fresh database, gives the same conversations (read back
 * through the API, not through export) and the same bytes when exported
 * again.
 *
 * The golden files were written by this test and then read line by line
 * against the conversations below. After a deliberate change to the
 * export format or to these conversations, write them again with
 *
 *   TERN_UPDATE_GOLDEN=1 meson test -C build export
 *
 * (/store/export/golden then reports itself skipped) and read the diff
 * (git diff tests/data/export) by hand before committing it: a golden
 * file that records a bug hides it. tests/tools/check-export-golden.py
 * (meson test export-golden) checks the files against a description of
 * these conversations of its own, in Python: it must pass too. */
#include <tern/store.h>

#include "golden.h"
#include "store/store-private.h"
#include "store-test.h"

/* 2024-02-29 23:58:57.123456 UTC, then a step of no whole number of
 * seconds: the stamps cross midnight into March, and their microseconds
 * must come through exactly. */
#define CLOCK_START G_GINT64_CONSTANT (1709251137123456)
#define CLOCK_STEP G_GINT64_CONSTANT (7654321)

/* The first conversation: a regenerated reply, a user message edited into
 * a second branch, an interrupted reply on the branch shown (its head),
 * Unicode beyond the BMP, combining marks, a code block, quotes, control
 * characters and a system prompt. */
#define TITLE_1 "Branches, edits & \"quotes\" \u2014 \U0001F9EA"
#define SYSTEM_1 "Answer briefly.\nQuote code exactly, `backticks` and \\backslashes\\ too."
#define M0 "Hi! Show me a C string with escapes, please \U0001F44B"
#define M1 "A first answer, regenerated away."
#define M2                                                       \
  "Here it is:\n"                                                \
  "\n"                                                           \
  "```c\n"                                                       \
  "printf (\"tab\\tquote\\\" backslash\\\\ `tick`\\n\");\n"      \
  "```\n"                                                        \
  "\n"                                                           \
  "Inline: `a\\\\b` and ``two `ticks` ``."
#define M3                                                                                     \
  "Now Unicode: \U00020000 (U+20000, CJK extension B), \U0001F9D1\u200D\U0001F4BB (a ZWJ " \
  "sequence), e\u0301 (e and a combining acute) and \u00E9 (precomposed), 'single' and "    \
  "\"double\" quotes."
/* Interrupted after its first checkpoint, mid-word. */
#define M4 "\U00020000 is U+20000; e\u0301 and \u00E9 look alike but are not the same str"
#define M5 "Edited: control characters \x01, \x1f and DEL \x7f, a tab\there, a CR\rand a backslash \\"
#define M6 "Kept as they are: \x01\x1f\x7f\t\r\\ \u2014 done."

/* The second: no system prompt, default sampling, engine caches (which
 * the export leaves out). The third is empty; the fourth is in the trash,
 * so not exported. */
#define TITLE_2 "Second: no system prompt"
#define M7 "Just one question?"
#define M8 "And one answer."
#define TITLE_3 "Empty"
#define TITLE_4 "Trashed"

typedef struct {
  gint64 conversation[4];
  gint64 message[9]; /* M0 to M8 */
} Ids;

static gboolean
update_golden (void)
{
  return g_strcmp0 (g_getenv ("TERN_UPDATE_GOLDEN"), "1") == 0;
}

static void
build_conversations (TernStore *store, Ids *ids)
{
  g_autoptr (GError) error = NULL;
  TernSamplerParams sampling;
  TernToken toks[TERN_REPLY_CHECKPOINT_TOKENS + 8] = { 0 };
  gint64 *m = ids->message;

  tern_store_set_clock (store, CLOCK_START, CLOCK_STEP);

  tern_sampler_params_init (&sampling);
  sampling.temperature = 0.5f;
  sampling.top_k = 20;
  sampling.top_p = 0.9f;
  sampling.min_p = 0.0f;
  sampling.repeat_penalty = 1.1f;
  sampling.repeat_last_n = 128;
  sampling.frequency_penalty = 0.25f;
  sampling.presence_penalty = 0.5f;
  sampling.seed = G_GUINT64_CONSTANT (12345678901234567890); /* above G_MAXINT64 */
  gint64 c = ids->conversation[0] = tern_store_conversation_new (store, TITLE_1, 0, SYSTEM_1, &sampling, &error);
  g_assert_no_error (error);
  m[0] = tern_store_message_add (store, c, TERN_STORE_HEAD, TERN_ROLE_USER, M0, NULL, 12, NULL, &error);
  m[1] = tern_store_message_add (store, c, TERN_STORE_HEAD, TERN_ROLE_ASSISTANT, M1, NULL, 7, NULL, &error);
  /* Regenerated: a second reply to the same message. */
  m[2] = tern_store_message_add (store, c, m[0], TERN_ROLE_ASSISTANT, M2, NULL, 30, NULL, &error);
  m[3] = tern_store_message_add (store, c, TERN_STORE_HEAD, TERN_ROLE_USER, M3, NULL, 41, NULL, &error);
  g_assert_no_error (error);
  /* Streamed, checkpointed once, and never finished. */
  TernReply *cut = tern_store_reply_begin (store, c, TERN_STORE_HEAD, &error);
  g_assert_no_error (error);
  m[4] = tern_reply_id (cut);
  g_assert_true (tern_reply_update (cut, M4, toks, TERN_REPLY_CHECKPOINT_TOKENS, &error));
  tern_reply_free (cut);
  /* M3 edited: a second branch after M2, with a streamed reply. */
  m[5] = tern_store_message_add (store, c, m[2], TERN_ROLE_USER, M5, NULL, 25, NULL, &error);
  g_autoptr (TernReply) reply = tern_store_reply_begin (store, c, TERN_STORE_HEAD, &error);
  g_assert_no_error (error);
  m[6] = tern_reply_id (reply);
  g_assert_true (tern_reply_update (reply, "Kept", toks, TERN_REPLY_CHECKPOINT_TOKENS, &error));
  g_assert_true (tern_reply_finish (reply, M6, toks, TERN_REPLY_CHECKPOINT_TOKENS + 8, NULL, &error));
  /* Back to the first branch: the head is neither the newest message nor
   * on the newest branch. */
  g_assert_true (tern_store_conversation_set_head (store, c, m[4], &error));
  g_assert_true (tern_store_conversation_set_max_tokens (store, c, 512, &error));

  c = ids->conversation[1] = tern_store_conversation_new (store, TITLE_2, 0, NULL, NULL, &error);
  const TernToken cached[] = { 1, 2, 3 };
  g_autoptr (GBytes) state = g_bytes_new_static ("sampler state", 13);
  m[7] = tern_store_message_add (store, c, TERN_STORE_HEAD, TERN_ROLE_USER, M7, cached, 3, NULL, &error);
  m[8] = tern_store_message_add (store, c, TERN_STORE_HEAD, TERN_ROLE_ASSISTANT, M8, cached, 3, state, &error);
  g_assert_no_error (error);

  ids->conversation[2] = tern_store_conversation_new (store, TITLE_3, 0, "", NULL, &error);
  c = ids->conversation[3] = tern_store_conversation_new (store, TITLE_4, 0, NULL, NULL, &error);
  tern_store_message_add (store, c, TERN_STORE_HEAD, TERN_ROLE_USER, "Not exported.", NULL, 0, NULL, &error);
  g_assert_true (tern_store_conversation_trash (store, c, &error));
  g_assert_no_error (error);
}

/* Compares @text with the golden file @name byte for byte; with
 * TERN_UPDATE_GOLDEN=1, writes it instead. */
static void
check_golden (const char *name, const char *text)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *path = golden_path (name);

  if (!update_golden ())
    {
      golden_compare (name, "the export", text);
      return;
    }
  g_assert_true (g_file_set_contents (path, text, -1, &error));
  g_test_message ("wrote %s: read it line by line before committing it", path);
}

static TernStore *
open_in (const char *dir, const char *name)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *path = g_build_filename (dir, name, NULL);
  TernStore *store = tern_store_open (path, &error);

  g_assert_no_error (error);
  return store;
}

/* Every conversation not in the trash, oldest first (tern_store_export
 * with no ids), in both formats. */
static void
test_golden (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("tern-export-XXXXXX", NULL);
  g_autoptr (TernStore) store = open_in (dir, "tern.db");
  Ids ids;

  build_conversations (store, &ids);
  g_autofree char *md = tern_store_export (store, NULL, 0, TERN_EXPORT_MARKDOWN, &error);
  g_assert_no_error (error);
  g_autofree char *json = tern_store_export (store, NULL, 0, TERN_EXPORT_JSON, &error);
  g_assert_no_error (error);
  check_golden ("conversations.md", md);
  check_golden ("conversations.json", json);
  /* JSON allows no raw control character in a string, and the layout
   * between values has only newlines (json-glib leaves U+001F raw). */
  const char *raw = json;
  while (*raw && ((guchar) *raw >= 0x20 || *raw == '\n'))
    raw++;
  if (*raw)
    g_test_fail_printf ("the JSON export has a raw control character 0x%02x at byte %td", (guchar) *raw, raw - json);

  /* One conversation by id: its part of the whole. */
  g_autofree char *one = tern_store_export (store, &ids.conversation[1], 1, TERN_EXPORT_MARKDOWN, &error);
  g_assert_no_error (error);
  g_assert_true (g_str_has_prefix (one, "# " TITLE_2 "\n"));
  g_assert_nonnull (strstr (md, one));
  g_assert_true (g_str_has_prefix (strstr (md, one) - strlen ("---\n\n"), "---\n\n# " TITLE_2 "\n"));

  tern_store_free (g_steal_pointer (&store));
  test_remove_tree (dir);
  if (update_golden ())
    g_test_skip ("wrote the golden files instead of checking them: review them by hand");
}

static TernMessage *
msg (GPtrArray *messages, guint i)
{
  g_assert_cmpuint (i, <, messages->len);
  return messages->pdata[i];
}

/* The subtrees at @pa in @a and @pb in @b hold the same messages, branch
 * for branch in the same order. Returns how many. */
static guint
compare_tree (TernStore *a, gint64 ca, gint64 pa, TernStore *b, gint64 cb, gint64 pb)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) ka = tern_store_message_children (a, ca, pa, &error);
  g_autoptr (GPtrArray) kb = tern_store_message_children (b, cb, pb, &error);
  guint n = 0;

  g_assert_no_error (error);
  g_assert_cmpuint (ka->len, ==, kb->len);
  for (guint i = 0; i < ka->len; i++)
    {
      const TernMessage *x = msg (ka, i), *y = msg (kb, i);
      g_assert_cmpint (x->role, ==, y->role);
      g_assert_cmpstr (x->content, ==, y->content);
      g_assert_cmpint (x->created_at, ==, y->created_at);
      g_assert_cmpint (x->n_tokens, ==, y->n_tokens);
      g_assert_cmpint (x->complete, ==, y->complete);
      n += 1 + compare_tree (a, ca, x->id, b, cb, y->id);
    }
  return n;
}

/* Conversation @ca of @a and @cb of @b are the same: settings, times,
 * every message of every branch, and the branch shown. */
static void
compare_conversation (TernStore *a, gint64 ca, TernStore *b, gint64 cb)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (TernConversation) x = tern_store_conversation_get (a, ca, &error);
  g_autoptr (TernConversation) y = tern_store_conversation_get (b, cb, &error);

  g_assert_no_error (error);
  g_assert_cmpstr (x->title, ==, y->title);
  g_assert_cmpstr (x->system_prompt, ==, y->system_prompt);
  g_assert_cmpmem (&x->sampling, sizeof x->sampling, &y->sampling, sizeof y->sampling);
  g_assert_cmpint (x->max_tokens, ==, y->max_tokens);
  g_assert_cmpint (x->model_id, ==, y->model_id);
  g_assert_cmpint (x->created_at, ==, y->created_at);
  g_assert_cmpint (x->updated_at, ==, y->updated_at);
  g_assert_cmpint (x->trashed_at, ==, y->trashed_at);
  g_assert_cmpint (x->n_messages, ==, y->n_messages);
  g_assert_cmpuint (compare_tree (a, ca, 0, b, cb, 0), ==, x->n_messages);

  g_autoptr (GPtrArray) pa = tern_store_conversation_messages (a, ca, 0, &error);
  g_autoptr (GPtrArray) pb = tern_store_conversation_messages (b, cb, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (pa->len, ==, pb->len);
  for (guint i = 0; i < pa->len; i++)
    {
      g_assert_cmpint (msg (pa, i)->created_at, ==, msg (pb, i)->created_at);
      g_assert_cmpint (msg (pa, i)->n_branches, ==, msg (pb, i)->n_branches);
      g_assert_cmpint (msg (pa, i)->branch_index, ==, msg (pb, i)->branch_index);
    }
}

/* The golden JSON, imported into a fresh database: the conversations as
 * built (read through the API), and the golden files again on export. */
static void
test_import (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("tern-export-XXXXXX", NULL);
  g_autoptr (TernStore) built = open_in (dir, "built.db");
  g_autoptr (TernStore) store = open_in (dir, "imported.db");
  g_autoptr (GArray) ids = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_autofree char *golden_json = golden_read ("conversations.json");
  g_autofree char *golden_md = golden_read ("conversations.md");
  Ids built_ids;

  build_conversations (built, &built_ids);
  g_assert_true (tern_store_import (store, golden_json, -1, ids, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (ids->len, ==, 3);
  g_assert_cmpint (tern_store_conversation_count (store, FALSE, &error), ==, 3);
  for (guint i = 0; i < 3; i++)
    compare_conversation (built, built_ids.conversation[i], store, g_array_index (ids, gint64, i));

  /* The first conversation, as written above rather than as built: every
   * message, the branches, the interrupted reply on the branch shown. */
  gint64 c = g_array_index (ids, gint64, 0);
  g_autoptr (TernConversation) conv = tern_store_conversation_get (store, c, &error);
  g_assert_cmpstr (conv->title, ==, TITLE_1);
  g_assert_cmpstr (conv->system_prompt, ==, SYSTEM_1);
  g_assert_cmpint (conv->n_messages, ==, 7);
  g_assert_cmpint (conv->max_tokens, ==, 512);
  g_assert_cmpuint (conv->sampling.seed, ==, G_GUINT64_CONSTANT (12345678901234567890));
  g_assert_cmpint (conv->created_at, ==, CLOCK_START);
  g_autoptr (GPtrArray) shown = tern_store_conversation_messages (store, c, 0, &error);
  g_assert_no_error (error);
  const char *want_shown[] = { M0, M2, M3, M4 };
  const gint32 want_branches[][2] = { { 1, 0 }, { 2, 1 }, { 2, 0 }, { 1, 0 } };
  g_assert_cmpuint (shown->len, ==, G_N_ELEMENTS (want_shown));
  for (guint i = 0; i < shown->len; i++)
    {
      g_assert_cmpstr (msg (shown, i)->content, ==, want_shown[i]);
      g_assert_cmpint (msg (shown, i)->role, ==, i % 2 ? TERN_ROLE_ASSISTANT : TERN_ROLE_USER);
      g_assert_cmpint (msg (shown, i)->complete, ==, i != 3);
      g_assert_cmpint (msg (shown, i)->n_branches, ==, want_branches[i][0]);
      g_assert_cmpint (msg (shown, i)->branch_index, ==, want_branches[i][1]);
    }
  g_assert_cmpint (conv->head_id, ==, msg (shown, 3)->id);
  g_assert_cmpint (msg (shown, 3)->n_tokens, ==, TERN_REPLY_CHECKPOINT_TOKENS);
  g_autoptr (GPtrArray) first = tern_store_message_children (store, c, msg (shown, 0)->id, &error);
  g_assert_cmpuint (first->len, ==, 2);
  g_assert_cmpstr (msg (first, 0)->content, ==, M1);
  g_autoptr (GPtrArray) edits = tern_store_message_children (store, c, msg (shown, 1)->id, &error);
  g_assert_cmpuint (edits->len, ==, 2);
  g_assert_cmpstr (msg (edits, 1)->content, ==, M5);
  gint64 newest = tern_store_branch_leaf (store, c, msg (shown, 0)->id, &error);
  g_autoptr (TernMessage) m6 = tern_store_message_get (store, newest, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (m6->content, ==, M6);
  g_assert_true (m6->complete);
  g_assert_cmpint (m6->parent_id, ==, msg (edits, 1)->id);
  /* The engine caches stay behind. */
  g_autoptr (GPtrArray) second = tern_store_conversation_messages (store, g_array_index (ids, gint64, 1), 0, &error);
  g_assert_cmpuint (second->len, ==, 2);
  g_assert_cmpstr (msg (second, 1)->content, ==, M8);
  g_assert_null (msg (second, 1)->tokens);
  g_assert_null (msg (second, 1)->sampler_state);
  g_autoptr (TernConversation) empty = tern_store_conversation_get (store, g_array_index (ids, gint64, 2), &error);
  g_assert_cmpstr (empty->title, ==, TITLE_3);
  g_assert_cmpint (empty->head_id, ==, 0);

  g_autofree char *json = tern_store_export (store, NULL, 0, TERN_EXPORT_JSON, &error);
  g_assert_no_error (error);
  g_autofree char *md = tern_store_export (store, NULL, 0, TERN_EXPORT_MARKDOWN, &error);
  g_assert_no_error (error);
  if (!update_golden ())
    {
      check_golden ("conversations.json", json);
      check_golden ("conversations.md", md);
    }

  tern_store_free (g_steal_pointer (&built));
  tern_store_free (g_steal_pointer (&store));
  test_remove_tree (dir);
}

int
main (int argc, char **argv)
{
  /* A zone other than UTC, so that a time written in local time instead
   * of UTC differs from the golden files (a POSIX rule: no tzdata needed). */
  g_setenv ("TZ", "XST-5:30", TRUE);
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/store/export/golden", test_golden);
  g_test_add_func ("/store/export/import", test_import);
  return g_test_run ();
}
