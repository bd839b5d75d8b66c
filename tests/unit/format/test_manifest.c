/* test_manifest.c - unit tests of the manifest codec: round trips, rejects, formatting. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>
#include <openssl/evp.h>

#include "agent/format/manifest.h"
#include "agent/format/naming.h"

static void fill_manifest(manifest *m, int full)
{
    manifest_init(m);
    snprintf(m->id, sizeof(m->id), "%s", full ? "20261121T083000Z" : "20261122T083000Z-1");
    m->created = 1795249805;
    snprintf(m->tool, sizeof(m->tool), "rbd2s3 0.1.0");
    snprintf(m->pool, sizeof(m->pool), "rbd");
    snprintf(m->ns, sizeof(m->ns), "%s", full ? "" : "tenant \"a\"/\\b");
    snprintf(m->image, sizeof(m->image), "vm1 \xc3\xa9\x01%%");
    snprintf(m->image_id, sizeof(m->image_id), "10a2b3");
    m->size = 1ULL << 44;
    m->order = 22;
    m->features = 61;
    m->stripe_unit = 4194304;
    m->stripe_count = 1;
    snprintf(m->snap_name, sizeof(m->snap_name), "rbd2s3-%s", m->id);
    m->snap_id = UINT64_MAX - 1;
    m->snap_time = 1795249800;
    m->full = full;
    if (!full) {
        snprintf(m->parent_id, sizeof(m->parent_id), "20261121T083000Z");
        snprintf(m->parent_snap, sizeof(m->parent_snap), "rbd2s3-20261121T083000Z");
    }
    m->chunk_size = 1048576;
    for (unsigned i = 0; i < 5; i++) {
        char key[128], etag[64];
        snprintf(key, sizeof(key), "backups/rbd/vm1/%s/data.%u", m->id, i);
        snprintf(etag, sizeof(etag), "\"0123456789abcdef0123456789abcdef-%u\"", i + 1);
        assert_int_equal(manifest_add_object(m, key, (1ULL << 33) + i, etag), 0);
    }
    char ikey[128];
    snprintf(ikey, sizeof(ikey), "backups/rbd/vm1/%s/index", m->id);
    assert_int_equal(manifest_set_index(m, ikey, 456), 0);
    memset(m->index_sha256, 'e', 64);
    m->index_sha256[0] = '0';
    m->index_records = 789;
    m->data_bytes = INT64_MAX;
    m->zero_bytes = (uint64_t)INT64_MAX + 1;
    m->stored_bytes = UINT64_MAX;
    m->chunks = 9007199254740993ULL;   /* 2^53 + 1: not exact in a double */
    m->zero_chunks = 0;
}

static void assert_manifest_equal(const manifest *a, const manifest *b)
{
    assert_string_equal(a->id, b->id);
    assert_true(a->created == b->created);
    assert_string_equal(a->tool, b->tool);
    assert_string_equal(a->pool, b->pool);
    assert_string_equal(a->ns, b->ns);
    assert_string_equal(a->image, b->image);
    assert_string_equal(a->image_id, b->image_id);
    assert_true(a->size == b->size);
    assert_int_equal(a->order, b->order);
    assert_true(a->features == b->features);
    assert_true(a->stripe_unit == b->stripe_unit);
    assert_true(a->stripe_count == b->stripe_count);
    assert_string_equal(a->snap_name, b->snap_name);
    assert_true(a->snap_id == b->snap_id);
    assert_true(a->snap_time == b->snap_time);
    assert_int_equal(a->full, b->full);
    assert_string_equal(a->parent_id, b->parent_id);
    assert_string_equal(a->parent_snap, b->parent_snap);
    assert_true(a->chunk_size == b->chunk_size);
    assert_int_equal(a->nobjects, b->nobjects);
    for (size_t i = 0; i < a->nobjects; i++) {
        assert_string_equal(a->objects[i].key, b->objects[i].key);
        assert_true(a->objects[i].size == b->objects[i].size);
        assert_string_equal(a->objects[i].etag, b->objects[i].etag);
    }
    assert_string_equal(a->index.key, b->index.key);
    assert_true(a->index.size == b->index.size);
    assert_string_equal(a->index_sha256, b->index_sha256);
    assert_true(a->index_records == b->index_records);
    assert_true(a->data_bytes == b->data_bytes);
    assert_true(a->zero_bytes == b->zero_bytes);
    assert_true(a->stored_bytes == b->stored_bytes);
    assert_true(a->chunks == b->chunks);
    assert_true(a->zero_chunks == b->zero_chunks);
}

