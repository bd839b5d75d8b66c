/* instant.c - `restore --instant`: the target is created by librbd's import-only live
 * migration from the backup point served by rbd2s3 itself on loopback, usable at once,
 * then filled (execute), committed and given the backup's snapshot; --detach, --resume. */
#include "agent/command/instant/instant.h"
#include "agent/command/command.h"
#include "agent/common/progress.h"
#include "agent/common/signals.h"
#include "agent/config/options.h"
#include "agent/restore/reader.h"
#include "agent/restore/target.h"

#include <errno.h>
#include <json-c/json.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* The backup point: its id, geometry and snapshot name, through the engine's reader. */
static int resolve(instant_job *j)
{
    char why[1024];
    reader *r = NULL;
    int code = reader_open(j->ctx, &j->spec, NULL, &r, why, sizeof(why));
    if (code != 0)
        return ag_fail(j->ctx, code, "%s", why);
    const manifest *m = reader_manifest(r);
    snprintf(j->id, sizeof(j->id), "%s", reader_backup_id(r));
    snprintf(j->snap_name, sizeof(j->snap_name), "%s", m->snap_name);
    j->geom = (rbdio_info){ .size = m->size, .order = m->order, .features = m->features,
                            .stripe_unit = m->stripe_unit, .stripe_count = m->stripe_count };
    reader_close(r);
    return 0;
}

/* The target's state against what the run asks: free for a new restore, in our migration
 * for --resume (*state gets it). Refusals: one line, exit 7 (3: nothing to resume). */
static int check_target(instant_job *j, rbdio_mig_state *state)
{
    ag_ctx *ctx = j->ctx;
    rbdio_migration m;
    char id[NAMING_MAX];
    int rc = rbdio_migration_get(j->dcluster, &j->dspec, &m);
    *state = m.state;
    if (rc == -ENOENT && !j->resume)
        return 0;
    if (rc == -ENOENT)
        return ag_fail(ctx, AG_ENOTFOUND, "%s: no such image: nothing to resume",
                       j->dest_name);
    if (rc < 0)
        return ag_fail_rbd(ctx, rc, j->dest_name);
    if (m.state == RBDIO_MIG_NONE)
        return ag_fail(ctx, AG_EEXIST, "%s: destination image already exists%s", j->dest_name,
                       j->resume ? " and is not in a migration: nothing to resume" : "");
    if (!instant_spec_ours(j, m.source_spec, &j->port, id))
        return ag_fail(ctx, AG_EEXIST, "%s: in a migration that is not an instant restore "
                       "of %s%s%s", j->dest_name, j->name, j->spec.at[0] ? "@" : "",
                       j->spec.at);   /* its spec is not echoed: it may hold a secret */
    if (!j->resume)
        return ag_fail(ctx, AG_EEXIST, "%s: an instant restore of %s@%s is running or was "
                       "left unfinished: rerun with --resume, or `rbd migration abort %s`",
                       j->dest_name, j->name, id, j->dest_name);
    if (m.state != RBDIO_MIG_PREPARED && m.state != RBDIO_MIG_EXECUTING &&
        m.state != RBDIO_MIG_EXECUTED)
        return ag_fail(ctx, AG_EFAIL, "%s: migration in state '%s': cannot resume it",
                       j->dest_name, m.description);
    snprintf(j->spec.at, sizeof(j->spec.at), "%s", id);
    return 0;
}

static int start_server(instant_job *j)
{
    char listen[64], why[512];
    snprintf(listen, sizeof(listen), INSTANT_HOST ":%u", j->port);
    serve_opts o = { .listen = listen };
    int code = serve_start(j->ctx, &o, &j->srv, why, sizeof(why));
    if (code != 0)
        return ag_fail(j->ctx, code, "%s", why);
    j->port = serve_port(j->srv);
    ag_debug(j->ctx, "serving %s@%s on %s:%u", j->name, j->id, INSTANT_HOST, j->port);
    return 0;
}

