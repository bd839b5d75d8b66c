/* sigv4.c - AWS Signature Version 4 for S3, SHA-256, Content-MD5, SigV4 URI encoding (pure). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "s3/s3_internal.h"

#define SIGV4_MAX_HEADERS   64
#define SIGV4_CANON_MAX     (256 * 1024)

static void to_hex(const unsigned char *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

void s3_sha256_hex(const void *data, size_t len, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;

    if (EVP_Digest(data ? data : "", len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32) {
        out[0] = '\0';   /* only on allocation failure inside OpenSSL; the signature fails */
        return;
    }
    to_hex(md, 32, out);
}

void s3_md5_base64(const void *data, size_t len, char out[25])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;

    out[0] = '\0';
    if (EVP_Digest(data ? data : "", len, md, &mdlen, EVP_md5(), NULL) != 1 || mdlen != 16)
        return;   /* MD5 unavailable (FIPS) or no memory: the server refuses the request */
    EVP_EncodeBlock((unsigned char *)out, md, 16);
}

int s3_multipart_etag(const s3_part *parts, int nparts, char out[S3_ETAG_MAX])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    out[0] = '\0';
    if (parts == NULL || nparts < 1 || nparts > 10000)
        return -EINVAL;
    unsigned char *cat = malloc((size_t)nparts * 16);
    if (cat == NULL)
        return -ENOMEM;
    for (int i = 0; i < nparts; i++) {
        size_t got = 0;
        if (strlen(parts[i].etag) != 32 ||
            OPENSSL_hexstr2buf_ex(cat + (size_t)i * 16, 16, &got, parts[i].etag, '\0') != 1 ||
            got != 16) {
            free(cat);
            return -EINVAL;
        }
    }
    int ok = EVP_Digest(cat, (size_t)nparts * 16, md, &mdlen, EVP_md5(), NULL) == 1 &&
             mdlen == 16;
    free(cat);
    if (!ok)
        return -EIO;
    to_hex(md, 16, out);
    snprintf(out + 32, S3_ETAG_MAX - 32, "-%d", nparts);
    return 0;
}

static int is_unreserved(unsigned char ch)
{
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
           ch == '-' || ch == '_' || ch == '.' || ch == '~';
}

size_t s3_uri_encode(const char *in, int keep_slash, char *out, size_t outsz)
{
    static const char digits[] = "0123456789ABCDEF";
    size_t need = 0;
    size_t w = 0;
    int full = 0;

    for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
        if (is_unreserved(*p) || (keep_slash && *p == '/')) {
            if (!full && w + 1 < outsz)
                out[w++] = (char)*p;
            else
                full = 1;
            need += 1;
        } else {
            if (!full && w + 3 < outsz) {
                out[w++] = '%';
                out[w++] = digits[*p >> 4];
                out[w++] = digits[*p & 15];
            } else {
                full = 1;
            }
            need += 3;
        }
    }
    if (outsz)
        out[w] = '\0';
    return need;
}

/* One canonical header: "name:value" with the name lower-cased. */
struct canon_hdr {
    char *line;
    size_t namelen;
};

static int canon_hdr_cmp(const void *a, const void *b)
{
    const struct canon_hdr *x = a;
    const struct canon_hdr *y = b;
    size_t n = x->namelen < y->namelen ? x->namelen : y->namelen;
    int r = memcmp(x->line, y->line, n);
    if (r)
        return r;
    return (x->namelen > y->namelen) - (x->namelen < y->namelen);
}

/* Query parameters sort by name, then by value. */
static int param_cmp(const void *a, const void *b)
{
    int r = canon_hdr_cmp(a, b);
    if (r)
        return r;
    return strcmp(((const struct canon_hdr *)a)->line, ((const struct canon_hdr *)b)->line);
}

static int is_space(char ch)
{
    return ch == ' ' || ch == '\t';
}

/* Build "name:value" from "Name:  some   value " (lower-cased name, trimmed and
 * collapsed value). Returns NULL on a malformed line or out of memory. */
