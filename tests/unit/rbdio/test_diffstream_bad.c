/* test_diffstream_bad.c - the export-diff stream codec (rbdio/diffstream.c) given
 * malformed input, every case rejected, and a writer misused. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "rbdio/rbdio.h"
#include "tests/unit/rbdio/diffstream_build.h"

/* ---- malformed input ---- */

static void test_bad_banner(void **state)
{
    (void)state;
    bytes s;
    s.n = 0;
    put_str(&s, "rbd diff v3\ne");
    expect_bad(&s, -EINVAL, "banner at byte 0");
    s.n = 0;
    put_str(&s, "rbd image v2\n");
    expect_bad(&s, -EINVAL, "banner");
    s.n = 0;
    put_str(&s, "rbd d");
    expect_bad(&s, -EINVAL, "inside the banner");
    s.n = 0;
    expect_bad(&s, -EINVAL, "end of input at byte 0");
}

static void test_unknown_tag_v1(void **state)
{
    (void)state;
    bytes s;
    header(&s, 1);
    ext_rec(&s, 1, 'z', 0, 1);
    put_u8(&s, 'x');
    put_u8(&s, 'e');
    expect_bad(&s, -EINVAL, "unknown record tag 'x' at byte 29");
    /* 'p' exists in v2 only */
    header(&s, 1);
    put_u8(&s, 'p');
    put_u8(&s, 0);
    put_u8(&s, 'e');
    expect_bad(&s, -EINVAL, "unknown record tag 'p' at byte 12");
    header(&s, 1);
    put_u8(&s, 0);
    expect_bad(&s, -EINVAL, "unknown record tag 0x00 at byte 12");
}

/* In v2 an unknown record is skipped by its length, wherever it is. */
static void test_unknown_tag_v2_skipped(void **state)
{
    (void)state;
    char out[512];
    bytes s;
    header(&s, 2);
    rec(&s, 2, 'X', 5);
    put_str(&s, "12345");
    rec(&s, 2, 's', 8);
    put_le(&s, 64, 8);
    ext_rec(&s, 2, 'z', 0, 8);
    rec(&s, 2, 'Q', 0);
    ext_rec(&s, 2, 'w', 8, 2);
    put_str(&s, "hi");
    put_u8(&s, 'e');
    assert_int_equal(summarize_bytes(&s, out, sizeof(out)), 0);
    assert_string_equal(out, "v2 s=64 | z0+8 w8+2:hi e");
    /* ... but its length must be there */
    header(&s, 2);
    rec(&s, 2, 'X', 5);
    put_str(&s, "123");
    expect_bad(&s, -EINVAL, "truncated: end of input at byte 24 inside an unknown record of"
               " the 'X' record at byte 12");
}

static void test_bad_lengths_v2(void **state)
{
    (void)state;
    bytes s;
    header(&s, 2);
    rec(&s, 2, 'w', 17);     /* 16 + 2 expected */
    put_le(&s, 0, 8);
    put_le(&s, 2, 8);
    put_str(&s, "ab");
    put_u8(&s, 'e');
    expect_bad(&s, -EINVAL, "the 'w' record at byte 12 has length 17, its fields make 18");
    header(&s, 2);
    rec(&s, 2, 'z', 24);
    put_le(&s, 0, 8);
    put_le(&s, 2, 8);
    put_u8(&s, 'e');
    expect_bad(&s, -EINVAL, "the 'z' record at byte 12 has length 24, its fields make 16");
    header(&s, 2);
    rec(&s, 2, 's', 4);
    put_le(&s, 10, 8);
    put_u8(&s, 'e');
    expect_bad(&s, -EINVAL, "the 's' record at byte 12 has length 4");
    header(&s, 2);
    rec(&s, 2, 'f', 9);
    put_le(&s, 2, 4);
    put_str(&s, "s1");
    put_u8(&s, 'e');
    expect_bad(&s, -EINVAL, "the 'f' record at byte 12 has length 9, its fields make 6");
    header(&s, 2);
    rec(&s, 2, 'p', 2);
    put_u8(&s, 0);
    put_u8(&s, 0);
    put_u8(&s, 'e');
    expect_bad(&s, -EINVAL, "the 'p' record at byte 12 has length 2, its fields make 1");
    /* a 'w' whose data length cannot be added to 16 */
    header(&s, 2);
    rec(&s, 2, 'w', 15);
    put_le(&s, 0, 8);
    put_le(&s, UINT64_MAX, 8);
    expect_bad(&s, -EINVAL, "overflows");
}

/* rbd up to 16.2.x writes 'p' with length 8 and a 1-byte payload (Ceph tracker 53243). */
static void test_legacy_protection_length(void **state)
{
    (void)state;
    char out[512];
    bytes s;
    header(&s, 2);
    name_rec(&s, 2, 't', "s1");
    rec(&s, 2, 'p', 8);
    put_u8(&s, 1);
    rec(&s, 2, 's', 8);
    put_le(&s, 4096, 8);
    put_u8(&s, 'e');
    assert_int_equal(summarize_bytes(&s, out, sizeof(out)), 0);
    assert_string_equal(out, "v2 t=s1 p=1 s=4096 | e");
}

