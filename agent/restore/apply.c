/* apply.c - restore execution: a plan's ranged GETs in flight, decompression and SHA-256
 * checks on worker threads, writes into an image (aio window) or a file. */
#include "agent/restore/apply.h"
#include "agent/repo/asof.h"
#include "agent/format/chunk.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* A buffer of one of the run's pools (GETs, decompression): busy from its taking until
 * the last reference (its writes in flight) is dropped. */
typedef struct pool_buf {
    unsigned char *data;
    size_t cap;
    int refs;
    int busy;
    const plan_group *g;
    struct apply_run *run;
} pool_buf;

/* The state of one apply_restore: the pools, the queue of fetched groups and the
 * first failure, shared by the driving thread, the workers and the aio callbacks. */
typedef struct apply_run {
    ag_ctx *ctx;
    const plan *p;
    const apply_src *srcs;
    const apply_sink *sink;
    rbdio_aio *aio;
    pthread_mutex_t mu;
    pthread_cond_t cv;        /* buffers freed, work queued */
    pool_buf *gets;           /* GET buffers */
    int ngets;
    pool_buf *decs;           /* decompression buffers */
    int ndecs;
    size_t get_cap, dec_cap;  /* their sizes (grown between windows as needed) */
    pthread_t *th;            /* the workers, started by apply_open */
    int started;
    pool_buf **queue;         /* fetched groups waiting for a worker */
    size_t qhead, qtail, qcap;
    int quit;
    uint64_t total;           /* bytes the plan's pieces cover (progress) */
    uint64_t done;            /* bytes of the plan written or skipped (progress) */
    uint64_t written;         /* bytes written (the progress line's rate) */
    int failed;
    int exit_code;
    char msg[1024];
    int stall_on;             /* RBD2S3_DEBUG_STALL_RESTORE: stop after the first write */
    int stalled;              /* under mu: a worker stopped */
} apply_run;

