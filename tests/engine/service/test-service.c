/* SPDX-License-Identifier: GPL-3.0-or-later */
/* TernService: the engine thread driven from a main loop, on the fixture
 * model, as the application drives it. */
#include <glib/gstdio.h>
#include <string.h>
#include <tern/service.h>
#include <unistd.h>

#include "model-variant.h"
#include "strict-template.h"
#include "test-data.h"
#include "token-gate.h"

#include "service-fixture.h"

/* The greedy reply to @text as tern-cli generate --chat makes it, straight
 * from the context API: the prompt with the chat template, then sample,
 * evaluate, until an end-of-generation token or @max tokens. */
static GArray *
reference_reply (const char *model_path, const char *text, gint max)
{
  g_autoptr (GError) error = NULL;
  TernContextParams params;
  TernSamplerParams greedy;
  TernChatMessage message = { "user", text };

  g_autoptr (TernModel) model = tern_model_load (model_path, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  const TernTokenizer *tok = tern_model_tokenizer (model);
  tern_context_params_init (&params);
  params.n_ctx = N_CTX;
  params.n_threads = 2;
  g_autoptr (TernContext) ctx = tern_context_new (model, &params, &error);
  g_assert_no_error (error);
  g_autoptr (TernChatTemplate) tmpl = tern_chat_template_new_from_gguf (tern_model_gguf (model), tern_model_tokenizer (model), &error);
  g_assert_no_error (error);
  g_autoptr (TernChatPrompt) prompt = tern_chat_template_render (tmpl, &message, 1, NULL, &error);
  g_assert_no_error (error);
  g_autoptr (GArray) tokens = g_array_new (FALSE, FALSE, sizeof (TernToken));
  tern_chat_prompt_tokenize (prompt, tok, TRUE, tokens, &error);
  g_assert_no_error (error);
  tern_context_decode (ctx, (TernToken *) tokens->data, (gint32) tokens->len, FALSE, NULL, NULL, NULL, &error);
  g_assert_no_error (error);

  tern_sampler_params_init (&greedy);
  greedy.temperature = 0;
  g_autoptr (TernSampler) sampler = tern_sampler_new (&greedy, tern_tokenizer_n_vocab (tok));
  GArray *reply = g_array_new (FALSE, FALSE, sizeof (TernToken));
  for (gint i = 0; i < max; i++)
    {
      TernToken t = tern_sampler_sample (sampler, tern_context_last_logits (ctx));
      if (tern_tokenizer_is_eog (tok, t))
        break;
      g_array_append_val (reply, t);
      tern_context_decode (ctx, &t, 1, FALSE, NULL, NULL, NULL, &error);
      g_assert_no_error (error);
    }
  return reply;
}

static void
assert_tokens_equal (GArray *a, GArray *b)
{
  g_assert_nonnull (a);
  g_assert_nonnull (b);
  g_assert_cmpmem (a->data, a->len * sizeof (TernToken), b->data, b->len * sizeof (TernToken));
}

static void
test_generate (void)
{
  g_auto (Fixture) f = { 0 };
  g_autoptr (GError) error = NULL;
  const char *text = "Who created the heaven and the earth?";

  fixture_init (&f);
  TernService *service = service_new (&f, f.db);
  load (&f, service);
  gint64 conversation = new_conversation (&f, service);
  g_assert_cmpint (open_conversation (&f, service, conversation), ==, TERN_RESUME_EMPTY);

  gint64 reply = send (&f, service, text, 24);
  g_assert_cmpint (f.n_finished, ==, 1);
  g_assert_cmpint (f.started_id, ==, reply);
  /* generating went TRUE, then FALSE (or not at all, when the main loop
   * only woke after the reply: properties show the latest state). */
  g_assert_cmpuint (f.n_notify_generating % 2, ==, 0);
  g_assert_false (tern_service_get_generating (service));
  g_assert_cmpint (tern_service_get_context_used (service), >, 0);

  g_autoptr (GPtrArray) list = messages (&f, service, conversation);
  g_assert_cmpuint (list->len, ==, 2);
  TernMessage *user = list->pdata[0], *m = list->pdata[1];
  g_assert_cmpint (user->role, ==, TERN_ROLE_USER);
  g_assert_cmpstr (user->content, ==, text);
  g_assert_cmpint (f.started_parent, ==, user->id);
  g_assert_cmpint (m->id, ==, reply);
  g_assert_cmpint (m->role, ==, TERN_ROLE_ASSISTANT);
  g_assert_true (m->complete);
  /* The deltas are the stored text; the tokens those of the context API. */
  g_assert_cmpstr (f.deltas->str, ==, m->content);
  g_assert_cmpuint (f.n_deltas, >=, 1);
  g_autoptr (GArray) expected = reference_reply (f.model, text, 24);
  g_assert_cmpuint (expected->len, >, 0);
  assert_tokens_equal (m->tokens, expected);
  g_assert_cmpint (m->n_tokens, ==, expected->len);
  g_assert_cmpint (f.finished_incomplete, ==, expected->len == 24);

  /* Regenerate: a second reply beside the first, to the same message. */
  tern_service_regenerate (service, 8, NULL, got_result, &f);
  gint64 again = tern_service_regenerate_finish (service, await (&f), &error);
  g_assert_no_error (error);
  g_assert_cmpint (again, >, reply);
  g_assert_cmpint (f.started_parent, ==, user->id);
  g_autoptr (TernMessage) head = last_message (&f, service, conversation);
  g_assert_cmpint (head->id, ==, again);
  g_assert_cmpint (head->parent_id, ==, user->id);
  g_assert_cmpstr (head->content, ==, f.deltas->str);

  g_assert_null (f.error);
  release (&f);
  g_assert_finalize_object (service);
}

/* Edit and resend makes a branch beside the edited message; switching
 * branches shows the other one and brings the context there, the same
 * as a fresh open of that branch would. */
static void
test_branches (void)
{
  g_auto (Fixture) f = { 0 };
  g_autoptr (GError) error = NULL;

  fixture_init (&f);
  TernService *service = service_new (&f, f.db);
  load (&f, service);
  gint64 conversation = new_conversation (&f, service);
  open_conversation (&f, service, conversation);
  send (&f, service, "Who created the heaven?", 6);
  send (&f, service, "And the earth?", 6);
  g_autoptr (GPtrArray) before = messages (&f, service, conversation);
  g_assert_cmpuint (before->len, ==, 4);
  TernMessage *second = before->pdata[2];

  tern_service_edit_message (service, second->id, "And the waters?", 6, NULL, got_result, &f);
  gint64 reply = tern_service_edit_message_finish (service, await (&f), &error);
  g_assert_no_error (error);
  g_autoptr (GPtrArray) edited = messages (&f, service, conversation);
  g_assert_cmpuint (edited->len, ==, 4);
  TernMessage *new_user = edited->pdata[2];
  g_assert_cmpstr (new_user->content, ==, "And the waters?");
  g_assert_cmpint (new_user->parent_id, ==, second->parent_id);
  g_assert_cmpint (new_user->n_branches, ==, 2);
  g_assert_cmpint (new_user->branch_index, ==, 1);
  g_assert_cmpint (((TernMessage *) edited->pdata[3])->id, ==, reply);
  g_assert_cmpint (((TernMessage *) edited->pdata[0])->n_branches, ==, 1);

  /* Back to the first branch: its reply is shown again, from its snapshot. */
  tern_service_switch_branch (service, new_user->id, -1, NULL, got_result, &f);
  int kind = tern_service_switch_branch_finish (service, await (&f), &error);
  g_assert_no_error (error);
  g_assert_cmpint (kind, ==, TERN_RESUME_SNAPSHOT);
  g_autoptr (GPtrArray) back = messages (&f, service, conversation);
  g_assert_cmpuint (back->len, ==, 4);
  g_assert_cmpint (((TernMessage *) back->pdata[2])->id, ==, second->id);
  g_assert_cmpint (((TernMessage *) back->pdata[2])->branch_index, ==, 0);
  g_assert_cmpint (((TernMessage *) back->pdata[3])->id, ==, ((TernMessage *) before->pdata[3])->id);

  /* Only user messages of the open conversation can be edited. */
  tern_service_edit_message (service, ((TernMessage *) back->pdata[3])->id, "no", 6, NULL, got_result, &f);
  g_assert_cmpint (tern_service_edit_message_finish (service, await (&f), &error), ==, 0);
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_INVALID);
  g_clear_error (&error);
  tern_service_switch_branch (service, 999999, 0, NULL, got_result, &f);
  g_assert_cmpint (tern_service_switch_branch_finish (service, await (&f), &error), ==, -1);
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_INVALID);
  g_clear_error (&error);
  tern_service_switch_branch (service, second->id, -1, NULL, got_result, &f);
  g_assert_cmpint (tern_service_switch_branch_finish (service, await (&f), &error), ==, -1);
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_INVALID);
  g_clear_error (&error);

  /* The reply limit is kept with the conversation. */
  tern_service_set_max_tokens (service, conversation, 77, NULL, got_result, &f);
  g_assert_true (tern_service_set_max_tokens_finish (service, await (&f), &error));
  g_assert_no_error (error);
  tern_service_set_max_tokens (service, conversation, -1, NULL, got_result, &f);
  g_assert_false (tern_service_set_max_tokens_finish (service, await (&f), &error));
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_INVALID);
  g_clear_error (&error);
  tern_service_list_conversations (service, FALSE, 0, -1, NULL, got_result, &f);
  g_autoptr (GPtrArray) list = tern_service_list_conversations_finish (service, await (&f), &error);
  g_assert_no_error (error);
  g_assert_cmpint (((TernConversation *) list->pdata[0])->max_tokens, ==, 77);

  g_assert_null (f.error);
  release (&f);
  g_assert_finalize_object (service);
}

