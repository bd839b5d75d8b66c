/* engine.c - the request engine: one curl multi handle, reused easy handles, signed retries. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "s3/s3_internal.h"

#define POLL_SLICE_MS       100      /* cancel is noticed within this */

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* xorshift64*: jitter only, not cryptography. */
static uint64_t rng_next(s3_client *c)
{
    uint64_t x = c->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    c->rng = x;
    return x * 0x2545F4914F6CDD1Du;
}

int64_t s3_backoff_bound_ms(int64_t base, int64_t cap, int attempt)
{
    int shift = attempt > 1 ? attempt - 1 : 0;
    int64_t bound = shift > 20 ? cap : base << shift;
    return bound > cap ? cap : bound;
}

int s3_engine_backoff_ms(s3_client *c, int attempt)
{
    int64_t base = c->hooks.backoff_base_ms > 0 ? c->hooks.backoff_base_ms : S3_BACKOFF_BASE_MS;
    int64_t cap = c->hooks.backoff_cap_ms > 0 ? c->hooks.backoff_cap_ms : S3_BACKOFF_CAP_MS;
    int64_t bound = s3_backoff_bound_ms(base, cap, attempt);
    int64_t d = (int64_t)(rng_next(c) % (uint64_t)(bound + 1));   /* full jitter */
    if (d < c->hooks.backoff_min_ms)
        d = c->hooks.backoff_min_ms;
    return (int)d;
}

int64_t s3_retry_wait_ms(int64_t now_ms, int64_t first_fail_ms, int64_t retry_ms,
                         int64_t backoff_ms)
{
    int64_t end = first_fail_ms + retry_ms;
    if (now_ms >= end)
        return -1;
    return now_ms + backoff_ms > end ? end - now_ms : backoff_ms;
}

size_t s3_prealloc_size(int64_t content_length, size_t max)
{
    if (content_length <= 0 || (uint64_t)content_length > max)
        return 0;
    return (uint64_t)content_length < S3_PREALLOC_MAX ? (size_t)content_length
                                                       : S3_PREALLOC_MAX;
}

/* ---- queues ---- */

static void push_tail(s3_req **head, s3_req **tail, s3_req *r)
{
    r->next = NULL;
    if (*tail)
        (*tail)->next = r;
    else
        *head = r;
    *tail = r;
}

static void push_head(s3_req **head, s3_req **tail, s3_req *r)
{
    r->next = *head;
    *head = r;
    if (!*tail)
        *tail = r;
}

static void unlink_after(s3_req **head, s3_req **tail, s3_req *prev, s3_req *r)
{
    if (prev)
        prev->next = r->next;
    else
        *head = r->next;
    if (*tail == r)
        *tail = prev;
    r->next = NULL;
}

static void req_free(s3_req *r)
{
    if (!r)
        return;
    curl_slist_free_all(r->hdrs);
    s3_buf_free(&r->errbody);
    free(r->url);
    free(r->path);
    free(r->query);
    free(r->range);
    free(r->content_type);
    free(r->content_md5);
    free(r->storage_class);
    free(r->copy_source);
    free(r->copy_range);
    free(r);
}

static void set_message(s3_error *e, const char *msg)
{
    s3_strlcpy(e->message, s3_redact(msg), sizeof(e->message));
}

/* The request is over: queue its callback. */
static void finish(s3_client *c, s3_req *r, int rc)
{
    r->rc = rc;
    push_tail(&c->done_head, &c->done_tail, r);
}

static void trace_attempt(s3_client *c, s3_req *r, const char *what)
{
    if (!c->trace)
        return;
    char line[1024];
    snprintf(line, sizeof(line), "s3: %s %s%s%s -> %d (attempt %d, %" PRId64 " ms) %s",
             r->s.method, r->path, r->query[0] ? "?" : "", r->query, r->status, r->attempts,
             mono_ms() - r->attempt_start_ms, what);
    fprintf(stderr, "%s\n", s3_redact(line));
}

/* ---- attempts ---- */

