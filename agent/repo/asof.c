/* asof.c - the bucket as it was at a time (--as-of): each key's version then, and reads of it. */
#include "agent/repo/asof.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int asof_parse_time(const char *s, time_t *t)
{
    char iso[32];
    /* 20261203T013000Z, the form of a backup id */
    if (strlen(s) == 16 && s[8] == 'T' && s[15] == 'Z') {
        snprintf(iso, sizeof(iso), "%.4s-%.2s-%.2sT%.2s:%.2s:%.2sZ", s, s + 4, s + 6, s + 9,
                 s + 11, s + 13);
        s = iso;
    }
    return naming_parse_iso8601(s, t);
}

/* Building the map: the listing gives each key's versions newest first. */
typedef struct asof_build {
    repo_asof *a;
    char *decided;            /* the key whose version at t is known (or known absent) */
} asof_build;

static int add_entry(repo_asof *a, const s3_version_info *v)
{
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 256;
        asof_entry *p = realloc(a->v, cap * sizeof(*p));
        if (p == NULL)
            return -ENOMEM;
        a->v = p;
        a->cap = cap;
    }
    asof_entry *e = &a->v[a->n];
    e->key = strdup(v->key);
    e->version_id = strdup(v->version_id);
    e->size = v->size;
    e->mtime = v->last_modified;
    if (e->key == NULL || e->version_id == NULL) {
        free(e->key);
        free(e->version_id);
        return -ENOMEM;
    }
    a->n++;
    return 0;
}

static int on_version(const s3_version_info *v, void *arg)
{
    asof_build *b = arg;
    if (v->last_modified > b->a->t || (b->decided && strcmp(b->decided, v->key) == 0))
        return 0;
    free(b->decided);
    if ((b->decided = strdup(v->key)) == NULL)
        return -ENOMEM;
    return v->is_delete_marker ? 0 : add_entry(b->a, v);
}

static int cmp_entry(const void *x, const void *y)
{
    return strcmp(((const asof_entry *)x)->key, ((const asof_entry *)y)->key);
}

int asof_open(ag_ctx *ctx, const char *when, const char *prefix)
{
    repo_asof *a = calloc(1, sizeof(*a));
    asof_build b = { a, NULL };
    s3_error err;
    s3_client *s3 = ag_s3(ctx);

    if (a == NULL)
        return ag_fail(ctx, AG_EFAIL, "out of memory");
    ctx->asof = a;
    if (asof_parse_time(when, &a->t) < 0)
        return ag_fail(ctx, AG_EUSAGE, "--as-of '%s': expected a UTC time "
                       "2026-12-03T01:30:00Z or 20261203T013000Z", when);
    if (s3 == NULL)
        return -1;
    memset(&err, 0, sizeof(err));
    int rc = s3_list_versions(s3, prefix, on_version, &b, &err);
    free(b.decided);
    if (rc == -ENOMEM)
        return ag_fail(ctx, AG_EFAIL, "out of memory");
    if (rc < 0)
        return ag_fail_s3(ctx, rc, &err, "listing the object versions");
    /* the server lists by key; sorted here so that asof_find can search */
    qsort(a->v, a->n, sizeof(*a->v), cmp_entry);
    ag_debug(ctx, "as of %s: %zu keys under '%s'", when, a->n, prefix);
    return 0;
}

int asof_open_spec(ag_ctx *ctx, const char *when, const naming_spec *spec)
{
    char prefix[4096];
    if (when == NULL)
        return 0;
    if (ag_scope_prefix(ctx, spec, prefix, sizeof(prefix)) < 0)
        return -1;
    return asof_open(ctx, when, prefix);
}

void asof_close(ag_ctx *ctx)
{
    repo_asof *a = ctx->asof;
    if (a == NULL)
        return;
    for (size_t i = 0; i < a->n; i++) {
        free(a->v[i].key);
        free(a->v[i].version_id);
    }
    free(a->v);
    free(a);
    ctx->asof = NULL;
}

const asof_entry *asof_find(const ag_ctx *ctx, const char *key)
{
    const repo_asof *a = ctx->asof;
    if (a == NULL || a->n == 0)
        return NULL;
    asof_entry k = { .key = (char *)key };
    return bsearch(&k, a->v, a->n, sizeof(*a->v), cmp_entry);
}

/* The version of key to read: *vid NULL for the latest. 0, or -ENOENT with err filled
 * when the key had no version at the time. */
static int version_of(const ag_ctx *ctx, const char *key, const char **vid, s3_error *err)
{
    const asof_entry *e = asof_find(ctx, key);
    *vid = e ? e->version_id : NULL;
    if (ctx->asof == NULL || e != NULL)
        return 0;
    if (err) {
        memset(err, 0, sizeof(*err));
        err->http_status = 404;
        snprintf(err->code, sizeof(err->code), "NoSuchKey");
        snprintf(err->message, sizeof(err->message), "no version at the --as-of time");
    }
    return -ENOENT;
}

int asof_get(ag_ctx *ctx, const char *key, uint64_t off, uint64_t len, size_t max_size,
             s3_buf *out, s3_error *err)
{
    const char *vid;
    memset(out, 0, sizeof(*out));
    if (ctx->asof == NULL)   /* the plain request, as before --as-of */
        return s3_get(ctx->s3, key, off, len, max_size, out, err);
    int rc = version_of(ctx, key, &vid, err);
    return rc < 0 ? rc : s3_get_version(ctx->s3, key, vid, off, len, max_size, out, err);
}

int asof_head(ag_ctx *ctx, const char *key, uint64_t *size, time_t *retain_until,
              s3_error *err)
{
    const char *vid;
    if (ctx->asof == NULL && retain_until == NULL)
        return s3_head(ctx->s3, key, size, NULL, err);
    int rc = version_of(ctx, key, &vid, err);
    return rc < 0 ? rc : s3_head_version(ctx->s3, key, vid, size, NULL, retain_until, err);
}

int asof_get_range(ag_ctx *ctx, const char *key, uint64_t off, uint64_t len, void *dst,
                   size_t cap, s3_done_cb done, void *arg)
{
    const char *vid;
    if (ctx->asof == NULL)
        return s3_async_get_range(ctx->s3, key, off, len, dst, cap, done, arg);
    int rc = version_of(ctx, key, &vid, NULL);
    return rc < 0 ? rc : s3_async_get_range_version(ctx->s3, key, vid, off, len, dst, cap,
                                                     done, arg);
}
