/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "malformed-gguf.h"

#include <tern/error.h>
#include <tern/gguf.h>
#include <string.h>

/* Files are assembled byte by byte here rather than with TernGgufWriter,
 * which refuses to write anything invalid. Each case starts from the same
 * description of a valid file and breaks one thing. */

typedef struct {
  const char *name;
  guint32 n_dims;
  gint64 ne[5];
  guint32 type;
  guint64 offset;
} TensorSpec;

typedef struct {
  guint32 version;
  gboolean huge_n_kv;
  gboolean huge_n_tensors;
  /* Metadata, encoded by the case builder into @kv. */
  GByteArray *kv;
  guint64 n_kv;
  TensorSpec tensors[3];
  guint n_tensors;
  guint32 alignment;  /* how the data section is laid out */
  gsize data_bytes;   /* size of the data section written */
} Spec;

static void
put (GByteArray *b, const void *p, gsize n)
{
  g_byte_array_append (b, p, n);
}

static void
put_u32 (GByteArray *b, guint32 v)
{
  v = GUINT32_TO_LE (v);
  put (b, &v, 4);
}

static void
put_u64 (GByteArray *b, guint64 v)
{
  v = GUINT64_TO_LE (v);
  put (b, &v, 8);
}

static void
put_str (GByteArray *b, const char *s)
{
  put_u64 (b, strlen (s));
  put (b, s, strlen (s));
}

static void
kv_begin (Spec *s, const char *key, guint32 type)
{
  put_str (s->kv, key);
  put_u32 (s->kv, type);
  s->n_kv++;
}

static void
kv_u32 (Spec *s, const char *key, guint32 v)
{
  kv_begin (s, key, TERN_GGUF_UINT32);
  put_u32 (s->kv, v);
}

static void
kv_string (Spec *s, const char *key, const char *v)
{
  kv_begin (s, key, TERN_GGUF_STRING);
  put_str (s->kv, v);
}

/* The metadata of the valid file: one value of every type. */
static void
kv_standard (Spec *s)
{
  const guint8 u8 = 7;
  const guint16 u16 = GUINT16_TO_LE (300);
  const guint64 u64 = GUINT64_TO_LE (1ull << 40);
  const float f = 0.5f;
  const double d = 0.25;
  guint32 fbits;
  guint64 dbits;

  memcpy (&fbits, &f, 4);
  memcpy (&dbits, &d, 8);
  kv_string (s, "general.architecture", "llama");
  kv_begin (s, "test.u8", TERN_GGUF_UINT8);
  put (s->kv, &u8, 1);
  kv_begin (s, "test.i8", TERN_GGUF_INT8);
  put (s->kv, &u8, 1);
  kv_begin (s, "test.u16", TERN_GGUF_UINT16);
  put (s->kv, &u16, 2);
  kv_begin (s, "test.i16", TERN_GGUF_INT16);
  put (s->kv, &u16, 2);
  kv_u32 (s, "test.u32", 70000);
  kv_begin (s, "test.i32", TERN_GGUF_INT32);
  put_u32 (s->kv, (guint32) -2);
  kv_begin (s, "test.f32", TERN_GGUF_FLOAT32);
  put_u32 (s->kv, fbits);
  kv_begin (s, "test.bool", TERN_GGUF_BOOL);
  put (s->kv, "\1", 1);
  kv_begin (s, "test.u64", TERN_GGUF_UINT64);
  put (s->kv, &u64, 8);
  kv_begin (s, "test.i64", TERN_GGUF_INT64);
  put (s->kv, &u64, 8);
  kv_begin (s, "test.f64", TERN_GGUF_FLOAT64);
  put_u64 (s->kv, dbits);
  kv_begin (s, "test.strings", TERN_GGUF_ARRAY);
  put_u32 (s->kv, TERN_GGUF_STRING);
  put_u64 (s->kv, 2);
  put_str (s->kv, "one");
  put_str (s->kv, "two");
  kv_begin (s, "test.i32s", TERN_GGUF_ARRAY);
  put_u32 (s->kv, TERN_GGUF_INT32);
  put_u64 (s->kv, 2);
  put_u32 (s->kv, 1);
  put_u32 (s->kv, 2);
}

