/* SPDX-License-Identifier: GPL-3.0-or-later */
/* TernMarkdownView: one child widget per block of tern_markdown_parse,
 * kept in step with the blocks by comparing the old list with the new. */
#include "tern-markdown-view.h"

#include "tern-markdown.h"

#include <glib/gi18n.h>
#include <string.h>

/* How long the copy button shows that it copied. */
#define COPIED_FEEDBACK_MS 1500

#define BLOCK_SPACING 12

/* A block and the widget that shows it. */
typedef struct {
  TernMarkdownBlock *block; /* owned */
  GtkWidget *widget;        /* the child: a label, a frame or a separator */
  gboolean has_links;       /* TEXT: the label holds links, so Tab visits it */
  GtkWidget *code_label;    /* CODE */
  GtkWidget *language_label;
  GtkWidget *copy_button;
  guint copied_id;  /* CODE: restores the copy button's icon */
  GtkWidget *grid;  /* TABLE: the cells' labels */
} Entry;

struct _TernMarkdownView
{
  GtkWidget parent_instance;

  char *text;
  GPtrArray *entries; /* Entry, in the order of the children */
  GRegex *highlight;  /* the terms highlighted, or NULL */
};

enum {
  PROP_0,
  PROP_TEXT,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

G_DEFINE_FINAL_TYPE (TernMarkdownView, tern_markdown_view, GTK_TYPE_WIDGET)

/* ---- Entries ---- */

static void
entry_free (Entry *entry)
{
  g_clear_handle_id (&entry->copied_id, g_source_remove);
  if (entry->copy_button != NULL)
    g_signal_handlers_disconnect_by_data (entry->copy_button, entry);
  gtk_widget_unparent (entry->widget);
  tern_markdown_block_free (entry->block);
  g_free (entry);
}

static gboolean
restore_copy_icon (gpointer data)
{
  Entry *entry = data;

  entry->copied_id = 0;
  gtk_button_set_icon_name (GTK_BUTTON (entry->copy_button), "edit-copy-symbolic");
  return G_SOURCE_REMOVE;
}

static void
on_copy_clicked (GtkButton *button, Entry *entry)
{
  gdk_clipboard_set_text (gtk_widget_get_clipboard (GTK_WIDGET (button)), entry->block->text);

  gtk_button_set_icon_name (button, "object-select-symbolic");
  g_clear_handle_id (&entry->copied_id, g_source_remove);
  entry->copied_id = g_timeout_add (COPIED_FEEDBACK_MS, restore_copy_icon, entry);
}

static void
update_code_language (Entry *entry)
{
  const char *language = entry->block->language;
  g_autofree char *name = language != NULL ? g_strdup_printf (_("Code, %s"), language) : g_strdup (_("Code"));

  gtk_label_set_text (GTK_LABEL (entry->language_label), language != NULL ? language : "");
  gtk_accessible_update_property (GTK_ACCESSIBLE (entry->widget), GTK_ACCESSIBLE_PROPERTY_LABEL, name, -1);
}

static void
update_text_label (Entry *entry)
{
  gtk_label_set_markup (GTK_LABEL (entry->widget), entry->block->text);
  /* Escaped input never contains "<a ": only the links the parser wrote. */
  entry->has_links = strstr (entry->block->text, "<a ") != NULL;
}

static GtkWidget *
new_text_label (void)
{
  GtkWidget *label = gtk_label_new (NULL);

  gtk_label_set_wrap (GTK_LABEL (label), TRUE);
  gtk_label_set_wrap_mode (GTK_LABEL (label), PANGO_WRAP_WORD_CHAR);
  gtk_label_set_xalign (GTK_LABEL (label), 0.0);
  gtk_label_set_selectable (GTK_LABEL (label), TRUE);
  gtk_label_set_use_markup (GTK_LABEL (label), TRUE);
  return label;
}

static GtkWidget *
new_code_block (Entry *entry)
{
  GtkWidget *frame = gtk_frame_new (NULL);
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 0);
  GtkWidget *header = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 6);
  GtkWidget *scrolled = gtk_scrolled_window_new ();

  gtk_widget_add_css_class (frame, "code-block");
  gtk_frame_set_child (GTK_FRAME (frame), box);

  gtk_widget_add_css_class (header, "code-header");
  gtk_box_append (GTK_BOX (box), header);

  entry->language_label = gtk_label_new (NULL);
  gtk_label_set_xalign (GTK_LABEL (entry->language_label), 0.0);
  gtk_label_set_ellipsize (GTK_LABEL (entry->language_label), PANGO_ELLIPSIZE_END);
  gtk_widget_set_hexpand (entry->language_label, TRUE);
  gtk_widget_set_margin_start (entry->language_label, 12);
  gtk_widget_add_css_class (entry->language_label, "dim-label");
  gtk_widget_add_css_class (entry->language_label, "caption");
  gtk_box_append (GTK_BOX (header), entry->language_label);

  entry->copy_button = gtk_button_new_from_icon_name ("edit-copy-symbolic");
  gtk_widget_add_css_class (entry->copy_button, "flat");
  gtk_widget_set_tooltip_text (entry->copy_button, _("Copy code"));
  gtk_accessible_update_property (GTK_ACCESSIBLE (entry->copy_button), GTK_ACCESSIBLE_PROPERTY_LABEL, _("Copy code"),
                                  -1);
  gtk_widget_set_margin_top (entry->copy_button, 2);
  gtk_widget_set_margin_bottom (entry->copy_button, 2);
  gtk_widget_set_margin_end (entry->copy_button, 2);
  g_signal_connect (entry->copy_button, "clicked", G_CALLBACK (on_copy_clicked), entry);
  gtk_box_append (GTK_BOX (header), entry->copy_button);

  /* Long lines scroll sideways rather than widening the conversation; the
   * block is always as tall as its code. */
  gtk_scrolled_window_set_policy (GTK_SCROLLED_WINDOW (scrolled), GTK_POLICY_AUTOMATIC, GTK_POLICY_NEVER);
  gtk_box_append (GTK_BOX (box), scrolled);

  entry->code_label = gtk_label_new (NULL);
  gtk_label_set_xalign (GTK_LABEL (entry->code_label), 0.0);
  gtk_label_set_yalign (GTK_LABEL (entry->code_label), 0.0);
  gtk_label_set_selectable (GTK_LABEL (entry->code_label), TRUE);
  gtk_widget_add_css_class (entry->code_label, "monospace");
  gtk_widget_set_margin_start (entry->code_label, 12);
  gtk_widget_set_margin_end (entry->code_label, 12);
  gtk_widget_set_margin_top (entry->code_label, 4);
  /* Room for the overlay scrollbar below the last line. */
  gtk_widget_set_margin_bottom (entry->code_label, 12);
  gtk_scrolled_window_set_child (GTK_SCROLLED_WINDOW (scrolled), entry->code_label);

  return frame;
}

