/* planstream.c - the chain merge window by window: the indexes of a chain read as record
 * streams and merged into one plan per image range, in bounded memory. */
#include "agent/restore/planstream.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* One source: up to k records buffered, those ending after the current window start. */
typedef struct ps_buf {
    index_cursor cur;
    index_rec *recs;
    size_t n;
    int done;                 /* no more records (the cursor's end, or past limit) */
    uint64_t end;             /* end of the last record read (order check) */
} ps_buf;

struct planstream {
    ps_buf *b;
    size_t n, k;
    uint64_t *limit;          /* bytes of source i that no newer source cut off */
    plan_src *ws;             /* the window's sources */
    const plan_range *ranges; /* NULL: the whole image */
    size_t nr, ri;            /* ranges[ri..] end after lo */
    plan_range *wr;           /* the window's ranges */
    uint64_t lo;              /* start of the next window */
    uint64_t fetch, gap;
};

size_t planstream_window(size_t nsrc)
{
    size_t k = PLANSTREAM_BUDGET / (nsrc ? nsrc : 1);
    return k < PLANSTREAM_MIN_WINDOW ? PLANSTREAM_MIN_WINDOW : k;
}

int planstream_new(const planstream_src *srcs, size_t n, const plan_range *ranges, size_t nr,
                   size_t k, uint64_t fetch_size, uint64_t gap, planstream **out)
{
    *out = NULL;
    if (n == 0 || k == 0)
        return -EINVAL;
    planstream *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return -ENOMEM;
    s->n = n;
    s->k = k;
    s->ranges = ranges;
    s->nr = ranges ? nr : 0;
    s->fetch = fetch_size;
    s->gap = gap;
    s->b = calloc(n, sizeof(*s->b));
    s->limit = calloc(n, sizeof(*s->limit));
    s->ws = calloc(n, sizeof(*s->ws));
    s->wr = calloc(s->nr + 1, sizeof(*s->wr));
    int rc = s->b && s->limit && s->ws && s->wr ? 0 : -ENOMEM;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        s->b[i].cur = srcs[i].cur;
        s->ws[i].size = srcs[i].size;
        if ((s->b[i].recs = malloc(k * sizeof(index_rec))) == NULL)
            rc = -ENOMEM;
    }
    for (size_t i = n; rc == 0 && i-- > 0;)
        s->limit[i] = (i == n - 1 || srcs[i].size < s->limit[i + 1]) ? srcs[i].size
                                                                     : s->limit[i + 1];
    if (rc < 0) {
        planstream_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

/* Drop the records of b ending at or before lo. */
static void drop(ps_buf *b, uint64_t lo)
{
    size_t d = 0;
    while (d < b->n && b->recs[d].offset + b->recs[d].length <= lo)
        d++;
    memmove(b->recs, b->recs + d, (b->n - d) * sizeof(*b->recs));
    b->n -= d;
}

/* Read records into b until it holds k or its source ends; records starting at or past
 * limit are not needed (a newer source cut them off): the source ends there. */
static int fill(ps_buf *b, size_t k, uint64_t limit)
{
    while (b->n < k && !b->done) {
        index_rec r;
        int rc = b->cur.next(b->cur.arg, &r);
        if (rc < 0)
            return rc;
        if (rc == 0 || r.offset >= limit) {
            b->done = 1;
            break;
        }
        if (r.length == 0 || r.offset < b->end || r.offset + r.length < r.offset)
            return -EINVAL;
        b->end = r.offset + r.length;
        b->recs[b->n++] = r;
    }
    return 0;
}

/* The window's end: where the first source with a full buffer runs out of records. */
static uint64_t window_end(const planstream *s, uint64_t end)
{
    uint64_t hi = end;
    for (size_t i = 0; i < s->n; i++) {
        const ps_buf *b = &s->b[i];
        if (b->done || b->n < s->k)
            continue;
        uint64_t e = b->recs[b->n - 1].offset + b->recs[b->n - 1].length;
        if (e < hi)
            hi = e;
    }
    return hi;
}

/* The parts of the ranges within [lo, hi) into s->wr; their count. */
static size_t window_ranges(planstream *s, uint64_t lo, uint64_t hi)
{
    if (s->ranges == NULL) {
        s->wr[0] = (plan_range){ lo, hi - lo };
        return 1;
    }
    while (s->ri < s->nr && s->ranges[s->ri].off + s->ranges[s->ri].len <= lo)
        s->ri++;
    size_t w = 0;
    for (size_t j = s->ri; j < s->nr && s->ranges[j].off < hi; j++) {
        uint64_t a = s->ranges[j].off > lo ? s->ranges[j].off : lo;
        uint64_t e = s->ranges[j].off + s->ranges[j].len;
        s->wr[w++] = (plan_range){ a, (e < hi ? e : hi) - a };
    }
    return w;
}

int planstream_next(planstream *s, plan *p, const plan_src **ws, uint64_t *lo, uint64_t *hi)
{
    memset(p, 0, sizeof(*p));
    uint64_t end = s->limit[s->n - 1];
    while (s->lo < end && (s->ranges == NULL || s->ri < s->nr)) {
        for (size_t i = 0; i < s->n; i++) {
            drop(&s->b[i], s->lo);
            int rc = fill(&s->b[i], s->k, s->limit[i]);
            if (rc < 0)
                return rc;
        }
        uint64_t a = s->lo, e = window_end(s, end);
        size_t nw = window_ranges(s, a, e);
        s->lo = e;
        if (nw == 0)
            continue;
        for (size_t i = 0; i < s->n; i++) {
            size_t c = 0;
            while (c < s->b[i].n && s->b[i].recs[c].offset < e)
                c++;
            s->ws[i].recs = s->b[i].recs;
            s->ws[i].n = c;
        }
        int rc = plan_build_within(s->ws, s->n, s->wr, nw, s->fetch, s->gap, p);
        if (rc < 0)
            return rc;
        *ws = s->ws;
        *lo = a;
        *hi = e;
        return 1;
    }
    return 0;
}

size_t planstream_buffered(const planstream *s)
{
    size_t t = 0;
    for (size_t i = 0; i < s->n; i++)
        t += s->b[i].n;
    return t;
}

void planstream_free(planstream *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; s->b != NULL && i < s->n; i++)
        free(s->b[i].recs);
    free(s->b);
    free(s->limit);
    free(s->ws);
    free(s->wr);
    free(s);
}
