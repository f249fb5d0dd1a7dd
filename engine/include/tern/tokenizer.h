/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <tern/gguf.h>

G_BEGIN_DECLS

/* Tokenizers built from a GGUF file's tokenizer.* metadata:
 * "llama" (SentencePiece BPE with byte fallback) and "gpt2" (byte-level BPE
 * with a pre-tokenizer chosen by tokenizer.ggml.pre, run by PCRE2).
 * A TernTokenizer is immutable once built: any thread may use it. */

typedef struct TernTokenizer TernTokenizer;

typedef enum {
  TERN_TOKEN_ATTR_NORMAL = 1,
  TERN_TOKEN_ATTR_UNKNOWN = 2,
  TERN_TOKEN_ATTR_CONTROL = 3,
  TERN_TOKEN_ATTR_USER_DEFINED = 4,
  TERN_TOKEN_ATTR_UNUSED = 5,
  TERN_TOKEN_ATTR_BYTE = 6,
} TernTokenAttr;

/* Builds the tokenizer of @gguf. The tokenizer copies what it needs: it
 * does not keep @gguf. An unknown tokenizer model or pre-tokenizer is an
 * UNSUPPORTED error; inconsistent metadata (token ids out of range, counts
 * that disagree, merges of missing tokens...) a FORMAT error naming the
 * key; a vocabulary too big for memory a NOMEM error. */
TernTokenizer *tern_tokenizer_new (const TernGguf *gguf, GError **error);
void tern_tokenizer_free (TernTokenizer *tokenizer);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TernTokenizer, tern_tokenizer_free)

/* "llama" or "gpt2"; and the pre-tokenizer name for gpt2 ("default" when
 * unset, and for llama, which has none). */
const char *tern_tokenizer_model (const TernTokenizer *tokenizer);
const char *tern_tokenizer_pre (const TernTokenizer *tokenizer);

gint32 tern_tokenizer_n_vocab (const TernTokenizer *tokenizer);
TernToken tern_tokenizer_bos (const TernTokenizer *tokenizer); /* -1 when none */
TernToken tern_tokenizer_eos (const TernTokenizer *tokenizer); /* -1 when none */
gboolean tern_tokenizer_add_bos (const TernTokenizer *tokenizer);
gboolean tern_tokenizer_add_eos (const TernTokenizer *tokenizer);
/* TRUE for tokens that end generation (EOS, EOT and the like). */
gboolean tern_tokenizer_is_eog (const TernTokenizer *tokenizer, TernToken token);
/* The vocabulary entry's text as stored in the file, and its attribute. */
const char *tern_tokenizer_token_text (const TernTokenizer *tokenizer, TernToken token);
TernTokenAttr tern_tokenizer_token_attr (const TernTokenizer *tokenizer, TernToken token);

typedef enum {
  TERN_TOKENIZE_NONE = 0,
  /* Add BOS (and EOS) as the model's add_bos/add_eos flags say. */
  TERN_TOKENIZE_ADD_SPECIAL = 1 << 0,
  /* Match control (and unknown) tokens written in the text, e.g. "<s>" or
   * "<|im_start|>". Only for text Tern itself produced (chat template
   * output), never user text. User-defined tokens (runs of spaces, single
   * characters...) are ordinary vocabulary and always matched, as in
   * llama.cpp and Hugging Face tokenizers. */
  TERN_TOKENIZE_PARSE_SPECIAL = 1 << 1,
} TernTokenizeFlags;

/* Appends the tokens of @text (@len bytes, or NUL-terminated when -1) to
 * @out (a GArray of TernToken), as llama.cpp's llama_tokenize does. Invalid
 * UTF-8 is an INVALID error and @out is left as it was. */
gboolean tern_tokenizer_encode (const TernTokenizer *tokenizer, const char *text, gssize len,
                                TernTokenizeFlags flags, GArray *out, GError **error);

/* Appends the raw bytes token @token stands for (which may be part of a
 * UTF-8 character) to @out. Control and unknown tokens give nothing unless
 * @render_special. An out-of-range id is an INVALID error. */
gboolean tern_tokenizer_token_bytes (const TernTokenizer *tokenizer, TernToken token,
                                     gboolean render_special, GByteArray *out, GError **error);

/* Streaming detokenizer: turns tokens into text that is always valid UTF-8,
 * holding back the bytes of a character split across tokens until it is
 * complete. One per stream; it refers to @tokenizer, which must outlive it. */
typedef struct TernDetokenizer TernDetokenizer;

TernDetokenizer *tern_detokenizer_new (const TernTokenizer *tokenizer, gboolean render_special);
void tern_detokenizer_free (TernDetokenizer *detok);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TernDetokenizer, tern_detokenizer_free)
/* For a stream that continues text already shown (a completion): its first
 * piece keeps its leading space. Call before the first push. */
void tern_detokenizer_keep_leading_space (TernDetokenizer *detok);
/* Appends the complete UTF-8 text that @token finishes to @out; bytes that
 * cannot be UTF-8 become U+FFFD. With a vocabulary that adds a space prefix
 * (SentencePiece), the first piece that renders anything loses one leading
 * space, so text -> tokens -> text gives the text back. (llama.cpp's
 * llama_detokenize strips it only when the very first token is not BOS.)
 * An out-of-range id is an INVALID error. */
gboolean tern_detokenizer_push (TernDetokenizer *detok, TernToken token, GString *out, GError **error);
/* Ends the stream: bytes of an unfinished character become U+FFFD. */
void tern_detokenizer_flush (TernDetokenizer *detok, GString *out);

/* Appends the text of @n_tokens tokens to @out, as a fresh detokenizer
 * would (flushed at the end). On error @out is left as it was. */
gboolean tern_tokenizer_decode (const TernTokenizer *tokenizer, const TernToken *tokens,
                                gsize n_tokens, gboolean render_special, GString *out,
                                GError **error);

G_END_DECLS
