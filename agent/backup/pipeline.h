/* pipeline.h - the backup data path: diff walk + aio reads -> compress/hash workers ->
 * data objects and the chunk index, all overlapping, in bounded memory. */
#ifndef RBD2S3_PIPELINE_H
#define RBD2S3_PIPELINE_H

#include "agent/common/context.h"
#include "agent/common/progress.h"
#include "agent/repo/writer.h"

/* Back up the extents of img (opened at the new snapshot) that differ from
 * from_snap (NULL: a full backup) over [0, size). Chunks and records go into w, the
 * totals into m; prog gets the position. 0 or -1 with the error recorded in ctx. */
int pipeline_backup(ag_ctx *ctx, rbdio_image *img, const char *from_snap, uint64_t size,
                    writer *w, manifest *m, progress *prog);

/* pipeline_backup from position start (what lies before it is in w already: a resumed
 * checkpoint), writing a checkpoint (writer_checkpoint) each time `every` bytes were
 * read since the last one (0: never). Same returns. */
int pipeline_backup_from(ag_ctx *ctx, rbdio_image *img, const char *from_snap,
                         uint64_t start, uint64_t size, uint64_t every, writer *w,
                         manifest *m, progress *prog);

#endif
