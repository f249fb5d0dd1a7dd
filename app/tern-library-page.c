/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "tern-library-page.h"

#include <glib/gi18n.h>
#include <tern/error.h>

#include "tern-model-details.h"

struct _TernLibraryPage {
  AdwBin parent_instance;

  GtkStack *stack;
  GtkListBox *list;

  TernService *service;
  GCancellable *cancellable;
  GPtrArray *models;   /* TernStoreModel, as listed */
  GHashTable *status;  /* model id (gint64 *) -> TernModelStatus, as checked */
  guint serial;        /* of the latest listing */
};

G_DEFINE_FINAL_TYPE (TernLibraryPage, tern_library_page, ADW_TYPE_BIN)

enum {
  SIGNAL_MODEL_ACTIVATED,
  SIGNAL_MODEL_ADDED,
  SIGNAL_ERROR,
  N_SIGNALS,
};

static guint signals[N_SIGNALS];

static gboolean
cancelled (const GError *error)
{
  return g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) ||
         g_error_matches (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_CANCELLED);
}

static void
emit_error (TernLibraryPage *self, const char *format, ...) G_GNUC_PRINTF (2, 3);

static void
emit_error (TernLibraryPage *self, const char *format, ...)
{
  va_list args;

  va_start (args, format);
  g_autofree char *message = g_strdup_vprintf (format, args);
  va_end (args);
  g_signal_emit (self, signals[SIGNAL_ERROR], 0, message);
}

static const TernStoreModel *
find_model (TernLibraryPage *self, gint64 id)
{
  for (guint i = 0; self->models && i < self->models->len; i++)
    if (((TernStoreModel *) self->models->pdata[i])->id == id)
      return self->models->pdata[i];
  return NULL;
}

static char *
relative_time (gint64 us)
{
  if (us == 0)
    return g_strdup (_("never used"));
  g_autoptr (GDateTime) then = g_date_time_new_from_unix_local (us / G_USEC_PER_SEC);
  g_autoptr (GDateTime) now = g_date_time_new_now_local ();
  GTimeSpan ago = g_date_time_difference (now, then);

  if (ago < G_TIME_SPAN_MINUTE)
    return g_strdup (_("used just now"));
  if (ago < G_TIME_SPAN_HOUR)
    return g_strdup_printf (_("used %d min ago"), (int) (ago / G_TIME_SPAN_MINUTE));
  if (ago < G_TIME_SPAN_DAY)
    return g_strdup_printf (_("used %d h ago"), (int) (ago / G_TIME_SPAN_HOUR));
  g_autofree char *date = g_date_time_format (then, "%x");
  return g_strdup_printf (_("used %s"), date);
}

static char *
model_subtitle (const TernStoreModel *m)
{
  g_autofree char *params = tern_format_parameters (m->n_params);
  g_autofree char *type = tern_main_tensor_type (m->tensor_types);
  g_autofree char *size = g_format_size (m->identity.size);
  g_autofree char *used = relative_time (m->last_used_at);
  g_autofree char *ctx = m->n_ctx_train ? g_strdup_printf (_("%d context"), m->n_ctx_train) : g_strdup ("");

  return g_strdup_printf ("%s · %s · %s · %s%s%s · %s", m->arch, params, type, size, ctx[0] ? " · " : "", ctx, used);
}

/* ---- Rows ---- */

static GtkWidget *
icon_button (const char *icon, const char *tooltip, const char *action, gint64 id)
{
  GtkWidget *button = gtk_button_new_from_icon_name (icon);

  gtk_widget_set_tooltip_text (button, tooltip);
  /* GTK 4.8 does not name a button for screen readers by its tooltip. */
  gtk_accessible_update_property (GTK_ACCESSIBLE (button), GTK_ACCESSIBLE_PROPERTY_LABEL, tooltip, -1);
  gtk_widget_set_valign (button, GTK_ALIGN_CENTER);
  gtk_widget_add_css_class (button, "flat");
  gtk_actionable_set_action_name (GTK_ACTIONABLE (button), action);
  gtk_actionable_set_action_target_value (GTK_ACTIONABLE (button), g_variant_new_int64 (id));
  return button;
}

