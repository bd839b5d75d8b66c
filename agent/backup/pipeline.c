/* pipeline.c - the backup data path: diff walk + aio reads -> compress/hash workers ->
 * data objects and the chunk index, all overlapping, in bounded memory. */
#include "agent/backup/pipeline.h"

#include "agent/format/chunk.h"
#include "agent/backup/diffwalk.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The diff is walked in windows of DIFF_WINDOW bytes, DIFF_WALKERS windows at once ahead
 * of the reads: for a few scattered changes the walk is most of the work. */
#define DIFF_WINDOW (128ULL << 20)
#define DIFF_WALKERS 4

enum slot_state { S_FREE, S_READING, S_QUEUED, S_DONE };

typedef struct slot {
    enum slot_state state;
    uint64_t off;
    uint64_t len;
    int zero;                 /* a hole of the diff: not read */
    ssize_t rc;
    unsigned char *data;      /* chunk_size */
    chunk_enc enc;            /* the chunk's runs */
    struct pipeline *pipe;
} slot;

typedef struct pipeline {
    ag_ctx *ctx;
    rbdio_image *img;
    rbdio_aio *aio;
    const char *from_snap;
    uint64_t size;
    uint64_t chunk;
    pthread_mutex_t mu;
    pthread_cond_t cv_free;   /* reader waits for a free slot */
    pthread_cond_t cv_work;   /* workers wait for queued slots */
    pthread_cond_t cv_done;   /* consumer waits for the next slot */
    slot *slots;
    size_t nslots;
    uint64_t produced;        /* slots handed out (sequence) */
    uint64_t consumed;
    size_t *work;             /* ring of slot indexes for the workers */
    size_t work_head, work_tail;
    int reader_done;
    int stop;                 /* set on failure: everybody winds down */
    int quit;                 /* workers exit once the queue is empty */
    int polling;              /* the consumer waits in the upload engine: wake it up */
    progress *prog;
    uint64_t start;           /* the diff before it is skipped (a resumed checkpoint) */
    uint64_t every;           /* checkpoint interval in bytes read, 0: none */
    uint64_t since;           /* bytes read since the last checkpoint */
    int read_err;
    char read_what[1024];
    pipeline_walk *walk;      /* or NULL */
} pipeline;

static void push_work(pipeline *p, size_t i)
{
    p->work[p->work_tail % p->nslots] = i;
    p->work_tail++;
    pthread_cond_signal(&p->cv_work);
}

static void on_read(ssize_t rc, void *arg)
{
    slot *s = arg;
    pipeline *p = s->pipe;
    pthread_mutex_lock(&p->mu);
    s->rc = rc;
    s->state = S_QUEUED;
    push_work(p, (size_t)(s - p->slots));
    pthread_mutex_unlock(&p->mu);
}

/* A slot is ready for the consumer (the lock is held). A consumer driving the uploads is
 * woken at once rather than at its poll timeout. */
static void mark_done(pipeline *p, slot *s)
{
    s->state = S_DONE;
    pthread_cond_broadcast(&p->cv_done);
    if (p->polling)
        s3_async_wakeup(p->ctx->s3);
}

/* Take the next slot in sequence, waiting while the ring is full. NULL when stopping. */
static slot *take_slot(pipeline *p)
{
    pthread_mutex_lock(&p->mu);
    while (!p->stop && p->produced - p->consumed >= p->nslots)
        pthread_cond_wait(&p->cv_free, &p->mu);
    slot *s = NULL;
    if (!p->stop) {
        s = &p->slots[p->produced % p->nslots];
        p->produced++;
    }
    pthread_mutex_unlock(&p->mu);
    return s;
}

static int submit_piece(pipeline *p, uint64_t off, uint64_t len, int exists)
{
    slot *s = take_slot(p);
    if (s == NULL)
        return -ECANCELED;
    s->off = off;
    s->len = len;
    s->zero = !exists;
    s->enc.n = 0;
    s->rc = 0;
    if (!exists) {
        pthread_mutex_lock(&p->mu);
        mark_done(p, s);
        pthread_mutex_unlock(&p->mu);
        return 0;
    }
    s->state = S_READING;
    int rc = rbdio_aio_read(p->aio, off, len, s->data, on_read, s);
    if (rc < 0) {
        pthread_mutex_lock(&p->mu);
        s->rc = rc;
        s->state = S_QUEUED;
        push_work(p, (size_t)(s - p->slots));
        pthread_mutex_unlock(&p->mu);
        return rc;
    }
    return 0;
}

