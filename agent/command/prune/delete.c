/* delete.c - deleting pruned backups and the leftovers of crashed runs. */
#include "agent/command/prune/prune.h"
#include "agent/repo/keylist.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DELETE_BATCH 1000

/* Delete v's keys in batches; counts what went into *n and *bytes. */
static int delete_keys(ag_ctx *ctx, const keylist *v, size_t *n, uint64_t *bytes)
{
    s3_client *s3 = ag_s3(ctx);
    if (s3 == NULL)
        return -1;
    for (size_t i = 0; i < v->n; i += DELETE_BATCH) {
        size_t cnt = v->n - i < DELETE_BATCH ? v->n - i : DELETE_BATCH;
        size_t nfailed = 0;
        s3_error err;
        memset(&err, 0, sizeof(err));
        int rc = s3_delete_many(s3, (const char *const *)v->keys + i, cnt, &nfailed, &err);
        if (rc < 0)
            return ag_fail_s3(ctx, rc, &err, "deleting objects");
        for (size_t k = i; k < i + cnt; k++) {
            ag_debug(ctx, "deleted %s", v->keys[k]);
            *bytes += v->sizes[k];
        }
        *n += cnt;
    }
    return 0;
}

static int delete_manifest(ag_ctx *ctx, const cat_entry *e, const char *prefix)
{
    char key[4096];
    if (naming_manifest_key(prefix, e->id, key, sizeof(key)) < 0)
        return ag_fail(ctx, AG_EFAIL, "backup %s: key too long", e->id);
    s3_error err;
    memset(&err, 0, sizeof(err));
    int rc = s3_delete(ag_s3(ctx), key, &err);
    if (rc < 0)
        return ag_fail_s3(ctx, rc, &err, "deleting a manifest");
    ag_debug(ctx, "deleted %s", key);
    return 0;
}

/* The keys of e's objects as the naming rules derive them for its folder. */
static int add_derived(ag_ctx *ctx, const cat_entry *e, const char *prefix, keylist *v)
{
    char key[4096];
    const manifest *m = &e->m;
    for (size_t k = 0; k <= m->nobjects; k++) {
        int rc = k < m->nobjects ? naming_data_key(prefix, e->id, (unsigned)k, key, sizeof(key))
                                 : naming_index_key(prefix, e->id, key, sizeof(key));
        if (rc < 0)
            return ag_fail(ctx, AG_EFAIL, "backup %s: key too long", e->id);
        if (keylist_add(v, key, k < m->nobjects ? m->objects[k].size : m->index.size, 0) < 0)
            return ag_fail(ctx, AG_EFAIL, "out of memory");
    }
    return 0;
}

int prune_remove(ag_ctx *ctx, const catalog *c, const unsigned char *doomed, prune_stats *st)
{
    keylist v;
    memset(&v, 0, sizeof(v));
    int rc = 0;
    /* The catalog is oldest first per image: going backwards removes children first. */
    for (size_t i = c->n; rc == 0 && i-- > 0;) {
        if (!doomed[i])
            continue;
        char prefix[4096];
        if (ag_image_prefix(ctx, &c->e[i].spec, prefix, sizeof(prefix)) < 0 ||
            delete_manifest(ctx, &c->e[i], prefix) < 0) {
            rc = ag_fail(ctx, AG_EFAIL, "backup %s: key too long", c->e[i].id);
            break;
        }
        st->manifests++;
        rc = add_derived(ctx, &c->e[i], prefix, &v);
    }
    if (rc == 0)
        rc = delete_keys(ctx, &v, &st->objects, &st->bytes);
    keylist_free(&v);
    return rc;
}

/* ---- leftovers ---- */

int prune_key_in_scope(const char *prefix, const prune_scope *sc, const char *key, int *kind)
{
    naming_spec spec;
    char id[NAMING_ID_LEN];
    if (naming_parse_object_key(prefix, key, &spec, id, kind) < 0)
        return 0;
    const naming_spec *o = sc->only;
    if (o != NULL && (strcmp(o->pool, spec.pool) != 0 || strcmp(o->ns, spec.ns) != 0 ||
                      strcmp(o->image, spec.image) != 0))
        return 0;
    for (size_t i = 0; i < sc->nheld; i++) {
        const naming_spec *h = &sc->held[i];
        if (strcmp(h->pool, spec.pool) == 0 && strcmp(h->ns, spec.ns) == 0 &&
            strcmp(h->image, spec.image) == 0)
            return 0;
    }
    return 1;
}

/* Length of key's folder part ("<...>/<backup id>/"). */
static size_t dir_len(const char *key)
{
    return (size_t)(strrchr(key, '/') - key) + 1;
}

/* A backup folder [i, j) without a manifest that holds a checkpoint (agent/repo/ckpt.h):
 * -1 when it is younger than `resume grace` (the next backup resumes it: the folder
 * stays), 1 when older (the whole folder goes, said in one line), 0: no checkpoint. */
static int checkpoint_state(ag_ctx *ctx, const keylist *v, size_t i, size_t j, size_t dl,
                            int dry_run)
{
    for (size_t k = i; k < j; k++) {
        const char *leaf = v->keys[k] + dl;
        if (dir_len(v->keys[k]) != dl || strcmp(leaf, "checkpoint.json") != 0)
            continue;
        if (time(NULL) - v->mtimes[k] < (time_t)ctx->opts.resume_grace)
            return -1;
        ag_info(ctx, "%s checkpoint %.*s: older than resume grace", dry_run ? "would delete"
                : "deleting", (int)(dl - 1), v->keys[k]);
        return 1;
    }
    return 0;
}

