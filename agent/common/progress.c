/* progress.c - the progress line on a terminal (see progress.h). */
#include "agent/common/progress.h"

#include <stdio.h>
#include <string.h>

#define INTERVAL 0.5

void progress_start(progress *p, const ag_ctx *ctx, const char *verb, const char *name)
{
    memset(p, 0, sizeof(*p));
    p->on = ctx->opts.progress && !ctx->opts.quiet && !ctx->opts.verbose;
    snprintf(p->what, sizeof(p->what), "%s %s", verb, name);
    p->start = p->last = ag_now();
}

void progress_update(progress *p, uint64_t done, uint64_t total, uint64_t bytes)
{
    if (!p->on)
        return;
    double t = ag_now();
    if (t - p->last < INTERVAL)
        return;
    p->last = t;
    int pct = total > 0 ? (int)(done * 100 / total) : 0;
    if (pct > 99)
        pct = 99;
    char rate[32];
    ag_fmt_size((uint64_t)((double)bytes / (t - p->start)), rate, sizeof(rate));
    fprintf(stderr, "\r%s: %d%% complete, %s/s   ", p->what, pct, rate);
    fflush(stderr);
    p->printed = 1;
}

void progress_end(progress *p, int ok)
{
    if (!p->on)
        return;
    if (ok)
        fprintf(stderr, "\r%s: 100%% complete...done.%20s\n", p->what, "");
    else if (p->printed)
        fprintf(stderr, "\r%*s\r", (int)strlen(p->what) + 40, "");
    fflush(stderr);
}
