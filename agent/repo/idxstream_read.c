/* idxstream_read.c - a backup's chunk index read as a stream of records: ranged GETs,
 * opened (sealed) and lz4-decoded as they come, checked whole in a first pass (idxstream.h). */
#include "agent/repo/idxstream.h"
#include "agent/repo/asof.h"
#include "agent/repo/catalog.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

struct idxstream_reader {
    ag_ctx *ctx;
    const manifest *m;
    const seal_key *dk;
    size_t range;
    s3_buf cur;               /* the range in hand */
    uint64_t size, body;      /* the object's size; before its tag (sealed) */
    uint64_t off;             /* of the next range */
    int pass;                 /* 1: checking, 2: the caller's */
    EVP_MD_CTX *sha;          /* of the whole object (first pass) */
    uint8_t (*sums)[32];      /* SHA-256 of each range, from the first pass */
    size_t nsums, ri;
    seal_stream *ss;          /* sealed: this pass's */
    uint8_t tag[SEAL_TAG_LEN];
    index_reader *ir;
    uint64_t given;           /* records given in the second pass */
    int ended;                /* this pass's source said the end */
    int failed;               /* an error is recorded */
};

/* Record an error once; returns -EIO for the index reader to pass on. */
static int fail_integrity(idxstream_reader *r, const char *what)
{
    if (!r->failed)
        ag_fail(r->ctx, AG_EINTEGRITY, "%s: %s", r->m->index.key, what);
    r->failed = 1;
    return -EIO;
}

static int fail_damaged(idxstream_reader *r)
{
    if (!r->failed)
        ag_fail(r->ctx, AG_EINTEGRITY, "%s: damaged chunk index (or not the %llu records "
                "the manifest says)", r->m->index.key,
                (unsigned long long)r->m->index_records);
    r->failed = 1;
    return -EIO;
}

/* The checks at the end of a pass: the whole SHA-256 (first pass) and the tag. */
static int end_checks(idxstream_reader *r)
{
    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    char hex[65];
    if (r->pass == 1) {
        if (EVP_DigestFinal_ex(r->sha, md, &mdlen) != 1 || mdlen != 32)
            return fail_integrity(r, "cannot hash (OpenSSL)");
        digest_hex(md, 32, hex);
        if (strcmp(hex, r->m->index_sha256) != 0)
            return fail_integrity(r, "checksum mismatch");
    }
    if (r->ss != NULL && seal_stream_final(r->ss, r->m->id, r->m->image_id,
                                           r->m->index_records, r->tag) != 0)
        return fail_integrity(r, "the sealed chunk index does not open (damaged, or not "
                              "this backup's)");
    return 0;
}

/* GET the next range into r->cur and check it: hashed in the first pass, compared with
 * that hash in the second. 0 or -EIO (error recorded). */
static int get_range(idxstream_reader *r)
{
    uint64_t n = r->size - r->off < r->range ? r->size - r->off : r->range;
    uint8_t md[32];
    s3_error err;
    memset(&err, 0, sizeof(err));
    s3_buf_free(&r->cur);
    int rc = asof_get(r->ctx, r->m->index.key, r->off, n, (size_t)n, &r->cur, &err);
    if (rc < 0) {
        ag_fail_s3(r->ctx, rc, &err, r->m->index.key);
        r->failed = 1;
        return -EIO;
    }
    if (r->cur.len != n)
        return fail_integrity(r, "checksum mismatch");
    if (r->ri >= r->nsums || EVP_Digest(r->cur.data, n, md, NULL, EVP_sha256(), NULL) != 1)
        return fail_integrity(r, "cannot hash (OpenSSL)");
    if (r->pass == 1) {
        memcpy(r->sums[r->ri], md, 32);
        if (EVP_DigestUpdate(r->sha, r->cur.data, n) != 1)
            return fail_integrity(r, "cannot hash (OpenSSL)");
    } else if (CRYPTO_memcmp(r->sums[r->ri], md, 32) != 0) {
        return fail_integrity(r, "changed while being read");
    }
    r->ri++;
    return 0;
}

/* index_source_fn: the frame's bytes range after range (opened when sealed; the tag kept
 * apart); at the end of the object, end_checks. */
static int source(void *arg, const unsigned char **data, size_t *len)
{
    idxstream_reader *r = arg;
    if (r->failed)
        return -EIO;
    *data = NULL;
    *len = 0;
    if (r->ended)
        return 0;
    while (r->off < r->size) {
        uint64_t start = r->off;
        if (get_range(r) < 0)
            return -EIO;
        r->off += r->cur.len;
        for (uint64_t p = start > r->body ? start : r->body; p < r->off; p++)
            r->tag[p - r->body] = r->cur.data[p - start];
        size_t plain = start < r->body ? (size_t)((r->off < r->body ? r->off : r->body) - start)
                                       : 0;
        if (r->ss != NULL && seal_stream_update(r->ss, r->cur.data, plain, r->cur.data) < 0)
            return fail_integrity(r, "cannot open (OpenSSL)");
        if (plain > 0) {
            *data = r->cur.data;
            *len = plain;
            return 0;
        }
    }
    r->ended = 1;
    return end_checks(r);
}

