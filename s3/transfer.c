/* transfer.c - one attempt's transfer: the signed header list, the easy handle's options
 * and the curl callbacks that feed the body and collect the response. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <openssl/crypto.h>

#include "s3/s3_internal.h"

#define CONNECT_TIMEOUT_MS  10000
#define CURL_BUFFER         (128 * 1024)
#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION     "0"
#endif

/* ---- curl callbacks ---- */

static size_t on_read(char *buf, size_t size, size_t n, void *p)
{
    s3_req *r = p;
    size_t want = size * n;
    size_t left = r->s.body_len - r->body_pos;

    if (r->c->cancelled)
        return CURL_READFUNC_ABORT;
    if (want > left)
        want = left;
    uint64_t up = s3_rate_of(S3_RATE_UP);
    if (want && up) {
        size_t chunk = s3_rate_chunk(up);
        want = want < chunk ? want : chunk;
        if (!s3_rate_take(S3_RATE_UP, want)) {
            s3_rate_pause(r, S3_RATE_UP);
            return CURL_READFUNC_PAUSE;
        }
    }
    r->moved += want;
    if (want)
        memcpy(buf, (const unsigned char *)r->s.body + r->body_pos, want);
    r->body_pos += want;
    return want;
}

static int on_seek(void *p, curl_off_t off, int origin)
{
    s3_req *r = p;
    if (origin != SEEK_SET || off < 0 || (uint64_t)off > r->s.body_len)
        return CURL_SEEKFUNC_CANTSEEK;
    r->body_pos = (size_t)off;
    return CURL_SEEKFUNC_OK;
}

void s3_transfer_reset(s3_req *r)
{
    r->status = 0;
    r->content_length = -1;
    r->got = 0;
    r->etag[0] = '\0';
    r->errbody.len = 0;
    r->too_big = 0;
    r->too_long = 0;
    if (r->s.lock_out)
        memset(r->s.lock_out, 0, sizeof(*r->s.lock_out));
    if (r->s.sink == S3_SINK_BUF && r->s.buf)
        r->s.buf->len = 0;
}

/* Does the header line [buf, buf+len) carry name? Then *val points at its value. */
static int header_is(const char *buf, size_t len, const char *name, const char **val,
                     size_t *vlen)
{
    size_t nl = strlen(name);
    if (len <= nl || buf[nl] != ':' || strncasecmp(buf, name, nl))
        return 0;
    const char *v = buf + nl + 1;
    const char *end = buf + len;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
        end--;
    *val = v;
    *vlen = (size_t)(end - v);
    return 1;
}

static size_t on_header(char *buf, size_t size, size_t n, void *p)
{
    s3_req *r = p;
    size_t len = size * n;
    const char *v;
    size_t vl;

    r->moved += len;
    if (len > 5 && !memcmp(buf, "HTTP/", 5)) {
        const char *sp = memchr(buf, ' ', len);
        s3_transfer_reset(r);
        if (sp)
            r->status = (int)strtol(sp + 1, NULL, 10);
    } else if (header_is(buf, len, "etag", &v, &vl)) {
        while (vl && *v == '"') {
            v++;
            vl--;
        }
        while (vl && v[vl - 1] == '"')
            vl--;
        if (vl >= S3_ETAG_MAX)
            vl = S3_ETAG_MAX - 1;
        memcpy(r->etag, v, vl);
        r->etag[vl] = '\0';
    } else if (r->s.lock_out && header_is(buf, len, "x-amz-object-lock-mode", &v, &vl)) {
        r->s.lock_out->mode = vl == 10 && !strncasecmp(v, "GOVERNANCE", 10) ? S3_LOCK_GOVERNANCE
                              : vl == 10 && !strncasecmp(v, "COMPLIANCE", 10)
                              ? S3_LOCK_COMPLIANCE : S3_LOCK_NONE;
    } else if (r->s.lock_out &&
               header_is(buf, len, "x-amz-object-lock-retain-until-date", &v, &vl)) {
        char t[64];
        if (vl < sizeof(t)) {
            memcpy(t, v, vl);
            t[vl] = '\0';
            r->s.lock_out->until = s3_xml_parse_time(t);
        }
    } else if (header_is(buf, len, "content-length", &v, &vl)) {
        char num[32];
        if (vl < sizeof(num)) {
            memcpy(num, v, vl);
            num[vl] = '\0';
            r->content_length = strtoll(num, NULL, 10);
        }
    }
    return len;
}