/* Split an extent at chunk boundaries of the image and submit the pieces. */
static int submit_extent(pipeline *p, const dw_extent *e)
{
    uint64_t off = e->off, end = e->off + e->len;
    while (off < end) {
        uint64_t stop = (off / p->chunk + 1) * p->chunk;
        if (stop > end)
            stop = end;
        int rc = submit_piece(p, off, stop - off, e->exists);
        if (rc < 0)
            return rc;
        off = stop;
    }
    return 0;
}

/* submit_extent of the part of e at or past p->start. */
static int submit_from(pipeline *p, const dw_extent *e)
{
    if (e->off + e->len <= p->start)
        return 0;
    if (e->off >= p->start)
        return submit_extent(p, e);
    dw_extent c = { p->start, e->off + e->len - p->start, e->exists };
    return submit_extent(p, &c);
}

/* Record the reader's failure; why NULL: rbdio's error text of this thread. */
static void reader_fail(pipeline *p, int rc, const char *what, const char *why)
{
    pthread_mutex_lock(&p->mu);
    if (p->read_err == 0 && rc != -ECANCELED) {
        /* rbdio's error text is per thread: take it here, on the reader's. */
        if (why == NULL)
            why = rbdio_last_error();
        p->read_err = rc;
        snprintf(p->read_what, sizeof(p->read_what), "%s: %s", what,
                 why[0] != '\0' ? why : strerror(-rc));
    }
    p->stop = 1;
    pthread_cond_broadcast(&p->cv_done);
    pthread_cond_broadcast(&p->cv_work);
    pthread_mutex_unlock(&p->mu);
}

static void log_map(const pipeline *p, const diffwalk *dw)
{
    uint64_t changed, total, unit, walked, windows;
    const char *invalid = diffwalk_invalid(dw);
    int map = diffwalk_map(dw, &changed, &total, &unit);
    if (p->walk != NULL) {
        p->walk->map = map;
        snprintf(p->walk->invalid, sizeof(p->walk->invalid), "%s", invalid ? invalid : "");
    }
    diffwalk_windows(dw, &walked, &windows);
    if (invalid != NULL)
        ag_info(p->ctx, "object map of %s is flagged invalid: walking the whole image",
                invalid);
    else if (map)
        ag_debug(p->ctx, "object map: %" PRIu64 " of %" PRIu64 " objects (%" PRIu64
                 " KiB) %s, only those are listed (%" PRIu64 " of %" PRIu64 " windows)",
                 changed, total, unit >> 10, p->from_snap != NULL ? "changed" : "allocated",
                 walked, windows);
    else if (p->from_snap != NULL)
        ag_debug(p->ctx, "no valid fast-diff object map: every object is listed");
}

