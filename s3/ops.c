/* ops.c - the operations of s3.h: synchronous calls (submit + drive) and the async ones. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "s3/s3_internal.h"

/* ---- synchronous calls: one request, driven on the shared engine until it is done ---- */

typedef struct sync_state {
    volatile int done;
    int rc;
    s3_error err;
    char etag[S3_ETAG_MAX];
    int64_t content_length;
} sync_state;

static void sync_done(s3_req *r)
{
    sync_state *st = r->s.arg;
    st->rc = r->rc;
    st->err = r->err;
    memcpy(st->etag, r->etag, sizeof(st->etag));
    st->content_length = r->content_length;
    st->done = 1;
}

int s3_op_fail(s3_error *err, int rc, const char *msg)
{
    if (err) {
        memset(err, 0, sizeof(*err));
        s3_strlcpy(err->message, msg, sizeof(err->message));
    }
    return rc;
}

/* Submit spec and drive the engine until it finished. Other requests in flight keep
 * going (their callbacks may run here). */
static int run_sync(s3_client *c, s3_req_spec *spec, sync_state *st, s3_error *err)
{
    int rc;

    memset(st, 0, sizeof(*st));
    st->content_length = -1;
    spec->done = sync_done;
    spec->arg = st;
    spec->flags |= S3_REQ_PRIORITY;
    rc = s3_engine_submit(c, spec);
    if (rc)
        return s3_op_fail(err, rc, rc == -ENOMEM ? "out of memory" : "invalid request");
    while (!st->done)
        s3_engine_run(c, 1000, &st->done);   /* engine failures finish the request too */
    if (err)
        *err = st->err;
    return st->rc;
}

int s3_sync_request(s3_client *c, s3_req_spec *spec, s3_error *err)
{
    sync_state st;
    return run_sync(c, spec, &st, err);
}

/* value URI-encoded for a query string, malloc'ed */
char *s3_query_enc(const char *s)
{
    size_t need = s3_uri_encode(s, 0, NULL, 0) + 1;
    char *p = malloc(need);
    if (p)
        s3_uri_encode(s, 0, p, need);
    return p;
}

char *s3_query_build(const char *fixed, const char *const *pairs, int npairs)
{
    s3_sb q;

    s3_sb_init(&q, 64 * 1024);
    s3_sb_adds(&q, fixed);
    for (int i = 0; i < npairs; i++) {
        const char *name = pairs[2 * i], *value = pairs[2 * i + 1];
        if (!value || !*value)
            continue;
        char *enc = s3_query_enc(value);
        if (!enc)
            q.err = -ENOMEM;
        else
            s3_sb_addf(&q, "&%s=%s", name, enc);
        free(enc);
    }
    if (q.err) {
        s3_sb_free(&q);
        return NULL;
    }
    return q.p;
}

int s3_marker_page(s3_client *c, const char *sub, const char *prefix, const char *key_marker,
                   const char *id_name, const char *id_marker, s3_buf *page, s3_error *err)
{
    char fixed[64];
    snprintf(fixed, sizeof(fixed), "encoding-type=url&%s=%d", sub, c->cfg.list_max_keys);
    const char *pairs[] = { "prefix", prefix, "key-marker", key_marker, id_name, id_marker };
    char *q = s3_query_build(fixed, pairs, 3);
    if (!q)
        return s3_op_fail(err, -ENOMEM, "out of memory");
    s3_req_spec spec = {
        .method = "GET", .query = q, .sink = S3_SINK_BUF, .buf = page,
        .buf_max = S3_XMLBODY_MAX,
    };
    int rc = s3_sync_request(c, &spec, err);
    free(q);
    return rc;
}

static int key_ok(const char *key)
{
    return key && *key && strlen(key) <= S3_KEY_MAX;
}

int s3_put(s3_client *c, const char *key, const void *data, size_t len,
           const char *content_type, char etag_out[S3_ETAG_MAX], s3_error *err)
{
    sync_state st;
    char md5[25];
    s3_req_spec spec = {
        .method = "PUT", .key = key, .body = data, .body_len = len,
        .content_type = content_type && *content_type ? content_type : NULL,
        .content_md5 = md5, .flags = S3_REQ_LOCK,
    };

    if (etag_out)
        etag_out[0] = '\0';
    if (!c || !key_ok(key) || (len && !data))
        return s3_op_fail(err, -EINVAL, "invalid arguments");
    s3_md5_base64(data, len, md5);
    if (!md5[0])
        return s3_op_fail(err, -EIO, "no MD5 digest");
    int rc = run_sync(c, &spec, &st, err);
    if (!rc && etag_out)
        memcpy(etag_out, st.etag, S3_ETAG_MAX);
    return rc;
}