/* Marks @highlight's matches in @label's text with a background, over its
 * markup's own styles. */
static void
highlight_label (GtkWidget *label, GRegex *highlight)
{
  g_autoptr (PangoAttrList) attributes = NULL;
  g_autoptr (GMatchInfo) match = NULL;

  if (highlight != NULL && g_regex_match (highlight, gtk_label_get_text (GTK_LABEL (label)), 0, &match))
    {
      attributes = pango_attr_list_new ();
      for (; g_match_info_matches (match); g_match_info_next (match, NULL))
        {
          PangoAttribute *attribute = pango_attr_background_new (0xf600, 0xd300, 0x2d00);
          PangoAttribute *color = pango_attr_foreground_new (0, 0, 0);
          int start, end;

          g_match_info_fetch_pos (match, 0, &start, &end);
          attribute->start_index = color->start_index = start;
          attribute->end_index = color->end_index = end;
          pango_attr_list_insert (attributes, attribute);
          pango_attr_list_insert (attributes, color);
        }
    }
  if (attributes != NULL || gtk_label_get_attributes (GTK_LABEL (label)) != NULL)
    gtk_label_set_attributes (GTK_LABEL (label), attributes);
}

static void
entry_highlight (Entry *entry, GRegex *highlight)
{
  switch (entry->block->kind)
    {
    case TERN_MARKDOWN_BLOCK_TEXT:
      highlight_label (entry->widget, highlight);
      break;
    case TERN_MARKDOWN_BLOCK_CODE:
      highlight_label (entry->code_label, highlight);
      break;
    case TERN_MARKDOWN_BLOCK_TABLE:
      for (GtkWidget *cell = gtk_widget_get_first_child (entry->grid); cell != NULL;
           cell = gtk_widget_get_next_sibling (cell))
        highlight_label (cell, highlight);
      break;
    case TERN_MARKDOWN_BLOCK_RULE:
    default:
      break;
    }
}

