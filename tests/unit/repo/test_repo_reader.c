/* test_repo_reader.c - the random-access reader of a backup point (agent/restore/reader.c)
 * against tests/fakes3: random reads of a chain equal the image it saved, zero records cost
 * no GET, sequential reads fetch ahead, a small cache stays correct, a damaged chunk fails
 * its read (no byte given out) and leaves the reader usable, an unknown backup is refused
 * with ctx left clean. */
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
#include "agent/restore/reader.h"

#define ID1 "20261201T100000Z"
#define ID2 "20261201T110000Z"
#define NCHUNK 8u
#define SIZE ((uint64_t)NCHUNK * REPO_CHUNK)

static unsigned char image[SIZE];   /* what the point of ID2 holds */

/* Backup ID2 on ID1: chunk 1 rewritten with the data of chunk 100, chunk 5 zeroed. */
static void backup_incremental(ag_ctx *ctx, manifest *m)
{
    static unsigned char buf[REPO_CHUNK];
    writer *w = NULL;
    chunk_enc e;
    repo_manifest(m, ID2);
    m->full = 0;
    snprintf(m->parent_id, sizeof(m->parent_id), ID1);
    snprintf(m->parent_snap, sizeof(m->parent_snap), "rbd2s3-" ID1);
    assert_int_equal(writer_open(ctx, "rbd2s3/rbd/vm1/", ID2, &w), 0);
    assert_int_equal(chunk_enc_init(&e, REPO_CHUNK, 4u << 10, DIGEST_XXH3), 0);
    repo_chunk_data(buf, 100);
    chunk_encode(&e, buf, REPO_CHUNK, REPO_CHUNK);
    assert_int_equal(writer_pieces(w, m, REPO_CHUNK, buf, &e), 0);
    memset(buf, 0, sizeof(buf));
    chunk_encode(&e, buf, REPO_CHUNK, 5 * (uint64_t)REPO_CHUNK);
    assert_int_equal(writer_pieces(w, m, 5 * (uint64_t)REPO_CHUNK, buf, &e), 0);
    chunk_enc_free(&e);
    assert_int_equal(writer_commit(w, m), 0);
    writer_free(w);
}

/* The chain ID1 (NCHUNK chunks), ID2 on it; image[] holds the point of ID2. */
static void make_chain(ag_ctx *ctx)
{
    manifest m1, m2;
    repo_ctx(ctx);
    repo_backup(ctx, &m1, ID1, NCHUNK);
    backup_incremental(ctx, &m2);
    for (unsigned i = 0; i < NCHUNK; i++)
        repo_chunk_data(image + (uint64_t)i * REPO_CHUNK, i == 1 ? 100 : i);
    memset(image + 5 * (uint64_t)REPO_CHUNK, 0, REPO_CHUNK);
    manifest_clear(&m1);
    manifest_clear(&m2);
}

static reader *open_point(ag_ctx *ctx, const char *s, uint64_t cache)
{
    naming_spec spec;
    reader *r = NULL;
    char why[512];
    reader_opts o = { .cache_bytes = cache };
    assert_int_equal(naming_parse_spec(s, 1, &spec), 0);
    int code = reader_open(ctx, &spec, &o, &r, why, sizeof(why));
    if (code != AG_OK)
        fail_msg("reader_open %s: %d %s", s, code, why);
    return r;
}

static void expect_range(reader *r, uint64_t off, size_t len)
{
    static unsigned char got[SIZE];
    char why[512] = "";
    ssize_t n = reader_read(r, off, got, len, why, sizeof(why));
    size_t want = off >= SIZE ? 0 : (len < SIZE - off ? len : (size_t)(SIZE - off));
    if (n < 0)
        fail_msg("read %llu+%zu: %zd %s", (unsigned long long)off, len, n, why);
    assert_int_equal((size_t)n, want);
    assert_memory_equal(got, image + off, want);
}

/* 300 random reads, some across chunks and past the end, equal the image; the newest
 * point is the default; the whole image in one read too. */
static void test_random_reads(void **state)
{
    (void)state;
    ag_ctx ctx;
    make_chain(&ctx);
    reader *r = open_point(&ctx, "rbd/vm1", 0);
    assert_string_equal(reader_backup_id(r), ID2);
    assert_int_equal(reader_size(r), SIZE);
    uint32_t x = 12345;
    for (int i = 0; i < 300; i++) {
        x = x * 1103515245u + 12345u;
        uint64_t off = (x >> 4) % (SIZE + 1000);
        x = x * 1103515245u + 12345u;
        expect_range(r, off, 1 + (x >> 8) % (3 * REPO_CHUNK));
    }
    expect_range(r, 0, SIZE);
    expect_range(r, SIZE, 10);
    assert_int_equal(ctx.exit_code, AG_OK);
    reader_close(r);
    ag_ctx_close(&ctx);
}

