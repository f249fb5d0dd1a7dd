/* SPDX-License-Identifier: GPL-3.0-or-later */
/* tern-cli chat --db: keeps the chat in the store. Each user message is
 * committed as it is sent, a reply is checkpointed as it streams and
 * committed when it ends, with a state snapshot after it; a stored
 * conversation resumes from its snapshot, or by evaluating its transcript
 * again when there is none or it does not fit. */
#include "cli.h"

#include <tern/model-library.h>
#include <tern/session.h>
#include <tern/store.h>

struct CliChatStore {
  TernStore *store;
  gint64 conversation_id;
  /* The conversation's head as this chat last read or made it: each
   * message is added only while it is still the head, so that another
   * program writing to the conversation is refused, never interleaved. */
  gint64 head_id;
  gboolean untitled;   /* named after its first message */
  TernModelIdentity identity;
  TernReply *reply;
  CliInterrupt *interrupt; /* Ctrl+C cancels the store's calls */
};

void
cli_chat_store_free (CliChatStore *cs)
{
  if (cs == NULL)
    return;
  g_clear_pointer (&cs->reply, tern_reply_free);
  tern_store_free (cs->store);
  cli_interrupt_free (cs->interrupt);
  g_free (cs);
}

void
cli_chat_store_options_clear (CliChatStoreOptions *o)
{
  g_clear_pointer (&o->db, g_free);
  g_clear_pointer (&o->new_title, g_free);
}

static CliChatStore *
open_store (const CliChatStoreOptions *o, const char *model_path, const TernModel *model,
            const TernSamplerParams *sampling, GError **error)
{
  g_autoptr (CliChatStore) cs = g_new0 (CliChatStore, 1);

  cs->store = cli_store_open (o->db, error);
  if (cs->store == NULL || !tern_model_identity_of_gguf (tern_model_gguf (model), model_path, &cs->identity, error))
    return NULL;
  cs->interrupt = cli_interrupt_new ();
  tern_store_set_cancellable (cs->store, cli_interrupt_cancellable (cs->interrupt));
  gint64 model_id = tern_model_library_note_loaded (cs->store, model_path, error);
  if (model_id == 0)
    return NULL;

  if (o->conversation > 0)
    {
      g_autoptr (TernConversation) c = tern_store_conversation_get (cs->store, o->conversation, error);
      if (c == NULL)
        return NULL;
      /* Another model: the stored token ids and snapshots are not its. */
      if (c->model_id != model_id && !tern_store_conversation_set_model (cs->store, c->id, model_id, error))
        return NULL;
      if (o->new_title && !tern_store_conversation_rename (cs->store, c->id, o->new_title, error))
        return NULL;
      cs->conversation_id = c->id;
      cs->head_id = c->head_id;
      return g_steal_pointer (&cs);
    }
  cs->untitled = o->new_title == NULL;
  cs->conversation_id = tern_store_conversation_new (cs->store, o->new_title ? o->new_title : "New chat", model_id,
                                                     NULL, sampling, error);
  if (cs->conversation_id == 0)
    return NULL;
  g_printerr ("tern-cli chat: conversation %" G_GINT64_FORMAT "\n", cs->conversation_id);
  return g_steal_pointer (&cs);
}

gboolean
cli_chat_store_open (const CliChatStoreOptions *o, const char *model_path, const TernModel *model,
                     const TernSamplerParams *sampling, CliChatStore **cs, GError **error)
{
  *cs = NULL;
  if (o->db == NULL)
    {
      if (o->conversation == 0 && o->new_title == NULL)
        return TRUE;
      g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_INVALID, "--conversation and --new-title need --db");
      return FALSE;
    }
  if (o->conversation < 0)
    {
      g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_INVALID, "--conversation takes a conversation id");
      return FALSE;
    }
  *cs = open_store (o, model_path, model, sampling, error);
  return *cs != NULL;
}

/* Ctrl+C cancels the store call in progress while armed: its error then
 * says CANCELLED. */
