/* cluster.c - connect to a Ceph cluster, check pools and namespaces, open ioctxs. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rbdio/rbdio_internal.h"

#define RBDIO_DEFAULT_TIMEOUT_S 30

/* Bound of one OSD operation for every later connect; 0: ten times the connect timeout. */
static int op_timeout_default;

void rbdio_set_op_timeout(int op_timeout_s)
{
    op_timeout_default = op_timeout_s > 0 ? op_timeout_s : 0;
}

static rbdio_call_begin_fn call_begin;
static rbdio_call_end_fn call_end;

void rbdio_set_call_hooks(rbdio_call_begin_fn begin, rbdio_call_end_fn end)
{
    call_begin = begin;
    call_end = end;
}

void rbdio_call_begin(rbdio_call *call, const char *fmt, ...)
{
    char what[600];
    va_list ap;

    clock_gettime(CLOCK_MONOTONIC, &call->start);
    call->librbd_rc = 0;
    call->token = -1;
    if (call_begin == NULL) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    call->token = call_begin(what);
}

int rbdio_late_rc(int rc, double elapsed_s, int timeout_s)
{
    if (rc < 0 && rc != -ETIMEDOUT && timeout_s > 0 && elapsed_s >= timeout_s) {
        return -ETIMEDOUT;
    }
    return rc;
}

int rbdio_call_end(rbdio_call *call, int timeout_s, int rc)
{
    struct timespec now;

    if (call_end != NULL) {
        call_end(call->token);
    }
    clock_gettime(CLOCK_MONOTONIC, &now);
    call->librbd_rc = rc;
    return rbdio_late_rc(rc, (double)(now.tv_sec - call->start.tv_sec) +
                         (now.tv_nsec - call->start.tv_nsec) / 1e9, timeout_s);
}

/* Set a config option; librados rejects only unknown names and bad values. */
static int conf_set(rbdio_cluster *c, const char *what, const char *option, const char *value)
{
    int rc = rados_conf_set(c->rados, option, value);

    if (rc < 0) {
        return rbdio_fail(rc, "cannot connect to cluster (conf %s): cannot set %s=%s", what,
                          option, value);
    }
    return 0;
}

/* Configure the handle: quiet logging, the conf file, CEPH_ARGS, the timeouts. The op
 * timeout covers librbd's I/O too: librbd's neorados shares the handle's Objecter, whose
 * timer cancels an op with -ETIMEDOUT (measured: an aio read, a lock and a snapshot
 * removal on a frozen OSD each fail after the timeout). */
static int configure(rbdio_cluster *c, const char *what, int timeout_s)
{
    static const char *const timeouts[] = {
        "client_mount_timeout", "rados_mon_op_timeout",
    };
    char secs[16];
    int rc;

    /* Defaults the conf file may override: errors reach the user through us, once. */
    rc = conf_set(c, what, "log_to_stderr", "false");
    if (rc == 0) {
        rc = conf_set(c, what, "err_to_stderr", "false");
    }
    if (rc < 0) {
        return rc;
    }
    rc = rados_conf_read_file(c->rados, c->conf);
    if (rc < 0) {
        return rbdio_fail(rc, "cannot connect to cluster (conf %s): cannot read it", what);
    }
    rc = rados_conf_parse_env(c->rados, NULL);
    if (rc < 0) {
        return rbdio_fail(rc, "cannot connect to cluster (conf %s): bad CEPH_ARGS", what);
    }
    /* Set last, so that an unreachable cluster fails in bounded time whatever the file
     * says. An OSD op may legitimately take longer (recovery, peering): it gets ten
     * times the connect timeout before the backup gives up. */
    snprintf(secs, sizeof(secs), "%d", timeout_s);
    for (size_t i = 0; i < sizeof(timeouts) / sizeof(timeouts[0]); i++) {
        rc = conf_set(c, what, timeouts[i], secs);
        if (rc < 0) {
            return rc;
        }
    }
    snprintf(secs, sizeof(secs), "%d", c->op_timeout_s);
    rc = conf_set(c, what, "rados_osd_op_timeout", secs);
    /* Backup and restore stream each byte once: librbd's cache would only add a copy
     * and memory, and its readahead would read what the diff did not ask for. */
    if (rc == 0) {
        rc = conf_set(c, what, "rbd_cache", "false");
    }
    return rc;
}

