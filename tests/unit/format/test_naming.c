/* test_naming.c - unit tests of the naming codec: specs, escaping, keys, backup ids, times. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent/format/naming.h"

static void test_spec_good(void **state)
{
    naming_spec s;
    char str[NAMING_MAX * 3];

    assert_int_equal(naming_parse_spec("rbd/vm1", 0, &s), 0);
    assert_string_equal(s.pool, "rbd");
    assert_string_equal(s.ns, "");
    assert_string_equal(s.image, "vm1");
    assert_string_equal(s.at, "");
    naming_spec_str(&s, str, sizeof(str));
    assert_string_equal(str, "rbd/vm1");

    assert_int_equal(naming_parse_spec("rbd/tenant/vm 1", 0, &s), 0);
    assert_string_equal(s.ns, "tenant");
    assert_string_equal(s.image, "vm 1");
    naming_spec_str(&s, str, sizeof(str));
    assert_string_equal(str, "rbd/tenant/vm 1");

    assert_int_equal(naming_parse_spec("rbd/vm1@20261121T083000Z", 1, &s), 0);
    assert_string_equal(s.image, "vm1");
    assert_string_equal(s.at, "20261121T083000Z");

    assert_int_equal(naming_parse_spec("p/n/i@rbd2s3-x", 1, &s), 0);
    assert_string_equal(s.pool, "p");
    assert_string_equal(s.ns, "n");
    assert_string_equal(s.image, "i");
    assert_string_equal(s.at, "rbd2s3-x");

    /* the longest part that fits */
    char longname[NAMING_MAX + 8];
    memset(longname, 0, sizeof(longname));
    memcpy(longname, "p/", 2);
    memset(longname + 2, 'x', NAMING_MAX - 1);
    assert_int_equal(naming_parse_spec(longname, 0, &s), 0);
    assert_int_equal(strlen(s.image), NAMING_MAX - 1);
}

static void test_spec_bad(void **state)
{
    static const char *bad[] = {
        "", "rbd", "/vm1", "rbd/", "/", "rbd//vm1", "a/b/c/d", "a/b/c/", "rbd/vm1@a@b",
        "rbd/vm1@", "@x", "rbd@x", "/ns/img", "p//img", "p/n/",
    };
    naming_spec s;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(&s, 'z', sizeof(s));
        assert_int_equal(naming_parse_spec(bad[i], 1, &s), -EINVAL);
        assert_string_equal(s.pool, "");
    }
    assert_int_equal(naming_parse_spec("rbd/vm1@snap", 0, &s), -EINVAL);
    assert_int_equal(naming_parse_spec(NULL, 1, &s), -EINVAL);

    char longname[NAMING_MAX + 8];
    memset(longname, 0, sizeof(longname));
    memcpy(longname, "p/", 2);
    memset(longname + 2, 'x', NAMING_MAX);
    assert_int_equal(naming_parse_spec(longname, 0, &s), -EINVAL);
    memset(longname, 0, sizeof(longname));
    memcpy(longname, "p/i@", 4);
    memset(longname + 4, 'x', NAMING_MAX);
    assert_int_equal(naming_parse_spec(longname, 1, &s), -EINVAL);
}

