/* SPDX-License-Identifier: GPL-3.0-or-later */
/* A GGUF file that shrinks on disk while it is open (truncated, or
 * rewritten in place by a shorter one): reading the part gone gives zeros
 * and marks the file, never SIGBUS; the identity and a copy made from it
 * fail with IO; other files open at once are untouched. And the guard
 * takes only those faults: a SIGBUS of any other mapping still kills the
 * process, or goes to the handler installed before the guard's. */
#include <tern/error.h>
#include <tern/gguf.h>
#include <tern/model-identity.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gguf/guard.h"
#include "test-data.h"

#define FIXTURE "kjv-tiny-q4_k_m.gguf"
#define CHANGED "changed on disk while in use"

/* A copy of the fixture model at @dir/@name, which a test may cut short. */
static char *
copy_fixture (const char *dir, const char *name)
{
  g_autofree char *src = g_test_build_filename (G_TEST_DIST, "data", "models", FIXTURE, NULL);
  g_autofree char *contents = NULL;
  char *dest = g_build_filename (dir, name, NULL);
  gsize len;

  g_assert_true (g_file_get_contents (src, &contents, &len, NULL));
  g_assert_true (g_file_set_contents (dest, contents, len, NULL));
  return dest;
}

static void
shrink (const char *path, goffset size)
{
  g_assert_cmpint (truncate (path, size), ==, 0);
}

static goffset
file_size (const char *path)
{
  GStatBuf st;

  g_assert_cmpint (g_stat (path, &st), ==, 0);
  return st.st_size;
}

/* The tensors first and last in the file. */
static void
first_and_last (const TernGguf *gguf, const TernGgufTensor **first, const TernGgufTensor **last)
{
  *first = *last = tern_gguf_tensor (gguf, 0);
  for (gsize i = 1; i < tern_gguf_n_tensors (gguf); i++)
    {
      const TernGgufTensor *t = tern_gguf_tensor (gguf, i);
      if (t->offset < (*first)->offset)
        *first = t;
      if (t->offset > (*last)->offset)
        *last = t;
    }
}

static gboolean
all_zero (const guint8 *p, gsize n)
{
  for (gsize i = 0; i < n; i++)
    if (p[i] != 0)
      return FALSE;
  return TRUE;
}

/* The case: the file cut to half its size. What remains reads as
 * before, what went reads as zeros, and the file is marked, for good;
 * another copy open at the same time is not. */
static void
test_read (void)
{
  g_autofree char *dir = g_dir_make_tmp ("tern-shrink-XXXXXX", NULL);
  g_autofree char *a_path = copy_fixture (dir, "a.gguf");
  g_autofree char *b_path = copy_fixture (dir, "b.gguf");
  g_autoptr (GError) error = NULL;
  g_autoptr (TernGguf) a = tern_gguf_open (a_path, &error);
  g_assert_no_error (error);
  g_autoptr (TernGguf) b = tern_gguf_open (b_path, &error);
  g_assert_no_error (error);
  const TernGgufTensor *first, *last, *b_first, *b_last;
  goffset half = file_size (a_path) / 2;

  first_and_last (a, &first, &last);
  first_and_last (b, &b_first, &b_last);
  g_assert_cmpuint (tern_gguf_data_offset (a) + first->offset + first->n_bytes, <, half);
  g_assert_cmpuint (tern_gguf_data_offset (a) + last->offset, >, half);
  g_autofree guint8 *first_bytes = g_memdup2 (first->data, first->n_bytes);
  g_autofree guint8 *last_bytes = g_memdup2 (last->data, last->n_bytes);
  g_assert_false (all_zero (last_bytes, last->n_bytes));
  g_assert_true (tern_gguf_check_intact (a, &error));
  g_assert_no_error (error);

  shrink (a_path, half);
  g_autofree guint8 *after = g_memdup2 (last->data, last->n_bytes);
  g_assert_true (all_zero (after, last->n_bytes));
  g_assert_cmpmem (first->data, first->n_bytes, first_bytes, first->n_bytes);
  g_assert_false (tern_gguf_check_intact (a, &error));
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_IO);
  g_assert_cmpstr (error->message, ==,
                   "the model file a.gguf " CHANGED " (it shrank, or could not be read); load it again");
  g_clear_error (&error);
  g_assert_false (tern_gguf_check_intact (a, NULL));

  g_assert_true (tern_gguf_check_intact (b, NULL));
  g_assert_cmpmem (b_last->data, b_last->n_bytes, last_bytes, last->n_bytes);
  g_assert_cmpmem (b_first->data, b_first->n_bytes, first_bytes, first->n_bytes);
  test_remove_tree (dir);
}

