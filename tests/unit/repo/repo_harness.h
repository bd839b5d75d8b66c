/* repo_harness.h - the repository layer (writer, pack, catalog) against tests/fakes3:
 * a context connected to the fake, a backup written through the writer, bucket reads.
 *
 * Included by the test_repo_* programs after fakes3_harness.h (everything is static).
 */
#ifndef RBD2S3_REPO_HARNESS_H
#define RBD2S3_REPO_HARNESS_H

#include "agent/common/context.h"
#include "agent/format/chunk.h"
#include "agent/repo/writer.h"

#define REPO_CHUNK (64u << 10)

/* The main of a test_repo_* program: run(), a cmocka group, against a fake started for
 * it. 0 or 1, or 77 (skipped) when the fake cannot start (no python3). */
static int repo_main(const char *prog, int (*run)(void))
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (start_fake() != 0) {
        fprintf(stderr, "%s: SKIP: the fake S3 server needs python3\n", prog);
        return 77;
    }
    alarm(300);                   /* a hang fails rather than stalls make check */
    int rc = run();
    stop_fake();
    return rc ? 1 : 0;
}

/* A context on the fake's bucket, small sizes so that a few chunks fill several parts
 * and data objects: parts of 24 KiB, a data object rotated past 100 KiB. */
static void repo_ctx(ag_ctx *ctx)
{
    memset(ctx, 0, sizeof(*ctx));
    ctx->command = "test";
    ctx->opts.endpoint = endpoint;
    ctx->opts.bucket = BUCKET;
    ctx->opts.access_key = AK;
    ctx->opts.secret_key = SK;
    ctx->opts.prefix = "rbd2s3";
    ctx->opts.region = "us-east-1";
    ctx->opts.tun.threads = 1;
    ctx->opts.tun.chunk_size = REPO_CHUNK;
    ctx->opts.tun.sparse_size = 4u << 10;
    ctx->opts.tun.part_size = 24u << 10;
    ctx->opts.tun.parts_in_flight = 2;
    ctx->opts.tun.gets_in_flight = 2;
    ctx->opts.tun.pack_size = 100u << 10;
    assert_non_null(ag_s3(ctx));
    s3_test_hooks h = { .backoff_base_ms = 20, .backoff_cap_ms = 100 };
    s3_test_set_hooks(ctx->s3, &h);
}

/* The manifest of a full backup id of REPO_SPEC (what backup.c fills from the image). */
static void repo_manifest(manifest *m, const char *id)
{
    manifest_init(m);
    snprintf(m->id, sizeof(m->id), "%s", id);
    snprintf(m->tool, sizeof(m->tool), "rbd2s3 test");
    snprintf(m->pool, sizeof(m->pool), "rbd");
    snprintf(m->image, sizeof(m->image), "vm1");
    snprintf(m->image_id, sizeof(m->image_id), "abc123");
    m->size = 8 * (uint64_t)REPO_CHUNK;
    m->order = 22;
    snprintf(m->snap_name, sizeof(m->snap_name), "rbd2s3-%s", id);
    m->snap_id = 4;
    m->snap_time = 1764000000;
    m->full = 1;
    m->chunk_size = REPO_CHUNK;
}

/* Chunk i of the test image: incompressible bytes, but chunk 3 zeros (a zero record). */
static void repo_chunk_data(unsigned char *buf, unsigned i)
{
    uint32_t x = 2463534242u + i * 7919u;
    for (size_t k = 0; k < REPO_CHUNK; k++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        buf[k] = i == 3 ? 0 : (unsigned char)x;
    }
}

/* Write chunks [0, n) of the test image into w (totals into m); 0 or -1. */
static int repo_write_chunks(writer *w, manifest *m, unsigned n)
{
    static unsigned char buf[REPO_CHUNK];
    chunk_enc e;
    assert_int_equal(chunk_enc_init(&e, REPO_CHUNK, 4u << 10, DIGEST_XXH3), 0);
    int rc = 0;
    for (unsigned i = 0; i < n && rc == 0; i++) {
        repo_chunk_data(buf, i);
        chunk_encode(&e, buf, REPO_CHUNK, (uint64_t)i * REPO_CHUNK);
        rc = writer_pieces(w, m, (uint64_t)i * REPO_CHUNK, buf, &e);
    }
    chunk_enc_free(&e);
    return rc;
}

/* Write and commit backup id with n chunks; m receives its manifest. */
static __attribute__((unused)) void repo_backup(ag_ctx *ctx, manifest *m, const char *id,
                                               unsigned n)
{
    writer *w = NULL;
    repo_manifest(m, id);
    assert_int_equal(writer_open(ctx, "rbd2s3/rbd/vm1/", id, &w), 0);
    assert_int_equal(repo_write_chunks(w, m, n), 0);
    assert_int_equal(writer_commit(w, m), 0);
    writer_free(w);
}

/* ---- the bucket as the fake holds it ---- */

typedef struct repo_keys {
    char key[64][256];
    uint64_t size[64];
    int n;
} repo_keys;

static int on_key(const s3_object_info *o, void *arg)
{
    repo_keys *k = arg;
    if (k->n < 64) {
        snprintf(k->key[k->n], sizeof(k->key[0]), "%s", o->key);
        k->size[k->n++] = o->size;
    }
    return 0;
}

/* Every key of the bucket, in listing order. */
static __attribute__((unused)) void repo_list(ag_ctx *ctx, repo_keys *k)
{
    s3_error err;
    memset(k, 0, sizeof(*k));
    memset(&err, 0, sizeof(err));
    assert_int_equal(s3_list(ctx->s3, "", NULL, on_key, k, &err), 0);
}

/* The size of key in k, or -1 when it is not there. */
static __attribute__((unused)) long long repo_size(const repo_keys *k, const char *key)
{
    for (int i = 0; i < k->n; i++)
        if (strcmp(k->key[i], key) == 0)
            return (long long)k->size[i];
    return -1;
}

#endif
