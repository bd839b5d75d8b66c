/* apply.c - restore execution: a plan's ranged GETs in flight, decompression and SHA-256
 * checks on worker threads, writes into an image (aio window) or a file. */
#include "agent/restore/apply.h"
#include "agent/format/chunk.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Records up to this far apart in a data object are fetched with one GET. */
#define GROUP_GAP (64u << 10)

typedef struct buf {
    unsigned char *data;
    size_t cap;
    int refs;
    int busy;
    const plan_group *g;
    struct ex *ex;
} buf;

typedef struct ex {
    ag_ctx *ctx;
    const plan *p;
    const apply_src *srcs;
    const apply_sink *sink;
    rbdio_aio *aio;
    pthread_mutex_t mu;
    pthread_cond_t cv;        /* buffers freed, work queued */
    buf *gets;                /* GET buffers */
    int ngets;
    buf *decs;                /* decompression buffers */
    int ndecs;
    buf **queue;              /* fetched groups waiting for a worker */
    size_t qhead, qtail, qcap;
    int quit;
    uint64_t done;            /* bytes of the plan written or skipped (progress) */
    uint64_t written;         /* bytes written (the progress line's rate) */
    int failed;
    int exit_code;
    char msg[1024];
    int stall_on;             /* RBD2S3_DEBUG_STALL_RESTORE: stop after the first write */
    int stalled;              /* under mu: a worker stopped */
} ex;

