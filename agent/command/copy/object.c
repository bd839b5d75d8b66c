/* object.c - copy one object to the destination bucket, server-side (UploadPartCopy,
 * CopyObject) or streamed (ranged GETs into parts with Content-MD5), and check it. */
#include "agent/command/copy/copy.h"
#include "agent/format/parts.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How a copy is cut. */
typedef struct copy_plan {
    const char *src_key, *dst_key;
    uint64_t size;
    const char *etag;           /* the manifest's */
    int single;                 /* one request (CopyObject, PUT), no multipart */
    uint64_t part;              /* part size otherwise */
    int exact;                  /* the copy's ETag will be etag: it is the check */
    int guess;                  /* it should be, if the backup used today's part size */
} copy_plan;

/* The part count of a multipart ETag "<hex>-<n>", 0 for a plain one. */
static unsigned long etag_parts(const char *etag)
{
    const char *dash = strrchr(etag, '-');
    if (dash == NULL || dash[1] == '\0')
        return 0;
    char *end = NULL;
    unsigned long n = strtoul(dash + 1, &end, 10);
    return *end == '\0' ? n : 0;
}

/* The size of the source's part 1 (HEAD ?partNumber=1) when it cuts p's object into the
 * n parts of its ETag, else 0 (not told: a server that ignores the query). */
static uint64_t source_part(copy_job *j, const copy_plan *p, unsigned long n)
{
    uint64_t ps = 0;
    s3_error err;
    memset(&err, 0, sizeof(err));
    if (s3_head_part(j->ctx->s3, p->src_key, 1, &ps, &err) < 0 || ps == 0 ||
        (p->size + ps - 1) / ps != n)
        return 0;
    return ps;
}

/* Cut p: one request, the source's parts when they are known (learnt by a HEAD of part
 * 1, else the part size the backup would use today: parts_size), else parts of
 * COPY_PART_DEFAULT doubled to fit PARTS_MAX. A streamed part is held in memory: at most
 * COPY_PUT_MAX, whatever the manifest claims. 0, or -1 with the error recorded. */
static int plan_object(copy_job *j, copy_plan *p)
{
    unsigned long n = etag_parts(p->etag);
    uint64_t cap = j->server_side ? PARTS_SIZE_MAX : COPY_PUT_MAX;
    if (n == 0 && p->size <= (j->server_side ? COPY_SINGLE_MAX : COPY_PUT_MAX)) {
        p->single = 1;          /* a plain MD5 ETag, kept by CopyObject and PUT */
        p->exact = 1;
        return 0;
    }
    if (n == 1 && p->size > 0 && p->size <= cap) {
        p->part = p->size;
        p->exact = 1;
        return 0;
    }
    if (n > 1 && n <= PARTS_MAX) {
        const ag_tun *t = &j->ctx->opts.tun;
        uint64_t ps = source_part(j, p, n);
        if (ps == 0)
            ps = parts_size(t->part_size, t->pack_size, j->chunk ? j->chunk : t->chunk_size);
        if (ps > 0 && ps <= cap && (p->size + ps - 1) / ps == n) {
            p->part = ps;       /* the backup's parts, likely: same parts, same ETag */
            p->guess = 1;
            return 0;
        }
    }
    p->part = COPY_PART_DEFAULT;
    while ((p->size + p->part - 1) / p->part > PARTS_MAX && p->part <= cap)
        p->part *= 2;
    if (p->part > cap)
        return ag_fail(j->ctx, AG_EINTEGRITY, "%s: %llu bytes, more than a copy can take",
                       p->src_key, (unsigned long long)p->size);
    return 0;
}

/* The outcome of one UploadPart. */
typedef struct part_wait {
    int done, rc;
    s3_error err;
    char etag[S3_ETAG_MAX];
} part_wait;

static void part_done(const s3_result *res, void *arg)
{
    part_wait *w = arg;
    w->done = 1;
    w->rc = res->rc;
    if (res->err)
        w->err = *res->err;
    snprintf(w->etag, sizeof(w->etag), "%s", res->etag ? res->etag : "");
}

/* UploadPart of data[0..len) (with Content-MD5), waited for. */
static int upload_part(s3_client *c, const char *key, const char *id, int num,
                       const void *data, size_t len, char etag[S3_ETAG_MAX], s3_error *err)
{
    part_wait w;
    memset(&w, 0, sizeof(w));
    int rc = s3_async_upload_part(c, key, id, num, data, len, part_done, &w);
    if (rc == 0)
        rc = s3_async_drain(c);
    if (rc == 0 && !w.done)
        rc = -EIO;
    if (rc == 0) {
        rc = w.rc;
        *err = w.err;
        snprintf(etag, S3_ETAG_MAX, "%s", w.etag);
    }
    return rc;
}

/* One part from the source into the upload: server-side, or GET then UploadPart. */
static int copy_part(copy_job *j, const copy_plan *p, const char *id, int num, uint64_t off,
                     uint64_t len, s3_part *out, s3_error *err)
{
    out->number = num;
    if (j->server_side)
        return s3_upload_part_copy(j->dst.s3, p->dst_key, id, num, j->ctx->opts.bucket,
                                   p->src_key, off, len, out->etag, err);
    s3_buf b;
    int rc = s3_get(j->ctx->s3, p->src_key, off, len, (size_t)len, &b, err);
    if (rc == 0 && b.len != len)
        rc = -EIO;
    if (rc == 0) {
        j->bytes_moved += 2 * len;
        rc = upload_part(j->dst.s3, p->dst_key, id, num, b.data, b.len, out->etag, err);
    }
    s3_buf_free(&b);
    return rc;
}