static float
xalign_of (TernMarkdownAlign alignment)
{
  switch (alignment)
    {
    case TERN_MARKDOWN_ALIGN_CENTER:
      return 0.5f;
    case TERN_MARKDOWN_ALIGN_RIGHT:
      return 1.0f;
    case TERN_MARKDOWN_ALIGN_LEFT:
    case TERN_MARKDOWN_ALIGN_NONE:
    default:
      return 0.0f;
    }
}

/* Shows the table's cells in the grid, reusing the labels already there:
 * a table being streamed gains rows at its end. */
static void
update_table (Entry *entry)
{
  const TernMarkdownBlock *block = entry->block;
  GtkGrid *grid = GTK_GRID (entry->grid);
  gboolean has_links = FALSE;
  guint n_cells = block->n_rows * block->n_columns;
  GtkWidget *child;

  for (guint i = 0; i < n_cells; i++)
    {
      int column = (int) (i % block->n_columns);
      int row = (int) (i / block->n_columns);
      GtkWidget *label = gtk_grid_get_child_at (grid, column, row);
      g_autofree char *markup = row == 0 ? g_strdup_printf ("<b>%s</b>", block->cells[i]) : g_strdup (block->cells[i]);

      if (label == NULL)
        {
          /* Cells do not wrap: the scrolled window would size the grid
           * for its narrowest width, each cell a column of letters, and a
           * wide table scrolls sideways instead. */
          label = gtk_label_new (NULL);
          gtk_label_set_selectable (GTK_LABEL (label), TRUE);
          gtk_widget_add_css_class (label, row == 0 ? "table-header" : "table-cell");
          gtk_grid_attach (grid, label, column, row, 1, 1);
        }
      if (g_strcmp0 (gtk_label_get_label (GTK_LABEL (label)), markup) != 0)
        gtk_label_set_markup (GTK_LABEL (label), markup);
      gtk_label_set_xalign (GTK_LABEL (label), xalign_of (block->alignments[column]));
      gtk_widget_set_halign (label, GTK_ALIGN_FILL);
      has_links = has_links || strstr (block->cells[i], "<a ") != NULL;
    }

  /* Cells beyond the table: a column or rows that went away. */
  child = gtk_widget_get_first_child (entry->grid);
  while (child != NULL)
    {
      GtkWidget *next = gtk_widget_get_next_sibling (child);
      int column, row;

      gtk_grid_query_child (grid, child, &column, &row, NULL, NULL);
      if ((guint) column >= block->n_columns || (guint) row >= block->n_rows)
        gtk_grid_remove (grid, child);
      child = next;
    }
  entry->has_links = has_links;
}

static GtkWidget *
new_table (Entry *entry)
{
  GtkWidget *scrolled = gtk_scrolled_window_new ();

  entry->grid = gtk_grid_new ();
  gtk_grid_set_column_spacing (GTK_GRID (entry->grid), 18);
  gtk_grid_set_row_spacing (GTK_GRID (entry->grid), 6);
  gtk_widget_set_margin_bottom (entry->grid, 12);
  gtk_accessible_update_property (GTK_ACCESSIBLE (entry->grid), GTK_ACCESSIBLE_PROPERTY_LABEL, _("Table"), -1);

  /* A wide table scrolls sideways rather than widening the conversation. */
  gtk_scrolled_window_set_policy (GTK_SCROLLED_WINDOW (scrolled), GTK_POLICY_AUTOMATIC, GTK_POLICY_NEVER);
  gtk_scrolled_window_set_propagate_natural_width (GTK_SCROLLED_WINDOW (scrolled), TRUE);
  gtk_widget_add_css_class (scrolled, "markdown-table");
  gtk_scrolled_window_set_child (GTK_SCROLLED_WINDOW (scrolled), entry->grid);
  return scrolled;
}

/* A new entry taking @block, its widget not yet in the view. */
static Entry *
entry_new (TernMarkdownBlock *block)
{
  Entry *entry = g_new0 (Entry, 1);

  entry->block = block;
  switch (block->kind)
    {
    case TERN_MARKDOWN_BLOCK_TEXT:
      entry->widget = new_text_label ();
      update_text_label (entry);
      break;
    case TERN_MARKDOWN_BLOCK_CODE:
      entry->widget = new_code_block (entry);
      gtk_label_set_text (GTK_LABEL (entry->code_label), block->text);
      update_code_language (entry);
      break;
    case TERN_MARKDOWN_BLOCK_TABLE:
      entry->widget = new_table (entry);
      update_table (entry);
      break;
    case TERN_MARKDOWN_BLOCK_RULE:
    default:
      entry->widget = gtk_separator_new (GTK_ORIENTATION_HORIZONTAL);
      break;
    }
  return entry;
}

