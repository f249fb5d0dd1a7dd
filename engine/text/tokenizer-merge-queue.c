/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The merge queue of SentencePiece and BPE: a min-heap of candidate merges. */
#include "tokenizer-private.h"

static gboolean
bigram_before (const TernBigram *a, const TernBigram *b)
{
  return a->priority < b->priority || (a->priority == b->priority && a->left < b->left);
}

void
tern_bigram_push (GArray *heap, const TernBigram *bigram)
{
  TernBigram *h;
  guint i;

  g_array_append_val (heap, *bigram);
  h = (TernBigram *) heap->data;
  for (i = heap->len - 1; i > 0;) {
    guint parent = (i - 1) / 2;
    TernBigram tmp;

    if (!bigram_before (&h[i], &h[parent]))
      break;
    tmp = h[i];
    h[i] = h[parent];
    h[parent] = tmp;
    i = parent;
  }
}

gboolean
tern_bigram_pop (GArray *heap, TernBigram *out)
{
  TernBigram *h = (TernBigram *) heap->data;
  guint n = heap->len, i = 0;

  if (n == 0)
    return FALSE;
  *out = h[0];
  h[0] = h[n - 1];
  n--;
  g_array_set_size (heap, n);
  for (;;) {
    guint l = 2 * i + 1, r = l + 1, best = i;
    TernBigram tmp;

    if (l < n && bigram_before (&h[l], &h[best]))
      best = l;
    if (r < n && bigram_before (&h[r], &h[best]))
      best = r;
    if (best == i)
      break;
    tmp = h[i];
    h[i] = h[best];
    h[best] = tmp;
    i = best;
  }
  return TRUE;
}
