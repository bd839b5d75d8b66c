/* points.c - the raw image of a backup point over HTTP: the table of open readers, GET and
 * HEAD with one Range, the body streamed from the reader a block at a time. */
#include "agent/serve/serve_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void point_key(const naming_spec *spec, char *out, size_t n)
{
    char name[NAMING_SPEC_MAX];
    naming_spec_str(spec, name, sizeof(name));
    snprintf(out, n, "%s@%s", name, spec->at);
}

/* The HTTP status of reader_open's exit code. */
static int open_status(int code)
{
    switch (code) {
    case AG_ENOTFOUND:
        return MHD_HTTP_NOT_FOUND;
    case AG_EKEY:
    case AG_EACCESS:
        return MHD_HTTP_FORBIDDEN;
    case AG_EFAIL:
        return MHD_HTTP_INTERNAL_SERVER_ERROR;
    default:
        return MHD_HTTP_BAD_GATEWAY;
    }
}

/* A free slot of the table: an empty one, else the least recently used reader that no
 * response holds (closed here). NULL when every reader is in use. Under s->lock. */
static serve_point *free_slot(serve_server *s)
{
    serve_point *best = NULL;
    for (size_t i = 0; i < SERVE_READERS_MAX; i++) {
        serve_point *p = &s->pts[i];
        if (p->r == NULL)
            return p;
        if (p->refs == 0 && (best == NULL || p->used < best->used))
            best = p;
    }
    if (best != NULL) {
        reader_close(best->r);
        memset(best, 0, sizeof(*best));
    }
    return best;
}

serve_point *serve_points_get(serve_server *s, const naming_spec *spec, int *status,
                              char *why, size_t n)
{
    char key[sizeof(s->pts[0].key)];
    point_key(spec, key, sizeof(key));
    pthread_mutex_lock(&s->lock);
    serve_point *p = NULL;
    for (size_t i = 0; i < SERVE_READERS_MAX && p == NULL; i++)
        if (s->pts[i].r != NULL && strcmp(s->pts[i].key, key) == 0)
            p = &s->pts[i];
    if (p != NULL && spec->at[0] == '\0' && p->refs == 0 &&
        ag_now() - p->last > SERVE_NEWEST_IDLE) {
        /* "The newest", idle a while: a backup may have come since. While requests come,
         * the point stays the same, so that a client reading it sees one image. */
        reader_close(p->r);
        memset(p, 0, sizeof(*p));
    }
    if (p == NULL && (p = free_slot(s)) == NULL) {
        *status = MHD_HTTP_SERVICE_UNAVAILABLE;
        snprintf(why, n, "%d backup points in use: try again later", SERVE_READERS_MAX);
    }
    if (p != NULL && p->r == NULL) {
        /* Opened under the lock: one open per point, never two of the same. */
        int code = reader_open(s->ctx, spec, &s->o.reader, &p->r, why, n);
        if (code != 0) {
            p->r = NULL;
            *status = open_status(code);
            p = NULL;
        } else {
            snprintf(p->key, sizeof(p->key), "%s", key);
        }
    }
    if (p != NULL) {
        p->refs++;
        p->used = ++s->tick;
        p->last = ag_now();
    }
    pthread_mutex_unlock(&s->lock);
    return p;
}

void serve_points_put(serve_server *s, serve_point *p)
{
    pthread_mutex_lock(&s->lock);
    p->refs--;
    p->last = ag_now();
    pthread_mutex_unlock(&s->lock);
}

void serve_points_close(serve_server *s)
{
    for (size_t i = 0; i < SERVE_READERS_MAX; i++) {
        reader_close(s->pts[i].r);
        memset(&s->pts[i], 0, sizeof(s->pts[i]));
    }
}

/* A body being sent: [start, start + len) of the point, its first bytes read ahead (so
 * that a failure there is a 502, not a cut body). */
typedef struct body {
    serve_server *s;
    serve_point *p;
    uint64_t start, len;
    char *pre;
    size_t prelen;
} body;

static void body_free(void *cls)
{
    body *b = cls;
    serve_points_put(b->s, b->p);
    free(b->pre);
    free(b);
}

/* MHD's content reader: bytes from pos (relative to start) into buf. */
static ssize_t body_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    body *b = cls;
    if (pos >= b->len)
        return MHD_CONTENT_READER_END_OF_STREAM;
    size_t want = b->len - pos < max ? (size_t)(b->len - pos) : max;
    if (pos < b->prelen) {
        size_t k = b->prelen - pos < want ? (size_t)(b->prelen - pos) : want;
        memcpy(buf, b->pre + pos, k);
        return (ssize_t)k;
    }
    char why[256];
    ssize_t got = reader_read(b->p->r, b->start + pos, buf, want, why, sizeof(why));
    if (got <= 0) {
        ag_warn("serve: %s at %" PRIu64 ": %s: the response is cut", b->p->key,
                b->start + pos, got == 0 ? "past the end" : why);
        return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    return got;
}

