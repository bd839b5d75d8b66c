/* test_s3_retry.c - the s3 engine against tests/fakes3/fakes3.py: retries, drops, deadlines. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <curl/curl.h>

#include "s3/s3.h"
#include "s3/s3_internal.h"

#include "tests/unit/fakes3_harness.h"

/* ---- clients ---- */

static time_t fake_now = 1700000000;

/* Each signature gets a later second, so that a retry's fresh signing is visible. */
static time_t ticking_clock(void *arg)
{
    (void)arg;
    return fake_now++;
}

static s3_client *client_with(const char *ep, const char *secret, int retries, int deadline_ms,
                              int conns)
{
    s3_config cfg = {
        .endpoint = ep, .bucket = BUCKET, .access_key = AK, .secret_key = secret,
        .max_retries = retries, .deadline_ms = deadline_ms, .max_conns = conns,
    };
    s3_test_hooks h = {
        .wallclock = ticking_clock, .backoff_base_ms = 5, .backoff_cap_ms = 40,
    };
    s3_client *c = NULL;
    assert_int_equal(s3_client_new(&cfg, &c), 0);
    s3_test_set_hooks(c, &h);
    return c;
}

static s3_client *client(void)
{
    return client_with(endpoint, SK, 0, 0, 0);
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

static int setup(void **state)
{
    (void)state;
    ctl("POST", "/_ctl/reset", "", NULL);
    return 0;
}

/* ---- scenarios ---- */

static void test_roundtrip(void **state)
{
    s3_client *c = client();
    unsigned char data[3000];
    char etag[S3_ETAG_MAX], etag2[S3_ETAG_MAX];
    uint64_t size = 0;
    s3_buf b;
    s3_error e;
    struct logrec log[32];
    (void)state;

    fill(data, sizeof(data), 1);
    assert_int_equal(s3_bucket_check(c, &e), 0);
    assert_int_equal(s3_put(c, "dir/a b+c$.bin", data, sizeof(data), "application/octet-stream",
                            etag, &e), 0);
    assert_int_equal(strlen(etag), 32);
    assert_int_equal(s3_head(c, "dir/a b+c$.bin", &size, etag2, &e), 0);
    assert_int_equal(size, sizeof(data));
    assert_string_equal(etag, etag2);
    assert_int_equal(s3_get(c, "dir/a b+c$.bin", 0, 0, 0, &b, &e), 0);
    assert_int_equal(b.len, sizeof(data));
    assert_memory_equal(b.data, data, sizeof(data));
    s3_buf_free(&b);
    assert_int_equal(s3_get(c, "dir/a b+c$.bin", 100, 50, 0, &b, &e), 0);
    assert_int_equal(b.len, 50);
    assert_memory_equal(b.data, data + 100, 50);
    s3_buf_free(&b);
    assert_int_equal(s3_get(c, "dir/a b+c$.bin", 2990, 0, 0, &b, &e), 0);
    assert_int_equal(b.len, 10);
    s3_buf_free(&b);
    assert_int_equal(s3_get(c, "dir/a b+c$.bin", 0, 0, 100, &b, &e), -EFBIG);
    assert_null(b.data);
    assert_int_equal(s3_put(c, "empty", "", 0, NULL, NULL, &e), 0);
    assert_int_equal(s3_head(c, "empty", &size, NULL, &e), 0);
    assert_int_equal(size, 0);
    assert_int_equal(s3_delete(c, "dir/a b+c$.bin", &e), 0);
    assert_int_equal(s3_delete(c, "dir/a b+c$.bin", &e), 0);    /* missing is success */
    assert_int_equal(s3_head(c, "dir/a b+c$.bin", &size, NULL, &e), -ENOENT);
    assert_int_equal(e.http_status, 404);
    assert_int_equal(s3_get(c, "dir/a b+c$.bin", 0, 0, 0, &b, &e), -ENOENT);
    assert_string_equal(e.code, "NoSuchKey");

    /* every request was signed correctly and none was retried; one kept-alive connection
     * served all until the -EFBIG answer (7th request) was cut off */
    int n = get_log(log, 32);
    assert_int_equal(n, 13);
    for (int i = 0; i < n; i++)
        assert_string_equal(log[i].auth, "ok");
    for (int i = 0; i < 7; i++)
        assert_int_equal(log[i].port, log[0].port);
    for (int i = 8; i < n; i++)
        assert_int_equal(log[i].port, log[7].port);
    s3_client_free(c);
}

static void test_500_twice_then_200(void **state)
{
    s3_client *c = client();
    struct logrec log[16];
    s3_error e;
    (void)state;

    set_rules("PUT /bkt/k500 * 1-2 status 500 InternalError\n");
    assert_int_equal(s3_put(c, "k500", "hello", 5, NULL, NULL, &e), 0);
    int n = get_log(log, 16);
    assert_int_equal(n, 3);
    assert_int_equal(log[0].status, 500);
    assert_int_equal(log[1].status, 500);
    assert_int_equal(log[2].status, 200);
    for (int i = 0; i < n; i++) {
        assert_string_equal(log[i].auth, "ok");
        for (int j = 0; j < i; j++) {
            /* each attempt signed afresh: a new x-amz-date and a new signature */
            assert_string_not_equal(log[i].date, log[j].date);
            assert_string_not_equal(log[i].sig, log[j].sig);
        }
    }
    s3_client_free(c);
}

static void test_retries_exhausted(void **state)
{
    s3_client *c = client_with(endpoint, SK, 2, 0, 0);
    struct logrec log[16];
    s3_buf b;
    s3_error e;
    (void)state;

    set_rules("GET * * all status 503 SlowDown\n");
    assert_int_equal(s3_get(c, "x", 0, 0, 0, &b, &e), -EIO);
    assert_int_equal(e.http_status, 503);
    assert_string_equal(e.code, "SlowDown");
    assert_int_equal(get_log(log, 16), 3);
    assert_non_null(strstr(s3_strerror(-EIO, &e), "SlowDown"));
    s3_client_free(c);
}

static void test_final_4xx(void **state)
{
    s3_client *c = client();
    struct logrec log[16];
    s3_error e;
    (void)state;

    set_rules("PUT /bkt/inval * all status 400 InvalidArgument\n"
              "PUT /bkt/denied * all status 403 AccessDenied\n"
              "PUT /bkt/conflict * all status 409 OperationAborted\n");
    assert_int_equal(s3_put(c, "inval", "x", 1, NULL, NULL, &e), -EINVAL);
    assert_int_equal(s3_put(c, "denied", "x", 1, NULL, NULL, &e), -EACCES);
    assert_int_equal(s3_put(c, "conflict", "x", 1, NULL, NULL, &e), -EIO);
    assert_int_equal(e.http_status, 409);
    assert_int_equal(get_log(log, 16), 3);    /* no retries */
    s3_client_free(c);
}

static void test_auth_and_bucket(void **state)
{
    s3_client *bad = client_with(endpoint, "not-the-secret", 0, 0, 0);
    s3_config cfg = {
        .endpoint = endpoint, .bucket = "nosuchbucket", .access_key = AK, .secret_key = SK,
    };
    s3_client *nob = NULL;
    struct logrec log[16];
    s3_error e;
    (void)state;

    assert_int_equal(s3_bucket_check(bad, &e), -EACCES);
    assert_string_equal(e.code, "SignatureDoesNotMatch");
    assert_int_equal(e.http_status, 403);
    assert_int_equal(s3_client_new(&cfg, &nob), 0);
    assert_int_equal(s3_bucket_check(nob, &e), -ENXIO);
    assert_string_equal(e.code, "NoSuchBucket");
    assert_int_equal(get_log(log, 16), 2);
    s3_client_free(bad);
    s3_client_free(nob);
}

struct part_ctx {
    int done;
    int rc;
    char etag[S3_ETAG_MAX];
    int order;
};
static int done_counter;

static void part_cb(const s3_result *res, void *arg)
{
    struct part_ctx *p = arg;
    p->done = 1;
    p->rc = res->rc;
    p->order = ++done_counter;
    if (res->etag)
        s3_strlcpy(p->etag, res->etag, sizeof(p->etag));
}

#define NPARTS 5
#define PARTSZ (64 * 1024)

static void test_mpu_part_503(void **state)
{
    s3_client *c = client_with(endpoint, SK, 0, 0, 4);
    static unsigned char data[NPARTS * PARTSZ];
    struct part_ctx ctx[NPARTS];
    s3_part parts[NPARTS];
    struct logrec log[64];
    char *id = NULL;
    char etag[S3_ETAG_MAX];
    s3_buf b;
    s3_error e;
    (void)state;

    fill(data, sizeof(data), 7);
    memset(ctx, 0, sizeof(ctx));
    set_rules("PUT * partNumber=3& 1 status 503 SlowDown\n");
    assert_int_equal(s3_mpu_create(c, "big/object", &id, &e), 0);
    assert_non_null(id);
    for (int i = 0; i < NPARTS; i++)
        assert_int_equal(s3_async_upload_part(c, "big/object", id, i + 1, data + i * PARTSZ,
                                              PARTSZ, part_cb, &ctx[i]), 0);
    assert_int_equal(s3_async_pending(c), NPARTS);
    assert_int_equal(s3_async_drain(c), 0);
    assert_int_equal(s3_async_pending(c), 0);
    for (int i = 0; i < NPARTS; i++) {
        assert_true(ctx[i].done);
        assert_int_equal(ctx[i].rc, 0);
        parts[i].number = i + 1;
        s3_strlcpy(parts[i].etag, ctx[i].etag, sizeof(parts[i].etag));
    }
    assert_int_equal(s3_mpu_complete(c, "big/object", id, parts, NPARTS, etag, &e), 0);
    assert_non_null(strstr(etag, "-5"));
    assert_int_equal(s3_get(c, "big/object", 0, 0, 0, &b, &e), 0);
    assert_int_equal(b.len, sizeof(data));
    assert_memory_equal(b.data, data, sizeof(data));
    s3_buf_free(&b);

    int n = get_log(log, 64);
    assert_int_equal(count_log(log, n, "PUT", "partNumber=3&"), 2);
    assert_int_equal(count_log(log, n, "PUT", "partNumber="), NPARTS + 1);
    for (int i = 0; i < n; i++)
        assert_string_equal(log[i].auth, "ok");
    free(id);
    s3_client_free(c);
}

struct get_ctx {
    int done;
    int rc;
    size_t len;
    int order;
    int64_t at;
};

static void get_cb(const s3_result *res, void *arg)
{
    struct get_ctx *g = arg;
    g->done = 1;
    g->rc = res->rc;
    g->len = res->body_len;
    g->order = ++done_counter;
    g->at = now_ms();
}

static void test_drop_mid_body(void **state)
{
    s3_client *c = client();
    static unsigned char data[256 * 1024];
    static unsigned char dst[100000];
    struct get_ctx g = { 0 };
    struct logrec log[16];
    s3_buf b;
    s3_error e;
    (void)state;

    fill(data, sizeof(data), 3);
    assert_int_equal(s3_put(c, "dropme", data, sizeof(data), NULL, NULL, &e), 0);
    set_rules("GET /bkt/dropme * 1 drop\n");
    assert_int_equal(s3_async_get_range(c, "dropme", 1000, sizeof(dst), dst, sizeof(dst),
                                        get_cb, &g), 0);
    assert_int_equal(s3_async_drain(c), 0);
    assert_int_equal(g.rc, 0);
    assert_int_equal(g.len, sizeof(dst));
    assert_memory_equal(dst, data + 1000, sizeof(dst));
    int n = get_log(log, 16);
    assert_int_equal(n, 2);
    assert_string_equal(log[0].action, "drop");
    assert_string_not_equal(log[0].sig, log[1].sig);

    /* the same for a whole-object GET into memory */
    set_rules("GET /bkt/dropme * 1 drop\n");
    assert_int_equal(s3_get(c, "dropme", 0, 0, 0, &b, &e), 0);
    assert_int_equal(b.len, sizeof(data));
    assert_memory_equal(b.data, data, sizeof(data));
    s3_buf_free(&b);
    assert_int_equal(get_log(log, 16), 2);
    s3_client_free(c);
}

static void test_no_answer_then_ok(void **state)
{
    s3_client *c = client();
    struct logrec log[16];
    s3_error e;
    (void)state;

    set_rules("PUT /bkt/closeme * 1 close\nPUT /bkt/throttled * 1 status 429 TooManyRequests\n");
    assert_int_equal(s3_put(c, "closeme", "abc", 3, NULL, NULL, &e), 0);
    assert_int_equal(s3_put(c, "throttled", "abc", 3, NULL, NULL, &e), 0);
    assert_int_equal(get_log(log, 16), 4);
    s3_client_free(c);
}

static void test_short_body_is_final(void **state)
{
    s3_client *c = client();
    static unsigned char data[10000];
    static unsigned char dst[4000];
    struct get_ctx g = { 0 };
    struct logrec log[16];
    s3_error e;
    (void)state;

    fill(data, sizeof(data), 5);
    assert_int_equal(s3_put(c, "shorty", data, sizeof(data), NULL, NULL, &e), 0);
    set_rules("GET /bkt/shorty * all short\n");
    assert_int_equal(s3_async_get_range(c, "shorty", 0, sizeof(dst), dst, sizeof(dst),
                                        get_cb, &g), 0);
    assert_int_equal(s3_async_drain(c), 0);
    assert_int_equal(g.rc, -EIO);
    assert_int_equal(get_log(log, 16), 1);

    /* a range past the end of the object is not retried either */
    set_rules("");
    memset(&g, 0, sizeof(g));
    assert_int_equal(s3_async_get_range(c, "shorty", 8000, sizeof(dst), dst, sizeof(dst),
                                        get_cb, &g), 0);
    assert_int_equal(s3_async_drain(c), 0);
    assert_int_equal(g.rc, -EIO);
    assert_int_equal(g.len, 2000);
    assert_int_equal(get_log(log, 16), 1);
    s3_client_free(c);
}

static void upload_two_parts(s3_client *c, const char *key, char **id, s3_part parts[2])
{
    static unsigned char data[2][1000];
    struct part_ctx ctx[2];
    s3_error e;

    memset(ctx, 0, sizeof(ctx));
    assert_int_equal(s3_mpu_create(c, key, id, &e), 0);
    for (int i = 0; i < 2; i++) {
        fill(data[i], sizeof(data[i]), 11 + (unsigned)i);
        assert_int_equal(s3_async_upload_part(c, key, *id, i + 1, data[i], sizeof(data[i]),
                                              part_cb, &ctx[i]), 0);
    }
    assert_int_equal(s3_async_drain(c), 0);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(ctx[i].rc, 0);
        parts[i].number = i + 1;
        s3_strlcpy(parts[i].etag, ctx[i].etag, sizeof(parts[i].etag));
    }
}

