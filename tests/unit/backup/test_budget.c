/* test_budget.c - the tunables of run --jobs derived from the memory limit: they fit the
 * share of each job, are only ever lowered, and a limit too small for one job is said. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "agent/backup/budget.h"

#define MiB (1ULL << 20)

static ag_tun defaults(int threads)
{
    ag_tun t = { .threads = threads, .chunk_size = MiB, .part_size = 5 * MiB,
                 .parts_in_flight = 4, .reads_in_flight = 16 };
    return t;
}

/* 512 MiB and one or four jobs: the configured tunables are kept. */
static void test_roomy_keeps(void **state)
{
    (void)state;
    for (int jobs = 1; jobs <= 4; jobs *= 4) {
        ag_tun t = defaults(2), want = t;
        assert_int_equal(budget_fit(&t, budget_share(BUDGET_DEFAULT, jobs)), 0);
        assert_memory_equal(&t, &want, sizeof(t));
    }
}

/* Every job count and limit: what fits is within the share and never above the config. */
static void test_fits_share(void **state)
{
    (void)state;
    static const int threads[] = { 1, 2, 8, 64 };
    for (size_t k = 0; k < sizeof(threads) / sizeof(threads[0]); k++)
        for (int jobs = 1; jobs <= AG_JOBS_MAX; jobs++)
            for (uint64_t lim = 64 * MiB; lim <= 8192 * MiB; lim += 64 * MiB) {
                ag_tun t = defaults(threads[k]), cfg = t;
                uint64_t share = budget_share(lim, jobs);
                int rc = budget_fit(&t, share);
                assert_true(t.threads <= cfg.threads && t.threads >= 1);
                assert_true(t.reads_in_flight <= cfg.reads_in_flight);
                assert_true(t.reads_in_flight >= 2);
                assert_true(t.parts_in_flight <= cfg.parts_in_flight);
                assert_true(t.parts_in_flight >= 1);
                assert_true(t.chunk_size == cfg.chunk_size && t.part_size == cfg.part_size);
                if (rc == 0) {
                    assert_true(budget_job_bytes(&t) <= share);
                    assert_true(BUDGET_PROCESS + budget_job_bytes(&t) * (uint64_t)jobs <= lim);
                } else {
                    assert_int_equal(rc, -1);
                    assert_true(budget_job_min(&cfg) > share);
                    assert_int_equal(budget_job_bytes(&t), budget_job_min(&cfg));
                }
            }
}

/* Lowered in the documented order: reads in flight first, threads last. */
static void test_order(void **state)
{
    (void)state;
    ag_tun t = defaults(4);
    /* fixed 8 + parts 25 + slots (r + 10) x 2: room for r = 6 */
    assert_int_equal(budget_fit(&t, 8 * MiB + 25 * MiB + 32 * MiB), 0);
    assert_int_equal(t.reads_in_flight, 6);
    assert_int_equal(t.parts_in_flight, 4);
    assert_int_equal(t.threads, 4);
    t = defaults(4);
    assert_int_equal(budget_fit(&t, 8 * MiB + 10 * MiB + 24 * MiB), 0);
    assert_int_equal(t.reads_in_flight, 2);
    assert_int_equal(t.parts_in_flight, 1);
    assert_int_equal(t.threads, 4);
}

/* 64 MiB for 8 jobs is too small; a limit below the process's part leaves no share. */
static void test_too_small(void **state)
{
    (void)state;
    ag_tun t = defaults(2);
    assert_int_equal(budget_fit(&t, budget_share(64 * MiB, 8)), -1);
    assert_int_equal(budget_share(BUDGET_PROCESS, 1), 0);
    assert_int_equal(budget_share(BUDGET_DEFAULT, 0), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roomy_keeps),
        cmocka_unit_test(test_fits_share),
        cmocka_unit_test(test_order),
        cmocka_unit_test(test_too_small),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