int s3_op_get(s3_client *c, const char *key, const char *query, uint64_t off, uint64_t len,
              size_t max_size, s3_buf *out, s3_error *err)
{
    sync_state st;
    char range[64];
    s3_req_spec spec = { .method = "GET", .key = key, .query = query, .sink = S3_SINK_BUF,
                         .buf = out };

    if (out)
        memset(out, 0, sizeof(*out));
    if (!c || !out || !key_ok(key) || (len && off > UINT64_MAX - len))
        return s3_op_fail(err, -EINVAL, "invalid arguments");
    spec.buf_max = max_size ? max_size : S3_GET_MAX_DEFAULT;
    if (len) {
        snprintf(range, sizeof(range), "bytes=%" PRIu64 "-%" PRIu64, off, off + len - 1);
        spec.range = range;
    } else if (off) {
        snprintf(range, sizeof(range), "bytes=%" PRIu64 "-", off);
        spec.range = range;
    }
    int rc = run_sync(c, &spec, &st, err);
    if (rc)
        s3_buf_free(out);
    return rc;
}

int s3_get(s3_client *c, const char *key, uint64_t off, uint64_t len,
           size_t max_size, s3_buf *out, s3_error *err)
{
    return s3_op_get(c, key, NULL, off, len, max_size, out, err);
}

int s3_op_head(s3_client *c, const char *key, const char *query, uint64_t *size,
               char etag[S3_ETAG_MAX], time_t *retain_until, s3_error *err)
{
    sync_state st;
    s3_lock_info li = { S3_LOCK_NONE, 0 };
    s3_req_spec spec = { .method = "HEAD", .key = key, .query = query,
                         .lock_out = retain_until ? &li : NULL };

    if (retain_until)
        *retain_until = 0;
    if (size)
        *size = 0;
    if (etag)
        etag[0] = '\0';
    if (!c || !key_ok(key))
        return s3_op_fail(err, -EINVAL, "invalid arguments");
    int rc = run_sync(c, &spec, &st, err);
    if (rc)
        return rc;
    if (st.content_length < 0) {
        if (err)
            s3_strlcpy(err->message, "HEAD answer without Content-Length",
                       sizeof(err->message));
        return -EINVAL;
    }
    if (size)
        *size = (uint64_t)st.content_length;
    if (etag)
        memcpy(etag, st.etag, S3_ETAG_MAX);
    if (retain_until)
        *retain_until = li.until;
    return 0;
}

int s3_head(s3_client *c, const char *key, uint64_t *size, char etag[S3_ETAG_MAX],
            s3_error *err)
{
    return s3_op_head(c, key, NULL, size, etag, NULL, err);
}

int s3_head_part(s3_client *c, const char *key, int number, uint64_t *size, s3_error *err)
{
    char q[32];
    if (number < 1)
        return s3_op_fail(err, -EINVAL, "invalid part number");
    snprintf(q, sizeof(q), "partNumber=%d", number);
    return s3_op_head(c, key, q, size, NULL, NULL, err);
}

int s3_delete(s3_client *c, const char *key, s3_error *err)
{
    sync_state st;
    s3_req_spec spec = { .method = "DELETE", .key = key };

    if (!c || !key_ok(key))
        return s3_op_fail(err, -EINVAL, "invalid arguments");
    int rc = run_sync(c, &spec, &st, err);
    if (rc == -ENOENT) {
        if (err)
            memset(err, 0, sizeof(*err));
        rc = 0;
    }
    return rc;
}

void s3_warn_skipped(s3_client *c, const char *what, const s3_list_skip *skip)
{
    if (skip->count)
        s3_warn(c, "%s: skipped %zu entr%s that cannot be decoded (first: %s)", what,
                skip->count, skip->count == 1 ? "y" : "ies", skip->first);
}

/* ---- multipart upload ---- */

