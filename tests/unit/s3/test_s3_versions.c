/* test_s3_versions.c - object versions (s3/versions.c) against tests/fakes3/, and hostile pages. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <curl/curl.h>

#include "s3/s3.h"
#include "s3/s3_internal.h"

#include "tests/unit/fakes3_harness.h"
#include "tests/unit/s3/fakes3_client.h"

#define NV 16

/* What a listing reported. */
struct vlist {
    int n;
    char key[NV][64];
    char id[NV][64];
    int marker[NV];
    int latest[NV];
    uint64_t size[NV];
    time_t mtime[NV];
};

static int vcb(const s3_version_info *v, void *arg)
{
    struct vlist *l = arg;
    if (l->n >= NV)
        return -1;
    s3_strlcpy(l->key[l->n], v->key, 64);
    s3_strlcpy(l->id[l->n], v->version_id, 64);
    l->marker[l->n] = v->is_delete_marker;
    l->latest[l->n] = v->is_latest;
    l->size[l->n] = v->size;
    l->mtime[l->n] = v->last_modified;
    l->n++;
    return 0;
}

static s3_client *paged_client(int page)
{
    s3_config cfg = {
        .endpoint = endpoint, .bucket = BUCKET, .access_key = AK, .secret_key = SK,
        .list_max_keys = page,
    };
    s3_client *c = NULL;
    assert_int_equal(s3_client_new(&cfg, &c), 0);
    return c;
}

/* Two versions of "v/a b", then a delete marker; one version of "v/c". */
static void fill_versions(s3_client *c)
{
    s3_error e;
    ctl("POST", "/_ctl/versioning", BUCKET, NULL);
    assert_int_equal(s3_put(c, "v/a b", "one", 3, NULL, NULL, &e), 0);
    assert_int_equal(s3_put(c, "v/a b", "second", 6, NULL, NULL, &e), 0);
    assert_int_equal(s3_delete(c, "v/a b", &e), 0);
    assert_int_equal(s3_put(c, "v/c", "cc", 2, NULL, NULL, &e), 0);
}

static void test_list_versions_pages(void **state)
{
    s3_client *c = paged_client(1);
    struct vlist l = { 0 };
    struct logrec log[32];
    s3_error e;
    s3_buf b;
    (void)state;

    fill_versions(c);
    assert_int_equal(s3_get(c, "v/a b", 0, 0, 0, &b, &e), -ENOENT);
    set_rules("");
    assert_int_equal(s3_list_versions(c, "v/", vcb, &l, &e), 0);
    assert_int_equal(l.n, 4);
    int n = get_log(log, 32);
    assert_int_equal(count_log(log, n, "GET", "versions"), 4);     /* a page per entry */
    assert_int_equal(count_log(log, n, "GET", "version-id-marker="), 3);
    /* by key, newest first: the marker, "second", "one", then v/c */
    assert_string_equal(l.key[0], "v/a b");
    assert_true(l.marker[0] && l.latest[0]);
    assert_true(!l.marker[1] && l.size[1] == 6 && !l.latest[1]);
    assert_true(!l.marker[2] && l.size[2] == 3);
    assert_string_equal(l.key[3], "v/c");
    assert_true(l.latest[3] && l.mtime[3] > 0);

    /* each version reads back by its id, whole, ranged and asynchronously */
    assert_int_equal(s3_get_version(c, "v/a b", l.id[2], 0, 0, 0, &b, &e), 0);
    assert_int_equal(b.len, 3);
    assert_memory_equal(b.data, "one", 3);
    s3_buf_free(&b);
    assert_int_equal(s3_get_version(c, "v/a b", l.id[1], 2, 3, 0, &b, &e), 0);
    assert_memory_equal(b.data, "con", 3);
    s3_buf_free(&b);
    assert_int_equal(s3_get_version(c, "v/a b", "nosuch", 0, 0, 0, &b, &e), -ENOENT);
    uint64_t size = 0;
    char etag[S3_ETAG_MAX];
    time_t until = 1;
    assert_int_equal(s3_head_version(c, "v/a b", l.id[1], &size, etag, &until, &e), 0);
    assert_int_equal(size, 6);
    assert_int_equal(until, 0);
    assert_int_equal(s3_get_version(c, "v/c", NULL, 0, 0, 0, &b, &e), 0);  /* the latest */
    assert_memory_equal(b.data, "cc", 2);
    s3_buf_free(&b);
    assert_int_equal(s3_get_version(c, "v/c", "", 0, 0, 0, &b, &e), -EINVAL);
    s3_client_free(c);
}

