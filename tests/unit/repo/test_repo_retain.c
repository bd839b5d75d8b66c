/* test_repo_retain.c - Object Lock for backups (retain.c) against tests/fakes3: a bucket
 * without Object Lock refused before anything is written, every object of a backup
 * locked, a chain's parents extended to the newest date (in their own mode when that is
 * COMPLIANCE), a parent object that cannot be extended counted. */
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
#include "agent/repo/trust/retain.h"

#define ID1 "20261201T100000Z"
#define ID2 "20261201T110000Z"
#define IMAGE "rbd2s3/rbd/vm1/"

static void lock_ctx(ag_ctx *ctx, int mode)
{
    repo_ctx(ctx);
    ctx->opts.object_lock = mode;
    ctx->opts.object_lock_days = 1;
}

/* The retention of key: its date, the mode into *mode. */
static time_t until_of(ag_ctx *ctx, const char *key, int *mode)
{
    time_t t = 0;
    s3_error err;
    assert_int_equal(s3_head_retention(ctx->s3, key, mode, &t, &err), 0);
    return t;
}

/* Backup ID1 (full, 5 chunks: data.0, data.1) and ID2 (an incremental on it). */
static void two_backups(ag_ctx *ctx)
{
    manifest m1, m2;
    writer *w = NULL;
    repo_backup(ctx, &m1, ID1, 5);
    repo_manifest(&m2, ID2);
    m2.full = 0;
    snprintf(m2.parent_id, sizeof(m2.parent_id), "%s", ID1);
    snprintf(m2.parent_snap, sizeof(m2.parent_snap), "rbd2s3-%s", ID1);
    assert_int_equal(writer_open(ctx, IMAGE, ID2, &w), 0);
    assert_int_equal(repo_write_chunks(w, &m2, 2), 0);
    assert_int_equal(writer_commit(w, &m2), 0);
    writer_free(w);
    manifest_clear(&m1);
    manifest_clear(&m2);
}

static void load(ag_ctx *ctx, catalog *c)
{
    naming_spec spec;
    assert_int_equal(naming_parse_spec("rbd/vm1", 0, &spec), 0);
    assert_int_equal(catalog_load(ctx, &spec, c), 0);
    assert_int_equal(c->n, 2);
}

static const char *const full_keys[] = {
    IMAGE ID1 "/data.0", IMAGE ID1 "/data.1", IMAGE ID1 "/index", IMAGE ID1 "/manifest.json",
};

static void test_no_lock_on_bucket(void **state)
{
    ag_ctx ctx;
    time_t until = 1;
    struct logrec log[8];
    (void)state;

    lock_ctx(&ctx, S3_LOCK_NONE);
    set_rules("");
    assert_int_equal(retain_begin(&ctx, &until), 0);       /* off: no request */
    assert_int_equal(until, 0);
    assert_int_equal(get_log(log, 8), 0);
    ctx.opts.object_lock = S3_LOCK_GOVERNANCE;
    assert_int_equal(retain_begin(&ctx, &until), -1);
    assert_int_equal(ctx.exit_code, AG_EUSAGE);
    assert_string_equal(ctx.errmsg, "bucket bkt has no Object Lock: create it with object "
                        "lock enabled, or set object lock = none");
    repo_keys k;
    repo_list(&ctx, &k);
    assert_int_equal(k.n, 0);                              /* nothing written */
    assert_int_equal(repo_size(&k, IMAGE ID1 "/manifest.json"), -1);
    ctx.opts.object_lock_days = 0;
    ctx.exit_code = AG_OK;
    ctx.errmsg[0] = '\0';
    assert_int_equal(retain_begin(&ctx, &until), -1);      /* a lock needs its days */
    assert_int_equal(ctx.exit_code, AG_EUSAGE);
    ag_ctx_close(&ctx);
}

static void test_chain_extended(void **state)
{
    ag_ctx ctx;
    catalog c;
    time_t until = 0;
    int mode;
    (void)state;

    ctl("POST", "/_ctl/objectlock", "on", NULL);
    lock_ctx(&ctx, S3_LOCK_GOVERNANCE);
    assert_int_equal(retain_begin(&ctx, &until), 0);
    assert_true(until >= time(NULL) + 86400 - 5);
    two_backups(&ctx);
    for (size_t i = 0; i < 4; i++) {          /* data objects (multipart) locked too */
        assert_int_equal(until_of(&ctx, full_keys[i], &mode), until);
        assert_int_equal(mode, S3_LOCK_GOVERNANCE);
    }
    load(&ctx, &c);
    /* one parent object already in COMPLIANCE, one retained longer, one gone */
    s3_error err;
    assert_int_equal(s3_put_retention(ctx.s3, full_keys[0], S3_LOCK_COMPLIANCE, until, &err),
                     0);
    assert_int_equal(s3_put_retention(ctx.s3, full_keys[1], S3_LOCK_GOVERNANCE,
                                      until + 7200, &err), 0);
    assert_int_equal(retain_chain(&ctx, &c, 0, until + 3600), 0);
    assert_int_equal(until_of(&ctx, full_keys[0], &mode), until + 3600);
    assert_int_equal(mode, S3_LOCK_COMPLIANCE);
    assert_int_equal(until_of(&ctx, full_keys[1], &mode), until + 7200);
    for (size_t i = 2; i < 4; i++)
        assert_int_equal(until_of(&ctx, full_keys[i], &mode), until + 3600);
    /* the newest itself is not touched; a full has no chain */
    assert_int_equal(until_of(&ctx, IMAGE ID2 "/manifest.json", &mode), until);
    assert_int_equal(retain_chain(&ctx, &c, -1, until + 3600), 0);
    /* an object of the parent that cannot be extended: counted (and warned about) */
    assert_int_equal(s3_delete(ctx.s3, full_keys[2], &err), 0);
    assert_int_equal(retain_chain(&ctx, &c, 0, until + 4000), 1);
    retain_end(&ctx);
    assert_int_equal(s3_put(ctx.s3, "after", "a", 1, NULL, NULL, &err), 0);
    assert_int_equal(until_of(&ctx, "after", &mode), 0);
    catalog_free(&c);
    ag_ctx_close(&ctx);
}

static int run_group(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_no_lock_on_bucket, fake_reset),
        cmocka_unit_test_setup(test_chain_extended, fake_reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

int main(void)
{
    return repo_main("test_repo_retain", run_group);
}
