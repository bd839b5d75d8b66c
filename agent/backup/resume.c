/* resume.c - whether a backup continues from the checkpoint of an interrupted one. */
#include "agent/backup/resume.h"
#include "agent/repo/trust/enckeys.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static const cat_entry *find_entry(const catalog *cat, const char *id)
{
    for (size_t i = 0; i < cat->n; i++)
        if (strcmp(cat->e[i].id, id) == 0)
            return &cat->e[i];
    return NULL;
}

/* Why c cannot be resumed ("" if it can); *parent gets its parent's entry. */
static void why_not(ag_ctx *ctx, rbdio_image *img, const char *image_id, const char *at,
                    const catalog *cat, const ckpt *c, const cat_entry **parent,
                    char *why, size_t whysz)
{
    const cat_entry *p = c->parent_id[0] != '\0' ? find_entry(cat, c->parent_id) : NULL;
    char own[NAMING_MAX];
    snprintf(own, sizeof(own), NAMING_SNAP_PREFIX "%s", c->id);
    *parent = p;
    why[0] = '\0';
    if (ctx->opts.no_resume)
        snprintf(why, whysz, "--no-resume");
    else if (time(NULL) - c->written > (time_t)ctx->opts.resume_grace)
        snprintf(why, whysz, "older than resume grace");
    else if (strcmp(c->image_id, image_id) != 0)
        snprintf(why, whysz, "the image was recreated");
    else if (c->chunk_size != ctx->opts.tun.chunk_size)
        snprintf(why, whysz, "chunk size changed");
    else if (enckeys_encrypts(ctx))
        snprintf(why, whysz, "the repository encrypts now");
    else if (strcmp(at[0] != '\0' ? at : own, c->snap) != 0)
        snprintf(why, whysz, "it is of snapshot %s", c->snap);
    else if (rbdio_snap_exists(img, c->snap) != 1)
        snprintf(why, whysz, "its snapshot %s is gone", c->snap);
    else if (c->parent_id[0] != '\0' &&
             (p == NULL || rbdio_snap_exists(img, p->m.snap_name) != 1))
        snprintf(why, whysz, "its parent %s or its snapshot is gone", c->parent_id);
}

/* Remove checkpoint c (whole folder, uploads) and its snapshot, unless --at names it. */
static void discard(ag_ctx *ctx, rbdio_image *img, const char *at, const char *prefix,
                    const ckpt *c)
{
    ckpt_drop(ctx, prefix, c->id, c->nsegs, 1);
    if (strcmp(at, c->snap) != 0 &&
        strncmp(c->snap, NAMING_SNAP_PREFIX, strlen(NAMING_SNAP_PREFIX)) == 0 &&
        rbdio_snap_exists(img, c->snap) == 1 && rbdio_snap_remove(img, c->snap) < 0)
        ag_warn("cannot remove snapshot %s of a stale checkpoint: %s", c->snap,
                rbdio_last_error());
}

int resume_pick(ag_ctx *ctx, rbdio_image *img, const char *image_id, const char *at,
                const char *image_prefix, const catalog *cat, const char *name, ckpt *c,
                const cat_entry **parent)
{
    char bad[NAMING_ID_LEN], why[1200];
    *parent = NULL;
    int rc = ckpt_find(ctx, image_prefix, c, bad);
    if (rc < 0)
        return -1;
    if (rc == 0 && bad[0] != '\0') {
        ag_info(ctx, "%s: checkpoint of %s unreadable, not resumed: starting over", name, bad);
        ckpt_drop(ctx, image_prefix, bad, 0, 1);
        return ctx->exit_code == AG_OK ? 0 : -1;
    }
    if (rc == 0)
        return 0;
    if (find_entry(cat, c->id) != NULL) {       /* committed: only its checkpoint is left */
        ckpt_drop(ctx, image_prefix, c->id, c->nsegs, 0);
        ckpt_clear(c);
        return 0;
    }
    why_not(ctx, img, image_id, at, cat, c, parent, why, sizeof(why));
    if (why[0] == '\0' && (rc = ckpt_check(ctx, image_prefix, c, why, sizeof(why))) < 0)
        return -1;
    if (why[0] == '\0') {
        char folder[2048];
        snprintf(folder, sizeof(folder), "%s%s/", image_prefix, c->id);
        ckpt_abort_uploads(ctx, folder);
        return 1;
    }
    ag_info(ctx, "%s: backup %s not resumed (%s): starting over", name, c->id, why);
    discard(ctx, img, at, image_prefix, c);
    ckpt_clear(c);
    *parent = NULL;
    return ctx->exit_code == AG_OK ? 0 : -1;
}

void resume_json(json_object *o, const backup_image_result *r)
{
    json_object_object_add(o, "resumed", json_object_new_boolean(r->resumed));
    json_object_object_add(o, "run_data_bytes", json_object_new_int64((int64_t)r->run_data_bytes));
    json_object_object_add(o, "run_stored_bytes",
                           json_object_new_int64((int64_t)r->run_stored_bytes));
}
