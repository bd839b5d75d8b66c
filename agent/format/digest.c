/* digest.c - chunk digests: XXH3-128 (libxxhash) and SHA-256 (OpenSSL); SHA-256 in hex. */
#include "agent/format/digest.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <xxhash.h>

/* SHA-256 of data[0..len) into md[32]; 0 or -EIO. */
static int sha256_raw(const void *data, size_t len, uint8_t md[32])
{
    unsigned char buf[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (EVP_Digest(data != NULL ? data : "", len, buf, &mdlen, EVP_sha256(), NULL) != 1 ||
        mdlen != 32)
        return -EIO;
    memcpy(md, buf, 32);
    return 0;
}

static size_t digest_size(digest_kind k)
{
    return k == DIGEST_SHA256 ? 32 : sizeof(XXH128_canonical_t);
}

void digest_compute(digest_kind k, const void *data, size_t len, uint8_t out[DIGEST_LEN])
{
    memset(out, 0, DIGEST_LEN);
    if (k == DIGEST_SHA256) {
        (void)sha256_raw(data, len, out);   /* on failure out stays zero: no match */
        return;
    }
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, XXH3_128bits(data, len));
    memcpy(out, c.digest, sizeof(c.digest));
}

int digest_matches(digest_kind k, const void *data, size_t len, const uint8_t d[DIGEST_LEN])
{
    uint8_t md[DIGEST_LEN];
    digest_compute(k, data, len, md);
    return memcmp(md, d, DIGEST_LEN) == 0;
}

const char *digest_name(digest_kind k)
{
    return k == DIGEST_SHA256 ? "sha256" : "xxh3-128";
}

void digest_format(digest_kind k, const uint8_t d[DIGEST_LEN], char out[80])
{
    size_t n = (size_t)snprintf(out, 80, "%s:", digest_name(k));
    for (size_t i = 0; i < digest_size(k); i++, n += 2)
        snprintf(out + n, 80 - n, "%02x", d[i]);
}

int digest_sha256_hex(const void *data, size_t len, char out[65])
{
    uint8_t md[32];
    out[0] = '\0';
    if (sha256_raw(data, len, md) != 0)
        return -EIO;
    digest_hex(md, sizeof(md), out);
    return 0;
}

void digest_hex(const uint8_t *b, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[b[i] >> 4];
        out[2 * i + 1] = digits[b[i] & 15];
    }
    out[2 * n] = '\0';
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

int digest_unhex(const char *hex, uint8_t *b, size_t n)
{
    if (hex == NULL || strlen(hex) != 2 * n)
        return -EINVAL;
    for (size_t i = 0; i < n; i++) {
        int hi = hex_digit(hex[2 * i]), lo = hex_digit(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -EINVAL;
        b[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}
