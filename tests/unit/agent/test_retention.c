/* test_retention.c - keep policies: counts, UTC calendar periods, chains. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "agent/command/prune/retention.h"

#define DAY 86400
/* 2026-11-16 00:00:00 UTC, a Monday */
#define MON 1794787200LL

static void fill(ret_item *it, size_t n, const long long *t, const long *parent)
{
    for (size_t i = 0; i < n; i++)
        it[i] = (ret_item){ (time_t)t[i], parent[i], 0 };
}

static void test_keep_last_keeps_chain(void **state)
{
    (void)state;
    /* full, inc, inc, full, inc, inc: keep-last 2 keeps the two newest and their full */
    long long t[6] = { MON, MON + 60, MON + 120, MON + 180, MON + 240, MON + 300 };
    long par[6] = { -1, 0, 1, -1, 3, 4 };
    ret_item it[6];
    fill(it, 6, t, par);
    ret_policy p = { .last = 2 };
    assert_int_equal(retention_select(&p, it, 6), 3);
    assert_int_equal(it[0].why, 0);
    assert_int_equal(it[1].why, 0);
    assert_int_equal(it[2].why, 0);
    assert_int_equal(it[3].why, RET_CHAIN);
    assert_int_equal(it[4].why, RET_LAST | RET_CHAIN);   /* it[5] needs it */
    assert_int_equal(it[5].why, RET_LAST);
}

static void test_chain_reaches_full(void **state)
{
    (void)state;
    long long t[4] = { MON, MON + 1, MON + 2, MON + 3 };
    long par[4] = { -1, 0, 1, 2 };
    ret_item it[4];
    fill(it, 4, t, par);
    ret_policy p = { .last = 1 };
    assert_int_equal(retention_select(&p, it, 4), 4);
    for (int i = 0; i < 3; i++)
        assert_int_equal(it[i].why, RET_CHAIN);
}

static void test_daily_newest_of_each_day(void **state)
{
    (void)state;
    /* all fulls: two on Monday, two on Tuesday (one at 23:59:59), one on Thursday */
    long long t[5] = { MON + 3600, MON + 7200, MON + DAY + 10, MON + 2 * DAY - 1,
                       MON + 3 * DAY + 5 };
    long par[5] = { -1, -1, -1, -1, -1 };
    ret_item it[5];
    fill(it, 5, t, par);
    ret_policy p = { .daily = 2 };
    assert_int_equal(retention_select(&p, it, 5), 2);
    assert_int_equal(it[4].why, RET_DAILY);     /* Thursday */
    assert_int_equal(it[3].why, RET_DAILY);     /* Tuesday's newest */
    assert_int_equal(it[2].why, 0);
    p.daily = 3;
    assert_int_equal(retention_select(&p, it, 5), 3);
    assert_int_equal(it[1].why, RET_DAILY);     /* Monday's newest */
    assert_int_equal(it[0].why, 0);
}

static void test_weekly_starts_monday(void **state)
{
    (void)state;
    /* Sunday 23:00 before MON and Monday 01:00 are different ISO weeks */
    long long t[3] = { MON - 3600 - 2 * DAY, MON - 3600, MON + 3600 };
    long par[3] = { -1, -1, -1 };
    ret_item it[3];
    fill(it, 3, t, par);
    ret_policy p = { .weekly = 2 };
    assert_int_equal(retention_select(&p, it, 3), 2);
    assert_int_equal(it[2].why, RET_WEEKLY);
    assert_int_equal(it[1].why, RET_WEEKLY);
    assert_int_equal(it[0].why, 0);
}

static void test_monthly_and_reasons(void **state)
{
    (void)state;
    /* 2026-10-31 12:00, 2026-11-01 00:00:30, MON */
    long long t[3] = { 1793448000LL, 1793491230LL, MON };
    long par[3] = { -1, -1, -1 };
    ret_item it[3];
    fill(it, 3, t, par);
    ret_policy p = { .monthly = 2, .last = 1 };
    assert_int_equal(retention_select(&p, it, 3), 2);
    assert_int_equal(it[2].why, RET_LAST | RET_MONTHLY);
    assert_int_equal(it[1].why, 0);
    assert_int_equal(it[0].why, RET_MONTHLY);
    char buf[64];
    retention_why(it[2].why | RET_CHAIN, buf, sizeof(buf));
    assert_string_equal(buf, "last,monthly,chain");
}

static void test_empty_policy(void **state)
{
    (void)state;
    ret_policy p;
    memset(&p, 0, sizeof(p));
    assert_true(retention_empty(&p));
    p.weekly = 1;
    assert_false(retention_empty(&p));
    long long t[2] = { MON, MON + 1 };
    long par[2] = { -1, 0 };
    ret_item it[2];
    fill(it, 2, t, par);
    assert_int_equal(retention_select(&p, it, 2), 2);   /* newest + its full */
}

/* reliability F1: full <- (damaged B2) <- B3; keep-last 1 must not drop the full */
static void test_missing_parent_keeps_older(void **state)
{
    (void)state;
    long long t[4] = { MON, MON + 60, MON + 120, MON + 180 };
    long par[4] = { -1, -1, 1, RET_PARENT_MISSING };   /* full, full, inc, inc (broken) */
    ret_item it[4];
    fill(it, 4, t, par);
    ret_policy p = { .last = 1 };
    assert_int_equal(retention_select(&p, it, 4), 4);
    assert_int_equal(it[3].why, RET_LAST);
    for (int i = 0; i < 3; i++)
        assert_true(it[i].why & RET_BROKEN);
    char why[64];
    retention_why(it[0].why, why, sizeof(why));
    assert_string_equal(why, "broken-chain");
}

/* a broken incremental that is not kept keeps nothing */
static void test_missing_parent_of_dropped(void **state)
{
    (void)state;
    long long t[3] = { MON, MON + 60, MON + 120 };
    long par[3] = { RET_PARENT_MISSING, -1, -1 };
    ret_item it[3];
    fill(it, 3, t, par);
    ret_policy p = { .last = 1 };
    assert_int_equal(retention_select(&p, it, 3), 1);
    assert_int_equal(it[0].why, 0);
    assert_int_equal(it[1].why, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keep_last_keeps_chain),
        cmocka_unit_test(test_chain_reaches_full),
        cmocka_unit_test(test_daily_newest_of_each_day),
        cmocka_unit_test(test_weekly_starts_monday),
        cmocka_unit_test(test_monthly_and_reasons),
        cmocka_unit_test(test_empty_policy),
        cmocka_unit_test(test_missing_parent_keeps_older),
        cmocka_unit_test(test_missing_parent_of_dropped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
