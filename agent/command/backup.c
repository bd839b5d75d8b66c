/* backup.c - the backup command: parse its options, back up the image, print the summary. */
#include "agent/common/context.h"
#include "agent/command/command.h"
#include "agent/config/options.h"
#include "agent/config/policy.h"
#include "agent/backup/image.h"
#include "agent/backup/resume.h"
#include "agent/repo/writer.h"

#include <json-c/json.h>
#include <stddef.h>
#include <stdio.h>

/* The summary of the committed backup m of image spec on stdout: one line, or with
 * --json the manifest's summary and the number of failed snapshot cleanup steps. */
static void report(const ag_ctx *ctx, const naming_spec *spec, const manifest *m,
                   const backup_image_result *res)
{
    int cleanup_errors = res->cleanup_errors;
    char name[NAMING_SPEC_MAX];
    naming_spec_str(spec, name, sizeof(name));
    if (ctx->opts.json) {
        json_object *o = writer_json(name, m);
        json_object_object_add(o, "cleanup_errors", json_object_new_int(cleanup_errors));
        if (m->labels != NULL)
            json_object_object_add(o, "labels", manifest_labels_json(m->labels));
        resume_json(o, res);
        pipeline_walk_json(o, &res->walk);
        puts(json_object_to_json_string_ext(o, AG_JSON_OUT));
        json_object_put(o);
        return;
    }
    char d[32], s[32];
    ag_fmt_size(m->data_bytes, d, sizeof(d));
    ag_fmt_size(m->stored_bytes, s, sizeof(s));
    printf("%s@%s: %s%s, %s changed, %s stored\n", name, m->id,
           m->full ? "full" : "incremental from ", m->full ? "" : m->parent_id, d, s);
}

int cmd_backup(ag_ctx *ctx, int argc, char **argv)
{
    const char *full = NULL, *every = NULL, *maxc = NULL, *resume = NULL, *nores = NULL;
    const char *label = NULL, *bad, *why;
    opts_cmd spec[] = { { "full", 0, &full }, { "full-every", 1, &every },
                        { "max-chain", 1, &maxc }, { "resume", 0, &resume },
                        { "no-resume", 0, &nores }, { "label", 1, &label } };
    char **pos;
    int npos;
    labels_set labels = { 0 };
    if (opts_parse_command(ctx, argc, argv, spec, 6, &pos, &npos) < 0)
        return ctx->exit_code;
    if (labels_collect(argc, argv, "label", 1, &labels, &bad, &why) < 0) {
        ag_fail(ctx, AG_EUSAGE, "--label '%s': %s", bad, why);
        return ctx->exit_code;
    }
    ctx->opts.labels = labels.n > 0 ? &labels : NULL;
    if (resume != NULL && nores != NULL) {
        ag_fail(ctx, AG_EUSAGE, "--resume and --no-resume exclude each other");
        return ctx->exit_code;
    }
    ctx->opts.no_resume = nores != NULL;
    if (npos != 1) {
        ag_fail(ctx, AG_EUSAGE, "usage: backup POOL/IMAGE[@SNAP] [--full] "
                "[--full-every DURATION] [--max-chain N] [--resume | --no-resume] "
                "[--label KEY=VALUE]...");
        return ctx->exit_code;
    }
    ag_policy cmd;
    policy_unset(&cmd);
    if ((every != NULL && policy_set_key(ctx, &cmd, "full-every", every, "command line") < 0) ||
        (maxc != NULL && policy_set_key(ctx, &cmd, "max-chain", maxc, "command line") < 0))
        return ctx->exit_code;
    naming_spec ns;
    if (naming_parse_spec(pos[0], 1, &ns) < 0) {
        ag_fail(ctx, AG_EUSAGE, "'%s': expected POOL/IMAGE or POOL/NAMESPACE/IMAGE",
                pos[0]);
        return ctx->exit_code;
    }
    backup_image_result res;
    manifest m;
    manifest_init(&m);
    if (backup_image(ctx, &ns, full != NULL, &cmd, NULL, &res, &m) == 0)
        report(ctx, &ns, &m, &res);
    manifest_clear(&m);
    return ctx->exit_code;
}
