/* test_s3_rgw.c - the s3 module against a real S3 (the sandbox RGW); run by the integration runner.
 *
 * Environment: S3_ENDPOINT, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, TEST_BUCKET (an
 * existing bucket), optionally S3_REGION. Prints "N passed, N failed"; exits 1 on failure,
 * 2 when the environment is incomplete.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "test_s3_rgw.h"

int passed, failed;

const char *endpoint, *access_key, *secret_key, *bucket, *region;
char run[32];

s3_client *client_for(const char *ep, const char *bkt, const char *secret, int retries,
                      int list_keys, int conns)
{
    s3_config cfg = {
        .endpoint = ep, .region = region, .bucket = bkt, .access_key = access_key,
        .secret_key = secret, .max_retries = retries, .list_max_keys = list_keys,
        .max_conns = conns,
    };
    s3_client *c = NULL;
    int rc = s3_client_new(&cfg, &c);
    if (rc) {
        fprintf(stderr, "s3_client_new: %s\n", s3_strerror(rc, NULL));
        exit(1);
    }
    return c;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void fill(unsigned char *p, size_t n, unsigned seed)
{
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        x = x * 1103515245u + 12345u;
        p[i] = (unsigned char)(x >> 16);
    }
}

void key_of(char *out, size_t n, const char *what)
{
    snprintf(out, n, "%s/%s", run, what);
}

/* ---- probes ---- */

static void test_probes(void)
{
    char missing[128];
    s3_error e;
    s3_client *c = client_for(endpoint, bucket, secret_key, 0, 0, 0);
    CHECK_RC(s3_bucket_check(c, &e), 0, &e);
    s3_client_free(c);

    snprintf(missing, sizeof(missing), "%s-missing-%d", bucket, (int)getpid());
    c = client_for(endpoint, missing, secret_key, 0, 0, 0);
    int rc = s3_bucket_check(c, &e);
    CHECK_RC(rc, -ENXIO, &e);
    s3_client_free(c);

    c = client_for(endpoint, bucket, "definitely-not-the-secret", 0, 0, 0);
    rc = s3_bucket_check(c, &e);
    CHECK_RC(rc, -EACCES, &e);
    CHECK(e.http_status == 403, "status %d", e.http_status);
    s3_client_free(c);

    c = client_for("http://127.0.0.1:1", bucket, secret_key, 2, 0, 0);
    int64_t t0 = now_ms();
    rc = s3_bucket_check(c, &e);
    int64_t dt = now_ms() - t0;
    CHECK_RC(rc, -EHOSTUNREACH, &e);
    CHECK(dt < 5000, "unreachable took %" PRId64 " ms", dt);
    s3_client_free(c);
}

/* ---- single objects ---- */

static void test_objects(s3_client *c)
{
    static unsigned char data[100 * 1024 + 7];
    char key[256], etag[S3_ETAG_MAX], etag2[S3_ETAG_MAX];
    uint64_t size = 0;
    s3_buf b;
    s3_error e;
    int rc;

    fill(data, sizeof(data), 1);
    key_of(key, sizeof(key), "obj/sp\xc3\xa9 cial+&=$,;@~.bin");
    rc = s3_put(c, key, data, sizeof(data), "application/octet-stream", etag, &e);
    CHECK_RC(rc, 0, &e);
    CHECK(strlen(etag) == 32, "etag '%s'", etag);

    rc = s3_get(c, key, 0, 0, 0, &b, &e);
    CHECK_RC(rc, 0, &e);
    CHECK(b.len == sizeof(data) && !memcmp(b.data, data, sizeof(data)), "whole GET differs");
    s3_buf_free(&b);

    rc = s3_get(c, key, 1000, 2000, 0, &b, &e);
    CHECK_RC(rc, 0, &e);
    CHECK(b.len == 2000 && !memcmp(b.data, data + 1000, 2000), "ranged GET differs");
    s3_buf_free(&b);

    rc = s3_get(c, key, 0, 0, 1000, &b, &e);
    CHECK_RC(rc, -EFBIG, &e);

    rc = s3_head(c, key, &size, etag2, &e);
    CHECK_RC(rc, 0, &e);
    CHECK(size == sizeof(data), "HEAD size %" PRIu64, size);
    CHECK(!strcmp(etag, etag2), "HEAD etag %s vs %s", etag2, etag);

    rc = s3_delete(c, key, &e);
    CHECK_RC(rc, 0, &e);
    rc = s3_head(c, key, &size, NULL, &e);
    CHECK_RC(rc, -ENOENT, &e);
    rc = s3_get(c, key, 0, 0, 0, &b, &e);
    CHECK_RC(rc, -ENOENT, &e);
    CHECK(!strcmp(e.code, "NoSuchKey"), "code '%s'", e.code);
    rc = s3_delete(c, key, &e);
    CHECK_RC(rc, 0, &e);

    key_of(key, sizeof(key), "obj/empty");
    CHECK_RC(s3_put(c, key, "", 0, NULL, NULL, &e), 0, &e);
    CHECK_RC(s3_head(c, key, &size, NULL, &e), 0, &e);
    CHECK(size == 0, "empty size %" PRIu64, size);
    CHECK_RC(s3_delete(c, key, &e), 0, &e);
}

