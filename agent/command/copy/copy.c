/* copy.c - the copy command: backups of an image, with their chains, to a second bucket
 * (another endpoint too), server-side when both buckets are on one endpoint with the
 * same credentials, streamed otherwise; manifests last, so that an interrupted copy
 * leaves no backup that looks complete; a second run copies nothing. */
#include "agent/command/command.h"
#include "agent/command/copy/copy.h"
#include "agent/config/options.h"
#include "agent/repo/chain.h"
#include "agent/repo/trust/retain.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct copy_args {
    const char *to_bucket, *to_endpoint, *to_prefix;
    naming_spec spec;
} copy_args;

static int parse_args(ag_ctx *ctx, int argc, char **argv, copy_args *a)
{
    opts_cmd spec[] = { { "to-bucket", 1, &a->to_bucket }, { "to-endpoint", 1, &a->to_endpoint },
                        { "to-prefix", 1, &a->to_prefix } };
    char **pos;
    int npos;
    if (opts_parse_command(ctx, argc, argv, spec, 3, &pos, &npos) < 0)
        return -1;
    if (npos != 1)
        return ag_fail(ctx, AG_EUSAGE, "usage: copy POOL/IMAGE[@BACKUP] --to-bucket B "
                       "[--to-endpoint URL] [--to-prefix P]");
    if (naming_parse_spec(pos[0], 1, &a->spec) < 0)
        return ag_fail(ctx, AG_EUSAGE, "not an image spec: '%s'", pos[0]);
    if (a->to_bucket == NULL || a->to_bucket[0] == '\0')
        return ag_fail(ctx, AG_EUSAGE, "--to-bucket is required");
    const char *u = a->to_endpoint;
    const char *host = u == NULL ? NULL : strncmp(u, "http://", 7) == 0 ? u + 7
                       : strncmp(u, "https://", 8) == 0 ? u + 8 : "";
    if (u != NULL && (host[0] == '\0' || host[0] == '/' || host[0] == ':' ||
                      strpbrk(u, " \t\r\n\\") != NULL))
        return ag_fail(ctx, AG_EUSAGE, "--to-endpoint: not an http:// or https:// URL: '%s'",
                       u);
    return 0;
}

/* Fill j->dst from ctx and the arguments; decide server-side or streamed. */
static int setup_dst(copy_job *j, const copy_args *a)
{
    ag_ctx *ctx = j->ctx;
    const ag_opts *o = &ctx->opts;
    j->dst = *ctx;
    j->dst.s3 = NULL;
    j->dst.src = NULL;
    j->dst.asof = NULL;
    j->dst.opts.npools = 0;
    j->dst.exit_code = AG_OK;
    j->dst.errmsg[0] = '\0';
    ag_opts *d = &j->dst.opts;
    d->bucket = a->to_bucket;
    if (a->to_endpoint != NULL)
        d->endpoint = a->to_endpoint;
    if (a->to_prefix != NULL)
        d->prefix = a->to_prefix;
    if ((o->to_access_key == NULL) != (o->to_secret_key == NULL))
        return ag_fail(ctx, AG_EUSAGE, "copy: set both of to access key and to secret key "
                       "(or RBD2S3_TO_ACCESS_KEY_ID and RBD2S3_TO_SECRET_ACCESS_KEY), or "
                       "neither");
    if (o->to_access_key != NULL) {
        d->access_key = o->to_access_key;
        d->secret_key = o->to_secret_key;
        d->session_token = NULL;
    }
    if (o->to_region != NULL)
        d->region = o->to_region;
    if (ag_image_prefix(ctx, &a->spec, j->src_prefix, sizeof(j->src_prefix)) < 0 ||
        ag_image_prefix(&j->dst, &a->spec, j->dst_prefix, sizeof(j->dst_prefix)) < 0)
        return ag_fail(ctx, AG_EUSAGE, "image prefix too long");
    int same_ep = o->endpoint != NULL && strcmp(o->endpoint, d->endpoint) == 0;
    if (same_ep && strcmp(o->bucket, d->bucket) == 0 &&
        strcmp(j->src_prefix, j->dst_prefix) == 0)
        return ag_fail(ctx, AG_EUSAGE, "copy: the destination is the source (same endpoint, "
                       "bucket and prefix)");
    j->server_side = same_ep && d->access_key != NULL && o->access_key != NULL &&
                     strcmp(d->access_key, o->access_key) == 0 && d->secret_key != NULL &&
                     o->secret_key != NULL && strcmp(d->secret_key, o->secret_key) == 0;
    j->rewrite = strcmp(j->src_prefix, j->dst_prefix) != 0;
    time_t until = 0;
    if (ag_s3(&j->dst) == NULL || retain_begin(&j->dst, &until) < 0)
        return copy_dst_failed(j);
    return 0;
}

