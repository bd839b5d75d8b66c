/* test_seal.c - unit tests of seal.c: sealing bound to a place, key wrap bound to its
 * owner, key ids, HMAC known answers and hex. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent/format/seal.h"
#include "agent/format/digest.h"

#define PLAIN_LEN 1000

static uint8_t plain[PLAIN_LEN];

static void make_key(seal_key *k, uint8_t fill, int master)
{
    uint8_t b[SEAL_KEY_LEN];
    memset(b, fill, sizeof(b));
    assert_int_equal(master ? seal_master_init(k, b) : seal_data_init(k, b), 0);
}

static seal_place base_place(void)
{
    seal_place p = {.backup_id = "20260101T000000Z-ab12", .image_id = "10ab2f",
                    .obj = 3, .obj_offset = 4096, .offset = 1 << 20, .length = 65536,
                    .flags = 2};
    return p;
}

static void fill_plain(void)
{
    for (size_t i = 0; i < PLAIN_LEN; i++)
        plain[i] = (uint8_t)(i * 7 + 1);
}

/* Sealed under k at p: opens to the plaintext, in place as well. */
static void test_roundtrip(void **state)
{
    (void)state;
    seal_key k;
    seal_place p = base_place();
    uint8_t s[PLAIN_LEN + SEAL_TAG_LEN], o[PLAIN_LEN];
    fill_plain();
    make_key(&k, 0x11, 0);
    assert_int_equal(seal_chunk(&k, &p, plain, PLAIN_LEN, s), 0);
    assert_memory_not_equal(s, plain, PLAIN_LEN);
    assert_int_equal(seal_open_chunk(&k, &p, s, sizeof(s), o), 0);
    assert_memory_equal(o, plain, PLAIN_LEN);
    memcpy(o, plain, PLAIN_LEN);               /* in place both ways */
    uint8_t *buf = malloc(PLAIN_LEN + SEAL_TAG_LEN);
    assert_non_null(buf);
    memcpy(buf, plain, PLAIN_LEN);
    assert_int_equal(seal_chunk(&k, &p, buf, PLAIN_LEN, buf), 0);
    assert_memory_equal(buf, s, sizeof(s));
    assert_int_equal(seal_open_chunk(&k, &p, buf, PLAIN_LEN + SEAL_TAG_LEN, buf), 0);
    assert_memory_equal(buf, plain, PLAIN_LEN);
    free(buf);
    /* empty chunk: just a tag */
    assert_int_equal(seal_chunk(&k, &p, plain, 0, s), 0);
    assert_int_equal(seal_open_chunk(&k, &p, s, SEAL_TAG_LEN, o), 0);
    assert_int_equal(seal_open_chunk(&k, &p, s, SEAL_TAG_LEN - 1, o), -EINVAL);
    seal_key_wipe(&k);
}

/* Each field of the place changed: -EBADMSG, and the output zeroed. */
static void test_place_bound(void **state)
{
    (void)state;
    seal_key k;
    seal_place p = base_place();
    uint8_t s[PLAIN_LEN + SEAL_TAG_LEN], o[PLAIN_LEN], zero[PLAIN_LEN] = {0};
    fill_plain();
    make_key(&k, 0x22, 0);
    assert_int_equal(seal_chunk(&k, &p, plain, PLAIN_LEN, s), 0);
    for (int f = 0; f < 7; f++) {
        seal_place q = base_place();
        switch (f) {
        case 0: q.backup_id = "20260101T000000Z-ab13"; break;
        case 1: q.image_id = "10ab2e"; break;
        case 2: q.obj++; break;
        case 3: q.obj_offset++; break;
        case 4: q.offset += 4096; break;
        case 5: q.length--; break;
        default: q.flags ^= 1; break;
        }
        memset(o, 0xee, sizeof(o));
        assert_int_equal(seal_open_chunk(&k, &q, s, sizeof(s), o), -EBADMSG);
        assert_memory_equal(o, zero, PLAIN_LEN);
    }
    /* a NULL id is the empty one, and differs from a non-empty one */
    seal_place q = base_place();
    q.image_id = NULL;
    assert_int_equal(seal_open_chunk(&k, &q, s, sizeof(s), o), -EBADMSG);
    seal_key_wipe(&k);
}

