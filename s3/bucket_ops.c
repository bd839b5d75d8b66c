/* bucket_ops.c - operations on bucket subresources: multi-object delete, lifecycle, uploads. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "s3/s3_internal.h"

#define LIFECYCLE_MAX (4u << 20)   /* 1000 rules of a few KiB at most */

/* ---- multi-object delete ---- */

int s3_delete_many(s3_client *c, const char *const *keys, size_t n, size_t *nfailed,
                   s3_error *err)
{
    s3_buf answer = { 0 };
    char md5[25];
    size_t blen = 0, failed = n;
    char *body;
    int rc;

    if (nfailed)
        *nfailed = n;
    if (!c || !keys || n < 1 || n > 1000)
        return s3_op_fail(err, -EINVAL, "invalid arguments (1..1000 keys)");
    body = s3_xml_delete_body(keys, n, &blen);
    if (!body)
        return s3_op_fail(err, -EINVAL, "keys must be 1..1024 bytes, without control "
                                        "characters other than tab, CR, LF");
    s3_md5_base64(body, blen, md5);
    s3_req_spec spec = {
        .method = "POST", .query = "delete", .content_type = "application/xml",
        .content_md5 = md5, .body = body, .body_len = blen, .sink = S3_SINK_BUF,
        .buf = &answer, .buf_max = S3_XMLBODY_MAX, .flags = S3_REQ_XML_ERR200,
    };
    rc = md5[0] ? s3_sync_request(c, &spec, err) : s3_op_fail(err, -EIO, "no MD5 digest");
    if (!rc) {
        rc = s3_xml_delete_result(answer.data, answer.len, &failed, err);
        if (rc)
            s3_op_fail(err, rc, "malformed DeleteResult");
        else if (failed)
            rc = -EIO;
    }
    if (nfailed)
        *nfailed = rc && rc != -EIO ? n : failed;
    s3_buf_free(&answer);
    free(body);
    return rc;
}

/* ---- lifecycle ---- */

int s3_get_lifecycle(s3_client *c, s3_buf *out, s3_error *err)
{
    if (out)
        memset(out, 0, sizeof(*out));
    if (!c || !out)
        return s3_op_fail(err, -EINVAL, "invalid arguments");
    s3_req_spec spec = {
        .method = "GET", .query = "lifecycle", .sink = S3_SINK_BUF, .buf = out,
        .buf_max = LIFECYCLE_MAX,
    };
    int rc = s3_sync_request(c, &spec, err);
    if (rc)
        s3_buf_free(out);
    return rc;
}

int s3_put_lifecycle(s3_client *c, const char *xml, size_t len, s3_error *err)
{
    char md5[25];

    if (!c || !xml || !len || len > LIFECYCLE_MAX)
        return s3_op_fail(err, -EINVAL, "invalid arguments");
    s3_md5_base64(xml, len, md5);
    if (!md5[0])
        return s3_op_fail(err, -EIO, "no MD5 digest");
    s3_req_spec spec = {
        .method = "PUT", .query = "lifecycle", .content_type = "application/xml",
        .content_md5 = md5, .body = xml, .body_len = len,
    };
    return s3_sync_request(c, &spec, err);
}

int s3_delete_lifecycle(s3_client *c, s3_error *err)
{
    if (!c)
        return s3_op_fail(err, -EINVAL, "invalid arguments");
    s3_req_spec spec = { .method = "DELETE", .query = "lifecycle" };
    int rc = s3_sync_request(c, &spec, err);
    if (rc == -ENOENT) {
        if (err)
            memset(err, 0, sizeof(*err));
        rc = 0;
    }
    return rc;
}

/* ---- ListMultipartUploads ---- */

static int same(const char *a, const char *b)
{
    return !strcmp(a ? a : "", b ? b : "");
}

/* Fetch and walk one page; *key_marker and *id_marker are replaced by the next ones.
 * A truncated page must move the markers on (else the walk would never end). */
static int uploads_page(s3_client *c, const char *prefix, char **key_marker,
                        char **id_marker, int *truncated, s3_upload_cb cb, void *arg,
                        int *cb_rc, s3_error *err)
{
    s3_buf page = { 0 };
    s3_list_skip skip;
    char *nk = NULL, *ni = NULL;
    int rc = s3_marker_page(c, "uploads&max-uploads", prefix, *key_marker, "upload-id-marker",
                            *id_marker, &page, err);
    if (!rc) {
        rc = s3_xml_uploads_page_ex(page.data, page.len, cb, arg, truncated, &nk, &ni, cb_rc,
                                    &skip);
        if (rc)
            s3_op_fail(err, rc, "malformed ListMultipartUploadsResult");
        else if (*truncated && !*cb_rc &&
                 (!nk || (same(nk, *key_marker) && same(ni, *id_marker))))
            rc = s3_op_fail(err, -EINVAL, "truncated upload listing that does not advance");
        if (!rc)
            s3_warn_skipped(c, "listing the multipart uploads", &skip);
    }
    s3_buf_free(&page);
    free(*key_marker);
    free(*id_marker);
    *key_marker = nk;
    *id_marker = ni;
    return rc;
}

int s3_list_uploads(s3_client *c, const char *prefix, s3_upload_cb cb, void *arg,
                    s3_error *err)
{
    char *key_marker = NULL, *id_marker = NULL;
    int truncated = 1, cb_rc = 0, rc = 0;

    if (!c || !cb)
        return s3_op_fail(err, -EINVAL, "invalid arguments");
    if (err)
        memset(err, 0, sizeof(*err));
    while (!rc && !cb_rc && truncated)
        rc = uploads_page(c, prefix, &key_marker, &id_marker, &truncated, cb, arg, &cb_rc,
                          err);
    free(key_marker);
    free(id_marker);
    return rc ? rc : cb_rc;
}
