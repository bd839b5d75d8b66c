/* budget.h - what one backup costs in memory, and its tunables lowered to fit a budget
 * (run --jobs N shares `memory limit` between N backups; doc/design.md, "Memory budget"). */
#ifndef RBD2S3_BUDGET_H
#define RBD2S3_BUDGET_H

#include <stdint.h>

#include "agent/common/context.h"

/* The whole process's budget when `memory limit` is not set. */
#define BUDGET_DEFAULT (512ULL << 20)
/* Kept out of the jobs' shares: the libraries, the Ceph connection, the run's list. */
#define BUDGET_PROCESS (48ULL << 20)
/* What a backup holds besides its buffers: its S3 client, the opened image, thread
 * stacks, the chunk index of a small image. */
#define BUDGET_JOB_FIXED (8ULL << 20)

/* The memory one backup with tunables t takes at most, in bytes: its read slots
 * (reads_in_flight + 2 x threads + 2, each a chunk and its compressed copy), its part
 * buffers ((parts_in_flight + 2) x the data objects' part size, parts_size() of
 * agent/format/parts.h: with the one filling and the index's) and BUDGET_JOB_FIXED. An
 * index past 1,000 parts (5 GB at 5M parts) grows its part (parts_grow) beyond this.
 * Cannot fail. */
uint64_t budget_job_bytes(const ag_tun *t);

/* The least budget_job_bytes can be made by lowering t's reads_in_flight (to 2),
 * parts_in_flight (to 1) and threads (to 1): chunk and part sizes stay. Cannot fail. */
uint64_t budget_job_min(const ag_tun *t);

/* Lower t (never raise it) until one backup fits share bytes: reads_in_flight first
 * (down to 2), then parts_in_flight (down to 1), then threads (down to 1). 0 when it
 * fits, -1 when even the least does not (t is then left at the least). */
int budget_fit(ag_tun *t, uint64_t share);

/* The share of one of jobs backups in a process budget of limit bytes (0 when the
 * limit does not even cover BUDGET_PROCESS). Cannot fail. */
uint64_t budget_share(uint64_t limit, int jobs);

#endif
