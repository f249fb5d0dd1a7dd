/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Imports of text the store cannot keep as it is, and of files that are
 * no export at all: what comes in is mended and counted, every export
 * imports again to the same bytes, and nothing a file holds crashes the
 * import or shows up in its error message.
 *
 * The random conversations are written here as JSON by a generator that
 * knows, piece by piece, the text each piece must become (an independent
 * reference: not the import's scanner). The seed is fixed so that a
 * failure repeats; TERN_TEST_SEED=N tries another, and a failure prints
 * the seed and the iteration. */
#include <tern/store.h>

#include <sys/resource.h>
#include <unistd.h>

#include "store/store-private.h"
#include "store-test.h"

#define ITERATIONS 200
#define DEFAULT_SEED 14

typedef struct {
  char *dir;
  TernStore *first;  /* imports the generated JSON */
  TernStore *second; /* imports its export */
} Fixture;

static TernStore *
open_in (const char *dir, const char *name)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *path = g_build_filename (dir, name, NULL);
  TernStore *store = tern_store_open (path, &error);

  g_assert_no_error (error);
  /* Hundreds of imports: what is tested is text, not durability. */
  g_assert_cmpint (sqlite3_exec (store->db, "PRAGMA synchronous = OFF", NULL, NULL, NULL), ==, SQLITE_OK);
  return store;
}

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  f->dir = g_dir_make_tmp ("tern-import-text-XXXXXX", NULL);
  g_assert_nonnull (f->dir);
  f->first = open_in (f->dir, "first.db");
  f->second = open_in (f->dir, "second.db");
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  g_clear_pointer (&f->first, tern_store_free);
  g_clear_pointer (&f->second, tern_store_free);
  test_remove_tree (f->dir);
  g_free (f->dir);
}

/* One JSON string being generated: its source text (between the quotes)
 * and what the store must hold for it. */
typedef struct {
  GString *json;
  GString *want;
  gsize n_replaced;
  gboolean after_lone_high; /* the last piece was an unpaired \uD8xx */
} Piece;

static const char replacement[] = "\xef\xbf\xbd";

static void
escape_unit (GString *json, GRand *rand, guint unit)
{
  g_string_append_printf (json, g_rand_boolean (rand) ? "\\u%04x" : "\\u%04X", unit);
}

/* A code point to write: across the planes, no surrogate, no NUL. */
static gunichar
random_char (GRand *rand)
{
  switch (g_rand_int_range (rand, 0, 6))
    {
    case 0: return g_rand_int_range (rand, 0x20, 0x7f);
    case 1: return g_rand_int_range (rand, 0x80, 0x800);
    case 2: return g_rand_int_range (rand, 0x800, 0xd800);
    case 3: return g_rand_int_range (rand, 0xe000, 0x10000);
    case 4: return g_rand_int_range (rand, 0x10000, 0x30000);
    default: return g_rand_int_range (rand, 0x30000, 0x110000);
    }
}

/* @c (valid, not NUL) as JSON: raw or escaped, as a writer might. */
static void
add_char (Piece *p, GRand *rand, gunichar c)
{
  g_string_append_unichar (p->want, c);
  if (c == '"' || c == '\\')
    g_string_append_printf (p->json, "\\%c", (char) c);
  else if (c < 0x20 && g_rand_boolean (rand))
    escape_unit (p->json, rand, c);
  else if (c >= 0x10000 && g_rand_boolean (rand))
    {
      escape_unit (p->json, rand, 0xd800 + ((c - 0x10000) >> 10));
      escape_unit (p->json, rand, 0xdc00 + ((c - 0x10000) & 0x3ff));
    }
  else if (c >= 0x20 && g_rand_int_range (rand, 0, 4) == 0 && c < 0x10000)
    escape_unit (p->json, rand, c);
  else
    g_string_append_unichar (p->json, c);
  p->after_lone_high = FALSE;
}

static void
add_replaced (Piece *p, const char *json, gsize n)
{
  g_string_append (p->json, json);
  for (gsize i = 0; i < n; i++)
    g_string_append (p->want, replacement);
  p->n_replaced += n;
}

