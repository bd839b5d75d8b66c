/* diffstream.c - the `rbd export-diff` stream codec (v1 and v2): pure I/O on an fd. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rbdio/rbdio_internal.h"

#define DS_BANNER_V1 "rbd diff v1\n"
#define DS_BANNER_V2 "rbd diff v2\n"
#define DS_BANNER_LEN 12

/* Record tags (src/tools/rbd/Utils.h). */
#define TAG_FROM 'f'
#define TAG_TO 't'
#define TAG_PROTECT 'p'
#define TAG_SIZE 's'
#define TAG_WRITE 'w'
#define TAG_ZERO 'z'
#define TAG_END 'e'

#define DS_PREFIX "export-diff stream"

struct rbdio_ds_reader {
    int fd;
    rbdio_ds_header h;
    uint64_t pos;            /* bytes consumed */
    uint64_t rec_pos;        /* where the current record started (its tag) */
    int rec_tag;
    uint64_t left;           /* unread payload of the current 'w' */
    int data_seen;           /* a data record was met: no more metadata */
    int ended;               /* 'e' was read */
    int pending;             /* a data record (or 'e') read by open, not yet returned */
    int p_kind;
    uint64_t p_off, p_len;
    int failed;              /* sticky: the rc of the first failure */
    char err[512];
};

struct rbdio_ds_writer {
    int fd;
    int version;
    int has_size;
    uint64_t size;
    uint64_t left;           /* payload of the current 'w' still to be written */
    int failed;
};

static uint32_t get_le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get_le64(const unsigned char *p)
{
    return (uint64_t)get_le32(p) | (uint64_t)get_le32(p + 4) << 32;
}

static unsigned char *put_le32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
    return p + 4;
}

static unsigned char *put_le64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
    return p + 8;
}

/* A printable form of a tag byte for messages: "'w'" or "0x07". */
static const char *tag_text(int tag, char *buf, size_t len)
{
    if (tag > 0x20 && tag < 0x7f)
        snprintf(buf, len, "'%c'", tag);
    else
        snprintf(buf, len, "0x%02x", (unsigned)tag & 0xffu);
    return buf;
}

/* ---- reader ---- */

/* Record a malformed-stream failure (sticky) and return rc. */
static int rd_bad(rbdio_ds_reader *r, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int rd_bad(rbdio_ds_reader *r, int rc, const char *fmt, ...)
{
    char what[400];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    if (rc == -EINVAL)
        rbdio_errorf(DS_PREFIX ": %s", what);
    else
        rbdio_fail(rc, DS_PREFIX ": %s", what);
    snprintf(r->err, sizeof(r->err), "%s", rbdio_last_error());
    r->failed = rc;
    return rc;
}

/* A handle that failed before keeps failing with the same text. */
static int rd_check(rbdio_ds_reader *r)
{
    if (r->failed)
        rbdio_errorf("%s", r->err);
    return r->failed;
}

/* Read up to n bytes; returns the count (less than n only at end of input) or -errno. */
static ssize_t read_some(int fd, void *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t k = read(fd, (char *)buf + got, n - got);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return -errno;
        if (k == 0)
            break;
        got += (size_t)k;
    }
    return (ssize_t)got;
}

/* Read exactly n bytes of `what`; end of input is a truncated stream. */
static int rd_exact(rbdio_ds_reader *r, void *buf, size_t n, const char *what)
{
    char tb[16];
    ssize_t got = read_some(r->fd, buf, n);
    if (got < 0)
        return rd_bad(r, (int)got, "reading %s at byte %" PRIu64, what, r->pos);
    r->pos += (uint64_t)got;
    if ((size_t)got < n) {
        if (r->rec_tag < 0)
            return rd_bad(r, -EINVAL, "truncated: end of input at byte %" PRIu64
                          " inside %s", r->pos, what);
        return rd_bad(r, -EINVAL, "truncated: end of input at byte %" PRIu64 " inside %s"
                      " of the %s record at byte %" PRIu64, r->pos, what,
                      tag_text(r->rec_tag, tb, sizeof(tb)), r->rec_pos);
    }
    return 0;
}

