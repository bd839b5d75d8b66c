/* onto.c - restore --onto: catch an existing image up from the snapshot of an older
 * backup of the chain, writing only the ranges changed since (see onto.h). */
#include "agent/restore/onto.h"
#include "agent/restore/apply.h"
#include "agent/restore/target.h"
#include "agent/common/progress.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One catch-up: the open target, backup N, the ranges to write. */
typedef struct onto_run {
    ag_ctx *ctx;
    chain *ch;
    const onto_target *t;
    onto_result *res;
    rbdio_image *img;
    size_t from;              /* N, an index into ch */
    uint64_t head_size;       /* the target's size now */
    plan_range *r;            /* the ranges to write */
    size_t nr, cap;
    size_t nchanged;          /* extents the target changed after snapshot N */
    int whole;                /* ... in whole objects (from the fast-diff object map) */
    plan_range *alloc;        /* what the target's head holds (a clone's parent too) */
    size_t nalloc, alloc_cap;
} onto_run;

static const manifest *link_m(const onto_run *o, size_t i)
{
    return o->ch->v[i].m;
}

static int push_range(plan_range **v, size_t *n, size_t *cap, uint64_t off, uint64_t len)
{
    if (len == 0)
        return 0;
    if (*n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 1024;
        plan_range *nv = realloc(*v, ncap * sizeof(*nv));
        if (nv == NULL)
            return -ENOMEM;
        *v = nv;
        *cap = ncap;
    }
    (*v)[(*n)++] = (plan_range){ off, len };
    return 0;
}

static int add_range(onto_run *o, uint64_t off, uint64_t len)
{
    return push_range(&o->r, &o->nr, &o->cap, off, len);
}

/* The target open at its head, and no other client using it. */
static int open_target(onto_run *o)
{
    const onto_target *t = o->t;
    rbdio_spec s = { t->pool, t->ns, t->image };
    int rc = rbdio_open(t->cl, &s, NULL, &o->img);
    if (rc == -ENOENT)
        return ag_fail(o->ctx, AG_ENOTFOUND, "%s: no such image (--onto catches up an "
                       "existing image)", t->name);
    if (rc < 0)
        return ag_fail_rbd(o->ctx, rc, t->name);
    char who[512] = "";
    if ((rc = rbdio_image_in_use(o->img, who, sizeof(who))) < 0)
        return ag_fail_rbd(o->ctx, rc, t->name);
    if (rc == 1)
        return ag_fail(o->ctx, AG_EBUSY, "%s: in use (%s): not written", t->name, who);
    rbdio_info info;
    if ((rc = rbdio_stat(o->img, &info)) < 0)
        return ag_fail_rbd(o->ctx, rc, t->name);
    o->head_size = info.size;
    return 0;
}

/* The source image the target says it was restored from (its image-meta), if any: an
 * rbd2s3-ID snapshot of another image (IDs are times: two images can share one) must
 * not pass for a backup of this chain. */
static int check_source(onto_run *o)
{
    char src[1024];
    int rc = rbdio_meta_get(o->img, TARGET_SOURCE_META, src, sizeof(src));
    if (rc == -ENOENT)
        return 0;                       /* restored before the key existed */
    if (rc < 0 && rc != -ERANGE)
        return ag_fail_rbd(o->ctx, rc, o->t->name);
    if (rc == 0 && strcmp(src, o->t->source) == 0)
        return 0;
    return ag_fail(o->ctx, AG_ENOTFOUND, "%s: its image-meta %s says it holds backups of "
                   "another image, not of %s: restore it without --onto", o->t->name,
                   TARGET_SOURCE_META, o->t->source);
}

/* N: the newest backup of the chain whose snapshot the target holds. */
static int find_from(onto_run *o)
{
    if (check_source(o) < 0)
        return -1;
    rbdio_snap *snaps = NULL;
    int n = 0, rc = rbdio_snap_list(o->img, &snaps, &n);
    if (rc < 0)
        return ag_fail_rbd(o->ctx, rc, o->t->name);
    int found = 0;
    for (size_t i = o->ch->n; !found && i-- > 0;)
        for (int k = 0; !found && k < n; k++)
            if (strcmp(snaps[k].name, link_m(o, i)->snap_name) == 0) {
                o->from = i;
                found = 1;
            }
    free(snaps);
    const manifest *point = link_m(o, o->ch->n - 1);
    if (!found)
        return ag_fail(o->ctx, AG_ENOTFOUND, "%s: holds no snapshot of a backup of the "
                       "chain of %s (%s to %s): restore it without --onto", o->t->name,
                       point->id, link_m(o, 0)->snap_name, point->snap_name);
    o->res->from = link_m(o, o->from);
    return 0;
}

