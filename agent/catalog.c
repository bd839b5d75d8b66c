/* catalog.c - the backups in the bucket: manifests listed, loaded, verified; chains. */
#include "agent/catalog.h"

#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#define MANIFEST_MAX (16u << 20)

#define FETCH_BATCH 64

typedef struct list_state {
    ag_ctx *ctx;
    const naming_spec *want;
    char **keys;
    uint64_t *sizes;
    size_t n, cap;
} list_state;

static int same_image(const naming_spec *a, const naming_spec *b)
{
    return strcmp(a->pool, b->pool) == 0 && strcmp(a->ns, b->ns) == 0 &&
           strcmp(a->image, b->image) == 0;
}

static int on_object(const s3_object_info *obj, void *arg)
{
    list_state *st = arg;
    naming_spec spec;
    char id[NAMING_ID_LEN];
    if (obj->is_prefix ||
        naming_parse_manifest_key(st->ctx->opts.prefix, obj->key, &spec, id) < 0)
        return 0;
    if (st->want != NULL && !same_image(&spec, st->want))
        return 0;
    if (st->n == st->cap) {
        size_t cap = st->cap ? st->cap * 2 : 64;
        char **k = realloc(st->keys, cap * sizeof(*k));
        if (k == NULL)
            return -ENOMEM;
        st->keys = k;
        uint64_t *sz = realloc(st->sizes, cap * sizeof(*sz));
        if (sz == NULL)
            return -ENOMEM;
        st->sizes = sz;
        st->cap = cap;
    }
    st->sizes[st->n] = obj->size;
    st->keys[st->n] = strdup(obj->key);
    if (st->keys[st->n] == NULL)
        return -ENOMEM;
    st->n++;
    return 0;
}

static int cmp_entry(const void *a, const void *b)
{
    const cat_entry *x = a, *y = b;
    int c = strcmp(x->spec.pool, y->spec.pool);
    if (c == 0)
        c = strcmp(x->spec.ns, y->spec.ns);
    if (c == 0)
        c = strcmp(x->spec.image, y->spec.image);
    return c != 0 ? c : strcmp(x->id, y->id);
}

typedef struct fetch {
    s3_buf body;
    int rc;
    int done;
    s3_error err;
} fetch;

static void on_fetched(const s3_result *res, void *arg)
{
    fetch *f = arg;
    f->rc = res->rc;
    f->done = 1;
    f->body.len = res->body_len;
    if (res->err != NULL)
        f->err = *res->err;
}

/* Verify one downloaded manifest into the next entry of out. */
static int add_entry(ag_ctx *ctx, const char *key, fetch *f, catalog *out)
{
    cat_entry *e = &out->e[out->n];
    manifest_init(&e->m);
    naming_parse_manifest_key(ctx->opts.prefix, key, &e->spec, e->id);
    if (f->rc < 0) {
        char what[1100];
        snprintf(what, sizeof(what), "manifest %s", key);
        return ag_fail_s3(ctx, f->rc, &f->err, what);
    }
    int rc = manifest_from_json((const char *)f->body.data, f->body.len, &e->m);
    if (rc < 0 || strcmp(e->m.id, e->id) != 0) {
        cat_bad *b = &out->badv[out->bad];
        b->spec = e->spec;
        memcpy(b->id, e->id, sizeof(b->id));
        b->why = rc == -EBADMSG ? "checksum mismatch" : "malformed";
        if ((b->key = strdup(key)) == NULL)
            return ag_fail(ctx, AG_EFAIL, "out of memory");
        ag_debug(ctx, "%s: not a valid manifest (%s), ignored", key, b->why);
        manifest_clear(&e->m);
        out->bad++;
        return 0;
    }
    out->n++;
    return 0;
}

/* Download a batch of manifests concurrently and verify them. */
static int load_batch(ag_ctx *ctx, list_state *st, size_t first, size_t n, catalog *out)
{
    fetch *f = calloc(n, sizeof(*f));
    int rc = f ? 0 : ag_fail(ctx, AG_EFAIL, "out of memory");
    for (size_t i = 0; rc == 0 && i < n; i++) {
        uint64_t size = st->sizes[first + i];
        if (size == 0 || size > MANIFEST_MAX) {
            f[i].done = 1;
            f[i].rc = 0;
            continue;
        }
        f[i].body.data = malloc(size);
        f[i].body.cap = size;
        if (f[i].body.data == NULL)
            rc = ag_fail(ctx, AG_EFAIL, "out of memory");
        else if ((f[i].rc = s3_async_get_range(ctx->s3, st->keys[first + i], 0, size,
                                               f[i].body.data, size, on_fetched, &f[i])) < 0)
            f[i].done = 1;
    }
    int drc = s3_async_drain(ctx->s3);
    if (rc == 0 && drc < 0)
        rc = ag_fail_s3(ctx, drc, NULL, "reading manifests");
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = add_entry(ctx, st->keys[first + i], &f[i], out);
    for (size_t i = 0; f != NULL && i < n; i++)
        s3_buf_free(&f[i].body);
    free(f);
    return rc;
}