static size_t on_write(char *ptr, size_t size, size_t n, void *p)
{
    s3_req *r = p;
    size_t len = size * n;

    if (r->c->cancelled)
        return 0;
    if (!s3_rate_take(S3_RATE_DOWN, len)) {
        s3_rate_pause(r, S3_RATE_DOWN);
        return CURL_WRITEFUNC_PAUSE;        /* curl holds the data and offers it again */
    }
    r->moved += len;
    if (r->status < 200 || r->status > 299) {
        /* an error document: keep its start, drop the rest */
        size_t room = S3_ERRBODY_MAX - r->errbody.len;
        size_t take = len < room ? len : room;
        if (take && s3_buf_reserve(&r->errbody, take, S3_ERRBODY_MAX) == 0) {
            memcpy(r->errbody.data + r->errbody.len, ptr, take);
            r->errbody.len += take;
        }
        return len;
    }
    switch (r->s.sink) {
    case S3_SINK_BUF: {
        s3_buf *b = r->s.buf;
        if (b->len + len > r->s.buf_max) {
            r->too_big = 1;
            return 0;
        }
        size_t pre = b->len ? 0 : s3_prealloc_size(r->content_length, r->s.buf_max);
        if (pre > len)
            s3_buf_reserve(b, pre, r->s.buf_max);   /* more comes as data arrives */
        if (s3_buf_reserve(b, len, r->s.buf_max))
            return 0;
        memcpy(b->data + b->len, ptr, len);
        b->len += len;
        break;
    }
    case S3_SINK_DST: {
        size_t limit = (r->s.flags & S3_REQ_RANGE_EXACT) ? r->s.expect_len : r->s.dst_cap;
        if (r->got + len > limit) {
            r->too_long = 1;
            return 0;
        }
        memcpy((unsigned char *)r->s.dst + r->got, ptr, len);
        break;
    }
    default:
        break;
    }
    r->got += len;
    return len;
}

static int on_debug(CURL *e, curl_infotype type, char *data, size_t size, void *p)
{
    (void)e;
    (void)p;
    if (type != CURLINFO_HEADER_OUT && type != CURLINFO_HEADER_IN)
        return 0;
    while (size) {
        char line[1024];
        const char *nl = memchr(data, '\n', size);
        size_t len = nl ? (size_t)(nl - data) + 1 : size;
        size_t copy = len < sizeof(line) ? len : sizeof(line) - 1;
        memcpy(line, data, copy);
        line[copy] = '\0';
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0])
            fprintf(stderr, "s3: %c %s\n", type == CURLINFO_HEADER_OUT ? '>' : '<',
                    s3_redact(line));
        data += len;
        size -= len;
    }
    return 0;
}

/* ---- the signed header list and the easy handle ---- */

/* Append the header line "<head><value>" to *l (any length up to 1 MiB: a session token
 * is sent whole). The temporary copy is wiped: the line may carry the token. */
static int add_header(struct curl_slist **l, const char *head, const char *value)
{
    s3_sb line;
    s3_sb_init(&line, 1024 * 1024);
    s3_sb_adds(&line, head);
    s3_sb_adds(&line, value ? value : "");
    int rc = line.err == -ENOMEM ? -ENOMEM : line.err ? -EINVAL : 0;
    struct curl_slist *nl = rc ? NULL : curl_slist_append(*l, line.p);
    if (line.p)
        OPENSSL_cleanse(line.p, line.len);
    s3_sb_free(&line);
    if (rc)
        return rc;
    if (!nl)
        return -ENOMEM;
    *l = nl;
    return 0;
}

/* The signed headers beyond Host, x-amz-date and x-amz-content-sha256, at most one each
 * of: x-amz-security-token, range, content-type, content-md5, x-amz-storage-class,
 * x-amz-object-lock-mode, x-amz-object-lock-retain-until-date, x-amz-copy-source,
 * x-amz-copy-source-range. */
#define SH_MAX      9
#define SH_LINE_MAX (1024 * 1024)   /* "name: value"; a session token can be long */

