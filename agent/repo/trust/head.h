/* head.h - the head object of an encrypted image in the bucket: written after each
 * encrypted backup's commit, read and checked against the catalog before the newest
 * backup is used, so that a rollback or a deletion of backups is noticed. */
#ifndef RBD2S3_HEAD_H
#define RBD2S3_HEAD_H

#include "agent/config/keyring.h"
#include "agent/format/headdoc.h"
#include "agent/repo/catalog.h"

/* Read the head of spec's image into *h: 1 when there is one, 0 when there is none,
 * -1 with the error recorded (S3 failure; AG_EINTEGRITY "head object of P/I fails
 * authentication" for a document that is not a head of this image). No MAC check. */
int head_get(ag_ctx *ctx, const naming_spec *spec, headdoc *h);

/* Write h under master key mk (sets its key id and mac). 0, or -1 with a warning on
 * stderr; nothing is recorded in ctx. */
int head_write(ag_ctx *ctx, headdoc *h, const seal_key *mk);

/* Write the head naming the committed encrypted backup m, under the master key of
 * ctx->keys that wraps its data key. A failure is a warning on stderr (the backup
 * exists) and -1; nothing is recorded in ctx. */
int head_put(ag_ctx *ctx, const manifest *m);

/* Delete the head of spec's image (its last backup is gone). 0, or -1 with a warning. */
int head_delete(ag_ctx *ctx, const naming_spec *spec);

/* head_get, then the MAC under the key of ctx->keys with the head's key id (kdf from a
 * manifest of c with that key id): 1 (a head, authenticated), 0 (none), or -1 with the
 * error recorded (AG_EKEY: no key has its id; AG_EINTEGRITY: fails authentication). */
int head_read(ag_ctx *ctx, const catalog *c, const naming_spec *spec, headdoc *h);

/* Before the newest backup of spec's image is used (restore or export of the newest,
 * backup's choice of parent, verify): when the image has encrypted backups in c or
 * ctx->keys is set, read its head and check it. 0 when there is no head (a warning when
 * warn_missing and encrypted backups are present), or when the head authenticates and
 * names an authenticated backup of c (its cat_entry.dk set) with the mac it records; a
 * head older than the newest backup is fine (a crash between a manifest and its head),
 * as long as every newer backup is authenticated too.
 * Else -1 with the error recorded: AG_EKEY when no key of ctx->keys has the head's key
 * id, AG_EINTEGRITY "head object of P/I fails authentication" or "rollback or deletion:
 * head of P/I names backup X, newest in the bucket is Y" (or "P/I@Y: newer than the
 * backup X its head names, and not authenticated"). */
int head_check(ag_ctx *ctx, const catalog *c, const naming_spec *spec, int warn_missing);
/* head_check of every image that has backups in c (sorted by image). Same returns. */
int head_check_all(ag_ctx *ctx, const catalog *c, int warn_missing);

#endif
