/* test_repo_catalog.c - the catalog (catalog.c) reading what the writer wrote to
 * tests/fakes3: backups listed and loaded, their indexes decoded; a tampered index and
 * manifests that do not belong in their folder are refused; encrypted backups opened
 * with their key, listed without it, refused when their mac does not authenticate. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <curl/curl.h>

#include "s3/s3.h"
#include "s3/s3_internal.h"

#include "tests/unit/fakes3_harness.h"
#include "repo_harness.h"
#include "agent/repo/catalog.h"
#include "agent/repo/chain.h"
#include "agent/config/keyring.h"

#define ID1 "20261201T100000Z"
#define ID2 "20261201T110000Z"
#define IMAGE "rbd2s3/rbd/vm1/"

static void spec_of(const char *s, naming_spec *spec)
{
    assert_int_equal(naming_parse_spec(s, 0, spec), 0);
}

/* Copy object from to key to (whole). */
static void copy_object(ag_ctx *ctx, const char *from, const char *to, int flip_at)
{
    s3_buf body;
    s3_error err;
    memset(&err, 0, sizeof(err));
    assert_int_equal(s3_get(ctx->s3, from, 0, 0, 0, &body, &err), 0);
    if (flip_at >= 0)
        body.data[flip_at] ^= 0x01;
    assert_int_equal(s3_put(ctx->s3, to, body.data, body.len, "application/octet-stream",
                            NULL, &err), 0);
    s3_buf_free(&body);
}

/* Two backups written: both listed, oldest first, as written; the index decodes into
 * the records written (offsets in order, the zero chunk a zero record). */
static void test_list_and_load(void **state)
{
    (void)state;
    ag_ctx ctx;
    manifest m1, m2;
    repo_ctx(&ctx);
    repo_backup(&ctx, &m1, ID1, 5);
    repo_backup(&ctx, &m2, ID2, 2);
    repo_keys k;
    repo_list(&ctx, &k);
    assert_int_equal(k.n, 7);                      /* 2 + 1 data objects, 2 x 2 more */
    assert_int_equal(repo_size(&k, IMAGE ID2 "/index"), (long long)m2.index.size);

    naming_spec spec;
    spec_of("rbd/vm1", &spec);
    catalog c;
    set_rules("GET * list-type=2 1 status 503 SlowDown\n");    /* a listing retried */
    assert_int_equal(catalog_load(&ctx, &spec, &c), 0);
    struct logrec log[64];
    assert_int_equal(count_log(log, get_log(log, 64), "GET", "list-type=2"), 2);
    assert_int_equal(c.n, 2);
    assert_int_equal(c.bad, 0);
    assert_string_equal(c.e[0].id, ID1);
    assert_string_equal(c.e[1].id, ID2);
    assert_int_equal(c.e[0].m.nobjects, 2);
    assert_int_equal(c.e[1].m.nobjects, 1);
    assert_int_equal(c.e[0].m.chunks, m1.chunks);
    assert_string_equal(c.e[0].m.index_sha256, m1.index_sha256);
    assert_int_equal(c.e[1].m.data_bytes, m2.data_bytes);

    index_rec *recs = NULL;
    size_t n = 0;
    assert_int_equal(catalog_load_index(&ctx, &c.e[0].m, c.e[0].dk, &recs, &n), 0);
    assert_int_equal(n, 5);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(recs[i].offset, i * REPO_CHUNK);
        assert_int_equal(recs[i].length, REPO_CHUNK);
        assert_int_equal((recs[i].flags & INDEX_FLAG_ZERO) != 0, i == 3);
    }
    assert_int_equal(recs[4].obj, 1);            /* the fifth chunk is in data.1 */
    free(recs);
    catalog_free(&c);

    assert_int_equal(catalog_load(&ctx, NULL, &c), 0);   /* the whole prefix */
    assert_int_equal(c.n, 2);
    catalog_free(&c);
    manifest_clear(&m1);
    manifest_clear(&m2);
    ag_ctx_close(&ctx);
}

/* An index changed in one byte (same size) fails its SHA-256: an integrity error that
 * names the key. */
