/* snapclean.c - removing the agent's superseded rbd2s3- snapshots of an image.
 *
 * Deferred (the default): after a commit the image's metadata SNAPCLEAN_LAST_KEY names
 * the backup's snapshot; the agent's older snapshots are superseded then, but they are
 * removed only at the start of the next backup, on a thread of their own while its
 * snapshot is created: both monitor commits become one. Nothing is removed unless the
 * named snapshot exists, and at the start only snapshots older than it (lower id): a
 * backup killed after its commit but before it set the key has a newer snapshot, the
 * catalog's newest committed backup whose snapshot exists; once the catalog is known,
 * that one is kept, older ones go, and the key is moved to it. A snapshot left in
 * librbd's trash namespace by a removal cut short is removed by id, whatever its id. */
#include "agent/backup/snapclean.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void snapclean_init(snapclean *sc, ag_ctx *ctx, rbdio_image *img, const char *name)
{
    memset(sc, 0, sizeof(*sc));
    sc->ctx = ctx;
    sc->img = img;
    sc->name = name;
}

void snapclean_error(snapclean *sc, const char *what, const char *why)
{
    sc->errors++;
    ag_info(sc->ctx, "warning: %s: snapshot cleanup: %s: %s", sc->name, what, why);
}

/* Remove one collected snapshot. Gone already is not an error, nor is a trash entry
 * that clones still use (librbd removes it with its last clone). */
static void remove_one(snapclean *sc, const snapclean_item *it)
{
    char what[NAMING_MAX + 64];
    int rc = it->trash ? rbdio_snap_remove_id(sc->img, it->id)
                       : rbdio_snap_remove(sc->img, it->name);
    snprintf(what, sizeof(what), "cannot remove old snapshot %s%s", it->name,
             it->trash ? " (in librbd's trash)" : "");
    if (rc == -ENOENT || (rc == -EBUSY && it->trash))
        ag_debug(sc->ctx, "old snapshot %s@%s%s: %s", sc->name, it->name,
                 it->trash ? " (trash)" : "", rbdio_last_error());
    else if (rc < 0)
        snapclean_error(sc, what, rbdio_last_error());
    else
        ag_debug(sc->ctx, "removed old snapshot %s@%s%s", sc->name, it->name,
                 it->trash ? " (trash)" : "");
}

static void *remove_all(void *arg)
{
    snapclean *sc = arg;
    for (int i = 0; i < sc->nold; i++)
        remove_one(sc, &sc->old[i]);
    return NULL;
}

/* Add to sc->old the agent's snapshots among snaps[0..n) but keep and also; with
 * below != 0 only those of a lower id, but trash entries whatever their id (no backup
 * can use one). */
static void add_agent_snaps(snapclean *sc, const rbdio_snap *snaps, int n, int trash,
                            const char *keep, const char *also, uint64_t below)
{
    size_t plen = strlen(NAMING_SNAP_PREFIX);
    for (int i = 0; i < n; i++) {
        if (strncmp(snaps[i].name, NAMING_SNAP_PREFIX, plen) != 0 ||
            (!trash && (strcmp(snaps[i].name, keep) == 0 || strcmp(snaps[i].name, also) == 0)) ||
            (!trash && below != 0 && snaps[i].id >= below))
            continue;
        snapclean_item *it = &sc->old[sc->nold++];
        snprintf(it->name, sizeof(it->name), "%s", snaps[i].name);
        it->id = snaps[i].id;
        it->trash = trash;
    }
}

static uint64_t snap_id_of(const rbdio_snap *snaps, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(snaps[i].name, name) == 0)
            return snaps[i].id;
    return 0;
}

/* Into sc->old: the agent's snapshots (and trash entries) other than keep and also; with
 * older_only only those older than keep, and none when keep does not exist. */
static void collect(snapclean *sc, const char *keep, const char *also, int older_only)
{
    rbdio_snap *snaps = NULL, *trash = NULL;
    int n = 0, nt = 0;
    if (rbdio_snap_list(sc->img, &snaps, &n) < 0 ||
        rbdio_snap_list_trash(sc->img, &trash, &nt) < 0) {
        snapclean_error(sc, "cannot list the snapshots, none removed", rbdio_last_error());
        free(snaps);
        return;
    }
    uint64_t keep_id = snap_id_of(snaps, n, keep);
    if (older_only)
        sc->last_id = keep_id;
    if (older_only && keep_id == 0) {
        ag_debug(sc->ctx, "%s names no snapshot of the image: none removed",
                 SNAPCLEAN_LAST_KEY);
    } else if ((sc->old = calloc((size_t)n + (size_t)nt + 1, sizeof(*sc->old))) == NULL) {
        snapclean_error(sc, "cannot list the snapshots, none removed", "out of memory");
    } else {
        add_agent_snaps(sc, snaps, n, 0, keep, also, older_only ? keep_id : 0);
        add_agent_snaps(sc, trash, nt, 1, keep, also, older_only ? keep_id : 0);
    }
    free(snaps);
    free(trash);
}