static void test_manifest_round_trip(void **state)
{
    for (int full = 0; full <= 1; full++) {
        manifest m, got;
        char *json;
        size_t len;
        fill_manifest(&m, full);
        assert_int_equal(manifest_to_json(&m, &json, &len), 0);
        assert_int_equal(strlen(json), len);
        assert_non_null(strstr(json, "\"checksum\""));
        assert_non_null(strstr(json, "18446744073709551615"));
        assert_non_null(strstr(json, "9007199254740993"));
        assert_non_null(strstr(json, full ? "\"parent\": null" : "\"type\": \"incremental\""));
        assert_non_null(strstr(json, "\"created\": \"2026-11-21T08:30:05Z\""));
        manifest_init(&got);
        assert_int_equal(manifest_from_json(json, len, &got), 0);
        assert_manifest_equal(&m, &got);
        /* parsing into a used manifest replaces its content */
        assert_int_equal(manifest_from_json(json, len, &got), 0);
        assert_int_equal(got.nobjects, 5);
        manifest_clear(&got);
        free(json);

        /* no data objects at all */
        manifest_clear(&m);
        fill_manifest(&m, full);
        for (size_t i = 0; i < m.nobjects; i++)
            free(m.objects[i].key);     /* the key and etag share one block */
        free(m.objects);
        m.objects = NULL;
        m.nobjects = 0;
        assert_int_equal(manifest_to_json(&m, &json, &len), 0);
        manifest_init(&got);
        assert_int_equal(manifest_from_json(json, len, &got), 0);
        assert_int_equal(got.nobjects, 0);
        assert_null(got.objects);
        manifest_clear(&got);
        free(json);
        manifest_clear(&m);
    }
}

/* Re-serialise json after mutate(), with a fresh checksum computed the way manifest.c
 * does (plain json-c serialisation without "checksum"). */
static char *reseal(const char *json, void (*mutate)(json_object *doc))
{
    json_object *doc = json_tokener_parse(json);
    assert_non_null(doc);
    mutate(doc);
    json_object_object_del(doc, "checksum");
    size_t n;
    const char *s = json_object_to_json_string_length(doc, JSON_C_TO_STRING_PLAIN, &n);
    unsigned char md[32];
    unsigned int mdlen;
    assert_true(EVP_Digest(s, n, md, &mdlen, EVP_sha256(), NULL));
    char sum[80] = "sha256:";
    for (int i = 0; i < 32; i++)
        snprintf(sum + 7 + 2 * i, 3, "%02x", md[i]);
    json_object_object_add(doc, "checksum", json_object_new_string(sum));
    char *out = strdup(json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PLAIN));
    assert_non_null(out);
    json_object_put(doc);
    return out;
}

static json_object *member(json_object *o, const char *k)
{
    json_object *v = NULL;
    assert_true(json_object_object_get_ex(o, k, &v));
    return v;
}

