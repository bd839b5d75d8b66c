/* catalog.c - the backups in the bucket: manifests listed, loaded, verified; their indexes. */
#include "agent/repo/catalog.h"
#include "agent/repo/trust/enckeys.h"
#include "agent/repo/keylist.h"
#include "agent/repo/asof.h"

#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#define FETCH_BATCH 64
#define FETCH_BUDGET (64u << 20)    /* manifest bytes held at once while loading */

typedef struct want_image {
    ag_ctx *ctx;
    const naming_spec *want;    /* NULL: every image */
} want_image;

static int same_image(const naming_spec *a, const naming_spec *b)
{
    return strcmp(a->pool, b->pool) == 0 && strcmp(a->ns, b->ns) == 0 &&
           strcmp(a->image, b->image) == 0;
}

/* Keep the manifest keys of the wanted image (keylist_filter). */
static int is_manifest(const s3_object_info *obj, void *arg)
{
    const want_image *w = arg;
    naming_spec spec;
    char id[NAMING_ID_LEN];
    if (naming_parse_manifest_key(w->ctx->opts.prefix, obj->key, &spec, id) < 0)
        return 0;
    return w->want == NULL || same_image(&spec, w->want);
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

/* Record key as a damaged manifest of spec/id in out. */
static int add_bad(ag_ctx *ctx, const naming_spec *spec, const char *id, const char *key,
                   const char *why, catalog *out)
{
    cat_bad *b = &out->badv[out->bad];
    b->spec = *spec;
    snprintf(b->id, sizeof(b->id), "%s", id);
    b->why = why;
    if ((b->key = strdup(key)) == NULL)
        return ag_fail(ctx, AG_EFAIL, "out of memory");
    ag_debug(ctx, "%s: not a valid manifest (%s)", key, why);
    out->bad++;
    return 0;
}

/* Parse m from f and check that it belongs in its folder; why says what is wrong. */
static int accept_manifest(ag_ctx *ctx, const naming_spec *spec, const char *id,
                           const fetch *f, manifest *m, const char **why)
{
    char prefix[4096];
    if (f->body.len == 0 || f->body.len > MANIFEST_MAX_BYTES) {
        *why = f->body.len == 0 ? "empty" : "larger than 16 MiB";
        return -1;
    }
    int rc = manifest_from_json((const char *)f->body.data, f->body.len, m);
    if (rc == -ENOMEM)
        return ag_fail(ctx, AG_EFAIL, "out of memory");
    if (rc < 0) {
        *why = rc == -EBADMSG ? "checksum mismatch" : "malformed";
        return -1;
    }
    if (ag_image_prefix(ctx, spec, prefix, sizeof(prefix)) < 0) {
        *why = "image name too long";
        return -1;
    }
    return manifest_check_folder(m, prefix, id, spec->pool, spec->ns, spec->image, why);
}

/* Verify one downloaded manifest into the next entry of out, or record it as damaged. */
static int add_entry(ag_ctx *ctx, const char *key, fetch *f, catalog *out)
{
    cat_entry *e = &out->e[out->n];
    manifest_init(&e->m);
    e->dk = NULL;
    naming_parse_manifest_key(ctx->opts.prefix, key, &e->spec, e->id);
    if (f->rc < 0) {
        char what[1100];
        snprintf(what, sizeof(what), "manifest %s", key);
        return ag_fail_s3(ctx, f->rc, &f->err, what);
    }
    const char *why = NULL;
    int rc = accept_manifest(ctx, &e->spec, e->id, f, &e->m, &why);
    if (rc == 0 && (rc = enckeys_open(ctx, e, &why)) < 0)
        why = NULL;                     /* out of memory: recorded */
    if (rc == 0) {
        out->n++;
        return 0;
    }
    manifest_clear(&e->m);
    return why == NULL ? -1 : add_bad(ctx, &e->spec, e->id, key, why, out);
}

/* Download a batch of manifests concurrently and verify them. */
static int load_batch(ag_ctx *ctx, const keylist *found, size_t first, size_t n,
                      catalog *out)
{
    fetch *f = calloc(n, sizeof(*f));
    int rc = f ? 0 : ag_fail(ctx, AG_EFAIL, "out of memory");
    for (size_t i = 0; rc == 0 && i < n; i++) {
        uint64_t size = found->sizes[first + i];
        if (size == 0 || size > MANIFEST_MAX_BYTES) {
            f[i].done = 1;
            f[i].rc = 0;
            /* not downloaded: accept_manifest tells empty from too large by len */
            f[i].body.len = size == 0 ? 0 : (size_t)MANIFEST_MAX_BYTES + 1;
            continue;
        }
        f[i].body.data = malloc(size);
        f[i].body.cap = size;
        if (f[i].body.data == NULL)
            rc = ag_fail(ctx, AG_EFAIL, "out of memory");
        else if ((f[i].rc = asof_get_range(ctx, found->keys[first + i], 0, size,
                                           f[i].body.data, size, on_fetched, &f[i])) < 0)
            f[i].done = 1;
    }
    int drc = s3_async_drain(ctx->s3);
    if (rc == 0 && drc < 0)
        rc = ag_fail_s3(ctx, drc, NULL, "reading manifests");
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = add_entry(ctx, found->keys[first + i], &f[i], out);
    for (size_t i = 0; f != NULL && i < n; i++)
        s3_buf_free(&f[i].body);
    free(f);
    return rc;
}

/* How many manifests from first on fit into one batch (at least one). */
static size_t batch_len(const keylist *found, size_t first)
{
    uint64_t bytes = 0;
    size_t n = 0;
    while (first + n < found->n && n < FETCH_BATCH) {
        uint64_t sz = found->sizes[first + n];
        if (sz > MANIFEST_MAX_BYTES)
            sz = 0;                     /* not downloaded */
        if (n > 0 && bytes + sz > FETCH_BUDGET)
            break;
        bytes += sz;
        n++;
    }
    return n;
}

static int load_keys(ag_ctx *ctx, const keylist *found, catalog *out)
{
    out->e = calloc(found->n ? found->n : 1, sizeof(*out->e));
    out->badv = calloc(found->n ? found->n : 1, sizeof(*out->badv));
    if (out->e == NULL || out->badv == NULL)
        return ag_fail(ctx, AG_EFAIL, "out of memory");
    for (size_t i = 0; i < found->n;) {
        size_t n = batch_len(found, i);
        if (load_batch(ctx, found, i, n, out) < 0)
            return -1;
        i += n;
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
    if (ag_scope_prefix(ctx, spec, prefix, sizeof(prefix)) < 0)
        return -1;
    want_image w = { ctx, spec };
    keylist found = { 0 };
    int rc = keylist_list(ctx, prefix, is_manifest, &w, &found, "listing the bucket");
    if (rc == 0)
        rc = load_keys(ctx, &found, out);
    keylist_free(&found);
    return rc < 0 ? -1 : 0;
}

void catalog_free(catalog *c)
{
    for (size_t i = 0; i < c->n; i++) {
        manifest_clear(&c->e[i].m);
        if (c->e[i].dk != NULL)
            seal_key_wipe(c->e[i].dk);
        free(c->e[i].dk);
    }
    for (size_t i = 0; c->badv != NULL && i < c->bad; i++)
        free(c->badv[i].key);
    free(c->badv);
    free(c->e);
    memset(c, 0, sizeof(*c));
}

const cat_bad *catalog_bad_find(const catalog *c, const naming_spec *spec, const char *id)
{
    for (size_t b = 0; b < c->bad; b++)
        if (strcmp(c->badv[b].id, id) == 0 && same_image(&c->badv[b].spec, spec))
            return &c->badv[b];
    return NULL;
}

static int fail_damaged(ag_ctx *ctx, const char *name, const cat_bad *b, const char *what)
{
    return ag_fail(ctx, AG_EINTEGRITY, "%s@%s: %s is damaged: manifest %s: %s", name, b->id,
                   what, b->key, b->why);
}

/* The newest of spec's backups, a damaged one included: its index, or -1. */
static long find_newest(ag_ctx *ctx, const catalog *c, const naming_spec *spec,
                        const char *name)
{
    const cat_bad *newest = NULL;
    for (size_t b = 0; b < c->bad; b++)
        if (same_image(&c->badv[b].spec, spec) &&
            (newest == NULL || strcmp(c->badv[b].id, newest->id) > 0))
            newest = &c->badv[b];
    long last = -1;
    for (size_t i = 0; i < c->n; i++)
        if (same_image(&c->e[i].spec, spec))
            last = (long)i;
    if (newest != NULL && (last < 0 || strcmp(newest->id, c->e[last].id) > 0))
        return fail_damaged(ctx, name, newest, "the newest backup");
    if (last < 0)
        return ag_fail(ctx, AG_ENOTFOUND, "%s: no backups in the bucket", name);
    return last;
}

/* A damaged backup that at names (its id, a prefix of it, or its snapshot name). */
static const cat_bad *find_bad_at(const catalog *c, const naming_spec *spec, const char *at)
{
    size_t plen = strlen(at), sl = strlen(NAMING_SNAP_PREFIX);
    for (size_t b = 0; b < c->bad; b++) {
        const char *id = c->badv[b].id;
        if (!same_image(&c->badv[b].spec, spec))
            continue;
        if (strncmp(id, at, plen) == 0 ||
            (strncmp(at, NAMING_SNAP_PREFIX, sl) == 0 && strcmp(at + sl, id) == 0))
            return &c->badv[b];
    }
    return NULL;
}

long catalog_find(ag_ctx *ctx, const catalog *c, const naming_spec *spec, const char *at)
{
    char name[600];
    naming_spec_str(spec, name, sizeof(name));
    if (at == NULL || at[0] == '\0')
        return find_newest(ctx, c, spec, name);
    long found = -1;
    size_t plen = strlen(at);
    for (size_t i = 0; i < c->n; i++) {
        if (!same_image(&c->e[i].spec, spec))
            continue;
        if (strcmp(c->e[i].id, at) == 0 || strcmp(c->e[i].m.snap_name, at) == 0)
            return (long)i;
        if (strncmp(c->e[i].id, at, plen) == 0) {
            if (found >= 0)
                return ag_fail(ctx, AG_EUSAGE, "%s@%s: ambiguous backup id prefix", name, at);
            found = (long)i;
        }
    }
    const cat_bad *bad = find_bad_at(c, spec, at);
    if (bad != NULL && (found < 0 || strcmp(bad->id, at) == 0))
        return fail_damaged(ctx, name, bad, "the backup");
    if (bad != NULL)
        return ag_fail(ctx, AG_EUSAGE, "%s@%s: ambiguous backup id prefix", name, at);
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

long catalog_parent(const catalog *c, size_t i)
{
    const cat_entry *e = &c->e[i];
    return e->m.full ? -1 : find_id(c, &e->spec, e->m.parent_id);
}

/* Decode body into at most m->index_records records; the count must be exact, and a
 * data record is sealed exactly when the backup is encrypted. */
static int decode_index(const manifest *m, const s3_buf *body, index_rec **recs, size_t *n)
{
    uint32_t sealed = m->enc.on ? INDEX_FLAG_SEALED : 0;
    index_reader *r = NULL;
    if (index_reader_new(body->data, body->len, &r) < 0)
        return -1;
    size_t cap = 0, cnt = 0;
    index_rec *v = NULL, rec;
    int rc;
    while ((rc = index_reader_next(r, &rec)) == 1) {
        if (cnt >= m->index_records) {
            rc = -1;                    /* more records than the manifest declares */
            break;
        }
        if (!(rec.flags & INDEX_FLAG_ZERO) && (rec.flags & INDEX_FLAG_SEALED) != sealed) {
            rc = -1;                    /* a plain record in a sealed index, or the reverse */
            break;
        }
        if (cnt == cap) {
            size_t nc = cap ? cap * 2 : 1024;
            index_rec *nv = realloc(v, nc * sizeof(*nv));
            if (nv == NULL) {
                rc = -ENOMEM;
                break;
            }
            v = nv;
            cap = nc;
        }
        v[cnt++] = rec;
    }
    index_reader_free(r);
    if (rc == 0 && cnt != m->index_records)
        rc = -1;
    if (rc < 0) {
        free(v);
        return rc;
    }
    *recs = v;
    *n = cnt;
    return 0;
}

/* Open the sealed index in body (its SHA-256 checked) in place with m's data key dk:
 * body then holds its lz4 frame. 0, or -1 with AG_EINTEGRITY recorded (body freed). */
static int open_index(ag_ctx *ctx, const manifest *m, const seal_key *dk, s3_buf *body)
{
    if (seal_open_index(dk, m->id, m->image_id, m->index_records, body->data, body->len,
                        body->data) != 0) {
        s3_buf_free(body);
        return ag_fail(ctx, AG_EINTEGRITY, "%s: the sealed chunk index does not open "
                       "(damaged, or not this backup's)", m->index.key);
    }
    body->len -= SEAL_TAG_LEN;
    return 0;
}

int catalog_index_precheck(ag_ctx *ctx, const manifest *m, const seal_key *dk)
{
    if (m->enc.on && dk == NULL)
        return ag_fail(ctx, AG_EKEY, "backup %s is encrypted (key id %s) and no configured "
                       "key opens it", m->id, m->enc.key_id);
    if (!m->enc.on && dk != NULL)
        return ag_fail(ctx, AG_EINTEGRITY, "backup %s: a data key for a plain backup", m->id);
    uint64_t tag = m->enc.on ? SEAL_TAG_LEN : 0;
    if (m->index.size <= tag || m->index.size > manifest_index_bound(m->index_records) + tag ||
        m->index.size > SIZE_MAX)
        return ag_fail(ctx, AG_EINTEGRITY, "%s: the manifest declares an impossible size",
                       m->index.key);
    return 0;
}

int catalog_get_index(ag_ctx *ctx, const manifest *m, const seal_key *dk, s3_buf *body)
{
    s3_error err;
    memset(&err, 0, sizeof(err));
    memset(body, 0, sizeof(*body));
    if (catalog_index_precheck(ctx, m, dk) < 0)
        return -1;
    int rc = asof_get(ctx, m->index.key, 0, 0, (size_t)m->index.size, body, &err);
    if (rc == -EFBIG)
        return ag_fail(ctx, AG_EINTEGRITY, "%s: larger than the %llu bytes the manifest "
                       "says", m->index.key, (unsigned long long)m->index.size);
    if (rc < 0)
        return ag_fail_s3(ctx, rc, &err, m->index.key);
    char sum[65];
    digest_sha256_hex(body->data, body->len, sum);
    if (body->len != m->index.size || strcmp(sum, m->index_sha256) != 0) {
        s3_buf_free(body);
        return ag_fail(ctx, AG_EINTEGRITY, "%s: checksum mismatch", m->index.key);
    }
    return m->enc.on ? open_index(ctx, m, dk, body) : 0;
}

int catalog_load_index(ag_ctx *ctx, const manifest *m, const seal_key *dk, index_rec **recs,
                       size_t *n)
{
    s3_buf body = { 0 };
    *recs = NULL;
    *n = 0;
    if (catalog_get_index(ctx, m, dk, &body) < 0)
        return -1;
    int rc = decode_index(m, &body, recs, n);
    s3_buf_free(&body);
    if (rc == -ENOMEM)
        return ag_fail(ctx, AG_EFAIL, "out of memory");
    if (rc < 0)
        return ag_fail(ctx, AG_EINTEGRITY, "%s: damaged chunk index (or not the %llu "
                       "records the manifest says)", m->index.key,
                       (unsigned long long)m->index_records);
    return 0;
}
