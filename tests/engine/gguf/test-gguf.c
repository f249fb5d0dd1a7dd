/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <tern/error.h>
#include <tern/gguf.h>

#include <glib/gstdio.h>
#include <signal.h>
#include <sys/resource.h>

#include "test-data.h"

static char *
data_path (const char *dir, const char *file)
{
  return g_test_build_filename (G_TEST_DIST, "data", dir, file, NULL);
}

/* Every .gguf in a data folder, as full paths. */
static GPtrArray *
list_gguf (const char *dir)
{
  g_autoptr (GPtrArray) names = test_data_list (dir, ".gguf", FALSE);
  GPtrArray *files = g_ptr_array_new_with_free_func (g_free);

  for (guint i = 0; i < names->len; i++)
    g_ptr_array_add (files, data_path (dir, names->pdata[i]));
  return files;
}

static void
test_read_model (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *path = data_path ("models", "kjv-tiny-q4_k_m.gguf");
  g_autoptr (TernGguf) gguf = tern_gguf_open (path, &error);
  TernGgufString s;
  guint64 u;
  double f;
  const TernGgufValue *tokens;

  g_assert_no_error (error);
  g_assert_cmpuint (tern_gguf_version (gguf), ==, 3);
  g_assert_cmpuint (tern_gguf_alignment (gguf), ==, 32);
  g_assert_cmpuint (tern_gguf_n_tensors (gguf), ==, 39);

  g_assert_true (tern_gguf_get_string (gguf, "general.architecture", &s, &error));
  g_assert_cmpmem (s.data, s.len, "llama", 5);
  g_assert_true (tern_gguf_get_uint (gguf, "llama.embedding_length", &u, &error));
  g_assert_cmpuint (u, ==, 256);
  g_assert_true (tern_gguf_get_float (gguf, "llama.attention.layer_norm_rms_epsilon", &f, &error));
  g_assert_cmpfloat_with_epsilon (f, 1e-5, 1e-9);
  g_assert_true (tern_gguf_get_array (gguf, "tokenizer.ggml.tokens", TERN_GGUF_STRING, &tokens, &error));
  g_assert_cmpuint (tokens->n, ==, 2048);
  s = tern_gguf_array_string (tokens, 1);
  g_assert_cmpmem (s.data, s.len, "<s>", 3);

  /* Absent: FALSE without an error. Wrong type: FALSE with FORMAT. */
  g_assert_false (tern_gguf_get_uint (gguf, "no.such.key", &u, &error));
  g_assert_no_error (error);
  g_assert_false (tern_gguf_get_uint (gguf, "general.architecture", &u, &error));
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_FORMAT);
  g_assert_nonnull (strstr (error->message, "general.architecture"));
  g_clear_error (&error);

  const TernGgufTensor *t = tern_gguf_find_tensor (gguf, "blk.0.attn_q.weight");
  g_assert_nonnull (t);
  g_assert_cmpuint (t->n_dims, ==, 2);
  g_assert_cmpint (t->ne[0], ==, 256);
  g_assert_cmpint (t->ne[1], ==, 256);
  g_assert_cmpint (t->ne[2], ==, 1);
  g_assert_cmpint (tern_gguf_tensor_n_elems (t), ==, 65536);
  g_assert_null (tern_gguf_find_tensor (gguf, "blk.9.attn_q.weight"));
}

static void
test_missing_file (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (TernGguf) gguf = tern_gguf_open ("/nonexistent/model.gguf", &error);

  g_assert_null (gguf);
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_IO);
  g_assert_nonnull (strstr (error->message, "model.gguf"));
}

/* Reading a file and writing it back gives identical bytes. */
static void
check_round_trip (const char *path)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (TernGguf) gguf = tern_gguf_open (path, &error);
  g_autofree char *dir = g_dir_make_tmp ("tern-gguf-XXXXXX", &error);
  g_autofree char *out = g_build_filename (dir, "copy.gguf", NULL);
  g_autofree char *a = NULL, *b = NULL;
  gsize na, nb;

  g_assert_no_error (error);
  g_assert_true (tern_gguf_write_copy (gguf, out, &error));
  g_assert_no_error (error);
  g_assert_true (g_file_get_contents (path, &a, &na, NULL));
  g_assert_true (g_file_get_contents (out, &b, &nb, NULL));
  g_assert_cmpmem (a, na, b, nb);
  g_unlink (out);
  g_rmdir (dir);
}

static void
test_round_trip_models (void)
{
  g_autoptr (GPtrArray) files = list_gguf ("models");
  for (guint i = 0; i < files->len; i++)
    check_round_trip (files->pdata[i]);
}

static void
test_round_trip_vocab (void)
{
  g_autoptr (GPtrArray) files = list_gguf ("vocab");
  for (guint i = 0; i < files->len; i++)
    check_round_trip (files->pdata[i]);
}

