/* SPDX-License-Identifier: GPL-3.0-or-later */
/* A tokenizer from a GGUF file: reading tokenizer.* metadata, the
 * vocabulary and its lookup table, the special and end-of-generation
 * tokens. The behaviour follows llama.cpp's llama-vocab.cpp. */
#include <math.h>
#include <string.h>

#include "tokenizer-private.h"

#define KEY_MODEL "tokenizer.ggml.model"
#define KEY_PRE "tokenizer.ggml.pre"
#define KEY_TOKENS "tokenizer.ggml.tokens"
#define KEY_SCORES "tokenizer.ggml.scores"
#define KEY_TOKEN_TYPE "tokenizer.ggml.token_type"
#define KEY_BOS_ID "tokenizer.ggml.bos_token_id"
#define KEY_EOS_ID "tokenizer.ggml.eos_token_id"
#define KEY_ADD_BOS "tokenizer.ggml.add_bos_token"
#define KEY_ADD_EOS "tokenizer.ggml.add_eos_token"
#define KEY_ADD_SPACE_PREFIX "tokenizer.ggml.add_space_prefix"

/* ---- Vocabulary lookup ---- */

static guint32
hash_bytes (const char *s, gsize len)
{
  guint32 h = 2166136261u; /* FNV-1a */

  for (gsize i = 0; i < len; i++) {
    h ^= (guint8) s[i];
    h *= 16777619u;
  }
  return h;
}

TernToken
tern_text_map_find (const TernTokenizer *tok, const char *s, gsize len)
{
  const TernTextMap *map = &tok->map;
  guint32 h = hash_bytes (s, len);

  for (guint32 i = tern_slot (h, map->n_slots);; i = i + 1 == map->n_slots ? 0 : i + 1) {
    guint64 slot = map->slots[i];
    TernToken id = (TernToken) (guint32) slot - 1;
    gsize text_len;
    const char *text;

    if (slot == 0)
      return -1;
    if ((guint32) (slot >> 32) != h)
      continue;
    text = tern_tokenizer_text (tok, id, &text_len);
    if (text_len == len && memcmp (text, s, len) == 0)
      return id;
  }
}

/* Fills the map with every non-empty token. Empty texts can never match
 * (llama.cpp renames them) and stay out; a duplicate is a FORMAT error. */
static gboolean
text_map_build (TernTokenizer *tok, const char *file, GError **error)
{
  TernTextMap *map = &tok->map;

  map->n_slots = tern_table_size ((gsize) tok->n_vocab);
  map->slots = g_try_new0 (guint64, map->n_slots);
  if (map->slots == NULL) {
    g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_NOMEM,
                 "%s: no memory for a vocabulary of %d tokens", file, tok->n_vocab);
    return FALSE;
  }

  for (TernToken id = 0; id < tok->n_vocab; id++) {
    gsize len;
    const char *s = tern_tokenizer_text (tok, id, &len);
    guint32 h, i;

    if (len == 0)
      continue;
    if (tern_text_map_find (tok, s, len) >= 0) {
      g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_FORMAT,
                   "%s: %s: token %d repeats the text of token %d", file, KEY_TOKENS, id,
                   tern_text_map_find (tok, s, len));
      return FALSE;
    }
    h = hash_bytes (s, len);
    for (i = tern_slot (h, map->n_slots); map->slots[i] != 0; i = i + 1 == map->n_slots ? 0 : i + 1)
      ;
    map->slots[i] = (guint64) h << 32 | ((guint32) id + 1);
  }
  return TRUE;
}

/* ---- Loading ---- */

/* Reads an optional token id: absent leaves *id alone; out of range is a
 * FORMAT error (llama.cpp only warns, but such a file is broken). */
static gboolean
read_token_id (const TernGguf *gguf, const char *key, gint32 n_vocab, TernToken *id, GError **error)
{
  GError *local = NULL;
  gint64 v;

  if (!tern_gguf_get_int (gguf, key, &v, &local)) {
    if (local != NULL) {
      g_propagate_error (error, local);
      return FALSE;
    }
    return TRUE;
  }
  if (v < 0 || v >= n_vocab) {
    g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_FORMAT,
                 "%s: %s is %" G_GINT64_FORMAT ", outside the vocabulary of %d tokens",
                 tern_gguf_name (gguf), key, v, n_vocab);
    return FALSE;
  }
  *id = (TernToken) v;
  return TRUE;
}

