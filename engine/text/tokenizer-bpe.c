/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Byte-level BPE ("gpt2" vocabularies), as llama.cpp's llm_tokenizer_bpe:
 * a pre-tokenizer (regular expressions chosen by tokenizer.ggml.pre, run by
 * PCRE2) cuts the text into words; each byte of a word becomes the
 * printable character GPT-2 maps it to, and adjacent symbols are merged by
 * merge rank (tokenizer.ggml.merges) until no merge applies. */
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "tokenizer-private.h"

#define KEY_MERGES "tokenizer.ggml.merges"

/* ---- GPT-2's byte <-> character mapping ---- */

/* Printable Latin-1 bytes stand for themselves; the others take the
 * code points from U+0100 on, in byte order. */
static gunichar
byte_to_char (guint8 b)
{
  guint n = 0;

  if ((b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || b >= 0xae)
    return b;
  for (guint c = 0; c < b; c++) {
    if (!((c >= 0x21 && c <= 0x7e) || (c >= 0xa1 && c <= 0xac) || c >= 0xae))
      n++;
  }
  return 0x100 + n;
}

/* The byte that code point @c stands for, or -1. */
static gint
char_to_byte (gunichar c)
{
  static gint16 table[0x144];
  static gsize init = 0;

  if (g_once_init_enter (&init)) {
    for (guint i = 0; i < G_N_ELEMENTS (table); i++)
      table[i] = -1;
    for (guint b = 0; b < 256; b++)
      table[byte_to_char ((guint8) b)] = (gint16) b;
    g_once_init_leave (&init, 1);
  }
  return c < G_N_ELEMENTS (table) ? table[c] : -1;
}

void
tern_bpe_decode_text (const char *text, gsize len, GByteArray *out)
{
  const char *end = text + len;

  for (const char *p = text; p < end; p = g_utf8_next_char (p)) {
    gint b = char_to_byte (g_utf8_get_char (p));

    if (b >= 0) {
      guint8 byte = (guint8) b;

      g_byte_array_append (out, &byte, 1);
    } else {
      /* Not a byte-level character: keep it as written (llama.cpp would
       * print an [UNK_BYTE_...] marker). */
      g_byte_array_append (out, (const guint8 *) p, (guint) (g_utf8_next_char (p) - p));
    }
  }
}

/* ---- Pre-tokenizers ---- */

/* GPT-2's expression, shared by many. */
#define RE_GPT2 "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)"
/* Llama 3's, with its (?i:'s|'t|...) spelled out in ASCII as llama.cpp
 * does (PCRE2's caseless match would also take U+017F for s). */
#define RE_LLAMA3 "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])" \
  "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
/* Qwen 2's: Llama 3's with single digits. */
#define RE_QWEN2 "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])" \
  "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
/* DeepSeek's CJK and Hangul ranges, [一-龥ࠀ-一가-퟿]+. llama.cpp matches
 * expressions without \p classes on text whose non-ASCII whitespace was
 * replaced by U+000B, so the whitespace inside U+0800-U+4E00 never
 * matches: hence the look-ahead. */
#define RE_DEEPSEEK_CJK "(?:(?!\\s)[\\x{4E00}-\\x{9FA5}\\x{0800}-\\x{4E00}\\x{AC00}-\\x{D7FF}])+"

static const char *const default_regexes[] = {
  "[\\p{P}\\$\\+<=>\\^~\\|]+",
  RE_GPT2,
  "\\p{N}+",
  "[0-9][0-9][0-9]",
  NULL,
};
static const char *const gpt2_regexes[] = { RE_GPT2, NULL };
static const char *const llama3_regexes[] = { RE_LLAMA3, NULL };
static const char *const qwen2_regexes[] = { RE_QWEN2, NULL };
static const char *const starcoder_regexes[] = { "\\p{N}", RE_GPT2, NULL };
static const char *const falcon_regexes[] = {
  "[\\p{P}\\$\\+<=>\\^~\\|`]+",
  RE_GPT2,
  "[0-9][0-9][0-9]",
  NULL,
};
static const char *const deepseek_coder_regexes[] = {
  "[\r\n]",
  "\\s?\\p{L}+",
  "\\s?\\p{P}+",
  RE_DEEPSEEK_CJK,
  "\\p{N}",
  NULL,
};
static const char *const deepseek_llm_regexes[] = {
  "[\r\n]",
  /* The cased letters of DeepSeek's tokenizer.json, as code points:
   * [A-Za-zµÀ-ÖØ-öø-ƺƼ-ƿǄ-ʓ...𐐀-𐑏𐒰-𐓓𐓘-𐓻𐲀-𐲲𐳀-𐳲𑢠-𑣟𞤀-𞥃]. */
  "\\s?[\\x{41}-\\x{5A}\\x{61}-\\x{7A}\\x{B5}\\x{C0}-\\x{D6}\\x{D8}-\\x{F6}\\x{F8}-\\x{1BA}"
  "\\x{1BC}-\\x{1BF}\\x{1C4}-\\x{293}\\x{295}-\\x{2AF}\\x{370}-\\x{373}\\x{376}\\x{377}"
  "\\x{37B}-\\x{37D}\\x{37F}\\x{386}\\x{388}-\\x{38A}\\x{38C}\\x{38E}-\\x{3A1}\\x{3A3}-\\x{3F5}"
  "\\x{3F7}-\\x{481}\\x{48A}-\\x{52F}\\x{531}-\\x{556}\\x{10A0}-\\x{10C5}\\x{13A0}-\\x{13F5}"
  "\\x{13F8}-\\x{13FD}\\x{1C90}-\\x{1CBA}\\x{1CBD}-\\x{1CBF}\\x{1D00}-\\x{1D2B}\\x{1D6B}-\\x{1D77}"
  "\\x{1D79}-\\x{1D9A}\\x{1E00}-\\x{1F15}\\x{1F18}-\\x{1F1D}\\x{1F20}-\\x{1F45}\\x{1F48}-\\x{1F4D}"
  "\\x{1F50}-\\x{1F57}\\x{1F59}\\x{1F5B}\\x{1F5D}\\x{1F5F}-\\x{1F7D}\\x{1F80}-\\x{1FB4}"
  "\\x{1FB6}-\\x{1FBC}\\x{1FBE}\\x{1FC2}-\\x{1FC4}\\x{1FC6}-\\x{1FCC}\\x{1FD0}-\\x{1FD3}"
  "\\x{1FD6}-\\x{1FDB}\\x{1FE0}-\\x{1FEC}\\x{1FF2}-\\x{1FF4}\\x{1FF6}-\\x{1FFC}\\x{2102}\\x{2107}"
  "\\x{210A}-\\x{2113}\\x{2115}\\x{2119}-\\x{211D}\\x{2124}\\x{2126}\\x{2128}\\x{212A}-\\x{212D}"
  "\\x{212F}-\\x{2134}\\x{2139}\\x{213C}-\\x{213F}\\x{2145}-\\x{2149}\\x{214E}\\x{2183}\\x{2184}"
  "\\x{2C00}-\\x{2C7B}\\x{2C7E}-\\x{2CE4}\\x{2CEB}-\\x{2CEE}\\x{2CF2}\\x{2CF3}\\x{A640}-\\x{A66D}"
  "\\x{A680}-\\x{A69B}\\x{A722}-\\x{A76F}\\x{A771}-\\x{A787}\\x{A78B}-\\x{A78E}\\x{AB70}-\\x{ABBF}"
  "\\x{FB00}-\\x{FB06}\\x{FB13}-\\x{FB17}\\x{FF21}-\\x{FF3A}\\x{FF41}-\\x{FF5A}\\x{10400}-\\x{1044F}"
  "\\x{104B0}-\\x{104D3}\\x{104D8}-\\x{104FB}\\x{10C80}-\\x{10CB2}\\x{10CC0}-\\x{10CF2}"
  "\\x{118A0}-\\x{118DF}\\x{1E900}-\\x{1E943}]+",
  /* [!-/:-~！-／：-～‘-‟　-。]: U+3000 is whitespace, which this class never
   * matches in llama.cpp (see RE_DEEPSEEK_CJK). */
  "\\s?[!-/:-~\\x{FF01}-\\x{FF0F}\\x{FF1A}-\\x{FF5E}\\x{2018}-\\x{201F}\\x{3001}-\\x{3002}]+",
  "\\s+$",
  RE_DEEPSEEK_CJK,
  "\\p{N}+",
  NULL,
};

typedef struct {
  const char *const *names;
  const char *const *regexes;
  gboolean ignore_merges;
  gboolean add_bos;
} PreInfo;

/* llama.cpp's tokenizer.ggml.pre names for each list of expressions. */
static const PreInfo pre_infos[] = {
  { (const char *const[]) { "default", NULL }, default_regexes, FALSE, FALSE },
  { (const char *const[]) { "llama3", "llama-v3", "llama-bpe", "falcon3", NULL }, llama3_regexes,
    TRUE, TRUE },
  { (const char *const[]) { "dbrx", "smaug-bpe", NULL }, llama3_regexes, FALSE, FALSE },
  { (const char *const[]) { "qwen2", "stablelm2", "deepseek-r1-qwen", "megrez", NULL },
    qwen2_regexes, FALSE, FALSE },
  { (const char *const[]) { "gpt-2", "phi-2", "mpt", "olmo", "jina-es", "jina-de", "jina-v2-es",
                            "jina-v2-de", NULL },
    gpt2_regexes, FALSE, FALSE },
  { (const char *const[]) { "starcoder", "refact", "smollm", "command-r", "codeshell", "exaone",
                            "minerva-7b", NULL },
    starcoder_regexes, FALSE, FALSE },
  { (const char *const[]) { "falcon", NULL }, falcon_regexes, FALSE, FALSE },
  { (const char *const[]) { "deepseek-llm", NULL }, deepseek_llm_regexes, FALSE, FALSE },
  { (const char *const[]) { "deepseek-coder", NULL }, deepseek_coder_regexes, FALSE, FALSE },
};

#define MAX_REGEXES 6

struct TernPreTokenizer {
  const PreInfo *info;
  guint n_regexes;
  pcre2_code *regexes[MAX_REGEXES];
};

/* llama.cpp's \s is Unicode White_Space; PCRE2's also takes U+180E. */
#define WHITESPACE "\\t-\\r \\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}" \
  "\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}"

/* Rewrites \s and \S as explicit classes of llama.cpp's whitespace. */
static char *
expand_whitespace (const char *pattern)
{
  GString *out = g_string_new (NULL);
  gboolean in_class = FALSE;

  for (const char *p = pattern; *p != '\0'; p++) {
    if (*p == '\\' && p[1] != '\0') {
      if (p[1] == 's')
        g_string_append (out, in_class ? WHITESPACE : "[" WHITESPACE "]");
      else if (p[1] == 'S') {
        g_assert (!in_class);
        g_string_append (out, "[^" WHITESPACE "]");
      } else
        g_string_append_len (out, p, 2);
      p++;
      continue;
    }
    if (*p == '[' && !in_class)
      in_class = TRUE;
    else if (*p == ']' && in_class)
      in_class = FALSE;
    g_string_append_c (out, *p);
  }
  return g_string_free (out, FALSE);
}

TernPreTokenizer *
tern_pretokenizer_new (const char *name, GError **error)
{
  g_autoptr (TernPreTokenizer) pretok = g_new0 (TernPreTokenizer, 1);

  for (gsize i = 0; i < G_N_ELEMENTS (pre_infos) && pretok->info == NULL; i++) {
    for (const char *const *n = pre_infos[i].names; *n != NULL; n++) {
      if (strcmp (*n, name) == 0)
        pretok->info = &pre_infos[i];
    }
  }
  if (pretok->info == NULL) {
    g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_UNSUPPORTED,
                 "pre-tokenizer '%s' (tokenizer.ggml.pre) is not supported", name);
    return NULL;
  }

  for (const char *const *re = pretok->info->regexes; *re != NULL; re++) {
    g_autofree char *pattern = expand_whitespace (*re);
    int code;
    PCRE2_SIZE offset;
    pcre2_code *compiled;

    g_assert (pretok->n_regexes < MAX_REGEXES);
    /* $ is the end of the piece, as in std::regex, not before a final \n. */
    compiled = pcre2_compile ((PCRE2_SPTR) pattern, PCRE2_ZERO_TERMINATED,
                              PCRE2_UTF | PCRE2_UCP | PCRE2_DOLLAR_ENDONLY, &code, &offset, NULL);
    if (compiled == NULL) {
      /* The expressions are fixed: only a PCRE2 built without Unicode
       * support refuses them. */
      PCRE2_UCHAR message[256];

      pcre2_get_error_message (code, message, sizeof message);
      g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_UNSUPPORTED,
                   "pre-tokenizer '%s': PCRE2 cannot compile its expression: %s", name,
                   (const char *) message);
      return NULL;
    }
    /* Without JIT (unsupported CPU, no executable memory) matching still works. */
    pcre2_jit_compile (compiled, PCRE2_JIT_COMPLETE);
    pretok->regexes[pretok->n_regexes++] = compiled;
  }
  return g_steal_pointer (&pretok);
}

