/* test_s3_multipart.c - multipart uploads against tests/fakes3: part retries, completion. */
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

/* s3_mpu_create_class: a malformed class is refused before any request; one the server
 * does not know is its refusal (InvalidStorageClass); a known one starts the upload. */
static void test_storage_class(void **state)
{
    s3_client *c = client();
    struct logrec log[8];
    char *id = NULL;
    s3_error e;
    (void)state;

    assert_true(s3_storage_class_ok("STANDARD_IA"));
    assert_false(s3_storage_class_ok("standard"));
    assert_false(s3_storage_class_ok(""));
    set_rules("");
    assert_int_equal(s3_mpu_create_class(c, "sc/a", "bad class", &id, &e), -EINVAL);
    assert_null(id);
    assert_int_equal(get_log(log, 8), 0);
    assert_int_equal(s3_mpu_create_class(c, "sc/a", "NO_SUCH", &id, &e), -EINVAL);
    assert_string_equal(e.code, "InvalidStorageClass");
    assert_int_equal(s3_mpu_create_class(c, "sc/a", "STANDARD_IA", &id, &e), 0);
    assert_non_null(id);
    assert_int_equal(s3_mpu_abort(c, "sc/a", id, &e), 0);
    free(id);
    s3_client_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_mpu_part_503, fake_reset),
        cmocka_unit_test_setup(test_complete_error_in_200, fake_reset),
        cmocka_unit_test_setup(test_complete_answer_lost, fake_reset),
        cmocka_unit_test_setup(test_missing_etags, fake_reset),
        cmocka_unit_test_setup(test_storage_class, fake_reset),
    };
    return FAKE_MAIN("test_s3_multipart", tests);   /* a failure, never a skip */
}