static void test_bad_values(void **state)
{
    (void)state;
    bytes s;
    header(&s, 2);
    rec(&s, 2, 'p', 1);
    put_u8(&s, 2);
    put_u8(&s, 'e');
    expect_bad(&s, -EINVAL, "protection status 2");
}

static void test_name_too_long(void **state)
{
    (void)state;
    char name[RBDIO_DS_NAME_MAX + 2];
    bytes s;
    char out[16384];
    memset(name, 'n', sizeof(name) - 1);
    name[RBDIO_DS_NAME_MAX] = '\0';              /* exactly the maximum: fine */
    for (int v = 1; v <= 2; v++) {
        header(&s, v);
        name_rec(&s, v, 't', name);
        put_u8(&s, 'e');
        assert_int_equal(summarize_bytes(&s, out, sizeof(out)), 0);
    }
    name[RBDIO_DS_NAME_MAX] = 'n';               /* one more */
    name[RBDIO_DS_NAME_MAX + 1] = '\0';
    for (int v = 1; v <= 2; v++) {
        header(&s, v);
        name_rec(&s, v, 't', name);
        put_u8(&s, 'e');
        expect_bad(&s, -EINVAL, "snapshot name of 4097 bytes (at most 4096)");
    }
    /* a huge declared length is refused before anything is allocated or read */
    header(&s, 1);
    put_u8(&s, 'f');
    put_le(&s, 0xffffffffu, 4);
    expect_bad(&s, -EINVAL, "snapshot name of 4294967295 bytes");
    /* NUL inside, and empty */
    header(&s, 1);
    put_u8(&s, 'f');
    put_le(&s, 3, 4);
    put(&s, "a\0b", 3);
    put_u8(&s, 'e');
    expect_bad(&s, -EINVAL, "NUL byte");
    header(&s, 1);
    name_rec(&s, 1, 'f', "");
    put_u8(&s, 'e');
    expect_bad(&s, -EINVAL, "empty snapshot name");
    /* the writer refuses them too */
    rbdio_ds_header h = hdr(1, NULL, NULL, 0, 0);
    rbdio_ds_writer *w;
    h.has_to = 1;
    memset(h.to_snap, 'n', sizeof(h.to_snap));
    h.to_snap[sizeof(h.to_snap) - 1] = '\0';
    h.to_snap[RBDIO_DS_NAME_MAX] = 'n';
    assert_int_equal(rbdio_ds_writer_new(1, &h, &w), -EINVAL);   /* nothing written */
}

static void test_extent_overflow_and_size(void **state)
{
    (void)state;
    bytes s;
    char out[512];
    for (int v = 1; v <= 2; v++) {
        header(&s, v);
        ext_rec(&s, v, 'z', UINT64_MAX - 10, 11);
        put_u8(&s, 'e');
        expect_bad(&s, -EINVAL, "the 'z' record at byte 12 overflows");
        header(&s, v);
        rec(&s, v, 's', 8);
        put_le(&s, 100, 8);
        ext_rec(&s, v, 'w', 98, 3);
        put_str(&s, "abc");
        put_u8(&s, 'e');
        expect_bad(&s, -EINVAL, "ends at 101, past the image size 100");
        /* ending exactly at the size is fine */
        header(&s, v);
        rec(&s, v, 's', 8);
        put_le(&s, 100, 8);
        ext_rec(&s, v, 'z', 0, 100);
        put_u8(&s, 'e');
        assert_int_equal(summarize_bytes(&s, out, sizeof(out)), 0);
    }
    /* the writer checks the same */
    FILE *f = tmpfile();
    rbdio_ds_header h = hdr(2, NULL, NULL, 1, 100);
    rbdio_ds_writer *w;
    assert_int_equal(rbdio_ds_writer_new(fileno(f), &h, &w), 0);
    assert_int_equal(rbdio_ds_zero(w, 90, 11), -EINVAL);
    assert_int_equal(rbdio_ds_zero(w, UINT64_MAX, 2), -EINVAL);
    assert_int_equal(rbdio_ds_write(w, 99, 1, "x"), 0);
    assert_int_equal(rbdio_ds_finish(w), 0);
    fclose(f);
}

static void test_metadata_order(void **state)
{
    (void)state;
    bytes s;
    for (int v = 1; v <= 2; v++) {
        header(&s, v);
        ext_rec(&s, v, 'z', 0, 1);
        rec(&s, v, 's', 8);
        put_le(&s, 100, 8);
        put_u8(&s, 'e');
        expect_bad(&s, -EINVAL, v == 1 ? "metadata record 's' at byte 29 after data records"
                                       : "metadata record 's' at byte 37 after data records");
        header(&s, v);
        name_rec(&s, v, 't', "a");
        name_rec(&s, v, 't', "b");
        put_u8(&s, 'e');
        expect_bad(&s, -EINVAL, "second 't' record");
    }
}