static void mut_none(json_object *d) { (void)d; }
static void mut_format2(json_object *d)
{
    json_object_object_add(d, "format", json_object_new_int(2));
}
static void mut_format_str(json_object *d)
{
    json_object_object_add(d, "format", json_object_new_string("1"));
}
static void mut_no_format(json_object *d) { json_object_object_del(d, "format"); }
static void mut_no_image(json_object *d) { json_object_object_del(d, "image"); }
static void mut_no_size(json_object *d) { json_object_object_del(member(d, "image"), "size"); }
static void mut_no_totals_chunks(json_object *d)
{
    json_object_object_del(member(d, "totals"), "chunks");
}
static void mut_no_parent(json_object *d) { json_object_object_del(d, "parent"); }
static void mut_neg_size(json_object *d)
{
    json_object_object_add(member(d, "image"), "size", json_object_new_int64(-1));
}
static void mut_str_size(json_object *d)
{
    json_object_object_add(member(d, "image"), "size", json_object_new_string("1024"));
}
static void mut_double_size(json_object *d)
{
    json_object_object_add(member(d, "image"), "size", json_object_new_double(1024.5));
}
static void mut_bad_type(json_object *d)
{
    json_object_object_add(d, "type", json_object_new_string("differential"));
}
static void mut_full_with_parent(json_object *d)
{
    json_object_object_add(d, "type", json_object_new_string("full"));
}
static void mut_bad_created(json_object *d)
{
    json_object_object_add(d, "created", json_object_new_string("2026-11-21 08:30:05"));
}
static void mut_bad_objects(json_object *d)
{
    json_object_object_add(d, "data_objects", json_object_new_object());
}
static void mut_bad_object_etag(json_object *d)
{
    json_object *o = json_object_array_get_idx(member(d, "data_objects"), 1);
    json_object_object_del(o, "etag");
}
static void mut_bad_sha(json_object *d)
{
    json_object_object_add(member(d, "index"), "sha256", json_object_new_string("abc"));
}
static void mut_bad_compression(json_object *d)
{
    json_object_object_add(d, "compression", json_object_new_string("zstd"));
}
static void mut_long_id(json_object *d)
{
    json_object_object_add(d, "id", json_object_new_string("20261121T083000Z-1234567890123456"));
}
static void mut_order(json_object *d)
{
    json_object_object_add(member(d, "image"), "order", json_object_new_int(64));
}
static void mut_extra(json_object *d)
{
    json_object_object_add(d, "comment", json_object_new_string("later addition"));
}

static void test_manifest_rejects(void **state)
{
    manifest m, got;
    char *json, *doc;
    size_t len;
    fill_manifest(&m, 0);
    assert_int_equal(manifest_to_json(&m, &json, &len), 0);
    manifest_init(&got);

    /* tampered value: the size 2^44 becomes 2^44 + 1 */
    char *t = strdup(json);
    char *at = strstr(t, "17592186044416");
    assert_non_null(at);
    at[13] = '7';
    assert_int_equal(manifest_from_json(t, strlen(t), &got), -EBADMSG);
    assert_null(got.objects);
    assert_int_equal(got.nobjects, 0);
    /* tampered checksum */
    memcpy(t, json, len + 1);
    at = strstr(t, "sha256:");
    assert_non_null(at);
    at[7] = at[7] == 'a' ? 'b' : 'a';
    assert_int_equal(manifest_from_json(t, strlen(t), &got), -EBADMSG);
    free(t);

    /* resealing without change verifies; format checks come before the checksum */
    doc = reseal(json, mut_none);
    assert_int_equal(manifest_from_json(doc, strlen(doc), &got), 0);
    manifest_clear(&got);
    free(doc);

    struct {
        void (*fn)(json_object *);
        int want;
    } cases[] = {
        { mut_format2, -EINVAL },        { mut_format_str, -EINVAL },
        { mut_no_format, -EINVAL },      { mut_no_image, -EINVAL },
        { mut_no_size, -EINVAL },        { mut_no_totals_chunks, -EINVAL },
        { mut_no_parent, -EINVAL },      { mut_neg_size, -EINVAL },
        { mut_str_size, -EINVAL },       { mut_double_size, -EINVAL },
        { mut_bad_type, -EINVAL },       { mut_full_with_parent, -EINVAL },
        { mut_bad_created, -EINVAL },    { mut_bad_objects, -EINVAL },
        { mut_bad_object_etag, -EINVAL }, { mut_bad_sha, -EINVAL },
        { mut_bad_compression, -EINVAL }, { mut_long_id, -EINVAL },
        { mut_order, -EINVAL },          { mut_extra, 0 },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        doc = reseal(json, cases[i].fn);
        assert_int_equal(manifest_from_json(doc, strlen(doc), &got), cases[i].want);
        if (cases[i].want != 0) {
            assert_null(got.objects);
            assert_string_equal(got.id, "");
        }
        manifest_clear(&got);
        free(doc);
    }

    /* an unknown format without resealing is still -EINVAL, not a checksum error */
    t = strdup(json);
    at = strstr(t, "\"format\": 1");
    assert_non_null(at);
    at[10] = '3';
    assert_int_equal(manifest_from_json(t, strlen(t), &got), -EINVAL);
    free(t);

    /* no checksum at all, malformed text, not an object, trailing junk */
    json_object *o = json_tokener_parse(json);
    json_object_object_del(o, "checksum");
    const char *s = json_object_to_json_string(o);
    assert_int_equal(manifest_from_json(s, strlen(s), &got), -EINVAL);
    json_object_put(o);
    assert_int_equal(manifest_from_json(json, len / 2, &got), -EINVAL);
    assert_int_equal(manifest_from_json("[1,2]", 5, &got), -EINVAL);
    assert_int_equal(manifest_from_json("", 0, &got), -EINVAL);
    t = malloc(len + 3);
    memcpy(t, json, len);
    memcpy(t + len, "{}", 3);
    assert_int_equal(manifest_from_json(t, len + 2, &got), -EINVAL);
    free(t);

    free(json);

    /* invalid manifests are not serialised */
    manifest bad;
    fill_manifest(&bad, 0);
    bad.parent_id[0] = '\0';
    assert_int_equal(manifest_to_json(&bad, &json, &len), -EINVAL);
    assert_null(json);
    manifest_clear(&bad);
    fill_manifest(&bad, 1);
    snprintf(bad.id, sizeof(bad.id), "x");
    assert_int_equal(manifest_to_json(&bad, &json, &len), -EINVAL);
    manifest_clear(&bad);
    fill_manifest(&bad, 1);
    bad.index_sha256[3] = 'G';
    assert_int_equal(manifest_to_json(&bad, &json, &len), -EINVAL);
    manifest_clear(&bad);

    assert_int_equal(manifest_add_object(&m, "", 1, "e"), -EINVAL);
    char longkey[2048];
    memset(longkey, 'k', sizeof(longkey) - 1);
    longkey[sizeof(longkey) - 1] = '\0';
    assert_int_equal(manifest_add_object(&m, longkey, 1, "e"), -EINVAL);
    assert_int_equal(m.nobjects, 5);
    manifest_clear(&m);
}

