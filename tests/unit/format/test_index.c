/* test_index.c - unit tests of the chunk index codec: round trips, rejects, the v2 layout. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <lz4.h>
#include <lz4frame.h>

#include "agent/format/index.h"

static void make_rec(uint64_t i, index_rec *r)
{
    memset(r, 0, sizeof(*r));
    r->offset = i * 4194304 + (i % 3);  /* gaps between records */
    r->length = 1048576 + (i % 7);
    if (i % 5 == 0) {
        r->flags = INDEX_FLAG_ZERO;
        return;
    }
    r->obj = (uint32_t)(i / 1000);
    r->obj_offset = i * 700000 + 0x100000000ULL;
    r->stored_length = (uint32_t)(i * 97 + 1);
    if (i % 11 == 0) {
        r->flags = INDEX_FLAG_RAW;
        r->stored_length = (uint32_t)r->length;
    }
    if (i % 3 == 0)
        r->flags |= INDEX_FLAG_XXH3;  /* XXH3-128: 16 bytes, the rest stays zero */
    for (int k = 0; k < (r->flags & INDEX_FLAG_XXH3 ? 16 : 32); k++)
        r->digest[k] = (uint8_t)(i * 31 + (uint64_t)k * 7);
}

static void assert_rec_equal(const index_rec *a, const index_rec *b)
{
    assert_true(a->offset == b->offset);
    assert_true(a->length == b->length);
    assert_int_equal(a->obj, b->obj);
    assert_int_equal(a->flags, b->flags);
    assert_true(a->obj_offset == b->obj_offset);
    assert_int_equal(a->stored_length, b->stored_length);
    assert_memory_equal(a->digest, b->digest, DIGEST_LEN);
}

/* An index of n records from make_rec(); the caller frees *out. */
static void build_index(uint64_t n, unsigned char **out, size_t *len)
{
    index_writer *w;
    index_rec r;
    const unsigned char *data;
    assert_int_equal(index_writer_new(&w), 0);
    for (uint64_t i = 0; i < n; i++) {
        make_rec(i, &r);
        assert_int_equal(index_writer_add(w, &r), 0);
    }
    assert_true(index_writer_count(w) == n);
    assert_int_equal(index_writer_finish(w, &data, len), 0);
    *out = malloc(*len);
    assert_non_null(*out);
    memcpy(*out, data, *len);
    index_writer_free(w);
}

/* Read all records of r (made with rc); returns the count, or the negative error. */
static long read_reader(index_reader *r, int rc, int check)
{
    index_rec got, want;
    long n = 0;
    if (rc < 0)
        return rc;
    while ((rc = index_reader_next(r, &got)) == 1) {
        if (check) {
            make_rec((uint64_t)n, &want);
            assert_rec_equal(&got, &want);
        }
        n++;
    }
    /* errors and the end are sticky */
    assert_int_equal(index_reader_next(r, &got), rc);
    index_reader_free(r);
    return rc < 0 ? rc : n;
}

/* Read all records of data[0..len). */
static long read_all(const unsigned char *data, size_t len, int check)
{
    index_reader *r = NULL;
    int rc = index_reader_new(data, len, &r);
    return read_reader(r, rc, check);
}

static void test_index_round_trip(void **state)
{
    unsigned char *data;
    size_t len;
    build_index(10000, &data, &len);
    assert_true(len < 10000 * INDEX_REC_SIZE);
    assert_int_equal(read_all(data, len, 1), 10000);

    index_rec *recs;
    size_t n;
    assert_int_equal(index_load(data, len, &recs, &n), 0);
    assert_int_equal(n, 10000);
    for (size_t i = 0; i < n; i++) {
        index_rec want;
        make_rec(i, &want);
        assert_rec_equal(&recs[i], &want);
    }
    free(recs);
    free(data);
}

static void test_index_empty(void **state)
{
    unsigned char *data;
    size_t len;
    build_index(0, &data, &len);
    assert_int_equal(read_all(data, len, 1), 0);
    index_rec *recs = (index_rec *)1;
    size_t n = 99;
    assert_int_equal(index_load(data, len, &recs, &n), 0);
    assert_int_equal(n, 0);
    assert_null(recs);
    free(data);
}

