/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

/* Runs tern-cli (the TERN_CLI environment variable) as a script would. */

typedef struct {
  int status;
  char *out;
  char *err;
} RunResult;

static inline void
run_result_clear (RunResult *r)
{
  g_free (r->out);
  g_free (r->err);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (RunResult, run_result_clear)

/* Runs tern-cli with the NULL-terminated arguments, @input on its stdin
 * (none when NULL). */
static inline void
run_cli_input (RunResult *r, const char *input, ...)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_autoptr (GError) error = NULL;
  va_list args;
  const char *arg;
  GSubprocessFlags flags = G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE;

  g_ptr_array_add (argv, (gpointer) g_getenv ("TERN_CLI"));
  va_start (args, input);
  while ((arg = va_arg (args, const char *)))
    g_ptr_array_add (argv, (gpointer) arg);
  va_end (args);
  g_ptr_array_add (argv, NULL);

  if (input)
    flags |= G_SUBPROCESS_FLAGS_STDIN_PIPE;
  g_autoptr (GSubprocess) p = g_subprocess_newv ((const char *const *) argv->pdata, flags, &error);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (p, input, NULL, &r->out, &r->err, &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_if_exited (p));
  r->status = g_subprocess_get_exit_status (p);
  if (r->status != 0)
    g_test_message ("tern-cli exited with %d: %s", r->status, r->err);
}

#define run_cli(r, ...) run_cli_input (r, NULL, __VA_ARGS__)