/* ---- multipart ---- */

#define MIB (1024 * 1024)
#define NPARTS 3

struct part_ctx {
    int done;
    int rc;
    char etag[S3_ETAG_MAX];
    char why[256];
};

static int in_flight, max_in_flight;

static void part_cb(const s3_result *res, void *arg)
{
    struct part_ctx *p = arg;
    p->done = 1;
    p->rc = res->rc;
    in_flight--;
    if (res->etag)
        snprintf(p->etag, sizeof(p->etag), "%s", res->etag);
    if (res->rc)
        snprintf(p->why, sizeof(p->why), "%s", s3_strerror(res->rc, res->err));
}

struct range_ctx {
    int done;
    int rc;
    size_t len;
};

static void range_cb(const s3_result *res, void *arg)
{
    struct range_ctx *r = arg;
    r->done = 1;
    r->rc = res->rc;
    r->len = res->body_len;
}

static void test_multipart(void)
{
    s3_client *c = client_for(endpoint, bucket, secret_key, 0, 0, 4);
    static const size_t sizes[NPARTS] = { 5 * MIB + 1, 5 * MIB + 2, 5 * MIB + 12345 };
    size_t total = sizes[0] + sizes[1] + sizes[2];
    unsigned char *data = malloc(total);
    struct part_ctx ctx[NPARTS];
    s3_part parts[NPARTS];
    char key[256], etag[S3_ETAG_MAX];
    char *id = NULL;
    uint64_t size = 0;
    s3_buf b;
    s3_error e;
    int rc;

    if (!data) {
        CHECK(data != NULL, "out of memory");
        s3_client_free(c);
        return;
    }
    fill(data, total, 42);
    memset(ctx, 0, sizeof(ctx));
    key_of(key, sizeof(key), "mpu/object");
    rc = s3_mpu_create(c, key, &id, &e);
    CHECK_RC(rc, 0, &e);
    if (rc) {
        free(data);
        s3_client_free(c);
        return;
    }
    size_t off = 0;
    for (int i = 0; i < NPARTS; i++) {
        rc = s3_async_upload_part(c, key, id, i + 1, data + off, sizes[i], part_cb, &ctx[i]);
        CHECK_RC(rc, 0, NULL);
        off += sizes[i];
        in_flight++;
    }
    max_in_flight = s3_async_pending(c);
    CHECK(max_in_flight == NPARTS, "%d pending", max_in_flight);
    CHECK_RC(s3_async_drain(c), 0, NULL);
    for (int i = 0; i < NPARTS; i++) {
        CHECK(ctx[i].done && ctx[i].rc == 0 && ctx[i].etag[0], "part %d: %s", i + 1,
              ctx[i].why);
        parts[i].number = i + 1;
        snprintf(parts[i].etag, sizeof(parts[i].etag), "%s", ctx[i].etag);
    }
    rc = s3_mpu_complete(c, key, id, parts, NPARTS, etag, &e);
    CHECK_RC(rc, 0, &e);
    CHECK(strstr(etag, "-3") != NULL, "multipart etag '%s'", etag);
    free(id);
    id = NULL;

    CHECK_RC(s3_head(c, key, &size, NULL, &e), 0, &e);
    CHECK(size == total, "size %" PRIu64 " want %zu", size, total);
    rc = s3_get(c, key, 0, 0, 64 * MIB, &b, &e);
    CHECK_RC(rc, 0, &e);
    CHECK(b.len == total && !memcmp(b.data, data, total), "multipart object differs");
    s3_buf_free(&b);

    /* ranged GETs in flight together, across part boundaries */
    enum { NR = 8, RLEN = 700 * 1024 };
    static unsigned char dst[NR][RLEN];
    struct range_ctx rc_[NR];
    memset(rc_, 0, sizeof(rc_));
    for (int i = 0; i < NR; i++) {
        uint64_t roff = (uint64_t)i * (total - RLEN) / (NR - 1);
        CHECK_RC(s3_async_get_range(c, key, roff, RLEN, dst[i], RLEN, range_cb, &rc_[i]), 0,
                 NULL);
    }
    CHECK_RC(s3_async_drain(c), 0, NULL);
    for (int i = 0; i < NR; i++) {
        uint64_t roff = (uint64_t)i * (total - RLEN) / (NR - 1);
        CHECK(rc_[i].rc == 0 && rc_[i].len == RLEN && !memcmp(dst[i], data + roff, RLEN),
              "range %d: rc %d len %zu", i, rc_[i].rc, rc_[i].len);
    }
    CHECK_RC(s3_delete(c, key, &e), 0, &e);

    /* abort: the upload is gone afterwards */
    key_of(key, sizeof(key), "mpu/aborted");
    rc = s3_mpu_create(c, key, &id, &e);
    CHECK_RC(rc, 0, &e);
    if (!rc) {
        memset(ctx, 0, sizeof(ctx));
        CHECK_RC(s3_async_upload_part(c, key, id, 1, data, 5 * MIB, part_cb, &ctx[0]), 0,
                 NULL);
        CHECK_RC(s3_async_drain(c), 0, NULL);
        CHECK(ctx[0].rc == 0, "part: %s", ctx[0].why);
        CHECK_RC(s3_mpu_abort(c, key, id, &e), 0, &e);
        parts[0].number = 1;
        snprintf(parts[0].etag, sizeof(parts[0].etag), "%s", ctx[0].etag);
        /* S3 says NoSuchUpload; RGW 16.2 says 500 "This multipart completion is already
         * in progress" (retried for the retry time, then reported; a client with a count
         * bound keeps this short) */
        s3_client *few = client_for(endpoint, bucket, secret_key, 3, 0, 0);
        rc = s3_mpu_complete(few, key, id, parts, 1, NULL, &e);
        s3_client_free(few);
        CHECK(rc == -ENOENT || rc == -EIO, "complete after abort: %s", s3_strerror(rc, &e));
        rc = s3_mpu_abort(c, key, id, &e);
        CHECK_RC(rc, -ENOENT, &e);
        CHECK_RC(s3_head(c, key, &size, NULL, &e), -ENOENT, &e);
        free(id);
        id = NULL;
    }

    /* a wrong part ETag is refused by the server and reported */
    key_of(key, sizeof(key), "mpu/badpart");
    rc = s3_mpu_create(c, key, &id, &e);
    CHECK_RC(rc, 0, &e);
    if (!rc) {
        memset(ctx, 0, sizeof(ctx));
        CHECK_RC(s3_async_upload_part(c, key, id, 1, data, 1000, part_cb, &ctx[0]), 0, NULL);
        CHECK_RC(s3_async_drain(c), 0, NULL);
        parts[0].number = 1;
        snprintf(parts[0].etag, sizeof(parts[0].etag), "%s", "0123456789abcdef0123456789abcdef");
        rc = s3_mpu_complete(c, key, id, parts, 1, NULL, &e);
        CHECK(rc == -EINVAL || rc == -EIO, "bad part: %d %s", rc, s3_strerror(rc, &e));
        CHECK_RC(s3_mpu_abort(c, key, id, &e), 0, &e);
        free(id);
    }
    free(data);
    s3_client_free(c);
}

