/* SPDX-License-Identifier: GPL-3.0-or-later */
/* TernWindow's models: the model menu, loading a model, the library page
 * and the actions that open a model file. */
#include "tern-library-page.h"
#include "tern-window-private.h"

#include <tern/error.h>

TernModelItem *
tern_window_find_model (TernWindow *self, gint64 id, guint *position)
{
  guint n = g_list_model_get_n_items (G_LIST_MODEL (self->models));

  for (guint i = 0; i < n; i++)
    {
      g_autoptr (TernModelItem) item = g_list_model_get_item (G_LIST_MODEL (self->models), i);
      if (tern_model_item_get_id (item) == id)
        {
          if (position)
            *position = i;
          return item;
        }
    }
  return NULL;
}

static void
sync_model_menu (TernWindow *self)
{
  guint position;

  self->syncing_models = TRUE;
  if (tern_window_find_model (self, tern_service_get_model_id (self->service), &position))
    gtk_drop_down_set_selected (self->model_dropdown, position);
  else
    gtk_drop_down_set_selected (self->model_dropdown, GTK_INVALID_LIST_POSITION);
  self->syncing_models = FALSE;
}

typedef struct {
  TernWindow *window; /* a reference */
  gboolean first;     /* the list read when the window opens */
} ModelsRequest;

static void
models_request_free (ModelsRequest *request)
{
  g_object_unref (request->window);
  g_free (request);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ModelsRequest, models_request_free)

static void
got_models (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) list = tern_service_list_models_finish (TERN_SERVICE (source), result, &error);
  g_autoptr (ModelsRequest) request = data;
  TernWindow *self = request->window;

  if (tern_window_cancelled (error) || tern_window_gone (self))
    return;
  if (list == NULL)
    {
      tern_window_toast_error (self, _("Could not read the model library"), error);
      return;
    }
  g_autoptr (GPtrArray) items = g_ptr_array_new_with_free_func (g_object_unref);
  for (guint i = 0; i < list->len; i++)
    g_ptr_array_add (items, tern_model_item_new (list->pdata[i]));
  self->syncing_models = TRUE;
  g_list_store_splice (self->models, 0, g_list_model_get_n_items (G_LIST_MODEL (self->models)), items->pdata,
                       items->len);
  self->syncing_models = FALSE;
  sync_model_menu (self);
  gtk_widget_set_visible (GTK_WIDGET (self->model_dropdown), list->len > 0);

  if (list->len == 0 && g_strcmp0 (gtk_stack_get_visible_child_name (self->main_stack), "library") != 0)
    gtk_stack_set_visible_child_name (self->main_stack, "welcome");
  else if (g_strcmp0 (gtk_stack_get_visible_child_name (self->main_stack), "welcome") == 0)
    gtk_stack_set_visible_child_name (self->main_stack, "chat");

  /* On opening, the model used last is loaded, so the user can chat at
   * once; when its file fails, the next one used that is there, and at
   * last the demo model. */
  if (request->first && list->len > 0 && !tern_service_get_model_loaded (self->service) && self->model_pending == 0 &&
      self->read_only_note == NULL)
    {
      GtkApplication *app = gtk_window_get_application (GTK_WINDOW (self));
      const char *demo = tern_application_get_demo_model (TERN_APPLICATION (app));
      GPtrArray *fallbacks = g_ptr_array_new_with_free_func (g_free);
      for (guint i = 1; i < list->len; i++)
        g_ptr_array_add (fallbacks, g_strdup (((TernStoreModel *) list->pdata[i])->path));
      if (demo && !g_ptr_array_find_with_equal_func (fallbacks, demo, g_str_equal, NULL) &&
          g_strcmp0 (demo, ((TernStoreModel *) list->pdata[0])->path) != 0)
        g_ptr_array_add (fallbacks, g_strdup (demo));
      tern_window_load_model (self, ((TernStoreModel *) list->pdata[0])->path);
      self->load_fallbacks = fallbacks;
      self->missing_model_id = ((TernStoreModel *) list->pdata[0])->id;
    }
}

