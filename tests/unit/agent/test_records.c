/* test_records.c - hostile chunk index records: every size bounded by what the format
 * allows (index reader and writer), and by the manifest's chunk size (plan_check_src);
 * the restore target's marker parser. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <lz4.h>
#include <lz4frame.h>

#include "agent/format/chunk.h"
#include "agent/format/index.h"
#include "agent/restore/plan.h"
#include "agent/restore/target.h"

#define MIB (1ULL << 20)

static void put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void put64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

/* An index object holding one record at obj_offset, written byte by byte (no writer
 * checks). */
static unsigned char *one_record_at(uint64_t length, uint32_t flags, uint32_t stored,
                                    uint64_t obj_offset, size_t *len)
{
    unsigned char c[16 + INDEX_REC_SIZE];
    memset(c, 0, sizeof(c));
    memcpy(c, "RBD2SIDX", 8);
    put32(c + 8, 2);
    put32(c + 12, INDEX_REC_SIZE);
    unsigned char *p = c + 16;
    put64(p + 8, length);
    put32(p + 20, flags);
    put64(p + 24, obj_offset);
    put32(p + 32, stored);
    if (!(flags & INDEX_FLAG_ZERO))
        memset(p + 40, 0xab, 32);
    size_t cap = LZ4F_compressFrameBound(sizeof(c), NULL);
    unsigned char *f = malloc(cap);
    assert_non_null(f);
    *len = LZ4F_compressFrame(f, cap, c, sizeof(c), NULL);
    assert_false(LZ4F_isError(*len));
    return f;
}

/* index_load's verdict on one record at obj_offset. */
static int load_one_at(uint64_t length, uint32_t flags, uint32_t stored, uint64_t obj_offset)
{
    size_t len, n;
    index_rec *recs;
    unsigned char *f = one_record_at(length, flags, stored, obj_offset, &len);
    int rc = index_load(f, len, &recs, &n);
    free(f);
    if (rc == 0) {
        assert_int_equal(n, 1);
        free(recs);
    }
    return rc;
}

/* index_load's verdict on one record. */
static int load_one(uint64_t length, uint32_t flags, uint32_t stored)
{
    return load_one_at(length, flags, stored, 0);
}

/* The stored bytes of a record end within 2^64 (the plan's group arithmetic adds them);
 * the writer refuses what the reader refuses. */
static void test_stored_end_bounded(void **state)
{
    (void)state;
    assert_int_equal(load_one_at(4096, 0, 100, UINT64_MAX - 100), 0);
    assert_int_equal(load_one_at(4096, 0, 100, UINT64_MAX - 99), -EINVAL);
    assert_int_equal(load_one_at(4096, INDEX_FLAG_RAW, 4096, UINT64_MAX), -EINVAL);
    index_writer *w;
    index_rec r = { .length = 4096, .obj_offset = UINT64_MAX - 50, .stored_length = 100 };
    assert_int_equal(index_writer_new(&w), 0);
    assert_int_equal(index_writer_add(w, &r), -EINVAL);
    r.obj_offset = UINT64_MAX - 100;
    assert_int_equal(index_writer_add(w, &r), 0);
    index_writer_free(w);
}

static void test_lengths_bounded(void **state)
{
    (void)state;
    uint32_t big = (uint32_t)LZ4_COMPRESSBOUND(CHUNK_SIZE_MAX);
    assert_int_equal(load_one(CHUNK_SIZE_MAX, INDEX_FLAG_RAW, (uint32_t)CHUNK_SIZE_MAX), 0);
    assert_int_equal(load_one(CHUNK_SIZE_MAX, 0, big), 0);
    assert_int_equal(load_one(CHUNK_SIZE_MAX + 1, 0, 1000), -EINVAL);
    assert_int_equal(load_one(1ULL << 40, 0, 1000), -EINVAL);
    assert_int_equal(load_one(0xff00000000000000ULL, 0, 1000), -EINVAL);
    assert_int_equal(load_one(4294967290ULL, INDEX_FLAG_RAW, 4294967290U), -EINVAL);
    /* 2^32 + 4096 would truncate to 4096 in a 32-bit cast */
    assert_int_equal(load_one((1ULL << 32) + 4096, INDEX_FLAG_RAW, 4096), -EINVAL);
}

static void test_stored_bounded(void **state)
{
    (void)state;
    uint32_t bound = (uint32_t)LZ4_COMPRESSBOUND(4096);
    assert_int_equal(load_one(4096, 0, bound), 0);
    assert_int_equal(load_one(4096, 0, bound + 1), -EINVAL);
    assert_int_equal(load_one(4096, 0, 0xffffffffu), -EINVAL);
    assert_int_equal(load_one(4096, 0, 0), -EINVAL);          /* a whole-object GET */
    assert_int_equal(load_one(4096, INDEX_FLAG_RAW, 4095), -EINVAL);
    assert_int_equal(load_one(4096, INDEX_FLAG_RAW, 4097), -EINVAL);
}

