/* SPDX-License-Identifier: GPL-3.0-or-later */
/* UTF-8 well-formedness, as the tokenizer needs it: text to encode must be
 * valid, and the detokenizer turns invalid bytes into U+FFFD. */
#include "tokenizer-private.h"

TernUtf8Status
tern_utf8_check (const guint8 *s, gsize n, gsize *len)
{
  guint8 b = s[0], lo = 0x80, hi = 0xbf;
  gsize need;

  if (b < 0x80) {
    *len = 1;
    return TERN_UTF8_OK;
  }
  if (b >= 0xc2 && b <= 0xdf)
    need = 2;
  else if (b >= 0xe0 && b <= 0xef) {
    need = 3;
    if (b == 0xe0)
      lo = 0xa0;
    else if (b == 0xed)
      hi = 0x9f;
  } else if (b >= 0xf0 && b <= 0xf4) {
    need = 4;
    if (b == 0xf0)
      lo = 0x90;
    else if (b == 0xf4)
      hi = 0x8f;
  } else {
    *len = 1;
    return TERN_UTF8_INVALID;
  }

  for (gsize k = 1; k < need; k++) {
    if (k >= n) {
      *len = n;
      return TERN_UTF8_INCOMPLETE;
    }
    if (s[k] < lo || s[k] > hi) {
      *len = k;
      return TERN_UTF8_INVALID;
    }
    lo = 0x80;
    hi = 0xbf;
  }
  *len = need;
  return TERN_UTF8_OK;
}

gsize
tern_utf8_valid_prefix (const char *text, gsize n)
{
  const guint8 *s = (const guint8 *) text;
  gsize i = 0, len;

  while (i < n) {
    if (s[i] < 0x80) {
      i++;
      continue;
    }
    if (tern_utf8_check (s + i, n - i, &len) != TERN_UTF8_OK)
      return i;
    i += len;
  }
  return n;
}
