/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The service tests' world: a data folder, a main loop, what the service
 * reported, and requests made synchronous. */
#include "service-fixture.h"

#include <string.h>

#include "test-data.h"


static gboolean
on_timeout (gpointer data)
{
  g_error ("the test took longer than %d s", TIMEOUT_S);
  return G_SOURCE_REMOVE;
}

void
fixture_init (Fixture *f)
{
  g_autoptr (GError) error = NULL;

  f->dir = g_dir_make_tmp ("tern-service-XXXXXX", &error);
  g_assert_no_error (error);
  f->db = g_build_filename (f->dir, "tern.db", NULL);
  f->model = g_test_build_filename (G_TEST_DIST, "data", "models", MODEL, NULL);
  f->loop = g_main_loop_new (NULL, FALSE);
  f->timeout = g_timeout_add_seconds (TIMEOUT_S, on_timeout, NULL);
  f->deltas = g_string_new (NULL);
  f->progress_phase = -1;
}

void
fixture_clear (Fixture *f)
{
  g_source_remove (f->timeout);
  g_main_loop_unref (f->loop);
  test_remove_tree (f->dir);
  g_free (f->dir);
  g_free (f->db);
  g_free (f->model);
  g_free (f->notice);
  g_string_free (f->deltas, TRUE);
  g_clear_error (&f->error);
  g_clear_error (&f->damaged_error);
  g_assert_null (f->result);
}

void
got_result (GObject *source, GAsyncResult *result, gpointer data)
{
  Fixture *f = data;

  g_assert_false (f->done);
  g_clear_object (&f->result);
  f->result = g_object_ref (result);
  f->done = TRUE;
  g_main_loop_quit (f->loop);
}

GAsyncResult *
await (Fixture *f)
{
  g_clear_object (&f->result);
  f->done = FALSE;
  while (!f->done)
    g_main_loop_run (f->loop);
  return f->result;
}

void
release (Fixture *f)
{
  g_clear_object (&f->result);
}

static void
on_reply_started (TernService *service, gint64 id, gint64 parent, Fixture *f)
{
  f->started_id = id;
  f->started_parent = parent;
  g_string_truncate (f->deltas, 0);
  f->n_deltas = 0;
}

static void
on_reply_delta (TernService *service, const char *text, Fixture *f)
{
  g_assert_true (g_utf8_validate (text, -1, NULL));
  g_assert_cmpuint (strlen (text), >, 0);
  g_string_append (f->deltas, text);
  if (f->n_deltas++ > 0)
    return;
  if (f->shutdown_on_delta)
    tern_service_shutdown (service);
}

static void
on_reply_finished (TernService *service, gint64 id, gboolean incomplete, double tokens_per_second, Fixture *f)
{
  g_assert_cmpint (id, ==, f->started_id);
  g_assert_cmpfloat (tokens_per_second, >=, 0);
  g_assert_false (tern_service_get_generating (service));
  f->n_finished++;
  f->finished_id = id;
  f->finished_incomplete = incomplete;
}

static void
on_progress (TernService *service, TernServicePhase phase, double fraction, Fixture *f)
{
  g_assert_cmpfloat (fraction, >=, 0);
  g_assert_cmpfloat (fraction, <=, 1);
  if ((int) phase == f->progress_phase)
    g_assert_cmpfloat (fraction, >=, f->last_fraction);
  f->progress_phase = phase;
  f->last_fraction = fraction;
  f->n_progress++;
}

static void
on_error (TernService *service, GError *error, Fixture *f)
{
  g_clear_error (&f->error);
  f->error = g_error_copy (error);
}

static void
on_notice (TernService *service, const char *text, Fixture *f)
{
  g_free (f->notice);
  f->notice = g_strdup (text);
}

static void
on_model_damaged (TernService *service, gint64 id, GError *error, Fixture *f)
{
  /* Unloaded by then. */
  g_assert_false (tern_service_get_model_loaded (service));
  f->damaged_id = id;
  g_clear_error (&f->damaged_error);
  f->damaged_error = g_error_copy (error);
}

static void
on_notify_generating (TernService *service, GParamSpec *pspec, Fixture *f)
{
  f->n_notify_generating++;
}

TernService *
service_new (Fixture *f, const char *db)
{
  TernService *service = tern_service_new (db, 2, 0, NULL);

  g_signal_connect (service, "reply-started", G_CALLBACK (on_reply_started), f);
  g_signal_connect (service, "reply-delta", G_CALLBACK (on_reply_delta), f);
  g_signal_connect (service, "reply-finished", G_CALLBACK (on_reply_finished), f);
  g_signal_connect (service, "progress", G_CALLBACK (on_progress), f);
  g_signal_connect (service, "error", G_CALLBACK (on_error), f);
  g_signal_connect (service, "notice", G_CALLBACK (on_notice), f);
  g_signal_connect (service, "model-damaged", G_CALLBACK (on_model_damaged), f);
  g_signal_connect (service, "notify::generating", G_CALLBACK (on_notify_generating), f);
  return service;
}

gint64
load (Fixture *f, TernService *service)
{
  g_autoptr (GError) error = NULL;

  tern_service_load_model (service, f->model, NULL, got_result, f);
  gint64 id = tern_service_load_model_finish (service, await (f), &error);
  g_assert_no_error (error);
  g_assert_cmpint (id, >, 0);
  return id;
}

gint64
new_conversation (Fixture *f, TernService *service)
{
  g_autoptr (GError) error = NULL;
  TernSamplerParams greedy;

  tern_sampler_params_init (&greedy);
  greedy.temperature = 0;
  greedy.seed = 42;
  tern_service_new_conversation (service, "Genesis", NULL, &greedy, NULL, got_result, f);
  gint64 id = tern_service_new_conversation_finish (service, await (f), &error);
  g_assert_no_error (error);
  g_assert_cmpint (id, >, 0);
  return id;
}

TernResumeKind
open_conversation (Fixture *f, TernService *service, gint64 id)
{
  g_autoptr (GError) error = NULL;

  tern_service_open_conversation (service, id, NULL, got_result, f);
  int kind = tern_service_open_conversation_finish (service, await (f), &error);
  g_assert_no_error (error);
  g_assert_cmpint (kind, >=, 0);
  g_assert_cmpint (tern_service_get_conversation_id (service), ==, id);
  return kind;
}

gint64
send (Fixture *f, TernService *service, const char *text, gint max_tokens)
{
  g_autoptr (GError) error = NULL;

  tern_service_send_message (service, text, max_tokens, NULL, got_result, f);
  gint64 id = tern_service_send_message_finish (service, await (f), &error);
  g_assert_no_error (error);
  g_assert_cmpint (id, >, 0);
  g_assert_cmpint (id, ==, f->finished_id);
  return id;
}

GPtrArray *
messages (Fixture *f, TernService *service, gint64 conversation)
{
  g_autoptr (GError) error = NULL;

  tern_service_list_messages (service, conversation, NULL, got_result, f);
  GPtrArray *list = tern_service_list_messages_finish (service, await (f), &error);
  g_assert_no_error (error);
  return list;
}

TernMessage *
last_message (Fixture *f, TernService *service, gint64 conversation)
{
  g_autoptr (GPtrArray) list = messages (f, service, conversation);

  g_assert_cmpuint (list->len, >, 0);
  return g_ptr_array_steal_index (list, list->len - 1);
}