/* Shows @block, of the same kind as the entry's, in the entry's widget.
 * Returns the entry's old block, now the caller's. */
static TernMarkdownBlock *
entry_update (Entry *entry, TernMarkdownBlock *block)
{
  TernMarkdownBlock *old = entry->block;

  entry->block = block;
  switch (block->kind)
    {
    case TERN_MARKDOWN_BLOCK_TEXT:
      update_text_label (entry);
      break;
    case TERN_MARKDOWN_BLOCK_CODE:
      if (g_strcmp0 (old->text, block->text) != 0)
        gtk_label_set_text (GTK_LABEL (entry->code_label), block->text);
      if (g_strcmp0 (old->language, block->language) != 0)
        update_code_language (entry);
      break;
    case TERN_MARKDOWN_BLOCK_TABLE:
      update_table (entry);
      break;
    case TERN_MARKDOWN_BLOCK_RULE:
    default:
      break;
    }
  return old;
}

/* Where Tab stops in the entry, NULL for nowhere: a code block's copy
 * button and a label's links; plain text is for reading and mouse
 * selection. */
static GtkWidget *
entry_tab_target (Entry *entry)
{
  switch (entry->block->kind)
    {
    case TERN_MARKDOWN_BLOCK_TEXT:
      return entry->has_links ? entry->widget : NULL;
    case TERN_MARKDOWN_BLOCK_CODE:
      return entry->copy_button;
    case TERN_MARKDOWN_BLOCK_TABLE:
      return entry->has_links ? entry->widget : NULL;
    case TERN_MARKDOWN_BLOCK_RULE:
    default:
      return NULL;
    }
}

/* ---- The view ---- */

static void
apply_highlight (TernMarkdownView *self)
{
  for (guint i = 0; i < self->entries->len; i++)
    entry_highlight (g_ptr_array_index (self->entries, i), self->highlight);
}

void
tern_markdown_view_set_highlight (TernMarkdownView *self, const char *const *terms)
{
  g_autoptr (GString) pattern = g_string_new (NULL);

  g_return_if_fail (TERN_IS_MARKDOWN_VIEW (self));

  for (guint i = 0; terms != NULL && terms[i] != NULL; i++)
    {
      g_autofree char *escaped = NULL;

      if (terms[i][0] == '\0')
        continue;
      escaped = g_regex_escape_string (terms[i], -1);
      if (pattern->len > 0)
        g_string_append_c (pattern, '|');
      g_string_append (pattern, escaped);
    }

  g_clear_pointer (&self->highlight, g_regex_unref);
  if (pattern->len > 0)
    self->highlight = g_regex_new (pattern->str, G_REGEX_CASELESS | G_REGEX_OPTIMIZE, 0, NULL);
  if (self->entries != NULL)
    apply_highlight (self);
}

void
tern_markdown_view_set_text (TernMarkdownView *self, const char *text)
{
  GtkWidget *widget = GTK_WIDGET (self);
  g_autoptr (GPtrArray) blocks = NULL;
  guint i;

  g_return_if_fail (TERN_IS_MARKDOWN_VIEW (self));

  if (text == NULL)
    text = "";
  if (g_strcmp0 (self->text, text) == 0)
    return;

  g_free (self->text);
  self->text = g_strdup (text);

  /* Disposed: there are no widgets to update. */
  if (self->entries == NULL)
    {
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TEXT]);
      return;
    }

  /* Blocks taken from @blocks are replaced by NULL or by the entry's old
   * block, which the array then frees. */
  blocks = tern_markdown_parse (text);
  for (i = 0; i < blocks->len; i++)
    {
      TernMarkdownBlock *block = g_ptr_array_index (blocks, i);

      if (i < self->entries->len)
        {
          Entry *entry = g_ptr_array_index (self->entries, i);

          if (tern_markdown_block_equal (entry->block, block))
            continue;
          if (entry->block->kind == block->kind)
            {
              blocks->pdata[i] = entry_update (entry, block);
            }
          else
            {
              Entry *fresh = entry_new (block);

              blocks->pdata[i] = NULL;
              gtk_widget_insert_after (fresh->widget, widget, entry->widget);
              self->entries->pdata[i] = fresh;
              entry_free (entry);
            }
        }
      else
        {
          Entry *fresh = entry_new (block);

          blocks->pdata[i] = NULL;
          gtk_widget_insert_before (fresh->widget, widget, NULL);
          g_ptr_array_add (self->entries, fresh);
        }
    }
  if (self->entries->len > blocks->len)
    g_ptr_array_remove_range (self->entries, blocks->len, self->entries->len - blocks->len);
  if (self->highlight != NULL)
    apply_highlight (self);

  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TEXT]);
}