static void
add_piece (Piece *p, GRand *rand)
{
  static const char *const emoji[] = {
    "\U0001F468\u200D\U0001F469\u200D\U0001F467", /* a ZWJ family */
    "\U0001F44D\U0001F3FD",                       /* a skin tone */
    "\u2764\uFE0F",                               /* a variation selector */
    "\U0001F1EB\U0001F1F7",                       /* a flag */
    "1\uFE0F\u20E3",                              /* a keycap */
  };
  static const char *const short_escapes[][2] = {
    { "\\n", "\n" }, { "\\t", "\t" }, { "\\r", "\r" }, { "\\b", "\b" }, { "\\f", "\f" }, { "\\/", "/" },
  };
  guint kind = g_rand_int_range (rand, 0, 12);

  switch (kind)
    {
    case 0: /* a letter and combining marks */
      add_char (p, rand, g_rand_int_range (rand, 'a', 'z' + 1));
      for (int n = g_rand_int_range (rand, 1, 4); n > 0; n--)
        add_char (p, rand, g_rand_int_range (rand, 0x300, 0x370));
      return;
    case 1:
      {
        const char *e = emoji[g_rand_int_range (rand, 0, G_N_ELEMENTS (emoji))];
        for (const char *c = e; *c; c = g_utf8_next_char (c))
          add_char (p, rand, g_utf8_get_char (c));
        return;
      }
    case 2: /* a control character */
      add_char (p, rand, g_rand_int_range (rand, 1, 0x20));
      return;
    case 3:
      {
        guint i = g_rand_int_range (rand, 0, G_N_ELEMENTS (short_escapes));
        g_string_append (p->json, short_escapes[i][0]);
        g_string_append (p->want, short_escapes[i][1]);
        p->after_lone_high = FALSE;
        return;
      }
    case 4: /* a high surrogate not followed by a low one */
      escape_unit (p->json, rand, g_rand_int_range (rand, 0xd800, 0xdc00));
      g_string_append (p->want, replacement);
      p->n_replaced++;
      p->after_lone_high = TRUE;
      return;
    case 5: /* a low surrogate alone (after a lone high, it would pair) */
      if (p->after_lone_high)
        break;
      escape_unit (p->json, rand, g_rand_int_range (rand, 0xdc00, 0xe000));
      g_string_append (p->want, replacement);
      p->n_replaced++;
      return;
    case 6:
      add_replaced (p, "\\u0000", 1);
      p->after_lone_high = FALSE;
      return;
    case 7: /* bytes that are not UTF-8: each one replaced */
      {
        static const char *const bad[] = { "\xff", "\xc0\xaf", "\xed\xa0\x80", "\xe2\x82", "\xf8\x88\x80\x80\x80" };
        guint i = g_rand_int_range (rand, 0, G_N_ELEMENTS (bad));
        add_replaced (p, bad[i], strlen (bad[i]));
        p->after_lone_high = FALSE;
        return;
      }
    default:
      break;
    }
  add_char (p, rand, random_char (rand));
}

/* A random string: its JSON (with quotes) goes to @json, its text to @want. */
static void
random_string (GRand *rand, GString *json, GString *want, gsize *n_replaced)
{
  Piece p = { g_string_new ("\""), g_string_new (NULL), 0, FALSE };

  for (int n = g_rand_int_range (rand, 0, 24); n > 0; n--)
    add_piece (&p, rand);
  g_string_append_c (p.json, '"');
  g_string_append_len (json, p.json->str, p.json->len);
  g_string_append_len (want, p.want->str, p.want->len);
  *n_replaced += p.n_replaced;
  g_string_free (p.json, TRUE);
  g_string_free (p.want, TRUE);
}

typedef struct {
  GString *title, *system_prompt;
  GPtrArray *contents; /* GString */
  gsize n_replaced;
} Expected;

