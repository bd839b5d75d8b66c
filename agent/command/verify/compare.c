/* compare.c - verify --source: a backup's chain restored as a stream and compared, in a
 * thread, with the snapshot it was taken from. */
#include "agent/command/verify/verify.h"
#include "agent/repo/chain.h"
#include "agent/restore/apply.h"
#include "agent/restore/ordered.h"
#include "agent/restore/plan.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CMP_BLOCK (4u << 20)     /* bytes compared at a time */
#define CMP_READ (1u << 20)      /* one aio read of the source */

typedef struct cmp {
    int fd;                   /* read end of the pipe; -1 once closed */
    rbdio_image *img;
    uint64_t size;
    uint64_t pos;             /* bytes compared so far */
    int differs;              /* 1: the bytes differ from diff_off on */
    uint64_t diff_off;
    int short_stream;         /* the stream ended before the snapshot's size */
    int rc;                   /* < 0: reading the source failed (why in err) */
    char err[1024];
    unsigned char *got, *want;
} cmp;

/* Fill buf from the pipe; returns the byte count (short only at the end) or -errno. */
static ssize_t read_block(int fd, unsigned char *buf, size_t len)
{
    size_t got = 0;
    while (got < len) {
        ssize_t n = read(fd, buf + got, len - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        if (n == 0)
            break;
        got += (size_t)n;
    }
    return (ssize_t)got;
}

static int read_source(cmp *c, rbdio_aio *w, size_t len)
{
    for (size_t o = 0; o < len; o += CMP_READ) {
        size_t n = len - o < CMP_READ ? len - o : CMP_READ;
        int rc = rbdio_aio_read(w, c->pos + o, n, c->want + o, NULL, NULL);
        if (rc < 0)
            return rc;
    }
    return rbdio_aio_drain(w);
}

static void *cmp_main(void *arg)
{
    cmp *c = arg;
    rbdio_aio *w = NULL;
    int rc = rbdio_aio_new(c->img, CMP_BLOCK / CMP_READ, &w);
    while (rc == 0 && !c->differs) {
        ssize_t n = read_block(c->fd, c->got, CMP_BLOCK);
        if (n < 0) {
            rc = (int)n;
            break;
        }
        size_t len = (size_t)n;
        if (c->pos + len > c->size)
            len = (size_t)(c->size - c->pos);
        if (len > 0 && (rc = read_source(c, w, len)) < 0)
            break;
        for (size_t k = 0; k < len; k++)
            if (c->got[k] != c->want[k]) {
                c->differs = 1;
                c->diff_off = c->pos + k;
                break;
            }
        if (!c->differs && (size_t)n != len) {
            c->differs = 1;                       /* the stream is longer */
            c->diff_off = c->size;
        }
        c->pos += len;
        if (n == 0 || (size_t)n < CMP_BLOCK)
            break;
    }
    if (rc == 0 && !c->differs && c->pos < c->size)
        c->short_stream = 1;                      /* the writer stopped (or a short plan) */
    if (rc < 0) {
        c->rc = rc;
        snprintf(c->err, sizeof(c->err), "reading the source snapshot: %s",
                 rbdio_last_error()[0] ? rbdio_last_error() : strerror(-rc));
    }
    if (w != NULL)
        rbdio_aio_free(w);
    close(c->fd);                                 /* a writer still going gets EPIPE */
    c->fd = -1;
    return NULL;
}

/* Stream the merged chain into a pipe that a thread compares with the snapshot. Sets v->src[i]
 * or v->own[i]; -1 with the error recorded (an integrity error is damage). */
static int run_compare(verify_job *v, size_t i, cmp *c, walk_set *set)
{
    ag_ctx *ctx = v->ctx;
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) < 0)
        return ag_fail(ctx, AG_EFAIL, "pipe: %s", strerror(errno));
    c->fd = fds[0];
    fcntl(fds[1], F_SETPIPE_SZ, 1 << 20);        /* fewer wake-ups; best effort */
    pthread_t th;
    if (pthread_create(&th, NULL, cmp_main, c) != 0) {
        close(fds[0]);
        close(fds[1]);
        return ag_fail(ctx, AG_EFAIL, "cannot start a thread");
    }
    int rc = walk_ordered_fd(ctx, set, fds[1]);
    close(fds[1]);
    pthread_join(th, NULL);
    if (rc < 0 && (ctx->exit_code == AG_EINTEGRITY || c->short_stream))
        return -1;                /* a chunk failed its check, or S3 failed: not EPIPE */
    if (c->rc < 0) {
        verify_clear_error(ctx);  /* the writer's EPIPE */
        return ag_fail_rbd_why(ctx, c->rc, c->err);
    }
    if (c->differs) {
        verify_clear_error(ctx);
        v->own[i] = verify_fmt("the restored chain differs from the source snapshot %s at "
                               "offset %llu", v->cat.e[i].m.snap_name,
                               (unsigned long long)c->diff_off);
        return 0;
    }
    if (rc < 0)
        return -1;
    if (c->short_stream) {
        v->own[i] = verify_fmt("the restored chain ends at offset %llu, the source snapshot "
                               "%s is %llu bytes", (unsigned long long)c->pos,
                               v->cat.e[i].m.snap_name, (unsigned long long)c->size);
        return 0;
    }
    v->src[i] = SRC_SAME;
    return 0;
}

