/* ordered.c - a plan walked in order, one record at a time, each checked against its
 * SHA-256 before it is passed on: restore into a pipe (stdout), every byte in order,
 * zeros included; the export-diff stream. */
#include "agent/restore/ordered.h"
#include "agent/repo/asof.h"
#include "agent/format/chunk.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int write_all(ag_ctx *ctx, int fd, const unsigned char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n < 0 && errno == EINTR && !ag_interrupted)
            continue;
        if (n <= 0)
            return ag_fail(ctx, ag_interrupted ? AG_EINTR : AG_EFAIL, "writing the output: %s",
                           n < 0 ? strerror(errno) : "short write");
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

static int write_zeros(ag_ctx *ctx, int fd, uint64_t len)
{
    static const unsigned char zeros[1 << 16];
    while (len > 0) {
        size_t n = len < sizeof(zeros) ? (size_t)len : sizeof(zeros);
        if (write_all(ctx, fd, zeros, n) < 0)
            return -1;
        len -= n;
    }
    return 0;
}

typedef struct cache {
    uint32_t src, rec;
    int valid;
    unsigned char *data;
    size_t cap;
} cache;

/* GET exactly the stored bytes of record r from data object key into *body (freed by
 * the caller on success). 0, or -1 with the error recorded in ctx. */
static int fetch_record(ag_ctx *ctx, const char *key, const index_rec *r, s3_buf *body)
{
    s3_error err;
    memset(&err, 0, sizeof(err));
    /* exactly the record's range: a longer answer (a server ignoring Range) is cut
     * off at stored_length bytes by the client, a shorter one refused below */
    int rc = asof_get(ctx, key, r->obj_offset, r->stored_length, r->stored_length, body,
                      &err);
    if (rc == -EFBIG)
        return ag_fail(ctx, AG_EFAIL, "%s: answer longer than the %lu bytes asked for (offset "
                       "%llu)", key, (unsigned long)r->stored_length,
                       (unsigned long long)r->obj_offset);
    if (rc < 0)
        return ag_fail_s3(ctx, rc, &err, key);
    if (body->len != r->stored_length) {
        s3_buf_free(body);
        return ag_fail(ctx, AG_EINTEGRITY, "data object %s offset %llu: answer of %zu "
                       "bytes for a range of %lu", key, (unsigned long long)r->obj_offset,
                       body->len, (unsigned long)r->stored_length);
    }
    return 0;
}

/* Make c hold the checked bytes of record rec of source src (fetched unless it holds
 * them already). 0, or -1 with the error recorded in ctx. */
static int load_record(ag_ctx *ctx, const apply_src *s, uint32_t src, uint32_t rec, cache *c)
{
    if (c->valid && c->src == src && c->rec == rec)
        return 0;
    const index_rec *r = &s[src].recs[rec];
    if (r->obj >= s[src].m->nobjects)
        return ag_fail(ctx, AG_EINTEGRITY, "backup %s: chunk index names data object %u, "
                       "which the manifest does not list", s[src].m->id, r->obj);
    const char *key = s[src].m->objects[r->obj].key;
    s3_buf body = { 0 };
    if (fetch_record(ctx, key, r, &body) < 0)
        return -1;
    if (c->cap < r->length) {
        free(c->data);
        c->cap = (size_t)r->length;
        if ((c->data = malloc(c->cap)) == NULL) {
            c->cap = 0;
            s3_buf_free(&body);
            return ag_fail(ctx, AG_EFAIL, "out of memory");
        }
    }
    c->valid = 0;
    const unsigned char *data = NULL;
    chunk_owner co = { s[src].dk, s[src].m->id, s[src].m->image_id };
    int rc = chunk_read(&co, r, body.data, body.len, c->data, c->cap, &data);
    if (rc == 0 && data != c->data)        /* a raw record: kept past the body */
        memcpy(c->data, data, (size_t)r->length);
    s3_buf_free(&body);
    /* a plain record's failure reads "checksum mismatch" here (apply.c tells a record
     * that does not decompress apart): the message stays as it was */
    if (rc < 0)
        return ag_fail(ctx, rc == -ENOKEY ? AG_EKEY : AG_EINTEGRITY, "data object %s offset "
                       "%llu: %s (image offset %llu)", key, (unsigned long long)r->obj_offset,
                       rc == -EBADMSG ? "checksum mismatch" : chunk_read_error(rc),
                       (unsigned long long)r->offset);
    c->src = src;
    c->rec = rec;
    c->valid = 1;
    return 0;
}

int ordered_restore(ag_ctx *ctx, const plan *p, const apply_src *srcs,
                         const ordered_sink *o)
{
    cache c = { 0 };
    uint64_t bytes = o->bytes0;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < p->npieces; i++) {
        const plan_piece *pc = &p->pieces[i];
        if (ag_interrupted)
            rc = ag_fail(ctx, AG_EINTR, "interrupted");
        else if (pc->zero)
            rc = o->zero(o->arg, pc->dst_off, pc->len, pc->zero);
        else if ((rc = load_record(ctx, srcs, pc->src, pc->rec, &c)) == 0)
            rc = o->data(o->arg, pc->dst_off, c.data + pc->src_off, pc->len);
        if (rc == 0 && !pc->zero)
            bytes += pc->len;
        if (rc == 0 && o->prog != NULL)
            progress_update(o->prog, pc->dst_off + pc->len, p->size, bytes);
    }
    free(c.data);
    return rc;
}

typedef struct fd_out {
    ag_ctx *ctx;
    int fd;
} fd_out;

static int fd_data(void *arg, uint64_t off, const unsigned char *data, uint64_t len)
{
    fd_out *f = arg;
    (void)off;
    return write_all(f->ctx, f->fd, data, (size_t)len);
}

static int fd_zero(void *arg, uint64_t off, uint64_t len, int kind)
{
    fd_out *f = arg;
    (void)off;
    (void)kind;
    return write_zeros(f->ctx, f->fd, len);
}

int ordered_restore_fd(ag_ctx *ctx, const plan *p, const apply_src *srcs, int fd)
{
    fd_out f = { ctx, fd };
    ordered_sink o = { .data = fd_data, .zero = fd_zero, .arg = &f };
    return ordered_restore(ctx, p, srcs, &o);
}
