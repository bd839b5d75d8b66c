/* protect.c - the protect and unprotect commands: a backup (and the chain it needs) that
 * prune never removes, recorded as a protect object in the bucket (repo/protect.h). */
#include "agent/common/context.h"
#include "agent/command/command.h"
#include "agent/config/options.h"
#include "agent/repo/protect.h"
#include "agent/common/termesc.h"

#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

/* The spec (with its @BACKUP) and, for protect, --reason. 0, or -1 with exit 2. */
static int parse(ag_ctx *ctx, int argc, char **argv, int with_reason, naming_spec *spec,
                 const char **reason)
{
    opts_cmd opt[] = { { "reason", 1, reason } };
    int nopt = with_reason ? 1 : 0;     /* unprotect: no --reason, no option at all */
    char **pos;
    int npos;
    *reason = NULL;
    if (opts_parse_command(ctx, argc, argv, opt, nopt, &pos, &npos) < 0)
        return -1;
    if (npos != 1 || naming_parse_spec(pos[0], 1, spec) < 0 || spec->at[0] == '\0')
        return ag_fail(ctx, AG_EUSAGE, "usage: %s POOL/IMAGE@BACKUP%s", ctx->command,
                       with_reason ? " [--reason TEXT]" : "");
    if (*reason != NULL && !protectdoc_reason_ok(*reason))
        return ag_fail(ctx, AG_EUSAGE, "--reason: at most %d bytes of text without control "
                       "characters", PROTECTDOC_REASON_MAX);
    return 0;
}

static void print(const ag_ctx *ctx, const naming_spec *spec, const char *id, const char *what,
                  const protect_state *st)
{
    char name[NAMING_SPEC_MAX], desc[512], since[21] = "";
    naming_spec_str(spec, name, sizeof(name));
    if (!ctx->opts.json) {
        /* "protected (since DATE, REASON)", "already protected (since ...)", "unprotected" */
        if (st != NULL)
            protect_describe(st, desc, sizeof(desc));
        printf("%s@%s: %s%s\n", termesc_str(name), termesc_str(id),
               st != NULL && strcmp(what, "protected") != 0 ? "already " : "",
               st != NULL ? termesc_str(desc) : what);
        return;
    }
    json_object *o = json_object_new_object();
    json_object_object_add(o, "image", json_object_new_string(name));
    json_object_object_add(o, "id", json_object_new_string(id));
    json_object_object_add(o, "result", json_object_new_string(what));
    json_object_object_add(o, "protected", json_object_new_boolean(st != NULL));
    if (st != NULL && st->doc.since != 0)
        naming_iso8601(st->doc.since, since);
    if (since[0] != '\0')
        json_object_object_add(o, "protected_since", json_object_new_string(since));
    if (st != NULL && st->doc.reason[0] != '\0')
        json_object_object_add(o, "reason", json_object_new_string(st->doc.reason));
    puts(json_object_to_json_string_ext(o, AG_JSON_OUT));
    json_object_put(o);
}

/* Parse the command line and find its backup in the catalog *c (catalog_free it when 0
 * is returned). Its index, or -1 (recorded; *c loaded when 0 was returned: *loaded). */
static long find(ag_ctx *ctx, int argc, char **argv, int with_reason, naming_spec *spec,
                 const char **reason, catalog *c, int *loaded)
{
    *loaded = 0;
    if (parse(ctx, argc, argv, with_reason, spec, reason) < 0 || catalog_load(ctx, spec, c) < 0)
        return -1;
    *loaded = 1;
    return catalog_find(ctx, c, spec, spec->at);
}

int cmd_protect(ag_ctx *ctx, int argc, char **argv)
{
    naming_spec spec;
    const char *reason;
    catalog c;
    int loaded;
    long i = find(ctx, argc, argv, 1, &spec, &reason, &c, &loaded);
    protect_state st;
    int wrote = 0;
    if (i >= 0 && protect_put(ctx, &spec, c.e[i].id, reason, &st, &wrote) == 0)
        print(ctx, &spec, c.e[i].id, wrote ? "protected" : "already protected", &st);
    if (loaded)
        catalog_free(&c);
    return ctx->exit_code;
}

int cmd_unprotect(ag_ctx *ctx, int argc, char **argv)
{
    naming_spec spec;
    const char *reason;
    catalog c;
    int loaded, was = 0;
    long i = find(ctx, argc, argv, 0, &spec, &reason, &c, &loaded);
    if (!loaded)
        return ctx->exit_code;
    if (i < 0 && ctx->exit_code == AG_ENOTFOUND && naming_is_backup_id(spec.at)) {
        /* a protect object left without its backup can still be removed */
        char msg[sizeof(ctx->errmsg)];
        memcpy(msg, ctx->errmsg, sizeof(msg));
        ctx->exit_code = AG_OK;
        if (protect_remove(ctx, &spec, spec.at, &was) == 0 && was)
            print(ctx, &spec, spec.at, "unprotected", NULL);
        else if (ctx->exit_code == AG_OK)
            ag_fail(ctx, AG_ENOTFOUND, "%s", msg);
    } else if (i >= 0 && protect_remove(ctx, &spec, c.e[i].id, &was) == 0) {
        print(ctx, &spec, c.e[i].id, was ? "unprotected" : "was not protected", NULL);
    }
    catalog_free(&c);
    return ctx->exit_code;
}
