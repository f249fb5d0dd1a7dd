/* SPDX-License-Identifier: GPL-3.0-or-later */
/* TernService: the engine thread driven from a main loop, on the fixture
 * model, as the application drives it. */
#include <glib/gstdio.h>
#include <string.h>
#include <tern/service.h>
#include <unistd.h>

#include "model-variant.h"
#include "strict-template.h"
#include "test-data.h"
#include "token-gate.h"

#define MODEL "kjv-tiny-q4_k_m.gguf"
#define N_CTX 256
#define TIMEOUT_S 120

/* One test's world: a data folder, the main loop, and what the service
 * reported. */
typedef struct {
  char *dir;
  char *db;
  char *model;
  GMainLoop *loop;
  guint timeout;
  GAsyncResult *result; /* of the last request, until the next one */
  gboolean done;

  GString *deltas;
  guint n_deltas;
  gint64 started_id, started_parent;
  guint n_finished;
  gint64 finished_id;
  gboolean finished_incomplete;
  double last_fraction;
  guint n_progress;
  int progress_phase; /* TernServicePhase; -1: none yet */
  GError *error;
  guint n_notify_generating;

  /* On the first delta: shut down. */
  gboolean shutdown_on_delta;
  char *notice;
  gint64 damaged_id;    /* "model-damaged" */
  GError *damaged_error;
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

  f->dir = g_dir_make_tmp ("tern-service-XXXXXX", &error);
  g_assert_no_error (error);
  f->db = g_build_filename (f->dir, "tern.db", NULL);
  f->model = g_test_build_filename (G_TEST_DIST, "data", "models", MODEL, NULL);
  f->loop = g_main_loop_new (NULL, FALSE);
  f->timeout = g_timeout_add_seconds (TIMEOUT_S, on_timeout, NULL);
  f->deltas = g_string_new (NULL);
  f->progress_phase = -1;
}

static void
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
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Fixture, fixture_clear)

static void
got_result (GObject *source, GAsyncResult *result, gpointer data)
{
  Fixture *f = data;

  g_assert_false (f->done);
  g_clear_object (&f->result);
  f->result = g_object_ref (result);
  f->done = TRUE;
  g_main_loop_quit (f->loop);
}

/* Runs the main loop until the request made with got_result completes;
 * the fixture keeps its result until the next request. */
static GAsyncResult *
await (Fixture *f)
{
  g_clear_object (&f->result);
  f->done = FALSE;
  while (!f->done)
    g_main_loop_run (f->loop);
  return f->result;
}

/* Drops the last result, which holds a reference to the service. */
static void
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

static TernService *
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

/* Synchronous wrappers: each runs the loop until its request is done. */

static gint64
load (Fixture *f, TernService *service)
{
  g_autoptr (GError) error = NULL;

  tern_service_load_model (service, f->model, NULL, got_result, f);
  gint64 id = tern_service_load_model_finish (service, await (f), &error);
  g_assert_no_error (error);
  g_assert_cmpint (id, >, 0);
  return id;
}

static gint64
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

static TernResumeKind
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

static gint64
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

static GPtrArray *
messages (Fixture *f, TernService *service, gint64 conversation)
{
  g_autoptr (GError) error = NULL;

  tern_service_list_messages (service, conversation, NULL, got_result, f);
  GPtrArray *list = tern_service_list_messages_finish (service, await (f), &error);
  g_assert_no_error (error);
  return list;
}

static TernMessage *
last_message (Fixture *f, TernService *service, gint64 conversation)
{
  g_autoptr (GPtrArray) list = messages (f, service, conversation);

  g_assert_cmpuint (list->len, >, 0);
  return g_ptr_array_steal_index (list, list->len - 1);
}

/* The greedy reply to @text as tern-cli generate --chat makes it, straight
 * from the context API: the prompt with the chat template, then sample,
 * evaluate, until an end-of-generation token or @max tokens. */