/* The older point reads its own bytes: chunk 1 as the full saved it. */
static void test_older_point(void **state)
{
    (void)state;
    ag_ctx ctx;
    static unsigned char want[REPO_CHUNK], got[REPO_CHUNK];
    char why[512];
    make_chain(&ctx);
    reader *r = open_point(&ctx, "rbd/vm1@" ID1, 0);
    repo_chunk_data(want, 1);
    assert_int_equal(reader_read(r, REPO_CHUNK, got, REPO_CHUNK, why, sizeof(why)),
                     REPO_CHUNK);
    assert_memory_equal(got, want, REPO_CHUNK);
    reader_close(r);
    ag_ctx_close(&ctx);
}

/* Zero records cost no GET; a sequential read fetches ahead (on the ahead thread), so
 * that the next reads fetch none of their own; a small cache holds about its bound and
 * stays correct. */
static void test_zeros_ahead_cache(void **state)
{
    (void)state;
    ag_ctx ctx;
    reader_stats st;
    make_chain(&ctx);
    reader *r = open_point(&ctx, "rbd/vm1", 0);
    expect_range(r, 3 * (uint64_t)REPO_CHUNK + 100, 1000);   /* the full's zero chunk */
    expect_range(r, 5 * (uint64_t)REPO_CHUNK, REPO_CHUNK);   /* zeroed by ID2 */
    reader_stats_get(r, &st);
    assert_int_equal(st.gets, 0);
    reader_close(r);

    r = open_point(&ctx, "rbd/vm1", 0);
    for (uint64_t off = 0; off < 3 * (uint64_t)REPO_CHUNK; off += 4096)
        expect_range(r, off, 4096);
    reader_stats_get(r, &st);
    assert_int_equal(st.misses, 1);           /* chunk 0; the next ones came ahead */
    assert_true(st.gets >= 3);
    reader_close(r);

    r = open_point(&ctx, "rbd/vm1", REPO_CHUNK);
    for (uint64_t off = SIZE; off > 0; off -= REPO_CHUNK / 2)
        expect_range(r, off - REPO_CHUNK / 2, REPO_CHUNK / 2);
    reader_stats_get(r, &st);
    assert_true(st.cached <= 2 * (uint64_t)REPO_CHUNK);
    reader_close(r);
    ag_ctx_close(&ctx);
}

/* A flipped byte in a stored chunk fails the reads of that chunk with -EILSEQ and a line
 * naming the data object; other chunks still read right; ctx stays clean. */
static void test_damaged_chunk(void **state)
{
    (void)state;
    ag_ctx ctx;
    unsigned char got[4096];
    char why[512] = "";
    make_chain(&ctx);
    s3_buf body;
    s3_error err;
    memset(&err, 0, sizeof(err));
    const char *key = "rbd2s3/rbd/vm1/" ID1 "/data.0";
    assert_int_equal(s3_get(ctx.s3, key, 0, 0, 0, &body, &err), 0);
    body.data[10] ^= 0x01;                    /* inside chunk 0's stored bytes */
    assert_int_equal(s3_put(ctx.s3, key, body.data, body.len, "application/octet-stream",
                            NULL, &err), 0);
    s3_buf_free(&body);
    reader *r = open_point(&ctx, "rbd/vm1", 0);
    assert_int_equal(reader_read(r, 0, got, sizeof(got), why, sizeof(why)), -EILSEQ);
    assert_non_null(strstr(why, "data.0"));
    assert_int_equal(reader_read(r, 0, got, sizeof(got), why, sizeof(why)), -EILSEQ);
    expect_range(r, 2 * (uint64_t)REPO_CHUNK, 4096);
    assert_int_equal(ctx.exit_code, AG_OK);
    reader_close(r);
    ag_ctx_close(&ctx);
}

/* An unknown backup: AG_ENOTFOUND, a line, and no error left in ctx. */
static void test_unknown_backup(void **state)
{
    (void)state;
    ag_ctx ctx;
    naming_spec spec;
    reader *r = NULL;
    char why[512] = "";
    make_chain(&ctx);
    assert_int_equal(naming_parse_spec("rbd/vm1@20200101T000000Z", 1, &spec), 0);
    assert_int_equal(reader_open(&ctx, &spec, NULL, &r, why, sizeof(why)), AG_ENOTFOUND);
    assert_null(r);
    assert_true(why[0] != '\0');
    assert_int_equal(ctx.exit_code, AG_OK);
    ag_ctx_close(&ctx);
}

static int run_group(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_random_reads, fake_reset),
        cmocka_unit_test_setup(test_older_point, fake_reset),
        cmocka_unit_test_setup(test_zeros_ahead_cache, fake_reset),
        cmocka_unit_test_setup(test_damaged_chunk, fake_reset),
        cmocka_unit_test_setup(test_unknown_backup, fake_reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

int main(void)
{
    return repo_main("test_repo_reader", run_group);
}
