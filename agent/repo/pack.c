/* pack.c - a backup's data objects (data.N) being filled (see pack.h). */
#include "agent/repo/pack.h"
#include "agent/format/parts.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_PARTS PARTS_MAX

/* A part buffer: filled, then its MD5 computed on a thread of its own (hashing, so that
 * the thread that drives the uploads does not stall them), then uploaded. busy until the
 * upload ended. */
typedef struct part_buf {
    unsigned char *data;
    size_t len;
    int number;
    int busy;
    int hashing;              /* its hash thread runs (or ran and was not joined) */
    atomic_int hashed;        /* set by the hash thread when md5 is ready */
    pthread_t thread;
    char md5[25];
    struct pack_writer *owner;
} part_buf;

typedef struct done_obj {
    char key[1024];
    uint64_t size;
    char etag[S3_ETAG_MAX];
} done_obj;

struct pack_writer {
    ag_ctx *ctx;
    char prefix[2048];
    char id[NAMING_ID_LEN];
    size_t part_size;
    uint64_t pack_size;
    part_buf *bufs;
    int nbufs;
    part_buf *cur;            /* being filled, or NULL */
    /* the open object */
    unsigned obj_no;          /* N of its key data.N */
    char key[1024];
    char *upload_id;
    s3_part *parts;
    int nparts;               /* parts submitted */
    uint64_t obj_size;
    /* finished objects */
    done_obj *done;
    size_t ndone, capdone;
    unsigned char *scratch;   /* pack_append_fill of bytes that span parts */
    size_t scratch_cap;
    int failed;
    long parts_completed;
    long stall_after;         /* fault injection for tests, 0 = off */
};

int pack_new(ag_ctx *ctx, const char *image_prefix, const char *id, pack_writer **out)
{
    pack_writer *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return ag_fail(ctx, AG_EFAIL, "out of memory");
    p->ctx = ctx;
    snprintf(p->prefix, sizeof(p->prefix), "%s", image_prefix);
    snprintf(p->id, sizeof(p->id), "%s", id);
    p->part_size = (size_t)parts_size(ctx->opts.tun.part_size, ctx->opts.tun.pack_size,
                                      ctx->opts.tun.chunk_size);
    p->pack_size = ctx->opts.tun.pack_size;
    p->nbufs = ctx->opts.tun.parts_in_flight + 1;
    p->bufs = calloc((size_t)p->nbufs, sizeof(*p->bufs));
    p->parts = calloc(MAX_PARTS, sizeof(*p->parts));
    if (p->bufs == NULL || p->parts == NULL) {
        pack_free(p);
        return ag_fail(ctx, AG_EFAIL, "out of memory");
    }
    const char *stall = getenv("RBD2S3_DEBUG_STALL_AFTER_PARTS");
    if (stall != NULL)
        p->stall_after = strtol(stall, NULL, 10);
    *out = p;
    return 0;
}

static void maybe_stall(pack_writer *p)
{
    if (p->stall_after <= 0 || p->parts_completed < p->stall_after)
        return;
    fputs("rbd2s3: debug: stalled\n", stderr);
    fflush(stderr);
    struct timespec tick = { 0, 50 * 1000000L };
    while (!ag_interrupted)   /* not pause(): run --jobs stalls on several threads and */
        nanosleep(&tick, NULL); /* the signal wakes one; SIGTERM takes the failure path */
    p->stall_after = 0;
}

static void on_part(const s3_result *res, void *arg)
{
    part_buf *b = arg;
    pack_writer *p = b->owner;
    b->busy = 0;
    if (res->rc < 0) {
        if (!p->failed)
            ag_fail_s3(p->ctx, res->rc, res->err, "uploading a data part");
        p->failed = 1;
        return;
    }
    snprintf(p->parts[b->number - 1].etag, S3_ETAG_MAX, "%s", res->etag ? res->etag : "");
    p->parts_completed++;
}

static void *hash_main(void *arg)
{
    part_buf *b = arg;
    s3_md5_base64(b->data, b->len, b->md5);
    atomic_store(&b->hashed, 1);
    s3_async_wakeup(b->owner->ctx->s3);
    return NULL;
}

/* Upload hashed part b (its hash thread joined). */
static int upload_part(pack_writer *p, part_buf *b)
{
    int rc = b->md5[0] ? s3_async_upload_part_md5(p->ctx->s3, p->key, p->upload_id,
                                                  b->number, b->data, b->len, b->md5,
                                                  on_part, b)
                       : -EIO;
    if (rc < 0) {
        b->busy = 0;
        if (!p->failed)
            ag_fail_s3(p->ctx, rc, NULL, "submitting a data part");
        p->failed = 1;
        return -1;
    }
    return 0;
}

/* Join the hash threads that are done (all of them, waiting, when wait is set) and
 * upload their parts (unless the run failed). */
