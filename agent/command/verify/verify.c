/* verify.c - the verify command: every manifest, object and chain of the backups in scope;
 * with --deep every chunk's SHA-256, with --source the restored bytes against the source
 * snapshot. Damage is reported per backup and passed on to every backup whose chain uses
 * a damaged one. */
#include "agent/common/context.h"
#include "agent/command/command.h"
#include "agent/repo/catalog.h"
#include "agent/repo/chain.h"
#include "agent/repo/keylist.h"
#include "agent/restore/apply.h"
#include "agent/format/index.h"
#include "agent/config/options.h"
#include "agent/restore/plan.h"
#include "agent/common/termesc.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CMP_BLOCK (4u << 20)     /* bytes compared at a time (--source) */
#define CMP_READ (1u << 20)      /* one aio read of the source */

/* Source comparison outcome of a backup. */
enum { SRC_NONE = 0, SRC_SAME, SRC_GONE };

/* A line of the report: a backup (e >= 0) or a manifest that does not verify (bad >= 0). */
typedef struct vrow {
    long e;
    long bad;
} vrow;

typedef struct vf {
    ag_ctx *ctx;
    int deep;
    int source;
    naming_spec spec;
    int have_spec;
    catalog cat;
    int *in_scope;            /* per catalog entry */
    char **own;               /* per entry: damage of its own objects (malloc'ed) */
    char **chain;             /* per entry: damage through its chain (malloc'ed) */
    int *src;                 /* per entry: SRC_* */
    int *bad_in_scope;        /* per bad manifest */
    int devnull;
} vf;

static char *dup_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static char *dup_printf(const char *fmt, ...)
{
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    return strdup(buf);
}

static void clear_error(ag_ctx *ctx)
{
    ctx->exit_code = AG_OK;
    ctx->errmsg[0] = '\0';
}

/* An integrity failure recorded in ctx becomes the text of a damage (*out, malloc'ed) and
 * the context is cleared so that the run goes on; any other failure is left recorded and
 * -1 is returned (S3 unreachable, access denied, out of memory, interrupted). */
static int take_damage(ag_ctx *ctx, char **out)
{
    if (ctx->exit_code != AG_EINTEGRITY)
        return -1;
    if (*out == NULL)
        *out = strdup(ctx->errmsg);
    clear_error(ctx);
    return 0;
}

static void entry_name(const cat_entry *e, char *out, size_t outsz)
{
    naming_spec_str(&e->spec, out, outsz);
}

/* ---------------------------------------------------------------- scope */

static int set_scope(vf *v)
{
    ag_ctx *ctx = v->ctx;
    catalog *c = &v->cat;
    size_t n = c->n ? c->n : 1, nb = c->bad ? c->bad : 1;
    v->in_scope = calloc(n, sizeof(*v->in_scope));
    v->own = calloc(n, sizeof(*v->own));
    v->chain = calloc(n, sizeof(*v->chain));
    v->src = calloc(n, sizeof(*v->src));
    v->bad_in_scope = calloc(nb, sizeof(*v->bad_in_scope));
    if (!v->in_scope || !v->own || !v->chain || !v->src || !v->bad_in_scope)
        return ag_fail(ctx, AG_EFAIL, "out of memory");
    if (!v->have_spec || v->spec.at[0] == '\0') {
        char name[NAMING_SPEC_MAX];
        naming_spec_str(&v->spec, name, sizeof(name));
        if (v->have_spec && c->n == 0 && c->bad == 0)
            return ag_fail(ctx, AG_ENOTFOUND, "%s: no backups in the bucket", name);
        for (size_t i = 0; i < c->n; i++)
            v->in_scope[i] = 1;
        for (size_t i = 0; i < c->bad; i++)
            v->bad_in_scope[i] = 1;
        return 0;
    }
    long t = catalog_find(ctx, c, &v->spec, v->spec.at);
    if (t < 0)
        return -1;
    /* the backup and its chain; a bad manifest only where it breaks the chain */
    for (long i = t; i >= 0; i = catalog_parent(c, (size_t)i)) {
        if (v->in_scope[i])
            break;                                 /* a loop of parents */
        v->in_scope[i] = 1;
        for (size_t b = 0; !c->e[i].m.full && b < c->bad; b++)
            if (strcmp(c->badv[b].id, c->e[i].m.parent_id) == 0)
                v->bad_in_scope[b] = 1;
    }
    return 0;
}

