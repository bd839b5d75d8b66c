/* plan.c - restore planning: merge the indexes of a chain, newest first, into the pieces
 * to write, each byte taken from the newest backup that has it, and fetch groups. */
#include "agent/restore/plan.h"
#include "agent/format/chunk.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

typedef struct vec {
    void *v;
    size_t n, cap, elem;
} vec;

static void *vec_push(vec *a)
{
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 256;
        void *nv = realloc(a->v, cap * a->elem);
        if (nv == NULL)
            return NULL;
        a->v = nv;
        a->cap = cap;
    }
    return (char *)a->v + a->elem * a->n++;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Every record start/end (clipped to the limits), plus 0 and the target size. */
static int boundaries(const plan_src *s, size_t n, const uint64_t *limit, uint64_t **out,
                      size_t *nout)
{
    size_t total = 2;
    for (size_t i = 0; i < n; i++)
        total += 2 * s[i].n;
    uint64_t *b = malloc(total * sizeof(*b));
    if (b == NULL)
        return -ENOMEM;
    size_t k = 0;
    b[k++] = 0;
    b[k++] = limit[n - 1];
    for (size_t i = 0; i < n; i++)
        for (size_t r = 0; r < s[i].n; r++) {
            uint64_t a = s[i].recs[r].offset, e = a + s[i].recs[r].length;
            b[k++] = a < limit[i] ? a : limit[i];
            b[k++] = e < limit[i] ? e : limit[i];
        }
    qsort(b, k, sizeof(*b), cmp_u64);
    size_t u = 0;
    for (size_t i = 0; i < k; i++)
        if (u == 0 || b[i] != b[u - 1])
            b[u++] = b[i];
    *out = b;
    *nout = u;
    return 0;
}

/* The newest source with a record covering x (pointers advance monotonically). */
static int winner(const plan_src *s, size_t n, const uint64_t *limit, size_t *ptr, uint64_t x,
                  uint32_t *src, uint32_t *rec)
{
    for (size_t i = n; i-- > 0;) {
        if (x >= limit[i])
            continue;
        while (ptr[i] < s[i].n && s[i].recs[ptr[i]].offset + s[i].recs[ptr[i]].length <= x)
            ptr[i]++;
        if (ptr[i] < s[i].n && s[i].recs[ptr[i]].offset <= x) {
            *src = (uint32_t)i;
            *rec = (uint32_t)ptr[i];
            return 1;
        }
    }
    return 0;
}

static int add_piece(vec *pieces, const plan_src *s, uint64_t a, uint64_t e, int found,
                     uint32_t src, uint32_t rec)
{
    plan_piece np = { .dst_off = a, .len = e - a, .src = src, .rec = rec };
    if (!found)
        np.zero = 2;
    else if (s[src].recs[rec].flags & INDEX_FLAG_ZERO)
        np.zero = 1;
    else
        np.src_off = a - s[src].recs[rec].offset;
    plan_piece *last = pieces->n ? (plan_piece *)pieces->v + pieces->n - 1 : NULL;
    if (last != NULL && last->dst_off + last->len == a && last->zero == np.zero &&
        (np.zero || (last->src == src && last->rec == rec))) {
        last->len += np.len;
        return 0;
    }
    plan_piece *p = vec_push(pieces);
    if (p == NULL)
        return -ENOMEM;
    *p = np;
    return 0;
}

static int merge(const plan_src *s, size_t n, plan *p)
{
    uint64_t *limit = malloc(n * sizeof(*limit));
    size_t *ptr = calloc(n, sizeof(*ptr));
    uint64_t *b = NULL;
    size_t nb = 0;
    vec pieces = { .elem = sizeof(plan_piece) };
    int rc = limit && ptr ? 0 : -ENOMEM;
    for (size_t i = n; rc == 0 && i-- > 0;)
        limit[i] = (i == n - 1 || s[i].size < limit[i + 1]) ? s[i].size : limit[i + 1];
    if (rc == 0)
        rc = boundaries(s, n, limit, &b, &nb);
    for (size_t i = 0; rc == 0 && i + 1 < nb; i++) {
        uint32_t src = 0, rec = 0;
        int found = winner(s, n, limit, ptr, b[i], &src, &rec);
        rc = add_piece(&pieces, s, b[i], b[i + 1], found, src, rec);
    }
    free(limit);
    free(ptr);
    free(b);
    p->pieces = pieces.v;
    p->npieces = pieces.n;
    p->size = s[n - 1].size;
    return rc;
}

static const plan_src *sort_srcs;

static int cmp_piece_src(const void *a, const void *b)
{
    const plan_piece *x = *(plan_piece *const *)a, *y = *(plan_piece *const *)b;
    if (x->src != y->src)
        return x->src < y->src ? -1 : 1;
    const index_rec *rx = &sort_srcs[x->src].recs[x->rec];
    const index_rec *ry = &sort_srcs[y->src].recs[y->rec];
    if (rx->obj != ry->obj)
        return rx->obj < ry->obj ? -1 : 1;
    if (rx->obj_offset != ry->obj_offset)
        return rx->obj_offset < ry->obj_offset ? -1 : 1;
    return x->dst_off < y->dst_off ? -1 : x->dst_off > y->dst_off;
}