static void test_complete_error_in_200(void **state)
{
    s3_client *c = client();
    struct logrec log[16];
    s3_part parts[2];
    char *id = NULL;
    char etag[S3_ETAG_MAX];
    uint64_t size = 0;
    s3_error e;
    (void)state;

    /* a retryable <Error> inside a 200: retried, then completes */
    upload_two_parts(c, "cmp1", &id, parts);
    set_rules("POST /bkt/cmp1 uploadId 1 error200 InternalError\n");
    assert_int_equal(s3_mpu_complete(c, "cmp1", id, parts, 2, etag, &e), 0);
    assert_non_null(strstr(etag, "-2"));
    int n = get_log(log, 16);
    assert_int_equal(count_log(log, n, "POST", "uploadId"), 2);
    assert_int_equal(s3_head(c, "cmp1", &size, NULL, &e), 0);
    assert_int_equal(size, 2000);
    free(id);

    /* a final one is reported with its code and status 200 */
    upload_two_parts(c, "cmp2", &id, parts);
    set_rules("POST /bkt/cmp2 uploadId all error200 InvalidPart\n");
    assert_int_equal(s3_mpu_complete(c, "cmp2", id, parts, 2, etag, &e), -EINVAL);
    assert_int_equal(e.http_status, 200);
    assert_string_equal(e.code, "InvalidPart");
    n = get_log(log, 16);
    assert_int_equal(count_log(log, n, "POST", "uploadId"), 1);
    set_rules("");
    assert_int_equal(s3_mpu_abort(c, "cmp2", id, &e), 0);
    assert_int_equal(s3_mpu_abort(c, "cmp2", id, &e), -ENOENT);
    assert_string_equal(e.code, "NoSuchUpload");
    free(id);
    s3_client_free(c);
}

