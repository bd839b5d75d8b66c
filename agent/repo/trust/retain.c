/* retain.c - S3 Object Lock for backups (see retain.h). */
#include "agent/repo/trust/retain.h"

#include "agent/config/options.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int retain_begin(ag_ctx *ctx, time_t *until)
{
    *until = 0;
    if (ctx->opts.object_lock == S3_LOCK_NONE)
        return 0;
    if (opts_check_lock(ctx) < 0)
        return -1;
    int enabled = 0;
    s3_error err;
    memset(&err, 0, sizeof(err));
    int rc = s3_get_object_lock(ctx->s3, &enabled, &err);
    if (rc < 0)
        return ag_fail_s3(ctx, rc, &err, "reading the bucket's Object Lock configuration");
    if (!enabled)
        return ag_fail(ctx, AG_EUSAGE, "bucket %s has no Object Lock: create it with object "
                       "lock enabled, or set object lock = none", ctx->opts.bucket);
    *until = time(NULL) + (time_t)ctx->opts.object_lock_days * 86400;
    s3_client_set_object_lock(ctx->s3, ctx->opts.object_lock, *until);
    char date[32];
    struct tm tm;
    strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(until, &tm));
    ag_debug(ctx, "object lock: new objects retained until %s", date);
    return 0;
}

int retain_keep(ag_ctx *ctx, const char *key, s3_error *err)
{
    int mode = S3_LOCK_NONE;
    time_t until = 0;
    memset(err, 0, sizeof(*err));
    int rc = s3_head_retention(ctx->s3, key, &mode, &until, err);
    if (rc == -ENOENT) {
        memset(err, 0, sizeof(*err));
        mode = S3_LOCK_NONE;
    } else if (rc < 0) {
        return rc;
    }
    if (until <= time(NULL))
        mode = S3_LOCK_NONE;
    s3_client_set_object_lock(ctx->s3, mode, until);
    return 0;
}

void retain_end(ag_ctx *ctx)
{
    if (ctx->s3 != NULL)
        s3_client_set_object_lock(ctx->s3, S3_LOCK_NONE, 0);
}

typedef struct chain_walk {
    ag_ctx *ctx;
    time_t until;
    size_t requests;          /* PutObjectRetention and HEAD */
    size_t objects;
    size_t failed;
} chain_walk;

/* Extend key's retention to w->until. A refusal is looked at: an object already retained
 * as long needs nothing (a retention cannot be shortened); one in the other mode (a mode
 * cannot change without a bypass) is extended in its own mode; anything else is a
 * warning. */
static void protect(chain_walk *w, const char *key)
{
    s3_error err;
    memset(&err, 0, sizeof(err));
    w->objects++;
    w->requests++;
    int rc = s3_put_retention(w->ctx->s3, key, w->ctx->opts.object_lock, w->until, &err);
    if (rc == -EACCES) {
        int mode = S3_LOCK_NONE;
        time_t have = 0;
        s3_error herr;
        w->requests++;
        if (s3_head_retention(w->ctx->s3, key, &mode, &have, &herr) == 0 &&
            mode != S3_LOCK_NONE && have >= w->until)
            return;
        if (mode != S3_LOCK_NONE && mode != w->ctx->opts.object_lock) {
            w->requests++;
            rc = s3_put_retention(w->ctx->s3, key, mode, w->until, &err);
        }
    }
    if (rc == 0)
        return;
    w->failed++;
    ag_warn("object lock: cannot extend the retention of %s: %s", key,
            s3_strerror(rc, &err));
}

/* Every object of backup e, its manifest last (its date says the whole was extended). */
static void protect_backup(chain_walk *w, const cat_entry *e)
{
    char prefix[2048], key[2048];
    for (size_t i = 0; i < e->m.nobjects; i++)
        protect(w, e->m.objects[i].key);
    if (e->m.index.key != NULL)
        protect(w, e->m.index.key);
    if (ag_image_prefix(w->ctx, &e->spec, prefix, sizeof(prefix)) == 0 &&
        naming_manifest_key(prefix, e->id, key, sizeof(key)) == 0)
        protect(w, key);
}

size_t retain_chain(ag_ctx *ctx, const catalog *cat, long parent, time_t until)
{
    chain_walk w = { ctx, until, 0, 0, 0 };
    size_t backups = 0;

    if (ctx->opts.object_lock == S3_LOCK_NONE || parent < 0 || until == 0)
        return 0;
    for (long i = parent; i >= 0 && backups < cat->n; i = catalog_parent(cat, (size_t)i)) {
        if (ag_interrupted) {
            ag_warn("object lock: interrupted while extending the chain's retention");
            return w.failed + 1;
        }
        protect_backup(&w, &cat->e[i]);
        backups++;
    }
    ag_debug(ctx, "object lock: %zu objects of %zu parent backups extended (%zu requests, "
             "%zu failed)", w.objects, backups, w.requests, w.failed);
    return w.failed;
}
