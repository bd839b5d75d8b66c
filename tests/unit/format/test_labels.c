/* test_labels.c - unit tests of labels (syntax, lists, argv, filters), of the protect
 * object's codec, and of labels in the manifest (format 1 and 3, the MAC body, rejects). */
#include "manifest_fixture.h"

#include "agent/format/labels.h"
#include "agent/format/protectdoc.h"

static void test_labels_syntax(void **state)
{
    (void)state;
    char k63[64], k64[65], v128[129], v129[130];
    memset(k63, 'k', 63);
    k63[63] = '\0';
    memset(k64, 'k', 64);
    k64[64] = '\0';
    memset(v128, 'V', 128);
    v128[128] = '\0';
    memset(v129, 'V', 129);
    v129[129] = '\0';
    assert_true(labels_key_ok("env"));
    assert_true(labels_key_ok("0a.b_c-d"));
    assert_true(labels_key_ok(k63));
    assert_false(labels_key_ok(k64));
    assert_false(labels_key_ok(""));
    assert_false(labels_key_ok("Env"));
    assert_false(labels_key_ok("-env"));
    assert_false(labels_key_ok(".env"));
    assert_false(labels_key_ok("e nv"));
    assert_false(labels_key_ok("e=v"));
    assert_true(labels_value_ok("Prod-1.2_x:y/z@w+q"));
    assert_true(labels_value_ok(v128));
    assert_false(labels_value_ok(v129));
    assert_false(labels_value_ok(""));
    assert_false(labels_value_ok("a b"));
    assert_false(labels_value_ok("a,b"));
    assert_false(labels_value_ok("a=b"));
    assert_false(labels_value_ok("a\x1b[31m"));
    assert_false(labels_value_ok("\xc3\xa9"));
}

static void test_labels_add(void **state)
{
    (void)state;
    labels_set s = { 0 };
    const char *why = NULL;
    assert_int_equal(labels_add(&s, "env=prod", 1, &why), 0);
    assert_int_equal(labels_add(&s, "tier=a=b", 1, &why), -EINVAL);   /* '=' in a value */
    assert_non_null(why);
    assert_int_equal(labels_add(&s, "env=dev", 1, &why), -EINVAL);    /* key twice */
    assert_string_equal(why, "a label key given twice");
    assert_int_equal(labels_add(&s, "env=dev", 0, &why), 0);          /* a filter may */
    assert_int_equal(s.n, 2);
    static const char *const bad[] = { "env", "=prod", "env=", "Env=x", "env=a b", "" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        why = NULL;
        assert_int_equal(labels_add(&s, bad[i], 1, &why), -EINVAL);
        assert_non_null(why);
    }
    assert_int_equal(s.n, 2);
    labels_set full = { 0 };
    for (int i = 0; i < LABELS_MAX; i++) {
        char kv[32];
        snprintf(kv, sizeof(kv), "k%d=v", i);
        assert_int_equal(labels_add(&full, kv, 1, &why), 0);
    }
    assert_int_equal(labels_add(&full, "one=more", 1, &why), -EINVAL);
    assert_string_equal(why, "at most 16 labels");
}

static void test_labels_list_and_argv(void **state)
{
    (void)state;
    labels_set s = { 0 };
    const char *why, *bad;
    char out[256];
    assert_int_equal(labels_add_list(&s, " site=b ,env=prod,  x=1 ", &why), 0);
    labels_str(&s, out, sizeof(out));
    assert_string_equal(out, "site=b,env=prod,x=1");
    labels_set t = { 0 };
    assert_int_equal(labels_add_list(&t, "a=1,,b=2", &why), -EINVAL);
    assert_int_equal(labels_add_list(&t, "a=1,a=2", &why), -EINVAL);
    labels_set e = { 0 };
    assert_int_equal(labels_add_list(&e, "", &why), 0);
    assert_int_equal(e.n, 0);
    labels_str(NULL, out, sizeof(out));
    assert_string_equal(out, "");

    char *argv[] = { "rbd/vm", "--label", "env=prod", "--labelx", "y", "--label=tier=gold",
                     "--keep-last", "1", "--label" };
    labels_set a = { 0 };
    assert_int_equal(labels_collect(9, argv, "label", 1, &a, &bad, &why), 0);
    labels_str(&a, out, sizeof(out));
    assert_string_equal(out, "env=prod,tier=gold");          /* "--label" last: no value */
    char *argv2[] = { "--label", "env=prod", "--label", "BAD=1" };
    labels_set b = { 0 };
    assert_int_equal(labels_collect(4, argv2, "label", 0, &b, &bad, &why), -EINVAL);
    assert_string_equal(bad, "BAD=1");
}

