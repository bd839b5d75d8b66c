/* prune.h - the prune command's plan (which backups go) and its execution in the bucket. */
#ifndef RBD2S3_PRUNE_H
#define RBD2S3_PRUNE_H

#include "agent/common/context.h"
#include "agent/repo/catalog.h"

typedef struct prune_stats {
    size_t manifests;         /* backups removed (manifests deleted) */
    size_t objects;           /* their data objects and indexes deleted */
    uint64_t bytes;
    size_t leftovers;         /* objects of no backup, older than the grace, deleted */
    uint64_t leftover_bytes;
    size_t uploads;           /* unfinished multipart uploads aborted */
} prune_stats;

/* The images whose objects prune may delete: `only` (NULL: every image under the
 * prefix) except the held ones. */
typedef struct prune_scope {
    const naming_spec *only;
    const naming_spec *held;
    size_t nheld;
} prune_scope;

/* Remove the backups of c whose doomed[i] is set: each manifest first, newest first (a
 * backup disappears at once and no visible chain is ever broken), then their objects
 * in multi-object deletes. Only the keys the naming rules derive for the backup's
 * folder are deleted (data.0 .. data.<n-1>, index), never what the manifest names.
 * 0 or -1 with the error recorded. */
int prune_remove(ag_ctx *ctx, const catalog *c, const unsigned char *doomed, prune_stats *st);

/* 1 if key (under the configured prefix) is one of rbd2s3's own objects
 * (naming_parse_object_key) of an image in sc; *kind is its leaf kind. Pure. */
int prune_key_in_scope(const char *prefix, const prune_scope *sc, const char *key, int *kind);

/* Under list_prefix: delete rbd2s3's own objects (prune_key_in_scope) in backup folders
 * that hold no manifest and abort the multipart uploads there, when older than grace
 * seconds (younger ones may belong to a backup still running). Any other object is
 * left alone. dry_run: count and print them only. 0 or -1. */
int prune_leftovers(ag_ctx *ctx, const char *list_prefix, const prune_scope *sc,
                    long long grace, int dry_run, prune_stats *st);

#endif
