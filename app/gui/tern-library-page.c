/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "tern-library-page.h"

#include <glib/gi18n.h>

#include "tern-accessible.h"
#include "tern-model-details.h"
#include "tern-compress-dialog.h"

struct _TernLibraryPage
{
  AdwBin parent_instance;

  GtkStack *stack;
  GtkListBox *list;
  GtkWidget *add_button;
  GtkWidget *empty_add_button;
  GtkRevealer *drop_revealer;

  TernService *service;
  GCancellable *cancellable; /* cancelled at dispose: the answers that come later are dropped */
  GPtrArray *models;         /* TernStoreModel, as last listed */
  GHashTable *rows;          /* model id (gint64 *) -> its row, owned by the list */
  GHashTable *status;        /* model id (gint64 *) -> TernModelStatus, as last checked */
  guint serial;              /* of the latest listing asked for */
  GtkNativeDialog *chooser;  /* the file chooser, while it is open */
};

G_DEFINE_FINAL_TYPE (TernLibraryPage, tern_library_page, ADW_TYPE_BIN)

enum {
  SIGNAL_MODEL_ACTIVATED,
  SIGNAL_MODEL_ADDED,
  SIGNAL_MODEL_RENAMED,
  SIGNAL_ERROR,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

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

static GtkWindow *
parent_window (TernLibraryPage *self)
{
  GtkRoot *root = gtk_widget_get_root (GTK_WIDGET (self));

  return GTK_IS_WINDOW (root) ? GTK_WINDOW (root) : NULL;
}

static const TernStoreModel *
find_model (TernLibraryPage *self, gint64 id)
{
  for (guint i = 0; self->models != NULL && i < self->models->len; i++)
    {
      const TernStoreModel *model = g_ptr_array_index (self->models, i);

      if (model->id == id)
        return model;
    }
  return NULL;
}

/* ---- Requests ---- */

/* What an answer of the service needs. Requests do not hold the page: an
 * answer that comes after the page was disposed finds the page's
 * cancellable cancelled and leaves the page alone (store requests run to
 * the end even when cancelled, so their answers can still be successes). */
typedef struct {
  TernLibraryPage *self;     /* not a reference: see request_page */
  GCancellable *cancellable; /* the page's */
  guint serial;              /* a listing's */
  gint64 id;                 /* the model's */
  char *name;                /* the model's or the file's, for messages */
  char *path;                /* a file to move to the trash, or NULL */
} Request;

static Request *
request_new (TernLibraryPage *self)
{
  Request *request = g_new0 (Request, 1);

  request->self = self;
  request->cancellable = g_object_ref (self->cancellable);
  return request;
}

static void
request_free (Request *request)
{
  g_object_unref (request->cancellable);
  g_free (request->name);
  g_free (request->path);
  g_free (request);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Request, request_free)

/* The page that made @request, or NULL when it has been disposed since. */
static TernLibraryPage *
request_page (Request *request)
{
  return g_cancellable_is_cancelled (request->cancellable) ? NULL : request->self;
}

/* ---- Rows ---- */

static char *
format_last_used (gint64 us)
{
  if (us == 0)
    return g_strdup (_("never used"));

  gint64 ago = MAX (g_get_real_time () - us, 0);
  int n;

  if (ago < G_TIME_SPAN_MINUTE)
    return g_strdup (_("used just now"));
  if (ago < G_TIME_SPAN_HOUR)
    {
      n = ago / G_TIME_SPAN_MINUTE;
      return g_strdup_printf (ngettext ("used %d minute ago", "used %d minutes ago", n), n);
    }
  if (ago < G_TIME_SPAN_DAY)
    {
      n = ago / G_TIME_SPAN_HOUR;
      return g_strdup_printf (ngettext ("used %d hour ago", "used %d hours ago", n), n);
    }
  if (ago < 7 * G_TIME_SPAN_DAY)
    {
      n = ago / G_TIME_SPAN_DAY;
      return g_strdup_printf (ngettext ("used %d day ago", "used %d days ago", n), n);
    }
  g_autoptr (GDateTime) then = g_date_time_new_from_unix_local (us / G_USEC_PER_SEC);
  g_autofree char *date = then ? g_date_time_format (then, "%x") : NULL;
  return date ? g_strdup_printf (_("used on %s"), date) : g_strdup (_("used long ago"));
}

/* "Q4_K · 9.8 MB · llama · 15 M · context 2048 · never used": the type and
 * size first, as the model menu shows them. */
static char *
model_subtitle (const TernStoreModel *model)
{
  g_autofree char *params = tern_format_parameters (model->n_params);
  g_autofree char *type = tern_main_tensor_type (model->tensor_types);
  g_autofree char *upper = g_ascii_strup (type, -1);
  g_autofree char *size = g_format_size (model->identity.size);
  g_autofree char *used = format_last_used (model->last_used_at);
  GString *text = g_string_new (NULL);

  g_string_append_printf (text, "%s · %s · %s · %s", upper, size,
                          model->arch && model->arch[0] ? model->arch : _("unknown"), params);
  if (model->n_ctx_train > 0)
    {
      g_string_append (text, " · ");
      g_string_append_printf (text, _("context %d"), model->n_ctx_train);
    }
  g_string_append (text, " · ");
  g_string_append (text, used);
  return g_string_free (text, FALSE);
}

/* The menu of @id's row. */
static GMenuModel *
row_menu (gint64 id)
{
  GMenu *menu = g_menu_new ();
  const struct {
    const char *label;
    const char *action;
  } items[] = {
    { N_("_Rename…"), "library.rename" },
    { N_("_Compress…"), "library.compress" },
    { N_("_Details…"), "library.details" },
    { N_("Re_move…"), "library.remove" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (items); i++)
    {
      g_autoptr (GMenuItem) item = g_menu_item_new (_(items[i].label), NULL);

      g_menu_item_set_action_and_target_value (item, items[i].action, g_variant_new_int64 (id));
      g_menu_append_item (menu, item);
    }
  return G_MENU_MODEL (menu);
}

/* The row's accessible description: its subtitle, after "Loaded" on the
 * model loaded. */
static void
describe_row (GtkWidget *row, gboolean loaded)
{
  const char *subtitle = adw_action_row_get_subtitle (ADW_ACTION_ROW (row));
  g_autofree char *text = loaded ? g_strdup_printf (_("Loaded · %s"), subtitle) : g_strdup (subtitle);

  gtk_accessible_update_property (GTK_ACCESSIBLE (row), GTK_ACCESSIBLE_PROPERTY_DESCRIPTION, text, -1);
}

static GtkWidget *
model_row (const TernStoreModel *model, gboolean loaded)
{
  GtkWidget *row = adw_action_row_new ();
  GtkWidget *warning = gtk_image_new_from_icon_name ("dialog-warning-symbolic");
  GtkWidget *tag = gtk_label_new (_("Loaded"));
  GtkWidget *use = gtk_button_new_with_mnemonic (_("_Use"));
  GtkWidget *more = gtk_menu_button_new ();
  g_autoptr (GMenuModel) menu = row_menu (model->id);
  g_autofree char *subtitle = model_subtitle (model);
  g_autofree char *more_label = g_strdup_printf (_("More for %s"), model->name);

  /* Names come from files: plain text, never markup. */
  adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (row), FALSE);
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), model->name);
  adw_action_row_set_subtitle (ADW_ACTION_ROW (row), subtitle);
  gtk_widget_set_tooltip_text (row, model->path);
  describe_row (row, loaded);

  /* Shown when a check finds the file is not the one added. */
  gtk_widget_set_visible (warning, FALSE);
  gtk_widget_add_css_class (warning, "warning");
  adw_action_row_add_prefix (ADW_ACTION_ROW (row), warning);

  /* The row's description says it too: the tag is not read on its own. */
  gtk_widget_set_visible (tag, loaded);
  gtk_widget_set_valign (tag, GTK_ALIGN_CENTER);
  gtk_widget_add_css_class (tag, "accent");
  gtk_widget_add_css_class (tag, "caption-heading");
  gtk_accessible_update_state (GTK_ACCESSIBLE (tag), GTK_ACCESSIBLE_STATE_HIDDEN, TRUE, -1);
  adw_action_row_add_suffix (ADW_ACTION_ROW (row), tag);

  gtk_widget_set_valign (use, GTK_ALIGN_CENTER);
  gtk_widget_set_tooltip_text (use, _("Chat with this model"));
  gtk_actionable_set_action_name (GTK_ACTIONABLE (use), "library.use");
  gtk_actionable_set_action_target_value (GTK_ACTIONABLE (use), g_variant_new_int64 (model->id));
  adw_action_row_add_suffix (ADW_ACTION_ROW (row), use);
  tern_accessible_fix_names (use);

  gtk_menu_button_set_icon_name (GTK_MENU_BUTTON (more), "view-more-symbolic");
  gtk_menu_button_set_menu_model (GTK_MENU_BUTTON (more), menu);
  gtk_widget_set_tooltip_text (more, _("More"));
  gtk_accessible_update_property (GTK_ACCESSIBLE (more), GTK_ACCESSIBLE_PROPERTY_LABEL, more_label, -1);
  /* GTK 4.8 gives the focus to the button inside, which has no name of
   * its own: screen readers would say "GtkToggleButton". */
  gtk_accessible_update_property (GTK_ACCESSIBLE (gtk_widget_get_first_child (more)), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  more_label, -1);
  gtk_widget_set_valign (more, GTK_ALIGN_CENTER);
  gtk_widget_add_css_class (more, "flat");
  adw_action_row_add_suffix (ADW_ACTION_ROW (row), more);

  g_object_set_data (G_OBJECT (row), "tern-warning", warning);
  g_object_set_data (G_OBJECT (row), "tern-use", use);
  g_object_set_data (G_OBJECT (row), "tern-loaded", tag);
  return row;
}