/* A file built with every metadata type reads back as written. */
static void
test_write_read (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("tern-gguf-XXXXXX", &error);
  g_autofree char *path = g_build_filename (dir, "all.gguf", NULL);
  const gint16 i16s[] = { -3, 7, 32767 };
  const char *const strs[] = { "a", "", "ünïcode" };
  const gint64 ne[2] = { 32, 3 };
  float data[96];

  for (int i = 0; i < 96; i++)
    data[i] = (float) i - 48.0f;

  TernGgufWriter *w = tern_gguf_writer_new (path, &error);
  g_assert_no_error (error);
  tern_gguf_writer_add_uint32 (w, "u32", 4000000000u);
  tern_gguf_writer_add_int32 (w, "i32", -5);
  tern_gguf_writer_add_uint64 (w, "u64", G_MAXUINT64);
  tern_gguf_writer_add_float32 (w, "f32", 0.25f);
  tern_gguf_writer_add_bool (w, "bool", TRUE);
  tern_gguf_writer_add_string (w, "str", "hello");
  tern_gguf_writer_add_array (w, "i16s", TERN_GGUF_INT16, i16s, 3);
  tern_gguf_writer_add_string_array (w, "strs", strs, 3);
  tern_gguf_writer_add_tensor (w, "t", TERN_TYPE_F32, 2, ne);
  guint64 size = tern_gguf_writer_file_size (w);
  g_assert_true (tern_gguf_writer_begin_data (w, &error));
  /* In uneven pieces: the writer streams. */
  g_assert_true (tern_gguf_writer_write (w, data, 100, &error));
  g_assert_true (tern_gguf_writer_write (w, (guint8 *) data + 100, sizeof data - 100, &error));
  g_assert_true (tern_gguf_writer_finish (w, &error));
  g_assert_no_error (error);
  tern_gguf_writer_free (w);
  /* The size was known before the write. */
  GStatBuf st;
  g_assert_cmpint (g_stat (path, &st), ==, 0);
  g_assert_cmpuint (size, ==, (guint64) st.st_size);

  g_autoptr (TernGguf) gguf = tern_gguf_open (path, &error);
  guint64 u;
  gint64 i;
  double f;
  gboolean b;
  TernGgufString s;
  const TernGgufValue *arr;

  g_assert_no_error (error);
  g_assert_true (tern_gguf_get_uint (gguf, "u32", &u, &error) && u == 4000000000u);
  g_assert_true (tern_gguf_get_int (gguf, "i32", &i, &error) && i == -5);
  g_assert_false (tern_gguf_get_uint (gguf, "i32", &u, &error));
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_FORMAT);
  g_clear_error (&error);
  g_assert_true (tern_gguf_get_uint (gguf, "u64", &u, &error) && u == G_MAXUINT64);
  g_assert_false (tern_gguf_get_int (gguf, "u64", &i, &error));
  g_clear_error (&error);
  g_assert_true (tern_gguf_get_float (gguf, "f32", &f, &error) && f == 0.25);
  g_assert_true (tern_gguf_get_bool (gguf, "bool", &b, &error) && b);
  g_assert_true (tern_gguf_get_string (gguf, "str", &s, &error));
  g_assert_cmpmem (s.data, s.len, "hello", 5);
  g_assert_true (tern_gguf_get_array (gguf, "i16s", TERN_GGUF_INT16, &arr, &error));
  g_assert_cmpint (tern_gguf_array_int (arr, 0), ==, -3);
  g_assert_cmpint (tern_gguf_array_int (arr, 2), ==, 32767);
  g_assert_true (tern_gguf_get_array (gguf, "strs", TERN_GGUF_STRING, &arr, &error));
  s = tern_gguf_array_string (arr, 1);
  g_assert_cmpuint (s.len, ==, 0);
  s = tern_gguf_array_string (arr, 2);
  g_assert_cmpmem (s.data, s.len, "ünïcode", strlen ("ünïcode"));
  g_assert_false (tern_gguf_get_array (gguf, "strs", TERN_GGUF_INT32, &arr, &error));
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_FORMAT);
  g_clear_error (&error);

  const TernGgufTensor *t = tern_gguf_find_tensor (gguf, "t");
  g_assert_nonnull (t);
  g_assert_cmpuint (t->n_bytes, ==, sizeof data);
  g_assert_cmpmem (t->data, t->n_bytes, data, sizeof data);
  g_assert_cmpuint ((guintptr) t->data % 32, ==, 0);

  g_unlink (path);
  g_rmdir (dir);
}