/* Remove what was collected on a thread of its own (inline if none can be started). */
static void start_removal(snapclean *sc)
{
    if (sc->nold > 0)
        sc->thread_on = pthread_create(&sc->thread, NULL, remove_all, sc) == 0;
    if (sc->nold > 0 && !sc->thread_on)
        remove_all(sc);
}

void snapclean_start(snapclean *sc, const char *also)
{
    char last[NAMING_MAX];
    if (sc->ctx->opts.snap_now)
        return;
    int rc = rbdio_meta_get(sc->img, SNAPCLEAN_LAST_KEY, last, sizeof(last));
    sc->orphans_on = rc == -ENOENT;      /* no deferred backup committed yet */
    if (rc == -ENOENT)
        return;
    if (rc < 0) {
        snapclean_error(sc, "cannot read " SNAPCLEAN_LAST_KEY ", none removed",
                        rbdio_last_error());
        return;
    }
    collect(sc, last, also, 1);
    sc->orphans_on = sc->last_id != 0;
    start_removal(sc);
}

/* An agent's snapshot that the orphans pass removes: not mine nor the parent's, and
 * either newer than the one SNAPCLEAN_LAST_KEY names and used by no committed backup, or
 * older than the parent's (superseded: the parent is the newest committed backup whose
 * snapshot exists, which a kill before the metadata update leaves newer than the key). */
static int orphan_or_superseded(const snapclean *sc, const rbdio_snap *s, const char *mine,
                                uint64_t parent_id,
                                int (*known)(const char *snap, void *arg), void *arg)
{
    if (strncmp(s->name, NAMING_SNAP_PREFIX, strlen(NAMING_SNAP_PREFIX)) != 0 ||
        strcmp(s->name, mine) == 0 || s->id == parent_id)
        return 0;
    if (parent_id != 0 && s->id >= sc->last_id && s->id < parent_id)
        return 1;     /* older ones were snapclean_start's to remove */
    return s->id > sc->last_id && !known(s->name, arg);
}

/* The snapshot SNAPCLEAN_LAST_KEY names is older than parent's and goes: the key names
 * parent from now on, so that a kill before this backup's commit leaves no stale key
 * (which would stop every removal). */
static void name_parent(snapclean *sc, const char *parent)
{
    if (rbdio_meta_set(sc->img, SNAPCLEAN_LAST_KEY, parent) < 0)
        snapclean_error(sc, "cannot set " SNAPCLEAN_LAST_KEY, rbdio_last_error());
    else
        ag_debug(sc->ctx, "%s names %s, the newest committed backup's", SNAPCLEAN_LAST_KEY,
                 parent);
}

void snapclean_orphans(snapclean *sc, const char *mine, const char *parent,
                       int (*known)(const char *snap, void *arg), void *arg)
{
    rbdio_snap *snaps = NULL;
    int n = 0;
    if (!sc->orphans_on)
        return;
    if (rbdio_snap_list(sc->img, &snaps, &n) < 0) {
        snapclean_error(sc, "cannot list the snapshots, none removed", rbdio_last_error());
        return;
    }
    uint64_t parent_id = parent != NULL ? snap_id_of(snaps, n, parent) : 0;
    if (parent_id > sc->last_id && sc->last_id != 0)
        name_parent(sc, parent);
    sc->old = calloc((size_t)n + 1, sizeof(*sc->old));
    for (int i = 0; sc->old != NULL && i < n; i++) {
        if (!orphan_or_superseded(sc, &snaps[i], mine, parent_id, known, arg))
            continue;
        ag_debug(sc->ctx, "%s@%s: %s", sc->name, snaps[i].name,
                 snaps[i].id > sc->last_id && !known(snaps[i].name, arg)
                 ? "no committed backup uses it" : "older than the parent's snapshot");
        snprintf(sc->old[sc->nold].name, NAMING_MAX, "%s", snaps[i].name);
        sc->old[sc->nold++].id = snaps[i].id;
    }
    free(snaps);
    start_removal(sc);
}

void snapclean_join(snapclean *sc)
{
    if (sc->thread_on)
        pthread_join(sc->thread, NULL);
    sc->thread_on = 0;
    free(sc->old);
    sc->old = NULL;
    sc->nold = 0;
}

void snapclean_committed(snapclean *sc, const char *snap)
{
    if (!sc->ctx->opts.snap_now) {
        if (rbdio_meta_set(sc->img, SNAPCLEAN_LAST_KEY, snap) == 0) {
            ag_debug(sc->ctx, "the next backup removes the older snapshots");
            return;
        }
        snapclean_error(sc, "cannot set " SNAPCLEAN_LAST_KEY ", removing the older "
                        "snapshots now", rbdio_last_error());
    }
    collect(sc, snap, "", 0);
    remove_all(sc);
    snapclean_join(sc);
    ag_debug(sc->ctx, "old snapshots removed");
}
