/* test_planstream.c - unit tests of the windowed chain merge: on random chains, the
 * windows' plans concatenated are plan_build_within's; each window stays bounded, and
 * 10 million records merge under 64 MiB of peak RSS. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <sys/resource.h>

#include "agent/restore/planstream.h"

/* Under AddressSanitizer freed memory waits in its quarantine (256 MiB) and every byte has
 * shadow: peak RSS says nothing about the merge there, so test_rss merges less and does
 * not bound it. */
#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif

#define MAXSRC 6
#define MAXREC 64

/* A piece with its record named by (source, record offset), not by array position. */
typedef struct flat {
    uint64_t dst_off, len, src_off, rec_off;
    uint32_t src;
    int zero;
} flat;

typedef struct flats {
    flat v[4096];
    size_t n;
} flats;

/* Append a piece, joined to the last one when it continues it. */
static void flat_add(flats *f, const plan_piece *pc, const plan_src *s)
{
    flat x = { pc->dst_off, pc->len, pc->src_off, 0, pc->src, pc->zero };
    if (!pc->zero)
        x.rec_off = s[pc->src].recs[pc->rec].offset;
    else
        x.src = 0, x.src_off = 0;
    flat *l = f->n ? &f->v[f->n - 1] : NULL;
    if (l != NULL && l->dst_off + l->len == x.dst_off && l->zero == x.zero &&
        l->src == x.src && l->rec_off == x.rec_off &&
        (x.zero || l->src_off + l->len == x.src_off)) {
        l->len += x.len;
        return;
    }
    assert_true(f->n < sizeof(f->v) / sizeof(f->v[0]));
    f->v[f->n++] = x;
}

typedef struct chain_t {
    index_rec recs[MAXSRC][MAXREC];
    plan_src src[MAXSRC];
    size_t n;
    plan_range ranges[8];
    size_t nr;
    int use_ranges;
} chain_t;

static void random_chain(chain_t *c, unsigned seed)
{
    srand(seed);
    memset(c, 0, sizeof(*c));
    c->n = 1 + (size_t)rand() % MAXSRC;
    for (size_t i = 0; i < c->n; i++) {
        uint64_t size = 1 + (uint64_t)(rand() % 80), off = (uint64_t)(rand() % 3);
        uint64_t poff = 0;
        size_t k = 0;
        while (k < MAXREC && off < size + 8) {        /* a few records past the size */
            index_rec *r = &c->recs[i][k++];
            r->offset = off;
            r->length = 1 + (uint64_t)(rand() % 6);
            if (rand() % 4 == 0) {
                r->flags = INDEX_FLAG_ZERO;
            } else {
                r->obj = (uint32_t)(rand() % 3);
                r->obj_offset = poff;
                r->stored_length = (uint32_t)r->length;
                poff += r->length + (uint64_t)(rand() % 2);
            }
            off += r->length + (uint64_t)(rand() % 4 == 0 ? rand() % 10 : 0);
        }
        c->src[i] = (plan_src){ c->recs[i], k, size };
    }
    c->use_ranges = rand() % 3 == 0;
    if (c->use_ranges) {
        c->nr = (size_t)rand() % 8;
        for (size_t j = 0; j < c->nr; j++)
            c->ranges[j] = (plan_range){ (uint64_t)(rand() % 90), (uint64_t)(rand() % 20) };
        c->nr = plan_ranges_merge(c->ranges, c->nr);
    }
}

/* Every job of a window's plan names a record of the window holding its pieces. */
static void check_window(const plan *p, const plan_src *ws, size_t n, size_t k, uint64_t lo,
                         uint64_t hi)
{
    for (size_t i = 0; i < n; i++)
        assert_true(ws[i].n <= k);
    for (size_t i = 0; i < p->npieces; i++) {
        assert_true(p->pieces[i].dst_off >= lo);
        assert_true(p->pieces[i].dst_off + p->pieces[i].len <= hi);
    }
    size_t data = 0;
    for (size_t j = 0; j < p->njobs; j++) {
        const plan_job *jb = &p->jobs[j];
        assert_true(jb->src < n && jb->rec < ws[jb->src].n);
        for (size_t q = 0; q < jb->count; q++) {
            const plan_piece *pc = &p->pieces[p->job_pieces[jb->first + q]];
            assert_int_equal(pc->src, jb->src);
            assert_int_equal(pc->rec, jb->rec);
        }
        data += jb->count;
    }
    size_t want = 0;
    for (size_t i = 0; i < p->npieces; i++)
        want += !p->pieces[i].zero;
    assert_int_equal(data, want);
}

