/* prune.c - the prune command: apply the keep policy of each image's pool (to the
 * backups with the --label labels), keep protected backups and the chains kept backups
 * need, print the plan, remove what it drops, then the leftovers of crashed runs. */
#include "agent/command/prune/prune.h"
#include "agent/command/command.h"

#include "agent/config/options.h"
#include "agent/config/policy.h"
#include "agent/command/prune/retention.h"
#include "agent/repo/trust/lockinfo.h"
#include "agent/common/termesc.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_GRACE (24LL * 3600)

typedef struct prune_run {
    ag_ctx *ctx;
    ag_policy cmd;            /* from the command line */
    int dry_run;
    long long grace;
    catalog cat;
    ret_item *items;          /* per catalog entry */
    unsigned char *doomed;
    int locked_bucket;        /* the bucket has Object Lock enabled */
    time_t *until;            /* per catalog entry: kept under retention until then */
    unsigned char *for_child; /* per catalog entry: kept as the parent of a locked one */
    json_object *json;        /* --format json: the images array */
    naming_spec *held;        /* images nothing is deleted of (damage, broken chain) */
    size_t nheld;
    labels_set filter;        /* --label: only backups with all of these are considered */
    protect_state *prot;      /* per catalog entry: its protect object */
    long *needed_by;          /* per catalog entry: see prune_protect_hold */
    unsigned char *other;     /* per catalog entry: left out by --label */
} prune_run;

static int same_image(const cat_entry *a, const cat_entry *b)
{
    return strcmp(a->spec.pool, b->spec.pool) == 0 && strcmp(a->spec.ns, b->spec.ns) == 0 &&
           strcmp(a->spec.image, b->spec.image) == 0;
}

/* Items of one image [from, to): times and parent links inside the group. */
static void fill_items(prune_run *r, size_t from, size_t to)
{
    for (size_t i = from; i < to; i++) {
        const manifest *m = &r->cat.e[i].m;
        ret_item *it = &r->items[i];
        it->t = m->snap_time != 0 ? m->snap_time : m->created;
        it->parent = m->full ? -1 : RET_PARENT_MISSING;
        for (size_t k = from; !m->full && k < i; k++)
            if (strcmp(r->cat.e[k].id, m->parent_id) == 0)
                it->parent = (long)(k - from);
    }
}

static int spec_eq(const naming_spec *a, const naming_spec *b)
{
    return strcmp(a->pool, b->pool) == 0 && strcmp(a->ns, b->ns) == 0 &&
           strcmp(a->image, b->image) == 0;
}

static int is_held(const prune_run *r, const naming_spec *spec)
{
    for (size_t i = 0; i < r->nheld; i++)
        if (spec_eq(&r->held[i], spec))
            return 1;
    return 0;
}

/* Nothing of spec's image is deleted (its backups nor its leftovers). */
static int hold(prune_run *r, const naming_spec *spec)
{
    if (is_held(r, spec))
        return 0;
    naming_spec *h = realloc(r->held, (r->nheld + 1) * sizeof(*h));
    if (h == NULL)
        return ag_fail(r->ctx, AG_EFAIL, "out of memory");
    r->held = h;
    r->held[r->nheld++] = *spec;
    return 0;
}

/* An image with a manifest that cannot be read: refused (exit 8), nothing deleted. */
static int refuse_damaged(prune_run *r, const cat_bad *b)
{
    char name[NAMING_SPEC_MAX], line[4096];
    naming_spec_str(&b->spec, name, sizeof(name));
    snprintf(line, sizeof(line), "backup %s is damaged (manifest %s: %s): nothing of this "
             "image is pruned", b->id, b->key, b->why);
    if (r->json == NULL) {
        printf("%s: refused: %s\n", termesc_str(name), termesc_str(line));
    } else {
        json_object *img = json_object_new_object();
        json_object_object_add(img, "image", json_object_new_string(name));
        json_object_object_add(img, "refused", json_object_new_string(line));
        json_object_array_add(r->json, img);
    }
    ag_fail(r->ctx, AG_EINTEGRITY, "%s: %s", name, line);
    return hold(r, &b->spec);
}

