/* SPDX-License-Identifier: GPL-3.0-or-later */
/* bench-store [MODEL] [--tokens N] [--threads N]: the store's speed.
 *
 * With MODEL (e.g. the bench-1b shape from tern-cli make-model): the time
 * to evaluate N tokens (what re-ingesting a transcript costs), and to save
 * and restore a snapshot of them, with its size; all per 1k tokens. Then,
 * on a database of 10,000 conversations of 10 messages: full-text search
 * latency over the 100,000 messages, and listing the conversations. */
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>
#include <tern/snapshot.h>
#include <tern/store.h>

#define N_CONVERSATIONS 10000
#define MESSAGES_PER 10
#define REPEATS 3

static double
now_s (void)
{
  return g_get_monotonic_time () / 1e6;
}

static void
check (gboolean ok, GError *error)
{
  if (!ok)
    g_error ("%s", error ? error->message : "failed");
}

static void
remove_db (const char *path)
{
  const char *suffixes[] = { "", "-wal", "-shm" };
  for (guint i = 0; i < G_N_ELEMENTS (suffixes); i++)
    {
      g_autofree char *p = g_strconcat (path, suffixes[i], NULL);
      g_unlink (p);
    }
}

static void
bench_snapshots (const char *dir, const char *model_path, gint32 n_tokens, guint n_threads)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *db = g_build_filename (dir, "snapshots.db", NULL);
  TernModelIdentity identity;
  TernContextParams params;
  TernSamplerParams sampling;

  g_autoptr (TernModel) model = tern_model_load (model_path, NULL, NULL, NULL, &error);
  check (model != NULL, error);
  check (tern_model_identity_of_gguf (tern_model_gguf (model), model_path, &identity, &error), error);
  const TernHParams *hp = tern_model_hparams (model);
  tern_context_params_init (&params);
  params.n_ctx = MAX (n_tokens, 64);
  params.n_threads = n_threads;
  g_autoptr (TernContext) ctx = tern_context_new (model, &params, &error);
  check (ctx != NULL, error);
  tern_sampler_params_init (&sampling);
  sampling.seed = 1;
  g_autoptr (TernSampler) sampler = tern_sampler_new (&sampling, hp->n_vocab);

  /* Tokens of ordinary text, repeated to length. */
  g_autoptr (GArray) tokens = g_array_new (FALSE, FALSE, sizeof (TernToken));
  const char *text = "In the beginning God created the heaven and the earth. And the earth was without form, and void; "
                     "and darkness was upon the face of the deep. And the Spirit of God moved upon the face of the "
                     "waters. And God said, Let there be light: and there was light. ";
  while ((gint32) tokens->len < n_tokens)
    check (tern_tokenizer_encode (tern_model_tokenizer (model), text, -1, TERN_TOKENIZE_NONE, tokens, &error), error);
  g_array_set_size (tokens, n_tokens);

  printf ("model: %s (%d layers, KV dim %d, vocabulary %d), %d tokens, %u threads (%s)\n", model_path, hp->n_layer,
          hp->n_head_kv * hp->head_dim, hp->n_vocab, n_tokens, tern_context_n_threads (ctx),
          tern_context_backend_name (ctx));
  double t = now_s ();
  check (tern_context_decode (ctx, (TernToken *) tokens->data, n_tokens, FALSE, NULL, NULL, NULL, &error), error);
  double ingest = now_s () - t;
  double per_k = 1024.0 / n_tokens;

  remove_db (db);
  g_autoptr (TernStore) store = tern_store_open (db, &error);
  check (store != NULL, error);
  gint64 c = tern_store_conversation_new (store, "bench", 0, NULL, NULL, &error);
  double best_save = G_MAXDOUBLE, best_restore = G_MAXDOUBLE;
  gint64 size = 0;
  for (int r = 0; r < REPEATS; r++)
    {
      t = now_s ();
      gint64 id = tern_snapshot_save_to_store (store, c, 0, ctx, sampler, &identity, &error);
      check (id > 0, error);
      best_save = MIN (best_save, now_s () - t);
      g_autoptr (GPtrArray) list = tern_store_snapshot_list (store, c, &error);
      size = ((TernSnapshotEntry *) list->pdata[0])->size;

      g_autoptr (TernContext) fresh = tern_context_new (model, &params, &error);
      t = now_s ();
      g_autoptr (TernSampler) s = tern_snapshot_restore_from_store (store, id, fresh, &identity, &error);
      check (s != NULL, error);
      best_restore = MIN (best_restore, now_s () - t);
    }
  gsize raw = tern_context_state_size (ctx);
  printf ("state:      %.1f MiB raw, %.1f MiB stored (%.0f%%)\n", raw / 1048576.0, size / 1048576.0,
          100.0 * size / raw);
  printf ("per 1k tokens: re-ingest %.3f s | snapshot save %.3f s, restore %.3f s, %.1f MiB\n", ingest * per_k,
          best_save * per_k, best_restore * per_k, size * per_k / 1048576.0);
  printf ("restore is %.0fx faster than re-ingesting\n", ingest / best_restore);
  g_clear_pointer (&store, tern_store_free);
  remove_db (db);
}

static int
compare_doubles (gconstpointer a, gconstpointer b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return x < y ? -1 : x > y;
}

