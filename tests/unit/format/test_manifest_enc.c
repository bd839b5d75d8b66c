/* test_manifest_enc.c - unit tests of encrypted manifests (format 2): round trips, a MAC
 * over every field, rejects on both sides. */
#include "manifest_fixture.h"

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
        cmocka_unit_test(test_manifest_enc_round_trip),
        cmocka_unit_test(test_manifest_enc_mac_covers),
        cmocka_unit_test(test_manifest_enc_rejects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
