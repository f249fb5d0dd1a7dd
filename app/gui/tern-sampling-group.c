/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "tern-sampling-group.h"

#include <math.h>

enum {
  PROP_0,
  PROP_TEMPERATURE,
  PROP_TOP_K,
  PROP_TOP_P,
  PROP_MIN_P,
  PROP_REPEAT_PENALTY,
  PROP_SEED,
  PROP_MAX_TOKENS,
  N_PROPS
};

/* The adjustment behind each numeric property (the seed has its own logic,
 * with the switch), and whether it holds whole numbers. */
static const struct {
  const char *id;
  gboolean integer;
} adjustment_info[N_PROPS] = {
  [PROP_TEMPERATURE] = { "temperature_adjustment", FALSE },
  [PROP_TOP_K] = { "top_k_adjustment", TRUE },
  [PROP_TOP_P] = { "top_p_adjustment", FALSE },
  [PROP_MIN_P] = { "min_p_adjustment", FALSE },
  [PROP_REPEAT_PENALTY] = { "repeat_penalty_adjustment", FALSE },
  [PROP_SEED] = { "seed_adjustment", TRUE },
  [PROP_MAX_TOKENS] = { "max_tokens_adjustment", TRUE },
};

/* The widgets that take their accessible label from their row's title. */
static const char * const labelled_ids[] = {
  "temperature_spin", "top_k_spin", "top_p_spin", "min_p_spin", "repeat_penalty_spin",
  "random_seed_switch", "seed_spin", "max_tokens_spin",
};

struct _TernSamplingGroup
{
  AdwPreferencesGroup parent_instance;

  GtkAdjustment *adjustments[N_PROPS]; /* indexed by property; NULL at PROP_0 */
  GtkSwitch *random_seed_switch;

  TernSamplerParams params; /* from the last set_params: the fields not shown, a seed too large to show */
  gint64 seed;              /* the "seed" property as last notified */
  gboolean seed_kept;       /* params.seed is beyond the spin's range and the user has not changed the seed */
};

static GParamSpec *properties[N_PROPS];

G_DEFINE_FINAL_TYPE (TernSamplingGroup, tern_sampling_group, ADW_TYPE_PREFERENCES_GROUP)

/* The seed the widgets show: -1 for random. */
static gint64
shown_seed (TernSamplingGroup *self)
{
  if (gtk_switch_get_active (self->random_seed_switch))
    return -1;
  return (gint64) gtk_adjustment_get_value (self->adjustments[PROP_SEED]);
}

static void
seed_changed (TernSamplingGroup *self)
{
  gint64 seed = shown_seed (self);

  self->seed_kept = FALSE;
  if (seed == self->seed)
    return;
  self->seed = seed;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SEED]);
}

static void
random_seed_notify_cb (TernSamplingGroup *self)
{
  seed_changed (self);
}

static void
adjustment_value_changed_cb (TernSamplingGroup *self, GtkAdjustment *adjustment)
{
  guint prop_id;

  for (prop_id = PROP_0 + 1; prop_id < N_PROPS; prop_id++)
    if (self->adjustments[prop_id] == adjustment)
      break;
  g_return_if_fail (prop_id < N_PROPS);

  /* A spin button takes typed fractions even with no digits shown; keep
   * whole-number settings whole. Setting the value runs this again. */
  if (adjustment_info[prop_id].integer)
    {
      double value = gtk_adjustment_get_value (adjustment);

      if (value != round (value))
        {
          gtk_adjustment_set_value (adjustment, round (value));
          return;
        }
    }

  if (prop_id == PROP_SEED)
    seed_changed (self);
  else
    g_object_notify_by_pspec (G_OBJECT (self), properties[prop_id]);
}

static void
set_seed (TernSamplingGroup *self, gint64 seed)
{
  if (seed < 0)
    {
      gtk_switch_set_active (self->random_seed_switch, TRUE);
      return;
    }
  gtk_adjustment_set_value (self->adjustments[PROP_SEED], (double) MIN (seed, TERN_SAMPLING_SEED_MAX));
  gtk_switch_set_active (self->random_seed_switch, FALSE);
}

void
tern_label_from_row (GtkWidget *widget)
{
  GtkWidget *row = gtk_widget_get_ancestor (widget, ADW_TYPE_ACTION_ROW);

  g_return_if_fail (row != NULL);
  /* A row also points its activatable widget at its title and subtitle,
   * which GTK 4.8 reads after the label ("Seed Seed"): the label alone. */
  gtk_accessible_reset_relation (GTK_ACCESSIBLE (widget), GTK_ACCESSIBLE_RELATION_LABELLED_BY);
  gtk_accessible_reset_relation (GTK_ACCESSIBLE (widget), GTK_ACCESSIBLE_RELATION_DESCRIBED_BY);
  gtk_accessible_update_property (GTK_ACCESSIBLE (widget),
                                  GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  adw_preferences_row_get_title (ADW_PREFERENCES_ROW (row)),
                                  GTK_ACCESSIBLE_PROPERTY_DESCRIPTION,
                                  adw_action_row_get_subtitle (ADW_ACTION_ROW (row)),
                                  -1);
}

