/* command.h - the entry points of the commands, called by main.c. */
#ifndef RBD2S3_COMMAND_H
#define RBD2S3_COMMAND_H

#include "agent/common/context.h"

/* Commands. argc/argv start at the command's first argument. Each returns an exit code. */
int cmd_backup(ag_ctx *ctx, int argc, char **argv);
int cmd_list(ag_ctx *ctx, int argc, char **argv);
int cmd_show(ag_ctx *ctx, int argc, char **argv);
int cmd_restore(ag_ctx *ctx, int argc, char **argv);
/* `restore ... --instant` (agent/command/instant/): cmd_restore hands such a line over. */
int cmd_restore_instant(ag_ctx *ctx, int argc, char **argv);
int cmd_prune(ag_ctx *ctx, int argc, char **argv);
int cmd_lifecycle(ag_ctx *ctx, int argc, char **argv);
int cmd_run(ag_ctx *ctx, int argc, char **argv);
int cmd_import_diff(ag_ctx *ctx, int argc, char **argv);
int cmd_verify(ag_ctx *ctx, int argc, char **argv);
int cmd_export_diff(ag_ctx *ctx, int argc, char **argv);
/* `serve`: backup points over HTTP until SIGTERM (agent/command/serve.c, agent/serve/). */
int cmd_serve(ag_ctx *ctx, int argc, char **argv);
/* `key create FILE` (and `key rotate`): the master keys (agent/command/key.c). */
int cmd_key(ag_ctx *ctx, int argc, char **argv);
/* `mount POOL/IMAGE[@BACKUP] DIR`: the backup point as DIR/image.raw, through FUSE, until
 * SIGTERM or an unmount (agent/command/mount.c). */
int cmd_mount(ag_ctx *ctx, int argc, char **argv);
/* `copy POOL/IMAGE[@BACKUP] --to-bucket B`: backups with their chains to a second
 * bucket (agent/command/copy/). */
int cmd_copy(ag_ctx *ctx, int argc, char **argv);
/* `protect POOL/IMAGE@BACKUP [--reason TEXT]` and `unprotect POOL/IMAGE@BACKUP`: prune
 * never removes a protected backup nor its chain (agent/command/protect.c). */
int cmd_protect(ag_ctx *ctx, int argc, char **argv);
int cmd_unprotect(ag_ctx *ctx, int argc, char **argv);

#endif
