/* asof.h - the bucket as it was at a time (--as-of): each key's version then, and reads of it. */
#ifndef RBD2S3_ASOF_H
#define RBD2S3_ASOF_H

#include "agent/common/context.h"

#include <time.h>

/* One key as it was: the version that was its latest at the time. */
typedef struct asof_entry {
    char *key;                /* malloc'ed */
    char *version_id;         /* malloc'ed */
    uint64_t size;
    time_t mtime;
} asof_entry;

/* The keys under a prefix at a time, sorted by key (ctx->asof points at one). */
typedef struct repo_asof {
    time_t t;
    asof_entry *v;
    size_t n, cap;
} repo_asof;

/* "2026-12-03T01:30:00Z" or a backup-id-like "20261203T013000Z" (UTC) into *t.
 * 0, or -EINVAL. */
int asof_parse_time(const char *s, time_t *t);

/* Read the object versions under prefix and keep, for each key, the newest version whose
 * LastModified is at most when (a time asof_parse_time takes) unless that is a delete
 * marker; install the result in ctx->asof, so that keylist_list and the asof_ reads below
 * see the bucket as it was. Times have the second's precision of the listing. 0, or -1
 * with the error recorded in ctx (a bad time is exit 2). asof_close frees it. */
int asof_open(ag_ctx *ctx, const char *when, const char *prefix);
/* asof_open under the prefix of the image spec (NULL: of the whole repository); when
 * NULL: nothing to do (0). */
int asof_open_spec(ag_ctx *ctx, const char *when, const naming_spec *spec);
/* Free ctx->asof (NULL: nothing to do) and set it to NULL. Cannot fail. */
void asof_close(ag_ctx *ctx);

/* The entry of key in ctx->asof, or NULL (no such key then, or no ctx->asof). */
const asof_entry *asof_find(const ag_ctx *ctx, const char *key);

/* s3_get, s3_head_version (size and Object Lock retain-until; either may be NULL) and
 * s3_async_get_range of key as the repository sees it: the latest
 * without ctx->asof; with it, the version the key had then, or -ENOENT (err filled as
 * NoSuchKey) when it had none. Contracts otherwise those of s3.h. */
int asof_get(ag_ctx *ctx, const char *key, uint64_t off, uint64_t len, size_t max_size,
             s3_buf *out, s3_error *err);
int asof_head(ag_ctx *ctx, const char *key, uint64_t *size, time_t *retain_until,
              s3_error *err);
int asof_get_range(ag_ctx *ctx, const char *key, uint64_t off, uint64_t len, void *dst,
                   size_t cap, s3_done_cb done, void *arg);

#endif
