/* test_repo_head.c - the head object (head.c) against tests/fakes3: written under the
 * master key, checked against a catalog of authenticated backups; a deleted newest
 * backup, a replaced manifest, an edited head, another key and a missing head. */
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
#include "agent/repo/trust/head.h"

#define ID1 "20261201T100000Z"
#define ID2 "20261201T110000Z"
#define HEAD "rbd2s3/rbd/vm1/head.json"

static char keydir[64], keyfile[2][96];

/* A context on the fake with the key file k as its master key. */
static void head_ctx(ag_ctx *ctx, int k)
{
    int code = 0;
    repo_ctx(ctx);
    ctx->opts.key_file = keyfile[k];
    assert_int_equal(keyring_load(&ctx->opts, &ctx->keys, &code), 0);
    assert_non_null(ctx->keys);
}

static void head_ctx_close(ag_ctx *ctx)
{
    keyring_free(ctx->keys);
    ag_ctx_close(ctx);
}

/* The encrypted manifest of backup id under the context's key (mac from id). */
static void enc_manifest(ag_ctx *ctx, manifest *m, const char *id)
{
    int err = 0;
    const seal_key *mk = keyring_current(ctx->keys, NULL, NULL, &err);
    assert_non_null(mk);
    repo_manifest(m, id);
    m->enc.on = 1;
    snprintf(m->enc.key_id, sizeof(m->enc.key_id), "%s", mk->id);
    memset(m->enc.mac, id[10], SEAL_MAC_LEN);
}

/* A catalog of rbd/vm1 holding the backups ids[0..n), authenticated (dk set). */
static void make_catalog(ag_ctx *ctx, catalog *c, const char *const *ids, size_t n)
{
    memset(c, 0, sizeof(*c));
    c->e = calloc(n ? n : 1, sizeof(*c->e));
    assert_non_null(c->e);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(naming_parse_spec("rbd/vm1", 0, &c->e[i].spec), 0);
        snprintf(c->e[i].id, sizeof(c->e[i].id), "%s", ids[i]);
        enc_manifest(ctx, &c->e[i].m, ids[i]);
        c->e[i].dk = calloc(1, sizeof(seal_key));
        assert_non_null(c->e[i].dk);
    }
    c->n = n;
}

static naming_spec vm1(void)
{
    naming_spec s;
    assert_int_equal(naming_parse_spec("rbd/vm1", 0, &s), 0);
    return s;
}

static void put_head(ag_ctx *ctx, const char *id)
{
    manifest m;
    enc_manifest(ctx, &m, id);
    assert_int_equal(head_put(ctx, &m), 0);
    manifest_clear(&m);
}

/* Check with the catalog of ids; returns head_check's value, the error cleared. */
static int check_with(ag_ctx *ctx, const char *const *ids, size_t n, int *code)
{
    catalog c;
    naming_spec s = vm1();
    make_catalog(ctx, &c, ids, n);
    ctx->exit_code = AG_OK;
    ctx->errmsg[0] = '\0';
    int rc = head_check(ctx, &c, &s, 1);
    *code = ctx->exit_code;
    catalog_free(&c);
    return rc;
}

static void test_newest_and_older(void **state)
{
    (void)state;
    ag_ctx ctx;
    const char *both[] = { ID1, ID2 };
    int code;
    head_ctx(&ctx, 0);
    put_head(&ctx, ID2);
    headdoc h;
    naming_spec s = vm1();
    assert_int_equal(head_get(&ctx, &s, &h), 1);
    assert_string_equal(h.newest, ID2);
    assert_int_equal(check_with(&ctx, both, 2, &code), 0);
    put_head(&ctx, ID1);              /* a crash between ID2's manifest and its head */
    assert_int_equal(check_with(&ctx, both, 2, &code), 0);
    head_ctx_close(&ctx);
}

/* The head sits beside the backup folders: the catalog takes it for no backup. */
static void test_catalog_ignores_head(void **state)
{
    (void)state;
    ag_ctx ctx;
    manifest m;
    catalog c;
    repo_keys k;
    naming_spec s = vm1();
    head_ctx(&ctx, 0);
    keyring *kr = ctx.keys;
    ctx.keys = NULL;                  /* a plain backup */
    repo_backup(&ctx, &m, ID1, 2);
    ctx.keys = kr;
    put_head(&ctx, ID1);
    repo_list(&ctx, &k);
    assert_true(repo_size(&k, HEAD) > 0);
    assert_int_equal(catalog_load(&ctx, &s, &c), 0);
    assert_int_equal(c.n, 1);
    assert_int_equal(c.bad, 0);
    catalog_free(&c);
    manifest_clear(&m);
    head_ctx_close(&ctx);
}

static void test_rollback(void **state)
{
    (void)state;
    ag_ctx ctx;
    const char *old[] = { ID1 };
    int code;
    head_ctx(&ctx, 0);
    put_head(&ctx, ID2);
    assert_int_equal(check_with(&ctx, old, 1, &code), -1);
    assert_int_equal(code, AG_EINTEGRITY);
    assert_string_equal(ctx.errmsg, "rollback or deletion: head of rbd/vm1 names backup "
                        ID2 ", newest in the bucket is " ID1);
    assert_int_equal(check_with(&ctx, NULL, 0, &code), -1);   /* the folder emptied */
    assert_non_null(strstr(ctx.errmsg, "newest in the bucket is none"));
    head_ctx_close(&ctx);
}

/* The newest backup is there, but not the one the head names: a replaced manifest
 * (another mac), or one that no key authenticated. */
