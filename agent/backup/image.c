/* image.c - one backup of one image: snapshot, diff since the parent, upload, commit, clean up. */
#include "agent/common/context.h"
#include "agent/backup/image.h"
#include "agent/repo/catalog.h"
#include "agent/repo/trust/head.h"
#include "agent/repo/trust/enckeys.h"
#include "agent/format/index.h"
#include "agent/backup/pipeline.h"
#include "agent/repo/writer.h"
#include "agent/repo/trust/retain.h"
#include "agent/config/policy.h"
#include "agent/backup/snapclean.h"
#include "agent/backup/due.h"
#include "agent/common/signals.h"
#include "agent/backup/resume.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct backup_job {
    ag_ctx *ctx;
    naming_spec spec;
    char name[NAMING_SPEC_MAX]; /* "pool/image" for messages */
    char prefix[2048];           /* image key prefix */
    rbdio_image *img;            /* head, read-write */
    rbdio_image *simg;           /* at the backup's snapshot */
    rbdio_lock *lock;            /* one backup of an image at a time */
    rbdio_info info;
    catalog cat;
    const cat_entry *parent;
    time_t lock_until;           /* retention of its objects (object lock), 0 for none */
    char id[NAMING_ID_LEN];
    char snap[NAMING_MAX];
    int created_snap;
    pthread_t snap_thread;       /* creates the snapshot while the bucket is read */
    int snap_thread_on;
    int snap_rc;
    char snap_why[512];
    snapclean clean;             /* removes the superseded snapshots meanwhile */
    int full_requested;
    ag_policy cmd_policy;        /* --full-every, --max-chain */
    char why_full[160];          /* why a full backup was forced, or "" */
    writer *w;                   /* data objects, index, manifest */
    manifest m;
    ckpt ck;                     /* the checkpoint resumed (resumed set) */
    int resumed;
    long long due;               /* run --due: seconds, 0 for none */
    int outcome;                 /* BACKUP_*: not due, or locked by another run */
    time_t last;                 /* the newest backup's time, when not due */
    pipeline_walk walk;          /* how the diff was walked */
} backup_job;

static int catalog_has(const backup_job *b, const char *id)
{
    for (size_t i = 0; i < b->cat.n; i++)
        if (strcmp(b->cat.e[i].id, id) == 0)
            return 1;
    return 0;
}

static int snap_taken(const char *id, void *arg)
{
    backup_job *b = arg;
    char snap[NAMING_MAX];
    snprintf(snap, sizeof(snap), NAMING_SNAP_PREFIX "%s", id);
    return rbdio_snap_exists(b->img, snap) == 1;
}

static int id_taken(const char *id, void *arg)
{
    return catalog_has(arg, id) || snap_taken(id, arg);
}

static void *snap_main(void *arg)
{
    backup_job *b = arg;
    b->snap_rc = rbdio_snap_create(b->img, b->snap);
    if (b->snap_rc < 0)
        snprintf(b->snap_why, sizeof(b->snap_why), "creating the snapshot: %s",
                 rbdio_last_error());
    return NULL;
}

/* The snapshot is created on a thread of its own while the bucket is read (a monitor
 * commit, the longest step of a small incremental), under an id taken from the clock and
 * free among the image's snapshots; the catalog confirms it afterwards. */
static void snapshot_start(backup_job *b)
{
    if (b->spec.at[0] != '\0' || naming_backup_id(time(NULL), snap_taken, b, b->id) < 0)
        return;
    snprintf(b->snap, sizeof(b->snap), NAMING_SNAP_PREFIX "%s", b->id);
    b->snap_thread_on = pthread_create(&b->snap_thread, NULL, snap_main, b) == 0;
}

/* Wait for the snapshot; 0, or -1 with the error set when fail_ok is 0. */
static int snapshot_join(backup_job *b, int fail_ok)
{
    if (!b->snap_thread_on)
        return 0;
    pthread_join(b->snap_thread, NULL);
    b->snap_thread_on = 0;
    b->created_snap = b->snap_rc == 0;
    if (b->snap_rc < 0 && !fail_ok)
        return ag_fail_rbd_why(b->ctx, b->snap_rc, b->snap_why);
    return 0;
}

/* The backup id: the early snapshot's, unless the bucket already holds a backup of that
 * id (a backup of a recreated image in the same second); then the snapshot is dropped and
 * the id chosen among both the bucket's and the image's. */