/* Jobs: the data pieces grouped by record, in pack order. */
static int make_jobs(const plan_src *s, plan *p)
{
    plan_piece **order = malloc((p->npieces + 1) * sizeof(*order));
    p->job_pieces = malloc((p->npieces + 1) * sizeof(*p->job_pieces));
    p->jobs = malloc((p->npieces + 1) * sizeof(*p->jobs));
    if (order == NULL || p->job_pieces == NULL || p->jobs == NULL) {
        free(order);
        return -ENOMEM;
    }
    size_t k = 0;
    for (size_t i = 0; i < p->npieces; i++)
        if (!p->pieces[i].zero)
            order[k++] = &p->pieces[i];
    sort_srcs = s;
    qsort(order, k, sizeof(*order), cmp_piece_src);
    for (size_t i = 0; i < k; i++) {
        plan_job *last = p->njobs ? &p->jobs[p->njobs - 1] : NULL;
        if (last == NULL || last->src != order[i]->src || last->rec != order[i]->rec)
            p->jobs[p->njobs++] = (plan_job){ order[i]->src, order[i]->rec, i, 0 };
        p->jobs[p->njobs - 1].count++;
        p->job_pieces[i] = (size_t)(order[i] - p->pieces);
    }
    free(order);
    return 0;
}

static int make_groups(const plan_src *s, plan *p, uint64_t fetch_size, uint64_t gap)
{
    p->groups = malloc((p->njobs + 1) * sizeof(*p->groups));
    if (p->groups == NULL)
        return -ENOMEM;
    for (size_t j = 0; j < p->njobs; j++) {
        const index_rec *r = &s[p->jobs[j].src].recs[p->jobs[j].rec];
        plan_group *g = p->ngroups ? &p->groups[p->ngroups - 1] : NULL;
        uint64_t end = r->obj_offset + r->stored_length;
        if (g != NULL && g->src == p->jobs[j].src && g->obj == r->obj &&
            r->obj_offset >= g->off + g->len && r->obj_offset - (g->off + g->len) <= gap &&
            end - g->off <= fetch_size) {
            g->len = end - g->off;
            g->njobs++;
            continue;
        }
        p->groups[p->ngroups++] = (plan_group){ p->jobs[j].src, r->obj, r->obj_offset,
                                                r->stored_length, j, 1 };
    }
    for (size_t i = 0; i < p->ngroups; i++) {
        p->fetch_bytes += p->groups[i].len;
        if (p->groups[i].len > p->max_group)
            p->max_group = p->groups[i].len;
    }
    return 0;
}

static int cmp_range(const void *a, const void *b)
{
    const plan_range *x = a, *y = b;
    return x->off < y->off ? -1 : x->off > y->off;
}

size_t plan_ranges_merge(plan_range *r, size_t n)
{
    qsort(r, n, sizeof(*r), cmp_range);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (r[i].len == 0)
            continue;
        if (k > 0 && r[i].off <= r[k - 1].off + r[k - 1].len) {
            uint64_t end = r[i].off + r[i].len;
            if (end > r[k - 1].off + r[k - 1].len)
                r[k - 1].len = end - r[k - 1].off;
            continue;
        }
        r[k++] = r[i];
    }
    return k;
}

/* Keep the parts of p's pieces within ranges (both sorted by offset). */
static int clip(plan *p, const plan_range *ranges, size_t nr)
{
    vec out = { .elem = sizeof(plan_piece) };
    size_t j = 0;
    for (size_t i = 0; i < p->npieces; i++) {
        const plan_piece *pc = &p->pieces[i];
        uint64_t end = pc->dst_off + pc->len;
        while (j < nr && ranges[j].off + ranges[j].len <= pc->dst_off)
            j++;
        for (size_t k = j; k < nr && ranges[k].off < end; k++) {
            uint64_t a = ranges[k].off > pc->dst_off ? ranges[k].off : pc->dst_off;
            uint64_t e = ranges[k].off + ranges[k].len < end ? ranges[k].off + ranges[k].len
                                                             : end;
            plan_piece *np = vec_push(&out);
            if (np == NULL) {
                free(out.v);
                return -ENOMEM;
            }
            *np = *pc;
            np->dst_off = a;
            np->len = e - a;
            if (!pc->zero)
                np->src_off = pc->src_off + (a - pc->dst_off);
        }
    }
    free(p->pieces);
    p->pieces = out.v;
    p->npieces = out.n;
    return 0;
}

int plan_build(const plan_src *srcs, size_t n, uint64_t fetch_size, uint64_t gap, plan *p)
{
    return plan_build_within(srcs, n, NULL, 0, fetch_size, gap, p);
}

int plan_build_within(const plan_src *srcs, size_t n, const plan_range *ranges, size_t nr,
                      uint64_t fetch_size, uint64_t gap, plan *p)
{
    memset(p, 0, sizeof(*p));
    if (n == 0)
        return -EINVAL;
    int rc = merge(srcs, n, p);
    if (rc == 0 && ranges != NULL)
        rc = clip(p, ranges, nr);
    if (rc == 0)
        rc = make_jobs(srcs, p);
    if (rc == 0)
        rc = make_groups(srcs, p, fetch_size, gap);
    if (rc < 0)
        plan_free(p);
    return rc;
}

void plan_free(plan *p)
{
    free(p->pieces);
    free(p->jobs);
    free(p->job_pieces);
    free(p->groups);
    memset(p, 0, sizeof(*p));
}

int plan_check_src(const plan_src *s, uint64_t chunk_size, const uint64_t *sizes,
                   size_t nobj, size_t *bad)
{
    *bad = s->n;
    if (chunk_size == 0 || chunk_size > CHUNK_SIZE_MAX)
        return -EINVAL;
    for (size_t i = 0; i < s->n; i++) {
        const index_rec *r = &s->recs[i];
        *bad = i;
        if (r->flags & INDEX_FLAG_ZERO)
            continue;
        if (r->length > chunk_size)
            return -E2BIG;
        if (r->obj >= nobj || r->obj_offset > sizes[r->obj] ||
            r->stored_length > sizes[r->obj] - r->obj_offset)
            return -ERANGE;
    }
    *bad = s->n;
    return 0;
}