/* Discard n bytes (an unknown v2 record, or an unread payload), in bounded pieces. */
static int rd_skip(rbdio_ds_reader *r, uint64_t n, const char *what)
{
    unsigned char buf[4096];
    while (n > 0) {
        size_t k = n < sizeof(buf) ? (size_t)n : sizeof(buf);
        int rc = rd_exact(r, buf, k, what);
        if (rc < 0)
            return rc;
        n -= k;
    }
    return 0;
}

/* In v2, the record length must be what the fields make. */
static int rd_len_check(rbdio_ds_reader *r, uint64_t rlen, uint64_t want)
{
    char tb[16];
    if (r->h.version == 2 && rlen != want)
        return rd_bad(r, -EINVAL, "the %s record at byte %" PRIu64 " has length %" PRIu64
                      ", its fields make %" PRIu64, tag_text(r->rec_tag, tb, sizeof(tb)),
                      r->rec_pos, rlen, want);
    return 0;
}

static int rd_meta_allowed(rbdio_ds_reader *r, int seen)
{
    char tb[16];
    if (r->data_seen)
        return rd_bad(r, -EINVAL, "metadata record %s at byte %" PRIu64
                      " after data records", tag_text(r->rec_tag, tb, sizeof(tb)),
                      r->rec_pos);
    if (seen)
        return rd_bad(r, -EINVAL, "second %s record at byte %" PRIu64,
                      tag_text(r->rec_tag, tb, sizeof(tb)), r->rec_pos);
    return 0;
}

/* 'f' or 't': le32 length, then the name (no NUL inside). */
static int rd_name(rbdio_ds_reader *r, uint64_t rlen, char *name)
{
    unsigned char b[4];
    int rc = rd_exact(r, b, 4, "the name length");
    if (rc < 0)
        return rc;
    uint32_t n = get_le32(b);
    if (n > RBDIO_DS_NAME_MAX)
        return rd_bad(r, -EINVAL, "snapshot name of %" PRIu32 " bytes (at most %d) in the"
                      " record at byte %" PRIu64, n, RBDIO_DS_NAME_MAX, r->rec_pos);
    if ((rc = rd_len_check(r, rlen, 4 + (uint64_t)n)) < 0)
        return rc;
    if ((rc = rd_exact(r, name, n, "the snapshot name")) < 0)
        return rc;
    name[n] = '\0';
    if (strlen(name) != n)
        return rd_bad(r, -EINVAL, "snapshot name with a NUL byte in the record at byte %"
                      PRIu64, r->rec_pos);
    if (n == 0)
        return rd_bad(r, -EINVAL, "empty snapshot name in the record at byte %" PRIu64,
                      r->rec_pos);
    return 0;
}

/* 'w' or 'z': le64 offset, le64 length; checked against overflow and the size. */
static int rd_extent(rbdio_ds_reader *r, uint64_t rlen, uint64_t *off, uint64_t *len)
{
    unsigned char b[16];
    char tb[16];
    int rc = rd_exact(r, b, 16, "the extent");
    if (rc < 0)
        return rc;
    *off = get_le64(b);
    *len = get_le64(b + 8);
    if (*len > UINT64_MAX - *off)
        return rd_bad(r, -EINVAL, "the %s record at byte %" PRIu64 " overflows: offset %"
                      PRIu64 " + length %" PRIu64, tag_text(r->rec_tag, tb, sizeof(tb)),
                      r->rec_pos, *off, *len);
    if (r->h.has_size && *off + *len > r->h.size)
        return rd_bad(r, -EINVAL, "the %s record at byte %" PRIu64 " ends at %" PRIu64
                      ", past the image size %" PRIu64, tag_text(r->rec_tag, tb, sizeof(tb)),
                      r->rec_pos, *off + *len, r->h.size);
    if (r->rec_tag == TAG_WRITE) {
        if (*len > UINT64_MAX - 16)
            return rd_bad(r, -EINVAL, "the 'w' record at byte %" PRIu64 " overflows: data"
                          " length %" PRIu64, r->rec_pos, *len);
        return rd_len_check(r, rlen, 16 + *len);
    }
    return rd_len_check(r, rlen, 16);
}

