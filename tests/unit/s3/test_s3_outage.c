/* test_s3_outage.c - the s3 client against tests/fakes3 outages and hostile answers. */
#include <errno.h>
#include <pthread.h>
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

/* Short backoffs keep the test quick; the retry time is what is under test. */
static s3_client *client_rt(int retry_time_ms, const char *token, int list_keys)
{
    s3_config cfg = {
        .endpoint = endpoint, .bucket = BUCKET, .access_key = AK, .secret_key = SK,
        .retry_time_ms = retry_time_ms, .session_token = token, .list_max_keys = list_keys,
    };
    s3_test_hooks h = { .backoff_base_ms = 20, .backoff_cap_ms = 200 };
    s3_client *c = NULL;
    assert_int_equal(s3_client_new(&cfg, &c), 0);
    s3_test_set_hooks(c, &h);
    return c;
}

static int64_t mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait until the fake listens again (a failed "refuse" test may leave it down). */
static void wait_fake(void)
{
    char url[128];
    snprintf(url, sizeof(url), "%s/_ctl/log", endpoint);
    for (int i = 0; i < 200; i++) {
        CURL *e = curl_easy_init();
        assert_non_null(e);
        curl_easy_setopt(e, CURLOPT_URL, url);
        curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
        CURLcode cc = curl_easy_perform(e);
        curl_easy_cleanup(e);
        if (cc == CURLE_OK)
            return;
        usleep(100 * 1000);
    }
}

static int setup(void **state)
{
    (void)state;
    wait_fake();
    ctl("POST", "/_ctl/reset", "", NULL);
    return 0;
}

struct part_done {
    int rc;
    char etag[S3_ETAG_MAX];
    int done;
};

static void part_cb(const s3_result *res, void *arg)
{
    struct part_done *p = arg;
    p->rc = res->rc;
    if (res->etag)
        s3_strlcpy(p->etag, res->etag, sizeof(p->etag));
    p->done = 1;
}

/* A backup's requests (object PUT, multipart upload with parts in flight, complete,
 * GET) ride through an outage of outage_ms that starts at the 3rd request (rule: the
 * fakes3 rule that makes it). */
static void ride_through(const char *rule, int outage_ms)
{
    static unsigned char data[3][64 * 1024];
    struct part_done pd[3];
    s3_part parts[3];
    char *uid = NULL;
    s3_buf b;
    s3_error e;
    struct logrec log[4096];
    s3_client *c = client_rt(0, NULL, 0);    /* the default retry time, 60 s */

    for (int i = 0; i < 3; i++)
        memset(data[i], 'a' + i, sizeof(data[i]));
    set_rules(rule);
    int64_t t0 = mono();
    assert_int_equal(s3_put(c, "bk/one", "1", 1, NULL, NULL, &e), 0);
    assert_int_equal(s3_mpu_create(c, "bk/data", &uid, &e), 0);
    memset(pd, 0, sizeof(pd));
    for (int i = 0; i < 3; i++)
        assert_int_equal(s3_async_upload_part(c, "bk/data", uid, i + 1, data[i],
                                              sizeof(data[i]), part_cb, &pd[i]), 0);
    assert_int_equal(s3_async_drain(c), 0);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(pd[i].rc, 0);
        parts[i].number = i + 1;
        s3_strlcpy(parts[i].etag, pd[i].etag, sizeof(parts[i].etag));
    }
    assert_int_equal(s3_mpu_complete(c, "bk/data", uid, parts, 3, NULL, &e), 0);
    assert_int_equal(s3_put(c, "bk/manifest", "m", 1, NULL, NULL, &e), 0);
    assert_int_equal(s3_get(c, "bk/data", 64 * 1024, 10, 0, &b, &e), 0);
    assert_memory_equal(b.data, data[1], 10);
    s3_buf_free(&b);
    free(uid);
    /* the outage was met and lasted: requests failed for outage_ms, then went through */
    int n = get_log(log, 4096);
    int failed = 0;
    for (int i = 0; i < n; i++)
        failed += strcmp(log[i].action, "-") != 0;
    assert_true(failed >= 1);
    assert_true(mono() - t0 >= outage_ms);
    s3_client_free(c);
}

static void test_ride_503(void **state)
{
    (void)state;
    ride_through("* /bkt * 3@4000 status 503 ServiceUnavailable\n", 4000);
}

static void test_ride_close(void **state)
{
    (void)state;
    ride_through("* /bkt * 3@4000 close\n", 4000);
}

static void test_ride_reset(void **state)
{
    (void)state;
    ride_through("* /bkt * 3@4000 reset\n", 4000);
}

