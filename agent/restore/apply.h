/* apply.h - restore execution: a plan's ranged GETs in flight, decompression and SHA-256
 * checks on worker threads, writes into an image (aio window) or a file. */
#ifndef RBD2S3_APPLY_H
#define RBD2S3_APPLY_H

#include "agent/common/context.h"
#include "agent/repo/chain.h"
#include "agent/restore/plan.h"
#include "agent/common/progress.h"

/* Records up to this far apart in a data object are fetched with one GET. */
#define APPLY_GROUP_GAP (64u << 10)

/* Where restored bytes go. Exactly one of img / fd is set. */
typedef struct apply_sink {
    rbdio_image *img;
    int fd;                   /* -1 when writing to an image */
    int fresh;                /* 1: the target reads as zeros, holes and zeros are skipped */
    int keep_holes;           /* 1: holes are unchanged ranges (an incremental applied
                                 alone), never written */
    progress *prog;           /* started by the caller, or NULL: updated as pieces are
                                 written (done: bytes of the plan, total: its size) */
} apply_sink;

/* The backups of the plan: manifests in the plan's source order, and their indexes. */
typedef struct apply_src {
    const manifest *m;
    const seal_key *dk;       /* its data key (cat_entry.dk): NULL for a plain backup */
    const index_rec *recs;
    size_t nrecs;
} apply_src;

/* The sources of chain links ch->v[first..first+n) (their indexes loaded), oldest first,
 * in an array the caller frees; NULL, with the error recorded in ctx, when out of memory. */
apply_src *apply_sources(ag_ctx *ctx, const chain *ch, size_t first, size_t n);

/* Plan the restore of srcs[0..n) (oldest first; the last is the restore point), merged
 * newest first, with the run's fetch size. 0, or -1 with the error recorded in ctx; the
 * caller frees *p with plan_free(). */
int apply_plan(ag_ctx *ctx, const apply_src *srcs, size_t n, plan *p);
/* The same, restricted to ranges[0..nr) of the image (plan_build_within; sorted and
 * disjoint): only the parts of those ranges are written and their records fetched. */
int apply_plan_within(ag_ctx *ctx, const apply_src *srcs, size_t n, const plan_range *ranges,
                      size_t nr, plan *p);

/* Every record of src within its manifest's chunk size and data objects
 * (plan_check_src): 0, or -1 with an integrity error naming the record recorded in ctx. */
int apply_check(ag_ctx *ctx, const apply_src *src);

/* Write the plan into sink. 0 or -1 with the error recorded in ctx (a checksum
 * mismatch names the object and offset). apply_open, one apply_window, apply_close. */
int apply_restore(ag_ctx *ctx, const plan *p, const apply_src *srcs, const apply_sink *sink);

/* A restore into sink in windows (agent/restore/walk.h): the GET and decompression
 * pools and the workers live from apply_open to apply_close. */
typedef struct apply_run apply_run;

/* Start a restore into sink (which must outlive it) of total bytes (the progress line's
 * total). 0, or -1 with the error recorded in ctx; *out is to be closed with apply_close
 * either way. */
int apply_open(ag_ctx *ctx, const apply_sink *sink, uint64_t total, apply_run **out);

/* Write plan p (its records in srcs) into the sink, and wait for its GETs to be done (its
 * writes may still be in flight; p and srcs may go once this returns). 0, or -1 after a
 * failure (this one's or an earlier window's), told by apply_close. */
int apply_window(apply_run *run, const plan *p, const apply_src *srcs);

/* Wait for the writes, stop the workers, free run. 0, or -1 with the first failure of
 * the run recorded in ctx. NULL: -1. */
int apply_close(apply_run *run);

#endif
