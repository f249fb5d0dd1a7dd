/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Sampling settings: a plain value the store keeps with each conversation
 * and the sampler (engine/model/sampler.c) runs with. */
#include <tern/error.h>
#include <tern/sampler-params.h>

#include <float.h>
#include <math.h>

void
tern_sampler_params_init (TernSamplerParams *params)
{
  g_return_if_fail (params != NULL);

  *params = (TernSamplerParams) {
    .temperature = 0.8f,
    .top_k = 40,
    .top_p = 0.95f,
    .min_p = 0.05f,
    .repeat_penalty = 1.0f,
    .repeat_last_n = 64,
    .frequency_penalty = 0.0f,
    .presence_penalty = 0.0f,
    .seed = TERN_SAMPLER_SEED_RANDOM,
  };
}

gboolean
tern_sampler_params_validate (const TernSamplerParams *p, GError **error)
{
  const char *name = NULL;
  const char *rule = NULL;
  double value = 0;

  g_return_val_if_fail (p != NULL, FALSE);

  /* Written so that NaN fails every check. */
  if (!isfinite (p->temperature))
    name = "temperature", rule = "must be a finite number", value = p->temperature;
  else if (p->top_k < 0)
    name = "top_k", rule = "must not be negative", value = p->top_k;
  else if (!(p->top_p >= 0.0f && p->top_p <= 1.0f))
    name = "top_p", rule = "must be between 0 and 1", value = p->top_p;
  else if (!(p->min_p >= 0.0f && p->min_p <= 1.0f))
    name = "min_p", rule = "must be between 0 and 1", value = p->min_p;
  else if (!(p->repeat_penalty > 0.0f && p->repeat_penalty <= FLT_MAX))
    name = "repeat_penalty", rule = "must be a finite number above 0", value = p->repeat_penalty;
  else if (p->repeat_last_n < 0 || p->repeat_last_n > TERN_SAMPLER_MAX_LAST_N)
    name = "repeat_last_n", rule = "must be between 0 and " G_STRINGIFY (TERN_SAMPLER_MAX_LAST_N),
    value = p->repeat_last_n;
  else if (!isfinite (p->frequency_penalty))
    name = "frequency_penalty", rule = "must be a finite number", value = p->frequency_penalty;
  else if (!isfinite (p->presence_penalty))
    name = "presence_penalty", rule = "must be a finite number", value = p->presence_penalty;

  if (name == NULL)
    return TRUE;
  g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_INVALID,
               "Sampler parameter %s %s (got %g)", name, rule, value);
  return FALSE;
}