void
tern_pretokenizer_free (TernPreTokenizer *pretok)
{
  if (pretok == NULL)
    return;
  for (guint i = 0; i < pretok->n_regexes; i++)
    pcre2_code_free (pretok->regexes[i]);
  g_free (pretok);
}

gboolean
tern_pretokenizer_ignores_merges (const TernPreTokenizer *pretok)
{
  return pretok->info->ignore_merges;
}

gboolean
tern_pretokenizer_adds_bos (const TernPreTokenizer *pretok)
{
  return pretok->info->add_bos;
}

/* Finds the next match of @re in the piece @subject from @from. Returns 1
 * with the match's bounds, 0 when there is none, -1 with an error. */
static int
next_match (const pcre2_code *re, const char *subject, gsize len, gsize from,
            pcre2_match_data *md, gsize *start, gsize *end, GError **error)
{
  int rc = pcre2_match (re, (PCRE2_SPTR) subject, len, from, PCRE2_NO_UTF_CHECK, md, NULL);
  const PCRE2_SIZE *ov;

  /* The JIT's fixed stack can run out where the interpreter's heap does not. */
  if (rc == PCRE2_ERROR_JIT_STACKLIMIT)
    rc = pcre2_match (re, (PCRE2_SPTR) subject, len, from, PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT, md,
                      NULL);
  if (rc == PCRE2_ERROR_NOMATCH)
    return 0;
  if (rc < 0) {
    PCRE2_UCHAR message[256];

    pcre2_get_error_message (rc, message, sizeof message);
    g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_INVALID,
                 "cannot pre-tokenize the text: %s", (const char *) message);
    return -1;
  }
  ov = pcre2_get_ovector_pointer (md);
  *start = ov[0];
  *end = ov[1];
  return 1;
}

