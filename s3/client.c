/* client.c - the s3_client: configuration copy, endpoint parsing, cancel, lifetime. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <libxml/parser.h>
#include <openssl/crypto.h>

#include "s3/s3_internal.h"

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static int global_rc;

static void global_init(void)
{
    global_rc = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -ENOMEM;
    xmlInitParser();
    s3_xml_silence();
}

static int dup_opt(const char *src, const char **dst)
{
    *dst = NULL;
    if (!src)
        return 0;
    char *p = strdup(src);
    if (!p)
        return -ENOMEM;
    *dst = p;
    return 0;
}

static void free_secret(const char *s)
{
    if (!s)
        return;
    s3_redact_unregister(s);
    OPENSSL_cleanse((void *)s, strlen(s));
    free((void *)s);
}

/* head[0..hl) then, when virt, "BUCKET.", then name[0..nl): malloc'ed, NULL if no memory. */
static char *virtual_name(const char *head, size_t hl, const char *bucket, const char *name,
                          size_t nl, int virt)
{
    size_t bl = virt ? strlen(bucket) + 1 : 0;
    char *p = malloc(hl + bl + nl + 1);
    if (!p)
        return NULL;
    memcpy(p, head, hl);
    if (virt) {
        memcpy(p + hl, bucket, bl - 1);
        p[hl + bl - 1] = '.';
    }
    memcpy(p + hl + bl, name, nl);
    p[hl + bl + nl] = '\0';
    return p;
}

/* Split "http[s]://host[:port][/prefix][/]" into origin, Host header value and path
 * prefix. A default port (80 for http, 443 for https) is left out of Host, as curl does.
 * Virtual-hosted addressing puts "BUCKET." before the host in both. */
static int parse_endpoint(s3_client *c, const char *ep)
{
    const char *rest;
    int https;

    if (!strncasecmp(ep, "http://", 7)) {
        https = 0;
        rest = ep + 7;
    } else if (!strncasecmp(ep, "https://", 8)) {
        https = 1;
        rest = ep + 8;
    } else {
        return -EINVAL;
    }
    size_t hl = strcspn(rest, "/?#");
    if (!hl || rest[hl] == '?' || rest[hl] == '#' || memchr(rest, '@', hl))
        return -EINVAL;
    const char *prefix = rest + hl;
    size_t pl = strlen(prefix);
    while (pl && prefix[pl - 1] == '/')
        pl--;
    if (strcspn(prefix, "?#") < pl)
        return -EINVAL;

    int virt = s3_addressing_virtual(ep, c->cfg.bucket, c->cfg.addressing);
    if (virt < 0)
        return virt;
    c->virtual_host = virt;
    c->origin = virtual_name(ep, (size_t)(rest - ep), c->cfg.bucket, rest, hl, virt);
    c->base_path = strndup(prefix, pl);
    /* Host: without a default port */
    const char *colon = NULL;
    const char *close = memchr(rest, ']', hl);
    for (const char *p = close ? close : rest; p < rest + hl; p++)
        if (*p == ':')
            colon = p;
    size_t host_len = hl;
    if (colon) {
        const char *port = colon + 1;
        size_t port_len = (size_t)(rest + hl - port);
        if ((!https && port_len == 2 && !memcmp(port, "80", 2)) ||
            (https && port_len == 3 && !memcmp(port, "443", 3)) || port_len == 0)
            host_len = (size_t)(colon - rest);
    }
    c->host = virtual_name("", 0, c->cfg.bucket, rest, host_len, virt);
    c->unsigned_payload = c->cfg.payload_signing == S3_PAYLOAD_UNSIGNED ||
                          (c->cfg.payload_signing == S3_PAYLOAD_AUTO && https);
    if (!c->origin || !c->base_path || !c->host)
        return -ENOMEM;
    return 0;
}