/* The server stops listening (connections refused), as a restarting RGW does. */
static void test_ride_refused(void **state)
{
    (void)state;
    ride_through("* /bkt * 3 refuse 4000\n", 4000);
}

/* An outage longer than the retry time: -ETIMEDOUT once it is over, not earlier, and an
 * error that says so. */
static void test_retry_time_ends(void **state)
{
    s3_client *c = client_rt(1500, NULL, 0);
    s3_error e;
    (void)state;

    set_rules("PUT * * all status 503 SlowDown\n");
    int64_t t0 = mono();
    assert_int_equal(s3_put(c, "k", "x", 1, NULL, NULL, &e), -ETIMEDOUT);
    int64_t dt = mono() - t0;
    assert_true(dt >= 1500);
    assert_true(dt < 30000);     /* a guard against a hang, not a speed criterion */
    assert_int_equal(e.http_status, 503);
    assert_string_equal(e.code, "SlowDown");
    assert_non_null(strstr(e.message, "still failing after"));
    /* a final 4xx is still not retried */
    set_rules("PUT * * all status 403 AccessDenied\n");
    assert_int_equal(s3_put(c, "k", "x", 1, NULL, NULL, &e), -EACCES);
    struct logrec log[8];
    assert_int_equal(get_log(log, 8), 1);
    s3_client_free(c);
}

struct keys {
    int n;
    char key[16][64];
};

static int keys_cb(const s3_object_info *o, void *arg)
{
    struct keys *k = arg;
    if (k->n < 16)
        s3_strlcpy(k->key[k->n], o->key, sizeof(k->key[0]));
    k->n++;
    return 0;
}

static int upload_keys_cb(const s3_upload_info *u, void *arg)
{
    s3_object_info o = { .key = u->key };
    return keys_cb(&o, arg);
}

/* A key with a control character (and '+', '%', a space) survives both listings. */
static void test_list_odd_keys(void **state)
{
    static const char *const odd[] = { "ctl/a\001b", "ctl/c d+e%f", "ctl/g\037h/i" };
    s3_client *c = client_rt(0, NULL, 2);
    struct keys k;
    char *uid[3];
    s3_error e;
    (void)state;

    for (int i = 0; i < 3; i++) {
        assert_int_equal(s3_put(c, odd[i], "x", 1, NULL, NULL, &e), 0);
        assert_int_equal(s3_mpu_create(c, odd[i], &uid[i], &e), 0);
    }
    memset(&k, 0, sizeof(k));
    assert_int_equal(s3_list(c, "ctl/", NULL, keys_cb, &k, &e), 0);
    assert_int_equal(k.n, 3);
    for (int i = 0; i < 3; i++)
        assert_string_equal(k.key[i], odd[i]);
    memset(&k, 0, sizeof(k));
    assert_int_equal(s3_list(c, "ctl/", "/", keys_cb, &k, &e), 0);
    assert_int_equal(k.n, 3);
    assert_string_equal(k.key[2], "ctl/g\037h/");
    memset(&k, 0, sizeof(k));
    assert_int_equal(s3_list_uploads(c, "ctl/", upload_keys_cb, &k, &e), 0);
    assert_int_equal(k.n, 3);
    for (int i = 0; i < 3; i++) {
        assert_string_equal(k.key[i], odd[i]);
        assert_int_equal(s3_mpu_abort(c, odd[i], uid[i], &e), 0);
        free(uid[i]);
    }
    s3_client_free(c);
}

struct warned {
    int n;
    char msg[512];
};

static void warn_cb(void *arg, const char *msg)
{
    struct warned *w = arg;
    if (!w->n++)
        s3_strlcpy(w->msg, msg, sizeof(w->msg));
}

/* An entry that cannot be decoded is skipped and reported; the rest of the page is read. */
static void test_list_bad_entry(void **state)
{
    struct warned w = { 0 };
    s3_config cfg = {
        .endpoint = endpoint, .bucket = BUCKET, .access_key = AK, .secret_key = SK,
        .warn = warn_cb, .warn_arg = &w,
    };
    s3_client *c = NULL;
    struct keys k;
    char *uid = NULL;
    s3_error e;
    (void)state;

    assert_int_equal(s3_client_new(&cfg, &c), 0);
    assert_int_equal(s3_put(c, "b/ok", "x", 1, NULL, NULL, &e), 0);
    assert_int_equal(s3_mpu_create(c, "b/up", &uid, &e), 0);
    set_rules("GET * * all badentry\n");
    memset(&k, 0, sizeof(k));
    assert_int_equal(s3_list(c, "b/", NULL, keys_cb, &k, &e), 0);
    assert_int_equal(k.n, 1);
    assert_string_equal(k.key[0], "b/ok");
    assert_int_equal(w.n, 1);
    assert_non_null(strstr(w.msg, "listing the bucket: skipped 1 entry"));
    assert_non_null(strstr(w.msg, "bad%zz"));
    memset(&k, 0, sizeof(k));
    assert_int_equal(s3_list_uploads(c, "b/", upload_keys_cb, &k, &e), 0);
    assert_int_equal(k.n, 1);
    assert_string_equal(k.key[0], "b/up");
    assert_int_equal(w.n, 2);
    free(uid);
    s3_client_free(c);
}