/* Each expression splits every piece the previous ones made: its matches
 * become pieces, and so does the text between them (llama.cpp's
 * unicode_regex_split). Each piece is matched on its own, so look-aheads
 * and $ stop at its end. */
gboolean
tern_pretokenizer_split (const TernPreTokenizer *pretok, const char *text, gsize len, GArray *ends,
                         GError **error)
{
  g_autoptr (GArray) cur = g_array_new (FALSE, FALSE, sizeof (gsize));
  g_autoptr (GArray) next = g_array_new (FALSE, FALSE, sizeof (gsize));
  pcre2_match_data *md;
  gboolean ok = TRUE;

  if (len == 0)
    return TRUE;
  g_array_append_val (cur, len);
  md = pcre2_match_data_create (1, NULL);

  for (guint r = 0; r < pretok->n_regexes && ok; r++) {
    gsize start = 0;

    g_array_set_size (next, 0);
    for (guint i = 0; i < cur->len && ok; i++) {
      gsize end = g_array_index (cur, gsize, i);
      const char *piece = text + start;
      gsize plen = end - start, pos = 0, last = 0, ms, me;

      while (pos < plen) {
        int found = next_match (pretok->regexes[r], piece, plen, pos, md, &ms, &me, error);

        if (found < 0)
          ok = FALSE;
        if (found <= 0)
          break;
        if (me == ms) {
          /* No expression here matches empty text; step over it anyway. */
          if (ms >= plen)
            break;
          pos = MIN (plen, ms + tern_utf8_len ((guint8) piece[ms]));
          continue;
        }
        if (ms > last) {
          gsize gap_end = start + ms;

          g_array_append_val (next, gap_end);
        }
        last = me;
        pos = me;
        me += start;
        g_array_append_val (next, me);
      }
      if (last < plen)
        g_array_append_val (next, end);
      start = end;
    }
    g_array_set_size (cur, 0);
    g_array_append_vals (cur, next->data, next->len);
  }
  pcre2_match_data_free (md);
  if (ok)
    g_array_append_vals (ends, cur->data, cur->len);
  return ok;
}

