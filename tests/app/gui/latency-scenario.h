/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "main-loop-probe.h"

G_BEGIN_DECLS

/* The two moments the window must stay responsive in, measured with a
 * MainLoopProbe on the real application: a reply of @reply_tokens tokens
 * streaming in (@streaming), and a transcript of @n_exchanges exchanges
 * evaluated again on opening, with no snapshot to resume from (@ingest).
 * @model is the GGUF file to chat with, @n_ctx the context size.
 * *@max_rows_added (may be NULL) gets the most messages the chat view
 * took in one change while the transcript opened. */
void latency_scenario_run (const char *model, gint n_ctx, gint reply_tokens, guint n_exchanges,
                           MainLoopProbe *streaming, MainLoopProbe *ingest, guint *max_rows_added);

G_END_DECLS
