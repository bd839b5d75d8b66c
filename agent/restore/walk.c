/* walk.c - a chain's restore window by window: its indexes read as record streams,
 * merged (planstream) and handed on one window's plan at a time, in bounded memory. */
#include "agent/restore/walk.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int set_alloc(ag_ctx *ctx, size_t n, walk_set *set)
{
    memset(set, 0, sizeof(*set));
    set->n = n;
    set->xs = calloc(n ? n : 1, sizeof(*set->xs));
    set->ps = calloc(n ? n : 1, sizeof(*set->ps));
    set->rd = calloc(n ? n : 1, sizeof(*set->rd));
    if (set->xs == NULL || set->ps == NULL || set->rd == NULL)
        return ag_fail(ctx, AG_EFAIL, "out of memory");
    return 0;
}

/* Backup i of a set of n: manifest m, its index opened as a stream. */
static int set_src(ag_ctx *ctx, walk_set *set, size_t i, const manifest *m,
                   const seal_key *dk)
{
    size_t range = WALK_INDEX_BUDGET / (set->n ? set->n : 1);
    range = range < (64u << 10) ? (64u << 10) : range > IDXSTREAM_RANGE ? IDXSTREAM_RANGE
                                                                       : range;
    set->xs[i] = (apply_src){ m, dk, NULL, 0 };
    if (idxstream_open(ctx, m, dk, range, &set->rd[i]) < 0)
        return -1;
    set->ps[i] = (planstream_src){ idxstream_cursor(set->rd[i]), m->size };
    return 0;
}

int walk_set_chain(ag_ctx *ctx, const chain *ch, size_t first, size_t n, walk_set *set)
{
    if (set_alloc(ctx, n, set) < 0)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (set_src(ctx, set, i, ch->v[first + i].m, ch->v[first + i].dk) < 0)
            return -1;
    return 0;
}

int walk_set_one(ag_ctx *ctx, const manifest *m, const seal_key *dk, walk_set *set)
{
    if (set_alloc(ctx, 1, set) < 0)
        return -1;
    return set_src(ctx, set, 0, m, dk);
}

walk_set walk_set_sub(const walk_set *set, size_t first, size_t n)
{
    return (walk_set){ set->xs + first, set->ps + first, set->rd + first, n };
}

void walk_set_free(walk_set *set)
{
    for (size_t i = 0; set->rd != NULL && i < set->n; i++)
        idxstream_close(set->rd[i]);
    free(set->xs);
    free(set->ps);
    free(set->rd);
    memset(set, 0, sizeof(*set));
}

/* Records per source and window: RBD2S3_MERGE_WINDOW (tests), else from the budget. */
static size_t window_size(size_t n)
{
    const char *e = getenv("RBD2S3_MERGE_WINDOW");
    char *end = NULL;
    unsigned long long k = e ? strtoull(e, &end, 10) : 0;
    if (e != NULL && end != e && *end == '\0' && k > 0 && k <= (1ull << 30))
        return (size_t)k;
    return planstream_window(n);
}

static int stream_fail(ag_ctx *ctx, int rc)
{
    if (ctx->exit_code != AG_OK)
        return -1;                /* a cursor recorded its own error */
    if (rc == -EINVAL)
        return ag_fail(ctx, AG_EINTEGRITY, "a chunk index of the chain has records out of "
                       "order");
    if (rc == -ENOMEM)
        return ag_fail(ctx, AG_EFAIL, "out of memory planning the restore");
    return ag_fail(ctx, AG_EFAIL, "reading a chunk index: %s", strerror(-rc));
}

/* The window's records into set->xs, checked against their manifests. */
static int window_srcs(ag_ctx *ctx, walk_set *set, const plan_src *ws)
{
    for (size_t i = 0; i < set->n; i++) {
        set->xs[i].recs = ws[i].recs;
        set->xs[i].nrecs = ws[i].n;
        if (apply_check(ctx, &set->xs[i]) < 0)
            return -1;
    }
    return 0;
}

int walk_run(ag_ctx *ctx, walk_set *set, const plan_range *ranges, size_t nr, walk_fn fn,
             void *arg)
{
    planstream *s;
    size_t k = window_size(set->n);
    int rc = planstream_new(set->ps, set->n, ranges, nr, k, ctx->opts.tun.fetch_size,
                            APPLY_GROUP_GAP, &s);
    if (rc < 0)
        return stream_fail(ctx, rc);
    plan p;
    const plan_src *ws;
    uint64_t lo, hi;
    size_t windows = 0;
    int frc = 0;                  /* the window's failure, recorded by its consumer */
    while (frc == 0 && (rc = planstream_next(s, &p, &ws, &lo, &hi)) == 1) {
        windows++;
        frc = window_srcs(ctx, set, ws) < 0 ? -1 : fn(arg, &p, set->xs);
        plan_free(&p);
    }
    planstream_free(s);
    if (frc < 0)
        return -1;
    if (rc < 0)
        return stream_fail(ctx, rc);
    ag_debug(ctx, "merged %zu backup%s in %zu window%s of at most %zu records each",
             set->n, set->n == 1 ? "" : "s", windows, windows == 1 ? "" : "s", k);
    return 0;
}

static int apply_fn(void *arg, const plan *p, const apply_src *xs)
{
    return apply_window(arg, p, xs);
}

int walk_apply(ag_ctx *ctx, walk_set *set, const apply_sink *sink, uint64_t total)
{
    apply_run *run;
    if (apply_open(ctx, sink, total, &run) == 0)
        walk_run(ctx, set, NULL, 0, apply_fn, run);
    return apply_close(run);
}

typedef struct ordered_arg {
    ag_ctx *ctx;
    ordered_sink o;           /* the caller's, with the bytes of the windows so far */
    int fd;
} ordered_arg;

static int ordered_fn(void *arg, const plan *p, const apply_src *xs)
{
    ordered_arg *a = arg;
    if (a->fd >= 0)
        return ordered_restore_fd(a->ctx, p, xs, a->fd);
    int rc = ordered_restore(a->ctx, p, xs, &a->o);
    for (size_t i = 0; i < p->npieces; i++)
        a->o.bytes0 += p->pieces[i].zero ? 0 : p->pieces[i].len;
    return rc;
}

int walk_ordered(ag_ctx *ctx, walk_set *set, const ordered_sink *o)
{
    ordered_arg a = { ctx, *o, -1 };
    return walk_run(ctx, set, NULL, 0, ordered_fn, &a);
}

int walk_ordered_fd(ag_ctx *ctx, walk_set *set, int fd)
{
    ordered_arg a = { .ctx = ctx, .fd = fd };
    return walk_run(ctx, set, NULL, 0, ordered_fn, &a);
}