/* A flipped byte of ciphertext or tag, or another data key: -EBADMSG. */
static void test_tamper_and_key(void **state)
{
    (void)state;
    seal_key k, k2;
    seal_place p = base_place();
    uint8_t s[PLAIN_LEN + SEAL_TAG_LEN], o[PLAIN_LEN];
    fill_plain();
    make_key(&k, 0x33, 0);
    make_key(&k2, 0x34, 0);
    assert_int_equal(seal_chunk(&k, &p, plain, PLAIN_LEN, s), 0);
    size_t at[] = {0, PLAIN_LEN / 2, PLAIN_LEN - 1, PLAIN_LEN, sizeof(s) - 1};
    for (size_t i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
        s[at[i]] ^= 0x01;
        assert_int_equal(seal_open_chunk(&k, &p, s, sizeof(s), o), -EBADMSG);
        s[at[i]] ^= 0x01;
    }
    assert_int_equal(seal_open_chunk(&k, &p, s, sizeof(s) - 1, o), -EBADMSG);
    assert_int_equal(seal_open_chunk(&k2, &p, s, sizeof(s), o), -EBADMSG);
    assert_int_equal(seal_open_chunk(&k, &p, s, sizeof(s), o), 0);
    /* a master key never seals data */
    seal_key m;
    make_key(&m, 0x33, 1);
    assert_int_equal(seal_chunk(&m, &p, plain, PLAIN_LEN, s), -EINVAL);
    seal_key_wipe(&m);
    seal_key_wipe(&k);
    seal_key_wipe(&k2);
}

/* The same plaintext at two places (or as the index) gives unrelated ciphertexts: the
 * nonce differs per place. */
static void test_nonce_per_place(void **state)
{
    (void)state;
    seal_key k;
    seal_place p = base_place(), q = base_place(), r = base_place();
    uint8_t a[64 + SEAL_TAG_LEN], b[64 + SEAL_TAG_LEN], c[64 + SEAL_TAG_LEN];
    uint8_t d[64 + SEAL_TAG_LEN];
    fill_plain();
    make_key(&k, 0x44, 0);
    q.obj_offset += 64;
    r.obj++;
    assert_int_equal(seal_chunk(&k, &p, plain, 64, a), 0);
    assert_int_equal(seal_chunk(&k, &q, plain, 64, b), 0);
    assert_int_equal(seal_chunk(&k, &r, plain, 64, c), 0);
    assert_int_equal(seal_index(&k, p.backup_id, p.image_id, 1, plain, 64, d), 0);
    assert_memory_not_equal(a, b, 64);
    assert_memory_not_equal(a, c, 64);
    assert_memory_not_equal(b, c, 64);
    assert_memory_not_equal(a, d, 64);
    /* the same place twice: deterministic (nonce from the place) */
    assert_int_equal(seal_chunk(&k, &p, plain, 64, b), 0);
    assert_memory_equal(a, b, sizeof(a));
    seal_key_wipe(&k);
}

/* The index: round trip, bound to backup id, image id, record count and key. */
static void test_index(void **state)
{
    (void)state;
    seal_key k, k2;
    uint8_t s[PLAIN_LEN + SEAL_TAG_LEN], o[PLAIN_LEN];
    fill_plain();
    make_key(&k, 0x55, 0);
    make_key(&k2, 0x56, 0);
    assert_int_equal(seal_index(&k, "b1", "i1", 42, plain, PLAIN_LEN, s), 0);
    assert_int_equal(seal_open_index(&k, "b1", "i1", 42, s, sizeof(s), o), 0);
    assert_memory_equal(o, plain, PLAIN_LEN);
    assert_int_equal(seal_open_index(&k, "b2", "i1", 42, s, sizeof(s), o), -EBADMSG);
    assert_int_equal(seal_open_index(&k, "b1", "i2", 42, s, sizeof(s), o), -EBADMSG);
    assert_int_equal(seal_open_index(&k, "b1", "i1", 41, s, sizeof(s), o), -EBADMSG);
    assert_int_equal(seal_open_index(&k2, "b1", "i1", 42, s, sizeof(s), o), -EBADMSG);
    /* an index is no chunk, even at its nonce's place */
    seal_place p = {.backup_id = "b1", .image_id = "i1", .obj = SEAL_INDEX_OBJ,
                    .obj_offset = 0, .offset = 0, .length = 42, .flags = 0};
    assert_int_equal(seal_open_chunk(&k, &p, s, sizeof(s), o), -EBADMSG);
    s[3] ^= 0x80;
    assert_int_equal(seal_open_index(&k, "b1", "i1", 42, s, sizeof(s), o), -EBADMSG);
    seal_key_wipe(&k);
    seal_key_wipe(&k2);
}

/* Seal (or open) buf[0..len) as a stream fed in pieces of step bytes; the tag into tag
 * (seal) or checked against it (open): the final's return. */
static int stream_run(const seal_key *k, int enc, const char *bid, uint64_t records,
                      uint8_t *buf, size_t len, size_t step, uint8_t tag[SEAL_TAG_LEN])
{
    seal_stream *st;
    assert_int_equal(seal_stream_new(k, enc, &st), 0);
    for (size_t off = 0; off < len; off += step)
        assert_int_equal(seal_stream_update(st, buf + off, len - off < step ? len - off : step,
                                            buf + off), 0);
    int rc = seal_stream_final(st, bid, "img-01", records, tag);
    seal_stream_free(st);
    return rc;
}

