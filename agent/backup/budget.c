/* budget.c - what one backup costs in memory, and its tunables lowered to fit (budget.h). */
#include "agent/backup/budget.h"
#include "agent/format/parts.h"

#define READS_MIN 2

uint64_t budget_job_bytes(const ag_tun *t)
{
    uint64_t slots = (uint64_t)t->reads_in_flight + 2 * (uint64_t)t->threads + 2;
    uint64_t parts = (uint64_t)t->parts_in_flight + 2;   /* + the one filling, + the index's */
    uint64_t part = parts_size(t->part_size, t->pack_size, t->chunk_size);   /* the pack's */
    return BUDGET_JOB_FIXED + slots * 2 * t->chunk_size + parts * part;
}

uint64_t budget_job_min(const ag_tun *t)
{
    ag_tun least = *t;
    if (least.reads_in_flight > READS_MIN)
        least.reads_in_flight = READS_MIN;
    least.parts_in_flight = 1;
    least.threads = 1;
    return budget_job_bytes(&least);
}

int budget_fit(ag_tun *t, uint64_t share)
{
    while (budget_job_bytes(t) > share && t->reads_in_flight > READS_MIN)
        t->reads_in_flight--;
    while (budget_job_bytes(t) > share && t->parts_in_flight > 1)
        t->parts_in_flight--;
    while (budget_job_bytes(t) > share && t->threads > 1)
        t->threads--;
    return budget_job_bytes(t) <= share ? 0 : -1;
}

uint64_t budget_share(uint64_t limit, int jobs)
{
    if (jobs < 1 || limit <= BUDGET_PROCESS)
        return 0;
    return (limit - BUDGET_PROCESS) / (uint64_t)jobs;
}
