/* termesc.c - untrusted text (names and keys from the bucket) made safe for a terminal. */
#include "agent/common/termesc.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Length (2..4) of the well-formed UTF-8 sequence at p with its code point, or 0. */
static size_t utf8_seq(const unsigned char *p, uint32_t *cp)
{
    size_t n;
    uint32_t c, min;
    if (p[0] >= 0xc2 && p[0] <= 0xdf) {
        n = 2, c = p[0] & 0x1fu, min = 0x80;
    } else if (p[0] >= 0xe0 && p[0] <= 0xef) {
        n = 3, c = p[0] & 0x0fu, min = 0x800;
    } else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
        n = 4, c = p[0] & 0x07u, min = 0x10000;
    } else {
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;                   /* also stops at the terminating NUL */
        c = (c << 6) | (p[i] & 0x3fu);
    }
    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
        return 0;
    *cp = c;
    return n;
}

/* Characters a terminal acts on or that reorder what is shown around them. */
static int unsafe_cp(uint32_t c)
{
    return (c >= 0x80 && c <= 0x9f) || c == 0x61c || c == 0x200e || c == 0x200f ||
           (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069);
}

/* The escape of one byte b into esc (at most 5 bytes and a NUL); its length. */
static size_t escape_byte(unsigned char b, char esc[6])
{
    switch (b) {
    case '\\': return (size_t)snprintf(esc, 6, "\\\\");
    case '\n': return (size_t)snprintf(esc, 6, "\\n");
    case '\t': return (size_t)snprintf(esc, 6, "\\t");
    case '\r': return (size_t)snprintf(esc, 6, "\\r");
    default: return (size_t)snprintf(esc, 6, "\\x%02x", b);
    }
}

char *termesc(const char *in, char *out, size_t outsz)
{
    const unsigned char *p = (const unsigned char *)(in != NULL ? in : "");
    size_t o = 0;
    while (*p != '\0') {
        char esc[6 * 4];
        size_t len = 0, take = 1;
        uint32_t cp = 0;
        if (*p >= 0x20 && *p < 0x7f && *p != '\\') {
            esc[len++] = (char)*p;
        } else if (*p >= 0x80 && (take = utf8_seq(p, &cp)) != 0 && !unsafe_cp(cp)) {
            memcpy(esc, p, take);
            len = take;
        } else {
            take = take == 0 ? 1 : take;
            for (size_t i = 0; i < take; i++)
                len += escape_byte(p[i], esc + len);
        }
        if (o + len >= outsz)
            break;
        memcpy(out + o, esc, len);
        o += len;
        p += take;
    }
    if (outsz > 0)
        out[o < outsz ? o : outsz - 1] = '\0';
    return out;
}

const char *termesc_str(const char *in)
{
    static char ring[TERMESC_RING][TERMESC_BUF];
    static unsigned next;
    char *out = ring[next++ % TERMESC_RING];
    return termesc(in, out, TERMESC_BUF);
}