/* Read records until a data record or 'e'; metadata records fill r->h. */
static int rd_record(rbdio_ds_reader *r, int *kind, uint64_t *off, uint64_t *len)
{
    unsigned char b[8];
    char tb[16];
    int rc;

    for (;;) {
        uint64_t rlen = 0;
        r->rec_pos = r->pos;
        r->rec_tag = -1;
        ssize_t got = read_some(r->fd, b, 1);
        if (got < 0)
            return rd_bad(r, (int)got, "reading a record tag at byte %" PRIu64, r->pos);
        if (got == 0)
            return rd_bad(r, -EINVAL, "truncated: end of input at byte %" PRIu64
                          " before the end record 'e'", r->pos);
        r->pos++;
        r->rec_tag = b[0];
        if (r->rec_tag == TAG_END) {
            r->ended = 1;
            *kind = RBDIO_DS_END;
            *off = *len = 0;
            return 0;
        }
        if (r->h.version == 2) {
            if ((rc = rd_exact(r, b, 8, "the record length")) < 0)
                return rc;
            rlen = get_le64(b);
        }
        switch (r->rec_tag) {
        case TAG_FROM:
            if ((rc = rd_meta_allowed(r, r->h.has_from)) < 0 ||
                (rc = rd_name(r, rlen, r->h.from_snap)) < 0)
                return rc;
            r->h.has_from = 1;
            break;
        case TAG_TO:
            if ((rc = rd_meta_allowed(r, r->h.has_to)) < 0 ||
                (rc = rd_name(r, rlen, r->h.to_snap)) < 0)
                return rc;
            r->h.has_to = 1;
            break;
        case TAG_SIZE:
            if ((rc = rd_meta_allowed(r, r->h.has_size)) < 0 ||
                (rc = rd_len_check(r, rlen, 8)) < 0 ||
                (rc = rd_exact(r, b, 8, "the image size")) < 0)
                return rc;
            r->h.size = get_le64(b);
            r->h.has_size = 1;
            break;
        case TAG_WRITE:
        case TAG_ZERO:
            if ((rc = rd_extent(r, rlen, off, len)) < 0)
                return rc;
            r->data_seen = 1;
            *kind = r->rec_tag == TAG_WRITE ? RBDIO_DS_WRITE : RBDIO_DS_ZERO;
            r->left = r->rec_tag == TAG_WRITE ? *len : 0;
            return 0;
        default:
            if (r->rec_tag == TAG_PROTECT && r->h.version == 2) {
                /* rbd before the fix of Ceph tracker 53243 (still in 16.2.15) writes
                 * length 8 for this 1-byte payload; its importer reads 1 byte whatever
                 * the length says, so we accept both. */
                if ((rc = rd_meta_allowed(r, r->h.has_protected)) < 0 ||
                    (rlen != 8 && (rc = rd_len_check(r, rlen, 1)) < 0) ||
                    (rc = rd_exact(r, b, 1, "the protection status")) < 0)
                    return rc;
                if (b[0] > 1)
                    return rd_bad(r, -EINVAL, "protection status %u (not 0 or 1) in the 'p'"
                                  " record at byte %" PRIu64, b[0], r->rec_pos);
                r->h.is_protected = b[0];
                r->h.has_protected = 1;
                break;
            }
            if (r->h.version == 1)
                return rd_bad(r, -EINVAL, "unknown record tag %s at byte %" PRIu64,
                              tag_text(r->rec_tag, tb, sizeof(tb)), r->rec_pos);
            /* v2: skip what we do not know, by its length, as rbd does. */
            if ((rc = rd_skip(r, rlen, "an unknown record")) < 0)
                return rc;
            break;
        }
    }
}

int rbdio_ds_open(int fd, rbdio_ds_reader **out)
{
    char banner[DS_BANNER_LEN];
    rbdio_ds_reader *r;
    int rc;

    *out = NULL;
    r = calloc(1, sizeof(*r));
    if (r == NULL)
        return rbdio_fail(-ENOMEM, DS_PREFIX);
    r->fd = fd;
    r->rec_tag = -1;
    rc = rd_exact(r, banner, sizeof(banner), "the banner");
    if (rc == 0) {
        if (memcmp(banner, DS_BANNER_V1, DS_BANNER_LEN) == 0) {
            r->h.version = 1;
        } else if (memcmp(banner, DS_BANNER_V2, DS_BANNER_LEN) == 0) {
            r->h.version = 2;
        } else {
            rc = rd_bad(r, -EINVAL, "not an export-diff stream: the banner at byte 0 is"
                        " neither \"rbd diff v1\\n\" nor \"rbd diff v2\\n\"");
        }
    }
    if (rc == 0)
        rc = rd_record(r, &r->p_kind, &r->p_off, &r->p_len);
    if (rc < 0) {
        free(r);
        return rc;
    }
    r->pending = 1;
    *out = r;
    return 0;
}

