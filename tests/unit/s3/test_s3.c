/* test_s3.c - the s3 client without a server: errors, redaction, configuration. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

#include "s3/s3.h"
#include "s3/s3_internal.h"

/* ---- error mapping ---- */

static void test_error_mapping(void **state)
{
    (void)state;
    assert_int_equal(s3_err_from_http(404, "NoSuchKey"), -ENOENT);
    assert_int_equal(s3_err_from_http(404, "NoSuchUpload"), -ENOENT);
    assert_int_equal(s3_err_from_http(404, ""), -ENOENT);
    assert_int_equal(s3_err_from_http(404, "NoSuchBucket"), -ENXIO);
    assert_int_equal(s3_err_from_http(404, "NoSuchLifecycleConfiguration"), -ENOENT);
    assert_int_equal(s3_err_from_http(403, "AccessDenied"), -EACCES);
    assert_int_equal(s3_err_from_http(403, "InvalidAccessKeyId"), -EACCES);
    assert_int_equal(s3_err_from_http(403, "SignatureDoesNotMatch"), -EACCES);
    assert_int_equal(s3_err_from_http(403, NULL), -EACCES);
    assert_int_equal(s3_err_from_http(400, "InvalidArgument"), -EINVAL);
    assert_int_equal(s3_err_from_http(400, "EntityTooSmall"), -EINVAL);
    assert_int_equal(s3_err_from_http(409, "BucketNotEmpty"), -EIO);
    assert_int_equal(s3_err_from_http(500, "InternalError"), -EIO);
    assert_int_equal(s3_err_from_http(503, "SlowDown"), -EIO);
    assert_int_equal(s3_err_from_http(200, ""), 0);
    assert_int_equal(s3_err_from_http(200, "InternalError"), -EIO);

    assert_true(s3_err_http_retryable(500, "InternalError"));
    assert_true(s3_err_http_retryable(503, "SlowDown"));
    assert_true(s3_err_http_retryable(502, ""));
    assert_true(s3_err_http_retryable(429, ""));
    assert_true(s3_err_http_retryable(400, "RequestTimeout"));
    assert_true(s3_err_http_retryable(200, "SlowDown"));
    assert_false(s3_err_http_retryable(501, "NotImplemented"));
    assert_false(s3_err_http_retryable(404, "NoSuchKey"));
    assert_false(s3_err_http_retryable(403, "AccessDenied"));
    assert_false(s3_err_http_retryable(400, "InvalidArgument"));
    assert_false(s3_err_http_retryable(409, ""));

    assert_int_equal(s3_err_from_curl(CURLE_COULDNT_CONNECT), -EHOSTUNREACH);
    assert_int_equal(s3_err_from_curl(CURLE_COULDNT_RESOLVE_HOST), -EHOSTUNREACH);
    assert_int_equal(s3_err_from_curl(CURLE_OPERATION_TIMEDOUT), -ETIMEDOUT);
    assert_int_equal(s3_err_from_curl(CURLE_PARTIAL_FILE), -EIO);
    assert_int_equal(s3_err_from_curl(CURLE_PEER_FAILED_VERIFICATION), -EIO);
    assert_int_equal(s3_err_from_curl(CURLE_OUT_OF_MEMORY), -ENOMEM);
    assert_true(s3_err_curl_retryable(CURLE_COULDNT_CONNECT));
    assert_true(s3_err_curl_retryable(CURLE_RECV_ERROR));
    assert_true(s3_err_curl_retryable(CURLE_SEND_ERROR));
    assert_true(s3_err_curl_retryable(CURLE_PARTIAL_FILE));
    assert_true(s3_err_curl_retryable(CURLE_GOT_NOTHING));
    assert_true(s3_err_curl_retryable(CURLE_OPERATION_TIMEDOUT));
    assert_false(s3_err_curl_retryable(CURLE_PEER_FAILED_VERIFICATION));
    assert_false(s3_err_curl_retryable(CURLE_URL_MALFORMAT));
}