/* Moves the "Loaded" tag to the model the service has loaded now. */
static void
show_loaded (TernLibraryPage *self)
{
  gint64 loaded = tern_service_get_model_id (self->service);
  GHashTableIter iter;
  gpointer key, row;

  g_hash_table_iter_init (&iter, self->rows);
  while (g_hash_table_iter_next (&iter, &key, &row))
    {
      gboolean is_loaded = *(gint64 *) key == loaded;

      gtk_widget_set_visible (g_object_get_data (row, "tern-loaded"), is_loaded);
      describe_row (row, is_loaded);
    }
}

static void
on_model_id (TernService *service, GParamSpec *pspec, TernLibraryPage *self)
{
  show_loaded (self);
}

static void
show_status (TernLibraryPage *self, gint64 id, TernModelStatus status)
{
  GtkWidget *row = g_hash_table_lookup (self->rows, &id);
  const char *problem = tern_model_status_problem (status);

  if (row == NULL)
    return;

  GtkWidget *warning = g_object_get_data (G_OBJECT (row), "tern-warning");
  GtkWidget *use = g_object_get_data (G_OBJECT (row), "tern-use");

  gtk_widget_set_visible (warning, problem != NULL);
  gtk_widget_set_tooltip_text (warning, problem);
  if (problem != NULL)
    gtk_accessible_update_property (GTK_ACCESSIBLE (warning), GTK_ACCESSIBLE_PROPERTY_LABEL, problem, -1);
  else
    gtk_accessible_reset_property (GTK_ACCESSIBLE (warning), GTK_ACCESSIBLE_PROPERTY_LABEL);
  /* Nothing to load from a file that is not there. A changed file stays
   * usable: loading it says what is wrong. */
  gtk_widget_set_sensitive (use, status != TERN_MODEL_MISSING);
  gtk_widget_set_tooltip_text (use, status == TERN_MODEL_MISSING ? problem : _("Chat with this model"));
}

