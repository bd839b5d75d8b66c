/* protect.c - verify's Object Lock report: until when each backup and its chain are protected. */
#include "agent/command/verify/verify.h"
#include "agent/repo/trust/lockinfo.h"

#include <stdlib.h>

/* The earliest retain-until of entry i's own objects (cached in v->own_until; -1 there
 * means not asked yet). 0 when unprotected; -1 on an S3 failure (recorded). */
static time_t own_until(verify_job *v, size_t i)
{
    if (v->own_until[i] < 0) {
        const cat_entry *e = &v->cat.e[i];
        time_t t = 0;
        if (lockinfo_retention(v->ctx, &e->spec, &e->m, &t, NULL) < 0)
            return -1;
        v->own_until[i] = t > time(NULL) ? t : 0;
    }
    return v->own_until[i];
}

/* The earliest protection over the chain of entry i: 0 when any backup of it is
 * unprotected or the chain is incomplete; -1 on an S3 failure. */
static time_t chain_until(verify_job *v, size_t i)
{
    time_t lo = 0;
    long cur = (long)i;
    for (size_t steps = 0; cur >= 0 && steps <= v->cat.n; steps++) {
        time_t t = own_until(v, (size_t)cur);
        if (t <= 0)
            return t;
        lo = lo == 0 || t < lo ? t : lo;
        if (v->cat.e[cur].m.full)
            return lo;
        cur = catalog_parent(&v->cat, (size_t)cur);
    }
    return 0;   /* a parent missing, or a loop */
}

int verify_protection(verify_job *v)
{
    size_t n = v->cat.n;
    if (n == 0 || lockinfo_enabled(v->ctx, &v->locked) < 0)
        return n == 0 ? 0 : -1;
    if (!v->locked)
        return 0;
    v->own_until = malloc(n * sizeof(*v->own_until));
    v->protected_until = calloc(n, sizeof(*v->protected_until));
    if (v->own_until == NULL || v->protected_until == NULL)
        return ag_fail(v->ctx, AG_EFAIL, "out of memory");
    for (size_t i = 0; i < n; i++)
        v->own_until[i] = -1;
    for (size_t i = 0; i < n; i++) {
        if (!v->in_scope[i])
            continue;
        time_t t = chain_until(v, i);
        if (t < 0)
            return -1;
        v->protected_until[i] = t;
    }
    return 0;
}