/* A stop requested after token k of a reply leaves exactly k tokens: the
 * engine thread is held at that token (the service's test hook) while the
 * stop is requested, as when the user presses Stop having seen it. */
static void
test_stop (void)
{
  g_auto (Fixture) f = { 0 };
  const guint stop_at[] = { 1, 5, 12 };
  g_autoptr (GError) error = NULL;

  fixture_init (&f);
  TernService *service = service_new (&f, f.db);
  load (&f, service);

  /* Each in a conversation of its own: the same greedy reply, longer than
   * any of the stops. */
  gint64 conversation = 0;
  for (gsize i = 0; i < G_N_ELEMENTS (stop_at); i++)
    {
      TokenGate gate;

      conversation = new_conversation (&f, service);
      open_conversation (&f, service, conversation);

      token_gate_install (&gate, service, stop_at[i]);
      tern_service_send_message (service, "Tell me of the flood.", 180, NULL, got_result, &f);
      token_gate_wait (&gate, TIMEOUT_S);
      tern_service_stop (service);
      token_gate_release (&gate);
      gint64 id = tern_service_send_message_finish (service, await (&f), &error);
      g_assert_no_error (error);
      token_gate_remove (&gate, service);

      g_assert_cmpint (id, ==, f.finished_id);
      g_assert_true (f.finished_incomplete);
      g_autoptr (TernMessage) m = last_message (&f, service, conversation);
      g_assert_cmpint (m->id, ==, id);
      g_assert_cmpint (m->n_tokens, ==, stop_at[i]);
      g_assert_cmpuint (tern_service_get_reply_n_tokens (service), ==, stop_at[i]);
      g_assert_cmpstr (m->content, ==, f.deltas->str);
    }

  /* A stop does not reach replies requested after it. */
  send (&f, service, "And then?", 6);
  g_autoptr (TernMessage) next = last_message (&f, service, conversation);
  g_assert_cmpint (next->n_tokens, >, 0);
  release (&f);
  g_assert_finalize_object (service);
}

