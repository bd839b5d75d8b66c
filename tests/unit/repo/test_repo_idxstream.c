/* test_repo_idxstream.c - the chunk index streamed to and from tests/fakes3 (idxstream.h):
 * the object has the bytes of the in-memory writer (plain and sealed), goes up in parts as
 * it is made (one PUT when small), is read back through the cursor, and is refused with
 * the key named when its size, bytes, tag, count or flags differ, or when it changes
 * between the two passes; an aborted upload leaves nothing; a backup made by the writer
 * reads back as catalog_load_index reads it. */
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
#include "idxstream_recs.h"

#include "agent/repo/catalog.h"

#define NRECS 20000             /* about 600 KB of index: 25 parts of 24 KiB */
#define RANGE 10000             /* small ranges: the tag straddles two of them */

static seal_key dk;

/* The index of NRECS made in memory (sealed with m's ids when sealed); caller frees. */
static unsigned char *in_memory(const manifest *m, const seal_key *k, size_t *len)
{
    index_writer *w;
    index_rec r;
    const unsigned char *data;
    assert_int_equal(index_writer_new(&w), 0);
    for (uint64_t i = 0; i < NRECS; i++) {
        recs_make(i, k != NULL, &r);
        assert_int_equal(index_writer_add(w, &r), 0);
    }
    assert_int_equal(index_writer_finish(w, &data, len), 0);
    unsigned char *out = malloc(*len + SEAL_TAG_LEN);
    assert_non_null(out);
    if (k == NULL)
        memcpy(out, data, *len);
    else
        assert_int_equal(seal_index(k, m->id, m->image_id, NRECS, data, *len, out), 0);
    *len += k != NULL ? SEAL_TAG_LEN : 0;
    index_writer_free(w);
    return out;
}

/* Read every record through the cursor: 0 when all NRECS came back as made, else the
 * cursor's error (or -1 for a wrong record or count). */
static int read_back(ag_ctx *ctx, const manifest *m, const seal_key *k, size_t range)
{
    idxstream_reader *rd = NULL;
    index_rec got, want;
    uint64_t i = 0;
    int rc;
    if (idxstream_open(ctx, m, k, range, &rd) < 0)
        return -2;
    index_cursor c = idxstream_cursor(rd);
    while ((rc = c.next(c.arg, &got)) == 1) {
        recs_make(i++, k != NULL, &want);
        if (!recs_equal(&got, &want)) {
            rc = -1;
            break;
        }
    }
    idxstream_close(rd);
    return rc == 0 && i == NRECS ? 0 : rc < 0 ? rc : -1;
}

static void put_bytes(ag_ctx *ctx, const unsigned char *data, size_t len)
{
    s3_error err;
    assert_int_equal(s3_put(ctx->s3, RECS_KEY, data, len, NULL, NULL, &err), 0);
}

/* The failure of opening m's index: its exit code, the message names the key and has
 * what. */
static void refused(ag_ctx *ctx, const manifest *m, const seal_key *k, int code,
                    const char *what)
{
    idxstream_reader *rd = NULL;
    ctx->exit_code = AG_OK;
    ctx->errmsg[0] = '\0';
    assert_int_equal(idxstream_open(ctx, m, k, RANGE, &rd), -1);
    assert_null(rd);
    assert_int_equal(ctx->exit_code, code);
    if (strstr(ctx->errmsg, what) == NULL)
        fail_msg("'%s' does not say '%s'", ctx->errmsg, what);
    if (code == AG_EINTEGRITY && strstr(ctx->errmsg, RECS_KEY) == NULL)
        fail_msg("'%s' does not name the key", ctx->errmsg);
    ctx->exit_code = AG_OK;
}