static void
spec_init (Spec *s)
{
  memset (s, 0, sizeof *s);
  s->version = 3;
  s->kv = g_byte_array_new ();
  s->alignment = 32;
  /* F32 [8, 2]: 64 bytes at 0; Q8_0 [32, 16]: 544 bytes at 64. The data
   * ends on an alignment boundary, so the file has no trailing padding and
   * cutting off any byte makes it invalid. */
  s->tensors[0] = (TensorSpec) { "a", 2, { 8, 2 }, TERN_TYPE_F32, 0 };
  s->tensors[1] = (TensorSpec) { "b", 2, { 32, 16 }, TERN_TYPE_Q8_0, 64 };
  s->n_tensors = 2;
  s->data_bytes = 64 + 34 * 16;
}

static GBytes *
spec_build (Spec *s, gboolean standard_kv)
{
  GByteArray *b = g_byte_array_new ();
  g_autoptr (GByteArray) kv = s->kv;
  guint64 n_kv = s->n_kv;

  if (standard_kv)
    {
      s->kv = g_byte_array_new ();
      s->n_kv = 0;
      kv_standard (s);
      put (s->kv, kv->data, kv->len);
      n_kv += s->n_kv;
      g_byte_array_unref (kv);
      kv = s->kv;
    }

  put (b, "GGUF", 4);
  put_u32 (b, s->version);
  put_u64 (b, s->huge_n_tensors ? G_MAXINT64 : s->n_tensors);
  put_u64 (b, s->huge_n_kv ? G_MAXINT64 : n_kv);
  put (b, kv->data, kv->len);
  for (guint i = 0; i < s->n_tensors; i++)
    {
      const TensorSpec *t = &s->tensors[i];
      put_str (b, t->name);
      put_u32 (b, t->n_dims);
      for (guint d = 0; d < t->n_dims; d++)
        put_u64 (b, (guint64) t->ne[d]);
      put_u32 (b, t->type);
      put_u64 (b, t->offset);
    }
  while (b->len % s->alignment != 0)
    put (b, "\0", 1);
  for (gsize i = 0; i < s->data_bytes; i++)
    {
      guint8 v = (guint8) (i * 7);
      put (b, &v, 1);
    }
  s->kv = NULL;
  return g_byte_array_free_to_bytes (b);
}

GBytes *
malformed_gguf_valid (void)
{
  Spec s;
  spec_init (&s);
  return spec_build (&s, TRUE);
}

static void
add (GPtrArray *corpus, const char *name, GBytes *bytes, int code, const char *message)
{
  MalformedGguf *m = g_new (MalformedGguf, 1);
  m->name = g_strdup (name);
  m->bytes = bytes;
  m->error_code = code;
  m->message = g_strdup (message);
  g_ptr_array_add (corpus, m);
}

static void
malformed_free (gpointer p)
{
  MalformedGguf *m = p;
  g_free (m->name);
  g_free (m->message);
  g_bytes_unref (m->bytes);
  g_free (m);
}

/* Adds the valid file with one tensor field changed. */
#define TENSOR_CASE(label, idx, field, value, message)            \
  G_STMT_START {                                                  \
    Spec s_;                                                      \
    spec_init (&s_);                                              \
    s_.tensors[idx].field = value;                                \
    add (corpus, label, spec_build (&s_, TRUE), FORMAT, message); \
  } G_STMT_END