static void
test_shutdown (void)
{
  g_auto (Fixture) f = { 0 };
  g_autoptr (GError) error = NULL;

  fixture_init (&f);
  TernService *service = service_new (&f, f.db);
  load (&f, service);
  gint64 conversation = new_conversation (&f, service);
  open_conversation (&f, service, conversation);

  /* Quit while a reply streams: shut down from the first delta. */
  f.shutdown_on_delta = TRUE;
  tern_service_send_message (service, "Tell me of the flood.", 180, NULL, got_result, &f);
  gint64 reply = tern_service_send_message_finish (service, await (&f), &error);
  g_assert_no_error (error);
  g_assert_cmpint (reply, >, 0);
  g_assert_cmpint (f.n_finished, ==, 1);
  g_assert_true (f.finished_incomplete);

  /* Requests after it fail, they do not hang. */
  tern_service_list_conversations (service, FALSE, 0, -1, NULL, got_result, &f);
  g_assert_null (tern_service_list_conversations_finish (service, await (&f), &error));
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_CANCELLED);
  g_clear_error (&error);
  g_autofree char *text = g_strdup (f.deltas->str);
  release (&f);
  g_assert_finalize_object (service);

  /* The partial reply is stored whole, with the state after it. */
  g_autoptr (TernStore) store = tern_store_open (f.db, &error);
  g_assert_no_error (error);
  g_autoptr (TernMessage) m = tern_store_message_get (store, reply, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (m->content, ==, text);
  g_assert_cmpint (m->n_tokens, >, 0);
  g_assert_cmpint (m->n_tokens, <, 180);
  g_assert_cmpint (m->tokens->len, ==, m->n_tokens);
  g_assert_nonnull (m->sampler_state);
  g_assert_cmpint (tern_store_snapshot_find (store, conversation, reply, &error), >, 0);
  g_assert_no_error (error);
}