static char *
random_export (GRand *rand, Expected *want)
{
  GString *json =
      g_string_new ("{\"format\": \"tern-conversations\", \"version\": 1, \"conversations\": [{\"title\": ");
  guint n = g_rand_int_range (rand, 1, 5);

  random_string (rand, json, want->title, &want->n_replaced);
  g_string_append (json, ", \"model\": null, \"system_prompt\": ");
  random_string (rand, json, want->system_prompt, &want->n_replaced);
  g_string_append (json, ", \"sampling\": {\"temperature\": 0.5, \"top_k\": 40, \"top_p\": 0.9, \"min_p\": 0.05, "
                         "\"repeat_penalty\": 1.1, \"repeat_last_n\": 64, \"frequency_penalty\": 0, "
                         "\"presence_penalty\": 0, \"seed\": \"7\"}, \"created_us\": 1000, \"updated_us\": 2000, "
                         "\"messages\": [");
  for (guint i = 0; i < n; i++)
    {
      GString *content = g_string_new (NULL);
      g_string_append_printf (json, "%s{\"role\": \"%s\", \"content\": ", i ? ", " : "",
                              i % 2 ? "assistant" : "user");
      random_string (rand, json, content, &want->n_replaced);
      g_string_append_printf (json, ", \"created_us\": %u, \"n_tokens\": 0, \"complete\": true, \"parent\": ",
                              1000 + i);
      if (i)
        g_string_append_printf (json, "%u}", i - 1);
      else
        g_string_append (json, "null}");
      g_ptr_array_add (want->contents, content);
    }
  g_string_append_printf (json, "], \"head\": %u}]}", n - 1);
  return g_string_free (json, FALSE);
}

static void
free_gstring (gpointer s)
{
  g_string_free (s, TRUE);
}

/* Imports @json (@len bytes) into @store; returns the new conversation's id. */
static gint64
import_one (TernStore *store, const char *json, gsize len, gsize *n_replaced, const char *where)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GArray) ids = g_array_new (FALSE, FALSE, sizeof (gint64));

  if (!tern_store_import_full (store, json, (gssize) len, ids, n_replaced, &error))
    g_error ("%s: %s", where, error->message);
  g_assert_cmpuint (ids->len, ==, 1);
  return g_array_index (ids, gint64, 0);
}

static void
check_text (const char *where, const char *what, const char *got, const GString *want)
{
  if (strcmp (got, want->str) != 0)
    g_error ("%s: the %s is \"%s\", expected \"%s\"", where, what, got, want->str);
}

static void
test_round_trip (Fixture *f, gconstpointer data)
{
  const char *seed_text = g_getenv ("TERN_TEST_SEED");
  guint32 seed = seed_text ? (guint32) g_ascii_strtoull (seed_text, NULL, 10) : DEFAULT_SEED;
  g_autoptr (GRand) rand = g_rand_new_with_seed (seed);
  gsize total_replaced = 0;

  for (guint it = 0; it < ITERATIONS; it++)
    {
      g_autoptr (GError) error = NULL;
      g_autofree char *where = g_strdup_printf ("seed %u, iteration %u", seed, it);
      Expected want = { g_string_new (NULL), g_string_new (NULL), g_ptr_array_new_with_free_func (free_gstring), 0 };
      g_autofree char *json = random_export (rand, &want);
      gsize n_replaced = 0, n_again = 0;

      /* Now and then a raw NUL byte, which the generator's C strings
       * cannot carry: put it where the first content's quote opens. */
      gsize len = strlen (json);
      if (g_rand_int_range (rand, 0, 4) == 0)
        {
          char *content = strstr (json, "\"content\": \"");
          g_assert_nonnull (content);
          gsize at = (gsize) (content - json) + strlen ("\"content\": \"");
          json = g_realloc (json, len + 2);
          memmove (json + at + 1, json + at, len + 1 - at);
          json[at] = '\0';
          len++;
          GString *first = want.contents->pdata[0];
          g_string_prepend (first, replacement);
          want.n_replaced++;
        }

      gint64 id = import_one (f->first, json, len, &n_replaced, where);
      if (n_replaced != want.n_replaced)
        g_error ("%s: %" G_GSIZE_FORMAT " characters replaced, expected %" G_GSIZE_FORMAT, where, n_replaced,
                 want.n_replaced);
      total_replaced += n_replaced;
      g_autoptr (TernConversation) c = tern_store_conversation_get (f->first, id, &error);
      g_assert_no_error (error);
      check_text (where, "title", c->title, want.title);
      check_text (where, "system prompt", c->system_prompt, want.system_prompt);
      g_autoptr (GPtrArray) messages = tern_store_conversation_messages (f->first, id, 0, &error);
      g_assert_no_error (error);
      g_assert_cmpuint (messages->len, ==, want.contents->len);
      for (guint i = 0; i < messages->len; i++)
        check_text (where, "message", ((TernMessage *) messages->pdata[i])->content, want.contents->pdata[i]);

      g_autofree char *exported = tern_store_export (f->first, &id, 1, TERN_EXPORT_JSON, &error);
      g_assert_no_error (error);
      if (!g_utf8_validate (exported, -1, NULL))
        g_error ("%s: the export is not UTF-8", where);
      gint64 again = import_one (f->second, exported, strlen (exported), &n_again, where);
      if (n_again != 0)
        g_error ("%s: importing the export replaced %" G_GSIZE_FORMAT " characters", where, n_again);
      g_autofree char *exported_again = tern_store_export (f->second, &again, 1, TERN_EXPORT_JSON, &error);
      g_assert_no_error (error);
      if (strcmp (exported, exported_again) != 0)
        g_error ("%s: the export of the import differs:\n%s\n%s", where, exported, exported_again);

      g_string_free (want.title, TRUE);
      g_string_free (want.system_prompt, TRUE);
      g_ptr_array_unref (want.contents);
    }
  /* The generator did make text to mend. */
  g_assert_cmpuint (total_replaced, >, ITERATIONS);
}