/* Say which kept incremental has no parent (everything older is kept for it). */
static int note_broken(prune_run *r, size_t from, size_t to)
{
    for (size_t i = to; i-- > from;) {
        const cat_entry *e = &r->cat.e[i];
        if (r->items[i].why == 0 || r->items[i].parent != RET_PARENT_MISSING)
            continue;
        char name[NAMING_SPEC_MAX];
        naming_spec_str(&e->spec, name, sizeof(name));
        ag_info(r->ctx, "%s@%s: its parent backup %s is missing: every older backup of "
                "this image is kept", name, e->id, e->m.parent_id);
        return hold(r, &e->spec);
    }
    return 0;
}

/* Why entry i is kept beyond the policy (protected, needed by a protected or kept
 * backup, left out by --label) into why; 0 when it is not. */
static int hold_why(const prune_run *r, size_t i, char *why, size_t whysz)
{
    long by = r->needed_by[i];
    unsigned own = r->items[i].why & ~(unsigned)RET_CHAIN;
    if (r->prot[i].on)
        protect_describe(&r->prot[i], why, whysz);
    else if (by >= 0 && r->prot[by].on && own == 0)
        snprintf(why, whysz, "parent of protected %s", r->cat.e[by].id);
    else if (r->other[i])
        snprintf(why, whysz, "not selected by --label");
    else if (by >= 0 && r->items[i].why == 0 && !r->for_child[i])
        snprintf(why, whysz, "needed by kept %s", r->cat.e[by].id);
    else
        return 0;
    return 1;
}

/* The action on entry i ("prune", "keep", "locked") and its reasons into why. */
static const char *lock_why(const prune_run *r, size_t i, char *why, size_t whysz)
{
    char until[21];
    retention_why(r->items[i].why, why, whysz);
    if (r->until[i] != 0) {
        naming_iso8601(r->until[i], until);
        snprintf(why, whysz, "locked until %s", until);
        return "locked";
    }
    if (hold_why(r, i, why, whysz))
        return "keep";
    if (r->for_child[i])
        snprintf(why, whysz, "parent of a locked backup");
    return r->doomed[i] ? "prune" : "keep";
}

static void print_image(prune_run *r, size_t from, size_t to, size_t kept)
{
    char name[NAMING_SPEC_MAX], why[512];
    naming_spec_str(&r->cat.e[from].spec, name, sizeof(name));
    json_object *bk = r->json != NULL ? json_object_new_array() : NULL;
    if (bk == NULL)
        printf("%s: keeping %zu of %zu backups\n", termesc_str(name), kept, to - from);
    for (size_t i = from; i < to; i++) {
        const manifest *m = &r->cat.e[i].m;
        const char *action = lock_why(r, i, why, sizeof(why));
        if (bk == NULL) {
            printf("  %-6s %-20s %-12s %s\n", action,
                   termesc_str(m->id),
                   m->full ? "full" : "incremental", termesc_str(why));
            continue;
        }
        json_object *o = json_object_new_object();
        json_object_object_add(o, "id", json_object_new_string(m->id));
        json_object_object_add(o, "type", json_object_new_string(m->full ? "full"
                                                                          : "incremental"));
        json_object_object_add(o, "action", json_object_new_string(action));
        json_object_object_add(o, "reasons", json_object_new_string(why));
        if (r->until[i] != 0) {
            char until[21];
            naming_iso8601(r->until[i], until);
            json_object_object_add(o, "locked_until", json_object_new_string(until));
        }
        json_object_object_add(o, "protected", json_object_new_boolean(r->prot[i].on));
        json_object_array_add(bk, o);
    }
    if (bk != NULL) {
        json_object *img = json_object_new_object();
        json_object_object_add(img, "image", json_object_new_string(name));
        json_object_object_add(img, "backups", bk);
        json_object_array_add(r->json, img);
    }
}

