/* context.c - the run context: errors and their exit codes, lazily opened S3 and Ceph handles. */
#include "agent/common/context.h"
#include "agent/common/termesc.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

volatile sig_atomic_t ag_interrupted;

static void (*ceph_timeout_hook)(void);   /* ag_on_ceph_timeout() */

void ag_on_ceph_timeout(void (*fn)(void))
{
    ceph_timeout_hook = fn;
}

int ag_fail(ag_ctx *ctx, int exit_code, const char *fmt, ...)
{
    if (ctx->exit_code != AG_OK)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx->errmsg, sizeof(ctx->errmsg), fmt, ap);
    va_end(ap);
    ctx->exit_code = ag_interrupted ? AG_EINTR : exit_code;
    return -1;
}

int ag_fail_s3(ag_ctx *ctx, int rc, const s3_error *err, const char *what)
{
    int code;
    switch (rc) {
    case -EACCES: code = AG_EACCESS; break;
    case -ENXIO: code = AG_ENOBUCKET; break;
    case -EHOSTUNREACH: case -ETIMEDOUT: code = AG_EUNREACH; break;
    case -ENOENT: code = AG_EINTEGRITY; break;
    case -ECANCELED: code = AG_EINTR; break;
    default: code = AG_EFAIL; break;
    }
    return ag_fail(ctx, code, "%s: %s", what, s3_strerror(rc, err));
}

int ag_fail_rbd(ag_ctx *ctx, int rc, const char *what)
{
    const char *why = rbdio_last_error();
    if (why == NULL || why[0] == '\0')
        why = strerror(-rc);
    char text[2048];
    snprintf(text, sizeof(text), "%s: %s", what, why);
    return ag_fail_rbd_why(ctx, rc, text);
}

int ag_fail_rbd_why(ag_ctx *ctx, int rc, const char *text)
{
    int code;
    switch (rc) {
    case -ENOENT: code = AG_ENOTFOUND; break;
    case -EEXIST: code = AG_EEXIST; break;
    case -ENOTCONN: case -ETIMEDOUT: case -EHOSTUNREACH: code = AG_ECEPH; break;
    default: code = AG_EFAIL; break;
    }
    if (rc == -ETIMEDOUT && ceph_timeout_hook != NULL)
        ceph_timeout_hook();      /* the cleanup may hang on the same cluster: bound it */
    return ag_fail(ctx, code, "%s", text);
}

/* Lines quote names and keys from the bucket: escaped for the terminal. clock: the
 * "[  1.234] " of a debug line, or "". A tag (ag_ctx) the text names already is left out. */
static void vline(const char *tag, const char *clock, const char *fmt, va_list ap)
{
    char buf[1024], esc[4096], tesc[1024];
    vsnprintf(buf, sizeof(buf), fmt, ap);
    int show = tag != NULL && strstr(buf, tag) == NULL;
    fprintf(stderr, "rbd2s3: %s%s%s%s\n", clock, show ? termesc(tag, tesc, sizeof(tesc)) : "",
            show ? ": " : "", termesc(buf, esc, sizeof(esc)));
}

void ag_warn(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vline(NULL, "", fmt, ap);
    va_end(ap);
}

void ag_info(const ag_ctx *ctx, const char *fmt, ...)
{
    if (ctx->opts.quiet)
        return;
    va_list ap;
    va_start(ap, fmt);
    vline(ctx->tag, "", fmt, ap);
    va_end(ap);
}

double ag_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double elapsed(void)
{
    static double t0;
    double now = ag_now();
    if (t0 == 0)
        t0 = now;
    return now - t0;
}

void ag_debug(const ag_ctx *ctx, const char *fmt, ...)
{
    if (!ctx->opts.verbose)
        return;
    char clock[32];
    snprintf(clock, sizeof(clock), "[%7.3f] ", elapsed());
    va_list ap;
    va_start(ap, fmt);
    vline(ctx->tag, clock, fmt, ap);
    va_end(ap);
}