int verify_with_chain(verify_job *v, size_t i, verify_chain_fn fn, void *arg)
{
    ag_ctx *ctx = v->ctx;
    chain ch;
    if (chain_open(ctx, &v->cat, i, &ch) < 0)
        return verify_take_damage(ctx, &v->own[i]);
    walk_set set;
    int rc = walk_set_chain(ctx, &ch, 0, ch.n, &set);
    if (rc == 0)
        rc = fn(v, i, &set, arg);
    walk_set_free(&set);
    chain_free(&ch);
    return rc < 0 ? verify_take_damage(ctx, &v->own[i]) : 0;
}

static int stream_fn(verify_job *v, size_t i, walk_set *set, void *arg)
{
    cmp *c = arg;
    c->got = malloc(CMP_BLOCK);
    c->want = malloc(CMP_BLOCK);
    return c->got && c->want ? run_compare(v, i, c, set)
                             : ag_fail(v->ctx, AG_EFAIL, "out of memory");
}

/* The chain of entry i restored as a stream, compared with the snapshot open in img. */
static int stream_compare(verify_job *v, size_t i, rbdio_image *img, uint64_t snap_size)
{
    cmp c = { .fd = -1, .img = img, .size = snap_size };
    int rc = verify_with_chain(v, i, stream_fn, &c);
    free(c.got);
    free(c.want);
    return rc;
}

/* Compare entry i with its snapshot on the source image, if the snapshot still exists. */
int verify_source(verify_job *v, size_t i)
{
    ag_ctx *ctx = v->ctx;
    const cat_entry *e = &v->cat.e[i];
    rbdio_cluster *cl = ag_cluster(ctx);
    if (cl == NULL)
        return -1;
    rbdio_spec rs = { e->spec.pool, e->spec.ns, e->spec.image };
    rbdio_image *img = NULL;
    int rc = rbdio_open(cl, &rs, e->m.snap_name, &img);
    if (rc == -ENOENT) {
        v->src[i] = SRC_GONE;
        return 0;
    }
    char name[NAMING_SPEC_MAX], what[2200];
    naming_spec_str(&e->spec, name, sizeof(name));
    snprintf(what, sizeof(what), "%s@%s", name, e->m.snap_name);
    if (rc < 0)
        return ag_fail_rbd(ctx, rc, what);
    rbdio_info info;
    rc = rbdio_stat(img, &info);
    if (rc < 0) {
        rbdio_close(img);
        return ag_fail_rbd(ctx, rc, what);
    }
    ag_debug(ctx, "comparing %s with the restored chain", what);
    if (info.size != e->m.size)
        v->own[i] = verify_fmt("source snapshot %s is %llu bytes, the backup %llu",
                               e->m.snap_name, (unsigned long long)info.size,
                               (unsigned long long)e->m.size);
    else if (v->sample_ppm > 0)
        rc = verify_sample(v, i, img, what);
    else
        rc = stream_compare(v, i, img, info.size);
    rbdio_close(img);
    return rc;
}