static int reap_hashed(pack_writer *p, int wait)
{
    int rc = 0;
    for (int i = 0; i < p->nbufs; i++) {
        part_buf *b = &p->bufs[i];
        if (!b->hashing || (!wait && !atomic_load(&b->hashed)))
            continue;
        pthread_join(b->thread, NULL);
        b->hashing = 0;
        if (p->failed)
            b->busy = 0;
        else if (upload_part(p, b) < 0)
            rc = -1;
    }
    return rc;
}

static int hashing(const pack_writer *p)
{
    for (int i = 0; i < p->nbufs; i++)
        if (p->bufs[i].hashing)
            return 1;
    return 0;
}

int pack_poll(pack_writer *p, int timeout_ms)
{
    reap_hashed(p, 0);
    if (s3_async_pending(p->ctx->s3) == 0 && hashing(p))
        reap_hashed(p, 1);    /* nothing else to wait for: a few ms */
    if (s3_async_pending(p->ctx->s3) > 0) {
        int rc = s3_async_run(p->ctx->s3, timeout_ms);
        if (rc < 0 && !p->failed) {
            p->failed = 1;
            return ag_fail_s3(p->ctx, rc, NULL, "upload engine");
        }
    }
    maybe_stall(p);
    if (ag_interrupted && !p->failed) {
        p->failed = 1;
        return ag_fail(p->ctx, AG_EINTR, "interrupted");
    }
    return p->failed ? -1 : 0;
}

int pack_busy(const pack_writer *p)
{
    return s3_async_pending(p->ctx->s3) > 0 || hashing(p);
}

static part_buf *free_buf(pack_writer *p)
{
    for (;;) {
        for (int i = 0; i < p->nbufs; i++) {
            part_buf *b = &p->bufs[i];
            if (b->busy)
                continue;
            if (b->data == NULL && (b->data = malloc(p->part_size)) == NULL) {
                ag_fail(p->ctx, AG_EFAIL, "out of memory");
                return NULL;
            }
            b->owner = p;
            b->len = 0;
            b->busy = 1;
            return b;
        }
        if (pack_poll(p, 100) < 0)
            return NULL;
    }
}

static int open_object(pack_writer *p)
{
    char key[1024];
    naming_data_key(p->prefix, p->id, p->obj_no, key, sizeof(key));
    s3_error err;
    memset(&err, 0, sizeof(err));
    int rc = s3_mpu_create_class(p->ctx->s3, key, p->ctx->opts.storage_class, &p->upload_id,
                                 &err);   /* data objects only: `storage class` */
    if (rc < 0)
        return ag_fail_s3(p->ctx, rc, &err, "starting a multipart upload");
    snprintf(p->key, sizeof(p->key), "%s", key);
    p->nparts = 0;
    p->obj_size = 0;
    return 0;
}

static int submit_cur(pack_writer *p)
{
    part_buf *b = p->cur;
    p->cur = NULL;
    if (b == NULL || b->len == 0) {
        if (b != NULL)
            b->busy = 0;
        return 0;
    }
    b->number = ++p->nparts;
    atomic_store(&b->hashed, 0);
    b->md5[0] = '\0';
    if (pthread_create(&b->thread, NULL, hash_main, b) == 0) {
        b->hashing = 1;
        return 0;
    }
    s3_md5_base64(b->data, b->len, b->md5);     /* no thread: here */
    return upload_part(p, b);
}

static int wait_idle(pack_writer *p)
{
    while (s3_async_pending(p->ctx->s3) > 0 || hashing(p))
        if (pack_poll(p, 100) < 0)
            return -1;
    return p->failed ? -1 : 0;
}

/* Append d to the completed objects. 0 or -1 (error recorded). */
static int add_done(pack_writer *p, const done_obj *d)
{
    if (p->ndone == p->capdone) {
        size_t cap = p->capdone ? p->capdone * 2 : 8;
        done_obj *nd = realloc(p->done, cap * sizeof(*nd));
        if (nd == NULL)
            return ag_fail(p->ctx, AG_EFAIL, "out of memory");
        p->done = nd;
        p->capdone = cap;
    }
    p->done[p->ndone++] = *d;
    return 0;
}

static int close_object(pack_writer *p)
{
    if (p->upload_id == NULL)
        return 0;
    if (submit_cur(p) < 0 || wait_idle(p) < 0)
        return -1;
    for (int i = 0; i < p->nparts; i++)
        p->parts[i].number = i + 1;
    done_obj d;
    memset(&d, 0, sizeof(d));
    s3_error err;
    memset(&err, 0, sizeof(err));
    int rc = s3_mpu_complete(p->ctx->s3, p->key, p->upload_id, p->parts, p->nparts, d.etag,
                             &err);
    if (rc < 0)
        return ag_fail_s3(p->ctx, rc, &err, "completing a data object");
    snprintf(d.key, sizeof(d.key), "%s", p->key);
    d.size = p->obj_size;
    if (add_done(p, &d) < 0)
        return -1;
    free(p->upload_id);
    p->upload_id = NULL;
    p->obj_no++;
    return 0;
}