static void test_manifest_formatting(void **state)
{
    manifest m, got;
    char *json;
    size_t len;
    fill_manifest(&m, 1);
    assert_int_equal(manifest_to_json(&m, &json, &len), 0);
    /* the output is pretty-printed for humans, with '/' unescaped */
    assert_non_null(strstr(json, "\n  \"format\": 1"));
    assert_non_null(strstr(json, "backups/rbd/vm1/"));
    assert_int_equal(json[len - 1], '\n');

    /* the same document in other layouts verifies: plain, spaced, slashes escaped */
    static const int flags[] = { JSON_C_TO_STRING_PLAIN, JSON_C_TO_STRING_SPACED,
                                 JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_PRETTY_TAB };
    for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
        json_object *o = json_tokener_parse(json);
        assert_non_null(o);
        const char *s = json_object_to_json_string_ext(o, flags[i]);
        manifest_init(&got);
        assert_int_equal(manifest_from_json(s, strlen(s), &got), 0);
        assert_manifest_equal(&m, &got);
        manifest_clear(&got);
        json_object_put(o);
    }
    /* the checksum moved to the front still verifies */
    json_object *o = json_tokener_parse(json);
    json_object *sum = json_object_get(member(o, "checksum"));
    json_object_object_del(o, "checksum");
    json_object *front = json_object_new_object();
    json_object_object_add(front, "checksum", sum);
    json_object_object_foreach(o, k, v)
        json_object_object_add(front, k, json_object_get(v));
    const char *s = json_object_to_json_string(front);
    assert_int_equal(manifest_from_json(s, strlen(s), &got), 0);
    manifest_clear(&got);
    /* but members in another order do not */
    json_object *img = json_object_get(member(front, "image"));
    json_object_object_del(front, "image");
    json_object_object_add(front, "image", img);
    s = json_object_to_json_string(front);
    assert_int_equal(manifest_from_json(s, strlen(s), &got), -EBADMSG);
    json_object_put(front);
    json_object_put(o);
    free(json);
    manifest_clear(&m);
}