static GArray *
reference_reply (const char *model_path, const char *text, gint max)
{
  g_autoptr (GError) error = NULL;
  TernContextParams params;
  TernSamplerParams greedy;
  TernChatMessage message = { "user", text };

  g_autoptr (TernModel) model = tern_model_load (model_path, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  const TernTokenizer *tok = tern_model_tokenizer (model);
  tern_context_params_init (&params);
  params.n_ctx = N_CTX;
  params.n_threads = 2;
  g_autoptr (TernContext) ctx = tern_context_new (model, &params, &error);
  g_assert_no_error (error);
  g_autoptr (TernChatTemplate) tmpl = tern_chat_template_new_from_gguf (tern_model_gguf (model), tern_model_tokenizer (model), &error);
  g_assert_no_error (error);
  g_autoptr (TernChatPrompt) prompt = tern_chat_template_render (tmpl, &message, 1, NULL, &error);
  g_assert_no_error (error);
  g_autoptr (GArray) tokens = g_array_new (FALSE, FALSE, sizeof (TernToken));
  tern_chat_prompt_tokenize (prompt, tok, TRUE, tokens, &error);
  g_assert_no_error (error);
  tern_context_decode (ctx, (TernToken *) tokens->data, (gint32) tokens->len, FALSE, NULL, NULL, NULL, &error);
  g_assert_no_error (error);

  tern_sampler_params_init (&greedy);
  greedy.temperature = 0;
  g_autoptr (TernSampler) sampler = tern_sampler_new (&greedy, tern_tokenizer_n_vocab (tok));
  GArray *reply = g_array_new (FALSE, FALSE, sizeof (TernToken));
  for (gint i = 0; i < max; i++)
    {
      TernToken t = tern_sampler_sample (sampler, tern_context_last_logits (ctx));
      if (tern_tokenizer_is_eog (tok, t))
        break;
      g_array_append_val (reply, t);
      tern_context_decode (ctx, &t, 1, FALSE, NULL, NULL, NULL, &error);
      g_assert_no_error (error);
    }
  return reply;
}

static void
assert_tokens_equal (GArray *a, GArray *b)
{
  g_assert_nonnull (a);
  g_assert_nonnull (b);
  g_assert_cmpmem (a->data, a->len * sizeof (TernToken), b->data, b->len * sizeof (TernToken));
}

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
  tern_service_configure (service, 2, 0, "vulkan:9", NULL, got_result, &f);
  g_assert_true (tern_service_configure_finish (service, await (&f), &error));
  g_assert_no_error (error);
  load_fails (&f, service, f.model, TERN_ENGINE_ERROR_INVALID, "vulkan:9");
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

/* The backend setting reaches the context: a device that is not there
 * makes a load fail, naming the ones there are, and the CPU loads. */
static void
test_backend (void)
{
  g_auto (Fixture) f = { 0 };
  g_autoptr (GError) error = NULL;

  fixture_init (&f);
  TernService *service = service_new (&f, f.db);

  tern_service_configure (service, 2, 0, "vulkan:9", NULL, got_result, &f);
  g_assert_true (tern_service_configure_finish (service, await (&f), &error));
  g_assert_no_error (error);
  tern_service_load_model (service, f.model, NULL, got_result, &f);
  g_assert_cmpint (tern_service_load_model_finish (service, await (&f), &error), ==, 0);
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "vulkan:9"));
  g_assert_nonnull (strstr (error->message, "cpu"));
  g_clear_error (&error);
  g_assert_false (tern_service_get_model_loaded (service));
  f.last_fraction = 0; /* the next load's progress starts again */

  tern_service_configure (service, 2, 0, "cpu", NULL, got_result, &f);
  g_assert_true (tern_service_configure_finish (service, await (&f), &error));
  g_assert_no_error (error);
  load (&f, service);
  g_assert_true (g_str_has_prefix (tern_service_get_backend (service), "cpu "));
  release (&f);
  g_assert_finalize_object (service);
}