int s3_client_new(const s3_config *cfg, s3_client **out)
{
    s3_client *c;
    int rc = 0;
    struct timespec ts;

    if (!out)
        return -EINVAL;
    *out = NULL;
    if (!cfg || !cfg->endpoint || !cfg->bucket || !*cfg->bucket || !cfg->access_key ||
        !*cfg->access_key || !cfg->secret_key || !*cfg->secret_key)
        return -EINVAL;
    pthread_once(&global_once, global_init);
    if (global_rc)
        return global_rc;

    c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    c->cfg = *cfg;
    c->cfg.endpoint = c->cfg.region = c->cfg.bucket = NULL;
    c->cfg.access_key = c->cfg.secret_key = c->cfg.session_token = c->cfg.ca_file = NULL;
    if (!rc)
        rc = dup_opt(cfg->endpoint, &c->cfg.endpoint);
    if (!rc)
        rc = dup_opt(cfg->region && *cfg->region ? cfg->region : "us-east-1", &c->cfg.region);
    if (!rc)
        rc = dup_opt(cfg->bucket, &c->cfg.bucket);
    if (!rc)
        rc = dup_opt(cfg->access_key, &c->cfg.access_key);
    if (!rc)
        rc = dup_opt(cfg->secret_key, &c->cfg.secret_key);
    if (!rc)
        rc = dup_opt(cfg->session_token && *cfg->session_token ? cfg->session_token : NULL,
                     &c->cfg.session_token);
    if (!rc)
        rc = dup_opt(cfg->ca_file && *cfg->ca_file ? cfg->ca_file : NULL, &c->cfg.ca_file);
    if (!rc) {
        s3_redact_register(c->cfg.secret_key);
        s3_redact_register(c->cfg.session_token);
        rc = parse_endpoint(c, c->cfg.endpoint);
    }
    if (!rc) {
        size_t need = s3_uri_encode(c->cfg.bucket, 0, NULL, 0) + 1;
        c->bucket_enc = malloc(need);
        if (!c->bucket_enc)
            rc = -ENOMEM;
        else
            s3_uri_encode(c->cfg.bucket, 0, c->bucket_enc, need);
    }
    if (!rc) {
        if (c->cfg.max_retries == 0)
            c->cfg.max_retries = S3_DEFAULT_RETRIES;
        else if (c->cfg.max_retries < 0)
            c->cfg.max_retries = 0;
        if (c->cfg.retry_time_ms <= 0)
            c->cfg.retry_time_ms = S3_DEFAULT_RETRY_MS;
        if (c->cfg.retry_time_ms > INT_MAX - S3_DEADLINE_SLACK_MS)
            c->cfg.retry_time_ms = INT_MAX - S3_DEADLINE_SLACK_MS;
        if (c->cfg.deadline_ms <= 0) {
            int slack = c->cfg.retry_time_ms + S3_DEADLINE_SLACK_MS;
            c->cfg.deadline_ms = slack > S3_DEFAULT_DEADLINE_MS ? slack : S3_DEFAULT_DEADLINE_MS;
        }
        if (c->cfg.max_conns <= 0)
            c->cfg.max_conns = S3_DEFAULT_CONNS;
        if (c->cfg.list_max_keys <= 0 || c->cfg.list_max_keys > 1000)
            c->cfg.list_max_keys = S3_DEFAULT_LIST_KEYS;
        c->idle = calloc((size_t)c->cfg.max_conns, sizeof(*c->idle));
        c->multi = curl_multi_init();
        if (!c->idle || !c->multi)
            rc = -ENOMEM;
    }
    if (!rc) {
        curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, (long)c->cfg.max_conns);
        clock_gettime(CLOCK_MONOTONIC, &ts);
        c->rng = ((uint64_t)ts.tv_sec * 1000000007u) ^ (uint64_t)ts.tv_nsec ^
                 ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)c;
        if (!c->rng)
            c->rng = 0x9e3779b97f4a7c15u;
        const char *tr = getenv("RBD2S3_S3_TRACE");
        c->trace = tr && *tr ? (int)strtol(tr, NULL, 10) : 0;
    }
    if (rc) {
        s3_client_free(c);
        return rc;
    }
    *out = c;
    return 0;
}

void s3_client_free(s3_client *c)
{
    if (!c)
        return;
    s3_engine_destroy(c);
    free(c->idle);
    free((void *)c->cfg.endpoint);
    free((void *)c->cfg.region);
    free((void *)c->cfg.bucket);
    free((void *)c->cfg.access_key);
    free_secret(c->cfg.secret_key);
    free_secret(c->cfg.session_token);
    free((void *)c->cfg.ca_file);
    free(c->origin);
    free(c->host);
    free(c->base_path);
    free(c->bucket_enc);
    free(c);
}

void s3_client_cancel(s3_client *c)
{
    if (c)
        c->cancelled = 1;
}

void s3_client_reset_cancel(s3_client *c)
{
    if (c)
        c->cancelled = 0;
}

void s3_client_set_warn(s3_client *c, void (*warn)(void *arg, const char *msg), void *arg)
{
    if (c) {
        c->cfg.warn = warn;
        c->cfg.warn_arg = arg;
    }
}

void s3_warn(s3_client *c, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    if (!c || !c->cfg.warn)
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    c->cfg.warn(c->cfg.warn_arg, line);
}

void s3_test_set_hooks(s3_client *c, const s3_test_hooks *h)
{
    if (!c)
        return;
    if (h)
        c->hooks = *h;
    else
        memset(&c->hooks, 0, sizeof(c->hooks));
}