/* m made an encrypted backup (format 2) with made-up key material. */
static void fill_enc(manifest *m, int full)
{
    fill_manifest(m, full);
    m->enc.on = 1;
    snprintf(m->enc.key_id, sizeof(m->enc.key_id), "0123456789abcdef");
    m->enc.has_kdf = 1;
    memset(m->enc.kdf.salt, 0xa5, SEAL_SALT_LEN);
    m->enc.kdf.n = 1u << 15;
    m->enc.kdf.r = 8;
    m->enc.kdf.p = 1;
    for (int i = 0; i < SEAL_WRAPPED_LEN; i++)
        m->enc.wrapped[i] = (uint8_t)i;
    m->enc.has_parent_mac = !full;
    memset(m->enc.parent_mac, full ? 0 : 0x3c, SEAL_MAC_LEN);
    memset(m->enc.mac, 0xc3, SEAL_MAC_LEN);
}

static void test_manifest_enc_round_trip(void **state)
{
    (void)state;
    for (int full = 0; full <= 1; full++) {
        manifest m, got;
        char *json, *body;
        size_t len, blen;
        fill_enc(&m, full);
        m.enc.has_kdf = full;           /* a key file (kdf null) and a passphrase */
        if (!full)
            memset(&m.enc.kdf, 0, sizeof(m.enc.kdf));
        assert_int_equal(manifest_to_json(&m, &json, &len), 0);
        assert_non_null(strstr(json, "\"format\": 2"));
        assert_non_null(strstr(json, "\"cipher\": \"aes-256-gcm\""));
        assert_non_null(strstr(json, "\"id\": \"0123456789abcdef\""));
        assert_non_null(strstr(json, full ? "\"parent_mac\": null" : "\"parent_mac\": \"3c3c"));
        assert_non_null(strstr(json, full ? "\"alg\": \"scrypt\"" : "\"kdf\": null"));
        assert_non_null(strstr(json, "\"wrapped\": \"000102"));
        assert_non_null(strstr(json, "\"mac\": \"hmac-sha256:c3c3"));
        assert_true(strstr(json, "\"mac\"") < strstr(json, "\"checksum\""));
        manifest_init(&got);
        assert_int_equal(manifest_from_json(json, len, &got), 0);
        assert_manifest_equal(&m, &got);
        assert_memory_equal(&m.enc, &got.enc, sizeof(m.enc));

        /* the MAC body: the plain document without key, mac and checksum */
        assert_int_equal(manifest_mac_body(&got, &body, &blen), 0);
        assert_int_equal(strlen(body), blen);
        assert_non_null(strstr(body, "\"format\":2"));
        assert_non_null(strstr(body, "\"encryption\":{"));
        assert_null(strstr(body, "\"key\":{"));
        assert_null(strstr(body, "hmac-sha256"));
        assert_null(strstr(body, "checksum"));
        free(body);
        manifest_clear(&got);
        free(json);
        manifest_clear(&m);
    }
}