/* Reads an optional boolean; absent leaves *v alone. */
static gboolean
read_flag (const TernGguf *gguf, const char *key, gboolean *v, GError **error)
{
  GError *local = NULL;
  gboolean b;

  if (tern_gguf_get_bool (gguf, key, &b, &local)) {
    *v = b;
    return TRUE;
  }
  if (local != NULL) {
    g_propagate_error (error, local);
    return FALSE;
  }
  return TRUE;
}

/* An optional per-token array (scores, token types): NULL when absent; a
 * FORMAT error when it is not an array of numbers with one per token. */
static gboolean
find_token_array (const TernGguf *gguf, const char *key, gint32 n_vocab, gboolean floats,
                  const TernGgufValue **out, GError **error)
{
  const TernGgufValue *v = tern_gguf_find (gguf, key);
  gboolean numeric;

  *out = NULL;
  if (v == NULL)
    return TRUE;
  switch (v->type == TERN_GGUF_ARRAY ? v->elem_type : TERN_GGUF_N_TYPES) {
  case TERN_GGUF_FLOAT32:
  case TERN_GGUF_FLOAT64:
    numeric = floats;
    break;
  case TERN_GGUF_UINT8:
  case TERN_GGUF_INT8:
  case TERN_GGUF_UINT16:
  case TERN_GGUF_INT16:
  case TERN_GGUF_UINT32:
  case TERN_GGUF_INT32:
  case TERN_GGUF_UINT64:
  case TERN_GGUF_INT64:
    numeric = TRUE;
    break;
  default:
    numeric = FALSE;
    break;
  }
  if (!numeric) {
    g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_FORMAT,
                 "%s: %s is not an array of %s", tern_gguf_name (gguf), key,
                 floats ? "numbers" : "integers");
    return FALSE;
  }
  if (v->n != (guint64) n_vocab) {
    g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_FORMAT,
                 "%s: %s has %" G_GUINT64_FORMAT " entries for %d tokens", tern_gguf_name (gguf),
                 key, v->n, n_vocab);
    return FALSE;
  }
  *out = v;
  return TRUE;
}

/* The byte a BYTE token stands for: its text must be <0xXX>. */
static gboolean
parse_byte_token (const char *s, gsize len, guint8 *out)
{
  if (len != 6 || memcmp (s, "<0x", 3) != 0 || s[5] != '>' || !g_ascii_isxdigit (s[3]) ||
      !g_ascii_isxdigit (s[4]))
    return FALSE;
  *out = (guint8) (g_ascii_xdigit_value (s[3]) << 4 | g_ascii_xdigit_value (s[4]));
  return TRUE;
}