static void test_labels_match(void **state)
{
    (void)state;
    labels_set have = { 0 }, f = { 0 };
    const char *why;
    assert_int_equal(labels_add_list(&have, "env=prod,tier=gold", &why), 0);
    assert_true(labels_match(&have, &f));                    /* no filter: everything */
    assert_true(labels_match(NULL, &f));
    assert_true(labels_match(NULL, NULL));
    assert_int_equal(labels_add(&f, "tier=gold", 0, &why), 0);
    assert_true(labels_match(&have, &f));
    assert_false(labels_match(NULL, &f));
    assert_int_equal(labels_add(&f, "env=prod", 0, &why), 0);
    assert_true(labels_match(&have, &f));                    /* AND */
    assert_int_equal(labels_add(&f, "env=dev", 0, &why), 0);
    assert_false(labels_match(&have, &f));
}

/* ---- the protect object ---- */

static void test_protectdoc_round_trip(void **state)
{
    (void)state;
    protectdoc d = { .since = 1795249805 }, got;
    const char *why;
    char *json;
    size_t len;
    snprintf(d.backup, sizeof(d.backup), "20261121T083000Z-2");
    snprintf(d.reason, sizeof(d.reason), "legal hold \"42\" / \xc3\xa9");
    assert_int_equal(protectdoc_to_json(&d, &json, &len), 0);
    assert_int_equal(strlen(json), len);
    assert_non_null(strstr(json, "\"since\":\"2026-11-21T08:30:05Z\""));
    assert_int_equal(protectdoc_from_json(json, len, &got, &why), 0);
    assert_string_equal(got.backup, d.backup);
    assert_true(got.since == d.since);
    assert_string_equal(got.reason, d.reason);
    free(json);
    d.reason[0] = '\0';                                       /* no reason: no member */
    assert_int_equal(protectdoc_to_json(&d, &json, &len), 0);
    assert_null(strstr(json, "reason"));
    assert_int_equal(protectdoc_from_json(json, len, &got, &why), 0);
    assert_string_equal(got.reason, "");
    free(json);
    snprintf(d.reason, sizeof(d.reason), "tab\there");        /* refused by the writer */
    assert_int_equal(protectdoc_to_json(&d, &json, &len), -EINVAL);
    assert_false(protectdoc_reason_ok("a\x7f"));
    snprintf(d.backup, sizeof(d.backup), "not-an-id");
    d.reason[0] = '\0';
    assert_int_equal(protectdoc_to_json(&d, &json, &len), -EINVAL);
}

static void test_protectdoc_rejects(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "", "not json at all {", "[]", "null", "{}",
        "{\"format\":2,\"backup\":\"20261121T083000Z\",\"since\":\"2026-11-21T08:30:05Z\"}",
        "{\"format\":1,\"backup\":\"x\",\"since\":\"2026-11-21T08:30:05Z\"}",
        "{\"format\":1,\"backup\":\"20261121T083000Z\",\"since\":\"yesterday\"}",
        "{\"format\":1,\"backup\":\"20261121T083000Z\",\"since\":\"2026-11-21T08:30:05Z\","
        "\"reason\":7}",
        "{\"format\":1,\"backup\":\"20261121T083000Z\",\"since\":\"2026-11-21T08:30:05Z\","
        "\"reason\":\"a\\u001bb\"}",
        "{\"format\":1,\"backup\":\"20261121T083000Z\",\"since\":\"2026-11-21T08:30:05Z\","
        "\"reason\":\"a\\u0000b\"}",
        "{\"format\":1,\"backup\":\"20261121T083000Z\",\"since\":\"2026-11-21T08:30:05Z\"} x",
    };
    protectdoc got;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *why = NULL;
        assert_int_equal(protectdoc_from_json(bad[i], strlen(bad[i]), &got, &why), -EINVAL);
        assert_non_null(why);
        assert_true(got.since == 0);
        assert_string_equal(got.reason, "");
    }
    char big[PROTECTDOC_MAX_BYTES + 2];
    memset(big, ' ', sizeof(big));
    const char *why;
    assert_int_equal(protectdoc_from_json(big, sizeof(big), &got, &why), -EINVAL);
    const char nul[] = "{\"format\":1}\0";
    assert_int_equal(protectdoc_from_json(nul, sizeof(nul), &got, &why), -EINVAL);
}

/* ---- labels in the manifest ---- */

static void set_labels(manifest *m, const char *list)
{
    labels_set s = { 0 };
    const char *why;
    assert_int_equal(labels_add_list(&s, list, &why), 0);
    assert_int_equal(manifest_set_labels(m, &s), 0);
}

static void fill_sealed(manifest *m)
{
    fill_manifest(m, 1);
    m->enc.on = 1;
    snprintf(m->enc.key_id, sizeof(m->enc.key_id), "0123456789abcdef");
    memset(m->enc.mac, 0xc3, SEAL_MAC_LEN);
}