/* Each changes one field of an encrypted manifest. */
static void tw_id(manifest *m) { m->id[17] = '2'; }
static void tw_created(manifest *m) { m->created++; }
static void tw_tool(manifest *m) { m->tool[0] = 'R'; }
static void tw_pool(manifest *m) { m->pool[0] = 'x'; }
static void tw_ns(manifest *m) { snprintf(m->ns, sizeof(m->ns), "other"); }
static void tw_image(manifest *m) { m->image[0] = 'w'; }
static void tw_image_id(manifest *m) { m->image_id[0] = 'f'; }
static void tw_size(manifest *m) { m->size--; }
static void tw_order(manifest *m) { m->order++; }
static void tw_features(manifest *m) { m->features ^= 1; }
static void tw_stripe_unit(manifest *m) { m->stripe_unit *= 2; }
static void tw_stripe_count(manifest *m) { m->stripe_count++; }
static void tw_snap_name(manifest *m) { m->snap_name[0] = 'R'; }
static void tw_snap_id(manifest *m) { m->snap_id--; }
static void tw_snap_time(manifest *m) { m->snap_time++; }
static void tw_parent_id(manifest *m) { m->parent_id[14] = '1'; }
static void tw_parent_snap(manifest *m) { m->parent_snap[0] = 'R'; }
static void tw_chunk_size(manifest *m) { m->chunk_size /= 2; }
static void tw_obj_key(manifest *m) { m->objects[2].key[0] = 'B'; }
static void tw_obj_size(manifest *m) { m->objects[2].size++; }
static void tw_obj_etag(manifest *m) { m->objects[2].etag[1] = 'f'; }
static void tw_obj_drop(manifest *m) { free(m->objects[--m->nobjects].key); }
static void tw_index_key(manifest *m) { m->index.key[0] = 'B'; }
static void tw_index_size(manifest *m) { m->index.size++; }
static void tw_index_sha(manifest *m) { m->index_sha256[5] = 'f'; }
static void tw_records(manifest *m) { m->index_records--; }
static void tw_data_bytes(manifest *m) { m->data_bytes--; }
static void tw_zero_bytes(manifest *m) { m->zero_bytes--; }
static void tw_stored(manifest *m) { m->stored_bytes--; }
static void tw_chunks(manifest *m) { m->chunks--; }
static void tw_zero_chunks(manifest *m) { m->zero_chunks++; }
static void tw_parent_mac(manifest *m) { m->enc.parent_mac[31] ^= 1; }

static void test_manifest_enc_mac_covers(void **state)
{
    (void)state;
    void (*tw[])(manifest *) = {
        tw_id, tw_created, tw_tool, tw_pool, tw_ns, tw_image, tw_image_id, tw_size,
        tw_order, tw_features, tw_stripe_unit, tw_stripe_count, tw_snap_name, tw_snap_id,
        tw_snap_time, tw_parent_id, tw_parent_snap, tw_chunk_size, tw_obj_key, tw_obj_size,
        tw_obj_etag, tw_obj_drop, tw_index_key, tw_index_size, tw_index_sha, tw_records,
        tw_data_bytes, tw_zero_bytes, tw_stored, tw_chunks, tw_zero_chunks, tw_parent_mac,
    };
    manifest m;
    char *base, *body;
    size_t blen, len;
    fill_enc(&m, 0);
    assert_int_equal(manifest_mac_body(&m, &base, &blen), 0);
    for (size_t i = 0; i < sizeof(tw) / sizeof(tw[0]); i++) {
        manifest t;
        fill_enc(&t, 0);
        tw[i](&t);
        assert_int_equal(manifest_mac_body(&t, &body, &len), 0);
        if (len == blen && memcmp(body, base, len) == 0)
            fail_msg("tamper %zu leaves the MAC body unchanged", i);
        free(body);
        manifest_clear(&t);
    }
    /* key rotation (another key id, kdf and wrap) and the mac itself stay outside */
    manifest t;
    fill_enc(&t, 0);
    t.enc.key_id[0] = 'f';
    t.enc.has_kdf = 0;
    t.enc.wrapped[7] ^= 1;
    t.enc.mac[0] ^= 1;
    assert_int_equal(manifest_mac_body(&t, &body, &len), 0);
    assert_int_equal(len, blen);
    assert_memory_equal(body, base, len);
    free(body);
    manifest_clear(&t);
    free(base);
    manifest_clear(&m);
}