static gboolean
load_vocab (TernTokenizer *tok, const TernGguf *gguf, GError **error)
{
  const char *file = tern_gguf_name (gguf);
  const TernGgufValue *tokens = tern_gguf_find (gguf, KEY_TOKENS);
  const TernGgufValue *scores, *types;
  guint64 total = 0;

  if (tokens == NULL || tokens->type != TERN_GGUF_ARRAY || tokens->elem_type != TERN_GGUF_STRING) {
    g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_FORMAT, "%s: %s %s", file, KEY_TOKENS,
                 tokens == NULL ? "is missing" : "is not an array of strings");
    return FALSE;
  }
  if (tokens->n == 0 || tokens->n >= G_MAXINT32) {
    g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_FORMAT,
                 "%s: %s holds %" G_GUINT64_FORMAT " tokens", file, KEY_TOKENS, tokens->n);
    return FALSE;
  }
  tok->n_vocab = (gint32) tokens->n;

  if (!find_token_array (gguf, KEY_SCORES, tok->n_vocab, TRUE, &scores, error) ||
      !find_token_array (gguf, KEY_TOKEN_TYPE, tok->n_vocab, FALSE, &types, error))
    return FALSE;

  for (gint32 i = 0; i < tok->n_vocab; i++)
    total += tern_gguf_array_string (tokens, (guint64) i).len + 1;
  if (total > G_MAXUINT32) {
    g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_FORMAT,
                 "%s: %s: the token texts are too long", file, KEY_TOKENS);
    return FALSE;
  }

  /* The counts come from the file: allocation failure is an error, not an abort. */
  tok->text = g_try_malloc (total);
  tok->text_start = g_try_new (guint32, (gsize) tok->n_vocab + 1);
  tok->attrs = g_try_new (guint8, tok->n_vocab);
  tok->flags = g_try_new0 (guint8, tok->n_vocab);
  if (tok->kind == TERN_VOCAB_SPM)
    tok->scores = g_try_new0 (float, tok->n_vocab);
  if (tok->text == NULL || tok->text_start == NULL || tok->attrs == NULL || tok->flags == NULL ||
      (tok->kind == TERN_VOCAB_SPM && tok->scores == NULL)) {
    g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_NOMEM,
                 "%s: no memory for a vocabulary of %d tokens", file, tok->n_vocab);
    return FALSE;
  }

  total = 0;
  for (gint32 i = 0; i < tok->n_vocab; i++) {
    TernGgufString s = tern_gguf_array_string (tokens, (guint64) i);
    guint8 byte;

    tok->text_start[i] = (guint32) total;
    memcpy (tok->text + total, s.data, s.len);
    tok->text[total + s.len] = '\0';
    total += s.len + 1;

    if (scores != NULL && tok->scores != NULL) {
      gboolean floats = scores->elem_type == TERN_GGUF_FLOAT32 ||
                        scores->elem_type == TERN_GGUF_FLOAT64;
      double score = floats ? tern_gguf_array_float (scores, (guint64) i)
                       : (double) tern_gguf_array_int (scores, (guint64) i);
      /* A NaN would make the merge order depend on the heap's history. */
      tok->scores[i] = isnan (score) ? -G_MAXFLOAT : (float) score;
    }

    tok->attrs[i] = TERN_TOKEN_ATTR_NORMAL;
    if (types != NULL) {
      gint64 type = tern_gguf_array_int (types, (guint64) i);

      if (type < TERN_TOKEN_ATTR_NORMAL || type > TERN_TOKEN_ATTR_BYTE) {
        g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_FORMAT,
                     "%s: %s: token %d has type %" G_GINT64_FORMAT, file, KEY_TOKEN_TYPE, i, type);
        return FALSE;
      }
      tok->attrs[i] = (guint8) type;
    }

    /* What decoding relies on: byte tokens name their byte, and byte-level
     * BPE text is made of characters. */
    if (tok->attrs[i] == TERN_TOKEN_ATTR_BYTE && !parse_byte_token (s.data, s.len, &byte)) {
      g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_FORMAT,
                   "%s: %s: byte token %d is not of the form <0xXX>", file, KEY_TOKENS, i);
      return FALSE;
    }
    if (tok->kind == TERN_VOCAB_BPE && tok->attrs[i] == TERN_TOKEN_ATTR_NORMAL &&
        tern_utf8_valid_prefix (s.data, s.len) != s.len) {
      g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_FORMAT,
                   "%s: %s: token %d is not valid UTF-8", file, KEY_TOKENS, i);
      return FALSE;
    }
  }
  tok->text_start[tok->n_vocab] = (guint32) total;

  return text_map_build (tok, file, error);
}

/* Computes what each token stands for once, so decoding is a copy (llama.cpp
 * keeps the same cache). */
static gboolean
build_pieces (TernTokenizer *tok, GError **error)
{
  /* No piece is longer than its token's text and NUL, so the pool never
   * grows past the size of the texts: allocated up front, where failing is
   * an error rather than an abort. */
  gsize capacity = MAX (tok->text_start[tok->n_vocab], 1);
  guint8 *pool_data = g_try_malloc (capacity);
  g_autoptr (GByteArray) pool = NULL;

  tok->piece_start = g_try_new (guint32, (gsize) tok->n_vocab + 1);
  if (pool_data == NULL || tok->piece_start == NULL) {
    g_free (pool_data);
    g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_NOMEM, "no memory for a vocabulary of %d tokens",
                 tok->n_vocab);
    return FALSE;
  }
  pool = g_byte_array_new_take (pool_data, capacity);
  g_byte_array_set_size (pool, 0);
  for (TernToken id = 0; id < tok->n_vocab; id++) {
    gsize len;
    const char *s = tern_tokenizer_text (tok, id, &len);
    guint8 byte;

    tok->piece_start[id] = pool->len;
    switch ((TernTokenAttr) tok->attrs[id]) {
    case TERN_TOKEN_ATTR_CONTROL:
    case TERN_TOKEN_ATTR_UNKNOWN:
    case TERN_TOKEN_ATTR_USER_DEFINED:
      g_byte_array_append (pool, (const guint8 *) s, (guint) len);
      break;
    case TERN_TOKEN_ATTR_NORMAL:
      if (tok->kind == TERN_VOCAB_BPE) {
        tern_bpe_decode_text (s, len, pool);
        break;
      }
      /* SentencePiece writes spaces as U+2581. */
      for (gsize i = 0; i < len; i++) {
        if (i + 3 <= len && memcmp (s + i, "\xe2\x96\x81", 3) == 0) {
          g_byte_array_append (pool, (const guint8 *) " ", 1);
          i += 2;
        } else {
          g_byte_array_append (pool, (const guint8 *) s + i, 1);
        }
      }
      break;
    case TERN_TOKEN_ATTR_BYTE:
      parse_byte_token (s, len, &byte);
      g_byte_array_append (pool, &byte, 1);
      break;
    case TERN_TOKEN_ATTR_UNUSED:
      break; /* llama.cpp renders unused tokens as nothing */
    }
  }
  tok->piece_start[tok->n_vocab] = pool->len;
  tok->piece = (char *) g_byte_array_free (g_steal_pointer (&pool), FALSE);
  return TRUE;
}