/* The whole object in one request; *etag gets the destination's ETag. */
static int copy_single(copy_job *j, const copy_plan *p, char etag[S3_ETAG_MAX], s3_error *err)
{
    if (j->server_side)
        return s3_copy_object(j->dst.s3, p->dst_key, j->ctx->opts.bucket, p->src_key, etag,
                              err);
    s3_buf b;
    int rc = s3_get(j->ctx->s3, p->src_key, 0, 0, (size_t)p->size, &b, err);
    if (rc == 0 && b.len != p->size)
        rc = -EIO;
    if (rc == 0) {
        j->bytes_moved += 2 * b.len;
        rc = s3_put(j->dst.s3, p->dst_key, b.data, b.len, NULL, etag, err);
    }
    s3_buf_free(&b);
    return rc;
}

/* A multipart copy in parts of p->part; *etag gets the completion's ETag. */
static int copy_multipart(copy_job *j, const copy_plan *p, char etag[S3_ETAG_MAX],
                          s3_error *err)
{
    size_t n = (size_t)((p->size + p->part - 1) / p->part);
    s3_part *parts = calloc(n ? n : 1, sizeof(*parts));
    char *id = NULL;
    if (parts == NULL)
        return -ENOMEM;
    int rc = s3_mpu_create_class(j->dst.s3, p->dst_key, j->sclass, &id, err);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        uint64_t off = i * p->part;
        uint64_t len = p->size - off < p->part ? p->size - off : p->part;
        if (ag_interrupted)
            rc = -ECANCELED;
        else
            rc = copy_part(j, p, id, (int)i + 1, off, len, &parts[i], err);
    }
    if (rc == 0)
        rc = s3_mpu_complete(j->dst.s3, p->dst_key, id, parts, (int)n, etag, err);
    if (rc < 0 && id != NULL) {
        s3_error aerr;
        s3_client_reset_cancel(j->dst.s3);
        s3_mpu_abort(j->dst.s3, p->dst_key, id, &aerr);
    }
    free(id);
    free(parts);
    return rc;
}

/* Is the destination's object already this one? 1 yes, 0 no (missing or another). */
static int already_there(copy_job *j, const copy_plan *p, s3_error *err)
{
    uint64_t size = 0;
    char etag[S3_ETAG_MAX];
    int rc = s3_head(j->dst.s3, p->dst_key, &size, etag, err);
    if (rc == -ENOENT)
        return 0;
    if (rc < 0)
        return rc;
    return size == p->size && (!p->exact || strcmp(etag, p->etag) == 0);
}

/* After the copy: the destination's size, and its ETag the expected one. 0; 1 when only
 * the ETag differs and soft is set (nothing recorded); else -1 with the error recorded. */
static int check_copy(copy_job *j, const copy_plan *p, const char *want, int soft)
{
    uint64_t size = 0;
    char etag[S3_ETAG_MAX];
    s3_error err;
    memset(&err, 0, sizeof(err));
    int rc = s3_head(j->dst.s3, p->dst_key, &size, etag, &err);
    if (rc < 0)
        return ag_fail_s3(j->ctx, rc, &err, p->dst_key);
    if (size != p->size)
        return ag_fail(j->ctx, AG_EINTEGRITY, "%s: %llu bytes after the copy, %llu expected",
                       p->dst_key, (unsigned long long)size, (unsigned long long)p->size);
    if (want[0] != '\0' && strcmp(etag, want) != 0 && soft)
        return 1;
    if (want[0] != '\0' && strcmp(etag, want) != 0)
        return ag_fail(j->ctx, AG_EINTEGRITY, "%s: ETag %s after the copy, %s expected",
                       p->dst_key, etag, want);
    return 0;
}

int copy_object(copy_job *j, const char *src_key, const char *dst_key, uint64_t size,
                const char *etag)
{
    copy_plan p = { .src_key = src_key, .dst_key = dst_key, .size = size, .etag = etag };
    s3_error err;
    memset(&err, 0, sizeof(err));
    if (plan_object(j, &p) < 0)
        return -1;
    int rc = already_there(j, &p, &err);
    if (rc < 0)
        return ag_fail_s3(j->ctx, rc, &err, dst_key);
    if (rc == 1) {
        j->objects_present++;
        ag_debug(j->ctx, "%s: already there", dst_key);
        return 1;
    }
    ag_debug(j->ctx, "%s: copying (%llu bytes)", dst_key, (unsigned long long)size);
    char got[S3_ETAG_MAX] = "";
    rc = p.single ? copy_single(j, &p, got, &err) : copy_multipart(j, &p, got, &err);
    if (rc < 0)
        return ag_fail_s3(j->ctx, rc, &err, src_key);
    rc = p.guess ? check_copy(j, &p, etag, 1) : 1;
    if (rc == 1)    /* no layout, or the backup was cut otherwise: the completion's ETag */
        rc = check_copy(j, &p, p.exact ? etag : got, 0);
    if (rc < 0)
        return -1;
    j->objects_copied++;
    j->bytes_copied += size;
    ag_debug(j->ctx, "%s: copied (%llu bytes, %s)", dst_key, (unsigned long long)size,
             j->server_side ? "server-side" : "streamed");
    return 0;
}
