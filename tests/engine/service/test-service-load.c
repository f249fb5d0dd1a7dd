/* SPDX-License-Identifier: GPL-3.0-or-later */
/* TernService loading models: the fixture model, files that are not
 * models, a failed load beside the working model, the context size chosen,
 * the backend setting. */
#include <string.h>
#include <tern/service.h>

#include "service-fixture.h"
#include "test-data.h"

static void
test_load (void)
{
  g_auto (Fixture) f = { 0 };
  g_autoptr (GError) error = NULL;

  fixture_init (&f);
  TernService *service = service_new (&f, f.db);
  g_assert_false (tern_service_get_model_loaded (service));

  load (&f, service);
  g_assert_cmpuint (f.n_progress, >, 0);
  g_assert_cmpint (f.progress_phase, ==, TERN_SERVICE_PHASE_LOAD);
  g_assert_true (tern_service_get_model_loaded (service));
  g_assert_cmpint (tern_service_get_context_size (service), ==, N_CTX);
  g_assert_cmpint (tern_service_get_context_used (service), ==, 0);
  g_assert_nonnull (strstr (tern_service_get_backend (service), "cpu"));

  /* It is in the library, and checks out. */
  tern_service_list_models (service, NULL, got_result, &f);
  g_autoptr (GPtrArray) models = tern_service_list_models_finish (service, await (&f), &error);
  g_assert_no_error (error);
  g_assert_cmpuint (models->len, ==, 1);
  TernStoreModel *m = models->pdata[0];
  g_assert_cmpint (m->id, ==, tern_service_get_model_id (service));
  tern_service_check_model (service, m->id, NULL, got_result, &f);
  g_assert_cmpint (tern_service_check_model_finish (service, await (&f), &error), ==, TERN_MODEL_OK);
  g_assert_no_error (error);
  /* Loaded by path, as the app does: the library records the use. */
  g_assert_cmpint (m->last_used_at, >, 0);

  /* Renamed: kept when the same file loads again; an empty name refused. */
  tern_service_rename_model (service, m->id, "  My KJV  ", NULL, got_result, &f);
  g_assert_true (tern_service_rename_model_finish (service, await (&f), &error));
  g_assert_no_error (error);
  tern_service_rename_model (service, m->id, " ", NULL, got_result, &f);
  g_assert_false (tern_service_rename_model_finish (service, await (&f), &error));
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_INVALID);
  g_clear_error (&error);
  g_usleep (2000);
  /* A new load's progress starts again from 0. */
  f.last_fraction = 0;
  load (&f, service);
  tern_service_list_models (service, NULL, got_result, &f);
  g_autoptr (GPtrArray) again = tern_service_list_models_finish (service, await (&f), &error);
  g_assert_no_error (error);
  g_assert_cmpuint (again->len, ==, 1);
  g_assert_cmpstr (((TernStoreModel *) again->pdata[0])->name, ==, "My KJV");
  g_assert_cmpint (((TernStoreModel *) again->pdata[0])->last_used_at, >, m->last_used_at);

  tern_service_unload_model (service, NULL, got_result, &f);
  g_assert_true (tern_service_unload_model_finish (service, await (&f), &error));
  g_assert_no_error (error);
  g_assert_false (tern_service_get_model_loaded (service));
  g_assert_null (tern_service_get_backend (service));
  g_assert_cmpint (tern_service_get_context_size (service), ==, 0);
  g_assert_null (f.error);
  release (&f);
  g_assert_finalize_object (service);
}