static void test_index_writer_rejects(void **state)
{
    index_writer *w;
    index_rec r;
    const unsigned char *data;
    size_t len;
    assert_int_equal(index_writer_new(&w), 0);
    make_rec(1, &r);
    assert_int_equal(index_writer_add(w, &r), 0);
    /* overlapping, then same offset, then before */
    index_rec bad = r;
    bad.offset = r.offset + r.length - 1;
    assert_int_equal(index_writer_add(w, &bad), -EINVAL);
    bad.offset = r.offset;
    assert_int_equal(index_writer_add(w, &bad), -EINVAL);
    bad.offset = 0;
    assert_int_equal(index_writer_add(w, &bad), -EINVAL);
    /* malformed */
    bad = r;
    bad.offset = r.offset + r.length;
    bad.length = 0;
    assert_int_equal(index_writer_add(w, &bad), -EINVAL);
    bad.length = 10;
    bad.flags = 16;                     /* unknown */
    assert_int_equal(index_writer_add(w, &bad), -EINVAL);
    bad.flags = INDEX_FLAG_ZERO;        /* with pack fields set */
    assert_int_equal(index_writer_add(w, &bad), -EINVAL);
    index_rec z = bad;                  /* a clean zero record, but with a digest kind */
    z.obj = 0;
    z.obj_offset = 0;
    z.stored_length = 0;
    memset(z.digest, 0, sizeof(z.digest));
    z.flags = INDEX_FLAG_ZERO | INDEX_FLAG_XXH3;
    assert_int_equal(index_writer_add(w, &z), -EINVAL);
    bad.flags = INDEX_FLAG_XXH3;        /* XXH3-128 with bytes past its 16 */
    memset(bad.digest, 0x5a, sizeof(bad.digest));
    assert_int_equal(index_writer_add(w, &bad), -EINVAL);
    bad.flags = INDEX_FLAG_RAW;         /* stored_length != length */
    assert_int_equal(index_writer_add(w, &bad), -EINVAL);
    bad.offset = UINT64_MAX - 5;        /* wraps */
    bad.flags = 0;
    assert_int_equal(index_writer_add(w, &bad), -EINVAL);
    /* adjacent is fine; the writer is still usable after rejections */
    make_rec(2, &r);
    assert_int_equal(index_writer_add(w, &r), 0);
    assert_true(index_writer_count(w) == 2);
    assert_int_equal(index_writer_finish(w, &data, &len), 0);
    assert_int_equal(index_writer_add(w, &r), -EINVAL);     /* after finish */
    const unsigned char *again;
    size_t len2;
    assert_int_equal(index_writer_finish(w, &again, &len2), 0);
    assert_ptr_equal(again, data);
    assert_int_equal(len2, len);
    index_rec *recs;
    size_t n;
    assert_int_equal(index_load(data, len, &recs, &n), 0);
    assert_int_equal(n, 2);
    free(recs);
    index_writer_free(w);
}

/* Sealed records: SEAL_TAG_LEN more stored bytes than their plain bounds allow, never
 * zero; they round-trip, and a plain index still refuses the plain bounds plus a tag. */
static void test_index_sealed(void **state)
{
    (void)state;
    index_writer *w;
    index_rec r, got;
    const unsigned char *data;
    size_t len;
    assert_int_equal(index_writer_new(&w), 0);
    memset(&r, 0, sizeof(r));
    r.length = 65536;
    r.flags = INDEX_FLAG_RAW | INDEX_FLAG_SEALED;
    r.stored_length = 65536;                            /* no room for the tag */
    assert_int_equal(index_writer_add(w, &r), -EINVAL);
    r.stored_length = 65536 + 16;
    assert_int_equal(index_writer_add(w, &r), 0);
    index_rec c = r;                                    /* compressed: bound + tag */
    c.offset = 65536;
    c.flags = INDEX_FLAG_SEALED;
    c.stored_length = 16;                               /* only a tag */
    assert_int_equal(index_writer_add(w, &c), -EINVAL);
    c.stored_length = (uint32_t)LZ4_compressBound(65536) + 17;
    assert_int_equal(index_writer_add(w, &c), -EINVAL);
    c.stored_length--;
    assert_int_equal(index_writer_add(w, &c), 0);
    index_rec z;
    memset(&z, 0, sizeof(z));
    z.offset = 2 * 65536;
    z.length = 4096;
    z.flags = INDEX_FLAG_ZERO | INDEX_FLAG_SEALED;      /* a zero record stores nothing */
    assert_int_equal(index_writer_add(w, &z), -EINVAL);
    c.offset = 3 * 65536;                               /* plain: no tag allowance */
    c.flags = 0;
    assert_int_equal(index_writer_add(w, &c), -EINVAL);
    assert_int_equal(index_writer_finish(w, &data, &len), 0);
    index_reader *rd;
    assert_int_equal(index_reader_new(data, len, &rd), 0);
    assert_int_equal(index_reader_next(rd, &got), 1);
    assert_rec_equal(&got, &r);
    assert_int_equal(index_reader_next(rd, &got), 1);
    c.offset = 65536;
    c.flags = INDEX_FLAG_SEALED;
    assert_rec_equal(&got, &c);
    assert_int_equal(index_reader_next(rd, &got), 0);
    index_reader_free(rd);
    index_writer_free(w);
}