/* The streamed seal gives seal_index's bytes for every length (partial blocks), id length
 * (associated data of any size) and way of cutting; the streamed open takes them back and
 * refuses a flipped byte, a truncated stream, another count or id. */
static void test_index_stream(void **state)
{
    (void)state;
    static const char *ids[] = { "b", "20260101T000000Z-ab12", "an-id-longer-than-a-block-x" };
    static const size_t lens[] = { 0, 1, 15, 16, 17, 31, 32, 33, 255, PLAIN_LEN };
    static const size_t steps[] = { 1, 7, 16, 100, PLAIN_LEN };
    seal_key k;
    uint8_t one[PLAIN_LEN + SEAL_TAG_LEN], buf[PLAIN_LEN], tag[SEAL_TAG_LEN];
    fill_plain();
    make_key(&k, 0x55, 0);
    for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++)
        for (size_t l = 0; l < sizeof(lens) / sizeof(lens[0]); l++)
            for (size_t st = 0; st < sizeof(steps) / sizeof(steps[0]); st++) {
                size_t len = lens[l];
                uint64_t recs = 42 + len * 1000003ULL;
                assert_int_equal(seal_index(&k, ids[i], "img-01", recs, plain, len, one), 0);
                memcpy(buf, plain, len);
                assert_int_equal(stream_run(&k, 1, ids[i], recs, buf, len, steps[st], tag), 0);
                assert_memory_equal(buf, one, len);
                assert_memory_equal(tag, one + len, SEAL_TAG_LEN);
                assert_int_equal(stream_run(&k, 0, ids[i], recs, buf, len, steps[st], tag), 0);
                assert_memory_equal(buf, plain, len);
            }
    /* refusals, on the whole PLAIN_LEN */
    assert_int_equal(seal_index(&k, "b", "img-01", 7, plain, PLAIN_LEN, one), 0);
    memcpy(tag, one + PLAIN_LEN, SEAL_TAG_LEN);
    memcpy(buf, one, PLAIN_LEN);
    assert_int_equal(stream_run(&k, 0, "b", 7, buf, PLAIN_LEN - 1, 64, tag), -EBADMSG);
    memcpy(buf, one, PLAIN_LEN);
    buf[500] ^= 1;
    assert_int_equal(stream_run(&k, 0, "b", 7, buf, PLAIN_LEN, 64, tag), -EBADMSG);
    memcpy(buf, one, PLAIN_LEN);
    assert_int_equal(stream_run(&k, 0, "b", 8, buf, PLAIN_LEN, 64, tag), -EBADMSG);
    memcpy(buf, one, PLAIN_LEN);
    assert_int_equal(stream_run(&k, 0, "c", 7, buf, PLAIN_LEN, 64, tag), -EBADMSG);
    memcpy(buf, one, PLAIN_LEN);
    tag[0] ^= 1;
    assert_int_equal(stream_run(&k, 0, "b", 7, buf, PLAIN_LEN, 64, tag), -EBADMSG);
    seal_stream *st;
    seal_key m;
    make_key(&m, 0x11, 1);
    assert_int_equal(seal_stream_new(&m, 1, &st), -EINVAL);   /* a master key seals nothing */
    seal_key_wipe(&m);
    seal_key_wipe(&k);
}

/* Wrap and unwrap: the data key comes back; bound to each owner field and to the master
 * key; random nonce per wrap. */
static void test_wrap(void **state)
{
    (void)state;
    seal_key mk, mk2, dk, out;
    seal_owner o = {.pool = "rbd", .ns = "", .image = "vm1", .image_id = "10ab",
                    .backup_id = "b1"};
    uint8_t w[SEAL_WRAPPED_LEN], w2[SEAL_WRAPPED_LEN], zero[sizeof(seal_key)] = {0};
    make_key(&mk, 0x66, 1);
    make_key(&mk2, 0x67, 1);
    assert_int_equal(seal_data_new(&dk), 0);
    assert_int_equal(seal_wrap(&mk, &o, &dk, w), 0);
    assert_int_equal(seal_wrap(&mk, &o, &dk, w2), 0);
    assert_memory_not_equal(w, w2, SEAL_WRAPPED_LEN);
    assert_int_equal(seal_unwrap(&mk, &o, w, &out), 0);
    assert_memory_equal(out.key, dk.key, SEAL_KEY_LEN);
    assert_memory_equal(out.mac, dk.mac, SEAL_KEY_LEN);
    assert_int_equal(out.master, 0);
    assert_int_equal(seal_unwrap(&mk, &o, w2, &out), 0);
    assert_memory_equal(out.key, dk.key, SEAL_KEY_LEN);
    for (int f = 0; f < 5; f++) {
        seal_owner q = o;
        const char **field[] = {&q.pool, &q.ns, &q.image, &q.image_id, &q.backup_id};
        *field[f] = "x";
        assert_int_equal(seal_unwrap(&mk, &q, w, &out), -EBADMSG);
        assert_memory_equal(&out, zero, sizeof(out));
    }
    assert_int_equal(seal_unwrap(&mk2, &o, w, &out), -EBADMSG);
    w[SEAL_NONCE_LEN] ^= 1;
    assert_int_equal(seal_unwrap(&mk, &o, w, &out), -EBADMSG);
    seal_key_wipe(&mk);
    seal_key_wipe(&mk2);
    seal_key_wipe(&dk);
    assert_memory_equal(&dk, zero, sizeof(dk));
}