static CURL *take_easy(s3_client *c)
{
    if (c->nidle)
        return c->idle[--c->nidle];
    return curl_easy_init();
}

static void give_easy(s3_client *c, CURL *e)
{
    if (c->nidle < c->cfg.max_conns)
        c->idle[c->nidle++] = e;
    else
        curl_easy_cleanup(e);
}

/* Start the next attempt of r; on failure r is finished. */
static void start_attempt(s3_client *c, s3_req *r)
{
    int64_t now = mono_ms();
    int rc;

    if (!r->started_ms) {
        r->started_ms = now;
        r->deadline_ms = now + c->cfg.deadline_ms;
    }
    if (now >= r->deadline_ms) {
        if (!r->err.message[0])
            set_message(&r->err, "deadline passed before the request could start");
        finish(c, r, -ETIMEDOUT);
        return;
    }
    r->attempts++;
    r->attempt_start_ms = now;
    r->body_pos = 0;
    r->curl_err[0] = '\0';
    s3_transfer_reset(r);
    s3_rate_attempt_start(r, now);
    curl_slist_free_all(r->hdrs);
    r->hdrs = NULL;

    CURL *e = take_easy(c);
    if (!e) {
        set_message(&r->err, "out of memory for a transfer handle");
        finish(c, r, -ENOMEM);
        return;
    }
    rc = s3_transfer_sign(c, r);
    if (!rc)
        rc = s3_transfer_setup(c, r, e, r->deadline_ms - now);
    if (!rc && curl_multi_add_handle(c->multi, e) != CURLM_OK)
        rc = -ENOMEM;
    if (rc) {
        curl_easy_reset(e);
        give_easy(c, e);
        set_message(&r->err, rc == -ENOMEM ? "out of memory" : "cannot set up the request");
        finish(c, r, rc);
        return;
    }
    r->easy = e;
    push_tail(&c->run_head, &c->run_tail, r);
    c->running++;
}

/* Take r's transfer off the multi handle and give its easy handle back to the pool. */
static void detach(s3_client *c, s3_req *r)
{
    if (!r->easy)
        return;
    s3_req *prev = NULL;
    for (s3_req *q = c->run_head; q; prev = q, q = q->next) {
        if (q == r) {
            unlink_after(&c->run_head, &c->run_tail, prev, r);
            break;
        }
    }
    curl_multi_remove_handle(c->multi, r->easy);
    if (r->throttled) {
        curl_easy_cleanup(r->easy);     /* a paused handle is not reused */
        s3_rate_unpause(r, mono_ms());  /* the time paused is not the retry's to lose */
    } else {
        curl_easy_reset(r->easy);
        give_easy(c, r->easy);
    }
    r->easy = NULL;
    curl_slist_free_all(r->hdrs);
    r->hdrs = NULL;
    c->running--;
}

/* Did the attempt fail because the server's certificate could not be verified (or the
 * means to verify it, a CA or CRL file, are unusable)? That is final: another attempt
 * meets the same certificate, so it is not retried, and it is reported as -EPROTO.
 * CURLE_SSL_CONNECT_ERROR is not one of these: it also covers handshakes cut by the
 * network, and stays a retryable transfer error. */
static int tls_verify_failed(CURLcode cc)
{
    switch (cc) {
    case CURLE_PEER_FAILED_VERIFICATION:   /* untrusted chain, expired, wrong host name */
    case CURLE_SSL_CACERT_BADFILE:         /* the CA file cannot be read or parsed */
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
        return 1;
    default:
        return 0;
    }
}

