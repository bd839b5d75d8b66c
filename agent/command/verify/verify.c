/* verify.c - the verify command: every manifest, object and chain of the backups in scope;
 * with --deep every chunk's SHA-256, with --source the restored bytes against the source
 * snapshot. Damage is reported per backup and passed on to every backup whose chain uses
 * a damaged one. The checks are in objects.c and compare.c, the report in report.c. */
#include "agent/command/verify/verify.h"
#include "agent/command/command.h"
#include "agent/config/options.h"
#include "agent/repo/trust/enckeys.h"
#include "agent/repo/trust/head.h"
#include "agent/repo/asof.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

char *verify_fmt(const char *fmt, ...)
{
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    return strdup(buf);
}

void verify_clear_error(ag_ctx *ctx)
{
    ctx->exit_code = AG_OK;
    ctx->errmsg[0] = '\0';
}

int verify_take_damage(ag_ctx *ctx, char **out)
{
    if (ctx->exit_code != AG_EINTEGRITY)
        return -1;
    if (*out == NULL)
        *out = strdup(ctx->errmsg);
    verify_clear_error(ctx);
    return 0;
}

/* ---------------------------------------------------------------- scope */

/* Entry t and its chain in scope; a bad manifest only where it breaks the chain. */
static void scope_chain(verify_job *v, long t)
{
    catalog *c = &v->cat;
    for (long i = t; i >= 0; i = catalog_parent(c, (size_t)i)) {
        if (v->in_scope[i])
            break;                                 /* a loop of parents, or done */
        v->in_scope[i] = 1;
        for (size_t b = 0; !c->e[i].m.full && b < c->bad; b++)
            if (strcmp(c->badv[b].id, c->e[i].m.parent_id) == 0)
                v->bad_in_scope[b] = 1;
    }
}

/* --label: the backups with every label of the filter, and their chains. */
static void scope_labels(verify_job *v)
{
    for (size_t i = v->cat.n; i-- > 0;)
        if (labels_match(v->cat.e[i].m.labels, &v->filter))
            scope_chain(v, (long)i);
}

static int set_scope(verify_job *v)
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
        if (v->filter.n > 0) {
            scope_labels(v);
            return 0;
        }
        for (size_t i = 0; i < c->n; i++)
            v->in_scope[i] = 1;
        for (size_t i = 0; i < c->bad; i++)
            v->bad_in_scope[i] = 1;
        return 0;
    }
    long t = catalog_find(ctx, c, &v->spec, v->spec.at);
    if (t < 0)
        return -1;
    if (!labels_match(c->e[t].m.labels, &v->filter))
        return 0;                                  /* --label leaves it out */
    scope_chain(v, t);
    return 0;
}

/* ---------------------------------------------------------------- command */

/* The head objects of the images in scope: a rollback, deletion or forged head is damage
 * (v->head) that the run reports after its backups. 0, or -1 (another failure). */
static int check_heads(verify_job *v)
{
    int rc = v->have_spec ? head_check(v->ctx, &v->cat, &v->spec, 1)
                          : head_check_all(v->ctx, &v->cat, 1);
    return rc < 0 ? verify_take_damage(v->ctx, &v->head) : 0;
}

/* The head's damage as the run's last line (stdout in text mode) and its error. */
static int report_head(verify_job *v)
{
    if (!v->ctx->opts.json)
        printf("%s\n", v->head);
    verify_clear_error(v->ctx);
    return ag_fail(v->ctx, AG_EINTEGRITY, "%s", v->head);
}

static int run(verify_job *v)
{
    ag_ctx *ctx = v->ctx;
    const naming_spec *spec = v->have_spec ? &v->spec : NULL;
    if (asof_open_spec(ctx, v->as_of, spec) < 0 || catalog_load(ctx, spec, &v->cat) < 0 ||
        check_heads(v) < 0)
        return -1;
    if (v->head != NULL && v->cat.n == 0 && v->cat.bad == 0)
        return report_head(v);                     /* every backup gone but the head */
    if (set_scope(v) < 0)
        return -1;
    size_t n = v->cat.n;
    for (size_t i = 0; i < n; i++)
        if (v->in_scope[i] && enckeys_require(ctx, &v->cat.e[i]) < 0)
            return -1;
    for (size_t i = 0; i < n; i++)
        if (v->in_scope[i] && verify_objects(v, i) < 0)
            return -1;
    if (v->deep) {
        v->devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
        if (v->devnull < 0)
            return ag_fail(ctx, AG_EFAIL, "/dev/null: %s", strerror(errno));
        for (size_t i = 0; i < n; i++)
            if (v->in_scope[i] && v->own[i] == NULL && verify_deep(v, i) < 0)
                return -1;
    }
    for (size_t i = 0; i < n; i++)
        if (v->in_scope[i])
            verify_chain(v, i);
    if (verify_protection(v) < 0)
        return -1;
    for (size_t i = 0; v->source && i < n; i++)
        if (v->in_scope[i] && v->own[i] == NULL && v->chain[i] == NULL &&
            verify_source(v, i) < 0)
            return -1;
    if (verify_report(v) < 0)
        return -1;
    return v->head != NULL ? report_head(v) : 0;
}

static void cleanup(verify_job *v)
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
    free(v->head);
    free(v->own_until);
    free(v->protected_until);
    free(v->sampled);
    if (v->devnull >= 0)
        close(v->devnull);
    catalog_free(&v->cat);
    asof_close(v->ctx);
}

int cmd_verify(ag_ctx *ctx, int argc, char **argv)
{
    verify_job v;
    memset(&v, 0, sizeof(v));
    v.ctx = ctx;
    v.devnull = -1;
    const char *deep = NULL, *source = NULL;
    const char *sample = NULL, *seed = NULL;
    const char *label = NULL, *bad, *why;
    opts_cmd spec[] = { { "deep", 0, &deep }, { "source", 0, &source }, { "as-of", 1, &v.as_of },
                        { "sample", 1, &sample }, { "seed", 1, &seed },
                        { "label", 1, &label } };
    char **pos;
    int npos;
    if (opts_parse_command(ctx, argc, argv, spec, 6, &pos, &npos) < 0)
        return ctx->exit_code;
    if (labels_collect(argc, argv, "label", 0, &v.filter, &bad, &why) < 0) {
        ag_fail(ctx, AG_EUSAGE, "--label '%s': %s", bad, why);
        return ctx->exit_code;
    }
    if (npos > 1 || (npos == 1 && naming_parse_spec(pos[0], 1, &v.spec) < 0)) {
        ag_fail(ctx, AG_EUSAGE, "usage: verify [POOL/IMAGE[@BACKUP]] [--deep] [--source "
                "[--sample PERCENT [--seed N]]] [--as-of TIME] [--label KEY=VALUE]...");
        return ctx->exit_code;
    }
    v.have_spec = npos == 1;
    v.deep = deep != NULL;
    v.source = source != NULL;
    if (verify_sample_opts(&v, sample, seed) < 0)
        return ctx->exit_code;
    run(&v);
    cleanup(&v);
    return ctx->exit_code;
}
