/* list.c - ListObjectsV2 over every page (ListObjects v1 for servers without it), the
 * bucket check, and the detection of a listing that does not advance. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "s3/s3_internal.h"

/* 1 when a ListObjectsV2 request failed because the server does not know list-type=2:
 * 501, or 400 NotImplemented. */
static int v2_unknown(int rc, const s3_error *err)
{
    return rc && err && (err->http_status == 501 ||
                         (err->http_status == 400 && !strcmp(err->code, "NotImplemented")));
}

int s3_bucket_check(s3_client *c, s3_error *err)
{
    s3_error own;
    s3_req_spec spec = { .method = "GET", .query = "list-type=2&max-keys=0" };

    if (!c)
        return s3_op_fail(err, -EINVAL, "no client");
    if (!err)
        err = &own;
    int rc = s3_sync_request(c, &spec, err);
    if (v2_unknown(rc, err)) {
        s3_req_spec v1 = { .method = "GET", .query = "max-keys=0" };
        rc = s3_sync_request(c, &v1, err);
        c->list_v1 = !rc;
    }
    return rc;
}

/* The ListObjectsV2 query for one page (token: the continuation token), or with v1 the
 * ListObjects one (token: the marker); malloc'ed, NULL when out of memory. */
static char *list_query(int v1, const char *token, const char *delimiter, int max_keys,
                        const char *prefix)
{
    char fixed[64];
    snprintf(fixed, sizeof(fixed), "encoding-type=url&max-keys=%d%s", max_keys,
             v1 ? "" : "&list-type=2");
    const char *pairs[] = {
        v1 ? "marker" : "continuation-token", token, "delimiter", delimiter, "prefix", prefix,
    };
    return s3_query_build(fixed, pairs, 3);
}

#define LIST_EMPTY_RUN_MAX 100   /* truncated pages in a row without a single entry */

/* Does a truncated page move the listing on? Its token must differ from the one that
 * fetched it, its last key must come after the previous page's last key, and pages
 * without entries (*empty_run of them in a row) must not go on and on. */
static int list_advances(const char *token, const char *next, const char *prev_last,
                         const char *last, int had_entries, int *empty_run)
{
    if (token && next && !strcmp(token, next))
        return 0;
    *empty_run = had_entries ? 0 : *empty_run + 1;
    if (*empty_run > LIST_EMPTY_RUN_MAX)
        return 0;
    return !prev_last || !last || strcmp(last, prev_last) > 0;
}

/* GET one listing page into *page (the caller frees it): ListObjectsV2, or ListObjects
 * (v1) once the server turned out not to know v2 (then this page is asked again). */
static int get_list_page(s3_client *c, const char *prefix, const char *delimiter,
                         const char *token, s3_buf *page, s3_error *err)
{
    int rc = 0;

    for (int tries = 0; tries < 2; tries++) {
        char *q = list_query(c->list_v1, token, delimiter, c->cfg.list_max_keys, prefix);
        if (!q)
            return s3_op_fail(err, -ENOMEM, "out of memory");
        s3_req_spec spec = {
            .method = "GET", .query = q, .sink = S3_SINK_BUF, .buf = page,
            .buf_max = S3_XMLBODY_MAX,
        };
        rc = s3_sync_request(c, &spec, err);
        free(q);
        if (c->list_v1 || !v2_unknown(rc, err) || token)
            break;
        s3_buf_free(page);
        c->list_v1 = 1;
    }
    return rc;
}

/* Fetch and walk one page. *token is replaced by the next one, *last by the page's last
 * key or NextMarker (when it has one: s3_xml_list_page_ex). */
static int list_page(s3_client *c, const char *prefix, const char *delimiter, char **token,
                     char **last, int *empty_run, int *truncated, s3_list_cb cb, void *arg,
                     int *cb_rc, s3_error *err)
{
    s3_buf page = { 0 };
    s3_list_skip skip = { 0 };
    char *next = NULL, *page_last = NULL;
    int rc = get_list_page(c, prefix, delimiter, *token, &page, err);

    if (!rc) {
        rc = s3_xml_list_page_ex(page.data, page.len, cb, arg, truncated, &next, cb_rc,
                                 &skip, &page_last);
        if (rc)
            s3_op_fail(err, rc, "malformed ListBucketResult");
        else
            s3_warn_skipped(c, "listing the bucket", &skip);
    }
    if (!rc && *truncated && !next && !c->list_v1 && !*token)
        c->list_v1 = 1;        /* a v1 document (no tokens) to a v2 request: go on by v1 */
    if (!rc && *truncated && c->list_v1 && page_last) {
        free(next);            /* v1: the next page starts after NextMarker or this one's
                                * last key, a skipped one's too (not to be fetched again) */
        next = strdup(page_last);
        if (!next)
            rc = s3_op_fail(err, -ENOMEM, "out of memory");
    }
    if (!rc && !*cb_rc && *truncated && !next)
        rc = s3_op_fail(err, -EINVAL, c->list_v1 ? "truncated listing without keys to go on "
                        "from" : "truncated listing without NextContinuationToken");
    if (!rc && !*cb_rc && *truncated &&
        !list_advances(*token, next, *last, page_last, page_last || skip.count, empty_run))
        rc = s3_op_fail(err, -EINVAL, "the endpoint's listing does not advance (a truncated "
                        "page repeats the previous token or keys)");
    s3_buf_free(&page);
    free(*token);
    *token = next;
    if (page_last) {
        free(*last);
        *last = page_last;
    }
    return rc;
}

int s3_list(s3_client *c, const char *prefix, const char *delimiter,
            s3_list_cb cb, void *arg, s3_error *err)
{
    char *token = NULL, *last = NULL;
    int truncated = 1, cb_rc = 0, rc = 0, empty_run = 0;

    s3_error own;

    if (!c || !cb)
        return s3_op_fail(err, -EINVAL, "invalid arguments");
    if (!err)
        err = &own;            /* get_list_page looks at the answer's status and code */
    memset(err, 0, sizeof(*err));
    while (!rc && !cb_rc && truncated)
        rc = list_page(c, prefix, delimiter, &token, &last, &empty_run, &truncated, cb, arg,
                       &cb_rc, err);
    free(token);
    free(last);
    return rc ? rc : cb_rc;
}