/* Read the start of b before its headers: all of it up to SERVE_PREFETCH (a client's
 * ranged read: a failure is then a 502, never a cut body), else its first block. 0, or -1
 * with why set. */
static int body_prefetch(body *b, char *why, size_t n)
{
    size_t want = b->len <= SERVE_PREFETCH ? (size_t)b->len : SERVE_BLOCK;
    if (want == 0)
        return 0;
    if ((b->pre = malloc(want)) == NULL) {
        snprintf(why, n, "out of memory");
        return -1;
    }
    while (b->prelen < want) {
        ssize_t got = reader_read(b->p->r, b->start + b->prelen, b->pre + b->prelen,
                                  want - b->prelen, why, n);
        if (got <= 0) {
            if (got == 0)
                snprintf(why, n, "the point ends before its size");
            return -1;
        }
        b->prelen += (size_t)got;
    }
    return 0;
}

/* The headers every answer about a point carries. */
static void point_headers(struct MHD_Response *resp, const reader *r)
{
    char etag[NAMING_ID_LEN + 3], date[64];
    snprintf(etag, sizeof(etag), "\"%s\"", reader_backup_id(r));
    MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, etag);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_ACCEPT_RANGES, "bytes");
    const manifest *m = reader_manifest(r);
    struct tm tm;
    if (m != NULL && gmtime_r(&m->created, &tm) != NULL &&
        strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm) > 0)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_LAST_MODIFIED, date);
}

static enum MHD_Result unsatisfiable(struct MHD_Connection *c, const reader *r)
{
    char range[48];
    snprintf(range, sizeof(range), "bytes */%" PRIu64, reader_size(r));
    const char *text = "{\"error\": \"range not satisfiable\"}\n";
    struct MHD_Response *resp = MHD_create_response_from_buffer(strlen(text), (void *)text,
                                                                MHD_RESPMEM_PERSISTENT);
    if (resp == NULL)
        return MHD_NO;
    point_headers(resp, r);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_RANGE, range);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_RANGE_NOT_SATISFIABLE, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* Queue the 200 or 206 of b (which the response then owns). */
static enum MHD_Result queue_body(struct MHD_Connection *c, body *b, int part)
{
    const reader *r = b->p->r;
    struct MHD_Response *resp = MHD_create_response_from_callback(b->len, SERVE_BLOCK,
                                                                  body_read, b, body_free);
    if (resp == NULL) {
        body_free(b);
        return MHD_NO;
    }
    point_headers(resp, r);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/octet-stream");
    if (part) {
        char range[96];
        snprintf(range, sizeof(range), "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, b->start,
                 b->start + b->len - 1, reader_size(r));
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_RANGE, range);
    }
    enum MHD_Result ret = MHD_queue_response(c, part ? MHD_HTTP_PARTIAL_CONTENT : MHD_HTTP_OK,
                                             resp);
    MHD_destroy_response(resp);
    return ret;
}

enum MHD_Result serve_raw(serve_server *s, struct MHD_Connection *c, const naming_spec *spec,
                          int head)
{
    char why[512];
    int status = 0;
    serve_point *p = serve_points_get(s, spec, &status, why, sizeof(why));
    if (p == NULL)
        return serve_error(c, (unsigned)status, why);
    uint64_t size = reader_size(p->r), start = 0, len = size;
    const char *hdr = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_RANGE);
    int kind = serve_range_parse(hdr, size, &start, &len);
    if (kind == RANGE_UNSAT) {
        enum MHD_Result ret = unsatisfiable(c, p->r);
        serve_points_put(s, p);
        return ret;
    }
    body *b = calloc(1, sizeof(*b));
    if (b == NULL) {
        serve_points_put(s, p);
        return serve_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
    }
    *b = (body){ .s = s, .p = p, .start = start, .len = len };
    if (!head && body_prefetch(b, why, sizeof(why)) != 0) {
        ag_warn("serve: %s at %" PRIu64 ": %s: answered 502", p->key, start, why);
        body_free(b);
        return serve_error(c, MHD_HTTP_BAD_GATEWAY, why);
    }
    return queue_body(c, b, kind == RANGE_PART);
}
