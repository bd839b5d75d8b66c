/* main.c - rbd2s3 entry point: global options, configuration, command dispatch, exit code. */
#include "agent/common/context.h"
#include "agent/command/command.h"
#include "agent/config/keyring.h"
#include "agent/config/options.h"
#include "agent/common/termesc.h"
#include "agent/common/signals.h"

#include <stdio.h>
#include <string.h>

typedef struct command {
    const char *name;
    int (*run)(ag_ctx *ctx, int argc, char **argv);
    int keys;                   /* reads the bucket: opts_parse_command loads the keyring */
} command;

static const command commands[] = {
    { "backup", cmd_backup, 1 },
    { "list", cmd_list, 1 },
    { "show", cmd_show, 1 },
    { "restore", cmd_restore, 1 },
    { "export-diff", cmd_export_diff, 1 },
    { "prune", cmd_prune, 1 },
    { "lifecycle", cmd_lifecycle, 1 },
    { "run", cmd_run, 1 },
    { "import-diff", cmd_import_diff, 1 },
    { "verify", cmd_verify, 1 },
    { "serve", cmd_serve, 1 },
    { "key", cmd_key, 0 },
    { "mount", cmd_mount, 1 },
    { "copy", cmd_copy, 1 },
    { "protect", cmd_protect, 1 },
    { "unprotect", cmd_unprotect, 1 },
};

static const command *find_command(const char *name)
{
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

int main(int argc, char **argv)
{
    ag_ctx ctx;
    memset(&ctx, 0, sizeof(ctx));
    ctx.command = "options";
    int next = opts_parse_global(&ctx, argc, argv);
    if (next == 0) {
        ag_ctx_close(&ctx);
        opts_free();
        return AG_OK;             /* --help or --version */
    }
    if (next > 0 && next >= argc)
        ag_fail(&ctx, AG_EUSAGE, "no command given (try --help)");
    const command *cmd = NULL;
    if (ctx.exit_code == AG_OK) {
        cmd = find_command(argv[next]);
        if (cmd == NULL)
            ag_fail(&ctx, AG_EUSAGE, "unknown command '%s' (try --help)", argv[next]);
    }
    int code = ctx.exit_code;
    if (code == AG_OK) {
        ctx.command = cmd->name;
        ctx.want_keys = cmd->keys;
        ag_debug(&ctx, "%s: start", cmd->name);
        ag_signals_install();
        rbdio_set_op_timeout(ctx.opts.ceph_timeout);
        if (ag_watchdog_start(&ctx) == 0)
            code = cmd->run(&ctx, argc - next - 1, argv + next + 1);
        if (code == AG_OK && ctx.exit_code != AG_OK)
            code = ctx.exit_code;
    }
    if (code != AG_OK && ag_watchdog_claim_line()) {
        if (ctx.errmsg[0] == '\0')
            snprintf(ctx.errmsg, sizeof(ctx.errmsg), "failed");
        fprintf(stderr, "rbd2s3: %s: %s\n", ctx.command, termesc_str(ctx.errmsg));
    }
    ag_ctx_close(&ctx);
    keyring_free(ctx.keys);
    ag_debug(&ctx, "exit %d", code);
    opts_free();
    return code;
}
