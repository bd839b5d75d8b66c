/* pack.h - a backup's data objects (data.N) being filled: compressed chunks packed back to
 * back into multipart uploads, the next object begun past `pack size`. */
#ifndef RBD2S3_PACK_H
#define RBD2S3_PACK_H

#include "agent/common/context.h"

typedef struct pack_writer pack_writer;

/* A writer for the data objects of backup id under image_prefix. Uses ctx->s3 from
 * the calling thread only. Returns 0 or -1 (error recorded). */
int pack_new(ag_ctx *ctx, const char *image_prefix, const char *id, pack_writer **out);

/* Append len bytes; *obj (N of data.N) and *off receive where they start. Drives uploads,
 * and blocks while every part buffer is in flight. 0 or -1 (error recorded). */
int pack_append(pack_writer *p, const void *data, size_t len, uint32_t *obj, uint64_t *off);

/* Writes the len bytes of an append that start at offset off of data object obj into
 * dst[0..len) (sealing them for that place). 0, or -1 with the error recorded. */
typedef int (*pack_fill_fn)(void *arg, uint32_t obj, uint64_t off, unsigned char *dst,
                            size_t len);

/* pack_append of len bytes that fill writes once their place is known: straight into
 * the part buffer when they fit in it, else into a scratch buffer that is then copied
 * across parts. Same returns as pack_append (and fill's failure). */
int pack_append_fill(pack_writer *p, size_t len, pack_fill_fn fill, void *arg,
                     uint32_t *obj, uint64_t *off);

/* Let uploads progress for up to timeout_ms; 0 or -1 (error recorded). */
int pack_poll(pack_writer *p, int timeout_ms);
/* 1 when uploads are in flight. */
int pack_busy(const pack_writer *p);

/* Start the upload of the part being filled (the open object's last), so that it
 * proceeds while the caller makes other requests. 0 or -1 (error recorded). */
int pack_flush(pack_writer *p);

/* Upload what is left, complete every object and add them to m. 0 or -1. */
int pack_finish(pack_writer *p, manifest *m);

/* Abort the open multipart upload and delete the objects this writer completed
 * (best effort), then free. Safe on NULL. */
void pack_abort(pack_writer *p);
void pack_free(pack_writer *p);

/* Checkpoints (agent/repo/ckpt.h). pack_close completes the open object (if any), so that
 * every byte appended so far lies in completed objects; the next append begins a new
 * one. 0 or -1 (error recorded). */
int pack_close(pack_writer *p);
/* Call fn on each completed object, in order; fn's -1 stops (and is returned). */
typedef int (*pack_done_fn)(void *arg, const char *key, uint64_t size, const char *etag);
int pack_each_done(const pack_writer *p, pack_done_fn fn, void *arg);
/* Take the next object number's data object, completed by an earlier run (a resumed
 * checkpoint), as one of this writer's: committed with them, deleted by pack_abort.
 * 0 or -1 (error recorded). */
int pack_adopt(pack_writer *p, uint64_t size, const char *etag);
/* Abort the open multipart upload only (the completed objects stay, a checkpoint lists
 * them), then free. Safe on NULL. */
void pack_suspend(pack_writer *p);

#endif