/* ---------------------------------------------------------------- objects */

/* The size of key: from the listing of the backup's folder, or with a HEAD for a key
 * elsewhere. 1 found, 0 missing, -1 on an S3 failure (recorded). */
static int object_size(ag_ctx *ctx, const keylist *l, const char *folder, const char *key,
                       uint64_t *size)
{
    if (strncmp(key, folder, strlen(folder)) == 0) {
        for (size_t i = 0; i < l->n; i++)
            if (strcmp(l->keys[i], key) == 0) {
                *size = l->sizes[i];
                return 1;
            }
        return 0;
    }
    s3_error err;
    memset(&err, 0, sizeof(err));
    int rc = s3_head(ctx->s3, key, size, NULL, &err);
    if (rc == -ENOENT)
        return 0;
    return rc < 0 ? ag_fail_s3(ctx, rc, &err, key) : 1;
}

/* Check one object against the manifest; a problem is appended to *damage. */
static int check_object(ag_ctx *ctx, const keylist *l, const char *folder, const char *what,
                        const manifest_object *o, char **damage, size_t *problems)
{
    uint64_t size = 0;
    int rc = object_size(ctx, l, folder, o->key, &size);
    if (rc < 0)
        return -1;
    if (rc == 1 && size == o->size)
        return 0;
    if ((*problems)++ == 0)
        *damage = rc == 0 ? dup_printf("%s %s is missing", what, o->key)
                          : dup_printf("%s %s is %llu bytes, the manifest says %llu", what,
                                       o->key, (unsigned long long)size,
                                       (unsigned long long)o->size);
    return 0;
}

/* Every object the manifest of entry i references exists with the recorded size. */
static int check_objects(vf *v, size_t i)
{
    ag_ctx *ctx = v->ctx;
    const cat_entry *e = &v->cat.e[i];
    char folder[4096];
    ag_image_prefix(ctx, &e->spec, folder, sizeof(folder));
    size_t len = strlen(folder);
    snprintf(folder + len, sizeof(folder) - len, "%s/", e->id);
    keylist l = { 0 };
    int rc = keylist_list(ctx, folder, NULL, NULL, &l, "listing the backup's objects");
    if (rc < 0) {
        keylist_free(&l);
        return -1;
    }
    size_t problems = 0;
    char *damage = NULL;
    for (size_t k = 0; rc == 0 && k < e->m.nobjects; k++)
        rc = check_object(ctx, &l, folder, "data object", &e->m.objects[k], &damage,
                          &problems);
    if (rc == 0)
        rc = check_object(ctx, &l, folder, "chunk index", &e->m.index, &damage, &problems);
    keylist_free(&l);
    if (rc < 0) {
        free(damage);
        return -1;
    }
    if (problems > 1) {
        v->own[i] = dup_printf("%s (and %zu more object%s)", damage, problems - 1,
                               problems > 2 ? "s" : "");
        free(damage);
    } else {
        v->own[i] = damage;
    }
    return 0;
}

/* ---------------------------------------------------------------- chains */

static const cat_bad *bad_manifest(const catalog *c, const naming_spec *spec, const char *id)
{
    for (size_t b = 0; b < c->bad; b++)
        if (strcmp(c->badv[b].id, id) == 0 && strcmp(c->badv[b].spec.pool, spec->pool) == 0 &&
            strcmp(c->badv[b].spec.ns, spec->ns) == 0 &&
            strcmp(c->badv[b].spec.image, spec->image) == 0)
            return &c->badv[b];
    return NULL;
}

/* Walk the chain of entry i: incomplete (a parent missing), or using a damaged backup. */
static void check_chain(vf *v, size_t i)
{
    const catalog *c = &v->cat;
    long cur = (long)i;
    for (size_t steps = 0; steps <= c->n; steps++) {
        const cat_entry *e = &c->e[cur];
        if (cur != (long)i && v->own[cur] != NULL) {
            v->chain[i] = dup_printf("chain uses damaged backup %s", e->id);
            return;
        }
        if (e->m.full)
            return;
        long parent = catalog_parent(c, (size_t)cur);
        if (parent < 0) {
            const cat_bad *b = bad_manifest(c, &e->spec, e->m.parent_id);
            if (b != NULL)
                v->chain[i] = dup_printf("chain incomplete: parent backup %s of %s is "
                                         "missing (manifest %s: %s)", e->m.parent_id, e->id,
                                         b->key, b->why);
            else
                v->chain[i] = dup_printf("chain incomplete: parent backup %s of %s is "
                                         "missing", e->m.parent_id, e->id);
            return;
        }
        cur = parent;
    }
    v->chain[i] = dup_printf("chain incomplete: the parents of %s form a loop", c->e[i].id);
}