/* ---- multi-object delete ---- */

static void test_delete_many(s3_client *c)
{
    char k[4][256];
    const char *keys[4];
    size_t nfailed = 99;
    s3_error e;

    key_of(k[0], sizeof(k[0]), "dm/one");
    key_of(k[1], sizeof(k[1]), "dm/x&y<z>'q\"");
    key_of(k[2], sizeof(k[2]), "dm/sp\xc3\xa9 cial+=$,;@~");
    key_of(k[3], sizeof(k[3]), "dm/never-written");
    for (int i = 0; i < 4; i++)
        keys[i] = k[i];
    for (int i = 0; i < 3; i++)
        CHECK_RC(s3_put(c, k[i], "x", 1, NULL, NULL, &e), 0, &e);
    int rc = s3_delete_many(c, keys, 4, &nfailed, &e);
    CHECK_RC(rc, 0, &e);
    CHECK(nfailed == 0, "nfailed %zu", nfailed);
    for (int i = 0; i < 4; i++)
        CHECK_RC(s3_head(c, k[i], NULL, NULL, &e), -ENOENT, &e);
    /* all missing now: still a success */
    CHECK_RC(s3_delete_many(c, keys, 4, &nfailed, &e), 0, &e);
    CHECK_RC(s3_delete_many(c, keys, 0, &nfailed, &e), -EINVAL, &e);
}

