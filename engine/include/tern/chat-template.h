/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <tern/gguf.h>
#include <tern/tokenizer.h>

G_BEGIN_DECLS

/* Chat templates: the prompt format a model's authors wrote as a Jinja
 * template in tokenizer.chat_template, rendered as Hugging Face
 * transformers renders it with Python's jinja2 (a sandbox with
 * trim_blocks, lstrip_blocks and loop controls; globals raise_exception,
 * strftime_now, range, namespace; tojson as json.dumps (ensure_ascii=False);
 * undefined values as jinja2's default Undefined). The template sees the
 * variables messages (a list of {"role", "content"} dicts),
 * add_generation_prompt, bos_token and eos_token.
 *
 * The rendered prompt remembers which of its bytes came from message
 * contents: tern_chat_prompt_tokenize() matches special tokens ("<s>",
 * "<|im_start|>") only in the text the template itself wrote, so a user
 * who types "<|im_start|>" gets those characters, not the token.
 *
 * Errors: a template that does not parse is a FORMAT error; one that
 * uses a tag, filter, test or method Tern does not implement is
 * UNSUPPORTED. Rendering fails with FORMAT for errors jinja2 raises too
 * (an undefined value used, a type error) and UNSUPPORTED when the
 * template calls raise_exception() (it refuses the conversation, e.g.
 * "System role not supported") or passes a cap below. Their messages say
 * "chat template line N: ...".
 *
 * Caps, so that no template can hang, exhaust memory or overflow the stack
 * (real templates stay far below them):
 * TERN_CHAT_TEMPLATE_MAX_STEPS loop iterations and macro calls per render,
 * TERN_CHAT_TEMPLATE_MAX_WORK units of work per render (a byte scanned,
 * copied or compared, an expression evaluated, 32 for an item of a list
 * or dict gone through: what makes a render slow when steps are few; 16
 * times the output cap, under a second),
 * TERN_CHAT_TEMPLATE_MAX_DEPTH nested macro calls,
 * TERN_CHAT_TEMPLATE_MAX_NESTING nested expressions and blocks in the
 * source, TERN_CHAT_TEMPLATE_MAX_OUTPUT bytes of output (and of any
 * string built), TERN_CHAT_TEMPLATE_MAX_MEMORY bytes allocated by one
 * render, and range() of at most 100000 items as in jinja2's sandbox.
 *
 * A TernChatTemplate is immutable once made: any thread may render it. */

#define TERN_CHAT_TEMPLATE_MAX_STEPS 1000000
#define TERN_CHAT_TEMPLATE_MAX_WORK (G_GUINT64_CONSTANT (256) << 20)
#define TERN_CHAT_TEMPLATE_MAX_DEPTH 50
#define TERN_CHAT_TEMPLATE_MAX_NESTING 100
#define TERN_CHAT_TEMPLATE_MAX_OUTPUT (16 << 20)
#define TERN_CHAT_TEMPLATE_MAX_MEMORY (256 << 20)

/* The fallback for models without a template: ChatML, the format of
 * Qwen, Hermes and many fine-tunes:
 *   <|im_start|>ROLE\nCONTENT<|im_end|>\n ... <|im_start|>assistant\n */
#define TERN_CHAT_TEMPLATE_CHATML                                                                          \
  "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + "       \
  "'<|im_end|>' + '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"

typedef struct TernChatTemplate TernChatTemplate;

typedef struct {
  const char *role;    /* "system", "user", "assistant"... */
  const char *content; /* UTF-8 */
} TernChatMessage;

/* Compiles the template @source (@len bytes, or NUL-terminated when -1)
 * with the given bos_token and eos_token texts (NULL: empty). */
TernChatTemplate *tern_chat_template_new (const char *source, gssize len, const char *bos_token,
                                          const char *eos_token, GError **error);

/* The template of the model file @gguf (tokenizer.chat_template), with
 * bos_token and eos_token the texts of the BOS and EOS tokens of its
 * tokenizer @tokenizer (empty when it has none). A model without a template
 * gets TERN_CHAT_TEMPLATE_CHATML, and tern_chat_template_is_fallback() says
 * so; a template that does not compile is an error. */
TernChatTemplate *tern_chat_template_new_from_gguf (const TernGguf *gguf, const TernTokenizer *tokenizer,
                                                    GError **error);
void tern_chat_template_free (TernChatTemplate *tmpl);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TernChatTemplate, tern_chat_template_free)

/* TRUE when the template is the ChatML fallback for a model without one. */
gboolean tern_chat_template_is_fallback (const TernChatTemplate *tmpl);

typedef struct {
  gboolean add_generation_prompt; /* end with the start of the assistant's turn */
  GDateTime *now;                 /* the time strftime_now() reads; NULL: the current local time */
  GCancellable *cancellable;      /* checked as the render works: CANCELLED; NULL: none */
} TernChatRenderOptions;

/* add_generation_prompt TRUE, the current time. */
void tern_chat_render_options_init (TernChatRenderOptions *options);

/* A rendered prompt: its text, cut into segments written by the template
 * and segments copied from message contents. */
typedef struct TernChatPrompt TernChatPrompt;

/* Renders @n_messages messages (valid UTF-8; @options NULL for the
 * defaults). Errors as described at the top. */
TernChatPrompt *tern_chat_template_render (const TernChatTemplate *tmpl, const TernChatMessage *messages,
                                           gsize n_messages, const TernChatRenderOptions *options,
                                           GError **error);
void tern_chat_prompt_free (TernChatPrompt *prompt);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TernChatPrompt, tern_chat_prompt_free)

/* The whole text, NUL-terminated; @len (may be NULL) gets its length. */
const char *tern_chat_prompt_text (const TernChatPrompt *prompt, gsize *len);

/* The segments in order, covering the text: segment @i is @len bytes at
 * @start, from a message's content when @is_user. Empty segments do not
 * occur; adjacent segments differ in @is_user. */
gsize tern_chat_prompt_n_segments (const TernChatPrompt *prompt);
void tern_chat_prompt_segment (const TernChatPrompt *prompt, gsize i, gsize *start, gsize *len,
                               gboolean *is_user);

/* Appends the tokens of @prompt to @out (a GArray of TernToken): control
 * tokens written by the template are matched as special tokens, user text
 * never is; the rest is tokenized as tern_tokenizer_encode() does, so a
 * prompt without special token text in its user segments gives the same
 * tokens as encoding its text with TERN_TOKENIZE_PARSE_SPECIAL. With
 * @add_bos, the tokenizer's BOS is put first when the model asks for one
 * (add_bos) and the template did not already write it. On error @out is
 * left as it was. */
gboolean tern_chat_prompt_tokenize (const TernChatPrompt *prompt, const TernTokenizer *tokenizer,
                                    gboolean add_bos, GArray *out, GError **error);

G_END_DECLS