static void
record_status (TernLibraryPage *self, gint64 id, TernModelStatus status)
{
  g_hash_table_insert (self->status, g_memdup2 (&id, sizeof id), GINT_TO_POINTER (status));
  show_status (self, id, status);
}

static gboolean
not_listed (gpointer key, gpointer value, gpointer rows)
{
  return !g_hash_table_contains (rows, key);
}

/* Replaces the rows with @models (taken). */
static void
show_models (TernLibraryPage *self, GPtrArray *models)
{
  GtkRoot *root = gtk_widget_get_root (GTK_WIDGET (self));
  GtkWidget *focus = root ? gtk_root_get_focus (root) : NULL;
  int focus_index = -1;
  GtkWidget *child;

  /* Rows are made again: keep the keyboard focus at the same place in the
   * list, or on the Add button once the list is empty. */
  if (focus != NULL && gtk_widget_is_ancestor (focus, GTK_WIDGET (self->list)))
    {
      GtkWidget *row = gtk_widget_get_ancestor (focus, GTK_TYPE_LIST_BOX_ROW);
      focus_index = row ? gtk_list_box_row_get_index (GTK_LIST_BOX_ROW (row)) : 0;
    }

  g_hash_table_remove_all (self->rows);
  while ((child = gtk_widget_get_first_child (GTK_WIDGET (self->list))) != NULL)
    gtk_list_box_remove (self->list, child);
  g_clear_pointer (&self->models, g_ptr_array_unref);
  self->models = models;

  for (guint i = 0; i < models->len; i++)
    {
      const TernStoreModel *model = g_ptr_array_index (models, i);
      GtkWidget *row = model_row (model, model->id == tern_service_get_model_id (self->service));
      gpointer status;

      gtk_list_box_append (self->list, row);
      g_hash_table_insert (self->rows, g_memdup2 (&model->id, sizeof model->id), row);
      /* What the last check said, until this listing's check answers. */
      if (g_hash_table_lookup_extended (self->status, &model->id, NULL, &status))
        show_status (self, model->id, GPOINTER_TO_INT (status));
    }
  g_hash_table_foreach_remove (self->status, not_listed, self->rows);
  gtk_stack_set_visible_child_name (self->stack, models->len > 0 ? "list" : "empty");

  if (focus_index >= 0)
    {
      GtkListBoxRow *row =
          models->len > 0 ? gtk_list_box_get_row_at_index (self->list, MIN ((guint) focus_index, models->len - 1)) : NULL;
      gtk_widget_grab_focus (row ? GTK_WIDGET (row) : self->empty_add_button);
    }
}

