/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "tern-list-items.h"

#include "tern-model-details.h"

/* ---- TernMessageItem ---- */

struct _TernMessageItem {
  GObject parent_instance;
  gint64 id;
  gint64 parent_id;
  TernRole role;
  GString *content;
  gboolean complete;
  gboolean streaming;
  gboolean stopped;      /* streamed here and stopped before its end */
  gboolean reading;      /* the message it answers is being read */
  gint n_read, n_total;  /* of the prompt's tokens, while reading (n_total 0: not known yet) */
  gint n_branches;
  gint branch_index;
  GStrv highlight;
};

G_DEFINE_FINAL_TYPE (TernMessageItem, tern_message_item, G_TYPE_OBJECT)

enum {
  MESSAGE_PROP_0,
  MESSAGE_PROP_CONTENT,
  MESSAGE_PROP_STREAMING,
  MESSAGE_PROP_N_BRANCHES,
  MESSAGE_PROP_HIGHLIGHT,
  MESSAGE_PROP_READING,
  MESSAGE_N_PROPS,
};

static GParamSpec *message_properties[MESSAGE_N_PROPS];

static void
tern_message_item_finalize (GObject *object)
{
  TernMessageItem *self = TERN_MESSAGE_ITEM (object);

  g_string_free (self->content, TRUE);
  g_strfreev (self->highlight);
  G_OBJECT_CLASS (tern_message_item_parent_class)->finalize (object);
}