static void test_complete_answer_lost(void **state)
{
    s3_client *c = client();
    s3_part parts[2];
    char *id = NULL;
    char etag[S3_ETAG_MAX], head_etag[S3_ETAG_MAX];
    s3_error e;
    (void)state;

    /* the completion lands but its answer is cut: the retry meets NoSuchUpload, and the
     * object holding exactly these parts (its ETag is theirs) counts as completed */
    upload_two_parts(c, "lost", &id, parts);
    set_rules("POST /bkt/lost uploadId 1 drop\n");
    assert_int_equal(s3_mpu_complete(c, "lost", id, parts, 2, etag, &e), 0);
    assert_int_equal(s3_head(c, "lost", NULL, head_etag, &e), 0);
    assert_string_equal(etag, head_etag);
    assert_non_null(strstr(etag, "-2"));
    free(id);

    /* an object under the key that is not these parts is not taken for the completion */
    upload_two_parts(c, "other", &id, parts);
    set_rules("");
    static const char junk[] = "not the parts";
    assert_int_equal(s3_put(c, "other", junk, sizeof(junk), NULL, NULL, &e), 0);
    set_rules("POST /bkt/other uploadId all status 404 NoSuchUpload\n");
    assert_true(s3_mpu_complete(c, "other", id, parts, 2, etag, &e) < 0);
    set_rules("");
    s3_mpu_abort(c, "other", id, &e);
    free(id);
    s3_client_free(c);
}

