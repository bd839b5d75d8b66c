/* apply.h - restore execution: a plan's ranged GETs in flight, decompression and SHA-256
 * checks on worker threads, writes into an image (aio window) or a file. */
#ifndef RBD2S3_EXEC_H
#define RBD2S3_EXEC_H

#include "agent/common/context.h"
#include "agent/restore/plan.h"
#include "agent/common/progress.h"

/* Where restored bytes go. Exactly one of img / fd is set. */
typedef struct exec_sink {
    rbdio_image *img;
    int fd;                   /* -1 when writing to an image */
    int fresh;                /* 1: the target reads as zeros, holes and zeros are skipped */
    int keep_holes;           /* 1: holes are unchanged ranges (an incremental applied
                                 alone), never written */
    progress *prog;           /* started by the caller, or NULL: updated as pieces are
                                 written (done: bytes of the plan, total: its size) */
} exec_sink;

/* The backups of the plan: manifests in the plan's source order, and their indexes. */
typedef struct exec_src {
    const manifest *m;
    const index_rec *recs;
    size_t nrecs;
} exec_src;

/* Plan the restore of srcs[0..n) (oldest first; the last is the restore point), merged
 * newest first, with the run's fetch size. 0, or -1 with the error recorded in ctx; the
 * caller frees *p with plan_free(). */
int exec_plan(ag_ctx *ctx, const exec_src *srcs, size_t n, plan *p);

/* Write the plan into sink. 0 or -1 with the error recorded in ctx (a checksum
 * mismatch names the object and offset). */
int exec_restore(ag_ctx *ctx, const plan *p, const exec_src *srcs, const exec_sink *sink);

/* An ordered consumer of a plan: its callbacks see every piece once, by target offset.
 * data: the len checked bytes of a data piece at off (valid during the call); zero: a
 * range with no data, kind 1 a zero record, 2 a hole (no backup of the plan has data
 * there). Each returns 0, or -1 with the error recorded in ctx, which stops the walk. */
typedef struct exec_ordered {
    int (*data)(void *arg, uint64_t off, const unsigned char *data, uint64_t len);
    int (*zero)(void *arg, uint64_t off, uint64_t len, int kind);
    void *arg;
    progress *prog;           /* or NULL; done is the offset reached, of the plan's size */
} exec_ordered;

/* Walk the plan in order through o, one record fetched and checked at a time (a
 * checksum mismatch names the object and offset). 0 or -1 with the error in ctx. */
int exec_restore_ordered(ag_ctx *ctx, const plan *p, const exec_src *srcs,
                         const exec_ordered *o);

/* Write the plan into a pipe in order, zeros included (for restore to stdout); an
 * exec_restore_ordered() whose callbacks write to fd. */
int exec_restore_stream(ag_ctx *ctx, const plan *p, const exec_src *srcs, int fd);

#endif