GPtrArray *
malformed_gguf_corpus (void)
{
  const int FORMAT = TERN_ENGINE_ERROR_FORMAT;
  GPtrArray *corpus = g_ptr_array_new_with_free_func (malformed_free);
  Spec s;

  /* Header. */
  add (corpus, "empty", g_bytes_new ("", 0), FORMAT, "not a GGUF model file (the file is empty)");
  add (corpus, "bad-magic", g_bytes_new ("GGML\3\0\0\0", 8), FORMAT, "it starts with \"GGML....\", not \"GGUF\"");
  spec_init (&s);
  s.version = 1;
  add (corpus, "version-1", spec_build (&s, TRUE), TERN_ENGINE_ERROR_UNSUPPORTED, "version 1");
  spec_init (&s);
  s.version = 99;
  add (corpus, "version-99", spec_build (&s, TRUE), TERN_ENGINE_ERROR_UNSUPPORTED, "version 99");
  spec_init (&s);
  s.huge_n_kv = TRUE;
  add (corpus, "n-kv-huge", spec_build (&s, TRUE), FORMAT, "metadata pairs");
  spec_init (&s);
  s.huge_n_tensors = TRUE;
  add (corpus, "n-tensors-huge", spec_build (&s, TRUE), FORMAT, "tensors, more than");

  /* Tensor shapes and types. */
  TENSOR_CASE ("dim-zero", 0, ne[1], 0, "tensor a:");
  TENSOR_CASE ("dim-negative", 0, ne[1], -4, "tensor a:");
  spec_init (&s);
  s.tensors[0].n_dims = 4;
  s.tensors[0].ne[1] = 1ll << 32;
  s.tensors[0].ne[2] = 1ll << 32;
  s.tensors[0].ne[3] = 1;
  add (corpus, "element-count-overflow", spec_build (&s, TRUE), FORMAT, "tensor a:");
  spec_init (&s);
  s.tensors[1].ne[1] = 1ll << 60;
  add (corpus, "byte-size-overflow", spec_build (&s, TRUE), FORMAT, "tensor b:");
  TENSOR_CASE ("dims-zero", 0, n_dims, 0, "tensor a ");
  spec_init (&s);
  s.tensors[0].n_dims = 5;
  s.tensors[0].ne[2] = s.tensors[0].ne[3] = s.tensors[0].ne[4] = 1;
  add (corpus, "dims-five", spec_build (&s, TRUE), FORMAT, "tensor a ");
  TENSOR_CASE ("type-unknown", 0, type, 99, "tensor a ");
  TENSOR_CASE ("type-retired-4", 0, type, 4, "tensor a ");
  TENSOR_CASE ("type-retired-31", 0, type, 31, "tensor a ");
  TENSOR_CASE ("type-huge", 0, type, 0xffffffffu, "tensor a ");
  TENSOR_CASE ("row-not-block-multiple", 1, ne[0], 48, "tensor b:");
  TENSOR_CASE ("name-64-bytes", 0, name, "0123456789012345678901234567890123456789012345678901234567890123",
               "tensor name 0123456789");
  TENSOR_CASE ("name-empty", 0, name, "", "empty name");
  TENSOR_CASE ("name-invalid-utf8", 0, name, "bad\xff", "tensor name is not valid UTF-8");
  TENSOR_CASE ("name-duplicate", 1, name, "a", "tensor a appears twice");

  /* Placement. */
  TENSOR_CASE ("offset-misaligned", 1, offset, 72, "tensor b:");
  TENSOR_CASE ("offset-past-end", 1, offset, 1 << 20, "tensor b ");
  TENSOR_CASE ("offset-huge", 1, offset, G_MAXUINT64 - 31, "tensor b ");
  TENSOR_CASE ("overlap", 1, offset, 32, "tensors a and b");
  spec_init (&s);
  s.data_bytes -= 1;
  add (corpus, "data-short", spec_build (&s, TRUE), FORMAT, "tensor b ");

  /* Metadata. */
  spec_init (&s);
  kv_u32 (&s, "test.u32", 1);
  add (corpus, "key-duplicate", spec_build (&s, TRUE), FORMAT, "key test.u32");
  spec_init (&s);
  kv_u32 (&s, "bad\xc3\x28key", 1);
  add (corpus, "key-invalid-utf8", spec_build (&s, TRUE), FORMAT, "metadata pair 14");
  spec_init (&s);
  kv_u32 (&s, "", 1);
  add (corpus, "key-empty", spec_build (&s, TRUE), FORMAT, "metadata pair 14");
  spec_init (&s);
  put_u64 (s.kv, (1ull << 63) - 1);
  s.n_kv++;
  add (corpus, "key-length-huge", spec_build (&s, TRUE), FORMAT, "metadata pair 14");
  spec_init (&s);
  kv_begin (&s, "test.str", TERN_GGUF_STRING);
  put_u64 (s.kv, 1ull << 63);
  add (corpus, "string-length-huge", spec_build (&s, TRUE), FORMAT, "test.str");
  spec_init (&s);
  kv_begin (&s, "test.arr", TERN_GGUF_ARRAY);
  put_u32 (s.kv, TERN_GGUF_UINT8);
  put_u64 (s.kv, (1ull << 63) - 1);
  add (corpus, "array-length-huge", spec_build (&s, TRUE), FORMAT, "array test.arr");
  spec_init (&s);
  kv_begin (&s, "test.arr", TERN_GGUF_ARRAY);
  put_u32 (s.kv, TERN_GGUF_STRING);
  put_u64 (s.kv, G_MAXUINT64);
  add (corpus, "string-array-length-huge", spec_build (&s, TRUE), FORMAT, "array test.arr");
  spec_init (&s);
  kv_begin (&s, "test.arr", TERN_GGUF_ARRAY);
  put_u32 (s.kv, TERN_GGUF_STRING);
  put_u64 (s.kv, 2);
  put_str (s.kv, "ok");
  put_u64 (s.kv, 1ull << 62);
  add (corpus, "string-array-element-huge", spec_build (&s, TRUE), FORMAT, "array test.arr, element 1");
  spec_init (&s);
  kv_begin (&s, "test.nested", TERN_GGUF_ARRAY);
  put_u32 (s.kv, TERN_GGUF_ARRAY);
  put_u64 (s.kv, 1);
  put_u32 (s.kv, TERN_GGUF_UINT8);
  put_u64 (s.kv, 1);
  put (s.kv, "\0", 1);
  add (corpus, "array-nested", spec_build (&s, TRUE), FORMAT, "key test.nested");
  spec_init (&s);
  kv_begin (&s, "test.type", 13);
  put_u32 (s.kv, 0);
  add (corpus, "value-type-unknown", spec_build (&s, TRUE), FORMAT, "key test.type");
  spec_init (&s);
  kv_begin (&s, "test.arr", TERN_GGUF_ARRAY);
  put_u32 (s.kv, 77);
  put_u64 (s.kv, 0);
  add (corpus, "array-type-unknown", spec_build (&s, TRUE), FORMAT, "key test.arr");
  spec_init (&s);
  kv_begin (&s, "test.b", TERN_GGUF_BOOL);
  put (s.kv, "\2", 1);
  add (corpus, "bool-not-0-or-1", spec_build (&s, TRUE), FORMAT, "key test.b:");

  /* general.alignment. */
  spec_init (&s);
  kv_begin (&s, "general.alignment", TERN_GGUF_UINT64);
  put_u64 (s.kv, 32);
  add (corpus, "alignment-u64", spec_build (&s, TRUE), FORMAT, "general.alignment");
  spec_init (&s);
  kv_string (&s, "general.alignment", "32");
  add (corpus, "alignment-string", spec_build (&s, TRUE), FORMAT, "general.alignment");
  spec_init (&s);
  kv_u32 (&s, "general.alignment", 0);
  add (corpus, "alignment-zero", spec_build (&s, TRUE), FORMAT, "general.alignment");
  spec_init (&s);
  kv_u32 (&s, "general.alignment", 48);
  s.alignment = 48;
  s.tensors[1].offset = 96;
  add (corpus, "alignment-not-power-of-two", spec_build (&s, TRUE), FORMAT, "general.alignment");

  return corpus;
}

