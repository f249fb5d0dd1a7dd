/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/* What the fuzz targets share: the fixtures they open once per process
 * (TERN_SOURCE_DIR comes from fuzz/meson.build), kept until it exits. */

#include <glib.h>
#include <glib/gstdio.h>
#include <stdlib.h>
#include <tern/context.h>
#include <tern/store.h>

/* The smallest fixture model: a real SentencePiece tokenizer, a chat
 * template, and a forward pass of a few milliseconds. */
#define FUZZ_MODEL_PATH TERN_SOURCE_DIR "/tests/data/models/kjv-tiny-tq1_0.gguf"
#define FUZZ_TEMPLATES_PATH TERN_SOURCE_DIR "/tests/data/chat-templates.json"

static inline TernModel *
fuzz_fixture_model (void)
{
  static TernModel *model;
  g_autoptr (GError) error = NULL;

  if (model == NULL && (model = tern_model_load (FUZZ_MODEL_PATH, NULL, NULL, NULL, &error)) == NULL)
    g_error ("%s", error->message);
  return model;
}

/* A context of @n_ctx tokens on the fixture model, computing on one
 * thread (the same results every run, and no pool to start per input). */
static inline TernContext *
fuzz_fixture_context (gint32 n_ctx)
{
  g_autoptr (GError) error = NULL;
  TernContextParams params;
  TernContext *ctx;

  tern_context_params_init (&params);
  params.n_ctx = n_ctx;
  params.n_threads = 1;
  if ((ctx = tern_context_new (fuzz_fixture_model (), &params, &error)) == NULL)
    g_error ("%s", error->message);
  return ctx;
}

static char *fuzz_store_dir;

static inline void
fuzz_remove_store (void)
{
  g_autoptr (GDir) dir = g_dir_open (fuzz_store_dir, 0, NULL);
  const char *name;

  while (dir && (name = g_dir_read_name (dir)))
    {
      g_autofree char *path = g_build_filename (fuzz_store_dir, name, NULL);
      g_remove (path);
    }
  g_rmdir (fuzz_store_dir);
}

/* An empty database in a folder of its own, removed when the process
 * exits. */
static inline TernStore *
fuzz_fixture_store (void)
{
  g_autoptr (GError) error = NULL;
  TernStore *store;

  if ((fuzz_store_dir = g_dir_make_tmp ("tern-fuzz-XXXXXX", &error)) == NULL)
    g_error ("%s", error->message);
  atexit (fuzz_remove_store);
  g_autofree char *path = g_build_filename (fuzz_store_dir, "tern.db", NULL);
  if ((store = tern_store_open (path, &error)) == NULL)
    g_error ("%s", error->message);
  return store;
}
