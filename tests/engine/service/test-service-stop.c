/* SPDX-License-Identifier: GPL-3.0-or-later */
/* TernService stopped in the middle of its work, on the fixture model: a
 * prompt's evaluation stopped by tern_service_stop or by shutting down at
 * each layer of its pass, and a model load stopped after its last layer.
 * The passes run on the faulty device (tests/tools/faulty-backend.h), which
 * holds the engine thread at a chosen operation until the stop comes, as an
 * operation of a large model runs for a long time; the stop must then end
 * the pass within the layer it came in, and the request at once. */
#include <tern/error.h>
#include <tern/service-testing.h>
#include <tern/store.h>

#include "faulty-backend.h"
#include "test-data.h"

#define MODEL "kjv-tiny-q4_k_m.gguf"
#define TIMEOUT_S 120
/* Operations of a layer (llama, no biases), and of the logits after the
 * last one: the most a pass records once stopped. */
#define LAYER_OPS 16
#define OUTPUT_OPS 3
#define QUESTION "Tell me of the flood, and of the ark, and of all that was in it, and of the dove."

typedef struct {
  char *dir;
  char *db;
  char *model;
  GAsyncResult *result;
} Fixture;

static gboolean
on_timeout (gpointer data)
{
  g_error ("the test took longer than %d s", TIMEOUT_S);
  return G_SOURCE_REMOVE;
}

static void
fixture_init (Fixture *f)
{
  g_autoptr (GError) error = NULL;

  f->dir = g_dir_make_tmp ("tern-service-stop-XXXXXX", &error);
  g_assert_no_error (error);
  f->db = g_build_filename (f->dir, "tern.db", NULL);
  f->model = g_test_build_filename (G_TEST_DIST, "data", "models", MODEL, NULL);
}

static void
fixture_clear (Fixture *f)
{
  g_clear_object (&f->result);
  test_remove_tree (f->dir);
  g_free (f->dir);
  g_free (f->db);
  g_free (f->model);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Fixture, fixture_clear)

static void
got_result (GObject *source, GAsyncResult *result, gpointer data)
{
  Fixture *f = data;

  g_assert_null (f->result);
  f->result = g_object_ref (result);
}

/* Runs the default main context until the request made with got_result
 * completes; the result is the caller's. */
static GAsyncResult *
await (Fixture *f)
{
  guint timeout = g_timeout_add_seconds (TIMEOUT_S, on_timeout, NULL);

  while (f->result == NULL)
    g_main_context_iteration (NULL, TRUE);
  g_source_remove (timeout);
  return g_steal_pointer (&f->result);
}

typedef gint64 (*FinishInt64) (TernService *service, GAsyncResult *result, GError **error);

/* Awaits a request whose _finish returns a gint64, and finishes it. */
static gint64
finish (Fixture *f, TernService *service, FinishInt64 finish_func, GError **error)
{
  g_autoptr (GAsyncResult) result = await (f);
  return finish_func (service, result, error);
}

/* Runs the default main context until the engine thread waits at the
 * operation planned. */
static void
wait_held (void)
{
  guint timeout = g_timeout_add_seconds (TIMEOUT_S, on_timeout, NULL);

  while (!faulty_backend_waiting ())
    g_main_context_iteration (NULL, TRUE);
  g_source_remove (timeout);
}

/* A service on the faulty device with the model loaded and a new
 * conversation open; its id in @conversation. */
static TernService *
service_ready (Fixture *f, gint64 *conversation)
{
  g_autoptr (GError) error = NULL;
  TernService *service = tern_service_new (f->db, 2, 0, "faulty");

  tern_service_load_model (service, f->model, NULL, got_result, f);
  g_assert_cmpint (finish (f, service, tern_service_load_model_finish, &error), >, 0);
  g_assert_no_error (error);
  tern_service_new_conversation (service, "stop", NULL, NULL, NULL, got_result, f);
  *conversation = finish (f, service, tern_service_new_conversation_finish, &error);
  g_assert_no_error (error);
  tern_service_open_conversation (service, *conversation, NULL, got_result, f);
  g_autoptr (GAsyncResult) opened = await (f);
  g_assert_cmpint (tern_service_open_conversation_finish (service, opened, &error), ==, TERN_RESUME_EMPTY);
  g_assert_no_error (error);
  return service;
}

static GPtrArray *
stored_messages (Fixture *f, gint64 conversation)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (TernStore) store = tern_store_open (f->db, &error);
  g_assert_no_error (error);
  GPtrArray *messages = tern_store_conversation_messages (store, conversation, 0, &error);
  g_assert_no_error (error);
  return messages;
}

/* The first layer's operations, its last, and the logits' (the prompt's
 * pass holds embed, 4 layers, the logits). */
static const gint stop_ops[] = { 0, 1, 9, 16, 30, 64, 66 };

/* Stop while the prompt is evaluated, at an operation of each part of its
 * pass: the pass ends within the layer it was in (the faulty device counts
 * what is recorded after the stop), the request fails with CANCELLED within
 * a second, the user message stays stored with no reply, nothing of the
 * stopped pass counts in the context, and the conversation goes on: the
 * next message is answered. */
