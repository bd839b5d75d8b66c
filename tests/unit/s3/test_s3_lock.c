/* test_s3_lock.c - Content-MD5 on every object and part PUT, and Object Lock (bucket
 * configuration, retention of new objects, PutObjectRetention) against tests/fakes3. */
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

#define PARTSZ (5u << 20)

static int parts_ok;

static void part_cb(const s3_result *res, void *arg)
{
    s3_part *p = arg;
    if (res->rc == 0 && res->etag) {
        s3_strlcpy(p->etag, res->etag, sizeof(p->etag));
        parts_ok++;
    }
}

/* Upload key in two parts (async) and complete it. */
static int upload_two_parts(s3_client *c, const char *key, unsigned char *data)
{
    s3_part parts[2] = { { .number = 1 }, { .number = 2 } };
    char *id = NULL;
    s3_error e;
    int rc = s3_mpu_create(c, key, &id, &e);
    if (rc)
        return rc;
    parts_ok = 0;
    for (int i = 0; i < 2; i++)
        assert_int_equal(s3_async_upload_part(c, key, id, i + 1, data + i * PARTSZ, PARTSZ,
                                              part_cb, &parts[i]), 0);
    assert_int_equal(s3_async_drain(c), 0);
    assert_int_equal(parts_ok, 2);   /* the fake refuses a part without its Content-MD5 */
    rc = s3_mpu_complete(c, key, id, parts, 2, NULL, &e);
    free(id);
    return rc;
}

/* The fake answers BadDigest / InvalidRequest to a PUT or part without the right
 * Content-MD5: each of these succeeds only with the header present and correct. */
static void test_content_md5(void **state)
{
    s3_client *c = client();
    unsigned char *data = malloc(2 * PARTSZ);
    struct logrec log[16];
    s3_error e;
    (void)state;

    assert_non_null(data);
    fill(data, 2 * PARTSZ, 7);
    assert_int_equal(s3_put(c, "md5/small", "hello", 5, NULL, NULL, &e), 0);
    assert_int_equal(s3_put(c, "md5/empty", "", 0, NULL, NULL, &e), 0);
    assert_int_equal(s3_put(c, "md5/big", data, PARTSZ, NULL, NULL, &e), 0);
    set_rules("");
    assert_int_equal(upload_two_parts(c, "md5/mpu", data), 0);
    int n = get_log(log, 16);
    assert_int_equal(count_log(log, n, "PUT", "partNumber="), 2);
    for (int i = 0; i < n; i++)
        assert_int_equal(log[i].status, 200);
    free(data);
    s3_client_free(c);
}

/* A raw PUT (the engine without the public calls, which always add Content-MD5) of
 * body with md5 as its Content-MD5 (NULL: none) on key with query; its code, err filled. */
static int raw_put(s3_client *c, const char *key, const char *query, const char *body,
                   const char *md5, s3_error *err)
{
    s3_req_spec spec = {
        .method = "PUT", .key = key, .query = query, .content_md5 = md5, .body = body,
        .body_len = strlen(body),
    };
    return s3_sync_request(c, &spec, err);
}

/* PUT "hello" on key with query: refused without Content-MD5 (400 InvalidRequest) and
 * with a wrong one (BadDigest: the MD5 of an empty body), accepted with the right one. */
static void expect_md5_checked(s3_client *c, const char *key, const char *query)
{
    char md5[25];
    s3_error e;

    s3_md5_base64("hello", 5, md5);
    assert_int_equal(raw_put(c, key, query, "hello", NULL, &e), -EINVAL);
    assert_int_equal(e.http_status, 400);
    assert_string_equal(e.code, "InvalidRequest");
    assert_int_equal(raw_put(c, key, query, "hello", "1B2M2Y8AsgTpgAmY7PhCfg==", &e), -EINVAL);
    assert_string_equal(e.code, "BadDigest");
    assert_int_equal(raw_put(c, key, query, "hello", md5, &e), 0);
}

/* The fake refuses a PutObject and an UploadPart without the right Content-MD5, as AWS
 * does on a bucket with Object Lock. */
static void test_content_md5_refused(void **state)
{
    s3_client *c = client();
    char q[256];
    char *id = NULL;
    s3_error e;
    (void)state;

    expect_md5_checked(c, "md5/none", NULL);
    assert_int_equal(s3_mpu_create(c, "md5/part", &id, &e), 0);
    snprintf(q, sizeof(q), "partNumber=1&uploadId=%s", id);
    expect_md5_checked(c, "md5/part", q);
    assert_int_equal(s3_mpu_abort(c, "md5/part", id, &e), 0);
    free(id);
    s3_client_free(c);
}

