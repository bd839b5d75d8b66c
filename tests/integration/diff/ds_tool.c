/* ds_tool.c - test driver of the export-diff codec (tests/integration/diff/test_diffstream.sh).
 *
 * usage: ds_tool parse                   stream on stdin -> one line per record
 *        ds_tool recode 1|2 [-p 0|1]     stream on stdin -> the same in v1 or v2 on stdout
 *                                        (-p: add a v2 protection status record)
 *        ds_tool export2 parse           `rbd export --export-format 2` on stdin: the
 *                                        records of each embedded diff, after "diff N"
 *        ds_tool export2 recode 1|2      the same container on stdout, each diff re-encoded
 *        ds_tool export2 split DIR       DIR/header (the container's bytes before the
 *                                        first diff) and DIR/diff.N (each diff, as v2)
 * Lines: "version N", "from NAME", "to NAME", "protected N", "size N",
 * "w OFF LEN SHA256", "z OFF LEN", "end". Errors: one line on stderr, exit 1.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rbdio/rbdio.h"

#define PIECE (64 * 1024)

static unsigned char piece[PIECE];

static int die(const char *what)
{
    fprintf(stderr, "ds_tool: %s\n", what);
    return 1;
}

static int write_out(int fd, const void *buf, size_t n)
{
    const char *p = buf;
    while (n > 0) {
        ssize_t k = write(fd, p, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

static int read_in(int fd, void *buf, size_t n)
{
    char *p = buf;
    while (n > 0) {
        ssize_t k = read(fd, p, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

static void print_header(const rbdio_ds_header *h)
{
    printf("version %d\n", h->version);
    if (h->has_from)
        printf("from %s\n", h->from_snap);
    if (h->has_to)
        printf("to %s\n", h->to_snap);
    if (h->has_protected)
        printf("protected %d\n", h->is_protected);
    if (h->has_size)
        printf("size %" PRIu64 "\n", h->size);
}

/* Print the records of one stream on fd. The payload is read in pieces of varying
 * size (1 byte, then PIECE) so that partial reads are exercised. */
static int parse_one(int fd, int want_eof)
{
    rbdio_ds_reader *r;
    int kind;
    uint64_t off, len;

    if (rbdio_ds_open(fd, &r) < 0)
        return die(rbdio_last_error());
    print_header(rbdio_ds_header_get(r));
    for (;;) {
        if (rbdio_ds_next(r, &kind, &off, &len) < 0)
            goto fail;
        if (kind == RBDIO_DS_END)
            break;
        if (kind == RBDIO_DS_ZERO) {
            printf("z %" PRIu64 " %" PRIu64 "\n", off, len);
            continue;
        }
        EVP_MD_CTX *md = EVP_MD_CTX_new();
        unsigned char dg[EVP_MAX_MD_SIZE];
        unsigned int dlen = 0;
        EVP_DigestInit_ex(md, EVP_sha256(), NULL);
        for (uint64_t left = len, n = 1; left > 0; left -= n, n = PIECE) {
            if (n > left)
                n = left;
            if (rbdio_ds_read(r, piece, (size_t)n) < 0) {
                EVP_MD_CTX_free(md);
                goto fail;
            }
            EVP_DigestUpdate(md, piece, (size_t)n);
        }
        EVP_DigestFinal_ex(md, dg, &dlen);
        EVP_MD_CTX_free(md);
        printf("w %" PRIu64 " %" PRIu64 " ", off, len);
        for (unsigned int i = 0; i < dlen; i++)
            printf("%02x", dg[i]);
        printf("\n");
    }
    if (want_eof && rbdio_ds_expect_eof(r) < 0)
        goto fail;
    printf("end\n");
    rbdio_ds_close(r);
    return 0;
fail:
    fflush(stdout);
    rbdio_ds_close(r);
    return die(rbdio_last_error());
}

/* Re-encode one stream from in to out in version v (protect: -1 keep, 0/1 set 'p'). */
static int recode_one(int in, int out, int v, int protect, int want_eof)
{
    rbdio_ds_reader *r;
    rbdio_ds_writer *w = NULL;
    rbdio_ds_header h;
    int kind;
    uint64_t off, len;

    if (rbdio_ds_open(in, &r) < 0)
        return die(rbdio_last_error());
    h = *rbdio_ds_header_get(r);
    h.version = v;
    if (protect >= 0) {
        h.has_protected = 1;
        h.is_protected = protect;
    }
    if (rbdio_ds_writer_new(out, &h, &w) < 0)
        goto fail;
    for (;;) {
        if (rbdio_ds_next(r, &kind, &off, &len) < 0)
            goto fail;
        if (kind == RBDIO_DS_END)
            break;
        if (kind == RBDIO_DS_ZERO) {
            if (rbdio_ds_zero(w, off, len) < 0)
                goto fail;
            continue;
        }
        if (rbdio_ds_write_begin(w, off, len) < 0)
            goto fail;
        for (uint64_t left = len, n; left > 0; left -= n) {
            n = left < PIECE ? left : PIECE;
            if (rbdio_ds_read(r, piece, (size_t)n) < 0 ||
                rbdio_ds_write_data(w, piece, (size_t)n) < 0)
                goto fail;
        }
    }
    if (want_eof && rbdio_ds_expect_eof(r) < 0)
        goto fail;
    rbdio_ds_close(r);
    if (rbdio_ds_finish(w) < 0)
        return die(rbdio_last_error());
    return 0;
fail:
    rbdio_ds_writer_free(w);
    rbdio_ds_close(r);
    return die(rbdio_last_error());
}

