/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <tern/error.h>
#include <tern/snapshot.h>

#include <string.h>
#include <zstd.h>

#define SNAPSHOT_MAGIC "TERNSNAP"

/* What a snapshot's header says. */
typedef struct {
  guint32 format_version;
  char engine_version[65];
  TernModelIdentity model;
  gint32 n_ctx;
  gint32 n_tokens;
  guint64 state_size; /* uncompressed context state bytes */
} SnapshotInfo;
#define MAX_ENGINE_VERSION 64
/* A sampler state holds at most a window of TERN_SAMPLER_MAX_LAST_N
 * tokens plus a few hundred bytes of settings. */
#define MAX_SAMPLER_BYTES (4 * TERN_SAMPLER_MAX_LAST_N + 4096)
/* Level 1: K/V halves barely compress at any level (their mantissas are
 * noise), so the fastest level keeps nearly all of the gain. */
#define COMPRESSION_LEVEL 1

G_STATIC_ASSERT (G_BYTE_ORDER == G_LITTLE_ENDIAN);

/* XXH64 (Yann Collet's xxHash, 64-bit), streaming: the checksum over a
 * snapshot's bytes. It runs at memory speed, where SHA-256 would add
 * seconds to the save and restore of a large snapshot; it guards against
 * corruption, not against forgery. */

#define P1 11400714785074694791ULL
#define P2 14029467366897019727ULL
#define P3 1609587929392839161ULL
#define P4 9650029242287828579ULL
#define P5 2870177450012600261ULL

typedef struct {
  guint64 v[4];
  guint8 buf[32];
  gsize buf_len;
  guint64 total;
} Xxh64;

static inline guint64
rotl64 (guint64 x, int r)
{
  return (x << r) | (x >> (64 - r));
}

static inline guint64
read64 (const guint8 *p)
{
  guint64 v;
  memcpy (&v, p, 8);
  return v;
}

static inline guint32
read32 (const guint8 *p)
{
  guint32 v;
  memcpy (&v, p, 4);
  return v;
}

static inline guint64
xxh_round (guint64 acc, guint64 input)
{
  return rotl64 (acc + input * P2, 31) * P1;
}

static inline guint64
xxh_merge (guint64 acc, guint64 v)
{
  return (acc ^ xxh_round (0, v)) * P1 + P4;
}

static void
xxh64_init (Xxh64 *h)
{
  memset (h, 0, sizeof *h);
  h->v[0] = P1 + P2;
  h->v[1] = P2;
  h->v[2] = 0;
  h->v[3] = -P1;
}

static void
xxh64_stripe (Xxh64 *h, const guint8 *p)
{
  for (int i = 0; i < 4; i++)
    h->v[i] = xxh_round (h->v[i], read64 (p + 8 * i));
}

static void
xxh64_update (Xxh64 *h, const void *data, gsize len)
{
  const guint8 *p = data;

  h->total += len;
  if (h->buf_len > 0)
    {
      gsize n = MIN (len, 32 - h->buf_len);
      memcpy (h->buf + h->buf_len, p, n);
      h->buf_len += n;
      p += n;
      len -= n;
      if (h->buf_len < 32)
        return;
      xxh64_stripe (h, h->buf);
      h->buf_len = 0;
    }
  /* The hot loop: four independent lanes of 8 bytes. */
  for (; len >= 32; p += 32, len -= 32)
    xxh64_stripe (h, p);
  memcpy (h->buf, p, len);
  h->buf_len = len;
}

