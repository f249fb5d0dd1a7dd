/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/* What the parts of TernWindow share: tern-window.c (the window, status
 * and errors), tern-window-conversations.c (the sidebar: conversations,
 * search, rename, duplicate, delete), tern-window-models.c (the model menu
 * and the library), tern-window-chat.c (the chat: messages, the composer
 * and the message actions) and tern-window-reply.c (sending, reading,
 * streaming). Tests read the fields too. */

#include <glib/gi18n.h>

#include "tern-list-items.h"
#include "tern-window.h"

G_BEGIN_DECLS

struct _TernWindow {
  AdwApplicationWindow parent_instance;

  /* Template children. */
  AdwToastOverlay *toasts;
  AdwLeaflet *leaflet;
  GtkWidget *sidebar;
  GtkWidget *content;
  GtkSearchEntry *search_entry;
  GtkStack *sidebar_stack;
  GtkListView *conversation_list;
  GtkListView *result_list;
  GtkDropDown *model_dropdown;
  GtkLabel *status_label;
  GtkToggleButton *library_button;
  GtkRevealer *banner;
  GtkLabel *banner_label;
  GtkRevealer *progress;
  GtkLabel *progress_label;
  GtkProgressBar *progress_bar;
  GtkStack *main_stack;
  AdwStatusPage *chat_empty;
  GtkWidget *demo_hints;
  GtkButton *example_button;
  GtkScrolledWindow *message_scroller;
  GtkListView *message_list;
  GtkRevealer *edit_bar;
  GtkTextView *composer;
  GtkWidget *composer_placeholder;
  GtkButton *send_button;
  GtkWidget *demo_button;
  GtkWidget *library_page;
  GtkRevealer *composer_note;     /* why nothing can be sent: no model */
  GtkButton *banner_remove_button; /* removes the model whose file is gone */
  AdwWindowTitle *chat_title;
  AdwStatusPage *welcome;

  TernService *service;
  GSettings *settings;
  GCancellable *cancellable;     /* cancelled when the window goes */
  GListStore *conversations;     /* TernConversationItem, newest first */
  GListStore *results;           /* TernConversationItem, search hits */
  GListStore *messages;          /* TernMessageItem, the branch shown */
  GPtrArray *fill;               /* TernMessageItem still to show, oldest first */
  guint fill_source;
  GListStore *models;            /* TernModelItem */
  GtkSingleSelection *conversation_selection;

  gint64 conversation_id;        /* the conversation shown; 0: a new chat, not stored yet */
  gboolean opening;              /* a conversation is being opened: sending waits */
  gboolean busy;                 /* a reply was requested and is not finished */
  gint64 editing_id;             /* the user message being edited; 0: none */
  char *pending_text;            /* the message sent, until its reply starts */
  char *unsent;                  /* a message whose sending failed, until the reload says whether it was stored
                                  * (when not, it goes back to the composer) */
  char *damage;                  /* why the conversation shown cannot be read; NULL: it can */
  gint64 pending_edit_id;        /* the message it replaces, for an edit */
  TernMessageItem *reply;        /* the reply streaming, or NULL */
  gboolean follow;               /* keep the end of the chat in view */
  guint scroll_tick;             /* a scroll to the end queued for the next frame */
  double tokens_per_second;      /* of the last reply; 0: none yet */
  TernMessageItem *reading;      /* the reply's row while the message is read, or NULL */
  double reading_rate;           /* tokens/s of that reading; 0: none */
  gboolean left_reply;           /* the reply in flight was stopped for another conversation */
  char *resume_note;             /* how the conversation was opened */
  gboolean syncing_models;       /* the model menu is being set from code */
  guint search_serial;           /* the latest search asked for */
  gint64 model_pending;          /* a model being loaded for the conversation shown */
  gboolean selecting;            /* the sidebar's selection is being set from code */
  gboolean reopened;             /* the conversation open at the last start was looked for */
  GListStore *trash;             /* TernConversationItem, the trash, newest first */
  GtkToggleButton *trash_button;
  GtkListBox *trash_list;
  GtkWidget *empty_trash_button;
  gboolean draft_set;            /* settings were chosen for the new chat before its first message: */
  char *draft_system_prompt;
  TernSamplerParams draft_sampling;
  gint draft_max_tokens;
  char *read_only_note;          /* the banner of a database opened read-only; NULL: it can be written */
  GPtrArray *load_fallbacks;     /* paths to try, in turn, while the model loaded at start fails; NULL: none */
  char *load_failure;            /* why the first model tried at start failed, until one loads */
  gint64 missing_model_id;       /* the library model whose file is gone, for the banner's Remove */
  gint64 reveal_id;              /* a message to bring into view once shown (a search result); 0: none */
  GStrv reveal_terms;            /* the words to mark in it */
  guint reveal_tick;             /* a scroll to it queued for the next frame */
  TernMessageItem *highlighted;  /* the message whose words are marked, or NULL */
  guint highlight_timeout;       /* unmarks them */
};

/* tern-window.c */
/* Shows @error as a toast ("@what: message"). */
void tern_window_toast_error (TernWindow *self, const char *what, const GError *error);
void tern_window_toast (TernWindow *self, const char *text);
/* Shows @toast (taken), its buttons named for screen readers. */
void tern_window_add_toast (TernWindow *self, AdwToast *toast);
/* Shows @text in the banner above the chat (NULL: hides it). */
void tern_window_show_banner (TernWindow *self, const char *text);
void tern_window_hide_progress (TernWindow *self);
void tern_window_update_status (TernWindow *self);
/* TRUE when @error is a cancellation. */
gboolean tern_window_cancelled (const GError *error);
/* TRUE once the window is being destroyed: answers that arrive then (the
 * requests hold a reference on it) are dropped. */