/* Collects what a sink writer sends, in pieces. */
typedef struct sink_buf {
    unsigned char *data;
    size_t len, calls;
    int fail_at;            /* the call (from 1) that fails, or 0 */
} sink_buf;

static int collect(void *arg, const unsigned char *data, size_t len)
{
    sink_buf *b = arg;
    assert_true(len > 0);
    if (++b->calls == (size_t)b->fail_at)
        return -EIO;
    b->data = realloc(b->data, b->len + len);
    assert_non_null(b->data);
    memcpy(b->data + b->len, data, len);
    b->len += len;
    return 0;
}

/* A sink writer sends the bytes of the in-memory one, in several pieces as it goes; a
 * failing sink fails the writer for good. */
static void test_index_sink(void **state)
{
    (void)state;
    const uint64_t n = 10000;      /* make_rec sizes stay valid below ~10800 */
    unsigned char *one;
    size_t onelen, len;
    const unsigned char *data;
    index_writer *w;
    index_rec r;
    sink_buf b = { NULL, 0, 0, 0 };
    build_index(n, &one, &onelen);
    assert_int_equal(index_writer_new_sink(collect, &b, &w), 0);
    for (uint64_t i = 0; i < n; i++) {
        make_rec(i, &r);
        assert_int_equal(index_writer_add(w, &r), 0);
        if (i == n / 2)
            assert_true(b.len > 0 && b.len < onelen / 2 + 70000);   /* on its way */
    }
    assert_int_equal(index_writer_finish(w, &data, &len), 0);
    assert_null(data);
    assert_int_equal(len, onelen);
    assert_int_equal(b.len, onelen);
    assert_true(b.calls > 3);
    assert_memory_equal(b.data, one, onelen);
    assert_int_equal(read_all(b.data, b.len, 1), (long)n);
    index_writer_free(w);
    free(b.data);
    sink_buf f = { NULL, 0, 0, 2 };
    assert_int_equal(index_writer_new_sink(collect, &f, &w), 0);
    int rc = 0;
    for (uint64_t i = 0; i < n && rc == 0; i++) {
        make_rec(i, &r);
        rc = index_writer_add(w, &r);
    }
    assert_int_equal(rc, -EIO);
    assert_int_equal(index_writer_add(w, &r), -EIO);
    assert_int_equal(index_writer_finish(w, &data, &len), -EIO);
    index_writer_free(w);
    free(f.data);
    free(one);
}

/* A frame given in pieces of step bytes, then nothing (or an error after `fail` bytes). */
typedef struct pieces {
    const unsigned char *data;
    size_t len, pos, step, fail;
} pieces;

static int give(void *arg, const unsigned char **data, size_t *len)
{
    pieces *p = arg;
    if (p->fail > 0 && p->pos >= p->fail)
        return -EIO;
    *data = p->data + p->pos;
    *len = p->len - p->pos < p->step ? p->len - p->pos : p->step;
    p->pos += *len;
    return 0;
}

/* Read through a source; the count, or the negative error. */
static long read_source(pieces *p)
{
    index_reader *r = NULL;
    int rc = index_reader_new_source(give, p, &r);
    return read_reader(r, rc, 1);
}

/* A reader fed piece by piece reads what a reader of the whole does, and refuses a
 * truncated frame, bytes after it, and passes the source's error on. */
