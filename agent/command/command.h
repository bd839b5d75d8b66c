/* command.h - the entry points of the commands (called by main.c) and the one backup
 * that `run` drives (agent/command/backup.c). */
#ifndef RBD2S3_COMMAND_H
#define RBD2S3_COMMAND_H

#include "agent/common/context.h"

/* One backup of spec (full: --full; cmd: command-line chain policy, may be NULL);
 * print: the summary line / JSON on stdout. res (may be NULL) gets what was made.
 * 0 or -1 with the error recorded in ctx. */
typedef struct ag_backup_result {
    char id[32];
    int full;
    uint64_t data_bytes, stored_bytes;
    int cleanup_errors;         /* failed steps of the snapshot cleanup (each warned) */
} ag_backup_result;
int ag_backup(ag_ctx *ctx, const naming_spec *spec, int full, const ag_policy *cmd,
              int print, ag_backup_result *res);

/* Commands. argc/argv start at the command's first argument. Each returns an exit code. */
int cmd_backup(ag_ctx *ctx, int argc, char **argv);
int cmd_list(ag_ctx *ctx, int argc, char **argv);
int cmd_show(ag_ctx *ctx, int argc, char **argv);
int cmd_restore(ag_ctx *ctx, int argc, char **argv);
int cmd_prune(ag_ctx *ctx, int argc, char **argv);
int cmd_lifecycle(ag_ctx *ctx, int argc, char **argv);
int cmd_run(ag_ctx *ctx, int argc, char **argv);
int cmd_import_diff(ag_ctx *ctx, int argc, char **argv);
int cmd_verify(ag_ctx *ctx, int argc, char **argv);
int cmd_export_diff(ag_ctx *ctx, int argc, char **argv);

#endif