static GtkWidget *
model_row (TernLibraryPage *self, const TernStoreModel *m)
{
  GtkWidget *row = adw_action_row_new ();
  g_autofree char *subtitle = model_subtitle (m);
  GtkWidget *warning = gtk_image_new_from_icon_name ("dialog-warning-symbolic");
  GtkWidget *use = gtk_button_new_with_mnemonic (_("_Use"));

  adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (row), FALSE);
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), m->name);
  adw_action_row_set_subtitle (ADW_ACTION_ROW (row), subtitle);
  /* Shown once the check says the file is not the one added. */
  gtk_widget_set_visible (warning, FALSE);
  gtk_widget_add_css_class (warning, "warning");
  adw_action_row_add_prefix (ADW_ACTION_ROW (row), warning);
  g_object_set_data (G_OBJECT (row), "warning", warning);

  gtk_widget_set_valign (use, GTK_ALIGN_CENTER);
  gtk_widget_set_tooltip_text (use, _("Chat with this model"));
  gtk_actionable_set_action_name (GTK_ACTIONABLE (use), "library.use");
  gtk_actionable_set_action_target_value (GTK_ACTIONABLE (use), g_variant_new_int64 (m->id));
  adw_action_row_add_suffix (ADW_ACTION_ROW (row), use);
  adw_action_row_add_suffix (ADW_ACTION_ROW (row),
                             icon_button ("help-about-symbolic", _("Details"), "library.details", m->id));
  adw_action_row_add_suffix (ADW_ACTION_ROW (row),
                             icon_button ("user-trash-symbolic", _("Remove from the Library"), "library.remove", m->id));
  g_object_set_data (G_OBJECT (row), "model-id", GSIZE_TO_POINTER (m->id));
  return row;
}

static void
show_status (TernLibraryPage *self, gint64 id, TernModelStatus status)
{
  for (GtkWidget *row = gtk_widget_get_first_child (GTK_WIDGET (self->list)); row;
       row = gtk_widget_get_next_sibling (row))
    {
      if ((gint64) GPOINTER_TO_SIZE (g_object_get_data (G_OBJECT (row), "model-id")) != id)
        continue;
      GtkWidget *warning = g_object_get_data (G_OBJECT (row), "warning");
      const char *why = status == TERN_MODEL_MISSING ? _("File missing")
                        : status == TERN_MODEL_CHANGED ? _("File changed since it was added")
                                                       : NULL;
      gtk_widget_set_visible (warning, why != NULL);
      gtk_widget_set_tooltip_text (warning, why);
      if (why)
        gtk_accessible_update_property (GTK_ACCESSIBLE (warning), GTK_ACCESSIBLE_PROPERTY_LABEL, why, -1);
    }
}

typedef struct {
  TernLibraryPage *page;
  gint64 id;
} Check;

static void
got_check (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree Check *check = data;
  int status = tern_service_check_model_finish (TERN_SERVICE (source), result, &error);

  if (cancelled (error))
    return;
  if (status < 0)
    {
      emit_error (check->page, _("Could not check a model file: %s"), error->message);
      return;
    }
  gint64 *key = g_new (gint64, 1);
  *key = check->id;
  g_hash_table_insert (check->page->status, key, GINT_TO_POINTER (status));
  show_status (check->page, check->id, status);
}

typedef struct {
  TernLibraryPage *page;
  guint serial;
} Listing;

