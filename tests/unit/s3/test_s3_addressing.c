/* test_s3_addressing.c - path-style or virtual-hosted: the choice, the target, the signature. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "s3/s3.h"
#include "s3/s3_internal.h"

#define AK "AKIAIOSFODNN7EXAMPLE"
#define SK "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define EMPTY_SHA "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define T_20130524 ((time_t)1369353600)   /* 2013-05-24T00:00:00Z */

static const struct choice {
    const char *endpoint;
    const char *bucket;
    int mode;
    int want;                  /* 1 virtual, 0 path, -EINVAL */
} table[] = {
    { "https://s3.amazonaws.com", "examplebucket", S3_ADDR_AUTO, 1 },
    { "https://S3.AMAZONAWS.COM/", "examplebucket", S3_ADDR_AUTO, 1 },
    { "https://s3.eu-west-1.amazonaws.com", "my-bucket", S3_ADDR_AUTO, 1 },
    { "https://s3-eu-west-1.amazonaws.com", "my-bucket", S3_ADDR_AUTO, 1 },
    { "https://s3.dualstack.us-east-2.amazonaws.com", "b01", S3_ADDR_AUTO, 1 },
    { "https://s3.cn-north-1.amazonaws.com.cn", "b01", S3_ADDR_AUTO, 1 },
    { "http://s3.amazonaws.com:80", "a.b.c", S3_ADDR_AUTO, 1 },       /* dots: http only */
    { "https://s3.amazonaws.com", "a.b.c", S3_ADDR_AUTO, 0 },         /* one TLS label */
    { "https://s3.amazonaws.com", "Upper", S3_ADDR_AUTO, 0 },
    { "https://s3.amazonaws.com", "under_score", S3_ADDR_AUTO, 0 },
    { "https://s3.amazonaws.com", "ab", S3_ADDR_AUTO, 0 },
    { "https://s3.amazonaws.com", "192.168.1.1", S3_ADDR_AUTO, 0 },
    { "http://127.0.0.1:8000", "bucket", S3_ADDR_AUTO, 0 },
    { "http://[::1]:8000", "bucket", S3_ADDR_AUTO, 0 },
    { "http://localhost:9000", "bucket", S3_ADDR_AUTO, 0 },
    { "https://minio.example.com", "bucket", S3_ADDR_AUTO, 0 },
    { "https://storage.googleapis.com", "bucket", S3_ADDR_AUTO, 0 },
    { "https://amazonaws.com.evil.example", "bucket", S3_ADDR_AUTO, 0 },
    { "https://s3.amazonaws.com", "bucket", S3_ADDR_PATH, 0 },
    { "https://s3.amazonaws.com", "Bad_Name", S3_ADDR_PATH, 0 },
    { "http://s3.localhost:8000", "bucket", S3_ADDR_VIRTUAL, 1 },
    { "https://rgw.example.com/", "bucket", S3_ADDR_VIRTUAL, 1 },
    { "https://rgw.example.com", "a.b", S3_ADDR_VIRTUAL, -EINVAL },
    { "http://rgw.example.com", "a.b", S3_ADDR_VIRTUAL, 1 },
    { "http://rgw.example.com", "Bad_Name", S3_ADDR_VIRTUAL, -EINVAL },
    { "http://127.0.0.1:8000", "bucket", S3_ADDR_VIRTUAL, -EINVAL },
    { "ftp://s3.amazonaws.com", "bucket", S3_ADDR_AUTO, -EINVAL },
    { "http://s3.amazonaws.com", "bucket", 7, -EINVAL },
};

static void test_choice_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        int got = s3_addressing_virtual(table[i].endpoint, table[i].bucket, table[i].mode);
        if (got != table[i].want)
            fail_msg("%s %s mode %d: %d, want %d", table[i].endpoint, table[i].bucket,
                     table[i].mode, got, table[i].want);
    }
}

static s3_client *client(const char *endpoint, int addressing)
{
    s3_config cfg = {
        .endpoint = endpoint, .bucket = "examplebucket", .access_key = AK, .secret_key = SK,
        .addressing = addressing,
    };
    s3_client *c = NULL;
    assert_int_equal(s3_client_new(&cfg, &c), 0);
    return c;
}

