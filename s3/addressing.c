/* addressing.c - path-style or virtual-hosted requests: the choice, host names, targets (pure). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "s3/s3_internal.h"

/* The host name of an endpoint URL (no scheme, port, path), lower-cased, into out. */
static int endpoint_host(const char *ep, char *out, size_t outsz, int *https)
{
    const char *rest;
    if (!strncasecmp(ep, "http://", 7)) {
        rest = ep + 7;
        *https = 0;
    } else if (!strncasecmp(ep, "https://", 8)) {
        rest = ep + 8;
        *https = 1;
    } else {
        return -EINVAL;
    }
    size_t hl = strcspn(rest, "/?#");
    if (rest[0] == '[') {                 /* an IPv6 literal */
        const char *close = memchr(rest, ']', hl);
        if (!close)
            return -EINVAL;
        hl = (size_t)(close - rest) + 1;
    } else {
        hl = strcspn(rest, ":/?#");
    }
    if (!hl || hl >= outsz)
        return -EINVAL;
    for (size_t i = 0; i < hl; i++)
        out[i] = (char)(rest[i] >= 'A' && rest[i] <= 'Z' ? rest[i] + 32 : rest[i]);
    out[hl] = '\0';
    return 0;
}

static int ends_with(const char *s, const char *tail)
{
    size_t n = strlen(s), t = strlen(tail);
    return n >= t && !strcmp(s + n - t, tail);
}

/* 1 for the names of AWS's S3 endpoints: s3.amazonaws.com, s3.REGION.amazonaws.com,
 * s3-REGION.amazonaws.com, s3.dualstack.REGION.amazonaws.com, and the same under
 * amazonaws.com.cn. */
static int aws_host(const char *h)
{
    if (!ends_with(h, ".amazonaws.com") && !ends_with(h, ".amazonaws.com.cn"))
        return 0;
    return !strncmp(h, "s3.", 3) || !strncmp(h, "s3-", 3);
}

/* 1 when every label of h is digits only: an IPv4 address (or a name no DNS has). */
static int ip_host(const char *h)
{
    if (h[0] == '[')
        return 1;
    for (const char *p = h; *p; p++)
        if ((*p < '0' || *p > '9') && *p != '.')
            return 0;
    return 1;
}

int s3_bucket_dns_ok(const char *bucket, int https)
{
    size_t n = bucket ? strlen(bucket) : 0;
    if (n < 3 || n > 63 || bucket[0] == '.' || bucket[0] == '-' || bucket[n - 1] == '.' ||
        bucket[n - 1] == '-' || strstr(bucket, "..") || strstr(bucket, ".-") ||
        strstr(bucket, "-."))
        return 0;
    for (const char *p = bucket; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == '.'))
            return 0;
    if (ip_host(bucket))
        return 0;
    return !(https && strchr(bucket, '.'));   /* a wildcard certificate covers one label */
}

int s3_addressing_virtual(const char *endpoint, const char *bucket, int mode)
{
    char host[256];
    int https = 0;

    if (!endpoint || !bucket || endpoint_host(endpoint, host, sizeof(host), &https))
        return -EINVAL;
    if (mode == S3_ADDR_PATH)
        return 0;
    int dns_ok = s3_bucket_dns_ok(bucket, https);
    if (mode == S3_ADDR_VIRTUAL)
        return dns_ok && !ip_host(host) ? 1 : -EINVAL;
    if (mode != S3_ADDR_AUTO)
        return -EINVAL;
    return dns_ok && aws_host(host);
}

int s3_req_target(const s3_client *c, const char *key, const char *query, s3_sb *path,
                  s3_sb *url)
{
    s3_sb_init(path, 16 * 1024);
    s3_sb_init(url, 32 * 1024);
    s3_sb_adds(path, c->base_path);
    if (!c->virtual_host) {
        s3_sb_add(path, "/", 1);
        s3_sb_adds(path, c->bucket_enc);
    } else if (!key) {
        s3_sb_add(path, "/", 1);          /* the bucket itself: "/" */
    }
    if (key) {
        size_t need = s3_uri_encode(key, 1, NULL, 0) + 1;
        char *enc = malloc(need);
        if (!enc)
            return -ENOMEM;
        s3_uri_encode(key, 1, enc, need);
        s3_sb_add(path, "/", 1);
        s3_sb_adds(path, enc);
        free(enc);
    }
    s3_sb_adds(url, c->origin);
    if (path->p)
        s3_sb_adds(url, path->p);
    if (query && *query) {
        s3_sb_add(url, "?", 1);
        s3_sb_adds(url, query);
    }
    return path->err ? path->err : url->err;
}
