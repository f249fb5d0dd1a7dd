/* SPDX-License-Identifier: GPL-3.0-or-later */
/* libFuzzer target: the GGUF reader and everything that reads metadata
 * (typed getters, arrays, the tokenizer) on arbitrary bytes. */
#include <tern/gguf.h>
#include <tern/tokenizer.h>

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

static void
walk_metadata (const TernGguf *gguf)
{
  for (gsize i = 0; i < tern_gguf_n_kv (gguf); i++)
    {
      const char *key = tern_gguf_kv_key (gguf, i);
      const TernGgufValue *v = tern_gguf_kv_value (gguf, i);
      guint64 u;
      gint64 s;
      double f;
      gboolean b;
      TernGgufString str;

      tern_gguf_get_uint (gguf, key, &u, NULL);
      tern_gguf_get_int (gguf, key, &s, NULL);
      tern_gguf_get_float (gguf, key, &f, NULL);
      tern_gguf_get_bool (gguf, key, &b, NULL);
      tern_gguf_get_string (gguf, key, &str, NULL);
      if (v->type != TERN_GGUF_ARRAY)
        continue;
      for (guint64 j = 0; j < v->n && j < 64; j++)
        {
          if (v->elem_type == TERN_GGUF_STRING)
            tern_gguf_array_string (v, j);
          else if (v->elem_type == TERN_GGUF_FLOAT32 || v->elem_type == TERN_GGUF_FLOAT64)
            tern_gguf_array_float (v, j);
          else if (v->elem_type != TERN_GGUF_BOOL)
            tern_gguf_array_int (v, j);
        }
    }
}

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
  g_autoptr (GBytes) bytes = g_bytes_new_static (data, size);
  g_autoptr (GError) error = NULL;
  g_autoptr (TernGguf) gguf = tern_gguf_open_bytes (bytes, "fuzz.gguf", &error);

  if (gguf == NULL)
    return 0;
  walk_metadata (gguf);
  for (gsize i = 0; i < tern_gguf_n_tensors (gguf); i++)
    {
      const TernGgufTensor *t = tern_gguf_tensor (gguf, i);
      volatile guint8 sink = t->n_bytes > 0 ? ((const guint8 *) t->data)[t->n_bytes - 1] : 0;
      (void) sink;
    }

  g_autoptr (TernTokenizer) tok = tern_tokenizer_new (gguf, NULL);
  if (tok != NULL)
    {
      g_autoptr (GArray) ids = g_array_new (FALSE, FALSE, sizeof (TernToken));
      tern_tokenizer_encode (tok, "Hello world! 123 <s> ünï", -1,
                             TERN_TOKENIZE_ADD_SPECIAL | TERN_TOKENIZE_PARSE_SPECIAL, ids, NULL);
      g_autoptr (TernDetokenizer) detok = tern_detokenizer_new (tok, TRUE);
      g_autoptr (GString) out = g_string_new (NULL);
      for (guint i = 0; i < ids->len; i++)
        tern_detokenizer_push (detok, g_array_index (ids, TernToken, i), out, NULL);
      tern_detokenizer_flush (detok, out);
    }
  return 0;
}
