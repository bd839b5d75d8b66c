/* test_parts.c - part sizes keep every upload within 10,000 parts (agent/format/parts.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "agent/format/parts.h"

#define MIB (1ULL << 20)
#define GIB (1ULL << 30)

static uint64_t parts_for(uint64_t size, uint64_t part)
{
    return (size + part - 1) / part;
}

/* pack size 64G: a 20 GiB data object, and the largest one (64G past by a chunk), stay
 * within 10,000 parts; so do the largest tunables. */
static void test_big_packs(void **state)
{
    (void)state;
    uint64_t part = parts_size(5 * MIB, 64 * GIB, 1 * MIB);
    assert_int_equal(part, 8 * MIB);   /* ceil((64 GiB + a chunk) / 9,000) in MiB */
    assert_int_equal(parts_for(20 * GIB, part), 2560);
    assert_true(parts_for(20 * GIB, part) <= PARTS_MAX);
    assert_true(parts_for(64 * GIB + 1 * MIB + MIB / 32 + (64 << 10), part) <= PARTS_MAX);
    assert_true(parts_for(parts_object_max(64 * GIB, 1 * MIB), part) <= PARTS_TARGET);
    uint64_t packs[] = { 1 * GIB, 47 * GIB, 48 * GIB, 64 * GIB, 1024 * GIB, 40000 * GIB };
    uint64_t chunks[] = { 4096, 1 * MIB, 64 * MIB };
    for (size_t i = 0; i < sizeof(packs) / sizeof(packs[0]); i++)
        for (size_t j = 0; j < sizeof(chunks) / sizeof(chunks[0]); j++) {
            uint64_t p = parts_size(5 * MIB, packs[i], chunks[j]);
            assert_true(parts_for(parts_object_max(packs[i], chunks[j]), p) <= PARTS_MAX);
            assert_true(p <= PARTS_SIZE_MAX);
        }
}

/* The defaults (part size 5M, pack size 1G, chunk size 1M) are left as they are; a part
 * size set larger than needed too. */
static void test_defaults_unchanged(void **state)
{
    (void)state;
    assert_int_equal(parts_size(5 * MIB, 1 * GIB, 1 * MIB), 5 * MIB);
    assert_int_equal(parts_size(5 * MIB, 4 * GIB, 4 * MIB), 5 * MIB);
    assert_int_equal(parts_size(64 * MIB, 64 * GIB, 1 * MIB), 64 * MIB);
    assert_int_equal(parts_size(24 << 10, 100 << 10, 16 << 10), 24 << 10);   /* tests' */
    assert_true(parts_object_max(1 * GIB, 1 * MIB) > 1 * GIB + 1 * MIB);
}

/* The streamed index: parts double every 1,000, never below the first, so 10,000 parts
 * hold over 4 TiB (more than an index gets); at most 5 GiB a part. */
static void test_grow(void **state)
{
    (void)state;
    uint64_t total = 0;
    assert_int_equal(parts_grow(5 * MIB, 0), 5 * MIB);
    assert_int_equal(parts_grow(5 * MIB, 999), 5 * MIB);
    assert_int_equal(parts_grow(5 * MIB, 1000), 10 * MIB);
    assert_int_equal(parts_grow(5 * MIB, 9999), 5 * MIB << 9);
    assert_int_equal(parts_grow(1 * GIB, 9999), PARTS_SIZE_MAX);
    assert_int_equal(parts_grow(6 * GIB, 5000), 6 * GIB);
    for (int n = 0; n < PARTS_MAX; n++) {
        assert_true(parts_grow(5 * MIB, n) >= parts_grow(5 * MIB, n > 0 ? n - 1 : 0));
        total += parts_grow(5 * MIB, n);
    }
    assert_true(total > 4096ULL * GIB);        /* 5 MiB x 1,000 x 1,023 */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_big_packs),
        cmocka_unit_test(test_defaults_unchanged),
        cmocka_unit_test(test_grow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
