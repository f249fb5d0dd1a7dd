/* SPDX-License-Identifier: GPL-3.0-or-later */
/* bench-stop-latency [MODEL] [--runs N] [--prompt N] [--threads N] [--seed S]: how long Stop takes to end the
 * reading of a message, through TernService as the app sends it.
 *
 * Without MODEL a 1.1 B model is made first (tern-cli make-model --preset bench-1b, Q4_0) in a temporary folder.
 * A message of about N tokens (default 700) is sent to a new conversation once whole, to time its reading (T);
 * then, N times (default 20), it is sent again to a new conversation and tern_service_stop is called at a moment
 * drawn at random in [0, T). The latency is from the stop to the send's callback, which must fail with CANCELLED
 * (the service is idle then); its median (p50) and maximum are printed. The target is a maximum of 0.3 s. */
#include <glib/gstdio.h>
#include <stdio.h>
#include <tern/error.h>
#include <tern/gguf.h>
#include <tern/service.h>
#include <tern/tokenizer.h>

typedef struct {
  gboolean answered;
  gint64 value;
  GError *error;
  gint64 stop_at;   /* when the stop was made; 0: not yet */
  gint64 done_at;   /* when the callback ran */
  gint64 started_at; /* "reply-started": the message was read */
  TernService *service;
} Run;

static void
check (gboolean ok, const GError *error)
{
  if (!ok)
    g_error ("%s", error ? error->message : "failed");
}

static void
got (GObject *source, GAsyncResult *result, gpointer data)
{
  Run *run = data;
  TernService *service = TERN_SERVICE (source);
  gpointer tag = g_task_get_source_tag (G_TASK (result));

  if (tag == tern_service_load_model)
    run->value = tern_service_load_model_finish (service, result, &run->error);
  else if (tag == tern_service_new_conversation)
    run->value = tern_service_new_conversation_finish (service, result, &run->error);
  else if (tag == tern_service_open_conversation)
    run->value = tern_service_open_conversation_finish (service, result, &run->error);
  else
    run->value = tern_service_send_message_finish (service, result, &run->error);
  run->done_at = g_get_monotonic_time ();
  run->answered = TRUE;
}

static void
run_reset (Run *run, TernService *service)
{
  g_clear_error (&run->error);
  *run = (Run) { .service = service };
}

static gint64
call (Run *run)
{
  while (!run->answered)
    g_main_context_iteration (NULL, TRUE);
  check (run->error == NULL, run->error);
  return run->value;
}

static void
on_reply_started (TernService *service, gint64 reply_id, gint64 parent_id, Run **run)
{
  if ((*run)->started_at == 0)
    (*run)->started_at = g_get_monotonic_time ();
}

static gboolean
stop_now (gpointer data)
{
  Run *run = data;

  run->stop_at = g_get_monotonic_time ();
  tern_service_stop (run->service);
  return G_SOURCE_REMOVE;
}

/* A new, empty conversation, open. */
static void
fresh_conversation (TernService *service, Run *run)
{
  run_reset (run, service);
  tern_service_new_conversation (service, "bench", NULL, NULL, NULL, got, run);
  gint64 id = call (run);
  run_reset (run, service);
  tern_service_open_conversation (service, id, NULL, got, run);
  call (run);
}

/* A text of about @n_tokens tokens of the model's. */
static char *
prompt_text (const char *model, gint n_tokens)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (TernGguf) gguf = tern_gguf_open (model, &error);
  check (gguf != NULL, error);
  g_autoptr (TernTokenizer) tok = tern_tokenizer_new (gguf, &error);
  check (tok != NULL, error);
  const char *verse = "And God said, Let there be light: and there was light. ";
  g_autoptr (GArray) tokens = g_array_new (FALSE, FALSE, sizeof (TernToken));
  check (tern_tokenizer_encode (tok, verse, -1, TERN_TOKENIZE_NONE, tokens, &error), error);
  GString *text = g_string_new (NULL);
  for (gint n = 0; n + (gint) tokens->len <= n_tokens; n += (gint) tokens->len)
    g_string_append (text, verse);
  return g_string_free (text, FALSE);
}

/* Makes the 1.1 B model in @dir with tern-cli; its path. */
static char *
make_model (const char *dir)
{
  g_autoptr (GError) error = NULL;
  char *path = g_build_filename (dir, "bench-1b.gguf", NULL);
  const char *argv[] = { TERN_CLI, "make-model", "--preset", "bench-1b", "--type", "q4_0", "--vocab", TERN_VOCAB,
                         path, NULL };
  gint status = 0;

  printf ("making a 1.1 B model in %s…\n", dir);
  fflush (stdout);
  check (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, NULL, NULL, &status, &error) &&
             g_spawn_check_wait_status (status, &error),
         error);
  return path;
}

