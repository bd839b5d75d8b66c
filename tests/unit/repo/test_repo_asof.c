/* test_repo_asof.c - --as-of (asof.c) against a versioned tests/fakes3 bucket: each key's
 * version at a time, delete markers, the catalog and index reads of then; the times. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <curl/curl.h>

#include "s3/s3.h"
#include "s3/s3_internal.h"

#include "tests/unit/fakes3_harness.h"
#include "repo_harness.h"
#include "agent/repo/asof.h"
#include "agent/repo/catalog.h"
#include "agent/repo/keylist.h"

#define ID1 "20261201T100000Z"

static void put(ag_ctx *ctx, const char *key, const char *body)
{
    s3_error err;
    assert_int_equal(s3_put(ctx->s3, key, body, strlen(body), NULL, NULL, &err), 0);
}

/* The time now in the form --as-of takes, after a pause that puts it in a second of
 * its own (LastModified has a second's precision). */
static void pause_time(char out[21])
{
    usleep(1100 * 1000);
    naming_iso8601(time(NULL), out);
    usleep(1100 * 1000);
}

static void test_asof_map(void **state)
{
    (void)state;
    ag_ctx ctx;
    char t[21];
    s3_buf b;
    s3_error err;
    keylist l = { 0 };
    repo_ctx(&ctx);
    ctl("POST", "/_ctl/versioning", BUCKET, NULL);
    put(&ctx, "p/a", "a-old");
    put(&ctx, "p/c", "c");
    pause_time(t);
    put(&ctx, "p/a", "a-new");          /* overwritten after t */
    put(&ctx, "p/b", "b");              /* written after t */
    assert_int_equal(s3_delete(ctx.s3, "p/c", &err), 0);   /* a delete marker after t */

    assert_int_equal(asof_open(&ctx, t, "p/"), 0);
    assert_int_equal(keylist_list(&ctx, "p/", NULL, NULL, &l, "listing"), 0);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.keys[0], "p/a");
    assert_string_equal(l.keys[1], "p/c");
    assert_int_equal(l.sizes[0], 5);
    keylist_free(&l);
    assert_int_equal(asof_get(&ctx, "p/a", 0, 0, 0, &b, &err), 0);
    assert_memory_equal(b.data, "a-old", 5);
    s3_buf_free(&b);
    assert_int_equal(asof_get(&ctx, "p/c", 0, 0, 0, &b, &err), 0);   /* behind its marker */
    s3_buf_free(&b);
    assert_int_equal(asof_get(&ctx, "p/b", 0, 0, 0, &b, &err), -ENOENT);
    assert_string_equal(err.code, "NoSuchKey");
    uint64_t size = 0;
    assert_int_equal(asof_head(&ctx, "p/a", &size, NULL, &err), 0);
    assert_int_equal(size, 5);
    asof_close(&ctx);
    assert_null(ctx.asof);

    /* without --as-of: the latest, as before */
    assert_int_equal(asof_get(&ctx, "p/a", 0, 0, 0, &b, &err), 0);
    assert_memory_equal(b.data, "a-new", 5);
    s3_buf_free(&b);
    assert_int_equal(asof_get(&ctx, "p/c", 0, 0, 0, &b, &err), -ENOENT);
    ag_ctx_close(&ctx);
}

/* A backup written, then every key deleted: the catalog of now is empty, the catalog
 * as of before the deletion holds the backup, and its index reads back. */
static void test_asof_catalog(void **state)
{
    (void)state;
    ag_ctx ctx;
    manifest m;
    catalog c;
    char t[21];
    naming_spec spec;
    repo_ctx(&ctx);
    ctl("POST", "/_ctl/versioning", BUCKET, NULL);
    repo_backup(&ctx, &m, ID1, 5);
    pause_time(t);
    repo_keys k;
    repo_list(&ctx, &k);
    assert_int_equal(repo_size(&k, "rbd2s3/rbd/vm1/" ID1 "/index"), (long long)m.index.size);
    for (int i = 0; i < k.n; i++) {
        s3_error err;
        assert_int_equal(s3_delete(ctx.s3, k.key[i], &err), 0);
    }
    assert_int_equal(naming_parse_spec("rbd/vm1", 0, &spec), 0);
    assert_int_equal(catalog_load(&ctx, &spec, &c), 0);
    assert_int_equal(c.n, 0);
    catalog_free(&c);

    assert_int_equal(asof_open_spec(&ctx, t, &spec), 0);
    assert_int_equal(catalog_load(&ctx, &spec, &c), 0);
    assert_int_equal(c.n, 1);
    assert_string_equal(c.e[0].id, ID1);
    index_rec *recs = NULL;
    size_t n = 0;
    assert_int_equal(catalog_load_index(&ctx, &c.e[0].m, NULL, &recs, &n), 0);
    assert_int_equal(n, 5);
    free(recs);
    catalog_free(&c);
    asof_close(&ctx);
    manifest_clear(&m);
    ag_ctx_close(&ctx);
}

static void test_asof_times(void **state)
{
    (void)state;
    time_t a = 0, b = 0;
    assert_int_equal(asof_parse_time("2026-12-03T01:30:00Z", &a), 0);
    assert_int_equal(asof_parse_time("20261203T013000Z", &b), 0);
    assert_int_equal(a, 1796261400);
    assert_int_equal(b, a);
    assert_int_equal(asof_parse_time("20261203T013000", &b), -EINVAL);
    assert_int_equal(asof_parse_time("2026120xT013000Z", &b), -EINVAL);
    assert_int_equal(asof_parse_time("20261303T013000Z", &b), -EINVAL);
    assert_int_equal(asof_parse_time("yesterday", &b), -EINVAL);
    assert_int_equal(asof_parse_time("", &b), -EINVAL);
}

static int run_group(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_asof_map, fake_reset),
        cmocka_unit_test_setup(test_asof_catalog, fake_reset),
        cmocka_unit_test(test_asof_times),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

int main(void)
{
    return repo_main("test_repo_asof", run_group);
}