/* Mark want[i] for every backup of target's chain. With a master key configured the
 * chain is opened as a restore opens it (encrypted links authenticated); without one the
 * parents are followed as the manifests name them: encrypted backups are copied as they
 * are, the copy needs no key. */
static int want_chain(ag_ctx *ctx, const catalog *cat, size_t target, unsigned char *want)
{
    if (ctx->keys != NULL) {
        chain ch;
        if (chain_open(ctx, cat, target, &ch) < 0)
            return -1;
        for (size_t k = 0; k < ch.n; k++)
            want[ch.v[k].at] = 1;
        chain_free(&ch);
        return 0;
    }
    long cur = (long)target;
    for (size_t steps = 0; steps <= cat->n; steps++) {
        want[cur] = 1;
        if (cat->e[cur].m.full)
            return 0;
        long parent = catalog_parent(cat, (size_t)cur);
        if (parent < 0)
            return ag_fail(ctx, AG_EINTEGRITY, "backup %s: its parent %s is not in the "
                           "bucket", cat->e[cur].id, cat->e[cur].m.parent_id);
        cur = parent;
    }
    return ag_fail(ctx, AG_EINTEGRITY, "backup %s: its parents form a loop",
                   cat->e[target].id);
}

/* The backups to copy: the one named and its chain, or every backup of the image. */
static int select_backups(copy_job *j, const copy_args *a, const catalog *cat,
                          unsigned char *want)
{
    if (a->spec.at[0] != '\0') {
        long t = catalog_find(j->ctx, cat, &a->spec, a->spec.at);
        return t < 0 ? -1 : want_chain(j->ctx, cat, (size_t)t, want);
    }
    if (cat->n == 0) {
        char name[NAMING_SPEC_MAX];
        naming_spec_str(&a->spec, name, sizeof(name));
        return ag_fail(j->ctx, AG_ENOTFOUND, "%s: no backups", name);
    }
    for (size_t i = 0; i < cat->n; i++)
        if (want_chain(j->ctx, cat, i, want) < 0)
            return -1;
    return 0;
}

static void add_row(copy_job *j, const cat_entry *e, const char *state)
{
    if (j->rows == NULL)
        return;
    json_object *r = json_object_new_object();
    json_object_object_add(r, "id", json_object_new_string(e->id));
    json_object_object_add(r, "state", json_object_new_string(state));
    json_object_array_add(j->rows, r);
}

/* Copy the selected backups, oldest first (a parent before its children). */
static int copy_selected(copy_job *j, const catalog *cat, const unsigned char *want)
{
    for (size_t i = 0; i < cat->n; i++) {
        if (!want[i])
            continue;
        if (j->rewrite && cat->e[i].m.enc.on)
            return ag_fail(j->ctx, AG_EUSAGE, "backup %s is encrypted: its manifest is "
                           "authenticated with its keys, copy it under the same prefix",
                           cat->e[i].id);
    }
    for (size_t i = 0; i < cat->n; i++) {
        if (!want[i])
            continue;
        if (ag_interrupted)
            return ag_fail(j->ctx, AG_EINTR, "interrupted");
        int rc = copy_backup(j, &cat->e[i]);
        if (rc < 0)
            return -1;
        if (rc == 1)
            j->backups_present++;
        else
            j->backups_copied++;
        add_row(j, &cat->e[i], rc == 1 ? "present" : "copied");
        ag_debug(j->ctx, "backup %s: %s", cat->e[i].id, rc == 1 ? "already present"
                                                                 : "copied");
    }
    return 0;
}