static void
got_check (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr (Request) request = data;
  g_autoptr (GError) error = NULL;
  int status = tern_service_check_model_finish (TERN_SERVICE (source), result, &error);
  TernLibraryPage *self = request_page (request);

  if (self == NULL)
    return;
  if (status < 0)
    emit_error (self, _("Could not check the file of %s: %s"), request->name, error->message);
  else
    record_status (self, request->id, status);
}

static void
got_models (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr (Request) request = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) models = tern_service_list_models_finish (TERN_SERVICE (source), result, &error);
  TernLibraryPage *self = request_page (request);

  /* Gone, or the library changed since: a newer listing is on its way. */
  if (self == NULL || request->serial != self->serial)
    return;
  if (models == NULL)
    {
      emit_error (self, _("Could not read the model library: %s"), error->message);
      if (g_strcmp0 (gtk_stack_get_visible_child_name (self->stack), "loading") == 0)
        gtk_stack_set_visible_child_name (self->stack, "empty");
      return;
    }
  for (guint i = 0; i < models->len; i++)
    {
      const TernStoreModel *model = g_ptr_array_index (models, i);
      Request *check = request_new (self);

      check->id = model->id;
      check->name = g_strdup (model->name);
      tern_service_check_model (self->service, model->id, self->cancellable, got_check, check);
    }
  show_models (self, g_steal_pointer (&models));
}

void
tern_library_page_reload (TernLibraryPage *self)
{
  g_return_if_fail (TERN_IS_LIBRARY_PAGE (self));

  Request *request = request_new (self);

  request->serial = ++self->serial;
  tern_service_list_models (self->service, self->cancellable, got_models, request);
}

/* The loaded model's file changed on disk while in use: its row shows it,
 * as the checks of a new listing find. */
static void
on_model_damaged (TernService *service, gint64 id, const GError *error, TernLibraryPage *self)
{
  tern_library_page_reload (self);
}

/* ---- Adding ---- */

static void
got_added (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr (Request) request = data;
  g_autoptr (GError) error = NULL;
  gint64 id = tern_service_add_model_finish (TERN_SERVICE (source), result, &error);
  TernLibraryPage *self = request_page (request);

  if (self == NULL)
    return;
  if (id == 0)
    {
      emit_error (self, _("%s is not a usable model: %s"), request->name, error->message);
      return;
    }
  tern_library_page_reload (self);
  g_signal_emit (self, signals[SIGNAL_MODEL_ADDED], 0, id);
}

