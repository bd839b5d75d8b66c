/* pipeline.h - the backup data path: diff walk + aio reads -> compress/hash workers ->
 * pack objects and the chunk index, all overlapping, in bounded memory. */
#ifndef RBD2S3_PIPELINE_H
#define RBD2S3_PIPELINE_H

#include "agent/agent.h"
#include "agent/progress.h"
#include "agent/store.h"

/* Back up the extents of img (opened at the new snapshot) that differ from
 * from_snap (NULL: a full backup) over [0, size). Chunks and records go into st, the
 * totals into m; prog gets the position. 0 or -1 with the error recorded in ctx. */
int pipeline_backup(ag_ctx *ctx, rbdio_image *img, const char *from_snap, uint64_t size,
                    store *st, manifest *m, progress *prog);

/* One chunk: 1 if all zeros; else its SHA-256 into sha and lz4 into comp (cap bytes,
 * LZ4_compressBound(len)) with *comp_len, or *comp_len 0 when it is to be stored raw
 * (a 64 KiB sample or the whole does not shrink). */
int pipeline_encode(const unsigned char *data, size_t len, unsigned char *comp, int cap,
                    uint8_t sha[32], int *comp_len);

/* 1 if buf[0..len) is all zero bytes. */
int pipeline_is_zero(const unsigned char *buf, size_t len);

#endif
