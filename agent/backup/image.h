/* image.h - one backup of one image: snapshot, diff since the parent, upload, commit. */
#ifndef RBD2S3_BACKUP_IMAGE_H
#define RBD2S3_BACKUP_IMAGE_H

#include "agent/common/context.h"

/* One backup of spec (full: --full; cmd: command-line chain policy, may be NULL);
 * print: the summary line / JSON on stdout. res (may be NULL) gets what was made.
 * 0 or -1 with the error recorded in ctx. */
typedef struct backup_image_result {
    char id[32];
    int full;
    uint64_t data_bytes, stored_bytes;
    int cleanup_errors;         /* failed steps of the snapshot cleanup (each warned) */
} backup_image_result;
int backup_image(ag_ctx *ctx, const naming_spec *spec, int full, const ag_policy *cmd,
                 int print, backup_image_result *res);

#endif