static guint64
xxh64_digest (const Xxh64 *h)
{
  guint64 acc;
  const guint8 *p = h->buf;
  gsize len = h->buf_len;

  if (h->total >= 32)
    {
      acc = rotl64 (h->v[0], 1) + rotl64 (h->v[1], 7) + rotl64 (h->v[2], 12) + rotl64 (h->v[3], 18);
      for (int i = 0; i < 4; i++)
        acc = xxh_merge (acc, h->v[i]);
    }
  else
    acc = P5;
  acc += h->total;
  for (; len >= 8; p += 8, len -= 8)
    acc = rotl64 (acc ^ xxh_round (0, read64 (p)), 27) * P1 + P4;
  if (len >= 4)
    {
      acc = rotl64 (acc ^ (guint64) read32 (p) * P1, 23) * P2 + P3;
      p += 4;
      len -= 4;
    }
  for (; len > 0; p++, len--)
    acc = rotl64 (acc ^ *p * P5, 11) * P1;
  acc ^= acc >> 33;
  acc *= P2;
  acc ^= acc >> 29;
  acc *= P3;
  acc ^= acc >> 32;
  return acc;
}

static void
put_u32 (GByteArray *out, guint32 v)
{
  g_byte_array_append (out, (const guint8 *) &v, 4);
}

static void
put_u64 (GByteArray *out, guint64 v)
{
  g_byte_array_append (out, (const guint8 *) &v, 8);
}

static gboolean
corrupt (GError **error, const char *what)
{
  g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_FORMAT, "the snapshot is corrupt: %s", what);
  return FALSE;
}

/* Saving: header, then the context state through the compressor, then the
 * checksum; every byte goes out through emit. */
typedef struct {
  TernStreamWriteFn write;
  gpointer user_data;
  Xxh64 hash;
  guint64 size;
  ZSTD_CCtx *zc;
  guint8 *out;
  gsize out_cap;
} Saver;

static gboolean
emit (Saver *s, const void *data, gsize len, GError **error)
{
  xxh64_update (&s->hash, data, len);
  s->size += len;
  return s->write (data, len, s->user_data, error);
}

static gboolean
compress (Saver *s, const void *data, gsize len, ZSTD_EndDirective mode, GError **error)
{
  ZSTD_inBuffer in = { data, len, 0 };
  size_t left;

  do
    {
      ZSTD_outBuffer out = { s->out, s->out_cap, 0 };
      left = ZSTD_compressStream2 (s->zc, &out, &in, mode);
      if (ZSTD_isError (left))
        {
          g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_NOMEM, "compressing the snapshot failed: %s",
                       ZSTD_getErrorName (left));
          return FALSE;
        }
      if (out.pos > 0 && !emit (s, s->out, out.pos, error))
        return FALSE;
    }
  while (mode == ZSTD_e_end ? left != 0 : in.pos < in.size);
  return TRUE;
}

static gboolean
compress_piece (const void *data, gsize len, gpointer user_data, GError **error)
{
  return compress (user_data, data, len, ZSTD_e_continue, error);
}

gboolean
tern_snapshot_save (const TernContext *ctx, const TernSampler *sampler, const TernModelIdentity *model,
                    TernStreamWriteFn write, gpointer user_data, guint64 *size, GError **error)
{
  gint32 n_tokens;
  gsize state_size = tern_context_state_size (ctx);
  Saver s = { write, user_data };
  gboolean ok = FALSE;

  tern_context_tokens (ctx, &n_tokens);

  g_autoptr (GByteArray) sampler_state = g_byte_array_new ();
  tern_sampler_save (sampler, sampler_state);

  g_autoptr (GByteArray) header = g_byte_array_new ();
  g_byte_array_append (header, (const guint8 *) SNAPSHOT_MAGIC, 8);
  put_u32 (header, TERN_SNAPSHOT_FORMAT_VERSION);
  put_u32 (header, strlen (TERN_ENGINE_VERSION));
  g_byte_array_append (header, (const guint8 *) TERN_ENGINE_VERSION, strlen (TERN_ENGINE_VERSION));
  put_u64 (header, model->size);
  put_u64 (header, (guint64) model->mtime_us);
  g_byte_array_append (header, model->sha256, sizeof model->sha256);
  put_u32 (header, tern_context_n_ctx (ctx));
  put_u32 (header, n_tokens);
  put_u32 (header, sampler_state->len);
  g_byte_array_append (header, sampler_state->data, sampler_state->len);
  put_u64 (header, state_size);

  xxh64_init (&s.hash);
  s.zc = ZSTD_createCCtx ();
  s.out_cap = ZSTD_CStreamOutSize ();
  s.out = g_malloc (s.out_cap);
  if (s.zc == NULL || ZSTD_isError (ZSTD_CCtx_setParameter (s.zc, ZSTD_c_compressionLevel, COMPRESSION_LEVEL)) ||
      ZSTD_isError (ZSTD_CCtx_setPledgedSrcSize (s.zc, state_size)))
    {
      g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_NOMEM, "cannot start the snapshot compressor");
      goto out;
    }
  if (!emit (&s, header->data, header->len, error) || !tern_context_save_state (ctx, compress_piece, &s, error) ||
      !compress (&s, NULL, 0, ZSTD_e_end, error))
    goto out;

  guint64 digest = xxh64_digest (&s.hash);
  if (!s.write (&digest, sizeof digest, s.user_data, error))
    goto out;
  *size = s.size + sizeof digest;
  ok = TRUE;