static void test_missing_etags(void **state)
{
    s3_client *c = client();
    static unsigned char data[1000];
    struct part_ctx ctx = { 0 };
    struct logrec log[16];
    s3_part parts[2];
    char *id = NULL;
    char etag[S3_ETAG_MAX], head_etag[S3_ETAG_MAX];
    s3_error e;
    (void)state;

    /* CompleteMultipartUploadResult with an empty <ETag>: the ETag comes from a HEAD */
    upload_two_parts(c, "noetag", &id, parts);
    set_rules("POST /bkt/noetag uploadId 1 noetag\n");
    assert_int_equal(s3_mpu_complete(c, "noetag", id, parts, 2, etag, &e), 0);
    assert_non_null(strstr(etag, "-2"));
    assert_int_equal(s3_head(c, "noetag", NULL, head_etag, &e), 0);
    assert_string_equal(etag, head_etag);
    int n = get_log(log, 16);
    assert_int_equal(count_log(log, n, "HEAD", NULL), 2);
    free(id);

    /* a part answer without ETag cannot be completed later: an error now */
    assert_int_equal(s3_mpu_create(c, "noetag2", &id, &e), 0);
    set_rules("PUT /bkt/noetag2 partNumber 1 noetag\n");
    fill(data, sizeof(data), 1);
    assert_int_equal(s3_async_upload_part(c, "noetag2", id, 1, data, sizeof(data), part_cb,
                                          &ctx), 0);
    assert_int_equal(s3_async_drain(c), 0);
    assert_int_equal(ctx.rc, -EIO);
    assert_int_equal(ctx.etag[0], '\0');
    assert_int_equal(s3_mpu_abort(c, "noetag2", id, &e), 0);
    free(id);
    s3_client_free(c);
}