/* 1 if url is http:// to a host other than localhost, 127.0.0.0/8 or [::1]. */
static int plain_http_remote(const char *url)
{
    if (strncasecmp(url, "http://", 7) != 0)
        return 0;
    const char *h = url + 7;
    size_t n = strcspn(h, "/?#");
    const char *at = memchr(h, '@', n);
    if (at != NULL) {
        n -= (size_t)(at + 1 - h);
        h = at + 1;
    }
    if (n >= 5 && strncmp(h, "[::1]", 5) == 0)
        return !(n == 5 || h[5] == ':');
    size_t hl = strcspn(h, ":/?#");
    hl = hl < n ? hl : n;
    if (hl == 9 && strncasecmp(h, "localhost", 9) == 0)
        return 0;
    unsigned a, b, c, d;
    char tail;
    char host[64];
    if (hl >= sizeof(host))
        return 1;
    memcpy(host, h, hl);
    host[hl] = '\0';
    return !(sscanf(host, "%u.%u.%u.%u%c", &a, &b, &c, &d, &tail) == 4 && a == 127 &&
             b < 256 && c < 256 && d < 256);
}

/* Said on every run that talks to S3: what an operator must not miss. */
static void warn_transport(const ag_opts *o)
{
    static atomic_int done;       /* run --jobs: each job's client comes here */
    if (atomic_fetch_add(&done, 1) > 0)
        return;
    if (o->insecure)
        ag_warn("warning: TLS certificate verification is off (insecure): anyone on the "
                "network path can pose as %s", o->endpoint);
    if (plain_http_remote(o->endpoint))
        ag_warn("warning: %s is plain http: backups and listings travel unencrypted and "
                "can be altered on the way; use https", o->endpoint);
}

/* The S3 client's warnings (entries of a listing it had to skip). */
static void s3_warning(void *arg, const char *msg)
{
    ag_info(arg, "warning: %s", msg);
}

/* The S3 retry time in ms from --retry-time / `retry time` (default 60 s, at most a
 * day; 0 turns retries off); -1 with a usage error recorded. */
static int retry_time_ms(ag_ctx *ctx, int *max_retries)
{
    long long secs = 60;
    const char *v = ctx->opts.retry_time;
    if (v != NULL && (ag_parse_duration(v, &secs) < 0 || secs > 86400))
        return ag_fail(ctx, AG_EUSAGE, "retry time: not a duration of at most a day (like "
                       "90s, 5m): '%s'", v);
    *max_retries = secs == 0 ? -1 : 0;
    return secs == 0 ? 1 : (int)(secs * 1000);
}

/* The bandwidth limits of the whole process, said with -v. */
static void set_rate_limits(const ag_ctx *ctx)
{
    char up[32] = "none", down[32] = "none";
    s3_set_rate_limits(ctx->opts.limit_upload, ctx->opts.limit_download);
    if (ctx->opts.limit_upload)
        ag_fmt_size(ctx->opts.limit_upload, up, sizeof(up));
    if (ctx->opts.limit_download)
        ag_fmt_size(ctx->opts.limit_download, down, sizeof(down));
    if (ctx->opts.limit_upload || ctx->opts.limit_download)
        ag_debug(ctx, "bandwidth limits: upload %s%s, download %s%s", up,
                 ctx->opts.limit_upload ? "/s" : "", down, ctx->opts.limit_download ? "/s" : "");
}