out:
  ZSTD_freeCCtx (s.zc);
  g_free (s.out);
  return ok;
}

/* Loading: the reader hashes every byte it takes from the source, and
 * feeds the context's state reads from the decompressor. */
typedef struct {
  TernStreamReadFn read;
  gpointer user_data;
  Xxh64 hash;
  guint64 body_left;  /* compressed bytes not yet taken from the source */
  guint64 state_left; /* state bytes the header announced, not yet produced */
  ZSTD_DCtx *zd;
  guint8 *in_buf;
  gsize in_cap;
  ZSTD_inBuffer in;
  size_t frame_left; /* zstd's hint: 0 once the frame is complete */
} Loader;

static gboolean
take (Loader *l, void *data, gsize len, GError **error)
{
  if (!l->read (data, len, l->user_data, error))
    return FALSE;
  xxh64_update (&l->hash, data, len);
  return TRUE;
}

static gboolean
take_u32 (Loader *l, guint32 *v, GError **error)
{
  return take (l, v, 4, error);
}

static gboolean
take_u64 (Loader *l, guint64 *v, GError **error)
{
  return take (l, v, 8, error);
}

/* Decompresses into @out until it is full (@out->size 0: until the frame
 * ends, which must then give no more bytes). */
static gboolean
inflate (Loader *l, ZSTD_outBuffer *out, GError **error)
{
  for (;;)
    {
      if (out->size > 0 ? out->pos == out->size : l->frame_left == 0)
        return TRUE;
      if (l->in.pos == l->in.size)
        {
          gsize n = MIN (l->body_left, l->in_cap);
          if (n == 0)
            return corrupt (error, "it ends early");
          if (!take (l, l->in_buf, n, error))
            return FALSE;
          l->body_left -= n;
          l->in = (ZSTD_inBuffer) { l->in_buf, n, 0 };
        }
      guint8 spare[64];
      ZSTD_outBuffer tail = { spare, sizeof spare, 0 };
      ZSTD_outBuffer *o = out->size > 0 ? out : &tail;
      size_t r = ZSTD_decompressStream (l->zd, o, &l->in);
      if (ZSTD_isError (r))
        return corrupt (error, ZSTD_getErrorName (r));
      if (tail.pos > 0)
        return corrupt (error, "the state is longer than announced");
      l->frame_left = r;
      if (r == 0 && out->size > 0 && out->pos < out->size)
        return corrupt (error, "the state is shorter than announced");
    }
}

static gboolean
decompress_piece (void *data, gsize len, gpointer user_data, GError **error)
{
  Loader *l = user_data;
  ZSTD_outBuffer out = { data, len, 0 };

  if (len > l->state_left)
    return corrupt (error, "the state is longer than announced");
  if (len == 0)
    return TRUE;
  l->state_left -= len;
  return inflate (l, &out, error);
}

