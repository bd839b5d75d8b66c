/* test_s3_sigv4.c - SigV4 against the published AWS examples, SHA-256, URI encoding. */
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

#define AK "AKIAIOSFODNN7EXAMPLE"

#define SK "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"

#define EMPTY_SHA "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

#define T_20130524 ((time_t)1369353600)   /* 2013-05-24T00:00:00Z */

#define CRED "AWS4-HMAC-SHA256 Credential=" AK "/20130524/us-east-1/s3/aws4_request,"

static s3_sigv4_req example(const char *method, const char *path, const char *query,
                            const char *const *headers, const char *sha)
{
    s3_sigv4_req r = {
        .method = method, .host = "examplebucket.s3.amazonaws.com", .path = path,
        .query = query, .headers = headers, .payload_sha256 = sha, .region = "us-east-1",
        .service = "s3", .access_key = AK, .secret_key = SK, .now = T_20130524,
    };
    return r;
}

/* ---- SigV4: the published examples of "Authenticating Requests (AWS Signature V4)" ---- */

static void test_sigv4_get_object(void **state)
{
    const char *h[] = { "Range: bytes=0-9", NULL };
    s3_sigv4_req r = example("GET", "/test.txt", "", h, EMPTY_SHA);
    char auth[512], date[17];
    (void)state;

    assert_int_equal(s3_sigv4_sign(&r, auth, sizeof(auth), date), 0);
    assert_string_equal(date, "20130524T000000Z");
    assert_string_equal(auth, CRED "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"
                        "Signature=f0e8bdb87c964420e857bd35b5d6ed31"
                        "0bd44f0170aba48dd91039c6036bdb41");
}