static void
test_generate (void)
{
  g_auto (Fixture) f = { 0 };
  g_autoptr (GError) error = NULL;
  const char *text = "Who created the heaven and the earth?";

  fixture_init (&f);
  TernService *service = service_new (&f, f.db);
  load (&f, service);
  gint64 conversation = new_conversation (&f, service);
  g_assert_cmpint (open_conversation (&f, service, conversation), ==, TERN_RESUME_EMPTY);

  gint64 reply = send (&f, service, text, 24);
  g_assert_cmpint (f.n_finished, ==, 1);
  g_assert_cmpint (f.started_id, ==, reply);
  /* generating went TRUE, then FALSE (or not at all, when the main loop
   * only woke after the reply: properties show the latest state). */
  g_assert_cmpuint (f.n_notify_generating % 2, ==, 0);
  g_assert_false (tern_service_get_generating (service));
  g_assert_cmpint (tern_service_get_context_used (service), >, 0);

  g_autoptr (GPtrArray) list = messages (&f, service, conversation);
  g_assert_cmpuint (list->len, ==, 2);
  TernMessage *user = list->pdata[0], *m = list->pdata[1];
  g_assert_cmpint (user->role, ==, TERN_ROLE_USER);
  g_assert_cmpstr (user->content, ==, text);
  g_assert_cmpint (f.started_parent, ==, user->id);
  g_assert_cmpint (m->id, ==, reply);
  g_assert_cmpint (m->role, ==, TERN_ROLE_ASSISTANT);
  g_assert_true (m->complete);
  /* The deltas are the stored text; the tokens those of the context API. */
  g_assert_cmpstr (f.deltas->str, ==, m->content);
  g_assert_cmpuint (f.n_deltas, >=, 1);
  g_autoptr (GArray) expected = reference_reply (f.model, text, 24);
  g_assert_cmpuint (expected->len, >, 0);
  assert_tokens_equal (m->tokens, expected);
  g_assert_cmpint (m->n_tokens, ==, expected->len);
  g_assert_cmpint (f.finished_incomplete, ==, expected->len == 24);

  /* Regenerate: a second reply beside the first, to the same message. */
  tern_service_regenerate (service, 8, NULL, got_result, &f);
  gint64 again = tern_service_regenerate_finish (service, await (&f), &error);
  g_assert_no_error (error);
  g_assert_cmpint (again, >, reply);
  g_assert_cmpint (f.started_parent, ==, user->id);
  g_autoptr (TernMessage) head = last_message (&f, service, conversation);
  g_assert_cmpint (head->id, ==, again);
  g_assert_cmpint (head->parent_id, ==, user->id);
  g_assert_cmpstr (head->content, ==, f.deltas->str);

  g_assert_null (f.error);
  release (&f);
  g_assert_finalize_object (service);
}

/* Edit and resend makes a branch beside the edited message; switching
 * branches shows the other one and brings the context there, the same
 * as a fresh open of that branch would. */
