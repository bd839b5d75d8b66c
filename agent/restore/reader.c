/* reader.c - random access to a backup point (reader.h): the chain's merged plan looked up
 * by offset, missing records fetched in one batch of ranged GETs (with the records ahead
 * of a sequential read), each checked by chunk_read, kept in an LRU cache. */
#include "agent/restore/reader.h"
#include "agent/restore/apply.h"
#include "agent/restore/plan.h"
#include "agent/repo/asof.h"
#include "agent/repo/catalog.h"
#include "agent/repo/chain.h"
#include "agent/repo/trust/head.h"
#include "agent/format/chunk.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Guards every reader's use of an ag_ctx (its S3 client and its error): one per process,
 * as a server has one ctx. */
static pthread_mutex_t ctx_mu = PTHREAD_MUTEX_INITIALIZER;

/* A checked record in the cache. */
typedef struct entry {
    uint32_t src, rec;
    unsigned char *mem;       /* owned */
    const unsigned char *data; /* its length bytes, in mem */
    size_t len;
    uint64_t gen;             /* the read that used it last: pinned during that read */
    struct entry *prev, *next; /* LRU list, newest first */
} entry;

/* A record to fetch in a batch. */
typedef struct want {
    uint32_t src, rec;
    unsigned char *stored;    /* the GET's destination */
    int rc;                   /* the GET's result */
    s3_error err;
    entry *e;                 /* once checked */
    char why[400];            /* else what failed */
} want;

/* Records fetched together: a read's own, or those ahead of it (on the ahead thread). */
typedef struct batch {
    want *v;
    size_t n, cap;
} batch;

/* A slot whose record the ahead thread is fetching. */
#define INFLIGHT ((entry *)&inflight_mark)
static const char inflight_mark;

struct reader {
    ag_ctx *ctx;
    naming_spec spec;
    catalog cat;
    chain ch;
    apply_src *srcs;
    plan p;
    uint64_t cap;
    uint32_t ahead;
    pthread_mutex_t mu;       /* the fields below */
    pthread_cond_t cv;        /* an ahead batch ended, or the thread is to stop */
    entry ***slot;            /* [src][rec] -> entry, INFLIGHT, or NULL */
    entry *head, *tail;
    uint64_t gen;
    uint64_t next_off;        /* where the last read ended: sequential detection */
    reader_stats st;
    batch now;                /* the read's own records */
    batch ahead_b;            /* the ahead thread's, while ahead_busy */
    int ahead_busy;
    int ahead_on;             /* the thread runs */
    int stop;
    pthread_t ahead_thread;
};

/* Move ctx's recorded error into why and clear it; returns its exit code (AG_OK: none). */
static int take_error(ag_ctx *ctx, char *why, size_t n)
{
    int code = ctx->exit_code;
    if (why != NULL && n > 0)
        snprintf(why, n, "%s", code != AG_OK ? ctx->errmsg : "");
    ctx->exit_code = AG_OK;
    ctx->errmsg[0] = '\0';
    return code;
}

int reader_with_ctx(ag_ctx *ctx, int (*fn)(ag_ctx *ctx, void *arg), void *arg, char *why,
                    size_t whylen)
{
    pthread_mutex_lock(&ctx_mu);
    int rc = fn(ctx, arg);
    int code = take_error(ctx, why, whylen);
    pthread_mutex_unlock(&ctx_mu);
    return rc < 0 && code == AG_OK ? AG_EFAIL : (rc < 0 ? code : AG_OK);
}

/* ---- opening: catalog, chain, indexes, plan (under ctx_mu) ---- */

