/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>
#include <tern/sampler.h>

G_BEGIN_DECLS

/* TernSamplingGroup: a preferences group editing the sampling settings of
 * a reply: temperature, top-k, top-p, min-p, repeat penalty, seed and the
 * maximum reply length, each a row with a bounded spin button (the seed
 * has a "Random seed" switch as well).
 *
 * Each setting is also a read-write property that follows its widget both
 * ways, notified only when the value really changes, so the group can be
 * bound to the GSettings keys of the same names with g_settings_bind:
 *
 *   "temperature"     double  0 .. 5
 *   "top-k"           int     0 .. 1000
 *   "top-p"           double  0 .. 1
 *   "min-p"           double  0 .. 1
 *   "repeat-penalty"  double  0.5 .. 2
 *   "seed"            int64   -1 (random) .. TERN_SAMPLING_SEED_MAX
 *   "max-tokens"      int     0 (until the context is full) .. 1048576
 *
 * Threads: the main thread only, like every widget. */

/* The largest fixed seed the group shows: every integer up to it is exact
 * in the double of a spin button. */
#define TERN_SAMPLING_SEED_MAX ((gint64) 1 << 53)
/* The largest maximum reply length, in tokens. */
#define TERN_SAMPLING_MAX_TOKENS_MAX 1048576

#define TERN_TYPE_SAMPLING_GROUP (tern_sampling_group_get_type ())
G_DECLARE_FINAL_TYPE (TernSamplingGroup, tern_sampling_group, TERN, SAMPLING_GROUP, AdwPreferencesGroup)

GtkWidget *tern_sampling_group_new (void);

/* Shows @params and @max_tokens in the widgets. Values beyond a widget's
 * range are clamped to it (a temperature below 0, greedy, shows as 0,
 * which is greedy too). The parameters the group does not show
 * (repeat_last_n, frequency_penalty, presence_penalty) are kept as given,
 * and so is a fixed seed above TERN_SAMPLING_SEED_MAX while the user does
 * not change the seed: get_params gives them back unchanged. */
void tern_sampling_group_set_params (TernSamplingGroup *self, const TernSamplerParams *params, gint max_tokens);

/* Fills @out with the values shown, and the hidden ones from the last
 * set_params (the defaults of tern_sampler_params_init before any); a
 * random seed is TERN_SAMPLER_SEED_RANDOM. @max_tokens may be NULL.
 * The widgets' ranges keep the values valid; callers still pass @out
 * through tern_sampler_params_validate before giving it to the engine. */
void tern_sampling_group_get_params (TernSamplingGroup *self, TernSamplerParams *out, gint *max_tokens);

/* Reads the default sampling settings of new conversations from
 * @settings (schema io.github.ternapp.Tern) into @out, starting from
 * tern_sampler_params_init for the parameters the schema does not have.
 * A seed of -1 becomes TERN_SAMPLER_SEED_RANDOM. @max_tokens may be NULL. */
void tern_settings_get_sampling (GSettings *settings, TernSamplerParams *out, gint *max_tokens);

/* Names @widget (a spin button, a switch) after the title of the
 * AdwActionRow it sits in, and describes it with the row's subtitle, so
 * that a screen reader announces "Temperature" rather than a bare number. */
void tern_label_from_row (GtkWidget *widget);

G_END_DECLS