static void
test_branches (void)
{
  g_auto (Fixture) f = { 0 };
  g_autoptr (GError) error = NULL;

  fixture_init (&f);
  TernService *service = service_new (&f, f.db);
  load (&f, service);
  gint64 conversation = new_conversation (&f, service);
  open_conversation (&f, service, conversation);
  send (&f, service, "Who created the heaven?", 6);
  send (&f, service, "And the earth?", 6);
  g_autoptr (GPtrArray) before = messages (&f, service, conversation);
  g_assert_cmpuint (before->len, ==, 4);
  TernMessage *second = before->pdata[2];

  tern_service_edit_message (service, second->id, "And the waters?", 6, NULL, got_result, &f);
  gint64 reply = tern_service_edit_message_finish (service, await (&f), &error);
  g_assert_no_error (error);
  g_autoptr (GPtrArray) edited = messages (&f, service, conversation);
  g_assert_cmpuint (edited->len, ==, 4);
  TernMessage *new_user = edited->pdata[2];
  g_assert_cmpstr (new_user->content, ==, "And the waters?");
  g_assert_cmpint (new_user->parent_id, ==, second->parent_id);
  g_assert_cmpint (new_user->n_branches, ==, 2);
  g_assert_cmpint (new_user->branch_index, ==, 1);
  g_assert_cmpint (((TernMessage *) edited->pdata[3])->id, ==, reply);
  g_assert_cmpint (((TernMessage *) edited->pdata[0])->n_branches, ==, 1);

  /* Back to the first branch: its reply is shown again, from its snapshot. */
  tern_service_switch_branch (service, new_user->id, -1, NULL, got_result, &f);
  int kind = tern_service_switch_branch_finish (service, await (&f), &error);
  g_assert_no_error (error);
  g_assert_cmpint (kind, ==, TERN_RESUME_SNAPSHOT);
  g_autoptr (GPtrArray) back = messages (&f, service, conversation);
  g_assert_cmpuint (back->len, ==, 4);
  g_assert_cmpint (((TernMessage *) back->pdata[2])->id, ==, second->id);
  g_assert_cmpint (((TernMessage *) back->pdata[2])->branch_index, ==, 0);
  g_assert_cmpint (((TernMessage *) back->pdata[3])->id, ==, ((TernMessage *) before->pdata[3])->id);

  /* Only user messages of the open conversation can be edited. */
  tern_service_edit_message (service, ((TernMessage *) back->pdata[3])->id, "no", 6, NULL, got_result, &f);
  g_assert_cmpint (tern_service_edit_message_finish (service, await (&f), &error), ==, 0);
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_INVALID);
  g_clear_error (&error);
  tern_service_switch_branch (service, 999999, 0, NULL, got_result, &f);
  g_assert_cmpint (tern_service_switch_branch_finish (service, await (&f), &error), ==, -1);
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_INVALID);
  g_clear_error (&error);
  tern_service_switch_branch (service, second->id, -1, NULL, got_result, &f);
  g_assert_cmpint (tern_service_switch_branch_finish (service, await (&f), &error), ==, -1);
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_INVALID);
  g_clear_error (&error);

  /* The reply limit is kept with the conversation. */
  tern_service_set_max_tokens (service, conversation, 77, NULL, got_result, &f);
  g_assert_true (tern_service_set_max_tokens_finish (service, await (&f), &error));
  g_assert_no_error (error);
  tern_service_set_max_tokens (service, conversation, -1, NULL, got_result, &f);
  g_assert_false (tern_service_set_max_tokens_finish (service, await (&f), &error));
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_INVALID);
  g_clear_error (&error);
  tern_service_list_conversations (service, FALSE, 0, -1, NULL, got_result, &f);
  g_autoptr (GPtrArray) list = tern_service_list_conversations_finish (service, await (&f), &error);
  g_assert_no_error (error);
  g_assert_cmpint (((TernConversation *) list->pdata[0])->max_tokens, ==, 77);

  g_assert_null (f.error);
  release (&f);
  g_assert_finalize_object (service);
}

/* A stop requested after token k of a reply leaves exactly k tokens: the
 * engine thread is held at that token (the service's test hook) while the
 * stop is requested, as when the user presses Stop having seen it. */