static int load(ag_ctx *ctx, void *arg)
{
    reader *r = arg;
    if (catalog_load(ctx, &r->spec, &r->cat) < 0)
        return -1;
    if (r->spec.at[0] == '\0' && head_check(ctx, &r->cat, &r->spec, 1) < 0)
        return -1;
    long t = catalog_find(ctx, &r->cat, &r->spec, r->spec.at);
    if (t < 0 || chain_open(ctx, &r->cat, (size_t)t, &r->ch) < 0 ||
        chain_load_indexes(ctx, &r->ch, 0) < 0)
        return -1;
    if ((r->srcs = apply_sources(ctx, &r->ch, 0, r->ch.n)) == NULL)
        return -1;
    if (apply_plan(ctx, r->srcs, r->ch.n, &r->p) < 0)
        return -1;
    r->slot = calloc(r->ch.n, sizeof(*r->slot));
    if (r->slot == NULL)
        return ag_fail(ctx, AG_EFAIL, "out of memory");
    for (size_t i = 0; i < r->ch.n; i++)
        if ((r->slot[i] = calloc(r->srcs[i].nrecs + 1, sizeof(entry *))) == NULL)
            return ag_fail(ctx, AG_EFAIL, "out of memory");
    return 0;
}

int reader_open(ag_ctx *ctx, const naming_spec *spec, const reader_opts *o, reader **out,
                char *why, size_t whylen)
{
    *out = NULL;
    reader *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        snprintf(why, whylen, "out of memory");
        return AG_EFAIL;
    }
    r->ctx = ctx;
    r->spec = *spec;
    r->cap = o != NULL && o->cache_bytes > 0 ? o->cache_bytes : READER_CACHE_DEFAULT;
    r->ahead = o != NULL && o->ahead > 0 ? o->ahead : READER_AHEAD_DEFAULT;
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    int code = reader_with_ctx(ctx, load, r, why, whylen);
    if (code != AG_OK) {
        reader_close(r);
        return code;
    }
    *out = r;
    return AG_OK;
}

uint64_t reader_size(const reader *r)
{
    return r->p.size;
}

const manifest *reader_manifest(const reader *r)
{
    return r->ch.v[r->ch.n - 1].m;
}

const char *reader_backup_id(const reader *r)
{
    return reader_manifest(r)->id;
}

void reader_stats_get(reader *r, reader_stats *out)
{
    pthread_mutex_lock(&r->mu);
    *out = r->st;
    pthread_mutex_unlock(&r->mu);
}

/* ---- the cache ---- */

static void lru_unlink(reader *r, entry *e)
{
    if (e->prev != NULL)
        e->prev->next = e->next;
    else
        r->head = e->next;
    if (e->next != NULL)
        e->next->prev = e->prev;
    else
        r->tail = e->prev;
    e->prev = e->next = NULL;
}

static void lru_front(reader *r, entry *e)
{
    e->next = r->head;
    e->prev = NULL;
    if (r->head != NULL)
        r->head->prev = e;
    r->head = e;
    if (r->tail == NULL)
        r->tail = e;
}

static void entry_drop(reader *r, entry *e)
{
    lru_unlink(r, e);
    r->slot[e->src][e->rec] = NULL;
    r->st.cached -= e->len;
    free(e->mem);
    free(e);
}

/* Drop the least recently used records until the cache is within its bound; the records
 * of the read under way stay. */
static void evict(reader *r)
{
    entry *e = r->tail;
    while (e != NULL && r->st.cached > r->cap) {
        entry *prev = e->prev;
        if (e->gen != r->gen)
            entry_drop(r, e);
        e = prev;
    }
}

/* The cached record, marked as used by this read, or NULL. */
static entry *lookup(reader *r, uint32_t src, uint32_t rec)
{
    entry *e = r->slot[src][rec];
    if (e == INFLIGHT)
        return NULL;
    if (e != NULL) {
        e->gen = r->gen;
        lru_unlink(r, e);
        lru_front(r, e);
    }
    return e;
}

/* ---- fetching a batch ---- */

static int batch_has(const batch *b, uint32_t src, uint32_t rec)
{
    for (size_t i = b->n; i > 0; i--)
        if (b->v[i - 1].src == src && b->v[i - 1].rec == rec)
            return 1;
    return 0;
}

static int batch_add(batch *b, uint32_t src, uint32_t rec)
{
    if (batch_has(b, src, rec))
        return 0;
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 16;
        want *v = realloc(b->v, cap * sizeof(*v));
        if (v == NULL)
            return -ENOMEM;
        b->v = v;
        b->cap = cap;
    }
    want *w = &b->v[b->n++];
    memset(w, 0, sizeof(*w));
    w->src = src;
    w->rec = rec;
    return 0;
}