/* Key ids: 16 hex digits, stable for a master key, distinct between keys, none for a
 * data key; new data keys differ. */
static void test_key_ids(void **state)
{
    (void)state;
    seal_key a, b, c, d1, d2;
    make_key(&a, 0x77, 1);
    make_key(&b, 0x77, 1);
    make_key(&c, 0x78, 1);
    assert_int_equal(strlen(a.id), 16);
    assert_int_equal(strspn(a.id, "0123456789abcdef"), 16);
    assert_string_equal(a.id, b.id);
    assert_string_not_equal(a.id, c.id);
    assert_memory_not_equal(a.wrap, a.mac, SEAL_KEY_LEN);
    make_key(&d1, 0x77, 0);
    assert_string_equal(d1.id, "");
    assert_memory_not_equal(d1.mac, a.mac, SEAL_KEY_LEN);
    assert_int_equal(seal_data_new(&d1), 0);
    assert_int_equal(seal_data_new(&d2), 0);
    assert_memory_not_equal(d1.key, d2.key, SEAL_KEY_LEN);
}

/* HMAC-SHA-256: RFC 4231 test case 2 (key "Jefe": HMAC pads short keys with zeros, so a
 * 32-byte key of "Jefe" and zeros gives the same MAC), and seal_mac_ok. */
static void test_mac(void **state)
{
    (void)state;
    seal_key k;
    static const char data[] = "what do ya want for nothing?";
    uint8_t m[SEAL_MAC_LEN];
    char hex[2 * SEAL_MAC_LEN + 1];
    memset(&k, 0, sizeof(k));
    memcpy(k.mac, "Jefe", 4);
    assert_int_equal(seal_mac(&k, data, strlen(data), m), 0);
    digest_hex(m, sizeof(m), hex);
    assert_string_equal(hex,
                        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    assert_true(seal_mac_ok(&k, data, strlen(data), m));
    assert_false(seal_mac_ok(&k, data, strlen(data) - 1, m));
    m[31] ^= 1;
    assert_false(seal_mac_ok(&k, data, strlen(data), m));
    k.mac[5] = 1;
    m[31] ^= 1;
    assert_false(seal_mac_ok(&k, data, strlen(data), m));
    assert_int_equal(seal_mac(&k, NULL, 0, m), 0);
}

/* Hex: round trip; wrong length, non-hex and uppercase refused. */
static void test_hex(void **state)
{
    (void)state;
    uint8_t b[4] = {0x00, 0x9f, 0xa0, 0xff}, r[4];
    char h[9];
    digest_hex(b, 4, h);
    assert_string_equal(h, "009fa0ff");
    assert_int_equal(digest_unhex(h, r, 4), 0);
    assert_memory_equal(b, r, 4);
    assert_int_equal(digest_unhex("009fa0f", r, 4), -EINVAL);
    assert_int_equal(digest_unhex("009fa0fff0", r, 4), -EINVAL);
    assert_int_equal(digest_unhex("009fa0fg", r, 4), -EINVAL);
    assert_int_equal(digest_unhex("009FA0FF", r, 4), -EINVAL);
    assert_int_equal(digest_unhex(" 09fa0ff", r, 4), -EINVAL);
    assert_int_equal(digest_unhex(NULL, r, 4), -EINVAL);
    assert_int_equal(digest_unhex("", r, 0), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_place_bound),
        cmocka_unit_test(test_tamper_and_key),
        cmocka_unit_test(test_nonce_per_place),
        cmocka_unit_test(test_index),
        cmocka_unit_test(test_index_stream),
        cmocka_unit_test(test_wrap),
        cmocka_unit_test(test_key_ids),
        cmocka_unit_test(test_mac),
        cmocka_unit_test(test_hex),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
