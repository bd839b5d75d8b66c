/* prune.h - the prune command's plan (which backups go) and its execution in the bucket. */
#ifndef RBD2S3_PRUNE_H
#define RBD2S3_PRUNE_H

#include "agent/common/context.h"
#include "agent/repo/catalog.h"
#include "agent/repo/protect.h"
#include "agent/command/prune/retention.h"

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

/* Object Lock. In a bucket with Object Lock (always versioned) a DELETE without version
 * id never meets the lock: it hides the locked version behind a delete marker, which
 * frees nothing and makes a backup look gone that `restore --as-of` still finds. So
 * prune keeps every backup that any object of which is still under retention, says
 * until when, and deletes only backups whose retention has ended (their versions then
 * become noncurrent; the lifecycle rule of `lifecycle apply` expires them). */

/* For the backups [from, to) of one image with doomed[i] set: HEAD each object of the
 * backup; one retained past now keeps it (doomed[i] cleared, until[i] = the latest
 * retain-until of its objects; else until[i] = 0). Then the doomed parent of any kept
 * backup is kept too, with for_child[i] set, so that no chain is broken. 0, or -1 with
 * the error recorded. */
int prune_lock_hold(ag_ctx *ctx, const catalog *c, size_t from, size_t to,
                    unsigned char *doomed, time_t *until, unsigned char *for_child);

/* hold.c: the keep policy rp applied to the backups [from, to) of one image that carry
 * every label of filter (empty: all); items[from, to) (fill_items: times, and parents
 * relative to from: items[i].parent = p >= 0 names entry from + p) get their reasons,
 * doomed[i] is set for a considered backup the policy drops, other[i] for one the
 * filter leaves out (kept, never considered). A considered backup whose parent is left
 * out is a chain of its own here (prune_protect_hold keeps that parent). 0, or -1 when
 * out of memory. */
int prune_select(const ret_policy *rp, const catalog *c, size_t from, size_t to,
                 const labels_set *filter, ret_item *items, unsigned char *doomed,
                 unsigned char *other);

/* hold.c: a protected backup of [from, to) (prot[i].on) is never doomed, and every
 * kept backup keeps the parents its chain needs (doomed cleared), following
 * items[i].parent (relative to from, as for prune_select). needed_by[i] = the protected
 * backup whose chain needs i, else the kept one whose chain made i kept, else -1 (both
 * absolute indexes). Cannot fail. */
void prune_protect_hold(size_t from, size_t to, const ret_item *items,
                        const protect_state *prot, unsigned char *doomed, long *needed_by);

#endif
