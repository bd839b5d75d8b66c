/* test_repo_sealed.c - an encrypted backup's bytes against tests/fakes3: the writer seals
 * every data record at its place (records spanning parts or not) and the index, the
 * catalog opens the index with the data key only, and chunk_read gives back the chunks. */
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

#include "agent/config/keyring.h"
#include "agent/repo/catalog.h"

#define ID "20261203T015000Z"
#define NCHUNKS 6

static char keyfile[64];

/* A context whose keyring encrypts (a fresh key file), parts of part_size bytes. */
static void sealed_ctx(ag_ctx *ctx, size_t part_size)
{
    repo_ctx(ctx);
    ctx->opts.tun.part_size = part_size;
    snprintf(keyfile, sizeof(keyfile), "/tmp/rbd2s3-sealed-key.%d", (int)getpid());
    unlink(keyfile);
    assert_int_equal(keyring_create_file(keyfile), 0);
    ctx->opts.encryption = 1;
    ctx->opts.key_file = keyfile;
    int code = 0;
    assert_int_equal(keyring_load(&ctx->opts, &ctx->keys, &code), 0);
    assert_non_null(ctx->keys);
}

static void sealed_close(ag_ctx *ctx)
{
    keyring_free(ctx->keys);
    ctx->keys = NULL;
    unlink(keyfile);
    ag_ctx_close(ctx);
}

/* Write NCHUNKS chunks and commit; *dk receives a copy of the data key. */
static void sealed_backup(ag_ctx *ctx, manifest *m, seal_key *dk)
{
    writer *w = NULL;
    repo_manifest(m, ID);
    assert_int_equal(writer_open(ctx, "rbd2s3/rbd/vm1/", ID, &w), 0);
    assert_non_null(writer_data_key(w));
    *dk = *writer_data_key(w);
    assert_int_equal(repo_write_chunks(w, m, NCHUNKS), 0);
    assert_int_equal(writer_commit(w, m), 0);
    writer_free(w);
    m->enc.on = 1;              /* what the manifest of an encrypted backup says */
}

/* Every data record opens at its place and gives back its chunk; none opens moved. */
static void check_records(ag_ctx *ctx, const manifest *m, const seal_key *dk)
{
    index_rec *recs = NULL;
    size_t n = 0;
    assert_int_equal(catalog_load_index(ctx, m, dk, &recs, &n), 0);
    assert_int_equal(n, NCHUNKS);
    chunk_owner o = { dk, m->id, m->image_id };
    static unsigned char want[REPO_CHUNK], buf[REPO_CHUNK];
    for (size_t i = 0; i < n; i++) {
        const index_rec *r = &recs[i];
        if (r->flags & INDEX_FLAG_ZERO)
            continue;
        assert_true(r->flags & INDEX_FLAG_SEALED);
        assert_int_equal(r->stored_length, REPO_CHUNK + SEAL_TAG_LEN);   /* raw + tag */
        s3_buf body;
        s3_error err;
        memset(&err, 0, sizeof(err));
        assert_int_equal(s3_get(ctx->s3, m->objects[r->obj].key, r->obj_offset,
                                r->stored_length, 0, &body, &err), 0);
        assert_int_equal(body.len, r->stored_length);
        repo_chunk_data(want, (unsigned)(r->offset / REPO_CHUNK));
        assert_null(memmem(body.data, body.len, want + 100, 64));   /* no plaintext */
        unsigned char *copy = malloc(body.len);
        assert_non_null(copy);
        memcpy(copy, body.data, body.len);
        const unsigned char *out = NULL;
        assert_int_equal(chunk_read(&o, r, body.data, body.len, buf, sizeof(buf), &out), 0);
        assert_memory_equal(out, want, REPO_CHUNK);
        index_rec moved = *r;
        moved.offset += REPO_CHUNK;
        out = NULL;
        assert_int_equal(chunk_read(&o, &moved, copy, body.len, buf, sizeof(buf), &out),
                         -EKEYREJECTED);
        free(copy);
        s3_buf_free(&body);
    }
    free(recs);
}

static void run_case(size_t part_size)
{
    ag_ctx ctx;
    manifest m;
    seal_key dk;
    sealed_ctx(&ctx, part_size);
    sealed_backup(&ctx, &m, &dk);
    assert_int_equal(m.stored_bytes, (NCHUNKS - 1) * (REPO_CHUNK + SEAL_TAG_LEN));
    repo_keys k;
    repo_list(&ctx, &k);
    assert_int_equal(repo_size(&k, m.index.key), (long long)m.index.size);
    check_records(&ctx, &m, &dk);

    /* the index does not open without the key, or as another backup's or image's */
    index_rec *recs = NULL;
    size_t n = 0;
    assert_int_equal(catalog_load_index(&ctx, &m, NULL, &recs, &n), -1);
    assert_int_equal(ctx.exit_code, AG_EKEY);
    ctx.exit_code = AG_OK;
    manifest other = m;
    snprintf(other.image_id, sizeof(other.image_id), "abc124");
    assert_int_equal(catalog_load_index(&ctx, &other, &dk, &recs, &n), -1);
    assert_int_equal(ctx.exit_code, AG_EINTEGRITY);
    ctx.exit_code = AG_OK;
    other = m;
    other.enc.on = 0;           /* sealed bytes read as a plain backup's: refused */
    assert_int_equal(catalog_load_index(&ctx, &other, NULL, &recs, &n), -1);
    assert_int_equal(ctx.exit_code, AG_EINTEGRITY);
    seal_key_wipe(&dk);
    manifest_clear(&m);
    sealed_close(&ctx);
}

/* Parts of 24 KiB: every sealed record spans parts (sealed into the scratch buffer). */
static void test_records_span_parts(void **state)
{
    (void)state;
    run_case(24u << 10);
}

/* Parts of 200 KiB: records sealed straight into the part buffer. */
static void test_records_in_place(void **state)
{
    (void)state;
    run_case(200u << 10);
}

static int run_group(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_records_span_parts, fake_reset),
        cmocka_unit_test_setup(test_records_in_place, fake_reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

int main(void)
{
    (void)repo_backup;          /* the harness's plain backup: not used here */
    return repo_main("test_repo_sealed", run_group);
}
