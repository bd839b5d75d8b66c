/* index.c - chunk index codec: 72-byte little-endian records in an lz4 frame. */
#include "agent/format/index.h"
#include "agent/format/chunk.h"
#include "agent/format/seal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <lz4.h>
#include <lz4frame.h>

#define INDEX_MAGIC "RBD2SIDX"
#define INDEX_VERSION 2      /* written; 1 is read too */
#define INDEX_HDR_SIZE 16
#define READER_BUF 4096

struct index_writer {
    LZ4F_cctx *cctx;
    LZ4F_preferences_t prefs;
    unsigned char *buf;     /* compressed frame so far (a sink writer: not yet sent) */
    size_t len, cap;
    index_sink_fn sink;     /* NULL: the frame is kept in buf */
    void *sink_arg;
    uint64_t sent;          /* bytes given to the sink */
    size_t bound;           /* LZ4F_compressBound for one record */
    uint64_t count;
    uint64_t next_min;      /* previous offset + length */
    int finished;
    int error;              /* sticky */
};

struct index_reader {
    LZ4F_dctx *dctx;
    const unsigned char *src;
    size_t srclen, srcpos;
    index_source_fn source; /* NULL: src is the whole frame */
    void *source_arg;
    int src_end;            /* the source has no more */
    unsigned char buf[READER_BUF];  /* decompressed bytes not yet consumed */
    size_t buflen, bufpos;
    int frame_done;
    uint64_t next_min;
    uint32_t version;       /* of the header */
    int error;              /* sticky */
};