/* An endpoint that answers the same truncated page forever: an error, not a loop. */
static void test_list_stuck(void **state)
{
    s3_client *c = client_rt(0, NULL, 2);
    struct keys k;
    struct logrec log[64];
    s3_error e;
    (void)state;

    for (int i = 0; i < 5; i++) {
        char key[16];
        snprintf(key, sizeof(key), "s/k%d", i);
        assert_int_equal(s3_put(c, key, "x", 1, NULL, NULL, &e), 0);
    }
    set_rules("GET * list-type=2 1-40 stuck\n");
    memset(&k, 0, sizeof(k));
    assert_int_equal(s3_list(c, "s/", NULL, keys_cb, &k, &e), -EINVAL);
    assert_non_null(strstr(e.message, "does not advance"));
    assert_true(get_log(log, 64) <= 2);
    s3_client_free(c);
}

/* VmPeak of this process in KiB (address space, so a reservation shows). */
static long vm_peak_kib(void)
{
    char line[256];
    long v = -1;
    FILE *f = fopen("/proc/self/status", "r");
    assert_non_null(f);
    while (fgets(line, sizeof(line), f))
        if (!strncmp(line, "VmPeak:", 7))
            v = strtol(line + 7, NULL, 10);
    fclose(f);
    return v;
}

/* A Content-Length of 900 MiB with a 100-byte body: no 900 MiB reservation. */
static void test_lying_length(void **state)
{
    s3_config cfg = {
        .endpoint = endpoint, .bucket = BUCKET, .access_key = AK, .secret_key = SK,
        .max_retries = -1,
    };
    s3_client *c = NULL;
    char body[100];
    s3_buf b;
    s3_error e;
    (void)state;

    memset(body, 'z', sizeof(body));
    assert_int_equal(s3_client_new(&cfg, &c), 0);
    assert_int_equal(s3_put(c, "big", body, sizeof(body), NULL, NULL, &e), 0);
    set_rules("GET /bkt/big * all lielen 943718400\n");
    long before = vm_peak_kib();
    assert_int_not_equal(s3_get(c, "big", 0, 0, 0, &b, &e), 0);   /* cut short */
    long grown = vm_peak_kib() - before;
    assert_true(grown < 64 * 1024);
    s3_buf_free(&b);
    s3_client_free(c);
}

/* A session token over 2 KiB is sent whole (the fake wants exactly this one). */
static void test_long_token(void **state)
{
    static char token[3001];
    struct logrec log[8];
    s3_error e;
    (void)state;

    for (size_t i = 0; i < sizeof(token) - 1; i++)
        token[i] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/+="[i % 39];
    token[sizeof(token) - 1] = '\0';
    ctl("POST", "/_ctl/token", token, NULL);
    s3_client *c = client_rt(0, token, 0);
    assert_int_equal(s3_put(c, "tok", "x", 1, NULL, NULL, &e), 0);
    int n = get_log(log, 8);
    assert_int_equal(n, 1);
    assert_int_equal(count_log(log, n, "PUT", NULL), 1);
    assert_int_equal(log[0].status, 200);
    s3_client_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_retry_time_ends, setup),
        cmocka_unit_test_setup(test_ride_503, setup),
        cmocka_unit_test_setup(test_ride_close, setup),
        cmocka_unit_test_setup(test_ride_reset, setup),
        cmocka_unit_test_setup(test_ride_refused, setup),
        cmocka_unit_test_setup(test_list_odd_keys, setup),
        cmocka_unit_test_setup(test_list_bad_entry, setup),
        cmocka_unit_test_setup(test_list_stuck, setup),
        cmocka_unit_test_setup(test_lying_length, setup),
        cmocka_unit_test_setup(test_long_token, setup),
    };
    return FAKE_MAIN("test_s3_outage", tests);   /* a failure, never a skip */
}