static void test_escape(void **state)
{
    char out[1024], back[512];
    assert_int_equal(naming_escape("a b%/\xc3\xa9~", out, sizeof(out)), 20);
    assert_string_equal(out, "a%20b%25%2F%C3%A9%7E");
    assert_int_equal(naming_escape("Az09._-", out, sizeof(out)), 7);
    assert_string_equal(out, "Az09._-");
    assert_int_equal(naming_escape(".", out, sizeof(out)), 3);
    assert_string_equal(out, "%2E");
    assert_int_equal(naming_escape("..", out, sizeof(out)), 6);
    assert_string_equal(out, "%2E%2E");
    assert_int_equal(naming_escape("...", out, sizeof(out)), 3);
    assert_string_equal(out, "...");
    assert_int_equal(naming_escape("", out, sizeof(out)), 0);
    assert_string_equal(out, "");

    /* truncation behaves like snprintf */
    char small[5];
    assert_int_equal(naming_escape("ab cd", small, sizeof(small)), 7);
    assert_string_equal(small, "ab%2");
    assert_int_equal(naming_escape("ab", NULL, 0), 2);

    /* every byte value round-trips */
    char all[256];
    for (int i = 1; i < 256; i++)
        all[i - 1] = (char)i;
    all[255] = '\0';
    size_t n = naming_escape(all, out, sizeof(out));
    assert_true(n < sizeof(out));
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)out[i];
        assert_true((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
                    || c == '.' || c == '_' || c == '-' || c == '%');
    }
    assert_int_equal(naming_unescape(out, back, sizeof(back)), 0);
    assert_string_equal(back, all);

    static const char *names[] = { "vm1", "my image", "100%", "\xe2\x98\x83 snow", ".", "..",
                                   "a/b", "" };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        naming_escape(names[i], out, sizeof(out));
        assert_int_equal(naming_unescape(out, back, sizeof(back)), 0);
        assert_string_equal(back, names[i]);
    }

    assert_int_equal(naming_unescape("%2f%2F", back, sizeof(back)), 0);
    assert_string_equal(back, "//");
    assert_int_equal(naming_unescape("%", back, sizeof(back)), -EINVAL);
    assert_int_equal(naming_unescape("a%2", back, sizeof(back)), -EINVAL);
    assert_int_equal(naming_unescape("%G0", back, sizeof(back)), -EINVAL);
    assert_int_equal(naming_unescape("%00", back, sizeof(back)), -EINVAL);
    assert_int_equal(naming_unescape("abcd", back, 4), -EINVAL);
    assert_int_equal(naming_unescape("abc", back, 4), 0);
}

static void check_key_round_trip(const char *prefix, const char *pool, const char *ns,
                                 const char *image, const char *id)
{
    naming_spec s, got;
    char ip[4096], key[4096], gid[NAMING_ID_LEN];
    memset(&s, 0, sizeof(s));
    snprintf(s.pool, sizeof(s.pool), "%s", pool);
    snprintf(s.ns, sizeof(s.ns), "%s", ns);
    snprintf(s.image, sizeof(s.image), "%s", image);

    assert_int_equal(naming_image_prefix(prefix, &s, ip, sizeof(ip)), 0);
    assert_true(ip[strlen(ip) - 1] == '/');
    assert_int_equal(naming_manifest_key(ip, id, key, sizeof(key)), 0);
    assert_int_equal(naming_parse_manifest_key(prefix, key, &got, gid), 0);
    assert_string_equal(got.pool, pool);
    assert_string_equal(got.ns, ns);
    assert_string_equal(got.image, image);
    assert_string_equal(got.at, "");
    assert_string_equal(gid, id);

    /* the index and data keys are not manifest keys */
    assert_int_equal(naming_index_key(ip, id, key, sizeof(key)), 0);
    assert_int_equal(naming_parse_manifest_key(prefix, key, &got, gid), -EINVAL);
    assert_int_equal(naming_data_key(ip, id, 3, key, sizeof(key)), 0);
    assert_int_equal(naming_parse_manifest_key(prefix, key, &got, gid), -EINVAL);
}

static void test_keys(void **state)
{
    static const char *prefixes[] = { "", "backups", "a/b", "a/b/", "x y" };
    static const char *names[][3] = {
        { "rbd", "", "vm1" },
        { "rbd", "tenant", "vm1" },
        { "my pool", "ns%x", "im\xc3\xa4ge 100%" },
        { ".", "..", "." },
        { "a/b", "", "c@d" },
        { "manifest.json", "", "20261121T083000Z" },
    };
    static const char *ids[] = { "20261121T083000Z", "20261121T083000Z-12" };
    for (size_t p = 0; p < sizeof(prefixes) / sizeof(prefixes[0]); p++)
        for (size_t n = 0; n < sizeof(names) / sizeof(names[0]); n++)
            for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++)
                check_key_round_trip(prefixes[p], names[n][0], names[n][1], names[n][2],
                                     ids[i]);
}