/* One backup's index, plain or sealed: streamed bytes, parts, read back, refusals. */
static void round_trip(int sealed)
{
    ag_ctx ctx;
    manifest m;
    char etag[S3_ETAG_MAX];
    uint64_t size;
    s3_error err;
    fake_reset(NULL);
    repo_ctx(&ctx);
    repo_manifest(&m, "20261203T120000Z");
    const seal_key *k = sealed ? &dk : NULL;
    if (sealed) {
        assert_int_equal(seal_data_new(&dk), 0);
        snprintf(m.enc.key_id, sizeof(m.enc.key_id), "0123456789abcdef");
    }
    assert_int_equal(recs_upload(&ctx, k, NRECS, &m), 0);
    size_t len;
    unsigned char *want = in_memory(&m, k, &len);
    s3_buf got;
    assert_int_equal(s3_get(ctx.s3, RECS_KEY, 0, 0, 0, &got, &err), 0);
    assert_int_equal(got.len, len);
    assert_int_equal(m.index.size, len);
    assert_memory_equal(got.data, want, len);          /* the format is unchanged */
    char sum[65];
    digest_sha256_hex(want, len, sum);
    assert_string_equal(sum, m.index_sha256);
    assert_int_equal(s3_head(ctx.s3, RECS_KEY, &size, etag, &err), 0);
    assert_non_null(strchr(etag, '-'));                 /* a multipart upload */
    assert_true(strtol(strchr(etag, '-') + 1, NULL, 10) ==
                (long)((len + (24 << 10) - 1) / (24 << 10)));

    assert_int_equal(read_back(&ctx, &m, k, RANGE), 0);
    assert_int_equal(read_back(&ctx, &m, k, 0), 0);     /* one range: the whole */
    assert_int_equal(ctx.exit_code, AG_OK);

    /* refusals: no key, a flipped byte, a forged checksum, another count, truncated */
    if (sealed)
        refused(&ctx, &m, NULL, AG_EKEY, "no configured key opens it");
    got.data[len / 2] ^= 1;
    put_bytes(&ctx, got.data, len);
    refused(&ctx, &m, k, AG_EINTEGRITY, "checksum mismatch");
    char good[65];
    memcpy(good, m.index_sha256, sizeof(good));
    digest_sha256_hex(got.data, len, m.index_sha256);   /* a manifest that agrees */
    refused(&ctx, &m, k, AG_EINTEGRITY, sealed ? "does not open" : "damaged chunk index");
    memcpy(m.index_sha256, good, sizeof(good));
    put_bytes(&ctx, want, len);
    m.index_records = NRECS - 1;
    refused(&ctx, &m, k, AG_EINTEGRITY, sealed ? "does not open" : "damaged chunk index");
    m.index_records = NRECS;
    put_bytes(&ctx, want, len - 1);
    refused(&ctx, &m, k, AG_EINTEGRITY, "checksum mismatch");

    /* changed between the passes: the cursor fails on the range that differs */
    put_bytes(&ctx, want, len);
    idxstream_reader *rd;
    assert_int_equal(idxstream_open(&ctx, &m, k, RANGE, &rd), 0);
    put_bytes(&ctx, got.data, len);                     /* the flipped byte, mid-object */
    index_cursor c = idxstream_cursor(rd);
    index_rec r;
    int rc;
    uint64_t n = 0;
    while ((rc = c.next(c.arg, &r)) == 1)
        n++;
    assert_true(rc < 0 && n < NRECS);
    assert_int_equal(ctx.exit_code, AG_EINTEGRITY);
    assert_non_null(strstr(ctx.errmsg, "changed while being read"));
    idxstream_close(rd);
    ctx.exit_code = AG_OK;

    /* a missing object */
    assert_int_equal(s3_delete(ctx.s3, RECS_KEY, &err), 0);
    assert_int_equal(idxstream_open(&ctx, &m, k, RANGE, &rd), -1);
    assert_int_equal(ctx.exit_code, AG_EINTEGRITY);
    s3_buf_free(&got);
    free(want);
    manifest_clear(&m);
    seal_key_wipe(&dk);
    ag_ctx_close(&ctx);
}

static void test_plain(void **state)
{
    (void)state;
    round_trip(0);
}

static void test_sealed(void **state)
{
    (void)state;
    round_trip(1);
}