static int choose_id(backup_job *b)
{
    if (b->created_snap) {
        if (!catalog_has(b, b->id))
            return 0;
        int rc = rbdio_snap_remove(b->img, b->snap);
        if (rc < 0)
            return ag_fail_rbd(b->ctx, rc, "removing a snapshot of a taken id");
        b->created_snap = 0;
    }
    b->snap[0] = '\0';
    return naming_backup_id(time(NULL), id_taken, b, b->id) < 0
           ? ag_fail(b->ctx, AG_EFAIL, "cannot make a backup id") : 0;
}

/* The bucket side of prepare: the S3 client (the bucket is checked) and the catalog. */
static int read_bucket(backup_job *b)
{
    if (ag_check_key_room(b->ctx, &b->spec) < 0 || ag_s3(b->ctx) == NULL ||
        retain_begin(b->ctx, &b->lock_until) < 0)
        return -1;
    ag_debug(b->ctx, "bucket checked");
    if (catalog_load(b->ctx, &b->spec, &b->cat) < 0 ||
        enckeys_check_mix(b->ctx, &b->cat, &b->spec, b->full_requested) < 0 ||
        head_check(b->ctx, &b->cat, &b->spec, 0) < 0)
        return -1;
    ag_image_prefix(b->ctx, &b->spec, b->prefix, sizeof(b->prefix));
    return 0;
}

/* run --due, under the image's lock and once the bucket is read, so that of two runs
 * racing for the image the second sees the first one's backup: 1 due, 0 not due (the
 * outcome set). */
static int still_due(backup_job *b)
{
    if (b->due <= 0)
        return 1;
    b->last = due_newest(&b->cat);
    if (due_is_due(b->last, b->due, time(NULL)))
        return 1;
    b->outcome = BACKUP_NOT_DUE;
    return 0;
}

/* Not due after all: the early snapshot goes again. 1, or -1 (error recorded). */
static int drop_snapshot(backup_job *b)
{
    int rc = b->created_snap ? rbdio_snap_remove(b->img, b->snap) : 0;
    if (rc < 0)
        return ag_fail_rbd(b->ctx, rc, "removing the snapshot of a backup not due");
    b->created_snap = 0;
    return 1;
}

/* Everything that can be checked before the source is changed, but the snapshot: 0,
 * 1 when not due (nothing to do), -1 on error. */
static int prepare(backup_job *b)
{
    ag_ctx *ctx = b->ctx;
    rbdio_cluster *c = ag_cluster(ctx);
    if (c == NULL)
        return -1;
    int rc = rbdio_pool_check(c, b->spec.pool, b->spec.ns);
    if (rc < 0)
        return ag_fail_rbd(ctx, rc, b->name);
    ag_debug(ctx, "connected to the cluster");
    rbdio_spec rs = { b->spec.pool, b->spec.ns, b->spec.image };
    rc = rbdio_open(c, &rs, NULL, &b->img);
    if (rc < 0)
        return ag_fail_rbd(ctx, rc, b->name);
    if ((rc = rbdio_stat(b->img, &b->info)) < 0)
        return ag_fail_rbd(ctx, rc, b->name);
    rbdio_lock_conf lc = { ctx->opts.lock_duration, ctx->opts.lock_renewal, ctx->opts.host };
    rc = rbdio_lock_take(b->img, "rbd2s3-backup", &lc, &b->lock);
    if (rc == -EBUSY) {
        b->outcome = BACKUP_ELSEWHERE;
        return ag_fail(ctx, AG_EBUSY, "%s", rbdio_last_error());
    }
    if (rc < 0)
        return ag_fail_rbd(ctx, rc, b->name);
    if (rbdio_lock_note(b->lock)[0] != '\0')
        ag_debug(ctx, "%s", rbdio_lock_note(b->lock));
    if (b->spec.at[0] != '\0' && (rc = rbdio_snap_exists(b->img, b->spec.at)) != 1)
        return ag_fail(ctx, rc < 0 ? AG_EFAIL : AG_ENOTFOUND, "%s@%s: no such snapshot",
                       b->name, b->spec.at);
    ag_debug(ctx, "image open");
    snapclean_init(&b->clean, ctx, b->img, b->name);
    snapclean_start(&b->clean, b->spec.at);
    snapshot_start(b);
    rc = read_bucket(b);
    int due = rc < 0 || still_due(b);
    int src = snapshot_join(b, rc < 0 || !due);
    snapclean_join(&b->clean);
    if (src < 0 || rc < 0)
        return -1;
    return due ? choose_id(b) : drop_snapshot(b);
}