/* Remember a Ceph failure while the server runs (its threads share ctx): recorded once
 * the server is stopped. Returns -1. */
static int fail_later(instant_job *j, int rc, const char *what)
{
    if (j->fail_text[0] == '\0') {
        j->fail_rc = rc;
        snprintf(j->fail_text, sizeof(j->fail_text), "%s: %s", what, rbdio_last_error());
    }
    return -1;
}

/* The failure (an exit code, not a Ceph error) to record once the server is stopped. */
static int fail_code_later(instant_job *j, int code, const char *text)
{
    if (j->fail_text[0] == '\0') {
        j->fail_code = code;
        snprintf(j->fail_text, sizeof(j->fail_text), "%s", text);
    }
    return -1;
}

/* A JSON object of the run's state ("usable", "restored"): the point, the target, the
 * seconds until it was usable. The caller adds to it and frees it. */
static json_object *json_state(const instant_job *j, const char *state)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "state", json_object_new_string(state));
    json_object_object_add(o, "image", json_object_new_string(j->name));
    json_object_object_add(o, "id", json_object_new_string(j->id));
    json_object_object_add(o, "destination", json_object_new_string(j->dest_name));
    json_object_object_add(o, "usable_seconds", json_object_new_double(j->usable_s));
    return o;
}

/* o on one line into buf (n bytes); o is freed. Returns buf. */
static const char *json_line(json_object *o, char *buf, size_t n)
{
    snprintf(buf, n, "%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
                                                             JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(o);
    return buf;
}

/* Say the target is usable: a line (or a JSON object) on stdout, or through the detached
 * child's pipe to its parent. */
static void say_usable(instant_job *j)
{
    ag_ctx *ctx = j->ctx;
    char line[16384];
    j->usable_s = ag_now() - j->t0;
    if (ctx->opts.json) {
        json_object *o = json_state(j, "usable");
        if (j->child_fd >= 0) {
            json_object_object_add(o, "pid", json_object_new_int64((int64_t)getpid()));
            json_object_object_add(o, "pid_file", json_object_new_string(j->pid_path));
            json_object_object_add(o, "log_file", json_object_new_string(j->log_path));
        }
        json_line(o, line, sizeof(line));
    } else {
        int n = snprintf(line, sizeof(line), "%s is usable now; copying in the background "
                         "(usable after %.2f s)\n", j->dest_name, j->usable_s);
        if (j->child_fd >= 0 && n > 0 && (size_t)n < sizeof(line))
            snprintf(line + n, sizeof(line) - (size_t)n, "detached: pid %ld (pid file %s), "
                     "log %s\n", (long)getpid(), j->pid_path, j->log_path);
    }
    if (j->child_fd >= 0) {
        instant_detached(j, line);
    } else {
        fputs(line, stdout);
        fflush(stdout);
    }
}

/* The tests' hooks: with the variable env set to FILE, say so and wait until FILE exists
 * (or a signal came). */
static void debug_pause(const instant_job *j, const char *env, const char *when)
{
    const char *f = getenv(env);
    struct stat st;
    struct timespec tick = { 0, 100 * 1000 * 1000 };
    if (f == NULL || f[0] == '\0')
        return;
    ag_info(j->ctx, "paused %s until %s exists", when, f);
    while (!ag_interrupted && stat(f, &st) != 0)
        nanosleep(&tick, NULL);
}

/* The copy's progress line: librbd counts objects of 1 << order bytes. */
typedef struct copy_prog {
    progress p;
    int order;
    int paused;                 /* RBD2S3_DEBUG_INSTANT_PAUSE_COPY was honoured */
    const instant_job *j;
} copy_prog;

static void on_copy(uint64_t done, uint64_t total, void *arg)
{
    copy_prog *c = arg;
    progress_update(&c->p, done, total, done << c->order);
    if (!c->paused && done * 2 >= total && done < total) {
        c->paused = 1;          /* halfway: librbd's copy waits on this thread */
        debug_pause(c->j, INSTANT_PAUSE_COPY_ENV, "halfway through the copy");
    }
}

/* Execute (unless done), commit, and the backup's snapshot on the target. */
static int copy_commit(instant_job *j, rbdio_mig_state state)
{
    ag_ctx *ctx = j->ctx;
    int rc = 0;
    ag_pending("the migration into %s is not finished: rerun `restore --instant --resume`, "
               "or `rbd migration abort %s`", j->dest_name, j->dest_name);
    if (ag_interrupted) {
        char text[4096];
        snprintf(text, sizeof(text), "interrupted: %s is usable but not complete: rerun with "
                 "--resume, or `rbd migration abort %s`", j->dest_name, j->dest_name);
        return fail_code_later(j, AG_EINTR, text);
    }
    if (state != RBDIO_MIG_EXECUTED) {
        copy_prog prog = { .order = j->geom.order > 0 ? j->geom.order : 22, .j = j };
        progress_start(&prog.p, ctx, "Copying into", j->dest_name);
        rc = rbdio_migration_execute(j->dcluster, &j->dspec, on_copy, &prog);
        progress_end(&prog.p, rc == 0);
        if (rc < 0) {
            char what[2048];
            snprintf(what, sizeof(what), "%.700s is usable but not complete (rerun with --resume, "
                     "or `rbd migration abort %.700s`)", j->dest_name, j->dest_name);
            return fail_later(j, rc, what);
        }
    }
    j->copied_s = ag_now() - j->t0;
    if ((rc = rbdio_migration_commit(j->dcluster, &j->dspec)) < 0)
        return fail_later(j, rc, "committing the migration (rerun with --resume)");
    ag_pending(NULL);
    rbdio_image *img = NULL;
    if ((rc = rbdio_open(j->dcluster, &j->dspec, NULL, &img)) == 0) {
        rc = rbdio_snap_create(img, j->snap_name);
        if (rc == 0)            /* as every image restore: what --onto checks */
            rc = rbdio_meta_set(img, TARGET_SOURCE_META, j->name);
        rbdio_close(img);
    }
    return rc < 0 ? fail_later(j, rc, "creating the snapshot and image-meta " TARGET_SOURCE_META
                               " on the destination") : 0;
}

/* With the server up: prepare (unless resuming), usable, copy, commit, snapshot. */
static int migrate(instant_job *j, rbdio_mig_state state)
{
    if (!j->resume) {
        char spec[RBDIO_MIG_SPEC_MAX];
        if (instant_spec_build(j, j->port, spec, sizeof(spec)) < 0)
            return fail_code_later(j, AG_EUSAGE, "the source spec is too long (names)");
        ag_debug(j->ctx, "source spec %s", spec);
        int rc = rbdio_migration_import(j->dcluster, &j->dspec, spec, &j->geom);
        if (rc < 0)
            return fail_later(j, rc, j->dest_name);
        state = RBDIO_MIG_PREPARED;
    }
    say_usable(j);
    debug_pause(j, INSTANT_PAUSE_ENV, "after prepare");
    return copy_commit(j, state);
}

static int run(instant_job *j)
{
    ag_ctx *ctx = j->ctx;
    rbdio_mig_state state = RBDIO_MIG_NONE;
    if (j->child_fd >= 0 && instant_pid_write(j) < 0)
        return -1;
    if (ag_s3(ctx) == NULL ||
        target_cluster(ctx, j->dest_conf, j->dest_id, j->dest.pool, j->dest.ns, j->dest_name,
                       &j->dcluster, &j->own_dcluster) < 0 ||
        check_target(j, &state) < 0 || resolve(j) < 0 || start_server(j) < 0)
        return -1;
    int rc = migrate(j, state);
    serve_stop(j->srv);
    j->srv = NULL;
    if (rc < 0 && j->fail_code != 0)
        return ag_fail(ctx, j->fail_code, "%s", j->fail_text);
    if (rc < 0)
        return ag_fail_rbd_why(ctx, j->fail_rc, j->fail_text);
    return 0;
}

static void say_done(instant_job *j)
{
    ag_ctx *ctx = j->ctx;
    if (ctx->opts.json) {
        char line[16384];
        json_object *o = json_state(j, "restored");
        json_object_object_add(o, "complete_seconds", json_object_new_double(j->copied_s));
        fputs(json_line(o, line, sizeof(line)), stdout);
    } else {
        printf("%s@%s restored to %s (usable after %.2f s, complete after %.2f s)\n", j->name,
               j->id, j->dest_name, j->usable_s, j->copied_s);
    }
    fflush(stdout);
}

static int parse(instant_job *j, int argc, char **argv)
{
    ag_ctx *ctx = j->ctx;
    const char *instant = NULL, *detach = NULL, *resume = NULL;
    opts_cmd spec[] = {
        { "dest-ceph-conf", 1, &j->dest_conf }, { "dest-id", 1, &j->dest_id },
        { "instant", 0, &instant }, { "detach", 0, &detach }, { "resume", 0, &resume },
        { "pid-file", 1, &j->pid_file }, { "log-file", 1, &j->log_file },
    };
    char **pos;
    int npos;
    if (opts_parse_command(ctx, argc, argv, spec, 7, &pos, &npos) < 0)
        return -1;
    j->detach = detach != NULL;
    j->resume = resume != NULL;
    if (npos < 1 || npos > 2)
        return ag_fail(ctx, AG_EUSAGE, "usage: restore POOL/IMAGE[@BACKUP] [DEST_POOL/DEST_IMAGE]"
                       " --instant [--detach] [--resume]");
    if (naming_parse_spec(pos[0], 1, &j->spec) < 0)
        return ag_fail(ctx, AG_EUSAGE, "'%s': expected POOL/IMAGE[@BACKUP]", pos[0]);
    if (naming_parse_spec(pos[npos - 1], npos == 1, &j->dest) < 0)
        return ag_fail(ctx, AG_EUSAGE, "'%s': expected DEST_POOL/DEST_IMAGE", pos[npos - 1]);
    j->dest.at[0] = '\0';                 /* by default, the source's own name */
    if ((j->pid_file || j->log_file) && !j->detach)
        return ag_fail(ctx, AG_EUSAGE, "--pid-file and --log-file go with --detach");
    naming_spec base = j->spec;
    base.at[0] = '\0';
    naming_spec_str(&base, j->name, sizeof(j->name));
    naming_spec_str(&j->dest, j->dest_name, sizeof(j->dest_name));
    j->dspec = (rbdio_spec){ j->dest.pool, j->dest.ns, j->dest.image };
    instant_paths(j);
    return 0;
}

int cmd_restore_instant(ag_ctx *ctx, int argc, char **argv)
{
    instant_job *j = calloc(1, sizeof(*j));
    if (j == NULL)
        return ag_fail(ctx, AG_EFAIL, "out of memory"), ctx->exit_code;
    j->ctx = ctx;
    j->t0 = ag_now();
    instant_child_setup(j);
    if (parse(j, argc, argv) == 0) {
        if (j->detach && j->child_fd < 0) {
            instant_detach(j);
        } else if (run(j) == 0) {
            ag_info(ctx, "%s: migration committed, snapshot %s created", j->dest_name,
                    j->snap_name);
            say_done(j);
        }
    }
    instant_pid_remove(j);
    if (j->own_dcluster)
        rbdio_disconnect(j->dcluster);
    if (ctx->opts.secret_key == j->secret)
        ctx->opts.secret_key = NULL;
    OPENSSL_cleanse(j->secret, sizeof(j->secret));
    free(j);
    return ctx->exit_code;
}
