/* digest.c - chunk digests: XXH3-128 (libxxhash) and SHA-256 (OpenSSL). */
#include "agent/format/digest.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <xxhash.h>

static size_t digest_size(digest_kind k)
{
    return k == DIGEST_SHA256 ? 32 : sizeof(XXH128_canonical_t);
}

void digest_compute(digest_kind k, const void *data, size_t len, uint8_t out[DIGEST_LEN])
{
    memset(out, 0, DIGEST_LEN);
    if (k == DIGEST_SHA256) {
        EVP_Digest(data, len, out, NULL, EVP_sha256(), NULL);
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
