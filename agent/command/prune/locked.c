/* locked.c - prune in a bucket with Object Lock: backups still under retention are kept. */
#include "agent/command/prune/prune.h"
#include "agent/repo/trust/lockinfo.h"

#include <string.h>

/* Keep the doomed parent of every kept backup in [from, to), children first. */
static void keep_parents(const catalog *c, size_t from, size_t to, unsigned char *doomed,
                         unsigned char *for_child)
{
    for (size_t i = to; i-- > from;) {
        const manifest *m = &c->e[i].m;
        if (doomed[i] || m->full)
            continue;
        for (size_t k = from; k < i; k++)
            if (doomed[k] && strcmp(c->e[k].id, m->parent_id) == 0) {
                doomed[k] = 0;
                for_child[k] = 1;
            }
    }
}

int prune_lock_hold(ag_ctx *ctx, const catalog *c, size_t from, size_t to,
                    unsigned char *doomed, time_t *until, unsigned char *for_child)
{
    time_t now = time(NULL);
    for (size_t i = from; i < to; i++) {
        until[i] = 0;
        for_child[i] = 0;
        if (!doomed[i])
            continue;
        if (lockinfo_retention(ctx, &c->e[i].spec, &c->e[i].m, NULL, &until[i]) < 0)
            return -1;
        if (until[i] > now)
            doomed[i] = 0;
        else
            until[i] = 0;
    }
    keep_parents(c, from, to, doomed, for_child);
    return 0;
}
