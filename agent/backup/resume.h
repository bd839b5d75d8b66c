/* resume.h - whether a backup continues from the checkpoint of an interrupted one. */
#ifndef RBD2S3_RESUME_H
#define RBD2S3_RESUME_H

#include "agent/common/context.h"
#include "agent/repo/catalog.h"
#include "agent/repo/ckpt.h"
#include "agent/backup/image.h"

#include <json-c/json.h>

/* What the backup of the image (img at its head, info.id its id, at: the --at snapshot
 * or "") under image_prefix, with catalog cat, continues from. 1: *c is the checkpoint
 * to resume (its objects checked, its unfinished uploads aborted) and *parent its parent
 * (NULL for a full); 0: none, or one that cannot be used (too old, snapshot or parent
 * gone, objects gone or different, another key, --no-resume): said in one line, removed
 * with its objects, uploads and snapshot; -1: an S3 failure (error recorded). */
int resume_pick(ag_ctx *ctx, rbdio_image *img, const char *image_id, const char *at,
                const char *image_prefix, const catalog *cat, const char *name, ckpt *c,
                const cat_entry **parent);

/* Add resumed, run_data_bytes and run_stored_bytes of r (what this run read and
 * uploaded) to the JSON summary o. Cannot fail (json-c aborts on out of memory). */
void resume_json(json_object *o, const backup_image_result *r);

#endif
