/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The other process of the store tests:
 *
 *   store-helper save DB MODEL N_CTX greedy|seeded N
 *     a new conversation: the test prompt as a user message, N generated
 *     tokens as the reply (with their tokens and sampler state), and a
 *     snapshot after it; prints the conversation id, then the tokens.
 *   store-helper resume DB MODEL N_CTX CONVERSATION M
 *     restores the snapshot at the conversation's head and generates M
 *     more tokens; prints them.
 *   store-helper stream DB MODEL
 *     streams replies into the database until killed, printing "R" once it
 *     has opened the database and the model, then "M id" once message id
 *     is committed complete and "S id" once snapshot id is.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <tern/snapshot.h>
#include <tern/store.h>

#include "store-test.h"

static int
fail (const GError *error)
{
  fprintf (stderr, "store-helper: %s\n", error->message);
  return 1;
}

static void
print_tokens (const TernToken *tokens, gint32 n)
{
  for (gint32 i = 0; i < n; i++)
    printf (i ? " %d" : "%d", tokens[i]);
  printf ("\n");
}

typedef struct {
  TernModel *model;
  TernContext *ctx;
  TernModelIdentity identity;
} Engine;

static void
engine_clear (Engine *e)
{
  g_clear_pointer (&e->ctx, tern_context_free);
  g_clear_pointer (&e->model, tern_model_free);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Engine, engine_clear)

static gboolean
engine_open (Engine *e, const char *path, gint32 n_ctx, GError **error)
{
  TernContextParams params;

  e->model = tern_model_load (path, NULL, NULL, NULL, error);
  if (e->model == NULL || !tern_model_identity_of_gguf (tern_model_gguf (e->model), path, &e->identity, error))
    return FALSE;
  tern_context_params_init (&params);
  params.n_ctx = n_ctx;
  params.n_threads = 1;
  e->ctx = tern_context_new (e->model, &params, error);
  return e->ctx != NULL;
}

static int
save (const char *db, const char *model, gint32 n_ctx, gboolean greedy, gint32 n)
{
  g_autoptr (GError) error = NULL;
  g_auto (Engine) e = { 0 };
  TernSamplerParams params;
  g_autoptr (GArray) prompt = g_array_new (FALSE, FALSE, sizeof (TernToken));
  g_autofree TernToken *out = g_new (TernToken, MAX (n, 1));

  g_autoptr (TernStore) store = tern_store_open (db, &error);
  if (store == NULL || !engine_open (&e, model, n_ctx, &error))
    return fail (error);
  store_test_sampling (&params, greedy);
  g_autoptr (TernSampler) sampler = tern_sampler_new (&params, tern_model_hparams (e.model)->n_vocab);
  if (!store_test_prompt (e.ctx, sampler, prompt, &error) || !store_test_generate (e.ctx, sampler, n, out, &error))
    return fail (error);

  g_autoptr (GByteArray) state = g_byte_array_new ();
  tern_sampler_save (sampler, state);
  g_autoptr (GBytes) sampler_state = g_byte_array_free_to_bytes (g_steal_pointer (&state));
  gint64 c = tern_store_conversation_new (store, "round trip", 0, NULL, &params, &error);
  gint64 q = c ? tern_store_message_add (store, c, TERN_STORE_HEAD, TERN_ROLE_USER, STORE_TEST_PROMPT,
                                         (TernToken *) prompt->data, (gint32) prompt->len, NULL, &error)
               : 0;
  gint64 r = q ? tern_store_message_add (store, c, q, TERN_ROLE_ASSISTANT, "(tokens)", out, n, sampler_state, &error)
               : 0;
  if (r == 0 || tern_snapshot_save_to_store (store, c, r, e.ctx, sampler, &e.identity, &error) <= 0)
    return fail (error);
  printf ("%" G_GINT64_FORMAT "\n", c);
  print_tokens (out, n);
  return 0;
}