static void
tern_message_item_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  TernMessageItem *self = TERN_MESSAGE_ITEM (object);

  switch (prop_id)
    {
    case MESSAGE_PROP_CONTENT:
      g_value_set_string (value, self->content->str);
      break;
    case MESSAGE_PROP_STREAMING:
      g_value_set_boolean (value, self->streaming);
      break;
    case MESSAGE_PROP_READING:
      g_value_set_boolean (value, self->reading);
      break;
    case MESSAGE_PROP_N_BRANCHES:
      g_value_set_int (value, self->n_branches);
      break;
    case MESSAGE_PROP_HIGHLIGHT:
      g_value_set_boxed (value, self->highlight);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
tern_message_item_class_init (TernMessageItemClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GParamFlags ro = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY;

  object_class->finalize = tern_message_item_finalize;
  object_class->get_property = tern_message_item_get_property;
  message_properties[MESSAGE_PROP_CONTENT] = g_param_spec_string ("content", NULL, NULL, "", ro);
  message_properties[MESSAGE_PROP_STREAMING] = g_param_spec_boolean ("streaming", NULL, NULL, FALSE, ro);
  /* Also notified when the place among the branches or completeness changes. */
  /* Notified on each step of the reading too. */
  message_properties[MESSAGE_PROP_READING] = g_param_spec_boolean ("reading", NULL, NULL, FALSE, ro);
  message_properties[MESSAGE_PROP_N_BRANCHES] = g_param_spec_int ("n-branches", NULL, NULL, 1, G_MAXINT, 1, ro);
  message_properties[MESSAGE_PROP_HIGHLIGHT] = g_param_spec_boxed ("highlight", NULL, NULL, G_TYPE_STRV, ro);
  g_object_class_install_properties (object_class, MESSAGE_N_PROPS, message_properties);
}

static void
tern_message_item_init (TernMessageItem *self)
{
  self->content = g_string_new (NULL);
  self->complete = TRUE;
  self->n_branches = 1;
}

TernMessageItem *
tern_message_item_new (const TernMessage *message)
{
  TernMessageItem *self = g_object_new (TERN_TYPE_MESSAGE_ITEM, NULL);

  self->id = message->id;
  self->parent_id = message->parent_id;
  self->role = message->role;
  g_string_assign (self->content, message->content);
  self->complete = message->complete;
  self->n_branches = MAX (message->n_branches, 1);
  self->branch_index = message->branch_index;
  return self;
}

gboolean
tern_message_item_update (TernMessageItem *self, const TernMessage *message)
{
  if (message->id != self->id)
    return FALSE;
  if (!g_str_equal (self->content->str, message->content))
    {
      g_string_assign (self->content, message->content);
      g_object_notify_by_pspec (G_OBJECT (self), message_properties[MESSAGE_PROP_CONTENT]);
    }
  if (self->n_branches != MAX (message->n_branches, 1) || self->branch_index != message->branch_index ||
      self->complete != message->complete)
    {
      self->n_branches = MAX (message->n_branches, 1);
      self->branch_index = message->branch_index;
      self->complete = message->complete;
      g_object_notify_by_pspec (G_OBJECT (self), message_properties[MESSAGE_PROP_N_BRANCHES]);
    }
  return TRUE;
}

TernMessageItem *
tern_message_item_new_reply (gint64 id, gint64 parent_id)
{
  TernMessageItem *self = g_object_new (TERN_TYPE_MESSAGE_ITEM, NULL);

  self->id = id;
  self->parent_id = parent_id;
  self->role = TERN_ROLE_ASSISTANT;
  self->complete = FALSE;
  self->streaming = TRUE;
  return self;
}

gint64
tern_message_item_get_id (TernMessageItem *self)
{
  return self->id;
}

gint64
tern_message_item_get_parent_id (TernMessageItem *self)
{
  return self->parent_id;
}

TernRole
tern_message_item_get_role (TernMessageItem *self)
{
  return self->role;
}

const char *
tern_message_item_get_content (TernMessageItem *self)
{
  return self->content->str;
}

void
tern_message_item_append (TernMessageItem *self, const char *text)
{
  if (text[0] == '\0')
    return;
  g_string_append (self->content, text);
  g_object_notify_by_pspec (G_OBJECT (self), message_properties[MESSAGE_PROP_CONTENT]);
}

gboolean
tern_message_item_get_complete (TernMessageItem *self)
{
  return self->complete;
}

gboolean
tern_message_item_get_stopped (TernMessageItem *self)
{
  return self->stopped;
}

gboolean
tern_message_item_get_streaming (TernMessageItem *self)
{
  return self->streaming;
}

TernMessageItem *
tern_message_item_new_reading (void)
{
  TernMessageItem *self = tern_message_item_new_reply (-1, 0);

  self->reading = TRUE;
  return self;
}

void
tern_message_item_set_reading (TernMessageItem *self, gint n_read, gint n_total)
{
  if (!self->reading || (self->n_read == n_read && self->n_total == n_total))
    return;
  self->n_read = n_read;
  self->n_total = n_total;
  g_object_notify_by_pspec (G_OBJECT (self), message_properties[MESSAGE_PROP_READING]);
}

gboolean
tern_message_item_get_reading (TernMessageItem *self, gint *n_read, gint *n_total)
{
  if (n_read)
    *n_read = self->n_read;
  if (n_total)
    *n_total = self->n_total;
  return self->reading;
}

void
tern_message_item_finish (TernMessageItem *self, gboolean incomplete)
{
  self->complete = TRUE;
  self->stopped = incomplete;
  if (!self->streaming)
    return;
  self->streaming = FALSE;
  g_object_notify_by_pspec (G_OBJECT (self), message_properties[MESSAGE_PROP_STREAMING]);
}

gint
tern_message_item_get_n_branches (TernMessageItem *self)
{
  return self->n_branches;
}

gint
tern_message_item_get_branch_index (TernMessageItem *self)
{
  return self->branch_index;
}

const char *const *
tern_message_item_get_highlight (TernMessageItem *self)
{
  return (const char *const *) self->highlight;
}

void
tern_message_item_set_highlight (TernMessageItem *self, const char *const *terms)
{
  if (terms == NULL && self->highlight == NULL)
    return;
  g_strfreev (self->highlight);
  self->highlight = g_strdupv ((char **) terms);
  g_object_notify_by_pspec (G_OBJECT (self), message_properties[MESSAGE_PROP_HIGHLIGHT]);
}

/* ---- TernConversationItem ---- */

struct _TernConversationItem {
  GObject parent_instance;
  TernConversation *conversation; /* NULL for a search hit */
  gint64 id;
  char *title;
  char *snippet;
  gint64 message_id;
  gint64 updated_at;
};

G_DEFINE_FINAL_TYPE (TernConversationItem, tern_conversation_item, G_TYPE_OBJECT)

enum {
  CONVERSATION_PROP_0,
  CONVERSATION_PROP_TITLE,
  CONVERSATION_N_PROPS,
};

static GParamSpec *conversation_properties[CONVERSATION_N_PROPS];

static void
tern_conversation_item_finalize (GObject *object)
{
  TernConversationItem *self = TERN_CONVERSATION_ITEM (object);

  g_clear_pointer (&self->conversation, tern_conversation_free);
  g_free (self->title);
  g_free (self->snippet);
  G_OBJECT_CLASS (tern_conversation_item_parent_class)->finalize (object);
}

static void
tern_conversation_item_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  TernConversationItem *self = TERN_CONVERSATION_ITEM (object);

  switch (prop_id)
    {
    case CONVERSATION_PROP_TITLE:
      g_value_set_string (value, self->title);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
tern_conversation_item_class_init (TernConversationItemClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = tern_conversation_item_finalize;
  object_class->get_property = tern_conversation_item_get_property;
  conversation_properties[CONVERSATION_PROP_TITLE] =
      g_param_spec_string ("title", NULL, NULL, "", G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  g_object_class_install_properties (object_class, CONVERSATION_N_PROPS, conversation_properties);
}

static void
tern_conversation_item_init (TernConversationItem *self)
{
}

TernConversationItem *
tern_conversation_item_new (const TernConversation *conversation)
{
  TernConversationItem *self = g_object_new (TERN_TYPE_CONVERSATION_ITEM, NULL);

  self->conversation = g_new (TernConversation, 1);
  *self->conversation = *conversation;
  self->conversation->title = g_strdup (conversation->title);
  self->conversation->system_prompt = g_strdup (conversation->system_prompt);
  self->id = conversation->id;
  self->title = g_strdup (conversation->title);
  self->updated_at = conversation->updated_at;
  return self;
}

TernConversationItem *
tern_conversation_item_new_hit (const TernSearchHit *hit)
{
  TernConversationItem *self = g_object_new (TERN_TYPE_CONVERSATION_ITEM, NULL);

  self->id = hit->conversation_id;
  self->title = g_strdup (hit->title);
  self->snippet = g_strdup (hit->snippet);
  self->message_id = hit->message_id;
  self->updated_at = hit->created_at;
  return self;
}

void
tern_conversation_items_replace (GListStore *store, GPtrArray *conversations)
{
  g_autoptr (GPtrArray) items = g_ptr_array_new_with_free_func (g_object_unref);

  for (guint i = 0; i < conversations->len; i++)
    g_ptr_array_add (items, tern_conversation_item_new (conversations->pdata[i]));
  g_list_store_splice (store, 0, g_list_model_get_n_items (G_LIST_MODEL (store)), items->pdata, items->len);
}

gint64
tern_conversation_item_get_id (TernConversationItem *self)
{
  return self->id;
}

const char *
tern_conversation_item_get_title (TernConversationItem *self)
{
  return self->title;
}

void
tern_conversation_item_set_title (TernConversationItem *self, const char *title)
{
  if (g_strcmp0 (self->title, title) == 0)
    return;
  g_free (self->title);
  self->title = g_strdup (title);
  if (self->conversation)
    {
      g_free (self->conversation->title);
      self->conversation->title = g_strdup (title);
    }
  g_object_notify_by_pspec (G_OBJECT (self), conversation_properties[CONVERSATION_PROP_TITLE]);
}

const char *
tern_conversation_item_get_snippet (TernConversationItem *self)
{
  return self->snippet;
}

gint64
tern_conversation_item_get_message_id (TernConversationItem *self)
{
  return self->message_id;
}

gint64
tern_conversation_item_get_updated_at (TernConversationItem *self)
{
  return self->updated_at;
}

const TernConversation *
tern_conversation_item_get_conversation (TernConversationItem *self)
{
  return self->conversation;
}

/* ---- TernModelItem ---- */

struct _TernModelItem {
  GObject parent_instance;
  gint64 id;
  char *name;
  char *path;
  char *label;
};

G_DEFINE_FINAL_TYPE (TernModelItem, tern_model_item, G_TYPE_OBJECT)

enum {
  MODEL_PROP_0,
  MODEL_PROP_NAME,
  MODEL_PROP_LABEL,
  MODEL_N_PROPS,
};

static GParamSpec *model_properties[MODEL_N_PROPS];

static void
tern_model_item_finalize (GObject *object)
{
  TernModelItem *self = TERN_MODEL_ITEM (object);

  g_free (self->name);
  g_free (self->path);
  g_free (self->label);
  G_OBJECT_CLASS (tern_model_item_parent_class)->finalize (object);
}

static void
tern_model_item_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  TernModelItem *self = TERN_MODEL_ITEM (object);

  switch (prop_id)
    {
    case MODEL_PROP_NAME:
      g_value_set_string (value, self->name);
      break;
    case MODEL_PROP_LABEL:
      g_value_set_string (value, self->label);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
tern_model_item_class_init (TernModelItemClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = tern_model_item_finalize;
  object_class->get_property = tern_model_item_get_property;
  /* Read by the model menu's GtkPropertyExpression. */
  model_properties[MODEL_PROP_NAME] =
      g_param_spec_string ("name", NULL, NULL, "", G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  model_properties[MODEL_PROP_LABEL] =
      g_param_spec_string ("label", NULL, NULL, "", G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, MODEL_N_PROPS, model_properties);
}

static void
tern_model_item_init (TernModelItem *self)
{
}

TernModelItem *
tern_model_item_new (const TernStoreModel *model)
{
  TernModelItem *self = g_object_new (TERN_TYPE_MODEL_ITEM, NULL);

  self->id = model->id;
  self->name = g_strdup (model->name);
  self->path = g_strdup (model->path);
  self->label = tern_model_label (model);
  return self;
}

gint64
tern_model_item_get_id (TernModelItem *self)
{
  return self->id;
}

const char *
tern_model_item_get_name (TernModelItem *self)
{
  return self->name;
}

const char *
tern_model_item_get_path (TernModelItem *self)
{
  return self->path;
}

const char *
tern_model_item_get_label (TernModelItem *self)
{
  return self->label;
}