static void
test_resume (void)
{
  g_auto (Fixture) f = { 0 };
  g_autoptr (GError) error = NULL;

  fixture_init (&f);
  TernService *service = service_new (&f, f.db);
  load (&f, service);
  gint64 a = new_conversation (&f, service);
  open_conversation (&f, service, a);
  send (&f, service, "In the beginning", 16);
  /* A copy has the messages but not the snapshot. */
  tern_service_duplicate_conversation (service, a, NULL, got_result, &f);
  gint64 b = tern_service_duplicate_conversation_finish (service, await (&f), &error);
  g_assert_no_error (error);
  release (&f);
  g_assert_finalize_object (service);

  /* A new process, as it were: the original resumes from its snapshot,
   * the copy by evaluating its transcript, to the same state. */
  service = service_new (&f, f.db);
  load (&f, service);
  g_assert_cmpint (open_conversation (&f, service, a), ==, TERN_RESUME_SNAPSHOT);
  gint used_a = tern_service_get_context_used (service);
  g_assert_cmpint (used_a, >, 0);
  send (&f, service, "And God said", 16);
  g_autoptr (TernMessage) next_a = last_message (&f, service, a);

  f.n_progress = 0;
  g_assert_cmpint (open_conversation (&f, service, b), ==, TERN_RESUME_REINGEST);
  g_assert_cmpuint (f.n_progress, >, 0);
  g_assert_cmpint (f.progress_phase, ==, TERN_SERVICE_PHASE_INGEST);
  g_assert_cmpint (tern_service_get_context_used (service), ==, used_a);
  send (&f, service, "And God said", 16);
  g_autoptr (TernMessage) next_b = last_message (&f, service, b);
  assert_tokens_equal (next_a->tokens, next_b->tokens);
  g_assert_cmpstr (next_a->content, ==, next_b->content);

  g_assert_null (f.error);
  release (&f);
  g_assert_finalize_object (service);
}

/* A conversation whose roles do not alternate (a reply lost to a crash
 * left two user messages in a row) and whose last reply is too long to
 * keep is still answered: trimming goes by whole turns. */
static void
test_unanswered (void)
{
  g_auto (Fixture) f = { 0 };
  g_autoptr (GError) error = NULL;
  g_autoptr (GString) long_reply = g_string_new (NULL);

  fixture_init (&f);
  TernService *service = service_new (&f, f.db);
  load (&f, service);
  gint64 conversation = new_conversation (&f, service);
  for (guint i = 0; i < 40; i++)
    g_string_append (long_reply, "In the beginning God created the heaven and the earth. ");
  {
    g_autoptr (TernStore) store = tern_store_open (f.db, &error);
    g_assert_no_error (error);
    tern_store_message_add (store, conversation, TERN_STORE_HEAD, TERN_ROLE_USER, "Hello", NULL, 0, NULL, &error);
    tern_store_message_add (store, conversation, TERN_STORE_HEAD, TERN_ROLE_USER, "Are you there?", NULL, 0, NULL,
                            &error);
    tern_store_message_add (store, conversation, TERN_STORE_HEAD, TERN_ROLE_ASSISTANT, long_reply->str, NULL, 0,
                            NULL, &error);
    g_assert_no_error (error);
  }
  open_conversation (&f, service, conversation);

  gint64 reply = send (&f, service, "And then?", 4);
  g_autoptr (TernMessage) m = last_message (&f, service, conversation);
  g_assert_cmpint (m->id, ==, reply);
  g_assert_cmpint (m->n_tokens, >, 0);
  g_assert_null (f.error);
  release (&f);
  g_assert_finalize_object (service);
}

/* A model whose template demands alternating roles still answers a
 * conversation with two user messages in a row (a reply lost to a crash):
 * the turns it refuses are left out, and the user is told. */