static void
got_models (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree Listing *listing = data;
  TernLibraryPage *self = listing->page;
  GPtrArray *models = tern_service_list_models_finish (TERN_SERVICE (source), result, &error);
  GtkWidget *child;

  if (cancelled (error))
    return;
  if (models == NULL)
    {
      emit_error (self, _("Could not read the model library: %s"), error->message);
      return;
    }
  if (listing->serial != self->serial)
    {
      g_ptr_array_unref (models);
      return;
    }
  g_clear_pointer (&self->models, g_ptr_array_unref);
  self->models = models;
  while ((child = gtk_widget_get_first_child (GTK_WIDGET (self->list))))
    gtk_list_box_remove (self->list, child);
  for (guint i = 0; i < models->len; i++)
    {
      const TernStoreModel *m = models->pdata[i];
      Check *check = g_new (Check, 1);
      gtk_list_box_append (self->list, model_row (self, m));
      check->page = self;
      check->id = m->id;
      tern_service_check_model (self->service, m->id, self->cancellable, got_check, check);
    }
  gtk_stack_set_visible_child_name (self->stack, models->len ? "list" : "empty");
}

void
tern_library_page_reload (TernLibraryPage *self)
{
  Listing *listing = g_new (Listing, 1);

  g_return_if_fail (TERN_IS_LIBRARY_PAGE (self));
  listing->page = self;
  listing->serial = ++self->serial;
  tern_service_list_models (self->service, self->cancellable, got_models, listing);
}

/* ---- Adding ---- */

typedef struct {
  TernLibraryPage *page;
  char *name;
} Adding;

static void
got_added (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr (GError) error = NULL;
  Adding *adding = data;
  TernLibraryPage *self = adding->page;
  gint64 id = tern_service_add_model_finish (TERN_SERVICE (source), result, &error);

  if (!cancelled (error))
    {
      if (id == 0)
        emit_error (self, _("%s is not a usable model: %s"), adding->name, error->message);
      else
        {
          tern_library_page_reload (self);
          g_signal_emit (self, signals[SIGNAL_MODEL_ADDED], 0, id);
        }
    }
  g_free (adding->name);
  g_free (adding);
}

void
tern_library_page_add_file (TernLibraryPage *self, GFile *file)
{
  g_autofree char *path = g_file_get_path (file);

  g_return_if_fail (TERN_IS_LIBRARY_PAGE (self));
  g_return_if_fail (G_IS_FILE (file));
  if (path == NULL)
    {
      g_autofree char *uri = g_file_get_uri (file);
      emit_error (self, _("%s is not a local file: only files on this computer can be added"), uri);
      return;
    }
  Adding *adding = g_new (Adding, 1);
  adding->page = self;
  adding->name = g_path_get_basename (path);
  tern_service_add_model (self->service, path, self->cancellable, got_added, adding);
}

static void
chooser_response (GtkNativeDialog *dialog, int response, TernLibraryPage *self)
{
  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr (GListModel) files = gtk_file_chooser_get_files (GTK_FILE_CHOOSER (dialog));
      for (guint i = 0; i < g_list_model_get_n_items (files); i++)
        {
          g_autoptr (GFile) file = g_list_model_get_item (files, i);
          tern_library_page_add_file (self, file);
        }
    }
  g_object_unref (dialog);
}

static void
add_action (GtkWidget *widget, const char *action, GVariant *param)
{
  TernLibraryPage *self = TERN_LIBRARY_PAGE (widget);
  GtkFileChooserNative *dialog =
      gtk_file_chooser_native_new (_("Add a Model"), GTK_WINDOW (gtk_widget_get_root (widget)),
                                   GTK_FILE_CHOOSER_ACTION_OPEN, _("_Add"), NULL);
  GtkFileFilter *filter = gtk_file_filter_new ();

  gtk_file_filter_set_name (filter, _("GGUF models"));
  gtk_file_filter_add_pattern (filter, "*.gguf");
  gtk_file_filter_add_pattern (filter, "*.GGUF");
  gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (dialog), filter);
  g_object_unref (filter);
  gtk_file_chooser_set_select_multiple (GTK_FILE_CHOOSER (dialog), TRUE);
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (dialog), TRUE);
  g_signal_connect (dialog, "response", G_CALLBACK (chooser_response), self);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (dialog));
}