gboolean tern_window_gone (TernWindow *self);

/* tern-window-conversations.c */
/* Adds the sidebar's actions and sets up its lists. */
void tern_window_conversations_init (TernWindow *self);
/* Binds the sidebar's template callbacks. */
void tern_window_conversations_class_init (GtkWidgetClass *widget_class);
/* Reads the conversation list again (after a change). */
void tern_window_reload_conversations (TernWindow *self);
/* The sidebar item of conversation @id, or NULL (not a new reference). */
TernConversationItem *tern_window_find_conversation (TernWindow *self, gint64 id);
/* Makes @id (0: a new chat, not stored yet) the conversation shown: the
 * one place that sets conversation_id, so that the sidebar's selection
 * and the one reopened at the next start always follow it. Opens
 * nothing. */
void tern_window_set_conversation (TernWindow *self, gint64 id);
/* The settings the new chat shown gets when its first message stores it:
 * those chosen in its settings dialog, or else the defaults. Fills
 * @system_prompt (g_free) and @sampling and @max_tokens. */
void tern_window_new_chat_settings (TernWindow *self, char **system_prompt, TernSamplerParams *sampling,
                                    gint *max_tokens);
/* Opens conversation @id in the chat view, loading its model first when
 * another is loaded. */
void tern_window_open_conversation (TernWindow *self, gint64 id);
/* Opens conversation @id again on the model loaded now (the user chose it). */
void tern_window_continue_conversation (TernWindow *self, gint64 id);

/* tern-window-trash.c */
/* Adds the Trash button and view to the sidebar, and its actions, and
 * empties what is older than the trash-days setting. */
void tern_window_trash_init (TernWindow *self);
/* Reads the trash again (after a delete or restore). */
void tern_window_reload_trash (TernWindow *self);

/* tern-window-models.c */
/* Adds the model actions, sets up the model menu and the library page. */
void tern_window_models_init (TernWindow *self);
/* Reads the model list again; @first: the list read when the window
 * opens, which loads a model to chat with when none is loaded. */
void tern_window_reload_models (TernWindow *self, gboolean first);
/* Loads the model at @path, reporting failures in the window. */
void tern_window_load_model (TernWindow *self, const char *path);
/* Shows, near the composer and on the send button, why nothing can be
 * sent while no model is loaded. */
void tern_window_models_update_composer (TernWindow *self);
/* The library item of model @id and, when @position is not NULL, its
 * place in the model menu; NULL when not in the library (not a new
 * reference). */
TernModelItem *tern_window_find_model (TernWindow *self, gint64 id, guint *position);

/* tern-window-chat.c */
void tern_window_chat_init (TernWindow *self);
void tern_window_chat_dispose (TernWindow *self);
/* Shows conversation @id's messages as stored (0: an empty new chat). */
void tern_window_chat_reload (TernWindow *self);
/* Whether a message can be sent now; updates the send button and actions. */
void tern_window_chat_update_actions (TernWindow *self);
/* Shows what an empty chat says: a welcome on first start, and what the
 * demo model can do while it is the one loaded. */
void tern_window_chat_update_empty (TernWindow *self);
/* The message at @i of the list shown (a new reference); the position of
 * message @id in it, or -1; the list cut to @n messages; the messages
 * still waiting to be shown, shown at once. */
TernMessageItem *tern_window_chat_message_at (TernWindow *self, guint i);
gint tern_window_chat_find_message (TernWindow *self, gint64 id);
void tern_window_chat_truncate (TernWindow *self, guint n);
void tern_window_chat_fill_flush (TernWindow *self);

/* tern-window-reply.c */
void tern_window_reply_init (TernWindow *self);
/* Sends @text (or the message being edited) and shows its reply. */
void tern_window_reply_send (TernWindow *self, const char *text);
void tern_window_reply_regenerate (TernWindow *self);
/* The message @text shown at once, with the reply's reading row, before
 * it is sent (a new chat is stored first); dropped when it cannot be. */
void tern_window_reply_show_pending (TernWindow *self, const char *text);
void tern_window_reply_drop_pending (TernWindow *self);
/* Before another conversation is shown: a reply in flight is stopped
 * (the engine stores what was written) and no longer shown. */
void tern_window_reply_leave (TernWindow *self);

/* tern-window-layout.c */
/* Sets up the chat's title for narrow windows and the welcome's text
 * (@have_demo: the demo model is installed). */
void tern_window_layout_init (TernWindow *self, gboolean have_demo);

/* tern-window-reveal.c */
void tern_window_reveal_init (TernWindow *self);
void tern_window_reveal_dispose (TernWindow *self);
/* Opens conversation @conversation_id and, once message @message_id is
 * shown, scrolls the chat to it and marks the words @snippet marks between
 * TERN_SNIPPET_OPEN and TERN_SNIPPET_CLOSE, until the user types or a few
 * seconds pass. */
void tern_window_open_at_message (TernWindow *self, gint64 conversation_id, gint64 message_id, const char *snippet);

G_END_DECLS
