/* fuzz_plan.c - libFuzzer harness: the restore planner (agent/restore/plan.c). Input: up to 4
 * sources (oldest first), each an image size and up to 32 sorted records, then the fetch
 * size and gap. Checks against the definition (each byte from the newest source that has
 * a record there, below the sizes of that source and all newer ones): the pieces tile
 * [0, size), and each is data of that record, zeros of a zero record, or a hole; every
 * data piece is in exactly one job of its record, every job in one group that covers its
 * stored bytes, a group longer than the fetch size holds one job. Then up to 8 ranges
 * (merged by plan_ranges_merge: sorted, apart) and the plan within them: its pieces lie
 * in the ranges, cover exactly their part below the size, say what the definition says,
 * and its jobs and groups hold as above. */
#include "fuzz/harness/fuzz_util.h"
#include "agent/restore/plan.h"

#define MAX_SRC 4
#define MAX_REC 32
#define MAX_RANGE 8

static index_rec recs[MAX_SRC][MAX_REC];
static plan_src srcs[MAX_SRC];
static uint64_t limit[MAX_SRC];
static plan_range ranges[MAX_RANGE];

static void make_sources(fz_in *in, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        size_t k = 0, want = fz_u8(in) % (MAX_REC + 1);
        uint64_t pos = 0;
        srcs[i].size = fz_var(in);
        while (k < want) {
            index_rec *r = &recs[i][k];
            uint64_t gap = fz_var(in), len = fz_var(in);
            uint8_t flags = fz_u8(in);
            memset(r, 0, sizeof(*r));
            if (len == 0)
                len = 1;
            if (gap > UINT64_MAX - pos || len > UINT64_MAX - pos - gap)
                break;
            r->offset = pos + gap;
            r->length = len;
            pos = r->offset + len;
            if (flags & 1) {
                r->flags = INDEX_FLAG_ZERO;
            } else {
                r->obj = flags >> 6;
                r->obj_offset = fz_var(in);
                r->stored_length = (uint32_t)fz_var(in);
                /* index.c refuses a record whose stored bytes end past 2^64 (the
                 * group arithmetic would wrap): not generated here */
                if (r->stored_length > UINT64_MAX - r->obj_offset)
                    r->obj_offset = UINT64_MAX - r->stored_length;
            }
            k++;
        }
        srcs[i].recs = recs[i];
        srcs[i].n = k;
    }
    for (size_t i = n; i-- > 0;)
        limit[i] = (i == n - 1 || srcs[i].size < limit[i + 1]) ? srcs[i].size : limit[i + 1];
}

/* The newest source with a record covering x below its limit: 1, *src and *rec; 0 if
 * none (a hole). Naive on purpose: the definition, not the planner's sweep. */
static int reference(size_t n, uint64_t x, size_t *src, size_t *rec)
{
    for (size_t i = n; i-- > 0;) {
        if (x >= limit[i])
            continue;
        for (size_t r = 0; r < srcs[i].n; r++)
            if (recs[i][r].offset <= x && x - recs[i][r].offset < recs[i][r].length) {
                *src = i;
                *rec = r;
                return 1;
            }
    }
    return 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Every point where the answer of reference() may change, sorted. */
static size_t cut_points(size_t n, uint64_t *cut)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        cut[k++] = limit[i];
        for (size_t r = 0; r < srcs[i].n; r++) {
            cut[k++] = recs[i][r].offset;
            cut[k++] = recs[i][r].offset + recs[i][r].length;
        }
    }
    qsort(cut, k, sizeof(*cut), cmp_u64);
    return k;
}

/* Piece pc must be what the definition says on [a, e), a range on which the answer of
 * reference() does not change. */