/* Texts of tokens that end generation, as llama.cpp recognises them for
 * files that only give an EOS id. */
static const char *const eog_texts[] = {
  "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>",
  "<|eom_id|>", "<EOT>",      "_<EOT>",  "<|end_of_text|>",
};

static void
find_eog (TernTokenizer *tok)
{
  for (gsize i = 0; i < G_N_ELEMENTS (eog_texts); i++) {
    TernToken id = tern_text_map_find (tok, eog_texts[i], strlen (eog_texts[i]));
    gboolean eom = strcmp (eog_texts[i], "<|eom_id|>") == 0;

    if (id < 0)
      continue;
    /* The first of these found stands for EOT (or EOM) when the file names
     * none. */
    if (!eom && tok->eot < 0)
      tok->eot = id;
    if (eom && tok->eom < 0)
      tok->eom = id;
    tok->flags[id] |= TERN_TOKEN_FLAG_EOG;
    /* Like llama.cpp: a token that looks like this is a control token even
     * when the file forgot to say so. */
    if (tok->attrs[id] == TERN_TOKEN_ATTR_NORMAL)
      tok->attrs[id] = TERN_TOKEN_ATTR_CONTROL;
  }
  if (tok->eos >= 0)
    tok->flags[tok->eos] |= TERN_TOKEN_FLAG_EOG;
  if (tok->eot >= 0)
    tok->flags[tok->eot] |= TERN_TOKEN_FLAG_EOG;
  if (tok->eom >= 0)
    tok->flags[tok->eom] |= TERN_TOKEN_FLAG_EOG;
}

static gint
compare_special (gconstpointer a, gconstpointer b, gpointer data)
{
  const TernTokenizer *tok = data;
  TernToken ta = *(const TernToken *) a, tb = *(const TernToken *) b;
  guint32 la = tok->text_start[ta + 1] - tok->text_start[ta];
  guint32 lb = tok->text_start[tb + 1] - tok->text_start[tb];

  if (la != lb)
    return la > lb ? -1 : 1;
  return ta < tb ? -1 : ta > tb;
}

/* The special-token partition tries the longest texts first, so that a
 * token containing another wins (llama.cpp's cache_special_tokens). */
static void
collect_special (TernTokenizer *tok)
{
  g_autoptr (GArray) special = g_array_new (FALSE, FALSE, sizeof (TernToken));

  for (TernToken id = 0; id < tok->n_vocab; id++) {
    gsize len;

    tern_tokenizer_text (tok, id, &len);
    if (len == 0)
      continue;
    switch ((TernTokenAttr) tok->attrs[id]) {
    case TERN_TOKEN_ATTR_CONTROL:
    case TERN_TOKEN_ATTR_UNKNOWN:
    case TERN_TOKEN_ATTR_USER_DEFINED:
      g_array_append_val (special, id);
      break;
    default:
      break;
    }
  }
  g_array_sort_with_data (special, compare_special, tok);
  tok->n_special = special->len;
  tok->special = (TernToken *) g_array_free (g_steal_pointer (&special), FALSE);
}

