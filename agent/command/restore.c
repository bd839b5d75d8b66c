/* restore.c - the restore command: a restore point's chain into a new image (any
 * cluster), a file or stdout; merged newest-first, or replayed backup by backup; or,
 * with --onto, an existing image caught up. */
#include "agent/common/context.h"
#include "agent/command/command.h"
#include "agent/repo/catalog.h"
#include "agent/repo/chain.h"
#include "agent/repo/trust/head.h"
#include "agent/repo/asof.h"
#include "agent/restore/apply.h"
#include "agent/restore/ordered.h"
#include "agent/format/index.h"
#include "agent/config/options.h"
#include "agent/restore/plan.h"
#include "agent/common/progress.h"
#include "agent/restore/target.h"
#include "agent/restore/onto.h"
#include "agent/restore/walk.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* One restore: the restore point, its chain, the destination. */
typedef struct restore_job {
    ag_ctx *ctx;
    naming_spec spec;
    char name[NAMING_SPEC_MAX];
    catalog cat;
    chain ch;                 /* the restore point's */
    walk_set set;             /* its indexes read as streams */
    /* destination */
    const char *to_file;
    int fd;                   /* stdout, or the target's file: t.fd */
    int is_stdout;
    int fresh_file;           /* a new (partial) file: reads as zeros */
    naming_spec dest;
    char dest_name[NAMING_SPEC_MAX];
    const char *dest_conf;
    const char *dest_id;
    rbdio_cluster *dcluster;
    int own_dcluster;
    target t;                 /* the partial image or file (t.img, t.fd) */
    int replay;
    const char *as_of;        /* --as-of TIME, or NULL */
    int onto;                 /* --onto: catch up the existing DEST */
    int force;                /* --force: and revert what was written on it */
    onto_result done;         /* what --onto did */
} restore_job;

static const manifest *chain_m(const restore_job *r, size_t i)
{
    return r->ch.v[i].m;
}

static int resolve(restore_job *r)
{
    ag_ctx *ctx = r->ctx;
    if (asof_open_spec(ctx, r->as_of, &r->spec) < 0 || catalog_load(ctx, &r->spec, &r->cat) < 0)
        return -1;
    if (r->spec.at[0] == '\0' && head_check(ctx, &r->cat, &r->spec, 1) < 0)
        return -1;
    long t = catalog_find(ctx, &r->cat, &r->spec, r->spec.at);
    return t < 0 ? -1 : chain_open(ctx, &r->cat, (size_t)t, &r->ch);
}

/* The destination cluster (--dest-ceph-conf, --dest-id, or the source's), and DEST's
 * pool and namespace there. */
static int connect_dest(restore_job *r)
{
    return target_cluster(r->ctx, r->dest_conf, r->dest_id, r->dest.pool, r->dest.ns,
                          r->dest_name, &r->dcluster, &r->own_dcluster);
}

/* The destination checked and, for a file, opened before any download: stdout, a
 * block device, or the partial file; an image DEST and its partial name are free. */
static int check_dest(restore_job *r)
{
    ag_ctx *ctx = r->ctx;
    char source[1700];
    snprintf(source, sizeof(source), "%s@%s", r->name, chain_m(r, r->ch.n - 1)->id);
    target_init(&r->t, ctx, source);
    if (r->to_file != NULL) {
        r->is_stdout = strcmp(r->to_file, "-") == 0;
        if (r->is_stdout) {
            r->fd = STDOUT_FILENO;
            return 0;
        }
        if (target_file_open(&r->t, r->to_file) < 0)
            return -1;
        r->fd = r->t.fd;
        r->fresh_file = !r->t.is_blk;
        return 0;
    }
    if (connect_dest(r) < 0)
        return -1;
    return target_image_prepare(&r->t, r->dcluster, r->dest.pool, r->dest.ns, r->dest.image,
                                r->dest_name);
}

static int open_target(restore_job *r, const manifest *m)
{
    ag_ctx *ctx = r->ctx;
    if (r->to_file != NULL) {
        if (r->fresh_file && ftruncate(r->fd, (off_t)m->size) < 0)
            return ag_fail(ctx, AG_EFAIL, "%s: %s", r->t.part_path, strerror(errno));
        return 0;
    }
    rbdio_info geom = { .size = m->size, .order = m->order, .features = m->features,
                        .stripe_unit = m->stripe_unit, .stripe_count = m->stripe_count };
    return target_image_create(&r->t, &geom);
}

/* Apply the backups of set (chain members first.. merged), window by window, into the
 * open target; what: the progress line's name (an image or a file: stdout carries the
 * data and gets none). */