static void on_get(const s3_result *res, void *arg)
{
    want *w = arg;
    w->rc = res->rc;
    if (res->rc < 0 && res->err != NULL)
        w->err = *res->err;
}

static const char *obj_key(const reader *r, const want *w)
{
    const apply_src *s = &r->srcs[w->src];
    const index_rec *x = &s->recs[w->rec];
    return x->obj < s->m->nobjects ? s->m->objects[x->obj].key : NULL;
}

/* Send the GETs of b and drive them to the end under ctx_mu (r->mu not needed: it reads
 * only what never changes). Returns the number of GETs sent. */
static uint64_t fetch_all(reader *r, batch *b)
{
    ag_ctx *ctx = r->ctx;
    uint64_t gets = 0;
    pthread_mutex_lock(&ctx_mu);
    for (size_t i = 0; i < b->n; i++) {
        want *w = &b->v[i];
        const index_rec *x = &r->srcs[w->src].recs[w->rec];
        const char *key = obj_key(r, w);
        w->rc = key == NULL ? -ERANGE : 0;
        if (w->rc == 0 && (w->stored = malloc(x->stored_length ? x->stored_length : 1)) == NULL)
            w->rc = -ENOMEM;
        if (w->rc == 0)
            w->rc = asof_get_range(ctx, key, x->obj_offset, x->stored_length, w->stored,
                                   x->stored_length, on_get, w);
        gets += w->rc == 0;
    }
    if (ctx->s3 != NULL)
        s3_async_drain(ctx->s3);
    take_error(ctx, NULL, 0);
    pthread_mutex_unlock(&ctx_mu);
    return gets;
}

/* Check the fetched record of w into w->e (or its failure into w->why); touches nothing
 * shared. Returns 0 or a negative code. */
static int check(const reader *r, want *w)
{
    const apply_src *s = &r->srcs[w->src];
    const index_rec *x = &s->recs[w->rec];
    const char *key = obj_key(r, w);
    if (w->rc == -ERANGE) {
        snprintf(w->why, sizeof(w->why), "backup %s: chunk index names data object %u, "
                 "which the manifest does not list", s->m->id, x->obj);
        return -EILSEQ;
    }
    if (w->rc < 0) {
        snprintf(w->why, sizeof(w->why), "reading data object %s: %s", key,
                 s3_strerror(w->rc, &w->err));
        return w->rc == -ENOMEM ? -ENOMEM : -EIO;
    }
    entry *e = calloc(1, sizeof(*e));
    unsigned char *buf = e != NULL ? malloc(x->length) : NULL;
    if (buf == NULL) {
        free(e);
        snprintf(w->why, sizeof(w->why), "out of memory");
        return -ENOMEM;
    }
    const unsigned char *out = NULL;
    chunk_owner co = { s->dk, s->m->id, s->m->image_id };
    int rc = chunk_read(&co, x, w->stored, x->stored_length, buf, x->length, &out);
    if (rc < 0) {
        free(buf);
        free(e);
        snprintf(w->why, sizeof(w->why), "data object %s offset %llu: %s (image offset %llu)",
                 key, (unsigned long long)x->obj_offset, chunk_read_error(rc),
                 (unsigned long long)x->offset);
        return -EILSEQ;
    }
    if (out != buf) {         /* a raw record: its bytes are the stored ones */
        free(buf);
        e->mem = w->stored;
        w->stored = NULL;
    } else {
        e->mem = buf;
    }
    e->data = out;
    e->len = x->length;
    e->src = w->src;
    e->rec = w->rec;
    w->e = e;
    return 0;
}

/* Fetch and check b's records, then (under r->mu, taken here when lock) put the checked
 * ones in the cache and clear the others' slots. The first failure is returned, its text
 * in why. */
