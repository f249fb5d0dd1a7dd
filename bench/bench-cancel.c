/* SPDX-License-Identifier: GPL-3.0-or-later */
/* bench-cancel MODEL [--runs N] [--prompt N] [--ctx N] [--threads N] [--cold] [--seed S]: how long Stop and quit
 * take to end the engine's work, through TernService as the app uses it.
 *
 * Each kind of work is first timed whole (T), then started again N times and stopped at a moment drawn at random
 * in [0, T). The delay is from the stop to the request's callback (to tern_service_shutdown's return, the engine
 * thread joined, for quit); the worst and the median are printed, with how many runs ended before the stop came.
 *   load     loading the model: its request's cancellable is cancelled;
 *   ingest   a prompt of N tokens in a new conversation: tern_service_stop;
 *   quit     tern_service_shutdown while a model loads, while a prompt is read, and while a reply streams (in
 *            the second after it starts), which stores the reply so far and its snapshot.
 * With --cold the model file's pages are dropped from the page cache before each load (posix_fadvise), as after
 * a reboot. */
#include <fcntl.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <tern/error.h>
#include <tern/gguf.h>
#include <tern/service.h>
#include <tern/tokenizer.h>
#include <unistd.h>

typedef enum { STOP_CANCEL, STOP_SERVICE, STOP_QUIT } StopHow;

typedef struct {
  TernService *service;
  GCancellable *cancellable;
  StopHow how;
  guint timer;
  gint64 stop_at;  /* when the stop was made; 0: not yet */
  gint64 done_at;  /* when the request's callback ran, or shutdown returned */
  gint64 value;
  GError *error;
  gboolean answered;
  gint64 started_at; /* "reply-started": the prompt was read */
} Run;

typedef struct {
  const char *model;
  char *db;
  guint n_threads;
  gint n_ctx;
  gboolean cold;
  GRand *rand;
} Bench;

static void
check (gboolean ok, const GError *error)
{
  if (!ok)
    g_error ("%s", error ? error->message : "failed");
}

static void
drop_cache (const char *path)
{
  int fd = g_open (path, O_RDONLY, 0);

  if (fd < 0 || posix_fadvise (fd, 0, 0, POSIX_FADV_DONTNEED) != 0)
    g_error ("%s: cannot drop the file's cached pages", path);
  close (fd);
}

static void
got (GObject *source, GAsyncResult *result, gpointer data)
{
  Run *run = data;
  GTask *task = G_TASK (result);
  gpointer tag = g_task_get_source_tag (task);
  TernService *service = TERN_SERVICE (source);

  if (tag == tern_service_load_model)
    run->value = tern_service_load_model_finish (service, result, &run->error);
  else if (tag == tern_service_send_message)
    run->value = tern_service_send_message_finish (service, result, &run->error);
  else if (tag == tern_service_new_conversation)
    run->value = tern_service_new_conversation_finish (service, result, &run->error);
  else if (tag == tern_service_open_conversation)
    run->value = tern_service_open_conversation_finish (service, result, &run->error);
  else
    g_assert_not_reached ();
  if (run->done_at == 0)
    run->done_at = g_get_monotonic_time ();
  run->answered = TRUE;
}

static void
on_reply_started (TernService *service, gint64 reply_id, gint64 parent_id, Run *run)
{
  if (run->started_at == 0)
    run->started_at = g_get_monotonic_time ();
}

static void
await (Run *run)
{
  while (!run->answered)
    g_main_context_iteration (NULL, TRUE);
}

static void
run_reset (Run *run, TernService *service, StopHow how)
{
  g_clear_error (&run->error);
  g_clear_object (&run->cancellable);
  *run = (Run) { .service = service, .how = how, .cancellable = g_cancellable_new () };
}

static gboolean
stop_now (gpointer data)
{
  Run *run = data;

  run->timer = 0;
  run->stop_at = g_get_monotonic_time ();
  switch (run->how)
    {
    case STOP_CANCEL:
      g_cancellable_cancel (run->cancellable);
      break;
    case STOP_SERVICE:
      tern_service_stop (run->service);
      break;
    case STOP_QUIT:
      tern_service_shutdown (run->service);
      run->done_at = g_get_monotonic_time ();
      break;
    }
  return G_SOURCE_REMOVE;
}

/* Waits for @run's request, stopping it @after_us after @start unless it ended before; returns the delay from
 * the stop to its end in seconds, or -1 when it ended first. */
