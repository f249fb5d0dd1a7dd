/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Tokens to text: each token's bytes, and a streaming detokenizer that
 * holds back unfinished characters, as llama.cpp's token_to_piece. */
#include <string.h>

#include "tokenizer-private.h"

/* UTF-8 of U+FFFD, for bytes that are not valid UTF-8. */
#define REPLACEMENT_CHARACTER "\xef\xbf\xbd"

/* The bytes of @token, or NULL when it renders as nothing. */
static const char *
token_piece (const TernTokenizer *tok, TernToken token, gboolean render_special, gsize *len)
{
  TernTokenAttr attr = (TernTokenAttr) tok->attrs[token];

  if (!render_special && (attr == TERN_TOKEN_ATTR_CONTROL || attr == TERN_TOKEN_ATTR_UNKNOWN))
    return NULL;
  *len = tok->piece_start[token + 1] - tok->piece_start[token];
  return tok->piece + tok->piece_start[token];
}

static gboolean
check_token (const TernTokenizer *tok, TernToken token, GError **error)
{
  if (token >= 0 && token < tok->n_vocab)
    return TRUE;
  g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_INVALID,
               "token %d is outside the vocabulary of %d tokens", token, tok->n_vocab);
  return FALSE;
}

gboolean
tern_tokenizer_token_bytes (const TernTokenizer *tok, TernToken token, gboolean render_special,
                            GByteArray *out, GError **error)
{
  const char *piece;
  gsize len;

  if (!check_token (tok, token, error))
    return FALSE;
  piece = token_piece (tok, token, render_special, &len);
  if (piece != NULL)
    g_byte_array_append (out, (const guint8 *) piece, (guint) len);
  return TRUE;
}

struct TernDetokenizer {
  const TernTokenizer *tok;
  gboolean render_special;
  gboolean strip_space; /* the next non-empty piece loses one leading space */
  guint8 pending[4];    /* the start of a character the next pieces finish */
  guint n_pending;
};

TernDetokenizer *
tern_detokenizer_new (const TernTokenizer *tok, gboolean render_special)
{
  TernDetokenizer *detok = g_new0 (TernDetokenizer, 1);

  detok->tok = tok;
  detok->render_special = render_special;
  detok->strip_space = tok->add_space_prefix;
  return detok;
}

void
tern_detokenizer_free (TernDetokenizer *detok)
{
  g_free (detok);
}

void
tern_detokenizer_keep_leading_space (TernDetokenizer *detok)
{
  detok->strip_space = FALSE;
}

/* Appends the complete characters of @p to @out, holding back an
 * unfinished one; bytes that cannot be UTF-8 become U+FFFD, one for each
 * maximal invalid subpart (the Unicode standard's recommended practice). */
static void
feed_bytes (TernDetokenizer *detok, const guint8 *p, gsize n, GString *out)
{
  gsize i = 0, len;

  while (detok->n_pending > 0 && i < n) {
    detok->pending[detok->n_pending++] = p[i++];
    switch (tern_utf8_check (detok->pending, detok->n_pending, &len)) {
    case TERN_UTF8_OK:
      g_string_append_len (out, (const char *) detok->pending, (gssize) len);
      detok->n_pending = 0;
      break;
    case TERN_UTF8_INVALID:
      /* The pending bytes were a valid prefix: the byte just added broke
       * it, and may itself start a character. */
      g_string_append (out, REPLACEMENT_CHARACTER);
      detok->n_pending = 0;
      i--;
      break;
    case TERN_UTF8_INCOMPLETE:
      break;
    }
  }

  while (i < n) {
    gsize run = i;

    while (run < n && p[run] < 0x80)
      run++;
    g_string_append_len (out, (const char *) p + i, (gssize) (run - i));
    i = run;
    if (i == n)
      break;
    switch (tern_utf8_check (p + i, n - i, &len)) {
    case TERN_UTF8_OK:
      g_string_append_len (out, (const char *) p + i, (gssize) len);
      break;
    case TERN_UTF8_INVALID:
      g_string_append (out, REPLACEMENT_CHARACTER);
      break;
    case TERN_UTF8_INCOMPLETE:
      memcpy (detok->pending, p + i, len);
      detok->n_pending = (guint) len;
      break;
    }
    i += len;
  }
}

gboolean
tern_detokenizer_push (TernDetokenizer *detok, TernToken token, GString *out, GError **error)
{
  const char *piece;
  gsize len;

  if (!check_token (detok->tok, token, error))
    return FALSE;
  piece = token_piece (detok->tok, token, detok->render_special, &len);
  if (piece == NULL || len == 0)
    return TRUE;
  if (detok->strip_space) {
    detok->strip_space = FALSE;
    if (piece[0] == ' ') {
      piece++;
      len--;
    }
  }
  feed_bytes (detok, (const guint8 *) piece, len, out);
  return TRUE;
}

void
tern_detokenizer_flush (TernDetokenizer *detok, GString *out)
{
  if (detok->n_pending > 0)
    g_string_append (out, REPLACEMENT_CHARACTER);
  detok->n_pending = 0;
}

gboolean
tern_tokenizer_decode (const TernTokenizer *tok, const TernToken *tokens, gsize n_tokens,
                       gboolean render_special, GString *out, GError **error)
{
  TernDetokenizer detok = { tok, render_special, tok->add_space_prefix, { 0 }, 0 };
  gsize out_len = out->len;

  for (gsize i = 0; i < n_tokens; i++) {
    if (!tern_detokenizer_push (&detok, tokens[i], out, error)) {
      g_string_truncate (out, out_len);
      return FALSE;
    }
  }
  tern_detokenizer_flush (&detok, out);
  return TRUE;
}
