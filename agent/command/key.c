/* key.c - the key command: `key create FILE` writes a new master key file (32 random
 * bytes, mode 0600, never over an existing file) and prints its key id; `key rotate`
 * rewraps the data keys of every manifest under a new master key. */
#include "agent/common/context.h"
#include "agent/command/command.h"
#include "agent/config/keyring.h"
#include "agent/config/options.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#define KEY_USAGE "usage: key create FILE | key rotate"

/* The key id of the key file at path (read back through the keyring's checks) into
 * id; 0, or -1 with the keyring's line printed and *code set. */
static int key_file_id(const char *path, char id[SEAL_KEY_ID_LEN], int *code)
{
    ag_opts o;
    keyring *kr = NULL;
    int err = 0;
    memset(&o, 0, sizeof(o));
    o.key_file = path;
    if (keyring_load(&o, &kr, code) < 0)
        return -1;
    const seal_key *k = keyring_current(kr, NULL, NULL, &err);
    snprintf(id, SEAL_KEY_ID_LEN, "%s", k != NULL ? k->id : "");
    keyring_free(kr);
    return 0;
}

/* key create FILE. */
static int key_create(ag_ctx *ctx, const char *path)
{
    char id[SEAL_KEY_ID_LEN];
    int rc = keyring_create_file(path);
    if (rc == -EEXIST)
        return ag_fail(ctx, AG_EEXIST, "%s: exists: a key file is never overwritten", path);
    if (rc < 0)
        return ag_fail(ctx, AG_EFAIL, "%s: cannot create the key file: %s", path,
                       strerror(-rc));
    int code = AG_OK;
    if (key_file_id(path, id, &code) < 0)
        return ag_fail(ctx, code, "%s: cannot read the new key file back", path);
    if (ctx->opts.json) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "key_file", json_object_new_string(path));
        json_object_object_add(o, "key_id", json_object_new_string(id));
        printf("%s\n", json_object_to_json_string_ext(o, AG_JSON_OUT));
        json_object_put(o);
    } else {
        printf("%s: key id %s\n", path, id);
    }
    ag_info(ctx, "keep a copy of %s in a safe place: without it, backups encrypted "
            "with it cannot be restored", path);
    return 0;
}

/* key rotate: rewraps every manifest's data key under the new current key (helper
 * "head" adds it here). */
static int key_rotate(ag_ctx *ctx)
{
    return ag_fail(ctx, AG_EUSAGE, "key rotate: not available in this build");
}

int cmd_key(ag_ctx *ctx, int argc, char **argv)
{
    char **pos;
    int npos;
    if (opts_parse_command(ctx, argc, argv, NULL, 0, &pos, &npos) < 0)
        return ctx->exit_code;
    if (npos == 2 && strcmp(pos[0], "create") == 0)
        key_create(ctx, pos[1]);
    else if (npos == 1 && strcmp(pos[0], "rotate") == 0)
        key_rotate(ctx);
    else
        ag_fail(ctx, AG_EUSAGE, KEY_USAGE);
    return ctx->exit_code;
}
