/* run.h - the run command's items (one image each) and the metrics file they feed. */
#ifndef RBD2S3_RUN_H
#define RBD2S3_RUN_H

#include <time.h>

#include "agent/command/command.h"
#include "agent/backup/image.h"

enum { RUN_PLANNED, RUN_OK, RUN_FAILED, RUN_SKIPPED, RUN_ELSEWHERE };
#define RUN_STATES 5

/* What the run was asked: --dry-run, --due (-1: not given), --until-done. */
typedef struct run_args {
    int dry_run;
    long long due;
    int until_done;
} run_args;

typedef struct run_item {
    naming_spec spec;
    char name[NAMING_SPEC_MAX]; /* "pool/image" */
    int status;
    int code;                 /* exit code of a failure */
    char msg[3000];           /* why it failed or was skipped */
    backup_image_result res;
    double seconds;
} run_item;

/* One pass over the items still RUN_PLANNED (each backed up, or skipped). */
typedef void run_pass_fn(ag_ctx *ctx, run_item *items, size_t n, const run_args *a);

/* run --until-done: after the first pass, the items backed up elsewhere (RUN_ELSEWHERE)
 * are planned again and pass runs over them, a few seconds apart, until none is left
 * (done elsewhere, backed up here, not due any more, outside the window) or a signal
 * came. Cannot fail (the items say what became of them). */
void run_until_done(ag_ctx *ctx, run_item *items, size_t n, const run_args *a,
                    run_pass_fn *pass);

/* Write the Prometheus text file atomically (temp file + rename). Per image: success,
 * last success time (kept from the previous file for images that failed now),
 * duration, bytes read and stored; for the run (labelled with the host of the image
 * locks): time, duration, images per result. 0 or -1 with the error recorded. */
int metrics_write(ag_ctx *ctx, const char *path, const run_item *items, size_t n,
                  time_t started, double seconds);

#endif