static void mut_enc_in_v1(json_object *d)
{
    json_object *e = json_object_new_object();
    json_object_object_add(e, "cipher", json_object_new_string("aes-256-gcm"));
    json_object_object_add(d, "encryption", e);
}
static void mut_no_mac(json_object *d) { json_object_object_del(d, "mac"); }
static void mut_no_key(json_object *d) { json_object_object_del(d, "key"); }
static void mut_format1(json_object *d)
{
    json_object_object_add(d, "format", json_object_new_int(1));
}
static void mut_cipher(json_object *d)
{
    json_object_object_add(member(d, "encryption"), "cipher",
                           json_object_new_string("aes-128-gcm"));
}
static void mut_key_id(json_object *d)
{
    json_object_object_add(member(d, "key"), "id", json_object_new_string("0123456789ABCDEF"));
}
static void mut_wrapped_short(json_object *d)
{
    json_object_object_add(member(d, "key"), "wrapped", json_object_new_string("0011"));
}
static void mut_mac_prefix(json_object *d)
{
    const char *mac = json_object_get_string(member(d, "mac"));
    char buf[128];
    snprintf(buf, sizeof(buf), "hmac-sha512:%s", mac + strlen("hmac-sha256:"));
    json_object_object_add(d, "mac", json_object_new_string(buf));
}
static void mut_no_parent_mac(json_object *d)
{
    json_object_object_add(member(d, "encryption"), "parent_mac", NULL);
}
static void mut_kdf_n(json_object *d)
{
    json_object_object_add(member(member(d, "key"), "kdf"), "n", json_object_new_int(3000));
}
static void mut_kdf_r(json_object *d)
{
    json_object_object_add(member(member(d, "key"), "kdf"), "r", json_object_new_int(0));
}

static void test_manifest_enc_rejects(void **state)
{
    (void)state;
    manifest m, got;
    char *json, *doc, *body;
    size_t len;
    manifest_init(&got);

    /* format 1 documents may not carry the members of format 2 */
    fill_manifest(&m, 1);
    assert_int_equal(manifest_to_json(&m, &json, &len), 0);
    assert_null(strstr(json, "encryption"));
    assert_int_equal(manifest_mac_body(&m, &body, &len), -EINVAL);
    doc = reseal(json, mut_enc_in_v1);
    assert_int_equal(manifest_from_json(doc, strlen(doc), &got), -EINVAL);
    free(doc);
    free(json);
    manifest_clear(&m);

    fill_enc(&m, 0);
    assert_int_equal(manifest_to_json(&m, &json, &len), 0);
    void (*muts[])(json_object *) = {
        mut_no_mac, mut_no_key, mut_format1, mut_cipher, mut_key_id, mut_wrapped_short,
        mut_mac_prefix, mut_no_parent_mac, mut_kdf_n, mut_kdf_r,
    };
    for (size_t i = 0; i < sizeof(muts) / sizeof(muts[0]); i++) {
        doc = reseal(json, muts[i]);
        if (manifest_from_json(doc, strlen(doc), &got) != -EINVAL)
            fail_msg("mutation %zu accepted", i);
        manifest_clear(&got);
        free(doc);
    }
    doc = reseal(json, mut_none);
    assert_int_equal(manifest_from_json(doc, strlen(doc), &got), 0);
    manifest_clear(&got);
    free(doc);
    free(json);

    /* the writer's side of the rules */
    m.enc.has_parent_mac = 0;           /* an incremental needs its parent's mac */
    assert_int_equal(manifest_to_json(&m, &json, &len), -EINVAL);
    manifest_clear(&m);
    fill_enc(&m, 1);
    m.enc.has_parent_mac = 1;           /* a full has none */
    assert_int_equal(manifest_to_json(&m, &json, &len), -EINVAL);
    m.enc.has_parent_mac = 0;
    m.enc.key_id[3] = 'g';
    assert_int_equal(manifest_to_json(&m, &json, &len), -EINVAL);
    snprintf(m.enc.key_id, sizeof(m.enc.key_id), "0123456789abcde");
    assert_int_equal(manifest_to_json(&m, &json, &len), -EINVAL);
    snprintf(m.enc.key_id, sizeof(m.enc.key_id), "0123456789abcdef");
    m.enc.kdf.n = 1u << 23;
    assert_int_equal(manifest_to_json(&m, &json, &len), -EINVAL);
    m.enc.kdf.n = 1u << 10;
    m.enc.kdf.p = 17;
    assert_int_equal(manifest_to_json(&m, &json, &len), -EINVAL);
    m.enc.kdf.p = 16;
    assert_int_equal(manifest_to_json(&m, &json, &len), 0);
    free(json);
    manifest_clear(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_manifest_round_trip),
        cmocka_unit_test(test_manifest_rejects),
        cmocka_unit_test(test_manifest_formatting),
        cmocka_unit_test(test_manifest_enc_round_trip),
        cmocka_unit_test(test_manifest_enc_mac_covers),
        cmocka_unit_test(test_manifest_enc_rejects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