static int on_changed(uint64_t off, uint64_t len, int exists, void *arg)
{
    (void)exists;
    onto_run *o = arg;
    o->nchanged++;
    o->res->reverted += len;
    return add_range(o, off, len) < 0 ? -ENOMEM : 0;
}

/* What the target changed after snapshot N (extents and size), refused unless force;
 * with force, those extents join the ranges to write. With a valid fast-diff object map
 * the diff comes from the object maps, in whole objects, rather than from a query of
 * every object: an object written since N is rewritten whole. */
static int check_unchanged(onto_run *o)
{
    const manifest *m = link_m(o, o->from);
    o->whole = rbdio_fast_diff(o->img) == 1;
    int rc = rbdio_diff(o->img, m->snap_name, o->head_size, 0, o->whole, on_changed, o);
    if (rc == -ENOMEM)
        return ag_fail(o->ctx, AG_EFAIL, "out of memory");
    if (rc < 0)
        return ag_fail_rbd(o->ctx, rc, o->t->name);
    if ((o->nchanged == 0 && o->head_size == m->size) || o->t->force)
        return 0;
    char size[96] = "";
    if (o->head_size != m->size)
        snprintf(size, sizeof(size), ", resized from %llu to %llu bytes",
                 (unsigned long long)m->size, (unsigned long long)o->head_size);
    return ag_fail(o->ctx, AG_EEXIST, "%s: written after its snapshot %s (%zu %s%s, %llu "
                   "bytes%s): not written; --force reverts those changes", o->t->name,
                   m->snap_name, o->nchanged, o->whole ? "object" : "extent",
                   o->nchanged == 1 ? "" : "s", (unsigned long long)o->res->reverted, size);
}

static int on_alloc(uint64_t off, uint64_t len, int exists, void *arg)
{
    onto_run *o = arg;
    return exists ? push_range(&o->alloc, &o->nalloc, &o->alloc_cap, off, len) : 0;
}

/* What the target's head holds, in whole objects (with its parent's, for a clone): a
 * zero range of the plan outside it reads as zeros already and is not zeroed again. */
static int allocated(onto_run *o)
{
    int rc = rbdio_diff(o->img, NULL, o->head_size, 1, 1, on_alloc, o);
    if (rc == -ENOMEM)
        return ag_fail(o->ctx, AG_EFAIL, "out of memory");
    if (rc < 0)
        return ag_fail_rbd(o->ctx, rc, o->t->name);
    o->nalloc = plan_ranges_merge(o->alloc, o->nalloc);
    return 0;
}

