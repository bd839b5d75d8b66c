/* test_pipeline_threads.c - pipeline_backup when a thread cannot be started: it fails,
 * joins only the threads it started and frees what it took (no Ceph: rbdio's aio window
 * and pthread_create are replaced through ld --wrap). */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "agent/backup/pipeline.h"

#define THREADS 4
#define MAX_CREATED 64

static int fail_at = -1;          /* the creation (from 0) that fails; -1: none */
static int creations;             /* pthread_create calls */
static pthread_t created[MAX_CREATED];
static int ncreated;              /* threads really started */
static int joins;                 /* pthread_join calls on a started thread */
static int bad_joins;             /* pthread_join calls on a thread never started */
static int aio_live;              /* aio windows made and not freed */

int __real_pthread_create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *),
                          void *arg);
int __real_pthread_join(pthread_t t, void **ret);

int __wrap_pthread_create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *),
                          void *arg)
{
    if (creations++ == fail_at)
        return EAGAIN;
    int rc = __real_pthread_create(t, attr, fn, arg);
    if (rc == 0 && ncreated < MAX_CREATED)
        created[ncreated++] = *t;
    return rc;
}

/* A join of a thread that was never started is counted, not done (it would crash). */
int __wrap_pthread_join(pthread_t t, void **ret)
{
    for (int i = 0; i < ncreated; i++)
        if (pthread_equal(created[i], t)) {
            joins++;
            return __real_pthread_join(t, ret);
        }
    bad_joins++;
    return ESRCH;
}

int __wrap_rbdio_aio_new(rbdio_image *img, int depth, rbdio_aio **out)
{
    (void)img;
    (void)depth;
    *out = malloc(1);
    if (*out == NULL)
        return -ENOMEM;
    aio_live++;
    return 0;
}

void __wrap_rbdio_aio_free(rbdio_aio *w)
{
    free(w);
    aio_live--;
}

static void ctx_init(ag_ctx *ctx)
{
    memset(ctx, 0, sizeof(*ctx));
    ctx->opts.tun.threads = THREADS;
    ctx->opts.tun.chunk_size = 64 << 10;
    ctx->opts.tun.sparse_size = 4 << 10;
    ctx->opts.tun.reads_in_flight = 2;
}

/* Creation k fails (k < THREADS: a worker; k == THREADS: the reader). */
static void run_failing_at(int k)
{
    ag_ctx ctx;
    ctx_init(&ctx);
    fail_at = k;
    creations = ncreated = joins = bad_joins = 0;
    manifest m;
    manifest_init(&m);
    int rc = pipeline_backup(&ctx, NULL, NULL, 1 << 20, NULL, &m, NULL);
    manifest_clear(&m);
    assert_int_equal(rc, -1);
    assert_int_equal(ctx.exit_code, AG_EFAIL);
    assert_non_null(strstr(ctx.errmsg, k < THREADS ? "worker" : "reader"));
    assert_int_equal(creations, k + 1);
    assert_int_equal(ncreated, k);
    assert_int_equal(bad_joins, 0);
    assert_int_equal(joins, k);
    assert_int_equal(aio_live, 0);
}

static void test_first_worker_fails(void **state)
{
    (void)state;
    run_failing_at(0);
}

static void test_middle_worker_fails(void **state)
{
    (void)state;
    run_failing_at(2);
}

static void test_last_worker_fails(void **state)
{
    (void)state;
    run_failing_at(THREADS - 1);
}

static void test_reader_fails(void **state)
{
    (void)state;
    run_failing_at(THREADS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_worker_fails),
        cmocka_unit_test(test_middle_worker_fails),
        cmocka_unit_test(test_last_worker_fails),
        cmocka_unit_test(test_reader_fails),
    };
    alarm(60);                    /* a hang fails the test rather than the whole run */
    return cmocka_run_group_tests(tests, NULL, NULL);
}
