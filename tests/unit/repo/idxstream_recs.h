/* idxstream_recs.h - synthetic chunk index records for the idxstream tests, and an index of
 * them written through the streaming writer into the bucket (everything here is static).
 *
 * Included by test programs after repo_harness.h.
 */
#ifndef RBD2S3_IDXSTREAM_RECS_H
#define RBD2S3_IDXSTREAM_RECS_H

#include "agent/format/index.h"
#include "agent/format/seal.h"
#include "agent/repo/idxstream.h"

#define RECS_CHUNK (1u << 20)
#define RECS_KEY "rbd2s3/rbd/vm1/20261203T120000Z/index"

/* Record i of a synthetic image of 1 MiB chunks: every seventh a zero range, the others
 * data with a digest of their own (sealed when sealed is set). */
static void recs_make(uint64_t i, int sealed, index_rec *r)
{
    memset(r, 0, sizeof(*r));
    r->offset = i * RECS_CHUNK;
    r->length = RECS_CHUNK;
    if (i % 7 == 3) {
        r->flags = INDEX_FLAG_ZERO;
        return;
    }
    r->obj = (uint32_t)(i / 4096);
    r->obj_offset = (i % 4096) * 700000;
    r->stored_length = 400000 + (uint32_t)(i % 1000) + (sealed ? SEAL_TAG_LEN : 0);
    r->flags = INDEX_FLAG_XXH3 | (sealed ? INDEX_FLAG_SEALED : 0);
    uint64_t x = i * 0x9E3779B97F4A7C15ULL + 1;
    for (int k = 0; k < 16; k++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        r->digest[k] = (uint8_t)x;
    }
}

/* 1 when a equals b field by field. */
static int recs_equal(const index_rec *a, const index_rec *b)
{
    return a->offset == b->offset && a->length == b->length && a->obj == b->obj &&
           a->flags == b->flags && a->obj_offset == b->obj_offset &&
           a->stored_length == b->stored_length &&
           memcmp(a->digest, b->digest, DIGEST_LEN) == 0;
}

/* Write n records through the streaming writer as the index of backup m->id (sealed under
 * dk when not NULL) at RECS_KEY, and fill m's index fields as writer.c does. 0, or -1. */
static int recs_upload(ag_ctx *ctx, const seal_key *dk, uint64_t n, manifest *m)
{
    idxstream_upload *up = NULL;
    index_writer *w = NULL;
    index_rec r;
    const unsigned char *data;
    size_t len;
    uint64_t size;
    int rc = idxstream_upload_new(ctx, RECS_KEY, dk, &up);
    if (rc == 0)
        rc = index_writer_new_sink(idxstream_upload_sink, up, &w);
    for (uint64_t i = 0; i < n && rc == 0; i++) {
        recs_make(i, dk != NULL, &r);
        rc = index_writer_add(w, &r);
    }
    if (rc == 0)
        rc = index_writer_finish(w, &data, &len);
    if (rc == 0)
        rc = idxstream_upload_finish(up, m->id, m->image_id, n, &size, m->index_sha256);
    if (rc == 0 && manifest_set_index(m, RECS_KEY, size) != 0)
        rc = -1;
    m->index_records = n;
    m->enc.on = dk != NULL;
    if (rc != 0)
        idxstream_upload_abort(up);
    index_writer_free(w);
    idxstream_upload_free(up);
    return rc == 0 ? 0 : -1;
}

#endif