/* Phi-3's special tokens swallow the whitespace that follows them. Nothing
 * in the tokenizer metadata says so: llama.cpp decides it from the model's
 * name (general.name containing "phi-3" or "phi3", in any case), and so
 * does Tern, for a Phi-3 chat turn to give llama.cpp's tokens. A name that
 * is not a string counts as none. */
static void
apply_name_rules (TernTokenizer *tok, const TernGguf *gguf)
{
  static const char *const keep_space[] = { "<unk>", "<s>", "<|endoftext|>" };
  g_autofree char *name = NULL;
  TernGgufString s;
  TernToken id;

  if (!tern_gguf_get_string (gguf, "general.name", &s, NULL))
    return;
  name = g_ascii_strdown (s.data, (gssize) s.len);
  if (strstr (name, "phi-3") == NULL && strstr (name, "phi3") == NULL)
    return;
  for (gsize i = 0; i < tok->n_special; i++)
    tok->flags[tok->special[i]] |= TERN_TOKEN_FLAG_RSTRIP;
  id = tern_text_map_find (tok, "</s>", 4);
  if (id >= 0)
    tok->flags[id] |= TERN_TOKEN_FLAG_RSTRIP;
  for (gsize i = 0; i < G_N_ELEMENTS (keep_space); i++) {
    id = tern_text_map_find (tok, keep_space[i], strlen (keep_space[i]));
    if (id >= 0)
      tok->flags[id] &= (guint8) ~TERN_TOKEN_FLAG_RSTRIP;
  }
}

static gboolean
check_add_flag (const TernGguf *gguf, gboolean add, TernToken id,
                const char *add_key, const char *id_key, GError **error)
{
  if (add && id < 0) {
    g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_FORMAT,
                 "%s: %s is true but there is no %s", tern_gguf_name (gguf), add_key, id_key);
    return FALSE;
  }
  return TRUE;
}

TernTokenizer *
tern_tokenizer_new (const TernGguf *gguf, GError **error)
{
  g_autoptr (TernTokenizer) tok = NULL;
  const char *file;
  TernGgufString model, pre;
  GError *local = NULL;
  gboolean have_pre;

  g_return_val_if_fail (gguf != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  file = tern_gguf_name (gguf);
  tok = g_new0 (TernTokenizer, 1);
  tok->bos = tok->eos = tok->eot = tok->eom = tok->unk = tok->pad = -1;

  if (!tern_gguf_get_string (gguf, KEY_MODEL, &model, &local)) {
    if (local != NULL)
      g_propagate_error (error, local);
    else
      g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_FORMAT, "%s: %s is missing", file,
                   KEY_MODEL);
    return NULL;
  }
  tok->model = g_utf8_make_valid (model.data, (gssize) model.len);
  have_pre = tern_gguf_get_string (gguf, KEY_PRE, &pre, &local);
  if (local != NULL) {
    g_propagate_error (error, local);
    return NULL;
  }

  if (model.len == 5 && memcmp (model.data, "llama", 5) == 0) {
    tok->kind = TERN_VOCAB_SPM;
    tok->pre = g_strdup ("default");
  } else if (model.len == 4 && memcmp (model.data, "gpt2", 4) == 0) {
    tok->kind = TERN_VOCAB_BPE;
    if (have_pre && memchr (pre.data, '\0', pre.len) != NULL) {
      g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_FORMAT, "%s: %s holds a NUL byte",
                   file, KEY_PRE);
      return NULL;
    }
    /* llama.cpp falls back to its "default" pre-tokenizer when unset. */
    tok->pre = have_pre ? g_strndup (pre.data, pre.len) : g_strdup ("default");
    tok->pretok = tern_pretokenizer_new (tok->pre, error);
    if (tok->pretok == NULL)
      return NULL;
  } else {
    g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_UNSUPPORTED,
                 "%s: tokenizer model '%s' (%s) is not supported; Tern knows 'llama' and 'gpt2'",
                 file, tok->model, KEY_MODEL);
    return NULL;
  }

  if (!load_vocab (tok, gguf, error))
    return NULL;

  /* LLaMA's ids for SentencePiece files that name none, as llama.cpp has
   * them (a default outside the vocabulary means none). llama.cpp's BPE
   * default of 11 for both is Falcon's "<|endoftext|>": other BPE files
   * get none rather than a comma that ends generation. */
  if (tok->kind == TERN_VOCAB_SPM) {
    tok->unk = 0;
    tok->bos = tok->n_vocab > 1 ? 1 : -1;
    tok->eos = tok->n_vocab > 2 ? 2 : -1;
  }

  if (!read_token_id (gguf, KEY_BOS_ID, tok->n_vocab, &tok->bos, error) ||
      !read_token_id (gguf, KEY_EOS_ID, tok->n_vocab, &tok->eos, error) ||
      !read_token_id (gguf, "tokenizer.ggml.eot_token_id", tok->n_vocab, &tok->eot, error) ||
      !read_token_id (gguf, "tokenizer.ggml.eom_token_id", tok->n_vocab, &tok->eom, error) ||
      !read_token_id (gguf, "tokenizer.ggml.unknown_token_id", tok->n_vocab, &tok->unk, error) ||
      !read_token_id (gguf, "tokenizer.ggml.padding_token_id", tok->n_vocab, &tok->pad, error))
    return NULL;

  tok->add_bos = tok->kind == TERN_VOCAB_SPM || tern_pretokenizer_adds_bos (tok->pretok);
  tok->add_eos = FALSE;
  /* Only SentencePiece adds the space; llama.cpp would also strip one when
   * decoding a BPE vocabulary that sets the key, which loses text. */
  tok->add_space_prefix = tok->kind == TERN_VOCAB_SPM;
  if (!read_flag (gguf, KEY_ADD_BOS, &tok->add_bos, error) ||
      !read_flag (gguf, KEY_ADD_EOS, &tok->add_eos, error) ||
      (tok->kind == TERN_VOCAB_SPM &&
       !read_flag (gguf, KEY_ADD_SPACE_PREFIX, &tok->add_space_prefix, error)))
    return NULL;
  if (!check_add_flag (gguf, tok->add_bos, tok->bos, KEY_ADD_BOS, KEY_BOS_ID, error) ||
      !check_add_flag (gguf, tok->add_eos, tok->eos, KEY_ADD_EOS, KEY_EOS_ID, error))
    return NULL;

  find_eog (tok);
  collect_special (tok);
  apply_name_rules (tok, gguf);
  if (!build_pieces (tok, error))
    return NULL;

  if (tok->kind == TERN_VOCAB_SPM)
    tern_spm_init (tok);
  else if (!tern_bpe_init (tok, gguf, error))
    return NULL;
  return g_steal_pointer (&tok);
}