static void
test_stop (void)
{
  g_auto (Fixture) f = { 0 };
  const guint stop_at[] = { 1, 5, 12 };
  g_autoptr (GError) error = NULL;

  fixture_init (&f);
  TernService *service = service_new (&f, f.db);
  load (&f, service);

  /* Each in a conversation of its own: the same greedy reply, longer than
   * any of the stops. */
  gint64 conversation = 0;
  for (gsize i = 0; i < G_N_ELEMENTS (stop_at); i++)
    {
      TokenGate gate;

      conversation = new_conversation (&f, service);
      open_conversation (&f, service, conversation);

      token_gate_install (&gate, service, stop_at[i]);
      tern_service_send_message (service, "Tell me of the flood.", 180, NULL, got_result, &f);
      token_gate_wait (&gate, TIMEOUT_S);
      tern_service_stop (service);
      token_gate_release (&gate);
      gint64 id = tern_service_send_message_finish (service, await (&f), &error);
      g_assert_no_error (error);
      token_gate_remove (&gate, service);

      g_assert_cmpint (id, ==, f.finished_id);
      g_assert_true (f.finished_incomplete);
      g_autoptr (TernMessage) m = last_message (&f, service, conversation);
      g_assert_cmpint (m->id, ==, id);
      g_assert_cmpint (m->n_tokens, ==, stop_at[i]);
      g_assert_cmpuint (tern_service_get_reply_n_tokens (service), ==, stop_at[i]);
      g_assert_cmpstr (m->content, ==, f.deltas->str);
    }

  /* A stop does not reach replies requested after it. */
  send (&f, service, "And then?", 6);
  g_autoptr (TernMessage) next = last_message (&f, service, conversation);
  g_assert_cmpint (next->n_tokens, >, 0);
  release (&f);
  g_assert_finalize_object (service);
}

static void
test_shutdown (void)
{
  g_auto (Fixture) f = { 0 };
  g_autoptr (GError) error = NULL;

  fixture_init (&f);
  TernService *service = service_new (&f, f.db);
  load (&f, service);
  gint64 conversation = new_conversation (&f, service);
  open_conversation (&f, service, conversation);

  /* Quit while a reply streams: shut down from the first delta. */
  f.shutdown_on_delta = TRUE;
  tern_service_send_message (service, "Tell me of the flood.", 180, NULL, got_result, &f);
  gint64 reply = tern_service_send_message_finish (service, await (&f), &error);
  g_assert_no_error (error);
  g_assert_cmpint (reply, >, 0);
  g_assert_cmpint (f.n_finished, ==, 1);
  g_assert_true (f.finished_incomplete);

  /* Requests after it fail, they do not hang. */
  tern_service_list_conversations (service, FALSE, 0, -1, NULL, got_result, &f);
  g_assert_null (tern_service_list_conversations_finish (service, await (&f), &error));
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_CANCELLED);
  g_clear_error (&error);
  g_autofree char *text = g_strdup (f.deltas->str);
  release (&f);
  g_assert_finalize_object (service);

  /* The partial reply is stored whole, with the state after it. */
  g_autoptr (TernStore) store = tern_store_open (f.db, &error);
  g_assert_no_error (error);
  g_autoptr (TernMessage) m = tern_store_message_get (store, reply, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (m->content, ==, text);
  g_assert_cmpint (m->n_tokens, >, 0);
  g_assert_cmpint (m->n_tokens, <, 180);
  g_assert_cmpint (m->tokens->len, ==, m->n_tokens);
  g_assert_nonnull (m->sampler_state);
  g_assert_cmpint (tern_store_snapshot_find (store, conversation, reply, &error), >, 0);
  g_assert_no_error (error);
}

static void
test_resume (void)
{
  g_auto (Fixture) f = { 0 };
  g_autoptr (GError) error = NULL;

  fixture_init (&f);
  TernService *service = service_new (&f, f.db);
  load (&f, service);
  gint64 a = new_conversation (&f, service);
  open_conversation (&f, service, a);
  send (&f, service, "In the beginning", 16);
  /* A copy has the messages but not the snapshot. */
  tern_service_duplicate_conversation (service, a, NULL, got_result, &f);
  gint64 b = tern_service_duplicate_conversation_finish (service, await (&f), &error);
  g_assert_no_error (error);
  release (&f);
  g_assert_finalize_object (service);

  /* A new process, as it were: the original resumes from its snapshot,
   * the copy by evaluating its transcript, to the same state. */
  service = service_new (&f, f.db);
  load (&f, service);
  g_assert_cmpint (open_conversation (&f, service, a), ==, TERN_RESUME_SNAPSHOT);
  gint used_a = tern_service_get_context_used (service);
  g_assert_cmpint (used_a, >, 0);
  send (&f, service, "And God said", 16);
  g_autoptr (TernMessage) next_a = last_message (&f, service, a);

  f.n_progress = 0;
  g_assert_cmpint (open_conversation (&f, service, b), ==, TERN_RESUME_REINGEST);
  g_assert_cmpuint (f.n_progress, >, 0);
  g_assert_cmpint (f.progress_phase, ==, TERN_SERVICE_PHASE_INGEST);
  g_assert_cmpint (tern_service_get_context_used (service), ==, used_a);
  send (&f, service, "And God said", 16);
  g_autoptr (TernMessage) next_b = last_message (&f, service, b);
  assert_tokens_equal (next_a->tokens, next_b->tokens);
  g_assert_cmpstr (next_a->content, ==, next_b->content);

  g_assert_null (f.error);
  release (&f);
  g_assert_finalize_object (service);
}

