/* export.c - the export-diff command: a backup, or what changed between two backups of
 * one chain, as an `rbd export-diff` stream (v1 for `rbd import-diff`, or v2) in a file
 * or on stdout. */
#include "agent/common/context.h"
#include "agent/command/command.h"
#include "agent/repo/catalog.h"
#include "agent/repo/trust/head.h"
#include "agent/repo/chain.h"
#include "agent/repo/asof.h"
#include "agent/restore/apply.h"
#include "agent/restore/ordered.h"
#include "agent/restore/walk.h"
#include "agent/format/index.h"
#include "agent/config/options.h"
#include "agent/restore/plan.h"
#include "agent/common/progress.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* One export-diff run: the parsed command, the chain and its indexes, the output. */
typedef struct export_job {
    ag_ctx *ctx;
    naming_spec spec;
    char name[NAMING_SPEC_MAX];
    const char *from_at;        /* --from, or NULL */
    const char *as_of;          /* --as-of, or NULL */
    int version;                /* --diff-format */
    const char *file;           /* FILE or "-" */
    int is_stdout;
    int fd;
    int created;
    catalog cat;
    chain ch;                   /* target's chain (its indexes read as streams) */
    size_t first;               /* chain members [first, ch.n) are exported */
    long from;                  /* chain position of --from, or -1 */
    uint64_t trunc_lo, trunc_hi; /* holes in here were cut off by a shrink since --from */
    rbdio_ds_writer *w;
    uint64_t data_bytes, zero_bytes;
} export_job;

static const manifest *chain_m(const export_job *x, size_t i)
{
    return x->ch.v[i].m;
}

static int ds_fail(export_job *x, int rc)
{
    return ag_fail(x->ctx, ag_interrupted ? AG_EINTR : AG_EFAIL, "writing %s: %s",
                   x->is_stdout ? "the output" : x->file,
                   rc == -ENOMEM ? "out of memory" : rbdio_last_error());
}

/* ---- the stream's records, from the ordered walk of the plan ---- */

static int on_data(void *arg, uint64_t off, const unsigned char *data, uint64_t len)
{
    export_job *x = arg;
    int rc = rbdio_ds_write(x->w, off, len, data);
    if (rc < 0)
        return ds_fail(x, rc);
    x->data_bytes += len;
    return 0;
}

static int zero_rec(export_job *x, uint64_t off, uint64_t len)
{
    if (len == 0)
        return 0;
    int rc = rbdio_ds_zero(x->w, off, len);
    if (rc < 0)
        return ds_fail(x, rc);
    x->zero_bytes += len;
    return 0;
}

/* Zero records are written; holes are left out (never written, or unchanged since
 * --from), except where a shrink after --from cut data off: that part is zeroed. */
static int on_zero(void *arg, uint64_t off, uint64_t len, int kind)
{
    export_job *x = arg;
    if (kind == 1)
        return zero_rec(x, off, len);
    uint64_t a = off > x->trunc_lo ? off : x->trunc_lo;
    uint64_t e = off + len < x->trunc_hi ? off + len : x->trunc_hi;
    return a < e ? zero_rec(x, a, e - a) : 0;
}

/* ---- steps ---- */

static int parse(export_job *x, int argc, char **argv)
{
    ag_ctx *ctx = x->ctx;
    const char *fmt = NULL;
    opts_cmd spec[] = { { "from", 1, &x->from_at }, { "diff-format", 1, &fmt },
                        { "as-of", 1, &x->as_of } };
    char **pos;
    int npos;
    if (opts_parse_command(ctx, argc, argv, spec, 3, &pos, &npos) < 0)
        return -1;
    if (npos != 2)
        return ag_fail(ctx, AG_EUSAGE, "usage: export-diff POOL/IMAGE[@BACKUP] "
                       "[--from BACKUP] [--diff-format 1|2] [--as-of TIME] FILE|-");
    x->version = 1;
    if (fmt != NULL && strcmp(fmt, "1") != 0 && strcmp(fmt, "2") != 0)
        return ag_fail(ctx, AG_EUSAGE, "--diff-format takes 1 or 2");
    if (fmt != NULL)
        x->version = fmt[0] - '0';
    if (x->from_at != NULL && x->from_at[0] == '\0')
        return ag_fail(ctx, AG_EUSAGE, "--from takes a backup id or snapshot name");
    if (naming_parse_spec(pos[0], 1, &x->spec) < 0)
        return ag_fail(ctx, AG_EUSAGE, "'%s': expected POOL/IMAGE[@BACKUP]", pos[0]);
    naming_spec_str(&x->spec, x->name, sizeof(x->name));
    x->file = pos[1];
    x->is_stdout = strcmp(x->file, "-") == 0;
    return 0;
}

