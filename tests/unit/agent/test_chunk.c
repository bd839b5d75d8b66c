/* test_chunk.c - unit tests of chunk encoding: zero runs at sparse granules, digests and
 * lz4 of the data runs, and that the runs always rebuild the chunk; and of chunk_decode,
 * one stored record back to checked bytes, hostile records refused. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <lz4.h>
#include <openssl/evp.h>
#include <xxhash.h>

#include "agent/format/chunk.h"

#define KiB 1024u
#define MiB (1024u * 1024u)

typedef chunk_enc enc;

static digest_kind kind = DIGEST_XXH3;   /* of the encoders encode() makes */

static void encode(enc *e, const unsigned char *data, size_t len, uint64_t off,
                   uint64_t sparse)
{
    assert_int_equal(chunk_enc_init(e, len, sparse, kind), 0);
    size_t n = chunk_encode(e, data, len, off);
    assert_int_equal(n, e->n);
    assert_true(e->n <= e->max_pieces);
}

static void enc_free(enc *e)
{
    chunk_enc_free(e);
}

/* d is the digest of kind of data, computed here straight from the libraries. */
static void expect_digest(const unsigned char *data, size_t len, const uint8_t *d)
{
    uint8_t md[DIGEST_LEN] = { 0 };
    if (kind == DIGEST_SHA256) {
        EVP_Digest(data, len, md, NULL, EVP_sha256(), NULL);
    } else {
        XXH128_canonical_t c;
        XXH128_canonicalFromHash(&c, XXH3_128bits(data, len));
        memcpy(md, c.digest, sizeof(c.digest));
    }
    assert_memory_equal(md, d, DIGEST_LEN);
}

/* The runs cover [0, len) in order, alternate in kind, keep their stored bytes inside
 * comp without overlap, hash right, and rebuild exactly the input. */
static void check_rebuilds(const enc *e, const unsigned char *data, size_t len)
{
    unsigned char *out = malloc(len ? len : 1);
    assert_non_null(out);
    uint64_t pos = 0;
    size_t comp_end = 0;
    for (size_t i = 0; i < e->n; i++) {
        const chunk_piece *p = &e->pieces[i];
        assert_int_equal(p->off, pos);
        assert_true(p->len > 0);
        if (i > 0)
            assert_int_not_equal(p->zero, e->pieces[i - 1].zero);
        if (p->zero) {
            assert_true(chunk_is_zero(data + p->off, (size_t)p->len));
            memset(out + p->off, 0, (size_t)p->len);
        } else if (p->raw) {
            memcpy(out + p->off, data + p->off, (size_t)p->len);
        } else {
            assert_true(p->comp_off >= comp_end);
            assert_true(p->comp_off + p->comp_len <= e->cap);
            comp_end = p->comp_off + p->comp_len;
            int n = LZ4_decompress_safe((const char *)e->comp + p->comp_off,
                                        (char *)out + p->off, (int)p->comp_len, (int)p->len);
            assert_int_equal(n, (int)p->len);
        }
        if (!p->zero)
            expect_digest(out + p->off, (size_t)p->len, p->digest);
        pos += p->len;
    }
    assert_int_equal(pos, len);
    assert_memory_equal(out, data, len);
    free(out);
}

static void fill_text(unsigned char *b, size_t len)
{
    static const char line[] = "2026-11-30T20:30:00Z osd.0 pg 1.2a scrub ok\n";
    for (size_t i = 0; i < len; i++)
        b[i] = (unsigned char)line[i % (sizeof(line) - 1)];
}

static void fill_random(unsigned char *b, size_t len, unsigned seed)
{
    srand(seed);
    for (size_t i = 0; i < len; i++)
        b[i] = (unsigned char)(rand() >> 7);
}

static void test_is_zero(void **state)
{
    (void)state;
    size_t n = 3 * 4096 + 17;
    unsigned char *b = calloc(1, n);
    assert_true(chunk_is_zero(b, n));
    assert_true(chunk_is_zero(b, 0));
    b[n - 1] = 1;
    assert_false(chunk_is_zero(b, n));
    b[n - 1] = 0;
    b[4096] = 1;
    assert_false(chunk_is_zero(b, n));
    free(b);
}

static void test_all_zero(void **state)
{
    (void)state;
    unsigned char *b = calloc(1, MiB);
    enc e;
    encode(&e, b, MiB, 0, 64 * KiB);
    assert_int_equal(e.n, 1);
    assert_true(e.pieces[0].zero);
    assert_int_equal(e.pieces[0].len, MiB);
    enc_free(&e);
    free(b);
}

