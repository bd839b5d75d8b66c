/* due.h - is an image due for a backup: the age of its newest committed backup. */
#ifndef RBD2S3_BACKUP_DUE_H
#define RBD2S3_BACKUP_DUE_H

#include <time.h>

#include "agent/common/context.h"
#include "agent/repo/catalog.h"

/* The time of the newest backup of catalog c (its snapshot's time, else its commit
 * time), or 0 when c holds none. Cannot fail. */
time_t due_newest(const catalog *c);

/* 1 if an image whose newest backup is of time last (0: none) is due at now for a
 * policy of due seconds (0: always due), else 0. Cannot fail. */
int due_is_due(time_t last, long long due, time_t now);

/* "not due: last backup 20m ago" into out (always NUL-terminated). Cannot fail. */
void due_note(time_t last, time_t now, char *out, size_t outsz);

/* The check without any lock, from the bucket: loads spec's catalog. 1 due, 0 not due
 * (*last set), -1 with the error recorded in ctx. */
int due_check(ag_ctx *ctx, const naming_spec *spec, long long due, time_t *last);

#endif