static void
tern_sampling_group_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  TernSamplingGroup *self = TERN_SAMPLING_GROUP (object);

  switch (prop_id)
    {
    case PROP_TEMPERATURE:
    case PROP_TOP_P:
    case PROP_MIN_P:
    case PROP_REPEAT_PENALTY:
      g_value_set_double (value, gtk_adjustment_get_value (self->adjustments[prop_id]));
      break;
    case PROP_TOP_K:
    case PROP_MAX_TOKENS:
      g_value_set_int (value, (gint) gtk_adjustment_get_value (self->adjustments[prop_id]));
      break;
    case PROP_SEED:
      g_value_set_int64 (value, shown_seed (self));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
tern_sampling_group_set_property (GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  TernSamplingGroup *self = TERN_SAMPLING_GROUP (object);

  /* The widgets' signals notify the property, and only on a real change. */
  switch (prop_id)
    {
    case PROP_TEMPERATURE:
    case PROP_TOP_P:
    case PROP_MIN_P:
    case PROP_REPEAT_PENALTY:
      gtk_adjustment_set_value (self->adjustments[prop_id], g_value_get_double (value));
      break;
    case PROP_TOP_K:
    case PROP_MAX_TOKENS:
      gtk_adjustment_set_value (self->adjustments[prop_id], g_value_get_int (value));
      break;
    case PROP_SEED:
      set_seed (self, g_value_get_int64 (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
tern_sampling_group_class_init (TernSamplingGroupClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);
  const GParamFlags flags = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY;
  TernSamplerParams defaults;

  tern_sampler_params_init (&defaults);

  object_class->get_property = tern_sampling_group_get_property;
  object_class->set_property = tern_sampling_group_set_property;

  properties[PROP_TEMPERATURE] =
    g_param_spec_double ("temperature", NULL, NULL, 0, 5, defaults.temperature, flags);
  properties[PROP_TOP_K] =
    g_param_spec_int ("top-k", NULL, NULL, 0, 1000, defaults.top_k, flags);
  properties[PROP_TOP_P] =
    g_param_spec_double ("top-p", NULL, NULL, 0, 1, defaults.top_p, flags);
  properties[PROP_MIN_P] =
    g_param_spec_double ("min-p", NULL, NULL, 0, 1, defaults.min_p, flags);
  properties[PROP_REPEAT_PENALTY] =
    g_param_spec_double ("repeat-penalty", NULL, NULL, 0.5, 2, defaults.repeat_penalty, flags);
  properties[PROP_SEED] =
    g_param_spec_int64 ("seed", NULL, NULL, -1, TERN_SAMPLING_SEED_MAX, -1, flags);
  properties[PROP_MAX_TOKENS] =
    g_param_spec_int ("max-tokens", NULL, NULL, 0, TERN_SAMPLING_MAX_TOKENS_MAX, 1024, flags);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  gtk_widget_class_set_template_from_resource (widget_class, "/io/github/ternapp/Tern/ui/tern-sampling-group.ui");
  for (guint i = PROP_0 + 1; i < N_PROPS; i++)
    gtk_widget_class_bind_template_child_full (widget_class, adjustment_info[i].id, FALSE, 0);
  for (guint i = 0; i < G_N_ELEMENTS (labelled_ids); i++)
    gtk_widget_class_bind_template_child_full (widget_class, labelled_ids[i], FALSE, 0);
  gtk_widget_class_bind_template_child (widget_class, TernSamplingGroup, random_seed_switch);
}

static void
tern_sampling_group_init (TernSamplingGroup *self)
{
  GtkWidget *widget = GTK_WIDGET (self);

  gtk_widget_init_template (widget);
  tern_sampler_params_init (&self->params);

  for (guint i = PROP_0 + 1; i < N_PROPS; i++)
    {
      self->adjustments[i] =
        GTK_ADJUSTMENT (gtk_widget_get_template_child (widget, TERN_TYPE_SAMPLING_GROUP, adjustment_info[i].id));
      g_signal_connect_object (self->adjustments[i], "value-changed", G_CALLBACK (adjustment_value_changed_cb),
                               self, G_CONNECT_SWAPPED);
    }
  g_signal_connect_object (self->random_seed_switch, "notify::active", G_CALLBACK (random_seed_notify_cb),
                           self, G_CONNECT_SWAPPED);
  self->seed = shown_seed (self);

  for (guint i = 0; i < G_N_ELEMENTS (labelled_ids); i++)
    tern_label_from_row (GTK_WIDGET (gtk_widget_get_template_child (widget, TERN_TYPE_SAMPLING_GROUP, labelled_ids[i])));
}

GtkWidget *
tern_sampling_group_new (void)
{
  return g_object_new (TERN_TYPE_SAMPLING_GROUP, NULL);
}

/* @value, or @fallback where @value is NaN or infinite (which the widgets
 * cannot show). */
static double
finite_or (float value, float fallback)
{
  return isfinite (value) ? value : fallback;
}

void
tern_sampling_group_set_params (TernSamplingGroup *self, const TernSamplerParams *params, gint max_tokens)
{
  TernSamplerParams defaults;

  g_return_if_fail (TERN_IS_SAMPLING_GROUP (self));
  g_return_if_fail (params != NULL);

  tern_sampler_params_init (&defaults);
  g_object_freeze_notify (G_OBJECT (self));

  self->params = *params;
  gtk_adjustment_set_value (self->adjustments[PROP_TEMPERATURE], finite_or (params->temperature, 0));
  gtk_adjustment_set_value (self->adjustments[PROP_TOP_K], params->top_k);
  gtk_adjustment_set_value (self->adjustments[PROP_TOP_P], finite_or (params->top_p, defaults.top_p));
  gtk_adjustment_set_value (self->adjustments[PROP_MIN_P], finite_or (params->min_p, defaults.min_p));
  gtk_adjustment_set_value (self->adjustments[PROP_REPEAT_PENALTY],
                            finite_or (params->repeat_penalty, defaults.repeat_penalty));
  if (params->seed == TERN_SAMPLER_SEED_RANDOM)
    set_seed (self, -1);
  else
    set_seed (self, (gint64) MIN (params->seed, (guint64) TERN_SAMPLING_SEED_MAX));
  /* After set_seed, whose signals clear it. */
  self->seed_kept = params->seed != TERN_SAMPLER_SEED_RANDOM && params->seed > (guint64) TERN_SAMPLING_SEED_MAX;
  gtk_adjustment_set_value (self->adjustments[PROP_MAX_TOKENS], max_tokens);

  g_object_thaw_notify (G_OBJECT (self));
}

void
tern_sampling_group_get_params (TernSamplingGroup *self, TernSamplerParams *out, gint *max_tokens)
{
  gint64 seed;

  g_return_if_fail (TERN_IS_SAMPLING_GROUP (self));
  g_return_if_fail (out != NULL);

  *out = self->params;
  out->temperature = (float) gtk_adjustment_get_value (self->adjustments[PROP_TEMPERATURE]);
  out->top_k = (gint32) gtk_adjustment_get_value (self->adjustments[PROP_TOP_K]);
  out->top_p = (float) gtk_adjustment_get_value (self->adjustments[PROP_TOP_P]);
  out->min_p = (float) gtk_adjustment_get_value (self->adjustments[PROP_MIN_P]);
  out->repeat_penalty = (float) gtk_adjustment_get_value (self->adjustments[PROP_REPEAT_PENALTY]);

  seed = shown_seed (self);
  if (seed < 0)
    out->seed = TERN_SAMPLER_SEED_RANDOM;
  else if (!self->seed_kept)
    out->seed = (guint64) seed;

  if (max_tokens != NULL)
    *max_tokens = (gint) gtk_adjustment_get_value (self->adjustments[PROP_MAX_TOKENS]);
}

void
tern_settings_get_sampling (GSettings *settings, TernSamplerParams *out, gint *max_tokens)
{
  gint64 seed;

  g_return_if_fail (G_IS_SETTINGS (settings));
  g_return_if_fail (out != NULL);

  tern_sampler_params_init (out);
  out->temperature = (float) g_settings_get_double (settings, "temperature");
  out->top_k = g_settings_get_int (settings, "top-k");
  out->top_p = (float) g_settings_get_double (settings, "top-p");
  out->min_p = (float) g_settings_get_double (settings, "min-p");
  out->repeat_penalty = (float) g_settings_get_double (settings, "repeat-penalty");
  seed = g_settings_get_int64 (settings, "seed");
  out->seed = seed < 0 ? TERN_SAMPLER_SEED_RANDOM : (guint64) seed;
  if (max_tokens != NULL)
    *max_tokens = g_settings_get_int (settings, "max-tokens");
}
