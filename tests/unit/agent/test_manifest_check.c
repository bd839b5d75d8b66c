/* test_manifest_check.c - manifest acceptance: field checks, folder binding, caps,
 * dates, object-key ownership (what prune may touch). */
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

#include "agent/repo/catalog.h"
#include "agent/format/manifest.h"
#include "agent/format/naming.h"
#include "agent/command/prune/prune.h"

#define IPFX "rbd2s3/rbd/vm1/"
#define ID "20261121T083000Z"

/* A valid incremental backup of rbd/vm1 under prefix rbd2s3 with nobj data objects. */
static void make(manifest *m, unsigned nobj)
{
    manifest_init(m);
    snprintf(m->id, sizeof(m->id), ID);
    m->created = 1795249805;
    snprintf(m->tool, sizeof(m->tool), "rbd2s3 test");
    snprintf(m->pool, sizeof(m->pool), "rbd");
    snprintf(m->image, sizeof(m->image), "vm1");
    m->size = 1ULL << 30;
    m->order = 22;
    snprintf(m->snap_name, sizeof(m->snap_name), "rbd2s3-" ID);
    m->snap_time = 1795249800;
    snprintf(m->parent_id, sizeof(m->parent_id), "20261120T083000Z");
    snprintf(m->parent_snap, sizeof(m->parent_snap), "rbd2s3-20261120T083000Z");
    m->chunk_size = 1 << 20;
    for (unsigned i = 0; i < nobj; i++) {
        char key[128];
        naming_data_key(IPFX, ID, i, key, sizeof(key));
        assert_int_equal(manifest_add_object(m, key, 100 + i, "\"etag\""), 0);
    }
    char ikey[128];
    naming_index_key(IPFX, ID, ikey, sizeof(ikey));
    assert_int_equal(manifest_set_index(m, ikey, 300), 0);
    memset(m->index_sha256, 'a', 64);
    m->index_records = 10;
}

static int folder(const manifest *m, const char **why)
{
    return manifest_check_folder(m, IPFX, ID, "rbd", "", "vm1", why);
}

static void test_folder_binding(void **state)
{
    (void)state;
    manifest m;
    const char *why;
    make(&m, 3);
    assert_int_equal(folder(&m, &why), 0);
    assert_int_equal(manifest_check_folder(&m, IPFX, "20261121T083000Z-1", "rbd", "", "vm1",
                                           &why), -EINVAL);
    assert_non_null(strstr(why, "id"));
    assert_int_equal(manifest_check_folder(&m, IPFX, ID, "rbd", "vm1", "vm1", &why), -EINVAL);
    assert_non_null(strstr(why, "image"));
    /* a data key of another image, or outside the prefix */
    free(m.objects[1].key);
    m.objects[1].key = strdup("rbd2s3/rbd/victim/" ID "/data.1");
    m.objects[1].etag = m.objects[1].key + strlen(m.objects[1].key);
    assert_int_equal(folder(&m, &why), -EINVAL);
    assert_non_null(strstr(why, "data object"));
    manifest_clear(&m);
    make(&m, 1);
    assert_int_equal(manifest_set_index(&m, "other-app/important.db", 300), 0);
    assert_int_equal(folder(&m, &why), -EINVAL);
    assert_non_null(strstr(why, "index"));
    manifest_clear(&m);
    /* data keys out of order are not the derived ones either */
    make(&m, 2);
    char *k = m.objects[0].key;
    m.objects[0].key = m.objects[1].key;
    m.objects[1].key = k;
    assert_int_equal(folder(&m, &why), -EINVAL);
    m.objects[1].key = m.objects[0].key;
    m.objects[0].key = k;
    manifest_clear(&m);
}

/* What the writer refuses the parser refuses (security F8), checked through JSON. */
static void test_writer_and_parser_agree(void **state)
{
    (void)state;
    manifest m, back;
    char *json;
    size_t len;
    make(&m, 2);
    assert_int_equal(manifest_to_json(&m, &json, &len), 0);
    manifest_init(&back);
    assert_int_equal(manifest_from_json(json, len, &back), 0);
    free(json);
    manifest_clear(&back);
    m.parent_snap[0] = '\0';              /* an incremental without parent snapshot */
    assert_int_equal(manifest_check(&m), -EINVAL);
    assert_int_equal(manifest_to_json(&m, &json, &len), -EINVAL);
    snprintf(m.parent_snap, sizeof(m.parent_snap), "rbd2s3-20261120T083000Z");
    m.chunk_size = (64ULL << 20) + 1;
    assert_int_equal(manifest_check(&m), -EINVAL);
    m.chunk_size = 0;
    assert_int_equal(manifest_check(&m), -EINVAL);
    m.chunk_size = 1 << 20;
    m.index_records = m.size + 1;         /* more records than bytes */
    assert_int_equal(manifest_check(&m), -EINVAL);
    m.index_records = 10;
    m.index.size = manifest_index_bound(10) + 1;
    assert_int_equal(manifest_check(&m), -EINVAL);
    m.index.size = 0;
    assert_int_equal(manifest_check(&m), -EINVAL);
    m.index.size = 300;
    snprintf(m.parent_id, sizeof(m.parent_id), ID);   /* its own parent */
    assert_int_equal(manifest_check(&m), -EINVAL);
    manifest_clear(&m);
}

