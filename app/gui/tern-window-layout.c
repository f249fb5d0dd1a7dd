/* SPDX-License-Identifier: GPL-3.0-or-later */
/* What the window shows around the chat that depends on its width and on
 * what is installed: folded (a narrow window), the chat's header shows a
 * title, the conversation's and its model's names, where the model menu
 * and status line have no room; the welcome offers the demo model only
 * when there is one. */
#include "tern-window-private.h"

static void
update_chat_title (TernWindow *self)
{
  gboolean folded = adw_leaflet_get_folded (self->leaflet);
  TernConversationItem *item = tern_window_find_conversation (self, self->conversation_id);
  TernModelItem *model = gtk_drop_down_get_selected_item (self->model_dropdown);
  const char *title = item != NULL ? tern_conversation_item_get_title (item) : NULL;

  if (title == NULL || title[0] == '\0')
    title = _("New Chat");
  adw_window_title_set_title (self->chat_title, title);
  adw_window_title_set_subtitle (self->chat_title, model != NULL && tern_service_get_model_loaded (self->service)
                                                       ? tern_model_item_get_name (model)
                                                       : _("No model loaded"));
  gtk_widget_set_visible (GTK_WIDGET (self->chat_title), folded);
  gtk_widget_set_visible (GTK_WIDGET (self->model_dropdown), !folded);
  gtk_widget_set_visible (GTK_WIDGET (self->status_label), !folded);
}

void
tern_window_layout_init (TernWindow *self, gboolean have_demo)
{
  /* Only what exists is offered. */
  if (!have_demo)
    adw_status_page_set_description (
        self->welcome,
        _("Chat with language models on this computer, offline. Tern needs a model file in the GGUF format: add "
          "one you downloaded. GGUF models are published on model hubs such as Hugging Face (search for “GGUF”); "
          "a 1–8 billion parameter model in Q4_K_M runs well on most computers."));

  g_signal_connect_object (self->leaflet, "notify::folded", G_CALLBACK (update_chat_title), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->conversation_selection, "notify::selected-item", G_CALLBACK (update_chat_title),
                           self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->conversations, "items-changed", G_CALLBACK (update_chat_title), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (self->model_dropdown, "notify::selected-item", G_CALLBACK (update_chat_title), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (self->service, "notify::model-loaded", G_CALLBACK (update_chat_title), self,
                           G_CONNECT_SWAPPED);
  update_chat_title (self);
}
