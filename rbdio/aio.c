/* aio.c - bounded windows of aio reads, writes and write_zeroes on an image. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "rbdio/rbdio_internal.h"

enum aio_kind { AIO_READ, AIO_WRITE, AIO_WRITE_ZEROES };

static const char *const kind_names[] = { "read", "write", "write_zeroes" };

struct rbdio_aio {
    rbdio_image *img;
    int depth;
    int inflight;
    int first_err;            /* first negative rc since the last drain, or 0 */
    enum aio_kind err_kind;   /* ...and the operation that got it */
    uint64_t err_off;
    uint64_t err_len;
    pthread_mutex_t lock;
    pthread_cond_t cond;
};

/* One operation in flight: what the completion needs. */
typedef struct aio_op {
    rbdio_aio *w;
    enum aio_kind kind;
    uint64_t off;
    uint64_t len;
    void *buf;
    rbdio_aio_cb cb;
    void *arg;
} aio_op;

int rbdio_aio_new(rbdio_image *img, int depth, rbdio_aio **out)
{
    rbdio_aio *w;

    *out = NULL;
    if (depth < 1) {
        rbdio_errorf("aio window on '%s': depth %d must be at least 1", img->where, depth);
        return -EINVAL;
    }
    w = calloc(1, sizeof(*w));
    if (w == NULL) {
        return rbdio_fail(-ENOMEM, "aio window on '%s'", img->where);
    }
    w->img = img;
    w->depth = depth;
    if (pthread_mutex_init(&w->lock, NULL) != 0) {
        free(w);
        return rbdio_fail(-ENOMEM, "aio window on '%s'", img->where);
    }
    if (pthread_cond_init(&w->cond, NULL) != 0) {
        pthread_mutex_destroy(&w->lock);
        free(w);
        return rbdio_fail(-ENOMEM, "aio window on '%s'", img->where);
    }
    *out = w;
    return 0;
}

void rbdio_aio_free(rbdio_aio *w)
{
    if (w == NULL) {
        return;
    }
    rbdio_aio_drain(w);
    pthread_cond_destroy(&w->cond);
    pthread_mutex_destroy(&w->lock);
    free(w);
}

/* Runs on a librbd thread when an operation completes. */
static void on_complete(rbd_completion_t c, void *arg)
{
    aio_op *op = arg;
    rbdio_aio *w = op->w;
    ssize_t rc = rbd_aio_get_return_value(c);

    rbd_aio_release(c);
    if (rc >= 0 && op->kind != AIO_READ) {
        rc = (ssize_t)op->len;  /* librbd returns 0 for writes: report the byte count */
    }
    if (rc >= 0 && op->kind == AIO_READ && (uint64_t)rc < op->len) {
        /* short read at the end of the image: leave no stale bytes behind */
        memset((char *)op->buf + rc, 0, op->len - (uint64_t)rc);
    }
    if (rc < 0) {
        pthread_mutex_lock(&w->lock);
        if (w->first_err == 0) {
            w->first_err = (int)rc;
            w->err_kind = op->kind;
            w->err_off = op->off;
            w->err_len = op->len;
        }
        pthread_mutex_unlock(&w->lock);
    }
    if (op->cb) {
        op->cb(rc, op->arg);
    }
    free(op);
    /* Last touch of w: a drain may free it as soon as inflight reaches 0. */
    pthread_mutex_lock(&w->lock);
    w->inflight--;
    pthread_cond_broadcast(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

/* Wait for room in the window, then start one operation. */
static int submit(rbdio_aio *w, enum aio_kind kind, uint64_t off, uint64_t len, void *buf,
                  rbdio_aio_cb cb, void *arg)
{
    rbd_image_t rbd = w->img->rbd;
    rbd_completion_t c;
    aio_op *op;
    int rc;

    op = malloc(sizeof(*op));
    if (op == NULL) {
        return rbdio_fail(-ENOMEM, "aio %s on '%s'", kind_names[kind], w->img->where);
    }
    *op = (aio_op){ .w = w, .kind = kind, .off = off, .len = len, .buf = buf, .cb = cb,
                    .arg = arg };
    pthread_mutex_lock(&w->lock);
    while (w->inflight >= w->depth) {
        pthread_cond_wait(&w->cond, &w->lock);
    }
    w->inflight++;
    pthread_mutex_unlock(&w->lock);

    rc = rbd_aio_create_completion(op, on_complete, &c);
    if (rc == 0) {
        switch (kind) {
        case AIO_READ:
            rc = rbd_aio_read2(rbd, off, (size_t)len, buf, c,
                               LIBRADOS_OP_FLAG_FADVISE_SEQUENTIAL |
                               LIBRADOS_OP_FLAG_FADVISE_NOCACHE);
            break;
        case AIO_WRITE:
            rc = rbd_aio_write(rbd, off, (size_t)len, buf, c);
            break;
        case AIO_WRITE_ZEROES:
            rc = rbd_aio_write_zeroes(rbd, off, (size_t)len, c, 0, 0);
            break;
        }
        if (rc < 0) {
            rbd_aio_release(c);
        }
    }
    if (rc < 0) {
        free(op);
        pthread_mutex_lock(&w->lock);
        w->inflight--;
        pthread_cond_broadcast(&w->cond);
        pthread_mutex_unlock(&w->lock);
        return rbdio_fail(rc, "cannot start aio %s of %" PRIu64 " bytes at %" PRIu64 " on '%s'",
                          kind_names[kind], len, off, w->img->where);
    }
    return 0;
}

int rbdio_aio_read(rbdio_aio *w, uint64_t off, size_t len, void *buf, rbdio_aio_cb cb, void *arg)
{
    return submit(w, AIO_READ, off, len, buf, cb, arg);
}

int rbdio_aio_write(rbdio_aio *w, uint64_t off, size_t len, const void *buf, rbdio_aio_cb cb,
                    void *arg)
{
    /* The buffer is only read; the op struct is shared with reads. */
    return submit(w, AIO_WRITE, off, len, (void *)(uintptr_t)buf, cb, arg);
}

int rbdio_aio_write_zeroes(rbdio_aio *w, uint64_t off, uint64_t len, rbdio_aio_cb cb, void *arg)
{
    if (len > SIZE_MAX) {
        rbdio_errorf("aio write_zeroes of %" PRIu64 " bytes: too long", len);
        return -EINVAL;
    }
    return submit(w, AIO_WRITE_ZEROES, off, len, NULL, cb, arg);
}

int rbdio_aio_drain(rbdio_aio *w)
{
    int rc;

    pthread_mutex_lock(&w->lock);
    while (w->inflight > 0) {
        pthread_cond_wait(&w->cond, &w->lock);
    }
    rc = w->first_err;
    w->first_err = 0;
    pthread_mutex_unlock(&w->lock);
    if (rc < 0) {
        rbdio_fail(rc, "aio %s of %" PRIu64 " bytes at %" PRIu64 " on '%s' failed",
                   kind_names[w->err_kind], w->err_len, w->err_off, w->img->where);
    }
    return rc;
}