/* One 64 KiB write in a zero-filled 1 MiB chunk: only it is data. */
static void test_write_in_zeros(void **state)
{
    (void)state;
    unsigned char *b = calloc(1, MiB);
    fill_random(b + 192 * KiB, 64 * KiB, 7);
    enc e;
    encode(&e, b, MiB, 4 * MiB, 64 * KiB);
    assert_int_equal(e.n, 3);
    assert_true(e.pieces[0].zero);
    assert_int_equal(e.pieces[0].len, 192 * KiB);
    assert_false(e.pieces[1].zero);
    assert_int_equal(e.pieces[1].off, 192 * KiB);
    assert_int_equal(e.pieces[1].len, 64 * KiB);
    assert_true(e.pieces[2].zero);
    check_rebuilds(&e, b, MiB);
    enc_free(&e);
    free(b);
}

/* Granules follow the image, not the chunk: a chunk starting mid-granule. */
static void test_unaligned_start(void **state)
{
    (void)state;
    size_t len = 200000;
    uint64_t off = 5 * MiB - 10000;       /* 10000 bytes before a 64 KiB boundary */
    unsigned char *b = calloc(1, len);
    b[9999] = 1;                          /* the last byte before the boundary */
    b[10000 + 65536 + 5] = 2;             /* inside the second granule after it */
    enc e;
    encode(&e, b, len, off, 64 * KiB);
    assert_int_equal(e.n, 4);
    assert_false(e.pieces[0].zero);
    assert_int_equal(e.pieces[0].len, 10000);
    assert_true(e.pieces[1].zero);
    assert_int_equal(e.pieces[1].len, 65536);
    assert_false(e.pieces[2].zero);
    assert_int_equal(e.pieces[2].off, 10000 + 65536);
    assert_int_equal(e.pieces[2].len, 65536);
    assert_true(e.pieces[3].zero);
    check_rebuilds(&e, b, len);
    enc_free(&e);
    free(b);
}

/* Text is compressed, random data stored raw; a sparse size of the chunk or more
 * checks the chunk as a whole. */
static void test_kinds_and_whole_chunk(void **state)
{
    (void)state;
    unsigned char *b = calloc(1, MiB);
    fill_text(b, 512 * KiB);
    fill_random(b + 512 * KiB, 512 * KiB, 3);
    enc e;
    encode(&e, b, MiB, 0, 64 * KiB);
    assert_int_equal(e.n, 1);             /* adjacent data granules are one run */
    assert_false(e.pieces[0].zero);
    check_rebuilds(&e, b, MiB);
    enc_free(&e);

    memset(b + 512 * KiB, 0, 512 * KiB);
    encode(&e, b, MiB, 0, MiB);
    assert_int_equal(e.n, 1);
    assert_false(e.pieces[0].zero);
    assert_false(e.pieces[0].raw);
    assert_int_equal(e.pieces[0].len, MiB);
    check_rebuilds(&e, b, MiB);
    enc_free(&e);

    fill_random(b, MiB, 4);
    encode(&e, b, MiB, 0, 64 * KiB);
    assert_int_equal(e.n, 1);
    assert_true(e.pieces[0].raw);
    check_rebuilds(&e, b, MiB);
    enc_free(&e);
    free(b);
}

/* The worst case: every other 4 KiB granule holds data, also incompressible data,
 * and seeded random mixes from unaligned starts. */
static void test_worst_case_and_mixes(void **state)
{
    (void)state;
    size_t len = 2 * MiB + 123;
    unsigned char *b = calloc(1, len);
    for (size_t g = 0; g * 4096 < len; g += 2)
        fill_random(b + g * 4096, len - g * 4096 < 4096 ? len - g * 4096 : 4096,
                    (unsigned)g);
    enc e;
    encode(&e, b, len, 8192, 4096);
    assert_true(e.n > 500);
    check_rebuilds(&e, b, len);
    enc_free(&e);
    for (unsigned seed = 1; seed <= 20; seed++) {
        srand(seed * 977);
        memset(b, 0, len);
        for (int k = 0; k < 6; k++) {
            size_t at = (size_t)rand() % len, n = (size_t)rand() % (300 * KiB);
            if (at + n > len)
                n = len - at;
            if (rand() & 1)
                fill_text(b + at, n);
            else
                fill_random(b + at, n, seed + (unsigned)k);
        }
        uint64_t sparse = 4096u << (seed % 6);
        encode(&e, b, len, (uint64_t)seed * 3333, sparse);
        check_rebuilds(&e, b, len);
        enc_free(&e);
    }
    free(b);
}