void
tern_library_page_add_file (TernLibraryPage *self, GFile *file)
{
  g_return_if_fail (TERN_IS_LIBRARY_PAGE (self));
  g_return_if_fail (G_IS_FILE (file));

  g_autofree char *path = g_file_get_path (file);

  if (path == NULL)
    {
      g_autofree char *name = g_file_get_parse_name (file);
      emit_error (self, _("%s is not on this computer: only local files can be added"), name);
      return;
    }

  Request *request = request_new (self);

  request->name = g_filename_display_basename (path);
  tern_service_add_model (self->service, path, self->cancellable, got_added, request);
}

static void
chooser_response (GtkNativeDialog *chooser, int response, TernLibraryPage *self)
{
  g_autoptr (GListModel) files = NULL;

  if (response == GTK_RESPONSE_ACCEPT)
    files = gtk_file_chooser_get_files (GTK_FILE_CHOOSER (chooser));
  g_clear_object (&self->chooser);
  for (guint i = 0; files != NULL && i < g_list_model_get_n_items (files); i++)
    {
      g_autoptr (GFile) file = g_list_model_get_item (files, i);
      tern_library_page_add_file (self, file);
    }
}

static void
add_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  TernLibraryPage *self = TERN_LIBRARY_PAGE (widget);

  if (self->chooser != NULL)
    {
      gtk_native_dialog_show (self->chooser);
      return;
    }

  GtkFileChooserNative *chooser = gtk_file_chooser_native_new (_("Add a Model"), parent_window (self),
                                                               GTK_FILE_CHOOSER_ACTION_OPEN, _("_Add"), _("_Cancel"));
  GtkFileFilter *filter = gtk_file_filter_new ();

  gtk_file_filter_set_name (filter, _("GGUF models"));
  gtk_file_filter_add_suffix (filter, "gguf");
  gtk_file_filter_add_mime_type (filter, "application/x-gguf");
  gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (chooser), filter);
  g_object_unref (filter);
  gtk_file_chooser_set_select_multiple (GTK_FILE_CHOOSER (chooser), TRUE);
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (chooser), TRUE);
  g_signal_connect (chooser, "response", G_CALLBACK (chooser_response), self);
  self->chooser = GTK_NATIVE_DIALOG (chooser);
  gtk_native_dialog_show (self->chooser);
}

static gboolean
on_drop (GtkDropTarget *target, const GValue *value, double x, double y, TernLibraryPage *self)
{
  g_autoptr (GSList) files = gdk_file_list_get_files (g_value_get_boxed (value));

  for (GSList *l = files; l != NULL; l = l->next)
    tern_library_page_add_file (self, l->data);
  return files != NULL;
}

static void
on_current_drop (GtkDropTarget *target, GParamSpec *pspec, TernLibraryPage *self)
{
  gtk_revealer_set_reveal_child (self->drop_revealer, gtk_drop_target_get_current_drop (target) != NULL);
}

/* ---- Use, details ---- */

static void
use_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  TernLibraryPage *self = TERN_LIBRARY_PAGE (widget);
  const TernStoreModel *model = find_model (self, g_variant_get_int64 (parameter));

  if (model == NULL)
    return;
  /* A copy: a handler may have the library read again. */
  g_autofree char *path = g_strdup (model->path);
  g_signal_emit (self, signals[SIGNAL_MODEL_ACTIVATED], 0, model->id, path);
}

static void
details_status (TernModelDetails *details, GParamSpec *pspec, TernLibraryPage *self)
{
  int status = tern_model_details_get_status (details);
  gint64 *id = g_object_get_data (G_OBJECT (details), "tern-model-id");

  /* The dialog checked the file just now: the row says the same. */
  if (status >= 0)
    record_status (self, *id, status);
}

static void
details_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  TernLibraryPage *self = TERN_LIBRARY_PAGE (widget);
  gint64 id = g_variant_get_int64 (parameter);
  const TernStoreModel *model = find_model (self, id);

  if (model == NULL)
    return;

  GtkWidget *details = tern_model_details_new (parent_window (self), self->service, model);

  g_object_set_data_full (G_OBJECT (details), "tern-model-id", g_memdup2 (&id, sizeof id), g_free);
  g_signal_connect_object (details, "notify::status", G_CALLBACK (details_status), self, 0);
  gtk_window_present (GTK_WINDOW (details));
}

/* ---- Compressing ---- */

static void
compress_use (TernCompressDialog *dialog, gint64 id, TernLibraryPage *self)
{
  gtk_widget_activate_action (GTK_WIDGET (self), "library.use", "x", id);
}