static char *canon_header(const char *h, size_t *namelen)
{
    const char *colon = strchr(h, ':');
    if (!colon || colon == h)
        return NULL;
    size_t nl = (size_t)(colon - h);
    while (nl && is_space(h[nl - 1]))
        nl--;
    if (!nl)
        return NULL;
    const char *v = colon + 1;
    size_t vl = strlen(v);
    char *out = malloc(nl + 1 + vl + 1);
    if (!out)
        return NULL;
    for (size_t i = 0; i < nl; i++) {
        char ch = h[i];
        out[i] = (ch >= 'A' && ch <= 'Z') ? (char)(ch - 'A' + 'a') : ch;
    }
    size_t w = nl;
    out[w++] = ':';
    while (*v && is_space(*v))
        v++;
    int pending_space = 0;
    for (; *v; v++) {
        if (is_space(*v) || *v == '\r' || *v == '\n') {
            pending_space = 1;
            continue;
        }
        if (pending_space && w > nl + 1)
            out[w++] = ' ';
        pending_space = 0;
        out[w++] = *v;
    }
    out[w] = '\0';
    *namelen = nl;
    return out;
}

/* The signer owns these three; callers' copies are ignored. */
static int signer_owned(const char *line, size_t namelen)
{
    return (namelen == 4 && !memcmp(line, "host", 4)) ||
           (namelen == 10 && !memcmp(line, "x-amz-date", 10)) ||
           (namelen == 20 && !memcmp(line, "x-amz-content-sha256", 20));
}

/* The query's parameters sorted, each with '=' (values are taken as already encoded). */
static int canon_query(const char *q, s3_sb *out)
{
    if (!q || !*q)
        return 0;
    size_t n = 1;
    for (const char *p = q; *p; p++)
        n += *p == '&';
    struct canon_hdr *params = calloc(n, sizeof(*params));
    if (!params)
        return -ENOMEM;
    size_t np = 0;
    int rc = 0;
    const char *p = q;
    while (*p) {
        const char *amp = strchr(p, '&');
        size_t len = amp ? (size_t)(amp - p) : strlen(p);
        if (len) {
            const char *eq = memchr(p, '=', len);
            char *s = malloc(len + 2);
            if (!s) {
                rc = -ENOMEM;
                break;
            }
            memcpy(s, p, len);
            s[len] = '\0';
            if (!eq) {
                s[len] = '=';
                s[len + 1] = '\0';
            }
            params[np].line = s;
            params[np].namelen = eq ? (size_t)(eq - p) : len;
            np++;
        }
        p += len;
        if (*p == '&')
            p++;
    }
    if (!rc) {
        qsort(params, np, sizeof(*params), param_cmp);
        for (size_t i = 0; i < np; i++) {
            if (i)
                s3_sb_add(out, "&", 1);
            s3_sb_adds(out, params[i].line);
        }
        rc = out->err;
    }
    for (size_t i = 0; i < np; i++)
        free(params[i].line);
    free(params);
    return rc;
}

static int hmac256(const void *key, size_t keylen, const void *msg, size_t msglen,
                   unsigned char out[32])
{
    unsigned int outlen = 0;
    if (!HMAC(EVP_sha256(), key, (int)keylen, msg, msglen, out, &outlen) || outlen != 32)
        return -ENOMEM;
    return 0;
}

/* The signature (hex) of string_to_sign under the derived SigV4 signing key. */
static int sign_string(const char *secret, const char *date, const char *region,
                       const char *service, const char *sts, char sig[65])
{
    s3_sb k;
    unsigned char kdate[32], kregion[32], kservice[32], ksigning[32], mac[32];
    int rc;

    s3_sb_init(&k, 4096);
    s3_sb_adds(&k, "AWS4");
    s3_sb_adds(&k, secret);
    rc = k.err;
    if (!rc)
        rc = hmac256(k.p, k.len, date, strlen(date), kdate);
    if (!rc)
        rc = hmac256(kdate, 32, region, strlen(region), kregion);
    if (!rc)
        rc = hmac256(kregion, 32, service, strlen(service), kservice);
    if (!rc)
        rc = hmac256(kservice, 32, "aws4_request", 12, ksigning);
    if (!rc)
        rc = hmac256(ksigning, 32, sts, strlen(sts), mac);
    if (!rc)
        to_hex(mac, 32, sig);
    if (k.p)
        OPENSSL_cleanse(k.p, k.cap);
    s3_sb_free(&k);
    OPENSSL_cleanse(kdate, sizeof(kdate));
    OPENSSL_cleanse(kregion, sizeof(kregion));
    OPENSSL_cleanse(kservice, sizeof(kservice));
    OPENSSL_cleanse(ksigning, sizeof(ksigning));
    return rc;
}

