/* due.c - is an image due for a backup: the age of its newest committed backup. */
#include "agent/backup/due.h"

#include <stdio.h>

time_t due_newest(const catalog *c)
{
    time_t newest = 0;
    for (size_t i = 0; i < c->n; i++) {
        const manifest *m = &c->e[i].m;
        time_t t = m->snap_time != 0 ? m->snap_time : m->created;
        if (t > newest)
            newest = t;
    }
    return newest;
}

int due_is_due(time_t last, long long due, time_t now)
{
    return due <= 0 || last == 0 || (long long)(now - last) >= due;
}

void due_note(time_t last, time_t now, char *out, size_t outsz)
{
    long long age = (long long)(now - last);
    if (age < 0)
        age = 0;
    if (age < 120)
        snprintf(out, outsz, "not due: last backup %llds ago", age);
    else if (age < 2 * 3600)
        snprintf(out, outsz, "not due: last backup %lldm ago", age / 60);
    else if (age < 2 * 86400)
        snprintf(out, outsz, "not due: last backup %lldh ago", age / 3600);
    else
        snprintf(out, outsz, "not due: last backup %lldd ago", age / 86400);
}

int due_check(ag_ctx *ctx, const naming_spec *spec, long long due, time_t *last)
{
    *last = 0;
    if (due <= 0)
        return 1;
    catalog cat = { 0 };
    if (ag_s3(ctx) == NULL || catalog_load(ctx, spec, &cat) < 0) {
        catalog_free(&cat);
        return -1;
    }
    *last = due_newest(&cat);
    catalog_free(&cat);
    return due_is_due(*last, due, time(NULL));
}
