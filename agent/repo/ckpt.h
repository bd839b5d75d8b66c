/* ckpt.h - the checkpoint of a backup under way: what an interrupted backup resumes from.
 *
 * A checkpoint lives in the backup's folder, "<image prefix><id>/": checkpoint.json (the
 * snapshot, parent, image id, the diff position up to which every record is durable, the
 * completed data objects, the manifest totals so far) and the index records so far as
 * segments checkpoint.<k> in the index format. A folder without manifest.json is never a
 * backup: catalog, list and verify ignore it. */
#ifndef RBD2S3_CKPT_H
#define RBD2S3_CKPT_H

#include "agent/common/context.h"
#include "agent/format/index.h"

typedef struct ckpt_obj {
    char key[1024];
    uint64_t size;
    char etag[S3_ETAG_MAX];
} ckpt_obj;

typedef struct ckpt {
    char id[NAMING_ID_LEN];
    char snap[NAMING_MAX];
    char parent_id[32];        /* "" for a full */
    char image_id[64];
    uint64_t pos;              /* every record of the diff before pos is durable */
    uint64_t chunk_size;
    uint64_t data_bytes, zero_bytes, stored_bytes, chunks, zero_chunks;
    int nsegs;                 /* segments checkpoint.0 .. checkpoint.<nsegs - 1> */
    time_t written;            /* the checkpoint.json's last modification (ckpt_find) */
    ckpt_obj *objs;            /* data.0 .. data.<nobjs - 1>, completed */
    size_t nobjs;
} ckpt;

/* Free what c holds (safe on a zeroed c). */
void ckpt_clear(ckpt *c);

/* Append a completed data object to c. 0 or -1 (error recorded). */
int ckpt_add_obj(ag_ctx *ctx, ckpt *c, const char *key, uint64_t size, const char *etag);

/* Write segment c->nsegs (seg[0..len), an index frame) then checkpoint.json for c under
 * image_prefix; c->nsegs grows by one. 0 or -1 (error recorded). */
int ckpt_save(ag_ctx *ctx, const char *image_prefix, ckpt *c, const unsigned char *seg,
              size_t len);

/* The newest checkpoint of the image under image_prefix into *c: 1 found, 0 none, -1 an
 * S3 failure (error recorded). A checkpoint.json that cannot be parsed is reported by
 * *bad (its backup id, for ckpt_drop) with 0 returned. */
int ckpt_find(ag_ctx *ctx, const char *image_prefix, ckpt *c, char bad[NAMING_ID_LEN]);

/* Is what c lists still in the bucket as recorded: data.0 .. data.<nobjs - 1> of its
 * folder under image_prefix, each of the recorded size and ETag? 1 yes, 0 no (*why says
 * what differs), -1 an S3 failure (error recorded). */
int ckpt_check(ag_ctx *ctx, const char *image_prefix, const ckpt *c, char *why,
               size_t whysz);

/* Call fn on every record of c's segments, in order. 0, or -1 (error recorded; fn's
 * failure too). */
int ckpt_records(ag_ctx *ctx, const char *image_prefix, const ckpt *c,
                 int (*fn)(void *arg, const index_rec *r), void *arg);

/* Delete the checkpoint of backup id (checkpoint.json and its nsegs segments); with
 * whole, every object of the folder and its unfinished uploads instead (a stale
 * checkpoint). Best effort: failures are warnings (but a failed listing, recorded). */
void ckpt_drop(ag_ctx *ctx, const char *image_prefix, const char *id, int nsegs, int whole);

/* Abort every unfinished upload under folder (best effort, warnings). */
void ckpt_abort_uploads(ag_ctx *ctx, const char *folder);

#endif
