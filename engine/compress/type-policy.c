/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The tensor type policy: llama-quantize's choice of type for each tensor
 * of a model (llama.cpp's llama-quant.cpp), kept as data so that making a
 * model and converting one share it. */
#include <tern/type-policy.h>

#include <string.h>

TernTensorRole
tern_tensor_role (const char *name, guint32 n_dims)
{
  g_return_val_if_fail (name != NULL, TERN_TENSOR_ROLE_LINEAR);

  if (n_dims <= 1)
    return TERN_TENSOR_ROLE_VECTOR;
  if (strcmp (name, "token_embd.weight") == 0)
    return TERN_TENSOR_ROLE_TOKEN_EMBD;
  if (strcmp (name, "output.weight") == 0)
    return TERN_TENSOR_ROLE_OUTPUT;
  return TERN_TENSOR_ROLE_LINEAR;
}

void
tern_type_policy_init (TernTypePolicy *policy, TernType type)
{
  gboolean ternary = type == TERN_TYPE_TQ1_0 || type == TERN_TYPE_TQ2_0;
  gboolean floats = type == TERN_TYPE_F32 || type == TERN_TYPE_F16 || type == TERN_TYPE_BF16;

  g_return_if_fail (policy != NULL);

  /* Norm weights and biases are few and sensitive: llama.cpp never
   * quantizes a one-dimensional tensor. */
  policy->types[TERN_TENSOR_ROLE_VECTOR] = TERN_TYPE_F32;
  policy->types[TERN_TENSOR_ROLE_LINEAR] = type;
  /* The output matrix decides every logit: llama-quantize keeps it at Q6_K
   * unless the type is already as good. */
  policy->types[TERN_TENSOR_ROLE_OUTPUT] = floats || type == TERN_TYPE_Q8_0 ? type : TERN_TYPE_Q6_K;
  /* Ternary embeddings would lose too much; llama.cpp's TQ1_0 and TQ2_0
   * mixes store them in Q4_K. */
  policy->types[TERN_TENSOR_ROLE_TOKEN_EMBD] = ternary ? TERN_TYPE_Q4_K : type;
}

TernType
tern_type_policy_choose (const TernTypePolicy *policy, const char *name, guint32 n_dims)
{
  g_return_val_if_fail (policy != NULL, TERN_TYPE_F32);

  return policy->types[tern_tensor_role (name, n_dims)];
}

static gboolean
fits (TernType type, gint64 row_len)
{
  return row_len % tern_type_info (type)->block_elems == 0;
}

TernType
tern_type_policy_fit_rows (TernType type, TernTensorRole role, gint64 row_len)
{
  TernType fallback;

  g_return_val_if_fail (tern_type_info (type) != NULL, TERN_TYPE_F32);

  if (fits (type, row_len))
    return type;
  if (role == TERN_TENSOR_ROLE_OUTPUT)
    fallback = TERN_TYPE_Q8_0;
  else if (type == TERN_TYPE_TQ1_0 || type == TERN_TYPE_TQ2_0 || type == TERN_TYPE_Q2_K || type == TERN_TYPE_Q3_K)
    fallback = TERN_TYPE_Q4_0;
  else
    fallback = TERN_TYPE_Q8_0;
  return fits (fallback, row_len) ? fallback : TERN_TYPE_F16;
}