static void
bench_search (const char *dir)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *db = g_build_filename (dir, "search.db", NULL);
  g_autoptr (GRand) rand = g_rand_new_with_seed (1);
  char words[4096][12];

  remove_db (db);
  g_autoptr (TernStore) store = tern_store_open (db, &error);
  check (store != NULL, error);
  /* A vocabulary of made-up words with a Zipf-like use: word i is picked
   * about 1/i as often. */
  for (guint i = 0; i < G_N_ELEMENTS (words); i++)
    {
      guint len = 3 + i % 7;
      for (guint k = 0; k < len; k++)
        words[i][k] = 'a' + (char) ((i * 7 + k * 13 + (i >> 3) * k) % 26);
      words[i][len] = '\0';
    }

  double t = now_s ();
  check (tern_store_begin (store, &error), error);
  g_autoptr (GString) text = g_string_new (NULL);
  for (guint c = 0; c < N_CONVERSATIONS; c++)
    {
      g_autofree char *title = g_strdup_printf ("Conversation %u", c);
      gint64 id = tern_store_conversation_new (store, title, 0, NULL, NULL, &error);
      check (id > 0, error);
      for (guint m = 0; m < MESSAGES_PER; m++)
        {
          g_string_truncate (text, 0);
          for (guint w = 0; w < 40; w++)
            {
              guint i = (guint) (G_N_ELEMENTS (words) / (1.0 + g_rand_double (rand) * (G_N_ELEMENTS (words) - 1)));
              g_string_append_printf (text, "%s%s", w ? " " : "", words[MIN (i, G_N_ELEMENTS (words) - 1)]);
            }
          /* A rare word: in one message of a thousand. */
          if ((c * MESSAGES_PER + m) % 1000 == 0)
            g_string_append (text, " zebra");
          check (tern_store_message_add (store, id, TERN_STORE_HEAD, m % 2 ? TERN_ROLE_ASSISTANT : TERN_ROLE_USER,
                                         text->str, NULL, 40, NULL, &error) > 0,
                 error);
        }
    }
  check (tern_store_commit (store, &error), error);
  GStatBuf st;
  g_stat (db, &st);
  printf ("\ndatabase: %d conversations, %d messages, filled in %.1f s (%.0f MiB)\n", N_CONVERSATIONS,
          N_CONVERSATIONS * MESSAGES_PER, now_s () - t, st.st_size / 1048576.0);

  /* The most common word, a common one, a rare one (100 messages), its
   * prefix, two words, and none. */
  g_autofree char *two = g_strdup_printf ("%s zebra", words[40]);
  const char *queries[] = { words[1], words[40], "zebra", "zeb", two, "nomatchatall" };
  for (guint q = 0; q < G_N_ELEMENTS (queries); q++)
    {
      double times[21];
      guint hits = 0;
      for (guint r = 0; r < G_N_ELEMENTS (times); r++)
        {
          t = now_s ();
          g_autoptr (GPtrArray) found = tern_store_search (store, queries[q], "[", "]", 0, 50, &error);
          check (found != NULL, error);
          times[r] = now_s () - t;
          hits = found->len;
        }
      qsort (times, G_N_ELEMENTS (times), sizeof times[0], compare_doubles);
      printf ("search %-16s %2u hits (of the first 50): median %.2f ms\n", queries[q], hits,
              times[G_N_ELEMENTS (times) / 2] * 1e3);
    }

  t = now_s ();
  g_autoptr (GPtrArray) page = tern_store_conversation_list (store, FALSE, 0, 50, &error);
  check (page != NULL, error);
  double first_page = now_s () - t;
  t = now_s ();
  g_autoptr (GPtrArray) all = tern_store_conversation_list (store, FALSE, 0, N_CONVERSATIONS, &error);
  check (all != NULL && all->len == N_CONVERSATIONS, error);
  double whole = now_s () - t;
  t = now_s ();
  g_autoptr (GPtrArray) last = tern_store_conversation_list (store, FALSE, N_CONVERSATIONS - 50, 50, &error);
  double last_page = now_s () - t;
  printf ("list %d conversations: first page of 50 %.2f ms, last page %.2f ms, all at once %.1f ms\n",
          N_CONVERSATIONS, first_page * 1e3, last_page * 1e3, whole * 1e3);
  g_clear_pointer (&store, tern_store_free);
  remove_db (db);
}

int
main (int argc, char **argv)
{
  gint n_tokens = 1024, n_threads = 0;
  const GOptionEntry entries[] = {
    { "tokens", 0, 0, G_OPTION_ARG_INT, &n_tokens, "Tokens in the snapshot (default 1024)", "N" },
    { "threads", 't', 0, G_OPTION_ARG_INT, &n_threads, "Compute threads (default: one per core)", "N" },
    { NULL },
  };
  g_autoptr (GOptionContext) options = g_option_context_new ("[MODEL]");
  g_autoptr (GError) error = NULL;

  g_option_context_add_main_entries (options, entries, NULL);
  if (!g_option_context_parse (options, &argc, &argv, &error) || argc > 2 || n_tokens <= 0 || n_threads < 0)
    {
      g_printerr ("bench-store: %s\n", error ? error->message : "usage: bench-store [MODEL] [--tokens N]");
      return 1;
    }
  g_autofree char *dir = g_dir_make_tmp ("bench-store-XXXXXX", &error);
  check (dir != NULL, error);
  if (argc == 2)
    bench_snapshots (dir, argv[1], n_tokens, (guint) n_threads);
  bench_search (dir);
  g_rmdir (dir);
  return 0;
}