/* An attempt ended: success, a final failure, or a retry after a backoff. */
static void attempt_end(s3_client *c, s3_req *r, CURLcode cc)
{
    int64_t now = mono_ms();
    int rc = 0;
    int retry = 0;
    s3_error e;
    char msg[256];

    detach(c, r);
    memset(&e, 0, sizeof(e));
    e.http_status = r->status;
    if (c->cancelled) {
        rc = -ECANCELED;
        set_message(&e, "cancelled");
    } else if (r->too_big) {
        rc = -EFBIG;
        snprintf(msg, sizeof(msg), "answer larger than %zu bytes", r->s.buf_max);
        set_message(&e, msg);
    } else if (r->too_long) {
        rc = -EIO;
        snprintf(msg, sizeof(msg), "answer longer than the %zu bytes asked for",
                 r->s.expect_len);
        set_message(&e, msg);
    } else if (cc != CURLE_OK && tls_verify_failed(cc)) {
        /* s3_strerror() puts "TLS certificate verification failed" before curl's text */
        char tmsg[CURL_ERROR_SIZE + 96];
        snprintf(tmsg, sizeof(tmsg), "%s%s",
                 r->curl_err[0] ? r->curl_err : curl_easy_strerror(cc),
                 cc == CURLE_PEER_FAILED_VERIFICATION && !c->cfg.ca_file
                 ? " (for a private CA, name its certificate with --ca-file or 'ca file')" : "");
        set_message(&e, tmsg);
        rc = -EPROTO;
        retry = 0;
    } else if (cc != CURLE_OK) {
        set_message(&e, r->curl_err[0] ? r->curl_err : curl_easy_strerror(cc));
        rc = s3_err_from_curl(cc);
        retry = s3_err_curl_retryable(cc);
        if (cc == CURLE_OPERATION_TIMEDOUT && now >= r->deadline_ms - 1) {
            rc = -ETIMEDOUT;
            retry = 0;
        }
    } else if (r->status < 200 || r->status > 299) {
        s3_xml_error(r->errbody.data, r->errbody.len, e.code, sizeof(e.code),
                     e.message, sizeof(e.message));
        set_message(&e, e.message);
        rc = s3_err_from_http(r->status, e.code);
        retry = s3_err_http_retryable(r->status, e.code);
    } else if (r->s.sink == S3_SINK_DST && (r->s.flags & S3_REQ_RANGE_EXACT) &&
               r->got != r->s.expect_len) {
        rc = -EIO;
        snprintf(msg, sizeof(msg), "short body: %zu of %zu bytes", r->got, r->s.expect_len);
        set_message(&e, msg);
        /* a complete answer of the wrong length will not change; a cut one may */
        retry = r->content_length < 0 || (uint64_t)r->content_length != r->got;
    } else if ((r->s.flags & S3_REQ_XML_ERR200) && r->s.sink == S3_SINK_BUF &&
               s3_xml_error(r->s.buf->data, r->s.buf->len, e.code, sizeof(e.code),
                            e.message, sizeof(e.message))) {
        if (!e.code[0])
            s3_strlcpy(e.code, "InternalError", sizeof(e.code));
        set_message(&e, e.message);
        rc = s3_err_from_http(200, e.code);
        retry = s3_err_http_retryable(200, e.code);
    }

    if (rc == 0) {
        trace_attempt(c, r, "ok");
        memset(&r->err, 0, sizeof(r->err));
        r->err.http_status = r->status;
        finish(c, r, 0);
        return;
    }
    r->err = e;
    char what[400];
    if (retry && r->attempts <= c->cfg.max_retries) {
        if (!r->first_fail_ms)
            r->first_fail_ms = now;
        int64_t delay = s3_retry_wait_ms(now, r->first_fail_ms, c->cfg.retry_time_ms,
                                         s3_engine_backoff_ms(c, r->attempts));
        if (delay >= 0 && now + delay < r->deadline_ms) {
            snprintf(what, sizeof(what), "%s %s; retry in %d ms", e.code, e.message,
                     (int)delay);
            trace_attempt(c, r, what);
            r->not_before_ms = now + delay;
            push_tail(&c->wait_head, &c->wait_tail, r);
            return;
        }
        /* no time left: a refused connection stays "unreachable", the rest timed out */
        rc = rc == -EHOSTUNREACH ? rc : -ETIMEDOUT;
        char gave[sizeof(e.message) + 64];
        snprintf(gave, sizeof(gave), "%s (still failing after %d attempts in %lld s)",
                 e.message, r->attempts, (long long)((now - r->started_ms + 999) / 1000));
        set_message(&r->err, gave);
    }
    snprintf(what, sizeof(what), "%s %s; failed", e.code, e.message);
    trace_attempt(c, r, what);
    finish(c, r, rc);
}

