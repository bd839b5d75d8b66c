/* test_s3_ratelimit.c - the bandwidth limits: the token bucket's arithmetic on a fake
 * clock, and limited transfers against tests/fakes3 (whole bodies, a deadline that does
 * not count paused time but still ends a hung request). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <curl/curl.h>

#include "s3/s3.h"
#include "s3/s3_internal.h"

#include "tests/unit/fakes3_harness.h"
#include "tests/unit/s3/fakes3_client.h"

#define MS 1000000LL            /* ns */
#define SEC 1000000000LL

/* ---- the token bucket on a fake clock ---- */

static void test_bucket_starts_empty(void **state)
{
    s3_tbucket b;
    (void)state;
    s3_tbucket_init(&b, 1000, 5 * SEC);
    assert_int_equal(s3_tbucket_take(&b, 5 * SEC, 1), 0);      /* no burst at the start */
    assert_int_equal(s3_tbucket_wait_ns(&b, 5 * SEC), 1);      /* any time later */
    assert_int_equal(s3_tbucket_take(&b, 5 * SEC + 250 * MS, 100), 1);
    assert_true(b.tokens == 150.0);                            /* 250 ms at 1000 B/s - 100 */
}

static void test_bucket_debt(void **state)
{
    s3_tbucket b;
    (void)state;
    s3_tbucket_init(&b, 1000, 0);
    assert_int_equal(s3_tbucket_take(&b, 100 * MS, 600), 1);   /* 100 tokens: all 600 */
    assert_true(b.tokens == -500.0);
    assert_int_equal(s3_tbucket_take(&b, 100 * MS, 1), 0);     /* in debt: nothing */
    assert_true(b.tokens == -500.0);
    assert_int_equal(s3_tbucket_wait_ns(&b, 100 * MS), 500 * MS + 1);
    assert_int_equal(s3_tbucket_take(&b, 599 * MS, 1), 0);     /* -1 token left */
    assert_int_equal(s3_tbucket_take(&b, 601 * MS, 1), 1);
}

static void test_bucket_burst(void **state)
{
    s3_tbucket b;
    (void)state;
    s3_tbucket_init(&b, 1000, 0);
    assert_int_equal(s3_tbucket_take(&b, 3600 * SEC, 0), 1);   /* an idle hour */
    assert_true(b.tokens == 500.0);                            /* half a second's worth */
    s3_tbucket_init(&b, 0, 0);
    assert_int_equal(s3_tbucket_take(&b, 0, (size_t)1 << 40), 1);   /* rate 0: no limit */
    assert_int_equal(s3_tbucket_wait_ns(&b, 0), 0);
    s3_tbucket_init(&b, 1000, 10 * SEC);
    assert_int_equal(s3_tbucket_take(&b, 9 * SEC, 1), 0);      /* a clock going back */
    assert_true(b.tokens == 0.0);
}

static void test_chunk(void **state)
{
    (void)state;
    assert_int_equal(s3_rate_chunk(1), 1024);
    assert_int_equal(s3_rate_chunk(80 * 1024), 10 * 1024);
    assert_int_equal(s3_rate_chunk(20 << 20), 64 * 1024);
}

/* Takers of different sizes, each taking as soon as it may (the fake clock jumps to
 * the next moment one can): over T seconds the bucket grants rate * T bytes, less one
 * take's worth at most (the debt left at the end), more by the burst at most. */
static void simulate(uint64_t rate, const size_t *sizes, int nsizes, int64_t idle_ns)
{
    s3_tbucket b;
    int64_t now = 0;
    int64_t end = 30 * SEC;
    uint64_t granted = 0;
    size_t biggest = 0;
    int turn = 0;

    s3_tbucket_init(&b, rate, 0);
    for (int i = 0; i < nsizes; i++)
        biggest = sizes[i] > biggest ? sizes[i] : biggest;
    while (now < end) {
        size_t n = sizes[turn++ % nsizes];
        if (s3_tbucket_take(&b, now, n)) {
            granted += n;
            if (idle_ns && turn % 50 == 0)
                now += idle_ns;                     /* the takers pause now and then */
            continue;
        }
        now += s3_tbucket_wait_ns(&b, now);
    }
    uint64_t expect = rate * (uint64_t)(end / SEC);
    assert_true(granted + biggest >= expect - (idle_ns ? expect / 2 : 0));
    assert_true(granted <= expect + (uint64_t)b.burst + biggest);
}

static void test_bucket_long_run(void **state)
{
    static const size_t mixed[] = { 65536, 16384, 1448, 131072, 4096 };
    static const size_t small[] = { 1024 };
    (void)state;
    simulate(20u << 20, mixed, 5, 0);
    simulate(8u << 20, mixed, 5, 300 * MS);
    simulate(1024, small, 1, 0);
    simulate(5000, mixed + 2, 1, 0);
}

