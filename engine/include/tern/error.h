/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The error domain of every fallible engine call. */
#define TERN_ENGINE_ERROR (tern_engine_error_quark ())

typedef enum {
  TERN_ENGINE_ERROR_IO,          /* reading or writing a file failed */
  TERN_ENGINE_ERROR_FORMAT,      /* a file or input is malformed */
  TERN_ENGINE_ERROR_UNSUPPORTED, /* well-formed, but Tern cannot handle it */
  TERN_ENGINE_ERROR_NOMEM,       /* an allocation the input asked for failed */
  TERN_ENGINE_ERROR_DEVICE,      /* a compute device failed or is missing */
  TERN_ENGINE_ERROR_CANCELLED,   /* the caller cancelled the operation */
  TERN_ENGINE_ERROR_MISMATCH,    /* saved state belongs to another model or version */
  TERN_ENGINE_ERROR_INVALID,     /* an argument is out of range or invalid */
  TERN_ENGINE_ERROR_CONFLICT,    /* another program changed the data meanwhile */
  TERN_ENGINE_ERROR_READ_ONLY,   /* a file or its folder cannot be written (permissions, read-only disk) */
  TERN_ENGINE_ERROR_FULL,        /* the disk is full */
  TERN_ENGINE_ERROR_LOCKED,      /* another program kept a lock longer than the wait allowed */
} TernEngineError;

GQuark tern_engine_error_quark (void);

G_END_DECLS