static void test_index_source(void **state)
{
    (void)state;
    unsigned char *one, *more;
    size_t len;
    build_index(3000, &one, &len);
    static const size_t steps[] = { 1, 13, 4096, 70000, 1 << 20 };
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        pieces p = { one, len, 0, steps[i], 0 };
        assert_int_equal(read_source(&p), 3000);
        assert_int_equal(p.pos, len);
        pieces t = { one, len - 1 - i * 100, 0, steps[i], 0 };
        assert_int_equal(read_source(&t), -EINVAL);
    }
    more = malloc(len + 1);
    assert_non_null(more);
    memcpy(more, one, len);
    more[len] = 0;
    pieces x = { more, len + 1, 0, 4096, 0 };
    assert_int_equal(read_source(&x), -EINVAL);
    pieces f = { one, len, 0, 4096, 8192 };
    assert_int_equal(read_source(&f), -EIO);
    pieces h = { one, len, 0, 4096, 1 };
    assert_int_equal(read_source(&h), -EIO);
    free(more);
    free(one);
}

static void test_index_truncated(void **state)
{
    unsigned char *data;
    size_t len;
    build_index(3000, &data, &len);
    size_t cuts[] = { 0, 1, 4, 7, 11, 15, 30, len / 3, len / 2, len - 8, len - 5, len - 4,
                      len - 1 };
    for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
        assert_true(read_all(data, cuts[i], 0) < 0);
        index_rec *recs = NULL;
        size_t n = 0;
        assert_true(index_load(data, cuts[i], &recs, &n) < 0);
        assert_null(recs);
    }
    /* trailing bytes after the frame */
    unsigned char *longer = malloc(len + 1);
    assert_non_null(longer);
    memcpy(longer, data, len);
    longer[len] = 0;
    assert_true(read_all(longer, len + 1, 0) < 0);
    free(longer);
    free(data);
}

static void test_index_flipped(void **state)
{
    unsigned char *data;
    size_t len;
    build_index(200, &data, &len);
    /* every single-byte corruption is caught (header, block and content checksums) */
    for (size_t i = 0; i < len; i++) {
        data[i] ^= 0x10;
        assert_true(read_all(data, len, 0) < 0);
        data[i] ^= 0x10;
    }
    assert_int_equal(read_all(data, len, 1), 200);
    free(data);

    build_index(10000, &data, &len);
    data[len / 2] ^= 1;
    assert_true(read_all(data, len, 0) < 0);
    free(data);

    static const unsigned char junk[] = "not an lz4 frame at all";
    index_reader *r;
    assert_int_equal(index_reader_new(junk, sizeof(junk), &r), -EINVAL);
    assert_int_equal(index_reader_new(junk, 0, &r), -EINVAL);
}

/* A frame around raw content, for hand-made streams. */
static unsigned char *frame_of(const unsigned char *content, size_t n, size_t *len)
{
    LZ4F_preferences_t prefs;
    memset(&prefs, 0, sizeof(prefs));
    prefs.frameInfo.contentChecksumFlag = LZ4F_contentChecksumEnabled;
    size_t cap = LZ4F_compressFrameBound(n, &prefs);
    unsigned char *out = malloc(cap);
    assert_non_null(out);
    *len = LZ4F_compressFrame(out, cap, content, n, &prefs);
    assert_false(LZ4F_isError(*len));
    return out;
}

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

