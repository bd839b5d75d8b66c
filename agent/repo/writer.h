/* writer.h - one backup's objects in the bucket: data objects and chunk index being
 * written, then the manifest as the commit; or all of it taken back on failure. Shared
 * by backup (from an image) and import-diff (from a stream). */
#ifndef RBD2S3_WRITER_H
#define RBD2S3_WRITER_H

#include "agent/common/context.h"
#include "agent/format/chunk.h"
#include "agent/repo/ckpt.h"

/* The writer of one backup (opaque). Uses ctx->s3 from the calling thread only. */
typedef struct writer writer;

/* Start writing backup id of the image under prefix: *out receives a new writer (free
 * it with writer_free). 0, or -1 (error recorded, *out untouched). Makes no request. */
int writer_open(ag_ctx *ctx, const char *prefix, const char *id, writer **out);

/* The data key of the backup being written: a new random one when the repository
 * encrypts (keyring_encrypts of ctx->keys), NULL for a plain backup. Owned by the
 * writer (wiped by writer_free); chunks and the index are sealed under it. */
const seal_key *writer_data_key(const writer *w);

/* Append a zero range's record (adjacent zero ranges are merged into one record).
 * Totals go into m. 0 or -1 (error recorded). */
int writer_zero(writer *w, manifest *m, uint64_t off, uint64_t len);

/* The runs of one chunk at image offset off as chunk_encode made them from data (raw
 * runs are stored from data, the others from e->comp). Totals go into m. Drives the
 * uploads, and blocks while every part buffer is in flight. 0 or -1 (error recorded). */
int writer_pieces(writer *w, manifest *m, uint64_t off, const unsigned char *data,
                  const chunk_enc *e);

/* 1 while uploads are in flight (writer_poll has work to do), else 0. Cannot fail. */
int writer_busy(const writer *w);

/* Let the uploads in flight progress for up to timeout_ms (0: only what is ready).
 * 0, or -1 (error recorded) once an upload failed or the run was interrupted. */
int writer_poll(writer *w, int timeout_ms);

/* Finish the data objects (into m's object list) and the index upload (its parts went
 * up as the records were made: idxstream.h), then the manifest. 0 once the backup exists,
 * -1 (error recorded) otherwise. */
int writer_commit(writer *w, manifest *m);

/* Take back everything written (uploads aborted, objects and index deleted, best
 * effort); the writer is then only good for writer_free. Safe on NULL. */
void writer_abort(writer *w);
/* Free the writer (no request is made). Safe on NULL. */
void writer_free(writer *w);

/* The one-line JSON summary of a committed backup on stdout (--format json). */
void writer_print_json(const char *name, const manifest *m);
/* The same summary as a new json-c object, for a caller that adds fields; the caller
 * puts it (json_object_put). */
struct json_object *writer_json(const char *name, const manifest *m);

/* ---- Checkpoints of a backup under way (agent/repo/ckpt.h) ----
 * writer_checkpoint_begin: from now on the writer keeps the records since the last
 * checkpoint, for m's backup (its snapshot, parent, image id and chunk size); nothing
 * for an encrypted backup (no checkpoint is written). 0 or -1 (error recorded). */
int writer_checkpoint_begin(writer *w, const manifest *m);
/* Every record of the diff before pos is in: complete the open data object and write a
 * checkpoint (a segment of the new records, then checkpoint.json). No-op without
 * writer_checkpoint_begin. 0 or -1 (error recorded). */
int writer_checkpoint(writer *w, manifest *m, uint64_t pos);
/* Continue from checkpoint c (checked by the caller): its objects become this writer's,
 * its records are re-fed, m's totals are its. Before any append. 0 or -1. */
int writer_resume(writer *w, manifest *m, const ckpt *c);
/* 1 when a checkpoint of this writer exists in the bucket. */
int writer_checkpointed(const writer *w);
/* Instead of writer_abort when the checkpoint is kept: abort the open upload only (the
 * checkpoint's objects stay); then only good for writer_free. Safe on NULL. */
void writer_suspend(writer *w);
/* After the commit: delete the checkpoint's own objects (best effort). */
void writer_checkpoint_drop(writer *w);

#endif
