/* migrate.c - import-only live migration into a new image: prepare, execute, commit,
 * abort and the state of one (`rbd migration ... --import-only`). */
#include <errno.h>
#include <stdio.h>
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

static rbdio_mig_state mig_state(rbd_image_migration_state_t s)
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

/* The source spec of an image in a migration into out ("" when it has none). */
static int source_spec(rados_ioctx_t io, const char *image, const char *where, char *out,
                       size_t len)
{
    rbd_image_t rbd;
    size_t n = len;
    int rc = rbd_open_read_only(io, image, &rbd, NULL);

    out[0] = '\0';
    if (rc == 0) {
        rc = rbd_get_migration_source_spec(rbd, out, &n);
        rbd_close(rbd);
    }
    if (rc == -ERANGE) {
        return rbdio_fail(rc, "the migration source of '%s' is over %zu bytes", where, len);
    }
    if (rc < 0) {
        out[0] = '\0';
        return rbdio_fail(rc, "cannot read the migration source of '%s'", where);
    }
    return 0;
}

int rbdio_migration_get(rbdio_cluster *c, const rbdio_spec *dest, rbdio_migration *out)
{
    char where[RBDIO_WHERE_MAX];
    rbd_image_migration_status_t st;
    rados_ioctx_t io;
    int rc = dest_ioctx(c, dest, &io, where, sizeof(where));

    memset(out, 0, sizeof(*out));
    if (rc < 0) {
        return rc;
    }
    rc = rbd_migration_status(io, dest->image, &st, sizeof(st));
    if (rc == 0) {
        out->state = mig_state(st.state);
        snprintf(out->description, sizeof(out->description), "%s",
                 st.state_description ? st.state_description : "");
        rbd_migration_status_cleanup(&st);
        rc = source_spec(io, dest->image, where, out->source_spec, sizeof(out->source_spec));
    } else if (rc == -EINVAL) {
        rc = 0;                 /* librbd's answer for an image not in a migration */
    } else if (rc == -ENOENT) {
        rbdio_errorf("image '%s' does not exist", where);
    } else {
        rbdio_fail(rc, "cannot read the migration state of '%s'", where);
    }
    rados_ioctx_destroy(io);
    return rc;
}
