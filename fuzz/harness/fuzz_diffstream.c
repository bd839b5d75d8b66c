/* fuzz_diffstream.c - libFuzzer harness: the export-diff stream reader (rbdio/diffstream.c).
 * Input: a stream. Round trip: a stream the reader accepts is written again with the
 * project's writer and read back: same header, same records, same payload bytes. */
#include "fuzz/harness/fuzz_util.h"
#include "rbdio/rbdio.h"

#include <errno.h>

#define MAX_RECS 4096

typedef struct ds_rec {
    int kind;
    uint64_t off, len;
    size_t data;            /* offset of the payload in the parsed data buffer */
} ds_rec;

typedef struct parsed {
    rbdio_ds_header h;
    ds_rec recs[MAX_RECS];
    size_t n;
    uint8_t *data;          /* all payloads, one after the other */
    size_t dlen;
    int eof_ok;             /* rbdio_ds_expect_eof() result */
} parsed;

/* Read a WRITE record's payload into p->data. 0 or negative. */
static int read_payload(rbdio_ds_reader *r, parsed *p, uint64_t len)
{
    uint8_t buf[4096];
    while (len > 0) {
        size_t k = len < sizeof(buf) ? (size_t)len : sizeof(buf);
        int rc = rbdio_ds_read(r, buf, k);
        if (rc < 0)
            return rc;
        uint8_t *d = realloc(p->data, p->dlen + k);
        if (d == NULL)
            abort();
        memcpy(d + p->dlen, buf, k);
        p->data = d;
        p->dlen += k;
        len -= k;
    }
    return 0;
}

/* Parse the whole stream of fd into p. 0 if it ended with 'e', else negative (-E2BIG:
 * more than MAX_RECS records). */
static int parse(int fd, parsed *p)
{
    rbdio_ds_reader *r = NULL;
    int rc = rbdio_ds_open(fd, &r);
    if (rc < 0)
        return rc;
    p->h = *rbdio_ds_header_get(r);
    for (;;) {
        int kind;
        uint64_t off, len;
        if ((rc = rbdio_ds_next(r, &kind, &off, &len)) < 0)
            break;
        if (kind == RBDIO_DS_END) {
            p->eof_ok = rbdio_ds_expect_eof(r);
            break;
        }
        if (p->n == MAX_RECS) {
            rc = -E2BIG;        /* a long stream: parsed, but not compared */
            break;
        }
        p->recs[p->n] = (ds_rec){ kind, off, len, p->dlen };
        p->n++;
        /* read the payload of every other record only: the rest is skipped */
        if (kind == RBDIO_DS_WRITE && (rc = read_payload(r, p, len)) < 0)
            break;
    }
    /* the header may only be completed by the metadata records, all before data */
    FUZZ_CHECK(rc < 0 || memcmp(&p->h, rbdio_ds_header_get(r), sizeof(p->h)) == 0,
               "header changed after the first data record");
    rbdio_ds_close(r);
    return rc;
}

/* Write p with the project's writer into a new memfd. */
static int write_again(const parsed *p)
{
    int fd = fz_memfd("", 0);
    rbdio_ds_writer *w = NULL;
    FUZZ_CHECK(fd >= 0, "memfd");
    int rc = rbdio_ds_writer_new(fd, &p->h, &w);
    FUZZ_CHECK(rc == 0, "writer refuses a header the reader accepted: %d", rc);
    for (size_t i = 0; i < p->n; i++) {
        const ds_rec *d = &p->recs[i];
        rc = d->kind == RBDIO_DS_ZERO ? rbdio_ds_zero(w, d->off, d->len)
             : rbdio_ds_write(w, d->off, d->len, d->len ? (const void *)(p->data + d->data) : "");
        FUZZ_CHECK(rc == 0, "writer refuses record %zu the reader accepted: %d", i, rc);
    }
    FUZZ_CHECK(rbdio_ds_finish(w) == 0, "finish");
    FUZZ_CHECK(lseek(fd, 0, SEEK_SET) == 0, "lseek");
    return fd;
}

static int same_header(const rbdio_ds_header *a, const rbdio_ds_header *b)
{
    return a->version == b->version && a->has_from == b->has_from &&
           (!a->has_from || strcmp(a->from_snap, b->from_snap) == 0) &&
           a->has_to == b->has_to && (!a->has_to || strcmp(a->to_snap, b->to_snap) == 0) &&
           a->has_size == b->has_size && (!a->has_size || a->size == b->size) &&
           (a->version == 1 || (a->has_protected == b->has_protected &&
                                (!a->has_protected || a->is_protected == b->is_protected)));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static parsed a, b;
    int fd = fz_memfd(data, size);
    if (fd < 0)
        return 0;
    memset(&a, 0, sizeof(a));
    int rc = parse(fd, &a);
    close(fd);
    if (rc == 0) {
        int fd2 = write_again(&a);
        memset(&b, 0, sizeof(b));
        rc = parse(fd2, &b);
        close(fd2);
        FUZZ_CHECK(rc == 0, "the rewritten stream does not parse: %s", rbdio_last_error());
        FUZZ_CHECK(b.eof_ok == 0, "the rewritten stream has bytes after 'e'");
        FUZZ_CHECK(same_header(&a.h, &b.h), "header differs after the round trip");
        FUZZ_CHECK(a.n == b.n, "%zu records, %zu after the round trip", a.n, b.n);
        for (size_t i = 0; i < a.n; i++)
            FUZZ_CHECK(a.recs[i].kind == b.recs[i].kind && a.recs[i].off == b.recs[i].off &&
                       a.recs[i].len == b.recs[i].len, "record %zu differs", i);
        FUZZ_CHECK(a.dlen == b.dlen && (a.dlen == 0 || memcmp(a.data, b.data, a.dlen) == 0),
                   "payload bytes differ after the round trip");
        free(b.data);
    }
    free(a.data);
    return 0;
}
