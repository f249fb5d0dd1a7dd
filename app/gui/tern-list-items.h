/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <tern/store.h>

G_BEGIN_DECLS

/* The objects the window's list models hold: plain copies of what the
 * engine thread sent, made and changed on the main thread only. */

/* A message of the conversation shown. Its "content" grows while the
 * reply streams ("streaming" TRUE), and notifies each change. */
#define TERN_TYPE_MESSAGE_ITEM (tern_message_item_get_type ())
G_DECLARE_FINAL_TYPE (TernMessageItem, tern_message_item, TERN, MESSAGE_ITEM, GObject)

/* A copy of @message's fields (not its engine caches). */
TernMessageItem *tern_message_item_new (const TernMessage *message);
/* Takes the stored state of the same message (content, branches,
 * completeness), notifying what changed; FALSE for another message. */
gboolean tern_message_item_update (TernMessageItem *self, const TernMessage *message);
/* An empty assistant reply, as "reply-started" announces it. */
TernMessageItem *tern_message_item_new_reply (gint64 id, gint64 parent_id);
gint64 tern_message_item_get_id (TernMessageItem *self);
gint64 tern_message_item_get_parent_id (TernMessageItem *self);
TernRole tern_message_item_get_role (TernMessageItem *self);
const char *tern_message_item_get_content (TernMessageItem *self);
void tern_message_item_append (TernMessageItem *self, const char *text);
gboolean tern_message_item_get_complete (TernMessageItem *self);
gboolean tern_message_item_get_streaming (TernMessageItem *self);
/* The reply row shown while the message it answers is read, before the
 * reply starts (id -1, "streaming" and "reading" TRUE). */
TernMessageItem *tern_message_item_new_reading (void);
/* @n_read of the prompt's @n_total tokens are read ("reading" notified). */
void tern_message_item_set_reading (TernMessageItem *self, gint n_read, gint n_total);
/* Whether it is a reading row; @n_read and @n_total (may be NULL): how far. */
gboolean tern_message_item_get_reading (TernMessageItem *self, gint *n_read, gint *n_total);
/* Ends streaming; @incomplete: the reply was cut (stopped, limit), which
 * "stopped" says from then on (the store keeps such a reply complete). */
void tern_message_item_finish (TernMessageItem *self, gboolean incomplete);
gboolean tern_message_item_get_stopped (TernMessageItem *self);
gint tern_message_item_get_n_branches (TernMessageItem *self);
gint tern_message_item_get_branch_index (TernMessageItem *self);
/* The words marked in the message (a search's match), NULL for none;
 * "highlight" notifies a change. */
const char *const *tern_message_item_get_highlight (TernMessageItem *self);
void tern_message_item_set_highlight (TernMessageItem *self, const char *const *terms);

/* A conversation in the sidebar, or a search hit (then "snippet" holds
 * the matching text, with the match between U+E000 and U+E001, and
 * "message-id" the message it is in). */
#define TERN_TYPE_CONVERSATION_ITEM (tern_conversation_item_get_type ())
G_DECLARE_FINAL_TYPE (TernConversationItem, tern_conversation_item, TERN, CONVERSATION_ITEM, GObject)

TernConversationItem *tern_conversation_item_new (const TernConversation *conversation);
TernConversationItem *tern_conversation_item_new_hit (const TernSearchHit *hit);
/* Makes @store (of TernConversationItem) hold an item of each of
 * @conversations (TernConversation), in their order. */
void tern_conversation_items_replace (GListStore *store, GPtrArray *conversations);
gint64 tern_conversation_item_get_id (TernConversationItem *self);
const char *tern_conversation_item_get_title (TernConversationItem *self);
void tern_conversation_item_set_title (TernConversationItem *self, const char *title);
const char *tern_conversation_item_get_snippet (TernConversationItem *self);
gint64 tern_conversation_item_get_message_id (TernConversationItem *self);
gint64 tern_conversation_item_get_updated_at (TernConversationItem *self);
/* The conversation's own fields; NULL for a search hit. */
const TernConversation *tern_conversation_item_get_conversation (TernConversationItem *self);

/* The markers search snippets use around a match. */
#define TERN_SNIPPET_OPEN "\xee\x80\x80"  /* U+E000 */
#define TERN_SNIPPET_CLOSE "\xee\x80\x81" /* U+E001 */

/* A model of the library, for the model menu. Its "label" is what the menu
 * shows: the name with the main tensor type and the size, so that models
 * of one name differ (tern_model_label). */
#define TERN_TYPE_MODEL_ITEM (tern_model_item_get_type ())
G_DECLARE_FINAL_TYPE (TernModelItem, tern_model_item, TERN, MODEL_ITEM, GObject)

TernModelItem *tern_model_item_new (const TernStoreModel *model);
gint64 tern_model_item_get_id (TernModelItem *self);
const char *tern_model_item_get_name (TernModelItem *self);
const char *tern_model_item_get_path (TernModelItem *self);
const char *tern_model_item_get_label (TernModelItem *self);

G_END_DECLS