static void test_retry_does_not_block(void **state)
{
    /* one connection: while A waits for its retry timer, B must get the connection */
    s3_client *c = client_with(endpoint, SK, 0, 0, 1);
    s3_test_hooks h = {
        .wallclock = ticking_clock, .backoff_base_ms = 400, .backoff_cap_ms = 400,
        .backoff_min_ms = 400,
    };
    static unsigned char a[100], b[100];
    struct get_ctx ga = { 0 }, gb = { 0 };
    s3_error e;
    (void)state;

    s3_test_set_hooks(c, &h);
    assert_int_equal(s3_put(c, "objA", "A", 1, NULL, NULL, &e), 0);
    assert_int_equal(s3_put(c, "objB", "B", 1, NULL, NULL, &e), 0);
    set_rules("GET /bkt/objA * 1 status 503 SlowDown\n");
    done_counter = 0;
    int64_t t0 = now_ms();
    assert_int_equal(s3_async_get_range(c, "objA", 0, 1, a, sizeof(a), get_cb, &ga), 0);
    assert_int_equal(s3_async_get_range(c, "objB", 0, 1, b, sizeof(b), get_cb, &gb), 0);
    while (s3_async_pending(c) > 0)
        assert_true(s3_async_run(c, 50) >= 0);
    assert_int_equal(ga.rc, 0);
    assert_int_equal(gb.rc, 0);
    assert_int_equal(gb.order, 1);
    assert_int_equal(ga.order, 2);
    assert_true(gb.at - t0 < 300);
    assert_true(ga.at - t0 >= 400);
    assert_int_equal(a[0], 'A');
    assert_int_equal(b[0], 'B');
    s3_client_free(c);
}

static void test_deadline(void **state)
{
    s3_client *c = client_with(endpoint, SK, 0, 700, 0);
    s3_buf b;
    s3_error e;
    (void)state;

    set_rules("GET /bkt/slow * all hang 3000\n");
    int64_t t0 = now_ms();
    assert_int_equal(s3_get(c, "slow", 0, 0, 0, &b, &e), -ETIMEDOUT);
    int64_t dt = now_ms() - t0;
    assert_true(dt >= 650 && dt < 2000);
    s3_client_free(c);
}

static void test_unreachable(void **state)
{
    s3_client *c = client_with("http://127.0.0.1:1", SK, 2, 0, 0);
    s3_error e;
    (void)state;

    int64_t t0 = now_ms();
    assert_int_equal(s3_bucket_check(c, &e), -EHOSTUNREACH);
    assert_true(now_ms() - t0 < 3000);
    assert_int_equal(e.http_status, 0);
    assert_true(e.message[0] != '\0');
    s3_client_free(c);
}

static void *cancel_later(void *arg)
{
    struct timespec ts = { 0, 200 * 1000 * 1000 };
    nanosleep(&ts, NULL);
    s3_client_cancel(arg);
    return NULL;
}