/* A conversation whose roles do not alternate (a reply lost to a crash
 * left two user messages in a row) and whose last reply is too long to
 * keep is still answered: trimming goes by whole turns. */
static void
test_unanswered (void)
{
  g_auto (Fixture) f = { 0 };
  g_autoptr (GError) error = NULL;
  g_autoptr (GString) long_reply = g_string_new (NULL);

  fixture_init (&f);
  TernService *service = service_new (&f, f.db);
  load (&f, service);
  gint64 conversation = new_conversation (&f, service);
  for (guint i = 0; i < 40; i++)
    g_string_append (long_reply, "In the beginning God created the heaven and the earth. ");
  {
    g_autoptr (TernStore) store = tern_store_open (f.db, &error);
    g_assert_no_error (error);
    tern_store_message_add (store, conversation, TERN_STORE_HEAD, TERN_ROLE_USER, "Hello", NULL, 0, NULL, &error);
    tern_store_message_add (store, conversation, TERN_STORE_HEAD, TERN_ROLE_USER, "Are you there?", NULL, 0, NULL,
                            &error);
    tern_store_message_add (store, conversation, TERN_STORE_HEAD, TERN_ROLE_ASSISTANT, long_reply->str, NULL, 0,
                            NULL, &error);
    g_assert_no_error (error);
  }
  open_conversation (&f, service, conversation);

  gint64 reply = send (&f, service, "And then?", 4);
  g_autoptr (TernMessage) m = last_message (&f, service, conversation);
  g_assert_cmpint (m->id, ==, reply);
  g_assert_cmpint (m->n_tokens, >, 0);
  g_assert_null (f.error);
  release (&f);
  g_assert_finalize_object (service);
}

/* A model whose template demands alternating roles still answers a
 * conversation with two user messages in a row (a reply lost to a crash):
 * the turns it refuses are left out, and the user is told. */
static void
test_notice (void)
{
  g_auto (Fixture) f = { 0 };
  g_autoptr (GError) error = NULL;

  fixture_init (&f);
  g_autofree char *strict = model_variant_write_template (f.dir, f.model, STRICT_TEMPLATE);
  g_free (f.model);
  f.model = g_steal_pointer (&strict);
  TernService *service = service_new (&f, f.db);
  load (&f, service);
  gint64 conversation = new_conversation (&f, service);
  {
    g_autoptr (TernStore) store = tern_store_open (f.db, &error);
    g_assert_no_error (error);
    tern_store_message_add (store, conversation, TERN_STORE_HEAD, TERN_ROLE_USER, "Hello", NULL, 0, NULL, &error);
    tern_store_message_add (store, conversation, TERN_STORE_HEAD, TERN_ROLE_ASSISTANT, "Hail.", NULL, 0, NULL,
                            &error);
    tern_store_message_add (store, conversation, TERN_STORE_HEAD, TERN_ROLE_USER, "Lost reply", NULL, 0, NULL, &error);
    g_assert_no_error (error);
  }
  open_conversation (&f, service, conversation);

  gint64 reply = send (&f, service, "Who made the light?", 4);
  g_assert_cmpint (reply, >, 0);
  g_assert_nonnull (f.notice);
  g_assert_nonnull (strstr (f.notice, "3 earlier messages are left out"));
  g_assert_null (f.error);
  release (&f);
  g_assert_finalize_object (service);
}

