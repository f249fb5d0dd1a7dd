/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Text to tokens: the special-token partition of the text, then each raw
 * fragment through SentencePiece or BPE, as llama.cpp's llama-vocab.cpp. */
#define _GNU_SOURCE /* memmem */
#include <string.h>

#include "tokenizer-private.h"

/* A piece of the text: raw text to tokenize, or a special token found in it. */
typedef struct {
  gsize start, len;
  TernToken token; /* -1 for raw text */
} Fragment;

/* Whitespace as C's isspace in the "C" locale: llama.cpp's test. */
static gboolean
is_space (char c)
{
  return c == ' ' || (c >= '\t' && c <= '\r');
}

/* Splits the raw fragments of @frags at every occurrence of special token
 * @id, leftmost first, as llama.cpp's tokenizer_st_partition; a token with
 * TERN_TOKEN_FLAG_RSTRIP drops the whitespace after it in its fragment. */
static void
split_at_token (const TernTokenizer *tok, const char *text, TernToken id, GArray *frags,
                GArray *scratch)
{
  gsize slen;
  const char *s = tern_tokenizer_text (tok, id, &slen);
  gboolean rstrip = (tok->flags[id] & TERN_TOKEN_FLAG_RSTRIP) != 0;

  g_array_set_size (scratch, 0);
  for (guint i = 0; i < frags->len; i++) {
    Fragment f = g_array_index (frags, Fragment, i);
    gsize pos = f.start, end = f.start + f.len;

    if (f.token >= 0) {
      g_array_append_val (scratch, f);
      continue;
    }
    while (pos < end) {
      const char *hit = memmem (text + pos, end - pos, s, slen);
      Fragment piece;

      if (hit == NULL)
        break;
      if ((gsize) (hit - text) > pos) {
        piece = (Fragment) { pos, (gsize) (hit - text) - pos, -1 };
        g_array_append_val (scratch, piece);
      }
      piece = (Fragment) { (gsize) (hit - text), slen, id };
      g_array_append_val (scratch, piece);
      pos = (gsize) (hit - text) + slen;
      while (rstrip && pos < end && is_space (text[pos]))
        pos++;
    }
    if (pos < end) {
      Fragment rest = { pos, end - pos, -1 };
      g_array_append_val (scratch, rest);
    }
  }
  g_array_set_size (frags, 0);
  g_array_append_vals (frags, scratch->data, scratch->len);
}

/* Cuts @text into raw text and special tokens. User-defined tokens are
 * always matched (llama.cpp does, as Hugging Face tokenizers do for added
 * tokens: vocabularies use them for runs of spaces or single characters);
 * control and unknown tokens only with @parse_special. */
static void
partition (const TernTokenizer *tok, const char *text, gsize len, gboolean parse_special,
           GArray *frags)
{
  g_autoptr (GArray) scratch = g_array_new (FALSE, FALSE, sizeof (Fragment));
  g_autofree guint64 *pairs = NULL;
  guint64 singles[4] = { 0 };
  Fragment whole = { 0, len, -1 };

  if (len == 0)
    return;
  g_array_append_val (frags, whole);
  if (tok->n_special == 0)
    return;

  /* Which bytes and byte pairs occur, to skip most special tokens without
   * searching the text for them. */
  pairs = g_new0 (guint64, 65536 / 64);
  for (gsize i = 0; i < len; i++) {
    guint8 c = (guint8) text[i];

    singles[c / 64] |= G_GUINT64_CONSTANT (1) << (c % 64);
    if (i + 1 < len) {
      guint pair = (guint) c << 8 | (guint8) text[i + 1];

      pairs[pair / 64] |= G_GUINT64_CONSTANT (1) << (pair % 64);
    }
  }

  for (gsize k = 0; k < tok->n_special; k++) {
    TernToken id = tok->special[k];
    TernTokenAttr attr = (TernTokenAttr) tok->attrs[id];
    gsize slen;
    const guint8 *s = (const guint8 *) tern_tokenizer_text (tok, id, &slen);

    if (!parse_special && attr != TERN_TOKEN_ATTR_USER_DEFINED)
      continue;
    if (slen > len)
      continue;
    if (slen == 1 && !(singles[s[0] / 64] & (G_GUINT64_CONSTANT (1) << (s[0] % 64))))
      continue;
    if (slen >= 2) {
      guint pair = (guint) s[0] << 8 | s[1];

      if (!(pairs[pair / 64] & (G_GUINT64_CONSTANT (1) << (pair % 64))))
        continue;
    }
    split_at_token (tok, text, id, frags, scratch);
  }
}

gboolean
tern_tokenizer_encode (const TernTokenizer *tok, const char *text, gssize len,
                       TernTokenizeFlags flags, GArray *out, GError **error)
{
  g_autoptr (GArray) frags = g_array_new (FALSE, FALSE, sizeof (Fragment));
  guint out_len = out->len;
  gboolean prev_special = TRUE; /* SPM: the text after a special token gets the space prefix */
  gsize n, bad;

  g_return_val_if_fail (text != NULL || len == 0, FALSE);
  g_return_val_if_fail (g_array_get_element_size (out) == sizeof (TernToken), FALSE);

  n = len < 0 ? strlen (text) : (gsize) len;
  bad = tern_utf8_valid_prefix (text, n);
  if (bad != n) {
    g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_INVALID,
                 "text to tokenize is not valid UTF-8 (at byte %" G_GSIZE_FORMAT ")", bad);
    return FALSE;
  }

  partition (tok, text, n, (flags & TERN_TOKENIZE_PARSE_SPECIAL) != 0, frags);

  if ((flags & TERN_TOKENIZE_ADD_SPECIAL) && tok->add_bos)
    g_array_append_val (out, tok->bos);

  for (guint i = 0; i < frags->len; i++) {
    const Fragment *f = &g_array_index (frags, Fragment, i);

    if (f->token >= 0) {
      g_array_append_val (out, f->token);
      prev_special = TRUE;
    } else if (tok->kind == TERN_VOCAB_SPM) {
      tern_spm_encode (tok, text + f->start, f->len, tok->add_space_prefix && prev_special, out);
      prev_special = FALSE;
    } else if (!tern_bpe_encode (tok, text + f->start, f->len, out, error)) {
      g_array_set_size (out, out_len);
      return FALSE;
    }
  }

  if ((flags & TERN_TOKENIZE_ADD_SPECIAL) && tok->add_eos)
    g_array_append_val (out, tok->eos);
  return TRUE;
}
