/* keylist.c - a growable list of object keys with their sizes and times, from a listing. */
#include "agent/repo/keylist.h"
#include "agent/repo/asof.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Make room for one more key. 0 or -ENOMEM (what was there stays). */
static int grow(keylist *l)
{
    if (l->n < l->cap)
        return 0;
    size_t cap = l->cap ? l->cap * 2 : 64;
    char **k = realloc(l->keys, cap * sizeof(*k));
    if (k == NULL)
        return -ENOMEM;
    l->keys = k;
    uint64_t *s = realloc(l->sizes, cap * sizeof(*s));
    if (s == NULL)
        return -ENOMEM;
    l->sizes = s;
    time_t *t = realloc(l->mtimes, cap * sizeof(*t));
    if (t == NULL)
        return -ENOMEM;
    l->mtimes = t;
    l->cap = cap;
    return 0;
}

int keylist_add(keylist *l, const char *key, uint64_t size, time_t mtime)
{
    if (grow(l) < 0 || (l->keys[l->n] = strdup(key)) == NULL)
        return -ENOMEM;
    l->sizes[l->n] = size;
    l->mtimes[l->n++] = mtime;
    return 0;
}

void keylist_free(keylist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->keys[i]);
    free(l->keys);
    free(l->sizes);
    free(l->mtimes);
    memset(l, 0, sizeof(*l));
}

typedef struct list_arg {
    keylist *l;
    keylist_filter keep;
    void *arg;
} list_arg;

static int on_object(const s3_object_info *obj, void *arg)
{
    list_arg *a = arg;
    if (obj->is_prefix || (a->keep != NULL && !a->keep(obj, a->arg)))
        return 0;
    return keylist_add(a->l, obj->key, obj->size, obj->last_modified);
}

/* keylist_list from ctx->asof: the keys under prefix as they were. */
static int list_asof(const repo_asof *a, const char *prefix, list_arg *la)
{
    size_t plen = strlen(prefix);
    for (size_t i = 0; i < a->n; i++) {
        const asof_entry *e = &a->v[i];
        s3_object_info obj = { .key = e->key, .size = e->size, .etag = "",
                               .last_modified = e->mtime };
        int rc = strncmp(e->key, prefix, plen) == 0 ? on_object(&obj, la) : 0;
        if (rc < 0)
            return rc;
    }
    return 0;
}

int keylist_list(ag_ctx *ctx, const char *prefix, keylist_filter keep, void *arg, keylist *l,
                 const char *what)
{
    if (ctx->asof != NULL) {
        list_arg la = { l, keep, arg };
        return list_asof(ctx->asof, prefix, &la) < 0 ? ag_fail(ctx, AG_EFAIL, "out of memory")
                                                     : 0;
    }
    s3_client *s3 = ag_s3(ctx);
    if (s3 == NULL)
        return -1;
    list_arg a = { l, keep, arg };
    s3_error err;
    memset(&err, 0, sizeof(err));
    int rc = s3_list(s3, prefix, NULL, on_object, &a, &err);
    return rc < 0 ? ag_fail_s3(ctx, rc, &err, what) : 0;
}
