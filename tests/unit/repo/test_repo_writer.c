/* test_repo_writer.c - the writer and the data objects it fills (writer.c, pack.c)
 * against tests/fakes3: keys and sizes of a commit, the manifest last, a part retried,
 * and nothing that looks committed after an abort. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <curl/curl.h>

#include "s3/s3.h"
#include "s3/s3_internal.h"

#include "tests/unit/fakes3_harness.h"
#include "repo_harness.h"

#define ID "20261201T100000Z"
#define FOLDER "rbd2s3/rbd/vm1/" ID "/"

/* The index of the last log record of method whose path ends with tail, or -1. */
static int last_with(const struct logrec *recs, int n, const char *method, const char *tail)
{
    int last = -1;
    for (int i = 0; i < n; i++) {
        size_t lp = strlen(recs[i].path), lt = strlen(tail);
        if (!strcmp(recs[i].method, method) && lp >= lt &&
            !strcmp(recs[i].path + lp - lt, tail))
            last = i;
    }
    return last;
}

/* Five chunks (one of zeros): two data objects of two chunks each, the index, and the
 * manifest, which is the last object written. */
static void test_commit(void **state)
{
    (void)state;
    ag_ctx ctx;
    manifest m;
    repo_ctx(&ctx);
    repo_backup(&ctx, &m, ID, 5);

    repo_keys k;
    repo_list(&ctx, &k);
    assert_int_equal(k.n, 4);
    assert_int_equal(m.nobjects, 2);
    assert_string_equal(m.objects[0].key, FOLDER "data.0");
    assert_string_equal(m.objects[1].key, FOLDER "data.1");
    assert_int_equal(repo_size(&k, FOLDER "data.0"), 2 * REPO_CHUNK);
    assert_int_equal(repo_size(&k, FOLDER "data.1"), 2 * REPO_CHUNK);
    assert_int_equal(m.objects[0].size, 2 * REPO_CHUNK);
    assert_int_equal(m.objects[1].size, 2 * REPO_CHUNK);
    assert_string_equal(m.index.key, FOLDER "index");
    assert_int_equal(repo_size(&k, FOLDER "index"), (long long)m.index.size);
    assert_true(repo_size(&k, FOLDER "manifest.json") > 0);
    assert_int_equal(m.chunks, 4);
    assert_int_equal(m.zero_chunks, 1);
    assert_int_equal(m.data_bytes, 4 * REPO_CHUNK);
    assert_int_equal(m.zero_bytes, REPO_CHUNK);
    assert_int_equal(m.stored_bytes, 4 * REPO_CHUNK);     /* random bytes: stored raw */
    assert_int_equal(m.index_records, 5);

    struct logrec recs[256];
    int n = get_log(recs, 256);
    int put_manifest = last_with(recs, n, "PUT", "/manifest.json");
    assert_true(put_manifest >= 0);
    for (int i = put_manifest + 1; i < n; i++)
        assert_string_not_equal(recs[i].method, "PUT");
    assert_int_equal(count_log(recs, n, "POST", "uploadId="), 2);    /* two completes */
    manifest_clear(&m);
    ag_ctx_close(&ctx);
}

/* A part answered 503 is sent again; the object holds the chunks' bytes in order. */
static void test_part_retried(void **state)
{
    (void)state;
    ag_ctx ctx;
    manifest m;
    repo_ctx(&ctx);
    set_rules("PUT data.0 partNumber=2& 1 status 503 SlowDown\n");
    repo_backup(&ctx, &m, ID, 2);

    struct logrec recs[256];
    int n = get_log(recs, 256);
    int puts2 = 0;
    for (int i = 0; i < n; i++)
        if (!strcmp(recs[i].method, "PUT") && strstr(recs[i].path, "/data.0") &&
            strstr(recs[i].query, "partNumber=2&"))
            puts2++;
    assert_int_equal(puts2, 2);

    s3_buf body;
    s3_error err;
    memset(&err, 0, sizeof(err));
    assert_int_equal(s3_get(ctx.s3, FOLDER "data.0", 0, 0, 0, &body, &err), 0);
    assert_int_equal(body.len, 2 * REPO_CHUNK);
    static unsigned char want[REPO_CHUNK];
    for (unsigned i = 0; i < 2; i++) {
        repo_chunk_data(want, i);
        assert_memory_equal(body.data + (size_t)i * REPO_CHUNK, want, REPO_CHUNK);
    }
    s3_buf_free(&body);
    manifest_clear(&m);
    ag_ctx_close(&ctx);
}

/* Aborted with one data object completed and the next one's upload open: no key stays,
 * and the open multipart upload is aborted. */
static void test_abort_midway(void **state)
{
    (void)state;
    ag_ctx ctx;
    manifest m;
    writer *w = NULL;
    repo_ctx(&ctx);
    repo_manifest(&m, ID);
    assert_int_equal(writer_open(&ctx, "rbd2s3/rbd/vm1/", ID, &w), 0);
    assert_int_equal(repo_write_chunks(w, &m, 3), 0);
    writer_abort(w);
    writer_free(w);

    repo_keys k;
    repo_list(&ctx, &k);
    assert_int_equal(k.n, 0);
    struct logrec recs[256];
    int n = get_log(recs, 256);
    assert_true(last_with(recs, n, "DELETE", "/data.0") >= 0);
    assert_true(count_log(recs, n, "DELETE", "uploadId=") >= 1);
    assert_int_equal(last_with(recs, n, "PUT", "/manifest.json"), -1);
    manifest_clear(&m);
    ag_ctx_close(&ctx);
}

/* The manifest refused: the commit fails with the S3 error's exit code, and the abort
 * takes back the data objects and the index (nothing looks committed). */
static void test_manifest_refused(void **state)
{
    (void)state;
    ag_ctx ctx;
    manifest m;
    writer *w = NULL;
    repo_ctx(&ctx);
    set_rules("PUT manifest.json * all status 403 AccessDenied\n");
    repo_manifest(&m, ID);
    assert_int_equal(writer_open(&ctx, "rbd2s3/rbd/vm1/", ID, &w), 0);
    assert_int_equal(repo_write_chunks(w, &m, 5), 0);
    assert_int_equal(writer_commit(w, &m), -1);
    assert_int_equal(ctx.exit_code, AG_EACCESS);
    writer_abort(w);
    writer_free(w);

    repo_keys k;
    repo_list(&ctx, &k);
    assert_int_equal(k.n, 0);
    manifest_clear(&m);
    ag_ctx_close(&ctx);
}

/* Abort and free of a writer never opened are no-ops. */
static void test_null_safe(void **state)
{
    (void)state;
    writer_abort(NULL);
    writer_free(NULL);
}

static int run_group(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_commit, fake_reset),
        cmocka_unit_test_setup(test_part_retried, fake_reset),
        cmocka_unit_test_setup(test_abort_midway, fake_reset),
        cmocka_unit_test_setup(test_manifest_refused, fake_reset),
        cmocka_unit_test(test_null_safe),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

int main(void)
{
    return repo_main("test_repo_writer", run_group);
}
