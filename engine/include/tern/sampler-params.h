/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The sampler's settings (tern/sampler.h says what each does): a plain
 * value that conversations keep in the store. The functions are pure and
 * may be called from any thread, e.g. to check settings in the UI. */

/* Pass as the seed to get a random one, chosen when the sampler is made. */
#define TERN_SAMPLER_SEED_RANDOM G_MAXUINT64

/* The longest penalty window accepted. */
#define TERN_SAMPLER_MAX_LAST_N 1048576

typedef struct {
  float temperature;       /* <= 0: greedy; must be finite. Default 0.8 */
  gint32 top_k;            /* >= 0; 0 or >= n_vocab keeps all. Default 40 */
  float top_p;             /* in [0, 1]; 1 is off. Default 0.95 */
  float min_p;             /* in [0, 1]; 0 is off. Default 0.05 */
  float repeat_penalty;    /* > 0, finite; 1 is off. Default 1.0 */
  gint32 repeat_last_n;    /* window length, 0..TERN_SAMPLER_MAX_LAST_N; 0 is off. Default 64 */
  float frequency_penalty; /* finite; 0 is off. Default 0 */
  float presence_penalty;  /* finite; 0 is off. Default 0 */
  guint64 seed;            /* default TERN_SAMPLER_SEED_RANDOM */
} TernSamplerParams;

/* Fills @params with the defaults above. */
void tern_sampler_params_init (TernSamplerParams *params);

/* Returns TRUE when @params are usable; otherwise FALSE with an INVALID
 * error naming the first parameter out of range. */
gboolean tern_sampler_params_validate (const TernSamplerParams *params, GError **error);

G_END_DECLS