static void test_cancel(void **state)
{
    s3_client *c = client();
    static unsigned char d1[10], d2[10];
    struct get_ctx g1 = { 0 }, g2 = { 0 };
    pthread_t th;
    s3_error e;
    (void)state;

    assert_int_equal(s3_put(c, "hang1", "0123456789", 10, NULL, NULL, &e), 0);
    set_rules("GET /bkt/hang1 * all hang 5000\n");
    assert_int_equal(s3_async_get_range(c, "hang1", 0, 10, d1, 10, get_cb, &g1), 0);
    assert_int_equal(s3_async_get_range(c, "hang1", 0, 10, d2, 10, get_cb, &g2), 0);
    int64_t t0 = now_ms();
    assert_int_equal(pthread_create(&th, NULL, cancel_later, c), 0);
    assert_int_equal(s3_async_drain(c), 0);
    pthread_join(th, NULL);
    assert_true(now_ms() - t0 < 2000);
    assert_int_equal(g1.rc, -ECANCELED);
    assert_int_equal(g2.rc, -ECANCELED);
    /* sticky until reset */
    assert_int_equal(s3_put(c, "after", "x", 1, NULL, NULL, &e), -ECANCELED);
    s3_client_reset_cancel(c);
    set_rules("");
    assert_int_equal(s3_put(c, "after", "x", 1, NULL, NULL, &e), 0);
    s3_client_free(c);
}

struct listing {
    int n;
    char keys[32][64];
    int prefix[32];
    int stop_at;
};

static int list_cb(const s3_object_info *o, void *arg)
{
    struct listing *l = arg;
    if (l->n >= 32)
        return -1;
    s3_strlcpy(l->keys[l->n], o->key, 64);
    l->prefix[l->n] = o->is_prefix;
    l->n++;
    return l->stop_at && l->n == l->stop_at ? 77 : 0;
}

static void test_list_pages(void **state)
{
    s3_config cfg = {
        .endpoint = endpoint, .bucket = BUCKET, .access_key = AK, .secret_key = SK,
        .list_max_keys = 3,
    };
    s3_client *c = NULL;
    struct listing l;
    struct logrec log[64];
    s3_error e;
    char key[32];
    (void)state;

    assert_int_equal(s3_client_new(&cfg, &c), 0);
    for (int i = 0; i < 10; i++) {
        snprintf(key, sizeof(key), "list/k%02d", i);
        assert_int_equal(s3_put(c, key, key, strlen(key), NULL, NULL, &e), 0);
    }
    assert_int_equal(s3_put(c, "list/sub/x", "x", 1, NULL, NULL, &e), 0);
    assert_int_equal(s3_put(c, "list/sub/y", "y", 1, NULL, NULL, &e), 0);
    assert_int_equal(s3_put(c, "other", "o", 1, NULL, NULL, &e), 0);
    set_rules("");

    memset(&l, 0, sizeof(l));
    assert_int_equal(s3_list(c, "list/", "/", list_cb, &l, &e), 0);
    assert_int_equal(l.n, 11);
    assert_string_equal(l.keys[0], "list/k00");
    assert_string_equal(l.keys[9], "list/k09");
    assert_string_equal(l.keys[10], "list/sub/");
    assert_int_equal(l.prefix[10], 1);
    int n = get_log(log, 64);
    assert_int_equal(count_log(log, n, "GET", "list-type=2"), 4);     /* 3+3+3+2 */
    assert_int_equal(count_log(log, n, "GET", "continuation-token="), 3);

    memset(&l, 0, sizeof(l));
    assert_int_equal(s3_list(c, "list/", NULL, list_cb, &l, &e), 0);
    assert_int_equal(l.n, 12);
    assert_string_equal(l.keys[11], "list/sub/y");

    memset(&l, 0, sizeof(l));
    l.stop_at = 5;
    assert_int_equal(s3_list(c, NULL, NULL, list_cb, &l, &e), 77);
    assert_int_equal(l.n, 5);

    memset(&l, 0, sizeof(l));
    assert_int_equal(s3_list(c, "nothing/", NULL, list_cb, &l, &e), 0);
    assert_int_equal(l.n, 0);
    s3_client_free(c);
}

/* ---- bucket subresources: multi-object delete, lifecycle, upload listing ---- */

