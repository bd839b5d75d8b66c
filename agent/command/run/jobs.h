/* jobs.h - run's worker pool: the images of the run list backed up N at once, each job
 * with its own context and S3 client, all within one memory budget. */
#ifndef RBD2S3_RUN_JOBS_H
#define RBD2S3_RUN_JOBS_H

#include <stdint.h>

#include "agent/command/run/run.h"

typedef struct jobs_plan {
    int jobs;                 /* backups at once (1: one after the other, as before) */
    uint64_t limit;           /* the process's memory budget in bytes */
    ag_tun tun;               /* each job's tunables: the configured ones, lowered to fit */
} jobs_plan;

/* The plan of ctx's options (jobs, memory limit, tunables). 0, or -1 with exit 2
 * recorded when the budget is too small for that many jobs. */
int jobs_plan_make(ag_ctx *ctx, jobs_plan *p);

/* What a job does with one item; ctx is the job's own (its error starts clear, its S3
 * client is its own, the Ceph cluster handle is shared). */
typedef void (*jobs_fn)(ag_ctx *ctx, run_item *r, void *arg);

/* Call fn once for every item whose status is RUN_PLANNED, taking them in the list's
 * order on p->jobs threads (on the calling thread when p->jobs is 1, when the cluster
 * cannot be reached beforehand, or when no thread starts). Each thread's lines carry the
 * item's name and there is no progress line when jobs run at once. Returns when every
 * item is done; items keep their place in the list. Cannot fail (fn records failures in
 * the items). */
void jobs_run(ag_ctx *ctx, const jobs_plan *p, run_item *items, size_t n, jobs_fn fn,
              void *arg);

/* The process's peak resident set size so far in bytes (getrusage ru_maxrss); 0 if it
 * cannot be read. */
uint64_t jobs_peak_rss(void);

#endif