/* ---- Merges ---- */

static guint32
merge_slot (guint64 key, guint32 n)
{
  return tern_slot ((guint32) ((key * G_GUINT64_CONSTANT (0x9E3779B97F4A7C15)) >> 32), n);
}

static gboolean
merge_find (const TernMergeMap *map, TernToken left, TernToken right, guint32 *rank,
            TernToken *result)
{
  guint64 key = (guint64) left << 32 | (guint32) right;

  for (guint32 i = merge_slot (key, map->n_entries);; i = i + 1 == map->n_entries ? 0 : i + 1) {
    const TernMerge *e = &map->entries[i];

    if (e->key == G_MAXUINT64)
      return FALSE;
    if (e->key == key) {
      *rank = e->rank;
      *result = e->result;
      return TRUE;
    }
  }
}

/* Reads "left right" merges, rank = position. Every part and result must
 * be a token: Hugging Face refuses to load such a vocabulary too. */
static gboolean
load_merges (TernTokenizer *tok, const TernGguf *gguf, GError **error)
{
  const TernGgufValue *merges = tern_gguf_find (gguf, KEY_MERGES);
  const char *file = tern_gguf_name (gguf);
  TernMergeMap *map = &tok->merges;
  g_autoptr (GString) joined = g_string_new (NULL);

  if (merges == NULL || merges->type != TERN_GGUF_ARRAY || merges->elem_type != TERN_GGUF_STRING) {
    g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_FORMAT, "%s: %s %s", file, KEY_MERGES,
                 merges == NULL ? "is missing" : "is not an array of strings");
    return FALSE;
  }
  if (merges->n >= G_MAXINT32) {
    g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_FORMAT,
                 "%s: %s holds %" G_GUINT64_FORMAT " merges", file, KEY_MERGES, merges->n);
    return FALSE;
  }
  map->n_entries = tern_table_size (merges->n);
  map->entries = g_try_new (TernMerge, map->n_entries);
  if (map->entries == NULL) {
    g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_NOMEM,
                 "%s: no memory for %" G_GUINT64_FORMAT " merges", file, merges->n);
    return FALSE;
  }
  for (guint32 i = 0; i < map->n_entries; i++)
    map->entries[i].key = G_MAXUINT64;

  for (guint32 rank = 0; rank < merges->n; rank++) {
    TernGgufString m = tern_gguf_array_string (merges, rank);
    const char *space = m.len > 1 ? memchr (m.data + 1, ' ', m.len - 1) : NULL;
    TernToken left = -1, right = -1, result = -1;
    guint64 key;
    guint32 i;

    if (space != NULL) {
      gsize left_len = (gsize) (space - m.data);

      left = tern_text_map_find (tok, m.data, left_len);
      right = tern_text_map_find (tok, space + 1, m.len - left_len - 1);
      g_string_truncate (joined, 0);
      g_string_append_len (joined, m.data, (gssize) left_len);
      g_string_append_len (joined, space + 1, (gssize) (m.len - left_len - 1));
      result = tern_text_map_find (tok, joined->str, joined->len);
    }
    if (left < 0 || right < 0 || result < 0) {
      g_autofree char *shown = g_utf8_make_valid (m.data, (gssize) MIN (m.len, 64));

      g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_FORMAT,
                   "%s: %s: merge %u ('%s') is not two tokens making a token", file, KEY_MERGES,
                   rank, shown);
      return FALSE;
    }

    key = (guint64) left << 32 | (guint32) right;
    for (i = merge_slot (key, map->n_entries);
         map->entries[i].key != G_MAXUINT64 && map->entries[i].key != key;
         i = i + 1 == map->n_entries ? 0 : i + 1)
      ;
    /* A repeated merge keeps its first (best) rank, as in llama.cpp. */
    if (map->entries[i].key == key)
      continue;
    map->entries[i] = (TernMerge) { key, rank, result };
  }
  return TRUE;
}

