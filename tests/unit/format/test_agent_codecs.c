/* test_agent_codecs.c - unit tests for agent naming, index and manifest codecs. */
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
#include <lz4frame.h>
#include <openssl/evp.h>

#include "agent/format/index.h"
#include "agent/format/manifest.h"
#include "agent/format/naming.h"

/* ---- naming ---- */

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

/* ---- index ---- */

static void make_rec(uint64_t i, index_rec *r)
{
    memset(r, 0, sizeof(*r));
    r->offset = i * 4194304 + (i % 3);  /* gaps between records */
    r->length = 1048576 + (i % 7);
    if (i % 5 == 0) {
        r->flags = INDEX_FLAG_ZERO;
        return;
    }
    r->pack = (uint32_t)(i / 1000);
    r->pack_offset = i * 700000 + 0x100000000ULL;
    r->stored_length = (uint32_t)(i * 97 + 1);
    if (i % 11 == 0) {
        r->flags = INDEX_FLAG_RAW;
        r->stored_length = (uint32_t)r->length;
    }
    if (i % 3 == 0)
        r->flags |= INDEX_FLAG_XXH3;  /* XXH3-128: 16 bytes, the rest stays zero */
    for (int k = 0; k < (r->flags & INDEX_FLAG_XXH3 ? 16 : 32); k++)
        r->digest[k] = (uint8_t)(i * 31 + (uint64_t)k * 7);
}

static void assert_rec_equal(const index_rec *a, const index_rec *b)
{
    assert_true(a->offset == b->offset);
    assert_true(a->length == b->length);
    assert_int_equal(a->pack, b->pack);
    assert_int_equal(a->flags, b->flags);
    assert_true(a->pack_offset == b->pack_offset);
    assert_int_equal(a->stored_length, b->stored_length);
    assert_memory_equal(a->digest, b->digest, DIGEST_LEN);
}

/* An index of n records from make_rec(); the caller frees *out. */
static void build_index(uint64_t n, unsigned char **out, size_t *len)
{
    index_writer *w;
    index_rec r;
    const unsigned char *data;
    assert_int_equal(index_writer_new(&w), 0);
    for (uint64_t i = 0; i < n; i++) {
        make_rec(i, &r);
        assert_int_equal(index_writer_add(w, &r), 0);
    }
    assert_true(index_writer_count(w) == n);
    assert_int_equal(index_writer_finish(w, &data, len), 0);
    *out = malloc(*len);
    assert_non_null(*out);
    memcpy(*out, data, *len);
    index_writer_free(w);
}

/* Read all records; returns the count, or the negative error. */
static long read_all(const unsigned char *data, size_t len, int check)
{
    index_reader *r;
    index_rec got, want;
    long n = 0;
    int rc = index_reader_new(data, len, &r);
    if (rc < 0)
        return rc;
    while ((rc = index_reader_next(r, &got)) == 1) {
        if (check) {
            make_rec((uint64_t)n, &want);
            assert_rec_equal(&got, &want);
        }
        n++;
    }
    /* errors and the end are sticky */
    assert_int_equal(index_reader_next(r, &got), rc);
    index_reader_free(r);
    return rc < 0 ? rc : n;
}

static void test_index_round_trip(void **state)
{
    unsigned char *data;
    size_t len;
    build_index(10000, &data, &len);
    assert_true(len < 10000 * INDEX_REC_SIZE);
    assert_int_equal(read_all(data, len, 1), 10000);

    index_rec *recs;
    size_t n;
    assert_int_equal(index_load(data, len, &recs, &n), 0);
    assert_int_equal(n, 10000);
    for (size_t i = 0; i < n; i++) {
        index_rec want;
        make_rec(i, &want);
        assert_rec_equal(&recs[i], &want);
    }
    free(recs);
    free(data);
}

static void test_index_empty(void **state)
{
    unsigned char *data;
    size_t len;
    build_index(0, &data, &len);
    assert_int_equal(read_all(data, len, 1), 0);
    index_rec *recs = (index_rec *)1;
    size_t n = 99;
    assert_int_equal(index_load(data, len, &recs, &n), 0);
    assert_int_equal(n, 0);
    assert_null(recs);
    free(data);
}

