/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The storage trouble page: why the data folder cannot be used, and the
 * ways on. */
#include "tern-storage-page.h"

#include <glib/gi18n.h>
#include <tern/error.h>

struct _TernStoragePage {
  AdwBin parent_instance;

  AdwStatusPage *status;
  GtkWidget *read_only_button;
};

G_DEFINE_FINAL_TYPE (TernStoragePage, tern_storage_page, ADW_TYPE_BIN)

const char *
tern_storage_cause (const GError *error)
{
  if (error == NULL || error->domain != TERN_ENGINE_ERROR)
    return _("The database could not be opened.");
  switch ((TernEngineError) error->code)
    {
    case TERN_ENGINE_ERROR_READ_ONLY:
      return _("Tern cannot write to this folder: it is read-only, or belongs to another user.");
    case TERN_ENGINE_ERROR_FULL:
      return _("The disk holding this folder is full.");
    case TERN_ENGINE_ERROR_LOCKED:
      return _("Another program is keeping the database locked.");
    case TERN_ENGINE_ERROR_FORMAT:
      return _("The database is damaged, or is not a Tern database.");
    case TERN_ENGINE_ERROR_MISMATCH:
      return _("The database was made by a newer version of Tern.");
    case TERN_ENGINE_ERROR_INVALID:
      return _("The database path is not a file.");
    case TERN_ENGINE_ERROR_NOMEM:
      return _("There is not enough memory to open the database.");
    default:
      return _("The database could not be read or written.");
    }
}

/* What the user can do about @error, given whether it can be read. */
static const char *
remedy (const GError *error, gboolean can_read)
{
  if (g_error_matches (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_FULL))
    return can_read ? _("Free some space and try again, open your conversations read-only, or choose another folder.")
                    : _("Free some space and try again, or choose another folder.");
  if (g_error_matches (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_LOCKED))
    return _("Close the other program and try again, or choose another folder.");
  if (g_error_matches (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_MISMATCH))
    return can_read ? _("Update Tern to change it, open it read-only, or choose another folder.")
                    : _("Update Tern to open it, or choose another folder.");
  if (can_read)
    return _("You can still read your conversations, or choose another folder.");
  return _("Choose another folder, or fix the problem and try again.");
}

void
tern_storage_page_update (TernStoragePage *self, const char *folder, const GError *error, gboolean can_read)
{
  g_autoptr (GString) text = g_string_new (NULL);
  g_autofree char *escaped_folder = g_markup_escape_text (folder, -1);

  g_string_append_printf (text, _("Data folder: %s"), escaped_folder);
  g_string_append (text, "\n\n");
  g_string_append (text, tern_storage_cause (error));
  /* The system's own words only where the code says no more than that
   * some I/O failed. */
  if (g_error_matches (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_IO))
    {
      g_autofree char *detail = g_markup_escape_text (error->message, -1);
      g_string_append_printf (text, " (%s)", detail);
    }
  g_string_append (text, "\n");
  g_string_append (text, remedy (error, can_read));
  adw_status_page_set_description (self->status, text->str);
  gtk_widget_set_visible (self->read_only_button, can_read);
}

static GtkWidget *
button (const char *label, const char *tooltip, const char *action, const char *style)
{
  GtkWidget *b = gtk_button_new_with_mnemonic (label);

  gtk_actionable_set_action_name (GTK_ACTIONABLE (b), action);
  gtk_widget_set_tooltip_text (b, tooltip);
  gtk_widget_add_css_class (b, "pill");
  if (style)
    gtk_widget_add_css_class (b, style);
  return b;
}

static void
tern_storage_page_class_init (TernStoragePageClass *klass)
{
}

static void
tern_storage_page_init (TernStoragePage *self)
{
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 12);

  self->status = ADW_STATUS_PAGE (adw_status_page_new ());
  adw_status_page_set_icon_name (self->status, "drive-harddisk-symbolic");
  adw_status_page_set_title (self->status, _("Your Conversations Cannot Be Opened"));
  gtk_widget_set_halign (box, GTK_ALIGN_CENTER);
  self->read_only_button = button (_("Open _Read-Only"), _("Show your conversations without changing anything"),
                                   "app.storage-read-only", "suggested-action");
  gtk_box_append (GTK_BOX (box), self->read_only_button);
  gtk_box_append (GTK_BOX (box), button (_("_Choose Another Folder…"), _("Keep Tern's data in another folder"),
                                         "app.storage-choose-folder", NULL));
  gtk_box_append (GTK_BOX (box), button (_("_Try Again"), _("Open the database again"), "app.storage-retry", NULL));
  gtk_box_append (GTK_BOX (box), button (_("_Quit"), _("Quit Tern"), "app.quit", NULL));
  adw_status_page_set_child (self->status, box);
  adw_bin_set_child (ADW_BIN (self), GTK_WIDGET (self->status));
}

GtkWidget *
tern_storage_page_new (const char *folder, const GError *error, gboolean can_read)
{
  TernStoragePage *self = g_object_new (TERN_TYPE_STORAGE_PAGE, NULL);

  tern_storage_page_update (self, folder, error, can_read);
  return GTK_WIDGET (self);
}
