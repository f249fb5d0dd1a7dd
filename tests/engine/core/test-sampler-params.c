/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Sampler parameters: the defaults, what validation refuses, and what the
 * sampler does with them. */
#include <tern/error.h>
#include <tern/sampler.h>

#include <math.h>
#include <string.h>

static void
test_params_defaults (void)
{
  TernSamplerParams p;
  g_autoptr (GError) error = NULL;
  g_autoptr (TernSampler) s = NULL;

  tern_sampler_params_init (&p);
  g_assert_cmpfloat (p.temperature, ==, 0.8f);
  g_assert_cmpint (p.top_k, ==, 40);
  g_assert_cmpfloat (p.top_p, ==, 0.95f);
  g_assert_cmpfloat (p.min_p, ==, 0.05f);
  g_assert_cmpfloat (p.repeat_penalty, ==, 1.0f);
  g_assert_cmpint (p.repeat_last_n, ==, 64);
  g_assert_cmpfloat (p.frequency_penalty, ==, 0.0f);
  g_assert_cmpfloat (p.presence_penalty, ==, 0.0f);
  g_assert_cmpuint (p.seed, ==, TERN_SAMPLER_SEED_RANDOM);
  g_assert_true (tern_sampler_params_validate (&p, &error));
  g_assert_no_error (error);

  /* A random seed is chosen once and reported. */
  s = tern_sampler_new (&p, 100);
  g_assert_cmpuint (tern_sampler_get_params (s)->seed, !=, TERN_SAMPLER_SEED_RANDOM);
  g_assert_cmpint (tern_sampler_get_params (s)->top_k, ==, 40);
  g_assert_cmpint (tern_sampler_get_n_vocab (s), ==, 100);
}

static void
expect_invalid (const TernSamplerParams *p, const char *name)
{
  g_autoptr (GError) error = NULL;

  g_assert_false (tern_sampler_params_validate (p, &error));
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, name));
}

static void
test_params_invalid (void)
{
  TernSamplerParams good, p;

  tern_sampler_params_init (&good);

  p = good, p.temperature = NAN;
  expect_invalid (&p, "temperature");
  p = good, p.temperature = INFINITY;
  expect_invalid (&p, "temperature");
  p = good, p.top_k = -1;
  expect_invalid (&p, "top_k");
  p = good, p.top_p = 1.5f;
  expect_invalid (&p, "top_p");
  p = good, p.top_p = -0.1f;
  expect_invalid (&p, "top_p");
  p = good, p.top_p = NAN;
  expect_invalid (&p, "top_p");
  p = good, p.min_p = 2.0f;
  expect_invalid (&p, "min_p");
  p = good, p.min_p = NAN;
  expect_invalid (&p, "min_p");
  p = good, p.repeat_penalty = 0.0f;
  expect_invalid (&p, "repeat_penalty");
  p = good, p.repeat_penalty = INFINITY;
  expect_invalid (&p, "repeat_penalty");
  p = good, p.repeat_last_n = -1;
  expect_invalid (&p, "repeat_last_n");
  p = good, p.repeat_last_n = TERN_SAMPLER_MAX_LAST_N + 1;
  expect_invalid (&p, "repeat_last_n");
  p = good, p.frequency_penalty = NAN;
  expect_invalid (&p, "frequency_penalty");
  p = good, p.presence_penalty = -INFINITY;
  expect_invalid (&p, "presence_penalty");

  /* Edges that are allowed. */
  p = good, p.temperature = -1.0f, p.top_k = 0, p.top_p = 0.0f, p.min_p = 1.0f;
  p.repeat_last_n = 0, p.frequency_penalty = -2.0f, p.presence_penalty = 2.0f;
  g_assert_true (tern_sampler_params_validate (&p, NULL));

  if (g_test_undefined ())
    {
      p = good, p.top_p = 2.0f;
      g_test_expect_message (NULL, G_LOG_LEVEL_CRITICAL, "*validate*");
      g_assert_null (tern_sampler_new (&p, 10));
      g_test_assert_expected_messages ();
      g_test_expect_message (NULL, G_LOG_LEVEL_CRITICAL, "*n_vocab > 0*");
      g_assert_null (tern_sampler_new (&good, 0));
      g_test_assert_expected_messages ();
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/engine/sampler/params/defaults", test_params_defaults);
  g_test_add_func ("/engine/sampler/params/invalid", test_params_invalid);
  return g_test_run ();
}