static void
compress_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  TernLibraryPage *self = TERN_LIBRARY_PAGE (widget);
  const TernStoreModel *model = find_model (self, g_variant_get_int64 (parameter));

  if (model == NULL)
    return;

  GtkWidget *dialog = tern_compress_dialog_new (parent_window (self), self->service, model);

  /* The new model joins the list as soon as it is in the library. */
  g_signal_connect_object (dialog, "compressed", G_CALLBACK (tern_library_page_reload), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (dialog, "use", G_CALLBACK (compress_use), self, 0);
  gtk_window_present (GTK_WINDOW (dialog));
}

/* ---- Renaming ---- */

static void
got_renamed (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr (Request) request = data;
  g_autoptr (GError) error = NULL;
  gboolean renamed = tern_service_rename_model_finish (TERN_SERVICE (source), result, &error);
  TernLibraryPage *self = request_page (request);

  if (self == NULL)
    return;
  if (!renamed)
    {
      emit_error (self, _("Could not rename %s: %s"), request->name, error->message);
      return;
    }
  tern_library_page_reload (self);
  g_signal_emit (self, signals[SIGNAL_MODEL_RENAMED], 0, request->id);
}

/* The request a dialog holds, when it was answered with @expected and its
 * page is still there (@self); NULL otherwise. */
static Request *
take_request (AdwMessageDialog *dialog, const char *response, const char *expected, TernLibraryPage **self)
{
  Request *request;

  if (g_strcmp0 (response, expected) != 0)
    return NULL;
  request = g_object_steal_data (G_OBJECT (dialog), "tern-request");
  if (request == NULL)
    return NULL;
  *self = request_page (request);
  if (*self == NULL)
    {
      request_free (request);
      return NULL;
    }
  return request;
}

static void
rename_response (AdwMessageDialog *dialog, const char *response, GtkEditable *entry)
{
  TernLibraryPage *self;
  Request *request = take_request (dialog, response, "rename", &self);

  if (request == NULL)
    return;
  tern_service_rename_model (self->service, request->id, gtk_editable_get_text (entry), self->cancellable,
                             got_renamed, request);
}

/* No empty names: the store refuses them. */
static void
rename_changed (GtkEditable *entry, AdwMessageDialog *dialog)
{
  g_autofree char *name = g_strstrip (g_strdup (gtk_editable_get_text (entry)));

  adw_message_dialog_set_response_enabled (dialog, "rename", name[0] != '\0');
}

static void
rename_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  TernLibraryPage *self = TERN_LIBRARY_PAGE (widget);
  const TernStoreModel *model = find_model (self, g_variant_get_int64 (parameter));

  if (model == NULL)
    return;

  g_autofree char *heading = g_strdup_printf (_("Rename %s?"), model->name);
  GtkWidget *dialog = adw_message_dialog_new (parent_window (self), heading,
                                              _("The new name is kept in the library; the file keeps its name."));
  GtkWidget *entry = gtk_entry_new ();
  Request *request = request_new (self);

  request->id = model->id;
  request->name = g_strdup (model->name);
  g_object_set_data_full (G_OBJECT (dialog), "tern-request", request, (GDestroyNotify) request_free);

  gtk_editable_set_text (GTK_EDITABLE (entry), model->name);
  gtk_entry_set_activates_default (GTK_ENTRY (entry), TRUE);
  gtk_accessible_update_property (GTK_ACCESSIBLE (entry), GTK_ACCESSIBLE_PROPERTY_LABEL, _("Name"), -1);
  gtk_window_set_modal (GTK_WINDOW (dialog), TRUE);
  gtk_window_set_destroy_with_parent (GTK_WINDOW (dialog), TRUE);
  adw_message_dialog_set_body_use_markup (ADW_MESSAGE_DIALOG (dialog), FALSE);
  adw_message_dialog_set_extra_child (ADW_MESSAGE_DIALOG (dialog), entry);
  adw_message_dialog_add_responses (ADW_MESSAGE_DIALOG (dialog), "cancel", _("_Cancel"), "rename", _("_Rename"), NULL);
  adw_message_dialog_set_response_appearance (ADW_MESSAGE_DIALOG (dialog), "rename", ADW_RESPONSE_SUGGESTED);
  adw_message_dialog_set_default_response (ADW_MESSAGE_DIALOG (dialog), "rename");
  adw_message_dialog_set_close_response (ADW_MESSAGE_DIALOG (dialog), "cancel");
  g_signal_connect (entry, "changed", G_CALLBACK (rename_changed), dialog);
  g_signal_connect (dialog, "response", G_CALLBACK (rename_response), entry);
  gtk_window_present (GTK_WINDOW (dialog));
  gtk_widget_grab_focus (entry);
}