/* An export of one message whose content is @source in its JSON. */
static GString *
content_json (const char *source, gsize source_len)
{
  GString *json = g_string_new (
      "{\"format\": \"tern-conversations\", \"version\": 1, \"conversations\": [{\"title\": \"t\", \"model\": null, "
      "\"system_prompt\": \"\", \"sampling\": {\"temperature\": 0.5, \"top_k\": 40, \"top_p\": 0.9, \"min_p\": 0.05, "
      "\"repeat_penalty\": 1.1, \"repeat_last_n\": 64, \"frequency_penalty\": 0, \"presence_penalty\": 0, "
      "\"seed\": \"7\"}, \"created_us\": 1, \"updated_us\": 2, \"head\": 0, \"messages\": [{\"role\": \"user\", "
      "\"content\": \"");

  g_string_append_len (json, source, (gssize) source_len);
  g_string_append (json, "\", \"created_us\": 1, \"n_tokens\": 0, \"complete\": true, \"parent\": null}]}]}");
  return json;
}

/* One message's content, imported: its JSON source and what it becomes. */
static void
check_content (Fixture *f, const char *source, gsize source_len, const char *want, gsize want_replaced)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GString) json = content_json (source, source_len);
  gsize n_replaced = 0;

  gint64 id = import_one (f->first, json->str, json->len, &n_replaced, source);
  g_assert_cmpuint (n_replaced, ==, want_replaced);
  g_autoptr (GPtrArray) messages = tern_store_conversation_messages (f->first, id, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (((TernMessage *) messages->pdata[0])->content, ==, want);
}

/* The cases, each alone. */
static void
test_mended (Fixture *f, gconstpointer data)
{
  check_content (f, "\\ud800", 6, "\xef\xbf\xbd", 1);
  check_content (f, "x\\uDBFFy", 8, "x\xef\xbf\xbdy", 1);
  check_content (f, "\\udc00\\ud800", 12, "\xef\xbf\xbd\xef\xbf\xbd", 2);
  check_content (f, "\\ud800\\ud83d\\ude00", 18, "\xef\xbf\xbd\U0001F600", 1);
  check_content (f, "\\ud83d\\ude00", 12, "\U0001F600", 0);
  check_content (f, "a\\u0000b", 8, "a\xef\xbf\xbd" "b", 1);
  check_content (f, "a\0b", 3, "a\xef\xbf\xbd" "b", 1);
  check_content (f, "\xed\xa0\x80", 3, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd", 3);
  check_content (f, "\\\\u0000", 7, "\\u0000", 0);
  check_content (f, "\\u0041\\u00e9", 12, "A\u00e9", 0);
  /* An escape cut off by the end of the string: json-glib's to judge. */
  g_autoptr (GError) error = NULL;
  g_assert_false (tern_store_import (f->first, "[\"\\ud800", -1, NULL, &error));
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_FORMAT);
}

/* An escape JSON does not have is refused where it is, before json-glib
 * reads it as other text: "\ud8" and two bytes that are no hex digits
 * became a lone surrogate (an export that cannot be imported again, found
 * by fuzz-import), "\u0x" a NUL that cut the string, "\q" a "q". */
