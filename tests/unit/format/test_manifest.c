/* test_manifest.c - unit tests of the manifest codec: round trips, rejects, formatting. */
#include "manifest_fixture.h"

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
    at[10] = '4';                       /* 3 is format 2 with labels */
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_manifest_round_trip),
        cmocka_unit_test(test_manifest_rejects),
        cmocka_unit_test(test_manifest_formatting),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