static void
test_bad_model (void)
{
  g_auto (Fixture) f = { 0 };
  g_autoptr (GError) error = NULL;

  fixture_init (&f);
  g_autofree char *missing = g_build_filename (f.dir, "missing.gguf", NULL);
  g_autofree char *junk = g_build_filename (f.dir, "junk.gguf", NULL);
  g_file_set_contents (junk, "this is not a model, just some text long enough to read", -1, &error);
  g_assert_no_error (error);
  TernService *service = service_new (&f, f.db);

  tern_service_load_model (service, missing, NULL, got_result, &f);
  g_assert_cmpint (tern_service_load_model_finish (service, await (&f), &error), ==, 0);
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_IO);
  g_clear_error (&error);

  tern_service_load_model (service, junk, NULL, got_result, &f);
  g_assert_cmpint (tern_service_load_model_finish (service, await (&f), &error), ==, 0);
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_FORMAT);
  g_clear_error (&error);

  /* Without a model, chatting is refused, not crashed. */
  tern_service_send_message (service, "Hello", 4, NULL, got_result, &f);
  g_assert_cmpint (tern_service_send_message_finish (service, await (&f), &error), ==, 0);
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_INVALID);
  g_clear_error (&error);

  /* A cancelled load. */
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  g_cancellable_cancel (cancellable);
  tern_service_load_model (service, f.model, cancellable, got_result, &f);
  g_assert_cmpint (tern_service_load_model_finish (service, await (&f), &error), ==, 0);
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_CANCELLED);

  g_assert_false (tern_service_get_model_loaded (service));
  release (&f);
  g_assert_finalize_object (service);
}

static void
on_notify_model_loaded (TernService *service, GParamSpec *pspec, guint *n)
{
  (*n)++;
}

/* Loads @path, which fails with @code and a message holding @words. */
static void
load_fails (Fixture *f, TernService *service, const char *path, int code, const char *words)
{
  g_autoptr (GError) error = NULL;

  f->last_fraction = 0; /* each load's progress starts again */
  tern_service_load_model (service, path, NULL, got_result, f);
  g_assert_cmpint (tern_service_load_model_finish (service, await (f), &error), ==, 0);
  g_assert_error (error, TERN_ENGINE_ERROR, code);
  g_assert_nonnull (strstr (error->message, words));
}

/* A file that fails to load never costs the model in use: it stays
 * loaded with its conversation open, without a moment of "no model",
 * and the chat goes on. */
static void
test_failed_load_keeps_model (void)
{
  g_auto (Fixture) f = { 0 };
  g_autoptr (GError) error = NULL;
  g_autofree char *contents = NULL;
  gsize length;
  guint n_loaded_changes = 0;

  fixture_init (&f);
  g_autofree char *junk = g_build_filename (f.dir, "bad.gguf", NULL);
  g_autofree char *cut = g_build_filename (f.dir, "cut.gguf", NULL);
  g_autofree char *missing = g_build_filename (f.dir, "missing.gguf", NULL);
  g_file_set_contents (junk, "<!DOCTYPE html><html>Not Found</html>", -1, &error);
  g_assert_no_error (error);
  g_file_get_contents (f.model, &contents, &length, &error);
  g_assert_no_error (error);
  g_file_set_contents (cut, contents, length / 2, &error);
  g_assert_no_error (error);
  TernService *service = service_new (&f, f.db);
  gint64 model_id = load (&f, service);
  gint64 conversation = new_conversation (&f, service);
  open_conversation (&f, service, conversation);
  send (&f, service, "In the beginning", 4);
  g_signal_connect (service, "notify::model-loaded", G_CALLBACK (on_notify_model_loaded), &n_loaded_changes);

  load_fails (&f, service, junk, TERN_ENGINE_ERROR_FORMAT,
              "bad.gguf: not a GGUF model file (it starts with \"<!DOCTYPE");
  load_fails (&f, service, cut, TERN_ENGINE_ERROR_FORMAT, "cut.gguf: the file is cut short");
  load_fails (&f, service, missing, TERN_ENGINE_ERROR_IO, "missing.gguf: the file is gone");
  g_assert_cmpuint (n_loaded_changes, ==, 0);
  g_assert_true (tern_service_get_model_loaded (service));
  g_assert_cmpint (tern_service_get_model_id (service), ==, model_id);
  g_assert_cmpint (tern_service_get_conversation_id (service), ==, conversation);
  g_assert_cmpint (tern_service_get_context_size (service), ==, N_CTX);
  send (&f, service, "And God said", 4);

  /* The file checks out but its context cannot be made: the model in use
   * gets its own context back, and a conversation opens on it again. */
  tern_service_configure (service, 2, 0, "nosuch", NULL, got_result, &f);
  g_assert_true (tern_service_configure_finish (service, await (&f), &error));
  g_assert_no_error (error);
  load_fails (&f, service, f.model, TERN_ENGINE_ERROR_INVALID, "nosuch");
  g_assert_true (tern_service_get_model_loaded (service));
  g_assert_cmpint (tern_service_get_model_id (service), ==, model_id);
  g_assert_true (g_str_has_prefix (tern_service_get_backend (service), "cpu "));
  g_assert_cmpint (tern_service_get_context_size (service), ==, N_CTX);
  f.last_fraction = 0;
  open_conversation (&f, service, conversation);
  send (&f, service, "And the earth", 4);
  g_assert_null (f.error);
  release (&f);
  g_assert_finalize_object (service);
}

