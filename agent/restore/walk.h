/* walk.h - a chain's restore window by window: its indexes read as record streams,
 * merged (planstream) and handed on one window's plan at a time, in bounded memory. */
#ifndef RBD2S3_WALK_H
#define RBD2S3_WALK_H

#include "agent/repo/idxstream.h"
#include "agent/restore/apply.h"
#include "agent/restore/ordered.h"
#include "agent/restore/planstream.h"

/* The backups of a walk, oldest first (the last is the restore point): manifests, data
 * keys and record cursors. */
typedef struct walk_set {
    apply_src *xs;            /* m and dk per backup (recs: the current window's) */
    planstream_src *ps;       /* their cursors and image sizes */
    idxstream_reader **rd;    /* the indexes, read as streams (idxstream) */
    size_t n;
} walk_set;

/* Bytes of index read ahead over all the backups of a walk (idxstream ranges), whatever
 * the chain's length: each backup's range is this divided by their count, between 64 KiB
 * and IDXSTREAM_RANGE. */
#define WALK_INDEX_BUDGET (32u << 20)

/* The sources of chain links ch->v[first..first+n): their indexes opened as streams
 * (idxstream_open: each checked whole before a record is used). 0, or -1 with the error
 * recorded in ctx (as catalog_load_index's); free set with walk_set_free either way. */
int walk_set_chain(ag_ctx *ctx, const chain *ch, size_t first, size_t n, walk_set *set);

/* One backup alone: manifest m, data key dk (NULL when plain); as walk_set_chain. */
int walk_set_one(ag_ctx *ctx, const manifest *m, const seal_key *dk, walk_set *set);

/* Backups first..first+n of set as a set of their own (a view: set keeps them; never
 * free it). Cannot fail. */
walk_set walk_set_sub(const walk_set *set, size_t first, size_t n);

void walk_set_free(walk_set *set);

/* A window's consumer: its plan and the sources with the window's records (both valid
 * during the call). 0, or -1 with the error recorded in ctx, which stops the walk. */
typedef int (*walk_fn)(void *arg, const plan *p, const apply_src *xs);

/* Merge set's backups newest first, window by window (RBD2S3_MERGE_WINDOW records per
 * source, a hidden setting for tests, else planstream_window), within ranges[0..nr)
 * (plan_build_within; NULL: the whole image), each window's records checked against
 * their manifests (apply_check) and its plan given to fn. 0, or -1 with the error
 * recorded in ctx. */
int walk_run(ag_ctx *ctx, walk_set *set, const plan_range *ranges, size_t nr, walk_fn fn,
             void *arg);

/* walk_run into an apply_sink (apply_open .. apply_close), total: the progress line's
 * total. 0, or -1 with the error recorded in ctx. */
int walk_apply(ag_ctx *ctx, walk_set *set, const apply_sink *sink, uint64_t total);

/* walk_run through an ordered consumer (ordered_restore per window). */
int walk_ordered(ag_ctx *ctx, walk_set *set, const ordered_sink *o);

/* walk_run into a pipe in order, zeros included (ordered_restore_fd per window). */
int walk_ordered_fd(ag_ctx *ctx, walk_set *set, int fd);

#endif
