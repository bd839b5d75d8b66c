/* image.h - one backup of one image: snapshot, diff since the parent, upload, commit. */
#ifndef RBD2S3_BACKUP_IMAGE_H
#define RBD2S3_BACKUP_IMAGE_H

#include <time.h>

#include "agent/common/context.h"
#include "agent/backup/pipeline.h"

/* What `run` asks of one backup beyond `backup`'s (backup_image's opts; NULL: none). */
typedef struct backup_image_opts {
    long long due;              /* seconds: no backup if the newest is younger (0: none) */
} backup_image_opts;

/* What became of the image: backed up (or failed), not due, or being backed up by
 * another run (its lock held by a live holder). */
enum { BACKUP_MADE, BACKUP_NOT_DUE, BACKUP_ELSEWHERE };

/* What one backup made, for `run`'s table and metrics. */
typedef struct backup_image_result {
    int outcome;                /* BACKUP_* */
    time_t last;                /* BACKUP_NOT_DUE: the newest backup's time */
    char id[32];
    int full;
    uint64_t data_bytes, stored_bytes;
    int cleanup_errors;         /* failed steps of the snapshot cleanup (each warned) */
    int resumed;                /* continued from the checkpoint of an interrupted backup */
    uint64_t run_data_bytes, run_stored_bytes; /* read and uploaded by this run */
    pipeline_walk walk;         /* how the diff was walked (an invalid object map) */
} backup_image_result;

/* One backup of the image spec names: lock, snapshot, upload the data changed since the
 * parent (none with full; cmd: the command line's chain policy, may be NULL), commit,
 * remove the superseded snapshots. Prints nothing on stdout (the caller prints the
 * summary). opts (may be NULL): with a due, the newest backup's age is checked under
 * the lock, after the catalog is read, and a backup that is not due is not made (0,
 * res->outcome BACKUP_NOT_DUE, nothing committed, the image left as it was). res (may be
 * NULL) gets what was made; committed (may be NULL) gets, on success, the backup's
 * manifest (the caller clears it with manifest_clear()), and is left as it was on
 * failure or when not due. 0, or -1 with the error recorded in ctx (the failed
 * backup's snapshot removed; AG_EBUSY and res->outcome BACKUP_ELSEWHERE when another
 * run holds the image's lock). res->cleanup_errors is set either way. */
int backup_image(ag_ctx *ctx, const naming_spec *spec, int full, const ag_policy *cmd,
                 const backup_image_opts *opts, backup_image_result *res,
                 manifest *committed);

#endif