static void
test_notice (void)
{
  g_auto (Fixture) f = { 0 };
  g_autoptr (GError) error = NULL;

  fixture_init (&f);
  g_autofree char *strict = model_variant_write_template (f.dir, f.model, STRICT_TEMPLATE);
  g_free (f.model);
  f.model = g_steal_pointer (&strict);
  TernService *service = service_new (&f, f.db);
  load (&f, service);
  gint64 conversation = new_conversation (&f, service);
  {
    g_autoptr (TernStore) store = tern_store_open (f.db, &error);
    g_assert_no_error (error);
    tern_store_message_add (store, conversation, TERN_STORE_HEAD, TERN_ROLE_USER, "Hello", NULL, 0, NULL, &error);
    tern_store_message_add (store, conversation, TERN_STORE_HEAD, TERN_ROLE_ASSISTANT, "Hail.", NULL, 0, NULL,
                            &error);
    tern_store_message_add (store, conversation, TERN_STORE_HEAD, TERN_ROLE_USER, "Lost reply", NULL, 0, NULL, &error);
    g_assert_no_error (error);
  }
  open_conversation (&f, service, conversation);

  gint64 reply = send (&f, service, "Who made the light?", 4);
  g_assert_cmpint (reply, >, 0);
  g_assert_nonnull (f.notice);
  g_assert_nonnull (strstr (f.notice, "3 earlier messages are left out"));
  g_assert_null (f.error);
  release (&f);
  g_assert_finalize_object (service);
}

/* The model file cut to half while the model is loaded (the issue's
 * SIGBUS): the next message gets no reply but an IO error, and is kept;
 * the service unloads the model, says so, and the library finds the file
 * changed. */
static void
test_model_damaged (void)
{
  g_auto (Fixture) f = { 0 };
  g_autoptr (GError) error = NULL;
  g_autofree char *contents = NULL;
  gsize len;

  fixture_init (&f);
  g_assert_true (g_file_get_contents (f.model, &contents, &len, NULL));
  g_free (f.model);
  f.model = g_build_filename (f.dir, "model.gguf", NULL);
  g_assert_true (g_file_set_contents (f.model, contents, len, NULL));
  TernService *service = service_new (&f, f.db);
  gint64 model_id = load (&f, service);
  gint64 conversation = new_conversation (&f, service);
  open_conversation (&f, service, conversation);
  send (&f, service, "Who made the light?", 4);

  g_assert_cmpint (truncate (f.model, len / 2), ==, 0);
  tern_service_send_message (service, "And then?", 4, NULL, got_result, &f);
  g_assert_cmpint (tern_service_send_message_finish (service, await (&f), &error), ==, 0);
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_IO);
  g_assert_nonnull (strstr (error->message, "the model file model.gguf changed on disk while in use"));
  g_assert_cmpint (f.damaged_id, ==, model_id);
  g_assert_cmpstr (f.damaged_error->message, ==, error->message);
  g_assert_false (tern_service_get_model_loaded (service));
  g_assert_cmpint (tern_service_get_model_id (service), ==, 0);
  g_clear_error (&error);

  g_autoptr (TernMessage) last = last_message (&f, service, conversation);
  g_assert_cmpint (last->role, ==, TERN_ROLE_USER);
  g_assert_cmpstr (last->content, ==, "And then?");
  tern_service_check_model (service, model_id, NULL, got_result, &f);
  g_assert_cmpint (tern_service_check_model_finish (service, await (&f), &error), ==, TERN_MODEL_CHANGED);
  g_assert_no_error (error);
  g_assert_null (f.error);
  release (&f);
  g_assert_finalize_object (service);
}

static void
test_store_errors (void)
{
  g_auto (Fixture) f = { 0 };
  g_autoptr (GError) error = NULL;

  fixture_init (&f);
  /* A database file that is not one. */
  g_autofree char *junk = g_strnfill (8192, 'x');
  g_file_set_contents (f.db, junk, -1, &error);
  g_assert_no_error (error);
  TernService *service = service_new (&f, f.db);

  tern_service_list_conversations (service, FALSE, 0, -1, NULL, got_result, &f);
  g_assert_null (tern_service_list_conversations_finish (service, await (&f), &error));
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_FORMAT);
  g_clear_error (&error);
  /* Reported as it happened, too. */
  g_assert_error (f.error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_FORMAT);

  tern_service_load_model (service, f.model, NULL, got_result, &f);
  g_assert_cmpint (tern_service_load_model_finish (service, await (&f), &error), ==, 0);
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_FORMAT);
  g_clear_error (&error);
  release (&f);
  g_assert_finalize_object (service);

  /* A good store refuses unknown ids. */
  g_unlink (f.db);
  service = service_new (&f, f.db);
  tern_service_rename_conversation (service, 999, "Nothing", NULL, got_result, &f);
  g_assert_false (tern_service_rename_conversation_finish (service, await (&f), &error));
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_INVALID);
  g_clear_error (&error);
  load (&f, service);
  tern_service_open_conversation (service, 999, NULL, got_result, &f);
  g_assert_cmpint (tern_service_open_conversation_finish (service, await (&f), &error), ==, -1);
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_INVALID);
  g_clear_error (&error);
  release (&f);
  g_assert_finalize_object (service);
}

