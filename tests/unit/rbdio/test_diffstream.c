/* test_diffstream.c - unit tests of the export-diff stream codec (rbdio/diffstream.c):
 * exact encodings and writer -> reader round trips (malformed input: test_diffstream_bad.c). */
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

/* ---- exact encodings ---- */

static const unsigned char V1_TINY[] = {
    'r', 'b', 'd', ' ', 'd', 'i', 'f', 'f', ' ', 'v', '1', '\n',
    'f', 2, 0, 0, 0, 's', '1',
    't', 2, 0, 0, 0, 's', '2',
    's', 100, 0, 0, 0, 0, 0, 0, 0,
    'w', 10, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 'a', 'b', 'c',
    'z', 20, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0,
    'e',
};

static const unsigned char V2_TINY[] = {
    'r', 'b', 'd', ' ', 'd', 'i', 'f', 'f', ' ', 'v', '2', '\n',
    'f', 6, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 's', '1',
    't', 6, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 's', '2',
    'p', 1, 0, 0, 0, 0, 0, 0, 0, 1,
    's', 8, 0, 0, 0, 0, 0, 0, 0, 100, 0, 0, 0, 0, 0, 0, 0,
    'w', 19, 0, 0, 0, 0, 0, 0, 0,
    10, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 'a', 'b', 'c',
    'z', 16, 0, 0, 0, 0, 0, 0, 0,
    20, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0,
    'e',
};

static void write_tiny(int v, FILE *f)
{
    rbdio_ds_header h = hdr(v, "s1", "s2", 1, 100);
    rbdio_ds_writer *w;
    h.has_protected = 1;
    h.is_protected = 1;
    assert_int_equal(rbdio_ds_writer_new(fileno(f), &h, &w), 0);
    assert_int_equal(rbdio_ds_write(w, 10, 3, "abc"), 0);
    assert_int_equal(rbdio_ds_zero(w, 20, 5), 0);
    assert_int_equal(rbdio_ds_finish(w), 0);
}

static void test_encode_v1_exact(void **state)
{
    (void)state;
    unsigned char got[512];
    FILE *f = tmpfile();
    write_tiny(1, f);   /* 'p' is not written in v1 */
    size_t n = file_bytes(f, got, sizeof(got));
    fclose(f);
    assert_int_equal(n, sizeof(V1_TINY));
    assert_memory_equal(got, V1_TINY, sizeof(V1_TINY));
}

static void test_encode_v2_exact(void **state)
{
    (void)state;
    unsigned char got[512];
    FILE *f = tmpfile();
    write_tiny(2, f);
    size_t n = file_bytes(f, got, sizeof(got));
    fclose(f);
    assert_int_equal(n, sizeof(V2_TINY));
    assert_memory_equal(got, V2_TINY, sizeof(V2_TINY));
}

static void test_decode_exact(void **state)
{
    (void)state;
    char out[512];
    FILE *f = file_of(V1_TINY, sizeof(V1_TINY));
    assert_int_equal(summarize(fileno(f), out, sizeof(out), 0), 0);
    assert_string_equal(out, "v1 f=s1 t=s2 s=100 | w10+3:abc z20+5 e");
    fclose(f);
    f = file_of(V2_TINY, sizeof(V2_TINY));
    assert_int_equal(summarize(fileno(f), out, sizeof(out), 1), 0);
    assert_string_equal(out, "v2 f=s1 t=s2 p=1 s=100 | w10+3:abc z20+5 e");
    fclose(f);
}

/* The hand builder agrees with the literal bytes (the malformed cases rely on it). */
static void test_builder(void **state)
{
    (void)state;
    bytes s;
    tiny(&s, 1);
    assert_int_equal(s.n, sizeof(V1_TINY));
    assert_memory_equal(s.b, V1_TINY, s.n);
    tiny(&s, 2);
    assert_int_equal(s.n, sizeof(V2_TINY));
    assert_memory_equal(s.b, V2_TINY, s.n);
}

/* ---- round trips ---- */