static void test_index_writer_rejects(void **state)
{
    index_writer *w;
    index_rec r;
    const unsigned char *data;
    size_t len;
    assert_int_equal(index_writer_new(&w), 0);
    make_rec(1, &r);
    assert_int_equal(index_writer_add(w, &r), 0);
    /* overlapping, then same offset, then before */
    index_rec bad = r;
    bad.offset = r.offset + r.length - 1;
    assert_int_equal(index_writer_add(w, &bad), -EINVAL);
    bad.offset = r.offset;
    assert_int_equal(index_writer_add(w, &bad), -EINVAL);
    bad.offset = 0;
    assert_int_equal(index_writer_add(w, &bad), -EINVAL);
    /* malformed */
    bad = r;
    bad.offset = r.offset + r.length;
    bad.length = 0;
    assert_int_equal(index_writer_add(w, &bad), -EINVAL);
    bad.length = 10;
    bad.flags = 8;
    assert_int_equal(index_writer_add(w, &bad), -EINVAL);
    bad.flags = INDEX_FLAG_ZERO;        /* with pack fields set */
    assert_int_equal(index_writer_add(w, &bad), -EINVAL);
    index_rec z = bad;                  /* a clean zero record, but with a digest kind */
    z.pack = 0;
    z.pack_offset = 0;
    z.stored_length = 0;
    memset(z.digest, 0, sizeof(z.digest));
    z.flags = INDEX_FLAG_ZERO | INDEX_FLAG_XXH3;
    assert_int_equal(index_writer_add(w, &z), -EINVAL);
    bad.flags = INDEX_FLAG_XXH3;        /* XXH3-128 with bytes past its 16 */
    memset(bad.digest, 0x5a, sizeof(bad.digest));
    assert_int_equal(index_writer_add(w, &bad), -EINVAL);
    bad.flags = INDEX_FLAG_RAW;         /* stored_length != length */
    assert_int_equal(index_writer_add(w, &bad), -EINVAL);
    bad.offset = UINT64_MAX - 5;        /* wraps */
    bad.flags = 0;
    assert_int_equal(index_writer_add(w, &bad), -EINVAL);
    /* adjacent is fine; the writer is still usable after rejections */
    make_rec(2, &r);
    assert_int_equal(index_writer_add(w, &r), 0);
    assert_true(index_writer_count(w) == 2);
    assert_int_equal(index_writer_finish(w, &data, &len), 0);
    assert_int_equal(index_writer_add(w, &r), -EINVAL);     /* after finish */
    const unsigned char *again;
    size_t len2;
    assert_int_equal(index_writer_finish(w, &again, &len2), 0);
    assert_ptr_equal(again, data);
    assert_int_equal(len2, len);
    index_rec *recs;
    size_t n;
    assert_int_equal(index_load(data, len, &recs, &n), 0);
    assert_int_equal(n, 2);
    free(recs);
    index_writer_free(w);
}

static void test_index_truncated(void **state)
{
    unsigned char *data;
    size_t len;
    build_index(3000, &data, &len);
    size_t cuts[] = { 0, 1, 4, 7, 11, 15, 30, len / 3, len / 2, len - 8, len - 5, len - 4,
                      len - 1 };
    for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
        assert_true(read_all(data, cuts[i], 0) < 0);
        index_rec *recs = NULL;
        size_t n = 0;
        assert_true(index_load(data, cuts[i], &recs, &n) < 0);
        assert_null(recs);
    }
    /* trailing bytes after the frame */
    unsigned char *longer = malloc(len + 1);
    assert_non_null(longer);
    memcpy(longer, data, len);
    longer[len] = 0;
    assert_true(read_all(longer, len + 1, 0) < 0);
    free(longer);
    free(data);
}

static void test_index_flipped(void **state)
{
    unsigned char *data;
    size_t len;
    build_index(200, &data, &len);
    /* every single-byte corruption is caught (header, block and content checksums) */
    for (size_t i = 0; i < len; i++) {
        data[i] ^= 0x10;
        assert_true(read_all(data, len, 0) < 0);
        data[i] ^= 0x10;
    }
    assert_int_equal(read_all(data, len, 1), 200);
    free(data);

    build_index(10000, &data, &len);
    data[len / 2] ^= 1;
    assert_true(read_all(data, len, 0) < 0);
    free(data);

    static const unsigned char junk[] = "not an lz4 frame at all";
    index_reader *r;
    assert_int_equal(index_reader_new(junk, sizeof(junk), &r), -EINVAL);
    assert_int_equal(index_reader_new(junk, 0, &r), -EINVAL);
}

/* A frame around raw content, for hand-made streams. */
static unsigned char *frame_of(const unsigned char *content, size_t n, size_t *len)
{
    LZ4F_preferences_t prefs;
    memset(&prefs, 0, sizeof(prefs));
    prefs.frameInfo.contentChecksumFlag = LZ4F_contentChecksumEnabled;
    size_t cap = LZ4F_compressFrameBound(n, &prefs);
    unsigned char *out = malloc(cap);
    assert_non_null(out);
    *len = LZ4F_compressFrame(out, cap, content, n, &prefs);
    assert_false(LZ4F_isError(*len));
    return out;
}