static void check_range(const plan_piece *pc, size_t k, size_t n, uint64_t a, uint64_t e)
{
    size_t i, r;
    int found = reference(n, a, &i, &r);
    if (!found) {
        FUZZ_CHECK(pc->zero == 2, "piece %zu at %llu: not a hole", k, (unsigned long long)a);
        return;
    }
    FUZZ_CHECK(e <= limit[i], "piece %zu: past the limit", k);
    if (recs[i][r].flags & INDEX_FLAG_ZERO) {
        FUZZ_CHECK(pc->zero == 1, "piece %zu at %llu: not zeros", k, (unsigned long long)a);
        return;
    }
    FUZZ_CHECK(pc->zero == 0 && pc->src == i && pc->rec == r &&
               pc->src_off == pc->dst_off - recs[i][r].offset,
               "piece %zu at %llu: source %u record %u, expected %zu %zu", k,
               (unsigned long long)a, pc->src, pc->rec, i, r);
}

/* Piece k, over every stretch between cut points; *c advances (pieces in order). */
static void check_piece(const plan_piece *pc, size_t k, size_t n, const uint64_t *cut,
                        size_t ncut, size_t *c)
{
    uint64_t a = pc->dst_off, e = a + pc->len;
    for (uint64_t x = a; x < e;) {
        while (*c < ncut && cut[*c] <= x)
            (*c)++;
        uint64_t y = *c < ncut && cut[*c] < e ? cut[*c] : e;
        check_range(pc, k, n, x, y);
        x = y;
    }
}

static uint64_t *cuts(size_t n, size_t *ncut)
{
    uint64_t *cut = malloc((2 * n * MAX_REC + n) * sizeof(*cut));
    FUZZ_CHECK(cut != NULL, "malloc");
    *ncut = cut_points(n, cut);
    return cut;
}

static void check_pieces(const plan *p, size_t n)
{
    uint64_t at = 0;
    size_t ncut, c = 0;
    uint64_t *cut = cuts(n, &ncut);
    for (size_t k = 0; k < p->npieces; k++) {
        const plan_piece *pc = &p->pieces[k];
        uint64_t a = pc->dst_off, e = a + pc->len;
        FUZZ_CHECK(a == at && pc->len > 0 && e > a, "piece %zu at %llu, expected %llu", k,
                   (unsigned long long)a, (unsigned long long)at);
        at = e;
        check_piece(pc, k, n, cut, ncut, &c);
    }
    free(cut);
    FUZZ_CHECK(at == p->size && p->size == srcs[n - 1].size, "pieces end at %llu of %llu",
               (unsigned long long)at, (unsigned long long)p->size);
}

static void check_jobs(const plan *p, uint64_t fetch_size)
{
    size_t ndata = 0, seen = 0;
    uint8_t *hit = calloc(p->npieces + 1, 1);
    FUZZ_CHECK(hit != NULL, "calloc");
    for (size_t k = 0; k < p->npieces; k++)
        ndata += p->pieces[k].zero == 0;
    for (size_t j = 0; j < p->njobs; j++) {
        const plan_job *jb = &p->jobs[j];
        FUZZ_CHECK(jb->count > 0, "job %zu has no piece", j);
        for (size_t c = 0; c < jb->count; c++) {
            size_t k = p->job_pieces[jb->first + c];
            FUZZ_CHECK(k < p->npieces && !hit[k] && !p->pieces[k].zero &&
                       p->pieces[k].src == jb->src && p->pieces[k].rec == jb->rec,
                       "job %zu: piece %zu", j, k);
            hit[k] = 1;
            seen++;
        }
    }
    FUZZ_CHECK(seen == ndata, "%zu data pieces, %zu in jobs", ndata, seen);
    free(hit);
    uint64_t sum = 0, max = 0;
    size_t next_job = 0;
    for (size_t g = 0; g < p->ngroups; g++) {
        const plan_group *gr = &p->groups[g];
        FUZZ_CHECK(gr->first_job == next_job && gr->njobs > 0, "group %zu: jobs", g);
        next_job += gr->njobs;
        FUZZ_CHECK(gr->len <= fetch_size || gr->njobs == 1, "group %zu too long", g);
        for (size_t j = gr->first_job; j < gr->first_job + gr->njobs && j < p->njobs; j++) {
            const index_rec *r = &recs[p->jobs[j].src][p->jobs[j].rec];
            FUZZ_CHECK(p->jobs[j].src == gr->src && r->obj == gr->obj &&
                       r->obj_offset >= gr->off &&
                       r->obj_offset - gr->off + r->stored_length <= gr->len,
                       "group %zu does not cover job %zu", g, j);
        }
        sum += gr->len;
        max = gr->len > max ? gr->len : max;
    }
    FUZZ_CHECK(next_job == p->njobs, "%zu jobs, %zu in groups", p->njobs, next_job);
    FUZZ_CHECK(sum == p->fetch_bytes && max == p->max_group, "group totals");
}

