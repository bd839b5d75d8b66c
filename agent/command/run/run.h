/* run.h - the run command's items (one image each) and the metrics file they feed. */
#ifndef RBD2S3_RUN_H
#define RBD2S3_RUN_H

#include <time.h>

#include "agent/command/command.h"
#include "agent/backup/image.h"

enum { RUN_PLANNED, RUN_OK, RUN_FAILED, RUN_SKIPPED };

typedef struct run_item {
    naming_spec spec;
    char name[NAMING_SPEC_MAX]; /* "pool/image" */
    int status;
    int code;                 /* exit code of a failure */
    char msg[3000];           /* why it failed or was skipped */
    backup_image_result res;
    double seconds;
} run_item;

/* Write the Prometheus text file atomically (temp file + rename). Per image: success,
 * last success time (kept from the previous file for images that failed now),
 * duration, bytes read and stored; for the run: time, duration, images per result.
 * 0 or -1 with the error recorded. */
int metrics_write(ag_ctx *ctx, const char *path, const run_item *items, size_t n,
                  time_t started, double seconds);

#endif