static void test_delete_many(void **state)
{
    s3_client *c = client();
    const char *keys[] = { "dm/a&b", "dm/c<d>'e\"", "dm/missing" };
    const char *some_locked[] = { "dm/x", "dm/locked1", "dm/y", "dm/locked2" };
    struct logrec log[16];
    size_t nfailed = 99;
    s3_error e;
    (void)state;

    assert_int_equal(s3_put(c, keys[0], "a", 1, NULL, NULL, &e), 0);
    assert_int_equal(s3_put(c, keys[1], "b", 1, NULL, NULL, &e), 0);
    /* the fake checks Content-MD5 and the signature; a 503 and an <Error> in a 200 retry */
    set_rules("POST /bkt delete 1 status 503 SlowDown\n"
              "POST /bkt delete 2 error200 InternalError\n");
    assert_int_equal(s3_delete_many(c, keys, 3, &nfailed, &e), 0);
    assert_int_equal(nfailed, 0);
    int n = get_log(log, 16);
    assert_int_equal(count_log(log, n, "POST", "delete"), 3);
    assert_int_equal(s3_head(c, keys[0], NULL, NULL, &e), -ENOENT);
    assert_int_equal(s3_head(c, keys[1], NULL, NULL, &e), -ENOENT);

    /* keys the server refuses: counted, the first one described */
    set_rules("");
    assert_int_equal(s3_put(c, "dm/y", "y", 1, NULL, NULL, &e), 0);
    assert_int_equal(s3_delete_many(c, some_locked, 4, &nfailed, &e), -EIO);
    assert_int_equal(nfailed, 2);
    assert_int_equal(e.http_status, 200);
    assert_string_equal(e.code, "AccessDenied");
    assert_string_equal(e.message, "dm/locked1: AccessDenied Access Denied");
    assert_int_equal(s3_head(c, "dm/y", NULL, NULL, &e), -ENOENT);

    /* a refused request: nothing known deleted */
    set_rules("POST /bkt delete all status 403 AccessDenied\n");
    assert_int_equal(s3_delete_many(c, keys, 3, &nfailed, &e), -EACCES);
    assert_int_equal(nfailed, 3);
    s3_client_free(c);
}

static void test_lifecycle(void **state)
{
    s3_client *c = client();
    const char doc[] = "<LifecycleConfiguration><Rule><ID>r1</ID><Filter><Prefix>p/</Prefix>"
                       "</Filter><Status>Enabled</Status><AbortIncompleteMultipartUpload>"
                       "<DaysAfterInitiation>1</DaysAfterInitiation>"
                       "</AbortIncompleteMultipartUpload></Rule></LifecycleConfiguration>";
    s3_buf b;
    s3_error e;
    (void)state;

    assert_int_equal(s3_get_lifecycle(c, &b, &e), -ENOENT);
    assert_string_equal(e.code, "NoSuchLifecycleConfiguration");
    assert_null(b.data);
    assert_int_equal(s3_put_lifecycle(c, doc, strlen(doc), &e), 0);   /* MD5 checked */
    assert_int_equal(s3_get_lifecycle(c, &b, &e), 0);
    assert_int_equal(b.len, strlen(doc));
    assert_memory_equal(b.data, doc, b.len);
    s3_buf_free(&b);
    assert_int_equal(s3_put_lifecycle(c, "<Life", 5, &e), -EINVAL);
    assert_string_equal(e.code, "MalformedXML");
    assert_int_equal(s3_delete_lifecycle(c, &e), 0);
    assert_int_equal(s3_get_lifecycle(c, &b, &e), -ENOENT);
    assert_int_equal(s3_delete_lifecycle(c, &e), 0);
    s3_client_free(c);

    s3_config cfg = { .endpoint = endpoint, .bucket = "nobkt", .access_key = AK,
                      .secret_key = SK };
    assert_int_equal(s3_client_new(&cfg, &c), 0);
    assert_int_equal(s3_get_lifecycle(c, &b, &e), -ENXIO);
    s3_client_free(c);
}

struct upload_seen {
    int n;
    char keys[16][32];
    char ids[16][40];
    int stop_at;
};

static int upload_cb(const s3_upload_info *u, void *arg)
{
    struct upload_seen *s = arg;
    if (s->n >= 16)
        return -1;
    s3_strlcpy(s->keys[s->n], u->key, sizeof(s->keys[0]));
    s3_strlcpy(s->ids[s->n], u->upload_id, sizeof(s->ids[0]));
    s->n++;
    return s->stop_at && s->n == s->stop_at ? 9 : 0;
}

