/* prune.h - the prune command's plan (which backups go) and its execution in the bucket. */
#ifndef RBD2S3_PRUNE_H
#define RBD2S3_PRUNE_H

#include "agent/agent.h"
#include "agent/catalog.h"

typedef struct prune_stats {
    size_t manifests;         /* backups removed (manifests deleted) */
    size_t objects;           /* their data objects and indexes deleted */
    uint64_t bytes;
    size_t leftovers;         /* objects of no backup, older than the grace, deleted */
    uint64_t leftover_bytes;
    size_t uploads;           /* unfinished multipart uploads aborted */
} prune_stats;

/* Remove the backups of c whose doomed[i] is set: each manifest first, newest first (a
 * backup disappears at once and no visible chain is ever broken), then their objects
 * in multi-object deletes. 0 or -1 with the error recorded. */
int prune_remove(ag_ctx *ctx, const catalog *c, const unsigned char *doomed, prune_stats *st);

/* Under prefix: delete objects in backup folders that hold no manifest and abort the
 * multipart uploads there, when older than grace seconds (younger ones may belong to a
 * backup still running). dry_run: count and print them only. 0 or -1. */
int prune_leftovers(ag_ctx *ctx, const char *prefix, long long grace, int dry_run,
                    prune_stats *st);

#endif