static void run_seed(unsigned seed, size_t k)
{
    static chain_t c;
    static flats whole, win;
    random_chain(&c, seed);
    const plan_range *rg = c.use_ranges ? c.ranges : NULL;
    plan p;
    assert_int_equal(plan_build_within(c.src, c.n, rg, c.nr, 8, 2, &p), 0);
    whole.n = 0;
    for (size_t i = 0; i < p.npieces; i++)
        flat_add(&whole, &p.pieces[i], c.src);
    plan_free(&p);

    index_array_cursor ac[MAXSRC];
    planstream_src ps[MAXSRC];
    for (size_t i = 0; i < c.n; i++) {
        ac[i] = (index_array_cursor){ c.src[i].recs, c.src[i].n, 0 };
        ps[i] = (planstream_src){ index_array_cursor_of(&ac[i]), c.src[i].size };
    }
    planstream *s;
    assert_int_equal(planstream_new(ps, c.n, rg, c.nr, k, 8, 2, &s), 0);
    win.n = 0;
    const plan_src *ws;
    uint64_t lo, hi, last = 0;
    int rc;
    while ((rc = planstream_next(s, &p, &ws, &lo, &hi)) == 1) {
        assert_true(lo >= last && hi > lo);
        last = hi;
        assert_true(planstream_buffered(s) <= c.n * k);
        check_window(&p, ws, c.n, k, lo, hi);
        assert_int_equal(p.size, c.src[c.n - 1].size);
        for (size_t i = 0; i < p.npieces; i++)
            flat_add(&win, &p.pieces[i], ws);
        plan_free(&p);
    }
    assert_int_equal(rc, 0);
    planstream_free(s);
    assert_int_equal(win.n, whole.n);
    for (size_t i = 0; i < whole.n; i++)
        assert_memory_equal(&win.v[i], &whole.v[i], sizeof(flat));
}

static void test_random_chains(void **state)
{
    (void)state;
    const char *e = getenv("PLANSTREAM_SEEDS");
    unsigned seeds = e ? (unsigned)strtoul(e, NULL, 10) : 3000;
    for (unsigned seed = 1; seed <= seeds; seed++)
        run_seed(seed, 1 + seed % 5);
}

static void test_big_window_is_one(void **state)
{
    (void)state;
    for (unsigned seed = 1; seed <= 200; seed++)
        run_seed(seed, MAXREC + 1);
}

static int fail_next(void *arg, index_rec *r)
{
    (void)arg;
    (void)r;
    return -EIO;
}

static void test_errors(void **state)
{
    (void)state;
    planstream *s;
    planstream_src src = { { fail_next, NULL }, 100 };
    assert_int_equal(planstream_new(&src, 1, NULL, 0, 0, 8, 2, &s), -EINVAL);
    assert_int_equal(planstream_new(&src, 0, NULL, 0, 4, 8, 2, &s), -EINVAL);
    assert_int_equal(planstream_new(&src, 1, NULL, 0, 4, 8, 2, &s), 0);
    plan p;
    const plan_src *ws;
    uint64_t lo, hi;
    assert_int_equal(planstream_next(s, &p, &ws, &lo, &hi), -EIO);
    planstream_free(s);

    index_rec bad[2];                          /* overlapping records */
    memset(bad, 0, sizeof(bad));
    bad[0] = (index_rec){ .offset = 0, .length = 4, .flags = INDEX_FLAG_ZERO };
    bad[1] = (index_rec){ .offset = 2, .length = 4, .flags = INDEX_FLAG_ZERO };
    index_array_cursor ac = { bad, 2, 0 };
    src = (planstream_src){ index_array_cursor_of(&ac), 100 };
    assert_int_equal(planstream_new(&src, 1, NULL, 0, 4, 8, 2, &s), 0);
    assert_int_equal(planstream_next(s, &p, &ws, &lo, &hi), -EINVAL);
    planstream_free(s);
    assert_true(planstream_window(1) == PLANSTREAM_BUDGET);
    assert_true(planstream_window(1u << 30) == PLANSTREAM_MIN_WINDOW);
}

