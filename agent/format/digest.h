/* digest.h - the digest of a chunk's uncompressed bytes, as the index records it:
 * XXH3-128 (the default since index version 2) or SHA-256 (chunk digest = sha256, and
 * every backup written with index version 1), and the agent's one SHA-256 in hex (index
 * and manifest checksums). Pure functions, safe on any thread. */
#ifndef RBD2S3_DIGEST_H
#define RBD2S3_DIGEST_H

#include <stddef.h>
#include <stdint.h>

#define DIGEST_LEN 32   /* the index's digest field; XXH3-128 fills the first 16 bytes */

typedef enum digest_kind {
    DIGEST_XXH3 = 0,    /* XXH3-128, canonical (big-endian) form, as `xxhsum -H2` prints */
    DIGEST_SHA256 = 1,
} digest_kind;

/* The digest of data[0..len) into out (unused bytes zeroed). */
void digest_compute(digest_kind k, const void *data, size_t len, uint8_t out[DIGEST_LEN]);

/* 1 if data[0..len) has digest d. */
int digest_matches(digest_kind k, const void *data, size_t len, const uint8_t d[DIGEST_LEN]);

/* "xxh3-128" or "sha256". */
const char *digest_name(digest_kind k);

/* "<name>:<hex>" of the digest's own bytes (16 for XXH3-128, 32 for SHA-256). */
void digest_format(digest_kind k, const uint8_t d[DIGEST_LEN], char out[80]);

/* Lowercase hex SHA-256 of data[0..len) into out[65] (data may be NULL when len is 0).
 * Returns 0, or -EIO (out = "") only if OpenSSL fails, e.g. out of memory. */
int digest_sha256_hex(const void *data, size_t len, char out[65]);

/* Lowercase hex of n bytes into out[2n + 1]; parse back: 0, or -EINVAL unless hex is
 * exactly 2n lowercase hex digits (the one form digest_hex writes). */
void digest_hex(const uint8_t *b, size_t n, char *out);
int digest_unhex(const char *hex, uint8_t *b, size_t n);

#endif