static int
compare_doubles (gconstpointer a, gconstpointer b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return x < y ? -1 : x > y;
}

static void
remove_tree (const char *dir)
{
  const char *names[] = { "bench-1b.gguf", "bench.db", "bench.db-wal", "bench.db-shm" };

  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_autofree char *p = g_build_filename (dir, names[i], NULL);
      g_unlink (p);
    }
  g_rmdir (dir);
}

int
main (int argc, char **argv)
{
  gint runs = 20, n_prompt = 700, n_threads = 0, seed = 1;
  const GOptionEntry entries[] = {
    { "runs", 'r', 0, G_OPTION_ARG_INT, &runs, "Stops (default 20)", "N" },
    { "prompt", 'p', 0, G_OPTION_ARG_INT, &n_prompt, "Message tokens (default 700)", "N" },
    { "threads", 't', 0, G_OPTION_ARG_INT, &n_threads, "Compute threads (default: one per core)", "N" },
    { "seed", 0, 0, G_OPTION_ARG_INT, &seed, "Seed of the stop moments (default 1)", "S" },
    { NULL },
  };
  g_autoptr (GOptionContext) options = g_option_context_new ("[MODEL]");
  g_autoptr (GError) error = NULL;

  /* Each stop as it comes: a run on a slow machine takes minutes. */
  setvbuf (stdout, NULL, _IOLBF, 0);
  g_option_context_add_main_entries (options, entries, NULL);
  if (!g_option_context_parse (options, &argc, &argv, &error) || argc > 2 || runs <= 0 || n_prompt <= 0 ||
      n_threads < 0)
    {
      g_printerr ("bench-stop-latency: %s\n", error ? error->message : "usage: bench-stop-latency [MODEL] [OPTION…]");
      return 1;
    }
  g_autofree char *dir = g_dir_make_tmp ("bench-stop-latency-XXXXXX", &error);
  check (dir != NULL, error);
  g_autofree char *model = argc == 2 ? g_strdup (argv[1]) : make_model (dir);
  g_autofree char *db = g_build_filename (dir, "bench.db", NULL);
  g_autoptr (GRand) rand = g_rand_new_with_seed ((guint32) seed);
  g_autoptr (GArray) delays = g_array_new (FALSE, FALSE, sizeof (double));
  g_autofree char *text = prompt_text (model, n_prompt);
  /* Room for the message and its template, as the app's default context would give. */
  TernService *service = tern_service_new (db, (guint) n_threads, n_prompt + 256, NULL);
  Run run = { 0 }, *current = &run;
  guint n_ended_first = 0;

  run_reset (&run, service);
  tern_service_load_model (service, model, NULL, got, &run);
  call (&run);
  g_signal_connect (service, "reply-started", G_CALLBACK (on_reply_started), &current);

  /* The whole reading, to the reply's start (one token of reply). */
  fresh_conversation (service, &run);
  run_reset (&run, service);
  gint64 start = g_get_monotonic_time ();
  tern_service_send_message (service, text, 1, NULL, got, &run);
  call (&run);
  double t_read = (run.started_at - start) / 1e6;
  printf ("model: %s on %s, message of about %d tokens read in %.3f s; %d stops\n", model,
          tern_service_get_backend (service), n_prompt, t_read, runs);

  while ((gint) delays->len < runs)
    {
      fresh_conversation (service, &run);
      run_reset (&run, service);
      start = g_get_monotonic_time ();
      tern_service_send_message (service, text, 1, NULL, got, &run);
      guint timer = g_timeout_add ((guint) g_rand_double_range (rand, 0, t_read * 1000), stop_now, &run);
      while (!run.answered)
        g_main_context_iteration (NULL, TRUE);
      if (run.stop_at == 0)
        g_source_remove (timer);
      /* Read whole before the stop came (it then stopped the reply): drawn again. */
      if (run.error == NULL || run.stop_at == 0)
        {
          n_ended_first++;
          continue;
        }
      if (!g_error_matches (run.error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_CANCELLED))
        g_error ("%s", run.error->message);
      g_assert (!tern_service_get_generating (service));
      double d = (run.done_at - run.stop_at) / 1e6;
      printf ("stop %u at %.3f s: %.3f s\n", delays->len + 1, (run.stop_at - start) / 1e6, d);
      g_array_append_val (delays, d);
    }
  g_array_sort (delays, compare_doubles);
  double p50 = g_array_index (delays, double, delays->len / 2), max = g_array_index (delays, double, delays->len - 1);
  printf ("stop during reading: p50 %.3f s, max %.3f s over %u stops (%u ended before the stop, drawn again); "
          "target max 0.300 s: %s\n",
          p50, max, delays->len, n_ended_first, max <= 0.3 ? "met" : "missed");

  g_clear_error (&run.error);
  g_object_unref (service);
  remove_tree (dir);
  return 0;
}
