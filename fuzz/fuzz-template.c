/* SPDX-License-Identifier: GPL-3.0-or-later */
/* libFuzzer target: the chat template lexer, parser and renderer on
 * arbitrary template text, rendered over a small conversation. Every
 * input must give a prompt or a clean error, within the caps. */
#include <tern/chat-template.h>

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

static const TernChatMessage messages[] = {
  { "system", "You are a helpful assistant" },
  { "user", "Hello <|im_start|> </s> {{ x }}" },
  { "assistant", "Hi there" },
  { "user", "Who are you?\n" },
};

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
  static GDateTime *now;
  TernChatRenderOptions options;
  TernChatTemplate *tmpl;

  if (now == NULL)
    {
      GTimeZone *utc = g_time_zone_new_utc ();
      now = g_date_time_new (utc, 2024, 7, 26, 12, 0, 0);
      g_time_zone_unref (utc);
    }
  tmpl = tern_chat_template_new ((const char *) data, (gssize) size, "<s>", "</s>", NULL);
  if (tmpl == NULL)
    return 0;
  tern_chat_render_options_init (&options);
  options.now = now;
  for (int add = 0; add < 2; add++)
    {
      options.add_generation_prompt = add;
      TernChatPrompt *prompt = tern_chat_template_render (tmpl, messages, G_N_ELEMENTS (messages), &options, NULL);
      if (prompt)
        {
          gsize len, covered = 0;
          tern_chat_prompt_text (prompt, &len);
          for (gsize i = 0; i < tern_chat_prompt_n_segments (prompt); i++)
            {
              gsize start, n;
              gboolean is_user;
              tern_chat_prompt_segment (prompt, i, &start, &n, &is_user);
              g_assert (start == covered && n > 0);
              covered += n;
            }
          g_assert (covered == len);
        }
      tern_chat_prompt_free (prompt);
    }
  tern_chat_template_free (tmpl);
  return 0;
}