/* Start a pass over the object. 0 or -1 (error recorded). */
static int start_pass(idxstream_reader *r, int pass)
{
    index_reader_free(r->ir);
    r->ir = NULL;
    seal_stream_free(r->ss);
    r->ss = NULL;
    r->pass = pass;
    r->off = 0;
    r->ri = 0;
    r->ended = 0;
    if (r->dk != NULL && seal_stream_new(r->dk, 0, &r->ss) < 0)
        return ag_fail(r->ctx, AG_EFAIL, "cannot open the chunk index (OpenSSL)");
    int rc = index_reader_new_source(source, r, &r->ir);
    if (rc == -ENOMEM)
        return ag_fail(r->ctx, AG_EFAIL, "out of memory");
    return rc < 0 ? fail_damaged(r) : 0;
}

/* After a record that failed to decode: read the rest, so that a checksum or tag
 * mismatch is named as such rather than as damage. */
static void drain(idxstream_reader *r)
{
    const unsigned char *d;
    size_t n = 1;
    while (!r->failed && n > 0 && source(r, &d, &n) == 0)
        ;
}

/* The first pass: every byte, record, flag and the count. 0 or -1 (error recorded). */
static int check_pass(idxstream_reader *r)
{
    uint32_t sealed = r->m->enc.on ? INDEX_FLAG_SEALED : 0;
    uint64_t cnt = 0;
    index_rec rec;
    int rc;
    if (start_pass(r, 1) < 0) {
        drain(r);
        return -1;
    }
    while ((rc = index_reader_next(r->ir, &rec)) == 1) {
        if (++cnt > r->m->index_records)
            break;              /* more records than the manifest declares */
        if (!(rec.flags & INDEX_FLAG_ZERO) && (rec.flags & INDEX_FLAG_SEALED) != sealed)
            break;              /* a plain record in a sealed index, or the reverse */
    }
    if (rc == 0 && cnt == r->m->index_records)
        return 0;
    drain(r);
    fail_damaged(r);
    return -1;
}

int idxstream_open(ag_ctx *ctx, const manifest *m, const seal_key *dk, size_t range,
                   idxstream_reader **out)
{
    uint64_t size = 0;
    s3_error err;
    memset(&err, 0, sizeof(err));
    *out = NULL;
    if (catalog_index_precheck(ctx, m, dk) < 0)
        return -1;
    int rc = asof_head(ctx, m->index.key, &size, NULL, &err);
    if (rc < 0)
        return ag_fail_s3(ctx, rc, &err, m->index.key);
    if (size != m->index.size)
        return ag_fail(ctx, AG_EINTEGRITY, "%s: checksum mismatch (%llu bytes, the manifest "
                       "says %llu)", m->index.key, (unsigned long long)size,
                       (unsigned long long)m->index.size);
    idxstream_reader *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return ag_fail(ctx, AG_EFAIL, "out of memory");
    r->ctx = ctx;
    r->m = m;
    r->dk = dk;
    r->range = range > 0 ? range : IDXSTREAM_RANGE;
    r->size = size;
    r->body = m->enc.on ? size - SEAL_TAG_LEN : size;
    r->nsums = (size_t)((size + r->range - 1) / r->range);
    r->sums = calloc(r->nsums, sizeof(*r->sums));
    r->sha = EVP_MD_CTX_new();
    if (r->sums == NULL || r->sha == NULL || EVP_DigestInit_ex(r->sha, EVP_sha256(), NULL) != 1)
        rc = ag_fail(ctx, AG_EFAIL, "out of memory");
    if (rc == 0 && (check_pass(r) < 0 || start_pass(r, 2) < 0))
        rc = -1;
    if (rc < 0) {
        idxstream_close(r);
        return -1;
    }
    *out = r;
    return 0;
}

static int cursor_next(void *arg, index_rec *rec)
{
    idxstream_reader *r = arg;
    int rc = index_reader_next(r->ir, rec);
    if (rc == 1 && ++r->given > r->m->index_records)
        rc = -EIO;              /* cannot happen: the same bytes as the first pass */
    if (rc == 0 && r->given != r->m->index_records)
        rc = -EIO;
    if (rc < 0 && !r->failed)
        fail_damaged(r);
    return rc < 0 ? -EIO : rc;
}

index_cursor idxstream_cursor(idxstream_reader *r)
{
    index_cursor c = { cursor_next, r };
    return c;
}

void idxstream_close(idxstream_reader *r)
{
    if (r == NULL)
        return;
    index_reader_free(r->ir);
    seal_stream_free(r->ss);
    EVP_MD_CTX_free(r->sha);
    s3_buf_free(&r->cur);
    free(r->sums);
    free(r);
}
