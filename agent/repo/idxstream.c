/* idxstream.c - a backup's chunk index uploaded as it is made: a multipart upload of
 * `part size` parts (doubled every 1,000: parts_grow), sealed and hashed on the way
 * (see idxstream.h). */
#include "agent/repo/idxstream.h"
#include "agent/format/parts.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#define MAX_PARTS PARTS_MAX

struct idxstream_upload {
    ag_ctx *ctx;
    char key[1024];
    seal_stream *ss;          /* an encrypted backup's seal, else NULL */
    EVP_MD_CTX *sha;          /* SHA-256 of the object as stored */
    unsigned char *buf;       /* the part being filled */
    size_t len, cap;          /* cap grows with the parts sent: parts_grow(base, n) */
    size_t base;              /* `part size`: the first parts' size */
    uint64_t size;            /* bytes stored so far */
    char *upload_id;          /* once the first part is sent */
    s3_part *parts;
    int nparts;
    int part_done, part_rc;   /* the part submitted last */
    int failed;
    int complete;             /* the object exists */
};

int idxstream_upload_new(ag_ctx *ctx, const char *key, const seal_key *dk,
                         idxstream_upload **out)
{
    idxstream_upload *u = calloc(1, sizeof(*u));
    if (u == NULL)
        return ag_fail(ctx, AG_EFAIL, "out of memory");
    u->ctx = ctx;
    snprintf(u->key, sizeof(u->key), "%s", key);
    u->cap = ctx->opts.tun.part_size > 0 ? (size_t)ctx->opts.tun.part_size : 5u << 20;
    u->base = u->cap;
    u->buf = malloc(u->cap);
    u->sha = EVP_MD_CTX_new();
    int rc = u->buf == NULL || u->sha == NULL ? -ENOMEM : 0;
    if (rc == 0 && EVP_DigestInit_ex(u->sha, EVP_sha256(), NULL) != 1)
        rc = -EIO;
    if (rc == 0 && dk != NULL)
        rc = seal_stream_new(dk, 1, &u->ss);
    if (rc < 0) {
        idxstream_upload_free(u);
        return ag_fail(ctx, AG_EFAIL, rc == -ENOMEM ? "out of memory"
                       : "cannot start sealing the chunk index (OpenSSL)");
    }
    *out = u;
    return 0;
}

static void on_part(const s3_result *res, void *arg)
{
    idxstream_upload *u = arg;
    u->part_done = 1;
    u->part_rc = res->rc;
    if (res->rc < 0)
        ag_fail_s3(u->ctx, res->rc, res->err, "uploading a chunk index part");
    else
        snprintf(u->parts[u->nparts - 1].etag, S3_ETAG_MAX, "%s", res->etag ? res->etag : "");
}

/* Upload the buffer as the next part (starting the upload on the first) and wait for it,
 * driving the engine (other uploads in flight progress too). 0 or -1 (error recorded). */
static int send_part(idxstream_upload *u)
{
    s3_error err;
    memset(&err, 0, sizeof(err));
    if (u->upload_id == NULL) {
        int rc = s3_mpu_create(u->ctx->s3, u->key, &u->upload_id, &err);
        if (rc < 0)
            return ag_fail_s3(u->ctx, rc, &err, "starting the chunk index upload");
        if ((u->parts = calloc(MAX_PARTS, sizeof(*u->parts))) == NULL)
            return ag_fail(u->ctx, AG_EFAIL, "out of memory");
    }
    if (u->nparts == MAX_PARTS)
        return ag_fail(u->ctx, AG_EFAIL, "the chunk index needs more than %d parts: "
                       "raise part size", MAX_PARTS);
    u->parts[u->nparts].number = u->nparts + 1;
    u->nparts++;
    u->part_done = 0;
    int rc = s3_async_upload_part(u->ctx->s3, u->key, u->upload_id, u->nparts, u->buf,
                                  u->len, on_part, u);
    if (rc < 0) {
        u->part_done = 1;
        return ag_fail_s3(u->ctx, rc, NULL, "submitting a chunk index part");
    }
    while (!u->part_done) {
        rc = s3_async_run(u->ctx->s3, 1000);
        if (rc < 0)
            return ag_fail_s3(u->ctx, rc, NULL, "uploading a chunk index part");
    }
    if (u->part_rc < 0)
        return -1;
    u->len = 0;
    size_t next = (size_t)parts_grow(u->base, u->nparts);
    if (next > u->cap) {       /* the part is up: its buffer is free to grow */
        unsigned char *nb = realloc(u->buf, next);
        if (nb == NULL)
            return ag_fail(u->ctx, AG_EFAIL, "out of memory");
        u->buf = nb;
        u->cap = next;
    }
    return 0;
}