static void put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void put64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void test_index_header_and_layout(void **state)
{
    unsigned char content[16 + 3 * INDEX_REC_SIZE];
    unsigned char *f;
    size_t len;
    index_reader *r;
    index_rec rec;

    memset(content, 0, sizeof(content));
    memcpy(content, "RBD2SIDX", 8);
    put32(content + 8, 1);
    put32(content + 12, INDEX_REC_SIZE);
    /* record 0: data at 0 (explicit byte layout) */
    unsigned char *p = content + 16;
    put64(p, 0);
    put64(p + 8, 4096);
    put32(p + 16, 3);
    put32(p + 20, 0);
    put64(p + 24, 0x123456789ULL);
    put32(p + 32, 1000);
    memset(p + 40, 0xab, 32);
    /* record 1: zero at 4096 */
    p += INDEX_REC_SIZE;
    put64(p, 4096);
    put64(p + 8, 1ULL << 40);
    put32(p + 20, INDEX_FLAG_ZERO);

    f = frame_of(content, 16 + 2 * INDEX_REC_SIZE, &len);
    assert_int_equal(index_reader_new(f, len, &r), 0);
    assert_int_equal(index_reader_next(r, &rec), 1);
    assert_true(rec.offset == 0 && rec.length == 4096 && rec.pack == 3 && rec.flags == 0);
    assert_true(rec.pack_offset == 0x123456789ULL && rec.stored_length == 1000);
    assert_int_equal(rec.digest[31], 0xab);
    assert_int_equal(index_rec_digest(&rec), DIGEST_SHA256);   /* version 1: SHA-256 */
    assert_int_equal(index_reader_next(r, &rec), 1);
    assert_true(rec.offset == 4096 && rec.length == (1ULL << 40));
    assert_int_equal(rec.flags, INDEX_FLAG_ZERO);
    assert_int_equal(index_reader_next(r, &rec), 0);
    index_reader_free(r);
    free(f);

    /* record 2 overlaps record 1: out of order */
    memcpy(content + 16 + 2 * INDEX_REC_SIZE, content + 16, INDEX_REC_SIZE);
    put64(content + 16 + 2 * INDEX_REC_SIZE, 8192);
    f = frame_of(content, sizeof(content), &len);
    assert_int_equal(read_all(f, len, 0), -EINVAL);
    free(f);

    /* a partial record at the end */
    f = frame_of(content, 16 + INDEX_REC_SIZE + 10, &len);
    assert_int_equal(read_all(f, len, 0), -EINVAL);
    free(f);

    /* the XXH3 flag: unknown to version 1, read from version 2 */
    put32(content + 16 + 20, INDEX_FLAG_XXH3);
    memset(content + 16 + 56, 0, 16);
    f = frame_of(content, 16 + INDEX_REC_SIZE, &len);
    assert_int_equal(read_all(f, len, 0), -EINVAL);
    free(f);
    put32(content + 8, 2);
    f = frame_of(content, 16 + INDEX_REC_SIZE, &len);
    assert_int_equal(index_reader_new(f, len, &r), 0);
    assert_int_equal(index_reader_next(r, &rec), 1);
    assert_int_equal(index_rec_digest(&rec), DIGEST_XXH3);
    assert_int_equal(rec.digest[15], 0xab);
    index_reader_free(r);
    free(f);
    put32(content + 8, 1);
    put32(content + 16 + 20, 0);
    memset(content + 16 + 56, 0xab, 16);

    /* reserved field not zero */
    put32(content + 16 + 36, 1);
    f = frame_of(content, 16 + INDEX_REC_SIZE, &len);
    assert_int_equal(read_all(f, len, 0), -EINVAL);
    free(f);
    put32(content + 16 + 36, 0);

    /* wrong magic, version, record size, short header */
    content[7] = 'Y';
    f = frame_of(content, 16, &len);
    assert_int_equal(index_reader_new(f, len, &r), -EINVAL);
    free(f);
    content[7] = 'X';
    put32(content + 8, 3);
    f = frame_of(content, 16, &len);
    assert_int_equal(index_reader_new(f, len, &r), -EINVAL);
    free(f);
    put32(content + 8, 0);
    f = frame_of(content, 16, &len);
    assert_int_equal(index_reader_new(f, len, &r), -EINVAL);
    free(f);
    put32(content + 8, 1);
    put32(content + 12, 64);
    f = frame_of(content, 16, &len);
    assert_int_equal(index_reader_new(f, len, &r), -EINVAL);
    free(f);
    put32(content + 12, INDEX_REC_SIZE);
    f = frame_of(content, 12, &len);
    assert_int_equal(index_reader_new(f, len, &r), -EINVAL);
    free(f);
    f = frame_of(content, 16, &len);
    assert_int_equal(read_all(f, len, 0), 0);
    free(f);
}

