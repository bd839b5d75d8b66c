/* pipeline.h - the backup data path: diff walk + aio reads -> compress/hash workers ->
 * data objects and the chunk index, all overlapping, in bounded memory. */
#ifndef RBD2S3_PIPELINE_H
#define RBD2S3_PIPELINE_H

#include "agent/common/context.h"
#include "agent/common/progress.h"
#include "agent/repo/writer.h"

#include <json-c/json.h>

/* Back up the extents of img (opened at the new snapshot) that differ from
 * from_snap (NULL: a full backup) over [0, size). Chunks and records go into w, the
 * totals into m; prog gets the position. 0 or -1 with the error recorded in ctx. */
int pipeline_backup(ag_ctx *ctx, rbdio_image *img, const char *from_snap, uint64_t size,
                    writer *w, manifest *m, progress *prog);

/* How the diff was walked: with the object maps' shortcut, or the whole image. */
typedef struct pipeline_walk {
    int map;                  /* 1: only the objects the object maps name were listed */
    char invalid[512];        /* whose object map is flagged invalid ("" if none): then
                               * the whole image was walked */
} pipeline_walk;

/* pipeline_backup from position start (what lies before it is in w already: a resumed
 * checkpoint), writing a checkpoint (writer_checkpoint) each time `every` bytes were
 * read since the last one (0: never); walk (may be NULL) gets how the diff was walked.
 * An object map flagged invalid is said on one line (ag_info). Same returns. */
int pipeline_backup_from(ag_ctx *ctx, rbdio_image *img, const char *from_snap,
                         uint64_t start, uint64_t size, uint64_t every, writer *w,
                         manifest *m, progress *prog, pipeline_walk *walk);

/* Add how the diff was walked to a backup's JSON object o: "diff_walk" ("object-map" or
 * "full") and "object_map_invalid" (whose object map is flagged invalid, or null);
 * walk NULL (no backup made): both null. Cannot fail. */
void pipeline_walk_json(json_object *o, const pipeline_walk *walk);

#endif