int rbdio_connect(const char *conf, const char *id, int timeout_s, rbdio_cluster **out)
{
    const char *what = conf ? conf : "default search path";
    char name[160];
    rbdio_cluster *c;
    int rc;

    *out = NULL;
    if (id == NULL || id[0] == '\0') {
        id = "admin";
    }
    if (strncmp(id, "client.", 7) == 0) {
        id += 7;
    }
    if (timeout_s <= 0) {
        timeout_s = RBDIO_DEFAULT_TIMEOUT_S;
    }
    if (op_timeout_default > 0 && timeout_s > op_timeout_default) {
        timeout_s = op_timeout_default;   /* a mon op is bounded no longer than an OSD op */
    }
    if ((size_t)snprintf(name, sizeof(name), "client.%s", id) >= sizeof(name)) {
        rbdio_errorf("cannot connect to cluster (conf %s): cephx id too long", what);
        return -EINVAL;
    }
    c = calloc(1, sizeof(*c));
    if (c == NULL) {
        return rbdio_fail(-ENOMEM, "cannot connect to cluster (conf %s)", what);
    }
    c->op_timeout_s = op_timeout_default > 0 ? op_timeout_default : timeout_s * 10;
    c->conf = conf ? strdup(conf) : NULL;
    c->id = strdup(id);
    if ((conf && c->conf == NULL) || c->id == NULL) {
        rc = rbdio_fail(-ENOMEM, "cannot connect to cluster (conf %s)", what);
        goto fail;
    }
    rc = rados_create2(&c->rados, "ceph", name, 0);
    if (rc < 0) {
        c->rados = NULL;
        rc = rbdio_fail(rc, "cannot connect to cluster (conf %s): cannot create a handle for %s",
                        what, name);
        goto fail;
    }
    rc = configure(c, what, timeout_s);
    if (rc < 0) {
        goto fail;
    }
    rc = rados_connect(c->rados);
    if (rc < 0) {
        rc = rbdio_fail(rc, "cannot connect to cluster (conf %s, id %s, timeout %d s)", what,
                        name, timeout_s);
        goto fail;
    }
    *out = c;
    return 0;

fail:
    rbdio_disconnect(c);
    return rc;
}

void rbdio_disconnect(rbdio_cluster *c)
{
    if (c == NULL) {
        return;
    }
    if (c->rados) {
        rados_shutdown(c->rados);
    }
    free(c->conf);
    free(c->id);
    free(c);
}

int rbdio_ioctx_open(rbdio_cluster *c, const char *pool, const char *ns, rados_ioctx_t *out)
{
    rados_ioctx_t io;
    int rc;

    *out = NULL;
    if (pool == NULL || pool[0] == '\0') {
        rbdio_errorf("no pool given");
        return -EINVAL;
    }
    rc = rados_ioctx_create(c->rados, pool, &io);
    if (rc == -ENOENT) {
        rbdio_errorf("pool '%s' does not exist", pool);
        return rc;
    }
    if (rc < 0) {
        return rbdio_fail(rc, "cannot open pool '%s'", pool);
    }
    if (!rbdio_ns_is_default(ns)) {
        rados_ioctx_set_namespace(io, ns);
    }
    *out = io;
    return 0;
}

int rbdio_ns_check(rados_ioctx_t io, const char *pool, const char *ns)
{
    bool exists = false;
    int rc;

    if (rbdio_ns_is_default(ns)) {
        return 0;
    }
    rc = rbd_namespace_exists(io, ns, &exists);
    if (rc < 0) {
        return rbdio_fail(rc, "cannot check namespace '%s' in pool '%s'", ns, pool);
    }
    if (!exists) {
        rbdio_errorf("namespace '%s' does not exist in pool '%s'", ns, pool);
        return -ENOENT;
    }
    return 0;
}

int rbdio_pool_check(rbdio_cluster *c, const char *pool, const char *ns)
{
    rados_ioctx_t io;
    int rc;

    rc = rbdio_ioctx_open(c, pool, ns, &io);
    if (rc < 0) {
        return rc;
    }
    rc = rbdio_ns_check(io, pool, ns);
    rados_ioctx_destroy(io);
    return rc;
}
