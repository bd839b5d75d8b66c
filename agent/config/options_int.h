/* options_int.h - what options.c, options_file.c and usage.c share: the key table's
 * lookup and setter, the owned strings, the config file reader, the --help text. Not for
 * use outside agent/config/. */
#ifndef RBD2S3_OPTIONS_INT_H
#define RBD2S3_OPTIONS_INT_H

#include "agent/common/context.h"

/* One key of [global] and of the --options (opaque: name, kind, field). */
typedef struct key_def opts_key;

/* A copy of s that the options own, wiped and freed by opts_free(); NULL when out of
 * memory. */
const char *opts_keep(const char *s);

/* The key that name names ("chunk size", "chunk_size" and "chunk-size" all name the same
 * key), or NULL when there is none. */
const opts_key *opts_find_key(const char *name);

/* Set key k of ctx->opts from value (NULL sets a flag); where names the source in
 * errors. 0, or -1 with a usage error recorded in ctx. */
int opts_set_key(ag_ctx *ctx, const opts_key *k, const char *value, const char *where);

/* Read the config file at path into ctx->opts (a missing or unreadable file is no error
 * unless must_exist). 0, or -1 with a usage error recorded in ctx. */
int opts_read_config(ag_ctx *ctx, const char *path, int must_exist);

/* usage.c: print the --help text on stdout. Cannot fail. */
void opts_usage(void);

#endif