/* ---- chunk digests ---- */

static void hex_of(const uint8_t *d, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

/* Known answers (from `xxhsum -H2` and `sha256sum`), the formatted form, and the
 * record check in both kinds. */
static void test_digest(void **state)
{
    (void)state;
    uint8_t d[DIGEST_LEN];
    char hex[2 * DIGEST_LEN + 1], f[80];
    static const uint8_t zeros[16];

    digest_compute(DIGEST_XXH3, "abc", 3, d);
    hex_of(d, 16, hex);
    assert_string_equal(hex, "06b05ab6733a618578af5f94892f3950");
    assert_memory_equal(d + 16, zeros, 16);
    digest_format(DIGEST_XXH3, d, f);
    assert_string_equal(f, "xxh3-128:06b05ab6733a618578af5f94892f3950");
    digest_compute(DIGEST_XXH3, "", 0, d);
    hex_of(d, 16, hex);
    assert_string_equal(hex, "99aa06d3014798d86001c324468d497f");
    digest_compute(DIGEST_SHA256, "abc", 3, d);
    hex_of(d, 32, hex);
    assert_string_equal(hex,
                        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    digest_format(DIGEST_SHA256, d, f);
    assert_string_equal(f, "sha256:"
                        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");

    index_rec r;
    memset(&r, 0, sizeof(r));
    r.length = 3;
    memcpy(r.digest, d, DIGEST_LEN);
    assert_true(index_rec_data_ok(&r, "abc"));
    assert_false(index_rec_data_ok(&r, "abd"));
    r.flags = INDEX_FLAG_XXH3;                  /* a SHA-256 digest read as XXH3-128 */
    assert_false(index_rec_data_ok(&r, "abc"));
    digest_compute(DIGEST_XXH3, "abc", 3, r.digest);
    assert_true(index_rec_data_ok(&r, "abc"));
    assert_false(index_rec_data_ok(&r, "abd"));

    r.flags = INDEX_FLAG_RAW;                   /* set_digest names the kind, keeps the rest */
    digest_compute(DIGEST_XXH3, "abc", 3, d);
    index_rec_set_digest(&r, DIGEST_XXH3, d);
    assert_int_equal(r.flags, INDEX_FLAG_RAW | INDEX_FLAG_XXH3);
    assert_true(index_rec_data_ok(&r, "abc"));
    digest_compute(DIGEST_SHA256, "abc", 3, d);
    index_rec_set_digest(&r, DIGEST_SHA256, d);
    assert_int_equal(r.flags, INDEX_FLAG_RAW);
    assert_true(index_rec_data_ok(&r, "abc"));
}

/* Known answers of the agent's one SHA-256 in hex (FIPS 180-2 examples, `sha256sum`). */
static void test_sha256_hex(void **state)
{
    (void)state;
    char hex[65];

    assert_int_equal(digest_sha256_hex("abc", 3, hex), 0);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert_int_equal(digest_sha256_hex(NULL, 0, hex), 0);
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    assert_int_equal(digest_sha256_hex("", 0, hex), 0);
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");

    uint8_t d[DIGEST_LEN];                      /* the hex form spells the raw digest */
    char raw[65];
    digest_compute(DIGEST_SHA256, "abc", 3, d);
    hex_of(d, 32, raw);
    assert_string_equal(raw,
                        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

/* ---- manifest ---- */

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

    /* format 2 without resealing is still -EINVAL, not a checksum error */
    t = strdup(json);
    at = strstr(t, "\"format\": 1");
    assert_non_null(at);
    at[10] = '2';
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
        cmocka_unit_test(test_spec_good),
        cmocka_unit_test(test_spec_bad),
        cmocka_unit_test(test_escape),
        cmocka_unit_test(test_keys),
        cmocka_unit_test(test_key_strings),
        cmocka_unit_test(test_backup_id),
        cmocka_unit_test(test_iso8601),
        cmocka_unit_test(test_index_round_trip),
        cmocka_unit_test(test_index_empty),
        cmocka_unit_test(test_index_writer_rejects),
        cmocka_unit_test(test_index_truncated),
        cmocka_unit_test(test_index_flipped),
        cmocka_unit_test(test_index_header_and_layout),
        cmocka_unit_test(test_digest),
        cmocka_unit_test(test_sha256_hex),
        cmocka_unit_test(test_manifest_round_trip),
        cmocka_unit_test(test_manifest_rejects),
        cmocka_unit_test(test_manifest_formatting),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