static void test_key_strings(void **state)
{
    naming_spec s;
    char ip[1024], key[1024], id[NAMING_ID_LEN];
    assert_int_equal(naming_parse_spec("my pool/ns/vm1", 0, &s), 0);
    assert_int_equal(naming_image_prefix("backups", &s, ip, sizeof(ip)), 0);
    assert_string_equal(ip, "backups/my%20pool/ns/vm1/");
    assert_int_equal(naming_image_prefix(NULL, &s, ip, sizeof(ip)), 0);
    assert_string_equal(ip, "my%20pool/ns/vm1/");
    assert_int_equal(naming_image_prefix("", &s, ip, sizeof(ip)), 0);
    assert_string_equal(ip, "my%20pool/ns/vm1/");
    assert_int_equal(naming_data_key(ip, "20261121T083000Z", 7, key, sizeof(key)), 0);
    assert_string_equal(key, "my%20pool/ns/vm1/20261121T083000Z/data.7");
    assert_int_equal(naming_index_key(ip, "20261121T083000Z", key, sizeof(key)), 0);
    assert_string_equal(key, "my%20pool/ns/vm1/20261121T083000Z/index");
    assert_int_equal(naming_manifest_key(ip, "20261121T083000Z", key, sizeof(key)), 0);
    assert_string_equal(key, "my%20pool/ns/vm1/20261121T083000Z/manifest.json");

    /* too small buffers */
    assert_int_equal(naming_image_prefix("backups", &s, ip, 10), -ENAMETOOLONG);
    assert_int_equal(naming_manifest_key("p/i/", "20261121T083000Z", key, 20), -ENAMETOOLONG);
    assert_int_equal(naming_manifest_key("p/i/", "", key, sizeof(key)), -EINVAL);

    static const char *bad[][2] = {
        { "backups", "other/rbd/vm1/20261121T083000Z/manifest.json" },
        { "back", "backups/rbd/vm1/20261121T083000Z/manifest.json" },
        { "backups", "backups/rbd/vm1/20261121T083000Z/index" },
        { "backups", "backups/rbd/vm1/20261121T083000Z/manifest.jsonx" },
        { "backups", "backups/vm1/20261121T083000Z/manifest.json" },
        { "backups", "backups/a/b/c/d/20261121T083000Z/manifest.json" },
        { "backups", "backups/rbd/vm1/notanid/manifest.json" },
        { "backups", "backups/rbd/vm1/20261121T083000Z-0/manifest.json" },
        { "backups", "backups/rbd//vm1/20261121T083000Z/manifest.json" },
        { "backups", "backups/rbd/my pool/20261121T083000Z/manifest.json" },
        { "backups", "backups/rbd/a%2fb/20261121T083000Z/manifest.json" },
        { "backups", "backups/rbd/%2e/20261121T083000Z/manifest.json" },
        { "backups", "backups/rbd/%41/20261121T083000Z/manifest.json" },
        { "backups", "backups/rbd/a%zz/20261121T083000Z/manifest.json" },
        { "backups", "backups/manifest.json" },
        { "", "/rbd/vm1/20261121T083000Z/manifest.json" },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(naming_parse_manifest_key(bad[i][0], bad[i][1], &s, id), -EINVAL);

    assert_int_equal(naming_parse_manifest_key("backups",
                     "backups/rbd/a%2Fb/20261121T083000Z/manifest.json", &s, id), 0);
    assert_string_equal(s.image, "a/b");
}

typedef struct taken_set {
    const char *ids[8];
    int calls;
    int fail;
} taken_set;

static int taken_cb(const char *id, void *arg)
{
    taken_set *t = arg;
    t->calls++;
    if (t->fail)
        return -EIO;
    for (size_t i = 0; i < 8 && t->ids[i] != NULL; i++) {
        if (strcmp(t->ids[i], id) == 0)
            return 1;
    }
    return 0;
}

static void test_backup_id(void **state)
{
    char id[NAMING_ID_LEN];
    time_t t = 1795249800;  /* 2026-11-21T08:30:00Z */
    assert_int_equal(naming_backup_id(t, NULL, NULL, id), 0);
    assert_string_equal(id, "20261121T083000Z");
    assert_true(naming_is_backup_id(id));

    taken_set none = { { NULL }, 0, 0 };
    assert_int_equal(naming_backup_id(t, taken_cb, &none, id), 0);
    assert_string_equal(id, "20261121T083000Z");
    assert_int_equal(none.calls, 1);

    taken_set two = { { "20261121T083000Z", "20261121T083000Z-1", NULL }, 0, 0 };
    assert_int_equal(naming_backup_id(t, taken_cb, &two, id), 0);
    assert_string_equal(id, "20261121T083000Z-2");
    assert_true(naming_is_backup_id(id));
    assert_int_equal(two.calls, 3);

    taken_set fail = { { NULL }, 0, 1 };
    assert_int_equal(naming_backup_id(t, taken_cb, &fail, id), -EIO);

    assert_int_equal(naming_backup_id(0, NULL, NULL, id), 0);
    assert_string_equal(id, "19700101T000000Z");

    static const char *good[] = { "20261121T083000Z", "20261121T083000Z-1",
                                  "20261121T083000Z-123456" };
    static const char *bad[] = { "", "20261121T083000", "20261121T083000Z-", "20261121T083000Z-0",
                                 "20261121T083000Z-01", "20261121X083000Z", "2026112aT083000Z",
                                 "20261121T083000Z-1a", "20261121T083000Zx",
                                 "20261121T083000Z-1234567890123456" };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        assert_true(naming_is_backup_id(good[i]));
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_false(naming_is_backup_id(bad[i]));
}

static void test_iso8601(void **state)
{
    static const time_t times[] = { 0, 1, 951782400 /* 2000-02-29 */, 1795249805,
                                    2147483647, 2147483648LL, 253402300799LL };
    char s[21];
    time_t back;
    for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
        naming_iso8601(times[i], s);
        assert_int_equal(strlen(s), 20);
        assert_int_equal(naming_parse_iso8601(s, &back), 0);
        assert_true(back == times[i]);
    }
    naming_iso8601(1795249805, s);
    assert_string_equal(s, "2026-11-21T08:30:05Z");
    naming_iso8601(951782400, s);
    assert_string_equal(s, "2000-02-29T00:00:00Z");
    naming_iso8601(253402300800LL, s);     /* year 10000 */
    assert_string_equal(s, "");

    static const char *bad[] = { "", "2026-11-21T08:30:05", "2026-11-21 08:30:05Z",
                                 "2026-02-29T00:00:00Z", "2026-13-01T00:00:00Z",
                                 "2026-00-01T00:00:00Z", "2026-11-31T00:00:00Z",
                                 "2026-11-21T24:00:00Z", "2026-11-21T08:60:00Z",
                                 "2026-11-21T08:30:60Z", "2026-11-21T08:30:05Zx",
                                 "2026-11-21T08:30:05.000Z", "+026-11-21T08:30:05Z",
                                 "2026-11-21T08:30:05+00:00" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(naming_parse_iso8601(bad[i], &back), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spec_good),
        cmocka_unit_test(test_spec_bad),
        cmocka_unit_test(test_escape),
        cmocka_unit_test(test_keys),
        cmocka_unit_test(test_key_strings),
        cmocka_unit_test(test_backup_id),
        cmocka_unit_test(test_iso8601),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