/* A long chain of long indexes: never more than k records per source at once. */
static int gen_next(void *arg, index_rec *r)
{
    uint64_t *i = arg;
    if (*i >= 100000)
        return 0;
    memset(r, 0, sizeof(*r));
    r->offset = *i * 4;
    r->length = 4;
    r->flags = INDEX_FLAG_ZERO;
    (*i)++;
    return 1;
}

static void test_bounded(void **state)
{
    (void)state;
    enum { N = 40, K = 50 };
    uint64_t pos[N] = { 0 };
    planstream_src src[N];
    for (size_t i = 0; i < N; i++)
        src[i] = (planstream_src){ { gen_next, &pos[i] }, 400000 };
    planstream *s;
    assert_int_equal(planstream_new(src, N, NULL, 0, K, 8, 2, &s), 0);
    plan p;
    const plan_src *ws;
    uint64_t lo, hi, covered = 0;
    size_t windows = 0;
    while (planstream_next(s, &p, &ws, &lo, &hi) == 1) {
        assert_int_equal(lo, covered);
        covered = hi;
        assert_true(planstream_buffered(s) <= N * K);
        assert_true(p.npieces <= 2);
        windows++;
        plan_free(&p);
    }
    assert_int_equal(covered, 400000);
    assert_true(windows >= 100000 / K);
    planstream_free(s);
}

/* Data records of 1 MiB, 64 to a data object, from base on: a backup of a full image. */
typedef struct gen {
    uint64_t i, n, skip;
} gen;

static int gen_data(void *arg, index_rec *r)
{
    gen *g = arg;
    if (g->i >= g->n)
        return 0;
    memset(r, 0, sizeof(*r));
    r->offset = (g->i * g->skip) << 20;
    r->length = 1u << 20;
    r->obj = (uint32_t)(g->i / 64);
    r->obj_offset = (g->i % 64) << 19;
    r->stored_length = 1u << 19;
    g->i++;
    return 1;
}

/* The 10 million records (a fully written 10 TiB image at 1 MiB chunks), with
 * an incremental of every 7th chunk on top, merged with the default window: peak RSS
 * under 64 MiB. PLANSTREAM_RSS_RECORDS sets the count. */
static void test_rss(void **state)
{
    (void)state;
    const char *e = getenv("PLANSTREAM_RSS_RECORDS");
    uint64_t n = e ? strtoull(e, NULL, 10) : UNDER_ASAN ? 1000000 : 10000000;
    gen g[2] = { { 0, n, 1 }, { 0, n / 7, 7 } };
    planstream_src src[2] = { { { gen_data, &g[0] }, n << 20 }, { { gen_data, &g[1] }, n << 20 } };
    planstream *s;
    assert_int_equal(planstream_new(src, 2, NULL, 0, planstream_window(2), 8u << 20,
                                    64u << 10, &s), 0);
    plan p;
    const plan_src *ws;
    uint64_t lo, hi, covered = 0, data = 0;
    while (planstream_next(s, &p, &ws, &lo, &hi) == 1) {
        assert_int_equal(lo, covered);
        covered = hi;
        for (size_t i = 0; i < p.npieces; i++)
            data += p.pieces[i].len;
        plan_free(&p);
    }
    planstream_free(s);
    assert_int_equal(covered, n << 20);
    assert_int_equal(data, n << 20);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    print_message("%llu records merged, peak RSS %ld KiB\n", (unsigned long long)n,
                  ru.ru_maxrss);
    if (UNDER_ASAN)
        print_message("peak RSS not bounded under AddressSanitizer (its quarantine)\n");
    else
        assert_true(ru.ru_maxrss < 64 * 1024);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_chains),
        cmocka_unit_test(test_big_window_is_one),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_bounded),
        cmocka_unit_test(test_rss),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
