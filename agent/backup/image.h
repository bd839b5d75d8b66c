/* image.h - one backup of one image: snapshot, diff since the parent, upload, commit. */
#ifndef RBD2S3_BACKUP_IMAGE_H
#define RBD2S3_BACKUP_IMAGE_H

#include "agent/common/context.h"

/* What one backup made, for `run`'s table and metrics. */
typedef struct backup_image_result {
    char id[32];
    int full;
    uint64_t data_bytes, stored_bytes;
    int cleanup_errors;         /* failed steps of the snapshot cleanup (each warned) */
    int resumed;                /* continued from the checkpoint of an interrupted backup */
    uint64_t run_data_bytes, run_stored_bytes; /* read and uploaded by this run */
} backup_image_result;

/* One backup of the image spec names: lock, snapshot, upload the data changed since the
 * parent (none with full; cmd: the command line's chain policy, may be NULL), commit,
 * remove the superseded snapshots. Prints nothing on stdout (the caller prints the
 * summary). res (may be NULL) gets what was made; committed (may be NULL) gets, on
 * success, the backup's manifest (the caller clears it with manifest_clear()), and is
 * left as it was on failure. 0, or -1 with the error recorded in ctx (the failed
 * backup's snapshot removed). res->cleanup_errors is set either way. */
int backup_image(ag_ctx *ctx, const naming_spec *spec, int full, const ag_policy *cmd,
                 backup_image_result *res, manifest *committed);

#endif
