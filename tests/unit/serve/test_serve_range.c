/* test_serve_range.c - serve's Range parser and the URL path of a point. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "agent/serve/serve_internal.h"

#define SIZE 1000u

/* Parse h against SIZE: the kind, and the range it gives. */
static int parse(const char *h, uint64_t *a, uint64_t *n)
{
    *a = *n = 12345;
    return serve_range_parse(h, SIZE, a, n);
}

static void test_part(void **state)
{
    (void)state;
    uint64_t a, n;
    assert_int_equal(parse("bytes=0-0", &a, &n), RANGE_PART);
    assert_true(a == 0 && n == 1);
    assert_int_equal(parse("bytes=10-19", &a, &n), RANGE_PART);
    assert_true(a == 10 && n == 10);
    assert_int_equal(parse("bytes=990-", &a, &n), RANGE_PART);   /* open end */
    assert_true(a == 990 && n == 10);
    assert_int_equal(parse("bytes=990-5000", &a, &n), RANGE_PART);  /* end clipped */
    assert_true(a == 990 && n == 10);
    assert_int_equal(parse("bytes=-10", &a, &n), RANGE_PART);    /* the last 10 */
    assert_true(a == 990 && n == 10);
    assert_int_equal(parse("bytes=-5000", &a, &n), RANGE_PART);  /* more than the image */
    assert_true(a == 0 && n == SIZE);
    assert_int_equal(parse(" Bytes = 5 - 6 ", &a, &n), RANGE_PART);
    assert_true(a == 5 && n == 2);
}

static void test_unsatisfiable(void **state)
{
    (void)state;
    uint64_t a, n;
    assert_int_equal(parse("bytes=1000-", &a, &n), RANGE_UNSAT);
    assert_int_equal(parse("bytes=1000-1001", &a, &n), RANGE_UNSAT);
    assert_int_equal(parse("bytes=-0", &a, &n), RANGE_UNSAT);
    assert_int_equal(serve_range_parse("bytes=0-", 0, &a, &n), RANGE_UNSAT);
    assert_int_equal(serve_range_parse("bytes=-1", 0, &a, &n), RANGE_UNSAT);
}

static void test_whole(void **state)
{
    (void)state;
    static const char *const all[] = {
        NULL, "", "bytes", "bytes=", "bytes=-", "bytes=5", "bytes=6-5", "bytes=0-1,5-6",
        "items=0-1", "bytes=a-b", "bytes=1-2x", "bytes=99999999999999999999-",
        "bytes=--1", "bytes=+1-2",
    };
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        uint64_t a = 7, n = 7;
        assert_int_equal(serve_range_parse(all[i], SIZE, &a, &n), RANGE_ALL);
        assert_true(a == 7 && n == 7);             /* untouched */
    }
}

static void test_point_path(void **state)
{
    (void)state;
    naming_spec s;
    char out[256];
    assert_int_equal(naming_parse_spec("rbd/vm1", 0, &s), 0);
    assert_int_equal(serve_point_path(&s, NULL, out, sizeof(out)), strlen("/rbd/vm1.raw"));
    assert_string_equal(out, "/rbd/vm1.raw");
    serve_point_path(&s, "", out, sizeof(out));
    assert_string_equal(out, "/rbd/vm1.raw");
    assert_int_equal(naming_parse_spec("rbd/ns1/vm 2", 0, &s), 0);
    serve_point_path(&s, "20261203T091203Z", out, sizeof(out));
    assert_string_equal(out, "/rbd/ns1/vm%202@20261203T091203Z.raw");
    /* too small: cut, NUL-terminated, the length needed returned */
    assert_int_equal(serve_point_path(&s, "20261203T091203Z", out, 8),
                     strlen("/rbd/ns1/vm%202@20261203T091203Z.raw"));
    assert_int_equal(strlen(out), 7);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_part),
        cmocka_unit_test(test_unsatisfiable),
        cmocka_unit_test(test_whole),
        cmocka_unit_test(test_point_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
