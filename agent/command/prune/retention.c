/* retention.c - which backups a keep policy selects (see retention.h). */
#include "agent/command/prune/retention.h"

#include <stdio.h>
#include <string.h>

int retention_empty(const ret_policy *p)
{
    return p->last <= 0 && p->daily <= 0 && p->weekly <= 0 && p->monthly <= 0;
}

static long long day_of(time_t t)
{
    long long s = (long long)t;
    return s >= 0 ? s / 86400 : -((-s + 86399) / 86400);
}

/* Weeks start on Monday: 1970-01-01 was a Thursday, so day 0 is day 3 of its week. */
static long long week_of(time_t t)
{
    long long d = day_of(t) + 3;
    return d >= 0 ? d / 7 : -((-d + 6) / 7);
}

static long long month_of(time_t t)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    return (long long)tm.tm_year * 12 + tm.tm_mon;
}

typedef long long (*period_fn)(time_t t);

/* Newest first: keep the newest item of each of the `count` most recent periods. */
static void keep_periods(ret_item *items, size_t n, int count, period_fn period, unsigned bit)
{
    int kept = 0;
    long long last = 0;
    for (size_t i = n; i-- > 0 && kept < count;) {
        long long p = period(items[i].t);
        if (kept > 0 && p == last)
            continue;
        items[i].why |= bit;
        last = p;
        kept++;
    }
}

static void keep_chains(ret_item *items, size_t n)
{
    for (size_t i = n; i-- > 0;) {
        if (items[i].why == 0)
            continue;
        /* parents come before children, so one pass from the newest reaches every link */
        long p = items[i].parent;
        if (p >= 0 && (size_t)p < i)
            items[p].why |= RET_CHAIN;
        /* a parent that is not here (damaged, deleted): any older one may be needed */
        for (size_t k = 0; (p == RET_PARENT_MISSING || (p >= 0 && (size_t)p >= i)) && k < i;
             k++)
            items[k].why |= RET_BROKEN;
    }
}

size_t retention_select(const ret_policy *p, ret_item *items, size_t n)
{
    for (size_t i = 0; i < n; i++)
        items[i].why = 0;
    for (size_t i = n, k = 0; i-- > 0 && k < (size_t)(p->last > 0 ? p->last : 0); k++)
        items[i].why |= RET_LAST;
    if (p->daily > 0)
        keep_periods(items, n, p->daily, day_of, RET_DAILY);
    if (p->weekly > 0)
        keep_periods(items, n, p->weekly, week_of, RET_WEEKLY);
    if (p->monthly > 0)
        keep_periods(items, n, p->monthly, month_of, RET_MONTHLY);
    keep_chains(items, n);
    size_t kept = 0;
    for (size_t i = 0; i < n; i++)
        kept += items[i].why != 0;
    return kept;
}

void retention_why(unsigned why, char *out, size_t outsz)
{
    static const char *const names[] = { "last", "daily", "weekly", "monthly", "chain",
                                         "broken-chain" };
    size_t used = 0;
    if (outsz == 0)
        return;
    out[0] = '\0';
    for (unsigned b = 0; b < 6; b++) {
        if ((why & (1u << b)) == 0)
            continue;
        int w = snprintf(out + used, outsz - used, "%s%s", used ? "," : "", names[b]);
        if (w < 0 || (size_t)w >= outsz - used)
            return;
        used += (size_t)w;
    }
}
