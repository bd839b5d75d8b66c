/* progress.h - the progress line on a terminal, as rbd prints it:
 * "Backing up rbd/vm1: 42% complete, 310 MiB/s". Nothing when stderr is not a terminal,
 * with --no-progress, -q or -v (debug lines would interleave). */
#ifndef RBD2S3_PROGRESS_H
#define RBD2S3_PROGRESS_H

#include <stdint.h>

#include "agent/common/context.h"

typedef struct progress {
    int on;
    char what[1700];          /* "Backing up rbd/vm1" */
    double start;             /* monotonic seconds */
    double last;              /* last line printed */
    int printed;
} progress;

void progress_start(progress *p, const ag_ctx *ctx, const char *verb, const char *name);
/* done of total (any unit; the percentage), bytes moved so far (the rate). At most a
 * few lines a second are printed. */
void progress_update(progress *p, uint64_t done, uint64_t total, uint64_t bytes);
/* "...: 100% complete...done." on success, the line cleared on failure. */
void progress_end(progress *p, int ok);

#endif