/* chunk digest = sha256: the same runs, SHA-256 digests. */
static void test_sha256_digests(void **state)
{
    kind = DIGEST_SHA256;
    test_kinds_and_whole_chunk(state);
    test_worst_case_and_mixes(state);
    kind = DIGEST_XXH3;
}

/* Chunks beyond the format's bound are refused: lz4 takes an int. */
static void test_chunk_bounds(void **state)
{
    (void)state;
    chunk_enc e;
    assert_int_equal(chunk_enc_init(&e, CHUNK_SIZE_MAX + 1, 65536, DIGEST_XXH3), -EINVAL);
    chunk_enc_free(&e);
    assert_int_equal(chunk_enc_init(&e, 3ULL << 30, 65536, DIGEST_XXH3), -EINVAL);
    chunk_enc_free(&e);
    assert_int_equal(chunk_enc_init(&e, 0, 65536, DIGEST_XXH3), -EINVAL);
    chunk_enc_free(&e);
    assert_int_equal(chunk_enc_init(&e, 1 << 20, 65536, DIGEST_XXH3), 0);
    chunk_enc_free(&e);
}

/* A one-run chunk of len bytes of data (text, or random: stored raw) encoded with kind,
 * and its index record: what a backup writes for it. */
typedef struct stored_rec {
    enc e;
    unsigned char *data;
    const unsigned char *stored;
    index_rec r;
} stored_rec;

static void make_rec(stored_rec *s, size_t len, int random)
{
    s->data = malloc(len);
    assert_non_null(s->data);
    if (random)
        fill_random(s->data, len, 7);
    else
        fill_text(s->data, len);
    encode(&s->e, s->data, len, 0, len);
    assert_int_equal(s->e.n, 1);
    const chunk_piece *p = &s->e.pieces[0];
    assert_int_equal(p->raw, random);
    memset(&s->r, 0, sizeof(s->r));
    s->r.length = len;
    s->r.obj_offset = 4096;
    s->r.stored_length = p->raw ? (uint32_t)len : p->comp_len;
    s->r.flags = p->raw ? INDEX_FLAG_RAW : 0;
    index_rec_set_digest(&s->r, kind, p->digest);
    s->stored = p->raw ? s->data : s->e.comp + p->comp_off;
}

static void free_rec(stored_rec *s)
{
    enc_free(&s->e);
    free(s->data);
}

/* rc of chunk_decode of r over s's stored bytes into a buffer of cap bytes; on success
 * the bytes must be the chunk's, and *out is left alone on failure. */
static int decode(const stored_rec *s, const index_rec *r, size_t stored_len, size_t cap)
{
    unsigned char *buf = malloc(cap ? cap : 1);
    assert_non_null(buf);
    const unsigned char *out = NULL;
    int rc = chunk_decode(r, s->stored, stored_len, buf, cap, &out);
    if (rc == 0) {
        assert_ptr_equal(out, (r->flags & INDEX_FLAG_RAW) ? s->stored : buf);
        assert_memory_equal(out, s->data, (size_t)r->length);
    } else {
        assert_null(out);
    }
    free(buf);
    return rc;
}

/* A compressed and a raw record decode to the chunk, with either digest. */
static void test_decode_good(void **state)
{
    (void)state;
    for (int k = 0; k < 2; k++) {
        kind = k ? DIGEST_SHA256 : DIGEST_XXH3;
        stored_rec s;
        make_rec(&s, 1 * MiB, 0);
        assert_true(s.r.stored_length < s.r.length);
        assert_int_equal(decode(&s, &s.r, s.r.stored_length, 1 * MiB), 0);
        free_rec(&s);
        make_rec(&s, 1 * MiB, 1);
        assert_int_equal(decode(&s, &s.r, s.r.stored_length, 0), 0);
        const unsigned char *out = NULL;    /* a raw record needs no buffer */
        assert_int_equal(chunk_decode(&s.r, s.stored, s.r.stored_length, NULL, 0, &out), 0);
        assert_ptr_equal(out, s.stored);
        free_rec(&s);
    }
    kind = DIGEST_XXH3;
}

/* A digest that does not match, or a flipped stored byte of a raw record: -EILSEQ. */
static void test_decode_bad_digest(void **state)
{
    (void)state;
    stored_rec s;
    make_rec(&s, 256 * KiB, 0);
    index_rec r = s.r;
    r.digest[3] ^= 1;
    assert_int_equal(decode(&s, &r, r.stored_length, 256 * KiB), -EILSEQ);
    r = s.r;
    r.flags &= ~INDEX_FLAG_XXH3;            /* right bytes, digest read as SHA-256 */
    assert_int_equal(decode(&s, &r, r.stored_length, 256 * KiB), -EILSEQ);
    free_rec(&s);
    make_rec(&s, 256 * KiB, 1);
    s.data[100] ^= 0x40;                    /* stored == data: the bytes changed */
    unsigned char *buf = NULL;
    const unsigned char *out = NULL;
    assert_int_equal(chunk_decode(&s.r, s.stored, s.r.stored_length, buf, 0, &out), -EILSEQ);
    assert_null(out);
    free_rec(&s);
}