void
tern_tokenizer_free (TernTokenizer *tok)
{
  if (tok == NULL)
    return;
  tern_bpe_clear (tok);
  g_free (tok->model);
  g_free (tok->pre);
  g_free (tok->text);
  g_free (tok->text_start);
  g_free (tok->scores);
  g_free (tok->attrs);
  g_free (tok->flags);
  g_free (tok->piece);
  g_free (tok->piece_start);
  g_free (tok->map.slots);
  g_free (tok->special);
  g_free (tok);
}

/* ---- Accessors ---- */

const char *
tern_tokenizer_model (const TernTokenizer *tok)
{
  return tok->model;
}

const char *
tern_tokenizer_pre (const TernTokenizer *tok)
{
  return tok->pre;
}

gint32
tern_tokenizer_n_vocab (const TernTokenizer *tok)
{
  return tok->n_vocab;
}

TernToken
tern_tokenizer_bos (const TernTokenizer *tok)
{
  return tok->bos;
}

TernToken
tern_tokenizer_eos (const TernTokenizer *tok)
{
  return tok->eos;
}

gboolean
tern_tokenizer_add_bos (const TernTokenizer *tok)
{
  return tok->add_bos;
}

gboolean
tern_tokenizer_add_eos (const TernTokenizer *tok)
{
  return tok->add_eos;
}

gboolean
tern_tokenizer_is_eog (const TernTokenizer *tok, TernToken token)
{
  return token >= 0 && token < tok->n_vocab && (tok->flags[token] & TERN_TOKEN_FLAG_EOG) != 0;
}

const char *
tern_tokenizer_token_text (const TernTokenizer *tok, TernToken token)
{
  gsize len;

  g_return_val_if_fail (token >= 0 && token < tok->n_vocab, NULL);
  return tern_tokenizer_text (tok, token, &len);
}

TernTokenAttr
tern_tokenizer_token_attr (const TernTokenizer *tok, TernToken token)
{
  g_return_val_if_fail (token >= 0 && token < tok->n_vocab, TERN_TOKEN_ATTR_UNUSED);
  return (TernTokenAttr) tok->attrs[token];
}
