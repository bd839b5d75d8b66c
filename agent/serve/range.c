/* range.c - the one Range header serve answers: "bytes=A-B", "bytes=A-", "bytes=-N". */
#include "agent/serve/serve_internal.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

/* Digits at *p into *v (no sign, no overflow); 1 if any, else 0. Advances *p. */
static int digits(const char **p, uint64_t *v)
{
    const char *s = *p;
    uint64_t x = 0;
    while (isdigit((unsigned char)*s)) {
        unsigned d = (unsigned)(*s - '0');
        if (x > (UINT64_MAX - d) / 10)
            return 0;
        x = x * 10 + d;
        s++;
    }
    if (s == *p)
        return 0;
    *p = s;
    *v = x;
    return 1;
}

static void skip_ws(const char **p)
{
    while (**p == ' ' || **p == '\t')
        (*p)++;
}

int serve_range_parse(const char *header, uint64_t size, uint64_t *start, uint64_t *len)
{
    if (header == NULL)
        return RANGE_ALL;
    const char *p = header;
    skip_ws(&p);
    if (strncasecmp(p, "bytes", 5) != 0)
        return RANGE_ALL;
    p += 5;
    skip_ws(&p);
    if (*p++ != '=')
        return RANGE_ALL;
    skip_ws(&p);
    uint64_t a = 0, b = 0;
    int has_a = digits(&p, &a);
    skip_ws(&p);
    if (*p++ != '-')
        return RANGE_ALL;
    skip_ws(&p);
    int has_b = digits(&p, &b);
    skip_ws(&p);
    if (*p != '\0' || (!has_a && !has_b) || (has_a && has_b && b < a))
        return RANGE_ALL;       /* several ranges, or malformed: the whole image */
    if (!has_a) {               /* the last b bytes */
        if (b == 0 || size == 0)
            return RANGE_UNSAT;
        *start = b >= size ? 0 : size - b;
        *len = size - *start;
        return RANGE_PART;
    }
    if (a >= size)
        return RANGE_UNSAT;
    if (!has_b || b >= size)
        b = size - 1;
    *start = a;
    *len = b - a + 1;
    return RANGE_PART;
}