static int
resume (const char *db, const char *model, gint32 n_ctx, gint64 c, gint32 m)
{
  g_autoptr (GError) error = NULL;
  g_auto (Engine) e = { 0 };
  g_autofree TernToken *out = g_new (TernToken, MAX (m, 1));

  g_autoptr (TernStore) store = tern_store_open (db, &error);
  if (store == NULL || !engine_open (&e, model, n_ctx, &error))
    return fail (error);
  g_autoptr (TernConversation) conv = tern_store_conversation_get (store, c, &error);
  if (conv == NULL)
    return fail (error);
  gint64 snap = tern_store_snapshot_find (store, c, conv->head_id, &error);
  if (snap <= 0)
    {
      fprintf (stderr, "store-helper: no snapshot\n");
      return 1;
    }
  g_autoptr (TernSampler) sampler = tern_snapshot_restore_from_store (store, snap, e.ctx, &e.identity, &error);
  if (sampler == NULL || !store_test_generate (e.ctx, sampler, m, out, &error))
    return fail (error);
  print_tokens (out, m);
  return 0;
}

/* Streams replies until killed: a user message, then a reply checkpointed
 * as it grows, finished; every few replies a snapshot. */
static int
stream (const char *db, const char *model)
{
  g_autoptr (GError) error = NULL;
  g_auto (Engine) e = { 0 };
  TernSamplerParams params;
  g_autoptr (GArray) prompt = g_array_new (FALSE, FALSE, sizeof (TernToken));

  g_autoptr (TernStore) store = tern_store_open (db, &error);
  if (store == NULL || !engine_open (&e, model, 128, &error))
    return fail (error);
  store_test_sampling (&params, TRUE);
  g_autoptr (TernSampler) sampler = tern_sampler_new (&params, tern_model_hparams (e.model)->n_vocab);
  if (!store_test_prompt (e.ctx, sampler, prompt, &error))
    return fail (error);
  gint64 c = tern_store_conversation_new (store, "stream", 0, NULL, NULL, &error);
  if (c == 0)
    return fail (error);
  printf ("R\n");
  fflush (stdout);

  for (guint turn = 0;; turn++)
    {
      g_autofree char *question = g_strdup_printf ("Question %u from process %d", turn, (int) getpid ());
      gint64 q = tern_store_message_add (store, c, TERN_STORE_HEAD, TERN_ROLE_USER, question, NULL, 0, NULL, &error);
      if (q == 0)
        return fail (error);
      printf ("M %" G_GINT64_FORMAT "\n", q);
      fflush (stdout);

      g_autoptr (TernReply) reply = tern_store_reply_begin (store, c, q, &error);
      g_autoptr (GString) text = g_string_new (NULL);
      TernToken tokens[200];
      if (reply == NULL)
        return fail (error);
      for (gint32 i = 0; i < 200; i++)
        {
          tokens[i] = i;
          g_string_append_printf (text, "word%d ", i);
          if (!tern_reply_update (reply, text->str, tokens, i + 1, &error))
            return fail (error);
          g_usleep (50);
        }
      if (!tern_reply_finish (reply, text->str, tokens, 200, NULL, &error))
        return fail (error);
      printf ("M %" G_GINT64_FORMAT "\n", tern_reply_id (reply));
      fflush (stdout);

      if (turn % 3 == 0)
        {
          gint64 s = tern_snapshot_save_to_store (store, c, tern_reply_id (reply), e.ctx, sampler, &e.identity, &error);
          if (s < 0)
            return fail (error);
          printf ("S %" G_GINT64_FORMAT "\n", s);
          fflush (stdout);
        }
    }
}

int
main (int argc, char **argv)
{
  if (argc == 7 && g_str_equal (argv[1], "save"))
    return save (argv[2], argv[3], atoi (argv[4]), g_str_equal (argv[5], "greedy"), atoi (argv[6]));
  if (argc == 7 && g_str_equal (argv[1], "resume"))
    return resume (argv[2], argv[3], atoi (argv[4]), g_ascii_strtoll (argv[5], NULL, 10), atoi (argv[6]));
  if (argc == 4 && g_str_equal (argv[1], "stream"))
    return stream (argv[2], argv[3]);
  fprintf (stderr, "usage: store-helper save|resume|stream ...\n");
  return 2;
}