/* Every proper prefix of a valid stream is rejected as truncated (never accepted). */
static void test_truncated_everywhere(void **state)
{
    (void)state;
    char out[512];
    bytes s, cut;
    for (int v = 1; v <= 2; v++) {
        tiny(&s, v);
        for (size_t n = 0; n < s.n; n++) {
            cut.n = 0;
            put(&cut, s.b, n);
            expect_bad(&cut, -EINVAL, "end of input at byte");
            if (n >= 12 && strstr(rbdio_last_error(), "truncated") == NULL) {
                print_error("prefix %zu: %s\n", n, rbdio_last_error());
                fail();
            }
        }
        assert_int_equal(summarize_bytes(&s, out, sizeof(out)), 0);
    }
    /* the message names the record being read */
    tiny(&s, 1);
    cut.n = 0;
    put(&cut, s.b, 36 + 17 + 1);   /* into the data of the 'w' at byte 35 */
    expect_bad(&cut, -EINVAL, "end of input at byte 54 inside the data of the 'w' record at"
               " byte 35");
    cut.n = 0;
    put(&cut, s.b, s.n - 1);       /* everything but 'e' */
    expect_bad(&cut, -EINVAL, "end of input at byte 72 before the end record 'e'");
}

static void test_data_after_end(void **state)
{
    (void)state;
    bytes s;
    tiny(&s, 1);
    put_u8(&s, 'w');
    expect_bad(&s, -EINVAL, "data after the end record: byte 73 is 0x77");
}

/* A failed reader keeps failing with the same message. */
static void test_sticky_failure(void **state)
{
    (void)state;
    bytes s;
    rbdio_ds_reader *r;
    int kind;
    uint64_t off, len;
    header(&s, 1);
    ext_rec(&s, 1, 'z', 0, 1);
    put_u8(&s, '?');
    FILE *f = file_of(s.b, s.n);
    assert_int_equal(rbdio_ds_open(fileno(f), &r), 0);
    assert_int_equal(rbdio_ds_next(r, &kind, &off, &len), 0);
    assert_int_equal(rbdio_ds_next(r, &kind, &off, &len), -EINVAL);
    char first[512];
    snprintf(first, sizeof(first), "%s", rbdio_last_error());
    assert_non_null(strstr(first, "unknown record tag '?' at byte 29"));
    assert_int_equal(rbdio_ds_next(r, &kind, &off, &len), -EINVAL);
    assert_string_equal(rbdio_last_error(), first);
    rbdio_ds_close(r);
    fclose(f);
}

static void test_writer_misuse(void **state)
{
    (void)state;
    FILE *f = tmpfile();
    rbdio_ds_header h = hdr(3, NULL, NULL, 0, 0);
    rbdio_ds_writer *w;
    assert_int_equal(rbdio_ds_writer_new(fileno(f), &h, &w), -EINVAL);
    h.version = 1;
    assert_int_equal(rbdio_ds_writer_new(fileno(f), &h, &w), 0);
    assert_int_equal(rbdio_ds_write_begin(w, 0, 4), 0);
    assert_int_equal(rbdio_ds_write_data(w, "abcde", 5), -EINVAL);   /* too much */
    assert_int_equal(rbdio_ds_zero(w, 8, 8), -EINVAL);               /* payload pending */
    assert_int_equal(rbdio_ds_write_data(w, "abcd", 4), 0);
    assert_int_equal(rbdio_ds_write_begin(w, 10, 2), 0);
    assert_int_equal(rbdio_ds_finish(w), -EINVAL);                    /* freed anyway */
    fclose(f);
    /* writing to a closed pipe fails with -EPIPE, not a signal */
    int p[2];
    assert_int_equal(pipe(p), 0);
    close(p[0]);
    void (*old)(int) = signal(SIGPIPE, SIG_IGN);
    assert_int_equal(rbdio_ds_writer_new(p[1], &h, &w), -EPIPE);
    signal(SIGPIPE, old);
    close(p[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_banner),
        cmocka_unit_test(test_unknown_tag_v1),
        cmocka_unit_test(test_unknown_tag_v2_skipped),
        cmocka_unit_test(test_bad_lengths_v2),
        cmocka_unit_test(test_legacy_protection_length),
        cmocka_unit_test(test_bad_values),
        cmocka_unit_test(test_name_too_long),
        cmocka_unit_test(test_extent_overflow_and_size),
        cmocka_unit_test(test_metadata_order),
        cmocka_unit_test(test_truncated_everywhere),
        cmocka_unit_test(test_data_after_end),
        cmocka_unit_test(test_sticky_failure),
        cmocka_unit_test(test_writer_misuse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