/* Start queued requests whose timer has passed, while connections are free. */
static void start_ready(s3_client *c)
{
    int64_t now = mono_ms();
    s3_req *prev = NULL;
    s3_req *r = c->wait_head;

    while (r && c->running < c->cfg.max_conns) {
        s3_req *next = r->next;
        if (r->not_before_ms <= now) {
            unlink_after(&c->wait_head, &c->wait_tail, prev, r);
            start_attempt(c, r);
        } else {
            prev = r;
        }
        r = next;
    }
}

/* ms until the next queued request may start (-1: none can start now or later). */
static int64_t next_timer(s3_client *c)
{
    int64_t best = -1;
    int64_t now = mono_ms();
    if (c->running >= c->cfg.max_conns)
        return -1;
    for (s3_req *r = c->wait_head; r; r = r->next) {
        int64_t d = r->not_before_ms > now ? r->not_before_ms - now : 0;
        if (best < 0 || d < best)
            best = d;
    }
    return best;
}

/* Finish every request with rc (cancel, or an engine failure). */
static void finish_all(s3_client *c, int rc, const char *msg)
{
    s3_req *r;
    while ((r = c->run_head) != NULL) {
        detach(c, r);
        memset(&r->err, 0, sizeof(r->err));
        set_message(&r->err, msg);
        finish(c, r, rc);
    }
    while ((r = c->wait_head) != NULL) {
        unlink_after(&c->wait_head, &c->wait_tail, NULL, r);
        r->err.http_status = 0;
        r->err.code[0] = '\0';
        set_message(&r->err, msg);
        finish(c, r, rc);
    }
}

static void collect(s3_client *c)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(c->multi, &left)) != NULL) {
        if (m->msg != CURLMSG_DONE)
            continue;
        s3_req *r = NULL;
        CURLcode cc = m->data.result;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
        if (r)
            attempt_end(c, r, cc);
    }
}

static int run_callbacks(s3_client *c)
{
    int ran = 0;
    s3_req *r;
    while ((r = c->done_head) != NULL) {
        unlink_after(&c->done_head, &c->done_tail, NULL, r);
        c->pending--;
        if (r->s.done)
            r->s.done(r);
        req_free(r);
        ran++;
    }
    return ran;
}

int s3_engine_submit(s3_client *c, const s3_req_spec *spec)
{
    s3_req *r;
    s3_sb path, url;
    int rc = 0;

    if (!c || !spec || !spec->method || !spec->done)
        return -EINVAL;
    if (spec->key && (!*spec->key || strlen(spec->key) > S3_KEY_MAX))
        return -EINVAL;
    if (spec->body_len && !spec->body)
        return -EINVAL;
    if (spec->sink == S3_SINK_BUF && !spec->buf)
        return -EINVAL;
    if (spec->sink == S3_SINK_DST && (!spec->dst || spec->expect_len > spec->dst_cap))
        return -EINVAL;
    r = calloc(1, sizeof(*r));
    if (!r)
        return -ENOMEM;
    r->c = c;
    r->s = *spec;
    r->content_length = -1;

    rc = s3_req_target(c, spec->key, spec->query, &path, &url);
    if (!rc) {
        r->path = path.p;
        r->url = url.p;
        path.p = url.p = NULL;
        r->query = strdup(spec->query ? spec->query : "");
        r->range = spec->range ? strdup(spec->range) : NULL;
        r->content_type = spec->content_type ? strdup(spec->content_type) : NULL;
        r->content_md5 = spec->content_md5 ? strdup(spec->content_md5) : NULL;
        r->storage_class = spec->storage_class ? strdup(spec->storage_class) : NULL;
        if (!r->query || (spec->range && !r->range) ||
            (spec->content_type && !r->content_type) ||
            (spec->content_md5 && !r->content_md5) ||
            (spec->storage_class && !r->storage_class))
            rc = -ENOMEM;
        if (!rc && spec->copy_source && !(r->copy_source = strdup(spec->copy_source)))
            rc = -ENOMEM;
        if (!rc && spec->copy_range && !(r->copy_range = strdup(spec->copy_range)))
            rc = -ENOMEM;
    }
    s3_sb_free(&path);
    s3_sb_free(&url);
    if (rc) {
        req_free(r);
        return rc == -ENOSPC ? -EINVAL : rc;
    }
    r->s.key = r->s.query = r->s.range = r->s.content_type = r->s.content_md5 = NULL;
    r->s.storage_class = NULL;
    r->s.copy_source = r->s.copy_range = NULL;
    if (c->unsigned_payload && spec->body_len >= S3_UNSIGNED_MIN)
        snprintf(r->payload_sha, sizeof(r->payload_sha), "UNSIGNED-PAYLOAD");
    else
        s3_sha256_hex(spec->body, spec->body_len, r->payload_sha);
    if (spec->flags & S3_REQ_PRIORITY)
        push_head(&c->wait_head, &c->wait_tail, r);
    else
        push_tail(&c->wait_head, &c->wait_tail, r);
    c->pending++;
    return 0;
}

