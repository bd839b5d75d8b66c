/* backup.c - copy one backup in commit order: data objects, index (checked by its
 * SHA-256), manifest last (read back); and the image's head object. */
#include "agent/command/copy/copy.h"
#include "agent/repo/trust/head.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int copy_dst_failed(copy_job *j)
{
    if (j->dst.exit_code != AG_OK && j->ctx->exit_code == AG_OK) {
        j->ctx->exit_code = j->dst.exit_code;
        snprintf(j->ctx->errmsg, sizeof(j->ctx->errmsg), "%s", j->dst.errmsg);
    }
    return -1;
}

int copy_dst_key(copy_job *j, const char *src_key, char *out, size_t outsz)
{
    size_t pl = strlen(j->src_prefix);
    if (strncmp(src_key, j->src_prefix, pl) != 0)
        return ag_fail(j->ctx, AG_EINTEGRITY, "%s: not under %s", src_key, j->src_prefix);
    int n = snprintf(out, outsz, "%s%s", j->dst_prefix, src_key + pl);
    if (n < 0 || (size_t)n >= outsz || (size_t)n >= AG_KEY_MAX)
        return ag_fail(j->ctx, AG_EUSAGE, "%s%s: longer than S3 allows", j->dst_prefix,
                       src_key + pl);
    return 0;
}

/* GET a small object whole (at most max bytes) into *b; -ENOENT when missing. */
static int get_small(copy_job *j, s3_client *c, const char *key, size_t max, s3_buf *b)
{
    s3_error err;
    memset(&err, 0, sizeof(err));
    int rc = s3_get(c, key, 0, 0, max, b, &err);
    if (rc == -ENOENT)
        return rc;
    if (rc < 0)
        return ag_fail_s3(j->ctx, rc, &err, key);
    j->bytes_moved += b->len;
    return 0;
}

/* The manifest as the destination must hold it: the source's bytes, or (another prefix)
 * the same manifest naming the destination's keys, its checksum made anew. */
static int wanted_manifest(copy_job *j, const s3_buf *src, char **out, size_t *len)
{
    manifest m, m2;
    char key[AG_KEY_MAX + 64];
    manifest_init(&m);
    int rc = manifest_from_json((const char *)src->data, src->len, &m);
    m2 = m;
    m2.objects = NULL;
    m2.nobjects = m2.objects_cap = 0;
    m2.index.key = NULL;
    m.labels = NULL;            /* m2 owns them now: freed once, by manifest_clear(&m2) */
    for (size_t i = 0; rc == 0 && i < m.nobjects; i++) {
        if (copy_dst_key(j, m.objects[i].key, key, sizeof(key)) < 0)
            rc = -1;
        else
            rc = manifest_add_object(&m2, key, m.objects[i].size, m.objects[i].etag);
    }
    if (rc == 0 && copy_dst_key(j, m.index.key, key, sizeof(key)) < 0)
        rc = -1;
    if (rc == 0)
        rc = manifest_set_index(&m2, key, m.index.size);
    if (rc == 0)
        rc = manifest_to_json(&m2, out, len);
    if (rc < -1)
        ag_fail(j->ctx, AG_EFAIL, "rewriting manifest %s: %s", m.id, strerror(-rc));
    manifest_clear(&m);
    manifest_clear(&m2);
    return rc < 0 ? -1 : 0;
}