/* Those headers as "name: value" lines, each in its own allocation. */
typedef struct {
    const char *v[SH_MAX + 1];     /* NULL-terminated, for s3_sigv4_req.headers */
    int n;
} signed_hdrs;

/* Append "name: value" to h. 0, -ENOMEM, or -EINVAL (too long, or past SH_MAX). */
static int sh_add(signed_hdrs *h, const char *name, const char *value)
{
    s3_sb line;
    int rc;

    if (h->n >= SH_MAX)
        return -EINVAL;
    s3_sb_init(&line, SH_LINE_MAX);
    s3_sb_addf(&line, "%s: %s", name, value);
    if (line.err) {
        rc = line.err == -ENOMEM ? -ENOMEM : -EINVAL;
        s3_sb_free(&line);
        return rc;
    }
    h->v[h->n++] = line.p;
    h->v[h->n] = NULL;
    return 0;
}

/* Free h's lines, wiped first: one may hold the session token. */
static void sh_free(signed_hdrs *h)
{
    for (int i = 0; i < h->n; i++) {
        char *p = (char *)h->v[i];
        OPENSSL_cleanse(p, strlen(p));
        free(p);
    }
    h->n = 0;
    h->v[0] = NULL;
}

/* Fill h with the signed headers r carries (see SH_MAX). 0, -ENOMEM or -EINVAL. */
static int sh_fill(signed_hdrs *h, const s3_client *c, const s3_req *r)
{
    int rc = 0;

    if (c->cfg.session_token)
        rc = sh_add(h, "x-amz-security-token", c->cfg.session_token);
    if (!rc && r->range)
        rc = sh_add(h, "range", r->range);
    if (!rc && r->content_type)
        rc = sh_add(h, "content-type", r->content_type);
    if (!rc && r->content_md5)
        rc = sh_add(h, "content-md5", r->content_md5);
    if (!rc && r->storage_class)
        rc = sh_add(h, "x-amz-storage-class", r->storage_class);
    if (!rc && (r->s.flags & S3_REQ_LOCK) && s3_lock_mode_name(c->lock_mode)) {
        char until[32];
        s3_lock_time(c->lock_until, until);
        rc = sh_add(h, "x-amz-object-lock-mode", s3_lock_mode_name(c->lock_mode));
        if (!rc)
            rc = sh_add(h, "x-amz-object-lock-retain-until-date", until);
    }
    if (!rc && r->copy_source)
        rc = sh_add(h, "x-amz-copy-source", r->copy_source);
    if (!rc && r->copy_range)
        rc = sh_add(h, "x-amz-copy-source-range", r->copy_range);
    return rc;
}

int s3_transfer_sign(s3_client *c, s3_req *r)
{
    char auth[1024];
    char amz_date[17];
    signed_hdrs sh = { .n = 0 };
    int rc = sh_fill(&sh, c, r);

    if (rc) {
        sh_free(&sh);
        return rc;
    }
    s3_sigv4_req sr = {
        .method = r->s.method,
        .host = c->host,
        .path = r->path,
        .query = r->query,
        .headers = sh.v,
        .payload_sha256 = r->payload_sha,
        .region = c->cfg.region,
        .service = "s3",
        .access_key = c->cfg.access_key,
        .secret_key = c->cfg.secret_key,
        .now = c->hooks.wallclock ? c->hooks.wallclock(c->hooks.wallclock_arg) : time(NULL),
    };
    rc = s3_sigv4_sign(&sr, auth, sizeof(auth), amz_date);
    if (rc) {
        sh_free(&sh);
        return rc;
    }

    struct curl_slist *l = NULL;
    rc = add_header(&l, "Host: ", c->host);
    if (!rc)
        rc = add_header(&l, "x-amz-date: ", amz_date);
    if (!rc)
        rc = add_header(&l, "x-amz-content-sha256: ", r->payload_sha);
    for (int i = 0; i < sh.n && !rc; i++)
        rc = add_header(&l, sh.v[i], NULL);
    if (!rc && !r->content_type && !strcmp(r->s.method, "POST"))
        rc = add_header(&l, "Content-Type:", NULL);   /* not form-urlencoded */
    if (!rc)
        rc = add_header(&l, "Authorization: ", auth);
    if (!rc)
        rc = add_header(&l, "Expect:", NULL);
    if (!rc)
        rc = add_header(&l, "Accept:", NULL);
    sh_free(&sh);   /* the token is a secret; curl keeps its own copy */
    if (rc) {
        curl_slist_free_all(l);
        return rc;
    }
    r->hdrs = l;
    return 0;
}

