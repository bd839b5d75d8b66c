/* test_plan.c - unit tests of the restore planner (chain merge, shrink, groups, ranges) and of
 * small agent helpers (sizes, zero detection). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "agent/common/context.h"
#include "agent/backup/pipeline.h"
#include "agent/restore/plan.h"

#define MIB (1ULL << 20)

static index_rec data_rec(uint64_t off, uint64_t len, uint32_t pack, uint64_t poff)
{
    index_rec r;
    memset(&r, 0, sizeof(r));
    r.offset = off;
    r.length = len;
    r.obj = pack;
    r.obj_offset = poff;
    r.stored_length = (uint32_t)len;
    return r;
}

static index_rec zero_rec(uint64_t off, uint64_t len)
{
    index_rec r;
    memset(&r, 0, sizeof(r));
    r.offset = off;
    r.length = len;
    r.flags = INDEX_FLAG_ZERO;
    return r;
}

/* The byte source of every offset according to the plan: 'h' hole, 'z' zero, or
 * 'A'+src with the record's offset checked. */
static void expect_map(const plan *p, const plan_src *s, uint64_t unit, const char *want)
{
    size_t n = strlen(want);
    assert_int_equal(p->size, n * unit);
    uint64_t covered = 0;
    for (size_t i = 0; i < p->npieces; i++) {
        const plan_piece *pc = &p->pieces[i];
        assert_int_equal(pc->dst_off, covered);
        for (uint64_t o = pc->dst_off; o < pc->dst_off + pc->len; o += unit) {
            char c = pc->zero == 2 ? 'h' : pc->zero == 1 ? 'z' : (char)('A' + pc->src);
            assert_int_equal(c, want[o / unit]);
            if (!pc->zero) {
                const index_rec *r = &s[pc->src].recs[pc->rec];
                assert_true(r->offset <= o && o < r->offset + r->length);
                assert_int_equal(pc->src_off + (o - pc->dst_off), o - r->offset);
            }
        }
        covered += pc->len;
    }
    assert_int_equal(covered, n * unit);
}

static void test_single_full(void **state)
{
    (void)state;
    index_rec a[] = { data_rec(0, 2 * MIB, 0, 0), zero_rec(2 * MIB, MIB),
                      data_rec(5 * MIB, MIB, 0, 2 * MIB) };
    plan_src s[] = { { a, 3, 8 * MIB } };
    plan p;
    assert_int_equal(plan_build(s, 1, 8 * MIB, 0, &p), 0);
    expect_map(&p, s, MIB, "AAzhhAhh");
    assert_int_equal(p.njobs, 2);
    assert_int_equal(p.ngroups, 1);         /* contiguous in the pack: one GET */
    assert_int_equal(p.groups[0].len, 3 * MIB);
    plan_free(&p);
}

static void test_newest_wins(void **state)
{
    (void)state;
    index_rec a[] = { data_rec(0, 4 * MIB, 0, 0) };
    index_rec b[] = { data_rec(MIB, MIB, 0, 0), zero_rec(3 * MIB, MIB) };
    index_rec c[] = { data_rec(MIB / 2 + MIB, MIB, 0, 0) };
    plan_src s[] = { { a, 1, 4 * MIB }, { b, 2, 4 * MIB }, { c, 1, 4 * MIB } };
    plan p;
    assert_int_equal(plan_build(s, 3, 8 * MIB, 0, &p), 0);
    expect_map(&p, s, MIB / 2, "AABCCAzz");
    /* A's one record is needed twice (before and after B/C): one job, two pieces. */
    size_t jobs_a = 0;
    for (size_t j = 0; j < p.njobs; j++)
        if (p.jobs[j].src == 0) {
            jobs_a++;
            assert_int_equal(p.jobs[j].count, 2);
        }
    assert_int_equal(jobs_a, 1);
    plan_free(&p);
}

static void test_shrink_then_grow(void **state)
{
    (void)state;
    /* A has data in [4,6) MiB; B shrinks the image to 3 MiB; C grows it to 8 MiB and
     * writes [7,8). A's bytes past 3 MiB must not come back. */
    index_rec a[] = { data_rec(0, MIB, 0, 0), data_rec(4 * MIB, 2 * MIB, 0, MIB) };
    index_rec c[] = { data_rec(7 * MIB, MIB, 0, 0) };
    plan_src s[] = { { a, 2, 8 * MIB }, { NULL, 0, 3 * MIB }, { c, 1, 8 * MIB } };
    plan p;
    assert_int_equal(plan_build(s, 3, 8 * MIB, 0, &p), 0);
    expect_map(&p, s, MIB, "AhhhhhhC");
    plan_free(&p);
}

static void test_groups_split(void **state)
{
    (void)state;
    index_rec a[8];
    for (int i = 0; i < 8; i++)
        a[i] = data_rec((uint64_t)i * MIB, MIB, (uint32_t)(i / 4), (uint64_t)(i % 4) * MIB);
    plan_src s[] = { { a, 8, 8 * MIB } };
    plan p;
    assert_int_equal(plan_build(s, 1, 2 * MIB, 0, &p), 0);
    assert_int_equal(p.ngroups, 4);          /* 2 MiB per GET, never across packs */
    for (size_t g = 0; g < p.ngroups; g++) {
        assert_int_equal(p.groups[g].len, 2 * MIB);
        assert_int_equal(p.groups[g].obj, g / 2);
    }
    assert_int_equal(p.fetch_bytes, 8 * MIB);
    assert_int_equal(p.max_group, 2 * MIB);
    plan_free(&p);
}

