/* pipeline.h - the backup data path: diff walk + aio reads -> compress/hash workers ->
 * pack objects and the chunk index, all overlapping, in bounded memory. */
#ifndef RBD2S3_PIPELINE_H
#define RBD2S3_PIPELINE_H

#include "agent/agent.h"
#include "agent/index.h"
#include "agent/pack.h"
#include "agent/progress.h"

/* Back up the extents of img (opened at the new snapshot) that differ from
 * from_snap (NULL: a full backup) over [0, size). Appends chunks to pack, records
 * to idx, and fills m's totals; prog gets the position. 0 or -1 with the error
 * recorded in ctx. */
int pipeline_backup(ag_ctx *ctx, rbdio_image *img, const char *from_snap, uint64_t size,
                    pack_writer *pack, index_writer *idx, manifest *m, progress *prog);

/* 1 if buf[0..len) is all zero bytes. */
int pipeline_is_zero(const unsigned char *buf, size_t len);

#endif