int s3_engine_run(s3_client *c, int timeout_ms, volatile int *stop)
{
    int64_t end = mono_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    int ran = 0;

    if (!c)
        return -EINVAL;
    for (;;) {
        int still = 0;
        CURLMcode mc;

        if (c->cancelled)
            finish_all(c, -ECANCELED, "cancelled");
        start_ready(c);
        s3_req *lr;     /* under a bandwidth limit: resume paused transfers, end overdue */
        CURLcode lcc;
        while ((lr = s3_rate_tick(c, mono_ms(), &lcc)) != NULL)
            attempt_end(c, lr, lcc);
        mc = curl_multi_perform(c->multi, &still);
        if (mc != CURLM_OK)
            finish_all(c, mc == CURLM_OUT_OF_MEMORY ? -ENOMEM : -EIO, curl_multi_strerror(mc));
        collect(c);
        ran += run_callbacks(c);
        if (ran > 0 || (stop && *stop) || c->pending == 0)
            return ran;

        int64_t now = mono_ms();
        if (now >= end)
            return ran;
        int64_t wait = end - now;
        int64_t t = next_timer(c);
        if (t >= 0 && t < wait)
            wait = t;
        t = s3_rate_poll_ms(c);
        if (t >= 0 && t < wait)
            wait = t;
        if (wait > POLL_SLICE_MS)
            wait = POLL_SLICE_MS;
        if (wait > 0) {
            mc = curl_multi_poll(c->multi, NULL, 0, (int)wait, NULL);
            if (mc != CURLM_OK && mc != CURLM_UNRECOVERABLE_POLL)
                finish_all(c, -EIO, curl_multi_strerror(mc));
        }
        if (atomic_exchange(&c->woken, 0))
            return ran;
    }
}

void s3_async_wakeup(s3_client *c)
{
    if (c && c->multi) {
        atomic_store(&c->woken, 1);
        curl_multi_wakeup(c->multi);
    }
}

void s3_engine_destroy(s3_client *c)
{
    if (c->multi) {
        finish_all(c, -ECANCELED, "client freed");
        run_callbacks(c);
    }
    for (int i = 0; i < c->nidle; i++)
        curl_easy_cleanup(c->idle[i]);
    c->nidle = 0;
    if (c->multi)
        curl_multi_cleanup(c->multi);
    c->multi = NULL;
}

/* ---- the public driving calls ---- */

int s3_async_pending(s3_client *c)
{
    return c ? c->pending : 0;
}

int s3_async_run(s3_client *c, int timeout_ms)
{
    return s3_engine_run(c, timeout_ms, NULL);
}

int s3_async_drain(s3_client *c)
{
    if (!c)
        return -EINVAL;
    while (c->pending > 0) {
        int rc = s3_engine_run(c, 1000, NULL);
        if (rc < 0)
            return rc;
    }
    return 0;
}
