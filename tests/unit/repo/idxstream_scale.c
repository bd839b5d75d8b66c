/* idxstream_scale.c - the chunk index of a fully written 10 TiB image (10 million records
 * of 1 MiB chunks) written through the streaming writer into tests/fakes3 and read back
 * through the cursor, every record checked, in bounded memory: peak RSS printed and held
 * under 64 MiB. Not in `make check` (it takes minutes): run by
 * tests/integration/repo/test_idxstream_scale.sh.
 *
 * Environment: IDXSTREAM_RECORDS (default 10000000), IDXSTREAM_SEALED=1 for an encrypted
 * backup's index, IDXSTREAM_MAX_RSS_MIB (default 64).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <cmocka.h>
#include <curl/curl.h>

#include "s3/s3.h"
#include "s3/s3_internal.h"

#include "tests/unit/fakes3_harness.h"
#include "repo_harness.h"
#include "idxstream_recs.h"

#include "agent/repo/catalog.h"

static uint64_t env_num(const char *name, uint64_t def)
{
    const char *v = getenv(name);
    return v != NULL && *v != '\0' ? strtoull(v, NULL, 10) : def;
}

static long peak_rss_kib(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

static void test_scale(void **state)
{
    (void)state;
    uint64_t n = env_num("IDXSTREAM_RECORDS", 10000000);
    int sealed = env_num("IDXSTREAM_SEALED", 0) != 0;
    long max_kib = (long)env_num("IDXSTREAM_MAX_RSS_MIB", 64) * 1024;
    ag_ctx ctx;
    manifest m;
    seal_key dk;
    index_rec got, want;
    idxstream_reader *rd = NULL;
    char etag[S3_ETAG_MAX];
    s3_error err;

    repo_ctx(&ctx);
    ctx.opts.tun.part_size = 8u << 20;
    repo_manifest(&m, "20261203T120000Z");
    if (sealed) {
        assert_int_equal(seal_data_new(&dk), 0);
        snprintf(m.enc.key_id, sizeof(m.enc.key_id), "0123456789abcdef");
    }
    assert_int_equal(recs_upload(&ctx, sealed ? &dk : NULL, n, &m), 0);
    long after_write = peak_rss_kib();
    assert_int_equal(s3_head(ctx.s3, RECS_KEY, NULL, etag, &err), 0);
    printf("# %s index of %llu records: %llu bytes, ETag %s, peak RSS after writing %ld KiB\n",
           sealed ? "sealed" : "plain", (unsigned long long)n,
           (unsigned long long)m.index.size, etag, after_write);

    assert_int_equal(idxstream_open(&ctx, &m, sealed ? &dk : NULL, 0, &rd), 0);
    index_cursor c = idxstream_cursor(rd);
    uint64_t i = 0;
    int rc;
    while ((rc = c.next(c.arg, &got)) == 1) {
        recs_make(i++, sealed, &want);
        if (!recs_equal(&got, &want))
            fail_msg("record %llu differs", (unsigned long long)(i - 1));
    }
    assert_int_equal(rc, 0);
    assert_true(i == n);
    idxstream_close(rd);
    long peak = peak_rss_kib();
    printf("# read back %llu records through the cursor; peak RSS %ld KiB (%.1f MiB, "
           "bound %ld MiB)\n", (unsigned long long)i, peak, peak / 1024.0, max_kib / 1024);
    assert_true(peak < max_kib);
    if (env_num("IDXSTREAM_COMPARE", 0)) {     /* what reading it whole costs */
        index_rec *recs = NULL;
        size_t cnt = 0;
        assert_int_equal(catalog_load_index(&ctx, &m, sealed ? &dk : NULL, &recs, &cnt), 0);
        printf("# for comparison, catalog_load_index of it: peak RSS %ld KiB\n",
               peak_rss_kib());
        free(recs);
    }
    assert_int_equal(s3_delete(ctx.s3, RECS_KEY, &err), 0);
    if (sealed)
        seal_key_wipe(&dk);
    manifest_clear(&m);
    ag_ctx_close(&ctx);
}

static int run(void)
{
    const struct CMUnitTest tests[] = { cmocka_unit_test(test_scale) };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

int main(void)
{
    return repo_main("idxstream_scale", run);
}
