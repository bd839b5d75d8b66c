/* test_diffstream.c - unit tests of the export-diff stream codec (rbdio/diffstream.c):
 * exact encodings, writer -> reader round trips, and every malformed input rejected. */
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

/* ---- helpers ---- */

/* A byte buffer to build streams by hand. */
typedef struct bytes {
    unsigned char b[16384];
    size_t n;
} bytes;

static void put(bytes *s, const void *p, size_t n)
{
    assert_true(s->n + n <= sizeof(s->b));
    memcpy(s->b + s->n, p, n);
    s->n += n;
}

static void put_str(bytes *s, const char *p)
{
    put(s, p, strlen(p));
}

static void put_u8(bytes *s, unsigned v)
{
    unsigned char c = (unsigned char)v;
    put(s, &c, 1);
}

static void put_le(bytes *s, uint64_t v, int width)
{
    for (int i = 0; i < width; i++)
        put_u8(s, (unsigned)(v >> (8 * i)) & 0xff);
}

/* A record header: tag, and in v2 the payload length. */
static void rec(bytes *s, int v, int tag, uint64_t plen)
{
    put_u8(s, (unsigned)tag);
    if (v == 2)
        put_le(s, plen, 8);
}

static void name_rec(bytes *s, int v, int tag, const char *name)
{
    rec(s, v, tag, 4 + strlen(name));
    put_le(s, strlen(name), 4);
    put_str(s, name);
}

static void ext_rec(bytes *s, int v, int tag, uint64_t off, uint64_t len)
{
    rec(s, v, tag, tag == 'w' ? 16 + len : 16);
    put_le(s, off, 8);
    put_le(s, len, 8);
}

/* A temporary file holding n bytes, positioned at 0. */
static FILE *file_of(const void *p, size_t n)
{
    FILE *f = tmpfile();
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, n, f), n);
    assert_int_equal(fflush(f), 0);
    assert_int_equal(lseek(fileno(f), 0, SEEK_SET), 0);
    return f;
}

/* The contents of a temporary file. */
static size_t file_bytes(FILE *f, unsigned char *buf, size_t cap)
{
    assert_int_equal(lseek(fileno(f), 0, SEEK_SET), 0);
    ssize_t n = read(fileno(f), buf, cap);
    assert_true(n >= 0);
    return (size_t)n;
}

/* Read a whole stream from fd into a text summary:
 * "v2 f=a t=b p=0 s=100 | w0+3:abc z4+2 | e". piece: payload read size (0: whole). */
static int summarize(int fd, char *out, size_t cap, size_t piece)
{
    rbdio_ds_reader *r;
    int kind, rc;
    uint64_t off, len;
    size_t used;

    out[0] = '\0';
    rc = rbdio_ds_open(fd, &r);
    if (rc < 0)
        return rc;
    const rbdio_ds_header *h = rbdio_ds_header_get(r);
    used = (size_t)snprintf(out, cap, "v%d", h->version);
    if (h->has_from)
        used += (size_t)snprintf(out + used, cap - used, " f=%s", h->from_snap);
    if (h->has_to)
        used += (size_t)snprintf(out + used, cap - used, " t=%s", h->to_snap);
    if (h->has_protected)
        used += (size_t)snprintf(out + used, cap - used, " p=%d", h->is_protected);
    if (h->has_size)
        used += (size_t)snprintf(out + used, cap - used, " s=%llu",
                                 (unsigned long long)h->size);
    used += (size_t)snprintf(out + used, cap - used, " |");
    for (;;) {
        rc = rbdio_ds_next(r, &kind, &off, &len);
        if (rc < 0)
            break;
        if (kind == RBDIO_DS_END) {
            rc = rbdio_ds_expect_eof(r);
            if (rc == 0)
                used += (size_t)snprintf(out + used, cap - used, " e");
            break;
        }
        used += (size_t)snprintf(out + used, cap - used, " %c%llu+%llu",
                                 kind == RBDIO_DS_WRITE ? 'w' : 'z',
                                 (unsigned long long)off, (unsigned long long)len);
        if (kind == RBDIO_DS_WRITE) {
            char data[4096];
            assert_true(len < sizeof(data));
            size_t step = piece ? piece : (size_t)len;
            for (size_t got = 0; got < len; got += step) {
                size_t k = len - got < step ? (size_t)len - got : step;
                rc = rbdio_ds_read(r, data + got, k);
                if (rc < 0)
                    goto out;
            }
            data[len] = '\0';
            used += (size_t)snprintf(out + used, cap - used, ":%s", data);
        }
    }
out:
    rbdio_ds_close(r);
    return rc;
}

static int summarize_bytes(const bytes *s, char *out, size_t cap)
{
    FILE *f = file_of(s->b, s->n);
    int rc = summarize(fileno(f), out, cap, 0);
    fclose(f);
    return rc;
}

/* The stream must be rejected with rc, and the error text must contain `text`. */
static void expect_bad(const bytes *s, int rc, const char *text)
{
    char out[8192];
    int got = summarize_bytes(s, out, sizeof(out));
    if (got != rc || strstr(rbdio_last_error(), text) == NULL) {
        print_error("got %d '%s', expected %d and '%s'\n", got, rbdio_last_error(), rc, text);
        fail();
    }
}

static void header(bytes *s, int v)
{
    s->n = 0;
    put_str(s, v == 1 ? "rbd diff v1\n" : "rbd diff v2\n");
}

/* A small valid stream of either version (from, to, size 100, w, z, e). */
static void tiny(bytes *s, int v)
{
    header(s, v);
    name_rec(s, v, 'f', "s1");
    name_rec(s, v, 't', "s2");
    if (v == 2) {
        rec(s, v, 'p', 1);
        put_u8(s, 1);
    }
    rec(s, v, 's', 8);
    put_le(s, 100, 8);
    ext_rec(s, v, 'w', 10, 3);
    put_str(s, "abc");
    ext_rec(s, v, 'z', 20, 5);
    put_u8(s, 'e');
}

static rbdio_ds_header hdr(int v, const char *from, const char *to, int has_size, uint64_t sz)
{
    rbdio_ds_header h;
    memset(&h, 0, sizeof(h));
    h.version = v;
    if (from) {
        h.has_from = 1;
        snprintf(h.from_snap, sizeof(h.from_snap), "%s", from);
    }
    if (to) {
        h.has_to = 1;
        snprintf(h.to_snap, sizeof(h.to_snap), "%s", to);
    }
    h.has_size = has_size;
    h.size = sz;
    return h;
}

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
