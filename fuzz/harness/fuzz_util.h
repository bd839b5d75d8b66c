/* fuzz_util.h - what the libFuzzer harnesses share: a reader over the input, checks that
 * abort with a message (a finding), and input as a file descriptor. Header-only. */
#ifndef RBD2S3_FUZZ_UTIL_H
#define RBD2S3_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* A finding: the harness's own assertion failed (round trip, invariant). */
#define FUZZ_CHECK(cond, ...)                                                           \
    do {                                                                                \
        if (!(cond)) {                                                                  \
            fprintf(stderr, "FUZZ_CHECK failed at %s:%d: %s: ", __FILE__, __LINE__,     \
                    #cond);                                                             \
            fprintf(stderr, __VA_ARGS__);                                               \
            fputc('\n', stderr);                                                        \
            abort();                                                                    \
        }                                                                               \
    } while (0)

/* Input consumed from the front; reads past the end give zeros. */
typedef struct fz_in {
    const uint8_t *p;
    size_t n;
} fz_in;

static inline uint8_t fz_u8(fz_in *in)
{
    if (in->n == 0)
        return 0;
    in->n--;
    return *in->p++;
}

/* An unsigned value of k bytes (little-endian, k <= 8). */
static inline uint64_t fz_uint(fz_in *in, int k)
{
    uint64_t v = 0;
    for (int i = 0; i < k; i++)
        v |= (uint64_t)fz_u8(in) << (8 * i);
    return v;
}

/* A value whose width (1, 2, 4 or 8 bytes) the input chooses first: mostly small
 * numbers, now and then a huge one. */
static inline uint64_t fz_var(fz_in *in)
{
    static const int width[4] = { 1, 2, 4, 8 };
    return fz_uint(in, width[fz_u8(in) & 3]);
}

/* A NUL-terminated copy of the input up to a NUL byte or the end (malloc'ed; caller
 * frees). */
static inline char *fz_str(fz_in *in)
{
    size_t k = 0;
    while (k < in->n && in->p[k] != 0)
        k++;
    char *s = malloc(k + 1);
    if (s == NULL)
        abort();
    memcpy(s, in->p, k);
    s[k] = '\0';
    in->p += k < in->n ? k + 1 : k;
    in->n -= k < in->n ? k + 1 : k;
    return s;
}

/* The bytes as an anonymous file (offset 0); -1 on failure. Caller closes. */
static inline int fz_memfd(const void *data, size_t len)
{
    int fd = memfd_create("fuzz", MFD_CLOEXEC);
    if (fd < 0)
        return -1;
    const uint8_t *p = data;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w <= 0) {
            close(fd);
            return -1;
        }
        p += w;
        len -= (size_t)w;
    }
    if (lseek(fd, 0, SEEK_SET) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* The whole content of fd from offset 0 (malloc'ed, *len its length; NULL on failure). */
static inline uint8_t *fz_slurp(int fd, size_t *len)
{
    off_t end = lseek(fd, 0, SEEK_END);
    if (end < 0 || lseek(fd, 0, SEEK_SET) != 0)
        return NULL;
    uint8_t *buf = malloc((size_t)end + 1);
    size_t got = 0;
    while (buf != NULL && got < (size_t)end) {
        ssize_t r = read(fd, buf + got, (size_t)end - got);
        if (r <= 0) {
            free(buf);
            return NULL;
        }
        got += (size_t)r;
    }
    *len = got;
    return buf;
}

#endif
