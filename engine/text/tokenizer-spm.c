/* SPDX-License-Identifier: GPL-3.0-or-later */
/* SentencePiece BPE ("llama" vocabularies), as llama.cpp's llm_tokenizer_spm:
 * the text, spaces written as U+2581, starts as one symbol per character;
 * the adjacent pair whose concatenation is the highest-scoring token is
 * merged until no pair is a token; symbols that are not tokens fall back to
 * byte tokens <0xXX>. */
#include <string.h>

#include "tokenizer-private.h"

#define SPACE_MARK "\xe2\x96\x81" /* U+2581 LOWER ONE EIGHTH BLOCK */

void
tern_spm_init (TernTokenizer *tok)
{
  for (guint b = 0; b < 256; b++) {
    char hex[7], raw = (char) b;

    g_snprintf (hex, sizeof hex, "<0x%02X>", b);
    tok->byte_token[b] = tern_text_map_find (tok, hex, 6);
    /* Vocabularies without byte tokens may still hold the byte itself. */
    if (tok->byte_token[b] < 0)
      tok->byte_token[b] = tern_text_map_find (tok, &raw, 1);
  }
}

/* Queues the merge of symbols @left and @right when their text is a token. */
static void
try_add_bigram (const TernTokenizer *tok, const char *text, const TernSymbol *sym, gint32 left,
                gint32 right, GArray *heap)
{
  guint32 size;
  TernToken id;
  TernBigram bigram;

  if (left < 0 || right < 0)
    return;
  size = sym[left].n + sym[right].n;
  id = tern_text_map_find (tok, text + sym[left].start, size);
  if (id < 0)
    return;
  bigram = (TernBigram) { -(double) tok->scores[id], left, right, size };
  tern_bigram_push (heap, &bigram);
}

void
tern_spm_encode (const TernTokenizer *tok, const char *text, gsize len, gboolean prefix_space,
                 GArray *out)
{
  g_autoptr (GString) buf = g_string_sized_new (len + len / 4 + 4);
  g_autoptr (GArray) symbols = g_array_new (FALSE, FALSE, sizeof (TernSymbol));
  g_autoptr (GArray) heap = g_array_new (FALSE, FALSE, sizeof (TernBigram));
  TernSymbol *sym;
  TernBigram bigram;

  if (prefix_space)
    g_string_append (buf, SPACE_MARK);
  for (gsize i = 0; i < len; i++) {
    if (text[i] == ' ')
      g_string_append (buf, SPACE_MARK);
    else
      g_string_append_c (buf, text[i]);
  }

  /* The text is valid UTF-8, so every symbol is a whole character. */
  for (gsize offs = 0; offs < buf->len;) {
    TernSymbol s;

    s.n = (guint32) MIN (tern_utf8_len ((guint8) buf->str[offs]), buf->len - offs);
    s.start = (guint32) offs;
    s.prev = (gint32) symbols->len - 1;
    offs += s.n;
    s.next = offs == buf->len ? -1 : (gint32) symbols->len + 1;
    s.id = -1;
    g_array_append_val (symbols, s);
  }
  if (symbols->len == 0)
    return;
  sym = (TernSymbol *) symbols->data;

  for (gint32 i = 1; i < (gint32) symbols->len; i++)
    try_add_bigram (tok, buf->str, sym, i - 1, i, heap);

  while (tern_bigram_pop (heap, &bigram)) {
    TernSymbol *left = &sym[bigram.left], *right = &sym[bigram.right];

    /* Skip pairs that an earlier merge changed. */
    if (left->n == 0 || right->n == 0 || left->n + right->n != bigram.size)
      continue;
    left->n += right->n;
    right->n = 0;
    left->next = right->next;
    if (right->next >= 0)
      sym[right->next].prev = bigram.left;
    try_add_bigram (tok, buf->str, sym, left->prev, bigram.left, heap);
    try_add_bigram (tok, buf->str, sym, bigram.left, left->next, heap);
  }

  /* Every merged symbol is a token; a lone character may not be. */
  for (gint32 i = 0; i != -1; i = sym[i].next) {
    TernToken id = tern_text_map_find (tok, buf->str + sym[i].start, sym[i].n);

    if (id >= 0) {
      g_array_append_val (out, id);
      continue;
    }
    for (guint32 k = 0; k < sym[i].n; k++) {
      TernToken byte = tok->byte_token[(guint8) buf->str[sym[i].start + k]];

      /* llama.cpp aborts on a vocabulary lacking the byte; unknown is the
       * closest thing to the byte it can give. */
      if (byte < 0)
        byte = tok->unk;
      if (byte >= 0)
        g_array_append_val (out, byte);
    }
  }
}
