/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <tern/types.h>

G_BEGIN_DECLS

/* Which type each tensor of a model is written in, when a model is made or
 * converted to a target type: llama-quantize's choices, as data. A tensor's
 * role comes from its llama.cpp name and its number of dimensions; a policy
 * gives the type of each role. The functions are pure and thread-safe. */

typedef enum {
  TERN_TENSOR_ROLE_VECTOR,     /* one dimension: norm weights, biases */
  TERN_TENSOR_ROLE_TOKEN_EMBD, /* token_embd.weight */
  TERN_TENSOR_ROLE_OUTPUT,     /* output.weight */
  TERN_TENSOR_ROLE_LINEAR,     /* every other matrix: attention and feed-forward weights */
  TERN_TENSOR_N_ROLES,
} TernTensorRole;

typedef struct {
  TernType types[TERN_TENSOR_N_ROLES]; /* by TernTensorRole */
} TernTypePolicy;

/* The role of tensor @name of @n_dims dimensions. */
TernTensorRole tern_tensor_role (const char *name, guint32 n_dims);

/* Sets @policy to llama-quantize's plain mix for @type: vectors stay F32;
 * the linear weights are @type; the output matrix is Q6_K for every
 * quantized @type but Q8_0 (float types and Q8_0 keep it as @type); the
 * ternary types (TQ1_0, TQ2_0) keep the token embeddings in Q4_K, the
 * others make them @type. Fields can be changed afterwards: a policy is
 * plain data. */
void tern_type_policy_init (TernTypePolicy *policy, TernType type);

/* The type @policy gives tensor @name of @n_dims dimensions. */
TernType tern_type_policy_choose (const TernTypePolicy *policy, const char *name, guint32 n_dims);

/* The type a tensor of @role gets instead of @type when its rows of
 * @row_len weights are not whole blocks of @type (@type itself when they
 * are), as llama-quantize falls back: Q8_0 for the output matrix; for the
 * others a type of 32-weight blocks of about @type's size, Q4_0 for the
 * ternary types and Q2_K/Q3_K (llama.cpp: IQ4_NL, which Tern cannot
 * write, of the same size) and Q8_0 for Q4_K and Q6_K (llama.cpp: Q5_0
 * and Q8_0); F16 when rows are not whole blocks of that either. */
TernType tern_type_policy_fit_rows (TernType type, TernTensorRole role, gint64 row_len);

G_END_DECLS