const rbdio_ds_header *rbdio_ds_header_get(const rbdio_ds_reader *r)
{
    return &r->h;
}

int rbdio_ds_next(rbdio_ds_reader *r, int *kind, uint64_t *off, uint64_t *len)
{
    int rc;

    *kind = RBDIO_DS_END;
    *off = *len = 0;
    if ((rc = rd_check(r)) < 0)
        return rc;
    if (r->pending) {
        r->pending = 0;
        *kind = r->p_kind;
        *off = r->p_off;
        *len = r->p_len;
        return 0;
    }
    if (r->ended)
        return 0;
    if (r->left > 0) {
        if ((rc = rd_skip(r, r->left, "the data")) < 0)
            return rc;
        r->left = 0;
    }
    return rd_record(r, kind, off, len);
}

int rbdio_ds_read(rbdio_ds_reader *r, void *buf, size_t n)
{
    int rc;

    if ((rc = rd_check(r)) < 0)
        return rc;
    if (r->pending || (uint64_t)n > r->left)
        return rbdio_fail(-EINVAL, DS_PREFIX ": read of %zu bytes, %" PRIu64 " left in the"
                          " current write record", n, r->pending ? 0 : r->left);
    if ((rc = rd_exact(r, buf, n, "the data")) < 0)
        return rc;
    r->left -= n;
    return 0;
}

int rbdio_ds_expect_eof(rbdio_ds_reader *r)
{
    unsigned char b;
    int rc;

    if ((rc = rd_check(r)) < 0)
        return rc;
    if (!r->ended || r->pending)
        return rbdio_fail(-EINVAL, DS_PREFIX ": the end record has not been read yet");
    ssize_t got = read_some(r->fd, &b, 1);
    if (got < 0)
        return rd_bad(r, (int)got, "reading after the end record at byte %" PRIu64, r->pos);
    if (got > 0)
        return rd_bad(r, -EINVAL, "data after the end record: byte %" PRIu64 " is 0x%02x",
                      r->pos, b);
    return 0;
}

uint64_t rbdio_ds_offset(const rbdio_ds_reader *r)
{
    return r->pos;
}

void rbdio_ds_close(rbdio_ds_reader *r)
{
    free(r);
}

/* ---- writer ---- */