/* ---------------------------------------------------------------- --deep */

/* The index of entry i against its SHA-256, and every chunk of it. */
static int check_deep(vf *v, size_t i)
{
    ag_ctx *ctx = v->ctx;
    const manifest *m = &v->cat.e[i].m;
    index_rec *recs = NULL;
    size_t n = 0;
    ag_debug(ctx, "deep check of %s: %llu records", m->id,
             (unsigned long long)m->index_records);
    if (catalog_load_index(ctx, m, &recs, &n) < 0)
        return take_damage(ctx, &v->own[i]);
    if (n != m->index_records) {
        v->own[i] = dup_printf("chunk index %s has %zu records, the manifest says %llu",
                               m->index.key, n, (unsigned long long)m->index_records);
        free(recs);
        return 0;
    }
    exec_src xs = { m, recs, n };
    plan p;
    int rc = exec_plan(ctx, &xs, 1, &p);
    if (rc == 0) {
        exec_sink sink = { .img = NULL, .fd = v->devnull, .fresh = 1, .keep_holes = 1 };
        if (exec_restore(ctx, &p, &xs, &sink) < 0)
            rc = take_damage(ctx, &v->own[i]);
        plan_free(&p);
    }
    free(recs);
    return rc;
}

/* ---------------------------------------------------------------- --source */

typedef struct cmp {
    int fd;                   /* read end of the pipe; -1 once closed */
    rbdio_image *img;
    uint64_t size;
    uint64_t pos;             /* bytes compared so far */
    int differs;              /* 1: the bytes differ from diff_off on */
    uint64_t diff_off;
    int short_stream;         /* the stream ended before the snapshot's size */
    int rc;                   /* < 0: reading the source failed (why in err) */
    char err[1024];
    unsigned char *got, *want;
} cmp;