gboolean
tern_bpe_init (TernTokenizer *tok, const TernGguf *gguf, GError **error)
{
  for (guint b = 0; b < 256; b++) {
    char utf8[6];
    gint n = g_unichar_to_utf8 (byte_to_char ((guint8) b), utf8);

    tok->byte_token[b] = tern_text_map_find (tok, utf8, (gsize) n);
  }
  tok->ignore_merges = tern_pretokenizer_ignores_merges (tok->pretok);
  return load_merges (tok, gguf, error);
}

void
tern_bpe_clear (TernTokenizer *tok)
{
  g_clear_pointer (&tok->pretok, tern_pretokenizer_free);
  g_clear_pointer (&tok->merges.entries, g_free);
}

/* ---- Encoding ---- */

typedef struct {
  GArray *symbols; /* TernSymbol */
  GArray *heap;    /* TernBigram */
  GString *word;   /* a word in byte-level characters */
} BpeScratch;

static void
add_bigram (const TernTokenizer *tok, const TernSymbol *sym, gint32 left, gint32 right,
            GArray *heap)
{
  guint32 rank;
  TernToken result;
  TernBigram bigram;

  if (left < 0 || right < 0 || sym[left].id < 0 || sym[right].id < 0)
    return;
  if (!merge_find (&tok->merges, sym[left].id, sym[right].id, &rank, &result))
    return;
  bigram = (TernBigram) { (double) rank, left, right, sym[left].n + sym[right].n };
  tern_bigram_push (heap, &bigram);
}