/* A copy of a file that shrank under it, and its identity, fail rather
 * than carry zeros; the copy leaves nothing behind. */
static void
test_copy_and_identity (void)
{
  g_autofree char *dir = g_dir_make_tmp ("tern-shrink-XXXXXX", NULL);
  g_autofree char *path = copy_fixture (dir, "model.gguf");
  g_autofree char *out = g_build_filename (dir, "copy.gguf", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (TernGguf) gguf = tern_gguf_open (path, &error);
  TernModelIdentity identity;

  g_assert_no_error (error);
  shrink (path, file_size (path) / 2);
  g_assert_false (tern_gguf_write_copy (gguf, out, &error));
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_IO);
  g_assert_nonnull (strstr (error->message, CHANGED));
  g_clear_error (&error);
  g_assert_false (g_file_test (out, G_FILE_TEST_EXISTS));

  /* The header too: its hash would be of zeros. */
  g_autofree char *other = copy_fixture (dir, "other.gguf");
  g_autoptr (TernGguf) cut = tern_gguf_open (other, &error);
  g_assert_no_error (error);
  g_assert_true (tern_model_identity_of_gguf (cut, other, &identity, &error));
  g_assert_no_error (error);
  shrink (other, 0);
  g_assert_false (tern_model_identity_of_gguf (cut, other, &identity, &error));
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_IO);
  g_assert_nonnull (strstr (error->message, CHANGED));
  test_remove_tree (dir);
}

/* As many files as the guard has slots open at once; one more is refused
 * with a clear error until one closes. A slot used again starts unmarked. */
static void
test_slots (void)
{
  g_autofree char *dir = g_dir_make_tmp ("tern-shrink-XXXXXX", NULL);
  g_autofree char *path = copy_fixture (dir, "model.gguf");
  g_autofree char *spoilt = copy_fixture (dir, "spoilt.gguf");
  g_autoptr (GPtrArray) open = g_ptr_array_new_with_free_func ((GDestroyNotify) tern_gguf_free);
  g_autoptr (GError) error = NULL;

  for (int i = 0; i < TERN_GGUF_GUARD_SLOTS; i++)
    {
      g_ptr_array_add (open, tern_gguf_open (path, &error));
      g_assert_no_error (error);
    }
  g_assert_null (tern_gguf_open (path, &error));
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_IO);
  g_assert_cmpstr (error->message, ==, "model.gguf: more than 256 model files are open at once; close some first");
  g_clear_error (&error);

  /* Its slot goes to a file that is then cut short, then to another. */
  g_ptr_array_remove_index (open, 0);
  TernGguf *gguf = tern_gguf_open (spoilt, &error);
  g_assert_no_error (error);
  const TernGgufTensor *first, *last;
  first_and_last (gguf, &first, &last);
  shrink (spoilt, 0);
  g_assert_cmpuint (((const volatile guint8 *) last->data)[0], ==, 0);
  g_assert_false (tern_gguf_check_intact (gguf, NULL));
  tern_gguf_free (gguf);
  gguf = tern_gguf_open (path, &error);
  g_assert_no_error (error);
  g_assert_true (tern_gguf_check_intact (gguf, NULL));
  tern_gguf_free (gguf);
  for (guint i = 0; i < open->len; i++)
    g_assert_true (tern_gguf_check_intact (open->pdata[i], NULL));
  test_remove_tree (dir);
}

/* A page of @path, mapped here rather than by the GGUF reader, read after
 * the file shrank: a SIGBUS that is no business of the guard. */
static void
fault_outside (const char *path)
{
  long page = sysconf (_SC_PAGESIZE);
  int fd = open (path, O_RDWR | O_CREAT | O_TRUNC, 0600);
  const volatile guint8 *p;

  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (ftruncate (fd, 2 * page), ==, 0);
  p = mmap (NULL, 2 * page, PROT_READ, MAP_SHARED, fd, 0);
  g_assert_true (p != MAP_FAILED);
  g_assert_cmpint (ftruncate (fd, 0), ==, 0);
  (void) p[page];
}

/* With the guard installed (a GGUF file open), another mapping's SIGBUS
 * still kills the process, as without it. */