const char *
tern_markdown_view_get_text (TernMarkdownView *self)
{
  g_return_val_if_fail (TERN_IS_MARKDOWN_VIEW (self), NULL);

  return self->text;
}

GtkWidget *
tern_markdown_view_new (void)
{
  return g_object_new (TERN_TYPE_MARKDOWN_VIEW, NULL);
}

/* Moves focus between the children that take Tab (see entry_tab_target).
 * From a child that has focus, a label with links first moves between its
 * links, and a clicked code label goes back to its copy button. */
static gboolean
tern_markdown_view_focus (GtkWidget *widget, GtkDirectionType direction)
{
  TernMarkdownView *self = TERN_MARKDOWN_VIEW (widget);
  GtkWidget *focus_child = gtk_widget_get_focus_child (widget);
  gboolean backward = direction == GTK_DIR_TAB_BACKWARD || direction == GTK_DIR_UP || direction == GTK_DIR_LEFT;
  gint n = (gint) self->entries->len;
  gint step = backward ? -1 : 1;
  gint i = backward ? n - 1 : 0;

  if (focus_child != NULL)
    {
      Entry *entry = NULL;

      for (i = 0; i < n; i++)
        {
          entry = g_ptr_array_index (self->entries, i);
          if (entry->widget == focus_child)
            break;
        }
      if (i == n)
        return gtk_widget_child_focus (focus_child, direction);

      if ((entry->block->kind == TERN_MARKDOWN_BLOCK_TEXT || entry->block->kind == TERN_MARKDOWN_BLOCK_TABLE)
          && gtk_widget_child_focus (focus_child, direction))
        return TRUE;
      if (entry->block->kind == TERN_MARKDOWN_BLOCK_CODE && backward && !gtk_widget_has_focus (entry->copy_button)
          && gtk_widget_child_focus (entry->copy_button, direction))
        return TRUE;
      i += step;
    }

  for (; i >= 0 && i < n; i += step)
    {
      GtkWidget *target = entry_tab_target (g_ptr_array_index (self->entries, i));

      if (target != NULL && gtk_widget_child_focus (target, direction))
        return TRUE;
    }
  return FALSE;
}

static void
tern_markdown_view_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  TernMarkdownView *self = TERN_MARKDOWN_VIEW (object);

  switch (prop_id)
    {
    case PROP_TEXT:
      g_value_set_string (value, self->text);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
tern_markdown_view_set_property (GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  TernMarkdownView *self = TERN_MARKDOWN_VIEW (object);

  switch (prop_id)
    {
    case PROP_TEXT:
      tern_markdown_view_set_text (self, g_value_get_string (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
tern_markdown_view_dispose (GObject *object)
{
  TernMarkdownView *self = TERN_MARKDOWN_VIEW (object);

  /* Unparents the children. */
  g_clear_pointer (&self->entries, g_ptr_array_unref);

  G_OBJECT_CLASS (tern_markdown_view_parent_class)->dispose (object);
}

static void
tern_markdown_view_finalize (GObject *object)
{
  TernMarkdownView *self = TERN_MARKDOWN_VIEW (object);

  g_free (self->text);
  g_clear_pointer (&self->highlight, g_regex_unref);

  G_OBJECT_CLASS (tern_markdown_view_parent_class)->finalize (object);
}

static void
tern_markdown_view_class_init (TernMarkdownViewClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->get_property = tern_markdown_view_get_property;
  object_class->set_property = tern_markdown_view_set_property;
  object_class->dispose = tern_markdown_view_dispose;
  object_class->finalize = tern_markdown_view_finalize;

  widget_class->focus = tern_markdown_view_focus;

  properties[PROP_TEXT] =
    g_param_spec_string ("text", NULL, NULL, "", G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BOX_LAYOUT);
  gtk_widget_class_set_css_name (widget_class, "markdown-view");
}

static void
tern_markdown_view_init (TernMarkdownView *self)
{
  GtkLayoutManager *layout = gtk_widget_get_layout_manager (GTK_WIDGET (self));

  gtk_orientable_set_orientation (GTK_ORIENTABLE (layout), GTK_ORIENTATION_VERTICAL);
  gtk_box_layout_set_spacing (GTK_BOX_LAYOUT (layout), BLOCK_SPACING);

  self->text = g_strdup ("");
  self->entries = g_ptr_array_new_with_free_func ((GDestroyNotify) entry_free);
}