static void test_strerror(void **state)
{
    s3_error e;
    (void)state;
    memset(&e, 0, sizeof(e));
    assert_string_equal(s3_strerror(-ENOENT, NULL), "no such object");
    assert_string_equal(s3_strerror(-ENOENT, &e), "no such object");
    e.http_status = 404;
    s3_strlcpy(e.code, "NoSuchKey", sizeof(e.code));
    s3_strlcpy(e.message, "The specified key does not exist.", sizeof(e.message));
    assert_string_equal(s3_strerror(-ENOENT, &e),
                        "no such object: NoSuchKey (HTTP 404): The specified key does not exist.");
    memset(&e, 0, sizeof(e));
    s3_strlcpy(e.message, "Failed to connect", sizeof(e.message));
    assert_string_equal(s3_strerror(-EHOSTUNREACH, &e), "endpoint unreachable: Failed to connect");
    assert_non_null(s3_strerror(-12345, NULL));
}

/* ---- redaction, client configuration ---- */

static void test_redact(void **state)
{
    s3_config cfg = {
        .endpoint = "http://127.0.0.1:9", .bucket = "b", .access_key = "AK",
        .secret_key = "s3cr3t-Value-XYZ", .session_token = "tok-ABCDEFGH",
    };
    s3_client *c = NULL;
    (void)state;

    assert_string_equal(s3_redact("GET /b/k HTTP/1.1"), "GET /b/k HTTP/1.1");
    assert_null(s3_redact(NULL));
    assert_string_equal(s3_redact("Authorization: AWS4-HMAC-SHA256 Credential=x"),
                        "[redacted]");
    assert_string_equal(s3_redact("authorization: whatever"), "[redacted]");
    assert_string_equal(s3_redact("...,Signature=abcdef"), "[redacted]");
    assert_string_equal(s3_redact("x-amz-security-token: abc"), "[redacted]");
    assert_string_equal(s3_redact("key is s3cr3t-Value-XYZ!"), "key is s3cr3t-Value-XYZ!");
    assert_int_equal(s3_client_new(&cfg, &c), 0);
    assert_string_equal(s3_redact("key is s3cr3t-Value-XYZ!"), "[redacted]");
    assert_string_equal(s3_redact("t=tok-ABCDEFGH"), "[redacted]");
    s3_client_free(c);
    assert_string_equal(s3_redact("key is s3cr3t-Value-XYZ!"), "key is s3cr3t-Value-XYZ!");
}

static void test_client_config(void **state)
{
    s3_config cfg = {
        .endpoint = "http://127.0.0.1:8000/", .bucket = "my bucket", .access_key = "AK",
        .secret_key = "SK",
    };
    s3_client *c = NULL;
    (void)state;

    assert_int_equal(s3_client_new(&cfg, &c), 0);
    assert_string_equal(c->host, "127.0.0.1:8000");
    assert_string_equal(c->origin, "http://127.0.0.1:8000");
    assert_string_equal(c->base_path, "");
    assert_string_equal(c->bucket_enc, "my%20bucket");
    assert_string_equal(c->cfg.region, "us-east-1");
    assert_int_equal(c->cfg.max_retries, S3_DEFAULT_RETRIES);
    assert_int_equal(c->cfg.retry_time_ms, 60000);
    assert_int_equal(c->cfg.deadline_ms, 120000);
    assert_int_equal(c->cfg.max_conns, 8);
    assert_int_equal(c->cfg.list_max_keys, 1000);
    assert_int_equal(s3_async_pending(c), 0);
    assert_int_equal(s3_async_run(c, 0), 0);
    assert_int_equal(s3_async_drain(c), 0);
    s3_client_free(c);

    cfg.endpoint = "https://s3.example.com:443/prefix//";
    cfg.max_retries = -1;
    assert_int_equal(s3_client_new(&cfg, &c), 0);
    assert_string_equal(c->host, "s3.example.com");
    assert_string_equal(c->origin, "https://s3.example.com:443");
    assert_string_equal(c->base_path, "/prefix");
    assert_int_equal(c->cfg.max_retries, 0);
    s3_client_free(c);

    cfg.endpoint = "http://[::1]:80";
    assert_int_equal(s3_client_new(&cfg, &c), 0);
    assert_string_equal(c->host, "[::1]");
    s3_client_free(c);

    cfg.endpoint = "ftp://host";
    assert_int_equal(s3_client_new(&cfg, &c), -EINVAL);
    assert_null(c);
    cfg.endpoint = "http://";
    assert_int_equal(s3_client_new(&cfg, &c), -EINVAL);
    cfg.endpoint = "http://user@host";
    assert_int_equal(s3_client_new(&cfg, &c), -EINVAL);
    cfg.endpoint = "http://h";
    cfg.secret_key = "";
    assert_int_equal(s3_client_new(&cfg, &c), -EINVAL);
    cfg.secret_key = "SK";
    cfg.bucket = NULL;
    assert_int_equal(s3_client_new(&cfg, &c), -EINVAL);
    assert_int_equal(s3_client_new(NULL, &c), -EINVAL);
}

