/* hold.c - what prune keeps beyond its keep policy: only the backups carrying the
 * --label filter's labels are considered, protected backups are never removed, and no
 * kept backup loses a parent it needs. */
#include "agent/command/prune/prune.h"

#include <stdlib.h>

int prune_select(const ret_policy *rp, const catalog *c, size_t from, size_t to,
                 const labels_set *filter, ret_item *items, unsigned char *doomed,
                 unsigned char *other)
{
    size_t n = to - from;
    ret_item *sub = calloc(n ? n : 1, sizeof(*sub));
    long *at = calloc(n ? n : 1, sizeof(*at));      /* subset index of each entry, or -1 */
    size_t ns = 0;
    if (sub == NULL || at == NULL) {
        free(sub);
        free(at);
        return -1;
    }
    for (size_t i = from; i < to; i++) {
        other[i] = !labels_match(c->e[i].m.labels, filter);
        doomed[i] = 0;
        at[i - from] = other[i] ? -1 : (long)ns;
        if (other[i])
            continue;
        sub[ns] = items[i];
        long p = items[i].parent;       /* from + p: the parent; or -1, RET_PARENT_MISSING */
        if (p >= 0)
            sub[ns].parent = at[p] >= 0 ? at[p] : -1;   /* outside the filter: see below */
        ns++;
    }
    retention_select(rp, sub, ns);
    for (size_t i = from; i < to; i++) {
        if (other[i])
            continue;
        items[i].why = sub[at[i - from]].why;
        doomed[i] = items[i].why == 0;
    }
    free(sub);
    free(at);
    return 0;
}

void prune_protect_hold(size_t from, size_t to, const ret_item *items,
                        const protect_state *prot, unsigned char *doomed, long *needed_by)
{
    for (size_t i = from; i < to; i++) {
        needed_by[i] = -1;
        if (prot[i].on)
            doomed[i] = 0;
    }
    /* children first (ids sort parents before children): a kept backup keeps its
     * parent, and so on down to the full; the protected backup (or else the kept one)
     * that needs each ancestor is noted */
    for (size_t i = to; i-- > from;) {
        if (doomed[i] || items[i].parent < 0)      /* a full, or its parent is missing */
            continue;
        size_t k = from + (size_t)items[i].parent;
        long by = prot[i].on ? (long)i : needed_by[i];
        if (doomed[k] && needed_by[k] < 0)
            needed_by[k] = by >= 0 ? by : (long)i;
        else if (by >= 0 && prot[by].on && (needed_by[k] < 0 || !prot[needed_by[k]].on))
            needed_by[k] = by;
        doomed[k] = 0;
    }
}