void
tern_window_reload_models (TernWindow *self, gboolean first)
{
  ModelsRequest *request = g_new0 (ModelsRequest, 1);

  request->window = g_object_ref (self);
  request->first = first;
  tern_service_list_models (self->service, self->cancellable, got_models, request);
}

/* What went wrong with a model file, in plain words, and what to do; with
 * @say_kept, which model the user still has. */
static char *
load_failure_text (TernWindow *self, const GError *error, gboolean say_kept)
{
  GString *text = g_string_new (NULL);
  TernModelItem *loaded = tern_window_find_model (self, tern_service_get_model_id (self->service), NULL);

  g_string_printf (text, _("Could not load %s."), error->message);
  if (g_error_matches (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_FORMAT))
    g_string_append_printf (text, " %s", _("The file is damaged or is not a model: download it again, or choose "
                                           "another file."));
  else if (g_error_matches (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_UNSUPPORTED))
    g_string_append_printf (text, " %s", _("Tern cannot run this file: choose another one, such as a Q4_K_M, Q8_0 or "
                                           "F16 version of the model."));
  else if (g_error_matches (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_IO))
    g_string_append_printf (text, " %s", _("Locate the file, or choose another one."));
  else if (g_error_matches (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_NOMEM))
    g_string_append_printf (text, " %s", _("Close other programs, or choose a smaller context size in Preferences."));
  if (say_kept && loaded != NULL)
    {
      g_string_append_c (text, ' ');
      g_string_append_printf (text, _("The model in use, %s, stays loaded."), tern_model_item_get_name (loaded));
    }
  else if (say_kept)
    g_string_append_printf (text, " %s", _("No model is loaded."));
  return g_string_free (text, FALSE);
}

/* The banner after a load: how the start-up load fell back, or that the
 * context is longer than the model was trained on, or nothing. */
static void
show_loaded_banner (TernWindow *self, gint64 id, const char *path)
{
  TernModelItem *item = tern_window_find_model (self, id, NULL);
  g_autofree char *name = item ? g_strdup (tern_model_item_get_name (item)) : g_path_get_basename (path);
  gint size = tern_service_get_context_size (self->service), trained = tern_service_get_context_trained (self->service);

  if (self->load_failure != NULL)
    {
      g_autofree char *text = g_strdup_printf (_("%s Tern loaded %s instead."), self->load_failure, name);
      tern_window_show_banner (self, text);
      gtk_widget_set_visible (GTK_WIDGET (self->banner_remove_button), self->missing_model_id != 0);
    }
  else if (trained > 0 && size > trained)
    {
      g_autofree char *text =
          g_strdup_printf (_("%s was trained on %d tokens, but the context size chosen in Preferences is %d: replies "
                             "past %d tokens will be poor. Choose Automatic to use the model’s own length."),
                           name, trained, size, trained);
      tern_window_show_banner (self, text);
    }
  else
    tern_window_show_banner (self, NULL);
}

static void start_load (TernWindow *self, const char *path);

typedef struct {
  TernWindow *window; /* a reference */
  char *path;
  gboolean new_chat;  /* a new chat opens with the model once it loads */
} LoadRequest;

static void
load_request_free (LoadRequest *request)
{
  g_object_unref (request->window);
  g_free (request->path);
  g_free (request);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LoadRequest, load_request_free)

