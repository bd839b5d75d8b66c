/* rbdio_internal.h - shared internals of rbdio/: handle layouts and error helpers. */
#ifndef RBD2S3_RBDIO_INTERNAL_H
#define RBD2S3_RBDIO_INTERNAL_H

#include <stdarg.h>
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

/* Tell the caller's hooks (rbdio_set_call_hooks) that a blocking call starts / ended. */
int rbdio_call_begin(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void rbdio_call_end(int token);

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
/* 0 if the namespace exists in io's pool (or is the default), -ENOENT if not. */
int rbdio_ns_check(rados_ioctx_t io, const char *pool, const char *ns);

#endif
