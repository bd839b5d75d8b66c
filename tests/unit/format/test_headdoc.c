/* test_headdoc.c - unit tests of headdoc.c: the head object's round trip, its MAC bound
 * to every field and to the master key, malformed documents; naming_head_key. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent/format/headdoc.h"

static void make_master(seal_key *k, uint8_t fill)
{
    uint8_t b[SEAL_KEY_LEN];
    memset(b, fill, sizeof(b));
    assert_int_equal(seal_master_init(k, b), 0);
}

static void sample(headdoc *h)
{
    manifest m;
    manifest_init(&m);
    snprintf(m.id, sizeof(m.id), "20261121T083000Z");
    snprintf(m.pool, sizeof(m.pool), "rbd");
    snprintf(m.ns, sizeof(m.ns), "ns1");
    snprintf(m.image, sizeof(m.image), "vm/1");
    snprintf(m.image_id, sizeof(m.image_id), "10a2b3");
    assert_int_equal(headdoc_from_manifest(h, &m), -EINVAL);     /* not encrypted */
    m.enc.on = 1;
    memset(m.enc.mac, 0xab, SEAL_MAC_LEN);
    assert_int_equal(headdoc_from_manifest(h, &m), 0);
}

static char *to_json(headdoc *h, const seal_key *mk)
{
    char *json = NULL;
    size_t len = 0;
    assert_int_equal(headdoc_to_json(h, mk, &json, &len), 0);
    assert_int_equal(strlen(json), len);
    return json;
}

static void test_roundtrip(void **state)
{
    (void)state;
    seal_key mk, other;
    headdoc h, back;
    make_master(&mk, 1);
    make_master(&other, 2);
    sample(&h);
    char *json = to_json(&h, &mk);
    assert_non_null(strstr(json, "\"newest\":\"20261121T083000Z\""));
    assert_non_null(strstr(json, "\"image\":\"vm/1\""));
    assert_int_equal(headdoc_from_json(json, strlen(json), &back), 0);
    assert_string_equal(back.newest, "20261121T083000Z");
    assert_string_equal(back.key_id, mk.id);
    assert_memory_equal(back.newest_mac, h.newest_mac, SEAL_MAC_LEN);
    assert_int_equal(headdoc_mac_ok(&back, &mk), 1);
    assert_int_equal(headdoc_mac_ok(&back, &other), 0);        /* another master key */
    seal_key dk;
    assert_int_equal(seal_data_init(&dk, mk.key), 0);
    assert_int_equal(headdoc_mac_ok(&back, &dk), 0);           /* not a master key */
    char *dj = NULL;
    size_t dl = 0;
    assert_int_equal(headdoc_to_json(&h, &dk, &dj, &dl), -EINVAL);
    free(json);
}

/* Each field is under the MAC. */
static void test_fields_bound(void **state)
{
    (void)state;
    seal_key mk;
    headdoc h, t;
    make_master(&mk, 1);
    sample(&h);
    free(to_json(&h, &mk));
    t = h;
    snprintf(t.newest, sizeof(t.newest), "29991231T235959Z");
    assert_int_equal(headdoc_mac_ok(&t, &mk), 0);
    t = h;
    t.newest_mac[5] ^= 1;
    assert_int_equal(headdoc_mac_ok(&t, &mk), 0);
    t = h;
    snprintf(t.image, sizeof(t.image), "vm2");
    assert_int_equal(headdoc_mac_ok(&t, &mk), 0);
    t = h;
    snprintf(t.ns, sizeof(t.ns), "%s", "");
    assert_int_equal(headdoc_mac_ok(&t, &mk), 0);
    t = h;
    snprintf(t.image_id, sizeof(t.image_id), "ffff");
    assert_int_equal(headdoc_mac_ok(&t, &mk), 0);
    t = h;
    t.mac[0] ^= 0x80;
    assert_int_equal(headdoc_mac_ok(&t, &mk), 0);
    assert_int_equal(headdoc_mac_ok(&h, &mk), 1);
}

/* A document edited in the bucket: parses (if well-formed) but fails its MAC. */
static void test_edited_text(void **state)
{
    (void)state;
    seal_key mk;
    headdoc h, back;
    make_master(&mk, 1);
    sample(&h);
    char *json = to_json(&h, &mk);
    char *p = strstr(json, "20261121T083000Z");
    p[3] = '7';                                  /* 2027... */
    assert_int_equal(headdoc_from_json(json, strlen(json), &back), 0);
    assert_int_equal(headdoc_mac_ok(&back, &mk), 0);
    free(json);
}

static void test_malformed(void **state)
{
    (void)state;
    seal_key mk;
    headdoc h, back;
    make_master(&mk, 1);
    sample(&h);
    char *json = to_json(&h, &mk);
    size_t len = strlen(json);
    assert_int_equal(headdoc_from_json(json, len - 1, &back), -EINVAL);   /* truncated */
    assert_int_equal(headdoc_from_json("[]", 2, &back), -EINVAL);
    assert_int_equal(headdoc_from_json("", 0, &back), -EINVAL);
    char buf[4096];
    snprintf(buf, sizeof(buf), "%.*s,\"extra\":1}", (int)(len - 1), json);
    assert_int_equal(headdoc_from_json(buf, strlen(buf), &back), -EINVAL);
    snprintf(buf, sizeof(buf), "%s", json);
    char *f = strstr(buf, "\"format\":1");
    f[9] = '2';
    assert_int_equal(headdoc_from_json(buf, strlen(buf), &back), -EINVAL);
    snprintf(buf, sizeof(buf), "%s", json);
    memcpy(strstr(buf, "hmac-sha256:"), "hmac-sha512:", 12);
    assert_int_equal(headdoc_from_json(buf, strlen(buf), &back), -EINVAL);
    snprintf(buf, sizeof(buf), "%s", json);
    memcpy(strstr(buf, "20261121T083000Z"), "notabackupid....", 16);
    assert_int_equal(headdoc_from_json(buf, strlen(buf), &back), -EINVAL);
    free(json);
}

static void test_head_key(void **state)
{
    (void)state;
    char out[64];
    assert_int_equal(naming_head_key("pfx/rbd/vm1/", out, sizeof(out)), 0);
    assert_string_equal(out, "pfx/rbd/vm1/head.json");
    assert_int_equal(naming_head_key("pfx/rbd/vm1", out, sizeof(out)), -EINVAL);
    assert_int_equal(naming_head_key("pfx/rbd/vm1/", out, 10), -ENAMETOOLONG);
    naming_spec spec;
    char id[NAMING_ID_LEN];
    int kind = -1;
    assert_int_equal(naming_parse_manifest_key("pfx", "pfx/rbd/vm1/head.json", &spec, id),
                     -EINVAL);
    assert_int_equal(naming_parse_object_key("pfx", "pfx/rbd/vm1/head.json", &spec, id,
                                             &kind), -EINVAL);
    assert_int_equal(kind, NAMING_LEAF_NONE);
    assert_int_equal(naming_parse_object_key("pfx", "pfx/rbd/ns/vm1/head.json", &spec, id,
                                             &kind), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_fields_bound),
        cmocka_unit_test(test_edited_text),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_head_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