static void test_tampered_index(void **state)
{
    (void)state;
    ag_ctx ctx;
    manifest m;
    repo_ctx(&ctx);
    repo_backup(&ctx, &m, ID1, 5);
    copy_object(&ctx, IMAGE ID1 "/index", IMAGE ID1 "/index", 10);

    index_rec *recs = NULL;
    size_t n = 0;
    assert_int_equal(catalog_load_index(&ctx, &m, NULL, &recs, &n), -1);
    assert_null(recs);
    assert_int_equal(ctx.exit_code, AG_EINTEGRITY);
    assert_non_null(strstr(ctx.errmsg, IMAGE ID1 "/index"));
    manifest_clear(&m);
    ag_ctx_close(&ctx);
}

/* A manifest copied under another id, or under another image, is not a backup there:
 * it is listed as damaged, and the backup it came from is still whole. */
static void test_manifest_wrong_folder(void **state)
{
    (void)state;
    ag_ctx ctx;
    manifest m;
    repo_ctx(&ctx);
    repo_backup(&ctx, &m, ID1, 2);
    copy_object(&ctx, IMAGE ID1 "/manifest.json", IMAGE ID2 "/manifest.json", -1);
    copy_object(&ctx, IMAGE ID1 "/manifest.json", "rbd2s3/rbd/vm2/" ID1 "/manifest.json",
                -1);

    naming_spec spec;
    catalog c;
    spec_of("rbd/vm1", &spec);
    assert_int_equal(catalog_load(&ctx, &spec, &c), 0);
    assert_int_equal(c.n, 1);
    assert_string_equal(c.e[0].id, ID1);
    assert_int_equal(c.bad, 1);
    assert_string_equal(c.badv[0].id, ID2);
    assert_non_null(catalog_bad_find(&c, &spec, ID2));
    catalog_free(&c);

    spec_of("rbd/vm2", &spec);
    assert_int_equal(catalog_load(&ctx, &spec, &c), 0);
    assert_int_equal(c.n, 0);
    assert_int_equal(c.bad, 1);
    catalog_free(&c);
    manifest_clear(&m);
    ag_ctx_close(&ctx);
}

/* A manifest changed in one byte fails its checksum: damaged, not a backup. */
static void test_tampered_manifest(void **state)
{
    (void)state;
    ag_ctx ctx;
    manifest m;
    repo_ctx(&ctx);
    repo_backup(&ctx, &m, ID1, 2);
    s3_buf body;
    s3_error err;
    memset(&err, 0, sizeof(err));
    assert_int_equal(s3_get(ctx.s3, IMAGE ID1 "/manifest.json", 0, 0, 0, &body, &err), 0);
    char *at = strstr((char *)body.data, "\"vm1\"");
    assert_non_null(at);
    at[3] = '2';                                   /* "vm2": still well-formed JSON */
    assert_int_equal(s3_put(ctx.s3, IMAGE ID1 "/manifest.json", body.data, body.len,
                            "application/json", NULL, &err), 0);
    s3_buf_free(&body);

    naming_spec spec;
    catalog c;
    spec_of("rbd/vm1", &spec);
    assert_int_equal(catalog_load(&ctx, &spec, &c), 0);
    assert_int_equal(c.n, 0);
    assert_int_equal(c.bad, 1);
    assert_string_equal(c.badv[0].why, "checksum mismatch");
    catalog_free(&c);
    manifest_clear(&m);
    ag_ctx_close(&ctx);
}

/* ctx with the keyring of key file path (encrypt: new backups encrypted). */
static void key_ctx(ag_ctx *ctx, const char *path, int encrypt)
{
    int code = 0;
    repo_ctx(ctx);
    ctx->opts.encryption = encrypt;
    ctx->opts.key_file = path;
    assert_int_equal(keyring_load(&ctx->opts, &ctx->keys, &code), 0);
    assert_non_null(ctx->keys);
}

static void key_ctx_close(ag_ctx *ctx)
{
    keyring_free(ctx->keys);
    ag_ctx_close(ctx);
}