static void
kv_string_array (Spec *s, const char *key, GPtrArray *strings)
{
  kv_begin (s, key, TERN_GGUF_ARRAY);
  put_u32 (s->kv, TERN_GGUF_STRING);
  put_u64 (s->kv, strings->len);
  for (guint i = 0; i < strings->len; i++)
    put_str (s->kv, strings->pdata[i]);
}

static void
kv_array_u32 (Spec *s, const char *key, guint32 elem_type, const guint32 *values, guint n)
{
  kv_begin (s, key, TERN_GGUF_ARRAY);
  put_u32 (s->kv, elem_type);
  put_u64 (s->kv, n);
  for (guint i = 0; i < n; i++)
    put_u32 (s->kv, values[i]);
}

/* SentencePiece: control tokens, 256 byte tokens and a few pieces. */
static GBytes *
spm_seed (void)
{
  static const char *const pieces[] = { "\u2581", "\u2581t", "he", "\u2581the", "\u2581a", "nd", "\u2581and", "in", "\u2581in" };
  g_autoptr (GPtrArray) tokens = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GArray) scores = g_array_new (FALSE, FALSE, sizeof (guint32));
  g_autoptr (GArray) types = g_array_new (FALSE, FALSE, sizeof (guint32));
  Spec s;

  spec_init (&s);
  s.n_tensors = 0;
  s.data_bytes = 0;
  for (guint i = 0; i < 3 + 256 + G_N_ELEMENTS (pieces); i++)
    {
      float score = -(float) i;
      guint32 bits, type = i < 3 ? 3 : i < 259 ? 6 : 1;
      if (i < 3)
        g_ptr_array_add (tokens, g_strdup ((const char *[]) { "<unk>", "<s>", "</s>" }[i]));
      else if (i < 259)
        g_ptr_array_add (tokens, g_strdup_printf ("<0x%02X>", i - 3));
      else
        g_ptr_array_add (tokens, g_strdup (pieces[i - 259]));
      memcpy (&bits, &score, 4);
      g_array_append_val (scores, bits);
      g_array_append_val (types, type);
    }
  kv_string (&s, "tokenizer.ggml.model", "llama");
  kv_string_array (&s, "tokenizer.ggml.tokens", tokens);
  kv_array_u32 (&s, "tokenizer.ggml.scores", TERN_GGUF_FLOAT32, (guint32 *) scores->data, scores->len);
  kv_array_u32 (&s, "tokenizer.ggml.token_type", TERN_GGUF_INT32, (guint32 *) types->data, types->len);
  kv_u32 (&s, "tokenizer.ggml.bos_token_id", 1);
  kv_u32 (&s, "tokenizer.ggml.eos_token_id", 2);
  return spec_build (&s, FALSE);
}

