/* protect.h - backups protected from prune (`rbd2s3 protect`): the protect object next
 * to a backup's manifest ("<image prefix><id>/protect.json", format/protectdoc.h), put,
 * removed and read back for a catalog. Nothing but the bucket holds the protection. */
#ifndef RBD2S3_REPO_PROTECT_H
#define RBD2S3_REPO_PROTECT_H

#include "agent/repo/catalog.h"
#include "agent/format/protectdoc.h"

/* The protection of one backup as read from the bucket. */
typedef struct protect_state {
    int on;                   /* a protect object exists: the backup is protected */
    int unreadable;           /* it could not be parsed (on stays 1; since 0, reason "") */
    protectdoc doc;           /* what it says (since 0 when not known) */
} protect_state;

/* The key of the protect object of backup id of spec into out. 0, or -1 with exit 2
 * recorded (a name too long). */
int protect_key(ag_ctx *ctx, const naming_spec *spec, const char *id, char *out,
                size_t outsz);

/* Protect backup id of spec (which the caller found in the catalog): PUT its protect
 * object (Content-MD5, no Object Lock retention: `unprotect` must be able to remove it).
 * An object that is there and readable keeps its time; it is rewritten only when reason
 * (NULL: none given) differs from its own. *st gets the state written or kept, *wrote
 * whether a PUT was made. 0, or -1 with the error recorded. */
int protect_put(ag_ctx *ctx, const naming_spec *spec, const char *id, const char *reason,
                protect_state *st, int *wrote);

/* Remove the protect object of backup id of spec (absent: nothing to do). *was says if
 * it was there. 0, or -1 with the S3 error recorded. */
int protect_remove(ag_ctx *ctx, const naming_spec *spec, const char *id, int *was);

/* The protection of every backup of c: one listing under the catalog's scope (spec, or
 * the whole prefix when NULL) and a GET of each protect object found. An object that
 * cannot be parsed protects its backup all the same, with a warning on stderr.
 * *out is a malloc'ed array of c->n states (caller frees). 0, or -1 recorded. */
int protect_load(ag_ctx *ctx, const catalog *c, const naming_spec *spec,
                 protect_state **out);

/* protect_load again for the backups [from, to) of c (one image), for those whose state
 * in st is not on: one listing of the image's prefix and a GET of each protect object
 * found (a `protect` that came after protect_load). *added = how many states turned on.
 * 0, or -1 recorded. */
int protect_refresh(ag_ctx *ctx, const catalog *c, size_t from, size_t to,
                    protect_state *st, size_t *added);

/* "protected since DATE[, REASON]" (or "protected (unreadable protect object)") into
 * out for a state that is on. Never fails (cut to outsz). */
void protect_describe(const protect_state *st, char *out, size_t outsz);

#endif