static void round_trip(int v)
{
    unsigned char big[3000];
    char out[8192], want[8192];
    rbdio_ds_writer *w;
    rbdio_ds_reader *r;
    int kind;
    uint64_t off, len;

    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (unsigned char)('a' + i % 26);
    FILE *f = tmpfile();
    rbdio_ds_header h = hdr(v, NULL, "snap-two", 1, 1 << 20);
    assert_int_equal(rbdio_ds_writer_new(fileno(f), &h, &w), 0);
    assert_int_equal(rbdio_ds_write(w, 0, 5, "hello"), 0);
    assert_int_equal(rbdio_ds_zero(w, 4096, 8192), 0);
    assert_int_equal(rbdio_ds_write_begin(w, 65536, sizeof(big)), 0);
    assert_int_equal(rbdio_ds_write_data(w, big, 1000), 0);
    assert_int_equal(rbdio_ds_write_data(w, big + 1000, 2000), 0);
    assert_int_equal(rbdio_ds_write(w, (1 << 20) - 2, 2, "zz"), 0);
    assert_int_equal(rbdio_ds_zero(w, 0, 1 << 20), 0);
    assert_int_equal(rbdio_ds_finish(w), 0);

    /* read back with the payload in 7-byte pieces */
    assert_int_equal(lseek(fileno(f), 0, SEEK_SET), 0);
    assert_int_equal(summarize(fileno(f), out, sizeof(out), 7), 0);
    snprintf(want, sizeof(want), "v%d t=snap-two s=1048576 | w0+5:hello z4096+8192 "
             "w65536+3000:%.3000s w1048574+2:zz z0+1048576 e", v, (char *)big);
    assert_string_equal(out, want);

    /* the header, and skipping an unread payload */
    assert_int_equal(lseek(fileno(f), 0, SEEK_SET), 0);
    assert_int_equal(rbdio_ds_open(fileno(f), &r), 0);
    const rbdio_ds_header *g = rbdio_ds_header_get(r);
    assert_int_equal(g->version, v);
    assert_false(g->has_from);
    assert_true(g->has_to);
    assert_string_equal(g->to_snap, "snap-two");
    assert_true(g->has_size);
    assert_int_equal(g->size, 1 << 20);
    assert_int_equal(rbdio_ds_next(r, &kind, &off, &len), 0);
    assert_int_equal(kind, RBDIO_DS_WRITE);
    assert_int_equal(rbdio_ds_next(r, &kind, &off, &len), 0);   /* "hello" skipped */
    assert_int_equal(kind, RBDIO_DS_ZERO);
    assert_int_equal(off, 4096);
    assert_int_equal(len, 8192);
    assert_int_equal(rbdio_ds_next(r, &kind, &off, &len), 0);
    assert_int_equal(kind, RBDIO_DS_WRITE);
    char piece[10];
    assert_int_equal(rbdio_ds_read(r, piece, 10), 0);           /* part read, rest skipped */
    assert_memory_equal(piece, big, 10);
    assert_int_equal(rbdio_ds_next(r, &kind, &off, &len), 0);
    assert_int_equal(off, (1 << 20) - 2);
    /* reading more than the payload is refused */
    assert_int_equal(rbdio_ds_read(r, piece, 3), -EINVAL);
    assert_int_equal(rbdio_ds_read(r, piece, 2), 0);
    assert_int_equal(rbdio_ds_next(r, &kind, &off, &len), 0);
    assert_int_equal(kind, RBDIO_DS_ZERO);
    assert_int_equal(rbdio_ds_next(r, &kind, &off, &len), 0);
    assert_int_equal(kind, RBDIO_DS_END);
    assert_int_equal(rbdio_ds_next(r, &kind, &off, &len), 0);   /* END again */
    assert_int_equal(kind, RBDIO_DS_END);
    assert_int_equal(rbdio_ds_offset(r), (uint64_t)lseek(fileno(f), 0, SEEK_END));
    rbdio_ds_close(r);
    fclose(f);
}

static void test_round_trip_v1(void **state)
{
    (void)state;
    round_trip(1);
}

static void test_round_trip_v2(void **state)
{
    (void)state;
    round_trip(2);
}

/* A stream with no metadata and no data: banner and 'e'. */
static void test_empty_stream(void **state)
{
    (void)state;
    char out[256];
    bytes s;
    for (int v = 1; v <= 2; v++) {
        header(&s, v);
        put_u8(&s, 'e');
        assert_int_equal(summarize_bytes(&s, out, sizeof(out)), 0);
        assert_string_equal(out, v == 1 ? "v1 | e" : "v2 | e");
    }
}

