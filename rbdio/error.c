/* error.c - the thread-local last-error text of rbdio and its helpers. */
#include <errno.h>
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

/* Append ": <prefix><strerror(rc)><suffix>" to the last error text, if it fits. */
static void append_why(const char *prefix, int rc, const char *suffix)
{
    char why[128];
    size_t used = strlen(last_error);

    if (used < sizeof(last_error)) {
        snprintf(last_error + used, sizeof(last_error) - used, ": %s%s%s", prefix,
                 rbdio_strerror(rc, why, sizeof(why)), suffix);
    }
}

int rbdio_fail(int rc, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(last_error, sizeof(last_error), fmt, ap);
    va_end(ap);
    append_why("", rc, "");
    return rc;
}

int rbdio_fail_call(const rbdio_call *call, int rc, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(last_error, sizeof(last_error), fmt, ap);
    va_end(ap);
    if (rc == -ETIMEDOUT && call->librbd_rc != rc) {
        append_why("timed out (librbd gave up with: ", call->librbd_rc, ")");
    } else {
        append_why("", rc, "");
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
