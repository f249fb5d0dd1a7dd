/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The service tests' fixture (service-fixture.c): the fixture model, a
 * data folder, the main loop, what the service reported, and synchronous
 * wrappers of its requests. */
#pragma once

#include <tern/service.h>

#define MODEL "kjv-tiny-q4_k_m.gguf"
#define N_CTX 256
/* What a hang fails after (the compression tests give more: calibrated
 * compression under AddressSanitizer on a 2-core AVX2 machine takes over
 * two minutes). */
#ifndef TIMEOUT_S
#define TIMEOUT_S 120
#endif

/* One test's world: a data folder, the main loop, and what the service
 * reported. */
typedef struct {
  char *dir;
  char *db;
  char *model;
  GMainLoop *loop;
  guint timeout;
  GAsyncResult *result; /* of the last request, until the next one */
  gboolean done;

  GString *deltas;
  guint n_deltas;
  gint64 started_id, started_parent;
  guint n_finished;
  gint64 finished_id;
  gboolean finished_incomplete;
  double last_fraction;
  guint n_progress;
  int progress_phase; /* TernServicePhase; -1: none yet */
  GError *error;
  guint n_notify_generating;

  /* On the first delta: shut down. */
  gboolean shutdown_on_delta;
  char *notice;
  gint64 damaged_id;    /* "model-damaged" */
  GError *damaged_error;
} Fixture;

void fixture_init (Fixture *f);
void fixture_clear (Fixture *f);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Fixture, fixture_clear)
/* The callback of every request: keeps its result in the fixture. */
void got_result (GObject *source, GAsyncResult *result, gpointer data);
/* Runs the main loop until the request made with got_result completes;
 * the fixture keeps its result until the next request. */
GAsyncResult *await (Fixture *f);
/* Drops the last result, which holds a reference to the service. */
void release (Fixture *f);
/* A service on @db whose signals the fixture records. */
TernService *service_new (Fixture *f, const char *db);
/* Synchronous requests, each checked to succeed. */
gint64 load (Fixture *f, TernService *service);
gint64 new_conversation (Fixture *f, TernService *service);
TernResumeKind open_conversation (Fixture *f, TernService *service, gint64 id);
gint64 send (Fixture *f, TernService *service, const char *text, gint max_tokens);
GPtrArray *messages (Fixture *f, TernService *service, gint64 conversation);
TernMessage *last_message (Fixture *f, TernService *service, gint64 conversation);