static void test_manifest_labels_round_trip(void **state)
{
    (void)state;
    for (int sealed = 0; sealed <= 1; sealed++) {
        manifest m, got;
        char *json, *body;
        size_t len, blen;
        if (sealed)
            fill_sealed(&m);
        else
            fill_manifest(&m, 1);
        set_labels(&m, "env=prod,tier=gold");
        assert_int_equal(manifest_to_json(&m, &json, &len), 0);
        assert_non_null(strstr(json, sealed ? "\"format\": 3" : "\"format\": 1"));
        assert_non_null(strstr(json, "\"labels\": {"));
        manifest_init(&got);
        assert_int_equal(manifest_from_json(json, len, &got), 0);
        assert_manifest_equal(&m, &got);
        assert_non_null(got.labels);
        assert_int_equal(got.labels->n, 2);
        assert_string_equal(got.labels->kv[1].key, "tier");
        assert_string_equal(got.labels->kv[1].value, "gold");
        if (sealed) {
            /* the labels are inside the MAC */
            assert_int_equal(manifest_mac_body(&got, &body, &blen), 0);
            assert_non_null(strstr(body, "\"format\":3"));
            assert_non_null(strstr(body, "\"labels\":{\"env\":\"prod\",\"tier\":\"gold\"}"));
            free(body);
        }
        free(json);
        /* without labels: format 1 or 2, no member */
        assert_int_equal(manifest_set_labels(&m, NULL), 0);
        assert_null(m.labels);
        assert_int_equal(manifest_to_json(&m, &json, &len), 0);
        assert_non_null(strstr(json, sealed ? "\"format\": 2" : "\"format\": 1"));
        assert_null(strstr(json, "labels"));
        assert_int_equal(manifest_from_json(json, len, &got), 0);
        assert_null(got.labels);
        free(json);
        manifest_clear(&got);
        manifest_clear(&m);
    }
}

static void mut_fmt2(json_object *d)
{
    json_object_object_add(d, "format", json_object_new_int(2));
}
static void mut_fmt3(json_object *d)
{
    json_object_object_add(d, "format", json_object_new_int(3));
}
static void mut_nolabels(json_object *d) { json_object_object_del(d, "labels"); }
static void mut_empty(json_object *d)
{
    json_object_object_add(d, "labels", json_object_new_object());
}
static void mut_badkey(json_object *d)
{
    json_object_object_add(member(d, "labels"), "Env", json_object_new_string("x"));
}
static void mut_badval(json_object *d)
{
    json_object_object_add(member(d, "labels"), "env", json_object_new_string("a b"));
}
static void mut_notstr(json_object *d)
{
    json_object_object_add(member(d, "labels"), "n", json_object_new_int(1));
}
static void mut_array(json_object *d)
{
    json_object_object_add(d, "labels", json_object_new_array());
}
static void mut_eqkey(json_object *d)
{
    json_object_object_add(member(d, "labels"), "a=b", json_object_new_string("c"));
}

static void expect_reject(const char *json, void (*mutate)(json_object *))
{
    manifest got;
    char *t = reseal(json, mutate);
    manifest_init(&got);
    assert_int_equal(manifest_from_json(t, strlen(t), &got), -EINVAL);
    assert_null(got.labels);
    free(t);
}

static void test_manifest_labels_rejects(void **state)
{
    (void)state;
    manifest m, s;
    char *plain, *plain_l, *sealed_l;
    size_t len;
    fill_manifest(&m, 0);
    assert_int_equal(manifest_to_json(&m, &plain, &len), 0);
    set_labels(&m, "env=prod");
    assert_int_equal(manifest_to_json(&m, &plain_l, &len), 0);
    fill_sealed(&s);
    set_labels(&s, "env=prod");
    assert_int_equal(manifest_to_json(&s, &sealed_l, &len), 0);

    /* the resealed copy itself is accepted */
    manifest got;
    char *same = reseal(plain_l, mut_none);
    manifest_init(&got);
    assert_int_equal(manifest_from_json(same, strlen(same), &got), 0);
    manifest_clear(&got);
    free(same);

    expect_reject(sealed_l, mut_fmt2);          /* format 2 never carries labels */
    expect_reject(sealed_l, mut_nolabels);      /* format 3 always does */
    expect_reject(plain, mut_fmt3);             /* format 3 is sealed */
    expect_reject(plain_l, mut_empty);
    expect_reject(plain_l, mut_badkey);
    expect_reject(plain_l, mut_badval);
    expect_reject(plain_l, mut_notstr);
    expect_reject(plain_l, mut_array);
    expect_reject(plain_l, mut_eqkey);

    /* the writer refuses labels the format does not allow */
    char *json;
    labels_set bad = { 1, { { "Env", "x" } } };
    assert_int_equal(manifest_set_labels(&m, &bad), 0);
    assert_int_equal(manifest_to_json(&m, &json, &len), -EINVAL);
    manifest_clear(&m);
    manifest_clear(&s);
    free(plain);
    free(plain_l);
    free(sealed_l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_labels_syntax),
        cmocka_unit_test(test_labels_add),
        cmocka_unit_test(test_labels_list_and_argv),
        cmocka_unit_test(test_labels_match),
        cmocka_unit_test(test_protectdoc_round_trip),
        cmocka_unit_test(test_protectdoc_rejects),
        cmocka_unit_test(test_manifest_labels_round_trip),
        cmocka_unit_test(test_manifest_labels_rejects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
