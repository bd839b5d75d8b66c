/* jobs.c - run's worker pool: N images backed up at once, each job with its own context
 * (jobs.h). */
#include "agent/command/run/jobs.h"

#include "agent/backup/budget.h"
#include "agent/common/signals.h"

#include <pthread.h>
#include <stdlib.h>
#include <sys/resource.h>

int jobs_plan_make(ag_ctx *ctx, jobs_plan *p)
{
    p->jobs = ctx->opts.jobs > 0 ? ctx->opts.jobs : 1;
    p->limit = ctx->opts.memory_limit > 0 ? ctx->opts.memory_limit : BUDGET_DEFAULT;
    p->tun = ctx->opts.tun;
    uint64_t share = budget_share(p->limit, p->jobs);
    if (budget_fit(&p->tun, share) < 0) {
        char lim[32], need[32], total[32];
        ag_fmt_size(p->limit, lim, sizeof(lim));
        uint64_t least = budget_job_min(&ctx->opts.tun);
        ag_fmt_size(least, need, sizeof(need));
        ag_fmt_size(BUDGET_PROCESS + least * (uint64_t)p->jobs, total, sizeof(total));
        return ag_fail(ctx, AG_EUSAGE, "memory limit %s is too small for %d job%s: each "
                       "needs at least %s, %s in all with the process", lim, p->jobs,
                       p->jobs == 1 ? "" : "s", need, total);
    }
    char lim[32], each[32];
    ag_fmt_size(p->limit, lim, sizeof(lim));
    ag_fmt_size(budget_job_bytes(&p->tun), each, sizeof(each));
    ag_debug(ctx, "memory limit %s, %d job%s: each at most %s (threads %d, reads in flight "
             "%d, parts in flight %d)", lim, p->jobs, p->jobs == 1 ? "" : "s", each,
             p->tun.threads, p->tun.reads_in_flight, p->tun.parts_in_flight);
    return 0;
}

/* The run list shared by the jobs: the next item is taken under the lock. */
typedef struct pool {
    ag_ctx *ctx;
    const jobs_plan *plan;
    run_item *items;
    size_t n, next;
    jobs_fn fn;
    void *arg;
    pthread_mutex_t mu;
} pool;

typedef struct worker {
    pool *p;
    int slot;                 /* its ag_pending() slot, 1..jobs */
    pthread_t thread;
} worker;

/* The index of the next planned item, or n when none is left. */
static size_t take(pool *p)
{
    pthread_mutex_lock(&p->mu);
    while (p->next < p->n && p->items[p->next].status != RUN_PLANNED)
        p->next++;
    size_t i = p->next < p->n ? p->next++ : p->n;
    pthread_mutex_unlock(&p->mu);
    return i;
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    pool *p = w->p;
    ag_ctx mine = *p->ctx;    /* its own error and S3 client; the cluster is shared */
    mine.s3 = NULL;
    mine.opts.progress = 0;   /* the lines of several jobs would interleave */
    mine.opts.tun = p->plan->tun;
    ag_pending_slot(w->slot);
    for (size_t i; (i = take(p)) < p->n;) {
        mine.tag = p->items[i].name;
        p->fn(&mine, &p->items[i], p->arg);
        mine.tag = NULL;
    }
    if (mine.s3 != NULL)
        s3_client_free(mine.s3);
    return NULL;
}

/* One after the other on the calling thread, with ctx's own connections. */
static void run_here(pool *p)
{
    for (size_t i; (i = take(p)) < p->n;)
        p->fn(p->ctx, &p->items[i], p->arg);
}

/* The planned items, counted (no more threads than items). */
static size_t planned(const run_item *items, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += items[i].status == RUN_PLANNED;
    return k;
}

void jobs_run(ag_ctx *ctx, const jobs_plan *plan, run_item *items, size_t n, jobs_fn fn,
              void *arg)
{
    pool p = { .ctx = ctx, .plan = plan, .items = items, .n = n, .fn = fn, .arg = arg };
    pthread_mutex_init(&p.mu, NULL);
    ctx->opts.tun = plan->tun;
    size_t k = planned(items, n);
    int nthreads = (size_t)plan->jobs < k ? plan->jobs : (int)k;
    ag_ctx probe = *ctx;      /* connected once here, shared; a failure is each item's */
    if (nthreads > 1 && ag_cluster(&probe) != NULL)
        ctx->src = probe.src;
    else
        nthreads = 1;
    worker *w = nthreads > 1 ? calloc((size_t)nthreads, sizeof(*w)) : NULL;
    int started = 0;
    for (; w != NULL && started < nthreads; started++) {
        w[started] = (worker){ .p = &p, .slot = started + 1 };
        if (pthread_create(&w[started].thread, NULL, worker_main, &w[started]) != 0)
            break;
    }
    if (started == 0)
        run_here(&p);
    for (int i = 0; i < started; i++)
        pthread_join(w[i].thread, NULL);
    free(w);
    pthread_mutex_destroy(&p.mu);
}

uint64_t jobs_peak_rss(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0 || ru.ru_maxrss < 0)
        return 0;
    return (uint64_t)ru.ru_maxrss * 1024;   /* Linux: kilobytes */
}