/* Compressed bytes that decompress to fewer or more bytes than the record's length, or
 * do not decompress at all: -EBADMSG. */
static void test_decode_bad_lengths(void **state)
{
    (void)state;
    stored_rec s;
    make_rec(&s, 256 * KiB, 0);
    index_rec r = s.r;
    r.length += 1;                          /* short: the stream ends first */
    assert_int_equal(decode(&s, &r, r.stored_length, 512 * KiB), -EBADMSG);
    r.length -= 2;                          /* long: more than length comes out */
    assert_int_equal(decode(&s, &r, r.stored_length, 512 * KiB), -EBADMSG);
    r = s.r;
    r.stored_length -= 1;                   /* a cut stream */
    assert_int_equal(decode(&s, &r, r.stored_length, 512 * KiB), -EBADMSG);
    unsigned char junk[64];
    memset(junk, 0xff, sizeof(junk));
    r = s.r;
    r.stored_length = sizeof(junk);
    unsigned char *buf = malloc(256 * KiB);
    assert_non_null(buf);
    const unsigned char *out = NULL;
    assert_int_equal(chunk_decode(&r, junk, sizeof(junk), buf, 256 * KiB, &out), -EBADMSG);
    assert_null(out);
    free(buf);
    free_rec(&s);
}

/* Records no valid index holds, and buffers too small, are refused before any
 * decompression: -EINVAL. */
static void test_decode_hostile(void **state)
{
    (void)state;
    stored_rec s, raw;
    make_rec(&s, 256 * KiB, 0);
    make_rec(&raw, 64 * KiB, 1);
    index_rec r = s.r;
    assert_int_equal(decode(&s, &r, r.stored_length - 1, 256 * KiB), -EINVAL);
    assert_int_equal(decode(&s, &r, r.stored_length + 1, 256 * KiB), -EINVAL);
    assert_int_equal(decode(&s, &r, r.stored_length, 256 * KiB - 1), -EINVAL);
    const unsigned char *out = NULL;
    assert_int_equal(chunk_decode(&r, s.stored, r.stored_length, NULL, 1 * MiB, &out), -EINVAL);
    r.flags |= INDEX_FLAG_ZERO;
    assert_int_equal(decode(&s, &r, r.stored_length, 256 * KiB), -EINVAL);
    r = s.r;
    r.length = 0;
    assert_int_equal(decode(&s, &r, r.stored_length, 256 * KiB), -EINVAL);
    r.length = CHUNK_SIZE_MAX + 1;
    assert_int_equal(decode(&s, &r, r.stored_length, 256 * KiB), -EINVAL);
    r.length = UINT64_MAX;
    assert_int_equal(decode(&s, &r, r.stored_length, 256 * KiB), -EINVAL);
    r = s.r;
    r.stored_length = 0;
    assert_int_equal(decode(&s, &r, 0, 256 * KiB), -EINVAL);
    r.length = 16;                          /* stored longer than lz4 can make of 16 */
    r.stored_length = s.r.stored_length;
    assert_int_equal(decode(&s, &r, r.stored_length, 256 * KiB), -EINVAL);
    r = raw.r;
    r.stored_length -= 1;                   /* raw: stored is exactly length */
    assert_int_equal(decode(&raw, &r, r.stored_length, 0), -EINVAL);
    r.length -= 1;
    r.stored_length += 1;
    assert_int_equal(decode(&raw, &r, r.stored_length, 0), -EINVAL);
    free_rec(&raw);
    free_rec(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_is_zero),
        cmocka_unit_test(test_all_zero),
        cmocka_unit_test(test_write_in_zeros),
        cmocka_unit_test(test_unaligned_start),
        cmocka_unit_test(test_kinds_and_whole_chunk),
        cmocka_unit_test(test_worst_case_and_mixes),
        cmocka_unit_test(test_sha256_digests),
        cmocka_unit_test(test_chunk_bounds),
        cmocka_unit_test(test_decode_good),
        cmocka_unit_test(test_decode_bad_digest),
        cmocka_unit_test(test_decode_bad_lengths),
        cmocka_unit_test(test_decode_hostile),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
