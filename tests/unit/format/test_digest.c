/* test_digest.c - unit tests of the chunk digests and the agent's SHA-256 in hex. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent/format/digest.h"
#include "agent/format/index.h"

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_digest),
        cmocka_unit_test(test_sha256_hex),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