static char *upload_query(const char *upload_id)
{
    s3_sb q;
    char *id = s3_query_enc(upload_id);
    if (!id)
        return NULL;
    s3_sb_init(&q, 8192);
    s3_sb_addf(&q, "uploadId=%s", id);
    free(id);
    if (q.err) {
        s3_sb_free(&q);
        return NULL;
    }
    return q.p;
}

int s3_mpu_create(s3_client *c, const char *key, char **upload_id, s3_error *err)
{
    return s3_mpu_create_class(c, key, NULL, upload_id, err);
}

int s3_storage_class_ok(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n < 1 || n > 64)
        return 0;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_'))
            return 0;
    return 1;
}

int s3_mpu_create_class(s3_client *c, const char *key, const char *storage_class,
                        char **upload_id, s3_error *err)
{
    sync_state st;
    s3_buf body = { 0 };
    s3_req_spec spec = {
        .method = "POST", .key = key, .query = "uploads", .sink = S3_SINK_BUF,
        .buf = &body, .buf_max = S3_ERRBODY_MAX, .flags = S3_REQ_LOCK,
        .storage_class = storage_class,
    };

    if (upload_id)
        *upload_id = NULL;
    if (!c || !key_ok(key) || !upload_id ||
        (storage_class && !s3_storage_class_ok(storage_class)))
        return s3_op_fail(err, -EINVAL, "invalid arguments");
    int rc = run_sync(c, &spec, &st, err);
    if (!rc) {
        rc = s3_xml_upload_id(body.data, body.len, upload_id);
        if (rc && err)
            s3_strlcpy(err->message, "malformed InitiateMultipartUploadResult",
                       sizeof(err->message));
    }
    s3_buf_free(&body);
    return rc;
}

/* A completion whose answer was lost (a dropped connection, an endpoint restarted in
 * the middle: the retry then meets NoSuchUpload, or RGW's "completion is already in
 * progress" until the retries end) may have landed: 1 if key now holds exactly these
 * parts (its ETag is theirs), with that ETag in etag_out (may be NULL). */
static int complete_landed(s3_client *c, const char *key, const s3_part *parts, int nparts,
                           char etag_out[S3_ETAG_MAX])
{
    char want[S3_ETAG_MAX], have[S3_ETAG_MAX];
    s3_error e;
    if (s3_multipart_etag(parts, nparts, want) < 0 || s3_head(c, key, NULL, have, &e) < 0 ||
        strcasecmp(want, have) != 0)
        return 0;
    if (etag_out)
        memcpy(etag_out, have, S3_ETAG_MAX);
    return 1;
}

int s3_mpu_complete(s3_client *c, const char *key, const char *upload_id,
                    const s3_part *parts, int nparts, char etag_out[S3_ETAG_MAX],
                    s3_error *err)
{
    sync_state st;
    s3_buf answer = { 0 };
    size_t blen = 0;
    char *body, *q;
    int rc;

    if (etag_out)
        etag_out[0] = '\0';
    if (!c || !key_ok(key) || !upload_id || !*upload_id)
        return s3_op_fail(err, -EINVAL, "invalid arguments");
    body = s3_xml_complete_body(parts, nparts, &blen);
    if (!body)
        return s3_op_fail(err, -EINVAL, "parts must be 1..10000, ascending, with ETags");
    q = upload_query(upload_id);
    if (!q) {
        free(body);
        return s3_op_fail(err, -ENOMEM, "out of memory");
    }
    s3_req_spec spec = {
        .method = "POST", .key = key, .query = q, .content_type = "application/xml",
        .body = body, .body_len = blen, .sink = S3_SINK_BUF, .buf = &answer,
        .buf_max = S3_ERRBODY_MAX, .flags = S3_REQ_XML_ERR200,
    };
    rc = run_sync(c, &spec, &st, err);
    if (rc < 0 && complete_landed(c, key, parts, nparts, etag_out))
        rc = 0;
    else if (!rc) {
        char etag[S3_ETAG_MAX];
        rc = s3_xml_etag_result(answer.data, answer.len, "CompleteMultipartUploadResult", 1,
                                etag, err);
        /* RGW 16.x answers <ETag></ETag> (Red Hat BZ 2266579): ask the object itself */
        if (!rc && !etag[0] && etag_out)
            rc = s3_head(c, key, NULL, etag, err);
        if (!rc && etag_out)
            memcpy(etag_out, etag, S3_ETAG_MAX);
    }
    /* RGW 16 ignores the lock headers of CreateMultipartUpload: set the retention */
    if (!rc && s3_lock_mode_name(c->lock_mode))
        rc = s3_put_retention(c, key, c->lock_mode, c->lock_until, err);
    s3_buf_free(&answer);
    free(body);
    free(q);
    return rc;
}

