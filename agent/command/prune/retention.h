/* retention.h - which backups a keep policy selects, and why (pure functions).
 *
 * Periods are UTC calendar periods: a day runs 00:00-24:00 UTC, a week Monday-Sunday
 * (ISO), a month the calendar month. Going from the newest backup back, --keep-last N
 * keeps the N newest; --keep-daily N keeps the newest backup of each of the N most
 * recent days that have a backup (weekly, monthly alike). A kept incremental keeps its
 * whole chain back to its full; a kept incremental whose parent is missing keeps every
 * older backup (it may depend on any of them). With any count >= 1 the newest backup is
 * always kept. */
#ifndef RBD2S3_RETENTION_H
#define RBD2S3_RETENTION_H

#include <stddef.h>
#include <time.h>

typedef struct ret_policy {
    int last, daily, weekly, monthly;   /* counts; 0 = not used */
} ret_policy;

enum { RET_LAST = 1, RET_DAILY = 2, RET_WEEKLY = 4, RET_MONTHLY = 8, RET_CHAIN = 16,
       RET_BROKEN = 32 };

#define RET_PARENT_MISSING (-2)

typedef struct ret_item {
    time_t t;           /* the point in time the backup holds (its snapshot's time) */
    long parent;        /* index of its parent in the array, -1 for a full,
                         * RET_PARENT_MISSING for an incremental whose parent is absent */
    unsigned why;       /* out: RET_* bits, 0 = not kept */
} ret_item;

/* 1 if the policy keeps nothing (every count 0). */
int retention_empty(const ret_policy *p);

/* Mark items[0..n) (oldest first; parents before children) with the reasons they are
 * kept. Returns the number kept. */
size_t retention_select(const ret_policy *p, ret_item *items, size_t n);

/* "last,daily,chain,broken-chain" for the bits of why into out ("" for none). */
void retention_why(unsigned why, char *out, size_t outsz);

#endif