static int run_batch(reader *r, batch *b, int lock, char *why, size_t n)
{
    int first = 0;
    uint64_t gets = fetch_all(r, b);
    for (size_t i = 0; i < b->n; i++) {
        int rc = check(r, &b->v[i]);
        if (rc < 0 && first == 0) {
            first = rc;
            snprintf(why, n, "%s", b->v[i].why);
        }
        free(b->v[i].stored);
    }
    if (lock)
        pthread_mutex_lock(&r->mu);
    r->st.gets += gets;
    for (size_t i = 0; i < b->n; i++) {
        entry *e = b->v[i].e, **slot = &r->slot[b->v[i].src][b->v[i].rec];
        if (*slot != NULL && *slot != INFLIGHT) {     /* cannot happen: kept safe */
            free(e != NULL && e->mem != NULL ? e->mem : NULL);
            free(e);
            continue;
        }
        *slot = e;
        if (e == NULL)
            continue;
        r->st.fetched += r->srcs[e->src].recs[e->rec].stored_length;
        e->gen = r->gen;
        lru_front(r, e);
        r->st.cached += e->len;
    }
    b->n = 0;
    if (lock)
        pthread_mutex_unlock(&r->mu);
    return first;
}

/* The ahead thread: runs each batch handed to it, outside r->mu while fetching. */
static void *ahead_main(void *arg)
{
    reader *r = arg;
    char why[400];
    pthread_mutex_lock(&r->mu);
    for (;;) {
        while (!r->stop && !r->ahead_busy)
            pthread_cond_wait(&r->cv, &r->mu);
        if (r->stop && !r->ahead_busy)
            break;
        pthread_mutex_unlock(&r->mu);
        run_batch(r, &r->ahead_b, 1, why, sizeof(why));   /* a failure: read again later */
        pthread_mutex_lock(&r->mu);
        r->ahead_busy = 0;
        evict(r);
        pthread_cond_broadcast(&r->cv);
    }
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

/* Hand the records in r->ahead_b to the ahead thread (started on first use); when it
 * cannot start, they are fetched with the read's own. Under r->mu. */
static void ahead_start(reader *r)
{
    if (!r->ahead_on)
        r->ahead_on = pthread_create(&r->ahead_thread, NULL, ahead_main, r) == 0;
    if (!r->ahead_on) {
        for (size_t i = 0; i < r->ahead_b.n; i++) {
            r->slot[r->ahead_b.v[i].src][r->ahead_b.v[i].rec] = NULL;
            if (batch_add(&r->now, r->ahead_b.v[i].src, r->ahead_b.v[i].rec) < 0)
                break;
        }
        r->ahead_b.n = 0;
        return;
    }
    for (size_t i = 0; i < r->ahead_b.n; i++)
        r->slot[r->ahead_b.v[i].src][r->ahead_b.v[i].rec] = INFLIGHT;
    r->ahead_busy = 1;
    pthread_cond_broadcast(&r->cv);
}

/* ---- reading ---- */

/* The first piece that ends after off. */
static size_t piece_at(const plan *p, uint64_t off)
{
    size_t lo = 0, hi = p->npieces;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (p->pieces[mid].dst_off + p->pieces[mid].len <= off)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Queue in r->now the records of [off, end) missing from the cache; 1 when one of them
 * is being fetched by the ahead thread (the caller waits for it and asks again). */
static int wants_now(reader *r, size_t first, uint64_t end)
{
    r->now.n = 0;
    for (size_t i = first; i < r->p.npieces && r->p.pieces[i].dst_off < end; i++) {
        const plan_piece *pc = &r->p.pieces[i];
        if (pc->zero)
            continue;
        if (r->slot[pc->src][pc->rec] == INFLIGHT)
            return 1;
        if (lookup(r, pc->src, pc->rec) != NULL)
            r->st.hits++;
        else if (batch_add(&r->now, pc->src, pc->rec) < 0)
            return -ENOMEM;
    }
    return 0;
}

/* When the ahead thread is idle: queue for it up to r->ahead records past end that are
 * missing, once half of them are (or the read itself missed), within half the cache. */
static int wants_ahead(reader *r, uint64_t end)
{
    if (r->ahead_busy)
        return 0;
    size_t i = piece_at(&r->p, end), seen = 0, missing = 0;
    uint64_t bytes = 0;
    r->ahead_b.n = 0;
    for (; i < r->p.npieces && seen < r->ahead && bytes < r->cap / 2; i++) {
        const plan_piece *pc = &r->p.pieces[i];
        if (pc->zero || (i > 0 && pc->src == r->p.pieces[i - 1].src &&
                         pc->rec == r->p.pieces[i - 1].rec))
            continue;
        seen++;
        bytes += r->srcs[pc->src].recs[pc->rec].length;
        if (r->slot[pc->src][pc->rec] == NULL && !batch_has(&r->now, pc->src, pc->rec)) {
            missing++;
            if (batch_add(&r->ahead_b, pc->src, pc->rec) < 0)
                return -ENOMEM;
        }
    }
    if (r->now.n == 0 && missing * 2 < r->ahead)
        r->ahead_b.n = 0;     /* enough ahead already */
    if (r->ahead_b.n > 0)
        ahead_start(r);
    return 0;
}

/* Copy [off, end) from the pieces (all cached now) into buf. */
static void copy_out(reader *r, size_t first, uint64_t off, uint64_t end, unsigned char *buf)
{
    for (size_t i = first; i < r->p.npieces && r->p.pieces[i].dst_off < end; i++) {
        const plan_piece *pc = &r->p.pieces[i];
        uint64_t a = pc->dst_off > off ? pc->dst_off : off;
        uint64_t b = pc->dst_off + pc->len < end ? pc->dst_off + pc->len : end;
        if (pc->zero) {
            memset(buf + (a - off), 0, (size_t)(b - a));
            continue;
        }
        const entry *e = r->slot[pc->src][pc->rec];
        memcpy(buf + (a - off), e->data + pc->src_off + (a - pc->dst_off), (size_t)(b - a));
    }
}

ssize_t reader_read(reader *r, uint64_t off, void *buf, size_t len, char *why,
                    size_t whylen)
{
    if (off >= r->p.size || len == 0)
        return 0;
    if (len > r->p.size - off)
        len = (size_t)(r->p.size - off);
    if (ag_interrupted) {
        snprintf(why, whylen, "interrupted");
        return -EINTR;
    }
    uint64_t end = off + len;
    pthread_mutex_lock(&r->mu);
    r->gen++;
    size_t first = piece_at(&r->p, off);
    int rc;
    while ((rc = wants_now(r, first, end)) == 1)
        pthread_cond_wait(&r->cv, &r->mu);      /* the ahead thread has some of them */
    r->st.misses += r->now.n;
    /* Sequential: it starts where the last read ended, or overlaps that end (qemu's curl
     * driver reads 2 MiB with 256 KiB of its own read-ahead, each read 256 KiB back). */
    if (rc == 0 && off <= r->next_off && end > r->next_off)
        rc = wants_ahead(r, end);
    if (rc < 0)
        snprintf(why, whylen, "out of memory");
    else if (r->now.n > 0)
        rc = run_batch(r, &r->now, 0, why, whylen);
    if (rc == 0) {
        copy_out(r, first, off, end, buf);
        r->next_off = end;
    }
    evict(r);
    pthread_mutex_unlock(&r->mu);
    return rc < 0 ? rc : (ssize_t)len;
}

void reader_close(reader *r)
{
    if (r == NULL)
        return;
    if (r->ahead_on) {
        pthread_mutex_lock(&r->mu);
        r->stop = 1;
        pthread_cond_broadcast(&r->cv);
        pthread_mutex_unlock(&r->mu);
        pthread_join(r->ahead_thread, NULL);
    }
    while (r->head != NULL)
        entry_drop(r, r->head);
    for (size_t i = 0; r->slot != NULL && i < r->ch.n; i++)
        free(r->slot[i]);
    free(r->slot);
    free(r->now.v);
    free(r->ahead_b.v);
    plan_free(&r->p);
    free(r->srcs);
    chain_free(&r->ch);
    catalog_free(&r->cat);
    pthread_cond_destroy(&r->cv);
    pthread_mutex_destroy(&r->mu);
    free(r);
}
