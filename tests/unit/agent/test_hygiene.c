/* test_hygiene.c - unit tests of the strict value parsers (booleans, sizes), the config
 * file checks, the image key length limit and the terminal escaping of bucket data. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "agent/common/context.h"
#include "agent/config/options.h"
#include "agent/common/termesc.h"

static void test_bool(void **state)
{
    (void)state;
    static const char *const yes[] = { "true", "TRUE", "True", "yes", "Yes", "on", "ON", "1" };
    static const char *const no[] = { "false", "False", "no", "NO", "off", "Off", "0" };
    static const char *const bad[] = { "", "2", "-1", "y", "n", "truee", " true", "true ",
                                       "enabled", "nope", "00" };
    int v;
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        v = -1;
        assert_int_equal(opts_parse_bool(yes[i], &v), 0);
        assert_int_equal(v, 1);
    }
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
        v = -1;
        assert_int_equal(opts_parse_bool(no[i], &v), 0);
        assert_int_equal(v, 0);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        v = 7;
        assert_int_equal(opts_parse_bool(bad[i], &v), -EINVAL);
        assert_int_equal(v, 7);
    }
    assert_int_equal(opts_parse_bool(NULL, &v), -EINVAL);
}

static void test_size_strict(void **state)
{
    (void)state;
    uint64_t v = 0;
    static const char *const bad[] = { "-1", "+1", " 1", "\t4M", "-0", "", "M", "0x10",
                                       "1 M", "18446744073709551616" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(ag_parse_size(bad[i], &v), -EINVAL);
    assert_int_equal(ag_parse_size("64M", &v), 0);
    assert_int_equal(v, 64ULL << 20);
    assert_int_equal(ag_parse_size("0", &v), 0);
    assert_int_equal(v, 0);
}

/* Bandwidth limits: a size in bytes per second, "/s" allowed, 0 or 1K..1T. */
static void test_rate_strict(void **state)
{
    (void)state;
    uint64_t v = 1;
    static const char *const bad[] = { "", "/s", "-1", "20M/", "20M/S", "20 M", "1023",
                                       "2T", "20M/s/s", "fast" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(ag_parse_rate(bad[i], &v), -EINVAL);
    assert_int_equal(ag_parse_rate("20M", &v), 0);
    assert_int_equal(v, 20ULL << 20);
    assert_int_equal(ag_parse_rate("20MB/s", &v), 0);
    assert_int_equal(v, 20ULL << 20);
    assert_int_equal(ag_parse_rate("1K/s", &v), 0);
    assert_int_equal(v, 1024);
    assert_int_equal(ag_parse_rate("0", &v), 0);
    assert_int_equal(v, 0);
}

/* Run opts_parse_global on argv; the exit code recorded (AG_OK if none). The argv of
 * test_options name -c /dev/null so that no config file of the machine is read. */
static int parse(ag_ctx *ctx, int argc, char **argv)
{
    memset(ctx, 0, sizeof(*ctx));
    opts_parse_global(ctx, argc, argv);
    return ctx->exit_code;
}

static void test_options(void **state)
{
    (void)state;
    ag_ctx ctx;
    char *a1[] = { "rbd2s3", "-c", "/dev/null", "--insecure", "list" };
    assert_int_equal(parse(&ctx, 5, a1), AG_OK);
    assert_int_equal(ctx.opts.insecure, 1);
    char *a2[] = { "rbd2s3", "-c", "/dev/null", "--insecure=off", "list" };
    assert_int_equal(parse(&ctx, 5, a2), AG_OK);
    assert_int_equal(ctx.opts.insecure, 0);
    char *a3[] = { "rbd2s3", "-c", "/dev/null", "--insecure=nein", "list" };
    assert_int_equal(parse(&ctx, 5, a3), AG_EUSAGE);
    assert_non_null(strstr(ctx.errmsg, "insecure"));
    assert_non_null(strstr(ctx.errmsg, "'nein'"));
    char *a4[] = { "rbd2s3", "-c", "/dev/null", "--chunk-size", "-1", "list" };
    assert_int_equal(parse(&ctx, 6, a4), AG_EUSAGE);
    char *a5[] = { "rbd2s3", "-c", "/dev/null", "--chunk-size", "65M", "list" };
    assert_int_equal(parse(&ctx, 6, a5), AG_EUSAGE);
    char *a6[] = { "rbd2s3", "-c", "/dev/null", "--chunk-size", "64M", "list" };
    assert_int_equal(parse(&ctx, 6, a6), AG_OK);
    char *a7[] = { "rbd2s3", "-c", "/dev/null", "--fetch-size", " 4M", "list" };
    assert_int_equal(parse(&ctx, 6, a7), AG_EUSAGE);
    opts_free();
}

/* Write a config file with mode; parse it; the exit code. */
static int parse_config(ag_ctx *ctx, const char *text, mode_t mode)
{
    char path[] = "/tmp/rbd2s3-test-hygiene.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    assert_int_equal(fchmod(fd, mode), 0);
    close(fd);
    char *argv[] = { "rbd2s3", "-c", path, "list" };
    int rc = parse(ctx, 4, argv);
    unlink(path);
    opts_free();
    return rc;
}

static void test_config(void **state)
{
    (void)state;
    ag_ctx ctx;
    assert_int_equal(parse_config(&ctx, "[global]\ninsecure = no\n", 0644), AG_OK);
    assert_int_equal(ctx.opts.insecure, 0);
    assert_int_equal(parse_config(&ctx, "[global]\ninsecure = Yes\n", 0644), AG_OK);
    assert_int_equal(ctx.opts.insecure, 1);
    assert_int_equal(parse_config(&ctx, "[global]\ninsecure = maybe\n", 0644), AG_EUSAGE);
    assert_non_null(strstr(ctx.errmsg, "'maybe'"));
    const char *secret = "[global]\naccess key = AK\nsecret key = SK\n";
    assert_int_equal(parse_config(&ctx, secret, 0600), AG_OK);
    assert_int_equal(parse_config(&ctx, secret, 0640), AG_EUSAGE);
    assert_non_null(strstr(ctx.errmsg, "0640"));
    assert_int_equal(parse_config(&ctx, secret, 0604), AG_EUSAGE);
    assert_int_equal(parse_config(&ctx, "[global]\naccess key = AK\n", 0644), AG_OK);
    char lng[400];
    snprintf(lng, sizeof(lng), "[global]\nprefix = %0250d\n", 7);
    assert_int_equal(parse_config(&ctx, lng, 0600), AG_EUSAGE);
    assert_non_null(strstr(ctx.errmsg, "line 2"));
    assert_non_null(strstr(ctx.errmsg, "longer than"));
}

static void test_key_limit(void **state)
{
    (void)state;
    ag_ctx ctx;
    memset(&ctx, 0, sizeof(ctx));
    ctx.opts.prefix = "rbd2s3";
    naming_spec spec;
    char name[600], out[4096];
    memset(name, 'a', 200);
    name[200] = '\0';
    snprintf(out, sizeof(out), "rbd/%s", name);
    assert_int_equal(naming_parse_spec(out, 0, &spec), 0);
    assert_int_equal(ag_check_key_room(&ctx, &spec), 0);
    /* 4 + 196 x "ü": 396 bytes, escaped 1180 */
    size_t n = (size_t)snprintf(name, sizeof(name), "rel-");
    for (int i = 0; i < 196; i++)
        n += (size_t)snprintf(name + n, sizeof(name) - n, "\xc3\xbc");
    snprintf(out, sizeof(out), "rbd/%s", name);
    assert_int_equal(naming_parse_spec(out, 0, &spec), 0);
    assert_int_equal(ag_image_prefix(&ctx, &spec, out, sizeof(out)), 0);
    assert_int_equal(ag_check_key_room(&ctx, &spec), -1);
    assert_int_equal(ctx.exit_code, AG_EUSAGE);
    assert_non_null(strstr(ctx.errmsg, "1024"));
}

static void check_esc(const char *in, const char *want)
{
    char out[256];
    assert_string_equal(termesc(in, out, sizeof(out)), want);
}

static void test_termesc(void **state)
{
    (void)state;
    check_esc("plain/name-1.2_x", "plain/name-1.2_x");
    check_esc("r\xc3\xbc" "ck \xe6\x97\xa5\xf0\x9f\x98\x80",
              "r\xc3\xbc" "ck \xe6\x97\xa5\xf0\x9f\x98\x80");
    check_esc("\x1b]0;pwned\x07", "\\x1b]0;pwned\\x07");
    check_esc("a\nb\tc\rd\\e", "a\\nb\\tc\\rd\\\\e");
    check_esc("del\x7f", "del\\x7f");
    check_esc("csi\xc2\x9b" "31m", "csi\\xc2\\x9b31m");           /* U+009B */
    check_esc("raw\x9b" "31m", "raw\\x9b31m");                    /* not UTF-8 */
    check_esc("rlo\xe2\x80\xae" "gpj", "rlo\\xe2\\x80\\xaegpj");  /* U+202E */
    check_esc("\xc0\xaf", "\\xc0\\xaf");                          /* overlong */
    check_esc("\xed\xa0\x80", "\\xed\\xa0\\x80");                 /* surrogate */
    check_esc("cut\xe6\x97", "cut\\xe6\\x97");                    /* truncated */
    check_esc(NULL, "");
    char small[6];
    assert_string_equal(termesc("ab\x1b", small, sizeof(small)), "ab");
    assert_string_equal(termesc("abcdefgh", small, sizeof(small)), "abcde");
    assert_string_equal(termesc("a\xc3\xbc\xc3\xbc", small, sizeof(small)), "a\xc3\xbc\xc3\xbc");
    assert_string_equal(termesc("ab\xc3\xbc\xc3\xbc", small, sizeof(small)), "ab\xc3\xbc");
    const char *r1 = termesc_str("x\x01");
    const char *r2 = termesc_str("y");
    assert_string_equal(r1, "x\\x01");
    assert_string_equal(r2, "y");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bool),
        cmocka_unit_test(test_size_strict),
        cmocka_unit_test(test_rate_strict),
        cmocka_unit_test(test_options),
        cmocka_unit_test(test_config),
        cmocka_unit_test(test_key_limit),
        cmocka_unit_test(test_termesc),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