static int apply(restore_job *r, walk_set *set, size_t first, int fresh, const char *what)
{
    ag_ctx *ctx = r->ctx;
    if (r->is_stdout)
        return walk_ordered_fd(ctx, set, r->fd);
    progress prog;
    progress_start(&prog, ctx, "Restoring", what);
    apply_sink sink = { .img = r->t.img, .fd = r->t.img ? -1 : r->fd,
                        .fresh = r->t.img ? fresh : (fresh && r->fresh_file),
                        .keep_holes = !chain_m(r, first)->full, .prog = &prog };
    int rc = walk_apply(ctx, set, &sink, chain_m(r, first + set->n - 1)->size);
    progress_end(&prog, rc == 0);
    return rc;
}

/* The point's snapshot on an image target, and the image-meta naming the source image
 * (restore --onto checks that its snapshots are of this image's backups). */
static int finish_point(restore_job *r, const manifest *m)
{
    if (r->t.img == NULL)
        return 0;
    int rc = rbdio_flush(r->t.img);
    if (rc == 0)
        rc = rbdio_snap_create(r->t.img, m->snap_name);
    if (rc < 0)
        return ag_fail_rbd(r->ctx, rc, "creating the snapshot on the destination");
    if ((rc = rbdio_meta_set(r->t.img, TARGET_SOURCE_META, r->name)) < 0)
        return ag_fail_rbd(r->ctx, rc, r->t.part_name);
    return 0;
}

static int run_replay(restore_job *r)
{
    for (size_t i = 0; i < r->ch.n; i++) {
        const manifest *m = chain_m(r, i);
        if (i > 0 && r->t.img != NULL) {
            int rc = rbdio_resize(r->t.img, m->size);
            if (rc < 0)
                return ag_fail_rbd(r->ctx, rc, "resizing the destination");
        }
        ag_info(r->ctx, "applying backup %s (%zu of %zu)", m->id, i + 1, r->ch.n);
        char what[1700];
        snprintf(what, sizeof(what), "%s@%s", r->name, m->id);
        walk_set one = walk_set_sub(&r->set, i, 1);
        if (apply(r, &one, i, i == 0, what) < 0 || finish_point(r, m) < 0)
            return -1;
    }
    return 0;
}

/* --onto: the existing DEST caught up (agent/restore/onto.c). */
static int run_onto(restore_job *r)
{
    if (ag_s3(r->ctx) == NULL || resolve(r) < 0 || connect_dest(r) < 0)
        return -1;
    onto_target t = { r->dcluster, r->dest.pool, r->dest.ns, r->dest.image, r->dest_name,
                      r->name, r->force };
    return onto_restore(r->ctx, &r->ch, &t, &r->done);
}

static int run_restore(restore_job *r)
{
    ag_ctx *ctx = r->ctx;
    if (r->onto)
        return run_onto(r);
    if (ag_s3(ctx) == NULL || resolve(r) < 0 || check_dest(r) < 0)
        return -1;
    /* the indexes are checked whole (idxstream_open) before the target is made */
    if (walk_set_chain(ctx, &r->ch, 0, r->ch.n, &r->set) < 0)
        return -1;
    const manifest *point = chain_m(r, r->ch.n - 1);
    if (open_target(r, r->replay ? chain_m(r, 0) : point) < 0)
        return -1;
    const char *into = r->is_stdout ? "stdout" : r->t.is_blk ? r->to_file
                       : r->to_file ? r->t.part_path : r->t.part_name;
    ag_info(ctx, "restoring %s@%s (%zu backup%s in the chain) into %s%s", r->name, point->id,
            r->ch.n, r->ch.n == 1 ? "" : "s", into,
            r->is_stdout || r->t.is_blk ? "" : " (renamed at the end)");
    if (r->replay && r->to_file == NULL)
        return run_replay(r) < 0 ? -1 : target_commit(&r->t);
    if (apply(r, &r->set, 0, 1, r->name) < 0 || finish_point(r, point) < 0)
        return -1;
    return r->is_stdout ? 0 : target_commit(&r->t);
}

static void cleanup(restore_job *r, int failed)
{
    walk_set_free(&r->set);
    target_close(&r->t, failed);
    if (r->own_dcluster)
        rbdio_disconnect(r->dcluster);
    chain_free(&r->ch);
    catalog_free(&r->cat);
    asof_close(r->ctx);
}