/* The model file cut to half while the model is loaded (the issue's
 * SIGBUS): the next message gets no reply but an IO error, and is kept;
 * the service unloads the model, says so, and the library finds the file
 * changed. */
static void
test_model_damaged (void)
{
  g_auto (Fixture) f = { 0 };
  g_autoptr (GError) error = NULL;
  g_autofree char *contents = NULL;
  gsize len;

  fixture_init (&f);
  g_assert_true (g_file_get_contents (f.model, &contents, &len, NULL));
  g_free (f.model);
  f.model = g_build_filename (f.dir, "model.gguf", NULL);
  g_assert_true (g_file_set_contents (f.model, contents, len, NULL));
  TernService *service = service_new (&f, f.db);
  gint64 model_id = load (&f, service);
  gint64 conversation = new_conversation (&f, service);
  open_conversation (&f, service, conversation);
  send (&f, service, "Who made the light?", 4);

  g_assert_cmpint (truncate (f.model, len / 2), ==, 0);
  tern_service_send_message (service, "And then?", 4, NULL, got_result, &f);
  g_assert_cmpint (tern_service_send_message_finish (service, await (&f), &error), ==, 0);
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_IO);
  g_assert_nonnull (strstr (error->message, "the model file model.gguf changed on disk while in use"));
  g_assert_cmpint (f.damaged_id, ==, model_id);
  g_assert_cmpstr (f.damaged_error->message, ==, error->message);
  g_assert_false (tern_service_get_model_loaded (service));
  g_assert_cmpint (tern_service_get_model_id (service), ==, 0);
  g_clear_error (&error);

  g_autoptr (TernMessage) last = last_message (&f, service, conversation);
  g_assert_cmpint (last->role, ==, TERN_ROLE_USER);
  g_assert_cmpstr (last->content, ==, "And then?");
  tern_service_check_model (service, model_id, NULL, got_result, &f);
  g_assert_cmpint (tern_service_check_model_finish (service, await (&f), &error), ==, TERN_MODEL_CHANGED);
  g_assert_no_error (error);
  g_assert_null (f.error);
  release (&f);
  g_assert_finalize_object (service);
}

static void
test_store_errors (void)
{
  g_auto (Fixture) f = { 0 };
  g_autoptr (GError) error = NULL;

  fixture_init (&f);
  /* A database file that is not one. */
  g_autofree char *junk = g_strnfill (8192, 'x');
  g_file_set_contents (f.db, junk, -1, &error);
  g_assert_no_error (error);
  TernService *service = service_new (&f, f.db);

  tern_service_list_conversations (service, FALSE, 0, -1, NULL, got_result, &f);
  g_assert_null (tern_service_list_conversations_finish (service, await (&f), &error));
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_FORMAT);
  g_clear_error (&error);
  /* Reported as it happened, too. */
  g_assert_error (f.error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_FORMAT);

  tern_service_load_model (service, f.model, NULL, got_result, &f);
  g_assert_cmpint (tern_service_load_model_finish (service, await (&f), &error), ==, 0);
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_FORMAT);
  g_clear_error (&error);
  release (&f);
  g_assert_finalize_object (service);

  /* A good store refuses unknown ids. */
  g_unlink (f.db);
  service = service_new (&f, f.db);
  tern_service_rename_conversation (service, 999, "Nothing", NULL, got_result, &f);
  g_assert_false (tern_service_rename_conversation_finish (service, await (&f), &error));
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_INVALID);
  g_clear_error (&error);
  load (&f, service);
  tern_service_open_conversation (service, 999, NULL, got_result, &f);
  g_assert_cmpint (tern_service_open_conversation_finish (service, await (&f), &error), ==, -1);
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_INVALID);
  g_clear_error (&error);
  release (&f);
  g_assert_finalize_object (service);
}