int s3_mpu_abort(s3_client *c, const char *key, const char *upload_id, s3_error *err)
{
    sync_state st;
    char *q;

    if (!c || !key_ok(key) || !upload_id || !*upload_id)
        return s3_op_fail(err, -EINVAL, "invalid arguments");
    q = upload_query(upload_id);
    if (!q)
        return s3_op_fail(err, -ENOMEM, "out of memory");
    s3_req_spec spec = { .method = "DELETE", .key = key, .query = q };
    int rc = run_sync(c, &spec, &st, err);
    free(q);
    return rc;
}

/* ---- asynchronous requests ---- */

static void part_done(s3_req *r)
{
    s3_result res = { .rc = r->rc, .err = &r->err, .etag = NULL, .body_len = 0 };
    if (!res.rc && !r->etag[0]) {
        res.rc = -EIO;
        s3_strlcpy(r->err.message, "part upload answer without ETag", sizeof(r->err.message));
    }
    if (!res.rc)
        res.etag = r->etag;
    r->s.user_cb(&res, r->s.user_arg);
}

int s3_async_upload_part(s3_client *c, const char *key, const char *upload_id,
                         int number, const void *data, size_t len,
                         s3_done_cb done, void *arg)
{
    char md5[25];
    s3_md5_base64(data, len, md5);
    if (!md5[0])
        return -EIO;
    return s3_async_upload_part_md5(c, key, upload_id, number, data, len, md5, done, arg);
}

int s3_async_upload_part_md5(s3_client *c, const char *key, const char *upload_id,
                             int number, const void *data, size_t len, const char *md5,
                             s3_done_cb done, void *arg)
{
    s3_sb q;
    char *id;
    int rc;

    if (!c || !key_ok(key) || !upload_id || !*upload_id || number < 1 || number > 10000 ||
        (len && !data) || !done || !md5 || !*md5)
        return -EINVAL;
    id = s3_query_enc(upload_id);
    if (!id)
        return -ENOMEM;
    s3_sb_init(&q, 8192);
    s3_sb_addf(&q, "partNumber=%d&uploadId=%s", number, id);
    free(id);
    if (q.err) {
        rc = q.err == -ENOMEM ? -ENOMEM : -EINVAL;
        s3_sb_free(&q);
        return rc;
    }
    s3_req_spec spec = {
        .method = "PUT", .key = key, .query = q.p, .body = data, .body_len = len,
        .content_md5 = md5, .done = part_done, .user_cb = done, .user_arg = arg,
    };
    rc = s3_engine_submit(c, &spec);
    s3_sb_free(&q);
    return rc;
}

static void range_done(s3_req *r)
{
    s3_result res = { .rc = r->rc, .err = &r->err, .etag = NULL, .body_len = r->got };
    if (!res.rc && r->etag[0])
        res.etag = r->etag;
    r->s.user_cb(&res, r->s.user_arg);
}

int s3_op_get_range(s3_client *c, const char *key, const char *query, uint64_t off,
                    uint64_t len, void *dst, size_t cap, s3_done_cb done, void *arg)
{
    char range[64];

    if (!c || !key_ok(key) || !len || !dst || len > cap || off > UINT64_MAX - len || !done)
        return -EINVAL;
    snprintf(range, sizeof(range), "bytes=%" PRIu64 "-%" PRIu64, off, off + len - 1);
    s3_req_spec spec = {
        .method = "GET", .key = key, .query = query, .range = range, .sink = S3_SINK_DST,
        .dst = dst,
        .dst_cap = cap, .expect_len = (size_t)len, .flags = S3_REQ_RANGE_EXACT,
        .done = range_done, .user_cb = done, .user_arg = arg,
    };
    return s3_engine_submit(c, &spec);
}

int s3_async_get_range(s3_client *c, const char *key, uint64_t off, uint64_t len,
                       void *dst, size_t cap, s3_done_cb done, void *arg)
{
    return s3_op_get_range(c, key, NULL, off, len, dst, cap, done, arg);
}
