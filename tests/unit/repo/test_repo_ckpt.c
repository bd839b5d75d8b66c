/* test_repo_ckpt.c - checkpoints (ckpt.c, writer_checkpoint/writer_resume) against
 * tests/fakes3: a backup checkpointed, suspended and resumed by a second writer commits
 * the same index as one written straight through; the checkpoint is gone after the
 * commit; a checkpoint.json that is not ours, or whose objects changed, is refused. */
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
#include "agent/repo/catalog.h"
#include "agent/repo/ckpt.h"

#define ID1 "20261201T100000Z"
#define ID2 "20261201T110000Z"
#define IMAGE "rbd2s3/rbd/vm1/"

/* Chunks [a, b) of the test image into w. */
static void write_range(writer *w, manifest *m, unsigned a, unsigned b)
{
    static unsigned char buf[REPO_CHUNK];
    chunk_enc e;
    assert_int_equal(chunk_enc_init(&e, REPO_CHUNK, 4u << 10, DIGEST_XXH3), 0);
    for (unsigned i = a; i < b; i++) {
        repo_chunk_data(buf, i);
        chunk_encode(&e, buf, REPO_CHUNK, (uint64_t)i * REPO_CHUNK);
        assert_int_equal(writer_pieces(w, m, (uint64_t)i * REPO_CHUNK, buf, &e), 0);
    }
    chunk_enc_free(&e);
}

static void put_text(ag_ctx *ctx, const char *key, const char *text)
{
    s3_error err;
    memset(&err, 0, sizeof(err));
    assert_int_equal(s3_put(ctx->s3, key, text, strlen(text), "application/json", NULL, &err),
                     0);
}

/* Backup id written through chunk b with a checkpoint after chunk a, then suspended (the
 * chunks past a are lost, as in a killed run); m is cleared. */
static void checkpointed(ag_ctx *ctx, manifest *m, const char *id, unsigned a, unsigned b)
{
    writer *w = NULL;
    repo_manifest(m, id);
    assert_int_equal(writer_open(ctx, IMAGE, id, &w), 0);
    assert_int_equal(writer_checkpoint_begin(w, m), 0);
    write_range(w, m, 0, a);
    assert_int_equal(writer_checkpoint(w, m, a * (uint64_t)REPO_CHUNK), 0);
    write_range(w, m, a, b);
    assert_true(writer_checkpointed(w));
    writer_suspend(w);
    writer_free(w);
    manifest_clear(m);
}

/* Checkpoint after 5 chunks, 2 more written and lost (suspended), resumed by another
 * writer: the committed backup equals a straight one; no checkpoint key is left. */
static void test_resume(void **state)
{
    (void)state;
    ag_ctx ctx;
    manifest straight, m;
    repo_ctx(&ctx);
    repo_backup(&ctx, &straight, ID1, 8);

    checkpointed(&ctx, &m, ID2, 5, 7);

    ckpt c;
    char bad[NAMING_ID_LEN];
    char why[256];
    assert_int_equal(ckpt_find(&ctx, IMAGE, &c, bad), 1);
    assert_string_equal(c.id, ID2);
    assert_int_equal(c.pos, 5 * (uint64_t)REPO_CHUNK);
    assert_int_equal(c.nsegs, 1);
    assert_true(c.nobjs >= 1);
    assert_int_equal(ckpt_check(&ctx, IMAGE, &c, why, sizeof(why)), 1);

    writer *w = NULL;
    repo_manifest(&m, ID2);
    assert_int_equal(writer_open(&ctx, IMAGE, ID2, &w), 0);
    assert_int_equal(writer_checkpoint_begin(w, &m), 0);
    assert_int_equal(writer_resume(w, &m, &c), 0);
    write_range(w, &m, 5, 8);
    assert_int_equal(writer_commit(w, &m), 0);
    writer_checkpoint_drop(w);
    writer_free(w);
    assert_int_equal(m.data_bytes, straight.data_bytes);
    assert_int_equal(m.chunks, straight.chunks);
    assert_int_equal(m.index_records, straight.index_records);

    naming_spec spec;
    assert_int_equal(naming_parse_spec("rbd/vm1", 0, &spec), 0);
    catalog cat;
    assert_int_equal(catalog_load(&ctx, &spec, &cat), 0);
    assert_int_equal(cat.n, 2);
    index_rec *recs = NULL;
    size_t n = 0;
    assert_int_equal(catalog_load_index(&ctx, &cat.e[1].m, cat.e[1].dk, &recs, &n), 0);
    assert_int_equal(n, 8);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(recs[i].offset, i * REPO_CHUNK);
    free(recs);
    catalog_free(&cat);
    ckpt_clear(&c);
    assert_int_equal(ckpt_find(&ctx, IMAGE, &c, bad), 0);     /* dropped after the commit */
    assert_string_equal(bad, "");
    manifest_clear(&m);
    manifest_clear(&straight);
    ag_ctx_close(&ctx);
}

/* Untrusted answers: not JSON, wrong types, a data object that differs. */
static void test_untrusted(void **state)
{
    (void)state;
    ag_ctx ctx;
    repo_ctx(&ctx);
    ckpt c;
    char bad[NAMING_ID_LEN], why[256];
    put_text(&ctx, IMAGE ID2 "/checkpoint.json", "{\"format\": 1, \"id\": [");
    assert_int_equal(ckpt_find(&ctx, IMAGE, &c, bad), 0);
    assert_string_equal(bad, ID2);
    put_text(&ctx, IMAGE ID2 "/checkpoint.json", "{\"format\": 1, \"id\": 7}");
    assert_int_equal(ckpt_find(&ctx, IMAGE, &c, bad), 0);
    assert_string_equal(bad, ID2);
    ckpt_drop(&ctx, IMAGE, ID2, 0, 1);
    assert_int_equal(ckpt_find(&ctx, IMAGE, &c, bad), 0);
    assert_string_equal(bad, "");

    manifest m;
    checkpointed(&ctx, &m, ID2, 3, 3);
    put_text(&ctx, IMAGE ID2 "/data.0", "not the data");
    assert_int_equal(ckpt_find(&ctx, IMAGE, &c, bad), 1);
    assert_int_equal(ckpt_check(&ctx, IMAGE, &c, why, sizeof(why)), 0);
    assert_non_null(strstr(why, "data.0"));
    ckpt_clear(&c);
    ag_ctx_close(&ctx);
}

static int run_group(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_resume, fake_reset),
        cmocka_unit_test_setup(test_untrusted, fake_reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

int main(void)
{
    return repo_main("test_repo_ckpt", run_group);
}