/* Decide for the image whose entries are [from, to). */
static int plan_image(prune_run *r, size_t from, size_t to)
{
    const cat_entry *e = &r->cat.e[from];
    ag_policy pol;
    policy_resolve(r->ctx, e->spec.pool, e->spec.ns, &r->cmd, &pol);
    ret_policy rp = { pol.keep_last, pol.keep_daily, pol.keep_weekly, pol.keep_monthly };
    if (retention_empty(&rp))
        return ag_fail(r->ctx, AG_EUSAGE, "no keep policy for pool '%s': give --keep-last, "
                       "--keep-daily, --keep-weekly or --keep-monthly (or keep keys in the "
                       "config file)", e->spec.pool);
    for (size_t b = 0; b < r->cat.bad; b++)
        if (spec_eq(&r->cat.badv[b].spec, &e->spec))
            return refuse_damaged(r, &r->cat.badv[b]);
    fill_items(r, from, to);
    if (prune_select(&rp, &r->cat, from, to, &r->filter, r->items, r->doomed, r->other) < 0)
        return ag_fail(r->ctx, AG_EFAIL, "out of memory");
    if (r->locked_bucket &&
        prune_lock_hold(r->ctx, &r->cat, from, to, r->doomed, r->until, r->for_child) < 0)
        return -1;
    prune_protect_hold(from, to, r->items, r->prot, r->doomed, r->needed_by);
    size_t kept = 0;
    for (size_t i = from; i < to; i++)
        kept += r->doomed[i] == 0;
    print_image(r, from, to, kept);
    return note_broken(r, from, to);
}

/* The backups array of the plan of image name in r->json (NULL: none or text). */
static json_object *json_backups(const prune_run *r, const char *name)
{
    size_t n = r->json != NULL ? json_object_array_length(r->json) : 0;
    for (size_t k = 0; k < n; k++) {
        json_object *img = json_object_array_get_idx(r->json, k), *v, *bk;
        if (json_object_object_get_ex(img, "image", &v) &&
            strcmp(json_object_get_string(v), name) == 0 &&
            json_object_object_get_ex(img, "backups", &bk))
            return bk;
    }
    return NULL;
}

/* Entry i's line of the plan of --format json in bk, set to its state now. */
static void json_update(const prune_run *r, json_object *bk, size_t i)
{
    char why[512];
    size_t n = json_object_array_length(bk);
    const char *action = lock_why(r, i, why, sizeof(why));
    for (size_t k = 0; k < n; k++) {
        json_object *o = json_object_array_get_idx(bk, k), *v;
        if (!json_object_object_get_ex(o, "id", &v) ||
            strcmp(json_object_get_string(v), r->cat.e[i].id) != 0)
            continue;
        json_object_object_add(o, "action", json_object_new_string(action));
        json_object_object_add(o, "reasons", json_object_new_string(why));
        json_object_object_add(o, "protected", json_object_new_boolean(r->prot[i].on));
    }
}

/* Say which backups of [from, to) a protect made while prune ran keeps after all (was:
 * bit 1 doomed, bit 2 protected when planned), and set the plan of --format json. */
static void say_late(prune_run *r, size_t from, size_t to, const unsigned char *was)
{
    char name[NAMING_SPEC_MAX], why[512];
    naming_spec_str(&r->cat.e[from].spec, name, sizeof(name));
    json_object *bk = json_backups(r, name);
    for (size_t i = from; i < to; i++) {
        unsigned w = was[i - from];
        if (!((w & 1) && !r->doomed[i]) && !(!(w & 2) && r->prot[i].on))
            continue;
        if (bk != NULL)
            json_update(r, bk, i);
        if (r->json != NULL || !(w & 1) || r->doomed[i])
            continue;
        const char *action = lock_why(r, i, why, sizeof(why));
        printf("%s: %s %s after all: %s\n", termesc_str(name), action,
               termesc_str(r->cat.e[i].id), termesc_str(why));
    }
}

/* Right before the deletes: a backup of [from, to) protected since protect_load is
 * kept after all, with the backups its chain needs (one listing of the image's prefix;
 * nothing is listed when nothing of the image is doomed). 0, or -1 recorded. */
static int recheck_image(prune_run *r, size_t from, size_t to)
{
    size_t ndoomed = 0, added = 0;
    for (size_t i = from; i < to; i++)
        ndoomed += r->doomed[i];
    if (ndoomed == 0)
        return 0;
    unsigned char *was = malloc(to - from);
    if (was == NULL)
        return ag_fail(r->ctx, AG_EFAIL, "out of memory");
    for (size_t i = from; i < to; i++)
        was[i - from] = (unsigned char)(r->doomed[i] | (r->prot[i].on << 1));
    int rc = protect_refresh(r->ctx, &r->cat, from, to, r->prot, &added);
    if (rc == 0 && added != 0) {
        prune_protect_hold(from, to, r->items, r->prot, r->doomed, r->needed_by);
        say_late(r, from, to, was);
    }
    free(was);
    return rc;
}

