/* policy.c - retention and chain policy keys (see policy.h). */
#include "agent/policy.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void policy_unset(ag_policy *p)
{
    *p = (ag_policy){ -1, -1, -1, -1, -1, -1 };
}

/* "keep last", "keep_last" and "keep-last" name the same key. */
static void norm_name(const char *name, char *out, size_t outsz)
{
    size_t i;
    for (i = 0; name[i] != '\0' && i + 1 < outsz; i++)
        out[i] = (name[i] == '_' || name[i] == ' ') ? '-' : name[i];
    out[i] = '\0';
}

static int set_count(ag_ctx *ctx, int *dst, const char *key, const char *value,
                     const char *where)
{
    char *end = NULL;
    errno = 0;
    long v = value != NULL ? strtol(value, &end, 10) : -1;
    if (value == NULL || errno != 0 || end == value || *end != '\0' || v < 0 || v > 100000)
        return ag_fail(ctx, AG_EUSAGE, "%s: %s: not a count from 0 to 100000: '%s'", where,
                       key, value ? value : "");
    *dst = (int)v;
    return 1;
}

int policy_set_key(ag_ctx *ctx, ag_policy *p, const char *name, const char *value,
                   const char *where)
{
    char key[64];
    norm_name(name, key, sizeof(key));
    if (strcmp(key, "keep-last") == 0)
        return set_count(ctx, &p->keep_last, key, value, where);
    if (strcmp(key, "keep-daily") == 0)
        return set_count(ctx, &p->keep_daily, key, value, where);
    if (strcmp(key, "keep-weekly") == 0)
        return set_count(ctx, &p->keep_weekly, key, value, where);
    if (strcmp(key, "keep-monthly") == 0)
        return set_count(ctx, &p->keep_monthly, key, value, where);
    if (strcmp(key, "max-chain") == 0)
        return set_count(ctx, &p->max_chain, key, value, where);
    if (strcmp(key, "full-every") == 0) {
        if (value == NULL || ag_parse_duration(value, &p->full_every) < 0)
            return ag_fail(ctx, AG_EUSAGE, "%s: full-every: not a duration (like 7d, 12h, "
                           "30m): '%s'", where, value ? value : "");
        return 1;
    }
    return 0;
}

ag_pool_conf *policy_pool(ag_ctx *ctx, const char *pool, int create)
{
    ag_opts *o = &ctx->opts;
    for (int i = 0; i < o->npools; i++)
        if (strcmp(o->pools[i].name, pool) == 0)
            return &o->pools[i];
    if (!create || o->npools == AG_MAX_POOLS)
        return NULL;
    ag_pool_conf *pc = &o->pools[o->npools];
    pc->name = strdup(pool);
    if (pc->name == NULL)
        return NULL;
    policy_unset(&pc->pol);
    o->npools++;
    return pc;
}

static void overlay(ag_policy *dst, const ag_policy *src)
{
    if (src->keep_last >= 0)
        dst->keep_last = src->keep_last;
    if (src->keep_daily >= 0)
        dst->keep_daily = src->keep_daily;
    if (src->keep_weekly >= 0)
        dst->keep_weekly = src->keep_weekly;
    if (src->keep_monthly >= 0)
        dst->keep_monthly = src->keep_monthly;
    if (src->full_every >= 0)
        dst->full_every = src->full_every;
    if (src->max_chain >= 0)
        dst->max_chain = src->max_chain;
}

void policy_resolve(ag_ctx *ctx, const char *pool, const ag_policy *cmd, ag_policy *out)
{
    *out = ctx->opts.policy;
    const ag_pool_conf *pc = pool != NULL ? policy_pool(ctx, pool, 0) : NULL;
    if (pc != NULL)
        overlay(out, &pc->pol);
    if (cmd != NULL)
        overlay(out, cmd);
    if (out->keep_last < 0)
        out->keep_last = 0;
    if (out->keep_daily < 0)
        out->keep_daily = 0;
    if (out->keep_weekly < 0)
        out->keep_weekly = 0;
    if (out->keep_monthly < 0)
        out->keep_monthly = 0;
    if (out->full_every < 0)
        out->full_every = 0;
    if (out->max_chain < 0)
        out->max_chain = 0;
}
