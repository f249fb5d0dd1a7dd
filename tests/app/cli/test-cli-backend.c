/* SPDX-License-Identifier: GPL-3.0-or-later */
/* tern-cli devices, and --backend on every command that computes (generate,
 * chat, logits, perplexity, bench), driven as scripts drive them. What
 * devices says of the CPU is checked against what the system says
 * (/proc/meminfo, /proc/cpuinfo), not against the engine's own calls. */
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <string.h>

#include "cli-run.h"

static char *
data_path (const char *dir, const char *file)
{
  return g_test_build_filename (G_TEST_DIST, "data", dir, file, NULL);
}

/* The "MemTotal" of /proc/meminfo in bytes. */
static guint64
mem_total (void)
{
  g_autofree char *info = NULL;
  guint64 kib = 0;

  g_assert_true (g_file_get_contents ("/proc/meminfo", &info, NULL, NULL));
  const char *line = strstr (info, "MemTotal:");
  g_assert_nonnull (line);
  g_assert_cmpint (sscanf (line, "MemTotal: %" G_GUINT64_FORMAT " kB", &kib), ==, 1);
  return kib * 1024;
}

/* The words of the first "flags" line of /proc/cpuinfo, or NULL. */
static GStrv
cpu_flags (void)
{
  g_autofree char *info = NULL;

  g_assert_true (g_file_get_contents ("/proc/cpuinfo", &info, NULL, NULL));
  g_auto (GStrv) lines = g_strsplit (info, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    if (g_str_has_prefix (lines[i], "flags") && strchr (lines[i], ':') != NULL)
      return g_strsplit (g_strstrip (strchr (lines[i], ':') + 1), " ", -1);
  return NULL;
}

static void
test_devices_text (void)
{
  g_auto (RunResult) r = { 0 };
  g_auto (RunResult) help = { 0 };
  g_auto (RunResult) bad = { 0 };

  run_cli (&r, "devices", NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_auto (GStrv) lines = g_strsplit (r.out, "\n", -1);
  g_assert_cmpstr (lines[0], ==, "cpu");
  const char *keys[] = { "description", "kind", "backend", "memory", "kernels", "kernel-levels",
                         "instruction-sets", "threads", "logical-cpus" };
  for (guint i = 0; i < G_N_ELEMENTS (keys); i++)
    {
      g_autofree char *start = g_strdup_printf ("  %s ", keys[i]);
      g_assert_nonnull (lines[i + 1]);
      g_assert_true (g_str_has_prefix (lines[i + 1], start));
    }
  g_assert_nonnull (strstr (r.out, "\n  kind               cpu\n"));

  run_cli (&help, "devices", "--help", NULL);
  g_assert_cmpint (help.status, ==, 0);
  g_assert_nonnull (strstr (help.out, "--json"));
  run_cli (&bad, "devices", "extra", NULL);
  g_assert_cmpint (bad.status, ==, 1);
}

static void
test_devices_json (void)
{
  g_auto (RunResult) r = { 0 };
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;

  run_cli (&r, "devices", "--json", NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_true (json_parser_load_from_data (parser, r.out, -1, &error));
  JsonArray *devices = json_node_get_array (json_parser_get_root (parser));
  g_assert_cmpuint (json_array_get_length (devices), >=, 1);
  JsonObject *cpu = json_array_get_object_element (devices, 0);
  g_assert_cmpstr (json_object_get_string_member (cpu, "name"), ==, "cpu");
  g_assert_cmpstr (json_object_get_string_member (cpu, "kind"), ==, "cpu");
  g_assert_cmpstr (json_object_get_string_member (cpu, "backend"), ==, "cpu");
  g_assert_cmpstr (json_object_get_string_member (cpu, "description"), !=, "");
  g_assert_cmpuint (json_object_get_int_member (cpu, "memory"), ==, mem_total ());

  JsonObject *features = json_object_get_object_member (cpu, "features");
  g_auto (GStrv) levels = g_strsplit (json_object_get_string_member (features, "kernel-levels"), " ", -1);
  g_assert_cmpstr (levels[0], ==, "scalar");
  /* The kernels run are the best level there is. */
  g_assert_cmpstr (json_object_get_string_member (features, "kernels"), ==, levels[g_strv_length (levels) - 1]);
  g_autofree char *logical = g_strdup_printf ("%u", g_get_num_processors ());
  g_assert_cmpstr (json_object_get_string_member (features, "logical-cpus"), ==, logical);
  guint64 threads;
  g_assert_true (g_ascii_string_to_unsigned (json_object_get_string_member (features, "threads"), 10, 1,
                                             g_get_num_processors (), &threads, NULL));

  /* Each instruction set Tern names is one the kernel lists, and the other
   * way round. */
  g_auto (GStrv) flags = cpu_flags ();
  if (flags == NULL)
    {
      g_test_message ("no flags in /proc/cpuinfo: instruction sets not checked");
      return;
    }
  g_auto (GStrv) sets = g_strsplit (json_object_get_string_member (features, "instruction-sets"), " ", -1);
  const struct { const char *set, *flag; } names[] = {
    { "sse3", "pni" },   { "ssse3", "ssse3" },     { "sse4.1", "sse4_1" },     { "sse4.2", "sse4_2" },
    { "avx", "avx" },    { "avx2", "avx2" },       { "fma", "fma" },           { "f16c", "f16c" },
    { "avx512f", "avx512f" }, { "avx512bw", "avx512bw" }, { "avx512dq", "avx512dq" },
    { "avx512vl", "avx512vl" }, { "avx512vnni", "avx512_vnni" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_test_message ("%s", names[i].set);
      g_assert_cmpint (g_strv_contains ((const char *const *) sets, names[i].set), ==,
                       g_strv_contains ((const char *const *) flags, names[i].flag));
    }
}

/* Runs tern-cli with @args, and then with --backend @backend added. */
static void
run_with_backend (RunResult *r, const char *backend, const char *input, const char *const *args)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_autoptr (GError) error = NULL;
  GSubprocessFlags flags = G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE;

  g_ptr_array_add (argv, (gpointer) g_getenv ("TERN_CLI"));
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  if (backend != NULL)
    {
      g_ptr_array_add (argv, "--backend");
      g_ptr_array_add (argv, (gpointer) backend);
    }
  g_ptr_array_add (argv, NULL);
  if (input != NULL)
    flags |= G_SUBPROCESS_FLAGS_STDIN_PIPE;
  g_autoptr (GSubprocess) p = g_subprocess_newv ((const char *const *) argv->pdata, flags, &error);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (p, input, NULL, &r->out, &r->err, &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_if_exited (p));
  r->status = g_subprocess_get_exit_status (p);
}

static GBytes *
read_file (const char *path)
{
  char *contents;
  gsize len;

  g_assert_true (g_file_get_contents (path, &contents, &len, NULL));
  g_assert_cmpuint (len, >, 0);
  return g_bytes_new_take (contents, len);
}

/* --backend cpu computes what no --backend does; an unknown name is a
 * usage error naming the backends there are, before the model is read. */
static void
test_backend_option (void)
{
  g_autofree char *model = data_path ("models", "kjv-tiny-q8_0.gguf");
  g_autofree char *text = data_path ("text", "prompt_logits.txt");
  g_autofree char *dir = g_dir_make_tmp ("tern-cli-backend-XXXXXX", NULL);
  g_autofree char *out = g_build_filename (dir, "logits.f32", NULL);
  struct {
    const char *input;
    const char *args[16];
  } commands[] = {
    { NULL, { "generate", model, "--prompt", "And God said", "--temp", "0", "-n", "8", "--ids", NULL } },
    { "Hello\n", { "chat", model, "--seed", "3", "-n", "8", NULL } },
    { NULL, { "logits", model, "--file", text, "--out", out, NULL } },
    { NULL, { "perplexity", model, "--file", text, "--ctx", "32", NULL } },
    { NULL, { "bench", model, "-p", "8", "-n", "2", "-r", "1", "--json", NULL } },
  };

  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    {
      const char *command = commands[i].args[0];
      g_auto (RunResult) plain = { 0 };
      g_auto (RunResult) cpu = { 0 };
      g_auto (RunResult) unknown = { 0 };
      g_auto (RunResult) help = { 0 };
      g_autoptr (GBytes) plain_logits = NULL;

      g_test_message ("%s", command);
      run_with_backend (&plain, NULL, commands[i].input, commands[i].args);
      g_assert_cmpint (plain.status, ==, 0);
      if (g_str_equal (command, "logits"))
        plain_logits = read_file (out);
      run_with_backend (&cpu, "cpu", commands[i].input, commands[i].args);
      g_assert_cmpint (cpu.status, ==, 0);
      if (g_str_equal (command, "logits"))
        {
          g_autoptr (GBytes) cpu_logits = read_file (out);
          g_assert_true (g_bytes_equal (cpu_logits, plain_logits));
        }
      else if (g_str_equal (command, "bench"))
        {
          g_autoptr (JsonParser) parser = json_parser_new ();
          g_assert_true (json_parser_load_from_data (parser, cpu.out, -1, NULL));
          JsonObject *o = json_node_get_object (json_parser_get_root (parser));
          g_assert_true (g_str_has_prefix (json_object_get_string_member (o, "backend"), "cpu ("));
        }
      else
        g_assert_cmpstr (cpu.out, ==, plain.out);

      run_with_backend (&unknown, "nosuch", commands[i].input, commands[i].args);
      g_assert_cmpint (unknown.status, ==, 1);
      g_assert_cmpstr (unknown.out, ==, "");
      g_assert_nonnull (strstr (unknown.err, "unknown backend 'nosuch' (the backends are: cpu"));

      run_cli (&help, command, "--help", NULL);
      g_assert_nonnull (strstr (help.out, "--backend=NAME"));
    }
  g_remove (out);
  g_rmdir (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/cli/devices/text", test_devices_text);
  g_test_add_func ("/cli/devices/json", test_devices_json);
  g_test_add_func ("/cli/backend/option", test_backend_option);
  return g_test_run ();
}