static gboolean
on_drop (GtkDropTarget *target, const GValue *value, double x, double y, TernLibraryPage *self)
{
  GSList *files = g_value_get_boxed (value);

  for (GSList *l = files; l; l = l->next)
    tern_library_page_add_file (self, l->data);
  return files != NULL;
}

/* ---- Use, details, remove ---- */

static void
use_action (GtkWidget *widget, const char *action, GVariant *param)
{
  TernLibraryPage *self = TERN_LIBRARY_PAGE (widget);
  const TernStoreModel *m = find_model (self, g_variant_get_int64 (param));

  if (m)
    g_signal_emit (self, signals[SIGNAL_MODEL_ACTIVATED], 0, m->id, m->path);
}

static void
details_action (GtkWidget *widget, const char *action, GVariant *param)
{
  TernLibraryPage *self = TERN_LIBRARY_PAGE (widget);
  gint64 id = g_variant_get_int64 (param);
  const TernStoreModel *m = find_model (self, id);

  if (m == NULL)
    return;
  gpointer status = g_hash_table_lookup (self->status, &id);
  GtkWidget *window = tern_model_details_new (GTK_WINDOW (gtk_widget_get_root (widget)), m,
                                              status ? GPOINTER_TO_INT (status) : TERN_MODEL_OK);
  gtk_window_present (GTK_WINDOW (window));
}

typedef struct {
  TernLibraryPage *page;
  char *path; /* to trash, or NULL */
  char *name;
} Removal;

static void
removal_free (Removal *removal)
{
  g_free (removal->path);
  g_free (removal->name);
  g_free (removal);
}

static void
got_removed (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr (GError) error = NULL;
  Removal *removal = data;
  TernLibraryPage *self = removal->page;

  if (!tern_service_remove_model_finish (TERN_SERVICE (source), result, &error))
    {
      if (!cancelled (error))
        emit_error (self, _("Could not remove %s: %s"), removal->name, error->message);
      removal_free (removal);
      return;
    }
  if (removal->path)
    {
      g_autoptr (GFile) file = g_file_new_for_path (removal->path);
      g_autoptr (GError) trash_error = NULL;
      if (!g_file_trash (file, NULL, &trash_error))
        emit_error (self, _("%s was removed from the library, but its file could not be moved to the trash: %s"),
                    removal->name, trash_error->message);
    }
  tern_library_page_reload (self);
  removal_free (removal);
}

static void
remove_response (AdwMessageDialog *dialog, const char *response, TernLibraryPage *self)
{
  gint64 id = GPOINTER_TO_SIZE (g_object_get_data (G_OBJECT (dialog), "model-id"));
  GtkCheckButton *trash = GTK_CHECK_BUTTON (adw_message_dialog_get_extra_child (dialog));
  const TernStoreModel *m = find_model (self, id);

  if (!g_str_equal (response, "remove") || m == NULL)
    return;
  Removal *removal = g_new0 (Removal, 1);
  removal->page = self;
  removal->name = g_strdup (m->name);
  if (gtk_check_button_get_active (trash))
    removal->path = g_strdup (m->path);
  tern_service_remove_model (self->service, id, self->cancellable, got_removed, removal);
}