/* Fill buf from the pipe; returns the byte count (short only at the end) or -errno. */
static ssize_t read_block(int fd, unsigned char *buf, size_t len)
{
    size_t got = 0;
    while (got < len) {
        ssize_t n = read(fd, buf + got, len - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        if (n == 0)
            break;
        got += (size_t)n;
    }
    return (ssize_t)got;
}

static int read_source(cmp *c, rbdio_aio *w, size_t len)
{
    for (size_t o = 0; o < len; o += CMP_READ) {
        size_t n = len - o < CMP_READ ? len - o : CMP_READ;
        int rc = rbdio_aio_read(w, c->pos + o, n, c->want + o, NULL, NULL);
        if (rc < 0)
            return rc;
    }
    return rbdio_aio_drain(w);
}

static void *cmp_main(void *arg)
{
    cmp *c = arg;
    rbdio_aio *w = NULL;
    int rc = rbdio_aio_new(c->img, CMP_BLOCK / CMP_READ, &w);
    while (rc == 0 && !c->differs) {
        ssize_t n = read_block(c->fd, c->got, CMP_BLOCK);
        if (n < 0) {
            rc = (int)n;
            break;
        }
        size_t len = (size_t)n;
        if (c->pos + len > c->size)
            len = (size_t)(c->size - c->pos);
        if (len > 0 && (rc = read_source(c, w, len)) < 0)
            break;
        for (size_t k = 0; k < len; k++)
            if (c->got[k] != c->want[k]) {
                c->differs = 1;
                c->diff_off = c->pos + k;
                break;
            }
        if (!c->differs && (size_t)n != len) {
            c->differs = 1;                       /* the stream is longer */
            c->diff_off = c->size;
        }
        c->pos += len;
        if (n == 0 || (size_t)n < CMP_BLOCK)
            break;
    }
    if (rc == 0 && !c->differs && c->pos < c->size)
        c->short_stream = 1;                      /* the writer stopped (or a short plan) */
    if (rc < 0) {
        c->rc = rc;
        snprintf(c->err, sizeof(c->err), "reading the source snapshot: %s",
                 rbdio_last_error()[0] ? rbdio_last_error() : strerror(-rc));
    }
    if (w != NULL)
        rbdio_aio_free(w);
    close(c->fd);                                 /* a writer still going gets EPIPE */
    c->fd = -1;
    return NULL;
}

/* Stream the plan into a pipe that a thread compares with the snapshot. Sets v->src[i]
 * or v->own[i]; -1 with the error recorded (an integrity error is damage). */
static int run_compare(vf *v, size_t i, cmp *c, const plan *p, const exec_src *xs)
{
    ag_ctx *ctx = v->ctx;
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) < 0)
        return ag_fail(ctx, AG_EFAIL, "pipe: %s", strerror(errno));
    c->fd = fds[0];
    fcntl(fds[1], F_SETPIPE_SZ, 1 << 20);        /* fewer wake-ups; best effort */
    pthread_t th;
    if (pthread_create(&th, NULL, cmp_main, c) != 0) {
        close(fds[0]);
        close(fds[1]);
        return ag_fail(ctx, AG_EFAIL, "cannot start a thread");
    }
    int rc = exec_restore_stream(ctx, p, xs, fds[1]);
    close(fds[1]);
    pthread_join(th, NULL);
    if (rc < 0 && (ctx->exit_code == AG_EINTEGRITY || c->short_stream))
        return -1;                /* a chunk failed its check, or S3 failed: not EPIPE */
    if (c->rc < 0) {
        clear_error(ctx);         /* the writer's EPIPE */
        return ag_fail_rbd_why(ctx, c->rc, c->err);
    }
    if (c->differs) {
        clear_error(ctx);
        v->own[i] = dup_printf("the restored chain differs from the source snapshot %s at "
                               "offset %llu", v->cat.e[i].m.snap_name,
                               (unsigned long long)c->diff_off);
        return 0;
    }
    if (rc < 0)
        return -1;
    if (c->short_stream) {
        v->own[i] = dup_printf("the restored chain ends at offset %llu, the source snapshot "
                               "%s is %llu bytes", (unsigned long long)c->pos,
                               v->cat.e[i].m.snap_name, (unsigned long long)c->size);
        return 0;
    }
    v->src[i] = SRC_SAME;
    return 0;
}

/* The chain of entry i restored as a stream, compared with the snapshot open in img. */
static int stream_compare(vf *v, size_t i, rbdio_image *img, uint64_t snap_size)
{
    ag_ctx *ctx = v->ctx;
    chain ch;
    if (chain_open(ctx, &v->cat, i, &ch) < 0)
        return take_damage(ctx, &v->own[i]);
    exec_src *xs = calloc(ch.n, sizeof(*xs));
    int rc = xs ? 0 : ag_fail(ctx, AG_EFAIL, "out of memory");
    if (rc == 0)
        rc = chain_load_indexes(ctx, &ch, 0);
    for (size_t k = 0; rc == 0 && k < ch.n; k++)
        xs[k] = (exec_src){ ch.v[k].m, ch.v[k].recs, ch.v[k].nrecs };
    plan p;
    int planned = rc == 0 && (rc = exec_plan(ctx, xs, ch.n, &p)) == 0;
    cmp c = { .fd = -1, .img = img, .size = snap_size };
    if (rc == 0) {
        c.got = malloc(CMP_BLOCK);
        c.want = malloc(CMP_BLOCK);
        rc = c.got && c.want ? run_compare(v, i, &c, &p, xs)
                             : ag_fail(ctx, AG_EFAIL, "out of memory");
    }
    free(c.got);
    free(c.want);
    if (planned)
        plan_free(&p);
    free(xs);
    chain_free(&ch);
    return rc < 0 ? take_damage(ctx, &v->own[i]) : 0;
}