/* The reader: take the diff window by window from the walkers and read its extents. */
static void *reader_main(void *arg)
{
    pipeline *p = arg;
    diffwalk *dw = NULL;
    int rc = diffwalk_start(p->img, p->from_snap, p->size, DIFF_WINDOW, DIFF_WALKERS, &dw);
    if (rc < 0)
        reader_fail(p, rc, "walking the image diff", strerror(-rc));
    else
        log_map(p, dw);
    while (rc == 0 && !ag_interrupted) {
        const dw_extent *ext;
        size_t n;
        rc = diffwalk_next(dw, &ext, &n);
        if (rc < 0) {
            reader_fail(p, rc, "walking the image diff", diffwalk_error(dw));
            break;
        }
        if (rc == 1) {             /* past the last window */
            rc = 0;
            break;
        }
        for (size_t i = 0; i < n && rc == 0; i++)
            rc = submit_from(p, &ext[i]);
        if (rc < 0)
            reader_fail(p, rc, "reading the image", NULL);
    }
    diffwalk_free(dw);
    if (rc == 0 && ag_interrupted)
        reader_fail(p, -EINTR, "interrupted", "");
    int drc = rbdio_aio_drain(p->aio);
    if (rc == 0 && drc < 0)
        reader_fail(p, drc, "reading the image", NULL);
    pthread_mutex_lock(&p->mu);
    p->reader_done = 1;
    pthread_cond_broadcast(&p->cv_done);
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

static void process_slot(slot *s)
{
    if (s->rc < 0)
        return;
    chunk_encode(&s->enc, s->data, (size_t)s->len, s->off);
}

static void *worker_main(void *arg)
{
    pipeline *p = arg;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (p->work_head == p->work_tail && !p->quit)
            pthread_cond_wait(&p->cv_work, &p->mu);
        if (p->work_head == p->work_tail)
            break;
        slot *s = &p->slots[p->work[p->work_head % p->nslots]];
        p->work_head++;
        pthread_mutex_unlock(&p->mu);
        process_slot(s);
        pthread_mutex_lock(&p->mu);
        mark_done(p, s);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* Wait for the next slot in sequence. Returns it, or NULL at the end (*fail = 0) or
 * on failure (*fail = 1). Drives the uploads while waiting. */
static slot *next_done(pipeline *p, writer *w, int *fail)
{
    *fail = 0;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        if (p->stop) {
            *fail = 1;
            break;
        }
        slot *s = &p->slots[p->consumed % p->nslots];
        if (p->consumed < p->produced && s->state == S_DONE) {
            pthread_mutex_unlock(&p->mu);
            return s;
        }
        if (p->reader_done && p->consumed == p->produced)
            break;
        if (writer_busy(w)) {
            p->polling = 1;
            pthread_mutex_unlock(&p->mu);
            int rc = writer_poll(w, 50);
            pthread_mutex_lock(&p->mu);
            p->polling = 0;
            if (rc < 0) {
                *fail = 1;
                break;
            }
            continue;
        }
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 50 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&p->cv_done, &p->mu, &ts);
        if (ag_interrupted) {
            *fail = 1;
            break;
        }
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

static void release_slot(pipeline *p, slot *s)
{
    pthread_mutex_lock(&p->mu);
    s->state = S_FREE;
    p->consumed++;
    pthread_cond_signal(&p->cv_free);
    pthread_mutex_unlock(&p->mu);
}

static int write_slot(pipeline *p, slot *s, writer *w, manifest *m)
{
    if (s->rc < 0)
        return ag_fail_rbd(p->ctx, (int)s->rc, "reading the image");
    if (s->zero)
        return writer_zero(w, m, s->off, s->len);
    return writer_pieces(w, m, s->off, s->data, &s->enc);
}

/* A checkpoint after slot s once `every` bytes were read since the last one. */
static int maybe_checkpoint(pipeline *p, const slot *s, writer *w, manifest *m)
{
    if (p->every == 0 || s->zero)
        return 0;
    p->since += s->len;
    if (p->since < p->every)
        return 0;
    p->since = 0;
    return writer_checkpoint(w, m, s->off + s->len);
}

static int consume(pipeline *p, writer *w, manifest *m)
{
    int fail = 0;
    slot *s;
    while ((s = next_done(p, w, &fail)) != NULL) {
        int rc = write_slot(p, s, w, m);
        if (rc == 0)
            rc = maybe_checkpoint(p, s, w, m);
        progress_update(p->prog, s->off + s->len, p->size, m->data_bytes + m->zero_bytes);
        release_slot(p, s);
        /* Keep the parts moving while the slots keep coming: the engine only runs when
         * driven, and a consumer that never waits would leave them all to the end. */
        if (rc < 0 || (writer_busy(w) && writer_poll(w, 0) < 0))
            return -1;
    }
    return fail ? -1 : 0;
}

static void stop_all(pipeline *p)
{
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    pthread_cond_broadcast(&p->cv_free);
    pthread_cond_broadcast(&p->cv_work);
    pthread_mutex_unlock(&p->mu);
}

static int setup(pipeline *p, ag_ctx *ctx, rbdio_image *img)
{
    const ag_tun *t = &ctx->opts.tun;
    p->ctx = ctx;
    p->img = img;
    p->chunk = t->chunk_size;
    p->nslots = (size_t)t->reads_in_flight + 2 * (size_t)t->threads + 2;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv_free, NULL);
    pthread_cond_init(&p->cv_work, NULL);
    pthread_cond_init(&p->cv_done, NULL);
    p->slots = calloc(p->nslots, sizeof(*p->slots));
    p->work = calloc(p->nslots, sizeof(*p->work));
    if (p->slots == NULL || p->work == NULL)
        return ag_fail(ctx, AG_EFAIL, "out of memory");
    for (size_t i = 0; i < p->nslots; i++) {
        p->slots[i].pipe = p;
        p->slots[i].data = malloc(p->chunk);
        if (p->slots[i].data == NULL ||
            chunk_enc_init(&p->slots[i].enc, p->chunk, t->sparse_size, t->chunk_digest) < 0)
            return ag_fail(ctx, AG_EFAIL, "out of memory");
    }
    int rc = rbdio_aio_new(img, t->reads_in_flight, &p->aio);
    if (rc < 0)
        return ag_fail_rbd(ctx, rc, "aio window");
    return 0;
}

static void teardown(pipeline *p)
{
    if (p->aio != NULL)
        rbdio_aio_free(p->aio);
    for (size_t i = 0; p->slots != NULL && i < p->nslots; i++) {
        free(p->slots[i].data);
        chunk_enc_free(&p->slots[i].enc);
    }
    free(p->slots);
    free(p->work);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv_free);
    pthread_cond_destroy(&p->cv_work);
    pthread_cond_destroy(&p->cv_done);
}