static void
test_bad_escapes (Fixture *f, gconstpointer data)
{
  /* Each escape, and how far into it the bad one starts. */
  const struct {
    const char *source;
    guint offset;
  } bad[] = {
    { "\\ud8\xff\xff", 0 }, { "\\ud8zz", 0 }, { "\\u0x", 0 }, { "\\u12", 0 }, { "\\uzzzz", 0 }, { "\\u", 0 },
    { "x\\ud83d\\ude0", 7 }, { "\\q", 0 }, { "\\x41", 0 }, { "\\'", 0 }, { "\\U0041", 0 },
  };

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (GString) json = content_json (bad[i].source, strlen (bad[i].source));
      /* The columns before the content are ASCII, one a byte. */
      g_autofree char *where = g_strdup_printf ("a backslash escape that JSON does not have (line 1, column %u)",
                                                (guint) (strstr (json->str, bad[i].source) - json->str) + 1 +
                                                  bad[i].offset);

      g_assert_false (tern_store_import (f->first, json->str, (gssize) json->len, NULL, &error));
      g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_FORMAT);
      g_assert_true (g_str_has_suffix (error->message, where));
      g_assert_cmpint (tern_store_conversation_count (f->first, FALSE, NULL), ==, 0);
    }
  /* A backslash as the last byte of the text. */
  g_autoptr (GError) error = NULL;
  g_assert_false (tern_store_import (f->first, "[\"\\", -1, NULL, &error));
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_FORMAT);
  /* Every escape JSON has. */
  check_content (f, "\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9", 22, "\"\\/\b\f\n\r\t\u00e9", 0);
}

static char *
nested (guint depth, const char *inner)
{
  GString *s = g_string_new (NULL);

  for (guint i = 0; i < depth; i++)
    g_string_append_c (s, '[');
  g_string_append (s, inner);
  for (guint i = 0; i < depth; i++)
    g_string_append_c (s, ']');
  return g_string_free (s, FALSE);
}

/* Nesting is refused before json-glib recurses into it: 100,000 levels
 * overflowed its stack. Brackets inside strings are text. */
static void
test_deep (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *deep = nested (100000, "");
  g_autofree char *limit = nested (TERN_STORE_IMPORT_MAX_DEPTH, "1");
  g_autofree char *over = nested (TERN_STORE_IMPORT_MAX_DEPTH + 1, "1");
  g_autofree char *brackets = nested (1000, "");
  g_autofree char *quoted = g_strdup_printf ("[\"\\\"\\\\%s\"]", brackets);
  g_autofree char *objects = g_strnfill (100000, '{');

  g_assert_false (tern_store_import (f->first, deep, -1, NULL, &error));
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_FORMAT);
  g_assert_nonnull (strstr (error->message, "deeper than 64 levels (line 1, column 65)"));
  g_clear_error (&error);
  g_assert_false (tern_store_import (f->first, objects, -1, NULL, &error));
  g_assert_nonnull (strstr (error->message, "deeper than 64 levels"));
  g_clear_error (&error);
  g_assert_false (tern_store_import (f->first, over, -1, NULL, &error));
  g_assert_nonnull (strstr (error->message, "deeper than 64 levels"));
  g_clear_error (&error);

  /* At the limit, and brackets in strings (after escaped quotes and
   * backslashes): json-glib parses them, and they are no export. */
  const char *fine[] = { limit, quoted };
  for (guint i = 0; i < G_N_ELEMENTS (fine); i++)
    {
      g_assert_false (tern_store_import (f->first, fine[i], -1, NULL, &error));
      g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_FORMAT);
      g_assert_cmpstr (error->message, ==, "not a Tern conversation export");
      g_clear_error (&error);
    }
  /* Closing brackets free levels again: three arrays side by side, each
   * as deep as the limit allows inside the outer one. */
  g_autofree char *side = nested (TERN_STORE_IMPORT_MAX_DEPTH - 1, "1");
  g_autofree char *siblings = g_strjoinv (",", (char *[]) { side, side, side, NULL });
  g_autofree char *wide = g_strdup_printf ("[%s]", siblings);
  g_assert_false (tern_store_import (f->first, wide, -1, NULL, &error));
  g_assert_cmpstr (error->message, ==, "not a Tern conversation export");
}