static int count_upload(const s3_upload_info *u, void *arg)
{
    (void)u;
    (*(int *)arg)++;
    return 0;
}

/* A small index is one PUT; an upload aborted midway, or whose part is refused, leaves
 * no upload and no object. */
static void test_small_and_abort(void **state)
{
    (void)state;
    ag_ctx ctx;
    manifest m;
    char etag[S3_ETAG_MAX];
    s3_error err;
    fake_reset(NULL);
    repo_ctx(&ctx);
    repo_manifest(&m, "20261203T120000Z");
    assert_int_equal(recs_upload(&ctx, NULL, 100, &m), 0);
    assert_int_equal(s3_head(ctx.s3, RECS_KEY, NULL, etag, &err), 0);
    assert_null(strchr(etag, '-'));
    assert_int_equal(s3_delete(ctx.s3, RECS_KEY, &err), 0);

    idxstream_upload *up;
    index_writer *w;
    index_rec r;
    assert_int_equal(idxstream_upload_new(&ctx, RECS_KEY, NULL, &up), 0);
    assert_int_equal(index_writer_new_sink(idxstream_upload_sink, up, &w), 0);
    for (uint64_t i = 0; i < 5000; i++) {
        recs_make(i, 0, &r);
        assert_int_equal(index_writer_add(w, &r), 0);
    }
    int uploads = 0;
    assert_int_equal(s3_list_uploads(ctx.s3, "", count_upload, &uploads, &err), 0);
    assert_int_equal(uploads, 1);                       /* parts on their way */
    idxstream_upload_abort(up);
    uploads = 0;
    assert_int_equal(s3_list_uploads(ctx.s3, "", count_upload, &uploads, &err), 0);
    assert_int_equal(uploads, 0);
    assert_int_equal(s3_head(ctx.s3, RECS_KEY, NULL, NULL, &err), -ENOENT);
    index_writer_free(w);
    idxstream_upload_free(up);

    /* a part refused: the error names it, the upload is taken back */
    set_rules("PUT /index partNumber=3& all status 403 AccessDenied\n");
    assert_int_equal(recs_upload(&ctx, NULL, 5000, &m), -1);
    assert_int_equal(ctx.exit_code, AG_EACCESS);
    assert_non_null(strstr(ctx.errmsg, "chunk index part"));
    set_rules("");
    uploads = 0;
    assert_int_equal(s3_list_uploads(ctx.s3, "", count_upload, &uploads, &err), 0);
    assert_int_equal(uploads, 0);
    assert_int_equal(s3_head(ctx.s3, RECS_KEY, NULL, NULL, &err), -ENOENT);
    manifest_clear(&m);
    ag_ctx_close(&ctx);
}

/* A backup made by the writer: the cursor gives what catalog_load_index gives. */
static void test_writer(void **state)
{
    (void)state;
    ag_ctx ctx;
    manifest m;
    index_rec *recs = NULL, r;
    size_t n = 0, i = 0;
    idxstream_reader *rd;
    fake_reset(NULL);
    repo_ctx(&ctx);
    repo_backup(&ctx, &m, "20261203T120000Z", 8);
    assert_int_equal(catalog_load_index(&ctx, &m, NULL, &recs, &n), 0);
    assert_true(n >= 8);
    assert_int_equal(idxstream_open(&ctx, &m, NULL, 100, &rd), 0);
    index_cursor c = idxstream_cursor(rd);
    while (c.next(c.arg, &r) == 1) {
        assert_true(i < n);
        assert_true(recs_equal(&r, &recs[i++]));
    }
    assert_int_equal(i, n);
    idxstream_close(rd);
    free(recs);
    manifest_clear(&m);
    ag_ctx_close(&ctx);
}

static int run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain),
        cmocka_unit_test(test_sealed),
        cmocka_unit_test(test_small_and_abort),
        cmocka_unit_test(test_writer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

int main(void)
{
    return repo_main("test_repo_idxstream", run);
}