static void test_zero_records_span_chunks(void **state)
{
    (void)state;
    assert_int_equal(load_one(1ULL << 40, INDEX_FLAG_ZERO, 0), 0);
}

static void test_writer_refuses_the_same(void **state)
{
    (void)state;
    index_writer *w;
    index_rec r;
    memset(&r, 0, sizeof(r));
    assert_int_equal(index_writer_new(&w), 0);
    r.length = CHUNK_SIZE_MAX + 4096;
    r.flags = INDEX_FLAG_RAW;
    r.stored_length = (uint32_t)r.length;
    assert_int_equal(index_writer_add(w, &r), -EINVAL);
    r.length = 4096;
    r.flags = 0;
    r.stored_length = 0;
    assert_int_equal(index_writer_add(w, &r), -EINVAL);
    r.stored_length = 100;
    assert_int_equal(index_writer_add(w, &r), 0);
    index_writer_free(w);
}

static void test_plan_check_src(void **state)
{
    (void)state;
    index_rec recs[3];
    memset(recs, 0, sizeof(recs));
    recs[0] = (index_rec){ .offset = 0, .length = MIB, .stored_length = 100 };
    recs[1] = (index_rec){ .offset = MIB, .length = 10 * MIB, .flags = INDEX_FLAG_ZERO };
    recs[2] = (index_rec){ .offset = 11 * MIB, .length = 2 * MIB, .stored_length = 100 };
    recs[2].obj_offset = 100;
    plan_src s = { recs, 3, 16 * MIB };
    uint64_t sizes[1] = { 200 };
    size_t bad = 99;
    assert_int_equal(plan_check_src(&s, 2 * MIB, sizes, 1, &bad), 0);
    assert_int_equal(plan_check_src(&s, MIB, sizes, 1, &bad), -E2BIG);
    assert_int_equal(bad, 2);                  /* the zero record may span chunks */
    assert_int_equal(plan_check_src(&s, 0, sizes, 1, &bad), -EINVAL);
    assert_int_equal(bad, 3);
    assert_int_equal(plan_check_src(&s, CHUNK_SIZE_MAX + 1, sizes, 1, &bad), -EINVAL);
    assert_int_equal(bad, 3);
    assert_int_equal(plan_check_src(&s, CHUNK_SIZE_MAX, sizes, 1, &bad), 0);
    /* records outside their data object, or naming one the manifest lacks */
    sizes[0] = 199;
    assert_int_equal(plan_check_src(&s, 2 * MIB, sizes, 1, &bad), -ERANGE);
    assert_int_equal(bad, 2);
    sizes[0] = 200;
    recs[2].obj_offset = UINT64_MAX - 50;
    assert_int_equal(plan_check_src(&s, 2 * MIB, sizes, 1, &bad), -ERANGE);
    recs[2].obj_offset = 100;
    recs[2].obj = 1;
    assert_int_equal(plan_check_src(&s, 2 * MIB, sizes, 1, &bad), -ERANGE);
    assert_int_equal(plan_check_src(&s, 2 * MIB, sizes, 0, &bad), -ERANGE);
    assert_int_equal(bad, 0);
}

static void test_marker_parse(void **state)
{
    (void)state;
    char src[256], host[64];
    long pid;
    assert_int_equal(target_marker_parse("rbd/a b@20261202T000000Z host h1 pid 42", src,
                                         sizeof(src), host, sizeof(host), &pid), 0);
    assert_string_equal(src, "rbd/a b@20261202T000000Z");
    assert_string_equal(host, "h1");
    assert_int_equal(pid, 42);
    assert_int_equal(target_marker_parse("rbd/x host y pid 1 host h pid 7", src,
                                         sizeof(src), host, sizeof(host), &pid), 0);
    assert_string_equal(src, "rbd/x host y pid 1");
    assert_int_equal(pid, 7);
    const char *bad[] = { "", "rbd/x", "rbd/x host h", "rbd/x host h pid", "rbd/x host h pid 0",
                          "rbd/x host h pid -3", "rbd/x host h pid 12a", " host h pid 3",
                          "rbd/x host  pid 3", "rbd/x pid 3 host h", "x host pid 3",
                          "rbd/\033[2Jx host h pid 3", "rbd/x host h\n pid 3" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(target_marker_parse(bad[i], src, sizeof(src), host, sizeof(host),
                                             &pid), -EINVAL);
    assert_int_equal(target_marker_parse("rbd/x host h pid 3", src, 3, host, sizeof(host),
                                         &pid), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lengths_bounded),
        cmocka_unit_test(test_stored_bounded),
        cmocka_unit_test(test_stored_end_bounded),
        cmocka_unit_test(test_zero_records_span_chunks),
        cmocka_unit_test(test_writer_refuses_the_same),
        cmocka_unit_test(test_plan_check_src),
        cmocka_unit_test(test_marker_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
