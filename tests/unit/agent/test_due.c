/* test_due.c - due backups: the newest backup's age (agent/backup/due.c), the `due` key
 * of [global], [pool:NAME] and the command line (agent/config/policy.c), and the passes
 * of run --until-done over images held elsewhere (agent/command/run/until.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "agent/backup/due.h"
#include "agent/config/policy.h"
#include "agent/command/run/run.h"

static void test_newest(void **state)
{
    (void)state;
    cat_entry e[3];
    memset(e, 0, sizeof(e));
    e[0].m.snap_time = 1000;
    e[1].m.created = 3000;            /* no snapshot time: the commit time */
    e[2].m.snap_time = 2000;
    e[2].m.created = 9000;
    catalog c = { e, 3, 0, NULL };
    assert_int_equal(due_newest(&c), 3000);
    c.n = 0;
    assert_int_equal(due_newest(&c), 0);
}

static void test_is_due(void **state)
{
    (void)state;
    assert_true(due_is_due(1000, 0, 1001));         /* no due: always */
    assert_true(due_is_due(0, 3600, 1001));         /* never backed up */
    assert_false(due_is_due(1000, 3600, 4599));
    assert_true(due_is_due(1000, 3600, 4600));
}

static void test_note(void **state)
{
    (void)state;
    char out[64];
    due_note(1000, 1030, out, sizeof(out));
    assert_string_equal(out, "not due: last backup 30s ago");
    due_note(1000, 1000 + 20 * 60, out, sizeof(out));
    assert_string_equal(out, "not due: last backup 20m ago");
    due_note(1000, 1000 + 5 * 3600, out, sizeof(out));
    assert_string_equal(out, "not due: last backup 5h ago");
    due_note(1000, 1000 + 3 * 86400, out, sizeof(out));
    assert_string_equal(out, "not due: last backup 3d ago");
}

static void test_policy(void **state)
{
    (void)state;
    static ag_ctx ctx;
    memset(&ctx, 0, sizeof(ctx));
    policy_unset(&ctx.opts.policy);
    ag_policy pol, cmd;
    policy_resolve(&ctx, "rbd", "", NULL, &pol);
    assert_int_equal(pol.due, 0);
    assert_int_equal(policy_set_key(&ctx, &ctx.opts.policy, "due", "1d", "test"), 1);
    ag_pool_conf *pc = policy_pool(&ctx, "rbd", 1);
    assert_non_null(pc);
    assert_int_equal(policy_set_pool_key(&ctx, pc, "due", "2h", "test"), 1);
    policy_resolve(&ctx, "rbd", "", NULL, &pol);
    assert_int_equal(pol.due, 7200);
    policy_resolve(&ctx, "other", "", NULL, &pol);
    assert_int_equal(pol.due, 86400);
    policy_unset(&cmd);
    cmd.due = 60;
    policy_resolve(&ctx, "rbd", "", &cmd, &pol);
    assert_int_equal(pol.due, 60);
    assert_int_equal(policy_set_key(&ctx, &cmd, "due", "soon", "test"), -1);
    assert_int_equal(ctx.exit_code, AG_EUSAGE);
}

/* A pass that backs up the planned items on its second call (held elsewhere before). */
static int passes;
static void pass(ag_ctx *ctx, run_item *it, size_t n, const run_args *a)
{
    (void)ctx;
    (void)a;
    passes++;
    for (size_t i = 0; i < n; i++)
        if (it[i].status == RUN_PLANNED)
            it[i].status = passes >= 2 ? RUN_OK : RUN_ELSEWHERE;
}

static void test_until_done(void **state)
{
    (void)state;
    static ag_ctx ctx;
    static run_item it[3];
    memset(&ctx, 0, sizeof(ctx));
    ctx.opts.quiet = 1;
    ctx.opts.lock_duration = 5;                     /* a pass a second */
    run_args a = { 0, 3600, 1 };
    it[0].status = RUN_ELSEWHERE;
    it[1].status = RUN_FAILED;                      /* failures are not tried again */
    it[2].status = RUN_ELSEWHERE;
    passes = 1;
    run_until_done(&ctx, it, 3, &a, pass);
    assert_int_equal(passes, 2);
    assert_int_equal(it[0].status, RUN_OK);
    assert_int_equal(it[1].status, RUN_FAILED);
    assert_int_equal(it[2].status, RUN_OK);
    run_until_done(&ctx, it, 3, &a, pass);          /* nothing left: no pass */
    assert_int_equal(passes, 2);
    it[0].status = RUN_ELSEWHERE;
    ag_interrupted = 1;                             /* a signal: no further pass */
    run_until_done(&ctx, it, 3, &a, pass);
    ag_interrupted = 0;
    assert_int_equal(passes, 2);
    assert_int_equal(it[0].status, RUN_ELSEWHERE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_newest),   cmocka_unit_test(test_is_due),
        cmocka_unit_test(test_note),     cmocka_unit_test(test_policy),
        cmocka_unit_test(test_until_done),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