static void
got_model (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr (GError) error = NULL;
  gint64 id = tern_service_load_model_finish (TERN_SERVICE (source), result, &error);
  g_autoptr (LoadRequest) request = data;
  TernWindow *self = request->window;

  if (tern_window_cancelled (error) || tern_window_gone (self))
    return;
  self->model_pending = 0;
  tern_window_hide_progress (self);
  if (id == 0)
    {
      g_autofree char *text = load_failure_text (self, error, self->load_fallbacks == NULL);
      /* At start, the first failure is the one to explain (and, for a file
       * that is gone, to offer removing from the library); the next model
       * is tried. */
      if (self->load_fallbacks != NULL)
        {
          if (self->load_failure == NULL)
            {
              self->load_failure = g_steal_pointer (&text);
              if (!g_error_matches (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_IO))
                self->missing_model_id = 0;
            }
          if (self->load_fallbacks->len > 0)
            {
              g_autofree char *next = g_ptr_array_steal_index (self->load_fallbacks, 0);
              start_load (self, next);
              return;
            }
          g_clear_pointer (&self->load_fallbacks, g_ptr_array_unref);
          g_free (text);
          text = g_steal_pointer (&self->load_failure);
        }
      tern_window_show_banner (self, text);
      gtk_widget_set_visible (GTK_WIDGET (self->banner_remove_button), self->missing_model_id != 0);
      sync_model_menu (self);
      /* A model that lost its context to the new one has it back, with no
       * conversation open: the one shown opens on it again. */
      if (self->conversation_id != 0 && tern_service_get_model_loaded (self->service) &&
          tern_service_get_conversation_id (self->service) != self->conversation_id)
        tern_window_open_conversation (self, self->conversation_id);
    }
  else
    {
      g_clear_pointer (&self->load_fallbacks, g_ptr_array_unref);
      if (self->load_failure == NULL)
        self->missing_model_id = 0;
      if (request->new_chat)
        {
          g_action_group_activate_action (G_ACTION_GROUP (self), "new-conversation", NULL);
          gtk_stack_set_visible_child_name (self->main_stack, "chat");
        }
      show_loaded_banner (self, id, request->path);
      g_clear_pointer (&self->load_failure, g_free);
      g_settings_set_int64 (self->settings, "last-model-id", id);
      tern_library_page_reload (TERN_LIBRARY_PAGE (self->library_page));
      /* The conversation shown goes on with this model. */
      if (!request->new_chat && self->conversation_id != 0)
        tern_window_continue_conversation (self, self->conversation_id);
    }
  tern_window_reload_models (self, FALSE);
  tern_window_update_status (self);
  tern_window_chat_update_actions (self);
}

static void
start_load_full (TernWindow *self, const char *path, gboolean new_chat)
{
  self->model_pending = 1;
  g_clear_pointer (&self->resume_note, g_free);
  tern_window_update_status (self);
  tern_window_chat_update_actions (self);
  LoadRequest *request = g_new0 (LoadRequest, 1);
  request->window = g_object_ref (self);
  request->path = g_strdup (path);
  request->new_chat = new_chat;
  tern_service_load_model (self->service, path, self->cancellable, got_model, request);
}

static void
start_load (TernWindow *self, const char *path)
{
  start_load_full (self, path, FALSE);
}

/* A model the user chose: it ends the start-up's fallbacks. */
static void
load_chosen (TernWindow *self, const char *path, gboolean new_chat)
{
  g_clear_pointer (&self->load_fallbacks, g_ptr_array_unref);
  g_clear_pointer (&self->load_failure, g_free);
  self->missing_model_id = 0;
  start_load_full (self, path, new_chat);
}

void
tern_window_load_model (TernWindow *self, const char *path)
{
  load_chosen (self, path, FALSE);
}

void
tern_window_models_update_composer (TernWindow *self)
{
  gboolean no_model = !tern_service_get_model_loaded (self->service) && self->model_pending == 0;

  gtk_revealer_set_reveal_child (self->composer_note, no_model);
  if (no_model)
    gtk_widget_set_tooltip_text (GTK_WIDGET (self->send_button),
                                 _("No model is loaded: choose one in the model menu or the library"));
}

static void
on_model_selected (GtkDropDown *dropdown, GParamSpec *pspec, TernWindow *self)
{
  TernModelItem *item = gtk_drop_down_get_selected_item (dropdown);

  if (self->syncing_models || item == NULL || tern_model_item_get_id (item) == tern_service_get_model_id (self->service))
    return;
  tern_window_load_model (self, tern_model_item_get_path (item));
}