static void
test_store (void)
{
  g_auto (Fixture) f = { 0 };
  g_autoptr (GError) error = NULL;

  fixture_init (&f);
  TernService *service = service_new (&f, f.db);
  load (&f, service);
  gint64 id = new_conversation (&f, service);
  open_conversation (&f, service, id);
  send (&f, service, "Noah built an ark", 4);

  tern_service_rename_conversation (service, id, "The ark", NULL, got_result, &f);
  g_assert_true (tern_service_rename_conversation_finish (service, await (&f), &error));
  g_assert_no_error (error);

  tern_service_search (service, "ark", "[", "]", 10, NULL, got_result, &f);
  g_autoptr (GPtrArray) hits = tern_service_search_finish (service, await (&f), &error);
  g_assert_no_error (error);
  g_assert_cmpuint (hits->len, >=, 1);
  TernSearchHit *hit = hits->pdata[0];
  g_assert_cmpint (hit->conversation_id, ==, id);
  g_assert_cmpstr (hit->title, ==, "The ark");
  g_assert_nonnull (strstr (hit->snippet, "[ark]"));

  /* Delete closes it; restore brings it back to the list. */
  tern_service_delete_conversation (service, id, NULL, got_result, &f);
  g_assert_true (tern_service_delete_conversation_finish (service, await (&f), &error));
  g_assert_no_error (error);
  g_assert_cmpint (tern_service_get_conversation_id (service), ==, 0);
  tern_service_list_conversations (service, FALSE, 0, -1, NULL, got_result, &f);
  g_autoptr (GPtrArray) none = tern_service_list_conversations_finish (service, await (&f), &error);
  g_assert_no_error (error);
  g_assert_cmpuint (none->len, ==, 0);
  tern_service_restore_conversation (service, id, NULL, got_result, &f);
  g_assert_true (tern_service_restore_conversation_finish (service, await (&f), &error));
  g_assert_no_error (error);
  tern_service_list_conversations (service, FALSE, 0, -1, NULL, got_result, &f);
  g_autoptr (GPtrArray) one = tern_service_list_conversations_finish (service, await (&f), &error);
  g_assert_no_error (error);
  g_assert_cmpuint (one->len, ==, 1);
  g_assert_cmpstr (((TernConversation *) one->pdata[0])->title, ==, "The ark");

  /* Settings are checked. */
  TernSamplerParams bad;
  tern_sampler_params_init (&bad);
  bad.top_p = 2;
  tern_service_set_sampling (service, id, &bad, NULL, got_result, &f);
  g_assert_false (tern_service_set_sampling_finish (service, await (&f), &error));
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_INVALID);
  g_clear_error (&error);

  /* The library: remove keeps the file. */
  gint64 model = tern_service_get_model_id (service);
  tern_service_remove_model (service, model, NULL, got_result, &f);
  g_assert_true (tern_service_remove_model_finish (service, await (&f), &error));
  g_assert_no_error (error);
  g_assert_true (g_file_test (f.model, G_FILE_TEST_EXISTS));
  tern_service_add_model (service, f.model, NULL, got_result, &f);
  g_assert_cmpint (tern_service_add_model_finish (service, await (&f), &error), >, 0);
  g_assert_no_error (error);

  g_assert_null (f.error);
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
  g_test_add_func ("/service/generate", test_generate);
  g_test_add_func ("/service/branches", test_branches);
  g_test_add_func ("/service/stop", test_stop);
  g_test_add_func ("/service/shutdown", test_shutdown);
  g_test_add_func ("/service/resume", test_resume);
  g_test_add_func ("/service/unanswered", test_unanswered);
  g_test_add_func ("/service/notice", test_notice);
  g_test_add_func ("/service/model-damaged", test_model_damaged);
  g_test_add_func ("/service/store-errors", test_store_errors);
  g_test_add_func ("/service/store", test_store);
  return g_test_run ();
}