s3_client *ag_s3(ag_ctx *ctx)
{
    if (ctx->s3 != NULL)
        return ctx->s3;
    const ag_opts *o = &ctx->opts;
    if (o->endpoint == NULL || o->bucket == NULL) {
        ag_fail(ctx, AG_EUSAGE, "no S3 %s configured (--%s or the config file)",
                o->endpoint == NULL ? "endpoint" : "bucket",
                o->endpoint == NULL ? "endpoint" : "bucket");
        return NULL;
    }
    if (o->access_key == NULL || o->secret_key == NULL) {
        ag_fail(ctx, AG_EUSAGE, "no S3 credentials (set AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY, or access_key/secret_key in the config file)");
        return NULL;
    }
    s3_config cfg = {
        .endpoint = o->endpoint, .region = o->region, .bucket = o->bucket,
        .access_key = o->access_key, .secret_key = o->secret_key,
        .session_token = o->session_token, .ca_file = o->ca_file, .insecure = o->insecure,
        .max_conns = o->tun.parts_in_flight > o->tun.gets_in_flight
                     ? o->tun.parts_in_flight + 2 : o->tun.gets_in_flight + 2,
    };
    cfg.warn = s3_warning;
    cfg.warn_arg = ctx;
    cfg.retry_time_ms = retry_time_ms(ctx, &cfg.max_retries);
    if (cfg.retry_time_ms < 0)
        return NULL;
    const char *ps = o->payload_signing ? o->payload_signing : "auto";
    if (strcmp(ps, "auto") == 0) {
        cfg.payload_signing = S3_PAYLOAD_AUTO;
    } else if (strcmp(ps, "signed") == 0) {
        cfg.payload_signing = S3_PAYLOAD_SIGNED;
    } else if (strcmp(ps, "unsigned") == 0) {
        cfg.payload_signing = S3_PAYLOAD_UNSIGNED;
    } else {
        ag_fail(ctx, AG_EUSAGE, "payload signing must be auto, signed or unsigned, not '%s'", ps);
        return NULL;
    }
    cfg.addressing = o->addressing;
    if (o->addressing == S3_ADDR_VIRTUAL &&
        s3_addressing_virtual(o->endpoint, o->bucket, o->addressing) < 0) {
        ag_fail(ctx, AG_EUSAGE, "addressing = virtual needs a bucket name that can be a DNS "
                "label (a-z 0-9 -, no dot under https) and a host name endpoint, not '%s'",
                o->bucket);
        return NULL;
    }
    if (o->storage_class != NULL && !s3_storage_class_ok(o->storage_class)) {
        ag_fail(ctx, AG_EUSAGE, "storage class must be 1 to 64 of A-Z 0-9 _ (e.g. "
                "STANDARD_IA), not '%s'", o->storage_class);
        return NULL;
    }
    warn_transport(o);
    set_rate_limits(ctx);
    s3_client *c = NULL;
    int rc = s3_client_new(&cfg, &c);
    if (rc < 0) {
        ag_fail(ctx, AG_EUSAGE, "S3 client: %s", strerror(-rc));
        return NULL;
    }
    s3_error err;
    memset(&err, 0, sizeof(err));
    rc = s3_bucket_check(c, &err);
    if (rc < 0) {
        char what[600];
        snprintf(what, sizeof(what), "bucket %s at %s", o->bucket, o->endpoint);
        ag_fail_s3(ctx, rc, &err, what);
        s3_client_free(c);
        return NULL;
    }
    ctx->s3 = c;
    return c;
}

void ag_adopt(ag_ctx *ctx, const ag_ctx *sub)
{
    if (sub->s3 != NULL && sub->s3 != ctx->s3)
        s3_client_set_warn(sub->s3, s3_warning, ctx);
    ctx->s3 = sub->s3;
    ctx->src = sub->src;
}

rbdio_cluster *ag_cluster(ag_ctx *ctx)
{
    if (ctx->src != NULL)
        return ctx->src;
    int rc = rbdio_connect(ctx->opts.ceph_conf, ctx->opts.id, 0, &ctx->src);
    if (rc < 0) {
        ag_fail(ctx, AG_ECEPH, "cannot connect to the Ceph cluster: %s",
                rbdio_last_error()[0] ? rbdio_last_error() : strerror(-rc));
        ctx->src = NULL;
    }
    return ctx->src;
}

void ag_ctx_close(ag_ctx *ctx)
{
    if (ctx->s3 != NULL)
        s3_client_free(ctx->s3);
    if (ctx->src != NULL)
        rbdio_disconnect(ctx->src);
    ctx->s3 = NULL;
    ctx->src = NULL;
    for (int i = 0; i < ctx->opts.npools; i++) {
        free((char *)ctx->opts.pools[i].name);
        free(ctx->opts.pools[i].images);
        free(ctx->opts.pools[i].exclude);
        free(ctx->opts.pools[i].labels);
    }
    ctx->opts.npools = 0;
}