/* The index: copied as an object, then its bytes checked against the manifest. */
static int copy_index(copy_job *j, const manifest *m)
{
    char dkey[AG_KEY_MAX + 64], etag[S3_ETAG_MAX];
    uint64_t size = 0;
    s3_error err;
    memset(&err, 0, sizeof(err));
    int rc = s3_head(j->ctx->s3, m->index.key, &size, etag, &err);
    if (rc < 0)
        return ag_fail_s3(j->ctx, rc, &err, m->index.key);
    if (size != m->index.size)
        return ag_fail(j->ctx, AG_EINTEGRITY, "%s: %llu bytes, the manifest says %llu",
                       m->index.key, (unsigned long long)size,
                       (unsigned long long)m->index.size);
    if (copy_dst_key(j, m->index.key, dkey, sizeof(dkey)) < 0 ||
        copy_object(j, m->index.key, dkey, size, etag) < 0)
        return -1;
    s3_buf b;
    if (get_small(j, j->dst.s3, dkey, (size_t)size, &b) < 0)
        return ag_fail(j->ctx, AG_EINTEGRITY, "%s: missing after the copy", dkey);
    char sha[65];
    s3_sha256_hex(b.data, b.len, sha);
    s3_buf_free(&b);
    if (strcmp(sha, m->index_sha256) != 0)
        return ag_fail(j->ctx, AG_EINTEGRITY, "%s: SHA-256 %s after the copy, the manifest "
                       "says %s", dkey, sha, m->index_sha256);
    return 0;
}

/* Write the manifest bytes want to key and read them back. */
static int put_manifest(copy_job *j, const char *src_key, const char *key, const char *want,
                        size_t len)
{
    char etag[S3_ETAG_MAX];
    s3_error err;
    memset(&err, 0, sizeof(err));
    int rc = j->server_side && !j->rewrite
             ? s3_copy_object(j->dst.s3, key, j->ctx->opts.bucket, src_key, etag, &err)
             : s3_put(j->dst.s3, key, want, len, "application/json", etag, &err);
    if (rc < 0)
        return ag_fail_s3(j->ctx, rc, &err, key);
    if (!j->server_side || j->rewrite)
        j->bytes_moved += len;
    s3_buf b;
    if (get_small(j, j->dst.s3, key, MANIFEST_MAX_BYTES, &b) < 0)
        return ag_fail(j->ctx, AG_EINTEGRITY, "%s: missing after the copy", key);
    int same = b.len == len && memcmp(b.data, want, len) == 0;
    s3_buf_free(&b);
    return same ? 0 : ag_fail(j->ctx, AG_EINTEGRITY, "%s: not the manifest written", key);
}

/* 1 when a and b are the same backup's: id, chain, the objects they name (keys, sizes,
 * ETags) and the index (key, size, SHA-256). Whatever else differs (a key rotate rewraps
 * the data key) leaves the data as it is. */
static int same_content(const manifest *a, const manifest *b)
{
    if (strcmp(a->id, b->id) != 0 || a->full != b->full ||
        strcmp(a->parent_id, b->parent_id) != 0 || a->nobjects != b->nobjects ||
        strcmp(a->index.key, b->index.key) != 0 || a->index.size != b->index.size ||
        strcmp(a->index_sha256, b->index_sha256) != 0)
        return 0;
    for (size_t i = 0; i < a->nobjects; i++) {
        const manifest_object *x = &a->objects[i], *y = &b->objects[i];
        if (strcmp(x->key, y->key) != 0 || x->size != y->size || strcmp(x->etag, y->etag) != 0)
            return 0;
    }
    return 1;
}

/* Parse the manifest bytes doc[0..len) read from (or for) key into *m (init'ed) and check
 * that it is e's in the folder of prefix. 0, or -1 with AG_EINTEGRITY recorded. */
static int parse_checked(copy_job *j, const char *key, const char *doc, size_t len,
                         const char *prefix, const cat_entry *e, manifest *m)
{
    const char *why = "it does not parse";
    if (manifest_from_json(doc, len, m) == 0 &&
        manifest_check_folder(m, prefix, e->id, e->m.pool, e->m.ns, e->m.image, &why) == 0)
        return 0;
    manifest_clear(m);
    return ag_fail(j->ctx, AG_EINTEGRITY, "backup %s: %s: %s", e->id, key, why);
}

/* The destination's key against want[0..len): 0 missing, 1 it holds exactly want, 2 it
 * holds other bytes (left in *b, which the caller frees), -1 with the error recorded. */
