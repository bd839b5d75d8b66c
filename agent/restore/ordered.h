/* ordered.h - a plan walked in order, one record fetched and checked at a time: the
 * restore into a pipe (stdout, verify --source) and the export-diff stream. */
#ifndef RBD2S3_ORDERED_H
#define RBD2S3_ORDERED_H

#include "agent/restore/apply.h"

/* An ordered consumer of a plan: its callbacks see every piece once, by target offset.
 * data: the len checked bytes of a data piece at off (valid during the call); zero: a
 * range with no data, kind 1 a zero record, 2 a hole (no backup of the plan has data
 * there). Each returns 0, or -1 with the error recorded in ctx, which stops the walk. */
typedef struct ordered_sink {
    int (*data)(void *arg, uint64_t off, const unsigned char *data, uint64_t len);
    int (*zero)(void *arg, uint64_t off, uint64_t len, int kind);
    void *arg;
    progress *prog;           /* or NULL; done is the offset reached, of the plan's size */
    uint64_t bytes0;          /* data bytes given in earlier windows (the line's rate) */
} ordered_sink;

/* Walk the plan in order through o, one record fetched and checked at a time (a
 * checksum mismatch names the object and offset). 0 or -1 with the error in ctx. */
int ordered_restore(ag_ctx *ctx, const plan *p, const apply_src *srcs,
                         const ordered_sink *o);

/* Write the plan into a pipe in order, zeros included (for restore to stdout); an
 * ordered_restore() whose callbacks write to fd. */
int ordered_restore_fd(ag_ctx *ctx, const plan *p, const apply_src *srcs, int fd);

#endif
