/* strbuf.c - bounded growable strings and byte buffers used by the s3 module. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "s3/s3_internal.h"

void s3_sb_init(s3_sb *b, size_t max)
{
    memset(b, 0, sizeof(*b));
    b->max = max;
}

int s3_sb_add(s3_sb *b, const void *s, size_t n)
{
    if (b->err)
        return b->err;
    if (n > b->max || b->len > b->max - n) {
        b->err = -ENOSPC;
        return b->err;
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->err = -ENOMEM;
            return b->err;
        }
        b->p = p;
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
    return 0;
}

int s3_sb_adds(s3_sb *b, const char *s)
{
    return s3_sb_add(b, s, strlen(s));
}

int s3_sb_addf(s3_sb *b, const char *fmt, ...)
{
    char small[256];
    va_list ap;

    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->err = b->err ? b->err : -EINVAL;
        return b->err;
    }
    if ((size_t)n < sizeof(small))
        return s3_sb_add(b, small, (size_t)n);

    char *big = malloc((size_t)n + 1);
    if (!big) {
        b->err = b->err ? b->err : -ENOMEM;
        return b->err;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    int rc = s3_sb_add(b, big, (size_t)n);
    free(big);
    return rc;
}

void s3_sb_free(s3_sb *b)
{
    free(b->p);
    memset(b, 0, sizeof(*b));
}

int s3_buf_reserve(s3_buf *b, size_t extra, size_t max)
{
    if (extra > max || b->len > max - extra)
        return -EFBIG;
    size_t need = b->len + extra;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < need)
        cap = cap > max / 2 ? max : cap * 2;
    unsigned char *p = realloc(b->data, cap ? cap : 1);
    if (!p)
        return -ENOMEM;
    b->data = p;
    b->cap = cap;
    return 0;
}

void s3_buf_free(s3_buf *b)
{
    if (!b)
        return;
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void s3_strlcpy(char *dst, const char *src, size_t dstsz)
{
    if (!dstsz)
        return;
    size_t n = src ? strlen(src) : 0;
    if (n >= dstsz)
        n = dstsz - 1;
    if (n)
        memcpy(dst, src, n);
    dst[n] = '\0';
}