/* Reads the header up to the sampler state; on success l->hash holds it. */
static gboolean
read_header (Loader *l, SnapshotInfo *info, guint32 *sampler_len, GError **error)
{
  char magic[8];
  guint32 version, len, n_ctx, n_tokens;
  guint64 mtime;

  memset (info, 0, sizeof *info);
  if (!take (l, magic, sizeof magic, error))
    return FALSE;
  if (memcmp (magic, SNAPSHOT_MAGIC, sizeof magic) != 0)
    return corrupt (error, "it does not start as a snapshot");
  if (!take_u32 (l, &version, error))
    return FALSE;
  info->format_version = version;
  if (version != TERN_SNAPSHOT_FORMAT_VERSION)
    {
      g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_MISMATCH,
                   "the snapshot has format version %u; this Tern reads version %u", version,
                   TERN_SNAPSHOT_FORMAT_VERSION);
      return FALSE;
    }
  if (!take_u32 (l, &len, error))
    return FALSE;
  if (len > MAX_ENGINE_VERSION)
    return corrupt (error, "the engine version is too long");
  if (!take (l, info->engine_version, len, error))
    return FALSE;
  if (memchr (info->engine_version, '\0', len) || !g_utf8_validate_len (info->engine_version, len, NULL))
    return corrupt (error, "the engine version is not text");
  if (!take_u64 (l, &info->model.size, error) || !take_u64 (l, &mtime, error) ||
      !take (l, info->model.sha256, sizeof info->model.sha256, error) || !take_u32 (l, &n_ctx, error) ||
      !take_u32 (l, &n_tokens, error) || !take_u32 (l, sampler_len, error))
    return FALSE;
  info->model.mtime_us = (gint64) mtime;
  if (n_ctx == 0 || n_ctx > G_MAXINT32 || n_tokens > n_ctx)
    return corrupt (error, "the context size is inconsistent");
  info->n_ctx = (gint32) n_ctx;
  info->n_tokens = (gint32) n_tokens;
  if (*sampler_len > MAX_SAMPLER_BYTES)
    return corrupt (error, "the sampler state is too long");
  return TRUE;
}

/* Everything of the header after the sampler state must match @ctx. */
static gboolean
check_header (const SnapshotInfo *info, const TernContext *ctx, const TernModelIdentity *model, GError **error)
{

  if (strcmp (info->engine_version, TERN_ENGINE_VERSION) != 0)
    {
      g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_MISMATCH,
                   "the snapshot was made by Tern %s; this is Tern %s", info->engine_version, TERN_ENGINE_VERSION);
      return FALSE;
    }
  if (!tern_model_identity_equal (model, &info->model))
    {
      g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_MISMATCH,
                   "the snapshot belongs to another model file (or another version of this one)");
      return FALSE;
    }
  if (info->n_ctx != tern_context_n_ctx (ctx))
    {
      g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_MISMATCH,
                   "the snapshot has a context of %d tokens; this context has %d", info->n_ctx,
                   tern_context_n_ctx (ctx));
      return FALSE;
    }
  return TRUE;
}