/* ---- lifecycle ---- */

static void test_lifecycle(s3_client *c)
{
    char xml[1024], id[96];
    s3_buf b;
    s3_error e;
    int rc;

    snprintf(id, sizeof(id), "%s-abort-mpu", run);
    /* the prefix matches nothing this test writes: RGW's lifecycle "day" is short here */
    int n = snprintf(xml, sizeof(xml),
        "<LifecycleConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
        "<Rule><ID>%s</ID><Filter><Prefix>%s/lc-nothing/</Prefix></Filter>"
        "<Status>Enabled</Status><AbortIncompleteMultipartUpload>"
        "<DaysAfterInitiation>1</DaysAfterInitiation></AbortIncompleteMultipartUpload>"
        "</Rule></LifecycleConfiguration>", id, run);

    rc = s3_get_lifecycle(c, &b, &e);
    CHECK_RC(rc, -ENOENT, &e);
    CHECK(b.len == 0 && !b.data, "body left after a failed GET");
    printf("lifecycle: none -> HTTP %d %s\n", e.http_status, e.code);

    CHECK_RC(s3_put_lifecycle(c, xml, (size_t)n, &e), 0, &e);
    rc = s3_get_lifecycle(c, &b, &e);
    CHECK_RC(rc, 0, &e);
    if (!rc) {
        char *doc = strndup((const char *)b.data, b.len);
        CHECK(doc && strstr(doc, id), "rule %s not in %s", id, doc ? doc : "(no memory)");
        CHECK(doc && strstr(doc, "AbortIncompleteMultipartUpload"), "no abort rule: %s",
              doc ? doc : "(no memory)");
        free(doc);
    }
    s3_buf_free(&b);

    rc = s3_put_lifecycle(c, "<LifecycleConfiguration><Rule>", 30, &e);
    CHECK(rc == -EINVAL || rc == -EIO, "malformed lifecycle: %s", s3_strerror(rc, &e));

    CHECK_RC(s3_delete_lifecycle(c, &e), 0, &e);
    CHECK_RC(s3_get_lifecycle(c, &b, &e), -ENOENT, &e);
    CHECK_RC(s3_delete_lifecycle(c, &e), 0, &e);   /* none is success */

    char missing[128];
    snprintf(missing, sizeof(missing), "%s-missing-%d", bucket, (int)getpid());
    s3_client *m = client_for(endpoint, missing, secret_key, 0, 0, 0);
    CHECK_RC(s3_get_lifecycle(m, &b, &e), -ENXIO, &e);
    s3_client_free(m);
}


int main(void)
{
    endpoint = getenv("S3_ENDPOINT");
    access_key = getenv("AWS_ACCESS_KEY_ID");
    secret_key = getenv("AWS_SECRET_ACCESS_KEY");
    bucket = getenv("TEST_BUCKET");
    region = getenv("S3_REGION");
    if (!endpoint || !access_key || !secret_key || !bucket) {
        fprintf(stderr, "test_s3_rgw: set S3_ENDPOINT, AWS_ACCESS_KEY_ID, "
                        "AWS_SECRET_ACCESS_KEY and TEST_BUCKET\n");
        return 2;
    }
    snprintf(run, sizeof(run), "test_s3_rgw-%d-%ld", (int)getpid(), (long)time(NULL));

    test_probes();
    s3_client *c = client_for(endpoint, bucket, secret_key, 0, 0, 0);
    test_objects(c);
    test_delete_many(c);
    test_lifecycle(c);
    s3_client_free(c);
    test_list_uploads();
    test_list();
    test_versions();
    test_multipart();

    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