/* The reader stops right after 'e': a following stream on the same fd is intact. */
static void test_no_read_past_end(void **state)
{
    (void)state;
    char out[512];
    bytes s, two;
    tiny(&s, 2);
    two = s;
    put(&two, s.b, s.n);
    FILE *f = file_of(two.b, two.n);
    rbdio_ds_reader *r;
    int kind;
    uint64_t off, len;
    assert_int_equal(rbdio_ds_open(fileno(f), &r), 0);
    do {
        assert_int_equal(rbdio_ds_next(r, &kind, &off, &len), 0);
    } while (kind != RBDIO_DS_END);
    assert_int_equal(rbdio_ds_offset(r), s.n);
    assert_int_equal(lseek(fileno(f), 0, SEEK_CUR), (off_t)s.n);
    /* ... and what follows is reported by expect_eof */
    assert_int_equal(rbdio_ds_expect_eof(r), -EINVAL);
    assert_non_null(strstr(rbdio_last_error(), "data after the end record"));
    rbdio_ds_close(r);
    assert_int_equal(lseek(fileno(f), (off_t)s.n, SEEK_SET), (off_t)s.n);
    assert_int_equal(summarize(fileno(f), out, sizeof(out), 0), 0);
    assert_string_equal(out, "v2 f=s1 t=s2 p=1 s=100 | w10+3:abc z20+5 e");
    fclose(f);
}

/* Through a pipe fed one byte per write: every read is short. */
static void test_pipe_short_reads(void **state)
{
    (void)state;
    char out[512];
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        for (size_t i = 0; i < sizeof(V2_TINY); i++) {
            if (write(p[1], V2_TINY + i, 1) != 1)
                _exit(1);
            usleep(200);
        }
        _exit(0);
    }
    close(p[1]);
    assert_int_equal(summarize(p[0], out, sizeof(out), 2), 0);
    assert_string_equal(out, "v2 f=s1 t=s2 p=1 s=100 | w10+3:abc z20+5 e");
    close(p[0]);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/* A large write through a pipe: the writer copes with a full pipe (partial writes). */
static void test_pipe_large(void **state)
{
    (void)state;
    enum { BIG = 1 << 20 };
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        unsigned char *d = malloc(BIG);
        rbdio_ds_writer *w;
        rbdio_ds_header h = hdr(1, NULL, NULL, 0, 0);
        if (d == NULL)
            _exit(1);
        for (size_t i = 0; i < BIG; i++)
            d[i] = (unsigned char)(i * 7);
        if (rbdio_ds_writer_new(p[1], &h, &w) < 0 || rbdio_ds_write(w, 0, BIG, d) < 0 ||
            rbdio_ds_finish(w) < 0)
            _exit(1);
        _exit(0);
    }
    close(p[1]);
    rbdio_ds_reader *r;
    int kind;
    uint64_t off, len;
    unsigned char buf[4096];
    assert_int_equal(rbdio_ds_open(p[0], &r), 0);
    assert_int_equal(rbdio_ds_next(r, &kind, &off, &len), 0);
    assert_int_equal(kind, RBDIO_DS_WRITE);
    assert_int_equal(len, BIG);
    for (size_t at = 0; at < BIG; at += sizeof(buf)) {
        assert_int_equal(rbdio_ds_read(r, buf, sizeof(buf)), 0);
        for (size_t i = 0; i < sizeof(buf); i++)
            assert_int_equal(buf[i], (unsigned char)((at + i) * 7));
    }
    assert_int_equal(rbdio_ds_next(r, &kind, &off, &len), 0);
    assert_int_equal(kind, RBDIO_DS_END);
    assert_int_equal(rbdio_ds_expect_eof(r), 0);
    rbdio_ds_close(r);
    close(p[0]);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode_v1_exact),
        cmocka_unit_test(test_encode_v2_exact),
        cmocka_unit_test(test_decode_exact),
        cmocka_unit_test(test_builder),
        cmocka_unit_test(test_round_trip_v1),
        cmocka_unit_test(test_round_trip_v2),
        cmocka_unit_test(test_empty_stream),
        cmocka_unit_test(test_no_read_past_end),
        cmocka_unit_test(test_pipe_short_reads),
        cmocka_unit_test(test_pipe_large),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