static void test_chain_fetches_once(void **state)
{
    (void)state;
    /* A full and five incrementals rewriting the same quarter: fetch = image size. */
    index_rec full[4];
    for (int i = 0; i < 4; i++)
        full[i] = data_rec((uint64_t)i * MIB, MIB, 0, (uint64_t)i * MIB);
    index_rec inc[] = { data_rec(MIB, MIB, 0, 0) };
    plan_src s[6] = { { full, 4, 4 * MIB } };
    for (int i = 1; i < 6; i++)
        s[i] = (plan_src){ inc, 1, 4 * MIB };
    plan p;
    assert_int_equal(plan_build(s, 6, 8 * MIB, 0, &p), 0);
    assert_int_equal(p.fetch_bytes, 4 * MIB);
    expect_map(&p, s, MIB, "AFAA");
    plan_free(&p);
}

static void test_ranges_merge(void **state)
{
    (void)state;
    plan_range r[] = { { 10, 5 }, { 0, 4 }, { 4, 2 }, { 30, 0 }, { 12, 10 }, { 40, 1 } };
    size_t n = plan_ranges_merge(r, 6);
    assert_int_equal(n, 3);
    assert_int_equal(r[0].off, 0);      /* [0,4) and [4,6) touch: one */
    assert_int_equal(r[0].len, 6);
    assert_int_equal(r[1].off, 10);     /* [10,15) and [12,22) overlap */
    assert_int_equal(r[1].len, 12);
    assert_int_equal(r[2].off, 40);     /* the empty [30,30) is dropped */
    assert_int_equal(plan_ranges_merge(r, 0), 0);
}

/* A plan within ranges: pieces cut at range ends, data offsets follow, only the
 * records needed are fetched. */
static void test_within(void **state)
{
    (void)state;
    index_rec a[] = { data_rec(0, 4 * MIB, 0, 0), data_rec(6 * MIB, 2 * MIB, 1, 0) };
    index_rec b[] = { data_rec(MIB, MIB, 0, 0), zero_rec(3 * MIB, MIB) };
    plan_src s[] = { { a, 2, 8 * MIB }, { b, 2, 8 * MIB } };
    plan_range r[] = { { MIB + MIB / 2, MIB }, { 3 * MIB, 2 * MIB } };
    plan p;
    assert_int_equal(plan_build_within(s, 2, r, 2, 8 * MIB, 0, &p), 0);
    assert_int_equal(p.size, 8 * MIB);
    assert_int_equal(p.npieces, 4);
    plan_piece want[] = {
        { MIB + MIB / 2, MIB / 2, MIB / 2, 1, 0, 0 },   /* B's data, its second half */
        { 2 * MIB, MIB / 2, 2 * MIB, 0, 0, 0 },         /* A's data */
        { 3 * MIB, MIB, 0, 1, 1, 1 },                   /* B's zero record */
        { 4 * MIB, MIB, 0, 0, 0, 2 },                   /* a hole */
    };
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(p.pieces[i].dst_off, want[i].dst_off);
        assert_int_equal(p.pieces[i].len, want[i].len);
        assert_int_equal(p.pieces[i].zero, want[i].zero);
        if (!want[i].zero) {
            assert_int_equal(p.pieces[i].src, want[i].src);
            assert_int_equal(p.pieces[i].src_off, want[i].src_off);
        }
    }
    assert_int_equal(p.njobs, 2);           /* A's second record is not fetched */
    plan_free(&p);
    assert_int_equal(plan_build_within(s, 2, r, 0, 8 * MIB, 0, &p), 0);
    assert_int_equal(p.npieces, 0);         /* no range: nothing */
    assert_int_equal(p.ngroups, 0);
    plan_free(&p);
}

static void test_sizes(void **state)
{
    (void)state;
    uint64_t v;
    assert_int_equal(ag_parse_size("4M", &v), 0);
    assert_int_equal(v, 4 * MIB);
    assert_int_equal(ag_parse_size("1GiB", &v), 0);
    assert_int_equal(v, 1024 * MIB);
    assert_int_equal(ag_parse_size("512k", &v), 0);
    assert_int_equal(v, 512 * 1024);
    assert_int_equal(ag_parse_size("123", &v), 0);
    assert_int_equal(v, 123);
    assert_int_equal(ag_parse_size("x", &v), -EINVAL);
    assert_int_equal(ag_parse_size("4Q", &v), -EINVAL);
    assert_int_equal(ag_parse_size("99999999999T", &v), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_single_full),
        cmocka_unit_test(test_newest_wins),
        cmocka_unit_test(test_shrink_then_grow),
        cmocka_unit_test(test_groups_split),
        cmocka_unit_test(test_chain_fetches_once),
        cmocka_unit_test(test_ranges_merge),
        cmocka_unit_test(test_within),
        cmocka_unit_test(test_sizes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
