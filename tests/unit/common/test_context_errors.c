/* test_context_errors.c - unit tests of the error recording of agent/common/context.c:
 * the first error wins, a signal turns it into AG_EINTR, Ceph codes map to exit codes and
 * a Ceph timeout calls the hook the watchdog registers (ag_on_ceph_timeout). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "agent/common/context.h"

static int hook_calls;

static void hook(void)
{
    hook_calls++;
}

static void test_first_wins(void **state)
{
    (void)state;
    ag_ctx ctx;
    memset(&ctx, 0, sizeof(ctx));
    assert_int_equal(ag_fail(&ctx, AG_ENOTFOUND, "image %s: not found", "p/a"), -1);
    assert_int_equal(ag_fail(&ctx, AG_EFAIL, "second"), -1);
    assert_int_equal(ctx.exit_code, AG_ENOTFOUND);
    assert_string_equal(ctx.errmsg, "image p/a: not found");
}

static void test_interrupted(void **state)
{
    (void)state;
    ag_ctx ctx;
    memset(&ctx, 0, sizeof(ctx));
    ag_interrupted = 1;
    ag_fail(&ctx, AG_EFAIL, "stopped");
    ag_interrupted = 0;
    assert_int_equal(ctx.exit_code, AG_EINTR);
}

static void test_rbd_codes(void **state)
{
    (void)state;
    static const struct { int rc, code; } cases[] = {
        { -ENOENT, AG_ENOTFOUND }, { -EEXIST, AG_EEXIST }, { -ENOTCONN, AG_ECEPH },
        { -ETIMEDOUT, AG_ECEPH }, { -EHOSTUNREACH, AG_ECEPH }, { -EIO, AG_EFAIL },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ag_ctx ctx;
        memset(&ctx, 0, sizeof(ctx));
        ag_fail_rbd_why(&ctx, cases[i].rc, "opening p/a");
        assert_int_equal(ctx.exit_code, cases[i].code);
        assert_string_equal(ctx.errmsg, "opening p/a");
    }
}

static void test_timeout_hook(void **state)
{
    (void)state;
    ag_ctx ctx;
    memset(&ctx, 0, sizeof(ctx));
    hook_calls = 0;
    ag_fail_rbd_why(&ctx, -ETIMEDOUT, "no hook yet");      /* none registered: no call */
    ag_on_ceph_timeout(hook);
    ag_fail_rbd_why(&ctx, -ENOENT, "not a timeout");
    assert_int_equal(hook_calls, 0);
    ag_fail_rbd_why(&ctx, -ETIMEDOUT, "a timeout, even after the first error");
    assert_int_equal(hook_calls, 1);
    ag_on_ceph_timeout(NULL);
    ag_fail_rbd_why(&ctx, -ETIMEDOUT, "hook removed");
    assert_int_equal(hook_calls, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_wins),
        cmocka_unit_test(test_interrupted),
        cmocka_unit_test(test_rbd_codes),
        cmocka_unit_test(test_timeout_hook),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