/* The place of the next append: the open object (a new one past `pack size`). */
static int next_place(pack_writer *p, uint32_t *obj, uint64_t *off)
{
    if (p->failed)
        return -1;
    if (p->upload_id != NULL &&
        (p->obj_size >= p->pack_size || p->nparts >= MAX_PARTS - 2) && close_object(p) < 0)
        return -1;
    if (p->upload_id == NULL && open_object(p) < 0)
        return -1;
    *obj = p->obj_no;
    *off = p->obj_size;
    return 0;
}

/* Copy data[0..len) into the part buffers at the open object's end. */
static int copy_in(pack_writer *p, const void *data, size_t len)
{
    const unsigned char *src = data;
    while (len > 0) {
        if (p->cur == NULL && (p->cur = free_buf(p)) == NULL)
            return -1;
        size_t n = p->part_size - p->cur->len;
        if (n > len)
            n = len;
        memcpy(p->cur->data + p->cur->len, src, n);
        p->cur->len += n;
        p->obj_size += n;
        src += n;
        len -= n;
        if (p->cur->len == p->part_size && submit_cur(p) < 0)
            return -1;
    }
    return 0;
}

int pack_append(pack_writer *p, const void *data, size_t len, uint32_t *obj, uint64_t *off)
{
    return next_place(p, obj, off) < 0 ? -1 : copy_in(p, data, len);
}

int pack_append_fill(pack_writer *p, size_t len, pack_fill_fn fill, void *arg,
                     uint32_t *obj, uint64_t *off)
{
    if (next_place(p, obj, off) < 0)
        return -1;
    if (p->cur == NULL && (p->cur = free_buf(p)) == NULL)
        return -1;
    if (p->part_size - p->cur->len >= len) {
        if (fill(arg, *obj, *off, p->cur->data + p->cur->len, len) < 0)
            return -1;
        p->cur->len += len;
        p->obj_size += len;
        return p->cur->len == p->part_size ? submit_cur(p) : 0;
    }
    if (p->scratch_cap < len) {
        unsigned char *s = realloc(p->scratch, len);
        if (s == NULL)
            return ag_fail(p->ctx, AG_EFAIL, "out of memory");
        p->scratch = s;
        p->scratch_cap = len;
    }
    if (fill(arg, *obj, *off, p->scratch, len) < 0)
        return -1;
    return copy_in(p, p->scratch, len);
}

int pack_flush(pack_writer *p)
{
    return p->failed ? -1 : submit_cur(p);
}

int pack_finish(pack_writer *p, manifest *m)
{
    if (p->failed || close_object(p) < 0)
        return -1;
    for (size_t i = 0; i < p->ndone; i++)
        if (manifest_add_object(m, p->done[i].key, p->done[i].size, p->done[i].etag) < 0)
            return ag_fail(p->ctx, AG_EFAIL, "out of memory");
    return 0;
}

/* Stop: no part is uploaded any more, the open multipart upload is aborted. */
static void stop_uploads(pack_writer *p)
{
    s3_error err;
    p->failed = 1;
    reap_hashed(p, 1);
    if (p->ctx->s3 != NULL) {
        s3_async_drain(p->ctx->s3);
        if (p->upload_id != NULL)
            s3_mpu_abort(p->ctx->s3, p->key, p->upload_id, &err);
    }
}

void pack_abort(pack_writer *p)
{
    if (p == NULL)
        return;
    s3_error err;
    stop_uploads(p);
    for (size_t i = 0; p->ctx->s3 != NULL && i < p->ndone; i++)
        s3_delete(p->ctx->s3, p->done[i].key, &err);
    pack_free(p);
}

void pack_free(pack_writer *p)
{
    if (p == NULL)
        return;
    p->failed = 1;
    reap_hashed(p, 1);       /* no thread may outlive its buffer */
    for (int i = 0; p->bufs != NULL && i < p->nbufs; i++)
        free(p->bufs[i].data);
    free(p->bufs);
    free(p->parts);
    free(p->done);
    free(p->scratch);
    free(p->upload_id);
    free(p);
}

/* ---- checkpoints (agent/repo/ckpt.h) ---- */

int pack_close(pack_writer *p)
{
    return p->failed || close_object(p) < 0 ? -1 : 0;
}

int pack_each_done(const pack_writer *p, pack_done_fn fn, void *arg)
{
    for (size_t i = 0; i < p->ndone; i++)
        if (fn(arg, p->done[i].key, p->done[i].size, p->done[i].etag) < 0)
            return -1;
    return 0;
}

int pack_adopt(pack_writer *p, uint64_t size, const char *etag)
{
    done_obj d;
    memset(&d, 0, sizeof(d));
    naming_data_key(p->prefix, p->id, p->obj_no, d.key, sizeof(d.key));
    d.size = size;
    snprintf(d.etag, sizeof(d.etag), "%s", etag);
    if (add_done(p, &d) < 0)
        return -1;
    p->obj_no++;
    return 0;
}

void pack_suspend(pack_writer *p)
{
    if (p == NULL)
        return;
    stop_uploads(p);
    pack_free(p);
}