/* Append data[0..n) to the object (sealed first when seal is set), a part going up each
 * time the buffer fills. 0 or -1 (error recorded). */
static int put_bytes(idxstream_upload *u, const unsigned char *data, size_t n, int seal)
{
    while (n > 0) {
        size_t k = u->cap - u->len < n ? u->cap - u->len : n;
        unsigned char *dst = u->buf + u->len;
        if (seal && seal_stream_update(u->ss, data, k, dst) < 0)
            return ag_fail(u->ctx, AG_EFAIL, "cannot seal the chunk index (OpenSSL)");
        if (!seal)
            memcpy(dst, data, k);
        if (EVP_DigestUpdate(u->sha, dst, k) != 1)
            return ag_fail(u->ctx, AG_EFAIL, "cannot hash the chunk index (OpenSSL)");
        u->len += k;
        u->size += k;
        data += k;
        n -= k;
        if (u->len == u->cap && send_part(u) < 0)
            return -1;
    }
    return 0;
}

int idxstream_upload_sink(void *arg, const unsigned char *data, size_t len)
{
    idxstream_upload *u = arg;
    if (u->failed || put_bytes(u, data, len, u->ss != NULL) < 0) {
        u->failed = 1;
        return -EIO;
    }
    return 0;
}

/* The last bytes: the whole object as one PUT, or the last part and the completion. */
static int finish_object(idxstream_upload *u)
{
    s3_error err;
    memset(&err, 0, sizeof(err));
    if (u->upload_id == NULL) {
        int rc = s3_put(u->ctx->s3, u->key, u->buf, u->len, "application/octet-stream",
                        NULL, &err);
        return rc < 0 ? ag_fail_s3(u->ctx, rc, &err, "uploading the chunk index") : 0;
    }
    if (u->len > 0 && send_part(u) < 0)
        return -1;
    int rc = s3_mpu_complete(u->ctx->s3, u->key, u->upload_id, u->parts, u->nparts, NULL,
                             &err);
    return rc < 0 ? ag_fail_s3(u->ctx, rc, &err, "completing the chunk index upload") : 0;
}

int idxstream_upload_finish(idxstream_upload *u, const char *backup_id, const char *image_id,
                            uint64_t records, uint64_t *size, char sha256[65])
{
    uint8_t tag[SEAL_TAG_LEN], md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (u->failed)
        return -1;
    u->failed = 1;                /* until it succeeded */
    if (u->ss != NULL && seal_stream_final(u->ss, backup_id, image_id, records, tag) < 0)
        return ag_fail(u->ctx, AG_EFAIL, "cannot seal the chunk index (OpenSSL)");
    if (u->ss != NULL && put_bytes(u, tag, sizeof(tag), 0) < 0)
        return -1;
    if (EVP_DigestFinal_ex(u->sha, md, &mdlen) != 1 || mdlen != 32)
        return ag_fail(u->ctx, AG_EFAIL, "cannot hash the chunk index (OpenSSL)");
    if (finish_object(u) < 0)
        return -1;
    u->complete = 1;
    u->failed = 0;
    digest_hex(md, 32, sha256);
    *size = u->size;
    return 0;
}

/* A part still in flight (the engine failed while it waited) ends before u may go. */
static void settle(idxstream_upload *u)
{
    if (u->nparts > 0 && !u->part_done)
        s3_async_drain(u->ctx->s3);
    u->part_done = 1;
}

void idxstream_upload_abort(idxstream_upload *u)
{
    s3_error err;
    if (u == NULL)
        return;
    settle(u);
    memset(&err, 0, sizeof(err));
    if (u->complete)
        s3_delete(u->ctx->s3, u->key, &err);
    else if (u->upload_id != NULL)
        s3_mpu_abort(u->ctx->s3, u->key, u->upload_id, &err);
    u->complete = 0;
    free(u->upload_id);
    u->upload_id = NULL;
    u->failed = 1;
}

void idxstream_upload_free(idxstream_upload *u)
{
    if (u == NULL)
        return;
    settle(u);
    seal_stream_free(u->ss);
    EVP_MD_CTX_free(u->sha);
    free(u->buf);
    free(u->upload_id);
    free(u->parts);
    free(u);
}
