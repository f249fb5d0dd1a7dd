/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

/* TernMarkdownView: a chat message's Markdown, shown as a column of
 * widgets: wrapped selectable labels for text, framed monospace code
 * blocks with their language and a copy button, tables as a grid of
 * selectable labels (the header row bold, each column aligned as its
 * delimiter row says, scrolling sideways when wide), and separators for rules
 * (see tern-markdown.h for what the text becomes).
 *
 * Made for streaming: setting a longer text re-parses it but keeps the
 * widgets of the blocks that did not change and updates the others in
 * place, so a reply growing token by token touches only its end. Setting
 * the text it already has does nothing.
 *
 * Keyboard: Tab moves through the copy buttons and the labels that hold
 * links; a label without links takes focus only when clicked (to copy a
 * selection with Ctrl+C).
 *
 * Property: "text" (string, never NULL when read), notified on change.
 *
 * Threads: the main thread only, as all of GTK. */

#define TERN_TYPE_MARKDOWN_VIEW (tern_markdown_view_get_type ())
G_DECLARE_FINAL_TYPE (TernMarkdownView, tern_markdown_view, TERN, MARKDOWN_VIEW, GtkWidget)

/* A new view with no text. */
GtkWidget *tern_markdown_view_new (void);

/* Shows @text (Markdown, UTF-8; NULL is taken as ""). The view copies it. */
void tern_markdown_view_set_text (TernMarkdownView *self, const char *text);

/* The text shown, owned by the view, valid until the next set_text. */
const char *tern_markdown_view_get_text (TernMarkdownView *self);

/* Highlights every occurrence of the words in @terms (NULL-terminated,
 * matched without regard to case) in the text, code and table cells, also
 * in text set later; NULL or no words clears the highlight. The view copies
 * what it needs. */
void tern_markdown_view_set_highlight (TernMarkdownView *self, const char *const *terms);

G_END_DECLS