int s3_sigv4_sign(const s3_sigv4_req *req, char *auth, size_t authsz, char amz_date[17])
{
    struct canon_hdr hdrs[SIGV4_MAX_HEADERS + 3];
    size_t nh = 0;
    char date[9];
    char hash[65];
    char sig[65];
    struct tm tm;
    s3_sb cr, sh, sts;
    int rc = 0;

    if (!req || !auth || !amz_date || !req->method || !req->host || !req->path ||
        !req->payload_sha256 || !req->region || !req->service || !req->access_key ||
        !req->secret_key || !*req->method || !*req->host || req->path[0] != '/')
        return -EINVAL;
    if (!gmtime_r(&req->now, &tm) || strftime(amz_date, 17, "%Y%m%dT%H%M%SZ", &tm) != 16)
        return -EINVAL;
    memcpy(date, amz_date, 8);
    date[8] = '\0';

    s3_sb_init(&cr, SIGV4_CANON_MAX);
    s3_sb_init(&sh, 4096);
    s3_sb_init(&sts, 4096);

    /* canonical headers: the caller's, plus host, x-amz-content-sha256, x-amz-date */
    const char *own[3] = { "host", "x-amz-content-sha256", "x-amz-date" };
    const char *ownv[3] = { req->host, req->payload_sha256, amz_date };
    for (int i = 0; i < 3 && !rc; i++) {
        s3_sb t;
        s3_sb_init(&t, 8192);
        s3_sb_addf(&t, "%s:%s", own[i], ownv[i]);
        if (t.err) {
            rc = t.err;
            s3_sb_free(&t);
            break;
        }
        hdrs[nh].line = canon_header(t.p, &hdrs[nh].namelen);
        s3_sb_free(&t);
        if (!hdrs[nh].line)
            rc = -EINVAL;
        else
            nh++;
    }
    for (size_t i = 0; !rc && req->headers && req->headers[i]; i++) {
        size_t namelen = 0;
        char *line;
        if (nh >= SIGV4_MAX_HEADERS + 3) {
            rc = -EINVAL;
            break;
        }
        line = canon_header(req->headers[i], &namelen);
        if (!line) {
            rc = -EINVAL;
            break;
        }
        if (signer_owned(line, namelen)) {
            free(line);
            continue;
        }
        hdrs[nh].line = line;
        hdrs[nh].namelen = namelen;
        nh++;
    }
    if (!rc) {
        qsort(hdrs, nh, sizeof(hdrs[0]), canon_hdr_cmp);
        for (size_t i = 1; i < nh; i++)
            if (canon_hdr_cmp(&hdrs[i - 1], &hdrs[i]) == 0)
                rc = -EINVAL;   /* duplicate header names are not supported */
    }

    if (!rc) {
        s3_sb_adds(&cr, req->method);
        s3_sb_add(&cr, "\n", 1);
        s3_sb_adds(&cr, req->path);
        s3_sb_add(&cr, "\n", 1);
        rc = canon_query(req->query, &cr);
    }
    if (!rc) {
        s3_sb_add(&cr, "\n", 1);
        for (size_t i = 0; i < nh; i++) {
            s3_sb_adds(&cr, hdrs[i].line);
            s3_sb_add(&cr, "\n", 1);
            if (i)
                s3_sb_add(&sh, ";", 1);
            s3_sb_add(&sh, hdrs[i].line, hdrs[i].namelen);
        }
        s3_sb_add(&cr, "\n", 1);
        s3_sb_adds(&cr, sh.p ? sh.p : "");
        s3_sb_add(&cr, "\n", 1);
        s3_sb_adds(&cr, req->payload_sha256);
        rc = cr.err ? cr.err : sh.err;
    }
    if (!rc) {
        s3_sha256_hex(cr.p, cr.len, hash);
        s3_sb_addf(&sts, "AWS4-HMAC-SHA256\n%s\n%s/%s/%s/aws4_request\n%s",
                   amz_date, date, req->region, req->service, hash);
        rc = sts.err;
    }
    if (!rc)
        rc = sign_string(req->secret_key, date, req->region, req->service, sts.p, sig);
    if (!rc) {
        int n = snprintf(auth, authsz,
                         "AWS4-HMAC-SHA256 Credential=%s/%s/%s/%s/aws4_request,"
                         "SignedHeaders=%s,Signature=%s",
                         req->access_key, date, req->region, req->service, sh.p, sig);
        if (n < 0 || (size_t)n >= authsz)
            rc = -ENOSPC;
    }

    for (size_t i = 0; i < nh; i++)
        free(hdrs[i].line);
    s3_sb_free(&cr);
    s3_sb_free(&sh);
    s3_sb_free(&sts);
    if (rc && authsz)
        auth[0] = '\0';
    return rc;
}