/* The context is automatic: the model's training length (the fixture's is
 * N_CTX), which the service publishes beside the size it chose. */
static void
test_context_automatic (void)
{
  g_auto (Fixture) f = { 0 };
  g_autoptr (GError) error = NULL;

  fixture_init (&f);
  TernService *service = service_new (&f, f.db);
  load (&f, service);
  g_assert_cmpint (tern_service_get_context_trained (service), ==, N_CTX);
  g_assert_cmpint (tern_service_get_context_size (service), ==, N_CTX);

  /* Asked for more than that: given, and the two differ for a warning. */
  tern_service_configure (service, 2, 4 * N_CTX, NULL, NULL, got_result, &f);
  g_assert_true (tern_service_configure_finish (service, await (&f), &error));
  g_assert_no_error (error);
  f.last_fraction = 0;
  load (&f, service);
  g_assert_cmpint (tern_service_get_context_size (service), ==, 4 * N_CTX);
  g_assert_cmpint (tern_service_get_context_trained (service), ==, N_CTX);

  tern_service_unload_model (service, NULL, got_result, &f);
  g_assert_true (tern_service_unload_model_finish (service, await (&f), &error));
  g_assert_cmpint (tern_service_get_context_trained (service), ==, 0);
  release (&f);
  g_assert_finalize_object (service);
}

/* The backend setting reaches the context: a backend that is not there
 * makes a load fail, naming the ones there are; a GPU that is not there
 * leaves the model on the CPU, and the backend says why. */
static void
test_backend (void)
{
  g_auto (Fixture) f = { 0 };
  g_autoptr (GError) error = NULL;

  fixture_init (&f);
  TernService *service = service_new (&f, f.db);

  tern_service_configure (service, 2, 0, "nosuch", NULL, got_result, &f);
  g_assert_true (tern_service_configure_finish (service, await (&f), &error));
  g_assert_no_error (error);
  tern_service_load_model (service, f.model, NULL, got_result, &f);
  g_assert_cmpint (tern_service_load_model_finish (service, await (&f), &error), ==, 0);
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "nosuch"));
  g_assert_nonnull (strstr (error->message, "cpu"));
  g_clear_error (&error);
  g_assert_false (tern_service_get_model_loaded (service));
  f.last_fraction = 0; /* the next load's progress starts again */

  tern_service_configure (service, 2, 0, "vulkan:9", NULL, got_result, &f);
  g_assert_true (tern_service_configure_finish (service, await (&f), &error));
  g_assert_no_error (error);
  load (&f, service);
  g_assert_true (g_str_has_prefix (tern_service_get_backend (service), "cpu "));
  g_assert_nonnull (strstr (tern_service_get_backend (service), "(vulkan:9 could not be used: unknown backend"));
  f.last_fraction = 0;

  tern_service_configure (service, 2, 0, "cpu", NULL, got_result, &f);
  g_assert_true (tern_service_configure_finish (service, await (&f), &error));
  g_assert_no_error (error);
  load (&f, service);
  g_assert_true (g_str_has_prefix (tern_service_get_backend (service), "cpu "));
  g_assert_null (strstr (tern_service_get_backend (service), "could not be used"));
  release (&f);
  g_assert_finalize_object (service);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/service/load", test_load);
  g_test_add_func ("/service/bad-model", test_bad_model);
  g_test_add_func ("/service/failed-load-keeps-model", test_failed_load_keeps_model);
  g_test_add_func ("/service/context-automatic", test_context_automatic);
  g_test_add_func ("/service/backend", test_backend);
  return g_test_run ();
}