/* recheck_image for each image; a test stalls before it (RBD2S3_DEBUG_STALL_PRUNE=FILE:
 * "rbd2s3: debug: stalled" on stderr, then wait until FILE exists). 0, or -1. */
static int recheck_protect(prune_run *r)
{
    const char *f = getenv("RBD2S3_DEBUG_STALL_PRUNE");
    if (f != NULL) {
        fputs("rbd2s3: debug: stalled before the deletes\n", stderr);
        fflush(stderr);
        struct timespec tick = { 0, 50 * 1000000L };
        while (!ag_interrupted && access(f, F_OK) != 0)
            nanosleep(&tick, NULL);
        if (ag_interrupted)
            return ag_fail(r->ctx, AG_EINTR, "interrupted before the deletes");
    }
    for (size_t i = 0; i < r->cat.n;) {
        size_t j = i + 1;
        while (j < r->cat.n && same_image(&r->cat.e[i], &r->cat.e[j]))
            j++;
        if (recheck_image(r, i, j) < 0)
            return -1;
        i = j;
    }
    return 0;
}

static int plan_all(prune_run *r)
{
    size_t n = r->cat.n;
    r->items = calloc(n ? n : 1, sizeof(*r->items));
    r->doomed = calloc(n ? n : 1, 1);
    r->until = calloc(n ? n : 1, sizeof(*r->until));
    r->for_child = calloc(n ? n : 1, 1);
    r->needed_by = calloc(n ? n : 1, sizeof(*r->needed_by));
    r->other = calloc(n ? n : 1, 1);
    if (r->items == NULL || r->doomed == NULL || r->until == NULL || r->for_child == NULL ||
        r->needed_by == NULL || r->other == NULL)
        return ag_fail(r->ctx, AG_EFAIL, "out of memory");
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && same_image(&r->cat.e[i], &r->cat.e[j]))
            j++;
        if (plan_image(r, i, j) < 0)
            return -1;
        i = j;
    }
    /* images that have damaged manifests and no backup at all */
    for (size_t b = 0; b < r->cat.bad; b++)
        if (!is_held(r, &r->cat.badv[b].spec) && refuse_damaged(r, &r->cat.badv[b]) < 0)
            return -1;
    return 0;
}

static void report(prune_run *r, const prune_stats *st)
{
    char b1[32], b2[32];
    size_t locked = 0, prot = 0;
    for (size_t i = 0; i < r->cat.n; i++) {
        locked += r->until[i] != 0;
        prot += r->prot[i].on;
    }
    if (r->json == NULL && locked != 0)
        printf("%zu backups kept under Object Lock (locked until the dates above)\n", locked);
    if (r->json == NULL && prot != 0)
        printf("%zu protected backups kept, with the backups their chains need\n", prot);
    ag_fmt_size(st->bytes, b1, sizeof(b1));
    ag_fmt_size(st->leftover_bytes, b2, sizeof(b2));
    if (r->json == NULL) {
        size_t doomed = 0;
        for (size_t i = 0; i < r->cat.n; i++)
            doomed += r->doomed[i];
        if (r->dry_run)
            printf("dry run: would prune %zu backups and %zu leftover objects (%s), abort %zu "
                   "unfinished uploads; nothing changed\n", doomed, st->leftovers, b2,
                   st->uploads);
        else
            printf("pruned %zu backups: %zu objects (%s); %zu leftover objects (%s); %zu "
                   "unfinished uploads aborted\n", st->manifests, st->objects, b1,
                   st->leftovers, b2, st->uploads);
        return;
    }
    json_object *o = json_object_new_object();
    json_object_object_add(o, "dry_run", json_object_new_boolean(r->dry_run));
    json_object_object_add(o, "images", json_object_get(r->json));
    json_object_object_add(o, "pruned_backups", json_object_new_int64((int64_t)st->manifests));
    json_object_object_add(o, "deleted_objects", json_object_new_int64((int64_t)st->objects));
    json_object_object_add(o, "deleted_bytes", json_object_new_int64((int64_t)st->bytes));
    json_object_object_add(o, "leftover_objects",
                           json_object_new_int64((int64_t)st->leftovers));
    json_object_object_add(o, "aborted_uploads", json_object_new_int64((int64_t)st->uploads));
    json_object_object_add(o, "locked_backups", json_object_new_int64((int64_t)locked));
    json_object_object_add(o, "protected_backups", json_object_new_int64((int64_t)prot));
    puts(json_object_to_json_string_ext(o, AG_JSON_OUT));
    json_object_put(o);
}