/* An abandoned write leaves nothing behind, and never replaces the target. */
static void
test_abandoned_write (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("tern-gguf-XXXXXX", &error);
  g_autofree char *path = g_build_filename (dir, "out.gguf", NULL);
  const gint64 ne[1] = { 64 };
  float data[64] = { 0 };

  g_assert_true (g_file_set_contents (path, "old", 3, NULL));
  TernGgufWriter *w = tern_gguf_writer_new (path, &error);
  tern_gguf_writer_add_tensor (w, "t", TERN_TYPE_F32, 1, ne);
  g_assert_true (tern_gguf_writer_begin_data (w, &error));
  g_assert_true (tern_gguf_writer_write (w, data, 16, &error));
  tern_gguf_writer_free (w);

  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  g_assert_cmpstr (g_dir_read_name (d), ==, "out.gguf");
  g_assert_null (g_dir_read_name (d));
  g_autofree char *contents = NULL;
  g_assert_true (g_file_get_contents (path, &contents, NULL, NULL));
  g_assert_cmpstr (contents, ==, "old");
  g_unlink (path);
  g_rmdir (dir);
}

/* A full disk (simulated by a file size limit) is a clean IO error. */
static void
test_disk_full (void)
{
  if (g_test_subprocess ())
    {
      g_autoptr (GError) error = NULL;
      g_autofree char *dir = g_dir_make_tmp ("tern-gguf-XXXXXX", &error);
      g_autofree char *path = g_build_filename (dir, "big.gguf", NULL);
      const gint64 ne[1] = { 1 << 20 };
      g_autofree float *data = g_new0 (float, 1 << 20);
      struct rlimit limit = { 64 * 1024, 64 * 1024 };

      signal (SIGXFSZ, SIG_IGN);
      g_assert_cmpint (setrlimit (RLIMIT_FSIZE, &limit), ==, 0);
      TernGgufWriter *w = tern_gguf_writer_new (path, &error);
      tern_gguf_writer_add_tensor (w, "t", TERN_TYPE_F32, 1, ne);
      gboolean ok = tern_gguf_writer_begin_data (w, &error) &&
                    tern_gguf_writer_write (w, data, (1 << 20) * sizeof (float), &error) &&
                    tern_gguf_writer_finish (w, &error);
      g_assert_false (ok);
      g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_IO);
      g_printerr ("%s\n", error->message);
      tern_gguf_writer_free (w);
      g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
      g_rmdir (dir);
      return;
    }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
  g_test_trap_assert_stderr ("*big.gguf: write failed*");
}

/* The size a file will have is known before it is written, byte for byte:
 * unpadded (alignment 1) and padded, for tensors of every name length and
 * dimension count. */
static void
test_file_size (void)
{
  static const guint32 alignments[] = { 1, 32 };
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("tern-gguf-XXXXXX", &error);
  g_autofree char *path = g_build_filename (dir, "sized.gguf", NULL);
  static const guint8 zeros[4096];

  for (gsize a = 0; a < G_N_ELEMENTS (alignments); a++)
    {
      TernGgufWriter *w = tern_gguf_writer_new (path, &error);
      GStatBuf st;
      guint64 size;

      g_assert_no_error (error);
      tern_gguf_writer_set_alignment (w, alignments[a]);
      tern_gguf_writer_add_string (w, "general.architecture", "llama");
      for (guint32 t = 0; t < 5; t++)
        {
          g_autofree char *name = g_strnfill (t * 7 + 1, 'a' + t);
          const gint64 ne[3] = { 32 + t, 2, 1 + t };

          tern_gguf_writer_add_tensor (w, name, TERN_TYPE_F32, 1 + t % 3, ne);
        }
      size = tern_gguf_writer_file_size (w);
      g_assert_true (tern_gguf_writer_begin_data (w, &error));
      for (guint32 t = 0; t < 5; t++)
        {
          const gint64 n = (32 + t) * (t % 3 >= 1 ? 2 : 1) * (t % 3 == 2 ? 1 + t : 1);

          g_assert_true (tern_gguf_writer_write (w, zeros, (gsize) n * 4, &error));
        }
      g_assert_true (tern_gguf_writer_finish (w, &error));
      tern_gguf_writer_free (w);
      g_assert_cmpint (g_stat (path, &st), ==, 0);
      g_assert_cmpuint (size, ==, (guint64) st.st_size);
      g_unlink (path);
    }
  g_rmdir (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/engine/gguf/read-model", test_read_model);
  g_test_add_func ("/engine/gguf/missing-file", test_missing_file);
  g_test_add_func ("/engine/gguf/round-trip/models", test_round_trip_models);
  g_test_add_func ("/engine/gguf/round-trip/vocab", test_round_trip_vocab);
  g_test_add_func ("/engine/gguf/write-read", test_write_read);
  g_test_add_func ("/engine/gguf/file-size", test_file_size);
  g_test_add_func ("/engine/gguf/abandoned-write", test_abandoned_write);
  g_test_add_func ("/engine/gguf/disk-full", test_disk_full);
  return g_test_run ();
}