/* The newest committed backup of this very image whose snapshot still exists (and, in
 * an encrypted repository, that is encrypted and authenticated). */
static const cat_entry *find_parent(backup_job *b)
{
    for (size_t i = b->cat.n; i-- > 0;) {
        const cat_entry *e = &b->cat.e[i];
        if (strcmp(e->m.image_id, b->info.id) != 0 || !enckeys_parent_ok(b->ctx, e))
            continue;
        if (strcmp(e->m.snap_name, b->spec.at) == 0)
            continue;
        if (rbdio_snap_exists(b->img, e->m.snap_name) == 1)
            return e;
    }
    return NULL;
}

/* The length of the chain ending at e and its full (NULL if a parent is missing). */
static const cat_entry *chain_full(const backup_job *b, const cat_entry *e, int *len)
{
    *len = 1;
    while (e != NULL && !e->m.full && *len <= (int)b->cat.n) {
        const cat_entry *p = NULL;
        for (size_t i = 0; i < b->cat.n && p == NULL; i++)
            if (strcmp(b->cat.e[i].id, e->m.parent_id) == 0)
                p = &b->cat.e[i];
        e = p;
        (*len)++;
    }
    return e;
}

/* --max-chain and --full-every: may a new incremental go on the chain of parent? */
static int chain_allows(backup_job *b, const cat_entry *parent)
{
    ag_policy pol;
    policy_resolve(b->ctx, b->spec.pool, b->spec.ns, &b->cmd_policy, &pol);
    int len;
    const cat_entry *full = chain_full(b, parent, &len);
    if (full == NULL) {
        snprintf(b->why_full, sizeof(b->why_full), "the chain of %s is incomplete",
                 parent->id);
        return 0;
    }
    if (pol.max_chain > 0 && len >= pol.max_chain) {
        snprintf(b->why_full, sizeof(b->why_full), "the chain has %d backups (max chain %d)",
                 len, pol.max_chain);
        return 0;
    }
    time_t t = full->m.snap_time != 0 ? full->m.snap_time : full->m.created;
    if (pol.full_every > 0 && (long long)(time(NULL) - t) >= pol.full_every) {
        snprintf(b->why_full, sizeof(b->why_full), "the full %s is older than full every "
                 "(%llds)", full->id, pol.full_every);
        return 0;
    }
    return 1;
}

static void choose_parent(backup_job *b)
{
    if (b->full_requested)
        return;
    const cat_entry *p = find_parent(b);
    if (p != NULL && chain_allows(b, p))
        b->parent = p;
}

static int take_snapshot(backup_job *b)
{
    ag_ctx *ctx = b->ctx;
    int rc;
    if (b->spec.at[0] != '\0') {
        snprintf(b->snap, sizeof(b->snap), "%s", b->spec.at);
    } else if (!b->created_snap) {
        snprintf(b->snap, sizeof(b->snap), NAMING_SNAP_PREFIX "%s", b->id);
        if ((rc = rbdio_snap_create(b->img, b->snap)) < 0)
            return ag_fail_rbd(ctx, rc, "creating the snapshot");
        b->created_snap = 1;
    }
    rbdio_spec rs = { b->spec.pool, b->spec.ns, b->spec.image };
    if ((rc = rbdio_open(ag_cluster(ctx), &rs, b->snap, &b->simg)) < 0)
        return ag_fail_rbd(ctx, rc, "opening the snapshot");
    return 0;
}

/* The manifest's fields from the snapshot; -1 (error recorded) if its geometry, id or
 * time cannot be read: a manifest never records snapshot id 0 or a 1970 time. */
