/* test_s3_copy.c - server-side copy against tests/fakes3: UploadPartCopy ranges and
 * results, CopyObject, an <Error> inside a 200 answer, a malformed result. */
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

#define SRCLEN (3 * 65536 + 1000)

static unsigned char src[SRCLEN];

static void put_source(s3_client *c)
{
    s3_error e;
    fill(src, sizeof(src), 5);
    assert_int_equal(s3_put(c, "src/obj", src, sizeof(src), NULL, NULL, &e), 0);
}

/* Copy src/obj into key in parts of psz bytes; the completed ETag into etag. */
static void copy_parts(s3_client *c, const char *key, uint64_t psz, char etag[S3_ETAG_MAX])
{
    s3_part parts[8];
    char *id = NULL;
    s3_error e;
    int n = 0;

    assert_int_equal(s3_mpu_create(c, key, &id, &e), 0);
    for (uint64_t off = 0; off < SRCLEN; off += psz, n++) {
        uint64_t len = SRCLEN - off < psz ? SRCLEN - off : psz;
        parts[n].number = n + 1;
        assert_int_equal(s3_upload_part_copy(c, key, id, n + 1, BUCKET, "src/obj", off, len,
                                             parts[n].etag, &e), 0);
        assert_int_equal(strlen(parts[n].etag), 32);      /* quotes gone */
    }
    assert_int_equal(s3_mpu_complete(c, key, id, parts, n, etag, &e), 0);
    char want[S3_ETAG_MAX];
    assert_int_equal(s3_multipart_etag(parts, n, want), 0);
    assert_string_equal(etag, want);
    free(id);
}

static void test_part_copy(void **state)
{
    s3_client *c = client();
    char etag[S3_ETAG_MAX];
    struct logrec log[32];
    s3_buf b;
    s3_error e;
    (void)state;

    put_source(c);
    copy_parts(c, "dst/obj", 65536, etag);
    assert_non_null(strstr(etag, "-4"));
    assert_int_equal(s3_get(c, "dst/obj", 0, 0, 0, &b, &e), 0);
    assert_int_equal(b.len, SRCLEN);
    assert_memory_equal(b.data, src, SRCLEN);
    s3_buf_free(&b);
    int n = get_log(log, 32);
    assert_int_equal(count_log(log, n, "PUT", "partNumber="), 4);
    for (int i = 0; i < n; i++)
        assert_string_equal(log[i].auth, "ok");   /* the copy headers are signed */
    s3_client_free(c);
}

static void test_copy_object(void **state)
{
    s3_client *c = client();
    char etag[S3_ETAG_MAX], src_etag[S3_ETAG_MAX];
    uint64_t size = 0;
    s3_error e;
    (void)state;

    put_source(c);
    assert_int_equal(s3_head(c, "src/obj", NULL, src_etag, &e), 0);
    assert_int_equal(s3_copy_object(c, "dst/whole", BUCKET, "src/obj", etag, &e), 0);
    assert_string_equal(etag, src_etag);
    assert_int_equal(s3_head(c, "dst/whole", &size, NULL, &e), 0);
    assert_int_equal(size, SRCLEN);
    assert_int_equal(s3_copy_object(c, "dst/none", BUCKET, "src/missing", etag, &e), -ENOENT);
    assert_int_equal(s3_copy_object(c, "dst/none", BUCKET, "", etag, &e), -EINVAL);
    s3_client_free(c);
}

/* A legal source name is sent whatever its length: a bucket of 63 bytes and a key of 1024
 * bytes that all need escaping (3072 bytes encoded) once were refused as -EINVAL before any
 * request; the fake server has no such bucket, so the answer is its 404. */
static void test_copy_long_source(void **state)
{
    s3_client *c = client();
    char etag[S3_ETAG_MAX], key[S3_KEY_MAX + 1], bucket[64];
    struct logrec log[8];
    s3_error e;
    (void)state;

    memset(key, ' ', S3_KEY_MAX);
    key[S3_KEY_MAX] = '\0';
    memset(bucket, 'b', 63);
    bucket[63] = '\0';
    set_rules("");
    assert_int_equal(s3_copy_object(c, "dst/long", bucket, key, etag, &e), -ENOENT);
    int n = get_log(log, 8);
    assert_int_equal(count_log(log, n, "PUT", ""), 1);
    s3_client_free(c);
}

