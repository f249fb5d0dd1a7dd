/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <tern/types.h>

#include <string.h>

static const TernTypeInfo type_table[TERN_TYPE_COUNT] = {
  [TERN_TYPE_F32] = { "f32", 1, 4, TRUE },
  [TERN_TYPE_F16] = { "f16", 1, 2, TRUE },
  [TERN_TYPE_Q4_0] = { "q4_0", 32, 18, TRUE },
  [TERN_TYPE_Q4_1] = { "q4_1", 32, 20, TRUE },
  [TERN_TYPE_Q5_0] = { "q5_0", 32, 22, TRUE },
  [TERN_TYPE_Q5_1] = { "q5_1", 32, 24, TRUE },
  [TERN_TYPE_Q8_0] = { "q8_0", 32, 34, TRUE },
  [TERN_TYPE_Q8_1] = { "q8_1", 32, 36, FALSE },
  [TERN_TYPE_Q2_K] = { "q2_K", 256, 84, TRUE },
  [TERN_TYPE_Q3_K] = { "q3_K", 256, 110, TRUE },
  [TERN_TYPE_Q4_K] = { "q4_K", 256, 144, TRUE },
  [TERN_TYPE_Q5_K] = { "q5_K", 256, 176, TRUE },
  [TERN_TYPE_Q6_K] = { "q6_K", 256, 210, TRUE },
  [TERN_TYPE_Q8_K] = { "q8_K", 256, 292, FALSE },
  [TERN_TYPE_BF16] = { "bf16", 1, 2, TRUE },
  [TERN_TYPE_TQ1_0] = { "tq1_0", 256, 54, TRUE },
  [TERN_TYPE_TQ2_0] = { "tq2_0", 256, 66, TRUE },
};

const TernTypeInfo *
tern_type_info (guint32 type)
{
  if (type >= TERN_TYPE_COUNT || type_table[type].name == NULL)
    return NULL;
  return &type_table[type];
}

const char *
tern_type_name (guint32 type)
{
  const TernTypeInfo *info = tern_type_info (type);
  return info ? info->name : "unknown";
}

gboolean
tern_type_from_name (const char *name, TernType *out)
{
  for (guint i = 0; i < TERN_TYPE_COUNT; i++)
    if (type_table[i].name && g_ascii_strcasecmp (type_table[i].name, name) == 0)
      {
        *out = (TernType) i;
        return TRUE;
      }
  return FALSE;
}

gsize
tern_type_row_bytes (TernType type, gint64 n_elems)
{
  const TernTypeInfo *info = tern_type_info (type);
  g_assert (info != NULL);
  g_assert (n_elems >= 0 && n_elems % info->block_elems == 0);
  return (gsize) (n_elems / info->block_elems) * info->block_bytes;
}
