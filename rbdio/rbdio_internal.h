/* rbdio_internal.h - shared internals of rbdio/: handle layouts and error helpers. */
#ifndef RBD2S3_RBDIO_INTERNAL_H
#define RBD2S3_RBDIO_INTERNAL_H

#include <stdarg.h>
#include <time.h>
#include <rados/librados.h>
#include <rbd/librbd.h>

#include "rbdio/rbdio.h"

/* Longest "pool/namespace/image@snap" we print in messages (longer is truncated). */
#define RBDIO_WHERE_MAX 512

struct rbdio_cluster {
    rados_t rados;
    char *conf;                   /* path given to rbdio_connect, or NULL */
    char *id;                     /* cephx id without "client." */
    int op_timeout_s;             /* rados_osd_op_timeout of this handle */
};

struct rbdio_image {
    rbdio_cluster *c;
    rados_ioctx_t io;             /* owned: one ioctx per opened image */
    rbd_image_t rbd;
    char *snap;                   /* open snapshot, NULL for the head */
    char where[RBDIO_WHERE_MAX];  /* "pool[/ns]/image[@snap]" for messages */
};

/* A blocking management call in progress: the caller's hooks' token, when it began, and
 * what librbd returned before rbdio_call_end() read it. */
typedef struct rbdio_call {
    int token;
    struct timespec start;
    int librbd_rc;
} rbdio_call;

/* Tell the caller's hooks (rbdio_set_call_hooks) that a blocking call starts. */
void rbdio_call_begin(rbdio_call *call, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Tell the hooks that the call ended with rc, and return the rc to report: rc, except that
 * a failure other than -ETIMEDOUT after at least timeout_s seconds becomes -ETIMEDOUT.
 * librbd answers a lock request that the op timeout cancelled with -EROFS ("Read-only
 * file system", seen on a frozen OSD), which is the timeout and must read as one. */
int rbdio_call_end(rbdio_call *call, int timeout_s, int rc);
/* The rule of rbdio_call_end: the rc to report for rc after elapsed_s seconds. */
int rbdio_late_rc(int rc, double elapsed_s, int timeout_s);
/* As rbdio_fail(rc, ...), and when rbdio_call_end turned the call's failure into a
 * timeout, the text says so and keeps librbd's own error. */
int rbdio_fail_call(const rbdio_call *call, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Set the thread's last error text (printf-style). */
void rbdio_errorf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Set the last error to "<text>: <strerror(-rc)>" and return rc (a negative errno). */
int rbdio_fail(int rc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Thread-safe text of a negative (or positive) errno code. */
const char *rbdio_strerror(int rc, char *buf, size_t len);

/* NULL and "" both mean the default namespace. */
static inline int rbdio_ns_is_default(const char *ns)
{
    return ns == NULL || ns[0] == '\0';
}

/* Format "pool[/ns]/image[@snap]" into buf (image and snap may be NULL). */
void rbdio_where(char *buf, size_t len, const char *pool, const char *ns, const char *image,
                 const char *snap);

/* Create an ioctx on pool (and namespace). -ENOENT with a clear last error if the pool
 * is missing; the namespace is not checked here (see rbdio_ns_check). */
int rbdio_ioctx_open(rbdio_cluster *c, const char *pool, const char *ns, rados_ioctx_t *out);
/* Check that spec names an image (-EINVAL if not) and open an ioctx on its pool and
 * namespace (the namespace is not checked). */
int rbdio_spec_ioctx(rbdio_cluster *c, const rbdio_spec *spec, rados_ioctx_t *io);
/* The creation options of an image of geometry geom (its size aside): format 2, the
 * features rbd_create4 accepts, order and striping (default striping left out). *out is
 * freed by rbd_image_options_destroy; *features_out (may be NULL) gets the features set.
 * 0 or a negative errno. */
int rbdio_geom_opts(const rbdio_info *geom, rbd_image_options_t *out, uint64_t *features_out);
/* 0 if the namespace exists in io's pool (or is the default), -ENOENT if not. */
int rbdio_ns_check(rados_ioctx_t io, const char *pool, const char *ns);

#endif
