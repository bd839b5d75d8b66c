/* until.c - run --until-done: go over the images backed up elsewhere again until none
 * is left (see run.h). */
#include "agent/command/run/run.h"

#include <time.h>

/* Plan again the items another run held. */
static void replan(run_item *it, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (it[i].status == RUN_ELSEWHERE)
            it[i].status = RUN_PLANNED;
}

/* Sleep about s seconds, in steps short enough to notice a signal at once. */
static void nap(int s)
{
    for (int i = 0; i < s * 10 && !ag_interrupted; i++) {
        struct timespec ts = { 0, 100 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
}

void run_until_done(ag_ctx *ctx, run_item *items, size_t n, const run_args *a,
                    run_pass_fn *pass)
{
    int renew = ctx->opts.lock_renewal > 0 ? ctx->opts.lock_renewal
                                           : ctx->opts.lock_duration / 5;
    int pause = renew < 1 ? 1 : renew > 10 ? 10 : renew;
    for (int round = 2; !ag_interrupted; round++) {
        size_t left = 0;
        for (size_t i = 0; i < n; i++)
            left += items[i].status == RUN_ELSEWHERE;
        if (left == 0)
            return;
        ag_info(ctx, "run: %zu images backed up elsewhere; pass %d in %ds", left, round,
                pause);
        nap(pause);
        if (ag_interrupted)
            return;
        replan(items, n);
        pass(ctx, items, n, a);
    }
}
