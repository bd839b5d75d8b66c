/* migrate.c - import-only live migration into a new image: prepare, execute, commit,
 * abort and the state of one (`rbd migration ... --import-only`). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rbdio/rbdio_internal.h"

/* librbd's progress callback, passed on to the caller's. */
typedef struct mig_progress {
    rbdio_progress_fn fn;
    void *arg;
} mig_progress;

static int on_progress(uint64_t done, uint64_t total, void *arg)
{
    mig_progress *p = arg;

    if (p->fn != NULL) {
        p->fn(done, total, p->arg);
    }
    return 0;
}

/* Open an ioctx on dest's pool and namespace (checked) and name it for messages. */
static int dest_ioctx(rbdio_cluster *c, const rbdio_spec *dest, rados_ioctx_t *io,
                      char *where, size_t wlen)
{
    int rc = rbdio_spec_ioctx(c, dest, io);

    if (rc < 0) {
        return rc;
    }
    rbdio_where(where, wlen, dest->pool, dest->ns, dest->image, NULL);
    rc = rbdio_ns_check(*io, dest->pool, dest->ns);
    if (rc < 0) {
        rados_ioctx_destroy(*io);
    }
    return rc;
}

int rbdio_migration_import(rbdio_cluster *c, const rbdio_spec *dest, const char *source_spec,
                           const rbdio_info *geom)
{
    char where[RBDIO_WHERE_MAX];
    rbd_image_options_t opts;
    rados_ioctx_t io;
    rbdio_call call;
    int rc = dest_ioctx(c, dest, &io, where, sizeof(where));

    if (rc < 0) {
        return rc;
    }
    rc = rbdio_geom_opts(geom, &opts, NULL);
    if (rc < 0) {
        rados_ioctx_destroy(io);
        return rc;
    }
    rbdio_call_begin(&call, "preparing the import into '%s'", where);
    rc = rbd_migration_prepare_import(source_spec, io, dest->image, opts);
    rc = rbdio_call_end(&call, c->op_timeout_s, rc);
    rbd_image_options_destroy(opts);
    rados_ioctx_destroy(io);
    if (rc == -EEXIST) {
        rbdio_errorf("image '%s' already exists", where);
    } else if (rc < 0) {
        rbdio_fail_call(&call, rc, "cannot prepare the import into '%s'", where);
    }
    return rc;
}

int rbdio_migration_execute(rbdio_cluster *c, const rbdio_spec *dest, rbdio_progress_fn fn,
                            void *arg)
{
    char where[RBDIO_WHERE_MAX];
    mig_progress p = { fn, arg };
    rados_ioctx_t io;
    int rc = dest_ioctx(c, dest, &io, where, sizeof(where));

    if (rc < 0) {
        return rc;
    }
    /* Not bounded by the call hooks: the copy takes as long as the image needs. */
    rc = rbd_migration_execute_with_progress(io, dest->image, on_progress, &p);
    rados_ioctx_destroy(io);
    if (rc < 0) {
        rbdio_fail(rc, "cannot copy the migration's source into '%s'", where);
    }
    return rc;
}

/* Commit (commit != 0) or abort the migration of dest. */
static int mig_end(rbdio_cluster *c, const rbdio_spec *dest, int commit)
{
    const char *verb = commit ? "commit" : "abort";
    char where[RBDIO_WHERE_MAX];
    mig_progress p = { NULL, NULL };
    rados_ioctx_t io;
    rbdio_call call;
    int rc = dest_ioctx(c, dest, &io, where, sizeof(where));

    if (rc < 0) {
        return rc;
    }
    rbdio_call_begin(&call, "%sing the migration of '%s'", verb, where);
    rc = commit ? rbd_migration_commit_with_progress(io, dest->image, on_progress, &p)
                : rbd_migration_abort_with_progress(io, dest->image, on_progress, &p);
    rc = rbdio_call_end(&call, c->op_timeout_s, rc);
    rados_ioctx_destroy(io);
    if (rc < 0) {
        rbdio_fail_call(&call, rc, "cannot %s the migration of '%s'", verb, where);
    }
    return rc;
}

int rbdio_migration_commit(rbdio_cluster *c, const rbdio_spec *dest)
{
    return mig_end(c, dest, 1);
}

int rbdio_migration_abort(rbdio_cluster *c, const rbdio_spec *dest)
{
    return mig_end(c, dest, 0);
}

/* A cursor over an encoded Ceph structure (little-endian). */
typedef struct dec {
    const unsigned char *p, *end;
    int bad;
} dec;

static uint64_t get_n(dec *d, size_t n)
{
    uint64_t v = 0;

    if (d->bad || (size_t)(d->end - d->p) < n) {
        d->bad = 1;
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        v |= (uint64_t)d->p[i] << (8 * i);
    }
    d->p += n;
    return v;
}

/* A string (le32 length, bytes) into out (n bytes; NULL: skipped). */
static void get_str(dec *d, char *out, size_t n)
{
    size_t l = (size_t)get_n(d, 4);

    if (d->bad || (size_t)(d->end - d->p) < l || (out != NULL && l >= n)) {
        d->bad = 1;
        return;
    }
    if (out != NULL) {
        memcpy(out, d->p, l);
        out[l] = '\0';
    }
    d->p += l;
}

