/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <tern/service.h>

G_BEGIN_DECLS

/* Hooks that let tests place a request at an exact point of the engine
 * thread's work. They exist only in the service's test build
 * (tern_engine_testing_dep, compiled with TERN_SERVICE_TESTING); the
 * service that ships has none, and programs that call them fail to link. */

/* Called on the engine thread after each token of a reply is streamed
 * (its text emitted and checkpointed), before the next one is sampled:
 * @n_tokens is how many the reply has. The engine thread waits for it to
 * return, so a hook that blocks holds the reply at that token. */
typedef void (*TernServiceTokenHook) (TernService *service, guint n_tokens, gpointer user_data);

/* Sets the token hook (NULL: none). Owner thread, while no reply streams;
 * @user_data must outlive the hook. */
void tern_service_testing_set_token_hook (TernService *self, TernServiceTokenHook hook, gpointer user_data);

/* Called on the engine thread at each progress report of a request (a
 * layer of a model loaded, a batch of a prompt), after the "progress" event
 * is queued, before the work goes on. */
typedef void (*TernServiceProgressHook) (TernService *service, TernServicePhase phase, double fraction,
                                         gpointer user_data);

/* Sets the progress hook (NULL: none). Owner thread, while no request
 * runs; @user_data must outlive the hook. */
void tern_service_testing_set_progress_hook (TernService *self, TernServiceProgressHook hook, gpointer user_data);

G_END_DECLS
