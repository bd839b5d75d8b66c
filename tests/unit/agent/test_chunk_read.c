/* test_chunk_read.c - unit tests of chunk_read: plain records as chunk_decode does, sealed
 * records opened at their place (backup, image, object, offset, image offset, length,
 * flags) and refused when moved, forged, without a key, or plain in an encrypted backup. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "agent/format/chunk.h"

#define LEN (256u * 1024u)

/* One run of a chunk sealed the way the writer seals it, and its index record. */
typedef struct sealed_rec {
    chunk_enc e;
    unsigned char *data;      /* the chunk's bytes */
    unsigned char *sealed;    /* the stored form sealed, r.stored_length bytes */
    index_rec r;
} sealed_rec;

static seal_key key, other_key;
static const chunk_owner owner = { &key, "20261203-014500-ab12", "10a2b3c4" };

static int setup(void **state)
{
    (void)state;
    static const uint8_t a[SEAL_KEY_LEN] = { 1 }, b[SEAL_KEY_LEN] = { 2 };
    return seal_data_init(&key, a) || seal_data_init(&other_key, b);
}

static int teardown(void **state)
{
    (void)state;
    seal_key_wipe(&key);
    seal_key_wipe(&other_key);
    return 0;
}

static void fill(unsigned char *b, size_t len, int random)
{
    static const char line[] = "2026-12-03T01:45:00Z osd.1 deep-scrub ok\n";
    srand(11);
    for (size_t i = 0; i < len; i++)
        b[i] = random ? (unsigned char)(rand() >> 7) : (unsigned char)line[i % (sizeof(line) - 1)];
}

/* Encode LEN bytes (text: lz4, random: raw) at image offset 8 MiB, and seal the run at
 * object 3, offset 4096 for owner. */
static void make(sealed_rec *s, int random)
{
    s->data = malloc(LEN);
    assert_non_null(s->data);
    fill(s->data, LEN, random);
    assert_int_equal(chunk_enc_init(&s->e, LEN, LEN, DIGEST_XXH3), 0);
    assert_int_equal(chunk_encode(&s->e, s->data, LEN, 8u << 20), 1);
    const chunk_piece *p = &s->e.pieces[0];
    assert_int_equal(p->raw, random);
    memset(&s->r, 0, sizeof(s->r));
    s->r.offset = 8u << 20;
    s->r.length = LEN;
    s->r.obj = 3;
    s->r.obj_offset = 4096;
    s->r.flags = (p->raw ? INDEX_FLAG_RAW : 0) | INDEX_FLAG_SEALED;
    size_t plain = p->raw ? LEN : p->comp_len;
    s->r.stored_length = (uint32_t)(plain + SEAL_TAG_LEN);
    index_rec_set_digest(&s->r, DIGEST_XXH3, p->digest);
    s->sealed = malloc(s->r.stored_length);
    assert_non_null(s->sealed);
    seal_place pl;
    chunk_place(&owner, &s->r, &pl);
    assert_int_equal(seal_chunk(&key, &pl, p->raw ? s->data : s->e.comp + p->comp_off, plain,
                                s->sealed), 0);
}

static void drop(sealed_rec *s)
{
    chunk_enc_free(&s->e);
    free(s->data);
    free(s->sealed);
}

/* chunk_read of record r over a copy of s's sealed bytes (with byte flip flipped, or
 * -1) as owner o; on success the bytes must be the chunk's. */
static int read_as(const sealed_rec *s, const chunk_owner *o, const index_rec *r, long flip)
{
    unsigned char *copy = malloc(s->r.stored_length), *buf = malloc(LEN);
    assert_true(copy != NULL && buf != NULL);
    memcpy(copy, s->sealed, s->r.stored_length);
    if (flip >= 0)
        copy[flip] ^= 0x20;
    const unsigned char *out = NULL;
    int rc = chunk_read(o, r, copy, s->r.stored_length, buf, LEN, &out);
    if (rc == 0)
        assert_memory_equal(out, s->data, LEN);
    else
        assert_null(out);
    free(copy);
    free(buf);
    return rc;
}

static void test_sealed_round_trip(void **state)
{
    (void)state;
    for (int random = 0; random < 2; random++) {
        sealed_rec s;
        make(&s, random);
        assert_int_equal(read_as(&s, &owner, &s.r, -1), 0);
        /* the stored bytes are not the plain ones: no 64-byte slice of the text */
        assert_null(memmem(s.sealed, s.r.stored_length, s.data + 1000, 64));
        drop(&s);
    }
}