/* The parse error says where, never what: the file may be one that was
 * never meant to be shown (history import /etc/shadow). */
static void
test_parse_error_quiet (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  const char *shadow = "root:$y$j9T$secretsalt$hash:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n";

  g_assert_false (tern_store_import (f->first, shadow, -1, NULL, &error));
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_FORMAT);
  g_assert_null (strstr (error->message, "root"));
  g_assert_null (strstr (error->message, "secret"));
  g_assert_nonnull (strstr (error->message, "line 1,"));
  g_clear_error (&error);
  g_assert_false (tern_store_import (f->first, "{\n  \"format\": 1,\n  \"x\": password\n}", -1, NULL, &error));
  g_assert_null (strstr (error->message, "password"));
  g_assert_nonnull (strstr (error->message, "line 3,"));
  g_clear_error (&error);
  /* No text at all. */
  g_assert_false (tern_store_import (f->first, "", -1, NULL, &error));
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_FORMAT);
}

/* Beyond the limit nothing is scanned or parsed. */
static void
test_too_large (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  gsize len = TERN_STORE_IMPORT_MAX_BYTES + 1;
  g_autofree char *spaces = g_malloc (len + 1);

  memset (spaces, ' ', len);
  spaces[len] = '\0';
  g_assert_false (tern_store_import (f->first, spaces, (gssize) len, NULL, &error));
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_UNSUPPORTED);
  g_assert_nonnull (strstr (error->message, "64 MiB"));
  g_clear_error (&error);
  /* At the limit it is read (and is no export: json-glib stops at once). */
  spaces[0] = 'x';
  g_assert_false (tern_store_import (f->first, spaces, (gssize) len - 1, NULL, &error));
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_FORMAT);
  g_assert_nonnull (strstr (error->message, "line 1"));
}

/* Under an address-space limit (ulimit -v), an import that json-glib
 * could not parse in what is left ends with NOMEM: json-glib allocates
 * with g_malloc, which aborted (a 100 MB string, under ulimit -v 300M).
 * 20 MiB of bytes that are not UTF-8 mend to 60 MiB; the limit leaves
 * 160 MiB, enough to mend, not enough to parse. */
static void
test_address_limit (Fixture *f, gconstpointer data)
{
#if defined(__SANITIZE_ADDRESS__)
  g_test_skip ("AddressSanitizer reserves more address space than the limit");
#else
  if (g_test_subprocess ())
    {
      g_autoptr (GError) error = NULL;
      gsize n = 20 << 20;
      g_autofree char *json = g_malloc (n + 5);
      g_autofree char *statm = NULL;
      struct rlimit limit;

      memcpy (json, "[\"", 2);
      memset (json + 2, 0xff, n);
      memcpy (json + 2 + n, "\"]", 3);
      g_assert_true (g_file_get_contents ("/proc/self/statm", &statm, NULL, NULL));
      limit.rlim_cur = limit.rlim_max = g_ascii_strtoull (statm, NULL, 10) * sysconf (_SC_PAGESIZE) + (160 << 20);
      g_assert_cmpint (setrlimit (RLIMIT_AS, &limit), ==, 0);
      g_assert_false (tern_store_import (f->first, json, -1, NULL, &error));
      g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_NOMEM);
      return;
    }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
#endif
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/store/import-text/round-trip", Fixture, NULL, fixture_set_up, test_round_trip, fixture_tear_down);
  g_test_add ("/store/import-text/mended", Fixture, NULL, fixture_set_up, test_mended, fixture_tear_down);
  g_test_add ("/store/import-text/bad-escapes", Fixture, NULL, fixture_set_up, test_bad_escapes, fixture_tear_down);
  g_test_add ("/store/import-text/deep", Fixture, NULL, fixture_set_up, test_deep, fixture_tear_down);
  g_test_add ("/store/import-text/parse-error-quiet", Fixture, NULL, fixture_set_up, test_parse_error_quiet,
              fixture_tear_down);
  g_test_add ("/store/import-text/too-large", Fixture, NULL, fixture_set_up, test_too_large, fixture_tear_down);
  g_test_add ("/store/import-text/address-limit", Fixture, NULL, fixture_set_up, test_address_limit,
              fixture_tear_down);
  return g_test_run ();
}