static int load_keys(ag_ctx *ctx, list_state *st, catalog *out)
{
    out->e = calloc(st->n ? st->n : 1, sizeof(*out->e));
    out->badv = calloc(st->n ? st->n : 1, sizeof(*out->badv));
    if (out->e == NULL || out->badv == NULL)
        return ag_fail(ctx, AG_EFAIL, "out of memory");
    for (size_t i = 0; i < st->n; i += FETCH_BATCH) {
        size_t n = st->n - i < FETCH_BATCH ? st->n - i : FETCH_BATCH;
        if (load_batch(ctx, st, i, n, out) < 0)
            return -1;
    }
    qsort(out->e, out->n, sizeof(*out->e), cmp_entry);
    return 0;
}

int catalog_load(ag_ctx *ctx, const naming_spec *spec, catalog *out)
{
    memset(out, 0, sizeof(*out));
    if (ag_s3(ctx) == NULL)
        return -1;
    char prefix[4096];
    if (spec != NULL)
        ag_image_prefix(ctx, spec, prefix, sizeof(prefix));
    else
        snprintf(prefix, sizeof(prefix), "%s%s", ctx->opts.prefix,
                 ctx->opts.prefix[0] ? "/" : "");
    list_state st = { .ctx = ctx, .want = spec };
    s3_error err;
    memset(&err, 0, sizeof(err));
    int rc = s3_list(ctx->s3, prefix, NULL, on_object, &st, &err);
    if (rc < 0)
        ag_fail_s3(ctx, rc, &err, "listing the bucket");
    else
        rc = load_keys(ctx, &st, out);
    for (size_t i = 0; i < st.n; i++)
        free(st.keys[i]);
    free(st.keys);
    free(st.sizes);
    return rc < 0 ? -1 : 0;
}

void catalog_free(catalog *c)
{
    for (size_t i = 0; i < c->n; i++)
        manifest_clear(&c->e[i].m);
    for (size_t i = 0; c->badv != NULL && i < c->bad; i++)
        free(c->badv[i].key);
    free(c->badv);
    free(c->e);
    memset(c, 0, sizeof(*c));
}

long catalog_find(ag_ctx *ctx, const catalog *c, const naming_spec *spec, const char *at)
{
    char name[600];
    naming_spec_str(spec, name, sizeof(name));
    if (c->n == 0)
        return ag_fail(ctx, AG_ENOTFOUND, "%s: no backups in the bucket", name);
    if (at == NULL || at[0] == '\0')
        return (long)c->n - 1;
    long found = -1;
    size_t plen = strlen(at);
    for (size_t i = 0; i < c->n; i++) {
        if (strcmp(c->e[i].id, at) == 0 || strcmp(c->e[i].m.snap_name, at) == 0)
            return (long)i;
        if (strncmp(c->e[i].id, at, plen) == 0) {
            if (found >= 0)
                return ag_fail(ctx, AG_EUSAGE, "%s@%s: ambiguous backup id prefix", name, at);
            found = (long)i;
        }
    }
    if (found < 0)
        return ag_fail(ctx, AG_ENOTFOUND, "%s@%s: no such backup", name, at);
    return found;
}

static long find_id(const catalog *c, const naming_spec *spec, const char *id)
{
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->e[i].id, id) == 0 && same_image(&c->e[i].spec, spec))
            return (long)i;
    return -1;
}

int catalog_chain(ag_ctx *ctx, const catalog *c, size_t target, size_t **chain, size_t *n)
{
    size_t cap = 16, len = 0;
    size_t *v = malloc(cap * sizeof(*v));
    if (v == NULL)
        return ag_fail(ctx, AG_EFAIL, "out of memory");
    long cur = (long)target;
    while (cur >= 0) {
        if (len == cap) {
            size_t *nv = realloc(v, 2 * cap * sizeof(*v));
            if (nv == NULL) {
                free(v);
                return ag_fail(ctx, AG_EFAIL, "out of memory");
            }
            v = nv;
            cap *= 2;
        }
        v[len++] = (size_t)cur;
        const cat_entry *e = &c->e[cur];
        if (e->m.full)
            break;
        cur = find_id(c, &e->spec, e->m.parent_id);
        if (cur < 0 || len > c->n) {
            free(v);
            return ag_fail(ctx, AG_EINTEGRITY, "backup %s: parent backup %s is missing",
                           e->id, e->m.parent_id);
        }
    }
    for (size_t i = 0; i < len / 2; i++) {
        size_t t = v[i];
        v[i] = v[len - 1 - i];
        v[len - 1 - i] = t;
    }
    *chain = v;
    *n = len;
    return 0;
}

long catalog_parent(const catalog *c, size_t i)
{
    const cat_entry *e = &c->e[i];
    return e->m.full ? -1 : find_id(c, &e->spec, e->m.parent_id);
}

int catalog_load_index(ag_ctx *ctx, const manifest *m, index_rec **recs, size_t *n)
{
    s3_buf body = { 0 };
    s3_error err;
    memset(&err, 0, sizeof(err));
    *recs = NULL;
    *n = 0;
    int rc = s3_get(ctx->s3, m->index.key, 0, 0, 0, &body, &err);
    if (rc < 0)
        return ag_fail_s3(ctx, rc, &err, m->index.key);
    char sum[65];
    s3_sha256_hex(body.data, body.len, sum);
    if (strcmp(sum, m->index_sha256) != 0) {
        s3_buf_free(&body);
        return ag_fail(ctx, AG_EINTEGRITY, "%s: checksum mismatch", m->index.key);
    }
    rc = index_load(body.data, body.len, recs, n);
    s3_buf_free(&body);
    if (rc < 0)
        return ag_fail(ctx, AG_EINTEGRITY, "%s: damaged chunk index", m->index.key);
    return 0;
}
