/* planstream.h - the chain merge window by window: the indexes of a chain read as record
 * streams and merged into one plan per image range, in bounded memory. */
#ifndef RBD2S3_PLANSTREAM_H
#define RBD2S3_PLANSTREAM_H

#include <stddef.h>
#include <stdint.h>

#include "agent/format/index.h"
#include "agent/restore/plan.h"

/* Records buffered over all sources when no window is asked for: 2^16 records (4.7 MB,
 * and the window's plan about 3 times that), whatever the chain's length. */
#define PLANSTREAM_BUDGET (1u << 16)
/* The smallest window picked from the budget (a window of 1 record works, only slower). */
#define PLANSTREAM_MIN_WINDOW 64u

/* One backup of the chain: its records in offset order, and its image size. */
typedef struct planstream_src {
    index_cursor cur;
    uint64_t size;
} planstream_src;

typedef struct planstream planstream;

/* The window for a chain of nsrc sources: PLANSTREAM_BUDGET / nsrc, at least
 * PLANSTREAM_MIN_WINDOW. Cannot fail. */
size_t planstream_window(size_t nsrc);

/* A merge of srcs[0..n) (oldest first; the last is the restore point) with the semantics
 * of plan_build_within (ranges sorted and disjoint, or NULL for the whole image; the
 * array must outlive the stream), in windows: image ranges [lo, hi) in which each source
 * has at most k records (k >= 1), a record crossing hi kept for the next window too.
 * Returns 0, -EINVAL (n or k is 0) or -ENOMEM; free *out with planstream_free. */
int planstream_new(const planstream_src *srcs, size_t n, const plan_range *ranges, size_t nr,
                   size_t k, uint64_t fetch_size, uint64_t gap, planstream **out);

/* The plan of the next window holding something to restore: 1 with *p (free it with
 * plan_free before the next call) whose pieces cover [*lo, *hi) of the image (cut at
 * both ends, within the ranges) and whose src/rec name records of *ws (one plan_src per
 * source, valid until the next call); 0 when the image is done; negative on error:
 * -ENOMEM, -EINVAL (a source's records overlap or go back), or a cursor's own error.
 * Windows come in offset order; their pieces, concatenated, are those of
 * plan_build_within cut at window ends. Groups never span windows. */
int planstream_next(planstream *s, plan *p, const plan_src **ws, uint64_t *lo, uint64_t *hi);

/* Records buffered now over all sources (at most n * k). Cannot fail. */
size_t planstream_buffered(const planstream *s);

void planstream_free(planstream *s);

#endif