static void put_le32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void put_le64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get_le32(const unsigned char *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static uint64_t get_le64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static void encode_rec(const index_rec *r, unsigned char p[INDEX_REC_SIZE])
{
    put_le64(p, r->offset);
    put_le64(p + 8, r->length);
    put_le32(p + 16, r->obj);
    put_le32(p + 20, r->flags);
    put_le64(p + 24, r->obj_offset);
    put_le32(p + 32, r->stored_length);
    put_le32(p + 36, 0);
    memcpy(p + 40, r->digest, DIGEST_LEN);
}

/* Decode; -EINVAL if reserved is not 0. */
static int decode_rec(const unsigned char p[INDEX_REC_SIZE], index_rec *r)
{
    r->offset = get_le64(p);
    r->length = get_le64(p + 8);
    r->obj = get_le32(p + 16);
    r->flags = get_le32(p + 20);
    r->obj_offset = get_le64(p + 24);
    r->stored_length = get_le32(p + 32);
    memcpy(r->digest, p + 40, DIGEST_LEN);
    return get_le32(p + 36) == 0 ? 0 : -EINVAL;
}

digest_kind index_rec_digest(const index_rec *r)
{
    return r->flags & INDEX_FLAG_XXH3 ? DIGEST_XXH3 : DIGEST_SHA256;
}

void index_rec_set_digest(index_rec *r, digest_kind k, const uint8_t d[DIGEST_LEN])
{
    r->flags = (r->flags & ~INDEX_FLAG_XXH3) | (k == DIGEST_XXH3 ? INDEX_FLAG_XXH3 : 0);
    memcpy(r->digest, d, DIGEST_LEN);
}

int index_rec_data_ok(const index_rec *r, const void *data)
{
    return digest_matches(index_rec_digest(r), data, r->length, r->digest);
}

int index_rec_sizes_ok(const index_rec *r)
{
    uint64_t tag = r->flags & INDEX_FLAG_SEALED ? SEAL_TAG_LEN : 0;
    if (r->flags & INDEX_FLAG_ZERO)
        return 1;
    if (r->length > CHUNK_SIZE_MAX || r->stored_length <= tag ||
        r->obj_offset > UINT64_MAX - r->stored_length)
        return 0;
    if (r->flags & INDEX_FLAG_RAW)
        return r->stored_length == r->length + tag;
    return r->stored_length <= (uint64_t)LZ4_COMPRESSBOUND(r->length) + tag;
}

/* A record is valid if it has a length, flags known to its index version, a zero
 * record carries no pack location, no digest and no digest kind, a data record has
 * sizes the format allows (index_rec_sizes_ok), an XXH3-128 digest leaves its last 16 bytes
 * zero; and it must start at or after next_min. */
static int check_rec(const index_rec *r, uint64_t next_min, uint32_t version)
{
    static const uint8_t zeros[DIGEST_LEN];
    uint32_t known = INDEX_FLAG_ZERO | INDEX_FLAG_RAW |
                     (version >= 2 ? INDEX_FLAG_XXH3 | INDEX_FLAG_SEALED : 0);
    if (r->length == 0 || r->offset + r->length < r->offset || r->offset < next_min)
        return -EINVAL;
    if ((r->flags & ~known) != 0)
        return -EINVAL;
    if ((r->flags & INDEX_FLAG_ZERO) &&
        ((r->flags & (INDEX_FLAG_RAW | INDEX_FLAG_XXH3 | INDEX_FLAG_SEALED)) || r->obj != 0 ||
         r->obj_offset != 0 || r->stored_length != 0 ||
         memcmp(r->digest, zeros, sizeof(zeros)) != 0))
        return -EINVAL;
    if (!index_rec_sizes_ok(r))
        return -EINVAL;
    if ((r->flags & INDEX_FLAG_XXH3) && memcmp(r->digest + 16, zeros, DIGEST_LEN - 16) != 0)
        return -EINVAL;         /* XXH3-128 fills 16 bytes */
    return 0;
}

/* Make room for need more compressed bytes. */
static int writer_reserve(index_writer *w, size_t need)
{
    if (w->cap - w->len >= need)
        return 0;
    if (need > SIZE_MAX / 2 - w->len)
        return -ENOMEM;
    size_t cap = w->cap ? w->cap : 4096;
    while (cap - w->len < need)
        cap *= 2;
    unsigned char *p = realloc(w->buf, cap);
    if (p == NULL)
        return -ENOMEM;
    w->buf = p;
    w->cap = cap;
    return 0;
}

/* A sink writer: hand the bytes made so far to the sink. */
static int writer_drain(index_writer *w)
{
    if (w->sink == NULL || w->len == 0)
        return 0;
    int rc = w->sink(w->sink_arg, w->buf, w->len);
    w->sent += w->len;
    w->len = 0;
    return rc < 0 ? rc : 0;
}

/* Feed n uncompressed bytes to the frame. */
static int writer_feed(index_writer *w, const unsigned char *src, size_t n)
{
    int rc = writer_reserve(w, n == INDEX_REC_SIZE ? w->bound
                                                   : LZ4F_compressBound(n, &w->prefs));
    if (rc != 0)
        return rc;
    size_t r = LZ4F_compressUpdate(w->cctx, w->buf + w->len, w->cap - w->len, src, n, NULL);
    if (LZ4F_isError(r))
        return -EIO;
    w->len += r;
    return writer_drain(w);
}

int index_writer_new(index_writer **out)
{
    return index_writer_new_sink(NULL, NULL, out);
}

int index_writer_new_sink(index_sink_fn sink, void *arg, index_writer **out)
{
    index_writer *w = calloc(1, sizeof(*w));
    unsigned char hdr[INDEX_HDR_SIZE];
    int rc = 0;

    *out = NULL;
    if (w == NULL)
        return -ENOMEM;
    w->sink = sink;
    w->sink_arg = arg;
    w->prefs.frameInfo.blockSizeID = LZ4F_max64KB;
    w->prefs.frameInfo.blockMode = LZ4F_blockLinked;
    w->prefs.frameInfo.contentChecksumFlag = LZ4F_contentChecksumEnabled;
    w->prefs.frameInfo.blockChecksumFlag = LZ4F_blockChecksumEnabled;
    w->bound = LZ4F_compressBound(INDEX_REC_SIZE, &w->prefs);
    if (LZ4F_isError(LZ4F_createCompressionContext(&w->cctx, LZ4F_VERSION)))
        rc = -ENOMEM;
    if (rc == 0)
        rc = writer_reserve(w, LZ4F_HEADER_SIZE_MAX);
    if (rc == 0) {
        size_t r = LZ4F_compressBegin(w->cctx, w->buf, w->cap, &w->prefs);
        if (LZ4F_isError(r))
            rc = -EIO;
        else
            w->len = r;
    }
    if (rc == 0) {
        memcpy(hdr, INDEX_MAGIC, 8);
        put_le32(hdr + 8, INDEX_VERSION);
        put_le32(hdr + 12, INDEX_REC_SIZE);
        rc = writer_feed(w, hdr, sizeof(hdr));
    }
    if (rc != 0) {
        index_writer_free(w);
        return rc;
    }
    *out = w;
    return 0;
}

int index_writer_add(index_writer *w, const index_rec *rec)
{
    unsigned char p[INDEX_REC_SIZE];
    if (w->error)
        return w->error;
    if (w->finished)
        return -EINVAL;
    int rc = check_rec(rec, w->next_min, INDEX_VERSION);
    if (rc != 0)
        return rc;      /* the writer stays usable */
    encode_rec(rec, p);
    rc = writer_feed(w, p, sizeof(p));
    if (rc != 0) {
        w->error = rc;
        return rc;
    }
    w->next_min = rec->offset + rec->length;
    w->count++;
    return 0;
}

int index_writer_finish(index_writer *w, const unsigned char **data, size_t *len)
{
    int rc = w->error;
    if (rc == 0 && !w->finished) {
        rc = writer_reserve(w, LZ4F_compressBound(0, &w->prefs));
        if (rc == 0) {
            size_t r = LZ4F_compressEnd(w->cctx, w->buf + w->len, w->cap - w->len, NULL);
            if (LZ4F_isError(r))
                rc = -EIO;
            else
                w->len += r;
        }
        if (rc == 0)
            rc = writer_drain(w);
        if (rc != 0)
            w->error = rc;
        else
            w->finished = 1;
    }
    *data = rc == 0 && w->sink == NULL ? w->buf : NULL;
    *len = rc == 0 ? (size_t)w->sent + w->len : 0;
    return rc;
}

uint64_t index_writer_count(const index_writer *w)
{
    return w->count;
}

void index_writer_free(index_writer *w)
{
    if (w == NULL)
        return;
    LZ4F_freeCompressionContext(w->cctx);
    free(w->buf);
    free(w);
}

/* When the bytes in hand are used up, the next piece from the source (if any). 0, or the
 * source's negative error. */
static int reader_more(index_reader *r)
{
    const unsigned char *d;
    size_t n;
    if (r->srcpos < r->srclen || r->source == NULL || r->src_end)
        return 0;
    int rc = r->source(r->source_arg, &d, &n);
    if (rc < 0)
        return rc;
    r->src_end = n == 0;
    r->src = d;
    r->srclen = n;
    r->srcpos = 0;
    return 0;
}

/* Decompress until at least need bytes are buffered or the frame ends. Returns 0
 * (fewer than need bytes only at the end of the frame), -EINVAL or the source's error. */
static int reader_fill(index_reader *r, size_t need)
{
    int rc;
    if (r->bufpos > 0) {
        memmove(r->buf, r->buf + r->bufpos, r->buflen - r->bufpos);
        r->buflen -= r->bufpos;
        r->bufpos = 0;
    }
    while (r->buflen < need && !r->frame_done) {
        if ((rc = reader_more(r)) < 0)
            return rc;
        size_t dsz = sizeof(r->buf) - r->buflen;
        size_t ssz = r->srclen - r->srcpos;
        const unsigned char *in = r->src != NULL ? r->src + r->srcpos : r->buf;  /* ssz 0 */
        size_t ret = LZ4F_decompress(r->dctx, r->buf + r->buflen, &dsz, in, &ssz, NULL);
        if (LZ4F_isError(ret))
            return -EINVAL;     /* corrupt block, bad checksum */
        r->srcpos += ssz;
        r->buflen += dsz;
        if (ret == 0)
            r->frame_done = 1;
        else if (ssz == 0 && dsz == 0 && r->srcpos == r->srclen &&
                 (r->source == NULL || r->src_end))
            return -EINVAL;     /* truncated frame */
    }
    if (r->frame_done && (rc = reader_more(r)) < 0)
        return rc;
    if (r->frame_done && r->srcpos != r->srclen)
        return -EINVAL;         /* bytes after the frame */
    return 0;
}

/* A reader of data[0..len), or of source when not NULL. */
static int reader_new(const unsigned char *data, size_t len, index_source_fn source,
                      void *arg, index_reader **out)
{
    index_reader *r = calloc(1, sizeof(*r));
    int rc = 0;

    *out = NULL;
    if (r == NULL)
        return -ENOMEM;
    r->src = data;
    r->srclen = len;
    r->source = source;
    r->source_arg = arg;
    if (LZ4F_isError(LZ4F_createDecompressionContext(&r->dctx, LZ4F_VERSION)))
        rc = -ENOMEM;
    if (rc == 0 && len == 0 && source == NULL)
        rc = -EINVAL;
    if (rc == 0)
        rc = reader_fill(r, INDEX_HDR_SIZE);
    if (rc == 0) {
        const unsigned char *h = r->buf;
        if (r->buflen < INDEX_HDR_SIZE || memcmp(h, INDEX_MAGIC, 8) != 0 ||
            get_le32(h + 8) < 1 || get_le32(h + 8) > INDEX_VERSION ||
            get_le32(h + 12) != INDEX_REC_SIZE)
            rc = -EINVAL;
        else
            r->version = get_le32(h + 8);
        r->bufpos = INDEX_HDR_SIZE;
    }
    if (rc != 0) {
        index_reader_free(r);
        return rc;
    }
    *out = r;
    return 0;
}

int index_reader_new(const unsigned char *data, size_t len, index_reader **out)
{
    return reader_new(data, len, NULL, NULL, out);
}

int index_reader_new_source(index_source_fn source, void *arg, index_reader **out)
{
    return reader_new(NULL, 0, source, arg, out);
}

int index_reader_next(index_reader *r, index_rec *rec)
{
    if (r->error)
        return r->error;
    int rc = reader_fill(r, INDEX_REC_SIZE);
    size_t avail = r->buflen - r->bufpos;
    if (rc == 0 && avail == 0)
        return 0;               /* end (reader_fill checked the frame is complete) */
    if (rc == 0 && avail < INDEX_REC_SIZE)
        rc = -EINVAL;           /* partial record */
    if (rc == 0)
        rc = decode_rec(r->buf + r->bufpos, rec);
    if (rc == 0)
        rc = check_rec(rec, r->next_min, r->version);
    if (rc != 0) {
        r->error = rc;
        return rc;
    }
    r->bufpos += INDEX_REC_SIZE;
    r->next_min = rec->offset + rec->length;
    return 1;
}

void index_reader_free(index_reader *r)
{
    if (r == NULL)
        return;
    LZ4F_freeDecompressionContext(r->dctx);
    free(r);
}

int index_load(const unsigned char *data, size_t len, index_rec **recs, size_t *n)
{
    index_reader *r = NULL;
    index_rec *arr = NULL;
    size_t cnt = 0, cap = 0;
    index_rec rec;

    *recs = NULL;
    *n = 0;
    int rc = index_reader_new(data, len, &r);
    while (rc == 0) {
        int got = index_reader_next(r, &rec);
        if (got <= 0) {
            rc = got;
            break;
        }
        if (cnt == cap) {
            size_t ncap = cap ? cap * 2 : 1024;
            index_rec *p = ncap > SIZE_MAX / sizeof(*arr) ? NULL
                                                          : realloc(arr, ncap * sizeof(*arr));
            if (p == NULL) {
                rc = -ENOMEM;
                break;
            }
            arr = p;
            cap = ncap;
        }
        arr[cnt++] = rec;
    }
    index_reader_free(r);
    if (rc != 0) {
        free(arr);
        return rc;
    }
    *recs = arr;
    *n = cnt;
    return 0;
}

static int array_next(void *arg, index_rec *rec)
{
    index_array_cursor *a = arg;
    if (a->pos >= a->n)
        return 0;
    *rec = a->recs[a->pos++];
    return 1;
}

index_cursor index_array_cursor_of(index_array_cursor *a)
{
    index_cursor c = { array_next, a };
    return c;
}