static void test_index_header_and_layout(void **state)
{
    unsigned char content[16 + 3 * INDEX_REC_SIZE];
    unsigned char *f;
    size_t len;
    index_reader *r;
    index_rec rec;

    memset(content, 0, sizeof(content));
    memcpy(content, "RBD2SIDX", 8);
    put32(content + 8, 1);
    put32(content + 12, INDEX_REC_SIZE);
    /* record 0: data at 0 (explicit byte layout) */
    unsigned char *p = content + 16;
    put64(p, 0);
    put64(p + 8, 4096);
    put32(p + 16, 3);
    put32(p + 20, 0);
    put64(p + 24, 0x123456789ULL);
    put32(p + 32, 1000);
    memset(p + 40, 0xab, 32);
    /* record 1: zero at 4096 */
    p += INDEX_REC_SIZE;
    put64(p, 4096);
    put64(p + 8, 1ULL << 40);
    put32(p + 20, INDEX_FLAG_ZERO);

    f = frame_of(content, 16 + 2 * INDEX_REC_SIZE, &len);
    assert_int_equal(index_reader_new(f, len, &r), 0);
    assert_int_equal(index_reader_next(r, &rec), 1);
    assert_true(rec.offset == 0 && rec.length == 4096 && rec.obj == 3 && rec.flags == 0);
    assert_true(rec.obj_offset == 0x123456789ULL && rec.stored_length == 1000);
    assert_int_equal(rec.digest[31], 0xab);
    assert_int_equal(index_rec_digest(&rec), DIGEST_SHA256);   /* version 1: SHA-256 */
    assert_int_equal(index_reader_next(r, &rec), 1);
    assert_true(rec.offset == 4096 && rec.length == (1ULL << 40));
    assert_int_equal(rec.flags, INDEX_FLAG_ZERO);
    assert_int_equal(index_reader_next(r, &rec), 0);
    index_reader_free(r);
    free(f);

    /* record 2 overlaps record 1: out of order */
    memcpy(content + 16 + 2 * INDEX_REC_SIZE, content + 16, INDEX_REC_SIZE);
    put64(content + 16 + 2 * INDEX_REC_SIZE, 8192);
    f = frame_of(content, sizeof(content), &len);
    assert_int_equal(read_all(f, len, 0), -EINVAL);
    free(f);

    /* a partial record at the end */
    f = frame_of(content, 16 + INDEX_REC_SIZE + 10, &len);
    assert_int_equal(read_all(f, len, 0), -EINVAL);
    free(f);

    /* the XXH3 flag: unknown to version 1, read from version 2 */
    put32(content + 16 + 20, INDEX_FLAG_XXH3);
    memset(content + 16 + 56, 0, 16);
    f = frame_of(content, 16 + INDEX_REC_SIZE, &len);
    assert_int_equal(read_all(f, len, 0), -EINVAL);
    free(f);
    put32(content + 8, 2);
    f = frame_of(content, 16 + INDEX_REC_SIZE, &len);
    assert_int_equal(index_reader_new(f, len, &r), 0);
    assert_int_equal(index_reader_next(r, &rec), 1);
    assert_int_equal(index_rec_digest(&rec), DIGEST_XXH3);
    assert_int_equal(rec.digest[15], 0xab);
    index_reader_free(r);
    free(f);
    put32(content + 8, 1);
    put32(content + 16 + 20, 0);
    memset(content + 16 + 56, 0xab, 16);

    /* reserved field not zero */
    put32(content + 16 + 36, 1);
    f = frame_of(content, 16 + INDEX_REC_SIZE, &len);
    assert_int_equal(read_all(f, len, 0), -EINVAL);
    free(f);
    put32(content + 16 + 36, 0);

    /* wrong magic, version, record size, short header */
    content[7] = 'Y';
    f = frame_of(content, 16, &len);
    assert_int_equal(index_reader_new(f, len, &r), -EINVAL);
    free(f);
    content[7] = 'X';
    put32(content + 8, 3);
    f = frame_of(content, 16, &len);
    assert_int_equal(index_reader_new(f, len, &r), -EINVAL);
    free(f);
    put32(content + 8, 0);
    f = frame_of(content, 16, &len);
    assert_int_equal(index_reader_new(f, len, &r), -EINVAL);
    free(f);
    put32(content + 8, 1);
    put32(content + 12, 64);
    f = frame_of(content, 16, &len);
    assert_int_equal(index_reader_new(f, len, &r), -EINVAL);
    free(f);
    put32(content + 12, INDEX_REC_SIZE);
    f = frame_of(content, 12, &len);
    assert_int_equal(index_reader_new(f, len, &r), -EINVAL);
    free(f);
    f = frame_of(content, 16, &len);
    assert_int_equal(read_all(f, len, 0), 0);
    free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_index_round_trip),
        cmocka_unit_test(test_index_empty),
        cmocka_unit_test(test_index_writer_rejects),
        cmocka_unit_test(test_index_sealed),
        cmocka_unit_test(test_index_sink),
        cmocka_unit_test(test_index_source),
        cmocka_unit_test(test_index_truncated),
        cmocka_unit_test(test_index_flipped),
        cmocka_unit_test(test_index_header_and_layout),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