/* Up to MAX_RANGE ranges from the rest of the input, merged; their count. */
static size_t make_ranges(fz_in *in)
{
    size_t n = fz_u8(in) % (MAX_RANGE + 1);
    for (size_t i = 0; i < n; i++) {
        ranges[i].off = fz_var(in);
        ranges[i].len = fz_var(in);
        if (ranges[i].len > UINT64_MAX - ranges[i].off)
            ranges[i].len = UINT64_MAX - ranges[i].off;
    }
    n = plan_ranges_merge(ranges, n);
    for (size_t i = 0; i < n; i++)
        FUZZ_CHECK(ranges[i].len > 0 && (i == 0 || ranges[i].off >
                   ranges[i - 1].off + ranges[i - 1].len), "range %zu not merged", i);
    return n;
}

static void check_within(size_t n, size_t nr, uint64_t fetch_size, uint64_t gap)
{
    plan p;
    int rc = plan_build_within(srcs, n, ranges, nr, fetch_size, gap, &p);
    FUZZ_CHECK(rc == 0, "plan_build_within: %d", rc);
    uint64_t want = 0, got = 0, size = srcs[n - 1].size, at = 0;
    for (size_t i = 0; i < nr; i++) {
        uint64_t a = ranges[i].off < size ? ranges[i].off : size;
        uint64_t e = ranges[i].len < size - a ? a + ranges[i].len : size;
        want += e - a;
    }
    size_t ncut, c = 0, r = 0;
    uint64_t *cut = cuts(n, &ncut);
    for (size_t k = 0; k < p.npieces; k++) {
        const plan_piece *pc = &p.pieces[k];
        while (r < nr && ranges[r].off + ranges[r].len <= pc->dst_off)
            r++;
        FUZZ_CHECK(pc->len > 0 && pc->dst_off >= at && r < nr &&
                   ranges[r].off <= pc->dst_off &&
                   pc->len <= ranges[r].off + ranges[r].len - pc->dst_off,
                   "within: piece %zu at %llu outside the ranges", k,
                   (unsigned long long)pc->dst_off);
        at = pc->dst_off + pc->len;
        got += pc->len;
        check_piece(pc, k, n, cut, ncut, &c);
    }
    free(cut);
    FUZZ_CHECK(got == want, "within: pieces cover %llu bytes, the ranges %llu",
               (unsigned long long)got, (unsigned long long)want);
    check_jobs(&p, fetch_size);
    plan_free(&p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_in in = { data, size };
    size_t n = 1 + fz_u8(&in) % MAX_SRC;
    uint64_t fetch_size = fz_var(&in), gap = fz_var(&in);
    if (fetch_size == 0)
        fetch_size = 1;
    make_sources(&in, n);
    plan p;
    int rc = plan_build(srcs, n, fetch_size, gap, &p);
    FUZZ_CHECK(rc == 0, "plan_build: %d", rc);
    check_pieces(&p, n);
    check_jobs(&p, fetch_size);
    plan_free(&p);
    check_within(n, make_ranges(&in), fetch_size, gap);
    return 0;
}
