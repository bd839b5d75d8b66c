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
    int needed;               /* for the read itself (not ahead): its failure fails it */
    unsigned char *stored;    /* the GET's destination */
    int rc;                   /* the GET's result */
    int done;
    s3_error err;
} want;

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
    entry ***slot;            /* [src][rec] -> entry, or NULL */
    entry *head, *tail;
    uint64_t gen;
    uint64_t next_off;        /* where the last read ended: sequential detection */
    reader_stats st;
    want *w;                  /* a batch being built */
    size_t nw, wcap;
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
    if (e != NULL) {
        e->gen = r->gen;
        lru_unlink(r, e);
        lru_front(r, e);
    }
    return e;
}

/* ---- fetching a batch ---- */

static int want_add(reader *r, uint32_t src, uint32_t rec, int needed)
{
    for (size_t i = r->nw; i > 0; i--)
        if (r->w[i - 1].src == src && r->w[i - 1].rec == rec)
            return 0;
    if (r->nw == r->wcap) {
        size_t cap = r->wcap ? r->wcap * 2 : 16;
        want *w = realloc(r->w, cap * sizeof(*w));
        if (w == NULL)
            return -ENOMEM;
        r->w = w;
        r->wcap = cap;
    }
    want *w = &r->w[r->nw++];
    memset(w, 0, sizeof(*w));
    w->src = src;
    w->rec = rec;
    w->needed = needed;
    return 0;
}

static void on_get(const s3_result *res, void *arg)
{
    want *w = arg;
    w->rc = res->rc;
    if (res->rc < 0 && res->err != NULL)
        w->err = *res->err;
    w->done = 1;
}

static const char *obj_key(const reader *r, const want *w)
{
    const apply_src *s = &r->srcs[w->src];
    const index_rec *x = &s->recs[w->rec];
    return x->obj < s->m->nobjects ? s->m->objects[x->obj].key : NULL;
}

/* Send the GETs of the batch and drive them to the end (under ctx_mu). */
static void fetch_all(reader *r)
{
    ag_ctx *ctx = r->ctx;
    pthread_mutex_lock(&ctx_mu);
    for (size_t i = 0; i < r->nw; i++) {
        want *w = &r->w[i];
        const index_rec *x = &r->srcs[w->src].recs[w->rec];
        const char *key = obj_key(r, w);
        w->rc = key == NULL ? -ERANGE : 0;
        if (w->rc == 0 && (w->stored = malloc(x->stored_length ? x->stored_length : 1)) == NULL)
            w->rc = -ENOMEM;
        if (w->rc == 0)
            w->rc = asof_get_range(ctx, key, x->obj_offset, x->stored_length, w->stored,
                                   x->stored_length, on_get, w);
        w->done = w->rc < 0;
        r->st.gets += w->rc == 0;
    }
    if (ctx->s3 != NULL)
        s3_async_drain(ctx->s3);
    take_error(ctx, NULL, 0);
    pthread_mutex_unlock(&ctx_mu);
}

/* Check the fetched record of w and put it in the cache; 0, or a negative code with the
 * text in why. */
static int admit(reader *r, want *w, char *why, size_t n)
{
    const apply_src *s = &r->srcs[w->src];
    const index_rec *x = &s->recs[w->rec];
    const char *key = obj_key(r, w);
    if (w->rc == -ERANGE) {
        snprintf(why, n, "backup %s: chunk index names data object %u, which the manifest "
                 "does not list", s->m->id, x->obj);
        return -EILSEQ;
    }
    if (w->rc < 0) {
        snprintf(why, n, "reading data object %s: %s", key, s3_strerror(w->rc, &w->err));
        return w->rc == -ENOMEM ? -ENOMEM : -EIO;
    }
    r->st.fetched += x->stored_length;
    entry *e = calloc(1, sizeof(*e));
    unsigned char *buf = e != NULL ? malloc(x->length) : NULL;
    if (buf == NULL) {
        free(e);
        snprintf(why, n, "out of memory");
        return -ENOMEM;
    }
    const unsigned char *out = NULL;
    chunk_owner co = { s->dk, s->m->id, s->m->image_id };
    int rc = chunk_read(&co, x, w->stored, x->stored_length, buf, x->length, &out);
    if (rc < 0) {
        free(buf);
        free(e);
        snprintf(why, n, "data object %s offset %llu: %s (image offset %llu)", key,
                 (unsigned long long)x->obj_offset, chunk_read_error(rc),
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
    e->gen = r->gen;
    r->slot[e->src][e->rec] = e;
    lru_front(r, e);
    r->st.cached += e->len;
    return 0;
}

/* Fetch and admit the batch; the first failure of a needed record is returned. */
static int fetch_batch(reader *r, char *why, size_t n)
{
    int first = 0;
    fetch_all(r);
    for (size_t i = 0; i < r->nw; i++) {
        char text[1400];
        int rc = admit(r, &r->w[i], text, sizeof(text));
        if (rc < 0 && r->w[i].needed && first == 0) {
            first = rc;
            snprintf(why, n, "%s", text);
        }
        free(r->w[i].stored);
    }
    r->nw = 0;
    return first;
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

/* Queue the records of [off, end) missing from the cache, then up to r->ahead records
 * past end when the read follows the last one and half of them are missing. */
static int plan_wants(reader *r, size_t first, uint64_t end, int sequential)
{
    size_t i = first;
    for (; i < r->p.npieces && r->p.pieces[i].dst_off < end; i++) {
        const plan_piece *pc = &r->p.pieces[i];
        if (pc->zero)
            continue;
        if (lookup(r, pc->src, pc->rec) != NULL)
            r->st.hits++;
        else if (want_add(r, pc->src, pc->rec, 1) < 0)
            return -ENOMEM;
    }
    r->st.misses += r->nw;
    if (!sequential)
        return 0;
    size_t needed = r->nw, seen = 0, missing = 0;
    uint64_t bytes = 0;
    for (; i < r->p.npieces && seen < r->ahead && bytes < r->cap / 2; i++) {
        const plan_piece *pc = &r->p.pieces[i];
        if (pc->zero || (i > 0 && pc->src == r->p.pieces[i - 1].src &&
                         pc->rec == r->p.pieces[i - 1].rec))
            continue;
        seen++;
        bytes += r->srcs[pc->src].recs[pc->rec].length;
        if (r->slot[pc->src][pc->rec] == NULL) {
            missing++;
            if (want_add(r, pc->src, pc->rec, 0) < 0)
                return -ENOMEM;
        }
    }
    if (needed == 0 && missing * 2 < r->ahead)
        r->nw = 0;            /* enough ahead already: no GET for this read */
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
    /* Sequential: it starts where the last read ended, or overlaps that end (qemu's curl
     * driver reads 2 MiB with 256 KiB of its own read-ahead, each read 256 KiB back). */
    int rc = plan_wants(r, first, end, off <= r->next_off && end > r->next_off);
    if (rc < 0)
        snprintf(why, whylen, "out of memory");
    else if (r->nw > 0)
        rc = fetch_batch(r, why, whylen);
    r->nw = 0;
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
    while (r->head != NULL)
        entry_drop(r, r->head);
    for (size_t i = 0; r->slot != NULL && i < r->ch.n; i++)
        free(r->slot[i]);
    free(r->slot);
    free(r->w);
    plan_free(&r->p);
    free(r->srcs);
    chain_free(&r->ch);
    catalog_free(&r->cat);
    pthread_mutex_destroy(&r->mu);
    free(r);
}
