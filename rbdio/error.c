/* error.c - the thread-local last-error text of rbdio and its helpers. */
#include <stdio.h>
#include <string.h>

#include "rbdio/rbdio_internal.h"

static _Thread_local char last_error[1024];

const char *rbdio_last_error(void)
{
    return last_error;
}

void rbdio_errorf(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(last_error, sizeof(last_error), fmt, ap);
    va_end(ap);
}

int rbdio_fail(int rc, const char *fmt, ...)
{
    char why[128];
    size_t used;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(last_error, sizeof(last_error), fmt, ap);
    va_end(ap);
    used = strlen(last_error);
    if (used < sizeof(last_error)) {
        snprintf(last_error + used, sizeof(last_error) - used, ": %s",
                 rbdio_strerror(rc, why, sizeof(why)));
    }
    return rc;
}

const char *rbdio_strerror(int rc, char *buf, size_t len)
{
    /* The GNU strerror_r (we build with _GNU_SOURCE) may return a static string. */
    return strerror_r(rc < 0 ? -rc : rc, buf, len);
}

void rbdio_where(char *buf, size_t len, const char *pool, const char *ns, const char *image,
                 const char *snap)
{
    snprintf(buf, len, "%s%s%s%s%s%s%s", pool ? pool : "?",
             rbdio_ns_is_default(ns) ? "" : "/", rbdio_ns_is_default(ns) ? "" : ns,
             image ? "/" : "", image ? image : "", snap ? "@" : "", snap ? snap : "");
}