static void test_sigv4_put_object(void **state)
{
    const char *body = "Welcome to Amazon S3.";
    const char *h[] = {
        "Date: Fri, 24 May 2013 00:00:00 GMT", "x-amz-storage-class: REDUCED_REDUNDANCY", NULL
    };
    char sha[65], auth[512], date[17];
    (void)state;

    s3_sha256_hex(body, strlen(body), sha);
    assert_string_equal(sha, "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
    s3_sigv4_req r = example("PUT", "/test%24file.text", NULL, h, sha);
    assert_int_equal(s3_sigv4_sign(&r, auth, sizeof(auth), date), 0);
    assert_string_equal(auth, CRED "SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;"
                        "x-amz-storage-class,"
                        "Signature=98ad721746da40c64f1a55b78f14c238"
                        "d841ea1380cd77a1b5971af0ece108bd");
}

static void test_sigv4_lifecycle(void **state)
{
    s3_sigv4_req r = example("GET", "/", "lifecycle", NULL, EMPTY_SHA);
    char auth[512], date[17];
    (void)state;

    assert_int_equal(s3_sigv4_sign(&r, auth, sizeof(auth), date), 0);
    assert_string_equal(auth, CRED "SignedHeaders=host;x-amz-content-sha256;x-amz-date,"
                        "Signature=fea454ca298b7da1c68078a5d1bdbfbb"
                        "e0d65c699e0f91ac7a200a0136783543");
}

static void test_sigv4_list_objects_sorts_query(void **state)
{
    /* the published query is max-keys=2&prefix=J; given unsorted, the signer sorts it */
    s3_sigv4_req r = example("GET", "/", "prefix=J&max-keys=2", NULL, EMPTY_SHA);
    char auth[512], date[17];
    (void)state;

    assert_int_equal(s3_sigv4_sign(&r, auth, sizeof(auth), date), 0);
    assert_string_equal(auth, CRED "SignedHeaders=host;x-amz-content-sha256;x-amz-date,"
                        "Signature=34b48302e7b5fa45bde8084f4b7868a8"
                        "6f0a534bc59db6670ed5711ef69dc6f7");
}

static void test_sigv4_header_normalisation(void **state)
{
    /* case, blanks, and the signer-owned headers given by the caller change nothing */
    const char *h[] = {
        "RANGE :   bytes=0-9  ", "X-Amz-Date: 19990101T000000Z", "host: evil.example", NULL
    };
    s3_sigv4_req r = example("GET", "/test.txt", "", h, EMPTY_SHA);
    char auth[512], date[17];
    (void)state;

    assert_int_equal(s3_sigv4_sign(&r, auth, sizeof(auth), date), 0);
    assert_non_null(strstr(auth, "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48d"));
}

static void test_sigv4_errors(void **state)
{
    const char *dup[] = { "range: bytes=0-1", "Range: bytes=0-2", NULL };
    const char *bad[] = { "no colon here", NULL };
    s3_sigv4_req r = example("GET", "/test.txt", "", NULL, EMPTY_SHA);
    char auth[512], date[17];
    (void)state;

    assert_int_equal(s3_sigv4_sign(&r, auth, 40, date), -ENOSPC);
    assert_int_equal(s3_sigv4_sign(NULL, auth, sizeof(auth), date), -EINVAL);
    r.secret_key = NULL;
    assert_int_equal(s3_sigv4_sign(&r, auth, sizeof(auth), date), -EINVAL);
    r = example("GET", "test.txt", "", NULL, EMPTY_SHA);
    assert_int_equal(s3_sigv4_sign(&r, auth, sizeof(auth), date), -EINVAL);
    r = example("GET", "/test.txt", "", dup, EMPTY_SHA);
    assert_int_equal(s3_sigv4_sign(&r, auth, sizeof(auth), date), -EINVAL);
    r = example("GET", "/test.txt", "", bad, EMPTY_SHA);
    assert_int_equal(s3_sigv4_sign(&r, auth, sizeof(auth), date), -EINVAL);
}

static void test_sigv4_time_and_secret_matter(void **state)
{
    s3_sigv4_req r = example("GET", "/test.txt", "", NULL, EMPTY_SHA);
    char a1[512], a2[512], a3[512], d1[17], d2[17];
    (void)state;

    assert_int_equal(s3_sigv4_sign(&r, a1, sizeof(a1), d1), 0);
    r.now += 1;
    assert_int_equal(s3_sigv4_sign(&r, a2, sizeof(a2), d2), 0);
    assert_string_equal(d2, "20130524T000001Z");
    assert_string_not_equal(a1, a2);
    r.now -= 1;
    r.secret_key = "another";
    assert_int_equal(s3_sigv4_sign(&r, a3, sizeof(a3), d1), 0);
    assert_string_not_equal(a1, a3);
    assert_null(strstr(a1, SK));
}

static void test_sha256(void **state)
{
    char out[65];
    (void)state;
    s3_sha256_hex("", 0, out);
    assert_string_equal(out, EMPTY_SHA);
    s3_sha256_hex(NULL, 0, out);
    assert_string_equal(out, EMPTY_SHA);
    s3_sha256_hex("abc", 3, out);
    assert_string_equal(out, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

/* ---- URI encoding ---- */

static void test_uri_encode(void **state)
{
    char out[128];
    (void)state;

    assert_int_equal(s3_uri_encode("a b/c~d_e.f-G9", 1, out, sizeof(out)), 16);
    assert_string_equal(out, "a%20b/c~d_e.f-G9");
    s3_uri_encode("a b/c", 0, out, sizeof(out));
    assert_string_equal(out, "a%20b%2Fc");
    s3_uri_encode("$+*=&?%\xc3\xa9", 1, out, sizeof(out));
    assert_string_equal(out, "%24%2B%2A%3D%26%3F%25%C3%A9");
    s3_uri_encode("", 1, out, sizeof(out));
    assert_string_equal(out, "");
    /* like snprintf: the length needed, a NUL-terminated prefix without a cut escape */
    assert_int_equal(s3_uri_encode("ab cd", 0, out, 4), 7);
    assert_string_equal(out, "ab");
    assert_int_equal(s3_uri_encode("abc", 0, NULL, 0), 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sigv4_get_object),
        cmocka_unit_test(test_sigv4_put_object),
        cmocka_unit_test(test_sigv4_lifecycle),
        cmocka_unit_test(test_sigv4_list_objects_sorts_query),
        cmocka_unit_test(test_sigv4_header_normalisation),
        cmocka_unit_test(test_sigv4_errors),
        cmocka_unit_test(test_sigv4_time_and_secret_matter),
        cmocka_unit_test(test_sha256),
        cmocka_unit_test(test_uri_encode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