static void test_list_uploads_pages(void **state)
{
    s3_config cfg = {
        .endpoint = endpoint, .bucket = BUCKET, .access_key = AK, .secret_key = SK,
        .list_max_keys = 2,
    };
    static const char *const keys[] = { "up/a", "up/b & c", "up/a", "up/d", "up/a", "x/e" };
    char *ids[6] = { NULL };
    struct upload_seen s;
    struct logrec log[32];
    s3_client *c = NULL;
    s3_error e;
    (void)state;

    assert_int_equal(s3_client_new(&cfg, &c), 0);
    for (int i = 0; i < 6; i++)
        assert_int_equal(s3_mpu_create(c, keys[i], &ids[i], &e), 0);
    set_rules("");
    memset(&s, 0, sizeof(s));
    assert_int_equal(s3_list_uploads(c, "up/", upload_cb, &s, &e), 0);
    assert_int_equal(s.n, 5);      /* three of up/a across pages (upload-id-marker) */
    for (int i = 0; i < 5; i++) {
        int found = 0;
        for (int j = 0; j < s.n; j++)
            found += !strcmp(s.keys[j], keys[i]) && !strcmp(s.ids[j], ids[i]);
        assert_int_equal(found, 1);
    }
    int n = get_log(log, 32);
    assert_int_equal(count_log(log, n, "GET", "uploads"), 3);    /* 2+2+1 */
    assert_int_equal(count_log(log, n, "GET", "upload-id-marker="), 2);

    memset(&s, 0, sizeof(s));
    s.stop_at = 3;
    assert_int_equal(s3_list_uploads(c, NULL, upload_cb, &s, &e), 9);
    assert_int_equal(s.n, 3);
    for (int i = 0; i < 6; i++) {
        assert_int_equal(s3_mpu_abort(c, keys[i], ids[i], &e), 0);
        free(ids[i]);
    }
    memset(&s, 0, sizeof(s));
    assert_int_equal(s3_list_uploads(c, "", upload_cb, &s, &e), 0);
    assert_int_equal(s.n, 0);
    s3_client_free(c);
}

static void test_many_in_flight(void **state)
{
    /* more requests than connections, some failing once: all complete, data intact */
    s3_client *c = client_with(endpoint, SK, 0, 0, 3);
    static unsigned char data[64 * 1024];
    static unsigned char dst[16][4096];
    struct get_ctx g[16];
    s3_error e;
    (void)state;

    fill(data, sizeof(data), 9);
    assert_int_equal(s3_put(c, "many", data, sizeof(data), NULL, NULL, &e), 0);
    set_rules("GET /bkt/many * 2,5,9 status 500 InternalError\nGET /bkt/many * 12 drop\n");
    memset(g, 0, sizeof(g));
    for (int i = 0; i < 16; i++)
        assert_int_equal(s3_async_get_range(c, "many", (uint64_t)i * 4096, 4096, dst[i],
                                            sizeof(dst[i]), get_cb, &g[i]), 0);
    assert_int_equal(s3_async_drain(c), 0);
    for (int i = 0; i < 16; i++) {
        assert_int_equal(g[i].rc, 0);
        assert_memory_equal(dst[i], data + i * 4096, 4096);
    }
    s3_client_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_roundtrip, setup),
        cmocka_unit_test_setup(test_500_twice_then_200, setup),
        cmocka_unit_test_setup(test_retries_exhausted, setup),
        cmocka_unit_test_setup(test_final_4xx, setup),
        cmocka_unit_test_setup(test_auth_and_bucket, setup),
        cmocka_unit_test_setup(test_mpu_part_503, setup),
        cmocka_unit_test_setup(test_drop_mid_body, setup),
        cmocka_unit_test_setup(test_no_answer_then_ok, setup),
        cmocka_unit_test_setup(test_short_body_is_final, setup),
        cmocka_unit_test_setup(test_complete_error_in_200, setup),
        cmocka_unit_test_setup(test_complete_answer_lost, setup),
        cmocka_unit_test_setup(test_missing_etags, setup),
        cmocka_unit_test_setup(test_retry_does_not_block, setup),
        cmocka_unit_test_setup(test_deadline, setup),
        cmocka_unit_test_setup(test_unreachable, setup),
        cmocka_unit_test_setup(test_cancel, setup),
        cmocka_unit_test_setup(test_list_pages, setup),
        cmocka_unit_test_setup(test_many_in_flight, setup),
        cmocka_unit_test_setup(test_delete_many, setup),
        cmocka_unit_test_setup(test_lifecycle, setup),
        cmocka_unit_test_setup(test_list_uploads_pages, setup),
    };
    int rc;

    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (start_fake() != 0) {
        fprintf(stderr, "test_s3_retry: FAIL: the fake S3 server is required (python3)\n");
        return 1;    /* a failure, never a skip */
    }
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    stop_fake();
    return rc ? 1 : 0;
}
