/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "latency-scenario.h"

#include "app-harness.h"

#include <tern/session.h>

static const char *const lines[] = {
  "In the beginning God created the heaven and the earth.",
  "And the earth was without form, and void; and darkness was upon the face of the deep.",
  "And the Spirit of God moved upon the face of the waters.",
  "And God said, Let there be light: and there was light.",
};

/* A conversation of @n exchanges stored without engine caches or a
 * snapshot, as an import would leave it: opening it must evaluate it. */
static void
store_long_conversation (const char *dir, const char *model, guint n)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *db = g_build_filename (dir, "tern.db", NULL);
  TernStore *store = tern_store_open (db, &error);

  g_assert_no_error (error);
  gint64 model_id = tern_store_model_add (store, model, &error);
  g_assert_no_error (error);
  gint64 c = tern_store_conversation_new (store, "A long conversation", model_id, NULL, NULL, &error);
  g_assert_no_error (error);
  for (guint i = 0; i < n; i++)
    {
      tern_store_message_add (store, c, TERN_STORE_HEAD, TERN_ROLE_USER, lines[i % G_N_ELEMENTS (lines)], NULL, 0,
                              NULL, &error);
      g_assert_no_error (error);
      tern_store_message_add (store, c, TERN_STORE_HEAD, TERN_ROLE_ASSISTANT, lines[(i + 1) % G_N_ELEMENTS (lines)],
                              NULL, 0, NULL, &error);
      g_assert_no_error (error);
    }
  tern_store_free (store);
}

static gboolean
opened (gpointer data)
{
  TernWindow *w = data;

  return !w->opening && w->model_pending == 0 && w->resume_note != NULL && w->fill == NULL;
}

static gboolean
replied (gpointer data)
{
  TernWindow *w = data;

  return app_harness_idle (w) && app_harness_n_messages (w) >= 2 && w->tokens_per_second > 0;
}

typedef struct {
  MainLoopProbe *streaming;
  MainLoopProbe *ingest;
  guint max_rows_added;
} Probes;

static void
on_rows_changed (GListModel *list, guint position, guint removed, guint added, Probes *probes)
{
  probes->max_rows_added = MAX (probes->max_rows_added, added);
}

static void
scenario_body (AppHarness *hp, gpointer data)
{
  AppHarness h = *hp;
  Probes *probes = data;
  MainLoopProbe *streaming = probes->streaming, *ingest = probes->ingest;

  app_harness_wait ("the model to load", app_harness_model_ready, h.window, 120);

  /* Re-ingest: open the long conversation. */
  main_loop_probe_start (ingest);
  gulong rows = g_signal_connect (h.window->messages, "items-changed", G_CALLBACK (on_rows_changed), probes);
  g_signal_emit_by_name (h.window->conversation_list, "activate", 0);
  app_harness_wait ("the transcript to be evaluated", opened, h.window, 300);
  g_signal_handler_disconnect (h.window->messages, rows);
  main_loop_probe_stop (ingest);
  g_assert_cmpstr (h.window->resume_note, ==, "conversation read again");

  /* Streaming: a long reply in a new chat. */
  g_action_group_activate_action (G_ACTION_GROUP (h.window), "new-conversation", NULL);
  main_loop_probe_start (streaming);
  app_harness_send (h.window, "Tell me of the days of creation, one by one, and all that was made in them.");
  app_harness_wait ("the reply", replied, h.window, 300);
  main_loop_probe_stop (streaming);
}

void
latency_scenario_run (const char *model, gint n_ctx, gint reply_tokens, guint n_exchanges,
                      MainLoopProbe *streaming, MainLoopProbe *ingest, guint *max_rows_added)
{
  AppHarness h;
  Probes probes = { streaming, ingest, 0 };

  /* One engine thread: the other core is the window's, as on a desktop
   * where the compute threads leave the UI a core. */
  app_harness_init (&h, NULL, 1, n_ctx);
  g_autoptr (GSettings) settings = g_settings_new (TERN_APPLICATION_ID);
  g_settings_set_int (settings, "max-tokens", reply_tokens);
  store_long_conversation (h.dir, model, n_exchanges);
  app_harness_run (&h, scenario_body, &probes);
  app_harness_clear (&h);
  if (max_rows_added)
    *max_rows_added = probes.max_rows_added;
}