static int dst_compare(copy_job *j, const char *key, const char *want, size_t len, s3_buf *b)
{
    int rc = get_small(j, j->dst.s3, key, MANIFEST_MAX_BYTES, b);
    if (rc == -ENOENT)
        return 0;
    if (rc < 0)
        return -1;
    if (b->len == len && memcmp(b->data, want, len) == 0) {
        s3_buf_free(b);
        return 1;
    }
    return 2;
}

/* The destination's manifest key against want (w: want parsed): 1 it holds exactly want,
 * 0 missing, 2 the same backup in other bytes (a key rotate: the manifest alone is to be
 * written); -1 with the error recorded, AG_EINTEGRITY when it holds another backup. */
static int manifest_state(copy_job *j, const cat_entry *e, const char *key, const char *want,
                          size_t len, const manifest *w)
{
    s3_buf b;
    int rc = dst_compare(j, key, want, len, &b);
    if (rc != 2)
        return rc;
    manifest d;
    manifest_init(&d);
    int same = manifest_from_json((const char *)b.data, b.len, &d) == 0 &&
               same_content(&d, w);
    manifest_clear(&d);
    s3_buf_free(&b);
    if (!same)
        return ag_fail(j->ctx, AG_EINTEGRITY, "backup %s: the destination holds another "
                       "backup's manifest %s; nothing copied", e->id, key);
    return 2;
}

/* 1 when the destination's key holds exactly want, 0 when not (or missing). */
static int object_there(copy_job *j, const char *key, const char *want, size_t len)
{
    s3_buf b;
    int rc = dst_compare(j, key, want, len, &b);
    if (rc == 2)
        s3_buf_free(&b);
    return rc == 2 ? 0 : rc;
}

static int copy_contents(copy_job *j, const manifest *m)
{
    char dkey[AG_KEY_MAX + 64];
    int rc = 0;
    j->chunk = m->chunk_size;
    j->sclass = j->dst.opts.storage_class;      /* the data objects', as backup sets it */
    for (size_t i = 0; rc == 0 && i < m->nobjects; i++) {
        const manifest_object *o = &m->objects[i];
        if (copy_dst_key(j, o->key, dkey, sizeof(dkey)) < 0 ||
            copy_object(j, o->key, dkey, o->size, o->etag) < 0)
            rc = -1;
    }
    j->sclass = NULL;
    return rc < 0 ? -1 : copy_index(j, m);
}

/* The manifest to write (*want, *len: src's bytes or a malloc'ed rewrite) parsed into *w,
 * both checked to be e's (the source's bytes equal to the catalog's entry). 0 or -1. */
static int manifest_wanted(copy_job *j, const cat_entry *e, const char *skey,
                           const char *dkey, const s3_buf *src, char **want, size_t *len,
                           manifest *w)
{
    if (parse_checked(j, skey, (const char *)src->data, src->len, j->src_prefix, e, w) < 0)
        return -1;
    int same = same_content(w, &e->m);
    manifest_clear(w);
    if (!same)
        return ag_fail(j->ctx, AG_EINTEGRITY, "backup %s: %s changed while copying", e->id,
                       skey);
    *want = (char *)src->data;
    *len = src->len;
    if (j->rewrite && wanted_manifest(j, src, want, len) < 0)
        return -1;
    return parse_checked(j, dkey, *want, *len, j->dst_prefix, e, w);
}