static rbdio_mig_state mig_state(uint64_t s)
{
    switch (s) {
    case RBD_IMAGE_MIGRATION_STATE_PREPARING: return RBDIO_MIG_PREPARING;
    case RBD_IMAGE_MIGRATION_STATE_PREPARED: return RBDIO_MIG_PREPARED;
    case RBD_IMAGE_MIGRATION_STATE_EXECUTING: return RBDIO_MIG_EXECUTING;
    case RBD_IMAGE_MIGRATION_STATE_EXECUTED: return RBDIO_MIG_EXECUTED;
    case RBD_IMAGE_MIGRATION_STATE_ABORTING: return RBDIO_MIG_ABORTING;
    default: return RBDIO_MIG_ERROR;
    }
}

/* Decode a cls::rbd::MigrationSpec (Ceph's src/cls/rbd/cls_rbd_types.cc, versions 1 to 3):
 * struct_v, compat, le32 length; header_type u8, pool_id s64, pool_namespace, image_name,
 * image_id, snap_seqs (le32 count of u64 pairs), overlap u64, flatten u8, mirroring u8,
 * state u8, state_description; v2: mirror_image_mode u8; v3: source_spec. */
static int mig_decode(const unsigned char *v, size_t len, rbdio_migration *out)
{
    dec d = { v, v + len, 0 };
    unsigned ver = (unsigned)get_n(&d, 1);
    size_t body;

    get_n(&d, 1);
    body = (size_t)get_n(&d, 4);
    if (d.bad || body > (size_t)(d.end - d.p)) {
        return -EINVAL;
    }
    d.end = d.p + body;
    get_n(&d, 1 + 8);
    get_str(&d, NULL, 0);
    get_str(&d, NULL, 0);
    get_str(&d, NULL, 0);
    uint64_t nsnaps = get_n(&d, 4);
    for (uint64_t i = 0; i < nsnaps && !d.bad; i++) {
        get_n(&d, 16);
    }
    get_n(&d, 8 + 1 + 1);
    out->state = mig_state(get_n(&d, 1));
    get_str(&d, out->description, sizeof(out->description));
    if (ver >= 2) {
        get_n(&d, 1);
    }
    if (ver >= 3) {
        get_str(&d, out->source_spec, sizeof(out->source_spec));
    }
    return d.bad ? -EINVAL : 0;
}

/* The value of omap key of oid into *val (malloc'ed, *len bytes): 0, -ENOENT if the
 * object or the key is missing, another negative errno. */
static int omap_value(rados_ioctx_t io, const char *oid, const char *key, char **val,
                      size_t *len)
{
    const char *keys[1] = { key };
    rados_omap_iter_t it = NULL;
    int prval = 0;
    rados_read_op_t op = rados_create_read_op();

    *val = NULL;
    rados_read_op_omap_get_vals_by_keys(op, keys, 1, &it, &prval);
    int rc = rados_read_op_operate(op, io, oid, 0);
    if (rc == 0 && prval < 0) {
        rc = prval;
    }
    if (rc == 0) {
        char *k = NULL, *v = NULL;
        size_t vlen = 0;
        rc = rados_omap_get_next(it, &k, &v, &vlen);
        if (rc == 0 && k == NULL) {
            rc = -ENOENT;
        } else if (rc == 0 && (*val = malloc(vlen + 1)) == NULL) {
            rc = -ENOMEM;
        } else if (rc == 0) {
            memcpy(*val, v, vlen);
            *len = vlen;
        }
    }
    if (it != NULL) {
        rados_omap_get_end(it);
    }
    rados_release_read_op(op);
    return rc;
}

/* The id of image name (its object rbd_id.NAME: le32 length, the id) into id. */
static int image_id(rados_ioctx_t io, const char *name, char *id, size_t n)
{
    char oid[600], buf[256];
    int rc;

    snprintf(oid, sizeof(oid), "rbd_id.%s", name);
    rc = rados_read(io, oid, buf, sizeof(buf), 0);
    if (rc < 0) {
        return rc;
    }
    dec d = { (const unsigned char *)buf, (const unsigned char *)buf + rc, 0 };
    get_str(&d, id, n);
    return d.bad || id[0] == '\0' ? -EINVAL : 0;
}

/* librbd reads the migration state of an import's destination only by opening it, which
 * opens its source, which may be down (a killed restore --instant): the state is read
 * from the image header's "migration" key with librados instead. */
int rbdio_migration_get(rbdio_cluster *c, const rbdio_spec *dest, rbdio_migration *out)
{
    char where[RBDIO_WHERE_MAX], id[128], oid[160];
    rados_ioctx_t io;
    char *val = NULL;
    size_t len = 0;
    int rc = dest_ioctx(c, dest, &io, where, sizeof(where));

    memset(out, 0, sizeof(*out));
    if (rc < 0) {
        return rc;
    }
    rc = image_id(io, dest->image, id, sizeof(id));
    if (rc == 0) {
        snprintf(oid, sizeof(oid), "rbd_header.%s", id);
        rc = omap_value(io, oid, "migration", &val, &len);
        if (rc == -ENOENT) {
            rc = 0;             /* no migration key: not in a migration */
        } else if (rc == 0 && mig_decode((const unsigned char *)val, len, out) < 0) {
            memset(out, 0, sizeof(*out));
            rc = rbdio_fail(-EINVAL, "'%s': cannot decode its migration state", where);
        }
    }
    if (rc == -ENOENT) {
        rbdio_errorf("image '%s' does not exist", where);
    } else if (rc < 0 && rc != -EINVAL) {
        rbdio_fail(rc, "cannot read the migration state of '%s'", where);
    }
    free(val);
    rados_ioctx_destroy(io);
    return rc;
}