void
tern_window_open_model_file (TernWindow *self, GFile *file)
{
  g_autofree char *path = g_file_get_path (file);

  g_return_if_fail (TERN_IS_WINDOW (self));
  if (path == NULL)
    {
      tern_window_toast (self, _("Only local model files can be opened"));
      return;
    }
  /* A new chat with it once it loads: a file that fails leaves the
   * conversation shown as it was. */
  load_chosen (self, path, TRUE);
}

static void
on_library_model_activated (TernLibraryPage *page, gint64 id, const char *path, TernWindow *self)
{
  g_action_group_change_action_state (G_ACTION_GROUP (self), "show-library", g_variant_new_boolean (FALSE));
  if (id != tern_service_get_model_id (self->service))
    tern_window_load_model (self, path);
}

static void
on_library_changed (TernLibraryPage *page, gint64 id, TernWindow *self)
{
  /* With no model loaded yet, the list read again loads one to chat with. */
  tern_window_reload_models (self, TRUE);
}

/* The loaded model's file changed on disk while in use, and the service
 * unloaded it: the banner says so until another model loads (the library
 * page marks the file itself). */
static void
on_model_damaged (TernService *service, gint64 id, const GError *error, TernWindow *self)
{
  g_autofree char *text = g_strdup_printf (_("The model was unloaded: %s"), error->message);

  tern_window_show_banner (self, text);
  tern_window_reload_models (self, FALSE);
}

/* The menu reads the new name. */
static void
on_library_renamed (TernLibraryPage *page, gint64 id, TernWindow *self)
{
  tern_window_reload_models (self, FALSE);
}

static void
on_library_error (TernLibraryPage *page, const char *message, TernWindow *self)
{
  g_autofree char *escaped = g_markup_escape_text (message, -1);
  AdwToast *toast = adw_toast_new (escaped);

  adw_toast_set_timeout (toast, 0);
  tern_window_add_toast (self, toast);
}

static void
locate_response (GtkNativeDialog *dialog, int response, TernWindow *self)
{
  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr (GFile) file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (dialog));
      g_autofree char *path = g_file_get_path (file);
      if (path)
        tern_window_load_model (self, path);
    }
  g_object_unref (dialog);
}

static void
locate_model_activated (GSimpleAction *action, GVariant *param, gpointer data)
{
  TernWindow *self = data;
  GtkFileChooserNative *dialog = gtk_file_chooser_native_new (_("Locate the Model"), GTK_WINDOW (self),
                                                              GTK_FILE_CHOOSER_ACTION_OPEN, _("_Open"), NULL);
  GtkFileFilter *filter = gtk_file_filter_new ();

  gtk_file_filter_set_name (filter, _("GGUF models"));
  gtk_file_filter_add_pattern (filter, "*.gguf");
  gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (dialog), filter);
  g_object_unref (filter);
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (dialog), TRUE);
  g_signal_connect (dialog, "response", G_CALLBACK (locate_response), self);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (dialog));
}

static void
use_demo_model_activated (GSimpleAction *action, GVariant *param, gpointer data)
{
  TernWindow *self = data;
  const char *demo = tern_application_get_demo_model (TERN_APPLICATION (gtk_window_get_application (GTK_WINDOW (self))));

  if (demo)
    {
      gtk_stack_set_visible_child_name (self->main_stack, "chat");
      tern_window_load_model (self, demo);
    }
}

static void
missing_model_removed (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (TernWindow) self = data;

  if (!tern_service_remove_model_finish (TERN_SERVICE (source), result, &error))
    {
      if (!tern_window_cancelled (error) && !tern_window_gone (self))
        tern_window_toast_error (self, _("Could not remove the model from the library"), error);
      return;
    }
  if (tern_window_gone (self))
    return;
  tern_window_show_banner (self, NULL);
  tern_window_reload_models (self, FALSE);
  tern_library_page_reload (TERN_LIBRARY_PAGE (self->library_page));
}