int copy_backup(copy_job *j, const cat_entry *e)
{
    char skey[AG_KEY_MAX + 64], dkey[AG_KEY_MAX + 64];
    if (naming_manifest_key(j->src_prefix, e->id, skey, sizeof(skey)) < 0 ||
        copy_dst_key(j, skey, dkey, sizeof(dkey)) < 0)
        return ag_fail(j->ctx, AG_EUSAGE, "%s: manifest key too long", e->id);
    s3_buf src;
    int rc = get_small(j, j->ctx->s3, skey, MANIFEST_MAX_BYTES, &src);
    if (rc == -ENOENT)
        return ag_fail(j->ctx, AG_EINTEGRITY, "%s: gone from the source", skey);
    if (rc < 0)
        return -1;
    char *want = (char *)src.data;
    size_t len = src.len;
    manifest w;
    manifest_init(&w);
    rc = manifest_wanted(j, e, skey, dkey, &src, &want, &len, &w);
    if (rc == 0)
        rc = manifest_state(j, e, dkey, want, len, &w);
    if (rc == 0)
        rc = copy_contents(j, &e->m) < 0 ? -1 : 0;
    if (rc == 0 || rc == 2)
        rc = put_manifest(j, skey, dkey, want, len);
    manifest_clear(&w);
    if (want != (char *)src.data)
        free(want);
    s3_buf_free(&src);
    return rc;
}

/* 1 when the destination has the manifest of backup id, 0 when not, -1 on a failure. */
static int dst_has_backup(copy_job *j, const char *id)
{
    char key[AG_KEY_MAX + 64];
    if (naming_manifest_key(j->dst_prefix, id, key, sizeof(key)) < 0)
        return 0;
    s3_error err;
    memset(&err, 0, sizeof(err));
    int rc = s3_head(j->dst.s3, key, NULL, NULL, &err);
    if (rc == -ENOENT)
        return 0;
    return rc < 0 ? ag_fail_s3(j->ctx, rc, &err, key) : 1;
}

/* 0 when the head bytes src (read again, to be written) are the head h that was checked,
 * else -1 with AG_EINTEGRITY recorded. */
static int head_same(copy_job *j, const char *key, const s3_buf *src, const headdoc *h)
{
    headdoc g;
    memset(&g, 0, sizeof(g));
    if (headdoc_from_json((const char *)src->data, src->len, &g) == 0 &&
        strcmp(g.pool, h->pool) == 0 && strcmp(g.ns, h->ns) == 0 &&
        strcmp(g.image, h->image) == 0 && strcmp(g.image_id, h->image_id) == 0 &&
        strcmp(g.newest, h->newest) == 0 && strcmp(g.key_id, h->key_id) == 0 &&
        memcmp(g.newest_mac, h->newest_mac, sizeof(g.newest_mac)) == 0 &&
        memcmp(g.mac, h->mac, sizeof(g.mac)) == 0)
        return 0;
    return ag_fail(j->ctx, AG_EINTEGRITY, "%s: changed while copying", key);
}

int copy_head(copy_job *j, const naming_spec *spec)
{
    headdoc h;
    int rc = head_get(j->ctx, spec, &h);
    if (rc <= 0)
        return rc;
    rc = dst_has_backup(j, h.newest);
    if (rc <= 0)
        return rc;              /* a head naming a backup not copied would be a rollback */
    char skey[AG_KEY_MAX + 64], dkey[AG_KEY_MAX + 64];
    if (naming_head_key(j->src_prefix, skey, sizeof(skey)) < 0 ||
        copy_dst_key(j, skey, dkey, sizeof(dkey)) < 0)
        return -1;
    s3_buf src;
    rc = get_small(j, j->ctx->s3, skey, HEADDOC_MAX_BYTES, &src);
    if (rc < 0)
        return rc == -ENOENT ? 0 : -1;
    rc = head_same(j, skey, &src, &h);
    if (rc == 0)
        rc = object_there(j, dkey, (const char *)src.data, src.len);
    if (rc == 0) {
        s3_error err;
        memset(&err, 0, sizeof(err));
        rc = s3_put(j->dst.s3, dkey, src.data, src.len, "application/json", NULL, &err);
        if (rc < 0)
            ag_fail_s3(j->ctx, rc, &err, dkey);
        else
            j->bytes_moved += src.len;
    }
    s3_buf_free(&src);
    return rc < 0 ? -1 : 0;
}
