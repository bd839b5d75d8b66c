/* diffstream_build.h - helpers of the export-diff codec tests: streams built by hand
 * byte by byte, decoded into a one-line summary, and expected rejections.
 *
 * Included by the test programs of tests/unit/rbdio/ after <cmocka.h> (with its
 * prerequisites) and "rbdio/rbdio.h" (one copy per program: everything here is static,
 * and unused in some programs). */
#ifndef RBD2S3_DIFFSTREAM_BUILD_H
#define RBD2S3_DIFFSTREAM_BUILD_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A byte buffer to build streams by hand. */
typedef struct bytes {
    unsigned char b[16384];
    size_t n;
} bytes;

static __attribute__((unused)) void put(bytes *s, const void *p, size_t n)
{
    assert_true(s->n + n <= sizeof(s->b));
    memcpy(s->b + s->n, p, n);
    s->n += n;
}

static __attribute__((unused)) void put_str(bytes *s, const char *p)
{
    put(s, p, strlen(p));
}

static __attribute__((unused)) void put_u8(bytes *s, unsigned v)
{
    unsigned char c = (unsigned char)v;
    put(s, &c, 1);
}

static __attribute__((unused)) void put_le(bytes *s, uint64_t v, int width)
{
    for (int i = 0; i < width; i++)
        put_u8(s, (unsigned)(v >> (8 * i)) & 0xff);
}

/* A record header: tag, and in v2 the payload length. */
static __attribute__((unused)) void rec(bytes *s, int v, int tag, uint64_t plen)
{
    put_u8(s, (unsigned)tag);
    if (v == 2)
        put_le(s, plen, 8);
}

static __attribute__((unused)) void name_rec(bytes *s, int v, int tag, const char *name)
{
    rec(s, v, tag, 4 + strlen(name));
    put_le(s, strlen(name), 4);
    put_str(s, name);
}

static __attribute__((unused)) void ext_rec(bytes *s, int v, int tag, uint64_t off, uint64_t len)
{
    rec(s, v, tag, tag == 'w' ? 16 + len : 16);
    put_le(s, off, 8);
    put_le(s, len, 8);
}

/* A temporary file holding n bytes, positioned at 0. */
static __attribute__((unused)) FILE *file_of(const void *p, size_t n)
{
    FILE *f = tmpfile();
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, n, f), n);
    assert_int_equal(fflush(f), 0);
    assert_int_equal(lseek(fileno(f), 0, SEEK_SET), 0);
    return f;
}

/* The contents of a temporary file. */
static __attribute__((unused)) size_t file_bytes(FILE *f, unsigned char *buf, size_t cap)
{
    assert_int_equal(lseek(fileno(f), 0, SEEK_SET), 0);
    ssize_t n = read(fileno(f), buf, cap);
    assert_true(n >= 0);
    return (size_t)n;
}

/* Read a whole stream from fd into a text summary:
 * "v2 f=a t=b p=0 s=100 | w0+3:abc z4+2 | e". piece: payload read size (0: whole). */
static __attribute__((unused)) int summarize(int fd, char *out, size_t cap, size_t piece)
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

static __attribute__((unused)) int summarize_bytes(const bytes *s, char *out, size_t cap)
{
    FILE *f = file_of(s->b, s->n);
    int rc = summarize(fileno(f), out, cap, 0);
    fclose(f);
    return rc;
}

/* The stream must be rejected with rc, and the error text must contain `text`. */
static __attribute__((unused)) void expect_bad(const bytes *s, int rc, const char *text)
{
    char out[8192];
    int got = summarize_bytes(s, out, sizeof(out));
    if (got != rc || strstr(rbdio_last_error(), text) == NULL) {
        print_error("got %d '%s', expected %d and '%s'\n", got, rbdio_last_error(), rc, text);
        fail();
    }
}

static __attribute__((unused)) void header(bytes *s, int v)
{
    s->n = 0;
    put_str(s, v == 1 ? "rbd diff v1\n" : "rbd diff v2\n");
}

/* A small valid stream of either version (from, to, size 100, w, z, e). */
static __attribute__((unused)) void tiny(bytes *s, int v)
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

static __attribute__((unused)) rbdio_ds_header hdr(int v, const char *from, const char *to,
                                                   int has_size, uint64_t sz)
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

#endif