static void
remove_missing_model_activated (GSimpleAction *action, GVariant *param, gpointer data)
{
  TernWindow *self = data;
  gint64 id = self->missing_model_id;

  if (id == 0)
    return;
  self->missing_model_id = 0;
  gtk_widget_set_visible (GTK_WIDGET (self->banner_remove_button), FALSE);
  tern_service_remove_model (self->service, id, self->cancellable, missing_model_removed, g_object_ref (self));
}

static void
add_model_activated (GSimpleAction *action, GVariant *param, gpointer data)
{
  TernWindow *self = data;

  gtk_widget_activate_action (self->library_page, "library.add", NULL);
}

static void
show_library_changed (GSimpleAction *action, GVariant *state, gpointer data)
{
  TernWindow *self = data;
  gboolean show = g_variant_get_boolean (state);

  g_simple_action_set_state (action, state);
  if (show)
    {
      tern_library_page_reload (TERN_LIBRARY_PAGE (self->library_page));
      gtk_stack_set_visible_child_name (self->main_stack, "library");
      adw_leaflet_set_visible_child (self->leaflet, self->content);
    }
  else
    gtk_stack_set_visible_child_name (self->main_stack,
                                      g_list_model_get_n_items (G_LIST_MODEL (self->models)) ? "chat" : "welcome");
}

static const GActionEntry model_actions[] = {
  { "show-library", NULL, NULL, "false", show_library_changed },
  { "add-model", add_model_activated },
  { "use-demo-model", use_demo_model_activated },
  { "locate-model", locate_model_activated },
  { "remove-missing-model", remove_missing_model_activated },
};

/* The menu's rows name each model with its type and size, so that two
 * models of one name differ; the button keeps the short name. */
static void
setup_model_row (GtkSignalListItemFactory *factory, GtkListItem *item, gpointer data)
{
  GtkWidget *label = gtk_label_new (NULL);

  gtk_label_set_xalign (GTK_LABEL (label), 0);
  gtk_label_set_ellipsize (GTK_LABEL (label), PANGO_ELLIPSIZE_MIDDLE);
  gtk_list_item_set_child (item, label);
}

static void
bind_model_row (GtkSignalListItemFactory *factory, GtkListItem *item, gpointer data)
{
  TernModelItem *model = gtk_list_item_get_item (item);

  gtk_label_set_text (GTK_LABEL (gtk_list_item_get_child (item)), tern_model_item_get_label (model));
}

void
tern_window_models_init (TernWindow *self)
{
  g_action_map_add_action_entries (G_ACTION_MAP (self), model_actions, G_N_ELEMENTS (model_actions), self);

  self->models = g_list_store_new (TERN_TYPE_MODEL_ITEM);
  gtk_drop_down_set_model (self->model_dropdown, G_LIST_MODEL (self->models));
  gtk_drop_down_set_expression (self->model_dropdown,
                                gtk_property_expression_new (TERN_TYPE_MODEL_ITEM, NULL, "name"));
  GtkListItemFactory *rows = gtk_signal_list_item_factory_new ();
  g_signal_connect (rows, "setup", G_CALLBACK (setup_model_row), NULL);
  g_signal_connect (rows, "bind", G_CALLBACK (bind_model_row), NULL);
  gtk_drop_down_set_list_factory (self->model_dropdown, rows);
  g_object_unref (rows);
  g_signal_connect (self->model_dropdown, "notify::selected", G_CALLBACK (on_model_selected), self);

  self->library_page = tern_library_page_new (self->service);
  gtk_stack_add_named (self->main_stack, self->library_page, "library");
  g_signal_connect_object (self->library_page, "model-activated", G_CALLBACK (on_library_model_activated), self, 0);
  g_signal_connect_object (self->library_page, "model-added", G_CALLBACK (on_library_changed), self, 0);
  g_signal_connect_object (self->library_page, "error", G_CALLBACK (on_library_error), self, 0);
  g_signal_connect_object (self->library_page, "model-renamed", G_CALLBACK (on_library_renamed), self, 0);
  g_signal_connect_object (self->service, "model-damaged", G_CALLBACK (on_model_damaged), self, 0);
}