/* The same bytes read at any other place, by another backup or image, or under another
 * key, or with any byte changed (the tag's too), do not open. */
static void test_sealed_moved_or_forged(void **state)
{
    (void)state;
    sealed_rec s;
    make(&s, 0);
    index_rec r = s.r;
    r.obj_offset += s.r.stored_length;          /* swapped with its neighbour */
    assert_int_equal(read_as(&s, &owner, &r, -1), -EKEYREJECTED);
    r = s.r;
    r.obj = 4;
    assert_int_equal(read_as(&s, &owner, &r, -1), -EKEYREJECTED);
    r = s.r;
    r.offset += LEN;                            /* another place in the image */
    assert_int_equal(read_as(&s, &owner, &r, -1), -EKEYREJECTED);
    r = s.r;
    r.flags &= ~INDEX_FLAG_XXH3;                /* flags are bound too */
    assert_int_equal(read_as(&s, &owner, &r, -1), -EKEYREJECTED);
    chunk_owner o = owner;
    o.backup_id = "20261203-014600-cd34";
    assert_int_equal(read_as(&s, &o, &s.r, -1), -EKEYREJECTED);
    o = owner;
    o.image_id = "10a2b3c5";
    assert_int_equal(read_as(&s, &o, &s.r, -1), -EKEYREJECTED);
    o = owner;
    o.dk = &other_key;
    assert_int_equal(read_as(&s, &o, &s.r, -1), -EKEYREJECTED);
    assert_int_equal(read_as(&s, &owner, &s.r, 0), -EKEYREJECTED);
    assert_int_equal(read_as(&s, &owner, &s.r, (long)s.r.stored_length - 1), -EKEYREJECTED);
    drop(&s);
}

/* No key for a sealed record, a plain record in an encrypted backup, a sealed record of
 * impossible sizes: refused before anything is opened. */
static void test_sealed_refusals(void **state)
{
    (void)state;
    sealed_rec s;
    make(&s, 1);
    chunk_owner plain = { NULL, owner.backup_id, owner.image_id };
    assert_int_equal(read_as(&s, &plain, &s.r, -1), -ENOKEY);
    index_rec r = s.r;
    r.flags &= ~INDEX_FLAG_SEALED;              /* read as plain by a keyed reader */
    assert_int_equal(read_as(&s, &owner, &r, -1), -EPERM);
    r = s.r;
    r.stored_length = LEN;                      /* a raw sealed record without its tag */
    unsigned char *buf = malloc(LEN);
    const unsigned char *out = NULL;
    assert_non_null(buf);
    assert_int_equal(chunk_read(&owner, &r, s.sealed, LEN, buf, LEN, &out), -EINVAL);
    assert_int_equal(chunk_read(&owner, &s.r, s.sealed, LEN, buf, LEN, &out), -EINVAL);
    assert_null(out);
    free(buf);
    drop(&s);
}

/* A plain record of a plain backup reads as chunk_decode reads it. */
static void test_plain_unchanged(void **state)
{
    (void)state;
    chunk_enc e;
    unsigned char *data = malloc(LEN), *buf = malloc(LEN);
    assert_true(data != NULL && buf != NULL);
    fill(data, LEN, 0);
    assert_int_equal(chunk_enc_init(&e, LEN, LEN, DIGEST_SHA256), 0);
    assert_int_equal(chunk_encode(&e, data, LEN, 0), 1);
    index_rec r;
    memset(&r, 0, sizeof(r));
    r.length = LEN;
    r.stored_length = e.pieces[0].comp_len;
    index_rec_set_digest(&r, DIGEST_SHA256, e.pieces[0].digest);
    chunk_owner plain = { NULL, "x", "y" };
    const unsigned char *out = NULL;
    assert_int_equal(chunk_read(&plain, &r, e.comp, r.stored_length, buf, LEN, &out), 0);
    assert_memory_equal(out, data, LEN);
    chunk_enc_free(&e);
    free(data);
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sealed_round_trip),
        cmocka_unit_test(test_sealed_moved_or_forged),
        cmocka_unit_test(test_sealed_refusals),
        cmocka_unit_test(test_plain_unchanged),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