/* Byte-level BPE: GPT-2's 256 byte characters and a few merges. */
static GBytes *
bpe_seed (void)
{
  static const char *const merges[] = { "\u0120 t", "h e", "\u0120t he", "i n", "a n", "an d" };
  g_autoptr (GPtrArray) tokens = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GPtrArray) merge_list = g_ptr_array_new_with_free_func (g_free);
  Spec s;

  spec_init (&s);
  s.n_tensors = 0;
  s.data_bytes = 0;
  /* GPT-2 maps the bytes that are not printable to U+0100 onwards. */
  guint next = 256;
  for (guint b = 0; b < 256; b++)
    {
      gboolean printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || b >= 0xae;
      gunichar c = printable ? b : next++;
      char utf8[8] = { 0 };
      g_unichar_to_utf8 (c, utf8);
      g_ptr_array_add (tokens, g_strdup (utf8));
    }
  for (guint i = 0; i < G_N_ELEMENTS (merges); i++)
    {
      g_auto (GStrv) parts = g_strsplit (merges[i], " ", 2);
      g_ptr_array_add (merge_list, g_strjoin (" ", parts[0], parts[1], NULL));
      g_ptr_array_add (tokens, g_strconcat (parts[0], parts[1], NULL));
    }
  g_ptr_array_add (tokens, g_strdup ("<|endoftext|>"));
  kv_string (&s, "tokenizer.ggml.model", "gpt2");
  kv_string (&s, "tokenizer.ggml.pre", "gpt-2");
  kv_string_array (&s, "tokenizer.ggml.tokens", tokens);
  kv_string_array (&s, "tokenizer.ggml.merges", merge_list);
  kv_u32 (&s, "tokenizer.ggml.eos_token_id", tokens->len - 1);
  return spec_build (&s, FALSE);
}

GPtrArray *
malformed_gguf_tokenizer_seeds (void)
{
  GPtrArray *seeds = g_ptr_array_new_with_free_func (malformed_free);
  add (seeds, "vocab-spm", spm_seed (), -1, NULL);
  add (seeds, "vocab-bpe", bpe_seed (), -1, NULL);
  return seeds;
}

GPtrArray *
malformed_gguf_valid_files (void)
{
  GPtrArray *files = g_ptr_array_new_with_free_func (malformed_free);
  Spec s;

  add (files, "valid", malformed_gguf_valid (), -1, NULL);
  /* A longer tensor name: the tensor infos end 3 bytes past a multiple of
   * the alignment, and padding follows them. */
  spec_init (&s);
  s.tensors[0].name = "aaaa";
  add (files, "valid-padded", spec_build (&s, TRUE), -1, NULL);
  spec_init (&s);
  kv_u32 (&s, "general.alignment", 64);
  s.alignment = 64;
  add (files, "valid-aligned-64", spec_build (&s, TRUE), -1, NULL);
  g_ptr_array_extend_and_steal (files, malformed_gguf_tokenizer_seeds ());
  return files;
}
