/* head.c - the head object of an encrypted image in the bucket: put after a commit,
 * read and checked against the catalog before the newest backup is used. */
#include "agent/repo/trust/head.h"
#include "agent/repo/asof.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int head_key(ag_ctx *ctx, const naming_spec *spec, char *key, size_t keysz)
{
    char prefix[4096];
    if (ag_image_prefix(ctx, spec, prefix, sizeof(prefix)) < 0 ||
        naming_head_key(prefix, key, keysz) < 0)
        return ag_fail(ctx, AG_EUSAGE, "image name too long");
    return 0;
}

static int same_image(const naming_spec *a, const char *pool, const char *ns,
                      const char *image)
{
    return strcmp(a->pool, pool) == 0 && strcmp(a->ns, ns) == 0 &&
           strcmp(a->image, image) == 0;
}

static int fail_auth(ag_ctx *ctx, const char *name)
{
    return ag_fail(ctx, AG_EINTEGRITY, "head object of %s fails authentication", name);
}

int head_get(ag_ctx *ctx, const naming_spec *spec, headdoc *h)
{
    char key[4200], name[NAMING_SPEC_MAX];
    s3_buf body = { 0 };
    s3_error err;
    memset(&err, 0, sizeof(err));
    naming_spec_str(spec, name, sizeof(name));
    if (head_key(ctx, spec, key, sizeof(key)) < 0 || ag_s3(ctx) == NULL)
        return -1;
    int rc = asof_get(ctx, key, 0, 0, HEADDOC_MAX_BYTES, &body, &err);
    if (rc == -ENOENT)
        return 0;
    if (rc == -EFBIG)
        return fail_auth(ctx, name);
    if (rc < 0)
        return ag_fail_s3(ctx, rc, &err, key);
    rc = headdoc_from_json((const char *)body.data, body.len, h);
    s3_buf_free(&body);
    if (rc == -ENOMEM)
        return ag_fail(ctx, AG_EFAIL, "out of memory");
    if (rc < 0 || !same_image(spec, h->pool, h->ns, h->image))
        return fail_auth(ctx, name);
    return 1;
}

int head_write(ag_ctx *ctx, headdoc *h, const seal_key *mk)
{
    naming_spec spec;
    memset(&spec, 0, sizeof(spec));
    snprintf(spec.pool, sizeof(spec.pool), "%s", h->pool);
    snprintf(spec.ns, sizeof(spec.ns), "%s", h->ns);
    snprintf(spec.image, sizeof(spec.image), "%s", h->image);
    char key[4200], prefix[4096], *json = NULL;
    size_t len = 0;
    s3_error err;
    memset(&err, 0, sizeof(err));
    int rc = ag_image_prefix(ctx, &spec, prefix, sizeof(prefix)) < 0 ? -ENAMETOOLONG
             : naming_head_key(prefix, key, sizeof(key));
    if (rc == 0)
        rc = headdoc_to_json(h, mk, &json, &len);
    if (rc == 0)
        rc = s3_put(ctx->s3, key, json, len, "application/json", NULL, &err);
    free(json);
    if (rc < 0)
        ag_warn("%s/%s: its head object was not written (%s)", h->pool, h->image,
                err.message[0] ? err.message : strerror(-rc));
    return rc < 0 ? -1 : 0;
}

int head_put(ag_ctx *ctx, const manifest *m)
{
    const seal_key *mk = keyring_find(ctx->keys, m->enc.key_id,
                                      m->enc.has_kdf ? &m->enc.kdf : NULL);
    headdoc h;
    if (mk == NULL || headdoc_from_manifest(&h, m) < 0) {
        ag_warn("%s/%s: backup %s: no head object written (no key or bad manifest)",
                m->pool, m->image, m->id);
        return -1;
    }
    return head_write(ctx, &h, mk);
}

int head_delete(ag_ctx *ctx, const naming_spec *spec)
{
    char key[4200];
    s3_error err;
    memset(&err, 0, sizeof(err));
    if (head_key(ctx, spec, key, sizeof(key)) < 0)
        return -1;
    int rc = s3_delete(ctx->s3, key, &err);
    if (rc < 0)
        ag_warn("%s: its head object was not deleted: %s", key,
                err.message[0] ? err.message : strerror(-rc));
    return rc < 0 ? -1 : 0;
}