static void
test_stop_prompt (void)
{
  for (guint i = 0; i < G_N_ELEMENTS (stop_ops); i++)
    {
      g_auto (Fixture) f = { 0 };
      g_autoptr (GError) error = NULL;
      gint64 conversation;

      fixture_init (&f);
      faulty_backend_plan_stop (stop_ops[i], FALSE);
      TernService *service = service_ready (&f, &conversation);
      faulty_backend_plan_stop (-1, FALSE);
      tern_service_send_message (service, QUESTION, 8, NULL, got_result, &f);
      wait_held ();
      gint64 stopped_at = g_get_monotonic_time ();
      tern_service_stop (service);
      gint64 none = finish (&f, service, tern_service_send_message_finish, &error);
      double took = (g_get_monotonic_time () - stopped_at) / 1e6;
      g_assert_cmpint (none, ==, 0);
      g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_CANCELLED);
      g_clear_error (&error);
      g_test_message ("stopped at operation %d: %d recorded after it, the request ended %.3f s after the stop",
                      stop_ops[i], faulty_backend_n_ops_stopped () - 1, took);
      g_assert_cmpfloat (took, <, 1);
      g_assert_cmpint (faulty_backend_n_ops_stopped (), <=, LAYER_OPS + OUTPUT_OPS);
      g_assert_cmpint (tern_service_get_context_used (service), ==, 0);
      g_assert_false (tern_service_get_generating (service));

      g_autoptr (GPtrArray) kept = stored_messages (&f, conversation);
      g_assert_cmpuint (kept->len, ==, 1);
      g_assert_cmpint (((TernMessage *) kept->pdata[0])->role, ==, TERN_ROLE_USER);
      g_assert_cmpstr (((TernMessage *) kept->pdata[0])->content, ==, QUESTION);

      tern_service_send_message (service, "And then?", 8, NULL, got_result, &f);
      gint64 reply = finish (&f, service, tern_service_send_message_finish, &error);
      g_assert_no_error (error);
      g_assert_cmpint (reply, >, 0);
      g_assert_cmpint (tern_service_get_context_used (service), >, 0);
      g_autoptr (GPtrArray) after = stored_messages (&f, conversation);
      g_assert_cmpuint (after->len, ==, 3);
      g_assert_cmpint (((TernMessage *) after->pdata[2])->id, ==, reply);
      g_assert_cmpint (((TernMessage *) after->pdata[2])->n_tokens, >, 0);
      g_assert_finalize_object (service);
    }
}

/* Quitting while the prompt is evaluated: the engine thread ends within a
 * second, the user message stays stored. */
static void
test_quit_during_prompt (void)
{
  for (guint i = 0; i < G_N_ELEMENTS (stop_ops); i++)
    {
      g_auto (Fixture) f = { 0 };
      g_autoptr (GError) error = NULL;
      gint64 conversation;

      fixture_init (&f);
      faulty_backend_plan_stop (stop_ops[i], FALSE);
      TernService *service = service_ready (&f, &conversation);
      faulty_backend_plan_stop (-1, FALSE);
      tern_service_send_message (service, QUESTION, 8, NULL, got_result, &f);
      wait_held ();
      gint64 start = g_get_monotonic_time ();
      tern_service_shutdown (service);
      double took = (g_get_monotonic_time () - start) / 1e6;
      g_test_message ("quit at operation %d: the engine thread ended in %.3f s", stop_ops[i], took);
      g_assert_cmpfloat (took, <, 1);
      g_assert_cmpint (faulty_backend_n_ops_stopped (), <=, LAYER_OPS + OUTPUT_OPS);
      g_assert_cmpint (finish (&f, service, tern_service_send_message_finish, &error), ==, 0);
      g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_CANCELLED);
      g_assert_finalize_object (service);

      g_autoptr (GPtrArray) kept = stored_messages (&f, conversation);
      g_assert_cmpuint (kept->len, ==, 1);
      g_assert_cmpstr (((TernMessage *) kept->pdata[0])->content, ==, QUESTION);
    }
}

static void
cancel_when_loaded (TernService *service, TernServicePhase phase, double fraction, gpointer data)
{
  if (phase == TERN_SERVICE_PHASE_LOAD && fraction == 1)
    g_cancellable_cancel (data);
}

/* A load stopped after its last layer, while its context is made: nothing
 * is loaded, the library is unchanged, and a load after it works. */
static void
test_stop_load (void)
{
  g_auto (Fixture) f = { 0 };
  g_autoptr (GError) error = NULL;
  g_autoptr (GCancellable) stop = g_cancellable_new ();

  fixture_init (&f);
  TernService *service = tern_service_new (f.db, 2, 0, NULL);
  tern_service_testing_set_progress_hook (service, cancel_when_loaded, stop);
  tern_service_load_model (service, f.model, stop, got_result, &f);
  g_assert_cmpint (finish (&f, service, tern_service_load_model_finish, &error), ==, 0);
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_CANCELLED);
  g_clear_error (&error);
  g_assert_false (tern_service_get_model_loaded (service));
  tern_service_list_models (service, NULL, got_result, &f);
  GAsyncResult *listed = await (&f);
  g_autoptr (GPtrArray) models = tern_service_list_models_finish (service, listed, &error);
  g_object_unref (listed);
  g_assert_no_error (error);
  g_assert_cmpuint (models->len, ==, 0);

  tern_service_testing_set_progress_hook (service, NULL, NULL);
  tern_service_load_model (service, f.model, NULL, got_result, &f);
  g_assert_cmpint (finish (&f, service, tern_service_load_model_finish, &error), >, 0);
  g_assert_no_error (error);
  g_assert_true (tern_service_get_model_loaded (service));
  g_assert_finalize_object (service);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  faulty_backend_register ();
  g_test_add_func ("/service/stop/prompt", test_stop_prompt);
  g_test_add_func ("/service/stop/quit-during-prompt", test_quit_during_prompt);
  g_test_add_func ("/service/stop/load", test_stop_load);
  return g_test_run ();
}