/* ---- Removing ---- */

static void
got_trashed (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr (Request) request = data;
  g_autoptr (GError) error = NULL;
  TernLibraryPage *self = request_page (request);

  if (!g_file_trash_finish (G_FILE (source), result, &error) && self != NULL)
    emit_error (self, _("%s was removed from the library, but its file could not be moved to the trash: %s"),
                request->name, error->message);
}

static void
got_removed (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr (Request) request = data;
  g_autoptr (GError) error = NULL;
  gboolean removed = tern_service_remove_model_finish (TERN_SERVICE (source), result, &error);
  TernLibraryPage *self = request_page (request);

  if (!removed)
    {
      if (self != NULL)
        {
          emit_error (self, _("Could not remove %s from the library: %s"), request->name, error->message);
          tern_library_page_reload (self);
        }
      return;
    }
  if (self != NULL)
    tern_library_page_reload (self);
  if (request->path != NULL)
    {
      /* Even when the page is gone: the user asked for it, and the
       * model has left the library. */
      g_autoptr (GFile) file = g_file_new_for_path (request->path);
      g_file_trash_async (file, G_PRIORITY_DEFAULT, NULL, got_trashed, g_steal_pointer (&request));
    }
}

static void
remove_response (AdwMessageDialog *dialog, const char *response, GtkCheckButton *trash)
{
  TernLibraryPage *self;
  Request *request = take_request (dialog, response, "remove", &self);

  if (request == NULL)
    return;
  if (!gtk_check_button_get_active (trash))
    g_clear_pointer (&request->path, g_free);
  /* Listings in flight show the library as it was: drop them, and their
   * checks, which would ask about a model no longer there. */
  self->serial++;
  tern_service_remove_model (self->service, request->id, self->cancellable, got_removed, request);
}

static void
remove_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  TernLibraryPage *self = TERN_LIBRARY_PAGE (widget);
  const TernStoreModel *model = find_model (self, g_variant_get_int64 (parameter));

  if (model == NULL)
    return;

  g_autofree char *heading = g_strdup_printf (_("Remove %s from the library?"), model->name);
  GtkWidget *dialog = adw_message_dialog_new (parent_window (self), heading,
                                              _("Its conversations are kept, without the model state saved with "
                                                "them. The file stays where it is unless you move it to the trash."));
  GtkWidget *trash = gtk_check_button_new_with_mnemonic (_("Also move the _file to the trash"));
  Request *request = request_new (self);

  request->id = model->id;
  request->name = g_strdup (model->name);
  request->path = g_strdup (model->path);
  g_object_set_data_full (G_OBJECT (dialog), "tern-request", request, (GDestroyNotify) request_free);

  gtk_window_set_modal (GTK_WINDOW (dialog), TRUE);
  gtk_window_set_destroy_with_parent (GTK_WINDOW (dialog), TRUE);
  adw_message_dialog_set_body_use_markup (ADW_MESSAGE_DIALOG (dialog), FALSE);
  adw_message_dialog_set_extra_child (ADW_MESSAGE_DIALOG (dialog), trash);
  adw_message_dialog_add_responses (ADW_MESSAGE_DIALOG (dialog), "cancel", _("_Cancel"), "remove", _("_Remove"), NULL);
  adw_message_dialog_set_response_appearance (ADW_MESSAGE_DIALOG (dialog), "remove", ADW_RESPONSE_DESTRUCTIVE);
  adw_message_dialog_set_default_response (ADW_MESSAGE_DIALOG (dialog), "cancel");
  adw_message_dialog_set_close_response (ADW_MESSAGE_DIALOG (dialog), "cancel");
  g_signal_connect (dialog, "response", G_CALLBACK (remove_response), trash);
  gtk_window_present (GTK_WINDOW (dialog));
}

/* ---- The object ---- */

