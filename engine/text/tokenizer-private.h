/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/* Shared by the tokenizer's files: tokenizer.c (metadata, vocabulary,
 * special tokens), tokenizer-encode.c (the special-token partition),
 * tokenizer-decode.c (the detokenizer), tokenizer-utf8.c,
 * tokenizer-merge-queue.c, tokenizer-spm.c (SentencePiece) and
 * tokenizer-bpe.c (byte-level BPE and its pre-tokenizers). Not installed:
 * the tests include it for the pre-tokenizer split. */

#include <tern/error.h>
#include <tern/tokenizer.h>

G_BEGIN_DECLS

typedef enum {
  TERN_VOCAB_SPM,
  TERN_VOCAB_BPE,
} TernVocabKind;

/* Per-token flags beside the attribute. */
enum {
  TERN_TOKEN_FLAG_EOG = 1 << 0,    /* ends generation */
  TERN_TOKEN_FLAG_RSTRIP = 1 << 1, /* a special token that swallows the whitespace after it */
};

/* Maps byte strings to token ids: open addressing over the vocabulary's
 * own text, so a lookup needs no allocation and allows embedded NULs. The
 * tables are filled to two thirds: building them is mostly first touches
 * of fresh memory. */
typedef struct {
  guint64 *slots; /* hash << 32 | (token id + 1); 0 is empty */
  guint32 n_slots;
} TernTextMap;

/* Maps a pair of token ids (a BPE merge) to its rank and result. */
typedef struct {
  guint64 key; /* left << 32 | right; G_MAXUINT64 is empty */
  guint32 rank;
  TernToken result;
} TernMerge;

typedef struct {
  TernMerge *entries;
  guint32 n_entries;
} TernMergeMap;

/* The home slot of a 32-bit hash in a table of @n slots. */
static inline guint32
tern_slot (guint32 hash, guint32 n)
{
  return (guint32) (((guint64) hash * n) >> 32);
}

/* Slots to hold @n entries at most two thirds full. */
static inline guint32
tern_table_size (gsize n)
{
  return (guint32) (n + n / 2 + 16);
}

typedef struct TernPreTokenizer TernPreTokenizer;

struct TernTokenizer {
  TernVocabKind kind;
  char *model; /* "llama" or "gpt2" */
  char *pre;   /* pre-tokenizer name; "default" for SPM */

  gint32 n_vocab;
  char *text;          /* every token's text, each followed by a NUL */
  guint32 *text_start; /* [n_vocab + 1]: token i is text[text_start[i]] .. text_start[i+1] - 1 */
  float *scores;       /* [n_vocab]; SPM merge priority */
  guint8 *attrs;       /* [n_vocab] TernTokenAttr */
  guint8 *flags;       /* [n_vocab] TERN_TOKEN_FLAG_* */
  char *piece;         /* the bytes each token stands for (token_bytes with render_special) */
  guint32 *piece_start; /* [n_vocab + 1] */
  TernTextMap map;

  TernToken bos, eos, eot, eom, unk, pad; /* -1 when none */
  gboolean add_bos, add_eos;
  gboolean add_space_prefix; /* SPM: prepend a space to text (and drop it when decoding) */

  /* Tokens the special-token partition looks for (control, unknown and
   * user-defined), longest text first. */
  TernToken *special;
  gsize n_special;

  /* SPM: the token standing for each byte (<0xXX>, or the one-byte text);
   * BPE: the token of the byte's byte-level character. -1 when none. */
  TernToken byte_token[256];

  /* BPE only. */
  TernMergeMap merges;
  TernPreTokenizer *pretok;
  gboolean ignore_merges; /* a pre-token that is a whole token is not merged (Llama 3) */
};

/* Token text helpers. */
static inline const char *
tern_tokenizer_text (const TernTokenizer *tok, TernToken id, gsize *len)
{
  *len = tok->text_start[id + 1] - tok->text_start[id] - 1;
  return tok->text + tok->text_start[id];
}