static int fill_manifest(backup_job *b)
{
    manifest *m = &b->m;
    rbdio_info si;
    rbdio_snap sn;
    int rc;
    if ((rc = rbdio_stat(b->simg, &si)) < 0 || (rc = rbdio_snap_get(b->img, b->snap, &sn)) < 0)
        return ag_fail_rbd(b->ctx, rc, "reading the backup's snapshot");
    snprintf(m->id, sizeof(m->id), "%s", b->id);
    snprintf(m->tool, sizeof(m->tool), "rbd2s3 " PACKAGE_VERSION);
    snprintf(m->pool, sizeof(m->pool), "%s", b->spec.pool);
    snprintf(m->ns, sizeof(m->ns), "%s", b->spec.ns);
    snprintf(m->image, sizeof(m->image), "%s", b->spec.image);
    snprintf(m->image_id, sizeof(m->image_id), "%s", b->info.id);
    m->size = si.size;
    m->order = si.order;
    m->features = si.features;
    m->stripe_unit = si.stripe_unit;
    m->stripe_count = si.stripe_count;
    snprintf(m->snap_name, sizeof(m->snap_name), "%s", b->snap);
    m->snap_id = sn.id;
    m->snap_time = (time_t)sn.timestamp;
    m->full = b->parent == NULL;
    if (b->parent != NULL) {
        snprintf(m->parent_id, sizeof(m->parent_id), "%s", b->parent->id);
        snprintf(m->parent_snap, sizeof(m->parent_snap), "%s", b->parent->m.snap_name);
    }
    enckeys_follow(b->ctx, &b->cat, b->parent, m);
    m->chunk_size = b->ctx->opts.tun.chunk_size;
    if (manifest_set_labels(m, b->ctx->opts.labels) < 0)
        return ag_fail(b->ctx, AG_EFAIL, "out of memory");
    return 0;
}

/* A failed backup that wrote or resumed a checkpoint keeps it (with its objects and
 * snapshot) for the next backup to resume; 1 when so. */
static int keep_checkpoint(backup_job *b)
{
    if (!b->resumed && !writer_checkpointed(b->w))
        return 0;
    writer_suspend(b->w);
    if (b->simg != NULL) {
        rbdio_close(b->simg);
        b->simg = NULL;
    }
    ag_pending(NULL);
    ag_info(b->ctx, "%s: checkpoint of backup %s kept: the next backup resumes it", b->name,
            b->id);
    return 1;
}

static void undo(backup_job *b)
{
    if (keep_checkpoint(b))
        return;
    writer_abort(b->w);
    if (b->simg != NULL) {
        rbdio_close(b->simg);
        b->simg = NULL;
    }
    if (b->created_snap && rbdio_snap_remove(b->img, b->snap) < 0)
        snapclean_error(&b->clean, "cannot remove the failed backup's snapshot",
                        rbdio_last_error());
    ag_pending(NULL);
}

/* Does a committed backup of the catalog use snapshot snap? */
static int snap_committed(const char *snap, void *arg)
{
    const backup_job *b = arg;
    for (size_t i = 0; i < b->cat.n; i++)
        if (strcmp(b->cat.e[i].m.snap_name, snap) == 0)
            return 1;
    return 0;
}

/* Continue from the checkpoint of an interrupted backup of the image, if one can be
 * used: its id, snapshot and parent replace the ones prepare chose (the snapshot it made
 * is removed). 0 (b->resumed says whether) or -1 (error recorded). */
static int resume_check(backup_job *b)
{
    const cat_entry *parent;
    int rc = resume_pick(b->ctx, b->img, b->info.id, b->spec.at, b->prefix, &b->cat, b->name,
                         &b->ck, &parent);
    if (rc <= 0)
        return rc;
    if (b->created_snap && strcmp(b->snap, b->ck.snap) != 0 &&
        rbdio_snap_remove(b->img, b->snap) < 0)
        snapclean_error(&b->clean, "cannot remove a snapshot not needed", rbdio_last_error());
    b->created_snap = b->spec.at[0] == '\0';
    snprintf(b->id, sizeof(b->id), "%s", b->ck.id);
    snprintf(b->snap, sizeof(b->snap), "%s", b->ck.snap);
    b->parent = parent;
    b->resumed = 1;
    ag_info(b->ctx, "%s: resuming backup %s at %llu MiB", b->name, b->id,
            (unsigned long long)(b->ck.pos >> 20));
    return 0;
}

/* Checkpoints from now on, and the resumed checkpoint's records and objects. */
static int writer_resumed(backup_job *b)
{
    if (writer_checkpoint_begin(b->w, &b->m) < 0)
        return -1;
    return b->resumed ? writer_resume(b->w, &b->m, &b->ck) : 0;
}

