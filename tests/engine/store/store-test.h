/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/* What the store tests and their helper program share: paths, and the
 * one way of generating tokens that every run (straight, resumed,
 * re-ingested) follows, so their tokens can be compared. */

#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>
#include <tern/context.h>
#include <tern/error.h>
#include <tern/sampler.h>

#include "test-data.h"

static inline char *
store_test_model_path (const char *name)
{
  g_autofree char *file = g_strconcat (name, ".gguf", NULL);
  return g_test_build_filename (G_TEST_DIST, "data", "models", file, NULL);
}

/* The prompt every generation starts from. */
#define STORE_TEST_PROMPT "In the beginning God created the heaven and the earth. And the earth was"

static inline void
store_test_sampling (TernSamplerParams *p, gboolean greedy)
{
  tern_sampler_params_init (p);
  if (greedy)
    p->temperature = 0;
  p->seed = 1234;
}

/* Generates @n tokens into @out: sample from the last logits, accept,
 * evaluate (shifting the context first when it is full). The state after
 * it holds every token it made. */
static inline gboolean
store_test_generate (TernContext *ctx, TernSampler *sampler, gint32 n, TernToken *out, GError **error)
{
  for (gint32 i = 0; i < n; i++)
    {
      TernToken t = tern_sampler_sample (sampler, tern_context_last_logits (ctx));
      tern_sampler_accept (sampler, t);
      out[i] = t;
      if (tern_context_n_past (ctx) == tern_context_n_ctx (ctx))
        tern_context_shift (ctx, 1);
      if (!tern_context_decode (ctx, &t, 1, FALSE, NULL, NULL, NULL, error))
        return FALSE;
    }
  return TRUE;
}

/* Evaluates the prompt (with BOS) in one batch; its tokens go to @tokens. */
static inline gboolean
store_test_prompt (TernContext *ctx, TernSampler *sampler, GArray *tokens, GError **error)
{
  const TernTokenizer *tok = tern_model_tokenizer (tern_context_model (ctx));

  if (!tern_tokenizer_encode (tok, STORE_TEST_PROMPT, -1, TERN_TOKENIZE_ADD_SPECIAL, tokens, error) ||
      !tern_context_decode (ctx, (TernToken *) tokens->data, (gint32) tokens->len, FALSE, NULL, NULL, NULL, error))
    return FALSE;
  for (guint i = 0; i < tokens->len; i++)
    tern_sampler_accept (sampler, g_array_index (tokens, TernToken, i));
  return TRUE;
}