static int parse(restore_job *r, int argc, char **argv)
{
    ag_ctx *ctx = r->ctx;
    const char *replay = NULL, *onto = NULL, *force = NULL;
    opts_cmd spec[] = {
        { "dest-ceph-conf", 1, &r->dest_conf }, { "dest-id", 1, &r->dest_id },
        { "replay", 0, &replay }, { "to-file", 1, &r->to_file }, { "as-of", 1, &r->as_of },
        { "onto", 0, &onto }, { "force", 0, &force },
    };
    char **pos;
    int npos;
    if (opts_parse_command(ctx, argc, argv, spec, 7, &pos, &npos) < 0)
        return -1;
    r->replay = replay != NULL;
    r->onto = onto != NULL;
    r->force = force != NULL;
    if (npos != (r->to_file ? 1 : 2) || (r->onto && (r->to_file || r->replay)) ||
        (r->force && !r->onto))
        return ag_fail(ctx, AG_EUSAGE, "usage: restore [--as-of TIME] POOL/IMAGE[@BACKUP] "
                       "(DEST_POOL/DEST_IMAGE [--replay | --onto [--force]] | "
                       "--to-file PATH|-)");
    if (naming_parse_spec(pos[0], 1, &r->spec) < 0)
        return ag_fail(ctx, AG_EUSAGE, "'%s': expected POOL/IMAGE[@BACKUP]", pos[0]);
    if (npos == 2 && naming_parse_spec(pos[1], 0, &r->dest) < 0)
        return ag_fail(ctx, AG_EUSAGE, "'%s': expected DEST_POOL/DEST_IMAGE", pos[1]);
    naming_spec_str(&r->spec, r->name, sizeof(r->name));
    naming_spec_str(&r->dest, r->dest_name, sizeof(r->dest_name));
    return 0;
}

/* --onto's human line. */
static void report_onto_line(const restore_job *r, const char *id)
{
    const onto_result *d = &r->done;
    if (d->uptodate) {
        printf("%s already holds %s@%s (snapshot %s): nothing to do\n", r->dest_name, r->name,
               id, d->from->snap_name);
        return;
    }
    printf("%s@%s caught up onto %s from %s: %llu bytes written, %llu bytes discarded, %llu "
           "already zero%s\n", r->name, id, r->dest_name, d->from->id,
           (unsigned long long)d->written, (unsigned long long)d->discarded,
           (unsigned long long)d->skipped, d->reverted ? " (its own changes reverted)" : "");
}

static void add_onto_json(json_object *o, const onto_result *d)
{
    json_object_object_add(o, "onto", json_object_new_boolean(1));
    json_object_object_add(o, "from", json_object_new_string(d->from->id));
    json_object_object_add(o, "up_to_date", json_object_new_boolean(d->uptodate));
    json_object_object_add(o, "bytes_written", json_object_new_int64((int64_t)d->written));
    json_object_object_add(o, "bytes_discarded",
                           json_object_new_int64((int64_t)d->discarded));
    json_object_object_add(o, "bytes_already_zero",
                           json_object_new_int64((int64_t)d->skipped));
    json_object_object_add(o, "bytes_reverted", json_object_new_int64((int64_t)d->reverted));
    json_object_object_add(o, "ranges", json_object_new_int64((int64_t)d->nranges));
}

/* The line (or JSON document) of a restore that succeeded. */
static void report(const restore_job *r)
{
    const char *id = chain_m(r, r->ch.n - 1)->id;
    const char *to = r->to_file ? r->to_file : r->dest_name;
    if (!r->ctx->opts.json) {
        if (r->onto)
            report_onto_line(r, id);
        else
            printf("%s@%s restored to %s\n", r->name, id, to);
        return;
    }
    json_object *o = json_object_new_object();
    json_object_object_add(o, "image", json_object_new_string(r->name));
    json_object_object_add(o, "id", json_object_new_string(id));
    json_object_object_add(o, "destination", json_object_new_string(to));
    json_object_object_add(o, "chain", json_object_new_int64((int64_t)r->ch.n));
    if (r->onto)
        add_onto_json(o, &r->done);
    puts(json_object_to_json_string_ext(o, AG_JSON_OUT));
    json_object_put(o);
}

int cmd_restore(ag_ctx *ctx, int argc, char **argv)
{
    for (int i = 0; i < argc && strcmp(argv[i], "--") != 0; i++)
        if (strcmp(argv[i], "--instant") == 0)
            return cmd_restore_instant(ctx, argc, argv);
    restore_job r;
    memset(&r, 0, sizeof(r));
    r.ctx = ctx;
    r.fd = -1;
    target_init(&r.t, ctx, "");
    if (parse(&r, argc, argv) < 0)
        return ctx->exit_code;
    int rc = run_restore(&r);
    if (rc == 0 && !r.is_stdout)
        report(&r);
    cleanup(&r, rc < 0);
    return ctx->exit_code;
}