/* The head of an `rbd export --export-format 2` file (src/tools/rbd/action/Export.cc):
 * "rbd image v2\n", records (tag, le64 length, payload) up to 'E', then
 * "rbd image diffs v2\n" and a le64 count of diffs. Copied to copy_fd if >= 0. */
static int export2_head(int in, int copy_fd, uint64_t *count)
{
    unsigned char b[64];

    if (read_in(in, b, 13) < 0 || memcmp(b, "rbd image v2\n", 13) != 0)
        return die("export2: no \"rbd image v2\" banner");
    if (copy_fd >= 0 && write_out(copy_fd, b, 13) < 0)
        return die("export2: write failed");
    for (;;) {
        if (read_in(in, b, 1) < 0)
            return die("export2: truncated image header");
        if (copy_fd >= 0 && write_out(copy_fd, b, 1) < 0)
            return die("export2: write failed");
        if (b[0] == 'E')
            break;
        if (read_in(in, b, 8) < 0)
            return die("export2: truncated image header");
        if (copy_fd >= 0 && write_out(copy_fd, b, 8) < 0)
            return die("export2: write failed");
        uint64_t n = 0;
        for (int i = 7; i >= 0; i--)
            n = n << 8 | b[i];
        while (n > 0) {
            size_t k = n < sizeof(b) ? (size_t)n : sizeof(b);
            if (read_in(in, b, k) < 0)
                return die("export2: truncated image header");
            if (copy_fd >= 0 && write_out(copy_fd, b, k) < 0)
                return die("export2: write failed");
            n -= k;
        }
    }
    if (read_in(in, b, 19 + 8) < 0 || memcmp(b, "rbd image diffs v2\n", 19) != 0)
        return die("export2: no \"rbd image diffs v2\" banner");
    if (copy_fd >= 0 && write_out(copy_fd, b, 19 + 8) < 0)
        return die("export2: write failed");
    *count = 0;
    for (int i = 7; i >= 0; i--)
        *count = *count << 8 | b[19 + i];
    return 0;
}

static int export2(int argc, char **argv)
{
    uint64_t count;
    char path[4096];
    int rc;

    if (argc < 1)
        return die("export2: parse, recode 1|2 or split DIR");
    if (strcmp(argv[0], "parse") == 0) {
        if (export2_head(0, -1, &count) != 0)
            return 1;
        for (uint64_t i = 0; i < count; i++) {
            printf("diff %" PRIu64 "\n", i);
            if (parse_one(0, i + 1 == count) != 0)
                return 1;
        }
        return 0;
    }
    if (strcmp(argv[0], "recode") == 0 && argc == 2) {
        if (export2_head(0, 1, &count) != 0)
            return 1;
        for (uint64_t i = 0; i < count; i++)
            if (recode_one(0, 1, (int)strtol(argv[1], NULL, 10), -1, i + 1 == count) != 0)
                return 1;
        return 0;
    }
    if (strcmp(argv[0], "split") == 0 && argc == 2) {
        snprintf(path, sizeof(path), "%s/header", argv[1]);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0)
            return die("export2: cannot create DIR/header");
        rc = export2_head(0, fd, &count);
        close(fd);
        for (uint64_t i = 0; rc == 0 && i < count; i++) {
            snprintf(path, sizeof(path), "%s/diff.%" PRIu64, argv[1], i);
            fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
            if (fd < 0)
                return die("export2: cannot create DIR/diff.N");
            rc = recode_one(0, fd, 2, -1, i + 1 == count);
            close(fd);
        }
        return rc;
    }
    return die("export2: parse, recode 1|2 or split DIR");
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "parse") == 0 && argc == 2)
        return parse_one(0, 1);
    if (argc >= 3 && strcmp(argv[1], "recode") == 0) {
        int v = (int)strtol(argv[2], NULL, 10);
        int protect = -1;
        if (argc == 5 && strcmp(argv[3], "-p") == 0)
            protect = (int)strtol(argv[4], NULL, 10);
        else if (argc != 3)
            return die("usage: recode 1|2 [-p 0|1]");
        return recode_one(0, 1, v, protect, 1);
    }
    if (argc >= 2 && strcmp(argv[1], "export2") == 0)
        return export2(argc - 2, argv + 2);
    return die("usage: ds_tool parse | recode 1|2 [-p 0|1] | export2 parse|recode V|split DIR");
}