static void
arm (CliChatStore *cs, gboolean armed)
{
  if (cs->interrupt)
    cli_interrupt_arm (cs->interrupt, armed);
}

gboolean
cli_chat_store_resume (CliChatStore *cs, TernSession *session, GArray *chat, GError **error)
{
  TernResumeKind kind;
  g_autofree char *why = NULL;

  if (cs == NULL)
    return TRUE;
  g_autoptr (TernConversation) c = tern_store_conversation_get (cs->store, cs->conversation_id, error);
  if (c == NULL)
    return FALSE;
  cs->head_id = c->head_id;
  if (c->head_id == 0)
    return TRUE;
  g_autoptr (GPtrArray) messages = tern_store_conversation_messages (cs->store, c->id, 0, error);
  if (messages == NULL)
    return FALSE;
  for (guint i = 0; i < messages->len; i++)
    {
      const TernMessage *m = messages->pdata[i];
      TernChatMessage cm = { tern_role_name (m->role), g_strdup (m->content) };
      g_array_append_val (chat, cm);
    }

  if (!tern_session_resume (session, cs->store, c, messages, &cs->identity, NULL, NULL, NULL, &kind, &why, error))
    return FALSE;
  gint32 n_past = tern_context_n_past (tern_session_get_context (session));
  if (kind == TERN_RESUME_SNAPSHOT)
    g_printerr ("tern-cli chat: restored conversation %" G_GINT64_FORMAT " from its snapshot (%d tokens)\n", c->id,
                n_past);
  else
    g_printerr ("tern-cli chat: re-ingested conversation %" G_GINT64_FORMAT " (%u messages, %d tokens): %s\n", c->id,
                messages->len, n_past, why);
  return TRUE;
}

gboolean
cli_chat_store_user (CliChatStore *cs, const char *text, GError **error)
{
  if (cs == NULL)
    return TRUE;
  arm (cs, TRUE);
  gint64 id = tern_store_message_add_if_head (cs->store, cs->conversation_id, cs->head_id, TERN_STORE_HEAD,
                                              TERN_ROLE_USER, text, NULL, 0, NULL, error);
  gboolean ok = id != 0;
  if (ok)
    cs->head_id = id;
  if (ok && cs->untitled)
    {
      /* Named after its first message, as a chat list shows it. */
      g_autoptr (GString) title = g_string_new (NULL);
      glong n = 0;
      for (const char *p = text; *p && n < 48; p = g_utf8_next_char (p), n++)
        g_string_append_unichar (title, g_utf8_get_char (p));
      cs->untitled = FALSE;
      ok = tern_store_conversation_rename (cs->store, cs->conversation_id, title->str, error);
    }
  arm (cs, FALSE);
  return ok;
}

gboolean
cli_chat_store_reply_begin (CliChatStore *cs, TernReply **reply, GError **error)
{
  *reply = NULL;
  if (cs == NULL)
    return TRUE;
  g_clear_pointer (&cs->reply, tern_reply_free);
  arm (cs, TRUE);
  cs->reply = tern_store_reply_begin_if_head (cs->store, cs->conversation_id, cs->head_id, TERN_STORE_HEAD, error);
  arm (cs, FALSE);
  if (cs->reply == NULL)
    return FALSE;
  cs->head_id = tern_reply_id (cs->reply);
  *reply = cs->reply;
  return TRUE;
}

gboolean
cli_chat_store_reply_finish (CliChatStore *cs, TernSession *session, const char *text, GArray *tokens,
                             GError **error)
{
  if (cs == NULL || cs->reply == NULL)
    return TRUE;
  gint64 id = tern_reply_id (cs->reply);
  arm (cs, TRUE);
  gboolean ok = tern_session_finish_reply (session, cs->reply, text, tokens, error);
  g_clear_pointer (&cs->reply, tern_reply_free);
  /* The snapshot after the reply: the next start resumes from it. */
  ok = ok && tern_session_save_snapshot (session, cs->store, cs->conversation_id, id, &cs->identity, error) >= 0;
  arm (cs, FALSE);
  return ok;
}
