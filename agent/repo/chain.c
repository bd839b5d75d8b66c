/* chain.c - a restore point's chain of backups, its full first, with their chunk indexes. */
#include "agent/repo/chain.h"
#include "agent/repo/trust/enckeys.h"

#include <stdlib.h>
#include <string.h>

/* The continuity failure of entry e, whose parent is not among c's backups. */
static int fail_parent(ag_ctx *ctx, const catalog *c, const cat_entry *e, int looped)
{
    const cat_bad *b = catalog_bad_find(c, &e->spec, e->m.parent_id);
    if (b != NULL && !looped)
        return ag_fail(ctx, AG_EINTEGRITY, "backup %s: parent backup %s is damaged: "
                       "manifest %s: %s", e->id, b->id, b->key, b->why);
    return ag_fail(ctx, AG_EINTEGRITY, "backup %s: parent backup %s is missing", e->id,
                   e->m.parent_id);
}

/* Append catalog entry at to ch (newest first while walking). */
static int push(ag_ctx *ctx, chain *ch, size_t *cap, const catalog *c, size_t at)
{
    if (ch->n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 16;
        chain_link *nv = realloc(ch->v, ncap * sizeof(*nv));
        if (nv == NULL)
            return ag_fail(ctx, AG_EFAIL, "out of memory");
        ch->v = nv;
        *cap = ncap;
    }
    ch->v[ch->n++] = (chain_link){ .at = at, .m = &c->e[at].m, .dk = c->e[at].dk };
    return 0;
}

int chain_open(ag_ctx *ctx, const catalog *c, size_t target, chain *out)
{
    memset(out, 0, sizeof(*out));
    size_t cap = 0;
    long cur = (long)target;
    while (cur >= 0) {
        if (push(ctx, out, &cap, c, (size_t)cur) < 0) {
            chain_free(out);
            return -1;
        }
        const cat_entry *e = &c->e[cur];
        if (enckeys_require(ctx, e) < 0) {
            chain_free(out);
            return -1;
        }
        if (e->m.full)
            break;
        cur = catalog_parent(c, (size_t)cur);
        if (cur < 0 || out->n > c->n) {
            chain_free(out);
            return fail_parent(ctx, c, e, cur >= 0);
        }
        if (enckeys_link_ok(ctx, e, &c->e[cur]) < 0) {
            chain_free(out);
            return -1;
        }
    }
    for (size_t i = 0; i < out->n / 2; i++) {
        chain_link t = out->v[i];
        out->v[i] = out->v[out->n - 1 - i];
        out->v[out->n - 1 - i] = t;
    }
    return 0;
}

int chain_load_indexes(ag_ctx *ctx, chain *ch, size_t first)
{
    for (size_t i = first; i < ch->n; i++)
        if (catalog_load_index(ctx, ch->v[i].m, ch->v[i].dk, &ch->v[i].recs,
                               &ch->v[i].nrecs) < 0)
            return -1;
    return 0;
}

void chain_free(chain *ch)
{
    for (size_t i = 0; ch->v != NULL && i < ch->n; i++)
        free(ch->v[i].recs);
    free(ch->v);
    memset(ch, 0, sizeof(*ch));
}
