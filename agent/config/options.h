/* options.h - global options: defaults, the config file (inih), environment, command line. */
#ifndef RBD2S3_OPTIONS_H
#define RBD2S3_OPTIONS_H

#include "agent/common/context.h"

/* Fill ctx->opts from defaults, the config file, the environment and argv (in that
 * order of increasing precedence). Returns the index of the command in argv, 0 when
 * the program should exit successfully (--help, --version), or -1 with an error
 * recorded in ctx. */
int opts_parse_global(ag_ctx *ctx, int argc, char **argv);

/* Parse one command's own options. spec lists the accepted long options; values
 * are returned through the option table. Then, when ctx->want_keys, load ctx->keys
 * (agent/config/keyring.h) from the options, global ones given after the command too.
 * Returns 0, or -1 with a usage error recorded (a bad key: AG_EUSAGE). */
typedef struct opts_cmd {
    const char *name;       /* "full", "dest-ceph-conf" */
    int has_arg;            /* 0 flag, 1 value */
    const char **value;     /* value, or "1" for a set flag */
} opts_cmd;
int opts_parse_command(ag_ctx *ctx, int argc, char **argv, const opts_cmd *spec, int nspec,
                       char ***positional, int *npositional);

/* "true"/"false", "yes"/"no", "on"/"off", "1"/"0" (any case) into *out as 1 or 0.
 * Returns 0, or -EINVAL (out untouched) for anything else, NULL included. */
int opts_parse_bool(const char *s, int *out);

/* object lock governance or compliance needs object lock days: 0 when they go together
 * (or the lock is off), else -1 with a usage error (exit 2) recorded. Makes no request. */
int opts_check_lock(ag_ctx *ctx);

/* Wipe (OPENSSL_cleanse) and free the strings the options own: config file values and
 * the copy of AWS_SECRET_ACCESS_KEY. Cannot fail. */
void opts_free(void);

#endif