/* 1 if [off, off + len) meets a range of o->alloc (sorted, merged). */
static int held(const onto_run *o, uint64_t off, uint64_t len)
{
    size_t lo = 0, hi = o->nalloc;
    while (lo < hi) {         /* the first range that ends after off */
        size_t mid = lo + (hi - lo) / 2;
        if (o->alloc[mid].off + o->alloc[mid].len <= off)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < o->nalloc && o->alloc[lo].off < off + len;
}

/* The ranges that backups N+1.. changed (their data and zero records), below the size
 * of the restore point; and below the smallest size since N, what a shrink of the head
 * alone (force) took away. */
static int changed_ranges(onto_run *o, uint64_t low)
{
    uint64_t size = link_m(o, o->ch->n - 1)->size, least = link_m(o, o->from)->size;
    for (size_t i = o->from + 1; i < o->ch->n; i++) {
        const chain_link *l = &o->ch->v[i];
        if (l->m->size < least)
            least = l->m->size;
        for (size_t k = 0; k < l->nrecs; k++) {
            uint64_t a = l->recs[k].offset, e = a + l->recs[k].length;
            if (a < size && add_range(o, a, (e < size ? e : size) - a) < 0)
                return ag_fail(o->ctx, AG_EFAIL, "out of memory");
        }
    }
    if (low < least && add_range(o, low, least - low) < 0)
        return ag_fail(o->ctx, AG_EFAIL, "out of memory");
    o->nr = plan_ranges_merge(o->r, o->nr);
    o->res->nranges = o->nr;
    return 0;
}

/* The smallest size the image had from snapshot N on (the head's included). */
static uint64_t low_size(const onto_run *o)
{
    uint64_t low = o->head_size;
    for (size_t i = o->from; i < o->ch->n; i++)
        if (link_m(o, i)->size < low)
            low = link_m(o, i)->size;
    return low;
}

/* Shrink to the smallest size since N first (what lay beyond it reads as zeros after a
 * shrink, as in the source), then grow to the restore point's size. */
static int resize(onto_run *o, uint64_t low)
{
    uint64_t size = link_m(o, o->ch->n - 1)->size;
    int rc = 0;
    if (low < o->head_size)
        rc = rbdio_resize(o->img, low);
    if (rc == 0 && size != low)
        rc = rbdio_resize(o->img, size);
    return rc < 0 ? ag_fail_rbd(o->ctx, rc, "resizing the destination") : 0;
}

/* Write the ranges from the chain merged, and count what the plan writes. */
static int write_ranges(onto_run *o)
{
    ag_ctx *ctx = o->ctx;
    size_t n = o->ch->n;
    apply_src *xs = apply_sources(ctx, o->ch, 0, n);
    plan p;
    if (xs == NULL || apply_plan_within(ctx, xs, n, o->r, o->nr, &p) < 0) {
        free(xs);
        return -1;
    }
    /* zero records and holes are zeroed where the target holds something, else left:
     * as holes (zero 2) of a sink that keeps them */
    for (size_t i = 0; i < p.npieces; i++) {
        plan_piece *pc = &p.pieces[i];
        if (pc->zero)
            pc->zero = held(o, pc->dst_off, pc->len) ? 1 : 2;
        *(pc->zero == 2 ? &o->res->skipped : pc->zero ? &o->res->discarded
                                                   : &o->res->written) += pc->len;
    }
    ag_debug(ctx, "onto: %zu ranges, %zu pieces, %zu GETs, %llu bytes to fetch", o->nr,
             p.npieces, p.ngroups, (unsigned long long)p.fetch_bytes);
    progress prog;
    progress_start(&prog, ctx, "Catching up", o->t->name);
    apply_sink sink = { .img = o->img, .fd = -1, .fresh = 0, .keep_holes = 1, .prog = &prog };
    int rc = apply_restore(ctx, &p, xs, &sink);
    progress_end(&prog, rc == 0);
    plan_free(&p);
    free(xs);
    return rc;
}

static int finish(onto_run *o)
{
    const manifest *point = link_m(o, o->ch->n - 1);
    int rc = rbdio_flush(o->img);
    if (rc == 0 && o->from != o->ch->n - 1)
        rc = rbdio_snap_create(o->img, point->snap_name);
    if (rc < 0)
        return ag_fail_rbd(o->ctx, rc, "creating the snapshot on the destination");
    if ((rc = rbdio_meta_set(o->img, TARGET_SOURCE_META, o->t->source)) < 0)
        return ag_fail_rbd(o->ctx, rc, o->t->name);
    return 0;
}

static int catch_up(onto_run *o)
{
    ag_ctx *ctx = o->ctx;
    if (open_target(o) < 0 || find_from(o) < 0 || check_unchanged(o) < 0)
        return -1;
    size_t later = o->ch->n - 1 - o->from;
    if (later == 0 && o->nchanged == 0 && o->head_size == link_m(o, o->from)->size) {
        o->res->uptodate = 1;
        return 0;
    }
    int rc = rbdio_image_lock_exclusive(o->img);
    if (rc == -EBUSY || rc == -EROFS)
        return ag_fail(ctx, AG_EBUSY, "%s: in use (another client holds its exclusive "
                       "lock): not written", o->t->name);
    if (rc < 0)
        return ag_fail_rbd(ctx, rc, o->t->name);
    uint64_t low = low_size(o);
    ag_info(ctx, "%s holds %s: applying %zu later backup%s%s", o->t->name,
            link_m(o, o->from)->snap_name, later, later == 1 ? "" : "s",
            o->nchanged || o->head_size != link_m(o, o->from)->size
                ? ", reverting the target's own changes (--force)" : "");
    if (chain_load_indexes(ctx, o->ch, 0) < 0 || changed_ranges(o, low) < 0 ||
        allocated(o) < 0 || resize(o, low) < 0 || write_ranges(o) < 0)
        return -1;
    return finish(o);
}

int onto_restore(ag_ctx *ctx, chain *ch, const onto_target *t, onto_result *out)
{
    memset(out, 0, sizeof(*out));
    onto_run o = { .ctx = ctx, .ch = ch, .t = t, .res = out };
    int rc = catch_up(&o);
    rbdio_close(o.img);
    free(o.r);
    free(o.alloc);
    return rc;
}