static void expect_target(s3_client *c, const char *key, const char *host, const char *path,
                          const char *url)
{
    s3_sb p, u;
    assert_int_equal(s3_req_target(c, key, key ? NULL : "list-type=2", &p, &u), 0);
    assert_string_equal(c->host, host);
    assert_string_equal(p.p, path);
    assert_string_equal(u.p, url);
    s3_sb_free(&p);
    s3_sb_free(&u);
}

static void test_targets(void **state)
{
    (void)state;
    s3_client *c = client("https://s3.amazonaws.com", S3_ADDR_AUTO);
    expect_target(c, "test.txt", "examplebucket.s3.amazonaws.com", "/test.txt",
                  "https://examplebucket.s3.amazonaws.com/test.txt");
    expect_target(c, NULL, "examplebucket.s3.amazonaws.com", "/",
                  "https://examplebucket.s3.amazonaws.com/?list-type=2");
    s3_client_free(c);
    c = client("http://s3.localhost:8000/base/", S3_ADDR_VIRTUAL);
    expect_target(c, "a b", "examplebucket.s3.localhost:8000", "/base/a%20b",
                  "http://examplebucket.s3.localhost:8000/base/a%20b");
    s3_client_free(c);
    c = client("https://s3.amazonaws.com:443", S3_ADDR_PATH);
    expect_target(c, "test.txt", "s3.amazonaws.com", "/examplebucket/test.txt",
                  "https://s3.amazonaws.com:443/examplebucket/test.txt");
    expect_target(c, NULL, "s3.amazonaws.com", "/examplebucket",
                  "https://s3.amazonaws.com:443/examplebucket?list-type=2");
    s3_client_free(c);
}

static time_t fixed_clock(void *arg)
{
    (void)arg;
    return T_20130524;
}

/* The header of list l that begins with name, or NULL. */
static const char *header(const struct curl_slist *l, const char *name)
{
    for (; l; l = l->next)
        if (!strncmp(l->data, name, strlen(name)))
            return l->data;
    return NULL;
}

/* The client's own request for GET /test.txt with Range bytes=0-9 on examplebucket at
 * s3.amazonaws.com, chosen virtual-hosted by auto: AWS's published example signature. */
static void test_signed_virtual_request(void **state)
{
    (void)state;
    s3_client *c = client("https://s3.amazonaws.com", S3_ADDR_AUTO);
    s3_test_hooks h = { .wallclock = fixed_clock };
    s3_test_set_hooks(c, &h);
    s3_sb p, u;
    assert_int_equal(s3_req_target(c, "test.txt", NULL, &p, &u), 0);
    s3_req r = { .path = p.p, .query = "", .range = "bytes=0-9" };
    r.s.method = "GET";
    memcpy(r.payload_sha, EMPTY_SHA, sizeof(r.payload_sha));
    assert_int_equal(s3_transfer_sign(c, &r), 0);
    assert_string_equal(header(r.hdrs, "Host:"), "Host: examplebucket.s3.amazonaws.com");
    const char *auth = header(r.hdrs, "Authorization:");
    assert_non_null(auth);
    assert_non_null(strstr(auth, "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"
                            "Signature=f0e8bdb87c964420e857bd35b5d6ed31"
                            "0bd44f0170aba48dd91039c6036bdb41"));
    curl_slist_free_all(r.hdrs);
    s3_sb_free(&p);
    s3_sb_free(&u);
    s3_client_free(c);
}

static void test_dns_label(void **state)
{
    (void)state;
    assert_true(s3_bucket_dns_ok("abc", 1));
    assert_true(s3_bucket_dns_ok("a-b.c", 0));
    assert_false(s3_bucket_dns_ok("a-b.c", 1));
    assert_false(s3_bucket_dns_ok("-ab", 0));
    assert_false(s3_bucket_dns_ok("ab-", 0));
    assert_false(s3_bucket_dns_ok("a..b", 0));
    assert_false(s3_bucket_dns_ok("a.-b", 0));
    assert_false(s3_bucket_dns_ok("aBc", 0));
    assert_false(s3_bucket_dns_ok(NULL, 0));
    char long_name[65];
    memset(long_name, 'a', 64);
    long_name[64] = '\0';
    assert_false(s3_bucket_dns_ok(long_name, 0));
    long_name[63] = '\0';
    assert_true(s3_bucket_dns_ok(long_name, 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_choice_table),
        cmocka_unit_test(test_targets),
        cmocka_unit_test(test_signed_virtual_request),
        cmocka_unit_test(test_dns_label),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