/* Compare entry i with its snapshot on the source image, if the snapshot still exists. */
static int check_source(vf *v, size_t i)
{
    ag_ctx *ctx = v->ctx;
    const cat_entry *e = &v->cat.e[i];
    rbdio_cluster *cl = ag_cluster(ctx);
    if (cl == NULL)
        return -1;
    rbdio_spec rs = { e->spec.pool, e->spec.ns, e->spec.image };
    rbdio_image *img = NULL;
    int rc = rbdio_open(cl, &rs, e->m.snap_name, &img);
    if (rc == -ENOENT) {
        v->src[i] = SRC_GONE;
        return 0;
    }
    char name[NAMING_SPEC_MAX], what[2200];
    entry_name(e, name, sizeof(name));
    snprintf(what, sizeof(what), "%s@%s", name, e->m.snap_name);
    if (rc < 0)
        return ag_fail_rbd(ctx, rc, what);
    rbdio_info info;
    rc = rbdio_stat(img, &info);
    if (rc < 0) {
        rbdio_close(img);
        return ag_fail_rbd(ctx, rc, what);
    }
    ag_debug(ctx, "comparing %s with the restored chain", what);
    if (info.size != e->m.size)
        v->own[i] = dup_printf("source snapshot %s is %llu bytes, the backup %llu",
                               e->m.snap_name, (unsigned long long)info.size,
                               (unsigned long long)e->m.size);
    else
        rc = stream_compare(v, i, img, info.size);
    rbdio_close(img);
    return rc;
}

/* ---------------------------------------------------------------- report */

static void row_name(const vf *v, const vrow *r, char *name, size_t namesz, const char **id)
{
    const naming_spec *spec = r->e >= 0 ? &v->cat.e[r->e].spec : &v->cat.badv[r->bad].spec;
    naming_spec_str(spec, name, namesz);
    *id = r->e >= 0 ? v->cat.e[r->e].id : v->cat.badv[r->bad].id;
}

static const vf *sort_vf;

static int cmp_row(const void *a, const void *b)
{
    char na[NAMING_SPEC_MAX], nb[NAMING_SPEC_MAX];
    const char *ia, *ib;
    row_name(sort_vf, a, na, sizeof(na), &ia);
    row_name(sort_vf, b, nb, sizeof(nb), &ib);
    int c = strcmp(na, nb);
    return c != 0 ? c : strcmp(ia, ib);
}

/* The damage text of a row (malloc'ed), or NULL when it is fine. */
static char *row_damage(const vf *v, const vrow *r)
{
    if (r->bad >= 0)
        return dup_printf("manifest %s: %s, not a backup", v->cat.badv[r->bad].key,
                          v->cat.badv[r->bad].why);
    const char *own = v->own[r->e], *via = v->chain[r->e];
    if (own != NULL && via != NULL)
        return dup_printf("%s; %s", own, via);
    if (own != NULL || via != NULL)
        return strdup(own != NULL ? own : via);
    return NULL;
}

static const char *src_word(int s)
{
    return s == SRC_SAME ? "identical" : s == SRC_GONE ? "skipped (snapshot gone)" : NULL;
}

static json_object *row_json(const vf *v, const vrow *r, const char *damage)
{
    char name[NAMING_SPEC_MAX];
    const char *id;
    row_name(v, r, name, sizeof(name), &id);
    json_object *o = json_object_new_object();
    json_object_object_add(o, "image", json_object_new_string(name));
    json_object_object_add(o, "id", json_object_new_string(id));
    const manifest *m = r->e >= 0 ? &v->cat.e[r->e].m : NULL;
    json_object_object_add(o, "type", m == NULL ? NULL : json_object_new_string(
                               m->full ? "full" : "incremental"));
    json_object_object_add(o, "status", json_object_new_string(damage ? "damaged" : "ok"));
    json_object_object_add(o, "reason", damage ? json_object_new_string(damage) : NULL);
    if (v->source) {
        const char *w = r->e >= 0 ? src_word(v->src[r->e]) : NULL;
        json_object_object_add(o, "source", w ? json_object_new_string(w) : NULL);
    }
    return o;
}

