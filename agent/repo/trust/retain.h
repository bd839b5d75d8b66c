/* retain.h - S3 Object Lock for backups: the retention every object of a new backup
 * carries, and its chain protected as a whole (parents extended to the newest's date). */
#ifndef RBD2S3_RETAIN_H
#define RBD2S3_RETAIN_H

#include "agent/repo/catalog.h"

#include <time.h>

/* At the start of a backup or import, before anything is written. With object lock off:
 * *until = 0, no request. With it on: the bucket must have Object Lock enabled (else
 * exit 2, "bucket B has no Object Lock: ..."), *until = now + object lock days, and every
 * object ctx->s3 creates from now on carries that retention. 0, or -1 (error recorded). */
int retain_begin(ag_ctx *ctx, time_t *until);

/* Before the current version of key is replaced by a rewrite of it (key rotate): every
 * object ctx->s3 creates from now on carries that version's retention as it is, same mode
 * and retain-until date (never lengthened: the backup's "locked until" stays its own);
 * none when the version has none, its date has passed, or key does not exist. Whatever
 * object lock says: a rewrite never drops a protection. One HEAD; retain_end() undoes.
 * 0, or the negative code of the HEAD with err filled (the client then unchanged). */
int retain_keep(ag_ctx *ctx, const char *key, s3_error *err);

/* New objects carry no retention again (after a backup). Cannot fail; safe without s3. */
void retain_end(ag_ctx *ctx);

/* After the commit of an incremental whose parent is cat->e[parent]: every object of
 * the parent and of each of its ancestors (data objects, index, then manifest) gets
 * PutObjectRetention to until in the configured mode. An object already protected as
 * long (or in COMPLIANCE) is left alone; one that cannot be protected is a warning naming
 * it. Returns the number of such objects (0: the chain is protected). No-op (0) with
 * object lock off, parent < 0 or until 0. */
size_t retain_chain(ag_ctx *ctx, const catalog *cat, long parent, time_t until);

#endif
