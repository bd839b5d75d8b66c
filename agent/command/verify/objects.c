/* objects.c - verify's checks of one backup in the bucket: its objects and their sizes,
 * its chain, and with --deep its index and every chunk. */
#include "agent/command/verify/verify.h"
#include "agent/repo/chain.h"
#include "agent/repo/trust/enckeys.h"
#include "agent/repo/keylist.h"
#include "agent/repo/asof.h"
#include "agent/restore/apply.h"
#include "agent/restore/plan.h"
#include "agent/restore/walk.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- objects */

/* The size of key: from the listing of the backup's folder, or with a HEAD for a key
 * elsewhere. 1 found, 0 missing, -1 on an S3 failure (recorded). */
static int object_size(ag_ctx *ctx, const keylist *l, const char *folder, const char *key,
                       uint64_t *size)
{
    if (strncmp(key, folder, strlen(folder)) == 0) {
        for (size_t i = 0; i < l->n; i++)
            if (strcmp(l->keys[i], key) == 0) {
                *size = l->sizes[i];
                return 1;
            }
        return 0;
    }
    s3_error err;
    memset(&err, 0, sizeof(err));
    int rc = asof_head(ctx, key, size, NULL, &err);
    if (rc == -ENOENT)
        return 0;
    return rc < 0 ? ag_fail_s3(ctx, rc, &err, key) : 1;
}

/* Check one object against the manifest; a problem is appended to *damage. */
static int check_object(ag_ctx *ctx, const keylist *l, const char *folder, const char *what,
                        const manifest_object *o, char **damage, size_t *problems)
{
    uint64_t size = 0;
    int rc = object_size(ctx, l, folder, o->key, &size);
    if (rc < 0)
        return -1;
    if (rc == 1 && size == o->size)
        return 0;
    if ((*problems)++ == 0)
        *damage = rc == 0 ? verify_fmt("%s %s is missing", what, o->key)
                          : verify_fmt("%s %s is %llu bytes, the manifest says %llu", what,
                                       o->key, (unsigned long long)size,
                                       (unsigned long long)o->size);
    return 0;
}

/* Every object the manifest of entry i references exists with the recorded size. */
int verify_objects(verify_job *v, size_t i)
{
    ag_ctx *ctx = v->ctx;
    const cat_entry *e = &v->cat.e[i];
    char folder[4096];
    ag_image_prefix(ctx, &e->spec, folder, sizeof(folder));
    size_t len = strlen(folder);
    snprintf(folder + len, sizeof(folder) - len, "%s/", e->id);
    keylist l = { 0 };
    int rc = keylist_list(ctx, folder, NULL, NULL, &l, "listing the backup's objects");
    if (rc < 0) {
        keylist_free(&l);
        return -1;
    }
    size_t problems = 0;
    char *damage = NULL;
    for (size_t k = 0; rc == 0 && k < e->m.nobjects; k++)
        rc = check_object(ctx, &l, folder, "data object", &e->m.objects[k], &damage,
                          &problems);
    if (rc == 0)
        rc = check_object(ctx, &l, folder, "chunk index", &e->m.index, &damage, &problems);
    keylist_free(&l);
    if (rc < 0) {
        free(damage);
        return -1;
    }
    if (problems > 1) {
        v->own[i] = verify_fmt("%s (and %zu more object%s)", damage, problems - 1,
                               problems > 2 ? "s" : "");
        free(damage);
    } else {
        v->own[i] = damage;
    }
    return 0;
}

/* ---------------------------------------------------------------- chains */

/* Walk the chain of entry i: incomplete (a parent missing), or using a damaged backup. */
void verify_chain(verify_job *v, size_t i)
{
    const catalog *c = &v->cat;
    long cur = (long)i;
    for (size_t steps = 0; steps <= c->n; steps++) {
        const cat_entry *e = &c->e[cur];
        if (cur != (long)i && v->own[cur] != NULL) {
            v->chain[i] = verify_fmt("chain uses damaged backup %s", e->id);
            return;
        }
        if (e->m.full)
            return;
        long parent = catalog_parent(c, (size_t)cur);
        if (parent < 0) {
            const cat_bad *b = catalog_bad_find(c, &e->spec, e->m.parent_id);
            if (b != NULL)
                v->chain[i] = verify_fmt("chain incomplete: parent backup %s of %s is "
                                         "missing (manifest %s: %s)", e->m.parent_id, e->id,
                                         b->key, b->why);
            else
                v->chain[i] = verify_fmt("chain incomplete: parent backup %s of %s is "
                                         "missing", e->m.parent_id, e->id);
            return;
        }
        const char *why = enckeys_link_why(e, &c->e[parent]);
        if (why != NULL) {
            v->chain[i] = verify_fmt("chain broken: %s (backup %s on %s)", why, e->id,
                                     c->e[parent].id);
            return;
        }
        cur = parent;
    }
    v->chain[i] = verify_fmt("chain incomplete: the parents of %s form a loop", c->e[i].id);
}

/* ---------------------------------------------------------------- --deep */

/* The index of entry i against its SHA-256, and every chunk of it. */
int verify_deep(verify_job *v, size_t i)
{
    ag_ctx *ctx = v->ctx;
    const manifest *m = &v->cat.e[i].m;
    ag_debug(ctx, "deep check of %s: %llu records", m->id,
             (unsigned long long)m->index_records);
    walk_set set;
    int rc = 0;
    if (walk_set_one(ctx, m, v->cat.e[i].dk, &set) < 0) {
        rc = verify_take_damage(ctx, &v->own[i]);
    } else {
        apply_sink sink = { .img = NULL, .fd = v->devnull, .fresh = 1, .keep_holes = 1 };
        if (walk_apply(ctx, &set, &sink, m->size) < 0)
            rc = verify_take_damage(ctx, &v->own[i]);
    }
    walk_set_free(&set);
    return rc;
}

