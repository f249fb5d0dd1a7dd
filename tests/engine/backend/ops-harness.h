/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/* What the backend operation test's files share: the device under test,
 * checking values against a reference, and backends, models and buffers
 * made for one operation. */

#include "backend/backend.h"
#include "hand-model.h"

G_BEGIN_DECLS

/* Uneven work splits show with more threads than one. */
#define N_THREADS 3

/* The batch sizes each operation runs: 1, 7 and 64 rows. */
#define N_BATCHES 3
extern const gint32 batches[N_BATCHES];

/* A device and, for the CPU, a kernel level (TERN_KERNEL_BEST elsewhere);
 * for Vulkan, whether the matrix products take their integer path. */
typedef struct {
  const TernDevice *device;
  TernKernelLevel level;
  gboolean int_dot;
} Target;

/* Whether the test can run on @t: FALSE, the case skipped saying why, for
 * a kernel level the CPU lacks or integer dot products the device lacks. */
gboolean target_runs (const Target *t);

/* Values of one operation checked against their reference. */
typedef struct {
  const char *what;
  guint n_checked, n_bad;
  double worst; /* the largest error as a fraction of its tolerance */
} Check;

/* Counts @got as bad when it is further than @tol from @want (or NaN),
 * saying where (@format) for the first few. */
void check (Check *c, float got, double want, double tol, const char *format, ...) G_GNUC_PRINTF (5, 6);
/* Fails the test case when a value was bad, or none was checked. */
void check_done (Check *c);

/* A llama of two layers; tests change what they need. */
TernHParams hparams (gint32 n_embd, gint32 n_head, gint32 n_head_kv, gint32 head_dim);

/* A backend on @t's device for @m's weights, every layer acquired as while
 * a forward pass runs; backend_close releases them and frees it. */
TernBackend *backend_open (const Target *t, HandModel *m, gint32 n_ctx, TernType kv_type);
void backend_close (TernBackend *b, HandModel *m);

/* begin, and submit checking it succeeds. */
void begin (TernBackend *b);
void submit (TernBackend *b);

/* A buffer of @rows × @cols holding @data (unset when NULL). */
TernBuf *buf_new (TernBackend *b, gint64 rows, gint64 cols, const float *data);
/* Rows @row.. (@count) of @buf read back; g_free them. */
float *buf_read (TernBackend *b, const TernBuf *buf, gint32 row, gint32 count, gint64 cols);

/* @n floats uniform in [@lo, @hi]; g_free them. */
float *random_floats (GRand *rand, gsize n, double lo, double hi);

/* RoPE's variants: adjacent or NEOX pairs, with and without Llama 3's
 * frequency divisors, and rotating part of each head with other bases and
 * a linear scaling. */
typedef struct {
  const char *name;
  gboolean neox, freqs;
  gint32 n_rot;
  float base, scale;
} RopeShape;

#define N_ROPE_SHAPES 6
extern const RopeShape rope_shapes[N_ROPE_SHAPES];

/* A model of @s's RoPE, 4 query heads and 2 key heads of 64; @freqs: its
 * frequency divisors, or NULL. */
HandModel *rope_model (const RopeShape *s, guint32 seed, const float **freqs);

/* The operations on the KV cache, in test-backend-ops-kv.c. */
void test_attend (gconstpointer data);
void test_attend_shapes (gconstpointer data);
void test_kv_move (gconstpointer data);
void test_kv_save_load (gconstpointer data);

/* Whole passes, in test-backend-ops-passes.c, once per device: stopping
 * one, and a GPU's reuse of its command buffer. */
void test_stop (gconstpointer data);
void test_reuse (gconstpointer data);

G_END_DECLS