static int wr_all(rbdio_ds_writer *w, const void *buf, size_t n)
{
    const char *p = buf;
    while (n > 0) {
        ssize_t k = write(w->fd, p, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            w->failed = k < 0 ? -errno : -EIO;
            return rbdio_fail(w->failed, DS_PREFIX ": writing");
        }
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

/* A record header: the tag, in v2 the payload length, then `nfields` bytes. */
static int wr_record(rbdio_ds_writer *w, int tag, uint64_t plen, const unsigned char *fields,
                     size_t nfields)
{
    unsigned char buf[1 + 8 + 16];
    unsigned char *p = buf;

    *p++ = (unsigned char)tag;
    if (w->version == 2 && tag != TAG_END)
        p = put_le64(p, plen);
    if (nfields > 0)
        memcpy(p, fields, nfields);
    return wr_all(w, buf, (size_t)(p - buf) + nfields);
}

static int wr_name(rbdio_ds_writer *w, int tag, const char *name)
{
    unsigned char b[4];
    size_t n = strlen(name);
    int rc;

    put_le32(b, (uint32_t)n);
    if ((rc = wr_record(w, tag, 4 + (uint64_t)n, b, 4)) < 0)
        return rc;
    return wr_all(w, name, n);
}

static int wr_check(rbdio_ds_writer *w, const char *what)
{
    if (w->failed)
        return rbdio_fail(w->failed, DS_PREFIX ": %s after a failed write", what);
    if (w->left > 0)
        return rbdio_fail(-EINVAL, DS_PREFIX ": %s with %" PRIu64 " bytes of the current"
                          " write record not written", what, w->left);
    return 0;
}

static int wr_extent(rbdio_ds_writer *w, int tag, uint64_t off, uint64_t len)
{
    unsigned char f[16];
    int rc;

    if ((rc = wr_check(w, tag == TAG_WRITE ? "a write record" : "a zero record")) < 0)
        return rc;
    if (len > UINT64_MAX - off || (tag == TAG_WRITE && len > UINT64_MAX - 16))
        return rbdio_fail(-EINVAL, DS_PREFIX ": extent %" PRIu64 "+%" PRIu64 " overflows",
                          off, len);
    if (w->has_size && off + len > w->size)
        return rbdio_fail(-EINVAL, DS_PREFIX ": extent %" PRIu64 "+%" PRIu64 " passes the"
                          " image size %" PRIu64, off, len, w->size);
    put_le64(f, off);
    put_le64(f + 8, len);
    return wr_record(w, tag, tag == TAG_WRITE ? 16 + len : 16, f, sizeof(f));
}

int rbdio_ds_writer_new(int fd, const rbdio_ds_header *h, rbdio_ds_writer **out)
{
    rbdio_ds_writer *w;
    unsigned char b[8];
    int rc = 0;

    *out = NULL;
    if (h->version != 1 && h->version != 2)
        return rbdio_fail(-EINVAL, DS_PREFIX ": version %d (1 or 2)", h->version);
    if ((h->has_from && (h->from_snap[0] == '\0' ||
                         strlen(h->from_snap) > RBDIO_DS_NAME_MAX)) ||
        (h->has_to && (h->to_snap[0] == '\0' || strlen(h->to_snap) > RBDIO_DS_NAME_MAX)))
        return rbdio_fail(-EINVAL, DS_PREFIX ": snapshot name empty or over %d bytes",
                          RBDIO_DS_NAME_MAX);
    w = calloc(1, sizeof(*w));
    if (w == NULL)
        return rbdio_fail(-ENOMEM, DS_PREFIX);
    w->fd = fd;
    w->version = h->version;
    w->has_size = h->has_size;
    w->size = h->size;
    rc = wr_all(w, h->version == 1 ? DS_BANNER_V1 : DS_BANNER_V2, DS_BANNER_LEN);
    if (rc == 0 && h->has_from)
        rc = wr_name(w, TAG_FROM, h->from_snap);
    if (rc == 0 && h->has_to)
        rc = wr_name(w, TAG_TO, h->to_snap);
    if (rc == 0 && h->has_protected && h->version == 2) {
        b[0] = h->is_protected ? 1 : 0;
        rc = wr_record(w, TAG_PROTECT, 1, b, 1);
    }
    if (rc == 0 && h->has_size) {
        put_le64(b, h->size);
        rc = wr_record(w, TAG_SIZE, 8, b, 8);
    }
    if (rc < 0) {
        free(w);
        return rc;
    }
    *out = w;
    return 0;
}

int rbdio_ds_write_begin(rbdio_ds_writer *w, uint64_t off, uint64_t len)
{
    int rc = wr_extent(w, TAG_WRITE, off, len);
    if (rc == 0)
        w->left = len;
    return rc;
}

int rbdio_ds_write_data(rbdio_ds_writer *w, const void *data, size_t n)
{
    int rc;

    if (w->failed)
        return rbdio_fail(w->failed, DS_PREFIX ": data after a failed write");
    if ((uint64_t)n > w->left)
        return rbdio_fail(-EINVAL, DS_PREFIX ": %zu bytes of data, %" PRIu64 " left in the"
                          " current write record", n, w->left);
    if ((rc = wr_all(w, data, n)) < 0)
        return rc;
    w->left -= n;
    return 0;
}

int rbdio_ds_write(rbdio_ds_writer *w, uint64_t off, uint64_t len, const void *data)
{
    int rc;

    if (len > SIZE_MAX)
        return rbdio_fail(-EINVAL, DS_PREFIX ": write record of %" PRIu64 " bytes", len);
    if ((rc = rbdio_ds_write_begin(w, off, len)) < 0)
        return rc;
    return rbdio_ds_write_data(w, data, (size_t)len);
}

int rbdio_ds_zero(rbdio_ds_writer *w, uint64_t off, uint64_t len)
{
    return wr_extent(w, TAG_ZERO, off, len);
}

int rbdio_ds_finish(rbdio_ds_writer *w)
{
    int rc = wr_check(w, "the end record");
    if (rc == 0)
        rc = wr_record(w, TAG_END, 0, NULL, 0);
    free(w);
    return rc;
}

void rbdio_ds_writer_free(rbdio_ds_writer *w)
{
    free(w);
}
