/* SPDX-License-Identifier: GPL-3.0-or-later */
/* TernService compressing a library model: the new entry and its report,
 * progress on the owner context, the engine thread free meanwhile, cancel,
 * failures, a read-only service. */
#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <tern/service.h>

#include "service-fixture.h"
#include "test-data.h"

#define ORIGINAL "kjv-tiny-f32"

/* One compression's progress, and what the test does on its first report. */
typedef struct {
  Fixture *f;
  GThread *owner;
  guint n;
  TernServicePhase phase;
  double last;
  gboolean compress_done;  /* the compression's callback ran */
  GCancellable *cancel_on_first;
  gboolean listed_before_done;
} Progress;

static void
on_progress (TernServicePhase phase, double fraction, double seconds_left, gpointer data)
{
  Progress *p = data;

  g_assert_true (g_thread_self () == p->owner);
  g_assert_false (p->compress_done);
  /* Compressing, then (with a held-out text) measuring. */
  g_assert_true (phase == TERN_SERVICE_PHASE_COMPRESS || phase == TERN_SERVICE_PHASE_MEASURE);
  g_assert_cmpint (phase, >=, p->phase);
  if (p->n > 0 && phase != p->phase)
    {
      g_assert_cmpfloat (p->last, ==, 1);
      p->last = 0;
    }
  p->phase = phase;
  g_assert_cmpfloat (fraction, >=, p->last);
  g_assert_cmpfloat (fraction, <=, 1);
  g_assert_cmpfloat (seconds_left, >=, -1);
  p->last = fraction;
  if (p->n++ > 0)
    return;
  if (p->cancel_on_first)
    g_cancellable_cancel (p->cancel_on_first);
}

static void
on_listed (GObject *source, GAsyncResult *result, gpointer data)
{
  Progress *p = data;
  g_autoptr (GPtrArray) list = tern_service_list_conversations_finish (TERN_SERVICE (source), result, NULL);

  p->listed_before_done = !p->compress_done;
}

static void
on_compressed (GObject *source, GAsyncResult *result, gpointer data)
{
  Progress *p = data;

  p->compress_done = TRUE;
  got_result (source, result, p->f);
}

/* The fixture's model copied into a folder of its own, and added. */
static gint64
add_original (Fixture *f, TernService *service, char **folder)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *src = g_test_build_filename (G_TEST_DIST, "data", "models", ORIGINAL ".gguf", NULL);
  g_autofree char *contents = NULL;
  gsize len;

  *folder = g_build_filename (f->dir, "models", NULL);
  g_assert_cmpint (g_mkdir (*folder, 0755), ==, 0);
  g_autofree char *path = g_build_filename (*folder, ORIGINAL ".gguf", NULL);
  g_assert_true (g_file_get_contents (src, &contents, &len, NULL));
  g_assert_true (g_file_set_contents (path, contents, len, NULL));
  tern_service_add_model (service, path, NULL, got_result, f);
  gint64 id = tern_service_add_model_finish (service, await (f), &error);
  g_assert_no_error (error);
  return id;
}

static gint64
compress (Fixture *f, TernService *service, gint64 id, const char *out, Progress *p, GCancellable *cancellable,
          GError **error)
{
  TernCompressParams params;

  tern_compress_params_init (&params);
  params.n_threads = 1;
  p->f = f;
  p->owner = g_thread_self ();
  p->compress_done = FALSE;
  p->last = 0;
  tern_service_compress_model (service, id, &params, out, NULL, NULL, on_progress, p, cancellable, on_compressed, p);
  return tern_service_compress_model_finish (service, await (f), error);
}

static GPtrArray *
list_models (Fixture *f, TernService *service)
{
  g_autoptr (GError) error = NULL;

  tern_service_list_models (service, NULL, got_result, f);
  GPtrArray *models = tern_service_list_models_finish (service, await (f), &error);
  g_assert_no_error (error);
  return models;
}

static TernStoreModel *
find_model (GPtrArray *models, gint64 id)
{
  for (guint i = 0; i < models->len; i++)
    if (((TernStoreModel *) models->pdata[i])->id == id)
      return models->pdata[i];
  return NULL;
}