/* ---- limited transfers against the fake server ---- */

#define BODY (384 * 1024)

static void test_limited_put_get(void **state)
{
    static unsigned char data[BODY];
    s3_client *c = client_with(endpoint, SK, 0, 1500, 4);
    s3_buf b;
    s3_error e;
    (void)state;

    fill(data, sizeof(data), 7);
    /* 384 KiB each way at 128 KiB/s: about 3 s, twice the 1.5 s deadline, which
     * counts only the time a transfer was not paused */
    s3_set_rate_limits(128 * 1024, 128 * 1024);
    assert_int_equal(s3_put(c, "lim", data, sizeof(data), NULL, NULL, &e), 0);
    assert_int_equal(s3_get(c, "lim", 0, 0, 0, &b, &e), 0);
    assert_int_equal(b.len, sizeof(data));
    assert_memory_equal(b.data, data, sizeof(data));
    s3_buf_free(&b);
    s3_set_rate_limits(0, 0);
    s3_client_free(c);
}

static void test_limited_deadline(void **state)
{
    s3_client *c = client_with(endpoint, SK, 0, 700, 0);
    s3_buf b;
    s3_error e;
    (void)state;

    /* the engine, not curl, keeps the deadline under a limit: a hung answer still ends */
    s3_set_rate_limits(1 << 20, 1 << 20);
    assert_int_equal(s3_put(c, "slow", "x", 1, NULL, NULL, &e), 0);
    set_rules("GET /bkt/slow * all hang 3000\n");
    assert_int_equal(s3_get(c, "slow", 0, 0, 0, &b, &e), -ETIMEDOUT);
    assert_non_null(strstr(e.message, "deadline"));
    s3_set_rate_limits(0, 0);
    s3_client_free(c);
}

static void got(const s3_result *res, void *arg)
{
    *(int *)arg = res->rc == 0 ? 1 : -1;
}

static void test_limit_lifted(void **state)
{
    static unsigned char data[BODY], back[BODY];
    s3_client *c = client_with(endpoint, SK, 0, 0, 4);
    s3_error e;
    int done = 0;
    (void)state;

    /* transfers paused under a limit go on once it is lifted */
    fill(data, sizeof(data), 9);
    assert_int_equal(s3_put(c, "lift", data, sizeof(data), NULL, NULL, &e), 0);
    s3_set_rate_limits(0, 4096);
    assert_int_equal(s3_async_get_range(c, "lift", 0, BODY, back, BODY, got, &done), 0);
    s3_async_run(c, 300);
    assert_int_equal(done, 0);                  /* 384 KiB at 4 KiB/s: still going */
    s3_set_rate_limits(0, 0);
    assert_int_equal(s3_async_drain(c), 0);
    assert_int_equal(done, 1);
    assert_memory_equal(back, data, sizeof(data));
    s3_client_free(c);
}

static void test_limit_set_midway(void **state)
{
    static unsigned char data[BODY], back[BODY];
    s3_client *c = client_with(endpoint, SK, 0, 3000, 4);
    s3_error e;
    int done = 0;
    (void)state;

    /* a limit set while a transfer runs is for the transfers that start after it: the
     * running one goes on unpaused (it once paused and was never resumed, the engine
     * spinning until the deadline) */
    fill(data, sizeof(data), 11);
    assert_int_equal(s3_put(c, "mid", data, sizeof(data), NULL, NULL, &e), 0);
    set_rules("GET /bkt/mid * 1 hang 600\n");
    assert_int_equal(s3_async_get_range(c, "mid", 0, BODY, back, BODY, got, &done), 0);
    s3_async_run(c, 200);
    assert_int_equal(done, 0);                  /* the answer is held back */
    s3_set_rate_limits(0, 1 << 20);
    assert_int_equal(s3_async_drain(c), 0);
    s3_set_rate_limits(0, 0);
    assert_int_equal(done, 1);
    assert_memory_equal(back, data, sizeof(data));
    struct logrec log[8];
    int n = get_log(log, 8);
    assert_int_equal(count_log(log, n, "GET", NULL), 1);    /* no second attempt */
    s3_client_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bucket_starts_empty),
        cmocka_unit_test(test_bucket_debt),
        cmocka_unit_test(test_bucket_burst),
        cmocka_unit_test(test_chunk),
        cmocka_unit_test(test_bucket_long_run),
        cmocka_unit_test_setup(test_limited_put_get, fake_reset),
        cmocka_unit_test_setup(test_limited_deadline, fake_reset),
        cmocka_unit_test_setup(test_limit_lifted, fake_reset),
        cmocka_unit_test_setup(test_limit_set_midway, fake_reset),
    };
    return FAKE_MAIN("test_s3_ratelimit", tests);   /* a failure, never a skip */
}