/* The target's chain; with --from, its position in the chain (an older member). */
static int resolve(export_job *x)
{
    ag_ctx *ctx = x->ctx;
    if (asof_open_spec(ctx, x->as_of, &x->spec) < 0 || catalog_load(ctx, &x->spec, &x->cat) < 0)
        return -1;
    if (x->spec.at[0] == '\0' && head_check(ctx, &x->cat, &x->spec, 1) < 0)
        return -1;
    long t = catalog_find(ctx, &x->cat, &x->spec, x->spec.at);
    if (t < 0 || chain_open(ctx, &x->cat, (size_t)t, &x->ch) < 0)
        return -1;
    x->from = -1;
    if (x->from_at != NULL) {
        long f = catalog_find(ctx, &x->cat, &x->spec, x->from_at);
        if (f < 0)
            return -1;
        for (size_t i = 0; i + 1 < x->ch.n; i++)
            if (x->ch.v[i].at == (size_t)f)
                x->from = (long)i;
        if (x->from < 0)
            return ag_fail(ctx, AG_EUSAGE, "--from %s: backup %s is not an older backup "
                           "in the chain of %s@%s", x->from_at, x->cat.e[f].id, x->name,
                           x->cat.e[t].id);
        x->first = (size_t)x->from + 1;
    }
    return 0;
}