/* Load rbd/vm1 and open the chain of its only backup: chain_open's result. */
static int load_one(ag_ctx *ctx, catalog *c)
{
    naming_spec spec;
    spec_of("rbd/vm1", &spec);
    assert_int_equal(catalog_load(ctx, &spec, c), 0);
    if (c->n != 1)
        return -2;
    chain ch;
    int rc = chain_open(ctx, c, 0, &ch);
    chain_free(&ch);
    return rc;
}

/* An encrypted backup: opened with its key (index too), listed but refused (AG_EKEY)
 * without a key or with another; its manifest changed and re-checksummed (the checksum
 * has no key) is damaged: "authentication failed". */
static void test_encrypted(void **state)
{
    (void)state;
    char dir[] = "/tmp/test_repo_catalog.XXXXXX", k1[64], k2[64];
    assert_non_null(mkdtemp(dir));
    snprintf(k1, sizeof(k1), "%s/k1", dir);
    snprintf(k2, sizeof(k2), "%s/k2", dir);
    assert_int_equal(keyring_create_file(k1), 0);
    assert_int_equal(keyring_create_file(k2), 0);
    ag_ctx ctx;
    manifest m;
    catalog c;
    key_ctx(&ctx, k1, 1);
    repo_backup(&ctx, &m, ID1, 3);
    assert_true(m.enc.on);
    assert_int_equal(load_one(&ctx, &c), 0);
    assert_non_null(c.e[0].dk);
    assert_string_equal(c.e[0].m.enc.key_id, m.enc.key_id);
    index_rec *recs = NULL;
    size_t n = 0;
    assert_int_equal(catalog_load_index(&ctx, &c.e[0].m, c.e[0].dk, &recs, &n), 0);
    assert_int_equal(n, 3);
    free(recs);
    catalog_free(&c);

    ag_ctx plain;                                   /* no keyring at all */
    repo_ctx(&plain);
    assert_int_equal(load_one(&plain, &c), -1);
    assert_null(c.e[0].dk);
    assert_int_equal(plain.exit_code, AG_EKEY);
    assert_non_null(strstr(plain.errmsg, "no key configured"));
    catalog_free(&c);
    ag_ctx_close(&plain);

    ag_ctx other;                                   /* another key */
    key_ctx(&other, k2, 0);
    assert_int_equal(load_one(&other, &c), -1);
    assert_int_equal(other.exit_code, AG_EKEY);
    assert_non_null(strstr(other.errmsg, "no configured key has this id"));
    catalog_free(&c);
    key_ctx_close(&other);

    /* one field changed, the document re-serialised with a fresh checksum */
    manifest t;
    char *json;
    size_t len;
    s3_buf body;
    s3_error err;
    memset(&err, 0, sizeof(err));
    manifest_init(&t);
    assert_int_equal(s3_get(ctx.s3, IMAGE ID1 "/manifest.json", 0, 0, 0, &body, &err), 0);
    assert_int_equal(manifest_from_json((const char *)body.data, body.len, &t), 0);
    s3_buf_free(&body);
    t.data_bytes++;
    assert_int_equal(manifest_to_json(&t, &json, &len), 0);
    assert_int_equal(s3_put(ctx.s3, IMAGE ID1 "/manifest.json", json, len,
                            "application/json", NULL, &err), 0);
    free(json);
    manifest_clear(&t);
    assert_int_equal(load_one(&ctx, &c), -2);
    assert_int_equal(c.bad, 1);
    assert_string_equal(c.badv[0].why, "authentication failed");
    catalog_free(&c);

    manifest_clear(&m);
    key_ctx_close(&ctx);
    unlink(k1);
    unlink(k2);
    rmdir(dir);
}

static int run_group(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_list_and_load, fake_reset),
        cmocka_unit_test_setup(test_tampered_index, fake_reset),
        cmocka_unit_test_setup(test_manifest_wrong_folder, fake_reset),
        cmocka_unit_test_setup(test_tampered_manifest, fake_reset),
        cmocka_unit_test_setup(test_encrypted, fake_reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

int main(void)
{
    return repo_main("test_repo_catalog", run_group);
}