static int run_backup(backup_job *b)
{
    ag_ctx *ctx = b->ctx;
    int rc = prepare(b);
    if (rc != 0)
        return rc;
    if (resume_check(b) < 0)
        return -1;
    ag_debug(ctx, "image opened, %zu backups in the bucket", b->cat.n);
    if (!b->resumed)
        choose_parent(b);
    if (take_snapshot(b) < 0)
        return -1;
    const cat_entry *last = b->parent != NULL ? b->parent : find_parent(b);
    snapclean_orphans(&b->clean, b->snap, last != NULL ? last->m.snap_name : NULL,
                      snap_committed, b);
    if (b->created_snap)
        ag_pending("snapshot %s@%s of the unfinished backup not removed", b->name, b->snap);
    ag_debug(ctx, "snapshot %s ready", b->snap);
    if (fill_manifest(b) < 0)
        return -1;
    ag_info(ctx, "backing up %s@%s (%s%s%s)", b->name, b->snap,
            b->parent ? "incremental" : "full", b->why_full[0] ? ": " : "", b->why_full);
    if (writer_open(ctx, b->prefix, b->id, &b->w) < 0 || writer_resumed(b) < 0)
        return -1;
    progress prog;
    progress_start(&prog, ctx, "Backing up", b->name);
    rc = pipeline_backup_from(ctx, b->simg, b->parent ? b->parent->m.snap_name : NULL,
                              b->resumed ? b->ck.pos : 0, b->m.size, ctx->opts.checkpoint_every,
                              b->w, &b->m, &prog, &b->walk);
    progress_end(&prog, rc == 0);
    if (rc < 0)
        return -1;
    ag_debug(ctx, "data read and queued");
    if (writer_commit(b->w, &b->m) < 0)
        return -1;
    writer_checkpoint_drop(b->w);
    return 0;
}

int backup_image(ag_ctx *ctx, const naming_spec *spec, int full, const ag_policy *cmd,
                 const backup_image_opts *opts, backup_image_result *res,
                 manifest *committed)
{
    backup_job b;
    memset(&b, 0, sizeof(b));
    b.ctx = ctx;
    b.spec = *spec;
    b.full_requested = full;
    b.due = opts != NULL ? opts->due : 0;
    if (cmd != NULL)
        b.cmd_policy = *cmd;
    else
        policy_unset(&b.cmd_policy);
    manifest_init(&b.m);
    naming_spec_str(&b.spec, b.name, sizeof(b.name));
    int rc = run_backup(&b);
    snapclean_join(&b.clean);
    if (rc > 0) {
        ag_debug(ctx, "not due: nothing made");
    } else if (rc == 0) {
        ag_pending(NULL);
        ag_debug(ctx, "committed");
        retain_chain(ctx, &b.cat, b.parent ? b.parent - b.cat.e : -1, b.lock_until);
        snapclean_committed(&b.clean, b.snap);
        if (res != NULL) {
            snprintf(res->id, sizeof(res->id), "%s", b.m.id);
            res->full = b.m.full;
            res->data_bytes = b.m.data_bytes;
            res->stored_bytes = b.m.stored_bytes;
            res->resumed = b.resumed;
            res->run_data_bytes = b.m.data_bytes - (b.resumed ? b.ck.data_bytes : 0);
            res->run_stored_bytes = b.m.stored_bytes - (b.resumed ? b.ck.stored_bytes : 0);
        }
        if (committed != NULL) {
            *committed = b.m;          /* moved: the caller clears it */
            manifest_init(&b.m);
        }
    } else {
        undo(&b);
    }
    retain_end(ctx);
    if (res != NULL) {
        res->cleanup_errors = b.clean.errors;
        res->outcome = b.outcome;
        res->last = b.last;
        res->walk = b.walk;
    }
    writer_free(b.w);
    if (b.simg != NULL)
        rbdio_close(b.simg);
    rbdio_lock_release(b.lock);
    if (b.img != NULL)
        rbdio_close(b.img);
    catalog_free(&b.cat);
    ckpt_clear(&b.ck);
    manifest_clear(&b.m);
    ag_watchdog_disarm();         /* this image's cleanup is over (run goes on) */
    return rc < 0 ? -1 : 0;
}