/* FILE must not exist; a FIFO or a character device (/dev/null) is written to. */
static int open_output(export_job *x)
{
    ag_ctx *ctx = x->ctx;
    if (x->is_stdout) {
        x->fd = STDOUT_FILENO;
        return 0;
    }
    struct stat st;
    if (stat(x->file, &st) == 0 && !S_ISFIFO(st.st_mode) && !S_ISCHR(st.st_mode))
        return ag_fail(ctx, AG_EEXIST, "%s: already exists", x->file);
    x->fd = open(x->file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (x->fd >= 0) {
        x->created = 1;
        return 0;
    }
    if (errno == EEXIST)
        x->fd = open(x->file, O_WRONLY | O_CLOEXEC);
    if (x->fd < 0)
        return ag_fail(ctx, AG_EFAIL, "%s: %s", x->file, strerror(errno));
    if (fstat(x->fd, &st) < 0 || (!S_ISFIFO(st.st_mode) && !S_ISCHR(st.st_mode)))
        return ag_fail(ctx, AG_EEXIST, "%s: already exists", x->file);
    return 0;
}

/* With --from: a hole in the merged plan is a range unchanged since --from, except where
 * the image shrank after it (to lo, the smallest size since) below its size then (hi):
 * the shrink cut that data off, and import-diff's resize to 's' does not. Holes in
 * [lo, hi) are written as zero records. */
static void truncated_range(export_job *x)
{
    if (x->from < 0)
        return;
    uint64_t lo = UINT64_MAX;
    for (size_t i = x->first; i < x->ch.n; i++)
        if (chain_m(x, i)->size < lo)
            lo = chain_m(x, i)->size;
    uint64_t hi = chain_m(x, (size_t)x->from)->size;
    x->trunc_lo = lo;
    x->trunc_hi = lo < hi ? hi : lo;
}

static int write_stream(export_job *x)
{
    ag_ctx *ctx = x->ctx;
    const manifest *target = chain_m(x, x->ch.n - 1);
    walk_set set;
    rbdio_ds_header *h = calloc(1, sizeof(*h));
    if (walk_set_chain(ctx, &x->ch, x->first, x->ch.n - x->first, &set) < 0 || h == NULL) {
        walk_set_free(&set);
        free(h);
        return h == NULL ? ag_fail(ctx, AG_EFAIL, "out of memory") : -1;
    }
    h->version = x->version;
    if (x->from >= 0) {
        h->has_from = 1;
        snprintf(h->from_snap, sizeof(h->from_snap), "%s",
                 chain_m(x, (size_t)x->from)->snap_name);
    }
    h->has_to = 1;
    snprintf(h->to_snap, sizeof(h->to_snap), "%s", target->snap_name);
    h->has_size = 1;
    h->size = target->size;
    truncated_range(x);

    int rc = rbdio_ds_writer_new(x->fd, h, &x->w);
    if (rc < 0)
        rc = ds_fail(x, rc);
    if (rc == 0) {
        progress prog;
        progress_start(&prog, ctx, "Exporting", x->name);
        if (x->is_stdout)
            prog.on = 0;
        ordered_sink o = { .data = on_data, .zero = on_zero, .arg = x, .prog = &prog };
        rc = walk_ordered(ctx, &set, &o);
        if (rc == 0) {
            int frc = rbdio_ds_finish(x->w);
            x->w = NULL;
            if (frc < 0)
                rc = ds_fail(x, frc);
        }
        progress_end(&prog, rc == 0);
    }
    walk_set_free(&set);
    free(h);
    return rc;
}

static int run_export(export_job *x)
{
    ag_ctx *ctx = x->ctx;
    if (ag_s3(ctx) == NULL || resolve(x) < 0 || open_output(x) < 0)
        return -1;
    const manifest *target = chain_m(x, x->ch.n - 1);
    if (x->from >= 0)
        ag_info(ctx, "exporting %s@%s since %s (%zu backup%s)", x->name, target->id,
                chain_m(x, (size_t)x->from)->id, x->ch.n - x->first,
                x->ch.n - x->first == 1 ? "" : "s");
    else
        ag_info(ctx, "exporting %s@%s (%zu backup%s in the chain)", x->name, target->id,
                x->ch.n, x->ch.n == 1 ? "" : "s");
    if (write_stream(x) < 0)
        return -1;
    if (!x->is_stdout && fsync(x->fd) < 0 && errno != EINVAL && errno != EROFS)
        return ag_fail(ctx, AG_EFAIL, "%s: %s", x->file, strerror(errno));
    return 0;
}

static void report(export_job *x)
{
    const manifest *target = chain_m(x, x->ch.n - 1);
    const char *from = x->from >= 0 ? chain_m(x, (size_t)x->from)->id : NULL;
    if (x->ctx->opts.json) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "image", json_object_new_string(x->name));
        json_object_object_add(o, "id", json_object_new_string(target->id));
        json_object_object_add(o, "from", from ? json_object_new_string(from) : NULL);
        json_object_object_add(o, "file", json_object_new_string(x->file));
        json_object_object_add(o, "diff_format", json_object_new_int(x->version));
        json_object_object_add(o, "size", json_object_new_int64((int64_t)target->size));
        json_object_object_add(o, "data_bytes", json_object_new_int64((int64_t)x->data_bytes));
        json_object_object_add(o, "zero_bytes", json_object_new_int64((int64_t)x->zero_bytes));
        puts(json_object_to_json_string_ext(o, AG_JSON_OUT));
        json_object_put(o);
    } else {
        printf("%s@%s%s%s exported to %s\n", x->name, target->id, from ? " since " : "",
               from ? from : "", x->file);
    }
}

static void cleanup(export_job *x, int failed)
{
    rbdio_ds_writer_free(x->w);
    if (x->fd >= 0 && !x->is_stdout)
        close(x->fd);
    if (failed && x->created)
        unlink(x->file);
    chain_free(&x->ch);
    catalog_free(&x->cat);
    asof_close(x->ctx);
}

int cmd_export_diff(ag_ctx *ctx, int argc, char **argv)
{
    export_job x;
    memset(&x, 0, sizeof(x));
    x.ctx = ctx;
    x.fd = -1;
    if (parse(&x, argc, argv) < 0)
        return ctx->exit_code;
    int rc = run_export(&x);
    if (rc == 0 && !x.is_stdout)
        report(&x);
    cleanup(&x, rc < 0);
    return ctx->exit_code;
}