static void run_fail(apply_run *run, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void run_fail(apply_run *run, int code, const char *fmt, ...)
{
    pthread_mutex_lock(&run->mu);
    if (!run->failed) {
        run->failed = 1;
        run->exit_code = code;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(run->msg, sizeof(run->msg), fmt, ap);
        va_end(ap);
    }
    pthread_cond_broadcast(&run->cv);
    pthread_mutex_unlock(&run->mu);
}

/* Count n bytes of the plan as done; written: they were written, not skipped. */
static void run_progress(apply_run *run, uint64_t n, int written)
{
    if (run->sink->prog == NULL || !run->sink->prog->on)
        return;                 /* no line to draw: no lock per piece */
    pthread_mutex_lock(&run->mu);
    run->done += n;
    if (written)
        run->written += n;
    progress_update(run->sink->prog, run->done, run->total, run->written);
    pthread_mutex_unlock(&run->mu);
}

static void unref(apply_run *run, pool_buf *b)
{
    pthread_mutex_lock(&run->mu);
    if (--b->refs == 0) {
        b->busy = 0;
        pthread_cond_broadcast(&run->cv);
    }
    pthread_mutex_unlock(&run->mu);
}

static void on_write(ssize_t rc, void *arg)
{
    pool_buf *b = arg;
    if (rc < 0)
        run_fail(b->run, AG_EFAIL, "writing the target: %s", strerror((int)-rc));
    unref(b->run, b);
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
static int sink_write(apply_run *run, pool_buf *b, const unsigned char *data, size_t len,
                      uint64_t off)
{
    if (run->sink->img == NULL) {
        int rc = pwrite_all(run->sink->fd, data, len, off);
        if (rc < 0)
            run_fail(run, AG_EFAIL, "writing the target file: %s", strerror(-rc));
        return rc;
    }
    pthread_mutex_lock(&run->mu);
    b->refs++;
    pthread_mutex_unlock(&run->mu);
    int rc = rbdio_aio_write(run->aio, off, len, data, on_write, b);
    if (rc < 0) {
        unref(run, b);
        run_fail(run, AG_EFAIL, "writing the target image: %s", strerror(-rc));
    }
    return rc;
}

static pool_buf *take_buf(apply_run *run, pool_buf *pool, int n)
{
    pthread_mutex_lock(&run->mu);
    for (;;) {
        for (int i = 0; i < n; i++)
            if (!pool[i].busy) {
                pool[i].busy = 1;
                pool[i].refs = 1;
                pthread_mutex_unlock(&run->mu);
                return &pool[i];
            }
        if (run->failed) {
            pthread_mutex_unlock(&run->mu);
            return NULL;
        }
        pthread_cond_wait(&run->cv, &run->mu);
    }
}

/* The fault tests' hook: with RBD2S3_DEBUG_STALL_RESTORE set, the first worker to
 * have written a piece says so on stderr and waits for a signal (kill -9 ends it). */
static void maybe_stall(apply_run *run)
{
    pthread_mutex_lock(&run->mu);
    int me = !run->stalled;
    run->stalled = 1;
    pthread_mutex_unlock(&run->mu);
    if (!me)
        return;
    fputs("rbd2s3: debug: stalled after the first write\n", stderr);
    fflush(stderr);
    while (!ag_interrupted)
        sleep(1);
}

/* Decompress and check one record of a fetched group, then write its pieces. */
static int do_job(apply_run *run, pool_buf *gb, const plan_job *job)
{
    const apply_src *s = &run->srcs[job->src];
    const index_rec *r = &s->recs[job->rec];
    unsigned char *stored = gb->data + (r->obj_offset - gb->g->off);
    const unsigned char *data = NULL;
    pool_buf *owner = gb;
    const char *key = s->m->objects[r->obj].key;
    chunk_owner co = { s->dk, s->m->id, s->m->image_id };
    if (!(r->flags & INDEX_FLAG_RAW) && (owner = take_buf(run, run->decs, run->ndecs)) == NULL)
        return -1;
    /* a sealed record opens in place: a group's records never overlap (plan.c) */
    int rc = chunk_read(&co, r, stored, r->stored_length, owner->data, owner->cap, &data);
    if (rc < 0)
        run_fail(run, rc == -ENOKEY ? AG_EKEY : AG_EINTEGRITY,
                 "data object %s offset %llu: %s (image offset %llu)", key,
                 (unsigned long long)r->obj_offset, chunk_read_error(rc),
                 (unsigned long long)r->offset);
    for (size_t i = 0; rc == 0 && i < job->count; i++) {
        const plan_piece *pc = &run->p->pieces[run->p->job_pieces[job->first + i]];
        rc = sink_write(run, owner, data + pc->src_off, pc->len, pc->dst_off);
        if (rc == 0)
            run_progress(run, pc->len, 1);
        if (rc == 0 && run->stall_on)
            maybe_stall(run);
    }
    if (owner != gb)
        unref(run, owner);
    return rc;
}

static void *worker_main(void *arg)
{
    apply_run *run = arg;
    pthread_mutex_lock(&run->mu);
    for (;;) {
        while (run->qhead == run->qtail && !run->quit)
            pthread_cond_wait(&run->cv, &run->mu);
        if (run->qhead == run->qtail)
            break;
        pool_buf *b = run->queue[run->qhead++ % run->qcap];
        int failed = run->failed;
        pthread_mutex_unlock(&run->mu);
        for (size_t j = 0; !failed && j < b->g->njobs; j++)
            if (do_job(run, b, &run->p->jobs[b->g->first_job + j]) < 0)
                break;
        unref(run, b);
        pthread_mutex_lock(&run->mu);
    }
    pthread_mutex_unlock(&run->mu);
    return NULL;
}

static void on_get(const s3_result *res, void *arg)
{
    pool_buf *b = arg;
    apply_run *run = b->run;
    if (res->rc < 0) {
        const apply_src *s = &run->srcs[b->g->src];
        char what[1200];
        snprintf(what, sizeof(what), "reading data object %s",
                 s->m->objects[b->g->obj].key);
        pthread_mutex_lock(&run->mu);
        if (!run->failed)
            ag_fail_s3(run->ctx, res->rc, res->err, what);
        run->failed = 1;
        b->busy = 0;
        pthread_cond_broadcast(&run->cv);
        pthread_mutex_unlock(&run->mu);
        return;
    }
    pthread_mutex_lock(&run->mu);
    run->queue[run->qtail++ % run->qcap] = b;
    pthread_cond_broadcast(&run->cv);
    pthread_mutex_unlock(&run->mu);
}

static pool_buf *free_get(apply_run *run)
{
    for (int i = 0; i < run->ngets; i++)
        if (!run->gets[i].busy)
            return &run->gets[i];
    return NULL;
}

static int submit_group(apply_run *run, pool_buf *b, const plan_group *g)
{
    const manifest *m = run->srcs[g->src].m;
    if (g->obj >= m->nobjects) {
        run_fail(run, AG_EINTEGRITY, "backup %s: chunk index names data object %u, "
                 "which the manifest does not list", m->id, g->obj);
        return -1;
    }
    b->busy = 1;
    b->refs = 1;
    b->g = g;
    int rc = asof_get_range(run->ctx, m->objects[g->obj].key, g->off, g->len, b->data,
                            b->cap, on_get, b);
    if (rc < 0) {
        b->busy = 0;
        ag_fail_s3(run->ctx, rc, NULL, "reading a data object");
        run->failed = 1;
    }
    return rc;
}

static int all_idle(apply_run *run)
{
    for (int i = 0; i < run->ngets; i++)
        if (run->gets[i].busy)
            return 0;
    return 1;
}

/* The driving loop: keep GETs in flight until every group was fetched and processed. */
static void drive(apply_run *run)
{
    size_t next = 0;
    for (;;) {
        pthread_mutex_lock(&run->mu);
        pool_buf *b = NULL;
        int stop = run->failed || ag_interrupted;
        while (!stop && next < run->p->ngroups && (b = free_get(run)) != NULL) {
            b->busy = 1;
            pthread_mutex_unlock(&run->mu);
            if (submit_group(run, b, &run->p->groups[next++]) < 0)
                stop = 1;
            pthread_mutex_lock(&run->mu);
        }
        int finished = next >= run->p->ngroups && all_idle(run);
        pthread_mutex_unlock(&run->mu);
        if (stop || finished)
            break;
        if (s3_async_pending(run->ctx->s3) > 0) {
            s3_async_run(run->ctx->s3, 5);
            continue;
        }
        pthread_mutex_lock(&run->mu);
        if (!run->failed && free_get(run) == NULL) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += 1;
            pthread_cond_timedwait(&run->cv, &run->mu, &ts);
        }
        pthread_mutex_unlock(&run->mu);
    }
    s3_async_drain(run->ctx->s3);
}

static int write_zeroes(apply_run *run)
{
    static const unsigned char zeros[1 << 16];
    for (size_t i = 0; i < run->p->npieces && !run->failed; i++) {
        const plan_piece *pc = &run->p->pieces[i];
        if (!pc->zero || (pc->zero == 2 && run->sink->keep_holes))
            continue;
        if (run->sink->img != NULL) {
            int rc = rbdio_aio_write_zeroes(run->aio, pc->dst_off, pc->len, NULL, NULL);
            if (rc < 0)
                run_fail(run, AG_EFAIL, "zeroing the target: %s", strerror(-rc));
            run_progress(run, pc->len, 1);
            continue;
        }
        for (uint64_t o = 0; o < pc->len && !run->failed; o += sizeof(zeros)) {
            uint64_t n = pc->len - o < sizeof(zeros) ? pc->len - o : sizeof(zeros);
            if (pwrite_all(run->sink->fd, zeros, n, pc->dst_off + o) < 0)
                run_fail(run, AG_EFAIL, "writing the target file: %s",
                         strerror(errno));
        }
        run_progress(run, pc->len, 1);
    }
    return run->failed ? -1 : 0;
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

static int alloc_pool(pool_buf **pool, int n, size_t cap, apply_run *run)
{
    *pool = calloc((size_t)n, sizeof(**pool));
    if (*pool == NULL)
        return -ENOMEM;
    for (int i = 0; i < n; i++) {
        (*pool)[i].cap = cap;
        (*pool)[i].run = run;
        if (((*pool)[i].data = malloc(cap ? cap : 1)) == NULL)
            return -ENOMEM;
    }
    return 0;
}

static void free_pool(pool_buf *pool, int n)
{
    for (int i = 0; pool != NULL && i < n; i++)
        free(pool[i].data);
    free(pool);
}

/* Pools big enough for plan p: buffers grow between windows, once the writes of the
 * last window are done (every buffer idle). */
static int ensure_pools(apply_run *run)
{
    size_t get = run->p->max_group, dec = max_record(run->srcs, run->p);
    if (run->gets != NULL && run->get_cap >= get && run->dec_cap >= dec)
        return 0;
    if (run->aio != NULL && run->gets != NULL) {
        int rc = rbdio_aio_drain(run->aio);
        if (rc < 0)
            return ag_fail(run->ctx, AG_EFAIL, "writing the target image: %s", strerror(-rc));
    }
    get = get > run->get_cap ? get : run->get_cap;
    dec = dec > run->dec_cap ? dec : run->dec_cap;
    free_pool(run->gets, run->ngets);
    free_pool(run->decs, run->ndecs);
    run->gets = run->decs = NULL;
    if (alloc_pool(&run->gets, run->ngets, get, run) < 0 ||
        alloc_pool(&run->decs, run->ndecs, dec, run) < 0)
        return ag_fail(run->ctx, AG_EFAIL, "out of memory");
    run->get_cap = get;
    run->dec_cap = dec;
    return 0;
}

static int setup(apply_run *run)
{
    const ag_tun *t = &run->ctx->opts.tun;
    run->ngets = t->gets_in_flight;
    run->ndecs = 2 * t->threads + t->writes_in_flight;
    run->qcap = (size_t)run->ngets + 1;
    run->queue = calloc(run->qcap, sizeof(*run->queue));
    if (run->queue == NULL)
        return ag_fail(run->ctx, AG_EFAIL, "out of memory");
    if (run->sink->img != NULL) {
        int rc = rbdio_aio_new(run->sink->img, t->writes_in_flight, &run->aio);
        if (rc < 0)
            return ag_fail_rbd(run->ctx, rc, "aio window");
    }
    return 0;
}

static void teardown(apply_run *run)
{
    if (run->aio != NULL)
        rbdio_aio_free(run->aio);
    free_pool(run->gets, run->ngets);
    free_pool(run->decs, run->ndecs);
    free(run->queue);
    pthread_mutex_destroy(&run->mu);
    pthread_cond_destroy(&run->cv);
}

static void start_workers(apply_run *run)
{
    int n = run->ctx->opts.tun.threads;
    run->th = calloc((size_t)n, sizeof(*run->th));
    for (; run->th != NULL && run->started < n; run->started++)
        if (pthread_create(&run->th[run->started], NULL, worker_main, run) != 0)
            break;
    if (run->started == 0)
        run_fail(run, AG_EFAIL, "cannot start a thread");
}

static void stop_workers(apply_run *run)
{
    pthread_mutex_lock(&run->mu);
    run->quit = 1;
    pthread_cond_broadcast(&run->cv);
    pthread_mutex_unlock(&run->mu);
    for (int i = 0; i < run->started; i++)
        pthread_join(run->th[i], NULL);
    free(run->th);
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
                   (unsigned long long)r->offset, (unsigned long)r->obj);
}

apply_src *apply_sources(ag_ctx *ctx, const chain *ch, size_t first, size_t n)
{
    apply_src *xs = calloc(n ? n : 1, sizeof(*xs));
    if (xs == NULL) {
        ag_fail(ctx, AG_EFAIL, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        xs[i] = (apply_src){ ch->v[first + i].m, ch->v[first + i].dk, ch->v[first + i].recs,
                             ch->v[first + i].nrecs };
    return xs;
}

int apply_check(ag_ctx *ctx, const apply_src *src)
{
    plan_src ps = { src->recs, src->nrecs, src->m->size };
    return check_src(ctx, src, &ps);
}

int apply_plan(ag_ctx *ctx, const apply_src *srcs, size_t n, plan *p)
{
    return apply_plan_within(ctx, srcs, n, NULL, 0, p);
}

int apply_plan_within(ag_ctx *ctx, const apply_src *srcs, size_t n, const plan_range *ranges,
                      size_t nr, plan *p)
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
    int rc = plan_build_within(ps, n, ranges, nr, ctx->opts.tun.fetch_size, APPLY_GROUP_GAP, p);
    free(ps);
    return rc < 0 ? ag_fail(ctx, AG_EFAIL, "out of memory planning the restore") : 0;
}

/* Wait until the workers are done with the window's groups (drive stops early after a
 * failure): the caller frees the plan next. */
static void settle(apply_run *run)
{
    pthread_mutex_lock(&run->mu);
    while (run->qhead != run->qtail || !all_idle(run))
        pthread_cond_wait(&run->cv, &run->mu);
    pthread_mutex_unlock(&run->mu);
}

int apply_open(ag_ctx *ctx, const apply_sink *sink, uint64_t total, apply_run **out)
{
    apply_run *run = calloc(1, sizeof(*run));
    *out = run;
    if (run == NULL)
        return ag_fail(ctx, AG_EFAIL, "out of memory");
    run->ctx = ctx;
    run->sink = sink;
    run->total = total;
    run->stall_on = getenv("RBD2S3_DEBUG_STALL_RESTORE") != NULL;
    pthread_mutex_init(&run->mu, NULL);
    pthread_cond_init(&run->cv, NULL);
    if (setup(run) < 0) {
        run->failed = 1;
        return -1;
    }
    start_workers(run);
    return run->failed ? -1 : 0;
}

int apply_window(apply_run *run, const plan *p, const apply_src *srcs)
{
    const apply_sink *sink = run->sink;
    if (run->failed || ag_interrupted)
        return -1;
    pthread_mutex_lock(&run->mu);
    run->p = p;
    run->srcs = srcs;
    for (size_t i = 0; i < p->npieces; i++)      /* what is never written counts as done */
        if (p->pieces[i].zero && (sink->fresh || (p->pieces[i].zero == 2 && sink->keep_holes)))
            run->done += p->pieces[i].len;
    pthread_mutex_unlock(&run->mu);
    if (ensure_pools(run) < 0) {
        run->failed = 1;
        return -1;
    }
    if (sink->fresh || write_zeroes(run) == 0)
        drive(run);
    settle(run);
    return run->failed || ag_interrupted ? -1 : 0;
}

int apply_close(apply_run *run)
{
    if (run == NULL)
        return -1;
    ag_ctx *ctx = run->ctx;
    if (run->th != NULL)
        stop_workers(run);
    if (run->aio != NULL) {
        int rc = rbdio_aio_drain(run->aio);
        if (rc < 0)
            run_fail(run, AG_EFAIL, "writing the target image: %s", strerror(-rc));
    }
    if (run->failed && ctx->exit_code == AG_OK)
        ag_fail(ctx, run->exit_code ? run->exit_code : AG_EFAIL, "%s",
                run->msg[0] ? run->msg : "restore failed");
    if (ag_interrupted && ctx->exit_code == AG_OK)
        ag_fail(ctx, AG_EINTR, "interrupted");
    teardown(run);
    free(run);
    return ctx->exit_code == AG_OK ? 0 : -1;
}

int apply_restore(ag_ctx *ctx, const plan *p, const apply_src *srcs, const apply_sink *sink)
{
    uint64_t total = 0;
    for (size_t i = 0; i < p->npieces; i++)
        total += p->pieces[i].len;
    apply_run *run;
    if (apply_open(ctx, sink, total, &run) == 0)
        apply_window(run, p, srcs);
    return apply_close(run);
}