/* Encrypted backups of spec in c; *newest receives the newest backup's id ("none"). */
static size_t count_encrypted(const catalog *c, const naming_spec *spec, const char **newest)
{
    size_t n = 0;
    *newest = "none";
    for (size_t i = 0; i < c->n; i++) {
        if (!same_image(spec, c->e[i].spec.pool, c->e[i].spec.ns, c->e[i].spec.image))
            continue;
        *newest = c->e[i].id;
        n += c->e[i].m.enc.on != 0;
    }
    return n;
}

/* The kdf of a passphrase key with id key_id, from a manifest of c that records it. */
static const seal_kdf *kdf_of(const catalog *c, const char *key_id)
{
    for (size_t i = c->n; i-- > 0;) {
        const manifest_enc *e = &c->e[i].m.enc;
        if (e->on && e->has_kdf && strcmp(e->key_id, key_id) == 0)
            return &e->kdf;
    }
    return NULL;
}

/* The catalog's backup that h names, authenticated (a key opened it: its dk) and with
 * the mac h records: 1 found, else 0. */
static int names_backup(const catalog *c, const naming_spec *spec, const headdoc *h)
{
    for (size_t i = 0; i < c->n; i++) {
        const cat_entry *e = &c->e[i];
        if (same_image(spec, e->spec.pool, e->spec.ns, e->spec.image) &&
            strcmp(e->id, h->newest) == 0)
            return e->m.enc.on && e->dk != NULL &&
                   memcmp(e->m.enc.mac, h->newest_mac, SEAL_MAC_LEN) == 0;
    }
    return 0;
}

/* A backup of spec newer than id that no key authenticated (a plain manifest, or one
 * no key opened), or NULL. Past the head only authenticated backups may follow. */
static const cat_entry *newer_unauthenticated(const catalog *c, const naming_spec *spec,
                                              const char *id)
{
    for (size_t i = 0; i < c->n; i++) {
        const cat_entry *e = &c->e[i];
        if (same_image(spec, e->spec.pool, e->spec.ns, e->spec.image) &&
            strcmp(e->id, id) > 0 && (!e->m.enc.on || e->dk == NULL))
            return e;
    }
    return NULL;
}

int head_read(ag_ctx *ctx, const catalog *c, const naming_spec *spec, headdoc *h)
{
    char name[NAMING_SPEC_MAX];
    naming_spec_str(spec, name, sizeof(name));
    int rc = head_get(ctx, spec, h);
    if (rc <= 0)
        return rc;
    const seal_key *mk = keyring_find(ctx->keys, h->key_id, kdf_of(c, h->key_id));
    if (mk == NULL)
        return ag_fail(ctx, AG_EKEY, "head object of %s: no configured key has its key id "
                       "%s", name, h->key_id);
    return headdoc_mac_ok(h, mk) ? 1 : fail_auth(ctx, name);
}

int head_check(ag_ctx *ctx, const catalog *c, const naming_spec *spec, int warn_missing)
{
    char name[NAMING_SPEC_MAX];
    const char *newest;
    naming_spec_str(spec, name, sizeof(name));
    size_t nenc = count_encrypted(c, spec, &newest);
    if (ctx->keys == NULL && nenc == 0)
        return 0;                       /* a plain repository: no request */
    headdoc h;
    int rc = head_read(ctx, c, spec, &h);
    if (rc < 0)
        return -1;
    if (rc == 0) {
        if (warn_missing && nenc > 0)
            ag_warn("%s: no head object: a rollback or deletion of its newest backups "
                    "cannot be noticed (the next backup writes it)", name);
        return 0;
    }
    if (!names_backup(c, spec, &h))
        return ag_fail(ctx, AG_EINTEGRITY, "rollback or deletion: head of %s names backup "
                       "%s, newest in the bucket is %s", name, h.newest, newest);
    const cat_entry *e = newer_unauthenticated(c, spec, h.newest);
    if (e != NULL)
        return ag_fail(ctx, AG_EINTEGRITY, "%s@%s: newer than the backup %s its head names, "
                       "and not authenticated", name, e->id, h.newest);
    return 0;
}

int head_check_all(ag_ctx *ctx, const catalog *c, int warn_missing)
{
    for (size_t i = 0; i < c->n; i++) {
        const naming_spec *s = &c->e[i].spec;
        if (i > 0 && same_image(s, c->e[i - 1].spec.pool, c->e[i - 1].spec.ns,
                                c->e[i - 1].spec.image))
            continue;
        if (head_check(ctx, c, s, warn_missing) < 0)
            return -1;
    }
    return 0;
}
