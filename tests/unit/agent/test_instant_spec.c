/* test_instant_spec.c - the source spec of restore --instant (agent/command/instant/source.c):
 * what prepare is given, and which specs --resume takes for its own (only an http URL on
 * 127.0.0.1 whose path is the point of the image named, @BACKUP too when named). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "agent/command/instant/instant.h"

#define ID "20261203T091511Z"

static void job_of(instant_job *j, const char *spec)
{
    memset(j, 0, sizeof(*j));
    assert_int_equal(naming_parse_spec(spec, 1, &j->spec), 0);
}

static void test_build(void **state)
{
    (void)state;
    instant_job j;
    char out[4096];
    job_of(&j, "rbd/vm1");
    snprintf(j.id, sizeof(j.id), "%s", ID);
    assert_int_equal(instant_spec_build(&j, 40123, out, sizeof(out)), 0);
    assert_string_equal(out, "{\"type\":\"raw\",\"stream\":{\"type\":\"http\",\"url\":"
                        "\"http://127.0.0.1:40123/rbd/vm1@" ID ".raw\"}}");
    assert_int_equal(instant_spec_build(&j, 40123, out, 40), -1);   /* does not fit */
}

/* spec as Ceph shows it (keys sorted), for url. */
static int ours(const char *image, const char *url, unsigned *port, char *id)
{
    instant_job j;
    char spec[2048];
    job_of(&j, image);
    snprintf(spec, sizeof(spec), "{\"stream\":{\"type\":\"http\",\"url\":\"%s\"},"
             "\"type\":\"raw\"}", url);
    return instant_spec_ours(&j, spec, port, id);
}

static void test_ours(void **state)
{
    (void)state;
    unsigned port = 0;
    char id[NAMING_MAX] = "";
    assert_true(ours("rbd/vm1", "http://127.0.0.1:40123/rbd/vm1@" ID ".raw", &port, id));
    assert_int_equal(port, 40123);
    assert_string_equal(id, ID);
    assert_true(ours("rbd/vm1@" ID, "http://127.0.0.1:1/rbd/vm1@" ID ".raw", &port, id));
    assert_true(ours("rbd/ns/vm1", "http://127.0.0.1:9/rbd/ns/vm1@" ID ".raw", &port, id));
}

static void test_not_ours(void **state)
{
    (void)state;
    unsigned port = 0;
    char id[NAMING_MAX] = "";
    static const char *const urls[] = {
        "http://127.0.0.1:40123/rbd/vm2@" ID ".raw",          /* another image */
        "http://127.0.0.1:40123/rbd/vm1.raw",                 /* the newest: never ours */
        "http://127.0.0.1:40123/rbd/vm1@" ID ".raw?x=1",
        "http://127.0.0.1:40123/rbd/vm1@notanid.raw",
        "http://127.0.0.2:40123/rbd/vm1@" ID ".raw",          /* another host */
        "http://localhost:40123/rbd/vm1@" ID ".raw",
        "https://127.0.0.1:40123/rbd/vm1@" ID ".raw",
        "http://127.0.0.1:0/rbd/vm1@" ID ".raw",              /* bad ports */
        "http://127.0.0.1:65536/rbd/vm1@" ID ".raw",
        "http://127.0.0.1:-1/rbd/vm1@" ID ".raw",
        "http://127.0.0.1:/rbd/vm1@" ID ".raw",
        "http://127.0.0.1:40123rbd/vm1@" ID ".raw",
        "http://127.0.0.1:40123/other/rbd/vm1@" ID ".raw",
        "http://127.0.0.1:40123/rbd/vm1@" ID ".raw/x",
        "http://127.0.0.1:40123/@" ID ".raw",
        "",
    };
    for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
        if (ours("rbd/vm1", urls[i], &port, id))
            fail_msg("taken for ours: %s", urls[i]);
    }
    /* another backup than the one named */
    assert_false(ours("rbd/vm1@20261203T091512Z", "http://127.0.0.1:1/rbd/vm1@" ID ".raw",
                      &port, id));
    /* not a raw source on an http stream, or no JSON at all */
    instant_job j;
    job_of(&j, "rbd/vm1");
    static const char *const specs[] = {
        "{\"type\":\"qcow\",\"stream\":{\"type\":\"http\",\"url\":\"http://127.0.0.1:1/rbd/"
        "vm1@" ID ".raw\"}}",
        "{\"type\":\"raw\",\"stream\":{\"type\":\"s3\",\"url\":\"http://127.0.0.1:1/rbd/"
        "vm1@" ID ".raw\"}}",
        "{\"type\":\"raw\",\"stream\":{\"type\":\"http\",\"url\":5}}",
        "{\"type\":\"raw\",\"stream\":\"http\"}",
        "{\"type\":\"raw\"}",
        "[]", "", "not json",
    };
    for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
        if (instant_spec_ours(&j, specs[i], &port, id))
            fail_msg("taken for ours: %s", specs[i]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_build),
        cmocka_unit_test(test_ours),
        cmocka_unit_test(test_not_ours),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
