/* copy.c - server-side copy: UploadPartCopy and CopyObject from another bucket of the
 * same endpoint, with the <Error> a 200 answer may carry. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "s3/s3_internal.h"
#include "s3/xml_internal.h"

/* "/<bucket>/<key>" with the key URI-encoded ('/' kept), malloc'ed; NULL on a bad or too
 * long name, or out of memory. */
static char *copy_source(const char *bucket, const char *key)
{
    if (!bucket || !*bucket || !key || !*key || strlen(key) > S3_KEY_MAX)
        return NULL;
    size_t kl = s3_uri_encode(key, 1, NULL, 0);
    size_t bl = s3_uri_encode(bucket, 0, NULL, 0);
    if (kl + bl + 3 > S3_COPY_SOURCE_MAX)
        return NULL;
    char *p = malloc(kl + bl + 3);
    if (!p)
        return NULL;
    p[0] = '/';
    s3_uri_encode(bucket, 0, p + 1, bl + 1);
    p[bl + 1] = '/';
    s3_uri_encode(key, 1, p + bl + 2, kl + 1);
    return p;
}

/* Send a copy request (query NULL: CopyObject) and read its result document. */
static int copy_request(s3_client *c, const char *key, const char *query, const char *src,
                        const char *range, const char *root_name, char etag[S3_ETAG_MAX],
                        s3_error *err)
{
    s3_buf answer = { 0 };
    s3_req_spec spec = {
        .method = "PUT", .key = key, .query = query, .sink = S3_SINK_BUF, .buf = &answer,
        .buf_max = S3_ERRBODY_MAX, .flags = S3_REQ_XML_ERR200 | (query ? 0 : S3_REQ_LOCK),
        .copy_source = src, .copy_range = range,
    };
    int rc = s3_sync_request(c, &spec, err);
    if (!rc)
        rc = s3_xml_etag_result(answer.data, answer.len, root_name, 0, etag, err);
    s3_buf_free(&answer);
    return rc;
}

int s3_upload_part_copy(s3_client *c, const char *key, const char *upload_id, int number,
                        const char *src_bucket, const char *src_key, uint64_t off,
                        uint64_t len, char etag_out[S3_ETAG_MAX], s3_error *err)
{
    char range[64];
    etag_out[0] = '\0';
    if (!c || !key || !*key || strlen(key) > S3_KEY_MAX || !upload_id || !*upload_id ||
        number < 1 || number > 10000 || (len && off > UINT64_MAX - len))
        return s3_op_fail(err, -EINVAL, "invalid arguments");
    char *src = copy_source(src_bucket, src_key);
    char *id = s3_query_enc(upload_id);
    s3_sb q;
    s3_sb_init(&q, 8192);
    if (id)
        s3_sb_addf(&q, "partNumber=%d&uploadId=%s", number, id);
    free(id);
    int rc = !src ? -EINVAL : (!id || q.err) ? -ENOMEM : 0;
    if (rc) {
        free(src);
        s3_sb_free(&q);
        return s3_op_fail(err, rc, rc == -ENOMEM ? "out of memory" : "invalid copy source");
    }
    if (len)
        snprintf(range, sizeof(range), "bytes=%" PRIu64 "-%" PRIu64, off, off + len - 1);
    rc = copy_request(c, key, q.p, src, len ? range : NULL, "CopyPartResult", etag_out, err);
    free(src);
    s3_sb_free(&q);
    return rc;
}

int s3_copy_object(s3_client *c, const char *key, const char *src_bucket,
                   const char *src_key, char etag_out[S3_ETAG_MAX], s3_error *err)
{
    etag_out[0] = '\0';
    if (!c || !key || !*key || strlen(key) > S3_KEY_MAX)
        return s3_op_fail(err, -EINVAL, "invalid arguments");
    char *src = copy_source(src_bucket, src_key);
    if (!src)
        return s3_op_fail(err, -EINVAL, "invalid copy source");
    int rc = copy_request(c, key, NULL, src, NULL, "CopyObjectResult", etag_out, err);
    free(src);
    /* RGW 16 ignores lock headers on some creates: set the retention as s3_put's callers
     * expect (a no-op without the client's Object Lock) */
    if (!rc && s3_lock_mode_name(c->lock_mode))
        rc = s3_put_retention(c, key, c->lock_mode, c->lock_until, err);
    return rc;
}