static void
remove_action (GtkWidget *widget, const char *action, GVariant *param)
{
  TernLibraryPage *self = TERN_LIBRARY_PAGE (widget);
  gint64 id = g_variant_get_int64 (param);
  const TernStoreModel *m = find_model (self, id);

  if (m == NULL)
    return;
  g_autofree char *heading = g_strdup_printf (_("Remove %s from the Library?"), m->name);
  GtkWidget *dialog = adw_message_dialog_new (GTK_WINDOW (gtk_widget_get_root (widget)), heading,
                                              _("Its conversations are kept, without their saved model state."));
  GtkWidget *trash = gtk_check_button_new_with_mnemonic (_("Also move the _file to the trash"));

  adw_message_dialog_set_extra_child (ADW_MESSAGE_DIALOG (dialog), trash);
  adw_message_dialog_add_responses (ADW_MESSAGE_DIALOG (dialog), "cancel", _("_Cancel"), "remove", _("_Remove"), NULL);
  adw_message_dialog_set_response_appearance (ADW_MESSAGE_DIALOG (dialog), "remove", ADW_RESPONSE_DESTRUCTIVE);
  adw_message_dialog_set_default_response (ADW_MESSAGE_DIALOG (dialog), "cancel");
  adw_message_dialog_set_close_response (ADW_MESSAGE_DIALOG (dialog), "cancel");
  g_object_set_data (G_OBJECT (dialog), "model-id", GSIZE_TO_POINTER (id));
  g_signal_connect_object (dialog, "response", G_CALLBACK (remove_response), self, 0);
  gtk_window_present (GTK_WINDOW (dialog));
}

/* ---- The object ---- */

static void
tern_library_page_dispose (GObject *object)
{
  TernLibraryPage *self = TERN_LIBRARY_PAGE (object);

  /* No gtk_widget_dispose_template: AdwBin unparents its child itself. */
  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->service);
  g_clear_pointer (&self->models, g_ptr_array_unref);
  g_clear_pointer (&self->status, g_hash_table_unref);
  G_OBJECT_CLASS (tern_library_page_parent_class)->dispose (object);
}

static void
tern_library_page_finalize (GObject *object)
{
  TernLibraryPage *self = TERN_LIBRARY_PAGE (object);

  g_clear_object (&self->cancellable);
  G_OBJECT_CLASS (tern_library_page_parent_class)->finalize (object);
}

static void
tern_library_page_class_init (TernLibraryPageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = tern_library_page_dispose;
  object_class->finalize = tern_library_page_finalize;

  signals[SIGNAL_MODEL_ACTIVATED] =
      g_signal_new ("model-activated", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE,
                    2, G_TYPE_INT64, G_TYPE_STRING);
  signals[SIGNAL_MODEL_ADDED] = g_signal_new ("model-added", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                                              NULL, NULL, G_TYPE_NONE, 1, G_TYPE_INT64);
  signals[SIGNAL_ERROR] = g_signal_new ("error", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                        G_TYPE_NONE, 1, G_TYPE_STRING);

  gtk_widget_class_set_template_from_resource (widget_class, "/io/github/ternapp/Tern/ui/tern-library-page.ui");
  gtk_widget_class_bind_template_child (widget_class, TernLibraryPage, stack);
  gtk_widget_class_bind_template_child (widget_class, TernLibraryPage, list);
  gtk_widget_class_install_action (widget_class, "library.add", NULL, add_action);
  gtk_widget_class_install_action (widget_class, "library.use", "x", use_action);
  gtk_widget_class_install_action (widget_class, "library.details", "x", details_action);
  gtk_widget_class_install_action (widget_class, "library.remove", "x", remove_action);
}

static void
tern_library_page_init (TernLibraryPage *self)
{
  GtkDropTarget *drop = gtk_drop_target_new (GDK_TYPE_FILE_LIST, GDK_ACTION_COPY);

  gtk_widget_init_template (GTK_WIDGET (self));
  self->cancellable = g_cancellable_new ();
  self->status = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  g_signal_connect (drop, "drop", G_CALLBACK (on_drop), self);
  gtk_widget_add_controller (GTK_WIDGET (self), GTK_EVENT_CONTROLLER (drop));
}

GtkWidget *
tern_library_page_new (TernService *service)
{
  g_return_val_if_fail (TERN_IS_SERVICE (service), NULL);

  TernLibraryPage *self = g_object_new (TERN_TYPE_LIBRARY_PAGE, NULL);
  self->service = g_object_ref (service);
  tern_library_page_reload (self);
  return GTK_WIDGET (self);
}
