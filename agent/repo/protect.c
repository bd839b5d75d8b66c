/* protect.c - the protect objects of backups in the bucket: put, removed, loaded. */
#include "agent/repo/protect.h"
#include "agent/repo/keylist.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LEAF "/" PROTECTDOC_LEAF

int protect_key(ag_ctx *ctx, const naming_spec *spec, const char *id, char *out,
                size_t outsz)
{
    char prefix[4096];
    if (ag_image_prefix(ctx, spec, prefix, sizeof(prefix)) < 0 ||
        (size_t)snprintf(out, outsz, "%s%s%s", prefix, id, LEAF) >= outsz)
        return ag_fail(ctx, AG_EUSAGE, "image name too long");
    return 0;
}

/* GET and parse the protect object at key into *st. 0 (st->on 0 when absent), or -1
 * with the S3 error recorded. An unreadable object is on, with a warning. */
static int read_one(ag_ctx *ctx, const char *key, const char *id, protect_state *st)
{
    s3_buf body = { 0 };
    s3_error err;
    memset(&err, 0, sizeof(err));
    memset(st, 0, sizeof(*st));
    int rc = s3_get(ag_s3(ctx), key, 0, 0, PROTECTDOC_MAX_BYTES, &body, &err);
    if (rc == -ENOENT)
        return 0;
    if (rc < 0 && rc != -EFBIG)
        return ag_fail_s3(ctx, rc, &err, key);
    const char *why = "larger than 4 KiB";
    st->on = 1;
    if (rc == 0)
        rc = protectdoc_from_json((const char *)body.data, body.len, &st->doc, &why);
    s3_buf_free(&body);
    if (rc == -ENOMEM)
        return ag_fail(ctx, AG_EFAIL, "out of memory");
    if (rc == 0 && strcmp(st->doc.backup, id) != 0) {
        why = "it names another backup";
        rc = -EINVAL;
    }
    if (rc < 0) {
        st->unreadable = 1;
        st->doc.since = 0;
        st->doc.reason[0] = '\0';
        ag_warn("protect object %s is unreadable (%s): its backup stays protected", key, why);
    }
    snprintf(st->doc.backup, sizeof(st->doc.backup), "%s", id);
    return 0;
}

int protect_put(ag_ctx *ctx, const naming_spec *spec, const char *id, const char *reason,
                protect_state *st, int *wrote)
{
    char key[4200], *json = NULL;
    size_t len = 0;
    *wrote = 0;
    if (protect_key(ctx, spec, id, key, sizeof(key)) < 0 || ag_s3(ctx) == NULL ||
        read_one(ctx, key, id, st) < 0)
        return -1;
    if (st->on && !st->unreadable &&
        (reason == NULL || strcmp(reason, st->doc.reason) == 0))
        return 0;                                  /* already so */
    if (!st->on || st->unreadable) {
        memset(st, 0, sizeof(*st));
        snprintf(st->doc.backup, sizeof(st->doc.backup), "%s", id);
        st->doc.since = time(NULL);
    }
    st->on = 1;
    snprintf(st->doc.reason, sizeof(st->doc.reason), "%s", reason ? reason : "");
    int rc = protectdoc_to_json(&st->doc, &json, &len);
    if (rc < 0) {
        free(json);
        return ag_fail(ctx, rc == -ENOMEM ? AG_EFAIL : AG_EUSAGE, "%s: cannot write its "
                       "protect object", id);
    }
    s3_error err;
    memset(&err, 0, sizeof(err));
    rc = s3_put(ctx->s3, key, json, len, "application/json", NULL, &err);
    free(json);
    if (rc < 0)
        return ag_fail_s3(ctx, rc, &err, key);
    *wrote = 1;
    return 0;
}

int protect_remove(ag_ctx *ctx, const naming_spec *spec, const char *id, int *was)
{
    char key[4200];
    s3_error err;
    memset(&err, 0, sizeof(err));
    *was = 0;
    if (protect_key(ctx, spec, id, key, sizeof(key)) < 0 || ag_s3(ctx) == NULL)
        return -1;
    int rc = s3_head(ctx->s3, key, NULL, NULL, &err);
    if (rc == -ENOENT)
        return 0;
    if (rc == 0)
        rc = s3_delete(ctx->s3, key, &err);
    if (rc < 0)
        return ag_fail_s3(ctx, rc, &err, key);
    *was = 1;
    return 0;
}

static int is_protect_key(const s3_object_info *obj, void *arg)
{
    (void)arg;
    size_t n = strlen(obj->key), l = strlen(LEAF);
    return n > l && strcmp(obj->key + n - l, LEAF) == 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The protect objects under prefix of the entries [from, to) of c whose state is not
 * on yet: one listing, a GET of each found. *added (may be NULL) counts the states
 * turned on. 0, or -1 recorded. */
static int load_range(ag_ctx *ctx, const catalog *c, size_t from, size_t to,
                      const char *prefix, protect_state *st, size_t *added)
{
    char key[4200];
    keylist found = { 0 };
    int rc = keylist_list(ctx, prefix, is_protect_key, NULL, &found, "listing the bucket");
    if (rc == 0 && found.n > 1)
        qsort(found.keys, found.n, sizeof(*found.keys), cmp_str);
    for (size_t i = from; rc == 0 && found.n > 0 && i < to; i++) {
        const char *k = key;
        if (st[i].on)
            continue;
        rc = protect_key(ctx, &c->e[i].spec, c->e[i].id, key, sizeof(key));
        if (rc == 0 && bsearch(&k, found.keys, found.n, sizeof(*found.keys), cmp_str))
            rc = read_one(ctx, key, c->e[i].id, &st[i]);
        if (rc == 0 && st[i].on && added != NULL)
            (*added)++;
    }
    keylist_free(&found);
    return rc < 0 ? -1 : 0;
}

int protect_load(ag_ctx *ctx, const catalog *c, const naming_spec *spec,
                 protect_state **out)
{
    char prefix[4096];
    *out = calloc(c->n ? c->n : 1, sizeof(**out));
    if (*out == NULL)
        return ag_fail(ctx, AG_EFAIL, "out of memory");
    if (c->n == 0)
        return 0;
    if (ag_scope_prefix(ctx, spec, prefix, sizeof(prefix)) < 0)
        return -1;
    return load_range(ctx, c, 0, c->n, prefix, *out, NULL);
}

int protect_refresh(ag_ctx *ctx, const catalog *c, size_t from, size_t to,
                    protect_state *st, size_t *added)
{
    char prefix[4096];
    *added = 0;
    if (from >= to)
        return 0;
    if (ag_image_prefix(ctx, &c->e[from].spec, prefix, sizeof(prefix)) < 0)
        return ag_fail(ctx, AG_EUSAGE, "image name too long");
    return load_range(ctx, c, from, to, prefix, st, added);
}

void protect_describe(const protect_state *st, char *out, size_t outsz)
{
    char since[21];
    if (st->unreadable || st->doc.since == 0) {
        snprintf(out, outsz, "protected (unreadable protect object)");
        return;
    }
    naming_iso8601(st->doc.since, since);
    snprintf(out, outsz, "protected (since %s%s%s)", since, st->doc.reason[0] ? ", " : "",
             st->doc.reason);
}