static void
tern_library_page_dispose (GObject *object)
{
  TernLibraryPage *self = TERN_LIBRARY_PAGE (object);

  /* Answers still to come find the page gone. */
  g_cancellable_cancel (self->cancellable);
  if (self->chooser != NULL)
    {
      g_signal_handlers_disconnect_by_data (self->chooser, self);
      gtk_native_dialog_destroy (self->chooser);
      g_clear_object (&self->chooser);
    }
  /* AdwBin unparents its child itself; the rows go with the list. */
  g_hash_table_remove_all (self->rows);
  if (self->service != NULL)
    g_signal_handlers_disconnect_by_data (self->service, self);
  g_clear_object (&self->service);
  g_clear_pointer (&self->models, g_ptr_array_unref);
  G_OBJECT_CLASS (tern_library_page_parent_class)->dispose (object);
}

static void
tern_library_page_finalize (GObject *object)
{
  TernLibraryPage *self = TERN_LIBRARY_PAGE (object);

  g_hash_table_unref (self->rows);
  g_hash_table_unref (self->status);
  g_object_unref (self->cancellable);
  G_OBJECT_CLASS (tern_library_page_parent_class)->finalize (object);
}

static void
tern_library_page_class_init (TernLibraryPageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = tern_library_page_dispose;
  object_class->finalize = tern_library_page_finalize;

  signals[SIGNAL_MODEL_ACTIVATED] = g_signal_new ("model-activated", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                                                  NULL, NULL, NULL, G_TYPE_NONE, 2, G_TYPE_INT64, G_TYPE_STRING);
  signals[SIGNAL_MODEL_ADDED] = g_signal_new ("model-added", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                                              NULL, NULL, G_TYPE_NONE, 1, G_TYPE_INT64);
  signals[SIGNAL_MODEL_RENAMED] = g_signal_new ("model-renamed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                                                NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_INT64);
  signals[SIGNAL_ERROR] = g_signal_new ("error", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                        G_TYPE_NONE, 1, G_TYPE_STRING);

  gtk_widget_class_set_template_from_resource (widget_class, "/io/github/ternapp/Tern/ui/tern-library-page.ui");
  gtk_widget_class_bind_template_child (widget_class, TernLibraryPage, stack);
  gtk_widget_class_bind_template_child (widget_class, TernLibraryPage, list);
  gtk_widget_class_bind_template_child (widget_class, TernLibraryPage, add_button);
  gtk_widget_class_bind_template_child (widget_class, TernLibraryPage, empty_add_button);
  gtk_widget_class_bind_template_child (widget_class, TernLibraryPage, drop_revealer);

  gtk_widget_class_install_action (widget_class, "library.add", NULL, add_action);
  gtk_widget_class_install_action (widget_class, "library.use", "x", use_action);
  gtk_widget_class_install_action (widget_class, "library.rename", "x", rename_action);
  gtk_widget_class_install_action (widget_class, "library.details", "x", details_action);
  gtk_widget_class_install_action (widget_class, "library.compress", "x", compress_action);
  gtk_widget_class_install_action (widget_class, "library.remove", "x", remove_action);
}

static void
tern_library_page_init (TernLibraryPage *self)
{
  GtkDropTarget *drop = gtk_drop_target_new (GDK_TYPE_FILE_LIST, GDK_ACTION_COPY);

  gtk_widget_init_template (GTK_WIDGET (self));
  self->cancellable = g_cancellable_new ();
  self->rows = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  self->status = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);

  /* GTK marks the page :drop(active) while files hover it, which Adwaita
   * outlines; the revealer says what dropping does. */
  g_signal_connect (drop, "drop", G_CALLBACK (on_drop), self);
  g_signal_connect (drop, "notify::current-drop", G_CALLBACK (on_current_drop), self);
  gtk_widget_add_controller (GTK_WIDGET (self), GTK_EVENT_CONTROLLER (drop));
}

GtkWidget *
tern_library_page_new (TernService *service)
{
  g_return_val_if_fail (TERN_IS_SERVICE (service), NULL);

  TernLibraryPage *self = g_object_new (TERN_TYPE_LIBRARY_PAGE, NULL);

  self->service = g_object_ref (service);
  g_signal_connect (service, "model-damaged", G_CALLBACK (on_model_damaged), self);
  g_signal_connect (service, "notify::model-id", G_CALLBACK (on_model_id), self);
  tern_library_page_reload (self);
  return GTK_WIDGET (self);
}
