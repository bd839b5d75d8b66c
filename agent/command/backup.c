/* backup.c - the backup command: parse its options, back up the image, print the summary. */
#include "agent/common/context.h"
#include "agent/command/command.h"
#include "agent/config/options.h"
#include "agent/config/policy.h"
#include "agent/backup/image.h"

#include <stddef.h>

int cmd_backup(ag_ctx *ctx, int argc, char **argv)
{
    const char *full = NULL, *every = NULL, *maxc = NULL;
    opts_cmd spec[] = { { "full", 0, &full }, { "full-every", 1, &every },
                        { "max-chain", 1, &maxc } };
    char **pos;
    int npos;
    if (opts_parse_command(ctx, argc, argv, spec, 3, &pos, &npos) < 0)
        return ctx->exit_code;
    if (npos != 1) {
        ag_fail(ctx, AG_EUSAGE, "usage: backup POOL/IMAGE[@SNAP] [--full] "
                "[--full-every DURATION] [--max-chain N]");
        return ctx->exit_code;
    }
    ag_policy cmd;
    policy_unset(&cmd);
    if ((every != NULL && policy_set_key(ctx, &cmd, "full-every", every, "command line") < 0) ||
        (maxc != NULL && policy_set_key(ctx, &cmd, "max-chain", maxc, "command line") < 0))
        return ctx->exit_code;
    naming_spec ns;
    if (naming_parse_spec(pos[0], 1, &ns) < 0) {
        ag_fail(ctx, AG_EUSAGE, "'%s': expected POOL/IMAGE or POOL/NAMESPACE/IMAGE",
                pos[0]);
        return ctx->exit_code;
    }
    backup_image(ctx, &ns, full != NULL, &cmd, 1, NULL);
    return ctx->exit_code;
}