/* Returns the token whose text is exactly @s (@len bytes), or -1. */
TernToken tern_text_map_find (const TernTokenizer *tok, const char *s, gsize len);

/* A min-heap of candidate merges ordered by priority, then by the position
 * of the left symbol, as llama.cpp's work queues order them. */
typedef struct {
  double priority; /* SPM: -score; BPE: merge rank */
  gint32 left, right;
  guint32 size; /* bytes of the merged text when queued: detects stale entries */
} TernBigram;

void tern_bigram_push (GArray *heap, const TernBigram *bigram);
gboolean tern_bigram_pop (GArray *heap, TernBigram *out);

/* A symbol of the merge loop: a run of bytes of the text being merged,
 * linked to its live neighbours. */
typedef struct {
  gint32 prev, next;
  guint32 start, n; /* n == 0: merged into its left neighbour */
  TernToken id;     /* BPE: the token the symbol spells, or -1 */
} TernSymbol;

/* Bytes in the UTF-8 character that starts with @c (1 for a stray
 * continuation byte), as llama.cpp's unicode_len_utf8. */
static inline guint
tern_utf8_len (guint8 c)
{
  static const guint8 lookup[16] = { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4 };
  return lookup[c >> 4];
}

typedef enum {
  TERN_UTF8_OK,         /* a valid character of *len bytes */
  TERN_UTF8_INVALID,    /* *len bytes (the maximal invalid subpart) are no character */
  TERN_UTF8_INCOMPLETE, /* all @n bytes are a valid but unfinished character */
} TernUtf8Status;

/* Classifies the bytes at @s (@n > 0) as the Unicode standard's
 * well-formed UTF-8 table does (no overlongs, surrogates or values past
 * U+10FFFF). */
TernUtf8Status tern_utf8_check (const guint8 *s, gsize n, gsize *len);
/* Returns the offset of the first byte that is not valid UTF-8, or @n.
 * U+0000 is valid: byte-level and byte-fallback vocabularies encode it. */
gsize tern_utf8_valid_prefix (const char *text, gsize n);

/* SentencePiece: sets up byte_token. */
void tern_spm_init (TernTokenizer *tok);
/* Appends the tokens of one text fragment (no special tokens in it);
 * @prefix_space: prepend the space that add_space_prefix asks for. */
void tern_spm_encode (const TernTokenizer *tok, const char *text, gsize len, gboolean prefix_space,
                      GArray *out);

/* Byte-level BPE: reads the merges, picks the pre-tokenizer. */
gboolean tern_bpe_init (TernTokenizer *tok, const TernGguf *gguf, GError **error);
void tern_bpe_clear (TernTokenizer *tok);
gboolean tern_bpe_encode (const TernTokenizer *tok, const char *text, gsize len, GArray *out,
                          GError **error);
/* Appends the bytes that a byte-level BPE token's text stands for. */
void tern_bpe_decode_text (const char *text, gsize len, GByteArray *out);

/* Pre-tokenizers: the lists of regular expressions llama.cpp applies for
 * each tokenizer.ggml.pre. Unknown names are an UNSUPPORTED error. */
TernPreTokenizer *tern_pretokenizer_new (const char *name, GError **error);
void tern_pretokenizer_free (TernPreTokenizer *pretok);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TernPreTokenizer, tern_pretokenizer_free)
/* Llama 3 style: words that are whole tokens skip the merges. */
gboolean tern_pretokenizer_ignores_merges (const TernPreTokenizer *pretok);
/* The add_bos default of the pre-tokenizer's models. */
gboolean tern_pretokenizer_adds_bos (const TernPreTokenizer *pretok);
/* Splits @text (valid UTF-8) into pre-tokens, appending the end offset
 * (gsize) of each piece to @ends. Fails only when the regular expression
 * engine gives up (an INVALID error). */
gboolean tern_pretokenizer_split (const TernPreTokenizer *pretok, const char *text, gsize len,
                                  GArray *ends, GError **error);

G_END_DECLS