static int
by_name (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

/* The folder's files, sorted, joined by "|". */
static char *
folder_files (const char *folder)
{
  g_autoptr (GDir) dir = g_dir_open (folder, 0, NULL);
  g_autoptr (GPtrArray) names = g_ptr_array_new ();
  const char *name;

  while ((name = g_dir_read_name (dir)))
    g_ptr_array_add (names, (gpointer) name);
  g_ptr_array_sort (names, by_name);
  g_ptr_array_add (names, NULL);
  return g_strjoinv ("|", (char **) names->pdata);
}

/* Compressed beside the original and measured on held-out text: the entry
 * is named after it, keeps the report (with the verdict) and the link;
 * compressing then measuring reach 1 on the owner context, and the
 * engine thread answers meanwhile. A second one never replaces the
 * first. */
static void
test_compress (void)
{
  g_auto (Fixture) f = { 0 };
  g_autoptr (GError) error = NULL;
  g_autofree char *folder = NULL;
  Progress p = { 0 };

  fixture_init (&f);
  TernService *service = service_new (&f, f.db);
  gint64 original = add_original (&f, service, &folder);
  TernCompressParams params;
  tern_compress_params_init (&params);
  params.n_threads = 1;
  p.f = &f;
  p.owner = g_thread_self ();
  g_autofree char *heldout = g_test_build_filename (G_TEST_DIST, "data", "text", "kjv_eval.txt", NULL);
  tern_service_compress_model (service, original, &params, NULL, NULL, heldout, on_progress, &p, NULL, on_compressed,
                               &p);
  /* A store request made once it runs is answered before it ends. */
  tern_service_list_conversations (service, FALSE, 0, -1, NULL, on_listed, &p);
  gint64 id = tern_service_compress_model_finish (service, await (&f), &error);
  g_assert_no_error (error);
  g_assert_cmpint (id, >, original);
  g_assert_cmpuint (p.n, >=, 2);
  g_assert_cmpfloat (p.last, ==, 1);
  g_assert_cmpint (p.phase, ==, TERN_SERVICE_PHASE_MEASURE);
  g_assert_true (p.listed_before_done);

  g_autoptr (GPtrArray) models = list_models (&f, service);
  g_assert_cmpuint (models->len, ==, 2);
  TernStoreModel *m = find_model (models, id);
  g_assert_cmpstr (m->name, ==, "kjv-tiny · TQ2_0");
  g_assert_cmpint (m->compressed_from, ==, original);
  g_assert_nonnull (strstr (m->compression_report, "\"method\""));
  g_assert_nonnull (strstr (m->compression_report, "\"tensors\""));
  g_assert_nonnull (strstr (m->compression_report, "\"verdict\" : \"degraded\""));
  g_autofree char *expected = g_build_filename (folder, ORIGINAL "-tq2_0.gguf", NULL);
  g_assert_cmpstr (m->path, ==, expected);
  g_assert_cmpstr (m->tensor_types, !=, ((TernStoreModel *) find_model (models, original))->tensor_types);
  g_assert_nonnull (strstr (m->tensor_types, "tq2_0"));

  /* Again: another file, " (2)". */
  Progress again = { 0 };
  gint64 second = compress (&f, service, original, NULL, &again, NULL, &error);
  g_assert_no_error (error);
  g_autoptr (GPtrArray) three = list_models (&f, service);
  g_autofree char *expected2 = g_build_filename (folder, ORIGINAL "-tq2_0 (2).gguf", NULL);
  g_assert_cmpstr (find_model (three, second)->path, ==, expected2);
  g_autofree char *files = folder_files (folder);
  g_assert_cmpstr (files, ==, ORIGINAL "-tq2_0 (2).gguf|" ORIGINAL "-tq2_0.gguf|" ORIGINAL ".gguf");

  release (&f);
  g_assert_finalize_object (service);
}

/* The calibrated method and a size target read their text file on the
 * compression thread; a text file that cannot be read is a clear error
 * and leaves nothing. */
static void
test_calibrated (void)
{
  g_auto (Fixture) f = { 0 };
  g_autoptr (GError) error = NULL;
  g_autofree char *folder = NULL;
  g_autofree char *text = g_test_build_filename (G_TEST_DIST, "data", "text", "kjv_calibration.txt", NULL);
  g_autofree char *missing = g_test_build_filename (G_TEST_DIST, "data", "text", "no-such-text.txt", NULL);
  TernCompressParams params;
  Progress p = { 0 };

  fixture_init (&f);
  TernService *service = service_new (&f, f.db);
  gint64 original = add_original (&f, service, &folder);
  tern_compress_params_init (&params);
  params.method = TERN_COMPRESS_CALIBRATED;
  params.n_threads = 1;
  p.f = &f;
  p.owner = g_thread_self ();
  tern_service_compress_model (service, original, &params, NULL, missing, NULL, on_progress, &p, NULL, on_compressed,
                               &p);
  g_assert_cmpint (tern_service_compress_model_finish (service, await (&f), &error), ==, 0);
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_IO);
  g_assert_nonnull (strstr (error->message, "no-such-text.txt"));
  g_clear_error (&error);
  g_autoptr (GPtrArray) before = list_models (&f, service);
  g_assert_cmpuint (before->len, ==, 1);

  /* A size target measures the matrices on the text, whatever the
   * method. */
  Progress again = { .f = &f, .owner = g_thread_self () };
  params.method = TERN_COMPRESS_TWN;
  params.type = TERN_TYPE_TQ1_0;
  params.max_size = 1559680;
  tern_service_compress_model (service, original, &params, NULL, text, NULL, on_progress, &again, NULL, on_compressed,
                               &again);
  gint64 id = tern_service_compress_model_finish (service, await (&f), &error);
  g_assert_no_error (error);
  g_autoptr (GPtrArray) models = list_models (&f, service);
  g_assert_nonnull (strstr (find_model (models, id)->compression_report, "\"max_bytes\" : 1559680"));
  g_assert_nonnull (strstr (find_model (models, id)->compression_report, "\"sensitivity\" : "));

  release (&f);
  g_assert_finalize_object (service);
}