static TernSampler *
load (Loader *l, TernContext *ctx, const TernModelIdentity *model, guint64 size, GError **error)
{
  SnapshotInfo info;
  guint32 sampler_len;
  guint64 digest, want;

  if (!read_header (l, &info, &sampler_len, error) || !check_header (&info, ctx, model, error))
    return NULL;
  g_autofree guint8 *sampler_state = g_malloc (MAX (sampler_len, 1));
  if (!take (l, sampler_state, sampler_len, error) || !take_u64 (l, &info.state_size, error))
    return NULL;
  /* Header bytes so far, plus the trailing checksum. */
  guint64 fixed = l->hash.total + sizeof digest;
  if (size < fixed)
    {
      corrupt (error, "it ends early");
      return NULL;
    }
  l->body_left = size - fixed;
  l->state_left = info.state_size;

  gint32 n_vocab = tern_model_hparams (tern_context_model (ctx))->n_vocab;
  g_autoptr (TernSampler) sampler = tern_sampler_restore (sampler_state, sampler_len, n_vocab, error);
  if (sampler == NULL)
    return NULL;

  l->frame_left = 1;
  if (!tern_context_load_state (ctx, decompress_piece, l, error))
    return NULL;
  /* The context took what its own header asked for; the frame must end
   * there, and the checksum follow. */
  ZSTD_outBuffer end = { NULL, 0, 0 };
  if (l->state_left != 0)
    {
      corrupt (error, "the state is longer than its context header says");
      return NULL;
    }
  if (!inflate (l, &end, error))
    return NULL;
  if (l->in.pos != l->in.size || l->body_left != 0)
    {
      corrupt (error, "there are bytes after the compressed state");
      return NULL;
    }
  want = xxh64_digest (&l->hash);
  if (!l->read (&digest, sizeof digest, l->user_data, error))
    return NULL;
  if (digest != want)
    {
      corrupt (error, "the checksum does not match");
      return NULL;
    }
  return g_steal_pointer (&sampler);
}

TernSampler *
tern_snapshot_load (TernContext *ctx, const TernModelIdentity *model, guint64 size, TernStreamReadFn read,
                    gpointer user_data, GError **error)
{
  Loader l = { read, user_data };
  TernSampler *sampler;

  xxh64_init (&l.hash);
  l.zd = ZSTD_createDCtx ();
  l.in_cap = ZSTD_DStreamInSize ();
  l.in_buf = g_malloc (l.in_cap);
  if (l.zd == NULL)
    {
      g_set_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_NOMEM, "cannot start the snapshot decompressor");
      sampler = NULL;
    }
  else
    sampler = load (&l, ctx, model, size, error);
  /* Whatever went wrong, nothing of a bad snapshot stays in the context. */
  if (sampler == NULL)
    tern_context_truncate (ctx, 0);
  ZSTD_freeDCtx (l.zd);
  g_free (l.in_buf);
  return sampler;
}

/* ---- In the store ---- */

typedef struct {
  const TernContext *ctx;
  const TernSampler *sampler;
  const TernModelIdentity *model;
  TernSampler *restored;
} StoreJob;

static gboolean
produce (TernStreamWriteFn write, gpointer write_data, guint64 *size, gpointer user_data, GError **error)
{
  StoreJob *job = user_data;

  return tern_snapshot_save (job->ctx, job->sampler, job->model, write, write_data, size, error);
}

static gboolean
consume (TernStreamReadFn read, gpointer read_data, guint64 size, gpointer user_data, GError **error)
{
  StoreJob *job = user_data;

  job->restored = tern_snapshot_load ((TernContext *) job->ctx, job->model, size, read, read_data, error);
  return job->restored != NULL;
}

gint64
tern_snapshot_save_to_store (TernStore *store, gint64 conversation_id, gint64 message_id, const TernContext *ctx,
                             const TernSampler *sampler, const TernModelIdentity *model, GError **error)
{
  StoreJob job = { ctx, sampler, model, NULL };

  return tern_store_snapshot_save (store, conversation_id, message_id, tern_context_n_past (ctx), produce, &job,
                                   error);
}

TernSampler *
tern_snapshot_restore_from_store (TernStore *store, gint64 id, TernContext *ctx, const TernModelIdentity *model,
                                  GError **error)
{
  StoreJob job = { ctx, NULL, model, NULL };

  if (!tern_store_snapshot_read (store, id, consume, &job, error))
    {
      g_clear_pointer (&job.restored, tern_sampler_free);
      tern_context_truncate (ctx, 0);
      return NULL;
    }
  return job.restored;
}