static int parse_args(prune_run *r, int argc, char **argv, naming_spec *spec, int *have_spec)
{
    ag_ctx *ctx = r->ctx;
    const char *v[7] = { NULL }, *bad, *why;
    opts_cmd specs[] = { { "keep-last", 1, &v[0] },    { "keep-daily", 1, &v[1] },
                         { "keep-weekly", 1, &v[2] },  { "keep-monthly", 1, &v[3] },
                         { "dry-run", 0, &v[4] },      { "grace", 1, &v[5] },
                         { "label", 1, &v[6] } };
    char **pos;
    int npos;
    if (opts_parse_command(ctx, argc, argv, specs, 7, &pos, &npos) < 0)
        return -1;
    if (labels_collect(argc, argv, "label", 0, &r->filter, &bad, &why) < 0)
        return ag_fail(ctx, AG_EUSAGE, "--label '%s': %s", bad, why);
    for (int i = 0; i < 4; i++)
        if (v[i] != NULL && policy_set_key(ctx, &r->cmd, specs[i].name, v[i],
                                           "command line") < 0)
            return -1;
    r->dry_run = v[4] != NULL;
    r->grace = DEFAULT_GRACE;
    if (v[5] != NULL && ag_parse_duration(v[5], &r->grace) < 0)
        return ag_fail(ctx, AG_EUSAGE, "--grace: not a duration (like 24h, 30m, 0): '%s'",
                       v[5]);
    *have_spec = npos == 1;
    if (npos > 1 || (npos == 1 && naming_parse_spec(pos[0], 0, spec) < 0))
        return ag_fail(ctx, AG_EUSAGE, "usage: prune [POOL/IMAGE] [--keep-last N] "
                       "[--keep-daily N] [--keep-weekly N] [--keep-monthly N] [--grace D] "
                       "[--label KEY=VALUE]... [--dry-run]");
    return 0;
}

static int run_prune(prune_run *r, const naming_spec *spec)
{
    char prefix[4096];
    if (ag_scope_prefix(r->ctx, spec, prefix, sizeof(prefix)) < 0)
        return -1;
    if (catalog_load(r->ctx, spec, &r->cat) < 0)
        return -1;
    if (spec != NULL && r->cat.n == 0 && r->cat.bad == 0) {
        char name[NAMING_SPEC_MAX];
        naming_spec_str(spec, name, sizeof(name));
        return ag_fail(r->ctx, AG_ENOTFOUND, "no backups of %s in the bucket", name);
    }
    if (r->cat.n != 0 && lockinfo_enabled(r->ctx, &r->locked_bucket) < 0)
        return -1;
    if (protect_load(r->ctx, &r->cat, spec, &r->prot) < 0)
        return -1;
    if (plan_all(r) < 0)
        return -1;
    prune_stats st;
    memset(&st, 0, sizeof(st));
    prune_scope sc = { spec, r->held, r->nheld };
    if (!r->dry_run && (recheck_protect(r) < 0 ||
                        prune_remove(r->ctx, &r->cat, r->doomed, &st) < 0))
        return -1;
    if (prune_leftovers(r->ctx, prefix, &sc, r->grace, r->dry_run, &st) < 0)
        return -1;
    report(r, &st);
    return 0;
}

int cmd_prune(ag_ctx *ctx, int argc, char **argv)
{
    prune_run r;
    memset(&r, 0, sizeof(r));
    r.ctx = ctx;
    policy_unset(&r.cmd);
    naming_spec spec;
    int have_spec = 0;
    if (parse_args(&r, argc, argv, &spec, &have_spec) == 0) {
        if (ctx->opts.json)
            r.json = json_object_new_array();
        run_prune(&r, have_spec ? &spec : NULL);
    }
    json_object_put(r.json);
    free(r.items);
    free(r.doomed);
    free(r.until);
    free(r.for_child);
    free(r.needed_by);
    free(r.other);
    free(r.prot);
    free(r.held);
    catalog_free(&r.cat);
    return ctx->exit_code;
}