struct got {
    int rc;
    size_t len;
};

static void range_cb(const s3_result *res, void *arg)
{
    struct got *g = arg;
    g->rc = res->rc;
    g->len = res->body_len;
}

static void test_async_version_and_versioning(void **state)
{
    s3_client *c = paged_client(0);
    struct vlist l = { 0 };
    struct got g = { 1, 0 };
    char dst[8];
    int vstate = -1;
    s3_error e;
    (void)state;

    assert_int_equal(s3_get_versioning(c, &vstate, &e), 0);
    assert_int_equal(vstate, 0);
    fill_versions(c);
    assert_int_equal(s3_get_versioning(c, &vstate, &e), 0);
    assert_int_equal(vstate, 1);
    assert_int_equal(s3_list_versions(c, NULL, vcb, &l, &e), 0);
    assert_int_equal(l.n, 4);
    assert_int_equal(s3_async_get_range_version(c, "v/a b", l.id[1], 1, 4, dst, sizeof(dst),
                                                range_cb, &g), 0);
    assert_int_equal(s3_async_drain(c), 0);
    assert_int_equal(g.rc, 0);
    assert_int_equal(g.len, 4);
    assert_memory_equal(dst, "econ", 4);
    s3_client_free(c);
}

/* A server whose truncated page never moves the markers: an error, not a loop. */
static void test_versions_stuck(void **state)
{
    s3_client *c = paged_client(1);
    struct vlist l = { 0 };
    s3_error e;
    (void)state;

    fill_versions(c);
    set_rules("GET * versions all stuck");
    assert_int_equal(s3_list_versions(c, NULL, vcb, &l, &e), -EINVAL);
    assert_non_null(strstr(e.message, "does not advance"));
    assert_true(l.n <= 2);
    s3_client_free(c);
}

/* Hostile pages: entries that cannot be decoded or have no id are skipped; not a
 * ListVersionsResult is malformed. */
static void test_versions_page_hostile(void **state)
{
    const char doc[] =
        "<ListVersionsResult><IsTruncated>true</IsTruncated>"
        "<EncodingType>url</EncodingType>"
        "<Version><Key>bad%zz</Key><VersionId>1</VersionId></Version>"
        "<Version><Key>nokey-id</Key></Version>"
        "<Version><Key></Key><VersionId>2</VersionId></Version>"
        "<DeleteMarker><Key>a%20b</Key><VersionId>m1</VersionId><IsLatest>true</IsLatest>"
        "<LastModified>2026-12-03T01:30:00.000Z</LastModified></DeleteMarker>"
        "<Version><Key>a+b</Key><VersionId>v1</VersionId><Size>12</Size>"
        "<ETag>\"abc\"</ETag></Version>"
        "<Version><Key>%00</Key><VersionId>3</VersionId></Version>"
        "</ListVersionsResult>";
    struct vlist l = { 0 };
    s3_list_skip skip;
    char *nk = NULL, *ni = NULL;
    int truncated = 0, cb_rc = 0;
    (void)state;

    assert_int_equal(s3_xml_versions_page(doc, strlen(doc), vcb, &l, &truncated, &nk, &ni,
                                          &cb_rc, &skip), 0);
    assert_int_equal(l.n, 2);
    assert_int_equal(skip.count, 4);
    assert_string_equal(skip.first, "bad%zz");
    assert_string_equal(l.key[0], "a b");
    assert_true(l.marker[0] && l.latest[0] && l.mtime[0] == 1796261400);
    assert_string_equal(l.key[1], "a b");
    assert_int_equal(l.size[1], 12);
    assert_true(truncated);
    assert_string_equal(nk, "a b");      /* the last reported entry, decoded */
    assert_string_equal(ni, "v1");
    free(nk);
    free(ni);
    assert_int_equal(s3_xml_versions_page("<ListBucketResult/>", 19, vcb, &l, &truncated,
                                          &nk, &ni, &cb_rc, NULL), -EINVAL);
    assert_null(nk);
    assert_int_equal(s3_xml_versions_page("junk", 4, vcb, &l, &truncated, &nk, &ni, &cb_rc,
                                          NULL), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_list_versions_pages, fake_reset),
        cmocka_unit_test_setup(test_async_version_and_versioning, fake_reset),
        cmocka_unit_test_setup(test_versions_stuck, fake_reset),
        cmocka_unit_test(test_versions_page_hostile),
    };
    return FAKE_MAIN("test_s3_versions", tests);   /* a failure, never a skip */
}