int ag_parse_size(const char *s, uint64_t *out)
{
    char *end = NULL;
    if (s[0] < '0' || s[0] > '9')
        return -EINVAL;         /* strtoull would take blanks and a sign ("-1": 2^64-1) */
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || end == s)
        return -EINVAL;
    uint64_t mul = 1;
    switch (*end) {
    case '\0': break;
    case 'k': case 'K': mul = 1ULL << 10; end++; break;
    case 'm': case 'M': mul = 1ULL << 20; end++; break;
    case 'g': case 'G': mul = 1ULL << 30; end++; break;
    case 't': case 'T': mul = 1ULL << 40; end++; break;
    default: return -EINVAL;
    }
    if (*end == 'i' || *end == 'B')
        end += (*end == 'i' && end[1] == 'B') ? 2 : 1;
    if (*end != '\0' || (v != 0 && v > UINT64_MAX / mul))
        return -EINVAL;
    *out = v * mul;
    return 0;
}

int ag_parse_rate(const char *s, uint64_t *out)
{
    char num[32];
    size_t n = strlen(s);
    if (n >= 2 && strcmp(s + n - 2, "/s") == 0)
        n -= 2;
    if (n == 0 || n >= sizeof(num))
        return -EINVAL;
    memcpy(num, s, n);
    num[n] = '\0';
    uint64_t v;
    if (ag_parse_size(num, &v) < 0 || (v != 0 && (v < AG_RATE_MIN || v > AG_RATE_MAX)))
        return -EINVAL;
    *out = v;
    return 0;
}

int ag_parse_duration(const char *s, long long *out)
{
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || end == s || v < 0 || s[0] == '-')
        return -EINVAL;
    long long mul = 1;
    switch (*end) {
    case '\0': break;
    case 's': mul = 1; end++; break;
    case 'm': mul = 60; end++; break;
    case 'h': mul = 3600; end++; break;
    case 'd': mul = 86400; end++; break;
    case 'w': mul = 7 * 86400; end++; break;
    default: return -EINVAL;
    }
    if (*end != '\0' || v > (long long)1e12 / mul)
        return -EINVAL;
    *out = v * mul;
    return 0;
}

void ag_fmt_size(uint64_t v, char *out, size_t outsz)
{
    static const char *units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
    double d = (double)v;
    int u = 0;
    while (d >= 1024.0 && u < 5) {
        d /= 1024.0;
        u++;
    }
    if (u == 0)
        snprintf(out, outsz, "%llu B", (unsigned long long)v);
    else
        snprintf(out, outsz, "%.2f %s", d, units[u]);
}

int ag_image_prefix(const ag_ctx *ctx, const naming_spec *spec, char *out, size_t outsz)
{
    return naming_image_prefix(ctx->opts.prefix, spec, out, outsz);
}

int ag_scope_prefix(ag_ctx *ctx, const naming_spec *spec, char *out, size_t outsz)
{
    const char *p = ctx->opts.prefix;
    if (spec != NULL ? ag_image_prefix(ctx, spec, out, outsz) < 0
                     : (size_t)snprintf(out, outsz, "%s%s", p, p[0] ? "/" : "") >= outsz)
        return ag_fail(ctx, AG_EUSAGE, "%s too long", spec != NULL ? "image name" : "prefix");
    return 0;
}

int ag_check_key_room(ag_ctx *ctx, const naming_spec *spec)
{
    char prefix[4096], name[NAMING_SPEC_MAX];
    int rc = ag_image_prefix(ctx, spec, prefix, sizeof(prefix));
    size_t len = rc == 0 ? strlen(prefix) : 0;
    if (rc == 0 && len + AG_KEY_TAIL_MAX <= AG_KEY_MAX)
        return 0;
    naming_spec_str(spec, name, sizeof(name));
    if (rc == -EINVAL)
        return ag_fail(ctx, AG_EUSAGE, "'%s': not an image name", name);
    if (rc == 0)
        return ag_fail(ctx, AG_EUSAGE, "image name %s is too long: its keys would exceed "
                       "the S3 limit of %d bytes (the escaped prefix alone is %zu bytes)",
                       name, AG_KEY_MAX, len);
    return ag_fail(ctx, AG_EUSAGE, "image name %s is too long: its keys would exceed the "
                   "S3 limit of %d bytes", name, AG_KEY_MAX);
}