/* "sha256:<hex>" of doc serialised plain (doc without "checksum"), as rbd2s3 does. */
static void resign(json_object *doc)
{
    static const char digits[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    char sum[80] = "sha256:";
    json_object_object_del(doc, "checksum");
    size_t len;
    const char *s = json_object_to_json_string_length(doc, JSON_C_TO_STRING_PLAIN, &len);
    assert_true(EVP_Digest(s, len, md, &mdlen, EVP_sha256(), NULL));
    for (unsigned i = 0; i < 32; i++) {
        sum[7 + 2 * i] = digits[md[i] >> 4];
        sum[8 + 2 * i] = digits[md[i] & 15];
    }
    sum[71] = '\0';
    json_object_object_add(doc, "checksum", json_object_new_string(sum));
}

/* A correctly signed document that the writer would refuse is refused on input. */
static void test_parser_refuses_signed_bad(void **state)
{
    (void)state;
    manifest m, back;
    char *json;
    size_t len;
    make(&m, 1);
    assert_int_equal(manifest_to_json(&m, &json, &len), 0);
    json_object *doc = json_tokener_parse(json);
    free(json);
    json_object *parent;
    assert_true(json_object_object_get_ex(doc, "parent", &parent));
    json_object_object_add(parent, "snapshot", json_object_new_string(""));
    resign(doc);
    const char *s = json_object_to_json_string_length(doc, JSON_C_TO_STRING_PLAIN, &len);
    manifest_init(&back);
    assert_int_equal(manifest_from_json(s, len, &back), -EINVAL);
    /* and with a 1970-before date */
    json_object_object_add(parent, "snapshot",
                           json_object_new_string("rbd2s3-20261120T083000Z"));
    json_object_object_add(doc, "created", json_object_new_string("0849-11-18T11:06:40Z"));
    resign(doc);
    s = json_object_to_json_string_length(doc, JSON_C_TO_STRING_PLAIN, &len);
    assert_int_equal(manifest_from_json(s, len, &back), -EINVAL);
    json_object_object_add(doc, "created", json_object_new_string("2026-11-21T08:30:05Z"));
    resign(doc);
    s = json_object_to_json_string_length(doc, JSON_C_TO_STRING_PLAIN, &len);
    assert_int_equal(manifest_from_json(s, len, &back), 0);
    manifest_clear(&back);
    json_object_put(doc);
    manifest_clear(&m);
}

static void test_object_cap(void **state)
{
    (void)state;
    manifest m;
    manifest_init(&m);
    for (unsigned i = 0; i < MANIFEST_MAX_OBJECTS; i++)
        assert_int_equal(manifest_add_object(&m, "k", 1, ""), 0);
    assert_int_equal(manifest_add_object(&m, "k", 1, ""), -EINVAL);
    assert_int_equal(m.nobjects, MANIFEST_MAX_OBJECTS);
    manifest_clear(&m);
}

/* security F14: years format with 4 digits; before 1970 refused; round trip */
static void test_dates(void **state)
{
    (void)state;
    char iso[21];
    time_t t;
    naming_iso8601(0, iso);
    assert_string_equal(iso, "1970-01-01T00:00:00Z");
    assert_int_equal(naming_parse_iso8601(iso, &t), 0);
    assert_true(t == 0);
    naming_iso8601((time_t)253402300799LL, iso);   /* 9999-12-31T23:59:59Z */
    assert_string_equal(iso, "9999-12-31T23:59:59Z");
    assert_int_equal(naming_parse_iso8601(iso, &t), 0);
    assert_true(t == (time_t)253402300799LL);
    naming_iso8601(-1, iso);
    assert_string_equal(iso, "");
    assert_int_equal(naming_parse_iso8601("0849-11-18T11:06:40Z", &t), -EINVAL);
    assert_int_equal(naming_parse_iso8601("1969-12-31T23:59:59Z", &t), -EINVAL);
    char id[NAMING_ID_LEN];
    assert_int_equal(naming_backup_id(86400, NULL, NULL, id), 0);
    assert_string_equal(id, "19700102T000000Z");
    assert_int_equal(naming_backup_id(-86400, NULL, NULL, id), -EINVAL);
}

static void test_object_keys(void **state)
{
    (void)state;
    naming_spec s;
    char id[NAMING_ID_LEN];
    int kind;
    assert_int_equal(naming_parse_object_key("p", "p/rbd/vm1/" ID "/data.12", &s, id, &kind), 0);
    assert_int_equal(kind, NAMING_LEAF_DATA);
    assert_string_equal(s.image, "vm1");
    assert_int_equal(naming_parse_object_key("p", "p/rbd/ns/vm1/" ID "/index", &s, id, &kind),
                     0);
    assert_string_equal(s.ns, "ns");
    assert_int_equal(kind, NAMING_LEAF_INDEX);
    const char *bad[] = { "p/otherapp/20240101T000000Z/app.log",
                          "p/rbd/vm1/20200101T000000Z/foreign.bin",
                          "p/rbd/vm1/" ID "/data.01", "p/rbd/vm1/" ID "/data.",
                          "p/rbd/vm1/" ID "/data.x", "p/rbd/vm1/" ID "/sub/data.0",
                          "p/a/b/c/d/" ID "/data.0", "p/rbd/vm1/notanid/data.0",
                          "q/rbd/vm1/" ID "/data.0", "p/rbd/v%6D1/" ID "/data.0",
                          "p/rbd/vm1/" ID "/manifest.json.bak" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(naming_parse_object_key("p", bad[i], &s, id, &kind), -EINVAL);
        assert_int_equal(kind, NAMING_LEAF_NONE);
    }
}

/* security F11: prune POOL/IMG never reaches namespace POOL/IMG */
static void test_prune_scope(void **state)
{
    (void)state;
    naming_spec only, held;
    int kind;
    naming_parse_spec("rbd/img", 0, &only);
    prune_scope sc = { &only, NULL, 0 };
    assert_int_equal(prune_key_in_scope("p", &sc, "p/rbd/img/" ID "/data.0", &kind), 1);
    assert_int_equal(prune_key_in_scope("p", &sc, "p/rbd/img/x/" ID "/data.0", &kind), 0);
    assert_int_equal(prune_key_in_scope("p", &sc, "p/rbd/img/" ID "/app.log", &kind), 0);
    naming_parse_spec("rbd/img/x", 0, &held);
    prune_scope all = { NULL, &held, 1 };
    assert_int_equal(prune_key_in_scope("p", &all, "p/rbd/img/" ID "/data.0", &kind), 1);
    assert_int_equal(prune_key_in_scope("p", &all, "p/rbd/img/x/" ID "/data.0", &kind), 0);
}

/* reliability F5: a damaged newest backup is never skipped for an older one */
static void test_find_damaged(void **state)
{
    (void)state;
    cat_entry e[2];
    cat_bad b[1];
    memset(e, 0, sizeof(e));
    memset(b, 0, sizeof(b));
    naming_spec spec;
    naming_parse_spec("rbd/vm1", 0, &spec);
    for (int i = 0; i < 2; i++) {
        e[i].spec = spec;
        snprintf(e[i].id, sizeof(e[i].id), "2026112%dT083000Z", i + 1);
        snprintf(e[i].m.snap_name, sizeof(e[i].m.snap_name), "rbd2s3-2026112%dT083000Z", i + 1);
    }
    b[0].spec = spec;
    snprintf(b[0].id, sizeof(b[0].id), "20261123T083000Z");
    b[0].key = (char *)"rbd2s3/rbd/vm1/20261123T083000Z/manifest.json";
    b[0].why = "checksum mismatch";
    catalog c = { e, 2, 1, b };
    ag_ctx ctx;
    memset(&ctx, 0, sizeof(ctx));
    assert_int_equal(catalog_find(&ctx, &c, &spec, ""), -1);
    assert_int_equal(ctx.exit_code, AG_EINTEGRITY);
    assert_non_null(strstr(ctx.errmsg, "20261123T083000Z"));
    memset(&ctx, 0, sizeof(ctx));
    assert_int_equal(catalog_find(&ctx, &c, &spec, "20261123T083000Z"), -1);
    assert_int_equal(ctx.exit_code, AG_EINTEGRITY);
    memset(&ctx, 0, sizeof(ctx));
    assert_int_equal(catalog_find(&ctx, &c, &spec, "rbd2s3-20261123T083000Z"), -1);
    assert_int_equal(ctx.exit_code, AG_EINTEGRITY);
    memset(&ctx, 0, sizeof(ctx));
    assert_int_equal(catalog_find(&ctx, &c, &spec, "20261122"), 1);
    assert_int_equal(catalog_find(&ctx, &c, &spec, "2026112"), -1);
    assert_int_equal(ctx.exit_code, AG_EUSAGE);            /* ambiguous */
    memset(&ctx, 0, sizeof(ctx));
    assert_int_equal(catalog_find(&ctx, &c, &spec, "20261124"), -1);
    assert_int_equal(ctx.exit_code, AG_ENOTFOUND);
    /* an older damaged backup does not hide the newest */
    snprintf(b[0].id, sizeof(b[0].id), "20261120T083000Z");
    memset(&ctx, 0, sizeof(ctx));
    assert_int_equal(catalog_find(&ctx, &c, &spec, ""), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_folder_binding),
        cmocka_unit_test(test_writer_and_parser_agree),
        cmocka_unit_test(test_parser_refuses_signed_bad),
        cmocka_unit_test(test_object_cap),
        cmocka_unit_test(test_dates),
        cmocka_unit_test(test_object_keys),
        cmocka_unit_test(test_prune_scope),
        cmocka_unit_test(test_find_damaged),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
