/* onto.h - a catch-up restore onto an existing image (restore --onto): the target holds
 * the snapshot of an older backup N of the chain, and only what the backups after N
 * changed (with force, also what was written on the target since) is written. */
#ifndef RBD2S3_ONTO_H
#define RBD2S3_ONTO_H

#include "agent/common/context.h"
#include "agent/repo/chain.h"

/* The existing image to catch up. */
typedef struct onto_target {
    rbdio_cluster *cl;        /* borrowed: the destination cluster */
    const char *pool;
    const char *ns;           /* "" or NULL: the default namespace */
    const char *image;
    const char *name;         /* "POOL/IMAGE" for messages */
    const char *source;       /* the backed-up image ("POOL/IMAGE"): the target's
                                 image-meta TARGET_SOURCE_META, when set, must name it */
    int force;                /* revert what was written on the target after snapshot N */
} onto_target;

/* What a catch-up did. */
typedef struct onto_result {
    const manifest *from;     /* backup N: the newest of the chain the target holds */
    int uptodate;             /* 1: the target held the restore point: nothing written */
    uint64_t written;         /* bytes of data written */
    uint64_t discarded;       /* bytes zeroed (discards of zero records and holes) */
    uint64_t skipped;         /* bytes of zero records and holes left alone: the target
                               * held nothing there, so they read as zeros already */
    uint64_t reverted;        /* bytes the target had changed after snapshot N (force) */
    size_t nranges;           /* ranges of the image written */
} onto_result;

/* Bring the image t to the restore point ch->v[ch->n - 1]: it must exist (else exit 3),
 * be used by no other client (exit 11), hold the snapshot of a backup N of ch (the
 * newest such; none, or an image-meta naming another source image: exit 3) and, unless
 * t->force, be unchanged since that snapshot (exit 7). Every refusal writes nothing.
 * Then the chain's indexes are loaded, the image resized, the ranges that backups N+1..
 * changed (and with force those changed on the target) written from the merged chain,
 * the restore point's snapshot created and the image-meta set to t->source.
 * 0 with *out filled, or -1 with the error recorded in ctx. */
int onto_restore(ag_ctx *ctx, chain *ch, const onto_target *t, onto_result *out);

#endif