/* Print the report; returns the number of damaged rows, or -1 (out of memory). */
static long report(vf *v)
{
    size_t n = 0;
    vrow *rows = calloc(v->cat.n + v->cat.bad + 1, sizeof(*rows));
    if (rows == NULL)
        return ag_fail(v->ctx, AG_EFAIL, "out of memory");
    for (size_t i = 0; i < v->cat.n; i++)
        if (v->in_scope[i])
            rows[n++] = (vrow){ (long)i, -1 };
    for (size_t b = 0; b < v->cat.bad; b++)
        if (v->bad_in_scope[b])
            rows[n++] = (vrow){ -1, (long)b };
    sort_vf = v;
    qsort(rows, n, sizeof(*rows), cmp_row);
    json_object *root = NULL, *arr = NULL;
    if (v->ctx->opts.json) {
        root = json_object_new_object();
        arr = json_object_new_array();
    }
    long damaged = 0;
    for (size_t k = 0; k < n; k++) {
        char *damage = row_damage(v, &rows[k]);
        damaged += damage != NULL;
        if (arr != NULL) {
            json_object_array_add(arr, row_json(v, &rows[k], damage));
        } else {
            char name[NAMING_SPEC_MAX];
            const char *id;
            row_name(v, &rows[k], name, sizeof(name), &id);
            const char *w = rows[k].e >= 0 ? src_word(v->src[rows[k].e]) : NULL;
            if (damage != NULL)
                printf("%s@%s: DAMAGED: %s\n", termesc_str(name), termesc_str(id),
                       termesc_str(damage));
            else if (w != NULL)
                printf("%s@%s: ok; source: %s\n", termesc_str(name), termesc_str(id), w);
            else
                printf("%s@%s: ok\n", termesc_str(name), termesc_str(id));
        }
        free(damage);
    }
    if (root != NULL) {
        json_object_object_add(root, "deep", json_object_new_boolean(v->deep));
        json_object_object_add(root, "source", json_object_new_boolean(v->source));
        json_object_object_add(root, "checked", json_object_new_int64((int64_t)n));
        json_object_object_add(root, "damaged", json_object_new_int64(damaged));
        json_object_object_add(root, "backups", arr);
        puts(json_object_to_json_string_ext(root, AG_JSON_OUT));
        json_object_put(root);
    }
    fflush(stdout);
    free(rows);
    if (damaged > 0)
        ag_fail(v->ctx, AG_EINTEGRITY, "%ld of %zu backups damaged", damaged, n);
    return damaged;
}

/* ---------------------------------------------------------------- command */

static int run(vf *v)
{
    ag_ctx *ctx = v->ctx;
    if (catalog_load(ctx, v->have_spec ? &v->spec : NULL, &v->cat) < 0 || set_scope(v) < 0)
        return -1;
    size_t n = v->cat.n;
    for (size_t i = 0; i < n; i++)
        if (v->in_scope[i] && check_objects(v, i) < 0)
            return -1;
    if (v->deep) {
        v->devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
        if (v->devnull < 0)
            return ag_fail(ctx, AG_EFAIL, "/dev/null: %s", strerror(errno));
        for (size_t i = 0; i < n; i++)
            if (v->in_scope[i] && v->own[i] == NULL && check_deep(v, i) < 0)
                return -1;
    }
    for (size_t i = 0; i < n; i++)
        if (v->in_scope[i])
            check_chain(v, i);
    for (size_t i = 0; v->source && i < n; i++)
        if (v->in_scope[i] && v->own[i] == NULL && v->chain[i] == NULL &&
            check_source(v, i) < 0)
            return -1;
    return report(v) < 0 ? -1 : 0;
}

static void cleanup(vf *v)
{
    for (size_t i = 0; i < v->cat.n; i++) {
        if (v->own != NULL)
            free(v->own[i]);
        if (v->chain != NULL)
            free(v->chain[i]);
    }
    free(v->own);
    free(v->chain);
    free(v->in_scope);
    free(v->src);
    free(v->bad_in_scope);
    if (v->devnull >= 0)
        close(v->devnull);
    catalog_free(&v->cat);
}

int cmd_verify(ag_ctx *ctx, int argc, char **argv)
{
    vf v;
    memset(&v, 0, sizeof(v));
    v.ctx = ctx;
    v.devnull = -1;
    const char *deep = NULL, *source = NULL;
    opts_cmd spec[] = { { "deep", 0, &deep }, { "source", 0, &source } };
    char **pos;
    int npos;
    if (opts_parse_command(ctx, argc, argv, spec, 2, &pos, &npos) < 0)
        return ctx->exit_code;
    if (npos > 1 || (npos == 1 && naming_parse_spec(pos[0], 1, &v.spec) < 0)) {
        ag_fail(ctx, AG_EUSAGE, "usage: verify [POOL/IMAGE[@BACKUP]] [--deep] [--source]");
        return ctx->exit_code;
    }
    v.have_spec = npos == 1;
    v.deep = deep != NULL;
    v.source = source != NULL;
    run(&v);
    cleanup(&v);
    return ctx->exit_code;
}
