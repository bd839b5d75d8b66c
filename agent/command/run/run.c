/* run.c - the run command: back up every image the config file's [pool:NAME] sections
 * name, one after the other or --jobs at once (jobs.c); a failure does not stop the others. */
#include "agent/command/run/run.h"
#include "agent/command/run/jobs.h"

#include "agent/config/options.h"
#include "agent/config/policy.h"
#include "agent/backup/resume.h"
#include "agent/backup/due.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct run_list {
    run_item *it;
    size_t n, cap;
} run_list;

static run_item *add_item(ag_ctx *ctx, run_list *l, const char *section, const char *image)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 32;
        run_item *it = realloc(l->it, cap * sizeof(*it));
        if (it == NULL) {
            ag_fail(ctx, AG_EFAIL, "out of memory");
            return NULL;
        }
        l->it = it;
        l->cap = cap;
    }
    run_item *r = &l->it[l->n++];
    memset(r, 0, sizeof(*r));
    char spec[NAMING_SPEC_MAX];
    snprintf(spec, sizeof(spec), "%s/%s", section, image);
    snprintf(r->name, sizeof(r->name), "%s", spec);
    if (naming_parse_spec(spec, 0, &r->spec) < 0) {
        r->status = RUN_FAILED;
        r->code = AG_EUSAGE;
        snprintf(r->msg, sizeof(r->msg), "not a valid image name");
    }
    return r;
}

/* Is name in the comma-separated list (spaces around names ignored)? */
static int in_list(const char *list, const char *name)
{
    size_t len = strlen(name);
    for (const char *p = list; p != NULL && *p != '\0';) {
        while (*p == ' ' || *p == ',')
            p++;
        const char *e = p;
        while (*e != '\0' && *e != ',')
            e++;
        const char *t = e;
        while (t > p && t[-1] == ' ')
            t--;
        if ((size_t)(t - p) == len && strncmp(p, name, len) == 0)
            return 1;
        p = e;
    }
    return 0;
}

/* Every image of the pool (or POOL/NS) but the excluded ones; a listing failure is one
 * failed item. */
static int add_all(ag_ctx *ctx, run_list *l, const ag_pool_conf *pc)
{
    char pool[600], *ns = NULL;
    snprintf(pool, sizeof(pool), "%s", pc->name);
    if ((ns = strchr(pool, '/')) != NULL)
        *ns++ = '\0';
    rbdio_cluster *c = ag_cluster(ctx);
    if (c == NULL)
        return -1;
    char **names = NULL;
    int rc = rbdio_image_list(c, pool, ns != NULL ? ns : "", &names);
    if (rc < 0) {
        run_item *r = add_item(ctx, l, pc->name, "*");
        if (r == NULL)
            return -1;
        r->status = RUN_FAILED;
        r->code = AG_ENOTFOUND;
        snprintf(r->msg, sizeof(r->msg), "cannot list the images: %s", rbdio_last_error());
        return 0;
    }
    for (char **n = names; n != NULL && *n != NULL; n++)
        if (!in_list(pc->exclude, *n) && add_item(ctx, l, pc->name, *n) == NULL)
            rc = -1;
    rbdio_free_names(names);
    return rc < 0 ? -1 : 0;
}

static int add_listed(ag_ctx *ctx, run_list *l, const ag_pool_conf *pc)
{
    char buf[4096];
    snprintf(buf, sizeof(buf), "%s", pc->images);
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t != NULL;
         t = strtok_r(NULL, ",", &save)) {
        while (*t == ' ')
            t++;
        for (char *e = t + strlen(t); e > t && e[-1] == ' ';)
            *--e = '\0';
        if (*t != '\0' && add_item(ctx, l, pc->name, t) == NULL)
            return -1;
    }
    return 0;
}

static int collect(ag_ctx *ctx, run_list *l)
{
    int sections = 0;
    for (int i = 0; i < ctx->opts.npools; i++) {
        const ag_pool_conf *pc = &ctx->opts.pools[i];
        if (pc->images == NULL)
            continue;
        sections++;
        int rc = strcmp(pc->images, "*") == 0 ? add_all(ctx, l, pc) : add_listed(ctx, l, pc);
        if (rc < 0)
            return -1;
    }
    if (sections == 0)
        return ag_fail(ctx, AG_EUSAGE, "no [pool:NAME] section with 'images' in the config "
                       "file (see conf/rbd2s3.conf)");
    return 0;
}

static const ag_pool_conf *section_of(ag_ctx *ctx, const run_item *r)
{
    char name[1100];
    if (r->spec.ns[0] != '\0') {
        snprintf(name, sizeof(name), "%s/%s", r->spec.pool, r->spec.ns);
        const ag_pool_conf *pc = policy_pool(ctx, name, 0);
        if (pc != NULL)
            return pc;
    }
    return policy_pool(ctx, r->spec.pool, 0);
}