static void ex_fail(ex *x, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void ex_fail(ex *x, int code, const char *fmt, ...)
{
    pthread_mutex_lock(&x->mu);
    if (!x->failed) {
        x->failed = 1;
        x->exit_code = code;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(x->msg, sizeof(x->msg), fmt, ap);
        va_end(ap);
    }
    pthread_cond_broadcast(&x->cv);
    pthread_mutex_unlock(&x->mu);
}

/* Count n bytes of the plan as done; written: they were written, not skipped. */
static void ex_progress(ex *x, uint64_t n, int written)
{
    if (x->sink->prog == NULL || !x->sink->prog->on)
        return;                 /* no line to draw: no lock per piece */
    pthread_mutex_lock(&x->mu);
    x->done += n;
    if (written)
        x->written += n;
    progress_update(x->sink->prog, x->done, x->p->size, x->written);
    pthread_mutex_unlock(&x->mu);
}

static void unref(ex *x, buf *b)
{
    pthread_mutex_lock(&x->mu);
    if (--b->refs == 0) {
        b->busy = 0;
        pthread_cond_broadcast(&x->cv);
    }
    pthread_mutex_unlock(&x->mu);
}

static void on_write(ssize_t rc, void *arg)
{
    buf *b = arg;
    if (rc < 0)
        ex_fail(b->ex, AG_EFAIL, "writing the target: %s", strerror((int)-rc));
    unref(b->ex, b);
}

static int pwrite_all(int fd, const unsigned char *data, size_t len, uint64_t off)
{
    while (len > 0) {
        ssize_t n = pwrite(fd, data, len, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -errno;
        data += n;
        len -= (size_t)n;
        off += (uint64_t)n;
    }
    return 0;
}

/* Write [data, data+len) at off; b is referenced until the write completed. */
static int sink_write(ex *x, buf *b, const unsigned char *data, size_t len, uint64_t off)
{
    if (x->sink->img == NULL) {
        int rc = pwrite_all(x->sink->fd, data, len, off);
        if (rc < 0)
            ex_fail(x, AG_EFAIL, "writing the target file: %s", strerror(-rc));
        return rc;
    }
    pthread_mutex_lock(&x->mu);
    b->refs++;
    pthread_mutex_unlock(&x->mu);
    int rc = rbdio_aio_write(x->aio, off, len, data, on_write, b);
    if (rc < 0) {
        unref(x, b);
        ex_fail(x, AG_EFAIL, "writing the target image: %s", strerror(-rc));
    }
    return rc;
}

static buf *take_buf(ex *x, buf *pool, int n)
{
    pthread_mutex_lock(&x->mu);
    for (;;) {
        for (int i = 0; i < n; i++)
            if (!pool[i].busy) {
                pool[i].busy = 1;
                pool[i].refs = 1;
                pthread_mutex_unlock(&x->mu);
                return &pool[i];
            }
        if (x->failed) {
            pthread_mutex_unlock(&x->mu);
            return NULL;
        }
        pthread_cond_wait(&x->cv, &x->mu);
    }
}

/* The fault tests' hook: with RBD2S3_DEBUG_STALL_RESTORE set, the first worker to
 * have written a piece says so on stderr and waits for a signal (kill -9 ends it). */
static void maybe_stall(ex *x)
{
    pthread_mutex_lock(&x->mu);
    int me = !x->stalled;
    x->stalled = 1;
    pthread_mutex_unlock(&x->mu);
    if (!me)
        return;
    fputs("rbd2s3: debug: stalled after the first write\n", stderr);
    fflush(stderr);
    while (!ag_interrupted)
        sleep(1);
}

/* Decompress and check one record of a fetched group, then write its pieces. */
static int do_job(ex *x, buf *gb, const plan_job *job)
{
    const apply_src *s = &x->srcs[job->src];
    const index_rec *r = &s->recs[job->rec];
    const unsigned char *stored = gb->data + (r->pack_offset - gb->g->off);
    const unsigned char *data = NULL;
    buf *owner = gb;
    const char *key = s->m->objects[r->pack].key;
    if (!(r->flags & INDEX_FLAG_RAW) && (owner = take_buf(x, x->decs, x->ndecs)) == NULL)
        return -1;
    int rc = chunk_decode(r, stored, r->stored_length, owner->data, owner->cap, &data);
    if (rc < 0)
        ex_fail(x, AG_EINTEGRITY, "data object %s offset %llu: %s (image offset %llu)", key,
                (unsigned long long)r->pack_offset,
                rc == -EBADMSG ? "cannot decompress" : "checksum mismatch",
                (unsigned long long)r->offset);
    for (size_t i = 0; rc == 0 && i < job->count; i++) {
        const plan_piece *pc = &x->p->pieces[x->p->job_pieces[job->first + i]];
        rc = sink_write(x, owner, data + pc->src_off, pc->len, pc->dst_off);
        if (rc == 0)
            ex_progress(x, pc->len, 1);
        if (rc == 0 && x->stall_on)
            maybe_stall(x);
    }
    if (owner != gb)
        unref(x, owner);
    return rc;
}

static void *worker_main(void *arg)
{
    ex *x = arg;
    pthread_mutex_lock(&x->mu);
    for (;;) {
        while (x->qhead == x->qtail && !x->quit)
            pthread_cond_wait(&x->cv, &x->mu);
        if (x->qhead == x->qtail)
            break;
        buf *b = x->queue[x->qhead++ % x->qcap];
        int failed = x->failed;
        pthread_mutex_unlock(&x->mu);
        for (size_t j = 0; !failed && j < b->g->njobs; j++)
            if (do_job(x, b, &x->p->jobs[b->g->first_job + j]) < 0)
                break;
        unref(x, b);
        pthread_mutex_lock(&x->mu);
    }
    pthread_mutex_unlock(&x->mu);
    return NULL;
}

static void on_get(const s3_result *res, void *arg)
{
    buf *b = arg;
    ex *x = b->ex;
    if (res->rc < 0) {
        const apply_src *s = &x->srcs[b->g->src];
        char what[1200];
        snprintf(what, sizeof(what), "reading data object %s",
                 s->m->objects[b->g->pack].key);
        pthread_mutex_lock(&x->mu);
        if (!x->failed)
            ag_fail_s3(x->ctx, res->rc, res->err, what);
        x->failed = 1;
        b->busy = 0;
        pthread_cond_broadcast(&x->cv);
        pthread_mutex_unlock(&x->mu);
        return;
    }
    pthread_mutex_lock(&x->mu);
    x->queue[x->qtail++ % x->qcap] = b;
    pthread_cond_broadcast(&x->cv);
    pthread_mutex_unlock(&x->mu);
}

static buf *free_get(ex *x)
{
    for (int i = 0; i < x->ngets; i++)
        if (!x->gets[i].busy)
            return &x->gets[i];
    return NULL;
}

static int submit_group(ex *x, buf *b, const plan_group *g)
{
    const manifest *m = x->srcs[g->src].m;
    if (g->pack >= m->nobjects) {
        ex_fail(x, AG_EINTEGRITY, "backup %s: chunk index names data object %u, "
                "which the manifest does not list", m->id, g->pack);
        return -1;
    }
    b->busy = 1;
    b->refs = 1;
    b->g = g;
    int rc = s3_async_get_range(x->ctx->s3, m->objects[g->pack].key, g->off, g->len, b->data,
                                b->cap, on_get, b);
    if (rc < 0) {
        b->busy = 0;
        ag_fail_s3(x->ctx, rc, NULL, "reading a data object");
        x->failed = 1;
    }
    return rc;
}

static int all_idle(ex *x)
{
    for (int i = 0; i < x->ngets; i++)
        if (x->gets[i].busy)
            return 0;
    return 1;
}

/* The driving loop: keep GETs in flight until every group was fetched and processed. */
static void drive(ex *x)
{
    size_t next = 0;
    for (;;) {
        pthread_mutex_lock(&x->mu);
        buf *b = NULL;
        int stop = x->failed || ag_interrupted;
        while (!stop && next < x->p->ngroups && (b = free_get(x)) != NULL) {
            b->busy = 1;
            pthread_mutex_unlock(&x->mu);
            if (submit_group(x, b, &x->p->groups[next++]) < 0)
                stop = 1;
            pthread_mutex_lock(&x->mu);
        }
        int finished = next >= x->p->ngroups && all_idle(x);
        pthread_mutex_unlock(&x->mu);
        if (stop || finished)
            break;
        if (s3_async_pending(x->ctx->s3) > 0) {
            s3_async_run(x->ctx->s3, 5);
            continue;
        }
        pthread_mutex_lock(&x->mu);
        if (!x->failed && free_get(x) == NULL) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += 1;
            pthread_cond_timedwait(&x->cv, &x->mu, &ts);
        }
        pthread_mutex_unlock(&x->mu);
    }
    s3_async_drain(x->ctx->s3);
}

static int write_zeroes(ex *x)
{
    static const unsigned char zeros[1 << 16];
    for (size_t i = 0; i < x->p->npieces && !x->failed; i++) {
        const plan_piece *pc = &x->p->pieces[i];
        if (!pc->zero || (pc->zero == 2 && x->sink->keep_holes))
            continue;
        if (x->sink->img != NULL) {
            int rc = rbdio_aio_write_zeroes(x->aio, pc->dst_off, pc->len, NULL, NULL);
            if (rc < 0)
                ex_fail(x, AG_EFAIL, "zeroing the target: %s", strerror(-rc));
            ex_progress(x, pc->len, 1);
            continue;
        }
        for (uint64_t o = 0; o < pc->len && !x->failed; o += sizeof(zeros)) {
            uint64_t n = pc->len - o < sizeof(zeros) ? pc->len - o : sizeof(zeros);
            if (pwrite_all(x->sink->fd, zeros, n, pc->dst_off + o) < 0)
                ex_fail(x, AG_EFAIL, "writing the target file: %s",
                        strerror(errno));
        }
        ex_progress(x, pc->len, 1);
    }
    return x->failed ? -1 : 0;
}

static uint64_t max_record(const apply_src *srcs, const plan *p)
{
    uint64_t m = 1;
    for (size_t j = 0; j < p->njobs; j++) {
        const index_rec *r = &srcs[p->jobs[j].src].recs[p->jobs[j].rec];
        if (r->length > m)
            m = r->length;
    }
    return m;
}

static int alloc_pool(buf **pool, int n, size_t cap, ex *x)
{
    *pool = calloc((size_t)n, sizeof(**pool));
    if (*pool == NULL)
        return -ENOMEM;
    for (int i = 0; i < n; i++) {
        (*pool)[i].cap = cap;
        (*pool)[i].ex = x;
        if (((*pool)[i].data = malloc(cap ? cap : 1)) == NULL)
            return -ENOMEM;
    }
    return 0;
}

static void free_pool(buf *pool, int n)
{
    for (int i = 0; pool != NULL && i < n; i++)
        free(pool[i].data);
    free(pool);
}

static int setup(ex *x)
{
    const ag_tun *t = &x->ctx->opts.tun;
    pthread_mutex_init(&x->mu, NULL);
    pthread_cond_init(&x->cv, NULL);
    x->ngets = t->gets_in_flight;
    x->ndecs = 2 * t->threads + t->writes_in_flight;
    x->qcap = (size_t)x->ngets + 1;
    x->queue = calloc(x->qcap, sizeof(*x->queue));
    if (x->queue == NULL ||
        alloc_pool(&x->gets, x->ngets, x->p->max_group, x) < 0 ||
        alloc_pool(&x->decs, x->ndecs, max_record(x->srcs, x->p), x) < 0)
        return ag_fail(x->ctx, AG_EFAIL, "out of memory");
    if (x->sink->img != NULL) {
        int rc = rbdio_aio_new(x->sink->img, t->writes_in_flight, &x->aio);
        if (rc < 0)
            return ag_fail_rbd(x->ctx, rc, "aio window");
    }
    return 0;
}

static void teardown(ex *x)
{
    if (x->aio != NULL)
        rbdio_aio_free(x->aio);
    free_pool(x->gets, x->ngets);
    free_pool(x->decs, x->ndecs);
    free(x->queue);
    pthread_mutex_destroy(&x->mu);
    pthread_cond_destroy(&x->cv);
}

static int run_parallel(ex *x)
{
    int n = x->ctx->opts.tun.threads, started = 0;
    pthread_t *th = calloc((size_t)n, sizeof(*th));
    if (th == NULL)
        return ag_fail(x->ctx, AG_EFAIL, "out of memory");
    for (; started < n; started++)
        if (pthread_create(&th[started], NULL, worker_main, x) != 0)
            break;
    if (started == 0)
        x->failed = 1;
    else
        drive(x);
    pthread_mutex_lock(&x->mu);
    x->quit = 1;
    pthread_cond_broadcast(&x->cv);
    pthread_mutex_unlock(&x->mu);
    for (int i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    free(th);
    return 0;
}

/* Every record of src within its manifest's chunk size and data objects
 * (plan_check_src). */
static int check_src(ag_ctx *ctx, const apply_src *src, const plan_src *ps)
{
    const manifest *m = src->m;
    uint64_t *sizes = malloc((m->nobjects + 1) * sizeof(*sizes));
    if (sizes == NULL)
        return ag_fail(ctx, AG_EFAIL, "out of memory");
    for (size_t i = 0; i < m->nobjects; i++)
        sizes[i] = m->objects[i].size;
    size_t bad;
    int rc = plan_check_src(ps, m->chunk_size, sizes, m->nobjects, &bad);
    free(sizes);
    if (rc == 0)
        return 0;
    if (rc == -EINVAL)
        return ag_fail(ctx, AG_EINTEGRITY, "backup %s: chunk size %llu is out of bounds "
                       "(at most %llu)", m->id, (unsigned long long)m->chunk_size,
                       (unsigned long long)CHUNK_SIZE_MAX);
    const index_rec *r = &ps->recs[bad];
    if (rc == -E2BIG)
        return ag_fail(ctx, AG_EINTEGRITY, "backup %s: chunk index record at image offset "
                       "%llu is %llu bytes long, more than the chunk size %llu", m->id,
                       (unsigned long long)r->offset, (unsigned long long)r->length,
                       (unsigned long long)m->chunk_size);
    return ag_fail(ctx, AG_EINTEGRITY, "backup %s: chunk index record at image offset %llu "
                   "lies outside data object %lu of the manifest", m->id,
                   (unsigned long long)r->offset, (unsigned long)r->pack);
}

int apply_plan(ag_ctx *ctx, const apply_src *srcs, size_t n, plan *p)
{
    plan_src *ps = calloc(n ? n : 1, sizeof(*ps));
    if (ps == NULL)
        return ag_fail(ctx, AG_EFAIL, "out of memory");
    for (size_t i = 0; i < n; i++) {
        ps[i] = (plan_src){ srcs[i].recs, srcs[i].nrecs, srcs[i].m->size };
        if (check_src(ctx, &srcs[i], &ps[i]) < 0) {
            free(ps);
            return -1;
        }
    }
    int rc = plan_build(ps, n, ctx->opts.tun.fetch_size, GROUP_GAP, p);
    free(ps);
    return rc < 0 ? ag_fail(ctx, AG_EFAIL, "out of memory planning the restore") : 0;
}

int apply_restore(ag_ctx *ctx, const plan *p, const apply_src *srcs, const apply_sink *sink)
{
    ex x;
    memset(&x, 0, sizeof(x));
    x.ctx = ctx;
    x.p = p;
    x.srcs = srcs;
    x.sink = sink;
    x.stall_on = getenv("RBD2S3_DEBUG_STALL_RESTORE") != NULL;
    for (size_t i = 0; i < p->npieces; i++)      /* what is never written counts as done */
        if (p->pieces[i].zero && (sink->fresh || (p->pieces[i].zero == 2 && sink->keep_holes)))
            x.done += p->pieces[i].len;
    if (setup(&x) == 0 && (sink->fresh || write_zeroes(&x) == 0))
        run_parallel(&x);
    if (x.aio != NULL) {
        int rc = rbdio_aio_drain(x.aio);
        if (rc < 0)
            ex_fail(&x, AG_EFAIL, "writing the target image: %s", strerror(-rc));
    }
    if (x.failed && ctx->exit_code == AG_OK)
        ag_fail(ctx, x.exit_code ? x.exit_code : AG_EFAIL, "%s",
                x.msg[0] ? x.msg : "restore failed");
    if (ag_interrupted && ctx->exit_code == AG_OK)
        ag_fail(ctx, AG_EINTR, "interrupted");
    teardown(&x);
    return ctx->exit_code == AG_OK ? 0 : -1;
}
