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
#include "tests/unit/s3/fakes3_client.h"

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

static int done_counter;

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
        cmocka_unit_test_setup(test_roundtrip, fake_reset),
        cmocka_unit_test_setup(test_500_twice_then_200, fake_reset),
        cmocka_unit_test_setup(test_retries_exhausted, fake_reset),
        cmocka_unit_test_setup(test_final_4xx, fake_reset),
        cmocka_unit_test_setup(test_auth_and_bucket, fake_reset),
        cmocka_unit_test_setup(test_drop_mid_body, fake_reset),
        cmocka_unit_test_setup(test_no_answer_then_ok, fake_reset),
        cmocka_unit_test_setup(test_short_body_is_final, fake_reset),
        cmocka_unit_test_setup(test_retry_does_not_block, fake_reset),
        cmocka_unit_test_setup(test_deadline, fake_reset),
        cmocka_unit_test_setup(test_unreachable, fake_reset),
        cmocka_unit_test_setup(test_cancel, fake_reset),
        cmocka_unit_test_setup(test_many_in_flight, fake_reset),
    };
    return FAKE_MAIN("test_s3_retry", tests);   /* a failure, never a skip */
}