static double
stop_after (Run *run, gint64 start, gint64 after_us)
{
  gint64 wait_ms = MAX (0, (start + after_us - g_get_monotonic_time ()) / 1000);

  run->timer = g_timeout_add ((guint) wait_ms, stop_now, run);
  await (run);
  if (run->how == STOP_QUIT && run->stop_at != 0)
    return (run->done_at - run->stop_at) / 1e6;
  if (run->timer != 0)
    {
      g_source_remove (run->timer);
      run->timer = 0;
    }
  if (run->stop_at == 0 || run->done_at < run->stop_at)
    return -1;
  return (run->done_at - run->stop_at) / 1e6;
}

static TernService *
service_new (Bench *b)
{
  return tern_service_new (b->db, b->n_threads, b->n_ctx, NULL);
}

static void
load (Bench *b, TernService *service, Run *run)
{
  if (b->cold)
    drop_cache (b->model);
  tern_service_load_model (service, b->model, run->cancellable, got, run);
}

static gint64
call (Run *run)
{
  await (run);
  check (run->error == NULL, run->error);
  return run->value;
}

/* A new, empty conversation, open. */
static void
fresh_conversation (TernService *service, Run *run)
{
  run_reset (run, service, STOP_CANCEL);
  tern_service_new_conversation (service, "bench", NULL, NULL, NULL, got, run);
  gint64 id = call (run);
  run_reset (run, service, STOP_CANCEL);
  tern_service_open_conversation (service, id, NULL, got, run);
  call (run);
}

static void
loaded (Bench *b, TernService *service)
{
  Run run = { 0 };

  run_reset (&run, service, STOP_CANCEL);
  load (b, service, &run);
  call (&run);
  g_clear_object (&run.cancellable);
}

static int
compare_doubles (gconstpointer a, gconstpointer b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return x < y ? -1 : x > y;
}