/* The listing comes sorted by key, so the files of one backup folder are adjacent;
 * ours[k] says whether key k is one of rbd2s3's objects in scope (kind[k] its kind). */
static int pick_leftovers(ag_ctx *ctx, const keylist *v, const int *kind, time_t cutoff,
                          int dry_run, keylist *out)
{
    for (size_t i = 0; i < v->n;) {
        if (kind[i] == NAMING_LEAF_NONE) {
            i++;
            continue;
        }
        size_t dl = dir_len(v->keys[i]), j = i;
        int has_manifest = 0;
        for (; j < v->n && strncmp(v->keys[j], v->keys[i], dl) == 0; j++)
            has_manifest |= kind[j] == NAMING_LEAF_MANIFEST && dir_len(v->keys[j]) == dl;
        int ck = has_manifest ? 0 : checkpoint_state(ctx, v, i, j, dl, dry_run);
        for (size_t k = i; !has_manifest && ck >= 0 && k < j; k++) {
            if (kind[k] == NAMING_LEAF_NONE || dir_len(v->keys[k]) != dl ||
                (v->mtimes[k] > cutoff && ck == 0))
                continue;
            if (dry_run)
                ag_info(ctx, "would delete leftover %s", v->keys[k]);
            if (keylist_add(out, v->keys[k], v->sizes[k], 0) < 0)
                return ag_fail(ctx, AG_EFAIL, "out of memory");
        }
        i = j;
    }
    return 0;
}

typedef struct upl_state {
    ag_ctx *ctx;
    const prune_scope *sc;
    time_t cutoff;
    keylist keys, ids;
} upl_state;

static int on_upload(const s3_upload_info *u, void *arg)
{
    upl_state *s = arg;
    int kind;
    if (u->initiated > s->cutoff ||
        !prune_key_in_scope(s->ctx->opts.prefix, s->sc, u->key, &kind) ||
        kind == NAMING_LEAF_MANIFEST)
        return 0;
    if (keylist_add(&s->keys, u->key, 0, 0) < 0 || keylist_add(&s->ids, u->upload_id, 0, 0) < 0)
        return -1;
    return 0;
}

static int abort_uploads(ag_ctx *ctx, const char *prefix, const prune_scope *sc,
                         time_t cutoff, int dry_run, prune_stats *st)
{
    upl_state s;
    memset(&s, 0, sizeof(s));
    s.ctx = ctx;
    s.sc = sc;
    s.cutoff = cutoff;
    s3_error err;
    memset(&err, 0, sizeof(err));
    int rc = s3_list_uploads(ag_s3(ctx), prefix, on_upload, &s, &err);
    if (rc < 0 && err.http_status == 501) {
        /* s3rver: no ListMultipartUploads (NotImplemented), so no upload to abort */
        ag_debug(ctx, "the server cannot list unfinished uploads (NotImplemented): "
                 "none aborted");
        rc = 0;
    } else if (rc < 0) {
        rc = ag_fail_s3(ctx, rc, &err, "listing unfinished uploads");
    }
    for (size_t i = 0; rc == 0 && i < s.keys.n; i++) {
        if (dry_run) {
            ag_info(ctx, "would abort unfinished upload of %s", s.keys.keys[i]);
        } else {
            int arc = s3_mpu_abort(ag_s3(ctx), s.keys.keys[i], s.ids.keys[i], &err);
            if (arc < 0 && arc != -ENOENT)
                rc = ag_fail_s3(ctx, arc, &err, "aborting an unfinished upload");
        }
        st->uploads += rc == 0;
    }
    keylist_free(&s.keys);
    keylist_free(&s.ids);
    return rc;
}

/* The leaf kind of every listed key that prune may touch (NAMING_LEAF_NONE: not). */
static int *classify(ag_ctx *ctx, const keylist *l, const prune_scope *sc)
{
    int *kind = calloc(l->n ? l->n : 1, sizeof(*kind));
    if (kind == NULL) {
        ag_fail(ctx, AG_EFAIL, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < l->n; i++)
        if (!prune_key_in_scope(ctx->opts.prefix, sc, l->keys[i], &kind[i]))
            kind[i] = NAMING_LEAF_NONE;
    return kind;
}

int prune_leftovers(ag_ctx *ctx, const char *list_prefix, const prune_scope *sc,
                    long long grace, int dry_run, prune_stats *st)
{
    keylist l = { 0 };
    int rc = keylist_list(ctx, list_prefix, NULL, NULL, &l, "listing the bucket");
    time_t cutoff = time(NULL) - (time_t)grace;
    keylist doomed;
    memset(&doomed, 0, sizeof(doomed));
    int *kind = rc == 0 ? classify(ctx, &l, sc) : NULL;
    if (rc == 0 && kind == NULL)
        rc = -1;
    if (rc == 0)
        rc = pick_leftovers(ctx, &l, kind, cutoff, dry_run, &doomed);
    if (rc == 0 && dry_run) {
        st->leftovers += doomed.n;
        for (size_t i = 0; i < doomed.n; i++)
            st->leftover_bytes += doomed.sizes[i];
    } else if (rc == 0) {
        rc = delete_keys(ctx, &doomed, &st->leftovers, &st->leftover_bytes);
    }
    if (rc == 0)
        rc = abort_uploads(ctx, list_prefix, sc, cutoff, dry_run, st);
    free(kind);
    keylist_free(&doomed);
    keylist_free(&l);
    return rc;
}