static void test_replaced_manifest(void **state)
{
    (void)state;
    ag_ctx ctx;
    catalog c;
    const char *both[] = { ID1, ID2 };
    naming_spec s = vm1();
    head_ctx(&ctx, 0);
    put_head(&ctx, ID2);
    make_catalog(&ctx, &c, both, 2);
    c.e[1].m.enc.mac[7] ^= 1;
    assert_int_equal(head_check(&ctx, &c, &s, 1), -1);
    assert_int_equal(ctx.exit_code, AG_EINTEGRITY);
    c.e[1].m.enc.mac[7] ^= 1;
    free(c.e[1].dk);
    c.e[1].dk = NULL;
    ctx.exit_code = AG_OK;
    assert_int_equal(head_check(&ctx, &c, &s, 1), -1);
    assert_int_equal(ctx.exit_code, AG_EINTEGRITY);
    catalog_free(&c);
    head_ctx_close(&ctx);
}

/* Past the head, only authenticated backups: a forged newer one (plain, or opened by no
 * key) is refused, while a genuine newer one is fine. */
static void test_forged_newer(void **state)
{
    (void)state;
    ag_ctx ctx;
    catalog c;
    const char *both[] = { ID1, ID2 };
    naming_spec s = vm1();
    head_ctx(&ctx, 0);
    put_head(&ctx, ID1);
    make_catalog(&ctx, &c, both, 2);
    assert_int_equal(head_check(&ctx, &c, &s, 1), 0);
    c.e[1].m.enc.on = 0;
    assert_int_equal(head_check(&ctx, &c, &s, 1), -1);
    assert_int_equal(ctx.exit_code, AG_EINTEGRITY);
    assert_string_equal(ctx.errmsg, "rbd/vm1@" ID2 ": newer than the backup " ID1 " its "
                        "head names, and not authenticated");
    catalog_free(&c);
    head_ctx_close(&ctx);
}

/* A head edited in the bucket (its newest moved on) fails authentication. */
static void test_edited_head(void **state)
{
    (void)state;
    ag_ctx ctx;
    const char *both[] = { ID1, ID2 };
    int code;
    s3_buf body;
    s3_error err;
    memset(&err, 0, sizeof(err));
    head_ctx(&ctx, 0);
    put_head(&ctx, ID1);
    assert_int_equal(s3_get(ctx.s3, HEAD, 0, 0, 0, &body, &err), 0);
    char *p = strstr((char *)body.data, "T10");
    assert_non_null(p);
    p[2] = '1';                        /* ID1 -> ID2 */
    assert_int_equal(s3_put(ctx.s3, HEAD, body.data, body.len, "application/json", NULL,
                            &err), 0);
    s3_buf_free(&body);
    assert_int_equal(check_with(&ctx, both, 2, &code), -1);
    assert_int_equal(code, AG_EINTEGRITY);
    assert_string_equal(ctx.errmsg, "head object of rbd/vm1 fails authentication");
    assert_int_equal(s3_put(ctx.s3, HEAD, "{}", 2, "application/json", NULL, &err), 0);
    assert_int_equal(check_with(&ctx, both, 2, &code), -1);
    assert_int_equal(code, AG_EINTEGRITY);
    head_ctx_close(&ctx);
}

/* A head under a key we do not have: exit 12. */
static void test_other_key(void **state)
{
    (void)state;
    ag_ctx a, b;
    const char *both[] = { ID1, ID2 };
    int code;
    head_ctx(&a, 0);
    put_head(&a, ID2);
    head_ctx(&b, 1);
    assert_int_equal(check_with(&b, both, 2, &code), -1);
    assert_int_equal(code, AG_EKEY);
    head_ctx_close(&b);
    head_ctx_close(&a);
}

/* No head: fine (a warning); no keys and no encrypted backup: no request at all. */
static void test_missing_and_plain(void **state)
{
    (void)state;
    ag_ctx ctx;
    const char *both[] = { ID1, ID2 };
    int code;
    head_ctx(&ctx, 0);
    assert_int_equal(check_with(&ctx, both, 2, &code), 0);
    put_head(&ctx, ID2);
    naming_spec s = vm1();
    assert_int_equal(head_delete(&ctx, &s), 0);
    headdoc h;
    assert_int_equal(head_get(&ctx, &s, &h), 0);
    put_head(&ctx, ID2);
    keyring_free(ctx.keys);
    ctx.keys = NULL;
    catalog c;
    memset(&c, 0, sizeof(c));
    assert_int_equal(head_check(&ctx, &c, &s, 1), 0);    /* plain: the head unread */
    head_ctx_close(&ctx);
}

static int run_group(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_newest_and_older, fake_reset),
        cmocka_unit_test_setup(test_catalog_ignores_head, fake_reset),
        cmocka_unit_test_setup(test_rollback, fake_reset),
        cmocka_unit_test_setup(test_replaced_manifest, fake_reset),
        cmocka_unit_test_setup(test_forged_newer, fake_reset),
        cmocka_unit_test_setup(test_edited_head, fake_reset),
        cmocka_unit_test_setup(test_other_key, fake_reset),
        cmocka_unit_test_setup(test_missing_and_plain, fake_reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

int main(void)
{
    snprintf(keydir, sizeof(keydir), "/tmp/test_repo_head.XXXXXX");
    if (mkdtemp(keydir) == NULL)
        return 1;
    for (int k = 0; k < 2; k++) {
        snprintf(keyfile[k], sizeof(keyfile[k]), "%s/key%d", keydir, k);
        if (keyring_create_file(keyfile[k]) < 0)
            return 1;
    }
    int rc = repo_main("test_repo_head", run_group);
    for (int k = 0; k < 2; k++)
        unlink(keyfile[k]);
    rmdir(keydir);
    return rc;
}
