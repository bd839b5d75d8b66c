/* lockinfo.c - Object Lock as the repository sees it: is the bucket locked, is a backup. */
#include "agent/repo/trust/lockinfo.h"
#include "agent/repo/asof.h"

#include <errno.h>
#include <string.h>

int lockinfo_enabled(ag_ctx *ctx, int *enabled)
{
    s3_client *s3 = ag_s3(ctx);
    s3_error err;
    *enabled = 0;
    if (s3 == NULL)
        return -1;
    memset(&err, 0, sizeof(err));
    int rc = s3_get_object_lock(s3, enabled, &err);
    if (rc == -EACCES) {
        ag_warn("cannot read the bucket's Object Lock configuration (%s): taken as "
                "a bucket without a lock", s3_strerror(rc, &err));
        return 0;
    }
    return rc < 0 ? ag_fail_s3(ctx, rc, &err, "reading the Object Lock configuration") : 0;
}

/* The key of object k of backup m in folder prefix: data objects, then index, manifest. */
static int object_key(const char *prefix, const manifest *m, size_t k, char *key, size_t sz)
{
    if (k < m->nobjects)
        return naming_data_key(prefix, m->id, (unsigned)k, key, sz);
    return k == m->nobjects ? naming_index_key(prefix, m->id, key, sz)
                            : naming_manifest_key(prefix, m->id, key, sz);
}

int lockinfo_retention(ag_ctx *ctx, const naming_spec *spec, const manifest *m,
                       time_t *earliest, time_t *latest)
{
    char prefix[4096], key[4096];
    time_t lo = 0, hi = 0;
    if (ag_image_prefix(ctx, spec, prefix, sizeof(prefix)) < 0)
        return ag_fail(ctx, AG_EFAIL, "backup %s: key too long", m->id);
    for (size_t k = 0; k <= m->nobjects + 1; k++) {
        s3_error err;
        time_t t = 0;
        if (object_key(prefix, m, k, key, sizeof(key)) < 0)
            return ag_fail(ctx, AG_EFAIL, "backup %s: key too long", m->id);
        memset(&err, 0, sizeof(err));
        int rc = asof_head(ctx, key, NULL, &t, &err);
        if (rc < 0 && rc != -ENOENT)
            return ag_fail_s3(ctx, rc, &err, key);
        lo = k == 0 || t < lo ? t : lo;
        hi = t > hi ? t : hi;
    }
    if (earliest != NULL)
        *earliest = lo;
    if (latest != NULL)
        *latest = hi;
    return 0;
}
