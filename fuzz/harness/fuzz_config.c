/* fuzz_config.c - libFuzzer harness: the config file (agent/config/options.c with inih, and the
 * [pool:NAME] keys of agent/config/policy.c). Input: the file. Checks: whatever is accepted is
 * within the documented bounds; the policy of every pool section resolves; nothing leaks
 * once the context is closed and opts_free() ran. */
#include "fuzz/harness/fuzz_util.h"
#include "agent/common/context.h"
#include "agent/config/options.h"
#include "agent/config/policy.h"

#include <sys/stat.h>

static void check_accepted(ag_ctx *ctx)
{
    const ag_tun *t = &ctx->opts.tun;
    FUZZ_CHECK(t->threads >= 1 && t->threads <= 1024, "threads %d", t->threads);
    FUZZ_CHECK(t->parts_in_flight >= 1 && t->reads_in_flight >= 1 &&
               t->writes_in_flight >= 1 && t->gets_in_flight >= 1, "in flight below 1");
    FUZZ_CHECK(t->chunk_size > 0 && t->part_size > 0 && t->fetch_size > 0 &&
               t->pack_size > 0, "a size of 0");
    FUZZ_CHECK(t->sparse_size >= 4096 && (t->sparse_size & (t->sparse_size - 1)) == 0,
               "sparse size %llu", (unsigned long long)t->sparse_size);
    FUZZ_CHECK(ctx->opts.npools >= 0 && ctx->opts.npools <= AG_MAX_POOLS, "npools");
    for (int i = 0; i < ctx->opts.npools; i++) {
        const ag_pool_conf *pc = &ctx->opts.pools[i];
        ag_policy pol;
        FUZZ_CHECK(pc->name != NULL, "pool section without a name");
        policy_resolve(ctx, pc->name, "", NULL, &pol);
        FUZZ_CHECK(pol.keep_last >= 0 && pol.keep_daily >= 0 && pol.keep_weekly >= 0 &&
                   pol.keep_monthly >= 0 && pol.full_every >= 0 && pol.max_chain >= 0,
                   "pool %s resolves to an unset policy", pc->name);
        for (int m = 0; m < 24 * 60; m += 97)
            policy_in_window(pc, m);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static ag_ctx ctx;
    if (size > 65536)
        return 0;
    int fd = fz_memfd(data, size);
    if (fd < 0)
        return 0;
    /* closed to others, as a config file holding the secret key must be (options.c
     * refuses it otherwise, and the fuzzer would never get past that check) */
    FUZZ_CHECK(fchmod(fd, 0600) == 0, "fchmod");
    char path[64];
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    char *argv[] = { "rbd2s3", "--config", path, "list", NULL };
    memset(&ctx, 0, sizeof(ctx));
    int rc = opts_parse_global(&ctx, 4, argv);
    if (rc > 0) {
        FUZZ_CHECK(rc == 3 && ctx.exit_code == AG_OK, "accepted with an error recorded");
        check_accepted(&ctx);
    } else {
        FUZZ_CHECK(ctx.exit_code == AG_EUSAGE, "refused with exit code %d", ctx.exit_code);
    }
    ag_ctx_close(&ctx);
    opts_free();
    close(fd);
    return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    unsetenv("AWS_SESSION_TOKEN");
    unsetenv("RBD2S3_CONFIG");
    return 0;
}