static void report(copy_job *j, const copy_args *a)
{
    char name[NAMING_SPEC_MAX], sz[32];
    naming_spec_str(&a->spec, name, sizeof(name));
    if (j->ctx->opts.json) {
        json_object *root = json_object_new_object();
        json_object_object_add(root, "image", json_object_new_string(name));
        json_object_object_add(root, "to_bucket", json_object_new_string(a->to_bucket));
        json_object_object_add(root, "mode", json_object_new_string(
                                   j->server_side ? "server-side" : "streamed"));
        json_object_object_add(root, "backups_copied", json_object_new_int64(
                                   (int64_t)j->backups_copied));
        json_object_object_add(root, "backups_present", json_object_new_int64(
                                   (int64_t)j->backups_present));
        json_object_object_add(root, "objects_copied", json_object_new_int64(
                                   (int64_t)j->objects_copied));
        json_object_object_add(root, "objects_present", json_object_new_int64(
                                   (int64_t)j->objects_present));
        json_object_object_add(root, "bytes_copied", json_object_new_int64(
                                   (int64_t)j->bytes_copied));
        json_object_object_add(root, "bytes_transferred", json_object_new_int64(
                                   (int64_t)j->bytes_moved));
        json_object_object_add(root, "backups", json_object_get(j->rows));
        puts(json_object_to_json_string_ext(root, AG_JSON_OUT));
        json_object_put(root);
        return;
    }
    ag_fmt_size(j->bytes_copied, sz, sizeof(sz));
    ag_info(j->ctx, "%s: %zu backups copied to bucket %s (%llu objects, %s, %s); "
            "%zu backups already present", name, j->backups_copied, a->to_bucket,
            (unsigned long long)j->objects_copied, sz,
            j->server_side ? "server-side" : "streamed", j->backups_present);
}

int cmd_copy(ag_ctx *ctx, int argc, char **argv)
{
    copy_args a;
    copy_job j;
    catalog cat;
    memset(&a, 0, sizeof(a));
    memset(&j, 0, sizeof(j));
    memset(&cat, 0, sizeof(cat));
    j.ctx = ctx;
    unsigned char *want = NULL;
    if (parse_args(ctx, argc, argv, &a) < 0 || ag_s3(ctx) == NULL || setup_dst(&j, &a) < 0)
        goto out;
    ag_debug(ctx, "copy: %s to %s", j.server_side ? "server-side" : "streamed",
             j.dst_prefix);
    if (catalog_load(ctx, &a.spec, &cat) < 0)
        goto out;
    want = calloc(cat.n ? cat.n : 1, 1);
    if (want == NULL) {
        ag_fail(ctx, AG_EFAIL, "out of memory");
        goto out;
    }
    if (cat.bad > 0)
        ag_warn("copy: %zu damaged manifests of the image are not copied (see verify)",
                cat.bad);
    j.rows = json_object_new_array();
    if (select_backups(&j, &a, &cat, want) < 0 || copy_selected(&j, &cat, want) < 0 ||
        copy_head(&j, &a.spec) < 0)
        goto out;
    report(&j, &a);
out:
    json_object_put(j.rows);
    free(want);
    catalog_free(&cat);
    retain_end(&j.dst);
    j.dst.keys = NULL;
    ag_ctx_close(&j.dst);
    return ctx->exit_code;
}
