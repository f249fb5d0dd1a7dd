/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Time to render a 100-message conversation with the largest chat
 * template of tests/data/chat-templates.json, and to compile it.
 * Usage: bench-template [chat-templates.json] */
#include <tern/chat-template.h>

#include <json-glib/json-glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_MESSAGES 100

static int
compare_doubles (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return x < y ? -1 : x > y;
}

/* Runs @fn for about half a second and prints the best and the median time
 * per call: the best shows the cost itself, the median what a busy machine
 * adds. */
static void
run (const char *name, void (*fn) (gpointer), gpointer data)
{
  g_autoptr (GArray) times = g_array_new (FALSE, FALSE, sizeof (double));
  gint64 end = g_get_monotonic_time () + 500000;

  fn (data);
  while (g_get_monotonic_time () < end || times->len < 20)
    {
      gint64 start = g_get_monotonic_time ();
      fn (data);
      double us = (double) (g_get_monotonic_time () - start);
      g_array_append_val (times, us);
    }
  qsort (times->data, times->len, sizeof (double), compare_doubles);
  printf ("%-28s best %8.1f µs   median %8.1f µs   (%u runs)\n", name, g_array_index (times, double, 0),
          g_array_index (times, double, times->len / 2), times->len);
}

typedef struct {
  const char *source;
  TernChatTemplate *tmpl;
  TernChatMessage messages[N_MESSAGES];
} Bench;

static void
render_once (gpointer data)
{
  Bench *b = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (TernChatPrompt) prompt = tern_chat_template_render (b->tmpl, b->messages, N_MESSAGES, NULL, &error);

  if (prompt == NULL)
    g_error ("render failed: %s", error->message);
}

static void
compile_once (gpointer data)
{
  Bench *b = data;
  tern_chat_template_free (tern_chat_template_new (b->source, -1, "<s>", "</s>", NULL));
}

int
main (int argc, char **argv)
{
  const char *path = argc > 1 ? argv[1] : "tests/data/chat-templates.json";
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) contents = g_ptr_array_new_with_free_func (g_free);
  const char *name = NULL;
  Bench b = { 0 };

  if (!json_parser_load_from_file (parser, path, &error))
    {
      fprintf (stderr, "bench-template: %s\n", error->message);
      return 1;
    }
  JsonArray *templates = json_node_get_array (json_parser_get_root (parser));
  for (guint i = 0; i < json_array_get_length (templates); i++)
    {
      JsonObject *t = json_array_get_object_element (templates, i);
      const char *source = json_object_get_string_member (t, "template");
      if (b.source == NULL || strlen (source) > strlen (b.source))
        {
          b.source = source;
          name = json_object_get_string_member (t, "name");
        }
    }

  /* A system message, then users and assistants taking turns with
   * messages of a few sentences. */
  for (guint i = 0; i < N_MESSAGES; i++)
    {
      char *text = g_strdup_printf ("Message %u. This is a sentence of a conversation, long enough to be "
                                    "ordinary, with some \"quotes\" and a newline.\nThe end of message %u.",
                                    i, i);
      g_ptr_array_add (contents, text);
      b.messages[i].role = i == 0 ? "system" : i % 2 ? "user" : "assistant";
      b.messages[i].content = text;
    }
  b.tmpl = tern_chat_template_new (b.source, -1, "<s>", "</s>", &error);
  if (b.tmpl == NULL)
    {
      fprintf (stderr, "bench-template: %s\n", error->message);
      return 1;
    }
  g_autoptr (TernChatPrompt) prompt = tern_chat_template_render (b.tmpl, b.messages, N_MESSAGES, NULL, &error);
  if (prompt == NULL)
    {
      fprintf (stderr, "bench-template: %s\n", error->message);
      return 1;
    }
  gsize len;
  tern_chat_prompt_text (prompt, &len);
  printf ("largest template: %s (%zu bytes); %d messages give %zu bytes of prompt\n", name, strlen (b.source),
          N_MESSAGES, len);
  run ("render 100 messages", render_once, &b);
  run ("compile the template", compile_once, &b);
  tern_chat_template_free (b.tmpl);
  return 0;
}
