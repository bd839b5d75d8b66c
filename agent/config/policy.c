/* policy.c - retention and chain policy keys (see policy.h). */
#include "agent/config/policy.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void policy_unset(ag_policy *p)
{
    *p = (ag_policy){ -1, -1, -1, -1, -1, -1, -1 };
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
    if (strcmp(key, "full-every") == 0 || strcmp(key, "due") == 0) {
        long long *dst = key[0] == 'f' ? &p->full_every : &p->due;
        if (value == NULL || ag_parse_duration(value, dst) < 0)
            return ag_fail(ctx, AG_EUSAGE, "%s: %s: not a duration (like 7d, 12h, "
                           "30m): '%s'", where, key, value ? value : "");
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
    memset(pc, 0, sizeof(*pc));
    pc->name = strdup(pool);
    if (pc->name == NULL)
        return NULL;
    policy_unset(&pc->pol);
    pc->win_start = pc->win_end = -1;
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
    if (src->due >= 0)
        dst->due = src->due;
}

void policy_resolve(ag_ctx *ctx, const char *pool, const char *ns, const ag_policy *cmd,
                    ag_policy *out)
{
    *out = ctx->opts.policy;
    const ag_pool_conf *pc = pool != NULL ? policy_pool(ctx, pool, 0) : NULL;
    if (pc != NULL)
        overlay(out, &pc->pol);
    if (pool != NULL && ns != NULL && ns[0] != '\0') {
        char name[1100];
        snprintf(name, sizeof(name), "%s/%s", pool, ns);
        if ((pc = policy_pool(ctx, name, 0)) != NULL)
            overlay(out, &pc->pol);
    }
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
    if (out->due < 0)
        out->due = 0;
}

/* "HH:MM" into minutes after midnight; -1 if malformed. */
static int parse_hhmm(const char *s, const char **end)
{
    int h = 0, m = 0, n = 0;
    while (n < 2 && s[n] >= '0' && s[n] <= '9')
        h = h * 10 + (s[n++] - '0');
    if (n == 0 || s[n] != ':' || s[n + 1] < '0' || s[n + 1] > '9' || s[n + 2] < '0' ||
        s[n + 2] > '9')
        return -1;
    m = (s[n + 1] - '0') * 10 + (s[n + 2] - '0');
    *end = s + n + 3;
    return h < 24 && m < 60 ? h * 60 + m : -1;
}

static int set_window(ag_ctx *ctx, ag_pool_conf *pc, const char *value, const char *where)
{
    const char *p = value, *q;
    int a = parse_hhmm(p, &q);
    int b = a >= 0 && *q == '-' ? parse_hhmm(q + 1, &q) : -1;
    if (a < 0 || b < 0 || *q != '\0' || a == b)
        return ag_fail(ctx, AG_EUSAGE, "%s: [pool:%s] window: expected HH:MM-HH:MM: '%s'",
                       where, pc->name, value);
    pc->win_start = a;
    pc->win_end = b;
    return 1;
}

static int set_str(ag_ctx *ctx, char **dst, const char *value)
{
    free(*dst);
    *dst = strdup(value);
    return *dst != NULL ? 1 : ag_fail(ctx, AG_EFAIL, "out of memory");
}

/* [pool:NAME] labels = KEY=VALUE,...: the labels of the backups `run` makes. */
static int set_labels(ag_ctx *ctx, ag_pool_conf *pc, const char *value, const char *where)
{
    const char *why;
    labels_set *l = calloc(1, sizeof(*l));
    if (l == NULL)
        return ag_fail(ctx, AG_EFAIL, "out of memory");
    if (labels_add_list(l, value, &why) < 0) {
        free(l);
        return ag_fail(ctx, AG_EUSAGE, "%s: [pool:%s] labels: %s: '%s'", where, pc->name, why,
                       value);
    }
    free(pc->labels);
    pc->labels = l->n > 0 ? l : NULL;
    if (l->n == 0)
        free(l);
    return 1;
}

int policy_set_pool_key(ag_ctx *ctx, ag_pool_conf *pc, const char *name, const char *value,
                        const char *where)
{
    int rc = policy_set_key(ctx, &pc->pol, name, value, where);
    if (rc != 0)
        return rc;
    if (strcmp(name, "images") == 0)
        return set_str(ctx, &pc->images, value);
    if (strcmp(name, "exclude") == 0)
        return set_str(ctx, &pc->exclude, value);
    if (strcmp(name, "window") == 0)
        return set_window(ctx, pc, value, where);
    if (strcmp(name, "labels") == 0)
        return set_labels(ctx, pc, value, where);
    return 0;
}

int policy_in_window(const ag_pool_conf *pc, int m)
{
    if (pc->win_start < 0)
        return 1;
    if (pc->win_start < pc->win_end)
        return m >= pc->win_start && m < pc->win_end;
    return m >= pc->win_start || m < pc->win_end;     /* wraps midnight */
}