static void
test_store (void)
{
  g_auto (Fixture) f = { 0 };
  g_autoptr (GError) error = NULL;

  fixture_init (&f);
  TernService *service = service_new (&f, f.db);
  load (&f, service);
  gint64 id = new_conversation (&f, service);
  open_conversation (&f, service, id);
  send (&f, service, "Noah built an ark", 4);

  tern_service_rename_conversation (service, id, "The ark", NULL, got_result, &f);
  g_assert_true (tern_service_rename_conversation_finish (service, await (&f), &error));
  g_assert_no_error (error);

  tern_service_search (service, "ark", "[", "]", 10, NULL, got_result, &f);
  g_autoptr (GPtrArray) hits = tern_service_search_finish (service, await (&f), &error);
  g_assert_no_error (error);
  g_assert_cmpuint (hits->len, >=, 1);
  TernSearchHit *hit = hits->pdata[0];
  g_assert_cmpint (hit->conversation_id, ==, id);
  g_assert_cmpstr (hit->title, ==, "The ark");
  g_assert_nonnull (strstr (hit->snippet, "[ark]"));

  /* Delete closes it; restore brings it back to the list. */
  tern_service_delete_conversation (service, id, NULL, got_result, &f);
  g_assert_true (tern_service_delete_conversation_finish (service, await (&f), &error));
  g_assert_no_error (error);
  g_assert_cmpint (tern_service_get_conversation_id (service), ==, 0);
  tern_service_list_conversations (service, FALSE, 0, -1, NULL, got_result, &f);
  g_autoptr (GPtrArray) none = tern_service_list_conversations_finish (service, await (&f), &error);
  g_assert_no_error (error);
  g_assert_cmpuint (none->len, ==, 0);
  tern_service_restore_conversation (service, id, NULL, got_result, &f);
  g_assert_true (tern_service_restore_conversation_finish (service, await (&f), &error));
  g_assert_no_error (error);
  tern_service_list_conversations (service, FALSE, 0, -1, NULL, got_result, &f);
  g_autoptr (GPtrArray) one = tern_service_list_conversations_finish (service, await (&f), &error);
  g_assert_no_error (error);
  g_assert_cmpuint (one->len, ==, 1);
  g_assert_cmpstr (((TernConversation *) one->pdata[0])->title, ==, "The ark");

  /* Settings are checked. */
  TernSamplerParams bad;
  tern_sampler_params_init (&bad);
  bad.top_p = 2;
  tern_service_set_sampling (service, id, &bad, NULL, got_result, &f);
  g_assert_false (tern_service_set_sampling_finish (service, await (&f), &error));
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_INVALID);
  g_clear_error (&error);

  /* The library: remove keeps the file. */
  gint64 model = tern_service_get_model_id (service);
  tern_service_remove_model (service, model, NULL, got_result, &f);
  g_assert_true (tern_service_remove_model_finish (service, await (&f), &error));
  g_assert_no_error (error);
  g_assert_true (g_file_test (f.model, G_FILE_TEST_EXISTS));
  tern_service_add_model (service, f.model, NULL, got_result, &f);
  g_assert_cmpint (tern_service_add_model_finish (service, await (&f), &error), >, 0);
  g_assert_no_error (error);

  g_assert_null (f.error);
  release (&f);
  g_assert_finalize_object (service);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/service/generate", test_generate);
  g_test_add_func ("/service/branches", test_branches);
  g_test_add_func ("/service/stop", test_stop);
  g_test_add_func ("/service/shutdown", test_shutdown);
  g_test_add_func ("/service/resume", test_resume);
  g_test_add_func ("/service/unanswered", test_unanswered);
  g_test_add_func ("/service/notice", test_notice);
  g_test_add_func ("/service/model-damaged", test_model_damaged);
  g_test_add_func ("/service/store-errors", test_store_errors);
  g_test_add_func ("/service/store", test_store);
  return g_test_run ();
}