static void
test_other_fault_kills (void)
{
  g_autofree char *dir = g_dir_make_tmp ("tern-shrink-XXXXXX", NULL);
  g_autofree char *model = copy_fixture (dir, "model.gguf");
  g_autofree char *plain = g_build_filename (dir, "plain", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (TernGguf) gguf = tern_gguf_open (model, &error);
  int status;

  g_assert_no_error (error);
  pid_t pid = fork ();
  g_assert_cmpint (pid, >=, 0);
  if (pid == 0)
    {
      fault_outside (plain);
      _exit (0);
    }
  g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
#ifdef __SANITIZE_ADDRESS__
  /* AddressSanitizer's own handler, which the guard hands it to, reports
   * the fault and exits. */
  g_assert_false (WIFEXITED (status) && WEXITSTATUS (status) == 0);
#else
  g_assert_true (WIFSIGNALED (status));
  g_assert_cmpint (WTERMSIG (status), ==, SIGBUS);
#endif
  test_remove_tree (dir);
}

static void
say (const char *text)
{
  g_assert_cmpint (write (STDOUT_FILENO, text, strlen (text)), ==, (gssize) strlen (text));
}

static void
previous_siginfo (int sig, siginfo_t *info, void *context)
{
  say ("previous handler\n");
  _exit (0);
}

static void
previous_plain (int sig)
{
  say ("previous handler\n");
  _exit (0);
}

/* The folder of a test's subprocess, made and removed by the test. */
#define DIR_VARIABLE "TERN_TEST_SHRINK_DIR"

/* Runs the test in a fresh process (the guard not yet installed there),
 * which must pass and print @expected. */
static void
run_subprocess (const char *expected)
{
  g_autofree char *dir = g_dir_make_tmp ("tern-shrink-XXXXXX", NULL);

  g_setenv (DIR_VARIABLE, dir, TRUE);
  g_test_trap_subprocess (NULL, 60 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_DEFAULT);
  g_unsetenv (DIR_VARIABLE);
  test_remove_tree (dir);
  g_test_trap_assert_passed ();
  g_test_trap_assert_stdout (expected);
}

/* A handler installed first, then a GGUF file opened (the guard installed
 * over it), cut short and read, which the guard handles; then another
 * mapping's fault, which goes to the first handler. */
static void
test_chain (gconstpointer siginfo)
{
  if (!g_test_subprocess ())
    {
      run_subprocess ("guard handled\nprevious handler\n");
      return;
    }

  const char *dir = g_getenv (DIR_VARIABLE);
  g_autofree char *model = copy_fixture (dir, "model.gguf");
  g_autofree char *plain = g_build_filename (dir, "plain", NULL);
  struct sigaction act = { 0 };
  g_autoptr (GError) error = NULL;
  const TernGgufTensor *first, *last;

  if (GPOINTER_TO_INT (siginfo))
    {
      act.sa_sigaction = previous_siginfo;
      act.sa_flags = SA_SIGINFO;
    }
  else
    act.sa_handler = previous_plain;
  sigemptyset (&act.sa_mask);
  g_assert_cmpint (sigaction (SIGBUS, &act, NULL), ==, 0);

  g_autoptr (TernGguf) gguf = tern_gguf_open (model, &error);
  g_assert_no_error (error);
  first_and_last (gguf, &first, &last);
  shrink (model, 0);
  g_assert_cmpuint (((const volatile guint8 *) last->data)[0], ==, 0);
  g_assert_false (tern_gguf_check_intact (gguf, NULL));
  say ("guard handled\n");

  fault_outside (plain);
  g_assert_not_reached ();
}

/* SIGBUS ignored before the guard came, and sent by a process: still
 * ignored. */
static void
test_ignored (void)
{
  if (!g_test_subprocess ())
    {
      run_subprocess ("still here\n");
      return;
    }

  g_autofree char *model = copy_fixture (g_getenv (DIR_VARIABLE), "model.gguf");
  g_autoptr (GError) error = NULL;

  signal (SIGBUS, SIG_IGN);
  g_autoptr (TernGguf) gguf = tern_gguf_open (model, &error);
  g_assert_no_error (error);
  raise (SIGBUS);
  say ("still here\n");
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/engine/gguf/shrink/read", test_read);
  g_test_add_func ("/engine/gguf/shrink/copy-and-identity", test_copy_and_identity);
  g_test_add_func ("/engine/gguf/shrink/slots", test_slots);
  g_test_add_func ("/engine/gguf/shrink/other-fault-kills", test_other_fault_kills);
  g_test_add_data_func ("/engine/gguf/shrink/chain/siginfo", GINT_TO_POINTER (TRUE), test_chain);
  g_test_add_data_func ("/engine/gguf/shrink/chain/plain", GINT_TO_POINTER (FALSE), test_chain);
  g_test_add_func ("/engine/gguf/shrink/ignored", test_ignored);
  return g_test_run ();
}