/* The threads of one run: workers[0..started) and the reader (when reader_on). */
typedef struct crew {
    pthread_t *workers;
    int started;              /* only threads that exist are counted, and joined */
    pthread_t reader;
    int reader_on;
} crew;

/* Start n workers, then the reader. 0, or -1 (error recorded) with c telling which
 * threads exist: a thread whose creation failed is never joined. */
static int start_crew(pipeline *p, crew *c, int n)
{
    c->workers = calloc((size_t)n, sizeof(*c->workers));
    if (c->workers == NULL)
        return ag_fail(p->ctx, AG_EFAIL, "out of memory");
    while (c->started < n) {
        if (pthread_create(&c->workers[c->started], NULL, worker_main, p) != 0)
            return ag_fail(p->ctx, AG_EFAIL, "cannot start worker threads");
        c->started++;
    }
    if (pthread_create(&c->reader, NULL, reader_main, p) != 0)
        return ag_fail(p->ctx, AG_EFAIL, "cannot start the reader thread");
    c->reader_on = 1;
    return 0;
}

/* Join the reader, then let the workers finish the queue and join them; frees
 * c->workers. Cannot fail. */
static void join_crew(pipeline *p, crew *c)
{
    if (c->reader_on)
        pthread_join(c->reader, NULL);
    pthread_mutex_lock(&p->mu);
    p->quit = 1;
    pthread_cond_broadcast(&p->cv_work);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < c->started; i++)
        pthread_join(c->workers[i], NULL);
    free(c->workers);
}

int pipeline_backup(ag_ctx *ctx, rbdio_image *img, const char *from_snap, uint64_t size,
                    writer *w, manifest *m, progress *prog)
{
    return pipeline_backup_from(ctx, img, from_snap, 0, size, 0, w, m, prog, NULL);
}

int pipeline_backup_from(ag_ctx *ctx, rbdio_image *img, const char *from_snap,
                         uint64_t start, uint64_t size, uint64_t every, writer *w,
                         manifest *m, progress *prog, pipeline_walk *walk)
{
    if (ctx->opts.tun.chunk_size > CHUNK_SIZE_MAX)
        return ag_fail(ctx, AG_EUSAGE, "chunk size may be at most %lluM",
                       (unsigned long long)(CHUNK_SIZE_MAX >> 20));
    pipeline p;
    memset(&p, 0, sizeof(p));
    p.from_snap = from_snap;
    p.size = size;
    p.prog = prog;
    p.start = start;
    p.every = every;
    p.walk = walk;
    crew c;
    memset(&c, 0, sizeof(c));
    int rc = setup(&p, ctx, img);
    if (rc == 0)
        rc = start_crew(&p, &c, ctx->opts.tun.threads);
    if (rc == 0)
        rc = consume(&p, w, m);
    if (rc < 0)
        stop_all(&p);
    join_crew(&p, &c);
    if (p.read_err != 0)
        ag_fail_rbd_why(ctx, p.read_err, p.read_what);
    else if (rc < 0 && ctx->exit_code == AG_OK)
        ag_fail(ctx, ag_interrupted ? AG_EINTR : AG_EFAIL, "backup stopped");
    teardown(&p);
    return ctx->exit_code == AG_OK ? 0 : -1;
}

void pipeline_walk_json(json_object *o, const pipeline_walk *walk)
{
    const char *how = walk == NULL ? NULL : walk->map ? "object-map" : "full";
    int bad = walk != NULL && walk->invalid[0] != '\0';
    json_object_object_add(o, "diff_walk", how ? json_object_new_string(how) : NULL);
    json_object_object_add(o, "object_map_invalid",
                           bad ? json_object_new_string(walk->invalid) : NULL);
}