/* Merges one pre-token. Symbols carry token ids: every merge joins two
 * tokens into a token, so comparing ids is comparing texts. */
static void
encode_word (const TernTokenizer *tok, const guint8 *word, gsize len, BpeScratch *s, GArray *out)
{
  TernSymbol *sym;
  TernBigram bigram;

  if (len == 0)
    return;
  if (tok->ignore_merges) {
    TernToken id;

    g_string_truncate (s->word, 0);
    for (gsize i = 0; i < len; i++)
      g_string_append_unichar (s->word, byte_to_char (word[i]));
    id = tern_text_map_find (tok, s->word->str, s->word->len);
    if (id >= 0) {
      g_array_append_val (out, id);
      return;
    }
  }

  g_array_set_size (s->symbols, len);
  g_array_set_size (s->heap, 0);
  sym = (TernSymbol *) s->symbols->data;
  for (gsize i = 0; i < len; i++) {
    sym[i].prev = (gint32) i - 1;
    sym[i].next = i + 1 == len ? -1 : (gint32) i + 1;
    sym[i].start = (guint32) i;
    sym[i].n = 1;
    sym[i].id = tok->byte_token[word[i]];
  }
  for (gsize i = 1; i < len; i++)
    add_bigram (tok, sym, (gint32) i - 1, (gint32) i, s->heap);

  while (tern_bigram_pop (s->heap, &bigram)) {
    TernSymbol *left = &sym[bigram.left], *right = &sym[bigram.right];
    guint32 rank;

    /* Skip pairs that an earlier merge changed. */
    if (left->n == 0 || right->n == 0 || left->n + right->n != bigram.size)
      continue;
    merge_find (&tok->merges, left->id, right->id, &rank, &left->id);
    left->n += right->n;
    right->n = 0;
    left->next = right->next;
    if (right->next >= 0)
      sym[right->next].prev = bigram.left;
    add_bigram (tok, sym, left->prev, bigram.left, s->heap);
    add_bigram (tok, sym, bigram.left, left->next, s->heap);
  }

  /* A byte whose character is not in the vocabulary has no token; llama.cpp
   * drops it too. */
  for (gint32 i = 0; i != -1; i = sym[i].next) {
    if (sym[i].id >= 0)
      g_array_append_val (out, sym[i].id);
  }
}

gboolean
tern_bpe_encode (const TernTokenizer *tok, const char *text, gsize len, GArray *out, GError **error)
{
  g_autoptr (GArray) ends = g_array_new (FALSE, FALSE, sizeof (gsize));
  g_autoptr (GArray) symbols = g_array_new (FALSE, FALSE, sizeof (TernSymbol));
  g_autoptr (GArray) heap = g_array_new (FALSE, FALSE, sizeof (TernBigram));
  g_autoptr (GString) word = g_string_new (NULL);
  BpeScratch scratch = { symbols, heap, word };
  gsize start = 0;

  if (!tern_pretokenizer_split (tok->pretok, text, len, ends, error))
    return FALSE;
  for (guint i = 0; i < ends->len; i++) {
    gsize end = g_array_index (ends, gsize, i);

    encode_word (tok, (const guint8 *) text + start, end - start, &scratch, out);
    start = end;
  }
  return TRUE;
}