/* curl's receive buffer: under a download limit at most one read callback's worth, so
 * that an answer is taken in steps the limit can spread. */
static size_t recv_buffer(void)
{
    uint64_t down = s3_rate_of(S3_RATE_DOWN);
    size_t chunk = down ? s3_rate_chunk(down) : CURL_BUFFER;
    return chunk < CURL_BUFFER ? chunk : CURL_BUFFER;
}

int s3_transfer_setup(s3_client *c, s3_req *r, CURL *e, int64_t remaining)
{
    long connect_ms = remaining < CONNECT_TIMEOUT_MS ? (long)remaining : CONNECT_TIMEOUT_MS;
    CURLcode cc = CURLE_OK;

#define SET(opt, val) do { if (cc == CURLE_OK) cc = curl_easy_setopt(e, opt, val); } while (0)
    SET(CURLOPT_URL, r->url);
    SET(CURLOPT_PRIVATE, (void *)r);
    SET(CURLOPT_HTTPHEADER, r->hdrs);
    SET(CURLOPT_ERRORBUFFER, r->curl_err);
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_TCP_NODELAY, 1L);
    SET(CURLOPT_TCP_KEEPALIVE, 1L);
    SET(CURLOPT_PATH_AS_IS, 1L);
    SET(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    SET(CURLOPT_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_BUFFERSIZE, (long)recv_buffer());
    SET(CURLOPT_USERAGENT, "rbd2s3/" PACKAGE_VERSION);
    SET(CURLOPT_CONNECTTIMEOUT_MS, connect_ms > 0 ? connect_ms : 1L);
    if (!r->limited) {
        /* under a bandwidth limit the engine checks both, paused time not counted */
        SET(CURLOPT_TIMEOUT_MS, remaining > 0 ? (long)remaining : 1L);
        SET(CURLOPT_LOW_SPEED_LIMIT, (long)S3_LOW_SPEED_BYTES);
        SET(CURLOPT_LOW_SPEED_TIME, (long)S3_LOW_SPEED_SECS);
    }
    SET(CURLOPT_SSL_VERIFYPEER, c->cfg.insecure ? 0L : 1L);
    SET(CURLOPT_SSL_VERIFYHOST, c->cfg.insecure ? 0L : 2L);
    if (c->cfg.ca_file)
        SET(CURLOPT_CAINFO, c->cfg.ca_file);
    SET(CURLOPT_HEADERFUNCTION, on_header);
    SET(CURLOPT_HEADERDATA, (void *)r);
    SET(CURLOPT_WRITEFUNCTION, on_write);
    SET(CURLOPT_WRITEDATA, (void *)r);
    if (c->trace >= 2) {
        SET(CURLOPT_DEBUGFUNCTION, on_debug);
        SET(CURLOPT_VERBOSE, 1L);
    }

    const char *m = r->s.method;
    if (!strcmp(m, "PUT")) {
        SET(CURLOPT_UPLOAD, 1L);
        SET(CURLOPT_INFILESIZE_LARGE, (curl_off_t)r->s.body_len);
    } else if (!strcmp(m, "POST")) {
        SET(CURLOPT_POST, 1L);
        SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->s.body_len);
    } else if (!strcmp(m, "HEAD")) {
        SET(CURLOPT_NOBODY, 1L);
    } else if (!strcmp(m, "GET")) {
        SET(CURLOPT_HTTPGET, 1L);
    } else {
        SET(CURLOPT_CUSTOMREQUEST, m);
    }
    if (!strcmp(m, "PUT") || !strcmp(m, "POST")) {
        SET(CURLOPT_READFUNCTION, on_read);
        SET(CURLOPT_READDATA, (void *)r);
        SET(CURLOPT_SEEKFUNCTION, on_seek);
        SET(CURLOPT_SEEKDATA, (void *)r);
    }
#undef SET
    if (cc == CURLE_OUT_OF_MEMORY)
        return -ENOMEM;
    return cc == CURLE_OK ? 0 : -EINVAL;
}