static void test_backoff(void **state)
{
    s3_config cfg = {
        .endpoint = "http://127.0.0.1:9", .bucket = "b", .access_key = "AK", .secret_key = "SK",
    };
    s3_client *c = NULL;
    int max_seen[8] = { 0 };
    (void)state;

    assert_int_equal(s3_client_new(&cfg, &c), 0);
    for (int i = 0; i < 2000; i++) {
        for (int a = 1; a < 8; a++) {
            int d = s3_engine_backoff_ms(c, a);
            int ceil_ms = 100 << (a - 1);
            if (ceil_ms > 5000)
                ceil_ms = 5000;
            assert_in_range(d, 0, ceil_ms);
            if (d > max_seen[a])
                max_seen[a] = d;
        }
    }
    /* full jitter spreads over the whole window */
    assert_true(max_seen[1] > 80);
    assert_true(max_seen[7] > 4000);
    s3_client_free(c);
}

static void test_bad_arguments(void **state)
{
    s3_config cfg = {
        .endpoint = "http://127.0.0.1:9", .bucket = "b", .access_key = "AK", .secret_key = "SK",
    };
    s3_client *c = NULL;
    s3_error e;
    s3_buf b;
    char *id;
    char buf[4];
    (void)state;

    assert_int_equal(s3_client_new(&cfg, &c), 0);
    assert_int_equal(s3_put(c, "", "x", 1, NULL, NULL, &e), -EINVAL);
    assert_int_equal(s3_put(c, NULL, "x", 1, NULL, NULL, &e), -EINVAL);
    assert_int_equal(s3_get(c, "k", UINT64_MAX, 2, 0, &b, &e), -EINVAL);
    assert_int_equal(s3_head(NULL, "k", NULL, NULL, &e), -EINVAL);
    assert_int_equal(s3_mpu_create(c, "k", NULL, &e), -EINVAL);
    assert_int_equal(s3_mpu_complete(c, "k", "id", NULL, 0, NULL, &e), -EINVAL);
    assert_int_equal(s3_mpu_abort(c, "k", "", &e), -EINVAL);
    assert_int_equal(s3_list(c, "p", NULL, NULL, NULL, &e), -EINVAL);
    assert_int_equal(s3_async_upload_part(c, "k", "id", 0, "x", 1, NULL, NULL), -EINVAL);
    assert_int_equal(s3_async_get_range(c, "k", 0, 8, buf, sizeof(buf), NULL, NULL), -EINVAL);
    const char *keys[] = { "a", "" };
    size_t nfailed = 0;
    assert_int_equal(s3_delete_many(c, keys, 0, &nfailed, &e), -EINVAL);
    assert_int_equal(s3_delete_many(c, keys, 1001, &nfailed, &e), -EINVAL);
    assert_int_equal(s3_delete_many(c, keys, 2, &nfailed, &e), -EINVAL);   /* empty key */
    assert_int_equal(nfailed, 2);
    assert_int_equal(s3_delete_many(c, NULL, 1, NULL, &e), -EINVAL);
    assert_int_equal(s3_get_lifecycle(c, NULL, &e), -EINVAL);
    assert_int_equal(s3_put_lifecycle(c, "", 0, &e), -EINVAL);
    assert_int_equal(s3_delete_lifecycle(NULL, &e), -EINVAL);
    assert_int_equal(s3_list_uploads(c, "p", NULL, NULL, &e), -EINVAL);
    assert_int_equal(s3_async_pending(c), 0);
    (void)id;
    s3_client_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_error_mapping),
        cmocka_unit_test(test_strerror),
        cmocka_unit_test(test_redact),
        cmocka_unit_test(test_client_config),
        cmocka_unit_test(test_backoff),
        cmocka_unit_test(test_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