static int minute_now(void)
{
    time_t t = time(NULL);
    struct tm tm;
    localtime_r(&t, &tm);
    return tm.tm_hour * 60 + tm.tm_min;
}

/* The due of r's image: --due, else its [pool:NAME], else [global] (0: none). */
static long long due_of(ag_ctx *ctx, const run_item *r, const run_args *a)
{
    ag_policy cmd, pol;
    policy_unset(&cmd);
    cmd.due = a->due;
    policy_resolve(ctx, r->spec.pool, r->spec.ns, &cmd, &pol);
    return pol.due;
}

/* What backup_image said besides made or failed: not due, or locked elsewhere. */
static void run_outcome(run_item *r, const ag_ctx *sub)
{
    if (r->res.outcome == BACKUP_NOT_DUE) {
        r->status = RUN_SKIPPED;
        due_note(r->res.last, time(NULL), r->msg, sizeof(r->msg));
    } else if (r->res.outcome == BACKUP_ELSEWHERE) {
        r->status = RUN_ELSEWHERE;
        r->code = AG_OK;
        snprintf(r->msg, sizeof(r->msg), "%s", sub->errmsg);
    }
}

/* One item (a jobs_fn; arg: the run_args). */
static void run_one(ag_ctx *ctx, run_item *r, const void *arg)
{
    const run_args *a = arg;
    const ag_pool_conf *pc = section_of(ctx, r);
    if (pc != NULL && !policy_in_window(pc, minute_now())) {
        r->status = RUN_SKIPPED;
        snprintf(r->msg, sizeof(r->msg), "outside the window %02d:%02d-%02d:%02d",
                 pc->win_start / 60, pc->win_start % 60, pc->win_end / 60, pc->win_end % 60);
        return;
    }
    if (a->dry_run || ag_interrupted) {
        r->status = a->dry_run ? RUN_PLANNED : RUN_SKIPPED;
        snprintf(r->msg, sizeof(r->msg), "%s", a->dry_run ? "would back up" : "interrupted");
        return;
    }
    ag_ctx sub = *ctx;          /* its own error; the connections are shared */
    sub.opts.labels = pc != NULL ? pc->labels : NULL;
    sub.exit_code = AG_OK;
    sub.errmsg[0] = '\0';
    double t0 = ag_now();
    memset(&r->res, 0, sizeof(r->res));   /* a pass after --until-done's first */
    backup_image_opts bo = { due_of(ctx, r, a) };
    int rc = due_check(&sub, &r->spec, bo.due, &r->res.last);
    if (rc == 0)
        r->res.outcome = BACKUP_NOT_DUE;
    else if (rc > 0)
        rc = backup_image(&sub, &r->spec, 0, NULL, &bo, &r->res, NULL);
    r->seconds = ag_now() - t0;
    ag_adopt(ctx, &sub);
    r->status = rc >= 0 ? RUN_OK : RUN_FAILED;
    r->code = sub.exit_code;
    int named = strstr(sub.errmsg, r->name) != NULL;   /* most errors name the image */
    snprintf(r->msg, sizeof(r->msg), "%s%s%s", named ? "" : r->name, named ? "" : ": ",
             sub.errmsg);
    run_outcome(r, &sub);
    if (r->status == RUN_FAILED)
        ag_info(ctx, "run: %s", r->msg);
}

/* One pass over the items still planned: --jobs of them at once (jobs.c). */
static void run_pass(ag_ctx *ctx, run_item *it, size_t n, const run_args *a)
{
    jobs_run(ctx, a->plan, it, n, run_one, a);
}

static const char *status_name(int s)
{
    static const char *const names[] = { "planned", "ok", "FAILED", "skipped", "elsewhere" };
    return names[s];
}

static void print_table(const run_list *l)
{
    printf("%-32s %-8s %-12s %-20s %11s %11s %7s  %s\n", "IMAGE", "RESULT", "TYPE", "BACKUP",
           "CHANGED", "STORED", "TIME", "NOTE");
    for (size_t i = 0; i < l->n; i++) {
        const run_item *r = &l->it[i];
        char d[32] = "-", s[32] = "-", t[32] = "-", note[64] = "";
        int ok = r->status == RUN_OK;
        if (ok && r->res.cleanup_errors > 0)
            snprintf(note, sizeof(note), "%d snapshot cleanup errors", r->res.cleanup_errors);
        if (ok) {
            ag_fmt_size(r->res.data_bytes, d, sizeof(d));
            ag_fmt_size(r->res.stored_bytes, s, sizeof(s));
        }
        if (r->status == RUN_OK || r->status == RUN_FAILED)
            snprintf(t, sizeof(t), "%.1fs", r->seconds);
        printf("%-32s %-8s %-12s %-20s %11s %11s %7s  %s\n", r->name, status_name(r->status),
               ok ? (r->res.full ? "full" : "incremental") : "-", ok ? r->res.id : "-", d, s,
               t, ok ? note : r->msg);
    }
}

