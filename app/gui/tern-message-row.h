/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gtk/gtk.h>

#include "tern-list-items.h"

G_BEGIN_DECLS

/* One message of the chat view: who wrote it, its text rendered as
 * Markdown, and its actions (copy, edit and resend, regenerate, the
 * branches beside it). The actions are the window's ("win.copy-message",
 * "win.edit-message", "win.regenerate", "win.previous-branch",
 * "win.next-branch"), with the message id as target. Main thread only. */
#define TERN_TYPE_MESSAGE_ROW (tern_message_row_get_type ())
G_DECLARE_FINAL_TYPE (TernMessageRow, tern_message_row, TERN, MESSAGE_ROW, GtkWidget)

GtkWidget *tern_message_row_new (void);

/* Shows @item, a message of @list (the row keeps references on both and
 * follows their changes until unbound: only the last reply of the list
 * offers to be regenerated). */
void tern_message_row_bind (TernMessageRow *self, TernMessageItem *item, GListModel *list);
void tern_message_row_unbind (TernMessageRow *self);

G_END_DECLS