static void test_lock_config(void **state)
{
    s3_client *c = client();
    s3_error e;
    int on = -1;
    (void)state;

    assert_int_equal(s3_get_object_lock(c, &on, &e), 0);
    assert_int_equal(on, 0);
    /* lock headers on a bucket without Object Lock: refused */
    s3_client_set_object_lock(c, S3_LOCK_GOVERNANCE, time(NULL) + 86400);
    assert_int_equal(s3_put(c, "nolock", "x", 1, NULL, NULL, &e), -EINVAL);
    ctl("POST", "/_ctl/objectlock", "on", NULL);
    assert_int_equal(s3_get_object_lock(c, &on, &e), 0);
    assert_int_equal(on, 1);
    s3_client_free(c);
}

/* A server without Object Lock at all (s3rver 3.7 answers 501 NotImplemented): no lock,
 * asked once (501 is not retried); a 500 stays an error. */
static void test_lock_config_not_implemented(void **state)
{
    s3_client *c = client();
    s3_error e;
    int on = -1;
    (void)state;

    ctl("POST", "/_ctl/objectlock", "on", NULL);
    set_rules("GET * object-lock all status 501 NotImplemented\n");
    assert_int_equal(s3_get_object_lock(c, &on, &e), 0);
    assert_int_equal(on, 0);
    struct logrec log[8];
    assert_int_equal(get_log(log, 8), 1);
    set_rules("GET * object-lock all status 400 InvalidRequest\n");
    on = -1;
    assert_int_equal(s3_get_object_lock(c, &on, &e), -EINVAL);
    assert_int_equal(on, 0);
    set_rules("");
    s3_client_free(c);
}

static void test_lock_objects(void **state)
{
    s3_client *c = client();
    unsigned char *data = malloc(2 * PARTSZ);
    time_t until = 1900000000, got = 0;
    int mode = -1;
    s3_error e;
    (void)state;

    assert_non_null(data);
    fill(data, 2 * PARTSZ, 3);
    ctl("POST", "/_ctl/objectlock", "on", NULL);
    assert_int_equal(s3_put(c, "plain", "p", 1, NULL, NULL, &e), 0);
    assert_int_equal(s3_head_retention(c, "plain", &mode, &got, &e), 0);
    assert_int_equal(mode, S3_LOCK_NONE);
    assert_int_equal(got, 0);

    s3_client_set_object_lock(c, S3_LOCK_GOVERNANCE, until);
    assert_int_equal(s3_put(c, "locked/index", "i", 1, NULL, NULL, &e), 0);
    assert_int_equal(upload_two_parts(c, "locked/data.0", data), 0);
    const char *keys[] = { "locked/index", "locked/data.0" };
    for (int i = 0; i < 2; i++) {
        assert_int_equal(s3_head_retention(c, keys[i], &mode, &got, &e), 0);
        assert_int_equal(mode, S3_LOCK_GOVERNANCE);
        assert_int_equal(got, until);
    }
    /* extended, never shortened; another mode over COMPLIANCE is refused */
    assert_int_equal(s3_put_retention(c, "locked/index", S3_LOCK_GOVERNANCE, until + 3600,
                                      &e), 0);
    assert_int_equal(s3_head_retention(c, "locked/index", &mode, &got, &e), 0);
    assert_int_equal(got, until + 3600);
    assert_int_equal(s3_put_retention(c, "locked/index", S3_LOCK_GOVERNANCE, until, &e),
                     -EACCES);
    assert_int_equal(s3_put_retention(c, "locked/data.0", S3_LOCK_COMPLIANCE, until + 60,
                                      &e), 0);
    assert_int_equal(s3_put_retention(c, "locked/data.0", S3_LOCK_GOVERNANCE, until + 120,
                                      &e), -EACCES);
    assert_int_equal(s3_put_retention(c, "missing", S3_LOCK_GOVERNANCE, until, &e), -ENOENT);
    assert_int_equal(s3_put_retention(c, "locked/index", S3_LOCK_NONE, until, &e), -EINVAL);

    /* S3_LOCK_NONE: new objects carry nothing again */
    s3_client_set_object_lock(c, S3_LOCK_NONE, 0);
    assert_int_equal(s3_put(c, "after", "a", 1, NULL, NULL, &e), 0);
    assert_int_equal(s3_head_retention(c, "after", &mode, &got, &e), 0);
    assert_int_equal(mode, S3_LOCK_NONE);
    assert_int_equal(s3_head_retention(c, "missing", &mode, &got, &e), -ENOENT);
    free(data);
    s3_client_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_content_md5, fake_reset),
        cmocka_unit_test_setup(test_content_md5_refused, fake_reset),
        cmocka_unit_test_setup(test_lock_config, fake_reset),
        cmocka_unit_test_setup(test_lock_config_not_implemented, fake_reset),
        cmocka_unit_test_setup(test_lock_objects, fake_reset),
    };
    return FAKE_MAIN("test_s3_lock", tests);   /* a failure, never a skip */
}