static void
test_cancel (void)
{
  g_auto (Fixture) f = { 0 };
  g_autoptr (GError) error = NULL;
  g_autofree char *folder = NULL;
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  Progress p = { .cancel_on_first = cancellable };

  fixture_init (&f);
  TernService *service = service_new (&f, f.db);
  gint64 original = add_original (&f, service, &folder);
  g_assert_cmpint (compress (&f, service, original, NULL, &p, cancellable, &error), ==, 0);
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_CANCELLED);
  g_assert_cmpuint (p.n, ==, 1);
  g_assert_cmpfloat (p.last, <, 1);
  g_autofree char *files = folder_files (folder);
  g_assert_cmpstr (files, ==, ORIGINAL ".gguf");
  g_autoptr (GPtrArray) models = list_models (&f, service);
  g_assert_cmpuint (models->len, ==, 1);

  release (&f);
  g_assert_finalize_object (service);
}

/* Failures leave nothing: an unknown model, a folder that is not there,
 * a disk that fills up (a file size limit, in a subprocess). */
static void
test_failures (void)
{
  g_auto (Fixture) f = { 0 };
  g_autoptr (GError) error = NULL;
  g_autofree char *folder = NULL;
  Progress p = { 0 };

  fixture_init (&f);
  TernService *service = service_new (&f, f.db);
  gint64 original = add_original (&f, service, &folder);

  g_assert_cmpint (compress (&f, service, original + 10, NULL, &p, NULL, &error), ==, 0);
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_INVALID);
  g_clear_error (&error);
  g_autofree char *nowhere = g_build_filename (f.dir, "missing", "out.gguf", NULL);
  g_assert_cmpint (compress (&f, service, original, nowhere, &p, NULL, &error), ==, 0);
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_IO);
  g_assert_nonnull (strstr (error->message, nowhere));
  g_clear_error (&error);
  g_assert_cmpuint (p.n, ==, 0);

  if (g_test_subprocess ())
    {
      struct rlimit limit = { 512 << 10, 512 << 10 };

      signal (SIGXFSZ, SIG_IGN);
      g_assert_cmpint (setrlimit (RLIMIT_FSIZE, &limit), ==, 0);
      g_assert_cmpint (compress (&f, service, original, NULL, &p, NULL, &error), ==, 0);
      g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_IO);
      g_printerr ("%s\n", error->message);
      g_autofree char *files = folder_files (folder);
      g_assert_cmpstr (files, ==, ORIGINAL ".gguf");
      g_autoptr (GPtrArray) models = list_models (&f, service);
      g_assert_cmpuint (models->len, ==, 1);
      release (&f);
      g_assert_finalize_object (service);
      return;
    }
  release (&f);
  g_assert_finalize_object (service);
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
  g_test_trap_assert_stderr ("*" ORIGINAL "-tq2_0.gguf*write failed*");
}

/* A read-only service refuses, before any work: no file. */
static void
test_read_only (void)
{
  g_auto (Fixture) f = { 0 };
  g_autoptr (GError) error = NULL;
  g_autofree char *folder = NULL;
  Progress p = { 0 };

  fixture_init (&f);
  TernService *service = service_new (&f, f.db);
  gint64 original = add_original (&f, service, &folder);
  release (&f);
  g_assert_finalize_object (service);

  TernService *reader = tern_service_new_read_only (f.db, 1, 0, NULL);
  g_assert_cmpint (compress (&f, reader, original, NULL, &p, NULL, &error), ==, 0);
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_READ_ONLY);
  g_autofree char *files = folder_files (folder);
  g_assert_cmpstr (files, ==, ORIGINAL ".gguf");
  release (&f);
  g_assert_finalize_object (reader);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/service/compress", test_compress);
  g_test_add_func ("/service/compress/calibrated", test_calibrated);
  g_test_add_func ("/service/compress/cancel", test_cancel);
  g_test_add_func ("/service/compress/failures", test_failures);
  g_test_add_func ("/service/compress/read-only", test_read_only);
  return g_test_run ();
}