static void test_copy_error_in_200(void **state)
{
    s3_client *c = client();
    char etag[S3_ETAG_MAX];
    struct logrec log[32];
    char *id = NULL;
    s3_error e;
    (void)state;

    put_source(c);
    assert_int_equal(s3_mpu_create(c, "dst/err", &id, &e), 0);
    /* a retryable <Error> inside a 200: retried, then copied */
    set_rules("PUT /bkt/dst/err partNumber=1& 1 error200 InternalError\n");
    assert_int_equal(s3_upload_part_copy(c, "dst/err", id, 1, BUCKET, "src/obj", 0, 65536,
                                         etag, &e), 0);
    int n = get_log(log, 32);
    assert_int_equal(count_log(log, n, "PUT", "partNumber=1&"), 2);
    /* a final one: its code, status 200, no ETag */
    set_rules("PUT /bkt/dst/err partNumber=2& 1 error200 AccessDenied\n");
    memset(&e, 0, sizeof(e));
    assert_int_equal(s3_upload_part_copy(c, "dst/err", id, 2, BUCKET, "src/obj", 0, 65536,
                                         etag, &e), -EACCES);
    assert_int_equal(e.http_status, 200);
    assert_string_equal(e.code, "AccessDenied");
    assert_string_equal(etag, "");
    set_rules("PUT /bkt/dst/obj2 - 1 error200 AccessDenied\n");
    assert_int_equal(s3_copy_object(c, "dst/obj2", BUCKET, "src/obj", etag, &e), -EACCES);
    assert_int_equal(e.http_status, 200);
    free(id);
    s3_client_free(c);
}

/* A copy's result document, as copy.c reads it (an ETag required). */
static int copy_result(const char *body, size_t len, const char *root, char *etag, s3_error *e)
{
    return s3_xml_etag_result(body, len, root, 0, etag, e);
}

static void test_copy_result_parse(void **state)
{
    char etag[S3_ETAG_MAX];
    s3_error e;
    (void)state;
    const char *ok = "<?xml version=\"1.0\"?>\n<CopyPartResult xmlns=\"http://s3.amazonaws"
                     ".com/doc/2006-03-01/\"><LastModified>2026-01-01T00:00:00Z</LastModified>"
                     "<ETag>\"0123456789abcdef0123456789abcdef\"</ETag></CopyPartResult>";
    assert_int_equal(copy_result(ok, strlen(ok), "CopyPartResult", etag, &e), 0);
    assert_string_equal(etag, "0123456789abcdef0123456789abcdef");
    /* the other root, no ETag, not XML: malformed */
    assert_int_equal(copy_result(ok, strlen(ok), "CopyObjectResult", etag, &e),
                     -EINVAL);
    const char *noetag = "<CopyPartResult><ETag></ETag></CopyPartResult>";
    assert_int_equal(copy_result(noetag, strlen(noetag), "CopyPartResult", etag, &e),
                     -EINVAL);
    assert_int_equal(copy_result("", 0, "CopyPartResult", etag, &e), -EINVAL);
    assert_non_null(strstr(e.message, "malformed CopyPartResult"));
    /* leading blanks (keep-alive spaces of a long copy) before the <Error> */
    const char *er = "   \n<Error><Code>SlowDown</Code><Message>busy</Message></Error>";
    assert_int_equal(copy_result(er, strlen(er), "CopyPartResult", etag, &e),
                     s3_err_from_http(200, "SlowDown"));
    assert_string_equal(e.code, "SlowDown");
    assert_string_equal(e.message, "busy");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_part_copy, fake_reset),
        cmocka_unit_test_setup(test_copy_object, fake_reset),
        cmocka_unit_test_setup(test_copy_long_source, fake_reset),
        cmocka_unit_test_setup(test_copy_error_in_200, fake_reset),
        cmocka_unit_test(test_copy_result_parse),
    };
    return FAKE_MAIN("test_s3_copy", tests);   /* a failure, never a skip */
}
