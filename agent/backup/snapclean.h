/* snapclean.h - removing the agent's superseded rbd2s3- snapshots of an image. */
#ifndef RBD2S3_SNAPCLEAN_H
#define RBD2S3_SNAPCLEAN_H

#include <pthread.h>

#include "agent/common/context.h"

/* The image metadata naming the snapshot of the image's last committed backup. */
#define SNAPCLEAN_LAST_KEY "rbd2s3.last-backup"

typedef struct snapclean_item {
    char name[NAMING_MAX];    /* a trash snapshot's name before it went there */
    uint64_t id;
    int trash;                /* in librbd's trash namespace: removed by id */
} snapclean_item;

/* One backup's cleanup. Every failed step prints a warning line and counts in errors;
 * nothing here fails the backup. */
typedef struct snapclean {
    ag_ctx *ctx;
    rbdio_image *img;         /* the image's head, open read-write */
    const char *name;         /* "pool/image" for messages */
    snapclean_item *old;      /* what is being removed */
    int nold;
    pthread_t thread;
    int thread_on;
    int errors;               /* failed steps, for the JSON summary and run's metrics */
    uint64_t last_id;         /* id of the snapshot SNAPCLEAN_LAST_KEY names, or 0 */
    int orphans_on;           /* the key is unset or names a snapshot: orphans pass runs */
} snapclean;

/* Set up sc (no allocation); img and name must outlive it. */
void snapclean_init(snapclean *sc, ag_ctx *ctx, rbdio_image *img, const char *name);
/* Deferred cleanup, before the backup's own snapshot exists: the agent's snapshots
 * older (lower id) than the one SNAPCLEAN_LAST_KEY names, and librbd trash entries that
 * had such names, but never also (the snapshot being backed up, or ""), are removed on
 * a thread of their own. Nothing is removed when the key is unset, when it names no
 * snapshot, or with snap cleanup = immediate. */
void snapclean_start(snapclean *sc, const char *also);
/* Once the catalog is known, after the backup's snapshot exists (the caller joins
 * first), these of the agent's snapshots other than mine and parent are removed on a
 * thread while the backup goes on: those newer than the one SNAPCLEAN_LAST_KEY names
 * (all, if it is unset) that no committed backup uses (known(name, arg) == 0: left by a
 * run killed before its commit), and those older than parent (the snapshot of the newest
 * committed backup that still has one, the parent unless this is a full; or NULL: a run
 * killed between its commit and the metadata update leaves the key naming an older
 * snapshot). The key then names parent if it named one of those. Nothing when the key
 * names no snapshot, or with snap cleanup = immediate. */
void snapclean_orphans(snapclean *sc, const char *mine, const char *parent,
                       int (*known)(const char *snap, void *arg), void *arg);
/* Wait for the thread of snapclean_start or snapclean_orphans (if any) and forget what
 * it removed. */
void snapclean_join(snapclean *sc);
/* After the commit of the backup of snapshot snap: name it in SNAPCLEAN_LAST_KEY for the
 * next backup; with snap cleanup = immediate, or if that fails, remove the agent's other
 * snapshots now. */
void snapclean_committed(snapclean *sc, const char *snap);
/* Count and warn about a failed cleanup step done elsewhere (what failed, why). */
void snapclean_error(snapclean *sc, const char *what, const char *why);

#endif