static void print_json(const run_list *l)
{
    json_object *arr = json_object_new_array();
    for (size_t i = 0; i < l->n; i++) {
        const run_item *r = &l->it[i];
        json_object *o = json_object_new_object();
        int ok = r->status == RUN_OK;
        json_object_object_add(o, "image", json_object_new_string(r->name));
        static const char *const results[] = { "planned", "ok", "failed", "skipped",
                                               "elsewhere" };
        json_object_object_add(o, "result", json_object_new_string(results[r->status]));
        json_object_object_add(o, "id", ok ? json_object_new_string(r->res.id) : NULL);
        json_object_object_add(o, "type", ok ? json_object_new_string(r->res.full
                                                                          ? "full"
                                                                          : "incremental")
                                             : NULL);
        json_object_object_add(o, "data_bytes", json_object_new_int64((int64_t)r->res.data_bytes));
        json_object_object_add(o, "stored_bytes",
                               json_object_new_int64((int64_t)r->res.stored_bytes));
        json_object_object_add(o, "seconds", json_object_new_double(r->seconds));
        json_object_object_add(o, "cleanup_errors", json_object_new_int(r->res.cleanup_errors));
        resume_json(o, &r->res);
        pipeline_walk_json(o, ok ? &r->res.walk : NULL);
        json_object_object_add(o, "exit_code", json_object_new_int(r->code));
        json_object_object_add(o, "message", json_object_new_string(r->msg));
        json_object_array_add(arr, o);
    }
    puts(json_object_to_json_string_ext(arr, AG_JSON_OUT));
    json_object_put(arr);
}

/* --dry-run, --due DURATION, --until-done into a: 0, or -1 with exit 2 recorded. */
static int parse_args(ag_ctx *ctx, int argc, char **argv, run_args *a)
{
    const char *dry = NULL, *due = NULL, *until = NULL;
    opts_cmd spec[] = { { "dry-run", 0, &dry }, { "due", 1, &due }, { "until-done", 0, &until } };
    char **pos;
    int npos;
    if (opts_parse_command(ctx, argc, argv, spec, 3, &pos, &npos) < 0)
        return -1;
    if (npos != 0)
        return ag_fail(ctx, AG_EUSAGE, "usage: run [--dry-run] [--due DURATION] [--until-done]");
    a->dry_run = dry != NULL;
    a->until_done = until != NULL;
    a->due = -1;
    if (due != NULL && ag_parse_duration(due, &a->due) < 0)
        return ag_fail(ctx, AG_EUSAGE, "--due: not a duration (like 20h, 90m, 1d): '%s'", due);
    return 0;
}

int cmd_run(ag_ctx *ctx, int argc, char **argv)
{
    run_args a;
    jobs_plan plan;
    if (parse_args(ctx, argc, argv, &a) < 0 || jobs_plan_make(ctx, &plan) < 0)
        return ctx->exit_code;
    a.plan = &plan;
    run_list l;
    memset(&l, 0, sizeof(l));
    time_t started = time(NULL);
    double t0 = ag_now();
    if (collect(ctx, &l) == 0) {
        run_pass(ctx, l.it, l.n, &a);
        if (a.until_done && !a.dry_run)
            run_until_done(ctx, l.it, l.n, &a, run_pass);
        char rss[32];
        ag_fmt_size(jobs_peak_rss(), rss, sizeof(rss));
        ag_debug(ctx, "peak RSS %s (memory limit %.0f MiB)", rss, (double)plan.limit / 1048576);
        if (ctx->opts.json)
            print_json(&l);
        else
            print_table(&l);
        if (ctx->opts.metrics_file != NULL && !a.dry_run)
            metrics_write(ctx, ctx->opts.metrics_file, l.it, l.n, started, ag_now() - t0);
        size_t failed = 0;
        int first = AG_OK;
        for (size_t i = 0; i < l.n; i++) {
            failed += l.it[i].status == RUN_FAILED;
            if (l.it[i].status == RUN_FAILED && first == AG_OK)
                first = l.it[i].code != AG_OK ? l.it[i].code : AG_EFAIL;
        }
        if (failed > 0 && ctx->exit_code == AG_OK)
            ag_fail(ctx, ag_interrupted ? AG_EINTR : first, "%zu of %zu images failed",
                    failed, l.n);
        if (ag_interrupted && ctx->exit_code == AG_OK)
            ag_fail(ctx, AG_EINTR, "interrupted");
    }
    free(l.it);
    return ctx->exit_code;
}
