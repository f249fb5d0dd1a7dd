/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

/* A corpus of malformed GGUF files, each paired with the engine error code
 * the reader must give and a part of its message naming what is at fault.
 * Built in memory; used by the reader's tests and written out as a fuzzing
 * seed corpus by make-malformed-gguf. */

typedef struct {
  char *name;      /* what is wrong, e.g. "dim-zero" */
  GBytes *bytes;
  int error_code;  /* a TernEngineError */
  char *message;   /* in the error message: the key, tensor or field at fault */
} MalformedGguf;

/* A small valid file: two tensors (F32 and Q8_0) and metadata of every
 * type; its last tensor ends exactly at the end of the file, so cutting
 * any byte off makes it invalid. */
GBytes *malformed_gguf_valid (void);

/* Returns a GPtrArray of MalformedGguf (freed with the array). */
GPtrArray *malformed_gguf_corpus (void);

/* Small valid vocabulary-only files, one per tokenizer model ("llama" and
 * "gpt2"): seeds from which a fuzzer reaches the tokenizer. A GPtrArray of
 * MalformedGguf whose error_code is -1 (none) and message NULL. They have
 * no tensors, and their metadata ends with a scalar. */
GPtrArray *malformed_gguf_tokenizer_seeds (void);

/* Valid files of several layouts, to truncate and corrupt: the one above
 * ("valid"), one with padding between its tensor infos and its data
 * ("valid-padded"), one with general.alignment 64 ("valid-aligned-64"),
 * and the tokenizer seeds. A GPtrArray of MalformedGguf whose error_code
 * is -1 and message NULL. */
GPtrArray *malformed_gguf_valid_files (void);