/* Prints the worst and the median of @delays (-1: ended before the stop). */
static void
report (const char *what, GArray *delays)
{
  g_autoptr (GArray) stopped = g_array_new (FALSE, FALSE, sizeof (double));

  for (guint i = 0; i < delays->len; i++)
    if (g_array_index (delays, double, i) >= 0)
      g_array_append_val (stopped, g_array_index (delays, double, i));
  g_array_sort (stopped, compare_doubles);
  if (stopped->len == 0)
    printf ("%-26s every run ended before the stop\n", what);
  else
    printf ("%-26s worst %.3f s, median %.3f s (%u stopped, %u ended first)\n", what,
            g_array_index (stopped, double, stopped->len - 1), g_array_index (stopped, double, stopped->len / 2),
            stopped->len, delays->len - stopped->len);
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

int
main (int argc, char **argv)
{
  gint runs = 10, n_prompt = 600, n_threads = 0, n_ctx = 0, seed = 1;
  gboolean cold = FALSE;
  const GOptionEntry entries[] = {
    { "runs", 'r', 0, G_OPTION_ARG_INT, &runs, "Stops of each kind (default 10)", "N" },
    { "prompt", 'p', 0, G_OPTION_ARG_INT, &n_prompt, "Prompt tokens, at most 70% of the context (default 600)",
      "N" },
    { "ctx", 'c', 0, G_OPTION_ARG_INT, &n_ctx, "Context size (default: the model's)", "N" },
    { "threads", 't', 0, G_OPTION_ARG_INT, &n_threads, "Compute threads (default: one per core)", "N" },
    { "cold", 0, 0, G_OPTION_ARG_NONE, &cold, "Drop the model's pages from the page cache before each load", NULL },
    { "seed", 0, 0, G_OPTION_ARG_INT, &seed, "Seed of the stop moments (default 1)", "S" },
    { NULL },
  };
  g_autoptr (GOptionContext) options = g_option_context_new ("MODEL");
  g_autoptr (GError) error = NULL;

  g_option_context_add_main_entries (options, entries, NULL);
  if (!g_option_context_parse (options, &argc, &argv, &error) || argc != 2 || runs <= 0 || n_prompt <= 0 ||
      n_threads < 0 || n_ctx < 0)
    {
      g_printerr ("bench-cancel: %s\n", error ? error->message : "usage: bench-cancel MODEL [OPTION…]");
      return 1;
    }
  g_autofree char *dir = g_dir_make_tmp ("bench-cancel-XXXXXX", &error);
  check (dir != NULL, error);
  Bench b = { argv[1], g_build_filename (dir, "bench.db", NULL), (guint) n_threads, n_ctx, cold,
              g_rand_new_with_seed ((guint32) seed) };
  g_autoptr (GArray) delays = g_array_new (FALSE, FALSE, sizeof (double));
  Run run = { 0 };
  guint n_finished = 0;

  /* The whole load, then loads stopped. */
  TernService *service = service_new (&b);
  run_reset (&run, service, STOP_CANCEL);
  gint64 start = g_get_monotonic_time ();
  load (&b, service, &run);
  call (&run);
  gint64 t_load = g_get_monotonic_time () - start;
  n_prompt = MIN (n_prompt, tern_service_get_context_size (service) * 7 / 10);
  g_autofree char *text = prompt_text (b.model, n_prompt);
  printf ("model: %s on %s, context %d, prompt of about %d tokens, %d runs, page cache %s\n", b.model,
          tern_service_get_backend (service), tern_service_get_context_size (service), n_prompt, runs,
          cold ? "cold" : "warm");

  for (int i = 0; i < runs; i++)
    {
      run_reset (&run, service, STOP_CANCEL);
      start = g_get_monotonic_time ();
      load (&b, service, &run);
      double d = stop_after (&run, start, (gint64) g_rand_double_range (b.rand, 0, t_load));
      if (d >= 0 && run.error == NULL)
        n_finished++;
      else if (d >= 0 && !g_error_matches (run.error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_CANCELLED))
        g_error ("%s", run.error->message);
      g_array_append_val (delays, d);
    }
  loaded (&b, service);

  /* The whole prompt (to the reply's start), then prompts stopped. */
  gulong handler = g_signal_connect (service, "reply-started", G_CALLBACK (on_reply_started), &run);
  fresh_conversation (service, &run);
  run_reset (&run, service, STOP_SERVICE);
  start = g_get_monotonic_time ();
  tern_service_send_message (service, text, 1, NULL, got, &run);
  call (&run);
  gint64 t_ingest = run.started_at - start;
  printf ("whole: load %.3f s, prompt %.3f s\n", t_load / 1e6, t_ingest / 1e6);
  report ("stop during load:", delays);
  if (n_finished > 0)
    printf ("%-26s %u of them loaded all the same: the stop came after the last check\n", "", n_finished);

  g_array_set_size (delays, 0);
  for (int i = 0; i < runs; i++)
    {
      fresh_conversation (service, &run);
      run_reset (&run, service, STOP_SERVICE);
      start = g_get_monotonic_time ();
      tern_service_send_message (service, text, 1, NULL, got, &run);
      double d = stop_after (&run, start, (gint64) g_rand_double_range (b.rand, 0, t_ingest));
      /* A stop once the prompt was read stops the reply instead. */
      if (run.error == NULL)
        d = -1;
      else if (!g_error_matches (run.error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_CANCELLED))
        g_error ("%s", run.error->message);
      g_array_append_val (delays, d);
    }
  report ("stop during the prompt:", delays);
  g_signal_handler_disconnect (service, handler);
  g_object_unref (service);

  /* Quitting: a new service each time, as a new process. */
  const char *quit_names[] = { "quit during load:", "quit during the prompt:", "quit during a reply:" };
  for (int what = 0; what < 3; what++)
    {
      g_array_set_size (delays, 0);
      for (int i = 0; i < runs; i++)
        {
          service = service_new (&b);
          if (what > 0)
            {
              loaded (&b, service);
              fresh_conversation (service, &run);
            }
          run_reset (&run, service, STOP_QUIT);
          start = g_get_monotonic_time ();
          gint64 after;
          if (what == 0)
            {
              load (&b, service, &run);
              after = (gint64) g_rand_double_range (b.rand, 0, t_load);
            }
          else
            {
              tern_service_send_message (service, text, 0, NULL, got, &run);
              after = what == 1 ? (gint64) g_rand_double_range (b.rand, 0, t_ingest)
                                : t_ingest + g_rand_int_range (b.rand, 0, G_USEC_PER_SEC);
            }
          double d = stop_after (&run, start, after);
          g_array_append_val (delays, d);
          g_object_unref (service);
        }
      report (quit_names[what], delays);
    }

  g_clear_error (&run.error);
  g_clear_object (&run.cancellable);
  const char *suffixes[] = { "", "-wal", "-shm" };
  for (guint i = 0; i < G_N_ELEMENTS (suffixes); i++)
    {
      g_autofree char *p = g_strconcat (b.db, suffixes[i], NULL);
      g_unlink (p);
    }
  g_rmdir (dir);
  g_free (b.db);
  g_rand_free (b.rand);
  return 0;
}
