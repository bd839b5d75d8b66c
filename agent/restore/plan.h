/* plan.h - restore planning: merge the indexes of a chain, newest first, into the pieces
 * to write, each byte taken from the newest backup that has it, and fetch groups. */
#ifndef RBD2S3_PLAN_H
#define RBD2S3_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include "agent/format/index.h"

/* One backup's contribution: its index records (sorted), its image size. */
typedef struct plan_src {
    const index_rec *recs;
    size_t n;
    uint64_t size;
} plan_src;

/* A range of the target: zero (or a hole), or bytes [src_off, src_off+len) of the
 * uncompressed data of record rec of source src. */
typedef struct plan_piece {
    uint64_t dst_off;
    uint64_t len;
    uint64_t src_off;
    uint32_t src;
    uint32_t rec;
    int zero;                 /* 1 zero record, 2 hole (no backup has data) */
} plan_piece;

/* A record to fetch and the pieces it feeds (indexes into the piece array). */
typedef struct plan_job {
    uint32_t src;
    uint32_t rec;
    size_t first;             /* into plan.job_pieces */
    size_t count;
} plan_job;

/* A ranged GET: consecutive jobs of one data object. */
typedef struct plan_group {
    uint32_t src;
    uint32_t obj;
    uint64_t off;             /* range in the data object */
    uint64_t len;
    size_t first_job;
    size_t njobs;
} plan_group;

typedef struct plan {
    plan_piece *pieces;       /* by target offset */
    size_t npieces;
    plan_job *jobs;           /* by (src, obj, obj_offset) */
    size_t njobs;
    size_t *job_pieces;
    plan_group *groups;
    size_t ngroups;
    uint64_t size;            /* target size (the newest source's) */
    uint64_t fetch_bytes;     /* sum of group lengths */
    uint64_t max_group;       /* largest group length */
} plan;

/* Merge srcs[0..n) (oldest first; the last is the restore point) into *p. Bytes of
 * an older source beyond the size of any newer one are dropped (the image shrank).
 * Groups are at most fetch_size long unless one record is longer; records up to
 * gap bytes apart are fetched in one GET. Returns 0 or -ENOMEM/-EINVAL. */
int plan_build(const plan_src *srcs, size_t n, uint64_t fetch_size, uint64_t gap, plan *p);
void plan_free(plan *p);

/* A range of the image, [off, off + len). */
typedef struct plan_range {
    uint64_t off;
    uint64_t len;
} plan_range;

/* Sort r[0..n) by offset and merge ranges that overlap or touch, in place; empty ranges
 * are dropped. Returns the count left. Cannot fail. */
size_t plan_ranges_merge(plan_range *r, size_t n);

/* As plan_build, keeping only the parts of the merged pieces that lie within
 * ranges[0..nr) (sorted and disjoint: plan_ranges_merge); pieces are cut at range ends,
 * and only the records those parts need are fetched. ranges NULL: the whole image
 * (plan_build). The plan's size stays the newest source's. */
int plan_build_within(const plan_src *srcs, size_t n, const plan_range *ranges, size_t nr,
                      uint64_t fetch_size, uint64_t gap, plan *p);

/* Check that a source's records fit its manifest: chunk_size (the manifest's) is
 * between 1 and CHUNK_SIZE_MAX (else -EINVAL, *bad = n); no data record is longer
 * (zero records may span chunks; else -E2BIG) and each lies within its data object,
 * one of sizes[0..nobj) (else -ERANGE), *bad the first such record. 0 if all fit. */
int plan_check_src(const plan_src *s, uint64_t chunk_size, const uint64_t *sizes,
                   size_t nobj, size_t *bad);

#endif
